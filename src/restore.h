/*-------------------------------------------------------------------------
 *
 * restore.h
 *	  Noticing data written into durable's tables by SQL (restore.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_RESTORE_H
#define DURABLE_RESTORE_H

#include "nodes/plannodes.h"
#include "utils/timestamp.h"

/* rebuild_task_queue in a read-only transaction or on a standby */
#define ERRCODE_DUR_READ_ONLY_REBUILD	MAKE_SQLSTATE('D','U','0','4','0')

extern int	dur_restore_settle_time;
extern int	dur_own_sql_writes;

extern void dur_restore_define_gucs(void);
extern bool dur_restore_statement_begin(PlannedStmt *pstmt);
extern void dur_restore_statement_end(void);
extern bool dur_restore_hold(TimestampTz now, TimestampTz *until, uint64 *gen);
extern bool dur_restore_recent(void);

/* timers.c: start the next rebuild of the task queue from scratch */
extern void dur_rebuild_restart(void);

#endif							/* DURABLE_RESTORE_H */

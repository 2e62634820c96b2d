/*-------------------------------------------------------------------------
 *
 * updates.h
 *	  Workflow updates through shared memory.
 *
 * See updates.c for the invariants.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_UPDATES_H
#define DURABLE_UPDATES_H

#include "lib/stringinfo.h"
#include "utils/uuid.h"

#include "tables.h"

/* Updates waiting at once, and the size of each one's buffer. */
#define DUR_MAX_UPDATES		32
#define DUR_UPDATE_BUFSIZE	(64 * 1024)

extern Size dur_update_shmem_size(void);
extern StringInfo dur_update_messages(const pg_uuid_t *run, int64 seq);
extern bool dur_update_waiting(const pg_uuid_t *run, int64 seq);
extern bool dur_updates_schedule(void);
struct DurTask;
extern struct DurTask *dur_claim_update_task(const char *ns, const char *queue, const char *key,
											 const char *worker);
extern void dur_update_accepted(const pg_uuid_t *run, const char *update_id);
extern void dur_update_finished(const pg_uuid_t *run, const char *update_id, bool rejected,
								const char *outcome, bool failed);
extern void dur_update_run_closed(const pg_uuid_t *run);
extern bool dur_update_row(DurCall *call, const pg_uuid_t *run, const char *update_id, DurRow *row);

#endif							/* DURABLE_UPDATES_H */

/*-------------------------------------------------------------------------
 *
 * activities.h
 *	  Activities: scheduling, attempts, retries, heartbeats, completion.
 *
 * See activities.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_ACTIVITIES_H
#define DURABLE_ACTIVITIES_H

#include "history.h"

/* The activity ids of a run's pending activities, read once per completion. */
typedef struct DurPendingIds
{
	bool		loaded;
	List	   *ids;
} DurPendingIds;

extern DurTask *dur_schedule_activity(DurCall *call, DurRun *run, Jsonb *cmd, int index,
									  int64 completed, const char *eager_worker,
									  DurPendingIds *pending, DurEvent **event);
extern bool dur_find_activity(DurCall *call, DurRun *run, const char *aid, DurRow *row);
extern DurTask *dur_close_activity(DurCall *call, DurRun *run, DurRow *a, DurRow *task,
									const char *identity, DurEvent *close,
									const DurFailure *failure, bool started, const char *worker);
extern void dur_log_attempt(DurCall *call, DurRun *run, DurRow *a, DurRow *task,
							const char *outcome, const DurFailure *failure);
extern DurTask *dur_activity_attempt_failed(DurCall *call, DurRun *run, DurRow *a, DurRow *task,
											const DurFailure *failure, const char *identity,
											bool timeout, const char *worker);
extern void dur_heartbeat_settle(DurRow *a);
extern bool dur_heartbeat_extend(DurCall *call, DurRow *a, DurRow *task);
extern void dur_timeout_failure(DurFailure *f, const char *message, bool non_retryable,
								Jsonb *details, const char *timeout_type);

#endif							/* DURABLE_ACTIVITIES_H */

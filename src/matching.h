/*-------------------------------------------------------------------------
 *
 * matching.h
 *	  The matching service: task rows, claims, leases and what a worker
 *	  receives for a task.
 *
 * See matching.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_MATCHING_H
#define DURABLE_MATCHING_H

#include "history.h"
#include "queues.h"

extern DurTask *dur_enqueue_wft(DurCall *call, DurRun *run, const char *worker, bool maybe_exists);
extern DurTask *dur_enqueue_activity(DurCall *call, DurRun *run, DurRow *activity,
									 const char *worker, DurRow *existing);
extern DurTask *dur_wft_task(DurCall *call, DurRun *run, const char *worker,
							 TimestampTz started, TimestampTz lease);
extern DurTask *dur_activity_task(DurRun *run, DurRow *activity, TimestampTz started,
								  TimestampTz lease);
extern TimestampTz dur_activity_lease(DurRow *activity, TimestampTz started);
extern void dur_run_routing(DurRun *run, DurRouting *r);
extern void dur_requeue_wft(DurCall *call, DurRun *run);
extern void dur_requeue_activity(DurCall *call, DurRun *run, DurRow *activity);
extern void dur_task_json(DurTask *t, StringInfo out);
extern void dur_tasks_result(List *tasks, const char *outcome, bool asked, StringInfo out);

#endif							/* DURABLE_MATCHING_H */

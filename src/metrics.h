/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  The engine's counters and latency histograms, in shared memory.
 *
 * See metrics.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_METRICS_H
#define DURABLE_METRICS_H

#include "utils/timestamp.h"

/* Counters of a (namespace, task queue). */
typedef enum DurCounter
{
	DUR_C_WORKFLOW_STARTED = 0,
	DUR_C_WORKFLOW_SUCCESS,
	DUR_C_WORKFLOW_FAILED,
	DUR_C_WORKFLOW_TIMEOUT,
	DUR_C_WORKFLOW_CANCEL,
	DUR_C_WORKFLOW_TERMINATE,
	DUR_C_WORKFLOW_CONTINUED_AS_NEW,
	DUR_C_WFT_FAILED,
	DUR_C_WFT_TIMEOUT,
	DUR_C_HISTORY_EVENTS,
	DUR_C_ACTIVITY_RETRY,
	DUR_C_ACTIVITY_TIMEOUT_START_TO_CLOSE,
	DUR_C_ACTIVITY_TIMEOUT_SCHEDULE_TO_START,
	DUR_C_ACTIVITY_TIMEOUT_SCHEDULE_TO_CLOSE,
	DUR_C_ACTIVITY_TIMEOUT_HEARTBEAT,
	DUR_C_POLLED_WORKFLOW,
	DUR_C_POLLED_ACTIVITY,
	DUR_C_EAGER_WORKFLOW,
	DUR_C_EAGER_ACTIVITY,
	DUR_C_SCHEDULE_ACTION,
	DUR_C_SCHEDULE_SKIPPED,
	DUR_C_SCHEDULE_MISSED_CATCHUP,
	DUR_C_SCHEDULE_ACTION_ERROR,
	DUR_NCOUNTERS
} DurCounter;

/* Latency histograms of a (namespace, task queue). */
typedef enum DurHistogram
{
	DUR_H_SCHEDULE_TO_START_WORKFLOW = 0,
	DUR_H_SCHEDULE_TO_START_ACTIVITY,
	DUR_H_EXECUTION_WORKFLOW,
	DUR_H_EXECUTION_ACTIVITY,
	DUR_H_TIMER_LATENESS,
	DUR_NHISTOGRAMS
} DurHistogram;

extern Size dur_metrics_shmem_size(void);
extern void dur_metrics_shmem_request(void);
extern void dur_metrics_shmem_startup(void);

extern void dur_metrics_count(const char *namespace, const char *queue, DurCounter c, int64 n);
extern void dur_metrics_observe(const char *namespace, const char *queue, DurHistogram h,
								TimestampTz from, TimestampTz to);

/* What the engine's files call: one line where the event happens. */
extern void dur_metrics_dispatched(const char *namespace, const char *queue, bool activity,
								   bool eager, TimestampTz ready, TimestampTz started);
extern void dur_metrics_executed(const char *namespace, const char *queue, bool activity,
								 TimestampTz started);
extern void dur_metrics_workflow_closed(const char *namespace, const char *queue,
										const char *status);
extern void dur_metrics_activity_timeout(const char *namespace, const char *queue,
										 const char *timeout_type);
struct DurRun;
extern void dur_metrics_timer_fired(struct DurRun *run, TimestampTz fire_time);

#endif							/* DURABLE_METRICS_H */

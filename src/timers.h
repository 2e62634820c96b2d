/*-------------------------------------------------------------------------
 *
 * timers.h
 *	  The timer service: durable deadlines, lease and queue timeouts, and
 *	  the rebuild of the task queue after a crash.
 *
 * See timers.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_TIMERS_H
#define DURABLE_TIMERS_H

#include "history.h"

extern void dur_set_timer_with(DurCall *call, DurRun *run, const char *kind, const char *timer_id,
							   TimestampTz at, int64 started_event_id, Jsonb *attributes);
extern void dur_set_timer(DurCall *call, DurRun *run, const char *kind, const char *timer_id,
						  TimestampTz at, int64 started_event_id);
extern bool dur_delete_timer(DurCall *call, DurRun *run, const char *kind, const char *timer_id);
extern bool dur_take_timer(DurCall *call, DurRun *run, const char *kind, const char *timer_id,
						   int64 *started_event_id);
extern bool dur_timer_exists(DurCall *call, DurRun *run, const char *kind, const char *timer_id);

#endif							/* DURABLE_TIMERS_H */

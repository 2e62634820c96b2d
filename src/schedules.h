/*-------------------------------------------------------------------------
 *
 * schedules.h
 *	  Schedules: workflows started at the times of a spec.
 *
 * See schedules.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_SCHEDULES_H
#define DURABLE_SCHEDULES_H

#include "utils/jsonb.h"

extern bool dur_schedule_ready(const char *ns, Jsonb *attributes);
extern void dur_schedule_fire(const char *ns, Jsonb *attributes);
extern char *dur_schedule_of_run(Datum search_attributes);
extern bool dur_schedule_run_closed(const char *ns, const char *id, const char *workflow_id,
									const char *status);

#endif							/* DURABLE_SCHEDULES_H */

/*-------------------------------------------------------------------------
 *
 * commands.h
 *	  Workflow task completions and the commands they carry.
 *
 * See commands.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_COMMANDS_H
#define DURABLE_COMMANDS_H

#include "history.h"

/* The routing fields of a command, with the run's where left out. */
typedef struct DurCmdRouting
{
	int32		priority;
	char	   *fairness_key;
	float4		fairness_weight;	/* 0: 1 */
	Jsonb	   *required_capabilities;	/* NULL: none */
	char	   *pinned_worker;	/* NULL: none */
} DurCmdRouting;

extern void dur_cmd_fields(Jsonb *cmd, int index, const char *type, const char *const *allowed);
extern char *dur_cmd_text(Jsonb *cmd, const char *field, int index, bool required);
extern Interval *dur_cmd_interval(Jsonb *cmd, const char *field, int index);
extern char *dur_cmd_excerpt(Jsonb *cmd);
extern void dur_cmd_routing(Jsonb *cmd, int index, DurRun *run, DurCmdRouting *out);
extern void dur_wft_failed(DurCall *call, DurRun *run, DurRow *task, TimestampTz started,
						   DurEvent *failed, const char *identity);

#endif							/* DURABLE_COMMANDS_H */

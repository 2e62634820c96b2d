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

extern void dur_cmd_fields(Jsonb *cmd, int index, const char *type, const char *const *allowed);
extern char *dur_cmd_text(Jsonb *cmd, const char *field, int index, bool required);
extern Interval *dur_cmd_interval(Jsonb *cmd, const char *field, int index);
extern char *dur_cmd_excerpt(Jsonb *cmd);
extern void dur_wft_failed(DurCall *call, DurRun *run, DurRow *task, TimestampTz started,
						   DurEvent *failed, const char *identity);

#endif							/* DURABLE_COMMANDS_H */

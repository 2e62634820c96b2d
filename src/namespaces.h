/*-------------------------------------------------------------------------
 *
 * namespaces.h
 *	  Namespaces: capabilities of roles in them, and their settings.
 *
 * See namespaces.c for the invariants.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_NAMESPACES_H
#define DURABLE_NAMESPACES_H

#include "fmgr.h"
#include "datatype/timestamp.h"

/* Longest namespace name, in bytes. */
#define DUR_MAX_NAMESPACE_BYTES 63

/* What a role may do in a namespace. */
#define DUR_CAP_CLIENT	0x1		/* start, signal, query, cancel, terminate, read */
#define DUR_CAP_WORKER	0x2		/* poll and complete tasks, read */
#define DUR_CAP_ADMIN	0x4		/* both, and retention, grants, purges */
#define DUR_CAP_ALL		0x7

extern int	dur_call_payload_limit;

extern void dur_check_namespace_name(const char *name);
extern void dur_namespace_require(const char *name, int cap);
extern char *dur_namespace_arg(FunctionCallInfo fcinfo, int n);
extern bool dur_namespace_retention(const char *name, Interval *out);
extern void dur_namespace_payload_limit(const char *name);

#endif							/* DURABLE_NAMESPACES_H */

/*-------------------------------------------------------------------------
 *
 * indexes.h
 *	  Typed search-attribute keys and site indexes (see indexes.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_INDEXES_H
#define DURABLE_INDEXES_H

#include "utils/jsonb.h"

#include "tables.h"

extern void dur_check_search_attributes(DurCall *call, const char *namespace, Jsonb *sa);

#endif							/* DURABLE_INDEXES_H */

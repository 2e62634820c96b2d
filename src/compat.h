/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PostgreSQL-version difference durable cares about, in one place.
 *
 * The extension is developed against PostgreSQL 15.  Newer majors renamed a
 * few things; the shims below keep the rest of the code free of #if blocks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_COMPAT_H
#define DURABLE_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "durable requires PostgreSQL 15 or later"
#endif

/*
 * Index of this backend's slot in per-backend shared arrays, 0-based and
 * below dur_max_backend_slots().  PostgreSQL 17 replaced BackendId with
 * ProcNumber.
 */
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#define DUR_MY_BACKEND_INDEX()		(MyProcNumber)
#define DUR_BACKEND_SLOTS()			(MaxBackends + NUM_AUXILIARY_PROCS)
#else
#include "storage/backendid.h"
#define DUR_MY_BACKEND_INDEX()		(MyBackendId - 1)
#define DUR_BACKEND_SLOTS()			(MaxBackends)
#endif

/* PostgreSQL 16 added soft error reporting for input functions. */
#if PG_VERSION_NUM >= 160000
#define DUR_HAVE_SOFT_ERRORS 1
#endif

/*
 * A database left half-dropped by an interrupted DROP DATABASE is marked
 * with datconnlimit = -2 since 15.4; nobody can connect to it.
 */
#include "catalog/pg_database.h"
#ifdef DATCONNLIMIT_INVALID_DB
#define DUR_DATABASE_IS_INVALID(form) ((form)->datconnlimit == DATCONNLIMIT_INVALID_DB)
#else
#define DUR_DATABASE_IS_INVALID(form) (false)
#endif

/*
 * pq_check_connection() is exported since PostgreSQL 14, but its header
 * (libpq/libpq.h) pulls in libpq-be.h and with it the GSSAPI headers, which
 * a build machine need not have.  Declare it here.
 */
extern bool pq_check_connection(void);

/*
 * The same header declares the wait set of a client backend's socket,
 * latch and postmaster (PostgreSQL 14 and later); dur_wait_latch waits on
 * it to see a client leave.
 */
#include "storage/latch.h"
extern PGDLLIMPORT WaitEventSet *FeBeWaitSet;
#ifndef FeBeWaitSetSocketPos
#define FeBeWaitSetSocketPos 0
#define FeBeWaitSetNEvents 3
#endif

/*
 * Replace a heap tuple and say whether its index entries must be added
 * (the update was not HOT).  PostgreSQL 16 reports it through an argument
 * and can limit the insertions to summarizing indexes.
 */
#include "access/heapam.h"
#include "access/htup_details.h"
#include "executor/executor.h"

#if PG_VERSION_NUM >= 160000
static inline bool
dur_simple_heap_update(Relation rel, ItemPointer otid, HeapTuple tup, bool *summarizing)
{
	TU_UpdateIndexes update_indexes;

	simple_heap_update(rel, otid, tup, &update_indexes);
	*summarizing = (update_indexes == TU_Summarizing);
	return update_indexes != TU_None;
}
#define DUR_INSERT_INDEX_TUPLES(rri, slot, estate, update, summarizing) \
	ExecInsertIndexTuples((rri), (slot), (estate), (update), false, NULL, NIL, (summarizing))
#else
static inline bool
dur_simple_heap_update(Relation rel, ItemPointer otid, HeapTuple tup, bool *summarizing)
{
	simple_heap_update(rel, otid, tup);
	*summarizing = false;
	return !HeapTupleIsHeapOnly(tup);
}
#define DUR_INSERT_INDEX_TUPLES(rri, slot, estate, update, summarizing) \
	ExecInsertIndexTuples((rri), (slot), (estate), (update), false, NULL, NIL)
#endif

#endif							/* DURABLE_COMPAT_H */

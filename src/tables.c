/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  Direct access to durable's tables for the engine's C code.
 *
 * Every state transition reads and writes its rows here, with heap and
 * index access instead of SQL: nothing is parsed or planned per call, and
 * a call reads each row once.  This file owns four things.
 *
 * Relations.  The OIDs of durable's tables and indexes are looked up by
 * name once per backend and forgotten when any of them is invalidated
 * (DROP EXTENSION, ALTER TABLE).  On the first lookup the columns of each
 * table are checked against the column enums of tables.h, so a library
 * that does not match the installed SQL says so instead of misreading rows.
 *
 * Writes.  Rows are inserted, updated and deleted with heap_insert,
 * simple_heap_update and simple_heap_delete, and every index of the table
 * is maintained with ExecInsertIndexTuples, so an index a DBA adds (also a
 * partial or expression one) stays correct.  Triggers and CHECK constraints
 * are not run: the engine is the only writer it expects, and the values it
 * writes satisfy the constraints by construction.  An update that changes
 * no indexed column is a HOT update and touches no index.
 *
 * The run lock.  Every transaction that changes a run first takes the
 * run's lock: a heavyweight lock in the advisory lock space, tagged by the
 * database, the last 8 bytes of the run id and DUR_LOCK_RUN (it shows in
 * pg_locks as an advisory lock with objsubid 100).  It is held to the end
 * of the transaction.  It serialises everything that reads and writes the
 * run's rows, including a poller starting one of its tasks, so no row of
 * a run is ever changed by two transactions at once and no row lock (and
 * no WAL record for one) is needed.  Pollers and the timer service take it
 * conditionally and skip a busy run; everyone else waits for it.
 *
 * Snapshots.  After taking a run's lock a call reads with the latest
 * snapshot (dur_call_snapshot), so it sees what the transaction that held
 * the lock before it committed, whatever the caller's isolation level.
 * Every write ends with a command counter increment (dur_call_cci), so the
 * call's later reads see what it wrote and a row can be written twice.
 *
 * Lock order: workflow id lock (start and signal-with-start only), then
 * run lock, then table locks (RowExclusiveLock, taken in DurRel order as
 * the call first touches each table).  Callers that take run locks only
 * without waiting (the timer service; a poller seeing to an update) take
 * all their table locks first (dur_call_open_all): one that waited for a
 * table lock while holding a run lock could deadlock with a session that
 * holds a strong table lock and waits for that run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "durable.h"
#include "tables.h"

/* locktag_field4 of run locks and workflow id locks */
#define DUR_LOCK_RUN		100
#define DUR_LOCK_WORKFLOW_ID 2
#define DUR_LOCK_NAMESPACE	3
#define DUR_LOCK_TASK_QUEUE	4
/* the key the 0.1 SQL used for workflow id locks (pg_advisory_xact_lock) */
#define DUR_WORKFLOW_ID_LOCK_KEY 1685418604

static const char *const rel_names[DUR_NRELS] = {
	"workflows", "history_batches", "buffered_events", "activities",
	"timers", "signal_requests", "tasks", "namespaces", "namespace_grants",
	"children", "updates", "task_queues", "activity_attempts", "search_attribute_keys"
};

static const char *const idx_names[DUR_NIDXS] = {
	"workflows_pkey", "workflows_one_running", "workflows_by_workflow_id",
	"workflows_by_close_time", "history_batches_pkey", "buffered_events_pkey", "activities_pkey",
	"timers_pkey", "timers_by_fire_time",
	"signal_requests_pkey", "tasks_pkey", "tasks_ready", "tasks_sticky",
	"tasks_lease", "tasks_expire", "namespaces_pkey", "namespace_grants_pkey",
	"children_pkey", "updates_pkey", "task_queues_pkey", "activity_attempts_pkey",
	"search_attribute_keys_pkey"
};

static const DurRel idx_rel[DUR_NIDXS] = {
	DUR_WORKFLOWS, DUR_WORKFLOWS, DUR_WORKFLOWS, DUR_WORKFLOWS, DUR_HISTORY, DUR_BUFFERED,
	DUR_ACTIVITIES, DUR_TIMERS, DUR_TIMERS,
	DUR_SIGNAL_REQUESTS, DUR_TASKS, DUR_TASKS, DUR_TASKS, DUR_TASKS, DUR_TASKS,
	DUR_NAMESPACES, DUR_NAMESPACE_GRANTS, DUR_CHILDREN, DUR_UPDATES, DUR_TASK_QUEUES,
	DUR_ACTIVITY_ATTEMPTS, DUR_SEARCH_ATTRIBUTE_KEYS
};

static const char *const workflows_cols[W_NCOLS] = {
	"run_id", "workflow_id", "workflow_type", "task_queue", "status", "input",
	"result", "failure", "start_time", "close_time", "execution_timeout",
	"run_timeout", "task_timeout", "execution_deadline", "first_run_id",
	"previous_run_id", "next_run_id", "parent_workflow_id", "parent_run_id",
	"attempt", "retry_policy", "search_attributes", "memo", "priority",
	"request_id", "history_length", "cancel_requested", "wft_state",
	"wft_seq", "wft_attempt", "wft_scheduled_event_id", "wft_scheduled_time",
	"sticky_worker", "sticky_event_id", "namespace",
	"parent_initiated_event_id", "fairness_key", "fairness_weight",
	"required_capabilities", "build_id", "versioning_behavior", "last_progress_time"
};
static const char *const history_cols[H_NCOLS] = {
	"run_id", "last_event_id", "events", "workflow_id", "namespace"
};
static const char *const buffered_cols[B_NCOLS] = {
	"run_id", "seq", "event_type", "event_time", "attributes", "workflow_id",
	"namespace"
};
static const char *const activities_cols[A_NCOLS] = {
	"run_id", "scheduled_event_id", "activity_id", "activity_type",
	"task_queue", "input", "priority", "schedule_to_close_timeout",
	"schedule_to_start_timeout", "start_to_close_timeout",
	"heartbeat_timeout", "retry_policy", "scheduled_time", "expiration_time",
	"attempt", "state", "ready_time", "heartbeat_details", "last_failure",
	"last_worker_id", "cancel_requested_event_id", "workflow_id", "namespace",
	"fairness_key", "fairness_weight", "required_capabilities", "pinned_worker"
};
static const char *const timers_cols[TM_NCOLS] = {
	"run_id", "kind", "timer_id", "fire_time", "started_event_id", "workflow_id",
	"namespace", "attributes"
};
static const char *const signal_requests_cols[SR_NCOLS] = {
	"run_id", "request_id", "workflow_id", "namespace"
};
static const char *const tasks_cols[T_NCOLS] = {
	"run_id", "scheduled_event_id", "kind", "task_queue", "priority",
	"ready_time", "expire_time", "worker_id", "started_time",
	"lease_deadline", "sticky_worker", "workflow_id", "owner", "namespace",
	"pass", "fairness_key", "build_id", "affinity"
};
static const char *const namespaces_cols[NS_NCOLS] = {
	"name", "description", "retention", "max_payload_size", "created_at"
};
static const char *const namespace_grants_cols[NG_NCOLS] = {
	"namespace", "role", "capability"
};
static const char *const children_cols[CH_NCOLS] = {
	"parent_run_id", "initiated_event_id", "workflow_id", "run_id", "workflow_type",
	"started_event_id", "parent_close_policy", "parent_workflow_id", "namespace"
};
static const char *const updates_cols[U_NCOLS] = {
	"run_id", "update_id", "name", "state", "accepted_event_id", "outcome", "workflow_id",
	"namespace"
};

static const char *const task_queues_cols[TQ_NCOLS] = {
	"namespace", "task_queue", "tasks_per_second", "worker_tasks_per_second",
	"current_build_id", "ramping_build_id", "ramping_percentage", "updated_at"
};

static const char *const activity_attempts_cols[AA_NCOLS] = {
	"namespace", "workflow_id", "run_id", "scheduled_event_id", "attempt", "activity_type",
	"task_queue", "started_time", "closed_time", "outcome", "failure"
};

static const char *const search_attribute_keys_cols[SAK_NCOLS] = {
	"namespace", "name", "type", "index_name", "created_at"
};

static const char *const *const rel_cols[DUR_NRELS] = {
	workflows_cols, history_cols, buffered_cols, activities_cols,
	timers_cols, signal_requests_cols, tasks_cols, namespaces_cols, namespace_grants_cols,
	children_cols, updates_cols, task_queues_cols, activity_attempts_cols,
	search_attribute_keys_cols
};
static const int rel_ncols[DUR_NRELS] = {
	W_NCOLS, H_NCOLS, B_NCOLS, A_NCOLS, TM_NCOLS, SR_NCOLS, T_NCOLS, NS_NCOLS, NG_NCOLS, CH_NCOLS, U_NCOLS,
	TQ_NCOLS, AA_NCOLS, SAK_NCOLS
};

/* The OIDs, looked up once per backend; see dur_lookup_oids. */
static Oid	rel_oids[DUR_NRELS];
static Oid	idx_oids[DUR_NIDXS];
static bool oids_valid = false;
static bool callback_registered = false;

/* Forget the OIDs when one of our relations is invalidated. */
static void
dur_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (!oids_valid)
		return;
	if (!OidIsValid(relid))
	{
		oids_valid = false;
		return;
	}
	for (i = 0; i < DUR_NRELS; i++)
		if (rel_oids[i] == relid)
			oids_valid = false;
	for (i = 0; i < DUR_NIDXS; i++)
		if (idx_oids[i] == relid)
			oids_valid = false;
}

/* Complain that the installed SQL objects do not match this library. */
static void
dur_schema_mismatch(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("durable's tables do not match the loaded library: %s", what),
			 errdetail("The durable library is version %s.", DUR_LIBRARY_VERSION),
			 errhint("Run ALTER EXTENSION durable UPDATE in this database.")));
}

/*
 * Look up and check the OIDs of our relations.  Each table's columns must
 * be the ones of tables.h, in that order.
 */
static void
dur_lookup_oids(void)
{
	Oid			nsp;
	int			i,
				j;

	if (oids_valid)
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(dur_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	nsp = get_namespace_oid("durable", true);
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"durable\" does not exist"),
				 errhint("Run CREATE EXTENSION durable in this database.")));
	for (i = 0; i < DUR_NRELS; i++)
	{
		Relation	rel;
		TupleDesc	desc;

		rel_oids[i] = get_relname_relid(rel_names[i], nsp);
		if (!OidIsValid(rel_oids[i]))
			dur_schema_mismatch(psprintf("table durable.%s is missing", rel_names[i]));
		rel = table_open(rel_oids[i], AccessShareLock);
		desc = RelationGetDescr(rel);
		if (desc->natts != rel_ncols[i])
			dur_schema_mismatch(psprintf("durable.%s has %d columns, not %d",
										 rel_names[i], desc->natts, rel_ncols[i]));
		for (j = 0; j < rel_ncols[i]; j++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, j);

			if (att->attisdropped || strcmp(NameStr(att->attname), rel_cols[i][j]) != 0)
				dur_schema_mismatch(psprintf("column %d of durable.%s is not %s",
											 j + 1, rel_names[i], rel_cols[i][j]));
		}
		table_close(rel, AccessShareLock);
	}
	for (i = 0; i < DUR_NIDXS; i++)
	{
		idx_oids[i] = get_relname_relid(idx_names[i], nsp);
		if (!OidIsValid(idx_oids[i]))
			dur_schema_mismatch(psprintf("index durable.%s is missing", idx_names[i]));
	}
	oids_valid = true;
}

/* The OID of one of our tables. */
Oid
dur_relid(DurRel rel)
{
	dur_lookup_oids();
	return rel_oids[rel];
}

Oid
dur_idxid(DurIdx idx)
{
	dur_lookup_oids();
	return idx_oids[idx];
}

/*
 * Start a call: nothing is opened until it is used.  The caller takes the
 * run lock (if any) and then dur_call_snapshot before reading.
 */
DurCall *
dur_call_begin(void)
{
	DurCall    *call = palloc0(sizeof(DurCall));

	dur_lookup_oids();
	return call;
}

/* Close what the call opened; locks stay until the end of the transaction. */
void
dur_call_end(DurCall *call)
{
	ListCell   *lc;
	int			i;

	foreach(lc, call->all_slots)
		ExecDropSingleTupleTableSlot((TupleTableSlot *) lfirst(lc));
	for (i = 0; i < DUR_NIDXS; i++)
		if (call->idxs[i] != NULL)
			index_close(call->idxs[i], NoLock);
	for (i = 0; i < DUR_NRELS; i++)
	{
		if (call->rris[i] != NULL)
			ExecCloseIndices(call->rris[i]);
		if (call->wslots[i] != NULL)
			ExecDropSingleTupleTableSlot(call->wslots[i]);
		if (call->rels[i] != NULL)
			table_close(call->rels[i], NoLock);
	}
	if (call->estate != NULL)
		FreeExecutorState(call->estate);
	if (call->snap != NULL)
		UnregisterSnapshot(call->snap);
	pfree(call);
}

/* Read from now on with the latest snapshot (after taking a run lock). */
void
dur_call_snapshot(DurCall *call)
{
	if (call->snap != NULL)
		UnregisterSnapshot(call->snap);
	call->snap = RegisterSnapshot(GetLatestSnapshot());
}

/* Make what the call wrote so far visible to its next reads. */
void
dur_call_cci(DurCall *call)
{
	CommandCounterIncrement();
	if (call->snap != NULL)
		call->snap->curcid = GetCurrentCommandId(false);
}

/* A table of the call, opened on first use. */
Relation
dur_rel(DurCall *call, DurRel rel)
{
	if (call->rels[rel] == NULL)
		call->rels[rel] = table_open(rel_oids[rel], RowExclusiveLock);
	return call->rels[rel];
}

/*
 * Open every table of a run's rows at once, in DurRel order: a caller that
 * takes run locks without waiting (the timer service, a poller seeing to an
 * update) holds its table locks first, so it never waits for a table lock
 * while it holds a run lock (a session holding a table lock could wait for
 * that run).
 */
void
dur_call_open_all(DurCall *call)
{
	int			i;

	dur_lookup_oids();
	for (i = 0; i < DUR_NAMESPACES; i++)
		(void) dur_rel(call, (DurRel) i);
	(void) dur_rel(call, DUR_CHILDREN);
	(void) dur_rel(call, DUR_UPDATES);
	(void) dur_rel(call, DUR_ACTIVITY_ATTEMPTS);
	(void) dur_rel(call, DUR_SEARCH_ATTRIBUTE_KEYS);
}

TupleDesc
dur_tupdesc(DurCall *call, DurRel rel)
{
	return RelationGetDescr(dur_rel(call, rel));
}

/* A slot for a scan of a table: a free one, or a new one. */
static TupleTableSlot *
dur_slot_get(DurCall *call, DurRel rel)
{
	TupleTableSlot *slot;

	if (call->free_slots[rel] != NIL)
	{
		slot = (TupleTableSlot *) linitial(call->free_slots[rel]);
		call->free_slots[rel] = list_delete_first(call->free_slots[rel]);
		return slot;
	}
	slot = table_slot_create(dur_rel(call, rel), NULL);
	call->all_slots = lappend(call->all_slots, slot);
	return slot;
}

/* The slot a written row is stored in to make its index entries. */
static TupleTableSlot *
dur_wslot(DurCall *call, DurRel rel)
{
	if (call->wslots[rel] == NULL)
		call->wslots[rel] = MakeSingleTupleTableSlot(dur_tupdesc(call, rel),
													 &TTSOpsHeapTuple);
	return call->wslots[rel];
}

/* The result relation info of a table, with its indexes open. */
static ResultRelInfo *
dur_rri(DurCall *call, DurRel rel)
{
	if (call->rris[rel] == NULL)
	{
		ResultRelInfo *rri;

		if (call->estate == NULL)
			call->estate = CreateExecutorState();
		rri = makeNode(ResultRelInfo);
		InitResultRelInfo(rri, dur_rel(call, rel), 1, NULL, 0);
		ExecOpenIndices(rri, false);
		call->rris[rel] = rri;
	}
	return call->rris[rel];
}

/* An index of the call, opened on first use. */
static Relation
dur_idx(DurCall *call, DurIdx idx)
{
	if (call->idxs[idx] == NULL)
		call->idxs[idx] = index_open(idx_oids[idx], RowExclusiveLock);
	return call->idxs[idx];
}

/*
 * Begin an index scan; add keys with dur_key_*, then dur_scan_next.  The
 * scan reads with the call's snapshot.
 */
void
dur_scan_begin(DurScan *s, DurCall *call, DurIdx idx)
{
	Assert(call->snap != NULL);
	dur_scan_begin_snap(s, call, idx, call->snap);
}

/* Begin an index scan that reads with the given snapshot. */
void
dur_scan_begin_snap(DurScan *s, DurCall *call, DurIdx idx, Snapshot snap)
{
	Relation	irel = dur_idx(call, idx);

	s->call = call;
	s->rel = idx_rel[idx];
	s->irel = irel;
	s->snap = snap;
	s->nkeys = 0;
	s->slot = dur_slot_get(call, s->rel);
	s->scan = NULL;				/* begun at the first row, when the keys are known */
}

/* Add a key on index column attno (1-based). */
static void
dur_key(DurScan *s, int attno, StrategyNumber strategy, RegProcedure proc,
		Datum value, int flags)
{
	Relation	irel = s->irel;

	Assert(s->nkeys < lengthof(s->keys));
	ScanKeyEntryInitialize(&s->keys[s->nkeys++], flags, attno, strategy,
						   InvalidOid, irel->rd_indcollation[attno - 1],
						   proc, value);
}

void
dur_key_uuid(DurScan *s, int attno, const pg_uuid_t *value)
{
	dur_key(s, attno, BTEqualStrategyNumber, F_UUID_EQ,
			UUIDPGetDatum(value), 0);
}

/* uuid >= value */
void
dur_key_uuid_ge(DurScan *s, int attno, const pg_uuid_t *value)
{
	dur_key(s, attno, BTGreaterEqualStrategyNumber, F_UUID_GE,
			UUIDPGetDatum(value), 0);
}

void
dur_key_int8(DurScan *s, int attno, StrategyNumber strategy, int64 value)
{
	static const RegProcedure procs[] = {
		InvalidOid, F_INT8LT, F_INT8LE, F_INT8EQ, F_INT8GE, F_INT8GT
	};

	dur_key(s, attno, strategy, procs[strategy], Int64GetDatum(value), 0);
}

void
dur_key_text(DurScan *s, int attno, const char *value)
{
	dur_key(s, attno, BTEqualStrategyNumber, F_TEXTEQ,
			CStringGetTextDatum(value), 0);
}

void
dur_key_oid(DurScan *s, int attno, Oid value)
{
	dur_key(s, attno, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(value), 0);
}

void
dur_key_text_op(DurScan *s, int attno, StrategyNumber strategy, const char *value)
{
	static const RegProcedure procs[] = {
		InvalidOid, F_TEXT_LT, F_TEXT_LE, F_TEXTEQ, F_TEXT_GE, F_TEXT_GT
	};

	dur_key(s, attno, strategy, procs[strategy], CStringGetTextDatum(value), 0);
}

void
dur_key_timestamptz(DurScan *s, int attno, StrategyNumber strategy,
					TimestampTz value)
{
	static const RegProcedure procs[] = {
		InvalidOid, F_TIMESTAMPTZ_LT, F_TIMESTAMPTZ_LE, F_TIMESTAMPTZ_EQ,
		F_TIMESTAMPTZ_GE, F_TIMESTAMPTZ_GT
	};

	dur_key(s, attno, strategy, procs[strategy], TimestampTzGetDatum(value), 0);
}

/* IS NULL (isnull) or IS NOT NULL on index column attno. */
void
dur_key_isnull(DurScan *s, int attno, bool isnull)
{
	dur_key(s, attno, InvalidStrategy, InvalidOid, (Datum) 0,
			SK_ISNULL | (isnull ? SK_SEARCHNULL : SK_SEARCHNOTNULL));
}

/*
 * The next row of the scan, or false.  The row's values point into the
 * scan's slot and stay valid until the next call.
 */
bool
dur_scan_next(DurScan *s, ScanDirection dir, DurRow *row)
{
	TupleTableSlot *slot = s->slot;

	if (s->scan == NULL)
	{
		s->scan = index_beginscan(dur_rel(s->call, s->rel), s->irel, s->snap, s->nkeys, 0);
		index_rescan(s->scan, s->keys, s->nkeys, NULL, 0);
	}
	if (!index_getnext_slot(s->scan, dir, slot))
		return false;
	slot_getallattrs(slot);
	row->values = slot->tts_values;
	row->nulls = slot->tts_isnull;
	row->tid = slot->tts_tid;
	return true;
}

void
dur_scan_end(DurScan *s)
{
	if (s->scan != NULL)
		index_endscan(s->scan);
	ExecClearTuple(s->slot);
	s->call->free_slots[s->rel] = lappend(s->call->free_slots[s->rel], s->slot);
}

/* Has the run any row in the index idx (whose first column is the run id)? */
bool
dur_run_has_rows(DurCall *call, DurIdx idx, const pg_uuid_t *run)
{
	DurScan		s;
	DurRow		row;
	bool		found;

	dur_scan_begin(&s, call, idx);
	dur_key_uuid(&s, 1, run);
	found = dur_scan_next(&s, ForwardScanDirection, &row);
	dur_scan_end(&s);
	return found;
}

/*
 * Fetch the row with key (run, key2) through a two-column index whose
 * second column is bigint (key2 < 0: the index has one column), copying
 * its values.  False when there is none.
 */
bool
dur_fetch(DurCall *call, DurRel rel, DurIdx idx, const pg_uuid_t *run,
		  int64 key2, DurRow *row)
{
	DurScan		s;
	bool		found;

	dur_scan_begin(&s, call, idx);
	dur_key_uuid(&s, 1, run);
	if (key2 >= 0)
		dur_key_int8(&s, 2, BTEqualStrategyNumber, key2);
	found = dur_scan_next(&s, ForwardScanDirection, row);
	if (found)
	{
		TupleDesc	desc = dur_tupdesc(call, rel);
		int			n = desc->natts;
		Datum	   *values = palloc(n * sizeof(Datum));
		bool	   *nulls = palloc(n * sizeof(bool));
		int			i;

		for (i = 0; i < n; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			nulls[i] = row->nulls[i];
			values[i] = nulls[i] ? (Datum) 0 :
				datumCopy(row->values[i], att->attbyval, att->attlen);
		}
		row->values = values;
		row->nulls = nulls;
	}
	dur_scan_end(&s);
	return found;
}

/* Insert a row and its index entries; its location goes to *tid if asked. */
void
dur_insert(DurCall *call, DurRel rel, Datum *values, bool *nulls, ItemPointer tid)
{
	Relation	r = dur_rel(call, rel);
	ResultRelInfo *rri = dur_rri(call, rel);
	HeapTuple	tup = heap_form_tuple(RelationGetDescr(r), values, nulls);
	TupleTableSlot *slot = dur_wslot(call, rel);

	simple_heap_insert(r, tup);
	if (rri->ri_NumIndices > 0)
	{
		ExecStoreHeapTuple(tup, slot, false);
		(void) DUR_INSERT_INDEX_TUPLES(rri, slot, call->estate, false, false);
		ExecClearTuple(slot);
	}
	if (tid != NULL)
		*tid = tup->t_self;
	heap_freetuple(tup);
	dur_call_cci(call);
}

/*
 * Replace the row at tid.  Index entries are added only when the update is
 * not HOT.  The new row's location goes to *newtid if asked.
 */
void
dur_update(DurCall *call, DurRel rel, ItemPointer tid, Datum *values, bool *nulls,
		   ItemPointer newtid)
{
	Relation	r = dur_rel(call, rel);
	HeapTuple	tup = heap_form_tuple(RelationGetDescr(r), values, nulls);
	bool		summarizing;

	if (dur_simple_heap_update(r, tid, tup, &summarizing))
	{
		ResultRelInfo *rri = dur_rri(call, rel);
		TupleTableSlot *slot = dur_wslot(call, rel);

		ExecStoreHeapTuple(tup, slot, false);
		/*
		 * Not flagged as an UPDATE's insertions: that hint (for bottom-up
		 * index deletion) needs the executor's range table.
		 */
		(void) DUR_INSERT_INDEX_TUPLES(rri, slot, call->estate, false, summarizing);
		ExecClearTuple(slot);
	}
	if (newtid != NULL)
		*newtid = tup->t_self;
	heap_freetuple(tup);
	dur_call_cci(call);
}

/* Delete the row at tid. */
void
dur_delete(DurCall *call, DurRel rel, ItemPointer tid)
{
	simple_heap_delete(dur_rel(call, rel), tid);
	dur_call_cci(call);
}

/* The lock tag of a run. */
static void
dur_run_locktag(LOCKTAG *tag, const pg_uuid_t *run)
{
	uint32		k1,
				k2;

	/*
	 * The last 8 bytes: random in a version 7 id (62 bits), as in the
	 * version 4 ids of earlier versions.  The first 8 are mostly the start
	 * time, which runs started in the same millisecond share.
	 */
	memcpy(&k1, run->data + 8, 4);
	memcpy(&k2, run->data + 12, 4);
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, k1, k2, DUR_LOCK_RUN);
}

/* Take a run's lock, waiting for it. */
void
dur_lock_run(const pg_uuid_t *run)
{
	LOCKTAG		tag;

	dur_run_locktag(&tag, run);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Take a run's lock if nobody holds it. */
bool
dur_try_lock_run(const pg_uuid_t *run)
{
	LOCKTAG		tag;

	dur_run_locktag(&tag, run);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Give a run's lock back before the end of the transaction: only when the
 * transaction wrote nothing of the run (a poller that looked and passed).
 */
void
dur_unlock_run(const pg_uuid_t *run)
{
	LOCKTAG		tag;

	dur_run_locktag(&tag, run);
	(void) LockRelease(&tag, ExclusiveLock, false);
}

/*
 * Take the lock of a workflow id in a namespace: starts and
 * signal-with-start must see "is a run of this id running?" stably.  In
 * namespace default, the same lock as 0.1's
 * pg_advisory_xact_lock(1685418604, hashtext(workflow_id)); elsewhere the
 * hash covers the namespace too.
 */
void
dur_lock_workflow_id(const char *namespace, const char *workflow_id)
{
	dur_lock_workflow_id_key(dur_workflow_id_key(namespace, workflow_id));
}

/* The key of a workflow id's lock (its lock tag's third field). */
uint32
dur_workflow_id_key(const char *namespace, const char *workflow_id)
{
	uint32		h;

	h = DatumGetUInt32(hash_any((const unsigned char *) workflow_id, strlen(workflow_id)));
	if (strcmp(namespace, "default") != 0)
		h = hash_combine(h, DatumGetUInt32(hash_any((const unsigned char *) namespace,
													strlen(namespace))));
	return h;
}

/*
 * Take a workflow id's lock by its key.  A call that needs several takes
 * them in key order (commands.c), so two such calls cannot deadlock.
 */
void
dur_lock_workflow_id_key(uint32 key)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, DUR_WORKFLOW_ID_LOCK_KEY, key, DUR_LOCK_WORKFLOW_ID);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Take the lock of a namespace name: creates and drops of it wait for each other. */
void
dur_lock_namespace(const char *name)
{
	LOCKTAG		tag;
	uint32		h;

	h = DatumGetUInt32(hash_any((const unsigned char *) name, strlen(name)));
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, DUR_WORKFLOW_ID_LOCK_KEY, h, DUR_LOCK_NAMESPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Take the lock of a task queue's settings: changes to them wait for each other. */
void
dur_lock_task_queue(const char *queue_key)
{
	LOCKTAG		tag;
	uint32		h;

	h = DatumGetUInt32(hash_any((const unsigned char *) queue_key, strlen(queue_key)));
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, DUR_WORKFLOW_ID_LOCK_KEY, h, DUR_LOCK_TASK_QUEUE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* A text column of a row as a C string (NULL for NULL). */
char *
dur_text(DurRow *row, int col)
{
	return row->nulls[col] ? NULL : TextDatumGetCString(row->values[col]);
}

/* A C string as a text datum. */
Datum
dur_text_datum(const char *s)
{
	return CStringGetTextDatum(s);
}

Datum
dur_uuid_datum(const pg_uuid_t *u)
{
	pg_uuid_t  *copy = palloc(sizeof(pg_uuid_t));

	memcpy(copy, u, sizeof(pg_uuid_t));
	return UUIDPGetDatum(copy);
}

/* A new random (version 4) uuid, as gen_random_uuid() makes. */
pg_uuid_t *
dur_new_uuid(void)
{
	return DatumGetUUIDP(DirectFunctionCall1(gen_random_uuid, (Datum) 0));
}

/*
 * A new run id: a time-ordered (version 7) uuid, 48 bits of Unix
 * milliseconds then random bits, so that every index keyed by run id grows
 * at its right edge (fewer page splits, fuller pages, and recent runs'
 * pages stay in cache).
 */
pg_uuid_t *
dur_new_run_id(void)
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));
	uint64		ms = (uint64) (GetCurrentTimestamp() / 1000 +
							   (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000);
	int			i;

	if (!pg_strong_random(u->data + 6, UUID_LEN - 6))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	for (i = 0; i < 6; i++)
		u->data[i] = (unsigned char) (ms >> (8 * (5 - i)));
	u->data[6] = (u->data[6] & 0x0f) | 0x70;	/* version 7 */
	u->data[8] = (u->data[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	return u;
}

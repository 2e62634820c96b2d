/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  Administration: retention of closed runs.
 *
 * purge_closed_workflows deletes a namespace's closed runs and their
 * history, the oldest closed first, older than the namespace's retention
 * unless told otherwise.  _purge_batch does one bounded batch of the same
 * work for durable.run_retention (src/sql/retention.sql), the procedure
 * that loops over batches, commits between them and throttles itself;
 * docs/retention.md.  Namespaces themselves are namespaces.c's.
 *
 * Invariants: only closed runs are deleted, each with all its rows (its
 * own row, then the tables of dur_purge_tables: history batches, updates,
 * activity attempts) in the same transaction.
 * A closed run has no other rows left (history.c) but the timers that
 * carry what it sent to other workflows (a child's close to its parent, a
 * parent close policy to its children, signals and cancels), which the
 * timer service fires at once: a run that still has one is passed over
 * until it has fired.
 *
 * Cost: a batch reads the close-time index from a given close time on
 * (the previous batch's last one), so a loop of batches never walks again
 * over the entries of the runs it deleted: they stay in the index, dead,
 * until an index scan that sees them dead to every transaction marks them
 * or VACUUM removes them, and a scan from the start of the range visits
 * every one of them in the heap (the 0.7 s "empty" call of issue 15).
 * Rows are deleted without a command counter increment each: the purge
 * never reads what it deleted.
 *
 * Lock order: the run's lock, taken without waiting (two purges running
 * at once pass over each other's runs instead of failing), then its rows.
 * A closed run is never written again, so no other lock is needed.  The
 * lock is held until the transaction ends: one transaction holds as many
 * run locks as it deletes runs (hence the procedure's bounded batches).
 * A purge reads with the snapshot its batch began with, so it can take
 * the lock of a run another purge deleted and committed since: the run's
 * own row is deleted first, and a row found deleted (or changed) passes
 * the run over before anything else of it is touched.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "history.h"

PG_FUNCTION_INFO_V1(purge_closed_workflows);
PG_FUNCTION_INFO_V1(_purge_batch);

/*
 * The tables that hold rows of a closed run, cleared after the run's own
 * row, each through its primary key, whose first column is the run id.  A
 * table that keeps rows per run joins this list.
 */
static const struct
{
	DurRel		rel;
	DurIdx		pkey;
}			dur_purge_tables[] =
{
	{DUR_HISTORY, DUR_HISTORY_PKEY},
	{DUR_UPDATES, DUR_UPDATES_PKEY},
	{DUR_ACTIVITY_ATTEMPTS, DUR_ACTIVITY_ATTEMPTS_PKEY},
};

/* What one purge did. */
typedef struct DurPurge
{
	int64		purged;			/* runs deleted */
	int64		passed;			/* runs passed over (locked or with timers) */
	int64		rows;			/* rows of dur_purge_tables deleted */
	TimestampTz last_close;		/* close time of the last run looked at */
	bool		any;			/* whether any run was looked at */
} DurPurge;

/*
 * Delete one run and its rows: the run's own row first, then every table
 * of dur_purge_tables.  Returns the rows deleted besides the run's own, or
 * -1 when the run's row is gone already: another purge deleted it and
 * committed after this one's snapshot was taken (and so released the
 * run's lock, which this purge then took).
 */
static int64
dur_purge_run(DurCall *call, const pg_uuid_t *run_id, ItemPointer tid)
{
	int64		rows = 0;
	int			i;
	TM_Result	res;
	TM_FailureData tmfd;

	res = heap_delete(dur_rel(call, DUR_WORKFLOWS), tid, GetCurrentCommandId(true),
					  InvalidSnapshot, true, &tmfd, false);
	if (res == TM_Deleted || res == TM_Updated)
		return -1;
	if (res != TM_Ok)
		elog(ERROR, "unexpected heap_delete status %u deleting a closed run", res);
	for (i = 0; i < lengthof(dur_purge_tables); i++)
	{
		DurScan		s;
		DurRow		row;

		dur_scan_begin(&s, call, dur_purge_tables[i].pkey);
		dur_key_uuid(&s, 1, run_id);
		while (dur_scan_next(&s, ForwardScanDirection, &row))
		{
			simple_heap_delete(dur_rel(call, dur_purge_tables[i].rel), &row.tid);
			rows++;
		}
		dur_scan_end(&s);
	}
	return rows;
}

/*
 * Purge the namespace's runs closed before cutoff (and, with has_from, at
 * or after from), the oldest first, until limit runs were deleted (or,
 * with count_passed, looked at).  Reports into *out.
 */
static void
dur_purge(const char *ns, TimestampTz cutoff, bool has_from, TimestampTz from,
		  int64 limit, bool count_passed, DurPurge *out)
{
	DurCall    *call;
	DurScan		s;
	DurRow		row;

	memset(out, 0, sizeof(*out));
	call = dur_call_begin();
	dur_call_snapshot(call);
	dur_scan_begin(&s, call, DUR_WORKFLOWS_BY_CLOSE_TIME);
	dur_key_text(&s, 1, ns);
	if (has_from)
		dur_key_timestamptz(&s, 2, BTGreaterEqualStrategyNumber, from);
	dur_key_timestamptz(&s, 2, BTLessStrategyNumber, cutoff);
	while (out->purged + (count_passed ? out->passed : 0) < limit &&
		   dur_scan_next(&s, ForwardScanDirection, &row))
	{
		pg_uuid_t	run_id;
		ItemPointerData tid = row.tid;
		int64		rows;

		memcpy(&run_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
		out->last_close = DatumGetTimestampTz(row.values[W_CLOSE_TIME]);
		out->any = true;
		if (!dur_try_lock_run(&run_id))
		{
			out->passed++;
			continue;
		}
		if (dur_run_has_rows(call, DUR_TIMERS_PKEY, &run_id))
		{
			/* what it sends to other workflows is still on its way (timers.c) */
			dur_unlock_run(&run_id);
			out->passed++;
			continue;
		}
		rows = dur_purge_run(call, &run_id, &tid);
		if (rows < 0)
		{
			/* purged meanwhile by someone else: nothing of it written here */
			dur_unlock_run(&run_id);
			out->passed++;
			continue;
		}
		out->rows += rows;
		out->purged++;
	}
	dur_scan_end(&s);
	dur_call_end(call);
}

/*
 * purge_closed_workflows(older_than interval, batch_size integer,
 * namespace text) returns bigint: delete up to batch_size runs (NULL: all)
 * of the namespace that closed before now - older_than (NULL: the
 * namespace's retention; none keeps them), with their history.  Returns
 * how many runs were deleted.
 */
Datum
purge_closed_workflows(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 2);
	Interval   *older = PG_ARGISNULL(0) ? NULL : PG_GETARG_INTERVAL_P(0);
	int64		batch = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT32(1);
	Interval	retention;
	TimestampTz cutoff;
	DurPurge	p;

	dur_check_interval(older, "older_than", false);
	if (batch < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be zero or positive: " INT64_FORMAT, batch)));
	dur_namespace_require(ns, DUR_CAP_ADMIN);
	if (older == NULL && dur_namespace_retention(ns, &retention))
		older = &retention;
	if (older == NULL)
		PG_RETURN_INT64(0);		/* the namespace keeps its closed runs */
	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTimestamp()),
													 IntervalPGetDatum(older)));
	dur_purge(ns, cutoff, false, 0, batch, false, &p);
	PG_RETURN_INT64(p.purged);
}

/*
 * _purge_batch(namespace text, cutoff timestamptz, batch_size integer,
 * from_time timestamptz, OUT purged bigint, OUT passed_over bigint,
 * OUT rows_deleted bigint, OUT next_from timestamptz): one batch of
 * run_retention.  Looks at up to batch_size runs of the namespace closed
 * before cutoff and at or after from_time (NULL: from the oldest), deletes
 * those it can and returns what it did; next_from is the close time of
 * the last run looked at (NULL if none), where the next batch starts.
 */
Datum
_purge_batch(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 0);
	TimestampTz cutoff;
	int32		batch;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	DurPurge	p;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cutoff must not be null")));
	cutoff = PG_GETARG_TIMESTAMPTZ(1);
	batch = PG_ARGISNULL(2) ? -1 : PG_GETARG_INT32(2);
	if (batch <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be positive: %d", batch)));
	dur_namespace_require(ns, DUR_CAP_ADMIN);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_purge_batch must return a record");
	dur_purge(ns, cutoff, !PG_ARGISNULL(3), PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3),
			  batch, true, &p);
	values[0] = Int64GetDatum(p.purged);
	values[1] = Int64GetDatum(p.passed);
	values[2] = Int64GetDatum(p.rows);
	values[3] = TimestampTzGetDatum(p.last_close);
	nulls[3] = !p.any;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

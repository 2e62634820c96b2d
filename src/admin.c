/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  Administration: retention of closed runs.
 *
 * purge_closed_workflows deletes a namespace's closed runs and their
 * history, the oldest closed first, older than the namespace's retention
 * unless told otherwise.  The procedure run_retention does the same work
 * in bounded batches (_purge_batch is one, callable on its own), commits
 * after each and sleeps between them so that purging takes a duty cycle of
 * the wall-clock time; setup_retention and drop_retention make and remove
 * the pg_cron job that calls it (docs/retention.md).  Namespaces
 * themselves are namespaces.c's.
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
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "durable.h"
#include "history.h"
#include "namespaces.h"
#include "util.h"

PG_FUNCTION_INFO_V1(purge_closed_workflows);
PG_FUNCTION_INFO_V1(_purge_batch);
PG_FUNCTION_INFO_V1(run_retention);
PG_FUNCTION_INFO_V1(setup_retention);
PG_FUNCTION_INFO_V1(drop_retention);

/* The pg_cron job of setup_retention: durable-retention[:namespace]. */
#define DUR_RETENTION_JOB "durable-retention"

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

/* ------------------------------------------------------------ retention */

/* The batch settings of run_retention and setup_retention, from argument n on. */
typedef struct DurRetentionSettings
{
	int32		batch_size;
	Interval   *time_budget;
	float4		duty_cycle;
} DurRetentionSettings;

static void
dur_retention_settings(FunctionCallInfo fcinfo, int n, DurRetentionSettings *rs)
{
	rs->batch_size = PG_ARGISNULL(n) ? 0 : PG_GETARG_INT32(n);
	if (rs->batch_size <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be positive: %s",
						PG_ARGISNULL(n) ? "NULL" : psprintf("%d", rs->batch_size))));
	rs->time_budget = PG_ARGISNULL(n + 1) ? NULL : PG_GETARG_INTERVAL_P(n + 1);
	if (rs->time_budget == NULL || dur_interval_usecs(rs->time_budget) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_budget must be positive: %s",
						rs->time_budget == NULL ? "NULL" :
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(rs->time_budget))))));
	rs->duty_cycle = PG_ARGISNULL(n + 2) ? 0 : PG_GETARG_FLOAT4(n + 2);
	if (PG_ARGISNULL(n + 2) || !(rs->duty_cycle > 0 && rs->duty_cycle <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("duty_cycle must be greater than 0 and at most 1: %s",
						PG_ARGISNULL(n + 2) ? "NULL" :
						DatumGetCString(DirectFunctionCall1(float4out,
															Float4GetDatum(rs->duty_cycle))))));
}

/* Refuse with DU045 when pg_cron is not installed in this database. */
static void
dur_require_pg_cron(void)
{
	if (!OidIsValid(get_extension_oid("pg_cron", true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_NO_PG_CRON),
				 errmsg("pg_cron is not installed in database %s", get_database_name(MyDatabaseId)),
				 errdetail("Retention jobs are pg_cron jobs in the database of the workflows."),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name to this database, "
						 "restart, and run CREATE EXTENSION pg_cron; or CALL durable.run_retention() from "
						 "another scheduler.")));
}

static char *
dur_retention_job(const char *ns)
{
	return ns == NULL ? DUR_RETENTION_JOB : psprintf(DUR_RETENTION_JOB ":%s", ns);
}

/* Column 1 of every row of the last SPI result, as strings in the current context. */
static List *
dur_retention_column(void)
{
	List	   *out = NIL;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		out = lappend(out, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	return out;
}

/* Sleep for secs seconds, or less if woken; interrupts are served. */
static void
dur_retention_sleep(double secs)
{
	TimestampTz until = GetCurrentTimestamp() + (int64) (secs * USECS_PER_SEC);

	for (;;)
	{
		long		ms = (long) ((until - GetCurrentTimestamp()) / 1000);

		if (ms <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * run_retention(namespace text, batch_size integer, time_budget interval,
 * duty_cycle real, INOUT purged bigint): purge the runs older than their
 * namespace's retention (one namespace, or every namespace that has one),
 * batch by batch.  Each batch is its own transaction: the procedure commits
 * after it, so it must be CALLed outside a transaction block (25001 in
 * one, and when called from a function), and then sleeps so that the batches take duty_cycle of the wall-clock time at
 * most.  It stops when done or when time_budget is spent.  The cutoff of a
 * namespace is fixed when its turn starts, so the loop ends; each batch
 * starts where the last ended in the close-time index (see the header).
 */
Datum
run_retention(PG_FUNCTION_ARGS)
{
	char	   *only = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		atomic = !(fcinfo->context && IsA(fcinfo->context, CallContext) &&
						   !castNode(CallContext, fcinfo->context)->atomic);
	DurRetentionSettings rs;
	TimestampTz deadline;
	int64		purged = 0;
	List	   *names;
	ListCell   *lc;
	MemoryContext batch_cxt;
	TupleDesc	desc;
	Datum		value;
	bool		isnull = false;

	dur_retention_settings(fcinfo, 1, &rs);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "run_retention must return a record");
	desc = CreateTupleDescCopy(desc);	/* outlives the transactions it commits */
	deadline = dur_time_plus(GetCurrentTimestamp(), rs.time_budget);
	if (only != NULL)
		dur_namespace_require(only, DUR_CAP_ADMIN);
	if (atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("durable.run_retention cannot run inside a transaction block"),
				 errdetail("It commits after each batch of runs it deletes."),
				 errhint("CALL it on its own, outside BEGIN ... COMMIT and not from a function; "
						 "pg_cron's job does (durable.setup_retention).")));

	SPI_connect_ext(SPI_OPT_NONATOMIC);
	/* the namespaces this role sees (row-level security) that keep runs for a time */
	(void) dur_spi_exec("SELECT n.name FROM durable.namespaces n WHERE n.retention IS NOT NULL "
						"AND ($1 IS NULL OR n.name OPERATOR(pg_catalog.=) $1) ORDER BY n.name",
						1, only, NULL, NULL, NULL);
	names = dur_retention_column();
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "durable retention batch",
									  ALLOCSET_DEFAULT_SIZES);
	foreach(lc, names)
	{
		char	   *ns = lfirst(lc);
		Interval	keep;
		TimestampTz cutoff;
		bool		has_from = false;
		TimestampTz from = 0;

		if (!dur_namespace_retention(ns, &keep))
			continue;
		cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														 TimestampTzGetDatum(GetCurrentTimestamp()),
														 IntervalPGetDatum(&keep)));
		for (;;)
		{
			TimestampTz t0 = GetCurrentTimestamp();
			MemoryContext old;
			DurPurge	p;
			double		busy;
			double		left;

			if (t0 >= deadline)
				break;
			old = MemoryContextSwitchTo(batch_cxt);
			dur_namespace_require(ns, DUR_CAP_ADMIN);
			dur_purge(ns, cutoff, has_from, from, rs.batch_size, true, &p);
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_cxt);
			SPI_commit();
			purged += p.purged;
			/* the range is done, or only runs that cannot go yet are left at its start */
			if (p.purged + p.passed < rs.batch_size)
				break;
			if (p.purged == 0 && has_from && p.last_close == from)
				break;
			has_from = true;
			from = p.last_close;
			busy = (double) (GetCurrentTimestamp() - t0) / USECS_PER_SEC;
			left = (double) (deadline - GetCurrentTimestamp()) / USECS_PER_SEC;
			dur_retention_sleep(Min(busy * (1 - rs.duty_cycle) / rs.duty_cycle, Max(left, 0)));
		}
	}
	SPI_finish();
	value = Int64GetDatum(purged);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), &value, &isnull)));
}

/*
 * setup_retention(retention interval, namespace text, schedule text,
 * batch_size integer, time_budget interval, duty_cycle real) returns
 * bigint: set the retention of a namespace (NULL: of every namespace; a
 * NULL retention leaves the settings) and schedule run_retention for it
 * with pg_cron; returns the job's id.  Checks everything before it writes.
 */
Datum
setup_retention(PG_FUNCTION_ARGS)
{
	Interval   *retention = PG_ARGISNULL(0) ? NULL : PG_GETARG_INTERVAL_P(0);
	char	   *ns = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	DurRetentionSettings rs;
	char	   *schedule;
	char	   *command;
	char	   *keep = NULL;
	Datum		job;
	bool		isnull;

	dur_require_pg_cron();
	dur_retention_settings(fcinfo, 3, &rs);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule must not be null"),
				 errhint("A cron expression, for example '* * * * *' (every minute).")));
	schedule = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (retention != NULL)
		keep = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(retention)));
	if (ns != NULL && retention == NULL)
		dur_namespace_require(ns, DUR_CAP_ADMIN);

	SPI_connect();
	if (retention != NULL)
	{
		List	   *names;
		ListCell   *lc;

		if (ns != NULL)
			names = list_make1(ns);
		else
		{
			(void) dur_spi_exec("SELECT 'default' UNION SELECT n.name FROM durable.namespaces n", 0,
								NULL, NULL, NULL, NULL);
			names = dur_retention_column();
		}
		foreach(lc, names)
			(void) dur_spi_exec("SELECT durable.alter_namespace($1, "
								"pg_catalog.jsonb_build_object('retention', $2))",
								2, lfirst(lc), keep, NULL, NULL);
	}
	command = psprintf("CALL durable.run_retention(namespace => %s, batch_size => %d, time_budget => %s, "
					   "duty_cycle => %s)",
					   ns ? quote_literal_cstr(ns) : "NULL", rs.batch_size,
					   quote_literal_cstr(DatumGetCString(DirectFunctionCall1(interval_out,
																			  IntervalPGetDatum(rs.time_budget)))),
					   DatumGetCString(DirectFunctionCall1(float4out, Float4GetDatum(rs.duty_cycle))));
	(void) dur_spi_exec("SELECT cron.schedule_in_database($1, $2, $3, pg_catalog.current_database())",
						3, dur_retention_job(ns), schedule, command, NULL);
	job = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	PG_RETURN_INT64(DatumGetInt64(job));
}

/*
 * drop_retention(namespace text) returns boolean: remove the pg_cron job
 * setup_retention made for the namespace (NULL: the all-namespaces job);
 * false if this role has none.  The retention setting stays.
 */
Datum
drop_retention(PG_FUNCTION_ARGS)
{
	char	   *job = dur_retention_job(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	bool		found;

	dur_require_pg_cron();
	SPI_connect();
	(void) dur_spi_exec("SELECT 1 FROM cron.job j WHERE j.jobname OPERATOR(pg_catalog.=) $1 "
						"AND j.username OPERATOR(pg_catalog.=) CURRENT_USER",
						1, job, NULL, NULL, NULL);
	found = SPI_processed > 0;
	if (found)
		(void) dur_spi_exec("SELECT cron.unschedule($1::name)", 1, job, NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_BOOL(found);
}

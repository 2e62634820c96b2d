/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  Administration: retention of closed runs.
 *
 * purge_closed_workflows deletes a namespace's closed runs and their
 * history, the oldest closed first, older than the namespace's retention
 * unless told otherwise.  Namespaces themselves are namespaces.c's.
 *
 * Invariants: only closed runs are deleted, each with all its history
 * batches, updates and activity attempts in the same transaction.  A closed run has no other rows left
 * (history.c) but the timers that carry what it sent to other workflows
 * (a child's close to its parent, a parent close policy to its children,
 * signals and cancels), which the timer service fires at once: a run that
 * still has one is passed over until it has fired.
 *
 * Lock order: the run's lock, taken without waiting (two purges running
 * at once pass over each other's runs instead of failing), then its rows.
 * A closed run is never written again, so no other lock is needed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "history.h"

PG_FUNCTION_INFO_V1(purge_closed_workflows);

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
	DurCall    *call;
	DurScan		s;
	DurRow		row;
	int64		n = 0;

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
	call = dur_call_begin();
	dur_call_snapshot(call);
	dur_scan_begin(&s, call, DUR_WORKFLOWS_BY_CLOSE_TIME);
	dur_key_text(&s, 1, ns);
	dur_key_timestamptz(&s, 2, BTLessStrategyNumber, cutoff);
	while (n < batch && dur_scan_next(&s, ForwardScanDirection, &row))
	{
		pg_uuid_t	run_id;
		DurScan		h;
		DurRow		batch_row;
		ItemPointerData tid = row.tid;

		memcpy(&run_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
		if (!dur_try_lock_run(&run_id))
			continue;
		if (dur_run_has_rows(call, DUR_TIMERS_PKEY, &run_id))
		{
			/* what it sends to other workflows is still on its way (timers.c) */
			dur_unlock_run(&run_id);
			continue;
		}
		dur_scan_begin(&h, call, DUR_HISTORY_PKEY);
		dur_key_uuid(&h, 1, &run_id);
		while (dur_scan_next(&h, ForwardScanDirection, &batch_row))
			dur_delete(call, DUR_HISTORY, &batch_row.tid);
		dur_scan_end(&h);
		dur_scan_begin(&h, call, DUR_UPDATES_PKEY);
		dur_key_uuid(&h, 1, &run_id);
		while (dur_scan_next(&h, ForwardScanDirection, &batch_row))
			dur_delete(call, DUR_UPDATES, &batch_row.tid);
		dur_scan_end(&h);
		dur_scan_begin(&h, call, DUR_ACTIVITY_ATTEMPTS_PKEY);
		dur_key_uuid(&h, 1, &run_id);
		while (dur_scan_next(&h, ForwardScanDirection, &batch_row))
			dur_delete(call, DUR_ACTIVITY_ATTEMPTS, &batch_row.tid);
		dur_scan_end(&h);
		dur_delete(call, DUR_WORKFLOWS, &tid);
		n++;
	}
	dur_scan_end(&s);
	dur_call_end(call);
	PG_RETURN_INT64(n);
}

/*-------------------------------------------------------------------------
 *
 * timers.c
 *	  The timer service: durable deadlines, lease and queue timeouts, and
 *	  the rebuild of the task queue after a crash or a restore.
 *
 * Every deadline the engine keeps is either a row of durable.timers (user
 * timers, activity retries, schedule-to-close deadlines, workflow task
 * retries, delayed starts, run and execution timeouts: durable, they
 * survive a crash) or a deadline of a durable.tasks row (a started task's
 * lease, a ready activity's schedule-to-start deadline: they die with a
 * crash, and the rebuilt queue starts them afresh).  The engine worker
 * (engine.c) calls _engine_tick in a loop, sleeping until the deadline it
 * returns; commits of earlier deadlines wake it (wakeup.c).
 *
 * Invariants:
 *	- a timer fires at most once: it is deleted, under its run's lock, by
 *	  the transaction that fires it, and only if it is still due;
 *	- a lease or schedule-to-start timeout is applied only if the task row
 *	  is still in the state and past the deadline the scan saw;
 *	- the tick never waits for a run: a run whose lock is busy (a worker or
 *	  an application holds it in an open transaction) is passed over and
 *	  looked at again DUR_BUSY_RETRY_MS later, so one open transaction
 *	  cannot stall the deadlines of every other run; and until then the
 *	  scans skip its deadlines without counting them against the batch, so
 *	  that any number of busy runs cannot crowd the others out of a tick;
 *	- a schedule's timer (kind schedule, schedules.c) has the schedule's
 *	  own id as its run id: the run lock taken for it is the schedule's;
 *	- each deadline is handled in a subtransaction: one that fails is
 *	  logged and postponed by a minute, and the others go on.
 *
 * Lock order: run lock (conditional), then the run's rows, as everywhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "activities.h"
#include "commands.h"
#include "durable.h"
#include "history.h"
#include "matching.h"
#include "metrics.h"
#include "restore.h"
#include "schedules.h"
#include "timers.h"
#include "updates.h"

PG_FUNCTION_INFO_V1(_engine_tick);
PG_FUNCTION_INFO_V1(_engine_startup);

/* How soon a timer whose run is missing just after a restore is looked at again. */
#define DUR_ORPHAN_RETRY_MS	10000
/* How soon a deadline of a busy run is looked at again. */
#define DUR_BUSY_RETRY_MS	50
/* Most deadlines per transaction: each is a subtransaction, and more than
 * PGPROC_MAX_CACHED_SUBXIDS of those would slow down everyone's snapshots. */
#define DUR_MAX_PER_TICK	60

/*
 * Set a durable timer of the run (replacing one of the same kind and id)
 * and wake the engine at commit if it sleeps past it.
 */
void
dur_set_timer(DurCall *call, DurRun *run, const char *kind, const char *timer_id,
			  TimestampTz at, int64 started_event_id)
{
	dur_set_timer_with(call, run, kind, timer_id, at, started_event_id, NULL);
}

/* dur_set_timer, with the attributes a timer acting on another workflow needs. */
void
dur_set_timer_with(DurCall *call, DurRun *run, const char *kind, const char *timer_id,
				   TimestampTz at, int64 started_event_id, Jsonb *attributes)
{
	DurScan		s;
	DurRow		row;
	Datum		v[TM_NCOLS];
	bool		n[TM_NCOLS] = {false, false, false, false, false, false, false, false};
	bool		found;

	dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	dur_key_text(&s, 2, kind);
	dur_key_text(&s, 3, timer_id);
	found = dur_scan_next(&s, ForwardScanDirection, &row);
	v[TM_RUN_ID] = UUIDPGetDatum(&run->run_id);
	v[TM_KIND] = CStringGetTextDatum(kind);
	v[TM_TIMER_ID] = CStringGetTextDatum(timer_id);
	v[TM_FIRE_TIME] = TimestampTzGetDatum(at);
	v[TM_STARTED_EVENT_ID] = Int64GetDatum(started_event_id);
	n[TM_STARTED_EVENT_ID] = started_event_id == 0;
	v[TM_WORKFLOW_ID] = run->row.values[W_WORKFLOW_ID];
	v[TM_NAMESPACE] = run->row.values[W_NAMESPACE];
	v[TM_ATTRIBUTES] = PointerGetDatum(attributes);
	n[TM_ATTRIBUTES] = attributes == NULL;
	if (found)
	{
		ItemPointerData tid = row.tid;

		dur_scan_end(&s);
		dur_update(call, DUR_TIMERS, &tid, v, n, NULL);
	}
	else
	{
		dur_scan_end(&s);
		dur_insert(call, DUR_TIMERS, v, n, NULL);
	}
	dur_notify_timer(at);
}

/*
 * Delete a timer of the run; returns whether there was one, and its
 * started event id (0 for none) in *started_event_id if asked.
 */
bool
dur_take_timer(DurCall *call, DurRun *run, const char *kind, const char *timer_id,
			   int64 *started_event_id)
{
	DurScan		s;
	DurRow		row;
	bool		found;

	dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	dur_key_text(&s, 2, kind);
	dur_key_text(&s, 3, timer_id);
	found = dur_scan_next(&s, ForwardScanDirection, &row);
	if (found)
	{
		ItemPointerData tid = row.tid;

		if (started_event_id != NULL)
			*started_event_id = row.nulls[TM_STARTED_EVENT_ID] ? 0 :
				DatumGetInt64(row.values[TM_STARTED_EVENT_ID]);
		dur_scan_end(&s);
		dur_delete(call, DUR_TIMERS, &tid);
	}
	else
		dur_scan_end(&s);
	return found;
}

bool
dur_delete_timer(DurCall *call, DurRun *run, const char *kind, const char *timer_id)
{
	return dur_take_timer(call, run, kind, timer_id, NULL);
}

bool
dur_timer_exists(DurCall *call, DurRun *run, const char *kind, const char *timer_id)
{
	DurScan		s;
	DurRow		row;
	bool		found;

	dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	dur_key_text(&s, 2, kind);
	dur_key_text(&s, 3, timer_id);
	found = dur_scan_next(&s, ForwardScanDirection, &row);
	dur_scan_end(&s);
	return found;
}

/* A due deadline found by the tick. */
typedef enum DurDueKind
{
	DUR_DUE_TIMER,
	DUR_DUE_LEASE,
	DUR_DUE_QUEUED
} DurDueKind;

typedef struct DurDue
{
	DurDueKind	what;
	pg_uuid_t	run_id;
	char	   *kind;			/* timers: the kind */
	char	   *timer_id;		/* timers: the id */
	int64		seid;			/* tasks: the scheduled event id */
	int64		owner;			/* leases: the dead owner whose task this is, or 0 */
	TimestampTz due;
} DurDue;

/*
 * Lock a second run without waiting (false when its lock is busy) and read
 * it: *out is NULL when it does not exist.  The timer's own run is locked
 * already.
 */
static bool
dur_lock_other(DurCall *call, DurRun *mine, const pg_uuid_t *id, DurRun **out)
{
	if (mine != NULL && memcmp(&mine->run_id, id, sizeof(pg_uuid_t)) == 0)
	{
		*out = mine;
		return true;
	}
	if (!dur_try_lock_run(id))
		return false;
	dur_call_snapshot(call);
	*out = dur_run_read(call, id);
	return true;
}

/* The JSON object {"workflow_id", "run_id"} of a run. */
static void
dur_execution(DurJsonObj *o, DurRun *run)
{
	dj_init(o);
	dj_str(o, "workflow_id", run->workflow_id);
	dj_uuid(o, "run_id", &run->run_id);
}

/*
 * child_closed: a child's chain closed (run is its last run); its parent,
 * if it still waits for it, gets the Child* closing event, built from the
 * child's closing event.
 */
static bool
dur_report_child_closed(DurCall *call, DurRun *run)
{
	pg_uuid_t	parent_id;
	int64		initiated;
	DurRun	   *parent;
	DurRow		ch;

	memcpy(&parent_id, DatumGetUUIDP(run->row.values[W_PARENT_RUN_ID]), sizeof(pg_uuid_t));
	initiated = run->row.nulls[W_PARENT_INITIATED_EVENT_ID] ? 0 :
		DatumGetInt64(run->row.values[W_PARENT_INITIATED_EVENT_ID]);
	if (!dur_lock_other(call, run, &parent_id, &parent))
		return false;
	if (parent != NULL && dur_run_running(parent) &&
		dur_fetch(call, DUR_CHILDREN, DUR_CHILDREN_PKEY, &parent_id, initiated, &ch))
	{
		Jsonb	   *closing = dur_last_event_attributes(call, run);
		const char *status = run->status;
		DurEvent   *ev;
		DurJsonObj	exec;

		if (strcmp(status, "completed") == 0)
		{
			ev = dur_event("ChildWorkflowExecutionCompleted");
			dj_jsonb_datum(&ev->attrs, "result", run->row.values[W_RESULT], run->row.nulls[W_RESULT]);
		}
		else if (strcmp(status, "failed") == 0)
		{
			ev = dur_event("ChildWorkflowExecutionFailed");
			dj_jsonb_datum(&ev->attrs, "failure", run->row.values[W_FAILURE], run->row.nulls[W_FAILURE]);
			dj_str(&ev->attrs, "retry_state", closing ? dur_jsonb_get_text(closing, "retry_state") : NULL);
		}
		else if (strcmp(status, "canceled") == 0)
		{
			ev = dur_event("ChildWorkflowExecutionCanceled");
			dj_jsonb(&ev->attrs, "details", closing ? dur_jsonb_get(closing, "details") : NULL);
		}
		else if (strcmp(status, "timed_out") == 0)
		{
			ev = dur_event("ChildWorkflowExecutionTimedOut");
			dj_str(&ev->attrs, "retry_state", closing ? dur_jsonb_get_text(closing, "retry_state") : NULL);
		}
		else
			ev = dur_event("ChildWorkflowExecutionTerminated");
		dj_str(&ev->attrs, "namespace", run->namespace);
		dur_execution(&exec, run);
		dj_obj(&ev->attrs, "workflow_execution", &exec);
		dj_str(&ev->attrs, "workflow_type", run->workflow_type);
		dj_int(&ev->attrs, "initiated_event_id", initiated);
		dj_int(&ev->attrs, "started_event_id", DatumGetInt64(ch.values[CH_STARTED_EVENT_ID]));
		dur_delete(call, DUR_CHILDREN, &ch.tid);
		(void) dur_deliver(call, parent, list_make1(ev), NULL);
		dur_run_write(call, parent);
	}
	return true;
}

/*
 * parent_close: run (closed) left the child its children row at
 * initiated names; terminate it or ask it to cancel, as its parent close
 * policy says, if its chain is still running.
 */
static bool
dur_apply_parent_close(DurCall *call, DurRun *run, int64 initiated)
{
	DurRow		ch;
	DurScan		s;
	DurRow		row;
	pg_uuid_t	child_id;
	bool		found;
	DurRun	   *child = NULL;

	if (!dur_fetch(call, DUR_CHILDREN, DUR_CHILDREN_PKEY, &run->run_id, initiated, &ch))
		return true;
	/* the chain's running run: the one that names this parent */
	dur_scan_begin(&s, call, DUR_WORKFLOWS_RUNNING);
	dur_key_text(&s, 1, run->namespace);
	dur_key_text(&s, 2, TextDatumGetCString(ch.values[CH_WORKFLOW_ID]));
	found = dur_scan_next(&s, ForwardScanDirection, &row) && !row.nulls[W_PARENT_RUN_ID] &&
		memcmp(DatumGetUUIDP(row.values[W_PARENT_RUN_ID]), &run->run_id, sizeof(pg_uuid_t)) == 0;
	if (found)
		memcpy(&child_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
	dur_scan_end(&s);
	if (found)
	{
		if (!dur_lock_other(call, run, &child_id, &child))
			return false;
		if (child != NULL && dur_run_running(child))
		{
			if (strcmp(TextDatumGetCString(ch.values[CH_PARENT_CLOSE_POLICY]), "terminate") == 0)
				dur_terminate(call, child, "by parent close policy", "durable");
			else if (!DatumGetBool(child->row.values[W_CANCEL_REQUESTED]))
			{
				DurEvent   *ev = dur_event("WorkflowExecutionCancelRequested");

				dur_run_set(child, W_CANCEL_REQUESTED, BoolGetDatum(true), false);
				dj_str(&ev->attrs, "cause", "by parent close policy");
				dj_str(&ev->attrs, "identity", "durable");
				(void) dur_deliver(call, child, list_make1(ev), NULL);
			}
			dur_run_write(call, child);
		}
	}
	dur_delete(call, DUR_CHILDREN, &ch.tid);
	return true;
}

/*
 * signal_external and cancel_external: deliver what run (running or
 * closed since) asked for to the target, and record the outcome in run
 * while it runs.
 */
static bool
dur_deliver_external(DurCall *call, DurRun *run, const char *kind, int64 initiated, Jsonb *t)
{
	bool		is_signal = strcmp(kind, "signal_external") == 0;
	Jsonb	   *exec = dur_jsonb_get(t, "workflow_execution");
	char	   *wid = dur_jsonb_get_text(exec, "workflow_id");
	char	   *rid = dur_jsonb_get_text(exec, "run_id");
	bool		child_only = strcmp(dur_jsonb_get_text(t, "child_workflow_only"), "true") == 0;
	pg_uuid_t	target_id;
	bool		found = false;
	DurRun	   *target = NULL;
	DurEvent   *ev;

	if (rid != NULL)
	{
		memcpy(&target_id, DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(rid))),
			   sizeof(pg_uuid_t));
		found = true;
	}
	else
	{
		DurScan		s;
		DurRow		row;

		dur_scan_begin(&s, call, DUR_WORKFLOWS_RUNNING);
		dur_key_text(&s, 1, run->namespace);
		dur_key_text(&s, 2, wid);
		found = dur_scan_next(&s, ForwardScanDirection, &row);
		if (found)
			memcpy(&target_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
		dur_scan_end(&s);
	}
	if (found && !dur_lock_other(call, run, &target_id, &target))
		return false;
	if (target != NULL &&
		(!dur_run_running(target) || strcmp(target->workflow_id, wid) != 0 ||
		 strcmp(target->namespace, run->namespace) != 0 ||
		 (child_only && (target->row.nulls[W_PARENT_RUN_ID] ||
						 memcmp(DatumGetUUIDP(target->row.values[W_PARENT_RUN_ID]), &run->run_id,
								sizeof(pg_uuid_t)) != 0))))
		target = NULL;

	if (target != NULL)
	{
		char	   *request_id = psprintf("%s:" INT64_FORMAT, dur_uuid_text(&run->run_id), initiated);
		DurJsonObj	src;

		if (is_signal)
		{
			if (dur_signal_request_new(call, target, request_id))
			{
				ev = dur_event("WorkflowExecutionSignaled");
				dj_str(&ev->attrs, "signal_name", dur_jsonb_get_text(t, "signal_name"));
				dj_jsonb(&ev->attrs, "input", dur_jsonb_get(t, "input"));
				dj_str(&ev->attrs, "identity", "durable");
				dj_str(&ev->attrs, "request_id", request_id);
				(void) dur_deliver(call, target, list_make1(ev), NULL);
			}
		}
		else if (!DatumGetBool(target->row.values[W_CANCEL_REQUESTED]))
		{
			ev = dur_event("WorkflowExecutionCancelRequested");
			dur_run_set(target, W_CANCEL_REQUESTED, BoolGetDatum(true), false);
			dj_str(&ev->attrs, "cause", dur_jsonb_get_text(t, "reason"));
			dj_str(&ev->attrs, "identity", "durable");
			dj_int(&ev->attrs, "external_initiated_event_id", initiated);
			dur_execution(&src, run);
			dj_obj(&ev->attrs, "external_workflow_execution", &src);
			(void) dur_deliver(call, target, list_make1(ev), NULL);
		}
		if (target != run)
			dur_run_write(call, target);
	}

	if (!dur_run_running(run))
		return true;
	if (target != NULL)
		ev = dur_event(is_signal ? "ExternalWorkflowExecutionSignaled" :
					   "ExternalWorkflowExecutionCancelRequested");
	else
	{
		ev = dur_event(is_signal ? "SignalExternalWorkflowExecutionFailed" :
					   "RequestCancelExternalWorkflowExecutionFailed");
		dj_str(&ev->attrs, "cause", "EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND");
	}
	dj_int(&ev->attrs, "initiated_event_id", initiated);
	dj_str(&ev->attrs, "namespace", run->namespace);
	dj_jsonb(&ev->attrs, "workflow_execution", exec);
	if (target == NULL)
		dj_jsonb(&ev->attrs, "workflow_task_completed_event_id",
				 dur_jsonb_get(t, "workflow_task_completed_event_id"));
	(void) dur_deliver(call, run, list_make1(ev), NULL);
	dur_run_write(call, run);
	return true;
}

/*
 * Does the due timer act on a row that is missing — its run, or the
 * activity of an activity timer — shortly after data arrived by SQL
 * (restore.c)?  A parallel restore may bring that row after the settle
 * time; the timer is then put off, not dropped.  Costs nothing unless the
 * row is missing or the timer is an activity's.
 */
static bool
dur_timer_awaits_restore(DurCall *call, DurRun *run, DurDue *d)
{
	DurRow		a;

	if (strcmp(d->kind, "schedule") == 0)
		return false;			/* a schedule's timer has no run */
	if (run != NULL &&
		(!dur_run_running(run) ||
		 (strcmp(d->kind, "activity_retry") != 0 &&
		  strcmp(d->kind, "activity_schedule_to_close") != 0)))
		return false;
	if (!dur_restore_recent())
		return false;
	return run == NULL ||
		!dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &d->run_id,
				   strtoi64(d->timer_id, NULL, 10), &a);
}

/*
 * Move the timer the scan s stands on (its row) to fire at "at", and end
 * the scan.
 */
static void
dur_timer_move(DurCall *call, DurScan *s, DurRow *row, TimestampTz at)
{
	ItemPointerData tid = row->tid;
	Datum	   *v = palloc(TM_NCOLS * sizeof(Datum));
	bool	   *n = palloc(TM_NCOLS * sizeof(bool));

	memcpy(v, row->values, TM_NCOLS * sizeof(Datum));
	memcpy(n, row->nulls, TM_NCOLS * sizeof(bool));
	v[TM_FIRE_TIME] = TimestampTzGetDatum(at);
	dur_scan_end(s);
	dur_update(call, DUR_TIMERS, &tid, v, n, NULL);
}

/*
 * Fire one due timer of a run whose lock the caller holds.  False when it
 * acts on another run whose lock is busy: nothing is done, and the timer
 * stays for another try.
 */
static bool
dur_fire_timer(DurCall *call, DurRun *run, DurDue *d)
{
	DurScan		s;
	DurRow		row;
	bool		found;
	int64		started_event_id = 0;
	bool		awaits_restore = dur_timer_awaits_restore(call, run, d);

	/* fired, canceled or replaced meanwhile? */
	dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
	dur_key_uuid(&s, 1, &d->run_id);
	dur_key_text(&s, 2, d->kind);
	dur_key_text(&s, 3, d->timer_id);
	found = dur_scan_next(&s, ForwardScanDirection, &row) &&
		DatumGetTimestampTz(row.values[TM_FIRE_TIME]) <= GetCurrentTimestamp();
	if (found && strcmp(d->kind, "schedule") == 0)
	{
		/* a schedule's next action (schedules.c): its lock is the one taken */
		ItemPointerData tid = row.tid;
		Jsonb	   *attrs = row.nulls[TM_ATTRIBUTES] ? NULL : DatumGetJsonbPCopy(row.values[TM_ATTRIBUTES]);
		char	   *ns = TextDatumGetCString(row.values[TM_NAMESPACE]);

		dur_scan_end(&s);
		if (!dur_schedule_ready(ns, attrs))
			return false;
		dur_delete(call, DUR_TIMERS, &tid);
		dur_schedule_fire(ns, attrs);
		return true;
	}
	if (found && run != NULL && strcmp(d->kind, "schedule_closed") == 0)
	{
		/* a run a schedule started closed: its buffered actions may start */
		ItemPointerData tid = row.tid;

		dur_scan_end(&s);
		if (!dur_schedule_run_closed(run->namespace, d->timer_id, run->workflow_id, run->status))
			return false;
		dur_delete(call, DUR_TIMERS, &tid);
		return true;
	}
	if (found && run != NULL &&
		(strcmp(d->kind, "child_closed") == 0 || strcmp(d->kind, "parent_close") == 0 ||
		 strcmp(d->kind, "signal_external") == 0 || strcmp(d->kind, "cancel_external") == 0))
	{
		/* what reaches another workflow: the timer's run may be closed */
		ItemPointerData tid = row.tid;
		Jsonb	   *attrs = row.nulls[TM_ATTRIBUTES] ? NULL : DatumGetJsonbP(row.values[TM_ATTRIBUTES]);
		int64		initiated = strtoi64(d->timer_id, NULL, 10);
		bool		done;

		dur_scan_end(&s);
		if (strcmp(d->kind, "child_closed") == 0)
			done = dur_report_child_closed(call, run);
		else if (strcmp(d->kind, "parent_close") == 0)
			done = dur_apply_parent_close(call, run, initiated);
		else
			done = dur_deliver_external(call, run, d->kind, initiated, attrs);
		if (done)
			dur_delete(call, DUR_TIMERS, &tid);
		return done;
	}
	if (found && awaits_restore)
	{
		/*
		 * No run (or activity), shortly after data arrived by SQL: a
		 * restore may not have brought it yet (restore.c).  Look again
		 * later rather than drop the timer.
		 */
		TimestampTz later = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DUR_ORPHAN_RETRY_MS);

		dur_timer_move(call, &s, &row, later);
		dur_notify_timer(later);
		return true;
	}
	if (found)
	{
		ItemPointerData tid = row.tid;

		started_event_id = row.nulls[TM_STARTED_EVENT_ID] ? 0 :
			DatumGetInt64(row.values[TM_STARTED_EVENT_ID]);
		dur_metrics_timer_fired(run, DatumGetTimestampTz(row.values[TM_FIRE_TIME]));
		dur_scan_end(&s);
		dur_delete(call, DUR_TIMERS, &tid);
	}
	else
		dur_scan_end(&s);
	if (!found || run == NULL || !dur_run_running(run))
		return true;

	if (strcmp(d->kind, "user") == 0)
	{
		DurEvent   *ev = dur_event("TimerFired");

		dj_str(&ev->attrs, "timer_id", d->timer_id);
		dj_int_or_null(&ev->attrs, "started_event_id", started_event_id, started_event_id == 0);
		(void) dur_deliver(call, run, list_make1(ev), NULL);
	}
	else if (strcmp(d->kind, "activity_retry") == 0)
	{
		DurRow		a;
		int64		seid = strtoi64(d->timer_id, NULL, 10);

		if (dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &d->run_id, seid, &a) &&
			strcmp(TextDatumGetCString(a.values[A_STATE]), "backoff") == 0)
		{
			a.values[A_STATE] = CStringGetTextDatum("scheduled");
			a.values[A_READY_TIME] = TimestampTzGetDatum(GetCurrentTimestamp());
			dur_update(call, DUR_ACTIVITIES, &a.tid, a.values, a.nulls, &a.tid);
			(void) dur_enqueue_activity(call, run, &a, NULL, NULL);
		}
	}
	else if (strcmp(d->kind, "activity_schedule_to_close") == 0)
	{
		DurRow		a;
		DurRow		task;
		int64		seid = strtoi64(d->timer_id, NULL, 10);

		if (dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &d->run_id, seid, &a))
		{
			bool		has_task = dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &d->run_id, seid, &task);
			bool		started = has_task && !task.nulls[T_STARTED_TIME];
			DurEvent   *ev = dur_event("ActivityTaskTimedOut");
			DurFailure	f;
			DurJsonObj	fo;

			dur_metrics_activity_timeout(run->namespace, TextDatumGetCString(a.values[A_TASK_QUEUE]),
										 "SCHEDULE_TO_CLOSE");
			dur_timeout_failure(&f, "activity ScheduleToClose timeout", true,
								a.nulls[A_HEARTBEAT_DETAILS] ? NULL : DatumGetJsonbP(a.values[A_HEARTBEAT_DETAILS]),
								"SCHEDULE_TO_CLOSE");
			dj_init(&fo);
			dur_failure_fields(&f, &fo);
			dj_obj(&ev->attrs, "failure", &fo);
			dj_str(&ev->attrs, "retry_state", DUR_RETRY_TIMEOUT);
			(void) dur_close_activity(call, run, &a, has_task ? &task : NULL,
									  has_task && !task.nulls[T_WORKER_ID] ?
									  TextDatumGetCString(task.values[T_WORKER_ID]) : NULL,
									  ev, &f, started, NULL);
		}
	}
	else if (strcmp(d->kind, "wft_retry") == 0)
	{
		if (run->wft_state == DUR_WFT_BACKOFF)
			(void) dur_schedule_wft(call, run, run->wft_attempt, false, NIL, NULL);
	}
	else if (strcmp(d->kind, "workflow_start") == 0)
	{
		if (run->wft_state == DUR_WFT_DELAYED)
			(void) dur_schedule_wft(call, run, 1, true, NIL, NULL);
	}
	else if (strcmp(d->kind, "workflow_run_timeout") == 0 ||
			 strcmp(d->kind, "workflow_execution_timeout") == 0)
	{
		const char *tt = strcmp(d->kind, "workflow_run_timeout") == 0 ? "RUN" : "EXECUTION";
		DurEvent   *ev = dur_event("WorkflowExecutionTimedOut");
		DurFailure	f;
		ListCell   *lc;

		foreach(lc, dur_take_buffer(call, run))
			(void) dur_record(run, (DurEvent *) lfirst(lc));
		dj_str(&ev->attrs, "timeout_type", tt);
		dur_timeout_failure(&f, "workflow timed out", false, NULL, tt);
		(void) dur_fail_run(call, run, "timed_out", ev, &f, 0, true);
		return true;			/* dur_fail_run wrote the run */
	}
	dur_run_write(call, run);
	return true;
}

/* A running task's lease ran out: time the attempt out. */
static void
dur_expire_lease(DurCall *call, DurRun *run, DurDue *d)
{
	DurRow		task;
	DurRow		a;
	TimestampTz started;
	const char *kind;
	DurFailure	f;

	if (!dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &d->run_id, d->seid, &task) ||
		task.nulls[T_STARTED_TIME] ||
		(d->owner == 0 ?
		 DatumGetTimestampTz(task.values[T_LEASE_DEADLINE]) > GetCurrentTimestamp() :
		 task.nulls[T_OWNER] || DatumGetInt64(task.values[T_OWNER]) != d->owner) ||
		run == NULL || !dur_run_running(run))
		return;
	started = DatumGetTimestampTz(task.values[T_STARTED_TIME]);
	if (d->seid == 0)
	{
		DurEvent   *ev = dur_event("WorkflowTaskTimedOut");

		dj_str(&ev->attrs, "timeout_type", "START_TO_CLOSE");
		dur_wft_failed(call, run, &task, started, ev, TextDatumGetCString(task.values[T_WORKER_ID]));
		dur_run_write(call, run);
		return;
	}
	if (!dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &d->run_id, d->seid, &a))
	{
		dur_delete(call, DUR_TASKS, &task.tid);
		return;
	}
	/* a heartbeat recorded in shared memory since the lease was set */
	if (d->owner == 0 && dur_heartbeat_extend(call, &a, &task))
		return;
	if (d->owner == 0 && !a.nulls[A_HEARTBEAT_TIMEOUT] &&
		DatumGetTimestampTz(task.values[T_LEASE_DEADLINE]) <
		dur_time_plus(started, DatumGetIntervalP(a.values[A_START_TO_CLOSE_TIMEOUT])))
		kind = "HEARTBEAT";
	else
		kind = "START_TO_CLOSE";
	a.values[A_LAST_WORKER_ID] = task.values[T_WORKER_ID];
	a.nulls[A_LAST_WORKER_ID] = false;
	dur_timeout_failure(&f, strcmp(kind, "HEARTBEAT") == 0 ?
						"activity Heartbeat timeout" : "activity Start To Close timeout",
						false,
						a.nulls[A_HEARTBEAT_DETAILS] ? NULL : DatumGetJsonbP(a.values[A_HEARTBEAT_DETAILS]),
						kind);
	(void) dur_activity_attempt_failed(call, run, &a, &task, &f,
									   TextDatumGetCString(task.values[T_WORKER_ID]), true, NULL);
	dur_run_write(call, run);
}

/* A queued activity attempt waited longer than its schedule-to-start timeout. */
static void
dur_expire_queued(DurCall *call, DurRun *run, DurDue *d)
{
	DurRow		task;
	DurRow		a;
	DurFailure	f;
	DurEvent   *ev;
	DurJsonObj	fo;

	if (!dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &d->run_id, d->seid, &task) ||
		!task.nulls[T_STARTED_TIME] || task.nulls[T_EXPIRE_TIME] ||
		DatumGetTimestampTz(task.values[T_EXPIRE_TIME]) > GetCurrentTimestamp() ||
		run == NULL || !dur_run_running(run))
		return;
	if (!dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &d->run_id, d->seid, &a))
	{
		dur_delete(call, DUR_TASKS, &task.tid);
		return;
	}
	ev = dur_event("ActivityTaskTimedOut");
	dur_metrics_activity_timeout(run->namespace, TextDatumGetCString(a.values[A_TASK_QUEUE]),
								 "SCHEDULE_TO_START");
	dur_timeout_failure(&f, "activity ScheduleToStart timeout", true, NULL, "SCHEDULE_TO_START");
	dj_init(&fo);
	dur_failure_fields(&f, &fo);
	dj_obj(&ev->attrs, "failure", &fo);
	dj_str(&ev->attrs, "retry_state", DUR_RETRY_NON_RETRYABLE);
	(void) dur_close_activity(call, run, &a, &task, NULL, ev, &f, false, NULL);
	dur_run_write(call, run);
}

/*
 * Handle one due deadline: lock its run without waiting (false when the
 * lock is busy), then apply it if it still holds.
 */
static bool
dur_handle_due(DurDue *d)
{
	DurCall    *call;
	DurRun	   *run;

	if (!dur_try_lock_run(&d->run_id))
		return false;
	call = dur_call_begin();
	dur_call_snapshot(call);
	run = dur_run_read(call, &d->run_id);
	switch (d->what)
	{
		case DUR_DUE_TIMER:
			if (!dur_fire_timer(call, run, d))
			{
				/* it acts on a busy run: nothing was written */
				dur_call_end(call);
				dur_unlock_run(&d->run_id);
				return false;
			}
			break;
		case DUR_DUE_LEASE:
			dur_expire_lease(call, run, d);
			break;
		case DUR_DUE_QUEUED:
			dur_expire_queued(call, run, d);
			break;
	}
	dur_call_end(call);
	return true;
}

/*
 * A deadline whose handling failed is looked at again in a minute: the
 * timer's fire time or the task's deadline moves on.
 */
static void
dur_postpone_due(DurDue *d)
{
	DurCall    *call;
	DurRow		row;
	TimestampTz later = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 60 * 1000);

	if (!dur_try_lock_run(&d->run_id))
		return;
	call = dur_call_begin();
	dur_call_snapshot(call);
	if (d->what == DUR_DUE_TIMER)
	{
		DurScan		s;

		dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
		dur_key_uuid(&s, 1, &d->run_id);
		dur_key_text(&s, 2, d->kind);
		dur_key_text(&s, 3, d->timer_id);
		if (dur_scan_next(&s, ForwardScanDirection, &row))
			dur_timer_move(call, &s, &row, later);
		else
			dur_scan_end(&s);
	}
	else if (dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &d->run_id, d->seid, &row))
	{
		row.values[d->what == DUR_DUE_LEASE ? T_LEASE_DEADLINE : T_EXPIRE_TIME] =
			TimestampTzGetDatum(later);
		dur_update(call, DUR_TASKS, &row.tid, row.values, row.nulls, NULL);
	}
	dur_call_end(call);
	dur_notify_timer(later);
}

/*
 * Collect the started tasks of dead owners (sessions.c): each times out
 * now, whatever its lease says.
 */
static List *
dur_collect_dead(DurCall *call, const int64 *owners, int nowners, TimestampTz now, List *due)
{
	DurScan		s;
	DurRow		row;

	dur_scan_begin(&s, call, DUR_TASKS_LEASE);
	dur_key_isnull(&s, 1, false);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		int64		owner;
		DurDue	   *d;
		int			i;

		if (row.nulls[T_OWNER])
			continue;
		owner = DatumGetInt64(row.values[T_OWNER]);
		for (i = 0; i < nowners; i++)
			if (owners[i] == owner)
				break;
		if (i == nowners)
			continue;
		d = palloc0(sizeof(DurDue));
		d->what = DUR_DUE_LEASE;
		memcpy(&d->run_id, DatumGetUUIDP(row.values[T_RUN_ID]), sizeof(pg_uuid_t));
		d->seid = DatumGetInt64(row.values[T_SCHEDULED_EVENT_ID]);
		d->owner = owner;
		d->due = now;
		due = lappend(due, d);
	}
	dur_scan_end(&s);
	return due;
}

/*
 * Runs found busy, with the deadlines of theirs that were due, and when to
 * look at them again: kept by the backend that ticks (the engine worker)
 * from one tick to the next.  A busy run's deadlines wait here, not in the
 * scans, so that the scans can move on past them.
 */
typedef struct DurBusyRun
{
	pg_uuid_t	run_id;			/* hash key */
	TimestampTz retry_at;
	List	   *dues;			/* DurDues, in TopMemoryContext */
} DurBusyRun;

static HTAB *busy_runs = NULL;

/*
 * Where each scan of due deadlines starts (DT_NOBEGIN: at the start of the
 * index).  Every deadline before it was handled, or waits with its busy
 * run.  Without it, each tick would walk the index entries of every
 * deadline handled since the last vacuum, which a transaction left open
 * anywhere in the cluster keeps from being cleaned up: the ticks would get
 * slower and slower and every timer late.  A deadline committed below the
 * watermark (its transaction began before the tick that moved it) lowers
 * it again (dur_take_committed_deadline: every write of a deadline calls
 * dur_notify_timer), the queue rebuild after a crash starts the scans
 * from the beginning, and so does every DUR_FULL_SCAN_MS, a safety net
 * that costs one slow tick when something holds back vacuum.  Only the
 * engine worker keeps watermarks and busy runs: _engine_tick called by
 * hand scans whole indexes and tries every due deadline.
 */
#define DUR_FULL_SCAN_MS	600000
static TimestampTz scan_from[3] = {DT_NOBEGIN, DT_NOBEGIN, DT_NOBEGIN};
static TimestampTz last_full_scan = 0;

static void
dur_scan_from_start(void)
{
	scan_from[DUR_DUE_TIMER] = scan_from[DUR_DUE_LEASE] = scan_from[DUR_DUE_QUEUED] = DT_NOBEGIN;
}

/* Is the run busy until after now?  Then *retry_at is when to look again. */
static bool
dur_run_is_busy(const pg_uuid_t *run_id, TimestampTz now, TimestampTz *retry_at)
{
	DurBusyRun *b;

	if (busy_runs == NULL || hash_get_num_entries(busy_runs) == 0)
		return false;
	b = hash_search(busy_runs, run_id, HASH_FIND, NULL);
	if (b == NULL || b->retry_at <= now)
		return false;
	*retry_at = b->retry_at;
	return true;
}

/* Is d one of the due deadlines in the list? */
static bool
dur_due_listed(List *dues, const DurDue *d)
{
	ListCell   *lc;

	foreach(lc, dues)
	{
		DurDue	   *e = lfirst(lc);

		if (e->what == d->what && e->seid == d->seid && e->owner == d->owner &&
			(e->kind == NULL) == (d->kind == NULL) &&
			(e->kind == NULL || (strcmp(e->kind, d->kind) == 0 && strcmp(e->timer_id, d->timer_id) == 0)))
			return true;
	}
	return false;
}

/*
 * Keep a due deadline of a busy run until retry_at (0: keep the run's
 * retry time).
 */
static void
dur_keep_busy(const DurDue *d, TimestampTz retry_at)
{
	DurBusyRun *b;
	bool		found;
	MemoryContext old;
	DurDue	   *copy;

	if (busy_runs == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(DurBusyRun);
		ctl.hcxt = TopMemoryContext;
		busy_runs = hash_create("durable busy runs", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	b = hash_search(busy_runs, &d->run_id, HASH_ENTER, &found);
	if (!found)
	{
		b->dues = NIL;
		b->retry_at = retry_at;
	}
	else if (retry_at != 0)
		b->retry_at = retry_at;
	if (dur_due_listed(b->dues, d))
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	copy = palloc(sizeof(DurDue));
	*copy = *d;
	copy->kind = d->kind ? pstrdup(d->kind) : NULL;
	copy->timer_id = d->timer_id ? pstrdup(d->timer_id) : NULL;
	b->dues = lappend(b->dues, copy);
	MemoryContextSwitchTo(old);
}

/*
 * The due deadlines of the busy runs whose time to look again has come,
 * appended to due (copies in the current context); their entries go.
 */
static List *
dur_take_busy(TimestampTz now, List *due, TimestampTz *next)
{
	HASH_SEQ_STATUS st;
	DurBusyRun *b;
	ListCell   *lc;

	if (busy_runs == NULL || hash_get_num_entries(busy_runs) == 0)
		return due;
	hash_seq_init(&st, busy_runs);
	while ((b = hash_seq_search(&st)) != NULL)
	{
		if (b->retry_at > now)
		{
			if (*next == 0 || b->retry_at < *next)
				*next = b->retry_at;
			continue;
		}
		foreach(lc, b->dues)
		{
			DurDue	   *e = lfirst(lc);
			DurDue	   *d = palloc(sizeof(DurDue));

			*d = *e;
			d->kind = e->kind ? pstrdup(e->kind) : NULL;
			d->timer_id = e->timer_id ? pstrdup(e->timer_id) : NULL;
			due = lappend(due, d);
			if (e->kind)
				pfree(e->kind);
			if (e->timer_id)
				pfree(e->timer_id);
		}
		list_free_deep(b->dues);
		(void) hash_search(busy_runs, &b->run_id, HASH_REMOVE, NULL);
	}
	return due;
}

/*
 * Collect the due deadlines of one index, up to max, from its watermark
 * to "now"; a deadline of a run noted busy joins the run's list instead.
 * The watermark moves to where the scan stopped.
 */
static List *
dur_collect_due(DurCall *call, DurIdx idx, DurDueKind what, TimestampTz now, int max,
				List *due, TimestampTz *next)
{
	DurScan		s;
	DurRow		row;
	int			n = 0;
	TimestampTz stop = now;

	dur_scan_begin(&s, call, idx);
	if (scan_from[what] == DT_NOBEGIN)
		dur_key_isnull(&s, 1, false);
	else
		dur_key_timestamptz(&s, 1, BTGreaterEqualStrategyNumber, scan_from[what]);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		DurDue	   *d;
		TimestampTz at;
		TimestampTz retry_at;

		if (what == DUR_DUE_TIMER)
			at = DatumGetTimestampTz(row.values[TM_FIRE_TIME]);
		else if (what == DUR_DUE_LEASE)
			at = DatumGetTimestampTz(row.values[T_LEASE_DEADLINE]);
		else
			at = DatumGetTimestampTz(row.values[T_EXPIRE_TIME]);
		if (at > now || n >= max)
		{
			if (*next == 0 || at < *next)
				*next = at;
			stop = at;
			break;
		}
		d = palloc0(sizeof(DurDue));
		d->what = what;
		memcpy(&d->run_id, DatumGetUUIDP(row.values[0]), sizeof(pg_uuid_t));
		if (what == DUR_DUE_TIMER)
		{
			d->kind = TextDatumGetCString(row.values[TM_KIND]);
			d->timer_id = TextDatumGetCString(row.values[TM_TIMER_ID]);
		}
		else
			d->seid = DatumGetInt64(row.values[T_SCHEDULED_EVENT_ID]);
		d->due = at;
		if (dur_run_is_busy(&d->run_id, now, &retry_at))
		{
			dur_keep_busy(d, 0);
			continue;
		}
		due = lappend(due, d);
		n++;
	}
	dur_scan_end(&s);
	scan_from[what] = stop;
	return due;
}

static int
dur_due_cmp(const ListCell *a, const ListCell *b)
{
	TimestampTz x = ((DurDue *) lfirst(a))->due;
	TimestampTz y = ((DurDue *) lfirst(b))->due;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * _engine_tick(p_batch integer) returns timestamptz: one pass of the timer
 * service.  Handles up to p_batch (at most DUR_MAX_PER_TICK) due
 * deadlines, each in a subtransaction, and returns when to come back: now
 * if more is due, else the next deadline (NULL: none).  Safe to call
 * concurrently: every deadline is re-checked under its run's lock.
 */
Datum
_engine_tick(PG_FUNCTION_ARGS)
{
	int			batch = PG_ARGISNULL(0) ? 200 : PG_GETARG_INT32(0);
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;
	DurCall    *call;
	List	   *due = NIL;
	ListCell   *lc;
	int			handled = 0;
	bool		busy = false;
	int64		dead[64];
	int			ndead;
	TimestampTz committed;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext item_cxt;
	ResourceOwner owner = CurrentResourceOwner;

	batch = Max(1, Min(batch, DUR_MAX_PER_TICK));
	/* only the engine keeps watermarks: a tick by hand must not take its news */
	committed = dur_is_engine ? dur_take_committed_deadline() : 0;
	/* called by hand, or the first tick, or a while since the last full scan */
	if (!dur_is_engine || last_full_scan == 0 ||
		now - last_full_scan >= DUR_FULL_SCAN_MS * (int64) 1000)
	{
		dur_scan_from_start();
		last_full_scan = now;
	}
	else if (committed != 0)
	{
		scan_from[DUR_DUE_TIMER] = Min(scan_from[DUR_DUE_TIMER], committed);
		scan_from[DUR_DUE_LEASE] = Min(scan_from[DUR_DUE_LEASE], committed);
		scan_from[DUR_DUE_QUEUED] = Min(scan_from[DUR_DUE_QUEUED], committed);
	}
	ndead = dur_take_dead_owners(MyDatabaseId, dead, lengthof(dead));
	due = dur_take_busy(now, due, &next);
	call = dur_call_begin();
	/* every table lock before any run lock (tables.c) */
	dur_call_open_all(call);
	dur_call_snapshot(call);
	/* admitted updates whose runs have no workflow task get one (updates.c) */
	if (dur_updates_schedule())
		busy = true;
	if (ndead > 0)
		due = dur_collect_dead(call, dead, ndead, now, due);
	due = dur_collect_due(call, DUR_TIMERS_BY_FIRE_TIME, DUR_DUE_TIMER, now, batch, due, &next);
	due = dur_collect_due(call, DUR_TASKS_LEASE, DUR_DUE_LEASE, now, batch, due, &next);
	due = dur_collect_due(call, DUR_TASKS_EXPIRE, DUR_DUE_QUEUED, now, batch, due, &next);
	dur_call_end(call);
	list_sort(due, dur_due_cmp);

	item_cxt = AllocSetContextCreate(cxt, "durable tick item", ALLOCSET_DEFAULT_SIZES);
	foreach(lc, due)
	{
		DurDue	   *d = lfirst(lc);

		if (handled >= batch)
		{
			/*
			 * Not reached: a dead owner's task goes back on the list, a
			 * busy run's deadline back to its run, and a scan's moves the
			 * scan's watermark back.
			 */
			for (; lc != NULL; lc = lnext(due, lc))
			{
				DurDue	   *r = lfirst(lc);

				if (r->owner != 0)
					dur_requeue_dead_owner(MyDatabaseId, r->owner);
				else
					scan_from[r->what] = Min(scan_from[r->what], r->due);
			}
			next = now;
			break;
		}
		handled++;
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(item_cxt);
		PG_TRY();
		{
			if (!dur_handle_due(d))
			{
				busy = true;
				if (d->owner != 0)
					dur_requeue_dead_owner(MyDatabaseId, d->owner);
				else if (dur_is_engine)
					dur_keep_busy(d, TimestampTzPlusMilliseconds(now, DUR_BUSY_RETRY_MS));
			}
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			ereport(WARNING,
					(errmsg("durable: could not handle %s %s of run %s: %s",
							d->what == DUR_DUE_TIMER ? "timer" :
							d->what == DUR_DUE_LEASE ? "lease" : "queued",
							d->kind ? d->kind : "", dur_uuid_text(&d->run_id), edata->message)));
			FreeErrorData(edata);
			dur_postpone_due(d);
		}
		PG_END_TRY();
		MemoryContextReset(item_cxt);
	}
	MemoryContextDelete(item_cxt);

	if (list_length(due) > handled || list_length(due) >= batch || ndead == lengthof(dead))
		next = now;
	if (busy)
	{
		TimestampTz retry = TimestampTzPlusMilliseconds(now, DUR_BUSY_RETRY_MS);

		if (next == 0 || retry < next)
			next = retry;
	}
	if (next == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(next);
}

/*
 * The rebuild of the task queue after a crash emptied it, or after data
 * arrived by SQL (a restore, rebuild_task_queue: restore.c; then forced,
 * whatever durable.engine_state says), in batches: the engine worker calls
 * _engine_startup until it returns NULL.  Where a pass stands is kept
 * here, in the calling backend.  The rebuild only adds what is missing, so
 * starting it again from scratch is always safe.
 */
typedef struct DurRebuild
{
	int			phase;			/* 0: workflow tasks, 1: activities */
	char	   *last_namespace;	/* phase 0: where the pass stands */
	char	   *last_workflow_id;
	pg_uuid_t	last_run;		/* phase 1 */
	int64		last_seid;
	bool		started;
	bool		busy;			/* a run was busy: another pass is needed */
	bool		forced;			/* rebuild even if durable.engine_state has its row */
} DurRebuild;

static DurRebuild rebuild;

/* Does durable.engine_state have its row (the queue is whole)? */
static bool
dur_queue_is_whole(void)
{
	bool		whole;

	SPI_connect();
	if (SPI_execute("SELECT 1 FROM durable.engine_state LIMIT 1", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "durable: could not read durable.engine_state");
	whole = SPI_processed > 0;
	SPI_finish();
	return whole;
}

/* Mark the queue whole. */
static void
dur_queue_mark_whole(void)
{
	SPI_connect();
	if (SPI_execute("DELETE FROM durable.engine_state", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "durable: could not write durable.engine_state");
	if (SPI_execute("INSERT INTO durable.engine_state (rebuilt_at) VALUES (pg_catalog.clock_timestamp())",
					false, 0) != SPI_OK_INSERT)
		elog(ERROR, "durable: could not write durable.engine_state");
	SPI_finish();
}

/*
 * Lock and read a run for the rebuild if it is running and nobody holds it
 * (a busy run is left for another pass); NULL otherwise.
 */
static DurRun *
dur_rebuild_run(DurCall *call, const pg_uuid_t *run_id)
{
	DurRun	   *run;

	if (!dur_try_lock_run(run_id))
	{
		rebuild.busy = true;
		return NULL;
	}
	dur_call_snapshot(call);
	run = dur_run_read(call, run_id);
	if (run == NULL || !dur_run_running(run))
	{
		dur_unlock_run(run_id);
		return NULL;
	}
	return run;
}

/*
 * Rebuild the workflow task row of one running run, if it is missing.
 * Events buffered behind the attempt that was running (its lease is gone:
 * it is handed out again) go to history now, ahead of any that arrive
 * later, as they would have had they arrived while the task was ready.
 */
static void
dur_rebuild_wft(DurCall *call, const pg_uuid_t *run_id)
{
	DurRow		task;
	DurRun	   *run = dur_rebuild_run(call, run_id);
	List	   *buffered;
	ListCell   *lc;

	if (run == NULL)
		return;
	if (run->wft_state != DUR_WFT_SCHEDULED ||
		dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, run_id, 0, &task))
	{
		dur_unlock_run(run_id);
		return;
	}
	buffered = dur_take_buffer(call, run);
	if (buffered == NIL)
	{
		dur_requeue_wft(call, run);
		return;
	}
	if (run->wft_scheduled_event_id == 0)
	{
		/* a transient retry becomes a regular task carrying the events */
		(void) dur_schedule_wft(call, run, 1, true, buffered, NULL);
	}
	else
	{
		foreach(lc, buffered)
			(void) dur_record(run, (DurEvent *) lfirst(lc));
		dur_requeue_wft(call, run);
	}
	dur_run_write(call, run);
}

/* Rebuild the task row of one scheduled activity attempt, if it is missing. */
static void
dur_rebuild_activity(DurCall *call, const pg_uuid_t *run_id, int64 seid)
{
	DurRow		task;
	DurRow		a;
	DurRun	   *run = dur_rebuild_run(call, run_id);

	if (run == NULL)
		return;
	if (!dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, run_id, seid, &a) ||
		strcmp(TextDatumGetCString(a.values[A_STATE]), "scheduled") != 0 ||
		dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, run_id, seid, &task))
	{
		dur_unlock_run(run_id);
		return;
	}
	dur_requeue_activity(call, run, &a);
}

/*
 * _engine_startup(p_batch integer) returns timestamptz: rebuild the
 * unlogged task queue after a crash emptied it: one ready row per
 * scheduled workflow task and per scheduled activity attempt.  Leases are
 * gone, so running tasks are handed out again (activities are
 * at-least-once; a late completion with the old token still counts).
 *
 * Each call handles up to p_batch runs, each under its lock taken without
 * waiting (a busy run is left for another pass), and returns now while
 * there is more to do, NULL when the queue is whole (durable.engine_state
 * has its row).
 */
Datum
_engine_startup(PG_FUNCTION_ARGS)
{
	int			batch = PG_ARGISNULL(0) || PG_GETARG_INT32(0) <= 0 ? 200 : PG_GETARG_INT32(0);
	DurCall    *call;
	DurScan		s;
	DurRow		row;
	int			n = 0;
	bool		more = false;

	/* the rebuild writes deadlines of every age: scan from the start */
	dur_scan_from_start();
	if (!rebuild.forced && dur_queue_is_whole())
	{
		rebuild.started = false;
		PG_RETURN_NULL();
	}
	if (!rebuild.started)
	{
		bool		forced = rebuild.forced;

		memset(&rebuild, 0, sizeof(rebuild));
		rebuild.started = true;
		rebuild.forced = forced;
	}
	call = dur_call_begin();
	dur_call_snapshot(call);
	if (rebuild.phase == 0)
	{
		/*
		 * Running runs, in (namespace, workflow id) order (the index of
		 * running runs): the rest of the last namespace, then the
		 * namespaces after it.
		 */
		int			part;

		for (part = rebuild.last_namespace != NULL ? 0 : 1; part < 2 && !more; part++)
		{
			dur_scan_begin(&s, call, DUR_WORKFLOWS_RUNNING);
			if (part == 0)
			{
				dur_key_text(&s, 1, rebuild.last_namespace);
				dur_key_text_op(&s, 2, BTGreaterStrategyNumber, rebuild.last_workflow_id);
			}
			else if (rebuild.last_namespace != NULL)
				dur_key_text_op(&s, 1, BTGreaterStrategyNumber, rebuild.last_namespace);
			while (dur_scan_next(&s, ForwardScanDirection, &row))
			{
				pg_uuid_t	run_id;
				MemoryContext old;

				if (n >= batch)
				{
					more = true;
					break;
				}
				n++;
				memcpy(&run_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
				old = MemoryContextSwitchTo(TopMemoryContext);
				if (rebuild.last_workflow_id)
					pfree(rebuild.last_workflow_id);
				rebuild.last_workflow_id = TextDatumGetCString(row.values[W_WORKFLOW_ID]);
				if (rebuild.last_namespace)
					pfree(rebuild.last_namespace);
				rebuild.last_namespace = TextDatumGetCString(row.values[W_NAMESPACE]);
				MemoryContextSwitchTo(old);
				if (strcmp(TextDatumGetCString(row.values[W_WFT_STATE]), "scheduled") == 0)
					dur_rebuild_wft(call, &run_id);
			}
			dur_scan_end(&s);
		}
		if (!more)
			rebuild.phase = 1;
	}
	if (rebuild.phase == 1 && !more)
	{
		dur_scan_begin(&s, call, DUR_ACTIVITIES_PKEY);
		dur_key_uuid_ge(&s, 1, &rebuild.last_run);
		while (dur_scan_next(&s, ForwardScanDirection, &row))
		{
			pg_uuid_t	run_id;
			int64		seid = DatumGetInt64(row.values[A_SCHEDULED_EVENT_ID]);
			int			c;

			memcpy(&run_id, DatumGetUUIDP(row.values[A_RUN_ID]), sizeof(pg_uuid_t));
			c = memcmp(&run_id, &rebuild.last_run, sizeof(pg_uuid_t));
			if (c < 0 || (c == 0 && seid <= rebuild.last_seid))
				continue;		/* done in an earlier call */
			if (n >= batch)
			{
				more = true;
				break;
			}
			n++;
			rebuild.last_run = run_id;
			rebuild.last_seid = seid;
			if (strcmp(TextDatumGetCString(row.values[A_STATE]), "scheduled") == 0)
				dur_rebuild_activity(call, &run_id, seid);
		}
		dur_scan_end(&s);
	}
	dur_call_end(call);
	if (more)
		PG_RETURN_TIMESTAMPTZ(GetCurrentTimestamp());
	if (rebuild.busy)
	{
		/* another pass for the runs that were busy */
		char	   *wid = rebuild.last_workflow_id;
		char	   *ns = rebuild.last_namespace;
		bool		forced = rebuild.forced;

		memset(&rebuild, 0, sizeof(rebuild));
		rebuild.started = true;
		rebuild.forced = forced;
		if (wid)
			pfree(wid);
		if (ns)
			pfree(ns);
		PG_RETURN_TIMESTAMPTZ(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DUR_BUSY_RETRY_MS));
	}
	dur_queue_mark_whole();
	if (rebuild.last_workflow_id)
		pfree(rebuild.last_workflow_id);
	if (rebuild.last_namespace)
		pfree(rebuild.last_namespace);
	memset(&rebuild, 0, sizeof(rebuild));
	PG_RETURN_NULL();
}

/*
 * Start the next _engine_startup from scratch, whether or not
 * durable.engine_state says the queue is whole: data arrived by SQL
 * (restore.c), possibly behind a pass in progress.
 */
void
dur_rebuild_restart(void)
{
	if (rebuild.last_workflow_id)
		pfree(rebuild.last_workflow_id);
	if (rebuild.last_namespace)
		pfree(rebuild.last_namespace);
	memset(&rebuild, 0, sizeof(rebuild));
	rebuild.forced = true;
	dur_scan_from_start();
}

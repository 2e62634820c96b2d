/*-------------------------------------------------------------------------
 *
 * reset.c
 *	  Resetting a workflow: a new run whose history is an old run's up to a
 *	  workflow task, which is then failed so that new code runs from there.
 *
 * reset_workflow(workflow_id, run_id, to_event_id, reason, request_id)
 * takes a run (the latest by default) and one of its workflow task's
 * closing events (WorkflowTaskCompleted, WorkflowTaskFailed or
 * WorkflowTaskTimedOut).  The new run gets, as Temporal's reset does:
 *
 *	- the old run's events up to that task's WorkflowTaskStarted, with their
 *	  ids, times and attributes;
 *	- WorkflowTaskFailed, cause ResetWorkflow, with the reason;
 *	- the signals the old run received after that point, re-applied
 *	  (Temporal's default reapply type);
 *	- a new WorkflowTaskScheduled.
 *
 * Its state is rebuilt from the events it keeps: activities scheduled and
 * not closed by then are pending again (attempt 1), timers started and not
 * fired or canceled run to their original fire time, accepted updates stay
 * applied, search attributes and the cancel request are as they were.  The
 * run that runs (the old one or a later one) is terminated.  A reset point
 * at which a child workflow, or a signal or cancel sent to another
 * workflow, was still under way is refused: those belong to the old run.
 *
 * Invariants: the new run and the terminations commit together or not at
 * all; a repeated request id returns the run it made.
 *
 * Lock order: the workflow id's lock, then the running run's lock (the
 * only run written besides the new one).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "activities.h"
#include "durable.h"
#include "history.h"
#include "timers.h"

PG_FUNCTION_INFO_V1(reset_workflow);

/* What the kept events leave open, found before anything is written. */
typedef struct DurResetState
{
	List	   *activities;		/* DurOldEvent of ActivityTaskScheduled still open */
	List	   *timers;			/* DurOldEvent of TimerStarted still open */
	List	   *accepted;		/* DurOldEvent of WorkflowExecutionUpdateAccepted */
	List	   *completed;		/* DurOldEvent of WorkflowExecutionUpdateCompleted */
	List	   *request_ids;	/* char *: request ids of kept signals */
	Jsonb	   *search_attributes;	/* as of the reset point */
	bool		cancel_requested;
	int			open_elsewhere; /* children, external signals and cancels under way */
} DurResetState;

/* Remove from list the event whose attribute key equals value (an event id or a timer id). */
static List *
dur_forget(List *list, const char *key, const char *value, bool by_id)
{
	ListCell   *lc;

	foreach(lc, list)
	{
		DurOldEvent *e = lfirst(lc);
		char	   *v = by_id ? psprintf(INT64_FORMAT, e->id) : dur_jsonb_get_text(e->attrs, key);

		if (v != NULL && value != NULL && strcmp(v, value) == 0)
			return foreach_delete_current(list, lc);
	}
	return list;
}

/* Merge an upsert's search attributes into sa (a null value removes a key). */
static Jsonb *
dur_merge_search_attributes(Jsonb *sa, Jsonb *upsert)
{
	Datum		merged = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(sa), JsonbPGetDatum(upsert));
	JsonbIterator *it = JsonbIteratorInit(&upsert->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && v.type == jbvNull && key != NULL)
			merged = DirectFunctionCall2(jsonb_delete, merged, CStringGetTextDatum(key));
	}
	return DatumGetJsonbP(merged);
}

/* Walk the events the new run keeps (ids up to upto) and note what they leave open. */
static void
dur_reset_walk(List *events, int64 upto, DurResetState *st)
{
	ListCell   *lc;

	memset(st, 0, sizeof(*st));
	foreach(lc, events)
	{
		DurOldEvent *e = lfirst(lc);
		const char *t = e->type;
		char	   *ref;

		if (e->id > upto)
			break;
		if (strcmp(t, "WorkflowExecutionStarted") == 0)
			st->search_attributes = dur_jsonb_get(e->attrs, "search_attributes");
		else if (strcmp(t, "UpsertWorkflowSearchAttributes") == 0 && st->search_attributes != NULL)
			st->search_attributes = dur_merge_search_attributes(st->search_attributes,
																dur_jsonb_get(e->attrs, "search_attributes"));
		else if (strcmp(t, "WorkflowExecutionCancelRequested") == 0)
			st->cancel_requested = true;
		else if (strcmp(t, "WorkflowExecutionSignaled") == 0)
		{
			ref = dur_jsonb_get_text(e->attrs, "request_id");
			if (ref != NULL)
				st->request_ids = lappend(st->request_ids, ref);
		}
		else if (strcmp(t, "ActivityTaskScheduled") == 0)
			st->activities = lappend(st->activities, e);
		else if (strcmp(t, "ActivityTaskCompleted") == 0 || strcmp(t, "ActivityTaskFailed") == 0 ||
				 strcmp(t, "ActivityTaskTimedOut") == 0 || strcmp(t, "ActivityTaskCanceled") == 0)
			st->activities = dur_forget(st->activities, NULL,
										dur_jsonb_get_text(e->attrs, "scheduled_event_id"), true);
		else if (strcmp(t, "TimerStarted") == 0)
			st->timers = lappend(st->timers, e);
		else if (strcmp(t, "TimerFired") == 0 || strcmp(t, "TimerCanceled") == 0)
			st->timers = dur_forget(st->timers, "timer_id", dur_jsonb_get_text(e->attrs, "timer_id"), false);
		else if (strcmp(t, "WorkflowExecutionUpdateAccepted") == 0)
			st->accepted = lappend(st->accepted, e);
		else if (strcmp(t, "WorkflowExecutionUpdateCompleted") == 0)
			st->completed = lappend(st->completed, e);
		else if (strcmp(t, "StartChildWorkflowExecutionInitiated") == 0 ||
				 strcmp(t, "SignalExternalWorkflowExecutionInitiated") == 0 ||
				 strcmp(t, "RequestCancelExternalWorkflowExecutionInitiated") == 0)
			st->open_elsewhere++;
		else if (strcmp(t, "StartChildWorkflowExecutionFailed") == 0 ||
				 (strncmp(t, "ChildWorkflowExecution", 22) == 0 && strcmp(t, "ChildWorkflowExecutionStarted") != 0) ||
				 strcmp(t, "ExternalWorkflowExecutionSignaled") == 0 ||
				 strcmp(t, "SignalExternalWorkflowExecutionFailed") == 0 ||
				 strcmp(t, "ExternalWorkflowExecutionCancelRequested") == 0 ||
				 strcmp(t, "RequestCancelExternalWorkflowExecutionFailed") == 0)
			st->open_elsewhere--;
	}
}

/* A stored event again, as an event to record (same type, time and attributes). */
static DurEvent *
dur_event_again(DurOldEvent *e, bool keep_time)
{
	DurEvent   *ev = dur_event(e->type);

	dj_add_jsonb_object(&ev->attrs, e->attrs);
	if (keep_time)
		ev->time = e->time;
	return ev;
}

/* Is e one of the events in list? */
static bool
dur_listed(List *list, DurOldEvent *e)
{
	ListCell   *lc;

	foreach(lc, list)
		if (lfirst(lc) == e)
		return true;
	return false;
}

/*
 * reset_workflow(workflow_id text, run_id uuid, to_event_id bigint,
 * reason text, request_id text, namespace text) returns uuid: a new run
 * from an old one's history up to a workflow task, which is failed with
 * the reason; see the file's header.  Returns the new run's id.
 */
Datum
reset_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 5);
	char	   *wid;
	char	   *reason = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *request_id = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	int64		point;
	DurCall    *call;
	DurRun	   *base;
	DurRun	   *cur = NULL;
	DurRun	   *run;
	List	   *events;
	ListCell   *lc;
	DurOldEvent *at = NULL;
	int64		started;
	int64		scheduled;
	DurResetState st;
	DurScan		s;
	DurRow		row;
	pg_uuid_t  *new_id;
	pg_uuid_t	cur_id;
	bool		has_cur = false;
	Datum	   *v;
	bool	   *n;
	DurPendingIds pending;
	List	   *reapply = NIL;
	DurEvent   *ev;
	DurFailure	f;
	DurJsonObj	fo;
	TimestampTz now = GetCurrentTimestamp();

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	dur_require_not_null(PG_ARGISNULL(0), "workflow_id");
	dur_require_not_null(PG_ARGISNULL(2), "to_event_id");
	wid = text_to_cstring(PG_GETARG_TEXT_PP(0));
	point = PG_GETARG_INT64(2);
	dur_check_id(request_id, "request_id");
	if (reason == NULL)
		reason = "reset";

	/* the workflow id, then its running run: nothing of either changes under us */
	dur_lock_workflow_id(ns, wid);
	call = dur_call_begin();
	dur_call_snapshot(call);
	dur_scan_begin(&s, call, DUR_WORKFLOWS_RUNNING);
	dur_key_text(&s, 1, ns);
	dur_key_text(&s, 2, wid);
	if (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		memcpy(&cur_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
		has_cur = true;
	}
	dur_scan_end(&s);
	if (has_cur)
		cur = dur_run_lock(call, &cur_id);
	base = dur_run_find(call, ns, wid, PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1), false, false);

	/* a repeated request: the run it made */
	if (request_id != NULL)
	{
		pg_uuid_t  *made = dur_run_by_request_id(call, ns, wid, request_id);

		if (made != NULL)
		{
			dur_call_end(call);
			PG_RETURN_UUID_P(made);
		}
	}

	/* the reset point: a workflow task's closing event */
	events = dur_run_events(call, base);
	foreach(lc, events)
		if (((DurOldEvent *) lfirst(lc))->id == point)
			at = lfirst(lc);
	if (at == NULL || (strcmp(at->type, "WorkflowTaskCompleted") != 0 &&
					   strcmp(at->type, "WorkflowTaskFailed") != 0 &&
					   strcmp(at->type, "WorkflowTaskTimedOut") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event " INT64_FORMAT " of run %s is not the end of a workflow task",
						point, dur_uuid_text(&base->run_id)),
				 errdetail("%s", at ? psprintf("It is %s.", at->type) : "The run has no such event."),
				 errhint("Reset to a WorkflowTaskCompleted, WorkflowTaskFailed or WorkflowTaskTimedOut event.")));
	started = strtoi64(dur_jsonb_get_text(at->attrs, "started_event_id"), NULL, 10);
	scheduled = strtoi64(dur_jsonb_get_text(at->attrs, "scheduled_event_id"), NULL, 10);
	dur_reset_walk(events, started, &st);
	if (st.open_elsewhere > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot reset workflow \"%s\" to event " INT64_FORMAT, wid, point),
				 errdetail("A child workflow, or a signal or cancel sent to another workflow, was under way at that point."),
				 errhint("Reset to a workflow task before it was started or after it ended.")));

	/* the run that runs ends: the old one, or a later one */
	if (cur != NULL && dur_run_running(cur))
	{
		dur_terminate(call, cur, psprintf("reset: %s", reason), NULL);
		dur_run_write(call, cur);
	}

	/* the new run: the old one's parameters, fresh state */
	new_id = dur_new_run_id();
	v = palloc(W_NCOLS * sizeof(Datum));
	n = palloc(W_NCOLS * sizeof(bool));
	memcpy(v, base->row.values, W_NCOLS * sizeof(Datum));
	memcpy(n, base->row.nulls, W_NCOLS * sizeof(bool));
#define SETCOL(col, datum) (v[col] = (datum), n[col] = false)
#define NULLCOL(col) (v[col] = (Datum) 0, n[col] = true)
	SETCOL(W_RUN_ID, UUIDPGetDatum(new_id));
	SETCOL(W_STATUS, CStringGetTextDatum("running"));
	NULLCOL(W_RESULT);
	NULLCOL(W_FAILURE);
	NULLCOL(W_CLOSE_TIME);
	NULLCOL(W_NEXT_RUN_ID);
	SETCOL(W_START_TIME, TimestampTzGetDatum(now));
	SETCOL(W_PREVIOUS_RUN_ID, UUIDPGetDatum(&base->run_id));
	if (request_id != NULL)
		SETCOL(W_REQUEST_ID, CStringGetTextDatum(request_id));
	else
		NULLCOL(W_REQUEST_ID);
	SETCOL(W_HISTORY_LENGTH, Int64GetDatum(0));
	SETCOL(W_CANCEL_REQUESTED, BoolGetDatum(st.cancel_requested));
	if (st.search_attributes != NULL)
		SETCOL(W_SEARCH_ATTRIBUTES, JsonbPGetDatum(st.search_attributes));
	SETCOL(W_WFT_STATE, CStringGetTextDatum("none"));
	SETCOL(W_WFT_SEQ, Int64GetDatum(0));
	SETCOL(W_WFT_ATTEMPT, Int32GetDatum(0));
	NULLCOL(W_WFT_SCHEDULED_EVENT_ID);
	NULLCOL(W_WFT_SCHEDULED_TIME);
	NULLCOL(W_STICKY_WORKER);
	NULLCOL(W_STICKY_EVENT_ID);
#undef SETCOL
#undef NULLCOL
	run = dur_run_new_from_row(v, n);

	/* its history up to the reset point, and the state it leaves */
	memset(&pending, 0, sizeof(pending));
	foreach(lc, events)
	{
		DurOldEvent *e = lfirst(lc);

		if (e->id > started)
			break;
		if (dur_listed(st.activities, e))
		{
			/* pending again, under its own event id: the command it was */
			Jsonb	   *cmd = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(e->attrs),
																 CStringGetTextDatum("workflow_task_completed_event_id")));
			DurEvent   *unused;

			(void) dur_schedule_activity(call, run, cmd, 0, 0, NULL, &pending, &unused);
		}
		(void) dur_record(run, dur_event_again(e, true));
		if (dur_listed(st.timers, e))
		{
			Interval   *d = dur_parse_interval(dur_jsonb_get_text(e->attrs, "start_to_fire_timeout"),
											   "start_to_fire_timeout");

			dur_set_timer(call, run, "user", dur_jsonb_get_text(e->attrs, "timer_id"),
						  dur_time_plus(e->time, d), e->id);
		}
	}

	/* the task at the reset point fails with the reason */
	ev = dur_event("WorkflowTaskFailed");
	dj_str(&ev->attrs, "cause", "ResetWorkflow");
	memset(&f, 0, sizeof(f));
	f.message = reason;
	f.type = "ResetWorkflow";
	dj_init(&fo);
	dur_failure_fields(&f, &fo);
	dj_obj(&ev->attrs, "failure", &fo);
	dj_str(&ev->attrs, "identity", dur_session_user());
	dj_int(&ev->attrs, "scheduled_event_id", scheduled);
	dj_int(&ev->attrs, "started_event_id", started);
	(void) dur_record(run, ev);

	/* the signals the old run received after it, again, and a new task */
	foreach(lc, events)
	{
		DurOldEvent *e = lfirst(lc);

		if (e->id > started && strcmp(e->type, "WorkflowExecutionSignaled") == 0)
		{
			char	   *rid = dur_jsonb_get_text(e->attrs, "request_id");

			reapply = lappend(reapply, dur_event_again(e, false));
			if (rid != NULL)
				st.request_ids = lappend(st.request_ids, rid);
		}
	}
	(void) dur_schedule_wft(call, run, 1, true, reapply, NULL);
	dur_run_write(call, run);

	/* what the kept events applied: signal request ids, accepted updates */
	foreach(lc, st.request_ids)
		(void) dur_signal_request_new(call, run, (char *) lfirst(lc));
	foreach(lc, st.accepted)
	{
		DurOldEvent *e = lfirst(lc);
		Jsonb	   *req = dur_jsonb_get(e->attrs, "accepted_request");
		char	   *uid = dur_jsonb_get_text(e->attrs, "protocol_instance_id");
		Datum		uv[U_NCOLS];
		bool		un[U_NCOLS] = {false, false, false, false, false, true, false, false};
		ListCell   *lc2;

		uv[U_RUN_ID] = UUIDPGetDatum(new_id);
		uv[U_UPDATE_ID] = CStringGetTextDatum(uid);
		uv[U_NAME] = CStringGetTextDatum(dur_jsonb_get_text(dur_jsonb_get(req, "input"), "name"));
		uv[U_STATE] = CStringGetTextDatum("accepted");
		uv[U_ACCEPTED_EVENT_ID] = Int64GetDatum(e->id);
		uv[U_WORKFLOW_ID] = v[W_WORKFLOW_ID];
		uv[U_NAMESPACE] = v[W_NAMESPACE];
		foreach(lc2, st.completed)
		{
			DurOldEvent *c = lfirst(lc2);

			if (strcmp(dur_jsonb_get_text(dur_jsonb_get(c->attrs, "meta"), "update_id"), uid) == 0)
			{
				uv[U_STATE] = CStringGetTextDatum("completed");
				uv[U_OUTCOME] = JsonbPGetDatum(dur_jsonb_get(c->attrs, "outcome"));
				un[U_OUTCOME] = false;
			}
		}
		dur_insert(call, DUR_UPDATES, uv, un, NULL);
	}

	/* its timeouts: the run timeout afresh, the execution's as it was */
	if (!n[W_RUN_TIMEOUT])
		dur_set_timer(call, run, "workflow_run_timeout", "",
					  dur_time_plus(now, DatumGetIntervalP(v[W_RUN_TIMEOUT])), 0);
	if (!n[W_EXECUTION_DEADLINE])
		dur_set_timer(call, run, "workflow_execution_timeout", "",
					  DatumGetTimestampTz(v[W_EXECUTION_DEADLINE]), 0);
	dur_call_end(call);
	PG_RETURN_UUID_P(new_id);
}

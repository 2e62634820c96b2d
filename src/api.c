/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The client API: start, signal, signal-with-start, cancel, terminate,
 *	  describe, history, result and queries.
 *
 * Each function is one SQL entry point that works inside the caller's
 * transaction: what it writes commits or rolls back with the caller.
 * Arguments are checked before anything is locked or written.
 *
 * Invariants:
 *	- a workflow id has at most one running run (the unique index
 *	  workflows_one_running); starts and signal-with-start hold the
 *	  workflow id's lock while they decide, so two of them never both
 *	  start a run;
 *	- a repeated start request id returns the run it started; a repeated
 *	  signal request id is delivered once (durable.signal_requests);
 *	- reads (describe, history, result) take no lock.
 *
 * Lock order: workflow id lock, then run lock, then rows; see tables.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "history.h"
#include "indexes.h"
#include "queues.h"
#include "matching.h"
#include "timers.h"

PG_FUNCTION_INFO_V1(start_workflow);
PG_FUNCTION_INFO_V1(signal_workflow);
PG_FUNCTION_INFO_V1(signal_with_start_workflow);
PG_FUNCTION_INFO_V1(cancel_workflow);
PG_FUNCTION_INFO_V1(terminate_workflow);
PG_FUNCTION_INFO_V1(describe_workflow);
PG_FUNCTION_INFO_V1(get_history);
PG_FUNCTION_INFO_V1(workflow_result);
PG_FUNCTION_INFO_V1(query_workflow);
PG_FUNCTION_INFO_V1(answer_query);

/* The text argument n as a C string, NULL for NULL. */
static char *
arg_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* The interval argument n, NULL for NULL. */
static Interval *
arg_interval(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : PG_GETARG_INTERVAL_P(n);
}

/* The jsonb argument n as a datum, 0 for NULL. */
static Datum
arg_jsonb(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? (Datum) 0 : PG_GETARG_DATUM(n);
}

/*
 * The namespace argument n, checked: the caller must hold a capability of
 * the mask cap there.
 */
static char *
dur_client_namespace(FunctionCallInfo fcinfo, int n, int cap)
{
	char	   *ns = dur_namespace_arg(fcinfo, n);

	dur_namespace_require(ns, cap);
	return ns;
}

/* A workflow id, cut for messages as left(workflow_id, 200) did. */
static char *
wid_msg(const char *wid)
{
	return pnstrdup(wid, pg_mbcharcliplen(wid, strlen(wid), 200));
}

/*
 * The start logic shared by start_workflow, signal_with_start_workflow and
 * a child's start: request id deduplication, id conflict and reuse
 * policies, then the new run.  Returns the run id; *existing when it is a
 * run that was there (a repeated request id, or use_existing); NULL when
 * the id is in use and r->quiet_conflict asks for no error.
 */
pg_uuid_t *
dur_start(DurCall *call, DurStartRequest *r, bool *existing)
{
	static const char *const reuse_choices[] = {
		"allow_duplicate", "allow_duplicate_failed_only", "reject_duplicate", NULL
	};
	static const char *const conflict_choices[] = {
		"fail", "use_existing", "terminate_existing", NULL
	};
	Datum		policy = 0;
	DurScan		s;
	DurRow		row;
	DurRun	   *cur = NULL;
	pg_uuid_t  *run_id = NULL;
	DurStartParams p;
	DurRun	   *run;
	TimestampTz now = GetCurrentTimestamp();

	dur_check_id(r->workflow_type, "workflow_type");
	dur_check_id(r->workflow_id, "workflow_id");
	dur_check_id(r->task_queue, "task_queue");
	dur_check_id(r->request_id, "request_id");
	if (r->input != 0)
		dur_check_payload(r->input, "input");
	if (r->memo != 0)
		dur_check_payload(r->memo, "memo");
	if (r->search_attributes != 0)
		dur_check_payload(r->search_attributes, "search_attributes");
	dur_check_choice(r->reuse, "id_reuse_policy", reuse_choices);
	dur_check_choice(r->conflict, "id_conflict_policy", conflict_choices);
	dur_check_interval(r->execution_timeout, "execution_timeout", true);
	dur_check_interval(r->run_timeout, "run_timeout", true);
	dur_check_interval(r->task_timeout, "task_timeout", true);
	dur_check_priority(r->priority, "priority");
	dur_check_fairness(r->fairness_key, false, 0, "the start");
	if (dur_affinity_of(r->required_capabilities, "required_capabilities") == NULL)
		r->required_capabilities = NULL;
	dur_check_interval(r->delay, "start_delay", false);
	if (r->task_timeout == NULL || r->task_queue == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", r->task_queue == NULL ? "task_queue" : "task_timeout")));
	if (r->search_attributes != 0 && !JB_ROOT_IS_OBJECT(DatumGetJsonbP(r->search_attributes)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search_attributes must be a JSON object")));
	if (r->retry_policy != NULL)
		policy = JsonbPGetDatum(dur_retry_policy(r->retry_policy, "retry_policy"));

	dur_lock_workflow_id(r->namespace, r->workflow_id);
	dur_call_snapshot(call);
	if (r->search_attributes != 0)
		dur_check_search_attributes(call, r->namespace, DatumGetJsonbP(r->search_attributes));
	*existing = false;

	if (r->request_id != NULL &&
		(run_id = dur_run_by_request_id(call, r->namespace, r->workflow_id, r->request_id)) != NULL)
	{
		*existing = true;
		return run_id;
	}

	dur_scan_begin(&s, call, DUR_WORKFLOWS_RUNNING);
	dur_key_text(&s, 1, r->namespace);
	dur_key_text(&s, 2, r->workflow_id);
	if (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		run_id = palloc(sizeof(pg_uuid_t));
		memcpy(run_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
	}
	dur_scan_end(&s);
	if (run_id != NULL)
	{
		if (r->quiet_conflict)
			return NULL;
		cur = dur_run_lock(call, run_id);
		if (strcmp(r->conflict, "use_existing") == 0)
		{
			*existing = true;
			return run_id;
		}
		if (strcmp(r->conflict, "fail") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_ALREADY_STARTED),
					 errmsg("workflow \"%s\" is already running", wid_msg(r->workflow_id)),
					 errdetail("Run %s is running.", dur_uuid_text(run_id)),
					 errhint("Use id_conflict_policy => 'use_existing' or 'terminate_existing', or another workflow id.")));
		dur_terminate(call, cur, "terminated by a start with id_conflict_policy terminate_existing", NULL);
		dur_run_write(call, cur);
	}

	if (strcmp(r->reuse, "allow_duplicate") != 0)
	{
		/* the last run: the index is ordered by start_time DESC */
		dur_scan_begin(&s, call, DUR_WORKFLOWS_BY_ID);
		dur_key_text(&s, 1, r->namespace);
		dur_key_text(&s, 2, r->workflow_id);
		if (dur_scan_next(&s, ForwardScanDirection, &row))
		{
			char	   *status = TextDatumGetCString(row.values[W_STATUS]);

			if ((strcmp(r->reuse, "reject_duplicate") == 0 ||
				 (strcmp(status, "failed") != 0 && strcmp(status, "canceled") != 0 &&
				  strcmp(status, "terminated") != 0 && strcmp(status, "timed_out") != 0)) &&
				r->quiet_conflict)
			{
				dur_scan_end(&s);
				return NULL;
			}
			if (strcmp(r->reuse, "reject_duplicate") == 0 ||
				(strcmp(status, "failed") != 0 && strcmp(status, "canceled") != 0 &&
				 strcmp(status, "terminated") != 0 && strcmp(status, "timed_out") != 0))
				ereport(ERROR,
						(errcode(ERRCODE_DUR_ALREADY_STARTED),
						 errmsg("workflow id \"%s\" cannot be reused", wid_msg(r->workflow_id)),
						 errdetail("id_reuse_policy is %s and the last run is %s.", r->reuse, status),
						 errhint("Use another workflow id or another id_reuse_policy.")));
		}
		dur_scan_end(&s);
	}

	run_id = dur_new_run_id();
	memset(&p, 0, sizeof(p));
	p.namespace = r->namespace;
	p.workflow_id = r->workflow_id;
	p.workflow_type = r->workflow_type;
	p.task_queue = r->task_queue;
	p.input = r->input;
	p.execution_timeout = r->execution_timeout;
	p.run_timeout = r->run_timeout;
	p.task_timeout = r->task_timeout;
	p.execution_deadline = r->execution_timeout ? dur_time_plus(now, r->execution_timeout) : 0;
	p.first_run_id = NULL;
	p.attempt = 1;
	p.retry_policy = policy;
	p.delay = r->delay;
	p.request_id = r->request_id;
	p.search_attributes = r->search_attributes;
	p.memo = r->memo;
	p.priority = r->priority != 0 ? r->priority : DUR_PRIORITY_DEFAULT;
	p.fairness_key = r->fairness_key;
	p.fairness_weight = r->fairness_weight;
	p.required_capabilities = r->required_capabilities ? JsonbPGetDatum(r->required_capabilities) : 0;
	if (r->build_id != NULL)
		p.build_id = r->build_id;
	else
	{
		DurQueueSettings qs;

		dur_queue_settings(r->namespace, r->task_queue, &qs);
		p.build_id = dur_queue_target_build(&qs, r->workflow_id);
	}
	p.identity = r->identity ? r->identity : dur_session_user();
	p.signal = r->signal;
	p.parent_workflow_id = r->parent_workflow_id;
	p.parent_run_id = r->parent_run_id;
	p.parent_initiated_event_id = r->parent_initiated_event_id;
	run = dur_start_run(call, run_id, &p);
	dur_run_write(call, run);
	return run_id;
}

/*
 * The fairness_key, fairness_weight and required_capabilities arguments of
 * a start function, from argument n on.
 */
static void
dur_start_routing_args(FunctionCallInfo fcinfo, int n, DurStartRequest *r)
{
	if (PG_NARGS() <= n + 2)
		return;
	r->fairness_key = arg_text(fcinfo, n);
	r->fairness_weight = PG_ARGISNULL(n + 1) ? 0 : PG_GETARG_FLOAT4(n + 1);
	if (!PG_ARGISNULL(n + 1))
		dur_check_fairness(NULL, true, r->fairness_weight, "the start");
	r->required_capabilities = PG_ARGISNULL(n + 2) ? NULL : PG_GETARG_JSONB_P(n + 2);
}

/*
 * start_workflow(workflow_type, input, workflow_id, task_queue,
 * execution_timeout, run_timeout, task_timeout, id_reuse_policy,
 * id_conflict_policy, retry_policy, start_delay, request_id,
 * search_attributes, memo, priority) returns uuid: start a workflow run.
 */
Datum
start_workflow(PG_FUNCTION_ARGS)
{
	DurStartRequest r;
	DurCall    *call;
	pg_uuid_t  *run_id;
	bool		existing;

	memset(&r, 0, sizeof(r));
	r.namespace = dur_namespace_arg(fcinfo, 15);
	dur_namespace_require(r.namespace, DUR_CAP_CLIENT);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow_type must not be NULL")));
	r.workflow_type = arg_text(fcinfo, 0);
	r.input = arg_jsonb(fcinfo, 1);
	r.workflow_id = PG_ARGISNULL(2) ? dur_uuid_text(dur_new_uuid()) : arg_text(fcinfo, 2);
	r.task_queue = arg_text(fcinfo, 3);
	r.execution_timeout = arg_interval(fcinfo, 4);
	r.run_timeout = arg_interval(fcinfo, 5);
	r.task_timeout = arg_interval(fcinfo, 6);
	r.reuse = arg_text(fcinfo, 7);
	r.conflict = arg_text(fcinfo, 8);
	r.retry_policy = PG_ARGISNULL(9) ? NULL : PG_GETARG_JSONB_P(9);
	r.delay = arg_interval(fcinfo, 10);
	r.request_id = arg_text(fcinfo, 11);
	r.search_attributes = arg_jsonb(fcinfo, 12);
	r.memo = arg_jsonb(fcinfo, 13);
	r.priority = PG_ARGISNULL(14) ? 0 : PG_GETARG_INT32(14);
	dur_start_routing_args(fcinfo, 16, &r);

	call = dur_call_begin();
	run_id = dur_start(call, &r, &existing);
	dur_call_end(call);
	PG_RETURN_UUID_P(run_id);
}

/* The WorkflowExecutionSignaled event of a signal request, checked. */
static DurEvent *
dur_signal_event(const char *name, Datum payload, const char *request_id)
{
	DurEvent   *ev;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("signal_name must not be NULL")));
	dur_check_id(name, "signal_name");
	dur_check_id(request_id, "request_id");
	if (payload != 0)
		dur_check_payload(payload, "signal payload");
	ev = dur_event("WorkflowExecutionSignaled");
	dj_str(&ev->attrs, "signal_name", name);
	dj_jsonb_datum(&ev->attrs, "input", payload, payload == 0);
	dj_str(&ev->attrs, "identity", dur_session_user());
	dj_str(&ev->attrs, "request_id", request_id);
	return ev;
}

/*
 * Remember a signal's request id for the run; false when it was delivered
 * before (the caller then does nothing).
 */
bool
dur_signal_request_new(DurCall *call, DurRun *run, const char *request_id)
{
	DurScan		s;
	DurRow		row;
	bool		seen;
	Datum		v[SR_NCOLS];
	bool		n[SR_NCOLS] = {false, false, false, false};

	dur_scan_begin(&s, call, DUR_SIGNAL_REQUESTS_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	dur_key_text(&s, 2, request_id);
	seen = dur_scan_next(&s, ForwardScanDirection, &row);
	dur_scan_end(&s);
	if (seen)
		return false;
	v[SR_RUN_ID] = UUIDPGetDatum(&run->run_id);
	v[SR_REQUEST_ID] = CStringGetTextDatum(request_id);
	v[SR_WORKFLOW_ID] = run->row.values[W_WORKFLOW_ID];
	v[SR_NAMESPACE] = run->row.values[W_NAMESPACE];
	dur_insert(call, DUR_SIGNAL_REQUESTS, v, n, NULL);
	return true;
}

/*
 * signal_workflow(workflow_id, signal_name, payload, run_id, request_id):
 * send a signal to a running workflow; a repeated request_id is delivered
 * once.
 */
Datum
signal_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_client_namespace(fcinfo, 5, DUR_CAP_CLIENT);
	char	   *request_id = arg_text(fcinfo, 4);
	DurEvent   *ev = dur_signal_event(arg_text(fcinfo, 1), arg_jsonb(fcinfo, 2), request_id);
	DurCall    *call = dur_call_begin();
	DurRun	   *run = dur_run_find(call, ns, arg_text(fcinfo, 0),
								   PG_ARGISNULL(3) ? NULL : PG_GETARG_UUID_P(3), true, true);

	if (request_id == NULL || dur_signal_request_new(call, run, request_id))
	{
		(void) dur_deliver(call, run, list_make1(ev), NULL);
		dur_run_write(call, run);
	}
	dur_call_end(call);
	PG_RETURN_VOID();
}

/*
 * signal_with_start_workflow(workflow_id, signal_name, signal_payload,
 * workflow_type, input, task_queue, execution_timeout, run_timeout,
 * task_timeout, id_reuse_policy, retry_policy, start_delay, request_id,
 * search_attributes, memo, priority) returns uuid: signal a workflow,
 * starting it first if it is not running; atomic.
 */
Datum
signal_with_start_workflow(PG_FUNCTION_ARGS)
{
	DurStartRequest r;
	DurCall    *call;
	pg_uuid_t  *run_id;
	bool		existing;
	char	   *ns = dur_client_namespace(fcinfo, 16, DUR_CAP_CLIENT);
	char	   *request_id = arg_text(fcinfo, 12);
	DurEvent   *ev;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow_id must not be NULL")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow_type must not be NULL"),
				 errhint("signal_with_start_workflow needs the workflow_type to start the workflow if it is not running.")));
	ev = dur_signal_event(arg_text(fcinfo, 1), arg_jsonb(fcinfo, 2), request_id);
	memset(&r, 0, sizeof(r));
	r.namespace = ns;
	r.workflow_id = arg_text(fcinfo, 0);
	r.workflow_type = arg_text(fcinfo, 3);
	r.input = arg_jsonb(fcinfo, 4);
	r.task_queue = arg_text(fcinfo, 5);
	r.execution_timeout = arg_interval(fcinfo, 6);
	r.run_timeout = arg_interval(fcinfo, 7);
	r.task_timeout = arg_interval(fcinfo, 8);
	r.reuse = arg_text(fcinfo, 9);
	r.conflict = "use_existing";
	r.retry_policy = PG_ARGISNULL(10) ? NULL : PG_GETARG_JSONB_P(10);
	r.delay = arg_interval(fcinfo, 11);
	r.request_id = NULL;
	r.search_attributes = arg_jsonb(fcinfo, 13);
	r.memo = arg_jsonb(fcinfo, 14);
	r.priority = PG_ARGISNULL(15) ? 0 : PG_GETARG_INT32(15);
	dur_start_routing_args(fcinfo, 17, &r);
	r.signal = ev;

	call = dur_call_begin();
	run_id = dur_start(call, &r, &existing);
	if (existing)
	{
		DurRun	   *run = dur_run_lock(call, run_id);
		bool		delayed = run->wft_state == DUR_WFT_DELAYED;

		if (request_id == NULL || dur_signal_request_new(call, run, request_id))
		{
			(void) dur_deliver(call, run, list_make1(ev), NULL);
			if (delayed)
			{
				/* as in Temporal, signal-with-start ends a start delay at once */
				(void) dur_delete_timer(call, run, "workflow_start", "");
				(void) dur_schedule_wft(call, run, 1, true, NIL, NULL);
			}
			dur_run_write(call, run);
		}
	}
	else if (request_id != NULL)
	{
		DurRun	   *run = dur_run_read(call, run_id);

		(void) dur_signal_request_new(call, run, request_id);
	}
	dur_call_end(call);
	PG_RETURN_UUID_P(run_id);
}

/*
 * cancel_workflow(workflow_id, reason, run_id): request cancellation of a
 * running workflow (once); its code decides what to do.
 */
Datum
cancel_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_client_namespace(fcinfo, 3, DUR_CAP_CLIENT);
	DurCall    *call = dur_call_begin();
	DurRun	   *run = dur_run_find(call, ns, arg_text(fcinfo, 0),
								   PG_ARGISNULL(2) ? NULL : PG_GETARG_UUID_P(2), true, true);

	if (!DatumGetBool(run->row.values[W_CANCEL_REQUESTED]))
	{
		DurEvent   *ev = dur_event("WorkflowExecutionCancelRequested");

		dur_run_set(run, W_CANCEL_REQUESTED, BoolGetDatum(true), false);
		dj_str(&ev->attrs, "cause", arg_text(fcinfo, 1));
		dj_str(&ev->attrs, "identity", dur_session_user());
		(void) dur_deliver(call, run, list_make1(ev), NULL);
		dur_run_write(call, run);
	}
	dur_call_end(call);
	PG_RETURN_VOID();
}

/*
 * terminate_workflow(workflow_id, reason, run_id): close a running
 * workflow at once; no workflow code runs.
 */
Datum
terminate_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_client_namespace(fcinfo, 3, DUR_CAP_CLIENT);
	DurCall    *call = dur_call_begin();
	DurRun	   *run = dur_run_find(call, ns, arg_text(fcinfo, 0),
								   PG_ARGISNULL(2) ? NULL : PG_GETARG_UUID_P(2), true, true);

	dur_terminate(call, run, arg_text(fcinfo, 1), NULL);
	dur_run_write(call, run);
	dur_call_end(call);
	PG_RETURN_VOID();
}

/* A JSON object (as jsonb) of a run's pending workflow task. */
static Datum
dur_describe_wft(DurCall *call, DurRun *run)
{
	DurRow		t;
	bool		has = dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &run->run_id, 0, &t);
	bool		started = has && !t.nulls[T_STARTED_TIME];
	DurJsonObj	o;

	dj_init(&o);
	dj_str(&o, "state", started ? "started" : dur_wft_state_name(run->wft_state));
	dj_int(&o, "attempt", run->wft_attempt);
	if (run->wft_scheduled_time != 0)
		dj_time(&o, "scheduled_time", run->wft_scheduled_time, false);
	else
		dj_null(&o, "scheduled_time");
	if (started)
		dj_time(&o, "started_time", DatumGetTimestampTz(t.values[T_STARTED_TIME]), false);
	else
		dj_null(&o, "started_time");
	dj_str(&o, "worker_id", has && !t.nulls[T_WORKER_ID] ? TextDatumGetCString(t.values[T_WORKER_ID]) : NULL);
	return JsonbPGetDatum(dj_to_jsonb(&o));
}

/* A JSON array (as jsonb) of a run's pending activities, by scheduled event id. */
static Datum
dur_describe_activities(DurCall *call, DurRun *run)
{
	DurScan		s;
	DurRow		a;
	StringInfoData out;
	bool		first = true;

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	dur_scan_begin(&s, call, DUR_ACTIVITIES_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &a))
	{
		DurJsonObj	o;
		DurRow		t;
		int64		seid = DatumGetInt64(a.values[A_SCHEDULED_EVENT_ID]);
		bool		has = dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &run->run_id, seid, &t);
		char	   *state = TextDatumGetCString(a.values[A_STATE]);
		char	   *worker = has && !t.nulls[T_WORKER_ID] ? TextDatumGetCString(t.values[T_WORKER_ID]) :
			a.nulls[A_LAST_WORKER_ID] ? NULL : TextDatumGetCString(a.values[A_LAST_WORKER_ID]);

		dj_init(&o);
		dj_str(&o, "activity_id", TextDatumGetCString(a.values[A_ACTIVITY_ID]));
		dj_str(&o, "activity_type", TextDatumGetCString(a.values[A_ACTIVITY_TYPE]));
		dj_str(&o, "state", strcmp(state, "backoff") == 0 ? "backoff" :
			   has && !t.nulls[T_STARTED_TIME] ? "started" : "scheduled");
		dj_int(&o, "attempt", DatumGetInt32(a.values[A_ATTEMPT]));
		dj_int(&o, "scheduled_event_id", seid);
		dj_jsonb_datum(&o, "heartbeat_details", a.values[A_HEARTBEAT_DETAILS], a.nulls[A_HEARTBEAT_DETAILS]);
		dj_jsonb_datum(&o, "last_failure", a.values[A_LAST_FAILURE], a.nulls[A_LAST_FAILURE]);
		dj_str(&o, "last_worker_id", worker);
		dj_bool(&o, "cancel_requested", !a.nulls[A_CANCEL_REQUESTED_EVENT_ID]);
		if (a.nulls[A_EXPIRATION_TIME])
			dj_null(&o, "expiration_time");
		else
			dj_time(&o, "expiration_time", DatumGetTimestampTz(a.values[A_EXPIRATION_TIME]), false);
		if (!first)
			appendStringInfoString(&out, ", ");
		dj_end(&o, &out);
		first = false;
	}
	dur_scan_end(&s);
	appendStringInfoChar(&out, ']');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data));
}

typedef struct DurTimerItem
{
	char	   *timer_id;
	TimestampTz fire_time;
	int64		started_event_id;
} DurTimerItem;

static int
dur_timer_item_cmp(const ListCell *a, const ListCell *b)
{
	TimestampTz x = ((DurTimerItem *) lfirst(a))->fire_time;
	TimestampTz y = ((DurTimerItem *) lfirst(b))->fire_time;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* A JSON array (as jsonb) of a run's pending user timers, by fire time. */
static Datum
dur_describe_timers(DurCall *call, DurRun *run)
{
	DurScan		s;
	DurRow		row;
	List	   *items = NIL;
	ListCell   *lc;
	StringInfoData out;

	dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	dur_key_text(&s, 2, "user");
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		DurTimerItem *t = palloc(sizeof(DurTimerItem));

		t->timer_id = TextDatumGetCString(row.values[TM_TIMER_ID]);
		t->fire_time = DatumGetTimestampTz(row.values[TM_FIRE_TIME]);
		t->started_event_id = row.nulls[TM_STARTED_EVENT_ID] ? 0 : DatumGetInt64(row.values[TM_STARTED_EVENT_ID]);
		items = lappend(items, t);
	}
	dur_scan_end(&s);
	list_sort(items, dur_timer_item_cmp);
	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	foreach(lc, items)
	{
		DurTimerItem *t = lfirst(lc);
		DurJsonObj	o;

		dj_init(&o);
		dj_str(&o, "timer_id", t->timer_id);
		dj_time(&o, "fire_time", t->fire_time, false);
		dj_int_or_null(&o, "started_event_id", t->started_event_id, t->started_event_id == 0);
		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&out, ", ");
		dj_end(&o, &out);
	}
	appendStringInfoChar(&out, ']');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data));
}

/* A JSON array (as jsonb) of a run's children not closed yet, by initiated event id. */
static Datum
dur_describe_children(DurCall *call, DurRun *run)
{
	DurScan		s;
	DurRow		row;
	StringInfoData out;
	bool		first = true;

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	dur_scan_begin(&s, call, DUR_CHILDREN_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		DurJsonObj	o;

		dj_init(&o);
		dj_str(&o, "workflow_id", TextDatumGetCString(row.values[CH_WORKFLOW_ID]));
		dj_uuid(&o, "run_id", DatumGetUUIDP(row.values[CH_RUN_ID]));
		dj_str(&o, "workflow_type", TextDatumGetCString(row.values[CH_WORKFLOW_TYPE]));
		dj_int(&o, "initiated_event_id", DatumGetInt64(row.values[CH_INITIATED_EVENT_ID]));
		dj_int(&o, "started_event_id", DatumGetInt64(row.values[CH_STARTED_EVENT_ID]));
		dj_str(&o, "parent_close_policy", TextDatumGetCString(row.values[CH_PARENT_CLOSE_POLICY]));
		if (!first)
			appendStringInfoString(&out, ", ");
		dj_end(&o, &out);
		first = false;
	}
	dur_scan_end(&s);
	appendStringInfoChar(&out, ']');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data));
}

/*
 * describe_workflow(workflow_id, run_id) returns
 * durable.workflow_description: status, payloads and pending work of a run
 * (the latest run by default).
 */
Datum
describe_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_client_namespace(fcinfo, 2, DUR_CAP_CLIENT | DUR_CAP_WORKER);
	DurCall    *call = dur_call_begin();
	DurRun	   *run = dur_run_find(call, ns, arg_text(fcinfo, 0),
								   PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1), false, false);
	Datum	   *w = run->row.values;
	bool	   *wn = run->row.nulls;
	TupleDesc	desc;
	Datum		v[26];
	bool		n[26];
	static const int cols[] = {
		W_WORKFLOW_ID, W_RUN_ID, W_WORKFLOW_TYPE, W_TASK_QUEUE, W_STATUS, W_START_TIME,
		W_CLOSE_TIME, W_HISTORY_LENGTH, W_INPUT, W_RESULT, W_FAILURE, W_ATTEMPT,
		W_CANCEL_REQUESTED, W_SEARCH_ATTRIBUTES, W_MEMO, W_FIRST_RUN_ID, W_PREVIOUS_RUN_ID,
		W_NEXT_RUN_ID
	};
	int			i;
	HeapTuple	tup;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (i = 0; i < lengthof(cols); i++)
	{
		v[i] = w[cols[i]];
		n[i] = wn[cols[i]];
	}
	n[18] = run->wft_state == DUR_WFT_NONE;
	v[18] = n[18] ? (Datum) 0 : dur_describe_wft(call, run);
	v[19] = dur_describe_activities(call, run);
	n[19] = false;
	v[20] = dur_describe_timers(call, run);
	n[20] = false;
	v[21] = dur_describe_children(call, run);
	n[21] = false;
	v[22] = w[W_BUILD_ID];
	n[22] = wn[W_BUILD_ID];
	v[23] = wn[W_VERSIONING_BEHAVIOR] && !wn[W_BUILD_ID] ? CStringGetTextDatum("pinned") :
		w[W_VERSIONING_BEHAVIOR];
	n[23] = wn[W_VERSIONING_BEHAVIOR] && wn[W_BUILD_ID];
	v[24] = w[W_PRIORITY];
	n[24] = false;
	v[25] = w[W_FAIRNESS_KEY];
	n[25] = wn[W_FAIRNESS_KEY];
	tup = heap_form_tuple(BlessTupleDesc(desc), v, n);
	dur_call_end(call);
	PG_RETURN_DATUM(HeapTupleGetDatum(tup));
}

/*
 * get_history(workflow_id, run_id) returns SETOF durable.history: the
 * event history of a run (the latest by default), in order.
 */
Datum
get_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ns = dur_client_namespace(fcinfo, 2, DUR_CAP_CLIENT | DUR_CAP_WORKER);
	DurCall    *call = dur_call_begin();
	DurRun	   *run = dur_run_find(call, ns, arg_text(fcinfo, 0),
								   PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1), false, false);

	InitMaterializedSRF(fcinfo, 0);
	dur_history_rows(call, run, rsinfo->setResult, rsinfo->setDesc);
	dur_call_end(call);
	return (Datum) 0;
}

/*
 * workflow_result(workflow_id, run_id, wait) returns jsonb: the result of a
 * workflow, following continue-as-new and retries to the last run of the
 * chain, raising its failure; waits up to "wait" for it to close.
 */
Datum
workflow_result(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_client_namespace(fcinfo, 3, DUR_CAP_CLIENT);
	char	   *wid = arg_text(fcinfo, 0);
	pg_uuid_t  *run_id = PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1);
	Interval   *wait = arg_interval(fcinfo, 2);
	TimestampTz deadline;
	DurCall    *call;
	DurRun	   *run;
	bool		registered = false;
	Jsonb	   *failure;
	const char *code_name;
	int			code;

	dur_check_interval(wait, "wait", false);
	deadline = wait ? dur_time_plus(GetCurrentTimestamp(), wait) : GetCurrentTimestamp();
	call = dur_call_begin();
	run = dur_run_find(call, ns, wid, run_id, false, false);
	for (;;)
	{
		pg_uuid_t	id;

		/* follow the chain: continue-as-new and retries hand over to the next run */
		while ((strcmp(run->status, "continued_as_new") == 0 || strcmp(run->status, "failed") == 0 ||
				strcmp(run->status, "timed_out") == 0) && !run->row.nulls[W_NEXT_RUN_ID])
		{
			DurRun	   *next;

			memcpy(&id, DatumGetUUIDP(run->row.values[W_NEXT_RUN_ID]), sizeof(pg_uuid_t));
			next = dur_run_read(call, &id);
			if (next == NULL)
				break;			/* purged: the chain ends here */
			run = next;
		}
		if (!dur_run_running(run) || GetCurrentTimestamp() >= deadline)
			break;
		if (XactIsoLevel != XACT_READ_COMMITTED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("workflow_result can wait only in READ COMMITTED transactions"),
					 errhint("Call it with wait => '0' or outside a REPEATABLE READ or SERIALIZABLE transaction.")));
		dur_wait_register(DUR_WAIT_CLOSE, run->workflow_id, 0, NULL);
		registered = true;
		id = run->run_id;
		dur_call_end(call);
		call = dur_call_begin();
		dur_call_snapshot(call);
		run = dur_run_read(call, &id);
		if (run != NULL && dur_run_running(run))
		{
			dur_call_end(call);
			(void) dur_wait_until(deadline);
			call = dur_call_begin();
			dur_call_snapshot(call);
			run = dur_run_read(call, &id);
		}
		if (run == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_NOT_FOUND),
					 errmsg("workflow \"%s\" not found", wid_msg(wid)),
					 errdetail("Run %s was purged while waiting.", dur_uuid_text(&id)),
					 errhint("Check the workflow id; durable.workflows lists every run.")));
	}
	if (registered)
		dur_wait_unregister();
	dur_call_end(call);
	if (strcmp(run->status, "completed") == 0)
	{
		if (run->row.nulls[W_RESULT])
			PG_RETURN_NULL();
		PG_RETURN_DATUM(run->row.values[W_RESULT]);
	}
	if (dur_run_running(run))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_STILL_RUNNING),
				 errmsg("workflow \"%s\" is still running", wid_msg(run->workflow_id)),
				 errdetail("Run %s has not closed.", dur_uuid_text(&run->run_id)),
				 errhint("Pass a longer wait, or call again later.")));
	if (strcmp(run->status, "failed") == 0)
		code = ERRCODE_DUR_FAILED;
	else if (strcmp(run->status, "canceled") == 0)
		code = ERRCODE_DUR_CANCELED;
	else if (strcmp(run->status, "terminated") == 0)
		code = ERRCODE_DUR_TERMINATED;
	else
		code = ERRCODE_DUR_TIMED_OUT;
	code_name = strcmp(run->status, "timed_out") == 0 ? "timed out" : run->status;
	failure = run->row.nulls[W_FAILURE] ? NULL : DatumGetJsonbP(run->row.values[W_FAILURE]);
	{
		char	   *message = failure ? dur_jsonb_get_text(failure, "message") : NULL;
		char	   *continued = strcmp(run->status, "continued_as_new") == 0 ? "continued as new" : NULL;

		/* the failure's message, when it has one ("failed: boom", else "terminated") */
		ereport(ERROR,
				(errcode(code),
				 errmsg("workflow \"%s\" %s%s%s", wid_msg(run->workflow_id),
						continued ? continued : code_name,
						message && message[0] ? ": " : "", message && message[0] ? message : ""),
				 failure ? errdetail("%s", JsonbToCString(NULL, &failure->root, VARSIZE(failure))) : 0,
				 errhint("Run %s; durable.get_history shows why.", dur_uuid_text(&run->run_id))));
	}
	PG_RETURN_NULL();
}

/*
 * query_workflow(workflow_id, query_name, args, timeout, run_id) returns
 * jsonb: ask a live worker to answer a query from the workflow's state;
 * writes no history, works on closed workflows.
 */
Datum
query_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_client_namespace(fcinfo, 5, DUR_CAP_CLIENT);
	char	   *name = arg_text(fcinfo, 1);
	Interval   *timeout = arg_interval(fcinfo, 3);
	DurCall    *call;
	DurRun	   *run;
	double		ms;
	char	   *answer;
	int			len;
	bool		failed;
	Datum		result;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query_name must not be NULL")));
	dur_check_id(name, "query_name");
	dur_check_interval(timeout, "timeout", true);
	call = dur_call_begin();
	run = dur_run_find(call, ns, arg_text(fcinfo, 0), PG_ARGISNULL(4) ? NULL : PG_GETARG_UUID_P(4),
					   false, false);
	dur_call_end(call);
	if (timeout != NULL)
		ms = DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
												IntervalPGetDatum(timeout))) * 1000;
	else
		ms = 10000;
	if (ms > PG_INT32_MAX)
		ms = PG_INT32_MAX;
	if (!dur_ask_query(&run->run_id, dur_queue_key(ns, run->task_queue), name,
					   PG_ARGISNULL(2) ? NULL : JsonbToCString(NULL, &PG_GETARG_JSONB_P(2)->root,
															  VARSIZE(PG_GETARG_JSONB_P(2))),
					   (int) rint(ms), &answer, &len, &failed))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_QUERY_TIMEOUT),
				 errmsg("query \"%s\" of workflow \"%s\" timed out", name, wid_msg(run->workflow_id)),
				 errdetail("No worker of task queue \"%s\" answered within %s.", run->task_queue,
						   timeout ? DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(timeout))) :
						   "10 seconds"),
				 errhint("Make sure a worker polls the workflow's task queue.")));
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(answer));
	if (failed)
	{
		char	   *message = dur_jsonb_get_text(DatumGetJsonbP(result), "message");

		ereport(ERROR,
				(errcode(ERRCODE_DUR_QUERY_FAILED),
				 errmsg("query \"%s\" failed%s%s", name, message && message[0] ? ": " : "",
						message && message[0] ? message : ""),
				 errdetail("%s", answer),
				 errhint("The workflow's query handler raised an error.")));
	}
	PG_RETURN_DATUM(result);
}

/*
 * answer_query(task_token, result, failure): answer a query task with a
 * result or a failure.
 */
Datum
answer_query(PG_FUNCTION_ARGS)
{
	char	   *token = arg_text(fcinfo, 0);
	DurToken	tok;
	char	   *answer;

	dur_parse_token(token, 'q', &tok);
	{
		char	   *ns = dur_claimed_query_namespace((uint64) tok.n1, &tok.run_id);

		if (ns == NULL)
			dur_stale(token, "The query timed out or its caller left.");
		dur_namespace_require(ns, DUR_CAP_WORKER);
	}
	if (!PG_ARGISNULL(2))
	{
		DurFailure	f;
		DurJsonObj	o;
		StringInfoData s;

		dur_failure(PG_GETARG_JSONB_P(2), "failure", &f);
		dj_init(&o);
		dur_failure_fields(&f, &o);
		initStringInfo(&s);
		dj_end(&o, &s);
		if (!dur_answer_query((uint64) tok.n1, &tok.run_id, s.data, s.len, true))
			dur_stale(token, "The query timed out or its caller left.");
		PG_RETURN_VOID();
	}
	if (!PG_ARGISNULL(1))
		dur_check_payload(PG_GETARG_DATUM(1), "result");
	answer = PG_ARGISNULL(1) ? "null" :
		JsonbToCString(NULL, &PG_GETARG_JSONB_P(1)->root, VARSIZE(PG_GETARG_JSONB_P(1)));
	if (!dur_answer_query((uint64) tok.n1, &tok.run_id, answer, strlen(answer), false))
		dur_stale(token, "The query timed out or its caller left.");
	PG_RETURN_VOID();
}

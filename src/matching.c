/*-------------------------------------------------------------------------
 *
 * matching.c
 *	  The matching service: task rows, claims, leases, sticky workers and
 *	  what a worker receives for a task.
 *
 * A row of the unlogged table durable.tasks exists for every workflow task
 * and activity attempt that is ready or started.  A ready row has no
 * started_time; a started row holds the lease (worker_id, started_time,
 * lease_deadline).  Claims write only this table, so a claim's commit
 * needs no WAL flush; after a crash the engine rebuilds the table from the
 * logged state (timers.c).
 *
 * A task reaches a worker in one of two ways, which share the code that
 * builds what the worker receives (dur_wft_task, dur_activity_task):
 *
 *	- Claim.  poll_task looks for a ready row of its queue in a few index
 *	  ranges: the tasks sticky to or pinned on this worker (tasks_sticky),
 *	  and the ready tasks of each kind it asked for (tasks_ready, keyed by
 *	  queue, kind, build and requirement, so a backlog of other kinds,
 *	  queues, builds or requirements costs nothing): those for any build,
 *	  those for the worker's build if it declared one, and, for a worker
 *	  that declared capabilities, those of every requirement it meets (the
 *	  requirements are found by skipping through the index).  A sticky
 *	  workflow task goes before any other workflow task; it and the first
 *	  activity go by priority, then pass (queues.c: FIFO for one fairness
 *	  key, shared by weight between keys).  For a candidate it takes the
 *	  run's lock without waiting, reads the row again with a new snapshot,
 *	  and starts it; a run whose lock is busy is passed over, like a row
 *	  locked FOR UPDATE SKIP LOCKED.  An activity needs a token of the
 *	  queue's rate limits first (queues.c); a poller without one sleeps
 *	  until the next.
 *	- Eager dispatch.  A completion that makes a task ready for a worker
 *	  that asked for it inserts the row already started for that worker and
 *	  returns the task; nobody is woken and no poller can see it.
 *
 * Sticky workers.  A worker whose session sets durable.sticky_execution
 * keeps the runs whose workflow tasks it completes in its cache.  The run
 * remembers it (workflows.sticky_worker, sticky_event_id), its next
 * workflow task is routed to it first (tasks.sticky_worker), and when that
 * worker starts the task it receives only the events after the last task
 * it completed.  Any worker may still take a sticky task when it reaches
 * the head of the queue; it receives the whole history.  So a burst of new
 * workflows never starves the workflows a worker already runs, and a
 * workflow task costs the same however long the history is.
 *
 * Invariants:
 *	- at most one task row per (run, scheduled event id); 0 is the
 *	  workflow task;
 *	- every transaction that makes a row ready wakes pollers of its queue
 *	  at commit (wakeup.c); every transaction that starts a ready row, or
 *	  passes over a busy run, makes sure a poller looks again: at abort for
 *	  the first, before sleeping for the second;
 *	- a task row is written only under its run's lock;
 *	- a ready row's build_id and affinity say who may take it: a poller
 *	  of that build (empty: any), with capabilities containing the
 *	  requirement (empty: none), or, for @pinned, sticky_worker only;
 *	  a ready row that only some pollers can take wakes every poller of
 *	  its queue at commit.
 *
 * Lock order: pollers take no lock but runs' locks, conditionally, so
 * they never wait and never deadlock (and, briefly, the LWLock of the
 * queues' shared state, never while waiting for anything); see tables.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "updates.h"
#include "events.h"
#include "history.h"
#include "matching.h"
#include "metrics.h"
#include "queues.h"
#include "util.h"

PG_FUNCTION_INFO_V1(poll_task);
PG_FUNCTION_INFO_V1(workflow_task_history);

/* How long a poller that passed over busy runs sleeps before it looks again. */
#define DUR_BUSY_RETRY_MS 20

/* A float4 column as a weight (NULL: 1). */
static double
dur_weight(DurRow *row, int col)
{
	return row->nulls[col] ? 1.0 : DatumGetFloat4(row->values[col]);
}

/* The affinity of a jsonb column of required capabilities ("" for none). */
static const char *
dur_affinity_col(DurRow *row, int col)
{
	char	   *a;

	if (row->nulls[col])
		return "";
	a = dur_affinity_of(DatumGetJsonbP(row->values[col]), "required_capabilities");
	return a ? a : "";
}

/*
 * Where the run's workflow tasks go: its priority, fairness key and
 * required capabilities, and its build: the one it is pinned to, or for an
 * auto-upgrade run the one its queue chooses now.
 */
void
dur_run_routing(DurRun *run, DurRouting *r)
{
	DurRow	   *row = &run->row;

	memset(r, 0, sizeof(*r));
	r->priority = run->priority;
	r->fairness_key = dur_text(row, W_FAIRNESS_KEY);
	r->fairness_weight = dur_weight(row, W_FAIRNESS_WEIGHT);
	r->affinity = dur_affinity_col(row, W_REQUIRED_CAPABILITIES);
	r->build_id = row->nulls[W_BUILD_ID] ? "" : TextDatumGetCString(row->values[W_BUILD_ID]);
	if (dur_run_auto_upgrade(run))
	{
		DurQueueSettings qs;
		const char *target;

		dur_queue_settings(run->namespace, run->task_queue, &qs);
		target = dur_queue_target_build(&qs, run->workflow_id);
		if (target != NULL)
			r->build_id = target;
	}
}

/*
 * Where an activity's tasks go: its own priority and fairness key, its
 * required capabilities or pinned worker, and the run's build when it runs
 * on the run's queue (a pinned workflow's activities run on its build).
 */
static void
dur_activity_routing(DurRun *run, DurRow *a, const char *queue, DurRouting *r)
{
	memset(r, 0, sizeof(*r));
	r->priority = DatumGetInt32(a->values[A_PRIORITY]);
	r->fairness_key = dur_text(a, A_FAIRNESS_KEY);
	r->fairness_weight = dur_weight(a, A_FAIRNESS_WEIGHT);
	r->pinned_worker = dur_text(a, A_PINNED_WORKER);
	r->affinity = r->pinned_worker ? DUR_AFFINITY_PINNED : dur_affinity_col(a, A_REQUIRED_CAPABILITIES);
	r->build_id = "";
	if (!run->row.nulls[W_BUILD_ID] && strcmp(queue, run->task_queue) == 0)
		r->build_id = TextDatumGetCString(run->row.values[W_BUILD_ID]);
}

/*
 * Wake pollers at commit for a task made ready with routing r: one (a
 * poller of the sticky worker first), or, when only some pollers can take
 * it (a build or a requirement), every poller of its queue and kind.
 */
static void
dur_announce_ready(const char *key, int mask, const DurRouting *r, const char *sticky)
{
	if (r->build_id[0] != '\0' || r->affinity[0] != '\0')
		dur_notify_task_all(key, mask);
	else
		dur_notify_task(key, mask, sticky);
}

/*
 * Write the task row of (run, seid): ready (worker NULL) or started for
 * worker until lease.  An existing row (existing) is replaced; a ready one
 * keeps its place in the queue (its pass), a new one gets the next pass of
 * its fairness key and is ready from "ready" (0: now).  Wakes pollers at
 * commit for a ready row (all of the queue's when only some can take it),
 * and the engine for a lease or schedule-to-start deadline.
 */
static void
dur_task_put(DurCall *call, DurRun *run, int64 seid, const char *kind, const char *queue,
			 const DurRouting *r, TimestampTz expire, const char *worker, TimestampTz started,
			 TimestampTz lease, const char *sticky, DurRow *existing, TimestampTz ready)
{
	Datum		v[T_NCOLS];
	bool		n[T_NCOLS];
	TimestampTz now = GetCurrentTimestamp();
	int			mask = strcmp(kind, "workflow") == 0 ? DUR_KIND_WORKFLOW : DUR_KIND_ACTIVITY;
	char	   *key = dur_queue_key(run->namespace, queue);
	bool		keep_place = existing != NULL && existing->nulls[T_STARTED_TIME];
	int			i;

	if (r->pinned_worker != NULL)
		sticky = r->pinned_worker;
	for (i = 0; i < T_NCOLS; i++)
		n[i] = true;
	v[T_RUN_ID] = UUIDPGetDatum(&run->run_id);
	n[T_RUN_ID] = false;
	v[T_SCHEDULED_EVENT_ID] = Int64GetDatum(seid);
	n[T_SCHEDULED_EVENT_ID] = false;
	v[T_KIND] = CStringGetTextDatum(kind);
	n[T_KIND] = false;
	v[T_TASK_QUEUE] = CStringGetTextDatum(queue);
	n[T_TASK_QUEUE] = false;
	v[T_PRIORITY] = Int32GetDatum(r->priority);
	n[T_PRIORITY] = false;
	if (keep_place)
		v[T_READY_TIME] = existing->values[T_READY_TIME];
	else
		v[T_READY_TIME] = TimestampTzGetDatum(ready != 0 ? ready : now);
	n[T_READY_TIME] = false;
	if (worker == NULL && expire != 0)
	{
		v[T_EXPIRE_TIME] = TimestampTzGetDatum(expire);
		n[T_EXPIRE_TIME] = false;
	}
	if (worker != NULL)
	{
		v[T_WORKER_ID] = CStringGetTextDatum(worker);
		v[T_STARTED_TIME] = TimestampTzGetDatum(started);
		v[T_LEASE_DEADLINE] = TimestampTzGetDatum(lease);
		v[T_OWNER] = Int64GetDatum(dur_claim_owner(worker));
		n[T_WORKER_ID] = n[T_STARTED_TIME] = n[T_LEASE_DEADLINE] = false;
		n[T_OWNER] = DatumGetInt64(v[T_OWNER]) == 0;
		v[T_PASS] = Int64GetDatum(0);
	}
	else
	{
		if (sticky != NULL)
		{
			v[T_STICKY_WORKER] = CStringGetTextDatum(sticky);
			n[T_STICKY_WORKER] = false;
		}
		v[T_PASS] = keep_place ? existing->values[T_PASS] :
			Int64GetDatum(dur_queue_pass(call, run->namespace, queue, r));
	}
	n[T_PASS] = false;
	v[T_WORKFLOW_ID] = run->row.values[W_WORKFLOW_ID];
	n[T_WORKFLOW_ID] = false;
	v[T_NAMESPACE] = run->row.values[W_NAMESPACE];
	n[T_NAMESPACE] = false;
	if (r->fairness_key != NULL)
	{
		v[T_FAIRNESS_KEY] = CStringGetTextDatum(r->fairness_key);
		n[T_FAIRNESS_KEY] = false;
	}
	v[T_BUILD_ID] = CStringGetTextDatum(r->build_id);
	v[T_AFFINITY] = CStringGetTextDatum(r->affinity);
	n[T_BUILD_ID] = n[T_AFFINITY] = false;

	if (existing == NULL)
		dur_insert(call, DUR_TASKS, v, n, NULL);
	else
		dur_update(call, DUR_TASKS, &existing->tid, v, n, NULL);

	if (worker == NULL)
	{
		dur_announce_ready(key, mask, r, sticky);
		if (expire != 0)
			dur_notify_timer(expire);
	}
	else
	{
		dur_queue_dispatched(run->namespace, queue, mask == DUR_KIND_ACTIVITY, r->priority, 0);
		dur_metrics_dispatched(run->namespace, queue, mask == DUR_KIND_ACTIVITY, true,
							   DatumGetTimestampTz(v[T_READY_TIME]), started);
		dur_notify_timer(lease);
		dur_notify_task_on_abort(key, mask);
	}
}

/*
 * Make the run's workflow task row (the run has a task scheduled): ready,
 * or started for worker and returned.  maybe_exists: the row may be there
 * already (a ready task gets new events).
 *
 * A workflow task goes to worker only while no activity of the run is
 * outstanding.  Results still to come are better gathered into one task:
 * queued, it is claimed after the activities already ready (the queue
 * serves the oldest first), by when their results wait in the buffer.
 * Handed out at once, a fan-in of N activities would take a workflow task,
 * and a read of the history, for nearly every result.  Nor does it go to
 * worker when the run moves to another build (auto-upgrade).
 */
DurTask *
dur_enqueue_wft(DurCall *call, DurRun *run, const char *worker, bool maybe_exists)
{
	DurRow		existing;
	bool		exists = false;
	TimestampTz now;
	TimestampTz lease;
	DurRouting	r;

	dur_run_routing(run, &r);
	if (worker != NULL && r.build_id[0] != '\0' &&
		(run->row.nulls[W_BUILD_ID] ||
		 strcmp(TextDatumGetCString(run->row.values[W_BUILD_ID]), r.build_id) != 0))
		worker = NULL;
	/* a completing activity worker may lack what the workflow requires */
	if (worker != NULL && !dur_queue_worker_capable(run->namespace, run->task_queue, worker,
													r.affinity))
		worker = NULL;
	if (maybe_exists)
		exists = dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &run->run_id, 0, &existing);
	if (worker == NULL || (!run->hand_back && dur_run_has_rows(call, DUR_ACTIVITIES_PKEY, &run->run_id)))
	{
		if (exists && existing.nulls[T_STARTED_TIME] &&
			(existing.nulls[T_STICKY_WORKER] == (run->sticky_worker == NULL)) &&
			strcmp(TextDatumGetCString(existing.values[T_BUILD_ID]), r.build_id) == 0)
		{
			/* ready already, routed as it should be: announce it again */
			dur_announce_ready(dur_queue_key(run->namespace, run->task_queue), DUR_KIND_WORKFLOW,
							   &r, run->sticky_worker);
			return NULL;
		}
		dur_task_put(call, run, 0, "workflow", run->task_queue, &r, 0, NULL, 0, 0,
					 run->sticky_worker, exists ? &existing : NULL, 0);
		return NULL;
	}
	now = GetCurrentTimestamp();
	lease = dur_time_plus(now, run->task_timeout);
	dur_task_put(call, run, 0, "workflow", run->task_queue, &r, 0, worker, now,
				 lease, NULL, exists ? &existing : NULL, 0);
	return dur_wft_task(call, run, worker, now, lease);
}

/*
 * After a crash: the ready row of a run's scheduled workflow task, in its
 * old place in the queue.
 */
void
dur_requeue_wft(DurCall *call, DurRun *run)
{
	DurRouting	r;

	dur_run_routing(run, &r);
	dur_task_put(call, run, 0, "workflow", run->task_queue, &r, 0, NULL, 0, 0,
				 run->sticky_worker, NULL, run->wft_scheduled_time);
}

/* After a crash: the ready row of a scheduled activity attempt. */
void
dur_requeue_activity(DurCall *call, DurRun *run, DurRow *a)
{
	TimestampTz ready = DatumGetTimestampTz(a->values[A_READY_TIME]);
	TimestampTz expire = a->nulls[A_SCHEDULE_TO_START_TIMEOUT] ? 0 :
		dur_time_plus(ready, DatumGetIntervalP(a->values[A_SCHEDULE_TO_START_TIMEOUT]));
	char	   *queue = TextDatumGetCString(a->values[A_TASK_QUEUE]);
	DurRouting	r;

	dur_activity_routing(run, a, queue, &r);
	dur_task_put(call, run, DatumGetInt64(a->values[A_SCHEDULED_EVENT_ID]), "activity",
				 queue, &r, expire, NULL, 0, 0, NULL, NULL, ready);
}

/* The lease of an activity attempt started at "started". */
TimestampTz
dur_activity_lease(DurRow *a, TimestampTz started)
{
	TimestampTz lease = dur_time_plus(started, DatumGetIntervalP(a->values[A_START_TO_CLOSE_TIMEOUT]));

	if (!a->nulls[A_HEARTBEAT_TIMEOUT])
	{
		TimestampTz hb = dur_time_plus(started, DatumGetIntervalP(a->values[A_HEARTBEAT_TIMEOUT]));

		if (hb < lease)
			lease = hb;
	}
	return lease;
}

/*
 * Make an activity's task row: ready (with its schedule-to-start deadline),
 * or with worker started for it and returned (eager dispatch).
 */
DurTask *
dur_enqueue_activity(DurCall *call, DurRun *run, DurRow *a, const char *worker, DurRow *existing)
{
	char	   *queue = TextDatumGetCString(a->values[A_TASK_QUEUE]);
	int64		seid = DatumGetInt64(a->values[A_SCHEDULED_EVENT_ID]);
	TimestampTz now = GetCurrentTimestamp();
	DurRouting	r;

	dur_activity_routing(run, a, queue, &r);

	/*
	 * Eager dispatch only to a worker that may take it: not past a rate
	 * limit, nor to a worker that may lack the capabilities it needs.
	 */
	if (worker != NULL)
	{
		if (r.pinned_worker != NULL ? strcmp(r.pinned_worker, worker) != 0 :
			!dur_queue_worker_capable(run->namespace, queue, worker, r.affinity))
			worker = NULL;
		else
		{
			DurQueueSettings qs;

			dur_queue_settings(run->namespace, queue, &qs);
			if (qs.tasks_per_second > 0 || qs.worker_tasks_per_second > 0)
				worker = NULL;
		}
	}
	if (worker == NULL)
	{
		TimestampTz expire = a->nulls[A_SCHEDULE_TO_START_TIMEOUT] ? 0 :
			dur_time_plus(now, DatumGetIntervalP(a->values[A_SCHEDULE_TO_START_TIMEOUT]));

		dur_task_put(call, run, seid, "activity", queue, &r, expire, NULL, 0, 0, NULL,
					 existing, 0);
		return NULL;
	}
	else
	{
		TimestampTz lease = dur_activity_lease(a, now);

		dur_task_put(call, run, seid, "activity", queue, &r, 0, worker, now, lease, NULL,
					 existing, 0);
		return dur_activity_task(run, a, now, lease);
	}
}

/*
 * What a worker receives for the run's workflow task started at "started":
 * the history with the task's own WorkflowTaskScheduled (when transient)
 * and WorkflowTaskStarted, and a token that records both.  A worker the
 * run is sticky to receives only the events after the last task it
 * completed.
 */
DurTask *
dur_wft_task(DurCall *call, DurRun *run, const char *worker, TimestampTz started,
			 TimestampTz lease)
{
	DurTask    *t = palloc0(sizeof(DurTask));
	StringInfo	h = makeStringInfo();
	int64		last_id = dur_next_event_id(run) - 1;
	int64		scheduled_id = run->wft_scheduled_event_id;
	int64		after = 0;
	DurEvent   *ev;

	if (run->sticky_worker != NULL && worker != NULL && strcmp(run->sticky_worker, worker) == 0)
		after = run->sticky_event_id;
	appendStringInfoChar(h, '[');
	dur_history_text(call, run, after, h);

	/* the synthesised events: the transient WorkflowTaskScheduled, WorkflowTaskStarted */
	if (scheduled_id == 0)
	{
		ev = dur_event("WorkflowTaskScheduled");
		dj_str(&ev->attrs, "task_queue", run->task_queue);
		dj_duration(&ev->attrs, "start_to_close_timeout", run->task_timeout);
		dj_int(&ev->attrs, "attempt", run->wft_attempt);
		scheduled_id = ++last_id;
		if (h->len > 1)
			appendStringInfoString(h, ", ");
		dur_event_render(h, scheduled_id, ev->type, run->wft_scheduled_time, &ev->attrs);
	}
	ev = dur_event("WorkflowTaskStarted");
	dj_int(&ev->attrs, "scheduled_event_id", scheduled_id);
	dj_str(&ev->attrs, "identity", worker);
	if (h->len > 1)
		appendStringInfoString(h, ", ");
	dur_event_render(h, ++last_id, ev->type, started, &ev->attrs);
	appendStringInfoChar(h, ']');

	t->token = dur_token('w', &run->run_id, run->wft_seq, last_id,
						 started + DUR_UNIX_EPOCH_USECS);
	t->kind = "workflow";
	t->workflow_id = run->workflow_id;
	t->run_id = run->run_id;
	t->workflow_type = run->workflow_type;
	t->task_queue = run->task_queue;
	t->input = run->row.nulls[W_INPUT] ? 0 : run->row.values[W_INPUT];
	t->attempt = run->wft_attempt;
	t->history = h;
	t->scheduled_time = run->wft_scheduled_time;
	t->started_time = started;
	t->deadline = lease;
	t->priority = run->priority;
	t->messages = dur_update_messages(&run->run_id, run->wft_seq);
	return t;
}

/* What a worker receives for activity a of the run, started at "started". */
DurTask *
dur_activity_task(DurRun *run, DurRow *a, TimestampTz started, TimestampTz lease)
{
	DurTask    *t = palloc0(sizeof(DurTask));

	t->token = dur_activity_token(&run->run_id, DatumGetInt64(a->values[A_SCHEDULED_EVENT_ID]),
								  DatumGetInt32(a->values[A_ATTEMPT]), started);
	t->kind = "activity";
	t->workflow_id = run->workflow_id;
	t->run_id = run->run_id;
	t->workflow_type = run->workflow_type;
	t->task_queue = TextDatumGetCString(a->values[A_TASK_QUEUE]);
	t->activity_id = TextDatumGetCString(a->values[A_ACTIVITY_ID]);
	t->activity_type = TextDatumGetCString(a->values[A_ACTIVITY_TYPE]);
	t->input = a->nulls[A_INPUT] ? 0 : a->values[A_INPUT];
	t->attempt = DatumGetInt32(a->values[A_ATTEMPT]);
	t->heartbeat_details = a->nulls[A_HEARTBEAT_DETAILS] ? 0 : a->values[A_HEARTBEAT_DETAILS];
	t->scheduled_time = DatumGetTimestampTz(a->values[A_SCHEDULED_TIME]);
	t->started_time = started;
	t->deadline = lease;
	t->heartbeat_timeout = a->nulls[A_HEARTBEAT_TIMEOUT] ? NULL :
		DatumGetIntervalP(a->values[A_HEARTBEAT_TIMEOUT]);
	t->priority = DatumGetInt32(a->values[A_PRIORITY]);
	return t;
}

/* Append a text value as to_json prints it ("null" for NULL). */
static void
dur_json_text(StringInfo out, const char *s)
{
	if (s == NULL)
		appendStringInfoString(out, "null");
	else
		escape_json(out, s);
}

/* Append a timestamp as to_json prints it (0: null). */
static void
dur_json_time(StringInfo out, TimestampTz t)
{
	if (t == 0)
		appendStringInfoString(out, "null");
	else
		dj_append_time(out, t, false);
}

/*
 * The task as to_json(durable.task) prints it, which is how 0.2 returned
 * the tasks of a completion.
 */
void
dur_task_json(DurTask *t, StringInfo out)
{
	appendStringInfoString(out, "{\"task_token\":");
	dur_json_text(out, t->token);
	appendStringInfoString(out, ",\"kind\":");
	dur_json_text(out, t->kind);
	appendStringInfoString(out, ",\"workflow_id\":");
	dur_json_text(out, t->workflow_id);
	appendStringInfoString(out, ",\"run_id\":");
	dur_json_text(out, dur_uuid_text(&t->run_id));
	appendStringInfoString(out, ",\"workflow_type\":");
	dur_json_text(out, t->workflow_type);
	appendStringInfoString(out, ",\"task_queue\":");
	dur_json_text(out, t->task_queue);
	appendStringInfoString(out, ",\"activity_id\":");
	dur_json_text(out, t->activity_id);
	appendStringInfoString(out, ",\"activity_type\":");
	dur_json_text(out, t->activity_type);
	appendStringInfoString(out, ",\"input\":");
	if (t->input == 0)
		appendStringInfoString(out, "null");
	else
		dj_append_jsonb(out, DatumGetJsonbP(t->input));
	appendStringInfoString(out, ",\"attempt\":");
	if (t->attempt == 0)
		appendStringInfoString(out, "null");
	else
		appendStringInfo(out, "%d", t->attempt);
	appendStringInfoString(out, ",\"history\":");
	if (t->history == NULL)
		appendStringInfoString(out, "null");
	else
		appendBinaryStringInfo(out, t->history->data, t->history->len);
	appendStringInfoString(out, ",\"heartbeat_details\":");
	if (t->heartbeat_details == 0)
		appendStringInfoString(out, "null");
	else
		dj_append_jsonb(out, DatumGetJsonbP(t->heartbeat_details));
	appendStringInfoString(out, ",\"scheduled_time\":");
	dur_json_time(out, t->scheduled_time);
	appendStringInfoString(out, ",\"started_time\":");
	dur_json_time(out, t->started_time);
	appendStringInfoString(out, ",\"deadline\":");
	dur_json_time(out, t->deadline);
	appendStringInfoString(out, ",\"heartbeat_timeout\":");
	dur_json_text(out, t->heartbeat_timeout == NULL ? NULL :
				  DatumGetCString(DirectFunctionCall1(interval_out,
													  IntervalPGetDatum(t->heartbeat_timeout))));
	appendStringInfo(out, ",\"priority\":%d", t->priority);
	appendStringInfoString(out, ",\"query_name\":");
	dur_json_text(out, t->query_name);
	if (t->messages != NULL)
	{
		appendStringInfoString(out, ",\"messages\":");
		appendBinaryStringInfo(out, t->messages->data, t->messages->len);
	}
	appendStringInfoChar(out, '}');
}

/*
 * The json result of a completion, as 0.2 built it: with an outcome,
 * {"outcome": "..."} or {"outcome" : "...", "tasks" : [...]}; without one
 * (activity completions), {"tasks" : [...]} or {"tasks": []}.
 */
void
dur_tasks_result(List *tasks, const char *outcome, bool asked, StringInfo out)
{
	ListCell   *lc;
	bool		first = true;

	if (tasks == NIL)
	{
		if (outcome != NULL)
			appendStringInfo(out, "{\"outcome\": \"%s\"}", outcome);
		else
			appendStringInfoString(out, "{\"tasks\": []}");
		return;
	}
	if (outcome != NULL)
		appendStringInfo(out, "{\"outcome\" : \"%s\", \"tasks\" : [", outcome);
	else
		appendStringInfoString(out, "{\"tasks\" : [");
	foreach(lc, tasks)
	{
		if (!first)
			appendStringInfoString(out, outcome != NULL ? "," : ", ");
		dur_task_json((DurTask *) lfirst(lc), out);
		first = false;
	}
	appendStringInfoString(out, "]}");
}

/* The task as a row of durable.task. */
static HeapTuple
dur_task_tuple(DurTask *t, TupleDesc desc)
{
	Datum		v[19];
	bool		n[19];
	int			i;

	for (i = 0; i < 19; i++)
		n[i] = true;
#define SETV(i, d) (v[i] = (d), n[i] = false)
	SETV(0, CStringGetTextDatum(t->token));
	SETV(1, CStringGetTextDatum(t->kind));
	SETV(2, CStringGetTextDatum(t->workflow_id));
	SETV(3, UUIDPGetDatum(&t->run_id));
	SETV(4, CStringGetTextDatum(t->workflow_type));
	SETV(5, CStringGetTextDatum(t->task_queue));
	if (t->activity_id)
		SETV(6, CStringGetTextDatum(t->activity_id));
	if (t->activity_type)
		SETV(7, CStringGetTextDatum(t->activity_type));
	if (t->input != 0)
		SETV(8, t->input);
	if (t->attempt != 0)
		SETV(9, Int32GetDatum(t->attempt));
	if (t->history != NULL)
		SETV(10, DirectFunctionCall1(jsonb_in, CStringGetDatum(t->history->data)));
	if (t->heartbeat_details != 0)
		SETV(11, t->heartbeat_details);
	if (t->scheduled_time != 0)
		SETV(12, TimestampTzGetDatum(t->scheduled_time));
	SETV(13, TimestampTzGetDatum(t->started_time));
	if (t->deadline != 0)
		SETV(14, TimestampTzGetDatum(t->deadline));
	if (t->heartbeat_timeout)
		SETV(15, IntervalPGetDatum(t->heartbeat_timeout));
	SETV(16, Int32GetDatum(t->priority));
	if (t->query_name)
		SETV(17, CStringGetTextDatum(t->query_name));
	if (t->messages != NULL)
		SETV(18, DirectFunctionCall1(jsonb_in, CStringGetDatum(t->messages->data)));
#undef SETV
	return heap_form_tuple(desc, v, n);
}

/*
 * A query task for the oldest query waiting on the queue, or NULL: the
 * run's stored history, with no synthesised events.
 */
static DurTask *
dur_claim_query_task(const char *key, const char *queue)
{
	uint64		query_id;
	pg_uuid_t	run_id;
	char	   *name;
	char	   *args;
	DurCall    *call;
	DurRun	   *run;
	DurTask    *t;

	if (!dur_claim_query(key, &query_id, &run_id, &name, &args))
		return NULL;
	call = dur_call_begin();
	dur_call_snapshot(call);
	run = dur_run_read(call, &run_id);
	t = palloc0(sizeof(DurTask));
	t->token = dur_token('q', &run_id, (int64) query_id, 0, 0);
	t->kind = "query";
	t->run_id = run_id;
	t->task_queue = pstrdup(queue);
	t->query_name = name;
	t->input = args != NULL ? DirectFunctionCall1(jsonb_in, CStringGetDatum(args)) : 0;
	t->started_time = GetCurrentTimestamp();
	if (run != NULL)
	{
		t->workflow_id = run->workflow_id;
		t->workflow_type = run->workflow_type;
		t->priority = run->priority;
		t->history = makeStringInfo();
		appendStringInfoChar(t->history, '[');
		dur_history_text(call, run, 0, t->history);
		appendStringInfoChar(t->history, ']');
	}
	else
	{
		t->workflow_id = "";
		t->workflow_type = "";
	}
	dur_call_end(call);
	return t;
}

/* A source of candidates: one index range of ready task rows. */
typedef struct DurCands
{
	DurScan		scan;
	bool		open;
	bool		have;			/* row holds the current candidate */
	bool		sticky;			/* the range of rows sticky to (or pinned on) the worker */
	bool		activity;		/* its rows are activity tasks */
	DurRow		row;
} DurCands;

/*
 * The current candidate of a source, advancing it if needed; false when
 * done.  Of the rows sticky to or pinned on the worker, those of a kind it
 * did not ask for, or of a build other than its own, are passed over; the
 * source's kind is its current row's.
 */
static bool
dur_cands_head(DurCands *c, const char *build_id, int kinds)
{
	while (c->open && !c->have)
	{
		c->have = dur_scan_next(&c->scan, ForwardScanDirection, &c->row);
		if (!c->have)
		{
			dur_scan_end(&c->scan);
			c->open = false;
		}
		else if (c->sticky)
		{
			char	   *build = TextDatumGetCString(c->row.values[T_BUILD_ID]);

			c->activity = c->row.values[T_SCHEDULED_EVENT_ID] != Int64GetDatum(0);
			if ((kinds & (c->activity ? DUR_KIND_ACTIVITY : DUR_KIND_WORKFLOW)) == 0 ||
				(build[0] != '\0' && strcmp(build, build_id) != 0))
				c->have = false;
		}
	}
	return c->have;
}

static void
dur_cands_close(DurCands *c)
{
	if (c->open)
		dur_scan_end(&c->scan);
	c->open = false;
}

/* Does a's candidate go before b's: by priority, then pass? */
static bool
dur_cands_before(DurCands *a, DurCands *b)
{
	int32		p1 = DatumGetInt32(a->row.values[T_PRIORITY]);
	int32		p2 = DatumGetInt32(b->row.values[T_PRIORITY]);

	if (p1 != p2)
		return p1 < p2;
	return DatumGetInt64(a->row.values[T_PASS]) <= DatumGetInt64(b->row.values[T_PASS]);
}

/*
 * Add the source of the rows sticky to, or pinned on, the worker: workflow
 * tasks of its sticky runs, activities pinned on it.
 */
static List *
dur_cands_sticky(List *srcs, DurCall *call, Snapshot snap, const char *namespace,
				 const char *queue, const char *worker)
{
	DurCands   *c = palloc0(sizeof(DurCands));

	dur_scan_begin_snap(&c->scan, call, DUR_TASKS_STICKY, snap);
	dur_key_text(&c->scan, 1, worker);
	dur_key_text(&c->scan, 2, namespace);
	dur_key_text(&c->scan, 3, queue);
	c->open = true;
	c->sticky = true;
	return lappend(srcs, c);
}

/* Add the source of the ready rows of a kind, build and affinity. */
static List *
dur_cands_ready(List *srcs, DurCall *call, Snapshot snap, const char *namespace,
				const char *queue, const char *kind, const char *build, const char *affinity)
{
	DurCands   *c = palloc0(sizeof(DurCands));

	dur_scan_begin_snap(&c->scan, call, DUR_TASKS_READY, snap);
	dur_key_text(&c->scan, 1, namespace);
	dur_key_text(&c->scan, 2, queue);
	dur_key_text(&c->scan, 3, kind);
	dur_key_text(&c->scan, 4, build);
	dur_key_text(&c->scan, 5, affinity);
	c->open = true;
	c->activity = strcmp(kind, "activity") == 0;
	return lappend(srcs, c);
}

/*
 * Add the sources a poller can take of a kind and build: the rows that
 * need nothing, and, for a poller with capabilities, those of each
 * requirement it meets (found by skipping from one requirement to the next
 * in the index).
 */
static List *
dur_cands_build(List *srcs, DurCall *call, Snapshot snap, const char *namespace,
				const char *queue, const char *kind, const char *build, const DurPoller *p)
{
	char	   *last = "";

	srcs = dur_cands_ready(srcs, call, snap, namespace, queue, kind, build, "");
	if (p->capabilities == NULL)
		return srcs;
	for (;;)
	{
		DurScan		s;
		DurRow		row;
		bool		found;

		dur_scan_begin_snap(&s, call, DUR_TASKS_READY, snap);
		dur_key_text(&s, 1, namespace);
		dur_key_text(&s, 2, queue);
		dur_key_text(&s, 3, kind);
		dur_key_text(&s, 4, build);
		dur_key_text_op(&s, 5, BTGreaterStrategyNumber, last);
		found = dur_scan_next(&s, ForwardScanDirection, &row);
		if (found)
			last = TextDatumGetCString(row.values[T_AFFINITY]);
		dur_scan_end(&s);
		if (!found)
			break;
		if (dur_capabilities_match(p->capabilities, last))
			srcs = dur_cands_ready(srcs, call, snap, namespace, queue, kind, build, last);
	}
	return srcs;
}

/*
 * Try to start one candidate task row for worker: lock its run without
 * waiting, look at the row again with a new snapshot, and start it.
 * Returns the task, or NULL (*busy set when the run's lock was busy).
 */
static DurTask *
dur_try_start(DurCall *call, DurRow *cand, const char *worker, bool *busy)
{
	pg_uuid_t	run_id;
	int64		seid = DatumGetInt64(cand->values[T_SCHEDULED_EVENT_ID]);
	DurRow		task;
	DurRow		activity;
	DurRun	   *run;
	TimestampTz now;
	TimestampTz lease;
	DurTask    *t;
	bool		is_wft = seid == 0;

	memcpy(&run_id, DatumGetUUIDP(cand->values[T_RUN_ID]), sizeof(pg_uuid_t));
	if (!dur_try_lock_run(&run_id))
	{
		*busy = true;
		return NULL;
	}
	dur_call_snapshot(call);
	if (!dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &run_id, seid, &task) ||
		!task.nulls[T_STARTED_TIME])
	{
		/* started or gone meanwhile: we wrote nothing, let the run go */
		dur_unlock_run(&run_id);
		return NULL;
	}
	run = dur_run_read(call, &run_id);
	if (run == NULL || !dur_run_running(run) ||
		(is_wft && run->wft_state != DUR_WFT_SCHEDULED) ||
		(!is_wft && (!dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &run_id, seid, &activity) ||
					 strcmp(TextDatumGetCString(activity.values[A_STATE]), "scheduled") != 0)))
	{
		/* an orphan a crash between states left behind: drop it */
		dur_delete(call, DUR_TASKS, &task.tid);
		return NULL;
	}

	now = GetCurrentTimestamp();
	if (is_wft)
	{
		lease = dur_time_plus(now, run->task_timeout);
		t = dur_wft_task(call, run, worker, now, lease);
	}
	else
	{
		lease = dur_activity_lease(&activity, now);
		t = dur_activity_task(run, &activity, now, lease);
	}
	task.values[T_STARTED_TIME] = TimestampTzGetDatum(now);
	task.values[T_WORKER_ID] = CStringGetTextDatum(worker);
	task.values[T_LEASE_DEADLINE] = TimestampTzGetDatum(lease);
	task.values[T_OWNER] = Int64GetDatum(dur_claim_owner(worker));
	task.nulls[T_STARTED_TIME] = task.nulls[T_WORKER_ID] = task.nulls[T_LEASE_DEADLINE] = false;
	task.nulls[T_OWNER] = DatumGetInt64(task.values[T_OWNER]) == 0;
	task.nulls[T_EXPIRE_TIME] = true;
	dur_update(call, DUR_TASKS, &task.tid, task.values, task.nulls, NULL);
	dur_metrics_dispatched(run->namespace, TextDatumGetCString(task.values[T_TASK_QUEUE]), !is_wft,
						   false, DatumGetTimestampTz(task.values[T_READY_TIME]), now);
	dur_notify_timer(lease);
	dur_notify_task_on_abort(dur_queue_key(run->namespace, TextDatumGetCString(task.values[T_TASK_QUEUE])),
							 is_wft ? DUR_KIND_WORKFLOW : DUR_KIND_ACTIVITY);
	return t;
}

/*
 * Claim one ready task of the queue for poller p: a waiting query first,
 * then, of the kinds asked for and the tasks p can take (its build or none,
 * requirements its capabilities meet), the first by priority and pass of
 * the activities and of the workflow tasks: one sticky to the worker if
 * there is one, else the first.  NULL when there is none; *busy when a
 * candidate was passed over because its run was busy; *retry_at when
 * activities were not looked at because a rate limit had no token, and
 * when the next one comes.
 */
static DurTask *
dur_claim(const char *namespace, const char *queue, const char *key, const DurPoller *p,
		  bool *busy, TimestampTz *retry_at)
{
	DurCall    *call;
	Snapshot	scan_snap;
	List	   *srcs = NIL;
	ListCell   *lc;
	DurTask    *t = NULL;
	int			kinds = p->kinds;
	bool		took_token = false;
	int32		priority = 0;
	int64		pass = 0;

	if (kinds & DUR_KIND_WORKFLOW)
	{
		t = dur_claim_query_task(key, queue);
		if (t == NULL)
			t = dur_claim_update_task(namespace, queue, key, p->worker);
		if (t != NULL)
			return t;
	}
	if (kinds & DUR_KIND_ACTIVITY)
	{
		TimestampTz next = dur_queue_take_token(namespace, queue, p->worker);

		if (next != 0)
		{
			kinds &= ~DUR_KIND_ACTIVITY;
			*retry_at = next;
		}
		else
			took_token = true;
	}
	if (kinds == 0)
		return NULL;

	call = dur_call_begin();
	scan_snap = RegisterSnapshot(GetLatestSnapshot());
	srcs = dur_cands_sticky(srcs, call, scan_snap, namespace, queue, p->worker);
	if (kinds & DUR_KIND_WORKFLOW)
	{
		srcs = dur_cands_build(srcs, call, scan_snap, namespace, queue, "workflow", "", p);
		if (p->build_id[0] != '\0')
			srcs = dur_cands_build(srcs, call, scan_snap, namespace, queue, "workflow",
								   p->build_id, p);
	}
	if (kinds & DUR_KIND_ACTIVITY)
	{
		srcs = dur_cands_build(srcs, call, scan_snap, namespace, queue, "activity", "", p);
		if (p->build_id[0] != '\0')
			srcs = dur_cands_build(srcs, call, scan_snap, namespace, queue, "activity",
								   p->build_id, p);
	}

	/*
	 * The workflow task to offer is a sticky one while there is one, else
	 * the first; it and the first activity go by priority, then pass.  So a
	 * sticky task passes every new workflow's first task, but not the
	 * activities that were ready before it (a fan-in still gathers the
	 * results of the activities queued ahead of its workflow task).
	 */
	while (t == NULL)
	{
		DurCands   *sticky_wf = NULL;
		DurCands   *wf = NULL;
		DurCands   *act = NULL;
		DurCands   *best;

		foreach(lc, srcs)
		{
			DurCands   *c = lfirst(lc);

			if (!dur_cands_head(c, p->build_id, kinds))
				continue;
			if (c->activity)
			{
				if (act == NULL || dur_cands_before(c, act))
					act = c;
			}
			else if (c->sticky)
				sticky_wf = c;
			else if (wf == NULL || dur_cands_before(c, wf))
				wf = c;
		}
		if (sticky_wf != NULL)
			wf = sticky_wf;
		if (wf == NULL && act == NULL)
			break;
		if (wf != NULL && act != NULL)
			best = dur_cands_before(wf, act) ? wf : act;
		else
			best = wf != NULL ? wf : act;
		priority = DatumGetInt32(best->row.values[T_PRIORITY]);
		pass = DatumGetInt64(best->row.values[T_PASS]);
		t = dur_try_start(call, &best->row, p->worker, busy);
		best->have = false;
	}
	foreach(lc, srcs)
		dur_cands_close(lfirst(lc));
	UnregisterSnapshot(scan_snap);
	dur_call_end(call);

	if (took_token && (t == NULL || strcmp(t->kind, "activity") != 0))
		dur_queue_return_token(namespace, queue, p->worker);
	if (t != NULL)
		dur_queue_dispatched(namespace, queue, strcmp(t->kind, "activity") == 0, priority, pass);
	return t;
}

/*
 * poll_task(task_queue text, worker_id text, kinds text[], wait interval,
 * namespace text, build_id text, capabilities jsonb) returns SETOF
 * durable.task: claim one ready task of the namespace's queue that this
 * worker can take, waiting up to "wait" for one to commit.  No row when
 * none.
 */
Datum
poll_task(PG_FUNCTION_ARGS)
{
	static const char *const kind_choices[] = {"workflow", "activity", NULL};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *namespace = dur_namespace_arg(fcinfo, 4);
	char	   *queue;
	char	   *key;
	Interval   *wait = PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3);
	DurPoller	p;
	TimestampTz deadline;
	bool		waiting;
	DurTask    *t = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task_queue and worker_id must not be NULL")));
	dur_namespace_require(namespace, DUR_CAP_WORKER);
	memset(&p, 0, sizeof(p));
	queue = text_to_cstring(PG_GETARG_TEXT_PP(0));
	p.worker = text_to_cstring(PG_GETARG_TEXT_PP(1));
	dur_check_id(queue, "task_queue");
	key = dur_queue_key(namespace, queue);
	dur_check_id(p.worker, "worker_id");
	dur_check_interval(wait, "wait", false);
	if (!PG_ARGISNULL(2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems,
					i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
		for (i = 0; i < nelems; i++)
		{
			const char *k = dur_check_choice(nulls[i] ? NULL : TextDatumGetCString(elems[i]),
											 "task kind", kind_choices);

			p.kinds |= strcmp(k, "workflow") == 0 ? DUR_KIND_WORKFLOW : DUR_KIND_ACTIVITY;
		}
	}
	if (p.kinds == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kinds must name at least one task kind"),
				 errhint("Use '{workflow}', '{activity}' or '{workflow,activity}'.")));
	p.build_id = "";
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
	{
		p.build_id = text_to_cstring(PG_GETARG_TEXT_PP(5));
		dur_check_build_id(p.build_id, "build_id");
	}
	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
	{
		p.capabilities = PG_GETARG_JSONB_P(6);
		if (dur_affinity_of(p.capabilities, "capabilities") == NULL)
			p.capabilities = NULL;
	}
	dur_queue_poller_seen(namespace, queue, &p);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	waiting = wait != NULL && !dur_interval_is_zero(wait);
	deadline = waiting ? dur_time_plus(GetCurrentTimestamp(), wait) : 0;
	for (;;)
	{
		bool		busy = false;
		TimestampTz retry_at = 0;
		TimestampTz until;

		if (waiting)
			dur_wait_register(DUR_WAIT_TASK, key, p.kinds, p.worker);
		t = dur_claim(namespace, queue, key, &p, &busy, &retry_at);
		if (t != NULL || !waiting || GetCurrentTimestamp() >= deadline)
			break;
		until = deadline;
		if (busy)
			until = Min(until, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DUR_BUSY_RETRY_MS));
		if (retry_at != 0)
			until = Min(until, retry_at);
		(void) dur_wait_until(until);
	}
	if (waiting)
		dur_wait_unregister();
	if (t != NULL)
	{
		HeapTuple	tup = dur_task_tuple(t, rsinfo->setDesc);

		tuplestore_puttuple(rsinfo->setResult, tup);
	}
	return (Datum) 0;
}

/*
 * workflow_task_history(task_token text) returns jsonb: the whole history
 * of the workflow task a token names, as a worker without the run in its
 * cache needs it (a sticky worker receives only the events it lacks).
 */
Datum
workflow_task_history(PG_FUNCTION_ARGS)
{
	DurToken	tok;
	DurCall    *call;
	DurRun	   *run;
	DurRow		task;
	DurTask    *t;
	int64		started;

	dur_parse_token(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)), 'w', &tok);
	call = dur_call_begin();
	dur_call_snapshot(call);
	run = dur_run_read(call, &tok.run_id);
	if (run != NULL)
		dur_namespace_require(run->namespace, DUR_CAP_WORKER);
	started = run == NULL ? 0 :
		run->history_length + (run->wft_scheduled_event_id == 0 ? 2 : 1);
	if (run == NULL || !dur_run_running(run) || run->wft_state != DUR_WFT_SCHEDULED ||
		run->wft_seq != tok.n1 || started != tok.n2)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_STALE_TOKEN),
				 errmsg("stale task token \"%s\"", text_to_cstring(PG_GETARG_TEXT_PP(0))),
				 errdetail("The workflow task is no longer outstanding."),
				 errhint("The task timed out, was completed already, or its workflow closed; poll for a new task.")));
	/* the whole history, with the identity the task was started for */
	run->sticky_worker = NULL;
	t = dur_wft_task(call, run,
					 dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &tok.run_id, 0, &task) &&
					 !task.nulls[T_WORKER_ID] ? TextDatumGetCString(task.values[T_WORKER_ID]) : NULL,
					 tok.n3 - DUR_UNIX_EPOCH_USECS, 0);
	dur_call_end(call);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(t->history->data)));
}

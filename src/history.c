/*-------------------------------------------------------------------------
 *
 * history.c
 *	  The history service: a run's mutable state, its event history, and
 *	  the transitions every call shares (delivering events, scheduling a
 *	  workflow task, starting and closing runs).
 *
 * Storage.  A run is one row of durable.workflows; its events are rows of
 * durable.history_batches, one per call that recorded events (Temporal's
 * history_node grain), each holding that call's events in the compact
 * stored form of events.c, from which the JSON workers receive is
 * rendered.  durable.history is a view that unpacks the batches event by
 * event.
 *
 * Invariants:
 *	- event ids of a run are contiguous from 1; history_length is the last
 *	  one written, and the batches of a run cover 1..history_length without
 *	  gaps or overlaps (a batch holds its events up to its last_event_id);
 *	- a call records events into DurRun.events as it goes (ids assigned in
 *	  order) and writes them with one INSERT and the run's row with one
 *	  write (dur_run_write), at the end; that write also sets
 *	  last_progress_time when the call recorded events (no index has the
 *	  column, so the update stays HOT when no indexed column changed);
 *	- at most one workflow task per run exists; wft_state says where it is
 *	  (see history.h); while its task row is started, events from outside
 *	  are buffered in durable.buffered_events and written after the task's
 *	  own events when it completes, as Temporal orders them;
 *	- a closed run has no activities, timers, tasks, buffered events or
 *	  signal request ids left.
 *
 * Locking: every function here expects the caller to hold the run's lock
 * (dur_lock_run) and to read with the snapshot taken after it; the run's
 * rows are then changed by nobody else until the transaction ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "durable.h"
#include "events.h"
#include "history.h"
#include "queues.h"
#include "matching.h"
#include "metrics.h"
#include "schedules.h"
#include "timers.h"
#include "updates.h"

static const char *const wft_state_names[] = {"none", "scheduled", "backoff", "delayed"};

const char *
dur_wft_state_name(DurWftState state)
{
	return wft_state_names[state];
}

static DurWftState
dur_wft_state_parse(const char *s)
{
	int			i;

	for (i = 0; i < lengthof(wft_state_names); i++)
		if (strcmp(s, wft_state_names[i]) == 0)
			return (DurWftState) i;
	elog(ERROR, "durable: unknown workflow task state \"%s\"", s);
	return DUR_WFT_NONE;		/* keep compiler quiet */
}

/* Unpack the columns a call uses from a run's row. */
static DurRun *
dur_run_unpack(DurRow *row)
{
	DurRun	   *run = palloc0(sizeof(DurRun));
	Datum	   *v = row->values;
	bool	   *n = row->nulls;

	run->row = *row;
	run->written = true;
	memcpy(&run->run_id, DatumGetUUIDP(v[W_RUN_ID]), sizeof(pg_uuid_t));
	run->workflow_id = TextDatumGetCString(v[W_WORKFLOW_ID]);
	run->namespace = TextDatumGetCString(v[W_NAMESPACE]);
	run->workflow_type = TextDatumGetCString(v[W_WORKFLOW_TYPE]);
	run->task_queue = TextDatumGetCString(v[W_TASK_QUEUE]);
	run->status = TextDatumGetCString(v[W_STATUS]);
	run->priority = DatumGetInt32(v[W_PRIORITY]);
	run->task_timeout = DatumGetIntervalP(v[W_TASK_TIMEOUT]);
	run->history_length = DatumGetInt64(v[W_HISTORY_LENGTH]);
	run->wft_state = dur_wft_state_parse(TextDatumGetCString(v[W_WFT_STATE]));
	run->wft_seq = DatumGetInt64(v[W_WFT_SEQ]);
	run->wft_attempt = DatumGetInt32(v[W_WFT_ATTEMPT]);
	run->wft_scheduled_event_id = n[W_WFT_SCHEDULED_EVENT_ID] ? 0 :
		DatumGetInt64(v[W_WFT_SCHEDULED_EVENT_ID]);
	run->wft_scheduled_time = n[W_WFT_SCHEDULED_TIME] ? 0 :
		DatumGetTimestampTz(v[W_WFT_SCHEDULED_TIME]);
	run->sticky_worker = n[W_STICKY_WORKER] ? NULL : TextDatumGetCString(v[W_STICKY_WORKER]);
	run->sticky_event_id = n[W_STICKY_EVENT_ID] ? 0 : DatumGetInt64(v[W_STICKY_EVENT_ID]);
	dur_batch_writer_init(&run->events);
	return run;
}

/* Read a run's row, or NULL.  The caller holds its lock, or only looks. */
DurRun *
dur_run_read(DurCall *call, const pg_uuid_t *run_id)
{
	DurRow		row;

	if (!dur_fetch(call, DUR_WORKFLOWS, DUR_WORKFLOWS_PKEY, run_id, -1, &row))
		return NULL;
	return dur_run_unpack(&row);
}

/* Take a run's lock and read it with a new snapshot; NULL if there is none. */
DurRun *
dur_run_lock(DurCall *call, const pg_uuid_t *run_id)
{
	dur_lock_run(run_id);
	dur_call_snapshot(call);
	return dur_run_read(call, run_id);
}

/*
 * Read a task token's run, taking its lock first (lock) or only looking
 * with a new snapshot; the run must exist and be running, or the token is
 * stale.
 */
DurRun *
dur_run_for_token(DurCall *call, const char *token, const DurToken *tok, bool lock)
{
	DurRun	   *run;

	if (lock)
		run = dur_run_lock(call, &tok->run_id);
	else
	{
		dur_call_snapshot(call);
		run = dur_run_read(call, &tok->run_id);
	}
	if (run == NULL)
		dur_stale(token, "The run does not exist.");
	dur_namespace_require(run->namespace, DUR_CAP_WORKER);
	if (!dur_run_running(run))
		dur_stale(token, psprintf("The run is %s.", run->status));
	return run;
}

/* Take the lock of a task token's run and read it (dur_run_for_token). */
DurRun *
dur_run_lock_for_token(DurCall *call, const char *token, const DurToken *tok)
{
	return dur_run_for_token(call, token, tok, true);
}

bool
dur_run_running(DurRun *run)
{
	return strcmp(run->status, "running") == 0;
}

/*
 * Does the run move to its queue's current build at each workflow task
 * (the worker reported auto_upgrade)?  NULL, as "pinned", stays.
 */
bool
dur_run_auto_upgrade(DurRun *run)
{
	return !run->row.nulls[W_VERSIONING_BEHAVIOR] &&
		strcmp(TextDatumGetCString(run->row.values[W_VERSIONING_BEHAVIOR]), "auto_upgrade") == 0;
}

/* Set a column of the run's row (written by dur_run_write). */
void
dur_run_set(DurRun *run, int col, Datum value, bool isnull)
{
	run->row.values[col] = isnull ? (Datum) 0 : value;
	run->row.nulls[col] = isnull;
}

/* A workflow id, cut for messages as left(workflow_id, 200) did. */
static char *
dur_wid_for_message(const char *wid)
{
	return pnstrdup(wid, pg_mbcharcliplen(wid, strlen(wid), 200));
}

/*
 * Find a run of a namespace: the given run of a workflow id, or its
 * running run, or its latest.  The caller has checked the namespace.  With running the run must be running (DU003); with lock it is
 * locked and read again after the lock.
 */
DurRun *
dur_run_find(DurCall *call, const char *namespace, const char *workflow_id,
			 const pg_uuid_t *run_id, bool running, bool lock)
{
	DurRun	   *run = NULL;
	DurScan		s;
	DurRow		row;
	int			tries = 0;

	if (workflow_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow_id must not be NULL")));
again:
	run = NULL;
	dur_call_snapshot(call);
	if (run_id != NULL)
	{
		run = dur_run_read(call, run_id);
		if (run != NULL && (strcmp(run->workflow_id, workflow_id) != 0 ||
							strcmp(run->namespace, namespace) != 0))
			run = NULL;
		if (run == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_NOT_FOUND),
					 errmsg("workflow \"%s\" has no run %s", workflow_id, dur_uuid_text(run_id)),
					 errhint("Check the workflow id and run id, or omit run_id for the latest run.")));
	}
	else
	{
		dur_scan_begin(&s, call, DUR_WORKFLOWS_RUNNING);
		dur_key_text(&s, 1, namespace);
		dur_key_text(&s, 2, workflow_id);
		if (dur_scan_next(&s, ForwardScanDirection, &row))
			run = dur_run_read(call, DatumGetUUIDP(row.values[W_RUN_ID]));
		dur_scan_end(&s);
		if (run == NULL)
		{
			/* the latest: start_time DESC, close_time DESC NULLS FIRST */
			TimestampTz best_start = 0;
			TimestampTz best_close = 0;
			bool		best_open = false;
			pg_uuid_t	best;

			dur_scan_begin(&s, call, DUR_WORKFLOWS_BY_ID);
			dur_key_text(&s, 1, namespace);
			dur_key_text(&s, 2, workflow_id);
			while (dur_scan_next(&s, ForwardScanDirection, &row))
			{
				TimestampTz start = DatumGetTimestampTz(row.values[W_START_TIME]);
				bool		open = row.nulls[W_CLOSE_TIME];
				TimestampTz close = open ? 0 : DatumGetTimestampTz(row.values[W_CLOSE_TIME]);

				if (run != NULL && start < best_start)
					break;		/* the index is ordered by start_time DESC */
				if (run == NULL || (!best_open && (open || close > best_close)))
				{
					run = (DurRun *) 1;
					best_start = start;
					best_close = close;
					best_open = open;
					memcpy(&best, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
				}
			}
			dur_scan_end(&s);
			if (run != NULL)
				run = dur_run_read(call, &best);
		}
		if (run == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_NOT_FOUND),
					 errmsg("workflow \"%s\" not found", dur_wid_for_message(workflow_id)),
					 errhint("Check the workflow id; durable.workflows lists every run.")));
	}
	if (lock)
	{
		pg_uuid_t	id = run->run_id;

		run = dur_run_lock(call, &id);
		if (run == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_NOT_FOUND),
					 errmsg("workflow \"%s\" not found", dur_wid_for_message(workflow_id)),
					 errhint("Check the workflow id; durable.workflows lists every run.")));

		/*
		 * The run closed while we waited for its lock (continue-as-new, a
		 * reset): the workflow id names its running run now, if it has one.
		 */
		if (run_id == NULL && !dur_run_running(run) && tries++ < 3)
		{
			dur_unlock_run(&id);
			goto again;
		}
	}
	if (running && !dur_run_running(run))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_NOT_RUNNING),
				 errmsg("workflow \"%s\" is not running", dur_wid_for_message(workflow_id)),
				 errdetail("Run %s is %s.", dur_uuid_text(&run->run_id), run->status),
				 errhint("Only running workflows accept this request.")));
	return run;
}

/*
 * The run of a workflow id that a call with this request id made (a start,
 * a reset), or NULL: a repeated request returns it.
 */
pg_uuid_t *
dur_run_by_request_id(DurCall *call, const char *namespace, const char *workflow_id,
					  const char *request_id)
{
	DurScan		s;
	DurRow		row;
	pg_uuid_t  *run_id = NULL;

	dur_scan_begin(&s, call, DUR_WORKFLOWS_BY_ID);
	dur_key_text(&s, 1, namespace);
	dur_key_text(&s, 2, workflow_id);
	while (run_id == NULL && dur_scan_next(&s, ForwardScanDirection, &row))
		if (!row.nulls[W_REQUEST_ID] &&
			strcmp(TextDatumGetCString(row.values[W_REQUEST_ID]), request_id) == 0)
		{
			run_id = palloc(sizeof(pg_uuid_t));
			memcpy(run_id, DatumGetUUIDP(row.values[W_RUN_ID]), sizeof(pg_uuid_t));
		}
	dur_scan_end(&s);
	return run_id;
}

/* A new event of the given type, with empty attributes. */
DurEvent *
dur_event(const char *type)
{
	DurEvent   *ev = palloc0(sizeof(DurEvent));

	ev->type = type;
	dj_init(&ev->attrs);
	return ev;
}

/* The id the next recorded event of the run gets. */
int64
dur_next_event_id(DurRun *run)
{
	return run->history_length + run->events.nevents + 1;
}

/*
 * Record an event: give it the run's next id and add it, in stored form,
 * to the batch the call writes.  Returns its id.
 */
int64
dur_record(DurRun *run, DurEvent *ev)
{
	int64		id = dur_next_event_id(run);
	TimestampTz time = ev->time != 0 ? ev->time : GetCurrentTimestamp();

	if (ev->started_is_previous)
		dj_int(&ev->attrs, "started_event_id", id - 1);
	dur_event_encode(&run->events, ev->type, time, &ev->attrs);
	return id;
}

/* Record a list of events in order. */
static void
dur_record_all(DurRun *run, List *events)
{
	ListCell   *lc;

	foreach(lc, events)
		(void) dur_record(run, (DurEvent *) lfirst(lc));
}

/*
 * Write what the call changed of a run: its recorded events as one batch,
 * and its row (inserted for a new run).  Then make both visible to the
 * call's next reads.
 */
void
dur_run_write(DurCall *call, DurRun *run)
{
	Datum	   *v = run->row.values;
	bool	   *n = run->row.nulls;

	if (run->events.nevents > 0)
	{
		Datum		hv[H_NCOLS];
		bool		hn[H_NCOLS] = {false, false, false, false, false};

		hv[H_RUN_ID] = UUIDPGetDatum(&run->run_id);
		hv[H_LAST_EVENT_ID] = Int64GetDatum(run->history_length + run->events.nevents);
		hv[H_EVENTS] = PointerGetDatum(dur_batch_bytes(&run->events));
		hv[H_WORKFLOW_ID] = v[W_WORKFLOW_ID];
		hv[H_NAMESPACE] = v[W_NAMESPACE];
		dur_insert(call, DUR_HISTORY, hv, hn, NULL);
		dur_metrics_count(run->namespace, run->task_queue, DUR_C_HISTORY_EVENTS, run->events.nevents);
		run->history_length += run->events.nevents;
		dur_batch_writer_reset(&run->events);
		/* progress: in the same tuple write as history_length (no index has it) */
		v[W_LAST_PROGRESS_TIME] = TimestampTzGetDatum(GetCurrentTimestamp());
		n[W_LAST_PROGRESS_TIME] = false;
	}

	v[W_HISTORY_LENGTH] = Int64GetDatum(run->history_length);
	v[W_WFT_STATE] = CStringGetTextDatum(wft_state_names[run->wft_state]);
	v[W_WFT_SEQ] = Int64GetDatum(run->wft_seq);
	v[W_WFT_ATTEMPT] = Int32GetDatum(run->wft_attempt);
	n[W_WFT_SCHEDULED_EVENT_ID] = run->wft_scheduled_event_id == 0;
	v[W_WFT_SCHEDULED_EVENT_ID] = Int64GetDatum(run->wft_scheduled_event_id);
	n[W_WFT_SCHEDULED_TIME] = run->wft_scheduled_time == 0;
	v[W_WFT_SCHEDULED_TIME] = TimestampTzGetDatum(run->wft_scheduled_time);
	n[W_STICKY_WORKER] = run->sticky_worker == NULL;
	v[W_STICKY_WORKER] = run->sticky_worker ? CStringGetTextDatum(run->sticky_worker) : (Datum) 0;
	n[W_STICKY_EVENT_ID] = run->sticky_worker == NULL;
	v[W_STICKY_EVENT_ID] = Int64GetDatum(run->sticky_event_id);
	v[W_STATUS] = CStringGetTextDatum(run->status);
	n[W_STATUS] = false;

	if (!run->written)
	{
		dur_insert(call, DUR_WORKFLOWS, v, n, &run->row.tid);
		run->written = true;
	}
	else
		dur_update(call, DUR_WORKFLOWS, &run->row.tid, v, n, &run->row.tid);
	dur_call_cci(call);
}

/* Store events that arrived while a workflow task runs, in arrival order. */
static void
dur_buffer_events(DurCall *call, DurRun *run, List *events)
{
	DurScan		s;
	DurRow		row;
	int64		seq = 0;
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();

	/* the run's last sequence number: its rows are only changed under its lock */
	dur_scan_begin(&s, call, DUR_BUFFERED_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	if (dur_scan_next(&s, BackwardScanDirection, &row))
		seq = DatumGetInt64(row.values[B_SEQ]);
	dur_scan_end(&s);

	foreach(lc, events)
	{
		DurEvent   *ev = lfirst(lc);
		Datum		v[B_NCOLS];
		bool		n[B_NCOLS] = {false, false, false, false, false, false, false};

		if (ev->started_is_previous)
			dj_str(&ev->attrs, "started_event_id", "previous");
		v[B_RUN_ID] = UUIDPGetDatum(&run->run_id);
		v[B_SEQ] = Int64GetDatum(++seq);
		v[B_EVENT_TYPE] = CStringGetTextDatum(ev->type);
		v[B_EVENT_TIME] = TimestampTzGetDatum(ev->time != 0 ? ev->time : now);
		v[B_ATTRIBUTES] = JsonbPGetDatum(dj_to_jsonb(&ev->attrs));
		v[B_WORKFLOW_ID] = run->row.values[W_WORKFLOW_ID];
		v[B_NAMESPACE] = run->row.values[W_NAMESPACE];
		dur_insert(call, DUR_BUFFERED, v, n, NULL);
	}
}

/*
 * Take the events buffered for the run, in arrival order, deleting them.
 * An attribute "started_event_id": "previous" (an activity's closing event
 * follows its ActivityTaskStarted) is resolved when the event is recorded.
 */
List *
dur_take_buffer(DurCall *call, DurRun *run)
{
	DurScan		s;
	DurRow		row;
	List	   *events = NIL;

	dur_scan_begin(&s, call, DUR_BUFFERED_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		DurEvent   *ev = dur_event(TextDatumGetCString(row.values[B_EVENT_TYPE]));
		Jsonb	   *attrs = DatumGetJsonbPCopy(row.values[B_ATTRIBUTES]);
		char	   *started;

		ev->time = DatumGetTimestampTz(row.values[B_EVENT_TIME]);
		dj_add_jsonb_object(&ev->attrs, attrs);
		started = dur_jsonb_get_text(attrs, "started_event_id");
		if (started != NULL && strcmp(started, "previous") == 0)
		{
			dj_remove(&ev->attrs, "started_event_id");
			ev->started_is_previous = true;
		}
		events = lappend(events, ev);
		dur_delete(call, DUR_BUFFERED, &row.tid);
	}
	dur_scan_end(&s);
	return events;
}

/*
 * Schedule a workflow task attempt, first recording events.  With
 * write_event its WorkflowTaskScheduled is recorded now; without, the
 * attempt is transient and the event is written when the attempt
 * completes.  With worker the task is started for that worker and
 * returned (eager dispatch, when no activity of the run is out); without,
 * it is made ready for pollers and NULL is returned.
 */
DurTask *
dur_schedule_wft(DurCall *call, DurRun *run, int32 attempt, bool write_event,
				 List *events, const char *worker)
{
	bool		had_task = run->wft_state == DUR_WFT_SCHEDULED;

	dur_record_all(run, events);
	run->wft_scheduled_event_id = 0;
	if (write_event)
	{
		DurEvent   *ev = dur_event("WorkflowTaskScheduled");

		dj_str(&ev->attrs, "task_queue", run->task_queue);
		dj_duration(&ev->attrs, "start_to_close_timeout", run->task_timeout);
		dj_int(&ev->attrs, "attempt", attempt);
		run->wft_scheduled_event_id = dur_record(run, ev);
	}
	run->wft_state = DUR_WFT_SCHEDULED;
	run->wft_seq++;
	run->wft_attempt = attempt;
	run->wft_scheduled_time = GetCurrentTimestamp();
	return dur_enqueue_wft(call, run, worker, had_task);
}

/*
 * Deliver events from outside a workflow task (signals, activity results,
 * timer fires, cancel requests) to a running run.  While its workflow task
 * is started they are buffered; otherwise they are recorded and a workflow
 * task is scheduled if none is.  With worker, the workflow task that is
 * ready afterwards is started for that worker and returned (eager
 * dispatch; the caller has checked that the worker polls the run's queue).
 */
DurTask *
dur_deliver(DurCall *call, DurRun *run, List *events, const char *worker)
{
	DurRow		task;

	switch (run->wft_state)
	{
		case DUR_WFT_NONE:
			return dur_schedule_wft(call, run, 1, true, events, worker);
		case DUR_WFT_SCHEDULED:
			if (!dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &run->run_id, 0, &task))
			{
				/*
				 * No task row: a crash or a restore lost it, and the rebuild
				 * has not reached the run.  Events buffered behind the lost
				 * attempt go first (timers.c's rebuild does the same).
				 */
				events = list_concat(dur_take_buffer(call, run), events);
			}
			else if (!task.nulls[T_STARTED_TIME])
			{
				dur_buffer_events(call, run, events);
				return NULL;
			}
			if (run->wft_scheduled_event_id == 0)
			{
				/* a transient retry becomes a regular task carrying the events */
				return dur_schedule_wft(call, run, 1, true, events, worker);
			}
			dur_record_all(run, events);
			/* ready already: announce it again (a poller may have passed the
			 * run while we held its lock), or hand it out */
			return dur_enqueue_wft(call, run, worker, true);
		case DUR_WFT_BACKOFF:
			dur_delete_timer(call, run, "wft_retry", "");
			return dur_schedule_wft(call, run, 1, true, events, worker);
		case DUR_WFT_DELAYED:
			/* the start delay runs its course; the first task sees the events */
			dur_record_all(run, events);
			return NULL;
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * Create a run: its row, WorkflowExecutionStarted (plus the first signal,
 * for signal-with-start), the first workflow task or its start delay, and
 * the run and execution timeouts.  The row is written by dur_run_write.
 */
DurRun *
dur_start_run(DurCall *call, const pg_uuid_t *run_id, DurStartParams *p)
{
	DurRun	   *run = palloc0(sizeof(DurRun));
	Datum	   *v = palloc0(W_NCOLS * sizeof(Datum));
	bool	   *n = palloc(W_NCOLS * sizeof(bool));
	TimestampTz now = GetCurrentTimestamp();
	DurEvent   *ev = dur_event("WorkflowExecutionStarted");
	List	   *events;
	Jsonb	   *sa;
	int			i;

	for (i = 0; i < W_NCOLS; i++)
		n[i] = true;
	sa = p->search_attributes != 0 ? DatumGetJsonbP(p->search_attributes) :
		DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

	memcpy(&run->run_id, run_id, sizeof(pg_uuid_t));
	run->workflow_id = pstrdup(p->workflow_id);
	run->namespace = pstrdup(p->namespace);
	run->workflow_type = pstrdup(p->workflow_type);
	run->task_queue = pstrdup(p->task_queue);
	run->status = "running";
	run->priority = p->priority;
	run->task_timeout = p->task_timeout;
	run->is_new = true;
	dur_batch_writer_init(&run->events);
	dur_metrics_count(run->namespace, run->task_queue, DUR_C_WORKFLOW_STARTED, 1);

#define SETCOL(col, datum) (v[col] = (datum), n[col] = false)
	SETCOL(W_RUN_ID, UUIDPGetDatum(&run->run_id));
	SETCOL(W_WORKFLOW_ID, CStringGetTextDatum(run->workflow_id));
	SETCOL(W_NAMESPACE, CStringGetTextDatum(run->namespace));
	SETCOL(W_WORKFLOW_TYPE, CStringGetTextDatum(run->workflow_type));
	SETCOL(W_TASK_QUEUE, CStringGetTextDatum(run->task_queue));
	if (p->input != 0)
		SETCOL(W_INPUT, p->input);
	SETCOL(W_START_TIME, TimestampTzGetDatum(now));
	SETCOL(W_LAST_PROGRESS_TIME, TimestampTzGetDatum(now));
	if (p->execution_timeout != NULL)
		SETCOL(W_EXECUTION_TIMEOUT, IntervalPGetDatum(p->execution_timeout));
	if (p->run_timeout != NULL)
		SETCOL(W_RUN_TIMEOUT, IntervalPGetDatum(p->run_timeout));
	SETCOL(W_TASK_TIMEOUT, IntervalPGetDatum(p->task_timeout));
	if (p->execution_deadline != 0)
		SETCOL(W_EXECUTION_DEADLINE, TimestampTzGetDatum(p->execution_deadline));
	SETCOL(W_FIRST_RUN_ID, UUIDPGetDatum(p->first_run_id ? p->first_run_id : &run->run_id));
	if (p->previous_run_id != NULL)
		SETCOL(W_PREVIOUS_RUN_ID, UUIDPGetDatum(p->previous_run_id));
	SETCOL(W_ATTEMPT, Int32GetDatum(p->attempt));
	if (p->retry_policy != 0)
		SETCOL(W_RETRY_POLICY, p->retry_policy);
	SETCOL(W_SEARCH_ATTRIBUTES, JsonbPGetDatum(sa));
	if (p->memo != 0)
		SETCOL(W_MEMO, p->memo);
	SETCOL(W_PRIORITY, Int32GetDatum(p->priority));
	if (p->request_id != NULL)
		SETCOL(W_REQUEST_ID, CStringGetTextDatum(p->request_id));
	SETCOL(W_HISTORY_LENGTH, Int64GetDatum(0));
	SETCOL(W_CANCEL_REQUESTED, BoolGetDatum(false));
	SETCOL(W_WFT_STATE, CStringGetTextDatum("none"));
	SETCOL(W_WFT_SEQ, Int64GetDatum(0));
	SETCOL(W_WFT_ATTEMPT, Int32GetDatum(0));
	if (p->parent_run_id != NULL)
	{
		SETCOL(W_PARENT_WORKFLOW_ID, CStringGetTextDatum(p->parent_workflow_id));
		SETCOL(W_PARENT_RUN_ID, UUIDPGetDatum(p->parent_run_id));
		SETCOL(W_PARENT_INITIATED_EVENT_ID, Int64GetDatum(p->parent_initiated_event_id));
	}
	if (p->fairness_key != NULL)
		SETCOL(W_FAIRNESS_KEY, CStringGetTextDatum(p->fairness_key));
	if (p->fairness_weight > 0)
		SETCOL(W_FAIRNESS_WEIGHT, Float4GetDatum(p->fairness_weight));
	if (p->required_capabilities != 0)
		SETCOL(W_REQUIRED_CAPABILITIES, p->required_capabilities);
	if (p->build_id != NULL)
		SETCOL(W_BUILD_ID, CStringGetTextDatum(p->build_id));
	if (p->versioning_behavior != NULL)
		SETCOL(W_VERSIONING_BEHAVIOR, CStringGetTextDatum(p->versioning_behavior));
#undef SETCOL
	run->row.values = v;
	run->row.nulls = n;

	dj_str(&ev->attrs, "workflow_type", p->workflow_type);
	dj_str(&ev->attrs, "task_queue", p->task_queue);
	dj_jsonb_datum(&ev->attrs, "input", p->input, p->input == 0);
	dj_duration(&ev->attrs, "workflow_execution_timeout", p->execution_timeout);
	dj_duration(&ev->attrs, "workflow_run_timeout", p->run_timeout);
	dj_duration(&ev->attrs, "workflow_task_timeout", p->task_timeout);
	dj_int(&ev->attrs, "attempt", p->attempt);
	dj_uuid(&ev->attrs, "first_execution_run_id", p->first_run_id ? p->first_run_id : &run->run_id);
	dj_uuid(&ev->attrs, "continued_execution_run_id", p->previous_run_id);
	dj_jsonb_datum(&ev->attrs, "retry_policy", p->retry_policy, p->retry_policy == 0);
	dj_duration(&ev->attrs, "first_workflow_task_backoff", p->delay);
	dj_jsonb(&ev->attrs, "search_attributes", sa);
	dj_jsonb_datum(&ev->attrs, "memo", p->memo, p->memo == 0);
	dj_int(&ev->attrs, "priority", p->priority);
	dj_str(&ev->attrs, "identity", p->identity);
	dj_str(&ev->attrs, "request_id", p->request_id);
	if (p->parent_run_id != NULL)
	{
		DurJsonObj	parent;

		dj_str(&ev->attrs, "parent_workflow_namespace", p->namespace);
		dj_init(&parent);
		dj_str(&parent, "workflow_id", p->parent_workflow_id);
		dj_uuid(&parent, "run_id", p->parent_run_id);
		dj_obj(&ev->attrs, "parent_workflow_execution", &parent);
		dj_int(&ev->attrs, "parent_initiated_event_id", p->parent_initiated_event_id);
	}
	events = list_make1(ev);
	if (p->signal != NULL)
		events = lappend(events, p->signal);

	if (p->delay != NULL && !dur_interval_is_zero(p->delay))
	{
		dur_record_all(run, events);
		run->wft_state = DUR_WFT_DELAYED;
		dur_set_timer(call, run, "workflow_start", "", dur_time_plus(now, p->delay), 0);
	}
	else
		(void) dur_schedule_wft(call, run, 1, true, events, NULL);
	if (p->run_timeout != NULL)
	{
		TimestampTz start = p->delay != NULL ? dur_time_plus(now, p->delay) : now;

		dur_set_timer(call, run, "workflow_run_timeout", "",
					  dur_time_plus(start, p->run_timeout), 0);
	}
	if (p->execution_deadline != 0)
		dur_set_timer(call, run, "workflow_execution_timeout", "", p->execution_deadline, 0);
	return run;
}

/*
 * What a run that continues (continue-as-new, a retry) hands its next run
 * besides its parameters: its parent, so that a child's chain stays the
 * child.
 */
void
dur_start_params_inherit(DurStartParams *p, DurRun *run)
{
	Datum	   *v = run->row.values;
	bool	   *n = run->row.nulls;

	if (n[W_PARENT_RUN_ID])
		return;
	p->parent_workflow_id = TextDatumGetCString(v[W_PARENT_WORKFLOW_ID]);
	p->parent_run_id = DatumGetUUIDP(v[W_PARENT_RUN_ID]);
	p->parent_initiated_event_id = n[W_PARENT_INITIATED_EVENT_ID] ? 0 :
		DatumGetInt64(v[W_PARENT_INITIATED_EVENT_ID]);
}

/*
 * What a run's next run (continue-as-new, a retry) keeps of it: its
 * fairness key and weight, required capabilities and versioning
 * behaviour; its build if it is pinned, while an auto-upgrade run's next
 * run starts on the build its queue chooses.
 */
void
dur_start_params_routing(DurStartParams *p, DurRun *run)
{
	DurRow	   *row = &run->row;

	p->fairness_key = dur_text(row, W_FAIRNESS_KEY);
	p->fairness_weight = row->nulls[W_FAIRNESS_WEIGHT] ? 0 : DatumGetFloat4(row->values[W_FAIRNESS_WEIGHT]);
	p->required_capabilities = row->nulls[W_REQUIRED_CAPABILITIES] ? 0 : row->values[W_REQUIRED_CAPABILITIES];
	p->versioning_behavior = dur_text(row, W_VERSIONING_BEHAVIOR);
	if (dur_run_auto_upgrade(run) || strcmp(p->task_queue, run->task_queue) != 0)
	{
		DurQueueSettings qs;

		dur_queue_settings(p->namespace, p->task_queue, &qs);
		p->build_id = dur_queue_target_build(&qs, p->workflow_id);
	}
	else
		p->build_id = dur_text(row, W_BUILD_ID);
}

/*
 * The children a closing run leaves: an abandoned one is forgotten; for
 * the others a parent_close timer, fired at once, has the timer service
 * apply the policy (it locks the child without waiting, so the closing
 * call takes no second run lock).  The children rows go when it has.
 */
static void
dur_close_children(DurCall *call, DurRun *run)
{
	DurScan		s;
	DurRow		row;
	TimestampTz now = GetCurrentTimestamp();

	dur_scan_begin(&s, call, DUR_CHILDREN_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		if (strcmp(TextDatumGetCString(row.values[CH_PARENT_CLOSE_POLICY]), "abandon") == 0)
			dur_delete(call, DUR_CHILDREN, &row.tid);
		else
			dur_set_timer(call, run, "parent_close",
						  psprintf(INT64_FORMAT, DatumGetInt64(row.values[CH_INITIATED_EVENT_ID])),
						  now, 0);
	}
	dur_scan_end(&s);
}

/* Delete every row of a run in one table (by its primary key's first column). */
static void
dur_delete_run_rows(DurCall *call, DurRel rel, DurIdx pkey, const pg_uuid_t *run_id)
{
	DurScan		s;
	DurRow		row;

	dur_scan_begin(&s, call, pkey);
	dur_key_uuid(&s, 1, run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
		dur_delete(call, rel, &row.tid);
	dur_scan_end(&s);
}

/*
 * Delete a closing run's timers, but those that deliver what it sent to
 * other workflows: a signal or cancel it asked for reaches its target even
 * when the same workflow task closed the run, as in Temporal.
 */
static void
dur_delete_run_timers(DurCall *call, DurRun *run)
{
	DurScan		s;
	DurRow		row;

	dur_scan_begin(&s, call, DUR_TIMERS_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		char	   *kind = TextDatumGetCString(row.values[TM_KIND]);

		if (strcmp(kind, "signal_external") != 0 && strcmp(kind, "cancel_external") != 0)
			dur_delete(call, DUR_TIMERS, &row.tid);
	}
	dur_scan_end(&s);
}

/*
 * Close a run: record the outcome, drop its pending state and announce the
 * close.  The caller has recorded the closing event; the row is written by
 * dur_run_write.
 */
void
dur_close_run(DurCall *call, DurRun *run, const char *status, Datum result,
			  Jsonb *failure, const pg_uuid_t *next_run)
{
	DurJsonObj	note;
	StringInfoData payload;

	run->status = pstrdup(status);
	dur_metrics_workflow_closed(run->namespace, run->task_queue, status);
	dur_run_set(run, W_RESULT, result, result == 0);
	dur_run_set(run, W_FAILURE, JsonbPGetDatum(failure), failure == NULL);
	dur_run_set(run, W_CLOSE_TIME, TimestampTzGetDatum(GetCurrentTimestamp()), false);
	dur_run_set(run, W_NEXT_RUN_ID, next_run ? dur_uuid_datum(next_run) : (Datum) 0,
				next_run == NULL);
	run->wft_state = DUR_WFT_NONE;
	run->wft_scheduled_event_id = 0;
	run->sticky_worker = NULL;

	dur_delete_run_rows(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &run->run_id);
	dur_delete_run_timers(call, run);
	dur_delete_run_rows(call, DUR_TASKS, DUR_TASKS_PKEY, &run->run_id);
	dur_delete_run_rows(call, DUR_BUFFERED, DUR_BUFFERED_PKEY, &run->run_id);
	dur_delete_run_rows(call, DUR_SIGNAL_REQUESTS, DUR_SIGNAL_REQUESTS_PKEY, &run->run_id);

	/* updates still on their way fail (updates.c) */
	dur_update_run_closed(&run->run_id);

	/* what reaches other workflows goes on after the close (timers.c) */
	dur_close_children(call, run);
	if (!run->row.nulls[W_PARENT_RUN_ID] && next_run == NULL)
		dur_set_timer(call, run, "child_closed", "", GetCurrentTimestamp(), 0);
	if (next_run == NULL && !run->row.nulls[W_SEARCH_ATTRIBUTES])
	{
		/* a run a schedule started: its schedule hears of the close (schedules.c) */
		char	   *schedule_id = dur_schedule_of_run(run->row.values[W_SEARCH_ATTRIBUTES]);

		if (schedule_id != NULL)
			dur_set_timer(call, run, "schedule_closed", schedule_id, GetCurrentTimestamp(), 0);
	}

	/*
	 * Any role may LISTEN on a channel, and NOTIFY on it: the payload says
	 * only which run closed, and a subscriber reads the rest, with its
	 * privileges, from describe_workflow (a forged one misleads nobody).
	 */
	dj_init(&note);
	dj_uuid(&note, "run_id", &run->run_id);
	initStringInfo(&payload);
	dj_end(&note, &payload);
	dur_notify_close(run->workflow_id, payload.data);
}

/*
 * A run failed or timed out: record close_event (its attributes get
 * retry_state, new_execution_run_id and workflow_task_completed_event_id)
 * and close the run, or, if its retry policy allows, close it and start
 * the next attempt as a new run.  A run that timed out once its
 * execution deadline had passed is never retried: its retry state is
 * TIMEOUT, with a retry policy or without (Temporal's workflow timeout
 * tasks).  Returns the new run's id, or NULL.
 */
pg_uuid_t *
dur_fail_run(DurCall *call, DurRun *run, const char *status, DurEvent *close_event,
			 const DurFailure *failure, int64 wft_completed, bool timed_out)
{
	Datum	   *v = run->row.values;
	bool	   *n = run->row.nulls;
	Jsonb	   *policy = n[W_RETRY_POLICY] ? NULL : DatumGetJsonbP(v[W_RETRY_POLICY]);
	Interval   *backoff;
	const char *state;
	pg_uuid_t  *next_run = NULL;

	if (timed_out && !n[W_EXECUTION_DEADLINE] &&
		DatumGetTimestampTz(v[W_EXECUTION_DEADLINE]) <= GetCurrentTimestamp())
	{
		state = DUR_RETRY_TIMEOUT;
		backoff = NULL;
	}
	else
		state = dur_retry_backoff(policy, DatumGetInt32(v[W_ATTEMPT]), failure,
								  n[W_EXECUTION_DEADLINE] ? 0 : DatumGetTimestampTz(v[W_EXECUTION_DEADLINE]),
								  !n[W_EXECUTION_DEADLINE], false, &backoff);
	if (backoff != NULL)
		next_run = dur_new_run_id();
	dj_str(&close_event->attrs, "retry_state", state);
	dj_uuid(&close_event->attrs, "new_execution_run_id", next_run);
	dj_int_or_null(&close_event->attrs, "workflow_task_completed_event_id", wft_completed,
				   wft_completed == 0);
	(void) dur_record(run, close_event);
	dur_close_run(call, run, status, 0, dur_failure_jsonb(failure), next_run);
	dur_run_write(call, run);
	if (next_run != NULL)
	{
		DurStartParams p;
		DurRun	   *next;

		memset(&p, 0, sizeof(p));
		p.workflow_id = run->workflow_id;
		p.namespace = run->namespace;
		p.workflow_type = run->workflow_type;
		p.task_queue = run->task_queue;
		p.input = n[W_INPUT] ? 0 : v[W_INPUT];
		p.execution_timeout = n[W_EXECUTION_TIMEOUT] ? NULL : DatumGetIntervalP(v[W_EXECUTION_TIMEOUT]);
		p.run_timeout = n[W_RUN_TIMEOUT] ? NULL : DatumGetIntervalP(v[W_RUN_TIMEOUT]);
		p.task_timeout = run->task_timeout;
		p.execution_deadline = n[W_EXECUTION_DEADLINE] ? 0 : DatumGetTimestampTz(v[W_EXECUTION_DEADLINE]);
		p.first_run_id = DatumGetUUIDP(v[W_FIRST_RUN_ID]);
		p.previous_run_id = &run->run_id;
		p.attempt = DatumGetInt32(v[W_ATTEMPT]) + 1;
		p.retry_policy = v[W_RETRY_POLICY];
		p.delay = backoff;
		p.search_attributes = v[W_SEARCH_ATTRIBUTES];
		p.memo = n[W_MEMO] ? 0 : v[W_MEMO];
		p.priority = run->priority;
		dur_start_params_routing(&p, run);
		dur_start_params_inherit(&p, run);
		next = dur_start_run(call, next_run, &p);
		dur_run_write(call, next);
	}
	return next_run;
}

/* Terminate a run: its buffered events, WorkflowExecutionTerminated, the close. */
void
dur_terminate(DurCall *call, DurRun *run, const char *reason, const char *identity)
{
	DurEvent   *ev = dur_event("WorkflowExecutionTerminated");
	DurFailure	f;

	dur_record_all(run, dur_take_buffer(call, run));
	dj_str(&ev->attrs, "reason", reason);
	dj_str(&ev->attrs, "identity", identity ? identity : dur_session_user());
	(void) dur_record(run, ev);
	memset(&f, 0, sizeof(f));
	f.message = reason ? reason : "terminated";
	f.type = "TerminatedFailure";
	f.non_retryable = true;
	dur_close_run(call, run, "terminated", 0, dur_failure_jsonb(&f), NULL);
}

/*
 * A scan over a run's events with ids after "after", in order: those
 * stored, by one index range scan over the run's batches, each decoded as
 * it is reached; then, if asked, those this call recorded and has not
 * written yet.
 */
typedef struct DurEventScan
{
	DurScan		scan;
	DurBatchReader batch;
	DurRun	   *run;
	int64		after;
	bool		in_batch;		/* batch holds a batch's events */
	bool		stored;			/* stored batches are still to come */
	bool		recorded;		/* the call's own events are still to come */
} DurEventScan;

static void
dur_events_begin(DurEventScan *es, DurCall *call, DurRun *run, int64 after, bool recorded)
{
	dur_scan_begin(&es->scan, call, DUR_HISTORY_PKEY);
	dur_key_uuid(&es->scan, 1, &run->run_id);
	dur_key_int8(&es->scan, 2, BTGreaterStrategyNumber, after);
	es->run = run;
	es->after = after;
	es->in_batch = false;
	es->stored = true;
	es->recorded = recorded && run->events.nevents > 0;
}

/* The next event; the row it is read from stays until the next call. */
static bool
dur_events_next(DurEventScan *es, DurStoredEvent *ev)
{
	for (;;)
	{
		DurRow		row;
		bytea	   *b;

		while (es->in_batch && dur_batch_next(&es->batch, ev))
		{
			if (ev->event_id > es->after)
				return true;
		}
		if (es->stored && dur_scan_next(&es->scan, ForwardScanDirection, &row))
		{
			b = DatumGetByteaPP(row.values[H_EVENTS]);
			dur_batch_begin(&es->batch, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b),
							DatumGetInt64(row.values[H_LAST_EVENT_ID]));
		}
		else
		{
			/* an index scan is not asked again once it has ended */
			es->stored = false;
			if (!es->recorded)
				return false;
			dur_batch_begin_events(&es->batch, es->run->events.buf.data,
								   es->run->events.buf.len, es->run->history_length + 1);
			es->recorded = false;
		}
		es->in_batch = true;
	}
}

static void
dur_events_end(DurEventScan *es)
{
	dur_scan_end(&es->scan);
}

/*
 * Append to out the events of the run with ids after "after", as the JSON
 * workers receive, separated by ", " (no brackets): those stored, then
 * those this call recorded.
 */
void
dur_history_text(DurCall *call, DurRun *run, int64 after, StringInfo out)
{
	DurEventScan es;
	DurStoredEvent ev;
	bool		any = false;

	dur_events_begin(&es, call, run, after, true);
	while (dur_events_next(&es, &ev))
	{
		if (any)
			appendStringInfoString(out, ", ");
		dur_stored_render(out, &ev);
		any = true;
	}
	dur_events_end(&es);
}

/*
 * The id of the last ActivityTaskScheduled of the run for activity id aid,
 * or 0: a cancel request for an activity that closed already names it.
 */
int64
dur_find_scheduled_activity(DurCall *call, DurRun *run, const char *aid)
{
	DurEventScan es;
	DurStoredEvent ev;
	int64		found = 0;
	StringInfoData want;
	StringInfoData v;

	initStringInfo(&want);
	escape_json(&want, aid);
	initStringInfo(&v);
	dur_events_begin(&es, call, run, 0, false);
	while (dur_events_next(&es, &ev))
	{
		if (ev.type_len != strlen("ActivityTaskScheduled") ||
			memcmp(ev.type, "ActivityTaskScheduled", ev.type_len) != 0)
			continue;
		resetStringInfo(&v);
		if (dur_stored_value(&ev, "activity_id", &v) && strcmp(v.data, want.data) == 0)
			found = ev.event_id;
	}
	dur_events_end(&es);
	return found;
}

/*
 * Drop a TimerFired of timer tid buffered for the run (a cancel_timer wins
 * over a fire that arrived while the task ran).  Returns whether there was
 * one, and its started_event_id.
 */
bool
dur_take_buffered_timer_fired(DurCall *call, DurRun *run, const char *tid, int64 *started_event_id)
{
	DurScan		s;
	DurRow		row;
	bool		found = false;

	dur_scan_begin(&s, call, DUR_BUFFERED_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (!found && dur_scan_next(&s, ForwardScanDirection, &row))
	{
		Jsonb	   *attrs;
		char	   *id;
		char	   *started;

		if (strcmp(TextDatumGetCString(row.values[B_EVENT_TYPE]), "TimerFired") != 0)
			continue;
		attrs = DatumGetJsonbP(row.values[B_ATTRIBUTES]);
		id = dur_jsonb_get_text(attrs, "timer_id");
		if (id == NULL || strcmp(id, tid) != 0)
			continue;
		started = dur_jsonb_get_text(attrs, "started_event_id");
		*started_event_id = started ? strtoi64(started, NULL, 10) : 0;
		found = true;
		dur_delete(call, DUR_BUFFERED, &row.tid);
	}
	dur_scan_end(&s);
	return found;
}

/*
 * Put the run's stored events into a tuplestore as rows of durable.history
 * (run_id, event_id, event_type, event_time, attributes, namespace), in
 * order.
 */
void
dur_history_rows(DurCall *call, DurRun *run, Tuplestorestate *store, TupleDesc desc)
{
	DurEventScan es;
	DurStoredEvent ev;
	StringInfoData a;

	initStringInfo(&a);
	dur_events_begin(&es, call, run, 0, false);
	while (dur_events_next(&es, &ev))
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		resetStringInfo(&a);
		dur_stored_attributes(&a, &ev);
		values[0] = UUIDPGetDatum(&run->run_id);
		values[1] = Int64GetDatum(ev.event_id);
		values[2] = PointerGetDatum(cstring_to_text_with_len(ev.type, ev.type_len));
		values[3] = TimestampTzGetDatum(ev.time);
		values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(a.data));
		values[5] = run->row.values[W_NAMESPACE];
		tuplestore_putvalues(store, desc, values, nulls);
	}
	dur_events_end(&es);
}

/*
 * The attributes of a run's last event (its closing event, for a closed
 * run), as jsonb; NULL when it has none.
 */
Jsonb *
dur_last_event_attributes(DurCall *call, DurRun *run)
{
	DurEventScan es;
	DurStoredEvent ev;
	StringInfoData a;
	Jsonb	   *result = NULL;

	initStringInfo(&a);
	dur_events_begin(&es, call, run, run->history_length - 1, false);
	while (dur_events_next(&es, &ev))
	{
		resetStringInfo(&a);
		dur_stored_attributes(&a, &ev);
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(a.data)));
	}
	dur_events_end(&es);
	return result;
}

/*
 * A new run from a whole row (reset_workflow builds it from the run it
 * resets): inserted by dur_run_write.
 */
DurRun *
dur_run_new_from_row(Datum *values, bool *nulls)
{
	DurRow		row;
	DurRun	   *run;

	memset(&row, 0, sizeof(row));
	row.values = values;
	row.nulls = nulls;
	run = dur_run_unpack(&row);
	run->is_new = true;
	run->written = false;
	return run;
}

/* Every stored event of a run, in order, as DurOldEvents. */
List *
dur_run_events(DurCall *call, DurRun *run)
{
	DurEventScan es;
	DurStoredEvent ev;
	StringInfoData a;
	List	   *events = NIL;

	initStringInfo(&a);
	dur_events_begin(&es, call, run, 0, false);
	while (dur_events_next(&es, &ev))
	{
		DurOldEvent *e = palloc(sizeof(DurOldEvent));

		resetStringInfo(&a);
		dur_stored_attributes(&a, &ev);
		e->id = ev.event_id;
		e->type = pnstrdup(ev.type, ev.type_len);
		e->time = ev.time;
		e->attrs = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(a.data)));
		events = lappend(events, e);
	}
	dur_events_end(&es);
	return events;
}

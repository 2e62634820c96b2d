/*-------------------------------------------------------------------------
 *
 * activities.c
 *	  Activities: scheduling, attempts, retries, heartbeats, completion and
 *	  cancellation.
 *
 * An activity is a row of durable.activities from its ActivityTaskScheduled
 * until it closes; its attempts are task rows (matching.c).  States:
 *
 *	scheduled	an attempt is ready or started (its task row says which)
 *	backoff		a failed attempt waits for its activity_retry timer
 *
 * Retries add no history events: the closing pair, ActivityTaskStarted and
 * ActivityTaskCompleted / Failed / TimedOut / Canceled, is written when the
 * activity closes and carries the final attempt, as Temporal does.  Every
 * attempt that ends (retried or final, started or not) is one row of
 * durable.activity_attempts (dur_log_attempt), so retries can be counted;
 * a first attempt that completes only with durable.log_first_attempt_success
 * (its history has it).  The retry decision is Temporal's (util.c).  The last heartbeat's details are
 * kept on the row and handed to the next attempt.
 *
 * Heartbeats.  heartbeat_activity takes no lock and writes no table: it
 * checks its token against the rows as a snapshot shows them and records
 * the time and details in a slot of shared memory, at once and outside the
 * caller's transaction (a heartbeat is progress, not a change to commit or
 * roll back).  So a worker can heartbeat from inside the transaction in
 * which it will complete the activity with its own writes (exactly once),
 * without holding the run's lock (signals and the timer service go on) and
 * without the engine missing the heartbeat.  The engine makes a heartbeat
 * durable when it matters: when the attempt's lease runs out, the timer
 * service (timers.c, dur_heartbeat_extend) finds the recent heartbeat,
 * extends the lease to it plus the heartbeat timeout and writes its
 * details to the row; when an attempt ends, its slot's details go to the
 * row first (dur_heartbeat_settle).  A server crash loses at most one
 * heartbeat timeout's worth of details; a worker crash loses nothing.
 * Details larger than a slot, or a full table of slots, fall back to the
 * locked, transactional write of 0.2 (as does heartbeat_activity_by_id).
 *
 * Invariants:
 *	- an activity token names an attempt (run, scheduled event id,
 *	  attempt), not a lease: a worker that ran an attempt across a crash can
 *	  still complete it;
 *	- a closed activity has no row, no task row and no timers;
 *	- a cancellation request of a running attempt is recorded on the row
 *	  and answered by heartbeat_activity; a queued or backing-off activity
 *	  is canceled at once (commands.c).
 *
 * Lock order: the run's lock first (dur_lock_activity), then its rows.
 * The heartbeat slots' LWLock is taken alone, for a few loads and stores.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "activities.h"
#include "commands.h"
#include "durable.h"
#include "history.h"
#include "matching.h"
#include "metrics.h"
#include "timers.h"

PG_FUNCTION_INFO_V1(complete_activity);
PG_FUNCTION_INFO_V1(fail_activity);
PG_FUNCTION_INFO_V1(heartbeat_activity);
PG_FUNCTION_INFO_V1(report_activity_canceled);
PG_FUNCTION_INFO_V1(complete_activity_by_id);
PG_FUNCTION_INFO_V1(fail_activity_by_id);
PG_FUNCTION_INFO_V1(heartbeat_activity_by_id);
PG_FUNCTION_INFO_V1(report_activity_canceled_by_id);

/*
 * Find a pending activity of the run by its activity id (the run's pending
 * activities, by their primary key's prefix); its row is copied to *row.
 */
bool
dur_find_activity(DurCall *call, DurRun *run, const char *aid, DurRow *row)
{
	DurScan		s;
	DurRow		r;
	int64		seid = -1;

	dur_scan_begin(&s, call, DUR_ACTIVITIES_PKEY);
	dur_key_uuid(&s, 1, &run->run_id);
	while (dur_scan_next(&s, ForwardScanDirection, &r))
	{
		if (strcmp(TextDatumGetCString(r.values[A_ACTIVITY_ID]), aid) == 0)
		{
			seid = DatumGetInt64(r.values[A_SCHEDULED_EVENT_ID]);
			break;
		}
	}
	dur_scan_end(&s);
	return seid >= 0 && dur_fetch(call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &run->run_id, seid, row);
}

/* A failure the engine makes for a timeout. */
void
dur_timeout_failure(DurFailure *f, const char *message, bool non_retryable, Jsonb *details,
					const char *timeout_type)
{
	memset(f, 0, sizeof(DurFailure));
	f->message = message;
	f->type = "TimeoutError";
	f->non_retryable = non_retryable;
	f->details = details;
	f->timeout_type = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														 CStringGetDatum(psprintf("\"%s\"", timeout_type))));
}

/*
 * The schedule_activity command: check it, make the activity and its task,
 * and record its ActivityTaskScheduled.  pending holds the ids of the
 * run's pending activities, read at the completion's first
 * schedule_activity (activity ids are checked for uniqueness here: the
 * table has no index on them, which would cost every activity an index
 * entry).  With eager_worker and
 * request_eager_execution on the workflow's own queue the activity is
 * started for eager_worker and returned (eager dispatch).
 */
DurTask *
dur_schedule_activity(DurCall *call, DurRun *run, Jsonb *cmd, int index, int64 completed,
					  const char *eager_worker, DurPendingIds *pending, DurEvent **event)
{
	static const char *const fields[] = {
		"activity_id", "activity_type", "input", "task_queue", "schedule_to_close_timeout",
		"schedule_to_start_timeout", "start_to_close_timeout", "heartbeat_timeout",
		"retry_policy", "priority", "request_eager_execution", "fairness_key",
		"fairness_weight", "required_capabilities", "pinned_worker", NULL
	};
	char	   *what = psprintf("command %d (schedule_activity)", index);
	char	   *aid;
	char	   *atype;
	char	   *queue;
	Jsonb	   *input;
	Interval   *s2close;
	Interval   *s2start;
	Interval   *s2c;
	Interval   *hb;
	Interval   *run_left;
	DurCmdRouting routing;
	Jsonb	   *policy;
	Jsonb	   *eager;
	const char *t;
	ListCell   *lc;
	Datum		v[A_NCOLS];
	bool		n[A_NCOLS];
	DurRow		a;
	TimestampTz now = GetCurrentTimestamp();
	int64		seid;
	DurEvent   *ev;
	DurTask    *task;
	int			i;

	dur_cmd_fields(cmd, index, "schedule_activity", fields);
	aid = dur_cmd_text(cmd, "activity_id", index, true);
	dur_check_id(aid, psprintf("activity_id of %s", what));
	atype = dur_cmd_text(cmd, "activity_type", index, true);
	dur_check_id(atype, psprintf("activity_type of %s", what));
	queue = dur_cmd_text(cmd, "task_queue", index, false);
	dur_check_id(queue, psprintf("task_queue of %s", what));
	if (queue == NULL)
		queue = run->task_queue;
	input = dur_jsonb_get(cmd, "input");
	if (input != NULL)
		dur_check_payload(JsonbPGetDatum(input), psprintf("input of %s", what));
	s2close = dur_cmd_interval(cmd, "schedule_to_close_timeout", index);
	s2start = dur_cmd_interval(cmd, "schedule_to_start_timeout", index);
	s2c = dur_cmd_interval(cmd, "start_to_close_timeout", index);
	hb = dur_cmd_interval(cmd, "heartbeat_timeout", index);
	/* nullif(..., '0') */
	if (s2close && dur_interval_is_zero(s2close))
		s2close = NULL;
	if (s2start && dur_interval_is_zero(s2start))
		s2start = NULL;
	if (s2c && dur_interval_is_zero(s2c))
		s2c = NULL;
	if (hb && dur_interval_is_zero(hb))
		hb = NULL;
	dur_cmd_routing(cmd, index, run, &routing);
	eager = dur_jsonb_get(cmd, "request_eager_execution");
	if (eager != NULL)
	{
		t = dur_jsonb_typeof(eager);
		if (strcmp(t, "boolean") != 0 && strcmp(t, "null") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("field \"request_eager_execution\" of %s must be a boolean", what)));
	}
	policy = dur_retry_policy(dur_jsonb_get(cmd, "retry_policy"), psprintf("retry_policy of %s", what));

	/* Temporal's normalisation of the four timeouts */
	run_left = run->row.nulls[W_RUN_TIMEOUT] ? NULL : DatumGetIntervalP(run->row.values[W_RUN_TIMEOUT]);
	if (s2close != NULL)
	{
		s2start = dur_interval_min(s2start ? s2start : s2close, s2close);
		s2c = dur_interval_min(s2c ? s2c : s2close, s2close);
	}
	else if (s2c != NULL)
	{
		s2close = run_left;
		if (s2start == NULL)
			s2start = run_left;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("%s needs start_to_close_timeout or schedule_to_close_timeout", what),
				 errdetail("%s", dur_cmd_excerpt(cmd)),
				 errhint("Set start_to_close_timeout, as Temporal requires.")));
	if (run_left != NULL)
	{
		s2close = dur_interval_min(s2close, run_left);
		s2start = dur_interval_min(s2start, run_left);
		s2c = dur_interval_min(s2c, run_left);
	}
	if (hb != NULL)
		hb = dur_interval_min(hb, s2c);

	/* the activity id must not be in use by a pending activity */
	if (!pending->loaded)
	{
		DurScan		ps;
		DurRow		prow;

		dur_scan_begin(&ps, call, DUR_ACTIVITIES_PKEY);
		dur_key_uuid(&ps, 1, &run->run_id);
		while (dur_scan_next(&ps, ForwardScanDirection, &prow))
			pending->ids = lappend(pending->ids, TextDatumGetCString(prow.values[A_ACTIVITY_ID]));
		dur_scan_end(&ps);
		pending->loaded = true;
	}
	foreach(lc, pending->ids)
	{
		if (strcmp((char *) lfirst(lc), aid) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_DUPLICATE_ID),
					 errmsg("activity id \"%s\" is already in use", aid),
					 errdetail("%s schedules an activity whose id another pending activity of run %s has.",
							   what, dur_uuid_text(&run->run_id)),
					 errhint("Use a unique activity id for each pending activity.")));
	}
	pending->ids = lappend(pending->ids, aid);

	seid = dur_next_event_id(run);
	for (i = 0; i < A_NCOLS; i++)
		n[i] = true;
#define SETA(col, datum) (v[col] = (datum), n[col] = false)
	SETA(A_RUN_ID, UUIDPGetDatum(&run->run_id));
	SETA(A_SCHEDULED_EVENT_ID, Int64GetDatum(seid));
	SETA(A_ACTIVITY_ID, CStringGetTextDatum(aid));
	SETA(A_ACTIVITY_TYPE, CStringGetTextDatum(atype));
	SETA(A_TASK_QUEUE, CStringGetTextDatum(queue));
	if (input != NULL)
		SETA(A_INPUT, JsonbPGetDatum(input));
	SETA(A_PRIORITY, Int32GetDatum(routing.priority));
	if (s2close)
		SETA(A_SCHEDULE_TO_CLOSE_TIMEOUT, IntervalPGetDatum(s2close));
	if (s2start)
		SETA(A_SCHEDULE_TO_START_TIMEOUT, IntervalPGetDatum(s2start));
	SETA(A_START_TO_CLOSE_TIMEOUT, IntervalPGetDatum(s2c));
	if (hb)
		SETA(A_HEARTBEAT_TIMEOUT, IntervalPGetDatum(hb));
	if (policy != dur_default_retry_policy())
		SETA(A_RETRY_POLICY, JsonbPGetDatum(policy));	/* NULL: Temporal's default */
	SETA(A_SCHEDULED_TIME, TimestampTzGetDatum(now));
	if (s2close)
		SETA(A_EXPIRATION_TIME, TimestampTzGetDatum(dur_time_plus(now, s2close)));
	SETA(A_ATTEMPT, Int32GetDatum(1));
	SETA(A_STATE, CStringGetTextDatum("scheduled"));
	SETA(A_READY_TIME, TimestampTzGetDatum(now));
	SETA(A_WORKFLOW_ID, run->row.values[W_WORKFLOW_ID]);
	SETA(A_NAMESPACE, run->row.values[W_NAMESPACE]);
	if (routing.fairness_key != NULL)
		SETA(A_FAIRNESS_KEY, CStringGetTextDatum(routing.fairness_key));
	if (routing.fairness_weight > 0)
		SETA(A_FAIRNESS_WEIGHT, Float4GetDatum(routing.fairness_weight));
	if (routing.required_capabilities != NULL)
		SETA(A_REQUIRED_CAPABILITIES, JsonbPGetDatum(routing.required_capabilities));
	if (routing.pinned_worker != NULL)
		SETA(A_PINNED_WORKER, CStringGetTextDatum(routing.pinned_worker));
#undef SETA
	dur_insert(call, DUR_ACTIVITIES, v, n, &a.tid);
	a.values = v;
	a.nulls = n;

	if (eager_worker != NULL && eager != NULL && strcmp(dur_jsonb_typeof(eager), "boolean") == 0 &&
		strcmp(dur_jsonb_get_text(cmd, "request_eager_execution"), "true") == 0 &&
		strcmp(queue, run->task_queue) == 0)
		task = dur_enqueue_activity(call, run, &a, eager_worker, NULL);
	else
		task = dur_enqueue_activity(call, run, &a, NULL, NULL);
	if (s2close != NULL)
		dur_set_timer(call, run, "activity_schedule_to_close", psprintf(INT64_FORMAT, seid),
					  dur_time_plus(now, s2close), 0);

	ev = dur_event("ActivityTaskScheduled");
	dj_str(&ev->attrs, "activity_id", aid);
	dj_str(&ev->attrs, "activity_type", atype);
	dj_str(&ev->attrs, "task_queue", queue);
	dj_jsonb(&ev->attrs, "input", input);
	dj_duration(&ev->attrs, "schedule_to_close_timeout", s2close);
	dj_duration(&ev->attrs, "schedule_to_start_timeout", s2start);
	dj_duration(&ev->attrs, "start_to_close_timeout", s2c);
	dj_duration(&ev->attrs, "heartbeat_timeout", hb);
	dj_jsonb(&ev->attrs, "retry_policy", policy);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", completed);
	*event = ev;
	return task;
}

/*
 * Log an attempt that ended in durable.activity_attempts: the activity's
 * current attempt (a->values[A_ATTEMPT]), with its outcome, and the
 * failure of a failed or timed-out one.  One heap row and its primary-key
 * entry, in the transaction that ends the attempt.  A first attempt that
 * completed is logged only with durable.log_first_attempt_success: it is
 * most activities, and its history has it (the measured cost of logging
 * it is in docs/search-attributes.md).
 */
void
dur_log_attempt(DurCall *call, DurRun *run, DurRow *a, DurRow *task, const char *outcome,
				const DurFailure *failure)
{
	Datum		v[AA_NCOLS];
	bool		n[AA_NCOLS];

	if (!dur_log_first_attempt_success && DatumGetInt32(a->values[A_ATTEMPT]) == 1 &&
		strcmp(outcome, "completed") == 0)
		return;
	memset(n, false, sizeof(n));
	v[AA_NAMESPACE] = CStringGetTextDatum(run->namespace);
	v[AA_WORKFLOW_ID] = CStringGetTextDatum(run->workflow_id);
	v[AA_RUN_ID] = UUIDPGetDatum(&run->run_id);
	v[AA_SCHEDULED_EVENT_ID] = a->values[A_SCHEDULED_EVENT_ID];
	v[AA_ATTEMPT] = a->values[A_ATTEMPT];
	v[AA_ACTIVITY_TYPE] = a->values[A_ACTIVITY_TYPE];
	v[AA_TASK_QUEUE] = a->values[A_TASK_QUEUE];
	n[AA_STARTED_TIME] = task == NULL || task->nulls[T_STARTED_TIME];
	v[AA_STARTED_TIME] = n[AA_STARTED_TIME] ? (Datum) 0 : task->values[T_STARTED_TIME];
	v[AA_CLOSED_TIME] = TimestampTzGetDatum(GetCurrentTimestamp());
	v[AA_OUTCOME] = CStringGetTextDatum(outcome);
	n[AA_FAILURE] = failure == NULL;
	v[AA_FAILURE] = failure == NULL ? (Datum) 0 : JsonbPGetDatum(dur_failure_jsonb(failure));
	dur_insert(call, DUR_ACTIVITY_ATTEMPTS, v, n, NULL);
}

/* The attempt outcome a closing event stands for. */
static const char *
dur_close_outcome(const DurEvent *close)
{
	if (strcmp(close->type, "ActivityTaskCompleted") == 0)
		return "completed";
	if (strcmp(close->type, "ActivityTaskFailed") == 0)
		return "failed";
	if (strcmp(close->type, "ActivityTaskTimedOut") == 0)
		return "timed_out";
	if (strcmp(close->type, "ActivityTaskCanceled") == 0)
		return "canceled";
	elog(ERROR, "durable: %s does not close an activity", close->type);
	return NULL;				/* keep compiler quiet */
}

/*
 * Close an activity: log its last attempt (failure: of a failed or timed-
 * out one), forget it (its row, task row and timers), and deliver
 * ActivityTaskStarted (if an attempt was running) and the closing event
 * like any outside event.  With worker, the workflow task the delivery
 * makes ready is started for that worker and returned (see dur_deliver).
 */
DurTask *
dur_close_activity(DurCall *call, DurRun *run, DurRow *a, DurRow *task, const char *identity,
				   DurEvent *close, const DurFailure *failure, bool started, const char *worker)
{
	int64		seid = DatumGetInt64(a->values[A_SCHEDULED_EVENT_ID]);
	List	   *events = NIL;

	dur_log_attempt(call, run, a, task, dur_close_outcome(close), failure);
	dur_heartbeat_settle(a);
	dur_delete(call, DUR_ACTIVITIES, &a->tid);
	if (task != NULL)
		dur_delete(call, DUR_TASKS, &task->tid);
	/* its timers: a schedule-to-close deadline, a retry while backing off */
	if (!a->nulls[A_EXPIRATION_TIME] || strcmp(TextDatumGetCString(a->values[A_STATE]), "backoff") == 0)
	{
		char	   *tid = psprintf(INT64_FORMAT, seid);

		(void) dur_delete_timer(call, run, "activity_retry", tid);
		(void) dur_delete_timer(call, run, "activity_schedule_to_close", tid);
	}
	dj_int(&close->attrs, "scheduled_event_id", seid);
	if (started)
	{
		/* the attempt's start is recorded only now, with the attempt that closed it */
		DurEvent   *ev = dur_event("ActivityTaskStarted");

		dj_int(&ev->attrs, "scheduled_event_id", seid);
		dj_str(&ev->attrs, "identity", identity ? identity :
			   a->nulls[A_LAST_WORKER_ID] ? NULL : TextDatumGetCString(a->values[A_LAST_WORKER_ID]));
		dj_int(&ev->attrs, "attempt", DatumGetInt32(a->values[A_ATTEMPT]));
		dj_jsonb_datum(&ev->attrs, "last_failure", a->values[A_LAST_FAILURE], a->nulls[A_LAST_FAILURE]);
		events = lappend(events, ev);
		close->started_is_previous = true;
	}
	else
		dj_null(&close->attrs, "started_event_id");
	events = lappend(events, close);
	return dur_deliver(call, run, events, worker);
}

/*
 * An activity attempt failed or timed out: schedule the next attempt after
 * its backoff, or close the activity.  With worker, a workflow task the
 * close schedules is started for that worker and returned.
 */
DurTask *
dur_activity_attempt_failed(DurCall *call, DurRun *run, DurRow *a, DurRow *task,
							const DurFailure *failure, const char *identity, bool timeout,
							const char *worker)
{
	Interval   *backoff;
	const char *state;
	DurJsonObj	fo;
	char	   *queue = TextDatumGetCString(a->values[A_TASK_QUEUE]);
	JsonbValue	tt;

	if (timeout && failure->timeout_type != NULL &&
		JsonbExtractScalar(&failure->timeout_type->root, &tt) && tt.type == jbvString)
		dur_metrics_activity_timeout(run->namespace, queue,
									 pnstrdup(tt.val.string.val, tt.val.string.len));
	dur_heartbeat_settle(a);
	state = dur_retry_backoff(a->nulls[A_RETRY_POLICY] ? dur_default_retry_policy() :
							  DatumGetJsonbP(a->values[A_RETRY_POLICY]),
							  DatumGetInt32(a->values[A_ATTEMPT]), failure,
							  a->nulls[A_EXPIRATION_TIME] ? 0 : DatumGetTimestampTz(a->values[A_EXPIRATION_TIME]),
							  !a->nulls[A_EXPIRATION_TIME], !a->nulls[A_CANCEL_REQUESTED_EVENT_ID],
							  &backoff);
	if (backoff == NULL)
	{
		DurEvent   *ev = dur_event(timeout ? "ActivityTaskTimedOut" : "ActivityTaskFailed");

		dj_init(&fo);
		dur_failure_fields(failure, &fo);
		dj_obj(&ev->attrs, "failure", &fo);
		if (!timeout)
			dj_str(&ev->attrs, "identity", identity);
		dj_str(&ev->attrs, "retry_state", state);
		return dur_close_activity(call, run, a, task, identity, ev, failure, true, worker);
	}
	/* retried: this attempt leaves no event, only its row in the log */
	dur_log_attempt(call, run, a, task, timeout ? "timed_out" : "failed", failure);
	if (task != NULL)
		dur_delete(call, DUR_TASKS, &task->tid);
	dur_metrics_count(run->namespace, queue, DUR_C_ACTIVITY_RETRY, 1);
	a->values[A_ATTEMPT] = Int32GetDatum(DatumGetInt32(a->values[A_ATTEMPT]) + 1);
	a->values[A_STATE] = CStringGetTextDatum("backoff");
	a->values[A_LAST_FAILURE] = JsonbPGetDatum(dur_failure_jsonb(failure));
	a->nulls[A_LAST_FAILURE] = false;
	if (identity != NULL)
	{
		a->values[A_LAST_WORKER_ID] = CStringGetTextDatum(identity);
		a->nulls[A_LAST_WORKER_ID] = false;
	}
	dur_update(call, DUR_ACTIVITIES, &a->tid, a->values, a->nulls, &a->tid);
	dur_set_timer(call, run, "activity_retry",
				  psprintf(INT64_FORMAT, DatumGetInt64(a->values[A_SCHEDULED_EVENT_ID])),
				  dur_time_plus(GetCurrentTimestamp(), backoff), 0);
	return NULL;
}

/* What an activity call holds: the run, the activity and its lease. */
typedef struct DurActivityLock
{
	DurCall    *call;
	DurRun	   *run;
	DurRow		a;
	DurRow		task;
	bool		has_task;
	char	   *worker;			/* the lease's worker, or NULL */
} DurActivityLock;

/* Heartbeat slots in shared memory (see the file header). */
#define DUR_HEARTBEAT_SLOTS			4096
#define DUR_HEARTBEAT_DETAILS_MAX	2048
/* a slot not written for this long may be taken for another attempt */
#define DUR_HEARTBEAT_STALE_SECS	600

typedef struct DurBeatTag
{
	Oid			dboid;
	int32		attempt;
	pg_uuid_t	run_id;
	int64		seid;
} DurBeatTag;

typedef struct DurBeat
{
	DurBeatTag	tag;
	TimestampTz at;				/* the last heartbeat */
	int32		len;			/* of details, a jsonb; -1: none */
	char		details[DUR_HEARTBEAT_DETAILS_MAX];
} DurBeat;

static LWLock *beats_lock = NULL;
static HTAB *beats = NULL;

Size
dur_heartbeats_shmem_size(void)
{
	return hash_estimate_size(DUR_HEARTBEAT_SLOTS, sizeof(DurBeat));
}

/* Called from shmem_request_hook (through dur_shmem_request). */
void
dur_heartbeats_shmem_request(void)
{
	RequestAddinShmemSpace(dur_heartbeats_shmem_size());
	RequestNamedLWLockTranche("durable_heartbeats", 1);
}

/* Called from shmem_startup_hook: create or attach. */
void
dur_heartbeats_shmem_startup(void)
{
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	beats_lock = &(GetNamedLWLockTranche("durable_heartbeats"))->lock;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(DurBeatTag);
	info.entrysize = sizeof(DurBeat);
	beats = ShmemInitHash("durable heartbeats", DUR_HEARTBEAT_SLOTS, DUR_HEARTBEAT_SLOTS,
						  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

static void
dur_beat_tag(DurBeatTag *tag, const pg_uuid_t *run_id, int64 seid, int32 attempt)
{
	memset(tag, 0, sizeof(*tag));
	tag->dboid = MyDatabaseId;
	tag->attempt = attempt;
	memcpy(&tag->run_id, run_id, sizeof(pg_uuid_t));
	tag->seid = seid;
}

/*
 * Record a heartbeat of an attempt; false when it does not fit (details
 * too large, or every slot recently written), and the caller writes it
 * the locked way.
 */
static bool
dur_beat_record(const pg_uuid_t *run_id, int64 seid, int32 attempt, Jsonb *details)
{
	DurBeatTag	tag;
	DurBeat    *b;
	bool		found;
	TimestampTz now = GetCurrentTimestamp();

	if (beats == NULL || (details != NULL && VARSIZE(details) > DUR_HEARTBEAT_DETAILS_MAX))
		return false;
	dur_beat_tag(&tag, run_id, seid, attempt);
	LWLockAcquire(beats_lock, LW_EXCLUSIVE);
	b = hash_search(beats, &tag, HASH_ENTER_NULL, &found);
	if (b == NULL)
	{
		HASH_SEQ_STATUS seq;
		DurBeat    *e;
		DurBeat    *oldest = NULL;

		hash_seq_init(&seq, beats);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (oldest == NULL || e->at < oldest->at)
				oldest = e;
		if (oldest == NULL || oldest->at > now - DUR_HEARTBEAT_STALE_SECS * USECS_PER_SEC)
		{
			LWLockRelease(beats_lock);
			return false;
		}
		tag = oldest->tag;
		(void) hash_search(beats, &tag, HASH_REMOVE, NULL);
		dur_beat_tag(&tag, run_id, seid, attempt);
		b = hash_search(beats, &tag, HASH_ENTER, &found);
	}
	b->at = now;
	b->len = details == NULL ? -1 : VARSIZE(details);
	if (details != NULL)
		memcpy(b->details, details, VARSIZE(details));
	LWLockRelease(beats_lock);
	return true;
}

/*
 * The last heartbeat recorded in shared memory for the attempt of row a:
 * its time (0: none) and, into a, its details.  With forget, the slot is
 * freed (the attempt ends).
 */
static TimestampTz
dur_beat_take(DurRow *a, bool forget)
{
	DurBeatTag	tag;
	DurBeat    *b;
	TimestampTz at = 0;
	Jsonb	   *details = NULL;
	bool		has = false;

	if (beats == NULL)
		return 0;
	dur_beat_tag(&tag, DatumGetUUIDP(a->values[A_RUN_ID]), DatumGetInt64(a->values[A_SCHEDULED_EVENT_ID]),
				 DatumGetInt32(a->values[A_ATTEMPT]));
	LWLockAcquire(beats_lock, forget ? LW_EXCLUSIVE : LW_SHARED);
	b = hash_search(beats, &tag, HASH_FIND, NULL);
	if (b != NULL)
	{
		at = b->at;
		has = b->len >= 0;
		if (has)
		{
			details = palloc(b->len);
			memcpy(details, b->details, b->len);
		}
		if (forget)
			(void) hash_search(beats, &tag, HASH_REMOVE, NULL);
	}
	LWLockRelease(beats_lock);
	if (at != 0)
	{
		a->values[A_HEARTBEAT_DETAILS] = has ? JsonbPGetDatum(details) : (Datum) 0;
		a->nulls[A_HEARTBEAT_DETAILS] = !has;
	}
	return at;
}

/*
 * An attempt ends: the details of its last heartbeat, if it was recorded
 * in shared memory, go to row a (written by the caller), and the slot is
 * freed.
 */
void
dur_heartbeat_settle(DurRow *a)
{
	(void) dur_beat_take(a, true);
}

/*
 * The lease of a started attempt ran out (timers.c): if a heartbeat came
 * within its heartbeat timeout, extend the lease to it plus the timeout
 * (never past the start-to-close deadline) and write its details to the
 * row, and return true; else false, the details on a, and the attempt
 * times out.  The caller holds the run's lock.
 */
bool
dur_heartbeat_extend(DurCall *call, DurRow *a, DurRow *task)
{
	TimestampTz at;
	TimestampTz lease;
	TimestampTz limit;

	if (a->nulls[A_HEARTBEAT_TIMEOUT] || task->nulls[T_STARTED_TIME])
		return false;
	at = dur_beat_take(a, false);
	if (at == 0)
		return false;
	lease = dur_time_plus(at, DatumGetIntervalP(a->values[A_HEARTBEAT_TIMEOUT]));
	limit = dur_time_plus(DatumGetTimestampTz(task->values[T_STARTED_TIME]),
						  DatumGetIntervalP(a->values[A_START_TO_CLOSE_TIMEOUT]));
	if (lease > limit)
		lease = limit;
	if (lease <= GetCurrentTimestamp())
		return false;
	dur_update(call, DUR_ACTIVITIES, &a->tid, a->values, a->nulls, NULL);
	task->values[T_LEASE_DEADLINE] = TimestampTzGetDatum(lease);
	dur_update(call, DUR_TASKS, &task->tid, task->values, task->nulls, NULL);
	dur_notify_timer(lease);
	return true;
}

/*
 * Read the run and activity an activity token names, the run locked
 * (lock) or only looked at with a new snapshot, or raise
 * stale_task_token.  Also reads the lease, if there is one.
 */
static void
dur_open_activity(const char *token, DurActivityLock *lk, bool lock)
{
	DurToken	tok;

	dur_parse_token(token, 'a', &tok);
	lk->call = dur_call_begin();
	lk->run = dur_run_for_token(lk->call, token, &tok, lock);
	if (!dur_fetch(lk->call, DUR_ACTIVITIES, DUR_ACTIVITIES_PKEY, &tok.run_id, tok.n1, &lk->a) ||
		DatumGetInt32(lk->a.values[A_ATTEMPT]) != tok.n2 ||
		strcmp(TextDatumGetCString(lk->a.values[A_STATE]), "scheduled") != 0)
		dur_stale(token, "The activity attempt is no longer outstanding.");
	lk->has_task = dur_fetch(lk->call, DUR_TASKS, DUR_TASKS_PKEY, &tok.run_id, tok.n1, &lk->task);
	lk->worker = lk->has_task && !lk->task.nulls[T_WORKER_ID] ?
		TextDatumGetCString(lk->task.values[T_WORKER_ID]) : NULL;
	dur_check_legacy_token(token, &tok, lk->has_task ? &lk->task : NULL);
}

/* Lock the run and activity an activity token names (dur_open_activity). */
static void
dur_lock_activity(const char *token, DurActivityLock *lk)
{
	dur_open_activity(token, lk, true);
}

/* The worker reports the attempt's outcome: its execution time, for the metrics. */
static void
dur_activity_executed(DurActivityLock *lk)
{
	if (lk->has_task && !lk->task.nulls[T_STARTED_TIME])
		dur_metrics_executed(lk->run->namespace, TextDatumGetCString(lk->a.values[A_TASK_QUEUE]),
							 true, DatumGetTimestampTz(lk->task.values[T_STARTED_TIME]));
}

/*
 * The worker a completion may hand the workflow task to: the one that held
 * the activity, if it asked and the activity ran on the workflow's queue.
 */
static const char *
dur_eager_worker(bool asked, DurActivityLock *lk)
{
	if (asked && strcmp(TextDatumGetCString(lk->a.values[A_TASK_QUEUE]), lk->run->task_queue) == 0)
		return lk->worker;
	return NULL;
}

/*
 * The result of an activity completion: NULL unless the caller asked for
 * the workflow task, else {"tasks": [...]}.
 */
static Datum
dur_activity_result(FunctionCallInfo fcinfo, bool asked, DurTask *t)
{
	StringInfoData out;

	if (!asked)
	{
		fcinfo->isnull = true;
		return (Datum) 0;
	}
	initStringInfo(&out);
	dur_tasks_result(t ? list_make1(t) : NIL, NULL, true, &out);
	return PointerGetDatum(cstring_to_text_with_len(out.data, out.len));
}

/* The text argument n of the call as a C string, NULL for NULL. */
static char *
dur_arg_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* complete_activity's work, for a token (also used by the _by_id form). */
static DurTask *
dur_complete_activity(const char *token, Datum result, bool has_result, bool asked)
{
	DurActivityLock lk;
	DurEvent   *ev;
	DurTask    *t;

	dur_lock_activity(token, &lk);
	dur_activity_executed(&lk);
	if (has_result)
		dur_check_payload(result, "result");
	ev = dur_event("ActivityTaskCompleted");
	dj_jsonb_datum(&ev->attrs, "result", result, !has_result);
	dj_str(&ev->attrs, "identity", lk.worker);
	t = dur_close_activity(lk.call, lk.run, &lk.a, lk.has_task ? &lk.task : NULL, lk.worker, ev,
						   NULL, true, dur_eager_worker(asked, &lk));
	dur_run_write(lk.call, lk.run);
	dur_call_end(lk.call);
	return t;
}

/*
 * complete_activity(task_token text, result jsonb, return_workflow_task
 * boolean) returns json: complete an activity attempt with its result.
 * Atomic with the caller's own writes in the same transaction.
 */
Datum
complete_activity(PG_FUNCTION_ARGS)
{
	bool		asked = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	DurTask    *t;

	t = dur_complete_activity(dur_arg_text(fcinfo, 0), PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
							  !PG_ARGISNULL(1), asked);
	return dur_activity_result(fcinfo, asked, t);
}

/* fail_activity's work, for a token. */
static DurTask *
dur_fail_activity(const char *token, Jsonb *failure, bool asked)
{
	DurActivityLock lk;
	DurFailure	f;
	DurTask    *t;

	dur_lock_activity(token, &lk);
	dur_activity_executed(&lk);
	dur_failure(failure, "failure", &f);
	t = dur_activity_attempt_failed(lk.call, lk.run, &lk.a, lk.has_task ? &lk.task : NULL, &f,
									lk.worker, false, dur_eager_worker(asked, &lk));
	dur_run_write(lk.call, lk.run);
	dur_call_end(lk.call);
	return t;
}

/*
 * fail_activity(task_token text, failure jsonb, return_workflow_task
 * boolean) returns json: fail an activity attempt; it is retried as its
 * retry policy says.
 */
Datum
fail_activity(PG_FUNCTION_ARGS)
{
	bool		asked = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	DurTask    *t;

	t = dur_fail_activity(dur_arg_text(fcinfo, 0), PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
						  asked);
	return dur_activity_result(fcinfo, asked, t);
}

/*
 * A heartbeat written under the run's lock, in the caller's transaction:
 * for heartbeat_activity_by_id, and for a heartbeat that does not fit in
 * a slot.
 */
static bool
dur_heartbeat_locked(const char *token, Datum details, bool has_details)
{
	DurActivityLock lk;
	bool		cancel;

	dur_lock_activity(token, &lk);
	if (has_details)
		dur_check_payload(details, "details");
	lk.a.values[A_HEARTBEAT_DETAILS] = details;
	lk.a.nulls[A_HEARTBEAT_DETAILS] = !has_details;
	dur_update(lk.call, DUR_ACTIVITIES, &lk.a.tid, lk.a.values, lk.a.nulls, NULL);
	if (lk.has_task && !lk.task.nulls[T_STARTED_TIME] && !lk.a.nulls[A_HEARTBEAT_TIMEOUT])
	{
		TimestampTz lease = dur_time_plus(GetCurrentTimestamp(),
										  DatumGetIntervalP(lk.a.values[A_HEARTBEAT_TIMEOUT]));
		TimestampTz limit = dur_time_plus(DatumGetTimestampTz(lk.task.values[T_STARTED_TIME]),
										  DatumGetIntervalP(lk.a.values[A_START_TO_CLOSE_TIMEOUT]));

		lk.task.values[T_LEASE_DEADLINE] = TimestampTzGetDatum(Min(lease, limit));
		dur_update(lk.call, DUR_TASKS, &lk.task.tid, lk.task.values, lk.task.nulls, NULL);
		/* every deadline written is announced (the timer service's watermark) */
		dur_notify_timer(Min(lease, limit));
	}
	cancel = !lk.a.nulls[A_CANCEL_REQUESTED_EVENT_ID];
	dur_call_end(lk.call);
	return cancel;
}

/*
 * heartbeat_activity's work: check the token against the rows as a new
 * snapshot shows them, without locking, and record the heartbeat in shared
 * memory.  Returns whether cancellation was requested.
 */
static bool
dur_heartbeat_activity(const char *token, Datum details, bool has_details)
{
	DurActivityLock lk;
	bool		cancel;
	bool		recorded;

	dur_open_activity(token, &lk, false);
	if (has_details)
		dur_check_payload(details, "details");
	cancel = !lk.a.nulls[A_CANCEL_REQUESTED_EVENT_ID];
	recorded = dur_beat_record(&lk.run->run_id, DatumGetInt64(lk.a.values[A_SCHEDULED_EVENT_ID]),
							   DatumGetInt32(lk.a.values[A_ATTEMPT]),
							   has_details ? DatumGetJsonbP(details) : NULL);
	dur_call_end(lk.call);
	if (!recorded)
		return dur_heartbeat_locked(token, details, has_details);
	return cancel;
}

/*
 * heartbeat_activity(task_token text, details jsonb) returns boolean:
 * record progress of a running activity, at once and outside the caller's
 * transaction, taking no lock; true when its cancellation was requested.
 */
Datum
heartbeat_activity(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(dur_heartbeat_activity(dur_arg_text(fcinfo, 0),
										  PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
										  !PG_ARGISNULL(1)));
}

/* report_activity_canceled's work, for a token. */
static void
dur_report_canceled(const char *token, Datum details, bool has_details)
{
	DurActivityLock lk;
	DurEvent   *ev;

	dur_lock_activity(token, &lk);
	dur_activity_executed(&lk);
	if (has_details)
		dur_check_payload(details, "details");
	if (lk.a.nulls[A_CANCEL_REQUESTED_EVENT_ID])
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("activity \"%s\" was not asked to cancel",
						TextDatumGetCString(lk.a.values[A_ACTIVITY_ID])),
				 errhint("Report cancellation only after durable.heartbeat_activity returned true.")));
	ev = dur_event("ActivityTaskCanceled");
	dj_jsonb_datum(&ev->attrs, "details", details, !has_details);
	dj_str(&ev->attrs, "identity", lk.worker);
	dj_int(&ev->attrs, "latest_cancel_requested_event_id",
		   DatumGetInt64(lk.a.values[A_CANCEL_REQUESTED_EVENT_ID]));
	(void) dur_close_activity(lk.call, lk.run, &lk.a, lk.has_task ? &lk.task : NULL, lk.worker,
							  ev, NULL, true, NULL);
	dur_run_write(lk.call, lk.run);
	dur_call_end(lk.call);
}

/*
 * report_activity_canceled(task_token text, details jsonb): report that an
 * activity stopped because its cancellation was requested.
 */
Datum
report_activity_canceled(PG_FUNCTION_ARGS)
{
	dur_report_canceled(dur_arg_text(fcinfo, 0), PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
						!PG_ARGISNULL(1));
	PG_RETURN_VOID();
}

/*
 * The token of an activity's current attempt, named by workflow id and
 * activity id (asynchronous completion).
 */
static char *
dur_activity_token_by_id(FunctionCallInfo fcinfo)
{
	char	   *ns = dur_namespace_arg(fcinfo, 4);
	char	   *wid;
	char	   *aid = dur_arg_text(fcinfo, 1);
	pg_uuid_t  *run_id = PG_ARGISNULL(3) ? NULL : PG_GETARG_UUID_P(3);
	DurCall    *call;
	DurRun	   *run;
	DurRow		row;
	char	   *token;

	dur_namespace_require(ns, DUR_CAP_WORKER);
	wid = dur_arg_text(fcinfo, 0);
	call = dur_call_begin();
	run = dur_run_find(call, ns, wid, run_id, true, false);

	if (aid == NULL || !dur_find_activity(call, run, aid, &row))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_ACTIVITY_NOT_FOUND),
				 errmsg("activity \"%s\" not found in workflow \"%s\"", aid ? aid : "", wid),
				 errhint("The activity may have completed, timed out or never been scheduled.")));
	if (strcmp(TextDatumGetCString(row.values[A_STATE]), "scheduled") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("activity \"%s\" is waiting to retry", aid),
				 errdetail("Attempt %d starts at its backoff's end.", DatumGetInt32(row.values[A_ATTEMPT])),
				 errhint("Try again when the attempt has started.")));
	token = dur_activity_token(&run->run_id, DatumGetInt64(row.values[A_SCHEDULED_EVENT_ID]),
							   DatumGetInt32(row.values[A_ATTEMPT]), 0);
	dur_call_end(call);
	return token;
}

/* complete_activity_by_id(workflow_id, activity_id, result jsonb, run_id uuid) */
Datum
complete_activity_by_id(PG_FUNCTION_ARGS)
{
	(void) dur_complete_activity(dur_activity_token_by_id(fcinfo),
								 PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2), !PG_ARGISNULL(2),
								 false);
	PG_RETURN_VOID();
}

/* fail_activity_by_id(workflow_id, activity_id, failure jsonb, run_id uuid) */
Datum
fail_activity_by_id(PG_FUNCTION_ARGS)
{
	(void) dur_fail_activity(dur_activity_token_by_id(fcinfo),
							 PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), false);
	PG_RETURN_VOID();
}

/* heartbeat_activity_by_id(workflow_id, activity_id, details jsonb, run_id uuid) */
Datum
heartbeat_activity_by_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(dur_heartbeat_locked(dur_activity_token_by_id(fcinfo),
										  PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
										  !PG_ARGISNULL(2)));
}

/* report_activity_canceled_by_id(workflow_id, activity_id, details jsonb, run_id uuid) */
Datum
report_activity_canceled_by_id(PG_FUNCTION_ARGS)
{
	dur_report_canceled(dur_activity_token_by_id(fcinfo),
						PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2), !PG_ARGISNULL(2));
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 *
 * commands.c
 *	  Workflow task completions and failures, and the commands a
 *	  completion carries: one handler per command type, dispatched from one
 *	  table (dur_commands).
 *
 * complete_workflow_task locks the run, checks the token and the shape of
 * the command list, records the task's own events (its transient
 * WorkflowTaskScheduled if any, WorkflowTaskStarted, WorkflowTaskCompleted),
 * applies each command (each records its event), writes the events
 * buffered while the task ran, and schedules a new task for them.  It
 * writes the run's events as one batch and its row once.
 *
 * Invariants:
 *	- nothing is written before every command's type is known and a
 *	  closing command is last; a bad field of a later command still rolls
 *	  the whole completion back (the caller's transaction, or its
 *	  statement), leaving the run and the task exactly as they were;
 *	- a task that closes the run while events are buffered is refused as
 *	  Temporal refuses it (UnhandledCommand): WorkflowTaskFailed, the
 *	  buffered events, and a new task;
 *	- a workflow task attempt that fails or times out writes
 *	  WorkflowTaskFailed / TimedOut only for the first attempt; retries are
 *	  transient and write nothing until one completes (dur_wft_failed).
 *
 * Lock order: the run's lock (dur_lock_wft), then its rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "activities.h"
#include "commands.h"
#include "durable.h"
#include "history.h"
#include "indexes.h"
#include "matching.h"
#include "metrics.h"
#include "timers.h"
#include "updates.h"

PG_FUNCTION_INFO_V1(complete_workflow_task);
PG_FUNCTION_INFO_V1(fail_workflow_task);

/* What a command handler works on. */
typedef struct DurCmdContext
{
	DurCall    *call;
	DurRun	   *run;
	int64		completed;		/* the WorkflowTaskCompleted event id */
	const char *worker;			/* the worker completing the task */
	const char *eager_worker;	/* who eager activities go to (NULL: nobody) */
	bool		needs_task;		/* a command made something new for the code */
	bool		run_written;	/* a closing command wrote the run */
	List	   *tasks;			/* tasks handed to the worker */
	DurPendingIds pending;		/* activity ids in use (schedule_activity) */
} DurCmdContext;

typedef void (*DurCmdHandler) (DurCmdContext *cx, Jsonb *cmd, int index);

static void dur_cmd_schedule_activity(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_request_cancel_activity(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_start_timer(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_cancel_timer(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_record_marker(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_upsert_search_attributes(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_complete_workflow(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_fail_workflow(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_cancel_workflow(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_continue_as_new(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_start_child_workflow(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_signal_external_workflow(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_request_cancel_external_workflow(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_accept_update(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_complete_update(DurCmdContext *cx, Jsonb *cmd, int index);
static void dur_cmd_reject_update(DurCmdContext *cx, Jsonb *cmd, int index);

/* The commands: Temporal's, by the names of docs/protocol.md. */
static const struct
{
	const char *type;
	DurCmdHandler handler;
	bool		closes;			/* closes the run: must be the last command */
}			dur_commands[] =
{
	{"schedule_activity", dur_cmd_schedule_activity, false},
	{"request_cancel_activity", dur_cmd_request_cancel_activity, false},
	{"start_timer", dur_cmd_start_timer, false},
	{"cancel_timer", dur_cmd_cancel_timer, false},
	{"record_marker", dur_cmd_record_marker, false},
	{"upsert_search_attributes", dur_cmd_upsert_search_attributes, false},
	{"start_child_workflow", dur_cmd_start_child_workflow, false},
	{"signal_external_workflow", dur_cmd_signal_external_workflow, false},
	{"request_cancel_external_workflow", dur_cmd_request_cancel_external_workflow, false},
	{"accept_update", dur_cmd_accept_update, false},
	{"complete_update", dur_cmd_complete_update, false},
	{"reject_update", dur_cmd_reject_update, false},
	{"complete_workflow", dur_cmd_complete_workflow, true},
	{"fail_workflow", dur_cmd_fail_workflow, true},
	{"cancel_workflow", dur_cmd_cancel_workflow, true},
	{"continue_as_new", dur_cmd_continue_as_new, true},
};

/*
 * An error detail showing the command: "The command is {...}.", with the
 * first 200 characters of its JSON.
 */
char *
dur_cmd_excerpt(Jsonb *cmd)
{
	char	   *s = JsonbToCString(NULL, &cmd->root, VARSIZE(cmd));
	int			len = strlen(s);
	int			clip = pg_mbcharcliplen(s, len, 200);

	return psprintf("The command is %s%s.", pnstrdup(s, clip), clip < len ? " ..." : "");
}

/* The type of a command (it has one: checked before any handler runs). */
static char *
dur_cmd_type(Jsonb *cmd)
{
	return dur_jsonb_get_text(cmd, "type");
}

/* Reject fields a command does not have. */
void
dur_cmd_fields(Jsonb *cmd, int index, const char *type, const char *const *allowed)
{
	JsonbIterator *it = JsonbIteratorInit(&cmd->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *k;
		int			i;

		if (tok != WJB_KEY)
			continue;
		k = pnstrdup(v.val.string.val, v.val.string.len);
		if (strcmp(k, "type") == 0)
			continue;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
		{
			StringInfoData list;

			initStringInfo(&list);
			for (i = 0; allowed[i] != NULL; i++)
				appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", allowed[i]);
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("command %d (%s) has unknown field \"%s\"", index, type, k),
					 errdetail("%s", dur_cmd_excerpt(cmd)),
					 errhint("Its fields are: %s.", list.data)));
		}
	}
}

/* A command's field as text, checking its JSON type; NULL when absent or null. */
char *
dur_cmd_text(Jsonb *cmd, const char *field, int index, bool required)
{
	Jsonb	   *v = dur_jsonb_get(cmd, field);
	const char *t = v ? dur_jsonb_typeof(v) : NULL;

	if (v == NULL || strcmp(t, "null") == 0)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("command %d (%s) is missing field \"%s\"", index, dur_cmd_type(cmd), field),
					 errdetail("%s", dur_cmd_excerpt(cmd)),
					 errhint("See docs/protocol.md for the fields of each command.")));
		return NULL;
	}
	if (strcmp(t, "string") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"%s\" of command %d (%s) must be a string, not %s",
						field, index, dur_cmd_type(cmd), t),
				 errdetail("%s", dur_cmd_excerpt(cmd))));
	return dur_jsonb_get_text(cmd, field);
}

/*
 * A command's duration field: interval text or a number of seconds, read
 * as every JSON duration is (dur_json_duration); NULL when absent or null,
 * unless required.  A value of another JSON type is DU005.
 */
static Interval *
dur_cmd_duration(Jsonb *cmd, const char *field, int index, bool required)
{
	Interval   *iv;

	iv = dur_json_duration(cmd, field,
						   psprintf("field \"%s\" of command %d (%s)", field, index, dur_cmd_type(cmd)),
						   ERRCODE_DUR_BAD_COMMAND, dur_cmd_excerpt(cmd));
	if (iv == NULL && required)
		(void) dur_cmd_text(cmd, field, index, true);	/* raises "missing field" */
	return iv;
}

/* A command's duration field; NULL when absent. */
Interval *
dur_cmd_interval(Jsonb *cmd, const char *field, int index)
{
	return dur_cmd_duration(cmd, field, index, false);
}

/* A command's number field (absent or null: false), checked to be a number. */
static bool
dur_cmd_number(Jsonb *cmd, const char *field, int index, double *out)
{
	Jsonb	   *v = dur_jsonb_get(cmd, field);
	const char *t = v ? dur_jsonb_typeof(v) : NULL;

	if (v == NULL || strcmp(t, "null") == 0)
		return false;
	if (strcmp(t, "number") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"%s\" of command %d (%s) must be a number, not %s",
						field, index, dur_cmd_type(cmd), t),
				 errdetail("%s", dur_cmd_excerpt(cmd))));
	*out = strtod(dur_jsonb_get_text(cmd, field), NULL);
	return true;
}

/*
 * The routing fields of a command that schedules work (schedule_activity,
 * start_child_workflow): priority (1 to 5), fairness_key, fairness_weight
 * and required_capabilities, and for an activity pinned_worker.  The
 * priority, key and weight left out are the run's, as in Temporal.
 */
void
dur_cmd_routing(Jsonb *cmd, int index, DurRun *run, DurCmdRouting *out)
{
	double		d;
	Jsonb	   *caps;

	memset(out, 0, sizeof(*out));
	out->priority = run->priority;
	if (dur_cmd_number(cmd, "priority", index, &d))
	{
		if (d != floor(d) || d < DUR_PRIORITY_HIGHEST - 1 || d > DUR_PRIORITY_LOWEST)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("field \"priority\" of command %d (%s) must be a priority key from %d to %d, not %g",
							index, dur_cmd_type(cmd), DUR_PRIORITY_HIGHEST, DUR_PRIORITY_LOWEST, d),
					 errdetail("%s", dur_cmd_excerpt(cmd)),
					 errhint("1 is served first, 5 last; leave it out (or 0) to inherit the workflow's.")));
		if (d != 0)
			out->priority = (int32) d;
	}
	out->fairness_key = dur_cmd_text(cmd, "fairness_key", index, false);
	if (out->fairness_key != NULL)
		dur_check_id(out->fairness_key, psprintf("fairness_key of command %d", index));
	else
		out->fairness_key = dur_text(&run->row, W_FAIRNESS_KEY);
	if (dur_cmd_number(cmd, "fairness_weight", index, &d))
	{
		if (isnan(d) || d < DUR_MIN_WEIGHT || d > DUR_MAX_WEIGHT)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("field \"fairness_weight\" of command %d (%s) must be between %g and %g, not %g",
							index, dur_cmd_type(cmd), DUR_MIN_WEIGHT, DUR_MAX_WEIGHT, d),
					 errdetail("%s", dur_cmd_excerpt(cmd))));
		out->fairness_weight = (float4) d;
	}
	else if (!run->row.nulls[W_FAIRNESS_WEIGHT])
		out->fairness_weight = DatumGetFloat4(run->row.values[W_FAIRNESS_WEIGHT]);
	caps = dur_jsonb_get(cmd, "required_capabilities");
	if (caps != NULL && strcmp(dur_jsonb_typeof(caps), "null") != 0)
	{
		if (strcmp(dur_jsonb_typeof(caps), "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("field \"required_capabilities\" of command %d (%s) must be a JSON object, not %s",
							index, dur_cmd_type(cmd), dur_jsonb_typeof(caps)),
					 errdetail("%s", dur_cmd_excerpt(cmd)),
					 errhint("Name capabilities as keys with their values, e.g. {\"gpu\": true}.")));
		if (dur_affinity_of(caps, "required_capabilities") != NULL)
			out->required_capabilities = caps;
	}
	out->pinned_worker = dur_cmd_text(cmd, "pinned_worker", index, false);
	if (out->pinned_worker != NULL)
		dur_check_id(out->pinned_worker, psprintf("pinned_worker of command %d", index));
	if (out->pinned_worker != NULL && out->required_capabilities != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("command %d (%s) has both \"pinned_worker\" and \"required_capabilities\"",
						index, dur_cmd_type(cmd)),
				 errdetail("%s", dur_cmd_excerpt(cmd)),
				 errhint("A pinned activity goes to that worker whatever it declared; give one of the two.")));
}

/* A command's value field as jsonb (NULL when absent), its size checked. */
static Jsonb *
dur_cmd_payload(Jsonb *cmd, const char *field, const char *what)
{
	Jsonb	   *v = dur_jsonb_get(cmd, field);

	if (v != NULL)
		dur_check_payload(JsonbPGetDatum(v), what);
	return v;
}

/*
 * A workflow task attempt failed or timed out.  The first attempt's
 * failure is written (its WorkflowTaskStarted, then "failed", whose
 * attributes get the two event ids); retries of it are transient and
 * write nothing until one completes, unless new events arrived meanwhile.
 * Attempts 2 and 3 are retried at once, later ones after 1 s, 2 s, 4 s ...
 * up to 10 minutes.  The worker's cache of the run is no longer trusted.
 */
void
dur_wft_failed(DurCall *call, DurRun *run, DurRow *task, TimestampTz started,
			   DurEvent *failed, const char *identity)
{
	int32		next_attempt = run->wft_attempt + 1;
	List	   *buffered;

	dur_metrics_count(run->namespace, run->task_queue,
					  strcmp(failed->type, "WorkflowTaskTimedOut") == 0 ? DUR_C_WFT_TIMEOUT : DUR_C_WFT_FAILED, 1);
	if (task != NULL)
		dur_delete(call, DUR_TASKS, &task->tid);
	run->sticky_worker = NULL;
	if (run->wft_scheduled_event_id != 0)
	{
		DurEvent   *ev = dur_event("WorkflowTaskStarted");
		int64		started_id;

		dj_int(&ev->attrs, "scheduled_event_id", run->wft_scheduled_event_id);
		dj_str(&ev->attrs, "identity", identity);
		ev->time = started;
		started_id = dur_record(run, ev);
		dj_int(&failed->attrs, "scheduled_event_id", run->wft_scheduled_event_id);
		dj_int(&failed->attrs, "started_event_id", started_id);
		(void) dur_record(run, failed);
	}
	buffered = dur_take_buffer(call, run);
	run->wft_state = DUR_WFT_NONE;
	if (buffered != NIL)
	{
		/* new events: a regular task carries them */
		(void) dur_schedule_wft(call, run, 1, true, buffered, NULL);
		return;
	}
	if (next_attempt <= 3)
		(void) dur_schedule_wft(call, run, next_attempt, false, NIL, NULL);
	else
	{
		int64		secs = Min((int64) 1 << Min(next_attempt - 4, 20), 600);

		run->wft_state = DUR_WFT_BACKOFF;
		run->wft_attempt = next_attempt;
		run->wft_scheduled_event_id = 0;
		dur_set_timer(call, run, "wft_retry", "",
					  TimestampTzPlusMilliseconds(GetCurrentTimestamp(), secs * 1000), 0);
	}
}

/* What a workflow task call holds: the run and the task's lease. */
typedef struct DurWftLock
{
	DurCall    *call;
	DurRun	   *run;
	DurRow		task;
	bool		has_task;
	char	   *worker;			/* the lease's worker; NULL if a crash lost it */
	TimestampTz started;		/* the start time the worker was given */
} DurWftLock;

/*
 * Lock the run a workflow task token names and take the task's lease off
 * the queue (the caller completes or fails the task), or raise
 * stale_task_token.
 */
static void
dur_lock_wft(const char *token, DurWftLock *lk)
{
	DurToken	tok;
	int64		started;

	dur_parse_token(token, 'w', &tok);
	lk->call = dur_call_begin();
	lk->run = dur_run_lock_for_token(lk->call, token, &tok);
	/* the started event id the task was handed out with must still be next */
	started = lk->run->history_length + (lk->run->wft_scheduled_event_id == 0 ? 2 : 1);
	if (lk->run->wft_state != DUR_WFT_SCHEDULED || lk->run->wft_seq != tok.n1 || started != tok.n2)
		dur_stale(token, "The workflow task is no longer outstanding.");
	lk->has_task = dur_fetch(lk->call, DUR_TASKS, DUR_TASKS_PKEY, &tok.run_id, 0, &lk->task);
	lk->worker = lk->has_task && !lk->task.nulls[T_WORKER_ID] ?
		TextDatumGetCString(lk->task.values[T_WORKER_ID]) : NULL;
	dur_check_legacy_token(token, &tok, lk->has_task ? &lk->task : NULL);
	/*
	 * WorkflowTaskStarted records the time the worker was given (its
	 * workflow clock), which the lease loses in a crash but the token keeps
	 */
	lk->started = (TimestampTz) tok.n3 - DUR_UNIX_EPOCH_USECS;
	dur_metrics_executed(lk->run->namespace, lk->run->task_queue, false, lk->started);
}

/* What the shape check learns of a command list, for the completion. */
typedef struct DurCmdShape
{
	bool		closing;		/* its last command closes the run */
	bool		only_rejections;	/* every command is reject_update (or none) */
	uint32	   *child_keys;		/* the lock keys of the children it starts */
	int			nchildren;
} DurCmdShape;

/*
 * Check the shape of a command list, and note what the completion needs
 * before it applies any: whether it closes the run, whether it only rejects
 * updates, and the workflow id lock keys of the children it starts (the
 * parent's own id is left out: a child of that id cannot start, it runs).
 */
static void
dur_check_commands(DurRun *run, Jsonb *cmds, int n, DurCmdShape *shape)
{
	int			i,
				c;

	memset(shape, 0, sizeof(*shape));
	shape->only_rejections = true;

	for (i = 1; i <= n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(&cmds->root, i - 1);
		Jsonb	   *cmd = JsonbValueToJsonb(e);
		char	   *type;

		if (!JB_ROOT_IS_OBJECT(cmd))
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("command %d must be a JSON object, not %s", i, dur_jsonb_typeof(cmd))));
		type = dur_jsonb_get(cmd, "type") != NULL &&
			strcmp(dur_jsonb_typeof(dur_jsonb_get(cmd, "type")), "string") == 0 ?
			dur_jsonb_get_text(cmd, "type") : NULL;
		if (type == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("command %d has no \"type\"", i),
					 errdetail("%s", dur_cmd_excerpt(cmd)),
					 errhint("Each command is an object with a \"type\" such as \"schedule_activity\".")));
		for (c = 0; c < lengthof(dur_commands); c++)
			if (strcmp(type, dur_commands[c].type) == 0)
				break;
		if (c == lengthof(dur_commands))
		{
			StringInfoData types;

			initStringInfo(&types);
			for (c = 0; c < lengthof(dur_commands); c++)
				appendStringInfo(&types, "%s%s", c == 0 ? "" : ", ", dur_commands[c].type);
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("command %d has unknown type \"%s\"", i,
							pnstrdup(type, pg_mbcharcliplen(type, strlen(type), 100))),
					 errhint("Command types are %s.", types.data)));
		}
		if (dur_commands[c].closes)
		{
			if (i != n)
				ereport(ERROR,
						(errcode(ERRCODE_DUR_BAD_COMMAND),
						 errmsg("command %d (%s) closes the workflow but is not the last command", i, type),
						 errhint("A close command must be the last command.")));
			shape->closing = true;
		}
		if (strcmp(type, "reject_update") != 0)
			shape->only_rejections = false;
		if (strcmp(type, "start_child_workflow") == 0)
		{
			Jsonb	   *wid = dur_jsonb_get(cmd, "workflow_id");

			/* a malformed id is refused by the handler */
			if (wid == NULL || strcmp(dur_jsonb_typeof(wid), "string") != 0 ||
				strcmp(dur_jsonb_get_text(cmd, "workflow_id"), run->workflow_id) == 0)
				continue;
			if (shape->child_keys == NULL)
				shape->child_keys = palloc(n * sizeof(uint32));
			shape->child_keys[shape->nchildren++] =
				dur_workflow_id_key(run->namespace, dur_jsonb_get_text(cmd, "workflow_id"));
		}
	}
}

static int
dur_uint32_cmp(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Take the workflow id locks of the children the commands start, in key
 * order, before any is started: two completions starting overlapping
 * children in different orders would otherwise deadlock.
 */
static void
dur_lock_child_ids(DurCmdShape *shape)
{
	int			i;

	qsort(shape->child_keys, shape->nchildren, sizeof(uint32), dur_uint32_cmp);
	for (i = 0; i < shape->nchildren; i++)
		if (i == 0 || shape->child_keys[i] != shape->child_keys[i - 1])
			dur_lock_workflow_id_key(shape->child_keys[i]);
}

/*
 * What the worker said of its workflow type's versioning behaviour, kept on
 * the run; and the build the task ran on, which is the run's build from now
 * on (it differs only when an auto-upgrade run moved to a new build, and
 * stays if the worker now says pinned).
 */
static void
dur_wft_versioning(DurRun *run, DurWftLock *lk, const char *behavior)
{
	if (behavior != NULL)
		dur_run_set(run, W_VERSIONING_BEHAVIOR, CStringGetTextDatum(behavior), false);
	if (lk->has_task)
	{
		char	   *build = TextDatumGetCString(lk->task.values[T_BUILD_ID]);

		if (build[0] != '\0' &&
			(run->row.nulls[W_BUILD_ID] ||
			 strcmp(TextDatumGetCString(run->row.values[W_BUILD_ID]), build) != 0))
			dur_run_set(run, W_BUILD_ID, CStringGetTextDatum(build), false);
	}
}

/*
 * complete_workflow_task(task_token text, commands jsonb,
 * return_workflow_task boolean, force_new_task boolean) returns json:
 * complete a workflow task with a list of commands.  With
 * return_workflow_task the task the completion schedules (events arrived
 * while it ran) is started for the same worker, as are activities
 * scheduled with request_eager_execution on the workflow's queue (unless
 * the task closes the run); they are returned in "tasks".  With
 * force_new_task a new task is scheduled even with nothing new (Temporal's
 * force_create_new_workflow_task: a worker running local activities keeps
 * its workflow task alive past the task timeout).
 */
Datum
complete_workflow_task(PG_FUNCTION_ARGS)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *cmds = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	bool		return_wft = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	bool		force_new = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	static const char *const behavior_choices[] = {"pinned", "auto_upgrade", NULL};
	const char *behavior = PG_NARGS() > 4 && !PG_ARGISNULL(4) ?
		dur_check_choice(text_to_cstring(PG_GETARG_TEXT_PP(4)), "versioning_behavior",
						 behavior_choices) : NULL;
	DurWftLock	lk;
	DurCmdContext cx;
	DurRun	   *run;
	DurCmdShape shape;
	bool		closing;
	int			n = 0;
	int			i;
	int64		started;
	int64		seq;
	DurEvent   *ev;
	StringInfoData out;

	dur_lock_wft(token, &lk);
	run = lk.run;
	dur_wft_versioning(run, &lk, behavior);

	/* the shape of the command list, before anything is written */
	if (cmds != NULL && (JB_ROOT_IS_SCALAR(cmds) || !JB_ROOT_IS_ARRAY(cmds)))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("commands must be a JSON array, not %s", dur_jsonb_typeof(cmds)),
				 errhint("Pass an array of command objects, e.g. '[{\"type\": \"complete_workflow\", \"result\": 1}]'.")));
	if (cmds != NULL)
		n = JB_ROOT_COUNT(cmds);
	dur_check_commands(run, cmds, n, &shape);
	closing = shape.closing;

	/* a close while new events wait: Temporal's UnhandledCommand */
	if (closing && dur_run_has_rows(lk.call, DUR_BUFFERED_PKEY, &run->run_id))
	{
		DurFailure	f;
		DurJsonObj	fo;

		ev = dur_event("WorkflowTaskFailed");
		dj_str(&ev->attrs, "cause", "UnhandledCommand");
		memset(&f, 0, sizeof(f));
		f.message = "new events arrived while the workflow task ran";
		f.type = "UnhandledCommand";
		dj_init(&fo);
		dur_failure_fields(&f, &fo);
		dj_obj(&ev->attrs, "failure", &fo);
		dj_str(&ev->attrs, "identity", lk.worker);
		dur_wft_failed(lk.call, run, lk.has_task ? &lk.task : NULL, lk.started, ev, lk.worker);
		dur_run_write(lk.call, run);
		dur_call_end(lk.call);
		PG_RETURN_TEXT_P(cstring_to_text("{\"outcome\": \"unhandled_command\"}"));
	}

	if (lk.has_task)
		dur_delete(lk.call, DUR_TASKS, &lk.task.tid);
	seq = run->wft_seq;

	/*
	 * A speculative task (made for updates: attempt 1, no Scheduled event)
	 * that only rejected updates, while nothing else happened, leaves no
	 * trace in the history, as in Temporal.
	 */
	if (run->wft_scheduled_event_id == 0 && run->wft_attempt == 1 && !force_new &&
		shape.only_rejections && !dur_run_has_rows(lk.call, DUR_BUFFERED_PKEY, &run->run_id))
	{
		memset(&cx, 0, sizeof(cx));
		cx.call = lk.call;
		cx.run = run;
		cx.worker = lk.worker;
		for (i = 1; i <= n; i++)
			dur_cmd_reject_update(&cx, JsonbValueToJsonb(getIthJsonbValueFromContainer(&cmds->root, i - 1)), i);
		run->wft_state = DUR_WFT_NONE;
		if (dur_update_waiting(&run->run_id, seq))
			(void) dur_schedule_wft(lk.call, run, 1, false, NIL, NULL);
		dur_run_write(lk.call, run);
		dur_call_end(lk.call);
		PG_RETURN_TEXT_P(cstring_to_text("{\"outcome\": \"completed\"}"));
	}
	if (run->wft_scheduled_event_id == 0)
	{
		/* a transient attempt: its WorkflowTaskScheduled is written only now */
		ev = dur_event("WorkflowTaskScheduled");
		dj_str(&ev->attrs, "task_queue", run->task_queue);
		dj_duration(&ev->attrs, "start_to_close_timeout", run->task_timeout);
		dj_int(&ev->attrs, "attempt", run->wft_attempt);
		ev->time = run->wft_scheduled_time;
		run->wft_scheduled_event_id = dur_record(run, ev);
	}
	ev = dur_event("WorkflowTaskStarted");
	dj_int(&ev->attrs, "scheduled_event_id", run->wft_scheduled_event_id);
	dj_str(&ev->attrs, "identity", lk.worker);
	ev->time = lk.started;
	started = dur_record(run, ev);
	ev = dur_event("WorkflowTaskCompleted");
	dj_int(&ev->attrs, "scheduled_event_id", run->wft_scheduled_event_id);
	dj_int(&ev->attrs, "started_event_id", started);
	dj_str(&ev->attrs, "identity", lk.worker);

	memset(&cx, 0, sizeof(cx));
	cx.call = lk.call;
	cx.run = run;
	cx.completed = dur_record(run, ev);
	cx.worker = lk.worker;
	cx.eager_worker = closing ? NULL : lk.worker;
	run->wft_state = DUR_WFT_NONE;
	run->wft_scheduled_event_id = 0;
	/* a sticky worker keeps the run in its cache: its next task carries only new events */
	if (dur_sticky_execution && lk.worker != NULL)
	{
		run->sticky_worker = lk.worker;
		run->sticky_event_id = started;
	}
	else
		run->sticky_worker = NULL;

	if (shape.nchildren > 0)
		dur_lock_child_ids(&shape);
	for (i = 1; i <= n; i++)
	{
		Jsonb	   *cmd = JsonbValueToJsonb(getIthJsonbValueFromContainer(&cmds->root, i - 1));
		char	   *type = dur_cmd_type(cmd);
		int			c;

		for (c = 0; strcmp(type, dur_commands[c].type) != 0; c++)
			;
		dur_commands[c].handler(&cx, cmd, i);
	}

	if (!closing)
	{
		List	   *buffered = dur_take_buffer(lk.call, run);

		if (buffered != NIL || cx.needs_task || force_new)
		{
			DurTask    *t;

			/* a forced task goes back to the worker even with activities out (Temporal does) */
			run->hand_back = force_new;
			t = dur_schedule_wft(lk.call, run, 1, true, buffered, return_wft ? lk.worker : NULL);

			if (t != NULL)
				cx.tasks = lappend(cx.tasks, t);
		}
		else if (dur_update_waiting(&run->run_id, seq))
		{
			/* updates admitted while the task ran: a speculative task for them */
			DurTask    *t = dur_schedule_wft(lk.call, run, 1, false, NIL,
											 return_wft ? lk.worker : NULL);

			if (t != NULL)
				cx.tasks = lappend(cx.tasks, t);
		}
	}
	if (!cx.run_written)
		dur_run_write(lk.call, run);
	initStringInfo(&out);
	dur_tasks_result(cx.tasks, "completed", true, &out);
	dur_call_end(lk.call);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/*
 * fail_workflow_task(task_token text, failure jsonb): report that a
 * workflow task failed (e.g. non-determinism); it is retried.
 */
Datum
fail_workflow_task(PG_FUNCTION_ARGS)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	DurWftLock	lk;
	DurFailure	f;
	DurJsonObj	fo;
	DurEvent   *ev;

	dur_lock_wft(token, &lk);
	dur_failure(PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), "failure", &f);
	ev = dur_event("WorkflowTaskFailed");
	dj_str(&ev->attrs, "cause", f.type ? f.type : "WorkflowWorkerUnhandledFailure");
	dj_init(&fo);
	dur_failure_fields(&f, &fo);
	dj_obj(&ev->attrs, "failure", &fo);
	dj_str(&ev->attrs, "identity", lk.worker);
	dur_wft_failed(lk.call, lk.run, lk.has_task ? &lk.task : NULL, lk.started, ev, lk.worker);
	dur_run_write(lk.call, lk.run);
	dur_call_end(lk.call);
	PG_RETURN_VOID();
}

/* schedule_activity: activities.c does the work. */
static void
dur_cmd_schedule_activity(DurCmdContext *cx, Jsonb *cmd, int index)
{
	DurEvent   *ev;
	DurTask    *t;

	t = dur_schedule_activity(cx->call, cx->run, cmd, index, cx->completed, cx->eager_worker,
							  &cx->pending, &ev);
	(void) dur_record(cx->run, ev);
	if (t != NULL)
		cx->tasks = lappend(cx->tasks, t);
}

/*
 * request_cancel_activity: ActivityTaskCancelRequested, and for an activity
 * that is not running ActivityTaskCanceled at once (new to the workflow,
 * so a task follows).  For an activity that closed already (its result may
 * be buffered behind this task) only the request is recorded, as Temporal
 * does.
 */
static void
dur_cmd_request_cancel_activity(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"activity_id", NULL};
	char	   *aid;
	DurRow		a;
	DurRow		task;
	bool		found;
	int64		seid = 0;
	int64		requested;
	DurEvent   *ev;

	dur_cmd_fields(cmd, index, "request_cancel_activity", fields);
	aid = dur_cmd_text(cmd, "activity_id", index, true);
	found = dur_find_activity(cx->call, cx->run, aid, &a);
	if (found)
		seid = DatumGetInt64(a.values[A_SCHEDULED_EVENT_ID]);
	if (!found)
	{
		seid = dur_find_scheduled_activity(cx->call, cx->run, aid);
		if (seid == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("command %d (request_cancel_activity) names unknown activity \"%s\"", index, aid),
					 errdetail("The run never scheduled an activity with this id."),
					 errhint("Cancel only activities the workflow scheduled.")));
		ev = dur_event("ActivityTaskCancelRequested");
		dj_int(&ev->attrs, "scheduled_event_id", seid);
		dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
		(void) dur_record(cx->run, ev);
		return;
	}
	if (!a.nulls[A_CANCEL_REQUESTED_EVENT_ID])
		return;
	ev = dur_event("ActivityTaskCancelRequested");
	dj_int(&ev->attrs, "scheduled_event_id", seid);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	requested = dur_record(cx->run, ev);
	if (dur_fetch(cx->call, DUR_TASKS, DUR_TASKS_PKEY, &cx->run->run_id, seid, &task) &&
		!task.nulls[T_STARTED_TIME])
	{
		/* running: the worker learns it from its next heartbeat */
		a.values[A_CANCEL_REQUESTED_EVENT_ID] = Int64GetDatum(requested);
		a.nulls[A_CANCEL_REQUESTED_EVENT_ID] = false;
		dur_update(cx->call, DUR_ACTIVITIES, &a.tid, a.values, a.nulls, NULL);
		return;
	}
	/* queued or backing off: canceled at once (its attempt never ran) */
	dur_log_attempt(cx->call, cx->run, &a, NULL, "canceled", NULL);
	dur_delete(cx->call, DUR_ACTIVITIES, &a.tid);
	if (dur_fetch(cx->call, DUR_TASKS, DUR_TASKS_PKEY, &cx->run->run_id, seid, &task))
		dur_delete(cx->call, DUR_TASKS, &task.tid);
	(void) dur_delete_timer(cx->call, cx->run, "activity_retry", psprintf(INT64_FORMAT, seid));
	(void) dur_delete_timer(cx->call, cx->run, "activity_schedule_to_close", psprintf(INT64_FORMAT, seid));
	ev = dur_event("ActivityTaskCanceled");
	dj_null(&ev->attrs, "details");
	dj_int(&ev->attrs, "scheduled_event_id", seid);
	dj_null(&ev->attrs, "started_event_id");
	dj_int(&ev->attrs, "latest_cancel_requested_event_id", requested);
	dj_null(&ev->attrs, "identity");
	(void) dur_record(cx->run, ev);
	cx->needs_task = true;
}

/* start_timer: TimerStarted and a durable timer. */
static void
dur_cmd_start_timer(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"timer_id", "duration", NULL};
	char	   *tid;
	Interval   *dur;
	Interval	zero = {0, 0, 0};
	DurEvent   *ev;
	int64		seid;

	dur_cmd_fields(cmd, index, "start_timer", fields);
	tid = dur_cmd_text(cmd, "timer_id", index, true);
	dur_check_id(tid, psprintf("timer_id of command %d", index));
	dur = dur_cmd_duration(cmd, "duration", index, true);
	if (dur_interval_cmp(dur, &zero) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"duration\" of command %d (start_timer) must be positive", index),
				 errdetail("%s", dur_cmd_excerpt(cmd)),
				 errhint("A timer of zero is no timer: leave the command out, or give a positive duration.")));
	if (dur_timer_exists(cx->call, cx->run, "user", tid))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_DUPLICATE_ID),
				 errmsg("timer id \"%s\" is already in use", tid),
				 errdetail("Command %d starts a timer whose id a pending timer of run %s has.",
						   index, dur_uuid_text(&cx->run->run_id)),
				 errhint("Use a unique timer id for each pending timer.")));
	ev = dur_event("TimerStarted");
	dj_str(&ev->attrs, "timer_id", tid);
	dj_duration(&ev->attrs, "start_to_fire_timeout", dur);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	seid = dur_record(cx->run, ev);
	dur_set_timer(cx->call, cx->run, "user", tid, dur_time_plus(GetCurrentTimestamp(), dur), seid);
}

/*
 * cancel_timer: TimerCanceled.  A timer that fired while the task ran is
 * canceled all the same and its buffered TimerFired dropped, as Temporal
 * does.
 */
static void
dur_cmd_cancel_timer(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"timer_id", NULL};
	char	   *tid;
	int64		seid = 0;
	DurEvent   *ev;

	dur_cmd_fields(cmd, index, "cancel_timer", fields);
	tid = dur_cmd_text(cmd, "timer_id", index, true);
	if (!dur_take_timer(cx->call, cx->run, "user", tid, &seid) &&
		!dur_take_buffered_timer_fired(cx->call, cx->run, tid, &seid))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("command %d (cancel_timer) names unknown timer \"%s\"", index, tid),
				 errdetail("No pending timer of the run has this id."),
				 errhint("Cancel only timers that have not fired.")));
	ev = dur_event("TimerCanceled");
	dj_str(&ev->attrs, "timer_id", tid);
	dj_int_or_null(&ev->attrs, "started_event_id", seid, seid == 0);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	(void) dur_record(cx->run, ev);
}

/* record_marker: MarkerRecorded. */
static void
dur_cmd_record_marker(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"marker_name", "details", NULL};
	Jsonb	   *details;
	DurEvent   *ev;

	dur_cmd_fields(cmd, index, "record_marker", fields);
	details = dur_cmd_payload(cmd, "details", psprintf("details of command %d", index));
	ev = dur_event("MarkerRecorded");
	dj_str(&ev->attrs, "marker_name", dur_cmd_text(cmd, "marker_name", index, true));
	dj_jsonb(&ev->attrs, "details", details);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	(void) dur_record(cx->run, ev);
}

/* upsert_search_attributes: UpsertWorkflowSearchAttributes; a null value removes a key. */
static void
dur_cmd_upsert_search_attributes(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"search_attributes", NULL};
	Jsonb	   *sa;
	Datum		merged;
	DurEvent   *ev;

	dur_cmd_fields(cmd, index, "upsert_search_attributes", fields);
	sa = dur_jsonb_get(cmd, "search_attributes");
	if (sa == NULL || !JB_ROOT_IS_OBJECT(sa))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"search_attributes\" of command %d must be a JSON object", index)));
	dur_check_search_attributes(cx->call, cx->run->namespace, sa);
	ev = dur_event("UpsertWorkflowSearchAttributes");
	dj_jsonb(&ev->attrs, "search_attributes", sa);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	(void) dur_record(cx->run, ev);
	merged = DirectFunctionCall1(jsonb_strip_nulls,
								 DirectFunctionCall2(jsonb_concat,
													 cx->run->row.values[W_SEARCH_ATTRIBUTES],
													 JsonbPGetDatum(sa)));
	dur_check_payload(merged, "search_attributes");
	dur_run_set(cx->run, W_SEARCH_ATTRIBUTES, merged, false);
}

/* complete_workflow: WorkflowExecutionCompleted and the close. */
static void
dur_cmd_complete_workflow(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"result", NULL};
	Jsonb	   *result;
	DurEvent   *ev;

	dur_cmd_fields(cmd, index, "complete_workflow", fields);
	result = dur_cmd_payload(cmd, "result", "result");
	ev = dur_event("WorkflowExecutionCompleted");
	dj_jsonb(&ev->attrs, "result", result);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	(void) dur_record(cx->run, ev);
	dur_close_run(cx->call, cx->run, "completed", result ? JsonbPGetDatum(result) : 0, NULL, NULL);
}

/* fail_workflow: WorkflowExecutionFailed, and a retry if the policy allows. */
static void
dur_cmd_fail_workflow(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"failure", NULL};
	DurFailure	f;
	DurJsonObj	fo;
	DurEvent   *ev;

	dur_cmd_fields(cmd, index, "fail_workflow", fields);
	if (dur_jsonb_get(cmd, "failure") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("command %d (fail_workflow) is missing field \"failure\"", index),
				 errdetail("%s", dur_cmd_excerpt(cmd)),
				 errhint("A failed workflow carries its failure: {\"message\": ...}.")));
	dur_failure(dur_jsonb_get(cmd, "failure"), psprintf("failure of command %d", index), &f);
	ev = dur_event("WorkflowExecutionFailed");
	dj_init(&fo);
	dur_failure_fields(&f, &fo);
	dj_obj(&ev->attrs, "failure", &fo);
	(void) dur_fail_run(cx->call, cx->run, "failed", ev, &f, cx->completed, false);
	cx->run_written = true;
}

/* cancel_workflow: WorkflowExecutionCanceled and the close. */
static void
dur_cmd_cancel_workflow(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"details", NULL};
	Jsonb	   *details;
	DurEvent   *ev;
	DurFailure	f;

	dur_cmd_fields(cmd, index, "cancel_workflow", fields);
	details = dur_cmd_payload(cmd, "details", "details");
	ev = dur_event("WorkflowExecutionCanceled");
	dj_jsonb(&ev->attrs, "details", details);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	(void) dur_record(cx->run, ev);
	memset(&f, 0, sizeof(f));
	f.message = "workflow canceled";
	f.type = "CanceledFailure";
	f.non_retryable = true;
	f.details = details != NULL && strcmp(dur_jsonb_typeof(details), "null") != 0 ? details : NULL;
	dur_close_run(cx->call, cx->run, "canceled", 0, dur_failure_jsonb(&f), NULL);
}

/*
 * continue_as_new: WorkflowExecutionContinuedAsNew, the close, and the
 * next run of the chain (the run timeout starts again, the execution
 * timeout keeps counting).
 */
static void
dur_cmd_continue_as_new(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {
		"input", "workflow_type", "task_queue", "run_timeout", "task_timeout", "memo",
		"search_attributes", "retry_policy", "backoff_start_interval", NULL
	};
	DurRun	   *run = cx->run;
	Jsonb	   *memo;
	Jsonb	   *search_attributes;
	Jsonb	   *retry_policy;
	Interval   *backoff;
	Datum	   *v = run->row.values;
	bool	   *n = run->row.nulls;
	Jsonb	   *input;
	char	   *type;
	char	   *queue;
	Interval   *run_timeout;
	Interval   *task_timeout;
	Interval   *cmd_task_timeout;
	pg_uuid_t  *next_run = dur_new_run_id();
	DurEvent   *ev;
	DurStartParams p;
	DurRun	   *next;

	dur_cmd_fields(cmd, index, "continue_as_new", fields);
	input = dur_cmd_payload(cmd, "input", "input");
	type = dur_cmd_text(cmd, "workflow_type", index, false);
	dur_check_id(type, "workflow_type");
	queue = dur_cmd_text(cmd, "task_queue", index, false);
	dur_check_id(queue, "task_queue");
	run_timeout = dur_cmd_interval(cmd, "run_timeout", index);
	if (run_timeout == NULL && !n[W_RUN_TIMEOUT])
		run_timeout = DatumGetIntervalP(v[W_RUN_TIMEOUT]);
	cmd_task_timeout = dur_cmd_interval(cmd, "task_timeout", index);
	task_timeout = cmd_task_timeout ? cmd_task_timeout : run->task_timeout;
	/* memo, search attributes and retry policy: the command's, else this run's */
	memo = dur_cmd_payload(cmd, "memo", "memo");
	if (memo != NULL && strcmp(dur_jsonb_typeof(memo), "null") == 0)
		memo = NULL;
	search_attributes = dur_cmd_payload(cmd, "search_attributes", "search_attributes");
	if (search_attributes != NULL && strcmp(dur_jsonb_typeof(search_attributes), "null") == 0)
		search_attributes = NULL;
	if (search_attributes != NULL && !JB_ROOT_IS_OBJECT(search_attributes))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"search_attributes\" of command %d (continue_as_new) must be a JSON object", index)));
	if (search_attributes != NULL)
		dur_check_search_attributes(cx->call, run->namespace, search_attributes);
	retry_policy = dur_jsonb_get(cmd, "retry_policy");
	if (retry_policy != NULL)
		retry_policy = dur_retry_policy(retry_policy, psprintf("retry_policy of command %d", index));
	backoff = dur_cmd_interval(cmd, "backoff_start_interval", index);

	ev = dur_event("WorkflowExecutionContinuedAsNew");
	dj_uuid(&ev->attrs, "new_execution_run_id", next_run);
	dj_str(&ev->attrs, "workflow_type", type ? type : run->workflow_type);
	dj_str(&ev->attrs, "task_queue", queue ? queue : run->task_queue);
	dj_jsonb(&ev->attrs, "input", input);
	dj_duration(&ev->attrs, "workflow_run_timeout", run_timeout);
	dj_duration(&ev->attrs, "workflow_task_timeout", task_timeout);
	if (backoff != NULL)
		dj_duration(&ev->attrs, "backoff_start_interval", backoff);
	if (memo != NULL)
		dj_jsonb(&ev->attrs, "memo", memo);
	if (search_attributes != NULL)
		dj_jsonb(&ev->attrs, "search_attributes", search_attributes);
	if (retry_policy != NULL)
		dj_jsonb(&ev->attrs, "retry_policy", retry_policy);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	(void) dur_record(run, ev);
	dur_close_run(cx->call, run, "continued_as_new", 0, NULL, next_run);
	dur_run_write(cx->call, run);
	cx->run_written = true;

	memset(&p, 0, sizeof(p));
	p.workflow_id = run->workflow_id;
	p.namespace = run->namespace;
	p.workflow_type = type ? type : run->workflow_type;
	p.task_queue = queue ? queue : run->task_queue;
	p.input = input ? JsonbPGetDatum(input) : 0;
	p.execution_timeout = n[W_EXECUTION_TIMEOUT] ? NULL : DatumGetIntervalP(v[W_EXECUTION_TIMEOUT]);
	p.run_timeout = run_timeout;
	p.task_timeout = cmd_task_timeout && !dur_interval_is_zero(cmd_task_timeout) ?
		cmd_task_timeout : run->task_timeout;
	p.execution_deadline = n[W_EXECUTION_DEADLINE] ? 0 : DatumGetTimestampTz(v[W_EXECUTION_DEADLINE]);
	p.first_run_id = DatumGetUUIDP(v[W_FIRST_RUN_ID]);
	p.previous_run_id = &run->run_id;
	p.attempt = 1;
	p.retry_policy = retry_policy ? JsonbPGetDatum(retry_policy) :
		n[W_RETRY_POLICY] ? 0 : v[W_RETRY_POLICY];
	p.search_attributes = search_attributes ? JsonbPGetDatum(search_attributes) : v[W_SEARCH_ATTRIBUTES];
	p.memo = memo ? JsonbPGetDatum(memo) : n[W_MEMO] ? 0 : v[W_MEMO];
	p.delay = backoff;
	p.priority = run->priority;
	p.identity = cx->worker;
	dur_start_params_routing(&p, run);
	dur_start_params_inherit(&p, run);
	next = dur_start_run(cx->call, next_run, &p);
	dur_run_write(cx->call, next);
}

/* A command's boolean field; false when absent or null. */
static bool
dur_cmd_bool(Jsonb *cmd, const char *field, int index)
{
	Jsonb	   *v = dur_jsonb_get(cmd, field);
	const char *t = v ? dur_jsonb_typeof(v) : "null";

	if (strcmp(t, "null") == 0)
		return false;
	if (strcmp(t, "boolean") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"%s\" of command %d (%s) must be a boolean, not %s",
						field, index, dur_cmd_type(cmd), t),
				 errdetail("%s", dur_cmd_excerpt(cmd))));
	return strcmp(dur_jsonb_get_text(cmd, field), "true") == 0;
}

/* A command's optional choice field, checked; dflt when absent. */
static const char *
dur_cmd_choice(Jsonb *cmd, const char *field, int index, const char *const *choices, const char *dflt)
{
	char	   *v = dur_cmd_text(cmd, field, index, false);
	StringInfoData list;
	int			i;

	if (v == NULL)
		return dflt;
	initStringInfo(&list);
	for (i = 0; choices[i] != NULL; i++)
	{
		if (strcmp(v, choices[i]) == 0)
			return choices[i];
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", choices[i]);
	}
	ereport(ERROR,
			(errcode(ERRCODE_DUR_BAD_COMMAND),
			 errmsg("field \"%s\" of command %d (%s) must be one of %s, not \"%s\"",
					field, index, dur_cmd_type(cmd), list.data, v),
			 errdetail("%s", dur_cmd_excerpt(cmd))));
	return NULL;				/* keep compiler quiet */
}

/*
 * start_child_workflow: StartChildWorkflowExecutionInitiated, then, in the
 * same transaction, the child's run and ChildWorkflowExecutionStarted, or
 * StartChildWorkflowExecutionFailed when its id is in use.  The child's
 * close reaches the parent through the timer service (timers.c).
 */
static void
dur_cmd_start_child_workflow(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {
		"workflow_id", "workflow_type", "input", "task_queue", "execution_timeout", "run_timeout",
		"task_timeout", "retry_policy", "id_reuse_policy", "parent_close_policy",
		"search_attributes", "memo", "priority", "fairness_key", "fairness_weight",
		"required_capabilities", NULL
	};
	static const char *const reuse_choices[] = {
		"allow_duplicate", "allow_duplicate_failed_only", "reject_duplicate", NULL
	};
	static const char *const close_choices[] = {"terminate", "abandon", "request_cancel", NULL};
	DurRun	   *run = cx->run;
	const char *what = psprintf("command %d (start_child_workflow)", index);
	DurStartRequest r;
	Jsonb	   *input;
	Jsonb	   *policy;
	Jsonb	   *sa;
	Jsonb	   *memo;
	const char *close_policy;
	DurEvent   *ev;
	int64		initiated;
	pg_uuid_t  *child;
	bool		existing;
	Interval	ten_seconds = {10 * USECS_PER_SEC, 0, 0};
	DurCmdRouting routing;

	dur_cmd_fields(cmd, index, "start_child_workflow", fields);
	memset(&r, 0, sizeof(r));
	r.namespace = run->namespace;
	r.workflow_id = dur_cmd_text(cmd, "workflow_id", index, true);
	dur_check_id(r.workflow_id, psprintf("workflow_id of %s", what));
	r.workflow_type = dur_cmd_text(cmd, "workflow_type", index, true);
	dur_check_id(r.workflow_type, psprintf("workflow_type of %s", what));
	r.task_queue = dur_cmd_text(cmd, "task_queue", index, false);
	dur_check_id(r.task_queue, psprintf("task_queue of %s", what));
	if (r.task_queue == NULL)
		r.task_queue = run->task_queue;
	input = dur_cmd_payload(cmd, "input", psprintf("input of %s", what));
	r.input = input ? JsonbPGetDatum(input) : 0;
	r.execution_timeout = dur_cmd_interval(cmd, "execution_timeout", index);
	r.run_timeout = dur_cmd_interval(cmd, "run_timeout", index);
	r.task_timeout = dur_cmd_interval(cmd, "task_timeout", index);
	dur_check_interval(r.execution_timeout, psprintf("execution_timeout of %s", what), false);
	dur_check_interval(r.run_timeout, psprintf("run_timeout of %s", what), false);
	dur_check_interval(r.task_timeout, psprintf("task_timeout of %s", what), true);
	if (r.execution_timeout != NULL && dur_interval_is_zero(r.execution_timeout))
		r.execution_timeout = NULL;
	if (r.run_timeout != NULL && dur_interval_is_zero(r.run_timeout))
		r.run_timeout = NULL;
	if (r.task_timeout == NULL)
		r.task_timeout = &ten_seconds;
	policy = dur_jsonb_get(cmd, "retry_policy");
	if (policy != NULL && strcmp(dur_jsonb_typeof(policy), "null") == 0)
		policy = NULL;
	r.retry_policy = policy;
	r.reuse = dur_cmd_choice(cmd, "id_reuse_policy", index, reuse_choices, "allow_duplicate");
	r.conflict = "fail";
	close_policy = dur_cmd_choice(cmd, "parent_close_policy", index, close_choices, "terminate");
	sa = dur_cmd_payload(cmd, "search_attributes", psprintf("search_attributes of %s", what));
	if (sa != NULL && strcmp(dur_jsonb_typeof(sa), "null") == 0)
		sa = NULL;
	if (sa != NULL && !JB_ROOT_IS_OBJECT(sa))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("field \"search_attributes\" of %s must be a JSON object", what)));
	r.search_attributes = sa ? JsonbPGetDatum(sa) : 0;
	memo = dur_cmd_payload(cmd, "memo", psprintf("memo of %s", what));
	if (memo != NULL && strcmp(dur_jsonb_typeof(memo), "null") == 0)
		memo = NULL;
	r.memo = memo ? JsonbPGetDatum(memo) : 0;
	dur_cmd_routing(cmd, index, run, &routing);
	r.priority = routing.priority;
	r.fairness_key = routing.fairness_key;
	r.fairness_weight = routing.fairness_weight;
	r.required_capabilities = routing.required_capabilities;
	/* a child on its pinned parent's queue runs on the parent's build */
	if (strcmp(r.task_queue, run->task_queue) == 0 && !run->row.nulls[W_BUILD_ID] &&
		!dur_run_auto_upgrade(run))
		r.build_id = TextDatumGetCString(run->row.values[W_BUILD_ID]);
	r.quiet_conflict = true;

	ev = dur_event("StartChildWorkflowExecutionInitiated");
	dj_str(&ev->attrs, "namespace", run->namespace);
	dj_str(&ev->attrs, "workflow_id", r.workflow_id);
	dj_str(&ev->attrs, "workflow_type", r.workflow_type);
	dj_str(&ev->attrs, "task_queue", r.task_queue);
	dj_jsonb(&ev->attrs, "input", input);
	dj_duration(&ev->attrs, "workflow_execution_timeout", r.execution_timeout);
	dj_duration(&ev->attrs, "workflow_run_timeout", r.run_timeout);
	dj_duration(&ev->attrs, "workflow_task_timeout", r.task_timeout);
	dj_str(&ev->attrs, "parent_close_policy", close_policy);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	dj_str(&ev->attrs, "workflow_id_reuse_policy", r.reuse);
	if (policy != NULL)
		dj_jsonb(&ev->attrs, "retry_policy", dur_retry_policy(policy, psprintf("retry_policy of %s", what)));
	else
		dj_null(&ev->attrs, "retry_policy");
	dj_jsonb(&ev->attrs, "search_attributes", sa);
	dj_jsonb(&ev->attrs, "memo", memo);
	initiated = dur_record(run, ev);

	r.parent_workflow_id = run->workflow_id;
	r.parent_run_id = &run->run_id;
	r.parent_initiated_event_id = initiated;
	r.identity = cx->worker;
	/* the parent's own id is running: failed, without its lock (see dur_check_commands) */
	child = strcmp(r.workflow_id, run->workflow_id) == 0 ? NULL : dur_start(cx->call, &r, &existing);
	if (child == NULL)
	{
		ev = dur_event("StartChildWorkflowExecutionFailed");
		dj_str(&ev->attrs, "namespace", run->namespace);
		dj_str(&ev->attrs, "workflow_id", r.workflow_id);
		dj_str(&ev->attrs, "workflow_type", r.workflow_type);
		dj_str(&ev->attrs, "cause", "WORKFLOW_ALREADY_EXISTS");
		dj_int(&ev->attrs, "initiated_event_id", initiated);
		dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
		(void) dur_record(run, ev);
	}
	else
	{
		DurJsonObj	exec;
		Datum		v[CH_NCOLS];
		bool		n[CH_NCOLS] = {false, false, false, false, false, false, false, false, false};

		ev = dur_event("ChildWorkflowExecutionStarted");
		dj_str(&ev->attrs, "namespace", run->namespace);
		dj_int(&ev->attrs, "initiated_event_id", initiated);
		dj_init(&exec);
		dj_str(&exec, "workflow_id", r.workflow_id);
		dj_uuid(&exec, "run_id", child);
		dj_obj(&ev->attrs, "workflow_execution", &exec);
		dj_str(&ev->attrs, "workflow_type", r.workflow_type);
		v[CH_PARENT_RUN_ID] = UUIDPGetDatum(&run->run_id);
		v[CH_INITIATED_EVENT_ID] = Int64GetDatum(initiated);
		v[CH_WORKFLOW_ID] = CStringGetTextDatum(r.workflow_id);
		v[CH_RUN_ID] = UUIDPGetDatum(child);
		v[CH_WORKFLOW_TYPE] = CStringGetTextDatum(r.workflow_type);
		v[CH_STARTED_EVENT_ID] = Int64GetDatum(dur_record(run, ev));
		v[CH_PARENT_CLOSE_POLICY] = CStringGetTextDatum(close_policy);
		v[CH_PARENT_WORKFLOW_ID] = CStringGetTextDatum(run->workflow_id);
		v[CH_NAMESPACE] = CStringGetTextDatum(run->namespace);
		dur_insert(cx->call, DUR_CHILDREN, v, n, NULL);
	}
	cx->needs_task = true;
}

/*
 * The target of an external command: {"workflow_id", "run_id"} as the
 * Initiated event and the timer that delivers it have it.
 */
static void
dur_cmd_external_target(Jsonb *cmd, int index, DurJsonObj *exec, const char **wid)
{
	char	   *run_id = dur_cmd_text(cmd, "run_id", index, false);

	*wid = dur_cmd_text(cmd, "workflow_id", index, true);
	dur_check_id(*wid, psprintf("workflow_id of command %d", index));
	if (run_id != NULL)
	{
		int			hex = 0;
		const char *p;

		/* what uuid_in takes: 32 hex digits, with hyphens or braces */
		for (p = run_id; *p; p++)
		{
			if (isxdigit((unsigned char) *p))
				hex++;
			else if (*p != '-' && *p != '{' && *p != '}')
				break;
		}
		if (*p != '\0' || hex != 32)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_BAD_COMMAND),
					 errmsg("field \"run_id\" of command %d (%s) must be a uuid", index, dur_cmd_type(cmd)),
					 errdetail("%s", dur_cmd_excerpt(cmd))));
		run_id = dur_uuid_text(DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(run_id))));
	}
	dj_init(exec);
	dj_str(exec, "workflow_id", *wid);
	dj_str(exec, "run_id", run_id);
}

/*
 * signal_external_workflow: SignalExternalWorkflowExecutionInitiated; the
 * timer service delivers the signal and records its outcome.
 */
static void
dur_cmd_signal_external_workflow(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {
		"workflow_id", "run_id", "signal_name", "input", "child_workflow_only", NULL
	};
	DurRun	   *run = cx->run;
	DurJsonObj	exec;
	DurJsonObj	t;
	const char *wid;
	char	   *name;
	Jsonb	   *input;
	bool		child_only;
	DurEvent   *ev;
	int64		initiated;

	dur_cmd_fields(cmd, index, "signal_external_workflow", fields);
	dur_cmd_external_target(cmd, index, &exec, &wid);
	name = dur_cmd_text(cmd, "signal_name", index, true);
	dur_check_id(name, psprintf("signal_name of command %d", index));
	input = dur_cmd_payload(cmd, "input", psprintf("input of command %d", index));
	child_only = dur_cmd_bool(cmd, "child_workflow_only", index);

	ev = dur_event("SignalExternalWorkflowExecutionInitiated");
	dj_str(&ev->attrs, "namespace", run->namespace);
	dj_obj(&ev->attrs, "workflow_execution", &exec);
	dj_str(&ev->attrs, "signal_name", name);
	dj_jsonb(&ev->attrs, "input", input);
	dj_bool(&ev->attrs, "child_workflow_only", child_only);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	initiated = dur_record(run, ev);

	dj_init(&t);
	dj_obj(&t, "workflow_execution", &exec);
	dj_str(&t, "signal_name", name);
	dj_jsonb(&t, "input", input);
	dj_bool(&t, "child_workflow_only", child_only);
	dj_int(&t, "workflow_task_completed_event_id", cx->completed);
	dur_set_timer_with(cx->call, run, "signal_external", psprintf(INT64_FORMAT, initiated),
					   GetCurrentTimestamp(), 0, dj_to_jsonb(&t));
}

/*
 * request_cancel_external_workflow:
 * RequestCancelExternalWorkflowExecutionInitiated; the timer service asks
 * the target to cancel and records the outcome.
 */
static void
dur_cmd_request_cancel_external_workflow(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"workflow_id", "run_id", "child_workflow_only", "reason", NULL};
	DurRun	   *run = cx->run;
	DurJsonObj	exec;
	DurJsonObj	t;
	const char *wid;
	char	   *reason;
	bool		child_only;
	DurEvent   *ev;
	int64		initiated;

	dur_cmd_fields(cmd, index, "request_cancel_external_workflow", fields);
	dur_cmd_external_target(cmd, index, &exec, &wid);
	reason = dur_cmd_text(cmd, "reason", index, false);
	child_only = dur_cmd_bool(cmd, "child_workflow_only", index);

	ev = dur_event("RequestCancelExternalWorkflowExecutionInitiated");
	dj_str(&ev->attrs, "namespace", run->namespace);
	dj_obj(&ev->attrs, "workflow_execution", &exec);
	dj_bool(&ev->attrs, "child_workflow_only", child_only);
	dj_str(&ev->attrs, "reason", reason);
	dj_int(&ev->attrs, "workflow_task_completed_event_id", cx->completed);
	initiated = dur_record(run, ev);

	dj_init(&t);
	dj_obj(&t, "workflow_execution", &exec);
	dj_bool(&t, "child_workflow_only", child_only);
	dj_str(&t, "reason", reason);
	dj_int(&t, "workflow_task_completed_event_id", cx->completed);
	dur_set_timer_with(cx->call, run, "cancel_external", psprintf(INT64_FORMAT, initiated),
					   GetCurrentTimestamp(), 0, dj_to_jsonb(&t));
}

/* The update id of an update command, checked. */
static char *
dur_cmd_update_id(Jsonb *cmd, int index)
{
	char	   *id = dur_cmd_text(cmd, "update_id", index, true);

	dur_check_id(id, psprintf("update_id of command %d", index));
	return id;
}

/* Refuse an update command that does not fit the update's state. */
static void
dur_cmd_update_state(Jsonb *cmd, int index, const char *id, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_DUR_BAD_COMMAND),
			 errmsg("command %d (%s): update \"%s\" %s", index, dur_cmd_type(cmd), id, problem),
			 errdetail("%s", dur_cmd_excerpt(cmd)),
			 errhint("Accept an update once, then complete it; reject only an update not accepted.")));
}

/*
 * accept_update: the validator passed.  WorkflowExecutionUpdateAccepted,
 * and the update is durable (durable.updates); its caller learns at commit.
 */
static void
dur_cmd_accept_update(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"update_id", "name", "args", NULL};
	DurRun	   *run = cx->run;
	char	   *id;
	char	   *name;
	Jsonb	   *args;
	DurRow		row;
	DurEvent   *ev;
	DurJsonObj	req;
	DurJsonObj	meta;
	DurJsonObj	input;
	int64		accepted;
	Datum		v[U_NCOLS];
	bool		n[U_NCOLS] = {false, false, false, false, false, true, false, false};

	dur_cmd_fields(cmd, index, "accept_update", fields);
	id = dur_cmd_update_id(cmd, index);
	name = dur_cmd_text(cmd, "name", index, true);
	dur_check_id(name, psprintf("name of command %d", index));
	args = dur_cmd_payload(cmd, "args", psprintf("args of command %d", index));
	if (dur_update_row(cx->call, &cx->run->run_id, id, &row))
		dur_cmd_update_state(cmd, index, id, "was accepted already");

	ev = dur_event("WorkflowExecutionUpdateAccepted");
	dj_str(&ev->attrs, "protocol_instance_id", id);
	dj_str(&ev->attrs, "accepted_request_message_id", psprintf("%s/request", id));
	dj_int(&ev->attrs, "accepted_request_sequencing_event_id", cx->completed - 1);
	dj_init(&meta);
	dj_str(&meta, "update_id", id);
	dj_init(&input);
	dj_str(&input, "name", name);
	dj_jsonb(&input, "args", args);
	dj_init(&req);
	dj_obj(&req, "meta", &meta);
	dj_obj(&req, "input", &input);
	dj_obj(&ev->attrs, "accepted_request", &req);
	accepted = dur_record(run, ev);

	v[U_RUN_ID] = UUIDPGetDatum(&run->run_id);
	v[U_UPDATE_ID] = CStringGetTextDatum(id);
	v[U_NAME] = CStringGetTextDatum(name);
	v[U_STATE] = CStringGetTextDatum("accepted");
	v[U_ACCEPTED_EVENT_ID] = Int64GetDatum(accepted);
	v[U_WORKFLOW_ID] = run->row.values[W_WORKFLOW_ID];
	v[U_NAMESPACE] = run->row.values[W_NAMESPACE];
	dur_insert(cx->call, DUR_UPDATES, v, n, NULL);
	dur_update_accepted(&run->run_id, id);
}

/*
 * complete_update: the handler returned or failed.
 * WorkflowExecutionUpdateCompleted; the caller gets the outcome at commit.
 */
static void
dur_cmd_complete_update(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"update_id", "result", "failure", NULL};
	DurRun	   *run = cx->run;
	char	   *id;
	Jsonb	   *result;
	Jsonb	   *fail;
	DurRow		row;
	DurEvent   *ev;
	DurJsonObj	meta;
	DurJsonObj	outcome;
	StringInfoData outcome_text;

	dur_cmd_fields(cmd, index, "complete_update", fields);
	id = dur_cmd_update_id(cmd, index);
	result = dur_cmd_payload(cmd, "result", psprintf("result of command %d", index));
	fail = dur_jsonb_get(cmd, "failure");
	if (fail != NULL && strcmp(dur_jsonb_typeof(fail), "null") == 0)
		fail = NULL;
	if (!dur_update_row(cx->call, &cx->run->run_id, id, &row))
		dur_cmd_update_state(cmd, index, id, "was not accepted");
	if (strcmp(TextDatumGetCString(row.values[U_STATE]), "accepted") != 0)
		dur_cmd_update_state(cmd, index, id, "was completed already");

	initStringInfo(&outcome_text);
	dj_init(&outcome);
	if (fail != NULL)
	{
		DurFailure	f;
		DurJsonObj	fo;

		dur_failure(fail, psprintf("failure of command %d", index), &f);
		dj_init(&fo);
		dur_failure_fields(&f, &fo);
		dj_obj(&outcome, "failure", &fo);
		dj_init(&fo);
		dur_failure_fields(&f, &fo);
		dj_end(&fo, &outcome_text);
	}
	else
	{
		dj_jsonb(&outcome, "success", result);
		if (result == NULL)
			appendStringInfoString(&outcome_text, "null");
		else
			dj_append_jsonb(&outcome_text, result);
	}
	ev = dur_event("WorkflowExecutionUpdateCompleted");
	dj_init(&meta);
	dj_str(&meta, "update_id", id);
	dj_obj(&ev->attrs, "meta", &meta);
	dj_int(&ev->attrs, "accepted_event_id", DatumGetInt64(row.values[U_ACCEPTED_EVENT_ID]));
	dj_obj(&ev->attrs, "outcome", &outcome);
	(void) dur_record(run, ev);

	row.values[U_STATE] = CStringGetTextDatum("completed");
	row.values[U_OUTCOME] = JsonbPGetDatum(dj_to_jsonb(&outcome));
	row.nulls[U_OUTCOME] = false;
	dur_update(cx->call, DUR_UPDATES, &row.tid, row.values, row.nulls, NULL);
	dur_update_finished(&run->run_id, id, false, outcome_text.data, fail != NULL);
}

/*
 * reject_update: the validator refused.  Nothing is written; the caller
 * gets the failure at commit.
 */
static void
dur_cmd_reject_update(DurCmdContext *cx, Jsonb *cmd, int index)
{
	static const char *const fields[] = {"update_id", "failure", NULL};
	char	   *id;
	DurRow		row;
	DurFailure	f;
	DurJsonObj	fo;
	StringInfoData outcome_text;

	dur_cmd_fields(cmd, index, "reject_update", fields);
	id = dur_cmd_update_id(cmd, index);
	if (dur_update_row(cx->call, &cx->run->run_id, id, &row))
		dur_cmd_update_state(cmd, index, id, "was accepted: complete it with a failure instead");
	if (dur_jsonb_get(cmd, "failure") == NULL ||
		strcmp(dur_jsonb_typeof(dur_jsonb_get(cmd, "failure")), "null") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_BAD_COMMAND),
				 errmsg("command %d (reject_update) is missing field \"failure\"", index),
				 errdetail("%s", dur_cmd_excerpt(cmd)),
				 errhint("A rejection carries the validator's failure: {\"message\": ...}.")));
	dur_failure(dur_jsonb_get(cmd, "failure"), psprintf("failure of command %d", index), &f);
	dj_init(&fo);
	dur_failure_fields(&f, &fo);
	initStringInfo(&outcome_text);
	dj_end(&fo, &outcome_text);
	dur_update_finished(&cx->run->run_id, id, true, outcome_text.data, true);
}

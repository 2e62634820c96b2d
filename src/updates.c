/*-------------------------------------------------------------------------
 *
 * updates.c
 *	  Workflow updates: a client asks a running workflow to change and
 *	  answer, a worker validates and runs the handler inside a workflow
 *	  task, the client waits for the stage it asked for.
 *
 * As in Temporal, an update is admitted without a durable write: the
 * client's call cannot commit before it waits, so the request travels
 * through shared memory, like a query (query.c).  An update slot holds the
 * request (update id, name, args) and, later, the outcome:
 *
 *	FREE -> ADMITTED	update_workflow() fills a slot and pokes the engine
 *	ADMITTED: the engine (dur_updates_schedule, from the timer service)
 *						schedules a speculative workflow task for the run if
 *						it has none: one that writes no event unless it has
 *						to; every workflow task handed out carries the run's
 *						admitted updates as "messages"
 *	ADMITTED -> ACCEPTED	a completion's accept_update command commits
 *						(WorkflowExecutionUpdateAccepted, and a row in
 *						durable.updates)
 *	ADMITTED -> REJECTED	reject_update commits: nothing is written, and a
 *						speculative task that only rejected writes no event
 *	-> COMPLETED		complete_update commits
 *						(WorkflowExecutionUpdateCompleted)
 *	-> ABORTED			the run closed first
 *	any -> FREE			the asker returns, times out or errors out
 *
 * Several slots may name one update (a client retrying with its id); every
 * change reaches all of them.  An accepted update is durable: a slot lost
 * in a crash loses only the waiting, and a later call with the same update
 * id finds the row.  An admitted update is not: a crash loses it, and the
 * client's retry admits it again, as in Temporal.
 *
 * Locking: dur_shared->lock protects the slots; state changes made by a
 * transaction reach the slots when it commits (an xact callback), so a
 * client never sees an outcome that rolled back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "history.h"
#include "matching.h"
#include "updates.h"

PG_FUNCTION_INFO_V1(update_workflow);
PG_FUNCTION_INFO_V1(update_with_start_workflow);

typedef enum DurUpdState
{
	DUR_UPD_FREE = 0,
	DUR_UPD_ADMITTED,
	DUR_UPD_ACCEPTED,
	DUR_UPD_COMPLETED,
	DUR_UPD_REJECTED,
	DUR_UPD_ABORTED
} DurUpdState;

static const char *const upd_stage_names[] = {
	"free", "admitted", "accepted", "completed", "rejected", "aborted"
};

typedef struct DurUpdateSlot
{
	DurUpdState state;
	Oid			dboid;
	pg_uuid_t	run_id;
	bool		wft_requested;	/* a poller or the engine saw to a task for it */
	uint32		queue_hash;		/* hash of its run's queue key (dur_queue_key) */
	TimestampTz admitted_at;
	int64		handed_seq;		/* wft_seq of the last task that carried it */
	Latch	   *asker_latch;
	pid_t		asker_pid;
	uint64		slot_id;		/* never reused */
	bool		failed;			/* the outcome is a failure */
	int			id_len;			/* buf: update id NUL, then name NUL args NUL (admitted) */
	int			len;			/* or the outcome (completed, rejected) */
	char		buf[DUR_UPDATE_BUFSIZE];
} DurUpdateSlot;

/* A state change a transaction makes, applied to the slots at commit. */
typedef struct DurUpdateChange
{
	pg_uuid_t	run_id;
	char	   *update_id;		/* NULL: every update of the run (its close) */
	DurUpdState state;
	char	   *outcome;
	int			len;
	bool		failed;
} DurUpdateChange;

static List *pending_changes = NIL;
static bool xact_callback_registered = false;
static bool exit_callback_registered = false;

Size
dur_update_shmem_size(void)
{
	return mul_size(DUR_MAX_UPDATES, sizeof(DurUpdateSlot));
}

static DurUpdateSlot *
dur_update_slots(void)
{
	return (DurUpdateSlot *) ((char *) dur_shared + dur_shared->update_offset);
}

/*
 * Let go of this backend's slot (slot_id 0: all of them).  An update still
 * admitted stays, without an asker, until a task takes it up or its run
 * closes: a client may send an update without waiting for it.
 */
static void
dur_update_release(uint64 slot_id)
{
	DurUpdateSlot *slots = dur_update_slots();
	int			i;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_UPDATES; i++)
		if (slots[i].state != DUR_UPD_FREE && slots[i].asker_pid == MyProcPid &&
			(slot_id == 0 || slots[i].slot_id == slot_id))
		{
			if (slots[i].state == DUR_UPD_ADMITTED)
			{
				slots[i].asker_pid = 0;
				slots[i].asker_latch = NULL;
			}
			else
			{
				slots[i].state = DUR_UPD_FREE;
				dur_shared->nupdates--;
			}
		}
	LWLockRelease(dur_shared->lock);
}

/* Move a slot on: to state, waking its asker, or free it when it has none. */
static void
dur_slot_set(DurUpdateSlot *s, DurUpdState state)
{
	if (s->asker_pid == 0 && state != DUR_UPD_ADMITTED)
	{
		s->state = DUR_UPD_FREE;
		dur_shared->nupdates--;
	}
	else
	{
		s->state = state;
		if (s->asker_latch != NULL)
			SetLatch(s->asker_latch);
	}
}

static void
dur_update_exit(int code, Datum arg)
{
	dur_update_release(0);
}

/* Does slot s name update_id of run? */
static bool
dur_slot_is(DurUpdateSlot *s, const pg_uuid_t *run, const char *update_id)
{
	return s->state != DUR_UPD_FREE && s->dboid == MyDatabaseId &&
		memcmp(&s->run_id, run, sizeof(pg_uuid_t)) == 0 &&
		(update_id == NULL || strcmp(s->buf, update_id) == 0);
}

/* At commit, apply the transaction's changes to the slots; at abort, drop them. */
static void
dur_update_xact_callback(XactEvent event, void *arg)
{
	DurUpdateSlot *slots;
	ListCell   *lc;
	int			i;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (pending_changes == NIL)
				break;
			slots = dur_update_slots();
			LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
			foreach(lc, pending_changes)
			{
				DurUpdateChange *c = lfirst(lc);

				for (i = 0; i < DUR_MAX_UPDATES; i++)
				{
					DurUpdateSlot *s = &slots[i];

					if (!dur_slot_is(s, &c->run_id, c->update_id))
						continue;
					/* a close aborts only what has not completed */
					if (c->state == DUR_UPD_ABORTED &&
						(s->state == DUR_UPD_COMPLETED || s->state == DUR_UPD_REJECTED))
						continue;
					if (c->state == DUR_UPD_COMPLETED || c->state == DUR_UPD_REJECTED)
					{
						int			len = Min(c->len, DUR_UPDATE_BUFSIZE - s->id_len - 1);

						memcpy(s->buf + s->id_len + 1, c->outcome, len);
						s->len = len;
						s->failed = c->failed;
					}
					dur_slot_set(s, c->state);
				}
			}
			LWLockRelease(dur_shared->lock);
			pending_changes = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending_changes = NIL;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending_changes != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that answered a workflow update")));
			break;
		default:
			break;
	}
}

/* Remember a change to apply to the slots of (run, update_id) at commit. */
static void
dur_update_change(const pg_uuid_t *run, const char *update_id, DurUpdState state,
				  const char *outcome, bool failed)
{
	MemoryContext old;
	DurUpdateChange *c;

	if (dur_shared == NULL)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(dur_update_xact_callback, NULL);
		xact_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	c = palloc0(sizeof(DurUpdateChange));
	memcpy(&c->run_id, run, sizeof(pg_uuid_t));
	c->update_id = update_id ? pstrdup(update_id) : NULL;
	c->state = state;
	if (outcome != NULL)
	{
		c->outcome = pstrdup(outcome);
		c->len = strlen(outcome);
	}
	c->failed = failed;
	pending_changes = lappend(pending_changes, c);
	MemoryContextSwitchTo(old);
}

void
dur_update_accepted(const pg_uuid_t *run, const char *update_id)
{
	dur_update_change(run, update_id, DUR_UPD_ACCEPTED, NULL, false);
}

void
dur_update_finished(const pg_uuid_t *run, const char *update_id, bool rejected,
					const char *outcome, bool failed)
{
	dur_update_change(run, update_id, rejected ? DUR_UPD_REJECTED : DUR_UPD_COMPLETED,
					  outcome, failed);
}

void
dur_update_run_closed(const pg_uuid_t *run)
{
	dur_update_change(run, NULL, DUR_UPD_ABORTED, NULL, false);
}

/*
 * Has this transaction answered the update already (accepted, completed or
 * rejected it, or closed its run)?  Its slots learn so only at commit, and
 * a task the same completion hands back must not carry it again.
 */
static bool
dur_answered_here(const pg_uuid_t *run, const char *update_id)
{
	ListCell   *lc;

	foreach(lc, pending_changes)
	{
		DurUpdateChange *c = lfirst(lc);

		if (memcmp(&c->run_id, run, sizeof(pg_uuid_t)) == 0 &&
			(c->update_id == NULL || strcmp(c->update_id, update_id) == 0))
			return true;
	}
	return false;
}

/*
 * The admitted updates of a run, as the "messages" of the workflow task
 * with sequence number seq: a JSON array of {"update_id", "name", "args"},
 * or NULL when there are none.  Each is marked as carried by that task.
 */
StringInfo
dur_update_messages(const pg_uuid_t *run, int64 seq)
{
	DurUpdateSlot *slots;
	StringInfo	out = NULL;
	List	   *seen = NIL;
	int			i;

	if (dur_shared == NULL || dur_shared->nupdates == 0)
		return NULL;
	slots = dur_update_slots();
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_UPDATES; i++)
	{
		DurUpdateSlot *s = &slots[i];
		DurJsonObj	o;
		char	   *name;
		char	   *args;
		ListCell   *lc;
		bool		dup = false;

		if (s->state != DUR_UPD_ADMITTED || !dur_slot_is(s, run, NULL) ||
			dur_answered_here(run, s->buf))
			continue;
		s->handed_seq = seq;
		foreach(lc, seen)
			if (strcmp((char *) lfirst(lc), s->buf) == 0)
				dup = true;
		if (dup)
			continue;			/* two clients asked with one update id */
		seen = lappend(seen, s->buf);
		name = s->buf + s->id_len + 1;
		args = name + strlen(name) + 1;
		if (out == NULL)
		{
			out = makeStringInfo();
			appendStringInfoChar(out, '[');
		}
		else
			appendStringInfoString(out, ", ");
		dj_init(&o);
		dj_str(&o, "update_id", s->buf);
		dj_str(&o, "name", name);
		if (*args == '\0')
			dj_null(&o, "args");
		else
			dj_raw(&o, "args", args, strlen(args));
		dj_end(&o, out);
	}
	LWLockRelease(dur_shared->lock);
	if (out != NULL)
		appendStringInfoChar(out, ']');
	return out;
}

/*
 * Has the run admitted updates that no task with sequence number seq
 * carried?  A completion then schedules a task for them.
 */
bool
dur_update_waiting(const pg_uuid_t *run, int64 seq)
{
	DurUpdateSlot *slots;
	bool		waiting = false;
	int			i;

	if (dur_shared == NULL || dur_shared->nupdates == 0)
		return false;
	slots = dur_update_slots();
	LWLockAcquire(dur_shared->lock, LW_SHARED);
	for (i = 0; i < DUR_MAX_UPDATES && !waiting; i++)
		waiting = slots[i].state == DUR_UPD_ADMITTED && dur_slot_is(&slots[i], run, NULL) &&
			slots[i].handed_seq != seq && !dur_answered_here(run, slots[i].buf);
	LWLockRelease(dur_shared->lock);
	return waiting;
}

/*
 * Was an update of the run admitted less than a minute ago?  A run not
 * found may be one whose start has not committed yet.
 */
static bool
dur_update_young(const pg_uuid_t *run_id)
{
	DurUpdateSlot *slots = dur_update_slots();
	TimestampTz limit = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), -60 * 1000);
	bool		young = false;
	int			i;

	LWLockAcquire(dur_shared->lock, LW_SHARED);
	for (i = 0; i < DUR_MAX_UPDATES && !young; i++)
		young = slots[i].state == DUR_UPD_ADMITTED && dur_slot_is(&slots[i], run_id, NULL) &&
			slots[i].admitted_at > limit;
	LWLockRelease(dur_shared->lock);
	return young;
}

/*
 * See to a workflow task for a run's admitted updates, locking the run
 * without waiting (false when busy: nothing done).  A run without a task
 * gets a speculative one, which writes no event unless it must, started for
 * worker if it polls the run's queue (ns, queue), else ready; a closed
 * run's updates abort.  Returns the task started for worker, if any.
 */
static bool
dur_update_give_task(const pg_uuid_t *run_id, const char *ns, const char *queue,
					 const char *worker, DurTask **started)
{
	DurUpdateSlot *slots = dur_update_slots();
	DurCall    *call;
	DurRun	   *run;
	bool		closed;
	int			j;

	*started = NULL;
	call = dur_call_begin();
	/* every table lock before the run lock (tables.c) */
	dur_call_open_all(call);
	if (!dur_try_lock_run(run_id))
	{
		dur_call_end(call);
		return false;
	}
	dur_call_snapshot(call);
	run = dur_run_read(call, run_id);
	if (run == NULL && dur_update_young(run_id))
	{
		/* started by update_with_start_workflow, not committed yet */
		dur_call_end(call);
		dur_unlock_run(run_id);
		return false;
	}
	closed = run == NULL || !dur_run_running(run);
	if (!closed && worker != NULL &&
		(strcmp(run->namespace, ns) != 0 || strcmp(run->task_queue, queue) != 0))
	{
		/* not this poller's queue (a hash collision): the engine sees to it */
		dur_call_end(call);
		dur_unlock_run(run_id);
		return false;
	}
	if (!closed && run->wft_state == DUR_WFT_NONE)
	{
		*started = dur_schedule_wft(call, run, 1, false, NIL, worker);
		dur_run_write(call, run);
	}
	else
	{
		/*
		 * Nothing written: let the run go, or a poller would hold it while
		 * it waits on (its task's completion would wait for the poll).
		 */
		dur_unlock_run(run_id);
	}
	dur_call_end(call);
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (j = 0; j < DUR_MAX_UPDATES; j++)
		if (slots[j].state == DUR_UPD_ADMITTED && dur_slot_is(&slots[j], run_id, NULL))
		{
			slots[j].wft_requested = true;
			if (closed)
				dur_slot_set(&slots[j], DUR_UPD_ABORTED);
		}
	LWLockRelease(dur_shared->lock);
	return true;
}

/*
 * An admitted update no task is seen to yet, of a run on the queue with key
 * hash queue_hash (0: any queue): its run id, and the slot marked taken.
 */
static bool
dur_update_take(uint32 queue_hash, pg_uuid_t *run_id)
{
	DurUpdateSlot *slots = dur_update_slots();
	bool		found = false;
	int			i;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_UPDATES && !found; i++)
		if (slots[i].state == DUR_UPD_ADMITTED && !slots[i].wft_requested &&
			slots[i].dboid == MyDatabaseId && (queue_hash == 0 || slots[i].queue_hash == queue_hash))
		{
			slots[i].wft_requested = true;
			memcpy(run_id, &slots[i].run_id, sizeof(pg_uuid_t));
			found = true;
		}
	LWLockRelease(dur_shared->lock);
	return found;
}

/* Give an update taken by dur_update_take back (its run was busy). */
static void
dur_update_untake(const pg_uuid_t *run_id)
{
	DurUpdateSlot *slots = dur_update_slots();
	int			i;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_UPDATES; i++)
		if (slots[i].state == DUR_UPD_ADMITTED && dur_slot_is(&slots[i], run_id, NULL))
			slots[i].wft_requested = false;
	LWLockRelease(dur_shared->lock);
}

/*
 * A poller's part: the update of a run on its queue that waits for a task
 * gets one, started for the poller at once (the client woke it).  NULL when
 * there is none, or its run already has a task (handed out as usual).
 */
DurTask *
dur_claim_update_task(const char *ns, const char *queue, const char *key, const char *worker)
{
	pg_uuid_t	run_id;
	DurTask    *t = NULL;

	if (dur_shared == NULL || dur_shared->nupdates == 0 ||
		!dur_update_take(dur_hash_key(key, strlen(key)), &run_id))
		return NULL;
	if (!dur_update_give_task(&run_id, ns, queue, worker, &t))
	{
		dur_update_untake(&run_id);
		dur_poke_engine();
		return NULL;
	}
	return t;
}

/*
 * The engine's part: every admitted update that no poller took up gets a
 * task (ready, for whoever polls).  Returns true when a run was busy (the
 * caller comes back soon).
 */
bool
dur_updates_schedule(void)
{
	pg_uuid_t	run_id;
	bool		busy = false;
	int			n = 0;

	if (dur_shared == NULL || dur_shared->nupdates == 0)
		return false;
	while (n++ < DUR_MAX_UPDATES && dur_update_take(0, &run_id))
	{
		DurTask    *t;

		if (!dur_update_give_task(&run_id, "", "", NULL, &t))
		{
			dur_update_untake(&run_id);
			busy = true;
			break;
		}
	}
	return busy;
}

/*
 * Fill a slot for an update of a run (its queue's key, its id, name and
 * args) in state, asked by this backend, and wake a poller of the queue or
 * else the engine.  Its id in *slot_id.
 */
static DurUpdateSlot *
dur_update_admit(const pg_uuid_t *run_id, const char *queue_key, const char *update_id,
				 const char *name, const char *args_text, DurUpdState state, uint64 *slot_id)
{
	DurUpdateSlot *slots;
	DurUpdateSlot *slot = NULL;
	int			woken;
	int			i;

	if (!exit_callback_registered)
	{
		before_shmem_exit(dur_update_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	slots = dur_update_slots();
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_UPDATES && slot == NULL; i++)
		if (slots[i].state == DUR_UPD_FREE)
			slot = &slots[i];
	/* none free: the oldest update nobody waits for gives its slot up */
	if (slot == NULL)
		for (i = 0; i < DUR_MAX_UPDATES; i++)
			if (slots[i].asker_pid == 0 && (slot == NULL || slots[i].slot_id < slot->slot_id))
				slot = &slots[i];
	if (slot == NULL)
	{
		LWLockRelease(dur_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many workflow updates in progress"),
				 errdetail("At most %d updates can wait at once.", DUR_MAX_UPDATES),
				 errhint("Try again shortly.")));
	}
	if (slot->state == DUR_UPD_FREE)
		dur_shared->nupdates++;
	memset(slot, 0, offsetof(DurUpdateSlot, buf));
	slot->state = state;
	slot->dboid = MyDatabaseId;
	slot->run_id = *run_id;
	slot->asker_latch = MyLatch;
	slot->asker_pid = MyProcPid;
	slot->slot_id = *slot_id = ++dur_shared->next_query_id;
	slot->admitted_at = GetCurrentTimestamp();
	slot->queue_hash = dur_hash_key(queue_key, strlen(queue_key));
	slot->id_len = strlen(update_id);
	memcpy(slot->buf, update_id, slot->id_len + 1);
	memcpy(slot->buf + slot->id_len + 1, name, strlen(name) + 1);
	if (args_text != NULL)
		memcpy(slot->buf + slot->id_len + strlen(name) + 2, args_text, strlen(args_text) + 1);
	else
		slot->buf[slot->id_len + strlen(name) + 2] = '\0';
	/* a poller of the run's queue starts a task for it at once, else the engine makes one */
	woken = dur_wake_task_waiters(slot->queue_hash, DUR_KIND_WORKFLOW, 1, false, 0);
	LWLockRelease(dur_shared->lock);
	if (woken == 0)
		dur_poke_engine();
	return slot;
}

/* Build the durable.update_result row. */
static Datum
dur_update_result(FunctionCallInfo fcinfo, const char *update_id, const char *stage,
				  Datum outcome, bool failed)
{
	TupleDesc	desc;
	Datum		v[4];
	bool		n[4] = {false, false, true, true};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	v[0] = CStringGetTextDatum(update_id);
	v[1] = CStringGetTextDatum(stage);
	if (outcome != (Datum) 0)
	{
		v[failed ? 3 : 2] = outcome;
		n[failed ? 3 : 2] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), v, n)));
}

/* The durable.updates row of (run, update_id), if there is one. */
bool
dur_update_row(DurCall *call, const pg_uuid_t *run, const char *update_id, DurRow *row)
{
	DurScan		s;
	bool		found;

	dur_scan_begin(&s, call, DUR_UPDATES_PKEY);
	dur_key_uuid(&s, 1, run);
	dur_key_text(&s, 2, update_id);
	found = dur_scan_next(&s, ForwardScanDirection, row);
	dur_scan_end(&s);
	return found;
}

/* A durable.updates row's outcome: the result, or (*failed) the failure; 0 before completion. */
static Datum
dur_update_row_outcome(DurRow *row, bool *failed)
{
	Jsonb	   *o;
	Jsonb	   *f;

	*failed = false;
	if (row->nulls[U_OUTCOME])
		return (Datum) 0;
	o = DatumGetJsonbP(row->values[U_OUTCOME]);
	f = dur_jsonb_get(o, "failure");
	*failed = f != NULL;
	return JsonbPGetDatum(*failed ? f : dur_jsonb_get(o, "success"));
}

static int
dur_stage_rank(const char *stage)
{
	return strcmp(stage, "admitted") == 0 ? 1 : strcmp(stage, "accepted") == 0 ? 2 : 3;
}

/*
 * update_workflow(workflow_id, update_name, args, update_id,
 * wait_for_stage, wait, run_id, namespace) returns durable.update_result:
 * send an update to a running workflow and wait up to "wait" for it to
 * reach wait_for_stage (admitted, accepted or completed).  Returns the
 * stage it reached (a rejected update: "rejected") with the handler's
 * result or the failure.  An update id already accepted in the run is not
 * sent again: its outcome is awaited or returned.
 */
Datum
update_workflow(PG_FUNCTION_ARGS)
{
	static const char *const stage_choices[] = {"admitted", "accepted", "completed", NULL};
	char	   *ns = dur_namespace_arg(fcinfo, 7);
	char	   *wid;
	char	   *name;
	char	   *update_id;
	const char *want;
	Interval   *wait;
	Datum		args = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	char	   *args_text = NULL;
	DurCall    *call;
	DurRun	   *run;
	DurRow		row;
	pg_uuid_t	run_id;
	char	   *queue_key;
	DurUpdateSlot *slot;
	uint64		slot_id;
	TimestampTz deadline;
	const char *stage = "admitted";
	Datum		outcome = (Datum) 0;
	bool		failed = false;
	int			need;

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	dur_require_not_null(PG_ARGISNULL(0), "workflow_id");
	dur_require_not_null(PG_ARGISNULL(1), "update_name");
	wid = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	dur_check_id(name, "update_name");
	update_id = PG_ARGISNULL(3) ? dur_uuid_text(dur_new_uuid()) : text_to_cstring(PG_GETARG_TEXT_PP(3));
	dur_check_id(update_id, "update_id");
	want = dur_check_choice(PG_ARGISNULL(4) ? "completed" : text_to_cstring(PG_GETARG_TEXT_PP(4)),
							"wait_for_stage", stage_choices);
	wait = PG_ARGISNULL(5) ? NULL : PG_GETARG_INTERVAL_P(5);
	dur_check_interval(wait, "wait", false);
	if (args != (Datum) 0)
	{
		dur_check_payload(args, "update args");
		args_text = JsonbToCString(NULL, &DatumGetJsonbP(args)->root, VARSIZE(DatumGetJsonbP(args)));
	}
	need = strlen(update_id) + strlen(name) + (args_text ? strlen(args_text) : 0) + 3;
	if (need > DUR_UPDATE_BUFSIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("update is too large: %d bytes", need),
				 errhint("An update's id, name and args must fit in %d bytes.", DUR_UPDATE_BUFSIZE)));
	dur_require_engine();

	call = dur_call_begin();
	run = dur_run_find(call, ns, wid, PG_ARGISNULL(6) ? NULL : PG_GETARG_UUID_P(6), false, false);
	run_id = run->run_id;
	queue_key = dur_queue_key(run->namespace, run->task_queue);
	if (dur_update_row(call, &run_id, update_id, &row))
	{
		/* accepted before: its outcome, or a wait for it */
		stage = TextDatumGetCString(row.values[U_STATE]);
		outcome = dur_update_row_outcome(&row, &failed);
		if (strcmp(stage, "completed") == 0 || dur_stage_rank(stage) >= dur_stage_rank(want))
		{
			dur_call_end(call);
			return dur_update_result(fcinfo, update_id, stage, outcome, failed);
		}
		if (!dur_run_running(run))
			ereport(ERROR,
					(errcode(ERRCODE_DUR_NOT_RUNNING),
					 errmsg("workflow \"%s\" closed before update \"%s\" completed", wid, update_id),
					 errdetail("Run %s is %s; the update was accepted.", dur_uuid_text(&run_id), run->status),
					 errhint("durable.describe_workflow shows how it closed.")));
	}
	else if (!dur_run_running(run))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_NOT_RUNNING),
				 errmsg("workflow \"%s\" is not running", wid),
				 errdetail("Run %s is %s: it takes no updates.", dur_uuid_text(&run_id), run->status),
				 errhint("Updates go to running workflows only.")));
	dur_call_end(call);

	slot = dur_update_admit(&run_id, queue_key, update_id, name, args_text,
							strcmp(stage, "accepted") == 0 ? DUR_UPD_ACCEPTED : DUR_UPD_ADMITTED, &slot_id);

	deadline = wait ? dur_time_plus(GetCurrentTimestamp(), wait) : GetCurrentTimestamp();
	PG_TRY();
	{
		for (;;)
		{
			long		wait_ms;
			DurUpdState st;

			LWLockAcquire(dur_shared->lock, LW_SHARED);
			st = slot->slot_id == slot_id ? slot->state : DUR_UPD_FREE;
			if (st == DUR_UPD_COMPLETED || st == DUR_UPD_REJECTED)
			{
				outcome = DirectFunctionCall1(jsonb_in, CStringGetDatum(
															pnstrdup(slot->buf + slot->id_len + 1, slot->len)));
				failed = slot->failed;
			}
			LWLockRelease(dur_shared->lock);
			if (st == DUR_UPD_ABORTED)
				ereport(ERROR,
						(errcode(ERRCODE_DUR_NOT_RUNNING),
						 errmsg("workflow \"%s\" closed before update \"%s\" completed", wid, update_id),
						 errhint("durable.describe_workflow shows how it closed.")));
			if (st != DUR_UPD_FREE)
				stage = upd_stage_names[st];
			if (st == DUR_UPD_COMPLETED || st == DUR_UPD_REJECTED ||
				(st != DUR_UPD_FREE && dur_stage_rank(stage) >= dur_stage_rank(want)))
				break;
			wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (wait_ms <= 0)
				break;
			(void) dur_wait_latch(wait_ms);
		}
	}
	PG_FINALLY();
	{
		dur_update_release(slot_id);
	}
	PG_END_TRY();
	return dur_update_result(fcinfo, update_id, stage, outcome, failed);
}

/*
 * update_with_start_workflow(workflow_id, update_name, update_args,
 * update_id, workflow_type, input, task_queue, execution_timeout,
 * run_timeout, task_timeout, id_reuse_policy, retry_policy,
 * search_attributes, memo, namespace) returns durable.update_result:
 * Temporal's update-with-start.  Starts the workflow unless it runs (as
 * signal_with_start_workflow does) and admits the update for its run: the
 * new run's first workflow task carries it once the caller's transaction
 * commits.  It does not wait (a run it starts is not visible before the
 * commit): update_workflow with the same update id waits for the outcome.
 * An update id the run accepted already returns its stage and outcome.
 */
Datum
update_with_start_workflow(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 14);
	DurStartRequest r;
	DurCall    *call;
	DurRun	   *run;
	DurRow		row;
	pg_uuid_t  *run_id;
	bool		existing;
	char	   *name;
	char	   *update_id;
	char	   *args_text = NULL;
	char	   *queue_key;
	uint64		slot_id;

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	dur_require_not_null(PG_ARGISNULL(0), "workflow_id");
	dur_require_not_null(PG_ARGISNULL(1), "update_name");
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow_type must not be NULL"),
				 errhint("update_with_start_workflow needs the workflow_type to start the workflow if it is not running.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	dur_check_id(name, "update_name");
	update_id = PG_ARGISNULL(3) ? dur_uuid_text(dur_new_uuid()) : text_to_cstring(PG_GETARG_TEXT_PP(3));
	dur_check_id(update_id, "update_id");
	if (!PG_ARGISNULL(2))
	{
		Jsonb	   *args = PG_GETARG_JSONB_P(2);

		dur_check_payload(PG_GETARG_DATUM(2), "update args");
		args_text = JsonbToCString(NULL, &args->root, VARSIZE(args));
	}
	if ((int) (strlen(update_id) + strlen(name) + (args_text ? strlen(args_text) : 0) + 3) > DUR_UPDATE_BUFSIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("update is too large"),
				 errhint("An update's id, name and args must fit in %d bytes.", DUR_UPDATE_BUFSIZE)));
	dur_require_engine();

	memset(&r, 0, sizeof(r));
	r.namespace = ns;
	r.workflow_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	r.workflow_type = text_to_cstring(PG_GETARG_TEXT_PP(4));
	r.input = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	r.task_queue = PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6));
	r.execution_timeout = PG_ARGISNULL(7) ? NULL : PG_GETARG_INTERVAL_P(7);
	r.run_timeout = PG_ARGISNULL(8) ? NULL : PG_GETARG_INTERVAL_P(8);
	r.task_timeout = PG_ARGISNULL(9) ? NULL : PG_GETARG_INTERVAL_P(9);
	r.reuse = PG_ARGISNULL(10) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(10));
	r.conflict = "use_existing";
	r.retry_policy = PG_ARGISNULL(11) ? NULL : PG_GETARG_JSONB_P(11);
	r.search_attributes = PG_ARGISNULL(12) ? (Datum) 0 : PG_GETARG_DATUM(12);
	r.memo = PG_ARGISNULL(13) ? (Datum) 0 : PG_GETARG_DATUM(13);

	call = dur_call_begin();
	run_id = dur_start(call, &r, &existing);
	run = existing ? dur_run_lock(call, run_id) : dur_run_read(call, run_id);
	queue_key = dur_queue_key(ns, run->task_queue);
	if (existing && dur_update_row(call, run_id, update_id, &row))
	{
		/* accepted before: its stage and outcome */
		bool		failed;
		Datum		outcome = dur_update_row_outcome(&row, &failed);

		dur_call_end(call);
		return dur_update_result(fcinfo, update_id, TextDatumGetCString(row.values[U_STATE]),
								 outcome, failed);
	}
	dur_call_end(call);
	(void) dur_update_admit(run_id, queue_key, update_id, name, args_text, DUR_UPD_ADMITTED, &slot_id);
	/* nobody waits here: the update stays admitted for the run's next task */
	dur_update_release(slot_id);
	return dur_update_result(fcinfo, update_id, "admitted", (Datum) 0, false);
}

/*-------------------------------------------------------------------------
 *
 * wakeup.c
 *	  Waking waiters when what they wait for commits, and waiting cheaply.
 *
 * Three kinds of sleeper are woken here:
 *
 *	- pollers waiting in durable.poll_task() for a task on a queue;
 *	- clients waiting in durable.workflow_result() for a workflow to close;
 *	- the database's engine worker, sleeping until its next deadline.
 *
 * The engine calls dur_notify_task(), dur_notify_close() and
 * dur_notify_timer() while it writes; they only remember what to wake.  The waking happens in
 * a transaction callback after the commit is visible to new snapshots, so a
 * woken sleeper always finds what woke it.  A rolled-back transaction wakes
 * nobody.  Nothing here costs a WAL record or a NOTIFY: a commit that wakes
 * nobody pays a scan of the waiter array under a shared lock at most.
 *
 * Lost wake-ups are impossible because every sleeper follows the same
 * order: publish itself in its DurWaiter slot, then look (with a new
 * snapshot), then sleep on its latch.  A commit either happened before the
 * look, and the look sees it, or its callback runs after the publication,
 * and sets the latch.  The engine worker follows the same protocol with
 * next_wakeup/pending_wakeup in its DurEngineSlot (see engine.c).
 *
 * A task wake-up goes to as many waiters as the transaction made tasks
 * ready on that queue and kind (a poller is woken only for a task it can
 * take), marking each chosen waiter "woken" so that two commits do not
 * both count on the same sleeper.  A workflow task sticky to a worker goes
 * to a waiter of that worker first.  A chosen waiter that
 * aborts before it looks passes the wake-up on, and so does a transaction
 * that claimed a task and rolls back (the task is ready again).
 *
 * While a poller or a client sleeps, its snapshot horizon is released (see
 * dur_release_xmin) so that a long poll does not hold back vacuum.
 *
 * Locking: dur_shared->lock, exclusive to change a slot, shared to scan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "util.h"

PG_FUNCTION_INFO_V1(_notify_task);
PG_FUNCTION_INFO_V1(_notify_task_on_abort);
PG_FUNCTION_INFO_V1(_notify_close);
PG_FUNCTION_INFO_V1(_notify_timer);
PG_FUNCTION_INFO_V1(_wait_register);
PG_FUNCTION_INFO_V1(_wait);
PG_FUNCTION_INFO_V1(_wait_unregister);
PG_FUNCTION_INFO_V1(subscribe_workflow_closes);
PG_FUNCTION_INFO_V1(unsubscribe_workflow_closes);

#define DUR_CLOSE_CHANNEL "durable_workflow_closed"

/* Wake-ups remembered by the current transaction. */
#define DUR_MAX_PENDING 32

typedef struct DurPendingTask
{
	uint32		key;
	int			mask;
	uint32		worker;			/* a sticky task: its worker's hash; 0 for any */
	int			count;
} DurPendingTask;

/* Task wake-ups of one outcome (commit or abort) of the transaction. */
typedef struct DurPendingTasks
{
	DurPendingTask items[DUR_MAX_PENDING];
	int			n;
	bool		overflow;		/* too many queues: wake every task waiter */
} DurPendingTasks;

static DurPendingTasks tasks_at_commit;
static DurPendingTasks tasks_at_abort;

static uint32 pending_closes[DUR_MAX_PENDING];
static int	npending_closes = 0;
static bool pending_closes_overflow = false;

static TimestampTz pending_timer = 0;	/* 0: none */
static bool pending_engine_start = false;

static bool callbacks_registered = false;
static bool exit_callback_registered = false;

static void dur_xact_callback(XactEvent event, void *arg);
static void dur_pending_add(DurPendingTasks *p, const char *queue, int mask, const char *worker);
static void dur_wake_tasks(DurPendingTasks *p);
static void dur_wake_closes(void);
static void dur_wake_engine(TimestampTz at);
static void dur_forget_pending(void);
static void dur_clear_my_waiter(bool keep_subscription);

/* Hash of a queue name or workflow id, as stored in DurWaiter.key. */
uint32
dur_hash_key(const char *s, int len)
{
	return hash_bytes((const unsigned char *) s, len);
}

/*
 * The key of a namespace's task queue, as waiters and query slots know it:
 * "namespace:queue" (a namespace name has no colon, so the key names one
 * queue of one namespace).
 */
char *
dur_queue_key(const char *namespace, const char *queue)
{
	return psprintf("%s:%s", namespace, queue);
}

/* Register the transaction and exit callbacks once per backend. */
static void
dur_register_callbacks(void)
{
	dur_require_engine();
	if (!callbacks_registered)
	{
		RegisterXactCallback(dur_xact_callback, NULL);
		callbacks_registered = true;
	}
}

/* Task kind name to mask bit. */
static int
dur_kind_bit(const char *kind)
{
	if (strcmp(kind, "workflow") == 0)
		return DUR_KIND_WORKFLOW;
	if (strcmp(kind, "activity") == 0)
		return DUR_KIND_ACTIVITY;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid task kind \"%s\"", kind),
			 errhint("Task kinds are \"workflow\" and \"activity\".")));
	return 0;					/* keep compiler quiet */
}

/* Remember one more task of (queue, kind mask, sticky worker) to announce. */
static void
dur_pending_add(DurPendingTasks *p, const char *queue, int mask, const char *worker)
{
	uint32		key = dur_hash_key(queue, strlen(queue));
	uint32		wkey = worker ? dur_worker_key(worker) : 0;
	int			i;

	dur_register_callbacks();
	for (i = 0; i < p->n; i++)
	{
		if (p->items[i].key == key && p->items[i].mask == mask && p->items[i].worker == wkey)
		{
			if (p->items[i].count < INT_MAX / 2)
				p->items[i].count++;
			return;
		}
	}
	if (p->n < DUR_MAX_PENDING)
	{
		p->items[p->n].key = key;
		p->items[p->n].mask = mask;
		p->items[p->n].worker = wkey;
		p->items[p->n].count = 1;
		p->n++;
	}
	else
		p->overflow = true;
}

/* The hash a waiter publishes of its worker id (never 0). */
uint32
dur_worker_key(const char *worker)
{
	uint32		h = dur_hash_key(worker, strlen(worker));

	return h == 0 ? 1 : h;
}

/*
 * At commit, wake one more poller of this queue and kind; for a task
 * sticky to a worker (sticky_worker not NULL), a poller of that worker
 * first.
 */
void
dur_notify_task(const char *queue, int mask, const char *sticky_worker)
{
	dur_pending_add(&tasks_at_commit, queue, mask, sticky_worker);
}

/*
 * At commit, wake every poller of this queue and kind: for a task that only
 * some pollers can take (a build, a capability or a worker it needs), so
 * that the one chosen is never only a poller that cannot.
 */
void
dur_notify_task_all(const char *queue, int mask)
{
	int			i;

	dur_pending_add(&tasks_at_commit, queue, mask, NULL);
	for (i = 0; i < tasks_at_commit.n; i++)
		if (tasks_at_commit.items[i].key == dur_hash_key(queue, strlen(queue)) &&
			tasks_at_commit.items[i].mask == mask && tasks_at_commit.items[i].worker == 0)
			tasks_at_commit.items[i].count = INT_MAX / 2;
}

/*
 * If the transaction rolls back, wake one more poller of this queue and
 * kind.  A claim calls it: pollers passed the claimed row, and a rollback
 * makes it ready again.
 */
void
dur_notify_task_on_abort(const char *queue, int mask)
{
	dur_pending_add(&tasks_at_abort, queue, mask, NULL);
}

/* _notify_task(queue text, kind text): dur_notify_task, for 0.1/0.2's SQL. */
Datum
_notify_task(PG_FUNCTION_ARGS)
{
	dur_require_not_null(PG_ARGISNULL(0), "queue");
	dur_require_not_null(PG_ARGISNULL(1), "kind");
	dur_notify_task(dur_queue_key("default", text_to_cstring(PG_GETARG_TEXT_PP(0))),
					dur_kind_bit(text_to_cstring(PG_GETARG_TEXT_PP(1))), NULL);
	PG_RETURN_VOID();
}

/* _notify_task_on_abort(queue text, kind text), for 0.1/0.2's SQL. */
Datum
_notify_task_on_abort(PG_FUNCTION_ARGS)
{
	dur_require_not_null(PG_ARGISNULL(0), "queue");
	dur_require_not_null(PG_ARGISNULL(1), "kind");
	dur_notify_task_on_abort(dur_queue_key("default", text_to_cstring(PG_GETARG_TEXT_PP(0))),
							 dur_kind_bit(text_to_cstring(PG_GETARG_TEXT_PP(1))));
	PG_RETURN_VOID();
}

/* Is any backend of this database subscribed to workflow closes? */
static bool
dur_have_close_subscribers(void)
{
	bool		found = false;
	int			i;

	LWLockAcquire(dur_shared->lock, LW_SHARED);
	for (i = 0; i < dur_shared->nwaiters && !found; i++)
	{
		DurWaiter  *w = &dur_shared->waiters[i];

		if (w->close_subscriber && w->dboid == MyDatabaseId)
			found = true;
	}
	LWLockRelease(dur_shared->lock);
	return found;
}

/*
 * At commit, wake clients waiting for this workflow to close; NOTIFY
 * subscribers, if there are any, with payload.
 */
void
dur_notify_close(const char *workflow_id, const char *payload)
{
	uint32		key = dur_hash_key(workflow_id, strlen(workflow_id));

	dur_register_callbacks();
	if (npending_closes < DUR_MAX_PENDING)
		pending_closes[npending_closes++] = key;
	else
		pending_closes_overflow = true;

	if (payload != NULL && dur_have_close_subscribers())
		Async_Notify(DUR_CLOSE_CHANNEL, payload);
}

/* _notify_close(workflow_id text, payload text), for 0.1/0.2's SQL. */
Datum
_notify_close(PG_FUNCTION_ARGS)
{
	dur_require_not_null(PG_ARGISNULL(0), "workflow_id");
	dur_notify_close(text_to_cstring(PG_GETARG_TEXT_PP(0)),
					 PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/* At commit, wake the engine worker if it sleeps past this deadline. */
void
dur_notify_timer(TimestampTz at)
{
	dur_register_callbacks();
	if (pending_timer == 0 || at < pending_timer)
		pending_timer = at;
}

/* _notify_timer(at timestamptz), for 0.1/0.2's SQL. */
Datum
_notify_timer(PG_FUNCTION_ARGS)
{
	dur_require_not_null(PG_ARGISNULL(0), "at");
	dur_notify_timer(PG_GETARG_TIMESTAMPTZ(0));
	PG_RETURN_VOID();
}

/*
 * Ask the launcher, at commit, to (re)consider this database: called by
 * CREATE EXTENSION.
 */
void
dur_request_engine_start(void)
{
	dur_register_callbacks();
	pending_engine_start = true;
}

/* Transaction callback: wake at commit, forget at abort. */
static void
dur_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			dur_wake_tasks(&tasks_at_commit);
			if (npending_closes > 0 || pending_closes_overflow)
				dur_wake_closes();
			if (pending_timer != 0)
				dur_wake_engine(pending_timer);
			if (pending_engine_start)
			{
				DurEngineSlot *slot;

				LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
				slot = dur_find_engine(MyDatabaseId);
				if (slot != NULL && slot->state == DUR_DB_ABSENT)
					slot->state = DUR_DB_UNKNOWN;
				if (slot != NULL && slot->latch != NULL)
					SetLatch(slot->latch);
				LWLockRelease(dur_shared->lock);
				dur_wake_launcher();
			}
			dur_forget_pending();
			dur_clear_my_waiter(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			dur_wake_tasks(&tasks_at_abort);
			dur_forget_pending();
			dur_clear_my_waiter(true);
			break;
		default:
			break;
	}
}

static void
dur_forget_pending(void)
{
	tasks_at_commit.n = 0;
	tasks_at_commit.overflow = false;
	tasks_at_abort.n = 0;
	tasks_at_abort.overflow = false;
	npending_closes = 0;
	pending_closes_overflow = false;
	pending_timer = 0;
	pending_engine_start = false;
}

/*
 * Choose up to "count" unchosen task waiters for key/mask and set their
 * latches; with worker (not 0), waiters of that worker first.  Caller
 * holds the lock exclusively.  Returns how many were woken.
 */
int
dur_wake_task_waiters(uint32 key, int mask, int count, bool any_key, uint32 worker)
{
	int			n = dur_shared->nwaiters;
	int			start = dur_shared->wake_cursor++ % n;
	int			woken = 0;
	int			pass;
	int			i;

	for (pass = worker != 0 ? 0 : 1; pass < 2; pass++)
	{
		for (i = 0; i < n && woken < count; i++)
		{
			DurWaiter  *w = &dur_shared->waiters[(start + i) % n];

			if (w->kind != DUR_WAIT_TASK || w->woken || w->dboid != MyDatabaseId)
				continue;
			if (!any_key && (w->key != key || (w->mask & mask) == 0))
				continue;
			if (pass == 0 && w->worker != worker)
				continue;
			w->woken = true;
			SetLatch(w->latch);
			woken++;
		}
	}
	return woken;
}

/* Wake the task waiters a transaction outcome announced. */
static void
dur_wake_tasks(DurPendingTasks *p)
{
	int			i;

	if (p->n == 0 && !p->overflow)
		return;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	if (p->overflow)
		dur_wake_task_waiters(0, 0, INT_MAX, true, 0);
	else
		for (i = 0; i < p->n; i++)
			dur_wake_task_waiters(p->items[i].key, p->items[i].mask,
								  p->items[i].count, false, p->items[i].worker);
	LWLockRelease(dur_shared->lock);
}

static void
dur_wake_closes(void)
{
	int			i,
				j;

	LWLockAcquire(dur_shared->lock, LW_SHARED);
	for (i = 0; i < dur_shared->nwaiters; i++)
	{
		DurWaiter  *w = &dur_shared->waiters[i];
		bool		match = pending_closes_overflow;

		if (w->kind != DUR_WAIT_CLOSE || w->dboid != MyDatabaseId)
			continue;
		for (j = 0; j < npending_closes && !match; j++)
			match = (w->key == pending_closes[j]);
		if (match)
			SetLatch(w->latch);
	}
	LWLockRelease(dur_shared->lock);
}

/*
 * Wake this database's engine worker if it sleeps past "at"; if it is busy,
 * leave the deadline where it will look before sleeping.
 */
static void
dur_wake_engine(TimestampTz at)
{
	DurEngineSlot *slot;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	slot = dur_find_engine(MyDatabaseId);
	if (slot != NULL)
	{
		if (slot->pending_wakeup == 0 || at < slot->pending_wakeup)
			slot->pending_wakeup = at;
		if (slot->committed_since_tick == 0 || at < slot->committed_since_tick)
			slot->committed_since_tick = at;
		if (slot->latch != NULL && slot->next_wakeup != 0 && at < slot->next_wakeup)
			SetLatch(slot->latch);
	}
	LWLockRelease(dur_shared->lock);
}

/*
 * Wake this database's engine worker now, outside any transaction's commit:
 * an update was admitted (updates.c) and may need a workflow task.
 */
void
dur_poke_engine(void)
{
	DurEngineSlot *slot;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	slot = dur_find_engine(MyDatabaseId);
	if (slot != NULL)
	{
		slot->pending_wakeup = GetCurrentTimestamp();
		if (slot->latch != NULL)
			SetLatch(slot->latch);
	}
	LWLockRelease(dur_shared->lock);
}

/*
 * The earliest deadline committed in this database since the last call
 * (0: none), for the timer service's scans (timers.c).
 */
TimestampTz
dur_take_committed_deadline(void)
{
	DurEngineSlot *slot;
	TimestampTz at = 0;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	slot = dur_find_engine(MyDatabaseId);
	if (slot != NULL)
	{
		at = slot->committed_since_tick;
		slot->committed_since_tick = 0;
	}
	LWLockRelease(dur_shared->lock);
	return at;
}

/* Backend exit: drop our waiter slot and subscription. */
static void
dur_waiter_exit(int code, Datum arg)
{
	dur_clear_my_waiter(false);
}

/*
 * Clear this backend's waiter slot.  A waiter that was chosen for a task
 * and leaves without looking passes the wake-up on.
 */
static void
dur_clear_my_waiter(bool keep_subscription)
{
	DurWaiter  *w;

	if (dur_shared == NULL || DUR_MY_BACKEND_INDEX() < 0)
		return;
	w = &dur_shared->waiters[DUR_MY_BACKEND_INDEX()];
	if (w->kind == DUR_WAIT_NONE && (keep_subscription || !w->close_subscriber))
		return;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	if (w->kind == DUR_WAIT_TASK && w->woken)
	{
		w->kind = DUR_WAIT_NONE;
		dur_wake_task_waiters(w->key, w->mask, 1, false, 0);
	}
	w->kind = DUR_WAIT_NONE;
	w->woken = false;
	if (!keep_subscription)
		w->close_subscriber = false;
	LWLockRelease(dur_shared->lock);
}

/* Make sure our slot is cleared when the backend exits. */
static void
dur_register_exit_callback(void)
{
	if (!exit_callback_registered)
	{
		before_shmem_exit(dur_waiter_exit, (Datum) 0);
		exit_callback_registered = true;
	}
}

/*
 * Publish what this backend is about to wait for: a task of the queue
 * "key" of the kinds in mask, or the close of the workflow "key".  Must
 * come before the look that precedes dur_wait_until.
 */
void
dur_wait_register(DurWaitKind kind, const char *key, int mask, const char *worker)
{
	DurWaiter  *w;

	dur_register_callbacks();
	dur_register_exit_callback();
	w = &dur_shared->waiters[DUR_MY_BACKEND_INDEX()];
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	w->dboid = MyDatabaseId;
	w->kind = kind;
	w->key = dur_hash_key(key, strlen(key));
	w->mask = mask;
	w->worker = worker ? dur_worker_key(worker) : 0;
	w->woken = false;
	w->latch = MyLatch;
	LWLockRelease(dur_shared->lock);
}

/* _wait_register(kind text, key text, kinds text[]), for 0.1/0.2's SQL. */
Datum
_wait_register(PG_FUNCTION_ARGS)
{
	char	   *kind;
	int			mask = 0;

	dur_require_not_null(PG_ARGISNULL(0), "kind");
	dur_require_not_null(PG_ARGISNULL(1), "key");
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems,
					i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &nelems);
		for (i = 0; i < nelems; i++)
			if (!nulls[i])
				mask |= dur_kind_bit(TextDatumGetCString(elems[i]));
	}
	if (strcmp(kind, "close") == 0)
		dur_wait_register(DUR_WAIT_CLOSE, text_to_cstring(PG_GETARG_TEXT_PP(1)), mask, NULL);
	else
		dur_wait_register(DUR_WAIT_TASK,
						  dur_queue_key("default", text_to_cstring(PG_GETARG_TEXT_PP(1))), mask, NULL);
	PG_RETURN_VOID();
}

/* Stop waiting. */
void
dur_wait_unregister(void)
{
	dur_clear_my_waiter(true);
}

/* _wait_unregister(), for 0.1/0.2's SQL. */
Datum
_wait_unregister(PG_FUNCTION_ARGS)
{
	dur_wait_unregister();
	PG_RETURN_VOID();
}

/*
 * Let vacuum ignore this backend's snapshot while it sleeps.
 *
 * Only in a READ COMMITTED statement outside a transaction block that has
 * written nothing: there the only snapshots are those of the statement that
 * is sleeping, and every statement after the sleep takes a new one, which
 * re-establishes the horizon.  Elsewhere the horizon is kept.
 */
static void
dur_release_xmin(void)
{
	if (XactIsoLevel != XACT_READ_COMMITTED || IsTransactionBlock() ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	InvalidateCatalogSnapshot();
	MyProc->xmin = InvalidTransactionId;
}

/*
 * Sleep on our latch for at most timeout_ms.  A client backend also
 * watches its socket, so a client that goes away (a killed worker in a
 * long poll, a query_workflow caller that gave up) ends the wait and the
 * backend at once, freeing what it held; and when woken it checks that
 * its client is still connected: the long poll of a dead worker must not
 * go on to claim a task nobody will run (the exit passes the wake-up on).
 * Returns WaitLatch's events.
 */
int
dur_wait_latch(long timeout_ms)
{
	int			rc = 0;

	if (FeBeWaitSet != NULL && WaitEventSetCanReportClosed())
	{
		/*
		 * A client backend waits on its client's socket too (the wait set
		 * pq_check_connection uses, which holds our latch and the
		 * postmaster), so a client that goes away ends the wait at once.
		 */
		WaitEvent	ev[FeBeWaitSetNEvents];
		int			n,
					i;

		ModifyWaitEvent(FeBeWaitSet, FeBeWaitSetSocketPos, WL_SOCKET_CLOSED, NULL);
		n = WaitEventSetWait(FeBeWaitSet, timeout_ms, ev, lengthof(ev), PG_WAIT_EXTENSION);
		if (n == 0)
			rc = WL_TIMEOUT;
		for (i = 0; i < n; i++)
			rc |= ev[i].events;
		if (rc & WL_POSTMASTER_DEATH)
			ereport(FATAL,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("terminating connection due to unexpected postmaster exit")));
	}
	else
	{
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   timeout_ms, PG_WAIT_EXTENSION);
		/* no socket in the wait: look at it when woken */
		if ((rc & WL_LATCH_SET) && MyProcPort != NULL && !pq_check_connection())
			rc |= WL_SOCKET_CLOSED;
	}
	ResetLatch(MyLatch);
	if (rc & WL_SOCKET_CLOSED)
		ereport(FATAL,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("durable: the client closed the connection while waiting")));
	CHECK_FOR_INTERRUPTS();
	return rc;
}

/*
 * Sleep until woken or until the deadline, without holding back vacuum
 * where that is safe.  True when woken.
 */
bool
dur_wait_until(TimestampTz until)
{
	long		timeout_ms;
	int			rc;

	dur_require_engine();
	timeout_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
	if (timeout_ms <= 0)
		return false;
	dur_release_xmin();
	rc = dur_wait_latch(timeout_ms);
	return (rc & WL_LATCH_SET) != 0;
}

/* _wait(until timestamptz) returns boolean, for 0.1/0.2's SQL. */
Datum
_wait(PG_FUNCTION_ARGS)
{
	dur_require_not_null(PG_ARGISNULL(0), "until");
	PG_RETURN_BOOL(dur_wait_until(PG_GETARG_TIMESTAMPTZ(0)));
}

/*
 * subscribe_workflow_closes(): LISTEN on durable_workflow_closed and ask the
 * engine to NOTIFY it.  Closes are announced only while somebody listens.
 */
Datum
subscribe_workflow_closes(PG_FUNCTION_ARGS)
{
	DurWaiter  *w;

	dur_register_callbacks();
	dur_register_exit_callback();
	Async_Listen(DUR_CLOSE_CHANNEL);

	w = &dur_shared->waiters[DUR_MY_BACKEND_INDEX()];
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	w->dboid = MyDatabaseId;
	w->close_subscriber = true;
	LWLockRelease(dur_shared->lock);
	PG_RETURN_VOID();
}

/* unsubscribe_workflow_closes(): UNLISTEN and stop the announcements. */
Datum
unsubscribe_workflow_closes(PG_FUNCTION_ARGS)
{
	DurWaiter  *w;

	dur_require_engine();
	Async_Unlisten(DUR_CLOSE_CHANNEL);
	w = &dur_shared->waiters[DUR_MY_BACKEND_INDEX()];
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	w->close_subscriber = false;
	LWLockRelease(dur_shared->lock);
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 *
 * sessions.c
 *	  Worker liveness: who holds each started task, and the moment a holder
 *	  is gone.
 *
 * A lease bounds how long a dead worker's task waits, but the engine can do
 * better: a backend knows at once when its client leaves.  A worker opens
 * a session (durable.open_worker_session) on one connection it keeps for
 * its lifetime, and every task its worker id claims, on any connection,
 * records the session as its owner in durable.tasks.owner.  So a worker's
 * pooled connections may come and go without their tasks, and a worker
 * that polls on a single connection opens its session there: "the
 * connection that claimed the task" and "the session" are then the same.
 * Claims by a worker id without a session have no owner and wait out
 * their leases, as in 0.2: a client that polls on one connection and
 * completes on another (psql per call, a pool without a session) must not
 * lose its task when the first connection closes.
 *
 * Owner ids come from one counter in shared memory and are never reused
 * while the server runs (the tasks table is unlogged: a crash empties it
 * and restarts the counter with it).  When a session ends (its client
 * disconnected or was killed, or it was closed or replaced), the owner id
 * goes on the dead-owner list and the engine's latch is set; the timer
 * service (timers.c) then times out every started task of the owner at
 * once, as a lease expiry would, and the attempts are retried by their
 * policies.
 *
 * Invariants:
 *	- an owner id names one session, never two;
 *	- a dead owner is listed until the engine has looked at all of its
 *	  tasks (a task of a busy run puts the owner back);
 *	- the list is bounded: when it is full the owner is dropped and its
 *	  tasks wait for their leases, as before this mechanism.
 *
 * A worker that stops on purpose need not die to let go: release_tasks
 * gives back the tasks a worker id holds, which become ready again at
 * once, in their old place, for any worker, without counting as failed
 * attempts.
 *
 * Locking: dur_shared->lock protects the per-backend fields and the list.
 * release_tasks opens every table first, then takes each run's lock,
 * waiting, as every writer of a task row does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"

#include "durable.h"
#include "namespaces.h"
#include "tables.h"
#include "util.h"

PG_FUNCTION_INFO_V1(open_worker_session);
PG_FUNCTION_INFO_V1(close_worker_session);
PG_FUNCTION_INFO_V1(release_tasks);

static bool exit_callback_registered = false;

/* A worker id's session key: a 64-bit hash, never 0. */
static uint64
dur_session_key(const char *worker)
{
	uint64		k = hash_bytes_extended((const unsigned char *) worker, strlen(worker), 0x64757261);

	return k == 0 ? 1 : k;
}

/* This backend's slot; caller holds dur_shared->lock. */
static DurWaiter *
dur_my_slot(void)
{
	return &dur_shared->waiters[DUR_MY_BACKEND_INDEX()];
}

/* Put an owner on the dead list and wake the engine; caller holds the lock exclusively. */
static void
dur_owner_died(Oid dboid, int64 owner)
{
	DurEngineSlot *engine;

	if (owner == 0)
		return;
	if (dur_shared->ndead_owners < DUR_MAX_DEAD_OWNERS)
	{
		dur_shared->dead_owners[dur_shared->ndead_owners].dboid = dboid;
		dur_shared->dead_owners[dur_shared->ndead_owners].owner = owner;
		dur_shared->ndead_owners++;
	}
	engine = dur_find_engine(dboid);
	if (engine != NULL && engine->latch != NULL)
		SetLatch(engine->latch);
}

/*
 * End the session a backend's slot holds, if any: its owner is dead.
 * Caller holds the lock exclusively.  Returns whether there was one.
 */
static bool
dur_end_session(DurWaiter *w)
{
	if (w->session_key == 0)
		return false;
	dur_owner_died(w->dboid_session, w->session_owner);
	w->session_key = 0;
	w->session_owner = 0;
	dur_shared->nsessions--;
	return true;
}

/* The slot holding the session of key in this database, or NULL; caller holds the lock. */
static DurWaiter *
dur_find_session(uint64 key)
{
	int			i;

	for (i = 0; i < dur_shared->nwaiters; i++)
	{
		DurWaiter  *w = &dur_shared->waiters[i];

		if (w->session_key == key && w->dboid_session == MyDatabaseId)
			return w;
	}
	return NULL;
}

/* At exit: the session this backend held is over. */
static void
dur_owner_exit(int code, Datum arg)
{
	DurWaiter  *w;

	if (dur_shared == NULL || DUR_MY_BACKEND_INDEX() < 0)
		return;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	w = dur_my_slot();
	(void) dur_end_session(w);
	LWLockRelease(dur_shared->lock);
}

static void
dur_register_owner_exit(void)
{
	if (!exit_callback_registered)
	{
		before_shmem_exit(dur_owner_exit, (Datum) 0);
		exit_callback_registered = true;
	}
}

/*
 * The owner a claim by worker records: the worker's session in this
 * database, or 0 when it has none.
 */
int64
dur_claim_owner(const char *worker)
{
	int64		owner = 0;

	if (dur_shared == NULL || worker == NULL)
		return 0;

	/*
	 * No session open anywhere: the common case costs no lock.  A session
	 * opened concurrently with this claim may be missed; its worker's
	 * claims come after it opened it, and see it.
	 */
	pg_read_barrier();
	if (dur_shared->nsessions == 0)
		return 0;
	LWLockAcquire(dur_shared->lock, LW_SHARED);
	if (dur_shared->nsessions > 0)
	{
		DurWaiter  *w = dur_find_session(dur_session_key(worker));

		if (w != NULL)
			owner = w->session_owner;
	}
	LWLockRelease(dur_shared->lock);
	return owner;
}

/*
 * Take up to max dead owners of database dboid off the list; returns how
 * many.
 */
int
dur_take_dead_owners(Oid dboid, int64 *owners, int max)
{
	int			n = 0;
	int			i,
				j = 0;

	if (dur_shared == NULL)
		return 0;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < dur_shared->ndead_owners; i++)
	{
		if (dur_shared->dead_owners[i].dboid == dboid && n < max)
			owners[n++] = dur_shared->dead_owners[i].owner;
		else
			dur_shared->dead_owners[j++] = dur_shared->dead_owners[i];
	}
	dur_shared->ndead_owners = j;
	LWLockRelease(dur_shared->lock);
	return n;
}

/* Put a dead owner back on the list (one of its runs was busy). */
void
dur_requeue_dead_owner(Oid dboid, int64 owner)
{
	int			i;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < dur_shared->ndead_owners; i++)
		if (dur_shared->dead_owners[i].dboid == dboid && dur_shared->dead_owners[i].owner == owner)
			break;
	if (i == dur_shared->ndead_owners && i < DUR_MAX_DEAD_OWNERS)
	{
		dur_shared->dead_owners[i].dboid = dboid;
		dur_shared->dead_owners[i].owner = owner;
		dur_shared->ndead_owners++;
	}
	LWLockRelease(dur_shared->lock);
}

/*
 * open_worker_session(worker_id text): make this connection the session of
 * worker_id in this database.  Claims by worker_id on any connection are
 * owned by the session from now on, and when it ends (the connection
 * closes, or close_worker_session) its started tasks time out at once.
 * A newer session of the same worker id replaces an older one, whose
 * tasks time out.  A connection holds at most one session.
 */
Datum
open_worker_session(PG_FUNCTION_ARGS)
{
	char	   *worker;
	uint64		key;
	DurWaiter  *me;
	DurWaiter  *older;

	dur_require_not_null(PG_ARGISNULL(0), "worker_id");
	worker = text_to_cstring(PG_GETARG_TEXT_PP(0));
	dur_check_id(worker, "worker_id");
	dur_require_engine();
	dur_register_owner_exit();
	key = dur_session_key(worker);
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	me = dur_my_slot();
	if (me->session_key != 0)
	{
		LWLockRelease(dur_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this connection already holds a worker session"),
				 errhint("Call durable.close_worker_session() first, or open the session on another connection.")));
	}
	/* at most one session per worker id: a newer one replaces the older */
	older = dur_find_session(key);
	if (older != NULL)
		(void) dur_end_session(older);
	me->session_key = key;
	me->dboid_session = MyDatabaseId;
	me->session_owner = ++dur_shared->next_owner;
	dur_shared->nsessions++;
	LWLockRelease(dur_shared->lock);
	PG_RETURN_VOID();
}

/*
 * close_worker_session(): end this connection's worker session; the
 * session's started tasks time out at once.  False when it held none.
 */
Datum
close_worker_session(PG_FUNCTION_ARGS)
{
	DurWaiter  *me;
	bool		had;

	dur_require_engine();
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	me = dur_my_slot();
	had = dur_end_session(me);
	LWLockRelease(dur_shared->lock);
	PG_RETURN_BOOL(had);
}

/* A started task a worker holds. */
typedef struct DurHeld
{
	pg_uuid_t	run_id;
	int64		seid;
} DurHeld;

/*
 * release_tasks(worker_id text, task_queue text, namespace text) returns
 * integer: give back the started tasks worker_id holds in the namespace
 * (on task_queue, or on any queue when it is NULL), as a worker does when
 * it shuts down.  Each becomes ready again, in its old place in its queue,
 * for any worker, and the pollers of its queue are woken: the attempt is
 * not counted as failed and nothing is written to the history.  A token of
 * a given-back task stays valid until another completion of the task (the
 * first completion counts).  Returns the number of tasks given back.
 */
Datum
release_tasks(PG_FUNCTION_ARGS)
{
	char	   *namespace = dur_namespace_arg(fcinfo, 2);
	char	   *worker;
	char	   *queue = NULL;
	DurCall    *call;
	DurScan		s;
	DurRow		row;
	List	   *held = NIL;
	ListCell   *lc;
	DurHeld    *h;
	int			n = 0;

	dur_require_not_null(PG_ARGISNULL(0), "worker_id");
	dur_namespace_require(namespace, DUR_CAP_WORKER);
	worker = text_to_cstring(PG_GETARG_TEXT_PP(0));
	dur_check_id(worker, "worker_id");
	if (!PG_ARGISNULL(1))
	{
		queue = text_to_cstring(PG_GETARG_TEXT_PP(1));
		dur_check_id(queue, "task_queue");
	}

	call = dur_call_begin();
	dur_call_open_all(call);
	dur_call_snapshot(call);
	/* the started tasks, by lease deadline; a worker holds few */
	dur_scan_begin(&s, call, DUR_TASKS_LEASE);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		if (row.nulls[T_WORKER_ID] ||
			strcmp(TextDatumGetCString(row.values[T_WORKER_ID]), worker) != 0 ||
			strcmp(TextDatumGetCString(row.values[T_NAMESPACE]), namespace) != 0 ||
			(queue != NULL && strcmp(TextDatumGetCString(row.values[T_TASK_QUEUE]), queue) != 0))
			continue;
		h = palloc(sizeof(DurHeld));
		memcpy(&h->run_id, DatumGetUUIDP(row.values[T_RUN_ID]), sizeof(pg_uuid_t));
		h->seid = DatumGetInt64(row.values[T_SCHEDULED_EVENT_ID]);
		held = lappend(held, h);
	}
	dur_scan_end(&s);

	foreach(lc, held)
	{
		DurHeld    *t = lfirst(lc);
		DurRow		task;

		dur_lock_run(&t->run_id);
		dur_call_snapshot(call);
		if (!dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, &t->run_id, t->seid, &task) ||
			task.nulls[T_STARTED_TIME] || task.nulls[T_WORKER_ID] ||
			strcmp(TextDatumGetCString(task.values[T_WORKER_ID]), worker) != 0)
			continue;
		task.nulls[T_STARTED_TIME] = task.nulls[T_WORKER_ID] = true;
		task.nulls[T_LEASE_DEADLINE] = task.nulls[T_OWNER] = true;
		dur_update(call, DUR_TASKS, &task.tid, task.values, task.nulls, NULL);
		dur_notify_task_all(dur_queue_key(namespace, TextDatumGetCString(task.values[T_TASK_QUEUE])),
							t->seid == 0 ? DUR_KIND_WORKFLOW : DUR_KIND_ACTIVITY);
		n++;
	}
	dur_call_end(call);
	PG_RETURN_INT32(n);
}

/*-------------------------------------------------------------------------
 *
 * durable.h
 *	  Declarations shared by durable's C files.
 *
 * The engine is C, one file per service (docs/architecture.md has the
 * map): tables.c (storage access), history.c, matching.c, commands.c,
 * activities.c, timers.c, api.c and admin.c.  This header holds what the
 * process-level parts share: shared memory, the launcher and engine
 * workers, wake-ups and waiting, queries.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_H
#define DURABLE_H

#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/s_lock.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "compat.h"

/* The version of this library (the SQL it expects is durable--<version>.sql). */
#define DUR_LIBRARY_VERSION "0.3"

/* Queries waiting for an answer at once, and the size of each one's buffer. */
#define DUR_MAX_QUERIES		32
#define DUR_QUERY_BUFSIZE	(64 * 1024)

/* Most databases that can run an engine worker at once. */
#define DUR_MAX_DATABASES	64

/* What the launcher knows about a database. */
typedef enum DurDbState
{
	DUR_DB_FREE = 0,			/* slot unused */
	DUR_DB_UNKNOWN,				/* not probed yet: start an engine to look */
	DUR_DB_ABSENT,				/* probed: the extension is not installed */
	DUR_DB_ACTIVE				/* the extension is installed: keep an engine */
} DurDbState;

/* One database's engine worker. */
typedef struct DurEngineSlot
{
	Oid			dboid;
	DurDbState	state;
	bool		paused;			/* a DDL command needs the database alone */
	pid_t		pid;			/* engine worker's pid, 0 if none */
	Latch	   *latch;			/* engine worker's latch, NULL if none */
	TimestampTz started_at;
	TimestampTz last_exit;		/* for the launcher's restart delay */
	TimestampTz next_wakeup;	/* when the engine sleeps until; 0 while busy */
	TimestampTz pending_wakeup; /* earliest deadline committed while busy */
	TimestampTz committed_since_tick;	/* earliest deadline committed since
										 * the timer service last looked (0:
										 * none) */
	uint64		ticks;			/* completed engine iterations */
	char		activity[48];	/* what the engine is doing, for the view */
} DurEngineSlot;

/* What a waiting backend waits for. */
typedef enum DurWaitKind
{
	DUR_WAIT_NONE = 0,
	DUR_WAIT_TASK,				/* a task on a queue */
	DUR_WAIT_CLOSE				/* a workflow to close */
} DurWaitKind;

/* Task kinds, as bits of a waiter's mask. */
#define DUR_KIND_WORKFLOW	0x01
#define DUR_KIND_ACTIVITY	0x02

/* One backend's waiting state, indexed by DUR_MY_BACKEND_INDEX(). */
typedef struct DurWaiter
{
	Oid			dboid;
	DurWaitKind kind;
	uint32		key;			/* hash of queue name or workflow id */
	int			mask;			/* task kinds wanted */
	uint32		worker;			/* hash of the polling worker's id, 0 if none */
	bool		woken;			/* a waker chose this waiter */
	bool		close_subscriber;	/* LISTENs on durable_workflow_closed */
	Latch	   *latch;
	/* the backend as a worker session (sessions.c) */
	uint64		session_key;	/* worker id hash of its session, 0 for none */
	Oid			dboid_session;	/* database of its session */
	int64		session_owner;	/* owner id of its session's claims */
} DurWaiter;

/* Dead owners the engine has yet to look at (sessions.c). */
#define DUR_MAX_DEAD_OWNERS	1024

typedef struct DurDeadOwner
{
	Oid			dboid;
	int64		owner;
} DurDeadOwner;

/*
 * What a database's engine knows of data written into durable's tables by
 * SQL rather than by the engine: a restore, or a DBA (restore.c).
 */
typedef struct DurRestoreSlot
{
	Oid			dboid;			/* InvalidOid: unused */
	int			loading;		/* COPY statements into durable's tables running */
	uint64		gen;			/* changes at each commit that wrote them */
	TimestampTz quiet_after;	/* the engine holds off until then */
} DurRestoreSlot;

/* The whole of durable's shared memory. */
typedef struct DurShared
{
	LWLock	   *lock;			/* protects everything below */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	uint32		wake_cursor;	/* rotates which waiter is woken first */
	uint64		next_query_id;	/* last query id handed out */
	Size		query_offset;	/* where the query slots start */
	Size		update_offset;	/* where the update slots start */
	int			nupdates;		/* update slots in use (read unlocked as a hint) */
	DurEngineSlot engines[DUR_MAX_DATABASES];
	uint64		restore_gen;	/* last DurRestoreSlot.gen handed out */
	DurRestoreSlot restores[DUR_MAX_DATABASES];
	int64		next_owner;		/* last owner id handed out */
	int			nsessions;		/* worker sessions open */
	int			ndead_owners;
	DurDeadOwner dead_owners[DUR_MAX_DEAD_OWNERS];
	int			nwaiters;
	DurWaiter	waiters[FLEXIBLE_ARRAY_MEMBER];
} DurShared;

/* durable.c */
extern int	dur_launcher_naptime;
extern int	dur_max_payload_size;
extern int	dur_engine_batch_size;
extern bool dur_sticky_execution;
extern bool dur_log_first_attempt_success;
extern bool dur_preloaded;

/* shmem.c */
extern DurShared *dur_shared;
extern void dur_shmem_request(void);
extern void dur_shmem_startup(void);
extern void dur_require_engine(void);
extern DurEngineSlot *dur_find_engine(Oid dboid);

/* query.c */
extern Size dur_query_shmem_size(void);
extern bool dur_ask_query(const pg_uuid_t *run_id, const char *queue, const char *name,
						  const char *args, int timeout_ms, char **answer, int *len,
						  bool *failed);
extern char *dur_claimed_query_namespace(uint64 query_id, const pg_uuid_t *run_id);
extern bool dur_claim_query(const char *queue, uint64 *query_id, pg_uuid_t *run_id,
							char **name, char **args);
extern bool dur_answer_query(uint64 query_id, const pg_uuid_t *run_id, const char *answer,
							 int len, bool failed);

/* activities.c: heartbeat slots */
extern Size dur_heartbeats_shmem_size(void);
extern void dur_heartbeats_shmem_request(void);
extern void dur_heartbeats_shmem_startup(void);

/* sessions.c */
extern int64 dur_claim_owner(const char *worker);
extern int	dur_take_dead_owners(Oid dboid, int64 *owners, int max);
extern void dur_requeue_dead_owner(Oid dboid, int64 owner);

/* launcher.c */
extern void dur_register_launcher(void);
extern void dur_wake_launcher(void);
extern void dur_install_utility_hook(void);
PGDLLEXPORT void dur_launcher_main(Datum arg);

/* engine.c */
extern bool dur_is_engine;
PGDLLEXPORT void dur_engine_main(Datum arg);

/* wakeup.c */
extern uint32 dur_hash_key(const char *s, int len);
extern int	dur_wake_task_waiters(uint32 key, int mask, int count, bool any_key, uint32 worker);
extern uint32 dur_worker_key(const char *worker);
extern void dur_request_engine_start(void);
extern int	dur_wait_latch(long timeout_ms);
extern char *dur_queue_key(const char *namespace, const char *queue);
extern void dur_notify_task(const char *queue, int mask, const char *sticky_worker);
extern void dur_notify_task_on_abort(const char *queue, int mask);
extern void dur_notify_task_all(const char *queue, int mask);
extern void dur_notify_close(const char *workflow_id, const char *payload);
extern void dur_notify_timer(TimestampTz at);
extern void dur_poke_engine(void);
extern TimestampTz dur_take_committed_deadline(void);
extern void dur_wait_register(DurWaitKind kind, const char *key, int mask, const char *worker);
extern bool dur_wait_until(TimestampTz until);
extern void dur_wait_unregister(void);

#endif							/* DURABLE_H */

/*-------------------------------------------------------------------------
 *
 * queues.c
 *	  Task-queue state shared by every backend: the fairness clocks that
 *	  order ready tasks, the token buckets of rate limits, the pollers seen
 *	  lately, and each queue's settings (durable.task_queues); with the SQL
 *	  functions that set and show them.
 *
 * Order of dispatch.  Within a queue, ready tasks go by priority (1 first),
 * then by pass, a virtual time given to each task when it becomes ready
 * (stride scheduling, as Temporal's fairness does it): a task of fairness
 * key k and weight w gets
 *
 *		pass = max(last pass given to k, the queue's virtual time) + UNIT / w
 *
 * and the queue's virtual time is the largest pass dispatched so far.  One
 * key's tasks therefore go in the order they became ready (FIFO), a key
 * that has been idle starts at the virtual time (it gets no credit for its
 * idleness), and keys with a backlog share dispatch in proportion to their
 * weights: a burst of 100,000 tasks of one key is interleaved with the ten
 * of another, not ahead of them.  Every clock and key is per namespace,
 * queue and priority; workflow and activity tasks share them.  The pass is
 * stored in the task row (tasks.pass) and the ready index is ordered by
 * it, so a claim is still the first row of an index range and pollers need
 * no coordination beyond the run lock (matching.c).
 *
 * The shared state is a cache that can be lost: a queue seen for the first
 * time since the server started rebuilds its clocks from its ready rows
 * (the smallest pass per priority, the largest per key); a key whose last
 * pass is behind its queue's clock carries no information and is the first
 * to be evicted when the table of keys is full.  A key that finds the table
 * full of keys with backlogs starts at the virtual time, which is fair to
 * the other keys but may put its new tasks before its own older ones.
 *
 * Rate limits.  A queue's tasks_per_second and worker_tasks_per_second
 * limit the activity tasks dispatched (Temporal's
 * maxTaskQueueActivitiesPerSecond and maxActivitiesPerSecond): token
 * buckets here, refilled continuously, with a burst of a tenth of a
 * second's worth.  A poll takes a token before it claims an activity and
 * gives it back if it claims none; a poller without a token is told when
 * the next one comes and sleeps until then (poll_task), so nothing polls.
 * Workflow tasks are never limited.
 *
 * Settings.  durable.task_queues is read on first use and cached here; a
 * transaction that changes a row bumps settings_gen at commit, and every
 * cached queue reads its row again on next use.  So a change takes effect
 * for every backend at once, and a rolled-back change for none.
 *
 * Pollers.  Every poll records (queue, worker id): its build, capabilities
 * and when it last polled for each kind.  describe_task_queue lists them,
 * and the backlog functions use them to show work that no poller seen in
 * the last minute can take (a required capability nobody has, a build
 * whose workers are gone, a pinned worker that left).
 *
 * Locking: one LWLock (tranche durable_queues) guards the three hash
 * tables and every entry; each critical section is a few loads and stores,
 * never I/O.  A dispatch, the most frequent, updates its queue's clock and
 * counts under the lock held shared and the entry's spinlock; everything
 * else takes the lock exclusively.  A backend keeps its own copy of the
 * settings it used, checked against settings_gen (an atomic) without the
 * lock.  The settings read and the clock rebuild happen outside it,
 * and their results are stored only if nothing newer was meanwhile.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "history.h"
#include "queues.h"
#include "util.h"

PG_FUNCTION_INFO_V1(set_task_queue_rate_limit);
PG_FUNCTION_INFO_V1(set_current_build);
PG_FUNCTION_INFO_V1(set_ramping_build);
PG_FUNCTION_INFO_V1(describe_task_queue);
PG_FUNCTION_INFO_V1(task_queue_backlog);

/* Sizes of the shared tables. */
#define DUR_MAX_QUEUE_STATES	1024
#define DUR_MAX_FAIR_KEYS		16384
#define DUR_MAX_POLLERS			1024

/* A pass step of weight 1. */
#define DUR_PASS_UNIT			1000000.0

/* Seconds of dispatch counts kept for the current rate. */
#define DUR_RATE_WINDOW			10

/* A poller seen within this many seconds is live. */
#define DUR_POLLER_LIVE_SECS	60
/* ... and is forgotten first when the table of pollers is full after this. */
#define DUR_POLLER_STALE_SECS	300

#define DUR_NPRIO	(DUR_PRIORITY_LOWEST - DUR_PRIORITY_HIGHEST + 1)

typedef struct DurQueueTag
{
	Oid			dboid;
	uint32		pad;
	uint64		qhash;			/* of "namespace:queue" */
} DurQueueTag;

typedef struct DurQueueState
{
	DurQueueTag tag;
	TimestampTz last_used;
	slock_t		mutex;			/* guards vtime and the counts under a shared lock */
	/* fairness */
	bool		fair_ready;		/* vtime (and the keys) rebuilt since startup */
	int64		vtime[DUR_NPRIO];
	/* settings, as of settings_gen */
	uint64		settings_gen;	/* 0: never read */
	double		rate;
	double		worker_rate;
	char		current_build[DUR_MAX_BUILD_BYTES + 1];
	char		ramping_build[DUR_MAX_BUILD_BYTES + 1];
	float4		ramping_percentage;
	/* the queue's token bucket */
	double		tokens;
	TimestampTz refilled;		/* 0: full */
	/* dispatches per second, for the current rate */
	int64		count_sec[DUR_RATE_WINDOW];
	int32		count_activity[DUR_RATE_WINDOW];
	int32		count_all[DUR_RATE_WINDOW];
} DurQueueState;

typedef struct DurFairTag
{
	Oid			dboid;
	int32		priority;
	uint64		qhash;
	uint64		khash;			/* of the fairness key ("" for the default) */
} DurFairTag;

typedef struct DurFairKey
{
	DurFairTag	tag;
	int64		last_pass;
} DurFairKey;

typedef struct DurPollerTag
{
	Oid			dboid;
	uint32		pad;
	uint64		qhash;
	uint64		whash;			/* of the worker id */
} DurPollerTag;

typedef struct DurPollerEntry
{
	DurPollerTag tag;
	TimestampTz seen[2];		/* last poll for workflow, activity tasks */
	char		worker[DUR_MAX_ID_BYTES + 1];
	char		build[DUR_MAX_BUILD_BYTES + 1];
	char		capabilities[DUR_MAX_CAPABILITIES_BYTES + 1];
	/* the worker's token bucket on this queue */
	double		tokens;
	TimestampTz refilled;
} DurPollerEntry;

typedef struct DurQueuesShared
{
	LWLock	   *lock;
	pg_atomic_uint64 settings_gen;	/* bumped by every committed settings change */
} DurQueuesShared;

/*
 * This backend's copy of the settings it used, valid while settings_gen
 * has not moved: the hot paths (a start, a poll, an eager activity) read
 * them without the lock.
 */
typedef struct DurLocalSettings
{
	DurQueueTag tag;
	uint64		gen;
	DurQueueSettings qs;
} DurLocalSettings;

static HTAB *local_settings = NULL;

/* The last poll this backend recorded, to record a worker's polls once a second. */
static struct
{
	uint64		qhash;
	uint64		whash;
	uint64		bhash;			/* of build id and capabilities */
	int			kinds;
	TimestampTz at;
}			last_seen;

static DurQueuesShared *dq = NULL;
static HTAB *queue_htab = NULL;
static HTAB *key_htab = NULL;
static HTAB *poller_htab = NULL;

static bool settings_changed = false;	/* this transaction changed settings */
static bool xact_callback_registered = false;

Size
dur_queues_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(DurQueuesShared));

	size = add_size(size, hash_estimate_size(DUR_MAX_QUEUE_STATES, sizeof(DurQueueState)));
	size = add_size(size, hash_estimate_size(DUR_MAX_FAIR_KEYS, sizeof(DurFairKey)));
	size = add_size(size, hash_estimate_size(DUR_MAX_POLLERS, sizeof(DurPollerEntry)));
	return size;
}

/* Called from shmem_request_hook (through dur_shmem_request). */
void
dur_queues_shmem_request(void)
{
	RequestAddinShmemSpace(dur_queues_shmem_size());
	RequestNamedLWLockTranche("durable_queues", 1);
}

/* Called from shmem_startup_hook: create or attach. */
void
dur_queues_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dq = ShmemInitStruct("durable queues", sizeof(DurQueuesShared), &found);
	if (!found)
	{
		dq->lock = &(GetNamedLWLockTranche("durable_queues"))->lock;
		pg_atomic_init_u64(&dq->settings_gen, 1);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(DurQueueTag);
	info.entrysize = sizeof(DurQueueState);
	queue_htab = ShmemInitHash("durable queue states", DUR_MAX_QUEUE_STATES, DUR_MAX_QUEUE_STATES,
							   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	info.keysize = sizeof(DurFairTag);
	info.entrysize = sizeof(DurFairKey);
	key_htab = ShmemInitHash("durable fairness keys", DUR_MAX_FAIR_KEYS, DUR_MAX_FAIR_KEYS,
							 &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	info.keysize = sizeof(DurPollerTag);
	info.entrysize = sizeof(DurPollerEntry);
	poller_htab = ShmemInitHash("durable pollers", DUR_MAX_POLLERS, DUR_MAX_POLLERS,
								&info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

static uint64
dur_hash64(const char *s)
{
	return hash_bytes_extended((const unsigned char *) s, strlen(s), 0);
}

/* The tag of a namespace's queue (the last one asked for is remembered). */
static void
dur_queue_tag(DurQueueTag *tag, const char *namespace, const char *queue)
{
	static char last_namespace[NAMEDATALEN + 1];
	static char last_queue[DUR_MAX_ID_BYTES + 1];
	static DurQueueTag last_tag;

	if (last_tag.dboid == MyDatabaseId && strcmp(queue, last_queue) == 0 &&
		strcmp(namespace, last_namespace) == 0)
	{
		*tag = last_tag;
		return;
	}
	memset(tag, 0, sizeof(*tag));
	tag->dboid = MyDatabaseId;
	tag->qhash = dur_hash64(dur_queue_key(namespace, queue));
	if (strlen(namespace) <= NAMEDATALEN && strlen(queue) <= DUR_MAX_ID_BYTES)
	{
		strcpy(last_namespace, namespace);
		strcpy(last_queue, queue);
		last_tag = *tag;
	}
}

/*
 * The state of a queue, made if there is none (evicting the least recently
 * used when the table is full).  Caller holds dq->lock exclusively.
 */
static DurQueueState *
dur_qstate(const DurQueueTag *tag)
{
	DurQueueState *st;
	bool		found;

	st = hash_search(queue_htab, tag, HASH_ENTER_NULL, &found);
	if (st == NULL)
	{
		HASH_SEQ_STATUS seq;
		DurQueueState *e;
		DurQueueState *oldest = NULL;
		DurQueueTag victim;
		DurFairKey *k;

		hash_seq_init(&seq, queue_htab);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (oldest == NULL || e->last_used < oldest->last_used)
				oldest = e;
		victim = oldest->tag;
		(void) hash_search(queue_htab, &victim, HASH_REMOVE, NULL);
		/* its keys mean nothing without its clocks */
		hash_seq_init(&seq, key_htab);
		while ((k = hash_seq_search(&seq)) != NULL)
			if (k->tag.dboid == victim.dboid && k->tag.qhash == victim.qhash)
				(void) hash_search(key_htab, &k->tag, HASH_REMOVE, NULL);
		st = hash_search(queue_htab, tag, HASH_ENTER, &found);
	}
	if (!found)
	{
		memset(((char *) st) + sizeof(DurQueueTag), 0, sizeof(DurQueueState) - sizeof(DurQueueTag));
		SpinLockInit(&st->mutex);
	}
	st->last_used = GetCurrentTimestamp();
	return st;
}

/*
 * Check a priority key: 0 (unset) or 1 to 5.  Returns it.
 */
int32
dur_check_priority(int32 priority, const char *what)
{
	if (priority != 0 && (priority < DUR_PRIORITY_HIGHEST || priority > DUR_PRIORITY_LOWEST))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d, not %d", what, DUR_PRIORITY_HIGHEST,
						DUR_PRIORITY_LOWEST, priority),
				 errdetail("Priority keys are Temporal's: 1 is served first, 5 last; 0 means unset (3, or inherited)."),
				 errhint("Pass a priority key from 1 to 5, or 0 for the default.")));
	return priority;
}

/* Check a fairness key (NULL: unset) and weight (when given). */
void
dur_check_fairness(const char *key, bool has_weight, double weight, const char *what)
{
	if (key != NULL)
		dur_check_id(key, psprintf("fairness_key of %s", what));
	if (has_weight && (isnan(weight) || weight < DUR_MIN_WEIGHT || weight > DUR_MAX_WEIGHT))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fairness_weight of %s must be between %g and %g, not %g", what,
						DUR_MIN_WEIGHT, DUR_MAX_WEIGHT, weight),
				 errhint("A key of weight 2 gets twice the dispatches of a key of weight 1 while both have tasks ready.")));
}

/*
 * The affinity text of required capabilities: NULL for none (NULL, JSON
 * null or {}), else the object as canonical JSON text.  Anything but an
 * object is an error.
 */
char *
dur_affinity_of(Jsonb *capabilities, const char *what)
{
	char	   *text;

	if (capabilities == NULL || (JB_ROOT_IS_SCALAR(capabilities) &&
								 strcmp(dur_jsonb_typeof(capabilities), "null") == 0))
		return NULL;
	if (JB_ROOT_IS_SCALAR(capabilities) || !JB_ROOT_IS_OBJECT(capabilities))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object, not %s", what, dur_jsonb_typeof(capabilities)),
				 errhint("Name capabilities as keys with their values, e.g. '{\"gpu\": true, \"region\": \"eu\"}'.")));
	if (JB_ROOT_COUNT(capabilities) == 0)
		return NULL;
	text = JsonbToCString(NULL, &capabilities->root, VARSIZE(capabilities));
	if (strlen(text) > DUR_MAX_CAPABILITIES_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long: %d bytes", what, (int) strlen(text)),
				 errhint("Capabilities are limited to %d bytes of JSON.", DUR_MAX_CAPABILITIES_BYTES)));
	return text;
}

/* Check a build id (NULL: none). */
void
dur_check_build_id(const char *build_id, const char *what)
{
	if (build_id == NULL)
		return;
	dur_check_id(build_id, what);
	if (strlen(build_id) > DUR_MAX_BUILD_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long: %d bytes", what, (int) strlen(build_id)),
				 errhint("Build ids are limited to %d bytes.", DUR_MAX_BUILD_BYTES)));
}

/* Does a worker with these capabilities satisfy an affinity? */
bool
dur_capabilities_match(Jsonb *capabilities, const char *affinity)
{
	Datum		required;

	if (affinity[0] == '\0')
		return true;
	if (affinity[0] == '@' || capabilities == NULL)
		return false;
	required = DirectFunctionCall1(jsonb_in, CStringGetDatum(affinity));
	return DatumGetBool(DirectFunctionCall2(jsonb_contains, JsonbPGetDatum(capabilities),
											required));
}

/* The settings a row of durable.task_queues holds. */
static void
dur_settings_from_row(DurRow *row, DurQueueSettings *out)
{
	out->tasks_per_second = row->nulls[TQ_TASKS_PER_SECOND] ? 0 :
		DatumGetFloat8(row->values[TQ_TASKS_PER_SECOND]);
	out->worker_tasks_per_second = row->nulls[TQ_WORKER_TASKS_PER_SECOND] ? 0 :
		DatumGetFloat8(row->values[TQ_WORKER_TASKS_PER_SECOND]);
	out->current_build = dur_text(row, TQ_CURRENT_BUILD_ID);
	out->ramping_build = dur_text(row, TQ_RAMPING_BUILD_ID);
	out->ramping_percentage = DatumGetFloat4(row->values[TQ_RAMPING_PERCENTAGE]);
}

/* Read a queue's row of durable.task_queues (zeroes for none). */
static void
dur_settings_read(const char *namespace, const char *queue, DurQueueSettings *out)
{
	DurCall    *call = dur_call_begin();
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	DurScan		s;
	DurRow		row;

	memset(out, 0, sizeof(*out));
	dur_scan_begin_snap(&s, call, DUR_TASK_QUEUES_PKEY, snap);
	dur_key_text(&s, 1, namespace);
	dur_key_text(&s, 2, queue);
	if (dur_scan_next(&s, ForwardScanDirection, &row))
		dur_settings_from_row(&row, out);
	dur_scan_end(&s);
	UnregisterSnapshot(snap);
	dur_call_end(call);
}

/* Copy a queue state's settings out.  Caller holds dq->lock. */
static void
dur_settings_copy(DurQueueState *st, DurQueueSettings *out)
{
	out->tasks_per_second = st->rate;
	out->worker_tasks_per_second = st->worker_rate;
	out->current_build = st->current_build[0] ? pstrdup(st->current_build) : NULL;
	out->ramping_build = st->ramping_build[0] ? pstrdup(st->ramping_build) : NULL;
	out->ramping_percentage = st->ramping_percentage;
}

/*
 * A queue's settings, from the cache, or read from durable.task_queues
 * when a committed change (or a restart) made the cache stale.
 */
static void
dur_queue_settings_shared(const char *namespace, const char *queue, DurQueueSettings *out)
{
	DurQueueTag tag;
	DurQueueState *st;
	uint64		gen;
	DurQueueSettings read;

	dur_queue_tag(&tag, namespace, queue);
	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	st = dur_qstate(&tag);
	gen = pg_atomic_read_u64(&dq->settings_gen);
	if (st->settings_gen == gen)
	{
		dur_settings_copy(st, out);
		LWLockRelease(dq->lock);
		return;
	}
	LWLockRelease(dq->lock);

	/* read after noting the generation: a change committed later bumps it again */
	dur_settings_read(namespace, queue, &read);
	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	st = dur_qstate(&tag);
	st->rate = read.tasks_per_second;
	st->worker_rate = read.worker_tasks_per_second;
	strlcpy(st->current_build, read.current_build ? read.current_build : "", sizeof(st->current_build));
	strlcpy(st->ramping_build, read.ramping_build ? read.ramping_build : "", sizeof(st->ramping_build));
	st->ramping_percentage = read.ramping_percentage;
	st->settings_gen = gen;
	dur_settings_copy(st, out);
	LWLockRelease(dq->lock);
}

/*
 * A queue's settings: this backend's copy while no change has committed
 * since it was made, else the shared cache's.
 */
void
dur_queue_settings(const char *namespace, const char *queue, DurQueueSettings *out)
{
	DurQueueTag tag;
	DurLocalSettings *e;
	bool		found;
	uint64		gen;
	MemoryContext old;

	dur_require_engine();
	if (local_settings == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(DurQueueTag);
		info.entrysize = sizeof(DurLocalSettings);
		info.hcxt = TopMemoryContext;
		local_settings = hash_create("durable queue settings", 64, &info,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	dur_queue_tag(&tag, namespace, queue);
	gen = pg_atomic_read_u64(&dq->settings_gen);
	e = hash_search(local_settings, &tag, HASH_ENTER, &found);
	if (!found || e->gen != gen)
	{
		DurQueueSettings qs;

		if (found)
		{
			if (e->qs.current_build)
				pfree(e->qs.current_build);
			if (e->qs.ramping_build)
				pfree(e->qs.ramping_build);
		}
		memset(&e->qs, 0, sizeof(e->qs));
		e->gen = 0;
		dur_queue_settings_shared(namespace, queue, &qs);
		old = MemoryContextSwitchTo(TopMemoryContext);
		e->qs = qs;
		e->qs.current_build = qs.current_build ? pstrdup(qs.current_build) : NULL;
		e->qs.ramping_build = qs.ramping_build ? pstrdup(qs.ramping_build) : NULL;
		MemoryContextSwitchTo(old);
		e->gen = gen;
	}
	*out = e->qs;
}

/*
 * The build a new run of workflow_id (or an auto-upgrade run's next
 * workflow task) goes to: the ramping build for its share of workflow ids,
 * else the current build; NULL when the queue is unversioned.  The choice
 * is a hash of the workflow id, so a workflow's runs choose alike.
 */
const char *
dur_queue_target_build(const DurQueueSettings *qs, const char *workflow_id)
{
	if (qs->ramping_build != NULL && qs->ramping_percentage > 0)
	{
		uint32		h = hash_bytes((const unsigned char *) workflow_id, strlen(workflow_id));

		if ((float4) (h % 10000) < qs->ramping_percentage * 100)
			return qs->ramping_build;
	}
	return qs->current_build;
}

/* Make room in the table of keys: forget the keys behind their queue's clock. */
static void
dur_evict_keys(void)
{
	HASH_SEQ_STATUS seq;
	DurFairKey *k;

	hash_seq_init(&seq, key_htab);
	while ((k = hash_seq_search(&seq)) != NULL)
	{
		DurQueueTag qt;
		DurQueueState *st;

		memset(&qt, 0, sizeof(qt));
		qt.dboid = k->tag.dboid;
		qt.qhash = k->tag.qhash;
		st = hash_search(queue_htab, &qt, HASH_FIND, NULL);
		if (st == NULL || k->last_pass <= st->vtime[k->tag.priority - 1])
			(void) hash_search(key_htab, &k->tag, HASH_REMOVE, NULL);
	}
}

/* The clocks of a queue, as its ready rows give them. */
typedef struct DurFairInit
{
	int64		vmin[DUR_NPRIO];	/* -1: no ready row */
	List	   *keys;			/* DurFairKey, the largest pass per key */
} DurFairInit;

/*
 * Rebuild a queue's clocks from its ready rows: the smallest pass of each
 * priority, the largest of each key.
 */
static void
dur_fair_scan(DurCall *call, const char *namespace, const char *queue, DurFairInit *fi)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	DurScan		s;
	DurRow		row;
	HTAB	   *keys;
	HASHCTL		info;
	HASH_SEQ_STATUS seq;
	DurFairKey *k;
	int			i;

	for (i = 0; i < DUR_NPRIO; i++)
		fi->vmin[i] = -1;
	fi->keys = NIL;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(DurFairTag);
	info.entrysize = sizeof(DurFairKey);
	info.hcxt = CurrentMemoryContext;
	keys = hash_create("durable fairness rebuild", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	dur_scan_begin_snap(&s, call, DUR_TASKS_READY, snap);
	dur_key_text(&s, 1, namespace);
	dur_key_text(&s, 2, queue);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		int32		p = DatumGetInt32(row.values[T_PRIORITY]);
		int64		pass = DatumGetInt64(row.values[T_PASS]);
		DurFairTag	tag;
		bool		found;

		if (p < DUR_PRIORITY_HIGHEST || p > DUR_PRIORITY_LOWEST)
			continue;
		if (fi->vmin[p - 1] < 0 || pass < fi->vmin[p - 1])
			fi->vmin[p - 1] = pass;
		memset(&tag, 0, sizeof(tag));
		tag.dboid = MyDatabaseId;
		tag.priority = p;
		tag.khash = dur_hash64(row.nulls[T_FAIRNESS_KEY] ? "" :
							   TextDatumGetCString(row.values[T_FAIRNESS_KEY]));
		k = hash_search(keys, &tag, HASH_ENTER, &found);
		if (!found || pass > k->last_pass)
			k->last_pass = pass;
	}
	dur_scan_end(&s);
	UnregisterSnapshot(snap);

	hash_seq_init(&seq, keys);
	while ((k = hash_seq_search(&seq)) != NULL)
	{
		DurFairKey *copy = palloc(sizeof(DurFairKey));

		*copy = *k;
		fi->keys = lappend(fi->keys, copy);
	}
	hash_destroy(keys);
}

/*
 * The pass of a task becoming ready on the queue with routing r (see the
 * file header).  Advances the key's clock.
 */
int64
dur_queue_pass(DurCall *call, const char *namespace, const char *queue, const DurRouting *r)
{
	DurQueueTag qt;
	DurQueueState *st;
	DurFairTag	kt;
	DurFairKey *k;
	bool		found;
	int64		stride;
	int64		base;
	int64		pass;
	int			p = r->priority - 1;

	dur_require_engine();
	stride = (int64) rint(DUR_PASS_UNIT / (r->fairness_weight > 0 ? r->fairness_weight : 1.0));
	if (stride < 1)
		stride = 1;
	dur_queue_tag(&qt, namespace, queue);
	memset(&kt, 0, sizeof(kt));
	kt.dboid = MyDatabaseId;
	kt.priority = r->priority;
	kt.qhash = qt.qhash;
	kt.khash = dur_hash64(r->fairness_key ? r->fairness_key : "");

	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	st = dur_qstate(&qt);
	if (!st->fair_ready)
	{
		DurFairInit fi;
		ListCell   *lc;
		int			i;

		LWLockRelease(dq->lock);
		dur_fair_scan(call, namespace, queue, &fi);
		LWLockAcquire(dq->lock, LW_EXCLUSIVE);
		st = dur_qstate(&qt);
		if (!st->fair_ready)
		{
			for (i = 0; i < DUR_NPRIO; i++)
				st->vtime[i] = Max(fi.vmin[i], 0);
			foreach(lc, fi.keys)
			{
				DurFairKey *src = lfirst(lc);

				src->tag.qhash = qt.qhash;
				k = hash_search(key_htab, &src->tag, HASH_ENTER_NULL, &found);
				if (k != NULL && (!found || src->last_pass > k->last_pass))
					k->last_pass = src->last_pass;
			}
			st->fair_ready = true;
		}
	}

	k = hash_search(key_htab, &kt, HASH_ENTER_NULL, &found);
	if (k == NULL)
	{
		dur_evict_keys();
		k = hash_search(key_htab, &kt, HASH_ENTER_NULL, &found);
	}
	base = st->vtime[p];
	if (k != NULL && found && k->last_pass > base)
		base = k->last_pass;
	pass = base + stride;
	if (k != NULL)
		k->last_pass = pass;
	LWLockRelease(dq->lock);
	return pass;
}

/*
 * Count a dispatch in the current second's slot.  Caller holds dq->lock,
 * and st->mutex unless the lock is exclusive.
 */
static void
dur_count_dispatch(DurQueueState *st, bool activity, TimestampTz now)
{
	int64		sec = now / USECS_PER_SEC;
	int			slot = (int) (sec % DUR_RATE_WINDOW);

	if (st->count_sec[slot] != sec)
	{
		st->count_sec[slot] = sec;
		st->count_activity[slot] = 0;
		st->count_all[slot] = 0;
	}
	st->count_all[slot]++;
	if (activity)
		st->count_activity[slot]++;
}

/*
 * A task of the queue was handed to a worker: advance the clock of its
 * priority to its pass (0: a task dispatched without queueing) and count
 * it for the current rate.
 */
void
dur_queue_dispatched(const char *namespace, const char *queue, bool activity, int32 priority,
					 int64 pass)
{
	DurQueueTag qt;
	DurQueueState *st;

	TimestampTz now = GetCurrentTimestamp();

	dur_queue_tag(&qt, namespace, queue);
	LWLockAcquire(dq->lock, LW_SHARED);
	st = hash_search(queue_htab, &qt, HASH_FIND, NULL);
	if (st != NULL)
	{
		SpinLockAcquire(&st->mutex);
		if (pass > 0 && st->fair_ready && priority >= DUR_PRIORITY_HIGHEST &&
			priority <= DUR_PRIORITY_LOWEST && pass > st->vtime[priority - 1])
			st->vtime[priority - 1] = pass;
		dur_count_dispatch(st, activity, now);
		st->last_used = now;
		SpinLockRelease(&st->mutex);
	}
	LWLockRelease(dq->lock);
}

/*
 * Take a token from a bucket of the given rate; false and *next (when the
 * next token comes) when it is empty.
 */
static bool
dur_bucket_take(double *tokens, TimestampTz *refilled, double rate, TimestampTz now,
				TimestampTz *next)
{
	double		burst = Max(1.0, rate / 10.0);

	if (*refilled == 0)
		*tokens = burst;
	else if (now > *refilled)
		*tokens = Min(burst, *tokens + (double) (now - *refilled) / USECS_PER_SEC * rate);
	*refilled = Max(now, *refilled);
	if (*tokens >= 1.0)
	{
		*tokens -= 1.0;
		return true;
	}
	*next = now + (TimestampTz) ceil((1.0 - *tokens) / rate * USECS_PER_SEC);
	return false;
}

static void
dur_bucket_return(double *tokens, double rate)
{
	*tokens = Min(Max(1.0, rate / 10.0), *tokens + 1.0);
}

/* The poller entry of (queue, worker), made if asked.  Caller holds dq->lock. */
static DurPollerEntry *
dur_poller_entry(const DurQueueTag *qt, const char *worker, bool create)
{
	DurPollerTag pt;
	DurPollerEntry *e;
	bool		found;

	memset(&pt, 0, sizeof(pt));
	pt.dboid = qt->dboid;
	pt.qhash = qt->qhash;
	pt.whash = dur_hash64(worker);
	if (!create)
		return hash_search(poller_htab, &pt, HASH_FIND, NULL);
	e = hash_search(poller_htab, &pt, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		/* full: forget the poller seen longest ago */
		HASH_SEQ_STATUS seq;
		DurPollerEntry *p;
		DurPollerEntry *oldest = NULL;
		DurPollerTag victim;

		hash_seq_init(&seq, poller_htab);
		while ((p = hash_seq_search(&seq)) != NULL)
			if (oldest == NULL || Max(p->seen[0], p->seen[1]) < Max(oldest->seen[0], oldest->seen[1]))
				oldest = p;
		victim = oldest->tag;
		(void) hash_search(poller_htab, &victim, HASH_REMOVE, NULL);
		e = hash_search(poller_htab, &pt, HASH_ENTER, &found);
	}
	if (!found)
	{
		memset(((char *) e) + sizeof(DurPollerTag), 0, sizeof(DurPollerEntry) - sizeof(DurPollerTag));
		strlcpy(e->worker, worker, sizeof(e->worker));
	}
	return e;
}

/*
 * Take a token to claim an activity of the queue for worker: 0 when taken
 * (or the queue has no limit), else when the next token comes.
 */
TimestampTz
dur_queue_take_token(const char *namespace, const char *queue, const char *worker)
{
	DurQueueSettings qs;
	DurQueueTag qt;
	DurQueueState *st;
	TimestampTz now;
	TimestampTz next = 0;

	dur_queue_settings(namespace, queue, &qs);
	if (qs.tasks_per_second <= 0 && qs.worker_tasks_per_second <= 0)
		return 0;
	dur_queue_tag(&qt, namespace, queue);
	now = GetCurrentTimestamp();
	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	st = dur_qstate(&qt);
	if (st->rate > 0 && !dur_bucket_take(&st->tokens, &st->refilled, st->rate, now, &next))
	{
		LWLockRelease(dq->lock);
		return next;
	}
	if (st->worker_rate > 0)
	{
		DurPollerEntry *e = dur_poller_entry(&qt, worker, true);

		if (!dur_bucket_take(&e->tokens, &e->refilled, st->worker_rate, now, &next))
		{
			if (st->rate > 0)
				dur_bucket_return(&st->tokens, st->rate);
			LWLockRelease(dq->lock);
			return next;
		}
	}
	LWLockRelease(dq->lock);
	return 0;
}

/* Give back a token taken for a claim that found no activity. */
void
dur_queue_return_token(const char *namespace, const char *queue, const char *worker)
{
	DurQueueTag qt;
	DurQueueState *st;

	dur_queue_tag(&qt, namespace, queue);
	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	st = dur_qstate(&qt);
	if (st->rate > 0)
		dur_bucket_return(&st->tokens, st->rate);
	if (st->worker_rate > 0)
	{
		DurPollerEntry *e = dur_poller_entry(&qt, worker, false);

		if (e != NULL)
			dur_bucket_return(&e->tokens, st->worker_rate);
	}
	LWLockRelease(dq->lock);
}

/* Record a poll of the queue: who, with what build and capabilities, for what. */
void
dur_queue_poller_seen(const char *namespace, const char *queue, const DurPoller *p)
{
	DurQueueTag qt;
	DurPollerEntry *e;
	TimestampTz now = GetCurrentTimestamp();
	char	   *caps = p->capabilities ? dur_affinity_of(p->capabilities, "capabilities") : NULL;

	uint64		whash = dur_hash64(p->worker);
	uint64		bhash = dur_hash64(p->build_id) ^ (caps ? dur_hash64(caps) : 0);

	dur_require_engine();
	dur_queue_tag(&qt, namespace, queue);
	if (last_seen.qhash == qt.qhash && last_seen.whash == whash && last_seen.bhash == bhash &&
		last_seen.kinds == p->kinds && now - last_seen.at < USECS_PER_SEC)
		return;
	last_seen.qhash = qt.qhash;
	last_seen.whash = whash;
	last_seen.bhash = bhash;
	last_seen.kinds = p->kinds;
	last_seen.at = now;
	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	e = dur_poller_entry(&qt, p->worker, true);
	strlcpy(e->build, p->build_id, sizeof(e->build));
	strlcpy(e->capabilities, caps ? caps : "", sizeof(e->capabilities));
	if (p->kinds & DUR_KIND_WORKFLOW)
		e->seen[0] = now;
	if (p->kinds & DUR_KIND_ACTIVITY)
		e->seen[1] = now;
	LWLockRelease(dq->lock);
}

/*
 * Did worker, when it last polled the queue, declare capabilities that meet
 * the affinity?  (For eager dispatch: the worker is not polling.)
 */
bool
dur_queue_worker_capable(const char *namespace, const char *queue, const char *worker,
						 const char *affinity)
{
	DurQueueTag qt;
	DurPollerEntry *e;
	char	   *caps = NULL;

	if (affinity[0] == '\0')
		return true;
	if (affinity[0] == '@')
		return false;
	dur_queue_tag(&qt, namespace, queue);
	LWLockAcquire(dq->lock, LW_SHARED);
	e = dur_poller_entry(&qt, worker, false);
	if (e != NULL && e->capabilities[0] != '\0')
		caps = pstrdup(e->capabilities);
	LWLockRelease(dq->lock);
	if (caps == NULL)
		return false;
	return dur_capabilities_match(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(caps))),
								  affinity);
}

/*
 * At commit of a transaction that changed settings, make every backend
 * read them again.
 */
static void
dur_queues_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (settings_changed && dq != NULL)
		{
			pg_atomic_fetch_add_u64(&dq->settings_gen, 1);
			/* a poller asleep until a token under the old limit looks again */
			LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
			(void) dur_wake_task_waiters(0, 0, INT_MAX, true, 0);
			LWLockRelease(dur_shared->lock);
		}
		settings_changed = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		settings_changed = false;
}

static void
dur_settings_changed(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(dur_queues_xact_callback, NULL);
		xact_callback_registered = true;
	}
	settings_changed = true;
}

/*
 * Write a queue's settings row: read it (or zeroes), let change() alter it,
 * write it back.  The queue's settings lock orders concurrent changes.
 */
typedef void (*DurSettingsChange) (DurQueueSettings *qs, void *arg);

static void
dur_settings_write(const char *namespace, const char *queue, DurSettingsChange change, void *arg,
				   DurQueueSettings *result)
{
	DurCall    *call;
	DurScan		s;
	DurRow		row;
	bool		exists;
	DurQueueSettings qs;
	Datum		v[TQ_NCOLS];
	bool		n[TQ_NCOLS];
	ItemPointerData tid;

	dur_lock_task_queue(dur_queue_key(namespace, queue));
	call = dur_call_begin();
	dur_call_snapshot(call);
	memset(&qs, 0, sizeof(qs));
	dur_scan_begin(&s, call, DUR_TASK_QUEUES_PKEY);
	dur_key_text(&s, 1, namespace);
	dur_key_text(&s, 2, queue);
	exists = dur_scan_next(&s, ForwardScanDirection, &row);
	if (exists)
	{
		tid = row.tid;
		dur_settings_from_row(&row, &qs);
	}
	dur_scan_end(&s);

	change(&qs, arg);

	memset(n, true, sizeof(n));
	v[TQ_NAMESPACE] = CStringGetTextDatum(namespace);
	v[TQ_TASK_QUEUE] = CStringGetTextDatum(queue);
	n[TQ_NAMESPACE] = n[TQ_TASK_QUEUE] = false;
	if (qs.tasks_per_second > 0)
	{
		v[TQ_TASKS_PER_SECOND] = Float8GetDatum(qs.tasks_per_second);
		n[TQ_TASKS_PER_SECOND] = false;
	}
	if (qs.worker_tasks_per_second > 0)
	{
		v[TQ_WORKER_TASKS_PER_SECOND] = Float8GetDatum(qs.worker_tasks_per_second);
		n[TQ_WORKER_TASKS_PER_SECOND] = false;
	}
	if (qs.current_build != NULL)
	{
		v[TQ_CURRENT_BUILD_ID] = CStringGetTextDatum(qs.current_build);
		n[TQ_CURRENT_BUILD_ID] = false;
	}
	if (qs.ramping_build != NULL)
	{
		v[TQ_RAMPING_BUILD_ID] = CStringGetTextDatum(qs.ramping_build);
		n[TQ_RAMPING_BUILD_ID] = false;
	}
	v[TQ_RAMPING_PERCENTAGE] = Float4GetDatum(qs.ramping_percentage);
	n[TQ_RAMPING_PERCENTAGE] = false;
	v[TQ_UPDATED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	n[TQ_UPDATED_AT] = false;
	if (exists)
		dur_update(call, DUR_TASK_QUEUES, &tid, v, n, NULL);
	else
		dur_insert(call, DUR_TASK_QUEUES, v, n, NULL);
	dur_call_end(call);
	dur_settings_changed();
	if (result != NULL)
		*result = qs;
}

/*
 * Send the ready workflow tasks of the queue's auto-upgrade runs to the
 * build the new settings choose.  Each run is locked (waiting) as every
 * writer of its task row does.
 */
static void
dur_retarget_auto_upgrade(const char *namespace, const char *queue, const DurQueueSettings *qs)
{
	DurCall    *call = dur_call_begin();
	DurScan		s;
	DurRow		row;
	List	   *runs = NIL;
	ListCell   *lc;

	dur_call_open_all(call);
	dur_call_snapshot(call);
	dur_scan_begin(&s, call, DUR_TASKS_READY);
	dur_key_text(&s, 1, namespace);
	dur_key_text(&s, 2, queue);
	dur_key_text(&s, 3, "workflow");
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

		memcpy(id, DatumGetUUIDP(row.values[T_RUN_ID]), sizeof(pg_uuid_t));
		runs = lappend(runs, id);
	}
	dur_scan_end(&s);

	foreach(lc, runs)
	{
		pg_uuid_t  *id = lfirst(lc);
		DurRun	   *run;
		DurRow		task;
		const char *target;

		dur_lock_run(id);
		dur_call_snapshot(call);
		run = dur_run_read(call, id);
		if (run == NULL || !dur_run_auto_upgrade(run) ||
			!dur_fetch(call, DUR_TASKS, DUR_TASKS_PKEY, id, 0, &task) ||
			!task.nulls[T_STARTED_TIME])
			continue;
		target = dur_queue_target_build(qs, run->workflow_id);
		task.values[T_BUILD_ID] = CStringGetTextDatum(target ? target : "");
		dur_update(call, DUR_TASKS, &task.tid, task.values, task.nulls, NULL);
		dur_notify_task_all(dur_queue_key(namespace, queue), DUR_KIND_WORKFLOW);
	}
	dur_call_end(call);
}

/* The queue argument of a settings function, checked. */
static char *
dur_queue_arg(FunctionCallInfo fcinfo, int n)
{
	char	   *queue;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task_queue must not be NULL")));
	queue = text_to_cstring(PG_GETARG_TEXT_PP(n));
	dur_check_id(queue, "task_queue");
	return queue;
}

/* A rate argument: NULL for no limit, else a positive finite number. */
static double
dur_rate_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	double		rate;

	if (PG_ARGISNULL(n))
		return 0;
	rate = PG_GETARG_FLOAT8(n);
	if (isnan(rate) || isinf(rate) || rate <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive number of tasks per second, not %g", what, rate),
				 errhint("Pass NULL for no limit.")));
	return rate;
}

static void
dur_change_rates(DurQueueSettings *qs, void *arg)
{
	double	   *rates = arg;

	qs->tasks_per_second = rates[0];
	qs->worker_tasks_per_second = rates[1];
}

/*
 * set_task_queue_rate_limit(task_queue, tasks_per_second,
 * worker_tasks_per_second, namespace): set or (NULL) clear the queue's
 * activity dispatch limits; they take effect at commit.
 */
Datum
set_task_queue_rate_limit(PG_FUNCTION_ARGS)
{
	char	   *namespace = dur_namespace_arg(fcinfo, 3);
	char	   *queue;
	double		rates[2];

	dur_namespace_require(namespace, DUR_CAP_ADMIN);
	queue = dur_queue_arg(fcinfo, 0);
	rates[0] = dur_rate_arg(fcinfo, 1, "tasks_per_second");
	rates[1] = dur_rate_arg(fcinfo, 2, "worker_tasks_per_second");
	dur_settings_write(namespace, queue, dur_change_rates, rates, NULL);
	PG_RETURN_VOID();
}

typedef struct DurBuildChange
{
	bool		current;		/* set the current build, else the ramp */
	const char *build;
	float4		percentage;
} DurBuildChange;

static void
dur_change_build(DurQueueSettings *qs, void *arg)
{
	DurBuildChange *c = arg;

	if (c->current)
	{
		qs->current_build = c->build ? pstrdup(c->build) : NULL;
		/* a ramp of the build that is now current is over */
		if (qs->ramping_build != NULL && c->build != NULL && strcmp(qs->ramping_build, c->build) == 0)
		{
			qs->ramping_build = NULL;
			qs->ramping_percentage = 0;
		}
	}
	else
	{
		qs->ramping_build = c->build ? pstrdup(c->build) : NULL;
		qs->ramping_percentage = c->build ? c->percentage : 0;
	}
}

/* set_current_build(task_queue, build_id, namespace) */
Datum
set_current_build(PG_FUNCTION_ARGS)
{
	char	   *namespace = dur_namespace_arg(fcinfo, 2);
	DurBuildChange c;
	DurQueueSettings qs;
	char	   *queue;

	dur_namespace_require(namespace, DUR_CAP_ADMIN);
	queue = dur_queue_arg(fcinfo, 0);
	memset(&c, 0, sizeof(c));
	c.current = true;
	c.build = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	dur_check_build_id(c.build, "build_id");
	dur_settings_write(namespace, queue, dur_change_build, &c, &qs);
	dur_retarget_auto_upgrade(namespace, queue, &qs);
	PG_RETURN_VOID();
}

/* set_ramping_build(task_queue, build_id, percentage, namespace) */
Datum
set_ramping_build(PG_FUNCTION_ARGS)
{
	char	   *namespace = dur_namespace_arg(fcinfo, 3);
	DurBuildChange c;
	DurQueueSettings qs;
	char	   *queue;

	dur_namespace_require(namespace, DUR_CAP_ADMIN);
	queue = dur_queue_arg(fcinfo, 0);
	memset(&c, 0, sizeof(c));
	c.build = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	dur_check_build_id(c.build, "build_id");
	if (c.build != NULL)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("percentage must not be NULL"),
					 errhint("Pass the share of new runs, 0 to 100, that go to the ramping build.")));
		c.percentage = PG_GETARG_FLOAT4(2);
		if (isnan(c.percentage) || c.percentage < 0 || c.percentage > 100)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("percentage must be between 0 and 100, not %g", c.percentage),
					 errhint("Pass the share of new runs that go to the ramping build.")));
	}
	dur_settings_write(namespace, queue, dur_change_build, &c, &qs);
	dur_retarget_auto_upgrade(namespace, queue, &qs);
	PG_RETURN_VOID();
}

/* A snapshot of the pollers of one queue (or all, qhash 0). */
typedef struct DurPollerCopy
{
	uint64		qhash;
	char	   *worker;
	char	   *build;
	Jsonb	   *capabilities;
	char	   *capabilities_text;
	TimestampTz seen[2];
} DurPollerCopy;

static List *
dur_pollers_copy(uint64 qhash)
{
	HASH_SEQ_STATUS seq;
	DurPollerEntry *e;
	List	   *out = NIL;
	ListCell   *lc;

	LWLockAcquire(dq->lock, LW_SHARED);
	hash_seq_init(&seq, poller_htab);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		DurPollerCopy *c;

		if (e->tag.dboid != MyDatabaseId || (qhash != 0 && e->tag.qhash != qhash))
			continue;
		c = palloc0(sizeof(DurPollerCopy));
		c->qhash = e->tag.qhash;
		c->worker = pstrdup(e->worker);
		c->build = pstrdup(e->build);
		c->capabilities_text = pstrdup(e->capabilities);
		c->seen[0] = e->seen[0];
		c->seen[1] = e->seen[1];
		out = lappend(out, c);
	}
	LWLockRelease(dq->lock);
	foreach(lc, out)
	{
		DurPollerCopy *c = lfirst(lc);

		if (c->capabilities_text[0] != '\0')
			c->capabilities = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																 CStringGetDatum(c->capabilities_text)));
	}
	return out;
}

/*
 * Can a live poller of the queue take ready tasks of this kind, build and
 * affinity (pinned: to this worker)?
 */
static bool
dur_backlog_matched(List *pollers, uint64 qhash, bool activity, const char *build,
					const char *affinity, const char *pinned)
{
	TimestampTz live = GetCurrentTimestamp() - DUR_POLLER_LIVE_SECS * USECS_PER_SEC;
	ListCell   *lc;

	foreach(lc, pollers)
	{
		DurPollerCopy *c = lfirst(lc);

		if (c->qhash != qhash || c->seen[activity ? 1 : 0] < live)
			continue;
		if (build[0] != '\0' && strcmp(build, c->build) != 0)
			continue;
		if (strcmp(affinity, DUR_AFFINITY_PINNED) == 0)
		{
			if (pinned != NULL && strcmp(pinned, c->worker) == 0)
				return true;
			continue;
		}
		if (dur_capabilities_match(c->capabilities, affinity))
			return true;
	}
	return false;
}

/* The ready tasks of one queue, or of every queue the caller may see, grouped. */
static const char *const backlog_sql =
"SELECT namespace, task_queue, kind, priority, build_id, affinity,"
"       CASE WHEN affinity = '" DUR_AFFINITY_PINNED "' THEN sticky_worker END,"
"       pg_catalog.count(*), pg_catalog.min(ready_time)"
"  FROM durable.tasks"
" WHERE started_time IS NULL AND ($1 IS NULL OR (namespace = $1 AND task_queue = $2))"
" GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7";

typedef struct DurBacklogRow
{
	char	   *namespace;
	char	   *queue;
	char	   *kind;
	int32		priority;
	char	   *build;
	char	   *affinity;
	char	   *pinned;
	int64		count;
	TimestampTz oldest;
	bool		matched;
} DurBacklogRow;

static List *
dur_backlog(const char *namespace, const char *queue)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	List	   *rows = NIL;
	List	   *pollers;
	uint64		i;
	ListCell   *lc;
	MemoryContext caller = CurrentMemoryContext;

	if (namespace == NULL)
		nulls[0] = nulls[1] = 'n';
	else
	{
		values[0] = CStringGetTextDatum(namespace);
		values[1] = CStringGetTextDatum(queue);
	}
	pollers = dur_pollers_copy(namespace == NULL ? 0 : dur_hash64(dur_queue_key(namespace, queue)));
	SPI_connect();
	if (SPI_execute_with_args(backlog_sql, 2, types, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "durable: reading the backlog failed");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		DurBacklogRow *r = palloc0(sizeof(DurBacklogRow));
		bool		isnull;

		r->namespace = SPI_getvalue(tup, desc, 1);
		r->queue = SPI_getvalue(tup, desc, 2);
		r->kind = SPI_getvalue(tup, desc, 3);
		r->priority = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		r->build = SPI_getvalue(tup, desc, 5);
		r->affinity = SPI_getvalue(tup, desc, 6);
		r->pinned = SPI_getvalue(tup, desc, 7);
		r->count = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		r->oldest = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
		rows = lappend(rows, r);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	foreach(lc, rows)
	{
		DurBacklogRow *r = lfirst(lc);

		r->matched = dur_backlog_matched(pollers, dur_hash64(dur_queue_key(r->namespace, r->queue)),
										 strcmp(r->kind, "activity") == 0, r->build,
										 r->affinity, r->pinned);
	}
	return rows;
}

/* A backlog group as a JSON object. */
static void
dur_backlog_json(StringInfo out, DurBacklogRow *r)
{
	appendStringInfoString(out, "{\"kind\": ");
	escape_json(out, r->kind);
	appendStringInfo(out, ", \"priority\": %d, \"build_id\": ", r->priority);
	if (r->build[0] == '\0')
		appendStringInfoString(out, "null");
	else
		escape_json(out, r->build);
	appendStringInfoString(out, ", \"required_capabilities\": ");
	appendStringInfoString(out, r->affinity[0] == '\0' || r->affinity[0] == '@' ? "null" : r->affinity);
	appendStringInfoString(out, ", \"pinned_worker\": ");
	if (r->pinned == NULL)
		appendStringInfoString(out, "null");
	else
		escape_json(out, r->pinned);
	appendStringInfo(out, ", \"count\": " INT64_FORMAT ", \"oldest_ready_time\": ", r->count);
	dj_append_time(out, r->oldest, false);
	appendStringInfo(out, ", \"matched\": %s}", r->matched ? "true" : "false");
}

/*
 * describe_task_queue(task_queue, namespace) returns jsonb: settings,
 * current rate, pollers seen and backlog (see docs/task-queues.md).
 */
Datum
describe_task_queue(PG_FUNCTION_ARGS)
{
	char	   *namespace = dur_namespace_arg(fcinfo, 1);
	char	   *queue;
	DurQueueSettings qs;
	DurQueueTag qt;
	DurQueueState *st;
	double		rate_all = 0;
	double		rate_activity = 0;
	List	   *pollers;
	List	   *backlog;
	ListCell   *lc;
	StringInfoData out;
	bool		first;
	TimestampTz now = GetCurrentTimestamp();
	int64		sec = now / USECS_PER_SEC;
	TimestampTz recent = now - DUR_POLLER_STALE_SECS * USECS_PER_SEC;

	dur_namespace_require(namespace, DUR_CAP_CLIENT | DUR_CAP_WORKER);
	queue = dur_queue_arg(fcinfo, 0);
	dur_queue_settings(namespace, queue, &qs);
	dur_queue_tag(&qt, namespace, queue);
	LWLockAcquire(dq->lock, LW_EXCLUSIVE);
	st = dur_qstate(&qt);
	{
		int			i;

		/* the last DUR_RATE_WINDOW whole seconds */
		for (i = 0; i < DUR_RATE_WINDOW; i++)
			if (st->count_sec[i] < sec && st->count_sec[i] >= sec - DUR_RATE_WINDOW)
			{
				rate_all += st->count_all[i];
				rate_activity += st->count_activity[i];
			}
	}
	LWLockRelease(dq->lock);
	rate_all /= DUR_RATE_WINDOW;
	rate_activity /= DUR_RATE_WINDOW;
	pollers = dur_pollers_copy(qt.qhash);
	backlog = dur_backlog(namespace, queue);

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"namespace\": ");
	escape_json(&out, namespace);
	appendStringInfoString(&out, ", \"task_queue\": ");
	escape_json(&out, queue);
	appendStringInfoString(&out, ", \"rate_limit\": {\"tasks_per_second\": ");
	if (qs.tasks_per_second > 0)
		appendStringInfo(&out, "%g", qs.tasks_per_second);
	else
		appendStringInfoString(&out, "null");
	appendStringInfoString(&out, ", \"worker_tasks_per_second\": ");
	if (qs.worker_tasks_per_second > 0)
		appendStringInfo(&out, "%g", qs.worker_tasks_per_second);
	else
		appendStringInfoString(&out, "null");
	appendStringInfo(&out, ", \"current_rate\": %.1f, \"current_dispatch_rate\": %.1f}",
					 rate_activity, rate_all);
	appendStringInfoString(&out, ", \"versioning\": {\"current_build_id\": ");
	if (qs.current_build)
		escape_json(&out, qs.current_build);
	else
		appendStringInfoString(&out, "null");
	appendStringInfoString(&out, ", \"ramping_build_id\": ");
	if (qs.ramping_build)
		escape_json(&out, qs.ramping_build);
	else
		appendStringInfoString(&out, "null");
	appendStringInfo(&out, ", \"ramping_percentage\": %g}", qs.ramping_percentage);

	appendStringInfoString(&out, ", \"pollers\": [");
	first = true;
	foreach(lc, pollers)
	{
		DurPollerCopy *c = lfirst(lc);

		if (Max(c->seen[0], c->seen[1]) < recent)
			continue;
		if (!first)
			appendStringInfoString(&out, ", ");
		first = false;
		appendStringInfoString(&out, "{\"worker_id\": ");
		escape_json(&out, c->worker);
		appendStringInfoString(&out, ", \"build_id\": ");
		if (c->build[0])
			escape_json(&out, c->build);
		else
			appendStringInfoString(&out, "null");
		appendStringInfoString(&out, ", \"capabilities\": ");
		appendStringInfoString(&out, c->capabilities_text[0] ? c->capabilities_text : "null");
		appendStringInfo(&out, ", \"kinds\": [%s%s%s], \"last_seen\": ",
						 c->seen[0] >= recent ? "\"workflow\"" : "",
						 c->seen[0] >= recent && c->seen[1] >= recent ? ", " : "",
						 c->seen[1] >= recent ? "\"activity\"" : "");
		dj_append_time(&out, Max(c->seen[0], c->seen[1]), false);
		appendStringInfo(&out, ", \"live\": %s}",
						 Max(c->seen[0], c->seen[1]) >= now - DUR_POLLER_LIVE_SECS * USECS_PER_SEC ?
						 "true" : "false");
	}
	appendStringInfoString(&out, "], \"backlog\": [");
	first = true;
	foreach(lc, backlog)
	{
		if (!first)
			appendStringInfoString(&out, ", ");
		first = false;
		dur_backlog_json(&out, lfirst(lc));
	}
	appendStringInfoString(&out, "], \"unmatched\": [");
	first = true;
	foreach(lc, backlog)
	{
		DurBacklogRow *r = lfirst(lc);

		if (r->matched)
			continue;
		if (!first)
			appendStringInfoString(&out, ", ");
		first = false;
		dur_backlog_json(&out, r);
	}
	appendStringInfoString(&out, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

/*
 * task_queue_backlog() returns setof (namespace, task_queue, kind,
 * priority, build_id, requirement, tasks, oldest_ready_time, matched):
 * the ready tasks of every queue the caller can see (row-level security),
 * grouped; matched is false for those no live poller can take.
 */
Datum
task_queue_backlog(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *rows;
	ListCell   *lc;

	dur_require_engine();
	InitMaterializedSRF(fcinfo, 0);
	rows = dur_backlog(NULL, NULL);
	foreach(lc, rows)
	{
		DurBacklogRow *r = lfirst(lc);
		Datum		v[9];
		bool		n[9] = {false, false, false, false, false, false, false, false, false};

		v[0] = CStringGetTextDatum(r->namespace);
		v[1] = CStringGetTextDatum(r->queue);
		v[2] = CStringGetTextDatum(r->kind);
		v[3] = Int32GetDatum(r->priority);
		v[4] = r->build[0] ? CStringGetTextDatum(r->build) : (Datum) 0;
		n[4] = r->build[0] == '\0';
		if (strcmp(r->affinity, DUR_AFFINITY_PINNED) == 0)
			v[5] = CStringGetTextDatum(psprintf("worker %s", r->pinned ? r->pinned : "?"));
		else
			v[5] = CStringGetTextDatum(r->affinity);
		n[5] = r->affinity[0] == '\0';
		v[6] = Int64GetDatum(r->count);
		v[7] = TimestampTzGetDatum(r->oldest);
		v[8] = BoolGetDatum(r->matched);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

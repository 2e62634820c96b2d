/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  The engine's counters and latency histograms, kept in shared memory
 *	  and shown by the views durable.metrics and durable.metric_histograms
 *	  (src/sql/metrics.sql, docs/metrics.md).
 *
 * What is counted: workflows started and closed by status, workflow and
 * activity tasks dispatched (eager or polled), workflow task failures and
 * timeouts, activity retries and timeouts by type, history events written,
 * schedules' actions taken, skipped by the overlap policy, missed
 * (outside the catch-up window) and dropped because their start failed,
 * under the action's task queue; and, as histograms with fixed buckets of 1 ms to 60 s, schedule-to-start
 * and execution (start to completion) latency of tasks and the lateness of
 * fired timers.  Everything is per (database, namespace, task queue); the
 * task kind (workflow, activity) is part of what is counted, so a queue's
 * slot holds the counters and histograms of both kinds.  The gauges
 * (backlogs, running workflows, the oldest ready task) are not kept here:
 * the views compute them from the tables when they are read.
 *
 * Slots.  A fixed array of DUR_METRIC_SLOTS slots, found through an
 * open-addressing hash without a lock: a slot's key is the 64-bit hash of
 * (database, namespace, queue), 0 while the slot is free.  A backend that
 * sees a name for the first time probes from the key's position; it claims
 * a free slot by compare-and-swap of its key, writes the names, and only
 * then sets the slot's ready flag (after a write barrier).  Another backend
 * that finds the key spins until ready is set (the claimer sets it a few
 * stores after its compare-and-swap and cannot fail in between) and
 * compares the names, so two names of one hash get two slots.  A slot is
 * never freed until the server restarts.  When DUR_METRIC_PROBES probes
 * find no slot (the table is full) the metric goes to the last slot,
 * "other", shared by every database and shown with namespace and
 * task_queue "_other_".  Each backend remembers the slots it found in a
 * small direct-mapped cache, so after the first time a name costs a hash of
 * two short strings and two string compares.
 *
 * The hot path takes no lock.  A metric is first noted in this backend's
 * memory, tagged with the transaction nesting level; at commit the notes
 * are added to the slots with atomic fetch-and-add (pg_atomic_*), at abort
 * they are dropped, and a subtransaction's notes go with it (the engine
 * fires each deadline in a subtransaction).  So a counter counts what
 * committed, once: a claim that rolls back and is claimed again is one
 * dispatch.  Readers read each value atomically; a histogram's buckets are
 * read one by one, and its count is derived from the buckets read, so a
 * scrape is consistent within a bucket list (its sum may be a few
 * observations ahead or behind).  Nothing here writes a table or WAL.
 *
 * Invariants:
 *	- a slot's key goes from 0 to its hash once; its names and database are
 *	  written before ready is set and never change after;
 *	- counters and buckets only grow (until a restart empties the table);
 *	- a note is applied to shared memory at most once, and only if the
 *	  (sub)transaction that made it committed.
 *
 * Locking: none.  Atomics only, and a bounded spin on a slot's ready flag.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/s_lock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "durable.h"
#include "history.h"
#include "metrics.h"
#include "namespaces.h"

PG_FUNCTION_INFO_V1(_metric_values);
PG_FUNCTION_INFO_V1(_metric_buckets);

/* (namespace, queue) pairs per cluster since the server started. */
#define DUR_METRIC_SLOTS	1024
/* The last slot: what did not find a slot of its own. */
#define DUR_METRIC_OTHER	DUR_METRIC_SLOTS
/* Probes before giving up on a free slot. */
#define DUR_METRIC_PROBES	64
/* Slots a backend remembers. */
#define DUR_METRIC_CACHE	64

/* Upper bounds of the histogram buckets, in microseconds; one more bucket above the last. */
static const int64 bucket_bounds[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000
};

#define DUR_NBOUNDS		lengthof(bucket_bounds)
#define DUR_NBUCKETS	(DUR_NBOUNDS + 1)

typedef struct DurMetricHist
{
	pg_atomic_uint64 buckets[DUR_NBUCKETS]; /* not cumulative */
	pg_atomic_uint64 sum_us;
} DurMetricHist;

typedef struct DurMetricSlot
{
	pg_atomic_uint64 key;		/* 0: free; else the hash of (database,
								 * namespace, queue) */
	pg_atomic_uint32 ready;		/* 1: dboid and the names are written */
	Oid			dboid;
	char		namespace[DUR_MAX_NAMESPACE_BYTES + 1];
	char		queue[DUR_MAX_ID_BYTES + 1];
	pg_atomic_uint64 counters[DUR_NCOUNTERS];
	DurMetricHist hists[DUR_NHISTOGRAMS];
} DurMetricSlot;

typedef struct DurMetricsShared
{
	DurMetricSlot slots[DUR_METRIC_SLOTS + 1];
} DurMetricsShared;

static DurMetricsShared *dm = NULL;

/* A metric noted by this backend, applied at commit. */
typedef struct DurMetricNote
{
	int16		slot;
	int16		what;			/* a DurCounter, or DUR_NCOUNTERS + a DurHistogram */
	int32		level;			/* transaction nesting level that made it */
	int64		value;			/* increment, or observed microseconds */
} DurMetricNote;

static DurMetricNote *notes = NULL;
static int	nnotes = 0;
static int	maxnotes = 0;
static bool callbacks_registered = false;

/* This backend's cache of slots found. */
typedef struct DurMetricCached
{
	uint64		hash;
	Oid			dboid;
	int			slot;			/* -1: empty */
	char	   *namespace;
	char	   *queue;
} DurMetricCached;

static DurMetricCached cache[DUR_METRIC_CACHE];
static bool cache_ready = false;

/* Names of the counters and histograms, as the views show them. */
static const char *const counter_names[DUR_NCOUNTERS] = {
	"durable_workflow_started_total",
	"durable_workflow_success_total",
	"durable_workflow_failed_total",
	"durable_workflow_timeout_total",
	"durable_workflow_cancel_total",
	"durable_workflow_terminate_total",
	"durable_workflow_continued_as_new_total",
	"durable_failed_workflow_tasks_total",
	"durable_workflow_task_timeout_total",
	"durable_history_events_written_total",
	"durable_activity_retry_total",
	"durable_activity_timeout_total",
	"durable_activity_timeout_total",
	"durable_activity_timeout_total",
	"durable_activity_timeout_total",
	"durable_poll_success_total",
	"durable_poll_success_total",
	"durable_eager_dispatch_total",
	"durable_eager_dispatch_total",
	"durable_schedule_action_success_total",
	"durable_schedule_action_skipped_total",
	"durable_schedule_missed_catchup_window_total",
	"durable_schedule_action_errors_total"
};

/* The extra label of a counter: its name and value (NULL: none). */
static const char *const counter_label[DUR_NCOUNTERS][2] = {
	[DUR_C_ACTIVITY_TIMEOUT_START_TO_CLOSE] = {"timeout_type", "START_TO_CLOSE"},
	[DUR_C_ACTIVITY_TIMEOUT_SCHEDULE_TO_START] = {"timeout_type", "SCHEDULE_TO_START"},
	[DUR_C_ACTIVITY_TIMEOUT_SCHEDULE_TO_CLOSE] = {"timeout_type", "SCHEDULE_TO_CLOSE"},
	[DUR_C_ACTIVITY_TIMEOUT_HEARTBEAT] = {"timeout_type", "HEARTBEAT"},
	[DUR_C_POLLED_WORKFLOW] = {"kind", "workflow"},
	[DUR_C_POLLED_ACTIVITY] = {"kind", "activity"},
	[DUR_C_EAGER_WORKFLOW] = {"kind", "workflow"},
	[DUR_C_EAGER_ACTIVITY] = {"kind", "activity"}
};

static const char *const hist_names[DUR_NHISTOGRAMS] = {
	"durable_task_schedule_to_start_seconds",
	"durable_task_schedule_to_start_seconds",
	"durable_task_execution_seconds",
	"durable_task_execution_seconds",
	"durable_timer_lateness_seconds"
};

static const char *const hist_kind[DUR_NHISTOGRAMS] = {
	"workflow", "activity", "workflow", "activity", NULL
};

/* ---------------------------------------------------------------- shmem */

Size
dur_metrics_shmem_size(void)
{
	return MAXALIGN(sizeof(DurMetricsShared));
}

/* Called from shmem_request_hook. */
void
dur_metrics_shmem_request(void)
{
	RequestAddinShmemSpace(dur_metrics_shmem_size());
}

/* Called from shmem_startup_hook: create or attach. */
void
dur_metrics_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dm = ShmemInitStruct("durable metrics", dur_metrics_shmem_size(), &found);
	if (!found)
	{
		int			i,
					j,
					b;

		memset(dm, 0, dur_metrics_shmem_size());
		for (i = 0; i <= DUR_METRIC_SLOTS; i++)
		{
			DurMetricSlot *s = &dm->slots[i];

			pg_atomic_init_u64(&s->key, 0);
			pg_atomic_init_u32(&s->ready, 0);
			for (j = 0; j < DUR_NCOUNTERS; j++)
				pg_atomic_init_u64(&s->counters[j], 0);
			for (j = 0; j < DUR_NHISTOGRAMS; j++)
			{
				for (b = 0; b < DUR_NBUCKETS; b++)
					pg_atomic_init_u64(&s->hists[j].buckets[b], 0);
				pg_atomic_init_u64(&s->hists[j].sum_us, 0);
			}
		}
		/* the other slot: no key, always ready */
		pg_atomic_write_u32(&dm->slots[DUR_METRIC_OTHER].ready, 1);
	}
	LWLockRelease(AddinShmemInitLock);
#ifdef DURABLE_NO_METRICS
	/*
	 * A build for the benchmark only (make PG_CPPFLAGS+=-DDURABLE_NO_METRICS):
	 * every recording call returns at once, so that bench/run --against can
	 * measure what the metrics cost (docs/performance.md).
	 */
	dm = NULL;
#endif
}

/* ---------------------------------------------------------------- slots */

static uint64
dur_metric_hash(const char *namespace, const char *queue)
{
	uint64		h;

	h = hash_bytes_extended((const unsigned char *) namespace, strlen(namespace), MyDatabaseId);
	h = hash_bytes_extended((const unsigned char *) queue, strlen(queue), h);
	return h == 0 ? 1 : h;
}

/*
 * The slot of (this database, namespace, queue): found in the backend's
 * cache, else in the shared table (claiming a free slot), else "other".
 */
static int
dur_metric_slot(const char *namespace, const char *queue)
{
	uint64		h = dur_metric_hash(namespace, queue);
	DurMetricCached *c;
	int			found = DUR_METRIC_OTHER;
	int			i;

	if (!cache_ready)
	{
		for (i = 0; i < DUR_METRIC_CACHE; i++)
			cache[i].slot = -1;
		cache_ready = true;
	}
	c = &cache[h % DUR_METRIC_CACHE];
	if (c->slot >= 0 && c->hash == h && c->dboid == MyDatabaseId &&
		strcmp(c->queue, queue) == 0 && strcmp(c->namespace, namespace) == 0)
		return c->slot;

	if (strlen(namespace) <= DUR_MAX_NAMESPACE_BYTES && strlen(queue) <= DUR_MAX_ID_BYTES)
	{
		for (i = 0; i < DUR_METRIC_PROBES; i++)
		{
			int			n = (int) ((h + i) % DUR_METRIC_SLOTS);
			DurMetricSlot *s = &dm->slots[n];
			uint64		key = pg_atomic_read_u64(&s->key);

			if (key == 0)
			{
				uint64		expected = 0;

				if (pg_atomic_compare_exchange_u64(&s->key, &expected, h))
				{
					s->dboid = MyDatabaseId;
					strlcpy(s->namespace, namespace, sizeof(s->namespace));
					strlcpy(s->queue, queue, sizeof(s->queue));
					pg_write_barrier();
					pg_atomic_write_u32(&s->ready, 1);
					found = n;
					break;
				}
				key = expected; /* claimed meanwhile: by whom? */
			}
			if (key == h)
			{
				if (pg_atomic_read_u32(&s->ready) == 0)
				{
					SpinDelayStatus delay;

					init_local_spin_delay(&delay);
					while (pg_atomic_read_u32(&s->ready) == 0)
						perform_spin_delay(&delay);
					finish_spin_delay(&delay);
				}
				pg_read_barrier();
				if (s->dboid == MyDatabaseId && strcmp(s->queue, queue) == 0 &&
					strcmp(s->namespace, namespace) == 0)
				{
					found = n;
					break;
				}
			}
		}
	}

	if (c->slot >= 0)
	{
		pfree(c->namespace);
		pfree(c->queue);
	}
	c->hash = h;
	c->dboid = MyDatabaseId;
	c->slot = found;
	c->namespace = MemoryContextStrdup(TopMemoryContext, namespace);
	c->queue = MemoryContextStrdup(TopMemoryContext, queue);
	return found;
}

/* ---------------------------------------------------------------- notes */

/* The bucket of an observation of us microseconds. */
static int
dur_metric_bucket(int64 us)
{
	int			b;

	for (b = 0; b < DUR_NBOUNDS; b++)
		if (us <= bucket_bounds[b])
			return b;
	return DUR_NBOUNDS;
}

/* Add a note to its slot in shared memory. */
static void
dur_metric_apply(const DurMetricNote *n)
{
	DurMetricSlot *s = &dm->slots[n->slot];

	if (n->what < DUR_NCOUNTERS)
		pg_atomic_fetch_add_u64(&s->counters[n->what], n->value);
	else
	{
		DurMetricHist *hist = &s->hists[n->what - DUR_NCOUNTERS];

		pg_atomic_fetch_add_u64(&hist->buckets[dur_metric_bucket(n->value)], 1);
		pg_atomic_fetch_add_u64(&hist->sum_us, n->value);
	}
}

/* At commit the notes go to shared memory; at abort they are forgotten. */
static void
dur_metrics_xact_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			for (i = 0; i < nnotes; i++)
				dur_metric_apply(&notes[i]);
			nnotes = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			nnotes = 0;
			break;
		default:
			break;
	}
}

/*
 * A subtransaction's notes are at the end of the list (they were made
 * after its parent's): dropped when it aborts, handed to the parent when
 * it commits.
 */
static void
dur_metrics_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (nnotes > 0 && notes[nnotes - 1].level >= level)
			nnotes--;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (i = nnotes - 1; i >= 0 && notes[i].level >= level; i--)
			notes[i].level = level - 1;
	}
}

/*
 * Note a metric for the current transaction: a counter's increment
 * merged into the last note when it is of the same counter and level.
 */
static void
dur_metric_note(int slot, int what, int64 value)
{
	DurMetricNote n;

	n.slot = slot;
	n.what = what;
	n.value = value;
	if (!IsTransactionState())
	{
		dur_metric_apply(&n);
		return;
	}
	n.level = GetCurrentTransactionNestLevel();
	if (what < DUR_NCOUNTERS && nnotes > 0)
	{
		DurMetricNote *last = &notes[nnotes - 1];

		if (last->slot == slot && last->what == what && last->level == n.level)
		{
			last->value += value;
			return;
		}
	}
	if (!callbacks_registered)
	{
		RegisterXactCallback(dur_metrics_xact_callback, NULL);
		RegisterSubXactCallback(dur_metrics_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (nnotes == maxnotes)
	{
		maxnotes = maxnotes == 0 ? 64 : maxnotes * 2;
		notes = notes == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxnotes * sizeof(DurMetricNote)) :
			repalloc(notes, maxnotes * sizeof(DurMetricNote));
	}
	notes[nnotes++] = n;
}

/* ------------------------------------------------------------- the API */

/* Count n of counter c for the namespace's queue, at commit. */
void
dur_metrics_count(const char *namespace, const char *queue, DurCounter c, int64 n)
{
	if (dm == NULL || n == 0)
		return;
	dur_metric_note(dur_metric_slot(namespace, queue), c, n);
}

/* Observe the time from "from" to "to" in histogram h of the namespace's queue, at commit. */
void
dur_metrics_observe(const char *namespace, const char *queue, DurHistogram h,
					TimestampTz from, TimestampTz to)
{
	if (dm == NULL)
		return;
	dur_metric_note(dur_metric_slot(namespace, queue), DUR_NCOUNTERS + h,
					to > from ? to - from : 0);
}

/*
 * A task was handed to a worker at "started": polled, or eagerly in the
 * response of the call that made it (ready is when it became ready).
 */
void
dur_metrics_dispatched(const char *namespace, const char *queue, bool activity, bool eager,
					   TimestampTz ready, TimestampTz started)
{
	if (dm == NULL)
		return;
	dur_metrics_count(namespace, queue,
					  eager ? (activity ? DUR_C_EAGER_ACTIVITY : DUR_C_EAGER_WORKFLOW) :
					  (activity ? DUR_C_POLLED_ACTIVITY : DUR_C_POLLED_WORKFLOW), 1);
	dur_metrics_observe(namespace, queue,
						activity ? DUR_H_SCHEDULE_TO_START_ACTIVITY : DUR_H_SCHEDULE_TO_START_WORKFLOW,
						ready, started);
}

/* A worker reported the outcome of a task it started at "started" (now). */
void
dur_metrics_executed(const char *namespace, const char *queue, bool activity, TimestampTz started)
{
	if (dm == NULL || started == 0)
		return;
	dur_metrics_observe(namespace, queue,
						activity ? DUR_H_EXECUTION_ACTIVITY : DUR_H_EXECUTION_WORKFLOW,
						started, GetCurrentTimestamp());
}

/* A run closed with status (workflows.status). */
void
dur_metrics_workflow_closed(const char *namespace, const char *queue, const char *status)
{
	DurCounter	c;

	if (dm == NULL)
		return;
	if (strcmp(status, "completed") == 0)
		c = DUR_C_WORKFLOW_SUCCESS;
	else if (strcmp(status, "failed") == 0)
		c = DUR_C_WORKFLOW_FAILED;
	else if (strcmp(status, "timed_out") == 0)
		c = DUR_C_WORKFLOW_TIMEOUT;
	else if (strcmp(status, "canceled") == 0)
		c = DUR_C_WORKFLOW_CANCEL;
	else if (strcmp(status, "terminated") == 0)
		c = DUR_C_WORKFLOW_TERMINATE;
	else if (strcmp(status, "continued_as_new") == 0)
		c = DUR_C_WORKFLOW_CONTINUED_AS_NEW;
	else
		return;
	dur_metrics_count(namespace, queue, c, 1);
}

/* An activity attempt timed out (timeout_type as Temporal names it). */
void
dur_metrics_activity_timeout(const char *namespace, const char *queue, const char *timeout_type)
{
	DurCounter	c;

	if (dm == NULL || timeout_type == NULL)
		return;
	if (strcmp(timeout_type, "START_TO_CLOSE") == 0)
		c = DUR_C_ACTIVITY_TIMEOUT_START_TO_CLOSE;
	else if (strcmp(timeout_type, "SCHEDULE_TO_START") == 0)
		c = DUR_C_ACTIVITY_TIMEOUT_SCHEDULE_TO_START;
	else if (strcmp(timeout_type, "SCHEDULE_TO_CLOSE") == 0)
		c = DUR_C_ACTIVITY_TIMEOUT_SCHEDULE_TO_CLOSE;
	else if (strcmp(timeout_type, "HEARTBEAT") == 0)
		c = DUR_C_ACTIVITY_TIMEOUT_HEARTBEAT;
	else
		return;
	dur_metrics_count(namespace, queue, c, 1);
}

/* The engine fired a durable timer of the run that was due at fire_time. */
void
dur_metrics_timer_fired(DurRun *run, TimestampTz fire_time)
{
	if (dm == NULL || run == NULL)
		return;
	dur_metrics_observe(run->namespace, run->task_queue, DUR_H_TIMER_LATENESS,
						fire_time, GetCurrentTimestamp());
}

/* ------------------------------------------------------------- the views */

/* A copy of a slot, as read for a view. */
typedef struct DurSlotCopy
{
	bool		other;
	char	   *namespace;
	char	   *queue;
	uint64		counters[DUR_NCOUNTERS];
	uint64		buckets[DUR_NHISTOGRAMS][DUR_NBUCKETS];
	uint64		sum_us[DUR_NHISTOGRAMS];
} DurSlotCopy;

/* Copy the slots of this database (and "other" if it counted anything). */
static List *
dur_metric_slots(void)
{
	List	   *out = NIL;
	int			i,
				j,
				b;

	if (dm == NULL)
		return NIL;
	for (i = 0; i <= DUR_METRIC_SLOTS; i++)
	{
		DurMetricSlot *s = &dm->slots[i];
		DurSlotCopy *c;
		bool		any = false;

		if (pg_atomic_read_u32(&s->ready) == 0)
			continue;
		pg_read_barrier();
		if (i != DUR_METRIC_OTHER && s->dboid != MyDatabaseId)
			continue;
		c = palloc0(sizeof(DurSlotCopy));
		c->other = i == DUR_METRIC_OTHER;
		c->namespace = c->other ? "_other_" : pstrdup(s->namespace);
		c->queue = c->other ? "_other_" : pstrdup(s->queue);
		for (j = 0; j < DUR_NCOUNTERS; j++)
		{
			c->counters[j] = pg_atomic_read_u64(&s->counters[j]);
			any |= c->counters[j] != 0;
		}
		for (j = 0; j < DUR_NHISTOGRAMS; j++)
		{
			for (b = 0; b < DUR_NBUCKETS; b++)
			{
				c->buckets[j][b] = pg_atomic_read_u64(&s->hists[j].buckets[b]);
				any |= c->buckets[j][b] != 0;
			}
			c->sum_us[j] = pg_atomic_read_u64(&s->hists[j].sum_us);
		}
		if (c->other && !any)
			continue;
		out = lappend(out, c);
	}
	return out;
}

/* The labels of a slot's metric as jsonb: namespace, task_queue and one more (or none). */
static Datum
dur_metric_labels(DurSlotCopy *c, const char *key, const char *value)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"namespace\": ");
	escape_json(&s, c->namespace);
	appendStringInfoString(&s, ", \"task_queue\": ");
	escape_json(&s, c->queue);
	if (key != NULL)
	{
		appendStringInfoString(&s, ", ");
		escape_json(&s, key);
		appendStringInfoString(&s, ": ");
		escape_json(&s, value);
	}
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

/* The total of a histogram's buckets. */
static uint64
dur_hist_count(DurSlotCopy *c, int h)
{
	uint64		n = 0;
	int			b;

	for (b = 0; b < DUR_NBUCKETS; b++)
		n += c->buckets[h][b];
	return n;
}

/*
 * _metric_values() returns SETOF (namespace text, metric text, labels
 * jsonb, type text, value float8): every counter of this database's slots,
 * and the _sum and _count of every histogram that observed anything.
 * namespace is NULL for the "other" slot.  durable.metrics filters by the
 * namespaces the caller may see.
 */
Datum
_metric_values(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, dur_metric_slots())
	{
		DurSlotCopy *c = lfirst(lc);
		Datum		v[5];
		bool		n[5] = {false, false, false, false, false};
		int			i;

		v[0] = c->other ? (Datum) 0 : CStringGetTextDatum(c->namespace);
		n[0] = c->other;
		v[3] = CStringGetTextDatum("counter");
		for (i = 0; i < DUR_NCOUNTERS; i++)
		{
			v[1] = CStringGetTextDatum(counter_names[i]);
			v[2] = dur_metric_labels(c, counter_label[i][0], counter_label[i][1]);
			v[4] = Float8GetDatum((double) c->counters[i]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		}
		for (i = 0; i < DUR_NHISTOGRAMS; i++)
		{
			uint64		count = dur_hist_count(c, i);

			if (count == 0)
				continue;
			v[2] = hist_kind[i] ? dur_metric_labels(c, "kind", hist_kind[i]) :
				dur_metric_labels(c, NULL, NULL);
			v[1] = CStringGetTextDatum(psprintf("%s_sum", hist_names[i]));
			v[4] = Float8GetDatum((double) c->sum_us[i] / 1000000.0);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
			v[1] = CStringGetTextDatum(psprintf("%s_count", hist_names[i]));
			v[4] = Float8GetDatum((double) count);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		}
	}
	return (Datum) 0;
}

/*
 * _metric_buckets() returns SETOF (namespace text, metric text, labels
 * jsonb, le float8, count bigint): the cumulative buckets of every
 * histogram that observed anything, the last with le = Infinity.
 */
Datum
_metric_buckets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, dur_metric_slots())
	{
		DurSlotCopy *c = lfirst(lc);
		Datum		v[5];
		bool		n[5] = {false, false, false, false, false};
		int			i,
					b;

		v[0] = c->other ? (Datum) 0 : CStringGetTextDatum(c->namespace);
		n[0] = c->other;
		for (i = 0; i < DUR_NHISTOGRAMS; i++)
		{
			uint64		cum = 0;

			if (dur_hist_count(c, i) == 0)
				continue;
			v[1] = CStringGetTextDatum(hist_names[i]);
			v[2] = hist_kind[i] ? dur_metric_labels(c, "kind", hist_kind[i]) :
				dur_metric_labels(c, NULL, NULL);
			for (b = 0; b < DUR_NBUCKETS; b++)
			{
				cum += c->buckets[i][b];
				v[3] = Float8GetDatum(b < DUR_NBOUNDS ? (double) bucket_bounds[b] / 1000000.0 :
									  get_float8_infinity());
				v[4] = Int64GetDatum((int64) cum);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
			}
		}
	}
	return (Datum) 0;
}

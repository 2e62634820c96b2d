/*-------------------------------------------------------------------------
 *
 * query.c
 *	  Workflow queries: a client asks, a live worker answers, nothing is
 *	  written.
 *
 * A query must reach a worker while the asking statement is still running,
 * so it cannot travel through a table (the asker's transaction has not
 * committed).  It travels through shared memory instead: a fixed array of
 * DurQuerySlots, each with an inline buffer holding first the request
 * (the queue's key "namespace:queue", query name, args) and then the
 * answer.
 *
 *	FREE -> PENDING		query_workflow() fills a slot and wakes a poller of
 *						the workflow's task queue
 *	PENDING -> CLAIMED	poll_task() (dur_claim_query) hands it to a worker
 *	CLAIMED -> ANSWERED	answer_query() stores the answer and sets the asker's
 *						latch when its transaction commits (an answer whose
 *						transaction rolls back is never seen)
 *	any -> FREE			the asker takes the answer, times out or errors out
 *
 * Every slot carries a query id that is never reused, so an answer that
 * arrives after its asker gave up finds no slot and is refused as stale.
 * An answer must name the run the query was about as well (the token is
 * signed, so it cannot be made up for another worker's query).
 *
 * Locking: dur_shared->lock protects the slot array (queries are few and
 * each critical section copies at most one buffer).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "durable.h"
#include "util.h"

PG_FUNCTION_INFO_V1(_ask_query);
PG_FUNCTION_INFO_V1(_claim_query);
PG_FUNCTION_INFO_V1(_answer_query);

typedef enum DurQueryState
{
	DUR_QUERY_FREE = 0,
	DUR_QUERY_PENDING,
	DUR_QUERY_CLAIMED,
	DUR_QUERY_ANSWERED
} DurQueryState;

typedef struct DurQuerySlot
{
	DurQueryState state;
	Oid			dboid;
	uint32		queue_key;
	uint64		query_id;
	pg_uuid_t	run_id;
	Latch	   *asker_latch;
	pid_t		asker_pid;
	bool		failed;			/* the answer is a failure object */
	int			len;			/* bytes used in buf */
	char		buf[DUR_QUERY_BUFSIZE];
} DurQuerySlot;

static DurQuerySlot *dur_query_slots(void);

/* Shared memory the query slots need; added to DurShared's request. */
Size
dur_query_shmem_size(void)
{
	return mul_size(DUR_MAX_QUERIES, sizeof(DurQuerySlot));
}

static DurQuerySlot *
dur_query_slots(void)
{
	return (DurQuerySlot *) ((char *) dur_shared + dur_shared->query_offset);
}

static bool exit_callback_registered = false;

/*
 * Free the slot of a query (or, with query_id 0, every slot this backend
 * asked through); used on every way out of _ask_query, including backend
 * exit, so that a terminated asker cannot leak a slot.
 */
static void
dur_query_release(uint64 query_id)
{
	DurQuerySlot *slots = dur_query_slots();
	int			i;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_QUERIES; i++)
		if (slots[i].state != DUR_QUERY_FREE && slots[i].asker_pid == MyProcPid &&
			(query_id == 0 || slots[i].query_id == query_id))
			slots[i].state = DUR_QUERY_FREE;
	LWLockRelease(dur_shared->lock);
}

static void
dur_query_exit(int code, Datum arg)
{
	dur_query_release(0);
}

/*
 * Publish a query about run_id, wake a poller of the queue and wait up to
 * timeout_ms for the answer.  Returns false on timeout; else the answer's
 * text (*answer, *len) and whether it is a failure (*failed).
 */
bool
dur_ask_query(const pg_uuid_t *run_id, const char *queue, const char *name,
			  const char *args, int timeout_ms, char **answer, int *len, bool *failed)
{
	int			qlen = strlen(queue);
	int			nlen = strlen(name);
	int			alen = args ? strlen(args) : 0;
	DurQuerySlot *slots;
	DurQuerySlot *slot = NULL;
	uint64		query_id;
	TimestampTz deadline;
	bool		answered = false;
	int			i;

	dur_require_engine();
	if (qlen + nlen + alen + 3 > DUR_QUERY_BUFSIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("query arguments are too large: %d bytes", alen),
				 errhint("A query's name and arguments must fit in %d bytes.", DUR_QUERY_BUFSIZE)));

	if (!exit_callback_registered)
	{
		before_shmem_exit(dur_query_exit, (Datum) 0);
		exit_callback_registered = true;
	}

	slots = dur_query_slots();
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_QUERIES; i++)
	{
		if (slots[i].state == DUR_QUERY_FREE)
		{
			slot = &slots[i];
			break;
		}
	}
	if (slot == NULL)
	{
		LWLockRelease(dur_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many workflow queries in progress"),
				 errdetail("At most %d queries can wait for an answer at once.", DUR_MAX_QUERIES),
				 errhint("Try again shortly.")));
	}
	query_id = ++dur_shared->next_query_id;
	slot->state = DUR_QUERY_PENDING;
	slot->dboid = MyDatabaseId;
	slot->queue_key = dur_hash_key(queue, qlen);
	slot->query_id = query_id;
	memcpy(&slot->run_id, run_id, sizeof(pg_uuid_t));
	slot->asker_latch = MyLatch;
	slot->asker_pid = MyProcPid;
	slot->failed = false;
	memcpy(slot->buf, queue, qlen);
	slot->buf[qlen] = '\0';
	memcpy(slot->buf + qlen + 1, name, nlen);
	slot->buf[qlen + 1 + nlen] = '\0';
	if (args)
		memcpy(slot->buf + qlen + nlen + 2, args, alen);
	slot->buf[qlen + nlen + 2 + alen] = '\0';
	slot->len = qlen + nlen + alen + 3;
	dur_wake_task_waiters(slot->queue_key, DUR_KIND_WORKFLOW, 1, false, 0);
	LWLockRelease(dur_shared->lock);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	PG_TRY();
	{
		for (;;)
		{
			long		wait_ms;

			LWLockAcquire(dur_shared->lock, LW_SHARED);
			if (slot->query_id == query_id && slot->state == DUR_QUERY_ANSWERED)
			{
				*answer = pnstrdup(slot->buf, slot->len);
				*len = slot->len;
				*failed = slot->failed;
				answered = true;
				LWLockRelease(dur_shared->lock);
				break;
			}
			LWLockRelease(dur_shared->lock);

			wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (wait_ms <= 0)
				break;
			(void) dur_wait_latch(wait_ms);
		}
	}
	PG_FINALLY();
	{
		dur_query_release(query_id);
	}
	PG_END_TRY();
	return answered;
}

/*
 * _ask_query(run_id uuid, queue text, query_name text, args text,
 *			  timeout_ms integer, OUT answer text, OUT failed boolean):
 * dur_ask_query, for 0.1/0.2's SQL.  NULLs on timeout.
 */
Datum
_ask_query(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {true, true};
	char	   *answer;
	int			len;
	bool		failed;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	dur_require_not_null(PG_ARGISNULL(0), "run_id");
	dur_require_not_null(PG_ARGISNULL(1), "queue");
	dur_require_not_null(PG_ARGISNULL(2), "query_name");
	dur_require_not_null(PG_ARGISNULL(4), "timeout_ms");
	if (dur_ask_query(PG_GETARG_UUID_P(0), dur_queue_key("default", text_to_cstring(PG_GETARG_TEXT_PP(1))),
					  text_to_cstring(PG_GETARG_TEXT_PP(2)),
					  PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
					  PG_GETARG_INT32(4), &answer, &len, &failed))
	{
		values[0] = PointerGetDatum(cstring_to_text_with_len(answer, len));
		values[1] = BoolGetDatum(failed);
		nulls[0] = nulls[1] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Hand the oldest pending query of this database and queue to the caller:
 * its id, run, name and args (NULL for none).  False when there is none.
 */
bool
dur_claim_query(const char *queue, uint64 *query_id, pg_uuid_t *run_id, char **name,
				char **args)
{
	int			qlen = strlen(queue);
	uint32		key = dur_hash_key(queue, qlen);
	DurQuerySlot *slots;
	DurQuerySlot *best = NULL;
	int			i;

	dur_require_engine();
	slots = dur_query_slots();
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_QUERIES; i++)
	{
		DurQuerySlot *s = &slots[i];

		if (s->state != DUR_QUERY_PENDING || s->dboid != MyDatabaseId ||
			s->queue_key != key || strlen(s->buf) != qlen ||
			memcmp(s->buf, queue, qlen) != 0)
			continue;
		if (best == NULL || s->query_id < best->query_id)
			best = s;
	}
	if (best != NULL)
	{
		char	   *n = best->buf + qlen + 1;
		char	   *a = n + strlen(n) + 1;

		best->state = DUR_QUERY_CLAIMED;
		*query_id = best->query_id;
		memcpy(run_id, &best->run_id, sizeof(pg_uuid_t));
		*name = pstrdup(n);
		*args = *a == '\0' ? NULL : pstrdup(a);
	}
	LWLockRelease(dur_shared->lock);
	return best != NULL;
}

/*
 * _claim_query(queue text, OUT query_id bigint, OUT run_id uuid,
 *				OUT query_name text, OUT args text): dur_claim_query, for
 * 0.1/0.2's SQL.  A row of NULLs when there is none.
 */
Datum
_claim_query(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {true, true, true, true};
	uint64		query_id;
	pg_uuid_t  *run_id = palloc(sizeof(pg_uuid_t));
	char	   *name;
	char	   *args;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	dur_require_not_null(PG_ARGISNULL(0), "queue");
	if (dur_claim_query(dur_queue_key("default", text_to_cstring(PG_GETARG_TEXT_PP(0))),
						&query_id, run_id, &name, &args))
	{
		values[0] = Int64GetDatum((int64) query_id);
		values[1] = UUIDPGetDatum(run_id);
		values[2] = CStringGetTextDatum(name);
		values[3] = args ? CStringGetTextDatum(args) : (Datum) 0;
		nulls[0] = nulls[1] = nulls[2] = false;
		nulls[3] = args == NULL;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* An answer waiting for its transaction to commit. */
typedef struct DurPendingAnswer
{
	uint64		query_id;
	pg_uuid_t	run_id;
	bool		any_run;		/* 0.1/0.2's SQL names no run */
	bool		failed;
	int			len;
	char	   *answer;
} DurPendingAnswer;

/* This transaction's answers, in TopTransactionContext. */
static List *pending_answers = NIL;
static bool xact_callback_registered = false;

/* The claimed slot of a query about run_id; NULL if there is none.  Caller holds the lock. */
static DurQuerySlot *
dur_claimed_slot(uint64 query_id, const pg_uuid_t *run_id)
{
	DurQuerySlot *slots = dur_query_slots();
	int			i;

	for (i = 0; i < DUR_MAX_QUERIES; i++)
	{
		DurQuerySlot *s = &slots[i];

		if (s->query_id == query_id && s->state == DUR_QUERY_CLAIMED &&
			(run_id == NULL || memcmp(&s->run_id, run_id, sizeof(pg_uuid_t)) == 0))
			return s;
	}
	return NULL;
}

/*
 * The namespace of the claimed query query_id about run_id, or NULL when
 * there is no such query (it timed out, or its asker left).
 */
char *
dur_claimed_query_namespace(uint64 query_id, const pg_uuid_t *run_id)
{
	DurQuerySlot *s;
	char	   *ns = NULL;

	dur_require_engine();
	LWLockAcquire(dur_shared->lock, LW_SHARED);
	s = dur_claimed_slot(query_id, run_id);
	if (s != NULL)
		ns = pnstrdup(s->buf, strcspn(s->buf, ":"));
	LWLockRelease(dur_shared->lock);
	return ns;
}

/*
 * At commit, store the transaction's answers and wake their askers (an
 * asker that left meanwhile finds nothing); at abort, forget them.
 */
static void
dur_query_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending_answers != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that answered a workflow query")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (pending_answers == NIL)
				break;
			LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
			foreach(lc, pending_answers)
			{
				DurPendingAnswer *a = (DurPendingAnswer *) lfirst(lc);
				DurQuerySlot *s = dur_claimed_slot(a->query_id,
												   a->any_run ? NULL : &a->run_id);

				if (s == NULL)
					continue;
				if (a->len > 0)
					memcpy(s->buf, a->answer, a->len);
				s->len = a->len;
				s->failed = a->failed;
				s->state = DUR_QUERY_ANSWERED;
				SetLatch(s->asker_latch);
			}
			LWLockRelease(dur_shared->lock);
			pending_answers = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending_answers = NIL;
			break;
		default:
			break;
	}
}

/*
 * Answer a claimed query about run_id (NULL: any run, for 0.1/0.2's SQL):
 * the asker gets the answer when this transaction commits.  False when
 * the query is not outstanding (the asker timed out or left).
 */
bool
dur_answer_query(uint64 query_id, const pg_uuid_t *run_id, const char *answer, int len,
				 bool failed)
{
	DurPendingAnswer *a;
	MemoryContext old;
	bool		found;

	dur_require_engine();
	if (len > DUR_QUERY_BUFSIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("query answer is too large: %d bytes", len),
				 errhint("A query's answer must fit in %d bytes; return a summary.", DUR_QUERY_BUFSIZE)));

	LWLockAcquire(dur_shared->lock, LW_SHARED);
	found = dur_claimed_slot(query_id, run_id) != NULL;
	LWLockRelease(dur_shared->lock);
	if (!found)
		return false;

	if (!xact_callback_registered)
	{
		RegisterXactCallback(dur_query_xact_callback, NULL);
		xact_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	a = palloc(sizeof(DurPendingAnswer));
	a->query_id = query_id;
	a->any_run = run_id == NULL;
	if (run_id != NULL)
		memcpy(&a->run_id, run_id, sizeof(pg_uuid_t));
	a->failed = failed;
	a->len = len;
	a->answer = len > 0 ? pnstrdup(answer, len) : NULL;
	pending_answers = lappend(pending_answers, a);
	MemoryContextSwitchTo(old);
	return true;
}

/* _answer_query(query_id bigint, answer text, failed boolean), for 0.1/0.2's SQL. */
Datum
_answer_query(PG_FUNCTION_ARGS)
{
	text	   *answer = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);

	dur_require_not_null(PG_ARGISNULL(0), "query_id");
	PG_RETURN_BOOL(dur_answer_query((uint64) PG_GETARG_INT64(0), NULL,
									answer ? VARDATA_ANY(answer) : NULL,
									answer ? VARSIZE_ANY_EXHDR(answer) : 0,
									!PG_ARGISNULL(2) && PG_GETARG_BOOL(2)));
}

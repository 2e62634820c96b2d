/*-------------------------------------------------------------------------
 *
 * history.h
 *	  The history service: a run's mutable state, its event history and
 *	  the transitions of its workflow task.
 *
 * See history.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_HISTORY_H
#define DURABLE_HISTORY_H

#include "nodes/pg_list.h"
#include "utils/tuplestore.h"

#include "events.h"
#include "jsonw.h"
#include "namespaces.h"
#include "tables.h"
#include "util.h"

/* The workflow task of a run (workflows.wft_state). */
typedef enum DurWftState
{
	DUR_WFT_NONE = 0,			/* nothing to do */
	DUR_WFT_SCHEDULED,			/* a task row exists, ready or started */
	DUR_WFT_BACKOFF,			/* a failed task waits for its wft_retry timer */
	DUR_WFT_DELAYED				/* the start delay's workflow_start timer runs */
} DurWftState;

/* An event not yet recorded: its type, time and attributes. */
typedef struct DurEvent
{
	const char *type;
	TimestampTz time;			/* 0: when it is recorded */
	DurJsonObj	attrs;
	bool		started_is_previous;	/* started_event_id: the event before */
} DurEvent;

/*
 * A run as one call sees it: the workflows row as read, its mutable state
 * unpacked, and the events the call has recorded and not yet written.
 */
typedef struct DurRun
{
	DurRow		row;			/* every column; the authority for the rest */
	bool		is_new;			/* started by this call: inserted on write */
	bool		written;		/* the row is in the table */
	pg_uuid_t	run_id;
	char	   *workflow_id;
	char	   *namespace;
	char	   *workflow_type;
	char	   *task_queue;
	char	   *status;
	int32		priority;
	Interval   *task_timeout;
	/* mutable state, written back by dur_run_write */
	int64		history_length;
	DurWftState wft_state;
	int64		wft_seq;
	int32		wft_attempt;
	int64		wft_scheduled_event_id; /* 0: none (a transient attempt) */
	TimestampTz wft_scheduled_time; /* 0: none */
	char	   *sticky_worker;	/* NULL: no worker caches the run */
	int64		sticky_event_id;
	bool		hand_back;		/* this call's completion asked for its next task back
								 * whatever is outstanding (force_new_task) */
	/* events recorded by this call, as a stored batch (events.c) */
	DurBatchWriter events;
} DurRun;

/* What a task hands a worker: a durable.task row. */
typedef struct DurTask
{
	char	   *token;
	const char *kind;			/* "workflow", "activity" or "query" */
	char	   *workflow_id;
	pg_uuid_t	run_id;
	char	   *workflow_type;
	char	   *task_queue;
	char	   *activity_id;
	char	   *activity_type;
	Datum		input;			/* jsonb, 0 for NULL */
	int32		attempt;		/* 0 for NULL */
	StringInfo	history;		/* JSON array text, NULL for NULL */
	Datum		heartbeat_details;	/* jsonb, 0 for NULL */
	TimestampTz scheduled_time; /* 0 for NULL */
	TimestampTz started_time;
	TimestampTz deadline;		/* 0 for NULL */
	Interval   *heartbeat_timeout;
	int32		priority;
	char	   *query_name;
	StringInfo	messages;		/* a workflow task's admitted updates, NULL for none */
} DurTask;

/* Parameters of a new run. */
typedef struct DurStartParams
{
	const char *namespace;
	const char *workflow_id;
	const char *workflow_type;
	const char *task_queue;
	Datum		input;			/* jsonb, 0 for NULL */
	Interval   *execution_timeout;
	Interval   *run_timeout;
	Interval   *task_timeout;
	TimestampTz execution_deadline; /* 0 for none */
	const pg_uuid_t *first_run_id;	/* NULL: the run itself */
	const pg_uuid_t *previous_run_id;
	int32		attempt;
	Datum		retry_policy;	/* jsonb, 0 for NULL */
	Interval   *delay;
	const char *request_id;
	Datum		search_attributes;	/* jsonb, 0 for {} */
	Datum		memo;			/* jsonb, 0 for NULL */
	int32		priority;		/* 1..5 */
	const char *fairness_key;	/* NULL: the default key */
	float4		fairness_weight;	/* 0: 1 */
	Datum		required_capabilities;	/* jsonb, 0 for none */
	const char *build_id;		/* NULL: unversioned */
	const char *versioning_behavior;	/* NULL: pinned */
	const char *identity;
	DurEvent   *signal;			/* signal-with-start: the first signal */
	/* a child workflow: its parent (NULL parent_run_id for none) */
	const char *parent_workflow_id;
	const pg_uuid_t *parent_run_id;
	int64		parent_initiated_event_id;
} DurStartParams;

/* What a start asks for (start_workflow, signal-with-start, a child's start). */
typedef struct DurStartRequest
{
	const char *namespace;
	const char *workflow_type;
	Datum		input;
	const char *workflow_id;
	const char *task_queue;
	Interval   *execution_timeout;
	Interval   *run_timeout;
	Interval   *task_timeout;
	const char *reuse;
	const char *conflict;
	Jsonb	   *retry_policy;
	Interval   *delay;
	const char *request_id;
	Datum		search_attributes;
	Datum		memo;
	int32		priority;		/* 0: the default */
	const char *fairness_key;
	float4		fairness_weight;	/* 0: 1 */
	Jsonb	   *required_capabilities;
	const char *build_id;		/* NULL: as the queue chooses */
	DurEvent   *signal;
	bool		quiet_conflict; /* an id in use returns NULL instead of raising DU002 */
	const char *identity;		/* for WorkflowExecutionStarted; NULL: the session user */
	const char *parent_workflow_id;
	const pg_uuid_t *parent_run_id;
	int64		parent_initiated_event_id;
} DurStartRequest;

extern DurRun *dur_run_read(DurCall *call, const pg_uuid_t *run_id);
extern DurRun *dur_run_find(DurCall *call, const char *namespace, const char *workflow_id,
							const pg_uuid_t *run_id, bool running, bool lock);
extern DurRun *dur_run_lock(DurCall *call, const pg_uuid_t *run_id);
extern pg_uuid_t *dur_run_by_request_id(DurCall *call, const char *namespace,
										const char *workflow_id, const char *request_id);
extern DurRun *dur_run_lock_for_token(DurCall *call, const char *token, const DurToken *tok);
extern DurRun *dur_run_for_token(DurCall *call, const char *token, const DurToken *tok,
								 bool lock);
extern void dur_run_set(DurRun *run, int col, Datum value, bool isnull);
extern bool dur_run_running(DurRun *run);
extern bool dur_run_auto_upgrade(DurRun *run);
extern void dur_run_write(DurCall *call, DurRun *run);
extern const char *dur_wft_state_name(DurWftState state);

extern DurEvent *dur_event(const char *type);
extern int64 dur_record(DurRun *run, DurEvent *ev);
extern int64 dur_next_event_id(DurRun *run);

extern DurTask *dur_deliver(DurCall *call, DurRun *run, List *events, const char *worker);
extern DurTask *dur_schedule_wft(DurCall *call, DurRun *run, int32 attempt, bool write_event,
								 List *events, const char *worker);
extern List *dur_take_buffer(DurCall *call, DurRun *run);
extern DurRun *dur_start_run(DurCall *call, const pg_uuid_t *run_id, DurStartParams *p);
extern void dur_start_params_routing(DurStartParams *p, DurRun *run);
extern void dur_start_params_inherit(DurStartParams *p, DurRun *run);
extern pg_uuid_t *dur_start(DurCall *call, DurStartRequest *r, bool *existing);
extern bool dur_signal_request_new(DurCall *call, DurRun *run, const char *request_id);
extern void dur_close_run(DurCall *call, DurRun *run, const char *status, Datum result,
						  Jsonb *failure, const pg_uuid_t *next_run);
extern pg_uuid_t *dur_fail_run(DurCall *call, DurRun *run, const char *status,
							   DurEvent *close_event, const DurFailure *failure,
							   int64 wft_completed, bool timed_out);
extern void dur_terminate(DurCall *call, DurRun *run, const char *reason, const char *identity);

extern void dur_history_text(DurCall *call, DurRun *run, int64 after, StringInfo out);
extern int64 dur_find_scheduled_activity(DurCall *call, DurRun *run, const char *aid);
extern bool dur_take_buffered_timer_fired(DurCall *call, DurRun *run, const char *tid,
										  int64 *started_event_id);
extern Jsonb *dur_last_event_attributes(DurCall *call, DurRun *run);

/* An event of a run's stored history, as read back. */
typedef struct DurOldEvent
{
	int64		id;
	char	   *type;
	TimestampTz time;
	Jsonb	   *attrs;
} DurOldEvent;

extern List *dur_run_events(DurCall *call, DurRun *run);
extern DurRun *dur_run_new_from_row(Datum *values, bool *nulls);
extern void dur_history_rows(DurCall *call, DurRun *run, Tuplestorestate *store, TupleDesc desc);

#endif							/* DURABLE_HISTORY_H */

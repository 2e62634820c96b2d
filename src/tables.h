/*-------------------------------------------------------------------------
 *
 * tables.h
 *	  Direct access to durable's tables: relations, columns, index scans,
 *	  row writes, the run lock and the snapshot a call reads with.
 *
 * See tables.c for the invariants.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_TABLES_H
#define DURABLE_TABLES_H

#include "access/genam.h"
#include "access/htup.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

/* The tables of schema durable the engine reads and writes. */
typedef enum DurRel
{
	DUR_WORKFLOWS = 0,
	DUR_HISTORY,				/* durable.history_batches */
	DUR_BUFFERED,
	DUR_ACTIVITIES,
	DUR_TIMERS,
	DUR_SIGNAL_REQUESTS,
	DUR_TASKS,
	DUR_NAMESPACES,
	DUR_NAMESPACE_GRANTS,
	DUR_CHILDREN,
	DUR_UPDATES,
	DUR_TASK_QUEUES,
	DUR_ACTIVITY_ATTEMPTS,
	DUR_SEARCH_ATTRIBUTE_KEYS,
	DUR_NRELS
} DurRel;

/* Their indexes the engine scans. */
typedef enum DurIdx
{
	DUR_WORKFLOWS_PKEY = 0,		/* (run_id) */
	DUR_WORKFLOWS_RUNNING,		/* (namespace, workflow_id) WHERE status = 'running' */
	DUR_WORKFLOWS_BY_ID,		/* (namespace, workflow_id, start_time DESC) */
	DUR_WORKFLOWS_BY_CLOSE_TIME,	/* (namespace, close_time) WHERE close_time IS NOT NULL */
	DUR_HISTORY_PKEY,			/* (run_id, last_event_id) */
	DUR_BUFFERED_PKEY,			/* (run_id, seq) */
	DUR_ACTIVITIES_PKEY,		/* (run_id, scheduled_event_id) */
	DUR_TIMERS_PKEY,			/* (run_id, kind, timer_id) */
	DUR_TIMERS_BY_FIRE_TIME,	/* (fire_time) */
	DUR_SIGNAL_REQUESTS_PKEY,	/* (run_id, request_id) */
	DUR_TASKS_PKEY,				/* (run_id, scheduled_event_id) */
	DUR_TASKS_READY,			/* (namespace, task_queue, kind, build_id, affinity, priority,
								 * pass) ready */
	DUR_TASKS_STICKY,			/* (sticky_worker, namespace, task_queue, priority, pass) */
	DUR_TASKS_LEASE,			/* (lease_deadline) started */
	DUR_TASKS_EXPIRE,			/* (expire_time) ready */
	DUR_NAMESPACES_PKEY,		/* (name) */
	DUR_NAMESPACE_GRANTS_PKEY,	/* (namespace, role, capability) */
	DUR_CHILDREN_PKEY,			/* (parent_run_id, initiated_event_id) */
	DUR_UPDATES_PKEY,			/* (run_id, update_id) */
	DUR_TASK_QUEUES_PKEY,		/* (namespace, task_queue) */
	DUR_ACTIVITY_ATTEMPTS_PKEY, /* (run_id, scheduled_event_id, attempt) */
	DUR_SEARCH_ATTRIBUTE_KEYS_PKEY, /* (namespace, name) */
	DUR_NIDXS
} DurIdx;

/*
 * Columns, 0-based (attribute number - 1), in the order of the tables'
 * definitions in src/sql/tables.sql; checked against the catalog when a
 * backend first opens the tables.
 */
typedef enum
{
	W_RUN_ID = 0, W_WORKFLOW_ID, W_WORKFLOW_TYPE, W_TASK_QUEUE, W_STATUS,
	W_INPUT, W_RESULT, W_FAILURE, W_START_TIME, W_CLOSE_TIME,
	W_EXECUTION_TIMEOUT, W_RUN_TIMEOUT, W_TASK_TIMEOUT, W_EXECUTION_DEADLINE,
	W_FIRST_RUN_ID, W_PREVIOUS_RUN_ID, W_NEXT_RUN_ID, W_PARENT_WORKFLOW_ID,
	W_PARENT_RUN_ID, W_ATTEMPT, W_RETRY_POLICY, W_SEARCH_ATTRIBUTES, W_MEMO,
	W_PRIORITY, W_REQUEST_ID, W_HISTORY_LENGTH, W_CANCEL_REQUESTED,
	W_WFT_STATE, W_WFT_SEQ, W_WFT_ATTEMPT, W_WFT_SCHEDULED_EVENT_ID,
	W_WFT_SCHEDULED_TIME, W_STICKY_WORKER, W_STICKY_EVENT_ID, W_NAMESPACE,
	W_PARENT_INITIATED_EVENT_ID, W_FAIRNESS_KEY, W_FAIRNESS_WEIGHT,
	W_REQUIRED_CAPABILITIES, W_BUILD_ID, W_VERSIONING_BEHAVIOR,
	W_LAST_PROGRESS_TIME,
	W_NCOLS
} DurWorkflowsCol;

typedef enum
{
	H_RUN_ID = 0, H_LAST_EVENT_ID, H_EVENTS, H_WORKFLOW_ID, H_NAMESPACE,
	H_NCOLS
} DurHistoryCol;

typedef enum
{
	B_RUN_ID = 0, B_SEQ, B_EVENT_TYPE, B_EVENT_TIME, B_ATTRIBUTES, B_WORKFLOW_ID,
	B_NAMESPACE,
	B_NCOLS
} DurBufferedCol;

typedef enum
{
	A_RUN_ID = 0, A_SCHEDULED_EVENT_ID, A_ACTIVITY_ID, A_ACTIVITY_TYPE,
	A_TASK_QUEUE, A_INPUT, A_PRIORITY, A_SCHEDULE_TO_CLOSE_TIMEOUT,
	A_SCHEDULE_TO_START_TIMEOUT, A_START_TO_CLOSE_TIMEOUT, A_HEARTBEAT_TIMEOUT,
	A_RETRY_POLICY, A_SCHEDULED_TIME, A_EXPIRATION_TIME, A_ATTEMPT, A_STATE,
	A_READY_TIME, A_HEARTBEAT_DETAILS, A_LAST_FAILURE, A_LAST_WORKER_ID,
	A_CANCEL_REQUESTED_EVENT_ID, A_WORKFLOW_ID, A_NAMESPACE, A_FAIRNESS_KEY,
	A_FAIRNESS_WEIGHT, A_REQUIRED_CAPABILITIES, A_PINNED_WORKER,
	A_NCOLS
} DurActivitiesCol;

typedef enum
{
	TM_RUN_ID = 0, TM_KIND, TM_TIMER_ID, TM_FIRE_TIME, TM_STARTED_EVENT_ID,
	TM_WORKFLOW_ID, TM_NAMESPACE, TM_ATTRIBUTES,
	TM_NCOLS
} DurTimersCol;

typedef enum
{
	SR_RUN_ID = 0, SR_REQUEST_ID, SR_WORKFLOW_ID, SR_NAMESPACE,
	SR_NCOLS
} DurSignalRequestsCol;

typedef enum
{
	T_RUN_ID = 0, T_SCHEDULED_EVENT_ID, T_KIND, T_TASK_QUEUE, T_PRIORITY,
	T_READY_TIME, T_EXPIRE_TIME, T_WORKER_ID, T_STARTED_TIME,
	T_LEASE_DEADLINE, T_STICKY_WORKER, T_WORKFLOW_ID, T_OWNER, T_NAMESPACE,
	T_PASS, T_FAIRNESS_KEY, T_BUILD_ID, T_AFFINITY,
	T_NCOLS
} DurTasksCol;

typedef enum
{
	NS_NAME = 0, NS_DESCRIPTION, NS_RETENTION, NS_MAX_PAYLOAD_SIZE, NS_CREATED_AT,
	NS_NCOLS
} DurNamespacesCol;

typedef enum
{
	NG_NAMESPACE = 0, NG_ROLE, NG_CAPABILITY,
	NG_NCOLS
} DurNamespaceGrantsCol;

typedef enum
{
	CH_PARENT_RUN_ID = 0, CH_INITIATED_EVENT_ID, CH_WORKFLOW_ID, CH_RUN_ID, CH_WORKFLOW_TYPE,
	CH_STARTED_EVENT_ID, CH_PARENT_CLOSE_POLICY, CH_PARENT_WORKFLOW_ID, CH_NAMESPACE,
	CH_NCOLS
} DurChildrenCol;

typedef enum
{
	TQ_NAMESPACE = 0, TQ_TASK_QUEUE, TQ_TASKS_PER_SECOND, TQ_WORKER_TASKS_PER_SECOND,
	TQ_CURRENT_BUILD_ID, TQ_RAMPING_BUILD_ID, TQ_RAMPING_PERCENTAGE, TQ_UPDATED_AT,
	TQ_NCOLS
} DurTaskQueuesCol;

typedef enum
{
	U_RUN_ID = 0, U_UPDATE_ID, U_NAME, U_STATE, U_ACCEPTED_EVENT_ID, U_OUTCOME, U_WORKFLOW_ID,
	U_NAMESPACE,
	U_NCOLS
} DurUpdatesCol;

typedef enum
{
	AA_NAMESPACE = 0, AA_WORKFLOW_ID, AA_RUN_ID, AA_SCHEDULED_EVENT_ID, AA_ATTEMPT,
	AA_ACTIVITY_TYPE, AA_TASK_QUEUE, AA_STARTED_TIME, AA_CLOSED_TIME, AA_OUTCOME, AA_FAILURE,
	AA_NCOLS
} DurActivityAttemptsCol;

typedef enum
{
	SAK_NAMESPACE = 0, SAK_NAME, SAK_TYPE, SAK_INDEX_NAME, SAK_CREATED_AT,
	SAK_NCOLS
} DurSearchAttributeKeysCol;

/* A row read from a table: its values, and where it is. */
typedef struct DurRow
{
	Datum	   *values;
	bool	   *nulls;
	ItemPointerData tid;
} DurRow;

/*
 * One call of the engine: the relations it has opened, the executor state
 * its index insertions need, and the snapshot it reads with.
 */
typedef struct DurCall
{
	EState	   *estate;
	Snapshot	snap;
	Relation	rels[DUR_NRELS];
	ResultRelInfo *rris[DUR_NRELS];	/* with indexes open, for insertions */
	List	   *free_slots[DUR_NRELS];	/* slots for scans, reused */
	List	   *all_slots;		/* every slot made, dropped at the end */
	TupleTableSlot *wslots[DUR_NRELS];	/* rows written, for index entries */
	Relation	idxs[DUR_NIDXS];
} DurCall;

/* An index scan in progress. */
typedef struct DurScan
{
	DurCall    *call;
	DurRel		rel;
	TupleTableSlot *slot;		/* the rows the scan returns */
	Relation	irel;
	Snapshot	snap;
	IndexScanDesc scan;			/* NULL until the first row is asked for */
	ScanKeyData keys[8];
	int			nkeys;
} DurScan;

extern DurCall *dur_call_begin(void);
extern void dur_call_end(DurCall *call);
extern void dur_call_snapshot(DurCall *call);
extern void dur_call_cci(DurCall *call);
extern Relation dur_rel(DurCall *call, DurRel rel);
extern void dur_call_open_all(DurCall *call);
extern TupleDesc dur_tupdesc(DurCall *call, DurRel rel);
extern Oid	dur_relid(DurRel rel);
extern Oid	dur_idxid(DurIdx idx);

extern void dur_scan_begin(DurScan *s, DurCall *call, DurIdx idx);
extern void dur_scan_begin_snap(DurScan *s, DurCall *call, DurIdx idx, Snapshot snap);
extern void dur_key_uuid(DurScan *s, int attno, const pg_uuid_t *value);
extern void dur_key_uuid_ge(DurScan *s, int attno, const pg_uuid_t *value);
extern void dur_key_int8(DurScan *s, int attno, StrategyNumber strategy, int64 value);
extern void dur_key_text(DurScan *s, int attno, const char *value);
extern void dur_key_oid(DurScan *s, int attno, Oid value);
extern void dur_key_text_op(DurScan *s, int attno, StrategyNumber strategy, const char *value);
extern void dur_key_timestamptz(DurScan *s, int attno, StrategyNumber strategy,
								TimestampTz value);
extern void dur_key_isnull(DurScan *s, int attno, bool isnull);
extern bool dur_scan_next(DurScan *s, ScanDirection dir, DurRow *row);
extern void dur_scan_end(DurScan *s);

extern void dur_insert(DurCall *call, DurRel rel, Datum *values, bool *nulls,
					   ItemPointer tid);
extern void dur_update(DurCall *call, DurRel rel, ItemPointer tid,
					   Datum *values, bool *nulls, ItemPointer newtid);
extern void dur_delete(DurCall *call, DurRel rel, ItemPointer tid);
extern bool dur_fetch(DurCall *call, DurRel rel, DurIdx idx, const pg_uuid_t *run,
					  int64 key2, DurRow *row);
extern bool dur_run_has_rows(DurCall *call, DurIdx idx, const pg_uuid_t *run);

extern void dur_lock_run(const pg_uuid_t *run);
extern bool dur_try_lock_run(const pg_uuid_t *run);
extern void dur_unlock_run(const pg_uuid_t *run);
extern void dur_lock_workflow_id(const char *namespace, const char *workflow_id);
extern uint32 dur_workflow_id_key(const char *namespace, const char *workflow_id);
extern void dur_lock_workflow_id_key(uint32 key);
extern void dur_lock_namespace(const char *name);
extern void dur_lock_task_queue(const char *queue_key);

/* Values in rows */
extern char *dur_text(DurRow *row, int col);
extern Datum dur_text_datum(const char *s);
extern Datum dur_uuid_datum(const pg_uuid_t *u);
extern pg_uuid_t *dur_new_uuid(void);
extern pg_uuid_t *dur_new_run_id(void);

#endif							/* DURABLE_TABLES_H */

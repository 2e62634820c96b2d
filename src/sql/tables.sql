/*
 * tables.sql
 *	  durable's tables: the history service's state and the unlogged task
 *	  queue.  Part of the install script only; an update script changes
 *	  tables in its migration (src/sql/updates/).
 *
 * Column order matters: the engine reads rows by column position, and a
 * column added by an update is added at the end, so it is written at the
 * end here too (src/tables.h lists them; the library checks them).
 */

CREATE TABLE durable.workflows (
	run_id uuid PRIMARY KEY,
	workflow_id text NOT NULL,
	workflow_type text NOT NULL,
	task_queue text NOT NULL,
	status text NOT NULL DEFAULT 'running'
		CHECK (status IN ('running', 'completed', 'failed', 'canceled',
						  'terminated', 'continued_as_new', 'timed_out')),
	input jsonb,
	result jsonb,
	failure jsonb,
	start_time timestamptz NOT NULL,
	close_time timestamptz,
	execution_timeout interval,
	run_timeout interval,
	task_timeout interval NOT NULL,
	execution_deadline timestamptz,
	first_run_id uuid NOT NULL,
	previous_run_id uuid,
	next_run_id uuid,
	parent_workflow_id text,
	parent_run_id uuid,
	attempt integer NOT NULL DEFAULT 1,
	retry_policy jsonb,
	search_attributes jsonb NOT NULL DEFAULT '{}',
	memo jsonb,
	priority integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
	request_id text,
	history_length bigint NOT NULL DEFAULT 0,
	cancel_requested boolean NOT NULL DEFAULT false,
	wft_state text NOT NULL DEFAULT 'none'
		CHECK (wft_state IN ('none', 'scheduled', 'backoff', 'delayed')),
	wft_seq bigint NOT NULL DEFAULT 0,
	wft_attempt integer NOT NULL DEFAULT 0,
	wft_scheduled_event_id bigint,
	wft_scheduled_time timestamptz,
	sticky_worker text,
	sticky_event_id bigint,
	namespace text NOT NULL DEFAULT 'default',
	parent_initiated_event_id bigint,
	fairness_key text,
	fairness_weight real,
	required_capabilities jsonb,
	build_id text,
	versioning_behavior text CHECK (versioning_behavior IN ('pinned', 'auto_upgrade')),
	last_progress_time timestamptz
);
COMMENT ON TABLE durable.workflows IS 'One row per workflow run: its identity, status, payloads and mutable state.';
COMMENT ON COLUMN durable.workflows.run_id IS 'Unique id of this run.';
COMMENT ON COLUMN durable.workflows.workflow_id IS 'The workflow id given at start; shared by all runs of a chain (continue-as-new, retries). At most one run per workflow id is running.';
COMMENT ON COLUMN durable.workflows.workflow_type IS 'Name of the workflow function workers run.';
COMMENT ON COLUMN durable.workflows.task_queue IS 'Queue its workflow tasks (and, by default, activities) go to.';
COMMENT ON COLUMN durable.workflows.status IS 'running, completed, failed, canceled, terminated, continued_as_new or timed_out.';
COMMENT ON COLUMN durable.workflows.input IS 'Input the run was started with.';
COMMENT ON COLUMN durable.workflows.result IS 'Result of a completed run.';
COMMENT ON COLUMN durable.workflows.failure IS 'Failure of a failed, canceled, terminated or timed-out run.';
COMMENT ON COLUMN durable.workflows.start_time IS 'When the run was started.';
COMMENT ON COLUMN durable.workflows.close_time IS 'When the run closed; NULL while running.';
COMMENT ON COLUMN durable.workflows.execution_timeout IS 'Bound on the whole chain of runs; NULL for none.';
COMMENT ON COLUMN durable.workflows.run_timeout IS 'Bound on this run; NULL for none.';
COMMENT ON COLUMN durable.workflows.task_timeout IS 'Start-to-close timeout of each workflow task.';
COMMENT ON COLUMN durable.workflows.execution_deadline IS 'When the chain times out: first start + execution_timeout.';
COMMENT ON COLUMN durable.workflows.first_run_id IS 'Run id of the first run of the chain.';
COMMENT ON COLUMN durable.workflows.previous_run_id IS 'Run this one continues (continue-as-new or retry).';
COMMENT ON COLUMN durable.workflows.next_run_id IS 'Run that continues this one.';
COMMENT ON COLUMN durable.workflows.parent_workflow_id IS 'A child workflow: its parent''s workflow id.';
COMMENT ON COLUMN durable.workflows.parent_run_id IS 'A child workflow: the parent run that started it (the chain''s runs keep it).';
COMMENT ON COLUMN durable.workflows.attempt IS 'Workflow retry attempt, from 1.';
COMMENT ON COLUMN durable.workflows.retry_policy IS 'Workflow retry policy (normalised), NULL for none.';
COMMENT ON COLUMN durable.workflows.search_attributes IS 'Indexed attributes for finding workflows (GIN index).';
COMMENT ON COLUMN durable.workflows.memo IS 'Unindexed data attached at start.';
COMMENT ON COLUMN durable.workflows.priority IS 'Priority key of its tasks: 1 (highest) to 5 (lowest), 3 by default (docs/task-queues.md).';
COMMENT ON COLUMN durable.workflows.request_id IS 'Request id of the start call, for idempotent retries of start.';
COMMENT ON COLUMN durable.workflows.history_length IS 'Number of events in durable.history for this run (the last event id).';
COMMENT ON COLUMN durable.workflows.cancel_requested IS 'A cancellation was requested.';
COMMENT ON COLUMN durable.workflows.wft_state IS 'Workflow task: none, scheduled (queued or running), backoff (retry delay) or delayed (start delay).';
COMMENT ON COLUMN durable.workflows.wft_seq IS 'Incremented whenever a workflow task attempt is scheduled; part of its task token.';
COMMENT ON COLUMN durable.workflows.wft_attempt IS 'Attempt of the current workflow task.';
COMMENT ON COLUMN durable.workflows.wft_scheduled_event_id IS 'Event id of its WorkflowTaskScheduled; NULL for a retried (transient) task not yet in history.';
COMMENT ON COLUMN durable.workflows.wft_scheduled_time IS 'When the current workflow task was scheduled.';
COMMENT ON COLUMN durable.workflows.sticky_worker IS 'Worker that caches the run (durable.sticky_execution): its next workflow task goes to it first, with only the events after sticky_event_id.';
COMMENT ON COLUMN durable.workflows.sticky_event_id IS 'The WorkflowTaskStarted event of the last workflow task the sticky worker completed.';
COMMENT ON COLUMN durable.workflows.parent_initiated_event_id IS 'A child workflow: the StartChildWorkflowExecutionInitiated event of its parent run that started it.';
COMMENT ON COLUMN durable.workflows.namespace IS 'The namespace the run belongs to (durable.namespaces); workflow ids are unique within it.';
COMMENT ON COLUMN durable.workflows.fairness_key IS 'Fairness key of its tasks (a tenant, say): within a priority, keys share dispatch by weight. NULL: the default key.';
COMMENT ON COLUMN durable.workflows.fairness_weight IS 'Weight of its fairness key (NULL: 1).';
COMMENT ON COLUMN durable.workflows.required_capabilities IS 'Capabilities a worker must declare to take its workflow tasks (a JSON object, matched with @>); NULL: none.';
COMMENT ON COLUMN durable.workflows.build_id IS 'The worker build the run is pinned to (its workflow tasks go only to pollers of this build); NULL: unversioned, any worker.';
COMMENT ON COLUMN durable.workflows.versioning_behavior IS 'pinned (stay on build_id) or auto_upgrade (move to the queue''s current build at the next workflow task), as the worker reported for the workflow type; NULL: pinned.';
COMMENT ON COLUMN durable.workflows.last_progress_time IS 'When the run last recorded events in its history (set with history_length, in the same write); its start time until then. NULL only for rows the engine did not write.';

CREATE UNIQUE INDEX workflows_one_running ON durable.workflows (namespace, workflow_id) WHERE status = 'running';
-- text_pattern_ops: the engine's equality lookups, and prefix searches
-- (workflow_id LIKE 'order-12%') whatever the database's collation
CREATE INDEX workflows_by_workflow_id ON durable.workflows (namespace, workflow_id text_pattern_ops, start_time DESC);
-- type + status + time range, keyset-paginated (docs/search-attributes.md)
CREATE INDEX workflows_by_type_status_time ON durable.workflows (workflow_type, status, start_time, run_id);
CREATE INDEX workflows_by_close_time ON durable.workflows (namespace, close_time) WHERE close_time IS NOT NULL;
-- failed, timed-out, terminated and canceled runs by close time (the view
-- durable.recent_failures, docs/dba.md): a few rows among many closes
CREATE INDEX workflows_failed_by_close_time ON durable.workflows (namespace, close_time)
	WHERE status IN ('failed', 'timed_out', 'terminated', 'canceled');
-- newest-first listing (the Web UI's workflow list, keyset-paginated; docs/ui.md)
CREATE INDEX workflows_by_start_time ON durable.workflows (namespace, start_time DESC, run_id DESC);
CREATE INDEX workflows_by_search_attributes ON durable.workflows USING gin (search_attributes jsonb_path_ops);

/*
 * The event history, stored at Temporal's grain: one row per call that
 * recorded events (history_node in Temporal's persistence), holding that
 * call's events in a compact form (src/events.c: like Temporal's protobuf
 * blobs, one schema per event type).  durable.history (a view) shows them
 * event by event, as JSON.
 */
CREATE TABLE durable.history_batches (
	run_id uuid NOT NULL,
	last_event_id bigint NOT NULL,
	events bytea NOT NULL,
	workflow_id text NOT NULL,
	namespace text NOT NULL DEFAULT 'default',
	PRIMARY KEY (run_id, last_event_id)
);
COMMENT ON TABLE durable.history_batches IS 'Event history of every run, one row per call that recorded events; durable.history shows the events one by one.';
COMMENT ON COLUMN durable.history_batches.run_id IS 'The run (durable.workflows.run_id).';
COMMENT ON COLUMN durable.history_batches.last_event_id IS 'Id of the last event of the batch; the batches of a run cover its ids 1..history_length without gaps.';
COMMENT ON COLUMN durable.history_batches.events IS 'The events in durable''s compact stored form (one schema per event type, values as JSON text); durable.history shows them as JSON.';
COMMENT ON COLUMN durable.history_batches.workflow_id IS 'The run''s workflow id (the key that colocates a workflow''s rows; docs/scale-out.md).';
COMMENT ON COLUMN durable.history_batches.namespace IS 'The run''s namespace (row-level security filters by it).';

CREATE TABLE durable.buffered_events (
	run_id uuid NOT NULL,
	seq bigint NOT NULL,
	event_type text NOT NULL,
	event_time timestamptz NOT NULL,
	attributes jsonb NOT NULL,
	workflow_id text NOT NULL,
	namespace text NOT NULL DEFAULT 'default',
	PRIMARY KEY (run_id, seq)
);
COMMENT ON TABLE durable.buffered_events IS 'Events that arrived while a workflow task was running; written to history after the task completes.';
COMMENT ON COLUMN durable.buffered_events.run_id IS 'The run.';
COMMENT ON COLUMN durable.buffered_events.seq IS 'Arrival order within the run, from 1.';
COMMENT ON COLUMN durable.buffered_events.event_type IS 'Event type.';
COMMENT ON COLUMN durable.buffered_events.event_time IS 'When the event arrived.';
COMMENT ON COLUMN durable.buffered_events.attributes IS 'Event attributes.';
COMMENT ON COLUMN durable.buffered_events.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.buffered_events.namespace IS 'The run''s namespace.';

CREATE TABLE durable.activities (
	run_id uuid NOT NULL,
	scheduled_event_id bigint NOT NULL,
	activity_id text NOT NULL,
	activity_type text NOT NULL,
	task_queue text NOT NULL,
	input jsonb,
	priority integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
	schedule_to_close_timeout interval,
	schedule_to_start_timeout interval,
	start_to_close_timeout interval NOT NULL,
	heartbeat_timeout interval,
	retry_policy jsonb,
	scheduled_time timestamptz NOT NULL,
	expiration_time timestamptz,
	attempt integer NOT NULL DEFAULT 1,
	state text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'backoff')),
	ready_time timestamptz NOT NULL,
	heartbeat_details jsonb,
	last_failure jsonb,
	last_worker_id text,
	cancel_requested_event_id bigint,
	workflow_id text NOT NULL,
	namespace text NOT NULL DEFAULT 'default',
	fairness_key text,
	fairness_weight real,
	required_capabilities jsonb,
	pinned_worker text,
	PRIMARY KEY (run_id, scheduled_event_id)
);
COMMENT ON TABLE durable.activities IS 'Pending activities of running workflows; a row is deleted when the activity closes.';
COMMENT ON COLUMN durable.activities.run_id IS 'The run that scheduled the activity.';
COMMENT ON COLUMN durable.activities.scheduled_event_id IS 'Event id of its ActivityTaskScheduled.';
COMMENT ON COLUMN durable.activities.activity_id IS 'Activity id, unique among the run''s pending activities (the engine checks it; no index: the run''s rows are found by the primary key).';
COMMENT ON COLUMN durable.activities.activity_type IS 'Name of the activity function.';
COMMENT ON COLUMN durable.activities.task_queue IS 'Queue its tasks go to.';
COMMENT ON COLUMN durable.activities.input IS 'Activity input.';
COMMENT ON COLUMN durable.activities.priority IS 'Priority key of its tasks: 1 (highest) to 5 (lowest); inherited from the workflow unless set.';
COMMENT ON COLUMN durable.activities.schedule_to_close_timeout IS 'Bound on all attempts together (normalised; NULL for none).';
COMMENT ON COLUMN durable.activities.schedule_to_start_timeout IS 'Bound on waiting in the queue, per attempt (NULL for none).';
COMMENT ON COLUMN durable.activities.start_to_close_timeout IS 'Bound on one attempt once started.';
COMMENT ON COLUMN durable.activities.heartbeat_timeout IS 'Longest gap between heartbeats of a running attempt (NULL for none).';
COMMENT ON COLUMN durable.activities.retry_policy IS 'Normalised retry policy; NULL for Temporal''s default policy (its ActivityTaskScheduled event shows it in full).';
COMMENT ON COLUMN durable.activities.scheduled_time IS 'When the activity was first scheduled.';
COMMENT ON COLUMN durable.activities.expiration_time IS 'scheduled_time + schedule_to_close_timeout.';
COMMENT ON COLUMN durable.activities.attempt IS 'Current attempt, from 1.';
COMMENT ON COLUMN durable.activities.state IS 'scheduled (queued or running) or backoff (waiting to retry).';
COMMENT ON COLUMN durable.activities.ready_time IS 'When the current attempt became ready.';
COMMENT ON COLUMN durable.activities.heartbeat_details IS 'Details of the last heartbeat, handed to the next attempt.';
COMMENT ON COLUMN durable.activities.last_failure IS 'Failure of the previous attempt.';
COMMENT ON COLUMN durable.activities.last_worker_id IS 'Worker that ran the last attempt.';
COMMENT ON COLUMN durable.activities.cancel_requested_event_id IS 'Event id of ActivityTaskCancelRequested, if cancellation was requested.';
COMMENT ON COLUMN durable.activities.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.activities.namespace IS 'The run''s namespace.';
COMMENT ON COLUMN durable.activities.fairness_key IS 'Fairness key of its tasks; inherited from the workflow unless set.';
COMMENT ON COLUMN durable.activities.fairness_weight IS 'Weight of its fairness key (NULL: 1).';
COMMENT ON COLUMN durable.activities.required_capabilities IS 'Capabilities a worker must declare to take it (a JSON object, matched with @>); NULL: none.';
COMMENT ON COLUMN durable.activities.pinned_worker IS 'The only worker that may take it (Temporal''s sessions pattern); NULL: any.';

CREATE TABLE durable.timers (
	run_id uuid NOT NULL,
	kind text NOT NULL CHECK (kind IN ('user', 'activity_retry', 'activity_schedule_to_close',
									   'wft_retry', 'workflow_start', 'workflow_run_timeout',
									   'workflow_execution_timeout', 'child_closed', 'parent_close',
									   'signal_external', 'cancel_external', 'schedule',
									   'schedule_closed')),
	timer_id text NOT NULL DEFAULT '',
	fire_time timestamptz NOT NULL,
	started_event_id bigint,
	workflow_id text NOT NULL,
	namespace text NOT NULL DEFAULT 'default',
	attributes jsonb,
	PRIMARY KEY (run_id, kind, timer_id)
);
COMMENT ON TABLE durable.timers IS 'Durable deadlines the engine worker fires: user timers, retries, delayed starts and workflow timeouts.';
COMMENT ON COLUMN durable.timers.run_id IS 'The run.';
COMMENT ON COLUMN durable.timers.kind IS 'user, activity_retry, activity_schedule_to_close, wft_retry, workflow_start, workflow_run_timeout, workflow_execution_timeout; and, fired at once to act on another workflow: child_closed (tell the parent), parent_close (apply a parent close policy to a child), signal_external, cancel_external; schedule (a schedule''s next action: run_id is the schedule''s own id, docs/schedules.md) and schedule_closed (a run a schedule started closed).';
COMMENT ON COLUMN durable.timers.timer_id IS 'User timer id, or the activity''s scheduled event id; empty for workflow-level kinds.';
COMMENT ON COLUMN durable.timers.fire_time IS 'When it fires.';
COMMENT ON COLUMN durable.timers.started_event_id IS 'For user timers: the TimerStarted event id.';
COMMENT ON COLUMN durable.timers.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.timers.namespace IS 'The run''s namespace.';
COMMENT ON COLUMN durable.timers.attributes IS 'What a timer that acts on another workflow needs (parent_close, signal_external, cancel_external); NULL for the others.';
CREATE INDEX timers_by_fire_time ON durable.timers (fire_time);

CREATE TABLE durable.signal_requests (
	run_id uuid NOT NULL,
	request_id text NOT NULL,
	workflow_id text NOT NULL,
	namespace text NOT NULL DEFAULT 'default',
	PRIMARY KEY (run_id, request_id)
);
COMMENT ON TABLE durable.signal_requests IS 'Request ids of signals already delivered to running workflows, for deduplication.';
COMMENT ON COLUMN durable.signal_requests.run_id IS 'The run.';
COMMENT ON COLUMN durable.signal_requests.request_id IS 'The request id the signal was sent with.';
COMMENT ON COLUMN durable.signal_requests.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.signal_requests.namespace IS 'The run''s namespace.';

/*
 * The task queue is derived state: a row exists for every workflow task and
 * activity attempt that is ready or running.  It is unlogged — claiming and
 * leasing a task costs no WAL flush — and rebuilt from the tables above by
 * the engine worker after a crash empties it.
 */
CREATE UNLOGGED TABLE durable.tasks (
	run_id uuid NOT NULL,
	scheduled_event_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('workflow', 'activity')),
	task_queue text NOT NULL,
	priority integer NOT NULL,
	ready_time timestamptz NOT NULL,
	expire_time timestamptz,
	worker_id text,
	started_time timestamptz,
	lease_deadline timestamptz,
	sticky_worker text,
	workflow_id text NOT NULL,
	owner bigint,
	namespace text NOT NULL DEFAULT 'default',
	pass bigint NOT NULL DEFAULT 0,
	fairness_key text,
	build_id text NOT NULL DEFAULT '',
	affinity text NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, scheduled_event_id)
);
COMMENT ON TABLE durable.tasks IS 'Unlogged task queue: ready and running workflow tasks and activity attempts, with their leases. Rebuilt after a crash.';
COMMENT ON COLUMN durable.tasks.run_id IS 'The run.';
COMMENT ON COLUMN durable.tasks.scheduled_event_id IS '0 for the workflow task, else the activity''s scheduled event id.';
COMMENT ON COLUMN durable.tasks.kind IS 'workflow or activity.';
COMMENT ON COLUMN durable.tasks.task_queue IS 'Queue.';
COMMENT ON COLUMN durable.tasks.priority IS 'Priority key, 1 (served first) to 5.';
COMMENT ON COLUMN durable.tasks.ready_time IS 'When the task became ready.';
COMMENT ON COLUMN durable.tasks.expire_time IS 'Schedule-to-start deadline of an activity attempt.';
COMMENT ON COLUMN durable.tasks.worker_id IS 'Worker holding the task.';
COMMENT ON COLUMN durable.tasks.started_time IS 'When the task was handed to a worker; NULL while it waits.';
COMMENT ON COLUMN durable.tasks.lease_deadline IS 'When the running task times out (start-to-close or heartbeat).';
COMMENT ON COLUMN durable.tasks.sticky_worker IS 'A ready workflow task of a sticky run: the worker it goes to first; an activity pinned to a worker: that worker.';
COMMENT ON COLUMN durable.tasks.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.tasks.owner IS 'A started task: the worker session or connection that holds it (its end times the task out at once).';
COMMENT ON COLUMN durable.tasks.namespace IS 'The run''s namespace: task queues are per namespace.';
COMMENT ON COLUMN durable.tasks.pass IS 'Virtual dispatch time (fairness): within a priority, ready tasks go in pass order, which is ready order for one fairness key and shares dispatch between keys by weight.';
COMMENT ON COLUMN durable.tasks.fairness_key IS 'Fairness key; NULL: the default key.';
COMMENT ON COLUMN durable.tasks.build_id IS 'The worker build it must go to; empty: any.';
COMMENT ON COLUMN durable.tasks.affinity IS 'The capabilities it requires (canonical JSON text), or @pinned for a task pinned to sticky_worker; empty: none.';
CREATE INDEX tasks_ready ON durable.tasks (namespace, task_queue, kind, build_id, affinity, priority, pass) WHERE started_time IS NULL;
CREATE INDEX tasks_sticky ON durable.tasks (sticky_worker, namespace, task_queue, priority, pass)
	WHERE started_time IS NULL AND sticky_worker IS NOT NULL;
CREATE INDEX tasks_lease ON durable.tasks (lease_deadline) WHERE started_time IS NOT NULL;
CREATE INDEX tasks_expire ON durable.tasks (expire_time) WHERE started_time IS NULL AND expire_time IS NOT NULL;

CREATE UNLOGGED TABLE durable.engine_state (
	rebuilt_at timestamptz NOT NULL
);
COMMENT ON TABLE durable.engine_state IS 'Unlogged marker: empty after a crash, or once rows written by SQL (a restore) or durable.rebuild_task_queue() commit, which tells the engine worker to rebuild durable.tasks.';
COMMENT ON COLUMN durable.engine_state.rebuilt_at IS 'When the task queue was last rebuilt.';

CREATE TABLE durable.token_key (
	key bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE durable.token_key IS 'The key task tokens are signed with (one row, made at CREATE EXTENSION or the update to 0.3); no role is granted it.';
COMMENT ON COLUMN durable.token_key.key IS '32 random bytes.';
COMMENT ON COLUMN durable.token_key.created_at IS 'When the key was made: unsigned tokens of 0.2 are honoured only for tasks started before.';
INSERT INTO durable.token_key (key)
SELECT pg_catalog.decode(pg_catalog.replace(pg_catalog.gen_random_uuid()::text ||
											pg_catalog.gen_random_uuid()::text, '-', ''), 'hex');

SELECT pg_catalog.pg_extension_config_dump('durable.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('durable.history_batches', '');
SELECT pg_catalog.pg_extension_config_dump('durable.buffered_events', '');
SELECT pg_catalog.pg_extension_config_dump('durable.activities', '');
SELECT pg_catalog.pg_extension_config_dump('durable.timers', '');
SELECT pg_catalog.pg_extension_config_dump('durable.signal_requests', '');


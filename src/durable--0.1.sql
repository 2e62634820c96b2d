/*
 * durable--0.1.sql
 *	  Durable execution inside PostgreSQL: tables, the engine's state
 *	  machines and the SQL API.
 *
 * Layout of this file:
 *	  1. tables (the history service's state) and the unlogged task queue
 *	  2. C helpers (wake-ups, waiting, input checks)
 *	  3. internal functions, prefixed with an underscore
 *	  4. the client API, the worker API, the engine's tick
 *	  5. roles and privileges
 *
 * Locking protocol (see docs/architecture.md):
 *	  - Every change to a run first locks its durable.workflows row
 *	    (FOR UPDATE), then touches activities, timers, buffered events and
 *	    history.  One run's changes are therefore serialised, and there is a
 *	    single lock order.
 *	  - Pollers claim task rows with FOR UPDATE SKIP LOCKED and take no other
 *	    lock, so they never wait and never deadlock.
 *	  - Whoever must know whether a workflow task is running (to append an
 *	    event or buffer it) locks that task row FOR UPDATE after the workflow
 *	    row; a concurrent claim then either finished first (the task is
 *	    started: buffer) or comes after (the claim sees the new event).
 *	    Whoever locks a ready task row and leaves it ready re-announces its
 *	    queue at commit, so a poller that skipped it is woken.
 *
 * Every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp
 * and qualifies everything else.  Internal functions (underscore names, not
 * executable by PUBLIC) run under the search_path of the API function that
 * calls them; only the engine worker's entry points (_engine_tick,
 * _engine_startup) pin it themselves.  A SET clause on every internal call
 * cost a GUC save and restore each time, about 10% of the CPU of a workflow.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION durable" to load this file. \quit

--------------------------------------------------------------------------
-- 1. Tables
--------------------------------------------------------------------------

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
	priority integer NOT NULL DEFAULT 0,
	request_id text,
	history_length bigint NOT NULL DEFAULT 0,
	cancel_requested boolean NOT NULL DEFAULT false,
	wft_state text NOT NULL DEFAULT 'none'
		CHECK (wft_state IN ('none', 'scheduled', 'backoff', 'delayed')),
	wft_seq bigint NOT NULL DEFAULT 0,
	wft_attempt integer NOT NULL DEFAULT 0,
	wft_scheduled_event_id bigint,
	wft_scheduled_time timestamptz
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
COMMENT ON COLUMN durable.workflows.parent_workflow_id IS 'Parent workflow id (child workflows; reserved).';
COMMENT ON COLUMN durable.workflows.parent_run_id IS 'Parent run id (child workflows; reserved).';
COMMENT ON COLUMN durable.workflows.attempt IS 'Workflow retry attempt, from 1.';
COMMENT ON COLUMN durable.workflows.retry_policy IS 'Workflow retry policy (normalised), NULL for none.';
COMMENT ON COLUMN durable.workflows.search_attributes IS 'Indexed attributes for finding workflows (GIN index).';
COMMENT ON COLUMN durable.workflows.memo IS 'Unindexed data attached at start.';
COMMENT ON COLUMN durable.workflows.priority IS 'Task priority: lower values are served first.';
COMMENT ON COLUMN durable.workflows.request_id IS 'Request id of the start call, for idempotent retries of start.';
COMMENT ON COLUMN durable.workflows.history_length IS 'Number of events in durable.history for this run (the last event id).';
COMMENT ON COLUMN durable.workflows.cancel_requested IS 'A cancellation was requested.';
COMMENT ON COLUMN durable.workflows.wft_state IS 'Workflow task: none, scheduled (queued or running), backoff (retry delay) or delayed (start delay).';
COMMENT ON COLUMN durable.workflows.wft_seq IS 'Incremented whenever a workflow task attempt is scheduled; part of its task token.';
COMMENT ON COLUMN durable.workflows.wft_attempt IS 'Attempt of the current workflow task.';
COMMENT ON COLUMN durable.workflows.wft_scheduled_event_id IS 'Event id of its WorkflowTaskScheduled; NULL for a retried (transient) task not yet in history.';
COMMENT ON COLUMN durable.workflows.wft_scheduled_time IS 'When the current workflow task was scheduled.';

CREATE UNIQUE INDEX workflows_one_running ON durable.workflows (workflow_id) WHERE status = 'running';
CREATE INDEX workflows_by_workflow_id ON durable.workflows (workflow_id, start_time DESC);
CREATE INDEX workflows_by_type_status ON durable.workflows (workflow_type, status);
CREATE INDEX workflows_by_close_time ON durable.workflows (close_time) WHERE close_time IS NOT NULL;
CREATE INDEX workflows_by_search_attributes ON durable.workflows USING gin (search_attributes jsonb_path_ops);

CREATE TABLE durable.history (
	run_id uuid NOT NULL,
	event_id bigint NOT NULL,
	event_type text NOT NULL,
	event_time timestamptz NOT NULL,
	attributes jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (run_id, event_id)
);
COMMENT ON TABLE durable.history IS 'Event history of every run: the source of truth workers replay.';
COMMENT ON COLUMN durable.history.run_id IS 'The run (durable.workflows.run_id).';
COMMENT ON COLUMN durable.history.event_id IS 'Position in the run''s history, contiguous from 1.';
COMMENT ON COLUMN durable.history.event_type IS 'Temporal event type name, e.g. ActivityTaskCompleted.';
COMMENT ON COLUMN durable.history.event_time IS 'When the event was recorded.';
COMMENT ON COLUMN durable.history.attributes IS 'Event attributes (docs/protocol.md).';

CREATE TABLE durable.buffered_events (
	run_id uuid NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	event_type text NOT NULL,
	event_time timestamptz NOT NULL,
	attributes jsonb NOT NULL,
	PRIMARY KEY (run_id, seq)
);
COMMENT ON TABLE durable.buffered_events IS 'Events that arrived while a workflow task was running; written to history after the task completes.';
COMMENT ON COLUMN durable.buffered_events.run_id IS 'The run.';
COMMENT ON COLUMN durable.buffered_events.seq IS 'Arrival order.';
COMMENT ON COLUMN durable.buffered_events.event_type IS 'Event type.';
COMMENT ON COLUMN durable.buffered_events.event_time IS 'When the event arrived.';
COMMENT ON COLUMN durable.buffered_events.attributes IS 'Event attributes.';

CREATE TABLE durable.activities (
	run_id uuid NOT NULL,
	scheduled_event_id bigint NOT NULL,
	activity_id text NOT NULL,
	activity_type text NOT NULL,
	task_queue text NOT NULL,
	input jsonb,
	priority integer NOT NULL DEFAULT 0,
	schedule_to_close_timeout interval,
	schedule_to_start_timeout interval,
	start_to_close_timeout interval NOT NULL,
	heartbeat_timeout interval,
	retry_policy jsonb NOT NULL,
	scheduled_time timestamptz NOT NULL,
	expiration_time timestamptz,
	attempt integer NOT NULL DEFAULT 1,
	state text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'backoff')),
	ready_time timestamptz NOT NULL,
	heartbeat_details jsonb,
	last_failure jsonb,
	last_worker_id text,
	cancel_requested_event_id bigint,
	PRIMARY KEY (run_id, scheduled_event_id),
	UNIQUE (run_id, activity_id)
);
COMMENT ON TABLE durable.activities IS 'Pending activities of running workflows; a row is deleted when the activity closes.';
COMMENT ON COLUMN durable.activities.run_id IS 'The run that scheduled the activity.';
COMMENT ON COLUMN durable.activities.scheduled_event_id IS 'Event id of its ActivityTaskScheduled.';
COMMENT ON COLUMN durable.activities.activity_id IS 'Activity id, unique among the run''s pending activities.';
COMMENT ON COLUMN durable.activities.activity_type IS 'Name of the activity function.';
COMMENT ON COLUMN durable.activities.task_queue IS 'Queue its tasks go to.';
COMMENT ON COLUMN durable.activities.input IS 'Activity input.';
COMMENT ON COLUMN durable.activities.priority IS 'Task priority: lower values are served first.';
COMMENT ON COLUMN durable.activities.schedule_to_close_timeout IS 'Bound on all attempts together (normalised; NULL for none).';
COMMENT ON COLUMN durable.activities.schedule_to_start_timeout IS 'Bound on waiting in the queue, per attempt (NULL for none).';
COMMENT ON COLUMN durable.activities.start_to_close_timeout IS 'Bound on one attempt once started.';
COMMENT ON COLUMN durable.activities.heartbeat_timeout IS 'Longest gap between heartbeats of a running attempt (NULL for none).';
COMMENT ON COLUMN durable.activities.retry_policy IS 'Normalised retry policy.';
COMMENT ON COLUMN durable.activities.scheduled_time IS 'When the activity was first scheduled.';
COMMENT ON COLUMN durable.activities.expiration_time IS 'scheduled_time + schedule_to_close_timeout.';
COMMENT ON COLUMN durable.activities.attempt IS 'Current attempt, from 1.';
COMMENT ON COLUMN durable.activities.state IS 'scheduled (queued or running) or backoff (waiting to retry).';
COMMENT ON COLUMN durable.activities.ready_time IS 'When the current attempt became ready.';
COMMENT ON COLUMN durable.activities.heartbeat_details IS 'Details of the last heartbeat, handed to the next attempt.';
COMMENT ON COLUMN durable.activities.last_failure IS 'Failure of the previous attempt.';
COMMENT ON COLUMN durable.activities.last_worker_id IS 'Worker that ran the last attempt.';
COMMENT ON COLUMN durable.activities.cancel_requested_event_id IS 'Event id of ActivityTaskCancelRequested, if cancellation was requested.';

CREATE TABLE durable.timers (
	run_id uuid NOT NULL,
	kind text NOT NULL CHECK (kind IN ('user', 'activity_retry', 'activity_schedule_to_close',
									   'wft_retry', 'workflow_start', 'workflow_run_timeout',
									   'workflow_execution_timeout')),
	timer_id text NOT NULL DEFAULT '',
	fire_time timestamptz NOT NULL,
	started_event_id bigint,
	PRIMARY KEY (run_id, kind, timer_id)
);
COMMENT ON TABLE durable.timers IS 'Durable deadlines the engine worker fires: user timers, retries, delayed starts and workflow timeouts.';
COMMENT ON COLUMN durable.timers.run_id IS 'The run.';
COMMENT ON COLUMN durable.timers.kind IS 'user, activity_retry, activity_schedule_to_close, wft_retry, workflow_start, workflow_run_timeout or workflow_execution_timeout.';
COMMENT ON COLUMN durable.timers.timer_id IS 'User timer id, or the activity''s scheduled event id; empty for workflow-level kinds.';
COMMENT ON COLUMN durable.timers.fire_time IS 'When it fires.';
COMMENT ON COLUMN durable.timers.started_event_id IS 'For user timers: the TimerStarted event id.';
CREATE INDEX timers_by_fire_time ON durable.timers (fire_time);

CREATE TABLE durable.signal_requests (
	run_id uuid NOT NULL,
	request_id text NOT NULL,
	PRIMARY KEY (run_id, request_id)
);
COMMENT ON TABLE durable.signal_requests IS 'Request ids of signals already delivered to running workflows, for deduplication.';
COMMENT ON COLUMN durable.signal_requests.run_id IS 'The run.';
COMMENT ON COLUMN durable.signal_requests.request_id IS 'The request id the signal was sent with.';

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
	PRIMARY KEY (run_id, scheduled_event_id)
);
COMMENT ON TABLE durable.tasks IS 'Unlogged task queue: ready and running workflow tasks and activity attempts, with their leases. Rebuilt after a crash.';
COMMENT ON COLUMN durable.tasks.run_id IS 'The run.';
COMMENT ON COLUMN durable.tasks.scheduled_event_id IS '0 for the workflow task, else the activity''s scheduled event id.';
COMMENT ON COLUMN durable.tasks.kind IS 'workflow or activity.';
COMMENT ON COLUMN durable.tasks.task_queue IS 'Queue.';
COMMENT ON COLUMN durable.tasks.priority IS 'Lower values are served first.';
COMMENT ON COLUMN durable.tasks.ready_time IS 'When the task became ready; ties within a priority go to the oldest.';
COMMENT ON COLUMN durable.tasks.expire_time IS 'Schedule-to-start deadline of an activity attempt.';
COMMENT ON COLUMN durable.tasks.worker_id IS 'Worker holding the task.';
COMMENT ON COLUMN durable.tasks.started_time IS 'When the task was handed to a worker; NULL while it waits.';
COMMENT ON COLUMN durable.tasks.lease_deadline IS 'When the running task times out (start-to-close or heartbeat).';
CREATE INDEX tasks_ready ON durable.tasks (task_queue, priority, ready_time) WHERE started_time IS NULL;
CREATE INDEX tasks_lease ON durable.tasks (lease_deadline) WHERE started_time IS NOT NULL;
CREATE INDEX tasks_expire ON durable.tasks (expire_time) WHERE started_time IS NULL AND expire_time IS NOT NULL;

CREATE UNLOGGED TABLE durable.engine_state (
	rebuilt_at timestamptz NOT NULL
);
COMMENT ON TABLE durable.engine_state IS 'Unlogged marker: empty after a crash, which tells the engine worker to rebuild durable.tasks.';
COMMENT ON COLUMN durable.engine_state.rebuilt_at IS 'When the task queue was last rebuilt.';

SELECT pg_catalog.pg_extension_config_dump('durable.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('durable.history', '');
SELECT pg_catalog.pg_extension_config_dump('durable.buffered_events', '');
SELECT pg_catalog.pg_extension_config_dump('durable.activities', '');
SELECT pg_catalog.pg_extension_config_dump('durable.timers', '');
SELECT pg_catalog.pg_extension_config_dump('durable.signal_requests', '');

-- The row poll_task returns.
CREATE TYPE durable.task AS (
	task_token text,
	kind text,
	workflow_id text,
	run_id uuid,
	workflow_type text,
	task_queue text,
	activity_id text,
	activity_type text,
	input jsonb,
	attempt integer,
	history jsonb,
	heartbeat_details jsonb,
	scheduled_time timestamptz,
	started_time timestamptz,
	deadline timestamptz,
	heartbeat_timeout interval,
	priority integer,
	query_name text
);
COMMENT ON TYPE durable.task IS 'A task handed to a worker by durable.poll_task.';

--------------------------------------------------------------------------
-- 2. C helpers
--------------------------------------------------------------------------

CREATE FUNCTION durable._notify_task(queue text, kind text) RETURNS void
	AS 'MODULE_PATHNAME', '_notify_task' LANGUAGE C STRICT;
CREATE FUNCTION durable._notify_task_on_abort(queue text, kind text) RETURNS void
	AS 'MODULE_PATHNAME', '_notify_task_on_abort' LANGUAGE C STRICT;
CREATE FUNCTION durable._notify_close(workflow_id text, payload text) RETURNS void
	AS 'MODULE_PATHNAME', '_notify_close' LANGUAGE C;
CREATE FUNCTION durable._notify_timer(at timestamptz) RETURNS void
	AS 'MODULE_PATHNAME', '_notify_timer' LANGUAGE C STRICT;
CREATE FUNCTION durable._wait_register(kind text, key text, kinds text[]) RETURNS void
	AS 'MODULE_PATHNAME', '_wait_register' LANGUAGE C;
CREATE FUNCTION durable._wait(until timestamptz) RETURNS boolean
	AS 'MODULE_PATHNAME', '_wait' LANGUAGE C STRICT;
CREATE FUNCTION durable._wait_unregister() RETURNS void
	AS 'MODULE_PATHNAME', '_wait_unregister' LANGUAGE C;
CREATE FUNCTION durable._check_id(id text, what text) RETURNS text
	AS 'MODULE_PATHNAME', '_check_id' LANGUAGE C IMMUTABLE;
CREATE FUNCTION durable._check_payload(value jsonb, what text) RETURNS jsonb
	AS 'MODULE_PATHNAME', '_check_payload' LANGUAGE C STABLE;
CREATE FUNCTION durable._interval(value text, what text) RETURNS interval
	AS 'MODULE_PATHNAME', '_interval' LANGUAGE C STABLE;
CREATE FUNCTION durable._ask_query(run_id uuid, queue text, query_name text, args text, timeout_ms integer,
	OUT answer text, OUT failed boolean)
	AS 'MODULE_PATHNAME', '_ask_query' LANGUAGE C;
CREATE FUNCTION durable._claim_query(queue text, OUT query_id bigint, OUT run_id uuid, OUT query_name text,
	OUT args text)
	AS 'MODULE_PATHNAME', '_claim_query' LANGUAGE C STRICT;
CREATE FUNCTION durable._answer_query(query_id bigint, answer text, failed boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', '_answer_query' LANGUAGE C;
CREATE FUNCTION durable._engine_workers(
	OUT datid oid, OUT datname text, OUT pid integer, OUT state text,
	OUT started_at timestamptz, OUT next_wakeup timestamptz, OUT iterations bigint,
	OUT activity text) RETURNS SETOF record
	AS 'MODULE_PATHNAME', '_engine_workers' LANGUAGE C;

CREATE FUNCTION durable.subscribe_workflow_closes() RETURNS void
	AS 'MODULE_PATHNAME', 'subscribe_workflow_closes' LANGUAGE C;
COMMENT ON FUNCTION durable.subscribe_workflow_closes() IS 'LISTEN on channel durable_workflow_closed; closes are announced only while some session subscribes.';
CREATE FUNCTION durable.unsubscribe_workflow_closes() RETURNS void
	AS 'MODULE_PATHNAME', 'unsubscribe_workflow_closes' LANGUAGE C;
COMMENT ON FUNCTION durable.unsubscribe_workflow_closes() IS 'UNLISTEN durable_workflow_closed and stop asking for announcements.';

CREATE VIEW durable.engine_workers AS
	SELECT datid, datname, pid, state, started_at, next_wakeup, iterations, activity
	FROM durable._engine_workers();
COMMENT ON VIEW durable.engine_workers IS 'One row per database the launcher serves: its engine worker''s pid and state.';

--------------------------------------------------------------------------
-- 3. Internal functions
--------------------------------------------------------------------------

-- Raise one of durable's errors.
CREATE FUNCTION durable._error(code text, message text, detail text DEFAULT NULL,
							   hint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message,
		DETAIL = coalesce(detail, ''), HINT = coalesce(hint, '');
END
$$;

-- Protobuf-style duration text ("30s", "0.250s") of an interval, NULL for NULL.
CREATE FUNCTION durable._duration(d interval) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN d IS NULL THEN NULL
		ELSE pg_catalog.rtrim(pg_catalog.rtrim(pg_catalog.to_char(EXTRACT(epoch FROM d), 'FM999999999990.999'), '0'), '.') || 's' END
$$;

-- A failure object checked and filled in: {"message", "type", "non_retryable", "details"}.
CREATE FUNCTION durable._failure(f jsonb, what text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	k text;
BEGIN
	IF f IS NULL OR jsonb_typeof(f) = 'null' THEN
		RETURN jsonb_build_object('message', '', 'type', NULL, 'non_retryable', false, 'details', NULL);
	END IF;
	IF jsonb_typeof(f) <> 'object' THEN
		PERFORM durable._error('22023', format('%s must be a JSON object, not %s', what, jsonb_typeof(f)),
			NULL, 'A failure is {"message": ..., "type": ..., "non_retryable": ..., "details": ...}.');
	END IF;
	FOR k IN SELECT jsonb_object_keys(f) LOOP
		IF k NOT IN ('message', 'type', 'non_retryable', 'details', 'stack_trace', 'cause', 'timeout_type') THEN
			PERFORM durable._error('22023', format('unknown field "%s" in %s', k, what), NULL,
				'A failure has the fields message, type, non_retryable, details, stack_trace and cause.');
		END IF;
	END LOOP;
	IF f ? 'message' AND jsonb_typeof(f->'message') NOT IN ('string', 'null') THEN
		PERFORM durable._error('22023', format('field "message" of %s must be a string', what));
	END IF;
	IF f ? 'type' AND jsonb_typeof(f->'type') NOT IN ('string', 'null') THEN
		PERFORM durable._error('22023', format('field "type" of %s must be a string', what));
	END IF;
	IF f ? 'non_retryable' AND jsonb_typeof(f->'non_retryable') NOT IN ('boolean', 'null') THEN
		PERFORM durable._error('22023', format('field "non_retryable" of %s must be a boolean', what));
	END IF;
	PERFORM durable._check_payload(f, what);
	RETURN jsonb_build_object('message', coalesce(f->>'message', ''), 'type', f->'type',
							  'non_retryable', coalesce((f->>'non_retryable')::boolean, false),
							  'details', f->'details')
		|| jsonb_strip_nulls(jsonb_build_object('stack_trace', f->'stack_trace', 'cause', f->'cause',
												'timeout_type', f->'timeout_type'));
END
$$;

-- A retry policy checked and normalised, with Temporal's defaults.
CREATE FUNCTION durable._retry_policy(p jsonb, what text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	k text;
	initial interval;
	maximum interval;
	coefficient numeric;
	attempts integer;
	types jsonb;
BEGIN
	IF p IS NULL OR jsonb_typeof(p) = 'null' OR p = '{}' THEN
		-- Temporal's defaults, the common case, without the work below
		RETURN '{"initial_interval": "1s", "backoff_coefficient": 2.0, "maximum_interval": "100s",
				 "maximum_attempts": 0, "non_retryable_error_types": []}'::jsonb;
	END IF;
	IF jsonb_typeof(p) <> 'object' THEN
		PERFORM durable._error('22023', format('%s must be a JSON object, not %s', what, jsonb_typeof(p)));
	END IF;
	FOR k IN SELECT jsonb_object_keys(p) LOOP
		IF k NOT IN ('initial_interval', 'backoff_coefficient', 'maximum_interval',
					 'maximum_attempts', 'non_retryable_error_types') THEN
			PERFORM durable._error('22023', format('unknown field "%s" in %s', k, what), NULL,
				'A retry policy has initial_interval, backoff_coefficient, maximum_interval, maximum_attempts and non_retryable_error_types.');
		END IF;
	END LOOP;
	initial := coalesce(durable._interval(p->>'initial_interval', what || '.initial_interval'), '1 second');
	IF initial <= '0'::interval THEN
		PERFORM durable._error('22023', format('%s.initial_interval must be positive', what));
	END IF;
	IF p ? 'backoff_coefficient' AND jsonb_typeof(p->'backoff_coefficient') <> 'null' THEN
		IF jsonb_typeof(p->'backoff_coefficient') <> 'number' THEN
			PERFORM durable._error('22023', format('%s.backoff_coefficient must be a number', what));
		END IF;
		coefficient := (p->>'backoff_coefficient')::numeric;
		IF coefficient < 1 THEN
			PERFORM durable._error('22023', format('%s.backoff_coefficient must be at least 1, not %s', what, coefficient));
		END IF;
	ELSE
		coefficient := 2.0;
	END IF;
	maximum := coalesce(durable._interval(p->>'maximum_interval', what || '.maximum_interval'), initial * 100);
	IF maximum < initial THEN
		PERFORM durable._error('22023', format('%s.maximum_interval must not be less than initial_interval', what));
	END IF;
	IF p ? 'maximum_attempts' AND jsonb_typeof(p->'maximum_attempts') <> 'null' THEN
		IF jsonb_typeof(p->'maximum_attempts') <> 'number' OR (p->>'maximum_attempts')::numeric < 0
		   OR (p->>'maximum_attempts')::numeric <> trunc((p->>'maximum_attempts')::numeric) THEN
			PERFORM durable._error('22023', format('%s.maximum_attempts must be a whole number, 0 for unlimited', what));
		END IF;
		attempts := (p->>'maximum_attempts')::integer;
	ELSE
		attempts := 0;
	END IF;
	types := coalesce(p->'non_retryable_error_types', '[]');
	IF jsonb_typeof(types) = 'null' THEN
		types := '[]';
	END IF;
	IF jsonb_typeof(types) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(types) e WHERE jsonb_typeof(e) <> 'string') THEN
		PERFORM durable._error('22023', format('%s.non_retryable_error_types must be an array of strings', what));
	END IF;
	RETURN jsonb_build_object('initial_interval', durable._duration(initial),
							  'backoff_coefficient', coefficient,
							  'maximum_interval', durable._duration(maximum),
							  'maximum_attempts', attempts,
							  'non_retryable_error_types', types);
END
$$;

/*
 * Retry decision for a failed attempt: returns the backoff before the next
 * attempt, or NULL and the retry state explaining why there is none.
 */
CREATE FUNCTION durable._retry_backoff(policy jsonb, attempt integer, failure jsonb,
									   expiration timestamptz, cancel_requested boolean,
									   OUT backoff interval, OUT retry_state text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	initial interval;
	maximum interval;
BEGIN
	backoff := NULL;
	IF policy IS NULL THEN
		retry_state := 'RETRY_POLICY_NOT_SET';
		RETURN;
	END IF;
	IF cancel_requested THEN
		retry_state := 'CANCEL_REQUESTED';
		RETURN;
	END IF;
	IF coalesce((failure->>'non_retryable')::boolean, false)
	   OR (failure->>'type') IS NOT NULL AND policy->'non_retryable_error_types' ? (failure->>'type') THEN
		retry_state := 'NON_RETRYABLE_FAILURE';
		RETURN;
	END IF;
	IF (policy->>'maximum_attempts')::integer > 0 AND attempt >= (policy->>'maximum_attempts')::integer THEN
		retry_state := 'MAXIMUM_ATTEMPTS_REACHED';
		RETURN;
	END IF;
	initial := (policy->>'initial_interval')::interval;
	maximum := (policy->>'maximum_interval')::interval;
	backoff := initial * power((policy->>'backoff_coefficient')::numeric, attempt - 1)::double precision;
	IF maximum IS NOT NULL AND backoff > maximum THEN
		backoff := maximum;
	END IF;
	IF expiration IS NOT NULL AND clock_timestamp() + backoff >= expiration THEN
		backoff := NULL;
		retry_state := 'TIMEOUT';
		RETURN;
	END IF;
	retry_state := 'IN_PROGRESS';
END
$$;

-- Insert a durable deadline and wake the engine worker at commit if needed.
CREATE FUNCTION durable._set_timer(p_run uuid, p_kind text, p_timer_id text, p_at timestamptz,
								   p_started_event_id bigint DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO durable.timers (run_id, kind, timer_id, fire_time, started_event_id)
	VALUES (p_run, p_kind, p_timer_id, p_at, p_started_event_id)
	ON CONFLICT (run_id, kind, timer_id) DO UPDATE SET fire_time = EXCLUDED.fire_time,
		started_event_id = EXCLUDED.started_event_id;
	PERFORM durable._notify_timer(p_at);
END
$$;

-- Append events to a run's history; the caller holds the run's row lock.
CREATE FUNCTION durable._append(p_run uuid, p_events jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	last_id bigint;
BEGIN
	UPDATE durable.workflows SET history_length = history_length + jsonb_array_length(p_events)
	WHERE run_id = p_run
	RETURNING history_length INTO last_id;
	INSERT INTO durable.history (run_id, event_id, event_type, event_time, attributes)
	SELECT p_run, last_id - jsonb_array_length(p_events) + e.ord, e.ev->>'event_type',
		   coalesce((e.ev->>'event_time')::timestamptz, clock_timestamp()),
		   CASE WHEN e.ev->'attributes' ? 'started_event_id' AND e.ev->'attributes'->'started_event_id' = '"previous"'
				THEN jsonb_set(e.ev->'attributes', '{started_event_id}',
							   to_jsonb(last_id - jsonb_array_length(p_events) + e.ord - 1))
				ELSE coalesce(e.ev->'attributes', '{}') END
	FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(ev, ord);
	RETURN last_id;
END
$$;

/*
 * A run's stored history as the JSON array workers receive (docs/protocol.md).
 * PL/pgSQL, not SQL: a SQL function that cannot be inlined is planned anew
 * on every call, and this one runs on every workflow task claim.
 */
CREATE FUNCTION durable._history_json(p_run uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('event_id', h.event_id, 'event_type', h.event_type,
														 'event_time', h.event_time, 'attributes', h.attributes)
									  ORDER BY h.event_id), '[]')
			FROM durable.history h WHERE h.run_id = p_run);
END
$$;

-- The token of an activity attempt (the format _parse_token reads).
CREATE FUNCTION durable._activity_task_token(a durable.activities) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT format('a:%s:%s:%s:0', a.run_id, a.scheduled_event_id, a.attempt)
$$;

-- Make a ready task row and wake a poller at commit.
CREATE FUNCTION durable._enqueue(p_run uuid, p_seid bigint, p_kind text, p_queue text,
								 p_priority integer, p_expire timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO durable.tasks (run_id, scheduled_event_id, kind, task_queue, priority, ready_time, expire_time)
	VALUES (p_run, p_seid, p_kind, p_queue, p_priority, clock_timestamp(), p_expire)
	ON CONFLICT (run_id, scheduled_event_id) DO UPDATE
		SET ready_time = EXCLUDED.ready_time, expire_time = EXCLUDED.expire_time,
			worker_id = NULL, started_time = NULL, lease_deadline = NULL;
	PERFORM durable._notify_task(p_queue, p_kind);
	IF p_expire IS NOT NULL THEN
		PERFORM durable._notify_timer(p_expire);
	END IF;
END
$$;

/*
 * Schedule a workflow task attempt.  With p_write_event the
 * WorkflowTaskScheduled event goes to history now; without, the attempt is
 * transient and the event is written when the attempt completes.
 */
CREATE FUNCTION durable._schedule_wft(w durable.workflows, p_attempt integer, p_write_event boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	seid bigint := NULL;
BEGIN
	IF p_write_event THEN
		seid := durable._append(w.run_id, jsonb_build_array(jsonb_build_object(
			'event_type', 'WorkflowTaskScheduled',
			'attributes', jsonb_build_object('task_queue', w.task_queue,
											 'start_to_close_timeout', durable._duration(w.task_timeout),
											 'attempt', p_attempt))));
	END IF;
	UPDATE durable.workflows
	SET wft_state = 'scheduled', wft_seq = wft_seq + 1, wft_attempt = p_attempt,
		wft_scheduled_event_id = seid, wft_scheduled_time = clock_timestamp()
	WHERE run_id = w.run_id;
	PERFORM durable._enqueue(w.run_id, 0, 'workflow', w.task_queue, w.priority);
END
$$;

/*
 * Deliver events from outside a workflow task (signals, activity results,
 * timer fires, cancel requests) to a running run whose row the caller has
 * locked.  While a workflow task runs they are buffered; otherwise they are
 * appended and a workflow task is scheduled if none is.
 */
CREATE FUNCTION durable._deliver(p_run uuid, p_events jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	t durable.tasks;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = p_run;
	IF w.wft_state = 'scheduled' THEN
		SELECT * INTO t FROM durable.tasks WHERE run_id = p_run AND scheduled_event_id = 0 FOR UPDATE;
		IF FOUND AND t.started_time IS NOT NULL THEN
			INSERT INTO durable.buffered_events (run_id, event_type, event_time, attributes)
			SELECT p_run, e->>'event_type', clock_timestamp(), e->'attributes'
			FROM jsonb_array_elements(p_events) AS e;
			RETURN;
		END IF;
		PERFORM durable._append(p_run, p_events);
		IF w.wft_scheduled_event_id IS NULL THEN
			-- a transient retry becomes a regular task that carries the new events
			PERFORM durable._schedule_wft(w, 1, true);
		ELSE
			-- re-announce: a poller may have skipped the row we locked
			PERFORM durable._notify_task(w.task_queue, 'workflow');
		END IF;
		RETURN;
	END IF;
	PERFORM durable._append(p_run, p_events);
	IF w.wft_state = 'none' THEN
		PERFORM durable._schedule_wft(w, 1, true);
	ELSIF w.wft_state = 'backoff' THEN
		DELETE FROM durable.timers WHERE run_id = p_run AND kind = 'wft_retry' AND timer_id = '';
		PERFORM durable._schedule_wft(w, 1, true);
	END IF;
	-- 'delayed': the start delay runs its course; the first task sees the events
END
$$;

-- Move buffered events to history.  Returns how many there were.
CREATE FUNCTION durable._flush_buffer(p_run uuid) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb;
BEGIN
	WITH gone AS (
		DELETE FROM durable.buffered_events WHERE run_id = p_run
		RETURNING seq, event_type, event_time, attributes
	)
	SELECT jsonb_agg(jsonb_build_object('event_type', event_type, 'event_time', event_time,
										'attributes', attributes) ORDER BY seq)
	INTO evs FROM gone;
	IF evs IS NULL THEN
		RETURN 0;
	END IF;
	PERFORM durable._append(p_run, evs);
	RETURN jsonb_array_length(evs);
END
$$;

/*
 * Create a run: the row, WorkflowExecutionStarted (plus an optional first
 * signal, for signal-with-start), the first workflow task or its start
 * delay, and the run and execution timeouts.
 */
CREATE FUNCTION durable._start_run(
	p_run uuid, p_workflow_id text, p_type text, p_queue text, p_input jsonb,
	p_execution_timeout interval, p_run_timeout interval, p_task_timeout interval,
	p_execution_deadline timestamptz, p_first_run uuid, p_previous_run uuid,
	p_attempt integer, p_retry_policy jsonb, p_delay interval, p_request_id text,
	p_search_attributes jsonb, p_memo jsonb, p_priority integer, p_identity text,
	p_signal jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	now_ timestamptz := clock_timestamp();
	evs jsonb;
BEGIN
	INSERT INTO durable.workflows (run_id, workflow_id, workflow_type, task_queue, input, start_time,
		execution_timeout, run_timeout, task_timeout, execution_deadline, first_run_id, previous_run_id,
		attempt, retry_policy, search_attributes, memo, priority, request_id)
	VALUES (p_run, p_workflow_id, p_type, p_queue, p_input, now_,
		p_execution_timeout, p_run_timeout, p_task_timeout, p_execution_deadline, p_first_run, p_previous_run,
		p_attempt, p_retry_policy, coalesce(p_search_attributes, '{}'), p_memo, p_priority, p_request_id)
	RETURNING * INTO w;

	evs := jsonb_build_array(jsonb_build_object('event_type', 'WorkflowExecutionStarted',
		'attributes', jsonb_build_object(
			'workflow_type', p_type, 'task_queue', p_queue, 'input', p_input,
			'workflow_execution_timeout', durable._duration(p_execution_timeout),
			'workflow_run_timeout', durable._duration(p_run_timeout),
			'workflow_task_timeout', durable._duration(p_task_timeout),
			'attempt', p_attempt, 'first_execution_run_id', p_first_run,
			'continued_execution_run_id', p_previous_run, 'retry_policy', p_retry_policy,
			'first_workflow_task_backoff', durable._duration(p_delay),
			'search_attributes', coalesce(p_search_attributes, '{}'), 'memo', p_memo,
			'priority', p_priority, 'identity', p_identity, 'request_id', p_request_id)));
	IF p_signal IS NOT NULL THEN
		evs := evs || jsonb_build_array(p_signal);
	END IF;
	PERFORM durable._append(p_run, evs);

	IF p_delay IS NOT NULL AND p_delay > '0'::interval THEN
		UPDATE durable.workflows SET wft_state = 'delayed' WHERE run_id = p_run;
		PERFORM durable._set_timer(p_run, 'workflow_start', '', now_ + p_delay);
	ELSE
		PERFORM durable._schedule_wft(w, 1, true);
	END IF;
	IF p_run_timeout IS NOT NULL THEN
		PERFORM durable._set_timer(p_run, 'workflow_run_timeout', '', now_ + coalesce(p_delay, '0') + p_run_timeout);
	END IF;
	IF p_execution_deadline IS NOT NULL THEN
		PERFORM durable._set_timer(p_run, 'workflow_execution_timeout', '', p_execution_deadline);
	END IF;
END
$$;

/*
 * Close a run whose row the caller has locked: drop its pending state,
 * record the outcome and announce the close.  The caller has written the
 * closing event.
 */
CREATE FUNCTION durable._close_run(p_run uuid, p_status text, p_result jsonb, p_failure jsonb,
								   p_next_run uuid DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
BEGIN
	UPDATE durable.workflows
	SET status = p_status, result = p_result, failure = p_failure, close_time = clock_timestamp(),
		next_run_id = p_next_run, wft_state = 'none', wft_scheduled_event_id = NULL
	WHERE run_id = p_run
	RETURNING * INTO w;
	DELETE FROM durable.activities WHERE run_id = p_run;
	DELETE FROM durable.timers WHERE run_id = p_run;
	DELETE FROM durable.tasks WHERE run_id = p_run;
	DELETE FROM durable.buffered_events WHERE run_id = p_run;
	DELETE FROM durable.signal_requests WHERE run_id = p_run;
	PERFORM durable._notify_close(w.workflow_id,
		jsonb_build_object('workflow_id', w.workflow_id, 'run_id', w.run_id,
						   'status', p_status, 'next_run_id', p_next_run)::text);
END
$$;

/*
 * A run failed or timed out: close it, or, if its retry policy allows,
 * close it and start the next attempt as a new run.  Returns the close
 * event's attributes' new_execution_run_id (NULL when not retried).
 */
CREATE FUNCTION durable._fail_run(p_run uuid, p_status text, p_event_type text, p_attributes jsonb,
								  p_failure jsonb, p_wft_completed bigint DEFAULT NULL) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	r record;
	next_run uuid := NULL;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = p_run;
	SELECT * INTO r FROM durable._retry_backoff(w.retry_policy, w.attempt, p_failure,
												w.execution_deadline, false);
	IF r.backoff IS NOT NULL THEN
		next_run := gen_random_uuid();
	END IF;
	PERFORM durable._append(p_run, jsonb_build_array(jsonb_build_object('event_type', p_event_type,
		'attributes', p_attributes || jsonb_build_object('retry_state', r.retry_state,
			'new_execution_run_id', next_run, 'workflow_task_completed_event_id', p_wft_completed))));
	PERFORM durable._close_run(p_run, p_status, NULL, p_failure, next_run);
	IF next_run IS NOT NULL THEN
		PERFORM durable._start_run(next_run, w.workflow_id, w.workflow_type, w.task_queue, w.input,
			w.execution_timeout, w.run_timeout, w.task_timeout, w.execution_deadline, w.first_run_id,
			w.run_id, w.attempt + 1, w.retry_policy, r.backoff, NULL, w.search_attributes, w.memo,
			w.priority, NULL, NULL);
	END IF;
	RETURN next_run;
END
$$;

/*
 * Parse a task token:
 *	'w:<run>:<seq>:<started event id>:<started time, microseconds since 1970>',
 *	'a:<run>:<scheduled event id>:<attempt>:0' or 'q:<run>:<query id>:0:0'.
 * A workflow task's token carries what its worker saw, so that its outcome
 * is recorded the same way even if the lease was lost in a crash.
 */
CREATE FUNCTION durable._parse_token(p_token text, OUT kind text, OUT run_id uuid, OUT n1 bigint, OUT n2 bigint,
									 OUT n3 bigint)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	parts text[];
BEGIN
	parts := string_to_array(p_token, ':');
	IF p_token IS NULL OR array_length(parts, 1) <> 5 OR parts[1] NOT IN ('w', 'a', 'q')
	   OR parts[2] !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	   OR parts[3] !~ '^[0-9]{1,18}$' OR parts[4] !~ '^[0-9]{1,18}$' OR parts[5] !~ '^[0-9]{1,18}$' THEN
		PERFORM durable._error('22P02', format('invalid task token "%s"', left(coalesce(p_token, 'NULL'), 100)),
			NULL, 'Pass the task_token exactly as durable.poll_task returned it.');
	END IF;
	kind := CASE parts[1] WHEN 'w' THEN 'workflow' WHEN 'q' THEN 'query' ELSE 'activity' END;
	run_id := parts[2]::uuid;
	n1 := parts[3]::bigint;
	n2 := parts[4]::bigint;
	n3 := parts[5]::bigint;
END
$$;

-- Reject a token that no longer names an outstanding task.
CREATE FUNCTION durable._stale(p_token text, p_why text) RETURNS void
LANGUAGE sql AS $$
	SELECT durable._error('DU004', format('stale task token "%s"', left(p_token, 100)), p_why,
		'The task timed out, was completed already, or its workflow closed; poll for a new task.');
$$;

/*
 * Lock the run and workflow task a workflow task token names, or raise
 * stale_task_token.  Returns the run and the lease (if the queue still has
 * one: after a crash it may not).
 */
CREATE FUNCTION durable._lock_wft(p_token text, OUT w durable.workflows, OUT t durable.tasks)
LANGUAGE plpgsql AS $$
DECLARE
	tok record;
	started bigint;
BEGIN
	tok := durable._parse_token(p_token);
	IF tok.kind <> 'workflow' THEN
		PERFORM durable._error('22023', format('task token is for a task of kind %s, not workflow', tok.kind), NULL,
			'Use durable.complete_activity or durable.fail_activity for activity tasks.');
	END IF;
	SELECT * INTO w FROM durable.workflows WHERE run_id = tok.run_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM durable._stale(p_token, 'The run does not exist.');
	END IF;
	IF w.status <> 'running' THEN
		PERFORM durable._stale(p_token, format('The run is %s.', w.status));
	END IF;
	-- the started event id the task was handed out with must still be next
	started := w.history_length + 1;
	IF w.wft_scheduled_event_id IS NULL THEN
		started := started + 1;
	END IF;
	IF w.wft_state <> 'scheduled' OR w.wft_seq <> tok.n1 OR started <> tok.n2 THEN
		PERFORM durable._stale(p_token, 'The workflow task is no longer outstanding.');
	END IF;
	SELECT * INTO t FROM durable.tasks WHERE run_id = w.run_id AND scheduled_event_id = 0 FOR UPDATE;
	-- WorkflowTaskStarted records the time the worker was given (its
	-- workflow clock), which the lease loses in a crash but the token keeps
	t.started_time := to_timestamp(tok.n3 / 1000000.0);
END
$$;

/*
 * Write the events that open a workflow task's outcome: the transient
 * WorkflowTaskScheduled if any, then WorkflowTaskStarted.  Returns the
 * started event id.
 */
CREATE FUNCTION durable._wft_started_events(w durable.workflows, t durable.tasks, p_identity text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb := '[]';
	seid bigint := w.wft_scheduled_event_id;
BEGIN
	IF seid IS NULL THEN
		seid := w.history_length + 1;
		evs := jsonb_build_array(jsonb_build_object('event_type', 'WorkflowTaskScheduled',
			'event_time', w.wft_scheduled_time,
			'attributes', jsonb_build_object('task_queue', w.task_queue,
				'start_to_close_timeout', durable._duration(w.task_timeout), 'attempt', w.wft_attempt)));
	END IF;
	evs := evs || jsonb_build_array(jsonb_build_object('event_type', 'WorkflowTaskStarted',
		'event_time', coalesce(t.started_time, clock_timestamp()),
		'attributes', jsonb_build_object('scheduled_event_id', seid,
			'identity', coalesce(p_identity, t.worker_id))));
	RETURN durable._append(w.run_id, evs);
END
$$;

/*
 * A workflow task attempt failed or timed out.  The first attempt's
 * failure is written to history; retries of it are transient and write
 * nothing until one completes, unless new events arrived meanwhile.
 */
CREATE FUNCTION durable._wft_failed(w durable.workflows, t durable.tasks, p_event_type text,
									p_attributes jsonb, p_identity text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	started bigint;
	flushed integer;
	next_attempt integer := w.wft_attempt + 1;
	delay interval;
BEGIN
	DELETE FROM durable.tasks WHERE run_id = w.run_id AND scheduled_event_id = 0;
	IF w.wft_scheduled_event_id IS NOT NULL THEN
		started := durable._wft_started_events(w, t, p_identity);
		PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', p_event_type,
			'attributes', p_attributes || jsonb_build_object('scheduled_event_id', w.wft_scheduled_event_id,
																 'started_event_id', started))));
	END IF;
	flushed := durable._flush_buffer(w.run_id);
	SELECT * INTO w FROM durable.workflows WHERE run_id = w.run_id;
	IF flushed > 0 THEN
		-- new events: a regular task carries them
		PERFORM durable._schedule_wft(w, 1, true);
		RETURN;
	END IF;
	-- attempts 2 and 3 retry at once, later ones back off: 1s, 2s, 4s ... 10 min
	delay := CASE WHEN next_attempt <= 3 THEN NULL
				  ELSE least(interval '1 second' * power(2, least(next_attempt - 4, 20)), interval '10 minutes') END;
	IF delay IS NULL THEN
		PERFORM durable._schedule_wft(w, next_attempt, false);
	ELSE
		UPDATE durable.workflows SET wft_state = 'backoff', wft_attempt = next_attempt,
			wft_scheduled_event_id = NULL
		WHERE run_id = w.run_id;
		PERFORM durable._set_timer(w.run_id, 'wft_retry', '', clock_timestamp() + delay);
	END IF;
END
$$;

/*
 * Close an activity: write ActivityTaskStarted (if an attempt was running)
 * and the closing event, delivered like any outside event, and forget the
 * activity.
 */
CREATE FUNCTION durable._close_activity(a durable.activities, p_identity text, p_event_type text,
										p_attributes jsonb, p_started boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb;
BEGIN
	DELETE FROM durable.activities WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	DELETE FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	DELETE FROM durable.timers WHERE run_id = a.run_id AND kind IN ('activity_retry', 'activity_schedule_to_close')
		AND timer_id = a.scheduled_event_id::text;
	evs := jsonb_build_array(jsonb_build_object('event_type', p_event_type,
		'attributes', p_attributes || jsonb_build_object('scheduled_event_id', a.scheduled_event_id,
			'started_event_id', CASE WHEN p_started THEN to_jsonb('previous'::text) END)));
	IF p_started THEN
		-- the attempt's start is recorded only now, with the attempt that closed it
		evs := jsonb_build_array(jsonb_build_object('event_type', 'ActivityTaskStarted',
			'attributes', jsonb_build_object('scheduled_event_id', a.scheduled_event_id,
				'identity', coalesce(p_identity, a.last_worker_id), 'attempt', a.attempt,
				'last_failure', a.last_failure))) || evs;
	END IF;
	PERFORM durable._deliver(a.run_id, evs);
END
$$;

/*
 * An activity attempt failed or timed out: schedule the next attempt after
 * its backoff, or close the activity.  Caller holds the run's lock.
 */
CREATE FUNCTION durable._activity_attempt_failed(a durable.activities, p_failure jsonb, p_identity text,
												 p_timeout boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	SELECT * INTO r FROM durable._retry_backoff(a.retry_policy, a.attempt, p_failure, a.expiration_time,
												a.cancel_requested_event_id IS NOT NULL);
	IF r.backoff IS NULL THEN
		IF p_timeout THEN
			PERFORM durable._close_activity(a, p_identity, 'ActivityTaskTimedOut',
				jsonb_build_object('failure', p_failure, 'retry_state', r.retry_state));
		ELSE
			PERFORM durable._close_activity(a, p_identity, 'ActivityTaskFailed',
				jsonb_build_object('failure', p_failure, 'identity', p_identity, 'retry_state', r.retry_state));
		END IF;
		RETURN;
	END IF;
	DELETE FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	UPDATE durable.activities
	SET attempt = attempt + 1, state = 'backoff', last_failure = p_failure,
		last_worker_id = coalesce(p_identity, last_worker_id)
	WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	PERFORM durable._set_timer(a.run_id, 'activity_retry', a.scheduled_event_id::text,
							   clock_timestamp() + r.backoff);
END
$$;

/*
 * Lock the run and activity an activity token names, or raise
 * stale_task_token.  Also returns the lease, if there is one.
 */
CREATE FUNCTION durable._lock_activity(p_token text,
									   OUT w durable.workflows, OUT a durable.activities, OUT t durable.tasks)
LANGUAGE plpgsql AS $$
DECLARE
	tok record;
BEGIN
	tok := durable._parse_token(p_token);
	IF tok.kind <> 'activity' THEN
		PERFORM durable._error('22023', format('task token is for a task of kind %s, not activity', tok.kind), NULL,
			'Use durable.complete_workflow_task or durable.fail_workflow_task for workflow tasks.');
	END IF;
	SELECT * INTO w FROM durable.workflows WHERE run_id = tok.run_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM durable._stale(p_token, 'The run does not exist.');
	END IF;
	IF w.status <> 'running' THEN
		PERFORM durable._stale(p_token, format('The run is %s.', w.status));
	END IF;
	SELECT * INTO a FROM durable.activities
	WHERE run_id = tok.run_id AND scheduled_event_id = tok.n1 FOR UPDATE;
	IF NOT FOUND OR a.attempt <> tok.n2 OR a.state <> 'scheduled' THEN
		PERFORM durable._stale(p_token, 'The activity attempt is no longer outstanding.');
	END IF;
	SELECT * INTO t FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id FOR UPDATE;
END
$$;

-- The token of an activity's current attempt, for the _by_id functions.
CREATE FUNCTION durable._activity_token(p_workflow_id text, p_activity_id text, p_run_id uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	a durable.activities;
BEGIN
	w := durable._find_run(p_workflow_id, p_run_id, true);
	SELECT * INTO a FROM durable.activities WHERE run_id = w.run_id AND activity_id = p_activity_id;
	IF NOT FOUND THEN
		PERFORM durable._error('DU008', format('activity "%s" not found in workflow "%s"', p_activity_id, p_workflow_id),
			NULL, 'The activity may have completed, timed out or never been scheduled.');
	END IF;
	IF a.state <> 'scheduled' THEN
		PERFORM durable._error('55000', format('activity "%s" is waiting to retry', p_activity_id),
			format('Attempt %s starts at its backoff''s end.', a.attempt), 'Try again when the attempt has started.');
	END IF;
	RETURN durable._activity_task_token(a);
END
$$;

/*
 * Find a run: the given run of a workflow id, or its latest run.  With
 * p_running the run must be running (workflow_not_running otherwise).
 * Locks the row when p_lock.
 */
CREATE FUNCTION durable._find_run(p_workflow_id text, p_run_id uuid, p_running boolean,
								  p_lock boolean DEFAULT false) RETURNS durable.workflows
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
BEGIN
	IF p_workflow_id IS NULL THEN
		PERFORM durable._error('22004', 'workflow_id must not be NULL');
	END IF;
	IF p_run_id IS NOT NULL THEN
		SELECT * INTO w FROM durable.workflows WHERE run_id = p_run_id AND workflow_id = p_workflow_id;
	ELSE
		SELECT * INTO w FROM durable.workflows WHERE workflow_id = p_workflow_id AND status = 'running';
		IF NOT FOUND THEN
			SELECT * INTO w FROM durable.workflows WHERE workflow_id = p_workflow_id
			ORDER BY start_time DESC, close_time DESC NULLS FIRST LIMIT 1;
		END IF;
	END IF;
	IF NOT FOUND THEN
		IF p_run_id IS NOT NULL THEN
			PERFORM durable._error('DU001', format('workflow "%s" has no run %s', p_workflow_id, p_run_id),
				NULL, 'Check the workflow id and run id, or omit run_id for the latest run.');
		END IF;
		PERFORM durable._error('DU001', format('workflow "%s" not found', left(p_workflow_id, 200)),
			NULL, 'Check the workflow id; durable.workflows lists every run.');
	END IF;
	IF p_lock THEN
		SELECT * INTO w FROM durable.workflows WHERE run_id = w.run_id FOR UPDATE;
	END IF;
	IF p_running AND w.status <> 'running' THEN
		PERFORM durable._error('DU003', format('workflow "%s" is not running', left(p_workflow_id, 200)),
			format('Run %s is %s.', w.run_id, w.status), 'Only running workflows accept this request.');
	END IF;
	RETURN w;
END
$$;

-- Serialise requests about one workflow id (start, signal-with-start).
CREATE FUNCTION durable._lock_workflow_id(p_workflow_id text) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_catalog.pg_advisory_xact_lock(1685418604, pg_catalog.hashtext(p_workflow_id));
$$;

-- Check an enumerated argument.
CREATE FUNCTION durable._check_choice(p_value text, p_what text, p_choices text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_value IS NULL THEN
		PERFORM durable._error('22004', format('%s must not be NULL', p_what), NULL,
			format('Use one of: %s.', array_to_string(p_choices, ', ')));
	END IF;
	IF NOT p_value = ANY (p_choices) THEN
		PERFORM durable._error('22023', format('unknown %s "%s"', p_what, p_value), NULL,
			format('Use one of: %s.', array_to_string(p_choices, ', ')));
	END IF;
	RETURN p_value;
END
$$;

-- Check that an interval argument is not negative (NULL passes).
CREATE FUNCTION durable._check_interval(p_value interval, p_what text, p_positive boolean DEFAULT false)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_value < '0'::interval OR (p_positive AND p_value = '0'::interval) THEN
		PERFORM durable._error('22023', format('%s must be %s: %s', p_what,
			CASE WHEN p_positive THEN 'positive' ELSE 'zero or positive' END, p_value));
	END IF;
	RETURN p_value;
END
$$;

/*
 * The start logic shared by start_workflow and signal_with_start_workflow:
 * request-id deduplication, id conflict and reuse policies, then
 * _start_run.  Returns the run id (an existing one for a deduplicated
 * request or use_existing).
 */
CREATE FUNCTION durable._start(
	p_type text, p_input jsonb, p_workflow_id text, p_queue text,
	p_execution_timeout interval, p_run_timeout interval, p_task_timeout interval,
	p_reuse text, p_conflict text, p_retry_policy jsonb, p_delay interval, p_request_id text,
	p_search_attributes jsonb, p_memo jsonb, p_priority integer, p_signal jsonb,
	OUT run_id uuid, OUT existing boolean)
LANGUAGE plpgsql AS $$
DECLARE
	cur durable.workflows;
	last_status text;
	policy jsonb := NULL;
	now_ timestamptz := clock_timestamp();
BEGIN
	PERFORM durable._check_id(p_type, 'workflow_type');
	PERFORM durable._check_id(p_workflow_id, 'workflow_id');
	PERFORM durable._check_id(p_queue, 'task_queue');
	PERFORM durable._check_id(p_request_id, 'request_id');
	PERFORM durable._check_payload(p_input, 'input');
	PERFORM durable._check_payload(p_memo, 'memo');
	PERFORM durable._check_payload(p_search_attributes, 'search_attributes');
	PERFORM durable._check_choice(p_reuse, 'id_reuse_policy',
		'{allow_duplicate,allow_duplicate_failed_only,reject_duplicate}');
	PERFORM durable._check_choice(p_conflict, 'id_conflict_policy', '{fail,use_existing,terminate_existing}');
	PERFORM durable._check_interval(p_execution_timeout, 'execution_timeout', true);
	PERFORM durable._check_interval(p_run_timeout, 'run_timeout', true);
	PERFORM durable._check_interval(p_task_timeout, 'task_timeout', true);
	PERFORM durable._check_interval(p_delay, 'start_delay');
	IF p_task_timeout IS NULL OR p_queue IS NULL THEN
		PERFORM durable._error('22004', format('%s must not be NULL', CASE WHEN p_queue IS NULL THEN 'task_queue' ELSE 'task_timeout' END));
	END IF;
	IF p_search_attributes IS NOT NULL AND jsonb_typeof(p_search_attributes) <> 'object' THEN
		PERFORM durable._error('22023', 'search_attributes must be a JSON object');
	END IF;
	IF p_retry_policy IS NOT NULL THEN
		policy := durable._retry_policy(p_retry_policy, 'retry_policy');
	END IF;
	PERFORM durable._lock_workflow_id(p_workflow_id);

	IF p_request_id IS NOT NULL THEN
		SELECT w.run_id INTO run_id FROM durable.workflows w
		WHERE w.workflow_id = p_workflow_id AND w.request_id = p_request_id
		ORDER BY w.start_time DESC LIMIT 1;
		IF FOUND THEN
			existing := true;
			RETURN;
		END IF;
	END IF;

	SELECT * INTO cur FROM durable.workflows w WHERE w.workflow_id = p_workflow_id AND w.status = 'running'
	FOR UPDATE;
	IF FOUND THEN
		IF p_conflict = 'use_existing' THEN
			run_id := cur.run_id;
			existing := true;
			RETURN;
		ELSIF p_conflict = 'fail' THEN
			PERFORM durable._error('DU002', format('workflow "%s" is already running', left(p_workflow_id, 200)),
				format('Run %s is running.', cur.run_id),
				'Use id_conflict_policy => ''use_existing'' or ''terminate_existing'', or another workflow id.');
		END IF;
		PERFORM durable._terminate(cur.run_id, 'terminated by a start with id_conflict_policy terminate_existing',
								   NULL);
	END IF;

	IF p_reuse <> 'allow_duplicate' THEN
		SELECT w.status INTO last_status FROM durable.workflows w WHERE w.workflow_id = p_workflow_id
		ORDER BY w.start_time DESC LIMIT 1;
		IF FOUND AND (p_reuse = 'reject_duplicate'
					  OR last_status NOT IN ('failed', 'canceled', 'terminated', 'timed_out')) THEN
			PERFORM durable._error('DU002', format('workflow id "%s" cannot be reused', left(p_workflow_id, 200)),
				format('id_reuse_policy is %s and the last run is %s.', p_reuse, last_status),
				'Use another workflow id or another id_reuse_policy.');
		END IF;
	END IF;

	run_id := gen_random_uuid();
	existing := false;
	PERFORM durable._start_run(run_id, p_workflow_id, p_type, p_queue, p_input,
		p_execution_timeout, p_run_timeout, p_task_timeout,
		now_ + p_execution_timeout, run_id, NULL, 1, policy, p_delay, p_request_id,
		p_search_attributes, p_memo, coalesce(p_priority, 0), session_user, p_signal);
END
$$;

-- Terminate a run whose row the caller has locked.
CREATE FUNCTION durable._terminate(p_run uuid, p_reason text, p_identity text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM durable._flush_buffer(p_run);
	PERFORM durable._append(p_run, jsonb_build_array(jsonb_build_object('event_type', 'WorkflowExecutionTerminated',
		'attributes', jsonb_build_object('reason', p_reason, 'identity', coalesce(p_identity, session_user)))));
	PERFORM durable._close_run(p_run, 'terminated', NULL,
		jsonb_build_object('message', coalesce(p_reason, 'terminated'), 'type', 'TerminatedFailure',
						   'non_retryable', true, 'details', NULL));
END
$$;

-- The signal event for a signal request, checked.
CREATE FUNCTION durable._signal_event(p_signal_name text, p_payload jsonb, p_request_id text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	IF p_signal_name IS NULL THEN
		PERFORM durable._error('22004', 'signal_name must not be NULL');
	END IF;
	PERFORM durable._check_id(p_signal_name, 'signal_name');
	PERFORM durable._check_id(p_request_id, 'request_id');
	PERFORM durable._check_payload(p_payload, 'signal payload');
	RETURN jsonb_build_object('event_type', 'WorkflowExecutionSignaled',
		'attributes', jsonb_build_object('signal_name', p_signal_name, 'input', p_payload,
										 'identity', session_user, 'request_id', p_request_id));
END
$$;

--------------------------------------------------------------------------
-- 4a. Client API
--------------------------------------------------------------------------

CREATE FUNCTION durable.start_workflow(
	workflow_type text,
	input jsonb DEFAULT NULL,
	workflow_id text DEFAULT NULL,
	task_queue text DEFAULT 'default',
	execution_timeout interval DEFAULT NULL,
	run_timeout interval DEFAULT NULL,
	task_timeout interval DEFAULT '10 seconds',
	id_reuse_policy text DEFAULT 'allow_duplicate',
	id_conflict_policy text DEFAULT 'fail',
	retry_policy jsonb DEFAULT NULL,
	start_delay interval DEFAULT NULL,
	request_id text DEFAULT NULL,
	search_attributes jsonb DEFAULT NULL,
	memo jsonb DEFAULT NULL,
	priority integer DEFAULT 0) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
BEGIN
	IF start_workflow.workflow_type IS NULL THEN
		PERFORM durable._error('22004', 'workflow_type must not be NULL');
	END IF;
	r := durable._start(start_workflow.workflow_type, start_workflow.input,
		coalesce(start_workflow.workflow_id, gen_random_uuid()::text), start_workflow.task_queue,
		start_workflow.execution_timeout, start_workflow.run_timeout, start_workflow.task_timeout,
		start_workflow.id_reuse_policy, start_workflow.id_conflict_policy, start_workflow.retry_policy,
		start_workflow.start_delay, start_workflow.request_id, start_workflow.search_attributes,
		start_workflow.memo, start_workflow.priority, NULL);
	RETURN r.run_id;
END
$$;
COMMENT ON FUNCTION durable.start_workflow IS 'Start a workflow run; returns its run id. Transactional: a rollback leaves no trace.';

CREATE FUNCTION durable.signal_workflow(
	workflow_id text,
	signal_name text,
	payload jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	request_id text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
	ev jsonb;
BEGIN
	ev := durable._signal_event(signal_workflow.signal_name, signal_workflow.payload, signal_workflow.request_id);
	w := durable._find_run(signal_workflow.workflow_id, signal_workflow.run_id, true, true);
	IF signal_workflow.request_id IS NOT NULL THEN
		INSERT INTO durable.signal_requests (run_id, request_id) VALUES (w.run_id, signal_workflow.request_id)
		ON CONFLICT DO NOTHING;
		IF NOT FOUND THEN
			RETURN;		-- delivered before
		END IF;
	END IF;
	PERFORM durable._deliver(w.run_id, jsonb_build_array(ev));
END
$$;
COMMENT ON FUNCTION durable.signal_workflow IS 'Send a signal to a running workflow. A repeated request_id is delivered once.';

CREATE FUNCTION durable.signal_with_start_workflow(
	workflow_id text,
	signal_name text,
	signal_payload jsonb DEFAULT NULL,
	workflow_type text DEFAULT NULL,
	input jsonb DEFAULT NULL,
	task_queue text DEFAULT 'default',
	execution_timeout interval DEFAULT NULL,
	run_timeout interval DEFAULT NULL,
	task_timeout interval DEFAULT '10 seconds',
	id_reuse_policy text DEFAULT 'allow_duplicate',
	retry_policy jsonb DEFAULT NULL,
	start_delay interval DEFAULT NULL,
	request_id text DEFAULT NULL,
	search_attributes jsonb DEFAULT NULL,
	memo jsonb DEFAULT NULL,
	priority integer DEFAULT 0) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ev jsonb;
	r record;
	w durable.workflows;
BEGIN
	IF signal_with_start_workflow.workflow_id IS NULL THEN
		PERFORM durable._error('22004', 'workflow_id must not be NULL');
	END IF;
	IF signal_with_start_workflow.workflow_type IS NULL THEN
		PERFORM durable._error('22004', 'workflow_type must not be NULL', NULL,
			'signal_with_start_workflow needs the workflow_type to start the workflow if it is not running.');
	END IF;
	ev := durable._signal_event(signal_with_start_workflow.signal_name, signal_with_start_workflow.signal_payload,
								signal_with_start_workflow.request_id);
	r := durable._start(signal_with_start_workflow.workflow_type, signal_with_start_workflow.input,
		signal_with_start_workflow.workflow_id, signal_with_start_workflow.task_queue,
		signal_with_start_workflow.execution_timeout, signal_with_start_workflow.run_timeout,
		signal_with_start_workflow.task_timeout, signal_with_start_workflow.id_reuse_policy, 'use_existing',
		signal_with_start_workflow.retry_policy, signal_with_start_workflow.start_delay, NULL,
		signal_with_start_workflow.search_attributes, signal_with_start_workflow.memo,
		signal_with_start_workflow.priority, ev);
	IF r.existing THEN
		SELECT * INTO w FROM durable.workflows WHERE durable.workflows.run_id = r.run_id FOR UPDATE;
		IF signal_with_start_workflow.request_id IS NOT NULL THEN
			INSERT INTO durable.signal_requests (run_id, request_id)
			VALUES (w.run_id, signal_with_start_workflow.request_id) ON CONFLICT DO NOTHING;
			IF NOT FOUND THEN
				RETURN r.run_id;
			END IF;
		END IF;
		PERFORM durable._deliver(w.run_id, jsonb_build_array(ev));
		IF w.wft_state = 'delayed' THEN
			-- as in Temporal, signal-with-start ends a start delay at once
			DELETE FROM durable.timers WHERE durable.timers.run_id = w.run_id AND kind = 'workflow_start';
			PERFORM durable._schedule_wft(w, 1, true);
		END IF;
	ELSIF signal_with_start_workflow.request_id IS NOT NULL THEN
		INSERT INTO durable.signal_requests (run_id, request_id) VALUES (r.run_id, signal_with_start_workflow.request_id);
	END IF;
	RETURN r.run_id;
END
$$;
COMMENT ON FUNCTION durable.signal_with_start_workflow IS 'Signal a workflow, starting it first if it is not running; atomic.';

CREATE FUNCTION durable.cancel_workflow(
	workflow_id text,
	reason text DEFAULT NULL,
	run_id uuid DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
BEGIN
	w := durable._find_run(cancel_workflow.workflow_id, cancel_workflow.run_id, true, true);
	IF w.cancel_requested THEN
		RETURN;		-- requested before: Temporal deduplicates
	END IF;
	UPDATE durable.workflows SET cancel_requested = true WHERE durable.workflows.run_id = w.run_id;
	PERFORM durable._deliver(w.run_id, jsonb_build_array(jsonb_build_object(
		'event_type', 'WorkflowExecutionCancelRequested',
		'attributes', jsonb_build_object('cause', cancel_workflow.reason, 'identity', session_user))));
END
$$;
COMMENT ON FUNCTION durable.cancel_workflow IS 'Request cancellation of a running workflow; its code decides what to do.';

CREATE FUNCTION durable.terminate_workflow(
	workflow_id text,
	reason text DEFAULT NULL,
	run_id uuid DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
BEGIN
	w := durable._find_run(terminate_workflow.workflow_id, terminate_workflow.run_id, true, true);
	PERFORM durable._terminate(w.run_id, terminate_workflow.reason, NULL);
END
$$;
COMMENT ON FUNCTION durable.terminate_workflow IS 'Terminate a running workflow at once; no workflow code runs.';

CREATE TYPE durable.workflow_description AS (
	workflow_id text,
	run_id uuid,
	workflow_type text,
	task_queue text,
	status text,
	start_time timestamptz,
	close_time timestamptz,
	history_length bigint,
	input jsonb,
	result jsonb,
	failure jsonb,
	attempt integer,
	cancel_requested boolean,
	search_attributes jsonb,
	memo jsonb,
	first_run_id uuid,
	previous_run_id uuid,
	next_run_id uuid,
	pending_workflow_task jsonb,
	pending_activities jsonb,
	pending_timers jsonb
);
COMMENT ON TYPE durable.workflow_description IS 'What durable.describe_workflow returns.';

CREATE FUNCTION durable.describe_workflow(
	workflow_id text,
	run_id uuid DEFAULT NULL) RETURNS durable.workflow_description
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
	d durable.workflow_description;
BEGIN
	w := durable._find_run(describe_workflow.workflow_id, describe_workflow.run_id, false);
	d.workflow_id := w.workflow_id;
	d.run_id := w.run_id;
	d.workflow_type := w.workflow_type;
	d.task_queue := w.task_queue;
	d.status := w.status;
	d.start_time := w.start_time;
	d.close_time := w.close_time;
	d.history_length := w.history_length;
	d.input := w.input;
	d.result := w.result;
	d.failure := w.failure;
	d.attempt := w.attempt;
	d.cancel_requested := w.cancel_requested;
	d.search_attributes := w.search_attributes;
	d.memo := w.memo;
	d.first_run_id := w.first_run_id;
	d.previous_run_id := w.previous_run_id;
	d.next_run_id := w.next_run_id;
	IF w.wft_state <> 'none' THEN
		SELECT jsonb_build_object('state', CASE WHEN t.started_time IS NOT NULL THEN 'started' ELSE w.wft_state END,
								  'attempt', w.wft_attempt, 'scheduled_time', w.wft_scheduled_time,
								  'started_time', t.started_time, 'worker_id', t.worker_id)
		INTO d.pending_workflow_task
		FROM (SELECT 1) AS one
		LEFT JOIN durable.tasks t ON t.run_id = w.run_id AND t.scheduled_event_id = 0;
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'activity_id', a.activity_id, 'activity_type', a.activity_type,
			'state', CASE WHEN a.state = 'backoff' THEN 'backoff'
						  WHEN t.started_time IS NOT NULL THEN 'started' ELSE 'scheduled' END,
			'attempt', a.attempt, 'scheduled_event_id', a.scheduled_event_id,
			'heartbeat_details', a.heartbeat_details, 'last_failure', a.last_failure,
			'last_worker_id', coalesce(t.worker_id, a.last_worker_id),
			'cancel_requested', a.cancel_requested_event_id IS NOT NULL,
			'expiration_time', a.expiration_time) ORDER BY a.scheduled_event_id), '[]')
	INTO d.pending_activities
	FROM durable.activities a
	LEFT JOIN durable.tasks t ON t.run_id = a.run_id AND t.scheduled_event_id = a.scheduled_event_id
	WHERE a.run_id = w.run_id;
	SELECT coalesce(jsonb_agg(jsonb_build_object('timer_id', tm.timer_id, 'fire_time', tm.fire_time,
			'started_event_id', tm.started_event_id) ORDER BY tm.fire_time), '[]')
	INTO d.pending_timers
	FROM durable.timers tm WHERE tm.run_id = w.run_id AND tm.kind = 'user';
	RETURN d;
END
$$;
COMMENT ON FUNCTION durable.describe_workflow IS 'Status, payloads and pending work of a run (the latest run by default).';

CREATE FUNCTION durable.get_history(
	workflow_id text,
	run_id uuid DEFAULT NULL) RETURNS SETOF durable.history
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
BEGIN
	w := durable._find_run(get_history.workflow_id, get_history.run_id, false);
	RETURN QUERY SELECT h.* FROM durable.history h WHERE h.run_id = w.run_id ORDER BY h.event_id;
END
$$;
COMMENT ON FUNCTION durable.get_history IS 'The event history of a run (the latest run by default), in order.';

CREATE FUNCTION durable.workflow_result(
	workflow_id text,
	run_id uuid DEFAULT NULL,
	wait interval DEFAULT '0') RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
	deadline timestamptz;
	code text;
BEGIN
	PERFORM durable._check_interval(workflow_result.wait, 'wait');
	deadline := clock_timestamp() + coalesce(workflow_result.wait, '0');
	w := durable._find_run(workflow_result.workflow_id, workflow_result.run_id, false);
	LOOP
		-- follow the chain: continue-as-new and retries hand over to the next run
		WHILE w.status IN ('continued_as_new', 'failed', 'timed_out') AND w.next_run_id IS NOT NULL LOOP
			SELECT * INTO w FROM durable.workflows WHERE durable.workflows.run_id = w.next_run_id;
		END LOOP;
		EXIT WHEN w.status <> 'running' OR clock_timestamp() >= deadline;
		IF current_setting('transaction_isolation') <> 'read committed' THEN
			PERFORM durable._error('55000', 'workflow_result can wait only in READ COMMITTED transactions',
				NULL, 'Call it with wait => ''0'' or outside a REPEATABLE READ or SERIALIZABLE transaction.');
		END IF;
		PERFORM durable._wait_register('close', w.workflow_id, NULL);
		SELECT * INTO w FROM durable.workflows WHERE durable.workflows.run_id = w.run_id;
		IF w.status = 'running' THEN
			PERFORM durable._wait(deadline);
			SELECT * INTO w FROM durable.workflows WHERE durable.workflows.run_id = w.run_id;
		END IF;
	END LOOP;
	PERFORM durable._wait_unregister();
	IF w.status = 'completed' THEN
		RETURN w.result;
	ELSIF w.status = 'running' THEN
		PERFORM durable._error('DU007', format('workflow "%s" is still running', left(w.workflow_id, 200)),
			format('Run %s has not closed.', w.run_id), 'Pass a longer wait, or call again later.');
	END IF;
	code := CASE w.status WHEN 'failed' THEN 'DU010' WHEN 'canceled' THEN 'DU011'
						  WHEN 'terminated' THEN 'DU012' ELSE 'DU013' END;
	PERFORM durable._error(code, format('workflow "%s" %s: %s', left(w.workflow_id, 200),
		replace(w.status, '_', ' '), coalesce(w.failure->>'message', '')),
		w.failure::text, format('Run %s; durable.get_history shows why.', w.run_id));
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION durable.workflow_result IS 'Result of a workflow (following continue-as-new), raising its failure; waits up to "wait" for it to close.';

--------------------------------------------------------------------------
-- 4b. Worker API
--------------------------------------------------------------------------

/*
 * Claim one ready task of the queue: FOR UPDATE SKIP LOCKED, then lease it.
 * Returns NULL when there is none.
 */
CREATE FUNCTION durable._claim(p_queue text, p_worker text, p_kinds text[]) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	t durable.tasks;
	w durable.workflows;
	a durable.activities;
	r durable.task;
	now_ timestamptz;
	hist jsonb;
	last_id bigint;
	lease timestamptz;
	q record;
BEGIN
	-- queries first: somebody is waiting on them right now
	IF 'workflow' = ANY (p_kinds) THEN
		q := durable._claim_query(p_queue);
		IF q.query_id IS NOT NULL THEN
			SELECT * INTO w FROM durable.workflows WHERE run_id = q.run_id;
			r.task_token := format('q:%s:%s:0:0', q.run_id, q.query_id);
			r.kind := 'query';
			r.workflow_id := w.workflow_id;
			r.run_id := w.run_id;
			r.workflow_type := w.workflow_type;
			r.task_queue := p_queue;
			r.query_name := q.query_name;
			r.input := q.args::jsonb;
			r.started_time := clock_timestamp();
			r.priority := w.priority;
			r.history := durable._history_json(w.run_id);
			RETURN r;
		END IF;
	END IF;
	LOOP
		SELECT * INTO t FROM durable.tasks
		WHERE task_queue = p_queue AND started_time IS NULL AND kind = ANY (p_kinds)
		ORDER BY priority, ready_time
		LIMIT 1 FOR UPDATE SKIP LOCKED;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
		now_ := clock_timestamp();
		SELECT * INTO w FROM durable.workflows WHERE run_id = t.run_id;
		IF t.kind = 'workflow' THEN
			EXIT WHEN FOUND AND w.status = 'running' AND w.wft_state = 'scheduled';
		ELSE
			SELECT * INTO a FROM durable.activities WHERE run_id = t.run_id AND scheduled_event_id = t.scheduled_event_id;
			EXIT WHEN FOUND AND a.state = 'scheduled' AND w.status = 'running';
		END IF;
		-- an orphan left by a crash between states; drop it and look again
		DELETE FROM durable.tasks WHERE run_id = t.run_id AND scheduled_event_id = t.scheduled_event_id;
	END LOOP;

	r.kind := t.kind;
	r.workflow_id := w.workflow_id;
	r.run_id := w.run_id;
	r.workflow_type := w.workflow_type;
	r.task_queue := t.task_queue;
	r.started_time := now_;
	r.priority := t.priority;

	IF t.kind = 'workflow' THEN
		-- one statement, one snapshot: event ids are contiguous from 1
		hist := durable._history_json(w.run_id);
		last_id := jsonb_array_length(hist);
		IF w.wft_scheduled_event_id IS NULL THEN
			last_id := last_id + 1;
			hist := hist || jsonb_build_array(jsonb_build_object('event_id', last_id,
				'event_type', 'WorkflowTaskScheduled', 'event_time', w.wft_scheduled_time,
				'attributes', jsonb_build_object('task_queue', w.task_queue,
					'start_to_close_timeout', durable._duration(w.task_timeout), 'attempt', w.wft_attempt)));
		END IF;
		hist := hist || jsonb_build_array(jsonb_build_object('event_id', last_id + 1,
			'event_type', 'WorkflowTaskStarted', 'event_time', now_,
			'attributes', jsonb_build_object('scheduled_event_id', coalesce(w.wft_scheduled_event_id, last_id),
											 'identity', p_worker)));
		lease := now_ + w.task_timeout;
		r.task_token := format('w:%s:%s:%s:%s', w.run_id, w.wft_seq, last_id + 1,
							   (EXTRACT(epoch FROM now_) * 1000000)::bigint);
		r.input := w.input;
		r.attempt := w.wft_attempt;
		r.history := hist;
		r.scheduled_time := w.wft_scheduled_time;
	ELSE
		lease := now_ + a.start_to_close_timeout;
		IF a.heartbeat_timeout IS NOT NULL AND now_ + a.heartbeat_timeout < lease THEN
			lease := now_ + a.heartbeat_timeout;
		END IF;
		r.task_token := durable._activity_task_token(a);
		r.activity_id := a.activity_id;
		r.activity_type := a.activity_type;
		r.input := a.input;
		r.attempt := a.attempt;
		r.heartbeat_details := a.heartbeat_details;
		r.scheduled_time := a.scheduled_time;
		r.heartbeat_timeout := a.heartbeat_timeout;
	END IF;
	r.deadline := lease;
	UPDATE durable.tasks SET started_time = now_, worker_id = p_worker, lease_deadline = lease
	WHERE run_id = t.run_id AND scheduled_event_id = t.scheduled_event_id;
	PERFORM durable._notify_timer(lease);
	PERFORM durable._notify_task_on_abort(t.task_queue, t.kind);
	RETURN r;
END
$$;

CREATE FUNCTION durable.poll_task(
	task_queue text,
	worker_id text,
	kinds text[] DEFAULT '{workflow,activity}',
	wait interval DEFAULT '0') RETURNS SETOF durable.task
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r durable.task;
	deadline timestamptz;
	k text;
BEGIN
	IF poll_task.task_queue IS NULL OR poll_task.worker_id IS NULL THEN
		PERFORM durable._error('22004', 'task_queue and worker_id must not be NULL');
	END IF;
	PERFORM durable._check_id(poll_task.task_queue, 'task_queue');
	PERFORM durable._check_id(poll_task.worker_id, 'worker_id');
	PERFORM durable._check_interval(poll_task.wait, 'wait');
	IF poll_task.kinds IS NULL OR cardinality(poll_task.kinds) = 0 THEN
		PERFORM durable._error('22023', 'kinds must name at least one task kind', NULL,
			'Use ''{workflow}'', ''{activity}'' or ''{workflow,activity}''.');
	END IF;
	FOREACH k IN ARRAY poll_task.kinds LOOP
		PERFORM durable._check_choice(k, 'task kind', '{workflow,activity}');
	END LOOP;
	deadline := clock_timestamp() + coalesce(poll_task.wait, '0');
	LOOP
		IF poll_task.wait > '0'::interval THEN
			PERFORM durable._wait_register('task', poll_task.task_queue, poll_task.kinds);
		END IF;
		IF poll_task.wait > '0'::interval THEN
			/*
			 * A claim that finds nothing may still have locked a row: FOR
			 * UPDATE follows a row another poller just claimed, finds it no
			 * longer ready, and keeps the lock.  Sleeping on that lock would
			 * stall whoever completes that task, so an empty attempt is
			 * rolled back (its subtransaction releases the lock).
			 */
			BEGIN
				r := durable._claim(poll_task.task_queue, poll_task.worker_id, poll_task.kinds);
				IF r.task_token IS NULL THEN
					RAISE EXCEPTION USING ERRCODE = 'DU099';
				END IF;
			EXCEPTION WHEN SQLSTATE 'DU099' THEN
				r := NULL;
			END;
		ELSE
			r := durable._claim(poll_task.task_queue, poll_task.worker_id, poll_task.kinds);
		END IF;
		IF r.task_token IS NOT NULL THEN
			PERFORM durable._wait_unregister();
			RETURN NEXT r;
			RETURN;
		END IF;
		EXIT WHEN clock_timestamp() >= deadline;
		PERFORM durable._wait(deadline);
	END LOOP;
	PERFORM durable._wait_unregister();
	RETURN;
END
$$;
COMMENT ON FUNCTION durable.poll_task IS 'Claim one ready task of a queue, waiting up to "wait" for one to commit. No row when none.';

-- Read a command's field as text, checking its JSON type.
CREATE FUNCTION durable._cmd_text(p_cmd jsonb, p_field text, p_index integer, p_required boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := p_cmd->p_field;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		IF p_required THEN
			PERFORM durable._error('DU005', format('command %s (%s) is missing field "%s"', p_index, p_cmd->>'type', p_field),
				left(p_cmd::text, 200), 'See docs/protocol.md for the fields of each command.');
		END IF;
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'string' THEN
		PERFORM durable._error('DU005', format('field "%s" of command %s (%s) must be a string, not %s',
			p_field, p_index, p_cmd->>'type', jsonb_typeof(v)), left(p_cmd::text, 200));
	END IF;
	RETURN v #>> '{}';
END
$$;

-- Read a command's interval field.
CREATE FUNCTION durable._cmd_interval(p_cmd jsonb, p_field text, p_index integer) RETURNS interval
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN durable._interval(durable._cmd_text(p_cmd, p_field, p_index, false),
							 format('field "%s" of command %s (%s)', p_field, p_index, p_cmd->>'type'));
END
$$;

-- Reject fields a command does not have.
CREATE FUNCTION durable._cmd_fields(p_cmd jsonb, p_index integer, p_allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	k text;
BEGIN
	FOR k IN SELECT jsonb_object_keys(p_cmd) LOOP
		IF k <> 'type' AND NOT k = ANY (p_allowed) THEN
			PERFORM durable._error('DU005', format('command %s (%s) has unknown field "%s"', p_index, p_cmd->>'type', k),
				left(p_cmd::text, 200), format('Its fields are: %s.', array_to_string(p_allowed, ', ')));
		END IF;
	END LOOP;
END
$$;

-- The schedule_activity command.
CREATE FUNCTION durable._cmd_schedule_activity(w durable.workflows, p_cmd jsonb, p_index integer,
											   p_completed bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	aid text;
	atype text;
	queue text;
	s2close interval;
	s2start interval;
	s2c interval;
	hb interval;
	run_left interval;
	policy jsonb;
	prio integer;
	seid bigint;
	now_ timestamptz := clock_timestamp();
	what text := format('command %s (schedule_activity)', p_index);
BEGIN
	PERFORM durable._cmd_fields(p_cmd, p_index, '{activity_id,activity_type,input,task_queue,schedule_to_close_timeout,schedule_to_start_timeout,start_to_close_timeout,heartbeat_timeout,retry_policy,priority}');
	aid := durable._check_id(durable._cmd_text(p_cmd, 'activity_id', p_index, true), 'activity_id of ' || what);
	atype := durable._check_id(durable._cmd_text(p_cmd, 'activity_type', p_index, true), 'activity_type of ' || what);
	queue := coalesce(durable._check_id(durable._cmd_text(p_cmd, 'task_queue', p_index, false), 'task_queue of ' || what),
					  w.task_queue);
	PERFORM durable._check_payload(p_cmd->'input', 'input of ' || what);
	s2close := nullif(durable._cmd_interval(p_cmd, 'schedule_to_close_timeout', p_index), '0');
	s2start := nullif(durable._cmd_interval(p_cmd, 'schedule_to_start_timeout', p_index), '0');
	s2c := nullif(durable._cmd_interval(p_cmd, 'start_to_close_timeout', p_index), '0');
	hb := nullif(durable._cmd_interval(p_cmd, 'heartbeat_timeout', p_index), '0');
	IF p_cmd ? 'priority' AND jsonb_typeof(p_cmd->'priority') <> 'null' THEN
		IF jsonb_typeof(p_cmd->'priority') <> 'number' THEN
			PERFORM durable._error('DU005', format('field "priority" of %s must be a number', what));
		END IF;
		prio := (p_cmd->>'priority')::integer;
	ELSE
		prio := w.priority;
	END IF;
	policy := durable._retry_policy(p_cmd->'retry_policy', 'retry_policy of ' || what);

	-- Temporal's normalisation of the four timeouts
	IF w.run_timeout IS NOT NULL THEN
		run_left := w.run_timeout;
	END IF;
	IF s2close IS NOT NULL THEN
		s2start := least(coalesce(s2start, s2close), s2close);
		s2c := least(coalesce(s2c, s2close), s2close);
	ELSIF s2c IS NOT NULL THEN
		s2close := run_left;
		s2start := coalesce(s2start, run_left);
	ELSE
		PERFORM durable._error('DU005', format('%s needs start_to_close_timeout or schedule_to_close_timeout', what),
			left(p_cmd::text, 200), 'Set start_to_close_timeout, as Temporal requires.');
	END IF;
	IF run_left IS NOT NULL THEN
		s2close := least(s2close, run_left);
		s2start := least(s2start, run_left);
		s2c := least(s2c, run_left);
	END IF;
	IF hb IS NOT NULL THEN
		hb := least(hb, s2c);
	END IF;

	IF EXISTS (SELECT 1 FROM durable.activities WHERE run_id = w.run_id AND activity_id = aid) THEN
		PERFORM durable._error('DU006', format('activity id "%s" is already in use', aid),
			format('%s schedules an activity whose id another pending activity of run %s has.', what, w.run_id),
			'Use a unique activity id for each pending activity.');
	END IF;

	seid := durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'ActivityTaskScheduled',
		'attributes', jsonb_build_object('activity_id', aid, 'activity_type', atype, 'task_queue', queue,
			'input', p_cmd->'input',
			'schedule_to_close_timeout', durable._duration(s2close),
			'schedule_to_start_timeout', durable._duration(s2start),
			'start_to_close_timeout', durable._duration(s2c),
			'heartbeat_timeout', durable._duration(hb),
			'retry_policy', policy, 'workflow_task_completed_event_id', p_completed))));
	INSERT INTO durable.activities (run_id, scheduled_event_id, activity_id, activity_type, task_queue, input,
		priority, schedule_to_close_timeout, schedule_to_start_timeout, start_to_close_timeout, heartbeat_timeout,
		retry_policy, scheduled_time, expiration_time, ready_time)
	VALUES (w.run_id, seid, aid, atype, queue, p_cmd->'input', prio, s2close, s2start, s2c, hb, policy,
		now_, now_ + s2close, now_);
	PERFORM durable._enqueue(w.run_id, seid, 'activity', queue, prio, now_ + s2start);
	IF s2close IS NOT NULL THEN
		PERFORM durable._set_timer(w.run_id, 'activity_schedule_to_close', seid::text, now_ + s2close);
	END IF;
END
$$;

/*
 * The request_cancel_activity command.  Returns true when the activity was
 * canceled at once (ActivityTaskCanceled is then new to the workflow).
 */
CREATE FUNCTION durable._cmd_request_cancel_activity(w durable.workflows, p_cmd jsonb, p_index integer,
													 p_completed bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	aid text;
	a durable.activities;
	t durable.tasks;
	requested bigint;
BEGIN
	PERFORM durable._cmd_fields(p_cmd, p_index, '{activity_id}');
	aid := durable._cmd_text(p_cmd, 'activity_id', p_index, true);
	SELECT * INTO a FROM durable.activities WHERE run_id = w.run_id AND activity_id = aid FOR UPDATE;
	IF NOT FOUND THEN
		-- Closed already (its result may be buffered behind this task): as
		-- Temporal does, record the request and do nothing else.
		SELECT h.event_id INTO requested FROM durable.history h
		WHERE h.run_id = w.run_id AND h.event_type = 'ActivityTaskScheduled' AND h.attributes->>'activity_id' = aid
		ORDER BY h.event_id DESC LIMIT 1;
		IF NOT FOUND THEN
			PERFORM durable._error('DU005', format('command %s (request_cancel_activity) names unknown activity "%s"', p_index, aid),
				'The run never scheduled an activity with this id.', 'Cancel only activities the workflow scheduled.');
		END IF;
		PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'ActivityTaskCancelRequested',
			'attributes', jsonb_build_object('scheduled_event_id', requested,
											 'workflow_task_completed_event_id', p_completed))));
		RETURN false;
	END IF;
	IF a.cancel_requested_event_id IS NOT NULL THEN
		RETURN false;
	END IF;
	requested := durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'ActivityTaskCancelRequested',
		'attributes', jsonb_build_object('scheduled_event_id', a.scheduled_event_id,
										 'workflow_task_completed_event_id', p_completed))));
	SELECT * INTO t FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id FOR UPDATE;
	IF FOUND AND t.started_time IS NOT NULL THEN
		-- running: the worker learns it from its next heartbeat
		UPDATE durable.activities SET cancel_requested_event_id = requested
		WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
		RETURN false;
	END IF;
	-- queued or backing off: canceled at once
	DELETE FROM durable.activities WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	DELETE FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	DELETE FROM durable.timers WHERE run_id = a.run_id AND kind IN ('activity_retry', 'activity_schedule_to_close')
		AND timer_id = a.scheduled_event_id::text;
	PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'ActivityTaskCanceled',
		'attributes', jsonb_build_object('details', NULL, 'scheduled_event_id', a.scheduled_event_id,
			'started_event_id', NULL, 'latest_cancel_requested_event_id', requested, 'identity', NULL))));
	RETURN true;
END
$$;

/*
 * Complete a workflow task: check the commands, write the task's events
 * and each command's event, apply them, then write the events buffered
 * while the task ran and schedule a new task if there were any.
 */
CREATE FUNCTION durable.complete_workflow_task(
	task_token text,
	commands jsonb DEFAULT '[]') RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	w durable.workflows;
	t durable.tasks;
	cmd jsonb;
	cmds jsonb := commands;
	i integer := 0;
	n integer;
	ctype text;
	started bigint;
	completed bigint;
	closing text := NULL;
	close_cmd jsonb;
	worker text;
	flushed integer;
	needs_task boolean := false;
	tid text;
	dur interval;
	seid bigint;
	f jsonb;
	next_run uuid;
	attrs jsonb;
	sa jsonb;
BEGIN
	lk := durable._lock_wft(complete_workflow_task.task_token);
	w := lk.w;
	t := lk.t;
	worker := t.worker_id;

	-- validate the shape of the command list before anything is written
	IF cmds IS NULL THEN
		cmds := '[]';
	END IF;
	IF jsonb_typeof(cmds) <> 'array' THEN
		PERFORM durable._error('DU005', format('commands must be a JSON array, not %s', jsonb_typeof(cmds)),
			NULL, 'Pass an array of command objects, e.g. ''[{"type": "complete_workflow", "result": 1}]''.');
	END IF;
	n := jsonb_array_length(cmds);
	FOR cmd IN SELECT e FROM jsonb_array_elements(cmds) AS e LOOP
		i := i + 1;
		IF jsonb_typeof(cmd) <> 'object' THEN
			PERFORM durable._error('DU005', format('command %s must be a JSON object, not %s', i, jsonb_typeof(cmd)));
		END IF;
		IF NOT cmd ? 'type' OR jsonb_typeof(cmd->'type') <> 'string' THEN
			PERFORM durable._error('DU005', format('command %s has no "type"', i), left(cmd::text, 200),
				'Each command is an object with a "type" such as "schedule_activity".');
		END IF;
		ctype := cmd->>'type';
		IF NOT ctype = ANY ('{schedule_activity,request_cancel_activity,start_timer,cancel_timer,record_marker,complete_workflow,fail_workflow,cancel_workflow,continue_as_new,upsert_search_attributes}'::text[]) THEN
			PERFORM durable._error('DU005', format('command %s has unknown type "%s"', i, left(ctype, 100)), NULL,
				'Command types are schedule_activity, request_cancel_activity, start_timer, cancel_timer, record_marker, upsert_search_attributes, complete_workflow, fail_workflow, cancel_workflow and continue_as_new.');
		END IF;
		IF ctype IN ('complete_workflow', 'fail_workflow', 'cancel_workflow', 'continue_as_new') THEN
			IF i <> n THEN
				PERFORM durable._error('DU005', format('command %s (%s) closes the workflow but is not the last command', i, ctype),
					NULL, 'A close command must be the last command.');
			END IF;
			closing := ctype;
			close_cmd := cmd;
		END IF;
	END LOOP;

	-- a close while new events wait: Temporal's UnhandledCommand
	IF closing IS NOT NULL AND EXISTS (SELECT 1 FROM durable.buffered_events b WHERE b.run_id = w.run_id) THEN
		PERFORM durable._wft_failed(w, t, 'WorkflowTaskFailed',
			jsonb_build_object('cause', 'UnhandledCommand',
				'failure', jsonb_build_object('message', 'new events arrived while the workflow task ran',
											  'type', 'UnhandledCommand', 'non_retryable', false, 'details', NULL),
				'identity', worker), worker);
		RETURN jsonb_build_object('outcome', 'unhandled_command');
	END IF;

	DELETE FROM durable.tasks WHERE run_id = w.run_id AND scheduled_event_id = 0;
	started := durable._wft_started_events(w, t, worker);
	completed := durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'WorkflowTaskCompleted',
		'attributes', jsonb_build_object('scheduled_event_id', coalesce(w.wft_scheduled_event_id, started - 1),
										 'started_event_id', started, 'identity', worker))));
	UPDATE durable.workflows SET wft_state = 'none', wft_scheduled_event_id = NULL
	WHERE run_id = w.run_id RETURNING * INTO w;

	i := 0;
	FOR cmd IN SELECT e FROM jsonb_array_elements(cmds) AS e LOOP
		i := i + 1;
		ctype := cmd->>'type';
		CASE ctype
		WHEN 'schedule_activity' THEN
			PERFORM durable._cmd_schedule_activity(w, cmd, i, completed);
		WHEN 'request_cancel_activity' THEN
			IF durable._cmd_request_cancel_activity(w, cmd, i, completed) THEN
				needs_task := true;
			END IF;
		WHEN 'start_timer' THEN
			PERFORM durable._cmd_fields(cmd, i, '{timer_id,duration}');
			tid := durable._check_id(durable._cmd_text(cmd, 'timer_id', i, true), format('timer_id of command %s', i));
			dur := durable._interval(durable._cmd_text(cmd, 'duration', i, true), format('field "duration" of command %s (start_timer)', i));
			IF dur <= '0'::interval THEN
				PERFORM durable._error('DU005', format('field "duration" of command %s (start_timer) must be positive', i));
			END IF;
			IF EXISTS (SELECT 1 FROM durable.timers tm WHERE tm.run_id = w.run_id AND tm.kind = 'user' AND tm.timer_id = tid) THEN
				PERFORM durable._error('DU006', format('timer id "%s" is already in use', tid),
					format('Command %s starts a timer whose id a pending timer of run %s has.', i, w.run_id),
					'Use a unique timer id for each pending timer.');
			END IF;
			seid := durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'TimerStarted',
				'attributes', jsonb_build_object('timer_id', tid, 'start_to_fire_timeout', durable._duration(dur),
												 'workflow_task_completed_event_id', completed))));
			PERFORM durable._set_timer(w.run_id, 'user', tid, clock_timestamp() + dur, seid);
		WHEN 'cancel_timer' THEN
			PERFORM durable._cmd_fields(cmd, i, '{timer_id}');
			tid := durable._cmd_text(cmd, 'timer_id', i, true);
			DELETE FROM durable.timers tm WHERE tm.run_id = w.run_id AND tm.kind = 'user' AND tm.timer_id = tid
			RETURNING tm.started_event_id INTO seid;
			IF NOT FOUND THEN
				-- fired while this task ran: as Temporal does, the cancel wins and the
				-- buffered TimerFired is dropped
				DELETE FROM durable.buffered_events b
				WHERE b.run_id = w.run_id AND b.event_type = 'TimerFired' AND b.attributes->>'timer_id' = tid
				RETURNING (b.attributes->>'started_event_id')::bigint INTO seid;
			END IF;
			IF NOT FOUND THEN
				PERFORM durable._error('DU005', format('command %s (cancel_timer) names unknown timer "%s"', i, tid),
					'No pending timer of the run has this id.', 'Cancel only timers that have not fired.');
			END IF;
			PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'TimerCanceled',
				'attributes', jsonb_build_object('timer_id', tid, 'started_event_id', seid,
												 'workflow_task_completed_event_id', completed))));
		WHEN 'record_marker' THEN
			PERFORM durable._cmd_fields(cmd, i, '{marker_name,details}');
			PERFORM durable._check_payload(cmd->'details', format('details of command %s', i));
			PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'MarkerRecorded',
				'attributes', jsonb_build_object('marker_name', durable._cmd_text(cmd, 'marker_name', i, true),
					'details', cmd->'details', 'workflow_task_completed_event_id', completed))));
		WHEN 'upsert_search_attributes' THEN
			PERFORM durable._cmd_fields(cmd, i, '{search_attributes}');
			sa := cmd->'search_attributes';
			IF sa IS NULL OR jsonb_typeof(sa) <> 'object' THEN
				PERFORM durable._error('DU005', format('field "search_attributes" of command %s must be a JSON object', i));
			END IF;
			PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'UpsertWorkflowSearchAttributes',
				'attributes', jsonb_build_object('search_attributes', sa, 'workflow_task_completed_event_id', completed))));
			UPDATE durable.workflows
			SET search_attributes = jsonb_strip_nulls(search_attributes || sa)
			WHERE run_id = w.run_id;
			PERFORM durable._check_payload((SELECT search_attributes FROM durable.workflows WHERE run_id = w.run_id),
										   'search_attributes');
		WHEN 'complete_workflow' THEN
			PERFORM durable._cmd_fields(cmd, i, '{result}');
			PERFORM durable._check_payload(cmd->'result', 'result');
			PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'WorkflowExecutionCompleted',
				'attributes', jsonb_build_object('result', cmd->'result', 'workflow_task_completed_event_id', completed))));
			PERFORM durable._close_run(w.run_id, 'completed', cmd->'result', NULL);
		WHEN 'fail_workflow' THEN
			PERFORM durable._cmd_fields(cmd, i, '{failure}');
			IF NOT cmd ? 'failure' THEN
				PERFORM durable._error('DU005', format('command %s (fail_workflow) is missing field "failure"', i));
			END IF;
			f := durable._failure(cmd->'failure', format('failure of command %s', i));
			PERFORM durable._fail_run(w.run_id, 'failed', 'WorkflowExecutionFailed',
									  jsonb_build_object('failure', f), f, completed);
		WHEN 'cancel_workflow' THEN
			PERFORM durable._cmd_fields(cmd, i, '{details}');
			PERFORM durable._check_payload(cmd->'details', 'details');
			PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object('event_type', 'WorkflowExecutionCanceled',
				'attributes', jsonb_build_object('details', cmd->'details', 'workflow_task_completed_event_id', completed))));
			PERFORM durable._close_run(w.run_id, 'canceled', NULL,
				jsonb_build_object('message', 'workflow canceled', 'type', 'CanceledFailure',
								   'non_retryable', true, 'details', cmd->'details'));
		WHEN 'continue_as_new' THEN
			PERFORM durable._cmd_fields(cmd, i, '{input,workflow_type,task_queue,run_timeout,task_timeout}');
			PERFORM durable._check_payload(cmd->'input', 'input');
			next_run := gen_random_uuid();
			attrs := jsonb_build_object('new_execution_run_id', next_run,
				'workflow_type', coalesce(durable._check_id(durable._cmd_text(cmd, 'workflow_type', i, false), 'workflow_type'), w.workflow_type),
				'task_queue', coalesce(durable._check_id(durable._cmd_text(cmd, 'task_queue', i, false), 'task_queue'), w.task_queue),
				'input', cmd->'input',
				'workflow_run_timeout', durable._duration(coalesce(durable._cmd_interval(cmd, 'run_timeout', i), w.run_timeout)),
				'workflow_task_timeout', durable._duration(coalesce(durable._cmd_interval(cmd, 'task_timeout', i), w.task_timeout)),
				'workflow_task_completed_event_id', completed);
			PERFORM durable._append(w.run_id, jsonb_build_array(jsonb_build_object(
				'event_type', 'WorkflowExecutionContinuedAsNew', 'attributes', attrs)));
			PERFORM durable._close_run(w.run_id, 'continued_as_new', NULL, NULL, next_run);
			SELECT * INTO w FROM durable.workflows WHERE run_id = w.run_id;
			PERFORM durable._start_run(next_run, w.workflow_id, attrs->>'workflow_type', attrs->>'task_queue',
				cmd->'input', w.execution_timeout,
				coalesce(durable._cmd_interval(cmd, 'run_timeout', i), w.run_timeout),
				coalesce(nullif(durable._cmd_interval(cmd, 'task_timeout', i), '0'), w.task_timeout),
				w.execution_deadline, w.first_run_id, w.run_id, 1, w.retry_policy, NULL, NULL,
				w.search_attributes, w.memo, w.priority, worker, NULL);
		END CASE;
	END LOOP;

	IF closing IS NULL THEN
		flushed := durable._flush_buffer(w.run_id);
		IF flushed > 0 OR needs_task THEN
			SELECT * INTO w FROM durable.workflows WHERE run_id = w.run_id;
			PERFORM durable._schedule_wft(w, 1, true);
		END IF;
	END IF;
	RETURN jsonb_build_object('outcome', 'completed');
END
$$;
COMMENT ON FUNCTION durable.complete_workflow_task IS 'Complete a workflow task with a JSON array of commands (docs/protocol.md).';

CREATE FUNCTION durable.fail_workflow_task(
	task_token text,
	failure jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	f jsonb;
BEGIN
	lk := durable._lock_wft(fail_workflow_task.task_token);
	f := durable._failure(fail_workflow_task.failure, 'failure');
	PERFORM durable._wft_failed(lk.w, lk.t, 'WorkflowTaskFailed',
		jsonb_build_object('cause', coalesce(f->>'type', 'WorkflowWorkerUnhandledFailure'), 'failure', f,
						   'identity', (lk.t).worker_id), (lk.t).worker_id);
END
$$;
COMMENT ON FUNCTION durable.fail_workflow_task IS 'Report that a workflow task failed (e.g. non-determinism); it is retried.';

CREATE FUNCTION durable.complete_activity(
	task_token text,
	result jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
BEGIN
	PERFORM durable._check_payload(complete_activity.result, 'result');
	lk := durable._lock_activity(complete_activity.task_token);
	PERFORM durable._close_activity(lk.a, (lk.t).worker_id, 'ActivityTaskCompleted',
		jsonb_build_object('result', complete_activity.result, 'identity', (lk.t).worker_id));
END
$$;
COMMENT ON FUNCTION durable.complete_activity IS 'Complete an activity attempt with its result. Atomic with the caller''s own writes in the same transaction.';

CREATE FUNCTION durable.fail_activity(
	task_token text,
	failure jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	f jsonb;
BEGIN
	f := durable._failure(fail_activity.failure, 'failure');
	lk := durable._lock_activity(fail_activity.task_token);
	PERFORM durable._activity_attempt_failed(lk.a, f, (lk.t).worker_id, false);
END
$$;
COMMENT ON FUNCTION durable.fail_activity IS 'Fail an activity attempt; it is retried as its retry policy says.';

CREATE FUNCTION durable.report_activity_canceled(
	task_token text,
	details jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
BEGIN
	PERFORM durable._check_payload(report_activity_canceled.details, 'details');
	lk := durable._lock_activity(report_activity_canceled.task_token);
	IF (lk.a).cancel_requested_event_id IS NULL THEN
		PERFORM durable._error('55000', format('activity "%s" was not asked to cancel', (lk.a).activity_id),
			NULL, 'Report cancellation only after durable.heartbeat_activity returned true.');
	END IF;
	PERFORM durable._close_activity(lk.a, (lk.t).worker_id, 'ActivityTaskCanceled',
		jsonb_build_object('details', report_activity_canceled.details, 'identity', (lk.t).worker_id,
						   'latest_cancel_requested_event_id', (lk.a).cancel_requested_event_id));
END
$$;
COMMENT ON FUNCTION durable.report_activity_canceled IS 'Report that an activity stopped because its cancellation was requested.';

CREATE FUNCTION durable.heartbeat_activity(
	task_token text,
	details jsonb DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	lease timestamptz;
BEGIN
	PERFORM durable._check_payload(heartbeat_activity.details, 'details');
	lk := durable._lock_activity(heartbeat_activity.task_token);
	UPDATE durable.activities SET heartbeat_details = heartbeat_activity.details
	WHERE run_id = (lk.a).run_id AND scheduled_event_id = (lk.a).scheduled_event_id;
	IF (lk.t).started_time IS NOT NULL AND (lk.a).heartbeat_timeout IS NOT NULL THEN
		lease := least(clock_timestamp() + (lk.a).heartbeat_timeout, (lk.t).started_time + (lk.a).start_to_close_timeout);
		UPDATE durable.tasks SET lease_deadline = lease
		WHERE run_id = (lk.a).run_id AND scheduled_event_id = (lk.a).scheduled_event_id;
	END IF;
	RETURN (lk.a).cancel_requested_event_id IS NOT NULL;
END
$$;
COMMENT ON FUNCTION durable.heartbeat_activity IS 'Record progress of a running activity; returns true when its cancellation was requested.';

CREATE FUNCTION durable.complete_activity_by_id(
	workflow_id text,
	activity_id text,
	result jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT durable.complete_activity(durable._activity_token(workflow_id, activity_id, run_id), result);
$$;
COMMENT ON FUNCTION durable.complete_activity_by_id IS 'Complete the current attempt of an activity named by workflow id and activity id (asynchronous completion).';

CREATE FUNCTION durable.fail_activity_by_id(
	workflow_id text,
	activity_id text,
	failure jsonb,
	run_id uuid DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT durable.fail_activity(durable._activity_token(workflow_id, activity_id, run_id), failure);
$$;
COMMENT ON FUNCTION durable.fail_activity_by_id IS 'Fail the current attempt of an activity named by workflow id and activity id.';

CREATE FUNCTION durable.heartbeat_activity_by_id(
	workflow_id text,
	activity_id text,
	details jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT durable.heartbeat_activity(durable._activity_token(workflow_id, activity_id, run_id), details);
$$;
COMMENT ON FUNCTION durable.heartbeat_activity_by_id IS 'Heartbeat the current attempt of an activity named by workflow id and activity id.';

CREATE FUNCTION durable.report_activity_canceled_by_id(
	workflow_id text,
	activity_id text,
	details jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT durable.report_activity_canceled(durable._activity_token(workflow_id, activity_id, run_id), details);
$$;
COMMENT ON FUNCTION durable.report_activity_canceled_by_id IS 'Report cancellation of an activity named by workflow id and activity id.';

CREATE FUNCTION durable.query_workflow(
	workflow_id text,
	query_name text,
	args jsonb DEFAULT NULL,
	timeout interval DEFAULT '10 seconds',
	run_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	w durable.workflows;
	a record;
	ms integer;
BEGIN
	IF query_workflow.query_name IS NULL THEN
		PERFORM durable._error('22004', 'query_name must not be NULL');
	END IF;
	PERFORM durable._check_id(query_workflow.query_name, 'query_name');
	PERFORM durable._check_interval(query_workflow.timeout, 'timeout', true);
	w := durable._find_run(query_workflow.workflow_id, query_workflow.run_id, false);
	ms := least(EXTRACT(epoch FROM coalesce(query_workflow.timeout, '10 seconds')) * 1000, 2147483647)::integer;
	a := durable._ask_query(w.run_id, w.task_queue, query_workflow.query_name, query_workflow.args::text, ms);
	IF a.failed IS NULL THEN
		PERFORM durable._error('DU021', format('query "%s" of workflow "%s" timed out', query_workflow.query_name,
			left(w.workflow_id, 200)), format('No worker of task queue "%s" answered within %s.', w.task_queue,
			query_workflow.timeout), 'Make sure a worker polls the workflow''s task queue.');
	END IF;
	IF a.failed THEN
		PERFORM durable._error('DU020', format('query "%s" failed: %s', query_workflow.query_name,
			coalesce(a.answer::jsonb->>'message', '')), a.answer, 'The workflow''s query handler raised an error.');
	END IF;
	RETURN a.answer::jsonb;
END
$$;
COMMENT ON FUNCTION durable.query_workflow IS 'Ask a live worker to answer a query from the workflow''s state; writes no history; works on closed workflows.';

CREATE FUNCTION durable.answer_query(
	task_token text,
	result jsonb DEFAULT NULL,
	failure jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tok record;
	f jsonb;
BEGIN
	tok := durable._parse_token(answer_query.task_token);
	IF tok.kind <> 'query' THEN
		PERFORM durable._error('22023', format('task token is for a %s task, not a query', tok.kind));
	END IF;
	IF answer_query.failure IS NOT NULL THEN
		f := durable._failure(answer_query.failure, 'failure');
		IF NOT durable._answer_query(tok.n1, f::text, true) THEN
			PERFORM durable._stale(answer_query.task_token, 'The query timed out or its caller left.');
		END IF;
		RETURN;
	END IF;
	PERFORM durable._check_payload(answer_query.result, 'result');
	IF NOT durable._answer_query(tok.n1, coalesce(answer_query.result, 'null')::text, false) THEN
		PERFORM durable._stale(answer_query.task_token, 'The query timed out or its caller left.');
	END IF;
END
$$;
COMMENT ON FUNCTION durable.answer_query IS 'Answer a query task (kind = query) with a result or a failure.';

--------------------------------------------------------------------------
-- 4c. The engine: timers, timeouts, crash recovery
--------------------------------------------------------------------------

-- Fire one due durable timer.  The caller has locked nothing.
CREATE FUNCTION durable._fire_timer(p_run uuid, p_kind text, p_timer_id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	tm durable.timers;
	a durable.activities;
	t durable.tasks;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = p_run FOR UPDATE;
	DELETE FROM durable.timers
	WHERE run_id = p_run AND kind = p_kind AND timer_id = p_timer_id AND fire_time <= clock_timestamp()
	RETURNING * INTO tm;
	IF NOT FOUND OR w.status IS DISTINCT FROM 'running' THEN
		RETURN;		-- fired, canceled or closed meanwhile
	END IF;
	CASE p_kind
	WHEN 'user' THEN
		PERFORM durable._deliver(p_run, jsonb_build_array(jsonb_build_object('event_type', 'TimerFired',
			'attributes', jsonb_build_object('timer_id', p_timer_id, 'started_event_id', tm.started_event_id))));
	WHEN 'activity_retry' THEN
		UPDATE durable.activities SET state = 'scheduled', ready_time = clock_timestamp()
		WHERE run_id = p_run AND scheduled_event_id = p_timer_id::bigint AND state = 'backoff'
		RETURNING * INTO a;
		IF FOUND THEN
			PERFORM durable._enqueue(p_run, a.scheduled_event_id, 'activity', a.task_queue, a.priority,
									 clock_timestamp() + a.schedule_to_start_timeout);
		END IF;
	WHEN 'activity_schedule_to_close' THEN
		SELECT * INTO a FROM durable.activities
		WHERE run_id = p_run AND scheduled_event_id = p_timer_id::bigint FOR UPDATE;
		IF FOUND THEN
			SELECT * INTO t FROM durable.tasks
			WHERE run_id = p_run AND scheduled_event_id = a.scheduled_event_id FOR UPDATE;
			PERFORM durable._close_activity(a, t.worker_id, 'ActivityTaskTimedOut',
				jsonb_build_object('failure', jsonb_build_object('message', 'activity ScheduleToClose timeout',
					'type', 'TimeoutError', 'non_retryable', true, 'details', a.heartbeat_details,
					'timeout_type', 'SCHEDULE_TO_CLOSE'), 'retry_state', 'TIMEOUT'),
				t.started_time IS NOT NULL);
		END IF;
	WHEN 'wft_retry' THEN
		IF w.wft_state = 'backoff' THEN
			PERFORM durable._schedule_wft(w, w.wft_attempt, false);
		END IF;
	WHEN 'workflow_start' THEN
		IF w.wft_state = 'delayed' THEN
			PERFORM durable._schedule_wft(w, 1, true);
		END IF;
	WHEN 'workflow_run_timeout', 'workflow_execution_timeout' THEN
		PERFORM durable._flush_buffer(p_run);
		PERFORM durable._fail_run(p_run, 'timed_out', 'WorkflowExecutionTimedOut',
			jsonb_build_object('timeout_type', CASE p_kind WHEN 'workflow_run_timeout' THEN 'RUN' ELSE 'EXECUTION' END),
			jsonb_build_object('message', 'workflow timed out', 'type', 'TimeoutError', 'non_retryable', false,
				'details', NULL, 'timeout_type', CASE p_kind WHEN 'workflow_run_timeout' THEN 'RUN' ELSE 'EXECUTION' END));
	END CASE;
END
$$;

-- A running task's lease ran out: time the attempt out.
CREATE FUNCTION durable._expire_lease(p_run uuid, p_seid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	t durable.tasks;
	a durable.activities;
	timeout_kind text;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = p_run FOR UPDATE;
	SELECT * INTO t FROM durable.tasks WHERE run_id = p_run AND scheduled_event_id = p_seid FOR UPDATE;
	IF NOT FOUND OR t.started_time IS NULL OR t.lease_deadline > clock_timestamp() OR w.status <> 'running' THEN
		RETURN;
	END IF;
	IF p_seid = 0 THEN
		PERFORM durable._wft_failed(w, t, 'WorkflowTaskTimedOut',
			jsonb_build_object('timeout_type', 'START_TO_CLOSE'), t.worker_id);
		RETURN;
	END IF;
	SELECT * INTO a FROM durable.activities WHERE run_id = p_run AND scheduled_event_id = p_seid FOR UPDATE;
	IF NOT FOUND THEN
		DELETE FROM durable.tasks WHERE run_id = p_run AND scheduled_event_id = p_seid;
		RETURN;
	END IF;
	timeout_kind := CASE WHEN a.heartbeat_timeout IS NOT NULL
				  AND t.lease_deadline < t.started_time + a.start_to_close_timeout THEN 'HEARTBEAT'
			 ELSE 'START_TO_CLOSE' END;
	UPDATE durable.activities SET last_worker_id = t.worker_id
	WHERE run_id = p_run AND scheduled_event_id = p_seid RETURNING * INTO a;
	PERFORM durable._activity_attempt_failed(a,
		jsonb_build_object('message', format('activity %s timeout', initcap(replace(timeout_kind, '_', ' '))),
						   'type', 'TimeoutError', 'non_retryable', false, 'details', a.heartbeat_details,
						   'timeout_type', timeout_kind),
		t.worker_id, true);
END
$$;

-- A queued activity attempt waited longer than its schedule-to-start timeout.
CREATE FUNCTION durable._expire_queued(p_run uuid, p_seid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	t durable.tasks;
	a durable.activities;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = p_run FOR UPDATE;
	SELECT * INTO t FROM durable.tasks WHERE run_id = p_run AND scheduled_event_id = p_seid FOR UPDATE;
	IF NOT FOUND OR t.started_time IS NOT NULL OR t.expire_time > clock_timestamp() OR w.status <> 'running' THEN
		RETURN;
	END IF;
	SELECT * INTO a FROM durable.activities WHERE run_id = p_run AND scheduled_event_id = p_seid FOR UPDATE;
	IF NOT FOUND THEN
		DELETE FROM durable.tasks WHERE run_id = p_run AND scheduled_event_id = p_seid;
		RETURN;
	END IF;
	PERFORM durable._close_activity(a, NULL, 'ActivityTaskTimedOut',
		jsonb_build_object('failure', jsonb_build_object('message', 'activity ScheduleToStart timeout',
			'type', 'TimeoutError', 'non_retryable', true, 'details', NULL,
			'timeout_type', 'SCHEDULE_TO_START'), 'retry_state', 'NON_RETRYABLE_FAILURE'), false);
END
$$;

/*
 * One iteration of the timer service: handle up to p_batch due deadlines,
 * each in a subtransaction so that one bad row cannot stall the rest, and
 * return the next deadline (NULL: none).
 */
CREATE FUNCTION durable._engine_tick(p_batch integer DEFAULT 200) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
	n integer := 0;
	now_ timestamptz := clock_timestamp();
	next_at timestamptz;
BEGIN
	FOR r IN
		(SELECT 'timer' AS what, run_id, kind, timer_id, 0::bigint AS seid, fire_time AS due
		 FROM durable.timers WHERE fire_time <= now_ ORDER BY fire_time LIMIT p_batch)
		UNION ALL
		(SELECT 'lease', run_id, NULL, NULL, scheduled_event_id, lease_deadline
		 FROM durable.tasks WHERE started_time IS NOT NULL AND lease_deadline <= now_
		 ORDER BY lease_deadline LIMIT p_batch)
		UNION ALL
		(SELECT 'queued', run_id, NULL, NULL, scheduled_event_id, expire_time
		 FROM durable.tasks WHERE started_time IS NULL AND expire_time <= now_
		 ORDER BY expire_time LIMIT p_batch)
		ORDER BY due LIMIT p_batch
	LOOP
		n := n + 1;
		BEGIN
			IF r.what = 'timer' THEN
				PERFORM durable._fire_timer(r.run_id, r.kind, r.timer_id);
			ELSIF r.what = 'lease' THEN
				PERFORM durable._expire_lease(r.run_id, r.seid);
			ELSE
				PERFORM durable._expire_queued(r.run_id, r.seid);
			END IF;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'durable: could not handle % % of run %: %', r.what, coalesce(r.kind, ''), r.run_id, SQLERRM;
			-- try again in a minute rather than at once
			UPDATE durable.timers SET fire_time = clock_timestamp() + interval '1 minute'
			WHERE run_id = r.run_id AND kind = r.kind AND timer_id = r.timer_id;
			UPDATE durable.tasks SET lease_deadline = clock_timestamp() + interval '1 minute'
			WHERE r.what = 'lease' AND run_id = r.run_id AND scheduled_event_id = r.seid;
			UPDATE durable.tasks SET expire_time = clock_timestamp() + interval '1 minute'
			WHERE r.what = 'queued' AND run_id = r.run_id AND scheduled_event_id = r.seid;
		END;
	END LOOP;
	IF n >= p_batch THEN
		RETURN now_;	-- more is due: come back at once
	END IF;
	SELECT least(
		(SELECT min(fire_time) FROM durable.timers),
		(SELECT min(lease_deadline) FROM durable.tasks WHERE started_time IS NOT NULL),
		(SELECT min(expire_time) FROM durable.tasks WHERE started_time IS NULL AND expire_time IS NOT NULL))
	INTO next_at;
	RETURN next_at;
END
$$;
COMMENT ON FUNCTION durable._engine_tick IS 'One pass of the timer service; the engine worker calls it. Safe to call concurrently.';

/*
 * Rebuild the unlogged task queue after a crash emptied it: one task per
 * scheduled workflow task and per queued activity attempt.  Leases are
 * gone, so running tasks are handed out again (activities are
 * at-least-once; a late completion with the old token still counts).
 */
CREATE FUNCTION durable._engine_startup(p_batch integer DEFAULT 0) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM durable.engine_state) THEN
		RETURN NULL;
	END IF;
	LOCK TABLE durable.engine_state IN EXCLUSIVE MODE;
	IF EXISTS (SELECT 1 FROM durable.engine_state) THEN
		RETURN NULL;
	END IF;
	INSERT INTO durable.tasks (run_id, scheduled_event_id, kind, task_queue, priority, ready_time)
	SELECT run_id, 0, 'workflow', task_queue, priority, coalesce(wft_scheduled_time, clock_timestamp())
	FROM durable.workflows WHERE status = 'running' AND wft_state = 'scheduled'
	ON CONFLICT DO NOTHING;
	INSERT INTO durable.tasks (run_id, scheduled_event_id, kind, task_queue, priority, ready_time, expire_time)
	SELECT a.run_id, a.scheduled_event_id, 'activity', a.task_queue, a.priority, a.ready_time,
		   a.ready_time + a.schedule_to_start_timeout
	FROM durable.activities a WHERE a.state = 'scheduled'
	ON CONFLICT DO NOTHING;
	INSERT INTO durable.engine_state (rebuilt_at) VALUES (clock_timestamp());
	PERFORM durable._notify_task(q.task_queue, q.kind)
	FROM (SELECT DISTINCT task_queue, kind FROM durable.tasks) AS q;
	RETURN NULL;
END
$$;

/*
 * Delete closed runs (and their history) that closed before now - older_than.
 * Returns how many runs were deleted.  Schedule it with pg_cron for a
 * retention period.
 */
CREATE FUNCTION durable.purge_closed_workflows(
	older_than interval,
	batch_size integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM durable._check_interval(purge_closed_workflows.older_than, 'older_than');
	WITH doomed AS (
		DELETE FROM durable.workflows
		WHERE run_id IN (SELECT run_id FROM durable.workflows
						 WHERE close_time < clock_timestamp() - purge_closed_workflows.older_than
						 ORDER BY close_time LIMIT purge_closed_workflows.batch_size)
		RETURNING run_id
	), h AS (
		DELETE FROM durable.history WHERE run_id IN (SELECT run_id FROM doomed)
	)
	SELECT count(*) INTO n FROM doomed;
	RETURN n;
END
$$;
COMMENT ON FUNCTION durable.purge_closed_workflows IS 'Delete runs closed longer ago than older_than, with their history (retention).';

--------------------------------------------------------------------------
-- 5. Roles and privileges
--------------------------------------------------------------------------

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_client') THEN
		CREATE ROLE durable_client NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_worker') THEN
		CREATE ROLE durable_worker NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_admin') THEN
		CREATE ROLE durable_admin NOLOGIN;
	END IF;
END
$$;
GRANT durable_client, durable_worker TO durable_admin;

REVOKE ALL ON ALL TABLES IN SCHEMA durable FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA durable FROM PUBLIC;
GRANT USAGE ON SCHEMA durable TO durable_client, durable_worker, durable_admin;

GRANT EXECUTE ON FUNCTION
	durable.start_workflow(text, jsonb, text, text, interval, interval, interval, text, text, jsonb, interval, text, jsonb, jsonb, integer),
	durable.signal_workflow(text, text, jsonb, uuid, text),
	durable.signal_with_start_workflow(text, text, jsonb, text, jsonb, text, interval, interval, interval, text, jsonb, interval, text, jsonb, jsonb, integer),
	durable.cancel_workflow(text, text, uuid),
	durable.terminate_workflow(text, text, uuid),
	durable.describe_workflow(text, uuid),
	durable.get_history(text, uuid),
	durable.workflow_result(text, uuid, interval),
	durable.query_workflow(text, text, jsonb, interval, uuid),
	durable.subscribe_workflow_closes(),
	durable.unsubscribe_workflow_closes()
	TO durable_client;

GRANT EXECUTE ON FUNCTION
	durable.poll_task(text, text, text[], interval),
	durable.complete_workflow_task(text, jsonb),
	durable.fail_workflow_task(text, jsonb),
	durable.complete_activity(text, jsonb),
	durable.fail_activity(text, jsonb),
	durable.heartbeat_activity(text, jsonb),
	durable.report_activity_canceled(text, jsonb),
	durable.answer_query(text, jsonb, jsonb),
	durable.complete_activity_by_id(text, text, jsonb, uuid),
	durable.fail_activity_by_id(text, text, jsonb, uuid),
	durable.heartbeat_activity_by_id(text, text, jsonb, uuid),
	durable.report_activity_canceled_by_id(text, text, jsonb, uuid),
	durable.describe_workflow(text, uuid),
	durable.get_history(text, uuid)
	TO durable_worker;

GRANT EXECUTE ON FUNCTION durable.purge_closed_workflows(interval, integer),
	durable._engine_workers() TO durable_admin;
GRANT SELECT ON durable.workflows, durable.history, durable.buffered_events, durable.activities,
	durable.timers, durable.tasks, durable.signal_requests, durable.engine_workers TO durable_admin;

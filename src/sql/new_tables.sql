/*
 * namespace_tables.sql
 *	  Tables new in 0.3: the namespaces and their grants, the children of
 *	  running workflows, and accepted workflow updates.  Created by the install script and by the
 *	  update from 0.2, after its migration.
 */

/*
 * Namespaces (docs/namespaces.md): every run belongs to one.  Access to a
 * namespace is granted to roles by capability; the engine checks it on
 * every call, and row-level security (src/sql/namespaces.sql) shows a role
 * only the rows of its namespaces.  Namespace default needs no row, and its
 * grants to durable_client, durable_worker and durable_admin are built in:
 * the install script inserts nothing here, so a dump's rows restore into
 * these tables without conflicts.
 */
CREATE TABLE durable.namespaces (
	name text PRIMARY KEY,
	description text,
	retention interval,
	max_payload_size integer,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE durable.namespaces IS 'Namespaces: units of isolation with their own workflow ids, task queues, retention and limits. Namespace default always exists; it has a row here once its settings are changed.';
COMMENT ON COLUMN durable.namespaces.name IS 'Name: 1 to 63 bytes of letters, digits, ".", "_" and "-".';
COMMENT ON COLUMN durable.namespaces.description IS 'Free text.';
COMMENT ON COLUMN durable.namespaces.retention IS 'How long closed runs are kept: run_retention purges runs closed longer ago, as does purge_closed_workflows without older_than; NULL keeps them.';
COMMENT ON COLUMN durable.namespaces.max_payload_size IS 'Largest payload in bytes for runs of this namespace; NULL for durable.max_payload_size.';
COMMENT ON COLUMN durable.namespaces.created_at IS 'When it was created.';

CREATE TABLE durable.namespace_grants (
	namespace text NOT NULL,
	role regrole NOT NULL,
	capability text NOT NULL CHECK (capability IN ('client', 'worker', 'admin')),
	PRIMARY KEY (namespace, role, capability)
);
COMMENT ON TABLE durable.namespace_grants IS 'Who may do what in a namespace: a role (and its members) holds a capability there.';
COMMENT ON COLUMN durable.namespace_grants.namespace IS 'The namespace.';
COMMENT ON COLUMN durable.namespace_grants.role IS 'The role granted; members inherit it as they inherit privileges.';
COMMENT ON COLUMN durable.namespace_grants.capability IS 'client (start, signal, query, cancel, terminate, read), worker (poll and complete tasks, read) or admin (both, plus retention, grants and purges).';
SELECT pg_catalog.pg_extension_config_dump('durable.namespaces', '');
SELECT pg_catalog.pg_extension_config_dump('durable.namespace_grants', '');

/*
 * The children a run started that have not reported their close: rows of
 * the parent run (written under its lock).  A child's close, and the
 * parent's, reach the other run through the timer service (timers of kind
 * child_closed and parent_close), which never waits for a lock.
 */
CREATE TABLE durable.children (
	parent_run_id uuid NOT NULL,
	initiated_event_id bigint NOT NULL,
	workflow_id text NOT NULL,
	run_id uuid NOT NULL,
	workflow_type text NOT NULL,
	started_event_id bigint NOT NULL,
	parent_close_policy text NOT NULL CHECK (parent_close_policy IN ('terminate', 'abandon', 'request_cancel')),
	parent_workflow_id text NOT NULL,
	namespace text NOT NULL,
	PRIMARY KEY (parent_run_id, initiated_event_id)
);
COMMENT ON TABLE durable.children IS 'Child workflows a run started that have not closed yet (or whose parent close policy the engine has yet to apply).';
COMMENT ON COLUMN durable.children.parent_run_id IS 'The parent run.';
COMMENT ON COLUMN durable.children.initiated_event_id IS 'The parent''s StartChildWorkflowExecutionInitiated event.';
COMMENT ON COLUMN durable.children.workflow_id IS 'The child''s workflow id.';
COMMENT ON COLUMN durable.children.run_id IS 'The child''s first run (continue-as-new and retries keep the child).';
COMMENT ON COLUMN durable.children.workflow_type IS 'The child''s workflow type.';
COMMENT ON COLUMN durable.children.started_event_id IS 'The parent''s ChildWorkflowExecutionStarted event.';
COMMENT ON COLUMN durable.children.parent_close_policy IS 'What the parent''s close does to the child: terminate, abandon or request_cancel.';
COMMENT ON COLUMN durable.children.parent_workflow_id IS 'The parent''s workflow id.';
COMMENT ON COLUMN durable.children.namespace IS 'The namespace of both.';
SELECT pg_catalog.pg_extension_config_dump('durable.children', '');

/*
 * Accepted updates (src/updates.c): rows of the run, written by the
 * workflow task completion that accepted or completed the update, and kept
 * with the run so that an update id is applied once.  Admitted and
 * rejected updates are not durable, as in Temporal.
 */
CREATE TABLE durable.updates (
	run_id uuid NOT NULL,
	update_id text NOT NULL,
	name text NOT NULL,
	state text NOT NULL CHECK (state IN ('accepted', 'completed')),
	accepted_event_id bigint NOT NULL,
	outcome jsonb,
	workflow_id text NOT NULL,
	namespace text NOT NULL,
	PRIMARY KEY (run_id, update_id)
);
COMMENT ON TABLE durable.updates IS 'Workflow updates a run accepted, with their outcome once completed.';
COMMENT ON COLUMN durable.updates.run_id IS 'The run.';
COMMENT ON COLUMN durable.updates.update_id IS 'The update id: an update is applied once per run.';
COMMENT ON COLUMN durable.updates.name IS 'The update''s name (its handler).';
COMMENT ON COLUMN durable.updates.state IS 'accepted (the handler runs) or completed.';
COMMENT ON COLUMN durable.updates.accepted_event_id IS 'Its WorkflowExecutionUpdateAccepted event.';
COMMENT ON COLUMN durable.updates.outcome IS 'A completed update''s outcome: {"success": result} or {"failure": failure}.';
COMMENT ON COLUMN durable.updates.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.updates.namespace IS 'The run''s namespace.';
SELECT pg_catalog.pg_extension_config_dump('durable.updates', '');

/*
 * Task-queue settings (src/queues.c, docs/task-queues.md): rate limits and
 * the builds new work goes to.  A queue needs no row until one of its
 * settings is changed; the engine caches the rows in shared memory and
 * every change takes effect at its commit.
 */
CREATE TABLE durable.task_queues (
	namespace text NOT NULL,
	task_queue text NOT NULL,
	tasks_per_second double precision CHECK (tasks_per_second > 0),
	worker_tasks_per_second double precision CHECK (worker_tasks_per_second > 0),
	current_build_id text,
	ramping_build_id text,
	ramping_percentage real NOT NULL DEFAULT 0 CHECK (ramping_percentage BETWEEN 0 AND 100),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (namespace, task_queue)
);
COMMENT ON TABLE durable.task_queues IS 'Settings of task queues: activity dispatch rate limits and build-id versioning (set with durable.set_task_queue_rate_limit, set_current_build and set_ramping_build).';
COMMENT ON COLUMN durable.task_queues.namespace IS 'The namespace.';
COMMENT ON COLUMN durable.task_queues.task_queue IS 'The queue.';
COMMENT ON COLUMN durable.task_queues.tasks_per_second IS 'Most activity tasks dispatched per second on the queue, all workers together; NULL: no limit.';
COMMENT ON COLUMN durable.task_queues.worker_tasks_per_second IS 'Most activity tasks dispatched per second to each worker (worker_id) of the queue; NULL: no limit.';
COMMENT ON COLUMN durable.task_queues.current_build_id IS 'The build new runs are pinned to, and auto-upgrade runs move to; NULL: new runs are unversioned.';
COMMENT ON COLUMN durable.task_queues.ramping_build_id IS 'A build that takes ramping_percentage of new runs (by workflow id) instead of the current one; NULL: none.';
COMMENT ON COLUMN durable.task_queues.ramping_percentage IS 'Share of new runs, 0 to 100, that go to the ramping build.';
COMMENT ON COLUMN durable.task_queues.updated_at IS 'When a setting last changed.';
SELECT pg_catalog.pg_extension_config_dump('durable.task_queues', '');

/*
 * Schedules (src/schedules.c, docs/schedules.md): workflows the engine
 * starts at the times of a spec.  Written by the schedule functions and
 * the timer service, under the schedule's lock; the next action is also a
 * durable.timers row of kind schedule.
 */
CREATE TABLE durable.schedules (
	namespace text NOT NULL DEFAULT 'default',
	schedule_id text NOT NULL,
	spec jsonb NOT NULL,
	action jsonb NOT NULL,
	policies jsonb NOT NULL DEFAULT '{}',
	paused boolean NOT NULL DEFAULT false,
	note text,
	limited_actions boolean NOT NULL DEFAULT false,
	remaining_actions bigint NOT NULL DEFAULT 0,
	next_action_time timestamptz,
	next_nominal_time timestamptz,
	action_count bigint NOT NULL DEFAULT 0,
	missed_catchup_window bigint NOT NULL DEFAULT 0,
	overlap_skipped bigint NOT NULL DEFAULT 0,
	running jsonb NOT NULL DEFAULT '[]',
	buffered jsonb NOT NULL DEFAULT '[]',
	recent_actions jsonb NOT NULL DEFAULT '[]',
	action_errors bigint NOT NULL DEFAULT 0,
	last_action_error jsonb,
	create_time timestamptz NOT NULL DEFAULT pg_catalog.now(),
	update_time timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (namespace, schedule_id)
);
COMMENT ON TABLE durable.schedules IS 'Schedules: workflows started at the times of a spec (durable.create_schedule and the other schedule functions change them).';
COMMENT ON COLUMN durable.schedules.namespace IS 'The namespace.';
COMMENT ON COLUMN durable.schedules.schedule_id IS 'The schedule id.';
COMMENT ON COLUMN durable.schedules.spec IS 'When: cron, intervals, calendars, exclude_calendars, jitter, start_at, end_at, timezone.';
COMMENT ON COLUMN durable.schedules.action IS 'The workflow to start: workflow_type, workflow_id (prefix), task_queue, input, timeouts, retry_policy, memo, search_attributes.';
COMMENT ON COLUMN durable.schedules.policies IS 'overlap, catchup_window, pause_on_failure.';
COMMENT ON COLUMN durable.schedules.paused IS 'Paused: no actions; times that pass while paused are not caught up.';
COMMENT ON COLUMN durable.schedules.note IS 'Why it was last paused or unpaused.';
COMMENT ON COLUMN durable.schedules.limited_actions IS 'Whether remaining_actions limits the actions.';
COMMENT ON COLUMN durable.schedules.remaining_actions IS 'With limited_actions: how many more workflows it starts (0: none).';
COMMENT ON COLUMN durable.schedules.next_action_time IS 'When the engine acts next (jitter applied); NULL: no more times.';
COMMENT ON COLUMN durable.schedules.next_nominal_time IS 'The spec time of the next action (before jitter): the workflow id carries it.';
COMMENT ON COLUMN durable.schedules.action_count IS 'Workflows started.';
COMMENT ON COLUMN durable.schedules.missed_catchup_window IS 'Times skipped because they were older than the catch-up window when the engine got to them.';
COMMENT ON COLUMN durable.schedules.overlap_skipped IS 'Times skipped by the overlap policy.';
COMMENT ON COLUMN durable.schedules.running IS 'Workflows it started that were running when last looked at: [{workflow_id, run_id}].';
COMMENT ON COLUMN durable.schedules.buffered IS 'Actions waiting for the running workflow to close: [{nominal_time, scheduled_time, overlap}].';
COMMENT ON COLUMN durable.schedules.action_errors IS 'Actions the engine dropped because their workflow could not be started (a durable or data error: an input over a payload limit lowered since, a search attribute registered since with another type).';
COMMENT ON COLUMN durable.schedules.last_action_error IS 'The last of them: {time, nominal_time, sqlstate, message}; NULL: none.';
COMMENT ON COLUMN durable.schedules.recent_actions IS 'The last 10 workflows started: [{scheduled_time, actual_time, workflow_id, run_id}].';
COMMENT ON COLUMN durable.schedules.create_time IS 'When it was created.';
COMMENT ON COLUMN durable.schedules.update_time IS 'When it last changed.';
SELECT pg_catalog.pg_extension_config_dump('durable.schedules', '');

/*
 * The attempt log (src/activities.c, docs/search-attributes.md): one row
 * per finished activity attempt, written by the engine in the transaction
 * that ends the attempt.  History records only an activity's last attempt
 * (as Temporal's does); this table keeps every one, so retries can be
 * counted by type.  Each activity's last row carries its final outcome.
 * Deleted with its run by purge_closed_workflows.
 */
CREATE TABLE durable.activity_attempts (
	namespace text NOT NULL,
	workflow_id text NOT NULL,
	run_id uuid NOT NULL,
	scheduled_event_id bigint NOT NULL,
	attempt integer NOT NULL,
	activity_type text NOT NULL,
	task_queue text NOT NULL,
	started_time timestamptz,
	closed_time timestamptz NOT NULL,
	outcome text NOT NULL CHECK (outcome IN ('completed', 'failed', 'timed_out', 'canceled')),
	failure jsonb,
	PRIMARY KEY (run_id, scheduled_event_id, attempt)
);
COMMENT ON TABLE durable.activity_attempts IS 'Every finished activity attempt: its outcome, times and failure; an activity''s last row has its final outcome.';
COMMENT ON COLUMN durable.activity_attempts.namespace IS 'The run''s namespace.';
COMMENT ON COLUMN durable.activity_attempts.workflow_id IS 'The run''s workflow id.';
COMMENT ON COLUMN durable.activity_attempts.run_id IS 'The run that scheduled the activity.';
COMMENT ON COLUMN durable.activity_attempts.scheduled_event_id IS 'Event id of the activity''s ActivityTaskScheduled.';
COMMENT ON COLUMN durable.activity_attempts.attempt IS 'The attempt, from 1.';
COMMENT ON COLUMN durable.activity_attempts.activity_type IS 'Name of the activity function.';
COMMENT ON COLUMN durable.activity_attempts.task_queue IS 'Queue the attempt was dispatched on.';
COMMENT ON COLUMN durable.activity_attempts.started_time IS 'When a worker took the attempt; NULL if none did (it timed out, or was canceled, queued or waiting to retry).';
COMMENT ON COLUMN durable.activity_attempts.closed_time IS 'When the attempt ended.';
COMMENT ON COLUMN durable.activity_attempts.outcome IS 'completed, failed, timed_out or canceled.';
COMMENT ON COLUMN durable.activity_attempts.failure IS 'The failure of a failed or timed-out attempt (Temporal''s failure object); NULL otherwise.';
SELECT pg_catalog.pg_extension_config_dump('durable.activity_attempts', '');
-- attempts by close time: failure rates, retries and durations over the
-- last hour or day (docs/dba.md); appended at the right end, as attempts
-- close; the failed ones alone, for retries and errors over a day
CREATE INDEX activity_attempts_by_closed_time ON durable.activity_attempts (closed_time);
CREATE INDEX activity_attempts_failed_by_closed_time ON durable.activity_attempts (closed_time)
	WHERE outcome <> 'completed';

/*
 * Registered search-attribute keys (src/indexes.c): their type is checked
 * when a run starts or upserts them, and each key name has an expression
 * index on durable.workflows (index_name), shared by the namespaces that
 * register it.
 */
CREATE TABLE durable.search_attribute_keys (
	namespace text NOT NULL,
	name text NOT NULL,
	type text NOT NULL CHECK (type IN ('Keyword', 'Text', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList')),
	index_name text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (namespace, name)
);
COMMENT ON TABLE durable.search_attribute_keys IS 'Search-attribute keys registered with durable.register_search_attribute: typed, validated and indexed.';
COMMENT ON COLUMN durable.search_attribute_keys.namespace IS 'The namespace the key is registered in.';
COMMENT ON COLUMN durable.search_attribute_keys.name IS 'The key in workflows.search_attributes.';
COMMENT ON COLUMN durable.search_attribute_keys.type IS 'Keyword, Text, Int, Double, Bool, Datetime or KeywordList (Temporal''s types).';
COMMENT ON COLUMN durable.search_attribute_keys.index_name IS 'The expression index on durable.workflows that serves the key (one per key name).';
COMMENT ON COLUMN durable.search_attribute_keys.created_at IS 'When it was registered.';
SELECT pg_catalog.pg_extension_config_dump('durable.search_attribute_keys', '');

/*
 * A site's own indexes on durable's tables (src/indexes.c).  pg_dump does
 * not dump indexes on an extension's tables, so they are kept here, with
 * the data, and durable.restore_site_indexes() makes them again after a
 * restore (together with the search-attribute indexes).
 */
CREATE TABLE durable.site_indexes (
	name text PRIMARY KEY,
	definition text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE durable.site_indexes IS 'Indexes a site added to durable''s tables with durable.create_site_index; durable.restore_site_indexes() makes them again after a restore.';
COMMENT ON COLUMN durable.site_indexes.name IS 'The index name (schema durable).';
COMMENT ON COLUMN durable.site_indexes.definition IS 'Its CREATE INDEX statement, as pg_get_indexdef gives it.';
COMMENT ON COLUMN durable.site_indexes.created_at IS 'When it was recorded.';
SELECT pg_catalog.pg_extension_config_dump('durable.site_indexes', '');

/*
 * 0.2 -> 0.3: the engine in C, history by batch, workflow ids on every
 * per-workflow row, sticky workers.
 *
 * Only what cannot be replaced is here: the drops, the table changes and
 * the data they need.  The generated update script follows this with
 * every replaceable object (functions, views, grants) from src/sql/, as
 * the install script has them.
 *
 * In-flight workflows carry on: a run's history becomes one batch, its
 * pending activities, timers, buffered signals and task rows get their
 * workflow id, and nothing else about them changes.
 */

-- 1. The PL/pgSQL state machine and the C helpers only it called.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'durable'::regnamespace AND p.proname LIKE '\_%'
		  AND p.proname NOT IN ('_engine_tick', '_engine_startup', '_engine_workers')
	LOOP
		EXECUTE pg_catalog.format('DROP FUNCTION %s', f);
	END LOOP;
END
$$;
-- its result type is the history table's row type
DROP FUNCTION durable.get_history(text, uuid);

-- 2. Workflow ids on every per-workflow row (docs/scale-out.md).
ALTER TABLE durable.buffered_events ADD COLUMN workflow_id text;
UPDATE durable.buffered_events b SET workflow_id = w.workflow_id
FROM durable.workflows w WHERE w.run_id = b.run_id;
DELETE FROM durable.buffered_events WHERE workflow_id IS NULL;
ALTER TABLE durable.buffered_events ALTER COLUMN workflow_id SET NOT NULL;

ALTER TABLE durable.activities ADD COLUMN workflow_id text;
UPDATE durable.activities a SET workflow_id = w.workflow_id
FROM durable.workflows w WHERE w.run_id = a.run_id;
DELETE FROM durable.activities WHERE workflow_id IS NULL;
ALTER TABLE durable.activities ALTER COLUMN workflow_id SET NOT NULL;
COMMENT ON COLUMN durable.activities.workflow_id IS 'The run''s workflow id.';

ALTER TABLE durable.timers ADD COLUMN workflow_id text;
UPDATE durable.timers t SET workflow_id = w.workflow_id
FROM durable.workflows w WHERE w.run_id = t.run_id;
DELETE FROM durable.timers WHERE workflow_id IS NULL;
ALTER TABLE durable.timers ALTER COLUMN workflow_id SET NOT NULL;
COMMENT ON COLUMN durable.timers.workflow_id IS 'The run''s workflow id.';

ALTER TABLE durable.signal_requests ADD COLUMN workflow_id text;
UPDATE durable.signal_requests s SET workflow_id = w.workflow_id
FROM durable.workflows w WHERE w.run_id = s.run_id;
DELETE FROM durable.signal_requests WHERE workflow_id IS NULL;
ALTER TABLE durable.signal_requests ALTER COLUMN workflow_id SET NOT NULL;
COMMENT ON COLUMN durable.signal_requests.workflow_id IS 'The run''s workflow id.';

-- 3. Buffered events are numbered per run, under the run's lock: no global
-- sequence on the hot path.
ALTER TABLE durable.buffered_events ALTER COLUMN seq DROP IDENTITY;
COMMENT ON COLUMN durable.buffered_events.seq IS 'Arrival order within the run, from 1.';
COMMENT ON COLUMN durable.buffered_events.workflow_id IS 'The run''s workflow id.';

-- 4. Sticky workers, and a ready index keyed by kind.
ALTER TABLE durable.workflows ADD COLUMN sticky_worker text, ADD COLUMN sticky_event_id bigint;
COMMENT ON COLUMN durable.workflows.sticky_worker IS 'Worker that caches the run (durable.sticky_execution): its next workflow task goes to it first, with only the events after sticky_event_id.';
COMMENT ON COLUMN durable.workflows.sticky_event_id IS 'The WorkflowTaskStarted event of the last workflow task the sticky worker completed.';

ALTER TABLE durable.tasks ADD COLUMN sticky_worker text, ADD COLUMN workflow_id text;
UPDATE durable.tasks t SET workflow_id = w.workflow_id
FROM durable.workflows w WHERE w.run_id = t.run_id;
DELETE FROM durable.tasks WHERE workflow_id IS NULL;
ALTER TABLE durable.tasks ALTER COLUMN workflow_id SET NOT NULL;
COMMENT ON COLUMN durable.tasks.sticky_worker IS 'A ready workflow task of a sticky run: the worker it goes to first.';
COMMENT ON COLUMN durable.tasks.workflow_id IS 'The run''s workflow id.';
ALTER TABLE durable.tasks ADD COLUMN owner bigint;
COMMENT ON COLUMN durable.tasks.owner IS 'A started task: the worker session or connection that holds it (its end times the task out at once).';
DROP INDEX durable.tasks_ready;
CREATE INDEX tasks_ready ON durable.tasks (task_queue, kind, priority, ready_time) WHERE started_time IS NULL;
CREATE INDEX tasks_sticky ON durable.tasks (sticky_worker, task_queue, priority, ready_time)
	WHERE started_time IS NULL AND sticky_worker IS NOT NULL;

-- 5. Less WAL per activity: one with Temporal's default retry policy
-- stores NULL (its ActivityTaskScheduled event has the policy in full).
ALTER TABLE durable.activities ALTER COLUMN retry_policy DROP NOT NULL;
COMMENT ON COLUMN durable.activities.retry_policy IS 'Normalised retry policy; NULL for Temporal''s default policy (its ActivityTaskScheduled event shows it in full).';
-- and no index entry for its activity id: the engine checks that pending
-- activity ids are unique among the run's rows
ALTER TABLE durable.activities DROP CONSTRAINT activities_run_id_activity_id_key;
COMMENT ON COLUMN durable.activities.activity_id IS 'Activity id, unique among the run''s pending activities (the engine checks it; no index: the run''s rows are found by the primary key).';

-- 6. The history, by batch: every run's events become one batch, in the
-- stored form the engine writes (src/events.c).
CREATE TABLE durable.history_batches (
	run_id uuid NOT NULL,
	last_event_id bigint NOT NULL,
	events bytea NOT NULL,
	workflow_id text NOT NULL,
	PRIMARY KEY (run_id, last_event_id)
);
COMMENT ON TABLE durable.history_batches IS 'Event history of every run, one row per call that recorded events; durable.history shows the events one by one.';
COMMENT ON COLUMN durable.history_batches.run_id IS 'The run (durable.workflows.run_id).';
COMMENT ON COLUMN durable.history_batches.last_event_id IS 'Id of the last event of the batch; the batches of a run cover its ids 1..history_length without gaps.';
COMMENT ON COLUMN durable.history_batches.events IS 'The events in durable''s compact stored form (one schema per event type, values as JSON text); durable.history shows them as JSON.';
COMMENT ON COLUMN durable.history_batches.workflow_id IS 'The run''s workflow id (the key that colocates a workflow''s rows; docs/scale-out.md).';
SELECT pg_catalog.pg_extension_config_dump('durable.history_batches', '');

CREATE FUNCTION durable._batch_from_json(events json) RETURNS bytea
	AS 'MODULE_PATHNAME', '_batch_from_json' LANGUAGE C STRICT;
INSERT INTO durable.history_batches (run_id, last_event_id, events, workflow_id)
SELECT h.run_id, pg_catalog.max(h.event_id),
	   durable._batch_from_json(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'event_id', h.event_id, 'event_type', h.event_type, 'event_time', h.event_time,
			'attributes', h.attributes) ORDER BY h.event_id)::text::json),
	   w.workflow_id
FROM durable.history h JOIN durable.workflows w ON w.run_id = h.run_id
GROUP BY h.run_id, w.workflow_id;
DROP FUNCTION durable._batch_from_json(json);

-- out of the extension's configuration tables first, so pg_dump forgets it
ALTER EXTENSION durable DROP TABLE durable.history;
DROP TABLE durable.history;

-- Signed task tokens (src/util.c).
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

-- 7. Namespaces (docs/namespaces.md).  Every row so far is in namespace
-- default; the functions that take a namespace get it as a new last
-- argument, so their 0.2 signatures go first.
DROP FUNCTION durable.start_workflow(text, jsonb, text, text, interval, interval, interval, text, text,
									 jsonb, interval, text, jsonb, jsonb, integer);
DROP FUNCTION durable.signal_workflow(text, text, jsonb, uuid, text);
DROP FUNCTION durable.signal_with_start_workflow(text, text, jsonb, text, jsonb, text, interval, interval,
												 interval, text, jsonb, interval, text, jsonb, jsonb, integer);
DROP FUNCTION durable.cancel_workflow(text, text, uuid);
DROP FUNCTION durable.terminate_workflow(text, text, uuid);
DROP FUNCTION durable.describe_workflow(text, uuid);
DROP FUNCTION durable.workflow_result(text, uuid, interval);
DROP FUNCTION durable.query_workflow(text, text, jsonb, interval, uuid);
DROP FUNCTION durable.poll_task(text, text, text[], interval);
DROP FUNCTION durable.complete_activity_by_id(text, text, jsonb, uuid);
DROP FUNCTION durable.fail_activity_by_id(text, text, jsonb, uuid);
DROP FUNCTION durable.heartbeat_activity_by_id(text, text, jsonb, uuid);
DROP FUNCTION durable.report_activity_canceled_by_id(text, text, jsonb, uuid);
DROP FUNCTION durable.purge_closed_workflows(interval, integer);
-- (force_new_task: issue 11's local activities keep their workflow task alive)
DROP FUNCTION durable.complete_workflow_task(text, jsonb, boolean);

ALTER TABLE durable.workflows ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.workflows.namespace IS 'The namespace the run belongs to (durable.namespaces); workflow ids are unique within it.';
ALTER TABLE durable.history_batches ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.history_batches.namespace IS 'The run''s namespace (row-level security filters by it).';
ALTER TABLE durable.buffered_events ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.buffered_events.namespace IS 'The run''s namespace.';
ALTER TABLE durable.activities ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.activities.namespace IS 'The run''s namespace.';
ALTER TABLE durable.timers ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.timers.namespace IS 'The run''s namespace.';
ALTER TABLE durable.signal_requests ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.signal_requests.namespace IS 'The run''s namespace.';
ALTER TABLE durable.tasks ADD COLUMN namespace text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN durable.tasks.namespace IS 'The run''s namespace: task queues are per namespace.';

DROP INDEX durable.workflows_one_running;
CREATE UNIQUE INDEX workflows_one_running ON durable.workflows (namespace, workflow_id) WHERE status = 'running';
DROP INDEX durable.workflows_by_workflow_id;
CREATE INDEX workflows_by_workflow_id ON durable.workflows (namespace, workflow_id, start_time DESC);
DROP INDEX durable.workflows_by_close_time;
CREATE INDEX workflows_by_close_time ON durable.workflows (namespace, close_time) WHERE close_time IS NOT NULL;
DROP INDEX durable.tasks_ready;
CREATE INDEX tasks_ready ON durable.tasks (namespace, task_queue, kind, priority, ready_time) WHERE started_time IS NULL;
DROP INDEX durable.tasks_sticky;
CREATE INDEX tasks_sticky ON durable.tasks (sticky_worker, namespace, task_queue, priority, ready_time)
	WHERE started_time IS NULL AND sticky_worker IS NOT NULL;

-- 8. Child workflows and external signals and cancels (issue 11).
ALTER TABLE durable.workflows ADD COLUMN parent_initiated_event_id bigint;
COMMENT ON COLUMN durable.workflows.parent_initiated_event_id IS 'A child workflow: the StartChildWorkflowExecutionInitiated event of its parent run that started it.';
COMMENT ON COLUMN durable.workflows.parent_workflow_id IS 'A child workflow: its parent''s workflow id.';
COMMENT ON COLUMN durable.workflows.parent_run_id IS 'A child workflow: the parent run that started it (the chain''s runs keep it).';
ALTER TABLE durable.timers ADD COLUMN attributes jsonb;
COMMENT ON COLUMN durable.timers.attributes IS 'What a timer that acts on another workflow needs (parent_close, signal_external, cancel_external); NULL for the others.';
ALTER TABLE durable.timers DROP CONSTRAINT timers_kind_check;
ALTER TABLE durable.timers ADD CONSTRAINT timers_kind_check
	CHECK (kind IN ('user', 'activity_retry', 'activity_schedule_to_close',
					'wft_retry', 'workflow_start', 'workflow_run_timeout',
					'workflow_execution_timeout', 'child_closed', 'parent_close',
					'signal_external', 'cancel_external', 'schedule', 'schedule_closed'));
COMMENT ON COLUMN durable.timers.kind IS 'user, activity_retry, activity_schedule_to_close, wft_retry, workflow_start, workflow_run_timeout, workflow_execution_timeout; and, fired at once to act on another workflow: child_closed (tell the parent), parent_close (apply a parent close policy to a child), signal_external, cancel_external; schedule (a schedule''s next action: run_id is the schedule''s own id, docs/schedules.md) and schedule_closed (a run a schedule started closed).';
ALTER TYPE durable.workflow_description ADD ATTRIBUTE pending_children jsonb;

-- 9. Workflow updates (issue 11): the messages a workflow task carries,
-- and what update_workflow returns.
ALTER TYPE durable.task ADD ATTRIBUTE messages jsonb;
CREATE TYPE durable.update_result AS (
	update_id text,
	stage text,
	result jsonb,
	failure jsonb
);
COMMENT ON TYPE durable.update_result IS 'What durable.update_workflow returns: the stage the update reached (admitted, accepted, completed or rejected) and its result or failure.';

-- 10. Task queues (issue 12): Temporal's priority keys (1 highest .. 5
-- lowest, 3 default; 0.2's "lower first" integers keep their order
-- relative to the default: negative -> 2, 0 -> 3, positive -> 4), fairness
-- keys, required capabilities, pinned activities and build ids.
ALTER TABLE durable.workflows ALTER COLUMN priority SET DEFAULT 3;
UPDATE durable.workflows SET priority = CASE WHEN priority < 0 THEN 2 WHEN priority = 0 THEN 3 ELSE 4 END;
ALTER TABLE durable.workflows ADD CONSTRAINT workflows_priority_check CHECK (priority BETWEEN 1 AND 5);
COMMENT ON COLUMN durable.workflows.priority IS 'Priority key of its tasks: 1 (highest) to 5 (lowest), 3 by default (docs/task-queues.md).';
ALTER TABLE durable.workflows ADD COLUMN fairness_key text, ADD COLUMN fairness_weight real,
	ADD COLUMN required_capabilities jsonb, ADD COLUMN build_id text,
	ADD COLUMN versioning_behavior text CHECK (versioning_behavior IN ('pinned', 'auto_upgrade'));
COMMENT ON COLUMN durable.workflows.fairness_key IS 'Fairness key of its tasks (a tenant, say): within a priority, keys share dispatch by weight. NULL: the default key.';
COMMENT ON COLUMN durable.workflows.fairness_weight IS 'Weight of its fairness key (NULL: 1).';
COMMENT ON COLUMN durable.workflows.required_capabilities IS 'Capabilities a worker must declare to take its workflow tasks (a JSON object, matched with @>); NULL: none.';
COMMENT ON COLUMN durable.workflows.build_id IS 'The worker build the run is pinned to (its workflow tasks go only to pollers of this build); NULL: unversioned, any worker.';
COMMENT ON COLUMN durable.workflows.versioning_behavior IS 'pinned (stay on build_id) or auto_upgrade (move to the queue''s current build at the next workflow task), as the worker reported for the workflow type; NULL: pinned.';
ALTER TABLE durable.activities ALTER COLUMN priority SET DEFAULT 3;
UPDATE durable.activities SET priority = CASE WHEN priority < 0 THEN 2 WHEN priority = 0 THEN 3 ELSE 4 END;
ALTER TABLE durable.activities ADD CONSTRAINT activities_priority_check CHECK (priority BETWEEN 1 AND 5);
COMMENT ON COLUMN durable.activities.priority IS 'Priority key of its tasks: 1 (highest) to 5 (lowest); inherited from the workflow unless set.';
ALTER TABLE durable.activities ADD COLUMN fairness_key text, ADD COLUMN fairness_weight real,
	ADD COLUMN required_capabilities jsonb, ADD COLUMN pinned_worker text;
COMMENT ON COLUMN durable.activities.fairness_key IS 'Fairness key of its tasks; inherited from the workflow unless set.';
COMMENT ON COLUMN durable.activities.fairness_weight IS 'Weight of its fairness key (NULL: 1).';
COMMENT ON COLUMN durable.activities.required_capabilities IS 'Capabilities a worker must declare to take it (a JSON object, matched with @>); NULL: none.';
COMMENT ON COLUMN durable.activities.pinned_worker IS 'The only worker that may take it (Temporal''s sessions pattern); NULL: any.';
-- task rows keep their leases; ready ones go first (pass 0), to any worker
ALTER TABLE durable.tasks ADD COLUMN pass bigint NOT NULL DEFAULT 0, ADD COLUMN fairness_key text,
	ADD COLUMN build_id text NOT NULL DEFAULT '', ADD COLUMN affinity text NOT NULL DEFAULT '';
COMMENT ON COLUMN durable.tasks.priority IS 'Priority key, 1 (served first) to 5.';
COMMENT ON COLUMN durable.tasks.ready_time IS 'When the task became ready.';
COMMENT ON COLUMN durable.tasks.sticky_worker IS 'A ready workflow task of a sticky run: the worker it goes to first; an activity pinned to a worker: that worker.';
COMMENT ON COLUMN durable.tasks.pass IS 'Virtual dispatch time (fairness): within a priority, ready tasks go in pass order, which is ready order for one fairness key and shares dispatch between keys by weight.';
COMMENT ON COLUMN durable.tasks.fairness_key IS 'Fairness key; NULL: the default key.';
COMMENT ON COLUMN durable.tasks.build_id IS 'The worker build it must go to; empty: any.';
COMMENT ON COLUMN durable.tasks.affinity IS 'The capabilities it requires (canonical JSON text), or @pinned for a task pinned to sticky_worker; empty: none.';
DROP INDEX durable.tasks_ready;
CREATE INDEX tasks_ready ON durable.tasks (namespace, task_queue, kind, build_id, affinity, priority, pass) WHERE started_time IS NULL;
DROP INDEX durable.tasks_sticky;
CREATE INDEX tasks_sticky ON durable.tasks (sticky_worker, namespace, task_queue, priority, pass)
	WHERE started_time IS NULL AND sticky_worker IS NOT NULL;
ALTER TYPE durable.workflow_description ADD ATTRIBUTE build_id text, ADD ATTRIBUTE versioning_behavior text,
	ADD ATTRIBUTE priority integer, ADD ATTRIBUTE fairness_key text;
UPDATE durable.tasks SET priority = CASE WHEN priority < 0 THEN 2 WHEN priority = 0 THEN 3 ELSE 4 END;

-- 11. Newest-first listing of runs (the Web UI's workflow list, issue 14).
CREATE INDEX workflows_by_start_time ON durable.workflows (namespace, start_time DESC, run_id DESC);

-- 12. What a DBA needs (issue 15, docs/search-attributes.md): the time a
-- run last recorded events (for a running run the last workflow task
-- scheduled is the best the 0.2 row knows), prefix search on workflow ids,
-- and type + status + time range.
ALTER TABLE durable.workflows ADD COLUMN last_progress_time timestamptz;
COMMENT ON COLUMN durable.workflows.last_progress_time IS 'When the run last recorded events in its history (set with history_length, in the same write); its start time until then. NULL only for rows the engine did not write.';
UPDATE durable.workflows
SET last_progress_time = COALESCE(close_time, GREATEST(start_time, wft_scheduled_time));
DROP INDEX durable.workflows_by_workflow_id;
CREATE INDEX workflows_by_workflow_id ON durable.workflows (namespace, workflow_id text_pattern_ops, start_time DESC);
DROP INDEX durable.workflows_by_type_status;
CREATE INDEX workflows_by_type_status_time ON durable.workflows (workflow_type, status, start_time, run_id);

-- 13. Failed runs by close time (durable.recent_failures, docs/dba.md).
CREATE INDEX workflows_failed_by_close_time ON durable.workflows (namespace, close_time)
	WHERE status IN ('failed', 'timed_out', 'terminated', 'canceled');

-- restores that resume (src/sql/restore.sql): the marker is also emptied by rows written by SQL
COMMENT ON TABLE durable.engine_state IS 'Unlogged marker: empty after a crash, or once rows written by SQL (a restore) or durable.rebuild_task_queue() commit, which tells the engine worker to rebuild durable.tasks.';

-- the new tables follow (src/sql/new_tables.sql)


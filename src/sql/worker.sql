/*
 * worker.sql
 *	  The worker API (capability worker in a namespace): polling, completing and failing
 *	  tasks, heartbeats, queries.  Declarations only: the functions are C
 *	  (src/matching.c, src/commands.c, src/activities.c, src/api.c).
 */

CREATE OR REPLACE FUNCTION durable.poll_task(
	task_queue text,
	worker_id text,
	kinds text[] DEFAULT '{workflow,activity}',
	wait interval DEFAULT '0',
	namespace text DEFAULT 'default',
	build_id text DEFAULT NULL,
	capabilities jsonb DEFAULT NULL) RETURNS SETOF durable.task
	AS 'MODULE_PATHNAME', 'poll_task' LANGUAGE C;
COMMENT ON FUNCTION durable.poll_task IS 'Claim one ready task of a queue, waiting up to "wait" for one to commit; build_id and capabilities say which tasks this worker can run (docs/task-queues.md). No row when none.';

CREATE OR REPLACE FUNCTION durable.workflow_task_history(
	task_token text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'workflow_task_history' LANGUAGE C STABLE;
COMMENT ON FUNCTION durable.workflow_task_history IS 'The whole history of an outstanding workflow task, for a sticky worker whose cache lacks the run.';

CREATE OR REPLACE FUNCTION durable.complete_workflow_task(
	task_token text,
	commands jsonb DEFAULT '[]',
	return_workflow_task boolean DEFAULT false,
	force_new_task boolean DEFAULT false,
	versioning_behavior text DEFAULT NULL) RETURNS json
	AS 'MODULE_PATHNAME', 'complete_workflow_task' LANGUAGE C;
COMMENT ON FUNCTION durable.complete_workflow_task IS 'Complete a workflow task with a JSON array of commands (docs/protocol.md); returns {"outcome": ...} and, in "tasks", any tasks handed out eagerly.';

CREATE OR REPLACE FUNCTION durable.fail_workflow_task(
	task_token text,
	failure jsonb DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'fail_workflow_task' LANGUAGE C;
COMMENT ON FUNCTION durable.fail_workflow_task IS 'Report that a workflow task failed (e.g. non-determinism); it is retried.';

CREATE OR REPLACE FUNCTION durable.complete_activity(
	task_token text,
	result jsonb DEFAULT NULL,
	return_workflow_task boolean DEFAULT false) RETURNS json
	AS 'MODULE_PATHNAME', 'complete_activity' LANGUAGE C;
COMMENT ON FUNCTION durable.complete_activity IS 'Complete an activity attempt with its result. Atomic with the caller''s own writes in the same transaction. With return_workflow_task, returns {"tasks": [...]} holding the workflow task it scheduled, started for the same worker; else NULL.';

CREATE OR REPLACE FUNCTION durable.fail_activity(
	task_token text,
	failure jsonb,
	return_workflow_task boolean DEFAULT false) RETURNS json
	AS 'MODULE_PATHNAME', 'fail_activity' LANGUAGE C;
COMMENT ON FUNCTION durable.fail_activity IS 'Fail an activity attempt; it is retried as its retry policy says. With return_workflow_task, returns {"tasks": [...]} holding the workflow task it scheduled (when the activity closed), started for the same worker; else NULL.';

CREATE OR REPLACE FUNCTION durable.heartbeat_activity(
	task_token text,
	details jsonb DEFAULT NULL) RETURNS boolean
	AS 'MODULE_PATHNAME', 'heartbeat_activity' LANGUAGE C;
COMMENT ON FUNCTION durable.heartbeat_activity IS 'Record progress of a running activity; returns true when its cancellation was requested.';

CREATE OR REPLACE FUNCTION durable.report_activity_canceled(
	task_token text,
	details jsonb DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'report_activity_canceled' LANGUAGE C;
COMMENT ON FUNCTION durable.report_activity_canceled IS 'Report that an activity stopped because its cancellation was requested.';

CREATE OR REPLACE FUNCTION durable.complete_activity_by_id(
	workflow_id text,
	activity_id text,
	result jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'complete_activity_by_id' LANGUAGE C;
COMMENT ON FUNCTION durable.complete_activity_by_id IS 'Complete the current attempt of an activity named by workflow id and activity id (asynchronous completion).';

CREATE OR REPLACE FUNCTION durable.fail_activity_by_id(
	workflow_id text,
	activity_id text,
	failure jsonb,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'fail_activity_by_id' LANGUAGE C;
COMMENT ON FUNCTION durable.fail_activity_by_id IS 'Fail the current attempt of an activity named by workflow id and activity id.';

CREATE OR REPLACE FUNCTION durable.heartbeat_activity_by_id(
	workflow_id text,
	activity_id text,
	details jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS boolean
	AS 'MODULE_PATHNAME', 'heartbeat_activity_by_id' LANGUAGE C;
COMMENT ON FUNCTION durable.heartbeat_activity_by_id IS 'Heartbeat the current attempt of an activity named by workflow id and activity id.';

CREATE OR REPLACE FUNCTION durable.report_activity_canceled_by_id(
	workflow_id text,
	activity_id text,
	details jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'report_activity_canceled_by_id' LANGUAGE C;
COMMENT ON FUNCTION durable.report_activity_canceled_by_id IS 'Report cancellation of an activity named by workflow id and activity id.';

CREATE OR REPLACE FUNCTION durable.answer_query(
	task_token text,
	result jsonb DEFAULT NULL,
	failure jsonb DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'answer_query' LANGUAGE C;
COMMENT ON FUNCTION durable.answer_query IS 'Answer a query task (kind = query) with a result or a failure.';

CREATE OR REPLACE FUNCTION durable.open_worker_session(worker_id text) RETURNS void
	AS 'MODULE_PATHNAME', 'open_worker_session' LANGUAGE C;
COMMENT ON FUNCTION durable.open_worker_session IS 'Make this connection the session of a worker: tasks that worker claims on any connection are held by the session, and time out at once when it ends.';

CREATE OR REPLACE FUNCTION durable.close_worker_session() RETURNS boolean
	AS 'MODULE_PATHNAME', 'close_worker_session' LANGUAGE C;
COMMENT ON FUNCTION durable.close_worker_session IS 'End this connection''s worker session; the tasks it holds time out at once.  False when it held none.';

CREATE OR REPLACE FUNCTION durable.release_tasks(
	worker_id text,
	task_queue text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS integer
	AS 'MODULE_PATHNAME', 'release_tasks' LANGUAGE C;
COMMENT ON FUNCTION durable.release_tasks IS 'Give back the started tasks a worker holds (on one queue, or all), at shutdown: they are ready again at once, for any worker, without counting as failed attempts. Returns how many.';

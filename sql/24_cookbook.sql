--
-- 24_cookbook: the DBA's views and function (src/sql/dba.sql, docs/dba.md):
-- durable.failure_chain, durable.recent_failures, durable.stuck_workflows,
-- durable.table_sizes; who sees what through them; and that the indexes
-- serve them (on these small tables with enable_seqscan off; bench/run
-- --cookbook checks every cookbook query's plan at 1 M runs).
-- A failure's cause chain follows Temporal's Failure message: an
-- ActivityFailure (activity type and id in its info) whose cause is the
-- activity's own failure (https://docs.temporal.io/references/failures;
-- temporalio/api temporal/api/failure/v1/message.proto).
--
-- helpers (t_try, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- failure_chain: outermost first; the activity type of an ActivityFailure
--
SELECT * FROM durable.failure_chain('{"type": "OrderFailed", "message": "order 7 failed",
	"cause": {"type": "ActivityFailure", "message": "Activity task failed",
			  "details": {"activity_type": "charge-card", "activity_id": "1"},
			  "cause": {"type": "CardDeclined", "message": "card declined"}}}')
	\gx
-- an empty failure is one link; a cause that is not an object ends the chain
SELECT depth, type, message, activity_type FROM durable.failure_chain('{}');
SELECT depth, type FROM durable.failure_chain('{"type": "A", "cause": "not a failure"}');
-- no failure, or not an object: no chain
SELECT count(*) FROM durable.failure_chain(NULL);
SELECT count(*) FROM durable.failure_chain('"card declined"');

--
-- recent_failures: runs that closed badly, with the activity their chain names
--
-- an activity fails twice (its retry policy allows two attempts), and the
-- workflow fails with the ActivityFailure an SDK makes of it
SELECT t_start_with('c24-failed', 'c24', $$[{"type": "schedule_activity", "activity_id": "1",
	"activity_type": "charge-card", "start_to_close_timeout": "1 minute",
	"retry_policy": {"maximum_attempts": 2, "initial_interval": "1ms", "maximum_interval": "1ms"}}]$$);
SELECT kind, activity, attempt FROM t_poll('c24', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.fail_activity(:'atok', '{"type": "CardDeclined", "message": "card declined"}');
SELECT t_wait($$EXISTS (SELECT FROM durable.tasks WHERE task_queue = 'c24' AND kind = 'activity')$$);
SELECT kind, activity, attempt FROM t_poll('c24', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.fail_activity(:'atok', '{"type": "CardDeclined", "message": "card declined again"}');
SELECT kind FROM t_poll('c24', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok', $$[{"type": "fail_workflow", "failure": {
	"type": "ActivityFailure", "message": "Activity task failed",
	"details": {"activity_type": "charge-card", "activity_id": "1", "retry_state": "MAXIMUM_ATTEMPTS_REACHED"},
	"cause": {"type": "CardDeclined", "message": "card declined again"}}}]$$)->>'outcome' AS outcome;
-- a workflow that wraps the activity's failure in its own
SELECT t_start_with('c24-wrapped', 'c24', $$[{"type": "fail_workflow", "failure": {
	"type": "OrderFailed", "message": "order could not be shipped", "non_retryable": true,
	"cause": {"type": "ActivityFailure", "message": "Activity task failed",
			  "details": {"activity_type": "ship-parcel", "activity_id": "2"},
			  "cause": {"type": "TimeoutError", "message": "activity StartToClose timeout",
						"timeout_type": "START_TO_CLOSE"}}}}]$$);
-- a failure no activity caused
SELECT t_start_with('c24-own', 'c24', '[{"type": "fail_workflow", "failure": {"type": "Invalid", "message": "bad input"}}]');
-- terminated, and completed (not a failure)
SELECT durable.start_workflow('Flow', NULL, 'c24-terminated', 'c24') IS NOT NULL AS started;
SELECT durable.terminate_workflow('c24-terminated', 'stuck order');
SELECT t_start_with('c24-ok', 'c24', '[{"type": "complete_workflow", "result": 1}]');
SELECT workflow_id, workflow_type, status, failure_type, failure_message, activity_type,
	   root_cause_type, root_cause_message, duration >= '0' AS duration_ok, task_queue
FROM durable.recent_failures WHERE workflow_id LIKE 'c24-%' ORDER BY workflow_id;
-- the attempt log has both attempts of the failed activity
SELECT attempt, activity_type, outcome, failure->>'message' AS message
FROM durable.activity_attempts WHERE workflow_id = 'c24-failed' ORDER BY attempt;

--
-- stuck_workflows: the pending work of each run and since when it waits
--
-- a workflow task nobody takes (no worker polls c24-idle)
SELECT durable.start_workflow('Flow', NULL, 'c24-queued', 'c24-idle') IS NOT NULL AS started;
-- a workflow task a worker holds
SELECT durable.start_workflow('Flow', NULL, 'c24-held', 'c24-held') IS NOT NULL AS started;
SELECT kind FROM t_poll('c24-held', '{workflow}', 'worker-7');
-- an activity that failed once and waits an hour for its next attempt
SELECT t_start_with('c24-retry', 'c24-r', $$[{"type": "schedule_activity", "activity_id": "1",
	"activity_type": "reserve-stock", "start_to_close_timeout": "1 minute",
	"retry_policy": {"initial_interval": "1 hour"}}]$$);
SELECT kind, activity, attempt FROM t_poll('c24-r', '{activity}', 'worker-8');
SELECT token AS atok FROM t_last \gset
SELECT durable.fail_activity(:'atok', '{"type": "OutOfStock", "message": "no stock"}');
-- a run sleeping on a timer (not overdue), and one waiting for a signal:
-- neither is stuck, and neither is in the view
SELECT t_start_with('c24-sleeping', 'c24', '[{"type": "start_timer", "timer_id": "t", "duration": "1 hour"}]');
SELECT t_start_with('c24-waiting', 'c24', '[]');
SELECT workflow_id, workflow_type, status, waiting_on, task_queue, worker_id, activity_type, attempt,
	   last_failure->>'message' AS last_failure, since <= now() AS since_ok, waiting_for >= '0' AS waiting_ok,
	   idle >= '0' AS idle_ok, last_progress_time IS NOT NULL AS has_progress
FROM durable.stuck_workflows WHERE workflow_id LIKE 'c24-%' ORDER BY workflow_id, waiting_on;
-- how a DBA asks: what has waited longest (here: more than nothing)
SELECT workflow_id, waiting_on FROM durable.stuck_workflows
WHERE namespace = 'default' AND since < now() AND workflow_id LIKE 'c24-%'
ORDER BY since LIMIT 2;

--
-- table_sizes: every durable table, with its sizes
--
SELECT table_name, unlogged, total_bytes >= table_bytes + index_bytes AS sizes_add_up, index_bytes > 0 AS indexed
FROM durable.table_sizes
WHERE table_name IN ('workflows', 'history_batches', 'activity_attempts', 'tasks', 'engine_state')
ORDER BY table_name;
SELECT count(*) = (SELECT count(*) FROM pg_tables WHERE schemaname = 'durable') AS every_table
FROM durable.table_sizes;

--
-- who sees what: the views run with the reader's rights, so row-level
-- security shows each role its namespaces' runs (docs/namespaces.md)
--
CREATE ROLE c24_client;
GRANT durable_client TO c24_client;
CREATE ROLE c24_nobody;
SET ROLE c24_client;
SELECT count(*) AS failures FROM durable.recent_failures WHERE workflow_id LIKE 'c24-%';
SELECT count(*) AS stuck FROM durable.stuck_workflows WHERE workflow_id LIKE 'c24-%';
SELECT count(*) AS chain FROM durable.failure_chain('{"type": "A"}');
SET ROLE c24_nobody;
SELECT count(*) AS failures FROM durable.recent_failures WHERE workflow_id LIKE 'c24-%';
SELECT count(*) AS stuck FROM durable.stuck_workflows WHERE workflow_id LIKE 'c24-%';
SELECT count(*) > 0 AS sizes FROM durable.table_sizes;
RESET ROLE;

--
-- the indexes serve the views: recent failures by close time through the
-- partial index of failed runs; the stuck runs looked up by run id (only
-- for the rows returned, and only when a column of the run is asked for)
--
ANALYZE durable.workflows, durable.activity_attempts;
SET enable_seqscan = off;
-- t_scans: how a query reads a table: the scans of the plan, by index
-- (whether an index scan or a bitmap scan, which varies with the sample)
CREATE FUNCTION t_scans(q text, rel text DEFAULT 'workflows') RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	plan jsonb;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
	RETURN QUERY
	SELECT DISTINCT CASE WHEN n->>'Node Type' = 'Seq Scan' THEN 'Seq Scan on ' || rel
						 ELSE 'index ' || (n->>'Index Name') END
	FROM jsonb_path_query(plan, 'strict $.**') n
	WHERE jsonb_typeof(n) = 'object'
	  AND n->>'Node Type' IN ('Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Index Scan')
	  AND (n->>'Relation Name' = rel
		   OR n->>'Index Name' IN (SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
								   WHERE i.indrelid = ('durable.' || rel)::regclass))
	ORDER BY 1;
END
$$;
SELECT * FROM t_scans($$SELECT close_time, workflow_id, activity_type FROM durable.recent_failures
	WHERE namespace = 'default' AND close_time > now() - interval '1 day' ORDER BY close_time DESC LIMIT 50$$);
SELECT * FROM t_scans($$SELECT workflow_id, workflow_type, waiting_on, idle FROM durable.stuck_workflows
	WHERE namespace = 'default' AND since < now() - interval '1 hour' ORDER BY since LIMIT 50$$);
SELECT * FROM t_scans($$SELECT activity_type, root_cause_type, count(*) FROM durable.recent_failures
	WHERE namespace = 'default' AND close_time > now() - interval '7 days' GROUP BY 1, 2$$);
SELECT * FROM t_scans($$SELECT activity_type, count(*) FROM durable.activity_attempts
	WHERE closed_time > now() - interval '1 hour' GROUP BY activity_type$$, 'activity_attempts');
SELECT * FROM t_scans($$SELECT activity_type, count(*) FROM durable.activity_attempts
	WHERE closed_time > now() - interval '1 day' AND outcome <> 'completed' GROUP BY activity_type$$,
	'activity_attempts');
RESET enable_seqscan;

-- clean up: the runs end, the roles go
SELECT durable.terminate_workflow(workflow_id) FROM durable.workflows
WHERE workflow_id LIKE 'c24-%' AND status = 'running' ORDER BY workflow_id;
DROP FUNCTION t_scans(text, text);
DROP ROLE c24_client;
DROP ROLE c24_nobody;

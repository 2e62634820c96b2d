--
-- 20_metrics: the engine's counters and histograms (durable.metrics,
-- durable.metric_histograms) and the gauges computed when read.  Each part
-- uses queues of its own, whose slots start at zero, so the values are
-- exact.  Names follow Temporal's server metrics
-- (https://docs.temporal.io/references/cluster-metrics: workflow_success,
-- workflow_failed, workflow_continued_as_new, failed_workflow_tasks,
-- poll_success, task_schedule_to_start_latency, approximate_backlog_count).
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

-- t_m shows a queue's non-zero metrics without timing values (sums, ages)
CREATE FUNCTION t_m(q text) RETURNS TABLE (metric text, labels jsonb, type text, value float8)
LANGUAGE sql AS $$
	SELECT m.metric, m.labels - 'namespace' - 'task_queue', m.type, m.value
	FROM durable.metrics m
	WHERE m.labels->>'namespace' = 'default' AND m.labels->>'task_queue' = q AND m.value <> 0
	  AND m.metric NOT LIKE '%\_sum' AND m.metric <> 'durable_approximate_backlog_age_seconds'
	ORDER BY m.metric, m.labels::text
$$;

--
-- a queue nobody used has no metrics
--
SELECT count(*) FROM durable.metrics WHERE labels->>'task_queue' = 'm20-none';

--
-- one workflow through polls: started, three polled workflow tasks, one
-- failed by its worker, a polled activity, success
--
SELECT t_start_with('m20-poll', 'm20a', $$[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A",
	"start_to_close_timeout": "1 minute"}]$$);
SELECT * FROM t_poll('m20a', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.complete_activity(:'atok', '1');
SELECT * FROM t_poll('m20a', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.fail_workflow_task(:'wtok', '{"message": "nondeterminism"}');
SELECT * FROM t_poll('m20a', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok', '[{"type": "complete_workflow", "result": 1}]')->>'outcome' AS outcome;
SELECT * FROM t_m('m20a');
-- history events written: every event of the run
SELECT (SELECT value FROM durable.metrics WHERE metric = 'durable_history_events_written_total'
		AND labels = '{"namespace": "default", "task_queue": "m20a"}') =
	   (SELECT history_length FROM durable.workflows WHERE workflow_id = 'm20-poll') AS events_match;
-- the histograms: cumulative buckets of 1 ms to 60 s, then +Inf with the count
SELECT metric, labels->>'kind' AS kind, count(*) AS buckets, max(count) FILTER (WHERE le = 'Infinity') AS count,
	   bool_and(le > 0) AS positive
FROM durable.metric_histograms WHERE labels->>'task_queue' = 'm20a' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT DISTINCT le FROM durable.metric_histograms ORDER BY le;
-- each bucket holds at least the one below it
SELECT count(*) AS decreasing FROM (
	SELECT count < lag(count) OVER (PARTITION BY metric, labels ORDER BY le) AS down
	FROM durable.metric_histograms WHERE labels->>'task_queue' = 'm20a') s WHERE down;
-- _count equals the +Inf bucket
SELECT count(*) AS mismatched
FROM durable.metric_histograms h JOIN durable.metrics m
  ON m.metric = h.metric || '_count' AND m.labels = h.labels
WHERE h.le = 'Infinity' AND h.labels->>'task_queue' = 'm20a' AND m.value <> h.count;

--
-- eager dispatch: the activity and the workflow task go back in the
-- responses; schedule-to-start is observed for them too
--
SELECT durable.start_workflow('Eager', NULL, 'm20-eager', 'm20b') IS NOT NULL AS started;
SELECT * FROM t_poll('m20b', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok', $$[{"type": "schedule_activity", "activity_id": "a",
	"activity_type": "A", "start_to_close_timeout": "1 minute", "request_eager_execution": true}]$$)
	->'tasks'->0->>'task_token' AS atok \gset
SELECT durable.complete_activity(:'atok', '1', true)->'tasks'->0->>'task_token' AS wtok \gset
SELECT durable.complete_workflow_task(:'wtok', '[{"type": "continue_as_new", "input": 2}]')->>'outcome' AS outcome;
-- the new run: started, its first task waits (the backlog gauge)
SELECT * FROM t_m('m20b');
SELECT metric, labels - 'namespace', value FROM durable.metrics
WHERE metric = 'durable_workflows_running' AND labels->>'workflow_type' = 'Eager';

--
-- what rolls back is not counted; a rolled-back savepoint neither
--
BEGIN;
SELECT durable.start_workflow('Rolled', NULL, 'm20-rb1', 'm20c') IS NOT NULL AS started;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT durable.start_workflow('Rolled', NULL, 'm20-rb2', 'm20c') IS NOT NULL AS started;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s2;
SELECT durable.start_workflow('Rolled', NULL, 'm20-rb3', 'm20c') IS NOT NULL AS started;
RELEASE SAVEPOINT s2;
-- not before the commit
SELECT * FROM t_m('m20c') WHERE metric = 'durable_workflow_started_total';
COMMIT;
SELECT * FROM t_m('m20c') WHERE metric = 'durable_workflow_started_total';

--
-- retries, timeouts, failures, terminations
--
-- an activity retried, then the workflow failed by its worker
SELECT t_start_with('m20-retry', 'm20d', $$[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A",
	"start_to_close_timeout": "1 minute", "retry_policy": {"initial_interval": "1 hour"}}]$$);
SELECT * FROM t_poll('m20d', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.fail_activity(:'atok', '{"message": "flaky"}');
SELECT durable.signal_workflow('m20-retry', 'go');
SELECT * FROM t_poll('m20d', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok', '[{"type": "fail_workflow", "failure": {"message": "no"}}]')->>'outcome' AS outcome;
-- an activity nobody takes within its schedule-to-start timeout, a timer,
-- and a workflow task nobody completes within its timeout (the engine)
SELECT durable.start_workflow('Slow', NULL, 'm20-slow', 'm20e', task_timeout => '1 second') IS NOT NULL AS started;
SELECT * FROM t_poll('m20e', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok', $$[{"type": "schedule_activity", "activity_id": "a",
	"activity_type": "A", "task_queue": "m20e-nobody", "start_to_close_timeout": "1 minute",
	"schedule_to_start_timeout": "100 milliseconds"},
	{"type": "start_timer", "timer_id": "t", "duration": "50 milliseconds"}]$$)->>'outcome' AS outcome;
SELECT t_wait($$(SELECT count(*) = 2 FROM durable.get_history('m20-slow')
				 WHERE event_type IN ('ActivityTaskTimedOut', 'TimerFired'))$$) AS timed_out;
SELECT kind, workflow_id FROM t_poll('m20e', '{workflow}');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.get_history('m20-slow') WHERE event_type = 'WorkflowTaskTimedOut')$$)
	AS task_timed_out;
SELECT durable.terminate_workflow('m20-slow', 'done');
SELECT * FROM t_m('m20d');
SELECT * FROM t_m('m20e');
SELECT * FROM t_m('m20e-nobody');

--
-- a role sees the metrics of the namespaces it holds a capability in
--
CREATE ROLE m20_nobody;
CREATE ROLE m20_client IN ROLE durable_client;
SET ROLE m20_nobody;
SELECT count(*) AS seen FROM durable.metrics WHERE labels->>'namespace' = 'default';
SELECT count(*) AS seen FROM durable.metric_histograms WHERE labels->>'namespace' = 'default';
SET ROLE m20_client;
SELECT count(*) > 0 AS seen FROM durable.metrics WHERE labels->>'task_queue' = 'm20a';
SELECT count(*) > 0 AS seen FROM durable.metric_histograms WHERE labels->>'task_queue' = 'm20a';
RESET ROLE;
DROP ROLE m20_nobody;
DROP ROLE m20_client;

--
-- the table of slots is 1,024 queues: beyond, metrics go to the _other_ slot
--
SELECT count(durable.start_workflow('Many', NULL, 'm20-many-' || i, 'm20x-' || i)) AS started
FROM generate_series(1, 1100) i;
SELECT (SELECT sum(value) FROM durable.metrics WHERE metric = 'durable_workflow_started_total'
		AND labels->>'task_queue' LIKE 'm20x-%') +
	   (SELECT sum(value) FROM durable.metrics WHERE metric = 'durable_workflow_started_total'
		AND labels->>'task_queue' = '_other_') AS counted,
	   (SELECT value > 0 FROM durable.metrics WHERE metric = 'durable_workflow_started_total'
		AND labels = '{"namespace": "_other_", "task_queue": "_other_"}') AS overflowed;

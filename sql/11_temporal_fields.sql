--
-- 11_temporal_fields: fields of Temporal's that workers send.  A failure's
-- next_retry_delay replaces the retry policy's backoff for the next attempt;
-- continue_as_new carries memo, search attributes, a retry policy and a
-- backoff before the new run's first workflow task.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- next_retry_delay
--
SELECT t_start_with('t11-nrd', 't11', $$[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A",
	"start_to_close_timeout": "1 minute", "retry_policy": {"initial_interval": "1s", "maximum_interval": "2s"}}]$$);
SELECT * FROM t_poll('t11', '{activity}');
SELECT token AS atok FROM t_last \gset
-- the policy would wait 1 s; the failure asks for 50 minutes (over maximum_interval too)
SELECT durable.fail_activity(:'atok', '{"message": "later", "next_retry_delay": "50 minutes"}');
SELECT a.state, a.attempt,
	   (SELECT t.fire_time - clock_timestamp() BETWEEN '49 minutes' AND '50 minutes' FROM durable.timers t
		WHERE t.run_id = a.run_id AND t.kind = 'activity_retry') AS retry_in_50_minutes,
	   a.last_failure->>'next_retry_delay' AS stored
FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't11-nrd';
-- bad values are refused and change nothing
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't11-x', 't11x', retry_policy => '{}')$$) AS start_ok;
SELECT * FROM t_poll('t11x', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT t_try(format($$SELECT durable.fail_workflow_task(%L, '{"message": "x", "next_retry_delay": true}')$$, :'wtok')) AS not_a_duration;
SELECT t_try(format($$SELECT durable.fail_workflow_task(%L, '{"message": "x", "next_retry_delay": "-1 second"}')$$, :'wtok')) AS negative;
SELECT t_try(format($$SELECT durable.fail_workflow_task(%L, '{"message": "x", "next_retry_delay": "1000 years"}')$$, :'wtok')) AS too_long;
SELECT durable.terminate_workflow('t11-nrd');
SELECT durable.terminate_workflow('t11-x');

--
-- continue_as_new with memo, search attributes, retry policy and a backoff
--
SELECT durable.start_workflow('T', '{"i": 1}', 't11-can', 't11c', memo => '{"m": 1}',
	search_attributes => '{"Tenant": "a"}') IS NOT NULL AS started;
SELECT * FROM t_poll('t11c', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "continue_as_new",
	"search_attributes": [1]}]')$$, :'wtok')) AS bad_search_attributes;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "continue_as_new",
	"retry_policy": {"maximum_attempts": -1}}]')$$, :'wtok')) AS bad_retry_policy;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "continue_as_new",
	"backoff_start_interval": "1000 years"}]')$$, :'wtok')) AS bad_backoff;
SELECT durable.complete_workflow_task(:'wtok', $$[{"type": "continue_as_new", "input": {"i": 2},
	"memo": {"m": 2}, "search_attributes": {"Tenant": "b"}, "retry_policy": {"maximum_attempts": 3},
	"backoff_start_interval": "1 hour"}]$$)->>'outcome' AS outcome;
SELECT event_type, attributes->'memo' AS memo, attributes->'search_attributes' AS search_attributes,
	   attributes->'retry_policy'->'maximum_attempts' AS max_attempts,
	   attributes->>'backoff_start_interval' AS backoff
FROM durable.get_history('t11-can', (SELECT run_id FROM durable.workflows WHERE workflow_id = 't11-can'
	AND status = 'continued_as_new')) WHERE event_type = 'WorkflowExecutionContinuedAsNew';
SELECT w.memo, w.search_attributes, w.retry_policy->'maximum_attempts' AS max_attempts, w.wft_state,
	   (SELECT t.fire_time - clock_timestamp() BETWEEN '59 minutes' AND '1 hour' FROM durable.timers t
		WHERE t.run_id = w.run_id AND t.kind = 'workflow_start') AS first_task_in_an_hour
FROM durable.workflows w WHERE w.workflow_id = 't11-can' AND w.status = 'running';
SELECT attributes->>'first_workflow_task_backoff' AS first_workflow_task_backoff
FROM durable.get_history('t11-can') WHERE event_type = 'WorkflowExecutionStarted';
SELECT count(*) AS ready_tasks FROM durable.poll_task('t11c', 'w');
-- without the fields, the next run keeps this run's
SELECT durable.terminate_workflow('t11-can');
SELECT durable.start_workflow('T', NULL, 't11-keep', 't11k', memo => '{"m": 1}',
	search_attributes => '{"Tenant": "a"}') IS NOT NULL AS started;
SELECT * FROM t_poll('t11k', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok', '[{"type": "continue_as_new"}]')->>'outcome' AS outcome;
SELECT memo, search_attributes FROM durable.workflows WHERE workflow_id = 't11-keep' AND status = 'running';

--
-- 05_timers_signals: timers, signals, cancellation, termination, results,
-- continue-as-new, run timeouts, describe_workflow and get_history.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- timers fire (the engine worker fires them)
--
SELECT t_start_with('w5-timer', 'w5-timer', $$[
	{"type": "start_timer", "timer_id": "short", "duration": "100 milliseconds"},
	{"type": "start_timer", "timer_id": "long", "duration": "1 hour"}]$$);
SELECT pending_timers->0->>'timer_id' AS first_timer, jsonb_array_length(pending_timers) AS timers
FROM durable.describe_workflow('w5-timer');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.get_history('w5-timer') WHERE event_type = 'TimerFired')$$) AS fired;
SELECT * FROM t_hist('w5-timer') WHERE event_id > 4;
SELECT * FROM t_poll('w5-timer');
-- cancel the other timer
SELECT durable.complete_workflow_task(token, '[{"type": "cancel_timer", "timer_id": "long"}]') FROM t_last;
SELECT * FROM t_hist('w5-timer') WHERE event_id > 7;
SELECT pending_timers FROM durable.describe_workflow('w5-timer');
SELECT count(*) AS timers FROM durable.timers t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w5-timer';
SELECT durable.terminate_workflow('w5-timer', 'done');

--
-- signals: ordered, deduplicated by request id
--
SELECT durable.start_workflow('Flow', NULL, 'w5-sig', 'w5-sig') AS run_sig \gset
SELECT durable.signal_workflow('w5-sig', 'a', '1');
SELECT durable.signal_workflow('w5-sig', 'b', '2', request_id => 'req-b');
SELECT durable.signal_workflow('w5-sig', 'b', '2', request_id => 'req-b');
SELECT durable.signal_workflow('w5-sig', 'c', '{"x": [3]}', run_id => :'run_sig', request_id => 'req-c');
SELECT durable.signal_workflow('w5-sig', 'b', '2', request_id => 'req-b');
SELECT event_id, event_type, attributes FROM t_hist('w5-sig') WHERE event_id > 2;
-- a signal with an unknown run id, a NULL name or a too large payload is rejected
SELECT t_try($$SELECT durable.signal_workflow('w5-sig', 'a', run_id => '00000000-0000-0000-0000-000000000000')$$) AS unknown_run;
SELECT t_try($$SELECT durable.signal_workflow('w5-sig', NULL)$$) AS null_name;
SELECT t_try($$SELECT durable.signal_workflow('w5-sig', '')$$) AS empty_name;
SELECT t_try($$SELECT durable.signal_workflow('w5-nope', 'a')$$) AS unknown_workflow;
SET durable.max_payload_size = '1kB';
SELECT t_try(format('SELECT durable.signal_workflow(''w5-sig'', ''big'', %L)', to_jsonb(repeat('s', 2000)))) AS big_payload;
RESET durable.max_payload_size;
SELECT history_length FROM durable.workflows WHERE run_id = :'run_sig';
-- signal to a closed workflow
SELECT durable.terminate_workflow('w5-sig', 'stop it');
SELECT t_try($$SELECT durable.signal_workflow('w5-sig', 'late')$$) AS closed;
SELECT t_try($$SELECT durable.signal_workflow('w5-sig', 'b', '2', request_id => 'req-b')$$) AS closed_dedupe;

--
-- cancel_workflow: a request the workflow code handles; deduplicated
--
SELECT durable.start_workflow('Flow', NULL, 'w5-cancel', 'w5-cancel') IS NOT NULL AS started;
SELECT durable.cancel_workflow('w5-cancel', 'user asked');
SELECT durable.cancel_workflow('w5-cancel', 'user asked again');
SELECT event_id, event_type, attributes FROM t_hist('w5-cancel') WHERE event_id > 2;
SELECT status, cancel_requested FROM durable.describe_workflow('w5-cancel');
SELECT * FROM t_poll('w5-cancel');
SELECT durable.complete_workflow_task(token, '[{"type": "cancel_workflow", "details": {"cleaned": true}}]') FROM t_last;
SELECT t_try($$SELECT durable.cancel_workflow('w5-cancel')$$) AS closed;
SELECT t_try($$SELECT durable.workflow_result('w5-cancel')$$) AS result_canceled;

--
-- terminate_workflow
--
SELECT t_start_with('w5-term', 'w5-term', $$[
	{"type": "start_timer", "timer_id": "t", "duration": "1 hour"},
	{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 hour"}]$$);
SELECT * FROM t_poll('w5-term', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.terminate_workflow('w5-term', 'operator');
SELECT event_id, event_type, attributes FROM t_hist('w5-term') WHERE event_id > 6;
SELECT status, failure FROM durable.workflows WHERE workflow_id = 'w5-term';
SELECT (SELECT count(*) FROM durable.timers t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w5-term') AS timers,
	   (SELECT count(*) FROM durable.activities t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w5-term') AS activities,
	   (SELECT count(*) FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w5-term') AS tasks;
SELECT t_try(format('SELECT durable.complete_activity(%L)', :'atok')) AS activity_of_terminated;
SELECT t_try($$SELECT durable.terminate_workflow('w5-term')$$) AS terminate_twice;
SELECT t_try($$SELECT durable.terminate_workflow('w5-nope')$$) AS unknown;
SELECT t_try($$SELECT durable.workflow_result('w5-term')$$) AS result_terminated;

--
-- workflow_result for each way a run closes
--
SELECT t_start_with('w5-ok', 'w5-ok', '[{"type": "complete_workflow", "result": {"answer": 42}}]');
SELECT durable.workflow_result('w5-ok');
SELECT durable.workflow_result('w5-ok', wait => '5 seconds') AS with_wait;
SELECT t_start_with('w5-null', 'w5-null', '[{"type": "complete_workflow"}]');
SELECT durable.workflow_result('w5-null') IS NULL AS null_result;
SELECT t_start_with('w5-failed', 'w5-failed', '[{"type": "fail_workflow", "failure": {"message": "it broke", "type": "Broken"}}]');
SELECT t_try($$SELECT durable.workflow_result('w5-failed')$$) AS result_failed;
SELECT event_type, attributes FROM t_hist('w5-failed') WHERE event_id = 5;
SELECT t_try($$SELECT durable.workflow_result('w5-nope')$$) AS unknown;
SELECT t_try($$SELECT durable.workflow_result(NULL)$$) AS null_id;
SELECT t_try($$SELECT durable.workflow_result('w5-ok', wait => '-1 second')$$) AS negative_wait;
-- a running workflow: no wait, then a short wait
SELECT durable.start_workflow('Flow', NULL, 'w5-running', 'w5-running') IS NOT NULL AS started;
SELECT t_try($$SELECT durable.workflow_result('w5-running')$$) AS running;
SELECT t_try($$SELECT durable.workflow_result('w5-running', wait => '200 milliseconds')$$) AS running_wait;
-- waiting needs READ COMMITTED
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT t_try($$SELECT durable.workflow_result('w5-running', wait => '100 milliseconds')$$) AS repeatable_read;
COMMIT;
-- a specific run's result
SELECT durable.start_workflow('Flow', NULL, 'w5-ok', 'w5-ok') AS run_ok2 \gset
SELECT t_try(format('SELECT durable.workflow_result(''w5-ok'', %L)', :'run_ok2')) AS second_run_running;
SELECT durable.workflow_result('w5-ok', run_id) AS first_run
FROM durable.workflows WHERE workflow_id = 'w5-ok' AND status = 'completed';
SELECT durable.terminate_workflow('w5-ok');
SELECT durable.terminate_workflow('w5-running');

--
-- run timeout: the run times out (the engine worker fires it)
--
SELECT durable.start_workflow('Flow', NULL, 'w5-timeout', 'w5-timeout', run_timeout => '300 milliseconds') AS run_to \gset
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.workflows WHERE workflow_id = 'w5-timeout' AND status <> 'running')$$) AS closed;
SELECT status, failure FROM durable.workflows WHERE run_id = :'run_to';
SELECT event_id, event_type, attributes FROM t_hist('w5-timeout') WHERE event_id > 2;
SELECT t_try($$SELECT durable.workflow_result('w5-timeout')$$) AS result_timed_out;
SELECT count(*) AS tasks FROM durable.tasks WHERE run_id = :'run_to';
-- the execution timeout: never retried, retry policy or none (retry_state
-- TIMEOUT, as Temporal's executeWorkflowExecutionTimeoutTask)
SELECT durable.start_workflow('Flow', NULL, 'w5-exec-timeout', 'w5-timeout',
	execution_timeout => '300 milliseconds') IS NOT NULL AS started;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.workflows WHERE workflow_id = 'w5-exec-timeout' AND status <> 'running')$$) AS closed;
SELECT event_type, attributes::jsonb->>'timeout_type' AS timeout_type, attributes::jsonb->>'retry_state' AS retry_state,
	   attributes::jsonb->>'new_execution_run_id' AS next_run
FROM t_hist('w5-exec-timeout') WHERE event_type = 'WorkflowExecutionTimedOut';
SELECT count(*) AS runs FROM durable.workflows WHERE workflow_id = 'w5-exec-timeout';
-- a run that times out with a retry policy is retried as a new run of the chain
SELECT durable.start_workflow('Flow', NULL, 'w5-timeout-retry', 'w5-timeout-retry', run_timeout => '300 milliseconds',
	retry_policy => '{"initial_interval": "10 milliseconds", "maximum_attempts": 2}') AS run_tr1 \gset
SELECT t_wait($$(SELECT count(*) = 2 FROM durable.workflows WHERE workflow_id = 'w5-timeout-retry' AND status = 'timed_out')$$) AS both_timed_out;
SELECT attempt, status, previous_run_id = :'run_tr1' AS follows_first, first_run_id = :'run_tr1' AS same_chain,
	   next_run_id IS NOT NULL AS has_next
FROM durable.workflows WHERE workflow_id = 'w5-timeout-retry' ORDER BY attempt;
SELECT h.event_type, h.attributes->>'retry_state' AS retry_state, h.attributes->>'timeout_type' AS timeout_type,
	   h.attributes ? 'new_execution_run_id' AND h.attributes->>'new_execution_run_id' IS NOT NULL AS new_run
FROM durable.history h JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'w5-timeout-retry' AND h.event_type = 'WorkflowExecutionTimedOut' ORDER BY w.attempt;
-- workflow_result follows the chain to the last run
SELECT t_try(format('SELECT durable.workflow_result(''w5-timeout-retry'', %L)', :'run_tr1')) AS result_chain;

--
-- continue-as-new: a new run of the same workflow id; workflow_result follows the chain
--
SELECT durable.start_workflow('Counter', '{"n": 0}', 'w5-can', 'w5-can', run_timeout => '1 hour',
	memo => '{"m": 1}', search_attributes => '{"s": 1}') AS run_can1 \gset
SELECT * FROM t_poll('w5-can');
SELECT durable.complete_workflow_task(token, $$[{"type": "continue_as_new", "input": {"n": 1},
	"task_timeout": "30 seconds"}]$$) FROM t_last;
SELECT event_id, event_type, attributes FROM t_hist('w5-can', :'run_can1') WHERE event_id > 3;
SELECT run_id = :'run_can1' AS first, status, attempt, input, run_timeout, task_timeout, memo, search_attributes,
	   first_run_id = :'run_can1' AS same_chain, previous_run_id = :'run_can1' AS continues_first
FROM durable.workflows WHERE workflow_id = 'w5-can' ORDER BY start_time;
SELECT event_id, event_type, attributes FROM t_hist('w5-can');
SELECT t_try(format('SELECT durable.workflow_result(''w5-can'', %L)', :'run_can1')) AS result_while_second_runs;
SELECT * FROM t_poll('w5-can');
SELECT durable.complete_workflow_task(token, $$[{"type": "continue_as_new", "input": {"n": 2},
	"workflow_type": "Counter2", "task_queue": "w5-can2"}]$$) FROM t_last;
SELECT * FROM t_poll('w5-can2');
SELECT durable.complete_workflow_task(token, '[{"type": "complete_workflow", "result": "counted"}]') FROM t_last;
SELECT workflow_type, task_queue, status, input FROM durable.workflows WHERE workflow_id = 'w5-can' ORDER BY start_time;
SELECT durable.workflow_result('w5-can', :'run_can1') AS from_first_run;
SELECT durable.workflow_result('w5-can') AS latest;

--
-- describe_workflow and get_history
--
SELECT t_start_with('w5-desc', 'w5-desc', $$[
	{"type": "start_timer", "timer_id": "tm", "duration": "1 hour"},
	{"type": "schedule_activity", "activity_id": "act", "activity_type": "A", "start_to_close_timeout": "1 hour",
	 "retry_policy": {"initial_interval": "1 hour"}}]$$);
SELECT * FROM t_poll('w5-desc', '{activity}');
SELECT durable.fail_activity(token, '{"message": "once"}') FROM t_last;
SELECT durable.signal_workflow('w5-desc', 'poke');
SELECT workflow_id, workflow_type, task_queue, status, close_time IS NULL AS open, history_length, input, result,
	   failure, attempt, cancel_requested, search_attributes, memo, first_run_id = run_id AS first,
	   previous_run_id, next_run_id,
	   pending_workflow_task - 'scheduled_time' - 'started_time' AS pending_workflow_task,
	   (SELECT jsonb_agg(jsonb_build_object('id', a->'activity_id', 'state', a->'state', 'attempt', a->'attempt',
			'last_failure', a->'last_failure'->'message', 'worker', a->'last_worker_id', 'cancel_requested', a->'cancel_requested'))
		FROM jsonb_array_elements(pending_activities) a) AS activities,
	   (SELECT jsonb_agg(tm->'timer_id') FROM jsonb_array_elements(pending_timers) tm) AS timers
FROM durable.describe_workflow('w5-desc');
SELECT durable.terminate_workflow('w5-desc');
SELECT status, close_time IS NOT NULL AS closed, pending_workflow_task, pending_activities, pending_timers
FROM durable.describe_workflow('w5-desc');
SELECT t_try($$SELECT durable.describe_workflow('w5-nope')$$) AS describe_unknown;
SELECT t_try($$SELECT * FROM durable.get_history('w5-nope')$$) AS history_unknown;
SELECT t_try($$SELECT * FROM durable.get_history('w5-desc', '00000000-0000-0000-0000-000000000000')$$) AS history_unknown_run;
SELECT t_try($$SELECT * FROM durable.get_history(NULL)$$) AS history_null;
-- event ids are contiguous from 1 in every run
SELECT w.workflow_id, count(*) = max(h.event_id) AND min(h.event_id) = 1 AND max(h.event_id) = w.history_length AS contiguous
FROM durable.workflows w JOIN durable.history h USING (run_id)
WHERE w.workflow_id LIKE 'w5-%'
GROUP BY w.run_id, w.workflow_id, w.history_length
HAVING NOT (count(*) = max(h.event_id) AND min(h.event_id) = 1 AND max(h.event_id) = w.history_length);

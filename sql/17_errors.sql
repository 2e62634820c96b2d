--
-- 17_errors: what a caller sees of an error (issue 13): SQLSTATE, message,
-- DETAIL, HINT and CONTEXT, for a representative set: task tokens, unknown
-- workflows, bad commands, durations (text or a number of seconds, read
-- the same way everywhere), failure objects, oversized payloads and wrong
-- states.  No DETAIL or HINT is empty, and no CONTEXT names an internal
-- function (t_err's own frame is left out).
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers
CREATE FUNCTION t_err(label text, q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	st text; msg text; det text; hnt text; ctx text;
BEGIN
	EXECUTE q;
	RETURN NEXT label || ': ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
	-- t_err's own frames (its EXECUTE of q) are the caller's, not durable's
	ctx := btrim(regexp_replace(replace(ctx, 'SQL statement "' || q || '"', ''),
								'PL/pgSQL function t_err\(text,text\) line \d+ at EXECUTE', ''), E'\n');
	RETURN NEXT label || ': ' || st;
	RETURN NEXT '  message: ' || public.t_scrub(msg);
	RETURN NEXT '  detail:  ' || CASE WHEN det = '' THEN '(none)' ELSE public.t_scrub(det) END;
	RETURN NEXT '  hint:    ' || CASE WHEN hnt = '' THEN '(none)' ELSE public.t_scrub(hnt) END;
	RETURN NEXT '  context: ' || CASE WHEN ctx = '' THEN '(none)' ELSE public.t_scrub(ctx) END;
END
$$;
\pset tuples_only on
\pset format unaligned

-- a run with a workflow task out
SELECT durable.start_workflow('Flow', NULL, 'e1', 'q17') IS NOT NULL;
SELECT task_token AS wtok FROM durable.poll_task('q17', 'worker-1', '{workflow}') \gset

--
-- task tokens
--
SELECT * FROM t_err('malformed token', $$SELECT durable.complete_workflow_task('garbage', '[]')$$);
SELECT * FROM t_err('forged token', format($$SELECT durable.complete_workflow_task(%L, '[]')$$,
	regexp_replace(:'wtok', ':[0-9a-f]{32}$', ':' || repeat('0', 32))));
SELECT * FROM t_err('workflow token to complete_activity', format($$SELECT durable.complete_activity(%L, '1')$$, :'wtok'));
SELECT * FROM t_err('workflow token to answer_query', format($$SELECT durable.answer_query(%L, '1')$$, :'wtok'));

--
-- unknown workflow
--
SELECT * FROM t_err('signal to an unknown workflow', $$SELECT durable.signal_workflow('nope', 'go')$$);

--
-- bad commands: nothing is written, the task stays out
--
SELECT * FROM t_err('commands not an array', format($$SELECT durable.complete_workflow_task(%L, '{}')$$, :'wtok'));
SELECT * FROM t_err('unknown command type', format($$SELECT durable.complete_workflow_task(%L, '[{"type": "launch"}]')$$, :'wtok'));
SELECT * FROM t_err('unknown field', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": "1s", "repeat": true}]')$$, :'wtok'));
SELECT * FROM t_err('missing field', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "duration": "1s"}]')$$, :'wtok'));
SELECT * FROM t_err('field of the wrong type', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": 7, "duration": "1s"}]')$$, :'wtok'));
SELECT * FROM t_err('fail_workflow without failure', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "fail_workflow"}]')$$, :'wtok'));

--
-- durations: interval text or a number of seconds
--
SELECT * FROM t_err('duration a boolean', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": true}]')$$, :'wtok'));
SELECT * FROM t_err('timeout an object', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": {"s": 1}}]')$$, :'wtok'));
SELECT * FROM t_err('duration text that does not parse', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": "soon"}]')$$, :'wtok'));
SELECT * FROM t_err('negative number', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": -1.5}]')$$, :'wtok'));
SELECT * FROM t_err('negative text', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "-5s"}]')$$, :'wtok'));
SELECT * FROM t_err('number over 100 years', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": 1e10}]')$$, :'wtok'));
SELECT * FROM t_err('zero timer', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": 0}]')$$, :'wtok'));
SELECT * FROM t_err('child timeout a boolean', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_child_workflow", "workflow_id": "c", "workflow_type": "C", "run_timeout": false}]')$$, :'wtok'));
SELECT * FROM t_err('retry policy interval a boolean', format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": 1, "retry_policy": {"initial_interval": true}}]')$$, :'wtok'));
-- numbers are seconds, as in a retry policy; text as before
SELECT durable.complete_workflow_task(:'wtok', '[
	{"type": "start_timer", "timer_id": "t1", "duration": 1.5},
	{"type": "start_timer", "timer_id": "t2", "duration": "90"},
	{"type": "start_timer", "timer_id": "t3", "duration": "2 hours"},
	{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": 30,
	 "schedule_to_close_timeout": 3600, "heartbeat_timeout": 0.25,
	 "retry_policy": {"initial_interval": 0.5, "maximum_interval": 10}}]')->>'outcome';
SELECT event_type, attributes->>'start_to_fire_timeout', attributes->>'start_to_close_timeout',
	   attributes->>'schedule_to_close_timeout', attributes->>'heartbeat_timeout',
	   attributes->'retry_policy'->>'initial_interval', attributes->'retry_policy'->>'maximum_interval'
FROM durable.get_history('e1') WHERE event_type IN ('TimerStarted', 'ActivityTaskScheduled') ORDER BY event_id;

--
-- stale token: the task completed
--
SELECT * FROM t_err('stale token', format($$SELECT durable.complete_workflow_task(%L, '[]')$$, :'wtok'));

--
-- failure objects: every shape error lists the fields
--
SELECT task_token AS atok FROM durable.poll_task('q17', 'worker-1', '{activity}') \gset
SELECT * FROM t_err('failure not an object', format($$SELECT durable.fail_activity(%L, '"boom"')$$, :'atok'));
SELECT * FROM t_err('failure with an unknown field', format($$SELECT durable.fail_activity(%L, '{"reason": "x"}')$$, :'atok'));
SELECT * FROM t_err('failure message a number', format($$SELECT durable.fail_activity(%L, '{"message": 1}')$$, :'atok'));
SELECT * FROM t_err('next_retry_delay a boolean', format($$SELECT durable.fail_activity(%L, '{"next_retry_delay": true}')$$, :'atok'));
SELECT * FROM t_err('activity token to answer_query', format($$SELECT durable.answer_query(%L, '1')$$, :'atok'));
-- next_retry_delay as a number of seconds, with every optional field
SELECT durable.fail_activity(:'atok', '{"message": "later", "type": "E", "non_retryable": false, "details": [1],
	"stack_trace": "at f", "cause": {"message": "inner"}, "timeout_type": null, "next_retry_delay": 120}');
SELECT a.state, a.attempt, a.last_failure->>'next_retry_delay', a.last_failure->>'stack_trace', a.last_failure->'cause'
FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'e1';

--
-- oversized payload
--
SET durable.max_payload_size = '1kB';
SELECT * FROM t_err('oversized input', $$SELECT durable.start_workflow('Flow', to_jsonb(repeat('x', 2000)), 'e-big', 'q17')$$);
RESET durable.max_payload_size;

--
-- wrong states
--
SELECT * FROM t_err('result of a running workflow', $$SELECT durable.workflow_result('e1')$$);
SELECT durable.terminate_workflow('e1', 'done');
SELECT * FROM t_err('signal to a closed workflow', $$SELECT durable.signal_workflow('e1', 'go')$$);
SELECT * FROM t_err('result of a terminated workflow', $$SELECT durable.workflow_result('e1')$$);
-- a failure without a message: no dangling colon
SELECT t_start_with('e2', 'q17b', '[{"type": "fail_workflow", "failure": {}}]');
SELECT * FROM t_err('result of a workflow failed without a message', $$SELECT durable.workflow_result('e2')$$);
SELECT * FROM t_err('query nobody answers', $$SELECT durable.query_workflow('e2', 'state', timeout => '0.1 s')$$);

--
-- unhandled_command hands back no task, even with return_workflow_task
--
SELECT durable.start_workflow('Flow', NULL, 'e3', 'q17c') IS NOT NULL;
SELECT task_token AS wtok3 FROM durable.poll_task('q17c', 'worker-1', '{workflow}') \gset
SELECT durable.signal_workflow('e3', 'go');
SELECT durable.complete_workflow_task(:'wtok3', '[{"type": "complete_workflow", "result": 1}]',
	return_workflow_task => true);
SELECT event_id, event_type, attributes->>'cause' FROM durable.get_history('e3') ORDER BY event_id;
SELECT kind, workflow_id, attempt FROM t_poll('q17c', '{workflow}');
SELECT durable.terminate_workflow('e3');

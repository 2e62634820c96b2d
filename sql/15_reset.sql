--
-- 15_reset: reset_workflow (issue 11).  A new run gets the old run's
-- history up to a workflow task, that task failed with the reason, the
-- signals received after it re-applied and a new task; its state is rebuilt
-- from the kept events (activities still open run again, timers keep their
-- fire time); the running run is terminated.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers
CREATE FUNCTION t_done15(q text, cmds jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	tok text;
BEGIN
	SELECT task_token INTO tok FROM durable.poll_task(q, 'worker-1', '{workflow}');
	RETURN durable.complete_workflow_task(tok, cmds)->>'outcome';
END
$$;

-- task 1 schedules an activity and starts a timer; a signal makes task 2,
-- which completes while the activity runs; a second signal makes task 3
SELECT t_start_with('t15', 't15', '[
	{"type": "schedule_activity", "activity_id": "a1", "activity_type": "Charge", "start_to_close_timeout": "1 minute"},
	{"type": "start_timer", "timer_id": "t1", "duration": "1 hour"}]') AS task1;
SELECT durable.signal_workflow('t15', 's1', '1', request_id => 'r1');
SELECT t_done15('t15', '[{"type": "upsert_search_attributes", "search_attributes": {"Stage": "two"}}]') AS task2;
SELECT durable.signal_workflow('t15', 's2', '2', request_id => 'r2');
SELECT t_done15('t15', '[{"type": "upsert_search_attributes", "search_attributes": {"Stage": "three"}}]') AS task3;
SELECT event_id, event_type FROM durable.get_history('t15') ORDER BY event_id;
SELECT run_id AS old_run FROM durable.workflows WHERE workflow_id = 't15' AND status = 'running' \gset

--
-- back to task 2: the activity runs again, the timer keeps its time, s2 comes again
--
SELECT durable.reset_workflow('t15', to_event_id => 10, reason => 'bad deploy', request_id => 'reset-1') AS new_run \gset
SELECT (SELECT status FROM durable.workflows WHERE run_id = :'old_run') AS old_status,
	   (SELECT status FROM durable.workflows WHERE run_id = :'new_run') AS new_status,
	   (SELECT previous_run_id = :'old_run' FROM durable.workflows WHERE run_id = :'new_run') AS links_back;
SELECT event_type, attributes->>'reason' AS reason FROM durable.get_history('t15', :'old_run') WHERE event_type = 'WorkflowExecutionTerminated';
SELECT * FROM t_hist('t15', :'new_run') WHERE event_id > 9;
SELECT event_id, event_type FROM durable.get_history('t15', :'new_run') ORDER BY event_id;
SELECT search_attributes, cancel_requested FROM durable.workflows WHERE run_id = :'new_run';
SELECT d.pending_activities->0->>'activity_id' AS activity, d.pending_activities->0->>'attempt' AS attempt,
	   d.pending_timers->0->>'timer_id' AS timer,
	   (d.pending_timers->0->>'fire_time')::timestamptz =
	   (SELECT event_time + interval '1 hour' FROM durable.get_history('t15', :'old_run') WHERE event_type = 'TimerStarted') AS same_fire_time,
	   d.pending_workflow_task->>'state' AS task
FROM durable.describe_workflow('t15', :'new_run') d;
SELECT r.request_id FROM durable.signal_requests r WHERE r.run_id = :'new_run' ORDER BY 1;
-- the same request id again: the run it made
SELECT durable.reset_workflow('t15', :'old_run', 10, 'bad deploy', 'reset-1') = :'new_run' AS same_run;
-- the new run goes on: its task sees the failed task and the re-applied signal
SELECT kind, events FROM t_poll('t15', '{workflow}');
SELECT durable.complete_workflow_task((SELECT token FROM t_last), '[{"type": "complete_workflow", "result": "redone"}]')->>'outcome' AS outcome;
SELECT durable.workflow_result('t15') AS result;

--
-- refused resets change nothing
--
SELECT t_try(format($$SELECT durable.reset_workflow('t15', %L, 5)$$, :'old_run')) AS not_a_task_end;
SELECT t_try(format($$SELECT durable.reset_workflow('t15', %L, 999)$$, :'old_run')) AS no_such_event;
SELECT t_try($$SELECT durable.reset_workflow('t15-none', to_event_id => 4)$$) AS unknown_workflow;
SELECT t_try($$SELECT durable.reset_workflow('t15')$$) AS no_event;
SELECT t_start_with('t15-p', 't15-p', '[{"type": "start_child_workflow", "workflow_id": "t15-c", "workflow_type": "C", "task_queue": "t15-c"}]') AS parent;
SELECT durable.signal_workflow('t15-p', 'x');
SELECT t_done15('t15-p', '[]') AS parent_task2;
SELECT t_try($$SELECT durable.reset_workflow('t15-p', to_event_id => 10)$$) AS child_under_way;
SELECT count(*) AS parent_runs FROM durable.workflows WHERE workflow_id = 't15-p';
SELECT durable.terminate_workflow('t15-p');
SELECT t_wait($$(SELECT status FROM durable.workflows WHERE workflow_id = 't15-c') = 'terminated'$$) AS child_terminated_by_policy;

--
-- every running workflow of a type that recorded a bad event goes back
--
SELECT t_start_with('t15-b' || i, 't15-b', '[]') FROM generate_series(1, 3) i;
SELECT durable.signal_workflow('t15-b' || i, 'go') FROM generate_series(1, 3) i;
SELECT t_done15('t15-b', format('[{"type": "record_marker", "marker_name": "%s"}]', CASE WHEN i = 2 THEN 'bad' ELSE 'good' END)::jsonb)
FROM generate_series(1, 3) i;
SELECT workflow_id FROM durable.reset_workflows_with_bad_event('Flow', 'MarkerRecorded', '{"marker_name": "bad"}', 'bad marker');
SELECT workflow_id, count(*) AS runs, string_agg(status, ',' ORDER BY start_time) AS statuses
FROM durable.workflows WHERE workflow_id LIKE 't15-b_' GROUP BY 1 ORDER BY 1;
SELECT event_type FROM durable.get_history('t15-b2') WHERE event_id > 7 ORDER BY event_id;
SELECT durable.terminate_workflow('t15-b' || i) FROM generate_series(1, 3) i;

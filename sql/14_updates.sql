--
-- 14_updates: workflow updates (issue 11).  An update is admitted through
-- shared memory, handed to the worker with a workflow task (its
-- "messages"), and accepted, completed or rejected by the completion; a
-- rejected update leaves no trace, not even the speculative workflow task
-- made for it.  A client that waits for a stage is tested in
-- test/t/015_updates.pl (two sessions); here the caller asks with
-- wait => '0' and a worker answers in the same session.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

SELECT t_start_with('t14-u', 't14-u', '[]') AS outcome;
SELECT history_length FROM durable.describe_workflow('t14-u');

--
-- admitted at once with wait 0; the engine makes a speculative task for it
--
SELECT update_id, stage, result, failure
FROM durable.update_workflow('t14-u', 'add', '[2, 3]', update_id => 'u-1', wait => '0');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-u')$$) AS task_made;
-- the task carries the update; no event was written for it
SELECT history_length FROM durable.describe_workflow('t14-u');
SELECT kind, messages, jsonb_agg(e->>'event_type') AS events, task_token AS tok
FROM durable.poll_task('t14-u', 'worker-1', '{workflow}'), jsonb_array_elements(history) e
GROUP BY 1, 2, 4 \gset
SELECT :'kind' AS kind, :'messages' AS messages, :'events' AS events;
-- accepted and completed in one completion
SELECT durable.complete_workflow_task(:'tok', '[
	{"type": "accept_update", "update_id": "u-1", "name": "add", "args": [2, 3]},
	{"type": "complete_update", "update_id": "u-1", "result": 5}]')->>'outcome' AS outcome;
SELECT * FROM t_hist('t14-u') WHERE event_id > 4;
SELECT update_id, name, state, accepted_event_id, outcome FROM durable.updates u
JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-u';
-- the same update id again: its outcome, not a second update
SELECT update_id, stage, result, failure
FROM durable.update_workflow('t14-u', 'add', '[2, 3]', update_id => 'u-1', wait => '0');

--
-- a rejected update writes nothing, and its speculative task vanishes
--
SELECT update_id, stage FROM durable.update_workflow('t14-u', 'bad', NULL, update_id => 'u-2', wait => '0');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-u')$$) AS task_made;
SELECT task_token AS tok, messages FROM durable.poll_task('t14-u', 'worker-1', '{workflow}') \gset
SELECT :'messages' AS messages;
SELECT durable.complete_workflow_task(:'tok', '[{"type": "reject_update", "update_id": "u-2", "failure": {"message": "bad input"}}]')->>'outcome' AS outcome;
SELECT history_length, pending_workflow_task FROM durable.describe_workflow('t14-u');
SELECT count(*) AS tasks_left FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-u';

--
-- accepted in one task, completed in a later one (an async handler)
--
SELECT stage FROM durable.update_workflow('t14-u', 'slow', '"x"', update_id => 'u-3', wait => '0');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-u')$$) AS task_made;
SELECT task_token AS tok FROM durable.poll_task('t14-u', 'worker-1', '{workflow}') \gset
SELECT durable.complete_workflow_task(:'tok', '[
	{"type": "accept_update", "update_id": "u-3", "name": "slow", "args": "x"},
	{"type": "start_timer", "timer_id": "t", "duration": "1 hour"}]')->>'outcome' AS outcome;
SELECT update_id, stage FROM durable.update_workflow('t14-u', 'slow', '"x"', update_id => 'u-3', wait => '0');
SELECT durable.signal_workflow('t14-u', 'go');
SELECT task_token AS tok FROM durable.poll_task('t14-u', 'worker-1', '{workflow}') \gset
SELECT durable.complete_workflow_task(:'tok', '[
	{"type": "complete_update", "update_id": "u-3", "failure": {"message": "slow failed", "type": "Oops"}}]')->>'outcome' AS outcome;
SELECT update_id, stage, result, failure FROM durable.update_workflow('t14-u', 'slow', '"x"', update_id => 'u-3', wait => '0');
SELECT event_id, event_type FROM durable.get_history('t14-u') WHERE event_id > 9 ORDER BY event_id;

--
-- bad update commands change nothing
--
SELECT durable.signal_workflow('t14-u', 'again');
SELECT task_token AS tok FROM durable.poll_task('t14-u', 'worker-1', '{workflow}') \gset
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "complete_update", "update_id": "nope", "result": 1}]')$$, :'tok')) AS not_accepted;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "accept_update", "update_id": "u-1", "name": "add"}]')$$, :'tok')) AS accepted_twice;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "complete_update", "update_id": "u-1", "result": 1}]')$$, :'tok')) AS completed_twice;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "reject_update", "update_id": "u-1", "failure": {"message": "late"}}]')$$, :'tok')) AS reject_accepted;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "accept_update", "name": "add"}]')$$, :'tok')) AS no_id;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "reject_update", "update_id": "z"}]')$$, :'tok')) AS no_failure;
SELECT durable.complete_workflow_task(:'tok', '[]')->>'outcome' AS still_completes;

-- accepted, never completed: once the workflow closes, a wait for completion is DU003
SELECT stage FROM durable.update_workflow('t14-u', 'late', NULL, update_id => 'u-9', wait => '0');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-u')$$) AS task_made;
SELECT task_token AS tok FROM durable.poll_task('t14-u', 'worker-1', '{workflow}') \gset
SELECT durable.complete_workflow_task(:'tok', '[{"type": "accept_update", "update_id": "u-9", "name": "late"}]')->>'outcome' AS outcome;

--
-- bad calls
--
SELECT t_try($$SELECT durable.update_workflow('t14-none', 'x')$$) AS unknown_workflow;
SELECT t_try($$SELECT durable.update_workflow('t14-u', NULL)$$) AS null_name;
SELECT t_try($$SELECT durable.update_workflow('t14-u', 'x', wait_for_stage => 'done')$$) AS bad_stage;
SELECT t_try($$SELECT durable.update_workflow('t14-u', 'x', wait => '-1 second')$$) AS negative_wait;
SELECT t_try($$SELECT durable.update_workflow('t14-u', 'x', namespace => 'nope')$$) AS unknown_namespace;
SELECT durable.terminate_workflow('t14-u');
SELECT t_try($$SELECT durable.update_workflow('t14-u', 'x')$$) AS closed_workflow;
SELECT t_try($$SELECT durable.update_workflow('t14-u', 'late', update_id => 'u-9', wait => '0')$$) AS accepted_then_closed;
SELECT update_id, stage FROM durable.update_workflow('t14-u', 'late', update_id => 'u-9', wait_for_stage => 'accepted', wait => '0');
-- a completed update of a closed run still answers
SELECT update_id, stage, result FROM durable.update_workflow('t14-u', 'add', update_id => 'u-1', wait => '0');

--
-- force_new_task: a worker running local activities keeps its workflow task
-- alive (Temporal's force_create_new_workflow_task): the completion
-- schedules a new task with nothing new, started for the same worker
--
SELECT t_start_with('t14-la', 't14-la', '[]') AS outcome;
SELECT durable.signal_workflow('t14-la', 'work');
SELECT task_token AS tok FROM durable.poll_task('t14-la', 'worker-1', '{workflow}') \gset
SELECT (r->>'outcome') AS outcome, jsonb_array_length(r->'tasks') AS tasks_back,
	   r->'tasks'->0->>'kind' AS kind, r->'tasks'->0->'history'->-1->>'event_type' AS last_event
FROM (SELECT durable.complete_workflow_task(:'tok', '[{"type": "record_marker", "marker_name": "LocalActivity", "details": {"result": 1}}]',
										   return_workflow_task => true, force_new_task => true)::jsonb AS r) x;
SELECT event_id, event_type FROM durable.get_history('t14-la') WHERE event_id > 4 ORDER BY event_id;
SELECT durable.terminate_workflow('t14-la');

--
-- update-with-start: the workflow starts, and its first task carries the update
--
SELECT update_id, stage FROM durable.update_with_start_workflow('t14-uws', 'init', '{"n": 1}', 'uws-1',
	workflow_type => 'Flow', task_queue => 't14-uws');
SELECT task_token AS tok, messages, jsonb_array_length(history) AS events
FROM durable.poll_task('t14-uws', 'worker-1', '{workflow}') \gset
SELECT :'messages' AS messages, :events AS events;
SELECT durable.complete_workflow_task(:'tok', '[
	{"type": "accept_update", "update_id": "uws-1", "name": "init", "args": {"n": 1}},
	{"type": "complete_update", "update_id": "uws-1", "result": "ready"}]')->>'outcome' AS outcome;
SELECT update_id, stage, result FROM durable.update_workflow('t14-uws', 'init', update_id => 'uws-1', wait => '0');
-- the workflow runs: the same call updates it, and an accepted id is not sent again
SELECT update_id, stage, result FROM durable.update_with_start_workflow('t14-uws', 'init', '{"n": 1}', 'uws-1',
	workflow_type => 'Flow', task_queue => 't14-uws');
SELECT count(*) AS runs FROM durable.workflows WHERE workflow_id = 't14-uws';
SELECT t_try($$SELECT durable.update_with_start_workflow('t14-x', 'u')$$) AS no_type;
SELECT durable.terminate_workflow('t14-uws');

--
-- a task the same completion hands back does not carry the update it
-- answered (its slot learns only at commit)
--
SELECT t_start_with('t14-hb', 't14-hb', '[]') AS outcome;
SELECT stage FROM durable.update_workflow('t14-hb', 'go', NULL, update_id => 'hb-1', wait => '0');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't14-hb')$$) AS task_made;
SELECT task_token AS tok FROM durable.poll_task('t14-hb', 'worker-1', '{workflow}') \gset
SELECT jsonb_array_length(r->'tasks') AS tasks_back, r->'tasks'->0->'messages' AS messages_again
FROM (SELECT durable.complete_workflow_task(:'tok', '[
	{"type": "accept_update", "update_id": "hb-1", "name": "go"},
	{"type": "complete_update", "update_id": "hb-1", "result": 1},
	{"type": "start_child_workflow", "workflow_id": "t14-hb-c", "workflow_type": "C", "task_queue": "t14-hb-c"}]',
	return_workflow_task => true)::jsonb AS r) x;
-- force_new_task hands the task back even while an activity is out
SELECT durable.terminate_workflow('t14-hb-c');
SELECT t_start_with('t14-fa', 't14-fa', '[]') AS outcome;
SELECT durable.signal_workflow('t14-fa', 'go');
SELECT task_token AS tok FROM durable.poll_task('t14-fa', 'worker-1', '{workflow}') \gset
SELECT jsonb_array_length(r->'tasks') AS tasks_back
FROM (SELECT durable.complete_workflow_task(:'tok', '[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "X", "start_to_close_timeout": "30 seconds"}]',
	return_workflow_task => true, force_new_task => true)::jsonb AS r) x;
SELECT durable.terminate_workflow('t14-hb');
SELECT durable.terminate_workflow('t14-fa');

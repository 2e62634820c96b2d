--
-- 09_sticky: sticky execution.  A worker whose session sets
-- durable.sticky_execution keeps the runs it completes workflow tasks of in
-- its cache: their next workflow tasks go to it first and carry only the
-- events after the last task it completed; another worker gets the whole
-- history, and durable.workflow_task_history gives it to a worker that
-- lacks the run.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers
-- t_events lists the event ids and types of a history array
CREATE FUNCTION t_events(h jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg((e->>'event_id') || ' ' || (e->>'event_type'), ', ' ORDER BY (e->>'event_id')::int)
	FROM jsonb_array_elements(h) e
$$;
CREATE TABLE t_res (name text PRIMARY KEY, res jsonb);

SET durable.sticky_execution = on;
SHOW durable.sticky_execution;

--
-- a workflow task handed back to the worker that completed the last one
-- carries only the events after that task's WorkflowTaskStarted
--
SELECT durable.start_workflow('Sticky', '{"n": 2}', 'w9-a', 'w9') IS NOT NULL AS started;
SELECT * FROM t_poll('w9');
SELECT token AS wtok FROM t_last \gset
INSERT INTO t_res SELECT 'wft1', durable.complete_workflow_task(:'wtok', $$[{"type": "schedule_activity",
	"activity_id": "a1", "activity_type": "Step", "start_to_close_timeout": "1 minute",
	"request_eager_execution": true}]$$);
-- the run is sticky to worker-1 from its first task's WorkflowTaskStarted (3)
SELECT sticky_worker, sticky_event_id FROM durable.workflows WHERE workflow_id = 'w9-a';
INSERT INTO t_res SELECT 'act1', durable.complete_activity(res->'tasks'->0->>'task_token', '"one"', true)
FROM t_res WHERE name = 'wft1';
SELECT res->'tasks'->0->>'kind' AS kind, t_events(res->'tasks'->0->'history') AS events
FROM t_res WHERE name = 'act1';
-- a worker that lacks the run asks for the whole history of the task
SELECT t_events(durable.workflow_task_history(res->'tasks'->0->>'task_token')) AS whole
FROM t_res WHERE name = 'act1';
-- the whole history is what a worker without the cache would have received
SELECT durable.workflow_task_history(res->'tasks'->0->>'task_token')
	   - 0 - 0 - 0 = res->'tasks'->0->'history' AS tail_is_the_same
FROM t_res WHERE name = 'act1';
INSERT INTO t_res SELECT 'wft2', durable.complete_workflow_task(res->'tasks'->0->>'task_token',
	$$[{"type": "schedule_activity", "activity_id": "a2", "activity_type": "Step",
		"start_to_close_timeout": "1 minute"}]$$)
FROM t_res WHERE name = 'act1';
SELECT sticky_worker, sticky_event_id FROM durable.workflows WHERE workflow_id = 'w9-a';

--
-- a ready workflow task of a sticky run goes to its worker first, and only
-- that worker gets the short history
--
SELECT * FROM t_poll('w9', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.complete_activity(:'atok', '"two"');
-- the ready task is routed to worker-1
SELECT t.kind, t.sticky_worker, t.started_time IS NULL AS ready
FROM durable.tasks t JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w9-a';
-- an older ready task of another workflow on the same queue
SELECT durable.start_workflow('Other', NULL, 'w9-b', 'w9') IS NOT NULL AS started;
UPDATE durable.tasks t SET ready_time = ready_time - interval '1 hour'
FROM durable.workflows w WHERE w.run_id = t.run_id AND w.workflow_id = 'w9-b';
-- worker-1 gets its sticky task first, with the events after event 9
SELECT kind, workflow_id, events FROM t_poll('w9', '{workflow}', 'worker-1');
SELECT token AS wtok3 FROM t_last \gset
-- worker-2 gets the other, with its whole history
SELECT kind, workflow_id, events FROM t_poll('w9', '{workflow}', 'worker-2');
SELECT token AS btok FROM t_last \gset
SELECT durable.complete_workflow_task(:'btok', '[{"type": "complete_workflow"}]')->>'outcome' AS outcome;

--
-- another worker taking over gets the whole history
--
SELECT durable.fail_workflow_task(:'wtok3', '{"message": "cache lost", "type": "Test"}');
-- a failed task is not sticky any more; its retry goes to anyone, whole
SELECT sticky_worker FROM durable.workflows WHERE workflow_id = 'w9-a';
SELECT kind, attempt, events FROM t_poll('w9', '{workflow}', 'worker-1');
SELECT token AS wtok4 FROM t_last \gset
-- completed by a session without sticky execution: nobody caches the run
SET durable.sticky_execution = off;
SELECT durable.complete_workflow_task(:'wtok4', '[{"type": "start_timer", "timer_id": "t", "duration": "1 hour"}]')->>'outcome' AS outcome;
SELECT sticky_worker, sticky_event_id FROM durable.workflows WHERE workflow_id = 'w9-a';
SET durable.sticky_execution = on;

--
-- a worker that completes with sticky execution on, then another worker
-- polls the next task: whole history; that worker becomes sticky
--
SELECT durable.signal_workflow('w9-a', 'go');
SELECT kind, events FROM t_poll('w9', '{workflow}', 'worker-2');
SELECT token AS wtok5 FROM t_last \gset
SELECT durable.complete_workflow_task(:'wtok5', '[]')->>'outcome' AS outcome;
SELECT sticky_worker, sticky_event_id FROM durable.workflows WHERE workflow_id = 'w9-a';
SELECT durable.signal_workflow('w9-a', 'again');
SELECT kind, events FROM t_poll('w9', '{workflow}', 'worker-2');
SELECT token AS wtok6 FROM t_last \gset

--
-- a closed run is sticky to nobody
--
SELECT durable.complete_workflow_task(:'wtok6', '[{"type": "complete_workflow", "result": 2}]')->>'outcome' AS outcome;
SELECT sticky_worker FROM durable.workflows WHERE workflow_id = 'w9-a';

--
-- bad input: workflow_task_history takes only an outstanding workflow task token
--
SELECT t_try($$SELECT durable.workflow_task_history('nonsense')$$) AS malformed;
SELECT t_try($$SELECT durable.workflow_task_history(NULL)$$) AS null_token;
SELECT t_try(format('SELECT durable.workflow_task_history(%L)', :'atok')) AS activity_token;
SELECT t_try(format('SELECT durable.workflow_task_history(%L)', :'wtok6')) AS completed_task;
SELECT t_try($$SELECT durable.workflow_task_history('w:00000000-0000-0000-0000-000000000000:1:3:0')$$) AS unknown_run;

-- the GUC is a boolean
SELECT t_try($$SET durable.sticky_execution = 'maybe'$$) AS bad_setting;
RESET durable.sticky_execution;

--
-- 08_eager: eager dispatch.  A completion hands the caller the task it made
-- ready, started for the same worker in the same transaction: activities
-- scheduled with request_eager_execution, and with return_workflow_task
-- the workflow task a completion schedules.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

-- t_tasks shows the "tasks" of a completion's result without clock values
CREATE FUNCTION t_tasks(res jsonb)
RETURNS TABLE (kind text, activity text, attempt integer, input jsonb, events text) LANGUAGE sql AS $$
	SELECT t->>'kind', (t->>'activity_id') || ' ' || (t->>'activity_type'), (t->>'attempt')::int, t->'input',
		   (SELECT string_agg((e->>'event_id') || ' ' || (e->>'event_type'), ', ' ORDER BY (e->>'event_id')::int)
			FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t->'history') = 'array' THEN t->'history' END) e)
	FROM jsonb_array_elements(res->'tasks') t
$$;
CREATE TABLE t_res (name text PRIMARY KEY, res jsonb);

--
-- a chain of two activities, driven only by what the completions return
--
SELECT durable.start_workflow('Chain', '{"n": 2}', 'w8-chain', 'w8') IS NOT NULL AS started;
SELECT * FROM t_poll('w8');
SELECT token AS wtok FROM t_last \gset
INSERT INTO t_res SELECT 'wft1', durable.complete_workflow_task(:'wtok', $$[{"type": "schedule_activity",
	"activity_id": "a1", "activity_type": "Step", "input": 1, "start_to_close_timeout": "1 minute",
	"request_eager_execution": true}]$$);
SELECT res->>'outcome' AS outcome FROM t_res WHERE name = 'wft1';
SELECT x.* FROM t_res, t_tasks(res) x WHERE name = 'wft1';
-- the activity is leased to the worker that completed the workflow task,
-- with the lease poll_task would have given it
SELECT t.kind, t.worker_id, t.started_time IS NOT NULL AS started,
	   t.lease_deadline = ((r.res->'tasks'->0->>'deadline')::timestamptz) AS deadline_matches
FROM durable.tasks t JOIN durable.workflows w USING (run_id), t_res r
WHERE w.workflow_id = 'w8-chain' AND r.name = 'wft1';
-- nothing is left for pollers
SELECT count(*) AS claimable FROM durable.poll_task('w8', 'worker-2');
-- completing the activity returns the workflow task it schedules
INSERT INTO t_res SELECT 'act1', durable.complete_activity(res->'tasks'->0->>'task_token', '"one"', true)
FROM t_res WHERE name = 'wft1';
SELECT x.* FROM t_res, t_tasks(res) x WHERE name = 'act1';
INSERT INTO t_res SELECT 'wft2', durable.complete_workflow_task(res->'tasks'->0->>'task_token', $$[{"type": "schedule_activity",
	"activity_id": "a2", "activity_type": "Step", "input": 2, "start_to_close_timeout": "1 minute",
	"request_eager_execution": true}]$$, return_workflow_task => true)
FROM t_res WHERE name = 'act1';
SELECT x.* FROM t_res, t_tasks(res) x WHERE name = 'wft2';
INSERT INTO t_res SELECT 'act2', durable.complete_activity(res->'tasks'->0->>'task_token', '"two"', true)
FROM t_res WHERE name = 'wft2';
SELECT durable.complete_workflow_task(res->'tasks'->0->>'task_token',
	'[{"type": "complete_workflow", "result": "done"}]', true)
FROM t_res WHERE name = 'act2';
-- the history is what polling workers would have produced; every task
-- started by worker-1
SELECT * FROM t_hist('w8-chain');

--
-- without the flags nothing changes: tasks go to the queue
--
SELECT t_start_with('w8-plain', 'w8-plain', $$[{"type": "schedule_activity", "activity_id": "p1",
	"activity_type": "Step", "start_to_close_timeout": "1 minute"}]$$);
SELECT * FROM t_poll('w8-plain', '{activity}');
SELECT durable.complete_activity(token, '1') IS NULL AS returns_null FROM t_last;
SELECT durable.complete_activity(token, '1', false) FROM t_last WHERE false;
-- return_workflow_task NULL is false: nothing is handed out, the result is NULL
SELECT t_start_with('w8-null', 'w8-null', $$[{"type": "schedule_activity", "activity_id": "n1",
	"activity_type": "Step", "start_to_close_timeout": "1 minute"}]$$);
SELECT * FROM t_poll('w8-null', '{activity}');
SELECT durable.complete_activity(token, '1', NULL) IS NULL AS returns_null FROM t_last;
SELECT count(*) AS ready_workflow_tasks FROM durable.tasks t JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'w8-null' AND t.kind = 'workflow' AND t.started_time IS NULL;
SELECT durable.terminate_workflow('w8-null');
SELECT * FROM t_poll('w8-plain', '{workflow}');

--
-- only activities on the workflow's own queue run eagerly; the others are
-- announced as usual, and the result lists what was handed out
--
SELECT durable.start_workflow('Fan', NULL, 'w8-fan', 'w8-fan') IS NOT NULL AS started;
SELECT * FROM t_poll('w8-fan');
SELECT token AS wtok FROM t_last \gset
INSERT INTO t_res SELECT 'fan', durable.complete_workflow_task(:'wtok', $$[
	{"type": "schedule_activity", "activity_id": "e1", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "request_eager_execution": true},
	{"type": "schedule_activity", "activity_id": "q1", "activity_type": "A", "start_to_close_timeout": "1 minute"},
	{"type": "schedule_activity", "activity_id": "o1", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "task_queue": "w8-other", "request_eager_execution": true},
	{"type": "schedule_activity", "activity_id": "e2", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "request_eager_execution": true},
	{"type": "start_timer", "timer_id": "t1", "duration": "1 hour"}]$$);
SELECT x.* FROM t_res, t_tasks(res) x WHERE name = 'fan';
SELECT a.activity_id, t.task_queue, t.worker_id, t.started_time IS NOT NULL AS started
FROM durable.activities a JOIN durable.workflows w USING (run_id)
JOIN durable.tasks t ON t.run_id = a.run_id AND t.scheduled_event_id = a.scheduled_event_id
WHERE w.workflow_id = 'w8-fan' ORDER BY a.scheduled_event_id;
SELECT * FROM t_poll('w8-fan', '{activity}');
SELECT * FROM t_poll('w8-other', '{activity}');
SELECT token AS otok FROM t_last \gset
-- event ids: the activities and the timer follow WorkflowTaskCompleted in command order
SELECT event_id, event_type, attributes::jsonb->>'activity_id' AS activity_id FROM t_hist('w8-fan');

--
-- the workflow task is handed out only when this call made it ready and no
-- other activity of the run is out (results still to come are better
-- gathered into one task)
--
-- a workflow task is running: the activity's result is buffered, no task
SELECT durable.signal_workflow('w8-fan', 'poke');
SELECT * FROM t_poll('w8-fan', '{workflow}');
SELECT token AS wtok FROM t_last \gset
SELECT durable.complete_activity(
	(SELECT res->'tasks'->0->>'task_token' FROM t_res WHERE name = 'fan'), '"e1"', true) AS while_running;
-- completing that task schedules another for the buffered result; q1, o1
-- and e2 are still out, so it is queued, not handed over
SELECT durable.complete_workflow_task(:'wtok', '[]', true) AS activities_out;
SELECT * FROM t_poll('w8-fan', '{workflow}');
SELECT durable.complete_workflow_task(token, '[]') ->> 'outcome' AS outcome FROM t_last;
-- fail_activity hands over nothing while the activity retries
SELECT durable.fail_activity(
	(SELECT res->'tasks'->1->>'task_token' FROM t_res WHERE name = 'fan'),
	'{"message": "retry me"}', true) AS retrying;
-- an activity on another queue does not hand over the workflow task
SELECT durable.complete_activity(:'otok', '"o1"', true) AS other_queue;
SELECT durable.terminate_workflow('w8-fan');

-- with no activity out, return_workflow_task hands over the task that
-- carries what arrived meanwhile
SELECT durable.start_workflow('Sig', NULL, 'w8-sig', 'w8-sig') IS NOT NULL AS started;
SELECT * FROM t_poll('w8-sig');
SELECT token AS wtok FROM t_last \gset
SELECT durable.signal_workflow('w8-sig', 'go', '{"n": 1}');
SELECT x.* FROM t_tasks(durable.complete_workflow_task(:'wtok',
	'[{"type": "start_timer", "timer_id": "t", "duration": "1 hour"}]', true)::jsonb) x;
SELECT durable.terminate_workflow('w8-sig');

-- fail_activity hands over the workflow task when the activity closes
SELECT t_start_with('w8-fail', 'w8-fail', $$[{"type": "schedule_activity", "activity_id": "f1",
	"activity_type": "A", "start_to_close_timeout": "1 minute", "retry_policy": {"maximum_attempts": 1}}]$$);
SELECT * FROM t_poll('w8-fail', '{activity}');
SELECT x.* FROM t_last, t_tasks(durable.fail_activity(token, '{"message": "fatal"}', true)::jsonb) x;
SELECT event_id, event_type FROM t_hist('w8-fail') WHERE event_id > 6;

--
-- a task handed out eagerly is leased like a polled one: the engine times
-- it out and it is retried
--
SELECT durable.start_workflow('Lease', NULL, 'w8-lease', 'w8-lease', task_timeout => '1 second') IS NOT NULL AS started;
SELECT * FROM t_poll('w8-lease');
SELECT token AS wtok FROM t_last \gset
SELECT json_array_length(durable.complete_workflow_task(:'wtok', $$[{"type": "schedule_activity", "activity_id": "slow",
	"activity_type": "A", "start_to_close_timeout": "500 milliseconds", "request_eager_execution": true,
	"retry_policy": {"initial_interval": "10 milliseconds", "maximum_attempts": 2}}]$$) -> 'tasks') AS handed_out;
-- the worker never reports: the attempt times out and attempt 2 is queued
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				JOIN durable.tasks t ON t.run_id = a.run_id AND t.scheduled_event_id = a.scheduled_event_id
				WHERE w.workflow_id = 'w8-lease' AND a.attempt = 2 AND t.started_time IS NULL)$$) AS retried;
SELECT * FROM t_poll('w8-lease', '{activity}');
-- its completion hands over a workflow task, which times out in turn
SELECT json_array_length(durable.complete_activity(token, '"late"', true) -> 'tasks') AS handed_out FROM t_last;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.workflows w
				WHERE w.workflow_id = 'w8-lease' AND w.wft_attempt = 2)$$) AS wft_retried;
SELECT * FROM t_poll('w8-lease', '{workflow}');
SELECT durable.complete_workflow_task(token, '[{"type": "complete_workflow"}]') ->> 'outcome' AS outcome FROM t_last;
SELECT event_id, event_type, attributes::jsonb->>'timeout_type' AS timeout FROM t_hist('w8-lease') WHERE event_id > 4;

--
-- bad input is rejected and changes nothing
--
SELECT durable.start_workflow('Bad', NULL, 'w8-bad', 'w8-bad') IS NOT NULL AS started;
SELECT * FROM t_poll('w8-bad');
SELECT token AS wtok FROM t_last \gset
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "schedule_activity", "activity_id": "b1",
	"activity_type": "A", "start_to_close_timeout": "1 minute", "request_eager_execution": "yes"}]')$$, :'wtok')) AS not_boolean;
SELECT w.wft_state, w.history_length, (SELECT count(*) FROM durable.activities a WHERE a.run_id = w.run_id) AS activities
FROM durable.workflows w WHERE w.workflow_id = 'w8-bad';
-- a duplicate activity id, after an eager one: the whole completion rolls back
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[
	{"type": "schedule_activity", "activity_id": "b1", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "request_eager_execution": true},
	{"type": "schedule_activity", "activity_id": "b1", "activity_type": "A", "start_to_close_timeout": "1 minute"}]')$$,
	:'wtok')) AS duplicate;
SELECT w.wft_state, w.history_length, (SELECT count(*) FROM durable.activities a WHERE a.run_id = w.run_id) AS activities,
	   (SELECT count(*) FROM durable.tasks t WHERE t.run_id = w.run_id AND t.kind = 'activity') AS activity_tasks
FROM durable.workflows w WHERE w.workflow_id = 'w8-bad';
-- the token is still good
SELECT durable.complete_workflow_task(:'wtok', '[{"type": "complete_workflow"}]') ->> 'outcome' AS outcome;
-- a stale token with return_workflow_task is stale as ever
SELECT t_try(format('SELECT durable.complete_activity(%L, NULL, true)', 'a:00000000-0000-0000-0000-000000000000:5:1:0')) AS stale;

DROP TABLE t_res;
DROP FUNCTION t_tasks(jsonb);

--
-- 18_release: a worker that stops gives back the tasks it holds
-- (release_tasks, issue 13).  They are ready again at once, in their old
-- place, for any worker; nothing is written to the history and the attempt
-- is not counted; the old token counts until another completion.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

SELECT durable.start_workflow('Flow', workflow_id => 't18-a', task_queue => 'q18') IS NOT NULL AS started;
SELECT durable.start_workflow('Flow', workflow_id => 't18-b', task_queue => 'q18') IS NOT NULL AS started;
-- worker-a takes a's workflow task, and b's activity
SELECT workflow_id AS a_holds FROM durable.poll_task('q18', 'worker-a', '{workflow}');
SELECT task_token AS btok FROM durable.poll_task('q18', 'worker-b', '{workflow}') \gset
SELECT durable.complete_workflow_task(:'btok', '[{"type": "schedule_activity", "activity_id": "x",
	"activity_type": "A", "start_to_close_timeout": "1 hour"}]')->>'outcome' AS outcome;
SELECT task_token AS atok FROM durable.poll_task('q18', 'worker-a', '{activity}') \gset
SELECT workflow_id, kind, worker_id FROM durable.tasks WHERE task_queue = 'q18' ORDER BY workflow_id, kind;

-- worker-a stops: both come back, ready, and another worker gets them at once
SELECT durable.release_tasks('worker-a') AS released;
SELECT workflow_id, kind, worker_id, started_time IS NULL AS ready FROM durable.tasks WHERE task_queue = 'q18' ORDER BY workflow_id, kind;
SELECT durable.release_tasks('worker-a') AS released_again;
SELECT kind, workflow_id, attempt FROM durable.poll_task('q18', 'worker-c', '{workflow}');
SELECT kind, workflow_id, attempt, task_token AS ctok FROM durable.poll_task('q18', 'worker-c', '{activity}') \gset
SELECT :'kind' AS kind, :'workflow_id' AS workflow_id, :'attempt' AS attempt;
-- the first completion counts; the other token is then stale
SELECT durable.complete_activity(:'ctok', '"by c"') IS NULL AS completed_by_c;
SELECT t_try(format('SELECT durable.complete_activity(%L, %L)', :'atok', '"by a"')) AS late_a;
SELECT event_type, attributes->>'attempt' AS attempt, attributes->'result' AS result
FROM durable.get_history('t18-b') WHERE event_type LIKE 'Activity%' ORDER BY event_id;

-- bad input
SELECT t_try($$SELECT durable.release_tasks(NULL)$$) AS null_worker;
SELECT t_try($$SELECT durable.release_tasks('')$$) AS empty_worker;
SELECT t_try($$SELECT durable.release_tasks('w', namespace => 'no-such-namespace')$$) AS unknown_namespace;
SELECT t_try($$SELECT durable.release_tasks('w', '')$$) AS empty_queue;
-- another namespace's tasks are not given back
SELECT durable.create_namespace('t18-ns');
SELECT durable.start_workflow('Flow', workflow_id => 't18-n', task_queue => 'q18', namespace => 't18-ns') IS NOT NULL AS started;
SELECT workflow_id FROM durable.poll_task('q18', 'worker-n', '{workflow}', namespace => 't18-ns');
SELECT durable.release_tasks('worker-n') AS released_in_default;
SELECT durable.release_tasks('worker-n', 'another-queue', 't18-ns') AS released_on_another_queue;
SELECT durable.release_tasks('worker-n', 'q18', 't18-ns') AS released_on_q18_in_t18_ns;

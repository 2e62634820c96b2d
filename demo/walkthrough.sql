-- The README's five-minute walk-through: one workflow driven by hand.
-- A workflow "greet" that calls an activity, sleeps one second, waits for a
-- signal and completes.  We play the worker ourselves.
\pset footer off
CREATE EXTENSION IF NOT EXISTS durable;

\echo '== 1. start a workflow (any application transaction can do this)'
SELECT durable.start_workflow('greet', '{"name": "Ada"}', workflow_id => 'greet-ada') AS run_id;

\echo '== 2. a worker polls: it receives a workflow task with the history so far'
SELECT task_token AS wft, kind, workflow_type, jsonb_array_length(history) AS events
FROM durable.poll_task('default', 'demo-worker') \gset
\echo :wft

\echo '== 3. the workflow code decides: run activity "compose" -- the task completes with a command'
SELECT durable.complete_workflow_task(:'wft',
	'[{"type": "schedule_activity", "activity_id": "1", "activity_type": "compose",
	   "input": {"name": "Ada"}, "start_to_close_timeout": "10 seconds"}]');

\echo '== 4. an activity worker polls, does the work and completes it'
SELECT task_token AS act, activity_type, input FROM durable.poll_task('default', 'demo-worker') \gset
SELECT durable.complete_activity(:'act', '"Hello, Ada"');

\echo '== 5. the activity result wakes the workflow: it starts a durable timer'
SELECT task_token AS wft FROM durable.poll_task('default', 'demo-worker') \gset
SELECT durable.complete_workflow_task(:'wft', '[{"type": "start_timer", "timer_id": "pause", "duration": "1 second"}]');
SELECT timer_id, fire_time > now() AS pending FROM durable.timers WHERE kind = 'user';

\echo '== 6. the engine worker fires the timer; the next poll waits for it (no busy loop)'
SELECT task_token AS wft, history -> -2 ->> 'event_type' AS woken_by
FROM durable.poll_task('default', 'demo-worker', wait => '5 seconds') \gset
\echo :woken_by
SELECT durable.complete_workflow_task(:'wft', '[]');

\echo '== 7. a signal arrives from the application'
SELECT durable.signal_workflow('greet-ada', 'approve', '{"by": "Grace"}');
SELECT task_token AS wft FROM durable.poll_task('default', 'demo-worker') \gset
SELECT durable.complete_workflow_task(:'wft', '[{"type": "complete_workflow", "result": "Hello, Ada (approved by Grace)"}]');

\echo '== 8. the result, and the history any DBA can read'
SELECT durable.workflow_result('greet-ada');
SELECT event_id, event_type FROM durable.get_history('greet-ada');

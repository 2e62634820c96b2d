-- After the restart: nothing committed was lost, the overdue timer fires,
-- the activity that ran across the crash completes with its old token.
\pset footer off
\set act `cat "$DURABLE_DEMO_WORK/act_token"`
SELECT pg_sleep(0.5);
\echo '== the engine worker is back'
SELECT datname, state FROM durable.engine_workers;
\echo '== the activity worker reports its result with the token it got before the crash'
SELECT durable.complete_activity(:'act', '{"pages": 12}');
\echo '== the timer, overdue after the restart, fires (we watch the history, not a clock)'
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM durable.get_history('nightly-1') WHERE event_type = 'TimerFired');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
\echo '== one workflow task carries both the activity result and the timer'
SELECT task_token AS wft, history @> '[{"event_type": "TimerFired"}, {"event_type": "ActivityTaskCompleted"}]' AS sees_both
FROM durable.poll_task('default', 'demo-worker', wait => '10 seconds') \gset
\echo sees both: :sees_both
SELECT durable.complete_workflow_task(:'wft', '[{"type": "complete_workflow", "result": "report sent"}]');
SELECT durable.workflow_result('nightly-1', wait => '5 seconds');
SELECT event_id, event_type FROM durable.get_history('nightly-1');

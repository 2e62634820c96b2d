-- Before the crash: a workflow whose activity is running and whose timer is pending.
\pset footer off
SELECT durable.start_workflow('nightly', NULL, workflow_id => 'nightly-1') IS NOT NULL AS started;
SELECT task_token AS wft FROM durable.poll_task('default', 'demo-worker') \gset
SELECT durable.complete_workflow_task(:'wft',
	'[{"type": "schedule_activity", "activity_id": "report", "activity_type": "build_report", "start_to_close_timeout": "1 minute"},
	  {"type": "start_timer", "timer_id": "deadline", "duration": "2 seconds"}]');
SELECT task_token AS act FROM durable.poll_task('default', 'demo-worker', '{activity}') \gset
\echo 'activity build_report is running (token saved); timer "deadline" fires in 2 s'
\setenv DURABLE_DEMO_ACT :act
\! printf '%s' "$DURABLE_DEMO_ACT" > "$DURABLE_DEMO_WORK/act_token"

--
-- 07_races: what a workflow task's commands meet when the world moved on
-- while the task ran, answered as Temporal answers it.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- an activity completes and a timer fires while the next workflow task runs;
-- that task, not having seen them, asks to cancel both
--
SELECT t_start_with('w7-late', 'w7-late', $$[
	{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "10s"},
	{"type": "start_timer", "timer_id": "t", "duration": "200 milliseconds"}]$$);
SELECT kind, activity FROM t_poll('w7-late', '{activity}');
SELECT durable.complete_activity(token, '"done"') FROM t_last;
-- the workflow task that carries the activity result is now running
SELECT kind, events FROM t_poll('w7-late', '{workflow}');
SELECT token AS wft FROM t_last \gset
-- the timer fires meanwhile: buffered behind the running task
SELECT t_wait($$(SELECT count(*) = 1 FROM durable.buffered_events b
				 JOIN durable.workflows w USING (run_id)
				 WHERE w.workflow_id = 'w7-late' AND b.event_type = 'TimerFired')$$) AS timer_buffered;
-- cancel_timer wins over the buffered TimerFired (it is dropped); the cancel
-- request for the closed activity is recorded and changes nothing
SELECT durable.complete_workflow_task(:'wft', $$[
	{"type": "request_cancel_activity", "activity_id": "a"},
	{"type": "cancel_timer", "timer_id": "t"}]$$);
SELECT event_id, event_type FROM t_hist('w7-late');
SELECT count(*) AS buffered_left FROM durable.buffered_events b JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'w7-late';
-- nothing new to process: no workflow task is scheduled
SELECT pending_workflow_task IS NULL AS no_task FROM durable.describe_workflow('w7-late');
-- ids the run never used are still errors
SELECT kind FROM t_poll('w7-late', '{workflow}');
SELECT durable.signal_workflow('w7-late', 'poke');
SELECT kind FROM t_poll('w7-late', '{workflow}');
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', token,
	'[{"type": "request_cancel_activity", "activity_id": "never"}]')) AS unknown_activity FROM t_last;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', token,
	'[{"type": "cancel_timer", "timer_id": "never"}]')) AS unknown_timer FROM t_last;
SELECT durable.terminate_workflow('w7-late');

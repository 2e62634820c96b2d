--
-- 04_activities: completing, failing and heartbeating activities, retries,
-- cancellation, the _by_id functions and the activity timeouts.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- retries: fail_activity schedules the next attempt after the backoff
--
SELECT t_start_with('w4-retry', 'w4-retry', $$[{"type": "schedule_activity", "activity_id": "r1", "activity_type": "Flaky",
	"input": {"k": 1}, "start_to_close_timeout": "1 minute",
	"retry_policy": {"initial_interval": "10 milliseconds", "backoff_coefficient": 1, "maximum_attempts": 3}}]$$);
SELECT * FROM t_poll('w4-retry', '{activity}');
SELECT token AS atok FROM t_last \gset
SELECT durable.fail_activity(:'atok', '{"message": "first", "type": "Transient", "details": {"try": 1}}');
-- the attempt failed; nothing is written to history while retries remain
SELECT event_id, event_type FROM t_aev('w4-retry');
SELECT a.attempt, a.state, a.last_failure->>'message' AS last_failure, a.last_worker_id
FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w4-retry';
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-retry' AND a.state = 'scheduled')$$) AS retried;
SELECT * FROM t_poll('w4-retry', '{activity}');
SELECT token AS atok2 FROM t_last \gset
-- the old attempt's token is stale
SELECT t_try(format('SELECT durable.complete_activity(%L)', :'atok')) AS old_attempt;
-- heartbeat details reach the next attempt
SELECT durable.heartbeat_activity(:'atok2', '{"progress": 50}') AS cancel_requested;
SELECT durable.fail_activity(:'atok2', '{"message": "second", "type": "Transient"}');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-retry' AND a.state = 'scheduled' AND a.attempt = 3)$$) AS retried;
SELECT (t).attempt, (t).heartbeat_details, (t).activity_id, (t).input, (t).task_token AS atok3
FROM (SELECT durable.poll_task('w4-retry', 'worker-2', '{activity}') AS t) s \gset p_
SELECT :p_attempt AS attempt, :'p_heartbeat_details' AS heartbeat_details;
\set atok3 :p_atok3
-- the last attempt fails: maximum attempts reached
SELECT durable.fail_activity(:'atok3', '{"message": "third", "type": "Transient"}');
SELECT * FROM t_aev('w4-retry');
SELECT wft_state FROM durable.workflows WHERE workflow_id = 'w4-retry' AND status = 'running';
SELECT durable.terminate_workflow('w4-retry');

-- non_retryable_error_types and non_retryable failures are not retried
SELECT t_start_with('w4-nonretry', 'w4-nonretry', $$[
	{"type": "schedule_activity", "activity_id": "n1", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "retry_policy": {"initial_interval": "10 milliseconds", "non_retryable_error_types": ["Fatal"]}},
	{"type": "schedule_activity", "activity_id": "n2", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "retry_policy": {"initial_interval": "10 milliseconds"}},
	{"type": "schedule_activity", "activity_id": "n3", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "retry_policy": {"initial_interval": "1 hour"}, "schedule_to_close_timeout": "30 minutes"}]$$);
SELECT * FROM t_poll('w4-nonretry', '{activity}');
SELECT durable.fail_activity(token, '{"message": "no way", "type": "Fatal"}') FROM t_last;
SELECT * FROM t_poll('w4-nonretry', '{activity}');
SELECT durable.fail_activity(token, '{"message": "bad input", "type": "Other", "non_retryable": true}') FROM t_last;
-- the next retry would start after schedule-to-close: retry state TIMEOUT
SELECT * FROM t_poll('w4-nonretry', '{activity}');
SELECT durable.fail_activity(token, '{"message": "slow"}') FROM t_last;
SELECT * FROM t_aev('w4-nonretry');
SELECT count(*) AS pending FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w4-nonretry';
-- bad failures are rejected and the attempt stays outstanding
SELECT t_start_with('w4-badfail', 'w4-badfail', $$[{"type": "schedule_activity", "activity_id": "b1", "activity_type": "A",
	"start_to_close_timeout": "1 minute"}]$$);
SELECT * FROM t_poll('w4-badfail', '{activity}');
SELECT token AS btok FROM t_last \gset
SELECT t_try(format('SELECT durable.fail_activity(%L, %L)', :'btok', '[1]')) AS failure_array;
SELECT t_try(format('SELECT durable.fail_activity(%L, %L)', :'btok', '{"message": 5}')) AS message_number;
SELECT t_try(format('SELECT durable.fail_activity(%L, %L)', :'btok', '{"type": true}')) AS type_boolean;
SELECT t_try(format('SELECT durable.fail_activity(%L, %L)', :'btok', '{"why": "x"}')) AS unknown_field;
SELECT t_try(format('SELECT durable.report_activity_canceled(%L)', :'btok')) AS not_asked_to_cancel;
SELECT durable.complete_activity(:'btok', '"fine"');
SELECT t_try(format('SELECT durable.complete_activity(%L)', :'btok')) AS completed_twice;
SELECT t_try(format('SELECT durable.heartbeat_activity(%L)', :'btok')) AS heartbeat_after_completion;
SELECT event_type, payload FROM t_aev('w4-badfail');
SELECT durable.terminate_workflow('w4-badfail');
SELECT durable.terminate_workflow('w4-nonretry');

--
-- cancellation
--
-- an activity waiting to retry is canceled at once
SELECT t_start_with('w4-cancel', 'w4-cancel', $$[
	{"type": "schedule_activity", "activity_id": "c1", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "retry_policy": {"initial_interval": "1 hour"}},
	{"type": "schedule_activity", "activity_id": "c2", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "heartbeat_timeout": "30 seconds"}]$$);
SELECT * FROM t_poll('w4-cancel', '{activity}');
SELECT durable.fail_activity(token, '{"message": "later"}') FROM t_last;
SELECT * FROM t_poll('w4-cancel', '{activity}');
SELECT token AS c2tok FROM t_last \gset
SELECT durable.heartbeat_activity(:'c2tok', '{"step": 1}') AS cancel_requested;
-- a workflow task asks to cancel both
SELECT durable.signal_workflow('w4-cancel', 'stop');
SELECT * FROM t_poll('w4-cancel', '{workflow}');
SELECT durable.complete_workflow_task(token, $$[
	{"type": "request_cancel_activity", "activity_id": "c1"},
	{"type": "request_cancel_activity", "activity_id": "c2"}]$$) FROM t_last;
SELECT * FROM t_aev('w4-cancel');
-- c1 is gone; c2 runs on and learns of the request from its next heartbeat
SELECT a.activity_id, a.cancel_requested_event_id IS NOT NULL AS cancel_requested
FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w4-cancel';
SELECT durable.heartbeat_activity(:'c2tok', '{"step": 2}') AS cancel_requested;
SELECT durable.report_activity_canceled(:'c2tok', '{"stopped_at": 2}');
SELECT * FROM t_aev('w4-cancel') WHERE event_id > 8;
SELECT count(*) AS pending FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w4-cancel';
-- a second cancel request of the same activity is ignored (it is gone: DU005)
SELECT * FROM t_poll('w4-cancel', '{workflow}');
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', token,
	'[{"type": "request_cancel_activity", "activity_id": "c2"}]')) FROM t_last;
SELECT durable.terminate_workflow('w4-cancel');

--
-- the _by_id functions (asynchronous completion)
--
SELECT t_start_with('w4-byid', 'w4-byid', $$[
	{"type": "schedule_activity", "activity_id": "x1", "activity_type": "A", "start_to_close_timeout": "1 minute"},
	{"type": "schedule_activity", "activity_id": "x2", "activity_type": "A", "start_to_close_timeout": "1 minute",
	 "retry_policy": {"initial_interval": "1 hour"}},
	{"type": "schedule_activity", "activity_id": "x3", "activity_type": "A", "start_to_close_timeout": "1 minute"}]$$);
SELECT * FROM t_poll('w4-byid', '{activity}', 'worker-async');
SELECT durable.heartbeat_activity_by_id('w4-byid', 'x1', '{"half": true}') AS cancel_requested;
SELECT a.heartbeat_details FROM durable.activities a JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'w4-byid' AND activity_id = 'x1';
SELECT durable.complete_activity_by_id('w4-byid', 'x1', '{"async": "done"}');
-- x2 is completed by id without ever being polled
SELECT durable.fail_activity_by_id('w4-byid', 'x2', '{"message": "by id"}');
SELECT t_try($$SELECT durable.complete_activity_by_id('w4-byid', 'x2', '1')$$) AS in_backoff;
SELECT t_try($$SELECT durable.complete_activity_by_id('w4-byid', 'nope', '1')$$) AS unknown_activity;
SELECT t_try($$SELECT durable.heartbeat_activity_by_id('w4-byid', 'nope')$$) AS unknown_activity_heartbeat;
SELECT t_try($$SELECT durable.complete_activity_by_id('w4-nope', 'x1', '1')$$) AS unknown_workflow;
SELECT t_try($$SELECT durable.complete_activity_by_id(NULL, 'x1', '1')$$) AS null_workflow;
SELECT t_try($$SELECT durable.complete_activity_by_id('w4-byid', 'x1', '1', '00000000-0000-0000-0000-000000000000')$$) AS unknown_run;
SELECT t_try($$SELECT durable.report_activity_canceled_by_id('w4-byid', 'x3')$$) AS not_asked_to_cancel;
SELECT durable.complete_activity_by_id('w4-byid', 'x3', '3');
SELECT * FROM t_aev('w4-byid');
SELECT durable.terminate_workflow('w4-byid');
SELECT t_try($$SELECT durable.complete_activity_by_id('w4-byid', 'x2', '1')$$) AS closed_workflow;
-- report_activity_canceled_by_id after a cancel request
SELECT t_start_with('w4-byid2', 'w4-byid2', $$[
	{"type": "schedule_activity", "activity_id": "y1", "activity_type": "A", "start_to_close_timeout": "1 minute"}]$$);
SELECT * FROM t_poll('w4-byid2', '{activity}');
SELECT durable.signal_workflow('w4-byid2', 'stop');
SELECT * FROM t_poll('w4-byid2', '{workflow}');
SELECT durable.complete_workflow_task(token, '[{"type": "request_cancel_activity", "activity_id": "y1"}]') FROM t_last;
SELECT durable.heartbeat_activity_by_id('w4-byid2', 'y1') AS cancel_requested;
SELECT durable.report_activity_canceled_by_id('w4-byid2', 'y1', '"bye"');
SELECT event_type, sched, payload FROM t_aev('w4-byid2');
SELECT durable.terminate_workflow('w4-byid2');

--
-- timeouts, fired by the engine worker
--
-- start-to-close: the attempt times out and is retried; the last one closes the activity
SELECT t_start_with('w4-s2c', 'w4-s2c', $$[{"type": "schedule_activity", "activity_id": "t1", "activity_type": "Slow",
	"start_to_close_timeout": "200 milliseconds",
	"retry_policy": {"initial_interval": "10 milliseconds", "maximum_attempts": 2}}]$$);
SELECT * FROM t_poll('w4-s2c', '{activity}');
SELECT token AS ttok FROM t_last \gset
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-s2c' AND a.attempt = 2 AND a.state = 'scheduled')$$) AS retried;
SELECT a.last_failure->>'message' AS last_failure, a.last_failure->>'timeout_type' AS timeout_type, a.last_worker_id
FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w4-s2c';
-- a late completion of the timed-out attempt is stale
SELECT t_try(format('SELECT durable.complete_activity(%L)', :'ttok')) AS late_completion;
SELECT * FROM t_poll('w4-s2c', '{activity}');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.history h JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-s2c' AND h.event_type = 'ActivityTaskTimedOut')$$) AS timed_out;
SELECT * FROM t_aev('w4-s2c');
SELECT durable.terminate_workflow('w4-s2c');

-- heartbeat timeout
SELECT t_start_with('w4-hb', 'w4-hb', $$[{"type": "schedule_activity", "activity_id": "h1", "activity_type": "Beat",
	"start_to_close_timeout": "1 hour", "heartbeat_timeout": "300 milliseconds",
	"retry_policy": {"maximum_attempts": 1}}]$$);
SELECT * FROM t_poll('w4-hb', '{activity}');
SELECT durable.heartbeat_activity(token, '{"beat": 1}') FROM t_last;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.history h JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-hb' AND h.event_type = 'ActivityTaskTimedOut')$$) AS timed_out;
SELECT * FROM t_aev('w4-hb');
SELECT durable.terminate_workflow('w4-hb');

-- schedule-to-close bounds all attempts together
SELECT t_start_with('w4-sched2close', 'w4-sched2close', $$[{"type": "schedule_activity", "activity_id": "s1", "activity_type": "A",
	"schedule_to_close_timeout": "500 milliseconds", "start_to_close_timeout": "10 seconds",
	"retry_policy": {"initial_interval": "10 milliseconds", "backoff_coefficient": 1}}]$$);
SELECT * FROM t_poll('w4-sched2close', '{activity}');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.history h JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-sched2close' AND h.event_type = 'ActivityTaskTimedOut')$$) AS timed_out;
SELECT event_id, event_type, sched, attempt, retry_state, failure, timeout_type FROM t_aev('w4-sched2close');
SELECT durable.terminate_workflow('w4-sched2close');

-- schedule-to-start: nobody polls the activity's queue; the activity never
-- started, so no ActivityTaskStarted is written
SELECT t_start_with('w4-sched2start', 'w4-sched2start', $$[{"type": "schedule_activity", "activity_id": "q1", "activity_type": "A",
	"task_queue": "q04-nobody", "schedule_to_start_timeout": "200 milliseconds", "start_to_close_timeout": "10 seconds"}]$$);
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.history h JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w4-sched2start' AND h.event_type = 'ActivityTaskTimedOut')$$) AS timed_out;
SELECT event_type, failure, timeout_type FROM t_aev('w4-sched2start');
SELECT durable.terminate_workflow('w4-sched2start');

-- activity timeouts default to and are capped by the run timeout
SELECT t_start_with('w4-norm', 'w4-norm', $$[
	{"type": "schedule_activity", "activity_id": "m1", "activity_type": "A", "start_to_close_timeout": "1 day"},
	{"type": "schedule_activity", "activity_id": "m2", "activity_type": "A", "schedule_to_close_timeout": "30 minutes"},
	{"type": "schedule_activity", "activity_id": "m3", "activity_type": "A", "start_to_close_timeout": "10 minutes",
	 "heartbeat_timeout": "1 hour"}]$$, run_timeout => '1 hour');
SELECT h.attributes->>'activity_id' AS activity_id, h.attributes->>'schedule_to_close_timeout' AS schedule_to_close,
	   h.attributes->>'schedule_to_start_timeout' AS schedule_to_start,
	   h.attributes->>'start_to_close_timeout' AS start_to_close, h.attributes->>'heartbeat_timeout' AS heartbeat
FROM durable.get_history('w4-norm') h WHERE h.event_type = 'ActivityTaskScheduled' ORDER BY h.event_id;
-- an activity without a heartbeat timeout has none
SELECT (t).activity_id, (t).heartbeat_timeout, (t).deadline - (t).started_time AS lease
FROM (SELECT durable.poll_task('w4-norm', 'worker-1', '{activity}') AS t) s;
SELECT durable.terminate_workflow('w4-norm');

--
-- 03_worker: the worker protocol: poll_task, complete_workflow_task with every
-- command, workflow task failures and retries, stale tokens, unhandled
-- commands and every malformed command.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- poll_task: arguments and filtering
--
SELECT count(*) AS no_task FROM durable.poll_task('q03-empty', 'worker-1');
SELECT t_try($$SELECT * FROM durable.poll_task('q03', 'worker-1', '{}')$$) AS empty_kinds;
SELECT t_try($$SELECT * FROM durable.poll_task('q03', 'worker-1', NULL)$$) AS null_kinds;
SELECT t_try($$SELECT * FROM durable.poll_task('q03', 'worker-1', '{timer}')$$) AS bad_kind;
SELECT t_try($$SELECT * FROM durable.poll_task('q03', 'worker-1', '{workflow,nexus}')$$) AS bad_second_kind;
SELECT t_try($$SELECT * FROM durable.poll_task(NULL, 'worker-1')$$) AS null_queue;
SELECT t_try($$SELECT * FROM durable.poll_task('q03', NULL)$$) AS null_worker;
SELECT t_try($$SELECT * FROM durable.poll_task('', 'worker-1')$$) AS empty_queue;
SELECT t_try(format('SELECT * FROM durable.poll_task(%L, ''worker-1'')', repeat('q', 1001))) AS long_queue;
SELECT t_try($$SELECT * FROM durable.poll_task('q03', 'worker-1', wait => '-1 second')$$) AS negative_wait;
-- a short wait on an empty queue returns no row
SELECT count(*) AS no_task FROM durable.poll_task('q03-empty', 'worker-1', wait => '50 milliseconds');

-- kinds filter: a workflow task is not handed to an activity-only poller
SELECT durable.start_workflow('Flow', '{"n": 1}', 'w3-kinds', 'q03-kinds') IS NOT NULL AS started;
SELECT * FROM t_poll('q03-kinds', '{activity}');
-- nor to a poller of another queue
SELECT * FROM t_poll('q03-other');
SELECT * FROM t_poll('q03-kinds', '{workflow}');
-- once claimed it is not handed out again
SELECT * FROM t_poll('q03-kinds');
SELECT durable.terminate_workflow('w3-kinds');

--
-- the full cycle with every non-closing command
--
SELECT durable.start_workflow('Flow', '{"n": 2}', 'w3-full', 'q03', task_timeout => '20 seconds',
							  search_attributes => '{"stage": "new", "gone": true}') AS run_full \gset
SELECT durable.poll_task('q03', 'worker-1') AS task \gset
-- the task as handed out: the token, the history ending with an unsaved WorkflowTaskStarted
SELECT (t).kind, (t).workflow_id, (t).run_id = :'run_full' AS same_run, (t).workflow_type,
	   (t).task_queue, (t).activity_id, (t).input, (t).attempt, (t).priority,
	   (t).task_token ~ '^w:[0-9a-f-]{36}:1:3:[0-9]+:[0-9a-f]{32}$' AS token_format,
	   (t).deadline - (t).started_time AS lease,
	   jsonb_array_length((t).history) AS events,
	   (t).history->-1->>'event_type' AS last_event,
	   (t).history->-1->'attributes' AS last_attributes
FROM (SELECT :'task'::durable.task AS t) s;
SELECT (:'task'::durable.task).task_token AS tok \gset
-- WorkflowTaskStarted is not stored yet
SELECT history_length FROM durable.workflows WHERE run_id = :'run_full';
SELECT pending_workflow_task->>'state' AS state, pending_workflow_task->>'worker_id' AS worker
FROM durable.describe_workflow('w3-full');
SELECT durable.complete_workflow_task(:'tok', $$[
	{"type": "schedule_activity", "activity_id": "a1", "activity_type": "Charge",
	 "input": {"amount": 5}, "start_to_close_timeout": "30 seconds"},
	{"type": "schedule_activity", "activity_id": "a2", "activity_type": "Ship",
	 "task_queue": "q03-ship", "schedule_to_close_timeout": "1 hour", "schedule_to_start_timeout": "5 minutes",
	 "start_to_close_timeout": "2 hours", "heartbeat_timeout": "10 seconds", "priority": 3,
	 "retry_policy": {"initial_interval": "3s", "maximum_attempts": 4, "non_retryable_error_types": ["Fatal"]}},
	{"type": "start_timer", "timer_id": "t1", "duration": "1 hour"},
	{"type": "record_marker", "marker_name": "version", "details": {"v": 2}},
	{"type": "upsert_search_attributes", "search_attributes": {"stage": "charging", "gone": null, "n": 1}}
]$$);
SELECT * FROM t_hist('w3-full');
SELECT status, history_length, wft_state, search_attributes FROM durable.workflows WHERE run_id = :'run_full';
-- the activities are queued on their queues; the timer is pending
SELECT a.activity_id, a.task_queue, a.priority, a.state, a.attempt,
	   a.schedule_to_close_timeout, a.schedule_to_start_timeout, a.start_to_close_timeout
FROM durable.activities a WHERE run_id = :'run_full' ORDER BY a.activity_id;
SELECT kind, task_queue, priority FROM durable.tasks WHERE run_id = :'run_full' ORDER BY scheduled_event_id;
SELECT kind, timer_id, started_event_id FROM durable.timers WHERE run_id = :'run_full' ORDER BY kind, timer_id;
SELECT pending_workflow_task, jsonb_array_length(pending_activities) AS activities,
	   pending_timers->0->>'timer_id' AS timer
FROM durable.describe_workflow('w3-full');
-- no workflow task until something happens; the activity is next on q03
SELECT * FROM t_poll('q03', '{workflow}');
SELECT * FROM t_poll('q03');
SELECT token AS atok FROM t_last \gset
SELECT durable.complete_activity(:'atok', '{"charged": true}');
SELECT * FROM t_hist('w3-full') WHERE event_id > 9;
-- the completion scheduled a workflow task that sees it
SELECT * FROM t_poll('q03');
SELECT token AS tok FROM t_last \gset
-- cancel the timer, cancel the queued activity a2 (canceled at once), record another marker
SELECT durable.complete_workflow_task(:'tok', $$[
	{"type": "cancel_timer", "timer_id": "t1"},
	{"type": "request_cancel_activity", "activity_id": "a2"},
	{"type": "record_marker", "marker_name": "no-details"}
]$$);
SELECT * FROM t_hist('w3-full') WHERE event_id > 12;
SELECT (SELECT count(*) FROM durable.activities WHERE run_id = :'run_full') AS activities,
	   (SELECT count(*) FROM durable.timers WHERE run_id = :'run_full' AND kind = 'user') AS timers,
	   (SELECT count(*) FROM durable.tasks WHERE run_id = :'run_full' AND kind = 'activity') AS activity_tasks;
-- the immediate cancellation needs a workflow task to be seen
SELECT * FROM t_poll('q03');
SELECT token AS tok FROM t_last \gset
-- an empty command list completes the task and schedules nothing
SELECT durable.complete_workflow_task(:'tok', '[]');
SELECT * FROM t_hist('w3-full') WHERE event_id > 18;
SELECT wft_state, (SELECT count(*) FROM durable.tasks WHERE run_id = :'run_full') AS tasks
FROM durable.workflows WHERE run_id = :'run_full';
-- a signal schedules the next task; complete_workflow closes the run
SELECT durable.signal_workflow('w3-full', 'finish', '{"now": true}');
SELECT * FROM t_poll('q03');
SELECT token AS tok FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok', '[{"type": "complete_workflow", "result": {"ok": 1}}]');
SELECT * FROM t_hist('w3-full') WHERE event_id > 20;
SELECT status, result, failure, history_length, wft_state FROM durable.workflows WHERE run_id = :'run_full';
SELECT durable.workflow_result('w3-full');
-- nothing of the run is left pending
SELECT (SELECT count(*) FROM durable.tasks WHERE run_id = :'run_full') AS tasks,
	   (SELECT count(*) FROM durable.timers WHERE run_id = :'run_full') AS timers,
	   (SELECT count(*) FROM durable.activities WHERE run_id = :'run_full') AS activities;
-- the token of the completed task is stale now
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, ''[]'')', :'tok')) AS reused_token;
SELECT t_try(format('SELECT durable.fail_workflow_task(%L)', :'tok')) AS reused_token_fail;

--
-- the other close commands: fail_workflow, cancel_workflow
--
SELECT durable.start_workflow('Flow', NULL, 'w3-failwf', 'q03-close') IS NOT NULL AS started;
SELECT * FROM t_poll('q03-close');
SELECT token AS tok FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok', $$[
	{"type": "record_marker", "marker_name": "before"},
	{"type": "fail_workflow", "failure": {"message": "out of stock", "type": "StockError", "details": [1]}}
]$$);
SELECT * FROM t_hist('w3-failwf') WHERE event_id > 3;
SELECT status, failure FROM durable.workflows WHERE workflow_id = 'w3-failwf';
SELECT durable.start_workflow('Flow', NULL, 'w3-cancelwf', 'q03-close') IS NOT NULL AS started;
SELECT * FROM t_poll('q03-close');
SELECT token AS tok FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok', '[{"type": "cancel_workflow", "details": "bye"}]');
SELECT * FROM t_hist('w3-cancelwf') WHERE event_id > 3;
SELECT status, failure FROM durable.workflows WHERE workflow_id = 'w3-cancelwf';

--
-- workflow task failure and retry
--
SELECT durable.start_workflow('Flow', NULL, 'w3-wftfail', 'q03-wft') AS run_wft \gset
SELECT * FROM t_poll('q03-wft');
SELECT token AS tok FROM t_last \gset
-- the first failure is written to history ...
SELECT durable.fail_workflow_task(:'tok', '{"message": "nondeterminism", "type": "NonDeterministicError"}');
SELECT * FROM t_hist('w3-wftfail');
SELECT history_length, wft_state, wft_attempt, wft_scheduled_event_id FROM durable.workflows WHERE run_id = :'run_wft';
-- ... and the retry is transient: its WorkflowTaskScheduled exists only in the task
SELECT * FROM t_poll('q03-wft');
SELECT token AS tok FROM t_last \gset
SELECT t_try(format('SELECT durable.fail_workflow_task(%L)', :'tok')) AS second_failure;
-- the second failure wrote nothing
SELECT history_length, wft_state, wft_attempt FROM durable.workflows WHERE run_id = :'run_wft';
SELECT * FROM t_poll('q03-wft');
SELECT token AS tok FROM t_last \gset
SELECT durable.fail_workflow_task(:'tok', '{"message": "still broken"}');
-- attempt 4 backs off (1 s) before it is handed out
SELECT history_length, wft_state, wft_attempt FROM durable.workflows WHERE run_id = :'run_wft';
SELECT kind FROM durable.timers WHERE run_id = :'run_wft';
SELECT * FROM t_poll('q03-wft');
DO $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '20 seconds';
BEGIN
	WHILE clock_timestamp() < deadline AND NOT EXISTS (
		SELECT 1 FROM durable.workflows WHERE workflow_id = 'w3-wftfail' AND wft_state = 'scheduled') LOOP
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT history_length, wft_state, wft_attempt FROM durable.workflows WHERE run_id = :'run_wft';
SELECT * FROM t_poll('q03-wft');
SELECT token AS tok FROM t_last \gset
-- the completing attempt writes its transient WorkflowTaskScheduled and WorkflowTaskStarted
SELECT durable.complete_workflow_task(:'tok', '[]');
SELECT * FROM t_hist('w3-wftfail') WHERE event_id > 4;
-- a failure with no type is reported with the default cause; a bad failure shape is rejected
SELECT durable.signal_workflow('w3-wftfail', 'again');
SELECT * FROM t_poll('q03-wft');
SELECT token AS tok FROM t_last \gset
SELECT t_try(format('SELECT durable.fail_workflow_task(%L, ''"text"'')', :'tok')) AS failure_not_object;
SELECT t_try(format('SELECT durable.fail_workflow_task(%L, ''{"msg": "x"}'')', :'tok')) AS failure_unknown_field;
SELECT t_try(format('SELECT durable.fail_workflow_task(%L, ''{"non_retryable": "yes"}'')', :'tok')) AS failure_bad_type;
SELECT durable.fail_workflow_task(:'tok');
SELECT event_id, event_type, attributes::jsonb->>'cause' AS cause, attributes::jsonb->'failure' AS failure
FROM t_hist('w3-wftfail') WHERE event_id > 7;
-- a signal to a run whose retry is pending turns the transient retry into a regular task
SELECT durable.signal_workflow('w3-wftfail', 'nudge');
SELECT history_length, wft_state, wft_attempt, wft_scheduled_event_id FROM durable.workflows WHERE run_id = :'run_wft';
SELECT * FROM t_poll('q03-wft');
SELECT token AS tok FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok', '[{"type": "complete_workflow"}]');
SELECT * FROM t_hist('w3-wftfail') WHERE event_id > 11;

--
-- tokens: stale, malformed, of the wrong kind
--
SELECT durable.start_workflow('Flow', NULL, 'w3-tok', 'q03-tok') AS run_tok \gset
SELECT * FROM t_poll('q03-tok');
SELECT token AS tok FROM t_last \gset
SELECT t_try($$SELECT durable.complete_workflow_task('garbage', '[]')$$) AS malformed;
SELECT t_try($$SELECT durable.complete_workflow_task(NULL, '[]')$$) AS null_token;
SELECT t_try($$SELECT durable.complete_workflow_task('w:not-a-uuid:1:3:0', '[]')$$) AS bad_uuid;
SELECT t_try($$SELECT durable.complete_workflow_task('x:00000000-0000-0000-0000-000000000000:1:3', '[]')$$) AS bad_kind;
SELECT t_try($$SELECT durable.complete_workflow_task('w:00000000-0000-0000-0000-000000000000:1:3:0', '[]')$$) AS unknown_run;
SELECT t_try($$SELECT durable.complete_workflow_task('w:00000000-0000-0000-0000-000000000000:1:3', '[]')$$) AS too_few_parts;
SELECT t_try(format('SELECT durable.complete_activity(%L)', :'tok')) AS workflow_token_to_complete_activity;
SELECT t_try(format('SELECT durable.fail_activity(%L, NULL)', :'tok')) AS workflow_token_to_fail_activity;
SELECT t_try(format('SELECT durable.heartbeat_activity(%L)', :'tok')) AS workflow_token_to_heartbeat;
-- a token with another sequence number or started event id was not issued
-- (its signature no longer matches)
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, ''[]'')', regexp_replace(:'tok', ':1:3:([0-9]+):([0-9a-f]+)$', ':2:3:\1:\2'))) AS wrong_seq;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, ''[]'')', regexp_replace(:'tok', ':1:3:([0-9]+):([0-9a-f]+)$', ':1:4:\1:\2'))) AS wrong_started;
-- the task is still outstanding after all this
SELECT durable.complete_workflow_task(:'tok', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 minute"}]');
SELECT * FROM t_poll('q03-tok');
SELECT token AS atok FROM t_last \gset
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, ''[]'')', :'atok')) AS activity_token_to_complete_wft;
SELECT t_try(format('SELECT durable.fail_workflow_task(%L)', :'atok')) AS activity_token_to_fail_wft;
-- a token of a closed run is stale
SELECT durable.terminate_workflow('w3-tok');
SELECT t_try(format('SELECT durable.complete_activity(%L)', :'atok')) AS closed_run_activity;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L)', :'tok')) AS closed_run_wft;

--
-- unhandled command: the task closes the run while a signal waits
--
SELECT durable.start_workflow('Flow', NULL, 'w3-unh', 'q03-unh') AS run_unh \gset
SELECT * FROM t_poll('q03-unh');
SELECT token AS tok FROM t_last \gset
SELECT durable.signal_workflow('w3-unh', 'late', '"x"');
-- buffered while the task runs: not yet in history
SELECT history_length, (SELECT count(*) FROM durable.buffered_events WHERE run_id = :'run_unh') AS buffered
FROM durable.workflows WHERE run_id = :'run_unh';
SELECT durable.complete_workflow_task(:'tok', '[{"type": "start_timer", "timer_id": "x", "duration": "1h"}, {"type": "complete_workflow", "result": 1}]');
SELECT * FROM t_hist('w3-unh');
SELECT status, wft_state, wft_attempt, (SELECT count(*) FROM durable.timers WHERE run_id = :'run_unh') AS timers
FROM durable.workflows WHERE run_id = :'run_unh';
-- the new task carries the signal; now the close goes through
SELECT * FROM t_poll('q03-unh');
SELECT token AS tok FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok', '[{"type": "complete_workflow", "result": 2}]');
SELECT * FROM t_hist('w3-unh') WHERE event_id > 7;
SELECT durable.workflow_result('w3-unh');
-- a signal during a task that does not close the run is written after the task's events
SELECT durable.start_workflow('Flow', NULL, 'w3-buf', 'q03-unh') AS run_buf \gset
SELECT * FROM t_poll('q03-unh');
SELECT token AS tok FROM t_last \gset
SELECT durable.signal_workflow('w3-buf', 's1', '1');
SELECT durable.signal_workflow('w3-buf', 's2', '2');
SELECT durable.complete_workflow_task(:'tok', '[{"type": "record_marker", "marker_name": "m"}]');
SELECT * FROM t_hist('w3-buf') WHERE event_id > 2;
SELECT durable.terminate_workflow('w3-buf');

--
-- malformed commands: each is rejected and the run is unchanged
--
SELECT durable.start_workflow('Flow', NULL, 'w3-bad', 'q03-bad') AS run_bad \gset
SELECT * FROM t_poll('q03-bad');
SELECT token AS tok FROM t_last \gset
SELECT history_length AS hl_before FROM durable.workflows WHERE run_id = :'run_bad' \gset
CREATE TEMP TABLE bad_commands (n serial, what text, cmds text);
INSERT INTO bad_commands (what, cmds) VALUES
	('not an array', '{"type": "complete_workflow"}'),
	('a string', '"complete_workflow"'),
	('element not an object', '[1]'),
	('element an array', '[[{"type": "complete_workflow"}]]'),
	('no type', '[{"timer_id": "t", "duration": "1s"}]'),
	('type not a string', '[{"type": 5}]'),
	('unknown type', '[{"type": "launch_missiles"}]'),
	('unknown field', '[{"type": "start_timer", "timer_id": "t", "duration": "1s", "repeat": true}]'),
	('unknown field of a close command', '[{"type": "complete_workflow", "result": 1, "extra": 2}]'),
	('missing timer_id', '[{"type": "start_timer", "duration": "1s"}]'),
	('missing duration', '[{"type": "start_timer", "timer_id": "t"}]'),
	('null required field', '[{"type": "start_timer", "timer_id": null, "duration": "1s"}]'),
	('missing activity_id', '[{"type": "schedule_activity", "activity_type": "A", "start_to_close_timeout": "1s"}]'),
	('missing activity_type', '[{"type": "schedule_activity", "activity_id": "a", "start_to_close_timeout": "1s"}]'),
	('missing marker_name', '[{"type": "record_marker", "details": 1}]'),
	('missing search_attributes', '[{"type": "upsert_search_attributes"}]'),
	('missing failure', '[{"type": "fail_workflow"}]'),
	('timer_id a number', '[{"type": "start_timer", "timer_id": 7, "duration": "1s"}]'),
	('duration a boolean', '[{"type": "start_timer", "timer_id": "t", "duration": true}]'),
	('empty timer_id', '[{"type": "start_timer", "timer_id": "", "duration": "1s"}]'),
	('activity_type an object', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": {}, "start_to_close_timeout": "1s"}]'),
	('priority a string', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1s", "priority": "high"}]'),
	('search_attributes an array', '[{"type": "upsert_search_attributes", "search_attributes": [1]}]'),
	('failure a string', '[{"type": "fail_workflow", "failure": "bad"}]'),
	('failure with an unknown field', '[{"type": "fail_workflow", "failure": {"reason": "bad"}}]'),
	('bad interval text', '[{"type": "start_timer", "timer_id": "t", "duration": "soon"}]'),
	('bad activity interval text', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "forever"}]'),
	('negative duration', '[{"type": "start_timer", "timer_id": "t", "duration": "-1 second"}]'),
	('negative activity timeout', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "-5s"}]'),
	('zero timer duration', '[{"type": "start_timer", "timer_id": "t", "duration": "0"}]'),
	('no start_to_close or schedule_to_close', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "heartbeat_timeout": "1s"}]'),
	('only zero timeouts', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "0s"}]'),
	('bad retry policy', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1s", "retry_policy": {"backoff_coefficient": 0}}]'),
	('close command not last', '[{"type": "complete_workflow"}, {"type": "start_timer", "timer_id": "t", "duration": "1s"}]'),
	('two close commands', '[{"type": "complete_workflow"}, {"type": "fail_workflow", "failure": {}}]'),
	('cancel of an unknown timer', '[{"type": "cancel_timer", "timer_id": "nope"}]'),
	('cancel of an unknown activity', '[{"type": "request_cancel_activity", "activity_id": "nope"}]'),
	('duplicate timer id in one task', '[{"type": "start_timer", "timer_id": "t", "duration": "1s"}, {"type": "start_timer", "timer_id": "t", "duration": "2s"}]'),
	('duplicate activity id in one task', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1s"}, {"type": "schedule_activity", "activity_id": "a", "activity_type": "B", "start_to_close_timeout": "1s"}]'),
	('a bad command after good ones', '[{"type": "record_marker", "marker_name": "m"}, {"type": "start_timer", "timer_id": "t", "duration": "1s"}, {"type": "start_timer", "timer_id": "u"}]'),
	('bad continue_as_new field', '[{"type": "continue_as_new", "run_timeout": "-1s"}]'),
	('long activity id', format('[{"type": "schedule_activity", "activity_id": "%s", "activity_type": "A", "start_to_close_timeout": "1s"}]', repeat('a', 1001)));
SELECT n, what, t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok', cmds)) AS error
FROM bad_commands ORDER BY n;
-- the run is unchanged: same history, the task still outstanding, nothing pending
SELECT history_length = :hl_before AS same_history, status, wft_state,
	   (SELECT started_time IS NOT NULL FROM durable.tasks WHERE run_id = :'run_bad' AND kind = 'workflow') AS task_started,
	   (SELECT count(*) FROM durable.timers WHERE run_id = :'run_bad' AND kind = 'user') AS timers,
	   (SELECT count(*) FROM durable.activities WHERE run_id = :'run_bad') AS activities
FROM durable.workflows WHERE run_id = :'run_bad';
-- and the same task completes
SELECT durable.complete_workflow_task(:'tok', $$[
	{"type": "start_timer", "timer_id": "t", "duration": "1 hour"},
	{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 hour"}
]$$);
SELECT event_id, event_type FROM t_hist('w3-bad');
-- a pending timer's or activity's id cannot be reused by a later task: DU006
SELECT durable.signal_workflow('w3-bad', 'go');
SELECT * FROM t_poll('q03-bad', '{workflow}');
SELECT token AS tok FROM t_last \gset
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "start_timer", "timer_id": "t", "duration": "1s"}]')) AS dup_timer;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1s"}]')) AS dup_activity;
-- a canceled timer's id is free again
SELECT durable.complete_workflow_task(:'tok', $$[
	{"type": "cancel_timer", "timer_id": "t"},
	{"type": "start_timer", "timer_id": "t", "duration": "2 hours"}
]$$);
SELECT event_id, event_type, attributes FROM t_hist('w3-bad') WHERE event_id > 7;
-- commands => NULL is an empty list
SELECT durable.signal_workflow('w3-bad', 'go');
SELECT * FROM t_poll('q03-bad', '{workflow}');
SELECT token AS tok FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok', NULL);
SELECT event_id, event_type FROM t_hist('w3-bad') WHERE event_id > 11;
SELECT durable.terminate_workflow('w3-bad');

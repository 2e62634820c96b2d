--
-- 19_schedules: schedules (issue 14 point 4, docs/schedules.md).  Spec
-- semantics follow Temporal's ScheduleSpec
-- (https://docs.temporal.io/schedule#spec, temporalio/api
-- temporal/api/schedule/v1/message.proto): calendar fields default to
-- second 0, minute 0, hour 0 and * for the others; intervals are aligned to
-- the Unix epoch plus the offset; exclude_calendars remove times.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers
SET timezone = 'UTC';
-- t_times shows a spec's next times after a time
CREATE FUNCTION t_times(spec jsonb, after timestamptz, n int DEFAULT 5) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD Dy HH24:MI:SS') || 'Z'
	FROM unnest(durable.schedule_spec_times(spec, after, n)) t
$$;

-- cron: steps, ranges, lists, names
SELECT * FROM t_times('{"cron": ["*/15 * * * *"]}', '2026-03-01 10:07:00Z');
SELECT * FROM t_times('{"cron": ["30 9 * * mon-fri"]}', '2026-03-06 10:00:00Z');
SELECT * FROM t_times('{"cron": ["0 0 1,15 jan,jul *"]}', '2026-01-01 00:00:00Z');
SELECT * FROM t_times('{"cron": ["0 12 * * 7"]}', '2026-03-01 00:00:00Z', 2);
SELECT * FROM t_times('{"cron": ["@hourly"]}', '2026-03-01 10:07:00Z', 2);
SELECT * FROM t_times('{"cron": ["@daily", "@weekly"]}', '2026-03-06 10:07:00Z', 3);
SELECT * FROM t_times('{"cron": ["5/20 8-10 * * *"]}', '2026-03-01 00:00:00Z', 4);
-- intervals: epoch-aligned, with an offset
SELECT * FROM t_times('{"intervals": [{"every": "1 hour", "offset": "5 minutes"}]}', '2026-03-01 10:07:00Z', 3);
SELECT * FROM t_times('{"intervals": [{"every": "7 days"}]}', '2026-03-01 00:00:00Z', 2);
SELECT * FROM t_times('{"intervals": [{"every": 90}]}', '2026-03-01 00:00:00Z', 3);
-- calendars (Temporal's StructuredCalendarSpec fields as strings), exclusions
SELECT * FROM t_times('{"calendars": [{"hour": "9", "day_of_week": "mon-fri", "comment": "weekdays"}]}', '2026-03-05 12:00:00Z', 3);
SELECT * FROM t_times('{"calendars": [{"second": "*/20", "minute": "*", "hour": "*"}]}', '2026-03-05 12:00:00Z', 4);
SELECT * FROM t_times('{"calendars": [{"day_of_month": "29", "month": "feb", "year": "2027-2030"}]}', '2026-03-05 12:00:00Z', 2);
SELECT * FROM t_times('{"cron": ["0 * * * *"], "exclude_calendars": [{"hour": "11-12", "minute": "*"}]}', '2026-03-05 09:30:00Z', 4);
-- start_at, end_at
SELECT * FROM t_times('{"cron": ["0 0 * * *"], "start_at": "2026-06-01T00:00:00Z", "end_at": "2026-06-03T00:00:00Z"}', '2026-01-01Z');
-- time zones: 9:00 in Paris, across the change to summer time (29 March 2026)
SELECT * FROM t_times('{"cron": ["0 9 * * *"], "timezone": "Europe/Paris"}', '2026-03-27 00:00:00Z', 4);
-- a time that does not exist (02:30 on 29 March in Paris) moves forward by the gap,
-- as PostgreSQL reads such a local time; one that happens twice (02:30 on 25 October) runs once
SELECT * FROM t_times('{"cron": ["30 2 * * *"], "timezone": "Europe/Paris"}', '2026-03-27 12:00:00Z', 3);
SELECT * FROM t_times('{"cron": ["30 2 * * *"], "timezone": "Europe/Paris"}', '2026-10-24 12:00:00Z', 3);
SELECT * FROM t_times('{"cron": ["0 * * * *"], "timezone": "America/New_York"}', '2026-11-01 04:30:00Z', 4);

-- errors: bad cron strings, calendars, intervals, time zones, fields
SELECT t_try($$SELECT durable.schedule_spec_times('{"cron": ["* * * *"]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"cron": ["61 * * * *"]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"cron": ["0 0 * * funday"]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"cron": ["0 5-2 * * *"]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"cron": ["@fortnightly"]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"calendars": [{"hour": "25"}]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"intervals": [{"every": "1 month"}]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"intervals": [{"every": "1 hour", "offset": "2 hours"}]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"cron": ["0 0 * * *"], "timezone": "Mars/Olympus"}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"crons": ["0 0 * * *"]}', now())$$);
SELECT t_try($$SELECT durable.schedule_spec_times('{"timezone": "UTC"}', now())$$);
-- with their DETAIL and HINT
\set VERBOSITY default
SELECT durable.schedule_spec_times('{"cron": ["0 9 * * mon-fry"]}', now());
SELECT durable.schedule_spec_times('{"cron": ["0 9 * * *"], "timezone": "Europe/Pariss"}', now());

-- create, describe (far-future times: the engine takes no action here)
SELECT durable.create_schedule('nightly',
	'{"cron": ["0 3 * * *"], "start_at": "2090-01-01T00:00:00Z", "timezone": "Europe/Paris"}',
	'{"workflow_type": "Report", "workflow_id": "report", "task_queue": "sq", "input": [1]}',
	'{"overlap": "skip", "catchup_window": "1 hour"}');
SELECT jsonb_pretty(d - 'info') AS schedule,
	   (d->'info') - 'create_time' - 'update_time' - 'next_action_times' AS info,
	   d->'info'->'next_action_times'->0 AS first, jsonb_array_length(d->'info'->'next_action_times') AS upcoming
FROM durable.describe_schedule('nightly') d;
SELECT schedule_id, paused, next_action_time, next_nominal_time FROM durable.schedules;
SELECT kind, timer_id, fire_time, workflow_id, attributes FROM durable.timers WHERE kind = 'schedule';
SELECT t_try($$SELECT durable.create_schedule('nightly', '{"cron": ["0 3 * * *"]}', '{"workflow_type": "X"}')$$);
SELECT t_try($$SELECT durable.describe_schedule('nope')$$);
SELECT t_try($$SELECT durable.pause_schedule('nope')$$);
SELECT t_try($$SELECT durable.create_schedule('bad', '{"cron": ["0 3 * *"]}', '{"workflow_type": "X"}')$$);
SELECT t_try($$SELECT durable.create_schedule('bad', '{"cron": ["0 3 * * *"]}', '{"task_queue": "X"}')$$);
SELECT t_try($$SELECT durable.create_schedule('bad', '{"cron": ["0 3 * * *"]}', '{"workflow_type": "X", "colour": 1}')$$);
SELECT t_try($$SELECT durable.create_schedule('bad', '{"cron": ["0 3 * * *"]}', '{"workflow_type": "X"}', '{"overlap": "sometimes"}')$$);
SELECT t_try($$SELECT durable.create_schedule('bad', '{"cron": ["0 3 * * *"]}', '{"workflow_type": "X"}', '{"catchup_window": "1 second"}')$$);
SELECT t_try($$SELECT durable.create_schedule('bad', '{"cron": ["0 3 * * *"]}', '{"workflow_type": "X"}', NULL, '{}', 'no_such_ns')$$);

-- pause and unpause: a paused schedule has no timer
SELECT durable.pause_schedule('nightly', 'maintenance');
SELECT d->'state' FROM durable.describe_schedule('nightly') d;
SELECT count(*) AS timers FROM durable.timers WHERE kind = 'schedule';
SELECT durable.unpause_schedule('nightly');
SELECT d->'state' FROM durable.describe_schedule('nightly') d;
SELECT count(*) AS timers FROM durable.timers WHERE kind = 'schedule';

-- backfill: the spec's times in a range (start_at and end_at aside), in order, per the overlap policy
-- given; workflow ids are <prefix>-<scheduled time>, with Temporal's
-- search attributes (https://docs.temporal.io/schedule#backfill)
SELECT durable.backfill_schedule('nightly', '2026-01-01 00:00Z', '2026-01-03 12:00Z', 'allow_all');
SELECT workflow_id, workflow_type, task_queue, input, search_attributes FROM durable.workflows
WHERE workflow_id LIKE 'report-%' ORDER BY workflow_id;
SELECT d->'info'->'action_count' AS actions,
	   jsonb_path_query_array(d->'info'->'running_workflows', '$[*].workflow_id') AS running,
	   jsonb_path_query_array(d->'info'->'recent_actions', '$[*].workflow_id') AS recent
FROM durable.describe_schedule('nightly') d;
-- skip: a time whose predecessor still runs is skipped (overlap_skipped)
SELECT durable.backfill_schedule('nightly', '2026-02-01 00:00Z', '2026-02-02 12:00Z', 'skip');
SELECT d->'info'->'action_count' AS actions, d->'info'->'overlap_skipped' AS skipped
FROM durable.describe_schedule('nightly') d;
-- buffer_one: one waits for the running ones to close, the next is dropped
SELECT durable.backfill_schedule('nightly', '2026-03-01 00:00Z', '2026-03-02 12:00Z', 'buffer_one');
SELECT d->'info'->'buffered' AS buffered, d->'info'->'overlap_skipped' AS skipped
FROM durable.describe_schedule('nightly') d;
-- the same counts as metrics (docs/metrics.md), under the action's task queue
SELECT m.metric, m.value,
	   m.value = CASE m.metric WHEN 'durable_schedule_action_success_total' THEN (d->'info'->>'action_count')::float8
				 WHEN 'durable_schedule_action_skipped_total' THEN (d->'info'->>'overlap_skipped')::float8
				 ELSE (d->'info'->>'missed_catchup_window')::float8 END AS as_described
FROM durable.metrics m, durable.describe_schedule('nightly') d
WHERE m.labels->>'task_queue' = 'sq' AND m.metric LIKE 'durable\_schedule\_%' ORDER BY m.metric;
-- terminate_other: the running ones are terminated, then the buffered one starts
-- when the last closes (the schedule_closed timer), and the new one
SELECT durable.trigger_schedule('nightly', 'terminate_other');
SELECT workflow_id, status FROM durable.workflows WHERE workflow_id LIKE 'report-2026-0%' ORDER BY workflow_id;
SELECT count(*) AS running FROM durable.workflows WHERE workflow_id LIKE 'report-%' AND status = 'running';
SELECT jsonb_array_length(d->'info'->'running_workflows') AS running_workflows
FROM durable.describe_schedule('nightly') d;
-- the buffered action starts when the running workflow closes (its
-- schedule_closed timer, fired by the engine)
SELECT durable.terminate_workflow(workflow_id, 'done') FROM durable.workflows
WHERE workflow_id LIKE 'report-%' AND status = 'running';
SELECT t_wait($$EXISTS (SELECT FROM durable.workflows WHERE workflow_id = 'report-2026-03-01T02:00:00Z' AND status = 'running')$$);
SELECT d->'info'->'buffered' AS buffered, d->'info'->'action_count' AS actions,
	   d->'info'->'recent_actions'->-1->>'workflow_id' AS last,
	   d->'info'->'recent_actions'->-1->>'status' AS status
FROM durable.describe_schedule('nightly') d;

-- limited actions
SELECT durable.create_schedule('twice', '{"cron": ["0 3 * * *"], "start_at": "2090-01-01T00:00:00Z"}',
	'{"workflow_type": "Once", "task_queue": "sq"}', '{"overlap": "allow_all"}',
	'{"limited_actions": true, "remaining_actions": 2}');
SELECT durable.backfill_schedule('twice', '2026-01-01 00:00Z', '2026-01-05 00:00Z');
SELECT workflow_id FROM durable.workflows WHERE workflow_type = 'Once' ORDER BY 1;
SELECT d->'state' AS state, d->'info'->'next_action_times' AS upcoming
FROM durable.describe_schedule('twice') d;
SELECT count(*) AS timers FROM durable.timers WHERE kind = 'schedule';

-- pause_on_failure: a failed workflow pauses its schedule (its close's
-- schedule_closed timer); Temporal: SchedulePolicies.pause_on_failure
SELECT durable.create_schedule('pof', '{"cron": ["0 3 * * *"], "start_at": "2090-01-01T00:00:00Z"}',
	'{"workflow_type": "Flaky", "workflow_id": "flaky", "task_queue": "pofq"}', '{"pause_on_failure": true}');
SELECT durable.trigger_schedule('pof');
SELECT durable.complete_workflow_task(task_token, '[{"type": "fail_workflow", "failure": {"message": "boom"}}]')->>'outcome'
FROM durable.poll_task('pofq', 'w1', '{workflow}');
SELECT t_wait($$(SELECT paused FROM durable.schedules WHERE schedule_id = 'pof')$$);
SELECT regexp_replace(d->'state'->>'note', 'flaky-[0-9TZ:.-]+', 'flaky-<time>') AS note,
	   d->'info'->'recent_actions'->0->>'status' AS status, d->'info'->'next_action_times' AS upcoming
FROM durable.describe_schedule('pof') d;
SELECT count(*) AS timers FROM durable.timers WHERE kind IN ('schedule', 'schedule_closed') AND workflow_id LIKE 'pof%';
SELECT durable.delete_schedule('pof');

-- update keeps state and counters; delete removes the schedule and its timer
SELECT durable.update_schedule('nightly', '{"intervals": [{"every": "1 day", "offset": "2 hours"}], "start_at": "2091-01-01T00:00:00Z"}',
	'{"workflow_type": "Report2", "workflow_id": "report"}');
SELECT d->'info'->'next_action_times'->0 AS first, d->'info'->'action_count' AS actions
FROM durable.describe_schedule('nightly') d;
SELECT durable.delete_schedule('nightly');
SELECT durable.delete_schedule('twice');
-- the action's payloads are held to the namespace's limit when it is made,
-- as each start is (durable.max_payload_size, docs/namespaces.md)
SELECT durable.create_namespace('s19-small', '{"max_payload_size": 2048}');
SELECT t_try($$SELECT durable.create_schedule('big', '{"cron": ["0 3 * * *"]}',
	jsonb_build_object('workflow_type', 'Big', 'input', jsonb_build_array(repeat('x', 3000))), NULL, '{}', 's19-small')$$)
	AS oversized_input;
-- a start the action can no longer make (the limit lowered since): the engine
-- drops that action, records it and goes on, instead of failing its timer
-- every minute
SELECT durable.create_schedule('shrunk', '{"intervals": [{"every": "1 second"}]}',
	jsonb_build_object('workflow_type', 'Big', 'task_queue', 's19q', 'input', jsonb_build_array(repeat('x', 1500))),
	'{"overlap": "allow_all"}', '{}', 's19-small');
SELECT durable.alter_namespace('s19-small', '{"max_payload_size": 1024}');
SELECT t_wait($$(SELECT (d->'info'->>'action_errors')::int >= 2 FROM durable.describe_schedule('shrunk', 's19-small') d)$$)
	AS errors_recorded;
SELECT d->'info'->'last_action_error'->>'sqlstate' AS sqlstate, d->'info'->'last_action_error'->>'message' AS message,
	   d->'info'->>'action_count' AS actions, d->'info'->'next_action_times'->0 IS NOT NULL AS goes_on
FROM durable.describe_schedule('shrunk', 's19-small') d;
SELECT value >= 2 AS counted FROM durable.metrics
WHERE metric = 'durable_schedule_action_errors_total' AND labels->>'namespace' = 's19-small';
SELECT count(*) AS started FROM durable.workflows WHERE namespace = 's19-small';
SELECT durable.delete_schedule('shrunk', 's19-small');
SELECT durable.drop_namespace('s19-small');
SELECT count(*) AS schedules FROM durable.schedules;
SELECT count(*) AS timers FROM durable.timers WHERE kind = 'schedule';
SELECT t_try($$SELECT durable.delete_schedule('nightly')$$);

-- privileges: capability client in the namespace (the functions are PUBLIC, as
-- start_workflow: the namespace grants decide)
CREATE ROLE sched_nobody;
SET ROLE sched_nobody;
SELECT t_try($$SELECT durable.create_schedule('x', '{"cron": ["0 3 * * *"]}', '{"workflow_type": "X"}')$$);
RESET ROLE;
DROP ROLE sched_nobody;
SELECT durable.terminate_workflow(workflow_id, 'cleanup', run_id, namespace) FROM durable.workflows
WHERE status = 'running' AND search_attributes ? 'TemporalScheduledById';

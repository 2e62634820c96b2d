--
-- 16_task_queues: what a task queue serves first and to whom (issue 12).
-- Priority (1 highest .. 5 lowest, 0 = unset: 3 for a start, the
-- workflow's for its activities), fairness between keys (stride
-- scheduling by weight), rate limits on activity dispatch, affinity
-- (required capabilities, a pinned worker) and build-id versioning
-- (current and ramping builds; a run is pinned to its build).  The
-- introspection function durable.describe_task_queue shows all of it.
-- Concurrent pollers: test/isolation/specs/priority_order.spec and
-- fairness_pollers.spec; restarts: test/t/016_versioning_restart.pl.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers
-- t_claim claims one task like t_poll but with the new arguments, and prints
-- only what identifies it; its token is kept in t_last
CREATE FUNCTION t_claim(q text, worker text, kinds text[] DEFAULT '{workflow,activity}',
						build text DEFAULT NULL, caps jsonb DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r durable.task;
BEGIN
	DELETE FROM public.t_last;
	SELECT * INTO r FROM durable.poll_task(q, worker, kinds, build_id => build, capabilities => caps);
	IF r.task_token IS NULL THEN
		RETURN 'none';
	END IF;
	INSERT INTO public.t_last VALUES (r.task_token);
	RETURN r.kind || ' ' || r.workflow_id || coalesce(' ' || r.activity_id, '') || ' p' || r.priority;
END
$$;
-- t_drain claims every task of a queue (of the kinds) in turn, and lists them
CREATE FUNCTION t_drain(q text, kinds text[] DEFAULT '{workflow,activity}', worker text DEFAULT 'worker-1',
						build text DEFAULT NULL, caps jsonb DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	got text;
	acc text[] := '{}';
BEGIN
	LOOP
		got := t_claim(q, worker, kinds, build, caps);
		EXIT WHEN got = 'none' OR cardinality(acc) >= 100;
		acc := acc || regexp_replace(got, '^(workflow|activity) ', '');
	END LOOP;
	RETURN array_to_string(acc, ', ');
END
$$;
-- t_wft completes the workflow task just claimed (t_last) with commands
CREATE FUNCTION t_wft(cmds jsonb, behavior text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
	SELECT durable.complete_workflow_task((SELECT token FROM public.t_last), cmds,
										  versioning_behavior => behavior)->>'outcome'
$$;
-- t_acts: n schedule_activity commands a1..an with extra fields
CREATE FUNCTION t_acts(n int, q text, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_build_object('type', 'schedule_activity', 'activity_id', 'a' || i,
										'activity_type', 'A', 'task_queue', q,
										'start_to_close_timeout', '1 hour') || extra ORDER BY i)
	FROM generate_series(1, n) i
$$;
-- t_backlog prints a queue's backlog groups from describe_task_queue, without clock values
CREATE FUNCTION t_backlog(q text, part text DEFAULT 'backlog')
RETURNS TABLE (kind text, priority int, build_id text, required_capabilities jsonb,
			   pinned_worker text, count bigint, matched boolean, has_oldest boolean)
LANGUAGE sql AS $$
	SELECT b->>'kind', (b->>'priority')::int, b->>'build_id', b->'required_capabilities',
		   b->>'pinned_worker', (b->>'count')::bigint, (b->>'matched')::boolean,
		   b->>'oldest_ready_time' IS NOT NULL
	FROM jsonb_array_elements(durable.describe_task_queue(q)->part) b
	ORDER BY 1, 2, 3 NULLS FIRST, 4::text NULLS FIRST, 5 NULLS FIRST
$$;

--
-- priority: 1..5, 0 / NULL / absent = unset (3 for a start); anything else 22023
--
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-p6', 'q16-p', priority => 6)$$) AS priority_6;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-pm1', 'q16-p', priority => -1)$$) AS priority_minus_1;
SELECT t_try($$SELECT durable.signal_with_start_workflow('t16-p7', 's', NULL, 'Flow', task_queue => 'q16-p', priority => 7)$$) AS sws_priority_7;
SELECT count(*) AS no_run_after_refusals FROM durable.workflows WHERE task_queue = 'q16-p';
SELECT durable.start_workflow('Flow', NULL, 't16-p5', 'q16-p', priority => 5) IS NOT NULL AS p5;
SELECT durable.start_workflow('Flow', NULL, 't16-pdef', 'q16-p') IS NOT NULL AS p_default;
SELECT durable.start_workflow('Flow', NULL, 't16-p1', 'q16-p', priority => 1) IS NOT NULL AS p1;
SELECT durable.start_workflow('Flow', NULL, 't16-p0', 'q16-p', priority => 0) IS NOT NULL AS p0;
SELECT durable.start_workflow('Flow', NULL, 't16-pnull', 'q16-p', priority => NULL) IS NOT NULL AS p_null;
SELECT durable.signal_with_start_workflow('t16-p2', 's', NULL, 'Flow', task_queue => 'q16-p', priority => 2) IS NOT NULL AS sws_p2;
SELECT w.workflow_id, w.priority AS run_priority, t.priority AS task_priority
FROM durable.workflows w JOIN durable.tasks t USING (run_id)
WHERE w.task_queue = 'q16-p' ORDER BY w.workflow_id;
-- served by priority, oldest first within one
SELECT t_drain('q16-p', '{workflow}') AS served;

--
-- priority of activities and children: unset inherits the workflow's;
-- a command's own priority wins; out of range is refused (22023)
--
SELECT durable.start_workflow('Flow', NULL, 't16-inh', 'q16-inh', priority => 2) IS NOT NULL AS started;
SELECT t_claim('q16-inh', 'worker-1', '{workflow}') AS claimed;
SELECT token AS tok FROM t_last \gset
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "priority": 6}]')) AS activity_priority_6;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "priority": -1}]')) AS activity_priority_minus_1;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "start_child_workflow", "workflow_id": "t16-inh-cx", "workflow_type": "Child", "priority": 9}]')) AS child_priority_9;
SELECT t_wft('[
	{"type": "schedule_activity", "activity_id": "unset", "activity_type": "A", "start_to_close_timeout": "1 hour"},
	{"type": "schedule_activity", "activity_id": "zero", "activity_type": "A", "start_to_close_timeout": "1 hour", "priority": 0},
	{"type": "schedule_activity", "activity_id": "one", "activity_type": "A", "start_to_close_timeout": "1 hour", "priority": 1},
	{"type": "schedule_activity", "activity_id": "five", "activity_type": "A", "start_to_close_timeout": "1 hour", "priority": 5},
	{"type": "start_child_workflow", "workflow_id": "t16-inh-c", "workflow_type": "Child", "task_queue": "q16-inh-c"},
	{"type": "start_child_workflow", "workflow_id": "t16-inh-c4", "workflow_type": "Child", "task_queue": "q16-inh-c", "priority": 4}
]') AS outcome;
SELECT a.activity_id, a.priority FROM durable.activities a JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 't16-inh' ORDER BY a.activity_id;
SELECT t_drain('q16-inh', '{activity}') AS activities_served;
SELECT workflow_id, priority FROM durable.workflows WHERE workflow_id LIKE 't16-inh-c%' ORDER BY workflow_id;
SELECT t_drain('q16-inh-c', '{workflow}') AS children_served;
-- continue-as-new keeps the run's priority
SELECT durable.start_workflow('Flow', NULL, 't16-can', 'q16-can', priority => 4) IS NOT NULL AS started;
SELECT t_claim('q16-can', 'worker-1', '{workflow}') AS claimed;
SELECT t_wft('[{"type": "continue_as_new", "workflow_type": "Flow"}]') AS outcome;
SELECT t_claim('q16-can', 'worker-1', '{workflow}') AS next_run_task;
SELECT status, priority FROM durable.workflows WHERE workflow_id = 't16-can' ORDER BY start_time, status;

--
-- fairness: arguments checked; keys share a priority's dispatch in
-- proportion to their weights; activities inherit the workflow's key
--
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-fw0', 'q16-f', fairness_key => 'A', fairness_weight => 0)$$) AS weight_0;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-fwn', 'q16-f', fairness_key => 'A', fairness_weight => -1)$$) AS weight_negative;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-fwb', 'q16-f', fairness_key => 'A', fairness_weight => 1001)$$) AS weight_over_1000;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-fwnan', 'q16-f', fairness_key => 'A', fairness_weight => 'NaN')$$) AS weight_nan;
SELECT t_try($$SELECT durable.signal_with_start_workflow('t16-fws', 's', NULL, 'Flow', task_queue => 'q16-f', fairness_weight => 0)$$) AS sws_weight_0;
SELECT count(*) AS no_run_after_refusals FROM durable.workflows WHERE task_queue = 'q16-f';
-- A's backlog of four (passes 1, 2, 3, 4), then B's two: B alternates with
-- A.  B's weight is 0.8 (passes 1.25, 2.5) only to avoid ties, whose order
-- the design leaves open; a weight 0.0005 is valid (> 0) too
SELECT count(durable.start_workflow('Flow', NULL, 't16-fa' || i, 'q16-f', fairness_key => 'A')) AS a_started
FROM generate_series(1, 4) i;
SELECT count(durable.start_workflow('Flow', NULL, 't16-fb' || i, 'q16-f', fairness_key => 'B', fairness_weight => 0.8)) AS b_started
FROM generate_series(1, 2) i;
SELECT w.workflow_id, w.fairness_key, w.fairness_weight, t.fairness_key AS task_key
FROM durable.workflows w JOIN durable.tasks t USING (run_id) WHERE w.task_queue = 'q16-f' ORDER BY 1;
SELECT t_drain('q16-f', '{workflow}') AS served;
SELECT priority, fairness_key FROM durable.describe_workflow('t16-fb1');
-- priority still comes first: a priority-1 task of the busiest key before all
SELECT count(durable.start_workflow('Flow', NULL, 't16-fpa' || i, 'q16-fp', fairness_key => 'A')) AS a_started
FROM generate_series(1, 3) i;
SELECT durable.start_workflow('Flow', NULL, 't16-fpb', 'q16-fp', fairness_key => 'B', fairness_weight => 0.8) IS NOT NULL AS b_started;
SELECT durable.start_workflow('Flow', NULL, 't16-fpa-urgent', 'q16-fp', fairness_key => 'A', priority => 1) IS NOT NULL AS urgent;
SELECT t_drain('q16-fp', '{workflow}') AS served;
-- activities inherit the key: A's workflow schedules four, B's two (on one
-- activity queue), inheriting the weight too: they alternate (all under
-- key '' they would be FIFO)
SELECT durable.start_workflow('Flow', NULL, 't16-fia', 'q16-fi', fairness_key => 'A') IS NOT NULL AS a_started;
SELECT durable.start_workflow('Flow', NULL, 't16-fib', 'q16-fi', fairness_key => 'B', fairness_weight => 0.8) IS NOT NULL AS b_started;
SELECT t_claim('q16-fi', 'worker-1', '{workflow}') AS claimed;
SELECT token AS tok FROM t_last \gset
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "fairness_weight": 0}]')) AS cmd_weight_0;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "fairness_weight": 1000.5}]')) AS cmd_weight_over_1000;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "fairness_weight": "heavy"}]')) AS cmd_weight_string;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', :'tok',
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "fairness_key": 5}]')) AS cmd_key_number;
SELECT t_wft(t_acts(4, 'q16-fia')) AS outcome;
SELECT t_claim('q16-fi', 'worker-1', '{workflow}') AS claimed;
SELECT t_wft(t_acts(2, 'q16-fia') || '[{"type": "start_child_workflow", "workflow_id": "t16-fib-c", "workflow_type": "Child", "task_queue": "q16-fic"},
	{"type": "start_child_workflow", "workflow_id": "t16-fib-c2", "workflow_type": "Child", "task_queue": "q16-fic", "fairness_key": "B2", "fairness_weight": 3}]') AS outcome;
-- children inherit the key and weight unless they set their own
SELECT workflow_id, fairness_key, fairness_weight FROM durable.workflows WHERE workflow_id LIKE 't16-fib-c%' ORDER BY 1;
SELECT a.workflow_id, a.activity_id, a.fairness_key, a.fairness_weight FROM durable.activities a
WHERE a.task_queue = 'q16-fia' ORDER BY 1, 2;
SELECT t_drain('q16-fia', '{activity}') AS served;
-- signal-with-start takes the same arguments
SELECT durable.signal_with_start_workflow('t16-fsws', 's', NULL, 'Flow', task_queue => 'q16-fsws', fairness_key => 'S',
	fairness_weight => 2, required_capabilities => '{"zone": "z1"}') IS NOT NULL AS sws_started;
SELECT fairness_key, fairness_weight, required_capabilities FROM durable.workflows WHERE workflow_id = 't16-fsws';
SELECT t_claim('q16-fsws', 'w-z2', '{workflow}', caps => '{"zone": "z2"}') AS other_zone;
SELECT t_claim('q16-fsws', 'w-z1', '{workflow}', caps => '{"zone": "z1"}') AS its_zone;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-ftiny', 'q16-ftiny', fairness_key => 'T', fairness_weight => 0.0005)$$) AS tiny_weight;

--
-- rate limits: arguments checked; the limit paces activity dispatch
--
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-rl', 0)$$) AS zero;
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-rl', -5)$$) AS negative;
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-rl', 'NaN')$$) AS nan;
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-rl', 10, 0)$$) AS worker_zero;
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-rl', 10, 'NaN')$$) AS worker_nan;
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-rl', 10, namespace => 'nope')$$) AS unknown_namespace;
SELECT count(*) AS no_row_after_refusals FROM durable.task_queues WHERE task_queue = 'q16-rl';
-- a change takes effect at commit: a rolled-back one never
BEGIN;
SELECT durable.set_task_queue_rate_limit('q16-rl', 1);
ROLLBACK;
SELECT (durable.describe_task_queue('q16-rl')->'rate_limit') - '{current_rate,current_dispatch_rate}'::text[] AS after_rollback;
SELECT count(*) AS no_row_after_rollback FROM durable.task_queues WHERE task_queue = 'q16-rl';
SELECT durable.set_task_queue_rate_limit('q16-rl', 20);
SELECT namespace, task_queue, tasks_per_second, worker_tasks_per_second, current_build_id,
	   ramping_build_id, ramping_percentage, updated_at IS NOT NULL AS has_updated_at
FROM durable.task_queues WHERE task_queue = 'q16-rl';
SELECT (durable.describe_task_queue('q16-rl')->'rate_limit') - '{current_rate,current_dispatch_rate}'::text[] AS rate_limit,
	   jsonb_typeof(durable.describe_task_queue('q16-rl')->'rate_limit'->'current_rate') = 'number' AS current_rate_shown;
-- 120 activities on the limited queue; eager dispatch is off there
SELECT durable.start_workflow('Flow', NULL, 't16-rl', 'q16-rlw') IS NOT NULL AS started;
SELECT t_claim('q16-rlw', 'worker-1', '{workflow}') AS claimed;
SELECT token AS tok FROM t_last \gset
SELECT json_array_length(coalesce(durable.complete_workflow_task(:'tok', t_acts(120, 'q16-rl', '{"request_eager_execution": true}'),
									  return_workflow_task => true)->'tasks', '[]')) AS eager_tasks;
SELECT count(*) AS ready FROM durable.tasks WHERE task_queue = 'q16-rl' AND started_time IS NULL;
-- claim for 2 seconds, one transaction per claim: 20/s plus at most a burst
CREATE TEMP TABLE rl_claims (worker text, at timestamptz);
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
	tok text;
BEGIN
	WHILE clock_timestamp() < t0 + interval '2 seconds' LOOP
		SELECT task_token INTO tok FROM durable.poll_task('q16-rl', 'worker-rl', '{activity}', wait => '200 ms');
		IF tok IS NOT NULL THEN
			INSERT INTO rl_claims VALUES ('worker-rl', clock_timestamp());
		END IF;
		COMMIT;
	END LOOP;
END
$$;
SELECT count(*) BETWEEN 25 AND 70 AS paced_2s, count(*) < 120 AS not_all_at_once FROM rl_claims;
-- workflow tasks are not limited: with the tokens spent, one is served at once
SELECT durable.start_workflow('Flow', NULL, 't16-rl-wf', 'q16-rl') IS NOT NULL AS started;
SELECT t_claim('q16-rl', 'worker-rl', '{workflow}') AS workflow_task_unlimited;
-- the per-worker limit: 5/s for each worker, with no queue limit
SELECT durable.set_task_queue_rate_limit('q16-rl', NULL, 5);
SELECT tasks_per_second, worker_tasks_per_second FROM durable.task_queues WHERE task_queue = 'q16-rl';
TRUNCATE rl_claims;
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
	tok text;
	w text;
BEGIN
	WHILE clock_timestamp() < t0 + interval '1 second' LOOP
		FOREACH w IN ARRAY ARRAY['worker-x', 'worker-y'] LOOP
			SELECT task_token INTO tok FROM durable.poll_task('q16-rl', w, '{activity}', wait => '100 ms');
			IF tok IS NOT NULL THEN
				INSERT INTO rl_claims VALUES (w, clock_timestamp());
			END IF;
			COMMIT;
		END LOOP;
	END LOOP;
END
$$;
SELECT worker, count(*) BETWEEN 3 AND 14 AS paced_per_worker FROM rl_claims GROUP BY worker ORDER BY worker;
-- no limit: the rest at once
SELECT durable.set_task_queue_rate_limit('q16-rl', NULL);
SELECT (durable.describe_task_queue('q16-rl')->'rate_limit') - '{current_rate,current_dispatch_rate}'::text[] AS rate_limit;
SELECT count(*) AS left_before FROM durable.tasks WHERE task_queue = 'q16-rl' AND started_time IS NULL \gset
SELECT :left_before > 0 AS some_left,
	   array_length(string_to_array(t_drain('q16-rl', '{activity}'), ', '), 1) = :left_before AS drained_at_once;

--
-- affinity: required capabilities (a JSON object; a poller's capabilities
-- must contain it) and a pinned worker
--
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-cap-x', 'q16-cap', required_capabilities => '[1]')$$) AS caps_array;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't16-cap-x', 'q16-cap', required_capabilities => '"gpu"')$$) AS caps_string;
SELECT t_try($$SELECT * FROM durable.poll_task('q16-cap', 'w', capabilities => '[1]')$$) AS poller_caps_array;
SELECT durable.start_workflow('Flow', NULL, 't16-cap', 'q16-cap', required_capabilities => '{"gpu": true}') IS NOT NULL AS needs_gpu;
SELECT t_claim('q16-cap', 'plain', '{workflow}') AS no_capabilities;
SELECT t_claim('q16-cap', 'nogpu', '{workflow}', caps => '{"gpu": false, "region": "eu"}') AS gpu_false;
SELECT * FROM t_backlog('q16-cap', 'unmatched');
SELECT t_claim('q16-cap', 'gpu-eu', '{workflow}', caps => '{"gpu": true, "region": "eu"}') AS gpu_true;
-- not inherited: the activity without a requirement goes to anyone; one with
-- its own requirement only to a poller that has it; a pinned one only to its worker
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', (SELECT token FROM t_last),
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "required_capabilities": ["gpu"]}]')) AS cmd_caps_array;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', (SELECT token FROM t_last),
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "pinned_worker": 7}]')) AS cmd_pinned_number;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L)', (SELECT token FROM t_last),
	'[{"type": "schedule_activity", "activity_id": "x", "activity_type": "A", "start_to_close_timeout": "1s", "pinned_worker": "w", "required_capabilities": {"gpu": true}}]')) AS cmd_pinned_and_caps;
SELECT t_wft('[
	{"type": "schedule_activity", "activity_id": "free", "activity_type": "A", "task_queue": "q16-capa", "start_to_close_timeout": "1 hour"},
	{"type": "schedule_activity", "activity_id": "eu", "activity_type": "A", "task_queue": "q16-capa", "start_to_close_timeout": "1 hour",
	 "required_capabilities": {"region": "eu"}},
	{"type": "schedule_activity", "activity_id": "pinned", "activity_type": "A", "task_queue": "q16-capa", "start_to_close_timeout": "1 hour",
	 "pinned_worker": "worker-p"}
]') AS outcome;
SELECT * FROM t_backlog('q16-capa');
SELECT t_drain('q16-capa', '{activity}', 'plain') AS plain_gets;
SELECT t_drain('q16-capa', '{activity}', 'us', caps => '{"region": "us"}') AS us_gets;
SELECT t_drain('q16-capa', '{activity}', 'eu', caps => '{"region": "eu", "gpu": true}') AS eu_gets;
SELECT t_drain('q16-capa', '{activity}', 'worker-q') AS other_worker_gets;
SELECT t_drain('q16-capa', '{activity}', 'worker-p') AS pinned_worker_gets;

--
-- describe_task_queue: limits, versioning, pollers, backlog, unmatched
--
SELECT durable.set_task_queue_rate_limit('q16-d', 50, 10);
-- a workflow poller with a capability, seen before the tasks arrive
SELECT t_claim('q16-d', 'd-poller', '{workflow}', caps => '{"region": "eu"}') AS empty_queue;
SELECT durable.start_workflow('Flow', NULL, 't16-d1', 'q16-d', priority => 2) IS NOT NULL AS d1;
SELECT durable.start_workflow('Flow', NULL, 't16-d2', 'q16-d') IS NOT NULL AS d2;
SELECT durable.start_workflow('Flow', NULL, 't16-d3', 'q16-d') IS NOT NULL AS d3;
SELECT durable.start_workflow('Flow', NULL, 't16-d4', 'q16-d', required_capabilities => '{"tpu": 4}') IS NOT NULL AS d4;
SELECT d - '{pollers,backlog,unmatched,rate_limit}'::text[] AS head, (d->'rate_limit') - '{current_rate,current_dispatch_rate}'::text[] AS rate_limit,
	   jsonb_array_length(d->'backlog') AS backlog_groups, jsonb_array_length(d->'unmatched') AS unmatched_groups
FROM durable.describe_task_queue('q16-d') d;
SELECT p->>'worker_id' AS worker_id, p->>'build_id' AS build_id, p->'kinds' AS kinds, p->'capabilities' AS capabilities,
	   p->>'last_seen' IS NOT NULL AS has_last_seen
FROM jsonb_array_elements(durable.describe_task_queue('q16-d')->'pollers') p ORDER BY 1;
SELECT * FROM t_backlog('q16-d');
SELECT * FROM t_backlog('q16-d', 'unmatched');
SELECT kind, priority, build_id, requirement, tasks, matched, oldest_ready_time IS NOT NULL AS has_oldest
FROM durable.task_queue_backlog
WHERE namespace = 'default' AND task_queue = 'q16-d' ORDER BY kind, priority, requirement NULLS FIRST;
SELECT t_try($$SELECT durable.describe_task_queue('q16-d', 'nope')$$) AS unknown_namespace;
SELECT jsonb_array_length(d->'backlog') AS backlog_groups, d->'versioning' AS versioning, (d->'rate_limit') - '{current_rate,current_dispatch_rate}'::text[] AS rate_limit
FROM durable.describe_task_queue('q16-never-used') d;

--
-- build-id versioning: a run started on a queue with a current build is
-- pinned to it (or to the ramping build); its tasks go only to pollers of
-- that build
--
SELECT t_try($$SELECT durable.set_ramping_build('q16-v', 'v2', 101)$$) AS ramp_101;
SELECT t_try($$SELECT durable.set_ramping_build('q16-v', 'v2', -1)$$) AS ramp_negative;
SELECT t_try($$SELECT durable.set_ramping_build('q16-v', 'v2', 'NaN')$$) AS ramp_nan;
SELECT t_try($$SELECT durable.set_current_build('q16-v', 'v1', 'nope')$$) AS unknown_namespace;
-- no current build: an unversioned run, whose task any poller may take
SELECT durable.start_workflow('Flow', NULL, 't16-unv', 'q16-v') IS NOT NULL AS started;
SELECT build_id FROM durable.workflows WHERE workflow_id = 't16-unv';
SELECT t_claim('q16-v', 'w-v9', '{workflow}', build => 'v9') AS any_build_takes_it;
SELECT t_wft('[{"type": "complete_workflow"}]') AS outcome;
SELECT durable.set_current_build('q16-v', 'v1');
SELECT durable.describe_task_queue('q16-v')->'versioning' AS versioning;
SELECT durable.start_workflow('Flow', NULL, 't16-pin', 'q16-v') IS NOT NULL AS started;
SELECT build_id FROM durable.workflows WHERE workflow_id = 't16-pin';
SELECT build_id, versioning_behavior FROM durable.describe_workflow('t16-pin');
SELECT t_claim('q16-v', 'w-v2', '{workflow}', build => 'v2') AS other_build;
SELECT t_claim('q16-v', 'w-none', '{workflow}') AS unversioned_poller;
SELECT * FROM t_backlog('q16-v');
SELECT t_claim('q16-v', 'w-v1', '{workflow}', build => 'v1') AS right_build;
SELECT t_try(format('SELECT durable.complete_workflow_task(%L, %L, versioning_behavior => %L)',
	(SELECT token FROM t_last), '[]', 'sometimes')) AS bad_behavior;
-- pinned: its activity (same queue) and its child (same queue) keep v1
SELECT t_wft('[
	{"type": "schedule_activity", "activity_id": "act", "activity_type": "A", "start_to_close_timeout": "1 hour"},
	{"type": "start_child_workflow", "workflow_id": "t16-pin-child", "workflow_type": "Child"},
	{"type": "start_child_workflow", "workflow_id": "t16-pin-elsewhere", "workflow_type": "Child", "task_queue": "q16-v-other"}
]', 'pinned') AS outcome;
-- (a child on another queue takes that queue's build: none there)
SELECT workflow_id, build_id, versioning_behavior FROM durable.workflows WHERE workflow_id LIKE 't16-pin%' ORDER BY 1;
SELECT t_claim('q16-v-other', 'w-any', '{workflow}', build => 'v9') AS other_queue_child;
SELECT t_drain('q16-v', '{workflow,activity}', 'w-v2', 'v2') AS v2_gets;
SELECT t_drain('q16-v', '{activity}', 'w-v1', 'v1') AS v1_activity;
-- the child's first workflow task, then the parent's (ChildWorkflowExecutionStarted)
SELECT t_claim('q16-v', 'w-v1', '{workflow}', build => 'v1') AS v1_child;
SELECT t_claim('q16-v', 'w-v1', '{workflow}', build => 'v1') AS v1_parent;
SELECT t_wft('[]') AS outcome;
-- a new current build: new runs get it, the pinned run keeps v1
SELECT durable.set_current_build('q16-v', 'v3');
SELECT durable.start_workflow('Flow', NULL, 't16-up', 'q16-v') IS NOT NULL AS started;
SELECT durable.signal_workflow('t16-pin', 'go');
SELECT workflow_id, build_id FROM durable.workflows WHERE workflow_id IN ('t16-pin', 't16-up') ORDER BY 1;
SELECT t_claim('q16-v', 'w-v3', '{workflow}', build => 'v3') AS v3_gets;
SELECT t_wft('[]', 'auto_upgrade') AS outcome;
SELECT t_claim('q16-v', 'w-v3', '{workflow}', build => 'v3') AS v3_again;
SELECT t_claim('q16-v', 'w-v1', '{workflow}', build => 'v1') AS v1_gets;
SELECT t_wft('[]') AS outcome;
SELECT workflow_id, build_id, versioning_behavior FROM durable.workflows WHERE workflow_id IN ('t16-pin', 't16-up') ORDER BY 1;
-- auto_upgrade: the next workflow task goes to the current build, and the
-- run's build becomes it; the pinned run stays on v1
SELECT durable.set_current_build('q16-v', 'v4');
SELECT durable.signal_workflow('t16-up', 'again');
SELECT durable.signal_workflow('t16-pin', 'again');
SELECT t_claim('q16-v', 'w-v3', '{workflow}', build => 'v3') AS old_build;
SELECT t_claim('q16-v', 'w-v4', '{workflow}', build => 'v4') AS new_build;
SELECT token AS tok_up FROM t_last \gset
SELECT t_claim('q16-v', 'w-v4', '{workflow}', build => 'v4') AS pinned_not_to_v4;
SELECT t_claim('q16-v', 'w-v1', '{workflow}', build => 'v1') AS pinned_to_v1;
SELECT token AS tok_pin FROM t_last \gset
SELECT durable.complete_workflow_task(:'tok_up', '[]', versioning_behavior => 'auto_upgrade')->>'outcome' AS outcome;
SELECT workflow_id, build_id, versioning_behavior FROM durable.workflows WHERE workflow_id IN ('t16-pin', 't16-up') ORDER BY 1;
SELECT build_id, versioning_behavior FROM durable.describe_workflow('t16-up');
-- continue-as-new keeps a pinned run's build (not the queue's current one)
SELECT durable.complete_workflow_task(:'tok_pin', '[{"type": "continue_as_new", "workflow_type": "Flow"}]',
									  versioning_behavior => 'pinned')->>'outcome' AS outcome;
SELECT status, build_id, versioning_behavior FROM durable.workflows WHERE workflow_id = 't16-pin' ORDER BY start_time, status;
SELECT t_claim('q16-v', 'w-v4', '{workflow}', build => 'v4') AS not_to_current;
SELECT t_claim('q16-v', 'w-v1', '{workflow}', build => 'v1') AS continued_run;
-- an auto_upgrade run that continues as new: the new run goes to the current build
SELECT durable.set_current_build('q16-v', 'v5');
SELECT durable.signal_workflow('t16-up', 'more');
SELECT t_claim('q16-v', 'w-v4', '{workflow}', build => 'v4') AS up_old_build;
SELECT t_claim('q16-v', 'w-v5', '{workflow}', build => 'v5') AS up_new_build;
SELECT t_wft('[{"type": "continue_as_new", "workflow_type": "Flow"}]', 'auto_upgrade') AS outcome;
SELECT status, build_id, versioning_behavior FROM durable.workflows WHERE workflow_id = 't16-up' ORDER BY start_time, status;
SELECT t_claim('q16-v', 'w-v5', '{workflow}', build => 'v5') AS up_continued_run;
-- an auto_upgrade run whose upgraded task (run by v6) reports pinned: the run
-- is pinned to v6, the build that ran the task, not to the one it left
SELECT durable.start_workflow('Flow', NULL, 't16-up2', 'q16-v') IS NOT NULL AS started;
SELECT t_claim('q16-v', 'w-v5', '{workflow}', build => 'v5') AS claimed;
SELECT t_wft('[]', 'auto_upgrade') AS outcome;
SELECT durable.set_current_build('q16-v', 'v6');
SELECT durable.signal_workflow('t16-up2', 'go');
SELECT t_claim('q16-v', 'w-v6', '{workflow}', build => 'v6') AS v6_gets;
SELECT t_wft('[]', 'pinned') AS outcome;
SELECT build_id, versioning_behavior FROM durable.workflows WHERE workflow_id = 't16-up2';
SELECT durable.signal_workflow('t16-up2', 'again');
SELECT t_claim('q16-v', 'w-v5', '{workflow}', build => 'v5') AS not_to_v5;
SELECT t_claim('q16-v', 'w-v6', '{workflow}', build => 'v6') AS to_v6;
-- ramping: 0 % -> all current, 100 % -> all ramping, 50 % -> split by workflow id
SELECT durable.set_current_build('q16-r', 'r1');
SELECT durable.set_ramping_build('q16-r', 'r2', 0);
SELECT count(durable.start_workflow('Flow', NULL, 't16-r0-' || i, 'q16-r')) FROM generate_series(1, 20) i;
SELECT durable.set_ramping_build('q16-r', 'r2', 100);
SELECT count(durable.start_workflow('Flow', NULL, 't16-r100-' || i, 'q16-r')) FROM generate_series(1, 20) i;
SELECT durable.set_ramping_build('q16-r', 'r2', 50);
SELECT durable.describe_task_queue('q16-r')->'versioning' AS versioning;
SELECT count(durable.start_workflow('Flow', NULL, 't16-r50-' || i, 'q16-r')) FROM generate_series(1, 40) i;
SELECT durable.set_ramping_build('q16-r', NULL, 0);
SELECT durable.describe_task_queue('q16-r')->'versioning' AS versioning;
SELECT count(durable.start_workflow('Flow', NULL, 't16-rnone-' || i, 'q16-r')) FROM generate_series(1, 10) i;
SELECT split_part(workflow_id, '-', 2) AS batch, build_id, count(*)
FROM durable.workflows WHERE workflow_id LIKE 't16-r%-%' AND task_queue = 'q16-r' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FILTER (WHERE build_id = 'r1') BETWEEN 8 AND 32 AS r50_split_plausible
FROM durable.workflows WHERE workflow_id LIKE 't16-r50-%';
-- each build's poller drains exactly its runs
SELECT count(*) AS r1_runs FROM durable.workflows WHERE task_queue = 'q16-r' AND build_id = 'r1' \gset
SELECT count(*) AS r2_runs FROM durable.workflows WHERE task_queue = 'q16-r' AND build_id = 'r2' \gset
SELECT array_length(string_to_array(t_drain('q16-r', '{workflow}', 'w-r2', 'r2'), ', '), 1) = :r2_runs AS r2_drained_its_runs;
SELECT array_length(string_to_array(t_drain('q16-r', '{workflow}', 'w-r1', 'r1'), ', '), 1) = :r1_runs AS r1_drained_its_runs;
SELECT count(*) AS left_over FROM durable.tasks WHERE task_queue = 'q16-r' AND started_time IS NULL;

--
-- admin only: a client or worker of the namespace may not change a queue
--
CREATE ROLE regress_t16_worker;
GRANT durable_worker TO regress_t16_worker;
SET ROLE regress_t16_worker;
SELECT t_try($$SELECT durable.set_task_queue_rate_limit('q16-adm', 5)$$) AS worker_rate_limit;
SELECT t_try($$SELECT durable.set_current_build('q16-adm', 'v1')$$) AS worker_current_build;
SELECT t_try($$SELECT durable.set_ramping_build('q16-adm', 'v2', 10)$$) AS worker_ramping_build;
RESET ROLE;
DROP ROLE regress_t16_worker;
SELECT count(*) AS no_row FROM durable.task_queues WHERE task_queue = 'q16-adm';

-- clean up this file's runs
DO $$
DECLARE
	w text;
BEGIN
	FOR w IN SELECT workflow_id FROM durable.workflows WHERE workflow_id LIKE 't16-%' AND status = 'running' LOOP
		PERFORM durable.terminate_workflow(w, 'cleanup');
	END LOOP;
END
$$;
SELECT count(*) AS running_left FROM durable.workflows WHERE workflow_id LIKE 't16-%' AND status = 'running';

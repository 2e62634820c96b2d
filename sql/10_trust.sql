--
-- 10_trust: what a caller cannot do to the engine.  Durations are bounded
-- (nothing stored can make a later poll, tick or history read fail); task
-- tokens are signed (none can be built from the history or guessed);
-- completing an activity by its ids is durable_completer's right, not a
-- worker's; a query's answer takes effect only if its transaction commits;
-- close notifications name only the run; worker sessions.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- every duration is at most 100 years, wherever it comes from
--
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-a', 't10', task_timeout => '1000000 years')$$);
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-a', 't10', run_timeout => '101 years')$$);
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-a', 't10', start_delay => '200 years')$$);
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-a', 't10',
	retry_policy => '{"initial_interval": "1000000 years"}')$$);
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-a', 't10',
	retry_policy => '{"maximum_interval": "1000 years"}')$$);
SELECT t_try($$SELECT durable.workflow_result('nope', wait => '1000000 years')$$);
SELECT t_try($$SELECT * FROM durable.poll_task('t10', 'w', wait => '1000000 years')$$);
SELECT t_try($$SELECT durable.purge_closed_workflows('1000000 years')$$);
SELECT t_try($$SELECT durable.query_workflow('nope', 'q', timeout => '1000000 years')$$);
SELECT t_try($$SELECT durable.purge_closed_workflows('0', -1)$$);
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-a', 't10',
	retry_policy => '{"maximum_attempts": 1e20}')$$);
-- exactly 100 years is allowed
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 't10-ok', 't10', run_timeout => '100 years')$$);
SELECT count(*) AS refused_starts_left_nothing FROM durable.workflows WHERE workflow_id = 't10-a';

-- the same bound on commands: a refused completion changes nothing
SELECT * FROM t_poll('t10');
SELECT token AS wtok FROM t_last \gset
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "start_timer", "timer_id": "t", "duration": "1000000 years"}]')$$, :'wtok'));
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A",
	   "start_to_close_timeout": "1000000 years"}]')$$, :'wtok'));
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A",
	   "start_to_close_timeout": "1 minute",
	   "retry_policy": {"initial_interval": "1s", "backoff_coefficient": 1e300, "maximum_attempts": 3}}]')$$,
	:'wtok'));
SELECT history_length FROM durable.workflows WHERE workflow_id = 't10-ok';

-- a huge backoff coefficient reaches maximum_interval instead of an error
SELECT * FROM t_poll('t10');
SELECT token AS atok FROM t_last \gset
SELECT t_try(format($$SELECT durable.fail_activity(%L, '{"message": "boom"}')$$, :'atok'));
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 't10-ok' AND a.state = 'scheduled' AND a.attempt = 2)$$) AS retried;
SELECT * FROM t_poll('t10');
SELECT token AS atok FROM t_last \gset
SELECT t_try(format($$SELECT durable.fail_activity(%L, '{"message": "boom"}')$$, :'atok'));
SELECT a.state, a.attempt,
	   (SELECT t.fire_time - clock_timestamp() BETWEEN '90 seconds' AND '100 seconds' FROM durable.timers t
		WHERE t.run_id = a.run_id AND t.kind = 'activity_retry') AS retry_in_maximum_interval
FROM durable.activities a JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 't10-ok';
SELECT t_try($$SELECT durable.terminate_workflow('t10-ok')$$);

--
-- signed tokens
--
SELECT durable.start_workflow('T', NULL, 't10-tok', 't10tok') IS NOT NULL AS started;
SELECT * FROM t_poll('t10tok');
SELECT token AS wtok FROM t_last \gset
SELECT :'wtok' ~ '^w:[0-9a-f-]{36}:[0-9]+:[0-9]+:[0-9]+:[0-9a-f]{32}$' AS wft_token_is_signed;
-- the same token with its signature changed, or dropped (0.2's form), or
-- with another started time (the 1970 forgery)
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[]')$$,
	regexp_replace(:'wtok', '.$', CASE WHEN right(:'wtok', 1) = '0' THEN '1' ELSE '0' END)));
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[]')$$,
	regexp_replace(:'wtok', ':[0-9a-f]{32}$', '')));
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[]')$$,
	regexp_replace(:'wtok', ':[0-9]+:([0-9a-f]{32})$', ':0:\1')));
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
	   "start_to_close_timeout": "1 minute"}]')$$, :'wtok'));
SELECT event_id, event_type FROM t_hist('t10-tok');
SELECT * FROM t_poll('t10tok');
SELECT token AS atok FROM t_last \gset
-- an activity token rebuilt from get_history, as 0.2 made them
SELECT t_try(format($$SELECT durable.complete_activity('a:%s:5:1:0', '"forged"')$$,
	(SELECT run_id FROM durable.workflows WHERE workflow_id = 't10-tok')));
SELECT t_try(format($$SELECT durable.heartbeat_activity('a:%s:5:1:0')$$,
	(SELECT run_id FROM durable.workflows WHERE workflow_id = 't10-tok')));
SELECT t_try(format($$SELECT durable.complete_activity(%L, '"real"')$$, :'atok'));
SELECT event_id, event_type FROM t_hist('t10-tok') WHERE event_id >= 5;

-- the MAC is SipHash-2-4-128: the reference implementation's test vectors
-- (key 00..0f, messages 00, 00 01, ... of 0, 1, 15 and 63 bytes)
CREATE FUNCTION t_siphash(bytea, bytea) RETURNS bytea AS 'durable', '_siphash128' LANGUAGE C;
SELECT n, encode(t_siphash('\x000102030405060708090a0b0c0d0e0f',
						   coalesce((SELECT string_agg(decode(lpad(to_hex(i), 2, '0'), 'hex'), '' ORDER BY i)
									 FROM generate_series(0, n - 1) i), '')), 'hex') AS mac
FROM unnest(ARRAY[0, 1, 15, 63]) n;

--
-- _by_id completions are durable_completer's, not durable_worker's
--
SELECT has_function_privilege('durable_worker', 'durable.complete_activity_by_id(text, text, jsonb, uuid, text)', 'EXECUTE') AS worker_may,
	   has_function_privilege('durable_completer', 'durable.complete_activity_by_id(text, text, jsonb, uuid, text)', 'EXECUTE') AS completer_may,
	   has_function_privilege('durable_admin', 'durable.complete_activity_by_id(text, text, jsonb, uuid, text)', 'EXECUTE') AS admin_may;
SELECT has_table_privilege('durable_admin', 'durable.token_key', 'SELECT') AS admin_reads_key;

--
-- worker sessions
--
SELECT durable.close_worker_session() AS had_session;
SELECT durable.open_worker_session('t10-worker');
SELECT t_try($$SELECT durable.open_worker_session('t10-other')$$);
SELECT durable.close_worker_session() AS had_session;
SELECT t_try($$SELECT durable.open_worker_session(NULL)$$);

--
-- the internal helpers of 0.1/0.2's SQL refuse NULLs instead of crashing
-- (they are not in the schema any more: call the library directly)
--
CREATE FUNCTION t_ask(uuid, text, text, text, integer, OUT answer text, OUT failed boolean)
	AS 'durable', '_ask_query' LANGUAGE C;
CREATE FUNCTION t_wait_register(text, text, text[]) RETURNS void
	AS 'durable', '_wait_register' LANGUAGE C;
CREATE FUNCTION t_answer(bigint, text, boolean) RETURNS boolean
	AS 'durable', '_answer_query' LANGUAGE C;
SELECT t_try($$SELECT * FROM t_ask(gen_random_uuid(), NULL, NULL, NULL, 1)$$);
SELECT t_try($$SELECT t_wait_register(NULL, NULL, NULL)$$);
SELECT t_try($$SELECT t_answer(NULL, NULL, NULL)$$);
SELECT t_answer(424242, 'x', false) AS answered_unknown_query;

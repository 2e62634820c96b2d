--
-- 23_indexes: what a DBA queries and indexes (docs/search-attributes.md):
-- workflows.last_progress_time, the attempt log durable.activity_attempts,
-- the shipped indexes and their plans, typed registered search-attribute
-- keys (Temporal's types and their validation:
-- https://docs.temporal.io/search-attribute#supported-types and
-- temporalio/sdk-typescript packages/common/src/search-attributes.ts), and
-- site indexes that survive a restore.
--
-- helpers (t_try, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- last_progress_time: set at start, moved by every call that records
-- events, in the same write as history_length; no index has the column
-- (so the write stays a HOT update)
--
SELECT durable.start_workflow('Flow', NULL, 'w23-progress', 'q23') IS NOT NULL AS started;
SELECT last_progress_time IS NOT NULL AS set_at_start, last_progress_time >= start_time AS after_start
FROM durable.workflows WHERE workflow_id = 'w23-progress';
SELECT last_progress_time AS before_signal FROM durable.workflows WHERE workflow_id = 'w23-progress' \gset
SELECT pg_sleep(0.01);
SELECT durable.signal_workflow('w23-progress', 'poke', '{}');
SELECT last_progress_time > :'before_signal' AS moved_by_signal
FROM durable.workflows WHERE workflow_id = 'w23-progress';
SELECT count(*) AS indexes_with_last_progress_time
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = 'last_progress_time'
WHERE i.indrelid = 'durable.workflows'::regclass
  AND (a.attnum = ANY (i.indkey::int2[]) OR pg_get_indexdef(i.indexrelid) LIKE '%last_progress_time%');
SELECT durable.terminate_workflow('w23-progress');

--
-- the attempt log: one row per finished attempt, retried or final
--
SELECT t_start_with('w23-retry', 'q23', $$[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "Flaky",
	"start_to_close_timeout": "1 minute",
	"retry_policy": {"initial_interval": "10 milliseconds", "backoff_coefficient": 1, "maximum_attempts": 3}},
	{"type": "schedule_activity", "activity_id": "a2", "activity_type": "Queued", "task_queue": "q23-nobody",
	"start_to_close_timeout": "1 minute"}]$$);
SELECT activity, attempt FROM t_poll('q23', '{activity}');
SELECT durable.fail_activity(token, '{"message": "first", "type": "Transient"}') FROM t_last;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w23-retry' AND a.state = 'scheduled' AND a.attempt = 2)$$) AS retried;
SELECT activity, attempt FROM t_poll('q23', '{activity}');
SELECT durable.fail_activity(token, '{"message": "second", "type": "Transient"}') FROM t_last;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activities a JOIN durable.workflows w USING (run_id)
				WHERE w.workflow_id = 'w23-retry' AND a.state = 'scheduled' AND a.attempt = 3)$$) AS retried;
SELECT activity, attempt FROM t_poll('q23', '{activity}');
SELECT durable.complete_activity(token, '"done"') FROM t_last;
-- the workflow cancels the activity that no worker took: its attempt never started
SELECT kind FROM t_poll('q23', '{workflow}');
SELECT durable.complete_workflow_task(token, '[{"type": "request_cancel_activity", "activity_id": "a2"}]')->>'outcome'
FROM t_last;
SELECT a.attempt, a.activity_type, a.task_queue, a.outcome, a.failure->>'message' AS failure,
	   a.started_time IS NOT NULL AS started, a.closed_time >= coalesce(a.started_time, a.closed_time) AS ordered,
	   a.namespace, a.workflow_id
FROM durable.activity_attempts a JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'w23-retry' ORDER BY a.scheduled_event_id, a.attempt;
-- retries by type: the question the log answers
SELECT activity_type, count(*) AS attempts, count(*) FILTER (WHERE attempt > 1) AS retries,
	   count(*) FILTER (WHERE outcome <> 'completed') AS not_completed
FROM durable.activity_attempts WHERE workflow_id = 'w23-retry' GROUP BY activity_type ORDER BY activity_type;
-- an activity that completes at its first attempt leaves no row, unless
-- durable.log_first_attempt_success is on
SELECT t_start_with('w23-once', 'q23-t', $$[{"type": "schedule_activity", "activity_id": "o1", "activity_type": "Once",
	"start_to_close_timeout": "1 minute"}, {"type": "schedule_activity", "activity_id": "o2", "activity_type": "Once",
	"start_to_close_timeout": "1 minute"}]$$);
SELECT activity FROM t_poll('q23-t', '{activity}');
SELECT durable.complete_activity(token, '1') FROM t_last;
SET durable.log_first_attempt_success = on;
SELECT activity FROM t_poll('q23-t', '{activity}');
SELECT durable.complete_activity(token, '1') FROM t_last;
RESET durable.log_first_attempt_success;
SELECT attempt, outcome, started_time IS NOT NULL AS started FROM durable.activity_attempts WHERE workflow_id = 'w23-once';
SELECT durable.terminate_workflow('w23-once');
-- a timed-out attempt carries its timeout failure
SELECT t_start_with('w23-timeout', 'q23-t', $$[{"type": "schedule_activity", "activity_id": "t1", "activity_type": "Slow",
	"start_to_close_timeout": "50 milliseconds", "retry_policy": {"maximum_attempts": 1}}]$$);
SELECT activity, attempt FROM t_poll('q23-t', '{activity}');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.activity_attempts WHERE workflow_id = 'w23-timeout')$$) AS logged;
SELECT attempt, outcome, failure->>'timeout_type' AS timeout_type, started_time IS NOT NULL AS started
FROM durable.activity_attempts WHERE workflow_id = 'w23-timeout';
-- a purge takes the run's attempts with it
SELECT durable.terminate_workflow('w23-retry');
SELECT durable.terminate_workflow('w23-timeout');
SELECT durable.purge_closed_workflows('0 seconds') >= 2 AS purged;
SELECT count(*) AS attempts_left FROM durable.activity_attempts WHERE workflow_id IN ('w23-retry', 'w23-timeout');

--
-- shipped indexes: plans on small data (sequential scans, bitmap scans
-- and sorts off, as a large table with LIMIT would choose)
--
SELECT count(*) AS started FROM (
	SELECT durable.start_workflow(CASE WHEN i % 2 = 0 THEN 'Order' ELSE 'Refund' END, NULL,
								  'order-' || i, 'q23-idle') FROM generate_series(100, 139) i) s;
ANALYZE durable.workflows;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_sort = off;
-- type + status + time range, keyset-paginated
EXPLAIN (COSTS OFF)
SELECT run_id, start_time FROM durable.workflows
WHERE workflow_type = 'Order' AND status = 'running' AND start_time >= now() - interval '1 hour'
  AND (start_time, run_id) > ('-infinity', '00000000-0000-0000-0000-000000000000')
ORDER BY start_time, run_id LIMIT 50;
-- newest 50
EXPLAIN (COSTS OFF)
SELECT run_id FROM durable.workflows WHERE namespace = 'default' ORDER BY start_time DESC, run_id DESC LIMIT 50;
-- workflow id prefix, whatever the database's collation
EXPLAIN (COSTS OFF)
SELECT run_id FROM durable.workflows WHERE namespace = 'default' AND workflow_id LIKE 'order-12%';
SELECT workflow_id FROM durable.workflows WHERE namespace = 'default' AND workflow_id LIKE 'order-12%'
ORDER BY workflow_id;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET enable_sort;

--
-- typed search-attribute keys
--
SELECT durable.register_search_attribute('CustomerId', 'Keyword');
SELECT durable.register_search_attribute('Notes', 'text');
SELECT durable.register_search_attribute('Amount', 'Int');
SELECT durable.register_search_attribute('Score', 'Double');
SELECT durable.register_search_attribute('Vip', 'Bool');
SELECT durable.register_search_attribute('DueAt', 'Datetime');
SELECT durable.register_search_attribute('Tags', 'KeywordList');
-- again: nothing changes
SELECT durable.register_search_attribute('CustomerId', 'Keyword') IS NOT NULL AS idempotent;
-- without building: the statement to run CONCURRENTLY by hand
SELECT durable.register_search_attribute('Region', 'Keyword', build_index => false);
SELECT to_regclass('durable."workflows_sa_Region"') IS NULL AS not_built;
SELECT namespace, name, type, index_name FROM durable.search_attribute_keys ORDER BY name;
-- errors
SELECT t_try($$SELECT durable.register_search_attribute('X', 'Integer')$$) AS unknown_type;
SELECT t_try($$SELECT durable.register_search_attribute('has space', 'Keyword')$$) AS bad_name;
SELECT t_try($$SELECT durable.register_search_attribute('CustomerId', 'Int')$$) AS retyped;
SELECT durable.create_namespace('ns23');
SELECT t_try($$SELECT durable.register_search_attribute('Amount', 'Double', 'ns23')$$) AS other_type_elsewhere;
SELECT durable.register_search_attribute('Amount', 'Int', 'ns23') IS NOT NULL AS shared_index;
SELECT t_try($$SELECT durable.deregister_search_attribute('Nope')$$) AS not_registered;

-- values of the registered types are checked at start and at upsert (DU050)
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-bad-1', 'q23-idle', search_attributes => '{"Amount": "12"}')$$) AS int_as_string;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-bad-2', 'q23-idle', search_attributes => '{"Amount": 1.5}')$$) AS int_with_fraction;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-bad-3', 'q23-idle', search_attributes => '{"DueAt": "2026-12-02 10:00"}')$$) AS datetime_without_offset;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-bad-4', 'q23-idle', search_attributes => '{"Tags": ["a", 1]}')$$) AS keyword_list_of_number;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-bad-5', 'q23-idle', search_attributes => '{"Vip": "yes"}')$$) AS bool_as_string;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-bad-6', 'q23-idle', search_attributes => '{"CustomerId": 7}')$$) AS keyword_as_number;
-- a schedule's action is checked when it is created
SELECT t_try($$SELECT durable.create_schedule('s23', '{"cron": ["0 3 * * *"]}',
	'{"workflow_type": "Order", "task_queue": "q23-idle", "search_attributes": {"Amount": "x"}}')$$) AS schedule_action;
-- ... and a key is not registered with a type an existing schedule's action breaks
SELECT durable.create_schedule('s23-tier', '{"cron": ["0 3 * * *"], "start_at": "2090-01-01T00:00:00Z"}',
	'{"workflow_type": "Order", "task_queue": "q23-idle", "search_attributes": {"Tier": 5, "Zone": ["a", "b"]}}');
\set VERBOSITY default
SELECT durable.register_search_attribute('Tier', 'Keyword');
\set VERBOSITY terse
SELECT t_try($$SELECT durable.register_search_attribute('Zone', 'Keyword')$$) AS list_as_keyword;
SELECT durable.register_search_attribute('Tier', 'Int') IS NOT NULL AS int_fits,
	   durable.register_search_attribute('Zone', 'KeywordList') IS NOT NULL AS list_fits;
SELECT durable.deregister_search_attribute('Tier'), durable.deregister_search_attribute('Zone'),
	   durable.delete_schedule('s23-tier');
-- unregistered keys and other namespaces' keys are not checked
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-free', 'q23-idle', search_attributes => '{"Free": 1}')$$) AS unregistered_ok;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-ns', 'q23-idle', namespace => 'ns23', search_attributes => '{"CustomerId": 7}')$$) AS other_namespace_ok;
SELECT count(*) AS started FROM (
	SELECT durable.start_workflow('Order', NULL, 'sa-' || i, 'q23-idle', search_attributes => jsonb_build_object(
		'CustomerId', 'c-' || (i % 5), 'Notes', 'rush order number ' || i, 'Amount', i * 10,
		'Score', i / 4.0, 'Vip', i % 3 = 0, 'DueAt', '2026-12-0' || (1 + i % 9) || 'T10:00:00+01:00',
		'Tags', jsonb_build_array('t' || (i % 2), 'all')))
	FROM generate_series(1, 20) i) s;
-- upsert from a workflow task: a wrong type fails the completion
SELECT t_start_with('sa-upsert', 'q23', '[]');
SELECT durable.signal_workflow('sa-upsert', 'poke', '{}');
SELECT kind FROM t_poll('q23', '{workflow}');
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L,
	'[{"type": "upsert_search_attributes", "search_attributes": {"Amount": "many"}}]')$$, token)) AS upsert_wrong_type
FROM t_last;
SELECT durable.complete_workflow_task(token,
	'[{"type": "upsert_search_attributes", "search_attributes": {"Amount": 999, "Score": null}}]')->>'outcome'
FROM t_last;
SELECT search_attributes FROM durable.workflows WHERE workflow_id = 'sa-upsert';

-- the typed helpers: a value of another type reads as NULL, never an error;
-- Datetime depends on no setting
SELECT durable.sa_int('42'), durable.sa_int('4.2'), durable.sa_int('"42"'), durable.sa_int('9223372036854775808'),
	   durable.sa_double('2.5'), durable.sa_double('"x"'), durable.sa_bool('true'), durable.sa_bool('1');
SET TimeZone = 'America/New_York';
SELECT durable.sa_datetime('"2026-12-02T10:00:00.25+01:00"') AS new_york,
	   durable.sa_datetime('"2026-02-30T10:00:00Z"') AS no_such_day,
	   durable.sa_datetime('"2026-12-02T10:00:00"') AS no_offset;
SET TimeZone = 'UTC';
SELECT durable.sa_datetime('"2026-12-02T10:00:00.25+01:00"') AS utc;
RESET TimeZone;

-- each type's query, as written, uses its key's index (t_index_used: the
-- indexes its plan scans, whether by index or by bitmap scan)
CREATE FUNCTION t_index_used(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	l text;
	r text := '';
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		IF l ~ 'Seq Scan' THEN
			r := r || 'seq scan ';
		ELSIF l ~ 'Index (Only )?Scan using ' THEN
			r := r || substring(l FROM 'using "?([A-Za-z0-9_]+)"?') || ' ';
		ELSIF l ~ 'Bitmap Index Scan on ' THEN
			r := r || substring(l FROM 'on "?([A-Za-z0-9_]+)"?') || ' ';
		END IF;
	END LOOP;
	RETURN rtrim(r);
END
$f$;
ANALYZE durable.workflows;
SET enable_seqscan = off;
SELECT t_index_used($$SELECT workflow_id FROM durable.workflows WHERE search_attributes->>'CustomerId' = 'c-1'$$) AS keyword,
	   t_index_used($$SELECT workflow_id FROM durable.workflows WHERE durable.sa_int(search_attributes->'Amount') > 150$$) AS int,
	   t_index_used($$SELECT workflow_id FROM durable.workflows WHERE durable.sa_double(search_attributes->'Score') BETWEEN 1 AND 2$$) AS double;
SELECT t_index_used($$SELECT workflow_id FROM durable.workflows WHERE durable.sa_bool(search_attributes->'Vip')$$) AS bool,
	   t_index_used($$SELECT workflow_id FROM durable.workflows WHERE durable.sa_datetime(search_attributes->'DueAt') < '2026-12-03'$$) AS datetime;
SELECT t_index_used($$SELECT workflow_id FROM durable.workflows
	WHERE to_tsvector('simple', search_attributes->>'Notes') @@ to_tsquery('simple', 'rush & 17')$$) AS text,
	   t_index_used($$SELECT workflow_id FROM durable.workflows WHERE search_attributes->'Tags' @> '["t1"]'$$) AS keyword_list;
-- an unregistered key: @> uses the GIN index, ->> cannot use any
SELECT t_index_used($$SELECT workflow_id FROM durable.workflows WHERE search_attributes @> '{"Free": 1}'$$) AS unregistered_containment;
RESET enable_seqscan;
SELECT t_index_used($$SELECT workflow_id FROM durable.workflows WHERE search_attributes->>'Free' = '1'$$) AS unregistered_arrow;
SELECT count(*) FILTER (WHERE search_attributes->>'CustomerId' = 'c-1') AS customer,
	   count(*) FILTER (WHERE durable.sa_int(search_attributes->'Amount') > 150) AS amount,
	   count(*) FILTER (WHERE durable.sa_double(search_attributes->'Score') BETWEEN 1 AND 2) AS score,
	   count(*) FILTER (WHERE durable.sa_bool(search_attributes->'Vip')) AS vip,
	   count(*) FILTER (WHERE durable.sa_datetime(search_attributes->'DueAt') < '2026-12-03') AS due,
	   count(*) FILTER (WHERE to_tsvector('simple', search_attributes->>'Notes') @@ to_tsquery('simple', 'rush & 17')) AS notes,
	   count(*) FILTER (WHERE search_attributes->'Tags' @> '["t1"]') AS tags
FROM durable.workflows WHERE namespace = 'default';

-- deregistering: the index stays while another namespace has the key
SELECT durable.deregister_search_attribute('Amount');
SELECT to_regclass('durable."workflows_sa_Amount"') IS NOT NULL AS still_indexed;
SELECT durable.deregister_search_attribute('Amount', 'ns23');
SELECT to_regclass('durable."workflows_sa_Amount"') IS NULL AS dropped;
SELECT t_try($$SELECT durable.start_workflow('Order', NULL, 'sa-free-2', 'q23-idle', search_attributes => '{"Amount": "any"}')$$) AS unchecked_again;

--
-- site indexes: recorded, so that a restore can make them again
--
SELECT durable.create_site_index('workflows_by_memo_order',
	$$CREATE INDEX workflows_by_memo_order ON durable.workflows ((memo->>'order')) WHERE memo IS NOT NULL$$);
CREATE INDEX timers_by_kind ON durable.timers (kind, fire_time);
SELECT durable.create_site_index('timers_by_kind');
SELECT name, definition FROM durable.site_indexes ORDER BY name;
SELECT t_try($$SELECT durable.create_site_index('x1', 'CREATE INDEX x1 ON durable.workflows (memo); DROP TABLE durable.workflows')$$) AS two_statements;
SELECT t_try($$SELECT durable.create_site_index('x2', 'CREATE INDEX x3 ON durable.workflows (memo)')$$) AS other_name;
SELECT t_try($$SELECT durable.create_site_index('x4', 'CREATE INDEX x4 ON pg_class (relname)')$$) AS not_durable;
SELECT t_try($$SELECT durable.create_site_index('x5', 'CREATE INDEX CONCURRENTLY x5 ON durable.workflows (memo)')$$) AS concurrently;
SELECT t_try($$SELECT durable.create_site_index('x6', 'DROP TABLE durable.workflows')$$) AS not_an_index;
SELECT t_try($$SELECT durable.create_site_index('x7')$$) AS missing;
SELECT t_try($$SELECT durable.drop_site_index('x8')$$) AS not_recorded;
-- a restore loses the indexes of the extension's tables (pg_dump leaves
-- them out); the records come back with the data
DROP INDEX durable.workflows_by_memo_order, durable.timers_by_kind, durable."workflows_sa_CustomerId",
	durable."workflows_sa_Tags";
SELECT * FROM durable.restore_site_indexes() ORDER BY 1;
SELECT * FROM durable.restore_site_indexes();
SELECT to_regclass('durable.workflows_by_memo_order') IS NOT NULL AS back,
	   pg_get_indexdef('durable."workflows_sa_CustomerId"'::regclass) AS sa_index;
SELECT durable.drop_site_index('timers_by_kind');
SELECT to_regclass('durable.timers_by_kind') IS NULL AS dropped, count(*) AS recorded FROM durable.site_indexes;

-- only the tables' owner makes indexes; anyone reads the attempt log of
-- their namespaces, and can call the helpers
SET client_min_messages = warning;
DROP ROLE IF EXISTS r23;
RESET client_min_messages;
CREATE ROLE r23;
GRANT durable_client TO r23;
SET ROLE r23;
SELECT t_try($$SELECT durable.register_search_attribute('Other', 'Keyword')$$) AS register;
SELECT t_try($$SELECT durable.restore_site_indexes()$$) AS restore;
SELECT t_try($$SELECT count(*) FROM durable.activity_attempts$$) AS read_attempts;
SELECT durable.sa_int('1') AS helper;
RESET ROLE;
DROP ROLE r23;

-- clean up
SELECT durable.drop_site_index('workflows_by_memo_order');
SELECT durable.deregister_search_attribute(name, namespace) FROM durable.search_attribute_keys ORDER BY name;
SELECT count(*) FROM (SELECT durable.terminate_workflow(workflow_id, namespace => namespace)
					  FROM durable.workflows WHERE status = 'running' AND task_queue IN ('q23', 'q23-t', 'q23-idle')) s;
SELECT durable.purge_closed_workflows('0 seconds') >= 0 AS purged;
SELECT durable.purge_closed_workflows('0 seconds', namespace => 'ns23') >= 0 AS purged;
SELECT durable.drop_namespace('ns23');
DROP FUNCTION t_index_used(text);

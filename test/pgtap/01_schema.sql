-- Schema, documentation comments and privileges of the durable extension.
-- Run by test/run-all with pg_prove on a cluster that preloads durable and pg_cron.
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS durable;
BEGIN;
SELECT plan(90);

SELECT has_schema('durable');
SELECT tables_are('durable', ARRAY['workflows', 'history_batches', 'buffered_events', 'activities', 'timers',
								   'signal_requests', 'tasks', 'engine_state', 'token_key', 'namespaces',
								   'namespace_grants', 'children', 'updates', 'task_queues', 'schedules',
								   'activity_attempts', 'search_attribute_keys', 'site_indexes']);
SELECT views_are('durable', ARRAY['engine_workers', 'history', 'task_queue_backlog', 'metrics', 'metric_histograms',
								  'recent_failures', 'stuck_workflows', 'table_sizes']);

-- the tables a DBA reads; the history, stored by batch, reads event by event
SELECT columns_are('durable', 'history', ARRAY['run_id', 'event_id', 'event_type', 'event_time', 'attributes',
												'namespace']);
SELECT col_is_pk('durable', 'history_batches', ARRAY['run_id', 'last_event_id']::name[],
				 'history batches are keyed by (run_id, last_event_id)');
SELECT col_type_is('durable', 'history', 'attributes', 'jsonb', 'history.attributes is jsonb');
SELECT col_is_pk('durable', 'workflows', 'run_id'::name, 'workflows key is run_id');
SELECT has_column('durable', 'workflows', col::name, 'workflows.' || col)
FROM unnest(ARRAY['workflow_id', 'workflow_type', 'task_queue', 'status', 'input', 'result', 'failure',
				  'start_time', 'close_time', 'parent_workflow_id', 'search_attributes', 'memo',
				  'history_length']) AS col;
SELECT index_is_unique('durable', 'workflows', 'workflows_one_running');
SELECT has_index('durable', 'workflows', 'workflows_by_workflow_id', ARRAY['namespace', 'workflow_id', 'start_time']);
SELECT has_index('durable', 'workflows', 'workflows_by_search_attributes', 'search attributes are indexed');
SELECT has_index('durable', 'workflows', 'workflows_by_start_time', ARRAY['namespace', 'start_time', 'run_id'], 'newest-first listing is indexed');
SELECT has_index('durable', 'workflows', 'workflows_by_type_status_time', ARRAY['workflow_type', 'status', 'start_time', 'run_id'], 'type + status + time range is indexed');
SELECT col_is_pk('durable', 'activity_attempts', ARRAY['run_id', 'scheduled_event_id', 'attempt']::name[],
				 'the attempt log is keyed by (run_id, scheduled_event_id, attempt)');
SELECT has_column('durable', 'workflows', 'last_progress_time', 'workflows.last_progress_time');
SELECT has_index('durable', 'timers', 'timers_by_fire_time', ARRAY['fire_time']);
-- the cookbook's (docs/dba.md): failed runs by close time, attempts by close time
SELECT has_index('durable', 'workflows', 'workflows_failed_by_close_time', ARRAY['namespace', 'close_time'],
				 'failed runs are indexed by close time');
SELECT has_index('durable', 'activity_attempts', 'activity_attempts_by_closed_time', ARRAY['closed_time'],
				 'activity attempts are indexed by close time');
SELECT has_index('durable', 'activity_attempts', 'activity_attempts_failed_by_closed_time', ARRAY['closed_time'],
				 'failed activity attempts are indexed by close time');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'durable.tasks'::regclass), 'u'::"char",
		  'the task queue is unlogged');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'durable.history_batches'::regclass), 'p'::"char",
		  'history is logged');

-- every table and column has a comment
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		   WHERE n.nspname = 'durable' AND c.relkind IN ('r', 'v', 'u') AND obj_description(c.oid, 'pg_class') IS NULL),
		  0::bigint, 'every table and view has a comment');
SELECT is((SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		   JOIN pg_namespace n ON n.oid = c.relnamespace
		   WHERE n.nspname = 'durable' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
			 AND col_description(c.oid, a.attnum) IS NULL),
		  0::bigint, 'every table column has a comment');

-- the API
SELECT has_function('durable'::name, f::name) FROM unnest(ARRAY['start_workflow', 'signal_workflow',
	'signal_with_start_workflow', 'cancel_workflow', 'terminate_workflow', 'describe_workflow', 'get_history',
	'workflow_result', 'query_workflow', 'poll_task', 'complete_workflow_task', 'fail_workflow_task',
	'complete_activity', 'fail_activity', 'heartbeat_activity', 'report_activity_canceled',
	'complete_activity_by_id', 'fail_activity_by_id', 'heartbeat_activity_by_id', 'answer_query',
	'purge_closed_workflows', 'open_worker_session', 'close_worker_session', 'set_task_queue_rate_limit',
	'set_current_build', 'set_ramping_build', 'describe_task_queue', 'setup_retention', 'drop_retention',
	'run_retention']) AS f;
SELECT function_returns('durable', 'start_workflow',
	ARRAY['text', 'jsonb', 'text', 'text', 'interval', 'interval', 'interval', 'text', 'text', 'jsonb',
		  'interval', 'text', 'jsonb', 'jsonb', 'integer', 'text', 'text', 'real', 'jsonb'], 'uuid');
SELECT function_returns('durable', 'heartbeat_activity', ARRAY['text', 'jsonb'], 'boolean');
-- 0.2: completions return the tasks they hand out (eager dispatch)
SELECT function_returns('durable', 'complete_workflow_task', ARRAY['text', 'jsonb', 'boolean', 'boolean', 'text'], 'json');
SELECT function_returns('durable', 'complete_activity', ARRAY['text', 'jsonb', 'boolean'], 'json');
SELECT function_returns('durable', 'fail_activity', ARRAY['text', 'jsonb', 'boolean'], 'json');

-- privileges
SELECT has_role(r::name) FROM unnest(ARRAY['durable_client', 'durable_worker', 'durable_admin', 'durable_completer']) AS r;
-- 0.3: access is a capability in a namespace (docs/namespaces.md): PUBLIC
-- reads the tables through row-level security and calls the API, which
-- checks the namespace; it writes nothing
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		   WHERE n.nspname = 'durable' AND c.relkind IN ('r', 'v', 'u')
			 AND has_table_privilege('public', c.oid, 'INSERT,UPDATE,DELETE')),
		  0::bigint, 'PUBLIC writes no table');
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		   WHERE n.nspname = 'durable' AND c.relkind = 'r' AND has_table_privilege('public', c.oid, 'SELECT')
			 AND NOT c.relrowsecurity),
		  0::bigint, 'every table PUBLIC reads has row-level security');
SELECT ok(NOT has_table_privilege('public', 'durable.token_key', 'SELECT') AND
		  NOT has_table_privilege('public', 'durable.engine_workers', 'SELECT'),
		  'PUBLIC reads neither the token key nor the engine workers');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		   WHERE n.nspname = 'durable' AND p.proacl IS NULL),
		  0::bigint, 'no function keeps the default EXECUTE for PUBLIC');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		   WHERE n.nspname = 'durable' AND p.prosecdef
			 AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']),
		  0::bigint, 'every SECURITY DEFINER function pins search_path');
SELECT ok(has_function_privilege('public', 'durable.start_workflow(text,jsonb,text,text,interval,interval,interval,text,text,jsonb,interval,text,jsonb,jsonb,integer,text,text,real,jsonb)', 'EXECUTE'),
		  'anyone may call start_workflow (the engine checks the namespace)');
SELECT ok(NOT has_function_privilege('public', 'durable.create_namespace(text,jsonb)', 'EXECUTE') AND
		  has_function_privilege('durable_admin', 'durable.create_namespace(text,jsonb)', 'EXECUTE'),
		  'only durable_admin makes namespaces');
SELECT ok(has_table_privilege('durable_admin', 'durable.history', 'SELECT'), 'durable_admin reads history');
SELECT is((SELECT relrowsecurity FROM pg_class WHERE oid = 'durable.history_batches'::regclass), true,
		  'the history is read through row-level security');
SELECT ok(pg_has_role('durable_admin', 'durable_client', 'MEMBER') AND pg_has_role('durable_admin', 'durable_worker', 'MEMBER'),
		  'durable_admin is a client and a worker');
-- 0.3: completing an activity by its ids needs no token: durable_completer's, not a worker's
SELECT ok(NOT has_function_privilege('durable_worker', 'durable.complete_activity_by_id(text,text,jsonb,uuid,text)', 'EXECUTE'),
		  'durable_worker may not complete activities by id');
SELECT ok(has_function_privilege('durable_completer', 'durable.complete_activity_by_id(text,text,jsonb,uuid,text)', 'EXECUTE'),
		  'durable_completer may complete activities by id');
SELECT ok(NOT has_table_privilege('durable_admin', 'durable.token_key', 'SELECT'),
		  'no API role reads the token key');

-- retention with pg_cron
SELECT lives_ok($$CREATE EXTENSION IF NOT EXISTS pg_cron$$, 'pg_cron is available');
-- 0.3: one call schedules durable.run_retention (docs/retention.md)
SELECT isnt(durable.setup_retention('30 days', schedule => '17 3 * * *'), NULL::bigint,
			'setup_retention schedules retention with pg_cron');
SELECT is(durable.drop_retention(), true, 'drop_retention removes the job');

SELECT * FROM finish();
ROLLBACK;

--
-- 12_namespaces: every run belongs to a namespace.  Workflow ids, task
-- queues and queries are per namespace; settings (retention, payload
-- limit) are per namespace; a name, a setting or a grant that is not
-- well-formed is refused with its SQLSTATE and changes nothing.  The
-- permission matrix (role x function and table x own or other namespace)
-- is test/pgtap/02_namespaces.sql.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- namespaces: made, listed, refused when malformed or taken
--
SELECT durable.create_namespace('t12-a', '{"description": "tenant a", "retention": "3 days"}');
SELECT durable.create_namespace('t12-b', '{"max_payload_size": 200}');
SELECT name, description, retention, max_payload_size FROM durable.namespaces ORDER BY name;
SELECT t_try($$SELECT durable.create_namespace('t12-a')$$) AS taken;
SELECT t_try($$SELECT durable.create_namespace('default')$$) AS default_exists;
SELECT t_try($$SELECT durable.create_namespace('has space')$$) AS malformed;
SELECT t_try($$SELECT durable.create_namespace('x:y')$$) AS colon;
SELECT t_try($$SELECT durable.create_namespace(repeat('n', 64))$$) AS too_long;
SELECT t_try($$SELECT durable.create_namespace(NULL)$$) AS null_name;
SELECT t_try($$SELECT durable.create_namespace('t12-c', '{"retention": "-1 day"}')$$) AS negative_retention;
SELECT t_try($$SELECT durable.create_namespace('t12-c', '{"retention": "1000 years"}')$$) AS huge_retention;
SELECT t_try($$SELECT durable.create_namespace('t12-c', '{"max_payload_size": 0}')$$) AS zero_limit;
SELECT t_try($$SELECT durable.create_namespace('t12-c', '{"max_payload_size": "big"}')$$) AS text_limit;
SELECT t_try($$SELECT durable.create_namespace('t12-c', '{"colour": "red"}')$$) AS unknown_setting;
SELECT t_try($$SELECT durable.create_namespace('t12-c', '[1]')$$) AS not_object;
SELECT count(*) AS namespaces_after_refusals FROM durable.namespaces;
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 'x', 'q', namespace => 'nope')$$) AS unknown_namespace;
SELECT t_try($$SELECT durable.start_workflow('T', NULL, 'x', 'q', namespace => NULL)$$) AS null_namespace;

--
-- one workflow id runs in two namespaces at once; queues of the same name
-- are separate
--
SELECT durable.start_workflow('Flow', '"a"', 't12-w', 't12-q', namespace => 't12-a') IS NOT NULL AS started_a;
SELECT durable.start_workflow('Flow', '"b"', 't12-w', 't12-q', namespace => 't12-b') IS NOT NULL AS started_b;
SELECT durable.start_workflow('Flow', '"d"', 't12-w', 't12-q') IS NOT NULL AS started_default;
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 't12-w', 't12-q', namespace => 't12-a')$$) AS again_in_a;
SELECT namespace, workflow_id, status, input FROM durable.workflows WHERE workflow_id = 't12-w' ORDER BY namespace;
SELECT namespace, kind, task_queue FROM durable.tasks WHERE workflow_id = 't12-w' ORDER BY namespace;
SELECT workflow_id, input FROM durable.poll_task('t12-q', 'w-b', '{workflow}', namespace => 't12-b') \gset b_
SELECT task_token AS tok_a, input AS a_input FROM durable.poll_task('t12-q', 'w-a', '{workflow}', namespace => 't12-a') \gset
SELECT :'b_input' AS b_got, :'a_input' AS a_got;
SELECT count(*) AS nothing_left_in_b FROM durable.poll_task('t12-q', 'w-b', namespace => 't12-b');
-- a token of namespace a completes in namespace a, whoever's call it is in
SELECT durable.complete_workflow_task(:'tok_a', '[{"type": "complete_workflow", "result": "done a"}]')->>'outcome' AS outcome;
SELECT durable.workflow_result('t12-w', namespace => 't12-a') AS result_a;
SELECT t_try($$SELECT durable.workflow_result('t12-w', namespace => 't12-b')$$) AS b_still_running;
SELECT status FROM durable.describe_workflow('t12-w');
-- a run id names a run of its namespace only
SELECT run_id AS run_a FROM durable.workflows WHERE workflow_id = 't12-w' AND namespace = 't12-a' \gset
SELECT t_try(format($$SELECT durable.describe_workflow('t12-w', %L, namespace => 't12-b')$$, :'run_a')) AS other_namespace_run;
SELECT t_try(format($$SELECT durable.describe_workflow('t12-w', %L)$$, :'run_a')) AS default_namespace_run;
SELECT namespace, count(*) AS events FROM durable.history WHERE run_id = :'run_a' GROUP BY 1;

--
-- payload limits are per namespace
--
SELECT t_try($$SELECT durable.signal_workflow('t12-w', 's', to_jsonb(repeat('x', 300)), namespace => 't12-b')$$) AS over_b_limit;
SELECT durable.signal_workflow('t12-w', 's', to_jsonb(repeat('x', 300))) AS within_default_limit;
SELECT durable.alter_namespace('t12-b', '{"max_payload_size": null}');
SELECT durable.signal_workflow('t12-w', 's', to_jsonb(repeat('x', 300)), namespace => 't12-b') AS limit_cleared;

--
-- retention: purge without older_than keeps to the namespace's
--
UPDATE durable.workflows SET close_time = now() - interval '4 days' WHERE run_id = :'run_a';
SELECT durable.purge_closed_workflows(namespace => 't12-b') AS purged_b_keeps_forever;
SELECT durable.purge_closed_workflows(namespace => 't12-a') AS purged_a_by_retention;
SELECT count(*) AS runs_left_in_a FROM durable.workflows WHERE namespace = 't12-a';

--
-- settings of namespace default; drop
--
SELECT durable.alter_namespace('default', '{"description": "the default"}');
SELECT name, description FROM durable.namespaces WHERE name = 'default';
SELECT t_try($$SELECT durable.drop_namespace('default')$$) AS drop_default;
SELECT t_try($$SELECT durable.drop_namespace('t12-b')$$) AS drop_with_runs;
SELECT t_try($$SELECT durable.alter_namespace('t12-zz', '{}')$$) AS alter_unknown;
SELECT durable.drop_namespace('t12-a');
SELECT name FROM durable.namespaces ORDER BY name;
SELECT t_try($$SELECT * FROM durable.poll_task('t12-q', 'w', namespace => 't12-a')$$) AS poll_dropped;

--
-- grants: checked values
--
SELECT t_try($$SELECT durable.grant_namespace('t12-b', 'no_such_role', 'client')$$) AS unknown_role;
SELECT t_try($$SELECT durable.grant_namespace('t12-b', 'durable_client', 'owner')$$) AS unknown_capability;
SELECT t_try($$SELECT durable.grant_namespace('t12-b', NULL, 'client')$$) AS null_role;
SELECT t_try($$SELECT durable.revoke_namespace('default', 'durable_client')$$) AS built_in;
SELECT durable.grant_namespace('t12-b', 'durable_client', 'client');
SELECT durable.grant_namespace('t12-b', 'durable_client', 'client');
SELECT namespace, role, capability FROM durable.namespace_grants WHERE namespace = 't12-b';
SELECT durable.revoke_namespace('t12-b', 'durable_client');
SELECT count(*) AS grants_left FROM durable.namespace_grants WHERE namespace = 't12-b';
SELECT durable.terminate_workflow('t12-w', 'cleanup', namespace => 't12-b');
SELECT durable.terminate_workflow('t12-w', 'cleanup');

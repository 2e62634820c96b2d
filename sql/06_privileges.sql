--
-- 06_privileges: the roles durable creates and what each may do.
--
-- helpers: t_try runs a statement and reports "ok" or "SQLSTATE: message"
-- with uuids masked; t_hist prints a run's history with uuids masked and
-- the session user's identity shown as <user>
CREATE OR REPLACE FUNCTION public.t_scrub(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(v, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
$$;
CREATE OR REPLACE FUNCTION public.t_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || public.t_scrub(SQLERRM);
END
$$;
CREATE OR REPLACE FUNCTION public.t_hist(wid text, rid uuid DEFAULT NULL)
RETURNS TABLE (event_id bigint, event_type text, attributes text) LANGUAGE sql AS $$
	SELECT h.event_id, h.event_type,
		   public.t_scrub(CASE WHEN h.attributes->>'identity' = session_user
							   THEN h.attributes || '{"identity": "<user>"}'
							   ELSE h.attributes END::text)
	FROM durable.get_history(wid, rid) h ORDER BY h.event_id
$$;
-- t_poll claims a task like a worker and prints it without clock values;
-- its token is kept in t_last for \gset
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.t_last;
RESET client_min_messages;
CREATE TABLE public.t_last (token text);
CREATE OR REPLACE FUNCTION public.t_poll(q text, kinds text[] DEFAULT '{workflow,activity}', worker text DEFAULT 'worker-1')
RETURNS TABLE (kind text, workflow_id text, activity text, attempt integer, input jsonb, events text)
LANGUAGE plpgsql AS $$
DECLARE
	r durable.task;
BEGIN
	DELETE FROM public.t_last;
	SELECT * INTO r FROM durable.poll_task(q, worker, kinds);
	IF r.task_token IS NULL THEN
		RETURN;
	END IF;
	INSERT INTO public.t_last VALUES (r.task_token);
	kind := r.kind;
	workflow_id := r.workflow_id;
	activity := r.activity_id || ' ' || r.activity_type;
	attempt := r.attempt;
	input := r.input;
	SELECT string_agg((e->>'event_id') || ' ' || (e->>'event_type'), ', ' ORDER BY (e->>'event_id')::int)
	INTO events FROM jsonb_array_elements(r.history) e;
	RETURN NEXT;
END
$$;

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'durable\_%' ORDER BY rolname;
-- durable_admin is a member of the other two
SELECT r.rolname AS role, m.rolname AS member
FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
WHERE m.rolname LIKE 'durable\_%' ORDER BY 1, 2;

-- since namespaces (0.3), access is a capability in a namespace, checked by
-- the engine and by row-level security: PUBLIC may call the API and read
-- the tables, and sees and does only what its namespaces' grants allow.
-- The engine's internals, its key and the engine workers stay closed.
SELECT c.relname, c.relacl::text ~ '(^|[{,])=' AS public_has_privileges, c.relrowsecurity AS row_security
FROM pg_class c WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind IN ('r', 'v')
ORDER BY c.relname;
SELECT p.proname AS closed_to_public
FROM pg_proc p
WHERE p.pronamespace = 'durable'::regnamespace
  AND NOT (p.proacl IS NULL OR p.proacl::text ~ '(^|[{,])=[a-zA-Z]*X')
ORDER BY 1;

-- every SECURITY DEFINER function pins search_path
SELECT p.oid::regprocedure AS secdef_without_search_path
FROM pg_proc p
WHERE p.pronamespace = 'durable'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%');
SELECT DISTINCT c AS pinned_search_path
FROM pg_proc p, unnest(p.proconfig) c
WHERE p.pronamespace = 'durable'::regnamespace AND p.prosecdef AND c LIKE 'search\_path=%';
-- since 0.3 there are none: the engine's C functions read and write the
-- tables directly, so EXECUTE is the only privilege a role needs
SELECT count(*) AS security_definer_functions
FROM pg_proc p WHERE p.pronamespace = 'durable'::regnamespace AND p.prosecdef;
-- which closed functions and tables each role may use beyond PUBLIC
SELECT r.rolname, string_agg(p.proname, ', ' ORDER BY p.proname) AS functions
FROM pg_roles r CROSS JOIN pg_proc p
WHERE r.rolname IN ('durable_client', 'durable_worker', 'durable_admin', 'durable_completer')
  AND p.pronamespace = 'durable'::regnamespace AND p.proname !~ '^_'
  AND NOT (p.proacl IS NULL OR p.proacl::text ~ '(^|[{,])=[a-zA-Z]*X')
  AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
GROUP BY r.rolname ORDER BY r.rolname;
SELECT r.rolname, string_agg(c.relname, ', ' ORDER BY c.relname) AS readable
FROM pg_roles r CROSS JOIN pg_class c
WHERE r.rolname IN ('durable_client', 'durable_worker', 'durable_admin', 'durable_completer')
  AND c.relnamespace = 'durable'::regnamespace AND c.relkind IN ('r', 'v')
  AND NOT c.relacl::text ~ '(^|[{,])=[a-zA-Z]*r'
  AND has_table_privilege(r.oid, c.oid, 'SELECT')
GROUP BY r.rolname ORDER BY r.rolname;

-- login roles for the test
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_durable_client;
DROP ROLE IF EXISTS regress_durable_worker;
DROP ROLE IF EXISTS regress_durable_nobody;
RESET client_min_messages;
CREATE ROLE regress_durable_client LOGIN IN ROLE durable_client;
CREATE ROLE regress_durable_worker LOGIN IN ROLE durable_worker;
CREATE ROLE regress_durable_nobody LOGIN;
GRANT EXECUTE ON FUNCTION public.t_try(text), public.t_scrub(text) TO PUBLIC;

--
-- a client can start, signal, describe, read results and read the rows of
-- namespace default; not poll
--
SET ROLE regress_durable_client;
SELECT durable.start_workflow('Flow', '{"who": "client"}', 'w6-priv', 'w6-priv') IS NOT NULL AS started;
SELECT durable.signal_workflow('w6-priv', 'hello', '1');
SELECT workflow_id, status, history_length FROM durable.describe_workflow('w6-priv');
SELECT event_id, event_type FROM durable.get_history('w6-priv') ORDER BY event_id;
SELECT t_try($$SELECT durable.workflow_result('w6-priv')$$) AS result;
SELECT t_try($$SELECT * FROM durable.poll_task('w6-priv', 'sneaky')$$) AS poll;
SELECT t_try($$SELECT durable.complete_activity('a:00000000-0000-0000-0000-000000000000:5:1:0')$$) AS complete_activity;
SELECT count(*) AS history_rows_seen FROM durable.history WHERE run_id IN (SELECT run_id FROM durable.workflows WHERE workflow_id = 'w6-priv');
SELECT workflow_id, namespace FROM durable.workflows WHERE workflow_id = 'w6-priv';
SELECT t_try($$UPDATE durable.workflows SET status = 'completed'$$) AS write_workflows;
SELECT t_try($$SELECT * FROM durable.engine_workers$$) AS engine_workers;
SELECT t_try($$SELECT durable.purge_closed_workflows('1 day')$$) AS purge;
SELECT t_try($$SELECT durable._engine_tick(1)$$) AS internal_function;
RESET ROLE;

--
-- a worker can poll and complete, not start workflows
--
SET ROLE regress_durable_worker;
SELECT kind, workflow_id, jsonb_array_length(history) AS events, task_token AS tok
FROM durable.poll_task('w6-priv', 'worker-6') \gset
SELECT :'kind' AS kind, :'workflow_id' AS workflow_id, :events AS events;
SELECT count(*) AS claimed_again FROM durable.poll_task('w6-priv', 'worker-6');
SELECT t_try($$SELECT durable.start_workflow('Flow', NULL, 'w6-worker', 'w6-priv')$$) AS start;
SELECT t_try($$SELECT durable.signal_workflow('w6-priv', 'x')$$) AS signal;
SELECT count(*) > 0 AS reads_history FROM durable.history;
SELECT workflow_id, status FROM durable.describe_workflow('w6-priv');
RESET ROLE;
-- the worker's poll above claimed the task; complete it as the worker
SET ROLE regress_durable_worker;
SELECT durable.complete_workflow_task(:'tok', '[{"type": "complete_workflow", "result": "privileged"}]');
RESET ROLE;
SET ROLE regress_durable_client;
SELECT durable.workflow_result('w6-priv');
RESET ROLE;

--
-- a role with no durable role and no namespace grant can do nothing and
-- sees no row
--
SET ROLE regress_durable_nobody;
SELECT t_try($$SELECT durable.start_workflow('Flow')$$) AS start;
SELECT t_try($$SELECT durable.describe_workflow('w6-priv')$$) AS describe;
SELECT t_try($$SELECT * FROM durable.poll_task('w6-priv', 'x')$$) AS poll;
SELECT (SELECT count(*) FROM durable.tasks) AS tasks_seen, (SELECT count(*) FROM durable.workflows) AS workflows_seen,
	   (SELECT count(*) FROM durable.history) AS events_seen;
SELECT t_try($$SELECT * FROM durable.engine_workers$$) AS engine_workers;
SELECT t_try($$SELECT * FROM durable.token_key$$) AS token_key;
RESET ROLE;

-- an admin reads everything
CREATE ROLE regress_durable_admin LOGIN IN ROLE durable_admin;
SET ROLE regress_durable_admin;
SELECT count(*) > 0 AS reads_history FROM durable.history h JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'w6-priv';
SELECT count(*) >= 1 AS reads_engine_workers FROM durable.engine_workers WHERE datname = current_database();
SELECT durable.purge_closed_workflows('1 day') AS purged;
RESET ROLE;

DROP ROLE regress_durable_client;
DROP ROLE regress_durable_worker;
DROP ROLE regress_durable_nobody;
DROP ROLE regress_durable_admin;

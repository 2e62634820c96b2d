-- Namespaces (issue 10, point 4): the permission matrix.  Every role x every
-- API function and table x its own or another namespace, one TAP line each.
-- The contract: docs/namespaces.md.  Temporal's model it follows: a namespace
-- is the unit of isolation; workflow ids are unique and task queues exist per
-- namespace (https://docs.temporal.io/namespaces).
-- Run by test/run-all with pg_prove on a cluster that preloads durable and pg_cron.
--
-- Everything runs in one transaction that is rolled back at the end, so the
-- engine's background worker never sees the rows this file writes.  Each
-- matrix cell runs its call as the role in a subtransaction that is always
-- rolled back (pg_temp.outcome), so cells do not depend on one another and a
-- successful call (a terminate, a purge) leaves the seeded state intact.
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS durable;
BEGIN;
SET LOCAL client_min_messages = warning;

-- ------------------------------------------------------------------ helpers

-- The SQLSTATE a statement ends with, run as role `who`, its effects always
-- undone; '00000' when it succeeds.
CREATE FUNCTION pg_temp.outcome(who name, q text, OUT code text, OUT msg text) LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE format('SET LOCAL ROLE %I', who);
		EXECUTE q;
		RAISE SQLSTATE 'TAP00';
	EXCEPTION WHEN OTHERS THEN
		code := SQLSTATE;
		msg := SQLERRM;
	END;
	IF code = 'TAP00' THEN
		code := '00000';
		msg := 'success';
	END IF;
END
$$;

-- One matrix cell: ok when the statement ends with SQLSTATE `want`; the
-- statement, role and actual error are printed when it does not.  A cell
-- with a `todo_why` is a known engine deviation (pgTAP TODO).
CREATE FUNCTION pg_temp.cell(who name, q text, want text, descr text, todo_why text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	o record;
BEGIN
	o := pg_temp.outcome(who, q);
	IF todo_why IS NOT NULL THEN
		PERFORM todo(todo_why, 1);
	END IF;
	IF o.code = want THEN
		RETURN ok(true, descr);
	END IF;
	RETURN ok(false, descr) || E'\n'
		|| diag(format(E'    as %s: %s\n   got %s: %s\n  want %s', who, q, o.code, o.msg, want));
END
$$;

-- Run a statement as role `who` and keep its effects; its first column as
-- text, or 'ERROR <sqlstate>: <message>'.
CREATE FUNCTION pg_temp.run_as(who name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	BEGIN
		EXECUTE format('SET LOCAL ROLE %I', who);
		EXECUTE q INTO r;
		RESET ROLE;
	EXCEPTION WHEN OTHERS THEN
		r := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
	END;
	RETURN r;
END
$$;

-- The state of one namespace's rows, to show that refused calls change
-- nothing.
CREATE FUNCTION pg_temp.fingerprint(ns text) RETURNS text LANGUAGE sql AS $$
	SELECT md5(concat_ws('|',
		(SELECT string_agg(w::text, ',' ORDER BY w.run_id) FROM durable.workflows w WHERE w.namespace = ns),
		(SELECT string_agg(h::text, ',' ORDER BY h.run_id, h.event_id) FROM durable.history h WHERE h.namespace = ns),
		(SELECT string_agg(a::text, ',' ORDER BY a.run_id, a.scheduled_event_id) FROM durable.activities a WHERE a.namespace = ns),
		(SELECT string_agg(t::text, ',' ORDER BY t.run_id, t.scheduled_event_id) FROM durable.tasks t WHERE t.namespace = ns),
		(SELECT string_agg(t::text, ',' ORDER BY t.run_id, t.kind, t.timer_id) FROM durable.timers t WHERE t.namespace = ns),
		(SELECT string_agg(b::text, ',' ORDER BY b.run_id, b.seq) FROM durable.buffered_events b WHERE b.namespace = ns),
		(SELECT string_agg(s::text, ',' ORDER BY s.run_id, s.request_id) FROM durable.signal_requests s WHERE s.namespace = ns),
		(SELECT string_agg(n::text, ',') FROM durable.namespaces n WHERE n.name = ns),
		(SELECT string_agg(g::text, ',' ORDER BY g.role::text, g.capability) FROM durable.namespace_grants g
		 WHERE g.namespace = ns)))
$$;

-- -------------------------------------------------------------------- roles

CREATE ROLE a_client;
CREATE ROLE a_worker;
CREATE ROLE a_admin;
CREATE ROLE a_completer IN ROLE durable_completer;
CREATE ROLE b_client;
CREATE ROLE b_worker;
CREATE ROLE b_admin;
CREATE ROLE stranger;
-- 0.2 users: members of the built-in roles, which 'default' grants
CREATE ROLE d_client IN ROLE durable_client;
CREATE ROLE d_worker IN ROLE durable_worker;
CREATE ROLE d_admin IN ROLE durable_admin;
-- capabilities inherited through membership
CREATE ROLE a_team;
CREATE ROLE a_member IN ROLE a_team;

DO $$
BEGIN
	PERFORM durable.create_namespace('ns_a', '{"description": "tenant A"}');
	PERFORM durable.create_namespace('ns_b', '{"description": "tenant B"}');
	PERFORM durable.grant_namespace('ns_a', 'a_client', 'client');
	PERFORM durable.grant_namespace('ns_a', 'a_worker', 'worker');
	PERFORM durable.grant_namespace('ns_a', 'a_admin', 'admin');
	PERFORM durable.grant_namespace('ns_a', 'a_completer', 'worker');
	PERFORM durable.grant_namespace('ns_b', 'b_client', 'client');
	PERFORM durable.grant_namespace('ns_b', 'b_worker', 'worker');
	PERFORM durable.grant_namespace('ns_b', 'b_admin', 'admin');
END
$$;

-- --------------------------------------------------------------------- seed
-- In each namespace (as superuser): workflow 'same' (the same id everywhere)
-- with a run timeout (a timer), an activity act1 started by a worker and asked
-- to cancel, an outstanding workflow task and a signal buffered meanwhile
-- (with a request id); 'done', completed; 'lonely-<ns>', only there; and in
-- ns_a and default only, 'fresh' ready on queue 'shared'.
CREATE TEMP TABLE seed (ns text PRIMARY KEY, same_run uuid, done_run uuid, fresh_run uuid,
						wft_token text, act_token text);
DO $$
DECLARE
	ns text;
	tok text;
	s seed;
BEGIN
	FOREACH ns IN ARRAY ARRAY['default', 'ns_a', 'ns_b'] LOOP
		s.ns := ns;
		s.same_run := durable.start_workflow('Flow', '{"n": 1}', 'same', 'q', run_timeout => '1 hour', namespace => ns);
		SELECT task_token INTO STRICT tok FROM durable.poll_task('q', 'seeder', '{workflow}', namespace => ns);
		PERFORM durable.complete_workflow_task(tok, $c$[{"type": "schedule_activity", "activity_id": "act1",
			"activity_type": "Work", "task_queue": "q", "start_to_close_timeout": "1 hour"}]$c$);
		SELECT task_token INTO STRICT s.act_token FROM durable.poll_task('q', 'seeder', '{activity}', namespace => ns);
		PERFORM durable.signal_workflow('same', 'wake', namespace => ns);
		SELECT task_token INTO STRICT tok FROM durable.poll_task('q', 'seeder', '{workflow}', namespace => ns);
		PERFORM durable.complete_workflow_task(tok, '[{"type": "request_cancel_activity", "activity_id": "act1"}]');
		PERFORM durable.signal_workflow('same', 'wake', namespace => ns);
		SELECT task_token INTO STRICT s.wft_token FROM durable.poll_task('q', 'seeder', '{workflow}', namespace => ns);
		PERFORM durable.signal_workflow('same', 'late', '2', request_id => 'req-1', namespace => ns);

		s.done_run := durable.start_workflow('Flow', NULL, 'done', 'qd', namespace => ns);
		SELECT task_token INTO STRICT tok FROM durable.poll_task('qd', 'seeder', '{workflow}', namespace => ns);
		PERFORM durable.complete_workflow_task(tok, '[{"type": "complete_workflow", "result": "fine"}]');

		PERFORM durable.start_workflow('Flow', NULL, 'lonely-' || ns, 'ql', namespace => ns);
		IF ns <> 'ns_b' THEN
			s.fresh_run := durable.start_workflow('Flow', NULL, 'fresh', 'shared', namespace => ns);
		END IF;
		INSERT INTO seed SELECT s.*;
	END LOOP;
END
$$;

-- --------------------------------------------------------------- the matrix
-- who: the roles, the namespace each is at home in and the one it is not,
-- and its capabilities at home.  The stranger has none anywhere; the
-- superuser has all everywhere.
CREATE TEMP TABLE who (ord int, role name, home text, away text, caps text[], completer boolean, dba boolean);
INSERT INTO who VALUES
	(1, 'a_client', 'ns_a', 'ns_b', '{client}', false, false),
	(2, 'a_worker', 'ns_a', 'ns_b', '{worker}', false, false),
	(3, 'a_admin', 'ns_a', 'ns_b', '{client,worker,admin}', false, false),
	(4, 'a_completer', 'ns_a', 'ns_b', '{worker}', true, false),
	(5, 'stranger', 'ns_a', 'ns_b', '{}', false, false),
	(6, 'd_client', 'default', 'ns_a', '{client}', false, false),
	(7, 'd_worker', 'default', 'ns_a', '{worker}', false, false),
	(8, 'd_admin', 'default', 'ns_a', '{client,worker,admin}', true, true),
	(9, current_user, 'ns_a', 'ns_b', '{client,worker,admin}', true, true);

-- fn: each public function, the capabilities of which any one allows it
-- (need), the role EXECUTE is granted to when not PUBLIC (exec), what it
-- ends with when allowed (ok), and the call: %1$L is the namespace, %2$L
-- and %3$L the namespace's workflow-task and activity tokens.  Token
-- functions take no namespace: the token's run's namespace is the one.
CREATE TEMP TABLE fn (ord int, name text, need text[], exec text, ok text, call text);
INSERT INTO fn VALUES
	(1, 'start_workflow', '{client}', NULL, '00000',
		$$SELECT durable.start_workflow('Flow', NULL, 'new-wf', 'q', namespace => %1$L)$$),
	(2, 'signal_workflow', '{client}', NULL, '00000',
		$$SELECT durable.signal_workflow('same', 'poke', '1', namespace => %1$L)$$),
	(3, 'signal_with_start_workflow', '{client}', NULL, '00000',
		$$SELECT durable.signal_with_start_workflow('same', 'poke', '1', 'Flow', namespace => %1$L)$$),
	(4, 'cancel_workflow', '{client}', NULL, '00000',
		$$SELECT durable.cancel_workflow('same', 'tap', namespace => %1$L)$$),
	(5, 'terminate_workflow', '{client}', NULL, '00000',
		$$SELECT durable.terminate_workflow('same', 'tap', namespace => %1$L)$$),
	(6, 'describe_workflow', '{client,worker}', NULL, '00000',
		$$SELECT durable.describe_workflow('same', namespace => %1$L)$$),
	(7, 'get_history', '{client,worker}', NULL, '00000',
		$$SELECT count(*) FROM durable.get_history('same', namespace => %1$L)$$),
	(8, 'workflow_result', '{client}', NULL, '00000',
		$$SELECT durable.workflow_result('done', namespace => %1$L)$$),
	-- no worker answers: the query times out (DU021) once it is allowed
	(9, 'query_workflow', '{client}', NULL, 'DU021',
		$$SELECT durable.query_workflow('same', 'state', timeout => '10 milliseconds', namespace => %1$L)$$),
	(10, 'poll_task', '{worker}', NULL, '00000',
		$$SELECT count(*) FROM durable.poll_task('q', 'tap-worker', namespace => %1$L)$$),
	(11, 'workflow_task_history', '{worker}', NULL, '00000',
		$$SELECT durable.workflow_task_history(%2$L)$$),
	(12, 'complete_workflow_task', '{worker}', NULL, '00000',
		$$SELECT durable.complete_workflow_task(%2$L, '[]')$$),
	(13, 'fail_workflow_task', '{worker}', NULL, '00000',
		$$SELECT durable.fail_workflow_task(%2$L, '{"message": "tap"}')$$),
	(14, 'complete_activity', '{worker}', NULL, '00000',
		$$SELECT durable.complete_activity(%3$L, '"done"')$$),
	(15, 'fail_activity', '{worker}', NULL, '00000',
		$$SELECT durable.fail_activity(%3$L, '{"message": "tap"}')$$),
	(16, 'heartbeat_activity', '{worker}', NULL, '00000',
		$$SELECT durable.heartbeat_activity(%3$L, '1')$$),
	(17, 'report_activity_canceled', '{worker}', NULL, '00000',
		$$SELECT durable.report_activity_canceled(%3$L)$$),
	(18, 'complete_activity_by_id', '{worker}', 'durable_completer', '00000',
		$$SELECT durable.complete_activity_by_id('same', 'act1', '"done"', namespace => %1$L)$$),
	(19, 'fail_activity_by_id', '{worker}', 'durable_completer', '00000',
		$$SELECT durable.fail_activity_by_id('same', 'act1', '{"message": "tap"}', namespace => %1$L)$$),
	(20, 'heartbeat_activity_by_id', '{worker}', 'durable_completer', '00000',
		$$SELECT durable.heartbeat_activity_by_id('same', 'act1', '1', namespace => %1$L)$$),
	(21, 'report_activity_canceled_by_id', '{worker}', 'durable_completer', '00000',
		$$SELECT durable.report_activity_canceled_by_id('same', 'act1', namespace => %1$L)$$),
	(22, 'purge_closed_workflows', '{admin}', NULL, '00000',
		$$SELECT durable.purge_closed_workflows('1 day', namespace => %1$L)$$),
	(23, 'alter_namespace', '{admin}', NULL, '00000',
		$$SELECT durable.alter_namespace(%1$L, '{"description": "changed", "retention": "72h"}')$$),
	(24, 'grant_namespace', '{admin}', NULL, '00000',
		$$SELECT durable.grant_namespace(%1$L, 'stranger', 'client')$$),
	(25, 'revoke_namespace', '{admin}', NULL, '00000',
		$$SELECT durable.revoke_namespace(%1$L, 'stranger')$$),
	-- every namespace here has runs: an allowed drop is refused for that (2BP01)
	(26, 'drop_namespace', '{admin}', 'durable_admin', '2BP01',
		$$SELECT durable.drop_namespace(%1$L)$$),
	-- run_retention's batch (issue 15); the procedure itself commits, so it
	-- cannot run in this file's transaction: sql/22_retention.sql
	(27, '_purge_batch', '{admin}', NULL, '00000',
		$$SELECT durable._purge_batch(%1$L, now() - interval '1 day', 10)$$);

-- The same functions addressing a run of the other namespace by its run id,
-- or a workflow id that exists only there, through the caller's own
-- namespace: not found (DU001), as if it did not exist; %4$L is the run id
-- of 'same' in the other namespace, %5$L the other namespace.
CREATE TEMP TABLE fn_foreign (ord int, name text, need text[], exec text, call text);
INSERT INTO fn_foreign VALUES
	(1, 'signal_workflow(run id)', '{client}', NULL,
		$$SELECT durable.signal_workflow('same', 'poke', '1', %4$L, namespace => %1$L)$$),
	(2, 'cancel_workflow(run id)', '{client}', NULL,
		$$SELECT durable.cancel_workflow('same', 'tap', %4$L, namespace => %1$L)$$),
	(3, 'terminate_workflow(run id)', '{client}', NULL,
		$$SELECT durable.terminate_workflow('same', 'tap', %4$L, namespace => %1$L)$$),
	(4, 'describe_workflow(run id)', '{client,worker}', NULL,
		$$SELECT durable.describe_workflow('same', %4$L, namespace => %1$L)$$),
	(5, 'get_history(run id)', '{client,worker}', NULL,
		$$SELECT count(*) FROM durable.get_history('same', %4$L, namespace => %1$L)$$),
	(6, 'workflow_result(run id)', '{client}', NULL,
		$$SELECT durable.workflow_result('same', %4$L, namespace => %1$L)$$),
	(7, 'query_workflow(run id)', '{client}', NULL,
		$$SELECT durable.query_workflow('same', 'state', NULL, '10 milliseconds', %4$L, namespace => %1$L)$$),
	(8, 'complete_activity_by_id(run id)', '{worker}', 'durable_completer',
		$$SELECT durable.complete_activity_by_id('same', 'act1', '"done"', %4$L, namespace => %1$L)$$),
	(9, 'describe_workflow(workflow id of the other namespace)', '{client,worker}', NULL,
		$$SELECT durable.describe_workflow('lonely-' || %5$L, namespace => %1$L)$$),
	(10, 'signal_workflow(workflow id of the other namespace)', '{client}', NULL,
		 $$SELECT durable.signal_workflow('lonely-' || %5$L, 'poke', namespace => %1$L)$$);

-- The tables a DBA reads, and the column naming each row's namespace.
CREATE TEMP TABLE tbl (ord int, name text, nscol text);
INSERT INTO tbl VALUES (1, 'workflows', 'namespace'), (2, 'history', 'namespace'),
	(3, 'history_batches', 'namespace'), (4, 'buffered_events', 'namespace'), (5, 'activities', 'namespace'),
	(6, 'timers', 'namespace'), (7, 'tasks', 'namespace'), (8, 'signal_requests', 'namespace'),
	(9, 'namespaces', 'name'), (10, 'namespace_grants', 'namespace');

-- The cells, in order: (who, statement, expected SQLSTATE, description).
CREATE TEMP TABLE cells (ord bigserial, who name, q text, want text, descr text, todo text);

-- each role x each function x its own and the other namespace
INSERT INTO cells (who, q, want, descr)
SELECT w.role, format(f.call, n.ns, s.wft_token, s.act_token), x.want,
	   format('%s: %s %s %s -> %s', w.role, f.name,
			  CASE WHEN f.call LIKE '%\%1$L%' THEN 'in' ELSE 'with a token of' END, n.ns, x.want)
FROM who w CROSS JOIN fn f
	 CROSS JOIN LATERAL (VALUES (1, w.home), (2, w.away)) AS n(o, ns)
	 JOIN seed s ON s.ns = n.ns
	 CROSS JOIN LATERAL (SELECT CASE WHEN f.exec = 'durable_completer' AND NOT w.completer THEN '42501'
									  WHEN f.exec = 'durable_admin' AND NOT w.dba THEN '42501'
									  WHEN w.role = current_user OR (n.ns = w.home AND w.caps && f.need) THEN f.ok
									  ELSE '42501' END AS want) x
ORDER BY w.ord, f.ord, n.o;

-- each role x a run or workflow id of the other namespace through its own
INSERT INTO cells (who, q, want, descr)
SELECT w.role, format(f.call, w.home, NULL, NULL, o.same_run, w.away), x.want,
	   format('%s: %s of %s through %s -> %s', w.role, f.name, w.away, w.home, x.want)
FROM who w CROSS JOIN fn_foreign f JOIN seed o ON o.ns = w.away
	 CROSS JOIN LATERAL (SELECT CASE WHEN f.exec = 'durable_completer' AND NOT w.completer THEN '42501'
									  WHEN w.role = current_user OR w.caps && f.need THEN 'DU001'
									  ELSE '42501' END AS want) x
ORDER BY w.ord, f.ord;

-- each role x a namespace that does not exist: no existence oracle, except
-- for the superuser, who may see every namespace
INSERT INTO cells (who, q, want, descr)
SELECT w.role, format(c.call, 'ns_nope'), x.want, format('%s: %s in an unknown namespace -> %s', w.role, c.name, x.want)
FROM who w CROSS JOIN (VALUES (1, 'start_workflow', $$SELECT durable.start_workflow('Flow', namespace => %L)$$),
							  (2, 'poll_task', $$SELECT count(*) FROM durable.poll_task('q', 'w', namespace => %L)$$),
							  (3, 'alter_namespace', $$SELECT durable.alter_namespace(%L, '{}')$$)) AS c(o, name, call)
	 CROSS JOIN LATERAL (SELECT CASE WHEN w.role = current_user THEN 'DU009' ELSE '42501' END AS want) x
ORDER BY w.ord, c.o;

-- each role x create_namespace (EXECUTE: durable_admin only; the creator
-- becomes its admin, so may drop it)
INSERT INTO cells (who, q, want, descr)
SELECT w.role, $$SELECT durable.create_namespace('ns_new'), durable.drop_namespace('ns_new')$$,
	   CASE WHEN w.dba THEN '00000' ELSE '42501' END,
	   format('%s: create_namespace and drop it -> %s', w.role, CASE WHEN w.dba THEN '00000' ELSE '42501' END)
FROM who w ORDER BY w.ord;

-- each role x each table: DML is the owner's only
INSERT INTO cells (who, q, want, descr)
SELECT w.role, format('DELETE FROM durable.%I', t.name), '42501',
	   format('%s: DELETE FROM durable.%s -> 42501', w.role, t.name)
FROM who w CROSS JOIN tbl t WHERE w.role <> current_user ORDER BY w.ord, t.ord;
INSERT INTO cells (who, q, want, descr)
SELECT w.role, $$INSERT INTO durable.namespace_grants VALUES ('ns_b', 'stranger', 'admin')$$, '42501',
	   format('%s: INSERT INTO durable.namespace_grants -> 42501', w.role)
FROM who w WHERE w.role <> current_user ORDER BY w.ord;
INSERT INTO cells (who, q, want, descr)
SELECT w.role, $$UPDATE durable.workflows SET namespace = 'ns_a'$$, '42501',
	   format('%s: UPDATE durable.workflows SET namespace -> 42501', w.role)
FROM who w WHERE w.role <> current_user ORDER BY w.ord;

-- each role x the engine's own tables: engine_workers is durable_admin's,
-- token_key and engine_state nobody's
INSERT INTO cells (who, q, want, descr)
SELECT w.role, format('SELECT count(*) FROM durable.%I', t.name), x.want,
	   format('%s: SELECT FROM durable.%s -> %s', w.role, t.name, x.want)
FROM who w CROSS JOIN (VALUES (1, 'engine_workers'), (2, 'token_key'), (3, 'engine_state')) AS t(o, name)
	 CROSS JOIN LATERAL (SELECT CASE WHEN t.name = 'engine_workers' AND w.dba THEN '00000' ELSE '42501' END AS want) x
WHERE w.role <> current_user ORDER BY w.ord, t.o;

-- each role x each table: it sees the rows of the namespaces it holds a
-- capability in, all of them, and no other (counts by namespace); the
-- grants: those of namespaces it administers and those naming it
CREATE TEMP TABLE visible (ord int, role name, ns text[]);
INSERT INTO visible VALUES (1, 'a_client', '{ns_a}'), (2, 'a_worker', '{ns_a}'), (3, 'a_admin', '{ns_a}'),
	(4, 'a_completer', '{ns_a}'), (5, 'b_client', '{ns_b}'), (6, 'b_worker', '{ns_b}'), (7, 'b_admin', '{ns_b}'),
	(8, 'stranger', '{}'), (9, 'd_client', '{default}'), (10, 'd_worker', '{default}'), (11, 'd_admin', '{default}'),
	(12, current_user, '{default,ns_a,ns_b}');
CREATE FUNCTION pg_temp.counts(t text, nscol text, ns text[], grants_of name DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
BEGIN
	EXECUTE format('SELECT coalesce(jsonb_object_agg(ns, n), ''{}'') FROM (SELECT %I AS ns, count(*) AS n FROM durable.%I x '
				   'WHERE %I = ANY ($1) %s GROUP BY 1) c', nscol, t, nscol,
				   CASE WHEN grants_of IS NOT NULL THEN 'OR pg_has_role($2, x.role, ''MEMBER'')' END)
		INTO r USING ns, grants_of;
	RETURN r;
END
$$;

-- Namespace default is never dropped, runs or not: 22023 (checked before
-- the namespace's runs are looked at).
UPDATE cells SET want = '22023'
WHERE q = 'SELECT durable.drop_namespace(''default'')' AND want = '2BP01';

-- --------------------------------------------------------------------- plan

SELECT plan((SELECT count(*)::int FROM cells) + (SELECT count(*)::int FROM visible) * (SELECT count(*)::int FROM tbl)
			+ 41);

-- the seed is there: each table has rows in both tenants' namespaces
SELECT is((SELECT count(*) FROM tbl t WHERE (pg_temp.counts(t.name, t.nscol, '{ns_a}') ? 'ns_a')
											AND (pg_temp.counts(t.name, t.nscol, '{ns_b}') ? 'ns_b')),
		  (SELECT count(*) FROM tbl), 'every table has rows in ns_a and in ns_b');
SELECT is((SELECT count(*) FROM durable.workflows WHERE workflow_id = 'same' AND status = 'running'), 3::bigint,
		  'the same workflow id runs in default, ns_a and ns_b at once');

CREATE TEMP TABLE fp_before AS SELECT ns, pg_temp.fingerprint(ns) AS fp FROM seed;

SELECT pg_temp.cell(who, q, want, descr, todo) FROM cells ORDER BY ord;

-- refused calls (and allowed ones, rolled back) lose nothing
SELECT is(pg_temp.fingerprint(b.ns), b.fp, format('%s: rows unchanged after the matrix', b.ns))
FROM fp_before b ORDER BY b.ns;

-- what each role sees of each table
SELECT is(pg_temp.run_as(v.role, format(
			  'SELECT coalesce(jsonb_object_agg(ns, n), ''{}'')::text FROM (SELECT %I AS ns, count(*) AS n FROM durable.%I GROUP BY 1) c',
			  t.nscol, t.name))::jsonb,
		  CASE WHEN t.name = 'namespace_grants' AND v.role <> current_user
			   -- rows of namespaces it administers, and rows naming it
			   THEN pg_temp.counts(t.name, t.nscol, CASE WHEN v.role IN ('a_admin', 'b_admin', 'd_admin') THEN v.ns ELSE '{}' END, v.role)
			   ELSE pg_temp.counts(t.name, t.nscol, v.ns) END,
		  format('%s: durable.%s shows %s', v.role, t.name,
				 CASE WHEN v.ns = '{}' THEN 'no rows' ELSE 'the rows of ' || array_to_string(v.ns, ', ') || ' only' END))
FROM visible v CROSS JOIN tbl t ORDER BY v.ord, t.ord;

-- the grants an admin sees, and a client
SELECT is(pg_temp.run_as('a_admin', $$SELECT string_agg(role::text || ':' || capability, ',' ORDER BY role::text, capability)
									 FROM durable.namespace_grants$$),
		  'a_admin:admin,a_client:client,a_completer:worker,a_worker:worker', 'a_admin sees every grant of ns_a');
SELECT is(pg_temp.run_as('a_client', $$SELECT string_agg(namespace || ':' || role::text || ':' || capability, ',')
									  FROM durable.namespace_grants$$),
		  'ns_a:a_client:client', 'a_client sees only its own grant');

-- ------------------------------------------------- one workflow id, two tenants

SELECT ok(pg_temp.run_as('a_client', $$SELECT durable.start_workflow('Flow', NULL, 'twin', 'tq', namespace => 'ns_a')$$)
		  !~ '^ERROR', 'a_client starts twin in ns_a');
SELECT ok(pg_temp.run_as('b_client', $$SELECT durable.start_workflow('Flow', NULL, 'twin', 'tq', namespace => 'ns_b')$$)
		  !~ '^ERROR', 'b_client starts twin in ns_b while it runs in ns_a');
SELECT is(pg_temp.run_as('a_client', $$SELECT durable.start_workflow('Flow', NULL, 'twin', 'tq', namespace => 'ns_a')$$)
		  ~ '^ERROR DU002', true, 'a second twin in ns_a is refused (DU002): one running run per id per namespace');
SELECT is((SELECT string_agg(namespace, ',' ORDER BY namespace) FROM durable.workflows
		   WHERE workflow_id = 'twin' AND status = 'running'), 'ns_a,ns_b', 'twin runs once in each namespace');
SELECT is(pg_temp.run_as('b_client', $$SELECT (durable.describe_workflow('twin', namespace => 'ns_b')).run_id$$)::uuid,
		  (SELECT run_id FROM durable.workflows WHERE workflow_id = 'twin' AND namespace = 'ns_b'),
		  'b_client describes its own twin');
SELECT is(pg_temp.run_as('a_client', $$SELECT 'done' FROM durable.terminate_workflow('twin', 'tap', namespace => 'ns_a')$$),
		  'done', 'a_client terminates twin in ns_a');
SELECT is((SELECT status FROM durable.workflows WHERE workflow_id = 'twin' AND namespace = 'ns_b'), 'running',
		  'twin in ns_b still runs');

-- ------------------------------------------------- task queues per namespace
-- 'fresh' waits on queue 'shared' in ns_a and in default; none in ns_b

SELECT is(pg_temp.run_as('b_worker', $$SELECT count(*) FROM durable.poll_task('shared', 'bw', namespace => 'ns_b')$$),
		  '0', 'b_worker polls shared in ns_b: nothing (ns_a''s task is not its)');
SELECT is((SELECT count(*) FROM durable.poll_task('shared', 'su', namespace => 'ns_b')), 0::bigint,
		  'the superuser polls shared in ns_b: nothing');
SELECT is(pg_temp.run_as('a_worker', $$SELECT run_id FROM durable.poll_task('shared', 'aw', namespace => 'ns_a')$$)::uuid,
		  (SELECT fresh_run FROM seed WHERE ns = 'ns_a'), 'a_worker polls shared in ns_a: ns_a''s fresh');
SELECT is(pg_temp.run_as('d_worker', $$SELECT run_id FROM durable.poll_task('shared', 'dw')$$)::uuid,
		  (SELECT fresh_run FROM seed WHERE ns = 'default'), 'd_worker polls shared (default namespace): default''s fresh');
SELECT is((SELECT count(*) FROM durable.tasks WHERE task_queue = 'shared' AND started_time IS NULL), 0::bigint,
		  'both fresh tasks were claimed, each by its own namespace''s worker');

-- ------------------------------------------------------ 0.2 users: 'default'

CREATE TEMP TABLE legacy AS
	SELECT pg_temp.run_as('d_client', $$SELECT durable.start_workflow('Flow', NULL, 'legacy', 'lq')$$) AS r;
SELECT is((SELECT coalesce(w.namespace, l.r) FROM legacy l LEFT JOIN durable.workflows w ON w.run_id::text = l.r),
		  'default', 'd_client (durable_client) starts a workflow without naming a namespace: default');
SELECT is(pg_temp.run_as('d_worker', $$SELECT workflow_id FROM durable.poll_task('lq', 'dw')$$), 'legacy',
		  'd_worker (durable_worker) polls it without naming a namespace');
SELECT is(pg_temp.run_as('d_client', $$SELECT (durable.describe_workflow('legacy')).status$$), 'running',
		  'd_client describes it without naming a namespace');

-- ------------------------------------------------- grants: membership, revoke

SELECT lives_ok($$SELECT durable.grant_namespace('ns_a', 'a_team', 'client')$$, 'grant client in ns_a to a_team');
SELECT is(pg_temp.run_as('a_member', $$SELECT (durable.describe_workflow('same', namespace => 'ns_a')).workflow_id$$),
		  'same', 'a_member (member of a_team) inherits client in ns_a');
SELECT ok(pg_temp.run_as('a_member', $$SELECT durable.describe_workflow('same', namespace => 'ns_b')$$) ~ '^ERROR 42501',
		  'a_member has nothing in ns_b');
SELECT is(pg_temp.run_as('a_admin', $$SELECT 'done' FROM durable.revoke_namespace('ns_a', 'a_client')$$), 'done',
		  'a_admin revokes a_client''s capabilities in ns_a');
SELECT ok(pg_temp.run_as('a_client', $$SELECT durable.describe_workflow('same', namespace => 'ns_a')$$) ~ '^ERROR 42501',
		  'a_client no longer describes in ns_a');
SELECT is(pg_temp.run_as('a_client', $$SELECT count(*) FROM durable.workflows$$), '0',
		  'a_client no longer sees ns_a''s rows');

-- ---------------------------------------------------- create, alter, validate

SELECT is(pg_temp.run_as('d_admin', $$SELECT 'done' FROM durable.create_namespace('ns_c', '{"retention": "30 days"}')$$), 'done',
		  'd_admin (durable_admin) creates ns_c');
SELECT is((SELECT array_agg(capability) FROM durable.namespace_grants WHERE namespace = 'ns_c' AND role = 'd_admin'::regrole),
		  '{admin}', 'its creator is admin of ns_c');
SELECT is((SELECT retention FROM durable.namespaces WHERE name = 'ns_c'), '30 days'::interval, 'ns_c keeps 30 days');
SELECT is(pg_temp.run_as('d_admin', $$SELECT 'done' FROM durable.alter_namespace('ns_c', '{"retention": null, "description": "C"}')$$),
		  'done', 'd_admin alters ns_c');
SELECT is((SELECT row(retention, description)::text FROM durable.namespaces WHERE name = 'ns_c'), '(,C)',
		  'JSON null clears the retention');
SELECT throws_ok($$SELECT durable.create_namespace('ns_a')$$, '42710', NULL, 'create_namespace of an existing name -> 42710');
SELECT throws_ok(format('SELECT durable.create_namespace(%L)', n), '22023', NULL,
				 format('create_namespace(%s) -> 22023', d))
FROM (VALUES ('', 'empty name'), ('bad name', 'a space'), ('ns/a', 'a slash'), (repeat('x', 64), '64 bytes')) AS v(n, d);
SELECT lives_ok($$SELECT durable.create_namespace(repeat('x', 63))$$, 'create_namespace of 63 bytes of [A-Za-z0-9._-]');
SELECT throws_ok($$SELECT durable.grant_namespace('ns_a', 'stranger', 'owner')$$, '22023', NULL,
				 'grant_namespace of an unknown capability -> 22023');
SELECT throws_ok($$SELECT durable.drop_namespace('default')$$, '22023', NULL, 'default cannot be dropped -> 22023');

SELECT * FROM finish();
ROLLBACK;

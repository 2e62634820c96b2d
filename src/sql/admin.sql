/*
 * admin.sql
 *	  Administration: retention and namespaces.  Declarations only: the
 *	  functions are C (src/admin.c, src/namespaces.c).
 */

CREATE OR REPLACE FUNCTION durable.purge_closed_workflows(
	older_than interval DEFAULT NULL,
	batch_size integer DEFAULT 10000,
	namespace text DEFAULT 'default') RETURNS bigint
	AS 'MODULE_PATHNAME', 'purge_closed_workflows' LANGUAGE C;
COMMENT ON FUNCTION durable.purge_closed_workflows IS 'Delete runs of a namespace closed longer ago than older_than (by default the namespace''s retention), with their history.';

CREATE OR REPLACE FUNCTION durable.create_namespace(
	name text,
	settings jsonb DEFAULT '{}') RETURNS void
	AS 'MODULE_PATHNAME', 'create_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.create_namespace IS 'Create a namespace; settings: description, retention, max_payload_size. A creator who is not a superuser becomes its admin.';

CREATE OR REPLACE FUNCTION durable.alter_namespace(
	name text,
	settings jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'alter_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.alter_namespace IS 'Change a namespace''s settings: a key left out stays, a JSON null clears it.';

CREATE OR REPLACE FUNCTION durable.drop_namespace(
	name text) RETURNS void
	AS 'MODULE_PATHNAME', 'drop_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.drop_namespace IS 'Drop an empty namespace and its grants (never default).';

CREATE OR REPLACE FUNCTION durable.grant_namespace(
	namespace text,
	role regrole,
	capability text) RETURNS void
	AS 'MODULE_PATHNAME', 'grant_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.grant_namespace IS 'Grant a role (and its members) client, worker or admin in a namespace.';

CREATE OR REPLACE FUNCTION durable.revoke_namespace(
	namespace text,
	role regrole,
	capability text DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'revoke_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.revoke_namespace IS 'Revoke a capability (all of them for NULL) a role holds in a namespace.';

/*
 * Resetting every running workflow of a type that recorded a bad event: a
 * cold admin path, so PL/pgSQL (docs/sql-api.md).  Each run goes back to
 * the last workflow task that completed before its first bad event;
 * reset_workflow checks the caller's capability and does the work.
 */
CREATE OR REPLACE FUNCTION durable.reset_workflows_with_bad_event(
	workflow_type text,
	bad_event_type text,
	bad_attributes jsonb DEFAULT '{}',
	reason text DEFAULT 'bad event',
	namespace text DEFAULT 'default')
	RETURNS TABLE (workflow_id text, old_run_id uuid, new_run_id uuid)
	LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT w.workflow_id AS wid, w.run_id AS rid,
			   (SELECT pg_catalog.max(h.event_id) FROM durable.history h
				WHERE h.run_id = w.run_id AND h.event_type = 'WorkflowTaskCompleted'
				  AND h.event_id < bad.first_bad) AS point
		FROM durable.workflows w,
			 LATERAL (SELECT pg_catalog.min(h.event_id) AS first_bad FROM durable.history h
					  WHERE h.run_id = w.run_id AND h.event_type = bad_event_type
						AND h.attributes @> bad_attributes) bad
		WHERE w.namespace = reset_workflows_with_bad_event.namespace
		  AND w.workflow_type = reset_workflows_with_bad_event.workflow_type
		  AND w.status = 'running' AND bad.first_bad IS NOT NULL
		ORDER BY w.workflow_id
	LOOP
		CONTINUE WHEN r.point IS NULL;
		workflow_id := r.wid;
		old_run_id := r.rid;
		new_run_id := durable.reset_workflow(r.wid, r.rid, r.point, reason,
											 namespace => reset_workflows_with_bad_event.namespace);
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION durable.reset_workflows_with_bad_event IS 'Reset every running workflow of a type whose history has a bad event (of bad_event_type, with attributes containing bad_attributes) to the last workflow task completed before it; returns the runs reset.';

CREATE OR REPLACE FUNCTION durable.set_task_queue_rate_limit(
	task_queue text,
	tasks_per_second double precision,
	worker_tasks_per_second double precision DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'set_task_queue_rate_limit' LANGUAGE C;
COMMENT ON FUNCTION durable.set_task_queue_rate_limit IS 'Limit the activity tasks a queue dispatches per second, all workers together and per worker (NULL: no limit); takes effect at commit.';

CREATE OR REPLACE FUNCTION durable.set_current_build(
	task_queue text,
	build_id text,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'set_current_build' LANGUAGE C;
COMMENT ON FUNCTION durable.set_current_build IS 'Make build_id the queue''s current build: new runs are pinned to it and auto-upgrade runs move to it (NULL: new runs are unversioned).';

CREATE OR REPLACE FUNCTION durable.set_ramping_build(
	task_queue text,
	build_id text,
	percentage real,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'set_ramping_build' LANGUAGE C;
COMMENT ON FUNCTION durable.set_ramping_build IS 'Send percentage (0 to 100) of new runs, chosen by workflow id, to build_id instead of the current build (NULL build_id: no ramp).';

CREATE OR REPLACE FUNCTION durable.describe_task_queue(
	task_queue text,
	namespace text DEFAULT 'default') RETURNS jsonb
	AS 'MODULE_PATHNAME', 'describe_task_queue' LANGUAGE C;
COMMENT ON FUNCTION durable.describe_task_queue IS 'A queue''s settings, current dispatch rate, recent pollers (with build and capabilities), and backlog by kind, priority, build and requirement, with the backlog no live poller can take.';

CREATE OR REPLACE FUNCTION durable.task_queue_backlog(
	OUT namespace text,
	OUT task_queue text,
	OUT kind text,
	OUT priority integer,
	OUT build_id text,
	OUT requirement text,
	OUT tasks bigint,
	OUT oldest_ready_time timestamptz,
	OUT matched boolean) RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'task_queue_backlog' LANGUAGE C;
COMMENT ON FUNCTION durable.task_queue_backlog IS 'Ready tasks of every queue the caller can see, by kind, priority, build and requirement; matched is false where no poller seen in the last minute can take them.';

CREATE OR REPLACE VIEW durable.task_queue_backlog AS
	SELECT * FROM durable.task_queue_backlog();
COMMENT ON VIEW durable.task_queue_backlog IS 'Ready tasks by queue, kind, priority, build and requirement, with matched = false for work no live poller can take (a metric source).';

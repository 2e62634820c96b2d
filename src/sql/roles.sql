/*
 * roles.sql
 *	  Roles and privileges (docs/namespaces.md).  Access to workflows is a
 *	  capability in their namespace (durable.namespace_grants), which the
 *	  engine checks on every call and row-level security applies to every
 *	  table: so the functions of the API and SELECT on the tables are open
 *	  to PUBLIC, and what a role may do is its namespaces' grants.
 *	  durable_client, durable_worker and durable_admin hold client, worker
 *	  and admin in namespace default (built in; src/namespaces.c).  The
 *	  engine's internals, its key and the engine workers' view stay closed.
 *	  The engine's functions read and write the tables directly, so no role
 *	  needs a table privilege to use them.
 */

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_client') THEN
		CREATE ROLE durable_client NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_worker') THEN
		CREATE ROLE durable_worker NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_admin') THEN
		CREATE ROLE durable_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_completer') THEN
		CREATE ROLE durable_completer NOLOGIN;
	END IF;
	IF NOT pg_catalog.pg_has_role('durable_admin', 'durable_client', 'MEMBER')
	   OR NOT pg_catalog.pg_has_role('durable_admin', 'durable_worker', 'MEMBER')
	   OR NOT pg_catalog.pg_has_role('durable_admin', 'durable_completer', 'MEMBER') THEN
		GRANT durable_client, durable_worker, durable_completer TO durable_admin;
	END IF;
END
$$;

-- what follows is every privilege on durable's objects: earlier versions'
-- grants go first
REVOKE ALL ON ALL TABLES IN SCHEMA durable FROM PUBLIC, durable_client, durable_worker, durable_admin,
	durable_completer;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA durable FROM PUBLIC, durable_client, durable_worker, durable_admin,
	durable_completer;
GRANT USAGE ON SCHEMA durable TO PUBLIC;

-- checked by the engine against the namespace's grants
GRANT EXECUTE ON FUNCTION
	durable.start_workflow(text, jsonb, text, text, interval, interval, interval, text, text, jsonb, interval, text, jsonb, jsonb, integer, text, text, real, jsonb),
	durable.signal_workflow(text, text, jsonb, uuid, text, text),
	durable.signal_with_start_workflow(text, text, jsonb, text, jsonb, text, interval, interval, interval, text, jsonb, interval, text, jsonb, jsonb, integer, text, text, real, jsonb),
	durable.cancel_workflow(text, text, uuid, text),
	durable.terminate_workflow(text, text, uuid, text),
	durable.describe_workflow(text, uuid, text),
	durable.get_history(text, uuid, text),
	durable.workflow_result(text, uuid, interval, text),
	durable.query_workflow(text, text, jsonb, interval, uuid, text),
	durable.update_workflow(text, text, jsonb, text, text, interval, uuid, text),
	durable.reset_workflow(text, uuid, bigint, text, text, text),
	durable.update_with_start_workflow(text, text, jsonb, text, text, jsonb, text, interval, interval, interval, text, jsonb, jsonb, jsonb, text),
	durable.reset_workflows_with_bad_event(text, text, jsonb, text, text),
	durable.subscribe_workflow_closes(),
	durable.unsubscribe_workflow_closes(),
	durable.poll_task(text, text, text[], interval, text, text, jsonb),
	durable.workflow_task_history(text),
	durable.complete_workflow_task(text, jsonb, boolean, boolean, text),
	durable.fail_workflow_task(text, jsonb),
	durable.complete_activity(text, jsonb, boolean),
	durable.fail_activity(text, jsonb, boolean),
	durable.heartbeat_activity(text, jsonb),
	durable.report_activity_canceled(text, jsonb),
	durable.answer_query(text, jsonb, jsonb),
	durable.open_worker_session(text),
	durable.close_worker_session(),
	durable.purge_closed_workflows(interval, integer, text),
	durable.alter_namespace(text, jsonb),
	durable.grant_namespace(text, regrole, text),
	durable.revoke_namespace(text, regrole, text),
	durable._namespace_visible(text),
	durable._namespace_grant_visible(text, regrole),
	durable._batch_events(bigint, bytea),
	durable.set_task_queue_rate_limit(text, double precision, double precision, text),
	durable.set_current_build(text, text, text),
	durable.set_ramping_build(text, text, real, text),
	durable.describe_task_queue(text, text),
	durable.release_tasks(text, text, text),
	durable.task_queue_backlog()
	TO PUBLIC;

-- Completing an activity by its ids needs no claim, so it is not a
-- worker's right: asynchronous completers are granted durable_completer
-- (and need worker in the namespace too).
GRANT USAGE ON SCHEMA durable TO durable_completer;
GRANT EXECUTE ON FUNCTION
	durable.complete_activity_by_id(text, text, jsonb, uuid, text),
	durable.fail_activity_by_id(text, text, jsonb, uuid, text),
	durable.heartbeat_activity_by_id(text, text, jsonb, uuid, text),
	durable.report_activity_canceled_by_id(text, text, jsonb, uuid, text)
	TO durable_completer;

-- namespaces are made and dropped by durable_admin
GRANT EXECUTE ON FUNCTION durable.create_namespace(text, jsonb), durable.drop_namespace(text),
	durable._engine_workers() TO durable_admin;
GRANT SELECT ON durable.engine_workers TO durable_admin;

-- row-level security shows each role its namespaces' rows (namespaces.sql)
GRANT SELECT ON durable.workflows, durable.history, durable.history_batches, durable.buffered_events,
	durable.activities, durable.timers, durable.tasks, durable.signal_requests, durable.namespaces,
	durable.namespace_grants, durable.children, durable.updates, durable.task_queues,
	durable.task_queue_backlog
	TO PUBLIC;

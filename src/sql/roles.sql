/*
 * roles.sql
 *	  Roles and privileges.  Nothing is granted to PUBLIC; the three roles
 *	  get what README.md lists.  The engine's functions read and write the
 *	  tables directly, so EXECUTE on a function is all a role needs.
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

REVOKE ALL ON ALL TABLES IN SCHEMA durable FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA durable FROM PUBLIC;
GRANT USAGE ON SCHEMA durable TO durable_client, durable_worker, durable_admin;

GRANT EXECUTE ON FUNCTION
	durable.start_workflow(text, jsonb, text, text, interval, interval, interval, text, text, jsonb, interval, text, jsonb, jsonb, integer),
	durable.signal_workflow(text, text, jsonb, uuid, text),
	durable.signal_with_start_workflow(text, text, jsonb, text, jsonb, text, interval, interval, interval, text, jsonb, interval, text, jsonb, jsonb, integer),
	durable.cancel_workflow(text, text, uuid),
	durable.terminate_workflow(text, text, uuid),
	durable.describe_workflow(text, uuid),
	durable.get_history(text, uuid),
	durable.workflow_result(text, uuid, interval),
	durable.query_workflow(text, text, jsonb, interval, uuid),
	durable.subscribe_workflow_closes(),
	durable.unsubscribe_workflow_closes()
	TO durable_client;

GRANT EXECUTE ON FUNCTION
	durable.poll_task(text, text, text[], interval),
	durable.workflow_task_history(text),
	durable.complete_workflow_task(text, jsonb, boolean),
	durable.fail_workflow_task(text, jsonb),
	durable.complete_activity(text, jsonb, boolean),
	durable.fail_activity(text, jsonb, boolean),
	durable.heartbeat_activity(text, jsonb),
	durable.report_activity_canceled(text, jsonb),
	durable.answer_query(text, jsonb, jsonb),
	durable.open_worker_session(text),
	durable.close_worker_session(),
	durable.describe_workflow(text, uuid),
	durable.get_history(text, uuid)
	TO durable_worker;

-- Completing an activity by its ids needs no claim, so it is not a
-- worker's right: asynchronous completers are granted durable_completer
-- (durable 0.2 granted these to durable_worker).
REVOKE EXECUTE ON FUNCTION
	durable.complete_activity_by_id(text, text, jsonb, uuid),
	durable.fail_activity_by_id(text, text, jsonb, uuid),
	durable.heartbeat_activity_by_id(text, text, jsonb, uuid),
	durable.report_activity_canceled_by_id(text, text, jsonb, uuid)
	FROM durable_worker;
GRANT USAGE ON SCHEMA durable TO durable_completer;
GRANT EXECUTE ON FUNCTION
	durable.complete_activity_by_id(text, text, jsonb, uuid),
	durable.fail_activity_by_id(text, text, jsonb, uuid),
	durable.heartbeat_activity_by_id(text, text, jsonb, uuid),
	durable.report_activity_canceled_by_id(text, text, jsonb, uuid)
	TO durable_completer;

GRANT EXECUTE ON FUNCTION durable.purge_closed_workflows(interval, integer),
	durable._engine_workers(), durable._batch_events(bigint, bytea) TO durable_admin;
GRANT SELECT ON durable.workflows, durable.history, durable.history_batches, durable.buffered_events,
	durable.activities, durable.timers, durable.tasks, durable.signal_requests, durable.engine_workers
	TO durable_admin;

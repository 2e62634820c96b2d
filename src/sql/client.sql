/*
 * client.sql
 *	  The client API (capability client in a namespace): starting, signalling, canceling
 *	  and terminating workflows, reading them, queries.  Declarations only:
 *	  the functions are C (src/api.c).
 */

CREATE OR REPLACE FUNCTION durable.start_workflow(
	workflow_type text,
	input jsonb DEFAULT NULL,
	workflow_id text DEFAULT NULL,
	task_queue text DEFAULT 'default',
	execution_timeout interval DEFAULT NULL,
	run_timeout interval DEFAULT NULL,
	task_timeout interval DEFAULT '10 seconds',
	id_reuse_policy text DEFAULT 'allow_duplicate',
	id_conflict_policy text DEFAULT 'fail',
	retry_policy jsonb DEFAULT NULL,
	start_delay interval DEFAULT NULL,
	request_id text DEFAULT NULL,
	search_attributes jsonb DEFAULT NULL,
	memo jsonb DEFAULT NULL,
	priority integer DEFAULT 0,
	namespace text DEFAULT 'default',
	fairness_key text DEFAULT NULL,
	fairness_weight real DEFAULT NULL,
	required_capabilities jsonb DEFAULT NULL) RETURNS uuid
	AS 'MODULE_PATHNAME', 'start_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.start_workflow IS 'Start a workflow run; returns its run id. Transactional: a rollback leaves no trace.';

CREATE OR REPLACE FUNCTION durable.signal_workflow(
	workflow_id text,
	signal_name text,
	payload jsonb DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	request_id text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'signal_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.signal_workflow IS 'Send a signal to a running workflow. A repeated request_id is delivered once.';

CREATE OR REPLACE FUNCTION durable.signal_with_start_workflow(
	workflow_id text,
	signal_name text,
	signal_payload jsonb DEFAULT NULL,
	workflow_type text DEFAULT NULL,
	input jsonb DEFAULT NULL,
	task_queue text DEFAULT 'default',
	execution_timeout interval DEFAULT NULL,
	run_timeout interval DEFAULT NULL,
	task_timeout interval DEFAULT '10 seconds',
	id_reuse_policy text DEFAULT 'allow_duplicate',
	retry_policy jsonb DEFAULT NULL,
	start_delay interval DEFAULT NULL,
	request_id text DEFAULT NULL,
	search_attributes jsonb DEFAULT NULL,
	memo jsonb DEFAULT NULL,
	priority integer DEFAULT 0,
	namespace text DEFAULT 'default',
	fairness_key text DEFAULT NULL,
	fairness_weight real DEFAULT NULL,
	required_capabilities jsonb DEFAULT NULL) RETURNS uuid
	AS 'MODULE_PATHNAME', 'signal_with_start_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.signal_with_start_workflow IS 'Signal a workflow, starting it first if it is not running; atomic.';

CREATE OR REPLACE FUNCTION durable.cancel_workflow(
	workflow_id text,
	reason text DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'cancel_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.cancel_workflow IS 'Request cancellation of a running workflow; its code decides what to do.';

CREATE OR REPLACE FUNCTION durable.terminate_workflow(
	workflow_id text,
	reason text DEFAULT NULL,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'terminate_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.terminate_workflow IS 'Terminate a running workflow at once; no workflow code runs.';

CREATE OR REPLACE FUNCTION durable.describe_workflow(
	workflow_id text,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS durable.workflow_description
	AS 'MODULE_PATHNAME', 'describe_workflow' LANGUAGE C STABLE;
COMMENT ON FUNCTION durable.describe_workflow IS 'Status, payloads and pending work of a run (the latest run by default).';

CREATE OR REPLACE FUNCTION durable.get_history(
	workflow_id text,
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS SETOF durable.history
	AS 'MODULE_PATHNAME', 'get_history' LANGUAGE C STABLE;
COMMENT ON FUNCTION durable.get_history IS 'The event history of a run (the latest run by default), in order.';

CREATE OR REPLACE FUNCTION durable.workflow_result(
	workflow_id text,
	run_id uuid DEFAULT NULL,
	wait interval DEFAULT '0',
	namespace text DEFAULT 'default') RETURNS jsonb
	AS 'MODULE_PATHNAME', 'workflow_result' LANGUAGE C;
COMMENT ON FUNCTION durable.workflow_result IS 'Result of a workflow (following continue-as-new), raising its failure; waits up to "wait" for it to close.';

CREATE OR REPLACE FUNCTION durable.query_workflow(
	workflow_id text,
	query_name text,
	args jsonb DEFAULT NULL,
	timeout interval DEFAULT '10 seconds',
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS jsonb
	AS 'MODULE_PATHNAME', 'query_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.query_workflow IS 'Ask a live worker to answer a query from the workflow''s state; writes no history; works on closed workflows.';

CREATE OR REPLACE FUNCTION durable.subscribe_workflow_closes() RETURNS void
	AS 'MODULE_PATHNAME', 'subscribe_workflow_closes' LANGUAGE C;
COMMENT ON FUNCTION durable.subscribe_workflow_closes() IS 'LISTEN on channel durable_workflow_closed; closes are announced only while some session subscribes.';

CREATE OR REPLACE FUNCTION durable.unsubscribe_workflow_closes() RETURNS void
	AS 'MODULE_PATHNAME', 'unsubscribe_workflow_closes' LANGUAGE C;
COMMENT ON FUNCTION durable.unsubscribe_workflow_closes() IS 'UNLISTEN durable_workflow_closed and stop asking for announcements.';

CREATE OR REPLACE FUNCTION durable.update_workflow(
	workflow_id text,
	update_name text,
	args jsonb DEFAULT NULL,
	update_id text DEFAULT NULL,
	wait_for_stage text DEFAULT 'completed',
	wait interval DEFAULT '1 minute',
	run_id uuid DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS durable.update_result
	AS 'MODULE_PATHNAME', 'update_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.update_workflow IS 'Send an update to a running workflow and wait up to "wait" for it to be admitted, accepted or completed; returns the stage reached and the result or failure.';

CREATE OR REPLACE FUNCTION durable.reset_workflow(
	workflow_id text,
	run_id uuid DEFAULT NULL,
	to_event_id bigint DEFAULT NULL,
	reason text DEFAULT NULL,
	request_id text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS uuid
	AS 'MODULE_PATHNAME', 'reset_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.reset_workflow IS 'Start a new run from a run''s history up to a workflow task (to_event_id: its WorkflowTaskCompleted, Failed or TimedOut), failing that task with the reason and re-applying later signals; the running run is terminated. Returns the new run id.';

CREATE OR REPLACE FUNCTION durable.update_with_start_workflow(
	workflow_id text,
	update_name text,
	update_args jsonb DEFAULT NULL,
	update_id text DEFAULT NULL,
	workflow_type text DEFAULT NULL,
	input jsonb DEFAULT NULL,
	task_queue text DEFAULT 'default',
	execution_timeout interval DEFAULT NULL,
	run_timeout interval DEFAULT NULL,
	task_timeout interval DEFAULT '10 seconds',
	id_reuse_policy text DEFAULT 'allow_duplicate',
	retry_policy jsonb DEFAULT NULL,
	search_attributes jsonb DEFAULT NULL,
	memo jsonb DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS durable.update_result
	AS 'MODULE_PATHNAME', 'update_with_start_workflow' LANGUAGE C;
COMMENT ON FUNCTION durable.update_with_start_workflow IS 'Start a workflow unless it runs and admit an update for it (Temporal''s update-with-start); does not wait: update_workflow with the update id waits for the outcome.';

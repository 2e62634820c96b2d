/*
 * types.sql
 *	  The composite types of the API.  Install script only.
 */

CREATE TYPE durable.task AS (
	task_token text,
	kind text,
	workflow_id text,
	run_id uuid,
	workflow_type text,
	task_queue text,
	activity_id text,
	activity_type text,
	input jsonb,
	attempt integer,
	history jsonb,
	heartbeat_details jsonb,
	scheduled_time timestamptz,
	started_time timestamptz,
	deadline timestamptz,
	heartbeat_timeout interval,
	priority integer,
	query_name text,
	messages jsonb
);
COMMENT ON TYPE durable.task IS 'A task handed to a worker by durable.poll_task.';


CREATE TYPE durable.workflow_description AS (
	workflow_id text,
	run_id uuid,
	workflow_type text,
	task_queue text,
	status text,
	start_time timestamptz,
	close_time timestamptz,
	history_length bigint,
	input jsonb,
	result jsonb,
	failure jsonb,
	attempt integer,
	cancel_requested boolean,
	search_attributes jsonb,
	memo jsonb,
	first_run_id uuid,
	previous_run_id uuid,
	next_run_id uuid,
	pending_workflow_task jsonb,
	pending_activities jsonb,
	pending_timers jsonb,
	pending_children jsonb,
	build_id text,
	versioning_behavior text,
	priority integer,
	fairness_key text
);
COMMENT ON TYPE durable.workflow_description IS 'What durable.describe_workflow returns.';

CREATE TYPE durable.update_result AS (
	update_id text,
	stage text,
	result jsonb,
	failure jsonb
);
COMMENT ON TYPE durable.update_result IS 'What durable.update_workflow returns: the stage the update reached (admitted, accepted, completed or rejected) and its result or failure.';

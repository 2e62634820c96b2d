/*
 * schedules.sql
 *	  Schedules (docs/schedules.md): capability client in the namespace, as
 *	  start_workflow.  Declarations only: the functions are C
 *	  (src/schedules.c).
 */

CREATE OR REPLACE FUNCTION durable.create_schedule(
	schedule_id text,
	spec jsonb,
	action jsonb,
	policies jsonb DEFAULT NULL,
	state jsonb DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'create_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.create_schedule IS 'Create a schedule: the engine starts action''s workflow at the times of spec. DU031 if the id is taken.';

CREATE OR REPLACE FUNCTION durable.update_schedule(
	schedule_id text,
	spec jsonb,
	action jsonb,
	policies jsonb DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'update_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.update_schedule IS 'Replace a schedule''s spec, action and policies; its state and counters stay.';

CREATE OR REPLACE FUNCTION durable.describe_schedule(
	schedule_id text,
	namespace text DEFAULT 'default') RETURNS jsonb
	AS 'MODULE_PATHNAME', 'describe_schedule' LANGUAGE C STABLE;
COMMENT ON FUNCTION durable.describe_schedule IS 'A schedule: spec, action, policies, state, and info (counters, running workflows, last 10 and next 10 actions).';

CREATE OR REPLACE FUNCTION durable.pause_schedule(
	schedule_id text,
	note text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'pause_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.pause_schedule IS 'Pause a schedule: no actions until unpaused.';

CREATE OR REPLACE FUNCTION durable.unpause_schedule(
	schedule_id text,
	note text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'unpause_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.unpause_schedule IS 'Unpause a schedule; the times that passed while paused are not caught up.';

CREATE OR REPLACE FUNCTION durable.trigger_schedule(
	schedule_id text,
	overlap text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'trigger_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.trigger_schedule IS 'Take an action now, per the overlap policy given (NULL: the schedule''s).';

CREATE OR REPLACE FUNCTION durable.backfill_schedule(
	schedule_id text,
	start_time timestamptz,
	end_time timestamptz,
	overlap text DEFAULT NULL,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'backfill_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.backfill_schedule IS 'Take the actions of the spec''s times from start_time to end_time (inclusive), in order, per the overlap policy given.';

CREATE OR REPLACE FUNCTION durable.delete_schedule(
	schedule_id text,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'delete_schedule' LANGUAGE C;
COMMENT ON FUNCTION durable.delete_schedule IS 'Delete a schedule; the workflows it started go on.';

CREATE OR REPLACE FUNCTION durable.schedule_spec_times(
	spec jsonb,
	after timestamptz,
	count integer DEFAULT 10) RETURNS timestamptz[]
	AS 'MODULE_PATHNAME', 'schedule_spec_times' LANGUAGE C STABLE;
COMMENT ON FUNCTION durable.schedule_spec_times IS 'The next count times of a spec after a time, without jitter: a preview, checked as create_schedule checks a spec.';

-- executable by PUBLIC, as start_workflow: the namespace's capability client decides (src/namespaces.c)
-- (after roles.sql, which revokes everything first; granted explicitly, as
-- every durable function is)
GRANT EXECUTE ON FUNCTION
	durable.create_schedule(text, jsonb, jsonb, jsonb, jsonb, text),
	durable.update_schedule(text, jsonb, jsonb, jsonb, text),
	durable.describe_schedule(text, text),
	durable.pause_schedule(text, text, text),
	durable.unpause_schedule(text, text, text),
	durable.trigger_schedule(text, text, text),
	durable.backfill_schedule(text, timestamptz, timestamptz, text, text),
	durable.delete_schedule(text, text),
	durable.schedule_spec_times(jsonb, timestamptz, integer)
	TO PUBLIC;

ALTER TABLE durable.schedules ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS namespace_rows ON durable.schedules;
CREATE POLICY namespace_rows ON durable.schedules FOR SELECT
	USING (durable._namespace_visible(namespace));
GRANT SELECT ON durable.schedules TO PUBLIC;

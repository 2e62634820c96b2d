/*
 * engine.sql
 *	  What the engine worker calls, and the view of the engine workers.
 *	  Declarations only: the functions are C (src/timers.c, src/launcher.c).
 */

CREATE OR REPLACE FUNCTION durable._engine_tick(p_batch integer DEFAULT 200) RETURNS timestamptz
	AS 'MODULE_PATHNAME', '_engine_tick' LANGUAGE C;
COMMENT ON FUNCTION durable._engine_tick IS 'One pass of the timer service; the engine worker calls it. Safe to call concurrently.';

CREATE OR REPLACE FUNCTION durable._engine_startup(p_batch integer DEFAULT 0) RETURNS timestamptz
	AS 'MODULE_PATHNAME', '_engine_startup' LANGUAGE C;
COMMENT ON FUNCTION durable._engine_startup IS 'Rebuild the unlogged task queue after a crash, one batch per call; NULL once it is whole.';

CREATE OR REPLACE FUNCTION durable._engine_workers(
	OUT datid oid, OUT datname text, OUT pid integer, OUT state text,
	OUT started_at timestamptz, OUT next_wakeup timestamptz, OUT iterations bigint,
	OUT activity text) RETURNS SETOF record
	AS 'MODULE_PATHNAME', '_engine_workers' LANGUAGE C;

CREATE OR REPLACE VIEW durable.engine_workers AS
	SELECT datid, datname, pid, state, started_at, next_wakeup, iterations, activity
	FROM durable._engine_workers();
COMMENT ON VIEW durable.engine_workers IS 'One row per database the launcher serves: its engine worker''s pid and state.';

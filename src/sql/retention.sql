/*
 * retention.sql
 *	  Retention at scale (docs/retention.md): the procedure that purges
 *	  closed runs batch by batch, and the calls that schedule it with
 *	  pg_cron.  All of it is C (src/admin.c).
 */

CREATE OR REPLACE FUNCTION durable._purge_batch(
	namespace text,
	cutoff timestamptz,
	batch_size integer,
	from_time timestamptz DEFAULT NULL,
	OUT purged bigint,
	OUT passed_over bigint,
	OUT rows_deleted bigint,
	OUT next_from timestamptz)
	AS 'MODULE_PATHNAME', '_purge_batch' LANGUAGE C;
COMMENT ON FUNCTION durable._purge_batch IS 'Internal (run_retention): look at up to batch_size runs of a namespace closed before cutoff and at or after from_time, delete those that can go with their rows; next_from is where the next batch starts.';

CREATE OR REPLACE PROCEDURE durable.run_retention(
	namespace text DEFAULT NULL,
	batch_size integer DEFAULT 500,
	time_budget interval DEFAULT '50 seconds',
	duty_cycle real DEFAULT 0.1,
	INOUT purged bigint DEFAULT NULL)
	AS 'MODULE_PATHNAME', 'run_retention' LANGUAGE C;
COMMENT ON PROCEDURE durable.run_retention IS 'Purge closed runs older than their namespace''s retention (one namespace, or every namespace with a retention), batch by batch, committing after each and sleeping so that purging takes duty_cycle of the time at most, until done or time_budget is spent; purged is the number of runs deleted. CALL it outside a transaction block.';

CREATE OR REPLACE FUNCTION durable.setup_retention(
	retention interval,
	namespace text DEFAULT NULL,
	schedule text DEFAULT '* * * * *',
	batch_size integer DEFAULT 500,
	time_budget interval DEFAULT '50 seconds',
	duty_cycle real DEFAULT 0.1) RETURNS bigint
	AS 'MODULE_PATHNAME', 'setup_retention' LANGUAGE C;
COMMENT ON FUNCTION durable.setup_retention IS 'Set the retention of a namespace (NULL: of every namespace; a NULL retention keeps the settings) and schedule durable.run_retention for it with pg_cron (job durable-retention:<namespace>, or durable-retention); returns the pg_cron job id. DU045 without pg_cron.';

CREATE OR REPLACE FUNCTION durable.drop_retention(
	namespace text DEFAULT NULL) RETURNS boolean
	AS 'MODULE_PATHNAME', 'drop_retention' LANGUAGE C;
COMMENT ON FUNCTION durable.drop_retention IS 'Remove the pg_cron job setup_retention made for a namespace (NULL: the all-namespaces job); the namespace''s retention setting stays. False if there was none. DU045 without pg_cron.';

-- executable by PUBLIC: the namespace's capability admin decides (src/namespaces.c),
-- and pg_cron its own privileges (after roles.sql, which revokes everything first)
GRANT EXECUTE ON FUNCTION
	durable._purge_batch(text, timestamptz, integer, timestamptz),
	durable.setup_retention(interval, text, text, integer, interval, real),
	durable.drop_retention(text)
	TO PUBLIC;
GRANT EXECUTE ON PROCEDURE durable.run_retention(text, integer, interval, real, bigint) TO PUBLIC;

/*
 * retention.sql
 *	  Retention at scale (docs/retention.md): the throttled procedure that
 *	  purges closed runs batch by batch, and the calls that schedule it with
 *	  pg_cron.  The batch is C (src/admin.c); the loop, its throttle and the
 *	  pg_cron set-up are PL/pgSQL: cold admin paths, run once a minute at
 *	  most, whose cost is the batches they call.
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

/* The settings run_retention and setup_retention take, checked once for both. */
CREATE OR REPLACE FUNCTION durable._check_retention_settings(
	batch_size integer, time_budget interval, duty_cycle real) RETURNS void
	LANGUAGE plpgsql AS $$
BEGIN
	IF batch_size IS NULL OR batch_size <= 0 THEN
		RAISE EXCEPTION 'batch_size must be positive: %', coalesce(batch_size::text, 'NULL')
			USING ERRCODE = '22023';
	END IF;
	IF time_budget IS NULL OR time_budget <= interval '0' THEN
		RAISE EXCEPTION 'time_budget must be positive: %', coalesce(time_budget::text, 'NULL')
			USING ERRCODE = '22023';
	END IF;
	IF duty_cycle IS NULL OR NOT (duty_cycle > 0 AND duty_cycle <= 1) THEN
		RAISE EXCEPTION 'duty_cycle must be greater than 0 and at most 1: %', coalesce(duty_cycle::text, 'NULL')
			USING ERRCODE = '22023';
	END IF;
END
$$;
COMMENT ON FUNCTION durable._check_retention_settings IS 'Internal: raise 22023 unless batch_size and time_budget are positive and duty_cycle is in (0, 1].';

/*
 * The loop: each batch is its own transaction (COMMIT between batches, so
 * it must be CALLed outside a transaction block), and after each batch the
 * procedure sleeps so that batches take duty_cycle of the wall-clock time
 * at most.  The cutoff of a namespace is fixed when its turn starts, so
 * the loop ends; each batch starts where the last one ended in the
 * close-time index (src/admin.c says why).
 */
CREATE OR REPLACE PROCEDURE durable.run_retention(
	namespace text DEFAULT NULL,
	batch_size integer DEFAULT 500,
	time_budget interval DEFAULT '50 seconds',
	duty_cycle real DEFAULT 0.1,
	INOUT purged bigint DEFAULT NULL)
	LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz;
	names text[];
	ns text;
	keep interval;
	cutoff timestamptz;
	from_time timestamptz;
	b record;
	t0 timestamptz;
	busy float8;
BEGIN
	PERFORM durable._check_retention_settings(batch_size, time_budget, duty_cycle);
	deadline := pg_catalog.clock_timestamp() + time_budget;
	purged := 0;
	IF run_retention.namespace IS NOT NULL THEN
		-- refuses a namespace that does not exist or that the caller does not administer
		PERFORM durable.purge_closed_workflows(NULL, 0, run_retention.namespace);
	END IF;
	SELECT pg_catalog.array_agg(n.name ORDER BY n.name) INTO names
	FROM durable.namespaces n
	WHERE n.retention IS NOT NULL
	  AND (run_retention.namespace IS NULL OR n.name = run_retention.namespace);
	FOREACH ns IN ARRAY coalesce(names, '{}') LOOP
		SELECT n.retention INTO keep FROM durable.namespaces n WHERE n.name = ns;
		CONTINUE WHEN keep IS NULL;
		cutoff := pg_catalog.clock_timestamp() - keep;
		from_time := NULL;
		LOOP
			EXIT WHEN pg_catalog.clock_timestamp() >= deadline;
			t0 := pg_catalog.clock_timestamp();
			SELECT * INTO b FROM durable._purge_batch(ns, cutoff, batch_size, from_time);
			COMMIT;
			purged := purged + b.purged;
			-- the range is done, or only runs that cannot go yet are left at its start
			EXIT WHEN b.purged + b.passed_over < batch_size;
			EXIT WHEN b.purged = 0 AND b.next_from IS NOT DISTINCT FROM from_time;
			from_time := b.next_from;
			busy := extract(epoch FROM pg_catalog.clock_timestamp() - t0);
			PERFORM pg_catalog.pg_sleep(LEAST(busy * (1 - duty_cycle) / duty_cycle,
											  GREATEST(0, extract(epoch FROM deadline - pg_catalog.clock_timestamp()))));
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON PROCEDURE durable.run_retention IS 'Purge closed runs older than their namespace''s retention (one namespace, or every namespace with a retention), batch by batch, committing after each and sleeping so that purging takes duty_cycle of the time at most, until done or time_budget is spent; purged is the number of runs deleted. CALL it outside a transaction block.';

/* The job name of a namespace's retention (NULL: every namespace's). */
CREATE OR REPLACE FUNCTION durable._retention_job(namespace text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT 'durable-retention' || coalesce(':' || namespace, '')
$$;
COMMENT ON FUNCTION durable._retention_job IS 'Internal: the pg_cron job name setup_retention gives a namespace''s retention job (durable-retention:<namespace>; durable-retention for all namespaces).';

/* Refuse with DU045 when pg_cron is not installed in this database. */
CREATE OR REPLACE FUNCTION durable._require_pg_cron() RETURNS void
	LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in database %', pg_catalog.current_database()
			USING ERRCODE = 'DU045',
				  DETAIL = 'Retention jobs are pg_cron jobs in the database of the workflows.',
				  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, '
						 'restart, and run CREATE EXTENSION pg_cron; or CALL durable.run_retention() from '
						 'another scheduler.';
	END IF;
END
$$;
COMMENT ON FUNCTION durable._require_pg_cron IS 'Internal: raise DU045 unless pg_cron is installed in this database.';

CREATE OR REPLACE FUNCTION durable.setup_retention(
	retention interval,
	namespace text DEFAULT NULL,
	schedule text DEFAULT '* * * * *',
	batch_size integer DEFAULT 500,
	time_budget interval DEFAULT '50 seconds',
	duty_cycle real DEFAULT 0.1) RETURNS bigint
	LANGUAGE plpgsql AS $$
DECLARE
	ns text;
BEGIN
	PERFORM durable._require_pg_cron();
	PERFORM durable._check_retention_settings(batch_size, time_budget, duty_cycle);
	IF schedule IS NULL THEN
		RAISE EXCEPTION 'schedule must not be null' USING ERRCODE = '22023',
			HINT = 'A cron expression, for example ''* * * * *'' (every minute).';
	END IF;
	IF setup_retention.namespace IS NOT NULL THEN
		IF retention IS NOT NULL THEN
			PERFORM durable.alter_namespace(setup_retention.namespace,
											pg_catalog.jsonb_build_object('retention', retention::text));
		ELSE
			PERFORM durable.purge_closed_workflows(NULL, 0, setup_retention.namespace);
		END IF;
	ELSIF retention IS NOT NULL THEN
		FOR ns IN SELECT 'default' UNION SELECT n.name FROM durable.namespaces n LOOP
			PERFORM durable.alter_namespace(ns, pg_catalog.jsonb_build_object('retention', retention::text));
		END LOOP;
	END IF;
	RETURN cron.schedule_in_database(
		durable._retention_job(setup_retention.namespace), schedule,
		pg_catalog.format('CALL durable.run_retention(namespace => %L, batch_size => %s, time_budget => %L, duty_cycle => %s)',
						  setup_retention.namespace, batch_size, time_budget, duty_cycle),
		pg_catalog.current_database());
END
$$;
COMMENT ON FUNCTION durable.setup_retention IS 'Set the retention of a namespace (NULL: of every namespace; a NULL retention keeps the settings) and schedule durable.run_retention for it with pg_cron (job durable-retention:<namespace>, or durable-retention); returns the pg_cron job id. DU045 without pg_cron.';

CREATE OR REPLACE FUNCTION durable.drop_retention(
	namespace text DEFAULT NULL) RETURNS boolean
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM durable._require_pg_cron();
	IF NOT EXISTS (SELECT 1 FROM cron.job j
				   WHERE j.jobname = durable._retention_job(drop_retention.namespace)
					 AND j.username = CURRENT_USER) THEN
		RETURN false;
	END IF;
	PERFORM cron.unschedule(durable._retention_job(drop_retention.namespace)::name);
	RETURN true;
END
$$;
COMMENT ON FUNCTION durable.drop_retention IS 'Remove the pg_cron job setup_retention made for a namespace (NULL: the all-namespaces job); the namespace''s retention setting stays. False if there was none. DU045 without pg_cron.';

-- executable by PUBLIC: the namespace's capability admin decides (src/namespaces.c),
-- and pg_cron its own privileges (after roles.sql, which revokes everything first)
GRANT EXECUTE ON FUNCTION
	durable._purge_batch(text, timestamptz, integer, timestamptz),
	durable._retention_job(text),
	durable._require_pg_cron(),
	durable._check_retention_settings(integer, interval, real),
	durable.setup_retention(interval, text, text, integer, interval, real),
	durable.drop_retention(text)
	TO PUBLIC;
GRANT EXECUTE ON PROCEDURE durable.run_retention(text, integer, interval, real, bigint) TO PUBLIC;

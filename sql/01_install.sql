--
-- 01_install: CREATE EXTENSION, the objects it creates, and the engine
-- worker the launcher starts for this database.
--
CREATE EXTENSION durable;

SELECT extname, extversion, extnamespace::regnamespace AS schema
FROM pg_extension WHERE extname = 'durable';

-- tables and views of schema durable (the task queue and engine marker are unlogged)
SELECT c.relname, c.relkind, c.relpersistence
FROM pg_class c
WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind IN ('r', 'v', 'p')
ORDER BY c.relname;

-- the composite types of the API
SELECT t.typname
FROM pg_type t
WHERE t.typnamespace = 'durable'::regnamespace AND t.typtype = 'c'
  AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
ORDER BY t.typname;

-- the public API (functions without a leading underscore)
SELECT p.oid::regprocedure AS function
FROM pg_proc p
WHERE p.pronamespace = 'durable'::regnamespace AND p.proname !~ '^_'
ORDER BY p.proname, p.oid::regprocedure::text;

-- the user tables are dumped with the extension; the derived task queue is not
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'durable'
ORDER BY c.relname;

-- the launcher starts an engine worker for this database: wait for it
DO $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '10 seconds';
BEGIN
	LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM durable.engine_workers
						  WHERE datname = current_database() AND state = 'active'
						    AND pid IS NOT NULL);
		IF clock_timestamp() > deadline THEN
			RAISE NOTICE 'engine worker not active after 10 s: %',
				(SELECT string_agg(state, ',') FROM durable.engine_workers
				 WHERE datname = current_database());
			EXIT;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;

SELECT datname = current_database() AS this_db, state, pid IS NOT NULL AS has_pid,
	   pid <> pg_backend_pid() AS other_process, started_at IS NOT NULL AS has_started_at,
	   iterations >= 0 AS counts_iterations
FROM durable.engine_workers
WHERE datname = current_database();

-- the engine worker is a background worker of this database
SELECT backend_type, datname = current_database() AS this_db
FROM pg_stat_activity
WHERE pid = (SELECT pid FROM durable.engine_workers WHERE datname = current_database());

-- a fresh install has no runs, no history, no tasks
SELECT (SELECT count(*) FROM durable.workflows) AS workflows,
	   (SELECT count(*) FROM durable.history) AS history,
	   (SELECT count(*) FROM durable.tasks) AS tasks,
	   (SELECT count(*) FROM durable.timers) AS timers;

-- settings the extension defines
SELECT name, setting, unit, context
FROM pg_settings WHERE name LIKE 'durable.%' ORDER BY name;

--
-- 22_retention: retention at scale (docs/retention.md).  _purge_batch
-- deletes closed runs older than a cutoff with all their rows, from where
-- the last batch ended; run_retention loops over batches (committing
-- between them) for one namespace or every namespace with a retention;
-- running runs and young closed ones stay; bad arguments are refused with
-- their SQLSTATE; setup_retention and drop_retention need pg_cron, which
-- this instance does not load (DU045).  pg_cron itself: test/t/019_retention.pl.
-- Temporal's retention: closed workflow executions are kept for the
-- namespace's retention period, then deleted with their history
-- (https://docs.temporal.io/temporal-service/temporal-server#retention-period,
-- https://docs.temporal.io/self-hosted-guide/namespaces).
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

-- six runs closed "two days ago" (their close time moved back), one
-- closed now, one running
SELECT t_start_with('r22-old-' || i, 'r22q', '[{"type": "complete_workflow", "result": "done"}]') AS outcome
FROM generate_series(1, 6) i;
SELECT t_start_with('r22-young', 'r22q', '[{"type": "complete_workflow", "result": "done"}]') AS outcome;
SELECT durable.start_workflow('Flow', NULL, 'r22-running', 'r22q') IS NOT NULL AS started;
UPDATE durable.workflows SET close_time = close_time - interval '2 days' - (interval '1 minute' * substr(workflow_id, 9)::int)
WHERE workflow_id LIKE 'r22-old-%';
SELECT count(*) AS old_history_batches FROM durable.history_batches WHERE workflow_id LIKE 'r22-old-%';
-- one more old run whose activity failed once: its attempt is logged
-- (durable.activity_attempts) and goes with the run
SELECT t_start_with('r22-att', 'r22att', $$[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
	"start_to_close_timeout": "1 minute", "retry_policy": {"maximum_attempts": 1}}]$$) AS outcome;
SELECT durable.fail_activity(task_token, '{"message": "boom"}') IS NULL AS failed
FROM durable.poll_task('r22att', 'worker-1', '{activity}');
SELECT durable.complete_workflow_task(task_token, '[{"type": "complete_workflow"}]')->>'outcome' AS outcome
FROM durable.poll_task('r22att', 'worker-1', '{workflow}');
UPDATE durable.workflows SET close_time = close_time - interval '2 days' WHERE workflow_id = 'r22-att';
SELECT outcome FROM durable.activity_attempts WHERE workflow_id = 'r22-att';

--
-- _purge_batch: a bounded batch, oldest first, resumed from next_from
--
CREATE TEMP TABLE b1 AS
SELECT * FROM durable._purge_batch('default', now() - interval '1 day', 2);
SELECT purged, passed_over, rows_deleted > 0 AS deleted_rows, next_from IS NOT NULL AS has_next FROM b1;
SELECT string_agg(workflow_id, ' ' ORDER BY workflow_id) AS left_after_first_batch
FROM durable.workflows WHERE workflow_id LIKE 'r22-%';
SELECT purged, passed_over, next_from IS NOT NULL AS has_next
FROM durable._purge_batch('default', now() - interval '1 day', 2, (SELECT next_from FROM b1));
SELECT string_agg(workflow_id, ' ' ORDER BY workflow_id) AS left_after_second_batch
FROM durable.workflows WHERE workflow_id LIKE 'r22-%';
-- nothing past the cutoff: an empty batch says so
SELECT purged, passed_over, rows_deleted, next_from
FROM durable._purge_batch('default', now() - interval '30 days', 10);

--
-- run_retention: without a retention the namespace keeps its runs; with
-- one, batches of one run each until none is left (three here); the history and the attempt log go with
-- the runs
--
CALL durable.run_retention();
CALL durable.run_retention(namespace => 'default');
SELECT durable.alter_namespace('default', '{"retention": "1 day"}');
CALL durable.run_retention(batch_size => 1, duty_cycle => 1);
SELECT string_agg(workflow_id, ' ' ORDER BY workflow_id) AS left_after_retention
FROM durable.workflows WHERE workflow_id LIKE 'r22-%';
SELECT count(*) AS old_history_batches FROM durable.history_batches WHERE workflow_id LIKE 'r22-old-%';
SELECT count(*) AS young_history_batches FROM durable.history_batches WHERE workflow_id = 'r22-young';
SELECT count(*) AS att_attempts FROM durable.activity_attempts WHERE workflow_id = 'r22-att';
CALL durable.run_retention();

-- every namespace with a retention, each by its own: r22-a keeps 1 hour,
-- r22-b keeps its runs
SELECT durable.create_namespace('r22-a', '{"retention": "1 hour"}');
SELECT durable.create_namespace('r22-b');
SELECT durable.start_workflow('Flow', NULL, 'r22-a-old', 'r22q', namespace => ns) IS NOT NULL AS started
FROM (VALUES ('r22-a'), ('r22-b')) v(ns);
DO $$
DECLARE
	tok text;
	ns text;
BEGIN
	FOREACH ns IN ARRAY ARRAY['r22-a', 'r22-b'] LOOP
		SELECT task_token INTO tok FROM durable.poll_task('r22q', 'worker-1', '{workflow}', namespace => ns);
		PERFORM durable.complete_workflow_task(tok, '[{"type": "complete_workflow"}]');
	END LOOP;
END
$$;
UPDATE durable.workflows SET close_time = close_time - interval '2 hours' WHERE workflow_id = 'r22-a-old';
-- in a transaction block it is refused: it commits after each batch
\set VERBOSITY default
BEGIN;
CALL durable.run_retention(time_budget => '10 seconds');
ROLLBACK;
\set VERBOSITY terse
CALL durable.run_retention(time_budget => '10 seconds');
SELECT namespace, workflow_id, status FROM durable.workflows
WHERE workflow_id = 'r22-a-old' ORDER BY namespace;

--
-- refused: bad batch sizes, budgets, duty cycles and namespaces
--
SELECT t_try($$CALL durable.run_retention(batch_size => 0)$$) AS zero_batch;
SELECT t_try($$CALL durable.run_retention(batch_size => NULL)$$) AS null_batch;
SELECT t_try($$CALL durable.run_retention(time_budget => '0')$$) AS zero_budget;
SELECT t_try($$CALL durable.run_retention(time_budget => '-1 second')$$) AS negative_budget;
SELECT t_try($$CALL durable.run_retention(duty_cycle => 0)$$) AS zero_duty;
SELECT t_try($$CALL durable.run_retention(duty_cycle => 1.5)$$) AS duty_over_one;
SELECT t_try($$CALL durable.run_retention(namespace => 'nope')$$) AS unknown_namespace;
SELECT t_try($$SELECT durable._purge_batch('default', now(), 0)$$) AS zero_batch;
SELECT t_try($$SELECT durable._purge_batch('default', NULL, 10)$$) AS null_cutoff;
SELECT t_try($$SELECT durable._purge_batch(NULL, now(), 10)$$) AS null_namespace;
SELECT t_try($$SELECT durable._purge_batch('nope', now(), 10)$$) AS unknown_namespace;

-- a role that is not admin of the namespace may not purge it
CREATE ROLE r22_client;
GRANT durable_client TO r22_client;
SET ROLE r22_client;
SELECT t_try($$CALL durable.run_retention(namespace => 'default')$$) AS client_retention;
SELECT t_try($$SELECT durable._purge_batch('default', now(), 10)$$) AS client_batch;
RESET ROLE;

--
-- pg_cron is not loaded here: setting up or dropping the job says so
--
\set VERBOSITY default
SELECT durable.setup_retention('30 days');
SELECT durable.drop_retention();
SELECT t_try($$SELECT durable.setup_retention('30 days', 'default', '0 3 * * *')$$) AS setup_namespace;
SELECT t_try($$SELECT durable.drop_retention('default')$$) AS drop_namespace;
-- the setting is left alone when the job cannot be made
SELECT name, retention FROM durable.namespaces WHERE name IN ('default', 'r22-a', 'r22-b') ORDER BY name;

-- every new object has a comment
SELECT p.oid::regprocedure AS undocumented
FROM pg_proc p
WHERE p.pronamespace = 'durable'::regnamespace
  AND p.proname IN ('_purge_batch', 'run_retention', 'setup_retention', 'drop_retention')
  AND obj_description(p.oid, 'pg_proc') IS NULL;

-- clean up
SELECT durable.alter_namespace('default', '{"retention": null}');
DELETE FROM durable.workflows WHERE namespace IN ('r22-a', 'r22-b');
DELETE FROM durable.history_batches WHERE namespace IN ('r22-a', 'r22-b');
SELECT durable.drop_namespace('r22-a');
SELECT durable.drop_namespace('r22-b');
DROP ROLE r22_client;

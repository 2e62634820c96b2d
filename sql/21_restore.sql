--
-- 21_restore: what a dump carries and how the engine notices restored data
-- (docs/backup.md).  Every durable table but the listed exceptions is in
-- the dump, no sequence is left to forget; rows written by SQL (a
-- restore) empty durable.engine_state, the engine's own writes never do;
-- durable.rebuild_task_queue() and its errors; events buffered behind a
-- workflow task whose task row was lost keep their order (Temporal: a
-- run's signals are delivered in the order received,
-- https://docs.temporal.io/encyclopedia/workflow-message-passing#message-handler-order).
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- the dump: every table of the extension is config-dumped except
--   tasks         derived state, rebuilt by the engine (unlogged)
--   engine_state  the unlogged "queue is whole" marker
--   token_key     the task-token signing key: a secret that stays out of
--                 dump files; the restored database makes its own at
--                 CREATE EXTENSION (a data-only restore would otherwise
--                 bring a second row)
--
SELECT c.relname AS not_dumped
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'durable'
WHERE c.relkind IN ('r', 'p')
  AND c.oid <> ALL (e.extconfig)
ORDER BY 1;

-- no sequence (buffered_events numbers each run's events itself), no
-- identity or serial column whose counter a dump could lose
SELECT c.relname, c.relkind
FROM pg_class c WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind = 'S';
SELECT a.attrelid::regclass, a.attname
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE c.relnamespace = 'durable'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  AND (a.attidentity <> '' OR pg_get_expr(ad.adbin, ad.adrelid) LIKE '%nextval%');

-- the tables whose rows make work for the engine carry the statement trigger
-- (INSERT and UPDATE, COPY included; DELETE and TRUNCATE make no work)
SELECT t.tgrelid::regclass AS relation, t.tgname,
	   (t.tgtype & 2) <> 0 AS before, (t.tgtype & 1) = 0 AS per_statement,
	   (t.tgtype & 4) <> 0 AS ins, (t.tgtype & 16) <> 0 AS upd,
	   (t.tgtype & 8) <> 0 AS del, (t.tgtype & 32) <> 0 AS trunc
FROM pg_trigger t
WHERE t.tgfoid = 'durable._data_changed'::regproc
ORDER BY relation::text;

--
-- the engine's own writes never touch the marker: starts, polls,
-- completions, signals, activities, timers, schedules (SPI), purges
--
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.engine_state)$$) AS queue_whole;
CREATE TEMP TABLE marker AS SELECT rebuilt_at FROM durable.engine_state;
SELECT t_start_with('r21-a', 'r21q', '[{"type": "schedule_activity", "activity_id": "a1",
	"activity_type": "A", "start_to_close_timeout": "1 minute"},
	{"type": "start_timer", "timer_id": "t1", "duration": "1 hour"}]');
SELECT kind, workflow_id, activity FROM t_poll('r21q');
SELECT durable.complete_activity(token, '{"ok": 1}') FROM t_last;
SELECT durable.signal_workflow('r21-a', 'ping', '{"n": 1}');
SELECT kind, workflow_id FROM t_poll('r21q');
SELECT durable.complete_workflow_task(token, '[{"type": "complete_workflow", "result": 1}]') ->> 'outcome'
FROM t_last;
SELECT durable.create_schedule('r21-s', '{"intervals": [{"every": "1 hour"}]}',
	'{"workflow_type": "S", "task_queue": "r21s"}');
SELECT durable.trigger_schedule('r21-s');
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.workflows WHERE workflow_type = 'S')$$) AS schedule_started;
SELECT durable.pause_schedule('r21-s');
SELECT durable.delete_schedule('r21-s');
SELECT durable.purge_closed_workflows('0 seconds', 1) = 1 AS purged;
SELECT count(*) AS marker_kept, bool_and(s.rebuilt_at = m.rebuilt_at) AS same_row
FROM durable.engine_state s, marker m;

-- rows written by SQL empty the marker in the writing transaction (even a
-- statement that changes no row: a restore's COPY of an empty table)
BEGIN;
UPDATE durable.timers SET fire_time = fire_time WHERE false;
SELECT count(*) AS marker_inside FROM durable.engine_state;
ROLLBACK;
SELECT count(*) AS marker_after_rollback FROM durable.engine_state;
-- ... and a DELETE does not
BEGIN;
DELETE FROM durable.timers WHERE false;
SELECT count(*) AS marker_after_delete FROM durable.engine_state;
ROLLBACK;

--
-- rebuild_task_queue: errors
--
SELECT t_try('SELECT durable._data_changed()');
BEGIN READ ONLY;
SELECT t_try('SELECT durable.rebuild_task_queue()');
ROLLBACK;
CREATE ROLE r21_dba;
GRANT durable_admin TO r21_dba;
SET ROLE r21_dba;
SELECT t_try('SELECT durable.rebuild_task_queue()');
RESET ROLE;
DROP ROLE r21_dba;

--
-- a task lost with its buffered signals: the rebuild writes them to
-- history ahead of what comes later
--
SELECT durable.start_workflow('Flow', NULL, 'r21-b', 'r21q') IS NOT NULL AS started;
SELECT kind, workflow_id FROM t_poll('r21q');
SELECT durable.signal_workflow('r21-b', 's1', '1');
SELECT durable.signal_workflow('r21-b', 's2', '2');
SELECT count(*) AS buffered FROM durable.buffered_events b JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'r21-b';
-- the task row goes as a crash or a restore loses it
DELETE FROM durable.tasks t USING durable.workflows w WHERE w.run_id = t.run_id AND w.workflow_id = 'r21-b';
SELECT durable.rebuild_task_queue();
SELECT count(*) AS marker_until_done FROM durable.engine_state;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.engine_state)$$) AS rebuilt;
SELECT count(*) AS rebuilt_task FROM durable.tasks t JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'r21-b' AND t.started_time IS NULL;
SELECT durable.signal_workflow('r21-b', 's3', '3');
SELECT kind, workflow_id, events FROM t_poll('r21q');
SELECT durable.complete_workflow_task(token, '[{"type": "complete_workflow"}]') ->> 'outcome' FROM t_last;
SELECT event_id, event_type, attributes::jsonb ->> 'signal_name' AS signal
FROM t_hist('r21-b') WHERE event_type = 'WorkflowExecutionSignaled';

--
-- the same, but a signal arrives before the rebuild reaches the run: the
-- buffered ones still go first
--
SELECT durable.start_workflow('Flow', NULL, 'r21-c', 'r21q') IS NOT NULL AS started;
SELECT kind, workflow_id FROM t_poll('r21q');
SELECT durable.signal_workflow('r21-c', 's1', '1');
SELECT durable.signal_workflow('r21-c', 's2', '2');
DELETE FROM durable.tasks t USING durable.workflows w WHERE w.run_id = t.run_id AND w.workflow_id = 'r21-c';
SELECT durable.signal_workflow('r21-c', 's3', '3');
SELECT count(*) AS buffered FROM durable.buffered_events b JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'r21-c';
SELECT kind, workflow_id, events FROM t_poll('r21q');
SELECT durable.complete_workflow_task(token, '[{"type": "complete_workflow"}]') ->> 'outcome' FROM t_last;
SELECT event_id, event_type, attributes::jsonb ->> 'signal_name' AS signal
FROM t_hist('r21-c') WHERE event_type = 'WorkflowExecutionSignaled';

--
-- a due timer whose run is missing, shortly after rows came by SQL (a
-- parallel restore may bring the run later): put off by 10 s, not dropped
--
INSERT INTO durable.timers (run_id, kind, timer_id, fire_time, workflow_id)
VALUES ('00000000-0000-7000-8000-000000000021', 'user', 'orphan', now(), 'r21-orphan');
SELECT t_wait($$(SELECT fire_time > now() + interval '5 seconds' FROM durable.timers WHERE timer_id = 'orphan')$$) AS put_off;
DELETE FROM durable.timers WHERE timer_id = 'orphan';
-- and an activity's retry timer whose activity is missing
SELECT t_start_with('r21-d', 'r21q', '[{"type": "schedule_activity", "activity_id": "a1",
	"activity_type": "A", "start_to_close_timeout": "1 minute",
	"retry_policy": {"initial_interval": "1 hour"}}]');
SELECT kind, workflow_id, activity FROM t_poll('r21q');
SELECT durable.fail_activity(token, '{"message": "boom"}') FROM t_last;
DELETE FROM durable.activities a USING durable.workflows w WHERE w.run_id = a.run_id AND w.workflow_id = 'r21-d';
UPDATE durable.timers t SET fire_time = now() FROM durable.workflows w
WHERE w.run_id = t.run_id AND w.workflow_id = 'r21-d' AND t.kind = 'activity_retry';
-- (the engine waits for the settle time before it looks)
SELECT count(*) AS due_now FROM durable.timers t JOIN durable.workflows w USING (run_id)
WHERE w.workflow_id = 'r21-d' AND t.kind = 'activity_retry' AND t.fire_time <= now();
SELECT t_wait($$(SELECT t.fire_time > now() + interval '5 seconds' FROM durable.timers t
				 JOIN durable.workflows w USING (run_id)
				 WHERE w.workflow_id = 'r21-d' AND t.kind = 'activity_retry')$$) AS put_off;
SELECT durable.terminate_workflow('r21-d', 'test over');

/*
 * dba.sql
 *	  Views and a function for the questions a DBA asks every day
 *	  (docs/dba.md, the cookbook): which runs failed recently and which
 *	  activity caused it, which running runs are stuck and on what, and how
 *	  big durable's tables are.  The backlog has its view already
 *	  (durable.task_queue_backlog, admin.sql).
 *
 *	  Read-only and on cold paths, so SQL.  The views run with the caller's
 *	  rights (security_invoker): row-level security shows each role its
 *	  namespaces' runs, as on the tables.  Each is written so that the
 *	  cookbook's queries on it use an index at 1 M runs (bench/run --cookbook
 *	  checks the plans); a filter the views do not show is the caller's.
 */

/*
 * A failure's cause chain, outermost first: the failure a run closed with
 * (durable.workflows.failure) nests the failures that caused it in "cause"
 * (an SDK's ActivityFailure holds the activity's own failure, and a
 * workflow may wrap that in its own; docs/protocol.md, Failures).
 */
CREATE OR REPLACE FUNCTION durable.failure_chain(failure jsonb,
	OUT depth integer, OUT type text, OUT message text, OUT activity_type text, OUT failure jsonb)
	RETURNS SETOF record
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$
	WITH RECURSIVE c(depth, f) AS (
		SELECT 1, $1 WHERE pg_catalog.jsonb_typeof($1) = 'object'
		UNION ALL
		SELECT c.depth + 1, c.f -> 'cause' FROM c
		WHERE pg_catalog.jsonb_typeof(c.f -> 'cause') = 'object' AND c.depth < 32
	)
	SELECT c.depth, c.f ->> 'type', c.f ->> 'message',
		   CASE WHEN c.f ->> 'type' = 'ActivityFailure' THEN c.f -> 'details' ->> 'activity_type' END,
		   c.f
	FROM c ORDER BY c.depth
$$;
COMMENT ON FUNCTION durable.failure_chain(jsonb) IS 'A failure''s cause chain, outermost first (depth 1): each failure''s type and message, the activity type of an ActivityFailure, and the failure object itself.';

CREATE OR REPLACE VIEW durable.recent_failures WITH (security_invoker = true) AS
	SELECT w.namespace, w.workflow_id, w.run_id, w.workflow_type, w.status, w.start_time, w.close_time,
		   w.close_time - w.start_time AS duration,
		   w.failure ->> 'type' AS failure_type,
		   w.failure ->> 'message' AS failure_message,
		   pg_catalog.jsonb_path_query_first(w.failure,
				'strict $.** ? (@.type == "ActivityFailure").details.activity_type') ->> 0 AS activity_type,
		   r.type AS root_cause_type, r.message AS root_cause_message,
		   w.attempt, w.task_queue, w.failure
	  FROM durable.workflows w
	  -- the innermost failure, read once per row the caller keeps
	  LEFT JOIN LATERAL (
		SELECT c.type, c.message FROM durable.failure_chain(w.failure) c
		 ORDER BY c.depth DESC LIMIT 1) r ON true
	 WHERE w.status IN ('failed', 'timed_out', 'terminated', 'canceled')
	   AND w.close_time IS NOT NULL;
COMMENT ON VIEW durable.recent_failures IS 'Runs that closed failed, timed out, terminated or canceled, with the activity type their failure chain names (an ActivityFailure) and its innermost cause. Filter on namespace and close_time (ORDER BY close_time DESC): the partial index workflows_failed_by_close_time serves it.';
COMMENT ON COLUMN durable.recent_failures.duration IS 'close_time - start_time.';
COMMENT ON COLUMN durable.recent_failures.failure_type IS 'The outermost failure''s type (ActivityFailure, TimeoutError, TerminatedFailure, CanceledFailure or the workflow''s own).';
COMMENT ON COLUMN durable.recent_failures.failure_message IS 'The outermost failure''s message.';
COMMENT ON COLUMN durable.recent_failures.activity_type IS 'The activity type of the first ActivityFailure in the chain: the activity that caused the failure; NULL when no activity did.';
COMMENT ON COLUMN durable.recent_failures.root_cause_type IS 'The type of the innermost failure of the chain (durable.failure_chain).';
COMMENT ON COLUMN durable.recent_failures.root_cause_message IS 'The message of the innermost failure of the chain.';

/*
 * Stuck work is pending work that does not move: a workflow task queued or
 * running for long, an activity that keeps retrying, a timer past its time.
 * The view starts from the pending-work tables (durable.tasks,
 * durable.activities, durable.timers: as large as the work in flight, not
 * as the history), and reads each row's run by run id in scalar subqueries,
 * which the planner evaluates after the caller's ORDER BY ... LIMIT: "the
 * 50 longest-waiting" costs a scan of the pending work and 50 lookups,
 * never a read of the runs.  (An index on workflows.last_progress_time
 * would find idle runs directly, but the engine moves that column at every
 * event, and an index on it would turn those updates, most of them HOT
 * today, into updates of every index of durable.workflows.)  A run waiting
 * with nothing pending waits for a signal or an update: that is not stuck,
 * and it is not here; nor is a schedule's own timer (kind schedule, keyed
 * by the schedule's id, docs/schedules.md).
 */
CREATE OR REPLACE VIEW durable.stuck_workflows WITH (security_invoker = true) AS
	SELECT p.namespace, p.workflow_id, p.run_id,
		   (SELECT w.workflow_type FROM durable.workflows w WHERE w.run_id = p.run_id) AS workflow_type,
		   (SELECT w.status FROM durable.workflows w WHERE w.run_id = p.run_id) AS status,
		   p.waiting_on, p.since, pg_catalog.now() - p.since AS waiting_for,
		   (SELECT w.last_progress_time FROM durable.workflows w WHERE w.run_id = p.run_id)
			   AS last_progress_time,
		   pg_catalog.now() - (SELECT w.last_progress_time FROM durable.workflows w WHERE w.run_id = p.run_id)
			   AS idle,
		   p.task_queue, p.worker_id, p.activity_type, p.attempt, p.last_failure,
		   (SELECT w.start_time FROM durable.workflows w WHERE w.run_id = p.run_id) AS start_time
	  FROM (SELECT t.namespace, t.workflow_id, t.run_id, 'workflow task queued' AS waiting_on,
				   t.ready_time AS since, t.task_queue, t.worker_id, NULL::text AS activity_type,
				   NULL::integer AS attempt, NULL::jsonb AS last_failure
			  FROM durable.tasks t
			 WHERE t.scheduled_event_id = 0 AND t.started_time IS NULL
			UNION ALL
			SELECT t.namespace, t.workflow_id, t.run_id, 'workflow task running', t.started_time,
				   t.task_queue, t.worker_id, NULL, NULL, NULL
			  FROM durable.tasks t
			 WHERE t.scheduled_event_id = 0 AND t.started_time IS NOT NULL
			UNION ALL
			SELECT a.namespace, a.workflow_id, a.run_id,
				   CASE WHEN a.state = 'backoff' THEN 'activity retry' ELSE 'activity' END,
				   a.scheduled_time, a.task_queue, a.last_worker_id, a.activity_type,
				   a.attempt, a.last_failure
			  FROM durable.activities a
			UNION ALL
			SELECT y.namespace, y.workflow_id, y.run_id, 'timer overdue', y.fire_time, NULL, NULL, NULL,
				   NULL, NULL
			  FROM durable.timers y
			 WHERE y.fire_time < pg_catalog.now() AND y.kind <> 'schedule') p;
COMMENT ON VIEW durable.stuck_workflows IS 'Pending work of every run and since when it waits: its workflow task (queued or running), each pending activity (scheduled since, attempt, last failure), each timer past its time; with the run''s last progress. Filter on since (e.g. since < now() - interval ''1 hour'') for the stuck ones.';
COMMENT ON COLUMN durable.stuck_workflows.waiting_on IS 'workflow task queued, workflow task running, activity (queued or running), activity retry (waiting for its next attempt), or timer overdue.';
COMMENT ON COLUMN durable.stuck_workflows.since IS 'Since when: the workflow task''s ready (queued) or start (running) time, the activity''s first scheduled time, the timer''s fire time.';
COMMENT ON COLUMN durable.stuck_workflows.waiting_for IS 'now() - since.';
COMMENT ON COLUMN durable.stuck_workflows.idle IS 'now() - last_progress_time: how long the run has recorded no event.';
COMMENT ON COLUMN durable.stuck_workflows.task_queue IS 'The queue the task or activity waits in.';
COMMENT ON COLUMN durable.stuck_workflows.worker_id IS 'The worker running the workflow task, or the last worker that ran the activity.';
COMMENT ON COLUMN durable.stuck_workflows.activity_type IS 'The activity''s type.';
COMMENT ON COLUMN durable.stuck_workflows.attempt IS 'The activity''s current attempt.';
COMMENT ON COLUMN durable.stuck_workflows.last_failure IS 'The failure of the activity''s previous attempt.';

CREATE OR REPLACE VIEW durable.table_sizes AS
	SELECT c.relname AS table_name,
		   pg_catalog.pg_total_relation_size(c.oid) AS total_bytes,
		   pg_catalog.pg_relation_size(c.oid) AS table_bytes,
		   pg_catalog.pg_indexes_size(c.oid) AS index_bytes,
		   pg_catalog.pg_total_relation_size(c.oid) - pg_catalog.pg_relation_size(c.oid)
			   - pg_catalog.pg_indexes_size(c.oid) AS toast_bytes,
		   s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows,
		   CASE WHEN s.n_live_tup + s.n_dead_tup > 0
				THEN pg_catalog.round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup), 1) END AS dead_pct,
		   c.relpersistence = 'u' AS unlogged,
		   GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
		   GREATEST(s.last_analyze, s.last_autoanalyze) AS last_analyze
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	  LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
	 WHERE n.nspname = 'durable' AND c.relkind IN ('r', 'p');
COMMENT ON VIEW durable.table_sizes IS 'durable''s tables: total, heap, index and TOAST bytes, live and dead rows (the statistics collector''s estimates), the dead share, and the last (auto)vacuum and analyze.';
COMMENT ON COLUMN durable.table_sizes.total_bytes IS 'Heap, indexes and TOAST (pg_total_relation_size).';
COMMENT ON COLUMN durable.table_sizes.toast_bytes IS 'TOAST table and its index, and the free space and visibility maps.';
COMMENT ON COLUMN durable.table_sizes.dead_pct IS 'Dead rows as a share of all rows: what the next vacuum can reclaim for reuse.';
COMMENT ON COLUMN durable.table_sizes.unlogged IS 'Unlogged (durable.tasks, durable.engine_state): not in WAL, base backups or replicas; rebuilt by the engine.';

-- after roles.sql, which revokes everything first: the cookbook is for
-- everyone, each role seeing its namespaces' runs
GRANT EXECUTE ON FUNCTION durable.failure_chain(jsonb) TO PUBLIC;
GRANT SELECT ON durable.recent_failures, durable.stuck_workflows, durable.table_sizes TO PUBLIC;

/*
 * metrics.sql
 *	  Metrics (docs/metrics.md): the engine's counters and histograms,
 *	  kept in shared memory by src/metrics.c, and gauges computed from the
 *	  tables when the views are read.  Nothing here writes.  The views run
 *	  with the reader's privileges (security_invoker): a role sees the
 *	  metrics of the namespaces it holds a capability in, and those of the
 *	  "_other_" slot (counts only, no names).
 */

CREATE OR REPLACE FUNCTION durable._metric_values(
	OUT namespace text,
	OUT metric text,
	OUT labels jsonb,
	OUT type text,
	OUT value double precision) RETURNS SETOF record
	AS 'MODULE_PATHNAME', '_metric_values' LANGUAGE C;
COMMENT ON FUNCTION durable._metric_values IS 'The engine''s counters of this database, and the _sum and _count of its histograms, read from shared memory (namespace NULL: the _other_ slot).';

CREATE OR REPLACE FUNCTION durable._metric_buckets(
	OUT namespace text,
	OUT metric text,
	OUT labels jsonb,
	OUT le double precision,
	OUT count bigint) RETURNS SETOF record
	AS 'MODULE_PATHNAME', '_metric_buckets' LANGUAGE C;
COMMENT ON FUNCTION durable._metric_buckets IS 'The cumulative buckets of the engine''s latency histograms of this database, read from shared memory (namespace NULL: the _other_ slot).';

CREATE OR REPLACE VIEW durable.metrics WITH (security_invoker = true) AS
	SELECT m.metric, m.labels, m.type, m.value
	  FROM durable._metric_values() m
	 WHERE m.namespace IS NULL OR durable._namespace_visible(m.namespace)
	UNION ALL
	-- ready tasks by queue and kind; 0 for the queues the engine has seen
	SELECT 'durable_approximate_backlog_count', q.labels, 'gauge', q.tasks
	  FROM (SELECT pg_catalog.jsonb_build_object('namespace', k.namespace, 'task_queue', k.task_queue,
												 'kind', k.kind) AS labels,
				   pg_catalog.sum(k.tasks)::double precision AS tasks
			  FROM (SELECT b.namespace, b.task_queue, b.kind, b.tasks
					  FROM durable.task_queue_backlog() b
					UNION ALL
					SELECT m.namespace, m.labels->>'task_queue', m.labels->>'kind', 0
					  FROM durable._metric_values() m
					 WHERE m.metric = 'durable_poll_success_total'
					   AND m.namespace IS NOT NULL AND durable._namespace_visible(m.namespace)) k
			 GROUP BY k.namespace, k.task_queue, k.kind) q
	UNION ALL
	-- how long the oldest ready task of a queue and kind has waited (0: none waits)
	SELECT 'durable_approximate_backlog_age_seconds', q.labels, 'gauge', q.age
	  FROM (SELECT pg_catalog.jsonb_build_object('namespace', k.namespace, 'task_queue', k.task_queue,
												 'kind', k.kind) AS labels,
				   COALESCE(pg_catalog.date_part('epoch', pg_catalog.now() - pg_catalog.min(k.oldest)), 0)
					   ::double precision AS age
			  FROM (SELECT b.namespace, b.task_queue, b.kind, b.oldest_ready_time AS oldest
					  FROM durable.task_queue_backlog() b
					UNION ALL
					SELECT m.namespace, m.labels->>'task_queue', m.labels->>'kind', NULL
					  FROM durable._metric_values() m
					 WHERE m.metric = 'durable_poll_success_total'
					   AND m.namespace IS NOT NULL AND durable._namespace_visible(m.namespace)) k
			 GROUP BY k.namespace, k.task_queue, k.kind) q
	UNION ALL
	-- running workflows by type
	SELECT 'durable_workflows_running',
		   pg_catalog.jsonb_build_object('namespace', w.namespace, 'workflow_type', w.workflow_type),
		   'gauge', pg_catalog.count(*)::double precision
	  FROM durable.workflows w
	 WHERE w.status = 'running'
	 GROUP BY w.namespace, w.workflow_type;
COMMENT ON VIEW durable.metrics IS 'Every metric as (metric, labels, type, value): the engine''s counters (since the server started) and histogram _sum/_count from shared memory, and gauges (backlog, its age, running workflows) computed when read. Prometheus names (docs/metrics.md).';

CREATE OR REPLACE VIEW durable.metric_histograms WITH (security_invoker = true) AS
	SELECT b.metric, b.labels, b.le, b.count
	  FROM durable._metric_buckets() b
	 WHERE b.namespace IS NULL OR durable._namespace_visible(b.namespace);
COMMENT ON VIEW durable.metric_histograms IS 'The cumulative buckets of the engine''s latency histograms (le in seconds, Infinity for +Inf); their _sum and _count are rows of durable.metrics.';

-- after roles.sql, which revokes everything first: metrics are for everyone,
-- each role seeing its namespaces'
GRANT EXECUTE ON FUNCTION durable._metric_values(), durable._metric_buckets() TO PUBLIC;
GRANT SELECT ON durable.metrics, durable.metric_histograms TO PUBLIC;

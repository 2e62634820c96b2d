/*
 * namespaces.sql
 *	  Row-level security: a role sees the rows of the namespaces it holds a
 *	  capability in (src/namespaces.c decides; superusers and the tables'
 *	  owner see every row).  Policies cannot be replaced, so each is dropped
 *	  and made again.
 */

CREATE OR REPLACE FUNCTION durable._namespace_visible(namespace text) RETURNS boolean
	AS 'MODULE_PATHNAME', '_namespace_visible' LANGUAGE C STABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION durable._namespace_visible(text) IS 'Whether the current user holds any capability in the namespace (row-level security).';

CREATE OR REPLACE FUNCTION durable._namespace_grant_visible(namespace text, role regrole) RETURNS boolean
	AS 'MODULE_PATHNAME', '_namespace_grant_visible' LANGUAGE C STABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION durable._namespace_grant_visible(text, regrole) IS 'Whether the current user may see a grant: it is admin of the namespace or a member of the role.';

-- Row-level security on tables with a namespace column: each role sees the
-- rows of the namespaces it holds a capability in.  Install-time only (a cold
-- admin path in PL/pgSQL); indexes.sql calls it for the tables it adds.
CREATE OR REPLACE FUNCTION durable._enable_namespace_rls(tables text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY tables
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE durable.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format('DROP POLICY IF EXISTS namespace_rows ON durable.%I', t);
		EXECUTE pg_catalog.format('CREATE POLICY namespace_rows ON durable.%I FOR SELECT '
								  'USING (durable._namespace_visible(namespace))', t);
	END LOOP;
END
$$;
COMMENT ON FUNCTION durable._enable_namespace_rls(text[]) IS 'Install-time: enable row-level security with the namespace_rows policy on the named durable tables.';

SELECT durable._enable_namespace_rls(ARRAY['workflows', 'history_batches', 'buffered_events', 'activities',
										   'timers', 'signal_requests', 'tasks', 'children', 'updates',
										   'task_queues']);

ALTER TABLE durable.namespaces ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS namespace_rows ON durable.namespaces;
CREATE POLICY namespace_rows ON durable.namespaces FOR SELECT
	USING (durable._namespace_visible(name));

ALTER TABLE durable.namespace_grants ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS namespace_rows ON durable.namespace_grants;
CREATE POLICY namespace_rows ON durable.namespace_grants FOR SELECT
	USING (durable._namespace_grant_visible(namespace, role));

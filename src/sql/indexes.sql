/*
 * indexes.sql
 *	  What a DBA queries and indexes (docs/search-attributes.md): typed
 *	  search-attribute keys, the helpers their indexes are made of, the
 *	  site's own indexes, and who sees the attempt log.  Declarations only:
 *	  the functions are C (src/indexes.c).
 */

CREATE OR REPLACE FUNCTION durable.sa_int(value jsonb) RETURNS bigint
	AS 'MODULE_PATHNAME', 'sa_int' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION durable.sa_int(jsonb) IS 'An Int search-attribute value (search_attributes -> key) as bigint; NULL for a value of another type. The expression of Int keys'' indexes.';

CREATE OR REPLACE FUNCTION durable.sa_double(value jsonb) RETURNS double precision
	AS 'MODULE_PATHNAME', 'sa_double' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION durable.sa_double(jsonb) IS 'A Double search-attribute value as double precision; NULL for a value of another type.';

CREATE OR REPLACE FUNCTION durable.sa_bool(value jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'sa_bool' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION durable.sa_bool(jsonb) IS 'A Bool search-attribute value as boolean; NULL for a value of another type.';

CREATE OR REPLACE FUNCTION durable.sa_datetime(value jsonb) RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'sa_datetime' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION durable.sa_datetime(jsonb) IS 'A Datetime search-attribute value (RFC 3339 text with an offset) as timestamptz; NULL for anything else. Immutable: it depends on neither TimeZone nor DateStyle.';

CREATE OR REPLACE FUNCTION durable.register_search_attribute(
	name text,
	type text,
	namespace text DEFAULT 'default',
	build_index boolean DEFAULT true) RETURNS text
	AS 'MODULE_PATHNAME', 'register_search_attribute' LANGUAGE C;
COMMENT ON FUNCTION durable.register_search_attribute IS 'Register a search-attribute key with its Temporal type (Keyword, Text, Int, Double, Bool, Datetime, KeywordList): starts and upserts check its values, and an expression index serves it. Returns the index''s CREATE INDEX statement (with build_index false, its CONCURRENTLY form, to run by hand). Table owner only.';

CREATE OR REPLACE FUNCTION durable.deregister_search_attribute(
	name text,
	namespace text DEFAULT 'default') RETURNS void
	AS 'MODULE_PATHNAME', 'deregister_search_attribute' LANGUAGE C;
COMMENT ON FUNCTION durable.deregister_search_attribute IS 'Forget a registered search-attribute key; its index is dropped with the last namespace that registered it. Table owner only.';

CREATE OR REPLACE FUNCTION durable.create_site_index(
	name text,
	definition text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'create_site_index' LANGUAGE C;
COMMENT ON FUNCTION durable.create_site_index IS 'Make an index of the site''s own on a durable table (definition: CREATE INDEX name ON durable.<table> ...) and record it in durable.site_indexes, so that it survives dump and restore; with no definition, record an existing one. Returns the recorded definition. Table owner only.';

CREATE OR REPLACE FUNCTION durable.drop_site_index(
	name text) RETURNS void
	AS 'MODULE_PATHNAME', 'drop_site_index' LANGUAGE C;
COMMENT ON FUNCTION durable.drop_site_index IS 'Drop a recorded site index and forget it. Table owner only.';

CREATE OR REPLACE FUNCTION durable.restore_site_indexes() RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'restore_site_indexes' LANGUAGE C;
COMMENT ON FUNCTION durable.restore_site_indexes() IS 'After a restore: make every recorded site index and every registered search-attribute key''s index that is missing; returns their names. Table owner only.';

-- DDL on the extension's tables: the owner's only (after roles.sql, which
-- revokes everything first; each function is granted or closed explicitly)
REVOKE ALL ON FUNCTION durable.register_search_attribute(text, text, text, boolean),
	durable.deregister_search_attribute(text, text), durable.create_site_index(text, text),
	durable.drop_site_index(text), durable.restore_site_indexes() FROM PUBLIC;
-- the helpers appear in the queries that use the indexes
GRANT EXECUTE ON FUNCTION durable.sa_int(jsonb), durable.sa_double(jsonb), durable.sa_bool(jsonb),
	durable.sa_datetime(jsonb) TO PUBLIC;

-- the attempt log and the registered keys: each role sees its namespaces'
-- rows (as namespaces.sql does for the other tables)
SELECT durable._enable_namespace_rls(ARRAY['activity_attempts', 'search_attribute_keys']);
GRANT SELECT ON durable.activity_attempts, durable.search_attribute_keys TO PUBLIC;
GRANT SELECT ON durable.site_indexes TO durable_admin;

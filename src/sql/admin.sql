/*
 * admin.sql
 *	  Administration: retention and namespaces.  Declarations only: the
 *	  functions are C (src/admin.c, src/namespaces.c).
 */

CREATE OR REPLACE FUNCTION durable.purge_closed_workflows(
	older_than interval DEFAULT NULL,
	batch_size integer DEFAULT 10000,
	namespace text DEFAULT 'default') RETURNS bigint
	AS 'MODULE_PATHNAME', 'purge_closed_workflows' LANGUAGE C;
COMMENT ON FUNCTION durable.purge_closed_workflows IS 'Delete runs of a namespace closed longer ago than older_than (by default the namespace''s retention), with their history.';

CREATE OR REPLACE FUNCTION durable.create_namespace(
	name text,
	settings jsonb DEFAULT '{}') RETURNS void
	AS 'MODULE_PATHNAME', 'create_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.create_namespace IS 'Create a namespace; settings: description, retention, max_payload_size. A creator who is not a superuser becomes its admin.';

CREATE OR REPLACE FUNCTION durable.alter_namespace(
	name text,
	settings jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'alter_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.alter_namespace IS 'Change a namespace''s settings: a key left out stays, a JSON null clears it.';

CREATE OR REPLACE FUNCTION durable.drop_namespace(
	name text) RETURNS void
	AS 'MODULE_PATHNAME', 'drop_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.drop_namespace IS 'Drop an empty namespace and its grants (never default).';

CREATE OR REPLACE FUNCTION durable.grant_namespace(
	namespace text,
	role regrole,
	capability text) RETURNS void
	AS 'MODULE_PATHNAME', 'grant_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.grant_namespace IS 'Grant a role (and its members) client, worker or admin in a namespace.';

CREATE OR REPLACE FUNCTION durable.revoke_namespace(
	namespace text,
	role regrole,
	capability text DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'revoke_namespace' LANGUAGE C;
COMMENT ON FUNCTION durable.revoke_namespace IS 'Revoke a capability (all of them for NULL) a role holds in a namespace.';

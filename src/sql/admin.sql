/*
 * admin.sql
 *	  Administration (role durable_admin).  Declarations only: the functions
 *	  are C (src/admin.c).
 */

CREATE OR REPLACE FUNCTION durable.purge_closed_workflows(
	older_than interval,
	batch_size integer DEFAULT 10000) RETURNS bigint
	AS 'MODULE_PATHNAME', 'purge_closed_workflows' LANGUAGE C;
COMMENT ON FUNCTION durable.purge_closed_workflows IS 'Delete runs closed longer ago than older_than, with their history (retention).';

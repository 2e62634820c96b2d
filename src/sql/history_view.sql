/*
 * history_view.sql
 *	  durable.history: the event history, event by event, for DBAs and for
 *	  get_history.  A view over durable.history_batches; deleting from it
 *	  deletes the batches that hold the deleted events.  It runs with the
 *	  caller's rights (security_invoker), so row-level security on the
 *	  batches applies to it.
 */

CREATE OR REPLACE FUNCTION durable._batch_events(last_event_id bigint, events bytea,
	OUT event_id bigint, OUT event_type text, OUT event_time timestamptz, OUT attributes jsonb)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', '_batch_events' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION durable._batch_events IS 'The events of a stored history batch (durable.history_batches.events), one row each.';

CREATE OR REPLACE VIEW durable.history WITH (security_invoker = true) AS
	SELECT b.run_id, e.event_id, e.event_type, e.event_time, e.attributes, b.namespace
	FROM durable.history_batches b,
		 LATERAL durable._batch_events(b.last_event_id, b.events) AS e;
COMMENT ON VIEW durable.history IS 'Event history of every run, one row per event: the source of truth workers replay.';
COMMENT ON COLUMN durable.history.run_id IS 'The run (durable.workflows.run_id).';
COMMENT ON COLUMN durable.history.event_id IS 'Position in the run''s history, contiguous from 1.';
COMMENT ON COLUMN durable.history.event_type IS 'Temporal event type name, e.g. ActivityTaskCompleted.';
COMMENT ON COLUMN durable.history.event_time IS 'When the event was recorded.';
COMMENT ON COLUMN durable.history.attributes IS 'Event attributes (docs/protocol.md).';
COMMENT ON COLUMN durable.history.namespace IS 'The run''s namespace. The view runs with its caller''s rights, so it shows the rows of the caller''s namespaces only.';

/*
 * DELETE FROM durable.history removes whole batches: the history is written
 * and kept by batch.  A cold path for DBAs and tests, so PL/pgSQL.
 */
CREATE OR REPLACE FUNCTION durable._history_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	-- the batch holding the event: the first that ends at or after it, if
	-- the event is in it (an earlier row of the statement may have taken
	-- the batch already)
	DELETE FROM durable.history_batches b
	WHERE b.run_id = OLD.run_id
	  AND b.last_event_id = (SELECT pg_catalog.min(c.last_event_id) FROM durable.history_batches c
							 WHERE c.run_id = OLD.run_id AND c.last_event_id >= OLD.event_id)
	  AND EXISTS (SELECT FROM durable._batch_events(b.last_event_id, b.events) e
				  WHERE e.event_id = OLD.event_id);
	RETURN OLD;
END
$$;
COMMENT ON FUNCTION durable._history_delete() IS 'INSTEAD OF DELETE on durable.history: deletes the batch holding the event.';

CREATE OR REPLACE TRIGGER history_delete INSTEAD OF DELETE ON durable.history
	FOR EACH ROW EXECUTE FUNCTION durable._history_delete();

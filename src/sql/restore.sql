/*
 * restore.sql
 *	  Restores that resume (docs/backup.md): the trigger that tells the
 *	  engine about rows written into its tables by SQL (a restore's COPY or
 *	  INSERT, a DBA's UPDATE), and the rebuild of the task queue on demand.
 *	  Declarations only: the functions are C (src/restore.c).  The engine's
 *	  own writes never fire the trigger (it writes the heap directly).
 */

CREATE OR REPLACE FUNCTION durable._data_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', '_data_changed' LANGUAGE C;
COMMENT ON FUNCTION durable._data_changed IS 'Internal: statement trigger on durable''s tables: rows written by SQL (a restore) make the engine rebuild the task queue and rescan timers once they settle.';

-- the tables whose rows make work for the engine; DELETE and TRUNCATE make none
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.workflows
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.activities
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.timers
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.buffered_events
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.history_batches
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.children
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.updates
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.signal_requests
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();
CREATE OR REPLACE TRIGGER data_changed BEFORE INSERT OR UPDATE ON durable.schedules
	FOR EACH STATEMENT EXECUTE FUNCTION durable._data_changed();

CREATE OR REPLACE FUNCTION durable.rebuild_task_queue() RETURNS void
	AS 'MODULE_PATHNAME', 'rebuild_task_queue' LANGUAGE C;
COMMENT ON FUNCTION durable.rebuild_task_queue IS 'Admin: mark the task queue stale; at commit the engine rebuilds it (a task for every scheduled workflow task and activity attempt that has none) and looks at every timer again. Returns at once; durable.engine_state has its row again when done. DU040 in a read-only transaction.';

-- superusers (and the extension's owner) only: it concerns every namespace
REVOKE ALL ON FUNCTION durable._data_changed(), durable.rebuild_task_queue() FROM PUBLIC;

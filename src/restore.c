/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Noticing data written into durable's tables by SQL — a restore, or a
 *	  DBA — so that the engine rebuilds its task queue and looks at every
 *	  timer again, without being asked (docs/backup.md).
 *
 * The engine writes its tables with heap_insert and friends (tables.c), so
 * no trigger ever fires for its own writes.  Rows that arrive by SQL do
 * fire them: a statement-level trigger, durable._data_changed, sits on
 * every table whose rows make work for the engine (runs, activities,
 * timers, buffered events, history, children, updates, signal requests,
 * schedules) for INSERT and UPDATE, COPY included.  Deleting rows makes no
 * work, so DELETE and TRUNCATE (retention) do not fire it.  The utility
 * hook (launcher.c) also sees COPY FROM into durable's tables, which
 * catches `pg_restore --disable-triggers`, and ALTER TABLE ... ENABLE or
 * DISABLE TRIGGER on them (the same restore wraps each table in those),
 * when the user may run them (a COPY bound to fail holds no one off).  durable's own SQL
 * writes (schedules.c's SPI) raise dur_own_sql_writes and are not counted.
 *
 * What a noticed write does:
 *	- it deletes the row of the unlogged durable.engine_state in its own
 *	  transaction: the queue is "not whole" exactly when the data commits,
 *	  and stays so across a restart until the engine has rebuilt it;
 *	- while a COPY into durable's tables runs, and for
 *	  durable.restore_settle_time after the last such statement or commit,
 *	  the engine holds off (no timers, no rebuild): a restore commits table
 *	  by table, and a timer whose run has not arrived yet must not fire
 *	  (it would find no run and be dropped);
 *	- its commit changes the database's generation (DurRestoreSlot.gen) and
 *	  sets the engine's latch; once the data settles the engine sees the
 *	  new generation, rebuilds the task queue from scratch and scans every
 *	  timer from the start (engine.c, timers.c);
 *	- for ten minutes after, a due timer whose run (or, for an activity
 *	  timer, activity) does not exist is put off by 10 s instead of
 *	  dropped (dur_restore_recent, timers.c): a parallel
 *	  restore may load a large table of the application's between two of
 *	  durable's, longer than the settle time.
 * Nothing here runs on the engine's own paths: the hot path pays nothing.
 *
 * Locking: DurRestoreSlot under dur_shared->lock, exclusive to change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "restore.h"

PG_FUNCTION_INFO_V1(_data_changed);
PG_FUNCTION_INFO_V1(rebuild_task_queue);

/* GUC: how long the engine waits after the last SQL write before it acts */
int			dur_restore_settle_time = 2000;

/* How long after the last SQL write a timer without its run is kept */
#define DUR_RESTORE_RECENT_MS	(10 * 60 * 1000)

/* > 0 while durable itself writes its tables by SQL (schedules.c) */
int			dur_own_sql_writes = 0;

typedef enum DurNote
{
	DUR_NOTE_WRITE,				/* INSERT or UPDATE by SQL, ALTER TABLE */
	DUR_NOTE_COPY,				/* a COPY FROM starts */
	DUR_NOTE_DEMAND				/* rebuild_task_queue() */
} DurNote;

static bool changed_in_xact = false;	/* bump the generation at commit */
static bool settle_in_xact = false; /* and hold the engine off a while */
static bool counted_copy = false;	/* counted in DurRestoreSlot.loading */
static bool callbacks_registered = false;

/* Define durable.restore_settle_time; called from _PG_init. */
void
dur_restore_define_gucs(void)
{
	DefineCustomIntVariable("durable.restore_settle_time",
							"How long the engine waits after data was last written into its tables by SQL "
							"(a restore) before it rebuilds the task queue and fires timers.",
							"A restore commits table by table: the engine must not act on half of it.",
							&dur_restore_settle_time,
							2000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * The restore slot of a database, made if asked (reusing the one idle the
 * longest when all are taken); NULL if none.  Caller holds dur_shared->lock,
 * exclusively to make one.
 */
static DurRestoreSlot *
dur_restore_slot(Oid dboid, bool make)
{
	DurRestoreSlot *free_slot = NULL;
	int			i;

	for (i = 0; i < DUR_MAX_DATABASES; i++)
	{
		DurRestoreSlot *r = &dur_shared->restores[i];

		if (r->dboid == dboid)
			return r;
		if (!make || r->loading > 0)
			continue;
		if (free_slot == NULL ||
			(OidIsValid(free_slot->dboid) &&
			 (!OidIsValid(r->dboid) || r->quiet_after < free_slot->quiet_after)))
			free_slot = r;
	}
	if (free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(DurRestoreSlot));
		free_slot->dboid = dboid;
	}
	return free_slot;
}

/* Set this database's engine's latch.  Caller holds dur_shared->lock. */
static void
dur_restore_wake_engine(void)
{
	DurEngineSlot *slot = dur_find_engine(MyDatabaseId);

	if (slot != NULL && slot->latch != NULL)
		SetLatch(slot->latch);
}

/* Hold the engine off until the settle time from now.  Caller holds the lock. */
static void
dur_restore_settle(DurRestoreSlot *r)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), dur_restore_settle_time);

	if (until > r->quiet_after)
		r->quiet_after = until;
}

/* Transaction end: a commit that wrote durable's tables by SQL tells the engine. */
static void
dur_restore_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (changed_in_xact && dur_shared != NULL)
			{
				DurRestoreSlot *r;

				LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
				r = dur_restore_slot(MyDatabaseId, true);
				if (r != NULL)
				{
					r->gen = ++dur_shared->restore_gen;
					if (settle_in_xact)
						dur_restore_settle(r);
				}
				dur_restore_wake_engine();
				LWLockRelease(dur_shared->lock);
			}
			changed_in_xact = settle_in_xact = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			changed_in_xact = settle_in_xact = false;
			break;
		default:
			break;
	}
}

/* A COPY into durable's tables ended (or its backend exits): stop counting it. */
void
dur_restore_statement_end(void)
{
	if (!counted_copy || dur_shared == NULL)
		return;
	counted_copy = false;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	{
		DurRestoreSlot *r = dur_restore_slot(MyDatabaseId, false);

		if (r != NULL)
		{
			if (r->loading > 0)
				r->loading--;
			dur_restore_settle(r);
		}
		dur_restore_wake_engine();
	}
	LWLockRelease(dur_shared->lock);
}

/* Backend exit (a FATAL error skips the utility hook's cleanup). */
static void
dur_restore_exit(int code, Datum arg)
{
	dur_restore_statement_end();
}

/*
 * Empty durable.engine_state in the current transaction: the queue is no
 * longer whole once it commits.  Done as the bootstrap superuser (the
 * table is granted to no one, and a restore may run as the tables' owner).
 */
static void
dur_restore_clear_marker(void)
{
	Oid			save_user;
	int			save_sec;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("DELETE FROM durable.engine_state", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "durable: could not clear durable.engine_state");
	PopActiveSnapshot();
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
}

/* Note a write into durable's tables by SQL (see the file's comment). */
static void
dur_restore_note(DurNote what)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(dur_restore_xact_callback, NULL);
		before_shmem_exit(dur_restore_exit, (Datum) 0);
		callbacks_registered = true;
	}
	dur_restore_clear_marker();
	changed_in_xact = true;
	if (what == DUR_NOTE_DEMAND || dur_shared == NULL)
		return;
	settle_in_xact = true;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	{
		DurRestoreSlot *r = dur_restore_slot(MyDatabaseId, true);

		if (r != NULL)
		{
			if (what == DUR_NOTE_COPY && !counted_copy)
			{
				r->loading++;
				counted_copy = true;
			}
			dur_restore_settle(r);
		}
	}
	LWLockRelease(dur_shared->lock);
}

/*
 * Is the relation one of durable's tables whose rows a restore brings, and
 * may the current user write it (INSERT, or own it for ALTER TABLE)?  A
 * statement that is going to fail its privilege check holds no one off.
 */
static bool
dur_restore_is_durable_table(RangeVar *rv, bool owner)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	char	   *nsp;
	char	   *name;

	if (!OidIsValid(relid))
		return false;
	if (owner ? !pg_class_ownercheck(relid, GetUserId()) :
		pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		return false;
	nsp = get_namespace_name(get_rel_namespace(relid));
	if (nsp == NULL || strcmp(nsp, "durable") != 0)
		return false;
	name = get_rel_name(relid);
	return name != NULL && strcmp(name, "tasks") != 0 && strcmp(name, "engine_state") != 0;
}

/* Does the ALTER TABLE enable or disable triggers (and only that)? */
static bool
dur_restore_alters_triggers(AlterTableStmt *alter)
{
	ListCell   *lc;

	if (alter->objtype != OBJECT_TABLE || alter->cmds == NIL)
		return false;
	foreach(lc, alter->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_EnableTrig:
			case AT_EnableAlwaysTrig:
			case AT_EnableReplicaTrig:
			case AT_EnableTrigAll:
			case AT_EnableTrigUser:
			case AT_DisableTrig:
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
				break;
			default:
				return false;
		}
	}
	return true;
}

/*
 * From the utility hook, before a statement runs: COPY FROM into durable's
 * tables counts as loading until dur_restore_statement_end (returns true:
 * the caller must call it however the statement ends); ALTER TABLE ...
 * ENABLE/DISABLE TRIGGER on them (pg_restore --disable-triggers wraps each
 * table's data in those) is a write.  Extension scripts are not restores.
 */
bool
dur_restore_statement_begin(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (creating_extension)
		return false;
	if (IsA(parsetree, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) parsetree;

		if (copy->is_from && copy->relation != NULL &&
			dur_restore_is_durable_table(copy->relation, false))
		{
			dur_restore_note(DUR_NOTE_COPY);
			return counted_copy;
		}
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *alter = (AlterTableStmt *) parsetree;

		if (dur_restore_alters_triggers(alter) && dur_restore_is_durable_table(alter->relation, true))
			dur_restore_note(DUR_NOTE_WRITE);
	}
	return false;
}

/*
 * For the engine: should it hold off now (a COPY into its tables runs, or
 * the last write is younger than the settle time)?  *until is when to look
 * again; *gen the database's generation (0: nothing was ever noticed).
 */
bool
dur_restore_hold(TimestampTz now, TimestampTz *until, uint64 *gen)
{
	DurRestoreSlot *r;
	bool		hold = false;

	*gen = 0;
	LWLockAcquire(dur_shared->lock, LW_SHARED);
	r = dur_restore_slot(MyDatabaseId, false);
	if (r != NULL)
	{
		*gen = r->gen;
		if (r->loading > 0)
		{
			*until = TimestampTzPlusMilliseconds(now, 1000);
			hold = true;
		}
		else if (now < r->quiet_after)
		{
			*until = r->quiet_after;
			hold = true;
		}
	}
	LWLockRelease(dur_shared->lock);
	return hold;
}

/*
 * For the timer service: did data arrive by SQL in this database within
 * DUR_RESTORE_RECENT_MS (or is it arriving)?  Then a timer whose run is
 * missing may be waiting for its run, and is kept (timers.c).
 */
bool
dur_restore_recent(void)
{
	DurRestoreSlot *r;
	bool		recent = false;

	if (dur_shared == NULL)
		return false;
	LWLockAcquire(dur_shared->lock, LW_SHARED);
	r = dur_restore_slot(MyDatabaseId, false);
	if (r != NULL && r->gen != 0)
		recent = r->loading > 0 ||
			GetCurrentTimestamp() < TimestampTzPlusMilliseconds(r->quiet_after, DUR_RESTORE_RECENT_MS);
	LWLockRelease(dur_shared->lock);
	return recent;
}

/*
 * _data_changed(): the statement-level trigger on durable's tables (see
 * the file's comment).
 */
Datum
_data_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("durable._data_changed() was not called as a trigger"),
				 errdetail("It is the trigger that tells the engine about rows written by SQL."),
				 errhint("To rebuild the task queue, call durable.rebuild_task_queue().")));
	if (dur_own_sql_writes == 0)
		dur_restore_note(DUR_NOTE_WRITE);
	return PointerGetDatum(NULL);
}

/*
 * rebuild_task_queue() returns void: mark the task queue stale; when the
 * transaction commits, the engine rebuilds it (adding the task of every
 * scheduled workflow task and activity attempt that has none) and looks
 * at every timer again.  Returns at once; durable.engine_state has its row
 * again when the rebuild is done.
 */
Datum
rebuild_task_queue(PG_FUNCTION_ARGS)
{
	dur_require_engine();
	if (RecoveryInProgress() || XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_READ_ONLY_REBUILD),
				 errmsg("cannot rebuild the task queue in a read-only transaction"),
				 errdetail("The rebuild is started by a write the transaction commits%s.",
						   RecoveryInProgress() ? ", and a standby has no engine" : ""),
				 errhint("Call durable.rebuild_task_queue() on the primary, in a read-write transaction.")));
	dur_restore_note(DUR_NOTE_DEMAND);
	PG_RETURN_VOID();
}

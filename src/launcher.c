/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: one engine worker per database that has the extension.
 *
 * The launcher is a static background worker that connects to no database
 * and reads only the shared catalog pg_database.  For every database that
 * accepts connections and is not a template it keeps a DurEngineSlot:
 *
 *	UNKNOWN	-> start an engine worker; the engine looks for the extension
 *			   and sets ACTIVE, or ABSENT and exits.
 *	ABSENT	-> nothing runs; CREATE EXTENSION durable sets UNKNOWN again.
 *	ACTIVE	-> an engine worker must run; one that exits is restarted after
 *			   a second.  DROP EXTENSION makes the engine set ABSENT and exit.
 *
 * The launcher is registered with BgWorkerStart_RecoveryFinished, so on a
 * standby it does not run at all.
 *
 * Commands that need a database without other sessions (DROP DATABASE,
 * CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME or SET
 * TABLESPACE) would fail while an engine is connected.  The utility hook
 * here pauses that database's slot, stops its engine and waits for it to
 * exit, runs the command, and unpauses: DROP DATABASE is never blocked.
 *
 * Locking: slots change under dur_shared->lock.  An engine owns slot->pid
 * and slot->latch and clears them when it exits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "restore.h"

PG_FUNCTION_INFO_V1(_engine_workers);

/* How long an engine that exited stays down before it is restarted. */
#define DUR_RESTART_DELAY_MS	1000

/* How long a DDL command waits for an engine to exit. */
#define DUR_PAUSE_WAIT_MS		10000

static BackgroundWorkerHandle *engine_handles[DUR_MAX_DATABASES];
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void dur_launcher_scan(void);
static void dur_launcher_start_engines(long *sleep_ms);
static void dur_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);

/* Register the static launcher worker; called from _PG_init. */
void
dur_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "durable");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "dur_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "durable launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "durable launcher");
	RegisterBackgroundWorker(&worker);
}

/* Set the launcher's latch, if it runs. */
void
dur_wake_launcher(void)
{
	Latch	   *latch;

	LWLockAcquire(dur_shared->lock, LW_SHARED);
	latch = dur_shared->launcher_latch;
	if (latch != NULL)
		SetLatch(latch);
	LWLockRelease(dur_shared->lock);
}

/* Launcher exit: forget our latch. */
static void
dur_launcher_exit(int code, Datum arg)
{
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	dur_shared->launcher_pid = 0;
	dur_shared->launcher_latch = NULL;
	LWLockRelease(dur_shared->lock);
}

/* Launcher entry point. */
void
dur_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* No database: the launcher reads shared catalogs only. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("durable launcher");

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	dur_shared->launcher_pid = MyProcPid;
	dur_shared->launcher_latch = MyLatch;
	LWLockRelease(dur_shared->lock);
	before_shmem_exit(dur_launcher_exit, (Datum) 0);

	ereport(LOG, (errmsg("durable launcher started")));

	for (;;)
	{
		long		sleep_ms = dur_launcher_naptime;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		dur_launcher_scan();
		dur_launcher_start_engines(&sleep_ms);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Bring the slots in line with pg_database: a slot for every database that
 * can run an engine, none for databases that are gone.
 */
static void
dur_launcher_scan(void)
{
	Oid			seen[DUR_MAX_DATABASES];
	int			nseen = 0;
	bool		overflow = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			i,
				j;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate || DUR_DATABASE_IS_INVALID(db))
			continue;
		if (nseen < DUR_MAX_DATABASES)
			seen[nseen++] = db->oid;
		else
			overflow = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	if (overflow)
		ereport(WARNING,
				(errmsg("durable supports at most %d databases; some are not served",
						DUR_MAX_DATABASES)));

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	/* Free slots of databases that are gone. */
	for (i = 0; i < DUR_MAX_DATABASES; i++)
	{
		DurEngineSlot *slot = &dur_shared->engines[i];
		bool		present = false;

		if (slot->state == DUR_DB_FREE)
			continue;
		for (j = 0; j < nseen && !present; j++)
			present = (seen[j] == slot->dboid);
		if (!present && slot->pid == 0 && !slot->paused)
		{
			memset(slot, 0, sizeof(DurEngineSlot));
			engine_handles[i] = NULL;
		}
	}
	/* Add slots for new databases. */
	for (j = 0; j < nseen; j++)
	{
		if (dur_find_engine(seen[j]) != NULL)
			continue;
		for (i = 0; i < DUR_MAX_DATABASES; i++)
		{
			DurEngineSlot *slot = &dur_shared->engines[i];

			if (slot->state == DUR_DB_FREE)
			{
				memset(slot, 0, sizeof(DurEngineSlot));
				slot->dboid = seen[j];
				slot->state = DUR_DB_UNKNOWN;
				engine_handles[i] = NULL;
				break;
			}
		}
	}
	LWLockRelease(dur_shared->lock);
}

/*
 * Start an engine for every slot that needs one and has none.  Lowers
 * *sleep_ms when a restart is waiting for its delay.
 */
static void
dur_launcher_start_engines(long *sleep_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < DUR_MAX_DATABASES; i++)
	{
		DurEngineSlot *slot = &dur_shared->engines[i];
		BackgroundWorker worker;
		Oid			dboid;
		pid_t		pid;

		/* Notice engines of ours that have stopped. */
		if (engine_handles[i] != NULL &&
			GetBackgroundWorkerPid(engine_handles[i], &pid) == BGWH_STOPPED)
		{
			pfree(engine_handles[i]);
			engine_handles[i] = NULL;
			LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
			slot->last_exit = now;
			LWLockRelease(dur_shared->lock);
		}

		LWLockAcquire(dur_shared->lock, LW_SHARED);
		dboid = slot->dboid;
		if (slot->state == DUR_DB_FREE || slot->state == DUR_DB_ABSENT ||
			slot->paused || slot->pid != 0 || engine_handles[i] != NULL)
		{
			LWLockRelease(dur_shared->lock);
			continue;
		}
		if (slot->last_exit != 0 &&
			!TimestampDifferenceExceeds(slot->last_exit, now, DUR_RESTART_DELAY_MS))
		{
			LWLockRelease(dur_shared->lock);
			*sleep_ms = Min(*sleep_ms, DUR_RESTART_DELAY_MS);
			continue;
		}
		LWLockRelease(dur_shared->lock);

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = BGW_NEVER_RESTART;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "durable");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "dur_engine_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "durable engine for database %u", dboid);
		snprintf(worker.bgw_type, BGW_MAXLEN, "durable engine");
		worker.bgw_main_arg = ObjectIdGetDatum(dboid);
		worker.bgw_notify_pid = MyProcPid;

		if (!RegisterDynamicBackgroundWorker(&worker, &engine_handles[i]))
		{
			engine_handles[i] = NULL;
			ereport(WARNING,
					(errmsg("durable could not start an engine worker for database %u", dboid),
					 errhint("Raise max_worker_processes.")));
			*sleep_ms = Min(*sleep_ms, DUR_RESTART_DELAY_MS * 5);
		}
	}
}

/* Install the utility hook; called from _PG_init. */
void
dur_install_utility_hook(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = dur_ProcessUtility;
}

/*
 * Pause a database's engine and wait until it has exited.  Returns false if
 * the database has no slot.
 */
static bool
dur_pause_engine(Oid dboid)
{
	DurEngineSlot *slot;
	pid_t		pid;
	int			waited = 0;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	slot = dur_find_engine(dboid);
	if (slot == NULL)
	{
		LWLockRelease(dur_shared->lock);
		return false;
	}
	slot->paused = true;
	pid = slot->pid;
	LWLockRelease(dur_shared->lock);

	if (pid != 0)
		kill(pid, SIGTERM);

	for (;;)
	{
		LWLockAcquire(dur_shared->lock, LW_SHARED);
		pid = slot->pid;
		LWLockRelease(dur_shared->lock);
		if (pid == 0 || waited >= DUR_PAUSE_WAIT_MS)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		waited += 10;
	}
	return true;
}

/* Undo dur_pause_engine and let the launcher decide what runs. */
static void
dur_unpause_engine(Oid dboid)
{
	DurEngineSlot *slot;

	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	slot = dur_find_engine(dboid);
	if (slot != NULL)
		slot->paused = false;
	LWLockRelease(dur_shared->lock);
	dur_wake_launcher();
}

/* The database a utility statement needs to itself, or NULL. */
static const char *
dur_statement_needs_database(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) parsetree)->dbname;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) parsetree)->subname;
			return NULL;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *def = lfirst_node(DefElem, lc);

				if (strcmp(def->defname, "template") == 0 && def->arg != NULL)
					return defGetString(def);
			}
			return NULL;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
			{
				DefElem    *def = lfirst_node(DefElem, lc);

				if (strcmp(def->defname, "tablespace") == 0)
					return ((AlterDatabaseStmt *) parsetree)->dbname;
			}
			return NULL;
		default:
			return NULL;
	}
}

/* Is this DROP EXTENSION or CREATE EXTENSION about durable? */
static bool
dur_statement_is_about_extension(Node *parsetree)
{
	if (IsA(parsetree, CreateExtensionStmt))
		return strcmp(((CreateExtensionStmt *) parsetree)->extname, "durable") == 0;
	if (IsA(parsetree, DropStmt) &&
		((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
	{
		ListCell   *lc;

		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			Node	   *obj = lfirst(lc);

			if (IsA(obj, String) && strcmp(strVal(obj), "durable") == 0)
				return true;
		}
	}
	return false;
}

static void
dur_call_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * Utility hook: keep engines out of the way of database-level DDL, tell
 * the launcher about CREATE/DROP EXTENSION durable at commit, and tell the
 * engine about COPY FROM and ALTER TABLE on its tables (a restore:
 * restore.c).
 */
static void
dur_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	const char *dbname = dur_statement_needs_database(parsetree);
	Oid			dboid = dbname ? get_database_oid(dbname, true) : InvalidOid;

	if (dur_statement_is_about_extension(parsetree))
		dur_request_engine_start();

	if (OidIsValid(dboid) && dur_pause_engine(dboid))
	{
		PG_TRY();
		{
			dur_call_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		}
		PG_FINALLY();
		{
			dur_unpause_engine(dboid);
		}
		PG_END_TRY();
		return;
	}

	if ((IsA(parsetree, CopyStmt) || IsA(parsetree, AlterTableStmt)) &&
		dur_restore_statement_begin(pstmt))
	{
		PG_TRY();
		{
			dur_call_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		}
		PG_FINALLY();
		{
			dur_restore_statement_end();
		}
		PG_END_TRY();
		return;
	}

	dur_call_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
}

static const char *
dur_state_name(DurDbState state)
{
	switch (state)
	{
		case DUR_DB_FREE:
			return "free";
		case DUR_DB_UNKNOWN:
			return "starting";
		case DUR_DB_ABSENT:
			return "no extension";
		case DUR_DB_ACTIVE:
			return "active";
	}
	return "unknown";
}

/*
 * _engine_workers(): one row per database the launcher knows, for the
 * durable.engine_workers view.
 */
Datum
_engine_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DurEngineSlot slots[DUR_MAX_DATABASES];
	int			i;

	dur_require_engine();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(dur_shared->lock, LW_SHARED);
	memcpy(slots, dur_shared->engines, sizeof(slots));
	LWLockRelease(dur_shared->lock);

	for (i = 0; i < DUR_MAX_DATABASES; i++)
	{
		Datum		values[8];
		bool		nulls[8];
		char	   *dbname;

		if (slots[i].state == DUR_DB_FREE)
			continue;
		memset(nulls, 0, sizeof(nulls));
		dbname = get_database_name(slots[i].dboid);
		values[0] = ObjectIdGetDatum(slots[i].dboid);
		if (dbname)
			values[1] = CStringGetTextDatum(dbname);
		else
			nulls[1] = true;
		if (slots[i].pid != 0)
			values[2] = Int32GetDatum(slots[i].pid);
		else
			nulls[2] = true;
		values[3] = CStringGetTextDatum(slots[i].paused ? "paused" :
										slots[i].pid == 0 && slots[i].state == DUR_DB_ACTIVE ?
										"restarting" : dur_state_name(slots[i].state));
		if (slots[i].started_at != 0)
			values[4] = TimestampTzGetDatum(slots[i].started_at);
		else
			nulls[4] = true;
		if (slots[i].pid != 0 && slots[i].next_wakeup != 0 &&
			slots[i].next_wakeup != DT_NOEND)
			values[5] = TimestampTzGetDatum(slots[i].next_wakeup);
		else
			nulls[5] = true;
		values[6] = Int64GetDatum((int64) slots[i].ticks);
		values[7] = CStringGetTextDatum(slots[i].activity);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*-------------------------------------------------------------------------
 *
 * engine.c
 *	  The engine worker: durable's timer service for one database.
 *
 * Every deadline the engine keeps — user timers, activity retries and
 * timeouts, workflow task timeouts, delayed starts, workflow run and
 * execution timeouts — is a row in durable.timers (durable deadlines) or a
 * lease deadline in durable.tasks (deadlines that die with a crash).  The
 * worker loop is:
 *
 *	1. mark itself busy (next_wakeup = 0, pending_wakeup = 0);
 *	2. in one short transaction, SELECT durable._engine_tick(batch), which
 *	   handles what is due (timers.c) and returns the next deadline;
 *	3. publish next_wakeup = min(that deadline, pending_wakeup), where
 *	   pending_wakeup collects deadlines committed by others while it was
 *	   busy (see wakeup.c);
 *	4. sleep on its latch until next_wakeup.  A commit of an earlier
 *	   deadline sets the latch; there is no fixed tick.
 *
 * At start the worker checks that the extension exists (else it marks the
 * database ABSENT and exits) and rebuilds the unlogged task queue if a
 * crash emptied it (durable._engine_startup, in batches it calls until the
 * queue is whole, firing deadlines in between; timers.c).  DROP EXTENSION sets its
 * latch at commit; it then finds the extension gone and exits the same way.
 *
 * Data written into its tables by SQL (a restore: restore.c) holds the
 * worker off while it is being loaded and for durable.restore_settle_time
 * after; then, if any of it committed (the database's restore generation
 * moved), the worker rebuilds the task queue from scratch and scans every
 * timer from the start, as after a crash.  Nobody needs to wake it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "restore.h"

static DurEngineSlot *my_slot = NULL;
static SPIPlanPtr tick_plan = NULL;

/* Engine exit: release the slot so the launcher can start another. */
static void
dur_engine_exit(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
		my_slot->next_wakeup = 0;
		my_slot->last_exit = GetCurrentTimestamp();
	}
	LWLockRelease(dur_shared->lock);
	dur_wake_launcher();
}

/* Set the slot's state and the text shown in durable.engine_workers. */
static void
dur_engine_set(DurDbState state, const char *activity)
{
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	my_slot->state = state;
	strlcpy(my_slot->activity, activity, sizeof(my_slot->activity));
	LWLockRelease(dur_shared->lock);
}

/* Is this backend a database's engine worker? */
bool		dur_is_engine = false;

/*
 * Run one SQL statement returning at most one timestamptz in its own
 * transaction.  Returns false when the extension is not installed.
 */
static bool
dur_engine_run(const char *what, const char *sql, SPIPlanPtr *plan,
			   TimestampTz *result)
{
	bool		present;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);

	present = OidIsValid(get_extension_oid("durable", true));
	*result = DT_NOEND;
	if (present)
	{
		Datum		arg = Int32GetDatum(dur_engine_batch_size);
		Oid			argtype = INT4OID;
		bool		isnull;
		int			ret;

		if (*plan == NULL)
		{
			*plan = SPI_prepare(sql, 1, &argtype);
			if (*plan == NULL)
				elog(ERROR, "durable engine: SPI_prepare failed: %s",
					 SPI_result_code_string(SPI_result));
			SPI_keepplan(*plan);
		}
		ret = SPI_execute_plan(*plan, &arg, NULL, false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "durable engine: unexpected SPI result %d", ret);
		if (SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				*result = DatumGetTimestampTz(d);
		}
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return present;
}

/*
 * Hold off while data is being restored into durable's tables (restore.c),
 * sleeping on the latch; returns the database's restore generation.
 */
static uint64
dur_engine_wait_restore(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz until;
	uint64		gen;
	bool		held = false;

	while (dur_restore_hold(now, &until, &gen))
	{
		if (!held)
			dur_engine_set(my_slot->state, "waiting for restored data to settle");
		held = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(1, TimestampDifferenceMilliseconds(now, until)), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();
	}
	if (held)
		dur_engine_set(my_slot->state, "running");
	return gen;
}

/* Engine worker entry point; the argument is the database's OID. */
void
dur_engine_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	SPIPlanPtr	startup_plan = NULL;
	TimestampTz next;
	bool		rebuilding;
	TimestampTz rebuild_at;		/* when the rebuild asks to go on */
	uint64		restore_gen;
	int			i;

	dur_is_engine = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* Claim the database's slot, unless another engine holds it. */
	LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DUR_MAX_DATABASES; i++)
	{
		DurEngineSlot *slot = &dur_shared->engines[i];

		if (slot->state != DUR_DB_FREE && slot->dboid == dboid &&
			slot->pid == 0 && !slot->paused)
		{
			my_slot = slot;
			slot->pid = MyProcPid;
			slot->latch = MyLatch;
			slot->started_at = GetCurrentTimestamp();
			slot->next_wakeup = 0;
			break;
		}
	}
	LWLockRelease(dur_shared->lock);
	if (my_slot == NULL)
		proc_exit(0);
	before_shmem_exit(dur_engine_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("durable engine");

	/* a restore into a new database may be loading its data already */
	restore_gen = dur_engine_wait_restore();
	if (!dur_engine_run("durable: starting", "SELECT durable._engine_startup($1)",
						&startup_plan, &next))
	{
		dur_engine_set(DUR_DB_ABSENT, "no extension");
		proc_exit(0);
	}
	rebuilding = next != DT_NOEND;
	dur_engine_set(DUR_DB_ACTIVE, "running");
	ereport(LOG, (errmsg("durable engine started for database %u", dboid)));

	for (;;)
	{
		TimestampTz now;
		long		timeout_ms;
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
		my_slot->next_wakeup = 0;
		my_slot->pending_wakeup = 0;
		LWLockRelease(dur_shared->lock);

		/* data arrived by SQL: once it settles, rebuild and rescan (restore.c) */
		{
			uint64		gen = dur_engine_wait_restore();

			if (gen != 0 && gen != restore_gen)
			{
				restore_gen = gen;
				dur_rebuild_restart();
				rebuilding = true;
			}
		}

		/*
		 * The queue rebuild after a crash goes in batches (a run whose lock
		 * is busy waits for another pass), between which deadlines fire.
		 */
		rebuild_at = DT_NOEND;
		if (rebuilding)
		{
			if (dur_engine_run("durable: rebuilding the task queue",
							   "SELECT durable._engine_startup($1)", &startup_plan, &rebuild_at))
				rebuilding = rebuild_at != DT_NOEND;
		}

		if (!dur_engine_run("durable: firing due timers",
							"SELECT durable._engine_tick($1)", &tick_plan, &next))
		{
			dur_engine_set(DUR_DB_ABSENT, "no extension");
			ereport(LOG, (errmsg("durable engine for database %u stops: the extension was dropped",
								 dboid)));
			proc_exit(0);
		}

		LWLockAcquire(dur_shared->lock, LW_EXCLUSIVE);
		if (my_slot->pending_wakeup != 0 && my_slot->pending_wakeup < next)
			next = my_slot->pending_wakeup;
		my_slot->next_wakeup = next;
		my_slot->ticks++;
		LWLockRelease(dur_shared->lock);

		/*
		 * More of the rebuild to do now: go on at once (busy runs were
		 * left for a pass it asked to make later)
		 */
		now = GetCurrentTimestamp();
		if (rebuilding && rebuild_at < next)
			next = rebuild_at;
		if (next <= now)
			continue;
		if (next != DT_NOEND)
		{
			/* rounds up: we wake at or just after the deadline */
			timeout_ms = TimestampDifferenceMilliseconds(now, next);
			events |= WL_TIMEOUT;
		}
		else
			timeout_ms = -1;

		(void) WaitLatch(MyLatch, events, timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

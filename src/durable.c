/*-------------------------------------------------------------------------
 *
 * durable.c
 *	  Module entry point: GUCs, shared memory hooks and the launcher.
 *
 * durable must be in shared_preload_libraries: the launcher, the engine
 * workers and the shared wake-up state exist only then.  Loaded any other
 * way (CREATE EXTENSION in a server that does not preload it) the library
 * still defines its GUCs so that the SQL objects can be created, and every
 * function that needs the engine says so with a hint (dur_require_engine).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "durable.h"
#include "metrics.h"
#include "restore.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* GUC variables */
int			dur_launcher_naptime = 10000;	/* ms */
int			dur_max_payload_size = 2 * 1024 * 1024; /* bytes */
int			dur_engine_batch_size = 200;
bool		dur_sticky_execution = false;
bool		dur_log_first_attempt_success = false;

/* True when loaded from shared_preload_libraries. */
bool		dur_preloaded = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void dur_shmem_request_hook(void);
static void dur_shmem_startup_hook(void);

/*
 * Module load: define GUCs everywhere; hooks and the launcher only when
 * preloaded.
 */
void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;

	DefineCustomIntVariable("durable.max_payload_size",
							"Largest payload (input, result, signal, details) accepted, in bytes.",
							"Measured as the stored size of the jsonb value.",
							&dur_max_payload_size,
							2 * 1024 * 1024, 1024, MaxAllocSize / 2,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.launcher_naptime",
							"How often the launcher looks for databases and restarts engine workers.",
							NULL,
							&dur_launcher_naptime,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.engine_batch_size",
							"How many due timers and timeouts the engine worker handles per transaction.",
							NULL,
							&dur_engine_batch_size,
							200, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("durable.sticky_execution",
							 "Workflow tasks this session completes keep their runs on the completing worker.",
							 "The worker caches the runs (Temporal's sticky execution): their next workflow "
							 "tasks go to it first and carry only the events it lacks.",
							 &dur_sticky_execution,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("durable.log_first_attempt_success",
							 "Log in durable.activity_attempts the activities that complete on their first attempt.",
							 "Off: the log has every attempt that failed, timed out or was canceled, and every "
							 "attempt after a retry; an activity that succeeds at once leaves no row (its "
							 "history has it), which keeps the log's cost off the common path.",
							 &dur_log_first_attempt_success,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	dur_restore_define_gucs();

	MarkGUCPrefixReserved("durable");

	if (!process_shared_preload_libraries_in_progress)
		return;

	dur_preloaded = true;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = dur_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dur_shmem_startup_hook;

	dur_install_utility_hook();
	dur_register_launcher();
}

/* Ask for our shared memory and lock, then chain. */
static void
dur_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	dur_shmem_request();
	dur_metrics_shmem_request();
}

/* Attach to (or create) our shared memory, then chain. */
static void
dur_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	dur_shmem_startup();
	dur_metrics_shmem_startup();
}

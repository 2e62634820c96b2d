/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  durable's shared memory: engine slots and per-backend waiters.
 *
 * One DurShared struct holds a slot per database (the launcher's view of
 * which databases run an engine worker) and a DurWaiter per backend (who is
 * waiting for a task or for a workflow to close).  A single LWLock protects
 * it all; every critical section is a few loads and stores, never I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "durable.h"
#include "queues.h"
#include "updates.h"

DurShared  *dur_shared = NULL;

static Size
dur_shmem_waiters_size(void)
{
	return MAXALIGN(add_size(offsetof(DurShared, waiters),
							 mul_size(DUR_BACKEND_SLOTS(), sizeof(DurWaiter))));
}

/* Size of DurShared with one waiter per backend, then the query and update slots. */
static Size
dur_shmem_size(void)
{
	return add_size(add_size(dur_shmem_waiters_size(), dur_query_shmem_size()),
					dur_update_shmem_size());
}

/* Called from shmem_request_hook. */
void
dur_shmem_request(void)
{
	RequestAddinShmemSpace(dur_shmem_size());
	RequestNamedLWLockTranche("durable", 1);
	dur_queues_shmem_request();
	dur_heartbeats_shmem_request();
}

/* Called from shmem_startup_hook: create or attach. */
void
dur_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dur_shared = ShmemInitStruct("durable", dur_shmem_size(), &found);
	if (!found)
	{
		memset(dur_shared, 0, dur_shmem_size());
		dur_shared->lock = &(GetNamedLWLockTranche("durable"))->lock;
		dur_shared->nwaiters = DUR_BACKEND_SLOTS();
		dur_shared->query_offset = dur_shmem_waiters_size();
		dur_shared->update_offset = dur_shared->query_offset + dur_query_shmem_size();
	}
	LWLockRelease(AddinShmemInitLock);
	dur_queues_shmem_startup();
	dur_heartbeats_shmem_startup();
}

/*
 * Error out unless the library was preloaded: everything that wakes or
 * waits needs the shared state.
 */
void
dur_require_engine(void)
{
	if (dur_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("durable is not loaded"),
				 errdetail("The durable engine runs only when the library is preloaded."),
				 errhint("Add durable to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * The engine slot of a database, or NULL.  Caller holds dur_shared->lock.
 */
DurEngineSlot *
dur_find_engine(Oid dboid)
{
	int			i;

	for (i = 0; i < DUR_MAX_DATABASES; i++)
	{
		DurEngineSlot *slot = &dur_shared->engines[i];

		if (slot->state != DUR_DB_FREE && slot->dboid == dboid)
			return slot;
	}
	return NULL;
}

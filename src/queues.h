/*-------------------------------------------------------------------------
 *
 * queues.h
 *	  Task-queue state shared by every backend: fairness clocks, rate
 *	  limits, the pollers seen and each queue's settings.
 *
 * See queues.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_QUEUES_H
#define DURABLE_QUEUES_H

#include "utils/jsonb.h"

#include "tables.h"

/* Temporal's priority keys: 1 is served first, 5 last, 3 by default. */
#define DUR_PRIORITY_HIGHEST	1
#define DUR_PRIORITY_LOWEST		5
#define DUR_PRIORITY_DEFAULT	3

/* Longest build id, and longest capabilities object as JSON text. */
#define DUR_MAX_BUILD_BYTES		255
#define DUR_MAX_CAPABILITIES_BYTES 1000

/* Weights a fairness key may have. */
#define DUR_MIN_WEIGHT			0.001
#define DUR_MAX_WEIGHT			1000.0

/* The affinity of a task pinned to one worker (tasks.sticky_worker). */
#define DUR_AFFINITY_PINNED		"@pinned"

/*
 * Where a task goes and in what order: what a run or an activity asked
 * for, resolved (inheritance applied, build chosen).
 */
typedef struct DurRouting
{
	int32		priority;		/* 1..5 */
	const char *fairness_key;	/* NULL: the default key */
	double		fairness_weight;	/* > 0 */
	const char *affinity;		/* "" none, canonical required capabilities,
								 * or DUR_AFFINITY_PINNED */
	const char *build_id;		/* "" any build */
	const char *pinned_worker;	/* the only worker that may take it, or NULL */
} DurRouting;

/* A queue's settings (durable.task_queues), as cached. */
typedef struct DurQueueSettings
{
	double		tasks_per_second;	/* 0: no limit */
	double		worker_tasks_per_second;	/* 0: no limit */
	char	   *current_build;	/* NULL: none */
	char	   *ramping_build;	/* NULL: none */
	float4		ramping_percentage;
} DurQueueSettings;

/* One poll: who asks, with what build and capabilities, for what. */
typedef struct DurPoller
{
	const char *worker;
	const char *build_id;		/* "" unversioned */
	Jsonb	   *capabilities;	/* NULL: none */
	int			kinds;			/* DUR_KIND_* bits */
} DurPoller;

extern Size dur_queues_shmem_size(void);
extern void dur_queues_shmem_request(void);
extern void dur_queues_shmem_startup(void);

extern int32 dur_check_priority(int32 priority, const char *what);
extern void dur_check_fairness(const char *key, bool has_weight, double weight,
							   const char *what);
extern char *dur_affinity_of(Jsonb *capabilities, const char *what);
extern void dur_check_build_id(const char *build_id, const char *what);

extern void dur_queue_settings(const char *namespace, const char *queue, DurQueueSettings *out);
extern const char *dur_queue_target_build(const DurQueueSettings *qs, const char *workflow_id);
extern int64 dur_queue_pass(DurCall *call, const char *namespace, const char *queue,
							const DurRouting *r);
extern void dur_queue_dispatched(const char *namespace, const char *queue, bool activity,
								 int32 priority, int64 pass);
extern TimestampTz dur_queue_take_token(const char *namespace, const char *queue,
										const char *worker);
extern void dur_queue_return_token(const char *namespace, const char *queue, const char *worker);
extern void dur_queue_poller_seen(const char *namespace, const char *queue, const DurPoller *p);
extern bool dur_capabilities_match(Jsonb *capabilities, const char *affinity);
extern bool dur_queue_worker_capable(const char *namespace, const char *queue, const char *worker,
									 const char *affinity);

#endif							/* DURABLE_QUEUES_H */

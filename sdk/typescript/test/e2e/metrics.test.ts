/**
 * The worker's Prometheus metrics (WorkerOptions.metricsRegistry), scraped
 * from a prom-client Registry after real workflows ran.  Names are
 * Temporal's SDK metrics (https://docs.temporal.io/references/sdk-metrics:
 * worker_task_slots_used, workflow_task_schedule_to_start_latency,
 * sticky_cache_hit, sticky_cache_total_forced_eviction,
 * activity_execution_failed, ... with the temporal_ prefix).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Worker } from '../../src';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor } from '../helpers/env';

const BASIC = require.resolve('../workflows/basic');

let env: Env;
const registry = new Registry();

/** The value of one sample of the scrape text (labels as a substring of the label set), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[3] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(m[4]);
  }
  return undefined;
}

before(async () => {
  env = await startEnv([TEST_SCHEMA]);
});

after(async () => {
  await env?.stop();
});

describe('worker metrics (prom-client)', () => {
  it('slots, latencies, poll latency, sticky cache hits, misses and evictions, failures', async () => {
    const worker = await env.startWorker({
      taskQueue: 'metrics', workflowsPath: BASIC, activities: createTestActivities(env.pool), metricsRegistry: registry,
      maxCachedWorkflows: 1, maxConcurrentWorkflowTasks: 4, maxConcurrentActivities: 5,
    });
    // a second worker on the same registry: the metrics are registered once, series differ by task queue
    await env.startWorker({ taskQueue: 'metrics-2', workflowsPath: BASIC, activities: createTestActivities(env.pool), metricsRegistry: registry });
    const chains = await Promise.all([1, 2, 3].map((i) => env.client.workflow.start('chain', { taskQueue: 'metrics', workflowId: `m-chain-${i}`, args: [4] })));
    assert.deepEqual(await Promise.all(chains.map((h) => h.result())), [10, 10, 10]);
    // with room for one run, a second run waiting for a signal evicts the first (deterministically)
    for (const id of ['m-wait-a', 'm-wait-b']) {
      const h = await env.client.workflow.start('collector', { taskQueue: 'metrics', workflowId: id });
      await waitFor(async () => (await h.fetchHistory()).some((e) => e.event_type === 'WorkflowTaskCompleted'), `${id} waits`);
    }
    for (const id of ['m-wait-a', 'm-wait-b']) await env.client.workflow.getHandle(id).signal('go', 'done');
    for (const id of ['m-wait-a', 'm-wait-b']) await env.client.workflow.getHandle(id).result();
    const flaky = await env.client.workflow.start('retrying', { taskQueue: 'metrics', workflowId: 'm-flaky', args: ['m-flaky', 2] });
    assert.equal(await flaky.result(), 3);

    const q = { namespace: 'default', task_queue: 'metrics' };
    // slots: nothing runs once the last completions have released theirs (a result can be seen a moment before);
    // available is the configured maximum (Temporal's worker_type labels)
    const text: string = await waitFor<string | undefined>(async () => {
      const t = await registry.metrics();
      return sample(t, 'temporal_worker_task_slots_used', { ...q, worker_type: 'WorkflowWorker' }) === 0 ? t : undefined;
    }, 'the workflow slots free') as string;
    assert.equal(sample(text, 'temporal_worker_task_slots_available', { ...q, worker_type: 'ActivityWorker' }), 5);
    assert.equal(sample(text, 'temporal_worker_task_slots_available', { task_queue: 'metrics-2', worker_type: 'WorkflowWorker' }), 8);
    // sticky cache: later workflow tasks of a run are served by the cache; evictions make room
    assert.ok(sample(text, 'temporal_sticky_cache_hit', q)! > 0, text);
    assert.ok(sample(text, 'temporal_sticky_cache_miss', q)! >= 4);
    assert.ok(sample(text, 'temporal_sticky_cache_total_forced_eviction', q)! > 0);
    assert.ok(sample(text, 'temporal_sticky_cache_size', q)! <= 1);
    assert.equal(sample(text, 'temporal_sticky_cache_hit', q), worker.stats.cacheHits);
    // two failed attempts of failTimes
    assert.equal(sample(text, 'temporal_activity_execution_failed', q), 2);
    assert.equal(sample(text, 'temporal_workflow_task_execution_failed', q), 0);
    // latencies: every workflow task and activity attempt observed once
    assert.equal(sample(text, 'temporal_workflow_task_execution_latency_count', q), worker.stats.workflowTasks);
    assert.equal(sample(text, 'temporal_workflow_task_schedule_to_start_latency_count', q), worker.stats.workflowTasks);
    assert.equal(sample(text, 'temporal_activity_execution_latency_count', { ...q, activity_type: 'add' }), 12);
    assert.equal(sample(text, 'temporal_activity_schedule_to_start_latency_count', { ...q, activity_type: 'failTimes' }), 3);
    assert.ok(sample(text, 'temporal_activity_execution_latency_bucket', { ...q, activity_type: 'add', le: '+Inf' }) === 12);
    assert.ok(sample(text, 'durable_worker_poll_latency_seconds_count', { ...q, worker_type: 'WorkflowWorker', outcome: 'task' })! >= 1);
    assert.match(text, /# TYPE temporal_sticky_cache_hit counter/);
    assert.match(text, /# TYPE temporal_workflow_task_schedule_to_start_latency histogram/);

    // counters keep growing across scrapes (they are fed the difference)
    const again = await registry.metrics();
    assert.equal(sample(again, 'temporal_sticky_cache_hit', q), worker.stats.cacheHits);

    // a stopped worker's gauges go
    await worker.shutdown();
    const later = await registry.metrics();
    assert.equal(sample(later, 'temporal_worker_task_slots_used', q), undefined);
    assert.notEqual(sample(later, 'temporal_worker_task_slots_used', { task_queue: 'metrics-2' }), undefined);
  });

  it('a worker without a registry keeps no metrics', async () => {
    const w = await Worker.create({ connectionString: env.cluster.connectionString, taskQueue: 'plain', workflowsPath: BASIC, shutdownSignals: false });
    assert.equal(w.metrics, undefined);
    await w.shutdown();
  });
});

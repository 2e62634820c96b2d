/**
 * Sticky execution (durable 0.3): a worker's completions make the run sticky
 * to it, and its next workflow tasks carry only the events after the last
 * task it completed.  Whatever way the worker gets the history — partial
 * and continued by the cached run, partial and completed with
 * durable.workflow_task_history (evicted, restarted), or whole (another
 * worker, stickiness off) — the workflow must see the same thing and write
 * the same history.
 */
import assert from 'node:assert/strict';
import { ChildProcess, fork } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { HistoryEvent, Worker } from '../../src';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor } from '../helpers/env';

const BASIC = require.resolve('../workflows/basic');
const WORKER_PROCESS = require.resolve('../helpers/worker-process');
const ROUNDS = 3;

let env: Env;

before(async () => {
  env = await startEnv([TEST_SCHEMA]);
});

after(async () => {
  await env?.stop();
});

/** A history without what differs between two runs of the same code: times, identities, run ids. */
function shape(history: HistoryEvent[]): unknown[] {
  return history.map((e) => {
    const a = { ...e.attributes };
    for (const k of ['identity', 'task_queue', 'request_id', 'first_execution_run_id']) delete a[k];
    return { id: e.event_id, type: e.event_type, attributes: a };
  });
}

async function stickyWorker(workflowId: string): Promise<string | null> {
  const r = await env.pool.query('SELECT sticky_worker FROM durable.workflows WHERE workflow_id = $1', [workflowId]);
  return r.rows[0]?.sticky_worker ?? null;
}

/**
 * Drive observer workflows round by round, all of them one round at a time
 * (so a worker with a small cache has to evict): signal each, wait until it
 * has done the round.  `between(round)` runs before each round.
 */
async function drive(ids: string[], queue: string, between?: (round: number) => Promise<void>): Promise<unknown[]> {
  const handles = await Promise.all(ids.map((id) => env.client.workflow.start('observer', { args: [ROUNDS], taskQueue: queue, workflowId: id })));
  // the workflow waits for the signal (or has completed): its last workflow task completed, nothing after it
  const idle = async (id: string): Promise<boolean> =>
    ['WorkflowTaskCompleted', 'WorkflowExecutionCompleted'].includes((await env.client.workflow.getHandle(id).fetchHistory()).at(-1)?.event_type ?? '');
  for (let round = 0; round < ROUNDS; round++) {
    if (between) await between(round);
    for (const h of handles) {
      await waitFor(() => idle(h.workflowId), `${h.workflowId} waiting for round ${round}`);
      await h.signal('go', `round-${round}`);
      await waitFor(async () => (await h.query('state')) === String(round + 1) && idle(h.workflowId), `${h.workflowId} round ${round}`);
    }
  }
  return Promise.all(handles.map((h) => h.result()));
}

/** The reference: the same workflows run by a worker without sticky execution. */
let reference: { result: unknown; history: unknown[] } | undefined;

async function referenceRun(): Promise<{ result: unknown; history: unknown[] }> {
  if (!reference) {
    const w = await env.startWorker({ taskQueue: 'st-ref', workflowsPath: BASIC, activities: createTestActivities(env.pool), stickyExecution: false });
    const [result] = await drive(['st-ref'], 'st-ref');
    reference = { result, history: shape(await env.client.workflow.getHandle('st-ref').fetchHistory()) };
    assert.equal(w.stats.partialHistories, 0, 'a worker without sticky execution gets whole histories');
    assert.ok(w.stats.cacheHits > 0, 'its cache still serves the tasks');
    assert.equal(await stickyWorker('st-ref'), null);
    await w.shutdown();
  }
  return reference;
}

async function assertSame(workflowId: string, result: unknown): Promise<void> {
  const ref = await referenceRun();
  assert.deepEqual(result, ref.result, `${workflowId}: what the workflow saw`);
  assert.deepEqual(shape(await env.client.workflow.getHandle(workflowId).fetchHistory()), ref.history, `${workflowId}: its history`);
}

describe('sticky execution', () => {
  it('stickyExecution: false: whole histories, no sticky worker recorded', async () => {
    const ref = await referenceRun();
    assert.equal((ref.result as unknown[]).length, ROUNDS);
  });

  it('a cached run continues from partial histories; queries use the cached run', async () => {
    const w = await env.startWorker({ taskQueue: 'st-cached', identity: 'st-cached', workflowsPath: BASIC, activities: createTestActivities(env.pool) });
    let sticky: string | null = null;
    const [result] = await drive(['st-cached'], 'st-cached', async (round) => {
      if (round === 1) sticky = await stickyWorker('st-cached');
    });
    assert.equal(sticky, 'st-cached', 'the run is sticky to the worker that completed its task');
    await assertSame('st-cached', result);
    // every workflow task after the first: partial, served by the cache, no history read again
    const s = w.stats;
    assert.equal(s.fullReplays, 1, JSON.stringify(s));
    assert.equal(s.historyFetches, 0, JSON.stringify(s));
    assert.equal(s.partialHistories, s.workflowTasks - 1, JSON.stringify(s));
    assert.equal(s.cacheHits, s.workflowTasks - 1, JSON.stringify(s));
    assert.ok(s.queryTasks >= ROUNDS);
    await w.shutdown();
  });

  it('runs evicted from a small cache recover with durable.workflow_task_history', async () => {
    const w = await env.startWorker({
      taskQueue: 'st-evict', identity: 'st-evict', workflowsPath: BASIC, activities: createTestActivities(env.pool), maxCachedWorkflows: 1,
    });
    const ids = ['st-evict-1', 'st-evict-2', 'st-evict-3'];
    const results = await drive(ids, 'st-evict');
    for (let i = 0; i < ids.length; i++) await assertSame(ids[i], results[i]);
    const s = w.stats;
    assert.ok(s.historyFetches >= ids.length * (ROUNDS - 1), JSON.stringify(s));
    assert.equal(s.historyFetches, s.partialHistories - s.cacheHits, JSON.stringify(s));
    assert.equal(s.failedWorkflowTasks, 0);
    assert.ok(w.cachedWorkflows <= 1);
    await w.shutdown();
  });

  it('a worker restarted with the same identity gets a partial history and reads the whole one', async () => {
    const opts = { taskQueue: 'st-restart', identity: 'st-restart', workflowsPath: BASIC, activities: createTestActivities(env.pool) };
    let w: Worker = await env.startWorker(opts);
    const first = w;
    const [result] = await drive(['st-restart'], 'st-restart', async (round) => {
      if (round === 0) return;
      await w.shutdown();
      w = await env.startWorker(opts);
    });
    await assertSame('st-restart', result);
    assert.equal(first.stats.partialHistories, first.stats.cacheHits);
    // the last worker: its first workflow task was partial, with no cached run
    assert.ok(w.stats.historyFetches >= 1, JSON.stringify(w.stats));
    assert.equal(w.stats.fullReplays, w.stats.historyFetches, JSON.stringify(w.stats));
    await w.shutdown();
  });

  it('another worker process takes over: it gets the whole history and the workflow completes', async () => {
    const queue = 'st-takeover';
    const spawn = (identity: string): ChildProcess => fork(WORKER_PROCESS, [], {
      env: { ...process.env, DATABASE_URL: env.cluster.connectionString, TASK_QUEUE: queue, WORKER_IDENTITY: identity },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const messages: any[] = [];
    const first = spawn('st-first');
    first.on('message', (m) => messages.push(m));
    const exited = new Promise((r) => first.once('exit', r));
    await waitFor(async () => messages.includes('ready'), 'the worker process', 30_000);
    let second: Worker | undefined;
    const [result] = await drive(['st-takeover'], queue, async (round) => {
      if (round !== 1) return;
      // the run is sticky to the first worker, which stops
      assert.equal(await stickyWorker('st-takeover'), 'st-first');
      first.send('stats');
      const { stats } = await waitFor(async () => messages.find((m) => m?.stats), 'the first worker\'s counters');
      assert.ok(stats.partialHistories >= 1 && stats.cacheHits === stats.partialHistories, JSON.stringify(stats));
      first.kill('SIGTERM');
      await exited;
      second = await env.startWorker({ taskQueue: queue, identity: 'st-second', workflowsPath: BASIC, activities: createTestActivities(env.pool) });
    });
    await assertSame('st-takeover', result);
    const s = second!.stats;
    // its first workflow task: the whole history (the run was sticky to another worker), then partial ones
    assert.equal(s.fullReplays, 1, JSON.stringify(s));
    assert.equal(s.historyFetches, 0, JSON.stringify(s));
    assert.equal(s.partialHistories, s.workflowTasks - 1, JSON.stringify(s));
    const idents = (await env.client.workflow.getHandle('st-takeover').fetchHistory())
      .filter((e) => e.event_type === 'WorkflowTaskCompleted').map((e) => e.attributes.identity);
    assert.ok(idents.includes('st-first') && idents.includes('st-second'), idents.join(','));
    await second!.shutdown();
  });

  it('maxCachedWorkflows: 0 turns the cache and sticky execution off', async () => {
    const w = await env.startWorker({ taskQueue: 'st-nocache', workflowsPath: BASIC, activities: createTestActivities(env.pool), maxCachedWorkflows: 0 });
    const [result] = await drive(['st-nocache'], 'st-nocache');
    await assertSame('st-nocache', result);
    assert.equal(w.stats.partialHistories, 0);
    assert.equal(w.stats.cacheHits, 0);
    assert.equal(w.stats.fullReplays, w.stats.workflowTasks);
    assert.equal(await stickyWorker('st-nocache'), null);
    await w.shutdown();
  });
});

/**
 * Eager dispatch: a completion hands the worker the workflow's next task,
 * already started for it in the same transaction, instead of queueing it
 * for a poll.  Histories must not change, and the worker's slots must
 * still bound what runs at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Client, Worker } from '../../src';
import type { HistoryEvent } from '../../src';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor } from '../helpers/env';

const BASIC = require.resolve('../workflows/basic');

let env: Env;

before(async () => {
  env = await startEnv([TEST_SCHEMA]);
});

after(async () => {
  await env?.stop();
});

/** A history without what differs between two runs of the same code: times, identities, queues, run ids. */
function shape(history: HistoryEvent[]): unknown[] {
  return history.map((e) => {
    const a = { ...e.attributes };
    for (const k of ['identity', 'task_queue', 'request_id', 'first_execution_run_id']) delete a[k];
    return { id: e.event_id, type: e.event_type, attributes: a };
  });
}

/** Once a worker is idle, every slot is free (pollers hold none): any slot taken is a leak. */
async function assertSlotsFree(w: Worker): Promise<void> {
  const o = w.options;
  const expected = { workflow: o.maxConcurrentWorkflowTasks, activity: o.maxConcurrentActivities };
  const free = () => ({ workflow: (w as any).workflowSlots.free, activity: (w as any).activitySlots.free });
  // the worker may still be reading the reply to its last completion
  await waitFor(async () => JSON.stringify(free()) === JSON.stringify(expected), 'idle worker', 5000).catch(() => undefined);
  assert.deepEqual(free(), expected, 'free slots of an idle worker');
}

/** Most activities of `key` that ran at the same time, from their start and end rows in test_runs. */
async function maxOverlap(key: string): Promise<number> {
  const { rows } = await env.pool.query(
    "SELECT split_part(what, ':', 1) AS kind FROM test_runs WHERE key = $1 ORDER BY at, (what LIKE 'start:%'), id", [key]);
  let running = 0;
  let max = 0;
  for (const r of rows) {
    running += r.kind === 'start' ? 1 : -1;
    max = Math.max(max, running);
  }
  return max;
}

describe('eager dispatch', () => {
  it('a chain of activities runs on the tasks its completions hand back, with the history polling gives', async () => {
    const activities = createTestActivities(env.pool);
    const eager = await env.startWorker({ taskQueue: 'eager', identity: 'eager', workflowsPath: BASIC, activities });
    // polls the same queue for activities: it would get some if they were queued for polls
    const other = await env.startWorker({ taskQueue: 'eager', identity: 'other', activities, eagerDispatch: false });
    const polling = await env.startWorker({ taskQueue: 'polling', identity: 'polling', workflowsPath: BASIC, activities, eagerDispatch: false });
    const workflows = 3;
    const steps = 4;
    for (let i = 0; i < workflows; i++) {
      assert.equal(await env.client.workflow.execute('chain', { args: [steps], taskQueue: 'eager', workflowId: `eager-chain-${i}` }), 10);
      assert.equal(await env.client.workflow.execute('chain', { args: [steps], taskQueue: 'polling', workflowId: `polling-chain-${i}` }), 10);
    }
    // Eager: one poll per workflow (its first workflow task), every activity
    // and later workflow task handed back by the completion before it, so a
    // workflow takes 2 * steps + 3 transactions (start, poll, one per
    // completion) where polling takes 4 * steps + 3.
    assert.equal(eager.stats.polledTasks, workflows);
    assert.equal(eager.stats.eagerActivityTasks, workflows * steps);
    assert.equal(eager.stats.eagerWorkflowTasks, workflows * steps);
    assert.equal(eager.stats.activityTasks, workflows * steps);
    assert.equal(eager.stats.workflowTasks, workflows * (steps + 1));
    assert.equal(eager.stats.fullReplays, workflows, 'the cache serves the workflow tasks handed back');
    assert.equal(other.stats.activityTasks, 0);
    assert.equal(polling.stats.polledTasks, workflows * (2 * steps + 1));
    assert.equal(polling.stats.eagerActivityTasks + polling.stats.eagerWorkflowTasks, 0);
    for (let i = 0; i < workflows; i++) {
      const he = await env.client.workflow.getHandle(`eager-chain-${i}`).fetchHistory();
      const hp = await env.client.workflow.getHandle(`polling-chain-${i}`).fetchHistory();
      assert.deepEqual(shape(he), shape(hp));
      assert.equal(he.filter((e) => e.event_type === 'ActivityTaskCompleted').length, steps);
      for (const e of he) {
        if (e.attributes.identity !== undefined && e.event_type !== 'WorkflowExecutionStarted') assert.equal(e.attributes.identity, 'eager', `${e.event_type} ${e.event_id}`);
      }
    }
    for (const w of [eager, other, polling]) await assertSlotsFree(w);
    await Promise.all([eager, other, polling].map((w) => w.shutdown()));
  });

  for (const slots of [1, 3]) {
    it(`maxConcurrentActivities: ${slots} bounds the activities running at once, eager ones included`, async () => {
      const key = `slots-${slots}`;
      const w = await env.startWorker({ taskQueue: key, workflowsPath: BASIC, activities: createTestActivities(env.pool), maxConcurrentActivities: slots });
      await waitFor(async () => (w as any).pollers.every((p: any) => p.polling), 'the pollers polling', 5000);
      const r = await env.client.workflow.execute('fanOut', { args: [key, 6, 300], taskQueue: key, workflowId: key });
      assert.deepEqual(r, [0, 1, 2, 3, 4, 5]);
      const max = await maxOverlap(key);
      assert.ok(max >= 1 && max <= slots, `${max} activities ran at once with ${slots} slots`);
      // a waiting poll holds no slot: the workflow task's completion asks for as
      // many of the six activities as slots are free, the others are polled
      assert.ok(w.stats.eagerActivityTasks >= 1 && w.stats.eagerActivityTasks <= slots, JSON.stringify(w.stats));
      assert.equal(w.stats.activityTasks, 6);
      await assertSlotsFree(w);
      await w.shutdown();
    });
  }

  it('an engine without eager dispatch (durable 0.1): the worker only polls', async (t) => {
    const has01 = (await env.pool.query("SELECT 1 FROM pg_available_extension_versions WHERE name = 'durable' AND version = '0.1'")).rowCount;
    if (!has01) {
      t.skip('durable 0.1 is not installed');
      return;
    }
    await env.pool.query('CREATE DATABASE durable01');
    const url = env.cluster.connectionString.replace('/postgres?', '/durable01?');
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    const client = new Client({ connectionString: url });
    const logs: string[] = [];
    try {
      await pool.query("CREATE EXTENSION durable VERSION '0.1'");
      await pool.query(TEST_SCHEMA);
      const w = await Worker.create({
        connectionString: url, taskQueue: 'old', workflowsPath: BASIC, activities: createTestActivities(pool),
        shutdownSignals: false, pollWait: '5s', log: (level, msg) => logs.push(`${level}: ${msg}`),
      });
      const run = w.run();
      try {
        assert.equal(await client.workflow.execute('chain', { args: [3], taskQueue: 'old', workflowId: 'old-1' }), 6);
        assert.equal(w.stats.polledTasks, 7);
        assert.equal(w.stats.eagerActivityTasks + w.stats.eagerWorkflowTasks, 0);
        assert.ok(logs.some((l) => /no eager dispatch/.test(l)), logs.join('\n'));
      } finally {
        await w.shutdown();
        await run;
      }
    } finally {
      await client.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
    }
  });

  it('eagerDispatch: false: every task comes from a poll', async () => {
    const w = await env.startWorker({ taskQueue: 'no-eager', workflowsPath: BASIC, activities: createTestActivities(env.pool), eagerDispatch: false });
    assert.equal(await env.client.workflow.execute('chain', { args: [2], taskQueue: 'no-eager', workflowId: 'no-eager-1' }), 3);
    assert.equal(w.stats.polledTasks, 5);
    assert.equal(w.stats.eagerActivityTasks + w.stats.eagerWorkflowTasks, 0);
    await assertSlotsFree(w);
    await w.shutdown();
  });
});

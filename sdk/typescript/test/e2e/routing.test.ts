/**
 * Task routing (issue 12): worker affinity (required capabilities, pinning
 * an activity to the previous activity's worker), build-id versioning
 * (pinned and auto-upgrading runs across a v1 -> v2 deploy), and priority
 * and fairness options reaching the engine.
 *
 * Temporal's behaviour these follow:
 *   - priority and fairness: https://docs.temporal.io/develop/task-queue-priority-fairness
 *     and temporalio/sdk-typescript packages/test/src/workflows/priority.ts (workflowInfo().priority,
 *     activity and child priorities);
 *   - worker versioning (PINNED / AUTO_UPGRADE, setWorkflowOptions, workerDeploymentOptions):
 *     https://docs.temporal.io/worker-versioning and temporalio/samples-typescript worker-versioning/;
 *   - running activities on one worker (what pinToPreviousWorker offers without a worker-specific
 *     task queue): https://docs.temporal.io/develop/go/sessions and temporalio/samples-typescript
 *     worker-specific-task-queues/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HistoryEvent, TaskQueueDescription, Worker, WorkerOptions } from '../../src';
import { createRoutingActivities } from '../workflows/routing-activities';
import { Env, sleepMs, startEnv, waitFor } from '../helpers/env';

const ROUTING = require.resolve('../workflows/routing');

let env: Env;
/** The engine has task routing (durable.set_current_build); the tests are skipped without it. */
let hasRouting = false;

before(async () => {
  env = await startEnv();
  hasRouting = (await env.pool.query("SELECT to_regproc('durable.set_current_build') IS NOT NULL AS r")).rows[0].r;
});

/** A test that needs task routing in the engine. */
function rit(name: string, fn: () => Promise<void>): void {
  it(name, async (t) => {
    if (!hasRouting) {
      t.skip('the engine has no task routing (durable < 0.4)');
      return;
    }
    await fn();
  });
}

after(async () => {
  await env?.stop();
});

async function history(workflowId: string): Promise<HistoryEvent[]> {
  return env.client.workflow.getHandle(workflowId).fetchHistory();
}

/** The workflow's last workflow task has completed and nothing came after it (it waits). */
async function idle(workflowId: string): Promise<boolean> {
  const last = (await history(workflowId)).at(-1)?.event_type;
  return last === 'WorkflowTaskCompleted';
}

/** Identity of the worker that completed the run's last workflow task. */
async function lastCompletedBy(workflowId: string): Promise<string | undefined> {
  const h = await history(workflowId);
  return h.filter((e) => e.event_type === 'WorkflowTaskCompleted').at(-1)?.attributes.identity;
}

/** describe() of the queue once `ok` holds for it. */
async function describeUntil(queue: string, ok: (d: TaskQueueDescription) => boolean, what: string): Promise<TaskQueueDescription> {
  let last: TaskQueueDescription | undefined;
  await waitFor(async () => ok(last = await env.client.taskQueue.describe(queue)), what);
  return last!;
}

function activityWorker(queue: string, identity: string, capabilities?: Record<string, unknown>): Promise<Worker> {
  return env.startWorker({ taskQueue: queue, identity, activities: createRoutingActivities(identity), capabilities });
}

describe('affinity', () => {
  rit('an activity with requiredCapabilities runs only on a worker that has them; pinToPreviousWorker follows the previous activity', async () => {
    await activityWorker('aff', 'aff-a', { name: 'a' });
    await activityWorker('aff', 'aff-b', { name: 'b', gpu: true, region: 'eu' });
    // the workflows run on a worker without activities: no activity is handed to the workflow's worker eagerly
    await env.startWorker({ taskQueue: 'aff', identity: 'aff-w', workflowsPath: ROUTING });
    const n = 6;
    const r = await env.client.workflow.execute('affinity', { args: [n], taskQueue: 'aff', workflowId: 'aff-1' }) as
      { gpu: string[]; pairs: string[][] };
    assert.deepEqual(r.gpu, Array(n).fill('aff-b'));
    assert.deepEqual(r.pairs, Array.from({ length: n }, (_, i) => Array(3).fill(i % 2 ? 'aff-a' : 'aff-b')));
    // the engine recorded the pins: each pinned activity's ActivityTaskStarted is the previous one's worker
    const started = (await history('aff-1')).filter((e) => e.event_type === 'ActivityTaskStarted').map((e) => e.attributes.identity);
    assert.deepEqual(started.slice(n), r.pairs.flat());

    const d = await env.client.taskQueue.describe('aff');
    const pollers = new Map(d.pollers.map((p) => [p.workerId, p]));
    assert.deepEqual(pollers.get('aff-b')?.capabilities, { name: 'b', gpu: true, region: 'eu' });
    assert.deepEqual(pollers.get('aff-a')?.capabilities, { name: 'a' });
    assert.ok(pollers.get('aff-w')?.kinds.includes('workflow'), JSON.stringify(d.pollers));
  });

  rit('pinnedWorker: only the named worker takes the activity', async () => {
    for (const who of ['aff-a', 'aff-b', 'aff-a', 'aff-b']) {
      assert.equal(await env.client.workflow.execute('pinnedTo', { args: [who], taskQueue: 'aff', workflowId: `aff-pin-${who}-${Math.random()}` }), who);
    }
  });

  rit('an activity no worker can take waits, listed as unmatched, until a worker with the capability polls', async () => {
    const h = await env.client.workflow.start('unmatchable', { taskQueue: 'aff', workflowId: 'aff-unmatched' });
    const d = await describeUntil('aff', (x) => !!(x.unmatched.some((b) => b.kind === 'activity')), 'the activity in the unmatched backlog');
    const u = d.unmatched.find((b) => b.kind === 'activity')!;
    assert.deepEqual(u.requiredCapabilities, { tpu: true });
    assert.equal(u.count, 1);
    assert.equal(u.matched, false);
    await activityWorker('aff', 'aff-tpu', { tpu: true });
    assert.equal(await h.result(), 'aff-tpu');
  });
});

describe('build-id versioning', () => {
  const versioned = (buildId: string, identity: string): Omit<WorkerOptions, 'connectionString'> => ({
    taskQueue: 'ver', identity, workflowsPath: ROUTING,
    workerDeploymentOptions: { useWorkerVersioning: true, version: { buildId, deploymentName: 'ver' }, defaultVersioningBehavior: 'PINNED' },
  });

  rit('pinned runs finish on the build they started on, new and AUTO_UPGRADE runs move to the current build', async () => {
    const v1 = await env.startWorker(versioned('v1', 'ver-v1'));
    await env.client.taskQueue.setCurrentBuild('ver', 'v1');
    const starts = [['p1', 'waiter'], ['p2', 'waiter'], ['p3', 'pinnedWaiter'], ['a1', 'upgradingWaiter']];
    for (const [id, type] of starts) await env.client.workflow.start(type, { taskQueue: 'ver', workflowId: `ver-${id}` });
    for (const [id] of starts) await waitFor(() => idle(`ver-${id}`), `ver-${id} waiting for its signal`);
    for (const [id] of starts) {
      const d = await env.client.workflow.getHandle(`ver-${id}`).describe();
      assert.equal(d.buildId, 'v1', id);
      assert.equal(d.versioningBehavior, id === 'a1' ? 'auto_upgrade' : 'pinned', id);
    }

    const v2 = await env.startWorker(versioned('v2', 'ver-v2'));
    await env.client.taskQueue.setCurrentBuild('ver', 'v2');
    assert.equal(await env.client.workflow.execute('whichBuild', { taskQueue: 'ver', workflowId: 'ver-new' }), 'v2');
    assert.equal((await env.client.workflow.getHandle('ver-new').describe()).buildId, 'v2');
    assert.equal(await lastCompletedBy('ver-new'), 'ver-v2');

    const p1 = env.client.workflow.getHandle('ver-p1');
    await p1.signal('go');
    assert.equal(await p1.result(), 'v1->v1');
    assert.equal(await lastCompletedBy('ver-p1'), 'ver-v1');

    const a1 = env.client.workflow.getHandle('ver-a1');
    await a1.signal('go');
    // the first part is what the replay on v2 saw for the v1 task: v1 if the engine records the build of
    // each WorkflowTaskCompleted, else the replaying worker's
    assert.match(String(await a1.result()), /^v[12]->v2$/);
    assert.equal(await lastCompletedBy('ver-a1'), 'ver-v2');
    assert.equal((await a1.describe()).buildId, 'v2');

    // with no v1 worker, v2 does not take a v1 run's task: it waits in the backlog (unmatched once
    // the engine no longer counts the v1 worker as seen lately)
    await v1.shutdown();
    const p2 = env.client.workflow.getHandle('ver-p2');
    await p2.signal('go');
    const d = await describeUntil('ver', (x) => [...x.backlog, ...x.unmatched].some((b) => b.kind === 'workflow' && b.buildId === 'v1'),
      'the v1 workflow task in the backlog');
    assert.ok(d.pollers.some((p) => p.workerId === 'ver-v2' && p.buildId === 'v2'), JSON.stringify(d.pollers));
    await sleepMs(500);
    assert.equal((await p2.describe()).status, 'running');
    assert.equal(v2.stats.failedWorkflowTasks, 0);
    await env.startWorker(versioned('v1', 'ver-v1-again'));
    assert.equal(await p2.result(), 'v1->v1');
    assert.equal(await lastCompletedBy('ver-p2'), 'ver-v1-again');
    const p3 = env.client.workflow.getHandle('ver-p3');
    await p3.signal('go');
    assert.equal(await p3.result(), 'v1->v1');
  });

  rit('setRampingBuild and setCurrentBuild show in describe()', async () => {
    await env.client.taskQueue.setRampingBuild('ver', 'v3', 25);
    let v = (await env.client.taskQueue.describe('ver')).versioning;
    assert.deepEqual(v, { currentBuildId: 'v2', rampingBuildId: 'v3', rampingPercentage: 25 });
    await env.client.taskQueue.setRampingBuild('ver', null);
    v = (await env.client.taskQueue.describe('ver')).versioning;
    assert.equal(v.rampingBuildId, null);
    assert.equal(v.currentBuildId, 'v2');
  });

  rit('setRateLimit shows in describe()', async () => {
    await env.client.taskQueue.setRateLimit('ver', { tasksPerSecond: 50, workerTasksPerSecond: 10 });
    const rl = (await env.client.taskQueue.describe('ver')).rateLimit;
    assert.equal(rl.tasksPerSecond, 50);
    assert.equal(rl.workerTasksPerSecond, 10);
    await env.client.taskQueue.setRateLimit('ver', {});
    assert.equal((await env.client.taskQueue.describe('ver')).rateLimit.tasksPerSecond, null);
  });
});

describe('priority and fairness', () => {
  async function row(workflowId: string): Promise<Record<string, any>> {
    const r = await env.pool.query('SELECT * FROM durable.workflows WHERE workflow_id = $1 ORDER BY start_time DESC LIMIT 1', [workflowId]);
    return r.rows[0];
  }

  rit('a start\'s priority reaches the run, its activities and its children', async () => {
    const h = await env.client.workflow.start('priorities', {
      args: ['pri-child'], taskQueue: 'pri', workflowId: 'pri-1', priority: { priorityKey: 1, fairnessKey: 't1', fairnessWeight: 2 },
    });
    const r0 = await row('pri-1');
    assert.equal(r0.priority, 1);
    assert.equal(r0.fairness_key, 't1');
    if ('fairness_weight' in r0) assert.equal(Number(r0.fairness_weight), 2);
    await env.startWorker({ taskQueue: 'pri', identity: 'pri-w', workflowsPath: ROUTING, activities: createRoutingActivities('pri-w') });
    const r = await h.result() as any;
    assert.equal(r.own.priorityKey, 1);
    assert.equal(r.activity, 5, 'the activity\'s own priority');
    assert.equal(r.inherited, 1, 'an activity without a priority has its workflow\'s');
    assert.equal(r.child.priorityKey, 2);
    const child = await row('pri-child');
    assert.equal(child.priority, 2);
    assert.equal(child.fairness_key, 't1', 'the child inherits the fairness key it does not set');
  });

  rit('signalWithStart takes the priority too', async () => {
    const h = await env.client.workflow.signalWithStart('waiter', {
      taskQueue: 'pri-none', workflowId: 'pri-sws', signal: 'go', priority: { priorityKey: 4, fairnessKey: 't2' },
    });
    const r = await row('pri-sws');
    assert.equal(r.priority, 4);
    assert.equal(r.fairness_key, 't2');
    await h.terminate('done');
  });

  rit('a start with requiredCapabilities waits for a worker that has them', async () => {
    const h = await env.client.workflow.start('whichBuild', { taskQueue: 'pri-caps', workflowId: 'pri-caps-1', requiredCapabilities: { gpu: true } });
    await env.startWorker({ taskQueue: 'pri-caps', identity: 'pri-caps-plain', workflowsPath: ROUTING });
    const d = await describeUntil('pri-caps', (x) => !!(x.pollers.length && x.unmatched.length), 'the workflow task unmatched');
    assert.deepEqual(d.unmatched[0].requiredCapabilities, { gpu: true });
    assert.equal(d.unmatched[0].kind, 'workflow');
    await sleepMs(300);
    assert.equal(((await h.describe()).pendingWorkflowTask as any)?.state, 'scheduled', 'the worker without the capability did not take it');
    await env.startWorker({ taskQueue: 'pri-caps', identity: 'pri-caps-gpu', workflowsPath: ROUTING, capabilities: { gpu: true } });
    assert.equal(await h.result(), undefined);
    assert.equal(await lastCompletedBy('pri-caps-1'), 'pri-caps-gpu');
  });

  rit('a backlog is dispatched by priority, then shared between fairness keys', async () => {
    // started before any worker polls: the worker (one slot, one poller) takes them in dispatch order
    const starts: [string, number | undefined, string | undefined][] = [
      ['low', 5, undefined], ['default', undefined, undefined], ['high', 1, undefined],
      ...Array.from({ length: 6 }, (_, i): [string, number | undefined, string | undefined] => [`big-${i}`, 4, 'big']),
      ['small-0', 4, 'small'], ['small-1', 4, 'small'],
    ];
    const handles = [];
    for (const [id, priorityKey, fairnessKey] of starts) {
      handles.push(await env.client.workflow.start('whichBuild', { taskQueue: 'pri-order', workflowId: `pri-order-${id}`, priority: { priorityKey, fairnessKey } }));
    }
    await env.startWorker({ taskQueue: 'pri-order', identity: 'pri-order-w', workflowsPath: ROUTING, maxConcurrentWorkflowTasks: 1 });
    await Promise.all(handles.map((h) => h.result()));
    const { rows } = await env.pool.query(
      "SELECT substr(workflow_id, 11) AS id FROM durable.workflows WHERE workflow_id LIKE 'pri-order-%' ORDER BY close_time");
    const order = rows.map((r) => r.id);
    assert.deepEqual(order.slice(0, 2), ['high', 'default']);
    assert.equal(order.at(-1), 'low');
    // stride scheduling: the two small tasks are interleaved with the six big ones, not queued behind them
    const small = order.map((id, i) => (id.startsWith('small') ? i : -1)).filter((i) => i >= 0);
    assert.ok(small.every((i) => i <= 5), `small tasks at ${small} of ${order}`);
  });

  rit('setRateLimit: the queue hands out activities at that rate, eager dispatch included', async () => {
    await env.client.taskQueue.setRateLimit('pri-rate', { tasksPerSecond: 5 });
    await env.startWorker({ taskQueue: 'pri-rate', identity: 'pri-rate-w', workflowsPath: ROUTING, activities: createRoutingActivities('pri-rate-w') });
    const n = 8;
    const times = await env.client.workflow.execute('stamps', { args: [n], taskQueue: 'pri-rate', workflowId: 'pri-rate-1' }) as number[];
    const span = Math.max(...times) - Math.min(...times);
    // a burst of one token, then one every 200 ms: the last starts about 1.4 s after the first
    assert.ok(span >= 1100, `${n} activities at 5/s started within ${span} ms`);
  });

  rit('a priority out of 1..5 is refused', async () => {
    await assert.rejects(env.client.workflow.start('whichBuild', { taskQueue: 'pri-none', workflowId: 'pri-bad', priority: { priorityKey: 7 } }),
      (e: any) => e.code === '22023' || /priority/.test(String(e?.message)));
  });
});

/**
 * Failures of the machinery: a worker killed with SIGKILL mid-workflow (also
 * while it holds a task handed out eagerly), and the server stopped in
 * immediate mode (a crash) mid-workflow.  Every workflow must complete, no
 * activity result may be lost, and no activity may run again once its
 * completion was recorded.
 */
import assert from 'node:assert/strict';
import { ChildProcess, fork } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { SCHEMA, createActivities } from '../../examples/subscription/activities';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor } from '../helpers/env';

const EXAMPLE = require.resolve('../../examples/subscription/workflows');
const WORKER_SCRIPT = require.resolve('../../examples/subscription/worker');
const TEST_WORKER_SCRIPT = require.resolve('../helpers/worker-process');
const BASIC = require.resolve('../workflows/basic');

let env: Env;

before(async () => {
  env = await startEnv([SCHEMA, TEST_SCHEMA]);
});
after(async () => {
  await env?.stop();
});

function spawnWorker(queue: string, identity: string): ChildProcess {
  return fork(WORKER_SCRIPT, [], {
    env: { ...process.env, DATABASE_URL: env.cluster.connectionString, TASK_QUEUE: queue, WORKER_IDENTITY: identity },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/**
 * Activity runs that started after the activity's completion had been
 * recorded.  One interleaving is legitimate and allowed by the margin: after
 * a server crash the rebuilt queue hands a running attempt out again, and the
 * first worker's completion (same attempt, retried by the SDK after the
 * restart) may commit just after the second claim did but just before the
 * second run records its start; the second run's completion is then
 * refused as stale.  A completed activity handed out again would start long
 * after its completion.
 */
async function runsAfterCompletion(prefix: string): Promise<unknown[]> {
  const r = await env.pool.query(`
    SELECT r.workflow_id, r.activity_id, r.activity_type, r.started_at, h.event_time AS completed_at
      FROM activity_runs r
      JOIN durable.workflows w ON w.workflow_id = r.workflow_id
      JOIN durable.history s ON s.run_id = w.run_id AND s.event_type = 'ActivityTaskScheduled'
                            AND s.attributes->>'activity_id' = r.activity_id
      JOIN durable.history h ON h.run_id = w.run_id AND h.event_type = 'ActivityTaskCompleted'
                            AND (h.attributes->>'scheduled_event_id')::bigint = s.event_id
     WHERE r.workflow_id LIKE $1 AND r.started_at > h.event_time + interval '500 milliseconds'`, [`${prefix}%`]);
  return r.rows;
}

describe('crashes', () => {
  it('a worker killed with SIGKILL mid-workflow: a new worker finishes, no charge twice', async () => {
    const queue = 'crash-kill';
    const first = spawnWorker(queue, 'doomed');
    const customers = ['k-ann', 'k-ben', 'k-cat', 'k-dan'];
    const handles = await Promise.all(customers.map((c) => env.client.workflow.start('subscriptionLifecycle', {
      args: [c, { period: '8s', maxRenewals: 2 }], taskQueue: queue, workflowId: `kill-${c}`, workflowTaskTimeout: '2s',
    })));
    // every workflow has charged once (recorded) and waits for its next renewal
    // (the 8 s period keeps that window wide on a loaded 2-core machine)
    await waitFor(async () => {
      for (const h of handles) if ((await h.describe()).pendingTimers.length !== 1) return false;
      return true;
    }, 'first renewals', 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const second = spawnWorker(queue, 'rescuer');
    try {
      for (const h of handles) {
        const r = (await h.result()) as any;
        assert.equal(r.state, 'done');
        assert.equal(r.renewals, 2);
      }
      for (const c of customers) {
        const n = (await env.pool.query('SELECT count(*)::int n FROM charges WHERE customer_id = $1', [c])).rows[0].n;
        assert.equal(n, 2, `${c} charged ${n} times`);
      }
      assert.deepEqual(await runsAfterCompletion('kill-'), []);
      const charges = (await env.pool.query("SELECT count(*)::int n FROM activity_runs WHERE workflow_id LIKE 'kill-%' AND activity_type = 'chargePaymentMethod'")).rows[0].n;
      assert.equal(charges, 8, 'each charge activity ran exactly once');
      // the rescuer did the second renewals
      const idents = new Set<string>();
      for (const h of handles) {
        for (const e of await h.fetchHistory()) if (e.event_type === 'WorkflowTaskCompleted') idents.add(e.attributes.identity);
      }
      assert.ok(idents.has('doomed') && idents.has('rescuer'), [...idents].join(','));
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
  });

  it('a worker killed with SIGKILL while it runs an activity handed out eagerly: it times out, another worker finishes', async () => {
    const queue = 'crash-eager';
    const doomed = fork(TEST_WORKER_SCRIPT, [], {
      env: { ...process.env, DATABASE_URL: env.cluster.connectionString, TASK_QUEUE: queue, WORKER_IDENTITY: 'eager-doomed' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const messages: any[] = [];
    doomed.on('message', (m) => messages.push(m));
    const exited = new Promise((r) => doomed.once('exit', r));
    await waitFor(async () => messages.includes('ready'), 'the worker process', 30_000);
    const h = await env.client.workflow.start('holdThenStep', { args: ['ce-1'], taskQueue: queue, workflowId: 'crash-eager-1', workflowTaskTimeout: '2s' });
    await waitFor(async () => messages.some((m) => m?.holding === 'ce-1'), 'the first attempt running', 30_000);
    doomed.send('stats');
    const { stats } = await waitFor(async () => messages.find((m) => m?.stats), 'the worker\'s counters');
    // it polled the first workflow task only; the activity came back with its completion
    assert.equal(stats.polledTasks, 1, JSON.stringify(stats));
    assert.equal(stats.eagerActivityTasks, 1, JSON.stringify(stats));
    doomed.kill('SIGKILL');
    await exited;
    const rescuer = await env.startWorker({ taskQueue: queue, identity: 'eager-rescuer', workflowsPath: BASIC, activities: createTestActivities(env.pool) });
    try {
      assert.equal(await h.result(), 'attempt 2:2');
      const hist = await h.fetchHistory();
      const started = hist.filter((e) => e.event_type === 'ActivityTaskStarted');
      assert.equal(started.length, 2);
      // attempt 1, leased to the killed worker, timed out (start-to-close) and was retried
      assert.equal(started[0].attributes.attempt, 2);
      assert.equal(started[0].attributes.identity, 'eager-rescuer');
      assert.equal(started[0].attributes.last_failure?.timeout_type, 'START_TO_CLOSE', JSON.stringify(started[0].attributes));
      const wftIdentities = hist.filter((e) => e.event_type === 'WorkflowTaskCompleted').map((e) => e.attributes.identity);
      assert.deepEqual(wftIdentities, ['eager-doomed', 'eager-rescuer', 'eager-rescuer']);
      const runs = (await env.pool.query("SELECT what FROM test_runs WHERE key = 'ce-1' ORDER BY id")).rows.map((r) => r.what);
      assert.deepEqual(runs, ['hold:1', 'hold:2']);
    } finally {
      await rescuer.shutdown();
    }
  });

  it('a worker killed with SIGKILL: its session ends, and its activity is retried at once, not at its one-hour timeout', async () => {
    const queue = 'crash-session';
    const doomed = fork(TEST_WORKER_SCRIPT, [], {
      env: { ...process.env, DATABASE_URL: env.cluster.connectionString, TASK_QUEUE: queue, WORKER_IDENTITY: 'session-doomed' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const messages: any[] = [];
    doomed.on('message', (m) => messages.push(m));
    const exited = new Promise((r) => doomed.once('exit', r));
    await waitFor(async () => messages.includes('ready'), 'the worker process', 30_000);
    let rescuer: Awaited<ReturnType<typeof env.startWorker>> | undefined;
    try {
      // the doomed worker is the only one polling: it takes the first attempt
      const h = await env.client.workflow.start('holdLong', { args: ['cs-1'], taskQueue: queue, workflowId: 'crash-session-1' });
      await waitFor(async () => messages.some((m) => m?.holding === 'cs-1'), 'the first attempt running', 30_000);
      rescuer = await env.startWorker({ taskQueue: queue, identity: 'session-rescuer', workflowsPath: BASIC, activities: createTestActivities(env.pool) });
      const sessions = (await env.pool.query(
        "SELECT count(*)::int n FROM pg_stat_activity WHERE application_name = 'durable-session session-doomed'")).rows[0].n;
      assert.equal(sessions, 1, 'the worker holds a session');
      const killedAt = Date.now();
      doomed.kill('SIGKILL');
      await exited;
      assert.equal(await h.result(), 'attempt 2');
      const took = Date.now() - killedAt;
      // the engine timed the attempt out when the session's connection ended
      assert.ok(took < 10_000, `retried ${took} ms after the kill`);
      const hist = await h.fetchHistory();
      const started = hist.filter((e) => e.event_type === 'ActivityTaskStarted');
      assert.equal(started.length, 1);
      assert.equal(started[0].attributes.attempt, 2);
      assert.equal(started[0].attributes.identity, 'session-rescuer');
      assert.equal(started[0].attributes.last_failure?.timeout_type, 'START_TO_CLOSE', JSON.stringify(started[0].attributes));
    } finally {
      if (doomed.exitCode === null && doomed.signalCode === null) doomed.kill('SIGKILL');
      await rescuer?.shutdown();
    }
  });

  it('the server crashes (pg_ctl stop -m immediate) mid-workflow: every workflow completes', async () => {
    const queue = 'crash-restart';
    const worker = await env.startWorker({ taskQueue: queue, workflowsPath: EXAMPLE, activities: createActivities(env.pool), maxConcurrentActivities: 8 });
    const customers = ['slow-r1', 'slow-r2', 'slow-r3', 'slow-r4', 'r5', 'noext-r6'];
    const handles = await Promise.all(customers.map((c) => env.client.workflow.start('subscriptionRenewal', {
      args: [c], taskQueue: queue, workflowId: `restart-${c}`, workflowTaskTimeout: '2s',
    })));
    const life = await env.client.workflow.start('subscriptionLifecycle', {
      args: ['r-life', { period: '2s', maxRenewals: 2 }], taskQueue: queue, workflowId: 'restart-life', workflowTaskTimeout: '2s',
    });
    // all charges recorded; the slow extensions are running
    await waitFor(async () => (await env.pool.query("SELECT count(*)::int n FROM charges WHERE workflow_id LIKE 'restart-%'")).rows[0].n >= 7, 'charges', 30_000);
    env.cluster.restartImmediate();
    const outcomes: string[] = [];
    for (const h of handles) {
      outcomes.push(await h.result().then(() => 'completed', (e) => `${e.name}:${e.cause?.cause?.type ?? e.message}`));
    }
    assert.deepEqual(outcomes, ['completed', 'completed', 'completed', 'completed', 'completed', 'WorkflowFailedError:ExtensionRejected']);
    const r = (await life.result()) as any;
    assert.equal(r.renewals, 2);
    for (const c of customers.slice(0, 5)) {
      const { rows } = await env.pool.query('SELECT (SELECT count(*)::int FROM charges WHERE customer_id = $1) c, (SELECT extensions FROM subscriptions WHERE customer_id = $1) e, (SELECT count(*)::int FROM notifications WHERE customer_id = $1) n', [c]);
      assert.equal(rows[0].c, 1, `${c}: charges`);
      assert.ok(rows[0].e >= 1, `${c}: extended`);
      assert.equal(rows[0].n, 1, `${c}: confirmation`);
    }
    assert.deepEqual(await runsAfterCompletion('restart-'), []);
    await worker.shutdown();
  });
});

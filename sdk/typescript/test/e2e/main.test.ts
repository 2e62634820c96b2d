/**
 * End-to-end tests against a real PostgreSQL cluster the test starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ActivityFailure, ApplicationFailure, CancelledFailure, WorkflowCanceledError, WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError, WorkflowNotFoundError, WorkflowTerminatedError, Worker,
} from '../../src';
import { SCHEMA, createActivities } from '../../examples/subscription/activities';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor, sleepMs } from '../helpers/env';

const EXAMPLE = require.resolve('../../examples/subscription/workflows');
const BASIC = require.resolve('../workflows/basic');

let env: Env;
let subsWorker: Worker;

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await env.pool.query(sql, params)).rows[0].n);
}

async function eventTypes(workflowId: string, runId?: string): Promise<string[]> {
  const h = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return h.map((e) => e.event_type);
}

before(async () => {
  env = await startEnv([SCHEMA, TEST_SCHEMA]);
  subsWorker = await env.startWorker({ taskQueue: 'subs', workflowsPath: EXAMPLE, activities: createActivities(env.pool) });
  await env.startWorker({ taskQueue: 'tests', workflowsPath: BASIC, activities: createTestActivities(env.pool) });
});

after(async () => {
  await env?.stop();
});

describe('subscription example', () => {
  it('renews: charge, extend, confirm', async () => {
    const h = await env.client.workflow.start('subscriptionRenewal', { args: ['alice'], taskQueue: 'subs', workflowId: 'renew-alice' });
    assert.equal(await h.result(), undefined); // it returns nothing: undefined, as in Temporal
    assert.equal(await count("SELECT count(*) n FROM charges WHERE customer_id = 'alice'"), 1);
    assert.equal(await count("SELECT extensions n FROM subscriptions WHERE customer_id = 'alice'"), 1);
    assert.equal(await count("SELECT count(*) n FROM notifications WHERE customer_id = 'alice' AND kind = 'renewed'"), 1);
    const d = await h.describe();
    assert.equal(d.status, 'completed');
    assert.equal(d.type, 'subscriptionRenewal');
  });

  it('declined charge: notifies and completes', async () => {
    const h = await env.client.workflow.start('subscriptionRenewal', { args: ['declined-dave'], taskQueue: 'subs', workflowId: 'renew-dave' });
    await h.result();
    assert.equal(await count("SELECT count(*) n FROM notifications WHERE customer_id = 'declined-dave' AND kind = 'payment_failed'"), 1);
    assert.equal(await count("SELECT count(*) n FROM subscriptions WHERE customer_id = 'declined-dave'"), 0);
  });

  it('InvalidAccountError is not retried and fails the workflow', async () => {
    const h = await env.client.workflow.start('subscriptionRenewal', { args: ['invalid-bob'], taskQueue: 'subs', workflowId: 'renew-bob' });
    const err = await h.result().then(() => null, (e) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.equal(err.status, 'failed');
    assert.ok(err.cause instanceof ActivityFailure);
    const cause = err.cause.cause as ApplicationFailure;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'InvalidAccountError');
    assert.equal(await count("SELECT count(*) n FROM activity_runs WHERE workflow_id = 'renew-bob' AND activity_type = 'chargePaymentMethod'"), 1);
    const types = await eventTypes('renew-bob');
    assert.ok(types.includes('ActivityTaskFailed'));
    assert.equal(types.at(-1), 'WorkflowExecutionFailed');
  });

  it('failed extension is compensated with a refund', async () => {
    const h = await env.client.workflow.start('subscriptionRenewal', { args: ['noext-carol'], taskQueue: 'subs', workflowId: 'renew-carol' });
    const err = await h.result().then(() => null, (e) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause.cause as ApplicationFailure).type, 'ExtensionRejected');
    assert.equal(await count("SELECT count(*) n FROM charges WHERE customer_id = 'noext-carol'"), 1);
    assert.equal(await count("SELECT count(*) n FROM refunds r JOIN charges c USING (transaction_id) WHERE c.customer_id = 'noext-carol'"), 1);
    assert.equal(await count("SELECT count(*) n FROM notifications WHERE customer_id = 'noext-carol'"), 0);
  });

  it('flaky extension is retried with backoff (1s, 2s)', async () => {
    const t0 = Date.now();
    const h = await env.client.workflow.start('subscriptionRenewal', { args: ['flaky-erin'], taskQueue: 'subs', workflowId: 'renew-erin' });
    await h.result();
    assert.ok(Date.now() - t0 >= 2900, `took ${Date.now() - t0} ms`);
    const runs = (await env.pool.query("SELECT attempt, started_at FROM activity_runs WHERE workflow_id = 'renew-erin' AND activity_type = 'extendSubscription' ORDER BY id")).rows;
    assert.deepEqual(runs.map((r) => r.attempt), [1, 2, 3]);
    const gap1 = runs[1].started_at - runs[0].started_at;
    const gap2 = runs[2].started_at - runs[1].started_at;
    assert.ok(gap1 >= 950 && gap2 >= 1950 && gap2 > gap1, `gaps ${gap1} ${gap2}`);
    const hist = await env.client.workflow.getHandle('renew-erin').fetchHistory();
    const started = hist.filter((e) => e.event_type === 'ActivityTaskStarted').map((e) => e.attributes.attempt);
    assert.deepEqual(started, [1, 3, 1]);
  });

  it('lifecycle: waits for the period unless cancelled; getStatus; patched marker', async (t) => {
    const h = await env.client.workflow.start('subscriptionLifecycle', { args: ['frank', { period: '30 days' }], taskQueue: 'subs', workflowId: 'life-frank' });
    await waitFor(async () => (await h.describe()).pendingTimers.length === 1, 'the 30-day timer');
    const timer = (await h.describe()).pendingTimers[0];
    const days = (new Date(timer.fire_time).getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `timer fires in ${days} days`);
    if (env.hasQuery) {
      const s = await h.query<any>('getStatus');
      assert.equal(s.state, 'waiting');
      assert.equal(s.renewals, 1);
    }
    await h.signal('cancel', 'moving away');
    const result = (await h.result()) as any;
    assert.equal(result.state, 'cancelled');
    assert.equal(result.cancelReason, 'moving away');
    const hist = await h.fetchHistory();
    const marker = hist.find((e) => e.event_type === 'MarkerRecorded');
    assert.deepEqual(marker?.attributes.details, { patch_id: 'add-fraud-check', deprecated: false });
    assert.ok(hist.some((e) => e.event_type === 'TimerCanceled'), 'the losing timer is cancelled');
    assert.equal(await count("SELECT count(*) n FROM activity_runs WHERE workflow_id = 'life-frank' AND activity_type = 'checkFraud'"), 1);
    if (env.hasQuery) {
      const s = await h.query<any>('getStatus');
      assert.equal(s.state, 'cancelled', 'query on a closed workflow');
    } else t.diagnostic('durable.query_workflow missing: query assertions skipped');
  });

  it('lifecycle: a short period renews again', async () => {
    const h = await env.client.workflow.start('subscriptionLifecycle', { args: ['gina', { period: '1s', maxRenewals: 2 }], taskQueue: 'subs', workflowId: 'life-gina' });
    const r = (await h.result()) as any;
    assert.equal(r.state, 'done');
    assert.equal(r.renewals, 2);
    assert.equal(await count("SELECT count(*) n FROM charges WHERE customer_id = 'gina'"), 2);
    assert.ok((await eventTypes('life-gina')).includes('TimerFired'));
  });

  it('lifecycle: fraud check stops the renewal', async () => {
    const h = await env.client.workflow.start('subscriptionLifecycle', { args: ['fraud-hank'], taskQueue: 'subs', workflowId: 'life-hank' });
    assert.equal(((await h.result()) as any).state, 'fraud_suspected');
    assert.equal(await count("SELECT count(*) n FROM charges WHERE customer_id = 'fraud-hank'"), 0);
  });

  it('the worker cache serves most workflow tasks', () => {
    assert.ok(subsWorker.stats.cacheHits > 0);
    assert.ok(subsWorker.stats.cacheHits >= subsWorker.stats.fullReplays, JSON.stringify(subsWorker.stats));
  });
});

describe('workflow features', () => {
  it('retries with backoff until the activity succeeds', async () => {
    const r = await env.client.workflow.execute('retrying', { args: ['retry-1', 2], taskQueue: 'tests', workflowId: 'retrying-1' });
    assert.equal(r, 3);
    const at = (await env.pool.query("SELECT at FROM test_runs WHERE key = 'retry-1' ORDER BY id")).rows.map((x) => x.at.getTime());
    assert.equal(at.length, 3);
    assert.ok(at[1] - at[0] >= 190 && at[2] - at[1] >= 390, `gaps ${at[1] - at[0]} ${at[2] - at[1]}`);
  });

  it('gives up after maximumAttempts', async () => {
    const err = await env.client.workflow.execute('retrying', { args: ['retry-2', 10], taskQueue: 'tests', workflowId: 'retrying-2' }).then(() => null, (e) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as ActivityFailure).retryState, 'MAXIMUM_ATTEMPTS_REACHED');
    assert.equal(await count("SELECT count(*) n FROM test_runs WHERE key = 'retry-2'"), 4);
  });

  it('nonRetryableErrorTypes stops retries', async () => {
    const r = await env.client.workflow.execute('nonRetryableByType', { args: ['nr-1'], taskQueue: 'tests', workflowId: 'nr-1' });
    assert.equal(r, 'BadInput:NON_RETRYABLE_FAILURE');
    assert.equal(await count("SELECT count(*) n FROM test_runs WHERE key = 'nr-1'"), 1);
  });

  it('a timer races a signal: the signal wins and the timer is cancelled', async () => {
    const h = await env.client.workflow.start('timerVsSignal', { args: ['1 hour'], taskQueue: 'tests', workflowId: 'race-1' });
    await waitFor(async () => (await h.describe()).pendingTimers.length === 1, 'timer');
    await h.signal('go', 'now');
    assert.equal(await h.result(), 'signal:now');
    const types = await eventTypes('race-1');
    assert.ok(types.includes('TimerCanceled'));
  });

  it('a timer races a signal: the timer wins', async () => {
    const t0 = Date.now();
    assert.equal(await env.client.workflow.execute('timerVsSignal', { args: ['1s'], taskQueue: 'tests', workflowId: 'race-2' }), 'timer');
    assert.ok(Date.now() - t0 >= 950);
    assert.ok((await eventTypes('race-2')).includes('TimerFired'));
  });

  it('condition with a timeout', async () => {
    assert.equal(await env.client.workflow.execute('conditionWithTimeout', { args: ['500ms'], taskQueue: 'tests', workflowId: 'cond-1' }), false);
    const h = await env.client.workflow.start('conditionWithTimeout', { args: ['1 hour'], taskQueue: 'tests', workflowId: 'cond-2' });
    await h.signal('go', 'x');
    assert.equal(await h.result(), true);
  });

  it('continue-as-new: result follows the chain', async () => {
    const h = await env.client.workflow.start('counter', { args: [0, 3], taskQueue: 'tests', workflowId: 'can-1' });
    const r = (await h.result()) as any;
    assert.equal(r.n, 3);
    assert.ok(r.continuedFrom);
    const d = await env.client.workflow.getHandle('can-1').describe();
    assert.equal(d.status, 'completed');
    assert.equal(d.previousRunId, r.continuedFrom);
    assert.notEqual(d.runId, h.firstExecutionRunId);
    const first = await env.client.workflow.getHandle('can-1', h.firstExecutionRunId).describe();
    assert.equal(first.status, 'continued_as_new');
    assert.equal((await eventTypes('can-1', h.firstExecutionRunId)).at(-1), 'WorkflowExecutionContinuedAsNew');
  });

  it('heartbeats, and cancelling a running activity through them', async () => {
    const r = await env.client.workflow.execute('cancelHeartbeating', { args: ['hb-1'], taskQueue: 'tests', workflowId: 'hb-1' });
    assert.equal(r, 'cancelled');
    const whats = (await env.pool.query("SELECT what FROM test_runs WHERE key = 'hb-1' ORDER BY id")).rows.map((x) => x.what);
    assert.deepEqual(whats, ['started', 'cancelled:CancelledFailure:true']);
    const types = await eventTypes('hb-1');
    assert.ok(types.includes('ActivityTaskCancelRequested'));
    assert.ok(types.includes('ActivityTaskCanceled'));
  });

  it('heartbeat details reach the next attempt', async () => {
    const r = await env.client.workflow.execute('heartbeatResume', { args: ['hb-2'], taskQueue: 'tests', workflowId: 'hb-2' });
    assert.ok((r as number) >= 1, `resumed from ${r}`);
    const whats = (await env.pool.query("SELECT what FROM test_runs WHERE key = 'hb-2' ORDER BY id")).rows.map((x) => x.what);
    assert.equal(whats[0], 'from:0');
    assert.equal(whats[1], `from:${r}`);
  });

  it('workflow cancellation: cleanup runs in a non-cancellable scope', async () => {
    const h = await env.client.workflow.start('cancellable', { args: ['cx-1'], taskQueue: 'tests', workflowId: 'cx-1' });
    await waitFor(async () => (await h.describe()).pendingTimers.length === 1, 'timer');
    await h.cancel('no longer needed');
    const err = await h.result().then(() => null, (e) => e);
    assert.ok(err instanceof WorkflowCanceledError, String(err));
    assert.ok(err.cause instanceof CancelledFailure);
    assert.equal(await count("SELECT count(*) n FROM test_runs WHERE key = 'cx-1' AND what = 'cleanup'"), 1);
    assert.equal((await eventTypes('cx-1')).at(-1), 'WorkflowExecutionCanceled');
  });

  it('signals are delivered in order; signalWithStart', async () => {
    const h = await env.client.workflow.signalWithStart('collector', { workflowId: 'sws-1', taskQueue: 'tests', signal: 'go', signalArgs: ['a'] });
    await h.signal('go', 'b');
    await env.client.workflow.signalWithStart('collector', { workflowId: 'sws-1', taskQueue: 'tests', signal: 'go', signalArgs: ['done'] });
    assert.deepEqual(await h.result(), ['a', 'b', 'done']);
  });

  it('queries on running and closed workflows', async (t) => {
    if (!env.hasQuery) {
      t.skip('durable.query_workflow is not implemented by this engine');
      return;
    }
    const h = await env.client.workflow.start('collector', { workflowId: 'q-1', taskQueue: 'tests' });
    await h.signal('go', 'x');
    await waitFor(async () => (await h.query('state')) === 'x', 'query state x');
    await h.signal('go', 'done');
    await h.result();
    assert.equal(await h.query('state'), 'x,done');
    await assert.rejects(h.query('nope'), /no query handler/);
  });

  it('typed client errors', async () => {
    await assert.rejects(env.client.workflow.getHandle('does-not-exist').describe(), WorkflowNotFoundError);
    await env.client.workflow.start('collector', { workflowId: 'dup-1', taskQueue: 'tests' });
    await assert.rejects(env.client.workflow.start('collector', { workflowId: 'dup-1', taskQueue: 'tests' }), WorkflowExecutionAlreadyStartedError);
    const h = env.client.workflow.getHandle('dup-1');
    await h.terminate('enough');
    await assert.rejects(h.result(), WorkflowTerminatedError);
    const f = await env.client.workflow.execute('failing', { args: ['boom'], taskQueue: 'tests' }).then(() => null, (e) => e);
    assert.ok(f instanceof WorkflowFailedError);
    assert.equal((f.cause as ApplicationFailure).type, 'MyError');
    assert.equal(f.cause.message, 'boom');
  });

  it('a plain Error fails the workflow task, not the workflow', async () => {
    const h = await env.client.workflow.start('buggy', { taskQueue: 'tests', workflowId: 'buggy-1' });
    await waitFor(async () => (await eventTypes('buggy-1')).includes('WorkflowTaskFailed'), 'WorkflowTaskFailed');
    assert.equal((await h.describe()).status, 'running');
    await h.terminate();
  });

  it('Date, Math.random and uuid4 are deterministic on replay', async () => {
    const h = await env.client.workflow.start('deterministic', { taskQueue: 'tests', workflowId: 'det-1' });
    const r = (await h.result()) as any;
    const hist = await h.fetchHistory();
    const started = hist.find((e) => e.event_type === 'WorkflowTaskStarted')!;
    assert.equal(r.now, new Date(started.event_time).getTime());
    assert.equal(r.date, new Date(started.event_time).toISOString());
    assert.match(r.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // replaying the history against the same code is clean
    await Worker.runReplayHistory({ workflowsPath: BASIC }, hist);
  });
});

describe('non-determinism', () => {
  it('incompatible code fails the workflow task; fixed code continues', async () => {
    const v1 = require.resolve('../workflows/nde/v1');
    const v2 = require.resolve('../workflows/nde/v2');
    const acts = createTestActivities(env.pool);
    let w = await env.startWorker({ taskQueue: 'nde', workflowsPath: v1, activities: acts });
    const h = await env.client.workflow.start('versioned', { args: ['nde-1'], taskQueue: 'nde', workflowId: 'nde-1' });
    await waitFor(async () => (await count("SELECT count(*) n FROM test_runs WHERE key = 'nde-1'")) === 1, 'activity a');
    await waitFor(async () => (await h.describe()).pendingWorkflowTask === null, 'idle workflow');
    await w.shutdown();
    // deploy incompatible code
    w = await env.startWorker({ taskQueue: 'nde', workflowsPath: v2, activities: acts });
    await h.signal('go', 'x');
    const failed = (await waitFor(async () => (await h.fetchHistory()).find((e) => e.event_type === 'WorkflowTaskFailed'), 'WorkflowTaskFailed'))!;
    await w.shutdown();
    assert.equal(failed.attributes.cause, 'NonDeterminismError');
    assert.match(failed.attributes.failure.message, /event 5: expected ActivityTaskScheduled\(activity_id=1, activity_type=record\).*start_timer\(timer_id=1\)/);
    assert.equal((await h.describe()).status, 'running');
    // the fixed (original) code continues
    await env.startWorker({ taskQueue: 'nde', workflowsPath: v1, activities: acts });
    assert.equal(await h.result(), 'v1');
    assert.equal(await count("SELECT count(*) n FROM test_runs WHERE key = 'nde-1'"), 2);
  });

  it('runReplayHistory detects the change before deploying', async () => {
    const hist = await env.client.workflow.getHandle('nde-1').fetchHistory();
    await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/nde/v1') }, hist);
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/nde/v2') }, hist), { name: 'NonDeterminismError' });
  });
});

void sleepMs;

/**
 * Local activities against a real cluster: run by the worker that holds the
 * workflow task, recorded as "core_local_activity" markers on its
 * completion, retried in the worker or through a durable timer, kept alive
 * past the workflow task timeout by completions with force_new_task, and
 * cancelled as Temporal's cancellation types say.
 *
 * Temporal's behaviour asserted here: temporalio/sdk-core
 * core/src/worker/workflow/machines/local_activity_state_machine.rs (the
 * marker, its data, cancellation), core/src/worker/activities/local_activities.rs
 * (retries below the local retry threshold, DoBackoff above it),
 * temporalio/sdk-typescript packages/workflow/src/workflow.ts
 * (scheduleLocalActivity: a timer, then the next attempt as a new schedule),
 * and https://docs.temporal.io/local-activity.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Worker } from '../../src';
import { AesGcmCodec } from '../helpers/aes-codec';
import type { HistoryEvent } from '../../src';
import { createLocalActivities } from '../workflows/local-activities';
import { Env, startEnv } from '../helpers/env';

const LOCAL = require.resolve('../workflows/local');
/** Where DURABLE_CAPTURE_FIXTURES=1 saves histories for test/unit/local-activities.test.ts. */
const fixture = (name: string) => path.resolve(__dirname, `../../../test/fixtures/${name}.json`);

let env: Env;
const { calls, activities } = createLocalActivities();

before(async () => {
  env = await startEnv();
  await env.startWorker({ taskQueue: 'local', identity: 'local', workflowsPath: LOCAL, activities });
});

after(async () => {
  await env?.stop();
});

async function history(workflowId: string): Promise<HistoryEvent[]> {
  return env.client.workflow.getHandle(workflowId).fetchHistory();
}

const types = (h: HistoryEvent[]) => h.map((e) => e.event_type);
const markers = (h: HistoryEvent[]) => h.filter((e) => e.event_type === 'MarkerRecorded' && e.attributes.marker_name === 'core_local_activity')
  .map((e) => e.attributes.details);

describe('local activities', () => {
  it('a chain of 3 local activities takes one workflow task: 3 MarkerRecorded and the completion in one completion', async () => {
    const before = calls.length;
    const w = env.workers[0];
    const polled = w.stats.polledTasks;
    const result = await env.client.workflow.execute('localChain', { args: ['x'], taskQueue: 'local', workflowId: 'la-chain' });
    assert.equal(result, 'x123');
    assert.deepEqual(calls.slice(before), ['greet:x:1:true', 'greet:x1:2:true', 'greet:x12:3:true']);
    assert.equal(w.stats.polledTasks - polled, 1, 'one poll: the first and only workflow task');
    const h = await history('la-chain');
    assert.deepEqual(types(h), [
      'WorkflowExecutionStarted', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskCompleted',
      'MarkerRecorded', 'MarkerRecorded', 'MarkerRecorded', 'WorkflowExecutionCompleted',
    ]);
    const m = markers(h);
    assert.deepEqual(m.map((d) => [d.seq, d.attempt, d.activity_id, d.activity_type, d.result, d.backoff]), [
      [1, 1, '1', 'greet', 'x1', null], [2, 1, '2', 'greet', 'x12', null], [3, 1, '3', 'greet', 'x123', null],
    ]);
    for (const d of m) {
      assert.ok(!Number.isNaN(Date.parse(d.complete_time)) && !Number.isNaN(Date.parse(d.original_schedule_time)));
      assert.equal(d.failure, undefined);
    }
    // replay resolves every call from its marker: nothing runs again
    await Worker.runReplayHistory({ workflowsPath: LOCAL }, h);
    assert.equal(calls.length - before, 3);
    if (process.env.DURABLE_CAPTURE_FIXTURES) fs.writeFileSync(fixture('local-chain'), JSON.stringify(h, null, 1));
  });

  it('retries in the worker while the backoff is below localRetryThreshold: one marker, the last attempt', async () => {
    const result = await env.client.workflow.execute('localRetryInProcess', { args: ['inproc', 2], taskQueue: 'local', workflowId: 'la-inproc' });
    assert.equal(result, 3);
    assert.deepEqual(calls.filter((c) => c.startsWith('failTimes:inproc:')), ['failTimes:inproc:1', 'failTimes:inproc:2', 'failTimes:inproc:3']);
    const h = await history('la-inproc');
    assert.ok(!types(h).includes('TimerStarted'));
    assert.deepEqual(markers(h).map((d) => [d.seq, d.attempt, d.result]), [[1, 3, 3]]);
  });

  it('a backoff above localRetryThreshold is a marker with the failure, a durable timer, then the next attempt', async () => {
    const result = await env.client.workflow.execute('localRetryTimer', { args: ['timer', 1], taskQueue: 'local', workflowId: 'la-timer' });
    assert.equal(result, 2);
    const h = await history('la-timer');
    const t = types(h).filter((x) => x === 'MarkerRecorded' || x.startsWith('Timer'));
    assert.deepEqual(t, ['MarkerRecorded', 'TimerStarted', 'TimerFired', 'MarkerRecorded']);
    const [first, second] = markers(h);
    assert.equal(first.seq, 1);
    assert.equal(first.attempt, 1);
    assert.equal(first.backoff, '1s');
    assert.equal(first.failure.message, 'attempt 1 failed');
    assert.equal(first.failure.type, 'Flaky');
    // the next attempt is a new schedule (seq 2) that carries the attempt and the first schedule's time
    assert.deepEqual([second.seq, second.attempt, second.result, second.original_schedule_time], [2, 2, 2, first.original_schedule_time]);
    const timer = h.find((e) => e.event_type === 'TimerStarted')!;
    assert.equal(timer.attributes.start_to_fire_timeout, '1s');
    await Worker.runReplayHistory({ workflowsPath: LOCAL }, h);
    if (process.env.DURABLE_CAPTURE_FIXTURES) fs.writeFileSync(fixture('local-retry-timer'), JSON.stringify(h, null, 1));
  });

  it('gives up after maximumAttempts with an ActivityFailure', async () => {
    const result = await env.client.workflow.execute('localGivesUp', { args: ['giveup'], taskQueue: 'local', workflowId: 'la-giveup' });
    assert.equal(result, 'ActivityFailure:MAXIMUM_ATTEMPTS_REACHED:attempt 2 failed');
    const [m] = markers(await history('la-giveup'));
    assert.deepEqual([m.attempt, m.retry_state, m.failure.message], [2, 'MAXIMUM_ATTEMPTS_REACHED', 'attempt 2 failed']);
  });

  it('a local activity longer than the workflow task timeout keeps its task alive with force_new_task', async () => {
    const before = calls.length;
    const result = await env.client.workflow.execute('localLong', {
      args: [3500], taskQueue: 'local', workflowId: 'la-long', workflowTaskTimeout: '2s',
    });
    assert.equal(result, 'slept 3500');
    assert.deepEqual(calls.slice(before), ['slow:3500'], 'run once, never again');
    const h = await history('la-long');
    const t = types(h);
    assert.ok(!t.includes('WorkflowTaskTimedOut') && !t.includes('WorkflowTaskFailed'), t.join());
    // 3.5 s at 80 % of 2 s: two heartbeats (completions without the marker), then the marker
    const completed = t.filter((x) => x === 'WorkflowTaskCompleted').length;
    assert.ok(completed >= 3, `workflow tasks: ${completed}`);
    assert.deepEqual(t.slice(-2), ['MarkerRecorded', 'WorkflowExecutionCompleted']);
    assert.equal(env.workers[0].stats.polledTasks >= 1, true);
    await Worker.runReplayHistory({ workflowsPath: LOCAL }, h);
  });

  it('beside an outstanding activity, where the engine queues the forced task, the local activity still runs once', async () => {
    const before = calls.length;
    const result = await env.client.workflow.execute('localBesideActivity', {
      args: [2500], taskQueue: 'local', workflowId: 'la-beside', workflowTaskTimeout: '2s',
    });
    assert.equal(result, 'slept 2500|slept 3000');
    assert.deepEqual(calls.slice(before).sort(), ['slow:2500', 'slow:3000'], 'each ran once');
    const h = await history('la-beside');
    assert.ok(!types(h).includes('WorkflowTaskTimedOut'), types(h).join());
    await Worker.runReplayHistory({ workflowsPath: LOCAL }, h);
  });

  for (const [type, activitySeesCancel] of [['TRY_CANCEL', true], ['WAIT_CANCELLATION_COMPLETED', true], ['ABANDON', false]] as const) {
    it(`cancellation ${type}: the call rejects with a cancelled ActivityFailure, recorded on a marker`, async () => {
      const key = `cancel-${type}`;
      const result = await env.client.workflow.execute('localCancelled', {
        args: [key, type], taskQueue: 'local', workflowId: `la-${key}`, workflowTaskTimeout: '1s',
      });
      assert.equal(result, 'ActivityFailure:CancelledFailure');
      assert.ok(calls.includes(`waitForCancel:${key}:start`));
      assert.equal(calls.includes(`waitForCancel:${key}:cancelled`), activitySeesCancel);
      const h = await history(`la-${key}`);
      const [m] = markers(h);
      assert.equal(m.failure.type, 'CancelledFailure');
      assert.equal(m.retry_state, 'CANCEL_REQUESTED');
      await Worker.runReplayHistory({ workflowsPath: LOCAL }, h);
    });
  }

  it('cancelled in the activation that scheduled it: never run, nothing recorded', async () => {
    const result = await env.client.workflow.execute('localCancelledAtOnce', { args: ['atonce'], taskQueue: 'local', workflowId: 'la-atonce' });
    assert.equal(result, 'ActivityFailure');
    assert.ok(!calls.some((c) => c.startsWith('waitForCancel:atonce')));
    assert.deepEqual(markers(await history('la-atonce')), []);
  });

  it('the @temporalio/workflow shim exports proxyLocalActivities: a marker, not an activity', async () => {
    await env.startWorker({ taskQueue: 'local-temporal', workflowsPath: require.resolve('../workflows/local-temporal'), activities });
    const result = await env.client.workflow.execute('temporalLocal', { args: ['t'], taskQueue: 'local-temporal', workflowId: 'la-temporal' });
    assert.equal(result, 't7');
    const h = await history('la-temporal');
    assert.ok(!types(h).includes('ActivityTaskScheduled'));
    assert.deepEqual(markers(h).map((d) => [d.activity_type, d.result]), [['greet', 't7']]);
  });

  it('with payload codecs, a marker holds the encoded result, and replays through the codecs', async () => {
    const codec = new AesGcmCodec('key-1', Buffer.alloc(32, 7));
    const dataConverter = { payloadCodecs: [codec] };
    await env.startWorker({ taskQueue: 'local-crypt', workflowsPath: LOCAL, activities, dataConverter });
    const client = new Client({ connectionString: env.cluster.connectionString, dataConverter });
    try {
      assert.equal(await client.workflow.execute('localChain', { args: ['c'], taskQueue: 'local-crypt', workflowId: 'la-crypt' }), 'c123');
      const h = await history('la-crypt');
      const m = markers(h);
      assert.equal(m.length, 3);
      for (const d of m) assert.equal(Buffer.from(d.result.metadata.encoding, 'base64').toString(), 'binary/encrypted');
      await Worker.runReplayHistory({ workflowsPath: LOCAL, dataConverter }, h);
    } finally {
      await client.close();
    }
  });

  it('mixes with activities and timers; concurrent local activities each get a marker', async () => {
    const result = await env.client.workflow.execute('localMixed', { args: ['m'], taskQueue: 'local', workflowId: 'la-mixed' });
    assert.equal(result, 'm123|m124');
    const h = await history('la-mixed');
    assert.deepEqual(markers(h).map((d) => [d.seq, d.activity_type, d.result]), [[1, 'greet', 'm1'], [3, 'greet', 'm123'], [4, 'greet', 'm124']]);
    if (process.env.DURABLE_CAPTURE_FIXTURES) fs.writeFileSync(fixture('local-mixed'), JSON.stringify(h, null, 1));
    await Worker.runReplayHistory({ workflowsPath: LOCAL }, h);
  });
});

/**
 * Issue 9, point 4: what the workflow sandbox offers, as Temporal's does.
 *
 * Temporal's sources followed:
 *   - temporalio/sdk-typescript packages/workflow/src/global-overrides.ts:
 *     setTimeout(cb, ms, ...args) starts a durable timer in a new cancellable
 *     scope and returns its sequence number; clearTimeout cancels it;
 *     WeakRef and FinalizationRegistry throw DeterminismViolationError;
 *   - packages/workflow/src/trigger.ts (https://typescript.temporal.io/api/classes/workflow.Trigger):
 *     resolve/reject from outside; rejects when its cancellable scope is cancelled;
 *   - packages/worker/src/workflow/vm-shared.ts (injectGlobals): URL,
 *     URLSearchParams, TextEncoder, TextDecoder, AbortController in the context.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from '../../src';
import { Env, startEnv, waitFor } from '../helpers/env';

const WORKFLOWS = require.resolve('../workflows/sandbox-globals');
let env: Env;

before(async () => {
  env = await startEnv();
  await env.startWorker({ taskQueue: 'sandbox', workflowsPath: WORKFLOWS });
});

after(async () => {
  await env?.stop();
});

describe('workflow sandbox globals', () => {
  it('setTimeout and clearTimeout are durable timers (history has them; replay matches)', async () => {
    const h = await env.client.workflow.start('timeouts', { taskQueue: 'sandbox', workflowId: 'sb-timeouts' });
    assert.deepEqual(await h.result(), ['fired x y']);
    const hist = await h.fetchHistory();
    const ids = (type: string) => hist.filter((e) => e.event_type === type).map((e) => e.attributes.timer_id);
    // timer 1: setTimeout 50 ms; 2: setTimeout 60 s, cleared after it was started; 3: sleep;
    // 4: setTimeout cleared in the activation that made it (never sent); 5: sleep
    assert.deepEqual(ids('TimerStarted'), ['1', '2', '3', '5']);
    assert.deepEqual(ids('TimerFired'), ['1', '3', '5']);
    assert.deepEqual(ids('TimerCanceled'), ['2']);
    const first = hist.find((e) => e.event_type === 'TimerStarted')!;
    assert.match(String(first.attributes.start_to_fire_timeout), /^0\.05/);
    await Worker.runReplayHistory({ workflowsPath: WORKFLOWS }, hist);
  });

  it('Trigger resolves from a signal handler and rejects when its scope is cancelled', async () => {
    const h = await env.client.workflow.start('triggers', { taskQueue: 'sandbox', workflowId: 'sb-trigger' });
    await h.signal('go', 'green');
    assert.deepEqual(await h.result(), { signalled: 'green', cancelled: 'cancelled' });
  });

  it('AbortController, TextEncoder/Decoder, URL, structuredClone work; the non-deterministic rest throws DeterminismViolationError', async () => {
    const r = await env.client.workflow.execute('webApis', { taskQueue: 'sandbox', workflowId: 'sb-web' }) as Record<string, any>;
    assert.equal(r.aborted, 'stop');
    assert.equal(r.abortSignalAbort, true);
    assert.equal(r.signalIsAbortSignal, true);
    assert.equal(r.bytes, 6);
    assert.equal(r.text, 'héllo');
    assert.equal(r.host, 'example.com');
    assert.equal(r.x, '1');
    assert.equal(r.search, '2');
    assert.equal(r.cloneDeep, true);
    assert.equal(r.cloneTypes, true);
    assert.equal(r.cloneCycle, true);
    assert.match(r.cloneFunction, /^DataCloneError/);
    assert.equal(r.weakMap, true);
    assert.equal(r.intlNow, true, 'Intl.DateTimeFormat().format() uses the workflow time');
    const dve = /^DeterminismViolationError \(DeterminismViolationError\): /;
    for (const k of ['weakRef', 'finalizationRegistry', 'abortSignalTimeout', 'cryptoRandom', 'cryptoUUID', 'performanceNow',
      'setInterval', 'setImmediate', 'fetch']) {
      assert.match(r[k], dve, `${k}: ${r[k]}`);
    }
    assert.match(r.weakRef, /WeakRef cannot be used in workflow code because .*garbage collection/);
    assert.match(r.cryptoRandom, /use Math\.random\(\) or uuid4\(\)/);
  });

  it('an uncaught DeterminismViolationError fails the workflow task; the workflow stays open', async () => {
    const h = await env.client.workflow.start('usesWeakRef', { taskQueue: 'sandbox', workflowId: 'sb-weakref' });
    const failed = await waitFor(async () => (await h.fetchHistory()).find((e) => e.event_type === 'WorkflowTaskFailed'), 'WorkflowTaskFailed');
    assert.ok(failed);
    assert.equal(failed.attributes.failure.type, 'DeterminismViolationError');
    assert.match(failed.attributes.failure.message, /WeakRef cannot be used in workflow code/);
    assert.equal((await h.describe()).status, 'running');
    await h.terminate('done');
  });
});

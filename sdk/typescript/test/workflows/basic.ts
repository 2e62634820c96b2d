/** Workflows of the end-to-end and unit tests. */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, condition, continueAsNew, defineQuery, defineSignal,
  isCancellation, proxyActivities, setHandler, sleep, uuid4, workflowInfo,
} from '../../src/workflow';
import type { TestActivities } from './activities';

const acts = proxyActivities<TestActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 4, nonRetryableErrorTypes: ['BadInput'] },
});

export const go = defineSignal<[string]>('go');
export const stateQuery = defineQuery<string>('state');

/** Fails attempts 1..n-1 (retryable), then succeeds. */
export async function retrying(key: string, failures: number): Promise<number> {
  return await acts.failTimes(key, failures, 'Flaky');
}

/** The activity throws an error whose type is in nonRetryableErrorTypes. */
export async function nonRetryableByType(key: string): Promise<string> {
  try {
    await acts.failTimes(key, 99, 'BadInput');
    return 'unexpected';
  } catch (e) {
    if (e instanceof ActivityFailure && e.cause instanceof ApplicationFailure) return `${e.cause.type}:${e.retryState}`;
    throw e;
  }
}

/** A timer races a signal. */
export async function timerVsSignal(timeout: string): Promise<string> {
  let got: string | undefined;
  setHandler(go, (v) => {
    got = v;
  });
  setHandler(stateQuery, () => (got ? `signaled:${got}` : 'waiting'));
  const winner = await CancellationScope.cancellable(async () => {
    try {
      return await Promise.race([sleep(timeout).then(() => 'timer'), condition(() => got !== undefined).then(() => `signal:${got}`)]);
    } finally {
      CancellationScope.current().cancel();
    }
  });
  return winner;
}

/** condition() with a timeout. */
export async function conditionWithTimeout(timeout: string): Promise<boolean> {
  let got = false;
  setHandler(go, () => {
    got = true;
  });
  return await condition(() => got, timeout);
}

/** Continue-as-new until n reaches max; returns run ids seen via info. */
export async function counter(n: number, max: number): Promise<{ n: number; continuedFrom: string | null }> {
  if (n < max) {
    await sleep(10);
    await continueAsNew<typeof counter>(n + 1, max);
  }
  return { n, continuedFrom: workflowInfo().continuedFromExecutionRunId ?? null };
}

/** A heartbeating activity is cancelled by the workflow, which waits for it to acknowledge. */
export async function cancelHeartbeating(key: string): Promise<string> {
  const slow = proxyActivities<TestActivities>({
    startToCloseTimeout: '30s', heartbeatTimeout: '2s', cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    retry: { maximumAttempts: 1 },
  });
  const scope = new CancellationScope();
  const p = scope.run(() => slow.heartbeatUntilCancelled(key));
  await sleep('1.5s');
  scope.cancel();
  try {
    await p;
    return 'completed';
  } catch (e) {
    return isCancellation(e) ? 'cancelled' : `failed: ${(e as Error).message}`;
  }
}

/** Heartbeat details survive into the next attempt. */
export async function heartbeatResume(key: string): Promise<number> {
  const a = proxyActivities<TestActivities>({ startToCloseTimeout: '30s', heartbeatTimeout: '1s', retry: { initialInterval: '100ms', maximumAttempts: 3 } });
  return await a.resumeFromHeartbeat(key);
}

/** Waits for cancellation, then cleans up in a non-cancellable scope. */
export async function cancellable(key: string): Promise<void> {
  try {
    await sleep('1 hour');
  } catch (e) {
    if (isCancellation(e)) {
      await CancellationScope.nonCancellable(() => acts.record(key, 'cleanup'));
    }
    throw e;
  }
}

/** Deterministic values: the same on replay. */
export async function deterministic(): Promise<{ uuid: string; random: number; now: number; date: string }> {
  const r = { uuid: uuid4(), random: Math.random(), now: Date.now(), date: new Date().toISOString() };
  await sleep(5);
  return r;
}

/** Collects signals until "done". */
export async function collector(): Promise<string[]> {
  const got: string[] = [];
  setHandler(go, (v) => {
    got.push(v);
  });
  setHandler(stateQuery, () => got.join(','));
  await condition(() => got.includes('done'));
  return got;
}

/** Throws a plain Error: fails the workflow task (not the workflow) until fixed. */
export async function buggy(): Promise<void> {
  throw new Error('bug');
}

/** Fails the workflow with an ApplicationFailure. */
export async function failing(msg: string): Promise<void> {
  throw ApplicationFailure.nonRetryable(msg, 'MyError');
}

/** n activities one after the other, each adding to the previous result. */
export async function chain(n: number): Promise<number> {
  let r = 0;
  for (let i = 1; i <= n; i++) r = await acts.add(r, i);
  return r;
}

/** n activities at once, each taking ms; the worker's activity slots bound how many run together. */
export async function fanOut(key: string, n: number, ms: number): Promise<number[]> {
  const ps: Promise<number>[] = [];
  for (let i = 0; i < n; i++) ps.push(acts.timed(key, i, ms));
  return await Promise.all(ps);
}

/**
 * One activity with a short start-to-close timeout, then a second: the
 * crash test kills the worker while it holds the first, handed out eagerly.
 */
export async function holdThenStep(key: string): Promise<string> {
  const short = proxyActivities<TestActivities>({ startToCloseTimeout: '2s', retry: { initialInterval: '100ms', maximumAttempts: 5 } });
  const first = await short.holdOnFirstAttempt(key);
  const second = await acts.add(1, 1);
  return `${first}:${second}`;
}

/**
 * One activity with a start-to-close timeout of an hour: the crash test
 * kills the worker while it holds it; only the worker's session brings it
 * back before the hour is out.
 */
export async function holdLong(key: string): Promise<string> {
  const long = proxyActivities<TestActivities>({ startToCloseTimeout: '1 hour', retry: { initialInterval: '100ms', maximumAttempts: 5 } });
  return await long.holdOnFirstAttempt(key);
}

/**
 * For the sticky-execution tests: n rounds of waiting for a signal, then an
 * activity; returns what the code saw each round (workflowInfo's history
 * length included), which must not depend on how the worker got the history.
 * The query "state" answers how many rounds are done.
 */
export async function observer(n: number): Promise<unknown[]> {
  const seen: unknown[] = [];
  const got: string[] = [];
  setHandler(go, (v) => {
    got.push(v);
  });
  setHandler(stateQuery, () => String(seen.length));
  for (let i = 0; i < n; i++) {
    await condition(() => got.length > i);
    const r = await acts.add(i, got[i].length);
    seen.push({ signal: got[i], r, historyLength: workflowInfo().historyLength });
  }
  return seen;
}

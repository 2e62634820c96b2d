/**
 * Workflows of the local activity tests (test/e2e/local-activities.test.ts,
 * test/unit/local-activities.test.ts); their activities are in
 * local-activities.ts.
 */
import { ActivityFailure, CancellationScope, proxyActivities, proxyLocalActivities, sleep } from '../../src/workflow';
import type { LocalActivities } from './local-activities';

const quick = proxyLocalActivities<LocalActivities>({ startToCloseTimeout: '5s' });

/** Three local activities in a row: one workflow task, three markers (issue 11: at most 3 transactions). */
export async function localChain(name: string): Promise<string> {
  const a = await quick.greet(name, 1);
  const b = await quick.greet(a, 2);
  return quick.greet(b, 3);
}

/** Fails `failures` times; backoffs of 50 ms stay below the threshold: retried in the worker, one marker. */
export async function localRetryInProcess(key: string, failures: number): Promise<number> {
  const { failTimes } = proxyLocalActivities<LocalActivities>({
    startToCloseTimeout: '5s', retry: { initialInterval: 50, backoffCoefficient: 1 },
  });
  return failTimes(key, failures);
}

/** A 1 s backoff above a 100 ms threshold: a marker with the failure and the backoff, a durable timer, the next attempt. */
export async function localRetryTimer(key: string, failures: number): Promise<number> {
  const { failTimes } = proxyLocalActivities<LocalActivities>({
    startToCloseTimeout: '5s', retry: { initialInterval: '1s', backoffCoefficient: 1 }, localRetryThreshold: '100ms',
  });
  return failTimes(key, failures);
}

/** Gives up after `maximumAttempts`: the workflow sees an ActivityFailure whose cause is the last attempt's. */
export async function localGivesUp(key: string): Promise<string> {
  const { failTimes } = proxyLocalActivities<LocalActivities>({
    startToCloseTimeout: '5s', retry: { initialInterval: 10, maximumAttempts: 2 },
  });
  try {
    await failTimes(key, 5);
    return 'completed';
  } catch (e) {
    const f = e as ActivityFailure;
    return `${f.name}:${f.retryState}:${(f.cause as Error)?.message}`;
  }
}

/** A local activity longer than the workflow task timeout: the task is kept alive by completions with force_new_task. */
export async function localLong(ms: number): Promise<string> {
  const { slow } = proxyLocalActivities<LocalActivities>({ startToCloseTimeout: '60s' });
  return slow(ms);
}

/** A local activity cancelled by a timer while it runs, with the given cancellation type. */
export async function localCancelled(key: string, cancellationType: 'TRY_CANCEL' | 'WAIT_CANCELLATION_COMPLETED' | 'ABANDON'): Promise<string> {
  const { waitForCancel } = proxyLocalActivities<LocalActivities>({ startToCloseTimeout: '60s', cancellationType });
  const scope = new CancellationScope();
  const p = scope.run(() => waitForCancel(key));
  void sleep(200).then(() => scope.cancel());
  try {
    return await p;
  } catch (e) {
    return `${(e as Error).name}:${((e as ActivityFailure).cause as Error)?.name}`;
  }
}

/** Cancelled before it reached the worker (same activation): nothing runs, nothing is recorded. */
export async function localCancelledAtOnce(key: string): Promise<string> {
  const scope = new CancellationScope();
  const p = scope.run(() => quick.waitForCancel(key));
  scope.cancel();
  try {
    await p;
    return 'ran';
  } catch (e) {
    return (e as Error).name;
  }
}

/** Local activities mixed with an ordinary activity and a timer. */
export async function localMixed(name: string): Promise<string> {
  const { greet } = proxyActivities<LocalActivities>({ startToCloseTimeout: '5s' });
  const a = await quick.greet(name, 1);
  const b = await greet(a, 2);
  await sleep(10);
  const [c, d] = await Promise.all([quick.greet(b, 3), quick.greet(b, 4)]);
  return `${c}|${d}`;
}

/** localChain with another activity type in the middle (non-determinism against localChain's history). */
export async function localChainChanged(name: string): Promise<string> {
  const a = await quick.greet(name, 1);
  const b = await quick.shout(a);
  return quick.greet(b, 3);
}

/** localChain with ordinary activities (the transaction count's comparison, test/tools/count-local-transactions.ts). */
export async function remoteChain(name: string): Promise<string> {
  const { greet } = proxyActivities<LocalActivities>({ startToCloseTimeout: '5s' });
  const a = await greet(name, 1);
  const b = await greet(a, 2);
  return greet(b, 3);
}

/**
 * A long local activity while an ordinary activity is outstanding: the
 * engine does not hand the forced workflow task back then (eager dispatch's
 * rule), so the worker keeps the local activity running and takes it up
 * again when it polls that task.
 */
export async function localBesideActivity(ms: number): Promise<string> {
  const { slow: remoteSlow } = proxyActivities<LocalActivities>({ startToCloseTimeout: '30s' });
  const { slow } = proxyLocalActivities<LocalActivities>({ startToCloseTimeout: '60s' });
  const remote = remoteSlow(ms);
  const local = await slow(ms + 500);
  return `${await remote}|${local}`;
}

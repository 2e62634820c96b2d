/**
 * Workflows of the Temporal-compatibility tests (test/unit/compat-workflow.test.ts,
 * test/e2e/compat.test.ts), written as Temporal code would be: only the
 * import path differs from @temporalio/workflow.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, RetryState, SearchAttributeType, TimeoutFailure, condition,
  defineQuery, defineSearchAttributeKey, defineSignal, isCancellation, log, makeContinueAsNewFunc, proxyActivities,
  setDefaultSignalHandler, setHandler, sleep, upsertSearchAttributes, workflowInfo,
} from '../../src/workflow';
import type { CompatActivities } from './compat-activities';

export const go = defineSignal<[string]>('go');
export const other = defineSignal<[string]>('other');
export const stateQuery = defineQuery<string>('state');

/** Logs once per activation (live), with attributes; two timers. */
export async function logging(): Promise<string> {
  log.info('started', { step: 1 });
  await sleep(10);
  log.warn('after first timer', { step: 2 });
  await sleep(10);
  log.info('done', { step: 3 });
  return 'ok';
}

/** Date.now() (the workflow task's time) next to unsafe.now() (the real clock). */
export async function clocks(): Promise<{ safe: number; unsafe: number; replaying: boolean }> {
  return { safe: Date.now(), unsafe: workflowInfo().unsafe.now(), replaying: workflowInfo().unsafe.isReplaying };
}

/** sleep() with a number below 1 (here negative) sleeps 1 ms, as in Temporal. */
export async function sleepNegative(): Promise<void> {
  await sleep(-5);
}

/**
 * Waits (condition) until told, then takes the buffered `go` signals with a
 * handler that unregisters itself after the first: what it saw, and what a
 * second handler set afterwards receives.
 */
export async function selfUnregistering(): Promise<{ first: string[]; second: string[] }> {
  let open = false;
  setHandler(other, () => {
    open = true;
  });
  await condition(() => open);
  const first: string[] = [];
  const second: string[] = [];
  setHandler(go, (v) => {
    first.push(v);
    setHandler(go, undefined);
  });
  setHandler(go, (v) => {
    second.push(v);
  });
  return { first, second };
}

/** Buffered signals, one at a time in order, to the handler set last. */
export async function bufferedInOrder(): Promise<string[]> {
  let open = false;
  setHandler(other, () => {
    open = true;
  });
  await condition(() => open);
  const got: string[] = [];
  setHandler(go, (v) => {
    got.push(v);
  });
  return got;
}

/** The default signal handler gets the signals without a handler of their own: buffered ones, then new ones. */
export async function defaultHandler(): Promise<string[]> {
  const got: string[] = [];
  setHandler(go, (v) => {
    got.push(`go:${v}`);
  });
  let open = false;
  setHandler(other, () => {
    open = true;
  });
  await condition(() => open);
  setDefaultSignalHandler((name, ...args) => {
    got.push(`default:${name}:${args.join(',')}`);
  });
  await condition(() => got.some((g) => g.endsWith(':end')));
  return got;
}

/** What the workflow sees on its first line, right after setting its handler (signalWithStart). */
export async function firstLine(): Promise<string> {
  let got: string | undefined;
  setHandler(go, (v) => {
    got = v;
  });
  if (got === undefined) return 'no signal yet';
  return `signal before first await: ${got}`;
}

/** Cancelled before it started: the first sleep throws at once. */
export async function cancelledBeforeStart(): Promise<string> {
  try {
    await sleep('1 hour');
    return 'slept';
  } catch (e) {
    if (isCancellation(e)) throw e;
    return `other: ${(e as Error).message}`;
  }
}

/** Non-cancellable scopes: cancel() on the scope itself or on an ancestor does not stop the work in it. */
export async function nonCancellable(): Promise<string[]> {
  const out: string[] = [];
  // cancel() on the non-cancellable scope itself
  const self = new CancellationScope({ cancellable: false });
  const p1 = self.run(async () => {
    await sleep(10);
    out.push('self: finished');
  });
  self.cancel();
  await p1;
  // cancel() on a cancellable ancestor
  const outer = new CancellationScope();
  const p2 = outer.run(() => CancellationScope.nonCancellable(async () => {
    await sleep(10);
    out.push('ancestor: finished');
  }));
  outer.cancel();
  await p2;
  // a cancellable scope inside a non-cancellable one: the non-cancellable's cancel() does not reach it
  const shield = new CancellationScope({ cancellable: false });
  const p3 = shield.run(() => CancellationScope.cancellable(async () => {
    await sleep(10);
    out.push('inner cancellable: finished');
  }));
  shield.cancel();
  await p3;
  out.push(`shield.consideredCancelled=${shield.consideredCancelled}`);
  return out;
}

/** Search attributes: set two, then remove one with [] (Temporal's way); what workflowInfo() shows. */
export async function upsertRemove(): Promise<Record<string, unknown>> {
  upsertSearchAttributes({ plan: 'gold', region: 'eu' });
  await sleep(5);
  upsertSearchAttributes({ region: [] });
  await sleep(5);
  return { ...workflowInfo().searchAttributes };
}

/** Returns nothing. */
export async function returnsNothing(): Promise<void> {
  await sleep(1);
}

/** Returns null. */
export async function returnsNull(): Promise<null> {
  return null;
}

/** continueAsNewSuggested, historyLength and historySize at each signal, until "stop". */
export async function suggestion(): Promise<unknown[]> {
  const seen: unknown[] = [];
  const i = workflowInfo();
  seen.push([i.continueAsNewSuggested, i.historyLength, i.historySize]);
  let n = 0;
  setHandler(go, () => {
    n++;
  });
  await condition(() => n > 0);
  const j = workflowInfo();
  seen.push([j.continueAsNewSuggested, j.historyLength, j.historySize]);
  return seen;
}

/** Continues as new once, with every option the engine's continue_as_new carries. */
export async function continueWithOptions(round: number): Promise<unknown> {
  if (round === 0) {
    const next = makeContinueAsNewFunc<typeof continueWithOptions>({
      workflowType: 'continueWithOptions', taskQueue: workflowInfo().taskQueue, workflowRunTimeout: '1 hour', workflowTaskTimeout: '20s',
    });
    await next(1);
  }
  return { round, continuedFrom: workflowInfo().continuedFromExecutionRunId ?? null };
}

/**
 * Continues as new once with a memo, search attributes (untyped and typed:
 * the typed value wins), a retry policy and a backoff before the new run's
 * first workflow task; the new run reports its memo and search attributes.
 */
export async function continueWithMemo(round: number): Promise<unknown> {
  if (round === 0) {
    await makeContinueAsNewFunc<typeof continueWithMemo>({
      memo: { note: 'next', n: 2 },
      searchAttributes: { plan: 'gold', tier: 'x', gone: [] },
      typedSearchAttributes: [{ key: defineSearchAttributeKey('tier', SearchAttributeType.KEYWORD), value: 'y' }],
      retryPolicy: { maximumAttempts: 2, initialInterval: '2s' },
      backoffStartInterval: '1s',
    })(1);
  }
  const info = workflowInfo();
  return { round, memo: info.memo ?? null, searchAttributes: info.searchAttributes };
}

/**
 * Activities failing in each way the engine reports: what ActivityFailure
 * says (retryState, cause's class and timeout type).
 */
export async function retryStates(key: string): Promise<string[]> {
  const out: string[] = [];
  const describe = (e: unknown): string => {
    if (!(e instanceof ActivityFailure)) return `not an ActivityFailure: ${e}`;
    const c = e.cause;
    const cause = c instanceof TimeoutFailure ? `TimeoutFailure(${c.timeoutType})`
      : c instanceof ApplicationFailure ? `ApplicationFailure(${c.type}, nonRetryable=${c.nonRetryable})` : String(c);
    return `${e.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? 'MAX' : e.retryState}:${cause}`;
  };
  const limited = proxyActivities<CompatActivities>({
    startToCloseTimeout: '10s', retry: { initialInterval: '50ms', maximumAttempts: 2 },
  });
  for (const call of [
    () => limited.failWith(key, 'nonRetryable'),
    () => limited.failWith(key, 'retryable'),
  ]) {
    try {
      await call();
      out.push('completed');
    } catch (e) {
      out.push(describe(e));
    }
  }
  const timed = proxyActivities<CompatActivities>({ scheduleToCloseTimeout: '1500ms', retry: { initialInterval: '100ms' } });
  try {
    await timed.failWith(key, 'slow');
    out.push('completed');
  } catch (e) {
    out.push(describe(e));
  }
  return out;
}

/** An activity failing with nextRetryDelay (300 ms), retried after it rather than its policy's 20 s. */
export async function withNextRetryDelay(key: string): Promise<number> {
  const a = proxyActivities<CompatActivities>({ startToCloseTimeout: '10s', retry: { initialInterval: '20s', maximumAttempts: 3 } });
  return await a.failOnceWithNextRetryDelay(key);
}

/** The activity module's functions: info, heartbeats, cancellable sleep, cancelled(), log. */
export async function activityApi(key: string): Promise<unknown> {
  const a = proxyActivities<CompatActivities>({
    startToCloseTimeout: '20s', heartbeatTimeout: '2s', retry: { initialInterval: '50ms', maximumAttempts: 3 },
  });
  const resumed = await a.resumable(key);
  const c = proxyActivities<CompatActivities>({
    startToCloseTimeout: '20s', heartbeatTimeout: '2s', cancellationType: 'WAIT_CANCELLATION_COMPLETED', retry: { maximumAttempts: 1 },
  });
  const scope = new CancellationScope();
  const p = scope.run(() => c.sleepUntilCancelled(key));
  await sleep('1s');
  scope.cancel();
  let cancelled = 'not cancelled';
  try {
    await p;
  } catch (e) {
    cancelled = isCancellation(e) ? 'cancelled' : `failed: ${(e as Error).message}`;
  }
  return { resumed, cancelled };
}

/** Collects `go` signals until "done"; the query "state" joins them. */
export async function collector(): Promise<string[]> {
  const got: string[] = [];
  setHandler(go, (v) => {
    got.push(v);
  });
  setHandler(stateQuery, () => got.join(','));
  await condition(() => got.includes('done'));
  return got;
}

/**
 * Workflows that use the globals of the sandbox (issue 9, point 4):
 * setTimeout/clearTimeout as durable timers, Trigger, the web APIs
 * Temporal's sandbox offers, and what throws DeterminismViolationError.
 */
import {
  CancellationScope, DeterminismViolationError, Trigger, defineSignal, isCancellation, setHandler, sleep,
} from '../../src/workflow';

export async function timeouts(): Promise<string[]> {
  const log: string[] = [];
  await new Promise<void>((resolve) => {
    setTimeout((a: string, b: string) => {
      log.push(`fired ${a} ${b}`);
      resolve();
    }, 50, 'x', 'y');
  });
  const late = setTimeout(() => log.push('cleared timer fired'), 60_000);
  await sleep(10); // the 60 s timer is now a TimerStarted in history
  clearTimeout(late);
  const never = setTimeout(() => log.push('cleared in the same activation fired'), 60_000);
  clearTimeout(never); // never sent
  await sleep(10);
  return log;
}

export const go = defineSignal<[string]>('go');

export async function triggers(): Promise<{ signalled: string; cancelled: string }> {
  const t = new Trigger<string>();
  setHandler(go, (v) => t.resolve(v));
  const signalled = await t;
  let cancelled = 'not cancelled';
  try {
    await CancellationScope.cancellable(async () => {
      const inner = new Trigger<void>();
      CancellationScope.current().cancel();
      await inner;
    });
  } catch (e) {
    cancelled = isCancellation(e) ? 'cancelled' : `other: ${e}`;
  }
  return { signalled, cancelled };
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return `${(e as Error).name}${e instanceof DeterminismViolationError ? ' (DeterminismViolationError)' : ''}: ${(e as Error).message}`;
  }
}

/** Intl.DateTimeFormat without a date formats the workflow's time, to the millisecond. */
function intlNow(): boolean {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: 'UTC', hour: 'numeric', minute: 'numeric', second: 'numeric', fractionalSecondDigits: 3, hour12: false,
  } as Intl.DateTimeFormatOptions);
  const now = Date.now();
  return f.format() === f.format(now) && JSON.stringify(f.formatToParts()) === JSON.stringify(f.formatToParts(now));
}

export async function webApis(): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  let aborted = '';
  ac.signal.addEventListener('abort', () => (aborted = String(ac.signal.reason)));
  ac.abort('stop');
  const bytes = new TextEncoder().encode('héllo');
  const url = new URL('https://example.com/a/b?x=1#h');
  const src = { d: new Date(0), m: new Map([[1, 'a']]), s: new Set([2]), nested: { arr: [1, 2] } } as any;
  src.self = src;
  const clone = structuredClone(src);
  return {
    aborted,
    abortSignalAbort: AbortSignal.abort('x').aborted,
    signalIsAbortSignal: ac.signal instanceof AbortSignal,
    bytes: bytes.length,
    text: new TextDecoder().decode(bytes),
    host: url.host,
    x: url.searchParams.get('x'),
    search: new URLSearchParams('a=1&b=2').get('b'),
    cloneDeep: clone !== src && clone.nested !== src.nested && clone.nested.arr[1] === 2,
    cloneTypes: clone.d instanceof Date && clone.m instanceof Map && clone.m.get(1) === 'a' && clone.s.has(2),
    cloneCycle: clone.self === clone,
    cloneFunction: errorOf(() => structuredClone({ f: () => 1 })),
    weakRef: errorOf(() => new WeakRef({})),
    finalizationRegistry: errorOf(() => new FinalizationRegistry(() => undefined)),
    abortSignalTimeout: errorOf(() => AbortSignal.timeout(10)),
    cryptoRandom: errorOf(() => crypto.getRandomValues(new Uint8Array(4))),
    cryptoUUID: errorOf(() => crypto.randomUUID()),
    performanceNow: errorOf(() => performance.now()),
    setInterval: errorOf(() => setInterval(() => undefined, 10)),
    setImmediate: errorOf(() => setImmediate(() => undefined)),
    fetch: errorOf(() => fetch('https://example.com')),
    weakMap: new WeakMap([[{}, 1]]) instanceof WeakMap,
    intlNow: intlNow(),
  };
}

/** An uncaught DeterminismViolationError fails the workflow task, not the workflow. */
export async function usesWeakRef(): Promise<void> {
  new WeakRef({});
}

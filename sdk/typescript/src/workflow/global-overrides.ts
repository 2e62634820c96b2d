/**
 * The sandbox's globals beyond ECMAScript, installed once per context
 * (before the runtime records the globals it restores after each call), as
 * Temporal's workflow sandbox has them (@temporalio/workflow
 * global-overrides.ts, @temporalio/worker workflow/vm-shared.ts):
 *
 *   - setTimeout / clearTimeout: durable timers.  setTimeout(cb, ms, ...args)
 *     starts a timer (sleep) in a new cancellable scope, a child of the
 *     current one, and returns its number; when it fires cb(...args) runs;
 *     clearTimeout cancels that scope (the timer is cancelled, cb never runs);
 *   - AbortController, URL, URLSearchParams, TextEncoder, TextDecoder: the
 *     worker's own (put in the context by sandbox.ts); AbortSignal is the
 *     worker's but for AbortSignal.timeout(), which needs a real clock;
 *   - structuredClone: a deep copy made inside the sandbox;
 *   - WeakRef and FinalizationRegistry throw DeterminismViolationError (what
 *     they observe depends on garbage collection), as in Temporal;
 *   - everything else that reads the real world throws
 *     DeterminismViolationError with what to use instead: setInterval,
 *     setImmediate, crypto (getRandomValues, randomUUID, subtle),
 *     performance.now(), fetch.
 * Date and Math.random are made deterministic by internals.ts; here
 * Intl.DateTimeFormat's format() and formatToParts() without a date format
 * Date.now(), the workflow's time, instead of the real clock.
 */
import { DeterminismViolationError } from '../common/failure';
import { CancellationScope, getActivator, sleep } from './internals';

/** The scopes of a run's pending setTimeout timers, by handle. */
const timeoutScopes = new WeakMap<object, Map<number, CancellationScope>>();

function scopesOf(a: object): Map<number, CancellationScope> {
  let m = timeoutScopes.get(a);
  if (!m) timeoutScopes.set(a, (m = new Map()));
  return m;
}

function durableSetTimeout(cb: (...args: any[]) => unknown, ms?: number, ...args: unknown[]): number {
  if (typeof cb !== 'function') throw new TypeError('setTimeout in workflow code needs a function (strings are not evaluated)');
  const a = getActivator();
  const handle = a.seq.timer + 1; // the timer id sleep() takes
  const scope = new CancellationScope({ cancellable: true });
  const scopes = scopesOf(a);
  scopes.set(handle, scope);
  const delay = Math.max(1, typeof ms === 'number' && Number.isFinite(ms) ? ms : 0);
  scope.run(() => sleep(delay)).then(
    () => {
      scopes.delete(handle);
      try {
        cb(...args);
      } catch (e) {
        a.failWorkflow(e);
      }
    },
    () => scopes.delete(handle),
  );
  return handle;
}

function durableClearTimeout(handle?: number): void {
  if (typeof handle !== 'number') return;
  const scopes = scopesOf(getActivator());
  const scope = scopes.get(handle);
  if (!scope) return;
  scopes.delete(handle);
  scope.cancel();
}

function forbidden(what: string, instead: string): (...args: unknown[]) => never {
  return () => {
    throw new DeterminismViolationError(`${what} cannot be used in workflow code: it is not deterministic on replay; ${instead}`);
  };
}

/** A constructor that throws DeterminismViolationError (Temporal's WeakRef and FinalizationRegistry). */
function forbiddenClass(name: string, why: string): unknown {
  const f = function () {
    throw new DeterminismViolationError(`${name} cannot be used in workflow code because ${why}`);
  };
  Object.defineProperty(f, 'name', { value: name });
  return f;
}

/**
 * structuredClone made in the sandbox (the worker's would return objects of
 * the worker's realm): primitives, arrays, plain objects, Date, RegExp, Map,
 * Set, ArrayBuffer, typed arrays, errors; cycles kept.  Functions, symbols
 * and class instances with private state throw DataCloneError.
 */
function sandboxStructuredClone<T>(value: T): T {
  const seen = new Map<unknown, unknown>();
  const fail = (what: string): never => {
    const e = new Error(`${what} could not be cloned`);
    Object.defineProperty(e, 'name', { value: 'DataCloneError' });
    throw e;
  };
  const clone = (v: any): any => {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol')) return v;
    if (typeof v === 'function') return fail(`function ${v.name || '(anonymous)'}`);
    if (typeof v === 'symbol') return fail(String(v));
    if (seen.has(v)) return seen.get(v);
    const tag = Object.prototype.toString.call(v);
    let out: any;
    switch (tag) {
      case '[object Array]':
        out = new Array(v.length);
        seen.set(v, out);
        for (let i = 0; i < v.length; i++) out[i] = clone(v[i]);
        for (const k of Object.keys(v)) if (!/^\d+$/.test(k)) out[k] = clone(v[k]);
        return out;
      case '[object Date]':
        out = new Date(v.getTime());
        break;
      case '[object RegExp]':
        out = new RegExp(v.source, v.flags);
        break;
      case '[object Boolean]':
      case '[object Number]':
      case '[object String]':
        out = Object(v.valueOf());
        break;
      case '[object Map]':
        out = new Map();
        seen.set(v, out);
        for (const [k, x] of v) out.set(clone(k), clone(x));
        return out;
      case '[object Set]':
        out = new Set();
        seen.set(v, out);
        for (const x of v) out.add(clone(x));
        return out;
      case '[object ArrayBuffer]':
        out = v.slice(0);
        break;
      case '[object Error]':
        out = new Error(v.message);
        Object.defineProperty(out, 'name', { value: v.name, writable: true, configurable: true });
        if (typeof v.stack === 'string') out.stack = v.stack;
        seen.set(v, out);
        if ('cause' in v) out.cause = clone(v.cause);
        return out;
      case '[object Object]':
        out = {};
        seen.set(v, out);
        for (const k of Object.keys(v)) out[k] = clone(v[k]);
        return out;
      default:
        if (ArrayBuffer.isView(v)) {
          out = (v as any).slice(0);
          break;
        }
        return fail(tag.slice(8, -1));
    }
    seen.set(v, out);
    return out;
  };
  return clone(value);
}

/** AbortSignal as the worker's, without timeout() (it fires on the real clock). */
function deterministicAbortSignal(host: any): unknown {
  if (typeof host !== 'function') return undefined;
  const S = function AbortSignal() {
    throw new TypeError('Illegal constructor');
  } as any;
  S.prototype = host.prototype;
  S.abort = (reason?: unknown) => host.abort(reason);
  if (typeof host.any === 'function') S.any = (signals: unknown[]) => host.any(signals);
  S.timeout = forbidden('AbortSignal.timeout()', 'use a CancellationScope.withTimeout() or sleep()');
  return S;
}

/** Install the globals (once per context, before the runtime records them). */
export function installGlobals(): void {
  const g = globalThis as any;
  g.setTimeout = durableSetTimeout;
  g.clearTimeout = durableClearTimeout;
  g.setInterval = forbidden('setInterval', 'loop over sleep() or setTimeout, which are durable timers');
  g.clearInterval = () => undefined;
  g.setImmediate = forbidden('setImmediate', 'await Promise.resolve() to yield');
  g.clearImmediate = () => undefined;
  g.structuredClone = sandboxStructuredClone;
  g.WeakRef = forbiddenClass('WeakRef', 'what it holds depends on garbage collection, which is not deterministic');
  g.FinalizationRegistry = forbiddenClass('FinalizationRegistry', 'its callbacks depend on garbage collection, which is not deterministic');
  g.AbortSignal = deterministicAbortSignal(g.AbortSignal);
  const random = forbidden('crypto randomness', 'use Math.random() or uuid4(), which are seeded per run');
  g.crypto = Object.freeze({
    getRandomValues: random,
    randomUUID: random,
    get subtle(): never {
      return forbidden('crypto.subtle', 'do cryptography in an activity')();
    },
  });
  g.performance = Object.freeze({
    now: forbidden('performance.now()', 'use Date.now(), the time of the current workflow task'),
    get timeOrigin(): never {
      return forbidden('performance.timeOrigin', 'use workflowInfo().startTime')();
    },
  });
  g.fetch = forbidden('fetch', 'do I/O in an activity');
  deterministicDateTimeFormat(g.Intl?.DateTimeFormat);
}

/** format() and formatToParts() of the context's Intl.DateTimeFormat: no date means the workflow's now. */
function deterministicDateTimeFormat(DTF: any): void {
  if (typeof DTF !== 'function') return;
  const proto = DTF.prototype;
  const format = Object.getOwnPropertyDescriptor(proto, 'format');
  if (format?.get) {
    const get = format.get;
    Object.defineProperty(proto, 'format', {
      configurable: true,
      get(this: unknown) {
        const f = get.call(this);
        return (date?: unknown) => f(date === undefined ? Date.now() : date);
      },
    });
  }
  const formatToParts = proto.formatToParts;
  if (typeof formatToParts === 'function') {
    proto.formatToParts = function (this: unknown, date?: unknown) {
      return formatToParts.call(this, date === undefined ? Date.now() : date);
    };
  }
}

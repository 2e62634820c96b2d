/**
 * Workflow sandboxes.  Workflow code runs in a node:vm context, into which
 * the workflow modules (and the SDK's workflow runtime they import) are
 * loaded with a small CommonJS loader.  The context has its own globals
 * (deterministic Date and Math.random, durable setTimeout, no Node
 * modules; see workflow/global-overrides.ts) and its
 * own microtask queue (microtaskMode 'afterEvaluate'), so one call into it
 * runs a workflow until it blocks, synchronously.
 *
 * One context (the Realm) serves every run of the process, as Temporal's
 * reuseV8Context does: creating a context costs about half a millisecond of
 * CPU, more than all the tasks of a short workflow, and code loaded into a
 * context of its own is compiled and optimised again for each one.  What
 * keeps runs apart:
 *   - modules: the SDK's runtime modules are loaded once (their exports
 *     frozen); every other module, the workflow's own included, is
 *     evaluated for each run (a Sandbox holds the run's module instances),
 *     so module-level variables are per run, as with a context per run;
 *   - state: the runtime keeps a run's state in its Activator; each call
 *     into the context names the run's (the deterministic Date and
 *     Math.random read it);
 *   - globals: a call that leaves the globals changed (a property added,
 *     replaced or deleted) has them put back as they were, and the run's
 *     own values kept aside and restored for its next call;
 *   - calls never interleave: each runs to completion, microtasks included.
 * What this cannot isolate is a change to a built-in object itself
 * (Array.prototype.x = ..., console.log = ...): workflow code must not make
 * one (it would leak into the other runs of the process).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import Module from 'node:module';
import { AsyncLocalStorage } from 'node:async_hooks';
import { FailureJSON, IllegalStateError } from '../common/failure';
import type { LogLevel, Logger } from '../common/logger';
import type { Command } from '../workflow/internals';
import type { SinkCall } from '../workflow/sinks';
import type { LocalActivityOutput } from './local-activities';
import { Runtime } from './runtime';

const INTERNALS = require.resolve('../workflow/internals');
const OVERRIDES = require.resolve('../workflow/global-overrides');

/** The SDK's own modules that run in sandboxes (the workflow runtime, failures, durations). */
const SDK_SANDBOX_DIRS = [path.dirname(INTERNALS) + path.sep, path.join(path.dirname(INTERNALS), '..', 'common') + path.sep];

/*
 * Builtins the SDK's own sandbox modules get as parameters of their module
 * wrapper, taken from the sandbox's global when the module loads: a lookup
 * of a global in a vm context goes through the contextified global's
 * interceptor (a C++ call each time), a parameter is a local variable.  Not
 * Date, which the runtime replaces after it loads.  Workflow code's own
 * modules are wrapped as in Node.
 */
const BOUND_GLOBALS = ['globalThis', 'Object', 'Array', 'Map', 'Set', 'Promise', 'JSON', 'Math', 'Error', 'TypeError',
  'String', 'Number', 'Symbol', 'Reflect'];

/** A module file compiled once per process; its mtime is checked again at most once a second. */
const scriptCache = new Map<string, { mtimeMs: number; checked: number; script: vm.Script }>();
const snippetCache = new Map<string, vm.Script>();
/** require() resolutions: `${parent}\0${spec}` -> file (resolving costs more than the rest of a require). */
const resolveCache = new Map<string, string>();
const RECHECK_MS = 1000;

/**
 * One AsyncLocalStorage for every run (it carries the current
 * CancellationScope).  Node keeps each AsyncLocalStorage that was ever used
 * in a process-wide list until disable(), and walks that whole list on every
 * async resource (every promise) created: an instance per run made the
 * worker's CPU per task grow with the number of workflows run so far.
 * Workflow code runs synchronously, one run at a time, and the runtime
 * ignores stores that are not its own run's scopes.
 */
const sharedStorage = new AsyncLocalStorage();

function isSdkModule(filename: string): boolean {
  return SDK_SANDBOX_DIRS.some((d) => filename.startsWith(d));
}

function compiled(filename: string): vm.Script {
  const hit = scriptCache.get(filename);
  const now = Date.now();
  if (hit && now - hit.checked < RECHECK_MS) return hit.script;
  const st = fs.statSync(filename);
  if (hit && hit.mtimeMs === st.mtimeMs) {
    hit.checked = now;
    return hit.script;
  }
  const src = fs.readFileSync(filename, 'utf8');
  const params = isSdkModule(filename) ? `, ${BOUND_GLOBALS.join(', ')}` : '';
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname${params}) {${src}\n})`, { filename });
  scriptCache.set(filename, { mtimeMs: st.mtimeMs, checked: now, script });
  return script;
}

function resolveFrom(parent: string, spec: string): string {
  const key = `${parent}\0${spec}`;
  let f = resolveCache.get(key);
  if (f === undefined) {
    f = Module.createRequire(parent).resolve(spec);
    resolveCache.set(key, f);
  }
  return f;
}

function snippet(code: string): vm.Script {
  let s = snippetCache.get(code);
  if (!s) {
    s = new vm.Script(code, { filename: 'durable-sandbox' });
    snippetCache.set(code, s);
  }
  return s;
}

/** Where a workflow function lives: a module file and its export name. */
export interface WorkflowEntry {
  file: string;
  exportName: string;
}

const PAYLOAD = require.resolve('../common/payload');

/** What a run's sandbox gets from its worker beyond the workflow function. */
export interface SandboxExtras {
  /** Modules exporting `interceptors` (WorkflowInterceptorsFactory), called for each run. */
  interceptorModules?: string[];
  /** Values are stored as Payloads (the worker has a data converter). */
  payloadMode?: boolean;
  /** Module exporting `payloadConverter` (default: the default converter). */
  payloadConverterPath?: string;
  /** Where the workflow's `log` writes (default: the Runtime's logger, looked up when used). */
  logger?: Logger;
}

/** Snippets that call into the runtime (compiled once per process). */
const ACTIVATE = '__durable.activate()';
const SETTLE = '__durable.settle()';
const COLLECT = '__durable.collect()';
const QUERY = '__durable.query()';
const QUERY_RESULT = '__durable.queryResult()';
const NOTHING = 'undefined';

/** Counters of the sandboxes (for tests and metrics). */
export const sandboxStats = {
  /** Contexts created (one per process). */
  contexts: 0,
  /** Runs started in a sandbox. */
  runs: 0,
  /** Calls after which a run's changes to the globals were put aside. */
  globalsRestored: 0,
};

type GlobalBag = Map<string | symbol, PropertyDescriptor | undefined>;

/** The context every run shares, with the SDK's runtime loaded in it. */
class Realm {
  readonly context: vm.Context;
  /** The context's global object as the host sees it: globals set in the context land here too. */
  private readonly globals: Record<string | symbol, unknown>;
  /** The runtime's bridge (internals.ts `bridge`), an object of the context. */
  readonly bridge: any;
  /** The SDK's modules, loaded once. */
  private readonly modules = new Map<string, { exports: any }>();
  /** Module wrapper functions compiled into the context (per script, so an edited file is loaded again). */
  private readonly wrappers = new Map<string, { script: vm.Script; fn: Function }>();
  /** What the globals are between calls: own keys of `globals` and their values (getters for accessors). */
  private baseKeys: (string | symbol)[] = [];
  private baseValues: unknown[] = [];
  private baseAccessor: boolean[] = [];
  private math: any;
  private random: unknown;
  private bound?: unknown[];
  /** The sandbox whose run the current call serves (the console reads its replaying flag). */
  current?: Sandbox;

  constructor() {
    this.globals = {
      AsyncLocalStorage,
      __durable_storage: sharedStorage,
      // the workflow `log` (src/workflow/logs.ts) writes through this: strings only cross
      __durable_log: (level: string, message: string, meta: string) => this.current?.log(level, message, meta),
      console: sandboxConsole(this),
      queueMicrotask: undefined,
      // as Temporal's sandbox has them (worker/src/workflow/vm-shared.ts); AbortSignal loses timeout() there
      AbortController,
      AbortSignal,
      TextEncoder,
      TextDecoder,
      URL,
      URLSearchParams,
    };
    this.context = vm.createContext(this.globals, { microtaskMode: 'afterEvaluate', name: 'durable workflow' });
    sandboxStats.contexts++;
    // the runtime first: it installs the deterministic Date and Math.random
    const internals = this.require(INTERNALS, INTERNALS, this.modules);
    this.bridge = internals.bridge;
    (this.context as any).__durable = this.bridge;
    this.require(OVERRIDES, OVERRIDES, this.modules).installGlobals();
    this.bridge.install();
    this.math = snippet('Math').runInContext(this.context);
    this.random = this.math.random;
    this.baseKeys = Reflect.ownKeys(this.globals);
    for (const k of this.baseKeys) {
      const d = Object.getOwnPropertyDescriptor(this.globals, k)!;
      this.baseAccessor.push(d.get !== undefined);
      this.baseValues.push(d.get ?? d.value);
    }
  }

  /** A module loaded once for every run (a payload converter), with the modules it requires. */
  shared(file: string): any {
    return this.require(file, file, this.modules);
  }

  /** Run a snippet in the context; its microtasks run before this returns. */
  run(code: string): any {
    return snippet(code).runInContext(this.context);
  }

  /** The context's values of BOUND_GLOBALS. */
  private builtins(): unknown[] {
    if (!this.bound) this.bound = snippet(`[${BOUND_GLOBALS.join(', ')}]`).runInContext(this.context);
    return this.bound!;
  }

  /**
   * CommonJS require inside the context: the SDK's modules from the realm's
   * registry, any other from the run's (`runModules`).
   */
  require(spec: string, parent: string, runModules: Map<string, { exports: any }>): any {
    if (Module.isBuiltin(spec)) {
      throw new IllegalStateError(
        `workflow code cannot import the Node module "${spec}" (from ${parent}); ` +
          'do I/O in activities, and import activity modules with `import type`');
    }
    const filename = path.isAbsolute(spec) && spec === parent ? spec : resolveFrom(parent, spec);
    const sdk = isSdkModule(filename);
    const registry = sdk ? this.modules : runModules;
    const cached = registry.get(filename);
    if (cached) return cached.exports;
    const mod = { exports: {} as any };
    registry.set(filename, mod);
    if (filename.endsWith('.json')) {
      mod.exports = vm.runInContext(`JSON.parse(${JSON.stringify(fs.readFileSync(filename, 'utf8'))})`, this.context);
      return mod.exports;
    }
    const fn = this.wrapper(filename);
    try {
      const req = (s: string) => this.require(s, filename, runModules);
      if (sdk) {
        fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename), ...this.builtins());
      } else {
        fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
      }
    } catch (e) {
      registry.delete(filename);
      throw e;
    }
    // every run shares the SDK's modules: none may change what another sees
    if (sdk) Object.freeze(mod.exports);
    return mod.exports;
  }

  /** The module's wrapper function in the context (calling it again gives a new module instance). */
  private wrapper(filename: string): Function {
    const script = compiled(filename);
    const w = this.wrappers.get(filename);
    if (w && w.script === script) return w.fn;
    const fn = script.runInContext(this.context);
    this.wrappers.set(filename, { script, fn });
    return fn;
  }

  /** Whether the last call left the globals as they were (a few property reads). */
  globalsClean(): boolean {
    const g = this.globals;
    if (this.math.random !== this.random) return false;
    const keys = Reflect.ownKeys(g);
    if (keys.length !== this.baseKeys.length) return false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== this.baseKeys[i]) return false;
      const v = this.baseAccessor[i] ? Object.getOwnPropertyDescriptor(g, k)?.get : g[k];
      if (v !== this.baseValues[i]) return false;
    }
    return true;
  }

  /**
   * The globals the last call changed, as property descriptors (undefined:
   * deleted), then the globals put back as they were.
   */
  takeGlobals(into: GlobalBag | undefined): GlobalBag {
    sandboxStats.globalsRestored++;
    const bag: GlobalBag = into ?? new Map();
    const g = this.globals;
    const base = new Map<string | symbol, unknown>();
    this.baseKeys.forEach((k, i) => base.set(k, this.baseValues[i]));
    const ctxGlobal = this.run('globalThis');
    for (const k of Reflect.ownKeys(g)) {
      const d = Object.getOwnPropertyDescriptor(g, k)!;
      if (base.has(k) && base.get(k) === (d.get ?? d.value)) continue;
      bag.set(k, Object.getOwnPropertyDescriptor(ctxGlobal, k));
    }
    for (const k of this.baseKeys) if (!Object.prototype.hasOwnProperty.call(g, k)) bag.set(k, undefined);
    this.bridge.restoreGlobals();
    this.math.random = this.random;
    if (!this.globalsClean()) throw new IllegalStateError('workflow code changed the sandbox globals in a way that cannot be undone');
    return bag;
  }

  /** Set the globals a run had changed (before a call for that run). */
  putGlobals(bag: GlobalBag): void {
    const ctxGlobal = this.run('globalThis');
    for (const [k, d] of bag) {
      if (d === undefined) delete ctxGlobal[k];
      else Object.defineProperty(ctxGlobal, k, d);
    }
  }
}

let realm: Realm | undefined;

function theRealm(): Realm {
  if (!realm) realm = new Realm();
  return realm;
}

/**
 * A run's part of the realm: its activator (the runtime's state for it),
 * its module instances and any globals it set.  Made by begin() with the
 * runtime's init input and the workflow function's entry; dispose() lets
 * it all go.
 */
export class Sandbox {
  private readonly realm = theRealm();
  private readonly modules = new Map<string, { exports: any }>();
  /** The run's Activator (an object of the context, opaque here). */
  private activator: unknown;
  private globals?: GlobalBag;
  /** Workflow logging is silent while replaying. */
  replaying = false;
  /** Where the workflow's `log` writes (undefined: the Runtime's logger, looked up when used). */
  private readonly logger?: Logger;

  /** The context (shared by every run). */
  get context(): vm.Context {
    return this.realm.context;
  }

  /**
   * Start the run: the runtime's state for it (InitInput as JSON), its
   * payload converter and interceptors (extras), then its workflow function.
   */
  constructor(init: string, entry: WorkflowEntry | undefined, extras?: SandboxExtras) {
    sandboxStats.runs++;
    this.logger = extras?.logger;
    const b = this.realm.bridge;
    b.input = init;
    this.activator = b.init();
    this.call(() => {
      if (extras?.payloadMode) {
        const file = extras.payloadConverterPath;
        const conv = file ? this.realm.shared(file).payloadConverter : this.realm.shared(PAYLOAD).defaultPayloadConverter;
        if (!conv || typeof conv.toPayload !== 'function') throw new IllegalStateError(`${file} does not export payloadConverter`);
        b.setPayloadConverter(conv);
      }
      for (const file of extras?.interceptorModules ?? []) {
        const factory = this.realm.require(file, file, this.modules).interceptors;
        if (typeof factory === 'function') b.addInterceptors(factory());
      }
      if (entry) {
        const exports = this.realm.require(entry.file, entry.file, this.modules);
        b.setWorkflow(exports[entry.exportName]);
      }
      // microtasks the modules queued run now, for this run
      this.realm.run(NOTHING);
    });
  }

  /** Make a call for this run: its activator and globals in place, the globals put back afterwards. */
  private call<T>(fn: () => T): T {
    const r = this.realm;
    r.bridge.use(this.activator);
    r.current = this;
    if (this.globals) r.putGlobals(this.globals);
    try {
      return fn();
    } finally {
      if (this.globals || !r.globalsClean()) this.globals = r.takeGlobals(this.globals);
      r.current = undefined;
      r.bridge.use(undefined);
    }
  }

  /** Run a snippet for this run, with `input` for the runtime. */
  private run(code: string, input?: string): any {
    this.realm.bridge.input = input;
    return this.realm.run(code);
  }

  /**
   * One activation (the input of the runtime's activate(), as JSON): apply
   * its jobs, run the workflow until it blocks, collect its commands.
   */
  activate(input: string, replaying: boolean): { commands: Command[]; taskFailure?: FailureJSON; sinkCalls?: SinkCall[]; versioningBehavior?: string } &
    LocalActivityOutput {
    this.replaying = replaying;
    return this.call(() => {
      this.run(ACTIVATE, input);
      for (let i = 0; i < 10_000; i++) {
        const out = this.run(SETTLE);
        if (out !== null) return JSON.parse(out);
      }
      return JSON.parse(this.run(COLLECT));
    });
  }

  /** Run a query handler ({name, args} as JSON). */
  query(input: string): { result?: unknown; failure?: FailureJSON } {
    // an async query interceptor's answer is ready once the first call's microtasks ran
    return this.call(() => JSON.parse(this.run(QUERY, input) ?? this.run(QUERY_RESULT)));
  }

  /** CommonJS require for this run (its own instances of modules other than the SDK's). */
  require(spec: string, parent: string): any {
    return this.call(() => {
      const exports = this.realm.require(spec, parent, this.modules);
      this.realm.run(NOTHING);
      return exports;
    });
  }

  /**
   * An entry of the workflow's `log` (its metadata as JSON text; the
   * runtime already left out entries made while replaying), to the logger
   * with sdkComponent "workflow" as Temporal's worker adds it.
   */
  log(level: string, message: string, meta: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(meta);
    } catch {
      m = {};
    }
    m.sdkComponent = 'workflow';
    try {
      (this.logger ?? Runtime.instance().logger).log(level as LogLevel, message, m);
    } catch {
      // a failing logger must not fail the workflow task
    }
  }

  /** Let the run's state go (the sandbox cannot be used afterwards). */
  dispose(): void {
    this.modules.clear();
    this.activator = undefined;
    this.globals = undefined;
  }
}

function sandboxConsole(r: Realm): Console {
  // workflow logging is silent while replaying, like Temporal's workflow logger
  const wrap = (fn: (...a: any[]) => void) => (...args: any[]) => {
    if (!r.current?.replaying) fn(...args);
  };
  // the other methods are inherited (Node binds them to the console)
  const c = Object.create(console) as Console;
  c.log = wrap(console.log);
  c.info = wrap(console.info);
  c.warn = wrap(console.warn);
  c.error = wrap(console.error);
  c.debug = wrap(console.debug);
  return c;
}

/**
 * Find the module file that exports each function of an object of workflow
 * functions (as `import * as workflows from './workflows'` gives), so that
 * it can be loaded into sandboxes.  Works for CommonJS modules.
 */
export function locateWorkflows(workflows: Record<string, unknown>): Map<string, WorkflowEntry> {
  const out = new Map<string, WorkflowEntry>();
  const missing: string[] = [];
  for (const [name, fn] of Object.entries(workflows)) {
    if (typeof fn !== 'function') continue;
    let found: WorkflowEntry | undefined;
    for (const [file, mod] of Object.entries(require.cache)) {
      const ex = mod?.exports;
      if (!ex || (typeof ex !== 'object' && typeof ex !== 'function')) continue;
      if (ex[name] === fn) {
        found = { file, exportName: name };
        break;
      }
      for (const k of Object.keys(ex)) {
        if (ex[k] === fn) {
          found = { file, exportName: k };
          break;
        }
      }
      if (found) break;
    }
    if (found) out.set(name, found);
    else missing.push(name);
  }
  if (missing.length) {
    throw new IllegalStateError(
      `cannot find the module of workflow function(s) ${missing.join(', ')}; ` +
        'pass workflowsPath (the path of the module that exports them) instead');
  }
  return out;
}

const PROBE_INIT = JSON.stringify({ info: { workflowId: '', runId: '', workflowType: '', historyLength: 0, startTime: 0, runStartTime: 0 }, now: 0, seed: '' });

/** Every exported function of a workflow module file. */
export function workflowsOfModule(file: string): Map<string, WorkflowEntry> {
  const resolved = require.resolve(path.resolve(file));
  const probe = new Sandbox(PROBE_INIT, undefined);
  try {
    const exports = probe.require(resolved, resolved);
    const out = new Map<string, WorkflowEntry>();
    for (const k of Object.keys(exports)) {
      if (typeof exports[k] === 'function') out.set(k, { file: resolved, exportName: k });
    }
    return out;
  } finally {
    probe.dispose();
  }
}

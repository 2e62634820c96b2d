/**
 * Workflow sandboxes: a fresh node:vm context per workflow run, into which
 * the workflow modules (and the SDK's workflow runtime they import) are
 * loaded with a small CommonJS loader.  Each context has its own globals
 * (deterministic Date and Math.random, no timers, no Node modules) and its
 * own microtask queue (microtaskMode 'afterEvaluate'), so one call into the
 * context runs the workflow until it blocks, synchronously.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import Module from 'node:module';
import { AsyncLocalStorage } from 'node:async_hooks';
import { IllegalStateError } from '../common/failure';

const INTERNALS = require.resolve('../workflow/internals');

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
 * One AsyncLocalStorage shared by every sandbox (it carries the current
 * CancellationScope).  Node keeps each AsyncLocalStorage that was ever used
 * in a process-wide list until disable(), and walks that whole list on every
 * async resource (every promise) created: an instance per sandbox made the
 * worker's CPU per task grow with the number of workflows run so far.
 * Workflow code runs synchronously inside one sandbox at a time, and the
 * runtime ignores stores that are not its own sandbox's scopes.
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

export class Sandbox {
  readonly context: vm.Context;
  private readonly modules = new Map<string, { exports: any }>();

  constructor() {
    const globals: Record<string, unknown> = {
      AsyncLocalStorage,
      __durable_storage: sharedStorage,
      console: sandboxConsole(this),
      queueMicrotask: undefined,
    };
    this.context = vm.createContext(globals, { microtaskMode: 'afterEvaluate', name: 'durable workflow' });
    (this.context as any).__durable_require = (spec: string) => this.require(spec, INTERNALS);
    // the runtime first: it installs the deterministic Date and Math.random
    const internals = this.require(INTERNALS, INTERNALS);
    (this.context as any).__durable = internals.bridge;
  }

  replaying = false;
  private bound?: unknown[];

  /** The sandbox's values of BOUND_GLOBALS. */
  private builtins(): unknown[] {
    if (!this.bound) this.bound = snippet(`[${BOUND_GLOBALS.join(', ')}]`).runInContext(this.context);
    return this.bound!;
  }

  /** Run a snippet in the context; its microtasks run before this returns. */
  run(code: string, input?: string): any {
    (this.context as any).__durable_in = input;
    return snippet(code).runInContext(this.context);
  }

  /** CommonJS require inside the sandbox. */
  require(spec: string, parent: string): any {
    if (Module.isBuiltin(spec)) {
      throw new IllegalStateError(
        `workflow code cannot import the Node module "${spec}" (from ${parent}); ` +
          'do I/O in activities, and import activity modules with `import type`');
    }
    const filename = path.isAbsolute(spec) && spec === parent ? spec : resolveFrom(parent, spec);
    const cached = this.modules.get(filename);
    if (cached) return cached.exports;
    const mod = { exports: {} as any };
    this.modules.set(filename, mod);
    if (filename.endsWith('.json')) {
      mod.exports = vm.runInContext(`JSON.parse(${JSON.stringify(fs.readFileSync(filename, 'utf8'))})`, this.context);
      return mod.exports;
    }
    const fn = compiled(filename).runInContext(this.context);
    try {
      const req = (s: string) => this.require(s, filename);
      if (isSdkModule(filename)) {
        fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename), ...this.builtins());
      } else {
        fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
      }
    } catch (e) {
      this.modules.delete(filename);
      throw e;
    }
    return mod.exports;
  }

  /** Load the workflow function into the runtime. */
  loadWorkflow(entry: WorkflowEntry | undefined): void {
    if (!entry) return;
    const exports = this.require(entry.file, entry.file);
    (this.context as any).__durable_fn = exports[entry.exportName];
    this.run('__durable.setWorkflow(globalThis.__durable_fn); delete globalThis.__durable_fn;');
  }
}

function sandboxConsole(sb: Sandbox): Console {
  // workflow logging is silent while replaying, like Temporal's workflow logger
  const wrap = (fn: (...a: any[]) => void) => (...args: any[]) => {
    if (!sb.replaying) fn(...args);
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

/** Every exported function of a workflow module file. */
export function workflowsOfModule(file: string): Map<string, WorkflowEntry> {
  const resolved = require.resolve(path.resolve(file));
  const probe = new Sandbox();
  const exports = probe.require(resolved, resolved);
  const out = new Map<string, WorkflowEntry>();
  for (const k of Object.keys(exports)) {
    if (typeof exports[k] === 'function') out.set(k, { file: resolved, exportName: k });
  }
  return out;
}

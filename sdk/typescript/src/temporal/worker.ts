/**
 * `@temporalio/worker` on durable.  `NativeConnection.connect()` names the
 * database (connection.ts); `Worker.create({ connection, taskQueue,
 * workflowsPath | workflowBundle, activities, … })` creates durable's worker
 * with Temporal's option names mapped onto durable's; `bundleWorkflowCode`
 * checks the workflow modules and returns a bundle that points at them
 * (durable loads workflow modules from their files into its sandbox, there
 * is nothing to bundle).  Options that would change what the code does and
 * that durable cannot honour throw from create(), before anything runs.
 */
import * as path from 'node:path';
import { Worker as DurableWorker, WorkerOptions as DurableWorkerOptions, WorkerState } from '../worker/worker';
import { Runtime as DurableRuntime, RuntimeOptions as DurableRuntimeOptions } from '../worker/runtime';
import type { HistoryEvent } from '../worker/replay';
import type { Duration } from '../common/duration';
import type { DataConverter } from '../common/payload';
import type { InjectedSinks, WorkerInterceptors } from '../worker/interceptors';
import { checkLoadedModules, checkWorkflowModules } from './check';
import { ConnectionOptions, checkDatabase, connectionStringFor } from './connection';
import { unsupported } from './unsupported';

export * from '../worker';
export { UnsupportedTemporalFeatureError } from './unsupported';
export { TemporalCompatibilityError } from './check';

const M = '@temporalio/worker';

/** Temporal's NativeConnection: here the database the worker polls. */
export class NativeConnection {
  private constructor(readonly connectionString: string) {}

  static async connect(options?: ConnectionOptions): Promise<NativeConnection> {
    const cs = connectionStringFor(options);
    await checkDatabase(cs);
    return new NativeConnection(cs);
  }

  /** Nothing to close: each worker owns its connections and closes them at shutdown. */
  async close(): Promise<void> {}
}

/** What bundleWorkflowCode returns: Temporal's `{ code }`, with the workflow module's path. */
export interface WorkflowBundle {
  code: string;
  /** The module the bundle stands for (durable runs it from its file). */
  durableWorkflowsPath: string;
}

const BUNDLE_PREFIX = '// durable workflow bundle: ';

/**
 * Temporal builds a webpack bundle of the workflow code here.  durable loads
 * workflow modules from their files (each run gets its own instances in one
 * sandbox context, see the README's Determinism section), so this only
 * checks them (as Temporal's bundler would reject an import that does not
 * exist) and returns a bundle naming the module.
 */
export async function bundleWorkflowCode(options: { workflowsPath: string; [k: string]: unknown }): Promise<WorkflowBundle> {
  const file = require.resolve(path.resolve(options.workflowsPath));
  checkWorkflowModules(file);
  return { code: `${BUNDLE_PREFIX}${file}\n`, durableWorkflowsPath: file };
}

/** Temporal's WorkerOptions as far as durable takes them. */
export interface WorkerOptions {
  /** Default: NativeConnection to $DURABLE_CONNECTION_STRING. */
  connection?: NativeConnection;
  /** The namespace the worker polls (default "default"). */
  namespace?: string;
  taskQueue: string;
  workflowsPath?: string;
  /** The result of this module's bundleWorkflowCode (a Temporal webpack bundle cannot run here). */
  workflowBundle?: { code?: string; codePath?: string; durableWorkflowsPath?: string };
  activities?: object;
  identity?: string;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxCachedWorkflows?: number;
  shutdownGraceTime?: Duration;
  interceptors?: WorkerInterceptors;
  sinks?: InjectedSinks<any>;
  dataConverter?: DataConverter;
  /** Temporal's worker versioning: the worker polls with version.buildId when useWorkerVersioning is true. */
  workerDeploymentOptions?: DurableWorkerOptions['workerDeploymentOptions'];
  /** The worker's build id; it routes tasks only with useVersioning (Temporal's deprecated build-id versioning). */
  buildId?: string;
  useVersioning?: boolean;
  /** durable's: what the worker offers to activities' requiredCapabilities. */
  capabilities?: Record<string, unknown>;
  /** Accepted and ignored: how Temporal runs its sandbox or talks to its server; durable's worker has its own. */
  [ignored: string]: unknown;
}

/** Options that durable's worker takes under the same name (after the ones mapped above). */
const PASSED = [
  'namespace', 'interceptors', 'sinks', 'dataConverter', 'identity', 'maxCachedWorkflows', 'shutdownGraceTime', 'logger',
  'workerDeploymentOptions', 'capabilities',
] as const;

/** Temporal's Worker: create(), run(), runUntil(), shutdown(), getState(). */
export class Worker {
  private constructor(readonly inner: DurableWorker) {}

  static async create(options: WorkerOptions): Promise<Worker> {
    let workflowsPath = options.workflowsPath;
    const bundle = options.workflowBundle;
    if (bundle) {
      workflowsPath = bundle.durableWorkflowsPath
        ?? (bundle.code?.startsWith(BUNDLE_PREFIX) ? bundle.code.slice(BUNDLE_PREFIX.length).trim() : undefined);
      if (!workflowsPath) {
        throw new TypeError('Worker.create: a Temporal workflowBundle (webpack code or codePath) cannot run on durable: ' +
          'pass workflowsPath, or the result of bundleWorkflowCode from @temporalio/worker as mapped to durable');
      }
    }
    checkLoadedModules();
    if (workflowsPath) checkWorkflowModules(workflowsPath);
    const connectionString = options.connection?.connectionString ?? connectionStringFor();
    if (!options.connection) await checkDatabase(connectionString);
    const opts: DurableWorkerOptions = {
      connectionString,
      taskQueue: options.taskQueue,
      workflowsPath,
      activities: options.activities as DurableWorkerOptions['activities'],
      shutdownSignals: runtimeOptions.shutdownSignals,
    };
    if (options.maxConcurrentWorkflowTaskExecutions !== undefined) opts.maxConcurrentWorkflowTasks = options.maxConcurrentWorkflowTaskExecutions;
    if (options.maxConcurrentActivityTaskExecutions !== undefined) opts.maxConcurrentActivities = options.maxConcurrentActivityTaskExecutions;
    for (const k of PASSED) if (options[k] !== undefined) (opts as any)[k] = options[k];
    if (options.useVersioning && options.buildId) opts.buildId = options.buildId;
    const creating = DurableWorker.create(opts);
    pending.add(creating);
    try {
      const w = new Worker(await creating);
      workers.add(w);
      return w;
    } finally {
      pending.delete(creating);
    }
  }

  get taskQueue(): string {
    return this.inner.taskQueue;
  }

  getState(): WorkerState {
    return this.inner.getState();
  }

  /** Poll and run tasks until shutdown() (or a signal of Runtime's shutdownSignals). */
  async run(): Promise<void> {
    // Runtime.shutdown() came before this ran: nothing to run
    if (runtimeShutdown) await this.inner.shutdown();
    if (this.inner.getState() === 'STOPPED') return;
    try {
      await this.inner.run();
    } finally {
      workers.delete(this);
    }
  }

  /** Run until `fnOrPromise` settles, then shut down; its result (Temporal's runUntil). */
  async runUntil<R>(fnOrPromise: Promise<R> | (() => Promise<R>)): Promise<R> {
    const running = this.run();
    try {
      return await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
    } finally {
      await this.shutdown();
      await running;
    }
  }

  async shutdown(): Promise<void> {
    await this.inner.shutdown();
  }

  /** Replay a saved history (handle.fetchHistory()) against workflow code; throws on non-determinism. */
  static async runReplayHistory(options: { workflowsPath?: string; workflowBundle?: WorkflowBundle; replayName?: string }, history: HistoryEvent[] | { events: HistoryEvent[] }, workflowId?: string): Promise<void> {
    const workflowsPath = options.workflowsPath ?? options.workflowBundle?.durableWorkflowsPath;
    if (workflowsPath) checkWorkflowModules(workflowsPath);
    await DurableWorker.runReplayHistory({ workflowsPath, workflowId }, history);
  }
}

/** The process's workers (until their run() ends), and those being created: what Runtime.shutdown() stops. */
const workers = new Set<Worker>();
const pending = new Set<Promise<DurableWorker>>();
/** Runtime.shutdown() was called: a worker whose run() comes later returns at once. */
let runtimeShutdown = false;

/** Temporal's RuntimeOptions: logger and shutdownSignals; telemetry is ignored. */
export interface RuntimeOptions extends DurableRuntimeOptions {
  /** Signals that shut every worker down (default SIGINT, SIGTERM); [] for none. */
  shutdownSignals?: NodeJS.Signals[];
  /** Ignored: durable has no telemetry exporter of its own. */
  telemetryOptions?: unknown;
}

const runtimeOptions: { shutdownSignals?: NodeJS.Signals[] | false } = {};

/** Temporal's Runtime: install({ logger, shutdownSignals }) once, instance().logger, instance().shutdown(). */
export class Runtime {
  private constructor(private readonly inner: DurableRuntime) {}

  static install(options: RuntimeOptions): Runtime {
    if (options.shutdownSignals) runtimeOptions.shutdownSignals = options.shutdownSignals.length ? options.shutdownSignals : false;
    return new Runtime(DurableRuntime.install({ logger: options.logger }));
  }

  static instance(): Runtime {
    return new Runtime(DurableRuntime.instance());
  }

  get logger() {
    return this.inner.logger;
  }

  /** Shut down every worker of the process (what Temporal's shutdown signals do). */
  async shutdown(): Promise<void> {
    runtimeShutdown = true;
    // a worker being created when this is called is shut down too, once it exists
    await Promise.all([...pending].map((p) => p.catch(() => undefined)));
    await Promise.all([...workers].map((w) => w.shutdown()));
  }
}

export const makeTelemetryFilterString = unsupported(M, 'makeTelemetryFilterString', 'durable has no Rust core to filter the logs of; set the level on DefaultLogger');

/**
 * Temporal's (deprecated) default sinks: its workflow logger sink.  durable's
 * workflow `log` reaches the worker's logger without a sink, so there is
 * nothing to add: an empty set, to spread into a project's own sinks.
 */
export function defaultSinks(): Record<string, never> {
  return {};
}

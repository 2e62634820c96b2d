/**
 * The worker: its options, lifecycle (create, run, shutdown), the pollers,
 * and the accounting of slots for tasks, polled or handed back by
 * completions (eager dispatch).  Each kind of task has its own path:
 * workflow-tasks.ts (with the run cache and sticky execution),
 * activity-tasks.ts, query-tasks.ts; engine.ts holds the SQL side,
 * polling.ts the pollers and slots, task.ts the task DTO.
 *
 * Eager dispatch: a completion can hand back the next tasks of the same
 * workflow, already started for this worker, in its own transaction (the
 * activities a workflow task schedules, the workflow task an activity's
 * result schedules).  The worker asks only for what it has a slot for, and
 * runs what it gets exactly as a polled task (runTask).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type pg from 'pg';
import { CancelledFailure } from '../common/failure';
import type { Logger } from '../common/logger';
import { Duration, msToNumber } from '../common/duration';
import type { DataConverter } from '../common/payload';
import { LoadedDataConverter } from '../converter';
import type { SinkCall } from '../workflow/sinks';
import { ActivityFunction, ActivityTasks } from './activity-tasks';
import { Engine, SQL, Statement } from './engine';
import type { LogLevel, TaskHost, WorkerStats } from './host';
import { Poller, PollerHost, Semaphore } from './polling';
import { answerQuery } from './query-tasks';
import { InjectedSinks, WorkerInterceptors, callSinks } from './interceptors';
import { Runtime, withMetadata } from './runtime';
import { HistoryEvent, WorkflowRun, WorkflowRunOptions, WorkflowTaskFailure } from './replay';
import { WorkflowEntry, locateWorkflows } from './sandbox';
import { Task, toTask } from './task';
import { RunCache, WorkflowTasks } from './workflow-tasks';
import { LocalActivities } from './local-activities';
import { WorkerMetrics } from './metrics';
import type { Registry } from 'prom-client';
import { VersioningBehavior, WorkerDeploymentVersion, checkCapabilities, encodeVersioningBehavior } from '../common/routing';

export type { ActivityFunction } from './activity-tasks';
export { Task, toTask } from './task';

export interface WorkerOptions {
  connectionString: string;
  taskQueue: string;
  /**
   * The namespace the worker polls (default "default"), as Temporal's
   * WorkerOptions.namespace: it gets only that namespace's tasks, even from
   * a task queue of the same name in another.  The role needs the `worker`
   * capability there (durable.grant_namespace); create() fails with
   * NamespaceNotFoundError or PermissionDeniedError otherwise.
   */
  namespace?: string;
  /** Workflow functions (an object, e.g. `import * as workflows`), or the path of the module that exports them. */
  workflows?: Record<string, unknown> | string;
  /** Path of the module exporting the workflow functions (alternative to `workflows`). */
  workflowsPath?: string;
  activities?: Record<string, ActivityFunction>;
  /**
   * Workflow tasks run at once (default 8).  A task holds its slot until its
   * completion has committed, so the slots bound how many commits the worker
   * overlaps: with 4, a worker on a 2-core server spent its time waiting for
   * WAL flushes (chain3: 290-320 workflows/s against 370 with 8).
   */
  maxConcurrentWorkflowTasks?: number;
  /** Activities run at once (default 20). */
  maxConcurrentActivities?: number;
  /**
   * Workflow executions kept in memory between tasks (default 500; LRU).
   * 0 turns the cache, and with it sticky execution, off.
   */
  maxCachedWorkflows?: number;
  /**
   * Sticky execution (default true; needs maxCachedWorkflows > 0 and durable
   * 0.3, ignored by older engines): the worker's connections set
   * durable.sticky_execution, so the engine routes a run's next workflow
   * task to the worker that has the run cached, first, and hands it only
   * the events after the last task this worker completed (Temporal's sticky
   * task queues).  A partial history whose run is no longer cached is
   * completed with durable.workflow_task_history and replayed from scratch.
   */
  stickyExecution?: boolean;
  identity?: string;
  /** How long one poll waits for a task (default 30 seconds). */
  pollWait?: Duration;
  /** How long shutdown() lets running tasks finish before cancelling activities (default 10 seconds). */
  shutdownGraceTime?: Duration;
  /** Shut down on SIGINT and SIGTERM (default true). */
  shutdownSignals?: NodeJS.Signals[] | false;
  /**
   * Interceptors (Temporal's WorkerOptions.interceptors): `workflowModules`,
   * paths of modules exporting `interceptors` (a WorkflowInterceptorsFactory,
   * called for each workflow run in its sandbox); `activityInbound` /
   * `activity`, factories called for each activity attempt.
   */
  interceptors?: WorkerInterceptors;
  /** Worker-side functions workflow code calls through proxySinks() (not called for calls made while replaying). */
  sinks?: InjectedSinks<any>;
  /**
   * Payload converter and codecs (Temporal's dataConverter:
   * { payloadConverterPath?, payloadCodecs? }); clients of these workflows
   * need the same.  Without one values are stored as plain JSON.
   */
  dataConverter?: DataConverter;
  /**
   * Hold a worker session while running (default true; durable 0.3): one
   * extra connection, and when the worker process dies the engine times out
   * its tasks at once, so they are retried within milliseconds instead of
   * at their start-to-close or workflow task timeouts.  The identity must be
   * unique among the workers of a database.
   */
  workerSession?: boolean;
  /**
   * Where this worker, its workflows' `log` and its activities' `log` write
   * (Temporal's Logger: log(level, message, meta), trace/debug/info/warn/error).
   * Default: the Runtime's logger (`Runtime.install({ logger })`, else a
   * DefaultLogger at INFO writing to stderr).
   */
  logger?: Logger;
  /**
   * @deprecated use `logger`.  A function for the worker's own events; when
   * set (and `logger` is not), workflow and activity log entries go to it too.
   */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /**
   * Eager dispatch (default true): a completion hands this worker the
   * workflow's next task, already started for it in the same transaction,
   * instead of queueing it for a poll (Temporal's eager activity execution
   * and return_new_workflow_task).  The worker asks for the activities a
   * workflow task schedules on the workflow's own task queue, of types it
   * has, while activity slots are free (at most 3 per workflow task); for
   * the workflow task an activity's result schedules while a workflow-task
   * slot is free; and for the workflow task a workflow task's completion
   * schedules (events arrived while it ran), which takes over the completed
   * task's slot.  Slots are reserved before the call, so
   * maxConcurrentActivities and maxConcurrentWorkflowTasks still bound what
   * runs at once.  Tasks received this way run exactly as polled ones and
   * histories are the same; a workflow of N sequential activities takes
   * 2N + 3 transactions instead of 4N + 3.  A task handed out is leased to
   * this worker: if the worker dies, it times out and is retried like a
   * polled one.  Needs durable 0.2; with an older engine the worker polls.
   */
  eagerDispatch?: boolean;
  /**
   * A prom-client Registry (npm prom-client, an optional peer dependency)
   * the worker registers its metrics in: task slots used and available,
   * schedule-to-start and execution latency of workflow and activity
   * tasks, poll latency, sticky cache hits, misses, size and evictions,
   * failed workflow tasks and activity attempts (Temporal's SDK metric
   * names, histograms in seconds; README "Worker metrics").  Serve it with
   * `registry.metrics()`.  Without one the worker keeps no metrics.
   */
  metricsRegistry?: Registry;
  /**
   * The worker's build id (durable 0.3; Temporal's WorkerOptions.buildId):
   * it takes only the tasks of runs of this build (a run is pinned to the
   * task queue's current build when it starts, see
   * client.taskQueue.setCurrentBuild) and of unversioned runs.  A
   * versioned worker tells the engine each workflow type's
   * versioningBehavior (setWorkflowOptions, else PINNED) on every
   * completion.  workerDeploymentOptions.version.buildId, when versioning
   * is on there, takes precedence.
   */
  buildId?: string;
  /** Temporal's build-id versioning options; with useWorkerVersioning, the worker's buildId is version.buildId. */
  workerDeploymentOptions?: WorkerDeploymentOptions;
  /**
   * What this worker offers, a JSON object, e.g. { gpu: true, region: 'eu' }
   * (durable 0.3, a durable extension): it takes a task whose
   * requiredCapabilities (activity or start option) it contains (jsonb @>).
   */
  capabilities?: Record<string, unknown>;
}

/** Temporal's WorkerDeploymentOptions: build-id versioning of the workflows this worker runs. */
export interface WorkerDeploymentOptions {
  /** The worker takes only the tasks of runs of its build id (false: the version is only a label). */
  useWorkerVersioning: boolean;
  version: WorkerDeploymentVersion;
  /** The versioning behaviour of workflow types that do not set one with setWorkflowOptions (default PINNED). */
  defaultVersioningBehavior?: VersioningBehavior;
}

export type WorkerState = 'INITIALIZED' | 'RUNNING' | 'STOPPING' | 'STOPPED';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rejectionHandlerInstalled = false;
function installRejectionHandler(): void {
  if (rejectionHandlerInstalled) return;
  rejectionHandlerInstalled = true;
  // Promises of workflow sandboxes live in other realms: a workflow that
  // leaves a rejected promise unhandled must not crash the worker.
  process.on('unhandledRejection', (reason, promise) => {
    if (!(promise instanceof Promise)) return;
    console.error('Unhandled promise rejection:', reason);
  });
}

export class Worker implements TaskHost, PollerHost {
  private state: WorkerState = 'INITIALIZED';
  readonly engine: Engine;
  private readonly entries: Map<string, WorkflowEntry> | { path: string };
  private readonly workflowTasks: WorkflowTasks;
  private readonly activityTasks: ActivityTasks;
  private readonly cache: RunCache;
  private readonly pollers: Poller[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly workflowSlots: Semaphore;
  private readonly activitySlots: Semaphore;
  /** Eager dispatch is on and the engine has it (decided in create()). */
  private eager = false;
  private runPromise?: Promise<void>;
  private resolveRun?: () => void;
  private signalHandler?: () => void;
  readonly identity: string;
  /** The namespace this worker polls (WorkerOptions.namespace, default "default"). */
  readonly namespace: string;
  private closeSession?: () => Promise<void>;
  readonly logger: Logger;
  readonly options: Required<Pick<WorkerOptions, 'taskQueue' | 'maxConcurrentWorkflowTasks' | 'maxConcurrentActivities' | 'maxCachedWorkflows'>> & WorkerOptions;
  /** Sticky execution is asked for (the option, and a cache to be sticky with). */
  readonly sticky: boolean;
  readonly dataConverter: LoadedDataConverter;
  readonly runOptions: Pick<WorkflowRunOptions, 'extras' | 'onSinkCalls'>;
  /** The build id the worker polls with (WorkerOptions.buildId, or workerDeploymentOptions'); undefined: unversioned. */
  readonly buildId?: string;
  /** WorkerOptions.capabilities. */
  readonly capabilities?: Record<string, unknown>;
  /** The versioning behaviour of workflow types without their own (engine spelling). */
  private readonly defaultVersioningBehavior: 'pinned' | 'auto_upgrade';

  private constructor(options: WorkerOptions) {
    this.options = {
      maxConcurrentWorkflowTasks: 8,
      maxConcurrentActivities: 20,
      maxCachedWorkflows: 500,
      ...options,
    };
    this.identity = options.identity ?? `${process.pid}@${os.hostname()}`;
    this.namespace = options.namespace ?? 'default';
    const d = options.workerDeploymentOptions;
    if (d?.useWorkerVersioning && !d.version?.buildId) {
      throw new TypeError('Worker.create: workerDeploymentOptions.useWorkerVersioning needs version.buildId');
    }
    this.buildId = d?.useWorkerVersioning ? d.version.buildId : options.buildId;
    if (this.buildId !== undefined && (typeof this.buildId !== 'string' || this.buildId === '')) {
      throw new TypeError('Worker.create: buildId must be a non-empty string');
    }
    this.defaultVersioningBehavior = encodeVersioningBehavior(d?.defaultVersioningBehavior) ?? 'pinned';
    this.capabilities = checkCapabilities(options.capabilities, 'Worker.create: capabilities');
    this.logger = options.logger ?? (options.log ? legacyLogger(options.log) : Runtime.instance().logger);
    this.entries = resolveEntries(options);
    this.dataConverter = new LoadedDataConverter(options.dataConverter);
    this.runOptions = runOptionsOf(options, this.dataConverter, (level, msg) => this.log(level, msg));
    this.workflowSlots = new Semaphore(this.options.maxConcurrentWorkflowTasks);
    this.activitySlots = new Semaphore(this.options.maxConcurrentActivities);
    this.sticky = options.stickyExecution !== false && this.options.maxCachedWorkflows > 0;
    this.engine = new Engine({
      connectionString: options.connectionString,
      max: Math.min(20, 2 + this.options.maxConcurrentWorkflowTasks + Math.min(this.options.maxConcurrentActivities, 10)),
      applicationName: `durable-worker ${this.identity}`.slice(0, 63),
      sticky: this.sticky,
    });
    this.cache = new RunCache(this.options.maxCachedWorkflows);
    this.workflowTasks = new WorkflowTasks(this, this.cache, new LocalActivities(this, options.activities ?? {}, options.interceptors));
    this.activityTasks = new ActivityTasks(this, options.activities ?? {}, options.interceptors);
    if (options.metricsRegistry) {
      const sem = (k: 'workflow' | 'activity') => (k === 'activity' ? this.activitySlots : this.workflowSlots);
      const max = (k: 'workflow' | 'activity') => (k === 'activity' ? this.options.maxConcurrentActivities : this.options.maxConcurrentWorkflowTasks);
      this.metrics = new WorkerMetrics(options.metricsRegistry, {
        namespace: this.namespace, taskQueue: this.options.taskQueue, stats: this.stats,
        slotsUsed: (k) => Math.max(0, max(k) - sem(k).available),
        slotsAvailable: (k) => Math.max(0, sem(k).available),
        cacheSize: () => this.cache.size,
        cacheEvictions: () => this.cache.evictions,
      });
    }
    installRejectionHandler();
  }

  /**
   * Create a worker; checks that the database has the durable extension
   * and, as Temporal's worker validation does for an unknown namespace,
   * that the role may work in the namespace.
   */
  static async create(options: WorkerOptions): Promise<Worker> {
    if (!options.taskQueue) throw new TypeError('Worker.create: taskQueue is required');
    const w = new Worker(options);
    try {
      await w.engine.detect();
      await w.checkNamespace();
      if ((w.buildId !== undefined || w.capabilities !== undefined) && !w.engine.routing) {
        throw new Error('Worker.create: buildId, workerDeploymentOptions and capabilities need an engine with task routing (durable.set_current_build, durable 0.3)');
      }
      w.eager = options.eagerDispatch !== false && w.engine.eager;
      if (options.eagerDispatch !== false && !w.engine.eager) w.log('info', 'the engine has no eager dispatch (durable < 0.2): polling only');
      if (w.sticky && !w.engine.sticky) w.log('info', 'the engine has no sticky execution (durable < 0.3): whole histories');
    } catch (e) {
      await w.engine.end();
      throw e;
    }
    return w;
  }

  get taskQueue(): string {
    return this.options.taskQueue;
  }

  /**
   * Fail now rather than at every poll when the namespace is unknown or the
   * role has no capability in it (NamespaceNotFoundError, PermissionDeniedError).
   */
  private async checkNamespace(): Promise<void> {
    if (!this.engine.namespaces) {
      if (this.namespace !== 'default') {
        throw new Error(`Worker.create: namespace "${this.namespace}": this engine has no namespaces (durable < 0.3); use "default" or leave it out`);
      }
      return;
    }
    await this.engine.callOnce(SQL.probeNamespace, [this.identity, this.namespace]);
  }

  /** The poll statement for PollerHost: with the namespace where the engine has them. */
  pollCall(kinds: string[], wait: string): { stmt: Statement; params: unknown[] } {
    const params = [this.options.taskQueue, this.identity, kinds, wait];
    if (!this.engine.namespaces) return { stmt: SQL.pollNoNamespaces, params };
    if (this.buildId !== undefined || this.capabilities !== undefined) {
      return { stmt: SQL.pollRouted, params: [...params, this.namespace, this.buildId ?? null, this.capabilities ? JSON.stringify(this.capabilities) : null] };
    }
    return { stmt: SQL.poll, params: [...params, this.namespace] };
  }

  /** A versioned worker's behaviour for the run: its workflow type's (setWorkflowOptions), else the default. */
  versioningBehaviorOf(run: WorkflowRun): 'pinned' | 'auto_upgrade' | undefined {
    if (this.buildId === undefined) return undefined;
    return encodeVersioningBehavior(run.versioningBehavior) ?? this.defaultVersioningBehavior;
  }

  getState(): WorkerState {
    return this.state;
  }

  /** An event of the worker itself, to its logger with sdkComponent "worker", its task queue and identity. */
  log(level: LogLevel, msg: string): void {
    if (!this.options.logger && this.options.log) {
      this.options.log(level, msg);
      return;
    }
    this.workerLogger ??= withMetadata(this.logger, { sdkComponent: 'worker', taskQueue: this.options.taskQueue, identity: this.identity });
    this.workerLogger.log(level.toUpperCase() as 'DEBUG', msg);
  }
  private workerLogger?: Logger;

  /** Poll and run tasks until shutdown() (or SIGINT/SIGTERM). */
  run(): Promise<void> {
    if (this.state !== 'INITIALIZED') throw new Error(`worker is ${this.state}`);
    this.state = 'RUNNING';
    this.runPromise = new Promise((r) => (this.resolveRun = r));
    const sigs = this.options.shutdownSignals === false ? [] : this.options.shutdownSignals ?? ['SIGINT', 'SIGTERM'];
    if (sigs.length) {
      this.signalHandler = () => void this.shutdown();
      for (const s of sigs) process.on(s, this.signalHandler);
    }
    if (this.engine.session && this.options.workerSession !== false) {
      this.closeSession = this.engine.openSession(this.identity, (e) => this.log('warn', `worker session: ${e.message}`));
    }
    const hasWorkflows = this.entries instanceof Map ? this.entries.size > 0 : true;
    const hasActivities = Object.keys(this.options.activities ?? {}).length > 0;
    const wait = `${msToNumber(this.options.pollWait ?? '30s') / 1000}s`;
    if (hasWorkflows) {
      this.startPollers(['workflow'], this.workflowSlots, this.options.maxConcurrentWorkflowTasks, wait);
    }
    if (hasActivities) {
      this.startPollers(['activity'], this.activitySlots, this.options.maxConcurrentActivities, wait);
    }
    return this.runPromise;
  }

  /**
   * Up to two pollers for a kind with `slots` slots.  They leave one slot
   * (when there are more than two) to the tasks completions hand back, which
   * need no poll: the first polls while more than one slot is free, the
   * second while more than two are (see polling.ts).
   */
  private startPollers(kinds: string[], sem: Semaphore, slots: number, wait: string): void {
    const kept = slots > 2 ? 1 : 0;
    for (let i = 0; i < Math.min(2, slots); i++) this.pollers.push(new Poller(this, kinds, sem, wait, kept + i));
  }

  /** Stop polling, let running tasks finish (up to shutdownGraceTime), then close connections. */
  async shutdown(): Promise<void> {
    if (this.state === 'INITIALIZED') {
      this.state = 'STOPPED';
      await this.engine.end();
      return;
    }
    if (this.state !== 'RUNNING') return this.runPromise;
    this.state = 'STOPPING';
    if (this.signalHandler) {
      process.removeListener('SIGINT', this.signalHandler);
      process.removeListener('SIGTERM', this.signalHandler);
    }
    // interrupt the waiting polls (their claim rolls back) until all pollers stopped
    let pollersDone = false;
    const allPollers = Promise.all(this.pollers.map((p) => p.done)).then(() => (pollersDone = true));
    while (!pollersDone) {
      // pollers waiting for a free slot stop too
      this.workflowSlots.wakeAll();
      this.activitySlots.wakeAll();
      for (const p of this.pollers) {
        const pid = (p.client as any)?.processID;
        if (p.polling && pid) await this.engine.callOnce(SQL.cancelBackend, [pid]).catch(() => undefined);
      }
      await Promise.race([allPollers, delay(300)]);
    }
    const grace = msToNumber(this.options.shutdownGraceTime ?? '10s');
    if (!(await this.drain(Date.now() + grace))) {
      for (const ctx of this.activityTasks.running) ctx.cancel(new CancelledFailure('Worker shutdown'));
      await this.drain(Date.now() + 5000);
    }
    // what is still unfinished goes back to the queue at once, not counted as a failed attempt
    if (this.inflight.size > 0 && this.engine.release) {
      await this.engine
        .callOnce(SQL.releaseTasks, [this.identity, this.options.taskQueue, this.namespace])
        .catch((e: Error) => this.log('warn', `release_tasks failed: ${e.message}`));
    }
    await this.closeSession?.();
    await this.engine.end();
    this.cache.clear();
    this.metrics?.close();
    this.state = 'STOPPED';
    this.resolveRun?.();
  }

  /** Wait until no task runs (tasks handed back by completions included); false if the deadline came first. */
  private async drain(deadline: number): Promise<boolean> {
    while (this.inflight.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
    return true;
  }

  running(): boolean {
    return this.state === 'RUNNING';
  }

  /** A poll connection, retried while the worker runs. */
  async connect(): Promise<pg.Client> {
    let backoff = 100;
    for (;;) {
      try {
        return await this.engine.connectPoller(`durable-poller ${this.identity}`.slice(0, 63));
      } catch (e) {
        if (this.state !== 'RUNNING') throw e;
        this.log('debug', `connect failed: ${(e as Error).message}`);
        await delay(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  pollDone(kinds: string[], seconds: number, gotTask: boolean): void {
    this.metrics?.pollDone(kinds, seconds, gotTask);
  }

  runPolled(row: unknown): void {
    this.stats.polledTasks++;
    const task = toTask(row);
    this.runTask(task, this.slotsFor(task.kind).tryAcquire());
  }

  private slotsFor(kind: string): Semaphore {
    return kind === 'activity' ? this.activitySlots : this.workflowSlots;
  }

  /**
   * Run a task that holds one slot of its kind (reserved before the
   * completion that handed it out, or free when its poll returned) or,
   * without `hasSlot`, once it gets one; the slot is released when the task
   * is done.  The tasks its completion hands back (with slots reserved for
   * them) run the same way.
   */
  private runTask(task: Task, hasSlot = true): void {
    const slots = this.slotsFor(task.kind);
    const run = this.metrics ? () => this.measured(task) : () => this.dispatch(task);
    const job: Promise<void> = (hasSlot ? run() : slots.acquire().then(run))
      .then((next) => {
        for (const t of next) this.runTask(t);
      }, (e) => this.log('error', `task failed: ${(e as Error).stack ?? e}`))
      .finally(() => {
        slots.release();
        this.inflight.delete(job);
      });
    this.inflight.add(job);
  }

  /** dispatch() with the task's latencies observed (a worker with metrics). */
  private async measured(task: Task): Promise<Task[]> {
    const m = this.metrics!;
    m.taskStarted(task.kind, task.activity_type, task.scheduled_time, task.started_time);
    const t0 = performance.now();
    try {
      return await this.dispatch(task);
    } finally {
      m.taskDone(task.kind, task.activity_type, (performance.now() - t0) / 1000);
    }
  }

  /** Run one task; resolves to the tasks its completion handed back. */
  private async dispatch(task: Task): Promise<Task[]> {
    switch (task.kind) {
      case 'workflow':
        return this.workflowTasks.handle(task);
      case 'query':
        await answerQuery(this, this.cache, (t) => this.workflowTasks.newRun(t), task);
        return [];
      case 'activity':
        return this.activityTasks.handle(task);
      default:
        this.log('warn', `unknown task kind ${task.kind}`);
        return [];
    }
  }

  /**
   * The tasks a completion handed back (the "tasks" of its result), each
   * with a slot: an activity takes one of the reservedActivities, a
   * workflow task the reservedWorkflowTask or, when the completion is a
   * workflow task's, that task's own slot (Temporal does the same): it is
   * taken here and given back when the completing task ends, in runTask.
   * Reserved slots left over are released.
   */
  handedOut(tasks: unknown, reservedActivities: number, reservedWorkflowTask: boolean): Task[] {
    const out: Task[] = [];
    if (Array.isArray(tasks)) {
      for (const j of tasks) {
        const t = toTask(j);
        if (t.kind === 'activity') {
          this.stats.eagerActivityTasks++;
          if (reservedActivities > 0) reservedActivities--;
          else this.activitySlots.take(); // not asked for, but leased to us: run it rather than let it time out
        } else {
          this.stats.eagerWorkflowTasks++;
          if (reservedWorkflowTask) reservedWorkflowTask = false;
          else this.workflowSlots.take(); // the completing workflow task's slot
        }
        out.push(t);
      }
    }
    this.releaseReserved(reservedActivities, reservedWorkflowTask);
    return out;
  }

  releaseReserved(activities: number, workflowTask: boolean): void {
    for (let i = 0; i < activities; i++) this.activitySlots.release();
    if (workflowTask) this.workflowSlots.release();
  }

  eagerNow(): boolean {
    return this.eager && this.state === 'RUNNING';
  }

  /** Whether this worker runs workflows of this type (it polls for workflow tasks then). */
  private runsWorkflowType(type: string): boolean {
    return this.entries instanceof Map ? this.entries.has(type) : true;
  }

  /**
   * Reserve a workflow-task slot for the workflow task a completion of a
   * task of this workflow may hand back; false (nothing reserved) when
   * eager dispatch is off, the worker is stopping, or no slot is free.
   */
  reserveWorkflowTask(task: Task): boolean {
    return this.eagerNow() && task.task_queue === this.options.taskQueue &&
      this.runsWorkflowType(task.workflow_type) && this.workflowSlots.tryAcquire();
  }

  /** Reserve an activity slot for an eager activity: on the workflow's own queue, of a type this worker has. */
  reserveEagerActivity(task: Task, activityType: string, taskQueue: string | undefined): boolean {
    if (taskQueue !== undefined && taskQueue !== task.task_queue) return false;
    return this.activityTasks.has(activityType) && this.activitySlots.tryAcquire();
  }

  entryFor(workflowType: string): WorkflowEntry | undefined {
    if (this.entries instanceof Map) return this.entries.get(workflowType);
    return { file: this.entries.path, exportName: workflowType };
  }

  /** Number of executions in the cache (for tests and metrics). */
  get cachedWorkflows(): number {
    return this.cache.size;
  }

  /** Counters (for tests and metrics). */
  readonly stats: WorkerStats = {
    workflowTasks: 0, fullReplays: 0, cacheHits: 0, partialHistories: 0, historyFetches: 0,
    activityTasks: 0, queryTasks: 0, failedWorkflowTasks: 0, failedActivityTasks: 0, polledTasks: 0, eagerActivityTasks: 0,
    eagerWorkflowTasks: 0,
  };

  /** @internal The worker's Prometheus metrics (WorkerOptions.metricsRegistry). */
  readonly metrics?: WorkerMetrics;

  /* ------------------------------------------------------------- replayer */

  /**
   * Replay a saved history (the event array of durable.get_history, a poll,
   * or Client's fetchHistory()) against the current workflow code.  Throws
   * NonDeterminismError if the code no longer produces that history.
   */
  static async runReplayHistory(
    options: {
      workflows?: Record<string, unknown> | string; workflowsPath?: string; workflowId?: string; runId?: string;
      interceptors?: WorkerInterceptors; dataConverter?: DataConverter;
    },
    history: HistoryEvent[] | { events: HistoryEvent[] },
  ): Promise<void> {
    const dc = new LoadedDataConverter(options.dataConverter);
    const events = await dc.decodeHistory(Array.isArray(history) ? history : history.events);
    if (!events.length || events[0].event_type !== 'WorkflowExecutionStarted') {
      throw new TypeError('runReplayHistory: the history must begin with WorkflowExecutionStarted');
    }
    const entries = resolveEntries(options);
    const type = events[0].attributes.workflow_type;
    const runId = options.runId ?? (events[0] as any).run_id ?? events[0].attributes.first_execution_run_id ?? '00000000-0000-0000-0000-000000000000';
    const run = new WorkflowRun({
      workflowId: options.workflowId ?? 'replay', runId, workflowType: type,
      entry: entries instanceof Map ? entries.get(type) : { file: entries.path, exportName: type },
      ...runOptionsOf(options, dc, () => undefined),
    });
    try {
      run.advance(events);
    } catch (e) {
      if (e instanceof WorkflowTaskFailure) {
        const err = new Error(`workflow task failed during replay: ${e.failure.message}`);
        (err as any).failure = e.failure;
        throw err;
      }
      throw e;
    } finally {
      run.dispose();
    }
  }
}

/** A Logger over the deprecated `log` option's function. */
function legacyLogger(fn: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) => fn(level, message);
  return {
    log: (level, message) => fn(level === 'TRACE' ? 'debug' : (level.toLowerCase() as 'debug'), message),
    trace: at('debug'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
  };
}

/** What each workflow run of a worker gets: interceptor modules, payload converter, sinks. */
function runOptionsOf(options: { interceptors?: WorkerInterceptors; sinks?: InjectedSinks<any> }, dc: LoadedDataConverter,
  log: (level: LogLevel, msg: string) => void): Pick<WorkflowRunOptions, 'extras' | 'onSinkCalls'> {
  const modules = (options.interceptors?.workflowModules ?? []).map((m) => require.resolve(path.resolve(m)));
  const sinks = options.sinks;
  return {
    extras: { interceptorModules: modules, payloadMode: dc.payloadMode, payloadConverterPath: dc.payloadConverterPath },
    onSinkCalls: (calls: SinkCall[]) => callSinks(sinks, calls, log),
  };
}

function resolveEntries(options: { workflows?: Record<string, unknown> | string; workflowsPath?: string }): Map<string, WorkflowEntry> | { path: string } {
  const w = options.workflowsPath ?? options.workflows;
  if (w === undefined) return new Map();
  if (typeof w === 'string') return { path: require.resolve(path.resolve(w)) };
  return locateWorkflows(w);
}

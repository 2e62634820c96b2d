/**
 * The worker: long-polls durable.poll_task on dedicated connections, runs
 * workflow tasks in sandboxes (with a cache of recent executions so a task
 * usually applies only the new events) and activities, with bounded
 * concurrency, and reports back with the worker API of docs/protocol.md.
 *
 * Eager dispatch: a completion can hand back the next tasks of the same
 * workflow, already started for this worker, in its own transaction (the
 * activities a workflow task schedules, the workflow task an activity's
 * result schedules).  The worker asks only for what it has a slot for, and
 * runs what it gets exactly as a polled task (runTask).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { Context, ActivityInfo } from '../activity';
import { ApplicationFailure, CancelledFailure, FailureJSON, NonDeterminismError, encodeFailure } from '../common/failure';
import { Duration, msToNumber, parsePgInterval } from '../common/duration';
import { StaleTaskTokenError, isConnectionError, mapError, ActivityNotFoundError, WorkflowNotRunningError } from '../errors';
import type { Command } from '../workflow/internals';
import { CacheMismatch, HistoryEvent, WorkflowRun, WorkflowTaskFailure, closesWorkflow, isCommandEvent } from './replay';
import { WorkflowEntry, locateWorkflows } from './sandbox';

export type ActivityFunction = (...args: any[]) => Promise<unknown> | unknown;

export interface WorkerOptions {
  connectionString: string;
  taskQueue: string;
  /** Workflow functions (an object, e.g. `import * as workflows`), or the path of the module that exports them. */
  workflows?: Record<string, unknown> | string;
  /** Path of the module exporting the workflow functions (alternative to `workflows`). */
  workflowsPath?: string;
  activities?: Record<string, ActivityFunction>;
  maxConcurrentWorkflowTasks?: number;
  maxConcurrentActivities?: number;
  /** Workflow executions kept in memory between tasks (default 500). */
  maxCachedWorkflows?: number;
  identity?: string;
  /** How long one poll waits for a task (default 30 seconds). */
  pollWait?: Duration;
  /** How long shutdown() lets running tasks finish before cancelling activities (default 10 seconds). */
  shutdownGraceTime?: Duration;
  /** Shut down on SIGINT and SIGTERM (default true). */
  shutdownSignals?: NodeJS.Signals[] | false;
  /** Log function for worker events (default console.warn for problems only). */
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
}

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(v as string);
}

/**
 * A task as the worker runs it, whichever way it came: a durable.poll_task
 * row or an element of the "tasks" a completion hands back (both read as
 * to_json(durable.task), see toTask).  Timestamps and the interval are read
 * when used (only activities use them).
 */
export class Task {
  readonly task_token: string;
  readonly kind: string;
  readonly workflow_id: string;
  readonly run_id: string;
  readonly workflow_type: string;
  readonly task_queue: string;
  readonly activity_id: string | null;
  readonly activity_type: string | null;
  readonly input: unknown;
  readonly attempt: number;
  readonly history: HistoryEvent[] | null;
  readonly heartbeat_details: unknown;
  readonly priority: number | null;
  readonly query_name: string | null;

  constructor(private readonly raw: any) {
    this.task_token = raw.task_token;
    this.kind = raw.kind;
    this.workflow_id = raw.workflow_id;
    this.run_id = raw.run_id;
    this.workflow_type = raw.workflow_type;
    this.task_queue = raw.task_queue;
    this.activity_id = raw.activity_id ?? null;
    this.activity_type = raw.activity_type ?? null;
    this.input = raw.input ?? null;
    this.attempt = raw.attempt;
    this.history = raw.history ?? null;
    this.heartbeat_details = raw.heartbeat_details ?? null;
    this.priority = raw.priority ?? null;
    this.query_name = raw.query_name ?? null;
  }

  get scheduled_time(): Date | null {
    return toDate(this.raw.scheduled_time);
  }
  get started_time(): Date | null {
    return toDate(this.raw.started_time);
  }
  get deadline(): Date | null {
    return toDate(this.raw.deadline);
  }
  get heartbeat_timeout_ms(): number | null {
    const hb = this.raw.heartbeat_timeout;
    if (hb === null || hb === undefined) return null;
    return typeof hb === 'number' ? hb : parsePgInterval(hb) ?? null;
  }
}

/**
 * The one task shape, from to_json(durable.task) as polls and completions
 * return it (timestamps as ISO text, the interval as text); Dates and
 * numbers, as node-postgres parses columns, are taken as they are.
 */
export function toTask(j: any): Task {
  return new Task(j);
}

/** Temporal's cap on the activities one workflow task asks to run eagerly. */
const MAX_EAGER_ACTIVITIES_PER_WORKFLOW_TASK = 3;

/*
 * The worker's statements, prepared once per connection (named statements):
 * the server parses and plans each only once per connection.
 */
const SQL = {
  poll: { name: 'durable_poll', text: 'SELECT to_json(t) AS t FROM durable.poll_task($1, $2, $3::text[], $4::interval) t' },
  completeWft: { name: 'durable_complete_wft', text: 'SELECT durable.complete_workflow_task($1, $2::jsonb, $3) AS r' },
  completeWft01: { name: 'durable_complete_wft_01', text: 'SELECT durable.complete_workflow_task($1, $2::jsonb) AS r' },
  failWft: { name: 'durable_fail_wft', text: 'SELECT durable.fail_workflow_task($1, $2::jsonb)' },
  completeActivity: { name: 'durable_complete_activity', text: 'SELECT durable.complete_activity($1, $2::jsonb, $3) AS r' },
  completeActivity01: { name: 'durable_complete_activity_01', text: 'SELECT durable.complete_activity($1, $2::jsonb) AS r' },
  failActivity: { name: 'durable_fail_activity', text: 'SELECT durable.fail_activity($1, $2::jsonb, $3) AS r' },
  failActivity01: { name: 'durable_fail_activity_01', text: 'SELECT durable.fail_activity($1, $2::jsonb) AS r' },
  activityCanceled: { name: 'durable_activity_canceled', text: 'SELECT durable.report_activity_canceled($1, $2::jsonb)' },
  heartbeat: { name: 'durable_heartbeat', text: 'SELECT durable.heartbeat_activity($1, $2::jsonb) AS c' },
  answerQuery: { name: 'durable_answer_query', text: 'SELECT durable.answer_query($1, $2::jsonb, $3::jsonb)' },
};
type Statement = { name: string; text: string };

export type WorkerState = 'INITIALIZED' | 'RUNNING' | 'STOPPING' | 'STOPPED';

class Semaphore {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  /** Take a slot if one is free now. */
  tryAcquire(): boolean {
    if (this.free > 0) {
      this.free--;
      return true;
    }
    return false;
  }
  /**
   * Take a slot even if none is free: the slot of a task that is about to
   * release it (see handedOut), or for a task that must run.  release()
   * gives such a slot back before it wakes a waiter.
   */
  take(): void {
    this.free--;
  }
  release(): void {
    if (this.free < 0) {
      this.free++;
      return;
    }
    const w = this.waiters.shift();
    if (w) w();
    else this.free++;
  }
  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Poller {
  kinds: string[];
  client?: pg.Client;
  polling: boolean;
  done: Promise<void>;
}

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

export class Worker {
  private state: WorkerState = 'INITIALIZED';
  private readonly pool: pg.Pool;
  private readonly entries: Map<string, WorkflowEntry> | { path: string };
  private readonly activities: Record<string, ActivityFunction>;
  private readonly cache = new Map<string, WorkflowRun>();
  private readonly pollers: Poller[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly runningActivities = new Set<Context>();
  private readonly workflowSlots: Semaphore;
  private readonly activitySlots: Semaphore;
  /** Eager dispatch is on and the engine has it (decided in create()). */
  private eager = false;
  private runPromise?: Promise<void>;
  private resolveRun?: () => void;
  private signalHandler?: () => void;
  readonly identity: string;
  readonly options: Required<Pick<WorkerOptions, 'taskQueue' | 'maxConcurrentWorkflowTasks' | 'maxConcurrentActivities' | 'maxCachedWorkflows'>> & WorkerOptions;

  private constructor(options: WorkerOptions) {
    this.options = {
      maxConcurrentWorkflowTasks: 4,
      maxConcurrentActivities: 20,
      maxCachedWorkflows: 500,
      ...options,
    };
    this.identity = options.identity ?? `${process.pid}@${os.hostname()}`;
    this.entries = resolveEntries(options);
    this.activities = options.activities ?? {};
    this.workflowSlots = new Semaphore(this.options.maxConcurrentWorkflowTasks);
    this.activitySlots = new Semaphore(this.options.maxConcurrentActivities);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: Math.min(20, 2 + this.options.maxConcurrentWorkflowTasks + Math.min(this.options.maxConcurrentActivities, 10)),
      application_name: `durable-worker ${this.identity}`.slice(0, 63),
    });
    this.pool.on('error', () => undefined);
    installRejectionHandler();
  }

  /** Create a worker; checks that the database has the durable extension. */
  static async create(options: WorkerOptions): Promise<Worker> {
    if (!options.taskQueue) throw new TypeError('Worker.create: taskQueue is required');
    const w = new Worker(options);
    try {
      const r = await w.pool.query(`SELECT to_regproc('durable.poll_task') IS NOT NULL AS ok,
        to_regprocedure('durable.complete_activity(text,jsonb,boolean)') IS NOT NULL AS eager`);
      if (!r.rows[0].ok) throw new Error('the database has no durable extension (CREATE EXTENSION durable)');
      w.eager = options.eagerDispatch !== false && r.rows[0].eager;
      if (options.eagerDispatch !== false && !r.rows[0].eager) w.log('info', 'the engine has no eager dispatch (durable < 0.2): polling only');
    } catch (e) {
      await w.pool.end().catch(() => undefined);
      throw e;
    }
    return w;
  }

  getState(): WorkerState {
    return this.state;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    if (this.options.log) this.options.log(level, msg);
    else if (level === 'warn' || level === 'error') console.warn(`[durable worker ${this.identity}] ${msg}`);
  }

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
    const hasWorkflows = this.entries instanceof Map ? this.entries.size > 0 : true;
    const hasActivities = Object.keys(this.activities).length > 0;
    if (hasWorkflows) {
      for (let i = 0; i < Math.min(2, this.options.maxConcurrentWorkflowTasks); i++) this.startPoller(['workflow'], this.workflowSlots);
    }
    if (hasActivities) {
      for (let i = 0; i < Math.min(2, this.options.maxConcurrentActivities); i++) this.startPoller(['activity'], this.activitySlots);
    }
    return this.runPromise;
  }

  /** Stop polling, let running tasks finish (up to shutdownGraceTime), then close connections. */
  async shutdown(): Promise<void> {
    if (this.state === 'INITIALIZED') {
      this.state = 'STOPPED';
      await this.pool.end().catch(() => undefined);
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
      for (const p of this.pollers) {
        const pid = (p.client as any)?.processID;
        if (p.polling && pid) await this.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
      }
      await Promise.race([allPollers, delay(300)]);
    }
    const grace = msToNumber(this.options.shutdownGraceTime ?? '10s');
    if (!(await this.drain(Date.now() + grace))) {
      for (const ctx of this.runningActivities) ctx.cancel(new CancelledFailure('Worker shutdown'));
      await this.drain(Date.now() + 5000);
    }
    await this.pool.end().catch(() => undefined);
    this.cache.clear();
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

  private startPoller(kinds: string[], slots: Semaphore): void {
    const p: Poller = { kinds, polling: false, done: Promise.resolve() };
    p.done = this.pollLoop(p, slots);
    this.pollers.push(p);
  }

  private async connect(): Promise<pg.Client> {
    let backoff = 100;
    for (;;) {
      const c = new pg.Client({ connectionString: this.options.connectionString, application_name: `durable-poller ${this.identity}`.slice(0, 63) });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return c;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (this.state !== 'RUNNING') throw e;
        this.log('debug', `connect failed: ${(e as Error).message}`);
        await delay(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  private async pollLoop(p: Poller, slots: Semaphore): Promise<void> {
    const wait = `${msToNumber(this.options.pollWait ?? '30s') / 1000}s`;
    try {
      while (this.state === 'RUNNING') {
        if (!p.client) {
          try {
            p.client = await this.connect();
          } catch {
            break;
          }
        }
        await slots.acquire();
        if (this.state !== 'RUNNING') {
          slots.release();
          break;
        }
        let row: any;
        try {
          p.polling = true;
          const r = await p.client.query({ ...SQL.poll, values: [this.options.taskQueue, this.identity, p.kinds, wait] });
          row = r.rows[0];
        } catch (e) {
          p.polling = false;
          slots.release();
          if (this.state !== 'RUNNING') break;
          if ((e as any).code === '57014') continue; // cancelled
          this.log(isConnectionError(e) ? 'debug' : 'warn', `poll failed: ${(e as Error).message}`);
          await p.client.end().catch(() => undefined);
          p.client = undefined;
          await delay(200);
          continue;
        } finally {
          p.polling = false;
        }
        if (!row) {
          slots.release();
          continue;
        }
        this.stats.polledTasks++;
        this.runTask(toTask(row.t)); // holds the slot acquired above
      }
    } finally {
      await p.client?.end().catch(() => undefined);
      p.client = undefined;
    }
  }

  private slotsFor(kind: string): Semaphore {
    return kind === 'activity' ? this.activitySlots : this.workflowSlots;
  }

  /**
   * Run a task that holds one slot of its kind (acquired by the poller, or
   * reserved before the completion that handed the task out); the slot is
   * released when the task is done.  The tasks its completion hands back
   * (with slots reserved for them) run the same way.
   */
  private runTask(task: Task): void {
    const slots = this.slotsFor(task.kind);
    const job: Promise<void> = this.dispatch(task)
      .then((next) => {
        for (const t of next) this.runTask(t);
      }, (e) => this.log('error', `task failed: ${(e as Error).stack ?? e}`))
      .finally(() => {
        slots.release();
        this.inflight.delete(job);
      });
    this.inflight.add(job);
  }

  /** Run one task; resolves to the tasks its completion handed back. */
  private async dispatch(task: Task): Promise<Task[]> {
    switch (task.kind) {
      case 'workflow':
        return this.handleWorkflowTask(task);
      case 'query':
        await this.handleQueryTask(task);
        return [];
      case 'activity':
        return this.handleActivityTask(task);
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
  private handedOut(tasks: unknown, reservedActivities: number, reservedWorkflowTask: boolean): Task[] {
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

  private releaseReserved(activities: number, workflowTask: boolean): void {
    for (let i = 0; i < activities; i++) this.activitySlots.release();
    if (workflowTask) this.workflowSlots.release();
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
  private reserveWorkflowTask(task: Task): boolean {
    return this.eager && this.state === 'RUNNING' && task.task_queue === this.options.taskQueue &&
      this.runsWorkflowType(task.workflow_type) && this.workflowSlots.tryAcquire();
  }

  /** Call the engine, retrying while the server is unreachable (e.g. restarting). */
  private async call<T = any>(stmt: Statement, params: unknown[]): Promise<T[]> {
    let backoff = 100;
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        return (await this.pool.query({ name: stmt.name, text: stmt.text, values: params })).rows;
      } catch (e) {
        if (!isConnectionError(e) || Date.now() > deadline) throw mapError(e);
        await delay(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /* ------------------------------------------------------ workflow tasks */

  private entryFor(workflowType: string): WorkflowEntry | undefined {
    if (this.entries instanceof Map) return this.entries.get(workflowType);
    return { file: this.entries.path, exportName: workflowType };
  }

  private newRun(task: Task): WorkflowRun {
    return new WorkflowRun({
      workflowId: task.workflow_id, runId: task.run_id, workflowType: task.workflow_type,
      entry: this.entryFor(task.workflow_type),
    });
  }

  private cachePut(runId: string, run: WorkflowRun): void {
    this.cache.delete(runId);
    this.cache.set(runId, run);
    while (this.cache.size > this.options.maxCachedWorkflows) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /** Number of executions in the cache (for tests and metrics). */
  get cachedWorkflows(): number {
    return this.cache.size;
  }

  /** Counters (for tests and metrics). */
  readonly stats = {
    workflowTasks: 0, fullReplays: 0, cacheHits: 0, activityTasks: 0, queryTasks: 0, failedWorkflowTasks: 0,
    /** Tasks claimed with durable.poll_task. */
    polledTasks: 0,
    /** Tasks handed back by completions (eager dispatch). */
    eagerActivityTasks: 0, eagerWorkflowTasks: 0,
  };

  /**
   * Ask for the activities of these commands to be started for this worker
   * in the completion's transaction (request_eager_execution), as many as
   * there are free activity slots (reserved here), at most 3: activities on
   * the workflow's own task queue whose type this worker has.
   */
  private requestEagerActivities(task: Task, commands: Command[]): { commands: Command[]; reserved: number } {
    let reserved = 0;
    let out = commands;
    for (let i = 0; i < commands.length && reserved < MAX_EAGER_ACTIVITIES_PER_WORKFLOW_TASK; i++) {
      const c = commands[i];
      if (c.type !== 'schedule_activity') continue;
      if (c.task_queue !== undefined && c.task_queue !== task.task_queue) continue;
      if (!Object.prototype.hasOwnProperty.call(this.activities, c.activity_type as string)) continue;
      if (!this.activitySlots.tryAcquire()) break;
      if (out === commands) out = commands.slice();
      out[i] = { ...c, request_eager_execution: true };
      reserved++;
    }
    return { commands: out, reserved };
  }

  private async handleWorkflowTask(task: Task): Promise<Task[]> {
    this.stats.workflowTasks++;
    const history = task.history ?? [];
    const runId: string = task.run_id;
    let run = this.cache.get(runId);
    this.cache.delete(runId);
    let commands: Command[] | null = null;
    try {
      if (run) {
        try {
          commands = run.advance(history);
          this.stats.cacheHits++;
        } catch (e) {
          if (!(e instanceof CacheMismatch || e instanceof NonDeterminismError)) throw e;
          this.log('debug', `cache of ${task.workflow_id} not usable: ${(e as Error).message}`);
          run = undefined;
        }
      }
      if (!run) {
        this.stats.fullReplays++;
        run = this.newRun(task);
        commands = run.advance(history);
      }
    } catch (e) {
      await this.failWorkflowTask(task, e);
      return [];
    }
    let send = commands ?? [];
    let reservedActivities = 0;
    // the workflow task this completion schedules (events arrived meanwhile) runs in this task's slot
    let returnWorkflowTask = false;
    if (this.eager && this.state === 'RUNNING' && !closesWorkflow(send)) {
      ({ commands: send, reserved: reservedActivities } = this.requestEagerActivities(task, send));
      returnWorkflowTask = true;
    }
    let result: { outcome?: string; tasks?: unknown[] } | null;
    try {
      const rows = this.eager
        ? await this.call(SQL.completeWft, [task.task_token, JSON.stringify(send), returnWorkflowTask])
        : await this.call(SQL.completeWft01, [task.task_token, JSON.stringify(send)]);
      result = rows[0].r;
    } catch (e) {
      this.releaseReserved(reservedActivities, false);
      if (e instanceof StaleTaskTokenError) {
        this.log('debug', `workflow task of ${task.workflow_id} is stale: ${e.message}`);
        return [];
      }
      await this.failWorkflowTask(task, e);
      return [];
    }
    // cache first: a workflow task handed back continues from this run
    if (result?.outcome === 'completed' && !run.closed) this.cachePut(runId, run);
    return this.handedOut(result?.tasks, reservedActivities, false);
  }

  private async failWorkflowTask(task: Task, err: unknown): Promise<void> {
    this.stats.failedWorkflowTasks++;
    const failure: FailureJSON = err instanceof WorkflowTaskFailure ? err.failure : encodeFailure(err);
    if (err instanceof NonDeterminismError) failure.type = 'NonDeterminismError';
    this.log('warn', `workflow task of ${task.workflow_id} (run ${task.run_id}, attempt ${task.attempt}) failed: ${failure.message}`);
    try {
      await this.call(SQL.failWft, [task.task_token, JSON.stringify(failure)]);
    } catch (e) {
      this.log('debug', `fail_workflow_task: ${(e as Error).message}`);
    }
  }

  private async handleQueryTask(task: Task): Promise<void> {
    this.stats.queryTasks++;
    const history = task.history ?? [];
    let answer: { result?: unknown; failure?: FailureJSON };
    try {
      let lastCompleted: HistoryEvent | undefined;
      for (let k = history.length - 2; k >= 0; k--) {
        if (history[k].event_type === 'WorkflowTaskStarted' && history[k + 1].event_type === 'WorkflowTaskCompleted') {
          lastCompleted = history[k];
          break;
        }
      }
      // events no workflow task has seen yet (e.g. a signal just received)?
      let unseen = false;
      for (let k = lastCompleted ? history.indexOf(lastCompleted) + 1 : 0; k < history.length; k++) {
        if (!isCommandEvent(history[k]) && !history[k].event_type.startsWith('WorkflowTask')) unseen = true;
      }
      const cached = this.cache.get(task.run_id);
      let run: WorkflowRun;
      if (cached && lastCompleted && !unseen && cached.lastBoundary?.event_id === lastCompleted.event_id &&
          new Date(cached.lastBoundary.event_time).getTime() === new Date(lastCompleted.event_time).getTime()) {
        run = cached;
      } else {
        run = this.newRun(task);
        run.advance(history, true, true);
      }
      answer = run.query(task.query_name ?? '', task.input);
    } catch (e) {
      answer = { failure: encodeFailure(e) };
    }
    try {
      await this.call(SQL.answerQuery, [
        task.task_token,
        answer.failure ? null : JSON.stringify(answer.result ?? null),
        answer.failure ? JSON.stringify(answer.failure) : null,
      ]);
    } catch (e) {
      this.log('debug', `answer_query: ${(e as Error).message}`);
    }
  }

  /* ------------------------------------------------------------ activities */

  private async handleActivityTask(task: Task): Promise<Task[]> {
    this.stats.activityTasks++;
    const token: string = task.task_token;
    const activityType = task.activity_type ?? '';
    const hbMs = task.heartbeat_timeout_ms ?? undefined;
    const info: ActivityInfo = {
      taskToken: token,
      activityId: task.activity_id ?? '',
      activityType,
      workflowId: task.workflow_id,
      runId: task.run_id,
      workflowType: task.workflow_type,
      taskQueue: task.task_queue,
      attempt: task.attempt,
      heartbeatDetails: task.heartbeat_details ?? undefined,
      heartbeatTimeoutMs: hbMs,
      scheduledTime: task.scheduled_time as Date,
      startedTime: task.started_time as Date,
      deadline: task.deadline ?? undefined,
    };
    let cancelKind: 'workflow' | 'gone' | 'shutdown' | undefined;
    let done = false;
    const hb = { latest: undefined as unknown, pending: false, inFlight: false, last: 0, timer: undefined as NodeJS.Timeout | undefined };
    const throttle = hbMs ? Math.max(50, Math.min(hbMs * 0.8, 30_000)) : 1000;
    const send = (): void => {
      if (done || hb.inFlight || !hb.pending) return;
      const wait = hb.last + throttle - Date.now();
      if (wait > 0) {
        if (!hb.timer) hb.timer = setTimeout(() => ((hb.timer = undefined), send()), wait);
        return;
      }
      hb.inFlight = true;
      hb.pending = false;
      hb.last = Date.now();
      this.pool.query({ ...SQL.heartbeat, values: [token, JSON.stringify(hb.latest ?? null)] })
        .then((r) => {
          if (r.rows[0].c && !cancelKind) {
            cancelKind = 'workflow';
            ctx.cancel(new CancelledFailure('Activity cancelled'));
          }
        })
        .catch((e) => {
          const m = mapError(e);
          if ((m instanceof StaleTaskTokenError || m instanceof ActivityNotFoundError || m instanceof WorkflowNotRunningError) && !cancelKind) {
            cancelKind = 'gone';
            ctx.cancel(new CancelledFailure('Activity no longer outstanding (timed out, or its workflow closed)'));
          }
        })
        .finally(() => {
          hb.inFlight = false;
          send();
        });
    };
    const ctx = new Context(info, (details) => {
      hb.latest = details;
      hb.pending = true;
      send();
    });
    this.runningActivities.add(ctx);
    const origCancel = ctx.cancel.bind(ctx);
    ctx.cancel = (reason: CancelledFailure) => {
      if (!cancelKind) cancelKind = 'shutdown';
      origCancel(reason);
    };
    try {
      const fn = this.activities[activityType];
      let result: unknown;
      let error: unknown;
      let ok = false;
      try {
        if (typeof fn !== 'function') {
          throw ApplicationFailure.retryable(`activity "${activityType}" is not registered on worker ${this.identity}`, 'ActivityNotRegistered');
        }
        const args = task.input == null ? [] : Array.isArray(task.input) ? task.input : [task.input];
        result = await Context.run(ctx, async () => fn(...args));
        ok = true;
      } catch (e) {
        error = e;
      }
      done = true;
      if (hb.timer) clearTimeout(hb.timer);
      // the workflow task this completion schedules, handed back if a slot is reserved for it
      let reserved = false;
      try {
        let handed: unknown;
        if (ok) {
          const payload = JSON.stringify(result ?? null);
          reserved = this.reserveWorkflowTask(task);
          const rows = this.eager
            ? await this.call(SQL.completeActivity, [token, payload, reserved])
            : await this.call(SQL.completeActivity01, [token, payload]);
          handed = rows[0]?.r?.tasks;
        } else if (cancelKind === 'workflow') {
          await this.call(SQL.activityCanceled, [token, JSON.stringify(hb.latest ?? null)]);
        } else if (cancelKind === 'gone') {
          // nothing to report: the attempt is no longer outstanding
        } else {
          const f = encodeFailure(error);
          delete f.cause;
          const payload = JSON.stringify(f);
          reserved = this.reserveWorkflowTask(task);
          const rows = this.eager
            ? await this.call(SQL.failActivity, [token, payload, reserved])
            : await this.call(SQL.failActivity01, [token, payload]);
          handed = rows[0]?.r?.tasks;
        }
        const wasReserved = reserved;
        reserved = false;
        return this.handedOut(handed, 0, wasReserved);
      } catch (e) {
        if (reserved) this.workflowSlots.release();
        this.log(e instanceof StaleTaskTokenError ? 'debug' : 'warn',
          `reporting activity ${activityType} (${task.workflow_id}/${task.activity_id}): ${(e as Error).message}`);
        return [];
      }
    } finally {
      this.runningActivities.delete(ctx);
    }
  }

  /* ------------------------------------------------------------- replayer */

  /**
   * Replay a saved history (the event array of durable.get_history, a poll,
   * or Client's fetchHistory()) against the current workflow code.  Throws
   * NonDeterminismError if the code no longer produces that history.
   */
  static async runReplayHistory(
    options: { workflows?: Record<string, unknown> | string; workflowsPath?: string; workflowId?: string; runId?: string },
    history: HistoryEvent[] | { events: HistoryEvent[] },
  ): Promise<void> {
    const events = Array.isArray(history) ? history : history.events;
    if (!events.length || events[0].event_type !== 'WorkflowExecutionStarted') {
      throw new TypeError('runReplayHistory: the history must begin with WorkflowExecutionStarted');
    }
    const entries = resolveEntries(options);
    const type = events[0].attributes.workflow_type;
    const runId = options.runId ?? (events[0] as any).run_id ?? events[0].attributes.first_execution_run_id ?? '00000000-0000-0000-0000-000000000000';
    const run = new WorkflowRun({
      workflowId: options.workflowId ?? 'replay', runId, workflowType: type,
      entry: entries instanceof Map ? entries.get(type) : { file: entries.path, exportName: type },
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
    }
  }
}

function resolveEntries(options: { workflows?: Record<string, unknown> | string; workflowsPath?: string }): Map<string, WorkflowEntry> | { path: string } {
  const w = options.workflowsPath ?? options.workflows;
  if (w === undefined) return new Map();
  if (typeof w === 'string') return { path: require.resolve(path.resolve(w)) };
  return locateWorkflows(w);
}

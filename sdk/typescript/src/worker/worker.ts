/**
 * The worker: long-polls durable.poll_task on dedicated connections, runs
 * workflow tasks in sandboxes (with a cache of recent executions so a task
 * usually applies only the new events) and activities, with bounded
 * concurrency, and reports back with the worker API of docs/protocol.md.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { Context, ActivityInfo } from '../activity';
import { ApplicationFailure, CancelledFailure, FailureJSON, NonDeterminismError, encodeFailure } from '../common/failure';
import { Duration, msToNumber } from '../common/duration';
import { StaleTaskTokenError, isConnectionError, mapError, ActivityNotFoundError, WorkflowNotRunningError } from '../errors';
import type { Command } from '../workflow/internals';
import { CacheMismatch, HistoryEvent, WorkflowRun, WorkflowTaskFailure, isCommandEvent } from './replay';
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
}

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
  release(): void {
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
      const r = await w.pool.query("SELECT to_regproc('durable.poll_task') IS NOT NULL AS ok");
      if (!r.rows[0].ok) throw new Error('the database has no durable extension (CREATE EXTENSION durable)');
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
      const slots = new Semaphore(this.options.maxConcurrentWorkflowTasks);
      for (let i = 0; i < Math.min(2, this.options.maxConcurrentWorkflowTasks); i++) this.startPoller(['workflow'], slots);
    }
    if (hasActivities) {
      const slots = new Semaphore(this.options.maxConcurrentActivities);
      for (let i = 0; i < Math.min(2, this.options.maxConcurrentActivities); i++) this.startPoller(['activity'], slots);
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
    const settled = Promise.allSettled([...this.inflight]);
    const timedOut = await Promise.race([settled.then(() => false), delay(grace).then(() => true)]);
    if (timedOut) {
      for (const ctx of this.runningActivities) ctx.cancel(new CancelledFailure('Worker shutdown'));
      await Promise.race([Promise.allSettled([...this.inflight]), delay(5000)]);
    }
    await this.pool.end().catch(() => undefined);
    this.cache.clear();
    this.state = 'STOPPED';
    this.resolveRun?.();
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
        let task: any;
        try {
          p.polling = true;
          const r = await p.client.query(
            `SELECT t.*, extract(epoch FROM t.heartbeat_timeout) * 1000 AS heartbeat_timeout_ms
               FROM durable.poll_task($1, $2, $3::text[], $4::interval) t`,
            [this.options.taskQueue, this.identity, p.kinds, wait]);
          task = r.rows[0];
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
        if (!task) {
          slots.release();
          continue;
        }
        const job = this.dispatch(task).catch((e) => this.log('error', `task failed: ${(e as Error).stack ?? e}`))
          .finally(() => {
            slots.release();
            this.inflight.delete(job);
          });
        this.inflight.add(job);
      }
    } finally {
      await p.client?.end().catch(() => undefined);
      p.client = undefined;
    }
  }

  private dispatch(task: any): Promise<void> {
    switch (task.kind) {
      case 'workflow':
        return this.handleWorkflowTask(task);
      case 'query':
        return this.handleQueryTask(task);
      case 'activity':
        return this.handleActivityTask(task);
      default:
        this.log('warn', `unknown task kind ${task.kind}`);
        return Promise.resolve();
    }
  }

  /** Call the engine, retrying while the server is unreachable (e.g. restarting). */
  private async call<T = any>(sql: string, params: unknown[]): Promise<T[]> {
    let backoff = 100;
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        return (await this.pool.query(sql, params)).rows;
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

  private newRun(task: any): WorkflowRun {
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
  readonly stats = { workflowTasks: 0, fullReplays: 0, cacheHits: 0, activityTasks: 0, queryTasks: 0, failedWorkflowTasks: 0 };

  private async handleWorkflowTask(task: any): Promise<void> {
    this.stats.workflowTasks++;
    const history = task.history as HistoryEvent[];
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
      return;
    }
    let outcome: string;
    try {
      const rows = await this.call('SELECT durable.complete_workflow_task($1, $2::jsonb) AS r', [task.task_token, JSON.stringify(commands ?? [])]);
      outcome = rows[0].r?.outcome;
    } catch (e) {
      if (e instanceof StaleTaskTokenError) {
        this.log('debug', `workflow task of ${task.workflow_id} is stale: ${e.message}`);
        return;
      }
      await this.failWorkflowTask(task, e);
      return;
    }
    if (outcome === 'completed' && !run.closed) this.cachePut(runId, run);
  }

  private async failWorkflowTask(task: any, err: unknown): Promise<void> {
    this.stats.failedWorkflowTasks++;
    const failure: FailureJSON = err instanceof WorkflowTaskFailure ? err.failure : encodeFailure(err);
    if (err instanceof NonDeterminismError) failure.type = 'NonDeterminismError';
    this.log('warn', `workflow task of ${task.workflow_id} (run ${task.run_id}, attempt ${task.attempt}) failed: ${failure.message}`);
    try {
      await this.call('SELECT durable.fail_workflow_task($1, $2::jsonb)', [task.task_token, JSON.stringify(failure)]);
    } catch (e) {
      this.log('debug', `fail_workflow_task: ${(e as Error).message}`);
    }
  }

  private async handleQueryTask(task: any): Promise<void> {
    this.stats.queryTasks++;
    const history = task.history as HistoryEvent[];
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
      answer = run.query(task.query_name, task.input);
    } catch (e) {
      answer = { failure: encodeFailure(e) };
    }
    try {
      await this.call('SELECT durable.answer_query($1, $2::jsonb, $3::jsonb)', [
        task.task_token,
        answer.failure ? null : JSON.stringify(answer.result ?? null),
        answer.failure ? JSON.stringify(answer.failure) : null,
      ]);
    } catch (e) {
      this.log('debug', `answer_query: ${(e as Error).message}`);
    }
  }

  /* ------------------------------------------------------------ activities */

  private async handleActivityTask(task: any): Promise<void> {
    this.stats.activityTasks++;
    const token: string = task.task_token;
    const hbMs = task.heartbeat_timeout_ms == null ? undefined : Number(task.heartbeat_timeout_ms);
    const info: ActivityInfo = {
      taskToken: token,
      activityId: task.activity_id,
      activityType: task.activity_type,
      workflowId: task.workflow_id,
      runId: task.run_id,
      workflowType: task.workflow_type,
      taskQueue: task.task_queue,
      attempt: task.attempt,
      heartbeatDetails: task.heartbeat_details ?? undefined,
      heartbeatTimeoutMs: hbMs,
      scheduledTime: task.scheduled_time,
      startedTime: task.started_time,
      deadline: task.deadline ?? undefined,
    };
    const controller = new AbortController();
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
      this.pool.query('SELECT durable.heartbeat_activity($1, $2::jsonb) AS c', [token, JSON.stringify(hb.latest ?? null)])
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
    const ctx = new Context(info, controller, (details) => {
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
      const fn = this.activities[task.activity_type];
      let result: unknown;
      let error: unknown;
      let ok = false;
      try {
        if (typeof fn !== 'function') {
          throw ApplicationFailure.retryable(`activity "${task.activity_type}" is not registered on worker ${this.identity}`, 'ActivityNotRegistered');
        }
        const args = task.input == null ? [] : Array.isArray(task.input) ? task.input : [task.input];
        result = await Context.run(ctx, async () => fn(...args));
        ok = true;
      } catch (e) {
        error = e;
      }
      done = true;
      if (hb.timer) clearTimeout(hb.timer);
      try {
        if (ok) {
          await this.call('SELECT durable.complete_activity($1, $2::jsonb)', [token, JSON.stringify(result ?? null)]);
        } else if (cancelKind === 'workflow') {
          await this.call('SELECT durable.report_activity_canceled($1, $2::jsonb)', [token, JSON.stringify(hb.latest ?? null)]);
        } else if (cancelKind === 'gone') {
          // nothing to report: the attempt is no longer outstanding
        } else {
          const f = encodeFailure(error);
          delete f.cause;
          await this.call('SELECT durable.fail_activity($1, $2::jsonb)', [token, JSON.stringify(f)]);
        }
      } catch (e) {
        this.log(e instanceof StaleTaskTokenError ? 'debug' : 'warn',
          `reporting activity ${task.activity_type} (${task.workflow_id}/${task.activity_id}): ${(e as Error).message}`);
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

/**
 * Local activities, the worker side: run the local activities a workflow
 * task's activations ask for, in this process, while holding the task, and
 * feed each outcome back to the run (WorkflowRun.resolveLocal: an activation
 * whose first command is the outcome's marker) until none is outstanding;
 * then the task completes with every marker in one completion.
 *
 * As Temporal's core SDK (temporalio/sdk-core, core/src/worker/activities/
 * local_activities.rs, and the workflow task "heartbeat" at
 * WFT_HEARTBEAT_TIMEOUT_FRACTION of core/src/worker/workflow/mod.rs):
 *   - an attempt that fails is retried here while the backoff is at most the
 *     local retry threshold; a longer backoff is recorded on the marker and
 *     the workflow waits on a durable timer, then schedules the next attempt;
 *   - start-to-close bounds an attempt, schedule-to-close all of them;
 *   - when local activities are still running at 80 % of the workflow task
 *     timeout, the task is completed with the markers so far and
 *     force_new_task (Temporal's force_create_new_workflow_task) and
 *     return_workflow_task: the engine hands the next task back in the same
 *     call and the local activities go on under it.
 * Heartbeats of local activities are ignored, as in Temporal.  Local
 * activities take no activity slot: they run in their workflow task's.
 */
import { ActivityInfo, Context } from '../activity';
import { CancelledFailure, FailureJSON, encodeFailure } from '../common/failure';
import { composeInterceptors } from '../common/interceptors';
import { msToNumber } from '../common/duration';
import { headersFromJSON, isPayloadJSON, mapFailureDetails, payloadFromJSON, payloadToJSON, unwrapInput } from '../common/payload';
import type { Command, Job } from '../workflow/internals';
import {
  LOCAL_ACTIVITY_MARKER, LocalActivityCancel, LocalActivityMarker, LocalActivityRequest,
} from '../workflow/local-activities';
import type { ActivityFunction } from './activity-tasks';
import type { Statement } from './engine';
import type { TaskHost } from './host';
import type { ActivityInboundCallsInterceptor, WorkerInterceptors } from './interceptors';
import type { HistoryEvent, WorkflowRun } from './replay';
import { withMetadata } from './runtime';
import { Task, toTask } from './task';

/** What an activation reports about local activities (the runtime's collect()). */
export interface LocalActivityOutput {
  localActivities?: LocalActivityRequest[];
  localCancels?: LocalActivityCancel[];
  nonDeterminism?: string;
}

/** Share of the workflow task timeout after which the task is completed to keep it alive (sdk-core: 80 %). */
export const WFT_HEARTBEAT_SHARE = 0.8;

const SQL_COMPLETE_FORCED: Statement = {
  name: 'durable_complete_wft_forced',
  text: 'SELECT durable.complete_workflow_task($1, $2::jsonb, true, true)',
  result: 'json',
};
const SQL_COMPLETE_FORCED_VERSIONED: Statement = {
  name: 'durable_complete_wft_forced_versioned',
  text: 'SELECT durable.complete_workflow_task($1, $2::jsonb, true, true, versioning_behavior => $3)',
  result: 'json',
};
const SQL_HAS_FORCE: Statement = {
  name: 'durable_has_force_new_task',
  // with force_new_task last, or (task routing) versioning_behavior after it
  text: "SELECT to_regprocedure('durable.complete_workflow_task(text,jsonb,boolean,boolean)') IS NOT NULL " +
    "OR to_regprocedure('durable.complete_workflow_task(text,jsonb,boolean,boolean,text)') IS NOT NULL",
  result: 'bool',
};

export function isLocalMarkerCommand(c: Command | undefined): boolean {
  return !!c && c.type === 'record_marker' && c.marker_name === LOCAL_ACTIVITY_MARKER;
}

export function isLocalMarkerEvent(e: HistoryEvent | undefined): boolean {
  return !!e && e.event_type === 'MarkerRecorded' && e.attributes?.marker_name === LOCAL_ACTIVITY_MARKER;
}

/** The local activity markers among the command events of the workflow task completed after events[from - 1]. */
export function localMarkersOf(events: HistoryEvent[], from: number): LocalActivityMarker[] | undefined {
  let out: LocalActivityMarker[] | undefined;
  for (let k = from; k < events.length && events[k].event_type !== 'WorkflowTaskStarted'; k++) {
    if (isLocalMarkerEvent(events[k])) (out ??= []).push(events[k].attributes.details as LocalActivityMarker);
  }
  return out;
}

/** The local activities a run's activations asked for (and cancelled) that the worker has not taken yet. */
export class LocalActivityRun {
  private requests: LocalActivityRequest[] = [];
  private cancels: LocalActivityCancel[] = [];

  add(requests: LocalActivityRequest[] | undefined, cancels: LocalActivityCancel[] | undefined): void {
    if (requests) this.requests.push(...requests);
    if (cancels) this.cancels.push(...cancels);
  }

  get waiting(): boolean {
    return this.requests.length > 0;
  }

  take(): { requests: LocalActivityRequest[]; cancels: LocalActivityCancel[] } {
    const out = { requests: this.requests, cancels: this.cancels };
    this.requests = [];
    this.cancels = [];
    return out;
  }
}

/** The task a workflow task handler works on and the commands it will complete it with (drive() may change both). */
export interface WorkflowTaskState {
  task: Task;
  commands: Command[];
  /** When the worker got the task (the heartbeat deadline counts from here). */
  receivedAt: number;
}

/** The handed-back task could not continue the run: handle it from scratch. */
export class RestartWorkflowTask extends Error {
  constructor(readonly task: Task) {
    super('the workflow task handed back after a heartbeat does not continue the cached run');
  }
}

/**
 * A heartbeat completion did not hand the next task back (the engine queues
 * it while an ordinary activity of the run is outstanding): the local
 * activities keep running, parked, and the run goes back to the cache; the
 * task that continues it on this worker takes them up again.
 */
export class LocalActivitiesParked extends Error {}

interface Execution {
  seq: number;
  cancelled: boolean;
  cancel(): void;
  done: Promise<{ x: Execution; job: Job }>;
}

const TIMEOUT = Symbol('timeout');
/** setTimeout's largest delay (a larger one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class LocalActivities {
  private hasForce?: boolean;
  /** Local activities of runs whose next task was queued, not handed back (see LocalActivitiesParked). */
  private readonly parked = new Map<string, { execs: Map<number, Execution>; timer: NodeJS.Timeout }>();
  /** Workflow task heartbeats made (completions with force_new_task). */
  heartbeats = 0;

  constructor(private readonly host: TaskHost, private readonly activities: Record<string, ActivityFunction>,
    private readonly interceptors: WorkerInterceptors = {}) {}

  /**
   * Run the run's local activities until none is outstanding or the
   * workflow closed; `state` ends with the task to complete and all its
   * commands.  Throws RestartWorkflowTask or LocalActivitiesLost after a
   * heartbeat that cannot go on, and what WorkflowRun throws.
   */
  async drive(state: WorkflowTaskState, run: WorkflowRun): Promise<void> {
    const held = this.parked.get(run.runId);
    if (held) {
      this.parked.delete(run.runId);
      clearTimeout(held.timer);
    }
    const execs = held?.execs ?? new Map<number, Execution>();
    let parking = false;
    const takeNew = (): void => {
      const { requests, cancels } = run.local.take();
      for (const r of requests) execs.set(r.seq, this.start(r, state.task));
      for (const c of cancels) {
        const x = execs.get(c.seq);
        if (!x) continue;
        if (c.cancel) x.cancel();
        if (c.drop) execs.delete(c.seq);
      }
    };
    takeNew();
    let deadline = this.heartbeatAt(state);
    try {
      while (execs.size > 0 && !run.closed) {
        let timer: NodeJS.Timeout | undefined;
        const wake = new Promise<typeof TIMEOUT>((r) => (timer = setTimeout(() => r(TIMEOUT), Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now())))));
        const first = await Promise.race([wake, ...[...execs.values()].map((x) => x.done)]);
        clearTimeout(timer);
        if (first === TIMEOUT) {
          if (!(await this.heartbeat(state, run))) {
            parking = true;
            this.park(run.runId, execs, state);
            throw new LocalActivitiesParked(`the heartbeat of ${state.task.workflow_id}'s workflow task handed no task back: ` +
              'its local activities wait for the task that continues the run');
          }
          takeNew();
          deadline = this.heartbeatAt(state);
          continue;
        }
        if (execs.get(first.x.seq) !== first.x) continue; // dropped (cancelled without waiting)
        execs.delete(first.x.seq);
        state.commands.push(...run.resolveLocal(first.job));
        takeNew();
      }
    } finally {
      // the workflow closed, or the task is given up: nothing waits for them any more
      if (!parking) for (const x of execs.values()) x.cancel();
    }
  }

  /** Whether a run has parked local activities (its next task must go through drive()). */
  hasParked(runId: string): boolean {
    return this.parked.has(runId);
  }

  /** Cancel a run's parked local activities (the run is replayed from scratch, or nobody took them up in time). */
  dropParked(runId: string): void {
    const p = this.parked.get(runId);
    if (!p) return;
    this.parked.delete(runId);
    clearTimeout(p.timer);
    for (const x of p.execs.values()) x.cancel();
  }

  /** Keep the executions for the run's next task on this worker, for at most twice the workflow task timeout (10 s or more). */
  private park(runId: string, execs: Map<number, Execution>, state: WorkflowTaskState): void {
    const t = state.task;
    const timeout = t.deadline && t.started_time ? t.deadline.getTime() - t.started_time.getTime() : 10_000;
    const timer = setTimeout(() => this.dropParked(runId), Math.max(10_000, 2 * timeout));
    timer.unref();
    this.parked.set(runId, { execs, timer });
  }

  /** When to complete the task to keep it alive: 80 % of its timeout after it was received. */
  private heartbeatAt(state: WorkflowTaskState): number {
    const t = state.task;
    const started = t.started_time?.getTime();
    const end = t.deadline?.getTime();
    const timeout = started !== undefined && end !== undefined && end > started ? end - started : 10_000;
    return state.receivedAt + WFT_HEARTBEAT_SHARE * timeout;
  }

  /**
   * Complete the task with the commands so far and force_new_task, and go
   * on with the task the completion hands back (the run advanced to it);
   * false when none was handed back.
   */
  private async heartbeat(state: WorkflowTaskState, run: WorkflowRun): Promise<boolean> {
    const host = this.host;
    this.hasForce ??= !!(await host.engine.call(SQL_HAS_FORCE, []));
    if (!this.hasForce || !host.engine.eager) {
      // an engine without force_new_task: the task times out if the local activities outlive it
      state.receivedAt = Number.POSITIVE_INFINITY;
      host.log('warn', `local activities of ${state.task.workflow_id} outlive 80 % of the workflow task timeout, ` +
        'and this engine has no force_new_task (durable < 0.4): the workflow task may time out');
      return true;
    }
    const dc = host.dataConverter;
    const send = dc.codecs.length ? await dc.encodeCommands(state.commands) : state.commands;
    const behavior = host.versioningBehaviorOf(run);
    const r = behavior !== undefined
      ? await host.engine.call(SQL_COMPLETE_FORCED_VERSIONED, [state.task.task_token, JSON.stringify(send), behavior])
      : await host.engine.call(SQL_COMPLETE_FORCED, [state.task.task_token, JSON.stringify(send)]);
    this.heartbeats++;
    const raw = (r?.tasks ?? []) as any[];
    const mine = raw.find((t) => t.kind === 'workflow' && t.run_id === run.runId);
    const others = raw.filter((t) => t !== mine);
    if (others.length) host.handedOut(others, 0, false);
    if (!mine) return false;
    const next = toTask(mine);
    host.stats.workflowTasks++;
    host.stats.eagerWorkflowTasks++;
    state.task = next;
    state.receivedAt = Date.now();
    let history = next.history ?? [];
    if (dc.codecs.length) history = await dc.decodeHistory(history);
    let commands: Command[] | null;
    try {
      commands = run.advance(history);
    } catch (e) {
      if ((e as Error)?.name === 'NonDeterminismError') throw e;
      throw new RestartWorkflowTask(next);
    }
    state.commands = commands ?? [];
    return true;
  }

  /** Start running a local activity (from its request's attempt on). */
  private start(req: LocalActivityRequest, task: Task): Execution {
    let ctx: Context | undefined;
    let wakeBackoff: (() => void) | undefined;
    const x: Execution = {
      seq: req.seq,
      cancelled: false,
      cancel: () => {
        if (x.cancelled) return;
        x.cancelled = true;
        ctx?.cancel(new CancelledFailure('Local activity cancelled'));
        wakeBackoff?.();
      },
      done: undefined as any,
    };
    const hooks = {
      setContext: (c: Context | undefined) => (ctx = c),
      sleep: (ms: number) => new Promise<void>((r) => {
        const t = setTimeout(r, ms);
        wakeBackoff = () => {
          clearTimeout(t);
          r();
        };
      }),
    };
    x.done = this.execute(req, task, x, hooks).then((job) => ({ x, job }));
    return x;
  }

  /** The attempts of one local activity, retried here while the backoff is below the threshold: its outcome as a job. */
  private async execute(req: LocalActivityRequest, task: Task, x: Execution,
    hooks: { setContext(c: Context | undefined): void; sleep(ms: number): Promise<void> }): Promise<Job> {
    const began = Date.now();
    const out = (attempt: number, more: Record<string, unknown>): Job =>
      ({ type: 'localActivityResolved', seq: req.seq, attempt, runtimeMs: Date.now() - began, ...more });
    const cancelled = (attempt: number): Job => out(attempt, {
      failure: { message: 'Local activity cancelled', type: 'CancelledFailure', non_retryable: true }, retryState: 'CANCEL_REQUESTED',
    });
    let args: unknown[];
    let headers: Record<string, any>;
    try {
      ({ args, headers } = this.decodeInput(req.input));
    } catch (e) {
      return out(req.attempt, { failure: this.failureOf(e), retryState: 'NON_RETRYABLE_FAILURE' });
    }
    const p = req.retry;
    for (let attempt = req.attempt; ; attempt++) {
      if (x.cancelled) return cancelled(attempt);
      const r = await this.attempt(req, task, attempt, args, headers, hooks);
      if (r.ok) return out(attempt, { result: this.encodeResult(r.result) });
      if (x.cancelled) return cancelled(attempt);
      const f = r.failure;
      if (r.final) return out(attempt, { failure: f, retryState: 'TIMEOUT' });
      if (f.non_retryable || p.nonRetryableErrorTypes.includes(f.type ?? '')) return out(attempt, { failure: f, retryState: 'NON_RETRYABLE_FAILURE' });
      if (p.maximumAttempts > 0 && attempt >= p.maximumAttempts) return out(attempt, { failure: f, retryState: 'MAXIMUM_ATTEMPTS_REACHED' });
      const backoff = f.next_retry_delay !== undefined
        ? msToNumber(f.next_retry_delay)
        : Math.min(p.initialIntervalMs * p.backoffCoefficient ** (attempt - 1), p.maximumIntervalMs);
      if (req.scheduleToCloseMs !== undefined && Date.now() + backoff >= req.originalScheduleTime + req.scheduleToCloseMs) {
        return out(attempt, { failure: f, retryState: 'TIMEOUT' });
      }
      if (backoff > req.localRetryThresholdMs) return out(attempt, { failure: f, retryState: 'IN_PROGRESS', backoffMs: Math.round(backoff) });
      await hooks.sleep(backoff);
    }
  }

  /** One attempt, bounded by start-to-close and what is left of schedule-to-close. */
  private async attempt(req: LocalActivityRequest, task: Task, attempt: number, args: unknown[], headers: Record<string, any>,
    hooks: { setContext(c: Context | undefined): void }): Promise<{ ok: true; result: unknown } | { ok: false; failure: FailureJSON; final: boolean }> {
    const host = this.host;
    const now = Date.now();
    const toClose = req.scheduleToCloseMs !== undefined ? req.originalScheduleTime + req.scheduleToCloseMs - now : Infinity;
    const limit = Math.min(req.startToCloseMs ?? Infinity, toClose);
    const kind = (req.startToCloseMs ?? Infinity) <= toClose ? 'START_TO_CLOSE' : 'SCHEDULE_TO_CLOSE';
    const timeoutFailure = (): FailureJSON => ({
      message: `local activity ${kind === 'START_TO_CLOSE' ? 'start-to-close' : 'schedule-to-close'} timeout`,
      type: 'TimeoutFailure', non_retryable: false, timeout_type: kind,
    } as FailureJSON);
    if (limit <= 0) return { ok: false, failure: timeoutFailure(), final: true };
    const info: ActivityInfo = {
      taskToken: '',
      base64TaskToken: '',
      activityId: req.activityId,
      activityType: req.activityType,
      workflowId: task.workflow_id,
      runId: task.run_id,
      workflowExecution: { workflowId: task.workflow_id, runId: task.run_id },
      workflowType: task.workflow_type,
      taskQueue: task.task_queue,
      namespace: host.namespace,
      activityNamespace: host.namespace,
      workflowNamespace: host.namespace,
      isLocal: true,
      attempt,
      heartbeatDetails: undefined,
      scheduledTime: new Date(req.originalScheduleTime),
      startedTime: new Date(now),
      scheduledTimestampMs: req.originalScheduleTime,
      currentAttemptScheduledTimestampMs: now,
      deadline: Number.isFinite(limit) ? new Date(now + limit) : undefined,
    };
    const ctx = new Context(info, () => undefined, withMetadata(host.logger, {
      isLocal: true, attempt, namespace: info.namespace, workflowId: info.workflowId, workflowRunId: info.runId,
      workflowType: info.workflowType, activityId: info.activityId, activityType: info.activityType, taskQueue: info.taskQueue,
      sdkComponent: 'activity',
    }));
    hooks.setContext(ctx);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      const fn = this.activities[req.activityType];
      if (typeof fn !== 'function') {
        return {
          ok: false, final: false,
          failure: { message: `local activity "${req.activityType}" is not registered on worker ${host.identity}`, type: 'NotFoundError', non_retryable: false },
        };
      }
      const execute = composeInterceptors(this.inboundInterceptors(ctx), 'execute', async (i) => fn(...i.args));
      const run = Context.run(ctx, async () => execute({ args, headers: headersFromJSON(headers) }));
      const bounded = Number.isFinite(limit)
        ? new Promise<never>((_, reject) => (timer = setTimeout(() => {
          timedOut = true;
          ctx.cancel(new CancelledFailure('Local activity timed out'));
          reject(new Error('timeout'));
        }, limit)))
        : new Promise<never>(() => undefined);
      run.catch(() => undefined);
      const result = await Promise.race([run, bounded]);
      return { ok: true, result };
    } catch (e) {
      if (timedOut) return { ok: false, failure: timeoutFailure(), final: kind === 'SCHEDULE_TO_CLOSE' };
      return { ok: false, failure: this.failureOf(e), final: false };
    } finally {
      clearTimeout(timer);
      hooks.setContext(undefined);
    }
  }

  private inboundInterceptors(ctx: Context): ActivityInboundCallsInterceptor[] {
    const out: ActivityInboundCallsInterceptor[] = [];
    for (const f of this.interceptors.activityInbound ?? []) out.push(f(ctx));
    for (const f of this.interceptors.activity ?? []) {
      const i = f(ctx).inbound;
      if (i) out.push(i);
    }
    return out;
  }

  /** The input the sandbox stored (converted there, never through the codecs) as arguments. */
  private decodeInput(input: unknown): { args: unknown[]; headers: Record<string, any> } {
    const dc = this.host.dataConverter;
    const { args, headers } = unwrapInput(input);
    if (!dc.payloadMode) return { args, headers };
    return { args: args.map((v) => (isPayloadJSON(v) ? dc.payloadConverter.fromPayload(payloadFromJSON(v)) : v)), headers };
  }

  /** A result as the sandbox takes it (the codecs run on the marker when the task completes). */
  private encodeResult(v: unknown): unknown {
    const dc = this.host.dataConverter;
    if (!dc.payloadMode) return v === undefined ? null : v;
    return payloadToJSON(dc.payloadConverter.toPayload(v));
  }

  private failureOf(e: unknown): FailureJSON {
    const dc = this.host.dataConverter;
    const f = encodeFailure(e);
    if (!dc.payloadMode) return f;
    return mapFailureDetails(f, (v) => payloadToJSON(dc.payloadConverter.toPayload(v)));
  }
}

export type { LocalActivityMarker };

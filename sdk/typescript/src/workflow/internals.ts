/**
 * The workflow runtime.  This module runs INSIDE the workflow sandbox (the
 * node:vm context every run of the worker process shares, see
 * src/worker/sandbox.ts): it keeps each run's state in an Activator (pending
 * activities, timers, conditions, handlers), turns workflow API calls into
 * commands and applies the jobs the worker derives from history.  The
 * worker talks to it through `globalThis.__durable`, naming the run of each
 * call (an Activator it holds as an opaque handle) and passing data as JSON
 * strings only, so no data object crosses between realms.
 *
 * No Node API may be used here.
 */
import {
  ActivityFailure, ApplicationFailure, CancelledFailure, DurableFailure, FailureJSON, IllegalStateError,
  TimeoutFailure, decodeFailure, encodeFailure,
} from '../common/failure';
import { RetryState, decodeRetryState } from '../common/enums';
import { composeInterceptors } from '../common/interceptors';
import { PayloadConverter, mapFailureDetails, valueFromStored, valueToStored } from '../common/payload';
import { TypedSearchAttributes } from '../common/search-attributes';
import { Priority, VersioningBehavior, WorkflowDefinitionOptions, checkCapabilities, encodeVersioningBehavior, priorityFields } from '../common/routing';
import { argsFromStored, argsToStored, headersOf, valueFromStoredW, valueToStoredW } from './conversion';
import { ExternalCancel, ExternalSignal, PendingChild, applyChildJob, convertChildJob } from './children';
import { HandlerUnfinishedPolicy, UpdateInfo, UpdateJob, UpdateState, currentUpdateInfoOf, doUpdate, rejectBufferedUpdates, unfinishedHandlersWarning } from './updates';
import { log } from './logs';
import type { WorkflowInboundCallsInterceptor, WorkflowInterceptors, WorkflowOutboundCallsInterceptor } from './interceptors';
import type { SinkCall } from './sinks';
import { LocalActivityMarker, applyLocalJob, beginLocalActivation, collectLocal, resolveNextFromMarker } from './local-activities';

export type Command = { type: string; [k: string]: unknown };

export interface WorkflowInfo {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  attempt: number;
  firstExecutionRunId: string;
  continuedFromExecutionRunId?: string;
  searchAttributes: Record<string, unknown>;
  /** The search attributes, typed (Temporal's typedSearchAttributes). */
  readonly typedSearchAttributes: TypedSearchAttributes;
  memo?: Record<string, unknown>;
  startTime: Date;
  runStartTime: Date;
  executionTimeoutMs?: number;
  runTimeoutMs?: number;
  taskTimeoutMs?: number;
  historyLength: number;
  /**
   * Bytes of history up to the current workflow task, when the engine says
   * (a `history_size_bytes` attribute of WorkflowTaskStarted); 0 otherwise,
   * as Temporal reports on servers that do not track it.
   */
  historySize: number;
  /**
   * True once the history is long enough that the workflow should continue
   * as new: from CONTINUE_AS_NEW_SUGGESTED_EVENTS events (Temporal server's
   * default limit.historyCount.suggestContinueAsNew), or when the engine says
   * so (a `suggest_continue_as_new` attribute of WorkflowTaskStarted).
   */
  continueAsNewSuggested: boolean;
  /** The namespace of the run (the worker's, WorkerOptions.namespace). */
  namespace: string;
  /**
   * The parent of a child workflow (from its WorkflowExecutionStarted:
   * parent_workflow_execution, parent_workflow_namespace); undefined for a
   * workflow started by a client.
   */
  parent?: ParentWorkflowInfo;
  /**
   * The update whose handler the calling code runs for (Temporal's
   * WorkflowInfo.currentUpdateInfo), else undefined; the same as
   * currentUpdateInfo().
   */
  readonly currentUpdateInfo?: UpdateInfo;
  /** `now()` is the real clock (not the workflow task's time, which Date.now() gives). */
  unsafe: { isReplaying: boolean; now(): number };
  /**
   * The build id of the worker running the current workflow task (Temporal's
   * currentBuildId): WorkerOptions.buildId (or workerDeploymentOptions'),
   * undefined for an unversioned worker.  On replay, the build that
   * completed the task replayed, when the engine recorded it (a `build_id`
   * attribute of WorkflowTaskCompleted), so branching on it is deterministic.
   */
  currentBuildId?: string;
  /**
   * The run's priority (Temporal's WorkflowInfo.priority), from its
   * WorkflowExecutionStarted: priorityKey 1..5 (3 when the start set none),
   * fairnessKey and fairnessWeight when set.
   */
  priority?: Priority;
}

/**
 * The history length from which workflowInfo().continueAsNewSuggested is
 * true: 4,096 events, the default of Temporal server's
 * limit.historyCount.suggestContinueAsNew (temporalio/temporal,
 * common/dynamicconfig/constants.go).  Temporal also suggests it from 4 MB
 * of history; durable's engine does not report history bytes to workers
 * yet, so only the event count applies unless WorkflowTaskStarted carries
 * suggest_continue_as_new.
 */
export const CONTINUE_AS_NEW_SUGGESTED_EVENTS = 4096;

/** Temporal's ParentWorkflowInfo: the run that started this child workflow. */
export interface ParentWorkflowInfo {
  workflowId: string;
  runId: string;
  namespace: string;
}

/**
 * What the worker derived from one history event (replay.ts jobs()).  Child
 * workflow and external workflow jobs (children.ts) name their command by
 * `index`: the n-th start_child_workflow (signal_external_workflow,
 * request_cancel_external_workflow) command the run sent.
 */
export interface Job {
  type: 'start' | 'activityCompleted' | 'activityFailed' | 'activityCancelled' | 'timerFired' | 'signal' | 'cancel' |
    'childStarted' | 'childStartFailed' | 'childCompleted' | 'childFailed' | 'childCancelled' | 'childTimedOut' |
    'childTerminated' | 'externalSignaled' | 'externalSignalFailed' | 'externalCancelRequested' | 'externalCancelFailed' |
    'update' | 'localActivityResolved';
  [k: string]: any;
}

/** Commands whose events the history refers back to by their initiated event (counted per type in sending order). */
export type IndexedCommandType = 'start_child_workflow' | 'signal_external_workflow' | 'request_cancel_external_workflow';

interface PendingActivity {
  activityType: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  cancellationType: string;
  cancelRequested: boolean;
}

/** Thrown by continueAsNew(); the runtime turns it into a continue_as_new command. */
export class ContinueAsNew extends Error {
  constructor(public readonly command: Command) {
    super('Workflow continued as new');
  }
  override get name(): string {
    return 'ContinueAsNew';
  }
}

declare const AsyncLocalStorage: any;

/* ------------------------------------------------------------------ PRNG */

function hashSeed(str: string): number[] {
  // cyrb128
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0, k; i < str.length; i++) {
    k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

function sfc32(seed: number[]): () => number {
  let [a, b, c, d] = seed;
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** A random (deterministic on replay) RFC 4122 version 4 UUID from the run's generator (uuid4()). */
export function uuid4Of(a: Activator): string {
  const h = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) s += '-';
    else if (i === 14) s += '4';
    else if (i === 19) s += h[(Math.floor(a.random() * 16) & 0x3) | 0x8];
    else s += h[Math.floor(a.random() * 16)];
  }
  return s;
}

/* ------------------------------------------------------------ the state */

export class Activator {
  info!: WorkflowInfo;
  now = 0;
  isReplaying = false;
  random: () => number = Math.random;
  commands: Command[] = [];
  completed = false;
  cancelRequested = false;
  inQuery = false;
  taskFailure: unknown = undefined;
  seq = { activity: 0, timer: 0, condition: 0, child: 0, signal: 0 };
  /** Child workflows, external signals and cancels by index (see Job), until they settle. */
  children = new Map<number, PendingChild>();
  externalSignals = new Map<number, ExternalSignal>();
  externalCancels = new Map<number, ExternalCancel>();
  /** Commands of this activation that get an index when sent (collect()), with what to do with it. */
  onSent = new Map<Command, (index: number) => void>();
  /** How many commands of each indexed type were sent so far. */
  sent: Record<IndexedCommandType, number> = { start_child_workflow: 0, signal_external_workflow: 0, request_cancel_external_workflow: 0 };
  activities = new Map<string, PendingActivity>();
  timers = new Map<string, { resolve(): void; reject(e: unknown): void }>();
  conditions = new Map<number, { fn: () => boolean; resolve(): void }>();
  signalHandlers = new Map<string, (...args: any[]) => unknown>();
  /** setDefaultSignalHandler: receives (name, ...args) of signals with no handler of their own. */
  defaultSignalHandler?: (signalName: string, ...args: any[]) => unknown;
  queryHandlers = new Map<string, (...args: any[]) => unknown>();
  /** Update handlers, buffered updates, and the update and signal handlers running (updates.ts). */
  updates = new UpdateState();
  /** Signals that arrived while no handler took them, in arrival order. */
  bufferedSignals: { name: string; args: unknown[]; headers?: Record<string, any> }[] = [];
  /** The workflow function has been called (patched() is refused before). */
  started = false;
  knownPatches = new Set<string>();
  sentPatches = new Set<string>();
  workflowFn?: (...args: any[]) => Promise<unknown>;
  rootScope!: CancellationScope;
  /** Interceptors from the worker's interceptors.workflowModules. */
  inbound: WorkflowInboundCallsInterceptor[] = [];
  outbound: WorkflowOutboundCallsInterceptor[] = [];
  /** Sink calls not yet handed to the worker (sinks.ts). */
  sinkCalls: SinkCall[] = [];
  /** The answer of a query whose interceptors are async (bridge.query, bridge.queryResult). */
  queryAnswer?: string;
  /** The worker's payload converter when it has a data converter, else values are stored as plain JSON. */
  payloadConverter?: PayloadConverter;
  // the worker's sandbox provides one AsyncLocalStorage shared by all sandboxes (see sandbox.ts)
  storage: any = (globalThis as any).__durable_storage ?? new AsyncLocalStorage();
  /**
   * The identity of the worker of the latest ActivityTaskStarted in the
   * history up to this activation (pinToPreviousWorker), undefined before
   * any activity ran.
   */
  lastActivityWorker?: string;
  /** The workflow definition's versioning behaviour (setWorkflowOptions), once the workflow function started. */
  versioningBehavior?: VersioningBehavior;

  pushCommand(cmd: Command): void {
    if (this.inQuery) throw new IllegalStateError('query handlers must not change workflow state');
    if (this.completed) return;
    this.commands.push(cmd);
  }

  /** Drop a command not yet sent (scheduled and cancelled in one activation). */
  removeCommand(pred: (c: Command) => boolean): boolean {
    const i = this.commands.findIndex(pred);
    if (i < 0) return false;
    this.onSent.delete(this.commands[i]);
    this.commands.splice(i, 1);
    return true;
  }

  /**
   * Push a command the history will refer back to (a child start, an
   * external signal or cancel); `sent` gets its index (its place among the
   * commands of its type this run sent) when the activation's commands are
   * collected, if it is still among them.
   */
  pushIndexedCommand(cmd: Command & { type: IndexedCommandType }, sent: (index: number) => void): void {
    const before = this.commands.length;
    this.pushCommand(cmd);
    if (this.commands.length > before) this.onSent.set(cmd, sent);
  }

  /** Give the indexed commands being sent their index (in sending order, as replay.ts counts their events). */
  assignIndexes(): void {
    if (this.onSent.size === 0) return;
    for (const cmd of this.commands) {
      const sent = this.onSent.get(cmd);
      if (sent) sent(++this.sent[cmd.type as IndexedCommandType]);
    }
    this.onSent.clear();
  }

  completeWorkflow(result: unknown): void {
    if (this.completed) return;
    // without a data converter, no result at all (rather than null) for undefined: the client's
    // result() gives undefined then; with one, undefined is a payload of its own (binary/null)
    this.pushCommand(result === undefined && !this.payloadConverter
      ? { type: 'complete_workflow' }
      : { type: 'complete_workflow', result: valueToStoredW(this.payloadConverter, result) });
    this.completed = true;
  }

  /**
   * Deliver a signal to its handler, else to the default handler, else
   * keep it buffered.  The handler runs synchronously up to its first
   * await (as Temporal's does), so state it sets is visible at once.  The
   * inbound interceptors' handleSignal sees the signal's own name and
   * arguments either way (as in Temporal, the default handler's extra
   * first argument is added after them).
   */
  deliverSignal(name: string, args: unknown[], headers?: Record<string, any>): void {
    const h = this.signalHandlers.get(name);
    const d = this.defaultSignalHandler;
    if (h) callSignal(this, h, args, name, headers);
    else if (d) callSignal(this, (...a: unknown[]) => d(name, ...a), args, name, headers);
    else this.bufferedSignals.push({ name, args, headers });
  }

  /**
   * Deliver buffered signals that now have a handler, one at a time in
   * arrival order, looking again after each: a handler that unregisters
   * itself (or another) leaves the rest buffered.
   */
  dispatchBufferedSignals(): void {
    const buffered = this.bufferedSignals;
    while (buffered.length) {
      const i = this.defaultSignalHandler ? 0 : buffered.findIndex((b) => this.signalHandlers.has(b.name));
      if (i < 0) return;
      const [sig] = buffered.splice(i, 1);
      this.deliverSignal(sig.name, sig.args, sig.headers);
    }
  }

  failWorkflow(err: unknown): void {
    if (this.completed) return;
    if (err instanceof ContinueAsNew || (err as any)?.name === 'ContinueAsNew') {
      this.pushCommand((err as ContinueAsNew).command);
      this.completed = true;
      return;
    }
    if (this.cancelRequested && isCancellationLike(err)) {
      this.pushCommand({ type: 'cancel_workflow', details: null });
      this.completed = true;
      return;
    }
    // a failure, or a child's start that failed (Temporal's WorkflowExecutionAlreadyStartedError is a failure)
    if (err instanceof DurableFailure || (err as any)?.name === 'WorkflowExecutionAlreadyStartedError') {
      this.pushCommand({ type: 'fail_workflow', failure: encodeFailure(err) });
      this.completed = true;
      return;
    }
    // any other error fails the workflow task: fix the code and it continues
    if (this.taskFailure === undefined) this.taskFailure = err;
  }
}

function isCancellationLike(err: unknown): boolean {
  const e = err as any;
  if (!e) return false;
  if (e.name === 'CancelledFailure') return true;
  if (e.name === 'ActivityFailure' || e.name === 'ChildWorkflowFailure') return isCancellationLike(e.cause);
  return false;
}

/**
 * The activator of the run the current call into the context is for (set
 * by bridge.use; one instance of this module serves every run of the
 * worker process).  globalThis.__durableActivator serves another copy of
 * the SDK that workflow code may load.
 */
let currentActivator: Activator | undefined;

export function getActivator(): Activator {
  return assertInWorkflowContext('workflow APIs can only be used in workflow code run by a durable worker');
}

/** The current run's activator; `message` (an IllegalStateError) outside a workflow run. */
export function assertInWorkflowContext(message: string): Activator {
  const a = currentActivator ?? ((globalThis as any).__durableActivator as Activator | undefined);
  if (!a) throw new IllegalStateError(message);
  return a;
}

/* -------------------------------------------------- cancellation scopes */

export interface CancellationScopeOptions {
  cancellable?: boolean;
  parent?: CancellationScope | null;
  timeout?: number;
}

/**
 * Temporal's CancellationScope: cancelling a scope cancels the timers,
 * activities and conditions started in it and in its cancellable children.
 * The workflow's root scope is cancelled when the workflow's cancellation is
 * requested.
 */
export class CancellationScope {
  readonly cancellable: boolean;
  readonly parent?: CancellationScope;
  readonly cancelRequested: Promise<never>;
  readonly timeout?: number;
  /** The run the scope belongs to (the context's AsyncLocalStorage is shared by every run). */
  readonly #owner: Activator | undefined = currentActivator;
  #requested = false;
  #reject!: (e: unknown) => void;

  constructor(options?: CancellationScopeOptions) {
    this.cancellable = options?.cancellable ?? true;
    this.timeout = options?.timeout;
    this.cancelRequested = new Promise<never>((_, reject) => {
      this.#reject = (e) => {
        this.#requested = true;
        reject(e);
      };
    });
    this.cancelRequested.catch(() => undefined);
    this.parent = options?.parent === null ? undefined : options?.parent ?? CancellationScope.current();
    // a non-cancellable parent shields its children: its cancellation (by its
    // own cancel(), or none from above) never propagates (Temporal's
    // NonCancellableScopesAreShieldedFromPropagation)
    if (this.parent && this.parent.cancellable) {
      if (this.parent.#requested) this.#requested = true;
      this.parent.cancelRequested.catch((e) => this.#reject(e));
    }
  }

  /**
   * True when this scope was cancelled and is cancellable.  A
   * non-cancellable scope may be asked (cancelRequested rejects) but is
   * never considered cancelled: the timers, activities and conditions in it
   * do not listen to it.
   */
  get consideredCancelled(): boolean {
    return this.#requested && this.cancellable;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    const a = getActivator();
    return a.storage.run(this, async () => {
      if (this.timeout === undefined) return await fn();
      const timerScope = new CancellationScope({ cancellable: true, parent: this });
      a.storage.run(timerScope, () => sleep(this.timeout!)).then(
        () => this.cancel(),
        () => undefined,
      );
      try {
        return await fn();
      } finally {
        timerScope.cancel();
      }
    });
  }

  cancel(): void {
    this.#reject(new CancelledFailure('Cancellation scope cancelled'));
  }

  /** @internal */
  cancelWith(err: unknown): void {
    this.#reject(err);
  }

  static current(): CancellationScope {
    const a = getActivator();
    // the storage is shared with other runs: only this run's scopes count
    const s = a.storage.getStore();
    return s instanceof CancellationScope && s.#owner === a ? s : a.rootScope;
  }

  static cancellable<T>(fn: () => Promise<T>): Promise<T> {
    return new CancellationScope({ cancellable: true }).run(fn);
  }

  static nonCancellable<T>(fn: () => Promise<T>): Promise<T> {
    return new CancellationScope({ cancellable: false }).run(fn);
  }

  static withTimeout<T>(timeout: number | string, fn: () => Promise<T>): Promise<T> {
    return new CancellationScope({ cancellable: true, timeout: msToNumberLocal(timeout) }).run(fn);
  }
}

/** Rejects with the scope's cancellation once it is requested. */
export function rejectWhenCancelled(scope: CancellationScope, reject: (e: unknown) => void): void {
  scope.cancelRequested.catch(reject);
}

/* ------------------------------------------------------------- helpers */

import { msToNumber, toInterval } from '../common/duration';
const msToNumberLocal = msToNumber;

export { toInterval };

/** Call `onCancel` when the scope is cancelled, unless it is non-cancellable (then never). */
export function whenCancelled(scope: CancellationScope, onCancel: (err: unknown) => void): void {
  if (scope.cancellable) scope.cancelRequested.catch(onCancel);
}

export function scheduleActivity(activityType: string, args: unknown[], options: Record<string, any>): Promise<unknown> {
  const a = getActivator();
  const next = composeInterceptors(a.outbound, 'scheduleActivity', (input) => scheduleActivityCommand(a, input.activityType, input.args, input.options, input.headers));
  return next({ activityType, args, options, headers: {}, seq: a.seq.activity + 1 });
}

function scheduleActivityCommand(a: Activator, activityType: string, args: unknown[], options: Record<string, any>, headers: Record<string, any>): Promise<unknown> {
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) {
    return new Promise((_, reject) => rejectWhenCancelled(scope, reject));
  }
  const seq = ++a.seq.activity;
  const activityId: string = options.activityId ?? String(seq);
  const cancellationType: string = options.cancellationType ?? 'TRY_CANCEL';
  const cmd: Command = {
    type: 'schedule_activity',
    activity_id: activityId,
    activity_type: activityType,
    input: argsToStored(a.payloadConverter, args, headers),
  };
  if (options.taskQueue) cmd.task_queue = options.taskQueue;
  if (options.startToCloseTimeout !== undefined) cmd.start_to_close_timeout = toInterval(options.startToCloseTimeout);
  if (options.scheduleToCloseTimeout !== undefined) cmd.schedule_to_close_timeout = toInterval(options.scheduleToCloseTimeout);
  if (options.scheduleToStartTimeout !== undefined) cmd.schedule_to_start_timeout = toInterval(options.scheduleToStartTimeout);
  if (options.heartbeatTimeout !== undefined) cmd.heartbeat_timeout = toInterval(options.heartbeatTimeout);
  if (options.retry) cmd.retry_policy = retryPolicy(options.retry);
  Object.assign(cmd, priorityFields(options.priority));
  const caps = checkCapabilities(options.requiredCapabilities, 'requiredCapabilities');
  const pinned: string | undefined = options.pinnedWorker ?? (options.pinToPreviousWorker ? a.lastActivityWorker : undefined);
  // a pinned activity goes to that worker whatever it declared (the engine refuses both)
  if (pinned) cmd.pinned_worker = pinned;
  else if (caps) cmd.required_capabilities = caps;
  return new Promise((resolve, reject) => {
    a.pushCommand(cmd);
    const pending: PendingActivity = { activityType, resolve, reject, cancellationType, cancelRequested: false };
    a.activities.set(activityId, pending);
    whenCancelled(scope, (err) => {
      const p = a.activities.get(activityId);
      if (p !== pending || p.cancelRequested) return;
      p.cancelRequested = true;
      const cancelled = new ActivityFailure('Activity cancelled', activityType, activityId, RetryState.CANCEL_REQUESTED, undefined,
        err instanceof CancelledFailure ? err : new CancelledFailure('Activity cancelled'));
      if (a.removeCommand((c) => c === cmd)) {
        a.activities.delete(activityId);
        reject(cancelled);
        return;
      }
      if (cancellationType !== 'ABANDON') a.pushCommand({ type: 'request_cancel_activity', activity_id: activityId });
      if (cancellationType !== 'WAIT_CANCELLATION_COMPLETED') {
        a.activities.delete(activityId);
        reject(cancelled);
      }
    });
  });
}

export interface RetryPolicy {
  initialInterval?: number | string;
  backoffCoefficient?: number;
  maximumInterval?: number | string;
  maximumAttempts?: number;
  nonRetryableErrorTypes?: string[];
}

export function retryPolicy(r: RetryPolicy): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (r.initialInterval !== undefined) p.initial_interval = toInterval(r.initialInterval);
  if (r.backoffCoefficient !== undefined) p.backoff_coefficient = r.backoffCoefficient;
  if (r.maximumInterval !== undefined) p.maximum_interval = toInterval(r.maximumInterval);
  if (r.maximumAttempts !== undefined) p.maximum_attempts = r.maximumAttempts;
  if (r.nonRetryableErrorTypes !== undefined) p.non_retryable_error_types = [...r.nonRetryableErrorTypes];
  return p;
}

/**
 * Durable timer: resolves after `ms`, a number of milliseconds or an
 * ms-formatted string ("30s", "30 days"); as in Temporal, a number below 1
 * (0, negative) sleeps 1 ms.
 */
export function sleep(ms: number | string): Promise<void> {
  const a = getActivator();
  const next = composeInterceptors(a.outbound, 'startTimer', (input) => startTimer(a, input.durationMs));
  return next({ durationMs: typeof ms === 'number' && ms < 1 ? 1 : msToNumber(ms), seq: a.seq.timer + 1 });
}

function startTimer(a: Activator, ms: number): Promise<void> {
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) {
    return new Promise((_, reject) => rejectWhenCancelled(scope, reject));
  }
  const duration = Math.max(1, Math.round(ms));
  const timerId = String(++a.seq.timer);
  const cmd: Command = { type: 'start_timer', timer_id: timerId, duration: toInterval(duration) };
  return new Promise<void>((resolve, reject) => {
    a.pushCommand(cmd);
    const entry = { resolve, reject };
    a.timers.set(timerId, entry);
    whenCancelled(scope, (err) => {
      if (a.timers.get(timerId) !== entry) return;
      a.timers.delete(timerId);
      if (!a.removeCommand((c) => c === cmd)) a.pushCommand({ type: 'cancel_timer', timer_id: timerId });
      reject(err);
    });
  });
}

function conditionInner(fn: () => boolean): Promise<void> {
  const a = getActivator();
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) {
    return new Promise((_, reject) => rejectWhenCancelled(scope, reject));
  }
  const seq = ++a.seq.condition;
  return new Promise<void>((resolve, reject) => {
    a.conditions.set(seq, { fn, resolve });
    whenCancelled(scope, (err) => {
      if (!a.conditions.delete(seq)) return;
      reject(err);
    });
  });
}

/**
 * Wait until fn() is true.  With a timeout, resolves to true if it became
 * true, false if the timeout expired first.
 */
export function condition(fn: () => boolean, timeout: number | string): Promise<boolean>;
export function condition(fn: () => boolean): Promise<void>;
export async function condition(fn: () => boolean, timeout?: number | string): Promise<boolean | void> {
  if (timeout === undefined) return conditionInner(fn);
  return CancellationScope.cancellable(async () => {
    try {
      return await Promise.race([sleep(timeout).then(() => false), conditionInner(fn).then(() => true)]);
    } finally {
      CancellationScope.current().cancel();
    }
  });
}

/* ---------------------------------------------- the bridge to the worker */

function toArgs(input: unknown): unknown[] {
  if (input === null || input === undefined) return [];
  return Array.isArray(input) ? input : [input];
}

function activityFailure(a: Activator, job: Job, p: PendingActivity): ActivityFailure {
  const cause = decodeFailure(job.failure as FailureJSON);
  return new ActivityFailure(`Activity task failed: ${cause.message}`, p.activityType, job.activityId,
    decodeRetryState(job.retryState) as RetryState, job.identity ?? undefined, cause);
}

/** Run a signal handler (through the inbound interceptors); its failure fails the workflow (or its task). */
export function callSignal(a: Activator, fn: (...args: any[]) => unknown, args: unknown[], signalName = '', headers: Record<string, any> = {}): void {
  // running until it settles, for allHandlersFinished (updates.ts)
  const seq = ++a.updates.signalSeq;
  const unfinishedPolicy = a.updates.signalPolicies.get(signalName) ?? HandlerUnfinishedPolicy.WARN_AND_ABANDON;
  a.updates.signals.set(seq, { name: signalName, unfinishedPolicy });
  try {
    const next = composeInterceptors(a.inbound, 'handleSignal', async (input) => {
      await fn(...input.args);
    });
    const r = next({ signalName, args, headers: headersOf(headers) }) as any;
    if (r && typeof r.then === 'function') {
      r.then(undefined, (e: unknown) => a.failWorkflow(e)).finally(() => a.updates.signals.delete(seq));
    } else {
      a.updates.signals.delete(seq);
    }
  } catch (e) {
    a.updates.signals.delete(seq);
    a.failWorkflow(e);
  }
}

function applyJob(a: Activator, job: Job): void {
  switch (job.type) {
    case 'start': {
      const fn = a.workflowFn;
      if (typeof fn !== 'function') {
        a.taskFailure = new IllegalStateError(`no workflow function "${a.info.workflowType}" is registered on this worker`);
        return;
      }
      a.started = true;
      a.versioningBehavior = definitionOptionsOf(a, fn)?.versioningBehavior;
      a.storage.run(a.rootScope, () => {
        let p: Promise<unknown>;
        try {
          const execute = composeInterceptors(a.inbound, 'execute', (input) => Promise.resolve(fn(...input.args)));
          p = execute({ args: toArgs(job.args), headers: headersOf(job.headers) });
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then((r) => a.completeWorkflow(r), (e) => a.failWorkflow(e));
      });
      return;
    }
    case 'activityCompleted': {
      const p = a.activities.get(job.activityId);
      if (!p) return;
      a.activities.delete(job.activityId);
      p.resolve(job.result);
      return;
    }
    case 'activityFailed': {
      const p = a.activities.get(job.activityId);
      if (!p) return;
      a.activities.delete(job.activityId);
      p.reject(activityFailure(a, job, p));
      return;
    }
    case 'activityCancelled': {
      const p = a.activities.get(job.activityId);
      if (!p) return;
      a.activities.delete(job.activityId);
      p.reject(new ActivityFailure('Activity cancelled', p.activityType, job.activityId, RetryState.CANCEL_REQUESTED, undefined,
        new CancelledFailure('Activity cancelled', toArgs(job.details))));
      return;
    }
    case 'timerFired': {
      const t = a.timers.get(job.timerId);
      if (!t) return;
      a.timers.delete(job.timerId);
      t.resolve();
      return;
    }
    case 'signal':
      a.deliverSignal(job.name, toArgs(job.args), job.headers);
      return;
    case 'cancel': {
      a.cancelRequested = true;
      a.rootScope.cancelWith(new CancelledFailure(job.reason ? `Workflow cancelled: ${job.reason}` : 'Workflow cancelled'));
      return;
    }
    case 'update':
      doUpdate(a, job as UpdateJob);
      return;
    case 'localActivityResolved':
      applyLocalJob(a, job);
      return;
    default:
      applyChildJob(a, job);
  }
}

/**
 * The options setWorkflowOptions attached to a workflow function (its
 * getter called now, once, before the function first runs); a bad value
 * fails the workflow task.
 */
function definitionOptionsOf(a: Activator, fn: unknown): WorkflowDefinitionOptions | undefined {
  let o = (fn as { workflowDefinitionOptions?: unknown }).workflowDefinitionOptions;
  if (o === undefined) return undefined;
  try {
    if (typeof o === 'function') o = o();
    const b = (o as WorkflowDefinitionOptions | undefined)?.versioningBehavior;
    encodeVersioningBehavior(b); // throws on a value that is neither
    return o as WorkflowDefinitionOptions;
  } catch (e) {
    a.taskFailure = e;
    return undefined;
  }
}

/** The input of bridge.activate() (replay.ts builds it). */
export interface ActivationInput {
  jobs: Job[];
  now: number;
  isReplaying: boolean;
  patches: string[];
  historyLength: number;
  /** history_size_bytes of the WorkflowTaskStarted, when the engine writes it. */
  historySize?: number;
  /** suggest_continue_as_new of the WorkflowTaskStarted, when the engine writes it. */
  suggestContinueAsNew?: boolean;
  /** Replay: the local activity markers of the workflow task replayed (local-activities.ts). */
  localActivityMarkers?: LocalActivityMarker[];
  /** A local activity's outcome (local-activities.ts): the workflow's clock does not go back to `now`. */
  keepNow?: boolean;
  /** Identity of the latest ActivityTaskStarted up to this activation (pinToPreviousWorker). */
  lastActivityWorker?: string;
  /** workflowInfo().currentBuildId for this activation. */
  currentBuildId?: string;
}

export interface InitInput {
  info: Omit<WorkflowInfo, 'startTime' | 'runStartTime' | 'unsafe' | 'historySize' | 'continueAsNewSuggested' | 'namespace' |
    'typedSearchAttributes'> & { startTime: number; runStartTime: number; namespace?: string };
  now: number;
  seed: string;
}

/** The context's globals as install() left them: name -> descriptor. */
let pristine: Map<string | symbol, PropertyDescriptor> | undefined;

/**
 * Installed on the context's globalThis as __durable.  The worker (see
 * src/worker/sandbox.ts) names the run a call is for with use(), and passes
 * the call's input, JSON text, in `input`.
 */
export const bridge = {
  input: undefined as string | undefined,

  /**
   * Once per context, after the SDK's modules loaded: the deterministic
   * Date and Math.random (they read the current run's activator), then a
   * record of the globals that restoreGlobals() puts back.
   */
  install(): void {
    const g = globalThis as any;
    installDeterminism();
    Object.defineProperty(g, '__durableActivator', { get: () => currentActivator, configurable: true });
    pristine = new Map();
    for (const k of Reflect.ownKeys(g)) pristine.set(k, Object.getOwnPropertyDescriptor(g, k)!);
  },

  /** The calls that follow are for this run (an activator init() returned). */
  use(a: Activator | undefined): void {
    currentActivator = a;
  },

  /** A new run: its activator (workflow info, clock, random seed) from `input`, made current. */
  init(): Activator {
    const input = JSON.parse(bridge.input!) as InitInput;
    const a = new Activator();
    currentActivator = a;
    a.now = input.now;
    a.random = sfc32(hashSeed(input.seed));
    // the real clock: Date as it was before installDeterminism() replaced it
    const RealDate: DateConstructor = (globalThis as any).__durableOrigDate ?? Date;
    a.info = {
      ...input.info,
      startTime: new Date(input.info.startTime),
      runStartTime: new Date(input.info.runStartTime),
      historySize: 0,
      continueAsNewSuggested: input.info.historyLength >= CONTINUE_AS_NEW_SUGGESTED_EVENTS,
      namespace: input.info.namespace ?? 'default',
      unsafe: {
        get isReplaying() {
          return a.isReplaying;
        },
        now: () => RealDate.now(),
      },
    } as WorkflowInfo;
    Object.defineProperty(a.info, 'typedSearchAttributes', {
      get: () => TypedSearchAttributes.fromStored(a.info.searchAttributes), enumerable: true, configurable: true,
    });
    Object.defineProperty(a.info, 'currentUpdateInfo', { get: () => currentUpdateInfoOf(), enumerable: false, configurable: true });
    a.rootScope = new CancellationScope({ cancellable: true, parent: null });
    return a;
  },

  /**
   * Put the globals back as install() found them: the ones a call added are
   * deleted, replaced or deleted ones restored.
   */
  restoreGlobals(): void {
    const g = globalThis as any;
    for (const k of Reflect.ownKeys(g)) {
      if (!pristine!.has(k)) delete g[k];
    }
    for (const [k, d] of pristine!) {
      const now = Object.getOwnPropertyDescriptor(g, k);
      if (now && Object.is(now.value, d.value) && now.get === d.get && now.set === d.set && now.writable === d.writable) continue;
      Object.defineProperty(g, k, d);
    }
  },

  setWorkflow(fn: unknown): void {
    getActivator().workflowFn = fn as any;
  },

  /** Add what an interceptors module's factory returned (WorkflowInterceptors). */
  addInterceptors(i: WorkflowInterceptors | undefined): void {
    const a = getActivator();
    if (i?.inbound) a.inbound.push(...i.inbound);
    if (i?.outbound) a.outbound.push(...i.outbound);
  },

  /** Store values as Payloads through this converter (the worker has a data converter); the memo's values are Payloads. */
  setPayloadConverter(c: PayloadConverter): void {
    const a = getActivator();
    a.payloadConverter = c;
    const memo = a.info.memo;
    if (memo) a.info.memo = Object.fromEntries(Object.entries(memo).map(([k, v]) => [k, valueFromStoredW(c, v)]));
  },

  /**
   * One activation.  As in Temporal (worker-interface.ts activate()), the
   * workflow function starts after the activation's other jobs: signals
   * that came with the start (signalWithStart, signals sent before the
   * first workflow task) are buffered by then, and the first setHandler
   * delivers them before the function's next line; a cancellation requested
   * before the start has cancelled the root scope.
   */
  activate(): void {
    const a = getActivator();
    const act = JSON.parse(bridge.input!) as ActivationInput;
    a.now = act.keepNow ? Math.max(a.now, act.now) : act.now;
    a.isReplaying = act.isReplaying;
    a.info.historyLength = act.historyLength;
    a.info.historySize = act.historySize ?? 0;
    a.info.continueAsNewSuggested = act.suggestContinueAsNew ?? act.historyLength >= CONTINUE_AS_NEW_SUGGESTED_EVENTS;
    a.info.currentBuildId = act.currentBuildId;
    a.lastActivityWorker = act.lastActivityWorker;
    a.commands = [];
    beginLocalActivation(a, act.localActivityMarkers);
    for (const p of act.patches) a.knownPatches.add(p);
    const c = a.payloadConverter;
    let start: Job | undefined;
    for (const stored of act.jobs) {
      const job = c ? convertJob(c, stored) : stored;
      if (job.type === 'start') start = job;
      else applyJob(a, job);
    }
    if (start) applyJob(a, start);
  },

  /** Resolve conditions that became true; true if any did (run again). */
  unblock(): boolean {
    const a = getActivator();
    if (a.conditions.size === 0) return false;
    let any = false;
    for (const [seq, c] of [...a.conditions]) {
      let ok = false;
      try {
        ok = !!c.fn();
      } catch (e) {
        a.failWorkflow(e);
      }
      if (ok) {
        a.conditions.delete(seq);
        c.resolve();
        any = true;
      }
    }
    return any;
  },

  /**
   * After an activation's microtasks ran: null if a condition became true
   * (its continuation runs after this call: call again), else the
   * activation's outcome (collect()).
   */
  settle(): string | null {
    return bridge.unblock() || resolveNextFromMarker(getActivator()) ? null : bridge.collect();
  },

  collect(): string {
    const a = getActivator();
    // every update message must be answered: those no handler took are rejected now
    if (a.updates.buffered.length && a.taskFailure === undefined) rejectBufferedUpdates(a);
    if (a.commands.some((cmd) => cmd.type === 'complete_workflow')) {
      const warning = unfinishedHandlersWarning(a);
      if (warning) log.warn(warning);
    }
    a.assignIndexes();
    const c = a.payloadConverter;
    const commands = c ? a.commands.map((cmd) => (cmd.failure && FAILURE_COMMANDS.has(cmd.type)
      ? { ...cmd, failure: mapFailureDetails(cmd.failure as FailureJSON, (v) => valueToStored(c, v)) } : cmd)) : a.commands;
    const out: { commands: Command[]; taskFailure?: FailureJSON; sinkCalls?: SinkCall[]; versioningBehavior?: string } = { commands, ...collectLocal(a) };
    if (a.taskFailure !== undefined) out.taskFailure = encodeFailure(a.taskFailure);
    if (a.versioningBehavior !== undefined) out.versioningBehavior = a.versioningBehavior;
    if (a.sinkCalls.length) {
      out.sinkCalls = a.sinkCalls;
      a.sinkCalls = [];
    }
    a.commands = [];
    return JSON.stringify(out);
  },

  /**
   * Run a query handler (through the inbound interceptors): the answer as
   * JSON, or null when an interceptor returned a promise (Temporal's
   * handleQuery is async): its answer is read by queryResult() once this
   * call's microtasks ran.
   */
  query(): string | null {
    const a = getActivator();
    const { name, args, headers } = JSON.parse(bridge.input!) as { name: string; args: unknown; headers?: Record<string, any> };
    const h = a.queryHandlers.get(name);
    if (!h) {
      const known = [...a.queryHandlers.keys()].join(', ') || 'none';
      return JSON.stringify({ failure: { message: `workflow has no query handler "${name}" (known: ${known})`, type: 'QueryNotRegisteredError' } });
    }
    const answer = (r: unknown) => JSON.stringify({ result: valueToStoredW(a.payloadConverter, r) });
    const failure = (e: unknown) => JSON.stringify({ failure: encodeFailure(e) });
    a.inQuery = true;
    let async = false;
    try {
      const next = composeInterceptors(a.inbound, 'handleQuery', (input) => {
        const r = h(...input.args) as any;
        if (r && typeof r.then === 'function') throw new IllegalStateError('query handlers must be synchronous');
        return r;
      });
      const r = next({ queryId: '', queryName: name, args: argsFromStored(a.payloadConverter, toArgs(args)), headers: headersOf(headers) }) as any;
      if (!(r && typeof r.then === 'function')) return answer(r);
      async = true;
      a.queryAnswer = undefined;
      r.then((v: unknown) => (a.queryAnswer = answer(v)), (e: unknown) => (a.queryAnswer = failure(e)))
        .finally(() => (a.inQuery = false));
      return null;
    } catch (e) {
      return failure(e);
    } finally {
      if (!async) a.inQuery = false;
    }
  },

  /** The answer of a query whose interceptors returned a promise (after query()'s microtasks ran). */
  queryResult(): string {
    const a = getActivator();
    const out = a.queryAnswer;
    a.queryAnswer = undefined;
    a.inQuery = false;
    return out ?? JSON.stringify({ failure: { message: 'the query did not complete: its interceptor waits for something a query cannot wait for', type: 'QueryFailedError' } });
  },
};

/** Commands whose failure's details are values (stored through the payload converter). */
const FAILURE_COMMANDS = new Set(['fail_workflow', 'complete_update', 'reject_update']);

/** A job's stored values as values, through the payload converter. */
function convertJob(c: PayloadConverter, job: Job): Job {
  switch (job.type) {
    case 'start':
    case 'signal':
      return { ...job, args: argsFromStored(c, toArgs(job.args)) };
    case 'activityCompleted':
      return { ...job, result: valueFromStoredW(c, job.result) };
    case 'activityFailed':
      return { ...job, failure: mapFailureDetails(job.failure, (v) => valueFromStored(c, v)) };
    case 'activityCancelled':
      return { ...job, details: argsFromStored(c, toArgs(job.details)) };
    case 'update':
      return job; // decoded by doUpdate (a decoding error rejects the update)
    default:
      return convertChildJob(c, job);
  }
}

/**
 * Deterministic Date and Math.random for the sandbox: the time of the
 * current workflow task, numbers from the run's seeded generator.
 */
function installDeterminism(): void {
  const g = globalThis as any;
  const OrigDate: DateConstructor = g.__durableOrigDate ?? g.Date;
  g.__durableOrigDate = OrigDate;
  function DDate(this: unknown, ...args: any[]) {
    if (!new.target) return new OrigDate(getActivator().now).toString();
    if (args.length === 0) return new OrigDate(getActivator().now);
    return new (OrigDate as any)(...args);
  }
  DDate.prototype = OrigDate.prototype;
  DDate.now = () => getActivator().now;
  DDate.parse = OrigDate.parse;
  DDate.UTC = OrigDate.UTC;
  Object.defineProperty(OrigDate.prototype, 'constructor', { value: DDate, writable: true, configurable: true });
  g.Date = DDate;
  g.Math.random = () => getActivator().random();
}

export { ApplicationFailure, TimeoutFailure };

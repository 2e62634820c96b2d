/**
 * Child workflows and handles of other workflows, as Temporal's
 * @temporalio/workflow has them (startChild, executeChild,
 * getExternalWorkflowHandle): the commands they send, the promises they
 * settle, and the jobs the worker derives from their events.  Runs in
 * workflow sandboxes: no Node APIs.
 *
 * The history refers back to these commands by their initiated event
 * (ChildWorkflowExecutionStarted's initiated_event_id, ...).  So each
 * start_child_workflow, signal_external_workflow and
 * request_cancel_external_workflow command gets an index when its
 * activation's commands are sent (Activator.assignIndexes): it is the n-th
 * command of its type the run sent.  replay.ts counts the command events it
 * matches the same way, and names the command of each later event by that
 * index in the job it makes.  A command dropped before it was sent (its
 * scope cancelled in the same activation) gets no index.
 *
 * Cancelling the scope of a child (ChildWorkflowOptions.cancellationType,
 * as Temporal's core SDK, sdk-core child_workflow_state_machine.rs):
 *   - in the activation that started it: the start is not sent, and the
 *     handle rejects with a cancellation;
 *   - once it started: unless ABANDON, a request_cancel_external_workflow
 *     (child_workflow_only) asks it to cancel; TRY_CANCEL and ABANDON reject
 *     result() at once, WAIT_CANCELLATION_REQUESTED once the child has the
 *     request (ExternalWorkflowExecutionCancelRequested),
 *     WAIT_CANCELLATION_COMPLETED (the default) when the child closes, with
 *     however it closed.
 */
import { WorkflowExecutionAlreadyStartedError } from '../common/errors';
import { ChildWorkflowCancellationType, RetryState, decodeRetryState, encodeParentClosePolicy, encodeWorkflowIdReusePolicy } from '../common/enums';
import {
  ApplicationFailure, CancelledFailure, ChildWorkflowFailure, FailureJSON, TerminatedFailure, TimeoutFailure, decodeFailure,
} from '../common/failure';
import { composeInterceptors } from '../common/interceptors';
import { PayloadConverter, mapFailureDetails, valueFromStored } from '../common/payload';
import type { SearchAttributePair, SearchAttributes, TypedSearchAttributes } from '../common/search-attributes';
import { Duration, toInterval } from '../common/duration';
import { argsFromStored, argsToStored, memoToStored, searchAttributesToStored, valueFromStoredW } from './conversion';
import {
  Activator, CancellationScope, Command, Job, RetryPolicy, assertInWorkflowContext, getActivator, rejectWhenCancelled,
  retryPolicy, uuid4Of, whenCancelled,
} from './internals';
import { PriorityOption, checkCapabilities, priorityFields } from '../common/routing';
import type { SignalWorkflowInput, StartChildWorkflowExecutionInput } from './interceptors';

/** A workflow function. */
export type Workflow = (...args: any[]) => Promise<any>;
/** What a workflow function's promise resolves to. */
export type WorkflowResultType<W extends Workflow> = ReturnType<W> extends Promise<infer R> ? R : never;

/** `args` typed after the workflow function (required when it takes arguments), as Temporal's WithWorkflowArgs. */
export type WithWorkflowArgs<W extends Workflow, T> = T &
  (Parameters<W> extends [any, ...any[]]
    ? { /** The child's arguments. */ args: Parameters<W> | Readonly<Parameters<W>> }
    : { /** The child's arguments. */ args?: Parameters<W> | Readonly<Parameters<W>> });

/**
 * Temporal's ChildWorkflowOptions: each a field of the engine's
 * start_child_workflow command.  The child runs in the parent's namespace.
 */
export interface ChildWorkflowOptions {
  /** Default: uuid4(), from the workflow's seeded random (as Temporal's; the same on replay). */
  workflowId?: string;
  /** Default: the parent's task queue. */
  taskQueue?: string;
  args?: unknown[] | Readonly<unknown[]>;
  workflowExecutionTimeout?: Duration;
  workflowRunTimeout?: Duration;
  /** Default 10 s. */
  workflowTaskTimeout?: Duration;
  retry?: RetryPolicy;
  /** ALLOW_DUPLICATE (default), ALLOW_DUPLICATE_FAILED_ONLY or REJECT_DUPLICATE (or the engine's lower-case names). */
  workflowIdReusePolicy?: string;
  /** What the engine does to the child when this workflow closes first: TERMINATE (default), REQUEST_CANCEL, ABANDON. */
  parentClosePolicy?: string;
  /** What cancelling the scope the child was started in does (default WAIT_CANCELLATION_COMPLETED; see children.ts). */
  cancellationType?: ChildWorkflowCancellationType;
  /** @deprecated use typedSearchAttributes, as in Temporal. */
  searchAttributes?: SearchAttributes;
  /** Over searchAttributes where both name a key. */
  typedSearchAttributes?: SearchAttributePair[] | TypedSearchAttributes;
  /** Values go through the payload converter, as a client start's memo. */
  memo?: Record<string, unknown>;
  /** Not offered: the engine has no cron schedules (a non-empty value throws). */
  cronSchedule?: string;
  /** Ignored: a child on its parent's task queue runs on a pinned parent's build (the engine decides). */
  versioningIntent?: string;
  /** Ignored (durable has no user metadata). */
  staticSummary?: string;
  /** Ignored (durable has no user metadata). */
  staticDetails?: string;
  /**
   * Temporal's Priority { priorityKey 1..5, fairnessKey, fairnessWeight }
   * (a bare number is the priority key); what is unset is the parent's.
   */
  priority?: PriorityOption;
  /**
   * The child's workflow tasks go only to workers whose capabilities
   * contain this object (a durable extension; not inherited).
   */
  requiredCapabilities?: Record<string, unknown>;
}

/** ChildWorkflowOptions with Temporal's defaults filled in (what interceptors see). */
export type ChildWorkflowOptionsWithDefaults = ChildWorkflowOptions & {
  workflowId: string;
  args: unknown[];
  cancellationType: ChildWorkflowCancellationType;
};

interface SignalDefinitionLike {
  name: string;
}

/** A started child workflow, in its parent (Temporal's ChildWorkflowHandle). */
export interface ChildWorkflowHandle<T extends Workflow = Workflow> {
  readonly workflowId: string;
  /** The run id of the child's first run (continue-as-new makes more). */
  readonly firstExecutionRunId: string;
  /** The child's result; a ChildWorkflowFailure when it did not complete. */
  result(): Promise<WorkflowResultType<T>>;
  /** Signal the child (a signal_external_workflow command, child_workflow_only); resolves once delivered. */
  signal<Args extends any[] = []>(def: SignalDefinitionLike | string, ...args: Args): Promise<void>;
}

/** Another workflow, by id (Temporal's ExternalWorkflowHandle). */
export interface ExternalWorkflowHandle {
  readonly workflowId: string;
  readonly runId?: string;
  /** Resolves once the workflow got the signal; rejects (ApplicationFailure) when no such workflow is running. */
  signal<Args extends any[] = []>(def: SignalDefinitionLike | string, ...args: Args): Promise<void>;
  /** Resolves once the workflow got the cancellation request; rejects (ApplicationFailure) when no such workflow is running. */
  cancel(): Promise<void>;
}

/** A child workflow in its parent's activator, from its start until its handle settles. */
export interface PendingChild {
  readonly workflowId: string;
  readonly workflowType: string;
  readonly namespace: string;
  readonly cancellationType: ChildWorkflowCancellationType;
  readonly cmd: Command;
  /** Its index (see Job), once its start was sent. */
  index?: number;
  runId?: string;
  started: boolean;
  /** The handle settled: later events of the child are ignored. */
  done: boolean;
  /** The scope was cancelled after the start was sent but before the child started: ask it to cancel once it has. */
  cancelAfterStart: boolean;
  resolveStart(runId: string): void;
  rejectStart(e: unknown): void;
  resolveResult(v: unknown): void;
  rejectResult(e: unknown): void;
}

/** A signal_external_workflow or request_cancel_external_workflow waiting for its outcome. */
export interface ExternalSignal {
  resolve(): void;
  reject(e: unknown): void;
}
export type ExternalCancel = ExternalSignal;

/* ------------------------------------------------------------ starting */

function workflowTypeOf(workflowTypeOrFunc: string | Workflow): string {
  if (typeof workflowTypeOrFunc === 'string') return workflowTypeOrFunc;
  if (typeof workflowTypeOrFunc === 'function' && workflowTypeOrFunc.name) return workflowTypeOrFunc.name;
  throw new TypeError('a child workflow is named by its workflow type (a string) or its workflow function (with a name)');
}

/** Temporal's defaults: a workflow id from uuid4(), WAIT_CANCELLATION_COMPLETED. */
function withDefaults(a: Activator, options: ChildWorkflowOptions | undefined): ChildWorkflowOptionsWithDefaults {
  const { args, workflowId, ...rest } = options ?? {};
  return {
    workflowId: workflowId ?? uuid4Of(a),
    args: [...(args ?? [])],
    cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    ...rest,
  };
}

/** The start_child_workflow command of a start. */
function startChildCommand(a: Activator, workflowType: string, o: ChildWorkflowOptionsWithDefaults, headers: Record<string, any>): Command {
  if (o.cronSchedule) throw new TypeError('child workflows cannot have a cronSchedule: durable has no cron schedules');
  const cmd: Command = {
    type: 'start_child_workflow',
    workflow_id: o.workflowId,
    workflow_type: workflowType,
    input: argsToStored(a.payloadConverter, [...o.args], headers),
    task_queue: o.taskQueue || a.info.taskQueue,
  };
  if (o.workflowExecutionTimeout !== undefined) cmd.execution_timeout = toInterval(o.workflowExecutionTimeout);
  if (o.workflowRunTimeout !== undefined) cmd.run_timeout = toInterval(o.workflowRunTimeout);
  if (o.workflowTaskTimeout !== undefined) cmd.task_timeout = toInterval(o.workflowTaskTimeout);
  if (o.retry) cmd.retry_policy = retryPolicy(o.retry);
  const reuse = encodeWorkflowIdReusePolicy(o.workflowIdReusePolicy);
  if (reuse) cmd.id_reuse_policy = reuse;
  const close = encodeParentClosePolicy(o.parentClosePolicy);
  if (close) cmd.parent_close_policy = close;
  if (o.searchAttributes || o.typedSearchAttributes) cmd.search_attributes = searchAttributesToStored(o.searchAttributes, o.typedSearchAttributes);
  if (o.memo) cmd.memo = memoToStored(a.payloadConverter, o.memo);
  Object.assign(cmd, priorityFields(o.priority));
  const caps = checkCapabilities(o.requiredCapabilities, 'requiredCapabilities');
  if (caps) cmd.required_capabilities = caps;
  return cmd;
}

/** The cancellation type (an explicit undefined is the default, WAIT_CANCELLATION_COMPLETED). */
function checkCancellationType(t: unknown): ChildWorkflowCancellationType {
  if (t === undefined) return ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED;
  if (typeof t === 'string' && Object.prototype.hasOwnProperty.call(ChildWorkflowCancellationType, t)) return t as ChildWorkflowCancellationType;
  throw new TypeError(`cancellationType "${String(t)}" is not one of ${Object.keys(ChildWorkflowCancellationType).join(', ')}`);
}

/** The SDK's own step of startChildWorkflowExecution (after the outbound interceptors). */
function startChildNext(input: StartChildWorkflowExecutionInput): Promise<[Promise<string>, Promise<unknown>]> {
  const a = getActivator();
  const options = input.options as ChildWorkflowOptionsWithDefaults;
  const cancellationType = checkCancellationType(options.cancellationType);
  const cmd = startChildCommand(a, input.workflowType, options, input.headers);
  let child!: PendingChild;
  const started = new Promise<string>((resolveStart, rejectStart) => {
    child = {
      workflowId: options.workflowId, workflowType: input.workflowType, namespace: a.info.namespace, cancellationType, cmd,
      started: false, done: false, cancelAfterStart: false,
      resolveStart, rejectStart, resolveResult: () => undefined, rejectResult: () => undefined,
    };
  });
  const completed = new Promise<unknown>((resolveResult, rejectResult) => {
    child.resolveResult = resolveResult;
    child.rejectResult = rejectResult;
  });
  // neither needs to be awaited (a handle whose result() is never asked for)
  started.catch(() => undefined);
  completed.catch(() => undefined);
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) {
    rejectWhenCancelled(scope, child.rejectStart);
    rejectWhenCancelled(scope, child.rejectResult);
  } else {
    a.pushIndexedCommand(cmd as Command & { type: 'start_child_workflow' }, (index) => {
      child.index = index;
      a.children.set(index, child);
    });
    whenCancelled(scope, () => cancelChild(a, child));
  }
  return Promise.resolve([started, completed]);
}

/**
 * Start a child workflow: resolves to its handle once it started (a
 * WorkflowExecutionAlreadyStartedError when its workflow id is taken).
 * As Temporal's startChild.
 */
export async function startChild<T extends Workflow>(workflowTypeOrFunc: string | T,
  options?: WithWorkflowArgs<T, ChildWorkflowOptions>): Promise<ChildWorkflowHandle<T>> {
  const a = assertInWorkflowContext('Workflow.startChild(...) may only be used from a Workflow Execution. Consider using Client.workflow.start(...) instead.');
  const opts = withDefaults(a, options);
  const workflowType = workflowTypeOf(workflowTypeOrFunc);
  const next = composeInterceptors(a.outbound, 'startChildWorkflowExecution', startChildNext);
  const [started, completed] = await next({ workflowType, options: opts, headers: {}, seq: ++a.seq.child });
  const firstExecutionRunId = await started;
  const workflowId = opts.workflowId;
  return {
    workflowId,
    firstExecutionRunId,
    result: async () => (await completed) as WorkflowResultType<T>,
    signal: (def, ...args) => signalWorkflow(a, def, args, { type: 'child', childWorkflowId: workflowId }),
  };
}

/**
 * Start a child workflow and wait for its result (a ChildWorkflowFailure
 * when it did not complete).  As Temporal's executeChild.
 */
export async function executeChild<T extends Workflow>(workflowTypeOrFunc: string | T,
  options?: WithWorkflowArgs<T, ChildWorkflowOptions>): Promise<WorkflowResultType<T>> {
  const a = assertInWorkflowContext('Workflow.executeChild(...) may only be used from a Workflow Execution. Consider using Client.workflow.execute(...) instead.');
  const opts = withDefaults(a, options);
  const workflowType = workflowTypeOf(workflowTypeOrFunc);
  const next = composeInterceptors(a.outbound, 'startChildWorkflowExecution', startChildNext);
  const [, completed] = await next({ workflowType, options: opts, headers: {}, seq: ++a.seq.child });
  return (await completed) as WorkflowResultType<T>;
}

/* ---------------------------------------------------------- cancelling */

/** The failure of a child that did not complete, `cause` saying how it closed. */
function childFailure(child: PendingChild, retryState: RetryState | undefined, cause: Error, runId?: string): ChildWorkflowFailure {
  return new ChildWorkflowFailure(child.namespace, { workflowId: child.workflowId, runId: runId ?? child.runId },
    child.workflowType, retryState ?? RetryState.NON_RETRYABLE_FAILURE, cause);
}

/** The handle settles: forget the child (its later events are ignored). */
function finish(a: Activator, child: PendingChild): boolean {
  if (child.done) return false;
  child.done = true;
  if (child.index !== undefined) a.children.delete(child.index);
  return true;
}

function rejectCancelled(a: Activator, child: PendingChild, details: unknown[] = []): void {
  if (finish(a, child)) child.rejectResult(childFailure(child, RetryState.NON_RETRYABLE_FAILURE, new CancelledFailure('Child Workflow execution cancelled', details)));
}

/** The child's scope was cancelled. */
function cancelChild(a: Activator, child: PendingChild): void {
  if (child.done) return;
  if (a.removeCommand((c) => c === child.cmd)) {
    // started and cancelled in the same activation: the start is never sent
    finish(a, child);
    const f = childFailure(child, RetryState.NON_RETRYABLE_FAILURE, new CancelledFailure('Child Workflow execution cancelled before scheduled'));
    child.rejectStart(f);
    child.rejectResult(f);
    return;
  }
  if (!child.started) {
    child.cancelAfterStart = true;
    return;
  }
  requestChildCancel(a, child);
}

/** Ask a started child to cancel, as its cancellation type says. */
function requestChildCancel(a: Activator, child: PendingChild): void {
  const type = child.cancellationType;
  if (type !== ChildWorkflowCancellationType.ABANDON) {
    requestCancelExternal(a, child.workflowId, undefined, true, 'Parent workflow requested cancel', {
      resolve: () => {
        if (type === ChildWorkflowCancellationType.WAIT_CANCELLATION_REQUESTED) rejectCancelled(a, child);
      },
      // the child has closed: its close event settles the handle
      reject: () => undefined,
    });
  }
  if (type === ChildWorkflowCancellationType.ABANDON || type === ChildWorkflowCancellationType.TRY_CANCEL) rejectCancelled(a, child);
}

/* ----------------------------------------------- signals and cancels */

function requestCancelExternal(a: Activator, workflowId: string, runId: string | undefined, childOnly: boolean,
  reason: string | undefined, entry: ExternalCancel): void {
  const cmd: Command = { type: 'request_cancel_external_workflow', workflow_id: workflowId, child_workflow_only: childOnly };
  if (runId) cmd.run_id = runId;
  if (reason) cmd.reason = reason;
  a.pushIndexedCommand(cmd as Command & { type: 'request_cancel_external_workflow' }, (index) => a.externalCancels.set(index, entry));
}

/** The SDK's own step of signalWorkflow (after the outbound interceptors). */
function signalWorkflowNext(input: SignalWorkflowInput): Promise<void> {
  const a = getActivator();
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) return new Promise((_, reject) => rejectWhenCancelled(scope, reject));
  const t = input.target;
  const cmd: Command = {
    type: 'signal_external_workflow',
    workflow_id: t.type === 'child' ? t.childWorkflowId : t.workflowExecution.workflowId,
    signal_name: input.signalName,
    input: argsToStored(a.payloadConverter, input.args, input.headers),
    child_workflow_only: t.type === 'child',
  };
  if (t.type === 'external' && t.workflowExecution.runId) cmd.run_id = t.workflowExecution.runId;
  return new Promise<void>((resolve, reject) => {
    a.pushIndexedCommand(cmd as Command & { type: 'signal_external_workflow' }, (index) => a.externalSignals.set(index, { resolve, reject }));
    // once sent, a signal cannot be called back: only an unsent one is cancelled
    whenCancelled(scope, () => {
      if (a.removeCommand((c) => c === cmd)) reject(new CancelledFailure('Signal was cancelled before being sent'));
    });
  });
}

function signalWorkflow(a: Activator, def: SignalDefinitionLike | string, args: unknown[], target: SignalWorkflowInput['target']): Promise<void> {
  const next = composeInterceptors(a.outbound, 'signalWorkflow', signalWorkflowNext);
  return next({ seq: ++a.seq.signal, signalName: typeof def === 'string' ? def : def.name, args, headers: {}, target });
}

/**
 * A handle to signal or cancel another workflow of this namespace: the
 * given run, else the workflow id's running run.  As Temporal's
 * getExternalWorkflowHandle.
 */
export function getExternalWorkflowHandle(workflowId: string, runId?: string): ExternalWorkflowHandle {
  const a = assertInWorkflowContext('Workflow.getExternalWorkflowHandle(...) may only be used from a Workflow Execution. Consider using Client.workflow.getHandle(...) instead.');
  return {
    workflowId,
    runId,
    signal: (def, ...args) => signalWorkflow(a, def, args, { type: 'external', workflowExecution: { workflowId, runId } }),
    cancel: () => new Promise<void>((resolve, reject) => {
      // as Temporal's: the call rejects when its scope is cancelled (the request, once sent, stands)
      const scope = CancellationScope.current();
      whenCancelled(scope, reject);
      if (scope.consideredCancelled) return;
      requestCancelExternal(a, workflowId, runId, false, undefined, { resolve, reject });
    }),
  };
}

/* ------------------------------------------------------------- the jobs */

/** Why a signal or cancel found no workflow, as Temporal's core SDK words it; `type` is the event's cause. */
function externalFailure(what: 'signal' | 'cancel', cause: unknown): ApplicationFailure {
  const c = typeof cause === 'string' && cause ? cause : 'EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND';
  const why = /NOT_FOUND/.test(c) ? (what === 'signal' ? 'it was not found' : 'not found') : c;
  return ApplicationFailure.create({ message: `Unable to ${what} external workflow because ${why}`, type: c });
}

/** Apply a child workflow or external workflow job (see Job). */
export function applyChildJob(a: Activator, job: Job): void {
  switch (job.type) {
    case 'childStarted': {
      const child = a.children.get(job.index);
      if (!child || child.done) return;
      child.started = true;
      child.runId = job.runId;
      child.resolveStart(job.runId);
      if (child.cancelAfterStart) requestChildCancel(a, child);
      return;
    }
    case 'childStartFailed': {
      const child = a.children.get(job.index);
      if (!child || !finish(a, child)) return;
      const cause = job.cause ?? 'WORKFLOW_ALREADY_EXISTS';
      const err = new WorkflowExecutionAlreadyStartedError(
        cause === 'WORKFLOW_ALREADY_EXISTS' ? 'Workflow execution already started' : `Workflow execution not started: ${cause}`,
        child.workflowId, child.workflowType);
      child.rejectStart(err);
      child.rejectResult(err);
      return;
    }
    case 'childCompleted': {
      const child = a.children.get(job.index);
      if (child && finish(a, child)) child.resolveResult(job.result);
      return;
    }
    case 'childFailed': {
      const child = a.children.get(job.index);
      if (child && finish(a, child)) {
        child.rejectResult(childFailure(child, decodeRetryState(job.retryState), decodeFailure(job.failure as FailureJSON), job.runId));
      }
      return;
    }
    case 'childCancelled': {
      const child = a.children.get(job.index);
      if (child) rejectCancelled(a, child, Array.isArray(job.details) ? job.details : []);
      return;
    }
    case 'childTimedOut': {
      const child = a.children.get(job.index);
      if (child && finish(a, child)) {
        child.rejectResult(childFailure(child, decodeRetryState(job.retryState),
          new TimeoutFailure('Child Workflow execution timed out', undefined, 'START_TO_CLOSE'), job.runId));
      }
      return;
    }
    case 'childTerminated': {
      const child = a.children.get(job.index);
      if (child && finish(a, child)) {
        child.rejectResult(childFailure(child, RetryState.NON_RETRYABLE_FAILURE, new TerminatedFailure('Child Workflow execution terminated'), job.runId));
      }
      return;
    }
    case 'externalSignaled':
    case 'externalSignalFailed': {
      const s = a.externalSignals.get(job.index);
      if (!s) return;
      a.externalSignals.delete(job.index);
      if (job.type === 'externalSignaled') s.resolve();
      else s.reject(externalFailure('signal', job.cause));
      return;
    }
    case 'externalCancelRequested':
    case 'externalCancelFailed': {
      const c = a.externalCancels.get(job.index);
      if (!c) return;
      a.externalCancels.delete(job.index);
      if (job.type === 'externalCancelRequested') c.resolve();
      else c.reject(externalFailure('cancel', job.cause));
      return;
    }
  }
}

/** A child job's stored values as values, through the payload converter. */
export function convertChildJob(c: PayloadConverter, job: Job): Job {
  switch (job.type) {
    case 'childCompleted':
      return { ...job, result: valueFromStoredW(c, job.result) };
    case 'childFailed':
      return { ...job, failure: mapFailureDetails(job.failure, (v) => valueFromStored(c, v)) };
    case 'childCancelled':
      return { ...job, details: argsFromStored(c, Array.isArray(job.details) ? job.details : job.details == null ? [] : [job.details]) };
    default:
      return job;
  }
}

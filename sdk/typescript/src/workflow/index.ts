/**
 * The workflow API (import from "durable-sdk/workflow" in workflow code).
 * Names and semantics follow Temporal's TypeScript SDK.
 *
 * Workflow code runs in a sandbox and is replayed from history: it must be
 * deterministic.  Date.now(), new Date() and Math.random() are made
 * deterministic for you; do I/O only in activities.
 */
import {
  CancellationScope, ContinueAsNew, RetryPolicy, WorkflowInfo, assertInWorkflowContext, condition, getActivator,
  retryPolicy, scheduleActivity, sleep, toInterval, uuid4Of,
} from './internals';
import { Duration } from '../common/duration';
import { ActivityCancellationType } from '../common/enums';
import { IllegalStateError } from '../common/failure';
import { composeInterceptors } from '../common/interceptors';
import {
  SearchAttributePair, SearchAttributeUpdatePair, SearchAttributes, TypedSearchAttributes, pairsToStored,
} from '../common/search-attributes';
import { argsToStored, memoToStored, searchAttributesToStored } from './conversion';
import { PriorityOption, WorkflowDefinitionOptionsOrGetter } from '../common/routing';
import { HandlerUnfinishedPolicy, UpdateDefinition, UpdateHandlerOptions, setUpdateHandler } from './updates';
export { msToNumber } from '../common/duration';
export { Trigger } from './trigger';
export { proxySinks } from './sinks';
export type { Sink, SinkCall, SinkFunction, Sinks } from './sinks';
export type * from './interceptors';
export {
  SearchAttributeType, TypedSearchAttributes, defineSearchAttributeKey,
} from '../common/search-attributes';
export type {
  IndexedValueTypeMapping, SearchAttributeKey, SearchAttributePair, SearchAttributeUpdatePair, SearchAttributes,
} from '../common/search-attributes';
export {
  CompositePayloadConverter, DefaultPayloadConverter, JsonPayloadConverter, BinaryPayloadConverter, UndefinedPayloadConverter,
  PayloadConverterError, ValueError, defaultPayloadConverter, METADATA_ENCODING_KEY, encodingTypes,
} from '../common/payload';
export type { Payload, PayloadConverter, PayloadConverterWithEncoding } from '../common/payload';

export {
  ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, DurableFailure, NonDeterminismError,
  DeterminismViolationError, TemporalFailure, TerminatedFailure, TimeoutFailure, isCancellation,
} from '../common/failure';
export type { ApplicationFailureOptions } from '../common/failure';
export {
  ActivityCancellationType, ChildWorkflowCancellationType, ParentClosePolicy, RetryState, TimeoutType, WorkflowIdReusePolicy,
} from '../common/enums';
export { WorkflowExecutionAlreadyStartedError } from '../common/errors';
export { executeChild, getExternalWorkflowHandle, startChild } from './children';
export { HandlerUnfinishedPolicy, allHandlersFinished, currentUpdateInfo, defineUpdate, setDefaultUpdateHandler } from './updates';
export type { UpdateDefinition, UpdateHandlerOptions, UpdateInfo } from './updates';
export { LOCAL_ACTIVITY_MARKER, proxyLocalActivities } from './local-activities';
export type { LocalActivityOptions } from './local-activities';
export type {
  ChildWorkflowHandle, ChildWorkflowOptions, ChildWorkflowOptionsWithDefaults, ExternalWorkflowHandle, WithWorkflowArgs, Workflow,
  WorkflowResultType,
} from './children';
export { CONTINUE_AS_NEW_SUGGESTED_EVENTS } from './internals';
export { VersioningBehavior } from '../common/routing';
export type {
  Priority, WorkerDeploymentVersion, WorkflowDefinitionOptions, WorkflowDefinitionOptionsOrGetter,
} from '../common/routing';
export { log } from './logs';
export type { WorkflowLogger } from './logs';
export { CancellationScope, ContinueAsNew, condition, sleep };
export type { RetryPolicy, WorkflowInfo, Duration };
export type { CancellationScopeOptions, ParentWorkflowInfo } from './internals';

export interface ActivityOptions {
  startToCloseTimeout?: Duration;
  scheduleToCloseTimeout?: Duration;
  scheduleToStartTimeout?: Duration;
  heartbeatTimeout?: Duration;
  retry?: RetryPolicy;
  taskQueue?: string;
  /** TRY_CANCEL (default): cancelling rejects at once; WAIT_CANCELLATION_COMPLETED waits for the activity to acknowledge. */
  cancellationType?: ActivityCancellationType;
  activityId?: string;
  /**
   * Temporal's Priority { priorityKey 1..5, fairnessKey, fairnessWeight }
   * (a bare number is the priority key); what is unset is the workflow's.
   */
  priority?: PriorityOption;
  /**
   * Only workers whose capabilities (WorkerOptions.capabilities) contain
   * this object take the activity, e.g. { gpu: true } (a durable
   * extension, as Temporal's worker-specific task queues are used for).
   */
  requiredCapabilities?: Record<string, unknown>;
  /**
   * Only the worker of this identity (WorkerOptions.identity) takes the
   * activity; if it is gone the activity waits for it, until its
   * schedule-to-start or schedule-to-close timeout (a durable extension,
   * the sessions pattern).
   */
  pinnedWorker?: string;
  /**
   * Pin the activity to the worker that ran the previous activity of this
   * workflow: the identity of the latest ActivityTaskStarted in the
   * history so far (deterministic on replay).  Not pinned when no
   * activity has run yet.  pinnedWorker wins when both are set.
   */
  pinToPreviousWorker?: boolean;
}

type AnyFunction = (...args: any[]) => any;
export type ActivityInterfaceFor<T> = {
  [K in keyof T]: T[K] extends AnyFunction ? (...args: Parameters<T[K]>) => Promise<Awaited<ReturnType<T[K]>>> : never;
};

/**
 * Activities as functions that schedule them:
 * `const { charge } = proxyActivities<typeof activities>({ startToCloseTimeout: '30s' })`.
 */
export function proxyActivities<A = Record<string, AnyFunction>>(options: ActivityOptions): ActivityInterfaceFor<A> {
  if (!options || (options.startToCloseTimeout === undefined && options.scheduleToCloseTimeout === undefined)) {
    throw new TypeError('proxyActivities needs startToCloseTimeout or scheduleToCloseTimeout');
  }
  return new Proxy({} as ActivityInterfaceFor<A>, {
    get(_t, prop) {
      if (typeof prop !== 'string') return undefined;
      if (prop === 'then') return undefined; // not a thenable
      return (...args: unknown[]) => scheduleActivity(prop, args, options);
    },
  });
}

export interface SignalDefinition<Args extends any[] = []> {
  type: 'signal';
  name: string;
  /** @internal type marker */
  __args?: Args;
}
export interface QueryDefinition<Ret, Args extends any[] = []> {
  type: 'query';
  name: string;
  /** @internal type markers */
  __ret?: Ret;
  __args?: Args;
}

export function defineSignal<Args extends any[] = []>(name: string): SignalDefinition<Args> {
  return { type: 'signal', name };
}
export function defineQuery<Ret, Args extends any[] = []>(name: string): QueryDefinition<Ret, Args> {
  return { type: 'query', name };
}

/** setHandler's options for a signal handler (Temporal's SignalHandlerOptions). */
export interface SignalHandlerOptions {
  description?: string;
  /** Whether a handler still running when the workflow completes is logged (default WARN_AND_ABANDON). */
  unfinishedPolicy?: HandlerUnfinishedPolicy;
}

/** setHandler's options for a query handler. */
export interface QueryHandlerOptions {
  description?: string;
}

/**
 * Register (or with undefined remove) the handler of a signal, a query or
 * an update.  An update handler may be async, and may have a validator
 * (options.validator): see updates.ts and README "Updates".
 */
export function setHandler<Args extends any[]>(def: SignalDefinition<Args>, handler: ((...args: NoInfer<Args>) => void | Promise<void>) | undefined,
  options?: SignalHandlerOptions): void;
export function setHandler<Ret, Args extends any[]>(def: QueryDefinition<Ret, Args>, handler: ((...args: NoInfer<Args>) => NoInfer<Ret>) | undefined,
  options?: QueryHandlerOptions): void;
export function setHandler<Ret, Args extends any[]>(def: UpdateDefinition<Ret, Args>,
  handler: ((...args: NoInfer<Args>) => NoInfer<Ret> | Promise<NoInfer<Ret>>) | undefined, options?: UpdateHandlerOptions<NoInfer<Args>>): void;
export function setHandler(def: { type: string; name: string }, handler: ((...args: any[]) => any) | undefined, options?: any): void {
  const a = getActivator();
  if (def.type === 'update') {
    setUpdateHandler(a, def.name, handler, options);
  } else if (def.type === 'signal') {
    if (!handler) {
      a.signalHandlers.delete(def.name);
      a.updates.signalPolicies.delete(def.name);
      return;
    }
    a.signalHandlers.set(def.name, handler);
    if (options?.unfinishedPolicy !== undefined) a.updates.signalPolicies.set(def.name, options.unfinishedPolicy);
    else a.updates.signalPolicies.delete(def.name);
    // signals that arrived before the handler was set: one at a time, in order
    a.dispatchBufferedSignals();
  } else if (def.type === 'query') {
    if (handler) a.queryHandlers.set(def.name, handler);
    else a.queryHandlers.delete(def.name);
  } else {
    throw new TypeError(`setHandler: unknown definition type "${def.type}"`);
  }
}

/**
 * Handler of the signals that have no handler of their own, called with
 * (signalName, ...args): those buffered so far at once, one at a time in
 * arrival order, later ones as they come.  undefined removes it.
 */
export function setDefaultSignalHandler(handler: ((signalName: string, ...args: any[]) => void | Promise<void>) | undefined): void {
  const a = assertInWorkflowContext('Workflow.setDefaultSignalHandler(...) may only be used from a Workflow Execution.');
  if (typeof handler === 'function') {
    a.defaultSignalHandler = handler;
    a.dispatchBufferedSignals();
  } else if (handler == null) {
    a.defaultSignalHandler = undefined;
  } else {
    throw new TypeError(`Expected handler to be either a function or 'undefined'. Got: '${typeof handler}'`);
  }
}

/** Marker name of patch markers (as Temporal's core SDK names it). */
export const PATCH_MARKER = 'core_patch';

function patchInternal(patchId: string, deprecated: boolean): boolean {
  const a = assertInWorkflowContext('Workflow.patch(...) and Workflow.deprecatePatch may only be used from a Workflow Execution.');
  if (!a.started) {
    throw new IllegalStateError(
      `patched("${patchId}") / deprecatePatch("${patchId}") cannot be used before the workflow function starts ` +
        '(e.g. at module load): call it inside the workflow function or a handler');
  }
  const use = !a.isReplaying || a.knownPatches.has(patchId);
  if (use && !a.sentPatches.has(patchId)) {
    a.pushCommand({ type: 'record_marker', marker_name: PATCH_MARKER, details: { patch_id: patchId, deprecated } });
    a.sentPatches.add(patchId);
  }
  return use;
}

/**
 * Versioning: true when this execution runs (or ran) the new code path.
 * New executions take the new path and record a marker; replays of
 * executions that ran before the patch take the old path.
 */
export function patched(patchId: string): boolean {
  return patchInternal(patchId, false);
}

/** Once no execution that predates the patch is open: keep the new path, drop the check. */
export function deprecatePatch(patchId: string): void {
  patchInternal(patchId, true);
}

/**
 * Options of makeContinueAsNewFunc (Temporal's ContinueAsNewOptions), each
 * a field of the engine's continue_as_new command (docs/protocol.md).  What
 * is not set is this run's: the workflow type, the memo, the search
 * attributes and the retry policy (the engine copies them), the task queue
 * (the engine's default).  The execution timeout always carries over.
 */
export interface ContinueAsNewOptions {
  workflowType?: string;
  taskQueue?: string;
  workflowRunTimeout?: Duration;
  workflowTaskTimeout?: Duration;
  /** The new run's memo, instead of this run's (values go through the payload converter, as a start's). */
  memo?: Record<string, unknown>;
  /**
   * The new run's search attributes, instead of this run's (not merged
   * with them).  @deprecated use typedSearchAttributes, as in Temporal.
   */
  searchAttributes?: SearchAttributes;
  /** As searchAttributes, typed; over searchAttributes where both name a key (as in Temporal). */
  typedSearchAttributes?: SearchAttributePair[] | TypedSearchAttributes;
  /**
   * The new run's retry policy, instead of this run's.  Not in Temporal's
   * TypeScript ContinueAsNewOptions: the field of Temporal's
   * ContinueAsNewWorkflowExecution command (retry_policy), as the Go, Java,
   * Python and Ruby SDKs expose it.
   */
  retryPolicy?: RetryPolicy;
  /**
   * How long the new run waits before its first workflow task.  Not in
   * Temporal's TypeScript ContinueAsNewOptions: the command's
   * backoff_start_interval, as Temporal's Go SDK exposes it
   * (ContinueAsNewErrorOptions.BackoffStartInterval).
   */
  backoffStartInterval?: Duration;
  /** Ignored: the new run of a pinned run keeps its build (the engine decides). */
  versioningIntent?: string;
}

/** Close this run and start a new one of the same workflow id with fresh history. Never returns. */
export function continueAsNew<F extends (...args: any[]) => any = (...args: any[]) => any>(...args: Parameters<F>): Promise<never> {
  return makeContinueAsNewFunc<F>()(...args);
}

export function makeContinueAsNewFunc<F extends (...args: any[]) => any>(options?: ContinueAsNewOptions): (...args: Parameters<F>) => Promise<never> {
  return (...args: Parameters<F>) => {
    const a = getActivator();
    const next = composeInterceptors(a.outbound, 'continueAsNew', (input) => {
      const cmd = continueAsNewCommand(input.args, input.options, input.headers);
      return Promise.reject(new ContinueAsNew(cmd));
    });
    return next({ args, headers: {}, options: { workflowType: a.info.workflowType, ...options } });
  };
}

function continueAsNewCommand(args: unknown[], options: ContinueAsNewOptions | undefined, headers: Record<string, any>): Record<string, unknown> & { type: string } {
  const converter = getActivator().payloadConverter;
  const cmd: Record<string, unknown> & { type: string } = {
    type: 'continue_as_new',
    input: argsToStored(converter, args, headers),
  };
  if (options?.workflowType) cmd.workflow_type = options.workflowType;
  if (options?.taskQueue) cmd.task_queue = options.taskQueue;
  if (options?.workflowRunTimeout !== undefined) cmd.run_timeout = toInterval(options.workflowRunTimeout);
  if (options?.workflowTaskTimeout !== undefined) cmd.task_timeout = toInterval(options.workflowTaskTimeout);
  if (options?.memo) cmd.memo = memoToStored(converter, options.memo);
  if (options?.searchAttributes || options?.typedSearchAttributes) {
    cmd.search_attributes = searchAttributesToStored(options.searchAttributes, options.typedSearchAttributes);
  }
  if (options?.retryPolicy) cmd.retry_policy = retryPolicy(options.retryPolicy);
  if (options?.backoffStartInterval !== undefined) cmd.backoff_start_interval = toInterval(options.backoffStartInterval);
  return cmd;
}

export function workflowInfo(): WorkflowInfo {
  return getActivator().info;
}

/** A random (deterministic on replay) RFC 4122 version 4 UUID. */
export function uuid4(): string {
  return uuid4Of(getActivator());
}

/**
 * Set search attributes of this workflow, merged into the current ones:
 * an object of name -> value, or Temporal's typed form, a list of {key,
 * value} pairs (keys from defineSearchAttributeKey).  As in Temporal, a
 * value of `[]` (an empty list) or undefined removes the attribute, and so
 * does null (durable's engine's own way).
 */
export function upsertSearchAttributes(updates: Record<string, unknown> | SearchAttributeUpdatePair[]): void {
  const a = assertInWorkflowContext('Workflow.upsertSearchAttributes(...) may only be used from a Workflow Execution.');
  if (updates === null || typeof updates !== 'object') {
    throw new TypeError('upsertSearchAttributes takes an object of attribute name -> value, or a list of {key, value} pairs');
  }
  const attrs = Array.isArray(updates) ? pairsToStored(updates) : updates;
  const sent: Record<string, unknown> = {};
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    const remove = v === undefined || v === null || (Array.isArray(v) && v.length === 0);
    sent[k] = remove ? null : v;
  }
  a.pushCommand({ type: 'upsert_search_attributes', search_attributes: sent });
  for (const [k, v] of Object.entries(sent)) {
    if (v === null) delete a.info.searchAttributes[k];
    else a.info.searchAttributes[k] = v;
  }
}

/**
 * Options of a workflow definition (Temporal's setWorkflowOptions): its
 * versioningBehavior, PINNED (its runs stay on the build they started on)
 * or AUTO_UPGRADE (they move to the task queue's current build at their
 * next workflow task); over WorkerDeploymentOptions.defaultVersioningBehavior.
 * Call it at module level, next to the function.  A getter is called once
 * per run, before the workflow function first runs.
 */
export function setWorkflowOptions<A extends any[], R>(options: WorkflowDefinitionOptionsOrGetter, fn: (...args: A) => Promise<R>): void {
  Object.assign(fn, { workflowDefinitionOptions: options });
}

/** True while the worker replays history (e.g. to skip logging). */
export function isReplaying(): boolean {
  return getActivator().isReplaying;
}

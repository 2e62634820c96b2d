/**
 * Failures: the error classes that cross the boundary between workflow code,
 * activities, the engine and clients, and their JSON form
 * {"message", "type", "non_retryable", "details", "stack_trace", "cause", "timeout_type",
 * "next_retry_delay"}
 * (docs/protocol.md).  This module is loaded both in the worker's realm and
 * inside every workflow sandbox, so it must not use Node APIs.
 */

import { Duration, parseEngineDuration, toInterval } from './duration';
import { RetryState, TimeoutType, decodeRetryState, decodeTimeoutType } from './enums';
export { RetryState, TimeoutType };

/** The JSON shape of a failure, as the engine stores it. */
export interface FailureJSON {
  message: string;
  type?: string | null;
  non_retryable?: boolean;
  details?: unknown;
  stack_trace?: string;
  cause?: FailureJSON | null;
  timeout_type?: string;
  /** The delay before the next attempt instead of the retry policy's backoff (a duration string, "5s"). */
  next_retry_delay?: string;
}

/** The options of ApplicationFailure.create (Temporal's ApplicationFailureOptions). */
export interface ApplicationFailureOptions {
  message?: string;
  /** Matched against a retry policy's nonRetryableErrorTypes. */
  type?: string;
  /** Stops retries outright (default false). */
  nonRetryable?: boolean;
  details?: unknown[];
  /**
   * The delay before the next retry, instead of the retry policy's backoff
   * (sent as the failure's next_retry_delay; the policy's maximum attempts
   * and schedule-to-close timeout still apply, its maximum interval does
   * not).  Ignored when the failure is non-retryable.
   */
  nextRetryDelay?: Duration;
  cause?: Error;
}

/** Base class of every failure durable knows how to carry (Temporal's TemporalFailure). */
export class DurableFailure extends Error {
  public override cause?: Error;
  constructor(message?: string, cause?: Error) {
    super(message ?? '');
    this.cause = cause;
  }
  override get name(): string {
    return this.constructor.name;
  }
}
export { DurableFailure as TemporalFailure };

/**
 * An error with a type name and a retryable flag, thrown by activities or
 * workflows.  `type` is matched against a retry policy's
 * nonRetryableErrorTypes; `nonRetryable` stops retries outright.
 */
export class ApplicationFailure extends DurableFailure {
  constructor(
    message?: string | null,
    public readonly type?: string | null,
    public readonly nonRetryable: boolean = false,
    public readonly details?: unknown[] | null,
    cause?: Error,
    /** See ApplicationFailureOptions.nextRetryDelay. */
    public readonly nextRetryDelay?: Duration | null,
  ) {
    super(message ?? undefined, cause);
  }
  static create(opts: ApplicationFailureOptions): ApplicationFailure {
    return new ApplicationFailure(opts.message, opts.type, opts.nonRetryable ?? false, opts.details, opts.cause, opts.nextRetryDelay);
  }
  static retryable(message?: string | null, type?: string | null, ...details: unknown[]): ApplicationFailure {
    return new ApplicationFailure(message, type ?? 'Error', false, details);
  }
  static nonRetryable(message?: string | null, type?: string | null, ...details: unknown[]): ApplicationFailure {
    return new ApplicationFailure(message, type ?? 'Error', true, details);
  }
  /** Wrap any thrown value; `overrides` (Temporal's) replace fields of the result. */
  static fromError(err: unknown, overrides?: ApplicationFailureOptions): ApplicationFailure {
    let f: ApplicationFailure;
    if (err instanceof ApplicationFailure) f = err;
    else if (err instanceof Error) {
      f = new ApplicationFailure(err.message, err.name, false);
      f.stack = err.stack;
    } else f = new ApplicationFailure(String(err), 'Error', false);
    if (overrides) Object.assign(f, overrides);
    return f;
  }
}

/** A cancellation: of a scope, an activity, a timer or the workflow. */
export class CancelledFailure extends DurableFailure {
  constructor(message = 'cancelled', public readonly details: unknown[] = [], cause?: Error) {
    super(message, cause);
  }
}

/** The workflow was terminated. */
export class TerminatedFailure extends DurableFailure {}

/**
 * A timeout of an activity or workflow.  Arguments in Temporal's order
 * (message, lastHeartbeatDetails, timeoutType).  Workflow timeouts have
 * timeoutType "RUN" or "EXECUTION" (Temporal has no TimeoutFailure there).
 */
export class TimeoutFailure extends DurableFailure {
  constructor(
    message: string | undefined,
    public readonly lastHeartbeatDetails: unknown,
    public readonly timeoutType: TimeoutType | 'RUN' | 'EXECUTION',
  ) {
    super(message);
  }
}

/**
 * An activity failed; `cause` says why (ApplicationFailure, TimeoutFailure
 * or CancelledFailure), `retryState` why it was not retried again.
 * Temporal's constructor: (message, activityType, activityId, retryState,
 * identity, cause).
 */
export class ActivityFailure extends DurableFailure {
  constructor(
    message: string | undefined,
    public readonly activityType: string,
    public readonly activityId: string | undefined,
    public readonly retryState: RetryState,
    public readonly identity: string | undefined,
    cause?: Error,
  ) {
    super(message, cause);
  }
}

/**
 * A child workflow did not complete: what its parent's startChild handle's
 * result() and executeChild() reject with.  `cause` says how it closed: the
 * child's own failure (it failed), a CancelledFailure (it was cancelled, or
 * the parent's scope cancelled it), a TimeoutFailure (it timed out) or a
 * TerminatedFailure (it was terminated).  Temporal's constructor and
 * message ("Child Workflow execution failed", whatever the cause).
 */
export class ChildWorkflowFailure extends DurableFailure {
  constructor(
    public readonly namespace: string | undefined,
    public readonly execution: { workflowId: string; runId?: string },
    public readonly workflowType: string,
    public readonly retryState: RetryState,
    cause?: Error,
  ) {
    super('Child Workflow execution failed', cause);
  }
}

/**
 * Workflow code produced commands that do not match the history being
 * replayed.  The worker fails the workflow task; the workflow stays open and
 * continues when a worker with compatible code picks it up.
 */
export class NonDeterminismError extends Error {
  constructor(message: string, public readonly eventId?: number) {
    super(message);
  }
  override get name(): string {
    return 'NonDeterminismError';
  }
}

/**
 * Workflow code used something that cannot be deterministic on replay
 * (WeakRef, FinalizationRegistry, crypto randomness, a real clock...):
 * Temporal's DeterminismViolationError.  It fails the workflow task, not the
 * workflow.
 */
export class DeterminismViolationError extends NonDeterminismError {
  override get name(): string {
    return 'DeterminismViolationError';
  }
}

/** Workflow code did something it must not (e.g. imported a Node module). */
export class IllegalStateError extends Error {
  override get name(): string {
    return 'IllegalStateError';
  }
}

/** True for a cancellation, or an activity or child workflow failure caused by one (Temporal's isCancellation). */
export function isCancellation(err: unknown): boolean {
  if (err == null || typeof err !== 'object') return false;
  const e = err as { name?: string; cause?: unknown };
  if (e.name === 'CancelledFailure') return true;
  if (e.name === 'ActivityFailure' || e.name === 'ChildWorkflowFailure') return isCancellation(e.cause);
  return false;
}

function errName(err: unknown): string | undefined {
  return err && typeof err === 'object' ? (err as Error).name : undefined;
}

/** An error (of any realm) as the engine's failure JSON. */
export function encodeFailure(err: unknown, depth = 0): FailureJSON {
  if (!(err && typeof err === 'object')) {
    return { message: String(err), type: 'Error', non_retryable: false };
  }
  const e = err as any;
  const name = errName(err);
  const out: FailureJSON = { message: String(e.message ?? ''), type: name ?? 'Error', non_retryable: false };
  if (name === 'ApplicationFailure') {
    out.type = e.type ?? 'Error';
    out.non_retryable = !!e.nonRetryable;
    if (e.details !== undefined && e.details !== null) out.details = toJSONValue(e.details);
    const delay = nextRetryDelayOf(e.nextRetryDelay);
    if (delay !== undefined) out.next_retry_delay = delay;
  } else if (name === 'CancelledFailure') {
    out.type = 'CancelledFailure';
    if (e.details && e.details.length) out.details = toJSONValue(e.details);
  } else if (name === 'TimeoutFailure') {
    out.type = 'TimeoutFailure';
    out.timeout_type = e.timeoutType;
  } else if (name === 'ActivityFailure') {
    out.type = 'ActivityFailure';
    out.details = { activity_type: e.activityType, activity_id: e.activityId, retry_state: e.retryState ?? null, identity: e.identity ?? null };
  } else if (name === 'ChildWorkflowFailure') {
    out.type = 'ChildWorkflowFailure';
    out.details = {
      namespace: e.namespace ?? null, workflow_id: e.execution?.workflowId ?? null, run_id: e.execution?.runId ?? null,
      workflow_type: e.workflowType ?? null, retry_state: e.retryState ?? null,
    };
  }
  if (typeof e.stack === 'string') out.stack_trace = e.stack;
  if (e.cause && depth < 8) out.cause = encodeFailure(e.cause, depth + 1);
  return out;
}

/** An ApplicationFailure's nextRetryDelay as the engine's duration string; undefined when unset or not a duration. */
function nextRetryDelayOf(d: unknown): string | undefined {
  if (d === undefined || d === null) return undefined;
  try {
    return toInterval(d as Duration);
  } catch {
    return undefined;
  }
}

function toJSONValue(v: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(v ?? null));
  } catch {
    return String(v);
  }
}

/** The engine's failure JSON as an error of this realm. */
export function decodeFailure(f: FailureJSON | null | undefined): DurableFailure {
  if (!f) return new ApplicationFailure('unknown failure', 'Error', false);
  const cause = f.cause ? decodeFailure(f.cause) : undefined;
  let err: DurableFailure;
  const details = Array.isArray(f.details) ? f.details : f.details === undefined || f.details === null ? undefined : [f.details];
  switch (f.type) {
    case 'CancelledFailure':
    case 'CanceledFailure':
      err = new CancelledFailure(f.message || 'cancelled', details ?? [], cause);
      break;
    case 'TerminatedFailure':
      err = new TerminatedFailure(f.message || 'terminated', cause);
      break;
    case 'TimeoutError':
    case 'TimeoutFailure':
      err = new TimeoutFailure(f.message || 'timeout', f.details ?? undefined, decodeTimeoutType(f.timeout_type) ?? 'START_TO_CLOSE');
      break;
    case 'ActivityFailure': {
      const d = (f.details ?? {}) as any;
      err = new ActivityFailure(f.message, d.activity_type, d.activity_id, decodeRetryState(d.retry_state), d.identity ?? undefined, cause);
      break;
    }
    case 'ChildWorkflowFailure': {
      const d = (f.details ?? {}) as any;
      err = new ChildWorkflowFailure(d.namespace ?? undefined, { workflowId: d.workflow_id, runId: d.run_id ?? undefined },
        d.workflow_type, decodeRetryState(d.retry_state), cause);
      break;
    }
    default:
      err = new ApplicationFailure(f.message, f.type ?? null, !!f.non_retryable, details, cause,
        parseEngineDuration(f.next_retry_delay));
  }
  if (f.stack_trace) err.stack = f.stack_trace;
  return err;
}

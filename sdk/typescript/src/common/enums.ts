/**
 * The enum values Temporal code branches on, as Temporal's TypeScript SDK
 * defines them (packages/common/src/failure.ts, activity-options.ts,
 * packages/workflow/src/interfaces.ts): objects of string constants, usable
 * both as values (`RetryState.MAXIMUM_ATTEMPTS_REACHED`) and as types.  The
 * strings are the ones the engine writes (docs/protocol.md), so a value read
 * from a history needs no translation.  The deprecated proto-style aliases
 * Temporal keeps (`RETRY_STATE_TIMEOUT`, ...) are kept too: they have the
 * same values.  Loaded inside workflow sandboxes: no Node APIs.
 */

/** Why an activity (or workflow) stopped being retried: `retry_state` of the engine's close events. */
export const RetryState = {
  IN_PROGRESS: 'IN_PROGRESS',
  NON_RETRYABLE_FAILURE: 'NON_RETRYABLE_FAILURE',
  TIMEOUT: 'TIMEOUT',
  MAXIMUM_ATTEMPTS_REACHED: 'MAXIMUM_ATTEMPTS_REACHED',
  RETRY_POLICY_NOT_SET: 'RETRY_POLICY_NOT_SET',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  CANCEL_REQUESTED: 'CANCEL_REQUESTED',

  /** @deprecated Use {@link RetryState.IN_PROGRESS}. */
  RETRY_STATE_IN_PROGRESS: 'IN_PROGRESS',
  /** @deprecated Use {@link RetryState.NON_RETRYABLE_FAILURE}. */
  RETRY_STATE_NON_RETRYABLE_FAILURE: 'NON_RETRYABLE_FAILURE',
  /** @deprecated Use {@link RetryState.TIMEOUT}. */
  RETRY_STATE_TIMEOUT: 'TIMEOUT',
  /** @deprecated Use {@link RetryState.MAXIMUM_ATTEMPTS_REACHED}. */
  RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED: 'MAXIMUM_ATTEMPTS_REACHED',
  /** @deprecated Use {@link RetryState.RETRY_POLICY_NOT_SET}. */
  RETRY_STATE_RETRY_POLICY_NOT_SET: 'RETRY_POLICY_NOT_SET',
  /** @deprecated Use {@link RetryState.INTERNAL_SERVER_ERROR}. */
  RETRY_STATE_INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** @deprecated Use {@link RetryState.CANCEL_REQUESTED}. */
  RETRY_STATE_CANCEL_REQUESTED: 'CANCEL_REQUESTED',
  /** @deprecated Use `undefined`. */
  RETRY_STATE_UNSPECIFIED: undefined,
} as const;
export type RetryState = (typeof RetryState)[keyof typeof RetryState];

/**
 * The RetryState of a retry_state the engine (or another SDK) wrote:
 * `"TIMEOUT"` or the proto name `"RETRY_STATE_TIMEOUT"`; undefined for
 * anything else (no value, "UNSPECIFIED", an unknown name).
 */
export function decodeRetryState(s: unknown): RetryState | undefined {
  if (typeof s !== 'string') return undefined;
  const name = s.startsWith('RETRY_STATE_') ? s.slice('RETRY_STATE_'.length) : s;
  return Object.prototype.hasOwnProperty.call(RetryState, name) && !name.startsWith('RETRY_STATE_')
    ? (RetryState as Record<string, RetryState>)[name]
    : undefined;
}

/** Which timeout fired: `timeout_type` of the engine's timeout failures. */
export const TimeoutType = {
  START_TO_CLOSE: 'START_TO_CLOSE',
  SCHEDULE_TO_START: 'SCHEDULE_TO_START',
  SCHEDULE_TO_CLOSE: 'SCHEDULE_TO_CLOSE',
  HEARTBEAT: 'HEARTBEAT',

  /** @deprecated Use {@link TimeoutType.START_TO_CLOSE}. */
  TIMEOUT_TYPE_START_TO_CLOSE: 'START_TO_CLOSE',
  /** @deprecated Use {@link TimeoutType.SCHEDULE_TO_START}. */
  TIMEOUT_TYPE_SCHEDULE_TO_START: 'SCHEDULE_TO_START',
  /** @deprecated Use {@link TimeoutType.SCHEDULE_TO_CLOSE}. */
  TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: 'SCHEDULE_TO_CLOSE',
  /** @deprecated Use {@link TimeoutType.HEARTBEAT}. */
  TIMEOUT_TYPE_HEARTBEAT: 'HEARTBEAT',
  /** @deprecated Use `undefined`. */
  TIMEOUT_TYPE_UNSPECIFIED: undefined,
} as const;
export type TimeoutType = (typeof TimeoutType)[keyof typeof TimeoutType];

/**
 * The TimeoutType of a timeout_type the engine wrote.  The engine also
 * writes "RUN" and "EXECUTION" for workflow timeouts (Temporal has no
 * TimeoutType for them: its workflow timeouts carry no TimeoutFailure): those
 * are kept as they are.
 */
export function decodeTimeoutType(s: unknown): TimeoutType | 'RUN' | 'EXECUTION' | undefined {
  if (typeof s !== 'string') return undefined;
  const name = s.startsWith('TIMEOUT_TYPE_') ? s.slice('TIMEOUT_TYPE_'.length) : s;
  if (name === 'RUN' || name === 'EXECUTION') return name;
  return Object.prototype.hasOwnProperty.call(TimeoutType, name) && !name.startsWith('TIMEOUT_TYPE_')
    ? (TimeoutType as Record<string, TimeoutType>)[name]
    : undefined;
}

/** How cancelling a scope treats the activities started in it (ActivityOptions.cancellationType). */
export const ActivityCancellationType = {
  /** Ask the activity to stop, and reject the call at once (durable's default, and Temporal's encoding default). */
  TRY_CANCEL: 'TRY_CANCEL',
  /** Ask the activity to stop, and wait until it completes, fails or acknowledges the cancellation. */
  WAIT_CANCELLATION_COMPLETED: 'WAIT_CANCELLATION_COMPLETED',
  /** Do not tell the activity; reject the call at once. */
  ABANDON: 'ABANDON',
} as const;
export type ActivityCancellationType = (typeof ActivityCancellationType)[keyof typeof ActivityCancellationType];

/**
 * What happens to a child workflow when its parent closes
 * (ChildWorkflowOptions.parentClosePolicy; Temporal's default TERMINATE):
 * the engine terminates it, asks it to cancel, or leaves it running.
 */
export const ParentClosePolicy = {
  TERMINATE: 'TERMINATE',
  ABANDON: 'ABANDON',
  REQUEST_CANCEL: 'REQUEST_CANCEL',

  /** @deprecated Leave the property undefined, or set a policy. */
  PARENT_CLOSE_POLICY_UNSPECIFIED: undefined,
  /** @deprecated Use {@link ParentClosePolicy.TERMINATE}. */
  PARENT_CLOSE_POLICY_TERMINATE: 'TERMINATE',
  /** @deprecated Use {@link ParentClosePolicy.ABANDON}. */
  PARENT_CLOSE_POLICY_ABANDON: 'ABANDON',
  /** @deprecated Use {@link ParentClosePolicy.REQUEST_CANCEL}. */
  PARENT_CLOSE_POLICY_REQUEST_CANCEL: 'REQUEST_CANCEL',
} as const;
export type ParentClosePolicy = (typeof ParentClosePolicy)[keyof typeof ParentClosePolicy];

/**
 * What cancelling a child workflow's scope does (Temporal's
 * ChildWorkflowCancellationType; the workflow SDK's default is
 * WAIT_CANCELLATION_COMPLETED).  Everything but ABANDON asks the child to
 * cancel (a request_cancel_external_workflow command).
 */
export const ChildWorkflowCancellationType = {
  /** Do not ask the child to cancel; the parent's handle rejects at once. */
  ABANDON: 'ABANDON',
  /** Ask the child to cancel; the handle rejects at once. */
  TRY_CANCEL: 'TRY_CANCEL',
  /** Ask the child to cancel; the handle settles when the child closes (as it closes). */
  WAIT_CANCELLATION_COMPLETED: 'WAIT_CANCELLATION_COMPLETED',
  /** Ask the child to cancel; the handle rejects once the child has received the request. */
  WAIT_CANCELLATION_REQUESTED: 'WAIT_CANCELLATION_REQUESTED',
} as const;
export type ChildWorkflowCancellationType = (typeof ChildWorkflowCancellationType)[keyof typeof ChildWorkflowCancellationType];

/**
 * Whether a workflow id may be used again after its runs closed (Temporal's
 * WorkflowIdReusePolicy).  TERMINATE_IF_RUNNING is Temporal's deprecated
 * value: durable's start_workflow has id_conflict_policy "terminate_existing"
 * for it, and child workflows have no equivalent.
 */
export const WorkflowIdReusePolicy = {
  ALLOW_DUPLICATE: 'ALLOW_DUPLICATE',
  ALLOW_DUPLICATE_FAILED_ONLY: 'ALLOW_DUPLICATE_FAILED_ONLY',
  REJECT_DUPLICATE: 'REJECT_DUPLICATE',
  /** @deprecated Use WorkflowIdConflictPolicy "terminate_existing" (a client start). */
  TERMINATE_IF_RUNNING: 'TERMINATE_IF_RUNNING',

  /** @deprecated Use {@link WorkflowIdReusePolicy.ALLOW_DUPLICATE}. */
  WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE: 'ALLOW_DUPLICATE',
  /** @deprecated Use {@link WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY}. */
  WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY: 'ALLOW_DUPLICATE_FAILED_ONLY',
  /** @deprecated Use {@link WorkflowIdReusePolicy.REJECT_DUPLICATE}. */
  WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE: 'REJECT_DUPLICATE',
  /** @deprecated Use `undefined`. */
  WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED: undefined,
} as const;
export type WorkflowIdReusePolicy = (typeof WorkflowIdReusePolicy)[keyof typeof WorkflowIdReusePolicy];

/** The engine's name (lower case) of an enum value in Temporal's form or the engine's own; undefined for undefined. */
function engineName(what: string, value: unknown, prefix: string, allowed: readonly string[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, not ${typeof value}`);
  const name = (value.startsWith(prefix) ? value.slice(prefix.length) : value).toLowerCase();
  if (!allowed.includes(name)) {
    throw new TypeError(`${what} "${value}" is not one of ${allowed.map((v) => v.toUpperCase()).join(', ')}`);
  }
  return name;
}

/** A ParentClosePolicy as the engine's parent_close_policy ("terminate", "abandon", "request_cancel"). */
export function encodeParentClosePolicy(p: unknown): string | undefined {
  return engineName('parentClosePolicy', p, 'PARENT_CLOSE_POLICY_', ['terminate', 'abandon', 'request_cancel']);
}

/**
 * A WorkflowIdReusePolicy (Temporal's upper-case names or the engine's
 * lower-case ones) as the engine's id_reuse_policy.
 */
export function encodeWorkflowIdReusePolicy(p: unknown): string | undefined {
  return engineName('workflowIdReusePolicy', p, 'WORKFLOW_ID_REUSE_POLICY_', ['allow_duplicate', 'allow_duplicate_failed_only', 'reject_duplicate']);
}

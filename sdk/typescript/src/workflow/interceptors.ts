/**
 * Workflow interceptors: the shapes of Temporal's @temporalio/workflow
 * interceptors.ts.  A module listed in the worker's
 * `interceptors.workflowModules` exports `interceptors`, a factory called
 * once for each workflow run (in the run's sandbox) that returns
 * `{ inbound, outbound }`.  Inbound interceptors wrap what reaches the
 * workflow (its execution, signals, queries, updates), outbound ones what the
 * workflow asks of the engine (activities, timers, child workflows, signals
 * to other workflows, continue-as-new).  In
 * each list the first interceptor is the outermost.
 */
import type { Headers } from '../common/payload';
import type { Next } from '../common/interceptors';
import type { LocalActivityInput } from './local-activities';
export type { LocalActivityInput };

export type { Headers, Next };

export interface WorkflowExecuteInput {
  readonly args: unknown[];
  readonly headers: Headers;
}

export interface SignalInput {
  readonly signalName: string;
  readonly args: unknown[];
  readonly headers: Headers;
}

export interface QueryInput {
  readonly queryId: string;
  readonly queryName: string;
  readonly args: unknown[];
  readonly headers: Headers;
}

/** An update reaching the workflow (Temporal's UpdateInput). */
export interface UpdateInput {
  readonly updateId: string;
  readonly name: string;
  readonly args: unknown[];
  readonly headers: Headers;
}

export interface WorkflowInboundCallsInterceptor {
  execute?(input: WorkflowExecuteInput, next: (input: WorkflowExecuteInput) => Promise<unknown>): Promise<unknown>;
  handleSignal?(input: SignalInput, next: (input: SignalInput) => Promise<void>): Promise<void>;
  /**
   * May be async, as Temporal's; it must not wait for anything but promises
   * that settle at once (a query runs to completion in one call).
   */
  handleQuery?(input: QueryInput, next: (input: QueryInput) => unknown): unknown;
  /** Wraps an update's validator (synchronous; throwing rejects the update). Not called on replay, nor without a validator. */
  validateUpdate?(input: UpdateInput, next: (input: UpdateInput) => void): void;
  /** Wraps an accepted update's handler. */
  handleUpdate?(input: UpdateInput, next: (input: UpdateInput) => Promise<unknown>): Promise<unknown>;
}

export interface ActivityInput {
  readonly activityType: string;
  readonly args: unknown[];
  readonly options: Record<string, any>;
  readonly headers: Headers;
  readonly seq: number;
}

export interface TimerInput {
  readonly durationMs: number;
  readonly seq: number;
}

export interface ContinueAsNewInput {
  readonly args: unknown[];
  readonly headers: Headers;
  readonly options: Record<string, any>;
}

/** A child workflow's start: its options with the defaults (workflowId, cancellationType) filled in. */
export interface StartChildWorkflowExecutionInput {
  readonly workflowType: string;
  readonly options: Record<string, any> & { workflowId: string };
  readonly headers: Headers;
  readonly seq: number;
}

/** A signal to another workflow: an external one (getExternalWorkflowHandle) or a child (its handle's signal()). */
export interface SignalWorkflowInput {
  readonly seq: number;
  readonly signalName: string;
  readonly args: unknown[];
  readonly headers: Headers;
  readonly target:
    | { readonly type: 'external'; readonly workflowExecution: { workflowId: string; runId?: string } }
    | { readonly type: 'child'; readonly childWorkflowId: string };
}

export interface WorkflowOutboundCallsInterceptor {
  scheduleActivity?(input: ActivityInput, next: (input: ActivityInput) => Promise<unknown>): Promise<unknown>;
  /** A local activity's attempt (each attempt after a timer backoff is a call of its own, as in Temporal). */
  scheduleLocalActivity?(input: LocalActivityInput, next: (input: LocalActivityInput) => Promise<unknown>): Promise<unknown>;
  startTimer?(input: TimerInput, next: (input: TimerInput) => Promise<void>): Promise<void>;
  /** Resolves to [the start (resolves to the child's first run id), the child's result]. */
  startChildWorkflowExecution?(
    input: StartChildWorkflowExecutionInput,
    next: (input: StartChildWorkflowExecutionInput) => Promise<[Promise<string>, Promise<unknown>]>,
  ): Promise<[Promise<string>, Promise<unknown>]>;
  signalWorkflow?(input: SignalWorkflowInput, next: (input: SignalWorkflowInput) => Promise<void>): Promise<void>;
  continueAsNew?(input: ContinueAsNewInput, next: (input: ContinueAsNewInput) => Promise<never>): Promise<never>;
}

export interface WorkflowInterceptors {
  inbound?: WorkflowInboundCallsInterceptor[];
  outbound?: WorkflowOutboundCallsInterceptor[];
}

export type WorkflowInterceptorsFactory = () => WorkflowInterceptors;

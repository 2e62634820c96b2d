export { Worker } from './worker/worker';
export type { WorkerOptions, WorkerState, ActivityFunction } from './worker/worker';
export type { WorkerStats } from './worker/host';
export type { HistoryEvent } from './worker/replay';
export { Client, WorkflowClient, WorkflowHandle } from './client';
export type { ClientOptions, WorkflowStartOptions, SignalWithStartOptions, WorkflowDescription } from './client';
export { Context } from './activity';
export type { ActivityInfo } from './activity';
export * from './errors';
export {
  ActivityFailure, ApplicationFailure, CancelledFailure, DurableFailure, TemporalFailure, TerminatedFailure,
  TimeoutFailure, NonDeterminismError, DeterminismViolationError, isCancellation, encodeFailure, decodeFailure,
} from './common/failure';
export type { FailureJSON } from './common/failure';
export { msToNumber, toInterval } from './common/duration';
export type { Duration } from './common/duration';

export { Worker } from './worker/worker';
export type { WorkerOptions, WorkerState, ActivityFunction, WorkerDeploymentOptions } from './worker/worker';
export type {
  ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInboundCallsInterceptorFactory, ActivityInterceptors,
  ActivityInterceptorsFactory, InjectedSink, InjectedSinkFunction, InjectedSinks, WorkerInterceptors,
} from './worker/interceptors';
export type { WorkerStats } from './worker/host';
export type { HistoryEvent } from './worker/replay';
export { Client, TaskQueueClient, WithStartWorkflowOperation, WorkflowClient, WorkflowHandle, WorkflowUpdateStage } from './client';
export type {
  ClientOptions, WorkflowStartOptions, SignalWithStartOptions, WorkflowDescription, ClientInterceptors, WorkflowClientInterceptor,
  WorkflowStartInput, WorkflowSignalInput, WorkflowSignalWithStartInput, WorkflowQueryInput, WorkflowCancelInput,
  WorkflowTerminateInput, WorkflowDescribeInput, WorkflowExecution, WorkflowUpdateHandle, WorkflowUpdateOptions, WorkflowUpdateOutcome,
  WorkflowStartUpdateInput, WorkflowStartUpdateOutput, UpdateRef, TaskQueueDescription, TaskQueuePoller, TaskQueueBacklog,
} from './client';
export { ScheduleClient, ScheduleHandle, ScheduleOverlapPolicy } from './schedule-client';
export type {
  Backfill, CalendarSpec, IntervalSpec, ScheduleDescription, ScheduleOptions, SchedulePolicies, ScheduleSpec,
  ScheduleStartWorkflowAction, ScheduleState, ScheduleSummary, ScheduleUpdateOptions,
} from './schedule-client';
export { VersioningBehavior } from './common/routing';
export type { Priority, WorkerDeploymentVersion, WorkflowDefinitionOptions } from './common/routing';
export { Context } from './activity';
export type { ActivityInfo } from './activity';
export { Runtime, DefaultLogger, withMetadata } from './worker/runtime';
export type { RuntimeOptions, LogEntry } from './worker/runtime';
export type { Logger, LogLevel, LogMetadata } from './common/logger';
export {
  ActivityCancellationType, ChildWorkflowCancellationType, ParentClosePolicy, RetryState, TimeoutType, WorkflowIdReusePolicy,
} from './common/enums';
export * from './errors';
export {
  ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, DurableFailure, TemporalFailure,
  TerminatedFailure, TimeoutFailure, NonDeterminismError, DeterminismViolationError, isCancellation, encodeFailure,
  decodeFailure,
} from './common/failure';
export type { FailureJSON, ApplicationFailureOptions } from './common/failure';
export { msToNumber, toInterval } from './common/duration';
export type { Duration } from './common/duration';
export {
  CompositePayloadConverter, DefaultPayloadConverter, JsonPayloadConverter, BinaryPayloadConverter, UndefinedPayloadConverter,
  PayloadConverterError, ValueError, defaultPayloadConverter, METADATA_ENCODING_KEY, encodingTypes,
} from './common/payload';
export type { DataConverter, Headers, Payload, PayloadCodec, PayloadConverter, PayloadConverterWithEncoding } from './common/payload';
export { SearchAttributeType, TypedSearchAttributes, defineSearchAttributeKey } from './common/search-attributes';
export type { SearchAttributeKey, SearchAttributePair, SearchAttributeUpdatePair, SearchAttributes } from './common/search-attributes';

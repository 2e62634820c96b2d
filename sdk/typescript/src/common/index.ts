/**
 * What workflow code, activities, workers and clients share (Temporal's
 * @temporalio/common): failures, durations, payload converters and codecs,
 * search attribute keys, interceptor composition, the enums and the
 * Logger shape.  No Node APIs.
 */
export * from './failure';
export * from './duration';
export * from './payload';
export * from './search-attributes';
export * from './interceptors';
export { VersioningBehavior } from './routing';
export type {
  Priority, WorkerDeploymentVersion, WorkflowDefinitionOptions, WorkflowDefinitionOptionsOrGetter,
} from './routing';
export {
  ActivityCancellationType, ChildWorkflowCancellationType, ParentClosePolicy, WorkflowIdReusePolicy,
} from './enums';
export { WorkflowExecutionAlreadyStartedError } from './errors';
export type { Logger, LogLevel, LogMetadata } from './logger';

/**
 * `@temporalio/common` on durable: durable-sdk/common (failures, durations,
 * payload converters and codecs, search attribute keys) with the enums and
 * errors Temporal also exports here.  No Node APIs (workflow code imports it
 * too).
 */
import { unsupported } from './unsupported';

export * from '../common';
export type { RetryPolicy } from '../workflow/internals';
export { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '../errors';
export type { SearchAttributes, SearchAttributeValue } from './workflow';
export { UnsupportedTemporalFeatureError } from './unsupported';

const M = '@temporalio/common';

export const ServerFailure = unsupported(M, 'ServerFailure', 'durable\'s engine reports failures as ApplicationFailure, TimeoutFailure, CancelledFailure or TerminatedFailure');

/**
 * `@temporalio/common` on durable: failures, enums, durations and errors as
 * durable-sdk has them.  No Node APIs (workflow code imports it too).
 */
import { unsupported } from './unsupported';

export {
  ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TemporalFailure, TerminatedFailure,
  TimeoutFailure, IllegalStateError, isCancellation,
} from '../common/failure';
export type { ApplicationFailureOptions } from '../common/failure';
export { ActivityCancellationType, ParentClosePolicy, RetryState, TimeoutType } from '../common/enums';
export { msToNumber } from '../common/duration';
export type { Duration } from '../common/duration';
export type { RetryPolicy } from '../workflow/internals';
export { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '../errors';
export { UnsupportedTemporalFeatureError } from './unsupported';

const M = '@temporalio/common';

export const ServerFailure = unsupported(M, 'ServerFailure', 'durable\'s engine reports failures as ApplicationFailure, TimeoutFailure, CancelledFailure or TerminatedFailure');

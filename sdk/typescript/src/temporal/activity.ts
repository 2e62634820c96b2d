/**
 * `@temporalio/activity` on durable: durable-sdk/activity under Temporal's
 * names, with stubs for what durable lacks (see unsupported.ts).
 */
import { unsupported } from './unsupported';

export * from '../activity';
export { UnsupportedTemporalFeatureError } from './unsupported';

const M = '@temporalio/activity';

export const CompleteAsyncError = unsupported(M, 'CompleteAsyncError',
  'durable has no asynchronous activity completion (the engine completes an activity only from its task token\'s worker call); ' +
    'complete the activity when the work is done, or wait for a signal in the workflow');
export const getClient = unsupported(M, 'getClient', 'an activity has no client in its context; create a Client from a Connection in the activity module');
export const metricMeter = unsupported(M, 'metricMeter', 'durable has no metrics API');

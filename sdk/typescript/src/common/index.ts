/**
 * What workflow code, activities, workers and clients share (Temporal's
 * @temporalio/common): failures, durations, payload converters and codecs,
 * search attribute keys, interceptor composition.  No Node APIs.
 */
export * from './failure';
export * from './duration';
export * from './payload';
export * from './search-attributes';
export * from './interceptors';

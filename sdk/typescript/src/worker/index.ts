export { Worker } from './worker';
export type { WorkerOptions, WorkerState, ActivityFunction } from './worker';
export type { HistoryEvent } from './replay';

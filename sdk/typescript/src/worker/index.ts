export { Worker } from './worker';
export type { WorkerOptions, WorkerState, ActivityFunction, WorkerDeploymentOptions } from './worker';
export { VersioningBehavior } from '../common/routing';
export type { WorkerDeploymentVersion } from '../common/routing';
export type {
  ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInboundCallsInterceptorFactory, ActivityInterceptors,
  ActivityInterceptorsFactory, InjectedSink, InjectedSinkFunction, InjectedSinks, WorkerInterceptors,
} from './interceptors';
export type { WorkerStats } from './host';
export type { HistoryEvent } from './replay';
export { Runtime, DefaultLogger, withMetadata } from './runtime';
export type { RuntimeOptions, LogEntry, Logger, LogLevel, LogMetadata } from './runtime';

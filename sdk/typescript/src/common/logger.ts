/**
 * The logger shape of Temporal's TypeScript SDK (packages/common/src/logger.ts):
 * what the worker, workflow `log` and activity `log` write to.  Any object
 * with these methods can replace the worker's logger (Runtime.install({
 * logger }) or the worker option `logger`).  Types only: loaded inside
 * workflow sandboxes too.
 */

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export type LogMetadata = Record<string | symbol, any>;

export interface Logger {
  log(level: LogLevel, message: string, meta?: LogMetadata): any;
  trace(message: string, meta?: LogMetadata): any;
  debug(message: string, meta?: LogMetadata): any;
  info(message: string, meta?: LogMetadata): any;
  warn(message: string, meta?: LogMetadata): any;
  error(message: string, meta?: LogMetadata): any;
}

/**
 * The activity API (import from "durable-sdk/activity"), as Temporal's
 * (packages/activity/src/index.ts): activities are plain async functions;
 * inside one, Context.current() — or the module-level activityInfo(),
 * heartbeat(), sleep(), cancelled(), cancellationSignal() and log — gives
 * its info, heartbeats, cancellation and logger.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CancelledFailure } from './common/failure';
import { Duration, msToNumber } from './common/duration';
import type { LogLevel, LogMetadata, Logger } from './common/logger';
import type { Priority } from './common/routing';

export { ApplicationFailure, CancelledFailure } from './common/failure';
export type { ApplicationFailureOptions } from './common/failure';
export type { LogLevel, LogMetadata, Logger } from './common/logger';

export interface ActivityInfo {
  /** The engine's task token (text; Temporal's is a Uint8Array): durable.complete_activity etc. take it. */
  taskToken: string;
  /** The task token as base64 (Temporal's field). */
  base64TaskToken: string;
  activityId: string;
  activityType: string;
  workflowId: string;
  runId: string;
  /** Temporal's shape of workflowId and runId. */
  workflowExecution: { workflowId: string; runId: string };
  workflowType: string;
  taskQueue: string;
  /** The namespace the activity runs in: its workflow's (the worker's, WorkerOptions.namespace). */
  namespace: string;
  /** @deprecated Temporal's older name of namespace. */
  activityNamespace: string;
  /** @deprecated Temporal's: the namespace of the workflow that scheduled the activity (always namespace here). */
  workflowNamespace: string;
  /** True in a local activity (proxyLocalActivities), run by the worker that holds its workflow task. */
  isLocal: boolean;
  attempt: number;
  /** Details of the last heartbeat of this or an earlier attempt (`any`, as Temporal declares it). */
  heartbeatDetails: any;
  heartbeatTimeoutMs?: number;
  scheduledTime: Date;
  startedTime: Date;
  /** scheduledTime in milliseconds since the epoch (Temporal's field; the current attempt's). */
  scheduledTimestampMs: number;
  currentAttemptScheduledTimestampMs: number;
  /** When the engine times this attempt out (start-to-close or next heartbeat). */
  deadline?: Date;
  /**
   * The activity's priority (Temporal's ActivityInfo.priority): its
   * priorityKey as the engine dispatched it (its own, else its workflow's);
   * undefined in a local activity.
   */
  priority?: Priority;
}

/** Temporal's name of ActivityInfo. */
export type Info = ActivityInfo;

const storage = new AsyncLocalStorage<Context>();

export class Context {
  // made on first use: most activities never look at them
  private controller?: AbortController;
  private cancelledPromise?: Promise<never>;
  private cancelReason?: CancelledFailure;

  /**
   * @internal made by the worker.  `log` writes to the worker's logger with
   * the activity's attributes (Temporal's: isLocal, attempt, namespace,
   * taskToken, workflowId, workflowRunId, workflowType, activityId,
   * activityType, taskQueue) and sdkComponent "activity".
   */
  constructor(
    readonly info: ActivityInfo,
    private readonly heartbeatFn: (details: unknown) => void,
    public log: Logger = consoleLogger,
  ) {}

  /** Fires when the activity is cancelled (its workflow asked for it, it timed out, or the worker shuts down). */
  get cancellationSignal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.cancelReason) this.controller.abort(this.cancelReason);
    }
    return this.controller.signal;
  }

  /** Rejects with a CancelledFailure when the activity is cancelled. */
  get cancelled(): Promise<never> {
    if (!this.cancelledPromise) {
      const signal = this.cancellationSignal;
      this.cancelledPromise = new Promise<never>((_, reject) => {
        const onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      this.cancelledPromise.catch(() => undefined);
    }
    return this.cancelledPromise;
  }

  static current(): Context {
    const c = storage.getStore();
    if (!c) throw new Error('Activity context not initialized: Context.current() is only available inside an activity');
    return c;
  }

  /** @internal */
  static run<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
    return storage.run(ctx, fn);
  }

  /**
   * Record progress; the details go to the next attempt if this one fails
   * (`info.heartbeatDetails`).  As in Temporal, this does not throw when the
   * activity is cancelled: watch `cancelled`, `cancellationSignal` or use
   * `sleep` for that.  (Bound: `const { heartbeat } = Context.current()` works.)
   */
  readonly heartbeat = (details?: unknown): void => {
    if (this.cancelReason) return;
    this.heartbeatFn(details);
  };

  /** Sleep that ends early (rejecting with the CancelledFailure) when the activity is cancelled. */
  readonly sleep = (ms: Duration): Promise<void> => {
    return new Promise((resolve, reject) => {
      const t = setTimeout(resolve, msToNumber(ms));
      this.cancelled.catch((e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  };

  /** @internal */
  cancel(reason: CancelledFailure): void {
    if (this.cancelReason) return;
    this.cancelReason = reason;
    this.controller?.abort(reason);
  }

  /** @internal */
  get cancellationRequested(): CancelledFailure | undefined {
    return this.cancelReason;
  }
}

/** The logger of a Context made outside a worker (tests): the console. */
const consoleLogger: Logger = {
  log: (level: LogLevel, message: string, meta?: LogMetadata) => console.error(`[${level}] ${message}`, meta ?? ''),
  trace: (message, meta) => consoleLogger.log('TRACE', message, meta),
  debug: (message, meta) => consoleLogger.log('DEBUG', message, meta),
  info: (message, meta) => consoleLogger.log('INFO', message, meta),
  warn: (message, meta) => consoleLogger.log('WARN', message, meta),
  error: (message, meta) => consoleLogger.log('ERROR', message, meta),
};

/** The current activity's info (Context.current().info). */
export function activityInfo(): ActivityInfo {
  return Context.current().info;
}

/** Context.current().heartbeat(details): record progress for the next attempt. */
export function heartbeat(details?: unknown): void {
  Context.current().heartbeat(details);
}

/** Context.current().sleep(ms): a sleep that rejects with CancelledFailure when the activity is cancelled. */
export function sleep(ms: Duration): Promise<void> {
  return Context.current().sleep(ms);
}

/** Context.current().cancelled: rejects with CancelledFailure when the activity is cancelled; never resolves. */
export function cancelled(): Promise<never> {
  return Context.current().cancelled;
}

/** Context.current().cancellationSignal: an AbortSignal that fires when the activity is cancelled. */
export function cancellationSignal(): AbortSignal {
  return Context.current().cancellationSignal;
}

/**
 * The current activity's logger (Context.current().log), looked up at each
 * call: entries carry the activity's attributes.
 */
export const log: Logger = {
  log: (level: LogLevel, message: string, meta?: LogMetadata) => Context.current().log.log(level, message, meta),
  trace: (message: string, meta?: LogMetadata) => Context.current().log.trace(message, meta),
  debug: (message: string, meta?: LogMetadata) => Context.current().log.debug(message, meta),
  info: (message: string, meta?: LogMetadata) => Context.current().log.info(message, meta),
  warn: (message: string, meta?: LogMetadata) => Context.current().log.warn(message, meta),
  error: (message: string, meta?: LogMetadata) => Context.current().log.error(message, meta),
};

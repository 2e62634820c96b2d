/**
 * The activity API: activities are plain async functions; inside one,
 * Context.current() gives its info, heartbeats and cancellation.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CancelledFailure } from './common/failure';
import { Duration, msToNumber } from './common/duration';

export { ApplicationFailure, CancelledFailure } from './common/failure';

export interface ActivityInfo {
  taskToken: string;
  activityId: string;
  activityType: string;
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  attempt: number;
  /** Details of the last heartbeat of this or an earlier attempt. */
  heartbeatDetails: unknown;
  heartbeatTimeoutMs?: number;
  scheduledTime: Date;
  startedTime: Date;
  /** When the engine times this attempt out (start-to-close or next heartbeat). */
  deadline?: Date;
}

const storage = new AsyncLocalStorage<Context>();

export class Context {
  // made on first use: most activities never look at them
  private controller?: AbortController;
  private cancelledPromise?: Promise<never>;
  private cancelReason?: CancelledFailure;

  /** @internal */
  constructor(
    readonly info: ActivityInfo,
    private readonly heartbeatFn: (details: unknown) => void,
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
    if (!c) throw new Error('Context.current() is only available inside an activity');
    return c;
  }

  /** @internal */
  static run<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
    return storage.run(ctx, fn);
  }

  /**
   * Record progress; the details go to the next attempt if this one fails.
   * Throws CancelledFailure once the activity has been cancelled.
   */
  heartbeat(details?: unknown): void {
    if (this.cancelReason) throw this.cancelReason;
    this.heartbeatFn(details);
  }

  /** Sleep that ends early (rejecting) when the activity is cancelled. */
  sleep(ms: Duration): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(resolve, msToNumber(ms));
      this.cancelled.catch((e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

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

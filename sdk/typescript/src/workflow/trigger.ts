/**
 * Trigger: a promise whose resolve and reject are methods (Temporal's
 * @temporalio/workflow trigger.ts).  Made in a cancellable scope, it
 * rejects when that scope is cancelled.  Runs in workflow sandboxes.
 */
import { CancellationScope } from './internals';

export class Trigger<T> implements PromiseLike<T> {
  readonly then: PromiseLike<T>['then'];
  readonly resolve!: (value: T | PromiseLike<T>) => void;
  readonly reject!: (reason?: unknown) => void;

  constructor() {
    const p = new Promise<T>((resolve, reject) => {
      (this as { resolve: unknown }).resolve = resolve;
      (this as { reject: unknown }).reject = reject;
      const scope = CancellationScope.current();
      if (scope.cancellable || scope.consideredCancelled) scope.cancelRequested.catch(reject);
    });
    // a trigger nobody awaits must not report an unhandled rejection
    p.catch(() => undefined);
    this.then = p.then.bind(p) as PromiseLike<T>['then'];
  }
}

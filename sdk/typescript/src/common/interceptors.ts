/**
 * Interceptor composition, as Temporal's @temporalio/common interceptors:
 * each interceptor of a list may implement a method; a call goes through
 * them in list order (the first is the outermost) and ends in `next`, the
 * SDK's own implementation.  Loaded in workflow sandboxes too: no Node APIs.
 */

type AnyFunc = (...args: any[]) => any;
type WithoutLast<T extends unknown[]> = T extends [...infer Head, unknown] ? Head : never;

/** The next step of an intercepted call: the method's type without its `next` parameter. */
export type Next<IF, FN extends keyof IF> = Required<IF>[FN] extends AnyFunc
  ? (...args: WithoutLast<Parameters<Required<IF>[FN]>>) => ReturnType<Required<IF>[FN]>
  : never;

/** Compose the `method` of `interceptors` around `next`. */
export function composeInterceptors<I, M extends keyof I>(interceptors: I[], method: M, next: Next<I, M>): Next<I, M> {
  for (let i = interceptors.length - 1; i >= 0; --i) {
    const interceptor = interceptors[i] as any;
    if (typeof interceptor[method] === 'function') {
      const prev = next as any;
      next = ((input: unknown) => interceptor[method](input, prev)) as any;
    }
  }
  return next;
}

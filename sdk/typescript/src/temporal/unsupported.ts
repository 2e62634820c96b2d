/**
 * What the Temporal compatibility modules (src/temporal/*, published as the
 * @temporalio/* shim packages in compat/temporalio/) cannot offer.  Each
 * unsupported export exists, so that a project's code loads, but it is a
 * function that throws UnsupportedTemporalFeatureError when used, and the
 * worker and client check the project's modules for such imports before they
 * start (src/temporal/check.ts), so the error comes at load time, not in the
 * middle of a workflow.  No Node APIs: the workflow module loads in the
 * sandbox.
 */

/** A Temporal API durable does not offer; `reason` says why and what to use instead. */
export class UnsupportedTemporalFeatureError extends Error {
  constructor(readonly moduleName: string, readonly exportName: string, readonly reason: string, readonly where?: string) {
    super(`${moduleName}: ${exportName} is not supported by durable${where ? ` (used in ${where})` : ''}: ${reason}`);
  }

  override get name(): string {
    return 'UnsupportedTemporalFeatureError';
  }
}

/** Type of an unsupported export: not callable, so TypeScript reports its use, with the reason in the type. */
export interface Unsupported<Reason extends string> {
  readonly durableUnsupported: Reason;
}

/** name -> reason, per Temporal module (what the load-time check looks for). */
export const UNSUPPORTED: Record<string, Record<string, string>> = {};

/**
 * The value of an unsupported export of `moduleName`: a function that throws
 * when called or constructed (e.g. `defineUpdate(...)`, `new ScheduleClient()`).
 */
export function unsupported<R extends string>(moduleName: string, exportName: string, reason: R): Unsupported<R> {
  (UNSUPPORTED[moduleName] ??= {})[exportName] = reason;
  const fail = function (): never {
    throw new UnsupportedTemporalFeatureError(moduleName, exportName, reason);
  };
  Object.defineProperty(fail, 'name', { value: exportName });
  Object.defineProperty(fail, 'durableUnsupported', { value: reason });
  return fail as unknown as Unsupported<R>;
}

/**
 * Sinks: calls from workflow code to functions of the worker process
 * (Temporal's proxySinks, @temporalio/workflow sinks.ts and workflow.ts).
 * A call is recorded with a copy of its arguments (JSON) and of
 * workflowInfo(), and handed to the worker after the activation; the worker
 * calls the sink function (info, ...args) unless the activation was a replay
 * and the function was not registered with callDuringReplay.  Sink functions
 * return nothing to the workflow.  Runs in workflow sandboxes.
 */
import { getActivator } from './internals';

export type SinkFunction = (...args: any[]) => void;
export type Sink = Record<string, SinkFunction>;
export type Sinks = Record<string, Sink>;

/** A sink call as the worker receives it. */
export interface SinkCall {
  ifaceName: string;
  fnName: string;
  args: unknown[];
  /** workflowInfo() when the call was made (JSON: Dates as ISO text). */
  info: Record<string, any>;
}

function copy(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

/** The worker's sinks as functions workflow code can call: `const { logger } = proxySinks<MySinks>()`. */
export function proxySinks<T extends Sinks>(): T {
  return new Proxy({} as T, {
    get(_t, ifaceName) {
      if (typeof ifaceName !== 'string') return undefined;
      return new Proxy({}, {
        get(_s, fnName) {
          if (typeof fnName !== 'string') return undefined;
          return (...args: unknown[]) => {
            const a = getActivator();
            const info = { ...a.info, unsafe: { isReplaying: a.isReplaying, now: a.now } };
            a.sinkCalls.push({ ifaceName, fnName, args: args.map(copy), info: copy(info) as Record<string, any> });
          };
        },
      });
    },
  });
}

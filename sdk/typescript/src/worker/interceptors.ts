/**
 * What a worker is given to extend it, with the shapes of Temporal's
 * @temporalio/worker interceptors.ts and sinks.ts: activity inbound
 * interceptors (made for each activity attempt from its Context), the
 * modules that hold workflow interceptors (loaded into each run's sandbox),
 * and the sinks workflow code calls through proxySinks.
 */
import type { Context } from '../activity';
import type { Headers } from '../common/payload';
import type { SinkCall } from '../workflow/sinks';
import type { LogLevel } from './host';

export interface ActivityExecuteInput {
  readonly args: unknown[];
  readonly headers: Headers;
}

export interface ActivityInboundCallsInterceptor {
  execute?(input: ActivityExecuteInput, next: (input: ActivityExecuteInput) => Promise<unknown>): Promise<unknown>;
}

export type ActivityInboundCallsInterceptorFactory = (ctx: Context) => ActivityInboundCallsInterceptor;

export interface ActivityInterceptors {
  inbound?: ActivityInboundCallsInterceptor;
}

export type ActivityInterceptorsFactory = (ctx: Context) => ActivityInterceptors;

export interface WorkerInterceptors {
  /** Modules exporting `interceptors`, a WorkflowInterceptorsFactory (paths, as require.resolve gives them). */
  workflowModules?: string[];
  /** Temporal's older form: a factory of an inbound interceptor per activity attempt. */
  activityInbound?: ActivityInboundCallsInterceptorFactory[];
  /** Temporal's newer form: a factory of { inbound } per activity attempt. */
  activity?: ActivityInterceptorsFactory[];
}

/** What a sink function receives first: workflowInfo() when the workflow called it (Dates as ISO text). */
export type SinkWorkflowInfo = Record<string, any>;

/** A worker-side sink function. */
export interface InjectedSinkFunction<F extends (...args: any[]) => void> {
  fn(info: SinkWorkflowInfo, ...args: Parameters<F>): void | Promise<void>;
  /** Also call it for calls made while the workflow replays (default false: calls during replay are dropped). */
  callDuringReplay?: boolean;
}

export type InjectedSink<T extends Record<string, (...args: any[]) => void>> = {
  [P in keyof T]: InjectedSinkFunction<T[P]>;
};

export type InjectedSinks<T extends Record<string, Record<string, (...args: any[]) => void>>> = {
  [P in keyof T]: InjectedSink<T[P]>;
};

/** Make the sink calls of one activation (those made while replaying only when callDuringReplay). */
export function callSinks(sinks: Record<string, Record<string, InjectedSinkFunction<any>>> | undefined, calls: SinkCall[],
  log: (level: LogLevel, msg: string) => void): void {
  for (const c of calls) {
    const f = sinks?.[c.ifaceName]?.[c.fnName];
    if (!f) {
      log('warn', `workflow ${c.info?.workflowId} called sink ${c.ifaceName}.${c.fnName}, which the worker does not have`);
      continue;
    }
    if (c.info?.unsafe?.isReplaying && !f.callDuringReplay) continue;
    const info = { ...c.info };
    for (const k of ['startTime', 'runStartTime']) if (typeof info[k] === 'string') info[k] = new Date(info[k]);
    try {
      const r = f.fn(info, ...c.args);
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).catch((e) => log('error', `sink ${c.ifaceName}.${c.fnName} failed: ${(e as Error)?.stack ?? e}`));
      }
    } catch (e) {
      log('error', `sink ${c.ifaceName}.${c.fnName} failed: ${(e as Error)?.stack ?? e}`);
    }
  }
}

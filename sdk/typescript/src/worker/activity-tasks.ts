/**
 * The activity path: run one activity attempt with its Context (info,
 * throttled heartbeats, cancellation), then report the outcome — completed,
 * failed, or cancelled at the workflow's request — asking for the workflow
 * task the result schedules when a workflow-task slot is free (eager
 * dispatch).  An attempt that is no longer outstanding (timed out, its
 * workflow closed) is cancelled through its heartbeats and reports nothing.
 */
import { ActivityInfo, Context } from '../activity';
import { ApplicationFailure, CancelledFailure, encodeFailure } from '../common/failure';
import { composeInterceptors } from '../common/interceptors';
import { headersFromJSON } from '../common/payload';
import { ActivityNotFoundError, StaleTaskTokenError, WorkflowNotRunningError } from '../errors';
import { SQL } from './engine';
import type { TaskHost } from './host';
import type { ActivityInboundCallsInterceptor, WorkerInterceptors } from './interceptors';
import { withMetadata } from './runtime';
import type { Task } from './task';

export type ActivityFunction = (...args: any[]) => Promise<unknown> | unknown;

export class ActivityTasks {
  /** Activities running now (shutdown cancels them when its grace time is over). */
  readonly running = new Set<Context>();

  constructor(private readonly host: TaskHost, private readonly activities: Record<string, ActivityFunction>,
    private readonly interceptors: WorkerInterceptors = {}) {}

  /** The inbound interceptors of one attempt, from the worker's factories. */
  private inboundInterceptors(ctx: Context): ActivityInboundCallsInterceptor[] {
    const out: ActivityInboundCallsInterceptor[] = [];
    for (const f of this.interceptors.activityInbound ?? []) out.push(f(ctx));
    for (const f of this.interceptors.activity ?? []) {
      const i = f(ctx).inbound;
      if (i) out.push(i);
    }
    return out;
  }

  has(activityType: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.activities, activityType);
  }

  /** Run one activity task; resolves to the tasks its completion handed back. */
  async handle(task: Task): Promise<Task[]> {
    const host = this.host;
    host.stats.activityTasks++;
    const token: string = task.task_token;
    const activityType = task.activity_type ?? '';
    const hbMs = task.heartbeat_timeout_ms ?? undefined;
    const scheduledTime = task.scheduled_time as Date;
    const scheduledMs = scheduledTime ? scheduledTime.getTime() : 0;
    const dc = host.dataConverter;
    let input: { args: unknown[]; headers: Record<string, any> };
    let heartbeatDetails: unknown;
    try {
      input = await dc.inputToArgs(task.input);
      heartbeatDetails = task.heartbeat_details == null ? undefined : await dc.fromStored(task.heartbeat_details);
    } catch (e) {
      // a payload the converter or codecs cannot decode: the attempt fails (and is retried) like a failing activity
      const f = encodeFailure(e);
      delete f.cause;
      await host.engine.call(SQL.failActivity01, [token, JSON.stringify(f)])
        .catch((m) => host.log('warn', `reporting activity ${activityType} (${task.workflow_id}/${task.activity_id}): ${(m as Error).message}`));
      return [];
    }
    const info: ActivityInfo = {
      taskToken: token,
      base64TaskToken: Buffer.from(token).toString('base64'),
      activityId: task.activity_id ?? '',
      activityType,
      workflowId: task.workflow_id,
      runId: task.run_id,
      workflowExecution: { workflowId: task.workflow_id, runId: task.run_id },
      workflowType: task.workflow_type,
      taskQueue: task.task_queue,
      namespace: host.namespace,
      activityNamespace: host.namespace,
      workflowNamespace: host.namespace,
      isLocal: false,
      attempt: task.attempt,
      heartbeatDetails,
      heartbeatTimeoutMs: hbMs,
      scheduledTime,
      startedTime: task.started_time as Date,
      scheduledTimestampMs: scheduledMs,
      currentAttemptScheduledTimestampMs: scheduledMs,
      deadline: task.deadline ?? undefined,
      priority: task.priority ? { priorityKey: task.priority } : undefined,
    };
    let cancelKind: 'workflow' | 'gone' | 'shutdown' | undefined;
    let done = false;
    const hb = {
      latest: undefined as unknown, pending: false, inFlight: false, last: 0, timer: undefined as NodeJS.Timeout | undefined,
      flight: undefined as Promise<void> | undefined,
    };
    const throttle = hbMs ? Math.max(50, Math.min(hbMs * 0.8, 30_000)) : 1000;
    const send = (): void => {
      if (done || hb.inFlight || !hb.pending) return;
      const wait = hb.last + throttle - Date.now();
      if (wait > 0) {
        if (!hb.timer) hb.timer = setTimeout(() => ((hb.timer = undefined), send()), wait);
        return;
      }
      hb.inFlight = true;
      hb.pending = false;
      hb.last = Date.now();
      hb.flight = dc.toStored(hb.latest)
        .then((details) => host.engine.callOnce(SQL.heartbeat, [token, JSON.stringify(details)]))
        .then((cancelRequested) => {
          if (cancelRequested && !cancelKind) {
            cancelKind = 'workflow';
            ctx.cancel(new CancelledFailure('Activity cancelled'));
          }
        })
        .catch((m) => {
          if ((m instanceof StaleTaskTokenError || m instanceof ActivityNotFoundError || m instanceof WorkflowNotRunningError) && !cancelKind) {
            cancelKind = 'gone';
            ctx.cancel(new CancelledFailure('Activity no longer outstanding (timed out, or its workflow closed)'));
          }
        })
        .finally(() => {
          hb.inFlight = false;
          send();
        });
    };
    const ctx = new Context(info, (details) => {
      hb.latest = details;
      hb.pending = true;
      send();
    }, withMetadata(host.logger, {
      isLocal: false, attempt: info.attempt, namespace: info.namespace, taskToken: token, workflowId: info.workflowId,
      workflowRunId: info.runId, workflowType: info.workflowType, activityId: info.activityId, activityType,
      taskQueue: info.taskQueue, sdkComponent: 'activity',
    }));
    this.running.add(ctx);
    const origCancel = ctx.cancel.bind(ctx);
    ctx.cancel = (reason: CancelledFailure) => {
      if (!cancelKind) cancelKind = 'shutdown';
      origCancel(reason);
    };
    try {
      const fn = this.activities[activityType];
      let result: unknown;
      let error: unknown;
      let ok = false;
      try {
        if (typeof fn !== 'function') {
          throw ApplicationFailure.retryable(`activity "${activityType}" is not registered on worker ${host.identity}`, 'ActivityNotRegistered');
        }
        const inbound = this.inboundInterceptors(ctx);
        const execute = composeInterceptors(inbound, 'execute', async (i) => fn(...i.args));
        result = await Context.run(ctx, async () => execute({ args: input.args, headers: headersFromJSON(input.headers) }));
        ok = true;
      } catch (e) {
        error = e;
      }
      done = true;
      if (hb.timer) clearTimeout(hb.timer);
      // the workflow task this completion schedules, handed back if a slot is reserved for it
      let reserved = false;
      try {
        let handed: unknown;
        const eager = host.engine.eager;
        if (ok) {
          const payload = JSON.stringify(await dc.toStored(result));
          reserved = host.reserveWorkflowTask(task);
          const r = eager
            ? await host.engine.call(SQL.completeActivity, [token, payload, reserved])
            : await host.engine.call(SQL.completeActivity01, [token, payload]);
          handed = r?.tasks;
        } else if (cancelKind === 'workflow') {
          await host.engine.call(SQL.activityCanceled, [token, JSON.stringify(await dc.toStored(hb.latest))]);
        } else if (cancelKind === 'gone') {
          // nothing to report: the attempt is no longer outstanding
        } else {
          // details of a heartbeat still held back by the throttle go out first, so the next
          // attempt sees them (Temporal's RespondActivityTaskFailed carries last_heartbeat_details;
          // durable.fail_activity has no such argument)
          if (hb.pending) {
            await hb.flight;
            await dc.toStored(hb.latest)
              .then((details) => host.engine.callOnce(SQL.heartbeat, [token, JSON.stringify(details)]))
              .catch(() => undefined);
          }
          const f = await dc.failureToStored(encodeFailure(error));
          delete f.cause;
          if (f.next_retry_delay !== undefined && !host.engine.temporalFields) {
            delete f.next_retry_delay;
            host.log('warn', `activity ${activityType} (${task.workflow_id}/${task.activity_id}) failed with nextRetryDelay: ` +
              'this engine (before durable 0.3) has no next retry delay, the retry policy\'s backoff applies');
          }
          const payload = JSON.stringify(f);
          host.stats.failedActivityTasks++;
          reserved = host.reserveWorkflowTask(task);
          const r = eager
            ? await host.engine.call(SQL.failActivity, [token, payload, reserved])
            : await host.engine.call(SQL.failActivity01, [token, payload]);
          handed = r?.tasks;
        }
        const wasReserved = reserved;
        reserved = false;
        return host.handedOut(handed, 0, wasReserved);
      } catch (e) {
        if (reserved) host.releaseReserved(0, true);
        host.log(e instanceof StaleTaskTokenError ? 'debug' : 'warn',
          `reporting activity ${activityType} (${task.workflow_id}/${task.activity_id}): ${(e as Error).message}`);
        return [];
      }
    } finally {
      this.running.delete(ctx);
    }
  }
}

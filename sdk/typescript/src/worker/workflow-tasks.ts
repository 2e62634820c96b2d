/**
 * The workflow-task path: the cache of workflow runs (LRU, maxCachedWorkflows)
 * and the handling of one workflow task — continue the cached run or replay
 * from scratch, complete the task (asking for eager activities and for the
 * next workflow task), or fail it.
 *
 * Sticky execution.  When the worker's completions run with
 * durable.sticky_execution on, the engine remembers this worker for the run
 * and its next workflow task started for this worker carries only the
 * events after the task it completed (the first is that task's
 * WorkflowTaskCompleted).  The cached run continues from such a partial
 * history exactly as from a whole one (WorkflowRun works on event ids).  A
 * partial history without a cached run that continues it (evicted, worker
 * restarted, the cache failed) costs one more round trip: the whole history
 * from durable.workflow_task_history, replayed from scratch.  A worker that
 * is not the run's sticky worker always receives the whole history.
 */
import { FailureJSON, NonDeterminismError, encodeFailure } from '../common/failure';
import { StaleTaskTokenError } from '../errors';
import type { Command } from '../workflow/internals';
import { jsonContains } from '../common/routing';
import { SQL } from './engine';
import type { TaskHost } from './host';
import { CacheMismatch, HistoryEvent, UpdateMessage, WorkflowRun, WorkflowTaskFailure, closesWorkflow } from './replay';
import { LocalActivities, LocalActivitiesParked, RestartWorkflowTask, WorkflowTaskState } from './local-activities';
import type { Task } from './task';

/** Temporal's cap on the activities one workflow task asks to run eagerly. */
const MAX_EAGER_ACTIVITIES_PER_WORKFLOW_TASK = 3;

/**
 * Runs kept between their workflow tasks, least recently used first.  A run
 * is either in the cache or held by the task working on it (take() removes
 * it), never both; a run that leaves for good is disposed (its sandbox goes
 * back to the pool).
 */
export class RunCache {
  private readonly runs = new Map<string, WorkflowRun>();

  /** Runs evicted to make room (least recently used), for metrics. */
  evictions = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.runs.size;
  }

  /** Remove the run and hand it to the caller, who puts it back or disposes of it. */
  take(runId: string): WorkflowRun | undefined {
    const run = this.runs.get(runId);
    if (run) this.runs.delete(runId);
    return run;
  }

  /** The cached run, left in the cache (queries: used synchronously). */
  peek(runId: string): WorkflowRun | undefined {
    return this.runs.get(runId);
  }

  /** Keep the run (most recently used); evicts the least recently used beyond max. */
  put(run: WorkflowRun): void {
    if (this.max <= 0) {
      run.dispose();
      return;
    }
    this.runs.set(run.runId, run);
    while (this.runs.size > this.max) {
      const [id, oldest] = this.runs.entries().next().value as [string, WorkflowRun];
      this.runs.delete(id);
      this.evictions++;
      oldest.dispose();
    }
  }

  clear(): void {
    for (const run of this.runs.values()) run.dispose();
    this.runs.clear();
  }
}

/** The commands with each accept_update's args replaced by the args of its request in `messages`. */
function withRequestArgs(commands: Command[], messages: UpdateMessage[]): Command[] {
  if (!commands.some((c) => c.type === 'accept_update')) return commands;
  const byId = new Map(messages.map((m) => [m.update_id, m]));
  return commands.map((c) => {
    const m = c.type === 'accept_update' ? byId.get(c.update_id as string) : undefined;
    return m ? { ...c, args: m.args ?? null } : c;
  });
}

export class WorkflowTasks {
  constructor(private readonly host: TaskHost, readonly cache: RunCache, readonly local?: LocalActivities) {}

  newRun(task: Task): WorkflowRun {
    return new WorkflowRun({
      workflowId: task.workflow_id, runId: task.run_id, workflowType: task.workflow_type, namespace: this.host.namespace,
      entry: this.host.entryFor(task.workflow_type), logger: this.host.logger, buildId: this.host.buildId, ...this.host.runOptions,
    });
  }

  /** Run one workflow task; resolves to the tasks its completion handed back. */
  async handle(task: Task): Promise<Task[]> {
    const host = this.host;
    const receivedAt = Date.now();
    host.stats.workflowTasks++;
    let history = task.history ?? [];
    const partial = history.length > 0 && history[0].event_id !== 1;
    if (partial) host.stats.partialHistories++;
    let run = this.cache.take(task.run_id);
    let commands: Command[] | null = null;
    const dc = host.dataConverter;
    let messages = task.messages;
    try {
      // payload codecs run here, outside the sandbox (it converts the decoded payloads)
      if (dc.codecs.length) history = await dc.decodeHistory(history);
      if (dc.codecs.length && messages) messages = await dc.decodeMessages(messages);
      if (run) {
        try {
          commands = run.advance(history, false, false, messages);
          host.stats.cacheHits++;
        } catch (e) {
          if (!(e instanceof CacheMismatch || e instanceof NonDeterminismError)) throw e;
          host.log('debug', `cache of ${task.workflow_id} not usable: ${(e as Error).message}`);
          run.dispose();
          run = undefined;
        }
      }
      if (!run) {
        this.local?.dropParked(task.run_id); // replayed from scratch: it asks for its local activities again
        if (partial) history = await dc.decodeHistory(await this.wholeHistory(task));
        host.stats.fullReplays++;
        run = this.newRun(task);
        commands = run.advance(history, false, false, messages);
      }
    } catch (e) {
      run?.dispose();
      if (e instanceof StaleTaskTokenError) {
        host.log('debug', `workflow task of ${task.workflow_id} is stale: ${e.message}`);
        return [];
      }
      await this.fail(task, e);
      return [];
    }
    if (this.local && (run.local.waiting || this.local.hasParked(run.runId))) {
      // local activities: run them while holding the task (local-activities.ts)
      const state: WorkflowTaskState = { task, commands: commands ?? [], receivedAt };
      try {
        await this.local.drive(state, run);
      } catch (e) {
        if (e instanceof LocalActivitiesParked) {
          host.log('debug', e.message);
          this.cache.put(run);
          return [];
        }
        run.dispose();
        if (e instanceof RestartWorkflowTask) return this.handle(e.task);
        if (e instanceof StaleTaskTokenError) {
          host.log('debug', `workflow task of ${task.workflow_id}: ${(e as Error).message}`);
          return [];
        }
        await this.fail(state.task, e);
        return [];
      }
      task = state.task;
      commands = state.commands;
    }
    let send = commands ?? [];
    // accept_update echoes the request's args as the engine sent them (not decoded by the codecs)
    if (task.messages) send = withRequestArgs(send, task.messages);
    if (dc.codecs.length) {
      try {
        send = await dc.encodeCommands(send);
      } catch (e) {
        run.dispose();
        await this.fail(task, e);
        return [];
      }
    }
    let reservedActivities = 0;
    // the workflow task this completion schedules (events arrived meanwhile) runs in this task's slot
    let returnWorkflowTask = false;
    if (host.eagerNow() && !closesWorkflow(send)) {
      ({ commands: send, reserved: reservedActivities } = this.requestEagerActivities(task, send));
      returnWorkflowTask = true;
    }
    let result: { outcome?: string; tasks?: unknown[] } | null;
    try {
      const payload = JSON.stringify(send);
      const behavior = host.versioningBehaviorOf(run);
      result = behavior !== undefined
        ? await host.engine.call(SQL.completeWftVersioned, [task.task_token, payload, returnWorkflowTask, behavior])
        : host.engine.eager
          ? await host.engine.call(SQL.completeWft, [task.task_token, payload, returnWorkflowTask])
          : await host.engine.call(SQL.completeWft01, [task.task_token, payload]);
    } catch (e) {
      host.releaseReserved(reservedActivities, false);
      run.dispose();
      if (e instanceof StaleTaskTokenError) {
        host.log('debug', `workflow task of ${task.workflow_id} is stale: ${e.message}`);
        return [];
      }
      await this.fail(task, e);
      return [];
    }
    // cache first: a workflow task handed back continues from this run
    if (result?.outcome === 'completed' && !run.closed) {
      // a task that only rejected updates may have been dropped by the engine (speculative): continue from before it
      if (task.messages && run.rewindSpeculative(send)) host.log('debug', `${task.workflow_id}: update rejections only, run rewound`);
      this.cache.put(run);
    } else {
      run.dispose();
    }
    return host.handedOut(result?.tasks, reservedActivities, false);
  }

  /** The whole history of the task (its own history is partial and no cached run continues it). */
  private async wholeHistory(task: Task): Promise<HistoryEvent[]> {
    this.host.stats.historyFetches++;
    return (await this.host.engine.call(SQL.wftHistory, [task.task_token])) as HistoryEvent[];
  }

  /**
   * Ask for the activities of these commands to be started for this worker
   * in the completion's transaction (request_eager_execution), as many as
   * there are free activity slots (reserved here), at most 3: activities on
   * the workflow's own task queue whose type this worker has, and that
   * this worker may take (not pinned to another worker, no capability it
   * lacks).
   */
  private requestEagerActivities(task: Task, commands: Command[]): { commands: Command[]; reserved: number } {
    let reserved = 0;
    let out = commands;
    for (let i = 0; i < commands.length && reserved < MAX_EAGER_ACTIVITIES_PER_WORKFLOW_TASK; i++) {
      const c = commands[i];
      if (c.type !== 'schedule_activity') continue;
      if (c.pinned_worker !== undefined && c.pinned_worker !== this.host.identity) continue;
      if (c.required_capabilities !== undefined && !jsonContains(this.host.capabilities ?? {}, c.required_capabilities)) continue;
      if (!this.host.reserveEagerActivity(task, c.activity_type as string, c.task_queue as string | undefined)) continue;
      if (out === commands) out = commands.slice();
      out[i] = { ...c, request_eager_execution: true };
      reserved++;
    }
    return { commands: out, reserved };
  }

  private async fail(task: Task, err: unknown): Promise<void> {
    const host = this.host;
    host.stats.failedWorkflowTasks++;
    const failure = workflowTaskFailure(err);
    host.log('warn', `workflow task of ${task.workflow_id} (run ${task.run_id}, attempt ${task.attempt}) failed: ${failure.message}`);
    try {
      await host.engine.call(SQL.failWft, [task.task_token, JSON.stringify(failure)]);
    } catch (e) {
      host.log('debug', `fail_workflow_task: ${(e as Error).message}`);
    }
  }
}

/**
 * The failure a worker sends to fail_workflow_task for an error of a
 * workflow task: a non-determinism has type "NonDeterminismError" and, as
 * docs/protocol.md's conventions say, the event in details.event_id.
 */
export function workflowTaskFailure(err: unknown): FailureJSON {
  const failure: FailureJSON = err instanceof WorkflowTaskFailure ? err.failure : encodeFailure(err);
  if (err instanceof NonDeterminismError) {
    failure.type = 'NonDeterminismError';
    if (err.eventId !== undefined && (failure.details === undefined || failure.details === null)) {
      failure.details = { event_id: err.eventId };
    }
  }
  return failure;
}

/**
 * What the task paths (workflow-tasks.ts, activity-tasks.ts,
 * query-tasks.ts) need from their worker: the engine, the slots they may
 * reserve for the tasks a completion hands back, counters and the log.
 * The Worker implements it.
 */
import type { Logger } from '../common/logger';
import type { LoadedDataConverter } from '../converter';
import type { Engine } from './engine';
import type { WorkflowRun, WorkflowRunOptions } from './replay';
import type { WorkflowEntry } from './sandbox';
import type { Task } from './task';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The worker's counters (worker.stats). */
export interface WorkerStats {
  workflowTasks: number;
  /** Workflow tasks that replayed the run from its first event (not served by the cache). */
  fullReplays: number;
  /** Workflow tasks served by the cached run. */
  cacheHits: number;
  /** Workflow tasks that received only the events after the last task this worker completed. */
  partialHistories: number;
  /** Whole histories read with durable.workflow_task_history (a partial history the cache could not continue). */
  historyFetches: number;
  activityTasks: number;
  queryTasks: number;
  failedWorkflowTasks: number;
  /** Activity attempts that failed (fail_activity; cancellations and timeouts not included). */
  failedActivityTasks: number;
  /** Tasks claimed with durable.poll_task. */
  polledTasks: number;
  /** Tasks handed back by completions (eager dispatch). */
  eagerActivityTasks: number;
  eagerWorkflowTasks: number;
}

export interface TaskHost {
  readonly engine: Engine;
  readonly identity: string;
  /** The namespace the worker polls: every task it gets is of a run there. */
  readonly namespace: string;
  readonly stats: WorkerStats;
  /** The worker's logger (WorkerOptions.logger, else the Runtime's): activities' and workflows' `log` write here. */
  readonly logger: Logger;
  /** The worker's build id (WorkerOptions.buildId or workerDeploymentOptions); undefined: unversioned. */
  readonly buildId?: string;
  /** The worker's capabilities (WorkerOptions.capabilities). */
  readonly capabilities?: Record<string, unknown>;
  /**
   * What a versioned worker tells the engine about the run on each
   * completion of its workflow tasks: 'pinned' or 'auto_upgrade';
   * undefined for an unversioned worker (the argument is left out).
   */
  versioningBehaviorOf(run: WorkflowRun): 'pinned' | 'auto_upgrade' | undefined;
  /** The worker's data converter (payload converter and codecs). */
  readonly dataConverter: LoadedDataConverter;
  /** What every workflow run of this worker gets: interceptor modules, payload converter, sinks. */
  readonly runOptions: Pick<WorkflowRunOptions, 'extras' | 'onSinkCalls'>;
  log(level: LogLevel, msg: string): void;
  /** Where the workflow function of a type lives (undefined: not registered). */
  entryFor(workflowType: string): WorkflowEntry | undefined;
  /** Completions may ask for tasks now (eager dispatch on, the worker running). */
  eagerNow(): boolean;
  /** Reserve an activity slot for an activity of this type and queue to be handed out; false if not possible. */
  reserveEagerActivity(task: Task, activityType: string, taskQueue: string | undefined): boolean;
  /** Reserve a workflow-task slot for the workflow task a completion of `task` may hand back; false if not possible. */
  reserveWorkflowTask(task: Task): boolean;
  /** The tasks a completion handed back, each given one of the reserved slots (see Worker.handedOut). */
  handedOut(tasks: unknown, reservedActivities: number, reservedWorkflowTask: boolean): Task[];
  releaseReserved(activities: number, workflowTask: boolean): void;
}

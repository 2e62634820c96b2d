/**
 * Replay: history events -> activations -> commands, checked against the
 * history.  As in Temporal, every WorkflowTaskStarted that was completed
 * (or is the last event, the task being worked on) ends an activation; the
 * events between two such boundaries are applied in order, the workflow runs
 * until it blocks, and the commands it produced are matched against the
 * command events written when that task completed.
 *
 * Updates (docs/protocol.md "Updates").  The updates a workflow task
 * carries as messages are applied after the task's events, in order, with
 * their validators (update jobs, workflow/updates.ts).  On replay, the
 * updates a task accepted are read from the WorkflowExecutionUpdateAccepted
 * events among its command events, and applied at the same place, without
 * the validator, as Temporal's core SDK does; accept_update and
 * complete_update commands are matched with those events and with
 * WorkflowExecutionUpdateCompleted.  A rejection writes no event: its
 * reject_update command is not matched.
 */
import { FailureJSON, NonDeterminismError } from '../common/failure';
import type { Logger } from '../common/logger';
import { unwrapInput } from '../common/payload';
import type { ActivationInput, Command, IndexedCommandType, Job } from '../workflow/internals';
import type { LocalActivityCancel, LocalActivityMarker, LocalActivityRequest } from '../workflow/local-activities';
import { LocalActivityRun, isLocalMarkerCommand, isLocalMarkerEvent, localMarkersOf } from './local-activities';
import type { SinkCall } from '../workflow/sinks';
import { Sandbox, SandboxExtras, WorkflowEntry } from './sandbox';

export interface HistoryEvent {
  event_id: number;
  event_type: string;
  event_time: string;
  attributes: Record<string, any>;
}

export const PATCH_MARKER = 'core_patch';

const COMMAND_EVENTS: Record<string, string> = {
  ActivityTaskScheduled: 'schedule_activity',
  ActivityTaskCancelRequested: 'request_cancel_activity',
  TimerStarted: 'start_timer',
  TimerCanceled: 'cancel_timer',
  MarkerRecorded: 'record_marker',
  UpsertWorkflowSearchAttributes: 'upsert_search_attributes',
  StartChildWorkflowExecutionInitiated: 'start_child_workflow',
  SignalExternalWorkflowExecutionInitiated: 'signal_external_workflow',
  RequestCancelExternalWorkflowExecutionInitiated: 'request_cancel_external_workflow',
  WorkflowExecutionCompleted: 'complete_workflow',
  WorkflowExecutionFailed: 'fail_workflow',
  WorkflowExecutionCanceled: 'cancel_workflow',
  WorkflowExecutionContinuedAsNew: 'continue_as_new',
  WorkflowExecutionUpdateAccepted: 'accept_update',
  WorkflowExecutionUpdateCompleted: 'complete_update',
};

/** An update a workflow task carries (the task's `messages`). */
export interface UpdateMessage {
  update_id: string;
  name: string;
  args: unknown;
}

const CLOSE_COMMANDS = new Set(['complete_workflow', 'fail_workflow', 'cancel_workflow', 'continue_as_new']);

export function isCommandEvent(e: HistoryEvent): boolean {
  return e.event_type in COMMAND_EVENTS;
}

export function closesWorkflow(commands: Command[]): boolean {
  return commands.some((c) => CLOSE_COMMANDS.has(c.type));
}

/** The cached run cannot continue with this history: replay from scratch. */
export class CacheMismatch extends Error {}

/**
 * A new run was given a history that does not begin with event 1 (a
 * sticky worker's partial history): replay from the whole history.
 */
export class PartialHistory extends CacheMismatch {}

/** A workflow task failed because of the workflow code (not the history). */
export class WorkflowTaskFailure extends Error {
  constructor(public readonly failure: FailureJSON) {
    super(failure.message);
  }
}

function describeEvent(e: HistoryEvent): string {
  const a = e.attributes ?? {};
  switch (e.event_type) {
    case 'ActivityTaskScheduled':
      return `ActivityTaskScheduled(activity_id=${a.activity_id}, activity_type=${a.activity_type})`;
    case 'TimerStarted':
    case 'TimerCanceled':
      return `${e.event_type}(timer_id=${a.timer_id})`;
    case 'MarkerRecorded':
      return `MarkerRecorded(marker_name=${a.marker_name}${a.details?.patch_id ? `, patch_id=${a.details.patch_id}` : ''})`;
    case 'ActivityTaskCancelRequested':
      return `ActivityTaskCancelRequested(scheduled_event_id=${a.scheduled_event_id})`;
    case 'StartChildWorkflowExecutionInitiated':
      return `StartChildWorkflowExecutionInitiated(workflow_id=${a.workflow_id}, workflow_type=${a.workflow_type})`;
    case 'SignalExternalWorkflowExecutionInitiated':
      return `SignalExternalWorkflowExecutionInitiated(workflow_id=${a.workflow_execution?.workflow_id}, signal_name=${a.signal_name})`;
    case 'RequestCancelExternalWorkflowExecutionInitiated':
      return `RequestCancelExternalWorkflowExecutionInitiated(workflow_id=${a.workflow_execution?.workflow_id})`;
    case 'WorkflowExecutionUpdateAccepted':
      return `WorkflowExecutionUpdateAccepted(update_id=${a.protocol_instance_id}, name=${a.accepted_request?.input?.name})`;
    case 'WorkflowExecutionUpdateCompleted':
      return `WorkflowExecutionUpdateCompleted(update_id=${a.meta?.update_id})`;
    default:
      return e.event_type;
  }
}

function describeCommand(c: Command): string {
  switch (c.type) {
    case 'schedule_activity':
      return `schedule_activity(activity_id=${c.activity_id}, activity_type=${c.activity_type})`;
    case 'start_timer':
    case 'cancel_timer':
      return `${c.type}(timer_id=${c.timer_id})`;
    case 'record_marker':
      return `record_marker(marker_name=${c.marker_name}${(c.details as any)?.patch_id ? `, patch_id=${(c.details as any).patch_id}` : ''})`;
    case 'request_cancel_activity':
      return `request_cancel_activity(activity_id=${c.activity_id})`;
    case 'start_child_workflow':
      return `start_child_workflow(workflow_id=${c.workflow_id}, workflow_type=${c.workflow_type})`;
    case 'signal_external_workflow':
      return `signal_external_workflow(workflow_id=${c.workflow_id}, signal_name=${c.signal_name})`;
    case 'request_cancel_external_workflow':
      return `request_cancel_external_workflow(workflow_id=${c.workflow_id})`;
    case 'accept_update':
      return `accept_update(update_id=${c.update_id}, name=${c.name})`;
    case 'complete_update':
      return `complete_update(update_id=${c.update_id})`;
    default:
      return c.type;
  }
}

function isPatchMarkerEvent(e: HistoryEvent | undefined): boolean {
  return !!e && e.event_type === 'MarkerRecorded' && e.attributes?.marker_name === PATCH_MARKER;
}
function isPatchMarkerCommand(c: Command | undefined): boolean {
  return !!c && c.type === 'record_marker' && c.marker_name === PATCH_MARKER;
}

function ms(t: string): number {
  return Date.parse(t);
}

const NO_PATCHES: string[] = [];

/**
 * Index of the next boundary at or after `from`: a WorkflowTaskStarted
 * followed by its WorkflowTaskCompleted, or (unless stored) the last event,
 * the task being worked on; -1 if none.
 */
function findBoundary(events: HistoryEvent[], from: number, stored: boolean): number {
  const n = events.length;
  for (let k = from; k < n; k++) {
    if (events[k].event_type !== 'WorkflowTaskStarted') continue;
    if (k + 1 < n) {
      if (events[k + 1].event_type === 'WorkflowTaskCompleted') return k;
    } else if (!stored) {
      return k;
    }
  }
  return -1;
}

/** An update job (workflow/updates.ts): the request's args (a stored input, maybe with headers). */
function updateJob(id: string, name: string, input: unknown, runValidator: boolean): Job {
  const { args, headers } = unwrapInput(input);
  return { type: 'update', id, name, args, headers, input, runValidator };
}

/** The update job of a WorkflowExecutionUpdateAccepted event on replay: its accepted request, no validator. */
function acceptedUpdateJob(e: HistoryEvent): Job {
  const a = e.attributes ?? {};
  const req = a.accepted_request ?? {};
  return updateJob(a.protocol_instance_id ?? req.meta?.update_id, req.input?.name, req.input?.args ?? null, false);
}

/** Index of the first command event of events[from, end), or end. */
function nextCommandEvent(events: HistoryEvent[], from: number, end: number): number {
  let k = from;
  while (k < end && !(events[k].event_type in COMMAND_EVENTS)) k++;
  return k;
}

export interface WorkflowRunOptions {
  workflowId: string;
  runId: string;
  workflowType: string;
  /** The run's namespace, workflowInfo().namespace (default "default": the replayer's). */
  namespace?: string;
  entry: WorkflowEntry | undefined;
  /** Where the workflow's `log` writes (default: the Runtime's logger). */
  logger?: Logger;
  /** Interceptor modules and payload converter of the worker. */
  extras?: SandboxExtras;
  /** The sink calls of each activation (the worker decides which to make). */
  onSinkCalls?: (calls: SinkCall[]) => void;
  /** The worker's build id (workflowInfo().currentBuildId of new workflow tasks); undefined: unversioned. */
  buildId?: string;
}

/**
 * One workflow run's state in a worker: its sandbox and how far into the
 * history it has got.  Kept in the worker's cache between tasks.
 *
 * Positions are event ids, never array indexes: a history may be the whole
 * history (a poll by a worker without the run, a query, the replayer, an
 * engine older than 0.3) or, for a sticky worker, only the events after the
 * last workflow task this worker completed (the first event is then that
 * task's WorkflowTaskCompleted, whose id is lastBoundary.event_id + 1).
 */
export class WorkflowRun {
  sandbox?: Sandbox;
  /** Id of the first history event not yet applied (1 for a new run). */
  nextEventId = 1;
  /** The boundary (WorkflowTaskStarted) the workflow last ran at. */
  lastBoundary?: HistoryEvent;
  /** Commands of the last activation, to match against the next completion block. */
  pending: Command[] | null = null;
  /** ActivityTaskScheduled event id -> activity id. */
  private activityIds = new Map<number, string>();
  /**
   * Initiated event id -> index of its command among the run's commands of
   * its type (see workflow/children.ts), for the events that refer back to
   * it; and how many of each type were matched so far.
   */
  private indexes = new Map<number, number>();
  private indexed: Record<IndexedCommandType, number> = {
    start_child_workflow: 0, signal_external_workflow: 0, request_cancel_external_workflow: 0,
  };
  /** Whether the last activation closed the workflow. */
  closed = false;
  /**
   * Where the run stood before its last activation, when that activation
   * had no event to apply (only update messages): rewindSpeculative() goes
   * back there.
   */
  private beforeLast?: { lastBoundary: HistoryEvent | undefined; nextEventId: number };
  /** Local activities the workflow asked for and the worker has not taken yet (local-activities.ts). */
  readonly local = new LocalActivityRun();
  /** The sandbox went back to the pool: the run cannot continue. */
  private disposed = false;
  /** Identity of the latest ActivityTaskStarted applied (pinToPreviousWorker, see workflow/internals.ts). */
  private lastActivityWorker?: string;
  /** The workflow definition's versioning behaviour (setWorkflowOptions), known once its function started. */
  versioningBehavior?: string;

  constructor(private readonly opts: WorkflowRunOptions) {}

  get runId(): string {
    return this.opts.runId;
  }

  /**
   * Apply the history from where this run stopped.  Returns the commands
   * of the final activation if the history ends with a workflow task to
   * work on, else null.  In `stored` mode (histories from get_history or
   * query tasks) no activation is treated as new; with applyTrailing, events
   * after the last completed workflow task are applied too (for queries; the
   * run cannot continue afterwards).  Throws CacheMismatch when the history
   * does not continue this run (PartialHistory for a new run given only the
   * tail of a history).
   */
  advance(events: HistoryEvent[], stored = false, applyTrailing = false, messages: UpdateMessage[] | null = null): Command[] | null {
    this.beforeLast = undefined;
    if (this.disposed) throw new CacheMismatch('the run was disposed of');
    let start = this.lastBoundary ? this.continuation(events) : 0;
    if (!this.lastBoundary && events.length > 0 && events[0].event_id !== 1) {
      throw new PartialHistory(`history begins at event ${events[0].event_id}, not 1`);
    }
    for (;;) {
      const b = findBoundary(events, start, stored);
      const end = b < 0 ? events.length : b + 1;
      if (this.pending !== null) {
        if (start === end) return null;
        if (events[start].event_type !== 'WorkflowTaskCompleted') {
          throw new CacheMismatch(`workflow task ${this.lastBoundary?.event_id} did not complete`);
        }
        this.match(this.pending, events, start, end, this.lastBoundary!);
        this.pending = null;
      }
      if (b < 0) {
        if (stored && applyTrailing) {
          // queries: also apply events no workflow task has processed yet
          // (signals, completions) so the answer reflects them; throwaway runs only
          const jobs = this.jobs(events, start, end);
          if (jobs.length) {
            const last = events[events.length - 1];
            if (!this.sandbox) this.createSandbox(events, last);
            this.activate(jobs, ms(last.event_time), true, NO_PATCHES, last);
            this.pending = null;
            this.lastBoundary = undefined;
          }
        }
        return null;
      }
      const boundary = events[b];
      const replaying = b + 1 < events.length && events[b + 1].event_type === 'WorkflowTaskCompleted';
      const jobs = this.jobs(events, start, end);
      const eventJobs = jobs.length;
      // patches this activation's commands recorded (Temporal's NotifyHasPatch), and the updates it accepted
      let patches = NO_PATCHES;
      for (let k = b + 1; k < events.length && events[k].event_type !== 'WorkflowTaskStarted'; k++) {
        const pid = isPatchMarkerEvent(events[k]) ? events[k].attributes.details?.patch_id : undefined;
        if (pid) (patches === NO_PATCHES ? (patches = []) : patches).push(pid);
        if (events[k].event_type === 'WorkflowExecutionUpdateAccepted') jobs.push(acceptedUpdateJob(events[k]));
      }
      if (!replaying && !stored && messages) {
        for (const m of messages) jobs.push(updateJob(m.update_id, m.name, m.args, true));
      }
      if (!replaying) {
        this.beforeLast = eventJobs === 0 ? { lastBoundary: this.lastBoundary, nextEventId: this.nextEventId } : undefined;
      }
      if (!this.sandbox) this.createSandbox(events, boundary);
      const commands = this.activate(jobs, ms(boundary.event_time), replaying, patches, boundary,
        replaying ? localMarkersOf(events, b + 1) : undefined, undefined, replaying ? events[b + 1] : undefined);
      this.pending = commands;
      this.lastBoundary = boundary;
      this.nextEventId = boundary.event_id + 1;
      start = b + 1;
      if (closesWorkflow(commands)) this.closed = true;
      if (!replaying) return commands;
    }
  }

  /**
   * Index in events of the first event after lastBoundary, checking that
   * the history continues this run: either it holds the boundary itself
   * (same id, same time: the same workflow task, not a later attempt), or
   * it begins right after it with the completion of that task.
   */
  private continuation(events: HistoryEvent[]): number {
    const boundary = this.lastBoundary!;
    if (events.length === 0) throw new CacheMismatch('empty history');
    const k = this.nextEventId - events[0].event_id;
    if (k < 0 || k > events.length) {
      throw new CacheMismatch(`history (events ${events[0].event_id}..${events[events.length - 1].event_id}) does not continue the cached execution at event ${boundary.event_id}`);
    }
    if (k > 0) {
      const b = events[k - 1];
      if (b.event_id !== boundary.event_id || b.event_type !== 'WorkflowTaskStarted' ||
          (b.event_time !== boundary.event_time && ms(b.event_time) !== ms(boundary.event_time))) {
        throw new CacheMismatch('history does not continue the cached execution');
      }
    } else {
      const c = events[0];
      if (c.event_type !== 'WorkflowTaskCompleted' || c.attributes?.started_event_id !== boundary.event_id) {
        throw new CacheMismatch(`history begins with ${describeEvent(c)} ${c.event_id}, not the completion of workflow task ${boundary.event_id}`);
      }
    }
    // the events the run will apply: contiguous ids (a cheap guard against a malformed history)
    for (let j = k; j < events.length; j++) {
      if (events[j].event_id !== this.nextEventId + (j - k)) throw new CacheMismatch('history event ids are not contiguous');
    }
    return k;
  }

  /**
   * After a completion whose commands were only update rejections, for an
   * activation that had no event to apply: go back to where the run stood
   * before it.  Such a task may be a speculative one the engine dropped
   * (its WorkflowTaskScheduled and WorkflowTaskStarted are not written, and
   * their ids are given again to the next task); the activation changed
   * nothing (validators must not change the workflow's state), so the
   * run continues from the previous task either way.  If the engine did
   * write the task, the next history does not continue the rewound run and
   * the worker replays (CacheMismatch).  True if it rewound.
   */
  rewindSpeculative(sent: Command[]): boolean {
    const before = this.beforeLast;
    if (!before || this.closed || sent.some((c) => c.type !== 'reject_update')) return false;
    this.lastBoundary = before.lastBoundary;
    this.nextEventId = before.nextEventId;
    this.pending = null;
    this.beforeLast = undefined;
    return true;
  }

  /** Let the run's sandbox go; the run cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const sb = this.sandbox;
    this.sandbox = undefined;
    sb?.dispose();
  }

  private createSandbox(events: HistoryEvent[], boundary: HistoryEvent): void {
    const started = events[0];
    if (!started || started.event_type !== 'WorkflowExecutionStarted') {
      throw new PartialHistory('history does not begin with WorkflowExecutionStarted');
    }
    const a = started.attributes;
    const info = {
      workflowId: this.opts.workflowId,
      runId: this.opts.runId,
      workflowType: a.workflow_type ?? this.opts.workflowType,
      namespace: this.opts.namespace ?? 'default',
      taskQueue: a.task_queue,
      attempt: a.attempt ?? 1,
      firstExecutionRunId: a.first_execution_run_id ?? this.opts.runId,
      continuedFromExecutionRunId: a.continued_execution_run_id ?? undefined,
      searchAttributes: a.search_attributes ?? {},
      memo: a.memo ?? undefined,
      parent: a.parent_workflow_execution ? {
        workflowId: a.parent_workflow_execution.workflow_id,
        runId: a.parent_workflow_execution.run_id,
        namespace: a.parent_workflow_namespace ?? this.opts.namespace ?? 'default',
      } : undefined,
      startTime: ms(started.event_time),
      runStartTime: ms(started.event_time),
      historyLength: boundary.event_id,
      priority: {
        priorityKey: a.priority || undefined,
        fairnessKey: a.fairness_key || undefined,
        fairnessWeight: a.fairness_weight || undefined,
      },
    };
    this.sandbox = new Sandbox(JSON.stringify({ info, now: ms(boundary.event_time), seed: this.opts.runId }), this.opts.entry,
      { ...this.opts.extras, logger: this.opts.logger });
  }

  /** The jobs of the non-command events of events[start, end). */
  private jobs(events: HistoryEvent[], start: number, end: number): Job[] {
    const jobs: Job[] = [];
    for (let k = start; k < end; k++) {
      const e = events[k];
      const a = e.attributes ?? {};
      switch (e.event_type) {
        case 'WorkflowExecutionStarted': {
          const { args, headers } = unwrapInput(a.input);
          jobs.push({ type: 'start', args, headers });
          break;
        }
        case 'ActivityTaskCompleted':
          jobs.push({ type: 'activityCompleted', activityId: this.activityIds.get(a.scheduled_event_id), result: a.result ?? null });
          break;
        case 'ActivityTaskFailed':
        case 'ActivityTaskTimedOut':
          jobs.push({
            type: 'activityFailed', activityId: this.activityIds.get(a.scheduled_event_id),
            failure: a.failure, retryState: a.retry_state, identity: a.identity,
          });
          break;
        case 'ActivityTaskCanceled':
          jobs.push({ type: 'activityCancelled', activityId: this.activityIds.get(a.scheduled_event_id), details: a.details });
          break;
        case 'TimerFired':
          jobs.push({ type: 'timerFired', timerId: a.timer_id });
          break;
        case 'WorkflowExecutionSignaled': {
          const { args, headers } = unwrapInput(a.input);
          jobs.push({ type: 'signal', name: a.signal_name, args, headers });
          break;
        }
        case 'WorkflowExecutionCancelRequested':
          jobs.push({ type: 'cancel', reason: a.cause ?? null });
          break;
        case 'ActivityTaskStarted':
          if (a.identity) this.lastActivityWorker = a.identity;
          break;
        default: {
          const job = this.childJob(e);
          if (job) jobs.push(job);
        }
      }
    }
    return jobs;
  }

  /**
   * The job of an event about a child workflow, or about a signal or
   * cancel sent to another workflow: it names its command by index
   * (workflow/children.ts), through the event's initiated_event_id.
   */
  private childJob(e: HistoryEvent): Job | undefined {
    const a = e.attributes ?? {};
    const index = this.indexes.get(a.initiated_event_id);
    const runId = a.workflow_execution?.run_id;
    switch (e.event_type) {
      case 'ChildWorkflowExecutionStarted':
        return { type: 'childStarted', index, runId };
      case 'StartChildWorkflowExecutionFailed':
        return { type: 'childStartFailed', index, cause: a.cause };
      case 'ChildWorkflowExecutionCompleted':
        return { type: 'childCompleted', index, result: a.result };
      case 'ChildWorkflowExecutionFailed':
        return { type: 'childFailed', index, failure: a.failure, retryState: a.retry_state, runId };
      case 'ChildWorkflowExecutionCanceled':
        return { type: 'childCancelled', index, details: a.details, runId };
      case 'ChildWorkflowExecutionTimedOut':
        return { type: 'childTimedOut', index, retryState: a.retry_state, runId };
      case 'ChildWorkflowExecutionTerminated':
        return { type: 'childTerminated', index, runId };
      case 'ExternalWorkflowExecutionSignaled':
        return { type: 'externalSignaled', index };
      case 'SignalExternalWorkflowExecutionFailed':
        return { type: 'externalSignalFailed', index, cause: a.cause };
      case 'ExternalWorkflowExecutionCancelRequested':
        return { type: 'externalCancelRequested', index };
      case 'RequestCancelExternalWorkflowExecutionFailed':
        return { type: 'externalCancelFailed', index, cause: a.cause };
      default:
        return undefined;
    }
  }

  /**
   * Run one activation up to `at` (its WorkflowTaskStarted, or the last
   * event for a query's trailing events): the history length is at's
   * event id; history_size_bytes and suggest_continue_as_new are read from
   * it when the engine writes them (Temporal's WorkflowTaskStarted has both).
   */
  private activate(jobs: Job[], now: number, replaying: boolean, patches: string[], at: HistoryEvent,
    localActivityMarkers?: LocalActivityMarker[], keepNow?: boolean, completed?: HistoryEvent): Command[] {
    const input: ActivationInput = { jobs, now, isReplaying: replaying, patches, historyLength: at.event_id };
    if (localActivityMarkers?.length) input.localActivityMarkers = localActivityMarkers;
    if (keepNow) input.keepNow = true;
    if (this.lastActivityWorker !== undefined) input.lastActivityWorker = this.lastActivityWorker;
    // replaying a completed task: the build that completed it, when the engine recorded one; else this worker's
    const buildId = completed?.attributes?.build_id ?? completed?.attributes?.worker_version?.build_id ?? this.opts.buildId;
    if (buildId) input.currentBuildId = buildId;
    const attrs = at.attributes;
    if (attrs && typeof attrs.history_size_bytes === 'number') input.historySize = attrs.history_size_bytes;
    if (attrs && typeof attrs.suggest_continue_as_new === 'boolean') input.suggestContinueAsNew = attrs.suggest_continue_as_new;
    const out = this.sandbox!.activate(JSON.stringify(input), replaying);
    if (out.sinkCalls && this.opts.onSinkCalls) this.opts.onSinkCalls(out.sinkCalls);
    if (out.nonDeterminism) throw new NonDeterminismError(`Non-determinism in workflow task ${at.event_id}: ${out.nonDeterminism}`, at.event_id);
    if (out.taskFailure) throw new WorkflowTaskFailure(out.taskFailure);
    if (out.localActivities || out.localCancels) this.local.add(out.localActivities, out.localCancels);
    if (out.versioningBehavior !== undefined) this.versioningBehavior = out.versioningBehavior;
    return out.commands;
  }

  /**
   * A local activity's outcome, as an activation of its own at the current
   * workflow task (local-activities.ts): its commands (the marker first)
   * are added to those the task will send.
   */
  resolveLocal(job: Job): Command[] {
    if (this.disposed || !this.lastBoundary || this.pending === null) throw new CacheMismatch('the run has no workflow task to resolve a local activity in');
    const b = this.lastBoundary;
    const commands = this.activate([job], ms(b.event_time), false, NO_PATCHES, b, undefined, true);
    this.pending = [...this.pending, ...commands]; // a new array: the caller holds the old one
    if (closesWorkflow(commands)) this.closed = true;
    return commands;
  }

  /** Match the commands of the activation at boundary with the command events of events[start, end). */
  private match(commands: Command[], events: HistoryEvent[], start: number, end: number, boundary: HistoryEvent): void {
    // rejected updates leave no event
    if (commands.some((c) => c.type === 'reject_update')) commands = commands.filter((c) => c.type !== 'reject_update');
    let ci = 0;
    let ei = nextCommandEvent(events, start, end);
    while (ci < commands.length || ei < end) {
      const c = commands[ci];
      const e = ei < end ? events[ei] : undefined;
      // local activity markers are matched by seq in the sandbox, not by position (as sdk-core does)
      if (isLocalMarkerCommand(c)) {
        ci++;
        continue;
      }
      if (isLocalMarkerEvent(e)) {
        ei = nextCommandEvent(events, ei + 1, end);
        continue;
      }
      const ok = c && e && this.matches(c, e);
      if (!ok && isPatchMarkerCommand(c) && (c.details as any)?.deprecated) {
        ci++; // a deprecated patch the history predates
        continue;
      }
      if (!ok && isPatchMarkerEvent(e) && e!.attributes.details?.deprecated) {
        ei = nextCommandEvent(events, ei + 1, end); // a deprecated patch the code no longer checks
        continue;
      }
      if (!c) {
        throw new NonDeterminismError(
          `Non-determinism at event ${e!.event_id}: history has ${describeEvent(e!)}, ` +
            `but the workflow code produced no such command in workflow task ${boundary.event_id}`, e!.event_id);
      }
      if (!e) {
        throw new NonDeterminismError(
          `Non-determinism in workflow task ${boundary.event_id}: the workflow code produced ${describeCommand(c)}, ` +
            'but the history has no further command event for this task', boundary.event_id);
      }
      if (!ok) {
        throw new NonDeterminismError(
          `Non-determinism at event ${e.event_id}: expected ${describeEvent(e)} from history, ` +
            `but the workflow code produced ${describeCommand(c)}`, e.event_id);
      }
      if (e.event_type === 'ActivityTaskScheduled') this.activityIds.set(e.event_id, e.attributes.activity_id);
      else if (c.type in this.indexed) this.indexes.set(e.event_id, ++this.indexed[c.type as IndexedCommandType]);
      ci++;
      ei = nextCommandEvent(events, ei + 1, end);
    }
  }

  private matches(c: Command, e: HistoryEvent): boolean {
    if (COMMAND_EVENTS[e.event_type] !== c.type) return false;
    const a = e.attributes ?? {};
    switch (c.type) {
      case 'schedule_activity':
        return a.activity_id === c.activity_id && a.activity_type === c.activity_type;
      case 'start_timer':
      case 'cancel_timer':
        return a.timer_id === c.timer_id;
      case 'record_marker':
        if (a.marker_name !== c.marker_name) return false;
        if (c.marker_name === PATCH_MARKER) return a.details?.patch_id === (c.details as any)?.patch_id;
        return true;
      case 'request_cancel_activity':
        return this.activityIds.get(a.scheduled_event_id) === c.activity_id;
      case 'start_child_workflow':
        return a.workflow_id === c.workflow_id && a.workflow_type === c.workflow_type;
      case 'signal_external_workflow':
        return a.workflow_execution?.workflow_id === c.workflow_id && a.signal_name === c.signal_name;
      case 'request_cancel_external_workflow':
        return a.workflow_execution?.workflow_id === c.workflow_id;
      case 'accept_update':
        return a.protocol_instance_id === c.update_id && a.accepted_request?.input?.name === c.name;
      case 'complete_update':
        return a.meta?.update_id === c.update_id;
      default:
        return true;
    }
  }

  /** Run a query handler against the run's current state. */
  query(name: string, args: unknown): { result?: unknown; failure?: FailureJSON } {
    if (!this.sandbox) return { failure: { message: 'the workflow has not started yet', type: 'QueryFailedError' } };
    const { args: list, headers } = unwrapInput(args);
    return this.sandbox.query(JSON.stringify({ name, args: list, headers }));
  }
}

/**
 * A workflow run driven by hand-made histories, without a database: each
 * task() appends what the engine would (the previous task's completion and
 * the events of its commands, then new events, then the next workflow
 * task's Scheduled and Started) and advances a WorkflowRun as a sticky
 * worker's cached run would.  The whole history so far is in `events`, for
 * replaying it from scratch.
 */
import type { Logger, LogLevel, LogMetadata } from '../../src/common/logger';
import { HistoryEvent, WorkflowRun } from '../../src/worker/replay';
import type { Command } from '../../src/workflow/internals';

export const T0 = Date.parse('2026-11-25T10:00:00.000Z');

export interface LogRecord {
  level: LogLevel;
  message: string;
  meta?: LogMetadata;
}

/** A logger that keeps what it is given. */
export function captureLogger(into: LogRecord[]): Logger {
  const at = (level: LogLevel) => (message: string, meta?: LogMetadata) => void into.push({ level, message, meta });
  return {
    log: (level, message, meta) => void into.push({ level, message, meta }),
    trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR'),
  };
}

export type NewEvent = { event_type: string; attributes?: Record<string, any> };

export const signal = (name: string, ...args: unknown[]): NewEvent =>
  ({ event_type: 'WorkflowExecutionSignaled', attributes: { signal_name: name, input: args } });

/** The command event a command writes (the attributes replay matches on). */
function commandEvent(c: Command, scheduledIds: Map<string, number>): NewEvent {
  switch (c.type) {
    case 'schedule_activity':
      return { event_type: 'ActivityTaskScheduled', attributes: { activity_id: c.activity_id, activity_type: c.activity_type } };
    case 'request_cancel_activity':
      return { event_type: 'ActivityTaskCancelRequested', attributes: { scheduled_event_id: scheduledIds.get(c.activity_id as string) } };
    case 'start_timer':
      return { event_type: 'TimerStarted', attributes: { timer_id: c.timer_id, start_to_fire_timeout: c.duration } };
    case 'cancel_timer':
      return { event_type: 'TimerCanceled', attributes: { timer_id: c.timer_id } };
    case 'record_marker':
      return { event_type: 'MarkerRecorded', attributes: { marker_name: c.marker_name, details: c.details } };
    case 'upsert_search_attributes':
      return { event_type: 'UpsertWorkflowSearchAttributes', attributes: { search_attributes: c.search_attributes } };
    case 'complete_workflow':
      return { event_type: 'WorkflowExecutionCompleted', attributes: { result: c.result ?? null } };
    case 'fail_workflow':
      return { event_type: 'WorkflowExecutionFailed', attributes: { failure: c.failure } };
    case 'cancel_workflow':
      return { event_type: 'WorkflowExecutionCanceled', attributes: {} };
    case 'continue_as_new':
      return { event_type: 'WorkflowExecutionContinuedAsNew', attributes: { ...c } };
    default:
      throw new Error(`no event for command ${c.type}`);
  }
}

export class Sim {
  readonly events: HistoryEvent[] = [];
  readonly run: WorkflowRun;
  private pending: Command[] | null = null;
  private startedId = 0;
  private readonly scheduledIds = new Map<string, number>();
  /** The workflow task's time: 1 s later each task. */
  private clock = T0;

  constructor(readonly file: string, readonly workflowType: string, input: unknown[] = [], opts: { logger?: Logger; runId?: string; taskQueue?: string; first?: NewEvent[] } = {}) {
    this.run = new WorkflowRun({
      workflowId: `wf-${workflowType}`, runId: opts.runId ?? '0190f2a4-0000-7000-8000-000000000001', workflowType,
      entry: { file, exportName: workflowType }, logger: opts.logger,
    });
    this.add({ event_type: 'WorkflowExecutionStarted', attributes: { workflow_type: workflowType, task_queue: opts.taskQueue ?? 'q', input, attempt: 1 } });
    for (const e of opts.first ?? []) this.add(e);
  }

  private add(e: NewEvent): HistoryEvent {
    const ev: HistoryEvent = {
      event_id: this.events.length + 1, event_type: e.event_type,
      event_time: new Date(this.clock).toISOString().replace('Z', '+00:00'), attributes: e.attributes ?? {},
    };
    this.events.push(ev);
    return ev;
  }

  /**
   * The next workflow task: the previous one's completion and command
   * events, `incoming` events, then WorkflowTaskScheduled/Started (with
   * `startedAttrs`); returns the commands the run produced.
   */
  task(incoming: NewEvent[] = [], startedAttrs: Record<string, any> = {}): Command[] {
    const from = this.events.length;
    if (this.pending) {
      this.add({ event_type: 'WorkflowTaskCompleted', attributes: { scheduled_event_id: this.startedId - 1, started_event_id: this.startedId } });
      for (const c of this.pending) {
        const ev = this.add(commandEvent(c, this.scheduledIds));
        if (c.type === 'schedule_activity') this.scheduledIds.set(c.activity_id as string, ev.event_id);
      }
    }
    for (const e of incoming) {
      const a = { ...(e.attributes ?? {}) };
      if (a.activity_id !== undefined && a.scheduled_event_id === undefined) a.scheduled_event_id = this.scheduledIds.get(a.activity_id);
      this.add({ event_type: e.event_type, attributes: a });
    }
    this.clock += 1000;
    this.add({ event_type: 'WorkflowTaskScheduled', attributes: {} });
    this.startedId = this.add({ event_type: 'WorkflowTaskStarted', attributes: { scheduled_event_id: this.events.length, ...startedAttrs } }).event_id;
    // the first task gets the whole history, later ones what a sticky worker gets
    const part = this.pending === null ? this.events.slice() : this.events.slice(from);
    const cmds = this.run.advance(part) ?? [];
    this.pending = cmds;
    return cmds;
  }

  dispose(): void {
    this.run.dispose();
  }
}

/** Replay a whole history in a fresh run (as a worker without the run cached); the last activation's commands. */
export function replayFresh(file: string, workflowType: string, events: HistoryEvent[], logger?: Logger): Command[] | null {
  const run = new WorkflowRun({
    workflowId: `wf-${workflowType}`, runId: '0190f2a4-0000-7000-8000-000000000001', workflowType,
    entry: { file, exportName: workflowType }, logger,
  });
  try {
    return run.advance(events);
  } finally {
    run.dispose();
  }
}

/**
 * The task DTO: a task as the worker runs it, whichever way it came — a
 * durable.poll_task row or an element of the "tasks" a completion hands
 * back (both read as to_json(durable.task), see docs/protocol.md).
 * Timestamps and the interval are read when used (only activities use them).
 */
import { parsePgInterval } from '../common/duration';
import type { HistoryEvent, UpdateMessage } from './replay';

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(v as string);
}

export class Task {
  readonly task_token: string;
  readonly kind: string;
  readonly workflow_id: string;
  readonly run_id: string;
  readonly workflow_type: string;
  readonly task_queue: string;
  readonly activity_id: string | null;
  readonly activity_type: string | null;
  readonly input: unknown;
  readonly attempt: number;
  /**
   * Workflow tasks: the history, whole or (for the worker the run is
   * sticky to) only the events after the last workflow task this worker
   * completed; query tasks: the whole stored history.
   */
  readonly history: HistoryEvent[] | null;
  readonly heartbeat_details: unknown;
  readonly priority: number | null;
  readonly query_name: string | null;
  /** Workflow tasks: the run's admitted updates, each to be accepted or rejected by the completion (docs/protocol.md "Updates"). */
  readonly messages: UpdateMessage[] | null;

  constructor(private readonly raw: any) {
    this.task_token = raw.task_token;
    this.kind = raw.kind;
    this.workflow_id = raw.workflow_id;
    this.run_id = raw.run_id;
    this.workflow_type = raw.workflow_type;
    this.task_queue = raw.task_queue;
    this.activity_id = raw.activity_id ?? null;
    this.activity_type = raw.activity_type ?? null;
    this.input = raw.input ?? null;
    this.attempt = raw.attempt;
    this.history = raw.history ?? null;
    this.heartbeat_details = raw.heartbeat_details ?? null;
    this.priority = raw.priority ?? null;
    this.query_name = raw.query_name ?? null;
    this.messages = Array.isArray(raw.messages) && raw.messages.length ? raw.messages : null;
  }

  get scheduled_time(): Date | null {
    return toDate(this.raw.scheduled_time);
  }
  get started_time(): Date | null {
    return toDate(this.raw.started_time);
  }
  get deadline(): Date | null {
    return toDate(this.raw.deadline);
  }
  get heartbeat_timeout_ms(): number | null {
    const hb = this.raw.heartbeat_timeout;
    if (hb === null || hb === undefined) return null;
    return typeof hb === 'number' ? hb : parsePgInterval(hb) ?? null;
  }
}

/**
 * The one task shape, from to_json(durable.task) as polls and completions
 * return it (timestamps as ISO text, the interval as text); Dates and
 * numbers, as node-postgres parses columns, are taken as they are.
 */
export function toTask(j: any): Task {
  return new Task(j);
}

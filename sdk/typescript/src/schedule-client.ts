/**
 * client.schedule: Temporal's ScheduleClient (create, getHandle, list) and
 * ScheduleHandle (describe, pause, unpause, trigger, backfill, update,
 * delete) over the engine's schedules SQL API (durable.create_schedule and
 * friends, docs/sql-api.md "Schedules").  Temporal's shapes are turned into
 * the engine's JSON here and back: calendars with named months and days and
 * {start, end, step} ranges become the engine's string fields, overlap
 * policy names (SKIP, BUFFER_ONE, ...) its lower-case ones, Dates RFC 3339.
 * Values in the action's args and memo go through the client's data
 * converter, as a started workflow's would.
 */
import type { Client } from './client';
import { Duration, toOptionalInterval } from './common/duration';
import { SearchAttributePair, TypedSearchAttributes, pairsToStored } from './common/search-attributes';
import { RetryPolicy, retryPolicy } from './workflow/internals';

/** Temporal's ScheduleOverlapPolicy: what a due action does while the last one still runs. */
export const ScheduleOverlapPolicy = {
  SKIP: 'SKIP',
  BUFFER_ONE: 'BUFFER_ONE',
  BUFFER_ALL: 'BUFFER_ALL',
  CANCEL_OTHER: 'CANCEL_OTHER',
  TERMINATE_OTHER: 'TERMINATE_OTHER',
  ALLOW_ALL: 'ALLOW_ALL',
} as const;
export type ScheduleOverlapPolicy = (typeof ScheduleOverlapPolicy)[keyof typeof ScheduleOverlapPolicy];
/** Temporal's names, or the engine's (skip, buffer_one, ...). */
export type OverlapOption = ScheduleOverlapPolicy | Lowercase<ScheduleOverlapPolicy>;

/** A range of a calendar field (Temporal's Range): a value, or start..end every step. */
export type CalendarRange<T> = T | { start: T; end?: T; step?: number };
export type CalendarField<T> = CalendarRange<T> | CalendarRange<T>[] | '*' | string;
export type Month = 'JANUARY' | 'FEBRUARY' | 'MARCH' | 'APRIL' | 'MAY' | 'JUNE' | 'JULY' | 'AUGUST' | 'SEPTEMBER'
  | 'OCTOBER' | 'NOVEMBER' | 'DECEMBER';
export type DayOfWeek = 'SUNDAY' | 'MONDAY' | 'TUESDAY' | 'WEDNESDAY' | 'THURSDAY' | 'FRIDAY' | 'SATURDAY';

/** Temporal's CalendarSpec: unset fields are 0 for second/minute/hour, every value for the others. */
export interface CalendarSpec {
  second?: CalendarField<number>;
  minute?: CalendarField<number>;
  hour?: CalendarField<number>;
  dayOfMonth?: CalendarField<number>;
  month?: CalendarField<Month | number>;
  year?: CalendarField<number>;
  dayOfWeek?: CalendarField<DayOfWeek | number>;
  comment?: string;
}

/** Temporal's IntervalSpec: every `every`, shifted by `offset` from the epoch. */
export interface IntervalSpec {
  every: Duration;
  offset?: Duration;
}

/** Temporal's ScheduleSpec. */
export interface ScheduleSpec {
  calendars?: CalendarSpec[];
  intervals?: (IntervalSpec | Duration)[];
  cronExpressions?: string[];
  /** Calendars whose times are skipped. */
  skip?: CalendarSpec[];
  startAt?: Date | string;
  endAt?: Date | string;
  jitter?: Duration;
  /** An IANA time zone name (PostgreSQL's time-zone database), e.g. "Europe/Paris". */
  timezone?: string;
}

/** Temporal's ScheduleOptionsStartWorkflowAction. */
export interface ScheduleStartWorkflowAction {
  type?: 'startWorkflow';
  workflowType: string | ((...args: any[]) => any);
  taskQueue: string;
  args?: unknown[];
  /** The prefix of the started runs' workflow ids ("<prefix>-<scheduled time>"); default the schedule id. */
  workflowId?: string;
  workflowExecutionTimeout?: Duration;
  workflowRunTimeout?: Duration;
  workflowTaskTimeout?: Duration;
  retry?: RetryPolicy;
  memo?: Record<string, unknown>;
  searchAttributes?: Record<string, unknown>;
  typedSearchAttributes?: SearchAttributePair[] | TypedSearchAttributes;
}

/** Temporal's SchedulePolicies. */
export interface SchedulePolicies {
  overlap?: OverlapOption;
  catchupWindow?: Duration;
  pauseOnFailure?: boolean;
}

/** Temporal's ScheduleOptions.state. */
export interface ScheduleState {
  paused?: boolean;
  note?: string;
  /** Run at most this many actions, then stop (Temporal's remainingActions: limited actions when set). */
  remainingActions?: number;
}

/** Temporal's ScheduleOptions. */
export interface ScheduleOptions {
  scheduleId: string;
  spec: ScheduleSpec;
  action: ScheduleStartWorkflowAction;
  policies?: SchedulePolicies;
  state?: ScheduleState;
}

/** What update()'s function returns (Temporal's ScheduleUpdateOptions): the whole new schedule. */
export type ScheduleUpdateOptions = Omit<ScheduleOptions, 'scheduleId' | 'state'>;

/** Temporal's Backfill. */
export interface Backfill {
  start: Date | string;
  end: Date | string;
  overlap?: OverlapOption;
}

export interface ScheduleExecutionActionResult {
  scheduledAt: Date;
  takenAt: Date;
  action: { type: 'startWorkflow'; workflow: { workflowId: string; firstExecutionRunId: string } };
  /** The run's status now (the engine's: running, completed, ...). */
  status?: string;
}

/** Temporal's ScheduleDescription (raw: the engine's JSON). */
export interface ScheduleDescription {
  scheduleId: string;
  spec: ScheduleSpec;
  action: ScheduleStartWorkflowAction & { type: 'startWorkflow' };
  policies: { overlap: ScheduleOverlapPolicy; catchupWindow?: Duration; pauseOnFailure: boolean };
  state: { paused: boolean; note?: string; remainingActions?: number };
  info: {
    numActionsTaken: number;
    numActionsMissedCatchupWindow: number;
    numActionsSkippedOverlap: number;
    numActionsBuffered: number;
    /** durable's: actions dropped because their workflow could not be started, and the last one's error. */
    numActionErrors: number;
    lastActionError?: { time: Date; nominalTime: Date; sqlstate: string; message: string };
    runningActions: { type: 'startWorkflow'; workflow: { workflowId: string; firstExecutionRunId: string } }[];
    recentActions: ScheduleExecutionActionResult[];
    nextActionTimes: Date[];
    createdAt: Date;
    lastUpdatedAt?: Date;
  };
  raw: any;
}

/** Temporal's ScheduleSummary (one row of list()). */
export interface ScheduleSummary {
  scheduleId: string;
  spec: ScheduleSpec;
  action: { type: 'startWorkflow'; workflowType: string };
  state: { paused: boolean; note?: string };
  info: { nextActionTimes: Date[] };
  raw: any;
}

const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

function fieldValue(v: unknown, names?: string[], base = 0): string {
  if (typeof v === 'string' && names?.includes(v.toUpperCase())) {
    const i = names.indexOf(v.toUpperCase()) + base;
    return names === DAYS ? v.slice(0, 3).toLowerCase() : String(i);
  }
  return String(v);
}

/** A Temporal calendar field as the engine's string ("9", "1-5", "0-59/15", "mon-fri", "*"). */
function calendarField(f: CalendarField<unknown> | undefined, dflt: string, names?: string[], base = 0): string {
  if (f === undefined) return dflt;
  const one = (r: unknown): string => {
    if (r !== null && typeof r === 'object' && 'start' in (r as any)) {
      const { start, end, step } = r as { start: unknown; end?: unknown; step?: number };
      let s = fieldValue(start, names, base);
      if (end !== undefined) s += `-${fieldValue(end, names, base)}`;
      if (step !== undefined && step !== 1) s += `/${step}`;
      return s;
    }
    return fieldValue(r, names, base);
  };
  return Array.isArray(f) ? f.map(one).join(',') : one(f);
}

function calendarToEngine(c: CalendarSpec): Record<string, string> {
  const out: Record<string, string> = {
    second: calendarField(c.second, '0'),
    minute: calendarField(c.minute, '0'),
    hour: calendarField(c.hour, '0'),
    day_of_month: calendarField(c.dayOfMonth, '*'),
    month: calendarField(c.month, '*', MONTHS, 1),
    day_of_week: calendarField(c.dayOfWeek, '*', DAYS),
    year: calendarField(c.year, '*'),
  };
  if (c.comment) out.comment = c.comment;
  return out;
}

function calendarFromEngine(c: any): CalendarSpec {
  const out: CalendarSpec = {
    second: c.second, minute: c.minute, hour: c.hour, dayOfMonth: c.day_of_month, month: c.month, year: c.year, dayOfWeek: c.day_of_week,
  };
  if (c.comment) out.comment = c.comment;
  return out;
}

const iso = (d: Date | string | undefined): string | undefined => (d === undefined ? undefined : new Date(d).toISOString());

/** @internal A Temporal ScheduleSpec as the engine's spec JSON. */
export function specToEngine(s: ScheduleSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.cronExpressions?.length) out.cron = s.cronExpressions;
  if (s.intervals?.length) {
    out.intervals = s.intervals.map((i) => {
      const iv = typeof i === 'object' ? i : { every: i };
      const r: Record<string, string> = { every: toOptionalInterval(iv.every)! };
      if (iv.offset !== undefined) r.offset = toOptionalInterval(iv.offset)!;
      return r;
    });
  }
  if (s.calendars?.length) out.calendars = s.calendars.map(calendarToEngine);
  if (s.skip?.length) out.exclude_calendars = s.skip.map(calendarToEngine);
  if (s.jitter !== undefined) out.jitter = toOptionalInterval(s.jitter);
  if (s.startAt !== undefined) out.start_at = iso(s.startAt);
  if (s.endAt !== undefined) out.end_at = iso(s.endAt);
  if (s.timezone) out.timezone = s.timezone;
  return out;
}

function specFromEngine(s: any): ScheduleSpec {
  const out: ScheduleSpec = {};
  if (s?.cron) out.cronExpressions = s.cron;
  if (s?.intervals) out.intervals = s.intervals.map((i: any) => (i.offset ? { every: i.every, offset: i.offset } : { every: i.every }));
  if (s?.calendars) out.calendars = s.calendars.map(calendarFromEngine);
  if (s?.exclude_calendars) out.skip = s.exclude_calendars.map(calendarFromEngine);
  if (s?.jitter) out.jitter = s.jitter;
  if (s?.start_at) out.startAt = new Date(s.start_at);
  if (s?.end_at) out.endAt = new Date(s.end_at);
  if (s?.timezone) out.timezone = s.timezone;
  return out;
}

/** @internal Temporal's overlap name (or the engine's) as the engine's. */
export function overlapToEngine(o: string | undefined): string | undefined {
  if (o === undefined || o === null) return undefined;
  const e = String(o).replace(/^SCHEDULE_OVERLAP_POLICY_/, '').toLowerCase();
  const known = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'];
  // the CLI's spellings too: BufferOne, buffer-one
  const norm = known.find((k) => k === e || k.replace('_', '') === e.replace(/[-_]/g, ''));
  if (!norm) throw new TypeError(`unknown overlap policy "${o}" (one of ${Object.keys(ScheduleOverlapPolicy).join(', ')})`);
  return norm;
}

function typeName(t: string | ((...args: any[]) => any)): string {
  return typeof t === 'string' ? t : t.name;
}

function searchAttributesOf(a: ScheduleStartWorkflowAction): Record<string, unknown> | undefined {
  const typed = a.typedSearchAttributes;
  const pairs = typed instanceof TypedSearchAttributes ? typed.getAll() : typed;
  if (!a.searchAttributes && !pairs?.length) return undefined;
  return { ...(a.searchAttributes ?? {}), ...(pairs ? pairsToStored(pairs) : {}) };
}

const NS = '/*namespace*/';
const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

export class ScheduleHandle {
  constructor(private readonly client: Client, readonly scheduleId: string) {}

  async describe(): Promise<ScheduleDescription> {
    const rows = await this.client.query(`SELECT durable.describe_schedule(schedule_id => $1${NS}) AS d`, [this.scheduleId]);
    return this.fromEngine(rows[0].d);
  }

  private async fromEngine(d: any): Promise<ScheduleDescription> {
    const a = d.action ?? {};
    const args = Array.isArray(a.input) ? await Promise.all(a.input.map((v: unknown) => this.client.dataConverter.fromStored(v))) : [];
    const wf = (r: any) => ({ workflowId: r.workflow_id, firstExecutionRunId: r.run_id });
    const info = d.info ?? {};
    const state = d.state ?? {};
    return {
      scheduleId: d.schedule_id,
      spec: specFromEngine(d.spec),
      action: {
        type: 'startWorkflow', workflowType: a.workflow_type, taskQueue: a.task_queue, args, workflowId: a.workflow_id,
        workflowExecutionTimeout: a.execution_timeout, workflowRunTimeout: a.run_timeout, workflowTaskTimeout: a.task_timeout,
        memo: a.memo ?? undefined, searchAttributes: a.search_attributes ?? undefined,
      },
      policies: {
        overlap: String(d.policies?.overlap ?? 'skip').toUpperCase() as ScheduleOverlapPolicy,
        catchupWindow: d.policies?.catchup_window, pauseOnFailure: !!d.policies?.pause_on_failure,
      },
      state: { paused: !!state.paused, note: state.note ?? undefined, remainingActions: state.limited_actions ? state.remaining_actions : undefined },
      info: {
        numActionsTaken: info.action_count ?? 0,
        numActionsMissedCatchupWindow: info.missed_catchup_window ?? 0,
        numActionsSkippedOverlap: info.overlap_skipped ?? 0,
        numActionsBuffered: info.buffered ?? 0,
        numActionErrors: info.action_errors ?? 0,
        lastActionError: info.last_action_error ? {
          time: new Date(info.last_action_error.time), nominalTime: new Date(info.last_action_error.nominal_time),
          sqlstate: info.last_action_error.sqlstate, message: info.last_action_error.message,
        } : undefined,
        runningActions: (info.running_workflows ?? []).map((r: any) => ({ type: 'startWorkflow', workflow: wf(r) })),
        recentActions: (info.recent_actions ?? []).map((r: any) => ({
          scheduledAt: new Date(r.scheduled_time), takenAt: new Date(r.actual_time), status: r.status,
          action: { type: 'startWorkflow', workflow: wf(r) },
        })),
        nextActionTimes: (info.next_action_times ?? []).map((t: string) => new Date(t)),
        createdAt: new Date(info.create_time),
        lastUpdatedAt: info.update_time ? new Date(info.update_time) : undefined,
      },
      raw: d,
    };
  }

  /** Pause: no action is taken until unpause (the note says why). */
  async pause(note?: string): Promise<void> {
    await this.client.query(`SELECT durable.pause_schedule(schedule_id => $1, note => $2${NS})`, [this.scheduleId, note ?? null]);
  }

  async unpause(note?: string): Promise<void> {
    await this.client.query(`SELECT durable.unpause_schedule(schedule_id => $1, note => $2${NS})`, [this.scheduleId, note ?? null]);
  }

  /** Take the action now, with this overlap policy (default the schedule's). */
  async trigger(overlap?: OverlapOption): Promise<void> {
    await this.client.query(`SELECT durable.trigger_schedule(schedule_id => $1, overlap => $2${NS})`,
      [this.scheduleId, overlapToEngine(overlap) ?? null]);
  }

  /** Take the actions the spec had between start and end (each Backfill in turn). */
  async backfill(options: Backfill | Backfill[]): Promise<void> {
    for (const b of Array.isArray(options) ? options : [options]) {
      await this.client.query(
        `SELECT durable.backfill_schedule(schedule_id => $1, start_time => $2::timestamptz, end_time => $3::timestamptz, overlap => $4${NS})`,
        [this.scheduleId, iso(b.start), iso(b.end), overlapToEngine(b.overlap) ?? null]);
    }
  }

  /**
   * Replace the spec, action and policies with what `updateFn` returns from
   * the current description (Temporal's update(updateFn)).  The state
   * (paused, note, remaining actions) is changed by pause/unpause only.
   */
  async update(updateFn: (previous: ScheduleDescription) => ScheduleUpdateOptions): Promise<void> {
    const next = updateFn(await this.describe());
    const e = await actionAndPolicies(this.client, next);
    await this.client.query(
      `SELECT durable.update_schedule(schedule_id => $1, spec => $2::jsonb, action => $3::jsonb, policies => $4::jsonb${NS})`,
      [this.scheduleId, JSON.stringify(specToEngine(next.spec)), JSON.stringify(e.action), json(e.policies)]);
  }

  async delete(): Promise<void> {
    await this.client.query(`SELECT durable.delete_schedule(schedule_id => $1${NS})`, [this.scheduleId]);
  }
}

async function actionAndPolicies(client: Client, o: { action: ScheduleStartWorkflowAction; policies?: SchedulePolicies }):
  Promise<{ action: Record<string, unknown>; policies?: Record<string, unknown> }> {
  const a = o.action;
  const action: Record<string, unknown> = {
    workflow_type: typeName(a.workflowType),
    task_queue: a.taskQueue,
    input: await Promise.all((a.args ?? []).map((v) => client.dataConverter.toStored(v))),
  };
  if (a.workflowId !== undefined) action.workflow_id = a.workflowId;
  if (a.workflowExecutionTimeout !== undefined) action.execution_timeout = toOptionalInterval(a.workflowExecutionTimeout);
  if (a.workflowRunTimeout !== undefined) action.run_timeout = toOptionalInterval(a.workflowRunTimeout);
  if (a.workflowTaskTimeout !== undefined) action.task_timeout = toOptionalInterval(a.workflowTaskTimeout);
  if (a.retry) action.retry_policy = retryPolicy(a.retry);
  const memo = await client.dataConverter.memoToStored(a.memo);
  if (memo) action.memo = memo;
  const sa = searchAttributesOf(a);
  if (sa) action.search_attributes = sa;
  let policies: Record<string, unknown> | undefined;
  if (o.policies) {
    policies = {};
    if (o.policies.overlap !== undefined) policies.overlap = overlapToEngine(o.policies.overlap);
    if (o.policies.catchupWindow !== undefined) policies.catchup_window = toOptionalInterval(o.policies.catchupWindow);
    if (o.policies.pauseOnFailure !== undefined) policies.pause_on_failure = o.policies.pauseOnFailure;
  }
  return { action, policies };
}

/** client.schedule (Temporal's ScheduleClient). */
export class ScheduleClient {
  constructor(private readonly client: Client) {}

  /** Create a schedule; ScheduleAlreadyRunning-style error (the engine's DU0xx) if the id is taken. */
  async create(options: ScheduleOptions): Promise<ScheduleHandle> {
    const e = await actionAndPolicies(this.client, options);
    let state: Record<string, unknown> | undefined;
    if (options.state) {
      const s = options.state;
      state = {};
      if (s.paused !== undefined) state.paused = s.paused;
      if (s.note !== undefined) state.note = s.note;
      if (s.remainingActions !== undefined) {
        state.limited_actions = true;
        state.remaining_actions = s.remainingActions;
      }
    }
    await this.client.query(
      `SELECT durable.create_schedule(schedule_id => $1, spec => $2::jsonb, action => $3::jsonb, policies => $4::jsonb,
              state => $5::jsonb${NS})`,
      [options.scheduleId, JSON.stringify(specToEngine(options.spec)), JSON.stringify(e.action), json(e.policies), json(state)]);
    return this.getHandle(options.scheduleId);
  }

  getHandle(scheduleId: string): ScheduleHandle {
    return new ScheduleHandle(this.client, scheduleId);
  }

  /**
   * The schedules of the client's namespace, by id (Temporal's list(); an
   * async iterable read page by page from durable.schedules).
   */
  async *list(options: { pageSize?: number } = {}): AsyncIterable<ScheduleSummary> {
    const pageSize = options.pageSize ?? 1000;
    let after = '';
    for (;;) {
      const rows = await this.client.query(
        `SELECT schedule_id, spec, action, paused, note, next_action_time FROM durable.schedules
          WHERE namespace = $1 AND schedule_id > $2 ORDER BY schedule_id LIMIT $3`,
        [this.client.namespace, after, pageSize]);
      for (const r of rows) {
        yield {
          scheduleId: r.schedule_id,
          spec: specFromEngine(r.spec),
          action: { type: 'startWorkflow', workflowType: r.action?.workflow_type },
          state: { paused: !!r.paused, note: r.note ?? undefined },
          info: { nextActionTimes: r.next_action_time ? [new Date(r.next_action_time)] : [] },
          raw: r,
        };
      }
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].schedule_id;
    }
  }
}

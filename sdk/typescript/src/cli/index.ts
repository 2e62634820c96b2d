#!/usr/bin/env node
/**
 * `durable`: Temporal CLI's verbs over the engine's SQL API (docs/cli.md).
 *
 *   durable workflow start|list|describe|show|signal|query|cancel|terminate|result|reset
 *   durable task-queue describe
 *   durable schedule create|list|describe|pause|unpause|trigger|backfill|delete
 *
 * Connection: --database-url or $DATABASE_URL (else libpq's PG* variables),
 * --namespace / $DURABLE_NAMESPACE (default "default").  Output: tables,
 * or --output json.  Exit status 0 on success, 1 when the engine refuses
 * or a workflow result is a failure, 2 on a usage error; errors go to
 * stderr as "durable: <message>" with the SQLSTATE when there is one.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '../client';
import { WorkflowFailedError } from '../errors';
import { CalendarSpec, ScheduleOptions, ScheduleSpec } from '../schedule-client';
import { Flags, Parsed, UsageError, flagHelp, jsonArg, keyValues, parseFlags } from './args';
import { printJson, printRecord, printTable } from './output';

const GLOBAL: Flags = {
  'database-url': { help: 'PostgreSQL connection URL (default $DATABASE_URL, else libpq\'s PG* variables)' },
  namespace: { short: 'n', help: 'namespace (default $DURABLE_NAMESPACE, else "default")' },
  output: { short: 'o', help: 'table (default) or json' },
};
const WF: Flags = {
  'workflow-id': { short: 'w', help: 'workflow id' },
  'run-id': { short: 'r', help: 'run id (default: the latest run)' },
};
const SCHED: Flags = { 'schedule-id': { short: 's', help: 'schedule id' } };
const INPUT: Flags = { input: { short: 'i', multi: true, help: 'an argument as JSON, once per argument' } };
const ACTION: Flags = {
  type: { help: 'workflow type' },
  'task-queue': { short: 't', help: 'task queue' },
  'execution-timeout': { help: 'workflow execution timeout (e.g. 1h)' },
  'run-timeout': { help: 'workflow run timeout' },
  'task-timeout': { help: 'workflow task timeout' },
  'search-attribute': { multi: true, help: 'key=JSON value' },
  memo: { multi: true, help: 'key=JSON value' },
};
const OVERLAP: Flags = { 'overlap-policy': { help: 'Skip, BufferOne, BufferAll, CancelOther, TerminateOther or AllowAll' } };

interface Ctx {
  client: Client;
  flags: Parsed;
  json: boolean;
}

interface Command {
  flags: Flags;
  help: string;
  run(ctx: Ctx): Promise<number | void>;
}

const str = (f: Parsed, k: string): string | undefined => f[k] as string | undefined;
const list = (f: Parsed, k: string): string[] => (f[k] as string[] | undefined) ?? [];
function need(f: Parsed, k: string): string {
  const v = f[k];
  if (v === undefined || v === '') throw new UsageError(`--${k} is required`);
  return v as string;
}
const inputs = (f: Parsed): unknown[] => list(f, 'input').map((s) => jsonArg(s, '--input'));
function time(f: Parsed, k: string): string | undefined {
  const v = str(f, k);
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${k}: not a time: ${v} (use RFC 3339, e.g. 2026-01-01T00:00:00Z)`);
  return d.toISOString();
}
const NS = '/*namespace*/';
const fmtTime = (t: unknown) => (t ? new Date(t as string).toISOString() : '');

/* ------------------------------------------------------------ workflow */

const LIST_FLAGS: Flags = {
  status: { help: 'running, completed, failed, canceled, terminated, continued_as_new or timed_out (Temporal\'s Running, Completed, ... too)' },
  type: { help: 'workflow type' },
  'workflow-id-prefix': { help: 'workflow ids starting with this' },
  'task-queue': { short: 't', help: 'task queue' },
  'start-time-after': { help: 'started at or after this time (RFC 3339)' },
  'start-time-before': { help: 'started before this time (RFC 3339)' },
  'search-attribute': { multi: true, help: 'key=JSON value the run\'s search attributes contain' },
  limit: { help: 'rows per page (default 20)' },
  after: { help: 'the cursor a previous page printed (keyset: newest first)' },
};

function encodeCursor(startTime: string, runId: string): string {
  return Buffer.from(JSON.stringify([startTime, runId])).toString('base64url');
}

function decodeCursor(c: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2) return v as [string, string];
  } catch {
    /* below */
  }
  throw new UsageError(`--after: not a cursor printed by workflow list: ${c}`);
}

/**
 * Reads of the tables see the rows of the role's namespaces only (row-level
 * security), so an unknown or forbidden namespace would list nothing: say so.
 */
export async function checkNamespace(client: Client): Promise<void> {
  const rows = await client.query('SELECT durable._namespace_visible($1) AS v', [client.namespace]);
  if (!rows[0].v) throw new Error(`namespace "${client.namespace}" does not exist or this role has no capability in it`);
}

async function workflowList({ client, flags, json }: Ctx): Promise<void> {
  await checkNamespace(client);
  const where: string[] = ['namespace = $1'];
  const params: unknown[] = [client.namespace];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  const status = str(flags, 'status');
  if (status) add('status = ?', status.toLowerCase().replace(/^continuedasnew$/, 'continued_as_new').replace(/^timedout$/, 'timed_out'));
  if (str(flags, 'type')) add('workflow_type = ?', str(flags, 'type'));
  const prefix = str(flags, 'workflow-id-prefix');
  if (prefix) add("workflow_id LIKE ? || '%'", prefix.replace(/[\\%_]/g, '\\$&'));
  if (str(flags, 'task-queue')) add('task_queue = ?', str(flags, 'task-queue'));
  if (str(flags, 'start-time-after')) add('start_time >= ?::timestamptz', time(flags, 'start-time-after'));
  if (str(flags, 'start-time-before')) add('start_time < ?::timestamptz', time(flags, 'start-time-before'));
  const sa = keyValues(list(flags, 'search-attribute'), '--search-attribute');
  if (sa) add('search_attributes @> ?::jsonb', JSON.stringify(sa));
  const after = str(flags, 'after');
  if (after) {
    const [t, r] = decodeCursor(after);
    params.push(t, r);
    where.push(`(start_time, run_id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  const limit = Number(str(flags, 'limit') ?? 20);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a positive integer');
  params.push(limit + 1);
  const rows = await client.query(
    `SELECT workflow_id, run_id, workflow_type, task_queue, status, start_time, close_time, start_time::text AS start_key
       FROM durable.workflows WHERE ${where.join(' AND ')}
      ORDER BY start_time DESC, run_id DESC LIMIT $${params.length}`, params);
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(page[page.length - 1].start_key, page[page.length - 1].run_id) : null;
  const out = page.map((r) => ({
    workflow_id: r.workflow_id, run_id: r.run_id, workflow_type: r.workflow_type, task_queue: r.task_queue, status: r.status,
    start_time: fmtTime(r.start_time), close_time: r.close_time ? fmtTime(r.close_time) : null,
  }));
  if (json) {
    printJson({ workflows: out, next_page: next });
    return;
  }
  printTable(out, ['status', 'workflow_id', 'workflow_type', 'task_queue', 'start_time', 'close_time', 'run_id']);
  if (next) process.stdout.write(`next page: --after ${next}\n`);
}

async function describeRow(client: Client, f: Parsed): Promise<any> {
  const rows = await client.query(`SELECT * FROM durable.describe_workflow(workflow_id => $1, run_id => $2::uuid${NS})`,
    [need(f, 'workflow-id'), str(f, 'run-id') ?? null]);
  return rows[0];
}

async function historyRows(client: Client, f: Parsed): Promise<any[]> {
  return client.query(
    `SELECT event_id, event_type, event_time, attributes FROM durable.get_history(workflow_id => $1, run_id => $2::uuid${NS}) ORDER BY event_id`,
    [need(f, 'workflow-id'), str(f, 'run-id') ?? null]);
}

const RESET_TYPES = ['FirstWorkflowTask', 'LastWorkflowTask'];

const workflow: Record<string, Command> = {
  start: {
    help: 'Start a workflow run; prints its workflow id and run id.',
    flags: { ...ACTION, ...INPUT, 'workflow-id': { short: 'w', help: 'workflow id (default: a random uuid)' } },
    async run({ client, flags, json }) {
      const h = await client.workflow.start(need(flags, 'type'), {
        taskQueue: need(flags, 'task-queue'), workflowId: str(flags, 'workflow-id'), args: inputs(flags),
        workflowExecutionTimeout: str(flags, 'execution-timeout'), workflowRunTimeout: str(flags, 'run-timeout'),
        workflowTaskTimeout: str(flags, 'task-timeout'),
        searchAttributes: keyValues(list(flags, 'search-attribute'), '--search-attribute'), memo: keyValues(list(flags, 'memo'), '--memo'),
      });
      const out = { workflow_id: h.workflowId, run_id: h.firstExecutionRunId, type: need(flags, 'type'), namespace: client.namespace };
      if (json) printJson(out);
      else printRecord(out);
    },
  },
  list: { help: 'List workflow runs, newest first, a page at a time.', flags: LIST_FLAGS, run: workflowList },
  describe: {
    help: 'Status, input, result or failure and pending work of a run.',
    flags: WF,
    async run({ client, flags, json }) {
      const d = await describeRow(client, flags);
      if (json) return printJson(d);
      const { pending_activities: pa, pending_timers: pt, pending_children: pc, ...rest } = d;
      printRecord(rest);
      for (const [title, rows] of [['pending activities', pa], ['pending timers', pt], ['pending children', pc]] as const) {
        if (Array.isArray(rows) && rows.length) {
          process.stdout.write(`\n${title}:\n`);
          printTable(rows, Object.keys(rows[0]));
        }
      }
    },
  },
  show: {
    help: 'The event history of a run.',
    flags: WF,
    async run({ client, flags, json }) {
      const events = await historyRows(client, flags);
      if (json) return printJson(events.map((e) => ({ ...e, event_id: Number(e.event_id), event_time: fmtTime(e.event_time) })));
      printTable(events.map((e) => ({ id: e.event_id, time: fmtTime(e.event_time), type: e.event_type, attributes: JSON.stringify(e.attributes) })),
        ['id', 'time', 'type', 'attributes'], { truncate: 'attributes' });
    },
  },
  signal: {
    help: 'Send a signal to a running workflow.',
    flags: { ...WF, ...INPUT, name: { help: 'signal name' } },
    async run({ client, flags, json }) {
      await client.workflow.getHandle(need(flags, 'workflow-id'), str(flags, 'run-id')).signal(need(flags, 'name'), ...inputs(flags));
      done(json, 'signaled', flags);
    },
  },
  query: {
    help: 'Query a workflow (a worker answers from its state).',
    flags: { ...WF, ...INPUT, name: { help: 'query name' }, type: { help: 'query name (Temporal CLI\'s spelling)' } },
    async run({ client, flags, json }) {
      const name = str(flags, 'name') ?? str(flags, 'type');
      if (!name) throw new UsageError('--name is required');
      const r = await client.workflow.getHandle(need(flags, 'workflow-id'), str(flags, 'run-id')).query(name, ...inputs(flags));
      if (json) printJson({ result: r ?? null });
      else process.stdout.write(`${JSON.stringify(r ?? null)}\n`);
    },
  },
  cancel: {
    help: 'Request cancellation of a running workflow.',
    flags: { ...WF, reason: { help: 'why' } },
    async run({ client, flags, json }) {
      await client.workflow.getHandle(need(flags, 'workflow-id'), str(flags, 'run-id')).cancel(str(flags, 'reason'));
      done(json, 'cancel requested', flags);
    },
  },
  terminate: {
    help: 'Terminate a running workflow at once.',
    flags: { ...WF, reason: { help: 'why' } },
    async run({ client, flags, json }) {
      await client.workflow.getHandle(need(flags, 'workflow-id'), str(flags, 'run-id')).terminate(str(flags, 'reason'));
      done(json, 'terminated', flags);
    },
  },
  result: {
    help: 'Wait for a workflow\'s result; a failed, canceled, terminated or timed-out workflow exits 1.',
    flags: WF,
    async run({ client, flags, json }) {
      const h = client.workflow.getHandle(need(flags, 'workflow-id'), str(flags, 'run-id'));
      let result: unknown;
      try {
        result = await h.result();
      } catch (e) {
        if (!(e instanceof WorkflowFailedError)) throw e;
        // the workflow's outcome, not the command's failure: reported as the result, exit status 1
        if (json) printJson({ status: e.status, result: null, failure: e.failure });
        else process.stderr.write(`durable: workflow ${e.status}: ${e.cause?.message ?? e.message}\n`);
        return 1;
      }
      if (json) printJson({ status: 'completed', result: result ?? null, failure: null });
      else process.stdout.write(`${JSON.stringify(result ?? null)}\n`);
      return 0;
    },
  },
  reset: {
    help: 'Start a new run from a run\'s history up to a workflow task (durable.reset_workflow); prints the new run id.',
    flags: {
      ...WF,
      'event-id': { short: 'e', help: 'the WorkflowTaskCompleted (or Failed, TimedOut) event to reset to' },
      type: { help: 'FirstWorkflowTask or LastWorkflowTask, instead of --event-id' },
      reason: { help: 'why (recorded in the new run\'s WorkflowTaskFailed)' },
    },
    async run({ client, flags, json }) {
      let eventId = str(flags, 'event-id');
      const type = str(flags, 'type');
      if (!eventId && !type) throw new UsageError('--event-id or --type is required');
      if (eventId && type) throw new UsageError('give --event-id or --type, not both');
      if (type) {
        if (!RESET_TYPES.includes(type)) throw new UsageError(`--type: one of ${RESET_TYPES.join(', ')}`);
        const done = (await historyRows(client, flags)).filter((e) => e.event_type === 'WorkflowTaskCompleted');
        if (!done.length) throw new Error('the run has no completed workflow task to reset to');
        eventId = String((type === 'FirstWorkflowTask' ? done[0] : done[done.length - 1]).event_id);
      }
      const rows = await client.query(
        `SELECT durable.reset_workflow(workflow_id => $1, run_id => $2::uuid, to_event_id => $3::bigint, reason => $4, request_id => $5${NS}) AS run_id`,
        [need(flags, 'workflow-id'), str(flags, 'run-id') ?? null, eventId, str(flags, 'reason') ?? null, randomUUID()]);
      const out = { workflow_id: need(flags, 'workflow-id'), run_id: rows[0].run_id, reset_to_event_id: Number(eventId) };
      if (json) printJson(out);
      else printRecord(out);
    },
  },
};

function done(json: boolean, what: string, f: Parsed): void {
  const out: Record<string, unknown> = { workflow_id: f['workflow-id'] };
  if (f['run-id']) out.run_id = f['run-id'];
  if (json) printJson({ ...out, ok: true });
  else process.stdout.write(`${what}: ${f['workflow-id']}\n`);
}

/* ---------------------------------------------------------- task queue */

const taskQueue: Record<string, Command> = {
  describe: {
    help: 'A task queue\'s pollers, backlog by kind, and settings (durable.describe_task_queue).',
    flags: { 'task-queue': { short: 't', help: 'task queue' } },
    async run({ client, flags, json }) {
      const rows = await client.query(`SELECT durable.describe_task_queue(task_queue => $1${NS}) AS d`, [need(flags, 'task-queue')]);
      const d = rows[0].d;
      if (json) return printJson(d);
      const { pollers, backlog, ...rest } = d;
      printRecord(Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v])));
      process.stdout.write('\npollers:\n');
      printTable(pollers ?? [], pollers?.length ? Object.keys(pollers[0]) : ['identity', 'last_access_time']);
      process.stdout.write('\nbacklog:\n');
      printTable(backlog ?? [], backlog?.length ? Object.keys(backlog[0]) : ['kind', 'tasks']);
    },
  },
};

/* ------------------------------------------------------------ schedules */

/** Temporal CLI's interval syntax: "every" or "every/offset" (e.g. 6h/5h). */
function intervalArg(s: string): { every: string; offset?: string } {
  const [every, offset] = s.split('/');
  return offset ? { every, offset } : { every };
}

function calendarArg(s: string): CalendarSpec {
  const c = jsonArg(s, '--calendar') as Record<string, unknown>;
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw new UsageError('--calendar: a JSON object, e.g. {"hour": "9", "dayOfWeek": "mon-fri"}');
  // Temporal CLI's JSON names are camelCase; the engine's snake_case is taken too
  const pick = (a: string, b: string) => (c[a] ?? c[b]) as any;
  return {
    second: pick('second', 'second'), minute: pick('minute', 'minute'), hour: pick('hour', 'hour'),
    dayOfMonth: pick('dayOfMonth', 'day_of_month'), month: pick('month', 'month'), year: pick('year', 'year'),
    dayOfWeek: pick('dayOfWeek', 'day_of_week'), comment: pick('comment', 'comment'),
  };
}

const scheduleCreateFlags: Flags = {
  ...SCHED, ...ACTION, ...INPUT, ...OVERLAP,
  'workflow-id': { short: 'w', help: 'workflow id prefix of the started runs (default: the schedule id)' },
  cron: { multi: true, help: 'a cron expression, e.g. "*/15 * * * *"' },
  interval: { multi: true, help: 'every[/offset], e.g. 15m or 6h/5h' },
  calendar: { multi: true, help: 'a calendar as JSON, e.g. {"hour": "9", "dayOfWeek": "mon-fri"}' },
  jitter: { help: 'random delay up to this' },
  'start-time': { help: 'no action before this time' },
  'end-time': { help: 'no action after this time' },
  'time-zone': { help: 'IANA time zone of the cron and calendars (default UTC)' },
  'catchup-window': { help: 'how late a missed action may still run (default 1 year)' },
  'pause-on-failure': { bool: true, help: 'pause when a started run fails' },
  paused: { bool: true, help: 'create it paused' },
  notes: { help: 'the pause note' },
  'remaining-actions': { help: 'take at most this many actions' },
};

function scheduleSpec(f: Parsed): ScheduleSpec {
  const spec: ScheduleSpec = {
    cronExpressions: list(f, 'cron'), intervals: list(f, 'interval').map(intervalArg), calendars: list(f, 'calendar').map(calendarArg),
  };
  if (!spec.cronExpressions!.length && !spec.intervals!.length && !spec.calendars!.length) {
    throw new UsageError('a schedule needs --cron, --interval or --calendar');
  }
  if (str(f, 'jitter')) spec.jitter = str(f, 'jitter');
  if (str(f, 'start-time')) spec.startAt = time(f, 'start-time');
  if (str(f, 'end-time')) spec.endAt = time(f, 'end-time');
  if (str(f, 'time-zone')) spec.timezone = str(f, 'time-zone');
  return spec;
}

function overlapOf(f: Parsed): any {
  const o = str(f, 'overlap-policy');
  return o === undefined ? undefined : o;
}

const schedule: Record<string, Command> = {
  create: {
    help: 'Create a schedule that starts a workflow.',
    flags: scheduleCreateFlags,
    async run({ client, flags, json }) {
      const remaining = str(flags, 'remaining-actions');
      if (remaining !== undefined && !/^\d+$/.test(remaining)) throw new UsageError('--remaining-actions: a non-negative integer');
      const opts: ScheduleOptions = {
        scheduleId: need(flags, 'schedule-id'),
        spec: scheduleSpec(flags),
        action: {
          workflowType: need(flags, 'type'), taskQueue: need(flags, 'task-queue'), args: inputs(flags), workflowId: str(flags, 'workflow-id'),
          workflowExecutionTimeout: str(flags, 'execution-timeout'), workflowRunTimeout: str(flags, 'run-timeout'),
          workflowTaskTimeout: str(flags, 'task-timeout'),
          searchAttributes: keyValues(list(flags, 'search-attribute'), '--search-attribute'), memo: keyValues(list(flags, 'memo'), '--memo'),
        },
        policies: { overlap: overlapOf(flags), catchupWindow: str(flags, 'catchup-window'), pauseOnFailure: flags['pause-on-failure'] as boolean | undefined },
        state: { paused: flags.paused as boolean | undefined, note: str(flags, 'notes'), remainingActions: remaining === undefined ? undefined : Number(remaining) },
      };
      await client.schedule.create(opts);
      if (json) printJson({ schedule_id: opts.scheduleId, ok: true });
      else process.stdout.write(`created schedule ${opts.scheduleId}\n`);
    },
  },
  list: {
    help: 'The schedules of the namespace.',
    flags: {},
    async run({ client, json }) {
      await checkNamespace(client);
      const rows: Record<string, unknown>[] = [];
      for await (const s of client.schedule.list()) {
        rows.push({
          schedule_id: s.scheduleId, workflow_type: s.action.workflowType, paused: s.state.paused, note: s.state.note ?? null,
          next_action_time: s.info.nextActionTimes[0]?.toISOString() ?? null,
        });
      }
      if (json) printJson(rows);
      else printTable(rows, ['schedule_id', 'workflow_type', 'paused', 'next_action_time', 'note']);
    },
  },
  describe: {
    help: 'A schedule\'s spec, action, policies, state, recent and upcoming actions.',
    flags: SCHED,
    async run({ client, flags, json }) {
      const d = await client.schedule.getHandle(need(flags, 'schedule-id')).describe();
      if (json) return printJson(d.raw);
      const r = d.raw;
      printRecord({
        schedule_id: r.schedule_id, spec: JSON.stringify(r.spec), action: JSON.stringify(r.action), policies: JSON.stringify(r.policies ?? {}),
        paused: d.state.paused, note: d.state.note ?? '', remaining_actions: d.state.remainingActions ?? '',
        action_count: d.info.numActionsTaken, missed_catchup_window: d.info.numActionsMissedCatchupWindow,
        overlap_skipped: d.info.numActionsSkippedOverlap, buffered: d.info.numActionsBuffered,
        running: d.info.runningActions.map((a) => a.workflow.workflowId).join(', '),
        create_time: fmtTime(r.info?.create_time), update_time: fmtTime(r.info?.update_time),
      });
      process.stdout.write('\nrecent actions:\n');
      printTable(r.info?.recent_actions ?? [], ['scheduled_time', 'actual_time', 'workflow_id', 'run_id', 'status']);
      process.stdout.write('\nnext action times:\n');
      for (const t of d.info.nextActionTimes) process.stdout.write(`  ${t.toISOString()}\n`);
    },
  },
  pause: {
    help: 'Pause a schedule (Temporal CLI: schedule toggle --pause).',
    flags: { ...SCHED, reason: { help: 'the note' } },
    async run({ client, flags, json }) {
      await client.schedule.getHandle(need(flags, 'schedule-id')).pause(str(flags, 'reason'));
      schedDone(json, 'paused', flags);
    },
  },
  unpause: {
    help: 'Unpause a schedule (Temporal CLI: schedule toggle --unpause).',
    flags: { ...SCHED, reason: { help: 'the note' } },
    async run({ client, flags, json }) {
      await client.schedule.getHandle(need(flags, 'schedule-id')).unpause(str(flags, 'reason'));
      schedDone(json, 'unpaused', flags);
    },
  },
  trigger: {
    help: 'Take the schedule\'s action now.',
    flags: { ...SCHED, ...OVERLAP },
    async run({ client, flags, json }) {
      await client.schedule.getHandle(need(flags, 'schedule-id')).trigger(overlapOf(flags));
      schedDone(json, 'triggered', flags);
    },
  },
  backfill: {
    help: 'Take the actions the schedule had between --start-time and --end-time.',
    flags: { ...SCHED, ...OVERLAP, 'start-time': { help: 'RFC 3339' }, 'end-time': { help: 'RFC 3339' } },
    async run({ client, flags, json }) {
      need(flags, 'start-time');
      need(flags, 'end-time');
      await client.schedule.getHandle(need(flags, 'schedule-id'))
        .backfill({ start: time(flags, 'start-time')!, end: time(flags, 'end-time')!, overlap: overlapOf(flags) });
      schedDone(json, 'backfilled', flags);
    },
  },
  delete: {
    help: 'Delete a schedule (the runs it started go on).',
    flags: SCHED,
    async run({ client, flags, json }) {
      await client.schedule.getHandle(need(flags, 'schedule-id')).delete();
      schedDone(json, 'deleted', flags);
    },
  },
};

function schedDone(json: boolean, what: string, f: Parsed): void {
  if (json) printJson({ schedule_id: f['schedule-id'], ok: true });
  else process.stdout.write(`${what}: ${f['schedule-id']}\n`);
}

/* ---------------------------------------------------------------- main */

const GROUPS: Record<string, Record<string, Command>> = { workflow, 'task-queue': taskQueue, schedule };

function usage(): string {
  const lines = ['usage: durable <group> <command> [flags]', ''];
  for (const [g, cmds] of Object.entries(GROUPS)) {
    for (const [c, cmd] of Object.entries(cmds)) lines.push(`  durable ${g} ${c}`.padEnd(36) + cmd.help);
  }
  lines.push('', 'global flags:', flagHelp(GLOBAL), '', '`durable <group> <command> --help` lists a command\'s flags.');
  return lines.join('\n') + '\n';
}

/** A message for an error from the engine or the client: its text, and the SQLSTATE when there is one. */
function errorText(e: any): string {
  const code = e?.code ?? e?.sqlState;
  const msg = e?.message ?? String(e);
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOENT') return `cannot connect to the database: ${msg} (set --database-url or DATABASE_URL)`;
  return code && /^[0-9A-Z]{5}$/.test(code) ? `${msg} (SQLSTATE ${code})` : msg;
}

export async function main(argv: string[]): Promise<number> {
  const [group, verb, ...rest] = argv;
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(usage());
    return group ? 0 : 2;
  }
  const cmds = GROUPS[group];
  if (!cmds) {
    process.stderr.write(`durable: unknown command "${group}"\n${usage()}`);
    return 2;
  }
  const cmd = verb ? cmds[verb] : undefined;
  if (!cmd) {
    process.stderr.write(`durable: ${verb ? `unknown command "${group} ${verb}"` : `${group}: a command is needed`} (one of ${Object.keys(cmds).join(', ')})\n`);
    return 2;
  }
  const all = { ...GLOBAL, ...cmd.flags };
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`durable ${group} ${verb}: ${cmd.help}\n\nflags:\n${flagHelp(all)}\n`);
    return 0;
  }
  let flags: Parsed;
  try {
    flags = parseFlags(rest, all);
    const o = str(flags, 'output') ?? 'table';
    if (o !== 'table' && o !== 'json') throw new UsageError('--output: table or json');
  } catch (e) {
    process.stderr.write(`durable: ${(e as Error).message}\n`);
    return 2;
  }
  const client = new Client({
    connectionString: str(flags, 'database-url') ?? process.env.DATABASE_URL,
    namespace: str(flags, 'namespace') ?? process.env.DURABLE_NAMESPACE ?? 'default',
  });
  try {
    const status = await cmd.run({ client, flags, json: flags.output === 'json' });
    return status ?? 0;
  } catch (e) {
    process.stderr.write(`durable: ${errorText(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    await client.close().catch(() => undefined);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (e) => {
    process.stderr.write(`durable: ${e?.stack ?? e}\n`);
    process.exitCode = 1;
  });
}

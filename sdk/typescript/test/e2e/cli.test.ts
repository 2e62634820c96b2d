/**
 * The `durable` CLI, spawned as a process (node dist/src/cli/index.js)
 * against a real cluster with a worker running: every verb, table and JSON
 * output, and the error exits.  Verbs and flags follow Temporal's CLI
 * (https://docs.temporal.io/cli/workflow, https://docs.temporal.io/cli/task-queue,
 * https://docs.temporal.io/cli/schedule); client.schedule follows
 * temporalio/sdk-typescript packages/client/src/schedule-client.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ScheduleOverlapPolicy } from '../../src';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor } from '../helpers/env';

const BASIC = require.resolve('../workflows/basic');
const CLI = path.resolve(__dirname, '../../src/cli/index.js');

let env: Env;
let hasSchedules = false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: env.cluster.connectionString }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `durable ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function okJson(...args: string[]): Promise<any> {
  return JSON.parse(await ok(...args, '--output', 'json'));
}

before(async () => {
  env = await startEnv([TEST_SCHEMA]);
  await env.startWorker({ taskQueue: 'cli', workflowsPath: BASIC, activities: createTestActivities(env.pool) });
  hasSchedules = (await env.pool.query("SELECT to_regproc('durable.create_schedule') IS NOT NULL AS s")).rows[0].s;
});

after(async () => {
  await env?.stop();
});

describe('durable workflow', () => {
  it('start, signal, query, describe, result, show (temporal workflow start|signal|query|describe|result|show)', async () => {
    const started = await okJson('workflow', 'start', '--type', 'collector', '--task-queue', 'cli', '-w', 'cli-collect');
    assert.equal(started.workflow_id, 'cli-collect');
    assert.match(started.run_id, /^[0-9a-f-]{36}$/);
    assert.match(await ok('workflow', 'signal', '-w', 'cli-collect', '--name', 'go', '--input', '"a"'), /signaled: cli-collect/);
    if (env.hasQuery) {
      await waitFor(async () => (await okJson('workflow', 'query', '-w', 'cli-collect', '--name', 'state')).result === 'a', 'query sees the signal');
      // Temporal CLI spells the query name --type
      assert.equal((await ok('workflow', 'query', '-w', 'cli-collect', '--type', 'state')).trim(), '"a"');
    }
    const d = await okJson('workflow', 'describe', '-w', 'cli-collect');
    assert.equal(d.status, 'running');
    assert.equal(d.workflow_type, 'collector');
    assert.match(await ok('workflow', 'describe', '-w', 'cli-collect'), /status\s+running/);
    await ok('workflow', 'signal', '-w', 'cli-collect', '--name', 'go', '-i', '"done"');
    assert.equal((await ok('workflow', 'result', '-w', 'cli-collect')).trim(), '["a","done"]');
    assert.deepEqual(await okJson('workflow', 'result', '-w', 'cli-collect'), { status: 'completed', result: ['a', 'done'], failure: null });

    const events = await okJson('workflow', 'show', '-w', 'cli-collect');
    assert.equal(events[0].event_id, 1);
    assert.equal(events[0].event_type, 'WorkflowExecutionStarted');
    assert.equal(events.at(-1).event_type, 'WorkflowExecutionCompleted');
    assert.equal(events.filter((e: any) => e.event_type === 'WorkflowExecutionSignaled').length, 2);
    const table = await ok('workflow', 'show', '-w', 'cli-collect');
    assert.match(table, /^ID\s+TIME\s+TYPE\s+ATTRIBUTES/);
    assert.match(table, /\n1\s+\S+\s+WorkflowExecutionStarted/);
  });

  it('a failed workflow\'s result exits 1 with its failure; input is JSON arguments', async () => {
    await ok('workflow', 'start', '--type', 'failing', '-t', 'cli', '-w', 'cli-fail', '-i', '"boom"');
    const r = await cli('workflow', 'result', '-w', 'cli-fail');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /durable: workflow failed: boom/);
    const j = await cli('workflow', 'result', '-w', 'cli-fail', '-o', 'json');
    assert.equal(j.code, 1);
    assert.equal(JSON.parse(j.stdout).status, 'failed');
  });

  it('cancel and terminate (temporal workflow cancel|terminate)', async () => {
    await ok('workflow', 'start', '--type', 'collector', '-t', 'cli', '-w', 'cli-cancel');
    await ok('workflow', 'start', '--type', 'collector', '-t', 'cli', '-w', 'cli-term');
    assert.match(await ok('workflow', 'cancel', '-w', 'cli-cancel', '--reason', 'test'), /cancel requested: cli-cancel/);
    const c = await cli('workflow', 'result', '-w', 'cli-cancel');
    assert.equal(c.code, 1);
    assert.match(c.stderr, /workflow canceled/);
    assert.deepEqual(await okJson('workflow', 'terminate', '-w', 'cli-term', '--reason', 'by cli'), { workflow_id: 'cli-term', ok: true });
    assert.equal((await okJson('workflow', 'describe', '-w', 'cli-term')).status, 'terminated');
    const t = await cli('workflow', 'result', '-w', 'cli-term');
    assert.equal(t.code, 1);
    assert.match(t.stderr, /workflow terminated/);
  });

  it('list: filters by status, type, id prefix, task queue, time range and search attribute, with keyset pages', async () => {
    for (let i = 1; i <= 3; i++) {
      await ok('workflow', 'start', '--type', 'chain', '-t', 'cli', '-w', `cli-page-${i}`, '-i', '2',
        '--search-attribute', `customer="c-${i === 2 ? 42 : i}"`);
    }
    await waitFor(async () => (await okJson('workflow', 'list', '--workflow-id-prefix', 'cli-page-', '--status', 'Completed')).workflows.length === 3,
      'the chains complete');
    const p1 = await okJson('workflow', 'list', '--workflow-id-prefix', 'cli-page-', '--limit', '2');
    assert.deepEqual(p1.workflows.map((w: any) => w.workflow_id), ['cli-page-3', 'cli-page-2']); // newest first
    assert.ok(p1.next_page);
    const p2 = await okJson('workflow', 'list', '--workflow-id-prefix', 'cli-page-', '--limit', '2', '--after', p1.next_page);
    assert.deepEqual(p2.workflows.map((w: any) => w.workflow_id), ['cli-page-1']);
    assert.equal(p2.next_page, null);
    const sa = await okJson('workflow', 'list', '--search-attribute', 'customer="c-42"');
    assert.deepEqual(sa.workflows.map((w: any) => w.workflow_id), ['cli-page-2']);
    assert.equal((await okJson('workflow', 'list', '--type', 'chain', '--task-queue', 'cli')).workflows.length, 3);
    assert.equal((await okJson('workflow', 'list', '--type', 'chain', '--task-queue', 'other')).workflows.length, 0);
    assert.equal((await okJson('workflow', 'list', '--type', 'failing', '--status', 'failed')).workflows.length, 1);
    assert.equal((await okJson('workflow', 'list', '--start-time-after', '2100-01-01T00:00:00Z')).workflows.length, 0);
    assert.ok((await okJson('workflow', 'list', '--start-time-before', '2100-01-01T00:00:00Z')).workflows.length >= 6);
    // a prefix is literal: LIKE wildcards in it match themselves only
    assert.equal((await okJson('workflow', 'list', '--workflow-id-prefix', 'cli_page')).workflows.length, 0);
    const table = await ok('workflow', 'list', '--workflow-id-prefix', 'cli-page-', '--limit', '1');
    assert.match(table, /^STATUS\s+WORKFLOW_ID\s+WORKFLOW_TYPE/);
    assert.match(table, /completed\s+cli-page-3\s+chain\s+cli/);
    assert.match(table, /next page: --after \S+/);
  });

  it('reset to the last workflow task starts a new run and re-applies later signals (temporal workflow reset)', async () => {
    const s = await okJson('workflow', 'start', '--type', 'collector', '-t', 'cli', '-w', 'cli-reset');
    await ok('workflow', 'signal', '-w', 'cli-reset', '--name', 'go', '-i', '"x"');
    await waitFor(async () => (await okJson('workflow', 'show', '-w', 'cli-reset'))
      .filter((e: any) => e.event_type === 'WorkflowTaskCompleted').length >= 2, 'the signal is handled');
    const r = await okJson('workflow', 'reset', '-w', 'cli-reset', '--type', 'FirstWorkflowTask', '--reason', 'cli test');
    assert.notEqual(r.run_id, s.run_id);
    assert.equal((await okJson('workflow', 'describe', '-w', 'cli-reset', '-r', s.run_id)).status, 'terminated');
    const d = await okJson('workflow', 'describe', '-w', 'cli-reset');
    assert.equal(d.run_id, r.run_id);
    await ok('workflow', 'signal', '-w', 'cli-reset', '--name', 'go', '-i', '"done"');
    // the signal received after the reset point is re-applied to the new run (docs/sql-api.md reset_workflow)
    assert.equal((await ok('workflow', 'result', '-w', 'cli-reset')).trim(), '["x","done"]');
    const bad = await cli('workflow', 'reset', '-w', 'cli-reset', '--event-id', '1');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /SQLSTATE 22023/);
  });

  it('errors exit non-zero with a clear message', async () => {
    const missing = await cli('workflow', 'describe', '-w', 'no-such-workflow');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^durable: .*no-such-workflow.*\(SQLSTATE \w{5}\)\n$/);
    const noId = await cli('workflow', 'describe');
    assert.equal(noId.code, 2);
    assert.equal(noId.stderr, 'durable: --workflow-id is required\n');
    const verb = await cli('workflow', 'explode');
    assert.equal(verb.code, 2);
    assert.match(verb.stderr, /unknown command "workflow explode" \(one of start, list/);
    const flag = await cli('workflow', 'list', '--colour', 'red');
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown flag --colour/);
    const out = await cli('workflow', 'list', '-o', 'yaml');
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--output: table or json/);
    const json = await cli('workflow', 'signal', '-w', 'x', '--name', 'go', '-i', '{not json');
    assert.equal(json.code, 2);
    assert.match(json.stderr, /--input: not valid JSON/);
    const cursor = await cli('workflow', 'list', '--after', 'garbage');
    assert.equal(cursor.code, 2);
    const ns = await cli('workflow', 'list', '-n', 'no-such-namespace');
    assert.equal(ns.code, 1);
    assert.match(ns.stderr, /no-such-namespace/);
    const down = await new Promise<Run>((resolve) => execFile(process.execPath, [CLI, 'workflow', 'list'],
      { env: { ...process.env, DATABASE_URL: 'postgresql://postgres@/postgres?host=/nonexistent' } },
      (err, stdout, stderr) => resolve({ code: (err?.code as number) ?? 0, stdout, stderr })));
    assert.equal(down.code, 1);
    assert.match(down.stderr, /durable: cannot connect to the database/);
    assert.equal((await cli('--help')).code, 0);
    assert.match((await cli('workflow', 'list', '--help')).stdout, /--workflow-id-prefix/);
  });
});

describe('durable as a role that is not a superuser', () => {
  // docs/cli.md: the role needs the capabilities of the call (durable_client), nothing more
  function cliAs(role: string, ...args: string[]): Promise<Run> {
    const url = env.cluster.connectionString.replace('postgresql://postgres@', `postgresql://${role}@`);
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: url }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
  }

  it('a durable_client login runs the client verbs; a role without a grant is refused with 42501', async () => {
    await env.pool.query('CREATE ROLE cli_client LOGIN IN ROLE durable_client');
    await env.pool.query('CREATE ROLE cli_nobody LOGIN');
    const started = await cliAs('cli_client', 'workflow', 'start', '--type', 'collector', '--task-queue', 'cli',
      '-w', 'cli-as-client', '--output', 'json');
    assert.equal(started.code, 0, started.stderr);
    assert.equal((await cliAs('cli_client', 'workflow', 'signal', '-w', 'cli-as-client', '--name', 'go', '-i', '"done"')).code, 0);
    const listed = await cliAs('cli_client', 'workflow', 'list', '--workflow-id-prefix', 'cli-as-', '--output', 'json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).workflows.some((w: any) => w.workflow_id === 'cli-as-client'), listed.stdout);
    const result = await cliAs('cli_client', 'workflow', 'result', '-w', 'cli-as-client', '--output', 'json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).status, 'completed');
    assert.equal((await cliAs('cli_client', 'task-queue', 'describe', '-t', 'cli')).code, 0);
    if (hasSchedules) {
      assert.equal((await cliAs('cli_client', 'schedule', 'list')).code, 0);
    }
    const refused = await cliAs('cli_nobody', 'workflow', 'start', '--type', 'collector', '--task-queue', 'cli', '-w', 'cli-nobody');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\(SQLSTATE 42501\)/);
    const none = await cliAs('cli_nobody', 'workflow', 'list', '--workflow-id-prefix', 'cli-as-', '--output', 'json');
    // row-level security: a role without a grant sees no runs (or is refused), never another's
    assert.ok(none.code === 1 || JSON.parse(none.stdout).workflows.length === 0, none.stdout + none.stderr);
  });
});

describe('durable task-queue', () => {
  it('describe shows the queue\'s pollers and backlog (temporal task-queue describe)', async () => {
    const d = await okJson('task-queue', 'describe', '-t', 'cli');
    assert.ok(Array.isArray(d.pollers) && d.pollers.length >= 1, JSON.stringify(d));
    const table = await ok('task-queue', 'describe', '--task-queue', 'cli');
    assert.match(table, /pollers:\n/);
    assert.match(table, /backlog:\n/);
  });
});

describe('durable schedule and client.schedule', () => {
  it('create, list, describe, pause, unpause, trigger, backfill, delete (temporal schedule ...)', async (t) => {
    if (!hasSchedules) return t.skip('this engine has no durable.create_schedule');
    await ok('schedule', 'create', '-s', 'cli-sched', '--cron', '0 0 1 1 *', '--type', 'chain', '-t', 'cli', '-i', '1',
      '--overlap-policy', 'AllowAll', '-w', 'cli-sched-wf');
    const dup = await cli('schedule', 'create', '-s', 'cli-sched', '--cron', '0 0 1 1 *', '--type', 'chain', '-t', 'cli');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const none = await cli('schedule', 'create', '-s', 'x', '--type', 'chain', '-t', 'cli');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--cron, --interval or --calendar/);
    assert.ok((await okJson('schedule', 'list')).some((s: any) => s.schedule_id === 'cli-sched'));
    assert.match(await ok('schedule', 'list'), /cli-sched\s+chain\s+false/);
    let d = await okJson('schedule', 'describe', '-s', 'cli-sched');
    assert.equal(d.policies.overlap, 'allow_all');
    assert.deepEqual(d.spec.cron, ['0 0 1 1 *']);
    assert.match(d.info.next_action_times[0], /-01-01T00:00:00/);
    await ok('schedule', 'pause', '-s', 'cli-sched', '--reason', 'maintenance');
    d = await okJson('schedule', 'describe', '-s', 'cli-sched');
    assert.deepEqual([d.state.paused, d.state.note], [true, 'maintenance']);
    await ok('schedule', 'unpause', '-s', 'cli-sched', '--reason', 'done');
    assert.equal((await okJson('schedule', 'describe', '-s', 'cli-sched')).state.paused, false);
    await ok('schedule', 'trigger', '-s', 'cli-sched');
    await ok('schedule', 'backfill', '-s', 'cli-sched', '--start-time', '2025-12-31T12:00:00Z', '--end-time', '2026-01-01T12:00:00Z',
      '--overlap-policy', 'BufferAll');
    // the triggered and the backfilled run: "<prefix>-<scheduled time>", with Temporal's schedule search attributes
    const runs = await waitFor(async () => {
      const w = (await okJson('workflow', 'list', '--workflow-id-prefix', 'cli-sched-wf-', '--status', 'completed')).workflows;
      return w.length >= 2 ? w : undefined;
    }, 'the schedule\'s runs');
    assert.ok(runs.some((w: any) => w.workflow_id === 'cli-sched-wf-2026-01-01T00:00:00Z'), JSON.stringify(runs));
    assert.equal((await okJson('workflow', 'list', '--search-attribute', 'TemporalScheduledById="cli-sched"')).workflows.length, runs.length);
    const described = await ok('schedule', 'describe', '-s', 'cli-sched');
    assert.match(described, /action_count\s+2/);
    assert.match(described, /recent actions:\nSCHEDULED_TIME/);
    await ok('schedule', 'delete', '-s', 'cli-sched');
    const gone = await cli('schedule', 'describe', '-s', 'cli-sched');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /cli-sched/);
  });

  it('client.schedule: Temporal\'s shapes (calendars, intervals, overlap names, state) round-trip', async (t) => {
    if (!hasSchedules) return t.skip('this engine has no durable.create_schedule');
    // packages/client/src/schedule-client.ts: create({ scheduleId, spec, action, policies, state }), getHandle(id)
    const h = await env.client.schedule.create({
      scheduleId: 'sdk-sched',
      spec: {
        calendars: [{ hour: 9, minute: { start: 0, end: 30, step: 15 }, dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY' }], comment: 'weekdays' }],
        intervals: [{ every: '1 hour', offset: '5 minutes' }],
        timezone: 'Europe/Paris',
      },
      action: { type: 'startWorkflow', workflowType: 'chain', taskQueue: 'cli', args: [1] },
      policies: { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 day' },
      state: { paused: true, note: 'new', remainingActions: 3 },
    });
    const d = await h.describe();
    assert.equal(d.scheduleId, 'sdk-sched');
    assert.equal(d.policies.overlap, 'BUFFER_ONE');
    assert.deepEqual(d.state, { paused: true, note: 'new', remainingActions: 3 });
    assert.deepEqual(d.raw.spec.calendars[0], {
      second: '0', minute: '0-30/15', hour: '9', day_of_month: '*', month: '*', day_of_week: 'mon-fri', year: '*', comment: 'weekdays',
    });
    assert.equal(d.spec.timezone, 'Europe/Paris');
    assert.deepEqual(d.action.args, [1]);
    assert.ok(d.info.nextActionTimes.length > 0 && d.info.nextActionTimes[0] instanceof Date);
    await h.update((prev) => ({ ...prev, spec: { cronExpressions: ['*/5 * * * *'] }, policies: { ...prev.policies, overlap: 'SKIP' } }));
    const u = await h.describe();
    assert.deepEqual(u.spec.cronExpressions, ['*/5 * * * *']);
    assert.equal(u.policies.overlap, 'SKIP');
    const ids: string[] = [];
    for await (const s of env.client.schedule.list()) ids.push(s.scheduleId);
    assert.ok(ids.includes('sdk-sched'));
    await h.delete();
    await assert.rejects(h.describe());
  });
});

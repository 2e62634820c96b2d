#!/usr/bin/env node
/**
 * test/conformance/record.js -- regenerate the conformance fixtures
 * (test/conformance/*.json) from the real engine.
 *
 *   cd sdk/typescript && npx tsc -p . && cd ../.. && node test/conformance/record.js [name ...]
 *   node test/conformance/record.js --check [name ...]
 *
 * Starts a throwaway cluster the way the TypeScript SDK's tests do (its
 * compiled test/helpers/cluster.js: initdb in a temp dir, the installed
 * extension preloaded, a unix socket), then, for each recipe below, plays
 * a worker by hand: it starts a workflow, polls workflow tasks, completes
 * them with the commands the fixture's script produces (written out here,
 * not computed by any SDK), sends signals and cancel requests, and keeps the
 * `history` column of the last workflow task it polled.  The commands of
 * that last task are sent too, so the engine checks them; its answer is
 * kept as `engine_answer`.  Histories are then normalised (README.md,
 * "Normalisation") and written to <name>.json.
 *
 * With --check nothing is written: each recording is compared with the
 * stored fixture (history, expected commands, engine answer), so that a
 * change of the engine that a fixture no longer describes fails the run
 * (test/run-all does this).  Prints "pass <name>" / "FAIL <name>: ..." and
 * ends with "N passed, N failed".
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SDK = path.resolve(__dirname, '../../sdk/typescript');
const pg = require(path.join(SDK, 'node_modules/pg'));
const { Cluster } = require(path.join(SDK, 'dist/test/helpers/cluster.js'));

const WORKER = 'conformance-worker';
const CLIENT = 'conformance-client';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/* ------------------------------------------------------------ the scripts */

const SCRIPTS = {
  timer_done: [{ op: 'sleep', seconds: 1 }, { op: 'complete', result: 'done' }],
  activity_echo: [
    { op: 'activity', activity_type: 'echo', args: [{ $arg: 0 }], start_to_close_timeout: '10s', save_as: 'r' },
    { op: 'complete', result: { $var: 'r' } },
  ],
  sleep_then_signal: [
    { op: 'sleep', seconds: 3 },
    { op: 'wait_signal', signal_name: 'go', save_as: 's' },
    { op: 'complete', result: { $var: 's' } },
  ],
  wait_signal: [
    { op: 'wait_signal', signal_name: 'go', save_as: 's' },
    { op: 'complete', result: { $var: 's' } },
  ],
  long_sleep: [{ op: 'sleep', seconds: 60 }, { op: 'complete', result: 'late' }],
  can_first: [{ op: 'sleep', seconds: 1 }, { op: 'continue_as_new', workflow_type: 'can_second', input: ['from first'] }],
  can_second: [{ op: 'complete', result: { $arg: 0 } }],
  patched_flow: [
    {
      op: 'patched', patch_id: 'p1',
      then: [{ op: 'activity', activity_type: 'new_way', args: [{ $arg: 0 }], start_to_close_timeout: '10s', save_as: 'r' }],
      else: [{ op: 'activity', activity_type: 'old_way', args: [{ $arg: 0 }], start_to_close_timeout: '10s', save_as: 'r' }],
    },
    { op: 'complete', result: { $var: 'r' } },
  ],
};

/* the commands those scripts send, by hand */
const C = {
  timer: (id, duration) => ({ type: 'start_timer', timer_id: id, duration }),
  activity: (id, type, input) => ({ type: 'schedule_activity', activity_id: id, activity_type: type, input, start_to_close_timeout: '10s' }),
  complete: (result) => ({ type: 'complete_workflow', result }),
  patch: (id) => ({ type: 'record_marker', marker_name: 'core_patch', details: { patch_id: id, deprecated: false } }),
};

/* ------------------------------------------------------------ the engine */

class Driver {
  constructor(client, name) {
    this.c = client;
    this.queue = `cf-${name}`;
    this.wfid = `wf-${name}`;
    this.lastTask = null;
  }
  async q(sql, args) {
    return (await this.c.query(sql, args)).rows;
  }
  async start(type, input, opts = {}) {
    const [r] = await this.q(
      `SELECT durable.start_workflow($1, $2::jsonb, workflow_id => $3, task_queue => $4, request_id => $5,
              task_timeout => coalesce($6::interval, '10 seconds')) AS run_id`,
      [type, JSON.stringify(input), this.wfid, this.queue, `start-${this.wfid}`, opts.taskTimeout ?? null]);
    return r.run_id;
  }
  /** The next workflow task of the queue (waits up to `wait`). */
  async pollWorkflow(wait = '15 seconds') {
    const rows = await this.q(`SELECT * FROM durable.poll_task($1, $2, '{workflow}', $3::interval)`, [this.queue, WORKER, wait]);
    if (!rows.length) throw new Error(`${this.queue}: no workflow task within ${wait}`);
    if (rows[0].kind !== 'workflow') throw new Error(`${this.queue}: got a ${rows[0].kind} task`);
    this.lastTask = rows[0];
    return rows[0];
  }
  async pollActivity(wait = '15 seconds') {
    const rows = await this.q(`SELECT * FROM durable.poll_task($1, $2, '{activity}', $3::interval)`, [this.queue, WORKER, wait]);
    if (!rows.length) throw new Error(`${this.queue}: no activity task within ${wait}`);
    return rows[0];
  }
  async complete(task, commands) {
    const [r] = await this.q('SELECT durable.complete_workflow_task($1, $2::jsonb) AS a', [task.task_token, JSON.stringify(commands)]);
    return r.a;
  }
  async failTask(task, failure) {
    await this.q('SELECT durable.fail_workflow_task($1, $2::jsonb)', [task.task_token, JSON.stringify(failure)]);
  }
  async completeActivity(task, result) {
    await this.q('SELECT durable.complete_activity($1, $2::jsonb)', [task.task_token, JSON.stringify(result)]);
  }
  async signal(name, payload, requestId) {
    await this.q('SELECT durable.signal_workflow($1, $2, $3::jsonb, request_id => $4)', [this.wfid, name, JSON.stringify(payload), requestId]);
  }
  async cancel() {
    await this.q('SELECT durable.cancel_workflow($1)', [this.wfid]);
  }
}

/* ------------------------------------------------------------ the recipes */
/*
 * Each recipe drives the engine and returns { task, commands, answer } for
 * the fixture's last workflow task (or { task, failure } when a correct
 * worker fails it).  `workflow_type` and `input` name the fixture's script.
 */
const RECIPES = [
  {
    name: 'first-task-timer', workflow_type: 'timer_done', input: [],
    description: 'The first workflow task of a new run: the script starts a 1 s timer.',
    async drive(d) {
      await d.start('timer_done', []);
      const t = await d.pollWorkflow();
      const commands = [C.timer('1', '1s')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'timer-fired', workflow_type: 'timer_done', input: [],
    description: 'The timer of the first task fired: the script completes with "done".',
    async drive(d) {
      await d.start('timer_done', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '1s')]);
      const t = await d.pollWorkflow();
      const commands = [C.complete('done')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'first-task-activity', workflow_type: 'activity_echo', input: ['hello'],
    description: 'The first workflow task schedules an activity with the workflow argument as its input.',
    async drive(d) {
      await d.start('activity_echo', ['hello']);
      const t = await d.pollWorkflow();
      const commands = [C.activity('1', 'echo', ['hello'])];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'activity-completed', workflow_type: 'activity_echo', input: ['hello'],
    description: 'The activity completed with "HELLO": the script completes with its result.',
    async drive(d) {
      await d.start('activity_echo', ['hello']);
      await d.complete(await d.pollWorkflow(), [C.activity('1', 'echo', ['hello'])]);
      await d.completeActivity(await d.pollActivity(), 'HELLO');
      const t = await d.pollWorkflow();
      const commands = [C.complete('HELLO')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'signal-while-sleeping', workflow_type: 'sleep_then_signal', input: [],
    description: 'A signal arrives while the script sleeps: the task it makes sends no command (the signal is buffered).',
    async drive(d) {
      await d.start('sleep_then_signal', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '3s')]);
      await d.signal('go', ['payload'], 'sig-1');
      const t = await d.pollWorkflow();
      if (t.history.some((e) => e.event_type === 'TimerFired')) throw new Error('the timer fired too soon');
      return { task: t, commands: [], answer: await d.complete(t, []) };
    },
  },
  {
    name: 'signal-buffered-before-wait', workflow_type: 'sleep_then_signal', input: [],
    description: 'A signal arrived mid-history, before the script waited for it; the timer fires and the buffered signal completes the wait at once.',
    async drive(d) {
      await d.start('sleep_then_signal', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '3s')]);
      await d.signal('go', ['payload'], 'sig-1');
      await d.complete(await d.pollWorkflow(), []);
      const t = await d.pollWorkflow();
      const commands = [C.complete('payload')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'signal-wakes-wait', workflow_type: 'wait_signal', input: [],
    description: 'The script waits for a signal (its first task sends no command); the signal arrives and the script completes with its argument.',
    async drive(d) {
      await d.start('wait_signal', []);
      await d.complete(await d.pollWorkflow(), []);
      await d.signal('go', ['a'], 'sig-1');
      const t = await d.pollWorkflow();
      const commands = [C.complete('a')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'cancel-while-sleeping', workflow_type: 'long_sleep', input: [],
    description: 'Cancellation is requested while the script sleeps: the timer is canceled and the workflow closes as canceled.',
    async drive(d) {
      await d.start('long_sleep', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '60s')]);
      await d.cancel();
      const t = await d.pollWorkflow();
      const commands = [{ type: 'cancel_timer', timer_id: '1' }, { type: 'cancel_workflow', details: null }];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'cancel-activity', workflow_type: 'activity_echo', input: ['hello'],
    description: 'Cancellation is requested while the activity is scheduled: the activity is asked to cancel and the workflow closes as canceled.',
    async drive(d) {
      await d.start('activity_echo', ['hello']);
      await d.complete(await d.pollWorkflow(), [C.activity('1', 'echo', ['hello'])]);
      await d.cancel();
      const t = await d.pollWorkflow();
      const commands = [{ type: 'request_cancel_activity', activity_id: '1' }, { type: 'cancel_workflow', details: null }];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'continue-as-new', workflow_type: 'can_first', input: [],
    description: 'After its timer, the script continues as new as another workflow type with new input.',
    async drive(d) {
      await d.start('can_first', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '1s')]);
      const t = await d.pollWorkflow();
      const commands = [{ type: 'continue_as_new', input: ['from first'], workflow_type: 'can_second' }];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'continued-run-first-task', workflow_type: 'can_second', input: ['from first'],
    description: 'The first task of the run a continue-as-new started (its WorkflowExecutionStarted names the run it continues): the script completes with its argument.',
    async drive(d) {
      await d.start('can_first', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '1s')]);
      await d.complete(await d.pollWorkflow(), [{ type: 'continue_as_new', input: ['from first'], workflow_type: 'can_second' }]);
      const t = await d.pollWorkflow();
      const commands = [C.complete('from first')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'patch-new-run', workflow_type: 'patched_flow', input: ['x'],
    description: 'patched("p1") in a new run: true; the patch marker is recorded before the new branch\'s activity.',
    async drive(d) {
      await d.start('patched_flow', ['x']);
      const t = await d.pollWorkflow();
      const commands = [C.patch('p1'), C.activity('1', 'new_way', ['x'])];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'patch-present-replay', workflow_type: 'patched_flow', input: ['x'],
    description: 'Replaying a run that recorded the patch marker: patched("p1") is true again (no second marker); the script completes with new_way\'s result.',
    async drive(d) {
      await d.start('patched_flow', ['x']);
      await d.complete(await d.pollWorkflow(), [C.patch('p1'), C.activity('1', 'new_way', ['x'])]);
      await d.completeActivity(await d.pollActivity(), 'new:x');
      const t = await d.pollWorkflow();
      const commands = [C.complete('new:x')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'patch-absent-replay', workflow_type: 'patched_flow', input: ['x'],
    description: 'Replaying a run that code before the patch started (no marker, old_way scheduled): patched("p1") is false while replaying that task; the script completes with old_way\'s result.',
    async drive(d) {
      await d.start('patched_flow', ['x']);
      await d.complete(await d.pollWorkflow(), [C.activity('1', 'old_way', ['x'])]);
      await d.completeActivity(await d.pollActivity(), 'old:x');
      const t = await d.pollWorkflow();
      const commands = [C.complete('old:x')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'workflow-task-failed', workflow_type: 'timer_done', input: [],
    description: 'The task after the timer fired failed (WorkflowTaskStarted, WorkflowTaskFailed); its retry must run the code as if the failed attempt never happened.',
    async drive(d) {
      await d.start('timer_done', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '1s')]);
      await d.failTask(await d.pollWorkflow(), { message: 'worker crashed', type: 'Crash', non_retryable: false, details: null });
      const t = await d.pollWorkflow();
      const commands = [C.complete('done')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'workflow-task-timed-out', workflow_type: 'timer_done', input: [],
    description: 'The task after the timer fired timed out (WorkflowTaskStarted, WorkflowTaskTimedOut); its retry must run the code as if the lost attempt never happened.',
    async drive(d) {
      await d.start('timer_done', [], { taskTimeout: '1 second' });
      await d.complete(await d.pollWorkflow(), [C.timer('1', '1s')]);
      await d.pollWorkflow(); // and never completed
      const t = await d.pollWorkflow('20 seconds');
      const commands = [C.complete('done')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'unhandled-command', workflow_type: 'wait_signal', input: [],
    description: 'The task completes the workflow, but a second signal arrived while it ran: the engine refuses the close (engine_answer: unhandled_command).',
    async drive(d) {
      await d.start('wait_signal', []);
      await d.complete(await d.pollWorkflow(), []);
      await d.signal('go', ['a'], 'sig-1');
      const t = await d.pollWorkflow();
      await d.signal('go', ['b'], 'sig-2');
      const commands = [C.complete('a')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'after-unhandled-command', workflow_type: 'wait_signal', input: [],
    description: 'The task after an unhandled_command answer: the failed task (WorkflowTaskFailed, cause UnhandledCommand) does not count; both signals are applied and the script completes with the first.',
    async drive(d) {
      await d.start('wait_signal', []);
      await d.complete(await d.pollWorkflow(), []);
      await d.signal('go', ['a'], 'sig-1');
      const t2 = await d.pollWorkflow();
      await d.signal('go', ['b'], 'sig-2');
      const a = await d.complete(t2, [C.complete('a')]);
      if (a.outcome !== 'unhandled_command') throw new Error(`expected unhandled_command, got ${JSON.stringify(a)}`);
      const t = await d.pollWorkflow();
      const commands = [C.complete('a')];
      return { task: t, commands, answer: await d.complete(t, commands) };
    },
  },
  {
    name: 'nondeterminism-activity-vs-timer', workflow_type: 'timer_done', input: [],
    description: 'Code that used to schedule an activity now starts a timer: the history has ActivityTaskScheduled (event 5) where the script starts a timer, so a correct worker fails the task with a NonDeterminismError.',
    async drive(d) {
      await d.start('timer_done', []);
      await d.complete(await d.pollWorkflow(), [C.activity('1', 'echo', ['old code'])]);
      await d.completeActivity(await d.pollActivity(), 'ok');
      const t = await d.pollWorkflow();
      const failure = { message: 'Non-determinism at event 5', type: 'NonDeterminismError', non_retryable: false, details: null };
      await d.failTask(t, failure);
      return { task: t, nondeterminism: { event_id: 5 } };
    },
  },
  {
    name: 'nondeterminism-missing-command', workflow_type: 'wait_signal', input: [],
    description: 'The history has TimerStarted (event 5) where the script, waiting for a signal, sends no command: a correct worker fails the task with a NonDeterminismError.',
    async drive(d) {
      await d.start('wait_signal', []);
      await d.complete(await d.pollWorkflow(), [C.timer('1', '1s')]);
      const t = await d.pollWorkflow();
      await d.failTask(t, { message: 'Non-determinism at event 5', type: 'NonDeterminismError', non_retryable: false, details: null });
      return { task: t, nondeterminism: { event_id: 5 } };
    },
  },
  {
    name: 'nondeterminism-extra-command', workflow_type: 'timer_done', input: [],
    description: 'The first task completed with no command (the code waited for a signal then), but the script starts a timer in it: the history has no command event left for start_timer, so a correct worker fails the task with a NonDeterminismError naming that task\'s WorkflowTaskStarted (event 3).',
    async drive(d) {
      await d.start('timer_done', []);
      await d.complete(await d.pollWorkflow(), []);
      await d.signal('go', ['a'], 'sig-1');
      const t = await d.pollWorkflow();
      await d.failTask(t, { message: 'Non-determinism in workflow task 3', type: 'NonDeterminismError', non_retryable: false, details: null });
      return { task: t, nondeterminism: { event_id: 3 } };
    },
  },
];

/* ------------------------------------------------------------ normalisation */

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Placeholder uuids (valid uuids, numbered in order of first appearance: the fixture's run is 1). */
function normaliser(runId) {
  const ids = new Map([[runId, 1]]);
  const uuid = (u) => {
    if (!ids.has(u)) ids.set(u, ids.size + 1);
    return `00000000-0000-4000-8000-${String(ids.get(u)).padStart(12, '0')}`;
  };
  const walk = (v) => {
    if (typeof v === 'string') return v.replace(UUID, (m) => uuid(m.toLowerCase()));
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const event = (e) => {
    const attributes = walk(e.attributes);
    if (typeof attributes.identity === 'string' && attributes.identity !== WORKER) attributes.identity = CLIENT;
    return {
      event_id: e.event_id,
      event_type: e.event_type,
      event_time: new Date(T0 + e.event_id * 1000).toISOString().replace('Z', '+00:00'),
      attributes,
    };
  };
  return { uuid, walk, event };
}

/* ------------------------------------------------------------ main */

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const only = args.filter((a) => a !== '--check');
  const recipes = only.length ? RECIPES.filter((r) => only.includes(r.name)) : RECIPES;
  if (only.length && recipes.length !== only.length) throw new Error(`unknown fixture in ${only.join(' ')}`);
  const cluster = new Cluster();
  await cluster.start();
  const results = [];
  try {
    await Promise.all(recipes.map(async (r) => {
      const client = new pg.Client({ connectionString: cluster.connectionString });
      await client.connect();
      try {
        const d = new Driver(client, r.name);
        const out = await r.drive(d);
        results.push([r, out]);
      } catch (e) {
        e.message = `${r.name}: ${e.message}`;
        throw e;
      } finally {
        await client.end();
      }
    }));
  } finally {
    await cluster.stop();
  }
  let passed = 0;
  let failed = 0;
  for (const r of recipes) {
    const [, out] = results.find(([x]) => x === r);
    const n = normaliser(out.task.run_id);
    const fixture = {
      name: r.name,
      description: r.description,
      workflow: { workflow_type: r.workflow_type, script: SCRIPTS[r.workflow_type] },
      workflow_id: out.task.workflow_id,
      run_id: n.uuid(out.task.run_id),
      attempt: out.task.attempt,
      history: out.task.history.map(n.event),
      expect: out.nondeterminism
        ? { fail_workflow_task: { type: 'NonDeterminismError', event_id: out.nondeterminism.event_id } }
        : { complete_workflow_task: out.commands },
    };
    if (out.answer !== undefined) fixture.engine_answer = n.walk(out.answer);
    const file = path.join(__dirname, `${r.name}.json`);
    if (check) {
      const stored = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
      const diff = stored ? firstDifference(stored, JSON.parse(JSON.stringify(fixture)), '') : 'no stored fixture';
      if (diff) {
        failed++;
        console.log(`FAIL ${r.name}: ${diff}`);
      } else {
        passed++;
        console.log(`pass ${r.name}`);
      }
      continue;
    }
    fs.writeFileSync(file, JSON.stringify(fixture, null, 1) + '\n');
    console.log(`wrote ${path.relative(process.cwd(), file)} (${fixture.history.length} events)`);
  }
  if (check) {
    console.log(`${passed} passed, ${failed} failed`);
    if (failed) process.exitCode = 1;
  }
}

/** Where two JSON values first differ (a path and both values), or null. */
function firstDifference(a, b, at) {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) {
    return `${at || '.'}: stored ${JSON.stringify(a)}, engine now ${JSON.stringify(b)}`;
  }
  if (a && typeof a === 'object') {
    const keys = Array.isArray(a) ? [...Array(Math.max(a.length, b.length)).keys()]
      : [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      if (!(k in a) || !(k in b)) return `${at}/${k}: stored ${JSON.stringify(a[k])}, engine now ${JSON.stringify(b[k])}`;
      const d = firstDifference(a[k], b[k], `${at}/${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${at || '.'}: stored ${JSON.stringify(a)}, engine now ${JSON.stringify(b)}`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

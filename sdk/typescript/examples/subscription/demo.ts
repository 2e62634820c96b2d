/**
 * Driver of the subscription demo (demo.sh runs it; the workers are separate
 * processes running examples/subscription/worker.js).
 *
 *   node dist/examples/subscription/demo.js setup    create the example's tables
 *   node dist/examples/subscription/demo.js start    start the renewals, watch the
 *        activities, and SIGKILL worker $DEMO_WORKER_PID once a charge has
 *        completed while renewal-slow-erin is in the middle of extendSubscription
 *   node dist/examples/subscription/demo.js finish   (a new worker is running) wait
 *        for every workflow to close, then check outcomes and that no charge ran twice
 *
 * Environment: DATABASE_URL, TASK_QUEUE, DEMO_TAG (suffix of the workflow ids),
 * DEMO_STATE (a file handed from `start` to `finish`), DEMO_TIMEOUT (seconds).
 * Exit status 0 when every check passes.
 */
import * as fs from 'node:fs';
import pg from 'pg';
import { Client, WorkflowFailedError } from '../../src';
import { SCHEMA } from './activities';

interface Case {
  customer: string;
  workflow: 'subscriptionRenewal' | 'subscriptionLifecycle';
  args: unknown[];
  story: string;
  /** 'completed', or the failure type the workflow fails with */
  outcome: string;
  charges: number;
  refunds: number;
  notifications: string[];
}

const CASES: Case[] = [
  { customer: 'alice', workflow: 'subscriptionRenewal', args: ['alice'], story: 'charged, extended, confirmed',
    outcome: 'completed', charges: 1, refunds: 0, notifications: ['renewed'] },
  { customer: 'invalid-bob', workflow: 'subscriptionRenewal', args: ['invalid-bob'], story: 'charge throws InvalidAccountError: non-retryable, one attempt, workflow fails',
    outcome: 'InvalidAccountError', charges: 0, refunds: 0, notifications: [] },
  { customer: 'declined-dave', workflow: 'subscriptionRenewal', args: ['declined-dave'], story: 'card declined ({success:false}): notifyPaymentFailed',
    outcome: 'completed', charges: 0, refunds: 0, notifications: ['payment_failed'] },
  { customer: 'noext-carol', workflow: 'subscriptionRenewal', args: ['noext-carol'], story: 'charged, extendSubscription rejected: refundCharge compensates, workflow fails',
    outcome: 'ExtensionRejected', charges: 1, refunds: 1, notifications: [] },
  { customer: 'flaky-gina', workflow: 'subscriptionRenewal', args: ['flaky-gina'], story: 'extendSubscription fails twice, retried with backoff (1s, 2s), succeeds',
    outcome: 'completed', charges: 1, refunds: 0, notifications: ['renewed'] },
  { customer: 'slow-erin', workflow: 'subscriptionRenewal', args: ['slow-erin'], story: 'charged; extendSubscription takes 1s: the worker is killed in the middle of it',
    outcome: 'completed', charges: 1, refunds: 0, notifications: ['renewed'] },
  { customer: 'frank', workflow: 'subscriptionLifecycle', args: ['frank', { period: '8s', maxRenewals: 2 }],
    story: 'subscriptionLifecycle: renews, sleeps 8s (durable timer), renews again: 2 charges by design',
    outcome: 'completed', charges: 2, refunds: 0, notifications: ['renewed', 'renewed'] },
];

const TAG = process.env.DEMO_TAG ?? '';
const QUEUE = process.env.TASK_QUEUE ?? 'subscriptions';
const wid = (c: Case) => `${c.workflow === 'subscriptionLifecycle' ? 'lifecycle' : 'renewal'}-${c.customer}${TAG}`;
const IDS = CASES.map(wid);
const ERIN = CASES.find((c) => c.customer === 'slow-erin')!;
const FRANK = CASES.find((c) => c.customer === 'frank')!;
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;

function url(): string {
  const u = process.env.DATABASE_URL;
  if (!u) throw new Error('set DATABASE_URL');
  return u;
}

/** Prints the activity runs recorded (by the activities themselves, in activity_runs) since the last call. */
class RunTail {
  constructor(private readonly pool: pg.Pool, public last: number) {}
  async print(): Promise<void> {
    const { rows } = await this.pool.query(
      'SELECT id, workflow_id, activity_type, attempt FROM activity_runs WHERE id > $1 AND workflow_id = ANY($2) ORDER BY id',
      [this.last, IDS]);
    for (const r of rows) {
      console.log(`  ${stamp()}  activity  ${pad(r.workflow_id, 26)} ${pad(r.activity_type, 24)} attempt ${r.attempt}`);
      this.last = Number(r.id);
    }
  }
}

async function describe(pool: pg.Pool, id: string): Promise<any> {
  const { rows } = await pool.query('SELECT status, pending_activities, pending_timers FROM durable.describe_workflow($1)', [id]);
  return rows[0];
}

function pendingText(d: any): string {
  const parts: string[] = [];
  for (const a of d.pending_activities ?? []) parts.push(`activity ${a.activity_type} ${a.state} (attempt ${a.attempt})`);
  for (const t of d.pending_timers ?? []) parts.push(`timer ${t.timer_id} fires ${new Date(t.fire_time).toISOString().slice(11, 19)}`);
  return parts.join(', ');
}

async function snapshot(pool: pg.Pool): Promise<void> {
  for (const c of CASES) {
    const d = await describe(pool, wid(c));
    const n = (await pool.query('SELECT count(*)::int n FROM charges WHERE workflow_id = $1', [wid(c)])).rows[0].n;
    console.log(`  ${pad(wid(c), 26)} ${pad(d.status, 10)} charges so far: ${n}   ${pendingText(d)}`);
  }
}

async function setup(): Promise<number> {
  const pool = new pg.Pool({ connectionString: url(), max: 1 });
  await pool.query(SCHEMA);
  await pool.end();
  return 0;
}

async function start(): Promise<number> {
  const pid = Number(process.env.DEMO_WORKER_PID);
  if (!pid) throw new Error('set DEMO_WORKER_PID');
  const pool = new pg.Pool({ connectionString: url(), max: 4 });
  pool.on('error', () => undefined);
  const client = new Client({ pool });
  const tail = new RunTail(pool, Number((await pool.query('SELECT coalesce(max(id), 0) AS m FROM activity_runs')).rows[0].m));

  for (const c of CASES) {
    await client.workflow.start(c.workflow, { args: c.args, taskQueue: QUEUE, workflowId: wid(c), workflowTaskTimeout: '2s' });
    console.log(`  started ${pad(wid(c), 26)} ${c.story}`);
  }
  console.log('');
  console.log('  activity runs as the activities record them (table activity_runs):');

  // Kill when slow-erin's charge is in the charges table and its extendSubscription is running on
  // worker-1 (it has logged its run and is in its 1 s sleep), preferably while frank's lifecycle is
  // asleep on its timer and nothing else is in flight.  If the slow-erin moment is missed, fall
  // back to: some charge done and frank asleep on its timer.
  const deadline = Date.now() + 30_000;
  let reason = '';
  for (;;) {
    await tail.print();
    const { rows } = await pool.query(`
      SELECT (SELECT count(*)::int FROM charges WHERE workflow_id = $1) AS charged,
             (SELECT extract(epoch FROM clock_timestamp() - max(started_at))::float8 FROM activity_runs
               WHERE workflow_id = $1 AND activity_type = 'extendSubscription') AS ext_age,
             (SELECT a->>'state' FROM durable.describe_workflow($1) d, jsonb_array_elements(d.pending_activities) a
               WHERE a->>'activity_type' = 'extendSubscription') AS ext_state,
             (SELECT status FROM durable.describe_workflow($1)) AS erin_status,
             (SELECT jsonb_array_length(pending_timers) FROM durable.describe_workflow($2)) AS frank_timers,
             (SELECT count(*)::int FROM unnest($3::text[]) AS u(id) CROSS JOIN LATERAL durable.describe_workflow(u.id) d
               WHERE u.id <> $1 AND (d.pending_workflow_task->>'state' = 'started'
                  OR EXISTS (SELECT 1 FROM jsonb_array_elements(d.pending_activities) a WHERE a->>'state' = 'started'))) AS others_busy,
             (SELECT count(*)::int FROM charges WHERE workflow_id = ANY($3)) AS all_charges`,
      [wid(ERIN), wid(FRANK), IDS]);
    const s = rows[0];
    const erinMidway = s.charged > 0 && s.ext_age !== null && s.ext_state === 'started';
    if (erinMidway && ((s.frank_timers > 0 && s.others_busy === 0) || s.ext_age > 0.6)) {
      reason = `${wid(ERIN)} has been charged and its extendSubscription is running on worker-1` +
        (s.frank_timers > 0 ? `; ${wid(FRANK)} is asleep on its timer` : '');
      break;
    }
    if ((s.erin_status !== 'running' || Date.now() > deadline - 15_000) && s.all_charges > 0 && s.frank_timers > 0) {
      reason = `charges are recorded and ${wid(FRANK)} is asleep on its timer (the slow-erin moment was missed)`;
      break;
    }
    if (Date.now() > deadline) {
      console.log('  FAIL: no charge completed within 30 s; is the worker running?');
      return 1;
    }
    await sleepMs(20);
  }
  process.kill(pid, 'SIGKILL');
  console.log('');
  console.log(`  ${stamp()}  >>> kill -KILL ${pid} (worker-1): ${reason}`);
  await sleepMs(200);
  await tail.print();
  console.log('');
  console.log('  state of every workflow right after the kill (durable.describe_workflow, charges table):');
  await snapshot(pool);
  const file = process.env.DEMO_STATE;
  if (file) fs.writeFileSync(file, JSON.stringify({ lastRun: tail.last }));
  await pool.end();
  return 0;
}

async function finish(): Promise<number> {
  const pool = new pg.Pool({ connectionString: url(), max: 4 });
  pool.on('error', () => undefined);
  const client = new Client({ pool });
  const file = process.env.DEMO_STATE;
  const state = file && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { lastRun: 0 };
  const tail = new RunTail(pool, state.lastRun);
  const timeout = Number(process.env.DEMO_TIMEOUT ?? 60) * 1000;
  const deadline = Date.now() + timeout;
  let lastReport = Date.now();
  const closed = new Set<string>();
  console.log('  worker-2 picks up where worker-1 died. An activity that was running on the dead worker is');
  console.log('  retried only after its startToCloseTimeout (30s in workflows.ts) expires: expect a pause.');
  console.log('');
  for (;;) {
    await tail.print();
    const open: string[] = [];
    for (const id of IDS) {
      if (closed.has(id)) continue;
      const d = await describe(pool, id);
      if (d.status === 'running') open.push(`${id} (${pendingText(d) || 'workflow task'})`);
      else {
        closed.add(id);
        console.log(`  ${stamp()}  closed    ${pad(id, 26)} ${d.status}`);
      }
    }
    if (!open.length) break;
    if (Date.now() > deadline) {
      console.log(`  FAIL: not finished within ${timeout / 1000}s: ${open.join('; ')}`);
      await pool.end();
      return 1;
    }
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      console.log(`  ${stamp()}  waiting   ${open.join('; ')}`);
    }
    await sleepMs(200);
  }

  let ok = true;
  const check = (cond: boolean, what: string) => {
    if (!cond) {
      ok = false;
      console.log(`  FAIL: ${what}`);
    }
  };

  console.log('');
  console.log('  outcomes (WorkflowHandle.result()):');
  for (const c of CASES) {
    let outcome: string;
    let text: string;
    try {
      await client.workflow.getHandle(wid(c)).result();
      outcome = 'completed';
      text = 'completed';
    } catch (e) {
      if (!(e instanceof WorkflowFailedError)) throw e;
      const cause: any = e.cause;
      outcome = cause?.cause?.type ?? cause?.type ?? e.status;
      text = `${e.status}: ${cause?.message ?? ''}${cause?.cause ? ` <- ${cause.cause.type}: ${cause.cause.message}` : ''}`;
    }
    console.log(`  ${pad(wid(c), 26)} ${text}`);
    check(outcome === c.outcome, `${wid(c)}: expected ${c.outcome}, got ${outcome}`);
  }

  console.log('');
  console.log('  what really happened, from the activities\' own tables:');
  console.log(`  ${pad('customer', 14)} ${pad('charge rows', 12)} ${pad('expected', 9)} ${pad('charge runs', 12)} ${pad('refunds', 8)} notifications`);
  for (const c of CASES) {
    const { rows } = await pool.query(`
      SELECT (SELECT count(*)::int FROM charges WHERE customer_id = $1 AND workflow_id = $2) AS charges,
             (SELECT count(*)::int FROM activity_runs WHERE workflow_id = $2 AND activity_type = 'chargePaymentMethod') AS charge_runs,
             (SELECT count(*)::int FROM refunds r JOIN charges ch USING (transaction_id) WHERE ch.workflow_id = $2) AS refunds,
             (SELECT coalesce(array_agg(n.kind ORDER BY n.id), '{}') FROM notifications n WHERE n.customer_id = $1
                AND n.created_at >= (SELECT start_time FROM durable.describe_workflow($2))) AS notes`,
      [c.customer, wid(c)]);
    const r = rows[0];
    console.log(`  ${pad(c.customer, 14)} ${pad(String(r.charges), 12)} ${pad(String(c.charges), 9)} ${pad(String(r.charge_runs), 12)} ${pad(String(r.refunds), 8)} ${r.notes.join(', ') || '-'}`);
    check(r.charges === c.charges, `${c.customer}: ${r.charges} charge rows, expected ${c.charges}${r.charges > c.charges ? ' (CHARGED TWICE)' : ''}`);
    check(r.refunds === c.refunds, `${c.customer}: ${r.refunds} refunds, expected ${c.refunds}`);
    check(JSON.stringify(r.notes) === JSON.stringify(c.notifications), `${c.customer}: notifications ${r.notes}, expected ${c.notifications}`);
    if (c.outcome === 'InvalidAccountError') check(r.charge_runs === 1, `${c.customer}: the non-retryable charge ran ${r.charge_runs} times`);
  }

  // No activity may run again once its completion is in the history (at-least-once only
  // for activities whose completion was lost with the worker).
  const { rows: again } = await pool.query(`
    SELECT r.workflow_id, r.activity_id, r.activity_type, r.attempt
      FROM activity_runs r
      JOIN durable.workflows w ON w.workflow_id = r.workflow_id
      JOIN durable.history s ON s.run_id = w.run_id AND s.event_type = 'ActivityTaskScheduled'
                            AND s.attributes->>'activity_id' = r.activity_id
      JOIN durable.history h ON h.run_id = w.run_id AND h.event_type = 'ActivityTaskCompleted'
                            AND (h.attributes->>'scheduled_event_id')::bigint = s.event_id
     WHERE r.workflow_id = ANY($1) AND r.started_at > h.event_time`, [IDS]);
  console.log('');
  console.log(`  activities that ran again after their completion was recorded: ${again.length}`);
  for (const r of again) console.log(`    ${r.workflow_id} ${r.activity_type} (activity ${r.activity_id}) attempt ${r.attempt}`);
  check(again.length === 0, 'an activity ran again after its completion was recorded');

  const { rows: idents } = await pool.query(`
    SELECT w.workflow_id, array_agg(DISTINCT h.attributes->>'identity') AS ids
      FROM durable.workflows w JOIN durable.history h ON h.run_id = w.run_id
     WHERE w.workflow_id = ANY($1) AND h.event_type IN ('WorkflowTaskCompleted', 'ActivityTaskCompleted', 'ActivityTaskFailed')
     GROUP BY w.workflow_id`, [IDS]);
  // the workers started after the kill: worker-2, and python-1 when demo.sh runs the Python one too
  const later = (process.env.DEMO_LATER_WORKERS ?? 'worker-2').split(',').filter((s) => s);
  const both = idents.filter((r) => r.ids.includes('worker-1') && later.some((l) => r.ids.includes(l)))
    .map((r) => `${r.workflow_id} (${r.ids.filter((i: string | null) => i && i !== 'worker-1').join(', ')})`);
  console.log(`  workflows with work done by worker-1 and then ${later.join(' or ')}: ${both.join(', ') || '(none)'}`);
  check(both.length > 0, `no workflow was continued by ${later.join(' or ')} after the kill`);

  console.log('');
  console.log(ok ? '  ALL CHECKS PASSED: every workflow finished, no charge ran twice.' : '  SOME CHECKS FAILED');
  await pool.end();
  return ok ? 0 : 1;
}

const commands: Record<string, () => Promise<number>> = { setup, start, finish };
const cmd = commands[process.argv[2] ?? ''];
if (!cmd) {
  console.error('usage: demo.js setup|start|finish');
  process.exit(2);
}
cmd().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  });

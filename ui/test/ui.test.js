/*
 * The Web UI in real headless Chromium (Debian's chromium, driven by
 * puppeteer-core): a private cluster with a few workflows made by hand in
 * SQL (a running one with a heartbeating activity and a timer, a completed
 * one, a failed one with a cause chain), the UI in this process, and a
 * browser that clicks through the list, a workflow page and a signal with
 * its confirmation, then checks that a read-only role gets no actions.
 * A screenshot of each page goes to DURABLE_UI_OUT (default ui/test-output).
 *
 * What the pages show follows Temporal's Web UI (repository temporalio/ui):
 * the list's filters (src/lib/components/workflow/dropdown-filter/
 * workflow-status.svelte, workflow-type.svelte, workflow-id.svelte,
 * workflow-datetime-filter.svelte), the workflow page's input and result
 * (src/lib/components/workflow/input-and-results.svelte) and pending
 * activities with attempt, last failure and heartbeat details
 * (src/lib/components/workflow/pending-activity/pending-activity-card.svelte),
 * and the actions each behind a confirmation
 * (src/lib/components/workflow/client-actions/signal-confirmation-modal.svelte,
 * cancel-confirmation-modal.svelte, terminate-confirmation-modal.svelte).
 * Cancel vs terminate: https://docs.temporal.io/evaluate/development-production-features/interrupt-workflow
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const pg = require('pg');
const puppeteer = require('puppeteer-core');
const { Cluster } = require('./cluster');
const { App } = require('../server');

const OUT = process.env.DURABLE_UI_OUT || path.join(__dirname, '..', 'test-output');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let cluster;
let db;
let app;
let server;
let base;
let browser;
let roServer;

async function sql(text, params) {
  return (await db.query(text, params)).rows;
}

async function poll(queue) {
  const [t] = await sql("SELECT * FROM durable.poll_task($1, 'ui-test-worker', wait => '5 seconds')", [queue]);
  assert.ok(t && t.task_token, `a task on ${queue}`);
  return t;
}

async function shot(p, name) {
  fs.mkdirSync(OUT, { recursive: true });
  await p.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

before(async () => {
  cluster = new Cluster();
  await cluster.start();
  db = new pg.Client({ connectionString: cluster.url() });
  await db.connect();

  // order-1: running, its activity started and heartbeating, a timer pending
  await sql(`SELECT durable.start_workflow('Order', '{"order": 1}', 'order-1', 'orders',
             search_attributes => '{"CustomerId": "c1"}')`);
  let t = await poll('orders');
  await sql('SELECT durable.complete_workflow_task($1, $2)', [t.task_token, JSON.stringify([
    { type: 'schedule_activity', activity_id: 'charge', activity_type: 'Charge', input: { amount: 10 }, start_to_close_timeout: '1 hour', heartbeat_timeout: '1 hour' },
    { type: 'start_timer', timer_id: 'reminder', duration: '1 hour' },
  ])]);
  t = await poll('orders');
  assert.equal(t.kind, 'activity');
  // its first attempt heartbeats, then fails: the retry shows attempt 2, the
  // last failure and the details of the last heartbeat
  await sql('SELECT durable.heartbeat_activity($1, $2)', [t.task_token, '{"progress": 42}']);
  await sql('SELECT durable.fail_activity($1, $2)', [t.task_token, '{"message": "card network down", "type": "NetworkError"}']);

  // order-2: an activity, then completed with a result
  await sql(`SELECT durable.start_workflow('Order', '{"order": 2}', 'order-2', 'orders',
             search_attributes => '{"CustomerId": "c2"}')`);
  t = await poll('orders');
  await sql('SELECT durable.complete_workflow_task($1, $2)', [t.task_token, JSON.stringify([
    { type: 'schedule_activity', activity_id: 'ship', activity_type: 'Ship', start_to_close_timeout: '1 hour' },
  ])]);
  t = await poll('orders');
  assert.equal(t.activity_type, 'Ship');
  await sql('SELECT durable.complete_activity($1, $2)', [t.task_token, '"parcel-7"']);
  t = await poll('orders');
  await sql('SELECT durable.complete_workflow_task($1, $2)', [t.task_token, JSON.stringify([{ type: 'complete_workflow', result: { shipped: true } }])]);

  // refund-1: failed, with a cause
  await sql(`SELECT durable.start_workflow('Refund', '{"refund": 1}', 'refund-1', 'refunds')`);
  t = await poll('refunds');
  await sql('SELECT durable.complete_workflow_task($1, $2)', [t.task_token, JSON.stringify([{
    type: 'fail_workflow',
    failure: { message: 'refund rejected', type: 'RefundError', cause: { message: 'card expired', type: 'CardError' } },
  }])]);

  // a backlog: two workflows nobody polls
  await sql(`SELECT durable.start_workflow('Report', NULL, 'report-' || i, 'reports') FROM generate_series(1, 2) i`);

  // a read-only role: durable_client, but its sessions are read-only
  await sql('CREATE ROLE ui_viewer LOGIN IN ROLE durable_client');
  await sql('ALTER ROLE ui_viewer SET default_transaction_read_only = on');

  app = new App({ databaseUrl: cluster.url(), port: 0, host: '127.0.0.1', namespace: 'default', readOnly: false });
  server = await app.listen();
  base = `http://127.0.0.1:${server.address().port}`;
  const ro = new App({ databaseUrl: cluster.url('ui_viewer'), port: 0, host: '127.0.0.1', namespace: 'default', readOnly: false });
  roServer = await ro.listen();
  roServer.app = ro;

  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // the browser only ever loads this test's pages from 127.0.0.1; Chromium's
    // sandbox needs user namespaces, which containers and root lack
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  for (const s of [server, roServer]) {
    s?.closeAllConnections();
    await new Promise((r) => (s ? s.close(r) : r()));
  }
  await app?.pool.end();
  await roServer?.app.pool.end();
  await db?.end();
  await cluster?.stop();
});

test('the workflow list filters by SQL and pages by keyset', async () => {
  const p = await browser.newPage();
  await p.setViewport({ width: 1280, height: 800 });
  const t0 = Date.now();
  await p.goto(`${base}/`, { waitUntil: 'load' });
  const loadMs = Date.now() - t0;
  const ids = await p.$$eval('#workflow-list a.wf', (as) => as.map((a) => a.textContent));
  assert.deepEqual(ids, ['report-2', 'report-1', 'refund-1', 'order-2', 'order-1'], 'newest first');
  const queryMs = Number(await p.$eval('#query-ms', (e) => e.dataset.ms));
  console.log(`# first page: ${loadMs} ms in the browser, list query ${queryMs.toFixed(2)} ms (${ids.length} workflows)`);
  await shot(p, '1-workflow-list');

  // filter by status through the form
  await p.select('select[name=status]', 'failed');
  await Promise.all([p.waitForNavigation(), p.click('#apply')]);
  assert.deepEqual(await p.$$eval('#workflow-list a.wf', (as) => as.map((a) => a.textContent)), ['refund-1']);

  // type, id prefix, queue and search attributes, by URL
  const list = async (q) => {
    await p.goto(`${base}/workflows?${q}`);
    return p.$$eval('#workflow-list a.wf', (as) => as.map((a) => a.textContent));
  };
  assert.deepEqual(await list('type=Order'), ['order-2', 'order-1']);
  assert.deepEqual(await list('id=report-'), ['report-2', 'report-1']);
  assert.deepEqual(await list('queue=refunds'), ['refund-1']);
  assert.deepEqual(await list('sa=CustomerId%3Dc1'), ['order-1']);
  assert.deepEqual(await list(`sa=${encodeURIComponent('{"CustomerId": "c2"}')}`), ['order-2']);
  assert.deepEqual(await list('from=2000-01-01&to=2001-01-01'), []);
  assert.deepEqual(await list('status=running&type=Order'), ['order-1']);

  // keyset pages: 60 more workflows, two pages of 50 then 15
  await sql(`SELECT durable.start_workflow('Bulk', NULL, 'bulk-' || lpad(i::text, 3, '0'), 'bulk') FROM generate_series(1, 60) i`);
  await p.goto(`${base}/workflows`);
  const first = await p.$$eval('#workflow-list a.wf', (as) => as.map((a) => a.textContent));
  assert.equal(first.length, 50);
  await Promise.all([p.waitForNavigation(), p.click('#next-page')]);
  const second = await p.$$eval('#workflow-list a.wf', (as) => as.map((a) => a.textContent));
  assert.equal(second.length, 15);
  assert.equal(new Set([...first, ...second]).size, 65, 'no row twice, none lost');
  assert.equal(await p.$('#next-page'), null);
  await p.close();
});

test('the workflow page: payloads, pending work, history, timeline; a signal with confirmation', async () => {
  const p = await browser.newPage();
  await p.setViewport({ width: 1280, height: 1000 });
  await p.goto(`${base}/workflows?type=Order&status=running`);
  await Promise.all([p.waitForNavigation(), p.click('#workflow-list a.wf')]);
  assert.match(await p.title(), /Workflow order-1/);
  assert.equal(await p.$eval('#status', (e) => e.textContent), 'running');
  assert.match(await p.$eval('#input', (e) => e.textContent), /"order": 1/);
  const act = await p.$eval('#pending-activities', (e) => e.textContent);
  assert.match(act, /charge/);
  assert.match(act, /Charge/);
  assert.match(act, /"progress": 42/, 'heartbeat details');
  assert.match(act, /NetworkError.*card network down/s, 'last failure');
  assert.equal(await p.$eval('#pending-activities tr:nth-child(2) td:nth-child(4)', (e) => e.textContent), '2', 'attempt');
  assert.match(await p.$eval('#pending-timers', (e) => e.textContent), /reminder/);
  assert.ok((await p.$$eval('#timeline tr', (rs) => rs.map((r) => r.textContent))).some((r) => r.includes('activity Charge')),
    'the running activity has a line on the timeline');
  assert.match(await p.$eval('#history', (e) => e.textContent), /ActivityTaskScheduled/);
  await shot(p, '2-workflow-page');

  // signal: the confirmation is asked, dismissing it sends nothing
  await p.type('#form-signal input[name=name]', 'approve');
  await p.type('#form-signal input[name=payload]', '{"by": "Grace"}');
  const dialogs = [];
  const dismiss = async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  };
  p.once('dialog', dismiss);
  await p.click('#do-signal');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(dialogs.length, 1);
  assert.match(dialogs[0], /signal to workflow order-1/);
  let [n] = await sql("SELECT count(*)::int AS n FROM durable.get_history('order-1') WHERE event_type = 'WorkflowExecutionSignaled'");
  assert.equal(n.n, 0, 'dismissed: no signal');

  p.once('dialog', async (d) => {
    dialogs.push(d.message());
    await d.accept();
  });
  await Promise.all([p.waitForNavigation(), p.click('#do-signal')]);
  assert.equal(dialogs.length, 2);
  assert.match(await p.$eval('#message', (e) => e.textContent), /Signal approve sent/);
  const hist = await p.$eval('#history', (e) => e.textContent);
  assert.match(hist, /WorkflowExecutionSignaled/);
  assert.match(hist, /Grace/);
  [n] = await sql("SELECT count(*)::int AS n FROM durable.get_history('order-1') WHERE event_type = 'WorkflowExecutionSignaled'");
  assert.equal(n.n, 1);
  await shot(p, '3-after-signal');

  // the failed run: the failure and its cause
  await p.goto(`${base}/workflow?id=refund-1`);
  const failure = await p.$eval('#failure', (e) => e.textContent);
  assert.match(failure, /RefundError.*refund rejected.*CardError.*card expired/s);
  assert.equal(await p.$('#form-signal'), null, 'no signal for a closed run');
  await shot(p, '4-failed-workflow');

  // a query of the closed run, answered by a "worker" polling in SQL
  // (a query of a closed run is answered from its history by a worker, as
  // `temporal workflow query` does: https://docs.temporal.io/tctl-v1/workflow)
  await p.type('#form-query input[name=name]', 'status');
  p.once('dialog', (d) => d.accept());
  const answered = (async () => {
    const w = new pg.Client({ connectionString: cluster.url() });
    await w.connect();
    try {
      const { rows: [q] } = await w.query("SELECT * FROM durable.poll_task('refunds', 'ui-query-worker', wait => '10 seconds')");
      assert.equal(q.kind, 'query');
      assert.equal(q.query_name, 'status');
      await w.query('SELECT durable.answer_query($1, $2)', [q.task_token, '{"refunded": false}']);
    } finally {
      await w.end();
    }
  })();
  await Promise.all([p.waitForNavigation({ timeout: 15000 }), p.click('#do-query')]);
  await answered;
  assert.match(await p.$eval('#query-result', (e) => e.textContent), /"refunded": false/);

  // the completed run: its result
  await p.goto(`${base}/workflow?id=order-2`);
  assert.match(await p.$eval('#result', (e) => e.textContent), /"shipped": true/);
  // the timeline: the activity's scheduled, started and completed events on one line
  const lane = (await p.$$eval('#timeline tr', (rs) => rs.map((r) => r.textContent))).find((r) => r.includes('activity Ship'));
  assert.ok(lane, 'the activity has a line on the timeline');
  assert.match(lane, /Scheduled.*Started.*Completed/s, 'scheduled, started and completed on one line');
  await shot(p, '5-completed-workflow');

  // terminate, accepted
  await p.goto(`${base}/workflow?id=report-1`);
  p.once('dialog', (d) => d.accept());
  await Promise.all([p.waitForNavigation(), p.click('#do-terminate')]);
  assert.equal(await p.$eval('#status', (e) => e.textContent), 'terminated');
  await p.close();
});

test('task queues: backlog by kind, latency or n/a, pollers', async () => {
  const p = await browser.newPage();
  await p.setViewport({ width: 1280, height: 800 });
  await p.goto(`${base}/task-queues`);
  const rows = await p.$$eval('#task-queues tr', (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent.trim()).join(' | ')));
  const reports = rows.find((r) => r.includes('reports'));
  assert.ok(reports, 'queue reports listed');
  assert.match(reports, /^reports \| 1 unmatched \| 0 \|/, 'one workflow task waits on reports (the other run was terminated)');
  const hasMetrics = (await sql("SELECT to_regclass('durable.metric_histograms') IS NOT NULL AS m"))[0].m;
  if (!hasMetrics) assert.match(reports, /n\/a/, 'no metrics view: n/a');
  else {
    // workflow tasks and activity attempts of orders were polled: the histogram has them
    const orders = rows.find((r) => r.startsWith('orders |'));
    assert.match(orders, /ms \/ [0-9.]+ m?s \(\d+ tasks?, mean/, 'schedule-to-start latency from durable.metric_histograms');
  }
  await shot(p, '6-task-queues');
  await Promise.all([p.waitForNavigation(), p.click('a.tq[href*="name=orders"]')]);
  // ui-test-worker polled orders: a superuser sees it in describe_task_queue
  assert.match(await p.$eval('#pollers', (e) => e.textContent), /ui-test-worker/);
  await shot(p, '7-task-queue');
  await p.close();
});

test('a read-only role sees everything and is offered and allowed nothing', async () => {
  const roBase = `http://127.0.0.1:${roServer.address().port}`;
  const p = await browser.newPage();
  await p.goto(`${roBase}/workflow?id=order-1`);
  assert.equal(await p.$eval('#status', (e) => e.textContent), 'running');
  assert.match(await p.$eval('#whoami', (e) => e.textContent), /ui_viewer \(read-only\)/);
  assert.match(await p.$eval('#no-actions', (e) => e.textContent), /read-only here/);
  assert.ok(await p.$('#form-query'), 'a query changes nothing: offered');
  assert.equal(await p.$('#form-signal'), null);
  assert.equal(await p.$('#form-terminate'), null);
  // a forged POST is refused by the server
  const r = await fetch(`${roBase}/workflow/terminate`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: roServer.app.token, ns: 'default', id: 'order-1' }).toString(),
  });
  assert.equal(r.status, 403);
  assert.match(await r.text(), /may not terminate/);
  const [w] = await sql("SELECT status FROM durable.workflows WHERE workflow_id = 'order-1'");
  assert.equal(w.status, 'running');
  await p.goto(`${roBase}/task-queue?name=orders`);
  assert.match(await p.$eval('#pollers', (e) => e.textContent), /ui-test-worker/, 'describe_task_queue is a client call');
  await p.close();
});

test('a tenant role: its namespace only, actions from its namespace grant', async () => {
  // docs/namespaces.md "Isolating tenants"; Temporal namespaces: https://docs.temporal.io/namespaces
  await sql("SELECT durable.create_namespace('acme')");
  await sql('CREATE ROLE acme_ops LOGIN');
  await sql("SELECT durable.grant_namespace('acme', 'acme_ops', 'client')");
  await sql("SELECT durable.start_workflow('Order', NULL, 'acme-order-1', 'orders', namespace => 'acme')");
  const tenant = new App({ databaseUrl: cluster.url('acme_ops'), port: 0, host: '127.0.0.1', namespace: 'acme', readOnly: false });
  const srv = await tenant.listen();
  try {
    const tBase = `http://127.0.0.1:${srv.address().port}`;
    const p = await browser.newPage();
    await p.goto(`${tBase}/workflows`);
    assert.deepEqual(await p.$$eval('#workflow-list a.wf', (as) => as.map((a) => a.textContent)), ['acme-order-1']);
    assert.deepEqual(await p.$$eval('select[name=ns] option', (os) => os.map((o) => o.textContent)), ['acme', 'default']);
    await Promise.all([p.waitForNavigation(), p.click('#workflow-list a.wf')]);
    assert.ok(await p.$('#form-signal'), 'client in acme: signal offered');
    // namespace default: row-level security shows it nothing, and it may do nothing there
    await p.goto(`${tBase}/workflows?ns=default`);
    assert.deepEqual(await p.$$eval('#workflow-list a.wf', (as) => as.length), 0);
    assert.match(await p.$eval('#whoami', (e) => e.textContent), /acme_ops \(read-only\)/);
    await p.close();
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
    await tenant.pool.end();
  }
});

test('schedules: the page exists only when durable.schedules does', async () => {
  const p = await browser.newPage();
  await p.setViewport({ width: 1280, height: 800 });
  await p.goto(`${base}/workflows`);
  const hasSchedules = (await sql("SELECT to_regclass('durable.schedules') IS NOT NULL AS s"))[0].s;
  assert.equal(!!(await p.$('#nav-schedules')), hasSchedules);
  if (!hasSchedules) {
    await p.close();
    return;
  }
  await sql(`SELECT durable.create_schedule('nightly', '{"cron": ["0 3 * * *"]}',
             '{"workflow_type": "Report", "workflow_id": "nightly", "task_queue": "reports"}')`);
  await p.goto(`${base}/schedules`);
  await Promise.all([p.waitForNavigation(), p.click('a.sch')]);
  assert.match(await p.$eval('#schedule-state', (e) => e.textContent), /active/);
  p.once('dialog', (d) => d.accept());
  await Promise.all([p.waitForNavigation(), p.click('#do-pause')]);
  assert.match(await p.$eval('#schedule-state', (e) => e.textContent), /paused/);
  p.once('dialog', (d) => d.accept());
  await Promise.all([p.waitForNavigation(), p.click('#do-unpause')]);
  assert.match(await p.$eval('#schedule-state', (e) => e.textContent), /active/);
  p.once('dialog', (d) => d.accept());
  await Promise.all([p.waitForNavigation(), p.click('#do-trigger')]);
  assert.match(await p.$eval('#message', (e) => e.textContent), /triggered/);
  assert.match(await p.$eval('#recent-actions', (e) => e.textContent), /nightly-/, 'the triggered run is listed');
  await shot(p, '8-schedule');
  await p.close();
});

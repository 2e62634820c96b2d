/**
 * Driver of the orders demo (demo.sh runs it; the worker is a separate
 * process running examples/orders/worker.js).
 *
 *   node dist/examples/orders/demo.js setup   create the example's tables
 *   node dist/examples/orders/demo.js run     fill an order through the addItem update (one
 *        item sent twice with the same update id, one with a bad quantity), check out
 *        (the checkout update returns the total; the order then charges it), try to add an item after checkout, watch
 *        the shipment children from SQL, wait for the order's result and check it all
 *
 * Environment: DATABASE_URL, TASK_QUEUE, DEMO_TAG (suffix of the workflow id),
 * DEMO_TIMEOUT (seconds).  Prints the order's workflow id on the last line
 * ("order: <id>"), for demo.sh.  Exit status 0 when every check passes.
 */
import pg from 'pg';
import { Client, WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage } from '../../src';
import { SCHEMA } from './activities';
import { Line, OrderState, addItemUpdate, checkoutUpdate, getOrderQuery, order } from './workflows';

const TAG = process.env.DEMO_TAG ?? '';
const QUEUE = process.env.TASK_QUEUE ?? 'orders';
const ORDER_ID = `1001${TAG}`;
const WID = `order-${ORDER_ID}`;

const LINES: Line[] = [
  { sku: 'widget', quantity: 2, priceCents: 1250, warehouse: 'amsterdam' },
  { sku: 'gadget', quantity: 1, priceCents: 4999, warehouse: 'flaky-rotterdam' },
  { sku: 'cable', quantity: 3, priceCents: 399, warehouse: 'amsterdam' },
  { sku: 'lamp', quantity: 1, priceCents: 2500, warehouse: 'berlin' },
];
const TOTAL = LINES.reduce((s, l) => s + l.quantity * l.priceCents, 0);
const WAREHOUSES = [...new Set(LINES.map((l) => l.warehouse))];

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const money = (cents: number) => `${(cents / 100).toFixed(2)} EUR`;
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;

function url(): string {
  const u = process.env.DATABASE_URL;
  if (!u) throw new Error('set DATABASE_URL');
  return u;
}

async function setup(): Promise<number> {
  const pool = new pg.Pool({ connectionString: url(), max: 1 });
  await pool.query(SCHEMA);
  await pool.end();
  return 0;
}

async function run(): Promise<number> {
  const pool = new pg.Pool({ connectionString: url(), max: 4 });
  pool.on('error', () => undefined);
  const client = new Client({ pool });
  let ok = true;
  const check = (cond: boolean, what: string) => {
    if (!cond) {
      ok = false;
      console.log(`  FAIL: ${what}`);
    }
  };
  const eventCount = async () => (await pool.query('SELECT count(*)::int n FROM durable.get_history($1)', [WID])).rows[0].n as number;
  // does any event of the order's history carry this update id?
  const traces = async (updateId: string) => (await pool.query(
    `SELECT count(*)::int n FROM durable.get_history($1) WHERE attributes::text LIKE '%' || $2 || '%'`, [WID, `"${updateId}"`])).rows[0].n as number;

  /** Sends an update that the validator must reject; true when it was rejected with `type`, leaving no event. */
  async function rejected(h: WorkflowHandle, line: Line, updateId: string, type: string): Promise<boolean> {
    const err = await h.executeUpdate(addItemUpdate, { args: [line], updateId }).then(() => undefined, (e) => e);
    if (!(err instanceof WorkflowUpdateFailedError)) {
      console.log(`  FAIL: addItem ${line.sku} x${line.quantity} (update ${updateId}) was not rejected: ${err ?? 'accepted'}`);
      return false;
    }
    const cause: any = err.cause;
    const n = await traces(updateId);
    console.log(`  ${stamp()}  addItem ${pad(`${line.sku} x${line.quantity}`, 12)} update ${pad(updateId, 10)} REJECTED by the validator: ${cause?.type}: ${cause?.message}`);
    console.log(`  ${' '.repeat(8)}events of the history that mention update ${updateId}: ${n}`);
    return cause?.type === type && n === 0;
  }

  // --------------------------------------------------------------------------
  console.log(`  start workflow ${WID} (type order, task queue ${QUEUE})`);
  const h = await client.workflow.start(order, { args: [ORDER_ID], taskQueue: QUEUE, workflowId: WID, workflowTaskTimeout: '2s' });
  console.log('');
  console.log('  the shop adds items with the update addItem (WorkflowHandle.executeUpdate waits for its result):');
  for (const l of LINES) {
    const n = await h.executeUpdate(addItemUpdate, { args: [l], updateId: `add-${l.sku}` });
    console.log(`  ${stamp()}  addItem ${pad(`${l.sku} x${l.quantity}`, 12)} update ${pad(`add-${l.sku}`, 10)} accepted, completed: ${n} line(s) in the order (from ${l.warehouse})`);
  }
  const again = await h.executeUpdate(addItemUpdate, { args: [LINES[0]], updateId: `add-${LINES[0].sku}` });
  console.log(`  ${stamp()}  addItem ${pad(`${LINES[0].sku} x${LINES[0].quantity}`, 12)} update ${pad(`add-${LINES[0].sku}`, 10)} sent AGAIN (a client retry, same update id): ` +
    `answer ${again}, not applied twice`);
  check(again === 1, `the repeated update add-${LINES[0].sku} answered ${again}, expected the first answer, 1`);

  const before = await eventCount();
  check(await rejected(h, { sku: 'bolt', quantity: 0, priceCents: 10, warehouse: 'berlin' }, 'add-bolt', 'BadQuantity'),
    'addItem bolt x0: expected a rejection (BadQuantity) that leaves no event');
  const after = await eventCount();
  console.log(`  ${' '.repeat(8)}events in the history before the rejected update: ${before}, after: ${after}`);
  check(before === after, `the rejected update changed the history (${before} -> ${after} events)`);

  const open = await h.query(getOrderQuery);
  console.log(`  ${stamp()}  query getOrder: ${open.status}, ${open.lines.length} lines (${open.lines.map((l) => l.sku).join(', ')}), total ${money(open.totalCents)}`);

  // --------------------------------------------------------------------------
  console.log('');
  console.log('  checkout (WorkflowHandle.startUpdate, waitForStage ACCEPTED, then result()):');
  const co = await h.startUpdate(checkoutUpdate, { updateId: 'checkout', waitForStage: WorkflowUpdateStage.ACCEPTED });
  console.log(`  ${stamp()}  checkout  update ${co.updateId} accepted`);
  const total = await co.result();
  console.log(`  ${stamp()}  checkout  completed: total ${money(total)}`);
  check(total === TOTAL, `checkout returned ${total}, expected ${TOTAL}`);

  check(await rejected(h, { sku: 'late', quantity: 1, priceCents: 100, warehouse: 'berlin' }, 'add-late', 'OrderClosed'),
    'addItem after checkout: expected a rejection (OrderClosed) that leaves no event');

  // --------------------------------------------------------------------------
  console.log('');
  console.log(`  the order charges the total (activity chargeOrder), then starts one shipment child per warehouse (${WAREHOUSES.join(', ')}). While it runs:`);
  const PENDING = `SELECT c->>'workflow_id' AS child, c->>'workflow_type' AS type, c->>'parent_close_policy' AS parent_close_policy,
         c->>'initiated_event_id' AS initiated, c->>'started_event_id' AS started
    FROM durable.describe_workflow($1) d, jsonb_array_elements(d.pending_children) c ORDER BY 1`;
  console.log(`    ${PENDING.replace(/\s+/g, ' ').replace('$1', `'${WID}'`)};`);
  // the rows of the last poll that showed every child started (or, on a slow machine where some
  // finished before a poll saw them all, each child's last row seen)
  const seen = new Map<string, any>();
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleepMs(50)) {
    const rows = (await pool.query(PENDING, [WID])).rows;
    for (const c of rows) seen.set(c.child, c);
    if (rows.length === WAREHOUSES.length && rows.every((c) => c.started !== null)) break;
    if (seen.size === WAREHOUSES.length && (await h.describe()).status !== 'running') break;
  }
  const pending = [...seen.values()].sort((a, b) => a.child.localeCompare(b.child));
  const w = Math.max(5, ...pending.map((c) => c.child.length)) + 1;
  console.log(`    ${pad('child', w)} ${pad('type', 9)} ${pad('parent_close_policy', 20)} initiated started`);
  for (const c of pending) console.log(`    ${pad(c.child, w)} ${pad(c.type, 9)} ${pad(c.parent_close_policy, 20)} ${pad(String(c.initiated), 9)} ${c.started ?? '-'}`);
  check(pending.length === WAREHOUSES.length, `${pending.length} pending children seen, expected ${WAREHOUSES.length}`);
  check(pending.every((c) => c.parent_close_policy === 'request_cancel'), 'a child without parent close policy request_cancel');
  const shipping = await h.query(getOrderQuery);
  console.log(`  ${stamp()}  query getOrder: ${shipping.status}, ${shipping.shipments.length} shipment(s) done`);
  check(shipping.status === 'shipping' || shipping.status === 'shipped', `status ${shipping.status} after checkout`);

  // --------------------------------------------------------------------------
  const timeout = Number(process.env.DEMO_TIMEOUT ?? 30) * 1000;
  const result = await Promise.race([h.result() as Promise<OrderState>, sleepMs(timeout).then(() => null)]);
  if (!result) {
    console.log(`  FAIL: ${WID} did not finish within ${timeout / 1000}s`);
    await pool.end();
    return 1;
  }
  console.log(`  ${stamp()}  ${WID} completed (WorkflowHandle.result()):`);
  console.log(`    ${result.status}, total ${money(result.totalCents)} paid (${result.paymentId}), lines ${result.lines.map((l) => `${l.sku} x${l.quantity}`).join(', ')}`);
  for (const s of result.shipments) console.log(`    shipment from ${pad(s.warehouse, 16)} ${s.units} unit(s), ${s.trackingNumber}`);

  // --------------------------------------------------------------------------
  console.log('');
  console.log('  checks:');
  const skus = result.lines.map((l) => l.sku);
  check(JSON.stringify(skus) === JSON.stringify(LINES.map((l) => l.sku)), `lines ${skus}, expected each item once: ${LINES.map((l) => l.sku)}`);
  check(result.status === 'shipped' && result.totalCents === TOTAL, `result ${result.status} ${result.totalCents}, expected shipped ${TOTAL}`);
  check(JSON.stringify(result.shipments.map((s) => s.warehouse).sort()) === JSON.stringify([...WAREHOUSES].sort()),
    `shipments from ${result.shipments.map((s) => s.warehouse)}, expected ${WAREHOUSES}`);
  const { rows: payments } = await pool.query('SELECT payment_id, amount_cents FROM order_payments WHERE workflow_id = $1', [WID]);
  console.log(`    payments (table order_payments): ${payments.map((p) => `${p.payment_id} ${money(p.amount_cents)}`).join(', ')}`);
  check(payments.length === 1 && payments[0].amount_cents === TOTAL && payments[0].payment_id === result.paymentId,
    `expected one payment of ${TOTAL}, the result's ${result.paymentId}`);

  const { rows: children } = await pool.query(
    'SELECT workflow_id, status FROM durable.workflows WHERE parent_workflow_id = $1 ORDER BY workflow_id', [WID]);
  console.log(`    children (durable.workflows.parent_workflow_id): ${children.map((c) => `${c.workflow_id} ${c.status}`).join(', ')}`);
  check(children.length === WAREHOUSES.length && children.every((c) => c.status === 'completed'),
    `expected ${WAREHOUSES.length} completed children`);

  const { rows: runs } = await pool.query(`
    SELECT workflow_id, activity_type, count(*)::int AS runs FROM order_activity_runs
     WHERE workflow_id = ANY($1) GROUP BY 1, 2 ORDER BY 1, 2`, [children.map((c) => c.workflow_id)]);
  console.log(`    activity runs (table order_activity_runs): ${runs.map((r) => `${r.workflow_id.slice(WID.length + 1)} ${r.activity_type} ${r.runs}`).join(', ')}`);
  for (const r of runs) {
    const flaky = r.activity_type === 'packParcel' && r.workflow_id.endsWith('-flaky-rotterdam');
    check(r.runs === (flaky ? 2 : 1), `${r.workflow_id} ${r.activity_type} ran ${r.runs} times, expected ${flaky ? 2 : 1}`);
  }
  const parcels = (await pool.query('SELECT count(*)::int n FROM order_parcels WHERE workflow_id = ANY($1)', [children.map((c) => c.workflow_id)])).rows[0].n;
  console.log(`    parcels (table order_parcels): ${parcels}`);
  check(parcels === WAREHOUSES.length, `${parcels} parcels, expected ${WAREHOUSES.length}`);

  const { rows: kinds } = await pool.query(`
    SELECT event_type, count(*)::int n FROM durable.get_history($1)
     WHERE event_type ~ '^(StartChild|ChildWorkflow|WorkflowExecutionUpdate)' GROUP BY 1 ORDER BY 1`, [WID]);
  const count = (t: string) => kinds.find((k) => k.event_type === t)?.n ?? 0;
  console.log(`    events of the order: ${kinds.map((k) => `${k.event_type} ${k.n}`).join(', ')}`);
  const accepted = LINES.length + 1;   // the addItem updates once each, and checkout
  check(count('WorkflowExecutionUpdateAccepted') === accepted && count('WorkflowExecutionUpdateCompleted') === accepted,
    `expected ${accepted} updates accepted and completed in the history`);
  for (const t of ['StartChildWorkflowExecutionInitiated', 'ChildWorkflowExecutionStarted', 'ChildWorkflowExecutionCompleted']) {
    check(count(t) === WAREHOUSES.length, `${count(t)} ${t}, expected ${WAREHOUSES.length}`);
  }
  const { rows: failedTasks } = await pool.query(`
    SELECT u.id AS workflow_id, h.event_id, h.attributes->'failure'->>'message' AS message
      FROM unnest($1::text[]) AS u(id) CROSS JOIN LATERAL durable.get_history(u.id) h
     WHERE h.event_type IN ('WorkflowTaskFailed', 'WorkflowTaskTimedOut')`, [[WID, ...children.map((c) => c.workflow_id)]]);
  console.log(`    workflow tasks that failed or timed out (order and children): ${failedTasks.length}`);
  for (const f of failedTasks) console.log(`      ${f.workflow_id} event ${f.event_id}: ${f.message}`);
  check(failedTasks.length === 0, 'a workflow task failed');

  console.log('');
  console.log(ok ? '  ALL CHECKS PASSED: every item added once, the bad ones rejected without a trace, every shipment completed.'
    : '  SOME CHECKS FAILED');
  console.log(`order: ${WID}`);
  await pool.end();
  return ok ? 0 : 1;
}

const commands: Record<string, () => Promise<number>> = { setup, run };
const cmd = commands[process.argv[2] ?? ''];
if (!cmd) {
  console.error('usage: demo.js setup|run');
  process.exit(2);
}
cmd().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  });

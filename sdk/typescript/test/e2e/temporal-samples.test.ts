/**
 * Temporal's public TypeScript samples (github.com/temporalio/samples-typescript,
 * directory named in each test), ported to durable in examples/temporal/
 * with the samples' code and shape (README, "Running a Temporal project on
 * durable", lists where the ports differ): they
 * import `@temporalio/workflow`, `@temporalio/activity`, `@temporalio/client`,
 * `@temporalio/worker` and `@temporalio/common`, which package.json maps to
 * the shim packages in compat/temporalio/ (npm `file:` aliases) and
 * tsconfig.json's `paths` to src/temporal/ (for the types).  Each sample's
 * worker.ts runs as the sample's does (NativeConnection.connect, then
 * Worker.create({ connection, taskQueue, workflowsPath, activities })),
 * here all in this process against the test's cluster; the tests play the
 * samples' clients (Connection.connect, new Client({ connection })).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CancelledFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, Runtime, TemporalCompatibilityError, UnsupportedTemporalFeatureError, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { Env, sleepMs, startEnv, waitFor } from '../helpers/env';
import { run as helloClient } from '../../examples/temporal/hello-world/client';
import { run as helloWorker } from '../../examples/temporal/hello-world/worker';
import { run as diWorker } from '../../examples/temporal/activities-dependency-injection/worker';
import { dependencyWF } from '../../examples/temporal/activities-dependency-injection/workflows';
import { run as timersWorker } from '../../examples/temporal/timer-examples/worker';
import { countdownWorkflow, processOrderWorkflow, setDeadlineSignal, timeLeftQuery } from '../../examples/temporal/timer-examples/workflows';
import { run as progressWorker } from '../../examples/temporal/timer-progress/worker';
import { getProgress, progress } from '../../examples/temporal/timer-progress/workflows';
import { run as signalsWorker } from '../../examples/temporal/signals-queries/worker';
import { isBlockedQuery, unblockOrCancel, unblockSignal } from '../../examples/temporal/signals-queries/workflows';
import { run as stateWorker } from '../../examples/temporal/state/worker';
import { getValueQuery, setValueSignal, trackState } from '../../examples/temporal/state/workflows';
import { run as canWorker } from '../../examples/temporal/continue-as-new/worker';
import { loopingWorkflow } from '../../examples/temporal/continue-as-new/workflows';
import { run as heartbeatWorker } from '../../examples/temporal/activities-cancellation-heartbeating/worker';
import { runCancellableActivity } from '../../examples/temporal/activities-cancellation-heartbeating/workflows';
import { run as patchingWorker } from '../../examples/temporal/patching-api/worker';
import { run as searchAttributesWorker } from '../../examples/temporal/search-attributes/worker';
import { example as searchAttributesExample } from '../../examples/temporal/search-attributes/workflows';
import { run as sinksWorker } from '../../examples/temporal/sinks/worker';
import { sinkWorkflow } from '../../examples/temporal/sinks/workflows';
import { run as sagaWorker } from '../../examples/temporal/saga/worker';
import { openAccount } from '../../examples/temporal/saga/workflows';
import { run as childrenClient } from '../../examples/temporal/child-workflows/client';
import { run as childrenWorker } from '../../examples/temporal/child-workflows/worker';
import { parentWorkflow } from '../../examples/temporal/child-workflows/workflows';
import { run as encryptionClient } from '../../examples/temporal/encryption/client';
import { run as encryptionWorker } from '../../examples/temporal/encryption/worker';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { run as otelClient } from '../../examples/temporal/interceptors-opentelemetry/client';
import { setupTracing } from '../../examples/temporal/interceptors-opentelemetry/instrumentation';
import { run as otelWorker } from '../../examples/temporal/interceptors-opentelemetry/worker';

const UNSUPPORTED_WORKFLOWS = require.resolve('../workflows/temporal-unsupported');
const alerts: [string, string][] = [];
const sagaCalls: string[] = [];
const sagaLog: string[] = [];
const spans = new InMemorySpanExporter();

let env: Env;
let connection: Connection;
let client: Client;
const workers: Promise<void>[] = [];
const workerErrors: unknown[] = [];

const id = (sample: string) => `${sample}-${randomUUID()}`;

async function eventTypes(workflowId: string): Promise<string[]> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).map((e) => e.event_type);
}

async function activityTypes(workflowId: string): Promise<string[]> {
  return (await client.workflow.getHandle(workflowId).fetchHistory())
    .filter((e) => e.event_type === 'ActivityTaskScheduled').map((e) => e.attributes.activity_type);
}

before(async () => {
  env = await startEnv();
  // what a Temporal project sets to find its server; here, the database (src/temporal/connection.ts)
  process.env.DURABLE_CONNECTION_STRING = env.cluster.connectionString;
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  setupTracing(spans);
  for (const run of [helloWorker, diWorker, timersWorker, progressWorker, signalsWorker, stateWorker, canWorker, heartbeatWorker,
    () => patchingWorker('v1'), () => patchingWorker('v2'), searchAttributesWorker,
    () => sinksWorker((runId, message) => void alerts.push([runId, message])), () => sagaWorker(sagaCalls, sagaLog), encryptionWorker,
    () => otelWorker(spans), childrenWorker]) {
    workers.push(run().catch((e) => void workerErrors.push(e)));
  }
  connection = await Connection.connect({ address: 'localhost:7233' });
  client = new Client({ connection });
});

after(async () => {
  await Runtime.instance().shutdown();
  await Promise.all(workers);
  await connection?.close();
  await env?.stop();
  assert.deepEqual(workerErrors, []);
});

describe('Temporal samples, imports unchanged', () => {
  it('hello-world: the sample\'s client.ts (Connection.connect(), new Client({ connection }), workflow.start + result)', async () => {
    assert.equal(await helloClient(), 'Hello, Temporal!');
  });

  it('activities-dependency-injection: activities made by a factory share a dependency', async () => {
    const r = await client.workflow.execute(dependencyWF, { taskQueue: 'dependency-injection', workflowId: id('di') });
    assert.equal(r, 'Hello: Temporal\nHola: Temporal');
  });

  it('timer-examples: Promise.race of an activity and sleep sends the email only when the order is slow', async () => {
    const slow = id('order-slow');
    const fast = id('order-fast');
    await Promise.all([
      client.workflow.execute(processOrderWorkflow, { args: [{ orderProcessingMS: 1500, sendDelayedEmailTimeoutMS: 100 }], taskQueue: 'timer-examples', workflowId: slow }),
      client.workflow.execute(processOrderWorkflow, { args: [{ orderProcessingMS: 10, sendDelayedEmailTimeoutMS: 5000 }], taskQueue: 'timer-examples', workflowId: fast }),
    ]);
    assert.deepEqual(await activityTypes(slow), ['processOrder', 'sendNotificationEmail']);
    assert.deepEqual(await activityTypes(fast), ['processOrder']);
    // the losing sleep of the fast order is not waited for: the workflow completed without its timer firing
    assert.ok(!(await eventTypes(fast)).includes('TimerFired'));
  });

  it('timer-examples: UpdatableTimer, a one-day countdown a signal brings forward; a query reads the time left', async () => {
    const h = await client.workflow.start(countdownWorkflow, { taskQueue: 'timer-examples', workflowId: id('countdown') });
    const left = await h.query(timeLeftQuery);
    assert.ok(left > 23 * 3600_000 && left <= 24 * 3600_000, String(left));
    await h.signal(setDeadlineSignal, Date.now() + 300);
    assert.equal(await h.result(), undefined);
  });

  it('timer-progress: a query follows the progress of a loop of timers, also after the workflow closed', async () => {
    const h = await client.workflow.start(progress, { taskQueue: 'timer-progress', workflowId: id('progress') });
    await sleepMs(500);
    const during = await h.query(getProgress);
    assert.ok(during >= 0 && during < 100, String(during));
    await h.result();
    assert.equal(await h.query(getProgress), 100);
  });

  it('signals-queries: setListener, a signal unblocks the condition; cancel() ends it with CancelledFailure', async () => {
    const h = await client.workflow.start(unblockOrCancel, { taskQueue: 'signals-queries', workflowId: id('unblock') });
    assert.equal(await h.query(isBlockedQuery), true);
    await h.signal(unblockSignal);
    assert.equal(await h.result(), undefined);
    assert.equal(await h.query(isBlockedQuery), false);

    const c = await client.workflow.start(unblockOrCancel, { taskQueue: 'signals-queries', workflowId: id('cancel') });
    await waitFor(async () => (await eventTypes(c.workflowId)).includes('WorkflowTaskCompleted'), 'first task');
    await c.cancel();
    const err = await c.result().then(() => undefined, (e) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof CancelledFailure, String(err.cause));
  });

  it('state: a Map written by a signal with two arguments, read by a query with an argument, until cancelled', async () => {
    const h = await client.workflow.start(trackState, { taskQueue: 'state', workflowId: id('state') });
    await h.signal(setValueSignal, 'a', 1);
    await h.signal(setValueSignal, 'b', 2);
    await h.signal(setValueSignal, 'a', 3);
    assert.equal(await h.query(getValueQuery, 'a'), 3);
    assert.equal(await h.query(getValueQuery, 'b'), 2);
    // a handler's undefined arrives as null: without a data converter query answers are plain JSON (README, compatibility table)
    assert.equal(await h.query(getValueQuery, 'c'), null);
    await h.cancel();
    await assert.rejects(h.result(), (e: any) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
  });

  it('continue-as-new: ten runs of one workflow id; result() follows the chain', async () => {
    const workflowId = id('looping');
    const h = await client.workflow.start(loopingWorkflow, { args: [0], taskQueue: 'continue-as-new', workflowId });
    assert.equal(await h.result(), 'done after continuing as new');
    const d = await client.workflow.getHandle(workflowId).describe();
    assert.notEqual(d.runId, h.firstExecutionRunId);
  });

  it('activities-cancellation-heartbeating: cancelling the workflow cancels the heartbeating activity, which acknowledges it', async () => {
    const h = await client.workflow.start(runCancellableActivity, { taskQueue: 'cancellation-heartbeating', workflowId: id('heartbeat') });
    // (ActivityTaskStarted is written when the attempt ends, as in Temporal: give the activity time to heartbeat)
    await sleepMs(1000);
    await h.cancel();
    await assert.rejects(h.result(), (e: any) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
    // WAIT_CANCELLATION_COMPLETED: the activity reported its cancellation before the workflow ended
    const events = await eventTypes(h.workflowId);
    assert.ok(events.indexOf('ActivityTaskCanceled') > 0 && events.indexOf('ActivityTaskCanceled') < events.indexOf('WorkflowExecutionCanceled'), events.join());
  });

  it('patching-api: v1 executions replay with v2 (patched) code; v3 (deprecatePatch) replays v2 histories but not v1 ones', async () => {
    const started = async (version: string) => {
      const h = await client.workflow.start('myWorkflow', { taskQueue: `patching-${version}`, workflowId: id(`patching-${version}`) });
      await waitFor(async () => (await eventTypes(h.workflowId)).includes('TimerStarted'), 'the one-day sleep');
      return h;
    };
    const [v1, v2] = await Promise.all([started('v1'), started('v2')]);
    const v1History = await v1.fetchHistory();
    const v2History = await v2.fetchHistory();
    assert.deepEqual(await activityTypes(v1.workflowId), ['activityA']);
    assert.deepEqual(await activityTypes(v2.workflowId), ['activityB']);
    assert.ok(v2History.some((e) => e.event_type === 'MarkerRecorded' && e.attributes.details?.patch_id === 'my-change-id'));
    const path = (v: string) => require.resolve(`../../examples/temporal/patching-api/workflows-${v}`);
    await Worker.runReplayHistory({ workflowsPath: path('v2') }, v1History);
    await Worker.runReplayHistory({ workflowsPath: path('v2') }, v2History);
    await Worker.runReplayHistory({ workflowsPath: path('v3') }, v2History);
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: path('v3') }, v1History), /activityA|activityB|[Dd]eterminism/);
    await Promise.all([v1.terminate('test done'), v2.terminate('test done')]);
  });

  it('search-attributes: set at start, read, overwritten, deleted with [] and added by the workflow; describe() shows them', async () => {
    const h = await client.workflow.start(searchAttributesExample, {
      taskQueue: 'search-attributes', workflowId: id('search-attributes'),
      searchAttributes: { CustomIntField: [2], CustomKeywordField: ['keywordA', 'keywordB'], CustomBoolField: [true] },
    });
    const expected = { CustomIntField: [3], CustomKeywordField: ['keywordA', 'keywordB'], CustomDoubleField: [3.14] };
    assert.deepEqual(await h.result(), expected);
    assert.deepEqual((await h.describe()).searchAttributes, expected);
  });

  it('sinks: proxySinks calls reach the worker\'s injected sink with the workflow\'s info', async () => {
    const h = await client.workflow.start(sinkWorkflow, { taskQueue: 'sinks', workflowId: id('sinks') });
    assert.equal(await h.result(), 'Hello, Temporal!');
    assert.deepEqual(alerts.filter(([runId]) => runId === h.firstExecutionRunId), [[h.firstExecutionRunId, 'alerter: Workflow Execution started']]);
  });

  it('saga: a failing step runs the compensations of the steps before it, last first', async () => {
    const accountId = id('account');
    const err = await client.workflow.execute(openAccount, {
      args: [{ accountId, address: '1 Main St', clientEmail: 'a@example.com', bankDetails: { routingNumber: '1', accountNumber: '2' } }],
      taskQueue: 'saga', workflowId: accountId,
    }).then(() => undefined, (e) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.deepEqual(sagaCalls.filter((c) => c.endsWith(accountId)).map((c) => c.split(' ')[0]),
      ['createAccount', 'addAddress', 'addClient', 'addBankAccount', 'removeClient', 'clearPostalAddresses']);
    assert.deepEqual(sagaLog.slice(0, 4), [
      'err: add bank account failed: ', 'info: failures encountered during account opening - compensating',
      'err: reversing add client: ', 'err: reversing add address: ',
    ]);
  });

  it('encryption: a payload codec on client and worker; the database holds only ciphertext', async () => {
    const { workflowId, result } = await encryptionClient();
    assert.equal(result, 'Alice: Private message for Bob.\nBob: Hi Alice, I\'m Workflow Bob.');
    const stored = (await env.pool.query('SELECT event_type, attributes::text AS a FROM durable.get_history($1)', [workflowId])).rows;
    assert.ok(stored.length > 0);
    for (const row of stored) assert.doesNotMatch(row.a, /Alice|Bob/, row.event_type);
    const b64 = Buffer.from('binary/encrypted').toString('base64');
    assert.ok(stored.some((r) => r.event_type === 'WorkflowExecutionStarted' && r.a.includes(b64)));
    assert.ok(stored.some((r) => r.event_type === 'WorkflowExecutionCompleted' && r.a.includes(b64)));
  });

  it('interceptors-opentelemetry: client start, workflow run and activity in one trace', async () => {
    const { workflowId, result } = await otelClient();
    assert.equal(result, 'Hello, Temporal!');
    const mine = (await waitFor(async () => {
      const all = spans.getFinishedSpans();
      const start = all.find((x) => x.name === 'StartWorkflow:example' && x.attributes.workflow_id === workflowId);
      const trace = start && all.filter((x) => x.spanContext().traceId === start.spanContext().traceId);
      return trace?.some((x) => x.name === 'RunActivity:greet') && trace.some((x) => x.name === 'RunWorkflow:example') ? trace : undefined;
    }, 'the spans of the run'))!;
    const names = new Set(mine.map((x) => x.name));
    for (const n of ['StartWorkflow:example', 'RunWorkflow:example', 'StartActivity:greet', 'RunActivity:greet']) assert.ok(names.has(n), [...names].join());
  });
});

describe('Temporal samples with child workflows', () => {
  it('child-workflows: the parent runs one child per name at once (executeChild) and joins their answers', async () => {
    // samples-typescript child-workflows; https://docs.temporal.io/develop/typescript/child-workflows
    assert.equal(await childrenClient(), 'I am a child named Alice\nI am a child named Bob\nI am a child named Charlie');
    const workflowId = id('children');
    await client.workflow.execute(parentWorkflow, { args: ['Dora', 'Eve'], taskQueue: 'child-workflows', workflowId });
    const hist = await client.workflow.getHandle(workflowId).fetchHistory();
    const children = hist.filter((e) => e.event_type === 'ChildWorkflowExecutionCompleted').map((e) => e.attributes.result);
    assert.deepEqual(children.sort(), ['I am a child named Dora', 'I am a child named Eve']);
  });
});

describe('what cannot run the same way says so at load time', () => {
  it('Worker.create and bundleWorkflowCode refuse workflow modules that use unsupported or missing exports, naming file, line and reason', async () => {
    for (const attempt of [
      () => Worker.create({ taskQueue: 'unsupported', workflowsPath: UNSUPPORTED_WORKFLOWS }),
      () => bundleWorkflowCode({ workflowsPath: UNSUPPORTED_WORKFLOWS }),
    ]) {
      const err = await attempt().then(() => undefined, (e) => e);
      assert.ok(err instanceof TemporalCompatibilityError, String(err));
      assert.deepEqual(err.problems.map((p) => [p.module, p.name]).sort(), [
        ['@temporalio/workflow', 'upsertMemo'], ['@temporalio/workflow', 'workflowMetadataQuery'],
      ]);
      assert.match(err.message, /temporal-unsupported\.js:\d+: upsertMemo from @temporalio\/workflow: the engine has no upsert_memo command/);
      assert.match(err.message, /workflowMetadataQuery from @temporalio\/workflow: durable's @temporalio\/workflow has no export "workflowMetadataQuery"/);
    }
  });

  it('an unsupported export throws UnsupportedTemporalFeatureError when called; Client.schedule is a ScheduleClient', async () => {
    // bracket access: this test module must not itself trip the load-time check
    const shim: Record<string, any> = require('@temporalio/workflow');
    assert.throws(() => shim['upsertMemo']({}), (e: any) => e instanceof UnsupportedTemporalFeatureError && /upsert_memo/.test(e.message));
    // client/src/schedule-client.ts: Client.schedule is the ScheduleClient
    assert.equal(typeof client.schedule.getHandle('s').describe, 'function');
    assert.throws(() => client.workflow['list' as 'start'](undefined as any, undefined as any), /Client\.workflow\.list is not supported by durable: durable has no visibility query language/);
    await assert.rejects(Worker.create({ taskQueue: 'x', workflowBundle: { code: '/* webpack */' } }), /workflowBundle .* cannot run on durable/);
  });

  it('the namespace option of Client and Worker.create reaches durable\'s (client/src/client.ts, worker/src/worker-options.ts)', async () => {
    // the namespace does not exist: the engine says so (DU009, the test runs as a superuser) for the client's calls and the worker
    const c = new Client({ connection, namespace: 'payments' });
    assert.equal(c.options.namespace, 'payments');
    assert.equal(c.namespace, 'payments');
    const err = await c.workflow.getHandle('x').describe().then(() => undefined, (e) => e);
    assert.equal(err?.name, 'NamespaceNotFoundError', String(err));
    assert.equal(err.namespace, 'payments');
    assert.equal(client.options.namespace, 'default');
    await assert.rejects(Worker.create({ taskQueue: 'x', namespace: 'payments' }), (e: any) => e?.name === 'NamespaceNotFoundError' && e.code === 'DU009');
  });

  it('activity and client modules too: a process that loaded a module using CompleteAsyncError cannot connect', async () => {
    // in a child process: this one must not load the module (its own later checks would fail)
    const code = `require(${JSON.stringify(require.resolve('../workflows/temporal-unsupported-activities'))});
      require('@temporalio/client').Connection.connect().then(() => process.exit(0), (e) => { console.log(e.name + ': ' + e.message); process.exit(3); });`;
    const err: any = await promisify(execFile)(process.execPath, ['-e', code], {
      cwd: path.resolve(__dirname, '../../..'), env: { ...process.env, DURABLE_CONNECTION_STRING: env.cluster.connectionString },
    }).then(() => undefined, (e) => e);
    assert.equal(err?.code, 3, String(err?.stderr ?? err));
    assert.match(err.stdout, /^TemporalCompatibilityError: this project uses Temporal APIs that durable does not offer:\n.*temporal-unsupported-activities\.js:\d+: CompleteAsyncError from @temporalio\/activity: durable has no asynchronous activity completion/);
  });

  it('with no database named, Connection.connect explains where durable connects', async () => {
    const saved = process.env.DURABLE_CONNECTION_STRING;
    delete process.env.DURABLE_CONNECTION_STRING;
    const savedUrl = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      await assert.rejects(Connection.connect({ address: 'temporal.example.com:7233' }),
        /durable connects to PostgreSQL, not to a Temporal server \(address "temporal.example.com:7233"\): set DURABLE_CONNECTION_STRING/);
      // a postgresql:// URL as the address is used as is
      const c = await Connection.connect({ address: saved });
      await c.close();
    } finally {
      process.env.DURABLE_CONNECTION_STRING = saved;
      if (savedUrl !== undefined) process.env.DATABASE_URL = savedUrl;
    }
  });
});

/**
 * Namespaces (issue 10, point 4) against a real cluster, as Temporal's
 * TypeScript SDK has them: ClientOptions.namespace and
 * WorkerOptions.namespace (temporalio/sdk-typescript
 * packages/client/src/workflow-client.ts, packages/worker/src/worker-options.ts),
 * workflowInfo().namespace (packages/workflow/src/interfaces.ts), the
 * activity Info's namespace, activityNamespace and workflowNamespace
 * (packages/activity/src/index.ts).  Per Temporal's docs
 * (https://docs.temporal.io/namespaces): workflow ids are unique within a
 * namespace, and task queues are per namespace.  The contract of the engine
 * side is docs/namespaces.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  Client, NamespaceNotFoundError, PermissionDeniedError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, Worker,
} from '../../src';
import { Context } from '../../src/activity';
import { Env, sleepMs, startEnv, waitFor } from '../helpers/env';
import { WhoAmI, goSignal, namespaceProbe, namespaceQuery } from '../workflows/namespaces';

const WORKFLOWS = require.resolve('../workflows/namespaces');
const QUEUE = 'shared';

let env: Env;
let clientA: Client;
let clientB: Client;
const clients: Client[] = [];

/** The activities of one worker: whoAmI says which worker ran it and what its Info says. */
function activitiesOf(worker: string) {
  return {
    async whoAmI(): Promise<WhoAmI> {
      const i = Context.current().info;
      return { worker, namespace: i.namespace, activityNamespace: i.activityNamespace, workflowNamespace: i.workflowNamespace };
    },
  };
}

/** The cluster's connection string for another role (the cluster trusts local connections). */
function as(role: string): string {
  return env.cluster.connectionString.replace('postgres@', `${role}@`);
}

function client(namespace: string | undefined, role = 'postgres'): Client {
  const c = new Client({ connectionString: as(role), ...(namespace === undefined ? {} : { namespace }) });
  clients.push(c);
  return c;
}

const expected = (namespace: string, worker: string, signal: string) => ({
  namespace, signal, activity: { worker, namespace, activityNamespace: namespace, workflowNamespace: namespace },
});

before(async () => {
  env = await startEnv([
    "SELECT durable.create_namespace('ns-a')",
    `SELECT durable.create_namespace('ns-b', '{"description": "tenant b", "retention": "30 days"}')`,
    'CREATE ROLE alice LOGIN',
    "SELECT durable.grant_namespace('ns-a', 'alice', 'client')",
    'CREATE ROLE stranger LOGIN',
  ]);
  // a worker in each namespace, all three on a task queue of the same name
  await env.startWorker({ taskQueue: QUEUE, workflowsPath: WORKFLOWS, activities: activitiesOf('worker-default') });
  await env.startWorker({ taskQueue: QUEUE, namespace: 'ns-a', workflowsPath: WORKFLOWS, activities: activitiesOf('worker-a') });
  await env.startWorker({ taskQueue: QUEUE, namespace: 'ns-b', workflowsPath: WORKFLOWS, activities: activitiesOf('worker-b') });
  clientA = client('ns-a');
  clientB = client('ns-b');
});

after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await env?.stop();
});

describe('two namespaces', () => {
  it('the same workflow id runs once in each namespace, each run by its own namespace\'s worker on the same queue name', async () => {
    const id = 'order-1';
    const hA = await clientA.workflow.start(namespaceProbe, { workflowId: id, taskQueue: QUEUE });
    const hB = await clientB.workflow.start(namespaceProbe, { workflowId: id, taskQueue: QUEUE });
    const hD = await env.client.workflow.start(namespaceProbe, { workflowId: id, taskQueue: QUEUE });
    assert.equal(new Set([hA.firstExecutionRunId, hB.firstExecutionRunId, hD.firstExecutionRunId]).size, 3);
    assert.equal(env.client.namespace, 'default');
    assert.equal(clientA.namespace, 'ns-a');

    // ids are unique within a namespace: a second start in ns-a conflicts
    await assert.rejects(clientA.workflow.start(namespaceProbe, { workflowId: id, taskQueue: QUEUE }), WorkflowExecutionAlreadyStartedError);

    // a query reaches the namespace's own worker, whose run knows its namespace
    assert.equal(await hA.query(namespaceQuery), 'ns-a');
    assert.equal(await hB.query(namespaceQuery), 'ns-b');
    assert.equal(await hD.query(namespaceQuery), 'default');

    // a signal reaches only the run of its client's namespace
    await hA.signal(goSignal, 'to-a');
    await hB.signal(goSignal, 'to-b');
    await hD.signal(goSignal, 'to-default');
    assert.deepEqual(await hA.result(), expected('ns-a', 'worker-a', 'to-a'));
    assert.deepEqual(await hB.result(), expected('ns-b', 'worker-b', 'to-b'));
    assert.deepEqual(await hD.result(), expected('default', 'worker-default', 'to-default'));

    const rows = (await env.pool.query('SELECT namespace, run_id::text, task_queue FROM durable.workflows WHERE workflow_id = $1 ORDER BY namespace', [id])).rows;
    assert.deepEqual(rows, [
      { namespace: 'default', run_id: hD.firstExecutionRunId, task_queue: QUEUE },
      { namespace: 'ns-a', run_id: hA.firstExecutionRunId, task_queue: QUEUE },
      { namespace: 'ns-b', run_id: hB.firstExecutionRunId, task_queue: QUEUE },
    ]);
  });

  it('a client of ns-a cannot see or touch a workflow of ns-b: not found, as if it did not exist', async () => {
    const hB = await clientB.workflow.start(namespaceProbe, { workflowId: 'only-in-b', taskQueue: QUEUE });
    const runB = hB.firstExecutionRunId!;
    await waitFor(async () => (await hB.describe()).historyLength >= 3, 'the first workflow task of only-in-b');
    for (const h of [clientA.workflow.getHandle('only-in-b'), clientA.workflow.getHandle('only-in-b', runB)]) {
      await assert.rejects(h.describe(), WorkflowNotFoundError);
      await assert.rejects(h.fetchHistory(), WorkflowNotFoundError);
      await assert.rejects(h.signal(goSignal, 'from-a'), WorkflowNotFoundError);
      await assert.rejects(h.query(namespaceQuery), WorkflowNotFoundError);
      await assert.rejects(h.cancel(), WorkflowNotFoundError);
      await assert.rejects(h.terminate('from a'), WorkflowNotFoundError);
      await assert.rejects(h.result(), WorkflowNotFoundError);
    }
    // signalWithStart in ns-a starts a run of its own there, and leaves ns-b's alone
    const hA = await clientA.workflow.signalWithStart(namespaceProbe, {
      workflowId: 'only-in-b', taskQueue: QUEUE, signal: goSignal, signalArgs: ['swa'],
    });
    assert.notEqual(hA.firstExecutionRunId, runB);
    assert.deepEqual(await hA.result(), expected('ns-a', 'worker-a', 'swa'));

    const d = await hB.describe();
    assert.equal(d.status, 'running');
    assert.equal(d.cancelRequested, false);
    assert.deepEqual((await hB.fetchHistory()).filter((e) => e.event_type.startsWith('WorkflowExecutionSignaled')), []);
    await hB.signal(goSignal, 'from-b');
    assert.deepEqual(await hB.result(), expected('ns-b', 'worker-b', 'from-b'));
  });

  it('a forged close NOTIFY from a stranger does not make result() resolve: it reports the run\'s true outcome', async () => {
    const h = await clientA.workflow.start(namespaceProbe, { workflowId: 'forged-close', taskQueue: QUEUE });
    const runId = h.firstExecutionRunId!;
    await waitFor(async () => (await h.describe()).historyLength >= 3, 'the first workflow task of forged-close');
    let settled = false;
    const result = h.result().finally(() => (settled = true));

    const listener = new pg.Client({ connectionString: as('stranger') });
    const stranger = new pg.Client({ connectionString: as('stranger') });
    await listener.connect();
    await stranger.connect();
    try {
      const heard: string[] = [];
      listener.on('notification', (n) => heard.push(n.payload ?? ''));
      await listener.query('LISTEN durable_workflow_closed');
      // a role without any grant can NOTIFY the channel (PostgreSQL has no NOTIFY privilege)
      await stranger.query(`NOTIFY durable_workflow_closed, '{"run_id": "${runId}"}'`);
      await stranger.query(`NOTIFY durable_workflow_closed, '{"run_id": "${runId}", "status": "completed", "result": 42}'`);
      await waitFor(async () => heard.length >= 2, 'the forged notifications');
      assert.deepEqual(JSON.parse(heard[0]), { run_id: runId });
      await sleepMs(1000);
      assert.equal(settled, false, 'result() resolved on a forged close');
      assert.equal((await h.describe()).status, 'running');
    } finally {
      await listener.end();
      await stranger.end();
    }
    await h.signal(goSignal, 'real');
    assert.deepEqual(await result, expected('ns-a', 'worker-a', 'real'));
  });
});

describe('who may use a namespace', () => {
  it('a role with the client capability in ns-a works there, and gets PermissionDeniedError (42501) in ns-b', async () => {
    const alice = client('ns-a', 'alice');
    const h = await alice.workflow.start(namespaceProbe, { workflowId: 'alice-1', taskQueue: QUEUE });
    await h.signal(goSignal, 'alice');
    assert.deepEqual(await h.result(), expected('ns-a', 'worker-a', 'alice'));

    const aliceInB = client('ns-b', 'alice');
    for (const call of [
      () => aliceInB.workflow.start(namespaceProbe, { workflowId: 'alice-2', taskQueue: QUEUE }),
      () => aliceInB.workflow.getHandle('order-1').describe(),
      () => aliceInB.workflow.getHandle('order-1').result(),
    ]) {
      const err = await call().then(() => undefined, (e) => e);
      assert.ok(err instanceof PermissionDeniedError, String(err));
      assert.equal(err.code, '42501');
      assert.equal(err.namespace, 'ns-b');
    }
    // nor does the default namespace let her in: she has no grant there
    await assert.rejects(client(undefined, 'alice').workflow.getHandle('order-1').describe(), PermissionDeniedError);
  });

  it('an unknown namespace: PermissionDeniedError to a role without grants, NamespaceNotFoundError (DU009) to a superuser', async () => {
    await assert.rejects(client('no-such-ns', 'alice').workflow.getHandle('x').describe(), PermissionDeniedError);
    const err = await client('no-such-ns').workflow.getHandle('x').describe().then(() => undefined, (e) => e);
    assert.ok(err instanceof NamespaceNotFoundError, String(err));
    assert.equal(err.code, 'DU009');
    assert.equal(err.namespace, 'no-such-ns');
  });

  it('Worker.create checks the worker capability in its namespace, as Temporal\'s worker validation does (sdk-core: worker_validation_fails_on_nonexistent_namespace)', async () => {
    const opts = { taskQueue: QUEUE, workflowsPath: WORKFLOWS, shutdownSignals: false as const, log: () => undefined };
    const notFound = await Worker.create({ ...opts, connectionString: env.cluster.connectionString, namespace: 'no-such-ns' })
      .then(() => undefined, (e) => e);
    assert.ok(notFound instanceof NamespaceNotFoundError, String(notFound));
    // alice is a client of ns-a, not a worker there
    const denied = await Worker.create({ ...opts, connectionString: as('alice'), namespace: 'ns-a' }).then(() => undefined, (e) => e);
    assert.ok(denied instanceof PermissionDeniedError, String(denied));
    assert.equal(denied.namespace, 'ns-a');
    await env.pool.query("SELECT durable.grant_namespace('ns-a', 'alice', 'worker')");
    try {
      const w = await Worker.create({ ...opts, connectionString: as('alice'), namespace: 'ns-a' });
      assert.equal(w.namespace, 'ns-a');
      await w.shutdown();
    } finally {
      await env.pool.query("SELECT durable.revoke_namespace('ns-a', 'alice', 'worker')");
    }
  });
});

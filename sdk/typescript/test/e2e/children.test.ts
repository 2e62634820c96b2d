/**
 * Child workflows and external workflow handles against a real cluster:
 * test/workflows/children.ts on one worker.  Each parent's history is also
 * replayed (Worker.runReplayHistory) to check that the commands match their
 * events.  Temporal's behaviour asserted is cited at each test:
 *   https://docs.temporal.io/develop/typescript/child-workflows
 *   https://docs.temporal.io/encyclopedia/child-workflows (parent close policy)
 *   temporalio/sdk-typescript packages/workflow/src/workflow.ts (startChild, executeChild, getExternalWorkflowHandle)
 *   temporalio/sdk-core core/src/worker/workflow/machines/child_workflow_state_machine.rs (failures, cancellation types)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Worker, WorkflowCanceledError } from '../../src';
import { makeWorkflowExporter } from '../../src/interceptors-opentelemetry';
import { AesGcmCodec } from '../helpers/aes-codec';
import { Env, startEnv, waitFor } from '../helpers/env';

const CHILDREN = require.resolve('../workflows/children');
const INTERCEPTORS = require.resolve('../workflows/children-interceptors');
const OTEL_WORKFLOW = require.resolve('../../src/interceptors-opentelemetry/workflow');
const spans = new InMemorySpanExporter();
const codec = new AesGcmCodec('key-1', Buffer.alloc(32, 9));
const QUEUE = 'children';

let env: Env;

before(async () => {
  env = await startEnv();
  await env.startWorker({ taskQueue: QUEUE, workflowsPath: CHILDREN });
  await env.startWorker({ taskQueue: 'children-intercepted', workflowsPath: CHILDREN, interceptors: { workflowModules: [INTERCEPTORS] } });
  await env.startWorker({
    taskQueue: 'children-otel', workflowsPath: CHILDREN, interceptors: { workflowModules: [OTEL_WORKFLOW] },
    sinks: { exporter: makeWorkflowExporter(spans) },
  });
  await env.startWorker({ taskQueue: 'children-crypt', workflowsPath: CHILDREN, dataConverter: { payloadCodecs: [codec] } });
});

after(async () => {
  await env?.stop();
});

const start = (type: string, workflowId: string, args: unknown[] = []) =>
  env.client.workflow.start(type, { taskQueue: QUEUE, workflowId, args });
const run = async (type: string, workflowId: string, args: unknown[] = []) => (await start(type, workflowId, args)).result() as Promise<any>;

async function eventTypes(workflowId: string): Promise<string[]> {
  return (await env.client.workflow.getHandle(workflowId).fetchHistory()).map((e) => e.event_type);
}

/** The parent's history replays against the workflow code without non-determinism. */
async function replays(workflowId: string): Promise<void> {
  await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId }, await env.client.workflow.getHandle(workflowId).fetchHistory());
}

describe('child workflows', () => {
  it('a parent starts children and waits for all of them (startChild, handle.result(), firstExecutionRunId)', async () => {
    // https://docs.temporal.io/develop/typescript/child-workflows: startChild returns a handle, result() waits
    const results = await run('parentOfMany', 'many', [3]);
    assert.equal(results.length, 3);
    const parentRun = (await env.client.workflow.getHandle('many').describe()).runId;
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(results[i].echo, i);
      assert.equal(results[i].workflowId, `many-child-${i}`);
      const d = await env.client.workflow.getHandle(`many-child-${i}`).describe();
      assert.equal(d.status, 'completed');
      assert.equal(d.runId, results[i].runId);
      assert.equal(d.taskQueue, QUEUE, 'the parent\'s task queue by default');
      assert.deepEqual(results[i].parent, { workflowId: 'many', runId: parentRun, namespace: 'default' });
    }
    const types = await eventTypes('many');
    assert.equal(types.filter((t) => t === 'StartChildWorkflowExecutionInitiated').length, 3);
    assert.equal(types.filter((t) => t === 'ChildWorkflowExecutionStarted').length, 3);
    assert.equal(types.filter((t) => t === 'ChildWorkflowExecutionCompleted').length, 3);
    await replays('many');
  });

  it('a child that returns null gives null; one that returns nothing gives null too, unlike Temporal (without a data converter)', async () => {
    // Temporal's executeChild resolves to the child's return value (undefined for none). durable's engine writes
    // ChildWorkflowExecutionCompleted {result: null} for both (as its WorkflowExecutionCompleted), so without a
    // data converter "nothing" arrives as null; with one, undefined is a payload of its own and comes back as undefined
    assert.deepEqual(await run('parentOfQuietChildren', 'quiet'), { nothing: 'null', nul: 'null' });
    const client = new Client({ connectionString: env.cluster.connectionString, dataConverter: { payloadCodecs: [codec] } });
    try {
      const r = await client.workflow.execute('parentOfQuietChildren', { taskQueue: 'children-crypt', workflowId: 'quiet-crypt' });
      assert.deepEqual(r, { nothing: 'undefined', nul: 'null' });
    } finally {
      await client.close();
    }
  });

  it('the default workflow id is a uuid4() of the parent\'s seeded random, the same on replay', async () => {
    // packages/workflow/src/workflow.ts addDefaultWorkflowOptions: workflowId ?? uuid4()
    const results = await run('parentOfManyDefaultIds', 'default-ids', [2]);
    assert.deepEqual(results.map((r: any) => r.echo), [0, 1]);
    const hist = await env.client.workflow.getHandle('default-ids').fetchHistory();
    const ids = hist.filter((e) => e.event_type === 'StartChildWorkflowExecutionInitiated').map((e) => e.attributes.workflow_id);
    assert.equal(ids.length, 2);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await replays('default-ids');
  });

  it('a failing child rejects executeChild with ChildWorkflowFailure whose cause is the child\'s failure', async () => {
    // common/src/failure.ts ChildWorkflowFailure: "Always contains the reason for the failure as its cause"
    const e = await run('parentOfFailingChild', 'fails');
    assert.equal(e.name, 'ChildWorkflowFailure');
    assert.equal(e.message, 'Child Workflow execution failed');
    assert.equal(e.workflowId, 'fails-child');
    assert.equal(e.workflowType, 'childFail');
    assert.equal(e.namespace, 'default');
    assert.equal(e.runId, (await env.client.workflow.getHandle('fails-child').describe()).runId);
    // the child has no retry policy: Temporal's server reports RETRY_STATE_RETRY_POLICY_NOT_SET, so does durable
    assert.equal(e.retryState, 'RETRY_POLICY_NOT_SET');
    assert.deepEqual(e.cause, { name: 'ApplicationFailure', message: 'boom', type: 'ChildBroke' });
    assert.ok((await eventTypes('fails')).includes('ChildWorkflowExecutionFailed'));
    await replays('fails');
  });

  it('a start whose workflow id is taken rejects with WorkflowExecutionAlreadyStartedError', async () => {
    // workflow/src/internals.ts resolveChildWorkflowExecutionStart: WORKFLOW_ALREADY_EXISTS
    const e = await run('parentOfDuplicate', 'dup');
    assert.deepEqual(e, { name: 'WorkflowExecutionAlreadyStartedError', message: 'Workflow execution already started', workflowId: 'dup', workflowType: 'childEcho' });
    assert.ok((await eventTypes('dup')).includes('StartChildWorkflowExecutionFailed'));
    await replays('dup');
  });

  it('a child that times out or is terminated: ChildWorkflowFailure with TimeoutFailure / TerminatedFailure', async () => {
    // sdk-core child_workflow_state_machine.rs: timed out -> TimeoutFailure cause, terminated -> TerminatedFailure cause
    const t = await run('parentOfDoomedChild', 'doomed-t', ['doomed-t-child', '1s']);
    assert.equal(t.name, 'ChildWorkflowFailure');
    assert.equal(t.cause.name, 'TimeoutFailure');
    const h = await start('parentOfDoomedChild', 'doomed-x', ['doomed-x-child']);
    await waitFor(async () => (await env.client.workflow.getHandle('doomed-x-child').describe().catch(() => null))?.status === 'running', 'the child');
    await env.client.workflow.getHandle('doomed-x-child').terminate('by the test');
    const x = (await h.result()) as any;
    assert.equal(x.name, 'ChildWorkflowFailure');
    assert.equal(x.cause.name, 'TerminatedFailure');
    assert.equal(x.retryState, 'NON_RETRYABLE_FAILURE');
    assert.ok((await eventTypes('doomed-t')).includes('ChildWorkflowExecutionTimedOut'));
    assert.ok((await eventTypes('doomed-x')).includes('ChildWorkflowExecutionTerminated'));
    await replays('doomed-t');
    await replays('doomed-x');
  });

  it('parent close policy: TERMINATE (default), REQUEST_CANCEL and ABANDON, seen in the child\'s status', async () => {
    // https://docs.temporal.io/encyclopedia/child-workflows#parent-close-policy
    for (const [policy, status] of [['TERMINATE', 'terminated'], ['REQUEST_CANCEL', 'canceled'], ['ABANDON', 'running']]) {
      const childId = `pcp-${policy}-child`;
      await run('parentClosesFirst', `pcp-${policy}`, [policy, childId]);
      const child = env.client.workflow.getHandle(childId);
      await waitFor(async () => (await child.describe()).status === status, `${policy}: the child ${status}`);
      if (policy === 'ABANDON') {
        await new Promise((r) => setTimeout(r, 500));
        assert.equal((await child.describe()).status, 'running', 'an abandoned child stays running');
        await child.terminate('test over');
      }
      await replays(`pcp-${policy}`);
    }
  });

  it('cancelling a child\'s scope honours each ChildWorkflowCancellationType', async () => {
    // sdk-core child_workflow_state_machine.rs Started --(Cancel)--> ABANDON/TRY_CANCEL resolve at once,
    // otherwise request_cancel_external and wait; https://docs.temporal.io/develop/typescript/cancellation
    for (const type of ['TRY_CANCEL', 'WAIT_CANCELLATION_COMPLETED', 'WAIT_CANCELLATION_REQUESTED', 'ABANDON']) {
      const id = `cancel-${type}`;
      const childId = `${id}-child`;
      const e = await run('parentCancelsChild', id, [type, childId]);
      assert.equal(e.name, 'ChildWorkflowFailure', type);
      assert.equal(e.cause.name, 'CancelledFailure', type);
      const parent = await eventTypes(id);
      const child = env.client.workflow.getHandle(childId);
      const asked = parent.includes('RequestCancelExternalWorkflowExecutionInitiated');
      assert.equal(asked, type !== 'ABANDON', `${type}: request_cancel_external_workflow sent`);
      const closedFirst = parent.indexOf('ChildWorkflowExecutionCanceled');
      if (type === 'WAIT_CANCELLATION_COMPLETED') {
        // the parent waited for the child's 1.5 s of cleanup: the child's close is in its history
        assert.ok(closedFirst > 0, `${type}: ${parent.join()}`);
        assert.equal((await child.describe()).status, 'canceled');
      } else {
        assert.equal(closedFirst, -1, `${type}: the parent did not wait for the child: ${parent.join()}`);
        if (type === 'WAIT_CANCELLATION_REQUESTED') assert.ok(parent.includes('ExternalWorkflowExecutionCancelRequested'));
        if (type === 'ABANDON') {
          assert.equal((await child.describe()).status, 'running');
          assert.equal((await child.describe()).cancelRequested, false);
          await child.terminate('test over');
        } else {
          await waitFor(async () => (await child.describe()).status === 'canceled', `${type}: the child cancelled`);
        }
      }
      await replays(id);
    }
  });

  it('cancelling in the activation that starts the child sends no start', async () => {
    // sdk-core child_workflow_state_machine.rs StartCommandCreated --(Cancel)--> "cancelled before scheduled"
    const e = await run('parentCancelsUnsentChild', 'unsent');
    assert.equal(e.name, 'ChildWorkflowFailure');
    assert.equal(e.cause.name, 'CancelledFailure');
    assert.equal(e.cause.message, 'Child Workflow execution cancelled before scheduled');
    assert.ok(!(await eventTypes('unsent')).includes('StartChildWorkflowExecutionInitiated'));
    await replays('unsent');
  });

  it('cancelling the parent cancels the child it waits for, and the parent closes as cancelled', async () => {
    // https://docs.temporal.io/develop/typescript/cancellation: a child is cancelled with its scope;
    // workflow/src/internals.ts handleWorkflowFailure: cancelled && isCancellation(err) -> cancelled
    const h = await start('parentWaitsForChild', 'parent-cancelled', ['parent-cancelled-child']);
    const child = env.client.workflow.getHandle('parent-cancelled-child');
    await waitFor(async () => (await child.describe().catch(() => null))?.status === 'running', 'the child');
    // describe: the parent's open children (Temporal's DescribeWorkflowExecutionResponse.pending_children)
    const pending = (await h.describe()).pendingChildren;
    assert.equal(pending.length, 1);
    assert.equal(pending[0].workflow_id, 'parent-cancelled-child');
    assert.equal(pending[0].workflow_type, 'childCancellable');
    assert.equal(pending[0].run_id, (await child.describe()).runId);
    await h.cancel('enough');
    await assert.rejects(h.result(), WorkflowCanceledError);
    assert.equal((await child.describe()).status, 'canceled');
    assert.deepEqual((await h.describe()).pendingChildren, []);
    await replays('parent-cancelled');
  });

  it('workflowInfo().parent names the parent in a child, and is undefined for a top-level workflow', async () => {
    // workflow/src/interfaces.ts WorkflowInfo.parent: ParentWorkflowInfo {workflowId, runId, namespace}
    const r = await run('parentOfReporter', 'reporter');
    const runId = (await env.client.workflow.getHandle('reporter').describe()).runId;
    assert.deepEqual(r, { child: { workflowId: 'reporter', runId, namespace: 'default' }, self: null });
    assert.equal(await run('reportParent', 'top-level'), null);
  });
});

describe('child workflow options and payloads', () => {
  it('every ChildWorkflowOptions field reaches the engine; arguments, results, memo and failures go through the codecs', async () => {
    // workflow/src/workflow.ts startChildWorkflowExecutionNextHandler: the options of the StartChildWorkflowExecution command
    const client = new Client({ connectionString: env.cluster.connectionString, dataConverter: { payloadCodecs: [codec] } });
    try {
      const r = await client.workflow.execute('parentWithOptions', { taskQueue: 'children-crypt', workflowId: 'opts' }) as any;
      assert.deepEqual(r, {
        arg: { secret: 'arg' }, memo: { note: { secret: 'memo' } }, searchAttributes: { CustomKeywordField: ['child-kw'] },
        taskQueue: 'children-crypt', parent: 'opts',
      });
      const hist = await client.workflow.getHandle('opts').fetchHistory();
      const init = hist.find((e) => e.event_type === 'StartChildWorkflowExecutionInitiated')!.attributes;
      assert.equal(init.workflow_id_reuse_policy, 'reject_duplicate');
      assert.equal(init.parent_close_policy, 'abandon');
      assert.equal(init.retry_policy.maximum_attempts, 2);
      for (const k of ['workflow_execution_timeout', 'workflow_run_timeout', 'workflow_task_timeout']) assert.ok(init[k], k);
      // the stored input and result are encrypted payloads (the codec ran outside the sandbox)
      assert.equal(JSON.stringify(init.input).includes('secret'), false, JSON.stringify(init.input));
      const done = hist.find((e) => e.event_type === 'ChildWorkflowExecutionCompleted')!.attributes;
      assert.equal(JSON.stringify(done.result).includes('secret'), false);
      const child = await client.workflow.getHandle('opts-child').describe();
      assert.deepEqual(child.memo, { note: { secret: 'memo' } });
      const failed = await client.workflow.execute('parentOfFailingChild', { taskQueue: 'children-crypt', workflowId: 'opts-fail' }) as any;
      assert.deepEqual(failed.cause, { name: 'ApplicationFailure', message: 'boom', type: 'ChildBroke' });
      await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId: 'opts', dataConverter: { payloadCodecs: [codec] } }, hist);
    } finally {
      await client.close();
    }
  });
});

describe('signals and cancels to other workflows', () => {
  it('a child handle\'s signal() reaches the child', async () => {
    // workflow/src/workflow.ts startChild: handle.signal -> signalWorkflow, target child
    assert.deepEqual(await run('parentSignalsChild', 'sig-child'), { from: 'parent' });
    const hist = await env.client.workflow.getHandle('sig-child').fetchHistory();
    const init = hist.find((e) => e.event_type === 'SignalExternalWorkflowExecutionInitiated');
    assert.equal(init?.attributes.child_workflow_only, true);
    await replays('sig-child');
  });

  it('getExternalWorkflowHandle().signal() reaches the workflow; a missing one rejects', async () => {
    // workflow/src/workflow.ts getExternalWorkflowHandle; sdk-core signal_external_state_machine.rs:
    // "Unable to signal external workflow because it was not found"
    const target = await start('childSignalled', 'sig-target');
    const r = await run('parentSignalsExternal', 'sig-sender', ['sig-target']);
    assert.equal(await target.result(), 'hello from a workflow');
    assert.equal(r.signalled, true);
    assert.equal(r.missing.name, 'ApplicationFailure');
    assert.equal(r.missing.message, 'Unable to signal external workflow because it was not found');
    assert.equal(r.missing.type, 'EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND');
    const targetHist = await target.fetchHistory();
    const signalled = targetHist.find((e) => e.event_type === 'WorkflowExecutionSignaled');
    assert.equal(signalled?.attributes.signal_name, 'go');
    const sender = await eventTypes('sig-sender');
    assert.ok(sender.includes('ExternalWorkflowExecutionSignaled'));
    assert.ok(sender.includes('SignalExternalWorkflowExecutionFailed'));
    await replays('sig-sender');
  });

  it('getExternalWorkflowHandle().cancel() cancels the workflow; a missing one rejects', async () => {
    // workflow/src/workflow.ts ExternalWorkflowHandle.cancel; sdk-core cancel_external_state_machine.rs
    const target = await start('childCancellable', 'cancel-target', [10]);
    const r = await run('parentCancelsExternal', 'cancel-sender', ['cancel-target']);
    await assert.rejects(target.result(), WorkflowCanceledError);
    assert.equal(r.cancelled, true);
    assert.equal(r.missing.name, 'ApplicationFailure');
    assert.equal(r.missing.message, 'Unable to cancel external workflow because not found');
    const sender = await eventTypes('cancel-sender');
    assert.ok(sender.includes('ExternalWorkflowExecutionCancelRequested'));
    assert.ok(sender.includes('RequestCancelExternalWorkflowExecutionFailed'));
    await replays('cancel-sender');
  });
});

describe('outbound interceptors of child workflows and signals', () => {
  it('startChildWorkflowExecution and signalWorkflow see the call and pass headers to the child', async () => {
    // workflow/src/interceptors.ts WorkflowOutboundCallsInterceptor.startChildWorkflowExecution / signalWorkflow
    const r = await env.client.workflow.execute('parentSignalsChild', { taskQueue: 'children-intercepted', workflowId: 'icpt' }) as any;
    assert.deepEqual(r.outbound, [
      'start childSignalled icpt-child seq=1 cancellationType=WAIT_CANCELLATION_COMPLETED',
      'signal go to child icpt-child seq=1',
    ]);
    // the child ran on the parent's task queue, with the same interceptors
    assert.deepEqual(r.result, { result: { from: 'parent' }, startHeader: 'icpt', signalHeaders: ['icpt'] });
  });

  it('OpenTelemetry: the child\'s RunWorkflow span is a child of the parent\'s StartChildWorkflow span', async () => {
    // @temporalio/interceptors-opentelemetry workflow interceptor: SpanName.CHILD_WORKFLOW_START = 'StartChildWorkflow'
    await env.client.workflow.execute('parentSignalsChild', { taskQueue: 'children-otel', workflowId: 'otel-parent' });
    const all = await waitFor(async () => {
      const s = spans.getFinishedSpans();
      return s.some((x) => x.name === 'RunWorkflow:childSignalled') && s.some((x) => x.name === 'HandleSignal:go') ? s : undefined;
    }, 'the spans') as ReadableSpan[];
    const one = (n: string) => {
      const found = all.filter((x) => x.name === n);
      assert.equal(found.length, 1, `${n}: ${all.map((x) => x.name).join(', ')}`);
      return found[0];
    };
    const parentOf = (x: any) => x.parentSpanId ?? x.parentSpanContext?.spanId;
    const run = one('RunWorkflow:parentSignalsChild');
    const start = one('StartChildWorkflow:childSignalled');
    const childRun = one('RunWorkflow:childSignalled');
    const signal = one('SignalWorkflow:go');
    const handle = one('HandleSignal:go');
    for (const x of [start, childRun, signal, handle]) assert.equal(x.spanContext().traceId, run.spanContext().traceId, x.name);
    assert.equal(parentOf(start), run.spanContext().spanId);
    assert.equal(parentOf(childRun), start.spanContext().spanId);
    assert.equal(parentOf(signal), run.spanContext().spanId);
    assert.equal(parentOf(handle), signal.spanContext().spanId);
  });
});

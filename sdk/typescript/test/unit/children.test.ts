/**
 * Child workflows and external workflow handles without a database: the
 * recorded history test/fixtures/composition-tour.json (every event type of
 * the feature, captured from the engine by test/tools/capture-fixtures.ts
 * composition) replayed against test/workflows/children.ts, the
 * non-determinism checks of the three new commands, and the option
 * encodings.  Temporal's behaviour asserted is cited at each test.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  ChildWorkflowCancellationType, ChildWorkflowFailure, CancelledFailure, NonDeterminismError, ParentClosePolicy, RetryState,
  Worker, WorkflowIdReusePolicy, isCancellation,
} from '../../src';
import { encodeParentClosePolicy, encodeWorkflowIdReusePolicy } from '../../src/common/enums';
import { HistoryEvent, WorkflowRun } from '../../src/worker/replay';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const CHILDREN = require.resolve('../workflows/children');
const tour = (): HistoryEvent[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, 'composition-tour.json'), 'utf8'));

function newRun(history: HistoryEvent[]): WorkflowRun {
  return new WorkflowRun({
    workflowId: 'fx-tour', runId: (history[0] as any).run_id, workflowType: 'compositionTour',
    entry: { file: CHILDREN, exportName: 'compositionTour' },
  });
}

/** The history with event `id`'s attributes changed by `f`. */
function edited(id: number, f: (a: Record<string, any>) => Record<string, any>): HistoryEvent[] {
  return tour().map((e) => (e.event_id === id ? { ...e, attributes: f({ ...e.attributes }) } : e));
}

const eventId = (type: string, nth = 1): number => tour().filter((e) => e.event_type === type)[nth - 1].event_id;

describe('replay of child workflow and external workflow events', () => {
  it('the recorded history replays without non-determinism (every new event type in it)', async () => {
    // workflow/src/workflow.ts: the commands of startChild, signal and cancel, matched with their initiated events
    const types = new Set(tour().map((e) => e.event_type));
    for (const t of [
      'StartChildWorkflowExecutionInitiated', 'ChildWorkflowExecutionStarted', 'StartChildWorkflowExecutionFailed',
      'ChildWorkflowExecutionCompleted', 'ChildWorkflowExecutionFailed', 'ChildWorkflowExecutionCanceled',
      'ChildWorkflowExecutionTimedOut', 'ChildWorkflowExecutionTerminated', 'SignalExternalWorkflowExecutionInitiated',
      'ExternalWorkflowExecutionSignaled', 'SignalExternalWorkflowExecutionFailed', 'RequestCancelExternalWorkflowExecutionInitiated',
      'ExternalWorkflowExecutionCancelRequested', 'RequestCancelExternalWorkflowExecutionFailed',
    ]) assert.ok(types.has(t), t);
    await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId: 'fx-tour' }, tour());
  });

  it('replay produces the recorded result: each child\'s outcome, as the parent saw it', () => {
    const hist = tour();
    const cmds = newRun(hist).advance(hist.slice(0, -2))!;
    const recorded = hist.at(-1)!.attributes.result;
    assert.deepEqual(cmds, [{ type: 'complete_workflow', result: recorded }]);
    assert.equal(recorded.completed.echo, 'x');
    assert.deepEqual([recorded.failed.name, recorded.failed.cause.name], ['ChildWorkflowFailure', 'ApplicationFailure']);
    assert.equal(recorded.startFailed.name, 'WorkflowExecutionAlreadyStartedError');
    assert.deepEqual([recorded.timedOut.cause.name, recorded.cancelled.cause.name, recorded.terminated.cause.name],
      ['TimeoutFailure', 'CancelledFailure', 'TerminatedFailure']);
    assert.equal(recorded.signalMissing.message, 'Unable to signal external workflow because it was not found');
    assert.equal(recorded.cancelMissing.message, 'Unable to cancel external workflow because not found');
  });

  it('a cached run fed one workflow task at a time agrees with a full replay', () => {
    const hist = tour();
    const bounds = hist.filter((e, k) => e.event_type === 'WorkflowTaskStarted' && hist[k + 1]?.event_type === 'WorkflowTaskCompleted');
    const cached = newRun(hist);
    for (const b of bounds) {
      const prefix = hist.slice(0, b.event_id);
      const fresh = newRun(prefix);
      assert.deepEqual(cached.advance(prefix), fresh.advance(prefix), `task at ${b.event_id}`);
      fresh.dispose();
    }
    cached.dispose();
  });

  it('a child started with another workflow id or type is non-determinism, named with both', async () => {
    // sdk-core child_workflow_state_machine.rs: "Child workflow id of scheduled event ... does not match"
    const at = eventId('StartChildWorkflowExecutionInitiated');
    for (const change of [{ workflow_id: 'other-id' }, { workflow_type: 'otherType' }]) {
      const err = await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId: 'fx-tour' }, edited(at, (a) => ({ ...a, ...change })))
        .then(() => null, (e) => e);
      assert.ok(err instanceof NonDeterminismError, String(err));
      assert.equal(err.eventId, at);
      assert.match(err.message, /expected StartChildWorkflowExecutionInitiated\(workflow_id=(other-id|fx-tour-ok), workflow_type=(otherType|childEcho)\) from history, but the workflow code produced start_child_workflow\(workflow_id=fx-tour-ok, workflow_type=childEcho\)/);
    }
  });

  it('a signal or cancel of another workflow than recorded is non-determinism', async () => {
    const sig = eventId('SignalExternalWorkflowExecutionInitiated');
    let err = await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId: 'fx-tour' }, edited(sig, (a) => ({ ...a, signal_name: 'stop' })))
      .then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.match(err.message, /expected SignalExternalWorkflowExecutionInitiated\(workflow_id=fx-target, signal_name=stop\).*produced signal_external_workflow\(workflow_id=fx-target, signal_name=go\)/);
    const cancel = eventId('RequestCancelExternalWorkflowExecutionInitiated', 2);
    err = await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId: 'fx-tour' },
      edited(cancel, (a) => ({ ...a, workflow_execution: { workflow_id: 'someone-else', run_id: null } }))).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.match(err.message, /expected RequestCancelExternalWorkflowExecutionInitiated\(workflow_id=someone-else\).*produced request_cancel_external_workflow\(workflow_id=fx-tour-missing\)/);
  });

  it('a history without the child the code starts is non-determinism', async () => {
    // the workflow code starts a child where the history has none (the code changed)
    const hist = tour();
    const at = eventId('StartChildWorkflowExecutionInitiated');
    const cut = hist.filter((e) => e.event_id < at).concat(hist.filter((e) => e.event_id > at + 1)
      .filter((e) => e.event_type !== 'ChildWorkflowExecutionCompleted'));
    const err = await Worker.runReplayHistory({ workflowsPath: CHILDREN, workflowId: 'fx-tour' }, cut).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
  });
});

describe('options and failures of child workflows', () => {
  it('ChildWorkflowOptions become the fields of the start_child_workflow command (docs/protocol.md, the contract)', () => {
    // workflow/src/workflow.ts startChildWorkflowExecutionNextHandler: one StartChildWorkflowExecution command per option set
    const at = (ms: number) => new Date(Date.UTC(2026, 11, 1) + ms).toISOString();
    const first: HistoryEvent[] = [
      { event_id: 1, event_type: 'WorkflowExecutionStarted', event_time: at(0), run_id: 'r1', attributes: { workflow_type: 'parentWithOptions', task_queue: 'tq', input: [] } } as HistoryEvent,
      { event_id: 2, event_type: 'WorkflowTaskScheduled', event_time: at(1), attributes: {} },
      { event_id: 3, event_type: 'WorkflowTaskStarted', event_time: at(2), attributes: { scheduled_event_id: 2 } },
    ];
    const run = new WorkflowRun({ workflowId: 'p', runId: 'r1', workflowType: 'parentWithOptions', entry: { file: CHILDREN, exportName: 'parentWithOptions' } });
    assert.deepEqual(run.advance(first), [{
      type: 'start_child_workflow', workflow_id: 'p-child', workflow_type: 'reportInfo', input: [{ secret: 'arg' }], task_queue: 'tq',
      execution_timeout: '3600s', run_timeout: '1800s', task_timeout: '5s',
      retry_policy: { initial_interval: '1s', maximum_attempts: 2 }, id_reuse_policy: 'reject_duplicate', parent_close_policy: 'abandon',
      search_attributes: { CustomKeywordField: ['child-kw'] }, memo: { note: { secret: 'memo' } },
    }]);
    run.dispose();
  });

  it('ParentClosePolicy, ChildWorkflowCancellationType and WorkflowIdReusePolicy have Temporal\'s names and values', () => {
    // workflow/src/interfaces.ts ChildWorkflowCancellationType; common/src/workflow-options.ts WorkflowIdReusePolicy
    assert.deepEqual(Object.keys(ChildWorkflowCancellationType).sort(),
      ['ABANDON', 'TRY_CANCEL', 'WAIT_CANCELLATION_COMPLETED', 'WAIT_CANCELLATION_REQUESTED']);
    for (const [k, v] of Object.entries(ChildWorkflowCancellationType)) assert.equal(k, v);
    assert.equal(WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY, 'ALLOW_DUPLICATE_FAILED_ONLY');
    assert.equal(WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, 'REJECT_DUPLICATE');
  });

  it('policies become the engine\'s names; unknown ones are refused', () => {
    assert.equal(encodeParentClosePolicy(ParentClosePolicy.REQUEST_CANCEL), 'request_cancel');
    assert.equal(encodeParentClosePolicy(ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON), 'abandon');
    assert.equal(encodeParentClosePolicy('terminate'), 'terminate');
    assert.equal(encodeParentClosePolicy(undefined), undefined);
    assert.throws(() => encodeParentClosePolicy('KEEP'), /parentClosePolicy "KEEP" is not one of TERMINATE, ABANDON, REQUEST_CANCEL/);
    assert.equal(encodeWorkflowIdReusePolicy(WorkflowIdReusePolicy.REJECT_DUPLICATE), 'reject_duplicate');
    assert.equal(encodeWorkflowIdReusePolicy('allow_duplicate_failed_only'), 'allow_duplicate_failed_only');
    assert.throws(() => encodeWorkflowIdReusePolicy(WorkflowIdReusePolicy.TERMINATE_IF_RUNNING), /TERMINATE_IF_RUNNING/);
  });

  it('a ChildWorkflowFailure caused by a cancellation is a cancellation (isCancellation)', () => {
    // common/src/failure.ts isCancellation: ActivityFailure or ChildWorkflowFailure with a CancelledFailure cause
    const f = (cause?: Error) => new ChildWorkflowFailure('default', { workflowId: 'c', runId: 'r' }, 'child', RetryState.NON_RETRYABLE_FAILURE, cause);
    assert.equal(isCancellation(f(new CancelledFailure('x'))), true);
    assert.equal(isCancellation(f(new Error('x'))), false);
    assert.equal(f().message, 'Child Workflow execution failed');
  });
});

describe('the Temporal shims', () => {
  it('@temporalio/workflow and @temporalio/common export the child workflow API, and the load-time check passes it', () => {
    // packages/workflow/src/index.ts and packages/common/src/index.ts export these names
    const wf: Record<string, unknown> = require('@temporalio/workflow');
    const common: Record<string, unknown> = require('@temporalio/common');
    const { UNSUPPORTED } = require('../../src/temporal/unsupported');
    for (const name of ['startChild', 'executeChild', 'getExternalWorkflowHandle']) {
      assert.equal(typeof wf[name], 'function', name);
      assert.equal(UNSUPPORTED['@temporalio/workflow']?.[name], undefined, name);
    }
    for (const name of ['ChildWorkflowCancellationType', 'ParentClosePolicy', 'WorkflowIdReusePolicy', 'ChildWorkflowFailure', 'WorkflowExecutionAlreadyStartedError']) {
      assert.ok(wf[name], `@temporalio/workflow ${name}`);
      assert.ok(common[name], `@temporalio/common ${name}`);
    }
    assert.equal(wf.WorkflowExecutionAlreadyStartedError, common.WorkflowExecutionAlreadyStartedError, 'one class');
  });
});

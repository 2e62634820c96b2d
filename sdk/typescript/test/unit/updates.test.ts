/**
 * Updates on replay, without a database: the update-tour fixture (recorded
 * from the engine by test/tools/capture-fixtures.ts updates) against
 * test/workflows/updates.ts.  Temporal's behaviour asserted:
 *   temporalio/sdk-core core/src/worker/workflow/machines/update_state_machine.rs (an accepted update's handler runs
 *     again on replay from WorkflowExecutionUpdateAccepted; its accept and complete match the history)
 *   temporalio/sdk-typescript packages/workflow/src/internals.ts doUpdate ("runValidator": validators are not run on replay)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { NonDeterminismError, Worker } from '../../src';
import { HistoryEvent, WorkflowRun } from '../../src/worker/replay';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const load = (): HistoryEvent[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, 'update-tour.json'), 'utf8'));
const UPDATES = require.resolve('../workflows/updates');

const replay = (h: HistoryEvent[]) => Worker.runReplayHistory({ workflowsPath: UPDATES }, h);

/** The history with the attributes of event `id` changed by fn. */
function edit(h: HistoryEvent[], id: number, fn: (a: any) => void): HistoryEvent[] {
  return h.map((e) => {
    if (e.event_id !== id) return e;
    const copy = JSON.parse(JSON.stringify(e));
    fn(copy.attributes);
    return copy;
  });
}

const idOf = (h: HistoryEvent[], type: string, updateId: string) =>
  h.find((e) => e.event_type === type && (e.attributes.protocol_instance_id ?? e.attributes.meta?.update_id) === updateId)!.event_id;

function newRun(h: HistoryEvent[]): WorkflowRun {
  return new WorkflowRun({ workflowId: 'fx-updates', runId: (h[0] as any).run_id, workflowType: 'updateTour', entry: { file: UPDATES, exportName: 'updateTour' } });
}

describe('updates on replay', () => {
  it('the recorded history replays: handlers run again at their UpdateAccepted, accept and complete match', async () => {
    const h = load();
    const types = h.map((e) => e.event_type);
    assert.equal(types.filter((t) => t === 'WorkflowExecutionUpdateAccepted').length, 5);
    assert.equal(types.filter((t) => t === 'WorkflowExecutionUpdateCompleted').length, 5);
    assert.equal(h.at(-1)!.attributes.result.total, 109, 'fixture: 100 + 1 + 2 + 3*2');
    await replay(h);
  });

  it('validators are not run again: an accepted request the validator would refuse still replays', async () => {
    const h = load();
    // add's validator refuses negative numbers; on replay the accepted request is applied as it is
    await replay(edit(h, idOf(h, 'WorkflowExecutionUpdateAccepted', 'fx-add'), (a) => (a.accepted_request.input.args = [-1])));
  });

  it('a completion for another update id is non-determinism', async () => {
    const h = load();
    const id = idOf(h, 'WorkflowExecutionUpdateCompleted', 'fx-add');
    const err = await replay(edit(h, id, (a) => (a.meta.update_id = 'other'))).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.match(err.message, new RegExp(`event ${id}: expected WorkflowExecutionUpdateCompleted\\(update_id=other\\) from history, but the workflow code produced complete_update\\(update_id=fx-add\\)`));
  });

  it('an accepted update whose handler the code no longer has is non-determinism (it would be rejected)', async () => {
    const h = load();
    const id = idOf(h, 'WorkflowExecutionUpdateAccepted', 'fx-add');
    const err = await replay(edit(h, id, (a) => (a.accepted_request.input.name = 'gone'))).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.match(err.message, new RegExp(`event ${id}: history has WorkflowExecutionUpdateAccepted\\(update_id=fx-add, name=gone\\), but the workflow code produced no such command`));
  });

  it('a live task: messages are validated and accepted or rejected in order; a completion follows when its handler settles', () => {
    const h = load();
    // the first workflow task again, now carrying two updates: one accepted, one rejected
    const first = h.slice(0, 3);
    const cmds = newRun(h).advance(first, false, false, [
      { update_id: 'a', name: 'add', args: [5] }, { update_id: 'b', name: 'add', args: [-5] },
    ])!;
    // even a sync handler completes after its promise settles (a microtask), as in Temporal's doUpdate
    assert.deepEqual(cmds.map((c) => [c.type, c.update_id]), [['accept_update', 'a'], ['reject_update', 'b'], ['complete_update', 'a']]);
    assert.equal(cmds[2].result, 105);
    assert.match((cmds[1].failure as any).message, /only positive numbers, not -5/);
  });

  it('a cached run goes back to before a task that only rejected (the engine drops such a speculative task)', () => {
    const h = load();
    const run = newRun(h);
    // the worker ran the first workflow task (events 1-3) and completed it (event 4)
    assert.deepEqual(run.advance(h.slice(0, 3)), []);
    // a speculative task for an update that is rejected: ids 5 and 6 are synthesised, then dropped by the engine
    const spec = [h[3], { ...h[4], event_time: h[3].event_time }, { ...h[5], event_time: h[3].event_time }];
    const cmds = run.advance(spec, false, false, [{ update_id: 'r', name: 'add', args: [-1] }])!;
    assert.deepEqual(cmds.map((c) => c.type), ['reject_update']);
    assert.equal(run.rewindSpeculative(cmds), true);
    // the next task (the recorded one, ids 5 and 6 again) continues the cached run
    const next = run.advance(h.slice(3, 6), false, false, [{ update_id: 'fx-add', name: 'add', args: [1] }])!;
    assert.deepEqual(next.map((c) => c.type), ['accept_update', 'complete_update']);
    assert.equal(next[1].result, 101);
  });

  it('no rewind after a task that had events to apply, or that did more than reject', () => {
    const h = load();
    const run = newRun(h);
    run.advance(h.slice(0, 3));
    const cmds = run.advance(h.slice(3, 6), false, false, [{ update_id: 'fx-add', name: 'add', args: [1] }])!;
    assert.equal(run.rewindSpeculative(cmds), false);
  });
});

describe('the Temporal shims export the update API', () => {
  it('@temporalio/workflow and @temporalio/client have the update names, none of them stubs', () => {
    // packages/workflow/src/index.ts (defineUpdate, setDefaultUpdateHandler, currentUpdateInfo, allHandlersFinished,
    // HandlerUnfinishedPolicy) and packages/client/src/index.ts (WorkflowUpdateStage, WorkflowUpdateFailedError,
    // WithStartWorkflowOperation) export these names
    const wf: Record<string, any> = require('@temporalio/workflow');
    const client: Record<string, any> = require('@temporalio/client');
    const { UNSUPPORTED } = require('../../src/temporal/unsupported');
    for (const name of ['defineUpdate', 'setDefaultUpdateHandler', 'currentUpdateInfo', 'allHandlersFinished']) {
      assert.equal(typeof wf[name], 'function', name);
      assert.equal(UNSUPPORTED['@temporalio/workflow']?.[name], undefined, name);
    }
    assert.deepEqual(wf.defineUpdate('approve'), { type: 'update', name: 'approve' });
    assert.equal(wf.HandlerUnfinishedPolicy.ABANDON, 2);
    assert.deepEqual({ ...client.WorkflowUpdateStage }, { ADMITTED: 'ADMITTED', ACCEPTED: 'ACCEPTED', COMPLETED: 'COMPLETED' });
    assert.equal(typeof client.WorkflowUpdateFailedError, 'function');
    assert.equal(typeof client.WithStartWorkflowOperation.create, 'function');
    assert.throws(() => client.WithStartWorkflowOperation.create('w', { workflowId: 'x', taskQueue: 'q' }), /workflowIdConflictPolicy/);
  });
});

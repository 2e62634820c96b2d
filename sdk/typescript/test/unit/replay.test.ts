/**
 * Replay unit tests: saved histories (test/fixtures, captured from real
 * runs by test/tools/capture-fixtures.ts) against workflow code, no database.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { NonDeterminismError, Worker } from '../../src';
import { HistoryEvent, WorkflowRun, isCommandEvent } from '../../src/worker/replay';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const load = (name: string): HistoryEvent[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));

const EXAMPLE = require.resolve('../../examples/subscription/workflows');
const LIFECYCLE_V1 = require.resolve('../workflows/lifecycle-v1');
const LIFECYCLE_V3 = require.resolve('../workflows/lifecycle-v3');
const REORDERED = require.resolve('../workflows/renewal-reordered');
const BASIC = require.resolve('../workflows/basic');

function newRun(history: HistoryEvent[], workflowsPath: string): WorkflowRun {
  const type = history[0].attributes.workflow_type;
  return new WorkflowRun({ workflowId: 'wf', runId: (history[0] as any).run_id, workflowType: type, entry: { file: workflowsPath, exportName: type } });
}

/** A poll's view of the history up to (and including) the n-th completed WorkflowTaskStarted. */
function pollPrefix(history: HistoryEvent[], n: number): HistoryEvent[] {
  let seen = 0;
  for (let k = 0; k < history.length; k++) {
    if (history[k].event_type === 'WorkflowTaskStarted' && history[k + 1]?.event_type === 'WorkflowTaskCompleted' && ++seen === n) {
      return history.slice(0, k + 1);
    }
  }
  throw new Error(`no workflow task ${n}`);
}

function commandEventsAfter(history: HistoryEvent[], startedIndex: number): string[] {
  const out: string[] = [];
  for (let k = startedIndex + 2; k < history.length && history[k].event_type !== 'WorkflowTaskStarted'; k++) {
    if (isCommandEvent(history[k])) out.push(history[k].event_type);
  }
  return out;
}

describe('replay', () => {
  it('replays the example histories against the current code', async () => {
    for (const f of ['renewal-completed', 'lifecycle-patched-cancelled']) {
      await Worker.runReplayHistory({ workflowsPath: EXAMPLE }, load(f));
    }
    await Worker.runReplayHistory({ workflowsPath: BASIC }, load('timer-vs-signal'));
    await Worker.runReplayHistory({ workflowsPath: BASIC }, load('activity-cancelled'));
    await Worker.runReplayHistory({ workflowsPath: BASIC }, load('deterministic'));
  });

  it('detects non-determinism and names the event and what was expected', async () => {
    const err = await Worker.runReplayHistory({ workflowsPath: REORDERED }, load('renewal-completed')).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.equal(err.eventId, 5);
    assert.match(err.message, /event 5: expected ActivityTaskScheduled\(activity_id=1, activity_type=chargePaymentMethod\) from history, but the workflow code produced schedule_activity\(activity_id=1, activity_type=extendSubscription\)/);
  });

  it('detects commands missing from the code', async () => {
    const hist = load('renewal-completed');
    // drop sendRenewalConfirmation from the code by replaying against a workflow that returns early
    const err = await Worker.runReplayHistory({ workflowsPath: BASIC }, [
      { ...hist[0], attributes: { ...hist[0].attributes, workflow_type: 'failing', input: ['x'] } }, ...hist.slice(1),
    ]).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.match(err.message, /expected ActivityTaskScheduled.*fail_workflow/);
  });

  it('the last activation of a poll history produces the recorded commands', () => {
    const hist = load('renewal-completed');
    for (let n = 1; n <= 4; n++) {
      const prefix = pollPrefix(hist, n);
      const cmds = newRun(prefix, EXAMPLE).advance(prefix)!;
      assert.ok(cmds, `task ${n}`);
      const recorded = commandEventsAfter(hist, prefix.length - 1);
      assert.equal(cmds.length, recorded.length, `task ${n}: ${JSON.stringify(cmds)} vs ${recorded}`);
      assert.equal(cmds.length, 1);
    }
  });

  it('a cached run applies only the new events and agrees with a full replay', () => {
    const hist = load('lifecycle-patched-cancelled');
    const cached = newRun(hist, EXAMPLE);
    let last: unknown;
    let n = 1;
    for (;; n++) {
      let prefix: HistoryEvent[];
      try {
        prefix = pollPrefix(hist, n);
      } catch {
        break;
      }
      last = cached.advance(prefix);
      const fresh = newRun(prefix, EXAMPLE).advance(prefix);
      assert.deepEqual(last, fresh, `task ${n}`);
    }
    assert.ok(n > 4);
    assert.equal((last as any[]).at(-1).type, 'complete_workflow');
  });

  it('a cached run refuses a history that does not continue it', () => {
    const hist = load('renewal-completed');
    const run = newRun(hist, EXAMPLE);
    run.advance(pollPrefix(hist, 2));
    const other = load('lifecycle-patched-cancelled');
    assert.throws(() => run.advance(pollPrefix(other, 3)), { name: 'Error', message: /does not continue|did not complete/ });
  });

  it('Date.now(), new Date(), Math.random() and uuid4() replay to the recorded values', () => {
    const hist = load('deterministic');
    const recorded = hist.find((e) => e.event_type === 'WorkflowExecutionCompleted')!.attributes.result;
    // the first activation again, as a worker would run it
    const prefix = pollPrefix(hist, 1);
    const cmds = newRun(prefix, BASIC).advance(prefix)!;
    assert.equal(cmds[0].type, 'start_timer');
    const full = pollPrefix(hist, 2);
    const final = newRun(full, BASIC).advance(full)!;
    assert.deepEqual(final.at(-1), { type: 'complete_workflow', result: recorded });
    assert.equal(recorded.now, new Date(prefix.at(-1)!.event_time).getTime());
  });

  it('runs each execution in its own sandbox', () => {
    const hist = load('deterministic');
    const prefix = pollPrefix(hist, 2);
    const a = newRun(prefix, BASIC);
    const b = newRun(prefix, BASIC);
    a.advance(prefix);
    b.advance(prefix);
    assert.notEqual(a.sandbox!.context, b.sandbox!.context);
    assert.equal(typeof (globalThis as any).__durableActivator, 'undefined');
  });
});

describe('queries', () => {
  it('answers from a replay of the stored history, including events no task has processed', () => {
    const hist = load('timer-vs-signal');
    const closed = newRun(hist, BASIC);
    closed.advance(hist, true, true);
    assert.deepEqual(closed.query('state', []), { result: 'signaled:now' });
    // before the first workflow task completed: only WorkflowExecutionStarted + WorkflowTaskScheduled
    const fresh = newRun(hist, BASIC);
    fresh.advance(hist.slice(0, 2), true, true);
    assert.deepEqual(fresh.query('state', []), { result: 'waiting' });
    // a signal received but not yet processed by a workflow task
    const sig = hist.findIndex((e) => e.event_type === 'WorkflowExecutionSignaled');
    const pending = newRun(hist, BASIC);
    pending.advance(hist.slice(0, sig + 1), true, true);
    assert.deepEqual(pending.query('state', []), { result: 'signaled:now' });
    assert.match(String(closed.query('nope', []).failure?.message), /no query handler "nope"/);
  });
});

describe('patching', () => {
  it('patched() is false when replaying an execution that predates the patch', async () => {
    // recorded by the code without the fraud check; replayed by the code with patched("add-fraud-check")
    await Worker.runReplayHistory({ workflowsPath: EXAMPLE }, load('lifecycle-v1-cancelled'));
  });

  it('patched() is true for new executions and records a marker', () => {
    const hist = load('lifecycle-patched-cancelled');
    const prefix = hist.slice(0, 3); // the first workflow task, new
    const cmds = newRun(prefix, EXAMPLE).advance(prefix)!;
    assert.deepEqual(cmds[0], { type: 'record_marker', marker_name: 'core_patch', details: { patch_id: 'add-fraud-check', deprecated: false } });
    assert.equal(cmds[1].activity_type, 'checkFraud');
  });

  it('old code cannot replay a patched execution', async () => {
    const err = await Worker.runReplayHistory({ workflowsPath: LIFECYCLE_V1 }, load('lifecycle-patched-cancelled')).then(() => null, (e) => e);
    assert.ok(err instanceof NonDeterminismError, String(err));
    assert.match(err.message, /MarkerRecorded\(marker_name=core_patch, patch_id=add-fraud-check\)/);
  });

  it('deprecatePatch() replays patched executions (and not the ones before the patch)', async () => {
    await Worker.runReplayHistory({ workflowsPath: LIFECYCLE_V3 }, load('lifecycle-patched-cancelled'));
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: LIFECYCLE_V3 }, load('lifecycle-v1-cancelled')), NonDeterminismError);
  });

  it('a deprecated marker in history is skipped by code without the call', async () => {
    const hist = load('lifecycle-patched-cancelled').map((e) =>
      e.event_type === 'MarkerRecorded' ? { ...e, attributes: { ...e.attributes, details: { patch_id: 'add-fraud-check', deprecated: true } } } : e);
    // v3 always checks fraud; it deprecates the patch, so both marker flavours replay
    await Worker.runReplayHistory({ workflowsPath: LIFECYCLE_V3 }, hist);
  });
});

describe('sandbox', () => {
  it('workflow code cannot import Node modules', async () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'durable-sb-'));
    const file = path.join(dir, 'wf.js');
    fs.writeFileSync(file, "const fs = require('fs'); exports.subscriptionRenewal = async () => fs.readFileSync('/etc/passwd');\n");
    try {
      const err = await Worker.runReplayHistory({ workflowsPath: file }, load('renewal-completed')).then(() => null, (e) => e);
      assert.ok(err);
      assert.match(String(err.message), /cannot import the Node module "fs"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

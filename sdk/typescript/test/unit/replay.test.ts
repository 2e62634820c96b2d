/**
 * Replay unit tests: saved histories (test/fixtures, captured from real
 * runs by test/tools/capture-fixtures.ts) against workflow code, no database.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { NonDeterminismError, Worker } from '../../src';
import { CacheMismatch, HistoryEvent, PartialHistory, WorkflowRun, isCommandEvent } from '../../src/worker/replay';
import { sandboxStats } from '../../src/worker/sandbox';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const load = (name: string): HistoryEvent[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));

const EXAMPLE = require.resolve('../../examples/subscription/workflows');
const LIFECYCLE_V1 = require.resolve('../workflows/lifecycle-v1');
const LIFECYCLE_V3 = require.resolve('../workflows/lifecycle-v3');
const REORDERED = require.resolve('../workflows/renewal-reordered');
const BASIC = require.resolve('../workflows/basic');
const ISOLATION = require.resolve('../workflows/isolation');

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

/**
 * What a sticky worker receives for the n-th workflow task (n >= 2): the
 * events after the WorkflowTaskStarted of the task before, up to and
 * including the n-th task's WorkflowTaskStarted.
 */
function stickyPart(history: HistoryEvent[], n: number): HistoryEvent[] {
  const before = pollPrefix(history, n - 1);
  const upTo = pollPrefix(history, n);
  return upTo.slice(before.length);
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

  it('runs keep their module state and globals to themselves, interleaved in the shared context', () => {
    const t0 = Date.parse('2026-11-25T10:00:00.000+00:00');
    const at = (ms: number) => new Date(t0 + ms).toISOString().replace('Z', '+00:00');
    const first = (tag: string): HistoryEvent[] => [
      { event_id: 1, event_type: 'WorkflowExecutionStarted', event_time: at(0), run_id: `run-${tag}`, attributes: { workflow_type: 'isolated', task_queue: 'q', input: [tag] } } as HistoryEvent,
      { event_id: 2, event_type: 'WorkflowTaskScheduled', event_time: at(1), attributes: {} },
      { event_id: 3, event_type: 'WorkflowTaskStarted', event_time: at(2), attributes: { scheduled_event_id: 2 } },
    ];
    const rest: HistoryEvent[] = [
      { event_id: 4, event_type: 'WorkflowTaskCompleted', event_time: at(3), attributes: { scheduled_event_id: 2, started_event_id: 3 } },
      { event_id: 5, event_type: 'TimerStarted', event_time: at(4), attributes: { timer_id: '1' } },
      { event_id: 6, event_type: 'TimerFired', event_time: at(1004), attributes: { timer_id: '1', started_event_id: 5 } },
      { event_id: 7, event_type: 'WorkflowTaskScheduled', event_time: at(1005), attributes: {} },
      { event_id: 8, event_type: 'WorkflowTaskStarted', event_time: at(1006), attributes: { scheduled_event_id: 7 } },
    ];
    const contexts = sandboxStats.contexts;
    const a = newRun(first('a'), ISOLATION);
    const b = newRun(first('b'), ISOLATION);
    assert.equal(a.advance(first('a'))![0].type, 'start_timer');
    assert.equal(b.advance(first('b'))![0].type, 'start_timer');
    // a continues from a partial history, b from the whole one
    const ra = a.advance(rest)!;
    const rb = b.advance([...first('b'), ...rest])!;
    assert.deepEqual(ra, [{ type: 'complete_workflow', result: { runs: 1, before: null, after: 'a', now: t0 + 1006 } }]);
    assert.deepEqual(rb, [{ type: 'complete_workflow', result: { runs: 1, before: null, after: 'b', now: t0 + 1006 } }]);
    // a third run, after the others are gone, starts from clean globals and a fresh module
    a.dispose();
    b.dispose();
    const d = newRun(first('d'), ISOLATION);
    assert.deepEqual(d.advance([...first('d'), ...rest])!.at(-1), { type: 'complete_workflow', result: { runs: 1, before: null, after: 'd', now: t0 + 1006 } });
    d.dispose();
    assert.ok(sandboxStats.contexts - contexts <= 1, 'one context for every run');
    assert.equal(typeof (globalThis as any).__durableActivator, 'undefined');
    assert.equal(typeof (globalThis as any).isolationTag, 'undefined');
  });
});

describe('sticky execution (partial histories)', () => {
  it('a cached run continues from partial histories and agrees with a full replay', () => {
    const hist = load('lifecycle-patched-cancelled');
    const sticky = newRun(hist, EXAMPLE);
    assert.ok(sticky.advance(pollPrefix(hist, 1)));
    let n = 2;
    for (;; n++) {
      let part: HistoryEvent[];
      try {
        part = stickyPart(hist, n);
      } catch {
        break;
      }
      assert.equal(part[0].event_type, 'WorkflowTaskCompleted');
      assert.equal(part[0].event_id, sticky.lastBoundary!.event_id + 1);
      const fromPart = sticky.advance(part);
      const prefix = pollPrefix(hist, n);
      const fresh = newRun(prefix, EXAMPLE);
      assert.deepEqual(fromPart, fresh.advance(prefix), `task ${n}`);
      fresh.dispose();
    }
    assert.ok(n > 4);
    sticky.dispose();
  });

  it('a run continues from whole and partial histories in any order', () => {
    const hist = load('renewal-completed');
    const run = newRun(hist, EXAMPLE);
    run.advance(pollPrefix(hist, 1));
    run.advance(pollPrefix(hist, 2)); // whole
    run.advance(stickyPart(hist, 3)); // partial
    const last = run.advance(pollPrefix(hist, 4))!; // whole again
    const fresh = newRun(hist, EXAMPLE);
    assert.deepEqual(last, fresh.advance(pollPrefix(hist, 4)));
    run.dispose();
    fresh.dispose();
  });

  it('a new run refuses a partial history (the worker then fetches the whole one)', () => {
    const hist = load('renewal-completed');
    const run = newRun(hist, EXAMPLE);
    assert.throws(() => run.advance(stickyPart(hist, 2)), PartialHistory);
    assert.ok(PartialHistory.prototype instanceof CacheMismatch);
  });

  it('a cached run refuses a partial history that does not start right after it', () => {
    const hist = load('lifecycle-patched-cancelled');
    const run = newRun(hist, EXAMPLE);
    run.advance(pollPrefix(hist, 1));
    // skips task 2: begins after a boundary the run has not reached
    assert.throws(() => run.advance(stickyPart(hist, 3)), CacheMismatch);
    const ahead = newRun(hist, EXAMPLE);
    ahead.advance(pollPrefix(hist, 3));
    // a partial history that ends before the run's last task
    assert.throws(() => ahead.advance(stickyPart(hist, 2)), CacheMismatch);
    // a partial history whose first event is not the completion of the run's last task
    const run3 = newRun(hist, EXAMPLE);
    run3.advance(pollPrefix(hist, 1));
    const part = stickyPart(hist, 2);
    assert.throws(() => run3.advance([{ ...part[0], event_type: 'WorkflowTaskFailed' }, ...part.slice(1)]), CacheMismatch);
    const run4 = newRun(hist, EXAMPLE);
    run4.advance(pollPrefix(hist, 1));
    assert.throws(() => run4.advance([{ ...part[0], attributes: { ...part[0].attributes, started_event_id: 2 } }, ...part.slice(1)]), CacheMismatch);
    // an event repeated (ids not contiguous)
    const run5 = newRun(hist, EXAMPLE);
    run5.advance(pollPrefix(hist, 1));
    assert.throws(() => run5.advance([...part.slice(0, -1), part[0], part.at(-1)!]), /not contiguous/);
    for (const r of [run, ahead, run3, run4, run5]) r.dispose();
  });

  it('a disposed run cannot continue', () => {
    const hist = load('renewal-completed');
    const run = newRun(hist, EXAMPLE);
    run.advance(pollPrefix(hist, 1));
    run.dispose();
    assert.throws(() => run.advance(stickyPart(hist, 2)), CacheMismatch);
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

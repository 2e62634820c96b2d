/**
 * Replay of recorded histories with local activity markers (captured by
 * test/e2e/local-activities.test.ts with DURABLE_CAPTURE_FIXTURES=1), no
 * database: each call resolves from its marker, nothing runs again, and a
 * marker the code does not match is non-determinism.
 *
 * Temporal's behaviour asserted: temporalio/sdk-core
 * core/src/worker/workflow/machines/local_activity_state_machine.rs
 * (verify_marker_data_matches: seq, activity id and type must match; a
 * marker with no local activity for it; a local activity left without its
 * marker is run once replay reaches a new workflow task,
 * WaitingMarkerEvent --StartedNonReplayWFT--> RequestSent).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { NonDeterminismError, Worker } from '../../src';
import { HistoryEvent, WorkflowRun } from '../../src/worker/replay';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const load = (name: string): HistoryEvent[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
const LOCAL = require.resolve('../workflows/local');

const isMarker = (e: HistoryEvent) => e.event_type === 'MarkerRecorded' && e.attributes.marker_name === 'core_local_activity';

/** The history with its event ids renumbered from 1 (after events were dropped). */
function renumber(h: HistoryEvent[]): HistoryEvent[] {
  const ids = new Map<number, number>();
  const out = h.map((e, i) => {
    ids.set(e.event_id, i + 1);
    return { ...e, event_id: i + 1 };
  });
  for (const e of out) {
    const a = { ...e.attributes };
    for (const k of ['scheduled_event_id', 'started_event_id', 'workflow_task_completed_event_id']) {
      if (typeof a[k] === 'number') a[k] = ids.get(a[k]) ?? a[k];
    }
    e.attributes = a;
  }
  return out;
}

describe('local activity replay', () => {
  it('replays recorded histories from their markers', async () => {
    for (const f of ['local-chain', 'local-retry-timer', 'local-mixed']) {
      await Worker.runReplayHistory({ workflowsPath: LOCAL }, load(f));
    }
  });

  it('a marker of another activity type is non-determinism', async () => {
    const h = load('local-chain');
    h[0] = { ...h[0], attributes: { ...h[0].attributes, workflow_type: 'localChainChanged' } };
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: LOCAL }, h), (e: unknown) => {
      assert.ok(e instanceof NonDeterminismError, String(e));
      assert.match((e as Error).message, /seq 2\) has activity type "greet", but the workflow code scheduled "shout"/);
      return true;
    });
  });

  it('a marker the code does not schedule is non-determinism', async () => {
    const h = load('local-chain').map((e) => (isMarker(e) && e.attributes.details.seq === 3
      ? { ...e, attributes: { ...e.attributes, details: { ...e.attributes.details, seq: 9 } } } : e));
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: LOCAL }, h), (e: unknown) => {
      assert.ok(e instanceof NonDeterminismError, String(e));
      assert.match((e as Error).message, /local activity marker \(seq 9, activity type "greet"\) that the workflow code did not schedule/);
      return true;
    });
  });

  it('a missing marker is non-determinism when the history goes on without it', async () => {
    // without its last marker, the code waits for the third call where the history completed the workflow
    const h = renumber(load('local-chain').filter((e) => !(isMarker(e) && e.attributes.details.seq === 3)));
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: LOCAL }, h), (e: unknown) => {
      assert.ok(e instanceof NonDeterminismError, String(e));
      assert.match((e as Error).message, /WorkflowExecutionCompleted/);
      return true;
    });
  });

  it('a local activity without a marker in the last workflow task is asked of the worker again', () => {
    // the history of a worker that died while running the first local activity: the next
    // worker's task replays up to it and must run it (not resolve it, not fail)
    const full = load('local-chain');
    const h = full.slice(0, 3);
    const run = new WorkflowRun({ workflowId: 'wf', runId: (h[0] as any).run_id, workflowType: 'localChain', entry: { file: LOCAL, exportName: 'localChain' } });
    try {
      const commands = run.advance(h);
      assert.deepEqual(commands, []);
      const { requests } = run.local.take();
      assert.deepEqual(requests.map((r) => [r.seq, r.activityType, r.attempt, r.input]), [[1, 'greet', 1, ['x', 1]]]);
      // its outcome, as the worker reports it: the marker, then the next local activity is asked for
      const next = run.resolveLocal({ type: 'localActivityResolved', seq: 1, attempt: 1, runtimeMs: 5, result: 'x1' });
      assert.equal(next.length, 1);
      assert.equal(next[0].type, 'record_marker');
      assert.deepEqual((next[0].details as any).result, 'x1');
      assert.deepEqual(run.local.take().requests.map((r) => [r.seq, r.input]), [[2, ['x1', 2]]]);
    } finally {
      run.dispose();
    }
  });
});

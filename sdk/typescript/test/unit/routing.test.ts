/**
 * Unit tests of task routing's SDK side (issue 12), no database: the
 * command fields of priority, requiredCapabilities and pinning, the worker
 * identity pinToPreviousWorker reads from history (the same on replay),
 * setWorkflowOptions' versioning behaviour and workflowInfo().currentBuildId.
 *
 * Temporal's sources followed (temporalio/sdk-typescript):
 *   - packages/common/src/priority.ts: Priority { priorityKey, fairnessKey, fairnessWeight },
 *     unset fields inherited from the calling workflow;
 *   - packages/workflow/src/workflow.ts setWorkflowOptions (an object or a getter, stored on the
 *     function as workflowDefinitionOptions) and WorkflowInfo.currentBuildId (the build that
 *     processed the current workflow task; on replay the one recorded in history);
 *   - packages/common/src/worker-deployments.ts: VersioningBehavior PINNED / AUTO_UPGRADE.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeVersioningBehavior, jsonContains, priorityFields } from '../../src/common/routing';
import { HistoryEvent, WorkflowRun } from '../../src/worker/replay';
import { Sim, replayFresh, signal } from '../helpers/sim';

const ROUTING = require.resolve('../workflows/routing');

const started = (activityId: string, identity: string) => ({ event_type: 'ActivityTaskStarted', attributes: { activity_id: activityId, identity } });
const completed = (activityId: string, result: unknown) => ({ event_type: 'ActivityTaskCompleted', attributes: { activity_id: activityId, result } });

describe('routing options', () => {
  it('priorityFields: the fields that are set, a bare number as the priority key', () => {
    assert.deepEqual(priorityFields({ priorityKey: 1, fairnessKey: 't1', fairnessWeight: 2.5 }), { priority: 1, fairness_key: 't1', fairness_weight: 2.5 });
    assert.deepEqual(priorityFields({ fairnessKey: 't1' }), { fairness_key: 't1' });
    assert.deepEqual(priorityFields({ priorityKey: 0, fairnessKey: '' }), {}, 'zero and empty mean unset (inherited), as in Temporal');
    assert.deepEqual(priorityFields(4), { priority: 4 });
    assert.deepEqual(priorityFields(undefined), {});
  });

  it('jsonContains matches as jsonb @> does for objects', () => {
    assert.ok(jsonContains({ gpu: true, region: 'eu' }, { gpu: true }));
    assert.ok(jsonContains({ gpu: true }, {}));
    assert.ok(!jsonContains({ gpu: false }, { gpu: true }));
    assert.ok(!jsonContains({}, { gpu: true }));
    assert.ok(jsonContains({ zones: ['a', 'b'], n: { x: 1, y: 2 } }, { zones: ['b'], n: { x: 1 } }));
    assert.ok(!jsonContains({ zones: ['a'] }, { zones: ['b'] }));
    assert.ok(!jsonContains({ zones: ['a'] }, { zones: 'a' }), 'a nested scalar does not match an array');
  });

  it('encodeVersioningBehavior: Temporal\'s names to the engine\'s', () => {
    assert.equal(encodeVersioningBehavior('PINNED'), 'pinned');
    assert.equal(encodeVersioningBehavior('AUTO_UPGRADE'), 'auto_upgrade');
    assert.equal(encodeVersioningBehavior('auto-upgrade'), 'auto_upgrade');
    assert.equal(encodeVersioningBehavior(undefined), undefined);
    assert.throws(() => encodeVersioningBehavior('SOMETIMES'), TypeError);
  });
});

describe('affinity commands', () => {
  it('requiredCapabilities and pinToPreviousWorker become command fields; the pin is the latest ActivityTaskStarted\'s identity', () => {
    const sim = new Sim(ROUTING, 'affinity', [1]);
    try {
      let cmds = sim.task();
      assert.deepEqual(cmds.map((c) => [c.activity_id, c.required_capabilities, c.pinned_worker]), [['1', { gpu: true }, undefined]]);
      cmds = sim.task([started('1', 'wb'), completed('1', 'wb')]);
      assert.deepEqual(cmds.map((c) => [c.activity_id, c.required_capabilities, c.pinned_worker]), [['2', { name: 'b' }, undefined]]);
      cmds = sim.task([started('2', 'wx'), completed('2', 'wx')]);
      assert.deepEqual(cmds.map((c) => [c.activity_id, c.required_capabilities, c.pinned_worker]), [['3', undefined, 'wx']]);
      // replayed from scratch (another worker, an evicted run), the pin is the same
      const replayed = replayFresh(ROUTING, 'affinity', sim.events);
      assert.deepEqual(replayed, cmds);
      cmds = sim.task([started('3', 'wx'), completed('3', 'wx')]);
      assert.equal(cmds[0].pinned_worker, 'wx');
      cmds = sim.task([started('4', 'wx'), completed('4', 'wx')]);
      assert.equal(cmds[0].type, 'complete_workflow');
      assert.deepEqual(cmds[0].result, { gpu: ['wb'], pairs: [['wx', 'wx', 'wx']] });
    } finally {
      sim.dispose();
    }
  });

  it('pinnedWorker names the worker', () => {
    const sim = new Sim(ROUTING, 'pinnedTo', ['w-7']);
    try {
      assert.equal(sim.task()[0].pinned_worker, 'w-7');
    } finally {
      sim.dispose();
    }
  });
});

describe('versioning in workflow code', () => {
  it('setWorkflowOptions: the behaviour is known once the workflow function started (object or getter)', () => {
    for (const [type, expected] of [['upgradingWaiter', 'AUTO_UPGRADE'], ['pinnedWaiter', 'PINNED'], ['waiter', undefined]] as const) {
      const sim = new Sim(ROUTING, type);
      try {
        sim.task();
        assert.equal(sim.run.versioningBehavior, expected, type);
      } finally {
        sim.dispose();
      }
    }
  });

  it('currentBuildId: the worker\'s build for a new task, the recorded build of a replayed one', () => {
    const sim = new Sim(ROUTING, 'waiter');
    let events: HistoryEvent[];
    try {
      sim.task();
      sim.task([signal('go')]);
      events = sim.events.map((e) => ({ ...e, attributes: { ...e.attributes } }));
    } finally {
      sim.dispose();
    }
    const replay = (buildId: string | undefined, evs: HistoryEvent[]) => {
      const run = new WorkflowRun({ workflowId: 'wf', runId: '0190f2a4-0000-7000-8000-000000000002', workflowType: 'waiter',
        entry: { file: ROUTING, exportName: 'waiter' }, buildId });
      try {
        return run.advance(evs)?.[0]?.result;
      } finally {
        run.dispose();
      }
    };
    assert.equal(replay('v2', events), 'v2->v2', 'no build recorded: the replaying worker\'s');
    assert.equal(replay(undefined, events), 'undefined->undefined', 'an unversioned worker');
    events.find((e) => e.event_type === 'WorkflowTaskCompleted')!.attributes.build_id = 'v1';
    assert.equal(replay('v2', events), 'v1->v2');
  });
});

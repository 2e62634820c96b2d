/**
 * The language-neutral conformance suite (test/conformance/README.md), run
 * against this SDK without a database: for each fixture, the fixture's
 * script as a workflow (test/workflows/conformance.ts), its history fed to
 * the replayer (WorkflowRun.advance, what the worker runs for a polled
 * workflow task), and the commands it would pass to complete_workflow_task
 * (or its non-determinism failure) compared with the fixture's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { NonDeterminismError } from '../../src';
import { workflowTaskFailure } from '../../src/worker/workflow-tasks';
import { HistoryEvent, WorkflowRun } from '../../src/worker/replay';

const DIR = path.resolve(__dirname, '../../../../../test/conformance');
const INTERPRETER = require.resolve('../workflows/conformance');
const OPS = new Set(['sleep', 'activity', 'wait_signal', 'patched', 'complete', 'continue_as_new']);

interface Fixture {
  name: string;
  description: string;
  workflow: { workflow_type: string; script: any[] };
  workflow_id: string;
  run_id: string;
  attempt: number;
  history: HistoryEvent[];
  expect: { complete_workflow_task: any[] } | { fail_workflow_task: { type: string; event_id?: number } };
  engine_answer?: unknown;
}

const fixtures: Fixture[] = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')));

/** Fields that hold a duration (docs/protocol.md "Durations"): compared by value. */
const DURATION_FIELDS = new Set(['duration', 'schedule_to_close_timeout', 'schedule_to_start_timeout', 'start_to_close_timeout',
  'heartbeat_timeout', 'execution_timeout', 'run_timeout', 'task_timeout', 'backoff_start_interval', 'initial_interval', 'maximum_interval']);

/** Seconds of "1.5s" / "1.500s" / a number of seconds; anything else is left as it is. */
function seconds(v: unknown): unknown {
  if (typeof v === 'number') return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(v) : null;
  return m ? Number(m[1]) : v;
}

/** The command list as JSON (undefined fields dropped), durations as seconds. */
function canonical(v: unknown, key?: string): unknown {
  if (key !== undefined && DURATION_FIELDS.has(key)) return seconds(v);
  if (Array.isArray(v)) return v.map((x) => canonical(x));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, canonical(x, k)]));
  }
  return v;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-conformance-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A workflows module whose one export, named as the fixture's workflow type, runs the fixture's script. */
function workflowModule(f: Fixture): string {
  const file = path.join(tmp, `${f.name}.js`);
  fs.writeFileSync(file, `module.exports = { ${JSON.stringify(f.workflow.workflow_type)}: require(${JSON.stringify(INTERPRETER)}).scripted(${JSON.stringify(f.workflow.script)}) };\n`);
  return file;
}

function checkScript(steps: any[]): void {
  for (const s of steps) {
    assert.ok(OPS.has(s.op), `unknown op ${s.op}`);
    if (s.op === 'patched') {
      checkScript(s.then ?? []);
      checkScript(s.else ?? []);
    }
  }
}

describe('conformance fixtures (test/conformance)', () => {
  it('are there, well formed, and use only the script vocabulary', () => {
    assert.ok(fixtures.length >= 12, `${fixtures.length} fixtures`);
    const names = new Set<string>();
    for (const f of fixtures) {
      assert.ok(!names.has(f.name), `duplicate ${f.name}`);
      names.add(f.name);
      assert.ok(f.description && f.workflow?.workflow_type && Array.isArray(f.workflow.script), f.name);
      checkScript(f.workflow.script);
      const h = f.history;
      assert.equal(h[0].event_type, 'WorkflowExecutionStarted', f.name);
      assert.equal(h.at(-1)!.event_type, 'WorkflowTaskStarted', f.name);
      h.forEach((e, i) => assert.equal(e.event_id, i + 1, `${f.name}: event ids are contiguous from 1`));
      assert.ok('complete_workflow_task' in f.expect || 'fail_workflow_task' in f.expect, f.name);
    }
  });

  for (const f of fixtures) {
    it(`${f.name}: ${f.description}`, () => {
      const run = new WorkflowRun({
        workflowId: f.workflow_id, runId: f.run_id, workflowType: f.workflow.workflow_type,
        entry: { file: workflowModule(f), exportName: f.workflow.workflow_type },
      });
      try {
        if ('complete_workflow_task' in f.expect) {
          const commands = run.advance(f.history);
          assert.ok(commands, 'the history ends with a workflow task to work on');
          assert.deepEqual(canonical(commands), canonical(f.expect.complete_workflow_task));
        } else {
          const want = f.expect.fail_workflow_task;
          assert.equal(want.type, 'NonDeterminismError');
          const err = (() => {
            try {
              run.advance(f.history);
              return null;
            } catch (e) {
              return e;
            }
          })();
          assert.ok(err instanceof NonDeterminismError, `expected a NonDeterminismError, got ${err}`);
          if (want.event_id !== undefined) assert.equal(err.eventId, want.event_id, err.message);
          // what the worker sends to fail_workflow_task
          const sent = workflowTaskFailure(err);
          assert.equal(sent.type, 'NonDeterminismError');
          if (want.event_id !== undefined) assert.deepEqual(sent.details, { event_id: want.event_id });
        }
      } finally {
        run.dispose();
      }
    });
  }
});

/**
 * The load-time check of Temporal projects (src/temporal/check.ts) on the
 * forms a module can import @temporalio/* in: as tsc emits CommonJS (a
 * module binding, __importStar, destructuring) and as TypeScript/ESM source
 * (named and namespace imports, `import type`), following relative imports.
 * Temporal's bundler rejects a workflow import that does not exist
 * (temporalio/sdk-typescript packages/worker/src/workflow/bundler.ts fails
 * the build on webpack errors); durable's shims do the same before a worker
 * starts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { TemporalCompatibilityError, checkWorkflowModules } from '../../src/temporal/check';
import { UNSUPPORTED } from '../../src/temporal/unsupported';
import '../../src/temporal/workflow';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-check-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, src: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, src);
  return f;
}

function problems(entry: string): string[] {
  try {
    checkWorkflowModules(entry);
    return [];
  } catch (e) {
    assert.ok(e instanceof TemporalCompatibilityError, String(e));
    return e.problems.map((p) => `${path.basename(p.file)}:${p.line} ${p.name}`);
  }
}

describe('load-time check of Temporal imports', () => {
  it('registers each stub with its reason', () => {
    assert.match(UNSUPPORTED['@temporalio/workflow'].upsertMemo, /no upsert_memo command/);
  });

  it('tsc CommonJS: module bindings, __importStar and destructuring, through relative requires', () => {
    write('helper.js', '"use strict";\nconst wf = __importStar(require("@temporalio/workflow"));\nexports.h = () => wf.setDefaultQueryHandler(undefined);\n');
    const entry = write('cjs.js', [
      '"use strict";',
      'const workflow_1 = require("@temporalio/workflow");',
      'const { upsertMemo, sleep: pause } = require("@temporalio/workflow");',
      'const helper_1 = require("./helper");',
      'async function w() { await (0, workflow_1.sleep)(1); (0, workflow_1.setDefaultQueryHandler)(); return workflow_1.noSuchExport; }',
    ].join('\n'));
    assert.deepEqual(problems(entry).sort(), [
      'cjs.js:3 upsertMemo', 'cjs.js:5 noSuchExport', 'cjs.js:5 setDefaultQueryHandler', 'helper.js:3 setDefaultQueryHandler',
    ]);
  });

  it('TypeScript/ESM source: named imports (aliases too), namespace imports; `import type` is skipped', () => {
    write('types.ts', 'import { upsertMemo } from "@temporalio/workflow";\nexport type X = 1;\n');
    const entry = write('esm.ts', [
      'import type { X } from "./types";',
      'import { proxyActivities, upsertMemo as memo, type WorkflowInfo } from "@temporalio/workflow";',
      'import * as wf from "@temporalio/workflow";',
      'export async function w() { wf.condition(() => true); wf.setDefaultQueryHandler(undefined); }',
    ].join('\n'));
    assert.deepEqual(problems(entry).sort(), ['esm.ts:2 upsertMemo', 'esm.ts:4 setDefaultQueryHandler']);
  });

  it('a module using only what durable has passes', () => {
    const entry = write('ok.js', 'const workflow_1 = require("@temporalio/workflow");\nexports.w = () => (0, workflow_1.proxyLocalActivities)({ startToCloseTimeout: "1s" });\n');
    assert.deepEqual(problems(entry), []);
  });
});

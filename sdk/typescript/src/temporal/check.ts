/**
 * The load-time check of a Temporal project's modules: before a worker or a
 * client starts, every module that imports from `@temporalio/*` (the
 * workflow modules and what they import; the modules loaded in this
 * process) is read, and a use of an export durable does not have — an
 * unsupported stub (unsupported.ts) or a name the shim does not export at
 * all — throws TemporalCompatibilityError listing each one, with the file,
 * line and reason.  Temporal's bundler fails the same way on an import that
 * does not exist; without this check the project would load and fail only
 * when the code ran.
 *
 * It reads source text (CommonJS as tsc emits it, or TypeScript/ESM
 * imports): `const x = require("@temporalio/m")` (also wrapped in
 * __importStar) with `x.name`, `const { name } = require(...)`,
 * `import { name } from` and `import * as x from`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Module from 'node:module';
import { UNSUPPORTED } from './unsupported';

const MODULES: Record<string, string> = {
  '@temporalio/workflow': './workflow',
  '@temporalio/activity': './activity',
  '@temporalio/client': './client',
  '@temporalio/worker': './worker',
  '@temporalio/common': './common',
};

export interface CompatibilityProblem {
  file: string;
  line: number;
  module: string;
  name: string;
  reason: string;
}

/** One or more Temporal APIs a project uses that durable does not offer. */
export class TemporalCompatibilityError extends Error {
  constructor(readonly problems: CompatibilityProblem[]) {
    super(`this project uses Temporal APIs that durable does not offer:\n${problems
      .map((p) => `  ${p.file}:${p.line}: ${p.name} from ${p.module}: ${p.reason}`).join('\n')}`);
  }

  override get name(): string {
    return 'TemporalCompatibilityError';
  }
}

const SPEC = `['"](@temporalio\\/[a-z-]+)['"]`;
const BIND = new RegExp(`(?:const|let|var)\\s+([\\w$]+)\\s*=\\s*(?:[\\w$.]*__import(?:Star|Default)\\()?\\s*require\\(\\s*${SPEC}\\s*\\)`, 'g');
const NS_IMPORT = new RegExp(`import\\s+\\*\\s+as\\s+([\\w$]+)\\s+from\\s*${SPEC}`, 'g');
const DESTRUCT = new RegExp(`(?:const|let|var)\\s*\\{([^}]*)\\}\\s*=\\s*require\\(\\s*${SPEC}\\s*\\)`, 'g');
const NAMED_IMPORT = new RegExp(`import\\s+(type\\s+)?(?:[\\w$]+\\s*,\\s*)?\\{([^}]*)\\}\\s*from\\s*${SPEC}`, 'g');
const RELATIVE = /(?:require\(\s*|(import|export)\s+(type\s+)?[^'";]*?from\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

function lineOf(src: string, index: number): number {
  let n = 1;
  for (let i = src.indexOf('\n'); i >= 0 && i < index; i = src.indexOf('\n', i + 1)) n++;
  return n;
}

function shimExports(moduleName: string): Record<string, unknown> | undefined {
  const rel = MODULES[moduleName];
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return rel ? require(rel) : undefined;
}

/** The uses of names from @temporalio/* modules in `src`: [module, name, index]. */
function usesIn(src: string): [string, string, number][] {
  const out: [string, string, number][] = [];
  const bound = (re: RegExp) => {
    for (const m of src.matchAll(re)) {
      const v = m[1].replace(/\$/g, '\\$');
      for (const u of src.matchAll(new RegExp(`(?<![\\w$.])${v}\\.([\\w$]+)`, 'g'))) {
        if (u[1] !== 'default' && u[1] !== '__esModule') out.push([m[2], u[1], u.index!]);
      }
    }
  };
  bound(BIND);
  bound(NS_IMPORT);
  for (const m of src.matchAll(DESTRUCT)) {
    for (const part of m[1].split(',')) {
      const name = part.split(':')[0].trim();
      if (name && !name.startsWith('...')) out.push([m[2], name, m.index!]);
    }
  }
  for (const m of src.matchAll(NAMED_IMPORT)) {
    if (m[1]) continue; // import type { … }
    for (const part of m[2].split(',')) {
      const p = part.trim();
      if (!p || p.startsWith('type ')) continue;
      out.push([m[3], p.split(/\s+as\s+/)[0].trim(), m.index!]);
    }
  }
  return out;
}

/** Problems found per file, kept while its modification time stays (a process checks at each connect). */
const checked = new Map<string, { mtimeMs: number; problems: CompatibilityProblem[] }>();

/** The problems of one file, or undefined when it cannot be read. */
function problemsOf(file: string): CompatibilityProblem[] | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  const hit = checked.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.problems;
  const src = fs.readFileSync(file, 'utf8');
  const problems = src.includes('@temporalio/') ? problemsIn(file, src) : [];
  checked.set(file, { mtimeMs: st.mtimeMs, problems });
  return problems;
}

/** The problems of one file's source. */
function problemsIn(file: string, src: string): CompatibilityProblem[] {
  const problems: CompatibilityProblem[] = [];
  const seen = new Set<string>();
  for (const [mod, name, index] of usesIn(src)) {
    const exports = shimExports(mod);
    if (!exports) continue; // a @temporalio package durable does not map (e.g. @temporalio/testing): its own resolution fails
    const key = `${mod}\0${name}`;
    if (seen.has(key)) continue;
    const reason = UNSUPPORTED[mod]?.[name] ?? (name in exports ? undefined : `durable's ${mod} has no export "${name}"`);
    if (reason === undefined) continue;
    seen.add(key);
    problems.push({ file, line: lineOf(src, index), module: mod, name, reason });
  }
  return problems;
}

function throwIfAny(problems: CompatibilityProblem[]): void {
  if (problems.length) throw new TemporalCompatibilityError(problems);
}

/** The workflow modules: `entry` and every module it imports by a relative path, at any depth. */
export function checkWorkflowModules(entry: string): void {
  const problems: CompatibilityProblem[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || file.includes(`${path.sep}node_modules${path.sep}`)) return;
    seen.add(file);
    const found = problemsOf(file);
    if (!found) return;
    problems.push(...found);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(RELATIVE)) {
      if (m[2]) continue; // import type … from
      let next: string;
      try {
        next = Module.createRequire(file).resolve(m[3]);
      } catch {
        continue;
      }
      visit(next);
    }
  };
  visit(require.resolve(path.resolve(entry)));
  throwIfAny(problems);
}

/** The modules loaded in this process (activities, the client's and worker's own modules) that import @temporalio/*. */
export function checkLoadedModules(): void {
  const problems: CompatibilityProblem[] = [];
  for (const file of Object.keys(require.cache)) {
    if (file.includes(`${path.sep}node_modules${path.sep}`) || !/\.[cm]?[jt]s$/.test(file)) continue;
    problems.push(...(problemsOf(file) ?? []));
  }
  throwIfAny(problems);
}

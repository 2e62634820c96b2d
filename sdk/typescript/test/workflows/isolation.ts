/**
 * A workflow that keeps state where runs could see each other's: a
 * module-level variable and a global (test/unit/replay.test.ts runs two
 * of them interleaved; each must see only its own).
 */
import { sleep } from '../../src/workflow';

let runs = 0;

export async function isolated(tag: string): Promise<unknown> {
  runs++;
  const g = globalThis as any;
  const before = g.isolationTag ?? null;
  g.isolationTag = tag;
  await sleep(1000);
  return { runs, before, after: g.isolationTag, now: Date.now() };
}

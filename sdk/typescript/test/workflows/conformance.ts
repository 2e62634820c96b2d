/**
 * The conformance suite's scripted workflows (test/conformance/README.md,
 * "Scripts"), written with the SDK's public workflow API: one interpreter,
 * made into a workflow function for a given script by scripted().  The
 * runner (test/unit/conformance.test.ts) loads it in the sandbox through a
 * small generated module per fixture.
 */
import { condition, makeContinueAsNewFunc, patched, proxyActivities, setDefaultSignalHandler, sleep } from '../../src/workflow';

export type Value = unknown;
export type Step =
  | { op: 'sleep'; seconds: number }
  | { op: 'activity'; activity_type: string; args?: Value[]; start_to_close_timeout: string; save_as?: string }
  | { op: 'wait_signal'; signal_name: string; save_as?: string }
  | { op: 'patched'; patch_id: string; then?: Step[]; else?: Step[] }
  | { op: 'complete'; result?: Value }
  | { op: 'continue_as_new'; workflow_type: string; input?: Value[] };

class Done {}

/** A workflow function that runs the script. */
export function scripted(script: Step[]): (...args: unknown[]) => Promise<unknown> {
  return async (...args: unknown[]) => {
    const vars = new Map<string, unknown>();
    const signals: { name: string; value: unknown }[] = [];
    // signals are buffered from the start of the run, whatever their name
    setDefaultSignalHandler((name: string, ...sargs: unknown[]) => {
      signals.push({ name, value: sargs.length ? sargs[0] : null });
    });
    const value = (v: Value): unknown => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.length === 1 && keys[0] === '$var') {
          if (!vars.has(o.$var as string)) throw new Error(`script: no variable ${o.$var}`);
          return vars.get(o.$var as string);
        }
        if (keys.length === 1 && keys[0] === '$arg') return args[o.$arg as number] ?? null;
      }
      if (Array.isArray(v)) return v.map(value);
      return v;
    };
    let result: unknown = null;
    const run = async (steps: Step[]): Promise<void> => {
      for (const s of steps) {
        switch (s.op) {
          case 'sleep':
            await sleep(s.seconds * 1000);
            break;
          case 'activity': {
            const acts = proxyActivities<Record<string, (...a: unknown[]) => Promise<unknown>>>({ startToCloseTimeout: s.start_to_close_timeout });
            const r = await acts[s.activity_type](...((value(s.args ?? []) as unknown[])));
            if (s.save_as) vars.set(s.save_as, r);
            break;
          }
          case 'wait_signal': {
            await condition(() => signals.some((x) => x.name === s.signal_name));
            const [got] = signals.splice(signals.findIndex((x) => x.name === s.signal_name), 1);
            if (s.save_as) vars.set(s.save_as, got.value);
            break;
          }
          case 'patched':
            await run(patched(s.patch_id) ? s.then ?? [] : s.else ?? []);
            break;
          case 'complete':
            result = value(s.result ?? null);
            throw new Done();
          case 'continue_as_new':
            await makeContinueAsNewFunc({ workflowType: s.workflow_type })(...((value(s.input ?? []) as unknown[])));
            break;
          default:
            throw new Error(`script: unknown op ${(s as { op: string }).op}`);
        }
      }
    };
    try {
      await run(script);
      throw new Error('script: ended without complete or continue_as_new');
    } catch (e) {
      if (!(e instanceof Done)) throw e;
    }
    return result;
  };
}

import { condition, defineSignal, proxyActivities, setHandler } from '../../../src/workflow';
import type { TestActivities } from '../activities';
const acts = proxyActivities<TestActivities>({ startToCloseTimeout: '10s' });
export const go = defineSignal('go');
/** v1: record "a", wait for "go", record "b". */
export async function versioned(key: string): Promise<string> {
  let ok = false;
  setHandler(go, () => {
    ok = true;
  });
  await acts.record(key, 'a');
  await condition(() => ok);
  await acts.record(key, 'b');
  return 'v1';
}

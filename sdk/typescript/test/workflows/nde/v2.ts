import { condition, defineSignal, proxyActivities, setHandler, sleep } from '../../../src/workflow';
import type { TestActivities } from '../activities';
const acts = proxyActivities<TestActivities>({ startToCloseTimeout: '10s' });
export const go = defineSignal('go');
/** v2, incompatible: a timer before the first activity. */
export async function versioned(key: string): Promise<string> {
  let ok = false;
  setHandler(go, () => {
    ok = true;
  });
  await sleep('1s');
  await acts.record(key, 'a');
  await condition(() => ok);
  await acts.record(key, 'b');
  return 'v2';
}

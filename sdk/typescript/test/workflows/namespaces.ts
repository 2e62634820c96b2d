/**
 * The workflow of test/e2e/namespaces.test.ts: it reports the namespace its
 * run sees (workflowInfo().namespace), the signal it got, and what the
 * activity it calls sees (which worker ran it, and the activity info's
 * namespace fields).
 */
import { condition, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '../../src/workflow';

export interface WhoAmI {
  worker: string;
  namespace: string;
  activityNamespace: string;
  workflowNamespace: string;
}

const { whoAmI } = proxyActivities<{ whoAmI(): Promise<WhoAmI> }>({ startToCloseTimeout: '10s' });

export const goSignal = defineSignal<[string]>('go');
export const namespaceQuery = defineQuery<string>('namespace');

export async function namespaceProbe(): Promise<{ namespace: string; signal: string; activity: WhoAmI }> {
  let signal: string | undefined;
  setHandler(goSignal, (v) => {
    signal = v;
  });
  setHandler(namespaceQuery, () => workflowInfo().namespace);
  await condition(() => signal !== undefined);
  const activity = await whoAmI();
  return { namespace: workflowInfo().namespace, signal: signal!, activity };
}

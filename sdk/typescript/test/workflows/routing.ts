/**
 * Workflows of the task routing tests (issue 12, test/e2e/routing.test.ts):
 * affinity (requiredCapabilities, pinToPreviousWorker), build-id
 * versioning (setWorkflowOptions, workflowInfo().currentBuildId), priority.
 */
import {
  condition, defineSignal, executeChild, proxyActivities, setHandler, setWorkflowOptions, workflowInfo,
} from '../../src/workflow';
import type { RoutingActivities } from './routing-activities';

const plain = proxyActivities<RoutingActivities>({ startToCloseTimeout: '20s' });
const onGpu = proxyActivities<RoutingActivities>({ startToCloseTimeout: '20s', requiredCapabilities: { gpu: true } });
const onSameWorker = proxyActivities<RoutingActivities>({ startToCloseTimeout: '20s', pinToPreviousWorker: true });

/** Where each activity ran: `gpu` n activities needing { gpu: true }; `pairs` n times an activity then one pinned to its worker. */
export async function affinity(n: number): Promise<{ gpu: string[]; pairs: string[][] }> {
  const gpu: string[] = [];
  for (let i = 0; i < n; i++) gpu.push(await onGpu.whoAmI());
  const pairs: string[][] = [];
  for (let i = 0; i < n; i++) {
    // the first of a pair goes to worker a or b by a capability only that worker has, the second follows it
    const first = await proxyActivities<RoutingActivities>({
      startToCloseTimeout: '20s', requiredCapabilities: { name: i % 2 ? 'a' : 'b' },
    }).whoAmI();
    const second = await onSameWorker.whoAmI();
    const third = await onSameWorker.whoAmI();
    pairs.push([first, second, third]);
  }
  return { gpu, pairs };
}

/** An activity no worker can take (it needs { tpu: true }): it waits in the queue, unmatched. */
export async function unmatchable(): Promise<string> {
  return await proxyActivities<RoutingActivities>({ startToCloseTimeout: '20s', requiredCapabilities: { tpu: true } }).whoAmI();
}

/** An activity pinned by name to a worker identity. */
export async function pinnedTo(identity: string): Promise<string> {
  return await proxyActivities<RoutingActivities>({ startToCloseTimeout: '20s', pinnedWorker: identity }).whoAmI();
}

export const go = defineSignal('go');

/** Waits for `go`, then returns the build it ran its last workflow task on. */
export async function waiter(): Promise<string | undefined> {
  const startedOn = workflowInfo().currentBuildId;
  let done = false;
  setHandler(go, () => {
    done = true;
  });
  await condition(() => done);
  return `${startedOn}->${workflowInfo().currentBuildId}`;
}

/** As waiter, AUTO_UPGRADE: moves to the task queue's current build at its next workflow task. */
export async function upgradingWaiter(): Promise<string | undefined> {
  return waiter();
}
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, upgradingWaiter);

/** As waiter, PINNED through a getter (called before the function first runs). */
export async function pinnedWaiter(): Promise<string | undefined> {
  return waiter();
}
setWorkflowOptions(() => ({ versioningBehavior: 'PINNED' }), pinnedWaiter);

/** The build the workflow runs on. */
export async function whichBuild(): Promise<string | undefined> {
  return workflowInfo().currentBuildId;
}

/** Its own priority, an activity's with priority 5, and a child's with priority 2 (fairness inherited). */
export async function priorities(childId: string): Promise<unknown> {
  const own = workflowInfo().priority;
  const activity = await proxyActivities<RoutingActivities>({ startToCloseTimeout: '20s', priority: { priorityKey: 5, fairnessKey: 'act' } })
    .myPriority();
  const inherited = await plain.myPriority();
  const child = await executeChild(childPriority, { workflowId: childId, priority: { priorityKey: 2 } });
  return { own, activity, inherited, child };
}

export async function childPriority(): Promise<unknown> {
  return workflowInfo().priority;
}

/** n activities at once: when each started. */
export async function stamps(n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => plain.stamp()));
}

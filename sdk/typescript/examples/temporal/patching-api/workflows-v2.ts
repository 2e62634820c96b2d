import { patched, proxyActivities, sleep } from '@temporalio/workflow';
import type * as activities from './activities';

const { activityB, activityA, activityThatMustRunAfterA } = proxyActivities<typeof activities>({ startToCloseTimeout: '30 seconds' });

// v2: new executions take the patched branch; executions of v1 replay the old one
export async function myWorkflow(): Promise<void> {
  if (patched('my-change-id')) {
    await activityB();
    await sleep('1 days');
  } else {
    await activityA();
    await sleep('1 days');
    await activityThatMustRunAfterA();
  }
}

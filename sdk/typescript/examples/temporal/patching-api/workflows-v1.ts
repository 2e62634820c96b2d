import { proxyActivities, sleep } from '@temporalio/workflow';
import type * as activities from './activities';

const { activityA, activityThatMustRunAfterA } = proxyActivities<typeof activities>({ startToCloseTimeout: '30 seconds' });

// v1: the code executions already running were started with
export async function myWorkflow(): Promise<void> {
  await activityA();
  await sleep('1 days');
  await activityThatMustRunAfterA();
}

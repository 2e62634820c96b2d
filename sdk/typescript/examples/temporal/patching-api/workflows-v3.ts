import { deprecatePatch, proxyActivities, sleep } from '@temporalio/workflow';
import type * as activities from './activities';

const { activityB } = proxyActivities<typeof activities>({ startToCloseTimeout: '30 seconds' });

// v3: once no v1 execution is open, only the new branch is left
export async function myWorkflow(): Promise<void> {
  deprecatePatch('my-change-id');
  await activityB();
  await sleep('1 days');
}

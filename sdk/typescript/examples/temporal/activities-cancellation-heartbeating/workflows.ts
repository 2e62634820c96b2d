import { ActivityCancellationType, isCancellation, proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities';

const { fakeProgress } = proxyActivities<typeof activities>({
  startToCloseTimeout: '60s',
  heartbeatTimeout: '3s',
  // the workflow sees the cancellation only once the activity has acknowledged it
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

export async function runCancellableActivity(): Promise<void> {
  try {
    await fakeProgress(200); // the sample uses the default of 1s
  } catch (err) {
    if (isCancellation(err)) {
      console.log('Workflow cancelled along with its activity');
    }
    throw err;
  }
}

import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';

/** Counts to 100, heartbeating its progress; resumes from the last heartbeat on a retry. */
export async function fakeProgress(sleepIntervalMs = 1000): Promise<void> {
  try {
    const startingPoint = Context.current().info.heartbeatDetails || 1;
    console.log('Starting activity at progress:', startingPoint);
    for (let progress = startingPoint; progress <= 100; ++progress) {
      // Context.sleep rejects with CancelledFailure once the activity is cancelled
      await Context.current().sleep(sleepIntervalMs);
      Context.current().heartbeat(progress);
    }
  } catch (err) {
    if (err instanceof CancelledFailure) {
      console.log('Fake progress activity cancelled');
    }
    throw err;
  }
}

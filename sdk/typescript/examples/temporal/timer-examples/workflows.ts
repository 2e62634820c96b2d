import { proxyActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from './activities';
export * from './updatable-timer';

const { processOrder, sendNotificationEmail } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '5 minutes',
});

export interface ProcessOrderOptions {
  orderProcessingMS: number;
  sendDelayedEmailTimeoutMS: number;
}

/** Notify the customer when processing their order takes longer than expected. */
export async function processOrderWorkflow({ orderProcessingMS, sendDelayedEmailTimeoutMS }: ProcessOrderOptions): Promise<void> {
  let processing = true;
  const processOrderPromise = processOrder(orderProcessingMS).then(() => {
    processing = false;
  });

  await Promise.race([processOrderPromise, sleep(sendDelayedEmailTimeoutMS)]);

  if (processing) {
    await sendNotificationEmail();
    await processOrderPromise;
  }
}

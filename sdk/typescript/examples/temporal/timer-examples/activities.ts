import { sleep } from '@temporalio/activity';

export function createActivities(notify: (message: string) => void) {
  return {
    async processOrder(ms: number): Promise<void> {
      await sleep(ms);
    },
    async sendNotificationEmail(): Promise<void> {
      notify('Your order is taking longer than expected: we are working on it');
    },
  };
}

/** A local activity written as Temporal code: through the @temporalio/workflow shim (test/e2e/local-activities.test.ts). */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { LocalActivityOptions } from '@temporalio/workflow';
import type { LocalActivities } from './local-activities';

const options: LocalActivityOptions = { startToCloseTimeout: '5s', localRetryThreshold: '10s' };
const { greet } = proxyLocalActivities<LocalActivities>(options);

export async function temporalLocal(name: string): Promise<string> {
  return greet(name, 7);
}

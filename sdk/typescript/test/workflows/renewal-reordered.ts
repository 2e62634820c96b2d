/** subscriptionRenewal changed incompatibly: extends before charging. */
import { proxyActivities } from '../../src/workflow';
import type { SubscriptionActivities } from '../../examples/subscription/activities';

const activities = proxyActivities<SubscriptionActivities>({ startToCloseTimeout: '30s' });

export async function subscriptionRenewal(customerId: string): Promise<void> {
  await activities.extendSubscription(customerId, '1-month');
  const charge = await activities.chargePaymentMethod(customerId);
  if (!charge.success) await activities.notifyPaymentFailed(customerId);
  await activities.sendRenewalConfirmation(customerId);
}

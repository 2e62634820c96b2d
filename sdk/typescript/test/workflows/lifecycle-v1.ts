/**
 * subscriptionLifecycle as it was before the fraud check was added (no
 * patched() call): histories it wrote must replay with the current code.
 */
import { CancellationScope, condition, defineQuery, defineSignal, proxyActivities, setHandler, sleep } from '../../src/workflow';
import type { SubscriptionActivities } from '../../examples/subscription/activities';

const activities = proxyActivities<SubscriptionActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidAccountError'] },
});
export const cancelSignal = defineSignal<[reason?: string]>('cancel');
export const getStatusQuery = defineQuery<unknown>('getStatus');

export async function subscriptionLifecycle(customerId: string, options: { period?: string | number; maxRenewals?: number } = {}): Promise<unknown> {
  const status = { customerId, state: 'starting', renewals: 0, nextRenewal: null as string | null, cancelReason: null as string | null };
  let cancelled = false;
  setHandler(cancelSignal, (reason?: string) => {
    cancelled = true;
    status.cancelReason = reason ?? null;
  });
  setHandler(getStatusQuery, () => status);
  const period = options.period ?? '30 days';
  for (;;) {
    status.state = 'renewing';
    const charge = await activities.chargePaymentMethod(customerId);
    if (!charge.success) {
      await activities.notifyPaymentFailed(customerId);
      status.state = 'payment_failed';
      return status;
    }
    try {
      await activities.extendSubscription(customerId, '1-month');
    } catch (err) {
      await activities.refundCharge(charge.transactionId);
      throw err;
    }
    await activities.sendRenewalConfirmation(customerId);
    status.renewals++;
    if (options.maxRenewals !== undefined && status.renewals >= options.maxRenewals) {
      status.state = 'done';
      return status;
    }
    status.state = 'waiting';
    await CancellationScope.cancellable(async () => {
      try {
        await Promise.race([sleep(period), condition(() => cancelled)]);
      } finally {
        CancellationScope.current().cancel();
      }
    });
    if (cancelled) {
      status.state = 'cancelled';
      return status;
    }
  }
}

/**
 * The subscription-renewal example of issue 3, written as a user would.
 * Workflow code: deterministic, no I/O; activities do the work.
 */
import {
  CancellationScope, condition, defineQuery, defineSignal, msToNumber, patched, proxyActivities, setHandler, sleep,
} from '../../src/workflow';
import type { SubscriptionActivities } from './activities';

const activities = proxyActivities<SubscriptionActivities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '60s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['InvalidAccountError'],
  },
});

export async function subscriptionRenewal(customerId: string): Promise<void> {
  const charge = await activities.chargePaymentMethod(customerId);
  if (!charge.success) { await activities.notifyPaymentFailed(customerId); return; }
  try {
    await activities.extendSubscription(customerId, "1-month");
  } catch (err) {
    await activities.refundCharge(charge.transactionId);   // compensation
    throw err;
  }
  await activities.sendRenewalConfirmation(customerId);
}

/* ----------------------------------------------------------------------
 * The long-running variant: renew, then wait 30 days for the next renewal
 * unless a `cancel` signal arrives first; `getStatus` tells where it is;
 * a fraud check added later is guarded by patched("add-fraud-check").
 */

export const cancelSignal = defineSignal<[reason?: string]>('cancel');

export interface SubscriptionStatus {
  customerId: string;
  state: 'starting' | 'renewing' | 'waiting' | 'cancelled' | 'payment_failed' | 'fraud_suspected' | 'done';
  renewals: number;
  nextRenewal: string | null;
  cancelReason: string | null;
}
export const getStatusQuery = defineQuery<SubscriptionStatus>('getStatus');

export interface SubscriptionOptions {
  /** Time between renewals (default "30 days"). */
  period?: string | number;
  /** Stop after this many renewals (default: never). */
  maxRenewals?: number;
}

export async function subscriptionLifecycle(customerId: string, options: SubscriptionOptions = {}): Promise<SubscriptionStatus> {
  const status: SubscriptionStatus = { customerId, state: 'starting', renewals: 0, nextRenewal: null, cancelReason: null };
  let cancelled = false;
  setHandler(cancelSignal, (reason?: string) => {
    cancelled = true;
    status.cancelReason = reason ?? null;
  });
  setHandler(getStatusQuery, () => status);

  const period = options.period ?? '30 days';
  for (;;) {
    status.state = 'renewing';
    if (patched('add-fraud-check')) {
      const ok = await activities.checkFraud(customerId);
      if (!ok) {
        status.state = 'fraud_suspected';
        return status;
      }
    }
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
    status.nextRenewal = new Date(Date.now() + msToNumber(period)).toISOString();  // deterministic Date
    // wait for the next renewal, unless cancelled first; then drop the loser
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

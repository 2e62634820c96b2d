/**
 * Activities of the subscription example.  They write to real tables in the
 * same database (see schema.sql), so a test can count how often each ran.
 *
 * Customer ids drive the outcomes, for the demo and the tests:
 *   invalid-*   chargePaymentMethod throws InvalidAccountError (non-retryable)
 *   declined-*  the charge is declined: { success: false }
 *   noext-*     extendSubscription fails for good: the charge is refunded
 *   flaky-*     extendSubscription fails twice, then succeeds (retries)
 *   fraud-*     checkFraud flags the customer
 *   slow-*      extendSubscription takes a second
 */
import pg from 'pg';
import { ApplicationFailure, Context } from '../../src';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS charges (
  transaction_id text PRIMARY KEY, customer_id text NOT NULL, amount_cents int NOT NULL,
  workflow_id text, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS refunds (
  transaction_id text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS subscriptions (
  customer_id text PRIMARY KEY, paid_until date NOT NULL, extensions int NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS notifications (
  id bigserial PRIMARY KEY, customer_id text NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS activity_runs (
  id bigserial PRIMARY KEY, workflow_id text, activity_id text, activity_type text, attempt int,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp());
`;

export interface ChargeResult {
  success: boolean;
  transactionId: string;
}

export function createActivities(pool: pg.Pool) {
  async function logRun(): Promise<void> {
    const i = Context.current().info;
    await pool.query('INSERT INTO activity_runs (workflow_id, activity_id, activity_type, attempt) VALUES ($1, $2, $3, $4)',
      [i.workflowId, i.activityId, i.activityType, i.attempt]);
  }

  return {
    async chargePaymentMethod(customerId: string): Promise<ChargeResult> {
      await logRun();
      const info = Context.current().info;
      if (customerId.startsWith('invalid-')) {
        throw ApplicationFailure.create({ message: `account of ${customerId} is closed`, type: 'InvalidAccountError' });
      }
      // idempotency key: one charge per workflow run and activity
      const transactionId = `tx-${info.runId}-${info.activityId}`;
      if (customerId.startsWith('declined-')) return { success: false, transactionId };
      await pool.query(
        `INSERT INTO charges (transaction_id, customer_id, amount_cents, workflow_id) VALUES ($1, $2, 999, $3)
         ON CONFLICT (transaction_id) DO NOTHING`,
        [transactionId, customerId, info.workflowId]);
      return { success: true, transactionId };
    },

    async extendSubscription(customerId: string, period: string): Promise<void> {
      await logRun();
      const ctx = Context.current();
      if (customerId.startsWith('noext-')) {
        throw ApplicationFailure.nonRetryable(`subscription service rejected ${customerId}`, 'ExtensionRejected');
      }
      if (customerId.startsWith('flaky-') && ctx.info.attempt < 3) {
        throw ApplicationFailure.retryable(`subscription service unavailable (attempt ${ctx.info.attempt})`, 'Unavailable');
      }
      if (customerId.startsWith('slow-')) await ctx.sleep(1000);
      const months = parseInt(period, 10) || 1;
      await pool.query(
        `INSERT INTO subscriptions (customer_id, paid_until, extensions) VALUES ($1, current_date + $2 * interval '1 month', 1)
         ON CONFLICT (customer_id) DO UPDATE SET paid_until = subscriptions.paid_until + $2 * interval '1 month',
           extensions = subscriptions.extensions + 1`, [customerId, months]);
    },

    async refundCharge(transactionId: string): Promise<void> {
      await logRun();
      await pool.query('INSERT INTO refunds (transaction_id) VALUES ($1) ON CONFLICT DO NOTHING', [transactionId]);
    },

    async notifyPaymentFailed(customerId: string): Promise<void> {
      await logRun();
      await pool.query("INSERT INTO notifications (customer_id, kind) VALUES ($1, 'payment_failed')", [customerId]);
    },

    async sendRenewalConfirmation(customerId: string): Promise<void> {
      await logRun();
      await pool.query("INSERT INTO notifications (customer_id, kind) VALUES ($1, 'renewed')", [customerId]);
    },

    async checkFraud(customerId: string): Promise<boolean> {
      await logRun();
      return !customerId.startsWith('fraud-');
    },
  };
}

export type SubscriptionActivities = ReturnType<typeof createActivities>;

/**
 * Activities of the orders example.  They write to real tables in the same
 * database, so the demo can count how often each ran.
 *
 * A warehouse's name drives the outcome, for the demo:
 *   flaky-*   packParcel fails on its first attempt (retried by the child's retry policy)
 */
import pg from 'pg';
import { ApplicationFailure, Context } from '../../src';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS order_payments (
  payment_id text PRIMARY KEY, order_id text NOT NULL, amount_cents int NOT NULL, workflow_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS order_reservations (
  workflow_id text NOT NULL, warehouse text NOT NULL, sku text NOT NULL, quantity int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (workflow_id, sku));
CREATE TABLE IF NOT EXISTS order_parcels (
  tracking_number text PRIMARY KEY, order_id text NOT NULL, warehouse text NOT NULL, workflow_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS order_activity_runs (
  id bigserial PRIMARY KEY, workflow_id text, activity_id text, activity_type text, attempt int,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp());
`;

export interface Line {
  sku: string;
  quantity: number;
  priceCents: number;
  warehouse: string;
}

export function createActivities(pool: pg.Pool) {
  async function logRun(): Promise<void> {
    const i = Context.current().info;
    await pool.query('INSERT INTO order_activity_runs (workflow_id, activity_id, activity_type, attempt) VALUES ($1, $2, $3, $4)',
      [i.workflowId, i.activityId, i.activityType, i.attempt]);
  }

  return {
    /** Charges the order's total once (idempotency key: the order's run): the payment id. */
    async chargeOrder(orderId: string, amountCents: number): Promise<string> {
      await logRun();
      const { workflowId, runId } = Context.current().info;
      const paymentId = `pay-${runId}`;
      await pool.query(
        `INSERT INTO order_payments (payment_id, order_id, amount_cents, workflow_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (payment_id) DO NOTHING`, [paymentId, orderId, amountCents, workflowId]);
      return paymentId;
    },

    /** Reserves the lines in the warehouse's stock (idempotent: one row per shipment and sku). */
    async reserveStock(warehouse: string, lines: Line[]): Promise<number> {
      await logRun();
      const { workflowId } = Context.current().info;
      for (const l of lines) {
        await pool.query(
          `INSERT INTO order_reservations (workflow_id, warehouse, sku, quantity) VALUES ($1, $2, $3, $4)
           ON CONFLICT (workflow_id, sku) DO NOTHING`, [workflowId, warehouse, l.sku, l.quantity]);
      }
      return lines.reduce((n, l) => n + l.quantity, 0);
    },

    /** Packs and hands the parcel to the carrier: its tracking number.  Takes half a second. */
    async packParcel(orderId: string, warehouse: string): Promise<string> {
      await logRun();
      const ctx = Context.current();
      await ctx.sleep(500);
      if (warehouse.startsWith('flaky-') && ctx.info.attempt < 2) {
        throw ApplicationFailure.retryable(`the label printer in ${warehouse} jammed (attempt ${ctx.info.attempt})`, 'PrinterJammed');
      }
      // idempotency key: one parcel per shipment workflow
      const tracking = `TRK-${warehouse}-${orderId}`.toUpperCase();
      await pool.query(
        `INSERT INTO order_parcels (tracking_number, order_id, warehouse, workflow_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tracking_number) DO NOTHING`, [tracking, orderId, warehouse, ctx.info.workflowId]);
      return tracking;
    },
  };
}

export type OrderActivities = ReturnType<typeof createActivities>;

"""Activities of the subscription example.  They write to real tables in the
same database (SCHEMA), so a test can count how often each ran; the tables are
those of the TypeScript example (sdk/typescript/examples/subscription/activities.ts).

Customer ids drive the outcomes, for the demo and the tests:
  invalid-*   chargePaymentMethod raises InvalidAccountError (non-retryable by the workflow's retry policy)
  declined-*  the charge is declined: {"success": False}
  noext-*     extendSubscription fails for good: the charge is refunded
  flaky-*     extendSubscription fails twice, then succeeds (retries)
  fraud-*     checkFraud flags the customer
  slow-*      extendSubscription takes a second
"""
import asyncio

import psycopg

from durable import activity
from durable.exceptions import ApplicationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
  transaction_id text PRIMARY KEY, customer_id text NOT NULL, amount_cents int NOT NULL,
  workflow_id text, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS refunds (
  transaction_id text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS subscriptions (
  customer_id text PRIMARY KEY, paid_until date NOT NULL, extensions int NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS notifications (
  id bigserial PRIMARY KEY, customer_id text NOT NULL, kind text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS activity_runs (
  id bigserial PRIMARY KEY, workflow_id text, activity_id text, activity_type text, attempt int,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp());
"""


async def create_schema(dsn):
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as c:
        # two workers starting at once: CREATE TABLE IF NOT EXISTS can still collide on the type
        await c.execute("SELECT pg_advisory_lock(hashtext('subscription example schema'))")
        await c.execute(SCHEMA)
        await c.execute("SELECT pg_advisory_unlock(hashtext('subscription example schema'))")


class SubscriptionActivities:
    """The activities, bound to one autocommit connection (psycopg runs its statements one at a time).

    ChargeResult is a dict {"success": bool, "transactionId": str}: the TypeScript example's shape, so
    that either SDK's workflow can read the other's activity results."""

    def __init__(self, conn: psycopg.AsyncConnection):
        self.conn = conn

    @classmethod
    async def connect(cls, dsn):
        return cls(await psycopg.AsyncConnection.connect(dsn, autocommit=True))

    async def close(self):
        await self.conn.close()

    def all(self):
        return [self.charge_payment_method, self.extend_subscription, self.refund_charge,
                self.notify_payment_failed, self.send_renewal_confirmation, self.check_fraud]

    async def _log_run(self):
        i = activity.info()
        await self.conn.execute(
            "INSERT INTO activity_runs (workflow_id, activity_id, activity_type, attempt) VALUES (%s, %s, %s, %s)",
            (i.workflow_id, i.activity_id, i.activity_type, i.attempt))

    @activity.defn(name="chargePaymentMethod")
    async def charge_payment_method(self, customer_id: str) -> dict:
        await self._log_run()
        info = activity.info()
        if customer_id.startswith("invalid-"):
            raise ApplicationError(f"account of {customer_id} is closed", type="InvalidAccountError")
        # idempotency key: one charge per workflow run and activity
        transaction_id = f"tx-{info.workflow_run_id}-{info.activity_id}"
        if customer_id.startswith("declined-"):
            return {"success": False, "transactionId": transaction_id}
        await self.conn.execute(
            "INSERT INTO charges (transaction_id, customer_id, amount_cents, workflow_id) VALUES (%s, %s, 999, %s) "
            "ON CONFLICT (transaction_id) DO NOTHING", (transaction_id, customer_id, info.workflow_id))
        return {"success": True, "transactionId": transaction_id}

    @activity.defn(name="extendSubscription")
    async def extend_subscription(self, customer_id: str, period: str) -> None:
        await self._log_run()
        attempt = activity.info().attempt
        if customer_id.startswith("noext-"):
            raise ApplicationError(f"subscription service rejected {customer_id}", type="ExtensionRejected",
                                   non_retryable=True)
        if customer_id.startswith("flaky-") and attempt < 3:
            raise ApplicationError(f"subscription service unavailable (attempt {attempt})", type="Unavailable")
        if customer_id.startswith("slow-"):
            await asyncio.sleep(1)
        digits = "".join(ch for ch in period.split("-")[0] if ch.isdigit())
        months = int(digits) if digits else 1
        await self.conn.execute(
            "INSERT INTO subscriptions (customer_id, paid_until, extensions) "
            "VALUES (%s, current_date + %s * interval '1 month', 1) "
            "ON CONFLICT (customer_id) DO UPDATE SET paid_until = subscriptions.paid_until + %s * interval '1 month', "
            "extensions = subscriptions.extensions + 1", (customer_id, months, months))

    @activity.defn(name="refundCharge")
    async def refund_charge(self, transaction_id: str) -> None:
        await self._log_run()
        await self.conn.execute("INSERT INTO refunds (transaction_id) VALUES (%s) ON CONFLICT DO NOTHING",
                                (transaction_id,))

    @activity.defn(name="notifyPaymentFailed")
    async def notify_payment_failed(self, customer_id: str) -> None:
        await self._log_run()
        await self.conn.execute("INSERT INTO notifications (customer_id, kind) VALUES (%s, 'payment_failed')",
                                (customer_id,))

    @activity.defn(name="sendRenewalConfirmation")
    async def send_renewal_confirmation(self, customer_id: str) -> None:
        await self._log_run()
        await self.conn.execute("INSERT INTO notifications (customer_id, kind) VALUES (%s, 'renewed')",
                                (customer_id,))

    @activity.defn(name="checkFraud")
    async def check_fraud(self, customer_id: str) -> bool:
        await self._log_run()
        return not customer_id.startswith("fraud-")

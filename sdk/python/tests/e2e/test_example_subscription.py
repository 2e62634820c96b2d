"""The Python subscription-renewal example (sdk/python/examples/subscription) against a real cluster:
its worker in this process, the cases of the TypeScript example's demo (sdk/typescript/examples/
subscription/demo.ts), outcomes from the client and effects from the activities' own tables."""
import asyncio
import os
import sys
import unittest

import psycopg

import harness

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))

from durable.client import Client  # noqa: E402
from durable.exceptions import WorkflowFailureError  # noqa: E402
from subscription.worker import run_worker  # noqa: E402
from subscription.workflows import SubscriptionLifecycle, SubscriptionRenewal  # noqa: E402

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

QUEUE = "subscriptions-test"

# customer -> (outcome: "completed" or the failure type, charge rows, refunds, notifications)
RENEWALS = {
    "alice": ("completed", 1, 0, ["renewed"]),
    # non-retryable by the retry policy's non_retryable_error_types: one attempt
    # https://docs.temporal.io/encyclopedia/retry-policies#non-retryable-errors
    "invalid-bob": ("InvalidAccountError", 0, 0, []),
    "declined-dave": ("completed", 0, 0, ["payment_failed"]),
    # ApplicationError(non_retryable=True) from the activity; the workflow compensates (saga), then fails
    # https://docs.temporal.io/develop/python/failure-detection#throw-from-activities
    "noext-carol": ("ExtensionRejected", 1, 1, []),
    # retried with backoff (1 s, 2 s): https://docs.temporal.io/encyclopedia/retry-policies
    "flaky-gina": ("completed", 1, 0, ["renewed"]),
    "slow-erin": ("completed", 1, 0, ["renewed"]),
}


def failure_type(e: WorkflowFailureError) -> str:
    """The innermost application failure's type: WorkflowFailureError <- ActivityError <- ApplicationError."""
    err = e.cause
    while getattr(err, "cause", None) is not None or err.__cause__ is not None:
        err = getattr(err, "cause", None) or err.__cause__
    return getattr(err, "type", type(err).__name__)


class SubscriptionExampleTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.stop = asyncio.Event()
        self.worker = asyncio.create_task(run_worker(CLUSTER.dsn, QUEUE, "py-example-worker", self.stop))
        self.client = await Client.connect(CLUSTER.dsn)
        self.db = await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True)
        for _ in range(100):   # the worker creates the example's tables
            if (await (await self.db.execute("SELECT to_regclass('activity_runs') IS NOT NULL")).fetchone())[0]:
                break
            await asyncio.sleep(0.05)

    async def asyncTearDown(self):
        self.stop.set()
        await asyncio.wait_for(self.worker, 30)
        await self.client.close()
        await self.db.close()

    async def one(self, sql, *args):
        return (await (await self.db.execute(sql, args)).fetchone())[0]

    async def test_renewals(self):
        handles = {c: await self.client.start_workflow(SubscriptionRenewal.run, c, id=f"renewal-{c}",
                                                       task_queue=QUEUE)
                   for c in RENEWALS}
        for c, (outcome, charges, refunds, notes) in RENEWALS.items():
            with self.subTest(customer=c):
                try:
                    await asyncio.wait_for(handles[c].result(), 60)
                    got = "completed"
                except WorkflowFailureError as e:
                    got = failure_type(e)
                self.assertEqual(got, outcome)
                wid = f"renewal-{c}"
                self.assertEqual(await self.one("SELECT count(*) FROM charges WHERE workflow_id = %s", wid), charges)
                self.assertEqual(await self.one(
                    "SELECT count(*) FROM refunds r JOIN charges ch USING (transaction_id) WHERE ch.workflow_id = %s",
                    wid), refunds)
                self.assertEqual(await self.one(
                    "SELECT coalesce(array_agg(kind ORDER BY id), '{}') FROM notifications WHERE customer_id = %s",
                    c), notes)
        self.assertEqual(await self.one("SELECT count(*) FROM activity_runs WHERE workflow_id = 'renewal-invalid-bob'"
                                        " AND activity_type = 'chargePaymentMethod'"), 1)
        self.assertEqual(await self.one("SELECT max(attempt) FROM activity_runs WHERE workflow_id = "
                                        "'renewal-flaky-gina' AND activity_type = 'extendSubscription'"), 3)
        # no activity ran again once its completion was in the history
        self.assertEqual(await self.one("""
            SELECT count(*) FROM activity_runs r
              JOIN durable.workflows w ON w.workflow_id = r.workflow_id
              JOIN durable.history s ON s.run_id = w.run_id AND s.event_type = 'ActivityTaskScheduled'
                                    AND s.attributes->>'activity_id' = r.activity_id
              JOIN durable.history h ON h.run_id = w.run_id AND h.event_type = 'ActivityTaskCompleted'
                                    AND (h.attributes->>'scheduled_event_id')::bigint = s.event_id
             WHERE r.workflow_id LIKE 'renewal-%%' AND r.started_at > h.event_time"""), 0)

    async def test_lifecycle_renews_on_a_timer_then_is_cancelled_by_signal(self):
        # signals and queries: https://docs.temporal.io/develop/python/message-passing
        # wait_condition with a timeout: temporalio/sdk-python temporalio/workflow.py (wait_condition)
        h = await self.client.start_workflow(SubscriptionLifecycle.run, args=["frank", {"period": "1s"}],
                                             id="lifecycle-frank", task_queue=QUEUE)
        for _ in range(200):
            st = await h.query(SubscriptionLifecycle.get_status)
            if st["renewals"] >= 2 and st["state"] == "waiting":
                break
            await asyncio.sleep(0.05)
        self.assertEqual(st["customerId"], "frank")
        self.assertGreaterEqual(st["renewals"], 2)
        self.assertRegex(st["nextRenewal"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        await h.signal(SubscriptionLifecycle.cancel, "moving abroad")
        res = await asyncio.wait_for(h.result(), 30)
        self.assertEqual(res["state"], "cancelled")
        self.assertEqual(res["cancelReason"], "moving abroad")
        self.assertEqual(await self.one("SELECT count(*) FROM charges WHERE workflow_id = 'lifecycle-frank'"),
                         res["renewals"])
        events = [r[0] for r in await (await self.db.execute(
            "SELECT event_type FROM durable.get_history('lifecycle-frank') ORDER BY event_id")).fetchall()]
        # the patch marker of add-fraud-check, a fraud check per renewal, the timer of each wait;
        # the last wait's timer is cancelled when the signal wins
        self.assertIn("MarkerRecorded", events)
        self.assertEqual(await self.one("SELECT count(*) FROM activity_runs WHERE workflow_id = 'lifecycle-frank' "
                                        "AND activity_type = 'checkFraud'"), res["renewals"])
        self.assertEqual(events.count("TimerFired"), res["renewals"] - 1)
        self.assertEqual(events.count("TimerCanceled") + events.count("TimerCancelled"), 1)
        self.assertNotIn("WorkflowTaskFailed", events)

    async def test_lifecycle_fraud_and_max_renewals(self):
        fraud = await self.client.execute_workflow(SubscriptionLifecycle.run, args=["fraud-hank", {"period": "1s"}],
                                                   id="lifecycle-fraud-hank", task_queue=QUEUE)
        self.assertEqual(fraud["state"], "fraud_suspected")
        self.assertEqual(await self.one("SELECT count(*) FROM charges WHERE customer_id = 'fraud-hank'"), 0)
        done = await self.client.execute_workflow(SubscriptionLifecycle.run,
                                                  args=["ivy", {"period": 300, "maxRenewals": 2}],
                                                  id="lifecycle-ivy", task_queue=QUEUE)
        self.assertEqual((done["state"], done["renewals"]), ("done", 2))
        self.assertEqual(await self.one("SELECT extensions FROM subscriptions WHERE customer_id = 'ivy'"), 2)


if __name__ == "__main__":
    unittest.main()

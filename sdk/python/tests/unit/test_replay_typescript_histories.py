"""Histories written by the TypeScript SDK's workers (sdk/typescript/test/fixtures, captured by
sdk/typescript/test/tools/capture-fixtures.ts from sdk/typescript/examples/subscription) replay
against the Python twin of that example (sdk/python/examples/subscription/workflows.py) without a
non-determinism error; a Python workflow changed incompatibly fails the replay.

Temporal's Replayer: https://docs.temporal.io/develop/python/testing-suite#replay
(temporalio/sdk-python temporalio/worker/_replayer.py); patching on replay:
https://docs.temporal.io/develop/python/versioning#patching
"""
import json
import os
import sys
import unittest
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "..", "typescript", "test", "fixtures")
sys.path.append(os.path.join(HERE, "..", "..", "examples"))

from durable import workflow  # noqa: E402
from durable.worker import Replayer  # noqa: E402
from subscription.workflows import SubscriptionLifecycle, SubscriptionRenewal  # noqa: E402


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


@workflow.defn(name="subscriptionRenewal")
class ReorderedRenewal:
    """subscriptionRenewal changed incompatibly: extends before charging (the TypeScript tests'
    sdk/typescript/test/workflows/renewal-reordered.ts)."""

    @workflow.run
    async def run(self, customer_id: str) -> None:
        opts = dict(start_to_close_timeout=timedelta(seconds=30))
        await workflow.execute_activity("extendSubscription", args=[customer_id, "1-month"], **opts)
        charge = await workflow.execute_activity("chargePaymentMethod", customer_id, **opts)
        if not charge["success"]:
            await workflow.execute_activity("notifyPaymentFailed", customer_id, **opts)
        await workflow.execute_activity("sendRenewalConfirmation", customer_id, **opts)


@unittest.skipUnless(os.path.isdir(FIXTURES), "no sdk/typescript/test/fixtures next to this SDK")
class ReplayTypeScriptHistoriesTest(unittest.IsolatedAsyncioTestCase):
    async def test_renewal_completed(self):
        r = await Replayer(workflows=[SubscriptionRenewal]).replay_workflow(fixture("renewal-completed"))
        self.assertIsNone(r.replay_failure)

    async def test_lifecycle_patched_then_cancelled_by_signal(self):
        # MarkerRecorded (add-fraud-check), five activities, a timer cancelled by the `cancel` signal
        h = fixture("lifecycle-patched-cancelled")
        self.assertIn("MarkerRecorded", [e["event_type"] for e in h])
        r = await Replayer(workflows=[SubscriptionLifecycle]).replay_workflow(h)
        self.assertIsNone(r.replay_failure)

    async def test_lifecycle_before_the_patch(self):
        # written by code without the fraud check: patched() is false on replay, no checkFraud expected
        h = fixture("lifecycle-v1-cancelled")
        self.assertNotIn("MarkerRecorded", [e["event_type"] for e in h])
        r = await Replayer(workflows=[SubscriptionLifecycle]).replay_workflow(h)
        self.assertIsNone(r.replay_failure)

    async def test_incompatible_change_fails_replay(self):
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[ReorderedRenewal]).replay_workflow(fixture("renewal-completed"))
        r = await Replayer(workflows=[ReorderedRenewal]).replay_workflow(fixture("renewal-completed"),
                                                                       raise_on_replay_failure=False)
        self.assertIsInstance(r.replay_failure, workflow.NondeterminismError)


if __name__ == "__main__":
    unittest.main()

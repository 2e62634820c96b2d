"""durable.worker.Replayer on histories a real worker wrote on a real
cluster (fetched with WorkflowHandle.fetch_history): the same code replays
them, a changed code raises workflow.NondeterminismError (Temporal
Python's Replayer, https://docs.temporal.io/develop/python/testing-suite#replay
and temporalio/sdk-python temporalio/worker/_replayer.py)."""
import asyncio
import json
import unittest
from datetime import timedelta
from types import SimpleNamespace

try:
    import harness
except ImportError:                 # run as tests.e2e.test_replayer from sdk/python
    from tests import harness

from durable import activity, workflow
from durable.client import WorkflowHistory
from durable.worker import Replayer

from ._e2e import E2EClient, events, queue, running

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

T = timedelta(seconds=5)


@activity.defn
async def charge(amount: int) -> str:
    return f"charged {amount}"


@activity.defn
async def ship(what: str) -> str:
    return f"shipped {what}"


@workflow.defn(name="Order")
class Order:
    def __init__(self):
        self.approved = None

    @workflow.signal
    def approve(self, by: str):
        self.approved = by

    @workflow.run
    async def run(self, amount: int) -> list:
        c = await workflow.execute_activity(charge, amount, start_to_close_timeout=T)
        await workflow.sleep(0.1)
        await workflow.wait_condition(lambda: self.approved is not None)
        s = await workflow.execute_activity(ship, "box", start_to_close_timeout=T)
        return [c, s, self.approved]


@workflow.defn(name="Order")
class OrderShipFirst:
    """A changed order of steps: not deterministic with Order's histories."""

    def __init__(self):
        self.approved = None

    @workflow.signal
    def approve(self, by: str):
        self.approved = by

    @workflow.run
    async def run(self, amount: int) -> list:
        s = await workflow.execute_activity(ship, "box", start_to_close_timeout=T)
        c = await workflow.execute_activity(charge, amount, start_to_close_timeout=T)
        await workflow.wait_condition(lambda: self.approved is not None)
        return [c, s, self.approved]


@workflow.defn(name="Order")
class OrderNoTimer:
    """The timer removed: the history's TimerStarted has no command."""

    def __init__(self):
        self.approved = None

    @workflow.signal
    def approve(self, by: str):
        self.approved = by

    @workflow.run
    async def run(self, amount: int) -> list:
        c = await workflow.execute_activity(charge, amount, start_to_close_timeout=T)
        await workflow.wait_condition(lambda: self.approved is not None)
        s = await workflow.execute_activity(ship, "box", start_to_close_timeout=T)
        return [c, s, self.approved]


class ReplayerTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.histories = asyncio.run(cls._record())

    @classmethod
    async def _record(cls):
        """One complete run and one still waiting for its signal, by a real worker."""
        c = E2EClient(CLUSTER.dsn)
        q = queue()
        try:
            async with running(c, task_queue=q, workflows=[Order], activities=[charge, ship]):
                done, _ = await c.start("Order", 5, task_queue=q)
                waiting, _ = await c.start("Order", 7, task_queue=q)
                await c.signal(done, "approve", "ann")
                assert await c.result(done) == ["charged 5", "shipped box", "ann"]
                await c.wait_event(waiting, "TimerFired")
                h = await c.wait_event(waiting, "WorkflowTaskCompleted", count=3)
            return {"done": await c.history(done), "waiting": h, "done_id": done,
                    "fetched": await c.get_workflow_handle(done).fetch_history()}
        finally:
            await c.close()

    async def test_same_code_replays(self):
        # temporalio/sdk-python temporalio/worker/_replayer.py replay_workflow: no error for a deterministic code
        r = Replayer(workflows=[Order])
        res = await r.replay_workflow(self.histories["done"])
        self.assertIsNone(res.replay_failure)
        await r.replay_workflow(self.histories["waiting"])          # an open run's history too
        # WorkflowHandle.fetch_history()'s WorkflowHistory as is, and through its JSON (temporalio/client.py
        # WorkflowHistory.to_json / from_json: histories saved for replay tests); a list as JSON text; any object
        # with .events
        fetched = self.histories["fetched"]
        self.assertEqual(fetched.workflow_id, self.histories["done_id"])
        await r.replay_workflow(fetched)
        await r.replay_workflow(WorkflowHistory.from_json(fetched.workflow_id, fetched.to_json()))
        await r.replay_workflow(json.dumps(self.histories["done"]))
        await r.replay_workflow(SimpleNamespace(events=self.histories["done"], workflow_id=self.histories["done_id"]))
        results = await r.replay_workflows([self.histories["done"], self.histories["waiting"]])
        self.assertEqual([x.replay_failure for x in results], [None, None])

    async def test_changed_code_raises_nondeterminism_error(self):
        # temporalio/sdk-python temporalio/worker/_replayer.py: a mismatch raises workflow.NondeterminismError
        # (or, with raise_on_replay_failure=False, is returned as WorkflowReplayResult.replay_failure)
        for changed in (OrderShipFirst, OrderNoTimer):
            with self.subTest(code=changed.__name__):
                r = Replayer(workflows=[changed])
                with self.assertRaises(workflow.NondeterminismError) as cm:
                    await r.replay_workflow(self.histories["done"])
                self.assertIsNotNone(cm.exception.event_id)
                res = await r.replay_workflow(self.histories["done"], raise_on_replay_failure=False)
                self.assertIsInstance(res.replay_failure, workflow.NondeterminismError)
        # the message names the event that does not match
        h = self.histories["done"]
        sched = events(h, "ActivityTaskScheduled")[0]
        with self.assertRaises(workflow.NondeterminismError) as cm:
            await Replayer(workflows=[OrderShipFirst]).replay_workflow(h)
        self.assertEqual(cm.exception.event_id, sched["event_id"])
        self.assertIn("ActivityTaskScheduled", str(cm.exception))
        with self.assertRaises(workflow.NondeterminismError) as cm:
            await Replayer(workflows=[OrderNoTimer]).replay_workflow(h)
        self.assertEqual(cm.exception.event_id, events(h, "TimerStarted")[0]["event_id"])

    async def test_unknown_workflow_type(self):
        # temporalio/sdk-python temporalio/worker/_replayer.py: the history's type must be among the workflows
        @workflow.defn(name="Other")
        class Other:
            @workflow.run
            async def run(self) -> None:
                return None

        with self.assertRaises(Exception) as cm:
            await Replayer(workflows=[Other]).replay_workflow(self.histories["done"])
        self.assertIn("Order", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

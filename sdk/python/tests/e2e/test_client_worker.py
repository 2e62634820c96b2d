"""The client against real Python workflows run by a durable.worker.Worker: references by class and
method, typed arguments and results, signals, queries, cancellation and failures as the caller sees them.

Temporal Python's client semantics asserted
(https://github.com/temporalio/sdk-python/blob/main/temporalio/client.py;
https://docs.temporal.io/develop/python/message-passing; https://docs.temporal.io/develop/python/cancellation):
signal and query by handler method, result decoded to the run method's return type, a workflow's
ApplicationError reaching the client as WorkflowFailureError's cause with its type, details and
non_retryable flag, a cancelled workflow as WorkflowFailureError caused by CancelledError.
"""

import asyncio
import unittest
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

try:  # sdk/python/tests/harness.py, with the tests directory on sys.path (unittest discover -t tests)
    import harness  # type: ignore[import-not-found]
except ImportError:  # run as the package tests.e2e (unittest discover -t .)
    from tests import harness  # type: ignore[no-redef]

from durable import activity, workflow
from durable.client import Client, WorkflowHistory
from durable.common import WorkflowExecutionStatus
from durable.exceptions import ApplicationError, CancelledError, WorkflowFailureError, WorkflowQueryFailedError
from durable.worker import Replayer, Worker

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop


@dataclass
class Request:
    name: str
    excited: bool = False


@dataclass
class Greeting:
    text: str
    approved_by: str


@activity.defn
async def compose(req: Request) -> str:
    return f"hello {req.name}" + ("!" if req.excited else "")


@workflow.defn(name="ClientGreeter")
class Greeter:
    def __init__(self) -> None:
        self.approver: Optional[str] = None

    @workflow.run
    async def run(self, req: Request) -> Greeting:
        await workflow.wait_condition(lambda: self.approver is not None)
        if self.approver == "nobody":
            raise ApplicationError("not approved", {"by": self.approver}, type="Rejected", non_retryable=True)
        text = await workflow.execute_activity(compose, req, start_to_close_timeout=timedelta(seconds=10))
        return Greeting(text, self.approver)

    @workflow.signal
    async def approve(self, who: str) -> None:
        self.approver = who

    @workflow.query
    def status(self) -> str:
        return "approved" if self.approver else "waiting"

    @workflow.query(name="fail")
    def failing(self) -> str:
        raise ApplicationError("cannot answer", type="QueryBroken")


class ClientWithWorkerTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await Client.connect(CLUSTER.dsn)
        self.queue = f"greeter-{uuid.uuid4().hex[:6]}"
        self.worker = Worker(self.client, task_queue=self.queue, workflows=[Greeter], activities=[compose],
                             poll_wait=timedelta(seconds=1))
        self.running = asyncio.ensure_future(self.worker.run())

    async def asyncTearDown(self):
        await self.worker.shutdown()
        await asyncio.wait_for(self.running, 30)
        await self.client.close()

    def new_id(self) -> str:
        return f"greet-{uuid.uuid4().hex[:8]}"

    async def test_signal_query_result(self):
        h = await self.client.start_workflow(Greeter.run, Request("ann", excited=True), id=self.new_id(),
                                             task_queue=self.queue)
        self.assertEqual(await h.query(Greeter.status), "waiting")
        await h.signal(Greeter.approve, "bob")
        result = await asyncio.wait_for(h.result(), 30)
        self.assertEqual(result, Greeting("hello ann!", "bob"))
        self.assertEqual(await h.query("status"), "approved")  # closed workflows answer too
        with self.assertRaises(WorkflowQueryFailedError) as cm:
            await h.query(Greeter.failing)
        self.assertEqual(cm.exception.__cause__.type, "QueryBroken")
        self.assertEqual((await h.describe()).status, WorkflowExecutionStatus.COMPLETED)
        # fetch_history's events replay (Temporal's Replayer.replay_workflow(await handle.fetch_history()))
        history = await h.fetch_history()
        self.assertEqual(history.events[-1]["event_type"], "WorkflowExecutionCompleted")
        await Replayer(workflows=[Greeter]).replay_workflow(history)
        await Replayer(workflows=[Greeter]).replay_workflow(WorkflowHistory.from_json(h.id, history.to_json()))

    async def test_signal_with_start_and_class_reference(self):
        h = await self.client.start_workflow(Greeter, Request("cy"), id=self.new_id(), task_queue=self.queue,
                                             start_signal=Greeter.approve, start_signal_args=["dee"])
        self.assertEqual(await asyncio.wait_for(h.result(), 30), Greeting("hello cy", "dee"))

    async def test_workflow_failure_reaches_the_client(self):
        h = await self.client.start_workflow(Greeter.run, Request("eve"), id=self.new_id(), task_queue=self.queue)
        await h.signal(Greeter.approve, "nobody")
        with self.assertRaises(WorkflowFailureError) as cm:
            await asyncio.wait_for(h.result(), 30)
        cause = cm.exception.cause
        self.assertIsInstance(cause, ApplicationError)
        self.assertEqual((cause.message, cause.type, cause.non_retryable, tuple(cause.details)),
                         ("not approved", "Rejected", True, ({"by": "nobody"},)))
        self.assertEqual(cm.exception.status, "failed")

    async def test_cancel_reaches_the_workflow(self):
        h = await self.client.start_workflow(Greeter.run, Request("fay"), id=self.new_id(), task_queue=self.queue)
        self.assertEqual(await h.query(Greeter.status), "waiting")  # its first task ran
        await h.cancel()
        with self.assertRaises(WorkflowFailureError) as cm:
            await asyncio.wait_for(h.result(), 30)
        self.assertIsInstance(cm.exception.cause, CancelledError)
        self.assertEqual(cm.exception.status, "canceled")


if __name__ == "__main__":
    unittest.main()

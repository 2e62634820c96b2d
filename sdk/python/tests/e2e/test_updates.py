"""Workflow updates, both sides, on a real cluster: @workflow.update handlers
(sync and async), validators, dynamic and run-time handlers,
current_update_info, all_handlers_finished, and the client's
execute_update / start_update / get_update_handle, asserted on results and
on the engine's history (WorkflowExecutionUpdateAccepted and ...Completed,
nothing for a rejection), and replayed (docs/protocol.md, "Updates" and
replay step 4.3).

Temporal's behaviour asserted: https://docs.temporal.io/develop/python/message-passing
("Updates", "Update validators", "Wait for message handlers to finish"),
https://docs.temporal.io/encyclopedia/workflow-message-passing#updates, and
temporalio/sdk-python temporalio/workflow.py (update, UpdateMethodMultiParam
.validator, current_update_info, all_handlers_finished,
HandlerUnfinishedPolicy) and temporalio/client.py (WorkflowHandle.execute_update,
start_update, get_update_handle, WorkflowUpdateHandle, WorkflowUpdateStage,
WorkflowUpdateFailedError, Client.execute_update_with_start_workflow, WithStartWorkflowOperation).
"""
import asyncio
import unittest
from dataclasses import dataclass
from datetime import timedelta

try:
    import harness
except ImportError:                 # run as tests.e2e.test_updates from sdk/python
    from tests import harness

from durable import activity, workflow
from durable.client import WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateStage
from durable.common import WorkflowIDConflictPolicy
from durable.exceptions import ApplicationError, WorkflowAlreadyStartedError, WorkflowNotRunningError
from durable.worker import Replayer

from ._e2e import E2EClient, events, queue, running, types

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

T = timedelta(seconds=5)


@activity.defn
async def double(x: int) -> int:
    return 2 * x


@dataclass
class Item:
    name: str
    qty: int


@workflow.defn
class Cart:
    def __init__(self):
        self.items = []
        self.done = False
        self.infos = []

    @workflow.run
    async def run(self) -> list:
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return [i.name for i in self.items]

    @workflow.update
    def add(self, item: Item) -> int:
        self.items.append(item)
        self.infos.append(workflow.current_update_info().name)
        return len(self.items)

    @add.validator
    def validate_add(self, item: Item) -> None:
        if item.qty <= 0:
            raise ApplicationError(f"bad quantity {item.qty}", type="BadQuantity")

    @workflow.update(name="priced")
    async def priced(self, qty: int) -> dict:
        info = workflow.current_update_info()
        v = await workflow.execute_activity(double, qty, start_to_close_timeout=T)
        return {"id": info.id, "name": info.name, "value": v}

    @workflow.update
    async def slow(self) -> str:
        await workflow.sleep(0.3)
        return "slow done"

    @workflow.update
    def fail(self, why: str) -> None:
        raise ApplicationError(why, {"k": 1}, type="UpdateFailed")

    @workflow.update
    async def finish(self) -> str:
        self.done = True
        return "bye"

    @workflow.query
    def infos_(self) -> list:
        return self.infos


@workflow.defn
class Dynamic:
    def __init__(self):
        self.seen = []

    @workflow.run
    async def run(self) -> list:
        workflow.set_update_handler("late", lambda x: f"late {x}", validator=self._no_negative)
        await workflow.wait_condition(lambda: "stop" in [s[0] for s in self.seen])
        return self.seen

    def _no_negative(self, x):
        if x < 0:
            raise ValueError("negative")

    @workflow.update(dynamic=True)
    def anything(self, name, *args):
        self.seen.append([name, list(args)])
        return name


@workflow.defn
class Abandons:
    def __init__(self):
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return "closed"

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.update
    async def hang(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def hang_quietly(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    async def busy(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def busy_quietly(self) -> None:
        await workflow.wait_condition(lambda: False)


class UpdateTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def worker(self, *workflows, **kw):
        return running(self.c, task_queue=self.q, workflows=list(workflows), activities=[double], **kw)

    async def _cart(self, **kw):
        async with self.worker(Cart, **kw):
            h = await self.c.start_workflow(Cart, id=f"cart-{self.q}", task_queue=self.q, task_timeout=10)
            # execute_update: result, decoded by the handler's return hint; dataclass args
            self.assertEqual(await h.execute_update(Cart.add, Item("apple", 2)), 1)
            self.assertEqual(await h.execute_update("add", Item("pear", 1), id="add-2"), 2)
            # an update id is applied once: the same id again returns the first outcome
            self.assertEqual(await h.execute_update(Cart.add, Item("plum", 1), id="add-2"), 2)
            # validator rejects: WorkflowUpdateFailedError with the validator's failure, no event
            with self.assertRaises(WorkflowUpdateFailedError) as cm:
                await h.execute_update(Cart.add, Item("none", 0), id="bad-qty")
            self.assertIsInstance(cm.exception.cause, ApplicationError)
            self.assertEqual(cm.exception.cause.type, "BadQuantity")
            # the handler raises ApplicationError: the update fails, the workflow goes on
            with self.assertRaises(WorkflowUpdateFailedError) as cm:
                await h.execute_update(Cart.fail, "nope")
            self.assertEqual((cm.exception.cause.type, cm.exception.cause.details), ("UpdateFailed", ({"k": 1},)))
            # no handler of that name: rejected
            with self.assertRaises(WorkflowUpdateFailedError) as cm:
                await h.execute_update("missing")
            self.assertIn("missing", cm.exception.cause.message)
            # an async handler running an activity; current_update_info
            r = await h.execute_update(Cart.priced, 21, id="priced-1")
            self.assertEqual(r, {"id": "priced-1", "name": "priced", "value": 42})
            # start_update waits for ACCEPTED; the handle's result() for the completion
            uh = await h.start_update(Cart.slow, wait_for_stage=WorkflowUpdateStage.ACCEPTED, id="slow-1")
            self.assertEqual((uh.id, uh.workflow_id, uh.name), ("slow-1", h.id, "slow"))
            hist = await self.c.history(h.id)
            self.assertIn("slow-1", [e["attributes"]["protocol_instance_id"]
                                     for e in events(hist, "WorkflowExecutionUpdateAccepted")])
            self.assertEqual(await h.get_update_handle("slow-1").result(), "slow done")
            self.assertEqual(await uh.result(), "slow done")
            done = await h.start_update(Cart.slow, wait_for_stage="completed", id="slow-2")
            self.assertEqual(await done.result(rpc_timeout=0), "slow done")    # known already: no call
            # a handle by id alone, for an update completed before
            self.assertEqual((await h.get_update_handle_for(Cart.priced, "priced-1").result())["value"], 42)
            self.assertEqual(await h.query(Cart.infos_), ["add", "add"])
            self.assertEqual(await h.execute_update(Cart.finish), "bye")
            self.assertEqual(await h.result(), ["apple", "pear"])
            # the workflow closed: updates are refused
            with self.assertRaises(WorkflowNotRunningError):
                await h.execute_update(Cart.add, Item("late", 1))
        hist = await self.c.history(h.id)
        acc = events(hist, "WorkflowExecutionUpdateAccepted")
        names = [e["attributes"]["accepted_request"]["input"]["name"] for e in acc]
        self.assertEqual(names, ["add", "add", "fail", "priced", "slow", "slow", "finish"])
        done = events(hist, "WorkflowExecutionUpdateCompleted")
        self.assertEqual(len(done), 7)
        fail = [e for e in done if e["attributes"]["meta"]["update_id"] == acc[2]["attributes"]["protocol_instance_id"]]
        self.assertEqual(fail[0]["attributes"]["outcome"]["failure"]["type"], "UpdateFailed")
        # a rejection writes nothing; no workflow task failed
        self.assertNotIn("bad-qty", [e["attributes"]["protocol_instance_id"] for e in acc])
        self.assertEqual(events(hist, "WorkflowTaskFailed"), [])
        # the history replays (accepted updates re-run at their place, step 4.3)
        await Replayer(workflows=[Cart]).replay_workflow(hist)
        return hist

    async def test_updates_sticky(self):
        await self._cart()

    async def test_updates_full_replay_each_task(self):
        # no cache: every task replays the whole history, accepted updates included
        await self._cart(max_cached_workflows=0)

    async def test_dynamic_and_runtime_handlers(self):
        async with self.worker(Dynamic):
            h = await self.c.start_workflow(Dynamic, id=f"dyn-{self.q}", task_queue=self.q)
            # the run method sets the "late" handler in the first task (an update that came with
            # that task would go to the dynamic handler, which exists when updates are applied)
            await self.c.wait_event(h.id, "WorkflowTaskCompleted")
            self.assertEqual(await h.execute_update("late", 3), "late 3")
            with self.assertRaises(WorkflowUpdateFailedError) as cm:
                await h.execute_update("late", -1)
            self.assertIn("negative", cm.exception.cause.message)
            self.assertEqual(await h.execute_update("whatever", args=[1, 2]), "whatever")
            self.assertEqual(await h.execute_update("stop"), "stop")
            self.assertEqual(await h.result(), [["whatever", [1, 2]], ["stop", []]])
        await Replayer(workflows=[Dynamic]).replay_workflow(await self.c.history(h.id))

    async def test_unfinished_handler_warns_and_its_caller_fails(self):
        # HandlerUnfinishedPolicy: WARN_AND_ABANDON logs a warning when the run
        # completes with the handler running; the update's caller gets an error
        async with self.worker(Abandons):
            h = await self.c.start_workflow(Abandons, id=f"ab-{self.q}", task_queue=self.q)
            uh = await h.start_update(Abandons.hang, id="h1")
            await h.start_update(Abandons.hang_quietly, id="h2")
            await h.signal(Abandons.busy)
            await h.signal(Abandons.busy_quietly)
            with self.assertLogs("durable.workflow", "WARNING") as logs:
                await h.signal(Abandons.proceed)
                self.assertEqual(await h.result(), "closed")
            out = "\n".join(logs.output)
            self.assertIn("update handlers still running: hang (id h1)", out)
            self.assertIn("signal handlers still running: busy.", out)
            self.assertNotIn("h2", out)
            self.assertNotIn("busy_quietly", out)
            with self.assertRaises(WorkflowNotRunningError):
                await uh.result()

    async def test_update_with_start(self):
        # Temporal's update-with-start (client.execute_update_with_start_workflow,
        # WithStartWorkflowOperation): starts the workflow unless it runs, then updates it
        wid = f"uws-{self.q}"
        async with self.worker(Cart):
            op = WithStartWorkflowOperation(Cart, id=wid, task_queue=self.q,
                                            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
            self.assertEqual(await self.c.execute_update_with_start_workflow(Cart.add, Item("fig", 1),
                                                                             start_workflow_operation=op), 1)
            first = await op.workflow_handle()
            op2 = WithStartWorkflowOperation(Cart, id=wid, task_queue=self.q, id_conflict_policy="use_existing")
            uh = await self.c.start_update_with_start_workflow(Cart.add, Item("date", 2), start_workflow_operation=op2)
            self.assertEqual(await uh.result(), 2)
            self.assertEqual((await op2.workflow_handle()).result_run_id, first.result_run_id)
            op3 = WithStartWorkflowOperation(Cart, id=wid, task_queue=self.q, id_conflict_policy="fail")
            with self.assertRaises(WorkflowAlreadyStartedError):
                await self.c.execute_update_with_start_workflow(Cart.add, Item("no", 1), start_workflow_operation=op3)
            with self.assertRaises(WorkflowAlreadyStartedError):
                await op3.workflow_handle()
            await first.execute_update(Cart.finish)
            self.assertEqual(await first.result(), ["fig", "date"])

    async def test_update_admitted_without_worker(self):
        # start_update(ADMITTED) returns while no worker runs; the worker later accepts and completes it
        h = await self.c.start_workflow(Cart, id=f"adm-{self.q}", task_queue=self.q)
        uh = await h.start_update(Cart.add, Item("kiwi", 3), wait_for_stage=WorkflowUpdateStage.ADMITTED, id="a1")
        async with self.worker(Cart):
            self.assertEqual(await uh.result(rpc_timeout=10), 1)
            await h.execute_update(Cart.finish)
            self.assertEqual(await h.result(), ["kiwi"])
        self.assertEqual(types(await self.c.history(h.id))[:6],
                         ["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
                          "WorkflowTaskCompleted", "WorkflowExecutionUpdateAccepted",
                          "WorkflowExecutionUpdateCompleted"])


if __name__ == "__main__":
    unittest.main()

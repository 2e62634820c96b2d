"""Updates and local activities written by one SDK replay on the other, both ways.

The same workflow (type InteropUpdates: update "add" with a validator,
update "compute" whose handler runs activity interopDouble "1" and a timer,
update "finish", query "items") is written in Python here and in
TypeScript in ts/u_workflows.js (run by ts/u_worker.js on the built
TypeScript SDK). Way 1: a TypeScript worker accepts and completes the first
updates and is stopped; a Python worker replays the TypeScript-written
history (accepted updates re-run at their place, docs/protocol.md replay
step 4.3), takes the next updates and completes the run. Way 2: the
reverse. Each complete history then replays on both SDKs' replayers.

The local activity workflow (type InteropLocal: local interopDouble seq 1,
activity interopDouble "2", local interopFlaky seq 3 that fails once with a
backoff past the local retry threshold, so timer "1" and seq 4, the signal
"go", local interopDouble seq 5) is switched between the SDKs while it
waits for the signal: the second SDK resolves seqs 1, 3 and 4 from the
first one's core_local_activity markers (docs/protocol.md, "Local
activities") and runs seq 5 itself.

Temporal: update handlers are workflow code and replay like it
(https://docs.temporal.io/encyclopedia/workflow-message-passing#updates,
https://docs.temporal.io/develop/python/message-passing); a history must
replay on any worker of the queue
(https://docs.temporal.io/workflow-execution#replays).

Needs node and the built TypeScript SDK (cd sdk/typescript && npm ci &&
npx tsc -p .); skipped without them.
"""
import asyncio
import json
import os
import unittest
from datetime import timedelta

try:
    import harness
except ImportError:                 # run as tests.e2e.test_interop_updates from sdk/python
    from tests import harness

from durable import activity, workflow
from durable.client import WorkflowUpdateFailedError
from durable.common import RetryPolicy
from durable.exceptions import ApplicationError
from durable.worker import Replayer

from ._e2e import E2EClient, TsWorker, events, queue, running, ts_replay, types

HERE = os.path.dirname(os.path.abspath(__file__))
TS_WORKER = os.path.join(HERE, "ts", "u_worker.js")

CLUSTER = harness.ModuleCluster()
tearDownModule = CLUSTER.stop


def setUpModule():
    harness.require_typescript_sdk()
    CLUSTER.start()




T = timedelta(seconds=5)


# ------------------------------------------------------------------ the Python side
@activity.defn(name="interopDouble")
async def interop_double(x: int) -> int:
    return 2 * x


@workflow.defn(name="InteropUpdates")
class InteropUpdates:
    def __init__(self):
        self.list = []
        self.done = False

    @workflow.run
    async def run(self, owner: str) -> dict:
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return {"owner": owner, "list": self.list}

    @workflow.update
    def add(self, item: str) -> int:
        self.list.append(item)
        return len(self.list)

    @add.validator
    def _validate_add(self, item: str) -> None:
        if not item:
            raise ApplicationError("empty item", type="EmptyItem")

    @workflow.update
    async def compute(self, x: int) -> dict:
        v = await workflow.execute_activity("interopDouble", x, start_to_close_timeout=T)   # activity "1", "2", ...
        await workflow.sleep(0.1)                                                          # a timer
        return {"v": v, "id": workflow.current_update_info().id}

    @workflow.update
    def finish(self) -> int:
        self.done = True
        return len(self.list)

    @workflow.query
    def items(self) -> list:
        return self.list


FLAKY: dict = {}


@activity.defn(name="interopFlaky")
async def interop_flaky(key: str, failures: int) -> str:
    n = FLAKY[key] = FLAKY.get(key, 0) + 1
    if n <= failures:
        raise ApplicationError(f"attempt {n} fails", type="Flaky")
    return f"ok after {n}"


LOCAL = dict(start_to_close_timeout=T, local_retry_threshold=timedelta(milliseconds=100),
             retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0))


@workflow.defn(name="InteropLocal")
class InteropLocal:
    def __init__(self):
        self.going = False

    @workflow.signal
    def go(self):
        self.going = True

    @workflow.run
    async def run(self, key: str) -> list:
        a = await workflow.execute_local_activity("interopDouble", 3, **LOCAL)                  # local, seq 1
        b = await workflow.execute_activity("interopDouble", a, start_to_close_timeout=T)      # activity "2"
        c = await workflow.execute_local_activity("interopFlaky", args=[key, 1], **LOCAL)      # seq 3, timer, seq 4
        await workflow.wait_condition(lambda: self.going)
        d = await workflow.execute_local_activity("interopDouble", len(c), **LOCAL)            # local, seq 5
        return [a, b, c, d]


@workflow.defn(name="InteropUpdates")
class InteropUpdatesChanged:
    """The Python side without the activity in "compute": a replayer must refuse the histories."""

    def __init__(self):
        self.done = False

    @workflow.run
    async def run(self, owner: str) -> dict:
        await workflow.wait_condition(lambda: self.done)
        return {}

    @workflow.update
    def add(self, item: str) -> int:
        return 0

    @workflow.update
    async def compute(self, x: int) -> dict:
        await workflow.sleep(0.1)
        return {}

    @workflow.update
    def finish(self) -> int:
        self.done = True
        return 0


# ------------------------------------------------------------------ the TypeScript side


class InteropUpdatesTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def python_worker(self):
        return running(self.c, task_queue=self.q, workflows=[InteropUpdates, InteropLocal],
                       activities=[interop_double, interop_flaky], identity="py-worker")

    async def first_half(self, h):
        self.assertEqual(await h.execute_update("add", "a"), 1)
        with self.assertRaises(WorkflowUpdateFailedError) as cm:
            await h.execute_update("add", "")
        self.assertEqual(cm.exception.cause.type, "EmptyItem")
        self.assertEqual(await h.execute_update("compute", 5, id="c1"), {"v": 10, "id": "c1"})

    async def second_half(self, h):
        self.assertEqual(await h.query("items"), ["a"])          # the other SDK's history, replayed
        self.assertEqual(await h.execute_update("add", "b"), 2)
        self.assertEqual(await h.execute_update("compute", 7, id="c2"), {"v": 14, "id": "c2"})
        self.assertEqual(await h.execute_update("finish"), 2)
        self.assertEqual(await h.result(), {"owner": "ann", "list": ["a", "b"]})

    async def check(self, h, first: str, second: str):
        hist = await self.c.history(h.id)
        acc = events(hist, "WorkflowExecutionUpdateAccepted")
        self.assertEqual([e["attributes"]["accepted_request"]["input"]["name"] for e in acc],
                         ["add", "compute", "add", "compute", "finish"])
        self.assertEqual(len(events(hist, "WorkflowExecutionUpdateCompleted")), 5)
        self.assertEqual([e["attributes"]["activity_id"] for e in events(hist, "ActivityTaskScheduled")], ["1", "2"])
        self.assertEqual([e["attributes"]["timer_id"] for e in events(hist, "TimerStarted")], ["1", "2"])
        self.assertEqual({e["attributes"]["identity"] for e in events(hist, "WorkflowTaskCompleted")}, {first, second})
        self.assertNotIn("WorkflowTaskFailed", types(hist))
        await Replayer(workflows=[InteropUpdates]).replay_workflow(hist)
        ok, out = await ts_replay(TS_WORKER, hist)
        self.assertTrue(ok, out)
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[InteropUpdatesChanged]).replay_workflow(hist)
        bad = json.loads(json.dumps(hist))
        events(bad, "WorkflowExecutionUpdateAccepted")[1]["attributes"]["accepted_request"]["input"]["name"] = "other"
        ok, out = await ts_replay(TS_WORKER, bad)
        self.assertFalse(ok, out)
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[InteropUpdates]).replay_workflow(bad)

    async def test_way1_typescript_starts_python_finishes(self):
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            h = await self.c.start_workflow("InteropUpdates", "ann", id=f"iu1-{self.q}", task_queue=self.q)
            await self.first_half(h)
        async with self.python_worker():
            await self.second_half(h)
        await self.check(h, "ts-worker", "py-worker")

    async def test_way2_python_starts_typescript_finishes(self):
        async with self.python_worker():
            h = await self.c.start_workflow("InteropUpdates", "ann", id=f"iu2-{self.q}", task_queue=self.q)
            await self.first_half(h)
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            await self.second_half(h)
        await self.check(h, "py-worker", "ts-worker")


    # -------------------------------------------------------------- local activities
    async def local_until_signal_wait(self, key):
        h = await self.c.start_workflow("InteropLocal", key, id=f"il-{key}", task_queue=self.q)
        for _ in range(400):
            hist = await self.c.history(h.id)
            # the task that resolved seq 4 completed with its marker and now waits for "go"
            if len(events(hist, "MarkerRecorded")) == 3 and types(hist)[-1] == "MarkerRecorded":
                return h
            await asyncio.sleep(0.05)
        self.fail(f"InteropLocal did not reach its signal wait: {types(hist)}")

    async def check_local(self, h, key, first: str, second: str):
        self.assertEqual(await h.result(), [6, 12, "ok after 2", 20])
        hist = await self.c.history(h.id)
        m = [e["attributes"] for e in events(hist, "MarkerRecorded")]
        self.assertEqual([(a["marker_name"], a["details"]["seq"], a["details"]["activity_id"], a["details"]["attempt"],
                           a["details"]["backoff"]) for a in m],
                         [("core_local_activity", 1, "1", 1, None), ("core_local_activity", 3, "3", 1, "0.2s"),
                          ("core_local_activity", 4, "4", 2, None), ("core_local_activity", 5, "5", 1, None)])
        self.assertEqual(m[2]["details"]["original_schedule_time"], m[1]["details"]["original_schedule_time"])
        self.assertEqual([e["attributes"]["activity_id"] for e in events(hist, "ActivityTaskScheduled")], ["2"])
        self.assertEqual([e["attributes"]["timer_id"] for e in events(hist, "TimerStarted")], ["1"])
        self.assertEqual({e["attributes"]["identity"] for e in events(hist, "WorkflowTaskCompleted")}, {first, second})
        self.assertNotIn("WorkflowTaskFailed", types(hist))
        await Replayer(workflows=[InteropLocal]).replay_workflow(hist)
        ok, out = await ts_replay(TS_WORKER, hist)
        self.assertTrue(ok, out)
        bad = json.loads(json.dumps(hist))
        events(bad, "MarkerRecorded")[1]["attributes"]["details"]["activity_type"] = "other"
        ok, out = await ts_replay(TS_WORKER, bad)
        self.assertFalse(ok, out)
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[InteropLocal]).replay_workflow(bad)

    async def test_local_way1_typescript_starts_python_finishes(self):
        key = f"l1-{self.q}"
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            h = await self.local_until_signal_wait(key)
        async with self.python_worker():
            await h.signal("go")
            await self.check_local(h, key, "ts-worker", "py-worker")

    async def test_local_way2_python_starts_typescript_finishes(self):
        key = f"l2-{self.q}"
        async with self.python_worker():
            h = await self.local_until_signal_wait(key)
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            await h.signal("go")
            await self.check_local(h, key, "py-worker", "ts-worker")


if __name__ == "__main__":
    unittest.main()

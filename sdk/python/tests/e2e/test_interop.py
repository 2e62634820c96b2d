"""A Python workflow and a TypeScript workflow are interchangeable at the
history level, both ways.

The same workflow (type InteropOrder: a patch marker, activity
interopGreet "1", activity interopCheck "2" that fails with a
non-retryable ApplicationError the workflow catches, a timer "1", the
signal "approve", activity interopShip "3", a result; and the query
"stage") is written in Python here and in TypeScript in ts/workflows.js
(run by ts/worker.js on the built TypeScript SDK, sdk/typescript/dist).
Way 1: a TypeScript worker runs it until it waits for the signal and is
stopped; a Python worker replays the TypeScript-written history, answers a
query from it and completes the run. Way 2: the reverse. Each complete
history then replays on both SDKs' replayers.

Temporal's equivalent guarantee: workflows of one type may be moved between
workers as long as the commands match the history
(https://docs.temporal.io/workflows#deterministic-constraints, and
https://docs.temporal.io/develop/python/testing-suite#replay for the
replayer); durable's wire contract for it is docs/protocol.md
("Conventions workers share": ids, arguments, patches).

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
except ImportError:                 # run as tests.e2e.test_interop from sdk/python
    from tests import harness

from durable import activity, workflow
from durable.exceptions import ActivityError, ApplicationError
from durable.worker import Replayer

from ._e2e import E2EClient, TsWorker, events, queue, running, ts_replay, types

HERE = os.path.dirname(os.path.abspath(__file__))
TS_WORKER = os.path.join(HERE, "ts", "worker.js")

CLUSTER = harness.ModuleCluster()
tearDownModule = CLUSTER.stop


def setUpModule():
    harness.require_typescript_sdk()
    CLUSTER.start()




T = timedelta(seconds=5)


# ------------------------------------------------------------------ the Python side
@activity.defn(name="interopGreet")
async def interop_greet(name: str) -> str:
    return f"hello {name}"


@activity.defn(name="interopCheck")
async def interop_check(greeting: str) -> None:
    raise ApplicationError(f"rejected: {greeting}", "why", {"code": 7}, type="Rejected", non_retryable=True)


@activity.defn(name="interopShip")
async def interop_ship(greeting: str, by: str) -> str:
    return f"{greeting}, shipped (approved by {by})"


@workflow.defn(name="InteropOrder")
class InteropOrder:
    def __init__(self):
        self.by = None
        self.at = "greeting"

    @workflow.signal
    def approve(self, who: str):
        self.by = who

    @workflow.query
    def stage(self) -> str:
        return self.at

    @workflow.run
    async def run(self, name: str) -> dict:
        patched = workflow.patched("interop-patch")                                               # core_patch
        greeting = await workflow.execute_activity("interopGreet", name, start_to_close_timeout=T)   # activity "1"
        rejected = None
        try:
            await workflow.execute_activity("interopCheck", greeting, start_to_close_timeout=T)      # activity "2"
        except ActivityError as e:
            c = e.cause
            rejected = {"activityFailure": True, "type": c.type, "message": c.message, "details": list(c.details),
                        "nonRetryable": c.non_retryable}
        self.at = "sleeping"
        await workflow.sleep(0.2)                                                                    # timer "1"
        self.at = "waiting"
        await workflow.wait_condition(lambda: self.by is not None)                                  # "approve"
        self.at = "shipping"
        shipped = await workflow.execute_activity("interopShip", args=[greeting, self.by],
                                                  start_to_close_timeout=T)                          # activity "3"
        return {"greeting": greeting, "shipped": shipped, "approvedBy": self.by, "patched": patched,
                "rejected": rejected}


def expected(name, by):
    return {"greeting": f"hello {name}", "shipped": f"hello {name}, shipped (approved by {by})", "approvedBy": by,
            "patched": True,
            "rejected": {"activityFailure": True, "type": "Rejected", "message": f"rejected: hello {name}",
                         "details": ["why", {"code": 7}], "nonRetryable": True}}


# ------------------------------------------------------------------ the TypeScript side


@workflow.defn(name="InteropOrder")
class InteropOrderChanged:
    """The Python side with its steps swapped: a replayer must refuse the histories."""

    @workflow.signal
    def approve(self, who: str):
        pass

    @workflow.run
    async def run(self, name: str) -> dict:
        await workflow.sleep(0.2)
        await workflow.execute_activity("interopGreet", name, start_to_close_timeout=T)
        return {}


class InteropTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def python_worker(self, identity="py-worker"):
        return running(self.c, task_queue=self.q, workflows=[InteropOrder], activities=[interop_greet, interop_check, interop_ship],
                       identity=identity)

    async def wait_for_signal_wait(self, wid):
        """Until the run waits for "approve": its timer fired and the task after it completed."""
        h = await self.c.wait_event(wid, "TimerFired", timeout=20)
        for _ in range(400):
            t = types(h)
            if t[-1] == "WorkflowTaskCompleted" and t.index("TimerFired") < len(t) - 1:
                break
            await asyncio.sleep(0.05)
            h = await self.c.history(wid)
        return h

    async def check_history(self, h, first: str, second: str, name: str, by: str):
        sched = events(h, "ActivityTaskScheduled")
        self.assertEqual([(e["attributes"]["activity_id"], e["attributes"]["activity_type"], e["attributes"]["input"])
                          for e in sched],
                         [("1", "interopGreet", [name]), ("2", "interopCheck", [f"hello {name}"]),
                          ("3", "interopShip", [f"hello {name}", by])])
        m = events(h, "MarkerRecorded")
        self.assertEqual([(e["attributes"]["marker_name"], e["attributes"]["details"]["patch_id"]) for e in m],
                         [("core_patch", "interop-patch")])
        f = events(h, "ActivityTaskFailed")[0]["attributes"]["failure"]
        self.assertEqual((f["type"], f["non_retryable"], f["details"]), ("Rejected", True, ["why", {"code": 7}]))
        self.assertEqual([e["attributes"]["timer_id"] for e in events(h, "TimerStarted")], ["1"])
        self.assertEqual([e["attributes"]["identity"] for e in events(h, "ActivityTaskStarted")], [first, first, second])
        wtc = {e["attributes"]["identity"] for e in events(h, "WorkflowTaskCompleted")}
        self.assertEqual(wtc, {first, second})
        self.assertNotIn("WorkflowTaskFailed", types(h))
        self.assertEqual(types(h)[-1], "WorkflowExecutionCompleted")
        self.assertEqual(h[-1]["attributes"]["result"], expected(name, by))

    async def check_replays(self, h):
        # the Python replayer and the TypeScript replayer both accept the mixed history ...
        await Replayer(workflows=[InteropOrder]).replay_workflow(h)
        ok, out = await ts_replay(TS_WORKER, h)
        self.assertTrue(ok, out)
        # ... and refuse it for changed code
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[InteropOrderChanged]).replay_workflow(h)
        # ... or a history that does not match the code (so the TypeScript replay above is no formality)
        bad = json.loads(json.dumps(h))
        events(bad, "ActivityTaskScheduled")[0]["attributes"]["activity_type"] = "somethingElse"
        ok, out = await ts_replay(TS_WORKER, bad)
        self.assertFalse(ok, out)
        self.assertIn("nondetermin", out.lower())
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[InteropOrder]).replay_workflow(bad)

    async def test_way1_typescript_starts_python_finishes(self):
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            wid, _ = await self.c.start("InteropOrder", "ann", task_queue=self.q)
            await self.wait_for_signal_wait(wid)
            self.assertEqual(await self.c.query(wid, "stage"), "waiting")      # answered by TypeScript
        async with self.python_worker():
            # a Python replay of the TypeScript-written history answers the query ...
            self.assertEqual(await self.c.query(wid, "stage"), "waiting")
            # ... and goes on from where TypeScript stopped
            await self.c.signal(wid, "approve", "bob")
            self.assertEqual(await self.c.result(wid), expected("ann", "bob"))
        h = await self.c.history(wid)
        await self.check_history(h, "ts-worker", "py-worker", "ann", "bob")
        await self.check_replays(h)

    async def test_way2_python_starts_typescript_finishes(self):
        async with self.python_worker():
            wid, _ = await self.c.start("InteropOrder", "cy", task_queue=self.q)
            await self.wait_for_signal_wait(wid)
            self.assertEqual(await self.c.query(wid, "stage"), "waiting")      # answered by Python
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            self.assertEqual(await self.c.query(wid, "stage"), "waiting")      # TypeScript replays Python's history
            await self.c.signal(wid, "approve", "dee")
            self.assertEqual(await self.c.result(wid), expected("cy", "dee"))
        h = await self.c.history(wid)
        await self.check_history(h, "py-worker", "ts-worker", "cy", "dee")
        await self.check_replays(h)

    async def test_whole_runs_replay_on_the_other_sdk(self):
        # a run written entirely by one SDK replays on the other's replayer
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            w_ts, _ = await self.c.start("InteropOrder", "eve", task_queue=self.q)
            await self.c.signal(w_ts, "approve", "fay")
            self.assertEqual(await self.c.result(w_ts), expected("eve", "fay"))
        async with self.python_worker():
            w_py, _ = await self.c.start("InteropOrder", "gus", task_queue=self.q)
            await self.c.signal(w_py, "approve", "hal")
            self.assertEqual(await self.c.result(w_py), expected("gus", "hal"))
        h_ts, h_py = await self.c.history(w_ts), await self.c.history(w_py)
        await Replayer(workflows=[InteropOrder]).replay_workflow(h_ts)
        ok, out = await ts_replay(TS_WORKER, h_py)
        self.assertTrue(ok, out)


if __name__ == "__main__":
    unittest.main()

"""Child workflows and external handles are interchangeable between the
TypeScript and the Python SDK at the history level, both ways.

The same workflows (InteropFamily: a child InteropKid with the default id
(uuid4()), a wait for the signal "proceed", a signal to the child, its
result, a failing child InteropFailingKid, a signal to another workflow, a
cancel of a workflow that does not exist, a child cancelled with
WAIT_CANCELLATION_COMPLETED) are written in Python here and in TypeScript
in ts/children_workflows.js (run by ts/children_worker.js on the built
TypeScript SDK). Way 1: a TypeScript worker runs the family until it waits
for "proceed" and is stopped; a Python worker replays the TypeScript-written
histories (the family's and its first child's) and finishes them. Way 2: the
reverse. Every history then replays on both SDKs' replayers, and a history
changed to another child type fails both.

Temporal's equivalent guarantee: workflows of one type may move between
workers as long as the commands match the history
(https://docs.temporal.io/workflows#deterministic-constraints); child
workflows: https://docs.temporal.io/develop/python/child-workflows and
@temporalio/workflow's startChild/getExternalWorkflowHandle
(temporalio/sdk-typescript packages/workflow/src/workflow.ts); durable's
wire contract: docs/protocol.md "Child workflows", "Signals and cancels to
other workflows", "Conventions workers share".

Needs node and the built TypeScript SDK (cd sdk/typescript && npm ci &&
npx tsc -p .); skipped without them.
"""
import asyncio
import json
import os
import unittest

try:
    import harness
except ImportError:                 # run as tests.e2e.test_interop_children from sdk/python
    from tests import harness

from durable import workflow
from durable._runtime import COMMAND_EVENTS, _Sfc32
from durable.exceptions import ApplicationError, ChildWorkflowError
from durable.worker import Replayer

from ._e2e import E2EClient, TsWorker, events, queue, running, ts_replay, types

HERE = os.path.dirname(os.path.abspath(__file__))
TS_WORKER = os.path.join(HERE, "ts", "children_worker.js")

CLUSTER = harness.ModuleCluster()
tearDownModule = CLUSTER.stop


def setUpModule():
    harness.require_typescript_sdk()
    CLUSTER.start()




# ------------------------------------------------------------------ the Python side
@workflow.defn(name="InteropKid")
class InteropKid:
    def __init__(self):
        self.got = None

    @workflow.signal
    def poke(self, v):
        if self.got is None:
            self.got = v

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: self.got is not None)
        return f"{name} got {self.got}"


@workflow.defn(name="InteropFailingKid")
class InteropFailingKid:
    @workflow.run
    async def run(self, why: str) -> None:
        raise ApplicationError(f"kid says {why}", {"code": 5}, type="KidBroke", non_retryable=True)


@workflow.defn(name="InteropFamily")
class InteropFamily:
    def __init__(self):
        self.go = False

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.run
    async def run(self, name: str) -> dict:
        wid = workflow.info().workflow_id
        kid = await workflow.start_child_workflow("InteropKid", name)                    # default id: uuid4()
        await workflow.wait_condition(lambda: self.go)                                   # workers may switch here
        await kid.signal("poke", "hello")
        kid_result = await kid
        failed = None
        try:
            await workflow.execute_child_workflow("InteropFailingKid", "no", id=f"{wid}-f")
        except ChildWorkflowError as e:
            failed = {"error": "ChildWorkflowFailure", "type": e.cause.type, "message": e.cause.message,
                      "details": list(e.cause.details)}
        await workflow.get_external_workflow_handle(f"{wid}-target").signal("poke", "from family")
        missing = None
        try:
            await workflow.get_external_workflow_handle(f"{wid}-missing").cancel()
        except ApplicationError as e:
            missing = e.message
        kid2 = await workflow.start_child_workflow("InteropKid", "never", id=f"{wid}-c")
        kid2.cancel()                                                                    # WAIT_CANCELLATION_COMPLETED
        cancelled = None
        try:
            await kid2
        except ChildWorkflowError as e:
            cancelled = {"error": "ChildWorkflowFailure", "message": e.cause.message}
        return {"kid": kid.id, "kidResult": kid_result, "failed": failed, "missing": missing, "cancelled": cancelled}


@workflow.defn(name="InteropFamily")
class InteropFamilyChanged:
    """Starts its first child with another type: a replayer must refuse the histories."""

    @workflow.signal
    def proceed(self):
        pass

    @workflow.run
    async def run(self, name: str) -> dict:
        await workflow.execute_child_workflow("InteropFailingKid", name)
        return {}


@workflow.defn(name="InteropCancelTypes")
class InteropCancelTypes:
    @workflow.run
    async def run(self, ctype: str) -> dict:
        wid = workflow.info().workflow_id
        kid = await workflow.start_child_workflow("InteropKid", ctype, id=f"{wid}-k", cancellation_type=ctype,
                                                  parent_close_policy=workflow.ParentClosePolicy.ABANDON)
        kid.cancel()
        out = None
        try:
            await kid
        except ChildWorkflowError as e:
            out = {"error": "ChildWorkflowFailure", "cause": "CancelledFailure", "message": e.cause.message}
        if ctype == "ABANDON":
            await kid.signal("poke", "after abandon")
        return out


PY_WORKFLOWS = [InteropKid, InteropFailingKid, InteropFamily, InteropCancelTypes]
CANCEL_TYPES = ["TRY_CANCEL", "WAIT_CANCELLATION_COMPLETED", "WAIT_CANCELLATION_REQUESTED", "ABANDON"]


def expected(wid, kid_id, name):
    return {"kid": kid_id, "kidResult": f"{name} got hello",
            "failed": {"error": "ChildWorkflowFailure", "type": "KidBroke", "message": "kid says no",
                       "details": [{"code": 5}]},
            "missing": "Unable to cancel external workflow because not found",
            "cancelled": {"error": "ChildWorkflowFailure", "message": "Child Workflow execution cancelled"}}


# ------------------------------------------------------------------ the TypeScript side


class InteropChildrenTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def python_worker(self):
        return running(self.c, task_queue=self.q, workflows=PY_WORKFLOWS, identity="py-worker")

    async def start_family(self, name):
        wid, rid = await self.c.start("InteropFamily", name, task_queue=self.q)
        await self.c.start("InteropKid", "target", id=f"{wid}-target", task_queue=self.q)
        return wid, rid, _Sfc32(rid).uuid4()

    async def wait_until_waiting(self, wid, kid):
        """Until the family waits for "proceed" and its first child for "poke"."""
        for w, after in ((wid, "ChildWorkflowExecutionStarted"), (kid, "WorkflowExecutionStarted")):
            h = await self.c.wait_event(w, after, timeout=20)
            for _ in range(400):
                t = types(h)
                if t[-1] == "WorkflowTaskCompleted" and t.index(after) < len(t) - 1:
                    break
                await asyncio.sleep(0.05)
                h = await self.c.history(w)

    async def check(self, wid, kid, name):
        h = await self.c.history(wid)
        self.assertNotIn("WorkflowTaskFailed", types(h))
        self.assertEqual(types(h)[-1], "WorkflowExecutionCompleted")
        self.assertEqual(h[-1]["attributes"]["result"], expected(wid, kid, name))
        self.assertEqual([e["attributes"]["workflow_id"] for e in events(h, "StartChildWorkflowExecutionInitiated")],
                         [kid, f"{wid}-f", f"{wid}-c"])
        self.assertEqual(await self.c.result(f"{wid}-target"), "target got from family")
        self.assertEqual(types(await self.c.history(f"{wid}-c"))[-1], "WorkflowExecutionCanceled")
        return h

    async def check_replays(self, wid, kid):
        for w in (wid, kid, f"{wid}-c"):
            hist = await self.c.get_workflow_handle(w).fetch_history()
            await Replayer(workflows=PY_WORKFLOWS).replay_workflow(hist)
            ok, out = await ts_replay(TS_WORKER, hist.events, w)
            self.assertTrue(ok, f"{w}: {out}")
        # ... and both refuse the family's history for changed code, or changed history
        h = await self.c.get_workflow_handle(wid).fetch_history()
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[InteropFamilyChanged, InteropKid, InteropFailingKid]).replay_workflow(h)
        bad = json.loads(json.dumps(h.events))
        events(bad, "StartChildWorkflowExecutionInitiated")[0]["attributes"]["workflow_type"] = "SomethingElse"
        ok, out = await ts_replay(TS_WORKER, bad, wid)
        self.assertFalse(ok, out)
        self.assertIn("nondetermin", out.lower())
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=PY_WORKFLOWS).replay_workflow({"events": bad, "workflow_id": wid})

    async def test_way1_typescript_starts_python_finishes(self):
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            wid, _, kid = await self.start_family("ann")
            await self.wait_until_waiting(wid, kid)
        async with self.python_worker():
            await self.c.signal(wid, "proceed")
            await self.c.result(wid, wait=30)
            await self.check(wid, kid, "ann")
        # the first child was started by TypeScript and finished by Python
        kh = await self.c.history(kid)
        self.assertEqual({e["attributes"]["identity"] for e in events(kh, "WorkflowTaskCompleted")},
                         {"ts-worker", "py-worker"})
        await self.check_replays(wid, kid)

    async def test_way2_python_starts_typescript_finishes(self):
        async with self.python_worker():
            wid, _, kid = await self.start_family("bo")
            await self.wait_until_waiting(wid, kid)
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            await self.c.signal(wid, "proceed")
            await self.c.result(wid, wait=30)
            await self.check(wid, kid, "bo")
        h = await self.c.history(wid)
        self.assertEqual({e["attributes"]["identity"] for e in events(h, "WorkflowTaskCompleted")},
                         {"ts-worker", "py-worker"})
        await self.check_replays(wid, kid)

    async def test_cancellation_types_written_by_one_sdk_replay_on_the_other(self):
        # the commands each ChildWorkflowCancellationType sends (the TypeScript SDK's children.ts, Temporal's
        # core child_workflow_state_machine.rs) are the same in both SDKs
        runs = {}
        async with TsWorker(TS_WORKER, CLUSTER, self.q, "ts-worker"):
            for ct in CANCEL_TYPES:
                runs[("ts", ct)] = (await self.c.start("InteropCancelTypes", ct, task_queue=self.q))[0]
            for (_, ct), w in runs.items():
                await self.c.result(w, wait=30)
        async with self.python_worker():
            for ct in CANCEL_TYPES:
                runs[("py", ct)] = (await self.c.start("InteropCancelTypes", ct, task_queue=self.q))[0]
            for (sdk, ct), w in runs.items():
                if sdk == "py":
                    await self.c.result(w, wait=30)
        want = {"error": "ChildWorkflowFailure", "cause": "CancelledFailure",
                "message": "Child Workflow execution cancelled"}
        for ct in CANCEL_TYPES:
            ts_h = await self.c.get_workflow_handle(runs[("ts", ct)]).fetch_history()
            py_h = await self.c.get_workflow_handle(runs[("py", ct)]).fetch_history()
            self.assertEqual(ts_h.events[-1]["attributes"]["result"], want, ct)
            self.assertEqual(py_h.events[-1]["attributes"]["result"], want, ct)
            # the same command events, in the same order, from both SDKs (how the other events interleave
            # depends on timing)
            cmd_events = [t for t in types(ts_h.events) if t in COMMAND_EVENTS]
            self.assertEqual(cmd_events, [t for t in types(py_h.events) if t in COMMAND_EVENTS], ct)
            await Replayer(workflows=PY_WORKFLOWS).replay_workflow(ts_h)
            ok, out = await ts_replay(TS_WORKER, py_h.events, py_h.workflow_id)
            self.assertTrue(ok, f"{ct}: {out}")
        # ABANDON sent no cancel request and the child completed on the signal
        for sdk in ("ts", "py"):
            h = await self.c.history(runs[(sdk, "ABANDON")])
            self.assertNotIn("RequestCancelExternalWorkflowExecutionInitiated", types(h))
            self.assertEqual(await self.c.result(f"{runs[(sdk, 'ABANDON')]}-k"), "ABANDON got after abandon")


if __name__ == "__main__":
    unittest.main()

"""Child workflows and handles of other workflows, run by a real
durable.worker.Worker on a real cluster: workflow.start_child_workflow /
execute_child_workflow (result, failure, start failure, signals to the
child, the four cancellation types, the parent close policies, a timed-out
and a terminated child, the workflow's own cancellation reaching its child)
and workflow.get_external_workflow_handle (signal, cancel, and their
failures), asserted on the engine's histories; every history then replays
on the Replayer.

Temporal's behaviour asserted, by page:
- https://docs.temporal.io/develop/python/child-workflows (start_child_workflow,
  execute_child_workflow, ParentClosePolicy) and temporalio/sdk-python
  temporalio/workflow.py (ChildWorkflowHandle, ChildWorkflowCancellationType,
  ExternalWorkflowHandle, get_external_workflow_handle);
- https://docs.temporal.io/encyclopedia/child-workflows#parent-close-policy;
- the cancellation types as Temporal's core SDK applies them
  (temporalio/sdk-core core/src/worker/workflow/machines/child_workflow_state_machine.rs),
  which the TypeScript SDK follows (sdk/typescript/src/workflow/children.ts);
- https://docs.temporal.io/develop/python/message-passing#send-signal-from-workflow
  (signalling another workflow from a workflow).
"""
import asyncio
import unittest
from datetime import timedelta

try:
    import harness
except ImportError:                 # run as tests.e2e.test_children from sdk/python
    from tests import harness

from durable import workflow
from durable._runtime import _Sfc32
from durable.exceptions import (ApplicationError, CancelledError, ChildWorkflowError, RetryState, TerminatedError,
                                TimeoutError, WorkflowAlreadyStartedError, WorkflowFailureError)
from durable.worker import Replayer
from durable.workflow import ChildWorkflowCancellationType as CT
from durable.workflow import ParentClosePolicy

from ._e2e import E2EClient, events, queue, running, types

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop


# ------------------------------------------------------------------ children
@workflow.defn
class Echo:
    @workflow.run
    async def run(self, x) -> dict:
        return {"echo": x, "parent": workflow.info().parent}


@workflow.defn
class Failing:
    @workflow.run
    async def run(self, why: str) -> None:
        raise ApplicationError(f"child says {why}", {"code": 3}, type="ChildBroke", non_retryable=True)


@workflow.defn
class Waiter:
    """Waits for signal "go" (then returns what it got), or is cancelled."""

    def __init__(self):
        self.got = None

    @workflow.signal
    def go(self, v):
        if self.got is None:
            self.got = v

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.got is not None)
        return f"got {self.got}"


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(seconds)
        return "slept"


# ------------------------------------------------------------------ parents
def child_error(e: ChildWorkflowError) -> dict:
    c = e.cause
    return {"error": type(e).__name__, "workflow_id": e.workflow_id, "workflow_type": e.workflow_type,
            "retry_state": e.retry_state.value if e.retry_state else None,
            "cause": type(c).__name__, "message": c.message if c is not None else None}


@workflow.defn
class ExecuteEcho:
    @workflow.run
    async def run(self, x) -> dict:
        return await workflow.execute_child_workflow(Echo.run, x)


@workflow.defn
class StartThenAwait:
    @workflow.run
    async def run(self) -> dict:
        h = await workflow.start_child_workflow(Waiter, id=f"{workflow.info().workflow_id}-child",
                                                execution_timeout=timedelta(seconds=30))
        await h.signal(Waiter.go, "sig")
        r = await h
        return {"id": h.id, "first_run": h.first_execution_run_id, "result": r}


@workflow.defn
class CatchChildFailure:
    @workflow.run
    async def run(self) -> dict:
        try:
            await workflow.execute_child_workflow("Failing", "no", id=f"{workflow.info().workflow_id}-f")
        except ChildWorkflowError as e:
            return {**child_error(e), "type": e.cause.type, "details": list(e.cause.details),
                    "non_retryable": e.cause.non_retryable}
        return {}


@workflow.defn
class UncaughtChildFailure:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_child_workflow("Failing", "loud", id=f"{workflow.info().workflow_id}-f")


@workflow.defn
class StartTaken:
    @workflow.run
    async def run(self, taken: str) -> dict:
        try:
            await workflow.start_child_workflow(Waiter, id=taken)
        except WorkflowAlreadyStartedError as e:
            return {"error": type(e).__name__, "workflow_id": e.workflow_id, "workflow_type": e.workflow_type}
        return {}


@workflow.defn
class StartTakenUncaught:
    @workflow.run
    async def run(self, taken: str) -> None:
        await workflow.execute_child_workflow(Waiter, id=taken)


@workflow.defn
class CancelChild:
    """Starts a Waiter, cancels its handle, and reports what the handle raised."""

    @workflow.run
    async def run(self, ctype: str) -> dict:
        # abandoned when this run closes, so that the child's own close is seen whatever the type
        h = await workflow.start_child_workflow(Waiter, id=f"{workflow.info().workflow_id}-c", cancellation_type=ctype,
                                                parent_close_policy=ParentClosePolicy.ABANDON)
        h.cancel()
        try:
            await h
        except ChildWorkflowError as e:
            out = child_error(e)
        else:
            out = {"error": None}
        if ctype == "abandon":
            # the child did not get a cancel request: it still runs, and completes on a signal
            await h.signal("go", "after abandon")
        return out


@workflow.defn
class CancelBeforeSent:
    @workflow.run
    async def run(self) -> dict:
        t = asyncio.ensure_future(workflow.start_child_workflow(Waiter, id=f"{workflow.info().workflow_id}-c"))
        await asyncio.sleep(0)          # the start's command is made, not yet sent
        t.cancel()
        try:
            await t
        except ChildWorkflowError as e:
            return child_error(e)
        return {}


@workflow.defn
class ParentOfWaiter:
    """Starts a Waiter with a parent close policy and closes at once (or waits for it)."""

    @workflow.run
    async def run(self, policy: str, wait: bool) -> str:
        h = await workflow.start_child_workflow(Waiter, id=f"{workflow.info().workflow_id}-c",
                                                parent_close_policy=policy)
        if wait:
            return await h
        return "closed first"


@workflow.defn
class TimedOutChild:
    @workflow.run
    async def run(self) -> dict:
        try:
            await workflow.execute_child_workflow(Sleeper, 30, id=f"{workflow.info().workflow_id}-s",
                                                  execution_timeout=timedelta(seconds=1))
        except ChildWorkflowError as e:
            return {**child_error(e), "timeout_type": e.cause.type.value}
        return {}


@workflow.defn
class AwaitsChildCatching:
    @workflow.run
    async def run(self) -> dict:
        try:
            await workflow.execute_child_workflow(Waiter, id=f"{workflow.info().workflow_id}-c")
        except ChildWorkflowError as e:
            return child_error(e)
        return {}


@workflow.defn
class AwaitsChild:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(Waiter, id=f"{workflow.info().workflow_id}-c")


@workflow.defn
class SignalsAndCancelsOthers:
    """Signals a workflow, cancels another, and tries both on one that does not exist."""

    @workflow.run
    async def run(self, target: str, target_run: str, victim: str) -> dict:
        out = {}
        await workflow.get_external_workflow_handle(target, run_id=target_run).signal(Waiter.go, "from outside")
        out["signaled"] = True
        await workflow.get_external_workflow_handle(victim).cancel(reason="enough")
        out["cancelled"] = True
        missing = workflow.get_external_workflow_handle("no-such-workflow")
        for what, call in (("signal", lambda: missing.signal("go", 1)), ("cancel", missing.cancel)):
            try:
                await call()
            except ApplicationError as e:
                out[what] = {"message": e.message, "type": e.type}
        return out


@workflow.defn
class DefaultIds:
    @workflow.run
    async def run(self) -> list:
        a = await workflow.start_child_workflow(Echo, 1)
        u = str(workflow.uuid4())
        b = await workflow.start_child_workflow(Echo, 2)
        await a
        await b
        return [a.id, u, b.id]


WORKFLOWS = [Echo, Failing, Waiter, Sleeper, ExecuteEcho, StartThenAwait, CatchChildFailure, UncaughtChildFailure,
             StartTaken, StartTakenUncaught, CancelChild, CancelBeforeSent, ParentOfWaiter, TimedOutChild,
             AwaitsChildCatching, AwaitsChild, SignalsAndCancelsOthers, DefaultIds]


class ChildrenTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def worker(self, **kw):
        return running(self.c, task_queue=self.q, workflows=WORKFLOWS, **kw)

    async def replays(self, *wids):
        """Every history (parent and children) replays on a fresh Replayer."""
        for wid in wids:
            await Replayer(workflows=WORKFLOWS).replay_workflow(await self.c.get_workflow_handle(wid).fetch_history())

    async def test_execute_child_returns_its_result(self):
        # docs.temporal.io/develop/python/child-workflows: execute_child_workflow = start + wait for the result;
        # the child knows its parent (workflow.info().parent)
        async with self.worker():
            wid, rid = await self.c.start(ExecuteEcho, {"n": 1}, task_queue=self.q)
            r = await self.c.result(wid)
        h = await self.c.history(wid)
        self.assertEqual([t for t in types(h) if "Child" in t],
                         ["StartChildWorkflowExecutionInitiated", "ChildWorkflowExecutionStarted",
                          "ChildWorkflowExecutionCompleted"])
        init = events(h, "StartChildWorkflowExecutionInitiated")[0]["attributes"]
        # the default id is uuid4() of the parent: what the TypeScript SDK's startChild makes
        self.assertEqual(init["workflow_id"], _Sfc32(rid).uuid4())
        self.assertEqual((init["workflow_type"], init["task_queue"], init["input"]), ("Echo", self.q, [{"n": 1}]))
        self.assertEqual(init["parent_close_policy"], "terminate")
        self.assertEqual(r["echo"], {"n": 1})
        self.assertEqual((r["parent"]["workflow_id"], r["parent"]["run_id"]), (wid, rid))
        await self.replays(wid, init["workflow_id"])

    async def test_handle_signals_child_and_awaits_result(self):
        # temporalio/sdk-python temporalio/workflow.py ChildWorkflowHandle: id, first_execution_run_id, signal, await
        async with self.worker():
            wid, _ = await self.c.start(StartThenAwait, task_queue=self.q)
            r = await self.c.result(wid)
        child = await self.c.describe(f"{wid}-child")
        self.assertEqual(r, {"id": f"{wid}-child", "first_run": child["run_id"], "result": "got sig"})
        h = await self.c.history(wid)
        sig = events(h, "SignalExternalWorkflowExecutionInitiated")
        self.assertEqual([(e["attributes"]["signal_name"], e["attributes"]["input"],
                           e["attributes"]["child_workflow_only"]) for e in sig],
                         [("go", ["sig"], True)])
        self.assertEqual(len(events(h, "ExternalWorkflowExecutionSignaled")), 1)
        ch = await self.c.history(f"{wid}-child")
        self.assertEqual([e["attributes"]["input"] for e in events(ch, "WorkflowExecutionSignaled")], [["sig"]])
        await self.replays(wid, f"{wid}-child")

    async def test_child_failure_is_child_workflow_error_with_cause(self):
        # https://docs.temporal.io/develop/python/failure-detection: a child's failure reaches the parent as
        # ChildWorkflowError whose cause is the child's error
        async with self.worker():
            wid, _ = await self.c.start(CatchChildFailure, task_queue=self.q)
            r = await self.c.result(wid)
            wid2, _ = await self.c.start(UncaughtChildFailure, task_queue=self.q)
            with self.assertRaises(WorkflowFailureError) as cm:
                await self.c.result(wid2)
        self.assertEqual(r, {"error": "ChildWorkflowError", "workflow_id": f"{wid}-f", "workflow_type": "Failing",
                             "retry_state": "RETRY_POLICY_NOT_SET", "cause": "ApplicationError",
                             "message": "child says no", "type": "ChildBroke", "details": [{"code": 3}],
                             "non_retryable": True})
        # uncaught, it fails the parent: ChildWorkflowFailure with the child's failure as cause
        err = cm.exception.cause
        self.assertIsInstance(err, ChildWorkflowError)
        self.assertEqual((err.workflow_id, err.workflow_type), (f"{wid2}-f", "Failing"))
        self.assertIsInstance(err.cause, ApplicationError)
        self.assertEqual((err.cause.type, err.cause.message), ("ChildBroke", "child says loud"))
        f = events(await self.c.history(wid2), "WorkflowExecutionFailed")[0]["attributes"]["failure"]
        self.assertEqual((f["type"], f["details"]["workflow_id"], f["cause"]["type"]),
                         ("ChildWorkflowFailure", f"{wid2}-f", "ChildBroke"))
        await self.replays(wid, wid2)

    async def test_start_failure_is_workflow_already_started_error(self):
        # temporalio/sdk-python temporalio/workflow.py start_child_workflow: "WorkflowAlreadyStartedError"
        # when the id is in use; uncaught, it fails the workflow (it is a failure in Temporal Python)
        taken, _ = await self.c.start(Waiter, task_queue=self.q)
        async with self.worker():
            wid, _ = await self.c.start(StartTaken, taken, task_queue=self.q)
            r = await self.c.result(wid)
            wid2, _ = await self.c.start(StartTakenUncaught, taken, task_queue=self.q)
            with self.assertRaises(WorkflowFailureError) as cm:
                await self.c.result(wid2)
            await self.c.signal(taken, "go", 1)
            await self.c.result(taken)
        self.assertEqual(r, {"error": "WorkflowAlreadyStartedError", "workflow_id": taken, "workflow_type": "Waiter"})
        h = await self.c.history(wid)
        self.assertEqual(events(h, "StartChildWorkflowExecutionFailed")[0]["attributes"]["cause"],
                         "WORKFLOW_ALREADY_EXISTS")
        self.assertEqual(cm.exception.cause.failure["type"], "WorkflowAlreadyStartedError")
        await self.replays(wid, wid2)

    async def cancel_child(self, ctype: str) -> tuple:
        async with self.worker():
            wid, _ = await self.c.start(CancelChild, ctype, task_queue=self.q)
            r = await self.c.result(wid)
            ch = await self.c.wait_event(f"{wid}-c", "WorkflowExecutionCompleted" if ctype == "abandon"
                                         else "WorkflowExecutionCanceled")
        h = await self.c.history(wid)
        await self.replays(wid, f"{wid}-c")
        return wid, r, h, ch

    async def test_cancel_wait_cancellation_completed(self):
        # the default: the child is asked to cancel; the handle settles when it closes (cancelled)
        wid, r, h, ch = await self.cancel_child("wait_cancellation_completed")
        self.assertEqual(r, {"error": "ChildWorkflowError", "workflow_id": f"{wid}-c", "workflow_type": "Waiter",
                             "retry_state": "NON_RETRYABLE_FAILURE", "cause": "CancelledError",
                             "message": "Child Workflow execution cancelled"})
        req = events(h, "RequestCancelExternalWorkflowExecutionInitiated")[0]["attributes"]
        self.assertEqual((req["workflow_execution"]["workflow_id"], req["child_workflow_only"], req["reason"]),
                         (f"{wid}-c", True, "Parent workflow requested cancel"))
        t = types(h)
        # the parent's result came after the child's close event
        self.assertLess(t.index("ChildWorkflowExecutionCanceled"), t.index("WorkflowExecutionCompleted"))
        self.assertEqual(events(ch, "WorkflowExecutionCancelRequested")[0]["attributes"]["cause"],
                         "Parent workflow requested cancel")

    async def test_cancel_try_cancel(self):
        # TRY_CANCEL: the request is sent and the handle raises at once (before the child closes)
        wid, r, h, ch = await self.cancel_child("try_cancel")
        self.assertEqual((r["cause"], r["message"]), ("CancelledError", "Child Workflow execution cancelled"))
        t = types(h)
        self.assertIn("RequestCancelExternalWorkflowExecutionInitiated", t)
        # the parent completed in the task that sent the request
        self.assertEqual(t.index("RequestCancelExternalWorkflowExecutionInitiated") + 1,
                         t.index("WorkflowExecutionCompleted"))

    async def test_cancel_wait_cancellation_requested(self):
        # WAIT_CANCELLATION_REQUESTED: the handle raises once the child got the request
        wid, r, h, ch = await self.cancel_child("wait_cancellation_requested")
        self.assertEqual(r["cause"], "CancelledError")
        t = types(h)
        self.assertLess(t.index("ExternalWorkflowExecutionCancelRequested"), t.index("WorkflowExecutionCompleted"))

    async def test_cancel_abandon(self):
        # ABANDON: no request; the handle raises at once; the child runs on
        wid, r, h, ch = await self.cancel_child("abandon")
        self.assertEqual(r["cause"], "CancelledError")
        self.assertNotIn("RequestCancelExternalWorkflowExecutionInitiated", types(h))
        self.assertEqual(ch[-1]["attributes"]["result"], "got after abandon")

    async def test_cancel_before_the_start_is_sent(self):
        # cancelled in the activation that started it: nothing is sent (core's child state machine:
        # "cancelled before scheduled")
        async with self.worker():
            wid, _ = await self.c.start(CancelBeforeSent, task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual((r["cause"], r["message"]), ("CancelledError",
                                                      "Child Workflow execution cancelled before scheduled"))
        self.assertNotIn("StartChildWorkflowExecutionInitiated", types(await self.c.history(wid)))
        await self.replays(wid)

    async def test_workflow_cancellation_cancels_the_awaited_child(self):
        # cancelling the parent cancels what it awaits: the child gets a cancel request, closes cancelled,
        # and the parent (not catching) closes cancelled
        async with self.worker():
            wid, _ = await self.c.start(AwaitsChildCatching, task_queue=self.q)
            await self.c.wait_event(wid, "ChildWorkflowExecutionStarted")
            await self.c.cancel(wid)
            r = await self.c.result(wid)
        self.assertEqual((r["cause"], r["message"]), ("CancelledError", "Child Workflow execution cancelled"))
        self.assertEqual(types(await self.c.history(f"{wid}-c"))[-1], "WorkflowExecutionCanceled")
        # not caught: the ChildWorkflowError of a cancellation closes the parent as canceled
        async with self.worker():
            w2, _ = await self.c.start(AwaitsChild, task_queue=self.q)
            await self.c.wait_event(w2, "ChildWorkflowExecutionStarted")
            await self.c.cancel(w2)
            h2 = await self.c.wait_event(w2, "WorkflowExecutionCanceled")
        self.assertLess(types(h2).index("ChildWorkflowExecutionCanceled"), types(h2).index("WorkflowExecutionCanceled"))
        await self.replays(wid, f"{wid}-c", w2)

    async def test_parent_close_policies(self):
        # https://docs.temporal.io/encyclopedia/child-workflows#parent-close-policy
        async with self.worker():
            w_term, _ = await self.c.start(ParentOfWaiter, "terminate", False, task_queue=self.q)
            w_aban, _ = await self.c.start(ParentOfWaiter, ParentClosePolicy.ABANDON.value, False, task_queue=self.q)
            w_canc, _ = await self.c.start(ParentOfWaiter, "request_cancel", False, task_queue=self.q)
            for w in (w_term, w_aban, w_canc):
                self.assertEqual(await self.c.result(w), "closed first")
            await self.c.wait_event(f"{w_term}-c", "WorkflowExecutionTerminated")
            await self.c.wait_event(f"{w_canc}-c", "WorkflowExecutionCanceled")
            self.assertEqual((await self.c.describe(f"{w_aban}-c"))["status"], "running")
            await self.c.signal(f"{w_aban}-c", "go", "late")
            self.assertEqual(await self.c.result(f"{w_aban}-c"), "got late")
        await self.replays(w_term, w_aban, w_canc, f"{w_aban}-c", f"{w_canc}-c")

    async def test_timed_out_and_terminated_children(self):
        # the cause of ChildWorkflowError says how the child closed: TimeoutError, TerminatedError
        async with self.worker():
            wid, _ = await self.c.start(TimedOutChild, task_queue=self.q)
            r = await self.c.result(wid)
            w2, _ = await self.c.start(AwaitsChildCatching, task_queue=self.q)
            await self.c.wait_event(w2, "ChildWorkflowExecutionStarted")
            await self.c.get_workflow_handle(f"{w2}-c").terminate("stop it")
            r2 = await self.c.result(w2)
        # retry_state TIMEOUT: the child's execution timeout passed, so it is not retried, retry policy or
        # none (temporalio/temporal service/history/timer_queue_active_task_executor.go,
        # executeWorkflowExecutionTimeoutTask)
        self.assertEqual((r["cause"], r["timeout_type"], r["retry_state"]),
                         ("TimeoutError", "START_TO_CLOSE", "TIMEOUT"))
        self.assertIn("ChildWorkflowExecutionTimedOut", types(await self.c.history(wid)))
        self.assertEqual((r2["cause"], r2["message"]), ("TerminatedError", "Child Workflow execution terminated"))
        await self.replays(wid, w2)

    async def test_external_signal_and_cancel(self):
        # https://docs.temporal.io/develop/python/message-passing#send-signal-from-workflow and
        # temporalio/sdk-python temporalio/workflow.py ExternalWorkflowHandle.signal / cancel; a missing
        # target raises (Temporal's core SDK message, as the TypeScript SDK's)
        async with self.worker():
            target, target_run = await self.c.start(Waiter, task_queue=self.q)
            victim, _ = await self.c.start(Waiter, task_queue=self.q)
            wid, _ = await self.c.start(SignalsAndCancelsOthers, target, target_run, victim, task_queue=self.q)
            r = await self.c.result(wid)
            self.assertEqual(await self.c.result(target), "got from outside")
            vh = await self.c.wait_event(victim, "WorkflowExecutionCanceled")
        self.assertEqual(r, {"signaled": True, "cancelled": True,
                             "signal": {"message": "Unable to signal external workflow because it was not found",
                                        "type": "EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND"},
                             "cancel": {"message": "Unable to cancel external workflow because not found",
                                        "type": "EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND"}})
        creq = events(vh, "WorkflowExecutionCancelRequested")[0]["attributes"]
        self.assertEqual((creq["cause"], creq["external_workflow_execution"]["workflow_id"]), ("enough", wid))
        h = await self.c.history(wid)
        self.assertEqual([(e["attributes"]["child_workflow_only"], e["attributes"]["workflow_execution"]["run_id"])
                          for e in events(h, "SignalExternalWorkflowExecutionInitiated")],
                         [(False, target_run), (False, None)])
        await self.replays(wid)

    async def test_default_child_ids_follow_uuid4(self):
        # default ids come from the run's uuid4() stream (Temporal Python: workflow.uuid4()), shared with
        # the code's own uuid4() calls, as in the TypeScript SDK
        async with self.worker():
            wid, rid = await self.c.start(DefaultIds, task_queue=self.q)
            r = await self.c.result(wid)
        g = _Sfc32(rid)
        self.assertEqual(r, [g.uuid4(), g.uuid4(), g.uuid4()])
        await self.replays(wid)

    async def test_replays_without_the_worker_cache(self):
        # every task replayed from the whole history (no cached run): the same commands
        async with self.worker(max_cached_workflows=0):
            wid, _ = await self.c.start(StartThenAwait, task_queue=self.q)
            r = await self.c.result(wid)
            w2, _ = await self.c.start(CancelChild, "wait_cancellation_completed", task_queue=self.q)
            r2 = await self.c.result(w2)
        self.assertEqual(r["result"], "got sig")
        self.assertEqual(r2["cause"], "CancelledError")
        for w in (wid, w2):
            self.assertNotIn("WorkflowTaskFailed", types(await self.c.history(w)))

    async def test_changed_code_fails_replay(self):
        # a child of another type where the history has Echo: non-determinism (docs/protocol.md, matching)
        async with self.worker():
            wid, _ = await self.c.start(ExecuteEcho, 5, task_queue=self.q)
            await self.c.result(wid)
        h = await self.c.history(wid)

        @workflow.defn(name="ExecuteEcho")
        class Changed:
            @workflow.run
            async def run(self, x) -> dict:
                return await workflow.execute_child_workflow(Sleeper, 1)

        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[Changed]).replay_workflow(h)


if __name__ == "__main__":
    unittest.main()

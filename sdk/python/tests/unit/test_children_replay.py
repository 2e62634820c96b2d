"""The child-workflow and external-handle commands the runtime sends, by
replaying hand-written histories (docs/protocol.md, "Child workflows",
"Signals and cancels to other workflows", "What each event does") with
`durable._runtime.run_workflow_task` — no database. What each cancellation
type sends follows the TypeScript SDK (sdk/typescript/src/workflow/children.ts)
and Temporal's core SDK (temporalio/sdk-core core/src/worker/workflow/machines/
child_workflow_state_machine.rs)."""
import asyncio
import gc
import unittest

from durable import _runtime, workflow
from durable.exceptions import ChildWorkflowError

T0 = "2026-12-03T10:00:00+00:00"


def ev(i, t, **a):
    return {"event_id": i, "event_type": t, "event_time": T0, "attributes": a}


def started(wtype, *args):
    return ev(1, "WorkflowExecutionStarted", workflow_type=wtype, task_queue="q", input=list(args),
              first_execution_run_id="run-1", attempt=1)


def task(i):
    """A workflow task that completed: events i, i+1, i+2."""
    return [ev(i, "WorkflowTaskScheduled"), ev(i + 1, "WorkflowTaskStarted"),
            ev(i + 2, "WorkflowTaskCompleted", started_event_id=i + 1)]


def current(i):
    return [ev(i, "WorkflowTaskScheduled"), ev(i + 1, "WorkflowTaskStarted")]


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, ctype: str) -> str:
        return await workflow.execute_child_workflow("Kid", id="kid", cancellation_type=ctype)


@workflow.defn
class Signaller:
    @workflow.run
    async def run(self) -> str:
        await workflow.get_external_workflow_handle("other", run_id="r-9").signal("poke", 1)
        return "done"


@workflow.defn
class Gathered:
    @workflow.run
    async def run(self) -> list:
        a, b = await asyncio.gather(workflow.start_child_workflow("Kid", 1), workflow.start_child_workflow("Kid", 2))
        return [a.id, b.id]


@workflow.defn
class SignalDropped:
    @workflow.run
    async def run(self) -> str:
        t = asyncio.ensure_future(workflow.get_external_workflow_handle("other").signal("poke", 1))
        await asyncio.sleep(0)              # its command is made, not yet sent
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            return "dropped"
        return "sent"


def run(defn, history):
    return _runtime.run_workflow_task(defn.__durable_workflow__, history, workflow_id="p", run_id="run-1",
                                      namespace="default", task_queue="q")


def child_started(i, init):
    return ev(i, "ChildWorkflowExecutionStarted", initiated_event_id=init, namespace="default",
              workflow_type="Kid", workflow_execution={"workflow_id": "kid", "run_id": "kid-run"})


def initiated(i):
    return ev(i, "StartChildWorkflowExecutionInitiated", workflow_id="kid", workflow_type="Kid", namespace="default",
              task_queue="q", input=[])


class ChildCommandsTest(unittest.TestCase):
    def test_first_task_sends_the_start(self):
        outcome, cmds = run(Parent, [started("Parent", "try_cancel"), *current(2)])
        self.assertEqual(outcome, "complete")
        self.assertEqual([(c["type"], c["workflow_id"], c["workflow_type"], c["task_queue"], c["input"])
                          for c in cmds], [("start_child_workflow", "kid", "Kid", "q", [])])

    def test_cancel_after_start_per_cancellation_type(self):
        h = [started("Parent", None), *task(2), initiated(5), child_started(6, 5), *task(7),
             ev(10, "WorkflowExecutionCancelRequested", cause="stop"), *current(11)]
        want = {
            # the request, and the handle raises at once: the workflow closes canceled in the same task
            "try_cancel": ["request_cancel_external_workflow", "cancel_workflow"],
            "abandon": ["cancel_workflow"],
            # the request, then wait (for the child's close, or for its ExternalWorkflowExecutionCancelRequested)
            "wait_cancellation_completed": ["request_cancel_external_workflow"],
            "wait_cancellation_requested": ["request_cancel_external_workflow"],
        }
        for ctype, types in want.items():
            h[0]["attributes"]["input"] = [ctype]
            outcome, cmds = run(Parent, h)
            self.assertEqual((outcome, [c["type"] for c in cmds]), ("complete", types), ctype)
            if types[0] == "request_cancel_external_workflow":
                self.assertEqual({k: cmds[0][k] for k in ("workflow_id", "child_workflow_only", "reason")},
                                 {"workflow_id": "kid", "child_workflow_only": True,
                                  "reason": "Parent workflow requested cancel"})

    def test_wait_cancellation_requested_raises_when_the_child_has_the_request(self):
        h = [started("Parent", "wait_cancellation_requested"), *task(2), initiated(5), child_started(6, 5), *task(7),
             ev(10, "WorkflowExecutionCancelRequested"), *task(11),
             ev(14, "RequestCancelExternalWorkflowExecutionInitiated", namespace="default",
                workflow_execution={"workflow_id": "kid", "run_id": None}, child_workflow_only=True),
             ev(15, "ExternalWorkflowExecutionCancelRequested", initiated_event_id=14, namespace="default",
                workflow_execution={"workflow_id": "kid", "run_id": None}),
             *current(16)]
        self.assertEqual([c["type"] for c in run(Parent, h)[1]], ["cancel_workflow"])

    def test_wait_cancellation_completed_settles_as_the_child_closes(self):
        base = [started("Parent", "wait_cancellation_completed"), *task(2), initiated(5), child_started(6, 5),
                *task(7), ev(10, "WorkflowExecutionCancelRequested"), *task(11),
                ev(14, "RequestCancelExternalWorkflowExecutionInitiated", namespace="default",
                   workflow_execution={"workflow_id": "kid", "run_id": None}, child_workflow_only=True),
                ev(15, "ExternalWorkflowExecutionCancelRequested", initiated_event_id=14, namespace="default",
                   workflow_execution={"workflow_id": "kid", "run_id": None})]
        # the request was delivered: still waiting for the child
        self.assertEqual(run(Parent, [*base, *current(16)])[1], [])
        # the child ignored the request and completed: so does the parent, with its result
        done = ev(16, "ChildWorkflowExecutionCompleted", initiated_event_id=5, started_event_id=6, result="fine",
                  namespace="default", workflow_type="Kid", workflow_execution={"workflow_id": "kid", "run_id": "kid-run"})
        self.assertEqual(run(Parent, [*base, done, *current(17)])[1],
                         [{"type": "complete_workflow", "result": "fine"}])

    def test_events_of_an_unknown_initiated_event_are_ignored(self):
        # the TypeScript SDK ignores them too (children.ts applyChildJob)
        h = [started("Parent", "try_cancel"), *task(2), initiated(5), child_started(6, 5),
             ev(7, "ExternalWorkflowExecutionSignaled", initiated_event_id=99), *current(8)]
        self.assertEqual(run(Parent, h), ("complete", []))

    def test_external_signal_command_and_outcome(self):
        outcome, cmds = run(Signaller, [started("Signaller"), *current(2)])
        self.assertEqual(cmds, [{"type": "signal_external_workflow", "workflow_id": "other", "signal_name": "poke",
                                 "input": [1], "child_workflow_only": False, "run_id": "r-9"}])
        h = [started("Signaller"), *task(2),
             ev(5, "SignalExternalWorkflowExecutionInitiated", namespace="default", signal_name="poke", input=[1],
                workflow_execution={"workflow_id": "other", "run_id": "r-9"}, child_workflow_only=False),
             ev(6, "SignalExternalWorkflowExecutionFailed", initiated_event_id=5, namespace="default",
                cause="EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND", workflow_execution={"workflow_id": "other"}),
             *current(7)]
        outcome, cmds = run(Signaller, h)
        self.assertEqual(cmds[0]["type"], "fail_workflow")
        self.assertEqual((cmds[0]["failure"]["type"], cmds[0]["failure"]["message"]),
                         ("EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND",
                          "Unable to signal external workflow because it was not found"))

    def test_children_started_together_are_sent_in_order_with_uuid4_ids(self):
        outcome, cmds = run(Gathered, [started("Gathered"), *current(2)])
        g = _runtime._Sfc32("run-1")
        self.assertEqual([(c["type"], c["input"], c["workflow_id"]) for c in cmds],
                         [("start_child_workflow", [1], g.uuid4()), ("start_child_workflow", [2], g.uuid4())])

    def test_a_signal_cancelled_before_it_is_sent_is_dropped(self):
        # as the TypeScript SDK's signalWorkflow ("Signal was cancelled before being sent")
        self.assertEqual(run(SignalDropped, [started("SignalDropped"), *current(2)]),
                         ("complete", [{"type": "complete_workflow", "result": "dropped"}]))

    def test_dropping_a_run_with_a_pending_child_leaves_no_task(self):
        h = [started("Parent", "wait_cancellation_completed"), *task(2), initiated(5), child_started(6, 5),
             *current(7)]
        inst, cmds, _ = _runtime.replay(Parent.__durable_workflow__, h, workflow_id="p", run_id="run-1",
                                        namespace="default", task_queue="q", current=True)
        self.assertEqual(cmds, [])
        self.assertTrue(any(isinstance(t, workflow.ChildWorkflowHandle) for t in inst.loop._tasks))
        inst.dispose()
        self.assertEqual([t for t in inst.loop._tasks if not t.done()], [])
        gc.collect()

    def test_child_error_is_a_cancellation_for_the_workflow(self):
        e = ChildWorkflowError()
        e.__cause__ = asyncio.CancelledError()
        self.assertTrue(_runtime._is_cancellation(e))


if __name__ == "__main__":
    unittest.main()

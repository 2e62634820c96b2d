"""A workflow task's commands are final once the runtime hands them over: code that runs later, when
the discarded workflow instance is garbage-collected and its pending coroutine is closed (the
`finally:` of asyncio.wait_for cancels its timer; a user's `finally:` may schedule an activity), must
not reach them.  Temporal's SDK tears an evicted workflow down without emitting commands:
temporalio/sdk-python temporalio/worker/_workflow_instance.py (eviction deletes the instance after its
last activation completion is sent).
"""
import copy
import gc
import unittest
from datetime import timedelta

from durable import _runtime, workflow

RUN_ID = "4b4d1b9e-0000-4000-8000-000000000001"


def first_task_history(workflow_type):
    """The three events of a run's first workflow task (docs/protocol.md, "Events")."""
    t = "2026-12-02T20:00:00.000000+00:00"
    return [
        {"run_id": RUN_ID, "event_id": 1, "event_type": "WorkflowExecutionStarted", "event_time": t,
         "attributes": {"workflow_type": workflow_type, "task_queue": "q", "input": [], "attempt": 1,
                        "workflow_task_timeout": "10s", "first_execution_run_id": RUN_ID,
                        "identity": "test", "search_attributes": {}, "memo": None, "retry_policy": None,
                        "workflow_run_timeout": None, "workflow_execution_timeout": None,
                        "continued_execution_run_id": None, "first_workflow_task_backoff": None,
                        "priority": 3, "request_id": None}},
        {"run_id": RUN_ID, "event_id": 2, "event_type": "WorkflowTaskScheduled", "event_time": t,
         "attributes": {"attempt": 1, "task_queue": "q", "start_to_close_timeout": "10s"}},
        {"run_id": RUN_ID, "event_id": 3, "event_type": "WorkflowTaskStarted", "event_time": t,
         "attributes": {"identity": "test", "scheduled_event_id": 2}},
    ]


@workflow.defn
class WaitsWithTimeout:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False, timeout=60)


@workflow.defn
class CleansUpInFinally:
    @workflow.run
    async def run(self) -> None:
        try:
            await workflow.sleep(60)
        finally:
            workflow.start_activity("cleanup", start_to_close_timeout=timedelta(seconds=5))


class CommandsAreFinalTest(unittest.TestCase):
    def check(self, wf):
        was = gc.isenabled()
        gc.disable()
        try:
            kind, out = _runtime.run_workflow_task(workflow.definition_of(wf), first_task_history(wf.__name__),
                                                   workflow_id="wf-1", run_id=RUN_ID, namespace="default",
                                                   task_queue="q")
            sent = copy.deepcopy(out)
            gc.collect()        # what the cyclic collector does at any moment in a worker
            self.assertEqual(out, sent)
            return out
        finally:
            if was:
                gc.enable()

    def test_wait_condition_timer_is_not_cancelled_after_the_task(self):
        self.assertEqual([c["type"] for c in self.check(WaitsWithTimeout)], ["start_timer"])

    def test_finally_of_a_discarded_instance_sends_nothing(self):
        self.assertEqual([c["type"] for c in self.check(CleansUpInFinally)], ["start_timer"])


if __name__ == "__main__":
    unittest.main()

"""Histories of updates and local activities written by the TypeScript SDK's
worker replay against the Python twins of their workflows, without node or
a cluster: fixtures/ts-updates.json and fixtures/ts-local.json were captured
from ts/u_worker.js running e2e/ts/u_workflows.js (InteropUpdates: updates
with a validator, an activity and a timer in a handler; InteropLocal: local
activities, one retried through a timer), the workflows whose Python side is
in e2e/test_interop_updates.py. docs/protocol.md, replay step 4.3 (updates)
and "Local activities" (markers matched by seq).

Temporal's Replayer: https://docs.temporal.io/develop/python/testing-suite#replay
(temporalio/sdk-python temporalio/worker/_replayer.py); updates replay at
their place: https://docs.temporal.io/encyclopedia/workflow-message-passing#updates;
local activity markers: temporalio/sdk-core
core/src/worker/workflow/machines/local_activity_state_machine.rs.
"""
import copy
import json
import os
import unittest

from durable import workflow
from durable.worker import Replayer

try:
    from e2e import test_interop_updates as iu
except ImportError:                 # run as tests.unit.test_replay_typescript_updates_local from sdk/python
    from tests.e2e import test_interop_updates as iu

HERE = os.path.dirname(os.path.abspath(__file__))


def fixture(name):
    with open(os.path.join(HERE, "fixtures", name + ".json")) as f:
        return json.load(f)


class ReplayTypeScriptUpdatesAndLocalActivitiesTest(unittest.IsolatedAsyncioTestCase):
    async def test_updates(self):
        h = fixture("ts-updates")
        self.assertEqual(sum(e["event_type"] == "WorkflowExecutionUpdateAccepted" for e in h), 4)
        r = await Replayer(workflows=[iu.InteropUpdates]).replay_workflow(h)
        self.assertIsNone(r.replay_failure)

    async def test_updates_changed_code_or_history_fail(self):
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[iu.InteropUpdatesChanged]).replay_workflow(fixture("ts-updates"))
        bad = fixture("ts-updates")
        acc = [e for e in bad if e["event_type"] == "WorkflowExecutionUpdateAccepted"]
        acc[0]["attributes"]["accepted_request"]["input"]["name"] = "nope"   # no handler: not accepted again
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[iu.InteropUpdates]).replay_workflow(bad)

    async def test_local_activities(self):
        h = fixture("ts-local")
        m = [e["attributes"]["details"] for e in h if e["event_type"] == "MarkerRecorded"]
        self.assertEqual([(d["seq"], d["attempt"], d["backoff"]) for d in m],
                         [(1, 1, None), (3, 1, "0.2s"), (4, 2, None), (5, 1, None)])
        r = await Replayer(workflows=[iu.InteropLocal]).replay_workflow(h)
        self.assertIsNone(r.replay_failure)

    async def test_local_activity_markers_are_checked(self):
        base = fixture("ts-local")
        markers = [i for i, e in enumerate(base) if e["event_type"] == "MarkerRecorded"]
        # a marker naming another activity type, or another activity id
        for field, value in (("activity_type", "other"), ("activity_id", "9")):
            bad = copy.deepcopy(base)
            bad[markers[0]]["attributes"]["details"][field] = value
            with self.assertRaises(workflow.NondeterminismError):
                await Replayer(workflows=[iu.InteropLocal]).replay_workflow(bad)
        # a marker the code never schedules (seq 5's removed: the code asks for it and the
        # history has none, so it stays pending and the run cannot complete as recorded)
        bad = copy.deepcopy(base)
        del bad[markers[-1]]
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[iu.InteropLocal]).replay_workflow(bad)
        # an extra marker with a seq nobody scheduled
        bad = copy.deepcopy(base)
        extra = copy.deepcopy(bad[markers[-1]])
        extra["attributes"]["details"]["seq"] = 42
        bad.insert(markers[-1] + 1, extra)
        for k, e in enumerate(bad):
            e["event_id"] = k + 1
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[iu.InteropLocal]).replay_workflow(bad)


if __name__ == "__main__":
    unittest.main()

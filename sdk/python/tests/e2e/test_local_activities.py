"""Local activities on a real cluster: run by the worker holding the workflow
task, recorded as core_local_activity markers (the TypeScript SDK's details
shape), resolved from the markers on replay, retried in the worker or
through a durable timer past the local retry threshold, bounded by their
timeouts, cancelled, and kept alive past 80 % of the workflow task timeout
by force_new_task (docs/protocol.md, "Local activities").

Temporal's behaviour asserted: https://docs.temporal.io/local-activity
(run in the workflow worker, recorded as a marker, retried locally up to the
local retry threshold, then through a timer; the workflow task heartbeat),
https://docs.temporal.io/develop/python/core-application#local-activities,
temporalio/sdk-python temporalio/workflow.py (execute_local_activity,
start_local_activity, local_retry_threshold, ActivityCancellationType) and
temporalio/sdk-core core/src/worker/workflow/machines/local_activity_state_machine.rs
(marker data: seq, attempt, activity_id, activity_type, complete_time,
backoff, original_schedule_time).
"""
import asyncio
import unittest
from datetime import timedelta

try:
    import harness
except ImportError:                 # run as tests.e2e.test_local_activities from sdk/python
    from tests import harness

from durable import activity, workflow
from durable.common import RetryPolicy
from durable.exceptions import ActivityError, ApplicationError
from durable.worker import Replayer

from ._e2e import E2EClient, events, queue, running, types

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

T = timedelta(seconds=5)
CALLS: dict = {}


@activity.defn
async def greet(name: str) -> str:
    info = activity.info()
    CALLS.setdefault("greet_local", []).append(info.is_local)
    return f"hi {name}"


@activity.defn
def shout(s: str) -> str:          # a plain def: runs in the worker's thread pool
    return s.upper()


@activity.defn
async def flaky(key: str, failures: int) -> str:
    n = CALLS[key] = CALLS.get(key, 0) + 1
    if n <= failures:
        raise ApplicationError(f"attempt {n} fails", type="Flaky")
    return f"ok after {n}"


@activity.defn
async def refuse(x: int) -> None:
    raise ApplicationError("no", {"x": x}, type="Refused", non_retryable=True)


@activity.defn
async def nap(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@workflow.defn
class Locals:
    @workflow.run
    async def run(self, name: str) -> list:
        a = await workflow.execute_local_activity(greet, name, start_to_close_timeout=T)           # seq 1
        b = await workflow.execute_activity(shout, a, start_to_close_timeout=T)                   # activity "2"
        c, d = await asyncio.gather(
            workflow.execute_local_activity(shout, "x", start_to_close_timeout=T),                # seq 3
            workflow.execute_local_activity("greet", "y", start_to_close_timeout=T))              # seq 4
        try:
            await workflow.execute_local_activity(refuse, 7, start_to_close_timeout=T)            # seq 5
            e = None
        except ActivityError as err:
            e = [err.retry_state.value, err.cause.type, list(err.cause.details)]
        return [a, b, c, d, e]


@workflow.defn
class Retries:
    @workflow.run
    async def run(self, key: str, threshold: float) -> str:
        return await workflow.execute_local_activity(
            flaky, args=[key, 2], start_to_close_timeout=T, local_retry_threshold=timedelta(seconds=threshold),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=300), backoff_coefficient=1.0))


@workflow.defn
class TimesOut:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_local_activity(nap, 2.0, start_to_close_timeout=timedelta(milliseconds=200),
                                                  retry_policy=RetryPolicy(maximum_attempts=2,
                                                                           initial_interval=timedelta(milliseconds=10)))
        except ActivityError as e:
            return f"{type(e.cause).__name__} {e.cause.type.value} {e.retry_state.value}"
        return "no timeout"


@workflow.defn
class LongLocal:
    def __init__(self):
        self.stop = False

    @workflow.signal
    def halt(self):
        self.stop = True

    @workflow.run
    async def run(self, seconds: float, cancel: bool) -> str:
        h = workflow.start_local_activity(nap, seconds, start_to_close_timeout=timedelta(seconds=30))
        if not cancel:
            return await h
        await workflow.wait_condition(lambda: self.stop)
        h.cancel()
        try:
            await h
        except ActivityError as e:
            return f"cancelled: {type(e.cause).__name__}"
        return "not cancelled"


@workflow.defn
class DropsLocal:
    @workflow.run
    async def run(self) -> list:
        t = workflow.start_local_activity(nap, 5.0, start_to_close_timeout=T)      # seq 1, cancelled at once
        t.cancel()
        try:
            await t
            return ["not cancelled"]
        except ActivityError as e:
            out = [type(e).__name__, type(e.cause).__name__]
        return out + [await workflow.execute_local_activity(greet, "z", start_to_close_timeout=T)]   # seq 2


def markers(h):
    return [e["attributes"]["details"] for e in events(h, "MarkerRecorded")
            if e["attributes"]["marker_name"] == "core_local_activity"]


class LocalActivityTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def worker(self, *workflows, **kw):
        return running(self.c, task_queue=self.q, workflows=list(workflows),
                       activities=[greet, shout, flaky, refuse, nap], **kw)

    async def test_markers_results_and_replay(self):
        async with self.worker(Locals):
            wid, _ = await self.c.start(Locals, "ann", task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual(r, ["hi ann", "HI ANN", "X", "hi y", ["NON_RETRYABLE_FAILURE", "Refused", [{"x": 7}]]])
        self.assertTrue(all(CALLS["greet_local"]))          # activity.info().is_local
        h = await self.c.history(wid)
        m = markers(h)
        self.assertEqual([(d["seq"], d["activity_id"], d["activity_type"], d["attempt"]) for d in m],
                         [(1, "1", "greet", 1), (3, "3", "shout", 1), (4, "4", "greet", 1), (5, "5", "refuse", 1)])
        self.assertEqual(m[0]["result"], "hi ann")
        self.assertIsNone(m[0]["backoff"])
        for d in m:
            self.assertRegex(d["complete_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertRegex(d["original_schedule_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual((m[3]["failure"]["type"], m[3]["retry_state"]), ("Refused", "NON_RETRYABLE_FAILURE"))
        # local activities go through no activity task; the ordinary one takes the next seq as its id
        self.assertEqual([e["attributes"]["activity_id"] for e in events(h, "ActivityTaskScheduled")], ["2"])
        self.assertNotIn("WorkflowTaskFailed", types(h))
        # a local activity's marker is written by the task that ran it: the first task holds marker 1
        # and the schedule of activity "2"; gathered ones resolve within one task
        first = types(h).index("WorkflowTaskCompleted")
        self.assertEqual(types(h)[first + 1:first + 3], ["MarkerRecorded", "ActivityTaskScheduled"])
        await Replayer(workflows=[Locals]).replay_workflow(h)
        # replay never runs them again, and refuses a marker that names another activity
        bad = [dict(e, attributes=dict(e["attributes"], details=dict(e["attributes"]["details"], activity_type="x")))
               if e["event_type"] == "MarkerRecorded" else e for e in h]
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[Locals]).replay_workflow(bad)

    async def test_retries_in_the_worker(self):
        # backoff 0.3 s within the threshold (1 s): retried in the worker, one marker, attempt 3
        async with self.worker(Retries):
            wid, _ = await self.c.start(Retries, "k-in", 1.0, task_queue=self.q)
            self.assertEqual(await self.c.result(wid), "ok after 3")
        h = await self.c.history(wid)
        self.assertEqual([(d["seq"], d["attempt"], d.get("result")) for d in markers(h)], [(1, 3, "ok after 3")])
        self.assertEqual(events(h, "TimerStarted"), [])
        await Replayer(workflows=[Retries]).replay_workflow(h)

    async def test_retries_through_a_timer(self):
        # backoff 0.3 s past the threshold (0.1 s): the marker records the backoff, the workflow
        # sleeps on a durable timer and schedules the next attempt with a new seq
        async with self.worker(Retries):
            wid, _ = await self.c.start(Retries, "k-timer", 0.1, task_queue=self.q)
            self.assertEqual(await self.c.result(wid), "ok after 3")
        h = await self.c.history(wid)
        m = markers(h)
        self.assertEqual([(d["seq"], d["attempt"], d["backoff"], d.get("retry_state")) for d in m],
                         [(1, 1, "0.3s", "IN_PROGRESS"), (2, 2, "0.3s", "IN_PROGRESS"), (3, 3, None, None)])
        self.assertEqual(len({d["original_schedule_time"] for d in m}), 1)
        self.assertEqual([e["attributes"]["timer_id"] for e in events(h, "TimerStarted")], ["1", "2"])
        await Replayer(workflows=[Retries]).replay_workflow(h)

    async def test_timeout(self):
        async with self.worker(TimesOut):
            wid, _ = await self.c.start(TimesOut, task_queue=self.q)
            self.assertEqual(await self.c.result(wid), "TimeoutError START_TO_CLOSE MAXIMUM_ATTEMPTS_REACHED")
        d = markers(await self.c.history(wid))
        self.assertEqual((d[0]["attempt"], d[0]["failure"]["timeout_type"]), (2, "START_TO_CLOSE"))

    async def test_task_heartbeat_keeps_a_long_local_activity(self):
        # a 2.5 s local activity under a 1 s workflow task timeout: the worker completes the
        # task at 80 % with force_new_task and goes on under the task handed back
        async with self.worker(LongLocal) as w:
            wid, _ = await self.c.start(LongLocal, 2.5, False, task_queue=self.q, task_timeout=1)
            self.assertEqual(await self.c.result(wid), "slept 2.5")
            self.assertGreaterEqual(w.local_heartbeats, 2)
        h = await self.c.history(wid)
        self.assertNotIn("WorkflowTaskTimedOut", types(h))
        self.assertNotIn("WorkflowTaskFailed", types(h))
        self.assertGreaterEqual(len(events(h, "WorkflowTaskCompleted")), 3)
        self.assertEqual(len(markers(h)), 1)
        await Replayer(workflows=[LongLocal]).replay_workflow(h)

    async def test_cancel_a_running_local_activity(self):
        # the signal reaches the run in the task a heartbeat hands back; the handle's cancel
        # records a cancelled marker at once (TRY_CANCEL) and stops the attempt
        async with self.worker(LongLocal):
            wid, _ = await self.c.start(LongLocal, 20.0, True, task_queue=self.q, task_timeout=1)
            # the local activity runs (a signal in its first task would cancel it before it ran:
            # no marker then, see test_cancelled_before_it_ran)
            await self.c.wait_event(wid, "WorkflowTaskStarted")
            await asyncio.sleep(0.2)
            await self.c.signal(wid, "halt")
            self.assertEqual(await self.c.result(wid), "cancelled: CancelledError")
        h = await self.c.history(wid)
        d = markers(h)
        self.assertEqual([(x["seq"], x["failure"]["type"], x["retry_state"]) for x in d],
                         [(1, "CancelledFailure", "CANCEL_REQUESTED")])
        await Replayer(workflows=[LongLocal]).replay_workflow(h)

    async def test_cancelled_before_it_ran(self):
        # cancelled in the activation that scheduled it: it never reached the worker, no marker
        # (as the TypeScript SDK and Temporal's core SDK drop it)
        async with self.worker(DropsLocal):
            wid, _ = await self.c.start(DropsLocal, task_queue=self.q)
            self.assertEqual(await self.c.result(wid), ["ActivityError", "CancelledError", "hi z"])
        h = await self.c.history(wid)
        self.assertEqual([(d["seq"], d["activity_type"]) for d in markers(h)], [(2, "greet")])
        await Replayer(workflows=[DropsLocal]).replay_workflow(h)


if __name__ == "__main__":
    unittest.main()

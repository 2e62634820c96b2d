"""Workflows run by a real durable.worker.Worker on a real cluster: the
workflow API (activities, retries, timers, conditions, signals, queries,
cancellation, continue-as-new, patches, info/uuid4/now, logger) asserted on
the engine's history and results, each against the Temporal Python SDK's
documented behaviour (the comment of each test names the page or the
temporalio/sdk-python file).
"""
import asyncio
import logging
import time
import unittest
from dataclasses import dataclass
from datetime import datetime, timedelta

try:
    import harness
except ImportError:                 # run as tests.e2e.test_workflows from sdk/python
    from tests import harness

from durable import activity, workflow
from durable._runtime import COMMAND_EVENTS
from durable.common import RetryPolicy, to_seconds
from durable.exceptions import (ActivityError, ApplicationError, CancelledError, WorkflowContinuedAsNewError,
                                WorkflowFailureError, WorkflowQueryFailedError)
from durable.worker import Replayer, replay_stored

from ._e2e import E2EClient, events, queue, running, types

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

SHORT = timedelta(seconds=5)
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0, maximum_attempts=5)

# what activities saw, by test (activities run in this process)
SEEN: dict = {}


# ------------------------------------------------------------------ activities
@activity.defn
async def echo(x):
    return x


@activity.defn
async def upper(s: str) -> str:
    await asyncio.sleep(0.05)
    return s.upper()


@activity.defn
async def timed(key: str, i: int) -> int:
    SEEN.setdefault(key, []).append(("start", i, time.monotonic()))
    await asyncio.sleep(0.8)
    SEEN.setdefault(key, []).append(("end", i, time.monotonic()))
    return i


@activity.defn
async def flaky(key: str, fail_until: int) -> int:
    i = activity.info()
    SEEN.setdefault(key, []).append(i.attempt)
    if i.attempt < fail_until:
        raise RuntimeError(f"attempt {i.attempt} fails")
    return i.attempt


@activity.defn
async def refuse(kind: str):
    if kind == "non_retryable":
        raise ApplicationError("card declined", "d1", {"code": 7}, type="CardDeclined", non_retryable=True)
    if kind == "listed":
        SEEN.setdefault("listed", []).append(activity.info().attempt)
        raise ApplicationError("fatal by policy", type="Fatal")
    SEEN.setdefault("always", []).append(activity.info().attempt)
    raise ValueError("always bad")


@activity.defn
async def wait_forever() -> str:
    SEEN.setdefault("wait_forever", []).append("started")
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        SEEN.setdefault("wait_forever", []).append("cancelled")
        raise


@dataclass
class Parcel:
    sku: str
    qty: int


@activity.defn
async def pack(sku: str) -> Parcel:
    return Parcel(sku, 2)


# ------------------------------------------------------------------ workflows
@workflow.defn
class Pipeline:
    @workflow.run
    async def run(self, name: str) -> list:
        first = await workflow.execute_activity(upper, name, start_to_close_timeout=SHORT)
        rest = await asyncio.gather(*[
            workflow.execute_activity(upper, f"{first}-{i}", start_to_close_timeout=SHORT) for i in range(3)])
        return [first, *rest]


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, key: str) -> list:
        return await asyncio.gather(*[
            workflow.execute_activity(timed, args=[key, i], start_to_close_timeout=SHORT) for i in range(3)])


@workflow.defn
class Retrying:
    @workflow.run
    async def run(self, key: str) -> int:
        return await workflow.execute_activity(flaky, args=[key, 3], start_to_close_timeout=SHORT,
                                               retry_policy=FAST_RETRY)


@workflow.defn
class Failing:
    @workflow.run
    async def run(self, kind: str) -> dict:
        try:
            await workflow.execute_activity(
                refuse, kind, start_to_close_timeout=SHORT,
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0,
                                         maximum_attempts=2, non_retryable_error_types=["Fatal"]))
        except ActivityError as e:
            c = e.cause
            return {"error": type(e).__name__, "activity_type": e.activity_type, "activity_id": e.activity_id,
                    "retry_state": str(getattr(e.retry_state, "value", e.retry_state)),
                    "cause": type(c).__name__, "message": c.message, "type": c.type,
                    "non_retryable": c.non_retryable, "details": list(c.details)}
        return {"error": None}


@workflow.defn
class Reraise:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(refuse, "non_retryable", start_to_close_timeout=SHORT)


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self) -> list:
        t0 = workflow.now()
        await workflow.sleep(timedelta(milliseconds=300))
        t1 = workflow.now()
        await asyncio.sleep(0.3)
        t2 = workflow.now()
        return [(t1 - t0).total_seconds(), (t2 - t1).total_seconds()]


@workflow.defn
class Races:
    @workflow.run
    async def run(self) -> dict:
        out = {}
        a = asyncio.ensure_future(workflow.execute_activity(upper, "a", start_to_close_timeout=SHORT))
        b = asyncio.ensure_future(workflow.sleep(30))
        done, pending = await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
        out["first"] = "activity" if a in done else "timer"
        b.cancel()
        try:
            async with asyncio.timeout(0.2):
                await workflow.execute_activity(wait_forever, start_to_close_timeout=SHORT,
                                                heartbeat_timeout=timedelta(seconds=2))
            out["timeout"] = "no"
        except ActivityError as e:
            # the timeout cancels the activity's handle, which resolves at once with
            # ActivityError(cause=CancelledError) (TRY_CANCEL), as in Temporal Python, where the
            # activity handle catches the cancellation and raises the activity's outcome
            # (temporalio/worker/_workflow_instance.py, _outbound_schedule_activity)
            out["timeout"] = "yes" if isinstance(e.__cause__, CancelledError) else repr(e.__cause__)
        out["shielded"] = await asyncio.shield(workflow.execute_activity(upper, "s", start_to_close_timeout=SHORT))
        return out


@workflow.defn
class Conditions:
    def __init__(self):
        self.go = False

    @workflow.signal
    def release(self):
        self.go = True

    @workflow.run
    async def run(self) -> list:
        out = []
        await workflow.wait_condition(lambda: self.go)                     # no timeout: a signal
        out.append("released")
        await workflow.wait_condition(lambda: self.go, timeout=5)          # true at once: no timer
        out.append("already true")
        try:
            await workflow.wait_condition(lambda: False, timeout=timedelta(milliseconds=200))
            out.append("no timeout?")
        except asyncio.TimeoutError:
            out.append("timed out")
        return out


@workflow.defn
class ConditionBeatsTimeout:
    def __init__(self):
        self.go = False

    @workflow.signal
    def release(self):
        self.go = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go, timeout=30)
        return "released before the timeout"


@workflow.defn
class Signals:
    def __init__(self):
        self.got = []
        self.done = False

    @workflow.signal
    def add(self, item: str):
        self.got.append(f"add:{item}")

    @workflow.signal(name="finish")
    def finish_it(self):
        self.done = True

    @workflow.signal(dynamic=True)
    def other(self, name, *args):
        self.got.append(f"dynamic:{name}:{list(args)}")

    @workflow.query
    def items(self) -> list:
        return list(self.got)

    @workflow.run
    async def run(self) -> list:
        await workflow.wait_condition(lambda: self.done)
        return self.got


@workflow.defn
class LateHandler:
    def __init__(self):
        self.late = []
        self.ready = False

    @workflow.signal
    def open_up(self):
        self.ready = True

    @workflow.run
    async def run(self) -> list:
        await workflow.wait_condition(lambda: self.ready)
        # signals "late" sent before this point were buffered; setting the handler delivers them, in order
        workflow.set_signal_handler("late", lambda v: self.late.append(v))
        await workflow.wait_condition(lambda: len(self.late) >= 3)
        return self.late


@workflow.defn
class StartedWithSignal:
    @workflow.init
    def __init__(self, owner: str):
        self.owner = owner
        self.items = []

    @workflow.signal
    def add(self, item: str):
        self.items.append(f"{item} for {self.owner}")

    @workflow.run
    async def run(self, owner: str) -> list:
        return list(self.items)         # no wait: the start's signal was handled before run began


@workflow.defn
class Counter:
    def __init__(self):
        self.n = 0
        self.stop = False

    @workflow.signal
    def bump(self, by: int):
        self.n += by

    @workflow.signal
    def halt(self):
        self.stop = True

    @workflow.query
    def value(self) -> int:
        return self.n

    @workflow.query(name="times")
    def times_q(self, k: int) -> int:
        return self.n * k

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.stop)
        return self.n


@workflow.defn
class CancelOnActivity:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(wait_forever, start_to_close_timeout=timedelta(seconds=30),
                                               heartbeat_timeout=timedelta(seconds=2))


@workflow.defn
class CancelOnTimer:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(3600)
        return "woke"


@workflow.defn
class CancelCaught:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(3600)
            return "woke"
        except asyncio.CancelledError:
            # cleanup after a cancellation request: new commands are still allowed
            done = await workflow.execute_activity(echo, "cleaned up", start_to_close_timeout=SHORT)
            return f"cancelled, {done}"


@workflow.defn
class Looping:
    @workflow.run
    async def run(self, n: int, acc: list) -> dict:
        acc = [*acc, workflow.info().run_id]
        if n < 2:
            workflow.continue_as_new(args=[n + 1, acc])
        return {"n": n, "runs": acc, "continued_from": workflow.info().continued_run_id,
                "first": workflow.info().first_execution_run_id}


@workflow.defn
class Introspect:
    def __init__(self):
        self.go = False

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.run
    async def run(self, tag: str) -> dict:
        i = workflow.info()
        self.first_now = workflow.now().isoformat()
        self.uuids = [str(workflow.uuid4()), str(workflow.uuid4())]
        self.rand = workflow.random().randint(0, 10 ** 9)
        workflow.logger.info("introspect first activation %s", tag)
        # the uuids go into the history at once (the activity's input)
        await workflow.execute_activity(echo, self.uuids, start_to_close_timeout=SHORT)
        await workflow.wait_condition(lambda: self.go)
        workflow.logger.info("introspect after signal %s", tag)
        return {"last_now": workflow.now().isoformat(), "workflow_id": i.workflow_id, "run_id": i.run_id, "workflow_type": i.workflow_type,
                "task_queue": i.task_queue, "namespace": i.namespace, "attempt": i.attempt,
                "task_timeout": i.task_timeout.total_seconds() if i.task_timeout else None,
                "first_now": self.first_now, "uuids": self.uuids, "rand": self.rand,
                "replaying_now": workflow.unsafe.is_replaying(), "in_workflow": workflow.in_workflow()}


BROKEN = {"plain": True}


@workflow.defn
class Buggy:
    def __init__(self):
        self.pokes = 0

    @workflow.signal
    def poke(self):
        self.pokes += 1

    @workflow.run
    async def run(self) -> str:
        if BROKEN["plain"]:
            raise RuntimeError("a bug in the workflow code")
        return "fixed"


@workflow.defn
class Rejecting:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("business rule broken", {"order": 42}, type="OrderInvalid")


@workflow.defn
class RetriedWorkflow:
    @workflow.run
    async def run(self) -> dict:
        i = workflow.info()
        if i.attempt < 2:
            raise ApplicationError("first attempt fails")
        return {"attempt": i.attempt, "max": i.retry_policy.maximum_attempts, "continued": i.continued_run_id,
                "first": i.first_execution_run_id, "run": i.run_id}


# -- versions of one workflow type across a code change ("Versioned")
@workflow.defn(name="Versioned")
class VersionedV1:
    def __init__(self):
        self.go = False

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.run
    async def run(self) -> list:
        a = await workflow.execute_activity(echo, "old step", start_to_close_timeout=SHORT)
        await workflow.wait_condition(lambda: self.go)
        b = await workflow.execute_activity(echo, "end", start_to_close_timeout=SHORT)
        return [a, b]


@workflow.defn(name="Versioned")
class VersionedV2:
    def __init__(self):
        self.go = False

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.run
    async def run(self) -> list:
        if workflow.patched("new-step"):
            a = await workflow.execute_activity(upper, "new step", start_to_close_timeout=SHORT)
        else:
            a = await workflow.execute_activity(echo, "old step", start_to_close_timeout=SHORT)
        await workflow.wait_condition(lambda: self.go)
        # patched() answers once per run: the same answer after the code went on
        again = workflow.patched("new-step")
        b = await workflow.execute_activity(echo, "end", start_to_close_timeout=SHORT)
        return [a, b, again]


@workflow.defn(name="Versioned")
class VersionedV3:
    def __init__(self):
        self.go = False

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.run
    async def run(self) -> list:
        workflow.deprecate_patch("new-step")
        a = await workflow.execute_activity(upper, "new step", start_to_close_timeout=SHORT)
        await workflow.wait_condition(lambda: self.go)
        b = await workflow.execute_activity(echo, "end", start_to_close_timeout=SHORT)
        return [a, b, True]


@workflow.defn(name="Versioned")
class VersionedWrong:
    """A code change without a patch: the first activity's type changed."""

    def __init__(self):
        self.go = False

    @workflow.signal
    def proceed(self):
        self.go = True

    @workflow.run
    async def run(self) -> list:
        a = await workflow.execute_activity(upper, "old step", start_to_close_timeout=SHORT)
        await workflow.wait_condition(lambda: self.go)
        b = await workflow.execute_activity(echo, "end", start_to_close_timeout=SHORT)
        return [a, b]


@workflow.defn
class TypedByFunction:
    @workflow.run
    async def run(self, p: Parcel) -> dict:
        got = await workflow.execute_activity(pack, p.sku, start_to_close_timeout=SHORT)
        return {"arg": type(p).__name__, "result": type(got).__name__}


@workflow.defn
class TypedByName:
    @workflow.run
    async def run(self, sku: str) -> str:
        got = await workflow.execute_activity("pack", sku, start_to_close_timeout=SHORT, result_type=Parcel)
        return type(got).__name__


@workflow.defn
class Repack:
    @workflow.run
    async def run(self, p: Parcel) -> Parcel:
        return Parcel(p.sku.upper(), p.qty + 1)


ALL_ACTIVITIES = [echo, upper, flaky, refuse, wait_forever, pack, timed]


def _after_last_wft(h):
    """The history ends with a completed workflow task and its command events (the run is waiting)."""
    k = max((i for i, e in enumerate(h) if e["event_type"] == "WorkflowTaskCompleted"), default=None)
    return k is not None and all(e["event_type"] in COMMAND_EVENTS for e in h[k + 1:])


class WorkflowTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def worker(self, *workflows, **kw):
        return running(self.c, task_queue=self.q, workflows=list(workflows), activities=ALL_ACTIVITIES, **kw)

    async def wait_idle(self, wid, n_completed):
        """Wait until the run's n-th workflow task completed and nothing happened after it."""
        deadline = time.monotonic() + 10
        while True:
            h = await self.c.history(wid)
            if len(events(h, "WorkflowTaskCompleted")) >= n_completed and _after_last_wft(h):
                return h
            if time.monotonic() > deadline:
                self.fail(f"run {wid} not idle after {n_completed} tasks: {types(h)}")
            await asyncio.sleep(0.05)

    # -------------------------------------------------------------- activities
    async def test_activities_in_sequence_and_in_parallel(self):
        # https://docs.temporal.io/develop/python/core-application#activity-execution
        # (execute_activity; several at once with asyncio.gather), temporalio/sdk-python temporalio/workflow.py
        async with self.worker(Pipeline):
            wid, _ = await self.c.start("Pipeline", "ab", task_queue=self.q)
            self.assertEqual(await self.c.result(wid), ["AB", "AB-0", "AB-1", "AB-2"])
        h = await self.c.history(wid)
        sched = events(h, "ActivityTaskScheduled")
        self.assertEqual([e["attributes"]["activity_id"] for e in sched], ["1", "2", "3", "4"])
        self.assertEqual([e["attributes"]["input"] for e in sched], [["ab"], ["AB-0"], ["AB-1"], ["AB-2"]])
        # the three of the gather are scheduled by one workflow task
        self.assertEqual(len({e["attributes"]["workflow_task_completed_event_id"] for e in sched[1:]}), 1)
        self.assertNotEqual(sched[0]["attributes"]["workflow_task_completed_event_id"],
                            sched[1]["attributes"]["workflow_task_completed_event_id"])
        self.assertEqual(len(events(h, "ActivityTaskCompleted")), 4)

    async def test_parallel_activities_run_at_the_same_time(self):
        # https://docs.temporal.io/develop/python/core-application#activity-execution : activities started
        # together (asyncio.gather) run concurrently, up to the worker's max_concurrent_activities (temporalio/
        # sdk-python temporalio/worker/_worker.py; eager activities take activity slots:
        # https://python.temporal.io/temporalio.worker.CustomSlotSupplier.html try_reserve_slot)
        SEEN.pop("fan", None)
        async with self.worker(FanOut):                 # max_concurrent_activities: 4 by default
            wid, _ = await self.c.start("FanOut", "fan", task_queue=self.q)
            self.assertEqual(await self.c.result(wid), [0, 1, 2])
        starts = [t for kind, _, t in SEEN["fan"] if kind == "start"]
        ends = [t for kind, _, t in SEEN["fan"] if kind == "end"]
        # all three were running at once: the last started before the first ended
        self.assertLess(max(starts), min(ends), SEEN["fan"])

    async def test_eager_activities_do_not_hold_up_workflow_tasks(self):
        # Temporal's slots: workflow tasks and activities each have their own (https://docs.temporal.io/develop/
        # worker-performance#task-slots, "slot types for Activity, Workflow ..."); an activity a workflow task
        # hands to its worker eagerly takes an activity slot (CustomSlotSupplier.try_reserve_slot), so long
        # activities never keep the worker from running other workflows' tasks
        SEEN.pop("hold", None)
        async with self.worker(FanOut, Pipeline):       # 2 workflow-task slots by default
            w1, _ = await self.c.start("FanOut", "hold", task_queue=self.q)
            w2, _ = await self.c.start("FanOut", "hold", task_queue=self.q)
            await self.c.wait_event(w1, "ActivityTaskScheduled", count=3)
            await self.c.wait_event(w2, "ActivityTaskScheduled", count=3)
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
            w3, _ = await self.c.start("Pipeline", "x", task_queue=self.q)
            await self.c.wait_event(w3, "WorkflowTaskCompleted")
            waited = time.monotonic() - t0
            await self.c.result(w1)
            await self.c.result(w2)
        self.assertLess(waited, 0.5, "a workflow task waited for activities to finish")

    async def test_activity_retries_with_attempt_numbers(self):
        # https://docs.temporal.io/encyclopedia/retry-policies (initial interval, backoff, maximum attempts);
        # activity.info().attempt: temporalio/sdk-python temporalio/activity.py (Info.attempt, starts at 1)
        SEEN.pop("r1", None)
        async with self.worker(Retrying):
            wid, _ = await self.c.start("Retrying", "r1", task_queue=self.q)
            self.assertEqual(await self.c.result(wid), 3)
        self.assertEqual(SEEN["r1"], [1, 2, 3])
        h = await self.c.history(wid)
        started = events(h, "ActivityTaskStarted")
        self.assertEqual(len(started), 1)               # retries write no events, only the last attempt's
        self.assertEqual(started[0]["attributes"]["attempt"], 3)
        self.assertEqual(started[0]["attributes"]["last_failure"]["message"], "attempt 2 fails")
        self.assertEqual(started[0]["attributes"]["last_failure"]["type"], "RuntimeError")
        rp = events(h, "ActivityTaskScheduled")[0]["attributes"]["retry_policy"]
        self.assertEqual(rp["maximum_attempts"], 5)

    async def test_activity_failure_is_activity_error_with_application_error_cause(self):
        # https://docs.temporal.io/develop/python/failure-detection ; temporalio/sdk-python
        # temporalio/exceptions.py: ActivityError whose cause is the ApplicationError the activity raised
        # (type, details, non_retryable); non_retryable_error_types of RetryPolicy (temporalio/common.py)
        SEEN.pop("listed", None)
        SEEN.pop("always", None)
        async with self.worker(Failing):
            w1, _ = await self.c.start("Failing", "non_retryable", task_queue=self.q)
            w2, _ = await self.c.start("Failing", "listed", task_queue=self.q)
            w3, _ = await self.c.start("Failing", "always", task_queue=self.q)
            r1, r2, r3 = await self.c.result(w1), await self.c.result(w2), await self.c.result(w3)
        self.assertEqual(r1, {"error": "ActivityError", "activity_type": "refuse", "activity_id": "1",
                              "retry_state": "NON_RETRYABLE_FAILURE", "cause": "ApplicationError",
                              "message": "card declined", "type": "CardDeclined", "non_retryable": True,
                              "details": ["d1", {"code": 7}]})
        # a retryable error whose type the policy lists is not retried
        self.assertEqual((r2["cause"], r2["type"], r2["retry_state"]), ("ApplicationError", "Fatal",
                                                                        "NON_RETRYABLE_FAILURE"))
        self.assertEqual(SEEN["listed"], [1])
        # any other exception: retried up to maximum_attempts, then its class name is the type
        self.assertEqual((r3["type"], r3["message"], r3["retry_state"]), ("ValueError", "always bad",
                                                                          "MAXIMUM_ATTEMPTS_REACHED"))
        self.assertEqual(SEEN["always"], [1, 2])
        f = events(await self.c.history(w1), "ActivityTaskFailed")[0]["attributes"]["failure"]
        self.assertEqual((f["type"], f["non_retryable"], f["details"]), ("CardDeclined", True, ["d1", {"code": 7}]))

    async def test_dataclasses_in_and_out_through_the_client(self):
        # https://docs.temporal.io/develop/python/core-application#workflow-parameters (dataclass parameters);
        # temporalio/sdk-python temporalio/client.py execute_workflow decodes the result by the run method's
        # return type
        async with self.worker(Repack):
            r = await self.c.execute_workflow(Repack.run, Parcel("ab", 1), id=f"repack-{self.q}", task_queue=self.q)
        self.assertEqual(r, Parcel("AB", 2))
        h = await self.c.history(f"repack-{self.q}")
        self.assertEqual(h[0]["attributes"]["input"], [{"sku": "ab", "qty": 1}])

    async def test_activity_result_is_decoded_to_its_return_type(self):
        # temporalio/sdk-python temporalio/workflow.py start_activity/execute_activity: the result is converted
        # to the activity function's return type hint, or to `result_type` ("For string activities, this can
        # set the specific result type hint to deserialize into"); https://docs.temporal.io/develop/python/
        # core-application#activity-parameters (dataclasses as parameters and results)
        async with self.worker(TypedByFunction, TypedByName):
            w1, _ = await self.c.start("TypedByFunction", {"sku": "a", "qty": 1}, task_queue=self.q)
            w2, _ = await self.c.start("TypedByName", "b", task_queue=self.q)
            r1 = await self.c.result(w1)
            try:
                r2 = await self.c.result(w2, wait=3)
            except Exception as e:          # noqa: BLE001
                f = events(await self.c.history(w2), "WorkflowTaskFailed")
                r2 = f"{type(e).__name__}; task failure: {f[0]['attributes']['failure']['message'] if f else None}"
        self.assertEqual(r1, {"arg": "Parcel", "result": "Parcel"})
        self.assertEqual(r2, "Parcel")

    async def test_reraised_activity_error_fails_the_workflow(self):
        # temporalio/sdk-python temporalio/worker/_workflow_instance.py: a FailureError (ActivityError)
        # escaping the run method fails the workflow; the client's WorkflowFailureError has it as cause
        async with self.worker(Reraise):
            wid, _ = await self.c.start("Reraise", task_queue=self.q)
            with self.assertRaises(WorkflowFailureError) as cm:
                await self.c.result(wid)
        self.assertIsInstance(cm.exception.cause, ActivityError)
        self.assertIsInstance(cm.exception.cause.cause, ApplicationError)
        self.assertEqual(cm.exception.cause.cause.type, "CardDeclined")
        f = events(await self.c.history(wid), "WorkflowExecutionFailed")[0]["attributes"]["failure"]
        self.assertEqual(f["type"], "ActivityFailure")
        self.assertEqual(f["cause"]["type"], "CardDeclined")

    # -------------------------------------------------------------- timers and conditions
    async def test_workflow_sleep_and_asyncio_sleep_are_durable_timers(self):
        # https://docs.temporal.io/develop/python/timers : "asyncio.sleep / workflow.sleep create durable timers"
        async with self.worker(Sleeper):
            wid, _ = await self.c.start("Sleeper", task_queue=self.q)
            d1, d2 = await self.c.result(wid)
        h = await self.c.history(wid)
        started = events(h, "TimerStarted")
        self.assertEqual([e["attributes"]["timer_id"] for e in started], ["1", "2"])
        self.assertEqual([to_seconds(e["attributes"]["start_to_fire_timeout"]) for e in started], [0.3, 0.3])
        self.assertEqual([e["attributes"]["timer_id"] for e in events(h, "TimerFired")], ["1", "2"])
        # the workflow's clock moved by at least the timer (the next task's start time)
        self.assertGreaterEqual(d1, 0.3)
        self.assertGreaterEqual(d2, 0.3)

    async def test_asyncio_wait_timeout_and_shield(self):
        # temporalio/sdk-python README "asyncio and Determinism": workflows may use asyncio's task tools
        # (asyncio.wait, asyncio.timeout/wait_for, asyncio.shield) on the deterministic loop; a timeout is a
        # durable timer and cancels what it bounds (TimerCanceled, ActivityTaskCancelRequested)
        async with self.worker(Races):
            wid, _ = await self.c.start("Races", task_queue=self.q)
            self.assertEqual(await self.c.result(wid), {"first": "activity", "timeout": "yes", "shielded": "S"})
        h = await self.c.history(wid)
        t = types(h)
        self.assertEqual(t.count("TimerStarted"), 2)
        self.assertIn("TimerCanceled", t)
        self.assertIn("ActivityTaskCancelRequested", t)
        await Replayer(workflows=[Races]).replay_workflow(h)

    async def test_wait_condition_with_and_without_timeout(self):
        # temporalio/sdk-python temporalio/workflow.py wait_condition: "timeout ... raises asyncio.TimeoutError";
        # https://docs.temporal.io/develop/python/message-passing (wait_condition with signal handlers)
        async with self.worker(Conditions, ConditionBeatsTimeout):
            wid, _ = await self.c.start("Conditions", task_queue=self.q)
            w2, _ = await self.c.start("ConditionBeatsTimeout", task_queue=self.q)
            await self.wait_idle(wid, 1)
            await self.wait_idle(w2, 1)
            await self.c.signal(wid, "release")
            await self.c.signal(w2, "release")
            self.assertEqual(await self.c.result(wid), ["released", "already true", "timed out"])
            self.assertEqual(await self.c.result(w2), "released before the timeout")
        h = await self.c.history(wid)
        # only the condition that timed out had a timer (the one true at once has none)
        self.assertEqual([to_seconds(e["attributes"]["start_to_fire_timeout"]) for e in events(h, "TimerStarted")],
                         [0.2])
        self.assertEqual(len(events(h, "TimerFired")), 1)
        h2 = await self.c.history(w2)
        self.assertEqual(len(events(h2, "TimerStarted")), 1)
        self.assertEqual(len(events(h2, "TimerCanceled")), 1)          # satisfied first: its timer is cancelled
        self.assertEqual(len(events(h2, "TimerFired")), 0)

    # -------------------------------------------------------------- signals and queries
    async def test_signal_handlers_and_dynamic_signals(self):
        # https://docs.temporal.io/develop/python/message-passing#signals (@workflow.signal, name=, dynamic=True);
        # NOTE durable calls a dynamic handler as (name, *args) (the SDK's docstring), where
        # temporalio/sdk-python temporalio/workflow.py passes (name, args: Sequence[RawValue])
        async with self.worker(Signals):
            wid, _ = await self.c.start("Signals", task_queue=self.q)
            await self.c.signal(wid, "add", "a")
            await self.c.signal(wid, "unknown-one", 1, 2)
            await self.c.signal(wid, "add", "b")
            await self.c.signal(wid, "finish")
            self.assertEqual(await self.c.result(wid), ["add:a", "dynamic:unknown-one:[1, 2]", "add:b"])

    async def test_signals_buffered_until_handler_is_set(self):
        # temporalio/sdk-python temporalio/workflow.py set_signal_handler: "buffered signals ... are
        # delivered" when a handler is set; https://docs.temporal.io/develop/python/message-passing#dynamic-handler
        async with self.worker(LateHandler):
            wid, _ = await self.c.start("LateHandler", task_queue=self.q)
            for v in ("x", "y", "z"):
                await self.c.signal(wid, "late", v)
            await self.c.wait_event(wid, "WorkflowExecutionSignaled", count=3)
            await self.c.signal(wid, "open_up")
            self.assertEqual(await self.c.result(wid), ["x", "y", "z"])

    async def test_signal_with_start_is_handled_before_run(self):
        # https://temporal.io/changelog/new-workflow-init-decorator-allows-__init__-to-receive-the-workflow
        # (sdk-python 1.8.0): "@workflow.init ... useful for message handlers, since these may execute before
        # the @workflow.run method" -- Temporal Python applies an activation's signals, and runs their handlers,
        # before it starts the run method (temporalio/sdk-python temporalio/worker/_workflow_instance.py
        # activate: the signal job set, one loop iteration, then the start job set); signal-with-start:
        # https://docs.temporal.io/develop/python/message-passing#signal-with-start
        async with self.worker(StartedWithSignal):
            h = await self.c.start_workflow(StartedWithSignal.run, "ann", id=f"sws-{self.q}", task_queue=self.q,
                                            start_signal=StartedWithSignal.add, start_signal_args=["tea"])
            self.assertEqual(await h.result(), ["tea for ann"])

    async def test_queries_and_unknown_query(self):
        # https://docs.temporal.io/develop/python/message-passing#queries ; an unknown query fails the
        # query (temporalio/sdk-python temporalio/client.py WorkflowQueryFailedError)
        # the Client's handle, with the handler methods as references (temporalio/sdk-python temporalio/client.py
        # WorkflowHandle.signal / query take the decorated method or its name)
        async with self.worker(Counter):
            handle = await self.c.start_workflow(Counter.run, id=f"counter-{self.q}", task_queue=self.q)
            await handle.signal(Counter.bump, 2)
            await handle.signal("bump", 3)
            wid = handle.id
            await self.c.wait_event(wid, "WorkflowExecutionSignaled", count=2)
            self.assertEqual(await handle.query(Counter.value), 5)
            self.assertEqual(await handle.query(Counter.times_q, 10), 50)
            self.assertEqual(await handle.query("times", 3), 15)
            with self.assertRaises(WorkflowQueryFailedError) as cm:
                await handle.query("no_such_query")
            self.assertIn("no_such_query", str(cm.exception))
            n = len((await handle.fetch_history()).events)
            await handle.signal(Counter.halt)
            self.assertEqual(await handle.result(), 5)
            # a closed workflow still answers
            self.assertEqual(await handle.query(Counter.value), 5)
        # queries write no history
        h = await self.c.history(wid)
        # (after the queries: the halt signal, its workflow task and the completion, nothing else)
        self.assertEqual(types(h)[n:], ["WorkflowExecutionSignaled", "WorkflowTaskScheduled", "WorkflowTaskStarted",
                                        "WorkflowTaskCompleted", "WorkflowExecutionCompleted"])

    # -------------------------------------------------------------- cancellation
    async def test_cancel_while_waiting_on_activity(self):
        # https://docs.temporal.io/develop/python/cancellation : a cancelled workflow's pending activity
        # is cancelled (TRY_CANCEL: request_cancel_activity, the workflow does not wait); the run closes
        # as cancelled and the client sees WorkflowFailureError caused by CancelledError
        SEEN.pop("wait_forever", None)
        async with self.worker(CancelOnActivity):
            wid, _ = await self.c.start("CancelOnActivity", task_queue=self.q)
            await self.c.wait_event(wid, "ActivityTaskScheduled")
            while "started" not in SEEN.get("wait_forever", []):
                await asyncio.sleep(0.05)
            await self.c.cancel(wid, "enough")
            with self.assertRaises(WorkflowFailureError) as cm:
                await self.c.result(wid)
            self.assertIsInstance(cm.exception.cause, CancelledError)
            self.assertEqual(cm.exception.status, "canceled")
            deadline = time.monotonic() + 5
            while "cancelled" not in SEEN["wait_forever"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        h = await self.c.history(wid)
        t = types(h)
        self.assertIn("WorkflowExecutionCancelRequested", t)
        self.assertIn("ActivityTaskCancelRequested", t)
        self.assertEqual(t[-1], "WorkflowExecutionCanceled")
        self.assertLess(t.index("ActivityTaskCancelRequested"), t.index("WorkflowExecutionCanceled"))
        # the activity learns of it through its heartbeat
        self.assertIn("cancelled", SEEN["wait_forever"])

    async def test_cancel_while_waiting_on_timer(self):
        # https://docs.temporal.io/develop/python/cancellation ; the timer is cancelled (cancel_timer)
        async with self.worker(CancelOnTimer):
            wid, _ = await self.c.start("CancelOnTimer", task_queue=self.q)
            await self.c.wait_event(wid, "TimerStarted")
            await self.c.cancel(wid)
            with self.assertRaises(WorkflowFailureError) as cm:
                await self.c.result(wid)
            self.assertIsInstance(cm.exception.cause, CancelledError)
        t = types(await self.c.history(wid))
        self.assertEqual(t[-2:], ["TimerCanceled", "WorkflowExecutionCanceled"])

    async def test_workflow_that_catches_cancellation_completes(self):
        # https://docs.temporal.io/develop/python/cancellation : "catch asyncio.CancelledError ... perform
        # cleanup" -- the workflow may run activities after the request, and returns normally
        async with self.worker(CancelCaught):
            wid, _ = await self.c.start("CancelCaught", task_queue=self.q)
            await self.c.wait_event(wid, "TimerStarted")
            await self.c.cancel(wid)
            self.assertEqual(await self.c.result(wid), "cancelled, cleaned up")
        t = types(await self.c.history(wid))
        self.assertEqual(t[-1], "WorkflowExecutionCompleted")
        self.assertIn("ActivityTaskCompleted", t)

    async def test_cancel_requested_before_the_first_task_reaches_the_code(self):
        # temporalio/sdk-python temporalio/worker/_workflow_instance.py _apply_cancel_workflow: "The primary task
        # may not have started yet and we want to give the workflow the ability to receive the cancellation, so
        # we must defer this cancellation to the next iteration of the event loop" -- a workflow cancelled
        # before its first task still gets asyncio.CancelledError at its first await, and can clean up
        wid, _ = await self.c.start("CancelCaught", task_queue=self.q)
        await self.c.cancel(wid)                    # before any worker ran it
        async with self.worker(CancelCaught):
            self.assertEqual(await self.c.result(wid, wait=5), "cancelled, cleaned up")
        t = types(await self.c.history(wid))
        self.assertEqual(t[-1], "WorkflowExecutionCompleted")

    # -------------------------------------------------------------- continue-as-new
    async def test_continue_as_new(self):
        # https://docs.temporal.io/develop/python/continue-as-new ; workflow.continue_as_new
        # (temporalio/sdk-python temporalio/workflow.py); the client's result follows the chain
        async with self.worker(Looping):
            wid, first = await self.c.start("Looping", 0, [], task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual(r["n"], 2)
        self.assertEqual(len(r["runs"]), 3)
        self.assertEqual(r["runs"][0], first)
        self.assertEqual(r["continued_from"], r["runs"][1])
        self.assertEqual(r["first"], first)
        h1 = await self.c.history(wid, first)
        self.assertEqual(h1[-1]["event_type"], "WorkflowExecutionContinuedAsNew")
        self.assertEqual(h1[-1]["attributes"]["input"], [1, [first]])
        self.assertEqual(h1[-1]["attributes"]["new_execution_run_id"], r["runs"][1])
        # result(follow_runs=False) of the first run: WorkflowContinuedAsNewError (temporalio/client.py)
        with self.assertRaises(WorkflowContinuedAsNewError):
            await self.c.get_workflow_handle(wid, run_id=first).result(follow_runs=False)
        # both runs' histories replay (the first ends with its continue_as_new command)
        await Replayer(workflows=[Looping]).replay_workflow(h1)
        await Replayer(workflows=[Looping]).replay_workflow(await self.c.history(wid))

    async def test_workflow_retry_attempt_in_info(self):
        # https://docs.temporal.io/encyclopedia/retry-policies#workflow-execution-retries ; temporalio/sdk-python
        # temporalio/workflow.py Info.attempt ("starts at 1"), Info.retry_policy, first_execution_run_id
        async with self.worker(RetriedWorkflow):
            wid, first = await self.c.start("RetriedWorkflow", task_queue=self.q, retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=3))
            r = await self.c.result(wid)
        self.assertEqual((r["attempt"], r["max"], r["continued"], r["first"]), (2, 3, first, first))
        self.assertNotEqual(r["run"], first)
        h1 = await self.c.history(wid, first)
        self.assertEqual(h1[-1]["event_type"], "WorkflowExecutionFailed")
        self.assertEqual(h1[-1]["attributes"]["new_execution_run_id"], r["run"])

    # -------------------------------------------------------------- versioning
    async def test_patched_across_a_code_change(self):
        # https://docs.temporal.io/develop/python/versioning#patching : workflow.patched is false when
        # replaying a history without the marker (old path), true for new runs (marker recorded);
        # deprecate_patch (temporalio/sdk-python temporalio/workflow.py) once no old run is open
        async with self.worker(VersionedV1):
            old, _ = await self.c.start("Versioned", task_queue=self.q)
            await self.wait_idle(old, 2)         # ran "old step", waits for the signal
        async with self.worker(VersionedV2):
            await self.c.signal(old, "proceed")
            self.assertEqual(await self.c.result(old), ["old step", "end", False])
            new, _ = await self.c.start("Versioned", task_queue=self.q)
            await self.wait_idle(new, 2)
        ho = await self.c.history(old)
        self.assertEqual([e["attributes"]["input"] for e in events(ho, "ActivityTaskScheduled")],
                         [["old step"], ["end"]])
        self.assertEqual(events(ho, "MarkerRecorded"), [])
        hn = await self.c.history(new)
        m = events(hn, "MarkerRecorded")
        self.assertEqual(len(m), 1)
        self.assertEqual(m[0]["attributes"]["marker_name"], "core_patch")
        self.assertEqual(m[0]["attributes"]["details"]["patch_id"], "new-step")
        self.assertEqual(events(hn, "ActivityTaskScheduled")[0]["attributes"]["activity_type"], "upper")
        # v3 deprecates the patch: it finishes the new-path run, and replays the histories of both kinds of run
        async with self.worker(VersionedV3):
            await self.c.signal(new, "proceed")
            self.assertEqual(await self.c.result(new), ["NEW STEP", "end", True])
            newest, _ = await self.c.start("Versioned", task_queue=self.q)
            await self.c.signal(newest, "proceed")
            self.assertEqual(await self.c.result(newest), ["NEW STEP", "end", True])
        hn = await self.c.history(new)
        await Replayer(workflows=[VersionedV2]).replay_workflow(hn)
        await Replayer(workflows=[VersionedV3]).replay_workflow(hn)
        await Replayer(workflows=[VersionedV2]).replay_workflow(ho)
        self.assertTrue(events(await self.c.history(newest), "MarkerRecorded")[0]["attributes"]["details"]
                        ["deprecated"])

    async def test_non_determinism_fails_the_task_until_the_right_code_is_back(self):
        # https://docs.temporal.io/workflows#deterministic-constraints ; temporalio/sdk-python
        # temporalio/workflow.py NondeterminismError: a mismatch fails the workflow task (not the run),
        # which is retried; deploying the right code lets the run go on
        async with self.worker(VersionedV1):
            wid, _ = await self.c.start("Versioned", task_queue=self.q)
            await self.wait_idle(wid, 2)
        async with self.worker(VersionedWrong):
            await self.c.signal(wid, "proceed")
            h = await self.c.wait_event(wid, "WorkflowTaskFailed")
        f = events(h, "WorkflowTaskFailed")[0]["attributes"]
        self.assertEqual(f["cause"], "NonDeterminismError")
        self.assertEqual(f["failure"]["type"], "NonDeterminismError")
        self.assertIn("ActivityTaskScheduled", f["failure"]["message"])
        sched = events(h, "ActivityTaskScheduled")[0]
        self.assertEqual(f["failure"]["details"]["event_id"], sched["event_id"])
        d = await self.c.describe(wid)
        self.assertEqual(d["status"], "running")
        async with self.worker(VersionedV1):
            await self.c.signal(wid, "proceed")      # an event makes the retry a regular task at once
            self.assertEqual(await self.c.result(wid), ["old step", "end"])
        # the whole history, its failed task included, replays with the right code only
        h = await self.c.history(wid)
        self.assertIn("WorkflowTaskFailed", types(h))
        await Replayer(workflows=[VersionedV1]).replay_workflow(h)
        with self.assertRaises(workflow.NondeterminismError):
            await Replayer(workflows=[VersionedWrong]).replay_workflow(h)

    # -------------------------------------------------------------- info, uuid4, now, logger
    async def test_info_uuid4_now_and_logger(self):
        # temporalio/sdk-python temporalio/workflow.py: info() (Info fields), uuid4() "deterministic ... same
        # across replays", now() "the current time ... deterministic" (the workflow task's time),
        # logger "skips logging during replay" (https://docs.temporal.io/develop/python/observability#logging)
        log = logging.getLogger("durable.workflow")
        with self.assertLogs(log, level="INFO") as logs:
            async with self.worker(Introspect):
                wid, rid = await self.c.start("Introspect", "t1", task_queue=self.q, task_timeout=7)
                h = await self.wait_idle(wid, 2)
                await self.c.signal(wid, "proceed")
                r = await self.c.result(wid)
        self.assertEqual((r["workflow_id"], r["run_id"], r["workflow_type"], r["task_queue"], r["namespace"],
                          r["attempt"], r["task_timeout"]), (wid, rid, "Introspect", self.q, "default", 1, 7.0))
        self.assertTrue(r["in_workflow"])
        self.assertFalse(r["replaying_now"])
        # uuid4: the values of the first task (in the activity's input) are those of the last replay
        self.assertEqual(events(h, "ActivityTaskScheduled")[0]["attributes"]["input"], [r["uuids"]])
        self.assertNotEqual(r["uuids"][0], r["uuids"][1])
        # now(): the first task's WorkflowTaskStarted time
        first_started = events(h, "WorkflowTaskStarted")[0]["event_time"]
        self.assertEqual(datetime.fromisoformat(r["first_now"]), datetime.fromisoformat(first_started))
        # ... and in the last task, that task's
        last_started = events(await self.c.history(wid), "WorkflowTaskStarted")[-1]["event_time"]
        self.assertEqual(datetime.fromisoformat(r["last_now"]), datetime.fromisoformat(last_started))
        # a replay of the whole history makes the same values again
        full = await self.c.history(wid)
        inst = replay_stored(Introspect.__durable_workflow__, full, workflow_id=wid, run_id=rid,
                             namespace="default", task_queue=self.q)
        self.assertEqual((inst.obj.uuids, inst.obj.rand, inst.obj.first_now), (r["uuids"], r["rand"], r["first_now"]))
        # the logger: each line once, though the first activation was replayed by every later task
        msgs = [m for m in logs.output if "introspect" in m]
        self.assertEqual(len([m for m in msgs if "first activation t1" in m]), 1, msgs)
        self.assertEqual(len([m for m in msgs if "after signal t1" in m]), 1, msgs)
        self.assertGreaterEqual(len(events(full, "WorkflowTaskCompleted")), 3)

    # -------------------------------------------------------------- how a workflow fails
    async def test_plain_exception_fails_the_task_and_application_error_fails_the_workflow(self):
        # temporalio/sdk-python README "Exceptions": a non-FailureError exception raised by the workflow
        # fails the workflow task (retried, the run stays open); ApplicationError fails the workflow
        # (https://docs.temporal.io/develop/python/failure-detection#throw-from-workflows)
        BROKEN["plain"] = True
        async with self.worker(Buggy, Rejecting):
            wid, _ = await self.c.start("Buggy", task_queue=self.q)
            h = await self.c.wait_event(wid, "WorkflowTaskFailed")
            f = events(h, "WorkflowTaskFailed")[0]["attributes"]
            self.assertEqual(f["cause"], "RuntimeError")
            self.assertEqual(f["failure"]["message"], "a bug in the workflow code")
            self.assertIn("stack_trace", f["failure"])
            self.assertEqual((await self.c.describe(wid))["status"], "running")
            # the task is retried (attempts 2 and 3 at once, docs/protocol.md "Failed and timed-out workflow tasks")
            deadline = time.monotonic() + 5
            while ((await self.c.describe(wid))["pending_workflow_task"] or {}).get("attempt", 0) < 3:
                self.assertLess(time.monotonic(), deadline, await self.c.describe(wid))
                await asyncio.sleep(0.05)
            BROKEN["plain"] = False                  # "deploy the fix"
            await self.c.signal(wid, "poke")
            self.assertEqual(await self.c.result(wid), "fixed")

            w2, _ = await self.c.start("Rejecting", task_queue=self.q)
            with self.assertRaises(WorkflowFailureError) as cm:
                await self.c.result(w2)
        cause = cm.exception.cause
        self.assertIsInstance(cause, ApplicationError)
        self.assertEqual((cause.type, cause.message, list(cause.details)), ("OrderInvalid", "business rule broken",
                                                                           [{"order": 42}]))
        t = types(await self.c.history(w2))
        self.assertEqual(t[-1], "WorkflowExecutionFailed")
        self.assertNotIn("WorkflowTaskFailed", t)


if __name__ == "__main__":
    unittest.main()

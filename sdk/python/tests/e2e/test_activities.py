"""Activities run by a real durable.worker.Worker on a real cluster:
heartbeats (details to the next attempt, cancellation through them, from
sync activities in the thread pool), exactly-once completion in the
activity's own transaction (activity.connection()), and the worker's
shutdown giving back what it holds (durable.release_tasks).
"""
import asyncio
import threading
import time
import unittest
from datetime import timedelta

import psycopg

try:
    import harness
except ImportError:                 # run as tests.e2e.test_activities from sdk/python
    from tests import harness

from durable import activity, workflow
from durable.common import RetryPolicy
from durable.exceptions import ActivityError, CancelledError

from ._e2e import E2EClient, events, queue, running, types

CLUSTER = harness.ModuleCluster()
tearDownModule = CLUSTER.stop


def setUpModule():
    CLUSTER.start()
    with psycopg.connect(CLUSTER.dsn, autocommit=True) as c:
        c.execute("CREATE TABLE eo_rows (k text NOT NULL, attempt int NOT NULL)")


SEEN: dict = {}
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0, maximum_attempts=4)


def seen(key):
    return SEEN.setdefault(key, [])


async def until(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------ activities
@activity.defn
async def progress(key: str) -> dict:
    i = activity.info()
    seen(key).append({"attempt": i.attempt, "details": list(i.heartbeat_details)})
    if i.attempt == 1:
        activity.heartbeat({"done": 3})
        await asyncio.sleep(60)          # stops heartbeating: the heartbeat timeout ends the attempt
    return {"resumed_from": i.heartbeat_details[0] if i.heartbeat_details else None, "attempt": i.attempt}


@activity.defn
async def several_details(key: str) -> list:
    i = activity.info()
    if i.attempt == 1:
        activity.heartbeat("step", 3, {"of": 5})       # several details in one heartbeat
        await asyncio.sleep(60)                         # then silence: heartbeat timeout
    return list(i.heartbeat_details)


@activity.defn
async def throttled(key: str) -> list:
    i = activity.info()
    seen(key).append(list(i.heartbeat_details))
    if i.attempt == 1:
        activity.heartbeat("first")      # sent at once
        await asyncio.sleep(0.05)
        activity.heartbeat("last")       # held back by the throttle (0.8 x heartbeat timeout)
        raise RuntimeError("fails after heartbeating")
    return list(i.heartbeat_details)


@activity.defn
async def cancellable(key: str) -> str:
    seen(key).append("started")
    try:
        while True:
            activity.heartbeat("working")
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        seen(key).append(("cancelled", activity.is_cancelled()))
        raise


@activity.defn
def sync_beater(key: str, seconds: float) -> dict:
    """A plain def activity: runs in the worker's thread pool, heartbeats from there."""
    seen(key).append(threading.current_thread().name)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        activity.heartbeat(n)
        n += 1
        time.sleep(0.1)
    return {"beats": n, "attempt": activity.info().attempt, "thread": threading.current_thread().name}


@activity.defn
def sync_cancellable(key: str) -> str:
    seen(key).append("started")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        activity.heartbeat()
        if activity.is_cancelled():
            seen(key).append("saw is_cancelled")
            raise asyncio.CancelledError()
        time.sleep(0.05)
    return "not cancelled"


@activity.defn
def sync_cancellable_temporal_style(key: str) -> str:
    """Raises the SDK's CancelledError once cancelled, as Temporal raises
    temporalio.exceptions.CancelledError in a sync activity's thread."""
    seen(key).append("started")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        activity.heartbeat()
        if activity.is_cancelled():
            seen(key).append("saw is_cancelled")
            raise CancelledError("cancelled")
        time.sleep(0.05)
    return "not cancelled"


@activity.defn
async def write_in_own_tx(key: str, seconds: float, fail_first: bool) -> str:
    i = activity.info()
    conn = await activity.connection()
    assert conn is await activity.connection()       # one connection per attempt
    await conn.execute("INSERT INTO eo_rows (k, attempt) VALUES (%s, %s), (%s, %s)", (key, i.attempt, key, i.attempt))
    seen(key).append(("inserted", i.attempt))
    if fail_first and i.attempt == 1:
        raise RuntimeError("fails after its inserts")
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        activity.heartbeat(round(time.monotonic() - t0, 1))
        await asyncio.sleep(0.2)
    return f"wrote 2 rows in attempt {i.attempt}"


@activity.defn
async def write_then_go_quiet(key: str) -> str:
    """Attempt 1 writes in its own transaction, then stops heartbeating past its heartbeat timeout."""
    i = activity.info()
    conn = await activity.connection()
    await conn.execute("INSERT INTO eo_rows (k, attempt) VALUES (%s, %s)", (key, i.attempt))
    seen(key).append(("inserted", i.attempt))
    if i.attempt == 1:
        activity.heartbeat("one")
        await asyncio.sleep(2.0)         # heartbeat timeout 0.5 s: the attempt times out meanwhile
        seen(key).append("attempt 1 returns")
    return f"attempt {i.attempt}"


@activity.defn
async def slow_first(key: str) -> int:
    a = activity.info().attempt
    seen(key).append(a)
    if a == 1:
        await asyncio.sleep(1.2)         # past its start-to-close timeout; its late completion is refused
    return a


@activity.defn
async def always_slow(key: str) -> int:
    await asyncio.sleep(0.6)
    return 1


@activity.defn
async def finishes_soon(key: str) -> str:
    seen(key).append("started")
    await asyncio.sleep(0.6)
    seen(key).append("finished")
    return "finished on the stopping worker"


@activity.defn(name="held")
async def held_forever(key: str) -> str:
    seen(key).append("A started")
    await asyncio.sleep(3600)
    return "A"


@activity.defn(name="held")
async def held_quick(key: str) -> str:
    seen(key).append(f"B started attempt {activity.info().attempt}")
    return "B"


# ------------------------------------------------------------------ workflows
@workflow.defn
class RunOne:
    """Runs one activity by name with the options in `opts`; returns its result."""

    @workflow.run
    async def run(self, name: str, args: list, opts: dict):
        return await workflow.execute_activity(
            name, args=args, start_to_close_timeout=timedelta(seconds=opts.get("start_to_close", 20)),
            heartbeat_timeout=timedelta(seconds=opts["heartbeat"]) if "heartbeat" in opts else None,
            retry_policy=FAST_RETRY)


@workflow.defn
class Timeouts:
    @workflow.run
    async def run(self, key: str) -> dict:
        first = await workflow.execute_activity(slow_first, key, start_to_close_timeout=timedelta(seconds=0.4),
                                                retry_policy=FAST_RETRY)
        try:
            await workflow.execute_activity(always_slow, key, start_to_close_timeout=timedelta(seconds=0.25),
                                            schedule_to_close_timeout=timedelta(seconds=0.8),
                                            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)))
            return {"first": first, "second": "completed?"}
        except ActivityError as e:
            return {"first": first, "cause": type(e.cause).__name__, "timeout_type": e.cause.type.name,
                    "retry_state": getattr(e.retry_state, "name", e.retry_state)}


@workflow.defn
class CancelIt:
    """Starts an activity, cancels it after a while, then waits for the test's "finish"."""

    def __init__(self):
        self.finish = False

    @workflow.signal
    def done(self):
        self.finish = True

    @workflow.run
    async def run(self, name: str, key: str) -> str:
        h = workflow.start_activity(name, key, start_to_close_timeout=timedelta(seconds=30),
                                    heartbeat_timeout=timedelta(seconds=1))
        await workflow.sleep(0.4)
        h.cancel()
        try:
            await h
            outcome = "completed"
        except ActivityError as e:      # TRY_CANCEL: the handle resolves at once, caused by CancelledError
            outcome = "cancelled" if isinstance(e.__cause__, CancelledError) else f"ActivityError: {e.__cause__!r}"
        except Exception as e:          # noqa: BLE001
            outcome = f"{type(e).__name__}: {e.__cause__!r}"
        await workflow.wait_condition(lambda: self.finish)
        return outcome


class ActivityTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()

    async def asyncTearDown(self):
        await self.c.close()

    def worker(self, *activities, workflows=(RunOne, CancelIt), **kw):
        return running(self.c, task_queue=self.q, workflows=list(workflows), activities=list(activities), **kw)

    # -------------------------------------------------------------- heartbeats
    async def test_heartbeat_details_reach_the_next_attempt_after_heartbeat_timeout(self):
        # https://docs.temporal.io/develop/python/failure-detection#activity-heartbeats : heartbeat details
        # are available to the next attempt in activity.info().heartbeat_details (temporalio/sdk-python
        # temporalio/activity.py Info.heartbeat_details); a missed heartbeat times the attempt out (HEARTBEAT)
        async with self.worker(progress):
            wid, _ = await self.c.start("RunOne", "progress", ["p"], {"heartbeat": 1}, task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual(r, {"resumed_from": {"done": 3}, "attempt": 2})
        self.assertEqual(SEEN["p"], [{"attempt": 1, "details": []}, {"attempt": 2, "details": [{"done": 3}]}])
        h = await self.c.history(wid)
        st = events(h, "ActivityTaskStarted")[0]["attributes"]
        self.assertEqual(st["attempt"], 2)
        self.assertEqual(st["last_failure"]["timeout_type"], "HEARTBEAT")
        self.assertNotIn("ActivityTaskTimedOut", types(h))

    async def test_heartbeat_with_several_details(self):
        # temporalio/sdk-python temporalio/activity.py: heartbeat(*details) and Info.heartbeat_details, "details
        # from the last heartbeat of the last attempt": heartbeat("step", 3, {...}) -> ["step", 3, {...}]
        async with self.worker(several_details):
            wid, _ = await self.c.start("RunOne", "several_details", ["sd"], {"heartbeat": 0.5}, task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual(r, ["step", 3, {"of": 5}])

    async def test_throttled_heartbeat_is_sent_before_the_attempt_fails(self):
        # Heartbeats are throttled (temporalio/sdk-python temporalio/activity.py heartbeat: "throttled");
        # the last details given before a failure must not be lost: durable's TypeScript SDK sends a
        # held-back heartbeat before fail_activity (sdk/typescript/README.md "Writing activities"), and the
        # Python worker has _Context.flush() for it.
        async with self.worker(throttled):
            wid, _ = await self.c.start("RunOne", "throttled", ["t"], {"heartbeat": 5}, task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual(SEEN["t"][0], [])
        self.assertEqual(r, ["last"])

    async def test_workflow_cancels_an_async_activity_through_its_heartbeat(self):
        # https://docs.temporal.io/develop/python/cancellation#cancel-an-activity : the activity learns of the
        # cancellation on a heartbeat and gets asyncio.CancelledError; the worker reports it cancelled
        # (ActivityTaskCanceled; temporalio/sdk-python temporalio/worker/_activity.py)
        async with self.worker(cancellable):
            wid, _ = await self.c.start("CancelIt", "cancellable", "c1", task_queue=self.q)
            h = await self.c.wait_event(wid, "ActivityTaskCanceled")
            await self.c.signal(wid, "done")
            self.assertEqual(await self.c.result(wid), "cancelled")
        self.assertEqual(SEEN["c1"], ["started", ("cancelled", True)])
        t = types(h)
        self.assertLess(t.index("ActivityTaskCancelRequested"), t.index("ActivityTaskCanceled"))
        self.assertNotIn("ActivityTaskFailed", t)

    async def test_sync_activity_heartbeats_from_the_thread_pool(self):
        # temporalio/sdk-python README "Synchronous Activities": a def activity runs in the worker's
        # activity_executor (a thread pool) and may call activity.heartbeat; heartbeats keep it alive past
        # its heartbeat timeout, and is_cancelled() tells it of a cancellation
        async with self.worker(sync_beater, sync_cancellable):
            wid, _ = await self.c.start("RunOne", "sync_beater", ["s1", 1.6], {"heartbeat": 1}, task_queue=self.q)
            w2, _ = await self.c.start("CancelIt", "sync_cancellable", "s2", task_queue=self.q)
            r = await self.c.result(wid)
            await self.c.wait_event(w2, "ActivityTaskCanceled")
            await self.c.signal(w2, "done")
            self.assertEqual(await self.c.result(w2), "cancelled")
        self.assertEqual(r["attempt"], 1)             # 1.6 s on a 1 s heartbeat timeout: never timed out
        self.assertGreaterEqual(r["beats"], 10)
        self.assertNotEqual(r["thread"], threading.main_thread().name)
        self.assertTrue(r["thread"].startswith("durable-activity"), r["thread"])
        self.assertEqual(SEEN["s2"], ["started", "saw is_cancelled"])

    async def test_sync_activity_raising_cancelled_error_is_reported_cancelled(self):
        # temporalio/sdk-python temporalio/worker/_activity.py: an activity whose cancellation was requested
        # and that raises asyncio.CancelledError *or temporalio.exceptions.CancelledError* completes as
        # cancelled (the latter is what a sync activity's thread gets); durable's equivalent is
        # durable.exceptions.CancelledError
        async with self.worker(sync_cancellable_temporal_style):
            wid, _ = await self.c.start("CancelIt", "sync_cancellable_temporal_style", "s3", task_queue=self.q)
            await self.c.wait_event(wid, "ActivityTaskCancelRequested")
            await until(lambda: "saw is_cancelled" in seen("s3"), what="the activity to see the cancellation")
            try:
                h = await self.c.wait_event(wid, "ActivityTaskCanceled", timeout=3)
            finally:
                await self.c.signal(wid, "done")
        self.assertNotIn("ActivityTaskFailed", types(h))

    # -------------------------------------------------------------- exactly once
    async def test_completion_in_the_activitys_own_transaction(self):
        # Exactly-once database effects: docs/protocol.md "Heartbeats, exactly-once completion and shutdown"
        # (durable's own; Temporal has no equivalent). The activity's rows and ActivityTaskCompleted commit
        # together; heartbeats from inside the open transaction take no lock of the run (a signal goes through)
        # and keep the attempt alive past its heartbeat timeout (3.5 s of work on a 1.5 s timeout).
        key = "eo-ok"
        async with self.worker(write_in_own_tx):
            wid, _ = await self.c.start("RunOne", "write_in_own_tx", [key, 3.5, False], {"heartbeat": 1.5},
                                        task_queue=self.q)
            await until(lambda: ("inserted", 1) in seen(key), what="the inserts")
            await asyncio.sleep(1.7)        # past one heartbeat timeout, the transaction still open
            async with await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True) as other:
                n = (await (await other.execute("SELECT count(*) FROM eo_rows WHERE k = %s", (key,))).fetchone())[0]
                self.assertEqual(n, 0)      # not committed yet
                t0 = time.monotonic()
                await other.execute("SELECT durable.signal_workflow(%s, 'ping', '[]')", (wid,))
                self.assertLess(time.monotonic() - t0, 1.0)
            self.assertEqual(await self.c.result(wid), "wrote 2 rows in attempt 1")
        rows = (await (await (await self.c.conn()).execute(
            "SELECT attempt, count(*) FROM eo_rows WHERE k = %s GROUP BY 1", (key,))).fetchall())
        self.assertEqual(rows, [(1, 2)])
        h = await self.c.history(wid)
        t = types(h)
        self.assertIn("ActivityTaskCompleted", t)
        self.assertNotIn("ActivityTaskTimedOut", t)
        self.assertEqual(events(h, "ActivityTaskStarted")[0]["attributes"]["attempt"], 1)
        # the signal sent meanwhile is in the history before the activity's completion
        self.assertLess(t.index("WorkflowExecutionSignaled"), t.index("ActivityTaskCompleted"))

    async def test_own_transaction_rolls_back_when_the_activity_raises(self):
        # docs/protocol.md "Heartbeats, exactly-once completion and shutdown": if the activity raises, its
        # writes roll back with the attempt; the retry (https://docs.temporal.io/encyclopedia/retry-policies)
        # writes its own
        key = "eo-fail"
        async with self.worker(write_in_own_tx):
            wid, _ = await self.c.start("RunOne", "write_in_own_tx", [key, 0.0, True], {}, task_queue=self.q)
            self.assertEqual(await self.c.result(wid), "wrote 2 rows in attempt 2")
        rows = (await (await (await self.c.conn()).execute(
            "SELECT attempt, count(*) FROM eo_rows WHERE k = %s GROUP BY 1", (key,))).fetchall())
        self.assertEqual(rows, [(2, 2)])            # attempt 1's rows are gone
        self.assertEqual(seen(key), [("inserted", 1), ("inserted", 2)])
        st = events(await self.c.history(wid), "ActivityTaskStarted")[0]["attributes"]
        self.assertEqual((st["attempt"], st["last_failure"]["message"]), (2, "fails after its inserts"))

    async def test_own_transaction_rolls_back_when_the_attempt_timed_out(self):
        # docs/sql-api.md "Activities": complete_activity in the worker's own transaction fails with DU004 when
        # the attempt timed out meanwhile, and the worker's writes roll back with it; the retry's are kept
        key = "eo-timeout"
        async with self.worker(write_then_go_quiet):
            wid, _ = await self.c.start("RunOne", "write_then_go_quiet", [key], {"heartbeat": 0.5},
                                        task_queue=self.q)
            self.assertEqual(await self.c.result(wid), "attempt 2")
            await until(lambda: "attempt 1 returns" in seen(key), what="attempt 1 to return")
            await asyncio.sleep(0.3)        # its completion is refused, its transaction rolled back
        rows = (await (await (await self.c.conn()).execute(
            "SELECT attempt, count(*) FROM eo_rows WHERE k = %s GROUP BY 1", (key,))).fetchall())
        self.assertEqual(rows, [(2, 1)])
        st = events(await self.c.history(wid), "ActivityTaskStarted")[0]["attributes"]
        self.assertEqual((st["attempt"], st["last_failure"]["timeout_type"]), (2, "HEARTBEAT"))

    async def test_start_to_close_and_schedule_to_close_timeouts(self):
        # https://docs.temporal.io/encyclopedia/detecting-activity-failures : a start-to-close timeout ends the
        # attempt and the retry policy retries it; schedule-to-close bounds all attempts, and the workflow gets
        # ActivityError caused by TimeoutError (temporalio/sdk-python temporalio/exceptions.py TimeoutError.type)
        async with self.worker(slow_first, always_slow, workflows=[Timeouts]):
            wid, _ = await self.c.start("Timeouts", "to", task_queue=self.q)
            r = await self.c.result(wid)
        self.assertEqual(r, {"first": 2, "cause": "TimeoutError", "timeout_type": "SCHEDULE_TO_CLOSE",
                             "retry_state": "TIMEOUT"})
        st = events(await self.c.history(wid), "ActivityTaskStarted")[0]["attributes"]
        self.assertEqual((st["attempt"], st["last_failure"]["timeout_type"]), (2, "START_TO_CLOSE"))

    # -------------------------------------------------------------- shutdown
    async def test_graceful_shutdown_lets_a_running_activity_finish(self):
        # temporalio/sdk-python temporalio/worker/_worker.py graceful_shutdown_timeout: "Amount of time after
        # shutdown is called that activities are given to complete before their tasks are cancelled"
        key = "graceful"
        async with self.worker(workflows=[RunOne]):
            wid, _ = await self.c.start("RunOne", "finishes_soon", [key], {}, task_queue=self.q)
            a = running(self.c, task_queue=self.q, activities=[finishes_soon], identity="stopping-worker",
                        graceful_shutdown_timeout=timedelta(seconds=5))
            async with a:
                await until(lambda: "started" in seen(key), what="the activity to start")
            # shutdown returned after the activity finished, not at once nor after 5 s
            self.assertEqual(seen(key), ["started", "finished"])
            self.assertEqual(await self.c.result(wid), "finished on the stopping worker")
        st = events(await self.c.history(wid), "ActivityTaskStarted")[0]["attributes"]
        self.assertEqual((st["identity"], st["attempt"]), ("stopping-worker", 1))

    async def test_shutdown_gives_back_a_held_activity(self):
        # temporalio/sdk-python temporalio/worker/_worker.py shutdown (graceful_shutdown_timeout, then
        # activities are cancelled); durable gives the task back at once (durable.release_tasks,
        # docs/protocol.md "Heartbeats, exactly-once completion and shutdown"): another worker takes it
        # with no timeout event and the same attempt number
        key = "held"
        async with self.worker(workflows=[RunOne]):
            wid, _ = await self.c.start("RunOne", "held", [key], {"start_to_close": 60}, task_queue=self.q)
            a = running(self.c, task_queue=self.q, activities=[held_forever], identity="worker-A")
            async with a:
                await until(lambda: "A started" in seen(key), what="worker A to start the activity")
                # worker B polls already, but the task is A's
                b = running(self.c, task_queue=self.q, activities=[held_quick], identity="worker-B")
                await b.__aenter__()
                await asyncio.sleep(0.3)
                self.assertEqual(seen(key), ["A started"])
                t0 = time.monotonic()
            # A is shut down: B gets the activity at once (the start-to-close timeout is 60 s)
            try:
                self.assertEqual(await self.c.result(wid, wait=10), "B")
                self.assertLess(time.monotonic() - t0, 3.0)
            finally:
                await b.__aexit__(None, None, None)
        self.assertEqual(seen(key), ["A started", "B started attempt 1"])
        h = await self.c.history(wid)
        st = events(h, "ActivityTaskStarted")[0]["attributes"]
        self.assertEqual((st["identity"], st["attempt"], st["last_failure"]), ("worker-B", 1, None))
        self.assertNotIn("ActivityTaskTimedOut", types(h))


if __name__ == "__main__":
    unittest.main()

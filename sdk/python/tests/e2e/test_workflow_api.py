"""The Python SDK's workflow, activity, worker and client API end to end, against a real cluster:
one worker of this process per test, workflows of this file.  Each test cites the Temporal page or
temporalio/sdk-python source whose behaviour it asserts.
"""
import asyncio
import unittest
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

import harness
from durable import activity, workflow
from durable.client import Client
from durable.common import RetryPolicy, WorkflowExecutionStatus
from durable.exceptions import (ActivityError, ApplicationError, CancelledError, TerminatedError,
                                WorkflowAlreadyStartedError, WorkflowFailureError, WorkflowNotFoundError)
from durable.worker import Replayer, Worker

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0, maximum_attempts=5)
SHORT = dict(start_to_close_timeout=timedelta(seconds=10), retry_policy=FAST_RETRY)


# ------------------------------------------------------------------ activities
@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@activity.defn(name="flaky")
async def flaky(succeed_on: int) -> int:
    a = activity.info().attempt
    if a < succeed_on:
        raise ApplicationError(f"attempt {a} failed", {"attempt": a}, type="Flaky")
    return a


@activity.defn
async def refuse(reason: str) -> None:
    raise ApplicationError(reason, type="Refused", non_retryable=True)


@activity.defn
async def resumable(total: int) -> dict:
    """Heartbeats its progress; attempt 1 dies after step 2, attempt 2 resumes from the details."""
    info = activity.info()
    start = info.heartbeat_details[0] + 1 if info.heartbeat_details else 0
    for i in range(start, total):
        activity.heartbeat(i)
        await asyncio.sleep(0.05)
        if info.attempt == 1 and i == 2:
            await asyncio.sleep(0.3)
            raise ApplicationError("crash after step 2", type="Crash")
    return {"attempt": info.attempt, "resumed_from": start}


@activity.defn
async def wait_for_cancel() -> str:
    """Heartbeats until the workflow cancels it (the heartbeat delivers the cancellation), then says so
    in table activity_cancelled."""
    try:
        for _ in range(600):
            activity.heartbeat()
            await asyncio.sleep(0.05)
        return "not cancelled"
    except asyncio.CancelledError:
        async with await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True) as c:
            await c.execute("INSERT INTO activity_cancelled VALUES (%s)", (activity.info().workflow_id,))
        raise


@activity.defn
async def ledger_write(key: str, fail: bool) -> str:
    """Writes in the worker's transaction (activity.connection()): committed with the completion, or
    rolled back with the failure; heartbeats while the transaction is open."""
    conn = await activity.connection()
    await conn.execute("INSERT INTO ledger (k, attempt) VALUES (%s, %s)", (key, activity.info().attempt))
    activity.heartbeat("written")
    await asyncio.sleep(0.1)
    if fail:
        raise ApplicationError("refused after the write", type="AfterWrite", non_retryable=True)
    return key


# ------------------------------------------------------------------ workflows
@workflow.defn
class Greeter:
    @workflow.run
    async def run(self, name: str) -> dict:
        i = workflow.info()
        u1, u2 = workflow.uuid4(), workflow.uuid4()
        workflow.logger.info("greeting %s", name)
        return {"greeting": await workflow.execute_activity(greet, name, **SHORT),
                "workflow_id": i.workflow_id, "run_id": i.run_id, "workflow_type": i.workflow_type,
                "task_queue": i.task_queue, "uuids": [str(u1), str(u2)], "now": workflow.now().isoformat()}


@workflow.defn
class Retries:
    @workflow.run
    async def run(self) -> dict:
        out = {"flaky": await workflow.execute_activity(flaky, 3, **SHORT)}
        try:
            await workflow.execute_activity(refuse, "no way", **SHORT)
        except ActivityError as e:
            c = e.cause
            out["refused"] = [type(e).__name__, type(c).__name__, c.type, c.message, c.non_retryable,
                              e.activity_type]
        h = workflow.start_activity(resumable, 6, start_to_close_timeout=timedelta(seconds=10),
                                    heartbeat_timeout=timedelta(seconds=5), retry_policy=FAST_RETRY)
        out["resumable"] = await h
        return out


@workflow.defn
class Timers:
    @workflow.run
    async def run(self, seconds: float) -> dict:
        t0 = workflow.now()
        await workflow.sleep(seconds)
        await asyncio.sleep(seconds)            # the workflow loop's asyncio timers are durable too
        timed_out = False
        try:
            await workflow.wait_condition(lambda: False, timeout=seconds)
        except asyncio.TimeoutError:
            timed_out = True
        return {"elapsed": (workflow.now() - t0).total_seconds(), "timed_out": timed_out}


@workflow.defn
class Inbox:
    def __init__(self) -> None:
        self.items = []
        self.closed = False

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.signal(name="close")
    def close_inbox(self) -> None:
        self.closed = True

    @workflow.query
    def count(self) -> int:
        return len(self.items)

    @workflow.query(name="items")
    def get_items(self, prefix: str = "") -> list:
        return [prefix + i for i in self.items]

    @workflow.run
    async def run(self) -> list:
        await workflow.wait_condition(lambda: self.closed)
        return self.items


@workflow.defn
class CancelsItsActivity:
    @workflow.run
    async def run(self) -> str:
        h = workflow.start_activity(wait_for_cancel, start_to_close_timeout=timedelta(seconds=30),
                                    heartbeat_timeout=timedelta(seconds=2),
                                    retry_policy=RetryPolicy(maximum_attempts=1))
        await workflow.sleep(0.3)
        h.cancel()
        try:
            await h
            return "no error"
        except ActivityError as e:
            return f"ActivityError({type(e.cause).__name__})"
        except asyncio.CancelledError:
            return "asyncio.CancelledError"


@workflow.defn
class Cancellable:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(3600)
        except asyncio.CancelledError:
            # cleanup after the workflow's cancellation, then report it
            await workflow.execute_activity(greet, "cleanup", **SHORT)
            raise
        return "slept"


@workflow.defn
class Counter:
    @workflow.run
    async def run(self, n: int, until: int) -> dict:
        if n < until:
            workflow.continue_as_new(args=[n + 1, until])
        return {"n": n, "run_id": workflow.info().run_id}


@workflow.defn
class Patched:
    @workflow.run
    async def run(self) -> str:
        if workflow.patched("v2"):
            return await workflow.execute_activity(greet, "v2", **SHORT)
        return await workflow.execute_activity(greet, "v1", **SHORT)


@workflow.defn(name="Sleeper")
class SleeperV1:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(3600)
        return "slept"


@workflow.defn(name="Sleeper")
class SleeperV2:
    """Incompatible with SleeperV1: an activity where V1's history has a timer."""

    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(greet, "instead", **SHORT)


@workflow.defn
class Ledger:
    @workflow.run
    async def run(self, key: str, fail: bool) -> str:
        return await workflow.execute_activity(ledger_write, args=[key, fail], **SHORT)


ALL_WORKFLOWS = [Greeter, Retries, Timers, Inbox, CancelsItsActivity, Cancellable, Counter, Patched, Ledger]
ALL_ACTIVITIES = [greet, flaky, refuse, resumable, wait_for_cancel, ledger_write]


class WorkflowApiTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.queue = f"q-{self._testMethodName}"
        self.client = await Client.connect(CLUSTER.dsn)
        self.db = await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True)
        self.workers = []

    async def asyncTearDown(self):
        for w in self.workers:
            await w.shutdown()
        await self.client.close()
        await self.db.close()

    async def start_worker(self, workflows=ALL_WORKFLOWS, activities=ALL_ACTIVITIES, identity=None):
        w = Worker(self.client, task_queue=self.queue, workflows=workflows, activities=activities,
                   identity=identity, max_concurrent_activities=8)
        await w.__aenter__()
        self.workers.append(w)
        return w

    async def stop_worker(self, w):
        await w.shutdown()
        self.workers.remove(w)

    async def events(self, wid):
        return [r[0] for r in await (await self.db.execute(
            "SELECT event_type FROM durable.get_history(%s) ORDER BY event_id", (wid,))).fetchall()]

    async def run_wf(self, wf, *args, wid=None, timeout=30):
        wid = wid or f"{self._testMethodName}-{uuid.uuid4().hex[:8]}"
        try:
            return await asyncio.wait_for(self.client.execute_workflow(wf, args=list(args), id=wid,
                                                                       task_queue=self.queue), timeout)
        except asyncio.TimeoutError:
            rows = await (await self.db.execute(
                "SELECT event_id, event_type, event_time, attributes FROM durable.get_history(%s) ORDER BY 1",
                (wid,))).fetchall()
            self.fail(f"{wid} not closed within {timeout} s; history:\n" + "\n".join(map(str, rows)))

    # https://docs.temporal.io/develop/python/core-application (workflow.info, uuid4, now, logger)
    async def test_activity_and_workflow_info(self):
        await self.start_worker()
        before = datetime.now(timezone.utc)
        r = await self.run_wf(Greeter.run, "ada", wid="greeter-1")
        self.assertEqual(r["greeting"], "hello ada")
        self.assertEqual((r["workflow_id"], r["workflow_type"], r["task_queue"]),
                         ("greeter-1", "Greeter", self.queue))
        self.assertEqual(r["run_id"], (await self.client.get_workflow_handle("greeter-1").describe()).run_id)
        self.assertNotEqual(r["uuids"][0], r["uuids"][1])
        self.assertLessEqual(abs(datetime.fromisoformat(r["now"]) - before), timedelta(seconds=10))
        # replaying the history gives the same uuids (the Replayer runs the code again)
        hist = await self.client.get_workflow_handle("greeter-1").fetch_history()
        res = await Replayer(workflows=[Greeter]).replay_workflow(hist)
        self.assertIsNone(res.replay_failure)

    # retries and non-retryable errors: https://docs.temporal.io/encyclopedia/retry-policies
    # heartbeat details to the next attempt: https://docs.temporal.io/develop/python/failure-detection#activity-heartbeats
    async def test_retries_non_retryable_and_heartbeat_details(self):
        await self.start_worker()
        r = await self.run_wf(Retries.run)
        self.assertEqual(r["flaky"], 3)
        self.assertEqual(r["refused"], ["ActivityError", "ApplicationError", "Refused", "no way", True, "refuse"])
        self.assertEqual(r["resumable"]["attempt"], 2)
        self.assertGreaterEqual(r["resumable"]["resumed_from"], 1)   # heartbeat details survived the attempt

    # durable timers and wait_condition's timeout: https://docs.temporal.io/develop/python/timers,
    # temporalio/sdk-python temporalio/workflow.py (wait_condition raises asyncio.TimeoutError)
    async def test_timers_and_wait_condition_timeout(self):
        await self.start_worker()
        r = await self.run_wf(Timers.run, 0.3, wid="timers-1")
        self.assertTrue(r["timed_out"])
        self.assertGreaterEqual(r["elapsed"], 0.9)
        ev = await self.events("timers-1")
        self.assertEqual(ev.count("TimerStarted"), 3)
        self.assertEqual(ev.count("TimerFired"), 3)

    # signals and queries: https://docs.temporal.io/develop/python/message-passing
    async def test_signals_and_queries(self):
        await self.start_worker()
        h = await self.client.start_workflow(Inbox.run, id="inbox-1", task_queue=self.queue)
        await h.signal(Inbox.add, "a")
        await h.signal("add", "b")
        self.assertEqual(await h.query(Inbox.count), 2)
        self.assertEqual(await h.query("items", "x-"), ["x-a", "x-b"])
        await h.signal(Inbox.close_inbox)
        self.assertEqual(await asyncio.wait_for(h.result(), 20), ["a", "b"])
        d = await h.describe()
        self.assertEqual(d.status, WorkflowExecutionStatus.COMPLETED)
        self.assertEqual(d.workflow_type, "Inbox")
        self.assertEqual(d.task_queue, self.queue)
        self.assertEqual(d.history_length, len(await self.events("inbox-1")))

    # cancelling an activity from the workflow: awaiting its handle raises ActivityError caused by
    # CancelledError, and the activity learns it through its heartbeat (TRY_CANCEL):
    # temporalio/features features/activity/cancel_try_cancel/feature.py,
    # https://docs.temporal.io/develop/python/cancellation
    async def test_workflow_cancels_its_activity(self):
        await self.db.execute("CREATE TABLE IF NOT EXISTS activity_cancelled (workflow_id text)")
        await self.start_worker()
        self.assertEqual(await self.run_wf(CancelsItsActivity.run, wid="cancel-act-1"), "ActivityError(CancelledError)")
        ev = await self.events("cancel-act-1")
        self.assertIn("ActivityTaskCancelRequested", ev)
        for _ in range(100):
            n = (await (await self.db.execute(
                "SELECT count(*) FROM activity_cancelled WHERE workflow_id = 'cancel-act-1'")).fetchone())[0]
            if n:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(n, 1)

    # cancelling the workflow: asyncio.CancelledError in the workflow, which may clean up, then the run
    # is canceled: https://docs.temporal.io/develop/python/cancellation,
    # temporalio/samples-python hello/hello_cancellation.py
    async def test_cancellation(self):
        await self.start_worker()
        h = await self.client.start_workflow(Cancellable.run, id="cancel-1", task_queue=self.queue)
        for _ in range(200):
            if "TimerStarted" in await self.events("cancel-1"):
                break
            await asyncio.sleep(0.05)
        await h.cancel()
        with self.assertRaises(WorkflowFailureError) as cm:
            await asyncio.wait_for(h.result(), 20)
        self.assertIsInstance(cm.exception.cause, CancelledError)
        self.assertEqual((await h.describe()).status, WorkflowExecutionStatus.CANCELED)
        ev = await self.events("cancel-1")
        self.assertIn("TimerCanceled", ev)
        self.assertEqual(ev[-1], "WorkflowExecutionCanceled")
        # the cleanup activity ran after the cancellation request
        self.assertGreater(len(ev) - 1 - ev[::-1].index("ActivityTaskCompleted"), ev.index("WorkflowExecutionCancelRequested"))

    # https://docs.temporal.io/develop/python/continue-as-new
    async def test_continue_as_new(self):
        await self.start_worker()
        h = await self.client.start_workflow(Counter.run, args=[0, 3], id="counter-1", task_queue=self.queue)
        r = await asyncio.wait_for(h.result(), 20)          # follows the runs
        self.assertEqual(r["n"], 3)
        self.assertNotEqual(r["run_id"], h.first_execution_run_id or h.run_id)
        runs = (await (await self.db.execute(
            "SELECT count(*) FROM durable.workflows WHERE workflow_id = 'counter-1'")).fetchone())[0]
        self.assertEqual(runs, 4)

    # patching: https://docs.temporal.io/develop/python/versioning#patching
    async def test_patched_records_a_marker(self):
        await self.start_worker()
        self.assertEqual(await self.run_wf(Patched.run, wid="patched-1"), "hello v2")
        self.assertIn("MarkerRecorded", await self.events("patched-1"))

    # non-determinism fails the workflow task (it is retried, the run stays open):
    # https://docs.temporal.io/workflow-definition#deterministic-constraints,
    # temporalio/sdk-python temporalio/worker/_workflow_instance.py (nondeterminism -> task failure)
    async def test_non_determinism_fails_the_workflow_task(self):
        w1 = await self.start_worker(workflows=[SleeperV1], activities=[greet])
        h = await self.client.start_workflow("Sleeper", id="sleeper-1", task_queue=self.queue)
        for _ in range(200):
            if "TimerStarted" in await self.events("sleeper-1"):
                break
            await asyncio.sleep(0.05)
        await self.stop_worker(w1)
        await self.start_worker(workflows=[SleeperV2], activities=[greet])
        await h.signal("poke")          # a new workflow task: V2 replays V1's history
        for _ in range(200):
            if "WorkflowTaskFailed" in await self.events("sleeper-1"):
                break
            await asyncio.sleep(0.05)
        row = await (await self.db.execute(
            "SELECT attributes FROM durable.get_history('sleeper-1') WHERE event_type = 'WorkflowTaskFailed' "
            "ORDER BY event_id LIMIT 1")).fetchone()
        self.assertIsNotNone(row, await self.events("sleeper-1"))
        self.assertIn("nondeterminism", ((row[0].get("failure") or {}).get("type", "") + row[0].get("cause", "") +
                                         (row[0].get("failure") or {}).get("message", "")).lower())
        self.assertEqual((await h.describe()).status, WorkflowExecutionStatus.RUNNING)
        await h.terminate("test over")
        with self.assertRaises(WorkflowFailureError) as cm:
            await h.result()
        self.assertIsInstance(cm.exception.cause, TerminatedError)

    # exactly-once database effects: the activity's writes commit with its completion
    # (docs/protocol.md "Heartbeats, exactly-once completion and shutdown"); Temporal has no
    # equivalent, its activities are at-least-once: https://docs.temporal.io/activities
    async def test_activity_in_its_own_transaction(self):
        await self.db.execute("CREATE TABLE IF NOT EXISTS ledger (k text, attempt int)")
        await self.start_worker()
        self.assertEqual(await self.run_wf(Ledger.run, "ok-1", False), "ok-1")
        with self.assertRaises(WorkflowFailureError) as cm:
            await self.run_wf(Ledger.run, "bad-1", True)
        self.assertEqual(cm.exception.cause.__cause__.type, "AfterWrite")
        rows = await (await self.db.execute("SELECT k, attempt FROM ledger ORDER BY k")).fetchall()
        self.assertEqual(rows, [("ok-1", 1)])

    # client errors: https://docs.temporal.io/develop/python/temporal-client,
    # temporalio/sdk-python temporalio/client.py (WorkflowAlreadyStartedError, RPCError NOT_FOUND)
    async def test_client_errors(self):
        await self.start_worker()
        await self.client.start_workflow(Inbox.run, id="dup-1", task_queue=self.queue)
        with self.assertRaises(WorkflowAlreadyStartedError):
            await self.client.start_workflow(Inbox.run, id="dup-1", task_queue=self.queue)
        with self.assertRaises(WorkflowNotFoundError):
            await self.client.get_workflow_handle("no-such-workflow").describe()
        h = self.client.get_workflow_handle("dup-1")
        await h.terminate("done")
        with self.assertRaises(WorkflowFailureError) as cm:
            await h.result()
        self.assertEqual(cm.exception.status, "terminated")
        self.assertEqual((await h.describe()).status, WorkflowExecutionStatus.TERMINATED)


if __name__ == "__main__":
    unittest.main()

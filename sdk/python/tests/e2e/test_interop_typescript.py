"""A Python workflow and a TypeScript workflow are interchangeable at the history level, both ways:
a run begun by the TypeScript SDK's worker (sdk/typescript/examples/subscription, node) is finished
by the Python twin (sdk/python/examples/subscription), and the other way round, on one task queue,
with a query answered by each and a signal delivered after the switch; no workflow task fails.

Needs node and the built TypeScript SDK (sdk/typescript/dist, `npm run build`); without them the
tests skip, unless DURABLE_INTEROP_REQUIRED=1 (test/run-all sets it after the sdk suite built it).

Temporal: a workflow's history must replay on any worker of the task queue
(https://docs.temporal.io/workflow-execution#replays, https://docs.temporal.io/develop/python/versioning);
queries and signals: https://docs.temporal.io/develop/python/message-passing
"""
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

import psycopg

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "examples"))
TS_WORKER = os.path.normpath(os.path.join(HERE, "..", "..", "..", "typescript", "dist", "examples", "subscription",
                                          "worker.js"))

from durable.client import Client  # noqa: E402
from durable.worker import Replayer  # noqa: E402
from subscription.worker import run_worker  # noqa: E402
from subscription.workflows import SubscriptionLifecycle  # noqa: E402

NODE = shutil.which("node")

CLUSTER = harness.ModuleCluster()


def setUpModule():
    harness.require_typescript_sdk("dist/examples/subscription/worker.js")
    CLUSTER.start()


tearDownModule = CLUSTER.stop


class TsWorker:
    """node dist/examples/subscription/worker.js in its own process (as the demo runs it)."""

    def __init__(self, queue, identity):
        url = "postgresql://postgres@/postgres?" + urllib.parse.urlencode({"host": CLUSTER.dir, "port": CLUSTER.port})
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([NODE, TS_WORKER], stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, DATABASE_URL=url, TASK_QUEUE=queue, WORKER_IDENTITY=identity))

    def exited(self):
        """The worker's output if it has exited (it should not before stop()), else None."""
        if self.proc.poll() is None:
            return None
        self.log.seek(0)
        return f"exit status {self.proc.returncode}: {self.log.read()[-3000:]}"

    def stop(self):
        """SIGTERM: the SDK's graceful shutdown (gives back what it holds)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.seek(0)
        out = self.log.read()
        self.log.close()
        return out


class PyWorker:
    def __init__(self, queue, identity):
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(run_worker(CLUSTER.dsn, queue, identity, self.stop_event))

    async def stop(self):
        self.stop_event.set()
        await asyncio.wait_for(self.task, 30)


class InteropTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await Client.connect(CLUSTER.dsn)
        self.db = await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True)
        self.ts = None
        self.py = None

    async def asyncTearDown(self):
        if self.ts:
            self.ts.stop()
        if self.py:
            await self.py.stop()
        await self.client.close()
        await self.db.close()

    async def events(self, wid):
        return await (await self.db.execute(
            "SELECT event_type, attributes->>'identity' FROM durable.get_history(%s) ORDER BY event_id",
            (wid,))).fetchall()

    async def wait_for_event(self, wid, event_type, timeout=30.0):
        for _ in range(int(timeout / 0.05)):
            if any(e[0] == event_type for e in await self.events(wid)):
                return
            if self.ts and self.ts.exited():
                self.fail(f"the TypeScript worker exited: {self.ts.exited()}")
            await asyncio.sleep(0.05)
        self.fail(f"{wid}: no {event_type} within {timeout} s: {await self.events(wid)}")

    async def query_status(self, h, want_state):
        for _ in range(200):
            st = await h.query(SubscriptionLifecycle.get_status)
            if st["state"] == want_state:
                return st
            await asyncio.sleep(0.05)
        self.fail(f"state {st['state']}, not {want_state}")

    async def result_while_ts_runs(self, h, timeout=60.0):
        task = asyncio.ensure_future(h.result())
        for _ in range(int(timeout / 0.1)):
            done, _ = await asyncio.wait([task], timeout=0.1)
            if done:
                return task.result()
            if self.ts and self.ts.exited():
                task.cancel()
                self.fail(f"the TypeScript worker exited: {self.ts.exited()}")
        task.cancel()
        self.fail(f"{h.id} not closed within {timeout} s: {await self.events(h.id)}")

    async def check_history(self, wid, first, second):
        ev = await self.events(wid)
        completed_by = [e[1] for e in ev if e[0] == "WorkflowTaskCompleted"]
        self.assertIn(first, completed_by)
        self.assertIn(second, completed_by)
        # the first worker's tasks all come before the second's: a hand-over, not a race
        self.assertEqual(completed_by.index(second), len([i for i in completed_by if i == first]))
        self.assertNotIn("WorkflowTaskFailed", [e[0] for e in ev])
        # and the whole mixed history replays in Python
        h = await self.client.get_workflow_handle(wid).fetch_history()
        self.assertIsNone((await Replayer(workflows=[SubscriptionLifecycle]).replay_workflow(h)).replay_failure)

    async def test_typescript_begins_python_finishes(self):
        q, wid = "interop-ts-py", "lifecycle-ts-to-py"
        self.ts = TsWorker(q, "ts-a")
        h = await self.client.start_workflow("subscriptionLifecycle", args=["ts-to-py", {"period": "2s",
                                                                                        "maxRenewals": 2}],
                                             id=wid, task_queue=q)
        await self.wait_for_event(wid, "TimerStarted")
        st = await self.query_status(h, "waiting")      # answered by the TypeScript worker
        self.assertEqual((st["customerId"], st["renewals"], st["cancelReason"]), ("ts-to-py", 1, None))
        self.ts.stop()
        self.ts = None
        self.py = PyWorker(q, "py-a")
        res = await asyncio.wait_for(h.result(), 60)
        self.assertEqual((res["state"], res["renewals"]), ("done", 2))
        await self.check_history(wid, "ts-a", "py-a")
        # two charges, one per renewal, one by each SDK's activities
        self.assertEqual((await (await self.db.execute(
            "SELECT count(*) FROM charges WHERE workflow_id = %s", (wid,))).fetchone())[0], 2)

    async def test_python_begins_typescript_finishes(self):
        q, wid = "interop-py-ts", "lifecycle-py-to-ts"
        self.py = PyWorker(q, "py-b")
        h = await self.client.start_workflow(SubscriptionLifecycle.run, args=["py-to-ts", {"period": "30 days"}],
                                             id=wid, task_queue=q)
        await self.wait_for_event(wid, "TimerStarted")
        st = await self.query_status(h, "waiting")      # answered by the Python worker
        self.assertEqual((st["customerId"], st["renewals"]), ("py-to-ts", 1))
        await self.py.stop()
        self.py = None
        self.ts = TsWorker(q, "ts-b")
        await h.signal(SubscriptionLifecycle.cancel, "moved to a competitor")
        res = await self.result_while_ts_runs(h)
        self.assertEqual((res["state"], res["renewals"], res["cancelReason"]),
                         ("cancelled", 1, "moved to a competitor"))
        await self.check_history(wid, "py-b", "ts-b")
        ev = [e[0] for e in await self.events(wid)]
        self.assertEqual(ev[-2:], ["TimerCanceled", "WorkflowExecutionCompleted"])


if __name__ == "__main__":
    unittest.main()

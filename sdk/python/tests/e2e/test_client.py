"""durable.client against a real private cluster: starts, signals, cancels, terminates, describes,
histories, results, queries, typed errors, and starts inside the caller's own transaction.

Workflow tasks are completed by hand in SQL (poll_task + complete_workflow_task, docs/protocol.md),
so these tests need no worker.  Behaviour asserted is Temporal Python's client
(https://github.com/temporalio/sdk-python/blob/main/temporalio/client.py: start_workflow returns a
handle whose run_id is None and result_run_id / first_execution_run_id the new run; result() follows
continue-as-new unless follow_runs=False, which raises WorkflowContinuedAsNewError; a failed workflow
raises WorkflowFailureError whose cause is the failure; WorkflowAlreadyStartedError on a duplicate id;
https://docs.temporal.io/develop/python/temporal-clients) and durable's SQL API (docs/sql-api.md).
"""

import asyncio
import json
import unittest
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import List

import psycopg
from psycopg.conninfo import make_conninfo

try:  # sdk/python/tests/harness.py, with the tests directory on sys.path (unittest discover -t tests)
    import harness  # type: ignore[import-not-found]
except ImportError:  # run as the package tests.e2e (unittest discover -t .)
    from tests import harness  # type: ignore[no-redef]

from durable.client import Client, WorkflowHandle
from durable.common import (
    Priority, RetryPolicy, WorkflowExecutionStatus, WorkflowIDConflictPolicy, WorkflowIDReusePolicy,
)
from durable.exceptions import (
    ApplicationError, CancelledError, NamespaceNotFoundError, PermissionDeniedError, TerminatedError, TimeoutError,
    TimeoutType,
    WorkflowAlreadyStartedError, WorkflowContinuedAsNewError, WorkflowFailureError, WorkflowNotFoundError,
    WorkflowNotRunningError, WorkflowQueryFailedError, WorkflowQueryTimeoutError, WorkflowStillRunningError,
    error_to_failure,
)


CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

@dataclass
class Receipt:
    order: str
    total: float
    lines: List[str]


class Order:
    """A stand-in for a @workflow.defn class: the attributes the client reads (py-sdk-spec.md)."""

    __durable_workflow__ = SimpleNamespace(name="OrderWorkflow", run_fn_name="run", signals={}, queries={})

    async def run(self, order_id: str) -> Receipt:  # pragma: no cover - never run here
        raise NotImplementedError

    async def approve(self, who: str) -> None:  # pragma: no cover
        raise NotImplementedError

    approve.__durable_signal_name__ = "approve"  # type: ignore[attr-defined]

    def status(self) -> str:  # pragma: no cover
        raise NotImplementedError

    status.__durable_query_name__ = "status"  # type: ignore[attr-defined]


Order.run.__durable_workflow_name__ = "OrderWorkflow"  # type: ignore[attr-defined]


def wid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class ClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await Client.connect(CLUSTER.dsn)
        self.sql = await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True)
        self.queue = wid("q")  # a queue of its own: the tasks polled by hand are this test's

    async def asyncTearDown(self):
        await self.sql.close()
        await self.client.close()

    # -- helpers: a worker by hand ------------------------------------------

    async def complete_next_task(self, queue: str, commands: list) -> dict:
        """Poll the queue's next workflow task and complete it with commands (docs/protocol.md)."""
        cur = await self.sql.execute(
            "SELECT task_token, workflow_id, input FROM durable.poll_task(task_queue => %s, worker_id => 'by-hand',"
            " kinds => '{workflow}', wait => '10 seconds')", [queue])
        row = await cur.fetchone()
        self.assertIsNotNone(row, "no workflow task")
        cur = await self.sql.execute("SELECT durable.complete_workflow_task(%s, %s::jsonb)",
                                     [row[0], json.dumps(commands)])
        out = (await cur.fetchone())[0]
        self.assertEqual(out["outcome"], "completed")
        return {"workflow_id": row[1], "input": row[2]}

    async def events(self, handle: WorkflowHandle) -> List[str]:
        return [e["event_type"] for e in (await handle.fetch_history()).events]

    # -- start, describe, history ------------------------------------------

    async def test_start_describe_and_history(self):
        # https://docs.temporal.io/develop/python/temporal-clients#start-workflow-execution
        id = wid("start")
        h = await self.client.start_workflow(Order.run, "o-1", id=id, task_queue=self.queue,
                                             memo={"note": "hi"}, search_attributes={"customer": "c-1"},
                                             execution_timeout=timedelta(hours=1), priority=Priority(priority_key=2))
        self.assertEqual(h.id, id)
        self.assertIsNone(h.run_id)  # Temporal: calls on a started handle go to the latest run
        self.assertIsNotNone(h.result_run_id)
        self.assertEqual(h.first_execution_run_id, h.result_run_id)
        d = await h.describe()
        self.assertEqual((d.id, d.run_id, d.workflow_type, d.task_queue), (id, h.result_run_id, "OrderWorkflow", self.queue))
        self.assertEqual(d.status, WorkflowExecutionStatus.RUNNING)
        self.assertIsNone(d.close_time)
        self.assertGreaterEqual(d.history_length, 2)
        self.assertEqual(d.memo, {"note": "hi"})
        self.assertEqual(d.search_attributes, {"customer": "c-1"})
        self.assertEqual(d.raw["priority"], 2)
        self.assertEqual(d.first_execution_run_id, h.result_run_id)
        hist = await h.fetch_history()
        self.assertEqual(hist.workflow_id, id)
        self.assertEqual(hist.run_id, h.result_run_id)
        first = hist.events[0]
        self.assertEqual(first["event_type"], "WorkflowExecutionStarted")
        self.assertEqual(first["event_id"], 1)
        # the input is the argument array, as the TypeScript SDK writes it (interchangeable histories)
        self.assertEqual(first["attributes"]["input"], ["o-1"])
        self.assertEqual(first["attributes"]["workflow_type"]["name"] if isinstance(
            first["attributes"].get("workflow_type"), dict) else first["attributes"].get("workflow_type"),
            "OrderWorkflow")
        self.assertIsInstance(first["event_time"], str)
        # by name, by class, several args
        h2 = await self.client.start_workflow("Other", args=[1, {"a": [2]}], id=wid("byname"), task_queue=self.queue)
        self.assertEqual((await h2.fetch_history()).events[0]["attributes"]["input"], [1, {"a": [2]}])
        h3 = await self.client.start_workflow(Order, id=wid("bycls"), task_queue=self.queue)
        self.assertEqual((await h3.describe()).workflow_type, "OrderWorkflow")
        with self.assertRaises(TypeError):
            await self.client.start_workflow(lambda: None, id=wid("bad"), task_queue=self.queue)

    async def test_start_options_reach_the_engine(self):
        id = wid("opts")
        h = await self.client.start_workflow("Opts", id=id, task_queue=self.queue, run_timeout=timedelta(minutes=5),
                                             task_timeout=timedelta(seconds=7),
                                             retry_policy=RetryPolicy(maximum_attempts=3,
                                                                      non_retryable_error_types=["Fatal"]),
                                             start_delay=timedelta(seconds=30))
        attrs = (await h.fetch_history()).events[0]["attributes"]
        self.assertEqual(attrs["workflow_task_timeout"], "7s")
        self.assertEqual(attrs["workflow_run_timeout"], "300s")
        self.assertEqual(attrs["retry_policy"]["maximum_attempts"], 3)
        self.assertEqual(attrs["retry_policy"]["non_retryable_error_types"], ["Fatal"])
        self.assertEqual(attrs["first_workflow_task_backoff"], "30s")

    # -- typed errors ------------------------------------------------------

    async def test_typed_errors(self):
        # DU001: unknown id (https://docs.temporal.io/references/failures: not found is an error of the call)
        unknown = self.client.get_workflow_handle(wid("nobody"))
        with self.assertRaises(WorkflowNotFoundError) as cm:
            await unknown.describe()
        self.assertEqual(cm.exception.sqlstate, "DU001")
        self.assertTrue(cm.exception.hint)
        for call in (unknown.signal("s"), unknown.cancel(), unknown.terminate(), unknown.result(),
                     unknown.fetch_history()):
            with self.assertRaises(WorkflowNotFoundError):
                await call
        # DU002: duplicate start, Temporal's WorkflowAlreadyStartedError naming the id and type
        id = wid("dup")
        h = await self.client.start_workflow(Order.run, "x", id=id, task_queue=self.queue)
        with self.assertRaises(WorkflowAlreadyStartedError) as cm2:
            await self.client.start_workflow(Order.run, "x", id=id, task_queue=self.queue)
        self.assertEqual((cm2.exception.workflow_id, cm2.exception.workflow_type, cm2.exception.sqlstate),
                         (id, "OrderWorkflow", "DU002"))
        # USE_EXISTING: the running run (https://docs.temporal.io/workflow-execution/workflowid-runid#workflow-id-conflict-policy)
        same = await self.client.start_workflow(Order.run, "x", id=id, task_queue=self.queue,
                                                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        self.assertEqual(same.result_run_id, h.result_run_id)
        # TERMINATE_EXISTING: a new run, the old one terminated
        new = await self.client.start_workflow(Order.run, "x", id=id, task_queue=self.queue,
                                               id_conflict_policy="TERMINATE_EXISTING")
        self.assertNotEqual(new.result_run_id, h.result_run_id)
        old = self.client.get_workflow_handle(id, run_id=h.result_run_id)
        self.assertEqual((await old.describe()).status, WorkflowExecutionStatus.TERMINATED)
        # DU003: a signal to a closed run
        with self.assertRaises(WorkflowNotRunningError):
            await old.signal("s")
        # REJECT_DUPLICATE after close: DU002 again
        await new.terminate()
        with self.assertRaises(WorkflowAlreadyStartedError):
            await self.client.start_workflow(Order.run, "x", id=id, task_queue=self.queue,
                                             id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        # a bad policy name is refused before any SQL
        with self.assertRaises(ValueError):
            await self.client.start_workflow(Order.run, "x", id=wid("p"), task_queue=self.queue, id_reuse_policy="sometimes")

    async def test_namespace_errors(self):
        # DU009 for a superuser; 42501 for a role without grants (docs/namespaces.md)
        other = await Client.connect(CLUSTER.dsn, namespace="no-such-namespace")
        try:
            with self.assertRaises(NamespaceNotFoundError) as cm:
                await other.start_workflow("W", id=wid("ns"), task_queue=self.queue)
            self.assertEqual(cm.exception.sqlstate, "DU009")
        finally:
            await other.close()
        role = f"nogrant_{uuid.uuid4().hex[:6]}"
        await self.sql.execute(f"CREATE ROLE {role} LOGIN")
        try:
            weak = await Client.connect(make_conninfo(CLUSTER.dsn, user=role))
            try:
                with self.assertRaises(PermissionDeniedError) as cm2:
                    await weak.start_workflow("W", id=wid("perm"), task_queue=self.queue)
                self.assertEqual(cm2.exception.sqlstate, "42501")
            finally:
                await weak.close()
        finally:
            await self.sql.execute(f"DROP ROLE {role}")

    # -- signal, cancel, terminate -------------------------------------------

    async def test_signal_cancel_terminate(self):
        h = await self.client.start_workflow(Order.run, "o", id=wid("sig"), task_queue=self.queue)
        await h.signal(Order.approve, "alice")
        await h.signal("note", args=["a", 2])
        await h.signal("bare")
        await h.signal("once", request_id="r-1")
        await h.signal("once", request_id="r-1")  # delivered once
        hist = (await h.fetch_history()).events
        signals = [(e["attributes"]["signal_name"], e["attributes"].get("input")) for e in hist
                   if e["event_type"] == "WorkflowExecutionSignaled"]
        self.assertEqual(signals, [("approve", ["alice"]), ("note", ["a", 2]), ("bare", []), ("once", [])])
        with self.assertRaises(TypeError):
            await h.signal("x", 1, args=[2])
        # cancel is a request: the run stays open, the history has the request
        await h.cancel("no longer needed")
        self.assertIn("WorkflowExecutionCancelRequested", await self.events(h))
        d = await h.describe()
        self.assertEqual(d.status, WorkflowExecutionStatus.RUNNING)
        self.assertTrue(d.cancel_requested)
        # terminate closes it at once; result() raises WorkflowFailureError(cause=TerminatedError)
        await h.terminate("enough")
        d = await h.describe()
        self.assertEqual(d.status, WorkflowExecutionStatus.TERMINATED)
        self.assertIsNotNone(d.close_time)
        self.assertEqual((await self.events(h))[-1], "WorkflowExecutionTerminated")
        with self.assertRaises(WorkflowFailureError) as cm:
            await h.result()
        self.assertEqual(cm.exception.status, "terminated")
        self.assertIsInstance(cm.exception.cause, TerminatedError)
        self.assertIn("enough", cm.exception.cause.message)
        with self.assertRaises(WorkflowFailureError) as cm2:
            await h.result(follow_runs=False)
        self.assertIsInstance(cm2.exception.cause, TerminatedError)
        with self.assertRaises(WorkflowNotRunningError):
            await h.cancel()

    async def test_signal_with_start(self):
        # https://docs.temporal.io/develop/python/message-passing#signal-with-start
        id = wid("sws")
        h = await self.client.start_workflow(Order.run, "o", id=id, task_queue=self.queue, start_signal=Order.approve,
                                             start_signal_args=["bob"])
        self.assertIsNone(h.first_execution_run_id)
        ev = (await h.fetch_history()).events
        self.assertEqual([e["event_type"] for e in ev[:2]], ["WorkflowExecutionStarted", "WorkflowExecutionSignaled"])
        self.assertEqual(ev[1]["attributes"]["input"], ["bob"])
        # a second one signals the running run
        h2 = await self.client.start_workflow(Order.run, "o", id=id, task_queue=self.queue, start_signal="approve",
                                              start_signal_args=["carol"])
        self.assertEqual(h2.result_run_id, h.result_run_id)
        self.assertEqual([e["attributes"]["input"] for e in (await h.fetch_history()).events
                          if e["event_type"] == "WorkflowExecutionSignaled"], [["bob"], ["carol"]])

    # -- results -----------------------------------------------------------

    async def test_result_of_a_workflow_completed_by_hand(self):
        h = await self.client.start_workflow(Order.run, "o-7", id=wid("res"), task_queue=self.queue)
        waiting = asyncio.ensure_future(h.result())  # waits server-side in workflow_result
        await asyncio.sleep(0.2)
        self.assertFalse(waiting.done())
        # other calls of the same client are not held up by the wait
        self.assertEqual((await h.describe()).status, WorkflowExecutionStatus.RUNNING)
        task = await self.complete_next_task(self.queue, [{"type": "complete_workflow", "result": {
            "order": "o-7", "total": 12.5, "lines": ["a", "b"]}}])
        self.assertEqual(task["input"], ["o-7"])
        result = await asyncio.wait_for(waiting, 10)
        # decoded by the run method's return type (Temporal's result_type from the workflow's type hints)
        self.assertEqual(result, Receipt("o-7", 12.5, ["a", "b"]))
        self.assertEqual(await h.result(follow_runs=False), Receipt("o-7", 12.5, ["a", "b"]))
        # a handle by id returns the JSON as it is
        self.assertEqual(await self.client.get_workflow_handle(h.id).result(),
                         {"order": "o-7", "total": 12.5, "lines": ["a", "b"]})
        d = await h.describe()
        self.assertEqual(d.status, WorkflowExecutionStatus.COMPLETED)
        # execute_workflow: start + result
        id = wid("exec")

        async def finish():
            await self.complete_next_task(self.queue, [{"type": "complete_workflow", "result": 42}])

        finisher = asyncio.ensure_future(finish())
        self.assertEqual(await self.client.execute_workflow("Answer", id=id, task_queue=self.queue), 42)
        await finisher

    async def test_failed_workflow_raises_workflow_failure_error(self):
        # https://python.temporal.io/temporalio.client.WorkflowFailureError.html: cause is the workflow's failure
        h = await self.client.start_workflow(Order.run, "o", id=wid("fail"), task_queue=self.queue)
        failure = error_to_failure(ApplicationError("card declined", {"card": "4242"}, type="Declined",
                                                    non_retryable=True))
        await self.complete_next_task(self.queue, [{"type": "fail_workflow", "failure": failure}])
        with self.assertRaises(WorkflowFailureError) as cm:
            await h.result()
        e = cm.exception
        self.assertEqual((e.sqlstate, e.status), ("DU010", "failed"))
        self.assertIsInstance(e.cause, ApplicationError)
        self.assertEqual((e.cause.message, e.cause.type, e.cause.non_retryable, tuple(e.cause.details)),
                         ("card declined", "Declined", True, ({"card": "4242"},)))
        self.assertEqual(e.failure["type"], "Declined")
        with self.assertRaises(WorkflowFailureError) as cm2:
            await h.result(follow_runs=False)
        self.assertIsInstance(cm2.exception.cause, ApplicationError)
        self.assertEqual(cm2.exception.cause.type, "Declined")

    async def test_canceled_workflow(self):
        h = await self.client.start_workflow(Order.run, "o", id=wid("cancelled"), task_queue=self.queue)
        await h.cancel()
        await self.complete_next_task(self.queue, [{"type": "cancel_workflow", "details": ["bye"]}])
        with self.assertRaises(WorkflowFailureError) as cm:
            await h.result()
        self.assertEqual((cm.exception.sqlstate, cm.exception.status), ("DU011", "canceled"))
        self.assertIsInstance(cm.exception.cause, CancelledError)

    async def test_timed_out_workflow(self):
        # https://docs.temporal.io/encyclopedia/detecting-workflow-failures#workflow-run-timeout
        h = await self.client.start_workflow("Late", id=wid("timeout"), task_queue=self.queue,
                                             run_timeout=timedelta(seconds=1))
        with self.assertRaises(WorkflowFailureError) as cm:
            await asyncio.wait_for(h.result(), 30)
        self.assertEqual((cm.exception.sqlstate, cm.exception.status), ("DU013", "timed_out"))
        self.assertIsInstance(cm.exception.cause, TimeoutError)
        self.assertEqual(cm.exception.cause.type, TimeoutType.RUN)
        with self.assertRaises(WorkflowFailureError) as cm2:
            await h.result(follow_runs=False)
        self.assertEqual(cm2.exception.cause.type, TimeoutType.RUN)

    async def test_result_follows_continue_as_new(self):
        # https://docs.temporal.io/develop/python/continue-as-new: result() follows the chain
        h = await self.client.start_workflow("Loop", 1, id=wid("can"), task_queue=self.queue)
        await self.complete_next_task(self.queue, [{"type": "continue_as_new", "input": [2]}])
        with self.assertRaises(WorkflowContinuedAsNewError) as cm:
            await h.result(follow_runs=False)
        second = cm.exception.new_execution_run_id
        self.assertIsNotNone(second)
        self.assertNotEqual(second, h.result_run_id)
        waiting = asyncio.ensure_future(h.result())
        task = await self.complete_next_task(self.queue, [{"type": "complete_workflow", "result": "done"}])
        self.assertEqual(task["input"], [2])
        self.assertEqual(await asyncio.wait_for(waiting, 10), "done")
        self.assertEqual(await self.client.get_workflow_handle(h.id, run_id=second).result(follow_runs=False), "done")
        # the latest run by id, the first by run id
        self.assertEqual((await self.client.get_workflow_handle(h.id).describe()).run_id, second)
        first = await self.client.get_workflow_handle(h.id, run_id=h.result_run_id).describe()
        self.assertEqual(first.status, WorkflowExecutionStatus.CONTINUED_AS_NEW)
        self.assertEqual(first.next_run_id, second)

    async def test_result_rpc_timeout(self):
        h = await self.client.start_workflow("Slow", id=wid("slow"), task_queue=self.queue)
        with self.assertRaises(WorkflowStillRunningError):
            await h.result(rpc_timeout=timedelta(milliseconds=300))
        with self.assertRaises(WorkflowStillRunningError):
            await h.result(follow_runs=False, rpc_timeout=0.2)

    async def test_cancelling_result_frees_its_connection(self):
        h = await self.client.start_workflow("Slow", id=wid("cancelwait"), task_queue=self.queue)
        waiting = asyncio.ensure_future(h.result())
        await asyncio.sleep(0.3)
        waiting.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await waiting
        # the server-side wait ends with its connection (no backend left in workflow_result)
        for _ in range(50):
            cur = await self.sql.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                                         ["%durable.workflow_result%"])
            if (await cur.fetchone())[0] == 0:
                break
            await asyncio.sleep(0.1)
        else:
            self.fail("workflow_result still waiting after its caller was cancelled")
        self.assertEqual((await h.describe()).status, WorkflowExecutionStatus.RUNNING)

    async def test_result_waits_through_a_server_restart(self):
        # a lost connection is not the workflow's outcome: result() reconnects and keeps waiting; and a
        # client's idle connections, which the crash ended, are replaced rather than failing its next call
        h = await self.client.start_workflow("Survivor", id=wid("restart"), task_queue=self.queue)
        other = await Client.connect(CLUSTER.dsn)
        try:
            await asyncio.gather(*(other.get_workflow_handle(h.id).describe() for _ in range(3)))
            self.assertGreaterEqual(len(other._idle), 2)
            waiting = asyncio.ensure_future(h.result())
            await asyncio.sleep(0.3)
            await self.sql.close()
            await asyncio.get_running_loop().run_in_executor(None, CLUSTER.restart_immediate)
            self.assertEqual((await other.get_workflow_handle(h.id).describe()).status,
                             WorkflowExecutionStatus.RUNNING)
        finally:
            await other.close()
        self.sql = await psycopg.AsyncConnection.connect(CLUSTER.dsn, autocommit=True)
        await self.complete_next_task(self.queue, [{"type": "complete_workflow", "result": "still here"}])
        self.assertEqual(await asyncio.wait_for(waiting, 30), "still here")

    # -- queries -----------------------------------------------------------

    async def poll_query(self):
        """The next query task of the queue; a workflow task met on the way
        (the poll may come before the query is asked) is completed with no command."""
        while True:
            cur = await self.sql.execute(
                "SELECT task_token, kind, query_name, input FROM durable.poll_task(task_queue => %s,"
                " worker_id => 'by-hand', kinds => '{workflow}', wait => '10 seconds')", [self.queue])
            row = await cur.fetchone()
            self.assertIsNotNone(row, "no query task within 10 s")
            if row[1] == "query":
                return row
            await self.sql.execute("SELECT durable.complete_workflow_task(%s, '[]'::jsonb)", [row[0]])

    async def test_query_answered_by_hand(self):
        h = await self.client.start_workflow(Order.run, "o", id=wid("query"), task_queue=self.queue)
        await self.complete_next_task(self.queue, [])  # the first workflow task: the next poll brings the query
        asking = asyncio.ensure_future(h.query(Order.status, "verbose"))
        token, kind, name, args = await self.poll_query()
        self.assertEqual((kind, name, args), ("query", "status", ["verbose"]))
        await self.sql.execute("SELECT durable.answer_query(%s, %s::jsonb)", [token, json.dumps("shipping")])
        self.assertEqual(await asyncio.wait_for(asking, 10), "shipping")
        # a failing handler: WorkflowQueryFailedError with the handler's failure as cause
        asking = asyncio.ensure_future(h.query("status"))
        token = (await self.poll_query())[0]
        await self.sql.execute("SELECT durable.answer_query(%s, NULL, %s::jsonb)",
                               [token, json.dumps(error_to_failure(ApplicationError("no such state", type="Bad")))])
        with self.assertRaises(WorkflowQueryFailedError) as cm:
            await asyncio.wait_for(asking, 10)
        self.assertEqual(cm.exception.sqlstate, "DU020")
        self.assertIsInstance(cm.exception.__cause__, ApplicationError)
        self.assertEqual(cm.exception.__cause__.type, "Bad")

    async def test_query_without_worker_times_out(self):
        h = await self.client.start_workflow("Q", id=wid("qto"), task_queue="nobody-polls-this")
        with self.assertRaises(WorkflowQueryTimeoutError) as cm:
            await h.query("state", rpc_timeout=timedelta(milliseconds=300))
        self.assertEqual(cm.exception.sqlstate, "DU021")

    # -- the caller's own transaction ---------------------------------------

    async def test_start_in_callers_transaction(self):
        # docs/sql-api.md: "Rolled back with the caller's transaction, it leaves no trace."
        rolled, kept = wid("tx-rollback"), wid("tx-commit")
        async with await psycopg.AsyncConnection.connect(CLUSTER.dsn) as conn:
            async with conn.transaction(force_rollback=True):
                await conn.execute("CREATE TEMP TABLE orders_tx (id text)")
                h = await self.client.start_workflow(Order.run, "o", id=rolled, task_queue=self.queue, connection=conn)
                self.assertIsNotNone(h.result_run_id)
                # not visible outside the transaction yet
                with self.assertRaises(WorkflowNotFoundError):
                    await h.describe()
            with self.assertRaises(WorkflowNotFoundError):
                await self.client.get_workflow_handle(rolled).describe()
            async with conn.transaction():
                await conn.execute("CREATE TEMP TABLE orders_ok (id text)")
                await conn.execute("INSERT INTO orders_ok VALUES (%s)", [kept])
                h2 = await self.client.start_workflow(Order.run, "o", id=kept, task_queue=self.queue, connection=conn)
                await h2.signal("paid", 10, connection=conn)
            d = await self.client.get_workflow_handle(kept).describe()
            self.assertEqual(d.status, WorkflowExecutionStatus.RUNNING)
            self.assertIn("WorkflowExecutionSignaled", await self.events(h2))
            # a signal and a terminate in a transaction that rolls back leave nothing
            async with conn.transaction(force_rollback=True):
                await h2.signal("lost", connection=conn)
                await h2.terminate(connection=conn)
            self.assertNotIn("lost", json.dumps((await h2.fetch_history()).events))
            self.assertEqual((await h2.describe()).status, WorkflowExecutionStatus.RUNNING)

    async def test_start_in_a_sync_connection(self):
        id = wid("tx-sync")
        with psycopg.connect(CLUSTER.dsn) as conn:
            with conn.transaction():
                await self.client.start_workflow("Sync", id=id, task_queue=self.queue, connection=conn)
        self.assertEqual((await self.client.get_workflow_handle(id).describe()).workflow_type, "Sync")

    # -- listing, closing ----------------------------------------------------

    async def test_list_workflows_and_close(self):
        id = wid("list")
        await self.client.start_workflow("Listed", id=id, task_queue=self.queue)
        rows = await self.client.list_workflows(workflow_type="Listed", status="RUNNING")
        self.assertIn(id, [r["workflow_id"] for r in rows])
        async with await Client.connect(CLUSTER.dsn) as c:
            self.assertEqual(c.namespace, "default")
            self.assertIn("@", c.identity)
        with self.assertRaises(RuntimeError):
            await c.get_workflow_handle(id).describe()


if __name__ == "__main__":
    unittest.main()

"""Shared helpers of the end-to-end tests of workflows, activities, the
replayer and interop: a client-side SQL shim (start, result, history,
signal, query, cancel through the SQL API of docs/sql-api.md), waiting for
history events, and a worker running in the background.

Tests drive the engine through plain SQL so that what they assert is the
engine's record (the history), not a client library's reading of it.
"""
import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager

import psycopg
from psycopg.types.json import Jsonb

from durable.exceptions import map_error
from durable.worker import Worker


class SqlClient:
    """What durable.worker.Worker needs of a client (.dsn, .namespace,
    .identity), plus the client calls the tests make, through the SQL API."""

    def __init__(self, dsn: str, namespace: str = "default", identity=None):
        self.dsn = dsn
        self.namespace = namespace
        self.identity = identity
        self._conn = None

    async def conn(self):
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        return self._conn

    async def close(self):
        if self._conn is not None:
            await self._conn.close()

    async def sql(self, query: str, params=()):
        """One statement; its first row's first column (None if no row). Engine errors are typed (map_error)."""
        c = await self.conn()
        try:
            cur = await c.execute(query, params)
            row = await cur.fetchone() if cur.description else None
        except psycopg.Error as e:
            err = map_error(e)
            if err is e:
                raise
            raise err       # no `from`: a typed error's __cause__ is its failure
        return None if row is None else row[0]

    async def start(self, workflow_type: str, *args, id=None, task_queue: str, task_timeout: float = 10,
                    execution_timeout=None, retry_policy=None) -> tuple:
        """durable.start_workflow; returns (workflow_id, run_id)."""
        wid = id or f"wf-{uuid.uuid4()}"
        rid = await self.sql(
            "SELECT durable.start_workflow(workflow_type => %s, input => %s, workflow_id => %s, task_queue => %s, "
            "task_timeout => %s * interval '1 second', execution_timeout => %s * interval '1 second', "
            "retry_policy => %s, namespace => %s)",
            (workflow_type, Jsonb(list(args)), wid, task_queue, task_timeout, execution_timeout,
             Jsonb(retry_policy.to_json()) if retry_policy is not None else None, self.namespace))
        return wid, str(rid)

    async def result(self, wid: str, run_id=None, wait: float = 15):
        """durable.workflow_result waiting up to `wait` s (follows continue-as-new); raises WorkflowFailureError."""
        return await self.sql("SELECT durable.workflow_result(%s, %s::uuid, %s * interval '1 second', %s)",
                              (wid, run_id, wait, self.namespace))

    async def history(self, wid: str, run_id=None) -> list:
        """durable.get_history as a list of protocol event objects (event_time ISO 8601 text)."""
        rows = await self.sql(
            "SELECT coalesce(json_agg(json_build_object('event_id', event_id, 'event_type', event_type, "
            "'event_time', event_time, 'attributes', attributes) ORDER BY event_id), '[]') "
            "FROM durable.get_history(%s, %s::uuid, %s)", (wid, run_id, self.namespace))
        return rows

    async def signal(self, wid: str, name: str, *args, run_id=None):
        await self.sql("SELECT durable.signal_workflow(%s, %s, %s, %s::uuid, namespace => %s)",
                       (wid, name, Jsonb(list(args)), run_id, self.namespace))

    async def cancel(self, wid: str, reason=None):
        await self.sql("SELECT durable.cancel_workflow(%s, %s, namespace => %s)", (wid, reason, self.namespace))

    async def query(self, wid: str, name: str, *args, timeout: float = 5):
        return await self.sql("SELECT durable.query_workflow(%s, %s, %s, %s * interval '1 second', "
                              "namespace => %s)", (wid, name, Jsonb(list(args)), timeout, self.namespace))

    async def describe(self, wid: str, run_id=None) -> dict:
        return await self.sql("SELECT to_jsonb(d) FROM durable.describe_workflow(%s, %s::uuid, %s) d",
                              (wid, run_id, self.namespace))

    async def wait_event(self, wid: str, event_type: str, *, count: int = 1, timeout: float = 10,
                         run_id=None, where=None) -> list:
        """Wait until the history has `count` events of `event_type` (matching `where(event)`); returns the history."""
        deadline = time.monotonic() + timeout
        while True:
            h = await self.history(wid, run_id)
            n = sum(1 for e in h if e["event_type"] == event_type and (where is None or where(e)))
            if n >= count:
                return h
            if time.monotonic() > deadline:
                raise AssertionError(f"{wid}: no {count} x {event_type} within {timeout}s; history: "
                                     f"{[e['event_type'] for e in h]}")
            await asyncio.sleep(0.05)


def types(history: list) -> list:
    return [e["event_type"] for e in history]


def events(history: list, event_type: str) -> list:
    return [e for e in history if e["event_type"] == event_type]


def queue() -> str:
    """A task queue of the test's own (tests of one module share its cluster)."""
    return f"q-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def running(client, **kwargs):
    """A durable.worker.Worker running in the background for the block; shut down after it."""
    kwargs.setdefault("poll_wait", 5)
    w = Worker(client, **kwargs)
    task = asyncio.ensure_future(w.run())
    w._run_task = task
    try:
        yield w
    finally:
        await w.shutdown()
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


def dump(history: list) -> str:
    return json.dumps(history, indent=1, default=str)

"""Shared helpers of the end-to-end tests of workflows, activities, the
replayer and interop: E2EClient, a durable.client.Client with short forms
of the calls the tests make (start, result, history, signal, query,
cancel, describe) through its handles, plus waiting for history events and
a connection of the test's own for plain SQL; and a worker running in the
background.

Tests assert on the engine's record (the history, fetched with
WorkflowHandle.fetch_history) rather than only on what the SDK reports.
"""
import asyncio
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from urllib.parse import quote

import psycopg

from durable.client import Client
from durable.worker import Worker


class E2EClient(Client):
    """A Client (what durable.worker.Worker takes: .dsn, .namespace, .identity) with the tests' short forms."""

    def __init__(self, dsn: str, namespace: str = "default", identity=None):
        super().__init__(dsn, namespace=namespace, identity=identity)
        self._conn = None

    async def conn(self):
        """A connection of the test's own (autocommit) for plain SQL."""
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        return self._conn

    async def close(self):
        if self._conn is not None:
            await self._conn.close()
        await super().close()

    async def start(self, workflow, *args, id=None, task_queue: str, task_timeout: float = 10,
                    execution_timeout=None, retry_policy=None) -> tuple:
        """Client.start_workflow; returns (workflow_id, run_id)."""
        h = await self.start_workflow(workflow, args=list(args), id=id or f"wf-{uuid.uuid4()}", task_queue=task_queue,
                                      task_timeout=task_timeout, execution_timeout=execution_timeout,
                                      retry_policy=retry_policy)
        return h.id, h.result_run_id

    async def result(self, wid: str, run_id=None, wait: float = 15, result_type=None):
        """WorkflowHandle.result (follows continue-as-new and retries), waiting up to `wait` s."""
        return await self.get_workflow_handle(wid, run_id=run_id, result_type=result_type).result(rpc_timeout=wait)

    async def history(self, wid: str, run_id=None) -> list:
        """WorkflowHandle.fetch_history: the protocol's event objects (event_time ISO 8601 text)."""
        return (await self.get_workflow_handle(wid, run_id=run_id).fetch_history()).events

    async def signal(self, wid: str, name: str, *args, run_id=None):
        await self.get_workflow_handle(wid, run_id=run_id).signal(name, args=list(args))

    async def cancel(self, wid: str, reason=None):
        await self.get_workflow_handle(wid).cancel(reason)

    async def query(self, wid: str, name: str, *args, timeout: float = 5):
        return await self.get_workflow_handle(wid).query(name, args=list(args), rpc_timeout=timeout)

    async def describe(self, wid: str, run_id=None) -> dict:
        return (await self.get_workflow_handle(wid, run_id=run_id).describe()).raw

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


# ------------------------------------------------------------------ the TypeScript side of interop tests
NODE = shutil.which("node")


def node_url(cluster) -> str:
    """The cluster as a node-postgres connection string (unix socket)."""
    return f"postgresql://postgres@/postgres?host={quote(cluster.dir, safe='')}&port={cluster.port}"


class TsWorker:
    """A TypeScript SDK worker in a process of its own: `node SCRIPT run` (a script of ts/ that
    prints "ready" once it polls and shuts down gracefully on SIGTERM) on the cluster's queue."""

    def __init__(self, script: str, cluster, task_queue: str, identity: str):
        self.script, self.cluster, self.task_queue, self.identity = script, cluster, task_queue, identity
        self.proc = None

    async def __aenter__(self):
        env = dict(os.environ, DATABASE_URL=node_url(self.cluster), TASK_QUEUE=self.task_queue,
                   WORKER_IDENTITY=self.identity)
        self.proc = await asyncio.create_subprocess_exec(NODE, self.script, "run", env=env,
                                                         stdout=asyncio.subprocess.PIPE,
                                                         stderr=asyncio.subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if line.strip() != b"ready":
            err = await self.proc.stderr.read()
            raise RuntimeError(f"TypeScript worker did not start: {line!r} {err.decode()[-2000:]}")
        return self

    async def __aexit__(self, *exc):
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)       # the worker's graceful shutdown
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                raise AssertionError("TypeScript worker did not stop on SIGTERM")


async def ts_replay(script: str, history: list, *args: str):
    """Worker.runReplayHistory of the TypeScript SDK on `history` (`node SCRIPT replay FILE
    ARGS...`); returns (ok, output)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(history, f)
    try:
        p = await asyncio.create_subprocess_exec(NODE, script, "replay", f.name, *args,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(p.communicate(), 30)
        return p.returncode == 0 and b"replay ok" in out, out.decode()
    finally:
        os.unlink(f.name)

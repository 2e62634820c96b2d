"""Activity definitions and the API activity code calls (Temporal's
`temporalio.activity` names).

    from durable import activity

    @activity.defn
    async def charge(order_id: str, cents: int) -> str:
        activity.heartbeat("started")
        conn = await activity.connection()        # optional: exactly-once DB effects
        await conn.execute("INSERT INTO charges VALUES (%s, %s)", (order_id, cents))
        return "charged"                           # completes in conn's transaction

An activity is `async def` (run on the worker's event loop) or a plain
`def` (run in the worker's thread pool). It is not deterministic and may do
anything; the engine retries it by its retry policy.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional, Sequence

__all__ = ["defn", "info", "heartbeat", "is_cancelled", "wait_for_cancelled", "connection", "logger",
           "Info", "in_activity"]


def defn(fn: Optional[Callable] = None, *, name: Optional[str] = None, dynamic: bool = False):
    """Make a function an activity; its type name is `name` or the function's name."""

    def wrap(f):
        f.__durable_activity_name__ = None if dynamic else (name or f.__name__)
        f.__durable_activity_dynamic__ = dynamic
        return f

    return wrap(fn) if fn is not None else wrap


@dataclass
class Info:
    """`activity.info()`: the attempt being run (Temporal's activity.Info)."""
    activity_id: str
    activity_type: str
    attempt: int
    task_token: str
    task_queue: str
    workflow_id: str
    workflow_run_id: str
    workflow_type: str
    workflow_namespace: str
    heartbeat_details: Sequence[Any]
    heartbeat_timeout: Optional[timedelta]
    scheduled_time: Optional[datetime]
    started_time: Optional[datetime]
    deadline: Optional[datetime]
    priority: Optional[int] = None
    is_local: bool = False


class _Context:
    """One running attempt: its info, heartbeats, cancellation and connection."""

    def __init__(self, info: Info, worker, loop: asyncio.AbstractEventLoop):
        self.info = info
        self.worker = worker
        self.loop = loop
        self.cancelled = asyncio.Event()
        self.task: Optional[asyncio.Task] = None
        self.conn = None                     # the activity's own transaction, if it asked
        self.pending: Optional[tuple] = None  # heartbeat details not yet sent
        self.sender: Optional[asyncio.Task] = None
        self.last_sent = 0.0
        self.gone = False                    # DU004 from a heartbeat: stop, report nothing
        hb = info.heartbeat_timeout.total_seconds() if info.heartbeat_timeout else None
        self.throttle = min(0.8 * hb, 30.0) if hb else 30.0

    def heartbeat(self, details: tuple):
        self.pending = details
        if self.sender is None or self.sender.done():
            self.sender = self.loop.create_task(self._send())

    async def _send(self):
        while self.pending is not None and not self.gone:
            wait = self.last_sent + self.throttle - self.loop.time()
            if self.last_sent and wait > 0:
                await asyncio.sleep(wait)
            details, self.pending = self.pending, None
            self.last_sent = self.loop.time()
            cancel = await self.worker._heartbeat(self, list(details))
            if cancel and not self.cancelled.is_set():
                self.cancelled.set()
                if self.task is not None and not self.task.done():
                    self.task.cancel()

    async def flush(self):
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()
        if self.pending is not None and not self.gone:
            details, self.pending = self.pending, None
            try:
                await self.worker._heartbeat(self, list(details))
            except Exception:           # noqa: BLE001 - the completion follows anyway
                pass


class _LocalContext(_Context):
    """A local activity's attempt: heartbeats are ignored (as in Temporal); its
    `connection()` commits when the attempt returns, apart from the marker."""

    def heartbeat(self, details: tuple):
        pass

    async def flush(self):
        pass


_ctx: contextvars.ContextVar[Optional[_Context]] = contextvars.ContextVar("durable_activity", default=None)


def _current() -> _Context:
    c = _ctx.get()
    if c is None:
        raise RuntimeError("not in an activity (durable.activity functions work only inside activity code)")
    return c


def in_activity() -> bool:
    return _ctx.get() is not None


def info() -> Info:
    """The attempt's `Info`."""
    return _current().info


def heartbeat(*details: Any) -> None:
    """Record progress: the engine extends the attempt's heartbeat deadline and
    keeps `details` for the next attempt (`info().heartbeat_details`). Sent at
    most every 0.8 x heartbeat timeout (30 s at most); a heartbeat that learns
    the workflow asked to cancel the activity cancels an async activity
    (`asyncio.CancelledError`) and makes `is_cancelled()` true.
    Works from threads (plain `def` activities) too."""
    c = _current()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is c.loop:
        c.heartbeat(details)
    else:
        c.loop.call_soon_threadsafe(c.heartbeat, details)


def is_cancelled() -> bool:
    """True once a heartbeat learned that the workflow asked to cancel the activity."""
    return _current().cancelled.is_set()


async def wait_for_cancelled() -> None:
    await _current().cancelled.wait()


async def connection():
    """A psycopg `AsyncConnection` in an open transaction, for the activity's
    own writes: when the activity returns, the worker calls
    `durable.complete_activity` on it and commits, so the writes and the
    completion are exactly-once together (docs/protocol.md, "Heartbeats,
    exactly-once completion and shutdown"). If the activity raises, or the
    attempt is no longer outstanding (it timed out meanwhile), everything
    rolls back. Heartbeats need no lock, so they work while it is open.
    The same connection is returned on every call of one attempt."""
    c = _current()
    if c.conn is None:
        c.conn = await c.worker._activity_connection()
    return c.conn


class _Logger(logging.LoggerAdapter):
    def process(self, msg, kwargs):
        c = _ctx.get()
        if c is not None:
            extra = dict(kwargs.get("extra") or {})
            extra.setdefault("activity_id", c.info.activity_id)
            extra.setdefault("activity_type", c.info.activity_type)
            extra.setdefault("attempt", c.info.attempt)
            extra.setdefault("workflow_id", c.info.workflow_id)
            kwargs["extra"] = extra
        return msg, kwargs


logger = _Logger(logging.getLogger("durable.activity"), {})

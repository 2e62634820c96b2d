"""The client: start workflows, signal, query, cancel, terminate, describe, read histories, wait for results.

Temporal Python's temporalio.client names (Client, WorkflowHandle,
WorkflowExecutionDescription, WorkflowHistory) over durable's SQL client API
(docs/sql-api.md, "Client functions"), on psycopg 3 AsyncConnections in
autocommit mode.  Every call acts in the client's namespace; every error the
engine raises comes out typed by its SQLSTATE (durable.exceptions.map_error).

A client keeps a few connections: one call runs on one connection, so a
handle's result() (which waits server-side in durable.workflow_result) or a
query (which waits for a worker's answer) does not hold up other calls.
start_workflow, signal, cancel and terminate also take connection=, a
caller's psycopg connection, to run inside the caller's own transaction:
they then take effect when it commits, and leave no trace if it rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
import time
import typing
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import psycopg
from psycopg.rows import dict_row, tuple_row

from .common import (
    Duration, Priority, RetryPolicy, WorkflowExecutionStatus, WorkflowIDConflictPolicy, WorkflowIDReusePolicy,
    enum_value, to_timedelta,
)
from .converter import decode, encode, encode_args
from .schedule import (
    Schedule, ScheduleActionExecutionStartWorkflow, ScheduleActionResult, ScheduleActionStartWorkflow,
    ScheduleAsyncIterator, ScheduleBackfill, ScheduleCalendarSpec, ScheduleDescription, ScheduleHandle, ScheduleInfo,
    ScheduleIntervalSpec, ScheduleListActionStartWorkflow, ScheduleListDescription, ScheduleListInfo,
    ScheduleListSchedule, ScheduleListState, ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec,
    ScheduleState, ScheduleUpdate, ScheduleUpdateInput,
)
from .exceptions import (
    ScheduleAlreadyRunningError, ScheduleNotFoundError,
    WorkflowAlreadyStartedError, WorkflowContinuedAsNewError, WorkflowFailureError, WorkflowNotRunningError,
    WorkflowStillRunningError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError,
    failure_to_error, map_error,
)

__all__ = [
    "Client",
    "Schedule",
    "ScheduleActionExecutionStartWorkflow",
    "ScheduleActionResult",
    "ScheduleActionStartWorkflow",
    "ScheduleAlreadyRunningError",
    "ScheduleAsyncIterator",
    "ScheduleBackfill",
    "ScheduleCalendarSpec",
    "ScheduleDescription",
    "ScheduleHandle",
    "ScheduleInfo",
    "ScheduleIntervalSpec",
    "ScheduleListActionStartWorkflow",
    "ScheduleListDescription",
    "ScheduleListInfo",
    "ScheduleListSchedule",
    "ScheduleListState",
    "ScheduleNotFoundError",
    "ScheduleOverlapPolicy",
    "SchedulePolicy",
    "ScheduleRange",
    "ScheduleSpec",
    "ScheduleState",
    "ScheduleUpdate",
    "ScheduleUpdateInput",
    "WorkflowExecutionDescription",
    "WorkflowExecutionStatus",
    "WorkflowHandle",
    "WithStartWorkflowOperation",
    "WorkflowHistory",
    "WorkflowUpdateFailedError",
    "WorkflowUpdateHandle",
    "WorkflowUpdateRPCTimeoutOrCancelledError",
    "WorkflowUpdateStage",
]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()

# how long one workflow_result call waits server-side before the client calls again
_RESULT_WAIT = timedelta(seconds=30)
# how long result() keeps waiting through a lost connection (a server restart) before it gives up
_RECONNECT_FOR = 120.0
_IDLE_CONNECTIONS = 4

_FAILURE_SQLSTATE = {"failed": "DU010", "canceled": "DU011", "terminated": "DU012", "timed_out": "DU013"}

AnyConnection = Union[psycopg.AsyncConnection, psycopg.Connection]


# ---------------------------------------------------------------------------
# names of workflows, signals and queries


def workflow_name(workflow: Any) -> str:
    """The workflow type of a reference: a name, a @workflow.defn class, or its @workflow.run method."""
    if isinstance(workflow, str):
        return workflow
    defn = getattr(workflow, "__durable_workflow__", None)
    if defn is not None and isinstance(workflow, type):
        return defn.name
    name = getattr(workflow, "__durable_workflow_name__", None)
    if isinstance(name, str):
        return name
    raise TypeError(f"{workflow!r} is not a workflow: pass its name, a @workflow.defn class or its @workflow.run method")


def _handler_name(ref: Any, attr: str, what: str) -> str:
    if isinstance(ref, str):
        return ref
    name = getattr(ref, attr, None)
    if isinstance(name, str):
        return name
    raise TypeError(f"{ref!r} is not a {what}: pass its name or a @workflow.{what} method")


def _return_hint(fn: Any) -> Any:
    """The return type hint of a function, None when it has none or it cannot be resolved."""
    if fn is None or not callable(fn):
        return None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return None
    ret = hints.get("return")
    return None if ret is type(None) else ret


def _result_hint(workflow: Any) -> Any:
    """The type a workflow's result decodes to: its run method's return hint."""
    if isinstance(workflow, str):
        return None
    if isinstance(workflow, type):
        defn = getattr(workflow, "__durable_workflow__", None)
        run_name = getattr(defn, "run_fn_name", None)
        return _return_hint(getattr(workflow, run_name, None)) if run_name else None
    return _return_hint(workflow)


def _call_args(arg: Any, args: Sequence[Any]) -> List[Any]:
    if arg is not _UNSET:
        if args:
            raise TypeError("pass either one positional argument or args=[...], not both")
        return [arg]
    return list(args)


def _json(v: Any) -> Optional[str]:
    return None if v is None else json.dumps(encode(v))


def _uuid_text(v: Any) -> Optional[str]:
    return None if v is None else str(v)


# ---------------------------------------------------------------------------
# results of describe and fetch_history


@dataclass
class WorkflowExecutionDescription:
    """A run as durable.describe_workflow describes it (Temporal's WorkflowExecutionDescription).

    raw holds every column of durable.workflow_description (run ids as text).
    """

    id: str
    run_id: str
    workflow_type: str
    status: WorkflowExecutionStatus
    task_queue: str
    start_time: datetime
    close_time: Optional[datetime]
    history_length: int
    attempt: int = 1
    memo: Dict[str, Any] = field(default_factory=dict)
    search_attributes: Dict[str, Any] = field(default_factory=dict)
    first_execution_run_id: Optional[str] = None
    previous_run_id: Optional[str] = None
    next_run_id: Optional[str] = None
    cancel_requested: bool = False
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def workflow_id(self) -> str:
        return self.id


@dataclass
class WorkflowHistory:
    """A run's events as durable.get_history returns them (Temporal's WorkflowHistory).

    Each event is the protocol's event object: {"run_id", "event_id",
    "event_type", "event_time", "attributes"} (docs/protocol.md), the form
    the Replayer and the TypeScript SDK's Worker.runReplayHistory read.
    """

    workflow_id: str
    events: List[Dict[str, Any]]

    @property
    def run_id(self) -> Optional[str]:
        return self.events[0]["run_id"] if self.events else None

    def to_json(self) -> str:
        return json.dumps({"workflow_id": self.workflow_id, "events": self.events})

    @staticmethod
    def from_json(workflow_id: str, history: Union[str, Mapping[str, Any], Sequence[Any]]) -> "WorkflowHistory":
        data = json.loads(history) if isinstance(history, str) else history
        events = data.get("events", []) if isinstance(data, Mapping) else list(data)
        return WorkflowHistory(workflow_id, list(events))


# ---------------------------------------------------------------------------
# the client


class Client:
    """A connection to durable for one namespace (Temporal's Client).

    Create it with ``await Client.connect(dsn)``; close it with
    ``await client.close()`` or ``async with``.
    """

    def __init__(self, dsn: str, *, namespace: str = "default", identity: Optional[str] = None) -> None:
        self._dsn = dsn
        self._namespace = namespace
        self._identity = identity or f"{os.getpid()}@{socket.gethostname()}"
        self._idle: List[psycopg.AsyncConnection] = []
        self._closed = False

    @staticmethod
    async def connect(dsn: str, *, namespace: str = "default", identity: Optional[str] = None) -> "Client":
        """Connect to the database of dsn (a libpq connection string or URI); fails at once if it cannot."""
        client = Client(dsn, namespace=namespace, identity=identity)
        conn = await client._open()
        client._idle.append(conn)
        return client

    @property
    def dsn(self) -> str:
        return self._dsn

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def identity(self) -> str:
        return self._identity

    async def close(self) -> None:
        """Close the client's connections (calls still running close theirs when they end)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- connections -------------------------------------------------------

    async def _open(self) -> psycopg.AsyncConnection:
        try:
            # text as str whatever the database's encoding (SQL_ASCII databases included): payloads are UTF-8 JSON
            return await psycopg.AsyncConnection.connect(self._dsn, autocommit=True, client_encoding="UTF8")
        except psycopg.Error as e:
            raise _typed(e)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """One of the client's autocommit connections, for the duration of the block."""
        if self._closed:
            raise RuntimeError("the client is closed")
        conn = None
        while self._idle:
            conn = self._idle.pop()
            if _alive(conn):
                break
            await conn.close()  # the server ended it (a restart, an idle timeout): take another
            conn = None
        if conn is None:
            conn = await self._open()
        reusable = False
        try:
            yield conn
            reusable = True
        except psycopg.Error:
            reusable = True  # an SQL error leaves an autocommit connection usable
            raise
        finally:
            # a cancelled call (asyncio.CancelledError) may leave a statement running: drop the
            # connection, which also ends a server-side wait (the engine watches the socket)
            ok = (reusable and not conn.closed and not self._closed
                  and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                  and len(self._idle) < _IDLE_CONNECTIONS)
            if ok:
                self._idle.append(conn)
            else:
                await conn.close()

    async def _fetch(self, sql: str, params: Sequence[Any], *, connection: Optional[AnyConnection] = None,
                     rows: str = "tuple") -> List[Any]:
        """Run one statement and return its rows, raising engine errors typed."""
        factory = dict_row if rows == "dict" else tuple_row
        try:
            if connection is not None:
                if isinstance(connection, psycopg.AsyncConnection):
                    async with connection.cursor(row_factory=factory) as cur:
                        await cur.execute(sql, params)
                        return await cur.fetchall() if cur.description else []
                with connection.cursor(row_factory=factory) as scur:
                    scur.execute(sql, params)
                    return scur.fetchall() if scur.description else []
            async with self.connection() as conn:
                async with conn.cursor(row_factory=factory) as cur:
                    await cur.execute(sql, params)
                    return await cur.fetchall() if cur.description else []
        except psycopg.Error as e:
            raise _typed(e)

    async def _call(self, function: str, named: Sequence[Tuple[str, str, Any]], *,
                    connection: Optional[AnyConnection] = None, select: str = "r",
                    rows: str = "tuple") -> List[Any]:
        """SELECT durable.<function>(name => value, ..., namespace => ns); None values are left out (SQL defaults)."""
        parts = []
        params: List[Any] = []
        for name, cast, value in named:
            if value is None:
                continue
            parts.append(f"{name} => %s{cast}")
            params.append(value)
        parts.append("namespace => %s")
        params.append(self._namespace)
        sql = f"SELECT {select} FROM durable.{function}({', '.join(parts)}) AS r"
        return await self._fetch(sql, params, connection=connection, rows=rows)

    # -- workflows ---------------------------------------------------------

    async def start_workflow(
        self,
        workflow: Any,
        arg: Any = _UNSET,
        *,
        args: Sequence[Any] = (),
        id: str,
        task_queue: str,
        result_type: Any = None,
        execution_timeout: Optional[Duration] = None,
        run_timeout: Optional[Duration] = None,
        task_timeout: Optional[Duration] = None,
        id_reuse_policy: Union[WorkflowIDReusePolicy, str] = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: Union[WorkflowIDConflictPolicy, str, None] = None,
        retry_policy: Optional[RetryPolicy] = None,
        memo: Optional[Mapping[str, Any]] = None,
        search_attributes: Optional[Mapping[str, Any]] = None,
        start_delay: Optional[Duration] = None,
        priority: Union[Priority, int, None] = None,
        required_capabilities: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        start_signal: Any = None,
        start_signal_args: Sequence[Any] = (),
        connection: Optional[AnyConnection] = None,
    ) -> "WorkflowHandle":
        """Start a workflow run and return its handle (durable.start_workflow).

        With start_signal, durable.signal_with_start_workflow: signal the
        running run of the id, or start one with the signal as its first
        event (id_conflict_policy does not apply).  With connection=, the
        start runs in that connection's transaction.
        """
        wf_type = workflow_name(workflow)
        input_args = encode_args(_call_args(arg, args))
        reuse = enum_value(id_reuse_policy, WorkflowIDReusePolicy, "id_reuse_policy")
        if isinstance(priority, int) and not isinstance(priority, bool):
            priority = Priority(priority_key=priority)
        pr = priority or Priority()
        common: List[Tuple[str, str, Any]] = [
            ("workflow_type", "::text", wf_type),
            ("input", "::jsonb", json.dumps(input_args)),
            ("task_queue", "::text", task_queue),
            ("execution_timeout", "::interval", to_timedelta(execution_timeout)),
            ("run_timeout", "::interval", to_timedelta(run_timeout)),
            ("task_timeout", "::interval", to_timedelta(task_timeout)),
            ("id_reuse_policy", "::text", reuse),
            ("retry_policy", "::jsonb", _json(retry_policy.to_json()) if retry_policy else None),
            ("start_delay", "::interval", to_timedelta(start_delay)),
            ("request_id", "::text", request_id),
            ("search_attributes", "::jsonb", _json(dict(search_attributes)) if search_attributes else None),
            ("memo", "::jsonb", _json(dict(memo)) if memo else None),
            ("priority", "::integer", pr.priority_key),
            ("fairness_key", "::text", pr.fairness_key),
            ("fairness_weight", "::real", pr.fairness_weight),
            ("required_capabilities", "::jsonb", _json(dict(required_capabilities)) if required_capabilities else None),
        ]
        hint = result_type if result_type is not None else _result_hint(workflow)
        try:
            if start_signal is not None:
                signal = _handler_name(start_signal, "__durable_signal_name__", "signal")
                rows = await self._call("signal_with_start_workflow", [
                    ("workflow_id", "::text", id),
                    ("signal_name", "::text", signal),
                    ("signal_payload", "::jsonb", json.dumps(encode_args(list(start_signal_args)))),
                    *common,
                ], connection=connection)
                return WorkflowHandle(self, id, result_run_id=_uuid_text(rows[0][0]), result_type=hint)
            conflict = enum_value(id_conflict_policy, WorkflowIDConflictPolicy, "id_conflict_policy")
            rows = await self._call("start_workflow", [
                ("workflow_id", "::text", id),
                ("id_conflict_policy", "::text", conflict),
                *common,
            ], connection=connection)
        except WorkflowAlreadyStartedError as e:
            e.workflow_id = id
            e.workflow_type = wf_type
            raise
        run_id = _uuid_text(rows[0][0])
        return WorkflowHandle(self, id, result_run_id=run_id, first_execution_run_id=run_id, result_type=hint)

    async def execute_workflow(self, workflow: Any, arg: Any = _UNSET, *, args: Sequence[Any] = (),
                               rpc_timeout: Optional[Duration] = None, **kwargs: Any) -> Any:
        """start_workflow, then the handle's result()."""
        handle = await self.start_workflow(workflow, arg, args=args, **kwargs)
        return await handle.result(rpc_timeout=rpc_timeout)

    def get_workflow_handle(self, workflow_id: str, *, run_id: Optional[str] = None,
                            first_execution_run_id: Optional[str] = None, result_type: Any = None) -> "WorkflowHandle":
        """A handle to a workflow id (to its run run_id when given, else to its running or latest run)."""
        return WorkflowHandle(self, workflow_id, run_id=run_id, result_run_id=run_id,
                              first_execution_run_id=first_execution_run_id, result_type=result_type)

    def get_workflow_handle_for(self, workflow: Any, workflow_id: str, *, run_id: Optional[str] = None,
                                first_execution_run_id: Optional[str] = None) -> "WorkflowHandle":
        """get_workflow_handle, decoding results by the workflow's run method's return type."""
        return self.get_workflow_handle(workflow_id, run_id=run_id, first_execution_run_id=first_execution_run_id,
                                        result_type=_result_hint(workflow))

    async def start_update_with_start_workflow(
            self, update: Any, arg: Any = _UNSET, *, start_workflow_operation: "WithStartWorkflowOperation",
            wait_for_stage: Union["WorkflowUpdateStage", str] = None, args: Sequence[Any] = (),
            id: Optional[str] = None, result_type: Any = None,
            rpc_timeout: Optional[Duration] = None) -> "WorkflowUpdateHandle":
        """Start the operation's workflow unless it runs, then send it an update
        and wait until it is accepted (Temporal's start_update_with_start_workflow).

        Not atomic, unlike Temporal's (as the TypeScript client): a
        start_workflow by the operation's id_conflict_policy, then
        update_workflow to the id's running run; if the update is not
        admitted the workflow has started all the same.
        ``await start_workflow_operation.workflow_handle()`` gives the
        workflow's handle (or the start's error).
        """
        handle = await start_workflow_operation._start(self)
        return await handle.start_update(update, arg, args=args, wait_for_stage=wait_for_stage, id=id,
                                         result_type=result_type, rpc_timeout=rpc_timeout)

    async def execute_update_with_start_workflow(
            self, update: Any, arg: Any = _UNSET, *, start_workflow_operation: "WithStartWorkflowOperation",
            args: Sequence[Any] = (), id: Optional[str] = None, result_type: Any = None,
            rpc_timeout: Optional[Duration] = None) -> Any:
        """start_update_with_start_workflow, waiting for the update's result."""
        handle = await start_workflow_operation._start(self)
        return await handle.execute_update(update, arg, args=args, id=id, result_type=result_type,
                                           rpc_timeout=rpc_timeout)

    async def list_workflows(self, *, workflow_type: Optional[str] = None,
                             status: Union[WorkflowExecutionStatus, str, None] = None,
                             limit: int = 100) -> List[Dict[str, Any]]:
        """Runs of the namespace, newest first, from durable.workflows (row-level security applies).

        A simple filter in place of Temporal's visibility query language.
        Each item: workflow_id, run_id, workflow_type, task_queue, status,
        start_time, close_time.
        """
        conds = ["namespace = %s"]
        params: List[Any] = [self._namespace]
        if workflow_type is not None:
            conds.append("workflow_type = %s")
            params.append(workflow_type)
        if status is not None:
            conds.append("status = %s")
            params.append(enum_value(status, WorkflowExecutionStatus, "status"))
        params.append(int(limit))
        rows = await self._fetch(
            "SELECT workflow_id, run_id::text AS run_id, workflow_type, task_queue, status, start_time, close_time"
            f" FROM durable.workflows WHERE {' AND '.join(conds)} ORDER BY start_time DESC, run_id DESC LIMIT %s",
            params, rows="dict")
        return [dict(r) for r in rows]

    # -- schedules (durable/schedule.py; docs/schedules.md) ------------------

    async def create_schedule(self, id: str, schedule: Schedule, *, trigger_immediately: bool = False,
                              backfill: Sequence[ScheduleBackfill] = (), memo: Optional[Mapping[str, Any]] = None,
                              search_attributes: Optional[Mapping[str, Any]] = None,
                              connection: Optional[AnyConnection] = None) -> ScheduleHandle:
        """Create a schedule (durable.create_schedule) and return its handle.

        trigger_immediately takes an action at once, and each backfill the
        spec's times in its range, in the same transaction as the create
        (the caller's with connection=).  ScheduleAlreadyRunningError
        (DU031) when the id is taken; ScheduleSpecError (DU032) or
        ScheduleTimeZoneError (DU033) for a bad spec.  durable keeps no memo
        or search attributes on a schedule itself: passing them raises
        ValueError (the action's memo and search attributes are kept).
        """
        if memo or search_attributes:
            raise ValueError("durable keeps no memo or search attributes on a schedule itself "
                             "(set them on the action: ScheduleActionStartWorkflow(memo=, search_attributes=))")
        if connection is not None:
            await self._create_schedule(id, schedule, trigger_immediately, backfill, connection)
        else:
            async with self.connection() as conn:
                async with conn.transaction():
                    await self._create_schedule(id, schedule, trigger_immediately, backfill, conn)
        return ScheduleHandle(self, id)

    async def _create_schedule(self, id: str, schedule: Schedule, trigger_immediately: bool,
                               backfill: Sequence[ScheduleBackfill], conn: AnyConnection) -> None:
        await self._call("create_schedule", [
            ("schedule_id", "::text", id),
            ("spec", "::jsonb", json.dumps(schedule.spec._to_engine())),
            ("action", "::jsonb", json.dumps(schedule.action._to_engine())),
            ("policies", "::jsonb", json.dumps((schedule.policy or SchedulePolicy())._to_engine())),
            ("state", "::jsonb", json.dumps(schedule.state._to_engine()) if schedule.state else None),
        ], connection=conn)
        handle = ScheduleHandle(self, id)
        if trigger_immediately:
            await handle.trigger(connection=conn)
        if backfill:
            await handle.backfill(*backfill, connection=conn)

    def get_schedule_handle(self, id: str) -> ScheduleHandle:
        """A handle to the schedule id (nothing is checked until a call)."""
        return ScheduleHandle(self, id)

    async def list_schedules(self, query: Optional[str] = None, *, page_size: int = 1000) -> ScheduleAsyncIterator:
        """The namespace's schedules by id: ``async for s in await client.list_schedules(): ...``.

        Read from the table durable.schedules page by page (page_size rows a
        statement) when iterated.  Temporal's visibility query is not
        supported: query must be None.
        """
        if query is not None:
            raise ValueError("durable has no visibility query language: list_schedules takes no query")
        return ScheduleAsyncIterator(self, page_size)


def _alive(conn: psycopg.AsyncConnection) -> bool:
    """Whether an idle connection looks usable: open, and nothing to read.

    An idle autocommit connection that never LISTENs receives nothing
    unasked; something to read means the server is ending it (a FATAL
    message before a restart, idle_session_timeout) or has closed it (EOF).
    """
    if conn.closed:
        return False
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return False
    return not readable


def _typed(e: psycopg.Error) -> BaseException:
    """A psycopg error as durable's typed error (tracebacks show the engine error only once)."""
    mapped = map_error(e)
    if mapped is not e:
        mapped.__suppress_context__ = True
    return mapped


# ---------------------------------------------------------------------------
# handles


class WorkflowHandle:
    """A workflow id, and optionally one of its runs (Temporal's WorkflowHandle).

    run_id: the run every call acts on (None: the running run, else the
    latest).  result_run_id: the run result() starts from (following
    continue-as-new and retries).  first_execution_run_id: the first run of
    the chain, when known.
    """

    def __init__(self, client: Client, id: str, *, run_id: Optional[str] = None,
                 result_run_id: Optional[str] = None, first_execution_run_id: Optional[str] = None,
                 result_type: Any = None) -> None:
        self._client = client
        self._id = id
        self._run_id = run_id
        self._result_run_id = result_run_id
        self._first_execution_run_id = first_execution_run_id
        self._result_type = result_type

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> Optional[str]:
        return self._run_id

    @property
    def result_run_id(self) -> Optional[str]:
        return self._result_run_id

    @property
    def first_execution_run_id(self) -> Optional[str]:
        return self._first_execution_run_id

    @property
    def client(self) -> Client:
        return self._client

    def __repr__(self) -> str:
        return f"WorkflowHandle(id={self._id!r}, run_id={self._run_id!r}, result_run_id={self._result_run_id!r})"

    # -- result ------------------------------------------------------------

    async def result(self, *, follow_runs: bool = True, rpc_timeout: Optional[Duration] = None) -> Any:
        """Wait for the workflow to close and return its result, decoded.

        follow_runs (default): follow continue-as-new and workflow retries to
        the last run of the chain (durable.workflow_result, which waits
        server-side and is woken by the close).  Otherwise only this run:
        WorkflowContinuedAsNewError if it continued as new.  A workflow that
        did not complete raises WorkflowFailureError, whose cause is an
        ApplicationError, CancelledError, TerminatedError or TimeoutError.
        rpc_timeout bounds the wait: WorkflowStillRunningError when it ends
        first.
        """
        limit = to_timedelta(rpc_timeout)
        if not follow_runs:
            return await self._result_of_run(limit)
        deadline = None if limit is None else time.monotonic() + limit.total_seconds()
        lost_since: Optional[float] = None
        backoff = 0.1
        while True:
            wait = _RESULT_WAIT
            if deadline is not None:
                wait = timedelta(seconds=max(0.0, min(_RESULT_WAIT.total_seconds(), deadline - time.monotonic())))
            try:
                rows = await self._client._call("workflow_result", [
                    ("workflow_id", "::text", self._id),
                    ("run_id", "::uuid", self._result_run_id),
                    ("wait", "::interval", wait),
                ])
                return decode(rows[0][0], self._result_type)
            except WorkflowStillRunningError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                lost_since = None
            except psycopg.OperationalError:
                # the server went away (a restart, a failover): not the workflow's outcome, keep waiting
                now = time.monotonic()
                lost_since = lost_since or now
                if now - lost_since > _RECONNECT_FOR or (deadline is not None and now >= deadline):
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _result_of_run(self, limit: Optional[timedelta]) -> Any:
        """result(follow_runs=False): poll the run's status until it closes (50 ms, backing off to 1 s)."""
        deadline = None if limit is None else time.monotonic() + limit.total_seconds()
        run_id = self._result_run_id or self._run_id
        delay = 0.05
        while True:
            d = await self._describe_run(run_id)
            run_id = d.run_id
            if d.status != WorkflowExecutionStatus.RUNNING:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise WorkflowStillRunningError(f'workflow "{self._id}" is still running', "DU007")
            await asyncio.sleep(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)
        raw = d.raw
        if d.status == WorkflowExecutionStatus.COMPLETED:
            return decode(raw.get("result"), self._result_type)
        if d.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
            raise WorkflowContinuedAsNewError(d.next_run_id)
        failure = raw.get("failure")
        status = d.status.value
        message = f'workflow "{self._id}" {status.replace("_", " ")}'
        if isinstance(failure, dict) and failure.get("message"):
            message += f": {failure['message']}"
        raise WorkflowFailureError(message, _FAILURE_SQLSTATE[status],
                                   json.dumps(failure) if failure is not None else None, status=status)

    # -- signals, queries, cancel, terminate ---------------------------------

    async def signal(self, signal: Any, *arg: Any, args: Sequence[Any] = (), request_id: Optional[str] = None,
                     connection: Optional[AnyConnection] = None) -> None:
        """Send a signal (durable.signal_workflow): handle.signal(MyWf.approve, "yes") or args=[...].

        A repeated request_id is delivered once.  With connection=, the
        signal is sent in that connection's transaction.
        """
        if arg and args:
            raise TypeError("pass the signal's arguments positionally or as args=[...], not both")
        name = _handler_name(signal, "__durable_signal_name__", "signal")
        await self._client._call("signal_workflow", [
            ("workflow_id", "::text", self._id),
            ("signal_name", "::text", name),
            ("payload", "::jsonb", json.dumps(encode_args(list(arg or args)))),
            ("run_id", "::uuid", self._run_id),
            ("request_id", "::text", request_id),
        ], connection=connection)

    async def query(self, query: Any, *arg: Any, args: Sequence[Any] = (), result_type: Any = None,
                    rpc_timeout: Optional[Duration] = None) -> Any:
        """Ask a worker for the answer of a query handler (durable.query_workflow); works on closed runs too.

        WorkflowQueryFailedError when the handler fails,
        WorkflowQueryTimeoutError when no worker answers within rpc_timeout
        (default 10 s).
        """
        if arg and args:
            raise TypeError("pass the query's arguments positionally or as args=[...], not both")
        name = _handler_name(query, "__durable_query_name__", "query")
        hint = result_type if result_type is not None else _return_hint(query if not isinstance(query, str) else None)
        rows = await self._client._call("query_workflow", [
            ("workflow_id", "::text", self._id),
            ("query_name", "::text", name),
            ("args", "::jsonb", json.dumps(encode_args(list(arg or args)))),
            ("timeout", "::interval", to_timedelta(rpc_timeout)),
            ("run_id", "::uuid", self._run_id),
        ])
        return decode(rows[0][0], hint)

    async def cancel(self, reason: Optional[str] = None, *, connection: Optional[AnyConnection] = None) -> None:
        """Ask the workflow to cancel (durable.cancel_workflow); its code decides what to do."""
        await self._client._call("cancel_workflow", [
            ("workflow_id", "::text", self._id),
            ("reason", "::text", reason),
            ("run_id", "::uuid", self._run_id),
        ], connection=connection)

    async def terminate(self, reason: Optional[str] = None, *, connection: Optional[AnyConnection] = None) -> None:
        """Close the run at once (durable.terminate_workflow); no workflow code runs."""
        await self._client._call("terminate_workflow", [
            ("workflow_id", "::text", self._id),
            ("reason", "::text", reason),
            ("run_id", "::uuid", self._run_id),
        ], connection=connection)

    # -- updates -----------------------------------------------------------

    async def execute_update(self, update: Any, arg: Any = _UNSET, *, args: Sequence[Any] = (),
                             id: Optional[str] = None, result_type: Any = None,
                             rpc_timeout: Optional[Duration] = None) -> Any:
        """Send an update and wait for its result (durable.update_workflow).

        WorkflowUpdateFailedError (its cause the failure) when the validator
        rejected it or the handler raised; WorkflowNotRunningError when the
        workflow is closed or closes before the update completes.
        """
        handle = await self._send_update(update, arg, args, id, result_type, WorkflowUpdateStage.COMPLETED,
                                         rpc_timeout)
        return await handle.result(rpc_timeout=rpc_timeout)

    async def start_update(self, update: Any, arg: Any = _UNSET, *, args: Sequence[Any] = (),
                           wait_for_stage: Union["WorkflowUpdateStage", str] = None,
                           id: Optional[str] = None, result_type: Any = None,
                           rpc_timeout: Optional[Duration] = None) -> "WorkflowUpdateHandle":
        """Send an update and wait until it reaches wait_for_stage (ACCEPTED,
        the default, COMPLETED, or ADMITTED); the handle's result() waits for
        its completion. A rejected update raises WorkflowUpdateFailedError here."""
        stage = WorkflowUpdateStage(enum_value(wait_for_stage, WorkflowUpdateStage, "wait_for_stage")
                                    or WorkflowUpdateStage.ACCEPTED.value)
        return await self._send_update(update, arg, args, id, result_type, stage, rpc_timeout)

    def get_update_handle(self, id: str, *, workflow_run_id: Optional[str] = None,
                          result_type: Any = None) -> "WorkflowUpdateHandle":
        """The handle of an update sent before (by its id), for its result."""
        return WorkflowUpdateHandle(self._client, id, None, self._id, workflow_run_id or self._run_id,
                                    None, result_type)

    def get_update_handle_for(self, update: Any, id: str, *,
                              workflow_run_id: Optional[str] = None) -> "WorkflowUpdateHandle":
        """get_update_handle, with the update's name and its result decoded by the handler's return type."""
        name = _handler_name(update, "__durable_update_name__", "update")
        return WorkflowUpdateHandle(self._client, id, name, self._id, workflow_run_id or self._run_id,
                                    None, _return_hint(update if not isinstance(update, str) else None))

    async def _send_update(self, update: Any, arg: Any, args: Sequence[Any], id: Optional[str], result_type: Any,
                           stage: "WorkflowUpdateStage", rpc_timeout: Optional[Duration]) -> "WorkflowUpdateHandle":
        name = _handler_name(update, "__durable_update_name__", "update")
        hint = result_type if result_type is not None else _return_hint(update if not isinstance(update, str) else None)
        handle = WorkflowUpdateHandle(self._client, id or str(uuid.uuid4()), name, self._id, self._run_id,
                                      encode_args(_call_args(arg, args)), hint)
        await handle._until(stage, rpc_timeout)
        return handle

    # -- reading -----------------------------------------------------------

    async def describe(self) -> WorkflowExecutionDescription:
        """The run's status and details (durable.describe_workflow)."""
        return await self._describe_run(self._run_id)

    async def _describe_run(self, run_id: Optional[str]) -> WorkflowExecutionDescription:
        rows = await self._client._call("describe_workflow", [
            ("workflow_id", "::text", self._id),
            ("run_id", "::uuid", run_id),
        ], select="r.*", rows="dict")
        raw = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in rows[0].items()}
        return WorkflowExecutionDescription(
            id=raw["workflow_id"], run_id=raw["run_id"], workflow_type=raw["workflow_type"],
            status=WorkflowExecutionStatus(raw["status"]), task_queue=raw["task_queue"],
            start_time=raw["start_time"], close_time=raw["close_time"],
            history_length=int(raw["history_length"] or 0), attempt=int(raw.get("attempt") or 1),
            memo=dict(raw.get("memo") or {}), search_attributes=dict(raw.get("search_attributes") or {}),
            first_execution_run_id=raw.get("first_run_id"), previous_run_id=raw.get("previous_run_id"),
            next_run_id=raw.get("next_run_id"), cancel_requested=bool(raw.get("cancel_requested")), raw=raw)

    async def fetch_history(self) -> WorkflowHistory:
        """The run's events (durable.get_history), for the Replayer."""
        rows = await self._client._fetch(
            "SELECT coalesce(jsonb_agg(jsonb_build_object('run_id', h.run_id, 'event_id', h.event_id,"
            " 'event_type', h.event_type, 'event_time', h.event_time, 'attributes', h.attributes)"
            " ORDER BY h.event_id), '[]')"
            " FROM durable.get_history(workflow_id => %s, run_id => %s::uuid, namespace => %s) AS h",
            [self._id, self._run_id, self._client.namespace])
        return WorkflowHistory(self._id, rows[0][0])


# ---------------------------------------------------------------------------
# updates


class WithStartWorkflowOperation:
    """The workflow an update-with-start starts unless it runs (Temporal's
    WithStartWorkflowOperation): start_workflow's arguments, with `id` and
    `id_conflict_policy` required (USE_EXISTING to update a running
    workflow, FAIL to insist on a new one)."""

    def __init__(self, workflow: Any, arg: Any = _UNSET, *, args: Sequence[Any] = (), id: str, task_queue: str,
                 id_conflict_policy: Union[WorkflowIDConflictPolicy, str], **start_options: Any) -> None:
        if not id or id_conflict_policy is None:
            raise ValueError("WithStartWorkflowOperation needs id and id_conflict_policy")
        if "start_signal" in start_options or "connection" in start_options:
            raise TypeError("WithStartWorkflowOperation takes no start_signal or connection")
        self._workflow = workflow
        self._arg = arg
        self._args = args
        self._id = id
        self._options = dict(start_options, task_queue=task_queue, id_conflict_policy=id_conflict_policy)
        self._done = asyncio.Event()
        self._handle: Optional[WorkflowHandle] = None
        self._error: Optional[BaseException] = None

    async def workflow_handle(self) -> "WorkflowHandle":
        """The started (or running) workflow's handle, once the update-with-start call got that far; else its error."""
        await self._done.wait()
        if self._handle is None:
            raise self._error  # type: ignore[misc]
        return self._handle

    async def _start(self, client: Client) -> "WorkflowHandle":
        """Start (or find running) the workflow; the handle updates go to: the id's running run."""
        if self._done.is_set():
            raise RuntimeError("a WithStartWorkflowOperation is used once")
        try:
            started = await client.start_workflow(self._workflow, self._arg, args=self._args, id=self._id,
                                                  **self._options)
        except BaseException as e:
            self._error = e
            self._done.set()
            raise
        self._handle = started
        self._done.set()
        return WorkflowHandle(client, self._id, result_type=started._result_type)


class WorkflowUpdateStage(str, Enum):
    """The stages of an update (Temporal's WorkflowUpdateStage), with the
    engine's names: ADMITTED (the engine holds it, not yet durably), ACCEPTED
    (the validator passed: the history has WorkflowExecutionUpdateAccepted),
    COMPLETED (the handler returned or raised)."""
    ADMITTED = "admitted"
    ACCEPTED = "accepted"
    COMPLETED = "completed"


_STAGE_RANK = {"admitted": 1, "accepted": 2, "completed": 3, "rejected": 3}
# how long one update_workflow call waits server-side before the client calls again
_UPDATE_WAIT = timedelta(seconds=30)
# the name a handle without one (get_update_handle) sends; the engine matches an update by its id
_LOOKUP_NAME = "__durable_update_lookup"


class WorkflowUpdateHandle:
    """An update sent to a workflow (Temporal's WorkflowUpdateHandle): .id,
    .workflow_id, .workflow_run_id, .name; ``await handle.result()``."""

    def __init__(self, client: Client, id: str, name: Optional[str], workflow_id: str,
                 workflow_run_id: Optional[str], args: Optional[List[Any]], result_type: Any) -> None:
        self._client = client
        self._id = id
        self._name = name
        self._workflow_id = workflow_id
        self._workflow_run_id = workflow_run_id
        self._args = args
        self._result_type = result_type
        self._outcome: Optional[Tuple[bool, Any]] = None    # (failed, result or failure JSON)

    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> Optional[str]:
        return self._name

    @property
    def workflow_id(self) -> str:
        return self._workflow_id

    @property
    def workflow_run_id(self) -> Optional[str]:
        return self._workflow_run_id

    def __repr__(self) -> str:
        return f"WorkflowUpdateHandle(id={self._id!r}, name={self._name!r}, workflow_id={self._workflow_id!r})"

    async def result(self, *, rpc_timeout: Optional[Duration] = None) -> Any:
        """Wait for the update's outcome: the handler's result, decoded;
        WorkflowUpdateFailedError when it was rejected or its handler raised;
        WorkflowNotRunningError when the workflow closed before completing it."""
        if self._outcome is None:
            await self._until(WorkflowUpdateStage.COMPLETED, rpc_timeout)
        failed, value = self._outcome  # type: ignore[misc]
        if failed:
            raise WorkflowUpdateFailedError(failure_to_error(value))
        return decode(value, self._result_type)

    async def _until(self, stage: "WorkflowUpdateStage", rpc_timeout: Optional[Duration]) -> None:
        """Call durable.update_workflow until the update reaches `stage`, or is
        rejected or completed (its outcome is kept then). Each call waits up to
        30 s server-side; calling again with the same id is safe (the engine
        applies an update id once) and admits it again if the engine lost it
        (a restart before acceptance)."""
        limit = to_timedelta(rpc_timeout)
        deadline = None if limit is None else time.monotonic() + limit.total_seconds()
        while True:
            wait = _UPDATE_WAIT
            if deadline is not None:
                wait = timedelta(seconds=max(0.0, min(_UPDATE_WAIT.total_seconds(), deadline - time.monotonic())))
            rows = await self._client._call("update_workflow", [
                ("workflow_id", "::text", self._workflow_id),
                ("update_name", "::text", self._name or _LOOKUP_NAME),
                ("args", "::jsonb", json.dumps(self._args) if self._args is not None else None),
                ("update_id", "::text", self._id),
                ("wait_for_stage", "::text", stage.value),
                ("wait", "::interval", wait),
                ("run_id", "::uuid", self._workflow_run_id),
            ], select="r.stage, r.result, r.failure", rows="tuple")
            reached, result, failure = rows[0]
            if reached in ("rejected", "completed"):
                self._outcome = (True, failure) if failure is not None else (False, result)
                if reached == "rejected":
                    raise WorkflowUpdateFailedError(failure_to_error(failure))
                return
            if _STAGE_RANK[reached] >= _STAGE_RANK[stage.value]:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise WorkflowUpdateRPCTimeoutOrCancelledError()
            # an accepted update of a run that closed without completing it comes back as
            # "accepted" at once (as the TypeScript client notes): say so rather than ask forever
            if not await self._run_is_open():
                raise WorkflowNotRunningError(
                    f'workflow "{self._workflow_id}" closed before update "{self._id}" completed', "DU003")

    async def _run_is_open(self) -> bool:
        rows = await self._client._call("describe_workflow", [
            ("workflow_id", "::text", self._workflow_id),
            ("run_id", "::uuid", self._workflow_run_id),
        ], select="r.status")
        return bool(rows) and rows[0][0] == "running"

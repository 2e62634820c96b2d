"""Workflow definitions and the API workflow code calls (Temporal's
`temporalio.workflow` names).

    from durable import workflow

    @workflow.defn
    class Greeting:
        def __init__(self):
            self.name = None

        @workflow.signal
        def set_name(self, name: str):
            self.name = name

        @workflow.query
        def current(self) -> str:
            return self.name

        @workflow.run
        async def run(self, greeting: str) -> str:
            await workflow.wait_condition(lambda: self.name is not None)
            return await workflow.execute_activity(
                "compose", greeting, self.name, start_to_close_timeout=timedelta(seconds=10))

Workflow code runs on a deterministic event loop (durable/_runtime.py):
`asyncio.sleep`, `asyncio.wait_for`, `asyncio.gather` and tasks work and are
durable; time, randomness and ids must come from this module.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import typing
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Optional, Sequence, Union

from . import _runtime, converter
from ._runtime import ContinueAsNewError, HandlerUnfinishedPolicy, Info, NondeterminismError, UpdateInfo
from .common import Priority, RetryPolicy, WorkflowIDReusePolicy, enum_value, to_seconds

__all__ = [
    "defn", "run", "init", "signal", "query", "info", "now", "time", "uuid4", "random", "logger",
    "sleep", "wait_condition", "execute_activity", "start_activity", "ActivityHandle",
    "ActivityCancellationType", "patched", "deprecate_patch", "continue_as_new", "ContinueAsNewError",
    "NondeterminismError", "Info", "upsert_search_attributes", "set_signal_handler",
    "set_dynamic_signal_handler", "set_query_handler", "get_signal_handler", "unsafe", "in_workflow",
    "start_child_workflow", "execute_child_workflow", "ChildWorkflowHandle", "ParentClosePolicy",
    "ChildWorkflowCancellationType", "get_external_workflow_handle", "get_external_workflow_handle_for",
    "ExternalWorkflowHandle",
    "update", "UpdateInfo", "HandlerUnfinishedPolicy", "current_update_info", "all_handlers_finished",
    "set_update_handler", "set_dynamic_update_handler", "get_update_handler",
    "execute_local_activity", "start_local_activity", "LocalActivityTask",
]


_NO_ARG = object()     # "no positional argument given" (None is an argument)


# ------------------------------------------------------------------ definitions
@dataclass
class _Definition:
    name: str
    cls: type
    run_fn_name: str
    signals: dict = field(default_factory=dict)
    queries: dict = field(default_factory=dict)
    dynamic_signal: Optional[Callable] = None
    dynamic_query: Optional[Callable] = None
    init_takes_args: bool = False
    updates: dict = field(default_factory=dict)
    dynamic_update: Optional[Callable] = None


def defn(cls: Optional[type] = None, *, name: Optional[str] = None, sandboxed: bool = True):
    """Make a class a workflow definition; its type name is `name` or the
    class's name. The class has exactly one `@workflow.run` method."""

    def wrap(c: type) -> type:
        run_fns = [n for n, v in inspect.getmembers(c) if getattr(v, "__durable_workflow_run__", False)]
        if len(run_fns) != 1:
            raise ValueError(f"workflow class {c.__name__} must have exactly one @workflow.run method "
                             f"(found {len(run_fns)})")
        d = _Definition(name=name or c.__name__, cls=c, run_fn_name=run_fns[0])
        for n, v in inspect.getmembers(c):
            if getattr(v, "__durable_signal_name__", None) is not None:
                d.signals[v.__durable_signal_name__] = v
            if getattr(v, "__durable_signal_dynamic__", False):
                d.dynamic_signal = v
            if getattr(v, "__durable_query_name__", None) is not None:
                d.queries[v.__durable_query_name__] = v
            if getattr(v, "__durable_query_dynamic__", False):
                d.dynamic_query = v
            if getattr(v, "__durable_update_name__", None) is not None:
                d.updates[v.__durable_update_name__] = v
            if getattr(v, "__durable_update_dynamic__", False):
                d.dynamic_update = v
        d.init_takes_args = getattr(c.__init__, "__durable_workflow_init__", False)
        run_fn = getattr(c, run_fns[0])
        if not inspect.iscoroutinefunction(run_fn):
            raise ValueError(f"{c.__name__}.{run_fns[0]} must be `async def`")
        run_fn.__durable_workflow_name__ = d.name
        c.__durable_workflow__ = d
        return c

    return wrap(cls) if cls is not None else wrap


def run(fn: Callable) -> Callable:
    """Mark the workflow's entry method (`async def run(self, ...)`)."""
    fn.__durable_workflow_run__ = True
    return fn


def init(fn: Callable) -> Callable:
    """Mark `__init__` as taking the workflow's arguments (Temporal's @workflow.init)."""
    fn.__durable_workflow_init__ = True
    return fn


def signal(fn: Optional[Callable] = None, *, name: Optional[str] = None, dynamic: bool = False,
           unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
           description: Optional[str] = None):
    """A signal handler method; `dynamic=True` takes every signal with no
    handler of its own as `(name, *args)`. `unfinished_policy`: whether the
    run warns when it completes with this (async) handler still running."""

    def wrap(f):
        if dynamic:
            f.__durable_signal_dynamic__ = True
        else:
            f.__durable_signal_name__ = name or f.__name__
        f.__durable_signal_policy__ = unfinished_policy
        return f

    return wrap(fn) if fn is not None else wrap


def query(fn: Optional[Callable] = None, *, name: Optional[str] = None, dynamic: bool = False):
    """A query handler method: plain `def`, must not change the workflow's state."""

    def wrap(f):
        if inspect.iscoroutinefunction(f):
            raise ValueError(f"query handler {f.__name__} must not be async")
        if dynamic:
            f.__durable_query_dynamic__ = True
        else:
            f.__durable_query_name__ = name or f.__name__
        return f

    return wrap(fn) if fn is not None else wrap


def definition_of(wf) -> _Definition:
    d = getattr(wf, "__durable_workflow__", None)
    if d is None:
        raise TypeError(f"{wf!r} is not a @workflow.defn class")
    return d


# ------------------------------------------------------------------ the run's context
def in_workflow() -> bool:
    """Whether the caller is workflow code."""
    return _runtime.in_workflow()


def info() -> Info:
    """The run's `Info` (ids, type, queue, attempt, timeouts, start time...)."""
    return _runtime.current().info_


def now() -> datetime:
    """The workflow's clock: the time of the current workflow task (UTC)."""
    return _runtime.current().now


def time() -> float:
    """`now()` as seconds since the epoch (what `asyncio` timers see)."""
    return _runtime.current().now.timestamp()


def uuid4():
    """A random UUID that replays to the same value."""
    return _runtime.new_uuid4(_runtime.current())


def random():
    """The run's deterministic `random.Random` (seeded with the run id)."""
    return _runtime.current().random


class _Logger:
    """`workflow.logger`: a logging adapter that is quiet during replay."""

    def __getattr__(self, name):
        return getattr(_runtime.current().logger, name)


logger = _Logger()


class unsafe:
    @staticmethod
    def is_replaying() -> bool:
        """True while the code re-runs a past workflow task."""
        return _runtime.current().replaying


# ------------------------------------------------------------------ timers and conditions
async def sleep(duration) -> None:
    """A durable timer: `duration` is a timedelta or seconds."""
    s = to_seconds(duration)
    if s is None or s <= 0:
        await asyncio.sleep(0)
        return
    await asyncio.sleep(s)


async def wait_condition(fn: Callable[[], bool], *, timeout=None) -> None:
    """Wait until `fn()` is true (it is asked after every state change).
    With `timeout`, raises `asyncio.TimeoutError` when it passes (a durable timer)."""
    if fn():
        return
    fut = _runtime.current().wait_condition(fn)
    if timeout is None:
        await fut
    else:
        await asyncio.wait_for(fut, to_seconds(timeout))


# ------------------------------------------------------------------ activities
class ActivityCancellationType:
    TRY_CANCEL = "try_cancel"
    # local activities only (start_activity does TRY_CANCEL)
    WAIT_CANCELLATION_COMPLETED = "wait_cancellation_completed"
    ABANDON = "abandon"


class ActivityHandle(asyncio.Future):
    """The future of a scheduled activity (`start_activity`). `cancel()` asks
    the engine to cancel the activity and resolves the handle at once: awaiting
    it raises `ActivityError` whose cause is `CancelledError` (Temporal's
    TRY_CANCEL). Cancelling the task that awaits it does the same."""
    activity_id: str

    def cancel(self, msg=None) -> bool:
        return self._durable_cancel()


def _activity_name(activity) -> str:
    if isinstance(activity, str):
        return activity
    n = getattr(activity, "__durable_activity_name__", None)
    if n is None:
        raise TypeError(f"{activity!r} is neither an activity type name nor an @activity.defn function")
    return n


def start_activity(activity, arg: Any = _NO_ARG, *,
                   args: Sequence[Any] = (), task_queue: Optional[str] = None,
                   schedule_to_close_timeout=None, schedule_to_start_timeout=None,
                   start_to_close_timeout=None, heartbeat_timeout=None,
                   retry_policy: Optional[RetryPolicy] = None, activity_id: Optional[str] = None,
                   cancellation_type: str = ActivityCancellationType.TRY_CANCEL,
                   priority: Optional[int] = None, fairness_key: Optional[str] = None,
                   fairness_weight: Optional[float] = None, required_capabilities: Optional[dict] = None,
                   result_type: Optional[type] = None, **_ignored) -> ActivityHandle:
    """Schedule an activity; returns its handle (await it for the result).
    One of `start_to_close_timeout` and `schedule_to_close_timeout` is required.
    Errors reach the workflow as `ActivityError` whose `__cause__` is the failure.
    The result is decoded to `result_type`, by default the activity
    function's return type hint (a dataclass is rebuilt from its JSON)."""
    if _ignored:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(_ignored))}")
    if start_to_close_timeout is None and schedule_to_close_timeout is None:
        raise ValueError("start_activity needs start_to_close_timeout or schedule_to_close_timeout")
    all_args = list(args) if args else []
    if arg is not _NO_ARG:
        all_args = [arg, *all_args]
    cmd: dict = {"activity_type": _activity_name(activity), "input": converter.encode_args(all_args)}
    if activity_id is not None:
        cmd["activity_id"] = activity_id
    if task_queue is not None:
        cmd["task_queue"] = task_queue
    for k, v in (("schedule_to_close_timeout", schedule_to_close_timeout),
                 ("schedule_to_start_timeout", schedule_to_start_timeout),
                 ("start_to_close_timeout", start_to_close_timeout),
                 ("heartbeat_timeout", heartbeat_timeout)):
        if v is not None:
            cmd[k] = _runtime._duration_value(v)
    if retry_policy is not None:
        cmd["retry_policy"] = retry_policy.to_json()
    for k, v in (("priority", priority), ("fairness_key", fairness_key),
                 ("fairness_weight", fairness_weight), ("required_capabilities", required_capabilities)):
        if v is not None:
            cmd[k] = v
    if result_type is None and callable(activity):
        result_type = _return_hint(activity)
    return _runtime.current().schedule_activity(cmd, ActivityHandle, result_type)


@functools.lru_cache(maxsize=1024)
def _return_hint(fn):
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:       # noqa: BLE001 - an unresolvable hint decodes nothing
        return None
    return None if hint is type(None) else hint


async def execute_activity(activity, arg: Any = _NO_ARG, **kwargs) -> Any:
    """`start_activity` and wait for its result."""
    return await start_activity(activity, arg, **kwargs)


# ------------------------------------------------------------------ versioning, continue-as-new
def patched(patch_id: str) -> bool:
    """True when the run should take the new code path of `patch_id`: always
    in new code, and on replay only where the history recorded the patch."""
    return _runtime.current().patched(patch_id)


def deprecate_patch(patch_id: str) -> None:
    """Say that every run still open takes the `patch_id` path; the old branch can be deleted."""
    _runtime.current().patched(patch_id, deprecated=True)


def continue_as_new(arg: Any = _NO_ARG, *, args: Sequence[Any] = (), workflow=None,
                    task_queue: Optional[str] = None, run_timeout=None, task_timeout=None,
                    retry_policy: Optional[RetryPolicy] = None, memo: Optional[dict] = None,
                    search_attributes: Optional[dict] = None, backoff=None):
    """Close this run and start a new one of the same workflow id with fresh history."""
    all_args = list(args) if args else []
    if arg is not _NO_ARG:
        all_args = [arg, *all_args]
    cmd: dict = {"type": "continue_as_new", "input": converter.encode_args(all_args)}
    if workflow is not None:
        cmd["workflow_type"] = workflow if isinstance(workflow, str) else \
            (getattr(workflow, "__durable_workflow_name__", None) or definition_of(workflow).name)
    if task_queue is not None:
        cmd["task_queue"] = task_queue
    if run_timeout is not None:
        cmd["run_timeout"] = _runtime._duration_value(run_timeout)
    if task_timeout is not None:
        cmd["task_timeout"] = _runtime._duration_value(task_timeout)
    if retry_policy is not None:
        cmd["retry_policy"] = retry_policy.to_json()
    if memo is not None:
        cmd["memo"] = memo
    if search_attributes is not None:
        cmd["search_attributes"] = search_attributes
    if backoff is not None:
        cmd["backoff_start_interval"] = _runtime._duration_value(backoff)
    raise ContinueAsNewError(cmd)


def upsert_search_attributes(attributes: dict) -> None:
    """Merge `attributes` into the run's search attributes (a None value removes a key)."""
    inst = _runtime.current()
    inst.info_.search_attributes = {**inst.info_.search_attributes, **attributes}
    inst.command({"type": "upsert_search_attributes", "search_attributes": attributes})


# ------------------------------------------------------------------ handlers at run time
def set_signal_handler(name: str, handler: Optional[Callable]) -> None:
    """Set (or with None remove) the handler of signal `name`; buffered signals of that name are delivered."""
    _runtime.current().set_signal_handler(name, handler)


def set_dynamic_signal_handler(handler: Optional[Callable]) -> None:
    """The handler of every signal with no handler of its own, called as `handler(name, *args)`."""
    _runtime.current().set_signal_handler(None, handler)


def get_signal_handler(name: str) -> Optional[Callable]:
    return _runtime.current().signal_handlers.get(name)


def set_query_handler(name: str, handler: Optional[Callable]) -> None:
    inst = _runtime.current()
    if handler is None:
        inst.query_handlers.pop(name, None)
    else:
        inst.query_handlers[name] = handler


# ------------------------------------------------------------------ child workflows and other workflows
class ParentClosePolicy(str, Enum):
    """What the engine does to a child still open when its parent's run
    closes (Temporal's temporalio.workflow.ParentClosePolicy; the values are
    the engine's parent_close_policy)."""
    TERMINATE = "terminate"
    ABANDON = "abandon"
    REQUEST_CANCEL = "request_cancel"


class ChildWorkflowCancellationType(str, Enum):
    """What cancelling a child's start or handle does (Temporal's
    temporalio.workflow.ChildWorkflowCancellationType): every type but
    ABANDON asks the child to cancel (request_cancel_external_workflow,
    child_workflow_only); the handle then raises ChildWorkflowError (cause
    CancelledError) at once (ABANDON, TRY_CANCEL), once the child got the
    request (WAIT_CANCELLATION_REQUESTED), or settles as the child closes
    (WAIT_CANCELLATION_COMPLETED, the default)."""
    ABANDON = "abandon"
    TRY_CANCEL = "try_cancel"
    WAIT_CANCELLATION_COMPLETED = "wait_cancellation_completed"
    WAIT_CANCELLATION_REQUESTED = "wait_cancellation_requested"


def _workflow_name(wf) -> str:
    if isinstance(wf, str):
        return wf
    n = getattr(wf, "__durable_workflow_name__", None)
    if n is not None:
        return n
    d = getattr(wf, "__durable_workflow__", None)
    if d is None:
        raise TypeError(f"{wf!r} is neither a workflow type name, a @workflow.defn class nor its @workflow.run method")
    return d.name


def _workflow_result_hint(wf):
    """The return hint of the run method of a @workflow.defn class (or of the run method given)."""
    if isinstance(wf, str):
        return None
    d = getattr(wf, "__durable_workflow__", None)
    fn = getattr(d.cls, d.run_fn_name) if d is not None else wf
    return _return_hint(fn) if callable(fn) else None


def _signal_name(sig) -> str:
    if isinstance(sig, str):
        return sig
    n = getattr(sig, "__durable_signal_name__", None)
    if n is None:
        raise TypeError(f"{sig!r} is neither a signal name nor a @workflow.signal method")
    return n


def _arg_list(arg, args) -> list:
    """`arg` then `args`, as start_activity takes them."""
    out = list(args) if args else []
    return [arg, *out] if arg is not _NO_ARG else out


async def _settled(inst, fut: asyncio.Future, on_cancel: Callable[[], None]):
    """Wait for `fut`; a cancellation of the waiting task calls `on_cancel`
    and goes on waiting (what `fut` becomes then says what happened), as
    Temporal Python's child handles do. A run being dropped stops it."""
    while True:
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if fut.cancelled() or inst.disposed:
                raise
            on_cancel()


class ChildWorkflowHandle(asyncio.Task):
    """A started child workflow (Temporal's temporalio.workflow.ChildWorkflowHandle):
    an asyncio task; await it for the child's result (ChildWorkflowError with
    the cause when the child did not complete). Cancelling it (or the task
    that awaits it) cancels the child as its cancellation type says."""

    def __init__(self, inst, child, loop):
        self._inst = inst
        self._child = child
        super().__init__(_settled(inst, child.result, lambda: inst.cancel_child(child)), loop=loop,
                         name=f"child: {child.workflow_type} {child.workflow_id}")

    def cancel(self, msg=None) -> bool:
        """Cancel the child as its cancellation type says (also what cancelling
        the task that awaits this handle does); the handle then settles with
        ChildWorkflowError whose cause is CancelledError (or however the child
        closed, for WAIT_CANCELLATION_COMPLETED)."""
        if self.done():
            return False
        if self._inst.disposed:
            return super().cancel(msg)
        self._inst.cancel_child(self._child)
        return True

    @property
    def id(self) -> str:
        """The child's workflow id."""
        return self._child.workflow_id

    @property
    def first_execution_run_id(self) -> Optional[str]:
        """The run id of the child's first run (continue-as-new and retries make more)."""
        return self._child.run_id

    async def signal(self, signal, arg: Any = _NO_ARG, *, args: Sequence[Any] = ()) -> None:
        """Signal the child (signal_external_workflow, child_workflow_only); returns once it was delivered."""
        await _signal_external(self._inst, self._child.workflow_id, None, _signal_name(signal),
                               _arg_list(arg, args), True)


async def _signal_external(inst, workflow_id, run_id, name, args, child_only):
    fut, cmd = inst.signal_external(workflow_id, run_id, name, args, child_only)
    try:
        await fut
    except asyncio.CancelledError:
        # one not sent yet is dropped; once sent, a signal cannot be called back
        inst.unsend(cmd)
        raise


async def start_child_workflow(workflow, arg: Any = _NO_ARG, *, args: Sequence[Any] = (), id: Optional[str] = None,
                               task_queue: Optional[str] = None, result_type: Optional[type] = None,
                               cancellation_type: ChildWorkflowCancellationType =
                               ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                               parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
                               execution_timeout=None, run_timeout=None, task_timeout=None,
                               id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                               retry_policy: Optional[RetryPolicy] = None, cron_schedule: str = "",
                               memo: Optional[dict] = None, search_attributes: Optional[dict] = None,
                               priority: Union[Priority, int, None] = None,
                               required_capabilities: Optional[dict] = None, **_ignored) -> ChildWorkflowHandle:
    """Start a child workflow and return its handle once it started
    (WorkflowAlreadyStartedError when its id is taken). `id` defaults to
    `uuid4()` (the same id the TypeScript SDK makes at the same point); the
    child runs in this namespace, by default on this run's task queue."""
    for k in ("versioning_intent", "static_summary", "static_details"):
        _ignored.pop(k, None)          # durable has no user metadata or versioning intents
    if _ignored:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(_ignored))}")
    if cron_schedule:
        raise ValueError("child workflows cannot have a cron_schedule: durable has no cron schedules")
    inst = _runtime.current()
    cmd: dict = {"type": "start_child_workflow", "workflow_id": id or str(uuid4()),
                 "workflow_type": _workflow_name(workflow), "input": converter.encode_args(_arg_list(arg, args)),
                 "task_queue": task_queue or inst.info_.task_queue}
    for k, v in (("execution_timeout", execution_timeout), ("run_timeout", run_timeout),
                 ("task_timeout", task_timeout)):
        if v is not None:
            cmd[k] = _runtime._duration_value(v)
    if retry_policy is not None:
        cmd["retry_policy"] = retry_policy.to_json()
    cmd["id_reuse_policy"] = enum_value(id_reuse_policy, WorkflowIDReusePolicy, "id_reuse_policy")
    cmd["parent_close_policy"] = enum_value(parent_close_policy, ParentClosePolicy, "parent_close_policy")
    if search_attributes:
        cmd["search_attributes"] = dict(search_attributes)
    if memo:
        cmd["memo"] = {k: converter.encode(v) for k, v in memo.items()}
    if isinstance(priority, int) and not isinstance(priority, bool):
        priority = Priority(priority_key=priority)
    if priority is not None:
        for k, v in (("priority", priority.priority_key), ("fairness_key", priority.fairness_key),
                     ("fairness_weight", priority.fairness_weight)):
            if v is not None:
                cmd[k] = v
    if required_capabilities is not None:
        cmd["required_capabilities"] = required_capabilities
    ctype = enum_value(cancellation_type, ChildWorkflowCancellationType, "cancellation_type")
    if result_type is None:
        result_type = _workflow_result_hint(workflow)
    child = inst.start_child(cmd, ctype, result_type)
    handle = ChildWorkflowHandle(inst, child, inst.loop)
    inst.loop._tasks.append(handle)
    await _settled(inst, child.start, lambda: inst.cancel_child(child))
    return handle


async def execute_child_workflow(workflow, arg: Any = _NO_ARG, **kwargs) -> Any:
    """`start_child_workflow` and wait for the child's result."""
    handle = await start_child_workflow(workflow, arg, **kwargs)
    return await handle


class ExternalWorkflowHandle:
    """Another workflow of this namespace, by id (Temporal's
    temporalio.workflow.ExternalWorkflowHandle): the given run, else the
    id's running run."""

    def __init__(self, workflow_id: str, run_id: Optional[str] = None):
        self._id = workflow_id
        self._run_id = run_id

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> Optional[str]:
        return self._run_id

    async def signal(self, signal, arg: Any = _NO_ARG, *, args: Sequence[Any] = ()) -> None:
        """Signal it (signal_external_workflow); returns once delivered, raises
        ApplicationError (type EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND) when no such workflow is running."""
        await _signal_external(_runtime.current(), self._id, self._run_id, _signal_name(signal),
                               _arg_list(arg, args), False)

    async def cancel(self, *, reason: Optional[str] = None) -> None:
        """Ask it to cancel (request_cancel_external_workflow); returns once it got the
        request, raises ApplicationError (type EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND) when
        no such workflow is running. `reason` becomes its cancel request's cause."""
        await _runtime.current().cancel_external(self._id, self._run_id, False, reason)


def get_external_workflow_handle(workflow_id: str, *, run_id: Optional[str] = None) -> ExternalWorkflowHandle:
    """A handle to signal or cancel another workflow (Temporal's get_external_workflow_handle)."""
    _runtime.current()
    return ExternalWorkflowHandle(workflow_id, run_id)


def get_external_workflow_handle_for(workflow, workflow_id: str, *,
                                     run_id: Optional[str] = None) -> ExternalWorkflowHandle:
    """`get_external_workflow_handle` (Temporal's typed variant; `workflow` only types it)."""
    return get_external_workflow_handle(workflow_id, run_id=run_id)


# ------------------------------------------------------------------ updates
def update(fn: Optional[Callable] = None, *, name: Optional[str] = None, dynamic: bool = False,
           unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
           description: Optional[str] = None):
    """An update handler method (Temporal's @workflow.update), `def` or
    `async def`: its return value is the update's result; an
    `ApplicationError` (any `FailureError`) it raises fails the update, any
    other exception fails the workflow task. `@<handler>.validator` marks a
    plain method run before the update is accepted: raising rejects the
    update, which then leaves no trace in the history. `dynamic=True` takes
    every update with no handler of its own, called as `(name, *args)`."""

    def wrap(f):
        if dynamic:
            f.__durable_update_dynamic__ = True
        else:
            f.__durable_update_name__ = name or f.__name__
        f.__durable_update_policy__ = unfinished_policy

        def validator(v: Callable) -> Callable:
            if inspect.iscoroutinefunction(v):
                raise ValueError(f"update validator {v.__name__} must not be async")
            f.__durable_update_validator__ = v
            return v

        f.validator = validator
        return f

    return wrap(fn) if fn is not None else wrap


def current_update_info() -> Optional[UpdateInfo]:
    """The update the calling code runs for (`.id`, `.name`), inside an
    update handler and what it starts; else None."""
    _runtime.current()
    return _runtime._update_info.get()


def all_handlers_finished() -> bool:
    """True when no update handler and no async signal handler is running:
    `await workflow.wait_condition(workflow.all_handlers_finished)` before
    returning, so that updates complete rather than fail for their callers."""
    return _runtime.current().all_handlers_finished()


def set_update_handler(name: str, handler: Optional[Callable], *, validator: Optional[Callable] = None,
                       unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON) -> None:
    """Set (or with None remove) the handler of update `name`; buffered updates of that name run at once."""
    _runtime.current().set_update_handler(name, handler, validator, unfinished_policy)


def set_dynamic_update_handler(handler: Optional[Callable], *, validator: Optional[Callable] = None) -> None:
    """The handler of every update with no handler of its own, called as `handler(name, *args)`."""
    _runtime.current().set_update_handler(None, handler, validator)


def get_update_handler(name: str) -> Optional[Callable]:
    return _runtime.current().update_handlers.get(name)


# ------------------------------------------------------------------ local activities
def _local_options(activity, arg, args, start_to_close_timeout, schedule_to_close_timeout, retry_policy,
                   local_retry_threshold, cancellation_type, activity_id, result_type, ignored) -> tuple:
    if ignored:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(ignored))}")
    if start_to_close_timeout is None and schedule_to_close_timeout is None:
        raise ValueError("a local activity needs start_to_close_timeout or schedule_to_close_timeout")
    all_args = list(args) if args else []
    if arg is not _NO_ARG:
        all_args = [arg, *all_args]
    if cancellation_type not in (ActivityCancellationType.TRY_CANCEL, ActivityCancellationType.ABANDON,
                                 ActivityCancellationType.WAIT_CANCELLATION_COMPLETED):
        raise ValueError(f"unknown cancellation_type {cancellation_type!r}")
    opts = {"start_to_close_timeout": start_to_close_timeout, "schedule_to_close_timeout": schedule_to_close_timeout,
            "retry_policy": retry_policy, "local_retry_threshold": local_retry_threshold,
            "cancellation_type": cancellation_type, "activity_id": activity_id}
    if result_type is None and callable(activity):
        result_type = _return_hint(activity)
    return _activity_name(activity), converter.encode_args(all_args), opts, result_type


class LocalActivityTask(asyncio.Task):
    """What `start_local_activity` returns: await it for the result. `cancel()`
    cancels the local activity per its cancellation type and the task then
    raises `ActivityError` whose cause is `CancelledError` (as `ActivityHandle`);
    during a backoff on a timer it cancels the timer (`asyncio.CancelledError`)."""

    def cancel(self, msg=None) -> bool:
        handle = self._durable_current[0]
        if not handle.done() and handle.cancel():
            return True
        return super().cancel(msg)


async def _local_attempts(inst, current: list, activity_type, input, opts, result_type):
    """The retry loop around timer backoffs: an attempt series that failed
    with a backoff longer than the local retry threshold sleeps on a durable
    timer, then schedules the next attempt as a new local activity (a new
    seq) carrying the attempt number and the first schedule's time.
    current[0] is the handle awaited now."""
    while True:
        try:
            return await current[0]
        except _runtime._LocalBackoff as b:
            await asyncio.sleep(b.backoff)
            current[0] = inst.schedule_local(activity_type, input, opts, b.attempt, b.original, result_type)


def start_local_activity(activity, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                         schedule_to_close_timeout=None, schedule_to_start_timeout=None,
                         start_to_close_timeout=None, retry_policy: Optional[RetryPolicy] = None,
                         local_retry_threshold=None,
                         cancellation_type: str = ActivityCancellationType.TRY_CANCEL,
                         activity_id: Optional[str] = None, result_type: Optional[type] = None,
                         **_ignored) -> "LocalActivityTask":
    """Run an activity in the worker that runs this workflow task (Temporal's
    local activity): no activity task goes through the engine; its outcome is
    recorded as a `core_local_activity` marker, from which replay resolves it.
    Returns a `LocalActivityTask` (await it for the result; `cancel()` cancels the activity).
    Backoffs up to `local_retry_threshold` (default 1 minute) are waited in
    the worker; a longer one on a durable timer. Errors reach the workflow as
    `ActivityError` whose `__cause__` is the failure. `schedule_to_start_timeout`
    is accepted for Temporal's sake (a local activity starts at once)."""
    activity_type, input, opts, result_type = _local_options(
        activity, arg, args, start_to_close_timeout, schedule_to_close_timeout, retry_policy, local_retry_threshold,
        cancellation_type, activity_id, result_type, _ignored)
    inst = _runtime.current()
    current = [inst.schedule_local(activity_type, input, opts, 1, None, result_type)]
    task = LocalActivityTask(_local_attempts(inst, current, activity_type, input, opts, result_type), loop=inst.loop)
    task._durable_current = current
    inst.loop._tasks.append(task)
    return task


async def execute_local_activity(activity, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                                 schedule_to_close_timeout=None, schedule_to_start_timeout=None,
                                 start_to_close_timeout=None, retry_policy: Optional[RetryPolicy] = None,
                                 local_retry_threshold=None,
                                 cancellation_type: str = ActivityCancellationType.TRY_CANCEL,
                                 activity_id: Optional[str] = None, result_type: Optional[type] = None,
                                 **_ignored) -> Any:
    """`start_local_activity` and wait for its result."""
    activity_type, input, opts, result_type = _local_options(
        activity, arg, args, start_to_close_timeout, schedule_to_close_timeout, retry_policy, local_retry_threshold,
        cancellation_type, activity_id, result_type, _ignored)
    inst = _runtime.current()
    current = [inst.schedule_local(activity_type, input, opts, 1, None, result_type)]
    return await _local_attempts(inst, current, activity_type, input, opts, result_type)

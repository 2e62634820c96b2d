"""The workflow runtime: a deterministic asyncio event loop and replay.

A workflow run is a `WorkflowInstance`: an object of the user's workflow
class, driven by `_WorkflowLoop`, an asyncio event loop that only runs when
the runtime activates it and never touches a clock, a socket or a thread.
`run_workflow_task` replays a task's history by the procedure of
docs/protocol.md, "Replay", and returns the commands of the current
activation, or the failure to send to `fail_workflow_task`.

Invariants:
- One activation runs synchronously, from `activate` to its return: the
  loop runs ready callbacks until none is left and no `wait_condition` can
  make progress. Nothing of the workflow runs outside an activation, so a
  module-level "current instance" is exact (the worker's real loop never
  interleaves two activations: no `await` happens inside one).
- Time inside the workflow is the activation's clock (the
  `WorkflowTaskStarted` event's time); randomness comes from a generator
  seeded with the run id. `loop.call_later` starts a durable timer, so
  `asyncio.sleep` and `asyncio.wait_for` inside a workflow are durable.
- Commands are appended in the order the code makes them; once a close
  command (complete, fail, cancel, continue-as-new) is appended the run is
  closed and later commands are dropped (the engine requires the close
  last).
- Activity and timer ids the code does not name are "1", "2", ... per kind
  per run (docs/protocol.md, "Conventions workers share").
"""
from __future__ import annotations

import asyncio
import collections
import contextvars
import enum
import inspect
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from . import converter
from .common import RetryPolicy, to_seconds
from .exceptions import (ActivityError, ApplicationError, CancelledError, ChildWorkflowError, FailureError,
                         RetryState, TerminatedError, TimeoutType, WorkflowAlreadyStartedError,
                         error_to_failure, failure_to_error)
from .exceptions import TimeoutError as TimeoutFailureError     # not the builtin

CLOSE_COMMANDS = ("complete_workflow", "fail_workflow", "cancel_workflow", "continue_as_new")

# command type -> (its command event, whether a command and an event match)
def _wid(a):
    return (a.get("workflow_execution") or {}).get("workflow_id")


_MATCH = {
    "schedule_activity": ("ActivityTaskScheduled", lambda c, a, run:
                          c["activity_id"] == a["activity_id"] and c["activity_type"] == a["activity_type"]),
    "request_cancel_activity": ("ActivityTaskCancelRequested", lambda c, a, run:
                                run.activity_event.get(c["activity_id"]) == a["scheduled_event_id"]),
    "start_timer": ("TimerStarted", lambda c, a, run: c["timer_id"] == a["timer_id"]),
    "cancel_timer": ("TimerCanceled", lambda c, a, run: c["timer_id"] == a["timer_id"]),
    "record_marker": ("MarkerRecorded", lambda c, a, run: c["marker_name"] == a["marker_name"] and (
        c["marker_name"] != "core_patch"
        or (c.get("details") or {}).get("patch_id") == (a.get("details") or {}).get("patch_id"))),
    "upsert_search_attributes": ("UpsertWorkflowSearchAttributes", lambda c, a, run: True),
    "start_child_workflow": ("StartChildWorkflowExecutionInitiated", lambda c, a, run:
                             c["workflow_id"] == a["workflow_id"] and c["workflow_type"] == a["workflow_type"]),
    "signal_external_workflow": ("SignalExternalWorkflowExecutionInitiated", lambda c, a, run:
                                 c["workflow_id"] == _wid(a) and c["signal_name"] == a["signal_name"]),
    "request_cancel_external_workflow": ("RequestCancelExternalWorkflowExecutionInitiated",
                                         lambda c, a, run: c["workflow_id"] == _wid(a)),
    "accept_update": ("WorkflowExecutionUpdateAccepted", lambda c, a, run:
                      c["update_id"] == a["protocol_instance_id"]
                      and c["name"] == ((a.get("accepted_request") or {}).get("input") or {}).get("name")),
    "complete_update": ("WorkflowExecutionUpdateCompleted", lambda c, a, run:
                        c["update_id"] == a["meta"]["update_id"]),
    "complete_workflow": ("WorkflowExecutionCompleted", lambda c, a, run: True),
    "fail_workflow": ("WorkflowExecutionFailed", lambda c, a, run: True),
    "cancel_workflow": ("WorkflowExecutionCanceled", lambda c, a, run: True),
    "continue_as_new": ("WorkflowExecutionContinuedAsNew", lambda c, a, run: True),
}
COMMAND_EVENTS = frozenset(event for event, _ in _MATCH.values())


class NondeterminismError(Exception):
    """The history does not match the workflow code (Temporal's name)."""

    def __init__(self, message: str, event_id: Optional[int] = None):
        super().__init__(message)
        self.event_id = event_id


class ContinueAsNewError(BaseException):
    """Raised by `workflow.continue_as_new`; the run closes with the command."""

    def __init__(self, command: dict):
        super().__init__("continue as new")
        self.command = command


_current: Optional["WorkflowInstance"] = None


def current() -> "WorkflowInstance":
    if _current is None:
        raise RuntimeError("not in a workflow (durable.workflow functions work only inside workflow code)")
    return _current


def in_workflow() -> bool:
    return _current is not None


# ------------------------------------------------------------------ the loop
class _TimerHandle:
    """What `loop.call_later` returns: cancelling it cancels the durable timer."""

    __slots__ = ("_inst", "timer_id", "_cancelled", "_when")

    def __init__(self, inst, timer_id, when):
        self._inst, self.timer_id, self._cancelled, self._when = inst, timer_id, False, when

    def cancel(self):
        if not self._cancelled:
            self._cancelled = True
            self._inst._cancel_timer(self.timer_id)

    def cancelled(self):
        return self._cancelled

    def when(self):
        return self._when


class _WorkflowLoop(asyncio.AbstractEventLoop):
    """A deterministic event loop: callbacks run only when the runtime says."""

    def __init__(self, inst: "WorkflowInstance"):
        self._inst = inst
        self._ready: collections.deque = collections.deque()
        self._exceptions: list = []
        self._tasks: list = []          # every task of the run, to cancel at dispose()

    # -- what asyncio's futures, tasks, sleep, wait_for and gather use
    def call_soon(self, callback, *args, context=None):
        h = asyncio.Handle(callback, args, self, context)
        self._ready.append(h)
        return h

    call_soon_threadsafe = None  # a workflow has no threads

    def call_later(self, delay, callback, *args, context=None):
        if delay is None or delay <= 0:
            return self.call_soon(callback, *args, context=context)
        return self._inst._start_timer(delay, lambda: callback(*args), context)

    def call_at(self, when, callback, *args, context=None):
        return self.call_later(when - self.time(), callback, *args, context=context)

    def time(self):
        return self._inst.now.timestamp()

    def create_future(self):
        return asyncio.Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):
        if context is None:
            t = asyncio.Task(coro, loop=self, name=name)
        else:
            t = asyncio.Task(coro, loop=self, name=name, context=context)
        self._tasks.append(t)
        return t

    def get_debug(self):
        return False

    def is_running(self):
        return _current is self._inst

    def is_closed(self):
        return False

    def call_exception_handler(self, context):
        # an exception nobody retrieved (a task the code forgot); keep it for
        # the logs, it does not change the run
        self._exceptions.append(context)

    def default_exception_handler(self, context):
        self._exceptions.append(context)

    def run_ready(self):
        ready = self._ready
        while ready:
            h = ready.popleft()
            if not h._cancelled:
                h._run()


# ------------------------------------------------------------------ the run
@dataclass
class _Activity:
    activity_id: str
    activity_type: str
    handle: asyncio.Future
    cancel_requested: bool = False
    result_type: Any = None


@dataclass
class _Condition:
    fn: Callable[[], bool]
    future: asyncio.Future


LOCAL_ACTIVITY_MARKER = "core_local_activity"     # Temporal core's marker name, as the TypeScript SDK's
DEFAULT_LOCAL_RETRY_THRESHOLD = 60.0               # seconds (Temporal's default local retry threshold)


class LocalActivityHandle(asyncio.Future):
    """The future of one scheduled local activity attempt series (between timer backoffs)."""
    activity_id: str

    def cancel(self, msg=None) -> bool:
        return self._durable_cancel()


class _LocalBackoff(Exception):
    """A local activity's backoff is longer than its local retry threshold: the
    workflow waits on a durable timer, then schedules attempt `attempt`."""

    def __init__(self, attempt: int, backoff: float, original: datetime):
        super().__init__("local activity backoff")
        self.attempt, self.backoff, self.original = attempt, backoff, original


@dataclass
class _Local:
    seq: int
    activity_id: str
    activity_type: str
    cancellation_type: str
    round: int
    scheduled_now: datetime
    request: dict
    handle: asyncio.Future
    handed: bool = False
    result_type: Any = None


def _local_mismatch(p: _Local, m: dict) -> Optional[str]:
    if m.get("activity_id") != p.activity_id:
        return (f"local activity marker (seq {m.get('seq')}) has activity id {m.get('activity_id')!r}, but the "
                f"workflow code scheduled {p.activity_id!r}")
    if m.get("activity_type") != p.activity_type:
        return (f"local activity marker (seq {m.get('seq')}) has activity type {m.get('activity_type')!r}, but the "
                f"workflow code scheduled {p.activity_type!r}")
    return None


def _iso_ms(t: datetime) -> str:
    """A time as JavaScript's toISOString writes it (UTC, milliseconds, "Z"), as in the TypeScript SDK's markers."""
    t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _js_seconds(s: float) -> str:
    """A backoff as the TypeScript SDK writes it: whole milliseconds, as seconds ("2s", "1.5s")."""
    ms = round(s * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms / 1000}s"


def _is_local_marker(c: Optional[dict]) -> bool:
    return c is not None and c.get("type") == "record_marker" and c.get("marker_name") == LOCAL_ACTIVITY_MARKER


def _is_local_marker_event(e: Optional[dict]) -> bool:
    return e is not None and e["event_type"] == "MarkerRecorded" and \
        (e.get("attributes") or {}).get("marker_name") == LOCAL_ACTIVITY_MARKER


class HandlerUnfinishedPolicy(enum.Enum):
    """What to do about a handler still running when the workflow closes
    (Temporal's workflow.HandlerUnfinishedPolicy): warn in the worker's log,
    or not. Either way the handler is abandoned; its update's caller gets
    WorkflowNotRunningError."""
    WARN_AND_ABANDON = 1
    ABANDON = 2


@dataclass(frozen=True)
class UpdateInfo:
    """`workflow.current_update_info()`: the update a handler runs for."""
    id: str
    name: str


_update_info: contextvars.ContextVar = contextvars.ContextVar("durable_update_info", default=None)


@dataclass
class _Update:
    update_id: str
    name: str
    input: Any          # the request's args as the engine has them (echoed by accept_update)
    validate: bool


def _of_class(fn, obj) -> bool:
    """Whether fn is defined in the body of obj's class (a validator kept under another name)."""
    return obj is not None and inspect.isfunction(fn) and \
        fn.__qualname__.rpartition(".")[0] == type(obj).__qualname__


@dataclass
class Info:
    """`workflow.info()`: what the run knows about itself (Temporal's workflow.Info)."""
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    namespace: str
    attempt: int = 1
    first_execution_run_id: Optional[str] = None
    continued_run_id: Optional[str] = None
    execution_timeout: Optional[timedelta] = None
    run_timeout: Optional[timedelta] = None
    task_timeout: Optional[timedelta] = None
    retry_policy: Optional[RetryPolicy] = None
    search_attributes: dict = field(default_factory=dict)
    memo: Any = None
    priority: Optional[int] = None
    start_time: Optional[datetime] = None
    workflow_start_time: Optional[datetime] = None
    parent: Optional[dict] = None
    history_length: int = 0


def _parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(timezone.utc)


def _td(v) -> Optional[timedelta]:
    s = to_seconds(v)
    return None if s is None else timedelta(seconds=s)


def _duration_value(d) -> Any:
    """A duration as a command field: a number of seconds (docs/protocol.md, "Durations")."""
    s = to_seconds(d)
    if s is None:
        return None
    s = round(s, 6)
    return int(s) if s == int(s) else s


# ------------------------------------------------------------------ children and other workflows
# docs/protocol.md, "Child workflows" and "Signals and cancels to other
# workflows". A start_child_workflow, signal_external_workflow or
# request_cancel_external_workflow command is remembered (`indexed`) until
# `match` pairs it with its Initiated event; the later events of the child
# or the signal or cancel name that event (`initiated_event_id`).
_INDEXED_COMMANDS = frozenset({"start_child_workflow", "signal_external_workflow",
                               "request_cancel_external_workflow"})
_OTHER_WORKFLOW_EVENTS = frozenset({
    "ChildWorkflowExecutionStarted", "StartChildWorkflowExecutionFailed", "ChildWorkflowExecutionCompleted",
    "ChildWorkflowExecutionFailed", "ChildWorkflowExecutionCanceled", "ChildWorkflowExecutionTimedOut",
    "ChildWorkflowExecutionTerminated", "ExternalWorkflowExecutionSignaled", "SignalExternalWorkflowExecutionFailed",
    "ExternalWorkflowExecutionCancelRequested", "RequestCancelExternalWorkflowExecutionFailed"})

_M32 = 0xFFFFFFFF


class _Sfc32:
    """The TypeScript SDK's per-run generator (sdk/typescript/src/workflow/
    internals.ts: sfc32 seeded by the cyrb128 hash of the run id), so that
    uuid4() and default child ids are the same in both SDKs."""

    def __init__(self, seed: str):
        h1, h2, h3, h4 = 1779033703, 3144134277, 1013904242, 2773480762
        b = seed.encode("utf-16-le")        # JavaScript's charCodeAt: UTF-16 code units
        for i in range(0, len(b), 2):
            k = b[i] | (b[i + 1] << 8)
            h1 = h2 ^ (((h1 ^ k) * 597399067) & _M32)
            h2 = h3 ^ (((h2 ^ k) * 2869860233) & _M32)
            h3 = h4 ^ (((h3 ^ k) * 951274213) & _M32)
            h4 = h1 ^ (((h4 ^ k) * 2716044179) & _M32)
        h1 = ((h3 ^ (h1 >> 18)) * 597399067) & _M32
        h2 = ((h4 ^ (h2 >> 22)) * 2869860233) & _M32
        h3 = ((h1 ^ (h3 >> 17)) * 951274213) & _M32
        h4 = ((h2 ^ (h4 >> 19)) * 2716044179) & _M32
        self.s = [h1 ^ h2 ^ h3 ^ h4, h2 ^ h1, h3 ^ h1, h4 ^ h1]

    def next32(self) -> int:
        a, b, c, d = self.s
        t = (a + b) & _M32
        a = b ^ (b >> 9)
        b = (c + (c << 3)) & _M32
        c = ((c << 21) | (c >> 11)) & _M32
        d = (d + 1) & _M32
        t = (t + d) & _M32
        c = (c + t) & _M32
        self.s = [a, b, c, d]
        return t

    def uuid4(self) -> str:
        """internals.ts uuid4Of: one draw per hex digit but the fixed '4'."""
        out = []
        for i in range(36):
            if i in (8, 13, 18, 23):
                out.append("-")
            elif i == 14:
                out.append("4")
            elif i == 19:
                out.append("0123456789abcdef"[((self.next32() >> 28) & 0x3) | 0x8])
            else:
                out.append("0123456789abcdef"[self.next32() >> 28])
        return "".join(out)


def _retrieve(f: asyncio.Future):
    """A future nobody may await: its exception is not an unretrieved one."""
    if not f.cancelled():
        f.exception()


@dataclass(eq=False)
class _Child:
    """A child workflow, from its start command until its handle settles."""
    workflow_id: str
    workflow_type: str
    namespace: str
    cancellation_type: str
    cmd: dict
    start: asyncio.Future               # the first run's id, or the start's failure
    result: asyncio.Future              # the result, or ChildWorkflowError
    result_type: Any = None
    run_id: Optional[str] = None
    initiated_event_id: Optional[int] = None
    started_event_id: Optional[int] = None
    started: bool = False
    done: bool = False                  # the handle settled: later events are ignored
    cancel_after_start: bool = False    # cancelled after the start was sent, before the child started
    cancel_sent: bool = False


@dataclass(eq=False)
class _External:
    """A signal_external_workflow or request_cancel_external_workflow waiting for its outcome."""
    what: str                           # "signal" or "cancel"
    future: asyncio.Future
    on_delivered: Optional[Callable] = None


class WorkflowInstance:
    """One workflow run being replayed or run: its object, loop and state."""

    def __init__(self, defn, workflow_id: str, run_id: str, namespace: str, task_queue: str):
        self.defn = defn
        self.loop = _WorkflowLoop(self)
        self.info_: Info = Info(workflow_id=workflow_id, run_id=run_id, workflow_type=defn.name,
                                task_queue=task_queue, namespace=namespace)
        self.now = datetime.fromtimestamp(0, timezone.utc)
        self.random = random.Random(run_id)
        self.replaying = False
        self.commands: list = []
        self.closed = False
        self.disposed = False
        self.task_failure: Optional[BaseException] = None
        self.obj = None
        self.main: Optional[asyncio.Task] = None
        self.timer_seq = 0
        self.activity_seq = 0
        self.timers: dict = {}              # pending timer id -> (callback, context)
        self.activities: dict = {}          # pending activity id -> _Activity
        self.activity_event: dict = {}      # activity id -> its ActivityTaskScheduled event id
        self.activity_of: dict = {}         # ActivityTaskScheduled event id -> activity id
        self.patches: dict = {}             # patch id -> patched() answer (once per run)
        self.patch_markers: set = set()     # patch ids recorded by replayed tasks
        self.conditions: list = []
        self.signal_handlers: dict = dict(defn.signals)
        self.query_handlers: dict = dict(defn.queries)
        self.dynamic_signal = defn.dynamic_signal
        self.dynamic_query = defn.dynamic_query
        self.signal_buffer: list = []       # (name, args) with no handler yet
        self.update_handlers: dict = dict(defn.updates)
        self.dynamic_update = defn.dynamic_update
        self.update_buffer: list = []       # _Update with no handler yet (rejected at the activation's end)
        self.update_options: dict = {}      # name (None: dynamic) -> (validator, policy) of run-time handlers
        self.running_updates: dict = {}     # accepted update id -> (name, unfinished policy)
        self.running_signals: dict = {}     # async signal handler task -> (name, unfinished policy)
        self.local_pending: dict = {}       # seq -> _Local not resolved
        self.local_awaiting: dict = {}      # seq -> _Local cancelled while replaying: its marker is to come
        self.local_markers: list = []       # replay: the markers of the task replayed, not yet applied
        self.local_round = 0
        self.local_nondeterminism: Optional[str] = None
        self.local_requests: list = []      # for the worker: local activities to start
        self.local_cancels: list = []       # for the worker: {seq, cancel, drop}
        self.cancel_requested = False
        self.logger = _ReplayAwareLogger(self)
        self.pending: Optional[tuple] = None      # (last activation's commands, its WorkflowTaskStarted id)
        self.stands_at: Optional[tuple] = None    # (that WorkflowTaskStarted's id, its event_time)
        self.indexed: dict = {}             # id(command) -> (command, its _Child or _External), until matched
        self.initiated: dict = {}           # initiated event id -> the _Child or _External of its command
        self.id_random: Optional[_Sfc32] = None   # uuid4() and default child ids, as the TypeScript SDK's

    # -- commands
    def command(self, cmd: dict):
        if self.closed or self.disposed:
            return
        self.commands.append(cmd)
        if cmd["type"] in CLOSE_COMMANDS:
            self.closed = True

    # -- timers
    def _start_timer(self, delay: float, fire: Callable, context) -> _TimerHandle:
        self.timer_seq += 1
        tid = str(self.timer_seq)
        self.timers[tid] = (fire, context)
        self.command({"type": "start_timer", "timer_id": tid, "duration": _duration_value(delay)})
        return _TimerHandle(self, tid, self.loop.time() + delay)

    def _cancel_timer(self, tid: str):
        if self.timers.pop(tid, None) is not None:
            self.command({"type": "cancel_timer", "timer_id": tid})

    # -- activities
    def schedule_activity(self, cmd: dict, handle_cls, result_type=None) -> asyncio.Future:
        self.activity_seq += 1
        aid = cmd.get("activity_id") or str(self.activity_seq)
        cmd = {"type": "schedule_activity", "activity_id": aid, **{k: v for k, v in cmd.items() if k != "activity_id"}}
        handle = handle_cls(loop=self.loop)
        handle.activity_id = aid
        act = _Activity(aid, cmd["activity_type"], handle, result_type=result_type)
        handle._durable_cancel = lambda act=act: self._cancel_activity(act)
        self.activities[aid] = act
        self.command(cmd)
        return handle

    def _cancel_activity(self, act: _Activity) -> bool:
        """A handle cancelled by the code (or by the workflow's cancellation,
        which cancels what the main task awaits): ask the engine to cancel
        the activity, once, and resolve the handle at once with
        ActivityError(cause=CancelledError) (Temporal's TRY_CANCEL)."""
        if act.handle.done():
            return False
        if act.activity_id in self.activities and not act.cancel_requested:
            act.cancel_requested = True
            self.command({"type": "request_cancel_activity", "activity_id": act.activity_id})
        err = ActivityError("activity cancelled", activity_id=act.activity_id, activity_type=act.activity_type,
                            retry_state="CANCEL_REQUESTED", scheduled_event_id=self.activity_event.get(act.activity_id))
        err.__cause__ = CancelledError("activity cancelled")
        act.handle.set_exception(err)
        return True

    def _resolve_activity(self, sid: int, ok: bool, value):
        aid = self.activity_of.get(sid)
        act = self.activities.pop(aid, None) if aid is not None else None
        if act is None or act.handle.done():
            return
        if ok:
            act.handle.set_result(converter.decode(value, act.result_type) if act.result_type else value)
        else:
            act.handle.set_exception(value)

    # -- patches (docs/protocol.md, "Patch markers")
    def patched(self, patch_id: str, deprecated: bool = False) -> bool:
        if patch_id not in self.patches:
            self.patches[patch_id] = not self.replaying or patch_id in self.patch_markers
            if self.patches[patch_id]:
                self.command({"type": "record_marker", "marker_name": "core_patch",
                              "details": {"patch_id": patch_id, "deprecated": deprecated}})
        return self.patches[patch_id]

    # -- child workflows, signals and cancels to other workflows (docs/protocol.md,
    #    "Child workflows", "Signals and cancels to other workflows"; the
    #    TypeScript SDK's sdk/typescript/src/workflow/children.ts)
    def _send_indexed(self, cmd: dict, owner) -> bool:
        n = len(self.commands)
        self.command(cmd)
        if len(self.commands) == n:
            return False            # the run is closed: never sent
        self.indexed[id(cmd)] = (cmd, owner)
        return True

    def unsend(self, cmd: dict) -> bool:
        """Take back a command of this activation that was not sent yet."""
        for i, c in enumerate(self.commands):
            if c is cmd:
                del self.commands[i]
                self.indexed.pop(id(cmd), None)
                return True
        return False

    def _initiated(self, cmd: dict, e: dict):
        """`match` paired `cmd` with its Initiated event `e`."""
        entry = self.indexed.pop(id(cmd), None)
        if entry is None or entry[0] is not cmd:
            return
        owner = entry[1]
        self.initiated[e["event_id"]] = owner
        if isinstance(owner, _Child):
            owner.initiated_event_id = e["event_id"]

    def start_child(self, cmd: dict, cancellation_type: str, result_type=None) -> _Child:
        child = _Child(cmd["workflow_id"], cmd["workflow_type"], self.info_.namespace, cancellation_type, cmd,
                       self.loop.create_future(), self.loop.create_future(), result_type)
        child.start.add_done_callback(_retrieve)
        child.result.add_done_callback(_retrieve)
        self._send_indexed(cmd, child)
        return child

    def _child_error(self, child: _Child, retry_state, cause: BaseException, run_id=None) -> ChildWorkflowError:
        err = ChildWorkflowError("Child Workflow execution failed", namespace=child.namespace,
                                 workflow_id=child.workflow_id, run_id=run_id or child.run_id,
                                 workflow_type=child.workflow_type,
                                 retry_state=RetryState.decode(retry_state) or RetryState.NON_RETRYABLE_FAILURE,
                                 initiated_event_id=child.initiated_event_id,
                                 started_event_id=child.started_event_id)
        err.__cause__ = cause
        return err

    def _finish_child(self, child: _Child) -> bool:
        if child.done:
            return False
        child.done = True
        return True

    def _reject_child_cancelled(self, child: _Child, details=()):
        if self._finish_child(child):
            child.result.set_exception(self._child_error(
                child, RetryState.NON_RETRYABLE_FAILURE, CancelledError("Child Workflow execution cancelled", *details)))

    def cancel_child(self, child: _Child):
        """The code cancelled the child's start or its handle (as the TypeScript
        SDK and Temporal's core SDK: child_workflow_state_machine.rs)."""
        if child.done:
            return
        if self.unsend(child.cmd):
            # started and cancelled in one activation: the start is never sent
            self._finish_child(child)
            err = self._child_error(child, RetryState.NON_RETRYABLE_FAILURE,
                                    CancelledError("Child Workflow execution cancelled before scheduled"))
            child.start.set_exception(err)
            child.result.set_exception(err)
        elif not child.started:
            child.cancel_after_start = True
        else:
            self._request_child_cancel(child)

    def _request_child_cancel(self, child: _Child):
        if child.cancel_sent:
            return
        child.cancel_sent = True
        t = child.cancellation_type
        if t != "abandon":
            delivered = (lambda: self._reject_child_cancelled(child)) if t == "wait_cancellation_requested" else None
            # a failure means the child has closed: its close event settles the handle
            self.cancel_external(child.workflow_id, None, True, "Parent workflow requested cancel", delivered)
        if t in ("abandon", "try_cancel"):
            self._reject_child_cancelled(child)

    def signal_external(self, workflow_id: str, run_id: Optional[str], name: str, args: list,
                        child_only: bool) -> tuple:
        """Send signal `name`; returns (the future of its delivery, the command)."""
        cmd = {"type": "signal_external_workflow", "workflow_id": workflow_id, "signal_name": name,
               "input": converter.encode_args(args), "child_workflow_only": child_only}
        if run_id:
            cmd["run_id"] = run_id
        ext = _External("signal", self.loop.create_future())
        self._send_indexed(cmd, ext)
        return ext.future, cmd

    def cancel_external(self, workflow_id: str, run_id: Optional[str], child_only: bool, reason: Optional[str],
                        on_delivered: Optional[Callable] = None) -> asyncio.Future:
        cmd = {"type": "request_cancel_external_workflow", "workflow_id": workflow_id,
               "child_workflow_only": child_only}
        if run_id:
            cmd["run_id"] = run_id
        if reason:
            cmd["reason"] = reason
        ext = _External("cancel", self.loop.create_future(), on_delivered)
        ext.future.add_done_callback(_retrieve)
        self._send_indexed(cmd, ext)
        return ext.future

    def _apply_other_workflow_event(self, e: dict, t: str, a: dict):
        """docs/protocol.md, "What each event does": the events found by `initiated_event_id`."""
        owner = self.initiated.get(a.get("initiated_event_id"))
        if isinstance(owner, _External):
            del self.initiated[a["initiated_event_id"]]
            if t in ("ExternalWorkflowExecutionSignaled", "ExternalWorkflowExecutionCancelRequested"):
                if not owner.future.done():
                    owner.future.set_result(None)
                if owner.on_delivered is not None:
                    owner.on_delivered()
            elif not owner.future.done():
                # the TypeScript SDK's words (Temporal's core SDK's); `type` is the event's cause
                cause = a.get("cause") or "EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND"
                why = ("it was not found" if owner.what == "signal" else "not found") if "NOT_FOUND" in cause else cause
                owner.future.set_exception(ApplicationError(f"Unable to {owner.what} external workflow because {why}",
                                                            type=cause))
            return
        if not isinstance(owner, _Child):
            return
        child = owner
        run_id = (a.get("workflow_execution") or {}).get("run_id")
        if t == "ChildWorkflowExecutionStarted":
            if child.done:
                return
            child.started, child.run_id, child.started_event_id = True, run_id, e["event_id"]
            child.start.set_result(run_id)
            if child.cancel_after_start:
                self._request_child_cancel(child)
            return
        if t != "ChildWorkflowExecutionCanceled" and not self._finish_child(child):
            return
        if t == "StartChildWorkflowExecutionFailed":
            cause = a.get("cause") or "WORKFLOW_ALREADY_EXISTS"
            err = WorkflowAlreadyStartedError(
                "Workflow execution already started" if cause == "WORKFLOW_ALREADY_EXISTS"
                else f"Workflow execution not started: {cause}",
                workflow_id=child.workflow_id, workflow_type=child.workflow_type)
            child.start.set_exception(err)
            child.result.set_exception(err)
        elif t == "ChildWorkflowExecutionCompleted":
            v = a.get("result")
            child.result.set_result(converter.decode(v, child.result_type) if child.result_type else v)
        elif t == "ChildWorkflowExecutionFailed":
            child.result.set_exception(self._child_error(child, a.get("retry_state"),
                                                         failure_to_error(a.get("failure")), run_id))
        elif t == "ChildWorkflowExecutionCanceled":
            d = a.get("details")
            self._reject_child_cancelled(child, d if isinstance(d, list) else () if d is None else (d,))
        elif t == "ChildWorkflowExecutionTimedOut":
            child.result.set_exception(self._child_error(
                child, a.get("retry_state"),
                TimeoutFailureError("Child Workflow execution timed out", type=TimeoutType.START_TO_CLOSE), run_id))
        elif t == "ChildWorkflowExecutionTerminated":
            child.result.set_exception(self._child_error(child, RetryState.NON_RETRYABLE_FAILURE,
                                                         TerminatedError("Child Workflow execution terminated"),
                                                         run_id))

    # -- conditions
    def wait_condition(self, fn: Callable[[], bool]) -> asyncio.Future:
        fut = self.loop.create_future()
        self.conditions.append(_Condition(fn, fut))
        return fut

    # -- signals
    def deliver_signal(self, name: str, args: list):
        handler = self.signal_handlers.get(name)
        if handler is not None:
            self._call_handler(handler, args)
        elif self.dynamic_signal is not None:
            self._call_handler(self.dynamic_signal, [name, args], dynamic=True)
        else:
            self.signal_buffer.append((name, args))

    def set_signal_handler(self, name: Optional[str], fn):
        if name is None:
            self.dynamic_signal = fn
        elif fn is None:
            self.signal_handlers.pop(name, None)
        else:
            self.signal_handlers[name] = fn
        buffered, self.signal_buffer = self.signal_buffer, []
        for n, a in buffered:
            self.deliver_signal(n, a)

    def _call_handler(self, fn, args, dynamic=False):
        bound = fn.__get__(self.obj) if hasattr(fn, "__get__") and self.obj is not None and _is_method(fn, self.obj) else fn
        # a dynamic handler is called as handler(name, *args), undecoded
        call_args = [args[0], *args[1]] if dynamic else converter.decode_args(args, fn)
        if inspect.iscoroutinefunction(fn):
            task = self.loop.create_task(bound(*call_args))
            self.running_signals[task] = ("<dynamic>" if dynamic else getattr(fn, "__durable_signal_name__", None)
                                          or getattr(fn, "__name__", "?"),
                                          getattr(fn, "__durable_signal_policy__", None))
            task.add_done_callback(self._handler_done)
        else:
            def run():
                try:
                    bound(*call_args)
                except BaseException as e:   # noqa: B902 - routed like the main function's
                    self._fail(e)
            self.loop.call_soon(run)

    def _handler_done(self, t: asyncio.Task):
        self.running_signals.pop(t, None)
        if not t.cancelled() and t.exception() is not None:
            self._fail(t.exception())

    # -- updates (docs/protocol.md, "Updates"; replay step 4.3)
    def apply_update(self, update_id: str, name: str, input, validate: bool):
        """An update of this activation: a task's message (`validate`: its
        validator decides) or, on replay, an accepted update (no validator,
        as Temporal's core SDK). With no handler yet it waits in a buffer; a
        handler set later in the activation takes it, else it is rejected
        when the activation ends."""
        u = _Update(update_id, name, input, validate)
        if not self._do_update(u):
            self.update_buffer.append(u)

    def set_update_handler(self, name: Optional[str], fn, validator=None,
                           unfinished_policy=None):
        if name is None:
            self.dynamic_update = fn
        elif fn is None:
            self.update_handlers.pop(name, None)
        else:
            self.update_handlers[name] = fn
        self.update_options[name] = (validator, unfinished_policy)
        buffered, self.update_buffer = self.update_buffer, []
        for u in buffered:
            if not self._do_update(u):
                self.update_buffer.append(u)

    def _bind(self, fn):
        return fn.__get__(self.obj) if _is_method(fn, self.obj) or _of_class(fn, self.obj) else fn

    def _do_update(self, u: "_Update") -> bool:
        """Validate, accept and run one update; False when no handler takes it."""
        fn = self.update_handlers.get(u.name)
        dynamic = fn is None
        if dynamic:
            fn = self.dynamic_update
            if fn is None:
                return False
        raw = _args(u.input)
        info = UpdateInfo(id=u.update_id, name=u.name)
        ctx = contextvars.copy_context()
        ctx.run(_update_info.set, info)
        # a handler set at run time has its options here; a decorated method carries them
        validator, policy = self.update_options.get(None if dynamic else u.name, (None, None))
        validator = validator or getattr(fn, "__durable_update_validator__", None)
        policy = policy or getattr(fn, "__durable_update_policy__", None)
        try:
            if u.validate and validator is not None:
                vargs = [u.name, *raw] if dynamic else converter.decode_args(raw, validator)
                r = ctx.run(self._bind(validator), *vargs)
                if inspect.iscoroutine(r):
                    r.close()
                    raise ApplicationError(f"the validator of update {u.name!r} is async: validators must be plain "
                                           "functions", type="IllegalStateError", non_retryable=True)
            call_args = [u.name, *raw] if dynamic else converter.decode_args(raw, fn)
        except Exception as e:          # noqa: BLE001 - the validator's (or decoding's) error rejects the update
            self._reject_update(u.update_id, error_to_failure(e))
            return True
        self.command({"type": "accept_update", "update_id": u.update_id, "name": u.name, "args": u.input})
        self.running_updates[u.update_id] = (u.name, policy)
        bound = self._bind(fn)
        if inspect.iscoroutinefunction(fn):
            try:
                coro = ctx.run(bound, *call_args)
            except BaseException as e:  # noqa: B902 - a call that cannot start is the handler's error
                self.loop.call_soon(self._update_finished, u.update_id, None, e)
                return True
            task = self.loop.create_task(coro, context=ctx)
            task.add_done_callback(lambda t, uid=u.update_id: self._update_done(uid, t))
            # the handler runs at once up to its first await, before what the
            # activation's events unblocked goes on (as the TypeScript SDK's does)
            if asyncio.current_task(self.loop) is None and self.loop._ready:
                h = self.loop._ready.pop()
                if not h._cancelled:
                    h._run()
        else:
            try:
                result, error = ctx.run(bound, *call_args), None
            except BaseException as e:  # noqa: B902 - routed by _update_finished
                result, error = None, e
            self.loop.call_soon(self._update_finished, u.update_id, result, error)
        return True

    def _update_done(self, update_id: str, t: asyncio.Task):
        if t.cancelled():
            self._update_finished(update_id, None, asyncio.CancelledError())
        else:
            self._update_finished(update_id, None if t.exception() else t.result(), t.exception())

    def _update_finished(self, update_id: str, result, error: Optional[BaseException]):
        """complete_update with the handler's result, or with its failure when it
        raised a FailureError (ApplicationError, ...) or was cancelled; any
        other error fails the workflow task, as the run method's would."""
        self.running_updates.pop(update_id, None)
        if self.disposed:
            return
        if error is None:
            self.command({"type": "complete_update", "update_id": update_id, "result": converter.encode(result)})
        elif isinstance(error, asyncio.CancelledError):
            self.command({"type": "complete_update", "update_id": update_id,
                          "failure": error_to_failure(CancelledError("update handler cancelled"))})
        elif isinstance(error, FailureError):
            self.command({"type": "complete_update", "update_id": update_id, "failure": error_to_failure(error)})
        else:
            self._fail(error)

    def _reject_update(self, update_id: str, failure: dict):
        """reject_update goes in even after a close command of this activation,
        before it (a close must be last; every message must be answered)."""
        if self.disposed:
            return
        cmd = {"type": "reject_update", "update_id": update_id, "failure": failure}
        close = next((i for i, c in enumerate(self.commands) if c["type"] in CLOSE_COMMANDS), None)
        if close is None:
            self.commands.append(cmd)
        else:
            self.commands.insert(close, cmd)

    def _reject_buffered_updates(self):
        buffered, self.update_buffer = self.update_buffer, []
        known = ", ".join(sorted(self.update_handlers)) or "none"
        for u in buffered:
            self._reject_update(u.update_id, {"message": f"No registered handler for update: {u.name} (known: {known})",
                                              "type": "ApplicationFailure", "non_retryable": True})

    def all_handlers_finished(self) -> bool:
        return not self.running_updates and not self.running_signals

    def _warn_unfinished(self):
        warn = (None, HandlerUnfinishedPolicy.WARN_AND_ABANDON)
        updates = [f"{n} (id {i})" for i, (n, p) in self.running_updates.items() if p in warn]
        signals = sorted({n for n, p in self.running_signals.values() if p in warn})
        parts = ([f"update handlers still running: {', '.join(updates)}"] if updates else []) + \
                ([f"signal handlers still running: {', '.join(signals)}"] if signals else [])
        if parts:
            self.logger.warning("Workflow finished while %s. Their callers get an error (updates) or their work is "
                                "lost. Wait for workflow.all_handlers_finished before returning, or set "
                                "unfinished_policy=HandlerUnfinishedPolicy.ABANDON.", "; ".join(parts))

    # -- local activities (docs/protocol.md, "Local activities"; as the TypeScript
    # SDK's workflow/local-activities.ts: seqs shared with activities, one
    # "round" per activation and per outcome, markers matched by seq)
    def schedule_local(self, activity_type: str, input, opts: dict, attempt: int,
                       original: Optional[datetime], result_type=None) -> "LocalActivityHandle":
        """Ask for one local activity (from `attempt` on); no command is sent:
        the worker runs it after this activation, or on replay its marker
        resolves it."""
        self.activity_seq += 1
        seq = self.activity_seq
        aid = opts.get("activity_id") or str(seq)
        handle = LocalActivityHandle(loop=self.loop)
        handle.activity_id = aid
        handle._durable_cancel = lambda: self._cancel_local(seq, handle)
        original = original or self.now
        retry = opts.get("retry_policy")
        initial = 1.0
        if retry is not None and retry.initial_interval is not None:
            initial = to_seconds(retry.initial_interval)
        request = {
            "seq": seq, "activity_id": aid, "activity_type": activity_type, "input": input, "attempt": attempt,
            "original_schedule_time": original,
            "start_to_close": to_seconds(opts.get("start_to_close_timeout")),
            "schedule_to_close": to_seconds(opts.get("schedule_to_close_timeout")),
            "retry": {
                "initial_interval": initial,
                "backoff_coefficient": retry.backoff_coefficient if retry is not None else 2.0,
                "maximum_interval": to_seconds(retry.maximum_interval) if retry is not None
                and retry.maximum_interval is not None else 100 * initial,
                "maximum_attempts": retry.maximum_attempts if retry is not None else 0,
                "non_retryable_error_types": list(retry.non_retryable_error_types or ()) if retry is not None else [],
            },
            "local_retry_threshold": to_seconds(opts.get("local_retry_threshold")) if
            opts.get("local_retry_threshold") is not None else DEFAULT_LOCAL_RETRY_THRESHOLD,
        }
        self.local_pending[seq] = _Local(seq, aid, activity_type, opts.get("cancellation_type") or "try_cancel",
                                         self.local_round, self.now, request, handle, result_type=result_type)
        return handle

    def _cancel_local(self, seq: int, handle) -> bool:
        p = self.local_pending.get(seq)
        if p is None or p.handle is not handle or handle.done():
            return False
        err = ActivityError("Local activity cancelled", activity_id=p.activity_id, activity_type=p.activity_type,
                            retry_state=RetryState.CANCEL_REQUESTED)
        err.__cause__ = CancelledError("Local activity cancelled")
        if p.round == self.local_round:
            # never reached the worker: nothing ran, nothing to record
            del self.local_pending[seq]
            handle.set_exception(err)
            return True
        if p.cancellation_type == "wait_cancellation_completed":
            # the attempt is asked to stop; its outcome (cancelled, or not) is recorded when it comes
            if not self.replaying:
                self.local_cancels.append({"seq": seq, "cancel": True, "drop": False})
            return True
        del self.local_pending[seq]
        if self.replaying:
            self.local_awaiting[seq] = p
        else:
            self.local_cancels.append({"seq": seq, "cancel": p.cancellation_type == "try_cancel", "drop": True})
        self._record_local({
            "seq": seq, "attempt": p.request["attempt"], "activity_id": p.activity_id,
            "activity_type": p.activity_type, "complete_time": None, "backoff": None,
            "original_schedule_time": _iso_ms(p.request["original_schedule_time"]),
            "failure": {"message": "Local activity cancelled", "type": "CancelledFailure", "non_retryable": True},
            "retry_state": "CANCEL_REQUESTED"})
        handle.set_exception(err)
        return True

    def _record_local(self, details: dict):
        self.command({"type": "record_marker", "marker_name": LOCAL_ACTIVITY_MARKER, "details": details})

    def _resolve_local_from(self, p: "_Local", m: dict):
        """Apply one outcome (a marker's details): the marker command, the clock, the handle."""
        self.local_pending.pop(p.seq, None)
        self._record_local(m)
        if m.get("complete_time"):
            self.now = max(self.now, _parse_time(m["complete_time"]))
        if p.handle.done():
            return
        if m.get("failure") is not None:
            if m.get("backoff"):
                p.handle.set_exception(_LocalBackoff(m["attempt"] + 1, to_seconds(m["backoff"]),
                                                     _parse_time(m["original_schedule_time"])))
                return
            cause = failure_to_error(m["failure"])
            rs = m.get("retry_state")
            err = ActivityError(f"Local activity failed: {cause.message}", activity_id=p.activity_id,
                                activity_type=p.activity_type,
                                retry_state=RetryState(rs) if rs in RetryState._value2member_map_ else rs)
            err.__cause__ = cause
            p.handle.set_exception(err)
            return
        v = m.get("result")
        p.handle.set_result(converter.decode(v, p.result_type) if p.result_type else v)

    def _resolve_next_local_marker(self) -> bool:
        """Replay, once the code is blocked: resolve the pending local activity
        the next marker of the task names (True: run the code again)."""
        while self.local_markers:
            m = self.local_markers[0]
            cancelled = self.local_awaiting.pop(m.get("seq"), None)
            if cancelled is not None:
                self.local_markers.pop(0)
                self.local_nondeterminism = self.local_nondeterminism or _local_mismatch(cancelled, m)
                continue
            p = self.local_pending.get(m.get("seq"))
            if p is None:
                return False
            self.local_markers.pop(0)
            wrong = _local_mismatch(p, m)
            if wrong:
                self.local_nondeterminism = self.local_nondeterminism or wrong
                return False
            self.local_round += 1
            self._resolve_local_from(p, m)
            return True
        return False

    def _collect_local(self):
        """At the end of an activation: non-determinism found, and the local
        activities to hand to the worker (live activations only)."""
        if self.replaying and self.local_markers and not self.local_nondeterminism:
            m = self.local_markers[0]
            self.local_nondeterminism = (f"history has a local activity marker (seq {m.get('seq')}, activity type "
                                         f"{m.get('activity_type')!r}) that the workflow code did not schedule")
        if self.local_nondeterminism:
            msg, self.local_nondeterminism = self.local_nondeterminism, None
            raise NondeterminismError(msg, self.info_.history_length)
        if not self.replaying and not self.closed:
            for p in self.local_pending.values():
                if not p.handed:
                    p.handed = True
                    self.local_requests.append(p.request)

    def take_local(self) -> tuple:
        """The local activities to start and the cancellations for the worker since it last asked."""
        out = (self.local_requests, self.local_cancels)
        self.local_requests, self.local_cancels = [], []
        return out

    def resolve_local(self, job: dict) -> list:
        """A local activity's outcome from the worker, as an activation of its
        own at the current workflow task: its commands (the marker first),
        which are added to those the task will send."""
        global _current
        self.commands = []
        self.replaying = False
        self.local_round += 1
        prev_loop = asyncio.events._get_running_loop()
        prev, _current = _current, self
        asyncio.events._set_running_loop(self.loop)
        try:
            p = self.local_pending.get(job["seq"])
            if p is not None:
                m = {"seq": p.seq, "attempt": job["attempt"], "activity_id": p.activity_id,
                     "activity_type": p.activity_type,
                     "complete_time": _iso_ms(p.scheduled_now + timedelta(seconds=max(0.0, job.get("runtime") or 0))),
                     "backoff": _js_seconds(job["backoff"]) if job.get("backoff") is not None else None,
                     "original_schedule_time": _iso_ms(p.request["original_schedule_time"])}
                if job.get("failure") is not None:
                    m["failure"] = job["failure"]
                    m["retry_state"] = job.get("retry_state") or "MAXIMUM_ATTEMPTS_REACHED"
                else:
                    m["result"] = job.get("result")
                self._resolve_local_from(p, m)
            self._settle()
        finally:
            asyncio.events._set_running_loop(prev_loop)
            _current = prev
        if self.task_failure is not None:
            raise self.task_failure
        commands = list(self.commands)
        if self.pending is not None:
            self.pending = (self.pending[0] + commands, self.pending[1])
        return commands

    # -- starting and closing
    def start(self, args: list):
        cls = self.defn.cls
        self.obj = cls.__new__(cls)
        run_fn = getattr(cls, self.defn.run_fn_name)
        decoded = converter.decode_args(args, run_fn)
        if self.defn.init_takes_args:
            self.obj.__init__(*decoded)
        else:
            self.obj.__init__()
        # the run method starts after the handlers of the signals that came
        # with the start (their callbacks are queued by the same activation),
        # as Temporal Python runs an activation's handlers first
        self.loop.call_soon(self._start_main, decoded)

    def _start_main(self, decoded: list):
        self.main = self.loop.create_task(getattr(self.obj, self.defn.run_fn_name)(*decoded))
        self.main.add_done_callback(self._main_done)
        if self.cancel_requested:
            self.loop.call_soon(self.main.cancel)

    def _main_done(self, t: asyncio.Task):
        if self.disposed:
            return
        if t.cancelled():
            if self.cancel_requested:
                self.command({"type": "cancel_workflow", "details": None})
            else:
                self._fail(CancelledError("workflow main task cancelled"))
            return
        e = t.exception()
        if (e is None or isinstance(e, ContinueAsNewError)) and (self.running_updates or self.running_signals):
            self._warn_unfinished()
        if e is None:
            self.command({"type": "complete_workflow", "result": converter.encode(t.result())})
        else:
            self._fail(e)

    def _fail(self, e: BaseException):
        if self.closed or self.disposed:
            return
        if isinstance(e, ContinueAsNewError):
            self.command(e.command)
        elif self.cancel_requested and _is_cancellation(e):
            self.command({"type": "cancel_workflow", "details": None})
        elif isinstance(e, (FailureError, WorkflowAlreadyStartedError)):
            # a child's start that failed is a failure too (Temporal Python's
            # WorkflowAlreadyStartedError is a FailureError)
            self.command({"type": "fail_workflow", "failure": error_to_failure(e)})
        elif self.task_failure is None:
            # any other error fails the workflow task: fix the code and it goes on
            self.task_failure = e

    # -- events (docs/protocol.md, "What each event does")
    def apply(self, e: dict):
        t, a = e["event_type"], e.get("attributes") or {}
        if t == "WorkflowExecutionStarted":
            self._started(e, a)
        elif t == "WorkflowExecutionSignaled":
            self.deliver_signal(a["signal_name"], _args(a.get("input")))
        elif t == "WorkflowExecutionCancelRequested":
            if not self.cancel_requested:
                self.cancel_requested = True
                if self.main is not None and not self.main.done():
                    # deferred, as Temporal does: a main task that has not started yet reaches its first await
                    self.loop.call_soon(self.main.cancel)
        elif t == "ActivityTaskCompleted":
            self._resolve_activity(a["scheduled_event_id"], True, a.get("result"))
        elif t in ("ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled"):
            sid = a["scheduled_event_id"]
            aid = self.activity_of.get(sid)
            act = self.activities.get(aid)
            if t == "ActivityTaskCanceled":
                cause = CancelledError("activity cancelled", *(_args(a.get("details")) if a.get("details") is not None else ()))
            else:
                cause = failure_to_error(a.get("failure"))
            err = ActivityError(f"activity {t[12:].lower()}", activity_id=aid,
                                activity_type=act.activity_type if act else None,
                                retry_state=a.get("retry_state"), identity=a.get("identity"),
                                scheduled_event_id=sid)
            err.__cause__ = cause
            self._resolve_activity(sid, False, err)
        elif t == "TimerFired":
            fired = self.timers.pop(a["timer_id"], None)
            if fired is not None:
                fire, context = fired
                if context is None:
                    self.loop.call_soon(fire)
                else:
                    self.loop.call_soon(fire, context=context)
        elif t in _OTHER_WORKFLOW_EVENTS:
            self._apply_other_workflow_event(e, t, a)
        self.info_.history_length = e["event_id"]

    def _started(self, e: dict, a: dict):
        i = self.info_
        i.workflow_type = a.get("workflow_type") or i.workflow_type
        i.task_queue = a.get("task_queue") or i.task_queue
        i.attempt = a.get("attempt") or 1
        i.first_execution_run_id = a.get("first_execution_run_id")
        i.continued_run_id = a.get("continued_execution_run_id")
        i.execution_timeout = _td(a.get("workflow_execution_timeout"))
        i.run_timeout = _td(a.get("workflow_run_timeout"))
        i.task_timeout = _td(a.get("workflow_task_timeout"))
        i.retry_policy = RetryPolicy.from_json(a.get("retry_policy"))
        i.search_attributes = a.get("search_attributes") or {}
        i.memo = a.get("memo")
        i.priority = a.get("priority")
        i.start_time = i.workflow_start_time = _parse_time(e["event_time"])
        if a.get("parent_workflow_execution"):
            i.parent = {"namespace": a.get("parent_workflow_namespace"), **a["parent_workflow_execution"]}
        self.start(_args(a.get("input")))

    # -- one activation
    def activate(self, events: list, clock: datetime, replaying: bool, markers: set, updates: tuple = (),
                 local_markers: tuple = ()) -> list:
        global _current
        self.commands = []
        self.replaying = replaying
        self.now = clock
        self.patch_markers |= markers
        self.local_round += 1
        self.local_markers = list(local_markers)
        prev_loop = asyncio.events._get_running_loop()
        prev, _current = _current, self
        asyncio.events._set_running_loop(self.loop)
        try:
            for e in events:
                self.apply(e)
            for update_id, name, input, validate in updates:
                self.apply_update(update_id, name, input, validate)
            self._settle()
        finally:
            asyncio.events._set_running_loop(prev_loop)
            _current = prev
        return list(self.commands)

    def dispose(self):
        """Drop the run: cancel its tasks and let their `finally` blocks run now,
        inside the workflow, with commands switched off. Without this the
        garbage collector would close the coroutines at a random later
        moment, outside any activation."""
        global _current
        if self.disposed:
            return
        self.disposed = True
        prev_loop = asyncio.events._get_running_loop()
        prev, _current = _current, self
        asyncio.events._set_running_loop(self.loop)
        try:
            for _ in range(100):
                pending = [t for t in self.loop._tasks if not t.done()]
                if not pending:
                    break
                for t in pending:
                    t.cancel()
                self.loop.run_ready()
        except BaseException:           # noqa: B902 - a finally block that fails changes nothing now
            pass
        finally:
            asyncio.events._set_running_loop(prev_loop)
            _current = prev
            self.loop._ready.clear()
            self.conditions.clear()

    def _settle(self):
        """The end of an activation, new or resumed: run the code until it blocks, reject the
        updates no handler took, and collect the local activities it asked for."""
        self._run_until_blocked()
        if self.update_buffer and self.task_failure is None:
            self._reject_buffered_updates()
        self._collect_local()

    def _run_until_blocked(self):
        while True:
            self.loop.run_ready()
            progressed = False
            for c in list(self.conditions):
                if c.future.done():
                    self.conditions.remove(c)
                elif c.fn():
                    self.conditions.remove(c)
                    c.future.set_result(True)
                    progressed = True
                    break       # what it unblocks runs before the next condition is asked
            if not progressed and not self.loop._ready:
                if self.replaying and self.local_markers and self._resolve_next_local_marker():
                    continue
                return

    def query(self, name: str, args: list):
        """Run a query handler against the replayed state (it must not change it)."""
        global _current
        handler = self.query_handlers.get(name)
        prev_loop = asyncio.events._get_running_loop()
        prev, _current = _current, self
        asyncio.events._set_running_loop(self.loop)
        self.replaying = True
        try:
            if handler is not None:
                bound = handler.__get__(self.obj) if _is_method(handler, self.obj) else handler
                return converter.encode(bound(*converter.decode_args(args, handler)))
            if self.dynamic_query is not None:
                fn = self.dynamic_query
                bound = fn.__get__(self.obj) if _is_method(fn, self.obj) else fn
                return converter.encode(bound(name, args))
            known = sorted(self.query_handlers)
            raise ApplicationError(f"workflow type {self.defn.name!r} has no query {name!r} "
                                   f"(known queries: {', '.join(known) or 'none'})", type="QueryNotFound")
        finally:
            asyncio.events._set_running_loop(prev_loop)
            _current = prev


def _is_method(fn, obj) -> bool:
    """Whether fn is a function of the workflow class (to be bound to obj)."""
    return obj is not None and inspect.isfunction(fn) and getattr(type(obj), fn.__name__, None) is fn


def _args(v) -> list:
    """An input as its argument list (docs/protocol.md, "Conventions workers share")."""
    if v is None:
        return []
    if isinstance(v, dict) and set(v) == {"__durable_headers", "args"}:
        v = v["args"]
    return v if isinstance(v, list) else [v]


def _is_cancellation(e: BaseException) -> bool:
    if isinstance(e, (asyncio.CancelledError, CancelledError)):
        return True
    if isinstance(e, (ActivityError, ChildWorkflowError)):
        return _is_cancellation(e.__cause__) if e.__cause__ is not None else False
    return False


class _ReplayAwareLogger(logging.LoggerAdapter):
    """`workflow.logger`: quiet while replaying, tagged with the run."""

    def __init__(self, inst: WorkflowInstance):
        super().__init__(logging.getLogger("durable.workflow"), {})
        self._inst = inst

    def isEnabledFor(self, level):
        return not self._inst.replaying and super().isEnabledFor(level)

    def process(self, msg, kwargs):
        i = self._inst.info_
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("workflow_id", i.workflow_id)
        extra.setdefault("run_id", i.run_id)
        extra.setdefault("workflow_type", i.workflow_type)
        kwargs["extra"] = extra
        return f"{msg} ({{'workflow_id': {i.workflow_id!r}, 'run_id': {i.run_id!r}}})", kwargs


# ------------------------------------------------------------------ replay
def _deprecated_patch_event(e) -> bool:
    a = e["attributes"]
    return e["event_type"] == "MarkerRecorded" and a.get("marker_name") == "core_patch" and \
        bool((a.get("details") or {}).get("deprecated"))


def _deprecated_patch_command(c) -> bool:
    return c["type"] == "record_marker" and c.get("marker_name") == "core_patch" and \
        bool((c.get("details") or {}).get("deprecated"))


def match(commands: list, events: list, started_id: int, run: WorkflowInstance):
    """docs/protocol.md, "Matching commands to events": walk an activation's
    commands and its command events side by side."""
    # rejected updates leave no event; local activity markers are matched by seq
    # when they resolve (docs/protocol.md, "Local activities"), not by position
    commands = [c for c in commands if c["type"] != "reject_update" and not _is_local_marker(c)]
    events = [e for e in events if not _is_local_marker_event(e)]
    ci = ei = 0
    while ci < len(commands) or ei < len(events):
        c = commands[ci] if ci < len(commands) else None
        e = events[ei] if ei < len(events) else None
        a = e["attributes"] if e else None
        m = _MATCH.get(c["type"]) if c else None
        if c and e and m and m[0] == e["event_type"] and m[1](c, a, run):
            if c["type"] == "schedule_activity":
                run.activity_event[c["activity_id"]] = e["event_id"]
                run.activity_of[e["event_id"]] = c["activity_id"]
            elif c["type"] in _INDEXED_COMMANDS:
                run._initiated(c, e)
            ci, ei = ci + 1, ei + 1
        elif e and _deprecated_patch_event(e) and not (c and m and m[0] == "MarkerRecorded"
                                                         and m[1](c, a, run)):
            ei += 1         # a deprecated patch marker the code no longer asks for
        elif c and _deprecated_patch_command(c):
            ci += 1         # a deprecated patch the history never recorded
        elif e is None:
            raise NondeterminismError(f"the workflow code sent {c['type']} {_cmd_id(c)}but the history has "
                                      f"no command event left for it", started_id)
        elif c is None:
            raise NondeterminismError(f"event {e['event_id']} {e['event_type']} has no command in the "
                                      f"workflow code", e["event_id"])
        else:
            raise NondeterminismError(f"event {e['event_id']} {e['event_type']} does not match the workflow "
                                      f"code's {c['type']} {_cmd_id(c)}".rstrip(), e["event_id"])


def _cmd_id(c: dict) -> str:
    for k in ("activity_id", "timer_id", "marker_name", "workflow_id", "update_id"):
        if k in c:
            return f"{k}={c[k]!r} "
    return ""


def _boundaries(history: list, current: bool) -> list:
    """Indexes of the boundaries (docs/protocol.md, "Activations"). With
    `current`, the last event is the task's WorkflowTaskStarted, a boundary."""
    last = len(history) - 1
    bounds = [k for k, e in enumerate(history) if e["event_type"] == "WorkflowTaskStarted"
              and ((current and k == last) or (k < last and history[k + 1]["event_type"] == "WorkflowTaskCompleted"))]
    if current and (not bounds or bounds[-1] != last):
        raise ValueError("a workflow task's history must end with its WorkflowTaskStarted")
    return bounds


def _patch_ids(events: list) -> set:
    return {(e["attributes"].get("details") or {}).get("patch_id") for e in events
            if e["event_type"] == "MarkerRecorded" and e["attributes"].get("marker_name") == "core_patch"}


def _accepted_updates(history: list, k: int) -> list:
    """Step 4.3 on replay: the updates the task of boundary k accepted (its
    WorkflowExecutionUpdateAccepted command events, in order), applied
    without their validators."""
    out = []
    for e in history[k + 1:]:
        t = e["event_type"]
        if t == "WorkflowTaskStarted":
            break
        if t == "WorkflowExecutionUpdateAccepted":
            a = e["attributes"]
            req = a.get("accepted_request") or {}
            inp = req.get("input") or {}
            out.append((a.get("protocol_instance_id") or (req.get("meta") or {}).get("update_id"),
                        inp.get("name"), inp.get("args"), False))
    return out


def _local_markers(history: list, k: int) -> list:
    """The local activity markers the task of boundary k recorded (its command events), in order."""
    out = []
    for e in history[k + 1:]:
        if e["event_type"] == "WorkflowTaskStarted":
            break
        if _is_local_marker_event(e):
            out.append(e["attributes"].get("details") or {})
    return out


def advance(inst: WorkflowInstance, history: list, *, current: bool, messages: Optional[list] = None) -> tuple:
    """docs/protocol.md, "The procedure", step 4, from where `inst` stands:
    `history` holds the events after its last activation (a whole history
    for a new instance). For each boundary: match the previous activation's
    commands against the command events before it, apply the events, run the
    code. Returns (the last activation's commands, trailing events). With
    `current` the last activation is the task being worked on; otherwise
    every activation is past and the last one's commands are matched
    against the command events that trail it. Raises NondeterminismError
    or the code's task failure."""
    bounds = _boundaries(history, current)
    start, commands = 0, []
    for i, k in enumerate(bounds):
        seg = history[start:k + 1]
        if inst.pending is not None:
            match(inst.pending[0], [e for e in seg if e["event_type"] in COMMAND_EVENTS], inst.pending[1], inst)
        past = not (current and k == len(history) - 1)
        after = history[k + 1:bounds[i + 1] if i + 1 < len(bounds) else len(history)]
        if past:
            updates = _accepted_updates(history, k)
        else:
            updates = [(m["update_id"], m["name"], m.get("args"), True) for m in messages or ()]
        commands = inst.activate(seg, _parse_time(history[k]["event_time"]), past,
                                 _patch_ids(after) if past else set(), updates,
                                 _local_markers(history, k) if past else ())
        if inst.task_failure is not None:
            raise inst.task_failure
        inst.pending = (commands, history[k]["event_id"])
        inst.stands_at = (history[k]["event_id"], history[k]["event_time"])
        start = k + 1
    trailing = history[start:]
    if not current and inst.pending is not None:
        match(inst.pending[0], [e for e in trailing if e["event_type"] in COMMAND_EVENTS], inst.pending[1], inst)
        inst.pending = None
    return commands, trailing


def continuation(inst: WorkflowInstance, history: list) -> Optional[list]:
    """The events of `history` after where the cached `inst` stands, or None
    when `history` does not continue it (docs/protocol.md, "The procedure",
    step 2): `inst` stands after the WorkflowTaskStarted `s` of time `t`."""
    if inst.stands_at is None or not history:
        return None
    s, t = inst.stands_at
    first = history[0]
    if first["event_id"] == s + 1:
        a = first.get("attributes") or {}
        if first["event_type"] == "WorkflowTaskCompleted" and a.get("started_event_id") == s:
            return history
        return None
    if first["event_id"] == 1 and len(history) > s:
        e, nxt = history[s - 1], history[s]
        if e["event_id"] == s and e["event_type"] == "WorkflowTaskStarted" and e["event_time"] == t \
                and nxt["event_type"] == "WorkflowTaskCompleted":
            return history[s:]
    return None


def replay(defn, history: list, *, workflow_id: str, run_id: str, namespace: str, task_queue: str,
           current: bool, messages: Optional[list] = None) -> tuple:
    """Replay a whole `history` on a new instance; return (instance, commands
    of the last activation, trailing events). Raises as `advance` (the
    instance is then disposed). The caller disposes the instance it gets
    when done with it."""
    if not history or history[0]["event_id"] != 1 or history[0]["event_type"] != "WorkflowExecutionStarted":
        raise ValueError("replay needs a whole history, starting with WorkflowExecutionStarted")
    inst = WorkflowInstance(defn, workflow_id, run_id, namespace, task_queue)
    try:
        commands, trailing = advance(inst, history, current=current, messages=messages)
    except BaseException:
        inst.dispose()
        raise
    return inst, commands, trailing


def task_failure(e: BaseException) -> dict:
    """The failure a worker sends to fail_workflow_task for a replay error."""
    if isinstance(e, NondeterminismError):
        return {"type": "NonDeterminismError", "message": str(e), "non_retryable": False,
                "details": {"event_id": e.event_id}}
    return error_to_failure(e)


def run_workflow_task(defn, history: list, *, workflow_id: str, run_id: str, namespace: str,
                      task_queue: str, messages: Optional[list] = None) -> tuple:
    """docs/protocol.md, "The procedure", with no cache: ("complete",
    commands) or ("fail", failure)."""
    try:
        inst, commands, _ = replay(defn, history, workflow_id=workflow_id, run_id=run_id, namespace=namespace,
                                   task_queue=task_queue, current=True, messages=messages)
        inst.dispose()
        return "complete", commands
    except BaseException as e:     # noqa: B902 - a bug of the code fails the task, never the worker
        return "fail", task_failure(e)


def new_uuid4(inst: WorkflowInstance) -> uuid.UUID:
    """The next UUID of the run's id generator: the same as the TypeScript
    SDK's uuid4() (and its default child workflow ids) at the same point of
    the same run, so a history moves between the SDKs."""
    if inst.id_random is None:
        inst.id_random = _Sfc32(inst.info_.run_id)
    return uuid.UUID(inst.id_random.uuid4())

"""Schedules: Temporal Python's schedule types and ScheduleHandle over durable's schedules SQL API.

Temporal Python (temporalio.client) names: Schedule, ScheduleSpec,
ScheduleCalendarSpec, ScheduleRange, ScheduleIntervalSpec,
ScheduleActionStartWorkflow, SchedulePolicy, ScheduleOverlapPolicy,
ScheduleState, ScheduleBackfill, ScheduleDescription, ScheduleInfo,
ScheduleUpdate, ScheduleUpdateInput, ScheduleListDescription and
ScheduleHandle.  The Client's create_schedule, get_schedule_handle and
list_schedules build on them; durable.client re-exports every name here,
as Temporal keeps them in temporalio.client.

The engine keeps a schedule as a row of durable.schedules, fired by its
timer service (docs/schedules.md).  This module turns Temporal's shapes into
the engine's JSON and back, as the TypeScript SDK's ScheduleClient does
(sdk/typescript/src/schedule-client.ts), so a schedule one SDK created reads
the same in the other:

- calendar fields (sequences of ScheduleRange) become the engine's cron-like
  strings ("9", "1-5", "0-59/15", "*"), and are read back from them (names
  such as "mon-fri" or "jan" included);
- overlap policies (ScheduleOverlapPolicy.BUFFER_ONE) become the engine's
  lower-case names ("buffer_one");
- durations are sent as interval text ("90s"), datetimes as ISO 8601 (a
  naive datetime is UTC, as Temporal's protobuf conversion takes it);
- the action's args, memo and search attributes go through
  durable.converter.encode, as a started workflow's do.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import (
    TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union,
)

from .common import Duration, RetryPolicy, to_interval, to_timedelta
from .converter import encode, encode_args

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = [
    "Schedule",
    "ScheduleActionExecutionStartWorkflow",
    "ScheduleActionResult",
    "ScheduleActionStartWorkflow",
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
    "ScheduleOverlapPolicy",
    "SchedulePolicy",
    "ScheduleRange",
    "ScheduleSpec",
    "ScheduleState",
    "ScheduleUpdate",
    "ScheduleUpdateInput",
]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


# ---------------------------------------------------------------------------
# policies


class ScheduleOverlapPolicy(IntEnum):
    """What a due action does while a workflow the schedule started still runs (Temporal's values).

    The engine's names are the lower-case ones (docs/schedules.md, "Policies").
    """

    SKIP = 1
    BUFFER_ONE = 2
    BUFFER_ALL = 3
    CANCEL_OTHER = 4
    TERMINATE_OTHER = 5
    ALLOW_ALL = 6

    @property
    def engine_name(self) -> str:
        return self.name.lower()

    @classmethod
    def of(cls, value: Any) -> Optional["ScheduleOverlapPolicy"]:
        """A policy of a member, its number, its name (any case, "BufferOne", "buffer-one",
        "SCHEDULE_OVERLAP_POLICY_SKIP") or the engine's name; None stays None."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, str):
            key = value.upper().replace("SCHEDULE_OVERLAP_POLICY_", "").replace("-", "").replace("_", "")
            for m in cls:
                if m.name.replace("_", "") == key:
                    return m
        raise ValueError(f"unknown overlap policy {value!r} (one of {', '.join(m.name for m in cls)})")


def _overlap_to_engine(value: Any) -> Optional[str]:
    p = ScheduleOverlapPolicy.of(value)
    return None if p is None else p.engine_name


@dataclass
class SchedulePolicy:
    """Temporal's SchedulePolicy: overlap, catch-up window (at least 10 s), pause on failure."""

    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP
    catchup_window: timedelta = timedelta(days=365)
    pause_on_failure: bool = False

    def _to_engine(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"overlap": _overlap_to_engine(self.overlap)}
        if self.catchup_window is not None:
            out["catchup_window"] = to_interval(self.catchup_window)
        out["pause_on_failure"] = bool(self.pause_on_failure)
        return out

    @staticmethod
    def _from_engine(p: Optional[Mapping[str, Any]]) -> "SchedulePolicy":
        p = p or {}
        return SchedulePolicy(
            overlap=ScheduleOverlapPolicy.of(p.get("overlap") or "skip"),  # type: ignore[arg-type]
            catchup_window=to_timedelta(p.get("catchup_window")) or timedelta(days=365),
            pause_on_failure=bool(p.get("pause_on_failure")))


@dataclass
class ScheduleState:
    """Temporal's ScheduleState: paused (and the note saying why), and limited actions.

    With limited_actions, each workflow the schedule starts takes one of
    remaining_actions; at 0 it takes no more.
    """

    note: Optional[str] = None
    paused: bool = False
    limited_actions: bool = False
    remaining_actions: int = 0

    def _to_engine(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"paused": bool(self.paused)}
        if self.note is not None:
            out["note"] = self.note
        if self.limited_actions:
            out["limited_actions"] = True
            out["remaining_actions"] = int(self.remaining_actions)
        return out


# ---------------------------------------------------------------------------
# spec


@dataclass(frozen=True)
class ScheduleRange:
    """A range of a calendar field (Temporal's ScheduleRange): start..end every step, inclusive.

    end below start means start alone; step 0 means 1.
    """

    start: int
    end: int = 0
    step: int = 0

    def __post_init__(self) -> None:
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)
        if self.step == 0:
            object.__setattr__(self, "step", 1)


CalendarField = Union[Sequence[Union[ScheduleRange, int]], ScheduleRange, int, str]

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# each calendar field: engine name, the value when unset (Temporal's default), the full range, names
_CALENDAR_FIELDS: List[Tuple[str, str, Optional[Tuple[int, int]], Optional[List[str]], int]] = [
    ("second", "0", (0, 59), None, 0),
    ("minute", "0", (0, 59), None, 0),
    ("hour", "0", (0, 23), None, 0),
    ("day_of_month", "*", (1, 31), None, 0),
    ("month", "*", (1, 12), _MONTHS, 1),
    ("year", "*", None, None, 0),
    ("day_of_week", "*", (0, 6), _DAYS, 0),
]


@dataclass
class ScheduleCalendarSpec:
    """Times by calendar fields (Temporal's ScheduleCalendarSpec).

    Each field is a sequence of ScheduleRange (plain ints are single
    values); a time matches when every field matches one of its ranges.
    Defaults as Temporal's: second, minute and hour 0, every day, month and
    day of week, any year (day_of_week 0 is Sunday).  A field may also be
    the engine's string ("mon-fri", "*/15"; docs/schedules.md, "Spec"), as
    the TypeScript SDK accepts.
    """

    second: CalendarField = (ScheduleRange(0),)
    minute: CalendarField = (ScheduleRange(0),)
    hour: CalendarField = (ScheduleRange(0),)
    day_of_month: CalendarField = (ScheduleRange(1, 31),)
    month: CalendarField = (ScheduleRange(1, 12),)
    year: CalendarField = ()
    day_of_week: CalendarField = (ScheduleRange(0, 6),)
    comment: Optional[str] = None

    def __post_init__(self) -> None:
        # one form for each field (a tuple of ScheduleRange, or a string), so that equal specs compare equal
        for name, _, _, _, _ in _CALENDAR_FIELDS:
            v = getattr(self, name)
            if isinstance(v, (ScheduleRange, int)):
                v = (v,)
            if not isinstance(v, str):
                setattr(self, name, tuple(ScheduleRange(r) if isinstance(r, int) else r for r in v))

    def _to_engine(self) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for name, _, full, _, _ in _CALENDAR_FIELDS:
            out[name] = _field_to_engine(getattr(self, name), name, full)
        if self.comment:
            out["comment"] = self.comment
        return out

    @staticmethod
    def _from_engine(c: Mapping[str, Any]) -> "ScheduleCalendarSpec":
        kw: Dict[str, Any] = {}
        for name, unset, full, names, base in _CALENDAR_FIELDS:
            kw[name] = _field_from_engine(c.get(name, unset), full, names, base)
        return ScheduleCalendarSpec(comment=c.get("comment"), **kw)


def _field_to_engine(value: CalendarField, name: str, full: Optional[Tuple[int, int]]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (ScheduleRange, int)):
        value = (value,)
    ranges = [ScheduleRange(r) if isinstance(r, int) else r for r in value]
    if not ranges:
        if full is None:
            return "*"  # year: every year
        raise ValueError(f"calendar field {name} has no range: it would match no time")
    if full is not None and len(ranges) == 1 and ranges[0] == ScheduleRange(*full):
        return "*"
    parts = []
    for r in ranges:
        if not isinstance(r, ScheduleRange):
            raise TypeError(f"calendar field {name}: {r!r} is not a ScheduleRange or an int")
        if r.end == r.start:
            parts.append(str(r.start))
        else:
            parts.append(f"{r.start}-{r.end}" + (f"/{r.step}" if r.step != 1 else ""))
    return ",".join(parts)


def _number(text: str, names: Optional[List[str]], base: int) -> int:
    t = text.strip().lower()
    if names is not None and t[:3] in names and not t.isdigit():
        return names.index(t[:3]) + base
    return int(t)


def _field_from_engine(text: Any, full: Optional[Tuple[int, int]], names: Optional[List[str]],
                       base: int) -> CalendarField:
    """The engine's field string as ScheduleRanges; a string it cannot read stays as it is."""
    s = str(text).strip()
    if s == "*":
        return () if full is None else (ScheduleRange(*full),)
    try:
        out = []
        for part in s.split(","):
            step = 1
            if "/" in part:
                part, st = part.split("/", 1)
                step = int(st)
            if part.strip() == "*":
                if full is None:
                    raise ValueError(part)
                lo, hi = full
            elif "-" in part:
                a, b = part.split("-", 1)
                lo, hi = _number(a, names, base), _number(b, names, base)
            else:
                lo = _number(part, names, base)
                hi = lo if step == 1 else (full[1] if full else lo)  # "a/n": from a to the end
            out.append(ScheduleRange(lo, hi, step))
        return tuple(out)
    except (ValueError, IndexError):
        return s


@dataclass
class ScheduleIntervalSpec:
    """Every `every`, shifted by `offset`, counted from the Unix epoch (Temporal's ScheduleIntervalSpec)."""

    every: timedelta
    offset: Optional[timedelta] = None


def _datetime_to_engine(d: Union[datetime, str]) -> str:
    if isinstance(d, str):
        return d
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.isoformat()


def _datetime(v: Any) -> Optional[datetime]:
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v).replace("Z", "+00:00"))


@dataclass
class ScheduleSpec:
    """When the action is taken (Temporal's ScheduleSpec).

    At least one of calendars, intervals, cron_expressions.  skip: calendars
    whose times are not taken.  start_at / end_at bound the times (both
    inclusive); jitter delays each action by up to that much (a hash of the
    schedule id and time in durable, random in Temporal); time_zone_name is
    an IANA zone of PostgreSQL's database (default UTC).
    """

    calendars: Sequence[ScheduleCalendarSpec] = field(default_factory=list)
    intervals: Sequence[ScheduleIntervalSpec] = field(default_factory=list)
    cron_expressions: Sequence[str] = field(default_factory=list)
    skip: Sequence[ScheduleCalendarSpec] = field(default_factory=list)
    start_at: Optional[datetime] = None
    end_at: Optional[datetime] = None
    jitter: Optional[timedelta] = None
    time_zone_name: Optional[str] = None

    def _to_engine(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.cron_expressions:
            out["cron"] = list(self.cron_expressions)
        if self.intervals:
            ivs = []
            for i in self.intervals:
                iv = i if isinstance(i, ScheduleIntervalSpec) else ScheduleIntervalSpec(every=i)  # type: ignore[arg-type]
                r = {"every": to_interval(iv.every)}
                if iv.offset is not None:
                    r["offset"] = to_interval(iv.offset)
                ivs.append(r)
            out["intervals"] = ivs
        if self.calendars:
            out["calendars"] = [c._to_engine() for c in self.calendars]
        if self.skip:
            out["exclude_calendars"] = [c._to_engine() for c in self.skip]
        if self.jitter is not None:
            out["jitter"] = to_interval(self.jitter)
        if self.start_at is not None:
            out["start_at"] = _datetime_to_engine(self.start_at)
        if self.end_at is not None:
            out["end_at"] = _datetime_to_engine(self.end_at)
        if self.time_zone_name:
            out["timezone"] = self.time_zone_name
        return out

    @staticmethod
    def _from_engine(s: Optional[Mapping[str, Any]]) -> "ScheduleSpec":
        s = s or {}
        return ScheduleSpec(
            calendars=[ScheduleCalendarSpec._from_engine(c) for c in s.get("calendars") or ()],
            intervals=[ScheduleIntervalSpec(every=to_timedelta(i["every"]),  # type: ignore[arg-type]
                                            offset=to_timedelta(i.get("offset")))
                       for i in s.get("intervals") or ()],
            cron_expressions=list(s.get("cron") or ()),
            skip=[ScheduleCalendarSpec._from_engine(c) for c in s.get("exclude_calendars") or ()],
            start_at=_datetime(s.get("start_at")), end_at=_datetime(s.get("end_at")),
            jitter=to_timedelta(s.get("jitter")), time_zone_name=s.get("timezone"))


# ---------------------------------------------------------------------------
# action


@dataclass(init=False)
class ScheduleActionStartWorkflow:
    """Start a workflow (Temporal's ScheduleActionStartWorkflow).

    workflow: a name, a @workflow.defn class or its run method.  id: the
    prefix of the started runs' ids, "<id>-<scheduled time, RFC 3339 UTC>"
    (default: the schedule id).  The workflow's arguments: one positional
    arg, or args=[...].
    """

    workflow: str
    args: Sequence[Any]
    id: Optional[str]
    task_queue: str
    execution_timeout: Optional[timedelta]
    run_timeout: Optional[timedelta]
    task_timeout: Optional[timedelta]
    retry_policy: Optional[RetryPolicy]
    memo: Optional[Mapping[str, Any]]
    search_attributes: Optional[Mapping[str, Any]]

    def __init__(self, workflow: Any, arg: Any = _UNSET, *, args: Sequence[Any] = (), id: Optional[str] = None,
                 task_queue: str, execution_timeout: Optional[Duration] = None,
                 run_timeout: Optional[Duration] = None, task_timeout: Optional[Duration] = None,
                 retry_policy: Optional[RetryPolicy] = None, memo: Optional[Mapping[str, Any]] = None,
                 search_attributes: Optional[Mapping[str, Any]] = None) -> None:
        from .client import workflow_name  # durable.client imports this module

        if arg is not _UNSET:
            if args:
                raise TypeError("pass either one positional argument or args=[...], not both")
            args = [arg]
        self.workflow = workflow_name(workflow)
        self.args = list(args)
        self.id = id
        self.task_queue = task_queue
        self.execution_timeout = to_timedelta(execution_timeout)
        self.run_timeout = to_timedelta(run_timeout)
        self.task_timeout = to_timedelta(task_timeout)
        self.retry_policy = retry_policy
        self.memo = memo
        self.search_attributes = search_attributes

    def _to_engine(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"workflow_type": self.workflow, "task_queue": self.task_queue,
                               "input": encode_args(list(self.args))}
        if self.id is not None:
            out["workflow_id"] = self.id
        for name in ("execution_timeout", "run_timeout", "task_timeout"):
            v = getattr(self, name)
            if v is not None:
                out[name] = to_interval(v)
        if self.retry_policy is not None:
            out["retry_policy"] = self.retry_policy.to_json()
        if self.memo:
            out["memo"] = encode(dict(self.memo))
        if self.search_attributes:
            out["search_attributes"] = encode(dict(self.search_attributes))
        return out

    @staticmethod
    def _from_engine(a: Optional[Mapping[str, Any]]) -> "ScheduleActionStartWorkflow":
        a = a or {}
        return ScheduleActionStartWorkflow(
            a.get("workflow_type") or "", args=list(a.get("input") or ()), id=a.get("workflow_id"),
            task_queue=a.get("task_queue") or "default", execution_timeout=a.get("execution_timeout"),
            run_timeout=a.get("run_timeout"), task_timeout=a.get("task_timeout"),
            retry_policy=RetryPolicy.from_json(a.get("retry_policy")), memo=a.get("memo"),
            search_attributes=a.get("search_attributes"))


@dataclass
class Schedule:
    """A schedule: its action, spec, policy and state (Temporal's Schedule)."""

    action: ScheduleActionStartWorkflow
    spec: ScheduleSpec
    policy: SchedulePolicy = field(default_factory=SchedulePolicy)
    state: ScheduleState = field(default_factory=ScheduleState)


@dataclass
class ScheduleBackfill:
    """Take the actions the spec has in [start_at, end_at] (Temporal's ScheduleBackfill).

    overlap: the policy for these actions (None: the schedule's).
    """

    start_at: datetime
    end_at: datetime
    overlap: Optional[ScheduleOverlapPolicy] = None


# ---------------------------------------------------------------------------
# descriptions


@dataclass
class ScheduleActionExecutionStartWorkflow:
    """A workflow a schedule started (Temporal's ScheduleActionExecutionStartWorkflow)."""

    workflow_id: str
    first_execution_run_id: str


@dataclass
class ScheduleActionResult:
    """One action taken (Temporal's ScheduleActionResult); status: the run's status now (durable's)."""

    scheduled_at: datetime
    started_at: datetime
    action: ScheduleActionExecutionStartWorkflow
    status: Optional[str] = None


def _execution(r: Mapping[str, Any]) -> ScheduleActionExecutionStartWorkflow:
    return ScheduleActionExecutionStartWorkflow(workflow_id=r.get("workflow_id"), first_execution_run_id=r.get("run_id"))


def _action_result(r: Mapping[str, Any]) -> ScheduleActionResult:
    return ScheduleActionResult(scheduled_at=_datetime(r.get("scheduled_time")),  # type: ignore[arg-type]
                                started_at=_datetime(r.get("actual_time")),  # type: ignore[arg-type]
                                action=_execution(r), status=r.get("status"))


@dataclass
class ScheduleInfo:
    """What a schedule did and will do (Temporal's ScheduleInfo); num_actions_buffered,
    num_action_errors and last_action_error (the engine's JSON: time, nominal_time, sqlstate,
    message) are durable's."""

    num_actions: int
    num_actions_missed_catchup_window: int
    num_actions_skipped_overlap: int
    running_actions: Sequence[ScheduleActionExecutionStartWorkflow]
    recent_actions: Sequence[ScheduleActionResult]
    next_action_times: Sequence[datetime]
    created_at: datetime
    last_updated_at: Optional[datetime]
    num_actions_buffered: int = 0
    num_action_errors: int = 0
    last_action_error: Optional[Dict[str, Any]] = None


@dataclass
class ScheduleDescription:
    """durable.describe_schedule as Temporal's ScheduleDescription (raw_description: the engine's JSON)."""

    id: str
    schedule: Schedule
    info: ScheduleInfo
    raw_description: Dict[str, Any]

    @staticmethod
    def _from_engine(d: Mapping[str, Any]) -> "ScheduleDescription":
        st = d.get("state") or {}
        info = d.get("info") or {}
        state = ScheduleState(note=st.get("note"), paused=bool(st.get("paused")),
                              limited_actions=bool(st.get("limited_actions")),
                              remaining_actions=int(st.get("remaining_actions") or 0))
        schedule = Schedule(action=ScheduleActionStartWorkflow._from_engine(d.get("action")),
                            spec=ScheduleSpec._from_engine(d.get("spec")),
                            policy=SchedulePolicy._from_engine(d.get("policies")), state=state)
        return ScheduleDescription(
            id=d.get("schedule_id"), schedule=schedule,  # type: ignore[arg-type]
            info=ScheduleInfo(
                num_actions=int(info.get("action_count") or 0),
                num_actions_missed_catchup_window=int(info.get("missed_catchup_window") or 0),
                num_actions_skipped_overlap=int(info.get("overlap_skipped") or 0),
                running_actions=[_execution(r) for r in info.get("running_workflows") or ()],
                recent_actions=[_action_result(r) for r in info.get("recent_actions") or ()],
                next_action_times=[_datetime(t) for t in info.get("next_action_times") or ()],  # type: ignore[misc]
                created_at=_datetime(info.get("create_time")),  # type: ignore[arg-type]
                last_updated_at=_datetime(info.get("update_time")),
                num_actions_buffered=int(info.get("buffered") or 0),
                num_action_errors=int(info.get("action_errors") or 0),
                last_action_error=info.get("last_action_error")),
            raw_description=dict(d))


@dataclass
class ScheduleUpdateInput:
    """What update()'s updater gets: the current description."""

    description: ScheduleDescription


@dataclass
class ScheduleUpdate:
    """What update()'s updater returns: the whole new schedule (search_attributes: not kept by durable)."""

    schedule: Schedule
    search_attributes: Optional[Mapping[str, Any]] = None


@dataclass
class ScheduleListActionStartWorkflow:
    """The action of a listed schedule: its workflow type."""

    workflow: str


@dataclass
class ScheduleListState:
    note: Optional[str]
    paused: bool


@dataclass
class ScheduleListSchedule:
    action: ScheduleListActionStartWorkflow
    spec: ScheduleSpec
    state: ScheduleListState


@dataclass
class ScheduleListInfo:
    recent_actions: Sequence[ScheduleActionResult]
    next_action_times: Sequence[datetime]


@dataclass
class ScheduleListDescription:
    """One schedule of list_schedules (Temporal's ScheduleListDescription; raw_entry: the table row)."""

    id: str
    schedule: ScheduleListSchedule
    info: ScheduleListInfo
    raw_entry: Dict[str, Any]

    @staticmethod
    def _from_row(r: Mapping[str, Any]) -> "ScheduleListDescription":
        nxt = r.get("next_action_time")
        return ScheduleListDescription(
            id=r["schedule_id"],
            schedule=ScheduleListSchedule(
                action=ScheduleListActionStartWorkflow(workflow=(r.get("action") or {}).get("workflow_type")),
                spec=ScheduleSpec._from_engine(r.get("spec")),
                state=ScheduleListState(note=r.get("note"), paused=bool(r.get("paused")))),
            info=ScheduleListInfo(recent_actions=[_action_result(a) for a in r.get("recent_actions") or ()],
                                  next_action_times=[nxt] if nxt is not None else []),
            raw_entry=dict(r))


# ---------------------------------------------------------------------------
# the handle and the list


def _json(v: Any) -> Optional[str]:
    return None if v is None else json.dumps(v)


class ScheduleHandle:
    """A schedule by id (Temporal's ScheduleHandle); no call is made until a method is.

    Every call takes connection=, a caller's psycopg connection, to run in
    the caller's transaction (a trigger or backfill then starts its
    workflows when that commits).  ScheduleNotFoundError (DU030) when the
    schedule does not exist.
    """

    def __init__(self, client: "Client", id: str) -> None:
        self._client = client
        self._id = id

    @property
    def id(self) -> str:
        return self._id

    @property
    def client(self) -> "Client":
        return self._client

    def __repr__(self) -> str:
        return f"ScheduleHandle(id={self._id!r})"

    async def _do(self, function: str, named: Sequence[Tuple[str, str, Any]], connection: Any = None) -> List[Any]:
        return await self._client._call(function, [("schedule_id", "::text", self._id), *named],
                                        connection=connection)

    async def describe(self, *, connection: Any = None) -> ScheduleDescription:
        """The schedule, what it did and its next times (durable.describe_schedule)."""
        rows = await self._do("describe_schedule", [], connection)
        return ScheduleDescription._from_engine(rows[0][0])

    async def pause(self, *, note: Optional[str] = None, connection: Any = None) -> None:
        """Take no action until unpause() (the note says why; the engine's default note is "paused")."""
        await self._do("pause_schedule", [("note", "::text", note)], connection)

    async def unpause(self, *, note: Optional[str] = None, connection: Any = None) -> None:
        """Take actions again, from the spec's first time after now (what passed while paused is not caught up)."""
        await self._do("unpause_schedule", [("note", "::text", note)], connection)

    async def trigger(self, *, overlap: Optional[Union[ScheduleOverlapPolicy, str]] = None,
                      connection: Any = None) -> None:
        """Take the action now, per overlap (default: the schedule's policy)."""
        await self._do("trigger_schedule", [("overlap", "::text", _overlap_to_engine(overlap))], connection)

    async def backfill(self, *backfill: ScheduleBackfill, connection: Any = None) -> None:
        """Take the actions the spec had in each backfill's range, in order (at most 1,000 times per range)."""
        if not backfill:
            raise ValueError("at least one backfill required")
        for b in backfill:
            await self._do("backfill_schedule", [
                ("start_time", "::timestamptz", _datetime_to_engine(b.start_at)),
                ("end_time", "::timestamptz", _datetime_to_engine(b.end_at)),
                ("overlap", "::text", _overlap_to_engine(b.overlap)),
            ], connection)

    async def update(self, updater: Callable[[ScheduleUpdateInput],
                                             Union[Optional[ScheduleUpdate], Awaitable[Optional[ScheduleUpdate]]]],
                     *, connection: Any = None) -> None:
        """Replace the schedule with what updater returns from the current description (None: no change).

        The updater may be a plain or an async function.  Spec, action and
        policy are replaced (durable.update_schedule: counters, running and
        buffered workflows stay; the next time is computed afresh); a
        changed paused flag or note pauses or unpauses.  Describe and update
        run in one transaction.  The limited actions cannot be changed by an
        update (ValueError), nor a schedule's search attributes.
        """
        if connection is not None:
            return await self._update(updater, connection)
        async with self._client.connection() as conn:
            async with conn.transaction():
                await self._update(updater, conn)

    async def _update(self, updater: Callable[..., Any], conn: Any) -> None:
        desc = await self.describe(connection=conn)
        old = dataclasses.replace(desc.schedule.state)  # the updater may change the description in place
        res = updater(ScheduleUpdateInput(description=desc))
        if inspect.isawaitable(res):
            res = await res
        if res is None:
            return
        if res.search_attributes:
            raise ValueError("durable keeps no search attributes on a schedule itself")
        new = res.schedule
        st = new.state or ScheduleState()
        if bool(st.limited_actions) != old.limited_actions or \
                (st.limited_actions and int(st.remaining_actions) != old.remaining_actions):
            raise ValueError("durable cannot change a schedule's limited actions by an update: "
                             "delete and create it again")
        await self._do("update_schedule", [
            ("spec", "::jsonb", json.dumps(new.spec._to_engine())),
            ("action", "::jsonb", json.dumps(new.action._to_engine())),
            ("policies", "::jsonb", json.dumps((new.policy or SchedulePolicy())._to_engine())),
        ], conn)
        if bool(st.paused) != old.paused or (st.note is not None and st.note != old.note):
            await self._do("pause_schedule" if st.paused else "unpause_schedule", [("note", "::text", st.note)], conn)

    async def delete(self, *, connection: Any = None) -> None:
        """Delete the schedule and its timer; the workflows it started go on."""
        await self._do("delete_schedule", [], connection)


class ScheduleAsyncIterator:
    """The schedules of the client's namespace by id, read page by page from durable.schedules
    (row-level security applies), as Temporal's ScheduleAsyncIterator."""

    def __init__(self, client: "Client", page_size: int = 1000) -> None:
        self._client = client
        self._page_size = max(1, int(page_size))
        self._page: List[ScheduleListDescription] = []
        self._after: Optional[str] = ""
        self._done = False

    def __aiter__(self) -> "ScheduleAsyncIterator":
        return self

    async def __anext__(self) -> ScheduleListDescription:
        while not self._page:
            if self._done:
                raise StopAsyncIteration
            await self.fetch_next_page()
        return self._page.pop(0)

    async def fetch_next_page(self) -> None:
        rows = await self._client._fetch(
            "SELECT schedule_id, spec, action, paused, note, next_action_time, recent_actions"
            " FROM durable.schedules WHERE namespace = %s AND schedule_id > %s ORDER BY schedule_id LIMIT %s",
            [self._client.namespace, self._after, self._page_size], rows="dict")
        self._page.extend(ScheduleListDescription._from_row(r) for r in rows)
        if len(rows) < self._page_size:
            self._done = True
        if rows:
            self._after = rows[-1]["schedule_id"]

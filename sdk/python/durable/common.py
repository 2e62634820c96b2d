"""Values shared by the client, workflows and activities.

RetryPolicy (Temporal Python's temporalio.common.RetryPolicy) with the JSON
form the engine reads and writes, duration helpers, and the enums whose
values are the strings the SQL API takes and durable.workflows stores
(docs/sql-api.md, src/sql/tables.sql).

Durations: the engine reads a number in JSON as seconds and writes
protobuf-style strings ("1s", "0.250s"); Python code passes timedeltas
(or numbers of seconds).  to_seconds / to_timedelta read all of these.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any, Mapping, Optional, Sequence, Union

__all__ = [
    "Duration",
    "Priority",
    "RetryPolicy",
    "WorkflowExecutionStatus",
    "WorkflowIDConflictPolicy",
    "WorkflowIDReusePolicy",
    "to_interval",
    "to_seconds",
    "to_timedelta",
]

Duration = Union[timedelta, int, float, str]

_UNIT_SECONDS = {
    "us": 1e-6, "usec": 1e-6, "usecs": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ms": 1e-3, "msec": 1e-3, "msecs": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}

_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")
_HMS = re.compile(r"^\s*(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?\s*$")


def _parse_duration_text(text: str) -> float:
    """Seconds of "1.5s", "0.250s", "500ms", "2m", "1h", "1d", "1 day 2 hours", "00:01:30" or "90"."""
    s = text.strip()
    if not s:
        raise ValueError("invalid duration: empty string")
    m = _HMS.match(s)
    if m:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + (float(m.group(3)) if m.group(3) else 0.0)
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.end() == pos:
            raise ValueError(f"invalid duration: {text!r}")
        unit = m.group(2).lower()
        if unit == "":
            factor = 1.0  # a bare number is seconds, as the engine reads it
        elif unit in _UNIT_SECONDS:
            factor = _UNIT_SECONDS[unit]
        else:
            raise ValueError(f"invalid duration unit {m.group(2)!r} in {text!r}")
        total += float(m.group(1)) * factor
        pos = m.end()
    return total


def to_seconds(d: Optional[Duration]) -> Optional[float]:
    """Seconds (a float) of a timedelta, a number of seconds, or duration text; None stays None.

    Text may be protobuf-style ("1.5s", "0.250s", as the engine writes
    durations in events), or "500ms", "2m", "1h", "1d", "1 day 2 hours",
    "00:01:30"; a bare number is seconds.  Negative or non-finite values
    raise ValueError.
    """
    if d is None:
        return None
    if isinstance(d, timedelta):
        secs = d.total_seconds()
    elif isinstance(d, bool):
        raise TypeError(f"a duration must be a timedelta, a number of seconds or text, not {d!r}")
    elif isinstance(d, (int, float)):
        secs = float(d)
    elif isinstance(d, str):
        secs = _parse_duration_text(d)
    else:
        raise TypeError(f"a duration must be a timedelta, a number of seconds or text, not {type(d).__name__}")
    if not math.isfinite(secs) or secs < 0:
        raise ValueError(f"invalid duration: {d!r} (must be finite and not negative)")
    return secs


def to_timedelta(d: Optional[Duration]) -> Optional[timedelta]:
    """A timedelta of the same inputs as to_seconds; None stays None."""
    if isinstance(d, timedelta):
        return d
    secs = to_seconds(d)
    return None if secs is None else timedelta(seconds=secs)


def to_interval(d: Optional[Duration]) -> Optional[str]:
    """PostgreSQL interval text for a duration ("1.5s"), as the TypeScript SDK sends it; None stays None."""
    secs = to_seconds(d)
    if secs is None:
        return None
    micros = round(secs * 1_000_000)
    if micros % 1_000_000 == 0:
        return f"{micros // 1_000_000}s"
    return f"{micros / 1_000_000:.6f}".rstrip("0") + "s"


@dataclass
class RetryPolicy:
    """How an activity or a workflow is retried (Temporal's RetryPolicy).

    maximum_attempts 0 means unlimited; non_retryable_error_types are
    matched against a failure's type.
    """

    initial_interval: timedelta = timedelta(seconds=1)
    backoff_coefficient: float = 2.0
    maximum_interval: Optional[timedelta] = None
    maximum_attempts: int = 0
    non_retryable_error_types: Optional[Sequence[str]] = None

    def to_json(self) -> dict:
        """The engine's JSON form: intervals in seconds (numbers), optional fields left out when unset."""
        out: dict = {
            "initial_interval": to_seconds(self.initial_interval),
            "backoff_coefficient": float(self.backoff_coefficient),
        }
        if self.maximum_interval is not None:
            out["maximum_interval"] = to_seconds(self.maximum_interval)
        out["maximum_attempts"] = int(self.maximum_attempts)
        if self.non_retryable_error_types is not None:
            out["non_retryable_error_types"] = list(self.non_retryable_error_types)
        return out

    @staticmethod
    def from_json(d: Optional[Mapping[str, Any]]) -> Optional["RetryPolicy"]:
        """A RetryPolicy from the engine's JSON (durations as "1s" strings or numbers); None for None."""
        if d is None:
            return None
        p = RetryPolicy()
        if d.get("initial_interval") is not None:
            p.initial_interval = to_timedelta(d["initial_interval"])  # type: ignore[assignment]
        if d.get("backoff_coefficient") is not None:
            p.backoff_coefficient = float(d["backoff_coefficient"])
        if d.get("maximum_interval") is not None:
            p.maximum_interval = to_timedelta(d["maximum_interval"])
        if d.get("maximum_attempts") is not None:
            p.maximum_attempts = int(d["maximum_attempts"])
        if d.get("non_retryable_error_types") is not None:
            p.non_retryable_error_types = list(d["non_retryable_error_types"])
        return p


@dataclass
class Priority:
    """How a run's tasks are ordered on their queue (Temporal's Priority; docs/task-queues.md).

    priority_key: 1 (served first) to 5, None for the default (3);
    fairness_key / fairness_weight: within a priority, keys with ready tasks
    share dispatch in proportion to their weights (0.001 to 1000, default 1).
    Activities and children inherit what they do not set.
    """

    priority_key: Optional[int] = None
    fairness_key: Optional[str] = None
    fairness_weight: Optional[float] = None


class _StrEnum(str, Enum):
    def __str__(self) -> str:
        return self.value


class WorkflowIDReusePolicy(_StrEnum):
    """Whether a closed workflow id may be started again (start_workflow's id_reuse_policy).

    Temporal's TERMINATE_IF_RUNNING is not a reuse policy in durable: use
    WorkflowIDConflictPolicy.TERMINATE_EXISTING.
    """

    ALLOW_DUPLICATE = "allow_duplicate"
    ALLOW_DUPLICATE_FAILED_ONLY = "allow_duplicate_failed_only"
    REJECT_DUPLICATE = "reject_duplicate"


class WorkflowIDConflictPolicy(_StrEnum):
    """What a start does when the workflow id is running (start_workflow's id_conflict_policy)."""

    FAIL = "fail"
    USE_EXISTING = "use_existing"
    TERMINATE_EXISTING = "terminate_existing"


class WorkflowExecutionStatus(_StrEnum):
    """A run's status, as durable.workflows.status stores it."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    TERMINATED = "terminated"
    CONTINUED_AS_NEW = "continued_as_new"
    TIMED_OUT = "timed_out"


def enum_value(value: Any, enum_cls: type, what: str) -> Optional[str]:
    """The engine's string for an enum member or a name/value string (any case); None stays None."""
    if value is None:
        return None
    if isinstance(value, enum_cls):
        return value.value
    if isinstance(value, str):
        for member in enum_cls:  # type: ignore[attr-defined]
            if value.lower() == member.value or value.upper() == member.name:
                return member.value
    allowed = ", ".join(m.name for m in enum_cls)  # type: ignore[attr-defined]
    raise ValueError(f"{what} {value!r} is not one of {allowed}")

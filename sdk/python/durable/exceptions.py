"""Failures and errors: Temporal Python's temporalio.exceptions, and durable's engine errors.

Failures (FailureError and its subclasses) cross the boundary between
workflow code, activities, the engine and clients as the engine's failure
JSON (docs/protocol.md, "Failures"):

    {"message", "type", "non_retryable", "details", "stack_trace", "cause",
     "timeout_type", "next_retry_delay"}

error_to_failure / failure_to_error write and read exactly what the
TypeScript SDK's encodeFailure / decodeFailure do
(sdk/typescript/src/common/failure.ts), so a failure written by a Python
worker reads the same in a TypeScript one and back.

Engine errors (DurableError and its subclasses) are what a SQL call raised,
typed by SQLSTATE (docs/sql-api.md, "Error codes"); map_error turns a
psycopg error into one.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from datetime import timedelta
from enum import Enum
from typing import Any, Dict, Optional, Sequence

from .common import to_interval, to_timedelta

__all__ = [
    "ActivityError",
    "ActivityNotFoundError",
    "ApplicationError",
    "CancelledError",
    "ChildWorkflowError",
    "DurableError",
    "FailureError",
    "IdInUseError",
    "InvalidCommandError",
    "NamespaceNotFoundError",
    "PermissionDeniedError",
    "RetryState",
    "ScheduleAlreadyRunningError",
    "ScheduleNotFoundError",
    "ScheduleSpecError",
    "ScheduleTimeZoneError",
    "StaleTaskTokenError",
    "TerminatedError",
    "TimeoutError",
    "TimeoutType",
    "WorkflowAlreadyStartedError",
    "WorkflowContinuedAsNewError",
    "WorkflowFailureError",
    "WorkflowNotFoundError",
    "WorkflowNotRunningError",
    "WorkflowQueryFailedError",
    "WorkflowQueryTimeoutError",
    "WorkflowStillRunningError",
    "error_to_failure",
    "failure_to_error",
    "map_error",
]

_MAX_CAUSE_DEPTH = 8


class RetryState(str, Enum):
    """Why an activity or workflow stopped being retried: retry_state of the engine's close events."""

    IN_PROGRESS = "IN_PROGRESS"
    NON_RETRYABLE_FAILURE = "NON_RETRYABLE_FAILURE"
    TIMEOUT = "TIMEOUT"
    MAXIMUM_ATTEMPTS_REACHED = "MAXIMUM_ATTEMPTS_REACHED"
    RETRY_POLICY_NOT_SET = "RETRY_POLICY_NOT_SET"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"

    @classmethod
    def decode(cls, value: Any) -> Optional["RetryState"]:
        """The RetryState of "TIMEOUT" or the proto name "RETRY_STATE_TIMEOUT"; None for anything else."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            return None
        name = value[len("RETRY_STATE_"):] if value.startswith("RETRY_STATE_") else value
        return cls.__members__.get(name)


class TimeoutType(str, Enum):
    """Which timeout fired: timeout_type of the engine's timeout failures.

    RUN and EXECUTION are the workflow timeouts the engine writes (Temporal
    has no TimeoutType for them).
    """

    START_TO_CLOSE = "START_TO_CLOSE"
    SCHEDULE_TO_START = "SCHEDULE_TO_START"
    SCHEDULE_TO_CLOSE = "SCHEDULE_TO_CLOSE"
    HEARTBEAT = "HEARTBEAT"
    RUN = "RUN"
    EXECUTION = "EXECUTION"

    @classmethod
    def decode(cls, value: Any) -> Optional["TimeoutType"]:
        """The TimeoutType of "HEARTBEAT" or "TIMEOUT_TYPE_HEARTBEAT"; None for anything else."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            return None
        name = value[len("TIMEOUT_TYPE_"):] if value.startswith("TIMEOUT_TYPE_") else value
        return cls.__members__.get(name)


# ---------------------------------------------------------------------------
# Failures


class FailureError(Exception):
    """Base of every failure durable carries (Temporal's FailureError).

    .failure is the failure JSON the error was decoded from (None when the
    error was raised in this process); .cause is __cause__.
    """

    def __init__(self, message: str = "", *, failure: Optional[dict] = None) -> None:
        super().__init__(message)
        self._message = message
        self._failure = failure

    @property
    def message(self) -> str:
        return self._message

    @property
    def failure(self) -> Optional[dict]:
        return self._failure

    @property
    def cause(self) -> Optional[BaseException]:
        return self.__cause__


class ApplicationError(FailureError):
    """An error with a type name and a retryable flag, raised by activities or workflows.

    type is matched against a retry policy's non_retryable_error_types;
    non_retryable stops retries outright; next_retry_delay replaces the
    retry policy's backoff for the next attempt.
    """

    def __init__(
        self,
        message: str,
        *details: Any,
        type: Optional[str] = None,
        non_retryable: bool = False,
        next_retry_delay: Optional[timedelta] = None,
    ) -> None:
        super().__init__(message)
        self._details = tuple(details)
        self._type = type
        self._non_retryable = bool(non_retryable)
        self._next_retry_delay = next_retry_delay

    @property
    def details(self) -> Sequence[Any]:
        return self._details

    @property
    def type(self) -> Optional[str]:
        return self._type

    @property
    def non_retryable(self) -> bool:
        return self._non_retryable

    @property
    def next_retry_delay(self) -> Optional[timedelta]:
        return self._next_retry_delay


class CancelledError(FailureError):
    """A cancellation: of an activity, a timer, a child or the workflow."""

    def __init__(self, message: str = "cancelled", *details: Any) -> None:
        super().__init__(message)
        self._details = tuple(details)

    @property
    def details(self) -> Sequence[Any]:
        return self._details


class TerminatedError(FailureError):
    """The workflow was terminated."""

    def __init__(self, message: str = "terminated", *details: Any) -> None:
        super().__init__(message)
        self._details = tuple(details)

    @property
    def details(self) -> Sequence[Any]:
        return self._details


class TimeoutError(FailureError):  # noqa: A001 - Temporal's name
    """A timeout of an activity (type: START_TO_CLOSE, ...) or a workflow (RUN, EXECUTION)."""

    def __init__(
        self,
        message: str = "timeout",
        *,
        type: Optional[TimeoutType] = None,
        last_heartbeat_details: Sequence[Any] = (),
    ) -> None:
        super().__init__(message)
        self._type = type
        self._last_heartbeat_details = tuple(last_heartbeat_details)

    @property
    def type(self) -> Optional[TimeoutType]:
        return self._type

    @property
    def last_heartbeat_details(self) -> Sequence[Any]:
        return self._last_heartbeat_details


class ActivityError(FailureError):
    """An activity failed; cause says why (ApplicationError, TimeoutError or CancelledError)."""

    def __init__(
        self,
        message: str = "activity error",
        *,
        activity_type: str = "",
        activity_id: str = "",
        retry_state: Optional[RetryState] = None,
        identity: Optional[str] = None,
        scheduled_event_id: Optional[int] = None,
        started_event_id: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self._activity_type = activity_type
        self._activity_id = activity_id
        self._retry_state = retry_state
        self._identity = identity
        self._scheduled_event_id = scheduled_event_id
        self._started_event_id = started_event_id

    @property
    def activity_type(self) -> str:
        return self._activity_type

    @property
    def activity_id(self) -> str:
        return self._activity_id

    @property
    def retry_state(self) -> Optional[RetryState]:
        return self._retry_state

    @property
    def identity(self) -> Optional[str]:
        return self._identity

    @property
    def scheduled_event_id(self) -> Optional[int]:
        return self._scheduled_event_id

    @property
    def started_event_id(self) -> Optional[int]:
        return self._started_event_id


class ChildWorkflowError(FailureError):
    """A child workflow did not complete; cause says how it closed."""

    def __init__(
        self,
        message: str = "Child Workflow execution failed",
        *,
        namespace: Optional[str] = None,
        workflow_id: str = "",
        run_id: Optional[str] = None,
        workflow_type: str = "",
        retry_state: Optional[RetryState] = None,
        initiated_event_id: Optional[int] = None,
        started_event_id: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self._namespace = namespace
        self._workflow_id = workflow_id
        self._run_id = run_id
        self._workflow_type = workflow_type
        self._retry_state = retry_state
        self._initiated_event_id = initiated_event_id
        self._started_event_id = started_event_id

    @property
    def namespace(self) -> Optional[str]:
        return self._namespace

    @property
    def workflow_id(self) -> str:
        return self._workflow_id

    @property
    def run_id(self) -> Optional[str]:
        return self._run_id

    @property
    def workflow_type(self) -> str:
        return self._workflow_type

    @property
    def retry_state(self) -> Optional[RetryState]:
        return self._retry_state

    @property
    def initiated_event_id(self) -> Optional[int]:
        return self._initiated_event_id

    @property
    def started_event_id(self) -> Optional[int]:
        return self._started_event_id


def _json_value(v: Any) -> Any:
    """v as plain JSON (through the payload converter); its str() when it cannot be."""
    from .converter import encode

    try:
        return json.loads(json.dumps(encode(v)))
    except (TypeError, ValueError):
        return str(v)


def _enum_str(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def error_to_failure(exc: BaseException, _depth: int = 0) -> dict:
    """An exception as the engine's failure JSON (what the TypeScript SDK's encodeFailure writes)."""
    out: Dict[str, Any]
    if isinstance(exc, ApplicationError):
        out = {"message": exc.message, "type": exc.type or "Error", "non_retryable": exc.non_retryable}
        if exc.details:
            out["details"] = _json_value(list(exc.details))
        if exc.next_retry_delay is not None:
            out["next_retry_delay"] = to_interval(exc.next_retry_delay)
    elif isinstance(exc, CancelledError):
        out = {"message": exc.message, "type": "CancelledFailure", "non_retryable": False}
        if exc.details:
            out["details"] = _json_value(list(exc.details))
    elif isinstance(exc, asyncio.CancelledError):
        out = {"message": str(exc) or "cancelled", "type": "CancelledFailure", "non_retryable": False}
    elif isinstance(exc, TerminatedError):
        out = {"message": exc.message, "type": "TerminatedFailure", "non_retryable": False}
    elif isinstance(exc, TimeoutError):
        out = {"message": exc.message, "type": "TimeoutFailure", "non_retryable": False,
               "timeout_type": _enum_str(exc.type)}
        if exc.last_heartbeat_details:
            out["details"] = _json_value(list(exc.last_heartbeat_details))
    elif isinstance(exc, ActivityError):
        out = {"message": exc.message, "type": "ActivityFailure", "non_retryable": False,
               "details": {"activity_type": exc.activity_type, "activity_id": exc.activity_id,
                           "retry_state": _enum_str(exc.retry_state), "identity": exc.identity}}
    elif isinstance(exc, ChildWorkflowError):
        out = {"message": exc.message, "type": "ChildWorkflowFailure", "non_retryable": False,
               "details": {"namespace": exc.namespace, "workflow_id": exc.workflow_id, "run_id": exc.run_id,
                           "workflow_type": exc.workflow_type, "retry_state": _enum_str(exc.retry_state)}}
    elif isinstance(exc, FailureError):
        out = {"message": exc.message, "type": type(exc).__name__, "non_retryable": False}
    else:
        out = {"message": str(exc), "type": type(exc).__name__, "non_retryable": False}
    if exc.__traceback__ is not None:
        out["stack_trace"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, chain=False))
    elif isinstance(exc, FailureError) and exc.failure and isinstance(exc.failure.get("stack_trace"), str):
        out["stack_trace"] = exc.failure["stack_trace"]
    if exc.__cause__ is not None and _depth < _MAX_CAUSE_DEPTH:
        out["cause"] = error_to_failure(exc.__cause__, _depth + 1)
    return out


def failure_to_error(f: Optional[dict]) -> FailureError:
    """The engine's failure JSON as an exception (what the TypeScript SDK's decodeFailure reads)."""
    if not f or not isinstance(f, dict):
        return ApplicationError("unknown failure", type="Error")
    raw_details = f.get("details")
    details: list
    if isinstance(raw_details, list):
        details = raw_details
    elif raw_details is None:
        details = []
    else:
        details = [raw_details]
    message = f.get("message") or ""
    ftype = f.get("type")
    err: FailureError
    if ftype in ("CancelledFailure", "CanceledFailure"):
        err = CancelledError(message or "cancelled", *details)
    elif ftype == "TerminatedFailure":
        err = TerminatedError(message or "terminated")
    elif ftype in ("TimeoutError", "TimeoutFailure"):
        err = TimeoutError(message or "timeout",
                           type=TimeoutType.decode(f.get("timeout_type")) or TimeoutType.START_TO_CLOSE,
                           last_heartbeat_details=details)
    elif ftype == "ActivityFailure":
        d = raw_details if isinstance(raw_details, dict) else {}
        err = ActivityError(message, activity_type=d.get("activity_type") or "",
                            activity_id=d.get("activity_id") or "",
                            retry_state=RetryState.decode(d.get("retry_state")), identity=d.get("identity"),
                            scheduled_event_id=d.get("scheduled_event_id"),
                            started_event_id=d.get("started_event_id"))
    elif ftype == "ChildWorkflowFailure":
        d = raw_details if isinstance(raw_details, dict) else {}
        err = ChildWorkflowError("Child Workflow execution failed", namespace=d.get("namespace"),
                                 workflow_id=d.get("workflow_id") or "", run_id=d.get("run_id"),
                                 workflow_type=d.get("workflow_type") or "",
                                 retry_state=RetryState.decode(d.get("retry_state")),
                                 initiated_event_id=d.get("initiated_event_id"),
                                 started_event_id=d.get("started_event_id"))
    else:
        delay = f.get("next_retry_delay")
        try:
            next_delay = to_timedelta(delay) if delay is not None else None
        except (TypeError, ValueError):
            next_delay = None
        err = ApplicationError(message, *details, type=ftype, non_retryable=bool(f.get("non_retryable")),
                               next_retry_delay=next_delay)
    err._failure = f
    cause = f.get("cause")
    if isinstance(cause, dict):
        err.__cause__ = failure_to_error(cause)
    return err


# ---------------------------------------------------------------------------
# Engine errors (SQLSTATEs of docs/sql-api.md)


class DurableError(Exception):
    """An error the engine raised with a SQLSTATE (.sqlstate, .detail, .hint)."""

    def __init__(self, message: str, sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


class WorkflowNotFoundError(DurableError):
    """DU001: no such workflow (or run) in the namespace."""


class WorkflowAlreadyStartedError(DurableError):
    """DU002: the id is running (conflict policy fail) or its reuse policy refuses a new start.

    Temporal's WorkflowAlreadyStartedError: .workflow_id and .workflow_type
    are set by the client call that raised it.
    """

    def __init__(self, message: str, sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None, *, workflow_id: str = "", workflow_type: str = "") -> None:
        super().__init__(message, sqlstate, detail, hint)
        self.workflow_id = workflow_id
        self.workflow_type = workflow_type


class WorkflowNotRunningError(DurableError):
    """DU003: signal, cancel, terminate or update on a closed run."""


class StaleTaskTokenError(DurableError):
    """DU004: the task timed out, was completed, or its run closed."""


class InvalidCommandError(DurableError):
    """DU005: a workflow task's commands were refused."""


class IdInUseError(DurableError):
    """DU006: an activity or timer id is pending already."""


class WorkflowStillRunningError(DurableError):
    """DU007: workflow_result's wait ended before the workflow closed."""


class ActivityNotFoundError(DurableError):
    """DU008: no such activity (the _by_id functions)."""


class NamespaceNotFoundError(DurableError):
    """DU009: the namespace does not exist (reported so only to superusers)."""


class PermissionDeniedError(DurableError):
    """42501: the role lacks the capability the call needs in the namespace."""


class WorkflowQueryFailedError(DurableError):
    """DU020: the query handler failed; .cause is its failure when the engine sent one."""

    def __init__(self, message: str, sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None) -> None:
        super().__init__(message, sqlstate, detail, hint)
        failure = _json_detail(detail)
        if failure is not None:
            self.__cause__ = failure_to_error(failure)


class WorkflowQueryTimeoutError(DurableError):
    """DU021: no worker answered the query in time."""


# schedules (docs/schedules.md, "Error codes")


class ScheduleNotFoundError(DurableError):
    """DU030: no such schedule in the namespace."""


class ScheduleAlreadyRunningError(DurableError):
    """DU031: create_schedule with an id that is taken in the namespace (Temporal's name)."""


class ScheduleSpecError(DurableError):
    """DU032: an invalid schedule spec (a bad cron string, calendar field, interval, ...; DETAIL says which)."""


class ScheduleTimeZoneError(ScheduleSpecError):
    """DU033: a spec's time_zone_name is not in PostgreSQL's time zone database."""


_STATUS_OF = {"DU010": "failed", "DU011": "canceled", "DU012": "terminated", "DU013": "timed_out"}
_CAUSE_TYPE_OF = {"DU011": "CancelledFailure", "DU012": "TerminatedFailure", "DU013": "TimeoutFailure"}


class WorkflowFailureError(DurableError):
    """DU010-DU013: the workflow failed, was canceled, terminated or timed out (Temporal's WorkflowFailureError).

    .cause is the failure as an exception (ApplicationError, CancelledError,
    TerminatedError or TimeoutError), .failure its JSON, .status the run's
    status ("failed", "canceled", "terminated", "timed_out").
    """

    def __init__(self, message: str, sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None, *, cause: Optional[BaseException] = None,
                 status: Optional[str] = None) -> None:
        super().__init__(message, sqlstate, detail, hint)
        self.status = status or _STATUS_OF.get(sqlstate or "", "failed")
        self.failure = _json_detail(detail)
        if cause is None:
            f = self.failure
            forced = _CAUSE_TYPE_OF.get(sqlstate or "")
            if forced and f is not None:
                f = dict(f, type=forced)
            cause = failure_to_error(f if f is not None else {"message": message, "type": forced or "Error"})
        self.__cause__ = cause

    @property
    def cause(self) -> Optional[BaseException]:
        return self.__cause__


class WorkflowContinuedAsNewError(DurableError):
    """handle.result(follow_runs=False) on a run that continued as new (.new_execution_run_id)."""

    def __init__(self, new_execution_run_id: Optional[str]) -> None:
        super().__init__("Workflow continued as new")
        self.new_execution_run_id = new_execution_run_id


class WorkflowUpdateFailedError(DurableError):
    """An update was rejected by its validator, or its handler raised a
    failure (Temporal's WorkflowUpdateFailedError): .cause is that failure as
    an exception (ApplicationError, CancelledError, ...)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("Workflow update failed")
        self.__cause__ = cause

    @property
    def cause(self) -> Optional[BaseException]:
        return self.__cause__


class WorkflowUpdateRPCTimeoutOrCancelledError(DurableError):
    """An update call's rpc_timeout passed before the update reached the stage
    waited for (Temporal's name). The update itself may still go on."""

    def __init__(self) -> None:
        super().__init__("Timeout or cancellation waiting for update")


def _json_detail(detail: Optional[str]) -> Optional[dict]:
    if not detail:
        return None
    try:
        v = json.loads(detail)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


_CLASSES = {
    "DU001": WorkflowNotFoundError,
    "DU002": WorkflowAlreadyStartedError,
    "DU003": WorkflowNotRunningError,
    "DU004": StaleTaskTokenError,
    "DU005": InvalidCommandError,
    "DU006": IdInUseError,
    "DU007": WorkflowStillRunningError,
    "DU008": ActivityNotFoundError,
    "DU009": NamespaceNotFoundError,
    "DU010": WorkflowFailureError,
    "DU011": WorkflowFailureError,
    "DU012": WorkflowFailureError,
    "DU013": WorkflowFailureError,
    "DU020": WorkflowQueryFailedError,
    "DU021": WorkflowQueryTimeoutError,
    "DU030": ScheduleNotFoundError,
    "DU031": ScheduleAlreadyRunningError,
    "DU032": ScheduleSpecError,
    "DU033": ScheduleTimeZoneError,
    "42501": PermissionDeniedError,
}


def map_error(e: BaseException) -> BaseException:
    """A psycopg error with a durable SQLSTATE (DUxxx, 42501) as its typed DurableError; anything else unchanged.

    The psycopg error is kept as .pg_error.
    """
    sqlstate = getattr(e, "sqlstate", None)
    if not isinstance(sqlstate, str):
        return e
    cls = _CLASSES.get(sqlstate)
    if cls is None:
        if not sqlstate.startswith("DU"):
            return e
        cls = DurableError
    diag = getattr(e, "diag", None)
    message = (getattr(diag, "message_primary", None) if diag is not None else None) or str(e)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    hint = getattr(diag, "message_hint", None) if diag is not None else None
    err = cls(message, sqlstate, detail, hint)
    err.pg_error = e  # type: ignore[attr-defined]
    return err

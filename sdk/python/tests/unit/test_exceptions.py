"""durable.exceptions: failure JSON <-> exceptions, and SQLSTATE -> typed errors.

The failure JSON must be what the TypeScript SDK writes and reads
(sdk/typescript/src/common/failure.ts encodeFailure/decodeFailure; docs/protocol.md
"Failures"); the exception classes follow Temporal Python's
(https://github.com/temporalio/sdk-python/blob/main/temporalio/exceptions.py:
ApplicationError(message, *details, type=, non_retryable=), failure_to_error,
cause = __cause__) and the client's WorkflowFailureError
(https://github.com/temporalio/sdk-python/blob/main/temporalio/client.py).
When a compiled copy of the TypeScript failure module is available, the
cross-language tests run the TypeScript SDK itself on the same failures.
"""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from datetime import timedelta
from pathlib import Path

from durable.exceptions import (
    ActivityError, ApplicationError, CancelledError, ChildWorkflowError, DurableError, FailureError,
    IdInUseError, PermissionDeniedError, RetryState, StaleTaskTokenError, TerminatedError, TimeoutError,
    TimeoutType, WorkflowAlreadyStartedError, WorkflowFailureError, WorkflowNotFoundError,
    WorkflowQueryFailedError, WorkflowQueryTimeoutError, error_to_failure, failure_to_error, map_error,
)

REPO = Path(__file__).resolve().parents[4]


def raised(exc, cause=None):
    """exc with a traceback (and __cause__), as an except clause sees it."""
    try:
        if cause is not None:
            raise exc from cause
        raise exc
    except BaseException as e:  # noqa: BLE001
        return e


class ErrorToFailureTest(unittest.TestCase):
    def test_application_error(self):
        f = error_to_failure(ApplicationError("boom", 1, {"a": 2}, type="Bad", non_retryable=True,
                                              next_retry_delay=timedelta(seconds=5)))
        self.assertEqual(f, {"message": "boom", "type": "Bad", "non_retryable": True, "details": [1, {"a": 2}],
                             "next_retry_delay": "5s"})

    def test_application_error_defaults(self):
        f = error_to_failure(ApplicationError("plain"))
        self.assertEqual(f, {"message": "plain", "type": "Error", "non_retryable": False})

    def test_other_exception_uses_class_name_and_stack(self):
        f = error_to_failure(raised(ValueError("bad value")))
        self.assertEqual(f["message"], "bad value")
        self.assertEqual(f["type"], "ValueError")
        self.assertFalse(f["non_retryable"])
        self.assertIn("ValueError: bad value", f["stack_trace"])
        self.assertIn("Traceback", f["stack_trace"])

    def test_cancelled(self):
        self.assertEqual(error_to_failure(CancelledError("stop", "why")),
                         {"message": "stop", "type": "CancelledFailure", "non_retryable": False, "details": ["why"]})
        self.assertEqual(error_to_failure(asyncio.CancelledError())["type"], "CancelledFailure")

    def test_timeout(self):
        f = error_to_failure(TimeoutError("late", type=TimeoutType.HEARTBEAT, last_heartbeat_details=[7]))
        self.assertEqual(f, {"message": "late", "type": "TimeoutFailure", "non_retryable": False,
                             "timeout_type": "HEARTBEAT", "details": [7]})

    def test_activity_error_with_cause(self):
        e = raised(ActivityError("Activity task failed", activity_type="charge", activity_id="1",
                                 retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED, identity="w1"),
                   cause=ApplicationError("card declined", type="Declined"))
        f = error_to_failure(e)
        self.assertEqual(f["type"], "ActivityFailure")
        self.assertEqual(f["details"], {"activity_type": "charge", "activity_id": "1",
                                        "retry_state": "MAXIMUM_ATTEMPTS_REACHED", "identity": "w1"})
        self.assertEqual(f["cause"]["type"], "Declined")
        self.assertEqual(f["cause"]["message"], "card declined")

    def test_cause_depth_is_bounded(self):
        e = ApplicationError("0")
        top = e
        for i in range(1, 20):
            nxt = ApplicationError(str(i))
            e.__cause__ = nxt
            e = nxt
        f = error_to_failure(top)
        depth = 0
        while "cause" in f:
            f = f["cause"]
            depth += 1
        self.assertEqual(depth, 8)

    def test_details_are_json(self):
        from dataclasses import dataclass

        @dataclass
        class D:
            x: int

        f = error_to_failure(ApplicationError("m", D(1), (2, 3)))
        self.assertEqual(f["details"], [{"x": 1}, [2, 3]])
        json.dumps(f)


class FailureToErrorTest(unittest.TestCase):
    def test_application(self):
        f = {"message": "boom", "type": "Bad", "non_retryable": True, "details": [1, 2], "next_retry_delay": "1.500s"}
        e = failure_to_error(f)
        self.assertIsInstance(e, ApplicationError)
        self.assertEqual((e.message, e.type, e.non_retryable, tuple(e.details)), ("boom", "Bad", True, (1, 2)))
        self.assertEqual(e.next_retry_delay, timedelta(seconds=1.5))
        self.assertIs(e.failure, f)
        self.assertEqual(str(e), "boom")

    def test_scalar_details_become_a_list(self):
        self.assertEqual(tuple(failure_to_error({"message": "m", "details": "x"}).details), ("x",))

    def test_engine_types(self):
        self.assertIsInstance(failure_to_error({"message": "c", "type": "CanceledFailure"}), CancelledError)
        self.assertIsInstance(failure_to_error({"message": "c", "type": "CancelledFailure"}), CancelledError)
        self.assertIsInstance(failure_to_error({"message": "t", "type": "TerminatedFailure"}), TerminatedError)
        t = failure_to_error({"message": "activity timed out", "type": "TimeoutError", "timeout_type": "START_TO_CLOSE"})
        self.assertIsInstance(t, TimeoutError)
        self.assertEqual(t.type, TimeoutType.START_TO_CLOSE)
        w = failure_to_error({"message": "workflow timed out", "type": "TimeoutError", "timeout_type": "RUN"})
        self.assertEqual(w.type, TimeoutType.RUN)

    def test_activity_failure_with_cause(self):
        f = {"message": "activity failed", "type": "ActivityFailure",
             "details": {"activity_type": "charge", "activity_id": "3", "retry_state": "RETRY_STATE_TIMEOUT",
                         "identity": "w@h"},
             "cause": {"message": "late", "type": "TimeoutFailure", "timeout_type": "HEARTBEAT"}}
        e = failure_to_error(f)
        self.assertIsInstance(e, ActivityError)
        self.assertEqual((e.activity_type, e.activity_id, e.retry_state, e.identity),
                         ("charge", "3", RetryState.TIMEOUT, "w@h"))
        self.assertIsInstance(e.cause, TimeoutError)
        self.assertIs(e.cause, e.__cause__)
        self.assertEqual(e.cause.type, TimeoutType.HEARTBEAT)

    def test_child_workflow_failure(self):
        e = failure_to_error({"message": "x", "type": "ChildWorkflowFailure",
                              "details": {"namespace": "default", "workflow_id": "c1", "run_id": "r",
                                          "workflow_type": "Child", "retry_state": "NON_RETRYABLE_FAILURE"},
                              "cause": {"message": "bad", "type": "Oops"}})
        self.assertIsInstance(e, ChildWorkflowError)
        self.assertEqual((e.workflow_id, e.run_id, e.workflow_type, e.retry_state),
                         ("c1", "r", "Child", RetryState.NON_RETRYABLE_FAILURE))
        self.assertEqual(e.cause.type, "Oops")

    def test_empty(self):
        e = failure_to_error(None)
        self.assertIsInstance(e, ApplicationError)
        self.assertIsInstance(e, FailureError)

    def test_round_trip(self):
        e = raised(ApplicationError("outer", "d", type="Outer"), cause=raised(KeyError("k")))
        back = failure_to_error(error_to_failure(e))
        self.assertEqual((back.message, back.type, tuple(back.details)), ("outer", "Outer", ("d",)))
        self.assertIsInstance(back.cause, ApplicationError)
        self.assertEqual(back.cause.type, "KeyError")


class FakePgError(Exception):
    """The attributes map_error reads from a psycopg.Error (sqlstate, diag)."""

    class Diag:
        def __init__(self, primary, detail, hint):
            self.message_primary, self.message_detail, self.message_hint = primary, detail, hint

    def __init__(self, sqlstate, message, detail=None, hint=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.diag = self.Diag(message, detail, hint)


class MapErrorTest(unittest.TestCase):
    def test_by_sqlstate(self):
        cases = {"DU001": WorkflowNotFoundError, "DU002": WorkflowAlreadyStartedError, "DU004": StaleTaskTokenError,
                 "DU006": IdInUseError, "DU021": WorkflowQueryTimeoutError, "42501": PermissionDeniedError}
        for code, cls in cases.items():
            e = map_error(FakePgError(code, "msg", "the detail", "the hint"))
            self.assertIsInstance(e, cls, code)
            self.assertEqual((e.sqlstate, e.message, e.detail, e.hint), (code, "msg", "the detail", "the hint"))

    def test_unknown_du_code_is_durable_error(self):
        e = map_error(FakePgError("DU099", "new"))
        self.assertIs(type(e), DurableError)

    def test_other_errors_unchanged(self):
        e = FakePgError("22023", "bad")
        self.assertIs(map_error(e), e)
        v = ValueError("x")
        self.assertIs(map_error(v), v)

    def test_workflow_failure(self):
        detail = json.dumps({"message": "boom", "type": "Bad", "non_retryable": True, "details": [1]})
        e = map_error(FakePgError("DU010", 'workflow "w" failed: boom', detail))
        self.assertIsInstance(e, WorkflowFailureError)
        self.assertEqual(e.status, "failed")
        self.assertIsInstance(e.cause, ApplicationError)
        self.assertEqual((e.cause.message, e.cause.type, tuple(e.cause.details)), ("boom", "Bad", (1,)))

    def test_workflow_canceled_terminated_timed_out(self):
        c = map_error(FakePgError("DU011", "canceled", json.dumps({"message": "", "type": "CanceledFailure"})))
        self.assertIsInstance(c.cause, CancelledError)
        self.assertEqual(c.status, "canceled")
        t = map_error(FakePgError("DU012", "terminated", json.dumps({"message": "bye", "type": "TerminatedFailure"})))
        self.assertIsInstance(t.cause, TerminatedError)
        self.assertEqual(t.cause.message, "bye")
        o = map_error(FakePgError("DU013", "timed out",
                                  json.dumps({"message": "workflow timed out", "type": "TimeoutError",
                                              "timeout_type": "EXECUTION"})))
        self.assertIsInstance(o.cause, TimeoutError)
        self.assertEqual(o.cause.type, TimeoutType.EXECUTION)
        self.assertEqual(o.status, "timed_out")
        # no DETAIL: the cause still says why
        n = map_error(FakePgError("DU012", 'workflow "w" terminated'))
        self.assertIsInstance(n.cause, TerminatedError)

    def test_query_failed_has_cause(self):
        e = map_error(FakePgError("DU020", "query failed", json.dumps({"message": "no", "type": "Nope"})))
        self.assertIsInstance(e, WorkflowQueryFailedError)
        self.assertEqual(e.__cause__.type, "Nope")


def _ts_failure_module():
    """A directory holding the TypeScript SDK's compiled common/failure.js, or None."""
    given = os.environ.get("DURABLE_TS_COMMON")
    if given and (Path(given) / "failure.js").exists():
        return Path(given)
    dist = REPO / "sdk" / "typescript" / "dist" / "src" / "common"
    if (dist / "failure.js").exists():
        return dist
    tsc = REPO / "sdk" / "typescript" / "node_modules" / ".bin" / "tsc"
    if tsc.exists() and shutil.which("node"):
        out = Path(tempfile.mkdtemp(prefix="durable-ts-failure-"))
        r = subprocess.run([str(tsc), "--outDir", str(out), "--module", "commonjs", "--target", "ES2022",
                            "--skipLibCheck", str(REPO / "sdk" / "typescript" / "src" / "common" / "failure.ts")],
                           capture_output=True, text=True)
        if r.returncode == 0 and (out / "failure.js").exists():
            return out
    return None


_NODE_SCRIPT = r"""
const f = require(process.argv[1] + '/failure.js');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.map((j) => {
  const e = f.decodeFailure(j);
  const back = f.encodeFailure(e);
  delete back.stack_trace;
  return { name: e.name, back };
});
process.stdout.write(JSON.stringify(out));
"""


@unittest.skipIf(shutil.which("node") is None, "node is not installed")
class TypeScriptInteropTest(unittest.TestCase):
    """Python-written failures read the same in the TypeScript SDK, and TypeScript's re-encoding reads back the same."""

    @classmethod
    def setUpClass(cls):
        cls.ts = _ts_failure_module()
        if cls.ts is None:
            raise unittest.SkipTest("no compiled TypeScript failure module (npm ci in sdk/typescript, or DURABLE_TS_COMMON)")

    def test_both_ways(self):
        errors = [
            ApplicationError("boom", 1, "two", type="Bad", non_retryable=True, next_retry_delay=timedelta(seconds=2.5)),
            ApplicationError("plain"),
            raised(ValueError("v")),
            CancelledError("stop", "d"),
            TimeoutError("late", type=TimeoutType.SCHEDULE_TO_CLOSE),
            raised(ActivityError("activity failed", activity_type="t", activity_id="1",
                                 retry_state=RetryState.NON_RETRYABLE_FAILURE, identity="w"),
                   cause=ApplicationError("inner", type="Inner")),
            ChildWorkflowError(namespace="default", workflow_id="c", run_id="r", workflow_type="C",
                               retry_state=RetryState.TIMEOUT),
        ]
        failures = [error_to_failure(e) for e in errors]
        for f in failures:
            f.pop("stack_trace", None)
            if "cause" in f:
                f["cause"].pop("stack_trace", None)
        r = subprocess.run(["node", "-e", _NODE_SCRIPT, str(self.ts)], input=json.dumps(failures),
                           capture_output=True, text=True, check=True)
        out = json.loads(r.stdout)
        names = [o["name"] for o in out]
        self.assertEqual(names, ["ApplicationFailure", "ApplicationFailure", "ApplicationFailure", "CancelledFailure",
                                 "TimeoutFailure", "ActivityFailure", "ChildWorkflowFailure"])
        for f, o in zip(failures, out):
            back = o["back"]
            if "cause" in back:
                back["cause"].pop("stack_trace", None)
            # TypeScript re-encodes what Python wrote to the same JSON (TimeoutFailure keeps no details)
            self.assertEqual(back, f, o["name"])
            # and Python reads TypeScript's JSON as the error it started from
            again = failure_to_error(back)
            first = failure_to_error(f)
            self.assertIs(type(again), type(first))
            self.assertEqual(error_to_failure(again).get("type"), f["type"])


if __name__ == "__main__":
    unittest.main()

"""durable.common: durations, RetryPolicy's JSON, and the enums' engine strings.

Semantics asserted: Temporal Python's RetryPolicy defaults
(https://github.com/temporalio/sdk-python/blob/main/temporalio/common.py, class RetryPolicy);
the engine's duration forms (docs/protocol.md "Durations") and enum values
(docs/sql-api.md start_workflow; src/sql/tables.sql durable.workflows.status).
"""

import re
import unittest
from datetime import timedelta
from pathlib import Path

from durable.common import (
    RetryPolicy, WorkflowExecutionStatus, WorkflowIDConflictPolicy, WorkflowIDReusePolicy, enum_value,
    to_interval, to_seconds, to_timedelta,
)

REPO = Path(__file__).resolve().parents[4]


class DurationTest(unittest.TestCase):
    def test_to_seconds_accepts_every_form(self):
        self.assertIsNone(to_seconds(None))
        self.assertEqual(to_seconds(timedelta(milliseconds=1500)), 1.5)
        self.assertEqual(to_seconds(3), 3.0)
        self.assertEqual(to_seconds(0.25), 0.25)
        # protobuf-style strings, as the engine writes them in events
        self.assertEqual(to_seconds("1s"), 1.0)
        self.assertEqual(to_seconds("0.250s"), 0.25)
        self.assertEqual(to_seconds("1.5s"), 1.5)
        self.assertEqual(to_seconds("500ms"), 0.5)
        self.assertEqual(to_seconds("2m"), 120.0)
        self.assertEqual(to_seconds("1h"), 3600.0)
        self.assertEqual(to_seconds("1d"), 86400.0)
        self.assertEqual(to_seconds("30 seconds"), 30.0)
        self.assertEqual(to_seconds("1 day 2 hours"), 93600.0)
        self.assertEqual(to_seconds("00:01:30"), 90.0)
        self.assertEqual(to_seconds("90"), 90.0)

    def test_to_seconds_refuses_bad_input(self):
        for bad in ("", "soon", "5 fortnights", "-1s"):
            with self.assertRaises(ValueError, msg=bad):
                to_seconds(bad)
        with self.assertRaises(ValueError):
            to_seconds(-1)
        with self.assertRaises(ValueError):
            to_seconds(float("nan"))
        with self.assertRaises(TypeError):
            to_seconds(True)
        with self.assertRaises(TypeError):
            to_seconds([1])

    def test_to_timedelta(self):
        self.assertIsNone(to_timedelta(None))
        self.assertEqual(to_timedelta("0.250s"), timedelta(milliseconds=250))
        self.assertEqual(to_timedelta(2), timedelta(seconds=2))
        td = timedelta(minutes=3)
        self.assertIs(to_timedelta(td), td)

    def test_to_interval_matches_the_typescript_sdk(self):
        # sdk/typescript/src/common/duration.ts toInterval: `${ms / 1000}s`
        self.assertIsNone(to_interval(None))
        self.assertEqual(to_interval(timedelta(seconds=30)), "30s")
        self.assertEqual(to_interval(1.5), "1.5s")
        self.assertEqual(to_interval(timedelta(milliseconds=250)), "0.25s")
        self.assertEqual(to_interval(timedelta(days=30)), "2592000s")


class RetryPolicyTest(unittest.TestCase):
    def test_defaults_are_temporals(self):
        p = RetryPolicy()
        self.assertEqual(p.initial_interval, timedelta(seconds=1))
        self.assertEqual(p.backoff_coefficient, 2.0)
        self.assertIsNone(p.maximum_interval)
        self.assertEqual(p.maximum_attempts, 0)
        self.assertIsNone(p.non_retryable_error_types)

    def test_to_json_omits_unset_fields(self):
        self.assertEqual(RetryPolicy().to_json(),
                         {"initial_interval": 1.0, "backoff_coefficient": 2.0, "maximum_attempts": 0})
        p = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.5,
                        maximum_interval=timedelta(seconds=10), maximum_attempts=3,
                        non_retryable_error_types=("Fatal",))
        self.assertEqual(p.to_json(), {"initial_interval": 0.1, "backoff_coefficient": 1.5, "maximum_interval": 10.0,
                                       "maximum_attempts": 3, "non_retryable_error_types": ["Fatal"]})

    def test_from_json_reads_engine_strings(self):
        self.assertIsNone(RetryPolicy.from_json(None))
        p = RetryPolicy.from_json({"initial_interval": "0.250s", "backoff_coefficient": 3, "maximum_interval": "60s",
                                   "maximum_attempts": 5, "non_retryable_error_types": ["A", "B"]})
        self.assertEqual(p, RetryPolicy(initial_interval=timedelta(milliseconds=250), backoff_coefficient=3.0,
                                        maximum_interval=timedelta(seconds=60), maximum_attempts=5,
                                        non_retryable_error_types=["A", "B"]))
        self.assertEqual(RetryPolicy.from_json({}), RetryPolicy())

    def test_round_trip(self):
        p = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1),
                        maximum_attempts=4, non_retryable_error_types=["X"])
        self.assertEqual(RetryPolicy.from_json(p.to_json()), p)


class EnumTest(unittest.TestCase):
    def test_values_are_the_sql_apis(self):
        # the policies start_workflow accepts (src/api.c reuse_choices / conflict_choices)
        api = (REPO / "src" / "api.c").read_text()
        for v in WorkflowIDReusePolicy:
            self.assertIn(f'"{v.value}"', api)
        for v in WorkflowIDConflictPolicy:
            self.assertIn(f'"{v.value}"', api)
        self.assertEqual(WorkflowIDConflictPolicy.FAIL.value, "fail")
        self.assertEqual(WorkflowIDReusePolicy.ALLOW_DUPLICATE.value, "allow_duplicate")

    def test_statuses_are_the_tables(self):
        tables = (REPO / "src" / "sql" / "tables.sql").read_text()
        m = re.search(r"status IN \(([^)]*)\)", tables)
        self.assertIsNotNone(m)
        stored = set(re.findall(r"'([a-z_]+)'", m.group(1)))
        self.assertEqual({s.value for s in WorkflowExecutionStatus}, stored)

    def test_enum_value(self):
        self.assertIsNone(enum_value(None, WorkflowIDReusePolicy, "id_reuse_policy"))
        self.assertEqual(enum_value(WorkflowIDReusePolicy.REJECT_DUPLICATE, WorkflowIDReusePolicy, "p"),
                         "reject_duplicate")
        self.assertEqual(enum_value("REJECT_DUPLICATE", WorkflowIDReusePolicy, "p"), "reject_duplicate")
        self.assertEqual(enum_value("use_existing", WorkflowIDConflictPolicy, "p"), "use_existing")
        with self.assertRaises(ValueError):
            enum_value("TERMINATE_IF_RUNNING", WorkflowIDReusePolicy, "p")
        self.assertEqual(str(WorkflowExecutionStatus.RUNNING), "running")


if __name__ == "__main__":
    unittest.main()

"""durable.schedule's conversions between Temporal Python's schedule types and the engine's JSON, without a cluster.

Temporal's types and defaults (temporalio/sdk-python temporalio/client.py: ScheduleRange end < start
means start, step 0 means 1; ScheduleCalendarSpec second/minute/hour default 0, other fields every
value, year empty = every year; ScheduleOverlapPolicy SKIP=1 .. ALLOW_ALL=6); the engine's spec fields
(docs/schedules.md "Spec": calendar fields as cron-like strings, names of months and days); the same
JSON as the TypeScript SDK writes (sdk/typescript/src/schedule-client.ts specToEngine / calendarToEngine,
overlapToEngine), so a schedule either SDK created reads the same in the other.
"""

import unittest
from datetime import datetime, timedelta, timezone

from durable.common import RetryPolicy
from durable.schedule import (
    Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleDescription, ScheduleIntervalSpec,
    ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec, ScheduleState,
)


class Ranges(unittest.TestCase):
    def test_range_defaults(self):
        self.assertEqual(ScheduleRange(5), ScheduleRange(5, 5, 1))
        self.assertEqual(ScheduleRange(5, 2), ScheduleRange(5, 5, 1))
        self.assertEqual(ScheduleRange(0, 59, 0).step, 1)

    def test_calendar_to_engine(self):
        c = ScheduleCalendarSpec(hour=[ScheduleRange(9), 17], day_of_week=[ScheduleRange(1, 5)],
                                 minute=[ScheduleRange(0, 59, 15)], year=[ScheduleRange(2027, 2030)], comment="x")
        self.assertEqual(c._to_engine(), {
            "second": "0", "minute": "0-59/15", "hour": "9,17", "day_of_month": "*", "month": "*",
            "year": "2027-2030", "day_of_week": "1-5", "comment": "x"})
        # the defaults are the TypeScript SDK's (calendarToEngine): 0 0 0 * * * *
        self.assertEqual(ScheduleCalendarSpec()._to_engine(), {
            "second": "0", "minute": "0", "hour": "0", "day_of_month": "*", "month": "*", "year": "*",
            "day_of_week": "*"})
        # the engine's own strings pass as they are
        self.assertEqual(ScheduleCalendarSpec(day_of_week="mon-fri")._to_engine()["day_of_week"], "mon-fri")
        with self.assertRaises(ValueError):
            ScheduleCalendarSpec(hour=[])._to_engine()   # Temporal: no range matches nothing

    def test_calendar_from_engine(self):
        # what the TypeScript SDK writes for {hour: 9, dayOfWeek: {start: 'MONDAY', end: 'FRIDAY'}, month: 'JULY'}
        c = ScheduleCalendarSpec._from_engine({"second": "0", "minute": "*/15", "hour": "9", "day_of_month": "1,15",
                                               "month": "7", "year": "*", "day_of_week": "mon-fri"})
        self.assertEqual(c.hour, (ScheduleRange(9),))
        self.assertEqual(c.minute, (ScheduleRange(0, 59, 15),))
        self.assertEqual(c.day_of_month, (ScheduleRange(1), ScheduleRange(15)))
        self.assertEqual(c.month, (ScheduleRange(7),))
        self.assertEqual(c.year, ())
        self.assertEqual(c.day_of_week, (ScheduleRange(1, 5),))
        # names of months, "a/n" (a to the end), and unset fields as Temporal's defaults
        c = ScheduleCalendarSpec._from_engine({"month": "jan,jul", "minute": "5/20", "day_of_week": "SUN"})
        self.assertEqual(c.month, (ScheduleRange(1), ScheduleRange(7)))
        self.assertEqual(c.minute, (ScheduleRange(5, 59, 20),))
        self.assertEqual(c.day_of_week, (ScheduleRange(0),))
        self.assertEqual((c.second, c.hour, c.day_of_month), ((ScheduleRange(0),), (ScheduleRange(0),),
                                                              (ScheduleRange(1, 31),)))
        # a field it cannot read stays the engine's string (and is sent back as it is)
        self.assertEqual(ScheduleCalendarSpec._from_engine({"hour": "?"}).hour, "?")

    def test_spec_round_trip(self):
        spec = ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(9)])],
            intervals=[ScheduleIntervalSpec(every=timedelta(minutes=90), offset=timedelta(seconds=1.5))],
            cron_expressions=["@daily"], skip=[ScheduleCalendarSpec(month=[ScheduleRange(12)])],
            start_at=datetime(2030, 1, 1, tzinfo=timezone.utc), end_at=datetime(2031, 1, 1, tzinfo=timezone.utc),
            jitter=timedelta(seconds=30), time_zone_name="Europe/Paris")
        e = spec._to_engine()
        self.assertEqual(e["intervals"], [{"every": "5400s", "offset": "1.5s"}])   # the TS SDK's interval text
        self.assertEqual(e["cron"], ["@daily"])
        self.assertEqual(e["timezone"], "Europe/Paris")
        self.assertEqual(e["start_at"], "2030-01-01T00:00:00+00:00")
        self.assertEqual(ScheduleSpec._from_engine(e), spec)
        # a naive datetime is UTC
        self.assertEqual(ScheduleSpec(start_at=datetime(2030, 1, 1))._to_engine()["start_at"],
                         "2030-01-01T00:00:00+00:00")
        # the TypeScript SDK's ISO text with Z reads back
        self.assertEqual(ScheduleSpec._from_engine({"start_at": "2030-01-01T00:00:00.000Z"}).start_at,
                         datetime(2030, 1, 1, tzinfo=timezone.utc))


class Overlap(unittest.TestCase):
    def test_names(self):
        P = ScheduleOverlapPolicy
        self.assertEqual(int(P.SKIP), 1)
        self.assertEqual(int(P.ALLOW_ALL), 6)
        for v in ("buffer_one", "BUFFER_ONE", "BufferOne", "buffer-one", "SCHEDULE_OVERLAP_POLICY_BUFFER_ONE", 2,
                  P.BUFFER_ONE):
            self.assertIs(P.of(v), P.BUFFER_ONE)
        self.assertIsNone(P.of(None))
        with self.assertRaises(ValueError):
            P.of("never")
        self.assertEqual(SchedulePolicy()._to_engine(),
                         {"overlap": "skip", "catchup_window": "31536000s", "pause_on_failure": False})


class Action(unittest.TestCase):
    def test_to_and_from_engine(self):
        a = ScheduleActionStartWorkflow("Report", args=[1, {"k": "v"}], id="rep", task_queue="q",
                                        execution_timeout=60, retry_policy=RetryPolicy(maximum_attempts=2),
                                        memo={"m": 1})
        e = a._to_engine()
        self.assertEqual(e, {"workflow_type": "Report", "task_queue": "q", "input": [1, {"k": "v"}],
                             "workflow_id": "rep", "execution_timeout": "60s",
                             "retry_policy": RetryPolicy(maximum_attempts=2).to_json(), "memo": {"m": 1}})
        self.assertEqual(ScheduleActionStartWorkflow._from_engine(e), a)
        self.assertEqual(ScheduleActionStartWorkflow("W", "one", task_queue="q").args, ["one"])
        with self.assertRaises(TypeError):
            ScheduleActionStartWorkflow("W", "one", args=["two"], task_queue="q")

    def test_description(self):
        d = ScheduleDescription._from_engine({
            "schedule_id": "s", "spec": {"cron": ["0 3 * * *"]},
            "action": {"workflow_type": "W", "task_queue": "q", "input": []},
            "policies": {"overlap": "terminate_other", "catchup_window": "1 hour"},
            "state": {"paused": True, "note": "n", "limited_actions": True, "remaining_actions": 2},
            "info": {"action_count": 3, "missed_catchup_window": 1, "overlap_skipped": 2, "buffered": 1,
                     "action_errors": 4, "last_action_error": {"time": "2026-01-01T03:00:00Z",
                                                               "nominal_time": "2026-01-01T03:00:00Z",
                                                               "sqlstate": "54000", "message": "input is too large"},
                     "running_workflows": [{"workflow_id": "w", "run_id": "r"}],
                     "recent_actions": [{"scheduled_time": "2026-01-01T03:00:00Z", "actual_time":
                                         "2026-01-01T03:00:00.010Z", "workflow_id": "w", "run_id": "r",
                                         "status": "running"}],
                     "next_action_times": ["2026-01-02T03:00:00Z"], "create_time": "2025-12-31T00:00:00+00:00",
                     "update_time": "2026-01-01T00:00:00+00:00"}})
        self.assertEqual(d.schedule.policy.overlap, ScheduleOverlapPolicy.TERMINATE_OTHER)
        self.assertEqual(d.schedule.policy.catchup_window, timedelta(hours=1))
        self.assertEqual(d.schedule.state, ScheduleState(note="n", paused=True, limited_actions=True,
                                                         remaining_actions=2))
        self.assertEqual((d.info.num_actions, d.info.num_actions_missed_catchup_window,
                          d.info.num_actions_skipped_overlap, d.info.num_actions_buffered), (3, 1, 2, 1))
        # durable's own: actions dropped because their start failed (docs/schedules.md, "Action")
        self.assertEqual((d.info.num_action_errors, d.info.last_action_error["sqlstate"]), (4, "54000"))
        self.assertEqual(d.info.recent_actions[0].action.first_execution_run_id, "r")
        self.assertEqual(d.info.recent_actions[0].started_at,
                         datetime(2026, 1, 1, 3, 0, 0, 10000, tzinfo=timezone.utc))
        self.assertIsInstance(d.schedule, Schedule)


if __name__ == "__main__":
    unittest.main()

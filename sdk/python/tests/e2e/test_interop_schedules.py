"""Schedules are interchangeable between the Python and the TypeScript SDK's schedule clients: a schedule
the TypeScript SDK created (client.schedule.create, Temporal TS's names: named days and months,
{start, end, step} ranges, ms-style durations) describes in Python as the same Schedule as one the
Python SDK created from Temporal Python's types, and the TypeScript SDK describes and triggers the
Python one.

Runs tests/e2e/ts/schedules.js on the built TypeScript SDK (sdk/typescript/dist; skipped when it is
not built: cd sdk/typescript && npm ci && npx tsc -p .; a failure with DURABLE_INTEROP_REQUIRED=1,
as test/run-all sets it).

Temporal's schedule types: https://docs.temporal.io/develop/python/schedules,
https://docs.temporal.io/develop/typescript/schedules; temporalio/sdk-python temporalio/client.py
(ScheduleCalendarSpec, ScheduleRange), temporalio/sdk-typescript packages/client/src/schedule-types.ts
(CalendarSpec, Range, ScheduleOptions).
"""
import asyncio
import json
import os
import unittest
from datetime import datetime, timedelta, timezone

try:  # sdk/python/tests/harness.py, with the tests directory on sys.path (unittest discover -t tests)
    import harness  # type: ignore[import-not-found]
except ImportError:  # run as the package tests.e2e (unittest discover -t .)
    from tests import harness  # type: ignore[no-redef]

from durable.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleIntervalSpec, ScheduleOverlapPolicy,
    SchedulePolicy, ScheduleRange, ScheduleSpec, ScheduleState,
)
from durable.common import RetryPolicy

from ._e2e import NODE, node_url

HERE = os.path.dirname(os.path.abspath(__file__))
TS_SCHEDULES = os.path.join(HERE, "ts", "schedules.js")

CLUSTER = harness.ModuleCluster()
tearDownModule = CLUSTER.stop


def setUpModule():
    harness.require_typescript_sdk()
    CLUSTER.start()


async def ts(*args) -> str:
    """node ts/schedules.js args..., its output."""
    p = await asyncio.create_subprocess_exec(NODE, TS_SCHEDULES, *args, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE,
                                             env=dict(os.environ, DATABASE_URL=node_url(CLUSTER)))
    out, err = await asyncio.wait_for(p.communicate(), 60)
    if p.returncode != 0:
        raise AssertionError(f"node schedules.js {' '.join(args)}: {err.decode() or out.decode()}")
    return out.decode()


UTC = timezone.utc

# what ts/schedules.js creates, in Temporal Python's types
EXPECTED = Schedule(
    action=ScheduleActionStartWorkflow(
        "Report", args=["weekly", 2], id="rep", task_queue="reports", execution_timeout=timedelta(hours=1),
        run_timeout=timedelta(minutes=30), task_timeout=timedelta(seconds=20),
        retry_policy=RetryPolicy(maximum_attempts=3), memo={"owner": "ops"}),
    spec=ScheduleSpec(
        calendars=[ScheduleCalendarSpec(hour=[9], day_of_week=[ScheduleRange(1, 5)], comment="weekdays at 9"),
                   ScheduleCalendarSpec(minute=[ScheduleRange(0, 59, 15)], hour=[ScheduleRange(0, 23)],
                                        month=[1, 7])],
        intervals=[ScheduleIntervalSpec(every=timedelta(minutes=90), offset=timedelta(seconds=5))],
        cron_expressions=["30 2 * * *"],
        skip=[ScheduleCalendarSpec(month=[12], day_of_month=[25], hour=[ScheduleRange(0, 23)],
                                   minute=[ScheduleRange(0, 59)])],
        start_at=datetime(2090, 1, 1, tzinfo=UTC), end_at=datetime(2091, 1, 1, tzinfo=UTC),
        jitter=timedelta(seconds=30), time_zone_name="Europe/Paris"),
    policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=timedelta(minutes=10),
                          pause_on_failure=True),
    state=ScheduleState(note="created paused", paused=True, limited_actions=True, remaining_actions=7))


def retry_free(s: Schedule) -> Schedule:
    """The schedule with its action's retry policy reduced to maximum_attempts (the SDKs fill different defaults)."""
    s.action.retry_policy = RetryPolicy(maximum_attempts=s.action.retry_policy.maximum_attempts)
    return s


class Interop(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await Client.connect(CLUSTER.dsn)

    async def asyncTearDown(self):
        await self.client.close()

    async def test_typescript_made_schedule_reads_in_python_and_back(self):
        await ts("create", "ts-made")
        from_ts = await self.client.get_schedule_handle("ts-made").describe()
        # named days and months, {start, end, step} ranges and ms-style durations read as Temporal Python's types
        self.assertEqual(from_ts.raw_description["spec"]["calendars"][0]["day_of_week"], "mon-fri")
        self.assertEqual(retry_free(from_ts.schedule), retry_free(EXPECTED))

        await self.client.create_schedule("py-made", EXPECTED)
        from_py = await self.client.get_schedule_handle("py-made").describe()
        self.assertEqual(retry_free(from_py.schedule), retry_free(from_ts.schedule))

        # the TypeScript SDK reads the Python one as it reads its own (calendar strings aside:
        # it shows the engine's strings, "mon-fri" for its own and "1-5" for Python's)
        d_ts, d_py = json.loads(await ts("describe", "ts-made")), json.loads(await ts("describe", "py-made"))
        for d in (d_ts, d_py):
            for k in ("scheduleId", "info"):
                d.pop(k)
            d["spec"].pop("calendars")
            d["spec"].pop("skip")
            d["action"].pop("retry", None)
        self.assertEqual(d_py, d_ts)
        self.assertEqual(d_py["action"]["args"], ["weekly", 2])
        self.assertEqual(d_py["policies"]["overlap"], "BUFFER_ONE")
        self.assertEqual(d_py["state"], {"paused": True, "note": "created paused", "remainingActions": 7})

        # and acts on it
        handle = self.client.get_schedule_handle("py-made")
        await handle.unpause()
        await ts("trigger", "py-made")
        d = await handle.describe()
        self.assertEqual(d.info.num_actions, 1)
        self.assertTrue(d.info.recent_actions[0].action.workflow_id.startswith("rep-"))


if __name__ == "__main__":
    unittest.main()

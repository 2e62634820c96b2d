"""Schedules through durable.client against a real private cluster: create_schedule, get_schedule_handle,
list_schedules, and every ScheduleHandle call (describe, pause, unpause, trigger, backfill, update, delete).

Actions are taken deterministically with trigger and backfill (as the regression test
sql/19_schedules.sql does), and the specs lie in 2090, so the engine's timer service takes no action
by itself except in the one test that checks it does (an interval of 1 s).

Temporal Python's schedule client asserted (https://docs.temporal.io/develop/python/schedules;
temporalio/sdk-python temporalio/client.py: Client.create_schedule with trigger_immediately and
backfill, ScheduleAlreadyRunningError on a taken id, ScheduleHandle.describe / pause(note=) /
unpause(note=) / trigger(overlap=) / backfill(*backfills) / update(updater returning ScheduleUpdate or
None, sync or async) / delete, list_schedules returning an async iterator of ScheduleListDescription)
and durable's SQL API (docs/schedules.md).
"""

import asyncio
import time
import unittest
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

try:  # sdk/python/tests/harness.py, with the tests directory on sys.path (unittest discover -t tests)
    import harness  # type: ignore[import-not-found]
    from e2e._e2e import running  # type: ignore[import-not-found]
except ImportError:  # run as the package tests.e2e (unittest discover -t .)
    from tests import harness  # type: ignore[no-redef]
    from tests.e2e._e2e import running  # type: ignore[no-redef]

from durable import workflow
from durable.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleBackfill,
    ScheduleCalendarSpec, ScheduleDescription, ScheduleIntervalSpec, ScheduleListDescription,
    ScheduleNotFoundError, ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec, ScheduleState,
    ScheduleUpdate, ScheduleUpdateInput,
)
from durable.common import RetryPolicy
from durable.exceptions import ScheduleSpecError, ScheduleTimeZoneError

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

UTC = timezone.utc
FAR = datetime(2090, 1, 1, tzinfo=UTC)   # no spec time before this: the engine takes no action by itself


@workflow.defn(name="ScheduledReport")
class Report:
    @workflow.run
    async def run(self, kind: str) -> str:
        return f"report {kind} for {workflow.info().workflow_id}"


def sid() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


def nightly(schedule_id_prefix=None, **state) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(Report, "daily", id=schedule_id_prefix, task_queue="reports",
                                           execution_timeout=timedelta(minutes=5)),
        spec=ScheduleSpec(cron_expressions=["0 3 * * *"], start_at=FAR),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(**state))


class Schedules(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await Client.connect(CLUSTER.dsn)

    async def asyncTearDown(self):
        await self.client.close()

    async def runs(self, prefix: str) -> list:
        rows = await self.client._fetch(
            "SELECT workflow_id, status, input, search_attributes FROM durable.workflows"
            " WHERE workflow_id LIKE %s ORDER BY workflow_id", [prefix + "-%"], rows="dict")
        return [dict(r) for r in rows]

    async def test_create_and_describe_round_trip(self):
        """Every field of Temporal's Schedule survives create_schedule -> describe()."""
        id = sid()
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                "Report", args=["weekly", 2], id="rep", task_queue="reports",
                execution_timeout=timedelta(hours=1), run_timeout=timedelta(minutes=30),
                task_timeout=timedelta(seconds=20), retry_policy=RetryPolicy(maximum_attempts=3),
                memo={"owner": "ops"}, search_attributes={"Team": "ops"}),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(9)], day_of_week=[ScheduleRange(1, 5)],
                                                comment="weekdays at 9"),
                           ScheduleCalendarSpec(minute=[ScheduleRange(0, 59, 15)], hour=[ScheduleRange(0, 23)])],
                intervals=[ScheduleIntervalSpec(every=timedelta(hours=1), offset=timedelta(minutes=5))],
                cron_expressions=["30 2 * * *"],
                skip=[ScheduleCalendarSpec(month=[ScheduleRange(12)], day_of_month=[ScheduleRange(25)],
                                           hour=[ScheduleRange(0, 23)], minute=[ScheduleRange(0, 59)])],
                start_at=FAR, end_at=datetime(2091, 1, 1, tzinfo=UTC), jitter=timedelta(seconds=30),
                time_zone_name="Europe/Paris"),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=timedelta(minutes=10),
                                  pause_on_failure=True),
            state=ScheduleState(note="created paused", paused=True, limited_actions=True, remaining_actions=7))
        handle = await self.client.create_schedule(id, schedule)
        self.assertEqual(handle.id, id)
        d = await handle.describe()
        self.assertIsInstance(d, ScheduleDescription)
        self.assertEqual(d.id, id)
        self.assertEqual(d.schedule, schedule)  # the whole dataclass, read back from the engine's JSON
        self.assertEqual(d.raw_description["spec"]["calendars"][0]["day_of_week"], "1-5")
        self.assertEqual(d.raw_description["spec"]["calendars"][1]["minute"], "0-59/15")
        self.assertEqual(d.raw_description["spec"]["calendars"][1]["hour"], "*")
        self.assertEqual(d.raw_description["policies"]["overlap"], "buffer_one")
        self.assertEqual(d.info.num_actions, 0)
        self.assertEqual(d.info.recent_actions, [])
        self.assertEqual(len(d.info.next_action_times), 10)  # a paused schedule shows the times it would take
        self.assertGreaterEqual(d.info.next_action_times[0], FAR)
        self.assertIsNotNone(d.info.created_at.tzinfo)

    async def test_errors(self):
        """ScheduleAlreadyRunningError on a taken id (Temporal's), not found, invalid spec and time zone."""
        id = sid()
        await self.client.create_schedule(id, nightly())
        with self.assertRaises(ScheduleAlreadyRunningError) as cm:
            await self.client.create_schedule(id, nightly())
        self.assertEqual(cm.exception.sqlstate, "DU031")
        missing = self.client.get_schedule_handle("no-such-schedule")
        for call in (missing.describe(), missing.pause(), missing.unpause(), missing.trigger(),
                     missing.backfill(ScheduleBackfill(FAR, FAR)), missing.update(lambda i: None), missing.delete()):
            with self.assertRaises(ScheduleNotFoundError):
                await call
        bad = nightly()
        bad.spec = ScheduleSpec(cron_expressions=["0 3 * *"])
        with self.assertRaises(ScheduleSpecError) as cm2:
            await self.client.create_schedule(sid(), bad)
        self.assertEqual(cm2.exception.sqlstate, "DU032")
        bad.spec = ScheduleSpec(cron_expressions=["0 3 * * *"], time_zone_name="Mars/Olympus")
        with self.assertRaises(ScheduleTimeZoneError):
            await self.client.create_schedule(sid(), bad)
        with self.assertRaises(ValueError):  # durable keeps no schedule-level memo
            await self.client.create_schedule(sid(), nightly(), memo={"a": 1})
        with self.assertRaises(ValueError):
            ScheduleOverlapPolicy.of("sometimes")

    async def test_pause_and_unpause(self):
        """pause(note=) and unpause(note=) show in describe()'s state (Temporal's ScheduleState.note/paused)."""
        handle = await self.client.create_schedule(sid(), nightly())
        await handle.pause(note="maintenance")
        st = (await handle.describe()).schedule.state
        self.assertTrue(st.paused)
        self.assertEqual(st.note, "maintenance")
        await handle.unpause(note="back")
        st = (await handle.describe()).schedule.state
        self.assertFalse(st.paused)
        self.assertEqual(st.note, "back")
        await handle.pause()
        self.assertTrue((await handle.describe()).schedule.state.paused)

    async def test_trigger(self):
        """trigger() starts the action now; trigger(overlap=SKIP) skips while one runs."""
        id = sid()
        handle = await self.client.create_schedule(id, nightly(f"{id}-wf"))
        await handle.trigger()
        d = await handle.describe()
        self.assertEqual(d.info.num_actions, 1)
        [recent] = d.info.recent_actions
        self.assertTrue(recent.action.workflow_id.startswith(f"{id}-wf-"))
        self.assertEqual(recent.status, "running")
        self.assertEqual([a.workflow_id for a in d.info.running_actions], [recent.action.workflow_id])
        self.assertEqual(d.info.running_actions[0].first_execution_run_id, recent.action.first_execution_run_id)
        runs = await self.runs(f"{id}-wf")
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs[0]["input"], ["daily"])
        self.assertEqual(runs[0]["search_attributes"]["TemporalScheduledById"], id)
        await handle.trigger(overlap=ScheduleOverlapPolicy.SKIP)
        d = await handle.describe()
        self.assertEqual(d.info.num_actions, 1)
        self.assertEqual(d.info.num_actions_skipped_overlap, 1)
        await handle.trigger(overlap="allow_all")  # the engine's name works too
        self.assertEqual((await handle.describe()).info.num_actions, 2)

    async def test_backfill(self):
        """backfill(*backfills) takes the spec's times in each range, in order, named <id>-<time>."""
        id = sid()
        handle = await self.client.create_schedule(id, nightly(id))
        await handle.backfill(
            ScheduleBackfill(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, 12, tzinfo=UTC)),
            ScheduleBackfill(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 1, 12, tzinfo=UTC),
                             overlap=ScheduleOverlapPolicy.ALLOW_ALL))
        runs = await self.runs(id)
        self.assertEqual([r["workflow_id"] for r in runs],
                         [f"{id}-2026-01-01T03:00:00Z", f"{id}-2026-01-02T03:00:00Z", f"{id}-2026-01-03T03:00:00Z",
                          f"{id}-2026-02-01T03:00:00Z"])
        d = await handle.describe()
        self.assertEqual(d.info.num_actions, 4)
        self.assertEqual([a.scheduled_at for a in d.info.recent_actions][:2],
                         [datetime(2026, 1, 1, 3, tzinfo=UTC), datetime(2026, 1, 2, 3, tzinfo=UTC)])
        # a naive datetime is UTC, as Temporal's protobuf conversion reads it
        await handle.backfill(ScheduleBackfill(datetime(2026, 3, 1), datetime(2026, 3, 1, 4)))
        self.assertEqual((await handle.describe()).info.num_actions, 5)

    async def test_update(self):
        """update(updater): the updater gets the description and returns the whole new schedule; None: no change."""
        id = sid()
        handle = await self.client.create_schedule(id, nightly())
        before = await handle.describe()

        def change(inp: ScheduleUpdateInput) -> ScheduleUpdate:
            s = inp.description.schedule
            s.spec = ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(6)], minute=[ScheduleRange(30)])],
                                  start_at=FAR)
            s.action.args = ["monthly"]
            s.action.task_queue = "reports-2"
            s.policy.overlap = ScheduleOverlapPolicy.BUFFER_ALL
            return ScheduleUpdate(schedule=s)

        await handle.update(change)
        d = await handle.describe()
        self.assertEqual(d.raw_description["spec"]["calendars"][0]["hour"], "6")
        self.assertEqual(d.schedule.spec.cron_expressions, [])
        self.assertEqual(d.schedule.action.args, ["monthly"])
        self.assertEqual(d.schedule.action.task_queue, "reports-2")
        self.assertEqual(d.schedule.policy.overlap, ScheduleOverlapPolicy.BUFFER_ALL)
        self.assertEqual(d.info.next_action_times[0], datetime(2090, 1, 1, 6, 30, tzinfo=UTC))
        self.assertGreater(d.info.last_updated_at, before.info.last_updated_at)

        seen = []
        await handle.update(lambda inp: seen.append(inp.description.id))  # returns None: nothing changes
        self.assertEqual(seen, [id])
        self.assertEqual((await handle.describe()).info.last_updated_at, d.info.last_updated_at)

        async def pause_it(inp: ScheduleUpdateInput) -> ScheduleUpdate:  # an async updater; state.paused pauses
            s = inp.description.schedule
            s.state.paused = True
            s.state.note = "paused by update"
            return ScheduleUpdate(s)

        await handle.update(pause_it)
        st = (await handle.describe()).schedule.state
        self.assertEqual((st.paused, st.note), (True, "paused by update"))

        def limit(inp: ScheduleUpdateInput) -> ScheduleUpdate:
            s = inp.description.schedule
            s.state.limited_actions, s.state.remaining_actions = True, 2
            return ScheduleUpdate(s)

        with self.assertRaises(ValueError):
            await handle.update(limit)

    async def test_delete(self):
        """delete(): the schedule goes, the workflows it started go on."""
        id = sid()
        handle = await self.client.create_schedule(id, nightly(id), trigger_immediately=True)
        await handle.delete()
        with self.assertRaises(ScheduleNotFoundError):
            await handle.describe()
        runs = await self.runs(id)
        self.assertEqual([r["status"] for r in runs], ["running"])

    async def test_create_with_trigger_backfill_and_limited_actions(self):
        """create_schedule(trigger_immediately=, backfill=) in one transaction; limited actions stop the schedule."""
        id = sid()
        handle = await self.client.create_schedule(
            id, nightly(id, limited_actions=True, remaining_actions=3), trigger_immediately=True,
            backfill=[ScheduleBackfill(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC))])
        d = await handle.describe()
        self.assertEqual(d.info.num_actions, 3)
        self.assertEqual(d.schedule.state.remaining_actions, 0)
        self.assertEqual(d.info.next_action_times, [])
        self.assertEqual(len(await self.runs(id)), 3)

    async def test_create_in_callers_transaction(self):
        """connection=: the create, its trigger and its workflow are the caller's transaction's (a rollback leaves none)."""
        id = sid()
        async with await psycopg.AsyncConnection.connect(CLUSTER.dsn) as conn:
            await self.client.create_schedule(id, nightly(id), trigger_immediately=True, connection=conn)
            await conn.rollback()
            with self.assertRaises(ScheduleNotFoundError):
                await self.client.get_schedule_handle(id).describe()
            self.assertEqual(await self.runs(id), [])
            await self.client.create_schedule(id, nightly(id), connection=conn)
            await self.client.get_schedule_handle(id).trigger(connection=conn)
            await conn.commit()
        self.assertEqual((await self.client.get_schedule_handle(id).describe()).info.num_actions, 1)

    async def test_list_schedules(self):
        """await list_schedules() -> async iterator of ScheduleListDescription, by id, page by page."""
        ns = f"ns_{uuid.uuid4().hex[:8]}"
        await self.client._fetch("SELECT durable.create_namespace(%s)", [ns])
        other = await Client.connect(CLUSTER.dsn, namespace=ns)
        try:
            ids = [f"l-{i}" for i in range(5)]
            for i in ids:
                await other.create_schedule(i, nightly(note=f"n {i}", paused=i == "l-3"))
            got = [s async for s in await other.list_schedules(page_size=2)]
            self.assertEqual([s.id for s in got], ids)
            self.assertIsInstance(got[0], ScheduleListDescription)
            self.assertEqual(got[0].schedule.action.workflow, "ScheduledReport")
            self.assertEqual(got[0].schedule.spec.cron_expressions, ["0 3 * * *"])
            self.assertEqual([s.schedule.state.paused for s in got], [False, False, False, True, False])
            self.assertEqual(got[1].schedule.state.note, "n l-1")
            self.assertEqual(got[0].info.next_action_times, [datetime(2090, 1, 1, 3, tzinfo=UTC)])
            # another namespace's schedules are not listed
            mine = [s.id async for s in await self.client.list_schedules()]
            self.assertFalse(set(mine) & set(ids))
            with self.assertRaises(ValueError):
                await other.list_schedules("WorkflowType = 'x'")
        finally:
            await other.close()

    async def test_engine_fires_schedule_and_worker_runs_it(self):
        """The engine's timer service takes the spec's times by itself; a Python worker runs the workflows."""
        id = sid()
        queue = f"q-{id}"
        handle = await self.client.create_schedule(id, Schedule(
            action=ScheduleActionStartWorkflow(Report, "hourly", id=id, task_queue=queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
            state=ScheduleState(limited_actions=True, remaining_actions=2)))
        async with running(self.client, task_queue=queue, workflows=[Report]):
            deadline = time.monotonic() + 15
            while True:
                d = await handle.describe()
                if len(d.info.recent_actions) == 2 and all(a.status == "completed" for a in d.info.recent_actions):
                    break
                self.assertLess(time.monotonic(), deadline, f"schedule did not act twice: {d.info}")
                await asyncio.sleep(0.1)
        wid = d.info.recent_actions[0].action.workflow_id
        self.assertEqual(await self.client.get_workflow_handle_for(Report.run, wid).result(),
                         f"report hourly for {wid}")
        self.assertEqual(d.info.next_action_times, [])
        await handle.delete()


if __name__ == "__main__":
    unittest.main()

"""The worker's sticky cache (durable/worker.py, docs/protocol.md "The
procedure" step 2 and "Sticky execution"): a run's instance is kept between
its tasks, whose histories then carry only the events after its last task;
a cache too small for the runs in flight falls back to whole histories
(`workflow_task_history`) without changing any result; a failed workflow
task drops the run's instance.

Temporal: sticky execution and the workflow cache
(https://docs.temporal.io/sticky-execution; temporalio/sdk-python
temporalio/worker/_workflow.py, max_cached_workflows)."""
import unittest
from datetime import timedelta

try:
    import harness
except ImportError:                 # run from sdk/python as tests.e2e.*
    from tests import harness

from durable import activity, workflow

from ._e2e import E2EClient, events, queue, running

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

BREAK = {"on": False}


@activity.defn
async def add_one(n: int) -> int:
    return n + 1


@workflow.defn
class Steps:
    def __init__(self):
        self.go = 0

    @workflow.signal
    def step(self):
        self.go += 1

    @workflow.run
    async def run(self, n: int) -> list:
        seen = []
        for i in range(3):
            await workflow.wait_condition(lambda: self.go > i)
            n = await workflow.execute_activity(add_one, n, start_to_close_timeout=timedelta(seconds=10))
            seen.append(n)
            if BREAK["on"] and i == 1:
                raise RuntimeError("a bug in the code (fails the workflow task)")
        return seen


class CacheTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = E2EClient(CLUSTER.dsn)
        self.q = queue()
        BREAK["on"] = False

    async def asyncTearDown(self):
        await self.c.close()

    async def drive(self, w, wids):
        for _ in range(3):
            for wid in wids:
                await self.c.signal(wid, "step")
                await self.c.wait_event(wid, "ActivityTaskCompleted", count=_ + 1)

    async def test_cached_runs_continue_from_short_histories(self):
        async with running(self.c, task_queue=self.q, workflows=[Steps], activities=[add_one]) as w:
            wids = [(await self.c.start(Steps.run, 10 * k, task_queue=self.q))[0] for k in range(3)]
            await self.drive(w, wids)
            self.assertEqual([await self.c.result(wid) for wid in wids], [[1, 2, 3], [11, 12, 13], [21, 22, 23]])
        # one whole replay per run (its first task), every later task from the cache
        self.assertEqual(w.cache_stats["misses"], 3)
        self.assertGreaterEqual(w.cache_stats["hits"], 3 * 4)
        self.assertEqual(w.cache_stats["evictions"], 0)

    async def test_a_cache_of_one_falls_back_to_whole_histories(self):
        async with running(self.c, task_queue=self.q, workflows=[Steps], activities=[add_one],
                           max_cached_workflows=1) as w:
            wids = [(await self.c.start(Steps.run, 10 * k, task_queue=self.q))[0] for k in range(3)]
            await self.drive(w, wids)      # the runs take turns: each evicts the one before
            self.assertEqual([await self.c.result(wid) for wid in wids], [[1, 2, 3], [11, 12, 13], [21, 22, 23]])
        self.assertGreater(w.cache_stats["evictions"], 0)
        self.assertGreater(w.cache_stats["misses"], 3)

    async def test_without_cache(self):
        async with running(self.c, task_queue=self.q, workflows=[Steps], activities=[add_one],
                           max_cached_workflows=0) as w:
            wid, _ = await self.c.start(Steps.run, 5, task_queue=self.q)
            await self.drive(w, [wid])
            self.assertEqual(await self.c.result(wid), [6, 7, 8])
        self.assertEqual(w.cache_stats["hits"], 0)

    async def test_a_failed_task_drops_the_cached_run(self):
        async with running(self.c, task_queue=self.q, workflows=[Steps], activities=[add_one]) as w:
            wid, _ = await self.c.start(Steps.run, 0, task_queue=self.q)
            await self.c.signal(wid, "step")
            await self.c.wait_event(wid, "ActivityTaskCompleted")
            BREAK["on"] = True
            await self.c.signal(wid, "step")
            await self.c.wait_event(wid, "WorkflowTaskFailed")
            misses = w.cache_stats["misses"]
            BREAK["on"] = False            # the fix is deployed: the retried task replays the whole history
            await self.c.signal(wid, "step")
            self.assertEqual(await self.c.result(wid), [1, 2, 3])
            self.assertGreater(w.cache_stats["misses"], misses)
            h = await self.c.history(wid)
            self.assertEqual(len(events(h, "ActivityTaskScheduled")), 3)


if __name__ == "__main__":
    unittest.main()

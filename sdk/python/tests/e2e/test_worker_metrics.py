"""Worker(metrics_registry=...): the worker's Prometheus metrics after a few workflows on a real cluster.

The names, types and labels are the TypeScript SDK's worker metrics
(sdk/typescript/src/worker/metrics.ts, sdk/typescript/README.md "Worker metrics"), which are
Temporal's SDK metric names (https://docs.temporal.io/references/sdk-metrics: worker_task_slots_used /
_available by worker_type, sticky_cache_hit / _miss / _size / _total_forced_eviction,
workflow_task_schedule_to_start_latency, workflow_task_execution_latency,
activity_schedule_to_start_latency, activity_execution_latency, workflow_task_execution_failed,
activity_execution_failed; temporal_ prefix), in seconds, plus durable's poll latency and polled
tasks. Read through prometheus_client's own text exposition and parser, as a scrape would.
"""

import asyncio
import os
import subprocess
import sys
import unittest
import uuid
from datetime import timedelta

try:  # optional for the SDK (Debian python3-prometheus-client; scripts/common.sh installs it)
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover
    CollectorRegistry = None

try:  # sdk/python/tests/harness.py, with the tests directory on sys.path (unittest discover -t tests)
    import harness  # type: ignore[import-not-found]
    from e2e._e2e import running  # type: ignore[import-not-found]
except ImportError:  # run as the package tests.e2e (unittest discover -t .)
    from tests import harness  # type: ignore[no-redef]
    from tests.e2e._e2e import running  # type: ignore[no-redef]

from durable import activity, workflow
from durable.client import Client
from durable.common import RetryPolicy

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop

_attempts: dict = {}


@activity.defn(name="metrics_double")
async def double(n: int) -> int:
    key = activity.info().workflow_id
    _attempts[key] = _attempts.get(key, 0) + 1
    if n == 0 and _attempts[key] == 1:
        raise RuntimeError("first attempt fails")
    return 2 * n


@workflow.defn(name="MetricsWorkflow")
class Doubler:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, n: int, wait: bool) -> int:
        if wait:
            await workflow.wait_condition(lambda: self.go)
        return await workflow.execute_activity(
            double, n, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10), maximum_attempts=3))

    @workflow.signal
    async def proceed(self) -> None:
        self.go = True


def scrape(registry) -> dict:
    """{(sample name, frozenset(labels)): value}, and the families' types under ("TYPE", name)."""
    out = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        out[("TYPE", fam.name)] = fam.type
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m: dict, name: str, **labels) -> float:
    """The sum of the samples of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= set(ls))


class WorkerMetrics(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await Client.connect(CLUSTER.dsn)

    async def asyncTearDown(self):
        await self.client.close()

    @unittest.skipIf(CollectorRegistry is None, "prometheus_client is not installed (python3-prometheus-client)")
    async def test_metrics_after_a_few_workflows(self):
        registry = CollectorRegistry()
        q, q2 = f"m-{uuid.uuid4().hex[:8]}", f"m2-{uuid.uuid4().hex[:8]}"
        async with running(self.client, task_queue=q, workflows=[Doubler], activities=[double],
                           metrics_registry=registry) as w, \
                running(self.client, task_queue=q2, workflows=[Doubler], activities=[double],
                        metrics_registry=registry):
            results = await asyncio.gather(*[
                self.client.execute_workflow(Doubler.run, args=[n, False], id=f"mw-{uuid.uuid4()}", task_queue=q,
                                             task_timeout=10)
                for n in (0, 1, 2, 3)])
            self.assertEqual(results, [0, 2, 4, 6])
            # a workflow type the worker does not have: its task fails (fail_workflow_task)
            bad = await self.client.start_workflow("NoSuchWorkflow", id=f"mw-{uuid.uuid4()}", task_queue=q)
            # a run waiting for a signal stays in the cache
            waiting = await self.client.start_workflow(Doubler.run, args=[5, True], id=f"mw-{uuid.uuid4()}",
                                                       task_queue=q)
            for _ in range(200):
                if w.failed["workflow"] >= 1 and len(w._cache) == 1:
                    break
                await asyncio.sleep(0.05)
            m = scrape(registry)
            # read with the scrape (no await between): what the worker counted
            wf_done, wf_failed, polled = w.completed["workflow"], w.failed["workflow"], w.polled
            L = {"namespace": "default", "task_queue": q}

            # types and names as the TypeScript SDK's (counters untyped, under their exact names)
            for name in ("temporal_workflow_task_schedule_to_start_latency", "temporal_workflow_task_execution_latency",
                         "temporal_activity_schedule_to_start_latency", "temporal_activity_execution_latency",
                         "durable_worker_poll_latency_seconds"):
                self.assertEqual(m[("TYPE", name)], "histogram", name)
            for name in ("temporal_worker_task_slots_used", "temporal_worker_task_slots_available",
                         "temporal_sticky_cache_size"):
                self.assertEqual(m[("TYPE", name)], "gauge", name)
            for name in ("temporal_sticky_cache_hit", "temporal_sticky_cache_miss",
                         "temporal_sticky_cache_total_forced_eviction", "temporal_workflow_task_execution_failed",
                         "temporal_activity_execution_failed", "durable_worker_tasks_polled"):
                self.assertEqual(m[("TYPE", name)], "unknown", name)
                self.assertIn((name, frozenset(L.items())), m)

            wf_tasks = wf_done + wf_failed
            self.assertEqual(value(m, "temporal_workflow_task_execution_latency_count", **L), wf_tasks)
            self.assertEqual(value(m, "temporal_workflow_task_schedule_to_start_latency_count", **L), wf_tasks)
            self.assertEqual(value(m, "temporal_activity_execution_latency_count", activity_type="metrics_double", **L),
                             5)   # 4 activities, one retried once
            self.assertEqual(value(m, "temporal_activity_schedule_to_start_latency_count",
                                   activity_type="metrics_double", **L), 5)
            self.assertGreater(value(m, "temporal_workflow_task_execution_latency_sum", **L), 0)
            self.assertEqual(value(m, "temporal_workflow_task_execution_latency_bucket", le="+Inf", **L), wf_tasks)
            self.assertEqual(value(m, "temporal_activity_execution_failed", **L), 1)
            # the unknown type's task fails (and again, as the engine retries it) before the cache is looked at
            self.assertGreaterEqual(wf_failed, 1)
            self.assertEqual(value(m, "temporal_workflow_task_execution_failed", **L), wf_failed)
            self.assertEqual(value(m, "temporal_sticky_cache_hit", **L) + value(m, "temporal_sticky_cache_miss", **L),
                             wf_done)
            self.assertGreater(value(m, "temporal_sticky_cache_hit", **L), 0)
            self.assertEqual(value(m, "temporal_sticky_cache_size", **L), 1)
            self.assertEqual(value(m, "durable_worker_tasks_polled", **L), polled)
            self.assertGreater(value(m, "durable_worker_poll_latency_seconds_count", outcome="task", **L), 0)
            self.assertEqual(value(m, "durable_worker_poll_latency_seconds_count", outcome="task", **L), polled)
            # (the failing task the engine retries may be running: used + available is the slot count)
            self.assertEqual(value(m, "temporal_worker_task_slots_used", worker_type="WorkflowWorker", **L)
                             + value(m, "temporal_worker_task_slots_available", worker_type="WorkflowWorker", **L), 2)
            self.assertEqual(value(m, "temporal_worker_task_slots_used", worker_type="ActivityWorker", **L), 0)
            self.assertEqual(value(m, "temporal_worker_task_slots_available", worker_type="ActivityWorker", **L), 20)
            # the second worker's series are its own
            self.assertEqual(value(m, "temporal_worker_task_slots_available", worker_type="WorkflowWorker",
                                   task_queue=q2), 2)
            self.assertEqual(value(m, "temporal_workflow_task_execution_latency_count", task_queue=q2), 0)
            # a second scrape does not count twice
            self.assertEqual(value(scrape(registry), "temporal_activity_execution_failed", **L), 1)

            await self.client.get_workflow_handle(waiting.id).signal(Doubler.proceed)
            self.assertEqual(await waiting.result(), 10)
            await bad.terminate()
        # stopped workers: their counters stay, their gauges go
        m = scrape(registry)
        self.assertEqual(value(m, "temporal_activity_execution_failed", **L), 1)
        self.assertEqual(value(m, "temporal_activity_execution_latency_count", **L), 6)
        self.assertNotIn(("temporal_worker_task_slots_available",
                          frozenset({**L, "worker_type": "WorkflowWorker"}.items())), m)

    def test_sdk_works_without_prometheus_client(self):
        """prometheus_client is optional: imported only for a worker given a registry."""
        code = (
            "import sys; sys.modules['prometheus_client'] = None\n"
            "import durable.worker, durable.client\n"
            "from durable import activity\n"
            "@activity.defn\nasync def a(): pass\n"
            "c = durable.client.Client('dbname=x')\n"
            "w = durable.worker.Worker(c, task_queue='q', activities=[a])\n"
            "try:\n    durable.worker.Worker(c, task_queue='q', activities=[a], metrics_registry=object())\n"
            "except ImportError:\n    print('ImportError')\n")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "ImportError")


if __name__ == "__main__":
    unittest.main()

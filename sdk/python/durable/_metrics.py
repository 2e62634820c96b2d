"""The worker's Prometheus metrics (Worker(metrics_registry=...), a prometheus_client CollectorRegistry).

The same names and labels as the TypeScript SDK's worker metrics
(sdk/typescript/src/worker/metrics.ts): Temporal's SDK metric names
(https://docs.temporal.io/references/sdk-metrics, temporal_ prefix) where one
exists, histograms in seconds, durable_worker_poll_latency_seconds for one
durable.poll_task call; every series labelled namespace and task_queue.

Cost: the counters and gauges are read from the worker when the registry is
collected (a scrape), so a task adds only a histogram observation per
latency.  Several workers may share a registry: the metrics are registered
once per registry and each worker is one source of its series.  Counters
grow by what each worker counted since the last scrape and stay when a
worker stops; a stopped worker's gauge series go.

prometheus_client is imported only when this module is, which the Worker
does only when given a registry: the SDK works without it.

Counters are exposed untyped, under their exact names
(temporal_sticky_cache_hit, not prometheus_client's
temporal_sticky_cache_hit_total), so that one query reads a Python and a
TypeScript worker alike; Temporal's core SDK exports them without the suffix
too unless told otherwise.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily, UnknownMetricFamily

# the buckets of every latency histogram, in seconds (the TypeScript SDK's)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
WORKER_TYPE = {"workflow": "WorkflowWorker", "activity": "ActivityWorker"}

# counters read from a worker at scrape time: name, help, read(worker)
_COUNTERS: List[Tuple[str, str, Callable[[Any], int]]] = [
    ("temporal_sticky_cache_hit", "Workflow tasks served by the cached run (no replay).",
     lambda w: w.cache_stats["hits"]),
    ("temporal_sticky_cache_miss", "Workflow tasks that replayed the run from its first event.",
     lambda w: w.cache_stats["misses"]),
    ("temporal_sticky_cache_total_forced_eviction", "Runs evicted from the cache to make room (least recently used).",
     lambda w: w.cache_stats["evictions"]),
    ("temporal_workflow_task_execution_failed", "Workflow tasks that failed (reported with fail_workflow_task).",
     lambda w: w.failed["workflow"]),
    ("temporal_activity_execution_failed", "Activity attempts that failed (reported with fail_activity).",
     lambda w: w.failed["activity"]),
    ("durable_worker_tasks_polled",
     "Tasks claimed with durable.poll_task (the rest came back from completions: eager dispatch).",
     lambda w: w.polled),
]


class _Family:
    """The metrics of one registry, and the workers that feed them."""

    def __init__(self, registry: Any) -> None:
        self.lock = threading.Lock()
        self.sources: List[Any] = []
        self.totals: Dict[Tuple[str, str, str], float] = {}      # (metric, namespace, task_queue) -> count
        self.last: "weakref.WeakKeyDictionary[Any, Dict[str, int]]" = weakref.WeakKeyDictionary()
        registry.register(_Collector(self))

        def histogram(name: str, doc: str, labels: Tuple[str, ...]) -> Histogram:
            return Histogram(name, doc, ("namespace", "task_queue") + labels, buckets=BUCKETS, registry=registry)

        self.schedule_to_start = {
            "workflow": histogram("temporal_workflow_task_schedule_to_start_latency",
                                  "Seconds from a workflow task's scheduling to its start (the engine's clock).", ()),
            "activity": histogram("temporal_activity_schedule_to_start_latency",
                                  "Seconds from an activity task's scheduling to its start (the engine's clock).",
                                  ("activity_type",)),
        }
        self.execution = {
            "workflow": histogram("temporal_workflow_task_execution_latency",
                                  "Seconds a workflow task took in the worker, from its start to its completion "
                                  "committed.", ()),
            "activity": histogram("temporal_activity_execution_latency",
                                  "Seconds an activity attempt took in the worker, from its start to its completion "
                                  "or failure committed.", ("activity_type",)),
        }
        self.poll = histogram("durable_worker_poll_latency_seconds",
                              "Seconds one durable.poll_task call took (a long poll: up to poll_wait when there is no "
                              "task), by worker type and outcome.", ("worker_type", "outcome"))

    def fold(self, w: Any) -> None:
        """Add what worker w counted since it was last read to the totals (under the lock)."""
        seen = self.last.setdefault(w, {})
        for name, _, read in _COUNTERS:
            now = read(w)
            key = (name, w.namespace, w.task_queue)
            self.totals[key] = self.totals.get(key, 0.0) + max(0, now - seen.get(name, 0))
            seen[name] = now


class _Collector:
    """Counters and gauges, read from the workers at collect time."""

    def __init__(self, family: _Family) -> None:
        self.f = family

    def describe(self) -> list:
        return []

    def collect(self):
        f = self.f
        with f.lock:
            for w in f.sources:
                f.fold(w)
            sources = list(f.sources)
            totals = dict(f.totals)
        for name, doc, _ in _COUNTERS:
            m = UnknownMetricFamily(name, doc, labels=["namespace", "task_queue"])
            for (metric, ns, tq), v in sorted(totals.items()):
                if metric == name:
                    m.add_metric([ns, tq], v)
            yield m
        used = GaugeMetricFamily("temporal_worker_task_slots_used",
                                 "Task slots in use, by worker type (WorkflowWorker, ActivityWorker).",
                                 labels=["namespace", "task_queue", "worker_type"])
        free = GaugeMetricFamily("temporal_worker_task_slots_available", "Task slots free, by worker type.",
                                 labels=["namespace", "task_queue", "worker_type"])
        cache = GaugeMetricFamily("temporal_sticky_cache_size", "Workflow runs in the worker's cache.",
                                  labels=["namespace", "task_queue"])
        for w in sources:
            for kind in ("workflow", "activity"):
                n_used, n_free = w._slots_in_use(kind)
                used.add_metric([w.namespace, w.task_queue, WORKER_TYPE[kind]], n_used)
                free.add_metric([w.namespace, w.task_queue, WORKER_TYPE[kind]], n_free)
            cache.add_metric([w.namespace, w.task_queue], len(w._cache))
        yield used
        yield free
        yield cache


_families: "weakref.WeakKeyDictionary[Any, _Family]" = weakref.WeakKeyDictionary()
_families_lock = threading.Lock()


class WorkerMetrics:
    """One worker's metrics in a registry."""

    def __init__(self, registry: Any, worker: Any) -> None:
        with _families_lock:
            f = _families.get(registry)
            if f is None:
                f = _families[registry] = _Family(registry)
        self.f = f
        self.worker = worker
        self.labels = (worker.namespace, worker.task_queue)
        with f.lock:
            f.sources.append(worker)

    def _kind_labels(self, kind: str, task: dict) -> tuple:
        return self.labels + ((task.get("activity_type") or "",) if kind == "activity" else ())

    def task_started(self, kind: str, task: dict, scheduled: Optional[Any], started: Optional[Any]) -> None:
        """A task started: its schedule-to-start latency from the engine's times (queries are not measured)."""
        if kind not in self.f.schedule_to_start or scheduled is None or started is None:
            return
        seconds = max(0.0, (started - scheduled).total_seconds())
        self.f.schedule_to_start[kind].labels(*self._kind_labels(kind, task)).observe(seconds)

    def task_done(self, kind: str, task: dict, seconds: float) -> None:
        if kind in self.f.execution:
            self.f.execution[kind].labels(*self._kind_labels(kind, task)).observe(seconds)

    def poll_done(self, kinds: List[str], seconds: float, got_task: bool) -> None:
        wt = WORKER_TYPE["activity" if "activity" in kinds else "workflow"]
        self.f.poll.labels(*self.labels, wt, "task" if got_task else "empty").observe(seconds)

    def close(self) -> None:
        """The worker stopped: its counts so far stay in the totals, its gauge series go."""
        f = self.f
        with f.lock:
            if self.worker in f.sources:
                f.fold(self.worker)
                f.sources.remove(self.worker)

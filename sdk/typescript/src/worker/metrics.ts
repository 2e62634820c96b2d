/**
 * The worker's Prometheus metrics (WorkerOptions.metricsRegistry, a
 * prom-client Registry).  Named as Temporal's SDK metrics
 * (https://docs.temporal.io/references/sdk-metrics, temporal_ prefix) where
 * one exists, with histograms in seconds (Temporal's core SDK measures
 * milliseconds unless told to use seconds; Prometheus wants seconds).
 * Poll latency has no Temporal SDK name of its own (Temporal reports it as
 * temporal_long_request_latency of the poll RPCs): it is
 * durable_worker_poll_latency_seconds.  Every series is labelled with the
 * worker's namespace and task_queue.
 *
 * Cost: counters the worker already keeps (worker.stats) and gauges are
 * read when the registry is scraped (collect), so the task paths only add
 * a histogram observation per task and per poll.  Several workers may share
 * a registry (their series differ by task queue or by worker type); the
 * metrics are registered once per registry.  prom-client is an optional
 * peer dependency, loaded only when a registry is given.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerStats } from './host';

/** What metrics read from a worker at scrape time. */
export interface MetricsSource {
  readonly namespace: string;
  readonly taskQueue: string;
  readonly stats: WorkerStats;
  slotsUsed(kind: 'workflow' | 'activity'): number;
  slotsAvailable(kind: 'workflow' | 'activity'): number;
  cacheSize(): number;
  cacheEvictions(): number;
}

type Labels = { namespace: string; task_queue: string };
const WORKER_TYPE = { workflow: 'WorkflowWorker', activity: 'ActivityWorker' } as const;

/** The buckets of every latency histogram, in seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Family {
  sources: Set<MetricsSource>;
  /** What each source's counters stood at when last collected: counters grow by the difference. */
  last: WeakMap<MetricsSource, Record<string, number>>;
  /** By kind: workflow, activity. */
  scheduleToStart: Record<'workflow' | 'activity', Histogram<string>>;
  execution: Record<'workflow' | 'activity', Histogram<string>>;
  poll: Histogram<string>;
}

const families = new WeakMap<Registry, Family>();

function family(registry: Registry): Family {
  let f = families.get(registry);
  if (f) return f;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const prom: typeof import('prom-client') = require('prom-client');
  const sources = new Set<MetricsSource>();
  const last = new WeakMap<MetricsSource, Record<string, number>>();
  const labels = (s: MetricsSource): Labels => ({ namespace: s.namespace, task_queue: s.taskQueue });
  const registers = [registry];

  const gauge = (name: string, help: string, set: (g: Gauge<string>, s: MetricsSource) => void, labelNames: string[] = []) =>
    new prom.Gauge({
      name, help, registers, labelNames: ['namespace', 'task_queue', ...labelNames],
      collect() {
        this.reset();
        for (const s of sources) set(this, s);
      },
    });
  /** A counter fed at scrape time from a number the worker keeps. */
  const counter = (name: string, help: string, read: (s: MetricsSource) => number) =>
    new prom.Counter({
      name, help, registers, labelNames: ['namespace', 'task_queue'],
      collect(this: Counter<string>) {
        for (const s of sources) {
          const seen = last.get(s) ?? {};
          last.set(s, seen);
          const now = read(s);
          const delta = now - (seen[name] ?? 0);
          seen[name] = now;
          if (delta > 0) this.inc(labels(s), delta);
          else this.inc(labels(s), 0); // the series exists from the first scrape
        }
      },
    });

  gauge('temporal_worker_task_slots_used', 'Task slots in use, by worker type (WorkflowWorker, ActivityWorker).', (g, s) => {
    for (const k of ['workflow', 'activity'] as const) g.set({ ...labels(s), worker_type: WORKER_TYPE[k] }, s.slotsUsed(k));
  }, ['worker_type']);
  gauge('temporal_worker_task_slots_available', 'Task slots free, by worker type.', (g, s) => {
    for (const k of ['workflow', 'activity'] as const) g.set({ ...labels(s), worker_type: WORKER_TYPE[k] }, s.slotsAvailable(k));
  }, ['worker_type']);
  gauge('temporal_sticky_cache_size', 'Workflow runs in the worker\'s cache.', (g, s) => g.set(labels(s), s.cacheSize()));
  counter('temporal_sticky_cache_hit', 'Workflow tasks served by the cached run (no replay).', (s) => s.stats.cacheHits);
  counter('temporal_sticky_cache_miss', 'Workflow tasks that replayed the run from its first event.', (s) => s.stats.fullReplays);
  counter('temporal_sticky_cache_total_forced_eviction', 'Runs evicted from the cache to make room (least recently used).',
    (s) => s.cacheEvictions());
  counter('temporal_workflow_task_execution_failed', 'Workflow tasks that failed (reported with fail_workflow_task).',
    (s) => s.stats.failedWorkflowTasks);
  counter('temporal_activity_execution_failed', 'Activity attempts that failed (reported with fail_activity).',
    (s) => s.stats.failedActivityTasks);
  counter('durable_worker_tasks_polled', 'Tasks claimed with durable.poll_task (the rest came back from completions: eager dispatch).',
    (s) => s.stats.polledTasks);

  const histogram = (name: string, help: string, labelNames: string[]) =>
    new prom.Histogram({ name, help, registers, buckets: BUCKETS, labelNames: ['namespace', 'task_queue', ...labelNames] });
  f = {
    sources, last,
    scheduleToStart: {
      workflow: histogram('temporal_workflow_task_schedule_to_start_latency',
        'Seconds from a workflow task\'s scheduling to its start (the engine\'s clock).', []),
      activity: histogram('temporal_activity_schedule_to_start_latency',
        'Seconds from an activity task\'s scheduling to its start (the engine\'s clock).', ['activity_type']),
    },
    execution: {
      workflow: histogram('temporal_workflow_task_execution_latency',
        'Seconds a workflow task took in the worker, from its start to its completion committed.', []),
      activity: histogram('temporal_activity_execution_latency',
        'Seconds an activity attempt took in the worker, from its start to its completion or failure committed.', ['activity_type']),
    },
    poll: histogram('durable_worker_poll_latency_seconds',
      'Seconds one durable.poll_task call took (a long poll: up to pollWait when there is no task), by worker type and outcome.',
      ['worker_type', 'outcome']),
  };
  families.set(registry, f);
  return f;
}

/** One worker's metrics. */
export class WorkerMetrics {
  private readonly f: Family;
  private readonly labels: Labels;

  constructor(registry: Registry, private readonly source: MetricsSource) {
    this.f = family(registry);
    this.f.sources.add(source);
    this.labels = { namespace: source.namespace, task_queue: source.taskQueue };
  }

  private kindLabels(kind: 'workflow' | 'activity', activityType: string | null): Record<string, string> {
    return kind === 'activity' ? { ...this.labels, activity_type: activityType ?? '' } : this.labels;
  }

  /** A task started: its schedule-to-start latency from the engine's times (queries are not measured). */
  taskStarted(kind: string, activityType: string | null, scheduled: Date | null, started: Date | null): void {
    if ((kind !== 'workflow' && kind !== 'activity') || !scheduled || !started) return;
    const s = Math.max(0, (started.getTime() - scheduled.getTime()) / 1000);
    this.f.scheduleToStart[kind].observe(this.kindLabels(kind, activityType), s);
  }

  taskDone(kind: string, activityType: string | null, seconds: number): void {
    if (kind !== 'workflow' && kind !== 'activity') return;
    this.f.execution[kind].observe(this.kindLabels(kind, activityType), seconds);
  }

  pollDone(kinds: string[], seconds: number, gotTask: boolean): void {
    this.f.poll.observe({ ...this.labels, worker_type: WORKER_TYPE[kinds.includes('activity') ? 'activity' : 'workflow'], outcome: gotTask ? 'task' : 'empty' },
      seconds);
  }

  /** The worker stopped: its gauges go (its counters stay, as counters do). */
  close(): void {
    this.f.sources.delete(this.source);
  }
}

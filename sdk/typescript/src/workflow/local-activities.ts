/**
 * Local activities, the workflow side (runs in the sandbox, no Node API).
 *
 * As in Temporal (temporalio/sdk-core,
 * core/src/worker/workflow/machines/local_activity_state_machine.rs), a
 * local activity is run by the worker that runs the workflow task, while it
 * holds that task; no command is sent when it is scheduled.  Its outcome
 * comes back as a `localActivityResolved` job of an activation of its own
 * (one outcome per activation, in the order they arrive), and the workflow
 * records it with a `record_marker` command, marker "core_local_activity",
 * whose details are durable's JSON of Temporal's LocalActivityMarkerData
 * (seq, attempt, activity_id, activity_type, complete_time, backoff,
 * original_schedule_time) plus the result or the failure.
 *
 * Replay never runs a local activity again: the markers of the workflow task
 * an activation replays are handed to it (ActivationInput.localActivityMarkers),
 * and once the workflow blocks, the pending local activity the next marker
 * names is resolved from it, one at a time, exactly where the live run
 * resolved it.  Markers are matched by seq, not by position among the
 * commands (sdk-core's marker "special handling"); a marker whose seq,
 * activity id or type the code does not schedule is non-determinism.  A
 * local activity that replay leaves without a marker (the worker died while
 * running it, or it outlived a workflow task completed by a heartbeat) is
 * run when the first workflow task that is not replayed reaches it
 * (sdk-core's StartedNonReplayWFT).
 *
 * Rounds: every activation, and every resolution from a marker, is a round.
 * A local activity cancelled in the round that scheduled it never reached
 * the worker: it is dropped without a marker, live and on replay alike.
 */
import { ActivityFailure, CancelledFailure, FailureJSON, decodeFailure } from '../common/failure';
import { ActivityCancellationType, RetryState, decodeRetryState } from '../common/enums';
import { composeInterceptors } from '../common/interceptors';
import { Duration, msToNumber } from '../common/duration';
import { mapFailureDetails, valueFromStored } from '../common/payload';
import { argsToStored, valueFromStoredW } from './conversion';
import type { Activator, Job, RetryPolicy } from './internals';
import { CancellationScope, getActivator, rejectWhenCancelled, sleep, whenCancelled } from './internals';

/** Marker name of local activity markers (Temporal core's LOCAL_ACTIVITY_MARKER_NAME). */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** Default of LocalActivityOptions.localRetryThreshold (Temporal's: 1 minute). */
export const DEFAULT_LOCAL_RETRY_THRESHOLD_MS = 60_000;

/** Temporal's LocalActivityOptions. */
export interface LocalActivityOptions {
  /** Timeout of one attempt; at least one of startToCloseTimeout and scheduleToCloseTimeout is required. */
  startToCloseTimeout?: Duration;
  /** Timeout of all attempts together, from the first schedule (retries through timers included). */
  scheduleToCloseTimeout?: Duration;
  /** Accepted for Temporal's sake; a local activity starts at once (the worker does not queue it). */
  scheduleToStartTimeout?: Duration;
  retry?: RetryPolicy;
  /**
   * Backoffs up to this long are waited in the worker, within the workflow
   * task; a longer one ends the attempt: the workflow sleeps on a durable
   * timer and schedules the next attempt (default 1 minute).
   */
  localRetryThreshold?: Duration;
  /** TRY_CANCEL (default), WAIT_CANCELLATION_COMPLETED or ABANDON, as for activities. */
  cancellationType?: ActivityCancellationType;
  /** durable's: the marker's activity id (default the seq, which Temporal's TypeScript SDK always uses). */
  activityId?: string;
}

/** What the worker runs for one scheduled local activity (one seq, attempts from `attempt` on). */
export interface LocalActivityRequest {
  seq: number;
  activityId: string;
  activityType: string;
  /** Stored input, as schedule_activity's. */
  input: unknown;
  attempt: number;
  /** Epoch ms of the first attempt's schedule (kept across timer backoffs). */
  originalScheduleTime: number;
  startToCloseMs?: number;
  scheduleToCloseMs?: number;
  retry: { initialIntervalMs: number; backoffCoefficient: number; maximumIntervalMs: number; maximumAttempts: number; nonRetryableErrorTypes: string[] };
  localRetryThresholdMs: number;
}

/** A cancellation the worker acts on: stop the attempt (cancel) and/or forget it (drop). */
export interface LocalActivityCancel {
  seq: number;
  cancel: boolean;
  drop: boolean;
}

/** The marker's details (durable's JSON of Temporal's LocalActivityMarkerData, plus the outcome). */
export interface LocalActivityMarker {
  seq: number;
  attempt: number;
  activity_id: string;
  activity_type: string;
  complete_time: string | null;
  /** Set when the attempt failed and the next one waits on a durable timer this long (protobuf-style duration). */
  backoff: string | null;
  original_schedule_time: string;
  result?: unknown;
  failure?: FailureJSON;
  retry_state?: string;
}

interface PendingLocal {
  activityId: string;
  activityType: string;
  cancellationType: string;
  round: number;
  /** When it was scheduled, workflow time (a marker's complete_time is that plus its run time). */
  scheduledNow: number;
  request: LocalActivityRequest;
  handed: boolean;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Each run's local activity state (kept beside its activator). */
interface LocalState {
  pending: Map<number, PendingLocal>;
  /** Cancelled without waiting while replaying: their markers are still to come, to be checked, not applied. */
  awaitingMarker: Map<number, PendingLocal>;
  cancels: LocalActivityCancel[];
  /** Replay: the markers of the task being replayed, in history order, not yet applied. */
  markers: LocalActivityMarker[];
  round: number;
  nonDeterminism?: string;
}

const states = new WeakMap<Activator, LocalState>();

function stateOf(a: Activator): LocalState {
  let s = states.get(a);
  if (!s) {
    s = { pending: new Map(), awaitingMarker: new Map(), cancels: [], markers: [], round: 0 };
    states.set(a, s);
  }
  return s;
}

/** Thrown into the retry loop of scheduleLocalActivity: wait `backoffMs` on a timer, then attempt `attempt`. */
export class LocalActivityDoBackoff extends Error {
  constructor(readonly attempt: number, readonly backoffMs: number, readonly originalScheduleTime: number) {
    super('local activity backoff');
  }
  override get name(): string {
    return 'LocalActivityDoBackoff';
  }
}

/** The outbound interceptors' input of a local activity (Temporal's LocalActivityInput). */
export interface LocalActivityInput {
  readonly activityType: string;
  readonly args: unknown[];
  readonly options: LocalActivityOptions;
  readonly headers: Record<string, any>;
  readonly seq: number;
  readonly attempt: number;
  readonly originalScheduleTime?: number;
}

/**
 * Run a local activity; the retry loop around timer backoffs is here, as in
 * Temporal's workflow.ts scheduleLocalActivity: each attempt after a timer
 * is a new schedule (a new seq) carrying the attempt number and the first
 * schedule's time.
 */
export async function scheduleLocalActivity(activityType: string, args: unknown[], options: LocalActivityOptions): Promise<unknown> {
  const a = getActivator();
  let attempt = 1;
  let originalScheduleTime: number | undefined;
  for (;;) {
    const seq = ++a.seq.activity; // shared with activities, as Temporal's nextSeqs.activity
    const next = composeInterceptors(a.outbound, 'scheduleLocalActivity', (input) => scheduleLocal(a, input));
    try {
      return await next({ activityType, args, options, headers: {}, seq, attempt, originalScheduleTime });
    } catch (e) {
      if (!(e instanceof LocalActivityDoBackoff)) throw e;
      await sleep(e.backoffMs);
      attempt = e.attempt;
      originalScheduleTime = e.originalScheduleTime;
    }
  }
}

function requestOf(a: Activator, input: LocalActivityInput, activityId: string): LocalActivityRequest {
  const o = input.options;
  const r = o.retry ?? {};
  const initial = r.initialInterval !== undefined ? msToNumber(r.initialInterval) : 1000;
  return {
    seq: input.seq,
    activityId,
    activityType: input.activityType,
    input: argsToStored(a.payloadConverter, input.args, input.headers),
    attempt: input.attempt,
    originalScheduleTime: input.originalScheduleTime ?? a.now,
    startToCloseMs: o.startToCloseTimeout !== undefined ? msToNumber(o.startToCloseTimeout) : undefined,
    scheduleToCloseMs: o.scheduleToCloseTimeout !== undefined ? msToNumber(o.scheduleToCloseTimeout) : undefined,
    retry: {
      initialIntervalMs: initial,
      backoffCoefficient: r.backoffCoefficient ?? 2,
      maximumIntervalMs: r.maximumInterval !== undefined ? msToNumber(r.maximumInterval) : 100 * initial,
      maximumAttempts: r.maximumAttempts ?? 0,
      nonRetryableErrorTypes: [...(r.nonRetryableErrorTypes ?? [])],
    },
    localRetryThresholdMs: o.localRetryThreshold !== undefined ? msToNumber(o.localRetryThreshold) : DEFAULT_LOCAL_RETRY_THRESHOLD_MS,
  };
}

function cancelledFailure(p: { activityType: string; activityId: string }, err: unknown): ActivityFailure {
  return new ActivityFailure('Local activity cancelled', p.activityType, p.activityId, RetryState.CANCEL_REQUESTED, undefined,
    err instanceof CancelledFailure ? err : new CancelledFailure('Local activity cancelled'));
}

function scheduleLocal(a: Activator, input: LocalActivityInput): Promise<unknown> {
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) {
    return new Promise((_, reject) => rejectWhenCancelled(scope, reject));
  }
  const st = stateOf(a);
  const activityId = input.options.activityId ?? String(input.seq);
  const cancellationType = input.options.cancellationType ?? 'TRY_CANCEL';
  return new Promise((resolve, reject) => {
    const p: PendingLocal = {
      activityId, activityType: input.activityType, cancellationType, round: st.round, scheduledNow: a.now,
      request: requestOf(a, input, activityId), handed: false, resolve, reject,
    };
    st.pending.set(input.seq, p);
    whenCancelled(scope, (err) => {
      if (st.pending.get(input.seq) !== p) return;
      if (p.round === st.round) {
        // never reached the worker: nothing ran, nothing to record
        st.pending.delete(input.seq);
        reject(cancelledFailure(p, err));
        return;
      }
      if (cancellationType === 'WAIT_CANCELLATION_COMPLETED') {
        // the attempt is asked to stop; its outcome (cancelled, or not) is recorded when it comes
        if (!a.isReplaying) st.cancels.push({ seq: input.seq, cancel: true, drop: false });
        return;
      }
      st.pending.delete(input.seq);
      if (a.isReplaying) st.awaitingMarker.set(input.seq, p);
      else st.cancels.push({ seq: input.seq, cancel: cancellationType === 'TRY_CANCEL', drop: true });
      const failure = cancelledFailure(p, err);
      recordMarker(a, {
        seq: input.seq, attempt: p.request.attempt, activity_id: activityId, activity_type: p.activityType, complete_time: null,
        backoff: null, original_schedule_time: new Date(p.request.originalScheduleTime).toISOString(),
        failure: { message: 'Local activity cancelled', type: 'CancelledFailure', non_retryable: true }, retry_state: 'CANCEL_REQUESTED',
      });
      reject(failure);
    });
  });
}

function recordMarker(a: Activator, details: LocalActivityMarker): void {
  a.pushCommand({ type: 'record_marker', marker_name: LOCAL_ACTIVITY_MARKER, details });
}

function mismatch(p: PendingLocal, m: LocalActivityMarker): string | undefined {
  if (m.activity_id !== p.activityId) {
    return `local activity marker (seq ${m.seq}) has activity id "${m.activity_id}", but the workflow code scheduled "${p.activityId}"`;
  }
  if (m.activity_type !== p.activityType) {
    return `local activity marker (seq ${m.seq}) has activity type "${m.activity_type}", but the workflow code scheduled "${p.activityType}"`;
  }
  return undefined;
}

/** Apply one outcome (a marker's details): the marker command, the workflow's clock, the promise. */
function resolveFrom(a: Activator, st: LocalState, p: PendingLocal, m: LocalActivityMarker): void {
  st.pending.delete(m.seq);
  recordMarker(a, m);
  if (m.complete_time) a.now = Math.max(a.now, Date.parse(m.complete_time));
  const c = a.payloadConverter;
  if (m.failure) {
    if (m.backoff) {
      p.reject(new LocalActivityDoBackoff(m.attempt + 1, msToNumber(m.backoff), Date.parse(m.original_schedule_time)));
      return;
    }
    const f = c ? mapFailureDetails(m.failure, (v) => valueFromStored(c, v)) : m.failure;
    const cause = decodeFailure(f);
    p.reject(new ActivityFailure(`Local activity failed: ${cause.message}`, p.activityType, p.activityId,
      decodeRetryState(m.retry_state) as RetryState, undefined, cause));
    return;
  }
  p.resolve(valueFromStoredW(c, m.result ?? null));
}

/** The marker the worker's outcome of a local activity makes (a `localActivityResolved` job's `marker`, built here). */
export function applyLocalJob(a: Activator, job: Job): void {
  const st = stateOf(a);
  const p = st.pending.get(job.seq);
  if (!p) return; // cancelled without waiting meanwhile
  const m: LocalActivityMarker = {
    seq: job.seq,
    attempt: job.attempt,
    activity_id: p.activityId,
    activity_type: p.activityType,
    complete_time: new Date(p.scheduledNow + Math.max(0, job.runtimeMs ?? 0)).toISOString(),
    backoff: job.backoffMs !== undefined && job.backoffMs !== null ? `${job.backoffMs / 1000}s` : null,
    original_schedule_time: new Date(p.request.originalScheduleTime).toISOString(),
  };
  if (job.failure) {
    m.failure = job.failure;
    m.retry_state = job.retryState ?? 'MAXIMUM_ATTEMPTS_REACHED';
  } else {
    m.result = job.result ?? null;
  }
  resolveFrom(a, st, p, m);
}

/** At the start of each activation: a new round; the markers of the task it replays. */
export function beginLocalActivation(a: Activator, markers: LocalActivityMarker[] | undefined): void {
  if (!markers?.length && !states.has(a)) return;
  const st = stateOf(a);
  st.round++;
  st.markers = markers ? [...markers] : [];
}

/**
 * Once the workflow is blocked, while replaying: resolve the pending local
 * activity the next marker names (true: run the workflow again).  Markers
 * of local activities cancelled without waiting are checked and passed over.
 */
export function resolveNextFromMarker(a: Activator): boolean {
  const st = states.get(a);
  if (!st) return false;
  while (st.markers.length) {
    const m = st.markers[0];
    const cancelled = st.awaitingMarker.get(m.seq);
    if (cancelled) {
      st.markers.shift();
      st.awaitingMarker.delete(m.seq);
      st.nonDeterminism ??= mismatch(cancelled, m);
      continue;
    }
    const p = st.pending.get(m.seq);
    if (!p) return false;
    st.markers.shift();
    const wrong = mismatch(p, m);
    if (wrong) {
      st.nonDeterminism ??= wrong;
      return false;
    }
    st.round++;
    resolveFrom(a, st, p, m);
    return true;
  }
  return false;
}

/** What collect() adds for the worker: local activities to start, cancellations, non-determinism found. */
export function collectLocal(a: Activator): { localActivities?: LocalActivityRequest[]; localCancels?: LocalActivityCancel[]; nonDeterminism?: string } {
  const st = states.get(a);
  if (!st) return {};
  const out: { localActivities?: LocalActivityRequest[]; localCancels?: LocalActivityCancel[]; nonDeterminism?: string } = {};
  if (a.isReplaying && st.markers.length && !st.nonDeterminism) {
    const m = st.markers[0];
    st.nonDeterminism = `history has a local activity marker (seq ${m.seq}, activity type "${m.activity_type}") ` +
      'that the workflow code did not schedule';
  }
  if (st.nonDeterminism) {
    out.nonDeterminism = st.nonDeterminism;
    st.nonDeterminism = undefined;
  }
  if (!a.isReplaying && !a.completed) {
    const reqs: LocalActivityRequest[] = [];
    for (const p of st.pending.values()) {
      if (p.handed) continue;
      p.handed = true;
      reqs.push(p.request);
    }
    if (reqs.length) out.localActivities = reqs;
  }
  if (st.cancels.length) {
    out.localCancels = st.cancels;
    st.cancels = [];
  }
  return out;
}

/** Whether a marker event's or command's details are a local activity's (replay.ts). */
export function isLocalActivityMarkerName(name: unknown): boolean {
  return name === LOCAL_ACTIVITY_MARKER;
}

type AnyFunction = (...args: any[]) => any;
type LocalActivityInterfaceFor<T> = {
  [K in keyof T]: T[K] extends AnyFunction ? (...args: Parameters<T[K]>) => Promise<Awaited<ReturnType<T[K]>>> : never;
};

/**
 * Local activities as functions that run them (Temporal's
 * proxyLocalActivities): `const { lookup } = proxyLocalActivities<typeof
 * activities>({ startToCloseTimeout: '5s' })`.  The worker running the
 * workflow runs them; see sdk/typescript/README.md, "Local activities".
 */
export function proxyLocalActivities<A = Record<string, AnyFunction>>(options: LocalActivityOptions): LocalActivityInterfaceFor<A> {
  if (!options || (options.startToCloseTimeout === undefined && options.scheduleToCloseTimeout === undefined)) {
    throw new TypeError('proxyLocalActivities needs startToCloseTimeout or scheduleToCloseTimeout');
  }
  return new Proxy({} as LocalActivityInterfaceFor<A>, {
    get(_t, prop) {
      if (typeof prop !== 'string') return undefined;
      if (prop === 'then') return undefined; // not a thenable
      return (...args: unknown[]) => scheduleLocalActivity(prop, args, options);
    },
  });
}

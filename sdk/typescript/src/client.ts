/**
 * The client: start workflows, signal, query, update, cancel, terminate,
 * describe, and wait for results — thin wrappers over the engine's SQL
 * client API.
 * Every call acts in the client's namespace (the engine's trailing
 * `namespace` argument, passed by name).  Each call goes through the client's interceptors (Temporal's
 * WorkflowClientInterceptor: start, signal, signalWithStart, query, startUpdate, cancel,
 * terminate, describe) and its values through its data converter.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Duration, msToNumber, toOptionalInterval } from './common/duration';
import { WorkflowIdReusePolicy, encodeWorkflowIdReusePolicy } from './common/enums';
import { Next, composeInterceptors } from './common/interceptors';
import { DataConverter, Headers, headersToJSON } from './common/payload';
import { SearchAttributePair, TypedSearchAttributes, pairsToStored } from './common/search-attributes';
import { Priority, PriorityOption, checkCapabilities, priorityOf } from './common/routing';
import { LoadedDataConverter } from './converter';
import {
  isConnectionError, mapError, NamespaceNotFoundError, QueryNotSupportedError, WorkflowExecutionAlreadyStartedError, WorkflowFailedError,
  WorkflowNotRunningError, WorkflowStillRunningError, WorkflowUpdateFailedError,
} from './errors';
import { FailureJSON, decodeFailure } from './common/failure';
import { RetryPolicy, retryPolicy } from './workflow/internals';
import type { HistoryEvent } from './worker/replay';
import { ScheduleClient } from './schedule-client';

// what Temporal code imports from @temporalio/client
export * from './errors';
export {
  ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TerminatedFailure, TimeoutFailure,
} from './common/failure';
export { RetryState, TimeoutType } from './common/enums';
export { VersioningBehavior } from './common/routing';
export type { Priority } from './common/routing';
export * from './schedule-client';

export interface ClientOptions {
  connectionString?: string;
  /**
   * The namespace every call of this client acts in (default "default"),
   * as Temporal's ClientOptions.namespace.  The role needs the `client`
   * capability there (durable.grant_namespace); workflow ids, task queues
   * and runs of other namespaces are invisible to it.
   */
  namespace?: string;
  /** An existing pool to use instead of connectionString. */
  pool?: pg.Pool;
  /** Temporal's client interceptors: `{ workflow: [WorkflowClientInterceptor, ...] }`, the first the outermost. */
  interceptors?: ClientInterceptors;
  /** Payload converter and codecs; the workers of these workflows need the same. */
  dataConverter?: DataConverter;
}

export interface WorkflowExecution {
  workflowId: string;
  runId?: string;
}

export interface WorkflowStartInput {
  readonly workflowType: string;
  readonly headers: Headers;
  readonly options: WorkflowStartOptions & { workflowId: string };
}

export interface WorkflowSignalInput {
  readonly signalName: string;
  readonly args: unknown[];
  readonly workflowExecution: WorkflowExecution;
  readonly headers: Headers;
}

export interface WorkflowSignalWithStartInput {
  readonly workflowType: string;
  readonly signalName: string;
  readonly signalArgs: unknown[];
  readonly headers: Headers;
  readonly options: SignalWithStartOptions;
}

export interface WorkflowQueryInput {
  readonly queryType: string;
  readonly args: unknown[];
  readonly workflowExecution: WorkflowExecution;
  readonly headers: Headers;
}

export interface WorkflowCancelInput {
  readonly workflowExecution: WorkflowExecution;
  readonly reason?: string;
}

export interface WorkflowTerminateInput {
  readonly workflowExecution: WorkflowExecution;
  readonly reason?: string;
}

export interface WorkflowDescribeInput {
  readonly workflowExecution: WorkflowExecution;
}

/**
 * The stages of an update (Temporal's WorkflowUpdateStage): ADMITTED (the
 * engine holds it, not yet durably), ACCEPTED (the validator passed, the
 * history has WorkflowExecutionUpdateAccepted), COMPLETED (the handler
 * returned or threw).
 */
export const WorkflowUpdateStage = {
  ADMITTED: 'ADMITTED',
  ACCEPTED: 'ACCEPTED',
  COMPLETED: 'COMPLETED',
} as const;
export type WorkflowUpdateStage = (typeof WorkflowUpdateStage)[keyof typeof WorkflowUpdateStage];

/** Options of an update call (Temporal's WorkflowUpdateOptions). */
export interface WorkflowUpdateOptions {
  /** The update's id (default: a random uuid); the engine applies an update id once per run. */
  readonly updateId?: string;
}

/** An update's outcome as the engine stores it: the handler's result, or a failure. */
export interface WorkflowUpdateOutcome {
  readonly success?: unknown;
  readonly failure?: FailureJSON;
}

/** An update sent to a workflow (Temporal's WorkflowStartUpdateInput). */
export interface WorkflowStartUpdateInput {
  readonly updateName: string;
  readonly args: unknown[];
  readonly workflowExecution: WorkflowExecution;
  readonly headers: Headers;
  readonly options: WorkflowUpdateOptions & { waitForStage: WorkflowUpdateStage };
}

/** What an update call learnt (Temporal's WorkflowStartUpdateOutput): the outcome when it was already known. */
export interface WorkflowStartUpdateOutput {
  readonly updateId: string;
  readonly workflowRunId?: string;
  readonly outcome?: WorkflowUpdateOutcome;
}

/** An update that reached (at least) the stage asked for (Temporal's WorkflowUpdateHandle). */
export interface WorkflowUpdateHandle<Ret> {
  readonly updateId: string;
  readonly workflowId: string;
  readonly workflowRunId?: string;
  /** The handler's result; WorkflowUpdateFailedError if it was rejected or its handler failed. */
  result(): Promise<Ret>;
}

/** An update definition (defineUpdate of durable-sdk/workflow) or its name. */
export type UpdateRef<Ret, Args extends unknown[]> = string | { name: string; __ret?: Ret; __args?: Args };

/** Temporal's WorkflowClientInterceptor: each method wraps one client call. */
export interface WorkflowClientInterceptor {
  /** Resolves to the run id. */
  start?(input: WorkflowStartInput, next: (input: WorkflowStartInput) => Promise<string>): Promise<string>;
  signal?(input: WorkflowSignalInput, next: (input: WorkflowSignalInput) => Promise<void>): Promise<void>;
  /** Resolves to the run id. */
  signalWithStart?(input: WorkflowSignalWithStartInput, next: (input: WorkflowSignalWithStartInput) => Promise<string>): Promise<string>;
  query?(input: WorkflowQueryInput, next: (input: WorkflowQueryInput) => Promise<unknown>): Promise<unknown>;
  cancel?(input: WorkflowCancelInput, next: (input: WorkflowCancelInput) => Promise<void>): Promise<void>;
  terminate?(input: WorkflowTerminateInput, next: (input: WorkflowTerminateInput) => Promise<void>): Promise<void>;
  describe?(input: WorkflowDescribeInput, next: (input: WorkflowDescribeInput) => Promise<WorkflowDescription>): Promise<WorkflowDescription>;
  /** An update: startUpdate, executeUpdate (and the update of executeUpdateWithStart). */
  startUpdate?(input: WorkflowStartUpdateInput, next: (input: WorkflowStartUpdateInput) => Promise<WorkflowStartUpdateOutput>): Promise<WorkflowStartUpdateOutput>;
}

export interface ClientInterceptors {
  workflow?: WorkflowClientInterceptor[];
}

type WorkflowRef = string | ((...args: any[]) => any);
type Args<F> = F extends (...args: infer A) => any ? A : unknown[];
type Result<F> = F extends (...args: any[]) => Promise<infer R> ? R : unknown;

export interface WorkflowStartOptions<A extends unknown[] = unknown[]> {
  workflowId?: string;
  taskQueue: string;
  args?: A;
  workflowExecutionTimeout?: Duration;
  workflowRunTimeout?: Duration;
  workflowTaskTimeout?: Duration;
  /** The engine's names, or Temporal's WorkflowIdReusePolicy values (ALLOW_DUPLICATE, …). */
  workflowIdReusePolicy?: 'allow_duplicate' | 'allow_duplicate_failed_only' | 'reject_duplicate' | WorkflowIdReusePolicy;
  workflowIdConflictPolicy?: 'fail' | 'use_existing' | 'terminate_existing';
  retry?: RetryPolicy;
  startDelay?: Duration;
  requestId?: string;
  searchAttributes?: Record<string, unknown>;
  /** Temporal's typed search attributes (merged over searchAttributes). */
  typedSearchAttributes?: SearchAttributePair[] | TypedSearchAttributes;
  memo?: Record<string, unknown>;
  /**
   * Temporal's Priority: { priorityKey 1 (first) .. 5 (last), fairnessKey,
   * fairnessWeight }; a bare number is the priority key.  The run's tasks
   * are dispatched in this order; its activities and children inherit what
   * they do not set.
   */
  priority?: PriorityOption;
  /**
   * The run's workflow tasks go only to workers whose capabilities
   * (WorkerOptions.capabilities) contain this object, e.g. { gpu: true }
   * (a durable extension; not inherited by activities or children).
   */
  requiredCapabilities?: Record<string, unknown>;
}

/** searchAttributes and typedSearchAttributes as the engine's jsonb object. */
function searchAttributesOf(o: WorkflowStartOptions): Record<string, unknown> | undefined {
  const t = o.typedSearchAttributes;
  if (!t) return o.searchAttributes;
  const typed = t instanceof TypedSearchAttributes ? t.toStored() : pairsToStored(t);
  return { ...o.searchAttributes, ...typed };
}

export interface SignalWithStartOptions<A extends unknown[] = unknown[], S extends unknown[] = unknown[]> extends WorkflowStartOptions<A> {
  workflowId: string;
  signal: string | { name: string };
  signalArgs?: S;
}

export interface WorkflowDescription {
  workflowId: string;
  runId: string;
  type: string;
  taskQueue: string;
  status: string;
  startTime: Date;
  closeTime: Date | null;
  historyLength: number;
  input: unknown;
  result: unknown;
  failure: unknown;
  attempt: number;
  cancelRequested: boolean;
  searchAttributes: Record<string, unknown>;
  /** The search attributes, typed (types inferred: the engine records none). */
  typedSearchAttributes: TypedSearchAttributes;
  memo: unknown;
  firstRunId: string;
  previousRunId: string | null;
  nextRunId: string | null;
  pendingWorkflowTask: unknown;
  pendingActivities: any[];
  pendingTimers: any[];
  /**
   * The run's children still open: {workflow_id, run_id, workflow_type,
   * initiated_event_id, started_event_id, parent_close_policy} (Temporal's
   * pendingChildren); [] on an engine without child workflows.
   */
  pendingChildren: any[];
  /**
   * The build id the run is pinned to (durable.workflows.build_id: the
   * queue's current or ramping build when it started, or the build an
   * AUTO_UPGRADE run moved to); null for an unversioned run or an engine
   * without versioning.
   */
  buildId: string | null;
  /** What the run's workers declared: 'pinned', 'auto_upgrade', or null (not yet, or unversioned). */
  versioningBehavior: string | null;
}

function typeName(w: WorkflowRef): string {
  if (typeof w === 'string') return w;
  if (typeof w === 'function' && w.name) return w.name;
  throw new TypeError('workflow must be a workflow function or its name');
}

function nameOf(def: string | { name: string }): string {
  return typeof def === 'string' ? def : def.name;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/**
 * A start's priority key, and its other routing arguments (fairness_key,
 * fairness_weight, required_capabilities: durable 0.3's trailing arguments
 * of start_workflow and signal_with_start_workflow, after namespace) as
 * named arguments from parameter $first on, only those that are set (an
 * older engine has none of them).
 */
function routingArgs(o: WorkflowStartOptions, first: number): { priorityKey: number | null; sql: string; params: unknown[] } {
  const p: Priority | undefined = priorityOf(o.priority);
  const caps = checkCapabilities(o.requiredCapabilities, 'requiredCapabilities');
  let sql = '';
  const params: unknown[] = [];
  const add = (name: string, cast: string, v: unknown) => {
    params.push(v);
    sql += `, ${name} => $${first + params.length - 1}${cast}`;
  };
  if (p?.fairnessKey !== undefined && p.fairnessKey !== null && p.fairnessKey !== '') add('fairness_key', '::text', p.fairnessKey);
  if (p?.fairnessWeight !== undefined && p.fairnessWeight !== null) add('fairness_weight', '::real', p.fairnessWeight);
  if (caps) add('required_capabilities', '::jsonb', JSON.stringify(caps));
  return { priorityKey: p?.priorityKey ?? null, sql, params };
}

/**
 * Where a statement of the client takes its namespace, after the last
 * argument: Client.query makes it `, namespace => $n` with the namespace as
 * the last parameter (by name, so the arguments before it cannot shift).
 * Left as it is on an engine without namespaces (durable < 0.3), where it
 * is an SQL comment.
 */
const NS = '/*namespace*/';

export class WorkflowHandle<F = unknown> {
  constructor(
    private readonly client: Client,
    readonly workflowId: string,
    /** The run this handle is bound to (getHandle with a runId), else undefined: the latest run. */
    readonly runId: string | undefined,
    /** For handles from start(): the run started; result() follows its chain. */
    readonly firstExecutionRunId?: string,
  ) {}

  /**
   * Wait for the result, following continue-as-new; throws
   * WorkflowFailedError (and subclasses) if it did not complete.  A workflow
   * that returned nothing (undefined) gives undefined, one that returned
   * null gives null, as in Temporal.  The wait is durable.workflow_result's:
   * the engine reads the run's row when it wakes (a close notification only
   * wakes it), so a forged NOTIFY on durable_workflow_closed cannot make
   * this resolve; the SDK itself does not LISTEN.
   */
  async result(): Promise<Result<F>> {
    const run = this.runId ?? this.firstExecutionRunId ?? null;
    let backoff = 100;
    let lostSince: number | undefined;
    for (;;) {
      try {
        // SQL NULL: the completion had no result (the workflow returned undefined); JSON null: it
        // returned null (with a data converter both are payloads of their own)
        const rows = await this.client.query(
          `SELECT r, r IS NULL AS none
             FROM durable.workflow_result(workflow_id => $1, run_id => $2::uuid, wait => $3::interval${NS}) AS r`,
          [this.workflowId, run, '30 seconds']);
        return (rows[0].none ? undefined : await this.client.dataConverter.fromStored(rows[0].r)) as Result<F>;
      } catch (e) {
        if (e instanceof WorkflowStillRunningError) continue;
        if (e instanceof WorkflowFailedError) await this.client.dataConverter.decodeErrorDetails(e.cause);
        // the server restarting is not the workflow's outcome: keep waiting (for up to 2 minutes)
        if (isConnectionError(e)) {
          lostSince ??= Date.now();
          if (Date.now() - lostSince < 120_000) {
            await new Promise((r) => setTimeout(r, backoff));
            backoff = Math.min(backoff * 2, 2000);
            continue;
          }
        }
        throw e;
      }
    }
  }

  private get execution(): WorkflowExecution {
    return { workflowId: this.workflowId, runId: this.runId };
  }

  async signal<A extends unknown[]>(def: string | { name: string }, ...args: A): Promise<void> {
    const next = this.client.intercept('signal', async (input) => {
      const payload = await this.client.dataConverter.argsToInput(input.args, headersToJSON(input.headers));
      await this.client.query(
        `SELECT durable.signal_workflow(workflow_id => $1, signal_name => $2, payload => $3::jsonb, run_id => $4::uuid${NS})`,
        [input.workflowExecution.workflowId, input.signalName, JSON.stringify(payload), input.workflowExecution.runId ?? null]);
    });
    await next({ signalName: nameOf(def), args, workflowExecution: this.execution, headers: {} });
  }

  /**
   * Ask a worker to run a query handler against the workflow's state (running
   * or closed).  With a definition from defineQuery the result and argument
   * types are inferred, as in Temporal.
   */
  async query<R = unknown, A extends unknown[] = unknown[]>(def: string | { name: string; __ret?: R; __args?: A }, ...args: A): Promise<R> {
    return this.queryWithOptions<R>(def, args);
  }

  /**
   * Queries see every signal accepted before them (Temporal: "Queries are
   * strongly consistent ... the state of all confirmed Events that came in
   * before the Query was sent").  The engine hands a query the run's stored
   * history, and a signal that arrives while a workflow task runs is
   * buffered outside it until that task completes; so, as Temporal's server
   * does, a query waits for the workflow task running when it is sent (not
   * for later ones) before it is asked.
   */
  async queryWithOptions<R = unknown>(def: string | { name: string }, args: unknown[], options?: { timeout?: Duration }): Promise<R> {
    const timeoutMs = msToNumber(options?.timeout ?? '10s');
    const deadline = Date.now() + timeoutMs;
    try {
      const dc = this.client.dataConverter;
      const next = this.client.intercept('query', async (input) => {
        await this.waitForRunningWorkflowTask(input.workflowExecution, deadline);
        const payload = await dc.argsToInput(input.args, headersToJSON(input.headers));
        const left = Math.max(1, deadline - Date.now());
        const rows = await this.client.query(
          `SELECT durable.query_workflow(workflow_id => $1, query_name => $2, args => $3::jsonb, timeout => $4::interval,
                  run_id => $5::uuid${NS}) AS r`, [
            input.workflowExecution.workflowId, input.queryType, JSON.stringify(payload), toOptionalInterval(left),
            input.workflowExecution.runId ?? null,
          ]);
        return dc.fromStored(rows[0].r);
      });
      return (await next({ queryType: nameOf(def), args, workflowExecution: this.execution, headers: {} })) as R;
    } catch (e) {
      if ((e as any)?.code === '42883' && /query_workflow/.test((e as Error).message)) {
        throw new QueryNotSupportedError('this engine has no durable.query_workflow', '42883');
      }
      throw e;
    }
  }

  /**
   * If a workflow task of the run is running, wait until it is no longer
   * (completed, failed or timed out) or `deadline` passes: polls
   * describe_workflow, every 5 ms at first, backing off to 100 ms.
   */
  private async waitForRunningWorkflowTask(e: WorkflowExecution, deadline: number): Promise<void> {
    const running = async (): Promise<string | null> => {
      const rows = await this.client.query(
        `SELECT d.pending_workflow_task->>'state' AS state, d.pending_workflow_task->>'started_time' AS started
           FROM durable.describe_workflow(workflow_id => $1, run_id => $2::uuid${NS}) d`,
        [e.workflowId, e.runId ?? null]);
      const r = rows[0];
      return r && r.state === 'started' ? `${r.started}` : null;
    };
    const first = await running();
    if (first === null) return;
    let pause = 5;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
      pause = Math.min(pause * 2, 100);
      if ((await running()) !== first) return;
    }
  }

  /**
   * Send an update and wait for its result (Temporal's executeUpdate).
   * WorkflowUpdateFailedError when the validator rejected it or the handler
   * threw a failure; WorkflowNotRunningError (DU003) when the workflow is
   * closed or closes before the update completes.
   */
  async executeUpdate<Ret, Args extends unknown[] = []>(def: UpdateRef<Ret, Args>, options?: WorkflowUpdateOptions & { args?: Args }): Promise<Ret> {
    const handle = await this.sendUpdate<Ret, Args>(def, WorkflowUpdateStage.COMPLETED, options);
    return handle.result();
  }

  /**
   * Send an update and wait until it is accepted (or rejected): a handle
   * whose result() waits for its completion (Temporal's startUpdate; as
   * there, waitForStage must be ACCEPTED).
   */
  async startUpdate<Ret, Args extends unknown[] = []>(def: UpdateRef<Ret, Args>,
    options: WorkflowUpdateOptions & { args?: Args; waitForStage: typeof WorkflowUpdateStage.ACCEPTED }): Promise<WorkflowUpdateHandle<Ret>> {
    if (options?.waitForStage !== WorkflowUpdateStage.ACCEPTED) {
      throw new TypeError(`startUpdate: waitForStage must be WorkflowUpdateStage.ACCEPTED, not ${String(options?.waitForStage)}`);
    }
    return this.sendUpdate<Ret, Args>(def, WorkflowUpdateStage.ACCEPTED, options);
  }

  /** @internal An update through the interceptors, waited for until `stage`; its handle. */
  async sendUpdate<Ret, Args extends unknown[]>(def: UpdateRef<Ret, Args>, stage: WorkflowUpdateStage,
    options?: WorkflowUpdateOptions & { args?: Args }): Promise<WorkflowUpdateHandle<Ret>> {
    const name = nameOf(def);
    const next = this.client.intercept('startUpdate', async (input) => {
      const payload = await this.client.dataConverter.argsToInput(input.args, headersToJSON(input.headers));
      const request: UpdateRequest = {
        workflowId: input.workflowExecution.workflowId, runId: input.workflowExecution.runId, name: input.updateName,
        input: payload, updateId: input.options.updateId ?? randomUUID(),
      };
      const stageWanted = input.options.waitForStage === WorkflowUpdateStage.COMPLETED ? 'completed' : 'accepted';
      const r = await this.client.updateUntil(request, stageWanted);
      return { updateId: request.updateId, workflowRunId: input.workflowExecution.runId, outcome: r.outcome, request } as WorkflowStartUpdateOutput;
    });
    const out = await next({
      updateName: name, args: options?.args ?? [], workflowExecution: this.execution, headers: {},
      options: { updateId: options?.updateId, waitForStage: stage },
    });
    // the request the final handler sent (an interceptor may have changed it), for result()'s polls
    const request: UpdateRequest = (out as any).request ?? {
      workflowId: this.workflowId, runId: this.runId, name, updateId: out.updateId,
      input: await this.client.dataConverter.argsToInput(options?.args ?? [], undefined),
    };
    return this.client.updateHandle<Ret>(request, out.outcome);
  }

  async cancel(reason?: string): Promise<void> {
    const next = this.client.intercept('cancel', async (input) => {
      await this.client.query(`SELECT durable.cancel_workflow(workflow_id => $1, reason => $2, run_id => $3::uuid${NS})`,
        [input.workflowExecution.workflowId, input.reason ?? null, input.workflowExecution.runId ?? null]);
    });
    await next({ workflowExecution: this.execution, reason });
  }

  async terminate(reason?: string): Promise<void> {
    const next = this.client.intercept('terminate', async (input) => {
      await this.client.query(`SELECT durable.terminate_workflow(workflow_id => $1, reason => $2, run_id => $3::uuid${NS})`,
        [input.workflowExecution.workflowId, input.reason ?? null, input.workflowExecution.runId ?? null]);
    });
    await next({ workflowExecution: this.execution, reason });
  }

  async describe(): Promise<WorkflowDescription> {
    return this.client.intercept('describe', (input) => this.describeRun(input.workflowExecution))({ workflowExecution: this.execution });
  }

  private async describeRun(e: WorkflowExecution): Promise<WorkflowDescription> {
    const rows = await this.client.query(`SELECT * FROM durable.describe_workflow(workflow_id => $1, run_id => $2::uuid${NS})`,
      [e.workflowId, e.runId ?? null]);
    const d = rows[0];
    return {
      workflowId: d.workflow_id, runId: d.run_id, type: d.workflow_type, taskQueue: d.task_queue, status: d.status,
      startTime: d.start_time, closeTime: d.close_time, historyLength: Number(d.history_length), input: d.input,
      result: d.result, failure: d.failure, attempt: d.attempt, cancelRequested: d.cancel_requested,
      searchAttributes: d.search_attributes, typedSearchAttributes: TypedSearchAttributes.fromStored(d.search_attributes),
      memo: await this.client.dataConverter.memoFromStored(d.memo), firstRunId: d.first_run_id, previousRunId: d.previous_run_id,
      nextRunId: d.next_run_id, pendingWorkflowTask: d.pending_workflow_task, pendingActivities: d.pending_activities ?? [],
      pendingTimers: d.pending_timers ?? [], pendingChildren: d.pending_children ?? [],
      buildId: d.build_id ?? null, versioningBehavior: d.versioning_behavior ?? null,
    };
  }

  /** The run's history as the protocol's event objects (each with its run_id), for Worker.runReplayHistory. */
  async fetchHistory(): Promise<HistoryEvent[]> {
    const rows = await this.client.query(
      `SELECT coalesce(jsonb_agg(jsonb_build_object('run_id', h.run_id, 'event_id', h.event_id, 'event_type', h.event_type,
              'event_time', h.event_time, 'attributes', h.attributes) ORDER BY h.event_id), '[]') AS h
         FROM durable.get_history(workflow_id => $1, run_id => $2::uuid${NS}) h`,
      [this.workflowId, this.runId ?? null]);
    return rows[0].h;
  }
}

/** What update_workflow is called with, again for each poll of the same update. */
interface UpdateRequest {
  workflowId: string;
  runId?: string;
  name: string;
  input: unknown;
  updateId: string;
}

/** The start options of WithStartWorkflowOperation: workflowId and workflowIdConflictPolicy are required, as in Temporal. */
export type WithStartOptions<F extends WorkflowRef> = Omit<WorkflowStartOptions<Args<F>>, 'workflowIdConflictPolicy'> & {
  workflowId: string;
  workflowIdConflictPolicy: 'fail' | 'use_existing' | 'FAIL' | 'USE_EXISTING';
};

/**
 * The start of executeUpdateWithStart / startUpdateWithStart (Temporal's
 * WithStartWorkflowOperation): the workflow to start unless it runs, and,
 * once the call returned, its handle.
 */
export class WithStartWorkflowOperation<F extends WorkflowRef = WorkflowRef> {
  private handle?: WorkflowHandle<F>;
  private failed?: unknown;
  private readonly settled: Promise<void>;
  private settle!: () => void;

  private constructor(readonly workflow: F, readonly options: WithStartOptions<F>) {
    this.settled = new Promise((r) => (this.settle = r));
  }

  /**
   * As Temporal's: workflowIdConflictPolicy is required ('USE_EXISTING' to
   * update a running workflow, 'FAIL' to insist on a new one).
   */
  static create<F extends WorkflowRef>(workflow: F, options: WithStartOptions<F>): WithStartWorkflowOperation<F> {
    if (!options?.workflowId || !options.workflowIdConflictPolicy) {
      throw new TypeError('WithStartWorkflowOperation.create needs workflowId and workflowIdConflictPolicy');
    }
    return new WithStartWorkflowOperation(workflow, options);
  }

  /** The started (or running) workflow's handle, once the update-with-start call got that far; its error otherwise. */
  async workflowHandle(): Promise<WorkflowHandle<F>> {
    await this.settled;
    if (this.handle) return this.handle;
    throw this.failed;
  }

  /** @internal */
  done(handle: WorkflowHandle<F> | undefined, err?: unknown): void {
    if (this.handle || this.failed !== undefined) return;
    this.handle = handle;
    this.failed = err;
    this.settle();
  }
}

export class WorkflowClient {
  constructor(private readonly client: Client) {}

  /**
   * Start a workflow unless it runs (options.startWorkflowOperation), then
   * send it an update and wait for the result (Temporal's
   * executeUpdateWithStart).  Not atomic, unlike Temporal's: the engine has
   * no single call, so this is start_workflow then update_workflow; if the
   * update fails to be admitted the workflow has started all the same.
   */
  async executeUpdateWithStart<Ret, Args extends unknown[] = [], F extends WorkflowRef = WorkflowRef>(def: UpdateRef<Ret, Args>,
    options: WorkflowUpdateOptions & { args?: Args; startWorkflowOperation: WithStartWorkflowOperation<F> }): Promise<Ret> {
    const h = await this.updateWithStart<Ret, Args, F>(def, WorkflowUpdateStage.COMPLETED, options);
    return h.result();
  }

  /** As executeUpdateWithStart, returning when the update is accepted (Temporal's startUpdateWithStart). */
  async startUpdateWithStart<Ret, Args extends unknown[] = [], F extends WorkflowRef = WorkflowRef>(def: UpdateRef<Ret, Args>,
    options: WorkflowUpdateOptions & { args?: Args; waitForStage: typeof WorkflowUpdateStage.ACCEPTED; startWorkflowOperation: WithStartWorkflowOperation<F> }): Promise<WorkflowUpdateHandle<Ret>> {
    return this.updateWithStart<Ret, Args, F>(def, WorkflowUpdateStage.ACCEPTED, options);
  }

  private async updateWithStart<Ret, Args extends unknown[], F extends WorkflowRef>(def: UpdateRef<Ret, Args>, stage: WorkflowUpdateStage,
    options: WorkflowUpdateOptions & { args?: Args; startWorkflowOperation: WithStartWorkflowOperation<F> }): Promise<WorkflowUpdateHandle<Ret>> {
    const op = options.startWorkflowOperation;
    let handle: WorkflowHandle<F>;
    try {
      const policy = op.options.workflowIdConflictPolicy.toLowerCase() as 'fail' | 'use_existing';
      const started = await this.start(op.workflow, { ...op.options, workflowIdConflictPolicy: policy });
      // the update goes to the latest run of the id (the one started, or the one that was running)
      handle = this.getHandle<F>(op.options.workflowId);
      op.done(new WorkflowHandle<F>(this.client, started.workflowId, undefined, started.firstExecutionRunId));
    } catch (e) {
      op.done(undefined, e);
      throw e;
    }
    return handle.sendUpdate<Ret, Args>(def, stage, options);
  }

  async start<F extends WorkflowRef>(workflow: F, options: WorkflowStartOptions<Args<F>>): Promise<WorkflowHandle<F>> {
    const workflowId = options.workflowId ?? randomUUID();
    const next = this.client.intercept('start', (input) => this.startRun(input));
    const runId = await next({ workflowType: typeName(workflow), headers: {}, options: { ...options, workflowId } });
    return new WorkflowHandle<F>(this.client, workflowId, undefined, runId);
  }

  private async startRun(input: WorkflowStartInput): Promise<string> {
    const options = input.options;
    const workflowId = options.workflowId;
    const args = await this.client.dataConverter.argsToInput(options.args ?? [], headersToJSON(input.headers));
    const memo = await this.client.dataConverter.memoToStored(options.memo);
    const routing = routingArgs(options, 16);
    const rows = await this.startQuery(workflowId, input.workflowType,
      `SELECT durable.start_workflow(workflow_type => $1, input => $2::jsonb, workflow_id => $3, task_queue => $4,
              execution_timeout => $5::interval, run_timeout => $6::interval, task_timeout => coalesce($7::interval, '10 seconds'),
              id_reuse_policy => coalesce($8, 'allow_duplicate'), id_conflict_policy => coalesce($9, 'fail'),
              retry_policy => $10::jsonb, start_delay => $11::interval, request_id => $12,
              search_attributes => $13::jsonb, memo => $14::jsonb, priority => coalesce($15::int, 0)${routing.sql}${NS}) AS run_id`,
      [
        input.workflowType, JSON.stringify(args), workflowId, options.taskQueue,
        toOptionalInterval(options.workflowExecutionTimeout) ?? null, toOptionalInterval(options.workflowRunTimeout) ?? null,
        toOptionalInterval(options.workflowTaskTimeout) ?? null, encodeWorkflowIdReusePolicy(options.workflowIdReusePolicy) ?? null,
        options.workflowIdConflictPolicy ?? null, options.retry ? JSON.stringify(retryPolicy(options.retry)) : null,
        toOptionalInterval(options.startDelay) ?? null, options.requestId ?? null, json(searchAttributesOf(options)),
        json(memo), routing.priorityKey, ...routing.params,
      ]);
    return rows[0].run_id;
  }

  /** start() then result(). */
  async execute<F extends WorkflowRef>(workflow: F, options: WorkflowStartOptions<Args<F>>): Promise<Result<F>> {
    return (await this.start(workflow, options)).result();
  }

  getHandle<F = unknown>(workflowId: string, runId?: string): WorkflowHandle<F> {
    return new WorkflowHandle<F>(this.client, workflowId, runId, runId);
  }

  /** A start statement; DU002 becomes a WorkflowExecutionAlreadyStartedError naming the workflow id and type. */
  private async startQuery(workflowId: string, workflowType: string, sql: string, params: unknown[]): Promise<any[]> {
    try {
      return await this.client.query(sql, params);
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError) {
        e.workflowId = workflowId;
        e.workflowType = workflowType;
      }
      throw e;
    }
  }

  /**
   * Signal a workflow, starting it first if it is not running; atomic.  A
   * new run's first workflow task has the signal, delivered before the
   * workflow function's first line runs (its first setHandler for the
   * signal receives it at once).
   */
  async signalWithStart<F extends WorkflowRef>(workflow: F, options: SignalWithStartOptions<Args<F>>): Promise<WorkflowHandle<F>> {
    const next = this.client.intercept('signalWithStart', (input) => this.signalWithStartRun(input));
    const runId = await next({
      workflowType: typeName(workflow), signalName: nameOf(options.signal), signalArgs: options.signalArgs ?? [], headers: {}, options,
    });
    return new WorkflowHandle<F>(this.client, options.workflowId, undefined, runId);
  }

  private async signalWithStartRun(input: WorkflowSignalWithStartInput): Promise<string> {
    const options = input.options;
    const dc = this.client.dataConverter;
    const headers = headersToJSON(input.headers);
    const signalPayload = await dc.argsToInput(input.signalArgs, headers);
    const args = await dc.argsToInput(options.args ?? [], headers);
    const memo = await dc.memoToStored(options.memo);
    const routing = routingArgs(options, 17);
    const rows = await this.startQuery(options.workflowId, input.workflowType,
      `SELECT durable.signal_with_start_workflow(workflow_id => $1, signal_name => $2, signal_payload => $3::jsonb,
              workflow_type => $4, input => $5::jsonb, task_queue => $6, execution_timeout => $7::interval,
              run_timeout => $8::interval, task_timeout => coalesce($9::interval, '10 seconds'),
              id_reuse_policy => coalesce($10, 'allow_duplicate'), retry_policy => $11::jsonb, start_delay => $12::interval,
              request_id => $13, search_attributes => $14::jsonb, memo => $15::jsonb, priority => coalesce($16::int, 0)${routing.sql}${NS}) AS run_id`,
      [
        options.workflowId, input.signalName, JSON.stringify(signalPayload), input.workflowType,
        JSON.stringify(args), options.taskQueue, toOptionalInterval(options.workflowExecutionTimeout) ?? null,
        toOptionalInterval(options.workflowRunTimeout) ?? null, toOptionalInterval(options.workflowTaskTimeout) ?? null,
        encodeWorkflowIdReusePolicy(options.workflowIdReusePolicy) ?? null, options.retry ? JSON.stringify(retryPolicy(options.retry)) : null,
        toOptionalInterval(options.startDelay) ?? null, options.requestId ?? null, json(searchAttributesOf(options)),
        json(memo), routing.priorityKey, ...routing.params,
      ]);
    return rows[0].run_id;
  }
}

/** A worker polling a task queue, as durable.describe_task_queue lists it. */
export interface TaskQueuePoller {
  workerId: string;
  buildId: string | null;
  kinds: string[];
  capabilities: Record<string, unknown> | null;
  lastSeen: Date | null;
  /** Seen within the last minute: its backlog counts as matched. */
  live: boolean;
}

/** Ready tasks of a task queue with the same routing, as durable.describe_task_queue counts them. */
export interface TaskQueueBacklog {
  kind: string;
  priority: number;
  buildId: string | null;
  requiredCapabilities: Record<string, unknown> | null;
  pinnedWorker: string | null;
  count: number;
  oldestReadyTime: Date | null;
  /** Some poller seen lately could take these tasks. */
  matched: boolean;
}

/** durable.describe_task_queue's answer (Temporal's DescribeTaskQueue, durable's shape). */
export interface TaskQueueDescription {
  namespace: string;
  taskQueue: string;
  rateLimit: { tasksPerSecond: number | null; workerTasksPerSecond: number | null; currentRate: number | null };
  versioning: { currentBuildId: string | null; rampingBuildId: string | null; rampingPercentage: number | null };
  pollers: TaskQueuePoller[];
  backlog: TaskQueueBacklog[];
  /** The backlog no poller seen lately can take (wrong build, missing capabilities, pinned to a worker gone). */
  unmatched: TaskQueueBacklog[];
}

const toDate = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function backlogOf(b: any): TaskQueueBacklog {
  return {
    kind: b.kind, priority: Number(b.priority), buildId: b.build_id ?? null, requiredCapabilities: b.required_capabilities ?? null,
    pinnedWorker: b.pinned_worker ?? null, count: Number(b.count), oldestReadyTime: toDate(b.oldest_ready_time), matched: !!b.matched,
  };
}

/**
 * Task queues of the client's namespace: their rate limits, build ids and
 * what waits in them (durable's admin functions; Temporal's TaskQueueClient
 * manages build ids through its server instead).  Changing a queue needs
 * the admin capability in the namespace.
 */
export class TaskQueueClient {
  constructor(private readonly client: Client) {}

  /** Rate limit, builds, pollers seen lately and the backlog of a task queue (durable.describe_task_queue). */
  async describe(taskQueue: string): Promise<TaskQueueDescription> {
    const rows = await this.client.query(`SELECT durable.describe_task_queue(task_queue => $1${NS}) AS d`, [taskQueue]);
    const d = rows[0].d ?? {};
    const rl = d.rate_limit ?? {};
    const v = d.versioning ?? {};
    return {
      namespace: d.namespace, taskQueue: d.task_queue,
      rateLimit: {
        tasksPerSecond: numOrNull(rl.tasks_per_second), workerTasksPerSecond: numOrNull(rl.worker_tasks_per_second),
        currentRate: numOrNull(rl.current_rate ?? rl.current_dispatch_rate),
      },
      versioning: {
        currentBuildId: v.current_build_id ?? null, rampingBuildId: v.ramping_build_id ?? null,
        rampingPercentage: numOrNull(v.ramping_percentage),
      },
      pollers: (d.pollers ?? []).map((p: any): TaskQueuePoller => ({
        workerId: p.worker_id, buildId: p.build_id ?? null, kinds: p.kinds ?? [], capabilities: p.capabilities ?? null,
        lastSeen: toDate(p.last_seen), live: p.live !== false,
      })),
      backlog: (d.backlog ?? []).map(backlogOf),
      unmatched: (d.unmatched ?? []).map(backlogOf),
    };
  }

  /**
   * Limit how fast the queue's activity tasks are handed out (Temporal's
   * maxTaskQueueActivitiesPerSecond and maxActivitiesPerSecond, set on the
   * queue rather than by a worker): tasksPerSecond for the whole queue,
   * workerTasksPerSecond for each worker; undefined or null for no limit.
   */
  async setRateLimit(taskQueue: string, limits: { tasksPerSecond?: number | null; workerTasksPerSecond?: number | null }): Promise<void> {
    await this.client.query(
      `SELECT durable.set_task_queue_rate_limit(task_queue => $1, tasks_per_second => $2::float8, worker_tasks_per_second => $3::float8${NS})`,
      [taskQueue, limits.tasksPerSecond ?? null, limits.workerTasksPerSecond ?? null]);
  }

  /**
   * Make buildId the queue's current build (Temporal's
   * setCurrentVersion): runs started from now on are pinned to it, and
   * AUTO_UPGRADE runs move to it at their next workflow task.
   */
  async setCurrentBuild(taskQueue: string, buildId: string): Promise<void> {
    await this.client.query(`SELECT durable.set_current_build(task_queue => $1, build_id => $2${NS})`, [taskQueue, buildId]);
  }

  /**
   * Send `percentage` (0..100) of the new runs (by a hash of the workflow
   * id) to buildId instead of the current build (Temporal's
   * setRampingVersion); buildId null removes the ramp.
   */
  async setRampingBuild(taskQueue: string, buildId: string | null, percentage = 0): Promise<void> {
    await this.client.query(`SELECT durable.set_ramping_build(task_queue => $1, build_id => $2, percentage => $3::real${NS})`,
      [taskQueue, buildId, percentage]);
  }
}

export class Client {
  readonly pool: pg.Pool;
  /** The namespace of every call (ClientOptions.namespace, default "default"). */
  readonly namespace: string;
  private readonly ownPool: boolean;
  readonly workflow: WorkflowClient;
  /** Task queue administration: describe, rate limits, current and ramping builds. */
  readonly taskQueue: TaskQueueClient;
  /** Schedules (Temporal's ScheduleClient): create, getHandle, list. */
  readonly schedule: ScheduleClient;
  /** @internal */
  readonly dataConverter: LoadedDataConverter;
  private readonly interceptors: WorkflowClientInterceptor[];

  constructor(options: ClientOptions) {
    this.namespace = options.namespace ?? 'default';
    this.dataConverter = new LoadedDataConverter(options.dataConverter);
    this.interceptors = options.interceptors?.workflow ?? [];
    if (options.pool) {
      this.pool = options.pool;
      this.ownPool = false;
    } else {
      this.pool = new pg.Pool({ connectionString: options.connectionString, max: 10, application_name: 'durable-client' });
      this.pool.on('error', () => undefined);
      this.ownPool = true;
    }
    this.workflow = new WorkflowClient(this);
    this.taskQueue = new TaskQueueClient(this);
    this.schedule = new ScheduleClient(this);
  }

  /** @internal A client call through the interceptors. */
  intercept<M extends keyof WorkflowClientInterceptor>(method: M, next: Next<WorkflowClientInterceptor, M>): Next<WorkflowClientInterceptor, M> {
    return composeInterceptors(this.interceptors, method, next);
  }

  /** Whether the engine has namespaces (durable 0.3), asked once. */
  private hasNamespaces?: Promise<boolean>;

  private engineHasNamespaces(): Promise<boolean> {
    this.hasNamespaces ??= this.pool.query("SELECT to_regproc('durable.create_namespace') IS NOT NULL AS ns")
      .then((r) => r.rows[0].ns as boolean, (e) => {
        this.hasNamespaces = undefined;
        throw e;
      });
    return this.hasNamespaces;
  }

  /**
   * @internal run SQL, mapping engine errors to typed errors.  The
   * statement's namespace marker (NS) becomes the client's namespace.
   */
  async query(sql: string, params: unknown[]): Promise<any[]> {
    try {
      if (sql.includes(NS)) {
        if (await this.engineHasNamespaces()) {
          params = [...params, this.namespace];
          sql = sql.replace(NS, `, namespace => $${params.length}`);
        } else if (this.namespace !== 'default') {
          throw new Error(`namespace "${this.namespace}": this engine has no namespaces (durable < 0.3); use "default" or leave it out`);
        }
      }
      return (await this.pool.query(sql, params)).rows;
    } catch (e) {
      const err = mapError(e);
      if (err instanceof NamespaceNotFoundError) err.namespace ??= this.namespace;
      throw err;
    }
  }

  /**
   * @internal Call durable.update_workflow for the request until it reaches
   * `stage` (or is rejected, or completed): each call waits up to 30 s; the
   * engine applies the update id once, so calling again is safe, and
   * admits the update again if the engine lost it (a restart before
   * acceptance).  The outcome, when completed or rejected.
   */
  async updateUntil(r: UpdateRequest, stage: 'accepted' | 'completed'): Promise<{ stage: string; outcome?: WorkflowUpdateOutcome }> {
    for (;;) {
      const rows = await this.query(
        `SELECT u.stage, u.result, u.result IS NULL AS none, u.failure
           FROM durable.update_workflow(workflow_id => $1, update_name => $2, args => $3::jsonb, update_id => $4,
                wait_for_stage => $5, wait => $6::interval, run_id => $7::uuid${NS}) u`,
        [r.workflowId, r.name, JSON.stringify(r.input ?? null), r.updateId, stage, '30 seconds', r.runId ?? null]);
      const u = rows[0];
      if (u.stage === 'rejected' || u.stage === 'completed') {
        return { stage: u.stage, outcome: u.failure ? { failure: u.failure } : { success: u.none ? undefined : u.result } };
      }
      if (u.stage === stage) return { stage: u.stage };
      // the engine answers an accepted update of a closed run (the run closed before completing it) at once with
      // stage "accepted", where its docs promise DU003: say so rather than ask again forever
      if (!(await this.runIsOpen(r))) {
        throw new WorkflowNotRunningError(`workflow "${r.workflowId}" closed before update "${r.updateId}" completed`, 'DU003');
      }
    }
  }

  private async runIsOpen(r: UpdateRequest): Promise<boolean> {
    const rows = await this.query(`SELECT status FROM durable.describe_workflow(workflow_id => $1, run_id => $2::uuid${NS})`,
      [r.workflowId, r.runId ?? null]);
    return rows[0]?.status === 'running';
  }

  /** @internal The handle of an update; `outcome` when already known. */
  updateHandle<Ret>(r: UpdateRequest, outcome?: WorkflowUpdateOutcome): WorkflowUpdateHandle<Ret> {
    let known = outcome;
    return {
      updateId: r.updateId,
      workflowId: r.workflowId,
      workflowRunId: r.runId,
      result: async () => {
        known ??= (await this.updateUntil(r, 'completed')).outcome!;
        if (known.failure) {
          const cause = decodeFailure(known.failure);
          await this.dataConverter.decodeErrorDetails(cause);
          throw new WorkflowUpdateFailedError('Workflow Update failed', cause);
        }
        return (known.success === undefined ? undefined : await this.dataConverter.fromStored(known.success)) as Ret;
      },
    };
  }

  async close(): Promise<void> {
    if (this.ownPool) await this.pool.end();
  }
}

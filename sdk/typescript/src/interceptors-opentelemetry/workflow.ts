/**
 * OpenTelemetry interceptors for workflow code (list this module in the
 * worker's interceptors.workflowModules; it exports `interceptors`).  As in
 * Temporal's @temporalio/interceptors-opentelemetry, the workflow cannot
 * export spans itself: it makes them in the sandbox and hands each finished
 * span to the worker through the `exporter` sink (makeWorkflowExporter), so
 * a span is exported once, not again when the workflow replays.
 *
 *   - RunWorkflow:<type>, child of the span whose context the start's
 *     `_tracer-data` header carries (the client's StartWorkflow);
 *   - StartActivity:<type>, child of RunWorkflow, whose context goes to the
 *     activity in its `_tracer-data` header (the activity's RunActivity is
 *     its child);
 *   - StartChildWorkflow:<type>, child of RunWorkflow, whose context goes to
 *     the child in its start's header (the child's RunWorkflow is its child);
 *   - SignalWorkflow:<name>, a signal to another workflow or a child, whose
 *     context goes with the signal;
 *   - HandleSignal:<name>, child of the signal's SignalWorkflow span;
 *   - HandleUpdate:<name> (attribute update_id), child of the client's
 *     StartWorkflowUpdate span; validators get no span (Temporal's
 *     ValidateUpdate): they do not run on replay, and a span made only in
 *     the first execution would shift the ids of the spans after it;
 *   - ContinueAsNew, child of RunWorkflow, whose context goes to the new run.
 *
 * Span ids are derived from the run id and a counter, so a replay makes the
 * same ids; times are workflow time (Date.now() in the sandbox).  The module
 * is loaded for each run (its state is per run).  Runs in the sandbox: no
 * Node APIs, no @opentelemetry/api.
 */
import { proxySinks, workflowInfo } from '../workflow';
import type {
  ActivityInput, ContinueAsNewInput, Next, SignalInput, SignalWorkflowInput, StartChildWorkflowExecutionInput, UpdateInput,
  WorkflowExecuteInput, WorkflowInboundCallsInterceptor, WorkflowInterceptors, WorkflowOutboundCallsInterceptor,
} from '../workflow';
import {
  OpenTelemetryWorkflowExporter, SPAN_DELIMITER, SPAN_KIND, STATUS_CODE, SerializedSpan, SpanName, TRACE_HEADER, TraceParent,
  traceFromHeaders, traceHeader,
} from './common';

const { exporter } = proxySinks<OpenTelemetryWorkflowExporter>();

/** 32 bits of a string's hash (FNV-1a with a seed). */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return h >>> 0;
}

function hex(s: string, words: number): string {
  let out = '';
  for (let i = 0; i < words; i++) out += hash32(s, i * 0x9e3779b9).toString(16).padStart(8, '0');
  return /^0+$/.test(out) ? '1'.padStart(words * 8, '0') : out;
}

let counter = 0;
/** The RunWorkflow span of this run (the parent of what the workflow starts). */
let runSpan: WorkflowSpan | undefined;

class WorkflowSpan {
  readonly context: TraceParent;
  private readonly start = Date.now();
  readonly attributes: Record<string, string | number | boolean> = {};

  constructor(readonly name: string, readonly kind: number, readonly parent: TraceParent | undefined) {
    const info = workflowInfo();
    const n = ++counter;
    this.context = {
      traceId: parent?.traceId ?? hex(`${info.runId}:trace`, 4),
      spanId: hex(`${info.runId}:${n}`, 2),
      traceFlags: parent?.traceFlags ?? 1,
    };
    this.attributes.run_id = info.runId;
    this.attributes.workflow_id = info.workflowId;
  }

  end(error?: unknown): void {
    const span: SerializedSpan = {
      name: this.name, kind: this.kind, traceId: this.context.traceId, spanId: this.context.spanId,
      parentSpanId: this.parent?.spanId, traceFlags: this.context.traceFlags, startTimeMs: this.start, endTimeMs: Date.now(),
      attributes: this.attributes,
      status: error === undefined ? { code: STATUS_CODE.OK } : { code: STATUS_CODE.ERROR, message: String((error as Error)?.message ?? error) },
    };
    exporter.export([span]);
  }
}

/** Run fn in a span: ended when its promise settles (continue-as-new is not an error). */
async function inSpan<T>(span: WorkflowSpan, fn: () => Promise<T>): Promise<T> {
  try {
    const r = await fn();
    span.end();
    return r;
  } catch (e) {
    span.end((e as Error)?.name === 'ContinueAsNew' ? undefined : e);
    throw e;
  }
}

export class OpenTelemetryInboundInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const span = new WorkflowSpan(`${SpanName.WORKFLOW_EXECUTE}${SPAN_DELIMITER}${workflowInfo().workflowType}`, SPAN_KIND.SERVER,
      traceFromHeaders(input.headers));
    runSpan = span;
    return inSpan(span, () => next(input));
  }

  async handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    const parent = traceFromHeaders(input.headers) ?? runSpan?.context;
    const span = new WorkflowSpan(`${SpanName.WORKFLOW_HANDLE_SIGNAL}${SPAN_DELIMITER}${input.signalName}`, SPAN_KIND.SERVER, parent);
    return inSpan(span, () => next(input));
  }

  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    const parent = traceFromHeaders(input.headers) ?? runSpan?.context;
    const span = new WorkflowSpan(`${SpanName.WORKFLOW_HANDLE_UPDATE}${SPAN_DELIMITER}${input.name}`, SPAN_KIND.SERVER, parent);
    span.attributes.update_id = input.updateId;
    return inSpan(span, () => next(input));
  }
}

export class OpenTelemetryOutboundInterceptor implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    const span = new WorkflowSpan(`${SpanName.ACTIVITY_START}${SPAN_DELIMITER}${input.activityType}`, SPAN_KIND.CLIENT, runSpan?.context);
    const headers = { ...input.headers, [TRACE_HEADER]: traceHeader(span.context) };
    return inSpan(span, () => next({ ...input, headers }));
  }

  async startChildWorkflowExecution(input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>): Promise<[Promise<string>, Promise<unknown>]> {
    const span = new WorkflowSpan(`${SpanName.CHILD_WORKFLOW_START}${SPAN_DELIMITER}${input.workflowType}`, SPAN_KIND.CLIENT, runSpan?.context);
    const headers = { ...input.headers, [TRACE_HEADER]: traceHeader(span.context) };
    return inSpan(span, () => next({ ...input, headers }));
  }

  async signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>): Promise<void> {
    const span = new WorkflowSpan(`${SpanName.WORKFLOW_SIGNAL}${SPAN_DELIMITER}${input.signalName}`, SPAN_KIND.CLIENT, runSpan?.context);
    const headers = { ...input.headers, [TRACE_HEADER]: traceHeader(span.context) };
    return inSpan(span, () => next({ ...input, headers }));
  }

  async continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>): Promise<never> {
    const span = new WorkflowSpan(SpanName.CONTINUE_AS_NEW, SPAN_KIND.INTERNAL, runSpan?.context);
    const headers = { ...input.headers, [TRACE_HEADER]: traceHeader(span.context) };
    return inSpan(span, () => next({ ...input, headers }));
  }
}

/** The WorkflowInterceptorsFactory of this module. */
export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
});

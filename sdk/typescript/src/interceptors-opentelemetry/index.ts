/**
 * OpenTelemetry tracing of durable calls, with the shape of Temporal's
 * @temporalio/interceptors-opentelemetry: a client interceptor
 * (StartWorkflow, SignalWorkflow, SignalWithStartWorkflow, StartWorkflowUpdate spans), an
 * activity inbound interceptor (RunActivity), and makeWorkflowExporter, the
 * sink through which workflow code (interceptors in
 * `durable-sdk/interceptors-opentelemetry/workflow`) exports its spans.
 * Trace context crosses from one to the next in the `_tracer-data` header
 * of the start, the signal and the activity (see common.ts), so a client
 * start, the workflow run and its activities form one trace.
 *
 * Needs @opentelemetry/api (a peer dependency).  Tracers come from the
 * `tracer` option, else from the global tracer provider.
 */
import { Context as OtelContext, Span, SpanKind, SpanStatusCode, Tracer, context, trace } from '@opentelemetry/api';
import type { Context } from '../activity';
import type { Headers } from '../common/payload';
import type { Next } from '../common/interceptors';
import type {
  WorkflowClientInterceptor, WorkflowSignalInput, WorkflowSignalWithStartInput, WorkflowStartInput, WorkflowStartUpdateInput,
  WorkflowStartUpdateOutput,
} from '../client';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, InjectedSink } from '../worker/interceptors';
import {
  OpenTelemetryWorkflowExporter, SPAN_DELIMITER, SerializedSpan, SpanName, TRACE_HEADER, traceFromHeaders, traceHeader,
} from './common';

export { SpanName, SPAN_DELIMITER, TRACE_HEADER } from './common';
export type { OpenTelemetryWorkflowExporter, SerializedSpan } from './common';

export interface InterceptorOptions {
  tracer?: Tracer;
}

function tracerOf(options?: InterceptorOptions): Tracer {
  return options?.tracer ?? trace.getTracer('durable-sdk');
}

/** The context a call's headers carry (a remote parent), else the active one. */
function extract(headers: Headers | undefined): OtelContext {
  const t = traceFromHeaders(headers);
  if (!t) return context.active();
  return trace.setSpanContext(context.active(), { traceId: t.traceId, spanId: t.spanId, traceFlags: t.traceFlags, isRemote: true });
}

/** The headers plus the span's trace context. */
function inject(headers: Headers, span: Span): Headers {
  const c = span.spanContext();
  if (!trace.isSpanContextValid(c)) return headers;
  return { ...headers, [TRACE_HEADER]: traceHeader({ traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags }) };
}

/** Run fn in a span (active for fn), ended with its outcome. */
async function instrument<T>(tracer: Tracer, name: string, kind: SpanKind, parent: OtelContext, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, { kind }, parent);
  try {
    const r = await context.with(trace.setSpan(parent, span), () => fn(span));
    span.setStatus({ code: SpanStatusCode.OK });
    return r;
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error)?.message ?? String(e) });
    if (e instanceof Error) span.recordException(e);
    throw e;
  } finally {
    span.end();
  }
}

/** Client calls: StartWorkflow:<type>, SignalWorkflow:<name>, SignalWithStartWorkflow:<type>, StartWorkflowUpdate:<name>. */
export class OpenTelemetryWorkflowClientInterceptor implements WorkflowClientInterceptor {
  private readonly tracer: Tracer;

  constructor(options?: InterceptorOptions) {
    this.tracer = tracerOf(options);
  }

  async start(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'start'>): Promise<string> {
    return instrument(this.tracer, `${SpanName.WORKFLOW_START}${SPAN_DELIMITER}${input.workflowType}`, SpanKind.CLIENT, context.active(),
      (span) => {
        span.setAttribute('workflow_id', input.options.workflowId);
        return next({ ...input, headers: inject(input.headers, span) });
      });
  }

  async signal(input: WorkflowSignalInput, next: Next<WorkflowClientInterceptor, 'signal'>): Promise<void> {
    return instrument(this.tracer, `${SpanName.WORKFLOW_SIGNAL}${SPAN_DELIMITER}${input.signalName}`, SpanKind.CLIENT, context.active(),
      (span) => next({ ...input, headers: inject(input.headers, span) }));
  }

  async signalWithStart(input: WorkflowSignalWithStartInput, next: Next<WorkflowClientInterceptor, 'signalWithStart'>): Promise<string> {
    return instrument(this.tracer, `${SpanName.WORKFLOW_SIGNAL_WITH_START}${SPAN_DELIMITER}${input.workflowType}`, SpanKind.CLIENT,
      context.active(), (span) => next({ ...input, headers: inject(input.headers, span) }));
  }

  async startUpdate(input: WorkflowStartUpdateInput, next: Next<WorkflowClientInterceptor, 'startUpdate'>): Promise<WorkflowStartUpdateOutput> {
    return instrument(this.tracer, `${SpanName.WORKFLOW_START_UPDATE}${SPAN_DELIMITER}${input.updateName}`, SpanKind.CLIENT,
      context.active(), (span) => {
        span.setAttribute('workflow_id', input.workflowExecution.workflowId);
        if (input.options.updateId) span.setAttribute('update_id', input.options.updateId);
        return next({ ...input, headers: inject(input.headers, span) });
      });
  }
}

/** Activity attempts: RunActivity:<type>, child of the workflow's StartActivity span. */
export class OpenTelemetryActivityInboundInterceptor implements ActivityInboundCallsInterceptor {
  private readonly tracer: Tracer;

  constructor(private readonly ctx: Context, options?: InterceptorOptions) {
    this.tracer = tracerOf(options);
  }

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = this.ctx.info;
    return instrument(this.tracer, `${SpanName.ACTIVITY_EXECUTE}${SPAN_DELIMITER}${info.activityType}`, SpanKind.INTERNAL,
      extract(input.headers), (span) => {
        span.setAttribute('workflow_id', info.workflowId);
        span.setAttribute('run_id', info.runId);
        span.setAttribute('activity_id', info.activityId);
        span.setAttribute('attempt', info.attempt);
        return next(input);
      });
  }
}

/** The part of an OpenTelemetry SpanExporter used here (@opentelemetry/sdk-trace-base's). */
export interface SpanExporterLike {
  export(spans: any[], resultCallback: (result: { code: number; error?: Error }) => void): void;
}

function hr(ms: number): [number, number] {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** A workflow span as a ReadableSpan (the fields of both 1.x and 2.x of @opentelemetry/sdk-trace-base). */
function readable(s: SerializedSpan, resource: unknown): unknown {
  const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: s.traceFlags };
  const parent = s.parentSpanId ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: s.traceFlags, isRemote: true } : undefined;
  const scope = { name: 'durable-sdk/workflow' };
  return {
    name: s.name, kind: s.kind, spanContext: () => ctx, parentSpanId: s.parentSpanId, parentSpanContext: parent,
    startTime: hr(s.startTimeMs), endTime: hr(s.endTimeMs), duration: hr(Math.max(0, s.endTimeMs - s.startTimeMs)),
    status: s.status, attributes: s.attributes, links: [], events: [], ended: true,
    resource: resource ?? { attributes: {} }, instrumentationLibrary: scope, instrumentationScope: scope,
    droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
  };
}

/**
 * The worker's sink for the spans of workflow code: register it as
 * `sinks: { exporter: makeWorkflowExporter(exporter, resource) }`.
 */
export function makeWorkflowExporter(exporter: SpanExporterLike, resource?: unknown): InjectedSink<OpenTelemetryWorkflowExporter['exporter']> {
  return {
    export: {
      fn: (_info, spans: SerializedSpan[]) => {
        exporter.export(spans.map((s) => readable(s, resource)), () => undefined);
      },
    },
  };
}

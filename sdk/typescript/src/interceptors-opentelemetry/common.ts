/**
 * What the OpenTelemetry interceptors of the client, the activities and the
 * workflow sandbox share: the header that carries the trace context (the
 * name Temporal's @temporalio/interceptors-opentelemetry uses), the W3C
 * traceparent text inside it, span names, and the JSON form in which the
 * workflow side hands its finished spans to the worker (through a sink).
 * Loaded in workflow sandboxes too: no Node APIs, no @opentelemetry/api.
 */
import { Headers, Payload, defaultPayloadConverter } from '../common/payload';

/** Header field holding `{ traceparent }` (JSON payload). */
export const TRACE_HEADER = '_tracer-data';

/** Span names, as Temporal's interceptors-opentelemetry names them (`${name}:${workflow, activity or signal}`). */
export const SpanName = {
  WORKFLOW_START: 'StartWorkflow',
  WORKFLOW_SIGNAL: 'SignalWorkflow',
  WORKFLOW_SIGNAL_WITH_START: 'SignalWithStartWorkflow',
  WORKFLOW_EXECUTE: 'RunWorkflow',
  WORKFLOW_HANDLE_SIGNAL: 'HandleSignal',
  WORKFLOW_START_UPDATE: 'StartWorkflowUpdate',
  WORKFLOW_HANDLE_UPDATE: 'HandleUpdate',
  ACTIVITY_START: 'StartActivity',
  CHILD_WORKFLOW_START: 'StartChildWorkflow',
  ACTIVITY_EXECUTE: 'RunActivity',
  CONTINUE_AS_NEW: 'ContinueAsNew',
} as const;
export const SPAN_DELIMITER = ':';

/** SpanKind and SpanStatusCode values of @opentelemetry/api. */
export const SPAN_KIND = { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;
export const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(s: unknown): TraceParent | undefined {
  if (typeof s !== 'string') return undefined;
  const m = TRACEPARENT.exec(s.trim());
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) };
}

export function formatTraceparent(t: TraceParent): string {
  return `00-${t.traceId}-${t.spanId}-${(t.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The trace context as a header payload. */
export function traceHeader(t: TraceParent): Payload {
  return defaultPayloadConverter.toPayload({ traceparent: formatTraceparent(t) });
}

/** The trace context a call's headers carry, if any. */
export function traceFromHeaders(headers: Headers | undefined): TraceParent | undefined {
  const p = headers?.[TRACE_HEADER];
  if (!p) return undefined;
  try {
    return parseTraceparent(defaultPayloadConverter.fromPayload<{ traceparent?: string }>(p)?.traceparent);
  } catch {
    return undefined;
  }
}

/** A finished span of workflow code, as the workflow hands it to the worker's exporter sink. */
export interface SerializedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceFlags: number;
  startTimeMs: number;
  endTimeMs: number;
  attributes: Record<string, string | number | boolean>;
  status: { code: number; message?: string };
}

/** The sink the workflow interceptors export spans through (register makeWorkflowExporter as `exporter`). */
export interface OpenTelemetryWorkflowExporter {
  [k: string]: Record<string, (...args: any[]) => void>;
  exporter: {
    export(spans: SerializedSpan[]): void;
  };
}

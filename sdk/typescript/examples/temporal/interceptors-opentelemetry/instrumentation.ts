import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor, SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * The process's tracer provider, exporting to `exporter`.  The sample starts
 * @opentelemetry/sdk-node's NodeSDK with a ConsoleSpanExporter; this port
 * registers sdk-trace-base's provider (what the SDK's tests have installed).
 */
export function setupTracing(exporter: SpanExporter): BasicTracerProvider {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  return provider;
}

/**
 * `@temporalio/interceptors-opentelemetry` on durable: durable-sdk's
 * OpenTelemetry interceptors (client, activity, workflow exporter sink).
 * Workflow code imports `@temporalio/interceptors-opentelemetry/lib/workflow`,
 * as with Temporal.
 */
export * from '../../interceptors-opentelemetry';

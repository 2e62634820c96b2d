/** `@temporalio/interceptors-opentelemetry/lib/workflow`: the workflow interceptors (they run in the sandbox). */
export * from '../../../interceptors-opentelemetry/workflow';

/** `@temporalio/interceptors-opentelemetry/lib/worker`: Temporal's subpath of the worker interceptors. */
export * from '../../../interceptors-opentelemetry';

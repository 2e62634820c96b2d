/** `@temporalio/interceptors-opentelemetry/lib/client`: Temporal's subpath of the client interceptors. */
export * from '../../../interceptors-opentelemetry';

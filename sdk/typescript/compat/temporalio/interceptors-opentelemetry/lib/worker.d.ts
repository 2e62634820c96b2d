export * from '../../../../dist/src/temporal/interceptors-opentelemetry/lib/worker';

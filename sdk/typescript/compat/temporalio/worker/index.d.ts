export * from '../../../dist/src/temporal/worker';

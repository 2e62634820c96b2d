export * from '../../../dist/src/temporal/client';

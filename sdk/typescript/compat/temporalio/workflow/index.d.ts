export * from '../../../dist/src/temporal/workflow';

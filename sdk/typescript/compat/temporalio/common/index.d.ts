export * from '../../../dist/src/temporal/common';

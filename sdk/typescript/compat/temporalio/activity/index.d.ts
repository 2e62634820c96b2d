export * from '../../../dist/src/temporal/activity';

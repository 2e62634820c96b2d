/**
 * Workflow interceptors of the update tests (test/e2e/updates.test.ts):
 * validateUpdate refuses the number 13 before the update's own validator;
 * handleUpdate tags the result with the `caller` header a client
 * interceptor set (temporalio/sdk-typescript packages/workflow/src/interceptors.ts
 * validateUpdate, handleUpdate).
 */
import { WorkflowInterceptors, defaultPayloadConverter } from '../../src/workflow';

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [
    {
      validateUpdate(input, next) {
        if (input.args[0] === 13) throw new Error(`${input.name}: 13 is refused by the interceptor`);
        next(input);
      },
      async handleUpdate(input, next) {
        const result = await next(input);
        const caller = input.headers.caller ? defaultPayloadConverter.fromPayload(input.headers.caller) : 'nobody';
        return `${String(result)} for ${String(caller)} (${input.updateId})`;
      },
    },
  ],
});

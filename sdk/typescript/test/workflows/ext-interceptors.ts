/**
 * Workflow interceptors of the tests (listed in interceptors.workflowModules):
 * they rewrite what reaches the workflow and what it asks for, and record
 * what they saw in `seen` (per run: this module is loaded for each run).
 */
import { WorkflowInterceptors, defaultPayloadConverter } from '../../src/workflow';

export const seen: string[] = [];

const header = (h: Record<string, any>, k: string) => (h[k] ? defaultPayloadConverter.fromPayload(h[k]) : undefined);

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [
    {
      async execute(input, next) {
        seen.push(`execute header=${header(input.headers, 'client')}`);
        return next({ ...input, args: input.args.map((a) => (typeof a === 'string' ? `${a}!` : a)) });
      },
      async handleSignal(input, next) {
        seen.push(`signal ${input.signalName} header=${header(input.headers, 'client')}`);
        return next({ ...input, args: input.args.map((a) => `${a}+in`) });
      },
      async handleQuery(input, next) {
        const r = (await next(input)) as string[];
        return [...r, `query ${input.queryName} header=${header(input.headers, 'client')}`];
      },
    },
    {
      async execute(input, next) {
        seen.push('second inbound (inner)');
        return next(input);
      },
    },
  ],
  outbound: [
    {
      async scheduleActivity(input, next) {
        seen.push(`activity ${input.activityType} seq=${input.seq}`);
        return next({ ...input, headers: { ...input.headers, wf: defaultPayloadConverter.toPayload('from-workflow') } });
      },
      async startTimer(input, next) {
        seen.push(`timer ${input.durationMs} seq=${input.seq}`);
        return next(input);
      },
      continueAsNew(input, next) {
        // the new run sees this header in its execute
        return next({ ...input, headers: { ...input.headers, client: defaultPayloadConverter.toPayload(`continueAsNew ${input.options.workflowType}`) } });
      },
    },
  ],
});

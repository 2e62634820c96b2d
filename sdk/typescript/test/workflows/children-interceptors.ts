/**
 * Workflow interceptors of the child workflow tests: the parent's outbound
 * startChildWorkflowExecution and signalWorkflow add a header; the child's
 * inbound execute and handleSignal read them, and a child's result carries
 * what it saw (per run: this module is loaded for each run).
 */
import { WorkflowInterceptors, defaultPayloadConverter, workflowInfo } from '../../src/workflow';

const header = (h: Record<string, any>, k: string) => (h[k] ? defaultPayloadConverter.fromPayload(h[k]) : undefined);
const signalHeaders: unknown[] = [];
const outbound: string[] = [];

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [
    {
      async execute(input, next) {
        const result = await next(input);
        if (!workflowInfo().workflowType.startsWith('child')) return { result, outbound };
        return { result, startHeader: header(input.headers, 'parent'), signalHeaders };
      },
      async handleSignal(input, next) {
        signalHeaders.push(header(input.headers, 'sender'));
        return next(input);
      },
    },
  ],
  outbound: [
    {
      async startChildWorkflowExecution(input, next) {
        outbound.push(`start ${input.workflowType} ${input.options.workflowId} seq=${input.seq} cancellationType=${input.options.cancellationType}`);
        return next({ ...input, headers: { ...input.headers, parent: defaultPayloadConverter.toPayload(workflowInfo().workflowId) } });
      },
      async signalWorkflow(input, next) {
        const to = input.target.type === 'child' ? `child ${input.target.childWorkflowId}` : `external ${input.target.workflowExecution.workflowId}`;
        outbound.push(`signal ${input.signalName} to ${to} seq=${input.seq}`);
        return next({ ...input, headers: { ...input.headers, sender: defaultPayloadConverter.toPayload(workflowInfo().workflowId) } });
      },
    },
  ],
});

import { proxyActivities, WorkflowInterceptors } from '@temporalio/workflow';
import { OpenTelemetryInboundInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type * as activities from './activities';

const { greet } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 minute',
});

/** Calls one activity; traced from the client's start to the activity. */
export async function example(name: string): Promise<string> {
  return await greet(name);
}

/** This module is also the worker's workflow interceptor module (WorkerOptions.interceptors.workflowModules). */
export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
});

/**
 * A Temporal workflow module that uses what durable does not offer:
 * upsertMemo (a stub of the @temporalio/workflow shim) and an export the shim
 * does not have at all.  Worker.create and bundleWorkflowCode must refuse it
 * before anything runs (src/temporal/check.ts).  The `as any` casts only get
 * it past TypeScript, which reports both uses at compile time already.
 */
import * as wf from '@temporalio/workflow';
import { upsertMemo } from '@temporalio/workflow';

export async function parentWorkflow(): Promise<unknown> {
  (wf as any).workflowMetadataQuery;
  return (upsertMemo as any)({ approved: true });
}

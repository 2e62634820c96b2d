/**
 * Activities written for Temporal's asynchronous completion (the expense
 * sample's shape: throw CompleteAsyncError, complete later through
 * client.activity), which durable does not have.  Loaded in a process, it
 * makes Connection.connect() and Worker.create() refuse to start
 * (src/temporal/check.ts).
 */
import { CompleteAsyncError, activityInfo } from '@temporalio/activity';

export async function requestApproval(expenseId: string): Promise<void> {
  console.log(`approval of ${expenseId} requested; task token ${activityInfo().base64TaskToken}`);
  throw new (CompleteAsyncError as any)();
}

import { proxyActivities } from '@temporalio/workflow';
// only the activities' types: workflow code never loads activity code
import type * as activities from './activities';

const { greet } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 minute',
});

/** Calls one activity and returns its result. */
export async function example(name: string): Promise<string> {
  return await greet(name);
}

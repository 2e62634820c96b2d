import { continueAsNew, sleep, workflowInfo } from '@temporalio/workflow';

/** Runs ten iterations, each one a new run of the same workflow id. */
export async function loopingWorkflow(iteration = 0): Promise<string | void> {
  if (iteration === 10) {
    return `done after ${workflowInfo().continuedFromExecutionRunId ? 'continuing as new' : 'one run'}`;
  }
  console.log('Running Workflow iteration:', iteration);
  await sleep(100); // the sample sleeps 1s
  await continueAsNew<typeof loopingWorkflow>(iteration + 1);
  // unreachable: continueAsNew ends this run
}

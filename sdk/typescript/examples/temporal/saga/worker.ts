import { InjectedSinks, NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import type { LoggerSinks } from './workflows';

/** `calls` collects what the activities did, `logged` what the workflow logged through its sink. */
export async function run(calls: string[] = [], logged: string[] = []): Promise<void> {
  const connection = await NativeConnection.connect();
  const sinks: InjectedSinks<LoggerSinks> = {
    logger: {
      info: { fn: (_info, message) => void logged.push(`info: ${message}`) },
      err: { fn: (_info, message) => void logged.push(`err: ${message}`) },
    },
  };
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: 'saga',
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities(calls),
      sinks,
    });
    await worker.run();
  } finally {
    await connection.close();
  }
}

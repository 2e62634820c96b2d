import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from './activities';

/** A worker running one version of the workflow code ('v1', 'v2' or 'v3'), on the task queue of that version. */
export async function run(version = 'v2'): Promise<void> {
  const connection = await NativeConnection.connect({ address: 'localhost:7233' });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: `patching-${version}`,
      workflowsPath: require.resolve(`./workflows-${version}`),
      activities,
    });
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  run(process.argv[2]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';

export async function run(): Promise<void> {
  const connection = await NativeConnection.connect({ address: 'localhost:7233' });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: 'timer-examples',
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities((message) => console.log(message)),
    });
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

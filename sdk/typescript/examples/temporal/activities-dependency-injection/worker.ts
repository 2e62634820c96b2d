import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';

// the dependency, made once (e.g. a database connection)
const db = {
  async get(_key: string) {
    return 'Temporal';
  },
};

export async function run(): Promise<void> {
  const connection = await NativeConnection.connect({ address: 'localhost:7233' });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: 'dependency-injection',
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities(db),
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

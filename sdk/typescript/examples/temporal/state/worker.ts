import { NativeConnection, Worker } from '@temporalio/worker';


export async function run(): Promise<void> {
  const connection = await NativeConnection.connect({ address: 'localhost:7233' });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: 'state',
      workflowsPath: require.resolve('./workflows'),
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

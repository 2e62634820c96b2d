import { NativeConnection, Worker } from '@temporalio/worker';

export async function run(): Promise<void> {
  // on durable: the database of $DURABLE_CONNECTION_STRING (the Temporal address is ignored)
  const connection = await NativeConnection.connect({ address: 'localhost:7233' });
  try {
    const worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: 'child-workflows',
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

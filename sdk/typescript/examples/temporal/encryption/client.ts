import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { getDataConverter } from './data-converter';
import { example } from './workflows';

/** Starts the workflow through a client with the codec; returns its id and result. */
export async function run(): Promise<{ workflowId: string; result: string }> {
  const connection = await Connection.connect();
  try {
    const client = new Client({ connection, dataConverter: await getDataConverter() });
    const handle = await client.workflow.start(example, {
      args: ['Alice: Private message for Bob.'],
      taskQueue: 'encryption',
      workflowId: `my-business-id-${randomUUID()}`,
    });
    console.log(`Started workflow ${handle.workflowId}`);
    const result = await handle.result();
    console.log(result);
    return { workflowId: handle.workflowId, result };
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

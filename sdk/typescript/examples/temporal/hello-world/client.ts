import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { example } from './workflows';

export async function run(): Promise<string> {
  const connection = await Connection.connect();
  try {
    const client = new Client({ connection });
    const handle = await client.workflow.start(example, {
      args: ['Temporal'],
      taskQueue: 'hello-world',
      workflowId: 'workflow-' + randomUUID(),
    });
    console.log(`Started workflow ${handle.workflowId}`);
    const result = await handle.result(); // Hello, Temporal!
    console.log(result);
    return result;
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

import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { parentWorkflow } from './workflows';

export async function run(): Promise<string> {
  const connection = await Connection.connect();
  try {
    const client = new Client({ connection });
    const result = await client.workflow.execute(parentWorkflow, {
      args: ['Alice', 'Bob', 'Charlie'],
      taskQueue: 'child-workflows',
      workflowId: 'parent-' + randomUUID(),
    });
    console.log(result); // I am a child named Alice / Bob / Charlie, one a line
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

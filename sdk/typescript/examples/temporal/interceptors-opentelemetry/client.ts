import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { example } from './workflows';

export async function run(): Promise<{ workflowId: string; result: string }> {
  const connection = await Connection.connect();
  try {
    const client = new Client({
      connection,
      interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    });
    const workflowId = 'otel-example-' + randomUUID();
    const result = await client.workflow.execute(example, {
      taskQueue: 'interceptors-opentelemetry-example',
      workflowId,
      args: ['Temporal'],
    });
    console.log(result);
    return { workflowId, result };
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('./instrumentation').setupTracing(new (require('@opentelemetry/sdk-trace-base').ConsoleSpanExporter)());
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

import { ConsoleSpanExporter, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryActivityInboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/worker';
import { Worker } from '@temporalio/worker';
import * as activities from './activities';

export async function run(exporter: SpanExporter = new ConsoleSpanExporter()): Promise<void> {
  const worker = await Worker.create({
    workflowsPath: require.resolve('./workflows'),
    activities,
    taskQueue: 'interceptors-opentelemetry-example',
    sinks: {
      exporter: makeWorkflowExporter(exporter),
    },
    interceptors: {
      // the workflow module exports both the workflow and its interceptors
      workflowModules: [require.resolve('./workflows')],
      activityInbound: [(ctx) => new OpenTelemetryActivityInboundInterceptor(ctx)],
    },
  });
  await worker.run();
}

if (require.main === module) {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('./instrumentation').setupTracing(new ConsoleSpanExporter());
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

import { defaultSinks, InjectedSinks, Worker } from '@temporalio/worker';
import { MySinks } from './workflows';

/** `onAlert` receives each alert (the sample prints an "SMS"). */
export async function run(onAlert: (runId: string, message: string) => void = (runId, message) => console.log(`sending SMS alert!\nworkflow: ${runId}\nmessage: ${message}`)): Promise<void> {
  const sinks: InjectedSinks<MySinks> = {
    ...defaultSinks(),
    alerter: {
      alert: {
        fn(workflowInfo, message) {
          onAlert(workflowInfo.runId, message);
        },
        callDuringReplay: false, // the default
      },
    },
  };
  const worker = await Worker.create({
    workflowsPath: require.resolve('./workflows'),
    taskQueue: 'sinks',
    sinks,
  });
  await worker.run();
  console.log('Worker gracefully shutdown');
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

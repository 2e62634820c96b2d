// The TypeScript SDK worker process of the Python SDK's interop tests, or
// its replayer, for one module of workflows and its activities:
//   node SCRIPT run      (env DATABASE_URL, TASK_QUEUE, WORKER_IDENTITY):
//       prints "ready" once polling; SIGTERM shuts it down (exit 0)
//   node SCRIPT replay FILE [WORKFLOW_ID]: Worker.runReplayHistory on the
//       JSON history in FILE (as workflow WORKFLOW_ID when given); prints
//       "replay ok" (exit 0) or the error (exit 1)
// where SCRIPT is worker.js, u_worker.js or children_worker.js, which name
// the workflows and activities.
const fs = require('fs');
const { Worker } = require('../../../../typescript/dist/src');

async function main(workflowsPath, activities) {
  if (process.argv[2] === 'replay') {
    const history = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
    await Worker.runReplayHistory({ workflowsPath, workflowId: process.argv[4] }, history);
    console.log('replay ok');
    return;
  }
  const worker = await Worker.create({
    connectionString: process.env.DATABASE_URL,
    taskQueue: process.env.TASK_QUEUE,
    identity: process.env.WORKER_IDENTITY || 'ts-worker',
    workflowsPath,
    activities,
    pollWait: '2s',
    shutdownGraceTime: '1s',
    log: () => undefined,
  });
  const run = worker.run();
  console.log('ready');
  await run;
}

module.exports = function runWorker(workflowsPath, activities) {
  main(workflowsPath, activities).then(
    () => process.exit(0),
    (e) => {
      console.log(`error: ${e && e.message}`);
      console.error(e);
      process.exit(1);
    });
};

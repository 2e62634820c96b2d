// A TypeScript SDK worker process for test_interop.py, or its replayer.
//   node worker.js run      (env DATABASE_URL, TASK_QUEUE, WORKER_IDENTITY):
//       prints "ready" once polling; SIGTERM shuts it down (exit 0)
//   node worker.js replay FILE: Worker.runReplayHistory on the JSON history
//       in FILE; prints "replay ok" (exit 0) or the error (exit 1)
const fs = require('fs');
const { Worker, ApplicationFailure } = require('../../../../typescript/dist/src');

const activities = {
  async interopGreet(name) { return `hello ${name}`; },
  async interopCheck(greeting) {
    throw ApplicationFailure.nonRetryable(`rejected: ${greeting}`, 'Rejected', 'why', { code: 7 });
  },
  async interopShip(greeting, by) { return `${greeting}, shipped (approved by ${by})`; },
};

async function main() {
  const workflowsPath = require.resolve('./workflows.js');
  if (process.argv[2] === 'replay') {
    const history = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
    await Worker.runReplayHistory({ workflowsPath }, history);
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

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`error: ${e && e.message}`);
    console.error(e);
    process.exit(1);
  });

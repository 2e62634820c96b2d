// A TypeScript SDK worker process for test_interop_updates.py (the
// workflows of u_workflows.js), or its replayer.
//   node u_worker.js run      (env DATABASE_URL, TASK_QUEUE, WORKER_IDENTITY):
//       prints "ready" once polling; SIGTERM shuts it down (exit 0)
//   node u_worker.js replay FILE: Worker.runReplayHistory on the JSON history
//       in FILE; prints "replay ok" (exit 0) or the error (exit 1)
const fs = require('fs');
const { Worker, ApplicationFailure } = require('../../../../typescript/dist/src');

const calls = {};
const activities = {
  async interopDouble(x) { return 2 * x; },
  async interopFlaky(key, failures) {
    calls[key] = (calls[key] || 0) + 1;
    if (calls[key] <= failures) throw ApplicationFailure.create({ message: `attempt ${calls[key]} fails`, type: 'Flaky' });
    return `ok after ${calls[key]}`;
  },
};

async function main() {
  const workflowsPath = require.resolve('./u_workflows.js');
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

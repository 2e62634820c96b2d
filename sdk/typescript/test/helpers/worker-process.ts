/**
 * A worker in a process of its own, for the crash tests (they SIGKILL it):
 * the test workflows and activities on TASK_QUEUE, as WORKER_IDENTITY.
 * Sends "ready" once it polls; answers the message "stats" with
 * { stats: worker.stats }.
 */
import pg from 'pg';
import { Worker } from '../../src';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url || !process.env.TASK_QUEUE) throw new Error('set DATABASE_URL and TASK_QUEUE');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  await pool.query(TEST_SCHEMA);
  const worker = await Worker.create({
    connectionString: url,
    taskQueue: process.env.TASK_QUEUE,
    identity: process.env.WORKER_IDENTITY,
    workflowsPath: require.resolve('../workflows/basic'),
    activities: createTestActivities(pool),
    pollWait: '5s',
    log: () => undefined,
  });
  process.on('message', (m) => {
    if (m === 'stats') process.send?.({ stats: worker.stats });
  });
  const run = worker.run();
  process.send?.('ready');
  await run;
  await pool.end();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  });

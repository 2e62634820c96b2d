/**
 * Worker of the orders example:
 *   DATABASE_URL=postgresql:///mydb node dist/examples/orders/worker.js
 * Creates the example's tables if needed, then polls task queue "orders"
 * (TASK_QUEUE) until SIGINT/SIGTERM.  The shipment children run on the same
 * task queue (the parent's, by default).
 */
import pg from 'pg';
import { Worker } from '../../src';
import { SCHEMA, createActivities } from './activities';

export async function runWorker(connectionString: string, taskQueue = 'orders', identity?: string): Promise<void> {
  const pool = new pg.Pool({ connectionString, max: 10 });
  pool.on('error', () => undefined);
  await pool.query(SCHEMA);
  const worker = await Worker.create({
    connectionString,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: createActivities(pool),
    identity,
    maxConcurrentActivities: 10,
  });
  await worker.run();
  await pool.end();
}

if (require.main === module) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('set DATABASE_URL');
    process.exit(2);
  }
  runWorker(url, process.env.TASK_QUEUE ?? 'orders', process.env.WORKER_IDENTITY).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    });
}

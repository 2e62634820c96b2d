import pg from 'pg';
import { Client, Worker, WorkerOptions } from '../../src';
import { Cluster, startCluster } from './cluster';

export interface Env {
  cluster: Cluster;
  pool: pg.Pool;
  client: Client;
  hasQuery: boolean;
  workers: Worker[];
  startWorker(opts: Omit<WorkerOptions, 'connectionString'>): Promise<Worker>;
  stop(): Promise<void>;
}

export async function startEnv(schema: string[] = []): Promise<Env> {
  const cluster = await startCluster();
  const pool = new pg.Pool({ connectionString: cluster.connectionString, max: 10 });
  pool.on('error', () => undefined);
  for (const s of schema) await pool.query(s);
  const client = new Client({ connectionString: cluster.connectionString });
  const hasQuery = (await pool.query("SELECT to_regproc('durable.query_workflow') IS NOT NULL AS q")).rows[0].q;
  const env: Env = {
    cluster, pool, client, hasQuery, workers: [],
    async startWorker(opts) {
      const w = await Worker.create({ connectionString: cluster.connectionString, shutdownSignals: false, pollWait: '5s', log: () => undefined, ...opts });
      void w.run();
      env.workers.push(w);
      return w;
    },
    async stop() {
      await Promise.all(env.workers.map((w) => w.shutdown().catch(() => undefined)));
      await client.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await cluster.stop();
    },
  };
  return env;
}

export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll fn until it returns a truthy value (or time out). */
export async function waitFor<T>(fn: () => Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleepMs(100);
  }
}

/**
 * Counts the database transactions of one workflow end to end (issue 11:
 * "a chain of 3 local activities must cost at most 3 transactions"): a
 * private cluster, the workload in database "work", pg_stat_database's
 * xact_commit and xact_rollback of "work" read from database "postgres"
 * (the counting adds nothing to what it counts).  Warmed up first
 * (connections, prepared statements), long polls so idle pollers commit
 * nothing, and the worker's own counters (no database call) to know when
 * the workflow is done; workflows one after the other in two worker
 * sessions of 20 and 40, the difference over 20 is per workflow.  Compares with the same chain of ordinary
 * activities (eager dispatch).
 *
 *   npx tsc -p . && node dist/test/tools/count-local-transactions.js
 */
import pg from 'pg';
import { Client, Worker } from '../../src';
import { startCluster } from '../helpers/cluster';
import { createLocalActivities } from '../workflows/local-activities';

const LOCAL = require.resolve('../workflows/local');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than PostgreSQL 15's idle statistics flush (PGSTAT_IDLE_INTERVAL, 10 s). */
const FLUSH_WAIT_MS = 12_000;
/** Workflows counted of each kind. */
const RUNS = 20;

async function main(): Promise<void> {
  const cluster = await startCluster();
  const admin = new pg.Client({ connectionString: cluster.connectionString });
  await admin.connect();
  await admin.query('CREATE DATABASE work');
  const work = cluster.connectionString.replace('/postgres?', '/work?');
  const setup = new pg.Client({ connectionString: work });
  await setup.connect();
  await setup.query('CREATE EXTENSION durable');
  await setup.end();
  const { activities } = createLocalActivities();
  const commits = async (): Promise<number> => {
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const r = await admin.query("SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = 'work'");
    return Number(r.rows[0].n);
  };
  const setLogging = async (on: boolean): Promise<void> => {
    for (const [k, v] of [['log_statement', 'all'], ['log_connections', 'on'], ['log_line_prefix', "'%m [%p] %d '"]]) {
      await admin.query(on ? `ALTER SYSTEM SET ${k} = ${v === 'all' || v === 'on' ? `'${v}'` : v}` : `ALTER SYSTEM RESET ${k}`);
    }
    await admin.query('SELECT pg_reload_conf()');
    await sleep(500);
  };
  try {
    for (const [type, label] of [['localChain', '3 local activities'], ['remoteChain', '3 activities (eager dispatch)']]) {
      const perWorkflow = type === 'localChain' ? 1 : 7;
      const session = async (n: number, log: boolean): Promise<void> => {
        if (log) await setLogging(true);
        const worker = await Worker.create({
          connectionString: work, taskQueue: 'count', workflowsPath: LOCAL, activities, shutdownSignals: false, pollWait: '600s',
          log: () => undefined,
        });
        const running = worker.run();
        const client = new Client({ connectionString: work });
        for (let i = 0; i < n; i++) {
          const tasks = worker.stats.workflowTasks + worker.stats.activityTasks;
          await client.workflow.start(type, { args: ['x'], taskQueue: 'count', workflowId: `${type}-${log}-${i}` });
          while (worker.stats.workflowTasks + worker.stats.activityTasks < tasks + perWorkflow) await sleep(5);
        }
        await worker.shutdown();
        await running;
        await client.close();
        if (log) await setLogging(false);
        await sleep(1000); // the backends have exited: their statistics are flushed
      };
      await session(2, false); // a first worker: what a new process does once (catalog caches of the extension...)
      // two sessions, of RUNS and 2 * RUNS workflows: what a session costs besides its workflows (the
      // worker's start and shutdown, connections) is the same in both and cancels out of the difference
      const counted: number[] = [];
      let stmts: string[] = [];
      for (const n of [RUNS, 2 * RUNS]) {
        const logStart = cluster.log().length;
        const c0 = await commits();
        await session(n, true);
        counted.push((await commits()) - c0);
        const log = cluster.log().slice(logStart).split('\n');
        stmts = log.filter((l) => / work LOG: +(execute|statement)/.test(l) && !/set_config|pg_reload_conf|ALTER SYSTEM/.test(l));
      }
      console.log(`${label}: ${counted[0]} transactions for a session of ${RUNS} workflows, ${counted[1]} for ${2 * RUNS}: ` +
        `${(counted[1] - counted[0]) / RUNS} per workflow`);
      if (process.env.SHOW_STATEMENTS) console.log(stmts.slice(0, 40).join('\n'));
    }
  } finally {
    await admin.end();
    await cluster.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

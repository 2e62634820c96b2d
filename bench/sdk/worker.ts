/**
 * The SDK side of the chain3 benchmark: one worker process polling
 * TASK_QUEUE until SIGTERM.  Workflows are started by bench/worker
 * (--mode start); bench/run watches durable.workflows for the closes.
 * SDK_EAGER=0 in the environment turns eager dispatch off (to compare);
 * SDK_STICKY=0 turns sticky execution off (stickyExecution: false, for an
 * SDK that has the option; passed as a spread so that one without it builds);
 * SDK_STATS=<file> writes the worker's counters there when it stops.
 */
import * as fs from 'node:fs';
import { Worker } from '../../src';

async function main(): Promise<void> {
  const sticky: Record<string, unknown> = process.env.SDK_STICKY === '0' ? { stickyExecution: false } : {};
  const worker = await Worker.create({
    connectionString: process.env.DATABASE_URL!,
    taskQueue: process.env.TASK_QUEUE ?? 'sdk',
    workflowsPath: require.resolve('./workflows'),
    activities: { async step(i: number) { return i; } },
    identity: 'bench-sdk',
    ...(process.env.MAX_WFT ? { maxConcurrentWorkflowTasks: Number(process.env.MAX_WFT) } : {}),
    ...(process.env.MAX_ACT ? { maxConcurrentActivities: Number(process.env.MAX_ACT) } : {}),
    pollWait: '5s',
    shutdownGraceTime: '2s',
    eagerDispatch: process.env.SDK_EAGER !== '0',
    ...sticky,
  });
  process.stdout.write('ready\n');
  await worker.run();
  if (process.env.SDK_STATS) fs.writeFileSync(process.env.SDK_STATS, JSON.stringify({ ...worker.stats, cpu: process.cpuUsage() }) + '\n');
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });

/**
 * Regenerates test/fixtures/*.json from real runs (needs initdb and the
 * installed extension):  node dist/test/tools/capture-fixtures.js
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCHEMA, createActivities } from '../../examples/subscription/activities';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { startEnv, waitFor } from '../helpers/env';

const OUT = path.resolve(__dirname, '../../../test/fixtures');

async function main(): Promise<void> {
  const env = await startEnv([SCHEMA, TEST_SCHEMA]);
  try {
    const acts = { ...createActivities(env.pool), ...createTestActivities(env.pool) };
    await env.startWorker({ taskQueue: 'v1', workflowsPath: require.resolve('../workflows/lifecycle-v1'), activities: acts });
    await env.startWorker({ taskQueue: 'ex', workflowsPath: require.resolve('../../examples/subscription/workflows'), activities: acts });
    await env.startWorker({ taskQueue: 'basic', workflowsPath: require.resolve('../workflows/basic'), activities: acts });
    const save = async (name: string, workflowId: string) => {
      const h = await env.client.workflow.getHandle(workflowId).fetchHistory();
      fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(h, null, 1) + '\n');
    };
    const c = env.client.workflow;
    await c.execute('subscriptionRenewal', { args: ['alice'], taskQueue: 'ex', workflowId: 'fx-renewal' });
    await save('renewal-completed', 'fx-renewal');

    for (const [queue, name] of [['v1', 'lifecycle-v1-cancelled'], ['ex', 'lifecycle-patched-cancelled']]) {
      const h = await c.start('subscriptionLifecycle', { args: ['zoe', { period: '30 days' }], taskQueue: queue, workflowId: `fx-${name}` });
      await waitFor(async () => (await h.describe()).pendingTimers.length === 1, 'timer');
      await h.signal('cancel', 'bye');
      await h.result();
      await save(name, `fx-${name}`);
    }
    await c.execute('deterministic', { taskQueue: 'basic', workflowId: 'fx-det' });
    await save('deterministic', 'fx-det');
    const h = await c.start('timerVsSignal', { args: ['1 hour'], taskQueue: 'basic', workflowId: 'fx-race' });
    await waitFor(async () => (await h.describe()).pendingTimers.length === 1, 'timer');
    await h.signal('go', 'now');
    await h.result();
    await save('timer-vs-signal', 'fx-race');
    await c.execute('cancelHeartbeating', { args: ['fx'], taskQueue: 'basic', workflowId: 'fx-hb' });
    await save('activity-cancelled', 'fx-hb');
  } finally {
    await env.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * Regenerates test/fixtures/*.json from real runs (needs initdb and the
 * installed extension):  node dist/test/tools/capture-fixtures.js [name ...]
 * (with names, only those: "composition", "updates", or "others" for the rest).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCHEMA, createActivities } from '../../examples/subscription/activities';
import { TEST_SCHEMA, createTestActivities } from '../workflows/activities';
import { Env, startEnv, waitFor } from '../helpers/env';

const OUT = path.resolve(__dirname, '../../../test/fixtures');

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const env = await startEnv([SCHEMA, TEST_SCHEMA]);
  try {
    if (!only.length || only.includes('composition')) await captureComposition(env);
    if (!only.length || only.includes('updates')) await captureUpdates(env);
    if (!only.length || only.includes('others')) await captureOthers(env);
  } finally {
    await env.stop();
  }
}

async function saveHistory(env: Env, name: string, workflowId: string): Promise<void> {
  const h = await env.client.workflow.getHandle(workflowId).fetchHistory();
  fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(h, null, 1) + '\n');
}

/** composition-tour: every child workflow and external workflow event (test/workflows/children.ts compositionTour). */
async function captureComposition(env: Env): Promise<void> {
  await env.startWorker({ taskQueue: 'children', workflowsPath: require.resolve('../workflows/children') });
  const c = env.client.workflow;
  const target = await c.start('childSignalled', { taskQueue: 'children', workflowId: 'fx-target' });
  const h = await c.start('compositionTour', { args: ['fx-target'], taskQueue: 'children', workflowId: 'fx-tour' });
  const term = c.getHandle('fx-tour-term');
  await waitFor(async () => (await term.describe().catch(() => null))?.status === 'running', 'the child to terminate');
  await term.terminate('by capture-fixtures');
  await h.result();
  await target.result();
  await saveHistory(env, 'composition-tour', 'fx-tour');
}

/**
 * update-tour: updates accepted and completed in one workflow task and
 * across tasks (a timer, an activity, a signal), a handler failure, a
 * rejection (no event), allHandlersFinished (test/workflows/updates.ts updateTour).
 */
async function captureUpdates(env: Env): Promise<void> {
  await env.startWorker({ taskQueue: 'updates', workflowsPath: require.resolve('../workflows/updates'), activities: { double: async (x: number) => x * 2 } });
  const h = await env.client.workflow.start('updateTour', { taskQueue: 'updates', workflowId: 'fx-updates' });
  await h.executeUpdate('add', { args: [1], updateId: 'fx-add' });
  await Promise.all([
    h.executeUpdate('addLater', { args: [2], updateId: 'fx-later' }),
    h.executeUpdate('addDoubled', { args: [3], updateId: 'fx-doubled' }),
  ]);
  await h.executeUpdate('fail', { args: ['no'], updateId: 'fx-fail' }).catch(() => undefined);
  await h.executeUpdate('add', { args: [-1], updateId: 'fx-rejected' }).catch(() => undefined);
  const waiting = await h.startUpdate('waitForRelease', { waitForStage: 'ACCEPTED', updateId: 'fx-wait' });
  await h.signal('finish');
  await h.signal('release');
  await waiting.result();
  await h.result();
  await saveHistory(env, 'update-tour', 'fx-updates');
}

async function captureOthers(env: Env): Promise<void> {
  {
    const acts = { ...createActivities(env.pool), ...createTestActivities(env.pool) };
    await env.startWorker({ taskQueue: 'v1', workflowsPath: require.resolve('../workflows/lifecycle-v1'), activities: acts });
    await env.startWorker({ taskQueue: 'ex', workflowsPath: require.resolve('../../examples/subscription/workflows'), activities: acts });
    await env.startWorker({ taskQueue: 'basic', workflowsPath: require.resolve('../workflows/basic'), activities: acts });
    const save = (name: string, workflowId: string) => saveHistory(env, name, workflowId);
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
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * Temporal compatibility (issue 9, points 1-3) against a real cluster:
 * code written as for Temporal's TypeScript SDK, with only the import
 * paths changed, behaves as Temporal documents.  Each test names the
 * Temporal source (temporalio/sdk-typescript packages/<package>/src/<file>)
 * or documentation page it follows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RetryState, TimeoutType, WorkflowExecutionAlreadyStartedError, Worker } from '../../src';
import { COMPAT_SCHEMA, createCompatActivities } from '../workflows/compat-activities';
import { Env, sleepMs, startEnv, waitFor } from '../helpers/env';
import { LogRecord, captureLogger } from '../helpers/sim';

const COMPAT = require.resolve('../workflows/compat');

let env: Env;
let worker: Worker;
const logs: LogRecord[] = [];

async function runs(key: string): Promise<string[]> {
  return (await env.pool.query('SELECT what FROM compat_runs WHERE key = $1 ORDER BY id', [key])).rows.map((r) => r.what);
}

before(async () => {
  env = await startEnv([COMPAT_SCHEMA]);
  // no cache: every workflow task replays the history from the start, so a
  // log that is not replay-aware would repeat
  worker = await env.startWorker({
    taskQueue: 'compat', workflowsPath: COMPAT, activities: createCompatActivities(env.pool),
    maxCachedWorkflows: 0, logger: captureLogger(logs),
  });
});

after(async () => {
  await env?.stop();
});

describe('logging and context (point 1)', () => {
  it('the worker\'s logger is replaced; workflow log entries are written once, with the run\'s attributes (workflow/src/logs.ts)', async () => {
    const h = await env.client.workflow.start('logging', { taskQueue: 'compat', workflowId: 'log-1' });
    assert.equal(await h.result(), 'ok');
    const mine = logs.filter((l) => l.meta?.sdkComponent === 'workflow' && l.meta?.workflowId === 'log-1');
    assert.deepEqual(mine.map((l) => [l.level, l.message, l.meta?.step]), [['INFO', 'started', 1], ['WARN', 'after first timer', 2], ['INFO', 'done', 3]]);
    assert.deepEqual({ ...mine[0].meta, step: undefined }, {
      namespace: 'default', taskQueue: 'compat', workflowId: 'log-1', runId: h.firstExecutionRunId, workflowType: 'logging',
      step: undefined, sdkComponent: 'workflow',
    });
    assert.ok(worker.stats.fullReplays >= 3, 'each task replayed the history');
  });

  it('activity module functions: activityInfo, heartbeat, sleep, cancelled, log, Context.current (activity/src/index.ts)', async () => {
    const r = (await env.client.workflow.execute('activityApi', { args: ['act-1'], taskQueue: 'compat', workflowId: 'act-1' })) as any;
    // heartbeat details of the failed attempt reach the next one as activityInfo().heartbeatDetails
    assert.deepEqual(r.resumed, { attempt: 2, from: 3 });
    assert.equal(r.cancelled, 'cancelled');
    assert.deepEqual(await runs('act-1'), ['from:0', 'from:3', 'cancelled:CancelledFailure:true:true:true']);
    const entry = logs.find((l) => l.message === 'resumable' && l.meta?.workflowId === 'act-1' && l.meta?.from === 3);
    assert.ok(entry, JSON.stringify(logs.filter((l) => l.meta?.sdkComponent === 'activity')));
    assert.equal(entry.level, 'INFO');
    assert.deepEqual({ ...entry.meta, taskToken: typeof entry.meta?.taskToken }, {
      isLocal: false, attempt: 2, namespace: 'default', taskToken: 'string', workflowId: 'act-1', workflowRunId: entry.meta?.workflowRunId,
      workflowType: 'activityApi', activityId: '1', activityType: 'resumable', taskQueue: 'compat', sdkComponent: 'activity', from: 3,
    });
  });
});

describe('failure and enum values (point 2)', () => {
  it('ActivityFailure.retryState and TimeoutFailure.timeoutType as the engine reports them (common/src/failure.ts)', async () => {
    const r = (await env.client.workflow.execute('retryStates', { args: ['rs-1'], taskQueue: 'compat', workflowId: 'rs-1' })) as string[];
    assert.deepEqual(r.slice(0, 2), [
      `${RetryState.NON_RETRYABLE_FAILURE}:ApplicationFailure(Fatal, nonRetryable=true)`,
      'MAX:ApplicationFailure(Flaky, nonRetryable=false)',
    ]);
    // schedule-to-close (1.5 s) caps start-to-close: whichever deadline the engine handles first, the
    // activity is not retried because its schedule-to-close time is up
    assert.match(r[2], new RegExp(`^${RetryState.TIMEOUT}:TimeoutFailure\\((${TimeoutType.SCHEDULE_TO_CLOSE}|${TimeoutType.START_TO_CLOSE})\\)$`));
    // the retryable one ran maximumAttempts (2) times
    assert.equal((await runs('rs-1')).filter((w) => w === 'failWith:retryable').length, 2);
  });

  // https://docs.temporal.io/encyclopedia/retry-policies#per-error-next-retry-delay; packages/common/src/failure.ts
  // (ApplicationFailureOptions.nextRetryDelay: "the delay before the next retry attempt", instead of the policy's)
  it('ApplicationFailure.create({ nextRetryDelay }): the next attempt starts after that delay, not the policy\'s backoff', async () => {
    const h = await env.client.workflow.start('withNextRetryDelay', { args: ['nrd-1'], taskQueue: 'compat', workflowId: 'nrd-1' });
    assert.equal(await h.result(), 2);
    // the policy's initial interval is 20 s: the retry came after about 300 ms
    const at = (await env.pool.query("SELECT at FROM compat_runs WHERE key = 'nrd-1' ORDER BY id")).rows.map((r) => (r.at as Date).getTime());
    assert.equal(at.length, 2);
    assert.ok(at[1] - at[0] >= 250 && at[1] - at[0] < 5000, `retried after ${at[1] - at[0]} ms`);
    const started = (await h.fetchHistory()).find((e) => e.event_type === 'ActivityTaskStarted')!;
    assert.match(started.attributes.last_failure.next_retry_delay, /^0\.3(00)?s$/);
    assert.ok(!logs.some((l) => /nextRetryDelay/.test(l.message)), 'no warning');
  });

  it('WorkflowExecutionAlreadyStartedError names the workflow id and type (client/src/errors.ts)', async () => {
    await env.client.workflow.start('collector', { taskQueue: 'compat', workflowId: 'dup-c' });
    const err = await env.client.workflow.start('collector', { taskQueue: 'compat', workflowId: 'dup-c' }).then(() => null, (e) => e);
    assert.ok(err instanceof WorkflowExecutionAlreadyStartedError, String(err));
    assert.deepEqual([err.workflowId, err.workflowType], ['dup-c', 'collector']);
    await env.client.workflow.getHandle('dup-c').terminate();
  });

  it('continue-as-new carries workflowType, taskQueue, workflowRunTimeout and workflowTaskTimeout to the new run', async () => {
    const h = await env.client.workflow.start('continueWithOptions', { args: [0], taskQueue: 'compat', workflowId: 'can-opts' });
    const r = (await h.result()) as any;
    assert.equal(r.round, 1);
    assert.equal(r.continuedFrom, h.firstExecutionRunId);
    const started = (await env.client.workflow.getHandle('can-opts').fetchHistory())[0].attributes;
    assert.deepEqual([started.workflow_type, started.task_queue, started.workflow_run_timeout, started.workflow_task_timeout],
      ['continueWithOptions', 'compat', '3600s', '20s']);
  });
});

describe('continue-as-new with memo, search attributes, retry policy and backoff', () => {
  // packages/workflow/src/workflow.ts makeContinueAsNewFunc and interfaces.ts ContinueAsNewOptions (memo,
  // searchAttributes, typedSearchAttributes: "conflicting keys will be overwritten by typedSearchAttributes");
  // retryPolicy / backoffStartInterval: Temporal's command fields retry_policy and backoff_start_interval
  // (temporalio/api command/v1/message.proto ContinueAsNewWorkflowExecutionCommandAttributes)
  it('the new run has the memo and search attributes given (replacing this run\'s), the retry policy, and waits the backoff', async () => {
    const h = await env.client.workflow.start('continueWithMemo', {
      args: [0], taskQueue: 'compat', workflowId: 'can-memo', memo: { note: 'first' }, searchAttributes: { plan: 'silver', old: 1 },
    });
    assert.deepEqual(await h.result(), { round: 1, memo: { note: 'next', n: 2 }, searchAttributes: { plan: 'gold', tier: 'y' } });
    const latest = env.client.workflow.getHandle('can-memo');
    const d = await latest.describe();
    assert.notEqual(d.runId, h.firstExecutionRunId);
    assert.deepEqual([d.memo, d.searchAttributes], [{ note: 'next', n: 2 }, { plan: 'gold', tier: 'y' }]);
    const events = await latest.fetchHistory();
    const started = events[0];
    assert.equal(started.attributes.retry_policy.maximum_attempts, 2);
    assert.equal(started.attributes.first_workflow_task_backoff, '1s');
    const firstTask = events.find((e) => e.event_type === 'WorkflowTaskStarted')!;
    const waited = Date.parse(firstTask.event_time) - Date.parse(started.event_time);
    assert.ok(waited >= 900, `the first workflow task started ${waited} ms after the run`);
  });
});

describe('semantics (point 3)', () => {
  it('signalWithStart: the signal is seen on the workflow function\'s first line (workflow/src/worker-interface.ts)', async () => {
    const h = await env.client.workflow.signalWithStart('firstLine', { workflowId: 'sws-first', taskQueue: 'compat', signal: 'go', signalArgs: ['hello'] });
    assert.equal(await h.result(), 'signal before first await: hello');
  });

  it('upserting a search attribute with [] deletes it (workflow/src/workflow.ts upsertSearchAttributes)', async () => {
    const h = await env.client.workflow.start('upsertRemove', { taskQueue: 'compat', workflowId: 'sa-rm' });
    assert.deepEqual(await h.result(), { plan: 'gold' });
    assert.deepEqual((await h.describe()).searchAttributes, { plan: 'gold' });
  });

  it('a workflow returning nothing gives undefined to result(), one returning null gives null', async () => {
    assert.equal(await env.client.workflow.execute('returnsNothing', { taskQueue: 'compat', workflowId: 'ret-undef' }), undefined);
    assert.equal(await env.client.workflow.execute('returnsNull', { taskQueue: 'compat', workflowId: 'ret-null' }), null);
  });

  it('a query sent after a signal was accepted, while a workflow task runs, answers from the state after the signal', async (t) => {
    // https://docs.temporal.io/encyclopedia/application-message-passing (Queries: "the state of all
    // confirmed Events that came in before the Query was sent"); Temporal's server holds the query
    // until the running workflow task completes
    if (!env.hasQuery) {
      t.skip('durable.query_workflow is not implemented by this engine');
      return;
    }
    const h = await env.client.workflow.start('collector', { taskQueue: 'hold', workflowId: 'q-hold' });
    // this test holds the first workflow task itself, as a worker in the middle of it would
    const task = await waitFor(async () => (await env.pool.query(
      "SELECT task_token FROM durable.poll_task('hold', 'manual', '{workflow}', '1 second')")).rows[0], 'the workflow task');
    await h.signal('go', 'a'); // buffered: a workflow task is running
    await env.startWorker({ taskQueue: 'hold', workflowsPath: COMPAT, activities: {} });
    let answered = false;
    const q = h.query<string>('state').finally(() => (answered = true));
    await sleepMs(700);
    assert.equal(answered, false, 'the query waits for the running workflow task');
    // the task completes as the workflow code would (collector's first activation has no commands)
    await env.pool.query("SELECT durable.complete_workflow_task($1, '[]')", [task.task_token]);
    assert.equal(await q, 'a');
    await h.signal('go', 'done');
    assert.deepEqual(await h.result(), ['a', 'done']);
  });
});

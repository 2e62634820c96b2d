/**
 * Temporal compatibility (issue 9, points 1-3), without a database: the
 * workflow runtime driven by hand-made histories (test/helpers/sim.ts), the
 * failure and enum values, the logger and runtime.  Each test names the
 * Temporal source or documentation page whose behaviour it asserts
 * (temporalio/sdk-typescript paths are packages/<package>/src/<file>).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActivityCancellationType, ActivityFailure, ApplicationFailure, ChildWorkflowFailure, DefaultLogger, ParentClosePolicy,
  RetryState, Runtime, TimeoutFailure, TimeoutType, decodeFailure, encodeFailure, withMetadata,
} from '../../src';
import type { LogEntry } from '../../src';
import { decodeRetryState } from '../../src/common/enums';
import { log, patched, deprecatePatch } from '../../src/workflow';
import { CONTINUE_AS_NEW_SUGGESTED_EVENTS } from '../../src/workflow/internals';
import { LogRecord, NewEvent, Sim, T0, captureLogger, replayFresh, signal } from '../helpers/sim';

const COMPAT = require.resolve('../workflows/compat');
const PATCH_AT_LOAD = require.resolve('../workflows/patch-at-load');
const fired = (timerId: string): NewEvent => ({ event_type: 'TimerFired', attributes: { timer_id: timerId } });

function completion(cmds: { type: string; [k: string]: unknown }[]): any {
  const c = cmds.at(-1);
  assert.equal(c?.type, 'complete_workflow', JSON.stringify(cmds));
  return c!.result;
}

describe('runtime and logger (Temporal: packages/worker/src/runtime.ts, logger.ts)', () => {
  it('Runtime.install({ logger }) replaces the logger once; DefaultLogger filters by level; withMetadata adds attributes', () => {
    const entries: LogEntry[] = [];
    const logger = new DefaultLogger('WARN', (e) => entries.push(e));
    const rt = Runtime.install({ logger });
    assert.equal(Runtime.instance(), rt);
    assert.equal(Runtime.instance().logger, logger);
    assert.throws(() => Runtime.install({}), { name: 'IllegalStateError', message: /already installed/ });
    logger.info('dropped');
    logger.warn('kept', { a: 1 });
    logger.log('ERROR', 'also kept');
    withMetadata(logger, { sdkComponent: 'x', a: 0 }).error('with meta', { a: 2 });
    assert.deepEqual(entries.map((e) => [e.level, e.message, e.meta]), [
      ['WARN', 'kept', { a: 1 }], ['ERROR', 'also kept', undefined], ['ERROR', 'with meta', { sdkComponent: 'x', a: 2 }],
    ]);
    assert.equal(typeof entries[0].timestampNanos, 'bigint');
  });
});

describe('workflow log and context (Temporal: packages/workflow/src/logs.ts, interfaces.ts)', () => {
  it('log is replay-aware and carries namespace, task queue, workflow id, run id and type', () => {
    const logs: LogRecord[] = [];
    const sim = new Sim(COMPAT, 'logging', [], { logger: captureLogger(logs), taskQueue: 'tq' });
    try {
      assert.equal(sim.task()[0].type, 'start_timer');
      sim.task([fired('1')]);
      assert.equal(completion(sim.task([fired('2')])), 'ok');
      assert.deepEqual(logs.map((l) => [l.level, l.message]), [['INFO', 'started'], ['WARN', 'after first timer'], ['INFO', 'done']]);
      assert.deepEqual(logs[0].meta, {
        namespace: 'default', taskQueue: 'tq', workflowId: 'wf-logging', runId: '0190f2a4-0000-7000-8000-000000000001',
        workflowType: 'logging', step: 1, sdkComponent: 'workflow',
      });
      // a worker without the run cached replays the whole history: only the live (last) activation logs
      const again: LogRecord[] = [];
      replayFresh(COMPAT, 'logging', sim.events, captureLogger(again));
      assert.deepEqual(again.map((l) => l.message), ['done']);
    } finally {
      sim.dispose();
    }
  });

  it('log outside a workflow throws', () => {
    assert.throws(() => log.info('x'), { name: 'IllegalStateError', message: /only be used from workflow context/ });
  });

  it('workflowInfo().unsafe.now() is the real clock, Date.now() the workflow task time', () => {
    const sim = new Sim(COMPAT, 'clocks');
    try {
      const before = Date.now();
      const r = completion(sim.task());
      assert.equal(r.safe, T0 + 1000);
      assert.ok(r.unsafe >= before && r.unsafe <= Date.now(), `unsafe.now() ${r.unsafe}`);
      assert.equal(r.replaying, false);
    } finally {
      sim.dispose();
    }
  });

  it('sleep(-5) sleeps 1 ms (Temporal: packages/workflow/src/workflow.ts sleep: "a negative number or 0 ... set to 1")', () => {
    const sim = new Sim(COMPAT, 'sleepNegative');
    try {
      assert.deepEqual(sim.task(), [{ type: 'start_timer', timer_id: '1', duration: '0.001s' }]);
    } finally {
      sim.dispose();
    }
  });

  it('continueAsNewSuggested from 4,096 events, or when WorkflowTaskStarted says so; historySize from it', () => {
    assert.equal(CONTINUE_AS_NEW_SUGGESTED_EVENTS, 4096);
    const noise = Array.from({ length: 4100 }, (_, i) => signal('noise', i));
    let sim = new Sim(COMPAT, 'suggestion');
    try {
      sim.task();
      const r = completion(sim.task([...noise, signal('go', 'x')]));
      assert.deepEqual(r[0], [false, 3, 0]);
      assert.equal(r[1][0], true);
      assert.ok(r[1][1] >= CONTINUE_AS_NEW_SUGGESTED_EVENTS);
    } finally {
      sim.dispose();
    }
    sim = new Sim(COMPAT, 'suggestion');
    try {
      sim.task();
      const r = completion(sim.task([signal('go', 'x')], { suggest_continue_as_new: true, history_size_bytes: 1234 }));
      assert.deepEqual(r[1], [true, 7, 1234]);
    } finally {
      sim.dispose();
    }
  });
});

describe('signals (Temporal: packages/workflow/src/internals.ts dispatchBufferedSignals, workflow.ts setDefaultSignalHandler)', () => {
  it('buffered signals are delivered one at a time, in order', () => {
    const sim = new Sim(COMPAT, 'bufferedInOrder');
    try {
      assert.deepEqual(sim.task(), []);
      const r = completion(sim.task([signal('go', '1'), signal('go', '2'), signal('go', '3'), signal('other', 'x')]));
      assert.deepEqual(r, ['1', '2', '3']);
    } finally {
      sim.dispose();
    }
  });

  it('a handler that unregisters itself leaves the rest buffered for the next handler', () => {
    const sim = new Sim(COMPAT, 'selfUnregistering');
    try {
      sim.task();
      const r = completion(sim.task([signal('go', 'a'), signal('go', 'b'), signal('go', 'c'), signal('other', 'x')]));
      assert.deepEqual(r, { first: ['a'], second: ['b', 'c'] });
    } finally {
      sim.dispose();
    }
  });

  it('setDefaultSignalHandler receives the signals without a handler: buffered ones in order, then new ones', () => {
    const sim = new Sim(COMPAT, 'defaultHandler');
    try {
      sim.task();
      assert.deepEqual(sim.task([signal('x', '1'), signal('go', 'a'), signal('y', '2', '3'), signal('other', '-')]), []);
      const r = completion(sim.task([signal('z', 'end')]));
      assert.deepEqual(r, ['go:a', 'default:x:1', 'default:y:2,3', 'default:z:end']);
    } finally {
      sim.dispose();
    }
  });

  it('a signal that came with the start is seen on the workflow function\'s first line (Temporal: worker-interface.ts activate)', () => {
    const sim = new Sim(COMPAT, 'firstLine', [], { first: [signal('go', 'hello')] });
    try {
      assert.equal(completion(sim.task()), 'signal before first await: hello');
    } finally {
      sim.dispose();
    }
  });

  it('a cancellation requested before the first task cancels the root scope before the function starts', () => {
    const sim = new Sim(COMPAT, 'cancelledBeforeStart', [], { first: [{ event_type: 'WorkflowExecutionCancelRequested', attributes: { cause: 'stop' } }] });
    try {
      assert.deepEqual(sim.task().map((c) => c.type), ['cancel_workflow']);
    } finally {
      sim.dispose();
    }
  });
});

describe('cancellation scopes (Temporal: packages/workflow/src/cancellation-scope.ts)', () => {
  it('a non-cancellable scope is not cancelled by cancel() on itself or an ancestor; the work in it finishes', () => {
    const sim = new Sim(COMPAT, 'nonCancellable');
    try {
      const all = [sim.task(), sim.task([fired('1')]), sim.task([fired('2')])];
      const last = sim.task([fired('3')]);
      for (const cmds of all) assert.deepEqual(cmds.map((c) => c.type), ['start_timer']);
      assert.deepEqual(completion(last), [
        'self: finished', 'ancestor: finished', 'inner cancellable: finished', 'shield.consideredCancelled=false',
      ]);
    } finally {
      sim.dispose();
    }
  });
});

describe('patches (Temporal: packages/workflow/src/workflow.ts patched, internals.ts patchInternal)', () => {
  it('patched() at module load fails the workflow task with a clear error', () => {
    const sim = new Sim(PATCH_AT_LOAD, 'patchAtLoad');
    try {
      assert.throws(() => sim.task(), { name: 'IllegalStateError', message: /patched\("at-load"\).*before the workflow function starts/ });
    } finally {
      sim.dispose();
    }
  });

  it('patched() and deprecatePatch() outside a workflow throw', () => {
    const outside = /may only be used from a Workflow Execution/;
    assert.throws(() => patched('p'), { name: 'IllegalStateError', message: outside });
    assert.throws(() => deprecatePatch('p'), { name: 'IllegalStateError', message: outside });
  });
});

describe('workflow commands', () => {
  it('upsertSearchAttributes with [] removes the attribute (Temporal: workflow.ts upsertSearchAttributes)', () => {
    const sim = new Sim(COMPAT, 'upsertRemove');
    try {
      assert.deepEqual(sim.task()[0], { type: 'upsert_search_attributes', search_attributes: { plan: 'gold', region: 'eu' } });
      assert.deepEqual(sim.task([fired('1')])[0], { type: 'upsert_search_attributes', search_attributes: { region: null } });
      assert.deepEqual(completion(sim.task([fired('2')])), { plan: 'gold' });
    } finally {
      sim.dispose();
    }
  });

  it('a workflow returning nothing completes without a result; one returning null with null', () => {
    let sim = new Sim(COMPAT, 'returnsNothing');
    try {
      sim.task();
      assert.deepEqual(sim.task([fired('1')]), [{ type: 'complete_workflow' }]);
    } finally {
      sim.dispose();
    }
    sim = new Sim(COMPAT, 'returnsNull');
    try {
      assert.deepEqual(sim.task(), [{ type: 'complete_workflow', result: null }]);
    } finally {
      sim.dispose();
    }
  });

  // packages/workflow/src/workflow.ts makeContinueAsNewFunc (memo through the payload converter,
  // searchAttributes and typedSearchAttributes unified, the typed ones winning); retryPolicy and
  // backoffStartInterval are the retry_policy and backoff_start_interval of Temporal's
  // ContinueAsNewWorkflowExecutionCommandAttributes (temporalio/api command/v1/message.proto)
  it('continue-as-new carries every field of the engine\'s command: memo, search attributes, retry policy, backoff', () => {
    let sim = new Sim(COMPAT, 'continueWithOptions', [0], { taskQueue: 'tq' });
    try {
      assert.deepEqual(sim.task(), [{
        type: 'continue_as_new', input: [1], workflow_type: 'continueWithOptions', task_queue: 'tq', run_timeout: '3600s', task_timeout: '20s',
      }]);
    } finally {
      sim.dispose();
    }
    sim = new Sim(COMPAT, 'continueWithMemo', [0], { taskQueue: 'tq' });
    try {
      assert.deepEqual(sim.task(), [{
        type: 'continue_as_new', input: [1], workflow_type: 'continueWithMemo', memo: { note: 'next', n: 2 },
        search_attributes: { plan: 'gold', tier: 'y' }, retry_policy: { maximum_attempts: 2, initial_interval: '2s' },
        backoff_start_interval: '1s',
      }]);
    } finally {
      sim.dispose();
    }
  });

  it('ActivityFailure.retryState and the cause come from the engine\'s close events', () => {
    const sim = new Sim(COMPAT, 'retryStates', ['k']);
    try {
      assert.equal(sim.task()[0].activity_type, 'failWith');
      sim.task([{ event_type: 'ActivityTaskFailed', attributes: {
        activity_id: '1', identity: 'w1', retry_state: 'NON_RETRYABLE_FAILURE',
        failure: { message: 'no', type: 'Fatal', non_retryable: true, details: [1] },
      } }]);
      sim.task([{ event_type: 'ActivityTaskFailed', attributes: {
        activity_id: '2', identity: 'w1', retry_state: 'MAXIMUM_ATTEMPTS_REACHED',
        failure: { message: 'again', type: 'Flaky', non_retryable: false },
      } }]);
      const r = completion(sim.task([{ event_type: 'ActivityTaskTimedOut', attributes: {
        activity_id: '3', retry_state: 'TIMEOUT',
        failure: { message: 'activity ScheduleToClose timeout', type: 'TimeoutError', non_retryable: true, timeout_type: 'SCHEDULE_TO_CLOSE' },
      } }]));
      assert.deepEqual(r, [
        'NON_RETRYABLE_FAILURE:ApplicationFailure(Fatal, nonRetryable=true)',
        'MAX:ApplicationFailure(Flaky, nonRetryable=false)',
        'TIMEOUT:TimeoutFailure(SCHEDULE_TO_CLOSE)',
      ]);
    } finally {
      sim.dispose();
    }
  });
});

describe('failure and enum values (Temporal: packages/common/src/failure.ts, activity-options.ts; workflow/src/interfaces.ts)', () => {
  it('RetryState, TimeoutType, ActivityCancellationType and ParentClosePolicy are runtime values with Temporal\'s strings', () => {
    assert.deepEqual(
      [RetryState.IN_PROGRESS, RetryState.NON_RETRYABLE_FAILURE, RetryState.TIMEOUT, RetryState.MAXIMUM_ATTEMPTS_REACHED,
        RetryState.RETRY_POLICY_NOT_SET, RetryState.INTERNAL_SERVER_ERROR, RetryState.CANCEL_REQUESTED, RetryState.RETRY_STATE_TIMEOUT],
      ['IN_PROGRESS', 'NON_RETRYABLE_FAILURE', 'TIMEOUT', 'MAXIMUM_ATTEMPTS_REACHED', 'RETRY_POLICY_NOT_SET', 'INTERNAL_SERVER_ERROR',
        'CANCEL_REQUESTED', 'TIMEOUT']);
    assert.deepEqual([TimeoutType.START_TO_CLOSE, TimeoutType.SCHEDULE_TO_START, TimeoutType.SCHEDULE_TO_CLOSE, TimeoutType.HEARTBEAT],
      ['START_TO_CLOSE', 'SCHEDULE_TO_START', 'SCHEDULE_TO_CLOSE', 'HEARTBEAT']);
    assert.deepEqual(ActivityCancellationType, { TRY_CANCEL: 'TRY_CANCEL', WAIT_CANCELLATION_COMPLETED: 'WAIT_CANCELLATION_COMPLETED', ABANDON: 'ABANDON' });
    assert.deepEqual([ParentClosePolicy.TERMINATE, ParentClosePolicy.ABANDON, ParentClosePolicy.REQUEST_CANCEL, ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE],
      ['TERMINATE', 'ABANDON', 'REQUEST_CANCEL', 'TERMINATE']);
    assert.equal(decodeRetryState('MAXIMUM_ATTEMPTS_REACHED'), RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(decodeRetryState('RETRY_STATE_CANCEL_REQUESTED'), RetryState.CANCEL_REQUESTED);
    assert.equal(decodeRetryState('RETRY_STATE_UNSPECIFIED'), undefined);
    assert.equal(decodeRetryState('bogus'), undefined);
  });

  // packages/common/src/converter/failure-converter.ts: nextRetryDelay is the failure's
  // application_failure_info.next_retry_delay, both ways
  it('nextRetryDelay is the failure\'s next_retry_delay, both ways', () => {
    const f = encodeFailure(ApplicationFailure.create({ message: 'later', type: 'Later', nextRetryDelay: '1.5s' }));
    assert.equal(f.next_retry_delay, '1.5s');
    assert.equal(encodeFailure(ApplicationFailure.create({ message: 'now' })).next_retry_delay, undefined);
    const back = decodeFailure({ message: 'later', type: 'Later', next_retry_delay: '1.500s' });
    assert.ok(back instanceof ApplicationFailure);
    assert.equal(back.nextRetryDelay, 1500);
  });

  it('ApplicationFailure.create takes message, type, nonRetryable, details, nextRetryDelay and cause', () => {
    const cause = new Error('root');
    const f = ApplicationFailure.create({ message: 'm', type: 'T', nonRetryable: true, details: [1, 'a'], nextRetryDelay: '5s', cause });
    assert.deepEqual([f.message, f.type, f.nonRetryable, f.details, f.nextRetryDelay, f.cause], ['m', 'T', true, [1, 'a'], '5s', cause]);
    assert.equal(ApplicationFailure.create({}).nonRetryable, false);
    // only fields the engine's failure object has (util.c dur_failure rejects unknown ones)
    const json = encodeFailure(f);
    for (const k of Object.keys(json)) {
      assert.ok(['message', 'type', 'non_retryable', 'details', 'stack_trace', 'cause', 'timeout_type', 'next_retry_delay'].includes(k), k);
    }
    assert.equal(ApplicationFailure.fromError(new TypeError('t'), { nonRetryable: true }).nonRetryable, true);
  });

  it('TimeoutFailure, ActivityFailure and ChildWorkflowFailure have Temporal\'s constructors and decode from engine JSON', () => {
    const t = decodeFailure({ message: 'hb', type: 'TimeoutError', timeout_type: 'HEARTBEAT', details: [7] }) as TimeoutFailure;
    assert.ok(t instanceof TimeoutFailure);
    assert.equal(t.timeoutType, TimeoutType.HEARTBEAT);
    assert.deepEqual(t.lastHeartbeatDetails, [7]);
    const own = new TimeoutFailure('x', { p: 1 }, TimeoutType.START_TO_CLOSE);
    assert.deepEqual([own.lastHeartbeatDetails, own.timeoutType], [{ p: 1 }, 'START_TO_CLOSE']);
    const af = new ActivityFailure('a', 'charge', '1', RetryState.TIMEOUT, 'worker-1', t);
    const back = decodeFailure(encodeFailure(af)) as ActivityFailure;
    assert.deepEqual([back.activityType, back.activityId, back.retryState, back.identity], ['charge', '1', 'TIMEOUT', 'worker-1']);
    assert.ok(back.cause instanceof TimeoutFailure);
    const cw = new ChildWorkflowFailure(undefined, { workflowId: 'c', runId: 'r' }, 'child', RetryState.NON_RETRYABLE_FAILURE);
    const cwBack = decodeFailure(encodeFailure(cw)) as ChildWorkflowFailure;
    assert.ok(cwBack instanceof ChildWorkflowFailure);
    assert.deepEqual([cwBack.execution, cwBack.workflowType, cwBack.retryState], [{ workflowId: 'c', runId: 'r' }, 'child', 'NON_RETRYABLE_FAILURE']);
  });
});

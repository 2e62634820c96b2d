import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure, WorkflowCanceledError, WorkflowFailedError,
  NamespaceNotFoundError, PermissionDeniedError, WorkflowNotFoundError, decodeFailure, encodeFailure, isCancellation, mapError, msToNumber, toInterval,
} from '../../src';
import { retryPolicy } from '../../src/workflow/internals';
import { parsePgInterval } from '../../src/common/duration';
import { toTask } from '../../src/worker/task';

describe('durations', () => {
  it('parses ms-style strings and numbers', () => {
    assert.equal(msToNumber(1500), 1500);
    assert.equal(msToNumber('30s'), 30_000);
    assert.equal(msToNumber('30 days'), 30 * 86_400_000);
    assert.equal(msToNumber('1.5h'), 5_400_000);
    assert.equal(msToNumber('100ms'), 100);
    assert.equal(msToNumber('2 minutes'), 120_000);
    assert.throws(() => msToNumber('soon'), TypeError);
    assert.throws(() => msToNumber(-1), TypeError);
  });
  it('turns durations into interval text', () => {
    assert.equal(toInterval('30 days'), '2592000s');
    assert.equal(toInterval(250), '0.25s');
  });
  it('reads PostgreSQL interval text in every IntervalStyle', () => {
    assert.equal(parsePgInterval('00:00:30'), 30_000);
    assert.equal(parsePgInterval('00:00:00.25'), 250);
    assert.equal(parsePgInterval('1 day 02:00:00.5'), 86_400_000 + 7_200_000 + 500);
    assert.equal(parsePgInterval('3 days'), 3 * 86_400_000);
    assert.equal(parsePgInterval('1 mon 2 days'), 32 * 86_400_000);
    assert.equal(parsePgInterval('1 year'), 365.25 * 86_400_000);
    assert.equal(parsePgInterval('-00:00:01'), -1000);
    assert.equal(parsePgInterval('PT30S'), 30_000);
    assert.equal(parsePgInterval('P1DT2H0.5S'), 86_400_000 + 7_200_000 + 500);
    assert.equal(parsePgInterval('1 2:00:00'), 86_400_000 + 7_200_000);
    assert.equal(parsePgInterval('@ 1 min 30 secs'), 90_000);
    assert.equal(parsePgInterval(null), undefined);
    assert.equal(parsePgInterval('soon'), undefined);
  });
  it('maps retry options to the engine retry policy', () => {
    assert.deepEqual(retryPolicy({ initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidAccountError'] }), {
      initial_interval: '1s', backoff_coefficient: 2, maximum_interval: '60s', maximum_attempts: 5, non_retryable_error_types: ['InvalidAccountError'],
    });
  });
});

describe('failures', () => {
  it('round-trips ApplicationFailure through the engine JSON', () => {
    const f = encodeFailure(ApplicationFailure.nonRetryable('closed', 'InvalidAccountError', { id: 1 }));
    assert.equal(f.type, 'InvalidAccountError');
    assert.equal(f.non_retryable, true);
    assert.deepEqual(f.details, [{ id: 1 }]);
    const e = decodeFailure(f) as ApplicationFailure;
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, 'InvalidAccountError');
    assert.equal(e.nonRetryable, true);
  });
  it('keeps causes and recognises cancellations', () => {
    const af = new ActivityFailure('x', 'charge', '1', 'CANCEL_REQUESTED', undefined, new CancelledFailure('c'));
    const back = decodeFailure(encodeFailure(af));
    assert.ok(back instanceof ActivityFailure);
    assert.ok(back.cause instanceof CancelledFailure);
    assert.ok(isCancellation(back));
    assert.ok(!isCancellation(new Error('x')));
    assert.ok(decodeFailure({ message: 't', type: 'TimeoutError', timeout_type: 'HEARTBEAT' }) instanceof TimeoutFailure);
  });
  it('maps SQLSTATEs to typed errors', () => {
    assert.ok(mapError({ code: 'DU001', message: 'not found' }) instanceof WorkflowNotFoundError);
    const f = mapError({ code: 'DU010', message: 'failed', detail: JSON.stringify({ message: 'boom', type: 'MyError', non_retryable: true }) }) as WorkflowFailedError;
    assert.ok(f instanceof WorkflowFailedError);
    assert.equal((f.cause as ApplicationFailure).type, 'MyError');
    const c = mapError({ code: 'DU011', message: 'canceled', detail: '{"message": "workflow canceled"}' });
    assert.ok(c instanceof WorkflowCanceledError && c instanceof WorkflowFailedError);
    assert.ok((c as WorkflowCanceledError).cause instanceof CancelledFailure);
  });
  it('maps 42501 and DU009 to PermissionDeniedError and NamespaceNotFoundError, with the namespace the message names (docs/namespaces.md)', () => {
    const p = mapError({ code: '42501', message: 'permission denied for namespace "ns-b"', hint: 'Grant the client capability.' });
    assert.ok(p instanceof PermissionDeniedError);
    assert.equal(p.namespace, 'ns-b');
    assert.equal(p.hint, 'Grant the client capability.');
    // a 42501 that names no namespace (EXECUTE refused) is one too, without a namespace
    const f = mapError({ code: '42501', message: 'permission denied for function create_namespace' }) as PermissionDeniedError;
    assert.ok(f instanceof PermissionDeniedError);
    assert.equal(f.namespace, undefined);
    const n = mapError({ code: 'DU009', message: 'namespace "nope" not found' });
    assert.ok(n instanceof NamespaceNotFoundError);
    assert.equal(n.namespace, 'nope');
    assert.equal(n.name, 'NamespaceNotFoundError');
  });
});

describe('tasks', () => {
  it('polled and handed-out tasks (to_json(durable.task)) become one shape', () => {
    const json = {
      task_token: 'a:5d2c:5:1:0', kind: 'activity', workflow_id: 'w', run_id: '5d2c', workflow_type: 'chain', task_queue: 'q',
      activity_id: '1', activity_type: 'add', input: [1, 2], attempt: 1, history: null, heartbeat_details: null,
      scheduled_time: '2026-11-25T10:00:00.123456+00:00', started_time: '2026-11-25T10:00:00.2+00:00',
      deadline: '2026-11-25T10:00:30.2+00:00', heartbeat_timeout: '00:00:30', priority: 0, query_name: null,
    };
    const t = toTask(json);
    assert.ok(t.scheduled_time instanceof Date && t.started_time instanceof Date && t.deadline instanceof Date);
    assert.equal(t.deadline!.getTime() - t.started_time!.getTime(), 30_000);
    assert.equal(t.heartbeat_timeout_ms, 30_000);
    assert.deepEqual(t.input, [1, 2]);
    // a task as node-postgres parses a row: Dates stay Dates, a missing interval is null
    const row = toTask({ ...json, scheduled_time: new Date(0), heartbeat_timeout: null });
    assert.equal(row.scheduled_time!.getTime(), 0);
    assert.equal(row.heartbeat_timeout_ms, null);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure, WorkflowCanceledError, WorkflowFailedError,
  WorkflowNotFoundError, decodeFailure, encodeFailure, isCancellation, mapError, msToNumber, toInterval,
} from '../../src';
import { retryPolicy } from '../../src/workflow/internals';

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
    const af = new ActivityFailure('x', 'charge', '1', 'CANCEL_REQUESTED', new CancelledFailure('c'));
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
});

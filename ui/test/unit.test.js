/*
 * The UI's pure helpers: the search attribute filter syntax, the histogram
 * quantile behind the schedule-to-start latency (Prometheus's
 * histogram_quantile interpolation within a bucket:
 * https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile),
 * the command line, and the timeline's grouping of an activity's events onto
 * one line (as the event groups of Temporal's Web UI compact history, repository
 * temporalio/ui, src/lib/models/event-groups/).
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { parseArgs, parseSearchAttributes, quantile, timeline } = require('../server');

test('search attributes: a JSON object or k=v pairs', () => {
  assert.deepEqual(parseSearchAttributes('{"CustomerId": "c1", "Amount": 5}'), { CustomerId: 'c1', Amount: 5 });
  assert.deepEqual(parseSearchAttributes('CustomerId=c1, Amount=5, Vip=true'), { CustomerId: 'c1', Amount: 5, Vip: true });
  assert.throws(() => parseSearchAttributes('nokey'), /not key=value/);
  assert.throws(() => parseSearchAttributes('{bad'), /not a JSON object/);
});

test('quantile interpolates within the cumulative bucket, +Inf gives the last bound', () => {
  const b = [[0.001, 0], [0.01, 50], [0.1, 100], [Infinity, 100]];
  assert.ok(Math.abs(quantile(b, 0.5) - 0.01) < 1e-12);
  assert.ok(Math.abs(quantile(b, 0.25) - 0.0055) < 1e-12);
  assert.ok(Math.abs(quantile(b, 0.99) - (0.01 + 0.09 * 0.98)) < 1e-12);
  assert.equal(quantile([[1, 0], [Infinity, 10]], 0.5), 1);
  assert.ok(Number.isNaN(quantile([[1, 0], [Infinity, 0]], 0.5)));
});

test('command line', () => {
  const o = parseArgs(['--database-url', 'postgresql://x@/db', '--port', '9000', '--read-only', '--namespace', 'acme']);
  assert.equal(o.databaseUrl, 'postgresql://x@/db');
  assert.equal(o.port, 9000);
  assert.equal(o.readOnly, true);
  assert.equal(o.namespace, 'acme');
  assert.throws(() => parseArgs(['--bogus']), /unknown argument/);
  assert.throws(() => parseArgs(['--port']), /needs a value/);
});

test('timeline: an activity and a timer each on one line', () => {
  const t = (s) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const ev = [
    { event_id: 1, event_type: 'WorkflowExecutionStarted', event_time: t(0), attributes: {} },
    { event_id: 5, event_type: 'ActivityTaskScheduled', event_time: t(1), attributes: { activity_id: 'a', activity_type: 'Charge' } },
    { event_id: 6, event_type: 'TimerStarted', event_time: t(1), attributes: { timer_id: 'r' } },
    { event_id: 7, event_type: 'ActivityTaskStarted', event_time: t(2), attributes: { scheduled_event_id: 5 } },
    { event_id: 8, event_type: 'ActivityTaskCompleted', event_time: t(3), attributes: { scheduled_event_id: 5, started_event_id: 7 } },
    { event_id: 9, event_type: 'TimerFired', event_time: t(4), attributes: { timer_id: 'r', started_event_id: 6 } },
  ];
  const html = timeline(ev, { close_time: null });
  const rows = html.split('<tr>').slice(2);
  assert.equal(rows.length, 3, 'started, the activity, the timer');
  assert.match(rows[1], /activity Charge \(a\).*5 Scheduled \+1\.000s.*7 Started \+2\.000s.*8 Completed \+3\.000s/s);
  assert.match(rows[2], /timer r.*6 Started.*9 Fired \+4\.000s/s);
});

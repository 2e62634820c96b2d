/**
 * Pure mappings of client.schedule and the CLI, without a database:
 * Temporal's ScheduleSpec shapes (temporalio/sdk-typescript
 * packages/client/src/schedule-types.ts: CalendarSpec ranges, month and day
 * names, IntervalSpec; ScheduleOverlapPolicy names) as the engine's spec
 * JSON, and the CLI's flag parsing (https://docs.temporal.io/cli flag style).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlapToEngine, specToEngine } from '../../src/schedule-client';
import { UsageError, keyValues, parseFlags } from '../../src/cli/args';

describe('client.schedule spec mapping', () => {
  it('calendars: defaults, ranges with steps, lists, month and day names', () => {
    const e = specToEngine({
      calendars: [
        {},
        { second: 30, minute: [{ start: 0, end: 45, step: 15 }, 50], hour: '9-17', month: ['JANUARY', { start: 'MARCH', end: 'MAY' }],
          dayOfWeek: { start: 'MONDAY', end: 'FRIDAY' }, dayOfMonth: { start: 1, end: 31, step: 2 }, year: 2027, comment: 'c' },
      ],
    });
    assert.deepEqual(e.calendars, [
      { second: '0', minute: '0', hour: '0', day_of_month: '*', month: '*', day_of_week: '*', year: '*' },
      { second: '30', minute: '0-45/15,50', hour: '9-17', day_of_month: '1-31/2', month: '1,3-5', day_of_week: 'mon-fri', year: '2027', comment: 'c' },
    ]);
  });

  it('intervals, cron, skip, jitter, start and end, time zone', () => {
    const e = specToEngine({
      intervals: [{ every: '15m', offset: '1m' }, '1h'], cronExpressions: ['*/5 * * * *'], skip: [{ month: 'DECEMBER', dayOfMonth: 25 }],
      jitter: '30s', startAt: new Date('2027-01-01T00:00:00Z'), endAt: '2027-02-01T00:00:00Z', timezone: 'Europe/Paris',
    });
    assert.deepEqual(e.intervals, [{ every: '900s', offset: '60s' }, { every: '3600s' }]);
    assert.deepEqual(e.cron, ['*/5 * * * *']);
    assert.equal((e.exclude_calendars as any[])[0].month, '12');
    assert.equal(e.jitter, '30s');
    assert.equal(e.start_at, '2027-01-01T00:00:00.000Z');
    assert.equal(e.end_at, '2027-02-01T00:00:00.000Z');
    assert.equal(e.timezone, 'Europe/Paris');
  });

  it('overlap policies: Temporal\'s enum, the CLI\'s spelling and the engine\'s names', () => {
    assert.equal(overlapToEngine('BUFFER_ONE'), 'buffer_one');
    assert.equal(overlapToEngine('SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER'), 'terminate_other');
    assert.equal(overlapToEngine('AllowAll'), 'allow_all');
    assert.equal(overlapToEngine('cancel_other'), 'cancel_other');
    assert.equal(overlapToEngine(undefined), undefined);
    assert.throws(() => overlapToEngine('sometimes'), /unknown overlap policy "sometimes"/);
  });
});

describe('CLI flags', () => {
  const flags = { 'workflow-id': { short: 'w', help: '' }, input: { short: 'i', multi: true, help: '' }, paused: { bool: true, help: '' } };
  it('long, short, = form, repeatable and boolean flags', () => {
    assert.deepEqual(parseFlags(['-w', 'a', '--input=1', '-i', '"x"', '--paused'], flags), { 'workflow-id': 'a', input: ['1', '"x"'], paused: true });
  });
  it('usage errors name the flag', () => {
    assert.throws(() => parseFlags(['--nope'], flags), (e) => e instanceof UsageError && /unknown flag --nope/.test(e.message));
    assert.throws(() => parseFlags(['-w'], flags), /--workflow-id needs a value/);
    assert.throws(() => parseFlags(['stray'], flags), /unexpected argument "stray"/);
    assert.throws(() => keyValues(['novalue'], '--memo'), /expected key=value/);
    assert.deepEqual(keyValues(['a=1', 'b="x=y"'], '--memo'), { a: 1, b: 'x=y' });
  });
});

/**
 * Activities of the Temporal-compatibility tests, written against the
 * activity module's functions as Temporal code is (packages/activity:
 * activityInfo, heartbeat, sleep, cancelled, log, Context.current()).
 */
import pg from 'pg';
import { ApplicationFailure, CancelledFailure, Context, activityInfo, cancelled, heartbeat, log, sleep } from '../../src/activity';

export const COMPAT_SCHEMA = `
CREATE TABLE IF NOT EXISTS compat_runs (id bigserial PRIMARY KEY, key text, what text, attempt int, at timestamptz DEFAULT clock_timestamp());
`;

export function createCompatActivities(pool: pg.Pool) {
  const rec = (key: string, what: string) =>
    pool.query('INSERT INTO compat_runs (key, what, attempt) VALUES ($1, $2, $3)', [key, what, activityInfo().attempt]);
  return {
    async failWith(key: string, how: 'nonRetryable' | 'retryable' | 'slow'): Promise<string> {
      await rec(key, `failWith:${how}`);
      if (how === 'nonRetryable') throw ApplicationFailure.create({ message: 'no', type: 'Fatal', nonRetryable: true, details: [1] });
      if (how === 'retryable') throw ApplicationFailure.create({ message: 'again', type: 'Flaky' });
      // outlives the schedule-to-close timeout; the heartbeats tell it when the attempt is gone
      for (let i = 0; i < 50; i++) {
        heartbeat(i);
        await sleep(200);
      }
      return 'slow';
    },
    async failOnceWithNextRetryDelay(key: string): Promise<number> {
      const { attempt } = activityInfo();
      await rec(key, 'nextRetryDelay');
      if (attempt === 1) throw ApplicationFailure.create({ message: 'later', type: 'Later', nextRetryDelay: '300ms' });
      return attempt;
    },
    /** Heartbeats progress; attempt 1 fails at 3, the next attempt resumes from activityInfo().heartbeatDetails. */
    async resumable(key: string): Promise<{ attempt: number; from: number }> {
      const info = activityInfo();
      const from = (info.heartbeatDetails as number | undefined) ?? 0;
      log.info('resumable', { from });
      await rec(key, `from:${from}`);
      for (let i = from; i < 5; i++) {
        // throttled: only the first goes out at once; the worker sends the last before reporting the failure
        heartbeat(i);
        if (info.attempt === 1 && i === 3) throw ApplicationFailure.create({ message: 'crash', type: 'Crash' });
      }
      return { attempt: info.attempt, from };
    },
    /** Sleeps in steps, heartbeating, until cancelled: sleep() and cancelled() both reject with CancelledFailure. */
    async sleepUntilCancelled(key: string): Promise<string> {
      const ctx = Context.current();
      const gone = cancelled().catch((e) => e);
      try {
        for (let i = 0; i < 200; i++) {
          heartbeat(i);
          await sleep(100);
        }
        return 'finished';
      } catch (e) {
        const viaCancelled = await gone;
        await rec(key, `cancelled:${(e as Error).name}:${e instanceof CancelledFailure}:${viaCancelled instanceof CancelledFailure}:${ctx.cancellationSignal.aborted}`);
        throw e;
      }
    },
  };
}

export type CompatActivities = ReturnType<typeof createCompatActivities>;

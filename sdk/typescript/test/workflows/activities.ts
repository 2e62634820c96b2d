/** Activities of the tests; they record runs in the test_runs table. */
import pg from 'pg';
import { ApplicationFailure, Context } from '../../src';

export const TEST_SCHEMA = `
CREATE TABLE IF NOT EXISTS test_runs (id bigserial PRIMARY KEY, key text, what text, attempt int, at timestamptz DEFAULT clock_timestamp());
`;

export function createTestActivities(pool: pg.Pool) {
  const rec = (key: string, what: string, attempt = Context.current().info.attempt) =>
    pool.query('INSERT INTO test_runs (key, what, attempt) VALUES ($1, $2, $3)', [key, what, attempt]);
  return {
    async failTimes(key: string, failures: number, type: string): Promise<number> {
      const { attempt } = Context.current().info;
      await rec(key, 'failTimes');
      if (attempt <= failures) throw ApplicationFailure.retryable(`attempt ${attempt} failed`, type);
      return attempt;
    },
    async heartbeatUntilCancelled(key: string): Promise<string> {
      const ctx = Context.current();
      await rec(key, 'started');
      try {
        for (let i = 0; i < 300; i++) {
          ctx.heartbeat(i);
          await ctx.sleep(100);
        }
        return 'finished';
      } catch (e) {
        await rec(key, `cancelled:${(e as Error).name}:${ctx.cancellationSignal.aborted}`);
        throw e;
      }
    },
    async resumeFromHeartbeat(key: string): Promise<number> {
      const ctx = Context.current();
      const from = (ctx.info.heartbeatDetails as number | undefined) ?? 0;
      await rec(key, `from:${from}`);
      for (let i = from; i < 6; i++) {
        ctx.heartbeat(i);
        await new Promise((r) => setTimeout(r, 100));
        if (ctx.info.attempt === 1 && i === 3) {
          await new Promise((r) => setTimeout(r, 1200)); // let the last heartbeat go out
          throw ApplicationFailure.retryable('crash in the middle', 'Crash');
        }
      }
      return from;
    },
    async record(key: string, what: string): Promise<void> {
      await rec(key, what);
    },
    async add(a: number, b: number): Promise<number> {
      return a + b;
    },
    /** Records its start and end (clock_timestamp()), sleeping ms between. */
    async timed(key: string, i: number, ms: number): Promise<number> {
      await rec(key, `start:${i}`);
      await new Promise((r) => setTimeout(r, ms));
      await rec(key, `end:${i}`);
      return i;
    },
    /**
     * Attempt 1 never returns (the crash test kills its worker meanwhile;
     * it tells the test through IPC when it is running); later attempts return.
     */
    async holdOnFirstAttempt(key: string): Promise<string> {
      const { attempt } = Context.current().info;
      await rec(key, `hold:${attempt}`);
      if (attempt === 1) {
        process.send?.({ holding: key });
        await new Promise(() => undefined);
      }
      return `attempt ${attempt}`;
    },
  };
}

export type TestActivities = ReturnType<typeof createTestActivities>;

/** Activities of the local activity tests: in-process, they log their calls in `calls`. */
import { ApplicationFailure, Context } from '../../src';

export function createLocalActivities() {
  const calls: string[] = [];
  const activities = {
    async greet(name: string, n: number): Promise<string> {
      calls.push(`greet:${name}:${n}:${Context.current().info.isLocal}`);
      return `${name}${n}`;
    },
    async shout(name: string): Promise<string> {
      calls.push(`shout:${name}`);
      return name.toUpperCase();
    },
    async failTimes(key: string, failures: number): Promise<number> {
      const { attempt } = Context.current().info;
      calls.push(`failTimes:${key}:${attempt}`);
      if (attempt <= failures) throw ApplicationFailure.retryable(`attempt ${attempt} failed`, 'Flaky');
      return attempt;
    },
    async slow(ms: number): Promise<string> {
      calls.push(`slow:${ms}`);
      await Context.current().sleep(ms);
      return `slept ${ms}`;
    },
    async waitForCancel(key: string): Promise<string> {
      const ctx = Context.current();
      calls.push(`waitForCancel:${key}:start`);
      try {
        await ctx.sleep(5000);
        return 'finished';
      } catch (e) {
        calls.push(`waitForCancel:${key}:cancelled`);
        throw e;
      }
    },
  };
  return { calls, activities };
}

export type LocalActivities = ReturnType<typeof createLocalActivities>['activities'];

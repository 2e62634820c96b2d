/** Activities of the task routing tests (test/e2e/routing.test.ts): each worker's say who ran them. */
import { Context } from '../../src';

export function createRoutingActivities(worker: string) {
  return {
    /** The name of the worker that ran the activity. */
    async whoAmI(): Promise<string> {
      return worker;
    },
    /** When the activity started (ms since the epoch). */
    async stamp(): Promise<number> {
      return Date.now();
    },
    /** The priority key the engine dispatched the activity with. */
    async myPriority(): Promise<number | undefined> {
      return Context.current().info.priority?.priorityKey;
    },
  };
}

export type RoutingActivities = ReturnType<typeof createRoutingActivities>;

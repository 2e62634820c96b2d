import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from './activities';

// ReturnType<>: createActivities is a factory
const { greet, greet_es } = proxyActivities<ReturnType<typeof createActivities>>({
  scheduleToCloseTimeout: '30 seconds',
});

export async function dependencyWF(): Promise<string> {
  const english = await greet('Hello');
  const spanish = await greet_es('Hola');
  return `${english}\n${spanish}`;
}

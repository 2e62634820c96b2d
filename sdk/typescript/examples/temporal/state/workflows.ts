import { CancellationScope, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';

export const setValueSignal = defineSignal<[string, number]>('setValue');
export const getValueQuery = defineQuery<number | undefined, [string]>('getValue');

/** Holds a map that signals write and a query reads, until cancelled. */
export async function trackState(): Promise<void> {
  const state = new Map<string, number>();
  setHandler(setValueSignal, (key, value) => void state.set(key, value));
  setHandler(getValueQuery, (key) => state.get(key));
  await CancellationScope.current().cancelRequested;
}

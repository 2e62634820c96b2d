/**
 * Workflows with update handlers (test/e2e/updates.test.ts, the fixture
 * update-tour of test/tools/capture-fixtures.ts), written as Temporal's
 * documentation shows them:
 * https://docs.temporal.io/develop/typescript/message-passing#updates
 */
import {
  ApplicationFailure, HandlerUnfinishedPolicy, allHandlersFinished, condition, currentUpdateInfo, defineQuery, defineSignal,
  defineUpdate, proxyActivities, setDefaultUpdateHandler, setHandler, sleep, workflowInfo,
} from '../../src/workflow';

const { double } = proxyActivities<{ double(x: number): Promise<number> }>({ startToCloseTimeout: '10s' });

export const add = defineUpdate<number, [number]>('add');
export const addLater = defineUpdate<number, [number]>('addLater');
export const addDoubled = defineUpdate<number, [number]>('addDoubled');
export const fail = defineUpdate<void, [string]>('fail');
export const crash = defineUpdate<void, []>('crash');
export const info = defineUpdate<{ fromInfo: unknown; before: unknown; after: unknown }, []>('info');
export const waitForRelease = defineUpdate<string, []>('waitForRelease');
export const nothing = defineUpdate<void, []>('nothing');
export const release = defineSignal('release');
export const finish = defineSignal('finish');
export const total = defineQuery<number>('total');
export const runs = defineQuery<number>('runs');

/**
 * A counter changed by updates: `add` (sync, with a validator refusing
 * negative numbers), `addLater` (awaits a timer), `addDoubled` (awaits an
 * activity), `fail` (throws an ApplicationFailure), `waitForRelease`
 * (waits for the signal release).  After the signal finish, waits for all
 * handlers to finish and returns the total.
 */
export async function counter(start = 0): Promise<{ total: number; runs: number }> {
  let sum = start;
  let handlerRuns = 0;
  let released = false;
  let finished = false;
  const positive = (n: number) => {
    if (typeof n !== 'number' || n < 0) throw new Error(`only positive numbers, not ${n}`);
  };
  setHandler(add, (n) => {
    handlerRuns++;
    sum += n;
    return sum;
  }, { validator: positive });
  setHandler(addLater, async (n) => {
    handlerRuns++;
    await sleep('200ms');
    sum += n;
    return sum;
  }, { validator: positive });
  setHandler(addDoubled, async (n) => {
    handlerRuns++;
    sum += await double(n);
    return sum;
  });
  setHandler(fail, (why) => {
    handlerRuns++;
    throw ApplicationFailure.create({ message: `refused: ${why}`, type: 'Refused', details: [why] });
  });
  setHandler(crash, () => {
    throw new Error('a bug in the handler');
  });
  setHandler(info, async () => {
    const fromInfo = workflowInfo().currentUpdateInfo;
    const before = currentUpdateInfo();
    await sleep(1);
    return { fromInfo, before, after: currentUpdateInfo() };
  });
  setHandler(waitForRelease, async () => {
    handlerRuns++;
    await condition(() => released);
    return `released with total ${sum}`;
  }, { unfinishedPolicy: HandlerUnfinishedPolicy.ABANDON });
  setHandler(nothing, () => undefined);
  setHandler(release, () => void (released = true));
  setHandler(finish, () => void (finished = true));
  setHandler(total, () => sum);
  setHandler(runs, () => handlerRuns);
  await condition(() => finished);
  await condition(allHandlersFinished);
  return { total: sum, runs: handlerRuns };
}

/** Returns at once (for updates on a closed workflow). */
export async function quick(): Promise<string> {
  return 'done';
}

/**
 * Sets its update handler only after a timer: an update that arrives
 * before is rejected ("No registered handler"); with setDefaultUpdateHandler
 * the default handler takes it.
 */
export async function lateHandler(useDefault: boolean): Promise<string[]> {
  const seen: string[] = [];
  if (useDefault) setDefaultUpdateHandler((name, ...args) => void seen.push(`${name}(${args.join(',')})`));
  await condition(() => seen.length > 0, '2s');
  setHandler(add, (n) => {
    seen.push(`add(${n})`);
    return seen.length;
  });
  await condition(() => seen.length >= 2);
  return seen;
}

/**
 * Update-with-start: the update comes with the first workflow task, before
 * the workflow function ran; the handler set at its first line takes it.
 */
export async function startedForUpdate(): Promise<number> {
  let sum = 0;
  let done = false;
  setHandler(add, (n) => {
    sum += n;
    done = true;
    return sum;
  });
  await condition(() => done);
  await condition(allHandlersFinished);
  return sum;
}

/** The update-tour fixture: accepted/completed in one task and across tasks, a handler failure, a rejection. */
export async function updateTour(): Promise<{ total: number; runs: number }> {
  return counter(100);
}

export const hang = defineUpdate<void, []>('hang');

/** Returns on the signal finish without waiting for its update handlers (hang never finishes). */
export async function impatient(): Promise<string> {
  let finished = false;
  setHandler(hang, async () => {
    await condition(() => false);
  });
  setHandler(finish, () => void (finished = true));
  await condition(() => finished);
  return 'done';
}

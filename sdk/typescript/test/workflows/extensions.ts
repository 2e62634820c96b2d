/** Workflows of the extension-point tests (issue 9, point 5). */
import {
  ApplicationFailure, SearchAttributeType, condition, continueAsNew, defineQuery, defineSearchAttributeKey, defineSignal, makeContinueAsNewFunc,
  proxyActivities,
  proxySinks, setDefaultSignalHandler, setHandler, sleep, upsertSearchAttributes, workflowInfo,
} from '../../src/workflow';
import type { Sinks } from '../../src/workflow';
import { seen } from './ext-interceptors';

const acts = proxyActivities<{ greet(name: string): Promise<string>; shout(s: string): Promise<string> }>({ startToCloseTimeout: '10s' });

export const add = defineSignal<[string]>('add');
export const signalsQuery = defineQuery<string[]>('signals');

export async function intercepted(name: string): Promise<unknown> {
  const signals: string[] = [];
  setHandler(add, (s) => void signals.push(s));
  setHandler(signalsQuery, () => signals);
  const greeting = await acts.greet(name);
  await sleep(5);
  await condition(() => signals.length > 0);
  return { greeting, signals, seen };
}

/**
 * Signal delivery (issue 9 point 3) through the extension points (point 5):
 * the signal of signalWithStart reaches the first setHandler before the
 * next line, later signals without a handler go to the default handler,
 * each through the inbound handleSignal interceptors and the data converter.
 */
export async function mergedSignals(): Promise<unknown> {
  const got: string[] = [];
  setHandler(add, (s) => void got.push(`add:${s}`));
  const firstLine = [...got];
  setDefaultSignalHandler((name, ...args) => void got.push(`default ${name}:${args.join(',')}`));
  await condition(() => got.length >= 3);
  return { firstLine, got, seen };
}

/** Continues as new once with a memo of its own (through the data converter); the new run returns its memo. */
export async function continuedWithMemo(secret: string, round = 0): Promise<unknown> {
  if (round === 0) await makeContinueAsNewFunc<typeof continuedWithMemo>({ memo: { note: `${secret}-memo` } })(secret, 1);
  return { round, memo: workflowInfo().memo };
}

export async function continued(round: number): Promise<unknown> {
  if (round === 0) await continueAsNew<typeof continued>(1);
  return { round, seen };
}

interface AuditSinks extends Sinks {
  audit: { record(msg: string, n: number): void };
  replayed: { record(msg: string): void };
}
const { audit, replayed } = proxySinks<AuditSinks>();

export async function sinks(): Promise<string> {
  audit.record('start', 1);
  replayed.record('start');
  await sleep(5);
  audit.record('after sleep', 2);
  replayed.record('after sleep');
  return 'done';
}

/** Payloads encrypted at rest: input, activity input and result, signal, query, result. */
export async function secrets(secret: string): Promise<unknown> {
  let signalled: string | undefined;
  setHandler(defineSignal<[string]>('whisper'), (s) => void (signalled = s));
  setHandler(defineQuery<string, [string]>('echo'), (s) => `${s}/${secret}`);
  const shouted = await acts.shout(secret);
  await condition(() => signalled !== undefined);
  return { secret, shouted, signalled, memo: workflowInfo().memo };
}

export const customerKey = defineSearchAttributeKey('customer', SearchAttributeType.KEYWORD);
export const amountKey = defineSearchAttributeKey('amount', SearchAttributeType.INT);
export const dueKey = defineSearchAttributeKey('due', SearchAttributeType.DATETIME);
export const tagsKey = defineSearchAttributeKey('tags', SearchAttributeType.KEYWORD_LIST);

export async function typedSearchAttributes(): Promise<unknown> {
  const before = workflowInfo().typedSearchAttributes;
  const customer = before.get(customerKey);
  const tags = before.get(tagsKey);
  const wrongType = before.get(defineSearchAttributeKey('customer', SearchAttributeType.INT)) ?? null;
  upsertSearchAttributes([
    { key: amountKey, value: 42 },
    { key: dueKey, value: new Date(Date.UTC(2030, 0, 1)) },
    { key: customerKey, value: null },
  ]);
  const after = workflowInfo().typedSearchAttributes;
  const due = after.get(dueKey);
  return {
    customer, tags, wrongType, amount: after.get(amountKey), due: due?.toISOString(), dueIsDate: due instanceof Date,
    customerAfter: after.get(customerKey) ?? null,
    all: after.getAll().map((p) => `${p.key.name}:${p.key.type}`).sort(),
  };
}

const dateActs = proxyActivities<{ nextDay(d: Date): Promise<Date> }>({ startToCloseTimeout: '10s' });

/** With the Date converter: the argument, the activity's result and the result are Dates. */
export async function dates(d: Date): Promise<Date> {
  if (!(d instanceof Date)) throw ApplicationFailure.nonRetryable(`the argument is not a Date: ${JSON.stringify(d)}`);
  const next = await dateActs.nextDay(d);
  if (!(next instanceof Date)) throw ApplicationFailure.nonRetryable('the activity result is not a Date');
  return new Date(next.getTime() + 1000);
}

const failActs = proxyActivities<{ failWith(secret: string): Promise<void> }>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } });

/** Failure details through the data converter, both ways: an activity's (decoded here) and the workflow's own. */
export async function failsWithSecret(secret: string): Promise<void> {
  try {
    await failActs.failWith(secret);
  } catch (e) {
    const details = (e as { cause?: { details?: unknown[] } }).cause?.details;
    if (details?.[0] !== `${secret}-activity`) throw ApplicationFailure.nonRetryable(`activity failure details not decoded: ${JSON.stringify(details)}`);
    throw ApplicationFailure.nonRetryable('failed on purpose', 'Secret', `${secret}-workflow`);
  }
}

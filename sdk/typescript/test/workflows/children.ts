/**
 * Workflows of the child workflow and external workflow tests
 * (test/e2e/children.test.ts, test/unit/children.test.ts): parents, the
 * children they start, and targets of external signals and cancels.
 */
import {
  ApplicationFailure, CancellationScope, ChildWorkflowCancellationType, ChildWorkflowFailure, ChildWorkflowHandle,
  condition, defineSignal, executeChild, getExternalWorkflowHandle, isCancellation, setHandler, sleep, startChild, workflowInfo,
} from '../../src/workflow';

export const go = defineSignal<[unknown]>('go');

/** What a test needs to know of an error a parent caught. */
export interface ErrorInfo {
  name: string;
  message: string;
  cause?: ErrorInfo;
  type?: string | null;
  retryState?: string;
  workflowId?: string;
  runId?: string;
  workflowType?: string;
  namespace?: string;
}

function errorInfo(e: unknown): ErrorInfo {
  const err = e as any;
  const out: ErrorInfo = { name: err?.name, message: err?.message };
  if (err?.cause) out.cause = errorInfo(err.cause);
  if (err?.type !== undefined) out.type = err.type;
  if (err instanceof ChildWorkflowFailure) {
    out.retryState = err.retryState;
    out.workflowId = err.execution.workflowId;
    out.runId = err.execution.runId;
    out.workflowType = err.workflowType;
    out.namespace = err.namespace;
  } else if (err?.workflowId !== undefined) {
    out.workflowId = err.workflowId;
    out.workflowType = err.workflowType;
  }
  return out;
}

/* -------------------------------------------------------------- children */

export async function childEcho(x: unknown): Promise<unknown> {
  return { echo: x, parent: workflowInfo().parent ?? null };
}

export async function childFail(message: string): Promise<never> {
  throw ApplicationFailure.nonRetryable(message, 'ChildBroke', { why: message });
}

/** Waits until cancelled (or terminated, or timed out). */
export async function childWaitForever(): Promise<never> {
  await condition(() => false);
  throw new Error('unreachable');
}

/** Waits until cancelled, then cleans up for `cleanupMs` (a non-cancellable timer) and closes as cancelled. */
export async function childCancellable(cleanupMs: number): Promise<never> {
  try {
    await condition(() => false);
  } catch (e) {
    if (isCancellation(e)) await CancellationScope.nonCancellable(() => sleep(cleanupMs));
    throw e;
  }
  throw new Error('unreachable');
}

/** Waits for the signal `go`, returns its argument. */
export async function childSignalled(): Promise<unknown> {
  let got: unknown;
  let seen = false;
  setHandler(go, (v) => {
    got = v;
    seen = true;
  });
  await condition(() => seen);
  return got;
}

/** workflowInfo().parent (undefined, stored as null, for a workflow a client started). */
export async function reportParent(): Promise<unknown> {
  return workflowInfo().parent ?? null;
}

/* --------------------------------------------------------------- parents */

/** Starts `n` children at once and waits for all of them. */
export async function parentOfMany(n: number): Promise<unknown[]> {
  const id = workflowInfo().workflowId;
  const handles: ChildWorkflowHandle<typeof childEcho>[] = [];
  for (let i = 0; i < n; i++) handles.push(await startChild(childEcho, { workflowId: `${id}-child-${i}`, args: [i] }));
  const runIds = handles.map((h) => h.firstExecutionRunId);
  const results = await Promise.all(handles.map((h) => h.result()));
  return results.map((r, i) => ({ ...(r as object), workflowId: handles[i].workflowId, runId: runIds[i] }));
}

/** executeChild of children started in parallel, with the default workflow id (uuid4()). */
export async function parentOfManyDefaultIds(n: number): Promise<unknown[]> {
  return await Promise.all(Array.from({ length: n }, (_, i) => executeChild(childEcho, { args: [i] })));
}

/** The child fails: what executeChild rejected with. */
export async function parentOfFailingChild(): Promise<ErrorInfo> {
  try {
    await executeChild(childFail, { workflowId: `${workflowInfo().workflowId}-child`, args: ['boom'] });
    return { name: 'none', message: 'the child completed' };
  } catch (e) {
    return errorInfo(e);
  }
}

/** The child's workflow id is taken (by this workflow itself): what startChild rejected with. */
export async function parentOfDuplicate(): Promise<ErrorInfo> {
  try {
    await startChild(childEcho, { workflowId: workflowInfo().workflowId, args: [1] });
    return { name: 'none', message: 'the child started' };
  } catch (e) {
    return errorInfo(e);
  }
}

/** Starts a child that waits forever with `policy`, then completes (the engine applies the policy). */
export async function parentClosesFirst(policy: string, childId: string): Promise<string> {
  const h = await startChild(childWaitForever, { workflowId: childId, parentClosePolicy: policy });
  return h.firstExecutionRunId;
}

/**
 * Starts childCancellable (1.5 s of cleanup) with `cancellationType` in a
 * scope, cancels the scope once it started, and reports what result() did
 * and how many timers of 100 ms elapsed meanwhile.  The child is
 * abandoned when this workflow closes (so its own close can be observed).
 */
export async function parentCancelsChild(cancellationType: ChildWorkflowCancellationType, childId: string): Promise<ErrorInfo> {
  const scope = new CancellationScope();
  let handle: ChildWorkflowHandle | undefined;
  const result = scope.run(async () => {
    handle = await startChild(childCancellable, { workflowId: childId, args: [1500], cancellationType, parentClosePolicy: 'ABANDON' });
    return await handle.result();
  });
  await condition(() => handle !== undefined);
  scope.cancel();
  try {
    await result;
    return { name: 'none', message: 'the child completed' };
  } catch (e) {
    return errorInfo(e);
  }
}

/** The scope is cancelled in the activation that starts the child: the start is never sent. */
export async function parentCancelsUnsentChild(): Promise<ErrorInfo> {
  const scope = new CancellationScope();
  const p = scope.run(() => executeChild(childEcho, { workflowId: `${workflowInfo().workflowId}-never`, args: [1] }));
  scope.cancel();
  try {
    await p;
    return { name: 'none', message: 'the child completed' };
  } catch (e) {
    return errorInfo(e);
  }
}

/** Waits for a child that waits forever: cancelling this workflow cancels it (default WAIT_CANCELLATION_COMPLETED). */
export async function parentWaitsForChild(childId: string): Promise<unknown> {
  return await executeChild(childCancellable, { workflowId: childId, args: [200] });
}

/** A child that times out, or is terminated by the test: what executeChild rejected with. */
export async function parentOfDoomedChild(childId: string, executionTimeout?: string): Promise<ErrorInfo> {
  try {
    await executeChild(childWaitForever, { workflowId: childId, workflowExecutionTimeout: executionTimeout });
    return { name: 'none', message: 'the child completed' };
  } catch (e) {
    return errorInfo(e);
  }
}

/** Signals a child through its handle, and returns the child's result. */
export async function parentSignalsChild(): Promise<unknown> {
  const h = await startChild(childSignalled, { workflowId: `${workflowInfo().workflowId}-child` });
  await h.signal(go, { from: 'parent' });
  return await h.result();
}

/** Signals `targetId` (a workflow of the test) and one that does not exist; reports both. */
export async function parentSignalsExternal(targetId: string): Promise<unknown> {
  await getExternalWorkflowHandle(targetId).signal(go, 'hello from a workflow');
  let missing: ErrorInfo | undefined;
  try {
    await getExternalWorkflowHandle(`${targetId}-missing`).signal('go', 1);
  } catch (e) {
    missing = errorInfo(e);
  }
  return { signalled: true, missing };
}

/** Asks `targetId` to cancel, and one that does not exist; reports both. */
export async function parentCancelsExternal(targetId: string): Promise<unknown> {
  await getExternalWorkflowHandle(targetId).cancel();
  let missing: ErrorInfo | undefined;
  try {
    await getExternalWorkflowHandle(`${targetId}-missing`).cancel();
  } catch (e) {
    missing = errorInfo(e);
  }
  return { cancelled: true, missing };
}

/** A child reports workflowInfo().parent; so does this workflow. */
export async function parentOfReporter(): Promise<unknown> {
  const child = await executeChild(reportParent, { workflowId: `${workflowInfo().workflowId}-child` });
  return { child, self: workflowInfo().parent ?? null };
}

/**
 * Every event of the feature in one history (the replay fixture): a child
 * that completes, one that fails, one whose start fails, one that times
 * out, one cancelled (WAIT_CANCELLATION_COMPLETED), one the test
 * terminates (`${id}-term`), a signal to `targetId` and one to a missing
 * workflow, a cancel of a missing workflow.
 */
export async function compositionTour(targetId: string): Promise<unknown> {
  const id = workflowInfo().workflowId;
  const out: Record<string, unknown> = {};
  out.completed = await executeChild(childEcho, { workflowId: `${id}-ok`, args: ['x'] });
  out.failed = await executeChild(childFail, { workflowId: `${id}-fail`, args: ['no'] }).catch(errorInfo);
  out.startFailed = await startChild(childEcho, { workflowId: id, args: [1] }).catch(errorInfo);
  out.timedOut = await executeChild(childWaitForever, { workflowId: `${id}-slow`, workflowExecutionTimeout: '1s' }).catch(errorInfo);
  const scope = new CancellationScope();
  let h: ChildWorkflowHandle | undefined;
  const cancelled = scope.run(async () => {
    h = await startChild(childCancellable, { workflowId: `${id}-cancel`, args: [10] });
    return await h.result();
  });
  await condition(() => h !== undefined);
  scope.cancel();
  out.cancelled = await cancelled.catch(errorInfo);
  out.terminated = await executeChild(childWaitForever, { workflowId: `${id}-term` }).catch(errorInfo);
  await getExternalWorkflowHandle(targetId).signal(go, 'tour');
  out.signalMissing = await getExternalWorkflowHandle(`${id}-missing`).signal(go, 1).catch(errorInfo);
  out.cancelMissing = await getExternalWorkflowHandle(`${id}-missing`).cancel().catch(errorInfo);
  return out;
}

/** A child with every option set; returns its result and workflowInfo() as the child saw it. */
export async function parentWithOptions(): Promise<unknown> {
  const h = await startChild(reportInfo, {
    workflowId: `${workflowInfo().workflowId}-child`,
    args: [{ secret: 'arg' }],
    memo: { note: { secret: 'memo' } },
    searchAttributes: { CustomKeywordField: ['child-kw'] },
    retry: { maximumAttempts: 2, initialInterval: '1s' },
    workflowExecutionTimeout: '1 hour',
    workflowRunTimeout: '30 minutes',
    workflowTaskTimeout: '5s',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    parentClosePolicy: 'ABANDON',
  });
  return await h.result();
}

export async function reportInfo(arg: unknown): Promise<unknown> {
  const i = workflowInfo();
  return { arg, memo: i.memo, searchAttributes: i.searchAttributes, taskQueue: i.taskQueue, parent: i.parent?.workflowId };
}

export async function childReturnsNothing(): Promise<void> {
  return undefined;
}

export async function childReturnsNull(): Promise<null> {
  return null;
}

/** What executeChild gives for children that return nothing, and null. */
export async function parentOfQuietChildren(): Promise<unknown> {
  const id = workflowInfo().workflowId;
  const nothing = await executeChild(childReturnsNothing, { workflowId: `${id}-nothing` });
  const nul = await executeChild(childReturnsNull, { workflowId: `${id}-null` });
  return { nothing: nothing === undefined ? 'undefined' : JSON.stringify(nothing), nul: nul === undefined ? 'undefined' : JSON.stringify(nul) };
}

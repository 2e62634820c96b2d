/**
 * Workflow updates, as Temporal's @temporalio/workflow has them
 * (defineUpdate, setHandler with a validator, setDefaultUpdateHandler,
 * currentUpdateInfo, allHandlersFinished): the handlers a run registers,
 * the commands an update makes, and the handlers still running.  Runs in
 * workflow sandboxes: no Node APIs.
 *
 * An update reaches the run as an `update` job: from the workflow task's
 * messages (runValidator: the validator decides), or on replay from a
 * WorkflowExecutionUpdateAccepted event (the validator is not run again, as
 * in Temporal's core SDK).  Its handler runs as Temporal's does
 * (packages/workflow/src/internals.ts doUpdate):
 *   - no handler yet: the update waits in a buffer; a setHandler later in
 *     the same activation takes it, else it is rejected when the
 *     activation's commands are collected (rejectBufferedUpdates);
 *   - the validator (synchronous) throws, or the arguments cannot be
 *     decoded: reject_update with the failure (nothing is written);
 *   - else accept_update, and the handler runs at once up to its first
 *     await; when it settles, complete_update with its result, or with its
 *     failure if it threw a failure (ApplicationFailure, ...).  Any other
 *     error fails the workflow task, as a workflow function's would.
 * Every message of a task is thus accepted or rejected by its completion.
 */
import { DurableFailure, IllegalStateError, encodeFailure } from '../common/failure';
import { composeInterceptors } from '../common/interceptors';
import { argsFromStored, headersOf, jsonClone, valueToStoredW } from './conversion';
import { Activator, CancellationScope, Command, Job, assertInWorkflowContext } from './internals';
import type { UpdateInput } from './interceptors';

/** An update's name and types (Temporal's UpdateDefinition): from defineUpdate, for setHandler and the client. */
export interface UpdateDefinition<Ret, Args extends any[] = [], Name extends string = string> {
  type: 'update';
  name: Name;
  /** @internal type markers */
  __ret?: Ret;
  __args?: Args;
}

/** Define an update: `const approve = defineUpdate<string, [number]>('approve')`. */
export function defineUpdate<Ret, Args extends any[] = [], Name extends string = string>(name: Name): UpdateDefinition<Ret, Args, Name> {
  return { type: 'update', name };
}

/**
 * What happens to a handler still running when the workflow completes
 * (Temporal's HandlerUnfinishedPolicy): WARN_AND_ABANDON logs a warning,
 * ABANDON does not.  Either way the handler is abandoned: an update not
 * completed by then fails for its caller (the engine's DU003).
 */
export enum HandlerUnfinishedPolicy {
  WARN_AND_ABANDON = 1,
  ABANDON = 2,
}

/** setHandler's options for an update handler (Temporal's UpdateHandlerOptions). */
export interface UpdateHandlerOptions<Args extends any[]> {
  /** Runs before the update is accepted, synchronously; throwing rejects the update, which then leaves no trace in the history. */
  validator?: (...args: Args) => void;
  description?: string;
  unfinishedPolicy?: HandlerUnfinishedPolicy;
}

/** The update whose handler the calling code runs in (Temporal's UpdateInfo). */
export interface UpdateInfo {
  readonly id: string;
  readonly name: string;
}

/** A registered update handler. */
export interface UpdateEntry {
  handler: (...args: any[]) => unknown;
  validator?: (...args: any[]) => void;
  unfinishedPolicy: HandlerUnfinishedPolicy;
}

/** An update handler running (accepted, not completed). */
export interface RunningHandler {
  name: string;
  id?: string;
  unfinishedPolicy: HandlerUnfinishedPolicy;
}

/** An update job (replay.ts): the request's stored arguments, headers and raw input. */
export interface UpdateJob extends Job {
  type: 'update';
  id: string;
  name: string;
  args: unknown[];
  headers?: Record<string, any>;
  /** The request's args as the engine has them (echoed in accept_update). */
  input: unknown;
  runValidator: boolean;
}

/** Per-run state of updates, kept on the Activator. */
export class UpdateState {
  handlers = new Map<string, UpdateEntry>();
  defaultHandler?: (updateName: string, ...args: any[]) => unknown;
  buffered: UpdateJob[] = [];
  running = new Map<string, RunningHandler>();
  /** Signal handlers running, by a sequence number (allHandlersFinished counts them too). */
  signals = new Map<number, RunningHandler>();
  signalSeq = 0;
  /** setHandler's unfinishedPolicy of each signal handler (WARN_AND_ABANDON when not given). */
  signalPolicies = new Map<string, HandlerUnfinishedPolicy>();
}

/** The scope an update handler runs in carries its UpdateInfo (currentUpdateInfo walks up to it). */
const updateInfoOf = new WeakMap<CancellationScope, UpdateInfo>();

/** Register (or with undefined remove) an update handler; buffered updates it takes run at once. */
export function setUpdateHandler(a: Activator, name: string, handler: ((...args: any[]) => unknown) | undefined,
  options?: UpdateHandlerOptions<any[]>): void {
  if (!handler) {
    a.updates.handlers.delete(name);
    return;
  }
  if (typeof handler !== 'function') throw new TypeError(`setHandler: the handler of update "${name}" must be a function`);
  a.updates.handlers.set(name, {
    handler, validator: options?.validator, unfinishedPolicy: options?.unfinishedPolicy ?? HandlerUnfinishedPolicy.WARN_AND_ABANDON,
  });
  dispatchBufferedUpdates(a);
}

/**
 * Handler of the updates that have no handler of their own, called with
 * (updateName, ...args); no validator.  Buffered updates run at once.
 * undefined removes it.
 */
export function setDefaultUpdateHandler(handler: ((updateName: string, ...args: any[]) => unknown) | undefined): void {
  const a = assertInWorkflowContext('Workflow.setDefaultUpdateHandler(...) may only be used from a Workflow Execution.');
  if (typeof handler === 'function') {
    a.updates.defaultHandler = handler;
    dispatchBufferedUpdates(a);
  } else if (handler == null) {
    a.updates.defaultHandler = undefined;
  } else {
    throw new TypeError(`Expected handler to be either a function or 'undefined'. Got: '${typeof handler}'`);
  }
}

/** Run the buffered updates that now have a handler, in arrival order, looking again after each. */
export function dispatchBufferedUpdates(a: Activator): void {
  const buffered = a.updates.buffered;
  while (buffered.length) {
    const i = a.updates.defaultHandler ? 0 : buffered.findIndex((u) => a.updates.handlers.has(u.name));
    if (i < 0) return;
    const [u] = buffered.splice(i, 1);
    doUpdate(a, u);
  }
}

/** At the end of an activation: the updates no handler took are rejected (Temporal's rejectBufferedUpdates). */
export function rejectBufferedUpdates(a: Activator): void {
  const buffered = a.updates.buffered;
  a.updates.buffered = [];
  for (const u of buffered) {
    const known = [...a.updates.handlers.keys()].join(', ') || 'none';
    rejectUpdate(a, u.id, { message: `No registered handler for update: ${u.name} (known: ${known})`, type: 'ApplicationFailure', non_retryable: true });
  }
}

/**
 * A reject_update command: it goes in even after the workflow completed in
 * this activation, before the command that closes the run (a close must be
 * the last command), since every message must be answered.
 */
function rejectUpdate(a: Activator, id: string, failure: unknown): void {
  const cmd: Command = { type: 'reject_update', update_id: id, failure: failure instanceof Error ? encodeFailure(failure) : failure };
  if (a.inQuery) throw new IllegalStateError('query handlers must not change workflow state');
  const close = a.commands.findIndex((c) => CLOSE_TYPES.has(c.type));
  if (close < 0) a.commands.push(cmd);
  else a.commands.splice(close, 0, cmd);
}

const CLOSE_TYPES = new Set(['complete_workflow', 'fail_workflow', 'cancel_workflow', 'continue_as_new']);

/** An update job: validate, accept, run the handler; complete when it settles (see the file header). */
export function doUpdate(a: Activator, u: UpdateJob): void {
  const own = a.updates.handlers.get(u.name);
  const dflt = a.updates.defaultHandler;
  const entry: UpdateEntry | undefined = own ?? (dflt ? {
    handler: (...args: any[]) => dflt(u.name, ...args), unfinishedPolicy: HandlerUnfinishedPolicy.WARN_AND_ABANDON,
  } : undefined);
  if (!entry) {
    a.updates.buffered.push(u);
    return;
  }
  const converter = a.payloadConverter;
  // each reader gets its own copy of the arguments: the handler does not see what the validator changed
  const decode = () => argsFromStored(converter, jsonClone(u.args) as unknown[]);
  const input = (args: unknown[]): UpdateInput => ({ updateId: u.id, name: u.name, args, headers: headersOf(u.headers) });
  let args: unknown[];
  try {
    if (u.runValidator && entry.validator) {
      const validator = entry.validator;
      const validate = composeInterceptors(a.inbound, 'validateUpdate', (i: UpdateInput) => {
        const r = validator(...i.args) as any;
        if (r && typeof r.then === 'function') throw new IllegalStateError(`the validator of update "${u.name}" returned a promise: validators must be synchronous`);
      });
      validate(input(decode()));
    }
    args = decode();
  } catch (e) {
    rejectUpdate(a, u.id, e);
    return;
  }
  a.pushCommand({ type: 'accept_update', update_id: u.id, name: u.name, args: u.input ?? null });
  a.updates.running.set(u.id, { name: u.name, id: u.id, unfinishedPolicy: entry.unfinishedPolicy });
  const scope = new CancellationScope({ cancellable: true, parent: a.rootScope });
  updateInfoOf.set(scope, { id: u.id, name: u.name });
  a.storage.run(scope, () => {
    let p: Promise<unknown>;
    try {
      const execute = composeInterceptors(a.inbound, 'handleUpdate', async (i: UpdateInput) => await entry.handler(...i.args));
      p = execute(input(args));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      // without a data converter, no result at all for undefined (the client's result() gives undefined), as completeWorkflow
      (r) => a.pushCommand(r === undefined && !converter
        ? { type: 'complete_update', update_id: u.id }
        : { type: 'complete_update', update_id: u.id, result: valueToStoredW(converter, r) }),
      (e) => {
        if (e instanceof DurableFailure) a.pushCommand({ type: 'complete_update', update_id: u.id, failure: encodeFailure(e) });
        else a.failWorkflow(e);
      },
    ).finally(() => a.updates.running.delete(u.id));
  });
}

/** The update the calling code runs for (in its handler, also after awaits), else undefined. */
export function currentUpdateInfo(): UpdateInfo | undefined {
  assertInWorkflowContext('Workflow.currentUpdateInfo() may only be used from a Workflow Execution.');
  for (let s: CancellationScope | undefined = CancellationScope.current(); s; s = s.parent) {
    const info = updateInfoOf.get(s);
    if (info) return info;
  }
  return undefined;
}

/** currentUpdateInfo() of a run's code (workflowInfo().currentUpdateInfo). */
export function currentUpdateInfoOf(): UpdateInfo | undefined {
  try {
    return currentUpdateInfo();
  } catch {
    return undefined;
  }
}

/**
 * True when no signal or update handler is running (Temporal's
 * allHandlersFinished): `await condition(allHandlersFinished)` before the
 * workflow returns or continues as new, so that updates complete rather
 * than fail for their callers.
 */
export function allHandlersFinished(): boolean {
  const a = assertInWorkflowContext('allHandlersFinished() may only be used from a Workflow Execution.');
  return a.updates.running.size === 0 && a.updates.signals.size === 0;
}

/**
 * The warning Temporal logs when a workflow completes with handlers still
 * running (policy WARN_AND_ABANDON): the message for the worker's log, or
 * undefined.
 */
export function unfinishedHandlersWarning(a: Activator): string | undefined {
  const updates = [...a.updates.running.values()].filter((h) => h.unfinishedPolicy === HandlerUnfinishedPolicy.WARN_AND_ABANDON);
  const signals = [...a.updates.signals.values()].filter((h) => h.unfinishedPolicy === HandlerUnfinishedPolicy.WARN_AND_ABANDON);
  const parts: string[] = [];
  if (updates.length) {
    parts.push(`update handlers still running: ${updates.map((h) => `${h.name} (id ${h.id})`).join(', ')}`);
  }
  if (signals.length) parts.push(`signal handlers still running: ${[...new Set(signals.map((h) => h.name))].join(', ')}`);
  if (!parts.length) return undefined;
  return `Workflow finished while ${parts.join('; ')}. Their callers get an error (updates) or their work is lost. ` +
    'Await condition(allHandlersFinished) before the workflow returns, or set unfinishedPolicy: HandlerUnfinishedPolicy.ABANDON.';
}

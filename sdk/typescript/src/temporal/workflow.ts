/**
 * `@temporalio/workflow` on durable: durable-sdk/workflow under Temporal's
 * names (compat/temporalio/workflow maps the package name here).  Everything
 * durable's workflow module exports is re-exported; the Temporal names it
 * lacks are either mapped (below) or exported as unsupported stubs that throw
 * (see unsupported.ts, and check.ts for the load-time check).  Loaded in the
 * workflow sandbox: no Node APIs.
 */
import { getActivator } from '../workflow/internals';
import { setHandler, workflowInfo as durableWorkflowInfo } from '../workflow';
import type { WorkflowInfo as DurableWorkflowInfo } from '../workflow';
import { unsupported } from './unsupported';

export * from '../workflow';
export { UnsupportedTemporalFeatureError } from './unsupported';

const M = '@temporalio/workflow';

/** Temporal's old name of setHandler (still exported by Temporal's SDK). */
export const setListener = setHandler;

/** Temporal's search attribute values: lists (durable also stores other JSON values, typed here as these). */
export type SearchAttributeValue = string[] | number[] | boolean[] | Date[];
/** Temporal's untyped search attributes (durable-sdk's SearchAttributes is Record<string, unknown>). */
export type SearchAttributes = Record<string, SearchAttributeValue | Readonly<SearchAttributeValue> | undefined>;
/** durable's WorkflowInfo with Temporal's type of searchAttributes. */
export type WorkflowInfo = Omit<DurableWorkflowInfo, 'searchAttributes'> & { searchAttributes: SearchAttributes };

/** durable's workflowInfo() (same object), typed as Temporal's. */
export function workflowInfo(): WorkflowInfo {
  return durableWorkflowInfo() as unknown as WorkflowInfo;
}

/** True inside a workflow's execution (Temporal: the workflow isolate), false elsewhere (e.g. a client loading the module). */
export function inWorkflowContext(): boolean {
  try {
    getActivator();
    return true;
  } catch {
    return false;
  }
}

// proxyLocalActivities and LocalActivityOptions: durable's own (workflow/local-activities.ts), through export * above

export const setDefaultQueryHandler = unsupported(M, 'setDefaultQueryHandler', 'queries are answered only by handlers set with setHandler');
export const upsertMemo = unsupported(M, 'upsertMemo', 'the engine has no upsert_memo command; the memo is set when the workflow starts');

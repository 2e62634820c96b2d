/**
 * The workflow logger (`log` of durable-sdk/workflow), as Temporal's
 * (packages/workflow/src/logs.ts): replay-aware — nothing is written while
 * the worker replays history, so each entry is written once — and every
 * entry carries the run's namespace, task queue, workflow id, run id and
 * type.  Entries go to the worker's logger (Runtime.install({ logger }) or
 * WorkerOptions.logger) with sdkComponent "workflow".
 *
 * Runs inside the sandbox: the entry crosses to the worker as strings
 * (metadata as JSON), through the host function the sandbox installs.
 */
import { assertInWorkflowContext } from './internals';

export interface WorkflowLogger {
  trace(message: string, attrs?: Record<string, unknown>): void;
  debug(message: string, attrs?: Record<string, unknown>): void;
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
  error(message: string, attrs?: Record<string, unknown>): void;
}

/** JSON text of the metadata; errors as {name, message, stack}, what JSON cannot hold as text. */
function metaJSON(meta: Record<string, unknown>): string {
  try {
    return JSON.stringify(meta, (_k, v) => {
      if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack };
      if (typeof v === 'bigint') return v.toString();
      return v;
    });
  } catch {
    return JSON.stringify({ unserializableAttributes: true });
  }
}

function entry(level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR') {
  return (message: string, attrs?: Record<string, unknown>): void => {
    const a = assertInWorkflowContext('Workflow.log(...) may only be used from workflow context.');
    if (a.isReplaying) return;
    const sink = (globalThis as any).__durable_log;
    if (typeof sink !== 'function') return;
    const i = a.info;
    sink(level, String(message), metaJSON({
      namespace: i.namespace, taskQueue: i.taskQueue, workflowId: i.workflowId, runId: i.runId, workflowType: i.workflowType,
      ...attrs,
    }));
  };
}

/** Replay-aware workflow logger; entries carry workflowId, runId, workflowType, taskQueue, namespace. */
export const log: WorkflowLogger = {
  trace: entry('TRACE'),
  debug: entry('DEBUG'),
  info: entry('INFO'),
  warn: entry('WARN'),
  error: entry('ERROR'),
};

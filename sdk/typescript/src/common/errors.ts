/**
 * The errors the client and the workflow runtime share: DurableError (any
 * error the engine raised with a SQLSTATE) and
 * WorkflowExecutionAlreadyStartedError, which a client start and a child
 * workflow start both report.  Here, in common/, so that workflow code and
 * the runtime in a sandbox see one class (src/errors.ts re-exports them for
 * clients).  No Node APIs.
 */

/** Any error the engine raised with a SQLSTATE. */
export class DurableError extends Error {
  constructor(message: string, public readonly code?: string, public readonly detail?: string, public readonly hint?: string) {
    super(message);
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * The workflow id is running (conflict policy "fail"), or its reuse policy
 * rejects a new start: the client's start (DU002) and signalWithStart, and a
 * child workflow's start (StartChildWorkflowExecutionFailed, cause
 * WORKFLOW_ALREADY_EXISTS).  Temporal's constructor (message, workflowId,
 * workflowType); the client also sets the SQLSTATE.
 */
export class WorkflowExecutionAlreadyStartedError extends DurableError {
  constructor(message: string, public workflowId = '', public workflowType = '', code?: string, detail?: string, hint?: string) {
    super(message, code, detail, hint);
  }
}

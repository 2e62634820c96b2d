/**
 * Errors of the client and worker APIs, mapped from the engine's SQLSTATEs
 * (DUxxx, and 42501 for a namespace the role may not use; see
 * docs/sql-api.md).
 */
import { DurableError, WorkflowExecutionAlreadyStartedError } from './common/errors';
import { DurableFailure, FailureJSON, decodeFailure } from './common/failure';

export { DurableError, WorkflowExecutionAlreadyStartedError };

/** DU001 */
export class WorkflowNotFoundError extends DurableError {}
/** DU003 */
export class WorkflowNotRunningError extends DurableError {}
/** DU004 */
export class StaleTaskTokenError extends DurableError {}
/** DU005 */
export class InvalidCommandError extends DurableError {}
/** DU006 */
export class IdInUseError extends DurableError {}
/** DU007 */
export class WorkflowStillRunningError extends DurableError {}
/** DU008 */
export class ActivityNotFoundError extends DurableError {}

/** The namespace an engine message names (`namespace "x"`), if it names one. */
function namespaceIn(message: string): string | undefined {
  return /namespace "([^"]*)"/.exec(message)?.[1];
}

/**
 * DU009: the namespace does not exist (Temporal's NamespaceNotFoundError).
 * Only a caller who may see every namespace (a superuser) gets it: to
 * anyone else an unknown namespace is a PermissionDeniedError, so that
 * errors do not tell which namespaces exist.
 */
export class NamespaceNotFoundError extends DurableError {
  /** The namespace asked for. */
  namespace?: string;
  constructor(message: string, code?: string, detail?: string, hint?: string) {
    super(message, code, detail, hint);
    this.namespace = namespaceIn(message);
  }
}
/**
 * 42501 (insufficient_privilege): the role lacks the capability the call
 * needs in the namespace (client, worker or admin; the hint names it), or
 * the namespace does not exist, or the role may not call the function at
 * all.  `namespace` is set when the engine's message names one.
 */
export class PermissionDeniedError extends DurableError {
  namespace?: string;
  constructor(message: string, code?: string, detail?: string, hint?: string) {
    super(message, code, detail, hint);
    this.namespace = namespaceIn(message);
  }
}
/** DU020: the query handler failed */
export class QueryFailedError extends DurableError {}
/** DU021: no worker answered in time */
export class QueryTimeoutError extends DurableError {}
/** The engine has no durable.query_workflow (older engine). */
export class QueryNotSupportedError extends DurableError {}

/**
 * An update failed (Temporal's WorkflowUpdateFailedError): the workflow's
 * validator rejected it, or its handler threw a failure.  `cause` is that
 * failure (an ApplicationFailure, ...).
 */
export class WorkflowUpdateFailedError extends DurableError {
  public override readonly cause: DurableFailure;
  constructor(message: string, cause: DurableFailure) {
    super(message);
    this.cause = cause;
  }
}

/** DU010 (and the base class of DU011-DU013): the workflow did not complete. `cause` says why. */
export class WorkflowFailedError extends DurableError {
  public override readonly cause: DurableFailure;
  constructor(message: string, code: string, cause: DurableFailure, public readonly failure: FailureJSON | null, public readonly status: string) {
    super(message, code);
    this.cause = cause;
  }
}
/** DU011 */
export class WorkflowCanceledError extends WorkflowFailedError {}
/** DU012 */
export class WorkflowTerminatedError extends WorkflowFailedError {}
/** DU013 */
export class WorkflowTimedOutError extends WorkflowFailedError {}

const CLASSES: Record<string, new (m: string, c?: string, d?: string, h?: string) => DurableError> = {
  DU001: WorkflowNotFoundError,
  DU003: WorkflowNotRunningError,
  DU004: StaleTaskTokenError,
  DU005: InvalidCommandError,
  DU006: IdInUseError,
  DU007: WorkflowStillRunningError,
  DU008: ActivityNotFoundError,
  DU009: NamespaceNotFoundError,
  DU020: QueryFailedError,
  DU021: QueryTimeoutError,
  '42501': PermissionDeniedError,
};

/** Turn a pg error into a typed error; other errors are returned as they are. */
export function mapError(err: unknown): unknown {
  const e = err as { code?: string; message?: string; detail?: string; hint?: string };
  if (!e || typeof e !== 'object' || typeof e.code !== 'string') return err;
  const code = e.code;
  if (code === 'DU010' || code === 'DU011' || code === 'DU012' || code === 'DU013') {
    let failure: FailureJSON | null = null;
    try {
      failure = e.detail ? JSON.parse(e.detail) : null;
    } catch {
      failure = null;
    }
    const status = { DU010: 'failed', DU011: 'canceled', DU012: 'terminated', DU013: 'timed_out' }[code];
    let fjson = failure;
    if (code === 'DU011' && fjson) fjson = { ...fjson, type: 'CancelledFailure' };
    if (code === 'DU012' && fjson) fjson = { ...fjson, type: 'TerminatedFailure' };
    if (code === 'DU013' && fjson) fjson = { ...fjson, type: 'TimeoutFailure' };
    const cause = decodeFailure(fjson ?? { message: e.message ?? status });
    const Cls = code === 'DU010' ? WorkflowFailedError : code === 'DU011' ? WorkflowCanceledError
      : code === 'DU012' ? WorkflowTerminatedError : WorkflowTimedOutError;
    return new Cls(e.message ?? 'workflow did not complete', code, cause, failure, status);
  }
  // DU002: the workflow id and type are set by the caller (Client.workflow.start, signalWithStart)
  if (code === 'DU002') return new WorkflowExecutionAlreadyStartedError(e.message ?? code, '', '', code, e.detail, e.hint);
  const Cls = CLASSES[code];
  if (Cls) return new Cls(e.message ?? code, code, e.detail, e.hint);
  if (code.startsWith('DU')) return new DurableError(e.message ?? code, code, e.detail, e.hint);
  return err;
}

/** Errors that mean the connection or server went away (worth retrying). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (!e || typeof e !== 'object') return false;
  const code = e.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOENT', 'ETIMEDOUT', '57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  if (code.startsWith('08')) return true;
  const m = e.message ?? '';
  return /Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|not queryable|the database system is (starting up|shutting down|in recovery)/i.test(m);
}

/**
 * Task routing (issue 12): Temporal's Priority, and the types of build-id
 * versioning (Temporal's worker deployments) that workflow code, workers
 * and clients share.  How the engine uses them: docs/protocol.md and
 * docs/sql-api.md (durable 0.3).  No Node APIs: loaded in
 * the workflow sandbox.
 */

/**
 * Temporal's Priority: how a workflow's or an activity's tasks are ordered
 * in a backlogged queue.  priorityKey 1 (first) .. 5 (last), 3 when unset;
 * within a priority, the tasks of each fairnessKey get a share of dispatch
 * in proportion to fairnessWeight (default 1; at most 1000).  On an
 * activity or a child workflow, a field left unset is inherited from the
 * workflow that schedules it.
 */
export interface Priority {
  priorityKey?: number;
  fairnessKey?: string;
  fairnessWeight?: number;
}

/**
 * When a workflow moves from a worker of one build id to another
 * (Temporal's VersioningBehavior): PINNED runs stay on the build they
 * started on; AUTO_UPGRADE runs move to the task queue's current build at
 * their next workflow task.
 */
export const VersioningBehavior = {
  PINNED: 'PINNED',
  AUTO_UPGRADE: 'AUTO_UPGRADE',
} as const;
export type VersioningBehavior = (typeof VersioningBehavior)[keyof typeof VersioningBehavior];

/** A worker's version (Temporal's WorkerDeploymentVersion); durable routes by buildId only. */
export interface WorkerDeploymentVersion {
  readonly buildId: string;
  /** Accepted for Temporal's shape; durable has no deployments beyond the task queue's builds. */
  readonly deploymentName?: string;
}

/** Options of a workflow definition (Temporal's WorkflowDefinitionOptions), see setWorkflowOptions. */
export interface WorkflowDefinitionOptions {
  versioningBehavior?: VersioningBehavior;
}

/** The options, or a function called once before the workflow function first runs that returns them. */
export type WorkflowDefinitionOptionsOrGetter = WorkflowDefinitionOptions | (() => WorkflowDefinitionOptions);

/** The engine's spelling of a versioning behaviour (complete_workflow_task's versioning_behavior). */
export function encodeVersioningBehavior(b: VersioningBehavior | string | undefined): 'pinned' | 'auto_upgrade' | undefined {
  if (b === undefined || b === null) return undefined;
  switch (String(b).toUpperCase().replace('-', '_')) {
    case 'PINNED':
      return 'pinned';
    case 'AUTO_UPGRADE':
      return 'auto_upgrade';
    default:
      throw new TypeError(`versioningBehavior must be 'PINNED' or 'AUTO_UPGRADE', not ${JSON.stringify(b)}`);
  }
}

/** A priority option: Temporal's Priority, or (durable 0.3's form) a bare priority key. */
export type PriorityOption = Priority | number;

/** The priority as an object (a bare number is the priority key). */
export function priorityOf(p: PriorityOption | undefined | null): Priority | undefined {
  if (p === undefined || p === null) return undefined;
  if (typeof p === 'number') return { priorityKey: p };
  if (typeof p !== 'object') throw new TypeError('priority must be { priorityKey?, fairnessKey?, fairnessWeight? }');
  return p;
}

/**
 * The command fields of a priority (schedule_activity, start_child_workflow):
 * "priority", "fairness_key", "fairness_weight", each only when set (unset:
 * the engine inherits the workflow's).
 */
export function priorityFields(p: PriorityOption | undefined | null): Record<string, unknown> {
  const o = priorityOf(p);
  const out: Record<string, unknown> = {};
  if (!o) return out;
  if (o.priorityKey !== undefined && o.priorityKey !== null && o.priorityKey !== 0) out.priority = o.priorityKey;
  if (o.fairnessKey !== undefined && o.fairnessKey !== null && o.fairnessKey !== '') out.fairness_key = o.fairnessKey;
  if (o.fairnessWeight !== undefined && o.fairnessWeight !== null && o.fairnessWeight !== 0) out.fairness_weight = o.fairnessWeight;
  return out;
}

/** Checks a capabilities / required capabilities value: a plain JSON object. */
export function checkCapabilities(v: unknown, what: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what} must be an object, e.g. { gpu: true }`);
  return v as Record<string, unknown>;
}

/**
 * Whether `have` contains `want` as PostgreSQL's jsonb @> does for objects
 * (what the engine matches required capabilities with): every key of want
 * is in have with a containing value; an array contains every element of
 * want's array; scalars are equal.
 */
export function jsonContains(have: unknown, want: unknown): boolean {
  if (want === null || typeof want !== 'object') return have === want;
  if (Array.isArray(want)) {
    if (!Array.isArray(have)) return false;
    return want.every((w) => have.some((h) => jsonContains(h, w)));
  }
  if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
  const h = have as Record<string, unknown>;
  return Object.keys(want).every((k) => Object.prototype.hasOwnProperty.call(h, k) && jsonContains(h[k], (want as Record<string, unknown>)[k]));
}

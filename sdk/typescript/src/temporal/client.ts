/**
 * `@temporalio/client` on durable.  Temporal's client talks to a server
 * through a `Connection`; here a Connection is a pool of PostgreSQL
 * connections to the database with the durable extension (connection.ts
 * says where it goes), and `new Client({ connection })` is durable's
 * Client over that pool.  Schedules and asynchronous activity completion
 * have no engine counterpart: their exports throw (unsupported.ts).
 */
import pg from 'pg';
import { Client as DurableClient, ClientOptions as DurableClientOptions, WorkflowClient as DurableWorkflowClient } from '../client';
import { checkLoadedModules } from './check';
import { ConnectionOptions, checkDatabase, connectionStringFor } from './connection';
import { UnsupportedTemporalFeatureError, unsupported } from './unsupported';

export * from '../client';
export { UnsupportedTemporalFeatureError } from './unsupported';
export { TemporalCompatibilityError } from './check';
export type { ConnectionOptions } from './connection';

const M = '@temporalio/client';

/** Temporal's Connection: here a pool of connections to the durable database. */
export class Connection {
  readonly pool: pg.Pool;
  private closed = false;

  private constructor(readonly connectionString: string) {
    this.pool = new pg.Pool({ connectionString, max: 10, application_name: 'durable-client' });
    this.pool.on('error', () => undefined);
  }

  /**
   * Connect (Temporal: to the server at `address`, default localhost:7233;
   * here: to the database, see connectionStringFor) and check that it has
   * the durable extension.  Also checks the process's loaded modules for
   * Temporal APIs durable lacks (check.ts).
   */
  static async connect(options?: ConnectionOptions): Promise<Connection> {
    checkLoadedModules();
    const cs = connectionStringFor(options);
    await checkDatabase(cs);
    return new Connection(cs);
  }

  /** A connection that connects on first use (Temporal's Connection.lazy). */
  static lazy(options?: ConnectionOptions): Connection {
    checkLoadedModules();
    return new Connection(connectionStringFor(options));
  }

  async ensureConnected(): Promise<void> {
    await checkDatabase(this.connectionString);
  }

  get workflowService(): never {
    throw new UnsupportedTemporalFeatureError(M, 'Connection.workflowService', 'durable has no gRPC service: call the engine\'s SQL functions (docs/sql-api.md)');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Temporal's ClientOptions, mapped onto durable's. */
export type ClientOptions = Omit<DurableClientOptions, 'connectionString' | 'pool'> & {
  /** Default: Connection.lazy() (the database of $DURABLE_CONNECTION_STRING). */
  connection?: Connection;
  /** Ignored (durable's client calls carry no identity). */
  identity?: string;
};

/** Temporal's Client: `new Client({ connection })`, then `client.workflow.start(…)`. */
export class Client extends DurableClient {
  readonly connection: Connection;
  readonly options: ClientOptions & { namespace: string };

  constructor(options: ClientOptions = {}) {
    const { connection = Connection.lazy(), identity: _id, ...rest } = options;
    super({ ...rest, pool: connection.pool });
    this.connection = connection;
    this.options = { ...options, namespace: this.namespace };
    for (const name of ['list', 'count'] as const) {
      Object.defineProperty(this.workflow, name, {
        value: () => {
          throw new UnsupportedTemporalFeatureError(M, `Client.workflow.${name}`, NO_VISIBILITY);
        },
      });
    }
  }

  get activity(): never {
    throw new UnsupportedTemporalFeatureError(M, 'Client.activity', ASYNC_COMPLETION);
  }

  get workflowService(): never {
    return this.connection.workflowService;
  }
}

/** Temporal's older standalone WorkflowClient: `new WorkflowClient({ connection })`. */
export class WorkflowClient extends DurableWorkflowClient {
  constructor(options: ClientOptions | DurableClient = {}) {
    super(options instanceof DurableClient ? options : new Client(options));
  }
}

const NO_VISIBILITY = 'durable has no visibility query language: query the table, e.g. ' +
  'SELECT workflow_id, status FROM durable.workflows WHERE search_attributes @> \'{"CustomKeywordField": ["a"]}\'';
const ASYNC_COMPLETION = 'durable has no asynchronous activity completion: an activity completes when its function returns';
// schedules: client.schedule (durable's ScheduleClient over the engine's schedules SQL API)
export { ScheduleClient, ScheduleHandle, ScheduleOverlapPolicy } from '../schedule-client';
export const AsyncCompletionClient = unsupported(M, 'AsyncCompletionClient', ASYNC_COMPLETION);
export const TaskQueueClient = unsupported(M, 'TaskQueueClient',
  'durable has no build-id compatibility sets: make a build current with client.taskQueue.setCurrentBuild (or ramp it with setRampingBuild)');

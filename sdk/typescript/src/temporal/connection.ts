/**
 * Where a Temporal connection (client `Connection`, worker
 * `NativeConnection`) goes on durable: a PostgreSQL database with the
 * durable extension, not a Temporal server's gRPC address.
 */
import pg from 'pg';

/** Temporal's connection options; durable uses `address` only when it is a PostgreSQL URL. */
export interface ConnectionOptions {
  /** A `postgres://` / `postgresql://` URL, or a Temporal address (`host:7233`), which is ignored. */
  address?: string;
  /** Ignored: TLS to PostgreSQL is set in the connection string (`sslmode=…`). */
  tls?: unknown;
  /** Ignored (gRPC metadata). */
  metadata?: Record<string, string>;
  /** Ignored (Temporal Cloud API key). */
  apiKey?: string;
  connectTimeout?: number | string;
}

const PG_URL = /^postgres(ql)?:\/\//;

/**
 * The connection string for `options`: `address` when it is a PostgreSQL
 * URL, else $DURABLE_CONNECTION_STRING, else $DATABASE_URL.  A Temporal
 * address (`localhost:7233`) is ignored, so the project's code need not
 * change; with no database to go to, this throws.
 */
export function connectionStringFor(options?: ConnectionOptions): string {
  if (options?.address && PG_URL.test(options.address)) return options.address;
  const fromEnv = process.env.DURABLE_CONNECTION_STRING || process.env.DATABASE_URL;
  if (fromEnv) return fromEnv;
  throw new Error(
    `durable connects to PostgreSQL, not to a Temporal server${options?.address ? ` (address "${options.address}")` : ''}: ` +
      'set DURABLE_CONNECTION_STRING (or DATABASE_URL) to the database that has the durable extension, ' +
      'or pass a postgresql:// URL as the connection address');
}

/** Check, as Temporal's connect() does, that the server is there: the database answers and has the extension. */
export async function checkDatabase(connectionString: string): Promise<void> {
  const c = new pg.Client({ connectionString, application_name: 'durable-temporal-connect' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query("SELECT extversion FROM pg_extension WHERE extname = 'durable'");
    if (!r.rowCount) throw new Error('the database has no durable extension: run CREATE EXTENSION durable (with shared_preload_libraries = \'durable\')');
  } finally {
    await c.end().catch(() => undefined);
  }
}

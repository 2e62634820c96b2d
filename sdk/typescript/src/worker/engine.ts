/**
 * The worker's side of the SQL API: its connections, the statements it runs
 * (prepared once per connection), retries while the server is unreachable,
 * and what the engine supports (detected once).
 *
 * Every statement of the worker returns one value (one row, one column), so
 * a call is a lean pg "Submittable" (Call): Bind, Execute, Sync on a named
 * statement (Parse only the first time on a connection), no Describe, and
 * the column's text parsed here (JSON for json/jsonb) — about half the CPU
 * of a general pg query, which matters at ten calls per workflow.  The
 * calls share a small set of connections (Connections, a minimal pool: the
 * most recently used idle connection first, idle ones closed after 10 s).
 *
 * Sticky execution: with `sticky`, every connection runs
 * `SET durable.sticky_execution = on` when it opens, before anything else
 * (an engine without the setting ignores it), so each workflow task the
 * worker completes makes the run sticky to it.  Poll connections need no
 * setting: the engine routes and trims by worker id.
 */
import pg from 'pg';
import { isConnectionError, mapError } from '../errors';

/** A worker statement: its one result column is JSON text ('json'), a boolean ('bool'), or ignored ('none'). */
export type Statement = { name: string; text: string; result: 'json' | 'bool' | 'none' };

/*
 * The worker's statements, prepared once per connection (named statements):
 * the server parses and plans each only once per connection.
 */
export const SQL = {
  poll: {
    name: 'durable_poll',
    text: `SELECT to_json(t)
             FROM durable.poll_task(task_queue => $1, worker_id => $2, kinds => $3::text[], wait => $4::interval, namespace => $5) t`,
    result: 'json',
  },
  /**
   * A worker with a build id or capabilities (durable 0.3's trailing
   * arguments of poll_task, after namespace).
   */
  pollRouted: {
    name: 'durable_poll_routed',
    text: `SELECT to_json(t)
             FROM durable.poll_task(task_queue => $1, worker_id => $2, kinds => $3::text[], wait => $4::interval, namespace => $5,
                                    build_id => $6, capabilities => $7::jsonb) t`,
    result: 'json',
  },
  /** An engine without namespaces (durable < 0.3): the default namespace only. */
  pollNoNamespaces: { name: 'durable_poll_02', text: 'SELECT to_json(t) FROM durable.poll_task($1, $2, $3::text[], $4::interval) t', result: 'json' },
  /**
   * Whether the role may work in a namespace: a poll that does not wait, on
   * a queue no worker uses (it claims nothing and registers no waiter),
   * needs the worker capability there: 42501 without it, DU009 when a
   * superuser names an unknown namespace.
   */
  probeNamespace: {
    name: 'durable_probe_namespace',
    text: `SELECT 1 FROM durable.poll_task(task_queue => '__durable_sdk_namespace_probe__', worker_id => $1, kinds => '{activity}',
             wait => '0', namespace => $2)`,
    result: 'none',
  },
  completeWft: { name: 'durable_complete_wft', text: 'SELECT durable.complete_workflow_task($1, $2::jsonb, $3)', result: 'json' },
  completeWft01: { name: 'durable_complete_wft_01', text: 'SELECT durable.complete_workflow_task($1, $2::jsonb)', result: 'json' },
  /** A versioned worker's completion: the run's versioning behaviour, 'pinned' or 'auto_upgrade' (durable 0.3). */
  completeWftVersioned: {
    name: 'durable_complete_wft_versioned',
    text: 'SELECT durable.complete_workflow_task($1, $2::jsonb, $3, versioning_behavior => $4)',
    result: 'json',
  },
  failWft: { name: 'durable_fail_wft', text: 'SELECT durable.fail_workflow_task($1, $2::jsonb)', result: 'none' },
  wftHistory: { name: 'durable_wft_history', text: 'SELECT durable.workflow_task_history($1)', result: 'json' },
  completeActivity: { name: 'durable_complete_activity', text: 'SELECT durable.complete_activity($1, $2::jsonb, $3)', result: 'json' },
  completeActivity01: { name: 'durable_complete_activity_01', text: 'SELECT durable.complete_activity($1, $2::jsonb)', result: 'json' },
  failActivity: { name: 'durable_fail_activity', text: 'SELECT durable.fail_activity($1, $2::jsonb, $3)', result: 'json' },
  failActivity01: { name: 'durable_fail_activity_01', text: 'SELECT durable.fail_activity($1, $2::jsonb)', result: 'json' },
  activityCanceled: { name: 'durable_activity_canceled', text: 'SELECT durable.report_activity_canceled($1, $2::jsonb)', result: 'none' },
  heartbeat: { name: 'durable_heartbeat', text: 'SELECT durable.heartbeat_activity($1, $2::jsonb)', result: 'bool' },
  answerQuery: { name: 'durable_answer_query', text: 'SELECT durable.answer_query($1, $2::jsonb, $3::jsonb)', result: 'none' },
  cancelBackend: { name: 'durable_cancel_backend', text: 'SELECT pg_cancel_backend($1::int)', result: 'none' },
  releaseTasks: { name: 'durable_release_tasks', text: 'SELECT durable.release_tasks($1, $2, $3)', result: 'none' },
  features: {
    name: 'durable_features',
    text: `SELECT json_build_object('ok', to_regproc('durable.poll_task') IS NOT NULL,
      'eager', to_regprocedure('durable.complete_activity(text,jsonb,boolean)') IS NOT NULL,
      'sticky', to_regprocedure('durable.workflow_task_history(text)') IS NOT NULL,
      'session', to_regprocedure('durable.open_worker_session(text)') IS NOT NULL,
      'namespaces', to_regproc('durable.create_namespace') IS NOT NULL,
      'routing', to_regproc('durable.set_current_build') IS NOT NULL,
      'release', to_regprocedure('durable.release_tasks(text,text,text)') IS NOT NULL)`,
    result: 'json',
  },
} satisfies Record<string, Statement>;

/** Turns sticky execution on for the session, if the engine has the setting (durable 0.3). */
const STICKY_ON = `SELECT set_config('durable.sticky_execution', 'on', false)
  WHERE current_setting('durable.sticky_execution', true) IS NOT NULL`;

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A parameter as text (the only format the calls send). */
function toText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (Array.isArray(v)) return `{${v.map((x) => `"${String(x).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
  return String(v);
}

/**
 * One statement call, as a pg Submittable (the protocol pg-cursor uses):
 * the client hands it the backend's messages for it.  Ends with the result
 * column's text (undefined: no row) or the error.
 */
class Call {
  readonly name: string;
  readonly text: string;
  private readonly values: (string | null)[];
  private value: string | null | undefined;

  constructor(stmt: Statement, params: unknown[], readonly callback: (err: Error | null, value?: string | null) => void) {
    this.name = stmt.name;
    this.text = stmt.text;
    this.values = params.map(toText);
  }

  submit(connection: any): null {
    const c = connection;
    c.stream.cork?.();
    try {
      if (c.parsedStatements[this.name] === undefined && c.submittedNamedStatements[this.name] === undefined) {
        c.parse({ text: this.text, name: this.name, types: [] });
        c.submittedNamedStatements[this.name] = this.text;
      }
      c.bind({ portal: '', statement: this.name, values: this.values });
      c.execute({ portal: '', rows: 0 });
      c.sync();
    } finally {
      c.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(): void {}
  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.value = msg.fields[0];
  }
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: any): void {
    connection.sendCopyFail('unexpected COPY');
  }
  handleCopyData(): void {}
  handleError(err: Error): void {
    this.callback(err);
  }
  handleReadyForQuery(): void {
    this.callback(null, this.value);
  }
}

function parseResult(stmt: Statement, text: string | null | undefined): any {
  if (text === null || text === undefined) return text === null ? null : undefined;
  if (stmt.result === 'json') return JSON.parse(text);
  if (stmt.result === 'bool') return text === 't';
  return undefined;
}

/** Run a statement on a connection: its result value (undefined if it returned no row). */
export function runOn(client: pg.Client, stmt: Statement, params: unknown[]): Promise<any> {
  return new Promise((resolve, reject) => {
    client.query(new Call(stmt, params, (err, text) => {
      if (err) reject(err);
      else {
        try {
          resolve(parseResult(stmt, text));
        } catch (e) {
          reject(e);
        }
      }
    }) as any);
  });
}

interface Waiter {
  resolve(c: pg.Client): void;
  reject(e: unknown): void;
}

/** Close connections idle longer than this (pg-pool's default). */
const IDLE_MS = 10_000;

/**
 * The worker's connections for calls: at most `max`, opened when needed,
 * the most recently used idle one first, idle ones closed after IDLE_MS.
 */
class Connections {
  private readonly idle: pg.Client[] = [];
  private readonly lastUsed = new WeakMap<pg.Client, number>();
  private readonly broken = new WeakSet<pg.Client>();
  private readonly waiters: Waiter[] = [];
  private count = 0;
  private ended = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: EngineOptions) {
    this.sweeper = setInterval(() => this.closeIdle(), IDLE_MS / 2);
    this.sweeper.unref();
  }

  acquire(): Promise<pg.Client> {
    if (this.ended) return Promise.reject(new Error('the worker\'s connections are closed'));
    let c: pg.Client | undefined;
    while ((c = this.idle.pop()) !== undefined) {
      if (!this.broken.has(c)) return Promise.resolve(c);
      this.count--;
      c.end().catch(() => undefined);
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.pump();
    });
  }

  /** Give a connection back; a broken one (its socket failed) is closed. */
  release(c: pg.Client, broken: boolean): void {
    if (broken || this.broken.has(c) || this.ended) {
      this.count--;
      c.end().catch(() => undefined);
    } else {
      const w = this.waiters.shift();
      if (w) {
        w.resolve(c);
        return;
      }
      this.lastUsed.set(c, Date.now());
      this.idle.push(c);
    }
    this.pump();
  }

  /** Serve waiters with idle connections, or new ones while under max. */
  private pump(): void {
    while (this.waiters.length > 0 && !this.ended) {
      const c = this.idle.pop();
      if (c) {
        this.waiters.shift()!.resolve(c);
        continue;
      }
      if (this.count >= this.opts.max) return;
      const w = this.waiters.shift()!;
      this.count++;
      this.open().then(w.resolve, (e) => {
        this.count--;
        w.reject(e);
        this.pump();
      });
    }
  }

  private async open(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.opts.connectionString, application_name: this.opts.applicationName });
    c.on('error', () => this.broken.add(c));
    c.on('end', () => this.broken.add(c));
    try {
      await c.connect();
      if (this.opts.sticky) await c.query(STICKY_ON);
    } catch (e) {
      c.end().catch(() => undefined);
      throw e;
    }
    return c;
  }

  private closeIdle(): void {
    const old = Date.now() - IDLE_MS;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i];
      if ((this.lastUsed.get(c) ?? 0) < old) {
        this.idle.splice(i, 1);
        this.count--;
        c.end().catch(() => undefined);
      }
    }
  }

  async end(): Promise<void> {
    this.ended = true;
    clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) w.reject(new Error('the worker\'s connections are closed'));
    const idle = this.idle.splice(0);
    this.count -= idle.length;
    await Promise.all(idle.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * A worker session (durable 0.3, durable.open_worker_session): one
 * connection the worker holds for its lifetime.  The tasks its identity
 * claims, on any connection, are the session's, and the engine times them
 * out the moment the session's connection ends (the process died, the
 * network broke) instead of at their leases, so they are retried within
 * milliseconds.  The calls' pooled connections can come and go without
 * their tasks.  A broken session connection is opened again after a
 * pause: the engine has timed out what the old one held.  Workers of one
 * process with the same identity share a session (the engine keeps one per
 * identity: a second would replace the first and time out its tasks).
 */
class WorkerSession {
  refs = 0;
  private client: pg.Client | undefined;
  private closed = false;
  private readonly ready: Promise<void>;

  constructor(
    private readonly connectionString: string,
    private readonly identity: string,
    private readonly onError: (e: Error) => void,
  ) {
    this.ready = this.open();
  }

  private async open(): Promise<void> {
    let backoff = 100;
    while (!this.closed) {
      const c = new pg.Client({
        connectionString: this.connectionString,
        application_name: `durable-session ${this.identity}`.slice(0, 63),
      });
      try {
        c.on('error', () => undefined);
        await c.connect();
        await c.query('SELECT durable.open_worker_session($1)', [this.identity]);
        if (this.closed) {
          await c.end().catch(() => undefined);
          return;
        }
        this.client = c;
        c.once('end', () => {
          this.client = undefined;
          if (!this.closed) {
            this.onError(new Error('the worker session\'s connection ended; its tasks timed out; opening it again'));
            void this.open();
          }
        });
        return;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (this.closed) return;
        this.onError(e as Error);
        await delay(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ready.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }
}

const sessions = new Map<string, WorkerSession>();

export interface EngineOptions {
  connectionString: string;
  /** application_name of the connections. */
  applicationName: string;
  /** Most connections for calls (polls have their own). */
  max: number;
  /** Turn durable.sticky_execution on in every connection. */
  sticky: boolean;
}

export class Engine {
  private readonly conns: Connections;
  /** complete_* take return_workflow_task / hand tasks back (durable 0.2). */
  eager = false;
  /** durable.workflow_task_history exists (durable 0.3). */
  sticky = false;
  /** durable.open_worker_session exists (durable 0.3). */
  session = false;
  /**
   * A failure may carry next_retry_delay (and continue_as_new memo, search
   * attributes, retry policy, backoff_start_interval): durable 0.3.  Those
   * came to 0.3 without a SQL object of their own to detect them by, so they
   * are assumed wherever 0.3's worker session is; older engines reject the
   * fields.
   */
  temporalFields = false;
  /** The engine has namespaces (durable 0.3): poll_task takes one. */
  namespaces = false;
  /**
   * The engine routes by build id and capabilities (durable 0.3):
   * poll_task takes build_id and capabilities, complete_workflow_task
   * versioning_behavior.
   */
  routing = false;
  /** durable.release_tasks exists: a worker gives back what it will not finish. */
  release = false;

  constructor(private readonly opts: EngineOptions) {
    this.conns = new Connections(opts);
  }

  /** Read what the engine supports; throws if the database has no durable extension. */
  async detect(): Promise<void> {
    const f = await this.callOnce(SQL.features, []);
    if (!f.ok) throw new Error('the database has no durable extension (CREATE EXTENSION durable)');
    this.eager = f.eager;
    this.sticky = f.sticky;
    this.session = !!f.session;
    this.temporalFields = this.session;
    this.namespaces = !!f.namespaces;
    this.routing = !!f.routing;
    this.release = !!f.release;
  }

  /**
   * Hold a worker session for `identity` until the returned function is
   * called (see WorkerSession).
   */
  openSession(identity: string, onError: (e: Error) => void): () => Promise<void> {
    const key = `${this.opts.connectionString}\u0000${identity}`;
    let s = sessions.get(key);
    if (!s) {
      s = new WorkerSession(this.opts.connectionString, identity, onError);
      sessions.set(key, s);
    }
    s.refs++;
    const held = s;
    return async () => {
      if (--held.refs === 0) {
        sessions.delete(key);
        await held.close();
      }
    };
  }

  /** Run a statement once: its result value; engine errors are typed (errors.ts). */
  async callOnce(stmt: Statement, params: unknown[]): Promise<any> {
    const c = await this.conns.acquire();
    try {
      const v = await runOn(c, stmt, params);
      this.conns.release(c, false);
      return v;
    } catch (e) {
      this.conns.release(c, isConnectionError(e));
      throw mapError(e);
    }
  }

  /** Run a statement, retrying while the server is unreachable (e.g. restarting). */
  async call(stmt: Statement, params: unknown[]): Promise<any> {
    let backoff = 100;
    const deadline = Date.now() + 120_000;
    for (;;) {
      let c: pg.Client | undefined;
      try {
        c = await this.conns.acquire();
        const v = await runOn(c, stmt, params);
        this.conns.release(c, false);
        return v;
      } catch (e) {
        if (c) this.conns.release(c, isConnectionError(e));
        if (!isConnectionError(e) || Date.now() > deadline) throw mapError(e);
        await delay(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** A dedicated connection for long polls. */
  async connectPoller(applicationName: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.opts.connectionString, application_name: applicationName });
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    return c;
  }

  async end(): Promise<void> {
    await this.conns.end();
  }
}

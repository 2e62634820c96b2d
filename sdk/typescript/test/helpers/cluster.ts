/**
 * A private PostgreSQL cluster for end-to-end tests: initdb into a temp
 * directory with shared_preload_libraries = 'durable', a unix socket in that
 * directory (no TCP), CREATE EXTENSION durable.  Works as user postgres or
 * as root (then initdb/pg_ctl run through runuser -u postgres).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';

function pgBinDir(): string {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  try {
    const d = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (fs.existsSync(path.join(d, 'initdb'))) return d;
  } catch {
    /* not on PATH */
  }
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error('cannot find initdb; set PG_BINDIR');
  return path.join(base, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class Cluster {
  readonly bin = pgBinDir();
  readonly asRoot = process.getuid?.() === 0;
  dir = '';
  port = 0;

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get connectionString(): string {
    return `postgresql://postgres@/postgres?host=${encodeURIComponent(this.dir)}&port=${this.port}`;
  }

  private run(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): void {
    const full = path.join(this.bin, cmd);
    const [exe, argv] = this.asRoot ? ['runuser', ['-u', 'postgres', '--', full, ...args]] : [full, args];
    const r = spawnSync(exe, argv, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    if (r.status !== 0 && !opts.allowFail) {
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    }
  }

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-sdk-'));
    fs.chmodSync(this.dir, 0o755);
    if (this.asRoot) execFileSync('chown', ['postgres:postgres', this.dir]);
    this.port = await freePort();
    this.run('initdb', ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    fs.appendFileSync(path.join(this.dataDir, 'postgresql.conf'), [
      '',
      "shared_preload_libraries = 'durable'",
      "listen_addresses = ''",
      `unix_socket_directories = '${this.dir}'`,
      `port = ${this.port}`,
      'max_connections = 100',
      'max_worker_processes = 16',
      'durable.launcher_naptime = 1s',
      'fsync = off',
      'log_min_messages = warning',
      '',
    ].join('\n'));
    this.pgctl('start');
    const c = new pg.Client({ connectionString: this.connectionString });
    await c.connect();
    await c.query('CREATE EXTENSION durable');
    await c.end();
  }

  pgctl(what: 'start' | 'stop' | 'stop-immediate'): void {
    if (what === 'start') this.run('pg_ctl', ['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
    else this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '60', '-m', what === 'stop' ? 'fast' : 'immediate', 'stop'], { allowFail: what === 'stop' });
  }

  /** pg_ctl stop -m immediate, then start: a crash and recovery. */
  restartImmediate(): void {
    this.pgctl('stop-immediate');
    this.pgctl('start');
  }

  async stop(): Promise<void> {
    if (!this.dir) return;
    this.pgctl('stop');
    if (!process.env.DURABLE_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }
}

export async function startCluster(): Promise<Cluster> {
  const c = new Cluster();
  await c.start();
  return c;
}

/*
 * A private PostgreSQL cluster for the UI's tests and bench, the way the
 * SDK's tests make theirs (sdk/typescript/test/helpers/cluster.ts): initdb
 * into a temp directory with shared_preload_libraries = 'durable', a unix
 * socket in that directory (no TCP), CREATE EXTENSION durable.  As root,
 * initdb and pg_ctl run through runuser -u postgres.  PG_BINDIR picks the
 * PostgreSQL binaries (a private build); otherwise pg_config's, or the
 * newest under /usr/lib/postgresql.
 */
'use strict';

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const pg = require('pg');

function pgBinDir() {
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

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

class Cluster {
  constructor(extraConf = []) {
    this.bin = pgBinDir();
    this.asRoot = process.getuid?.() === 0;
    this.extraConf = extraConf;
    this.dir = '';
    this.port = 0;
  }

  get dataDir() {
    return path.join(this.dir, 'data');
  }

  url(user = 'postgres', db = 'postgres') {
    return `postgresql://${user}@/${db}?host=${encodeURIComponent(this.dir)}&port=${this.port}`;
  }

  run(cmd, args, allowFail = false) {
    const full = path.join(this.bin, cmd);
    const [exe, argv] = this.asRoot ? ['runuser', ['-u', 'postgres', '--', full, ...args]] : [full, args];
    const r = spawnSync(exe, argv, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  }

  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-ui-'));
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
      'max_connections = 50',
      'durable.launcher_naptime = 1s',
      'fsync = off',
      'log_min_messages = warning',
      ...this.extraConf,
      '',
    ].join('\n'));
    this.run('pg_ctl', ['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    await c.query('CREATE EXTENSION durable');
    await c.end();
  }

  async stop() {
    if (!this.dir) return;
    this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '60', '-m', 'fast', 'stop'], true);
    if (!process.env.DURABLE_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
  }
}

module.exports = { Cluster };

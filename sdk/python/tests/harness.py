"""A private PostgreSQL cluster for the Python SDK's end-to-end tests.

initdb into a temp directory with shared_preload_libraries = 'durable', a unix
socket in that directory (no TCP), a free port, CREATE EXTENSION durable; the
DSN names that socket.  Works as user postgres or as root (then initdb and
pg_ctl run through `runuser -u postgres`, and the directory is given to
postgres).  The same server settings as sdk/typescript/test/helpers/cluster.ts
and test/durable.conf.  Standard library and psycopg only.

One cluster per test module:

    import harness
    CLUSTER = harness.ModuleCluster()
    setUpModule = CLUSTER.start
    tearDownModule = CLUSTER.stop

    class T(unittest.IsolatedAsyncioTestCase):
        async def test_x(self):
            client = await Client.connect(CLUSTER.dsn)

A cluster that fails to start is stopped and removed before the error
propagates (unittest does not call tearDownModule after a failed
setUpModule); clusters still running at interpreter exit (an interrupted
run, a forgotten stop) are stopped by an atexit hook.  DURABLE_KEEP_TMP=1
keeps the directory (server.log) for debugging; PG_BINDIR picks the
installation.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import psycopg
from psycopg.conninfo import make_conninfo

IS_ROOT = os.geteuid() == 0
_LIVE = set()
_LOCK = threading.Lock()


def pg_bindir():
    """$PG_BINDIR, else the pg_config on PATH, else the newest /usr/lib/postgresql/N/bin."""
    d = os.environ.get("PG_BINDIR")
    if d:
        return d
    pgc = shutil.which("pg_config")
    if pgc:
        try:
            d = subprocess.check_output([pgc, "--bindir"], text=True, stderr=subprocess.DEVNULL).strip()
            if os.path.exists(os.path.join(d, "initdb")):
                return d
        except (OSError, subprocess.CalledProcessError):
            pass
    base = "/usr/lib/postgresql"
    versions = [v for v in (os.listdir(base) if os.path.isdir(base) else [])
                if v.isdigit() and os.path.exists(os.path.join(base, v, "bin", "initdb"))]
    if not versions:
        raise RuntimeError("cannot find initdb; set PG_BINDIR")
    return os.path.join(base, max(versions, key=int), "bin")


def free_port():
    """A TCP port nobody listens on (the server listens on none, but the port names its socket)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One private cluster.  start() returns the DSN; stop() stops it and removes the directory."""

    def __init__(self, extra_conf=()):
        self.bin = pg_bindir()
        self.extra_conf = list(extra_conf)
        self.dir = ""
        self.port = 0

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def dsn(self):
        if not self.dir:
            raise RuntimeError("cluster not started")
        return make_conninfo(host=self.dir, port=str(self.port), user="postgres", dbname="postgres")

    def _run(self, cmd, *args, check=True):
        full = os.path.join(self.bin, cmd)
        argv = (["runuser", "-u", "postgres", "--", full] if IS_ROOT else [full]) + list(args)
        env = dict(os.environ, LC_ALL="C", LANG="C")
        r = subprocess.run(argv, env=env, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{cmd} {' '.join(args)} failed ({r.returncode}): {r.stderr or r.stdout}")
        return r

    def start(self):
        """initdb, configure, start, CREATE EXTENSION durable; on any failure, clean up and raise."""
        self.dir = tempfile.mkdtemp(prefix="durable-pysdk-")
        with _LOCK:
            _LIVE.add(self)
        try:
            os.chmod(self.dir, 0o755)
            if IS_ROOT:
                subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
            self.port = free_port()
            self._run("initdb", "-D", self.data_dir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
            conf = [
                "",
                "# --- sdk/python/tests/harness.py ---",
                "shared_preload_libraries = 'durable'",
                "listen_addresses = ''",
                f"unix_socket_directories = '{self.dir}'",
                f"port = {self.port}",
                "max_connections = 100",
                "max_worker_processes = 16",
                "durable.launcher_naptime = 1s",
                "fsync = off",
                "log_min_messages = warning",
            ] + self.extra_conf
            # as root the data directory belongs to postgres: append through it
            self._append(os.path.join(self.data_dir, "postgresql.conf"), "\n".join(conf) + "\n")
            self.pg_ctl("start")
            with psycopg.connect(self.dsn, autocommit=True) as c:
                c.execute("CREATE EXTENSION durable")
        except BaseException:
            log = self.log()
            self.stop()
            if log:
                sys.stderr.write(f"---- server.log\n{log[-3000:]}\n---- end of server.log\n")
            raise
        return self.dsn

    def _append(self, path, text):
        if IS_ROOT:
            subprocess.run(["runuser", "-u", "postgres", "--", "tee", "-a", path], input=text, text=True,
                           check=True, stdout=subprocess.DEVNULL)
        else:
            with open(path, "a") as f:
                f.write(text)

    def pg_ctl(self, what):
        """start | stop (fast) | stop-immediate (a crash)."""
        if what == "start":
            self._run("pg_ctl", "-D", self.data_dir, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                      "start")
        else:
            self._run("pg_ctl", "-D", self.data_dir, "-w", "-t", "60", "-m",
                      "fast" if what == "stop" else "immediate", "stop", check=(what != "stop"))

    def restart_immediate(self):
        """pg_ctl stop -m immediate, then start: a crash and recovery."""
        self.pg_ctl("stop-immediate")
        self.pg_ctl("start")

    def stop(self):
        """Stop the server (fast, then immediate if that failed) and remove the directory.  Idempotent."""
        if not self.dir:
            return
        if os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            r = self._run("pg_ctl", "-D", self.data_dir, "-w", "-t", "60", "-m", "fast", "stop", check=False)
            if r.returncode != 0:
                self._run("pg_ctl", "-D", self.data_dir, "-w", "-m", "immediate", "stop", check=False)
        if os.environ.get("DURABLE_KEEP_TMP") == "1":
            sys.stderr.write(f"harness: kept {self.dir}\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = ""
        with _LOCK:
            _LIVE.discard(self)

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class ModuleCluster(Cluster):
    """A Cluster whose start/stop fit setUpModule/tearDownModule (they take no arguments and return None)."""

    def start(self):
        super().start()



# The TypeScript SDK beside this one (sdk/typescript), for the interop tests.
TS_SDK = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "typescript"))


def require_typescript_sdk(*files):
    """Skip the calling test module unless node and the built TypeScript SDK
    (TS_SDK/dist, its node_modules; plus `files` under TS_SDK) are there.
    With DURABLE_INTEROP_REQUIRED=1 (test/run-all, whose sdk suite built it)
    their absence is a failure, not a skip."""
    import unittest
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    else:
        for need in ("dist/src/index.js", "dist/src/workflow/index.js", "node_modules/pg") + files:
            if not os.path.exists(os.path.join(TS_SDK, need)):
                missing = (f"the TypeScript SDK is not built ({TS_SDK}/{need} missing: "
                           "cd sdk/typescript && npm ci && npx tsc -p .)")
                break
    if missing is None:
        return
    if os.environ.get("DURABLE_INTEROP_REQUIRED") == "1":
        raise RuntimeError(missing)
    raise unittest.SkipTest(missing)

def start_cluster(extra_conf=()):
    c = Cluster(extra_conf)
    c.start()
    return c


@atexit.register
def _stop_all():
    for c in list(_LIVE):
        c.stop()


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)      # unwinds: tearDownModule / atexit stop the clusters


if threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _on_sigterm)

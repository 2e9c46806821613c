"""A throwaway PostgreSQL server for custody's tests (stdlib only): initdb in
a temp directory, postgres on 127.0.0.1:<free port> with its unix socket in
that directory, trust auth, one fresh database per case, SQL through the psql
binary. It holds no custody schema or policy; the store creates its own.

    with pgserver.PgServer() as pg:          # Unavailable if no PostgreSQL
        uri = pg.create_database("case_0001")
        rows = pg.query("case_0001", "SELECT count(*) FROM records")   # [["33"]]

Values come back as TEXT, as psql prints them: integers are strings ("33"),
booleans "t"/"f", SQL NULL is None. Callers convert where they expect numbers.

As root (here and in CI) the server runs as the `postgres` system user the
postgresql package creates (postgres refuses to run as root): setpriv (or
runuser) drops privileges and the temp directory is chowned to it. Durability
is the server's default: fsync, synchronous_commit and full_page_writes on
(initdb itself runs with --no-sync: a throwaway cluster's bootstrap files
need not survive a power cut, the server's writes do). Start is bounded
(30 s); stop is guaranteed (pg_ctl stop -m immediate, then SIGKILL to the
server's process group, from stop(), __exit__ and atexit; SIGTERM is turned
into SystemExit when nobody handles it, so those run) and the temp directory
is removed. Should the test process die without any of that (SIGKILL), a
watchdog that holds the read end of a pipe from it kills the server and
removes the directory; it also bounds the server's life (lifetime, 1800 s)."""
import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

SKIP = 77               # CTest's SKIP_RETURN_CODE for the e2e_pg tests
NULL = "\x1dNULL\x1d"   # how psql prints SQL NULL here (no real value holds GS)
FS, RS = "\x1f", "\x1e"  # field and record separators of psql's unaligned output
SUPERUSER = "postgres"  # the cluster's superuser, whoever runs the server
_NEEDED = ("initdb", "postgres", "pg_ctl", "psql")
# libpq variables that would point psql somewhere else than the -d URI says.
_PG_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", "PGSERVICEFILE",
           "PGPASSWORD", "PGPASSFILE", "PGOPTIONS", "PGSSLMODE", "PGTARGETSESSIONATTRS", "PGAPPNAME")


class Unavailable(Exception):
    """No usable PostgreSQL here (binaries or the postgres user missing):
    the caller skips (exit SKIP) instead of failing."""


# The watchdog: argv = server process group, temp dir, lifetime in seconds.
# Returns when its stdin (a pipe the test process holds) reads EOF, i.e. when
# that process is gone, or when the lifetime is up; then kills the group.
# stop() kills the watchdog first, so a later, reused pid is never signalled.
_WATCHDOG = r"""
import os, select, shutil, signal, sys
pgid, tmp, life = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
signal.signal(signal.SIGINT, signal.SIG_IGN)
select.select([sys.stdin], [], [], life)
try:
    os.killpg(pgid, signal.SIGKILL)
except OSError:
    pass
shutil.rmtree(tmp, ignore_errors=True)
"""


class PgError(Exception):
    """A psql statement failed; .stderr holds psql's message (ERROR: ...)."""

    def __init__(self, sql, stderr):
        super().__init__("%s\n%s" % (sql, stderr.strip()))
        self.sql, self.stderr = sql, stderr


def find_bindir():
    """The directory holding initdb, postgres, pg_ctl and psql: $CUSTODY_PG_BIN,
    then /usr/lib/postgresql/15/bin, then the newest /usr/lib/postgresql/*/bin,
    then `pg_config --bindir`. None if there is none. (/usr/bin/psql is
    Debian's pg_wrapper, not the binary, so it is not looked at.)"""
    cands = []
    if os.environ.get("CUSTODY_PG_BIN"):
        cands.append(os.environ["CUSTODY_PG_BIN"])
    cands.append("/usr/lib/postgresql/15/bin")

    def ver(p):
        m = re.search(r"/postgresql/(\d+)/", p)
        return int(m.group(1)) if m else 0
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=ver, reverse=True)
    pgc = shutil.which("pg_config")
    if pgc:
        try:
            cands.append(subprocess.run([pgc, "--bindir"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        timeout=10).stdout.decode().strip())
        except (OSError, subprocess.SubprocessError):
            pass
    for d in cands:
        if d and all(os.access(os.path.join(d, b), os.X_OK) for b in _NEEDED):
            return d
    return None


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _traversable_by_others(path):
    """Every ancestor of path lets others search it (the postgres user must
    reach its data directory under our temp dir)."""
    path = os.path.abspath(path)
    while True:
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


class PgServer:
    """One PostgreSQL server; start() (or `with`) raises Unavailable when it
    cannot run here and RuntimeError (with the server log's tail) when it
    should have but did not start within max_seconds."""

    def __init__(self, max_seconds=30, shared_buffers="16MB", max_connections=100, lifetime=1800):
        self.max_seconds = max_seconds
        self.shared_buffers = shared_buffers
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.watchdog = None
        self.bindir = None
        self.dir = None
        self.proc = None
        self.port = None
        self.prefix = []        # privilege drop for server-side commands
        self.owner = None       # (uid, gid) the server runs as when we are root
        self._stopped = True

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        self.bindir = find_bindir()
        if not self.bindir:
            raise Unavailable("PostgreSQL binaries (initdb, postgres, pg_ctl, psql) not found "
                              "in /usr/lib/postgresql/*/bin or $CUSTODY_PG_BIN")
        base = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no `postgres` user to run the server as")
            self.owner = (pw.pw_uid, pw.pw_gid)
            if shutil.which("setpriv"):     # execs: the child pid is the postmaster itself
                self.prefix = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--init-groups", "--"]
            elif shutil.which("runuser"):
                self.prefix = ["runuser", "-u", "postgres", "--"]
            else:
                raise Unavailable("running as root and neither setpriv nor runuser is installed")
            if not _traversable_by_others(tempfile.gettempdir()):
                base = "/tmp"
        self.dir = tempfile.mkdtemp(prefix="custody-pg-", dir=base)
        self._stopped = False
        atexit.register(self.stop)
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            os.chmod(self.dir, 0o700)
            if self.owner:
                os.chown(self.dir, *self.owner)
            self._initdb()
            for attempt in range(3):     # the free port can be taken before postgres binds it
                self.port = _free_port()
                if self._launch():
                    return self
            raise RuntimeError("postgres did not start (3 ports tried):\n" + self.log_tail())
        except BaseException:
            self.stop()
            raise

    def _server_cmd(self, *argv, timeout=120):
        p = subprocess.run(self.prefix + list(argv), cwd=self.dir, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                           env=self._env())
        return p.returncode, p.stdout.decode(errors="replace")

    def _initdb(self):
        data = os.path.join(self.dir, "data")
        code, out = self._server_cmd(os.path.join(self.bindir, "initdb"), "-D", data, "-U", SUPERUSER,
                                     "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
        if code != 0:
            raise RuntimeError("initdb failed (exit %d):\n%s" % (code, out))
        # C locale: text sorts bytewise, as SQLite's BINARY collation does.
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")

    def _launch(self):
        data = os.path.join(self.dir, "data")
        log = os.path.join(self.dir, "server.log")
        opts = {"listen_addresses": "127.0.0.1", "port": str(self.port),
                "unix_socket_directories": self.dir, "fsync": "on", "synchronous_commit": "on",
                "full_page_writes": "on", "shared_buffers": self.shared_buffers,
                "max_connections": str(self.max_connections),
                "dynamic_shared_memory_type": "posix", "logging_collector": "off",
                "log_min_messages": "warning", "log_statement": "none"}
        argv = [os.path.join(self.bindir, "postgres"), "-D", data]
        for k, v in opts.items():
            argv += ["-c", "%s=%s" % (k, v)]
        with open(log, "ab") as logf:
            if self.owner:
                os.chown(log, *self.owner)
            self.proc = subprocess.Popen(self.prefix + argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, env=self._env(),
                                         start_new_session=True)
        self._watch()
        deadline = time.time() + self.max_seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "ddress already in use" in self.log_tail():
                    return False
                raise RuntimeError("postgres exited %d at start:\n%s" % (self.proc.returncode, self.log_tail()))
            p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-d",
                                self.uri("postgres"), "-c", "SELECT 1"], env=self._env(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=15)
            if p.returncode == 0 and p.stdout.strip() == b"1":
                return True
            time.sleep(0.1)
        self._kill()
        raise RuntimeError("postgres not ready within %d s:\n%s" % (self.max_seconds, self.log_tail()))

    def _watch(self):
        self._unwatch()
        self.watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(self.proc.pid), self.dir,
                                          str(self.lifetime)], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)

    def _unwatch(self):
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()
            self.watchdog.stdin.close()
            self.watchdog = None

    def _kill(self):
        self._unwatch()
        if self.proc is None:
            return
        if self.proc.poll() is None:
            data = os.path.join(self.dir, "data")
            try:
                self._server_cmd(os.path.join(self.bindir, "pg_ctl"), "stop", "-D", data, "-m", "immediate",
                                 "-w", "-t", "10", timeout=20)
            except (OSError, subprocess.SubprocessError):
                pass
            try:   # the postmaster, its backends and any privilege-drop wrapper share one group
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None

    def stop(self):
        """Idempotent: kill the server, remove the temp directory."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._kill()
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def log_tail(self, n=4000):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return "(no server log)"

    # -- clients -----------------------------------------------------------
    @staticmethod
    def _env():
        env = {k: v for k, v in os.environ.items() if k not in _PG_ENV}
        env["PGCONNECT_TIMEOUT"] = "10"
        env["LC_ALL"] = "C"
        return env

    def uri(self, dbname):
        """The libpq URI of dbname over TCP on loopback (what a config's
        `store:` line holds)."""
        return "postgresql://%s@127.0.0.1:%d/%s" % (SUPERUSER, self.port, dbname)

    def create_database(self, name):
        """CREATE DATABASE name (dropping an old one of that name); returns its URI."""
        self.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident(name))
        self.psql("postgres", "CREATE DATABASE %s" % quote_ident(name))
        return self.uri(name)

    def psql(self, dbname, sql, script=False, timeout=120):
        """Runs sql in dbname with `psql -X -q -A -t -F US -R RS -v ON_ERROR_STOP=1`;
        returns (exit code, stdout, stderr). script=True feeds sql on stdin
        (several statements, each its own command, all in one transaction
        with -1); otherwise it is one -c query string."""
        argv = [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-F", FS, "-R", RS,
                "-P", "null=" + NULL, "-v", "ON_ERROR_STOP=1", "-d", self.uri(dbname)]
        if script:
            argv += ["-1", "-f", "-"]
        else:
            argv += ["-c", sql]
        p = subprocess.run(argv, input=sql.encode() if script else b"", env=self._env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def query(self, dbname, sql, script=False):
        """Rows of sql's result as lists of strings (None for NULL); raises
        PgError with psql's stderr when the statement fails."""
        code, out, err = self.psql(dbname, sql, script=script)
        if code != 0:
            raise PgError(sql, err or "psql exited %d" % code)
        return parse_rows(out)


def parse_rows(out):
    """psql's unaligned, tuples-only output (FS between fields, RS between
    rows, a final newline) as lists of strings, None for NULL."""
    if out.endswith("\n"):
        out = out[:-1]
    if out == "":
        return []
    return [[None if v == NULL else v for v in rec.split(FS)] for rec in out.split(RS)]


if __name__ == "__main__":
    # Self-test: start, create a database, round-trip a few values, stop.
    import sys
    try:
        with PgServer() as pg:
            db = pg.create_database("selftest")
            rows = pg.query("selftest", "SELECT 1, 'a' || chr(10) || 'b', NULL, true, ''::text")
            assert rows == [["1", "a\nb", None, "t", ""]], rows
            assert pg.query("selftest", "SELECT 1 WHERE false") == []
            assert pg.query("selftest", "SELECT g FROM generate_series(1,3) g") == [["1"], ["2"], ["3"]]
            try:
                pg.query("selftest", "SELECT nosuch")
                raise AssertionError("error not raised")
            except PgError as e:
                assert "nosuch" in e.stderr, e.stderr
            assert pg.query("selftest", "SHOW fsync") == [["on"]]
            print("pgserver: OK (%s, %s, port %d)" % (pg.bindir, db, pg.port))
    except Unavailable as e:
        print("pgserver: skipped: %s" % e)
        sys.exit(SKIP)

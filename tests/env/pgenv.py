"""PostgreSQL 15 servers on loopback for tests.

A PgServer is one postmaster with its own data directory, listening on
127.0.0.1 only, with password (scram-sha-256) authentication over TCP and its
Unix socket inside the data directory.  init_primary() creates a writable
server; make_standby() takes a fresh base backup of a primary and starts it as
a streaming hot standby; promote() and rejoin_as_standby() move the writer
role around the way a failover does (pg_promote on one side, pg_rewind or a
fresh base backup on the other).

Layout: <root_dir>/<name>/data (PGDATA) and <root_dir>/<name>/server.log.

Aurora's aurora_global_db_status(): init_primary() installs an emulation of
it (in the postgres database, so every standby made from the server has it
too). In Aurora a secondary cluster learns from its storage-level replication
when it last heard the primary region (last_lag_calculation_time); every
instance of the secondary sees it, the readers included. Here the readers of a
secondary are cascading standbys of its writer, so a standby's own WAL
receiver says nothing about the primary region. The emulation therefore
carries the primary's heartbeat the way Aurora's storage does, through the
replicated data: stamp_replication_clock() sets a one-row table on a primary
to its clock (the AWS emulator does so every second for each bound writer, as
Aurora's replication would), and on a standby the function reports that
stamp as last_lag_calculation_time. A standby whose primary is stopped or
frozen, or whose replication is cut or whose replay is paused, sees the stamp
age. On a primary it returns the primary's own row (durability_lag_in_msec
-1, last_lag_calculation_time 1970-01-01, as Aurora does).

Root: initdb and the postmaster refuse to run as root, so when this module
runs as root every server-side binary (initdb, pg_ctl, pg_basebackup,
pg_rewind) runs as the `postgres` OS user through setpriv, and the server
directories are owned by it.  The directories above root_dir must let that
user through, so the module adds the search (x) bit for others on the
ancestors of root_dir that lack it (nothing else: no read, no write).  As an
ordinary user everything runs as that user.  Keep root_dir out of pytest's
basetemp when root: pytest takes group/other permissions off
/tmp/pytest-of-<user> whenever a pytest session starts, which locks the
postgres user out of servers that are still running.

Secrets: passwords travel to the tools through PGPASSWORD or files inside the
0700 data directory; nothing here logs them.  The exception text of a failed
command carries the tool's stderr, which never contains the password.

Thread-safety: a PgServer is not safe to drive from several threads at once;
distinct servers are independent.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

PG_BIN = os.environ.get("GDB_PG_BIN", "/usr/lib/postgresql/15/bin")
HOST = "127.0.0.1"
DEFAULT_SUPERUSER = "postgres"
DEFAULT_PASSWORD = "gdb-test-superuser"
SERVICE_USER = "postgres"  # the OS user servers run as when we are root

# Unix socket paths are limited to 107 bytes (sun_path); PostgreSQL appends
# "/.s.PGSQL.<port>" to the directory.
_SOCKET_DIR_MAX = 80


class PgEnvError(RuntimeError):
    """A PostgreSQL tool or server did not do what was asked."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _is_root() -> bool:
    return os.geteuid() == 0


def _service_ids():
    pw = pwd.getpwnam(SERVICE_USER)
    return pw.pw_uid, pw.pw_gid


def _wrap(argv):
    """Prefix argv so that it runs as the service user when we are root."""
    if not _is_root():
        return list(argv)
    return [
        "setpriv",
        f"--reuid={SERVICE_USER}",
        f"--regid={SERVICE_USER}",
        "--init-groups",
        "--",
    ] + list(argv)


def _own(path):
    """Give path to the service user when we are root."""
    if _is_root():
        uid, gid = _service_ids()
        os.chown(path, uid, gid)


def _open_ancestors(path):
    """Let the service user traverse every ancestor of path (root only)."""
    if not _is_root():
        return
    path = os.path.abspath(path)
    while True:
        st = os.stat(path)
        if not st.st_mode & 0o001:
            os.chmod(path, (st.st_mode & 0o7777) | 0o001)
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _run(argv, cwd, env_extra=None, timeout=120, check=True):
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    env.update({"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PGCONNECT_TIMEOUT": "5"})
    if _is_root():
        env["HOME"] = cwd
        env["USER"] = env["LOGNAME"] = SERVICE_USER
    if env_extra:
        env.update(env_extra)
    p = subprocess.run(
        _wrap(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    if check and p.returncode != 0:
        raise PgEnvError(
            f"{os.path.basename(argv[0])} exited {p.returncode}: {p.stderr.strip()[-2000:]}"
        )
    return p


def _pg(tool):
    return os.path.join(PG_BIN, tool)


def _children(pid):
    """Direct children of pid, read from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name.
        rest = stat[stat.rfind(")") + 2 :].split()
        if len(rest) >= 2 and int(rest[1]) == pid:
            kids.append(int(entry))
    return kids


def _signal_quietly(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class PgServer:
    """One PostgreSQL server on 127.0.0.1.

    Attributes: name, host, port, datadir, logfile, superuser, password,
    basedir (the directory holding datadir and logfile).
    """

    def __init__(self, name, basedir, port, superuser=DEFAULT_SUPERUSER, password=DEFAULT_PASSWORD):
        self.name = name
        self.host = HOST
        self.port = port
        self.basedir = basedir
        self.datadir = os.path.join(basedir, "data")
        self.logfile = os.path.join(basedir, "server.log")
        self.superuser = superuser
        self.password = password

    def __repr__(self):
        return f"PgServer({self.name!r}, port={self.port})"

    @property
    def frozen(self):
        """True while the postmaster is stopped by SIGSTOP (freeze())."""
        pid = self.pid()
        return pid is not None and _state(pid) == "T"

    def to_dict(self, secrets=True):
        """A JSON-able description; server_from_dict() reverses it."""
        d = {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "basedir": self.basedir,
            "datadir": self.datadir,
            "logfile": self.logfile,
            "superuser": self.superuser,
        }
        if secrets:
            d["password"] = self.password
        return d

    # -- process control ---------------------------------------------------

    def pid(self):
        """The postmaster's pid when it runs, else None."""
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                pid = int(f.readline().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        # A zombie or a recycled pid is not our postmaster.
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().decode("ascii", "replace")
        except OSError:
            return None
        state = state[state.rfind(")") + 2 :].split()[0]
        if state == "Z" or b"postgres" not in cmd:
            return None
        return pid

    def _clear_stale_locks(self):
        """Remove lock files whose owner is dead or a zombie.

        A killed postmaster is reparented to pid 1; where pid 1 does not
        reap promptly (containers) the zombie keeps its pid alive, and
        PostgreSQL, seeing that pid in postmaster.pid or the socket lock
        file, refuses to start.  A zombie holds no port, socket or shared
        memory, so its lock files are stale.
        """
        if self.pid() is not None:
            return
        names = ["postmaster.pid"] + [
            n for n in os.listdir(self.datadir) if n.startswith(".s.PGSQL.") and n.endswith(".lock")
        ]
        for n in names:
            path = os.path.join(self.datadir, n)
            try:
                with open(path) as f:
                    owner = int(f.readline().strip())
            except (OSError, ValueError):
                continue
            if _state(owner) in (None, "Z"):
                os.unlink(path)

    def start(self, timeout=30):
        """Start the server and wait until it accepts connections."""
        if self.pid() is not None:
            return
        self._clear_stale_locks()
        try:
            _run(
                [
                    _pg("pg_ctl"),
                    "start",
                    "-D",
                    self.datadir,
                    "-l",
                    self.logfile,
                    "-w",
                    "-t",
                    str(int(timeout)),
                ],
                cwd=self.basedir,
                timeout=timeout + 30,
            )
        except PgEnvError as e:
            raise PgEnvError(f"{self.name}: {e}; log tail:\n{self.log_tail()}") from e
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sql("SELECT 1")
                return
            except Exception as e:  # psycopg errors while the server warms up
                if time.monotonic() > deadline:
                    raise PgEnvError(f"{self.name}: not accepting connections: {e}") from e
                time.sleep(0.1)

    def log_tail(self, lines=15):
        """The last lines of the server log (for error messages)."""
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, mode="fast", timeout=60):
        """Stop the server (smart, fast or immediate); thaws it first."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"bad stop mode {mode!r}")
        if self.frozen:
            self.thaw()
        if self.pid() is None:
            return
        _run(
            [_pg("pg_ctl"), "stop", "-D", self.datadir, "-m", mode, "-w", "-t", str(int(timeout))],
            cwd=self.basedir,
            timeout=timeout + 30,
        )

    def listening_port(self):
        """The port the postmaster listens on (postmaster.pid), or None when it is down."""
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                lines = f.read().splitlines()
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return None

    def _tree(self):
        pid = self.pid()
        if pid is None:
            return None, []
        return pid, _children(pid)

    def kill(self):
        """SIGKILL the postmaster and its children (a crash; no shutdown)."""
        pid, kids = self._tree()
        if pid is None:
            return
        for p in [pid] + kids:
            _signal_quietly(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.pid() is not None or any(
            os.path.exists(f"/proc/{k}") and _state(k) not in ("Z", None) for k in kids
        ):
            if time.monotonic() > deadline:
                raise PgEnvError(f"{self.name}: processes survived SIGKILL")
            time.sleep(0.05)

    def freeze(self):
        """SIGSTOP the postmaster and every child: the server hangs, sockets stay open."""
        pid = self.pid()
        if pid is None:
            raise PgEnvError(f"{self.name}: not running")
        _signal_quietly(pid, signal.SIGSTOP)
        # Children read again after the postmaster stopped: it cannot fork more.
        for k in _children(pid):
            _signal_quietly(k, signal.SIGSTOP)

    def thaw(self):
        """SIGCONT what freeze() stopped."""
        pid, kids = self._tree()
        if pid is not None:
            for k in kids:
                _signal_quietly(k, signal.SIGCONT)
            _signal_quietly(pid, signal.SIGCONT)

    # -- SQL ---------------------------------------------------------------

    def dsn(self, user=None, password=None, db="postgres"):
        """A libpq keyword/value connection string (contains the password)."""
        user = user or self.superuser
        if password is None and user == self.superuser:
            password = self.password
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={db}", f"user={user}"]
        if password is not None:
            parts.append("password=" + _quote(password))
        parts.append("connect_timeout=5")
        return " ".join(parts)

    def connect(self, db="postgres", autocommit=True, timeout=5):
        """A psycopg connection as the superuser (caller closes it)."""
        import psycopg

        return psycopg.connect(self.dsn(db=db), autocommit=autocommit, connect_timeout=timeout)

    def sql(self, query, db="postgres", params=None, timeout=5):
        """Run one statement as the superuser; rows as a list of tuples."""
        with self.connect(db=db, timeout=timeout) as conn:
            cur = conn.execute(query, params)
            if cur.description is None:
                return []
            return cur.fetchall()

    def in_recovery(self) -> bool:
        return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])

    def promote(self, timeout=30):
        """pg_promote() and wait until the server leaves recovery."""
        if not self.in_recovery():
            return
        self.sql("SELECT pg_promote(true, %s)", params=(int(timeout),))
        deadline = time.monotonic() + timeout
        while self.in_recovery():
            if time.monotonic() > deadline:
                raise PgEnvError(f"{self.name}: still in recovery after promote")
            time.sleep(0.05)

    def current_lsn(self):
        """A WAL position covering every write so far, as text.

        On a primary this writes a small marker record and returns its start:
        a standby has replayed every earlier write once its replay position
        passes it (the insert position alone can sit on a page header, which
        a replaying standby never reports).  On a standby: the replay position.
        """
        if self.in_recovery():
            return self.sql("SELECT pg_last_wal_replay_lsn()::text")[0][0]
        # A transactional message commits with an xid, and a synchronous
        # commit flushes it: the walsender only sends flushed WAL.
        with self.connect(autocommit=False) as conn:
            conn.execute("SET LOCAL synchronous_commit = on")
            lsn = conn.execute(
                "SELECT pg_logical_emit_message(true, 'pgenv', '')::text, txid_current()"
            ).fetchone()[0]
            conn.commit()
        return lsn

    def wait_replayed(self, lsn, timeout=30):
        """Wait until this standby has replayed past lsn (from current_lsn())."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.sql("SELECT pg_last_wal_replay_lsn() > %s::pg_lsn", params=(lsn,))[0][0]
            if got:
                return
            if time.monotonic() > deadline:
                raise PgEnvError(f"{self.name}: replay did not reach {lsn}")
            time.sleep(0.05)

    def destroy(self):
        """Kill the server and delete its directory."""
        if self.frozen:
            self.thaw()
        try:
            self.stop("immediate", timeout=20)
        except PgEnvError:
            self.kill()
        shutil.rmtree(self.basedir, ignore_errors=True)

    # -- configuration -----------------------------------------------------

    def _write_server_conf(self, primary=None, standby=None):
        """Per-server settings (port, socket, upstream) in server.conf.

        postgresql.conf includes server.conf last, so a base backup copies
        the shared settings and this file is rewritten for each server.
        """
        sockdir = self.datadir if len(self.datadir) <= _SOCKET_DIR_MAX else ""
        lines = [
            f"port = {self.port}",
            f"unix_socket_directories = '{sockdir}'",
            f"cluster_name = '{self.name}'",
        ]
        if primary is not None:
            conninfo = (
                f"host={primary.host} port={primary.port} user={primary.superuser} "
                f"password={_quote(primary.password)} application_name={self.name}"
            )
            lines.append("primary_conninfo = '" + conninfo.replace("'", "''") + "'")
        path = os.path.join(self.datadir, "server.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
        _own(path)
        signal_file = os.path.join(self.datadir, "standby.signal")
        if standby is None:
            standby = primary is not None
        if standby:
            with open(signal_file, "w"):
                pass
            _own(signal_file)
        elif os.path.exists(signal_file):
            os.unlink(signal_file)


def _quote(value):
    """Quote a libpq keyword value."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return s[s.rfind(")") + 2 :].split()[0]


_SHARED_CONF = """
# written by tests/env/pgenv.py
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
max_connections = 60
shared_buffers = 16MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_log_hints = on
full_page_writes = on
fsync = off
synchronous_commit = off
wal_receiver_status_interval = 1s
wal_receiver_timeout = 15s
wal_sender_timeout = 15s
wal_retrieve_retry_interval = 500ms
checkpoint_timeout = 5min
logging_collector = off
log_line_prefix = '%m [%p] '
log_min_messages = warning
dynamic_shared_memory_type = posix
include_if_exists = 'server.conf'
"""

_HBA = """# written by tests/env/pgenv.py
local all all trust
local replication all trust
host all all 127.0.0.1/32 scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
"""


def _prepare_basedir(root_dir, name):
    os.makedirs(root_dir, exist_ok=True)
    _open_ancestors(root_dir)
    basedir = os.path.join(os.path.abspath(root_dir), name)
    if os.path.exists(basedir):
        raise PgEnvError(f"{basedir} already exists")
    os.mkdir(basedir, 0o700)
    _own(basedir)
    return basedir


def _initdb(basedir, datadir, superuser, password):
    pwfile = os.path.join(basedir, "pwfile")
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    _own(pwfile)
    try:
        _run(
            [
                _pg("initdb"),
                "-D",
                datadir,
                "-U",
                superuser,
                "--pwfile",
                pwfile,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--data-checksums",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
                "--no-sync",
            ],
            cwd=basedir,
        )
    finally:
        os.unlink(pwfile)
    with open(os.path.join(datadir, "postgresql.conf"), "a") as f:
        f.write(_SHARED_CONF)
    with open(os.path.join(datadir, "pg_hba.conf"), "w") as f:
        f.write(_HBA)


def _template(superuser, password):
    """A freshly initdb'ed data directory to copy, made once per process.

    initdb costs seconds on a loaded machine; copying its result costs
    milliseconds.  Servers copied from one template share a system
    identifier, as a primary and its base-backup standbys do.
    """
    key = (superuser, password)
    with _TEMPLATE_LOCK:
        path = _TEMPLATES.get(key)
        if path is None:
            root = tempfile.mkdtemp(prefix="pgenv-template-")
            os.chmod(root, 0o711)
            _own(root)
            path = os.path.join(root, "data")
            _initdb(root, path, superuser, password)
            atexit.register(shutil.rmtree, root, True)
            _TEMPLATES[key] = path
        return path


_TEMPLATES = {}
_TEMPLATE_LOCK = threading.Lock()


def init_primary(
    root_dir, name, port=None, superuser=DEFAULT_SUPERUSER, password=DEFAULT_PASSWORD, start=True
) -> PgServer:
    """A new writable server under root_dir/name (from an initdb template), started,
    with the aurora_global_db_status() emulation installed (see the module docstring)."""
    basedir = _prepare_basedir(root_dir, name)
    srv = PgServer(name, basedir, port or free_port(), superuser, password)
    # cp -a keeps the owner (postgres when we are root) and the modes.
    subprocess.run(["cp", "-a", _template(superuser, password), srv.datadir], check=True)
    srv._write_server_conf()
    if start:
        _start_new(srv, port is None)
        install_aurora_status(srv)
    return srv


# The emulation of Aurora's aurora_global_db_status() (see the module docstring).
# The columns are Aurora's; aws_region is NULL (a server does not know its region)
# and feedback_epoch/feedback_xmin are not emulated.
_AURORA_STATUS_SQL = """
CREATE SCHEMA IF NOT EXISTS aurora_emu;
CREATE TABLE IF NOT EXISTS aurora_emu.replication_clock
    (id int PRIMARY KEY CHECK (id = 1), stamped_at timestamptz NOT NULL);
GRANT USAGE ON SCHEMA aurora_emu TO PUBLIC;
GRANT SELECT ON aurora_emu.replication_clock TO PUBLIC;
CREATE OR REPLACE FUNCTION aurora_emu.stamp() RETURNS void LANGUAGE sql AS $$
    INSERT INTO aurora_emu.replication_clock VALUES (1, clock_timestamp())
    ON CONFLICT (id) DO UPDATE SET stamped_at = excluded.stamped_at
$$;
CREATE OR REPLACE FUNCTION public.aurora_global_db_status(
    OUT aws_region text, OUT highest_lsn_written bigint, OUT durability_lag_in_msec bigint,
    OUT rpo_lag_in_msec bigint, OUT last_lag_calculation_time timestamptz,
    OUT feedback_epoch integer, OUT feedback_xmin bigint)
RETURNS SETOF record LANGUAGE sql STABLE AS $$
    SELECT NULL::text,
           (CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END
            - '0/0'::pg_lsn)::bigint,
           -1::bigint, -1::bigint, 'epoch'::timestamptz, NULL::integer, NULL::bigint
    UNION ALL
    SELECT NULL::text,
           (coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0'::pg_lsn)::bigint,
           lag.ms, lag.ms, c.stamped_at, NULL::integer, NULL::bigint
    FROM (SELECT max(stamped_at) AS stamped_at FROM aurora_emu.replication_clock) c,
         LATERAL (SELECT (extract(epoch FROM clock_timestamp() - c.stamped_at) * 1000)::bigint
                  AS ms) lag
    WHERE pg_is_in_recovery()
$$;
"""


def install_aurora_status(server):
    """Install the aurora_global_db_status() emulation on a primary (idempotent)."""
    with server.connect() as conn:
        conn.execute(_AURORA_STATUS_SQL)


def stamp_replication_clock(server, timeout=2):
    """Set the primary's replication clock to now (what Aurora's replication refreshes).

    Connects to the port the server listens on (from postmaster.pid), so a
    proxy in front of server.port does not come between. Raises on any
    failure (a standby refuses the write; a frozen server times out).
    """
    import psycopg

    port = server.listening_port() or server.port
    with psycopg.connect(
        host=server.host,
        port=port,
        user=server.superuser,
        password=server.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=timeout,
        options=f"-c statement_timeout={int(timeout * 1000)}",
    ) as conn:
        conn.execute("SELECT aurora_emu.stamp()")


def _start_new(srv, port_was_chosen, primary=None, attempts=5):
    """Start a new server; when another process took its port since
    free_port() chose it, choose again (only if the caller gave no port)."""
    for attempt in range(attempts):
        try:
            srv.start()
            return
        except PgEnvError as e:
            if (
                not port_was_chosen
                or "Address already in use" not in str(e)
                or attempt == attempts - 1
            ):
                raise
        srv.port = free_port()
        srv._write_server_conf(primary=primary)


def _base_backup(primary, target):
    """Fill target.datadir (absent) with a fresh base backup of primary."""
    _run(
        [
            _pg("pg_basebackup"),
            "-D",
            target.datadir,
            "-h",
            primary.host,
            "-p",
            str(primary.port),
            "-U",
            primary.superuser,
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-password",
            "--no-sync",
        ],
        cwd=target.basedir,
        env_extra={"PGPASSWORD": primary.password},
        timeout=300,
    )
    os.chmod(target.datadir, 0o700)


def make_standby(primary, root_dir, name, port=None, start=True) -> PgServer:
    """A streaming hot standby of primary from a fresh base backup, started."""
    basedir = _prepare_basedir(root_dir, name)
    srv = PgServer(name, basedir, port or free_port(), primary.superuser, primary.password)
    _base_backup(primary, srv)
    srv._write_server_conf(primary=primary)
    if start:
        _start_new(srv, port is None, primary=primary)
    return srv


def set_upstream(server, new_primary):
    """Point a running standby at new_primary (reload, no restart).

    new_primary None cuts replication: the standby stays in recovery, keeps
    what it has replayed and receives nothing more until pointed again.
    """
    server._write_server_conf(primary=new_primary, standby=True)
    server.sql("SELECT pg_reload_conf()")


def rejoin_as_standby(server, new_primary, timeout=60, fresh=False) -> None:
    """Make server (a former primary, maybe crashed) a standby of new_primary.

    Stops server, rewinds it with pg_rewind (crash recovery is run first if
    it did not shut down cleanly); when rewinding is impossible, or fresh is
    true, replaces its data directory with a fresh base backup.  Starts it
    streaming.  new_primary may itself be a standby (cascading replication).
    """
    if server.frozen:
        server.kill()
    if server.pid() is not None:
        server.stop("fast")
    server._clear_stale_locks()
    rewound = False
    if not fresh and not new_primary.in_recovery():
        # pg_rewind reads the source's timeline from its control file, which
        # a fresh promotion updates only at its next checkpoint.
        new_primary.sql("CHECKPOINT")
        try:
            _run(
                [
                    _pg("pg_rewind"),
                    "--target-pgdata",
                    server.datadir,
                    "--source-server",
                    _rewind_conninfo(new_primary),
                    "--no-sync",
                ],
                cwd=server.basedir,
                env_extra={"PGPASSWORD": new_primary.password},
                timeout=300,
            )
            rewound = True
        except PgEnvError:
            pass
    if not rewound:
        shutil.rmtree(server.datadir, ignore_errors=True)
        _base_backup(new_primary, server)
    server._write_server_conf(primary=new_primary)
    server.start(timeout=timeout)


def checkpoint_lsn(server):
    """The latest checkpoint location from pg_control (server may be down)."""
    out = _run([_pg("pg_controldata"), "-D", server.datadir], cwd=server.basedir).stdout
    for line in out.splitlines():
        if line.startswith("Latest checkpoint location:"):
            return line.split(":", 1)[1].strip()
    raise PgEnvError(f"{server.name}: no checkpoint location in pg_controldata output")


def server_from_dict(d):
    """A PgServer handle for an existing server described by to_dict().

    Also accepts testenv's state entries ({name, port, datadir, user, password}).
    """
    basedir = d.get("basedir") or os.path.dirname(d["datadir"].rstrip("/"))
    superuser = d.get("superuser") or d.get("user") or DEFAULT_SUPERUSER
    return PgServer(
        d.get("name") or os.path.basename(basedir),
        basedir,
        int(d["port"]),
        superuser,
        d.get("password", DEFAULT_PASSWORD),
    )


def _rewind_conninfo(primary):
    return (
        f"host={primary.host} port={primary.port} user={primary.superuser} "
        f"dbname=postgres connect_timeout=5"
    )

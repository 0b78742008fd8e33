"""A real, throwaway PostgreSQL server for the tests (the ``postgres_server`` and
``postgres_url`` fixtures in conftest.py are built on this).

``start_cluster()`` finds the server binaries, ``initdb``s a cluster in a new temporary
directory and starts it with ``pg_ctl -w`` on a free port of 127.0.0.1, its unix socket in
that directory, fsync and synchronous_commit off (nothing in it needs to survive a crash).
Its superuser is ``recorder`` and every connection over 127.0.0.1 is trusted, so the URL
needs no password: ``postgresql://recorder@127.0.0.1:PORT/postgres``. ``Cluster.stop()``
stops it (``pg_ctl stop -m immediate``) and deletes the directory.

Where the binaries come from: ``$RECORDER_TEST_POSTGRES_BINDIR`` if set (and nowhere
else then), else the first that has them of: the newest ``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql`` package, which
``scripts/install.sh`` installs); ``pg_config --bindir``; ``initdb`` on ``PATH``.

Root: ``initdb``, ``postgres`` and ``pg_ctl`` refuse to run as root, so when the tests run
as root they are run as the ``postgres`` user (``runuser -u postgres --``), in a directory
under /tmp (or $TMPDIR when that user can write there) that is handed over to that user.

A cluster outlives nothing: next to it runs a small watchdog process, in a session of its
own, that holds a pipe from the test process; when the test process is gone (finished,
killed, crashed) the pipe closes and the watchdog stops the cluster and deletes its
directory, so a ``kill -9`` of pytest or of an xdist worker leaves no postmaster behind.

xdist: every worker is its own process and starts its own cluster (a few seconds, a few
tens of MB); the tests of one worker share it, each in a database of its own. Sharing one
cluster across workers would need the workers to agree on who stops it last; one each is
simpler and cannot go wrong that way.

``RECORDER_TEST_POSTGRES_URL`` (a ``postgresql://`` URL whose user may CREATE DATABASE)
replaces all of this with a server you run yourself; the tests then only create and drop
``test_<hex>`` databases on it.

psycopg is imported only where it is used, so that this module (and conftest.py) import
without the ``postgres`` extra.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

URL_ENV = "RECORDER_TEST_POSTGRES_URL"
BINDIR_ENV = "RECORDER_TEST_POSTGRES_BINDIR"
SUPERUSER = "recorder"
OS_USER_AS_ROOT = "postgres"

HOW_TO_FIX = (
    "To fix it: run `bash scripts/install.sh` (it installs Debian's `postgresql` package, whose "
    "server binaries land in /usr/lib/postgresql/<version>/bin, and the `postgres` extra), "
    f"or set {BINDIR_ENV} to a directory holding initdb, pg_ctl and postgres, "
    f"or set {URL_ENV}=postgresql://USER@HOST:PORT/postgres to use a server you already run "
    "(USER must be allowed to CREATE DATABASE)."
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server for the tests; the message says why and how to fix it."""

    def __init__(self, why: str) -> None:
        super().__init__(f"No PostgreSQL server for the tests: {why}\n{HOW_TO_FIX}")


# -- the binaries ---------------------------------------------------------------------------

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def candidate_bindirs() -> list[Path]:
    """Where the server binaries are looked for without $RECORDER_TEST_POSTGRES_BINDIR, in order."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                found.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).resolve().parent)
    return list(dict.fromkeys(found))


def missing_programs(bindir: Path) -> list[str]:
    return [name for name in SERVER_PROGRAMS if not os.access(bindir / name, os.X_OK)]


def find_bindir() -> Path:
    """$RECORDER_TEST_POSTGRES_BINDIR, else the first of ``candidate_bindirs()`` holding
    initdb, pg_ctl and postgres."""
    if os.environ.get(BINDIR_ENV):  # when set, it is the only place looked at
        bindir = Path(os.environ[BINDIR_ENV])
        missing = missing_programs(bindir)
        if missing:
            raise PostgresUnavailable(
                f"{BINDIR_ENV}={bindir} does not hold the PostgreSQL server binaries (missing: {', '.join(missing)})."
            )
        return bindir
    looked = candidate_bindirs()
    for bindir in looked:
        if not missing_programs(bindir):
            return bindir
    where = ", ".join(str(p) for p in looked) or "nowhere"
    raise PostgresUnavailable(
        "the PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed: looked in "
        f"/usr/lib/postgresql/*/bin, `pg_config --bindir` and PATH (found candidates: {where})."
    )


# -- running them ---------------------------------------------------------------------------


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_prefix() -> list[str]:
    """What to put before a server program so that it does not run as root."""
    if not _as_root():
        return []
    try:
        pwd.getpwnam(OS_USER_AS_ROOT)
    except KeyError:
        raise PostgresUnavailable(
            f"the tests run as root, PostgreSQL refuses to run as root, and there is no "
            f"`{OS_USER_AS_ROOT}` user to run it as (Debian's postgresql package creates it; "
            f"or run the tests as an ordinary user)."
        ) from None
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    if not os.access(runuser, os.X_OK):
        raise PostgresUnavailable("the tests run as root and `runuser` (util-linux) is missing.")
    return [runuser, "-u", OS_USER_AS_ROOT, "--"]


def _clean_env() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST... from the caller's shell must not steer initdb/pg_ctl.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _make_dir() -> Path:
    """A new, empty directory the server programs can write to."""
    # The unix socket lives in it and socket paths are limited to ~107 bytes: a long $TMPDIR
    # is passed over for /tmp.
    parent = Path(tempfile.gettempdir())
    if len(str(parent)) > 50:
        parent = Path("/tmp")
    if _as_root():
        # $TMPDIR may be private to root (pytest's basetemp is 0700): use it only if the
        # postgres user can write there, else /tmp.
        probe = subprocess.run(_run_prefix() + ["test", "-w", str(parent), "-a", "-x", str(parent)],
                               capture_output=True, env=_clean_env())
        if probe.returncode != 0:
            parent = Path("/tmp")
    path = Path(tempfile.mkdtemp(prefix="recorder-pg-", dir=parent))
    if _as_root():
        owner = pwd.getpwnam(OS_USER_AS_ROOT)
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


WATCHDOG = r"""
import shutil, subprocess, sys
sys.stdin.buffer.read()  # returns when the test process closes the pipe or is gone
prefix_len = int(sys.argv[1])
prefix, pg_ctl, data, top = sys.argv[2:2 + prefix_len], *sys.argv[2 + prefix_len:]
if __import__("os").path.exists(data):
    subprocess.run(prefix + [pg_ctl, "stop", "-D", data, "-m", "immediate", "-w", "-t", "30"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
shutil.rmtree(top, ignore_errors=True)
"""


@dataclass
class Cluster:
    """A running throwaway cluster: ``url`` to reach it, ``stop()`` to end it."""

    bindir: Path
    top: Path  # the temporary directory: data/, server.log and the unix socket
    port: int
    prefix: list[str] = field(repr=False)
    watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    startup_seconds: float = 0.0

    @property
    def data(self) -> Path:
        return self.top / "data"

    @property
    def log(self) -> Path:
        return self.top / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.prefix + [str(self.bindir / "pg_ctl"), *args, "-D", str(self.data)],
                              capture_output=True, text=True, timeout=timeout, env=_clean_env(), cwd=self.top)

    def stop(self) -> None:
        """Stop the server (immediate: nothing in it is worth a checkpoint) and delete it all."""
        try:
            if self.data.exists():
                self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")
        finally:
            shutil.rmtree(self.top, ignore_errors=True)
            if self.watchdog is not None:
                assert self.watchdog.stdin is not None
                self.watchdog.stdin.close()
                try:
                    self.watchdog.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.watchdog.kill()
                self.watchdog = None


def start_cluster(bindir: Path | None = None, attempts: int = 3) -> Cluster:
    """Start a throwaway cluster (see the module's docstring); raise PostgresUnavailable,
    saying why, when it cannot. ``bindir`` overrides where the binaries are looked for."""
    began = time.monotonic()
    if bindir is None:
        bindir = find_bindir()
    else:
        bindir = Path(bindir)
        missing = missing_programs(bindir)
        if missing:
            raise PostgresUnavailable(
                f"{bindir} does not hold the PostgreSQL server binaries (missing: {', '.join(missing)})."
            )
    prefix = _run_prefix()
    top = _make_dir()
    cluster = Cluster(bindir=bindir, top=top, port=0, prefix=prefix)
    try:
        initdb = subprocess.run(
            prefix + [str(bindir / "initdb"), "-D", str(cluster.data), "-U", SUPERUSER,
                      "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=120, env=_clean_env(), cwd=top,
        )
        if initdb.returncode != 0:
            raise PostgresUnavailable(
                f"`{bindir / 'initdb'}` failed (exit {initdb.returncode}) in {cluster.data}"
                f"{' as user ' + OS_USER_AS_ROOT if prefix else ''}:\n"
                f"{(initdb.stderr or initdb.stdout).strip()}"
            )
        with open(cluster.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# recorder tests: a throwaway cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{str(top)}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 32MB\nmax_connections = 100\n"
                "log_min_messages = warning\n"
            )
        failure = ""
        for _ in range(attempts):
            # The port is free now but not held: another process may take it before the
            # postmaster binds it; then pg_ctl fails and we try another one.
            cluster.port = free_port()
            started = cluster.pg_ctl("start", "-w", "-t", "60", "-l", str(cluster.log), "-o", f"-p {cluster.port}")
            if started.returncode == 0:
                break
            failure = f"{(started.stderr or started.stdout).strip()}\nserver log:\n{_tail(cluster.log)}"
            cluster.pg_ctl("stop", "-m", "immediate", "-w", "-t", "10")
        else:
            raise PostgresUnavailable(
                f"`pg_ctl start` failed {attempts} times (data directory {cluster.data}):\n{failure}"
            )
        cluster.watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(len(prefix)), *prefix,
             str(bindir / "pg_ctl"), str(cluster.data), str(top)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd="/", env=_clean_env(),
        )
    except BaseException:
        cluster.stop()
        raise
    cluster.startup_seconds = time.monotonic() - began
    return cluster


# -- talking to a server --------------------------------------------------------------------


def _psycopg() -> ModuleType:
    try:
        import psycopg
    except ImportError:
        raise PostgresUnavailable(
            "psycopg is not installed (it comes with the `postgres` extra: pip install -e '.[test,postgres]')."
        ) from None
    return psycopg


def with_database(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name`` (user, host, port and query kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def check_server(url: str, timeout: float = 10) -> str:
    """Connect to ``url`` and return the server's ``version()``; raise PostgresUnavailable if not."""
    if not re.match(r"postgres(ql)?://", url):
        raise PostgresUnavailable(f"{URL_ENV}={url!r} is not a postgresql:// URL.")
    psycopg = _psycopg()
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout)), autocommit=True) as conn:
            return str(conn.execute("SELECT version()").fetchone()[0])
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"cannot connect to {url}: {str(exc).strip()}") from None


def create_database(server_url: str) -> str:
    """Create an empty database ``test_<hex>`` on the server; return its URL."""
    psycopg = _psycopg()
    name = f"test_{uuid.uuid4().hex}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def drop_database(server_url: str, database_url: str) -> None:
    """Drop the database of ``database_url``, even with connections still open to it."""
    psycopg = _psycopg()
    name = urlsplit(database_url).path.lstrip("/")
    if not re.fullmatch(r"test_[0-9a-f]{32}", name):
        raise ValueError(f"refusing to drop {name!r}: not a database create_database() made")
    with psycopg.connect(server_url, autocommit=True) as conn:
        if conn.info.server_version >= 130000:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

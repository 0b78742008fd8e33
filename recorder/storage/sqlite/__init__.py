"""SQLite, recorder's embedded default: one file, WAL mode, no server.

A read-only engine opens the file so that nothing on disk changes: ``immutable=1`` while no
``-wal`` file is beside it (no locks taken, no ``-wal``/``-shm`` created: the file is read as
it is), ``mode=ro`` once there is one (a writer is at work, or was killed: its
committed writes are in the WAL, read through the ``-shm`` index, which SQLite creates
if it is missing). Before each read transaction the connection checks again, so a
long-lived reader (``recorder view --serve``) sees a writer that starts later.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import DatabaseError
from ..engine import Connection, Engine, storable_parameters
from .schema import SCHEMA_VERSION, current_version, damaged, migrate

__all__ = ["SQLiteEngine", "SCHEMA_VERSION"]


class SQLiteEngine(Engine):
    name = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: Path, readonly: bool = False) -> None:
        super().__init__(str(path), readonly)
        self.path = path  # as given, for messages
        # What every connection opens: a relative path would name another file once the
        # process changes directory (a test's monkeypatch.chdir), mid-recording.
        self.file = Path(os.path.abspath(path))
        self.target = str(self.file)
        self._identity: tuple[int, int] | None = None  # the file the writer opened (device, inode)

    def connect(self) -> Connection:
        if self.readonly:
            return self._connect_readonly()
        path = self.path
        if not self.file.parent.exists():
            raise DatabaseError(f"cannot create database {path}: directory {path.parent} does not exist")
        if self.file.is_dir():
            raise DatabaseError(f"cannot open database {path}: it is a directory")
        conn = None
        try:
            conn = sqlite3.connect(self.file, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            # Judged before anything is set: a file recorder refuses (another program's
            # database, a newer schema) is left exactly as it was, not switched to WAL.
            self.check_schema(*current_version(conn), SCHEMA_VERSION)
            # Takes effect on a new file only (before its first table, and before WAL mode
            # writes its header); an older file gets it from `recorder vacuum`. Screenshots
            # are stored as captured and replaced by their tiles later, which leaves about
            # half the file free after a recording: release_free_pages gives that back.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a commit survives the process being killed (it is in the OS),
            # only a power cut can lose the last commits. FULL would fsync every batch.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
            self._identity = _identity(self.file)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise DatabaseError(_cannot_open(path, exc)) from None
            raise
        return _Writable(conn)

    def _connect_readonly(self) -> Connection:
        path = self.path
        if not self.file.is_file():
            raise DatabaseError(f"no recordings database at {path}"
                                + (" (it is a directory)" if self.file.is_dir() else ""))
        if self.file.stat().st_size == 0:  # SQLite would take it for a new database
            raise DatabaseError(f"{path} is an empty file, not a recordings database")
        try:
            conn = _ReadOnlyConnection(self.file)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot open {path} as a recorder database: {exc}") from None
        try:
            self.check_schema(*current_version(conn.raw), SCHEMA_VERSION)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise DatabaseError(f"cannot open {path} as a recorder database: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return conn  # type: ignore[return-value]

    def migrate(self) -> tuple[int, int]:
        path = self.path
        if not self.file.is_file() or self.file.stat().st_size == 0:
            raise DatabaseError(f"no recordings database at {path}: nothing to migrate")
        try:
            conn = sqlite3.connect(self.file, timeout=30, isolation_level=None)
            try:
                version, has_tables = current_version(conn)
                if not has_tables:
                    raise DatabaseError(f"{path} has no recorder tables: nothing to migrate")
                self.check_schema(version, has_tables, SCHEMA_VERSION)
                conn.execute("PRAGMA journal_mode = WAL")
                found = migrate(conn)
                damage = damaged(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot migrate {path}: {exc}") from None
        if damage:  # at the right version, but not whole: say so rather than "nothing to do"
            raise DatabaseError(f"{path} is damaged: {damage}")
        return found, SCHEMA_VERSION

    async def connect_async(self) -> _AsyncSQLite:
        import aiosqlite

        # Created, migrated and checked as a store would (a few ms, in a thread); read-only:
        # only checked.
        await asyncio.to_thread(lambda: self.connect().close())  # type: ignore[attr-defined]
        if self.readonly:
            return await _AsyncSQLite.open_readonly(self.file)
        conn = await aiosqlite.connect(self.file, timeout=30)
        conn.row_factory = sqlite3.Row
        return _AsyncSQLite(conn)

    def begin(self, conn: Connection) -> None:
        if self.readonly:
            conn.refresh()  # type: ignore[attr-defined]
            conn.execute("BEGIN")  # a read transaction: one consistent view for the round
            return
        conn.execute("BEGIN IMMEDIATE")  # the write lock now: writers take turns, never deadlock

    def in_transaction(self, conn: Connection) -> bool:
        return bool(conn.in_transaction)  # type: ignore[attr-defined]

    def database_size(self, conn: Connection) -> int:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])

    def storage_size(self) -> int:
        return sum(p.stat().st_size for p in (self.file, Path(f"{self.file}-wal")) if p.exists())

    def compact(self, conn: Connection) -> None:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # VACUUM turns it on in an older file
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # At most this much is given back as a store closes: moving pages costs ~5 ms a MB here,
    # and what a large prune freed is `recorder vacuum`'s to give back, not a recording's exit.
    RELEASE_AT_MOST_BYTES = 64 * 1024 * 1024

    def storage_gone(self) -> str | None:
        if self._identity is None:
            return None
        now = _identity(self.file)
        if now == self._identity:
            return None
        # SQLite goes on writing to the file it has open, which no one can open any more.
        return f"{self.path} was deleted" if now is None else f"{self.path} was replaced by another file"

    def release_free_pages(self, conn: Connection) -> None:
        # Moves the last pages into free ones (a no-op in a file made without auto_vacuum);
        # the file shrinks at the next checkpoint, which the last connection to close makes.
        # executescript: execute() steps a statement once, and incremental_vacuum frees a
        # page a step.
        # (executescript would first COMMIT a transaction left open: the writer calls this
        # between rounds, with none open.)
        assert not conn.in_transaction  # type: ignore[attr-defined]
        pages = self.RELEASE_AT_MOST_BYTES // int(conn.execute("PRAGMA page_size").fetchone()[0])
        conn.executescript(f"PRAGMA incremental_vacuum({pages})")  # type: ignore[attr-defined]

    def json_merge(self, column: str) -> str:
        return f"json_patch({column}, ?)"

    def json_text(self, column: str, field: str) -> str:
        return f"json_extract({column}, '$.{field}')"

    def json_number(self, column: str, field: str) -> str:
        return f"json_extract({column}, '$.{field}')"


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _cannot_open(path: Path, error: sqlite3.DatabaseError) -> str:
    """What went wrong opening ``path``: the file itself, or what is around it."""
    text = str(error)
    if text.startswith("unable to open database file"):
        return f"cannot open {path}: {text} (may this user write to it and to its directory?)"
    if "disk I/O error" in text or "database or disk is full" in text:
        return f"cannot open {path}: {text} (is the disk full?)"
    if text.startswith("attempt to write a readonly database"):
        return f"cannot open {path} for writing: {text}"
    return f"cannot open {path} as a recorder database: {text}"


def _readonly_uri(path: Path) -> tuple[str, bool]:
    """The URI a read-only connection opens ``path`` with, and whether it is immutable."""
    immutable = not Path(f"{path}-wal").exists()
    return f"{path.resolve().as_uri()}?{'immutable=1' if immutable else 'mode=ro'}", immutable


class _Writable:
    """A writer's connection: text it is given to store is made storable first (a page's
    text can hold what UTF-8 cannot encode; see storable_text)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return self.raw.execute(sql, storable_parameters(parameters))

    def executemany(self, sql: str, rows: Any) -> Any:
        return self.raw.executemany(sql, (storable_parameters(row) for row in rows))

    def executescript(self, script: str) -> Any:
        return self.raw.executescript(script)

    def close(self) -> None:
        self.raw.close()


class _ReadOnlyConnection:
    """A connection that writes nothing to the file or beside it (see the module's doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._open()

    def _open(self) -> None:
        uri, self.immutable = _readonly_uri(self.path)
        raw = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA query_only = ON")
        self.raw = raw

    def refresh(self) -> None:
        """Between transactions: reopen in WAL-reading mode if a writer appeared since."""
        if self.immutable and not self.raw.in_transaction and Path(f"{self.path}-wal").exists():
            self.raw.close()
            self._open()

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return self.raw.execute(sql, parameters)

    def executemany(self, sql: str, rows: Any) -> Any:
        return self.raw.executemany(sql, rows)

    def close(self) -> None:
        self.raw.close()


class _AsyncSQLite:
    """aiosqlite, for reads: one connection on its own thread. Read-only, it is reopened
    as _ReadOnlyConnection is: an immutable file that a writer has since opened (its -wal
    appeared) would otherwise be read as it was, or torn."""

    def __init__(self, conn: Any, readonly_path: Path | None = None, immutable: bool = False) -> None:
        self.conn = conn
        self.readonly_path = readonly_path
        self.immutable = immutable

    @classmethod
    async def open_readonly(cls, path: Path) -> _AsyncSQLite:
        import aiosqlite

        uri, immutable = _readonly_uri(path)
        conn = await aiosqlite.connect(uri, timeout=30, uri=True)
        await conn.execute("PRAGMA query_only = ON")
        conn.row_factory = sqlite3.Row
        return cls(conn, path, immutable)

    async def fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        if self.immutable and self.readonly_path is not None and Path(f"{self.readonly_path}-wal").exists():
            reopened = await self.open_readonly(self.readonly_path)
            await self.conn.close()
            self.conn, self.immutable = reopened.conn, reopened.immutable
        try:
            async with self.conn.execute(sql, tuple(parameters)) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise DatabaseError(f"could not read {self.conn}: {exc}") from None

    async def close(self) -> None:
        await self.conn.close()

"""SQLite, recorder's embedded default: one file, WAL mode, no server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import DatabaseError
from ..engine import Connection, Engine
from .schema import SCHEMA_VERSION, migrate

__all__ = ["SQLiteEngine", "SCHEMA_VERSION"]


class SQLiteEngine(Engine):
    name = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path

    def connect(self) -> Connection:
        path = self.path
        if not path.parent.exists():
            raise DatabaseError(f"cannot create database {path}: directory {path.parent} does not exist")
        if path.is_dir():
            raise DatabaseError(f"cannot open database {path}: it is a directory")
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a commit survives the process being killed (it is in the OS),
            # only a power cut can lose the last commits. FULL would fsync every batch.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.row_factory = sqlite3.Row
            migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot open {path} as a recorder database: {exc}") from None
        return conn  # type: ignore[return-value]

    async def connect_async(self) -> _AsyncSQLite:
        import aiosqlite

        # Created, migrated and checked as a store would (a few ms, in a thread).
        await asyncio.to_thread(lambda: self.connect().close())  # type: ignore[attr-defined]
        conn = await aiosqlite.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        return _AsyncSQLite(conn)

    def begin(self, conn: Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # the write lock now: writers take turns, never deadlock

    def in_transaction(self, conn: Connection) -> bool:
        return bool(conn.in_transaction)  # type: ignore[attr-defined]

    def database_size(self, conn: Connection) -> int:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])

    def storage_size(self) -> int:
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def compact(self, conn: Connection) -> None:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def json_merge(self, column: str) -> str:
        return f"json_patch({column}, ?)"

    def json_text(self, column: str, field: str) -> str:
        return f"json_extract({column}, '$.{field}')"

    def json_number(self, column: str, field: str) -> str:
        return f"json_extract({column}, '$.{field}')"


class _AsyncSQLite:
    """aiosqlite, for reads: one connection on its own thread."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        try:
            async with self.conn.execute(sql, tuple(parameters)) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise DatabaseError(f"could not read {self.conn}: {exc}") from None

    async def close(self) -> None:
        await self.conn.close()

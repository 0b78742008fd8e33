"""PostgreSQL: one database many machines record into and read from.

``RecordingStore("postgresql://user:password@host:5432/recordings")``; needs the
``postgres`` extra (``pip install 'recorder[postgres]'``: psycopg 3). Each store holds one
connection, owned by its writer thread, as a SQLite store does.

A read-only engine's connections set ``default_transaction_read_only``, so the server
refuses any write, and never migrate: the database must be at this recorder's schema.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
import zlib
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_loads

from ...errors import DatabaseError
from ..engine import Connection, Cursor, Engine, redact, storable_parameters, storable_text
from .schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE

__all__ = ["PostgresEngine", "SCHEMA_VERSION"]

CONNECT_TIMEOUT_S = 10
# Advisory lock keys (any stable 64-bit numbers): migrations take turns; garbage collection
# excludes writers that are adding blobs (see Engine.lock_blobs).
_MIGRATION_LOCK = zlib.crc32(b"recorder:migrate")
_BLOBS_LOCK = zlib.crc32(b"recorder:blobs")
# deadlock_detected, serialization_failure: the transaction was given up for another's sake.
_RETRY_SQLSTATES = ("40P01", "40001")


class PostgresEngine(Engine):
    name = "postgresql"
    errors = (psycopg.Error,)

    def __init__(self, url: str, readonly: bool = False) -> None:
        super().__init__(_without_password(url), readonly)
        self.url = url
        self.target = url

    def connect(self) -> Connection:
        conn = self._connect()
        try:
            if self.readonly:
                conn.execute("SET default_transaction_read_only = on")
                self.check_schema(*_current_version(conn), SCHEMA_VERSION)
            else:
                _migrate(conn, self)
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot use {self.location} as a recorder database: {_first_line(exc)}") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def migrate(self) -> tuple[int, int]:
        conn = self._connect()
        try:
            return _migrate(conn, self), SCHEMA_VERSION
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot migrate {self.location}: {_first_line(exc)}") from None
        finally:
            conn.close()

    def _connect(self) -> _Connection:
        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                  row_factory=_rows, application_name="recorder")
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to {self.location}: {_first_line(exc)}") from None
        # jsonb comes back as its text, as SQLite's JSON does: the model parses it once.
        set_json_loads(_as_text, context=raw)
        return _Connection(raw)

    async def connect_async(self) -> _AsyncPostgres:
        from psycopg_pool import AsyncConnectionPool

        # Migrated and checked as a store would, with its clear errors (in a thread).
        await asyncio.to_thread(lambda: self.connect().close())  # type: ignore[attr-defined]

        readonly = self.readonly

        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            set_json_loads(_as_text, context=conn)
            if readonly:
                await conn.execute("SET default_transaction_read_only = on")

        pool = AsyncConnectionPool(
            self.url, min_size=1, max_size=4, open=False, configure=configure, name="recorder",
            kwargs={"autocommit": True, "row_factory": _rows, "connect_timeout": CONNECT_TIMEOUT_S,
                    "application_name": "recorder"})
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            await pool.close()
            raise DatabaseError(f"cannot connect to {self.location}: {_first_line(exc)}") from None
        return _AsyncPostgres(pool, self.location)

    def begin(self, conn: Connection) -> None:
        conn.execute("BEGIN")

    def in_transaction(self, conn: Connection) -> bool:
        return conn.raw.info.transaction_status != TransactionStatus.IDLE  # type: ignore[attr-defined]

    def is_disconnected(self, conn: Connection) -> bool:
        raw = conn.raw  # type: ignore[attr-defined]
        return bool(raw.closed or raw.broken)

    def database_size(self, conn: Connection) -> int:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])

    def storage_size(self) -> int:
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as raw:
                return int(raw.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to {self.location}: {_first_line(exc)}") from None

    def compact(self, conn: Connection) -> None:
        conn.execute("VACUUM")

    def json_merge(self, column: str) -> str:
        return f"recorder_json_patch({column}, CAST(? AS jsonb))"

    def json_text(self, column: str, field: str) -> str:
        return f"({column} ->> '{field}')"

    def json_number(self, column: str, field: str) -> str:
        return f"(CASE WHEN jsonb_typeof({column} -> '{field}') = 'number' THEN ({column} ->> '{field}')::numeric END)"

    def must_retry(self, error: BaseException) -> bool:
        # Writers in other processes lock the same rows (shared tiles, a run's row) in their
        # own transactions; the server breaks a deadlock by failing one of them.
        return getattr(error, "sqlstate", None) in _RETRY_SQLSTATES

    def lock_blobs(self, conn: Connection, exclusive: bool) -> None:
        # Held to the end of the transaction; shared between writers, exclusive for collection.
        conn.execute(f"SELECT pg_advisory_xact_lock{'' if exclusive else '_shared'}({_BLOBS_LOCK})")

    def describe_error(self, error: BaseException) -> str:
        return _first_line(error)


class _Connection:
    """A psycopg connection that takes recorder's ``?`` parameters."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        if parameters is None:
            return self.raw.execute(sql)  # type: ignore[return-value]
        return self.raw.execute(  # type: ignore[return-value]
            _placeholders(sql), storable_parameters(parameters, _storable))

    def executemany(self, sql: str, rows: Any) -> None:
        rows = [storable_parameters(row, _storable) for row in rows]
        if rows:  # psycopg sends them in one pipeline: a round trip for all, not one each
            with self.raw.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)

    def close(self) -> None:
        self.raw.close()


# A NUL written as JSON writes it (\u0000), unless its backslash is itself escaped: an odd
# run of backslashes before it means the text says "\u0000" literally.
_JSON_NUL = re.compile(r"(\\*)\\u0000")


def _storable(text: str) -> str:
    """Text PostgreSQL takes: no lone surrogates, and no NUL, which neither text nor jsonb
    (as ``\\u0000``) can hold; both become U+FFFD. The escape is looked for only in JSON
    (recorder's JSON parameters are objects or lists), so the six characters ``\\u0000``
    typed into a field are stored as they are."""
    text = storable_text(text)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text[:1] in ("{", "[") and "\\u0000" in text:
        text = _JSON_NUL.sub(lambda m: m[0] if len(m[1]) % 2 else m[1] + "\ufffd", text)
    return text


class _AsyncPostgres:
    """A small psycopg_pool of async connections, for reads that may run side by side."""

    def __init__(self, pool: Any, location: str) -> None:
        self.pool = pool
        self.location = location

    async def fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        try:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(_placeholders(sql), tuple(parameters))
                return list(await cursor.fetchall())
        except psycopg.Error as exc:
            raise DatabaseError(f"could not read {self.location}: {_first_line(exc)}") from None

    async def close(self) -> None:
        await self.pool.close()


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """``?`` -> ``%s``, a literal ``%`` doubled (recorder's SQL has no ``?`` inside strings)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Row(tuple):  # type: ignore[type-arg]
    """A row that indexes by position and by column name, as sqlite3.Row does."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: Any) -> Any:
    description = cursor.description
    if description is None:
        return tuple
    names = {column.name: index for index, column in enumerate(description)}
    row_class = type("Row", (_Row,), {"_names": names, "__slots__": ()})
    return lambda values: row_class(values)


def _as_text(data: str | bytes) -> str:
    return data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data


def _current_version(conn: _Connection) -> tuple[int | None, bool]:
    """The schema version (None without a schema_version table), and whether the schema
    has any table at all."""
    tables = {row[0] for row in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()}
    if "schema_version" not in tables:
        return None, bool(tables)
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]), True


def _migrate(conn: _Connection, engine: PostgresEngine) -> int:
    """Bring the database up to SCHEMA_VERSION, one process at a time; the version it had."""
    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        found, has_tables = _current_version(conn)
        engine.check_schema(found, has_tables, SCHEMA_VERSION)
        found = found or 0
        conn.execute(VERSION_TABLE)
        for number in range(found + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[number])
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                         (number, datetime.now(timezone.utc).isoformat()))
        conn.execute("COMMIT")
        return found
    except BaseException:
        if conn.raw.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError as exc:
        raise DatabaseError(f"not a database URL recorder can use: {exc}") from None
    return redact(url)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return re.sub(r"\s+", " ", text.splitlines()[0])

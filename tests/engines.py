"""SQL on either engine, for tests that look into (or tamper with) a recordings database
directly: ``target`` is what ``RecordingStore`` took, a SQLite file path or a
``postgresql://`` URL (the ``store_target`` fixture gives one of each).

SQL is written once, with ``?`` for parameters, in what both engines speak; for psycopg
``?`` becomes ``%s`` (and a literal ``%`` is doubled). Each call opens a connection, runs,
commits and closes, so nothing here holds a lock a store would wait for.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from recorder.storage import is_server_url


def is_postgres(target: str | os.PathLike[str]) -> bool:
    return is_server_url(target)


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def query(target: str | os.PathLike[str], sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows ``sql`` returns (tuples), after committing whatever it did."""
    if is_postgres(target):
        import psycopg

        with psycopg.connect(str(target), autocommit=True) as conn:
            cursor = conn.execute(_pg_sql(sql), tuple(params))  # type: ignore[arg-type]
            rows = cursor.fetchall() if cursor.description is not None else []
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]
    conn = sqlite3.connect(target)
    try:
        with conn:
            rows = conn.execute(sql, tuple(params)).fetchall()
        return [tuple(row) for row in rows]
    finally:
        conn.close()


def execute(target: str | os.PathLike[str], sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
    """Run one statement and commit it."""
    query(target, sql, params)


def scalar(target: str | os.PathLike[str], sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
    """The first column of the first row."""
    return query(target, sql, params)[0][0]


def tables(target: str | os.PathLike[str]) -> set[str]:
    """Names of the tables and views (of the current schema, on PostgreSQL)."""
    if is_postgres(target):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
    return {row[0] for row in query(target, sql)}


def iso_days_ago(days: float) -> str:
    """A time ``days`` ago as recorder stores times (ISO-8601, UTC, milliseconds)."""
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="milliseconds")


def refuse_updates(target: str | os.PathLike[str], name: str, table: str, column: str, message: str) -> None:
    """A trigger ``name`` that makes every UPDATE of ``table.column`` fail with ``message``
    (what a full disk does to that one write); ``drop_trigger`` removes it."""
    if is_postgres(target):
        execute(target, f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS"
                        f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$")
        execute(target, f"CREATE TRIGGER {name} BEFORE UPDATE OF {column} ON {table}"
                        f" FOR EACH ROW EXECUTE FUNCTION {name}()")
    else:
        execute(target, f"CREATE TRIGGER {name} BEFORE UPDATE OF {column} ON {table}"
                        f" BEGIN SELECT RAISE(ABORT, '{message}'); END")


def drop_trigger(target: str | os.PathLike[str], name: str, table: str) -> None:
    if is_postgres(target):
        execute(target, f"DROP TRIGGER {name} ON {table}")
        execute(target, f"DROP FUNCTION {name}()")
    else:
        execute(target, f"DROP TRIGGER {name}")


def make_read_only(engine_name: str, conn: Any) -> None:
    """Make a store's own connection refuse every later write (run it on the writer thread,
    outside a transaction: ``store._writer.call_outside_transaction``)."""
    if engine_name == "postgresql":
        conn.execute("SET default_transaction_read_only = on")
    else:
        conn.execute("PRAGMA query_only = ON")


# What a write refused by make_read_only says, per engine.
READ_ONLY_MESSAGE = {"sqlite": "readonly", "postgresql": "read-only transaction"}

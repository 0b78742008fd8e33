"""Reads written once for sync and async connections: a *query flow* is a generator that
yields ``(sql, parameters)`` and is sent back the rows, then returns its result.

The writer thread runs them on its connection (:func:`run`); ``AsyncRecordingStore`` on an
aiosqlite or psycopg async connection (:func:`run_async`). The same idea as the page flows
of recorder/_core.py, one level down.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Protocol, TypeVar

from .engine import Connection

T = TypeVar("T")
Query = tuple[str, Sequence[Any]]
QueryFlow = Generator[Query, list[Any], T]


class AsyncConnection(Protocol):
    async def fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]: ...

    async def close(self) -> None: ...


def rows(sql: str, parameters: Sequence[Any] = ()) -> QueryFlow[list[Any]]:
    """The flow of one query: its rows."""
    return (yield (sql, parameters))


def run(conn: Connection, flow: QueryFlow[T]) -> T:
    """Run a query flow on a sync connection (the writer thread's)."""
    try:
        query = next(flow)
        while True:
            query = flow.send(conn.execute(*query).fetchall())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_async(conn: AsyncConnection, flow: QueryFlow[T]) -> T:
    """Run a query flow on an async connection."""
    try:
        query = next(flow)
        while True:
            query = flow.send(await conn.fetchall(*query))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]

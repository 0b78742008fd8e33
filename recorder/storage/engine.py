"""What differs between the database engines recorder stores into, named in one place.

Everything else in recorder/storage (the repository's SQL, the blob store, the writer
thread) is written once, in SQL both engines speak, with ``?`` for parameters. An engine
(one folder each: ``sqlite/``, ``postgres/``) supplies the connection, its migrations, and
the few expressions that differ, much as a Django database backend supplies its
``operations`` and ``features``.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..errors import DatabaseError
from ..urls import without_passwords

# A UTF-16 surrogate on its own: a page's text can hold one (JavaScript strings are UTF-16
# and need not be well formed), and cutting a string between an emoji's two halves leaves
# one. Neither engine stores it (UTF-8 cannot encode it); valid pairs arrive in Python as
# one character, so any surrogate left is a lone one.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, as a browser shows it."""
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)


# A password given as a parameter: ``?password=...`` / ``&password=...`` in a URL's query,
# ``password=...`` (or ``password='...'``) in libpq's keyword/value form.
def redact(target: str) -> str:
    """A database URL (or any text naming one) with every password in it replaced by ``***``,
    for messages: ``user:password@`` and a ``password=`` parameter, in a URL's query or in
    libpq's keyword/value form (urls.without_passwords)."""
    return without_passwords(target, "***")


def storable_json(value: Any, compact: bool = False) -> str:
    """``value`` as the JSON text recorder stores, the same for every engine: NaN and
    ±Infinity (which Python's json writes, SQLite keeps and PostgreSQL's jsonb refuses: they
    are not JSON) become null; anything else json cannot write, its ``str``."""
    separators = (",", ":") if compact else None
    try:
        return json.dumps(value, ensure_ascii=False, default=str, separators=separators, allow_nan=False)
    except ValueError:  # (rare: only then is the value walked)
        return json.dumps(_finite(value), ensure_ascii=False, default=str, separators=separators)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def storable_parameters(parameters: Any, clean: Callable[[str], str] = storable_text) -> tuple[Any, ...]:
    """A statement's parameters with their text made storable (``clean``: the engine's own rule)."""
    return tuple(clean(value) if isinstance(value, str) else value for value in parameters)


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The slice of a DB-API connection recorder uses: ``execute`` with ``?`` parameters,
    rows that index by position and by column name."""

    def execute(self, sql: str, parameters: Any = ...) -> Cursor: ...

    def executemany(self, sql: str, rows: Any) -> Any: ...

    def close(self) -> None: ...


class Engine(ABC):
    """One database: how to connect, migrate, and say what differs."""

    name: str  # "sqlite" | "postgresql"
    # The driver's exception classes: a write that raises one of these was refused by the
    # database (disk full, server gone), not a bug of recorder's.
    errors: tuple[type[BaseException], ...]
    # Whether the whole transaction is lost when one statement in it fails (PostgreSQL) or
    # only that statement (SQLite, unless it was a disk error).
    statement_error_aborts_transaction: bool = False

    def __init__(self, location: str, readonly: bool = False) -> None:
        self.location = location  # a file path, or a URL without its password: for messages
        # What opens this database again from anywhere in the process: the absolute file path,
        # the URL with its password (set by each engine).
        self.target = location
        # Read-only: connections write nothing (never migrate, refuse every write) and are
        # refused on a schema other than this recorder's (see migrate_hint).
        self.readonly = readonly

    @abstractmethod
    def connect(self) -> Connection:
        """A new connection to a database brought up to date (created and migrated if
        needed); raises ``DatabaseError`` naming the problem. A read-only engine's
        connection writes nothing: the database must exist at this recorder's schema."""

    @abstractmethod
    def migrate(self) -> tuple[int, int]:
        """Bring the database up to this recorder's schema now; (version before, after)."""

    def migrate_hint(self, version: int, current: int) -> str:
        """What a read-only opening of a database at an older schema says."""
        target = self.location if " " not in self.location else f"'{self.location}'"
        return (f"{self.location} has schema version {version}, older than this recorder's ({current}); reading"
                f" never changes a database, so upgrade it first with: recorder migrate {target}")

    def check_schema(self, version: int | None, has_tables: bool, current: int) -> None:
        """Refuse, naming why, a database this recorder cannot use: one with tables but no
        ``schema_version`` table (another application's), or at a newer schema than
        ``current``. A read-only engine, which cannot migrate, also refuses one without
        recorder tables and one at an older schema. ``version`` is the newest applied
        migration, None without a ``schema_version`` table. (Both engines, writing and
        reading, decide here; each reads the version its own way.)"""
        if version is None and has_tables:
            raise DatabaseError(f"{self.location} has tables but no schema_version table: it is not a recorder"
                                " database; pass another --db")
        if version is not None and version > current:
            raise DatabaseError(f"{self.location} has schema version {version}, newer than this recorder understands"
                                f" (version {current}); upgrade recorder to read it")
        if self.readonly and version is None:
            raise DatabaseError(f"{self.location} has no recorder tables: it is not a recordings database yet")
        if self.readonly and version is not None and version < current:
            raise DatabaseError(self.migrate_hint(version, current))

    @abstractmethod
    async def connect_async(self) -> Any:
        """An async connection for reads (storage/queries.py ``AsyncConnection``) to a
        database brought up to date as ``connect`` does; raises ``DatabaseError``."""

    @abstractmethod
    def begin(self, conn: Connection) -> None:
        """Start a write transaction (writers take turns)."""

    @abstractmethod
    def in_transaction(self, conn: Connection) -> bool: ...

    def is_disconnected(self, conn: Connection) -> bool:
        """Whether the connection itself is lost (a server gone), rather than a write refused."""
        return False

    def must_retry(self, error: BaseException) -> bool:
        """Whether the database gave up the whole transaction so that another could go on
        (a deadlock, a serialization failure): running it again is the cure, not a refusal.
        SQLite's writers take turns (BEGIN IMMEDIATE), so it never does."""
        return False

    def rollback(self, conn: Connection) -> None:
        if self.in_transaction(conn):
            try:
                conn.execute("ROLLBACK")
            except self.errors:
                if not self.is_disconnected(conn):
                    raise  # (a lost connection has nothing left to roll back)

    def rollback_after_failure(self, conn: Connection) -> None:
        """Roll back what a failed write left open, where that failure is already being
        dealt with: a rollback refused too (the same full disk) leaves nothing more to do."""
        try:
            self.rollback(conn)
        except self.errors:
            pass

    @abstractmethod
    def database_size(self, conn: Connection) -> int:
        """Bytes the database takes (for ``max_bytes``)."""

    @abstractmethod
    def storage_size(self) -> int:
        """Bytes on disk, as ``vacuum`` reports before and after (without a connection)."""

    @abstractmethod
    def compact(self, conn: Connection) -> None:
        """Give freed space back (outside any transaction)."""

    def storage_gone(self) -> str | None:
        """Why what the connection writes to is no longer where the store was opened (a
        file deleted or replaced meanwhile); None while it is."""
        return None

    def release_free_pages(self, conn: Connection) -> None:
        """Give back what deleted rows left free, cheaply, as a store closes (outside any
        transaction). Engines that reuse or return free space themselves do nothing."""

    @abstractmethod
    def json_merge(self, column: str) -> str:
        """An SQL expression: the JSON object in ``column`` with a JSON object parameter
        (``?``, as text) merged in (RFC 7386: nested objects merge, null removes a key)."""

    @abstractmethod
    def json_text(self, column: str, field: str) -> str:
        """An SQL expression: a top-level field of the JSON object in ``column``, as text
        (NULL when absent)."""

    @abstractmethod
    def json_number(self, column: str, field: str) -> str:
        """An SQL expression: a top-level numeric field of ``column`` as a number."""

    def lock_blobs(self, conn: Connection, exclusive: bool) -> None:
        """Within the current transaction, keep blobs from being added (``exclusive``: by
        garbage collection) and collected (not exclusive: by a writer) at the same time.
        SQLite's writers already take turns; PostgreSQL's do not."""

    def describe_error(self, error: BaseException) -> str:
        return str(error).strip()

"""Reading recordings from async code without blocking its event loop.

    async with AsyncRecordingStore("recordings.db") as store:      # or "postgresql://..."
        for recording in await store.list(limit=10):
            actions = await recording.timeline()
        picture = await store.blob(actions[-1]["screenshot_key"])

SQLite is read through aiosqlite, PostgreSQL through a small psycopg_pool of async
connections; the queries are the sync store's own (recorder/storage/queries.py), so both
return the same shapes: ``AsyncRecording`` has ``Recording``'s attributes and its reading
methods as coroutines. Recording itself stays with ``record()`` (its writes never wait on
the database in the page's path) and ``RecordingStore``.
"""

from __future__ import annotations

import builtins
import os
from typing import Any, TypeVar

from .errors import RecorderError, RecordingNotFound
from .model import Owner
from .storage import open_engine
from .storage.queries import AsyncConnection, QueryFlow, run_async
from .storage.repository import Repository, owner_columns
from .storage.blobstore import BlobStore
from .store import (
    RecordingFields, Run, as_read, default_db, find_recordings, find_run, find_run_tests, owner_view, visible_blob,
)

__all__ = ["AsyncRecordingStore", "AsyncRecording"]

T = TypeVar("T")

_INT64 = range(-(2**63), 2**63)


class AsyncRecordingStore:
    """A recordings database (a SQLite file or a ``postgresql://`` URL) read from async code.

    Open it with ``async with``, or ``await store.open()`` and ``await store.close()``.
    ``readonly=True`` opens it as ``RecordingStore(..., readonly=True)`` does: nothing is
    written, not even a migration (an older schema is refused, naming ``recorder migrate``).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False) -> None:
        self.engine = open_engine(path if path is not None else default_db(), readonly=readonly)
        self.location = self.engine.location
        self._repo = Repository(self.engine, BlobStore(self.engine))
        self._conn: AsyncConnection | None = None
        self.owner: Owner | None = None

    async def open(self) -> AsyncRecordingStore:
        if self._conn is None:
            self._conn = await self.engine.connect_async()
        return self

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> AsyncRecordingStore:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def for_owner(self, user_id: str | int | None = None, account_id: str | int | None = None) -> AsyncRecordingStore:
        """A view that sees only this owner's recordings and their blobs (as
        ``RecordingStore.for_owner``: every method enforces it)."""
        return owner_view(self, user_id, account_id)

    def _owner(self) -> dict[str, str] | None:
        return owner_columns(self.owner)

    async def _read(self, flow: QueryFlow[T]) -> T:
        if self._conn is None:
            raise RecorderError("the store is not open: use `async with AsyncRecordingStore(...)` or `await open()`")
        return await run_async(self._conn, flow)

    async def list(self, status: str | None = None, limit: int | None = None,
                   run_id: str | None = None) -> list[AsyncRecording]:
        """Recordings, newest first, optionally only those with ``status``, or of the run ``run_id``."""
        # (this store marks no recording interrupted: rows read as a read-only store's do)
        rows = await self._read(find_recordings(self._repo, self._owner(), status, limit, run_id, read_only=True))
        return [AsyncRecording(self, row) for row in rows]

    async def get(self, recording_id: int) -> AsyncRecording:
        """The recording with this id; raises ``RecordingNotFound``."""
        if not isinstance(recording_id, int) or recording_id not in _INT64:
            raise RecordingNotFound(f"no recording with id {recording_id!r} in {self.location}")
        row = await self._read(self._repo.recording(recording_id, self._owner()))
        if row is None:
            raise RecordingNotFound(f"no recording with id {recording_id} in {self.location}")
        return AsyncRecording(self, as_read(row))

    async def get_by_uid(self, uid: str) -> AsyncRecording:
        row = await self._read(self._repo.recording_by_uid(uid, self._owner()))
        if row is None:
            raise RecordingNotFound(f"no recording with uid {uid!r} in {self.location}")
        return AsyncRecording(self, as_read(row))

    async def blob(self, key: str) -> bytes:
        """A DOM snapshot's HTML as captured, or a screenshot as a JPEG (as ``RecordingStore.blob``)."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"a blob key is a non-empty string, not {key!r}")
        return await self._read(self._visible_blob(key, self._repo.blobs.read(key)))

    async def blob_info(self, key: str) -> dict[str, Any]:
        """Media type and sizes of a blob (of this store's owner's recordings, if scoped)."""
        return await self._read(self._visible_blob(key, self._repo.blobs.info(key)))

    async def runs(self, limit: int | None = None) -> builtins.list[Run]:
        """Runs (pytest sessions), newest first (those holding this store's owner's
        recordings, if scoped), as ``RecordingStore.runs``."""
        return [Run.from_row(row) for row in await self._read(self._repo.runs(self._owner(), limit))]

    async def get_run(self, run_id: str) -> Run:
        """The run with this id, or the one run whose id starts so (4 characters at least);
        raises ``RunNotFound``."""
        return await self._read(find_run(self._repo, self._owner(), self.owner, self.location, run_id))

    async def last_run(self) -> Run | None:
        """The latest run, or None when there is none."""
        found = await self.runs(limit=1)
        return found[0] if found else None

    async def run_tests(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """A run's tests as the pytest plugin stored them, by node id (the run found as
        ``get_run`` finds it)."""
        return await self._read(find_run_tests(self._repo, self._owner(), self.owner, self.location, run_id))

    def _visible_blob(self, key: str, flow: QueryFlow[T]) -> QueryFlow[T]:
        return visible_blob(self._repo, self._owner(), self.owner, self.location, key, flow)


class AsyncRecording(RecordingFields):
    """A recording read by ``AsyncRecordingStore``: ``Recording``'s attributes, its reads as
    coroutines."""

    def __init__(self, store: AsyncRecordingStore, row: dict[str, Any]) -> None:
        self.store = store
        self._load(row)

    async def timeline(self, after_sequence: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The recorded actions ordered by sequence (as ``Recording.timeline``)."""
        return await self.store._read(self.store._repo.actions(self.id, after_sequence, limit))

    async def events(self, kind: str | None = None, action: int | None = None) -> list[dict[str, Any]]:
        return await self.store._read(self.store._repo.events(self.id, kind, action))

    async def event_counts(self) -> dict[int | None, dict[str, int]]:
        return await self.store._read(self.store._repo.event_counts(self.id))

    async def resources(self) -> dict[str, dict[str, Any]]:
        return await self.store._read(self.store._repo.resources(self.id))

    async def sources(self) -> dict[str, dict[str, Any]]:
        return await self.store._read(self.store._repo.sources(self.id))

    async def refresh(self) -> AsyncRecording:
        row = await self.store._read(self.store._repo.recording(self.id, self.store._owner()))
        if row is None:
            raise RecordingNotFound(f"recording {self.id} is no longer in {self.store.location}")
        self._load(as_read(row))
        return self

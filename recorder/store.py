"""The recording model and its storage: ``RecordingStore``, ``Recording``, ``Action``.

The semantics follow ActiveAgent's Dashboard ``SessionRecording`` (start, record_action,
complete, fail, timeline), with the snapshot bytes actually kept::

    store = RecordingStore("recordings.db")
    recording = store.start(name="checkout_flow")
    recording.record_action("click", selector='get_by_role("button", name="Pay")',
                            screenshot=png_bytes, dom_snapshot=html_bytes)
    recording.complete()
    for action in recording.timeline():
        print(action["sequence"], action["type"], action["selector"])
    store.close()

This module is the model, the same whatever database holds it: a SQLite file (the
default) or a PostgreSQL server (``RecordingStore("postgresql://...")``). How it is
stored lives in recorder/storage/: the SQL (repository.py), the blobs (blobstore.py), the
writer thread (writer.py) and one folder per engine. All database work runs on the writer
thread, which owns the connection: ``record_action`` only queues the write and returns, so
a page being recorded never waits for the database, and the same store serves sync and
async callers alike. Reads are queued behind the writes, so a reader always sees what this
process recorded before it asked.
"""

from __future__ import annotations

import bisect
import builtins
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import blobs
from .errors import ReadOnlyStore, RecorderError, RecordingClosed, RecordingNotFound, RunNotFound
from .model import (
    AgentRun, Owner, SandboxSession, as_agent_run, as_owner, as_sandbox_session, check_action_type,
    generate_name, is_demo_name, is_user_session_name, user_session_name, utc_time,
)
from .storage import open_engine
from .storage.blobstore import BlobStore
from .storage.engine import Connection, storable_json
from .storage.queries import QueryFlow, run
from .storage.repository import (
    ACTION_SNAPSHOT_COLUMNS, Repository, is_running, now_iso, owner_columns, process_token, row_dict,
)
from .storage.validate import EVENT_KINDS, STATUSES, check_restorable
from .storage.writer import RecorderWarning, Writer

if TYPE_CHECKING:
    from .async_store import AsyncRecordingStore

__all__ = ["Action", "Recording", "RecordingStore", "Run", "RecorderWarning", "default_db", "DEFAULT_DB",
           "MAX_VALUE_CHARS", "STATUSES", "EVENT_KINDS"]

T = TypeVar("T")

DEFAULT_DB = "recordings.db"
MAX_VALUE_CHARS = 1_000_000
# Start times of the latest actions a live recording keeps, to place what the browser stamped
# (Recording.when): an event arrives within seconds of its stamp, a few actions at most.
ACTIONS_BEGUN_REMEMBERED = 1024


def default_db() -> str:
    """``$RECORDER_DB`` (a SQLite file or a ``postgresql://`` URL) if set, else ``./recordings.db``."""
    return os.environ.get("RECORDER_DB") or DEFAULT_DB


@dataclass
class Action:
    """One recorded action, as ``record_action`` returns it (the database id comes later)."""

    recording_id: int
    sequence: int
    type: str
    timestamp_ms: int
    duration_ms: int | None = None
    selector: str | None = None
    value: str | None = None
    url: str | None = None
    status: str = "ok"
    error: str | None = None
    screenshot_key: str | None = None
    dom_snapshot_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


RUN_COUNTS = ("passed", "failed", "skipped", "errors", "flaky", "reruns")


@dataclass
class Run:
    """One pytest session (a run), as the ``runs`` table has it; its recordings have its
    ``id`` as their ``run_id``. ``ended_at`` is None while it runs (or if it died)."""

    id: str
    started_at: str
    ended_at: str | None = None
    exit_status: int | None = None
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    flaky: int = 0
    reruns: int = 0
    workers: int = 1
    git_commit: str | None = None
    git_branch: str | None = None
    ci_name: str | None = None
    ci_build_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    recordings: int = 0  # of this store's owner, if scoped

    @classmethod
    def from_row(cls, row: Any) -> Run:
        data = row_dict(row)
        data["metadata"] = json.loads(data.get("metadata") or "{}")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RecordingStore:
    """A recordings database: start recordings, find them, read their blobs.

    ``path`` defaults to ``$RECORDER_DB``, else ``./recordings.db``; the file and its tables
    are created on first use, and a database made by an older recorder is migrated. A
    store can be used as a context manager, which closes it.

    ``readonly=True`` opens an existing database to read it and nothing else: nothing is
    written (a SQLite file's bytes and mtime stay as they were, and no ``-wal``/``-shm``
    appears beside a cleanly closed one), it is never migrated (an older schema is refused
    with a ``DatabaseError`` naming ``recorder migrate``), recordings whose process died are
    shown ``interrupted`` without being marked so, and every write (``start``, ``restore``,
    ``delete``, ``prune``, ``vacuum``, recording into a recording) raises ``ReadOnlyStore``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, max_bytes: int | None = None,
                 readonly: bool = False) -> None:
        self.readonly = readonly
        self.engine = open_engine(path if path is not None else default_db(), readonly=readonly)
        self.location = self.engine.location  # the file, or the URL without its password
        # The file of a SQLite store (None for a server's).
        self.path: Path | None = getattr(self.engine, "path", None)
        self._blobs = BlobStore(self.engine, max_bytes)
        self._repo = Repository(self.engine, self._blobs)
        # A reader does no idle work (tiling writes) and marks nothing interrupted.
        self._writer = Writer(self.engine, idle=None if readonly else self._blobs.tile_next,
                              setup=None if readonly else self._repo.mark_interrupted,
                              report_losses=None if readonly else self._repo.note_losses,
                              before_close=None if readonly else self.engine.release_free_pages)
        self._blobs.warn = self._writer.warn
        self.owner: Owner | None = None  # set on the views for_owner() returns
        self._reads_after_close = False  # see close()
        # Screenshots attached to (recording, sequence) before that action's row was
        # written: a frame can arrive while the action is still being captured.
        self._early_screenshots: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}  # -> key, metadata patch

    @property
    def max_bytes(self) -> int | None:
        """Past this database size, screenshots are no longer stored (actions still are)."""
        return self._blobs.max_bytes

    # -- lifecycle -------------------------------------------------------------------

    def close(self, *, keep_reading: bool = False) -> None:
        """Write everything queued, then close the database.

        ``keep_reading``: the recordings this store handed out can still be read (each read
        then opens the database read-only for its length). record() closes a store it
        opened itself so, for ``page.recording.timeline()`` after the block.
        """
        self._writer.close()
        self._reads_after_close = self._reads_after_close or keep_reading

    def flush(self, *, tiled: bool = True) -> None:
        """Block until every write queued so far is committed.

        Screenshots are committed as captured and cut into tiles (see recorder/tiles.py)
        when the writer has nothing else to do; ``flush`` waits for that too unless
        ``tiled=False``. Either way what was queued is on disk when it returns.
        """
        self._writer.call(lambda conn: None)
        if tiled:
            self._writer.call_outside_transaction(self._blobs.tile_all)

    def __enter__(self) -> RecordingStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- recordings ------------------------------------------------------------------

    def start(
        self,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        agent_run: AgentRun | dict[str, Any] | None = None,
        sandbox_session: SandboxSession | dict[str, Any] | None = None,
        owner: Owner | dict[str, Any] | str | None = None,
        parent_id: int | None = None,
        run_id: str | None = None,
    ) -> Recording:
        """Start a recording (status ``recording``).

        ``run_id`` makes it one of a run's (see ``start_run``); that run must be stored.

        ``agent_run`` and ``sandbox_session`` are references (``AgentRun(id, agent_name)``
        or a dict). The name defaults to the agent's name, else the sandbox template's,
        parameterized, else ``session``, then ``_<YYYYmmdd_HHMMSS>``. ``owner`` (an
        ``Owner``, a dict, or a user id) defaults to this store's owner if scoped; on a
        scoped store it may only complete that owner (a user of the scoped account), and
        ``parent_id`` must be one of its recordings: anything else raises.
        """
        self._check_writable("start a recording")
        run, sandbox = as_agent_run(agent_run), as_sandbox_session(sandbox_session)
        owner_ = self._owner_within_scope(as_owner(owner))
        if owner_ is None and self.owner is not None:
            raise ValueError(f"this store is scoped to {_describe_owner(self.owner)}: it cannot start a recording"
                             f" for {_describe_owner(as_owner(owner))}")
        if parent_id is not None and self.owner is not None:
            self.get(parent_id)  # a scoped store links only to its owner's recordings
        started = datetime.now(timezone.utc)
        row = {
            "name": name or generate_name(run, sandbox, started.astimezone()),
            "status": "recording", "started_at": started.isoformat(timespec="milliseconds"),
            "metadata": _json(dict(metadata or {})),
            "agent_run_id": run.id if run else None, "agent_name": run.agent_name if run else None,
            "sandbox_session_id": sandbox.id if sandbox else None,
            "sandbox_template": sandbox.template_name if sandbox else None,
            "owner_user_id": owner_.user_id if owner_ else None,
            "owner_account_id": owner_.account_id if owner_ else None,
            "parent_id": parent_id, "recorder_process": process_token(), "uid": uuid.uuid4().hex,
            "run_id": run_id,
        }

        row.update(id=self._writer.call(lambda conn: self._repo.insert_recording(conn, row)), completed_at=None, failed_at=None, duration_ms=None,
                   action_count=0, error=None)
        return Recording(self, row, live=True)

    def start_user_session(
        self,
        visitor_id: str | None = None,
        parent_demo_id: int | str | None = None,
        page_url: str | None = None,
        *,
        owner: Owner | dict[str, Any] | str | None = None,
        parent_id: int | None = None,
    ) -> Recording:
        """Start a user-takeover session: a person driving the browser, not an agent.

        Named ``user_takeover_<YYYYmmdd_HHMMSS>_<8 hex>``; its metadata says
        ``session_type: "user_takeover"`` with the visitor, the demo it came from and the
        page, and ``user_agent`` (filled in when a page is recorded into it).
        """
        started = datetime.now(timezone.utc).astimezone()
        metadata = {"session_type": "user_takeover", "visitor_id": visitor_id, "parent_demo_id": parent_demo_id,
                    "page_url": page_url, "user_agent": None}
        return self.start(user_session_name(started), metadata, owner=owner, parent_id=parent_id)

    def for_owner(self, user_id: str | int | None = None, account_id: str | int | None = None) -> RecordingStore:
        """A view of this store that sees, starts, changes and deletes only this owner's
        recordings: every method enforces the scope.

            mine = store.for_owner(user_id=42)
            mine.list()          # only user 42's recordings
            mine.get(other_id)   # RecordingNotFound, even though it exists
            mine.delete(other_id)                # RecordingNotFound, and nothing deleted
            mine.blob(key_of_another_users_shot) # RecordingNotFound

        A blob is visible to the view when one of the owner's recordings uses it (an
        action's screenshot or DOM snapshot, a resource, a source file). ``restore`` stores
        a recording as the owner's (see there); ``stats``, ``prune`` and ``push`` see only
        the owner's recordings; ``vacuum`` (the whole database's) is refused. A view of a
        view narrows it: it must stay inside the first owner. Without ``user_id`` and
        ``account_id`` this raises ``ValueError`` (a view of no one is not a view of all).
        """
        return owner_view(self, user_id, account_id)

    def _owner(self) -> dict[str, str] | None:
        return owner_columns(self.owner)

    def _owner_within_scope(self, owner: Owner | None) -> Owner | None:
        """``owner`` with what it leaves out filled in from this store's scope; the scope's
        owner for None; None when it names another owner than the scope's."""
        return _within(self.owner, owner)

    def _visible_blob(self, key: str, flow: QueryFlow[T]) -> QueryFlow[T]:
        """``flow`` (a read of the blob ``key``), after checking that a scoped store's owner
        uses that blob; another owner's blob is as absent as one that does not exist."""
        return (yield from visible_blob(self._repo, self._owner(), self.owner, self.location, key, flow))

    def get(self, recording_id: int) -> Recording:
        """The recording with this id; raises ``RecordingNotFound``."""
        if not isinstance(recording_id, int) or recording_id not in _INT64:
            raise RecordingNotFound(f"no recording with id {recording_id!r} in {self.location}")
        row = self._read(self._repo.recording(recording_id, self._owner()))
        if row is None:
            scope = f" for {_describe_owner(self.owner)}" if self.owner else ""
            raise RecordingNotFound(f"no recording with id {recording_id}{scope} in {self.location}")
        return self._recording(row)

    def _recording(self, row: Any) -> Recording:
        # A reader only says what a writer opening the database marks (see as_read).
        return Recording(self, as_read(row) if self.readonly else row_dict(row), live=False)

    def _check_writable(self, what: str) -> None:
        if self.readonly:
            raise ReadOnlyStore(f"cannot {what}: {self.location} was opened read-only (readonly=True);"
                                " open RecordingStore without readonly to write")

    def get_by_uid(self, uid: str) -> Recording:
        """The recording with this uid (its identity in every store it was pushed to);
        raises ``RecordingNotFound``."""
        row = self._read(self._repo.recording_by_uid(uid, self._owner()))
        if row is None:
            raise RecordingNotFound(f"no recording with uid {uid!r} in {self.location}")
        return self._recording(row)

    def list(self, status: str | None = None, limit: int | None = None, run_id: str | None = None) -> list[Recording]:
        """Recordings, newest first, optionally only those with ``status``, or of the run ``run_id``."""
        rows = self._read(find_recordings(self._repo, self._owner(), status, limit, run_id, read_only=self.readonly))
        return [Recording(self, row, live=False) for row in rows]

    def blob(self, key: str) -> bytes:
        """The bytes of a stored DOM snapshot, or a screenshot as a JPEG image.

        DOM snapshots come back exactly as captured. Screenshots are stored as tiles
        (see recorder/tiles.py) and come back composed into one JPEG; one not tiled yet
        comes back as the JPEG that was captured.
        """
        if not isinstance(key, str) or not key:
            raise ValueError(f"a blob key is a non-empty string (an action's screenshot_key or dom_snapshot_key), not {key!r}")

        return self._read(self._visible_blob(key, self._blobs.read(key)))

    def blob_info(self, key: str) -> dict[str, Any]:
        """Media type (as ``blob()`` returns it) and sizes of a blob, without its bytes."""
        return self._read(self._visible_blob(key, self._blobs.info(key)))

    def stored_blob(self, key: str) -> bytes:
        """A blob's bytes as stored, before tiles are composed: a screenshot's tile manifest
        (recorder/tiles.py), a DOM snapshot's HTML."""
        return self._read(self._visible_blob(key, self._blobs.read_stored(key)))

    def is_action_snapshot(self, key: str) -> bool:
        """Whether some action's screenshot or DOM snapshot is the blob ``key`` (of this
        store's owner's recordings, if scoped)."""
        if self.owner is not None:
            return self._read(self._repo.blob_used_by(key, self._owner(), ACTION_SNAPSHOT_COLUMNS))
        return self._read(self._repo.is_action_snapshot(key))

    def delete(self, recording_id: int) -> int:
        """Delete a recording, its actions, and the blobs nothing else uses; return blobs freed.

        A blob stays while any other action refers to it, directly or as the base of a
        delta-compressed blob.
        """

        self._check_writable("delete a recording")
        owner = self._owner()
        freed = self._writer.call(lambda conn: self._repo.delete_recording(conn, recording_id, owner))
        if freed is None:
            scope = f" for {_describe_owner(self.owner)}" if self.owner else ""
            raise RecordingNotFound(f"no recording with id {recording_id}{scope} in {self.location}")
        self._writer.submit(lambda conn: self._blobs.recording_ended(recording_id))
        return freed

    def restore(self, recording: dict[str, Any], timeline: Sequence[dict[str, Any]], snapshots: dict[str, bytes],
                resources: Sequence[dict[str, Any]] | None = None, events: Sequence[dict[str, Any]] | None = None,
                sources: Sequence[dict[str, Any]] | None = None, keep_uid: bool = False) -> Recording:
        """Store a recording read from elsewhere (see recorder.exchange) under a new id.

        It keeps its ``uid`` unless the database has a recording with that uid already: then
        it is stored as a copy under a new uid, or, ``keep_uid``, not at all: ``RecordingExists``
        (what ``recorder push`` skips; two processes storing the same one at once store it once).

        ``snapshots`` holds the bytes by key: of the actions' screenshots and DOM
        snapshots, of ``resources``, the stylesheets, images and fonts its snapshots
        use (``{url, media_type, key[, size, sequence]}`` each, as ``Recording.resources()``
        lists them), and of ``sources``, the text of the files its calls were made from
        (``{path, key[, size]}`` each, size in characters); a blob the database already has
        is not stored again. ``events`` are as ``Recording.events()`` gives them.

        Everything is checked first (a ``ValueError`` names what is wrong), so a bad
        cassette stores nothing and cannot poison what is imported after it.

        On a store scoped with ``for_owner`` the recording is stored as the scope's owner's:
        an owner the cassette claims inside the scope is kept (what the scope leaves open,
        such as the user of a scoped account, filled in from the cassette); any other, or
        none, becomes the scope's owner. And a screenshot key the database already holds for
        another owner is not taken on trust (screenshots cannot be checked against their
        key): those bytes are stored under their own hash instead, so a cassette cannot
        reach another owner's screenshot by naming its key.
        """
        self._check_writable("restore a recording")
        resources = list(resources or [])
        events = list(events or [])
        sources = list(sources or [])
        check_restorable(recording, timeline, snapshots, resources, events, sources)
        columns = ("name", "status", "started_at", "completed_at", "failed_at", "duration_ms", "error")
        row = {column: recording.get(column) for column in columns}
        for column in ("started_at", "completed_at", "failed_at"):
            if row[column] is not None:
                row[column] = utc_time(row[column])
        row["metadata"] = _json(recording.get("metadata") or {})
        run, sandbox, owner = (recording.get(k) or {} for k in ("agent_run", "sandbox_session", "owner"))
        if self.owner is not None:
            claimed = as_owner(owner) if owner.get("user_id") is not None or owner.get("account_id") is not None \
                else None
            kept = self._owner_within_scope(claimed) or self.owner
            owner = {"user_id": kept.user_id, "account_id": kept.account_id}
        row.update(agent_run_id=run.get("id"), agent_name=run.get("agent_name"),
                   sandbox_session_id=sandbox.get("id"), sandbox_template=sandbox.get("template_name"),
                   owner_user_id=owner.get("user_id"), owner_account_id=owner.get("account_id"),
                   uid=recording.get("uid"))
        # Kept one of its run's where this database has that run (recorder.push copies it first).
        run_id = recording.get("run_id")
        if isinstance(run_id, str) and self._read(self._repo.runs(run_id=run_id)):
            row["run_id"] = run_id
        if row["status"] == "recording":
            row["status"] = "interrupted"  # its recording process is not this one

        scope = self._owner()

        def store(conn: Connection) -> int:
            actions, data = timeline, snapshots
            if scope is not None:
                actions, data = self._rekey_foreign_screenshots(conn, scope, timeline, snapshots)
            return self._repo.restore(conn, row, actions, data, resources, events, sources, keep_uid)

        new_id = self._writer.call(store)
        self._writer.submit(lambda conn: self._blobs.recording_ended(new_id))
        return self.get(new_id)

    def _rekey_foreign_screenshots(self, conn: Connection, scope: dict[str, str], timeline: Sequence[dict[str, Any]],
                                   snapshots: dict[str, bytes]) -> tuple[Sequence[dict[str, Any]], dict[str, bytes]]:
        """Screenshots of a restore under a scope whose key the database holds, unseen by the
        scope, and which do not hash to that key: moved to the key of their own bytes."""
        moved: dict[str, str] = {}
        for action in timeline:
            key = action.get("screenshot_key")
            if not key or key in moved or key not in snapshots or blobs.blob_key(snapshots[key]) == key:
                continue
            if conn.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone() is None:
                continue
            if not run(conn, self._repo.blob_used_by(key, scope)):
                moved[key] = blobs.blob_key(snapshots[key])
        if not moved:
            return timeline, snapshots
        data = {**snapshots, **{new: snapshots[old] for old, new in moved.items()}}
        actions = [{**a, "screenshot_key": moved[a["screenshot_key"]]} if a.get("screenshot_key") in moved else a
                   for a in timeline]
        return actions, data

    def prune(self, older_than: timedelta, keep_failed: bool = False) -> tuple[int, int]:
        """Delete ended recordings started more than ``older_than`` ago; return (recordings, blobs) deleted.

        Recordings still recording are never pruned; with ``keep_failed``, neither are
        failed or interrupted ones.
        """
        self._check_writable("prune recordings")
        if older_than <= timedelta(0):
            raise ValueError(f"older_than must be a positive age, not {older_than}")
        try:
            cutoff = (datetime.now(timezone.utc) - older_than).isoformat(timespec="milliseconds")
        except OverflowError:
            return 0, 0  # older than the calendar goes: nothing is
        statuses = ("completed",) if keep_failed else ("completed", "failed", "interrupted")
        ids = self._writer.call(
            lambda conn: self._repo.recording_ids_started_before(conn, cutoff, statuses, self._owner()))
        freed = sum(self.delete(recording_id) for recording_id in ids)
        return len(ids), freed

    def vacuum(self) -> tuple[int, int, int]:
        """Delete every blob no action uses, then compact the file.

        Returns (blobs deleted, file bytes before, file bytes after). Blobs are normally
        freed with their recording; this also catches what a crash left behind.
        """
        self._check_writable("vacuum the database")
        if self.owner is not None:
            raise RecorderError(f"vacuum works on the whole database, not on the recordings of"
                                f" {_describe_owner(self.owner)}: call it on the store itself")
        before = self.engine.storage_size()
        self._writer.call_outside_transaction(self._blobs.tile_leftovers)
        deleted = self._writer.call(self._blobs.collect_garbage)
        self._writer.call_outside_transaction(self.engine.compact)
        return deleted, before, self.engine.storage_size()

    # -- runs ------------------------------------------------------------------------

    def start_run(self, run_id: str | None = None, *, started_at: str | None = None, workers: int = 1,
                  git_commit: str | None = None, git_branch: str | None = None, ci_name: str | None = None,
                  ci_build_url: str | None = None, metadata: dict[str, Any] | None = None) -> Run:
        """Store a run (a pytest session) unless one with ``run_id`` is stored already, then
        return the stored one: the xdist workers of one controller all attach to one run."""
        self._check_writable("start a run")
        new_id = run_id or uuid.uuid4().hex
        row = {"id": new_id, "started_at": started_at or now_iso(), "workers": workers,
               "git_commit": git_commit, "git_branch": git_branch, "ci_name": ci_name, "ci_build_url": ci_build_url,
               "metadata": _json(dict(metadata or {}))}
        self._writer.call(lambda conn: self._repo.begin_run(conn, row))
        return Run.from_row(self._read(self._repo.runs(run_id=new_id))[0])

    def finish_run(self, run_id: str, *, exit_status: int | None = None, workers: int | None = None,
                   ended_at: str | None = None, **counts: Any) -> Run:
        """Set a run's end, exit status and outcome counts (``passed``, ``failed``,
        ``skipped``, ``errors``, ``flaky``, ``reruns``); stores the run if it is not yet."""
        self._check_writable("finish a run")
        unknown = set(counts) - set(RUN_COUNTS)
        if unknown:
            raise ValueError(f"a run counts {', '.join(RUN_COUNTS)}, not {', '.join(sorted(unknown))}")
        row: dict[str, Any] = {"id": run_id, "started_at": now_iso(), "ended_at": ended_at or now_iso(),
                               "exit_status": exit_status, **{k: int(v) for k, v in counts.items()}}
        if workers is not None:
            row["workers"] = workers
        self._writer.call(lambda conn: self._repo.end_run(conn, row))
        return self.get_run(run_id)

    def record_run_tests(self, run_id: str, tests: Sequence[dict[str, Any]]) -> None:
        """Store every test of a run, recorded or not: ``nodeid``, ``outcome`` (passed,
        failed, skipped, flaky, error), ``attempts``, ``duration_ms``, ``message``, ``file``,
        ``line`` each; replaces the run's tests stored before."""
        self._check_writable("record a run's tests")
        rows = [{**test, "attempts": int(test.get("attempts") or 1)} for test in tests]
        self._writer.call(lambda conn: self._repo.put_run_tests(conn, run_id, rows))

    def run_tests(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """A run's tests as the pytest plugin stored them (empty for a run stored by a
        recorder older than schema 8), by node id. The run is found as ``get_run`` finds it:
        by its id or a prefix, and only among those a scoped store's owner sees."""
        return self._read(find_run_tests(self._repo, self._owner(), self.owner, self.location, run_id))

    def runs(self, limit: int | None = None) -> builtins.list[Run]:
        """Runs, newest first (those holding this store's owner's recordings, if scoped)."""
        return [Run.from_row(row) for row in self._read(self._repo.runs(self._owner(), limit))]

    def get_run(self, run_id: str) -> Run:
        """The run with this id, or the one run whose id starts so (4 characters at least);
        raises ``RunNotFound``."""
        return self._read(find_run(self._repo, self._owner(), self.owner, self.location, run_id))

    def last_run(self) -> Run | None:
        """The latest run, or None when there is none."""
        found = self.runs(limit=1)
        return found[0] if found else None

    def flaky_tests(self, runs: int | None = None) -> builtins.list[dict[str, Any]]:
        """Tests whose outcome differs between attempts (flaky in a run) or across runs
        (passed in one, failed in another), over the last ``runs`` runs or all: {test, runs,
        attempts, passed, failed, flaky, runs_failed, last_seen} each, flakiest first."""
        return self._read(self._repo.flaky_tests(self._owner(), runs))

    def slowest_selectors(self, runs: int | None = None, limit: int = 10) -> builtins.list[dict[str, Any]]:
        """Actions by selector, slowest on average first: {selector, actions, runs, avg_ms, max_ms}."""
        return self._read(self._repo.slowest_selectors(self._owner(), runs, limit))

    def stats(self) -> dict[str, builtins.list[dict[str, Any]]]:
        """Numbers over every recording (of this store's owner, if scoped), as ``recorder
        stats`` prints them: title -> rows."""
        return self._read(self._repo.stats(self._owner()))

    # -- used by Recording -----------------------------------------------------------

    def _submit(self, job: Callable[[Connection], T], urgent: bool = False,
                what: tuple[str, int] | None = None) -> Future[T]:
        self._check_writable("record into a recording")
        return self._writer.submit(job, urgent, what)

    def _call(self, job: Callable[[Connection], T]) -> T:
        return self._writer.call(job)

    def _read(self, flow: QueryFlow[T]) -> T:
        """Run a read (storage/queries.py) on the writer's connection, behind the writes queued."""
        if self._reads_after_close:
            with RecordingStore(self.engine.target, readonly=True) as reader:
                return reader._read(flow)
        return self._writer.call(lambda conn: run(conn, flow))


class RecordingFields:
    """What a recording's row says: ``id``, ``uid``, ``name``, ``status``, ``started_at``,
    ``completed_at``, ``failed_at``, ``interrupted_at``, ``duration_ms``, ``action_count``,
    ``error``, ``metadata``, ``agent_run``, ``sandbox_session``, ``owner``, ``parent_id``.
    Shared by ``Recording`` and ``AsyncRecording`` (recorder/async_store.py)."""

    def _load(self, row: dict[str, Any]) -> None:
        self.id: int = row["id"]
        self.name: str = row["name"]
        self.status: str = row["status"]
        self.started_at: str = row["started_at"]
        self.completed_at: str | None = row["completed_at"]
        self.failed_at: str | None = row["failed_at"]
        self.duration_ms: int | None = row["duration_ms"]
        self.action_count: int = row["action_count"]
        self.error: str | None = row["error"]
        self.user_metadata: dict[str, Any] = json.loads(row["metadata"] or "{}")
        self.agent_run = AgentRun(row["agent_run_id"], row["agent_name"]) if row.get("agent_run_id") else None
        self.sandbox_session = (SandboxSession(row["sandbox_session_id"], row["sandbox_template"])
                                if row.get("sandbox_session_id") else None)
        has_owner = row.get("owner_user_id") is not None or row.get("owner_account_id") is not None
        self.owner = Owner(row["owner_user_id"], row["owner_account_id"]) if has_owner else None
        self.parent_id: int | None = row.get("parent_id")
        self.interrupted_at: str | None = row.get("interrupted_at")
        # The same in every store it is copied to (recorder push); an id is one database's.
        self.uid: str | None = row.get("uid")
        # The run (pytest session) it was recorded in, if any.
        self.run_id: str | None = row.get("run_id")

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} id={self.id} name={self.name!r} status={self.status}"
                f" actions={self.action_count}>")

    @property
    def metadata(self) -> dict[str, Any]:
        stamps = {"started_at": self.started_at, "completed_at": self.completed_at,
                  "failed_at": self.failed_at, "interrupted_at": self.interrupted_at, "error": self.error}
        return {**self.user_metadata, **{k: v for k, v in stamps.items() if v is not None}}

    @property
    def is_recording(self) -> bool:
        return self.status == "recording"

    @property
    def is_demo_recording(self) -> bool:
        """A demo recording: named ``demo`` or ``lander_...``."""
        return is_demo_name(self.name)

    @property
    def is_user_session(self) -> bool:
        """A user-takeover session: named ``user_takeover_...``."""
        return is_user_session_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        """The recording's row as plain data (for JSON output)."""
        return {
            "id": self.id, "name": self.name, "status": self.status, "started_at": self.started_at,
            "completed_at": self.completed_at, "failed_at": self.failed_at, "duration_ms": self.duration_ms,
            "action_count": self.action_count, "error": self.error, "metadata": self.user_metadata,
            "agent_run": self.agent_run.__dict__ if self.agent_run else None,
            "sandbox_session": self.sandbox_session.__dict__ if self.sandbox_session else None,
            "owner": self.owner.__dict__ if self.owner else None, "parent_id": self.parent_id,
            "interrupted_at": self.interrupted_at, "uid": self.uid, "run_id": self.run_id,
        }


class Recording(RecordingFields):
    """One recorded session. Get one from ``RecordingStore.start``, ``get`` or ``list``.

    Attributes mirror the ``recordings`` table: ``id``, ``name``, ``status``,
    ``started_at``, ``completed_at``, ``failed_at``, ``duration_ms``, ``action_count``,
    ``error`` and ``metadata`` (the caller's metadata plus ``started_at``,
    ``completed_at``/``failed_at`` and ``error``, as in the seed model).
    """

    def __init__(self, store: RecordingStore, row: dict[str, Any], live: bool) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._load(row)
        # Timing is measured with a monotonic clock from when this process started the
        # recording; a recording loaded from disk is not recorded into by this process.
        self._started_monotonic = time.monotonic() if live else None
        self._started_epoch = time.time()
        self._next_sequence = self.action_count + 1
        # (start ms, sequence) of the latest actions begun here, in order (see when).
        self._begun: list[tuple[int, int]] = []
        # The least (arrival - stamp) of the browser-stamped events seen (see when).
        self._stamp_offset_ms: float | None = None

    def elapsed_ms(self) -> int:
        """Milliseconds since the recording started."""
        if self._started_monotonic is not None:
            return int((time.monotonic() - self._started_monotonic) * 1000)
        started = datetime.fromisoformat(self.started_at)
        return int((datetime.now(timezone.utc) - started).total_seconds() * 1000)

    # -- recording actions -----------------------------------------------------------

    def reserve_sequence(self) -> tuple[int, int]:
        """Claim the next sequence number and the start time (ms) of an action in flight.

        The page instrumentation claims the number when a call starts, so that a
        navigation caused by a click is numbered after the click. Every reserved number
        must then be written with ``record_action(..., sequence=n)``.
        """
        with self._lock:
            if not self.is_recording:
                raise RecordingClosed(f"Recording already {self.status}")
            sequence = self._next_sequence
            self._next_sequence += 1
            started = self.elapsed_ms()
            self._begun.append((started, sequence))
            if len(self._begun) > 2 * ACTIONS_BEGUN_REMEMBERED:
                del self._begun[:-ACTIONS_BEGUN_REMEMBERED]
            return sequence, started

    def when(self, epoch_seconds: float | None) -> tuple[int, int]:
        """(action sequence, ms since the recording started) of something the browser stamped
        with its wall-clock time: the latest action begun by then (0 before the first), and
        when; the latest action and now without a stamp. The browser's stamp, not when the
        event reached Python: the sync API hands events over only during its next call."""
        now = self.elapsed_ms()
        if not epoch_seconds or epoch_seconds <= 0:
            return self.last_sequence(), now
        stamped = (epoch_seconds - self._started_epoch) * 1000
        # The browser's clock need not be this machine's (a remote browser, a container):
        # the least delay seen between a stamp and its arrival stands for the difference of
        # the clocks plus the quickest delivery, and every stamp is moved by it.
        arrived_after = now - stamped
        if self._stamp_offset_ms is None or arrived_after < self._stamp_offset_ms:
            self._stamp_offset_ms = arrived_after
        at = max(0, min(now, int(stamped + self._stamp_offset_ms)))
        with self._lock:
            index = bisect.bisect_right(self._begun, (at, sys.maxsize))
            if index:
                return self._begun[index - 1][1], at
            return (self._begun[0][1] - 1 if self._begun else self._next_sequence - 1), at

    def record_action(
        self,
        action_type: str,
        selector: str | None = None,
        value: str | None = None,
        screenshot: bytes | None = None,
        dom_snapshot: bytes | str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        url: str | None = None,
        status: str = "ok",
        error: str | None = None,
        duration_ms: int | None = None,
        sequence: int | None = None,
        timestamp_ms: int | None = None,
    ) -> Action:
        """Record one action; returns at once, the write happens on the writer thread.

        ``sequence`` and ``timestamp_ms`` default to the next number and the time now.
        Raises ``RecordingClosed`` ("Recording already completed") once the recording
        has ended, and ``ValueError`` for a value that is not text or over 1,000,000
        characters.
        """
        self.store._check_writable("record an action")
        check_action_type(action_type)
        if value is not None:
            value = _check_value(value)
        if status not in ("ok", "error"):
            raise ValueError(f"status must be 'ok' or 'error', not {status!r}")
        if isinstance(dom_snapshot, str):
            dom_snapshot = dom_snapshot.encode("utf-8", "surrogatepass")
        if sequence is None:
            sequence, now_ms = self.reserve_sequence()
            timestamp_ms = now_ms if timestamp_ms is None else timestamp_ms
        action = Action(
            recording_id=self.id, sequence=sequence, type=action_type,
            timestamp_ms=timestamp_ms if timestamp_ms is not None else self.elapsed_ms(),
            duration_ms=duration_ms, selector=selector, value=value, url=url, status=status,
            error=error, metadata=dict(metadata or {}),
            screenshot_key=blobs.blob_key(screenshot) if screenshot else None,
            dom_snapshot_key=blobs.blob_key(dom_snapshot) if dom_snapshot else None,
        )
        with self._lock:
            self.action_count += 1
        store, repo, encoded_metadata = self.store, self.store._repo, _json(action.metadata)

        # The row first, in the writer's urgent lane: committed within milliseconds however
        # far behind the snapshot work is. Its snapshot keys are filled in when stored.
        def insert(conn: Connection) -> None:
            early_key, patch = store._early_screenshots.pop((action.recording_id, action.sequence), (None, {}))
            repo.insert_action(conn, {
                "recording_id": action.recording_id, "sequence": action.sequence, "type": action.type,
                "timestamp_ms": action.timestamp_ms, "duration_ms": action.duration_ms, "selector": action.selector,
                "value": action.value, "url": action.url, "status": action.status, "error": action.error,
                "screenshot_key": early_key, "dom_snapshot_key": None,
                "metadata": _json({**json.loads(encoded_metadata), **patch}) if patch else encoded_metadata})

        def store_snapshots(conn: Connection) -> None:
            # The keys were hashed when the action was made: not again here, on the writer's time.
            screenshot_key = store._blobs.put_screenshot(conn, action.recording_id, screenshot,
                                                         key=action.screenshot_key) if screenshot else None
            dom_key = store._blobs.put(conn, action.recording_id, dom_snapshot, "dom", key=action.dom_snapshot_key) \
                if dom_snapshot else None
            repo.set_snapshot_keys(conn, action.recording_id, action.sequence, screenshot_key, dom_key)

        store._submit(insert, urgent=True, what=("actions", action.recording_id))
        if screenshot or dom_snapshot:
            store._submit(store_snapshots, what=("snapshots", action.recording_id))
        return action

    def attach_screenshot(
        self, sequence: int, screenshot: bytes, masks: dict[str, Any] | None = None, timing: str | None = None,
    ) -> str:
        """Set the screenshot of an already recorded action (frames arrive after the action).

        ``masks`` (``{"viewport_width": w, "boxes": [{x, y, width, height}, ...]}`` in CSS
        pixels) are painted over before anything is stored. ``timing`` goes into the
        action's ``metadata.screenshot_timing`` (``"before_action"``: the frame predates it).
        """
        key = blobs.blob_key(screenshot + _json(masks).encode()) if masks else blobs.blob_key(screenshot)
        store, recording_id = self.store, self.id
        patch = {"screenshot_timing": timing} if timing else {}

        def update(conn: Connection) -> None:
            if store._blobs.put_screenshot(conn, recording_id, screenshot, masks=masks, key=key) is None:
                return
            if not store._repo.set_screenshot(conn, recording_id, sequence, key, patch):
                # the action's own row is still queued behind this job
                store._early_screenshots[(recording_id, sequence)] = (key, patch)

        store._submit(update, what=("screenshots", recording_id))
        return key

    def attach_dom_snapshot(self, sequence: int, dom_snapshot: str | bytes,
                            metadata: dict[str, Any] | None = None) -> str:
        """Set the DOM snapshot of an already recorded action (a navigation nobody asked
        for is recorded when it starts; its page is snapshotted once it has content), and
        merge ``metadata`` into its metadata (what the snapshot said of its element)."""
        data = dom_snapshot.encode("utf-8", "surrogatepass") if isinstance(dom_snapshot, str) else dom_snapshot
        key = blobs.blob_key(data)
        store, recording_id = self.store, self.id

        def update(conn: Connection) -> None:
            stored = store._blobs.put(conn, recording_id, data, "dom", key=key)
            store._repo.set_dom_snapshot(conn, recording_id, sequence, stored, metadata)

        store._submit(update, what=("snapshots", recording_id))
        return key

    def note_dom_snapshot_skipped(self, sequence: int, reason: str, metadata: dict[str, Any] | None = None) -> None:
        """Say in an already recorded action's ``metadata.dom_snapshot_skipped`` why it has no
        DOM snapshot (its snapshot is asked for as the action ends and answered later);
        ``metadata`` is merged in as well."""
        self._merge_action_metadata(sequence, {**(metadata or {}), "dom_snapshot_skipped": reason},
                                    unless_snapshotted=True)

    def merge_action_metadata(self, sequence: int, metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into an already recorded action's (what was learnt of it later:
        its element's state as the next action began, ``target_later``)."""
        self._merge_action_metadata(sequence, metadata)

    def _merge_action_metadata(self, sequence: int, metadata: dict[str, Any], *,
                               unless_snapshotted: bool = False) -> None:
        store, recording_id = self.store, self.id
        store._submit(lambda conn: store._repo.merge_action_metadata(conn, recording_id, sequence, metadata,
                                                                     unless_snapshotted=unless_snapshotted),
                      what=("metadata updates", recording_id))

    def record_resource(self, url: str, data: bytes, media_type: str, sequence: int | None = None) -> str:
        """Keep a stylesheet, image or font the page used, under its URL; returns its blob key.

        The bytes are stored once per database (by content); a URL seen again with other
        bytes takes the newer ones.
        """
        key = blobs.blob_key(data)
        store, recording_id = self.store, self.id

        def insert(conn: Connection) -> None:
            store._repo.put_resource(conn, recording_id, url, media_type, key, data, sequence)

        store._submit(insert, what=("resources", recording_id))
        return key

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources this recording's snapshots use: URL -> {key, media_type, size, sequence}."""
        return self.store._read(self.store._repo.resources(self.id))

    def last_sequence(self) -> int:
        """The sequence number of the latest action begun (0 before the first)."""
        with self._lock:
            return self._next_sequence - 1

    def record_event(self, kind: str, details: dict[str, Any], *, action_sequence: int | None = None,
                     page_index: int = 0, time_ms: int | None = None) -> None:
        """Record what happened on the page (see recorder/events.py): a console message
        (``console``), an uncaught error (``error``), a request (``request``), a crash.

        ``action_sequence`` defaults to the latest action begun; ``time_ms`` to now. Returns
        at once; an event is recorded even after the recording ended (a request that finished
        as the block closed), but not once the store is closed.
        """
        if kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")
        sequence = self.last_sequence() if action_sequence is None else action_sequence
        row = (self.id, sequence or None, page_index, kind, self.elapsed_ms() if time_ms is None else time_ms,
               _json(details, compact=True))
        self.store._submit(lambda conn: self.store._repo.insert_event(conn, *row), what=("events", self.id))

    def events(self, kind: str | None = None, action: int | None = None) -> list[dict[str, Any]]:
        """What happened around the actions, in order: dicts of the event's details plus
        ``kind``, ``action_sequence``, ``page_index`` and ``time_ms``; only one ``kind``
        (console, error, request, crash) or those of one action (its sequence) if asked."""
        return self.store._read(self.store._repo.events(self.id, kind, action))

    def event_counts(self) -> dict[int | None, dict[str, int]]:
        """Per action sequence (None: before the first action): how many console
        ``messages``, page ``errors`` (crashes included) and ``failed_requests`` (no answer,
        or a status of 400 or more) it had."""
        return self.store._read(self.store._repo.event_counts(self.id))

    def record_source(self, path: str, text: str) -> str:
        """Keep the text of a source file the recorded calls were made from; returns its blob key."""
        data = text.encode("utf-8", "surrogatepass")
        key = blobs.blob_key(data)
        store, recording_id = self.store, self.id

        def insert(conn: Connection) -> None:
            store._repo.put_source(conn, recording_id, path, key, data, len(text))

        store._submit(insert, what=("sources", recording_id))
        return key

    def sources(self) -> dict[str, dict[str, Any]]:
        """The source files kept with this recording: path -> {key, size}; read one with
        ``store.blob(key).decode()``."""
        return self.store._read(self.store._repo.sources(self.id))

    # -- ending ----------------------------------------------------------------------

    def complete(self) -> None:
        """Mark the recording completed; does nothing unless it is recording."""
        self._finish("completed", None)

    def fail(self, error: str | None = None) -> None:
        """Mark the recording failed with ``error``; does nothing unless it is recording."""
        self._finish("failed", error)

    def _finish(self, status: str, error: str | None) -> None:
        self.store._check_writable(f"mark a recording {status}")
        with self._lock:
            if not self.is_recording:
                return
            self.status = status
            self.duration_ms = self.elapsed_ms()
            stamp = now_iso()
            if status == "completed":
                self.completed_at = stamp
            else:
                self.failed_at, self.error = stamp, error
        self.store._writer.wait(self.store._submit(
            lambda conn: self.store._repo.finish_recording(conn, self.id, status, self.duration_ms, stamp, error),
            urgent=True, what=("status changes", self.id)))
        # After this recording's queued snapshots: they still compress against these bases.
        self.store._submit(lambda conn: self.store._blobs.recording_ended(self.id))

    def update_metadata(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the recording's metadata (JSON), at any status."""
        self.store._check_writable("update a recording's metadata")
        self.user_metadata.update(values)
        values, recording_id = dict(values), self.id
        self.store._submit(lambda conn: self.store._repo.merge_metadata(conn, recording_id, values),
                          what=("metadata updates", recording_id))

    def refresh(self) -> Recording:
        """Reload this recording's row from the database."""
        row = self.store._read(self.store._repo.recording(self.id, self.store._owner()))
        if row is None:
            raise RecordingNotFound(f"recording {self.id} is no longer in {self.store.location}")
        self._load(row_dict(row))
        if self.store.readonly:
            self.status = self.store._recording(row).status
        return self

    # -- reading ---------------------------------------------------------------------

    def timeline(self, after_sequence: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The recorded actions ordered by sequence, each a dict (see the README).

        Page through a long recording with ``after_sequence`` (the last one you have) and
        ``limit``.
        """
        return list(self.iter_timeline(after_sequence, limit))

    def iter_timeline(self, after_sequence: int | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        yield from self.store._read(self.store._repo.actions(self.id, after_sequence, limit))




_INT64 = range(-(2**63), 2**63)


def visible_blob(repo: Repository, owner: dict[str, str] | None, scope: Owner | None, location: str, key: str,
                 flow: QueryFlow[T]) -> QueryFlow[T]:
    """``flow`` (a read of the blob ``key``) when no scope is set or the scope's owner uses
    the blob; else ``RecordingNotFound``, as for a blob that does not exist. Shared with
    ``AsyncRecordingStore``."""
    if owner is not None and not (yield from repo.blob_used_by(key, owner)):
        raise RecordingNotFound(f"no blob with key {key} for {_describe_owner(scope)} in {location}")
    return (yield from flow)


def as_read(row: Any) -> dict[str, Any]:
    """A recording's row as a store that marks nothing shows it: one still saying
    ``recording`` whose recording process is gone reads ``interrupted``, as a writer opening
    the database would mark it. Shared with ``AsyncRecordingStore``, which never marks."""
    data = row_dict(row)
    if data["status"] == "recording" and not is_running(data.get("recorder_process")):
        data["status"] = "interrupted"
    return data


def find_recordings(repo: Repository, owner: dict[str, str] | None, status: str | None, limit: int | None,
                    run_id: str | None, read_only: bool) -> QueryFlow[list[dict[str, Any]]]:
    """Recordings' rows newest first, of ``status`` (any: None) and the run ``run_id``; for a
    store that marks nothing (``read_only``), as ``as_read`` shows them. Shared with
    ``AsyncRecordingStore``."""
    if read_only and status in ("recording", "interrupted"):
        # Some rows saying 'recording' read 'interrupted': both are fetched, then filtered.
        rows = yield from repo.recordings(owner, ("recording", "interrupted"), run_id=run_id)
        found = [data for data in map(as_read, rows) if data["status"] == status]
        return found[:limit] if limit else found
    rows = yield from repo.recordings(owner, status, limit, run_id)
    return [as_read(row) if read_only else row_dict(row) for row in rows]


def find_run(repo: Repository, owner: dict[str, str] | None, scope: Owner | None, location: str,
             run_id: str) -> QueryFlow[Run]:
    """The run with this id, or the one run whose id starts so (4 characters at least), of
    those the scope's owner has recordings in; else ``RunNotFound``. Shared with
    ``AsyncRecordingStore``."""
    if not isinstance(run_id, str) or len(run_id) < 4:
        raise RunNotFound(f"no run with id {run_id!r} in {location} (give at least 4 characters of it)")
    exact = yield from repo.runs(owner, run_id=run_id)
    if exact:
        return Run.from_row(exact[0])
    found = yield from repo.runs(owner, 2, id_prefix=run_id)
    if len(found) == 1:
        return Run.from_row(found[0])
    if not found:
        where = f" for {_describe_owner(scope)}" if scope else ""
        raise RunNotFound(f"no run with id {run_id!r}{where} in {location}")
    raise RunNotFound(f"run id {run_id!r} is ambiguous in {location}: give more of it")


def find_run_tests(repo: Repository, owner: dict[str, str] | None, scope: Owner | None, location: str,
                   run_id: str) -> QueryFlow[list[dict[str, Any]]]:
    """The tests of the run ``find_run`` finds. Shared with ``AsyncRecordingStore``."""
    run = yield from find_run(repo, owner, scope, location, run_id)
    return [row_dict(row) for row in (yield from repo.run_tests(run.id))]


_Store = TypeVar("_Store", bound="RecordingStore | AsyncRecordingStore")


def owner_view(store: _Store, user_id: str | int | None, account_id: str | int | None) -> _Store:
    """``store.for_owner(...)`` of either store, sync or async: a copy sharing its connection
    and writer whose ``owner`` every method enforces."""
    owner = scope_owner(store.owner, user_id, account_id)
    view = object.__new__(type(store))
    view.__dict__.update(store.__dict__)
    view.owner = owner
    return view


def scope_owner(outer: Owner | None, user_id: str | int | None, account_id: str | int | None) -> Owner:
    """The owner of a ``for_owner`` view: inside ``outer``, the scope of the store it is made from."""
    if user_id is None and account_id is None:
        raise ValueError("for_owner needs a user_id, an account_id, or both (a view of no one is not a view of all)")
    wanted = Owner(None if user_id is None else str(user_id), None if account_id is None else str(account_id))
    narrowed = _within(outer, wanted)
    if narrowed is None:
        raise ValueError(f"a view of {_describe_owner(outer)} cannot see {_describe_owner(wanted)}")
    return narrowed


def _within(scope: Owner | None, owner: Owner | None) -> Owner | None:
    """``owner`` completed from ``scope`` (what it leaves out), or None if it contradicts it."""
    if scope is None or owner is None:
        return owner if scope is None else scope
    user = owner.user_id if owner.user_id is not None else scope.user_id
    account = owner.account_id if owner.account_id is not None else scope.account_id
    if (scope.user_id is not None and user != scope.user_id) or \
            (scope.account_id is not None and account != scope.account_id):
        return None
    return Owner(user, account)


def _describe_owner(owner: Owner | None) -> str:
    if owner is None:
        return "no owner"
    parts = [f"user {owner.user_id}" if owner.user_id is not None else "",
             f"account {owner.account_id}" if owner.account_id is not None else ""]
    return "owner " + " of ".join(p for p in parts if p)


def _json(value: dict[str, Any], compact: bool = False) -> str:
    # (events are many, and spaces a tenth of their JSON)
    return storable_json(value, compact)


def _check_value(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("value is bytes that are not UTF-8 text; decode it or pass it in metadata") from None
    if not isinstance(value, str):
        value = str(value)
    if len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"value has {len(value):,} characters; recorder stores at most {MAX_VALUE_CHARS:,}")
    return value


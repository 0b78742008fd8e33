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

All database work runs on one writer thread that owns the connection (the aiosqlite
model, without its event loop): ``record_action`` only queues the write and returns, so a
page being recorded never waits for the disk, and the same store serves sync and async
callers alike. Reads are queued behind the writes, so a reader always sees what this
process recorded before it asked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from . import blobs, tiles
from .model import (
    AgentRun, Owner, SandboxSession, as_agent_run, as_owner, as_sandbox_session, check_action_type,
    generate_name, is_demo_name, is_user_session_name, user_session_name,
)
from .errors import DatabaseError, RecordingClosed, RecordingNotFound
from .schema import migrate

T = TypeVar("T")

DEFAULT_DB = "recordings.db"
MAX_VALUE_CHARS = 1_000_000
STATUSES = ("recording", "completed", "failed", "interrupted")


class RecorderWarning(UserWarning):
    """Recording degraded (a write failed, a capture was skipped) but the page goes on."""


def default_db_path() -> Path:
    """``$RECORDER_DB`` if set, else ``./recordings.db``."""
    return Path(os.environ.get("RECORDER_DB") or DEFAULT_DB)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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


class _Writer:
    """One thread owning one connection; jobs run in submission order within their lane.

    Two lanes: *urgent* jobs (an action's row, a status change) are small and always run
    first; the others (compressing and storing snapshots, reads) run after them, in order.
    Each round is one transaction (a SAVEPOINT per job, so one failing job does not undo
    its neighbours) and takes snapshot work for at most ``ROUND_SECONDS``, so a row
    queued behind a backlog of big screenshots is still committed within milliseconds:
    a process killed mid-recording loses at most its newest snapshots, not its actions.
    """

    ROUND_SECONDS = 0.05
    # Idle work starts only once no job came for this long: while a browser performs action
    # after action it needs the CPU (two cores here), and a pause or the end of the
    # recording comes soon enough for tiling.
    QUIET_SECONDS = 0.25
    # ... but never less than one idle step this often: jobs that never pause that long (an
    # animated page's screencast) must not leave every screenshot to be tiled at close.
    IDLE_STEP_AT_LEAST_EVERY = 2.0
    _STOP = object()

    def __init__(self, path: Path, idle: Callable[[sqlite3.Connection], bool] | None = None) -> None:
        self.path = path
        # Background work done when no job waits (cutting screenshots into tiles): one
        # bounded step per call, True while more remains. Finished before the thread stops.
        self._idle = idle
        self._urgent: deque[Any] = deque()
        self._normal: deque[Any] = deque()
        self._wakeup = threading.Condition()
        self._closed = False  # set by close() (or a dead thread): no job is accepted any more
        self._last_round = float("-inf")  # time.monotonic() when the last round of jobs ended
        self._warned = False
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"recorder-writer:{path.name}", daemon=True
        )
        self._thread.start()
        ready.result()

    def submit(self, job: Callable[[sqlite3.Connection], T], urgent: bool = False) -> Future[T]:
        future: Future[T] = Future()
        self._put((job, future), urgent)
        return future

    def _put(self, item: tuple[Any, Future[Any]], urgent: bool = False) -> None:
        with self._wakeup:
            if not self._closed:
                (self._urgent if urgent else self._normal).append(item)
                self._wakeup.notify()
                return
        item[1].set_exception(DatabaseError(f"the store for {self.path} is closed"))

    def call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return self.submit(job).result()

    def call_outside_transaction(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run a job on its own, not in a round's transaction (VACUUM needs that)."""
        future: Future[T] = Future()
        self._put((_Alone(job), future))
        return future.result()

    def close(self) -> None:
        """Run what is queued, finish idle work, stop; later jobs fail as 'closed'."""
        with self._wakeup:
            if not self._closed:
                self._closed = True
                self._normal.append(self._STOP)
                self._wakeup.notify()
        self._thread.join()

    def _fail_queued(self, error: BaseException) -> None:
        """Nothing may wait forever: every job still queued gets ``error``."""
        with self._wakeup:
            self._closed = True
            items = [*self._urgent, *self._normal]
            self._urgent.clear()
            self._normal.clear()
        for item in items:
            if item is not self._STOP and not item[1].done():
                item[1].set_exception(error)

    def _next_round(self, timeout: float | None = None) -> tuple[list[Any], deque[Any]]:
        """Every urgent job, and the queue of the others (taken from in order as time allows);
        both empty when ``timeout`` seconds passed without a job."""
        with self._wakeup:
            if not self._urgent and not self._normal:
                self._wakeup.wait_for(lambda: bool(self._urgent or self._normal), timeout)
            urgent = list(self._urgent)
            self._urgent.clear()
            return urgent, self._normal

    def _run(self, ready: Future[None]) -> None:
        try:
            conn = connect(self.path)
        except BaseException as exc:  # hand the reason to the thread that opened the store
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            idle_work = True  # whether idle work may remain
            last_idle_step = time.monotonic()
            while True:
                wait = None
                now = time.monotonic()
                if idle_work and (now - last_idle_step >= self.IDLE_STEP_AT_LEAST_EVERY
                                  or (not self._has_jobs() and now - self._last_round >= self.QUIET_SECONDS)):
                    last_idle_step = now
                    idle_work = self._idle_step(conn)
                    continue
                if idle_work and not self._has_jobs():
                    wait = self.QUIET_SECONDS - (now - self._last_round)
                urgent, normal = self._next_round(wait)
                if not urgent and not normal:
                    continue  # quiet long enough: idle work
                idle_work = True
                finished = self._run_round(conn, urgent, normal)
                self._last_round = time.monotonic()
                if finished:
                    while self._idle_step(conn):
                        pass
                    return
        except BaseException as exc:  # a bug of ours: fail loudly, but never leave a caller waiting
            self._fail_queued(DatabaseError(f"the writer of {self.path} stopped: {type(exc).__name__}: {exc}"))
            raise
        finally:
            self._fail_queued(DatabaseError(f"the store for {self.path} is closed"))
            conn.close()

    def warn(self, problem: str, consequence: str = "recording goes on without saving") -> None:
        """Warn once per store: recording goes on, what failed is lost."""
        if not self._warned:
            self._warned = True
            try:
                warnings.warn(f"recorder: {problem}; {consequence}", RecorderWarning, stacklevel=1)
            except Warning:
                # Warnings made errors (-W error) raise here, on the writer thread, where no
                # caller would see it and the thread would die: the failed futures say it.
                pass

    def _idle_step(self, conn: sqlite3.Connection) -> bool:
        """One step of idle work; True while more remains. A failure costs that step only:
        the writer thread must outlive anything, or every later write would wait forever."""
        if self._idle is None:
            return False
        try:
            return self._idle(conn)
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self.warn(f"could not tile a screenshot in {self.path}: {type(exc).__name__}: {exc}",
                      "it stays stored as captured")
            return True

    def _has_jobs(self) -> bool:
        with self._wakeup:
            return bool(self._urgent or self._normal)

    def _run_round(self, conn: sqlite3.Connection, urgent: list[Any], normal: deque[Any]) -> bool:
        """One transaction: the urgent jobs, then normal ones while time is left; True at STOP."""
        with self._wakeup:
            head = normal[0] if normal else None
            if not urgent and (head is self._STOP or (head is not None and isinstance(head[0], _Alone))):
                normal.popleft()
        if not urgent and head is self._STOP:
            return True
        if not urgent and head is not None and isinstance(head[0], _Alone):
            self._run_alone(conn, *head)
            return False
        deadline = time.monotonic() + self.ROUND_SECONDS

        def jobs() -> Iterator[Any]:
            yield from urgent
            while time.monotonic() < deadline:
                with self._wakeup:
                    # An urgent job queued meanwhile goes first: the normal jobs behind it
                    # may depend on it (an action's snapshots update the action's row).
                    if self._urgent or not normal or normal[0] is self._STOP or isinstance(normal[0][0], _Alone):
                        return
                    item = normal.popleft()
                yield item

        self._run_batch(conn, jobs())
        return False

    def _run_alone(self, conn: sqlite3.Connection, job: _Alone, future: Future[Any]) -> None:
        try:
            future.set_result(job.function(conn))
        except BaseException as exc:
            if conn.in_transaction:  # the job's own transaction, left open by its failure
                conn.execute("ROLLBACK")
            future.set_exception(exc)

    def _run_batch(self, conn: sqlite3.Connection, jobs: Iterator[tuple[Callable[..., Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        batch: list[tuple[Callable[..., Any], Future[Any]]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future in jobs:
                batch.append((job, future))
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except sqlite3.Error as exc:
                    if not conn.in_transaction:
                        raise  # SQLite gave up the whole transaction (disk full, I/O error)
                    # The database refused this job (disk full, read-only...), but the round
                    # goes on. Its writes are lost, and nobody may be waiting to hear it.
                    self.warn(f"could not write to {self.path}: {exc}")
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((future, False, DatabaseError(f"could not write to {self.path}: {exc}")))
                except BaseException as exc:
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((future, False, exc))
                else:
                    outcomes.append((future, True, result))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The transaction itself failed (disk full, read-only file, I/O error):
            # nothing in it was written. Tell every waiter, and warn once for the
            # fire-and-forget writes nobody waits on.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = DatabaseError(f"could not write to {self.path}: {exc}")
            batch.extend(jobs)  # the rest of the round fails alike, rather than wait forever
            outcomes = [(future, False, error) for _, future in batch]
            self.warn(str(error.args[0]))
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


@dataclass(frozen=True)
class _Alone:
    function: Callable[[sqlite3.Connection], Any]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate a recordings database, with clear errors."""
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
        mark_interrupted(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot open {path} as a recorder database: {exc}") from None
    return conn


def _process_start(pid: int) -> str:
    """When a process started (clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "?"


def process_token() -> str:
    """``host:pid:start`` of this process, stored with the recordings it is recording."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _is_running(token: str | None) -> bool:
    try:
        host, pid_text, start = (token or "").rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False  # written by no live recorder we can know of
    if host != socket.gethostname():
        return True  # another machine's process: we cannot tell, so never steal its recording
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    return start == "?" or _process_start(pid) == start


def mark_interrupted(conn: sqlite3.Connection) -> list[int]:
    """Mark ``interrupted`` the recordings whose recording process is gone; return their ids.

    Their duration runs to the end of their last recorded action.
    """
    candidates = conn.execute("SELECT id, recorder_process FROM recordings WHERE status = 'recording'").fetchall()
    dead = [row[0] for row in candidates if not _is_running(row[1])]
    for recording_id in dead:
        conn.execute(
            "UPDATE recordings SET status = 'interrupted', interrupted_at = ?,"
            " duration_ms = (SELECT max(timestamp_ms + coalesce(duration_ms, 0)) FROM actions WHERE recording_id = ?)"
            " WHERE id = ? AND status = 'recording'",
            (_now_iso(), recording_id, recording_id),
        )
    return dead


class RecordingStore:
    """A recordings database: start recordings, find them, read their blobs.

    ``path`` defaults to ``$RECORDER_DB``, else ``./recordings.db``; the file and its tables
    are created on first use. A store can be used as a context manager, which closes it.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, max_bytes: int | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        # Past this database size, screenshots are no longer stored (actions still are).
        self.max_bytes = max_bytes
        # Per (recording, kind): the last snapshot written (key, stored bytes, chain depth),
        # so the next one is stored as a delta of it. Touched by the writer thread only.
        self._delta_bases: dict[tuple[int | None, str], tuple[str, bytes, int]] = {}
        # Screenshots stored as captured, waiting to be cut into tiles when the writer is
        # idle: (recording id, blob key). Writer thread only.
        self._untiled: deque[tuple[int | None, str | None]] = deque()
        self._writer = _Writer(self.path, idle=self._tile_next)
        self.owner: Owner | None = None  # set on the views for_owner() returns
        # Screenshots attached to (recording, sequence) before that action's row was
        # written: a frame can arrive while the action is still being captured.
        self._early_screenshots: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}  # -> key, metadata patch

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Write everything queued, then close the database."""
        self._writer.close()

    def flush(self, *, tiled: bool = True) -> None:
        """Block until every write queued so far is committed.

        Screenshots are committed as captured and cut into tiles (see recorder/tiles.py)
        when the writer has nothing else to do; ``flush`` waits for that too unless
        ``tiled=False``. Either way what was queued is on disk when it returns.
        """
        self._writer.call(lambda conn: None)
        if tiled:
            self._writer.call_outside_transaction(self._tile_all)

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
    ) -> Recording:
        """Start a recording (status ``recording``).

        ``agent_run`` and ``sandbox_session`` are references (``AgentRun(id, agent_name)``
        or a dict). The name defaults to the agent's name, else the sandbox template's,
        parameterized, else ``session``, then ``_<YYYYmmdd_HHMMSS>``. ``owner`` (an
        ``Owner``, a dict, or a user id) defaults to this store's owner if scoped.
        """
        run, sandbox = as_agent_run(agent_run), as_sandbox_session(sandbox_session)
        owner_ = as_owner(owner) or self.owner
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
            "parent_id": parent_id, "recorder_process": process_token(),
        }

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                f"INSERT INTO recordings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
            )
            return int(cursor.lastrowid or 0)

        row.update(id=self._writer.call(insert), completed_at=None, failed_at=None, duration_ms=None,
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
        """A view of this store that sees (and starts) only this owner's recordings.

            mine = store.for_owner(user_id=42)
            mine.list()          # only user 42's recordings
            mine.get(other_id)   # RecordingNotFound, even though it exists
        """
        view = object.__new__(RecordingStore)
        view.__dict__.update(self.__dict__)
        view.owner = Owner(None if user_id is None else str(user_id), None if account_id is None else str(account_id))
        return view

    def _owner_filter(self) -> tuple[str, list[Any]]:
        if self.owner is None:
            return "1", []
        clauses, params = [], []
        for column, value in (("owner_user_id", self.owner.user_id), ("owner_account_id", self.owner.account_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return " AND ".join(clauses), params

    def get(self, recording_id: int) -> Recording:
        """The recording with this id; raises ``RecordingNotFound``."""
        if not isinstance(recording_id, int) or recording_id not in _INT64:
            raise RecordingNotFound(f"no recording with id {recording_id!r} in {self.path}")
        where, params = self._owner_filter()
        row = self._writer.call(
            lambda conn: conn.execute(
                f"SELECT * FROM recordings WHERE id = ? AND {where}", (recording_id, *params)
            ).fetchone()
        )
        if row is None:
            scope = f" for owner {self.owner}" if self.owner else ""
            raise RecordingNotFound(f"no recording with id {recording_id}{scope} in {self.path}")
        return Recording(self, _row_dict(row), live=False)

    def list(self, status: str | None = None, limit: int | None = None) -> list[Recording]:
        """Recordings, newest first, optionally only those with ``status``."""
        where, params = self._owner_filter()
        sql = f"SELECT * FROM recordings WHERE {where}"
        if status:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._writer.call(lambda conn: conn.execute(sql, params).fetchall())
        return [Recording(self, _row_dict(row), live=False) for row in rows]

    def blob(self, key: str) -> bytes:
        """The bytes of a stored DOM snapshot, or a screenshot as a JPEG image.

        DOM snapshots come back exactly as captured. Screenshots are stored as tiles
        (see recorder/tiles.py) and come back composed into one JPEG; one not tiled yet
        comes back as the JPEG that was captured.
        """
        if not isinstance(key, str) or not key:
            raise ValueError(f"a blob key is a non-empty string (an action's screenshot_key or dom_snapshot_key), not {key!r}")

        def read(conn: sqlite3.Connection) -> bytes:
            data = _read_blob(conn, key, self.path)
            if _media_type(conn, key) == tiles.MEDIA_TYPE:
                return tiles.compose(data, lambda tile: _read_blob(conn, tile, self.path))
            return data

        return self._writer.call(read)

    def blob_info(self, key: str) -> dict[str, Any]:
        """Media type (as ``blob()`` returns it) and sizes of a blob, without its bytes."""
        row = self._writer.call(
            lambda conn: conn.execute(
                "SELECT key, media_type, codec, base_key, size, stored_size FROM blobs WHERE key = ?", (key,)
            ).fetchone()
        )
        if row is None:
            raise RecordingNotFound(f"no blob with key {key} in {self.path}")
        info = _row_dict(row)
        if info["media_type"] == tiles.MEDIA_TYPE:
            info["media_type"], info["stored_as"] = "image/jpeg", "tiles"
        return info

    def delete(self, recording_id: int) -> int:
        """Delete a recording, its actions, and the blobs nothing else uses; return blobs freed.

        A blob stays while any other action refers to it, directly or as the base of a
        delta-compressed blob.
        """

        def delete(conn: sqlite3.Connection) -> int:
            if not conn.execute("SELECT 1 FROM recordings WHERE id = ?", (recording_id,)).fetchone():
                raise RecordingNotFound(f"no recording with id {recording_id} in {self.path}")
            keys = {
                key for row in conn.execute(
                    "SELECT screenshot_key, dom_snapshot_key FROM actions WHERE recording_id = ?"
                    " UNION ALL SELECT blob_key, NULL FROM resources WHERE recording_id = ?", (recording_id, recording_id)
                ) for key in row if key
            }
            conn.execute("DELETE FROM resources WHERE recording_id = ?", (recording_id,))
            conn.execute("DELETE FROM actions WHERE recording_id = ?", (recording_id,))
            conn.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
            return _delete_unused_blobs(conn, keys)

        freed = self._writer.call(delete)
        self._forget_bases(recording_id)
        return freed

    def restore(self, recording: dict[str, Any], timeline: Sequence[dict[str, Any]], snapshots: dict[str, bytes],
                resources: Sequence[dict[str, Any]] | None = None) -> Recording:
        """Store a recording read from elsewhere (see recorder.exchange) under a new id.

        ``snapshots`` holds the bytes by key: of the actions' screenshots and DOM
        snapshots, and of ``resources``, the stylesheets, images and fonts its snapshots
        use (``{url, media_type, key[, size, sequence]}`` each, as ``Recording.resources()``
        lists them); a blob the database already has is not stored again.

        Everything is checked first (a ``ValueError`` names what is wrong), so a bad
        cassette stores nothing and cannot poison what is imported after it.
        """
        resources = list(resources or [])
        _check_restorable(recording, timeline, snapshots, resources)
        columns = ("name", "status", "started_at", "completed_at", "failed_at", "duration_ms", "error")
        row = {column: recording.get(column) for column in columns}
        row["metadata"] = _json(recording.get("metadata") or {})
        run, sandbox, owner = (recording.get(k) or {} for k in ("agent_run", "sandbox_session", "owner"))
        row.update(agent_run_id=run.get("id"), agent_name=run.get("agent_name"),
                   sandbox_session_id=sandbox.get("id"), sandbox_template=sandbox.get("template_name"),
                   owner_user_id=owner.get("user_id"), owner_account_id=owner.get("account_id"),
                   action_count=len(timeline))
        if row["status"] == "recording":
            row["status"] = "interrupted"  # its recording process is not this one

        def insert(conn: sqlite3.Connection) -> int:
            recording_id = int(conn.execute(
                f"INSERT INTO recordings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
            ).lastrowid or 0)
            # Resources first: a key shared with a screenshot then reads back as these bytes.
            for resource in resources:
                data = snapshots[resource["key"]]
                self._put_resource_blob(conn, resource["key"], data, resource["media_type"])
                conn.execute(
                    "INSERT INTO resources (recording_id, url, media_type, blob_key, size, sequence)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (recording_id, resource["url"], resource["media_type"], resource["key"], len(data),
                     resource.get("sequence")),
                )
            for action in timeline:
                keys = {}
                for column, kind in (("screenshot_key", "screenshot"), ("dom_snapshot_key", "dom")):
                    key = action.get(column)
                    keys[column] = self._put_blob(conn, recording_id, snapshots[key], kind, key=key) \
                        if key and key in snapshots else None
                conn.execute(
                    "INSERT INTO actions (recording_id, sequence, type, timestamp_ms, duration_ms, selector, value,"
                    " url, status, error, screenshot_key, dom_snapshot_key, metadata)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (recording_id, action["sequence"], action["type"], action["timestamp_ms"], action["duration_ms"],
                     action["selector"], action["value"], action["url"], action["status"], action["error"],
                     keys["screenshot_key"], keys["dom_snapshot_key"], _json(action.get("metadata") or {})),
                )
            return recording_id

        new_id = self._writer.call(insert)
        self._forget_bases(new_id)
        return self.get(new_id)

    def prune(self, older_than: timedelta, keep_failed: bool = False) -> tuple[int, int]:
        """Delete ended recordings started more than ``older_than`` ago; return (recordings, blobs) deleted.

        Recordings still recording are never pruned; with ``keep_failed``, neither are
        failed or interrupted ones.
        """
        if older_than <= timedelta(0):
            raise ValueError(f"older_than must be a positive age, not {older_than}")
        try:
            cutoff = (datetime.now(timezone.utc) - older_than).isoformat(timespec="milliseconds")
        except OverflowError:
            return 0, 0  # older than the calendar goes: nothing is
        statuses = ("completed",) if keep_failed else ("completed", "failed", "interrupted")
        where, params = self._owner_filter()
        ids = [row[0] for row in self._writer.call(lambda conn: conn.execute(
            f"SELECT id FROM recordings WHERE started_at < ? AND status IN ({', '.join('?' * len(statuses))})"
            f" AND {where}", (cutoff, *statuses, *params)).fetchall())]
        freed = sum(self.delete(recording_id) for recording_id in ids)
        return len(ids), freed

    def vacuum(self) -> tuple[int, int, int]:
        """Delete every blob no action uses, then compact the file.

        Returns (blobs deleted, file bytes before, file bytes after). Blobs are normally
        freed with their recording; this also catches what a crash left behind.
        """
        before = _file_size(self.path)
        self._writer.call_outside_transaction(self._tile_leftovers)
        deleted = self._writer.call(_collect_garbage)
        self._writer.call_outside_transaction(lambda conn: conn.execute("VACUUM"))
        self._writer.call_outside_transaction(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
        return deleted, before, _file_size(self.path)

    # -- used by Recording -----------------------------------------------------------

    def _submit(self, job: Callable[[sqlite3.Connection], T]) -> Future[T]:
        return self._writer.submit(job)

    def _call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return self._writer.call(job)

    def _forget_bases(self, recording_id: int) -> None:
        self._delta_bases.pop((recording_id, "dom"), None)
        # Screenshots of the recording may still wait to be tiled against the base.
        self._untiled.append((recording_id, None))

    def _put_screenshot(self, conn: sqlite3.Connection, recording_id: int, data: bytes,
                        masks: dict[str, Any] | None = None, key: str | None = None) -> str | None:
        """Store a screenshot, or (past ``max_bytes``) note in the recording that it was not."""
        try:
            return self._put_blob(conn, recording_id, data, "screenshot", key=key, masks=masks)
        except _OverLimit as reason:
            conn.execute(
                "UPDATE recordings SET metadata = json_set(metadata, '$.screenshots_stopped', ?)"
                " WHERE id = ? AND json_extract(metadata, '$.screenshots_stopped') IS NULL",
                (str(reason), recording_id),
            )
            return None

    def _put_blob(self, conn: sqlite3.Connection, recording_id: int, data: bytes, kind: str,
                  key: str | None = None, masks: dict[str, Any] | None = None) -> str:
        """Store a snapshot once (writer thread only) and return its key.

        Screenshots are cut into tiles and stored as a manifest of them; manifests and DOM
        snapshots are compressed as deltas of the recording's previous one. ``key``
        keeps the key an imported snapshot had (a screenshot read back is not the bytes
        that were hashed).
        """
        key = key or blobs.blob_key(data)
        if conn.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone():
            return key
        if kind == "screenshot" and self.max_bytes is not None and _database_size(conn) >= self.max_bytes:
            raise _OverLimit(f"database reached max_bytes ({self.max_bytes:,}); screenshots are no longer stored")
        if kind == "screenshot" and not masks and blobs.sniff_media_type(data) == "image/jpeg":
            # Stored as captured now (cheap, so the action is durable at once) and cut
            # into tiles later by _tile_next; read back meanwhile, it is the JPEG itself.
            # A masked screenshot is painted over before anything is stored, and other
            # formats are rare, so those are tiled right away.
            conn.execute(
                "INSERT INTO blobs (key, media_type, codec, size, stored_size, data) VALUES (?, 'image/jpeg', 'raw', ?, ?, ?)",
                (key, len(data), len(data), data),
            )
            self._untiled.append((recording_id, key))
            return key
        tiled = _try_split(data, masks) if kind == "screenshot" else None
        if masks and tiled is None:
            raise _OverLimit("a masked screenshot that cannot be decoded is not stored")
        if tiled is not None:
            _add_tiles(conn, tiled.tiles)
            stored, media_type = tiled.manifest, tiles.MEDIA_TYPE
        else:
            stored, media_type = data, blobs.sniff_media_type(data)
            if media_type == "application/octet-stream":
                media_type = "text/html"
        encoded, next_base = self._encode_delta(conn, recording_id, kind, key, stored, media_type)
        conn.execute(
            "INSERT INTO blobs (key, media_type, codec, base_key, size, stored_size, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, media_type, encoded.codec, encoded.base_key, len(data), len(encoded.data), encoded.data),
        )
        if next_base:  # were this job rolled back, the base check above would notice the key gone
            self._delta_bases[(recording_id, kind)] = next_base
        return key

    def _put_resource_blob(self, conn: sqlite3.Connection, key: str, data: bytes, media_type: str) -> None:
        """Store a page resource's bytes once (writer thread only); compressed unless already."""
        if conn.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone():
            return
        encoded = blobs.encode(data, media_type)
        conn.execute(
            "INSERT INTO blobs (key, media_type, codec, size, stored_size, data) VALUES (?, ?, ?, ?, ?, ?)",
            (key, media_type, encoded.codec, len(data), len(encoded.data), encoded.data),
        )

    def _encode_delta(self, conn: sqlite3.Connection, recording_id: int | None, kind: str, key: str,
                      stored: bytes, media_type: str) -> tuple[blobs.EncodedBlob, tuple[str, bytes, int] | None]:
        """Compress ``stored`` as a delta of the recording's previous snapshot of this kind.

        Returns the encoding and what the next snapshot's base would be; the caller makes
        it the base once its write is certain (see _tile_next).
        """
        base = self._delta_bases.get((recording_id, kind))
        # The base may be gone (another process deleted its recording, a write was rolled
        # back) or not what was compressed (a screenshot whose tiling failed is still the
        # JPEG), or its chain long.
        if base and (base[2] >= blobs.MAX_DELTA_CHAIN or not conn.execute(
                "SELECT 1 FROM blobs WHERE key = ? AND media_type = ?", (base[0], media_type)).fetchone()):
            base = None
        encoded = blobs.encode(stored, media_type, base=(base[0], base[1]) if base else None)
        next_base = None if encoded.codec == "raw" else (key, stored, (base[2] + 1) if base else 0)
        return encoded, next_base

    # -- tiling, in the writer's idle time ----------------------------------------------

    def _tile_next(self, conn: sqlite3.Connection) -> bool:
        """Cut one screenshot stored as captured into tiles; False when none is waiting.

        The decoding and WebP encoding (the slow part) happen outside the transaction;
        inside it the blob's row is swapped for its tile manifest under the same key, so
        actions pointing at it never notice. A blob deleted meanwhile is skipped.
        """
        if not self._untiled:
            return False
        recording_id, key = self._untiled.popleft()
        if key is None:  # the recording ended: its last manifest is no one's base any more
            self._delta_bases.pop((recording_id, "screenshot"), None)
            return True
        row = conn.execute(
            "SELECT data FROM blobs WHERE key = ? AND codec = 'raw' AND media_type = 'image/jpeg'", (key,)
        ).fetchone()
        tiled = _try_split(row[0]) if row else None
        if tiled is None:
            return True  # gone, already tiled, or not an image Pillow reads: it stays as it is
        present = {tile for tile in tiled.tiles
                   if conn.execute("SELECT 1 FROM blobs WHERE key = ?", (tile,)).fetchone()}
        encoded_tiles = {tile: encode() for tile, encode in tiled.tiles.items() if tile not in present}
        next_base = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM blobs WHERE key = ? AND codec = 'raw'", (key,)).fetchone():
                _add_tiles(conn, {tile: encoded_tiles.get(tile) or encode for tile, encode in tiled.tiles.items()})
                encoded, next_base = self._encode_delta(conn, recording_id, "screenshot", key, tiled.manifest,
                                                        tiles.MEDIA_TYPE)
                conn.execute(
                    "UPDATE blobs SET media_type = ?, codec = ?, base_key = ?, stored_size = ?, data = ? WHERE key = ?",
                    (tiles.MEDIA_TYPE, encoded.codec, encoded.base_key, len(encoded.data), encoded.data, key),
                )
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not isinstance(exc, sqlite3.Error):
                raise
            self._writer.warn(f"could not write to {self.path}: {exc}", "the screenshot stays stored as captured")
            return True
        if next_base:  # only now: a manifest rolled back must not become the next one's base
            self._delta_bases[(recording_id, "screenshot")] = next_base
        return True

    def _tile_all(self, conn: sqlite3.Connection) -> None:
        while self._tile_next(conn):
            pass

    def _tile_leftovers(self, conn: sqlite3.Connection) -> None:
        """Tile screenshots left as captured by a process that stopped before it could."""
        self._untiled.extend(conn.execute(
            "SELECT (SELECT recording_id FROM actions WHERE screenshot_key = key LIMIT 1), key FROM blobs"
            " WHERE codec = 'raw' AND media_type = 'image/jpeg' AND key NOT LIKE 'tile:%'"
        ).fetchall())
        self._tile_all(conn)


class _OverLimit(Exception):
    """A screenshot not stored because the database reached ``max_bytes``."""


def _database_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA page_count").fetchone()[0]) * int(conn.execute("PRAGMA page_size").fetchone()[0])


def _file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def _collect_garbage(conn: sqlite3.Connection) -> int:
    """Delete blobs that no action reaches, directly, as a delta base, or as a tile."""
    reachable: set[str] = set()
    frontier = {key for row in conn.execute("SELECT screenshot_key, dom_snapshot_key FROM actions"
                                           " UNION ALL SELECT blob_key, NULL FROM resources") for key in row if key}
    while frontier:
        reachable |= frontier
        frontier = {row[0] for key in frontier
                    for row in conn.execute("SELECT base_key FROM blobs WHERE key = ? AND base_key IS NOT NULL", (key,))
                    } - reachable
    tile_refs: dict[str, int] = {}
    for (key,) in conn.execute("SELECT key FROM blobs WHERE media_type = ?", (tiles.MEDIA_TYPE,)).fetchall():
        if key in reachable:
            for tile in set(tiles.tile_keys(_read_blob(conn, key, Path("?")))):
                tile_refs[tile] = tile_refs.get(tile, 0) + 1
    doomed = set()
    for (key,) in conn.execute("SELECT key FROM blobs").fetchall():
        if key.startswith("tile:"):
            if key in tile_refs:
                conn.execute("UPDATE blobs SET refs = ? WHERE key = ?", (tile_refs[key], key))
                continue
        elif key in reachable:
            continue
        doomed.add(key)
    # A delta's base may be deleted only after the delta (base_key is a foreign key); every
    # delta of a doomed base is doomed too, so passes that take the unused ones end.
    deleted = 0
    while doomed:
        free = {key for key in doomed if not conn.execute("SELECT 1 FROM blobs WHERE base_key = ?", (key,)).fetchone()}
        if not free:
            break
        for key in free:
            deleted += conn.execute("DELETE FROM blobs WHERE key = ?", (key,)).rowcount
        doomed -= free
    return deleted


def _add_tiles(conn: sqlite3.Connection, tile_encoders: dict[str, Any]) -> None:
    """Reference each tile once more, inserting those not stored yet.

    Values are the tile's WebP bytes or a function that encodes them (called only when
    the tile is new).
    """
    for tile, webp in tile_encoders.items():
        if not conn.execute("UPDATE blobs SET refs = refs + 1 WHERE key = ?", (tile,)).rowcount:
            data = webp if isinstance(webp, bytes) else webp()
            conn.execute(
                "INSERT INTO blobs (key, media_type, codec, size, stored_size, data, refs)"
                " VALUES (?, 'image/webp', 'raw', ?, ?, ?, 1)",
                (tile, len(data), len(data), data),
            )


def _try_split(data: bytes, masks: dict[str, Any] | None = None) -> tiles.Tiled | None:
    """Tiles of a screenshot, or None for bytes no image decoder reads (stored as they are)."""
    try:
        return tiles.split(data, masks)
    except tiles.UNREADABLE:
        return None


def _media_type(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT media_type FROM blobs WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _delete_unused_blobs(conn: sqlite3.Connection, candidates: set[str]) -> int:
    """Delete those of ``candidates`` no action or delta uses, then their bases likewise."""
    freed = 0
    while candidates:
        next_candidates: set[str] = set()
        for key in candidates:
            in_use = conn.execute(
                "SELECT 1 FROM actions WHERE screenshot_key = ?1 OR dom_snapshot_key = ?1"
                " UNION ALL SELECT 1 FROM resources WHERE blob_key = ?1"
                " UNION ALL SELECT 1 FROM blobs WHERE base_key = ?1 LIMIT 1",
                (key,),
            ).fetchone()
            if in_use:
                continue
            if _media_type(conn, key) == tiles.MEDIA_TYPE:
                # Read the manifest while its delta base still exists, then release its tiles.
                for tile in set(tiles.tile_keys(_read_blob(conn, key, Path("?")))):
                    conn.execute("UPDATE blobs SET refs = refs - 1 WHERE key = ?", (tile,))
                    freed += conn.execute("DELETE FROM blobs WHERE key = ? AND refs <= 0", (tile,)).rowcount
            row = conn.execute("DELETE FROM blobs WHERE key = ? RETURNING base_key", (key,)).fetchone()
            if row is not None:
                freed += 1
                if row[0]:
                    next_candidates.add(row[0])
        candidates = next_candidates
    return freed


def _read_blob(conn: sqlite3.Connection, key: str, path: Path) -> bytes:
    chain = []
    current: str | None = key
    while current is not None:
        row = conn.execute("SELECT codec, base_key, data FROM blobs WHERE key = ?", (current,)).fetchone()
        if row is None:
            what = "blob" if current == key else f"base blob {current} of blob"
            raise RecordingNotFound(f"no {what} with key {key} in {path}")
        chain.append(row)
        current = row[1]
    data: bytes | None = None
    for codec, _, stored in reversed(chain):
        data = blobs.decode(codec, stored, base=data)
    assert data is not None
    return data


class Recording:
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
        self._next_sequence = self.action_count + 1

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

    def __repr__(self) -> str:
        return f"<Recording id={self.id} name={self.name!r} status={self.status} actions={self.action_count}>"

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
            return sequence, self.elapsed_ms()

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
        store, encoded_metadata = self.store, _json(action.metadata)

        # The row first, in the writer's urgent lane: committed within milliseconds however
        # far behind the snapshot work is. Its snapshot keys are filled in when stored.
        def insert(conn: sqlite3.Connection) -> None:
            early_key, patch = store._early_screenshots.pop((action.recording_id, action.sequence), (None, {}))
            conn.execute(
                "INSERT INTO actions (recording_id, sequence, type, timestamp_ms, duration_ms, selector, value,"
                " url, status, error, screenshot_key, dom_snapshot_key, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (action.recording_id, action.sequence, action.type, action.timestamp_ms, action.duration_ms,
                 action.selector, action.value, action.url, action.status, action.error,
                 early_key, None, _json({**json.loads(encoded_metadata), **patch}) if patch else encoded_metadata),
            )
            conn.execute("UPDATE recordings SET action_count = action_count + 1 WHERE id = ?", (action.recording_id,))

        def store_snapshots(conn: sqlite3.Connection) -> None:
            # The keys were hashed when the action was made: not again here, on the writer's time.
            screenshot_key = store._put_screenshot(conn, action.recording_id, screenshot, key=action.screenshot_key) \
                if screenshot else None
            dom_key = store._put_blob(conn, action.recording_id, dom_snapshot, "dom", key=action.dom_snapshot_key) \
                if dom_snapshot else None
            conn.execute(
                "UPDATE actions SET screenshot_key = coalesce(?, screenshot_key), dom_snapshot_key = ?"
                " WHERE recording_id = ? AND sequence = ?",
                (screenshot_key, dom_key, action.recording_id, action.sequence),
            )

        store._writer.submit(insert, urgent=True)
        if screenshot or dom_snapshot:
            store._submit(store_snapshots)
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

        def update(conn: sqlite3.Connection) -> None:
            if store._put_screenshot(conn, recording_id, screenshot, masks=masks, key=key) is None:
                return
            updated = conn.execute(
                "UPDATE actions SET screenshot_key = ?, metadata = json_patch(metadata, ?)"
                " WHERE recording_id = ? AND sequence = ?",
                (key, _json(patch), recording_id, sequence),
            ).rowcount
            if not updated:  # the action's own row is still queued behind this job
                store._early_screenshots[(recording_id, sequence)] = (key, patch)

        store._submit(update)
        return key

    def attach_dom_snapshot(self, sequence: int, dom_snapshot: str | bytes) -> str:
        """Set the DOM snapshot of an already recorded action (a navigation nobody asked
        for is recorded when it starts; its page is snapshotted once it has content)."""
        data = dom_snapshot.encode("utf-8", "surrogatepass") if isinstance(dom_snapshot, str) else dom_snapshot
        key = blobs.blob_key(data)
        store, recording_id = self.store, self.id

        def update(conn: sqlite3.Connection) -> None:
            stored = store._put_blob(conn, recording_id, data, "dom", key=key)
            conn.execute(
                "UPDATE actions SET dom_snapshot_key = ? WHERE recording_id = ? AND sequence = ? AND dom_snapshot_key IS NULL",
                (stored, recording_id, sequence),
            )

        store._submit(update)
        return key

    def note_dom_snapshot_skipped(self, sequence: int, reason: str) -> None:
        """Say in an already recorded action's ``metadata.dom_snapshot_skipped`` why it has no
        DOM snapshot (its snapshot is asked for as the action ends and answered later)."""
        store, recording_id = self.store, self.id

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE actions SET metadata = json_set(metadata, '$.dom_snapshot_skipped', ?)"
                " WHERE recording_id = ? AND sequence = ? AND dom_snapshot_key IS NULL",
                (reason, recording_id, sequence),
            )

        store._submit(update)

    def record_resource(self, url: str, data: bytes, media_type: str, sequence: int | None = None) -> str:
        """Keep a stylesheet, image or font the page used, under its URL; returns its blob key.

        The bytes are stored once per database (by content); a URL seen again with other
        bytes takes the newer ones.
        """
        key = blobs.blob_key(data)
        store, recording_id = self.store, self.id

        def insert(conn: sqlite3.Connection) -> None:
            store._put_resource_blob(conn, key, data, media_type)
            conn.execute(
                "INSERT INTO resources (recording_id, url, media_type, blob_key, size, sequence) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (recording_id, url) DO UPDATE SET media_type = excluded.media_type,"
                " blob_key = excluded.blob_key, size = excluded.size",
                (recording_id, url, media_type, key, len(data), sequence),
            )

        store._submit(insert)
        return key

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources this recording's snapshots use: URL -> {key, media_type, size, sequence}."""
        rows = self.store._call(lambda conn: conn.execute(
            "SELECT url, blob_key, media_type, size, sequence FROM resources WHERE recording_id = ? ORDER BY url",
            (self.id,)).fetchall())
        return {url: {"key": key, "media_type": media_type, "size": size, "sequence": sequence}
                for url, key, media_type, size, sequence in rows}

    # -- ending ----------------------------------------------------------------------

    def complete(self) -> None:
        """Mark the recording completed; does nothing unless it is recording."""
        self._finish("completed", None)

    def fail(self, error: str | None = None) -> None:
        """Mark the recording failed with ``error``; does nothing unless it is recording."""
        self._finish("failed", error)

    def _finish(self, status: str, error: str | None) -> None:
        with self._lock:
            if not self.is_recording:
                return
            self.status = status
            self.duration_ms = self.elapsed_ms()
            stamp = _now_iso()
            if status == "completed":
                self.completed_at = stamp
            else:
                self.failed_at, self.error = stamp, error
        column = "completed_at" if status == "completed" else "failed_at"
        self.store._writer.submit(
            lambda conn: conn.execute(
                f"UPDATE recordings SET status = ?, duration_ms = ?, {column} = ?, error = ? WHERE id = ?",
                (status, self.duration_ms, stamp, error, self.id),
            ),
            urgent=True,
        ).result()
        # After this recording's queued snapshots: they still compress against these bases.
        self.store._submit(lambda conn: self.store._forget_bases(self.id))

    def update_metadata(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the recording's metadata (JSON), at any status."""
        self.user_metadata.update(values)
        patch, recording_id = _json(values), self.id
        self.store._submit(lambda conn: conn.execute(
            "UPDATE recordings SET metadata = json_patch(metadata, ?) WHERE id = ?", (patch, recording_id)
        ))

    def refresh(self) -> Recording:
        """Reload this recording's row from the database."""
        self._load(_row_dict(self.store._call(
            lambda conn: conn.execute("SELECT * FROM recordings WHERE id = ?", (self.id,)).fetchone()
        )))
        return self

    # -- reading ---------------------------------------------------------------------

    def timeline(self, after_sequence: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The recorded actions ordered by sequence, each a dict (see the README).

        Page through a long recording with ``after_sequence`` (the last one you have) and
        ``limit``.
        """
        return list(self.iter_timeline(after_sequence, limit))

    def iter_timeline(self, after_sequence: int | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        rows = self.store._call(
            lambda conn: conn.execute(
                "SELECT id, type, sequence, timestamp_ms, duration_ms, selector, value, url, status, error,"
                " screenshot_key, dom_snapshot_key, metadata FROM actions WHERE recording_id = ? AND sequence > ?"
                " ORDER BY sequence LIMIT ?",
                (self.id, after_sequence or 0, -1 if limit is None else limit),
            ).fetchall()
        )
        for row in rows:
            item = _row_dict(row)
            item["metadata"] = json.loads(item["metadata"] or "{}")
            yield item

    def to_dict(self) -> dict[str, Any]:
        """The recording's row as plain data (for JSON output)."""
        return {
            "id": self.id, "name": self.name, "status": self.status, "started_at": self.started_at,
            "completed_at": self.completed_at, "failed_at": self.failed_at, "duration_ms": self.duration_ms,
            "action_count": self.action_count, "error": self.error, "metadata": self.user_metadata,
            "agent_run": self.agent_run.__dict__ if self.agent_run else None,
            "sandbox_session": self.sandbox_session.__dict__ if self.sandbox_session else None,
            "owner": self.owner.__dict__ if self.owner else None, "parent_id": self.parent_id,
            "interrupted_at": self.interrupted_at,
        }


_INT64 = range(-(2**63), 2**63)


_BLOB_KEY = re.compile(r"[0-9a-f]{64}")
# type "/" subtype, as RFC 9110 spells a media type without parameters: the viewer sends it
# as a Content-Type header.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
# What a DOM snapshot names and recorder keeps: absolute http(s) URLs, no spaces or controls.
_RESOURCE_URL = re.compile(r"https?://[^\s/?#\x00-\x1f\x7f]+[^\s\x00-\x1f\x7f]*", re.IGNORECASE)


def _check_restorable(recording: Any, timeline: Any, snapshots: dict[str, bytes],
                      resources: Sequence[Any] = ()) -> None:
    """Refuse, with the reason, a recording that would not read back as it was exported."""
    def optional(value: Any, kind: type | tuple[type, ...], what: str) -> None:
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)
                                  or (isinstance(value, int) and value not in _INT64)):
            raise ValueError(f"{what} is {value!r}")

    if not isinstance(recording, dict):
        raise ValueError(f"the recording is {type(recording).__name__}, not an object")
    if not isinstance(recording.get("name"), str) or recording.get("status") not in STATUSES:
        raise ValueError(f"the recording needs a name and a status in {', '.join(STATUSES)}")
    try:
        datetime.fromisoformat(str(recording.get("started_at")))
    except ValueError:
        raise ValueError(f"the recording's started_at {recording.get('started_at')!r} is not an ISO-8601 time") from None
    optional(recording.get("metadata"), dict, "the recording's metadata")
    optional(recording.get("duration_ms"), int, "the recording's duration_ms")
    if not isinstance(timeline, list) or not all(isinstance(action, dict) for action in timeline):
        raise ValueError("the timeline is not a list of actions")
    sequences = [action.get("sequence") for action in timeline]
    if any(not isinstance(n, int) or isinstance(n, bool) or n not in _INT64 or n < 1 for n in sequences) \
            or len(set(sequences)) != len(sequences):
        raise ValueError("the actions' sequences are not distinct whole numbers from 1")
    for action in timeline:
        what = f"action {action['sequence']}"
        check_action_type(action.get("type"))
        for column in ("selector", "value", "url", "error", "screenshot_key", "dom_snapshot_key"):
            optional(action.get(column), str, f"{what}'s {column}")
        for column in ("timestamp_ms", "duration_ms"):
            optional(action.get(column), int, f"{what}'s {column}")
        optional(action.get("metadata"), dict, f"{what}'s metadata")
        if action.get("status") not in ("ok", "error"):
            raise ValueError(f"{what}'s status is {action.get('status')!r}, not 'ok' or 'error'")
        # A DOM snapshot comes back exactly as stored, so its key must be its hash. (A
        # screenshot comes back composed from tiles, not as the bytes first hashed.)
        key = action.get("dom_snapshot_key")
        if key in snapshots and blobs.blob_key(snapshots[key]) != key:
            raise ValueError(f"the DOM snapshot {key} of {what} does not match its key")
    _check_resources(resources, snapshots)


def _check_resources(resources: Sequence[Any], snapshots: dict[str, bytes]) -> None:
    """Each resource names an absolute http(s) URL once, a media type, and bytes that are
    among ``snapshots`` and hash to its key (a resource comes back exactly as stored)."""
    urls: set[str] = set()
    for number, resource in enumerate(resources, 1):
        if not isinstance(resource, dict):
            raise ValueError(f"resource {number} is {type(resource).__name__}, not an object")
        url = resource.get("url")
        if not isinstance(url, str) or not _RESOURCE_URL.fullmatch(url):
            raise ValueError(f"resource {number}'s url {url!r} is not an absolute http(s) URL")
        what = f"resource {number} ({url})"
        if url in urls:
            raise ValueError(f"{what} is listed twice")
        urls.add(url)
        media_type = resource.get("media_type")
        if not isinstance(media_type, str) or not _MEDIA_TYPE.fullmatch(media_type):
            raise ValueError(f"{what}'s media type {media_type!r} is not a type/subtype")
        key = resource.get("key")
        if not isinstance(key, str) or not _BLOB_KEY.fullmatch(key):
            raise ValueError(f"{what}'s key {key!r} is not a sha256 (64 hex digits)")
        if key not in snapshots:
            raise ValueError(f"{what}'s key {key} is unknown: its bytes are not among the blobs")
        if blobs.blob_key(snapshots[key]) != key:
            raise ValueError(f"the bytes of {what} do not match its key {key}")
        size, sequence = resource.get("size"), resource.get("sequence")
        if size is not None and (type(size) is not int or size != len(snapshots[key])):
            raise ValueError(f"{what}'s size is {size!r}, but its bytes are {len(snapshots[key])}")
        if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)
                                     or sequence not in _INT64 or sequence < 1):
            raise ValueError(f"{what}'s sequence is {sequence!r}, not a whole number from 1")


def _row_dict(row: Any) -> dict[str, Any]:
    return dict(zip(row.keys(), row)) if hasattr(row, "keys") else row


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


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


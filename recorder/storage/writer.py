"""The writer thread: one connection, owned by one thread, that every store call goes through.

The aiosqlite model, without its event loop: ``submit`` queues a job (a function of the
connection) and returns a future, so a page being recorded never waits for the disk, and
sync and async callers share one path (an async caller awaits the future).
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import DatabaseError, RecorderError
from .engine import Connection, Engine

T = TypeVar("T")


class RecorderWarning(UserWarning):
    """Recording degraded (a write failed, a capture was skipped) but the page goes on."""


def _lower_own_priority(by: int) -> None:
    """Make the calling thread ``by`` nicer (Linux: the nice value is per thread; elsewhere
    os.setpriority would change the whole process, so nothing is done)."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + by))
    except OSError:
        pass  # a sandbox that forbids it: the writer runs as it is


class Writer:
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
    # When the connection is lost (a database server restarting, a network cut), writes wait
    # in memory while the writer reconnects: at most this many, the oldest snapshot work
    # dropped first past it. Nothing recorded waits on this; a caller waiting for an answer
    # (a recording's start or end) gives up after DISCONNECTED_WAIT_S, and closing the store
    # after CLOSE_GRACE_S: what is still unwritten then is lost, and said so.
    MAX_BUFFERED_JOBS = 5_000
    # What this thread does (compressing, tiling screenshots, writing) can always wait for the
    # page and the test: it runs this much nicer than the thread that opened the store, so
    # that on a busy machine the browser, Playwright's driver and the test get the cores
    # first (benchmarks/overhead.py, shop page, 2 cores: about 1 ms less added per action).
    # Linux only, where a thread has a priority of its own.
    NICER_BY = 10
    DISCONNECTED_WAIT_S = 30.0
    # A round the database gave up for another transaction's sake (a deadlock with another
    # process's writer, on PostgreSQL) is run again, up to this many times in all, before
    # its writes count as lost.
    ROUND_ATTEMPTS = 5
    CLOSE_GRACE_S = 15.0
    _STOP = object()

    def __init__(self, engine: Engine, idle: Callable[[Connection], bool] | None = None,
                 setup: Callable[[Connection], Any] | None = None,
                 report_losses: Callable[[Connection, dict[int, dict[str, int]]], Any] | None = None,
                 before_close: Callable[[Connection], Any] | None = None) -> None:
        self.engine = engine
        self.where = engine.location
        self._setup = setup  # run on each new connection (marking dead recordings interrupted)
        # Run once the connection is back: which recordings lost which writes meanwhile.
        self._report_losses = report_losses
        self._disconnected_at: float | None = None  # time.monotonic() when the connection was lost
        self._closing_at: float | None = None
        self._losses: dict[int, dict[str, int]] = {}  # recording id -> what -> how many
        self._storage_gone_said = False
        # Background work done when no job waits (cutting screenshots into tiles): one
        # bounded step per call, True while more remains. Finished before the thread stops.
        self._idle = idle
        self._before_close = before_close  # run once as the writer stops, after the idle work
        self._urgent: deque[Any] = deque()
        self._normal: deque[Any] = deque()
        self._wakeup = threading.Condition()
        self._closed = False  # set by close() (or a dead thread): no job is accepted any more
        self._last_round = float("-inf")  # time.monotonic() when the last round of jobs ended
        self._warned = False
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"recorder-writer:{engine.name}", daemon=True
        )
        self._thread.start()
        ready.result()

    def submit(self, job: Callable[[Connection], T], urgent: bool = False,
               what: tuple[str, int] | None = None) -> Future[T]:
        """Queue ``job``; ``what`` (e.g. ``("actions", recording_id)``) names what it writes,
        should it be lost."""
        future: _Job[T] = _Job(what)
        self._put((job, future), urgent)
        return future

    def _put(self, item: tuple[Any, Future[Any]], urgent: bool = False) -> None:
        with self._wakeup:
            if not self._closed:
                (self._urgent if urgent else self._normal).append(item)
                self._wakeup.notify()
                return
        item[1].set_exception(DatabaseError(f"the store for {self.where} is closed"))

    def call(self, job: Callable[[Connection], T]) -> T:
        return self.wait(self.submit(job))

    def wait(self, future: Future[T]) -> T:
        """A job's result; while the connection is lost, at most DISCONNECTED_WAIT_S of that."""
        while True:
            try:
                return future.result(timeout=1.0)
            except FutureTimeout:
                lost = self._disconnected_at
                if lost is not None and time.monotonic() - lost > self.DISCONNECTED_WAIT_S:
                    raise DatabaseError(
                        f"{self.where} has not answered for {time.monotonic() - lost:.0f} s (is the server down?);"
                        " the write stays queued until it is back") from None

    def call_outside_transaction(self, job: Callable[[Connection], T]) -> T:
        """Run a job on its own, not in a round's transaction (VACUUM needs that)."""
        future: Future[T] = Future()
        self._put((_Alone(job), future))
        return future.result()

    def close(self) -> None:
        """Run what is queued, finish idle work, stop; later jobs fail as 'closed'."""
        with self._wakeup:
            if not self._closed:
                self._closed = True
                self._closing_at = time.monotonic()
                self._normal.append(self._STOP)
                self._wakeup.notify_all()
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
        _lower_own_priority(self.NICER_BY)
        conn = None
        try:
            conn = self.engine.connect()
            if self._setup is not None:
                self._setup(conn)
        except BaseException as exc:  # hand the reason to the thread that opened the store
            if conn is not None:
                conn.close()
            if isinstance(exc, self.engine.errors):  # a damaged file: a missing table, a malformed page
                exc = DatabaseError(f"cannot use {self.where} as a recorder database: "
                                    f"{self.engine.describe_error(exc)}")
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            idle_work = True  # whether idle work may remain
            last_idle_step = time.monotonic()
            while True:
                wait = None
                now = time.monotonic()
                if idle_work and ((now - last_idle_step >= self.IDLE_STEP_AT_LEAST_EVERY and not self._urgent)
                                  or (not self._has_jobs() and now - self._last_round >= self.QUIET_SECONDS)):
                    last_idle_step = now
                    try:
                        idle_work = self._idle_step(conn)
                    except _Disconnected:
                        found = self._reconnect(conn)
                        if found is None:
                            return
                        conn = found
                    continue
                if idle_work and not self._has_jobs():
                    wait = self.QUIET_SECONDS - (now - self._last_round)
                urgent, normal = self._next_round(wait)
                if not urgent and not normal:
                    continue  # quiet long enough: idle work
                idle_work = True
                try:
                    finished = self._run_round(conn, urgent, normal)
                except _Disconnected:
                    found = self._reconnect(conn)
                    if found is None:
                        return  # closed while the database stayed away: _give_up said what was lost
                    conn = found
                    continue
                self._last_round = time.monotonic()
                self._check_storage()
                if finished:
                    try:
                        while self._idle_step(conn):
                            pass
                    except _Disconnected:
                        return  # closing: screenshots not tiled yet stay stored as captured
                    if self._losses and not self._note_losses(conn, f"writes to {self.where} failed"):
                        # (a full disk still full): what was lost is said, if not kept
                        self._warned = False
                        self.warn(f"writes to {self.where} failed ({_describe(self._losses)})",
                                  "they are lost, and the recordings could not be told so (lost_writes)")
                    self._close_step(conn)
                    return
        except BaseException as exc:  # a bug of ours: fail loudly, but never leave a caller waiting
            self._fail_queued(DatabaseError(f"the writer of {self.where} stopped: {type(exc).__name__}: {exc}"))
            raise
        finally:
            self._fail_queued(DatabaseError(f"the store for {self.where} is closed"))
            conn.close()

    def _failed(self, exc: BaseException, name: bool = False) -> DatabaseError:
        """The error a failed job's caller gets: what was done to which database, and why."""
        verb = "read" if self.engine.readonly else "write to"
        why = f"{type(exc).__name__}: {exc}" if name else self.engine.describe_error(exc)
        return DatabaseError(f"could not {verb} {self.where}: {why}")

    def _warn_unheard(self, error: DatabaseError) -> None:
        """Warn of a failed job, which nobody may wait on (a write submitted and left, or
        waited on by a caller that goes on without it). A read-only store's jobs are reads,
        whose callers get the error itself."""
        if not self.engine.readonly:
            self.warn(str(error.args[0]))

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

    # -- a lost connection ---------------------------------------------------------------

    def _reconnect(self, broken: Connection) -> Connection | None:
        """Connect again, with back-off, keeping the queued writes (at most MAX_BUFFERED_JOBS);
        None when the store closed and the database did not come back within CLOSE_GRACE_S."""
        try:
            broken.close()
        except Exception:
            pass
        self._disconnected_at = time.monotonic()
        self.warn(f"lost the connection to {self.where}", f"keeping up to {self.MAX_BUFFERED_JOBS:,} writes in"
                  " memory and reconnecting; recording goes on")
        delay = 0.1
        while True:
            try:
                conn = self.engine.connect()
                if self._setup is not None:
                    self._setup(conn)
            except DatabaseError:
                self._trim()
                closing = self._closing_at
                if closing is not None and time.monotonic() - closing > self.CLOSE_GRACE_S:
                    self._give_up()
                    return None
                with self._wakeup:
                    self._wakeup.wait(delay)
                delay = min(delay * 2, 2.0)
                continue
            self._disconnected_at = None
            self._warned = False  # a later problem is news again
            self._note_losses(conn)
            return conn

    def _trim(self) -> None:
        """Past MAX_BUFFERED_JOBS queued, drop the oldest: snapshot work first, then rows."""
        dropped = []
        with self._wakeup:
            while len(self._urgent) + len(self._normal) > self.MAX_BUFFERED_JOBS:
                lane = self._normal if any(item is not self._STOP for item in self._normal) else self._urgent
                item = lane.popleft()
                if item is self._STOP:
                    lane.append(item)
                    continue
                dropped.append(item)
        for _, future in dropped:
            self._lose(future, DatabaseError(f"not written: {self.where} was away and the memory kept for it is full"))

    def _give_up(self) -> None:
        """The store closes and the database is still away: every write still queued is lost."""
        with self._wakeup:
            items = [item for item in (*self._urgent, *self._normal) if item is not self._STOP]
            self._urgent.clear()
            self._normal.clear()
        for _, future in items:
            self._lose(future, DatabaseError(f"not written: {self.where} did not come back before the store closed"))
        lost = sum(sum(kinds.values()) for kinds in self._losses.values())
        self._warned = False
        self.warn(f"{self.where} did not come back within {self.CLOSE_GRACE_S:.0f} s of closing the store",
                  f"{lost:,} writes are lost ({_describe(self._losses)})")

    def _lose(self, future: Future[Any], error: DatabaseError) -> None:
        self._count_loss(future)
        if not future.done():
            future.set_exception(error)

    def _count_loss(self, future: Future[Any]) -> None:
        """A write that will not be made: counted for its recording's ``lost_writes``."""
        what = getattr(future, "what", None)
        if what is not None:
            kind, recording_id = what
            counts = self._losses.setdefault(recording_id, {})
            counts[kind] = counts.get(kind, 0) + 1

    def _note_losses(self, conn: Connection, why: str | None = None) -> bool:
        """Writes go through again (the server is back; the store closes, and the disk may
        have room): say in each recording what it lost. False, the losses kept, if this
        write fails too."""
        losses = self._losses
        if not losses or self._report_losses is None:
            return True
        try:
            self.engine.begin(conn)
            self._report_losses(conn, losses)
            conn.execute("COMMIT")
        except self.engine.errors:
            self.engine.rollback_after_failure(conn)
            return False
        self._losses = {}
        self._warned = False
        self.warn(f"{why or f'{self.where} is back; writes were lost while it was away'} ({_describe(losses)})",
                  "each recording's metadata says what it lost (lost_writes)")
        return True

    def _idle_step(self, conn: Connection) -> bool:
        """One step of idle work; True while more remains. A failure costs that step only:
        the writer thread must outlive anything, or every later write would wait forever."""
        if self._idle is None:
            return False
        try:
            return self._idle(conn)
        except Exception as exc:
            if self.engine.is_disconnected(conn):
                raise _Disconnected([]) from None
            self.engine.rollback(conn)
            self.warn(f"could not tile a screenshot in {self.where}: {type(exc).__name__}: {exc}",
                      "it stays stored as captured")
            return True

    def _check_storage(self) -> None:
        """Warn (once) when the file written to was deleted or replaced meanwhile."""
        if self._storage_gone_said:
            return
        gone = self.engine.storage_gone()
        if gone is not None:
            self._storage_gone_said = True
            self._warned = False  # news, whatever was said before
            self.warn(gone, "what is recorded from now on is written where no one can read it")

    def _close_step(self, conn: Connection) -> None:
        if self._before_close is None:
            return
        try:
            self._before_close(conn)
        except self.engine.errors as exc:  # everything is written: only the space stays taken
            self.engine.rollback_after_failure(conn)
            if self._warned:
                return  # writes were refused already (a read-only file): this is no news
            self.warn(f"could not give free space back in {self.where}: {self.engine.describe_error(exc)}",
                      "the database keeps it until `recorder vacuum` or the next recording reuses it")

    def _has_jobs(self) -> bool:
        with self._wakeup:
            return bool(self._urgent or self._normal)

    def _run_round(self, conn: Connection, urgent: list[Any], normal: deque[Any]) -> bool:
        """One transaction: the urgent jobs, or else normal ones while time is left; True at STOP."""
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
            if urgent:
                # Rows commit in a transaction of their own, never behind snapshot work: on a
                # server a snapshot job can take a few hundred ms, and an action not yet
                # committed is lost with a killed process.
                yield from urgent
                return
            while time.monotonic() < deadline:
                with self._wakeup:
                    # An urgent job queued meanwhile goes first: the normal jobs behind it
                    # may depend on it (an action's snapshots update the action's row).
                    if self._urgent or not normal or normal[0] is self._STOP or isinstance(normal[0][0], _Alone):
                        return
                    item = normal.popleft()
                yield item

        try:
            self._run_batch(conn, jobs())
        except _Disconnected as lost:
            # Nothing of the round was written: every job of it goes back where it was, to
            # be run again once connected (the urgent ones first, as before).
            taken_normal = lost.batch[len(urgent):]
            with self._wakeup:
                self._normal.extendleft(reversed(taken_normal))
                self._urgent.extendleft(reversed(urgent))
            raise
        return False

    def _run_alone(self, conn: Connection, job: _Alone, future: Future[Any]) -> None:
        try:
            future.set_result(job.function(conn))
        except BaseException as exc:
            self.engine.rollback(conn)  # the job's own transaction, left open by its failure
            if isinstance(exc, self.engine.errors):  # VACUUM on a full disk, say
                exc = self._failed(exc)
            future.set_exception(exc)

    def _run_batch(self, conn: Connection, jobs: Iterator[tuple[Callable[..., Any], Future[Any]]]) -> None:
        batch: list[tuple[Callable[..., Any], Future[Any]]] = []  # the round's jobs taken so far

        def taken() -> Iterator[tuple[Callable[..., Any], Future[Any]]]:
            yield from list(batch)  # those of an attempt the database gave up, again
            for item in jobs:
                batch.append(item)
                yield item

        for attempt in range(1, self.ROUND_ATTEMPTS + 1):
            try:
                outcomes = self._attempt_batch(conn, taken())
                break
            except self.engine.errors as exc:
                if self.engine.is_disconnected(conn):
                    raise _Disconnected(batch) from None
                self.engine.rollback_after_failure(conn)
                if self.engine.must_retry(exc) and attempt < self.ROUND_ATTEMPTS:
                    # Another process's transaction locked the same rows in another order (a
                    # deadlock) and the server gave this one up: nothing of it was written, and
                    # the same jobs go through once the other has committed.
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
                    continue
                # The transaction itself failed (disk full, read-only file, I/O error):
                # nothing in it was written. Tell every waiter, and warn once for the
                # fire-and-forget writes nobody waits on.
                error = self._failed(exc)
                batch.extend(jobs)  # the rest of the round fails alike, rather than wait forever
                outcomes = [(future, False, error) for _, future in batch]
                self._warn_unheard(error)
                break
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                self._count_loss(future)  # once, whichever way it failed
                future.set_exception(value)

    def _attempt_batch(self, conn: Connection,
                       jobs: Iterator[tuple[Callable[..., Any], Future[Any]]]) -> list[tuple[Future[Any], bool, Any]]:
        """Run the jobs in one transaction, each in a savepoint; what each gave. Raises the
        database's error when it gave up the whole transaction."""
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        self.engine.begin(conn)
        for job, future in jobs:
            conn.execute("SAVEPOINT job")
            try:
                result = job(conn)
            except self.engine.errors as exc:
                if (not self.engine.in_transaction(conn) or self.engine.is_disconnected(conn)
                        or self.engine.must_retry(exc)):
                    raise  # the database gave up the whole transaction (disk full, I/O error, gone, deadlock)
                # The database refused this job (disk full, read-only...), but the round
                # goes on. Its writes are lost, and nobody may be waiting to hear it.
                error = self._failed(exc)
                self._warn_unheard(error)
                conn.execute("ROLLBACK TO job")
                outcomes.append((future, False, error))
            except BaseException as exc:
                # Not the database's refusal. A RecorderError is a job's answer to its
                # caller (no such recording, run or blob); anything else is a bug of ours
                # or a value the database could not take: lost, and said so.
                if not isinstance(exc, RecorderError):
                    self._warn_unheard(self._failed(exc, name=True))
                conn.execute("ROLLBACK TO job")
                outcomes.append((future, False, exc))
            else:
                outcomes.append((future, True, result))
            conn.execute("RELEASE job")
        conn.execute("COMMIT")
        return outcomes


class _Job(Future[T]):
    """A queued job's future, knowing what the job writes (for the count of what was lost)."""

    def __init__(self, what: tuple[str, int] | None) -> None:
        super().__init__()
        self.what = what


class _Disconnected(Exception):
    """The connection was lost during a round; ``batch`` are the round's jobs taken so far."""

    def __init__(self, batch: list[Any]) -> None:
        super().__init__("disconnected")
        self.batch = batch


def _describe(losses: dict[int, dict[str, int]]) -> str:
    return "; ".join(f"recording {recording_id}: " + ", ".join(f"{n:,} {kind}" for kind, n in sorted(kinds.items()))
                     for recording_id, kinds in sorted(losses.items())) or "nothing"


@dataclass(frozen=True)
class _Alone:
    function: Callable[[Connection], Any]

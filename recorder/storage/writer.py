"""The writer thread: one connection, owned by one thread, that every store call goes through.

The aiosqlite model, without its event loop: ``submit`` queues a job (a function of the
connection) and returns a future, so a page being recorded never waits for the disk, and
sync and async callers share one path (an async caller awaits the future).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import DatabaseError
from .engine import Connection, Engine

T = TypeVar("T")


class RecorderWarning(UserWarning):
    """Recording degraded (a write failed, a capture was skipped) but the page goes on."""


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
    _STOP = object()

    def __init__(self, engine: Engine, idle: Callable[[Connection], bool] | None = None,
                 setup: Callable[[Connection], Any] | None = None) -> None:
        self.engine = engine
        self.where = engine.location
        self._setup = setup  # run once on the new connection (marking dead recordings interrupted)
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
            target=self._run, args=(ready,), name=f"recorder-writer:{engine.name}", daemon=True
        )
        self._thread.start()
        ready.result()

    def submit(self, job: Callable[[Connection], T], urgent: bool = False) -> Future[T]:
        future: Future[T] = Future()
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
        return self.submit(job).result()

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
            conn = self.engine.connect()
            if self._setup is not None:
                self._setup(conn)
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
            self._fail_queued(DatabaseError(f"the writer of {self.where} stopped: {type(exc).__name__}: {exc}"))
            raise
        finally:
            self._fail_queued(DatabaseError(f"the store for {self.where} is closed"))
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

    def _idle_step(self, conn: Connection) -> bool:
        """One step of idle work; True while more remains. A failure costs that step only:
        the writer thread must outlive anything, or every later write would wait forever."""
        if self._idle is None:
            return False
        try:
            return self._idle(conn)
        except Exception as exc:
            self.engine.rollback(conn)
            self.warn(f"could not tile a screenshot in {self.where}: {type(exc).__name__}: {exc}",
                      "it stays stored as captured")
            return True

    def _has_jobs(self) -> bool:
        with self._wakeup:
            return bool(self._urgent or self._normal)

    def _run_round(self, conn: Connection, urgent: list[Any], normal: deque[Any]) -> bool:
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

    def _run_alone(self, conn: Connection, job: _Alone, future: Future[Any]) -> None:
        try:
            future.set_result(job.function(conn))
        except BaseException as exc:
            self.engine.rollback(conn)  # the job's own transaction, left open by its failure
            future.set_exception(exc)

    def _run_batch(self, conn: Connection, jobs: Iterator[tuple[Callable[..., Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        batch: list[tuple[Callable[..., Any], Future[Any]]] = []
        try:
            self.engine.begin(conn)
            for job, future in jobs:
                batch.append((job, future))
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except self.engine.errors as exc:
                    if not self.engine.in_transaction(conn):
                        raise  # the database gave up the whole transaction (disk full, I/O error, gone)
                    # The database refused this job (disk full, read-only...), but the round
                    # goes on. Its writes are lost, and nobody may be waiting to hear it.
                    self.warn(f"could not write to {self.where}: {exc}")
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((future, False, DatabaseError(f"could not write to {self.where}: {exc}")))
                except BaseException as exc:
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((future, False, exc))
                else:
                    outcomes.append((future, True, result))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except self.engine.errors as exc:
            # The transaction itself failed (disk full, read-only file, I/O error):
            # nothing in it was written. Tell every waiter, and warn once for the
            # fire-and-forget writes nobody waits on.
            try:
                self.engine.rollback(conn)
            except self.engine.errors:
                pass  # the connection itself is gone
            error = DatabaseError(f"could not write to {self.where}: {exc}")
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
    function: Callable[[Connection], Any]

"""pytest plugin: record the tests that use pytest-playwright's ``page``.

Installed with the package (the ``pytest11`` entry point), it works on top of
pytest-playwright, or of pytest-playwright-asyncio (whose async ``page`` is recorded the
same way), and does nothing until asked::

    pytest --record on                  # record every test that uses `page`
    pytest --record retain-on-failure   # keep only the recordings of failed (and flaky) tests
    pytest -n 4 --record on             # pytest-xdist: every worker writes the same database
    pytest --reruns 2 --record on       # pytest-rerunfailures: every attempt, flaky tests marked

Each session is a run (the ``runs`` table: when, git commit and branch, CI build, outcome
counts); its recordings have its id as ``run_id``. Under xdist the controller makes the run
id, the workers record into it, and the controller writes the counts at the end.

A test can also ask for ``recorded_page``, which is recorded unless ``--record off``.
Recordings are named after the test's node id and go to ``test-results/recordings.db``
(``--record-db``). The hooks stay thin: what to record and keep is decided in
:class:`TestRecorder`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import socket
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import runinfo
from ._pytest_fixtures import empty_output_dir
from .errors import DatabaseError, RecorderError, RunNotFound
from .instrument import record
from .storage import is_server_url
from .storage.repository import now_iso
from .store import Recording, RecorderWarning, RecordingStore
from .urls import without_passwords

MODES = ("on", "off", "retain-on-failure")
RECENT_ACTIONS = 5
_RECORDER_KEY = pytest.StashKey["TestRecorder"]()
_RECORDING_KEY = pytest.StashKey[Recording]()
_REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
# The earlier attempts of a test rerun (pytest-rerunfailures): (recording, outcome) each.
_ATTEMPTS_KEY = pytest.StashKey[list[tuple[Recording, str]]]()
# What cuts the secrets the test's recording has seen out of a text (record.scrub).
_SCRUB_KEY = pytest.StashKey[Callable[[str], str]]()
# A report's message with those secrets cut out, set on the report where the test ran (an
# xdist worker, which has them) for the run's record of its tests (made by the controller).
MESSAGE_ATTRIBUTE = "recorder_message"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("recorder", "recorder: record Playwright pages into SQLite")
    group.addoption(
        "--record", choices=MODES, default=None,
        help="Record tests that use `page`: on, off (default), or retain-on-failure (keep failed tests' "
             "recordings only). `recorded_page` records unless this is off.",
    )
    group.addoption(
        "--record-db", default="test-results/recordings.db",
        help="Database to record into: a SQLite file or a postgresql:// URL (default: test-results/recordings.db).",
    )
    group.addoption(
        "--record-push", default=None, metavar="URL",
        help="At the end of the session, copy this run's kept recordings to this store (a postgresql:// URL, or a"
             " SQLite file): shards record locally at full speed and share in one place.",
    )
    group.addoption(
        "--record-report", default=None, metavar="PATH",
        help="At the end of the session, write the run's report (every test, its outcome and failure, its"
             " recordings' viewers in <stem>-files/ beside it) to this HTML file.",
    )
    group.addoption("--record-screenshots", action=argparse.BooleanOptionalAction, default=True,
                    help="Store a screenshot per action (default: on).")
    group.addoption("--record-dom", action=argparse.BooleanOptionalAction, default=True,
                    help="Store a DOM snapshot per action (default: on).")


class TestRecorder:
    """The session's recording policy and its database; one per pytest process."""

    def __init__(self, config: pytest.Config) -> None:
        self.mode: str | None = config.getoption("--record")
        self.db: str = config.getoption("--record-db")
        # The SQLite file (None when recording into a server).
        self.db_path: Path | None = None if is_server_url(self.db) else Path(self.db)
        self.push_to: str | None = config.getoption("--record-push")
        report = config.getoption("--record-report")
        self.report_path: Path | None = None if not report else Path(config.invocation_params.dir, report)
        self.report_line: str | None = None  # what the terminal summary says of it
        self.screenshots: bool = config.getoption("record_screenshots")
        self.dom: bool = config.getoption("record_dom")
        worker_input = getattr(config, "workerinput", None)
        # One run id for the controller and all its xdist workers, so the summary can
        # find this run's recordings in a database that may hold older ones.
        self.run_id: str = worker_input["recorder_run_id"] if worker_input else uuid.uuid4().hex
        self.worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self._store: RecordingStore | None = None
        self.rootpath = Path(config.rootpath)
        # (a --record-db or --record-push URL may carry a password: never stored)
        self.args = [without_passwords(str(arg)) for arg in config.invocation_params.args]
        # What the run row says of where it ran: made once, by the controller.
        self._run_details: dict[str, Any] | None = worker_input.get("recorder_run") if worker_input else None
        self._run_stored = False

    def run_details(self) -> dict[str, Any]:
        """The run's start, git commit and branch, CI build (asked of git and the environment once)."""
        if self._run_details is None:
            self._run_details = {"started_at": now_iso(), **runinfo.describe(self.rootpath),
                                 "metadata": {"host": socket.gethostname(), "args": self.args}}
        return self._run_details

    def ensure_run(self) -> None:
        """Store this session's run before its first recording (each xdist worker attaches to it)."""
        if not self._run_stored:
            self.store.start_run(self.run_id, **self.run_details())
            self._run_stored = True

    def finish_run(self, counts: RunCounts, exit_status: int) -> None:
        """The controller, at the end: the run's counts, if this session recorded anything."""
        if self.mode == "off" or (self.db_path is not None and not self.db_path.exists()):
            return
        store = self.store
        try:
            store.get_run(self.run_id)
        except RunNotFound:
            return  # nothing recorded: no run to finish
        store.finish_run(self.run_id, exit_status=int(exit_status), workers=counts.workers, **counts.totals())
        store.record_run_tests(self.run_id, counts.tests())

    def write_report(self) -> str:
        """The controller, after finish_run: the run's report at ``--record-report``; what
        happened, in a line."""
        from .report import write_report

        assert self.report_path is not None
        if self.mode == "off" or (self.db_path is not None and not self.db_path.exists()):
            return f"recorder: no report written to {self.report_path}: nothing was recorded"
        try:
            run = self.store.get_run(self.run_id)
        except RunNotFound:
            return f"recorder: no report written to {self.report_path}: nothing was recorded"
        path, tests = write_report(self.store, run, self.report_path)
        return f"recorder: report of {tests} test{'' if tests == 1 else 's'}: {path}"

    def viewer_href(self, recording_id: int, html_path: str) -> str | None:
        """Where the report's viewer of a recording is, relative to pytest-html's report."""
        from .report import files_dir

        if self.report_path is None:
            return None
        target = files_dir(self.report_path) / f"recording-{recording_id}.html"
        start = Path(html_path).resolve().parent
        return Path(os.path.relpath(target.resolve(), start)).as_posix()

    def wants(self, explicit: bool) -> bool:
        """Record this test? ``explicit`` when it asked for ``recorded_page``."""
        if self.mode == "off":
            return False
        return explicit or self.mode in ("on", "retain-on-failure")

    @property
    def store(self) -> RecordingStore:
        """The session's store, opened once: by each test's recording and, at the end, for the
        run's counts, its report, the summary and the push (closed at pytest_unconfigure)."""
        if self._store is None:
            if self.db_path is not None:
                try:
                    self.db_path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseError(f"cannot create {self.db_path.parent} for {self.db_path}: "
                                        f"{exc.strerror or exc}") from None
            self._store = RecordingStore(self.db)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def metadata(self, item: pytest.Item, browser_name: str | None) -> dict[str, Any]:
        path, line, _ = item.location
        return {
            "source": "pytest", "nodeid": item.nodeid, "file": path, "line": (line or 0) + 1,
            "browser_name": browser_name, "xdist_worker": self.worker_id, "run_id": self.run_id,
            "attempt": attempt_of(item),
        }

    def conclude(self, recording: Recording, reports: dict[str, pytest.TestReport],
                 scrub: Callable[[str], str] = str,
                 earlier: list[tuple[Recording, str]] | None = None) -> tuple[bool, str]:
        """End the recording by the test's outcome; return whether policy keeps it, and
        the outcome: passed, failed, skipped, or flaky (passed after failed attempts).

        ``scrub`` cuts typed secrets out of the failure message (assertion rewriting
        quotes what the page showed). ``earlier``: the test's earlier attempts (reruns);
        when this one passes after one of them failed, those are marked ``flaky`` too."""
        failed = next((r for r in reports.values() if r.failed), None)
        skipped = any(r.skipped for r in reports.values())
        outcome = "failed" if failed else "skipped" if skipped else "passed"
        flaky = outcome == "passed" and any(o == "failed" for _, o in earlier or ())
        if flaky:
            outcome = "flaky"
            for attempt, attempt_outcome in earlier or ():
                if attempt_outcome == "failed":
                    with _tolerating_disk_trouble():
                        attempt.update_metadata({"flaky": True})
        recording.update_metadata({"outcome": outcome, **({"flaky": True} if flaky else {})})
        if failed is not None:
            recording.fail(scrub(failure_message(failed)))
        else:
            recording.complete()
        # Under retain-on-failure a flaky test keeps its passing attempt too, to compare with the failed ones.
        return failed is not None or flaky or self.mode != "retain-on-failure", outcome

    def summary(self) -> tuple[list[Recording], str] | None:
        """This run's kept recordings (every xdist worker's), and where they are."""
        if self.db_path is not None and not self.db_path.exists():
            return None
        store = self.store
        kept = [r for r in store.list() if r.run_id == self.run_id or r.user_metadata.get("run_id") == self.run_id]
        return kept, store.location

    def push(self, kept: list[Recording]) -> str:
        """Copy this run's kept recordings to ``--record-push``; what happened, in a line."""
        from .push import push

        assert self.push_to is not None
        with RecordingStore(self.push_to) as destination:
            result = push(self.store, destination, ids=[recording.id for recording in kept])
            return (f"recorder: pushed {len(result.pushed)} recordings to {destination.location}"
                    + (f" ({len(result.skipped)} already there)" if result.skipped else "")
                    + "".join(f"; could not push {item['id']} ({item['name']}): {item['reason']}"
                              for item in result.failed))


def attempt_of(item: pytest.Item) -> int:
    """Which attempt at the test this is: 1, then 2, 3... on pytest-rerunfailures' reruns."""
    return int(getattr(item, "execution_count", 1) or 1)


class RunCounts:
    """The controller's tally of the session's tests, by final outcome (under xdist the
    workers' reports all come to the controller): what the run row records, and each test's
    row of ``run_tests`` (``tests()``: outcome, attempts, duration, failure message)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}
        self.rerun: set[str] = set()
        self.reruns = 0
        self.teardown_errors = 0
        self.nodes: set[str] = set()
        # Per test: attempts, the last attempt's duration (s) and message, where it is.
        self.details: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)  # xdist: the worker that ran it
        if node is not None:
            self.nodes.add(str(getattr(getattr(node, "gateway", None), "id", node)))
        detail = self.details.setdefault(report.nodeid, {"attempts": 1, "duration": 0.0, "message": None,
                                                         "location": report.location})
        if report.when == "setup" and report.outcome != "rerun" and detail.get("rerun_seen"):
            detail.update(attempts=detail["attempts"] + 1, duration=0.0, message=None, rerun_seen=False)
        detail["duration"] += float(getattr(report, "duration", 0.0) or 0.0)
        if report.outcome == "rerun":
            self.reruns += 1
            self.rerun.add(report.nodeid)
            detail["rerun_seen"] = True
            return
        if (report.failed or report.skipped) and detail["message"] is None:
            detail["message"] = report_message(report)
        if report.when == "call":
            self.outcomes[report.nodeid] = report.outcome
        elif report.when == "setup" and (report.failed or report.skipped):
            self.outcomes[report.nodeid] = "error" if report.failed else "skipped"
        elif report.when == "teardown" and report.failed:
            self.teardown_errors += 1
            detail["teardown_failed"] = True

    @property
    def workers(self) -> int:
        return max(1, len(self.nodes))

    def totals(self) -> dict[str, Any]:
        final = list(self.outcomes.items())
        return {
            "passed": sum(1 for nodeid, o in final if o == "passed" and nodeid not in self.rerun),
            "flaky": sum(1 for nodeid, o in final if o == "passed" and nodeid in self.rerun),
            "failed": sum(1 for _, o in final if o == "failed"),
            "skipped": sum(1 for _, o in final if o == "skipped"),
            "errors": sum(1 for _, o in final if o == "error") + self.teardown_errors,
            "reruns": self.reruns,
        }

    def tests(self) -> list[dict[str, Any]]:
        """Each test's final outcome (passed, failed, skipped, flaky, error), attempts,
        duration (ms, its last attempt's setup, call and teardown), message, file and line."""
        rows = []
        for nodeid, detail in self.details.items():
            outcome = self.outcomes.get(nodeid)
            if outcome is None:
                continue  # never got to a final report (interrupted)
            if outcome == "passed" and nodeid in self.rerun:
                outcome = "flaky"
            if outcome in ("passed", "flaky") and detail.get("teardown_failed"):
                outcome = "error"
            path, line, _ = detail["location"] or (None, None, None)
            rows.append({"nodeid": nodeid, "outcome": outcome, "attempts": detail["attempts"],
                         "duration_ms": round(detail["duration"] * 1000), "message": detail["message"],
                         "file": path, "line": None if line is None else line + 1})
        return rows


_COUNTS_KEY = pytest.StashKey[RunCounts]()


def failure_message(report: pytest.TestReport) -> str:
    """``ExcType: message`` of a failed report (pytest's crash line)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "test failed"


def report_message(report: pytest.TestReport) -> str | None:
    """What the run's record of a failed or skipped test says of it: with the secrets its
    recording saw cut out, when it was recorded (an assertion message may quote one)."""
    if hasattr(report, MESSAGE_ATTRIBUTE):
        return getattr(report, MESSAGE_ATTRIBUTE)
    return failure_message(report) if report.failed else skip_reason(report)


def skip_reason(report: pytest.TestReport) -> str | None:
    """Why a test was skipped (pytest's ``(path, line, reason)``), without the "Skipped: "."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RECORDER_KEY] = TestRecorder(config)
    if config.getoption("--record") in ("on", "retain-on-failure") and not _has_playwright_plugin(config):
        config.stash[_MISSING_PLAYWRIGHT_KEY] = True
    if config.pluginmanager.has_plugin("playwright") and not config.pluginmanager.has_plugin("recorder-playwright"):
        # Registered now, after every installed plugin, so its fixtures wrap pytest-playwright's.
        from . import _pytest_fixtures

        config.pluginmanager.register(_pytest_fixtures, "recorder-playwright")
    if not hasattr(config, "workerinput"):
        counts = config.stash[_COUNTS_KEY] = RunCounts()
        config.pluginmanager.register(counts, "recorder-run-counts")


_MISSING_PLAYWRIGHT_KEY = pytest.StashKey[bool]()
MISSING_PLAYWRIGHT = ("recorder: --record needs a `page` fixture and none is installed: pip install 'recorder[sync]'"
                      " (pytest-playwright) or 'recorder[asyncio]' (pytest-playwright-asyncio); nothing is recorded")


def _has_playwright_plugin(config: pytest.Config) -> bool:
    """pytest-playwright or pytest-playwright-asyncio, whatever name they registered under."""
    return any(getattr(plugin, "__name__", "").startswith("pytest_playwright")
               for plugin in config.pluginmanager.get_plugins())


def pytest_report_header(config: pytest.Config) -> str | None:
    return MISSING_PLAYWRIGHT if config.stash.get(_MISSING_PLAYWRIGHT_KEY, False) else None


def pytest_sessionstart(session: pytest.Session) -> None:
    """The xdist controller empties pytest-playwright's output folder once, before it starts
    the workers, who leave it alone (recorder/_pytest_fixtures.py says why)."""
    config = session.config
    if config.pluginmanager.has_plugin("dsession") and config.pluginmanager.has_plugin("recorder-playwright"):
        empty_output_dir(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The controller (or the only process) writes the run's counts."""
    config = session.config
    recorder = config.stash.get(_RECORDER_KEY, None)
    counts = config.stash.get(_COUNTS_KEY, None)
    if recorder is None or counts is None:
        return
    try:
        recorder.finish_run(counts, exitstatus)
    except RecorderError as exc:
        warnings.warn(f"recorder: could not finish run {recorder.run_id} in {recorder.db}: {exc}",
                      RecorderWarning, stacklevel=1)
    if recorder.report_path is not None:
        try:
            recorder.report_line = recorder.write_report()
        except (RecorderError, OSError) as exc:
            recorder.report_line = f"recorder: could not write the report {recorder.report_path}: {exc}"


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_RECORDER_KEY, None)
    if recorder is not None:
        recorder.close()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand the run (its id, start, git and CI) to each worker."""
    recorder = node.config.stash[_RECORDER_KEY]
    node.workerinput["recorder_run_id"] = recorder.run_id
    node.workerinput["recorder_run"] = recorder.run_details()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "setup":  # a new attempt (reruns): forget the last one's reports
        item.stash[_REPORTS_KEY] = {}
    item.stash.setdefault(_REPORTS_KEY, {})[report.when] = report
    scrub = item.stash.get(_SCRUB_KEY, None)
    if scrub is not None and (report.failed or report.skipped):
        message = report_message(report)
        setattr(report, MESSAGE_ATTRIBUTE, None if message is None else scrub(message))
    recording = item.stash.get(_RECORDING_KEY, None)
    if recording is not None and report.failed:
        report.sections.append(("recorder", failure_section(recording)))
        _link_in_pytest_html(item, report, recording)


def _link_in_pytest_html(item: pytest.Item, report: pytest.TestReport, recording: Recording) -> None:
    """With pytest-html (and --record-report), a failed test's row links its recording's viewer."""
    html_path = getattr(item.config.option, "htmlpath", None)
    plugin = item.config.pluginmanager.getplugin("html")
    if not html_path or plugin is None:
        return
    href = item.config.stash[_RECORDER_KEY].viewer_href(recording.id, html_path)
    if href is None:
        return
    try:
        extras = importlib.import_module("pytest_html.extras")  # optional: imported only when it is there
    except ImportError:
        return
    setattr(report, "extras", [*getattr(report, "extras", []), extras.url(href, name=f"recording {recording.id}")])


def failure_section(recording: Recording) -> str:
    """What the failure report shows: the recording id and its last actions."""
    timeline = recording.timeline()
    where = recording.store.location
    lines = [f"recording {recording.id} ({len(timeline)} actions) in {where}",
             f"show it: recorder show {recording.id} --db {where}", "last actions:"]
    for action in timeline[-RECENT_ACTIONS:]:
        status = action["status"] if action["status"] == "ok" else f"ERROR {action['error']}"
        lines.append(f"  {action['sequence']:>4} {action['type']:<9} {action['selector'] or action['url'] or ''}  {status}")
    return "\n".join(lines)


def _is_playwright_page(page: Any) -> bool:
    from playwright.async_api import Page as AsyncPage
    from playwright.sync_api import Page as SyncPage

    return isinstance(page, (SyncPage, AsyncPage))


@contextlib.contextmanager
def _recording(request: pytest.FixtureRequest, page: Any, explicit: bool) -> Iterator[None]:
    """Record ``page`` for the test asking, if the policy says so."""
    recorder: TestRecorder = request.config.stash[_RECORDER_KEY]
    if not recorder.wants(explicit):
        yield
        return
    if not _is_playwright_page(page):  # a project's own fixture that happens to be called `page`
        warnings.warn(f"recorder: {request.node.nodeid} is not recorded: its `page` is a {type(page).__name__},"
                      " not a Playwright Page", RecorderWarning, stacklevel=1)
        yield
        return
    browser_type = getattr(page.context.browser, "browser_type", None)
    attempt = attempt_of(request.node)
    with contextlib.ExitStack() as stack:
        try:
            session = record(
                page, name=request.node.nodeid if attempt == 1 else f"{request.node.nodeid} (attempt {attempt})",
                store=recorder.store,  # opened at the first recorded test: it may fail here
                metadata=recorder.metadata(request.node, browser_type.name if browser_type else None),
                screenshots=recorder.screenshots, dom=recorder.dom, run_id=recorder.run_id,
            )
            recorder.ensure_run()
            stack.enter_context(_entered(session, page))
        except DatabaseError as exc:
            # The database cannot be opened or refuses writes (full disk, read-only file, not
            # a recorder database): the test runs unrecorded.
            warnings.warn(f"recorder: {request.node.nodeid} is not recorded: {exc}", RecorderWarning, stacklevel=1)
            yield
            return
        recording = session.recording
        request.node.stash[_RECORDING_KEY] = recording
        request.node.stash[_SCRUB_KEY] = session.scrub
        request.node.user_properties.append(("recording_id", recording.id))
        request.node.user_properties.append(("recording_db", recorder.store.location))
        yield
        keep, outcome = True, "passed"
        earlier = request.node.stash.setdefault(_ATTEMPTS_KEY, [])
        with _tolerating_disk_trouble():
            keep, outcome = recorder.conclude(recording, request.node.stash.get(_REPORTS_KEY, {}), session.scrub,
                                              earlier)
        earlier.append((recording, outcome))
        if outcome == "flaky":  # JUnit XML and pytest-html say so too
            request.node.user_properties.append(("flaky", "true"))
    if not keep:  # only once the block has written the last screenshots
        with _tolerating_disk_trouble():
            recorder.store.delete(recording.id)
            # JUnit XML takes the properties of the teardown report, made after this.
            request.node.user_properties[:] = [
                (name, value) for name, value in request.node.user_properties
                if name not in ("recording_id", "recording_db")]


@contextlib.contextmanager
def _tolerating_disk_trouble() -> Iterator[None]:
    """A database that refuses writes must not turn a test into an error; the store has warned."""
    try:
        yield
    except DatabaseError:
        pass


@contextlib.contextmanager
def _entered(session: record, page: Any) -> Iterator[None]:
    """Enter ``record()`` from a sync fixture, for a sync page or (pytest-playwright-asyncio) an async one.

    An async page's fixture has run on pytest-asyncio's loop, which is idle while sync
    fixtures run; the recording is started and ended on that same loop.
    """
    from playwright.async_api import Page as AsyncPage

    if not isinstance(page, AsyncPage):
        with session:
            yield
        return
    loop = getattr(getattr(page, "_impl_obj", None), "_loop", None)
    if loop is None:
        raise RecorderError("cannot find the event loop of this async page to record it")
    loop.run_until_complete(session.__aenter__())
    try:
        yield
    finally:
        loop.run_until_complete(session.__aexit__(None, None, None))


@pytest.fixture
def recorded_page(request: pytest.FixtureRequest, page: Any) -> Iterator[Any]:
    """pytest-playwright's ``page``, recorded (unless ``--record off``).

        def test_checkout(recorded_page):
            recorded_page.goto("http://127.0.0.1:8000/")
    """
    with _recording(request, page, explicit=True):
        yield page


@pytest.fixture(autouse=True)
def _recorder_autorecord(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``--record on|retain-on-failure``, record the plain ``page`` fixture too."""
    recorder: TestRecorder = request.config.stash[_RECORDER_KEY]
    uses_page = "page" in request.fixturenames and "recorded_page" not in request.fixturenames
    if not uses_page or recorder.mode not in ("on", "retain-on-failure"):
        yield
        return
    with _recording(request, request.getfixturevalue("page"), explicit=False):
        yield


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    recorder = config.stash.get(_RECORDER_KEY, None)
    if recorder is None or hasattr(config, "workerinput"):
        return
    try:
        found = recorder.summary()
    except RecorderError as exc:
        terminalreporter.write_line(f"recorder: could not read {recorder.db}: {exc}")
        return
    if not found or not found[0]:
        if recorder.report_line:
            terminalreporter.write_line(recorder.report_line)
        return
    kept, path = found
    if recorder.push_to:
        try:
            terminalreporter.write_line(recorder.push(kept))
        except RecorderError as exc:
            terminalreporter.write_line(f"recorder: could not push to {recorder.push_to}: {exc}", red=True)
    failed = [r for r in kept if r.status == "failed"]
    flaky = [r for r in kept if r.user_metadata.get("outcome") == "flaky"]
    terminalreporter.write_sep("-", "recorder")
    terminalreporter.write_line(f"recorder: {len(kept)} recordings kept, {len(failed)} failed"
                                + (f", {len(flaky)} flaky" if flaky else "") + f", in {path} (run {recorder.run_id})")
    for recording in failed:
        terminalreporter.write_line(f"  {recording.name}: recorder show {recording.id} --db {path}")
    if flaky:
        terminalreporter.write_line(f"flaky (failed, then passed on a rerun): recorder stats --flaky --db {path}")
        for recording in flaky:
            terminalreporter.write_line(f"  {recording.user_metadata.get('nodeid')}: recorder show {recording.id}"
                                        f" --db {path}")
    if recorder.report_line:
        terminalreporter.write_line(recorder.report_line)

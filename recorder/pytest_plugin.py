"""pytest plugin: record the tests that use pytest-playwright's ``page``.

Installed with the package (the ``pytest11`` entry point), it works on top of
pytest-playwright, or of pytest-playwright-asyncio (whose async ``page`` is recorded the
same way), and does nothing until asked::

    pytest --record on                  # record every test that uses `page`
    pytest --record retain-on-failure   # keep only the recordings of failed tests
    pytest -n 4 --record on             # pytest-xdist: every worker writes the same database

A test can also ask for ``recorded_page``, which is recorded unless ``--record off``.
Recordings are named after the test's node id and go to ``test-results/recordings.db``
(``--record-db``). The hooks stay thin: what to record and keep is decided in
:class:`TestRecorder`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .errors import DatabaseError, RecorderError
from .browser import launch_options
from .instrument import record
from .storage import is_server_url
from .store import Recording, RecorderWarning, RecordingStore

MODES = ("on", "off", "retain-on-failure")
RECENT_ACTIONS = 5
_RECORDER_KEY = pytest.StashKey["TestRecorder"]()
_RECORDING_KEY = pytest.StashKey[Recording]()
_REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()


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
        self.screenshots: bool = config.getoption("record_screenshots")
        self.dom: bool = config.getoption("record_dom")
        worker_input = getattr(config, "workerinput", None)
        # One run id for the controller and all its xdist workers, so the summary can
        # find this run's recordings in a database that may hold older ones.
        self.run_id: str = worker_input["recorder_run_id"] if worker_input else uuid.uuid4().hex
        self.worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self._store: RecordingStore | None = None

    def wants(self, explicit: bool) -> bool:
        """Record this test? ``explicit`` when it asked for ``recorded_page``."""
        if self.mode == "off":
            return False
        return explicit or self.mode in ("on", "retain-on-failure")

    @property
    def store(self) -> RecordingStore:
        if self._store is None:
            if self.db_path is not None:
                self.db_path.parent.mkdir(parents=True, exist_ok=True)
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
        }

    def conclude(self, recording: Recording, reports: dict[str, pytest.TestReport],
                 scrub: Callable[[str], str] = str) -> bool:
        """End the recording by the test's outcome; return whether policy keeps it.

        ``scrub`` cuts typed secrets out of the failure message (assertion rewriting
        quotes what the page showed)."""
        failed = next((r for r in reports.values() if r.failed), None)
        skipped = any(r.skipped for r in reports.values())
        recording.update_metadata({"outcome": "failed" if failed else "skipped" if skipped else "passed"})
        if failed is not None:
            recording.fail(scrub(failure_message(failed)))
        else:
            recording.complete()
        return failed is not None or self.mode != "retain-on-failure"

    def summary(self) -> tuple[list[Recording], str] | None:
        """This run's kept recordings (every xdist worker's), and where they are."""
        if self.db_path is not None and not self.db_path.exists():
            return None
        with RecordingStore(self.db) as store:
            kept = [r for r in store.list() if r.user_metadata.get("run_id") == self.run_id]
            return kept, store.location

    def push(self, kept: list[Recording]) -> str:
        """Copy this run's kept recordings to ``--record-push``; what happened, in a line."""
        from .push import push

        assert self.push_to is not None
        with RecordingStore(self.db) as source, RecordingStore(self.push_to) as destination:
            result = push(source, destination, ids=[recording.id for recording in kept])
            return (f"recorder: pushed {len(result.pushed)} recordings to {destination.location}"
                    + (f" ({len(result.skipped)} already there)" if result.skipped else ""))


def failure_message(report: pytest.TestReport) -> str:
    """``ExcType: message`` of a failed report (pytest's crash line)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "test failed"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RECORDER_KEY] = TestRecorder(config)
    if config.getoption("--record") in ("on", "retain-on-failure") and not _has_playwright_plugin(config):
        config.stash[_MISSING_PLAYWRIGHT_KEY] = True
    if config.pluginmanager.has_plugin("playwright") and not config.pluginmanager.has_plugin("recorder-chromium"):
        # Registered now, after every installed plugin, so its fixture wraps pytest-playwright's.
        config.pluginmanager.register(_FindChromium(), "recorder-chromium")


_MISSING_PLAYWRIGHT_KEY = pytest.StashKey[bool]()
MISSING_PLAYWRIGHT = ("recorder: --record needs a `page` fixture and none is installed: pip install 'recorder[sync]'"
                      " (pytest-playwright) or 'recorder[asyncio]' (pytest-playwright-asyncio); nothing is recorded")


def _has_playwright_plugin(config: pytest.Config) -> bool:
    """pytest-playwright or pytest-playwright-asyncio, whatever name they registered under."""
    return any(getattr(plugin, "__name__", "").startswith("pytest_playwright")
               for plugin in config.pluginmanager.get_plugins())


def pytest_report_header(config: pytest.Config) -> str | None:
    return MISSING_PLAYWRIGHT if config.stash.get(_MISSING_PLAYWRIGHT_KEY, False) else None


class _FindChromium:
    """pytest-playwright launches Playwright's own Chromium, which may not be installed
    (`playwright install` cannot download everywhere): launch a system one then, so
    existing suites run as they are. Nothing changes where Playwright's own is there."""

    @pytest.fixture(scope="session")
    def browser_type_launch_args(self, browser_type_launch_args: dict[str, Any], browser_name: str) -> dict[str, Any]:
        if browser_name != "chromium":
            return browser_type_launch_args
        return launch_options(**browser_type_launch_args)


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_RECORDER_KEY, None)
    if recorder is not None:
        recorder.close()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand the run id to each worker."""
    node.workerinput["recorder_run_id"] = node.config.stash[_RECORDER_KEY].run_id


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_REPORTS_KEY, {})[report.when] = report
    recording = item.stash.get(_RECORDING_KEY, None)
    if recording is not None and report.failed:
        report.sections.append(("recorder", failure_section(recording, item.config)))


def failure_section(recording: Recording, config: pytest.Config) -> str:
    """What the failure report shows: the recording id and its last actions."""
    recorder = config.stash[_RECORDER_KEY]
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
    session = record(
        page, name=request.node.nodeid, store=recorder.store,
        metadata=recorder.metadata(request.node, browser_type.name if browser_type else None),
        screenshots=recorder.screenshots, dom=recorder.dom,
    )
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_entered(session, page))
        except DatabaseError as exc:
            # The database refuses writes (full disk, read-only file): the test runs unrecorded.
            warnings.warn(f"recorder: {request.node.nodeid} is not recorded: {exc}", RecorderWarning, stacklevel=1)
            yield
            return
        recording = session.recording
        request.node.stash[_RECORDING_KEY] = recording
        request.node.user_properties.append(("recording_id", recording.id))
        request.node.user_properties.append(("recording_db", recorder.store.location))
        yield
        keep = True
        with _tolerating_disk_trouble():
            keep = recorder.conclude(recording, request.node.stash.get(_REPORTS_KEY, {}), session.scrub)
    if not keep:  # only once the block has written the last screenshots
        with _tolerating_disk_trouble():
            recorder.store.delete(recording.id)


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
        return
    kept, path = found
    if recorder.push_to:
        try:
            terminalreporter.write_line(recorder.push(kept))
        except RecorderError as exc:
            terminalreporter.write_line(f"recorder: could not push to {recorder.push_to}: {exc}", red=True)
    failed = [r for r in kept if r.status == "failed"]
    terminalreporter.write_sep("-", "recorder")
    terminalreporter.write_line(f"recorder: {len(kept)} recordings kept, {len(failed)} failed, in {path}")
    for recording in failed:
        terminalreporter.write_line(f"  {recording.name}: recorder show {recording.id} --db {path}")

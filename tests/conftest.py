"""Fixtures shared by every test: a local page server, a real Chromium, a database path,
a real PostgreSQL server (``postgres_server``), a fresh database on it (``postgres_url``),
and ``store_target``: a SQLite file path or a PostgreSQL URL, so that one test runs on both
engines (tests/engines.py runs SQL on either, for tests that look into the database).

pytest-playwright provides ``browser``, ``context`` and ``page``; we only tell it how to
launch a Chromium on this machine (Playwright's own if installed, else the system one).
Async tests drive ``playwright.async_api`` through ``run_async``, which runs a coroutine
on a fresh event loop in its own thread: the sync API's loop lives on the main thread for
the whole session, and two loops must not share one.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from recorder import launch_options
from tests import postgres

PAGES = Path(__file__).parent / "pages"

# The conftest.py of a suite a test runs with pytester (in a subprocess): it launches the
# Chromium this machine has, as this suite does.
PYTESTER_CONFTEST = """
import pytest
from recorder import launch_options

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return launch_options(**browser_type_launch_args)
"""


class _LocalSite:
    """An HTTP server of ``handler`` on 127.0.0.1, port 0, in a thread: ``url``, ``stop()``."""

    def __init__(self, handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.httpd.shutdown()
            self.httpd.server_close()


class PageSite(_LocalSite):
    """A directory (tests/pages/ unless told) served with no caching (edits show at once).
    ``hits`` are the paths asked; ``stop()`` ends it, so a test can check that what was
    recorded needs nothing from the site any more."""

    def __init__(self, directory: Path = PAGES, cache: bool = False) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def end_headers(self) -> None:
                if not cache:  # else as http.server serves: Last-Modified, and the browser's heuristics
                    self.send_header("Cache-Control", "no-store")
                super().end_headers()

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                super().do_GET()

        super().__init__(functools.partial(Handler, directory=str(directory)))


class ArrivingSite(_LocalSite):
    """Pages served in parts, ``pause`` seconds apart: {path: [part, ...]} (``/`` paths, no
    query), each part HTML bytes. The browser commits to a page, and a link or a button that
    led there returns, while the rest of it is still arriving. ``url``, ``stop()``."""

    def __init__(self, pages: dict[str, list[bytes]], pause: float = 0.5) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = pages.get(self.path.split("?")[0])
                if parts is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(sum(map(len, parts))))
                self.end_headers()
                for i, part in enumerate(parts):
                    if i:
                        time.sleep(pause)
                    self.wfile.write(part)
                    self.wfile.flush()

        super().__init__(Handler)


# A suite of three tests that go to APP_URL/app.html: one passes, one always fails (its
# assert followed by {failure}), one fails on every other attempt (a count in FLAKY_COUNTER).
FLAKY_SUITE = """
import os
from pathlib import Path
APP = os.environ["APP_URL"] + "/app.html"
COUNTER = Path(os.environ["FLAKY_COUNTER"])

def test_passes(page):
    page.goto(APP)

def test_always_fails(page):
    page.goto(APP)
    assert page.title() == "Another title"{failure}

def test_flaky(page):
    page.goto(APP)
    n = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(n + 1))
    assert n % 2 == 1, "fails on every other attempt"
"""


def flaky_suite(pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch, *,
                failure_message: str = "", more_tests: str = "") -> pytest.Pytester:
    """A pytester project of FLAKY_SUITE (the always failing test's assert with
    ``failure_message``, if any), ``more_tests`` after it, under PYTESTER_CONFTEST."""
    monkeypatch.setenv("APP_URL", server)
    monkeypatch.setenv("FLAKY_COUNTER", str(pytester.path / "flaky-counter"))
    pytester.makeconftest(PYTESTER_CONFTEST)
    failure = f", {failure_message!r}" if failure_message else ""
    pytester.makepyfile(test_suite=FLAKY_SUITE.format(failure=failure) + more_tests)
    return pytester


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """Base URL of an HTTP server on 127.0.0.1 (port 0) serving tests/pages/."""
    site = PageSite()
    yield site.url
    site.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return launch_options(**browser_type_launch_args)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "recordings.db"


@pytest.fixture
def run_async() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine to completion on a new event loop in a separate thread."""

    def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = asyncio.run(coroutine)
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    return run


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL (``postgresql://recorder@127.0.0.1:PORT/postgres``) of a real PostgreSQL server:
    ``$RECORDER_TEST_POSTGRES_URL`` if set, else a throwaway cluster started for this session
    (one per xdist worker; tests/postgres.py says how) and deleted after it. Fails, saying
    why and how to fix it, when there is none: never skips."""
    why = ""
    if os.environ.get(postgres.URL_ENV):
        url = os.environ[postgres.URL_ENV]
        try:
            postgres.check_server(url)
        except postgres.PostgresUnavailable as exc:
            why = str(exc)
        if why:  # failed outside the except block, so that pytest shows the message once
            pytest.fail(why, pytrace=False)
        yield url
        return
    cluster = None
    try:
        cluster = postgres.start_cluster()
    except postgres.PostgresUnavailable as exc:
        why = str(exc)
    if cluster is None:
        pytest.fail(why, pytrace=False)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """URL of a new, empty database (``test_<hex>``) on ``postgres_server``, dropped after the
    test (even with connections to it still open)."""
    url = postgres.create_database(postgres_server)
    try:
        yield url
    finally:
        postgres.drop_database(postgres_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store keeps its recordings, once per engine: a SQLite file path (as a string,
    in ``tmp_path``, not created yet) or the URL of a fresh empty PostgreSQL database
    (``postgres_url``: a real server, never a skip). ``RecordingStore(store_target)``."""
    if request.param == "sqlite":
        return str(tmp_path / "recordings.db")
    return str(request.getfixturevalue("postgres_url"))

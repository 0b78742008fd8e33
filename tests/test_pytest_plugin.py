"""The pytest plugin, run for real: pytester starts pytest in a subprocess on test files
that drive a real Chromium against the local page server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from recorder import RecordingStore
from recorder.tiles import tile_keys

from tests.conftest import PYTESTER_CONFTEST

pytest_plugins = ["pytester"]

CONFTEST = PYTESTER_CONFTEST

TESTS = """
import os
APP = os.environ["APP_URL"] + "/app.html"

def test_passes(page):
    page.goto(APP)
    page.get_by_label("Name").fill("Ada")
    page.get_by_role("button", name="Save").click()

def test_fails(page):
    page.goto(APP)
    page.get_by_label("Name").fill("Grace")
    assert page.title() == "Another title"
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("APP_URL", server)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def recordings(db: Path) -> dict[str, dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM recordings").fetchall()
    return {row["name"].split("::")[-1].split("[")[0]: {**dict(row), "metadata": json.loads(row["metadata"])} for row in rows}


def test_record_on_records_the_plain_page_fixture_with_outcomes(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--record", "on", "--record-db", "out/rec.db")
    result.assert_outcomes(passed=1, failed=1)
    found = recordings(suite.path / "out/rec.db")
    assert set(found) == {"test_passes", "test_fails"}
    assert found["test_passes"]["status"] == "completed"
    assert found["test_passes"]["metadata"]["outcome"] == "passed"
    failed = found["test_fails"]
    assert failed["status"] == "failed"
    assert "AssertionError" in failed["error"] and "Another title" in failed["error"]
    assert failed["metadata"]["nodeid"] == "test_suite.py::test_fails[chromium]"
    assert failed["metadata"]["file"] == "test_suite.py" and failed["metadata"]["line"] == 9
    assert failed["metadata"]["browser_name"] == "chromium"
    assert failed["action_count"] == 2


def test_without_record_option_nothing_is_recorded(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--record-db", "out/rec.db")
    result.assert_outcomes(passed=1, failed=1)
    assert not (suite.path / "out/rec.db").exists()


def test_retain_on_failure_keeps_failed_recordings_and_shared_blobs(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--record", "retain-on-failure", "--record-db", "rec.db")
    result.assert_outcomes(passed=1, failed=1)
    db = suite.path / "rec.db"
    assert set(recordings(db)) == {"test_fails"}
    with sqlite3.connect(db) as conn:
        used = {key for row in conn.execute("SELECT screenshot_key, dom_snapshot_key FROM actions"
                                            " UNION ALL SELECT blob_key, NULL FROM resources"
                                            " UNION ALL SELECT blob_key, NULL FROM sources") for key in row if key}
        stored = {row[0] for row in conn.execute("SELECT key FROM blobs")}
        bases = {row[0] for row in conn.execute("SELECT base_key FROM blobs WHERE base_key IS NOT NULL")}
    assert used and used <= stored, "a blob the failed recording uses was deleted"
    assert bases <= stored, "a delta's base blob was deleted"
    stored_tiles = {key for key in stored if key.startswith("tile:")}
    orphans = stored - used - bases - stored_tiles
    assert not orphans, f"{len(orphans)} blobs of the passing test were left behind"
    with RecordingStore(db) as store:
        screenshots = {a["screenshot_key"] for a in store.get(recordings(db)["test_fails"]["id"]).timeline()}
        needed_tiles = set()
        for key in screenshots:
            assert store.blob(key)[:3] == b"\xff\xd8\xff", "a kept screenshot lost a tile"
            needed_tiles |= set(tile_keys(store.stored_blob(key)))
    assert stored_tiles == needed_tiles, "tiles only the passing test used were left behind"


def test_recorded_page_records_without_the_option_and_not_with_off(pytester: pytest.Pytester, server: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", server)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_explicit="""
import os
def test_explicit(recorded_page):
    recorded_page.goto(os.environ["APP_URL"] + "/app.html")
    assert recorded_page.recording.status == "recording"
""")
    pytester.runpytest_subprocess("--record-db", "a.db").assert_outcomes(passed=1)
    assert recordings(pytester.path / "a.db")["test_explicit"]["action_count"] == 1
    pytester.runpytest_subprocess("--record", "off", "--record-db", "b.db").assert_outcomes(failed=1)
    assert not (pytester.path / "b.db").exists()


def test_failure_report_summary_and_junit_carry_the_recording(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--record", "on", "--record-db", "rec.db", "--junitxml", "junit.xml")
    failed_id = recordings(suite.path / "rec.db")["test_fails"]["id"]
    output = result.stdout.str()
    # the failure's own section: recording id and its last actions
    assert f"recording {failed_id} (2 actions)" in output
    assert 'type      get_by_label("Name")  ok' in output
    # the summary line and the command that shows the failed test's recording
    assert "recorder: 2 recordings kept, 1 failed" in output
    assert f"recorder show {failed_id} --db rec.db" in output
    junit = ElementTree.parse(suite.path / "junit.xml")
    properties = {
        case.get("name").split("[")[0]: {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in junit.iter("testcase")
    }
    assert properties["test_fails"]["recording_id"] == str(failed_id)


def test_xdist_workers_share_one_database_without_losing_actions(pytester: pytest.Pytester, server: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", server)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_many="""
import os, pytest
@pytest.mark.parametrize("n", range(4))
def test_types(page, n):
    page.goto(os.environ["APP_URL"] + "/app.html")
    for i in range(15):
        page.get_by_label("Name").fill(f"worker text {n}-{i}")
""")
    result = pytester.runpytest_subprocess("-n", "2", "--record", "on", "--record-db", "rec.db")
    result.assert_outcomes(passed=4)
    assert "database is locked" not in result.stdout.str() + result.stderr.str()
    with sqlite3.connect(pytester.path / "rec.db") as conn:
        found = {name: {"id": id_, "metadata": json.loads(meta)}
                 for id_, name, meta in conn.execute("SELECT id, name, metadata FROM recordings")}
    assert len(found) == 4
    assert {r["metadata"]["xdist_worker"] for r in found.values()} == {"gw0", "gw1"}
    with sqlite3.connect(pytester.path / "rec.db") as conn:
        for recording in found.values():
            sequences = [row[0] for row in conn.execute(
                "SELECT sequence FROM actions WHERE recording_id = ? ORDER BY sequence", (recording["id"],))]
            assert sequences == list(range(1, 17))
    assert "recorder: 4 recordings kept, 0 failed" in result.stdout.str()


@pytest.fixture(scope="session")
def asyncio_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest-playwright-asyncio, installed aside: it refuses to share a run with pytest-playwright."""
    target = tmp_path_factory.mktemp("asyncio-plugin")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                    "--target", str(target), "pytest-playwright-asyncio"], check=True)
    return target


def test_pytest_playwright_asyncio_page_is_recorded(pytester: pytest.Pytester, server: str, asyncio_plugin_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", server)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(asyncio_plugin_path), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_async_suite="""
import os, pytest
APP = os.environ["APP_URL"] + "/app.html"

@pytest.mark.asyncio(loop_scope="session")
async def test_async_passes(page):
    await page.goto(APP)
    await page.get_by_label("Name").fill("async Ada")

@pytest.mark.asyncio(loop_scope="session")
async def test_async_fails(page):
    await page.goto(APP)
    assert await page.title() == "Another title"
""")
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--record", "on", "--record-db", "rec.db")
    result.assert_outcomes(passed=1, failed=1)
    found = recordings(pytester.path / "rec.db")
    assert found["test_async_passes"]["status"] == "completed" and found["test_async_passes"]["action_count"] == 2
    assert found["test_async_fails"]["status"] == "failed" and "Another title" in found["test_async_fails"]["error"]


def test_pytest_playwright_options_keep_working_alongside(suite: pytest.Pytester, server: str) -> None:
    suite.makepyfile(test_base_url="""
def test_relative(page):
    page.goto("/app.html")
    page.get_by_label("Name").fill("relative")
""")
    result = suite.runpytest_subprocess("--record", "on", "--record-db", "rec.db", "--tracing", "on",
                                        "--screenshot", "on", "--base-url", server, "--output", "artifacts")
    result.assert_outcomes(passed=2, failed=1)
    found = recordings(suite.path / "rec.db")
    assert found["test_relative"]["action_count"] == 2 and found["test_relative"]["status"] == "completed"
    artifacts = [p.name for p in (suite.path / "artifacts").rglob("*") if p.is_file()]
    assert sum(name == "trace.zip" for name in artifacts) == 3
    assert sum(name.endswith(".png") for name in artifacts) == 3


DISK_TROUBLE = """
import os
APP = os.environ["APP_URL"] + "/app.html"

def test_goes_on_when_the_database_turns_read_only(page):
    page.goto(APP)
    store = page.recording.store
    store.flush()
    # What a read-only file or a full disk does to the plugin's own connection.
    store._writer.call_outside_transaction(lambda conn: conn.execute("PRAGMA query_only = ON"))
    page.get_by_label("Name").fill("Ada")
    assert page.get_by_label("Name").input_value() == "Ada"

def test_fails_for_its_own_reason(page):
    page.goto(APP)
    assert page.title() == "Another title"
"""


@pytest.mark.parametrize("mode", ["on", "retain-on-failure"])
def test_a_database_that_refuses_writes_warns_but_fails_no_test(pytester: pytest.Pytester, server: str,
                                                               monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("APP_URL", server)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_disk=DISK_TROUBLE)
    result = pytester.runpytest_subprocess("--record", mode, "--record-db", "out/rec.db", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)  # no errors at teardown
    result.stdout.fnmatch_lines(["*RecorderWarning: recorder: could not write to *rec.db: attempt to write a readonly database*"])
    found = recordings(pytester.path / "out/rec.db")
    assert found["test_goes_on_when_the_database_turns_read_only"]["action_count"] >= 1  # the goto, saved before


@pytest.mark.parametrize("where", ["a text file", "under a file"])
def test_a_database_that_cannot_be_opened_warns_and_runs_every_test_unrecorded(
        suite: pytest.Pytester, where: str) -> None:
    # Every test was an ERROR: the store was opened outside the plugin's guard.
    (suite.path / "notes.txt").write_text("not a database\n")
    db = "notes.txt" if where == "a text file" else "notes.txt/rec.db"
    result = suite.runpytest_subprocess("--record", "on", "--record-db", db)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RecorderWarning: recorder: test_suite.py::test_passes* is not recorded: *notes.txt*"])
    assert (suite.path / "notes.txt").read_text() == "not a database\n"


def test_junit_names_no_recording_retain_on_failure_deleted(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--record", "retain-on-failure", "--record-db", "rec.db", "--junitxml", "j.xml")
    result.assert_outcomes(passed=1, failed=1)
    properties = {
        case.get("name").split("[")[0]: {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ElementTree.parse(suite.path / "j.xml").iter("testcase")
    }
    assert properties["test_fails"]["recording_id"] == str(recordings(suite.path / "rec.db")["test_fails"]["id"])
    assert "recording_id" not in properties["test_passes"] and "recording_db" not in properties["test_passes"]


def test_a_projects_own_page_fixture_is_left_alone(pytester: pytest.Pytester) -> None:
    """--record on broke every test whose `page` was not a Playwright Page."""
    pytester.makeconftest("""
import pytest

@pytest.fixture
def page():
    return {"not": "a browser page"}
""")
    pytester.makepyfile(test_own="def test_uses_its_own_page(page):\n    assert page['not'] == 'a browser page'\n")
    result = pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db", "-p", "no:playwright")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RecorderWarning: recorder: test_own.py::test_uses_its_own_page is not recorded:"
                                 " its `page` is a dict, not a Playwright Page*"])


def test_an_existing_suite_runs_without_any_browser_configuration(pytester: pytest.Pytester, server: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No conftest at all: where Playwright's own Chromium is not installed, the plugin
    points pytest-playwright at the system one."""
    monkeypatch.setenv("APP_URL", server)
    pytester.makepyfile(test_plain=TESTS)
    result = pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db")
    result.assert_outcomes(passed=1, failed=1)
    assert set(recordings(pytester.path / "rec.db")) == {"test_passes", "test_fails"}


def test_record_without_pytest_playwright_says_what_to_install(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="""
def test_nothing_to_do_with_a_browser():
    assert 1 + 1 == 2
""")
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--record", "on", "--record-db", "rec.db")
    result.assert_outcomes(passed=1)
    lines = [line for line in result.outlines if line.startswith("recorder:")]
    assert lines == ["recorder: --record needs a `page` fixture and none is installed: pip install 'recorder[sync]'"
                     " (pytest-playwright) or 'recorder[asyncio]' (pytest-playwright-asyncio); nothing is recorded"]
    assert not (pytester.path / "rec.db").exists()
    # With pytest-playwright there, nothing is said.
    quiet = pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db")
    assert not [line for line in quiet.outlines if "needs a `page` fixture" in line]

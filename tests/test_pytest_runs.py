"""The pytest plugin's runs, for real (pytester subprocesses, a real Chromium): each session
is a run with its counts; with pytest-rerunfailures every attempt is recorded and a test
that failed then passed is flaky; pytest-xdist workers share the run and lose nothing to
pytest-playwright's cleaning of test-results/; and recorder adds no warning of its own."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from click.testing import CliRunner

from recorder import RecordingStore
from recorder.cli import main

from tests.conftest import PYTESTER_CONFTEST, flaky_suite

pytest_plugins = ["pytester"]

CONFTEST = PYTESTER_CONFTEST


@pytest.fixture
def suite(pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return flaky_suite(pytester, server, monkeypatch)


def assert_rerun_outcomes(result: pytest.RunResult) -> None:
    """One passed (the flaky test's rerun too), one failed, two reruns."""
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed"), outcomes.get("rerun")) == (2, 1, 2), outcomes


def rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        found = conn.execute("SELECT id, name, status, run_id, metadata FROM recordings ORDER BY id").fetchall()
    return [{**dict(row), "metadata": json.loads(row["metadata"])} for row in found]


def short(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def test_two_runs_with_reruns_record_every_attempt_and_mark_the_flaky_test(suite: pytest.Pytester) -> None:
    for n in (1, 2):
        result = suite.runpytest_subprocess("--reruns", "1", "--record", "on", "--record-db", "rec.db",
                                            "--junitxml", f"junit{n}.xml")
        assert_rerun_outcomes(result)
        assert "1 flaky" in result.stdout.str() and "recorder stats --flaky" in result.stdout.str()
    with RecordingStore(suite.path / "rec.db", readonly=True) as store:
        runs = store.runs()
    assert len(runs) == 2 and all(run.ended_at for run in runs)
    for run in runs:
        assert (run.passed, run.failed, run.flaky, run.skipped, run.errors, run.reruns) == (1, 1, 1, 0, 0, 2)
        assert run.exit_status == 1 and run.workers == 1 and run.recordings == 5
    recorded = rows(suite.path / "rec.db")
    assert len(recorded) == 10 and {r["run_id"] for r in recorded} == {run.id for run in runs}
    last = [r for r in recorded if r["run_id"] == runs[0].id]
    by = {(short(r["metadata"]["nodeid"]), r["metadata"]["attempt"]): r for r in last}
    assert set(by) == {("test_passes", 1), ("test_always_fails", 1), ("test_always_fails", 2),
                       ("test_flaky", 1), ("test_flaky", 2)}
    assert by[("test_flaky", 1)]["metadata"]["outcome"] == "failed" and by[("test_flaky", 1)]["metadata"]["flaky"]
    assert by[("test_flaky", 2)]["metadata"]["outcome"] == "flaky" and by[("test_flaky", 2)]["status"] == "completed"
    assert by[("test_flaky", 2)]["name"].endswith("(attempt 2)")
    assert not by[("test_always_fails", 2)]["metadata"].get("flaky")
    assert by[("test_passes", 1)]["metadata"]["outcome"] == "passed"
    # JUnit XML carries the flaky mark
    tree = ElementTree.parse(suite.path / "junit2.xml")
    properties = {case.get("name").split("[")[0]: [(p.get("name"), p.get("value")) for p in case.iter("property")]
                  for case in tree.iter("testcase")}
    assert ("flaky", "true") in properties["test_flaky"]
    assert all(name != "flaky" for name, _ in properties["test_passes"] + properties["test_always_fails"])
    # recorder stats --flaky names it, and only it
    out = CliRunner().invoke(main, ["stats", "--flaky", "--runs", "2", "--json", "--db", str(suite.path / "rec.db")])
    assert out.exit_code == 0, out.output
    flaky = json.loads(out.output)["flaky tests"]
    assert [short(row["test"]) for row in flaky] == ["test_flaky"]
    assert (flaky[0]["runs"], flaky[0]["flaky"], flaky[0]["failed"]) == (2, 2, 2)
    listed = CliRunner().invoke(main, ["runs", "--db", str(suite.path / "rec.db")])
    assert listed.exit_code == 0 and runs[0].id[:12] in listed.output


def test_retain_on_failure_keeps_the_failed_and_the_passing_attempts_of_a_flaky_test(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--reruns", "1", "--record", "retain-on-failure", "--record-db", "rec.db")
    assert_rerun_outcomes(result)
    kept = {(short(r["metadata"]["nodeid"]), r["metadata"]["attempt"]): r["metadata"]["outcome"]
            for r in rows(suite.path / "rec.db")}
    assert kept == {("test_always_fails", 1): "failed", ("test_always_fails", 2): "failed",
                    ("test_flaky", 1): "failed", ("test_flaky", 2): "flaky"}


def test_xdist_workers_share_the_run_and_keep_every_recording(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-n", "2", "--reruns", "1", "--record", "on", "--record-db", "rec.db")
    assert_rerun_outcomes(result)
    with RecordingStore(suite.path / "rec.db", readonly=True) as store:
        (run,) = store.runs()
    assert (run.passed, run.failed, run.flaky, run.reruns, run.workers, run.recordings) == (1, 1, 1, 2, 2, 5)
    recorded = rows(suite.path / "rec.db")
    assert len(recorded) == 5 and {r["run_id"] for r in recorded} == {run.id}
    assert {r["metadata"]["xdist_worker"] for r in recorded} <= {"gw0", "gw1"}


STAGGERED_CONFTEST = CONFTEST + """
import os, time
from pathlib import Path

DONE = Path(os.environ["EARLY_DONE"])

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # The late worker starts its first test (and so pytest-playwright's cleaning of
    # test-results/) only once the early worker's recording is written.
    if item.name.startswith("test_late"):
        deadline = time.monotonic() + 60
        while not DONE.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

def pytest_runtest_logreport(report):
    if report.when == "teardown" and "test_early" in report.nodeid:
        DONE.write_text("done")
"""


def test_a_late_xdist_worker_does_not_delete_what_an_earlier_one_recorded(
        pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", server)
    monkeypatch.setenv("EARLY_DONE", str(pytester.path / "early-done"))
    pytester.makeconftest(STAGGERED_CONFTEST)
    pytester.makepyfile(
        test_a_early="import os\n\ndef test_early(page):\n    page.goto(os.environ['APP_URL'] + '/app.html')\n",
        test_b_late="import os\n\ndef test_late(page):\n    page.goto(os.environ['APP_URL'] + '/app.html')\n")
    # the default --record-db: test-results/recordings.db, in pytest-playwright's output folder
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "--record", "on")
    result.assert_outcomes(passed=2)
    assert (pytester.path / "early-done").exists()
    recorded = rows(pytester.path / "test-results" / "recordings.db")
    assert sorted(short(r["name"]) for r in recorded) == ["test_early", "test_late"]
    assert len({r["metadata"]["xdist_worker"] for r in recorded}) == 2
    assert "recorder: 2 recordings kept" in result.stdout.str()


def test_a_recorded_suite_shows_no_warning_of_recorders(pytester: pytest.Pytester, server: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # No conftest: the plugin's own fixture finds the browser (the one pytest 9 warned about).
    monkeypatch.setenv("APP_URL", server)
    pytester.makepyfile(test_one="import os\n\ndef test_one(page):\n    page.goto(os.environ['APP_URL'] + '/app.html')\n")
    result = pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db", "-W", "default")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    warnings = output.split("warnings summary", 1)[1] if "warnings summary" in output else ""
    for name in ("browser_type_launch_args", "delete_output_dir", "recorded_page", "_recorder_autorecord",
                 "recorder/", "RecorderWarning", "instance methods"):
        assert name not in warnings, warnings


def test_no_fixture_of_recorders_is_an_instance_method() -> None:
    # pytest 9.x (after 9.0.3, installed here) warns of session fixtures defined as instance
    # methods (PytestRemovedIn10Warning): recorder's fixtures are all module-level functions.
    import inspect

    from recorder import _pytest_fixtures, pytest_plugin

    def is_fixture(value: object) -> bool:
        return type(value).__name__ == "FixtureFunctionDefinition" or hasattr(value, "_pytestfixturefunction")

    for module in (pytest_plugin, _pytest_fixtures):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                assert not [name for name, value in vars(cls).items() if is_fixture(value)], cls
    assert is_fixture(_pytest_fixtures.browser_type_launch_args) and is_fixture(_pytest_fixtures.delete_output_dir)


FLAKY_FILL = """
import os
from pathlib import Path
APP = os.environ["APP_URL"] + "/app.html"
COUNTER = Path(os.environ["FLAKY_COUNTER"])

def test_flaky_fill(page):
    page.goto(APP)
    n = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(n + 1))
    page.get_by_label("Name").fill("Grace" if n == 0 else "Ada")  # the first attempt types the wrong name
    page.get_by_role("button", name="Save").click()
    assert n == 1, "the first attempt fails"
"""


def test_diff_of_a_flaky_tests_attempts_points_at_the_step_that_differed(
        pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", server)
    monkeypatch.setenv("FLAKY_COUNTER", str(pytester.path / "flaky-counter"))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_flaky_fill=FLAKY_FILL)
    result = pytester.runpytest_subprocess("--reruns", "1", "--record", "on", "--record-db", "rec.db")
    assert result.parseoutcomes().get("rerun") == 1
    failed, passed = [row for row in rows(pytester.path / "rec.db")]
    assert failed["metadata"]["outcome"] == "failed" and passed["metadata"]["outcome"] == "flaky"
    shown = CliRunner().invoke(main, ["diff", str(failed["id"]), str(passed["id"]), "--db",
                                      str(pytester.path / "rec.db"), "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    first = report["first_difference"]
    assert first["a"] == 2 and first["b"] == 2 and "value" in first["kinds"], first


def test_a_test_whose_teardown_fails_counts_as_pytest_counts_it_and_its_own_row_says_error(
        pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", server)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_t="""
import os
import pytest

@pytest.fixture
def breaks_at_teardown():
    yield
    raise RuntimeError("teardown broke")

def test_tears_down_badly(page, breaks_at_teardown):
    page.goto(os.environ['APP_URL'] + '/app.html')

def test_fine(page):
    page.goto(os.environ['APP_URL'] + '/app.html')
""")
    result = pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db")
    result.assert_outcomes(passed=2, errors=1)  # pytest: "2 passed, 1 error"
    with RecordingStore(pytester.path / "rec.db", readonly=True) as store:
        (run,) = store.runs()
        tests = {short(t["nodeid"]): (t["outcome"], t["message"]) for t in store.run_tests(run.id)}
    # The run's counts are pytest's own line; each test's row is its one final outcome.
    assert (run.passed, run.failed, run.errors) == (2, 0, 1)
    assert tests == {"test_tears_down_badly": ("error", "RuntimeError: teardown broke"), "test_fine": ("passed", None)}

"""The report of a run, for real: a pytester suite (a passing, an always-failing and a
flaky test) recorded with reruns writes ``--record-report``; the report, opened from
file:// offline in Chromium, lists the three outcomes, filters by outcome, and opens the
failed test's viewer; ``recorder report`` writes it from the CLI and refuses bad input in
one line; with pytest-html, the failed test's row links its viewer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, expect

from recorder import RecordingStore
from recorder.cli import main

from tests.conftest import flaky_suite

pytest_plugins = ["pytester"]

# The failure message is the test's own text: the report must show it as text.
FAILURE = "<img src=x onerror=window.__pwned=1> not the title"
SKIPPED = """
def test_skipped():
    import pytest
    pytest.skip("not today")
"""
VIOLATION = re.compile(r"Refused to|Content Security Policy", re.IGNORECASE)


@pytest.fixture
def suite(pytester: pytest.Pytester, server: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return flaky_suite(pytester, server, monkeypatch, failure_message=FAILURE, more_tests=SKIPPED)


def short(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def offline(page: Page) -> list[str]:
    """Cut the page off the network (file:// only) and collect its policy violations."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text) if VIOLATION.search(message.text) else None)
    page.context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
    return found


def shown(page: Page) -> dict[str, str]:
    """The visible rows: test name -> outcome."""
    rows = page.locator("#rows tr.test:not([hidden])")
    return {short(row.get_attribute("data-nodeid")): row.get_attribute("data-outcome")
            for row in rows.all()}


def test_the_report_of_a_rerun_suite_lists_every_outcome_filters_and_opens_the_viewer(
        suite: pytest.Pytester, page: Page) -> None:
    result = suite.runpytest_subprocess("--reruns", "1", "--record", "on", "--record-db", "rec.db",
                                        "--record-report", "out/report.html", "--html", "out/pytest.html")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed"), outcomes.get("skipped")) == (2, 1, 1), outcomes
    report = suite.path / "out" / "report.html"
    assert f"recorder: report of 4 tests: {report}" in result.stdout.str()
    with RecordingStore(suite.path / "rec.db", readonly=True) as store:
        (run,) = store.runs()
        tests = {short(row["nodeid"]): row for row in store.run_tests(run.id)}
        last_attempt = max(r.id for r in store.list() if r.status == "failed" and "always_fails" in r.name)
    assert {name: (row["outcome"], row["attempts"]) for name, row in tests.items()} == {
        "test_passes": ("passed", 1), "test_always_fails": ("failed", 2), "test_flaky": ("flaky", 2),
        "test_skipped": ("skipped", 1)}
    assert "not the title" in tests["test_always_fails"]["message"] and tests["test_skipped"]["message"] == "not today"
    assert tests["test_passes"]["duration_ms"] > 0 and tests["test_passes"]["line"] == 6
    viewers = sorted(p.name for p in (suite.path / "out" / "report-files").iterdir())
    assert len(viewers) == 5  # every attempt's recording

    # pytest-html: the failed test's row links its last attempt's viewer, relative to its report
    pytest_html = (suite.path / "out" / "pytest.html").read_text()
    assert f"report-files/recording-{last_attempt}.html" in pytest_html

    violations = offline(page)
    page.goto(report.as_uri())
    assert shown(page) == {"test_passes": "passed", "test_always_fails": "failed", "test_flaky": "flaky",
                           "test_skipped": "skipped"}
    expect(page.locator("#run-meta")).to_contain_text(run.id)
    failing = page.locator("#rows tr[data-outcome=failed]")
    expect(failing.locator("td.message")).to_contain_text("<img src=x onerror=window.__pwned=1> not the title")
    assert page.evaluate("() => window.__pwned === undefined && !document.querySelector('#rows img')")
    expect(failing.locator("a.recording-link")).to_have_count(2)  # both attempts, folded under the test
    expect(page.locator("#rows tr[data-outcome=flaky] a.recording-link")).to_have_count(2)
    expect(page.locator("#rows tr[data-outcome=passed] td.attempts")).to_have_text("1")

    # filtering by outcome
    page.locator("#show-passed").uncheck()
    page.locator("#show-skipped").uncheck()
    assert shown(page) == {"test_always_fails": "failed", "test_flaky": "flaky"}
    page.locator("#show-failed").uncheck()
    page.locator("#show-flaky").uncheck()
    assert shown(page) == {} and page.locator("#empty").is_visible()
    page.locator("#show-failed").check()
    assert shown(page) == {"test_always_fails": "failed"}

    # the failed test's last attempt opens its viewer
    failing.locator("a.recording-link").last.click()
    page.wait_for_url(re.compile(rf"report-files/recording-{last_attempt}\.html$"))
    expect(page.locator("#name")).to_contain_text("test_always_fails")
    expect(page.locator("#error")).to_contain_text("not the title")
    expect(page.locator("#rows .row").first).to_be_visible()
    assert violations == []


def test_retain_on_failure_lists_the_tests_it_kept_no_recording_of(suite: pytest.Pytester, page: Page) -> None:
    result = suite.runpytest_subprocess("--reruns", "1", "--record", "retain-on-failure", "--record-db", "rec.db",
                                        "--record-report", "report.html")
    assert "recorder: report of 4 tests" in result.stdout.str()
    violations = offline(page)
    page.goto((suite.path / "report.html").as_uri())
    assert shown(page) == {"test_passes": "passed", "test_always_fails": "failed", "test_flaky": "flaky",
                           "test_skipped": "skipped"}
    expect(page.locator("#rows tr[data-outcome=passed]")).to_contain_text("not recorded")
    expect(page.locator("#rows tr[data-outcome=failed] a.recording-link")).to_have_count(2)
    assert violations == []


def test_recorder_report_from_the_cli_and_its_one_line_errors(suite: pytest.Pytester, tmp_path: Path) -> None:
    suite.runpytest_subprocess("--reruns", "1", "--record", "on", "--record-db", "rec.db")
    db = str(suite.path / "rec.db")
    with RecordingStore(db, readonly=True) as store:
        (run,) = store.runs()
    out = tmp_path / "ci" / "report.html"
    done = CliRunner().invoke(main, ["report", "--last", "--db", db, "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert f"(run {run.id[:12]}, 4 tests)" in done.output and out.is_file()
    assert len(list((tmp_path / "ci" / "report-files").glob("recording-*.html"))) == 5
    by_id = CliRunner().invoke(main, ["report", "--run", run.id[:8], "--db", db, "-o", str(tmp_path / "r2.html")])
    assert by_id.exit_code == 0, by_id.output

    unknown = CliRunner().invoke(main, ["report", "--run", "ffffffff", "--db", db, "-o", str(tmp_path / "x.html")])
    assert unknown.exit_code == 1 and unknown.output.strip().count("\n") == 0
    assert unknown.output.startswith("error: no run with id 'ffffffff'")
    assert not (tmp_path / "x.html").exists()

    empty = tmp_path / "empty.db"
    RecordingStore(empty).close()
    nothing = CliRunner().invoke(main, ["report", "--db", str(empty), "-o", str(tmp_path / "x.html")])
    assert nothing.exit_code == 1 and nothing.output.startswith("error: no runs in") and "holds no recordings" in nothing.output

    outside = tmp_path / "outside.db"
    with RecordingStore(outside) as store:
        store.start("by hand").complete()
    no_run = CliRunner().invoke(main, ["report", "--db", str(outside), "-o", str(tmp_path / "x.html")])
    assert no_run.exit_code == 1 and "not made by pytest" in no_run.output and no_run.output.count("\n") == 1

    both = CliRunner().invoke(main, ["report", "--last", "--run", run.id, "--db", db])
    assert both.exit_code == 2 and "not both" in both.output


def test_a_run_without_tests_says_so(tmp_path: Path, page: Page) -> None:
    db = tmp_path / "rec.db"
    with RecordingStore(db) as store:
        store.start_run("abcdef123456", git_branch="main", git_commit="0123456789abcdef",
                        ci_name="github-actions", ci_build_url="https://ci.example/build/7")
    done = CliRunner().invoke(main, ["report", "--db", str(db), "-o", str(tmp_path / "report.html")])
    assert done.exit_code == 0, done.output
    violations = offline(page)
    page.goto((tmp_path / "report.html").as_uri())
    expect(page.locator("#no-tests")).to_be_visible()
    expect(page.locator("#run-meta")).to_contain_text("main @ 0123456789abcdef")
    expect(page.locator("#run-meta a")).to_have_attribute("href", "https://ci.example/build/7")
    assert violations == []


def test_a_runs_tests_are_stored_alike_on_both_engines(store_target: str, tmp_path: Path) -> None:
    with RecordingStore(store_target) as store:
        store.start_run("feedc0de0001")
        store.record_run_tests("feedc0de0001", [
            {"nodeid": "t.py::test_b", "outcome": "flaky", "attempts": 2, "duration_ms": 1200, "message": None,
             "file": "t.py", "line": 9},
            {"nodeid": "t.py::test_a", "outcome": "failed", "message": "AssertionError: no", "file": "t.py", "line": 3}])
        store.finish_run("feedc0de0001", exit_status=1, failed=1, flaky=1)
        assert [(t["nodeid"], t["outcome"], t["attempts"]) for t in store.run_tests("feedc0de0001")] == [
            ("t.py::test_a", "failed", 1), ("t.py::test_b", "flaky", 2)]
        store.record_run_tests("feedc0de0001", [{"nodeid": "t.py::test_a", "outcome": "passed"}])  # replaces
        assert [t["outcome"] for t in store.run_tests("feedc0de0001")] == ["passed"]
    done = CliRunner().invoke(main, ["report", "--run", "feedc0de", "--db", store_target, "-o",
                                     str(tmp_path / "report.html")])
    assert done.exit_code == 0 and "1 test)" in done.output, done.output


def test_under_xdist_the_controller_writes_the_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-n", "2", "--reruns", "1", "--record", "retain-on-failure",
                                        "--record-db", "rec.db", "--record-report", "report.html")
    assert result.stdout.str().count("recorder: report of 4 tests") == 1
    with RecordingStore(suite.path / "rec.db", readonly=True) as store:
        (run,) = store.runs()
        outcomes = {short(t["nodeid"]): t["outcome"] for t in store.run_tests(run.id)}
    assert outcomes == {"test_passes": "passed", "test_always_fails": "failed", "test_flaky": "flaky",
                        "test_skipped": "skipped"}
    assert len(list((suite.path / "report-files").iterdir())) == 4  # the kept recordings only


def test_the_reports_markup_has_no_inline_handler_and_its_policy_allows_only_its_own_files() -> None:
    from recorder.report import report_policy
    from recorder.viewer.page import asset, source_hash

    assert not re.search(r"<[^>]*\son\w+\s*=", asset("report.html"))
    assert not re.search(r"\.on(click|change|input|keydown|submit)\s*=", asset("report.js"))
    policy = {name: sources for name, *sources in (part.split() for part in report_policy().split(";"))}
    assert policy["script-src"] == [source_hash(asset("report.js"))]
    assert policy["style-src"] == [source_hash(asset("report.css"))] and policy["default-src"] == ["'none'"]

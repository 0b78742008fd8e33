"""Runs (pytest sessions) in the store, and what is read across them: flaky tests and the
slowest selectors. Each test runs on SQLite and on PostgreSQL (``store_target``)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from recorder import RecordingStore
from recorder.cli import main
from recorder.errors import ReadOnlyStore, RunNotFound


def _attempt(store: RecordingStore, run_id: str, nodeid: str, outcome: str, *, attempt: int = 1,
             owner: str | None = None, selector_ms: int | None = None) -> None:
    recording = store.start(nodeid if attempt == 1 else f"{nodeid} (attempt {attempt})", run_id=run_id, owner=owner,
                            metadata={"source": "pytest", "nodeid": nodeid, "run_id": run_id, "attempt": attempt,
                                      "outcome": outcome})
    if selector_ms is not None:
        recording.record_action("click", selector="#pay", duration_ms=selector_ms)
    recording.fail("AssertionError") if outcome == "failed" else recording.complete()


def test_a_run_is_stored_once_and_finished_with_its_counts(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        assert store.runs() == [] and store.last_run() is None
        run = store.start_run("a" * 32, workers=2, git_commit="abc123", git_branch="main", ci_name="github-actions",
                              ci_build_url="https://ci.example/1", metadata={"args": ["-n", "2"]})
        again = store.start_run("a" * 32, workers=5)  # a worker attaching: the controller's row stays
        assert again.workers == 2 and again.git_commit == "abc123" and again.metadata == {"args": ["-n", "2"]}
        recording = store.start("t", run_id=run.id)
        recording.complete()
        assert store.get(recording.id).run_id == run.id and store.start("no run").run_id is None
        finished = store.finish_run(run.id, exit_status=1, passed=3, failed=1, flaky=1, reruns=2)
        assert (finished.passed, finished.failed, finished.flaky, finished.reruns, finished.exit_status) == (3, 1, 1, 2, 1)
        assert finished.ended_at and finished.started_at == run.started_at and finished.recordings == 1
        assert store.get_run(run.id[:6]) == finished and store.last_run() == finished
        with pytest.raises(RunNotFound, match="no run with id 'ffff'"):
            store.get_run("ffff")
        with pytest.raises(ValueError, match="a run counts"):
            store.finish_run(run.id, bogus=1)


def test_flaky_tests_within_a_run_and_across_runs(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        first, second = store.start_run("1" * 32), store.start_run("2" * 32, started_at="2999-01-01T00:00:00+00:00")
        _attempt(store, first.id, "t.py::test_ok", "passed", selector_ms=10)
        _attempt(store, first.id, "t.py::test_broken", "failed", selector_ms=500)
        _attempt(store, first.id, "t.py::test_flaky", "failed")
        _attempt(store, first.id, "t.py::test_flaky", "flaky", attempt=2)
        _attempt(store, first.id, "t.py::test_wobbly", "passed")
        _attempt(store, second.id, "t.py::test_ok", "passed", selector_ms=30)
        _attempt(store, second.id, "t.py::test_broken", "failed")
        _attempt(store, second.id, "t.py::test_wobbly", "failed")
        store.start("outside pytest").complete()
        flaky = {row["test"]: row for row in store.flaky_tests()}
        assert set(flaky) == {"t.py::test_flaky", "t.py::test_wobbly"}
        assert (flaky["t.py::test_flaky"]["attempts"], flaky["t.py::test_flaky"]["flaky"]) == (2, 1)
        assert (flaky["t.py::test_wobbly"]["runs"], flaky["t.py::test_wobbly"]["runs_failed"]) == (2, 1)
        assert store.flaky_tests(runs=1) == []  # the latest run alone: nothing changed within it
        slowest = store.slowest_selectors()
        assert slowest[0]["selector"] == "#pay" and slowest[0]["actions"] == 3 and slowest[0]["runs"] == 2
        assert store.slowest_selectors(runs=1)[0]["max_ms"] == 30


def test_scoped_and_readonly_stores(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        mine, theirs = store.start_run("m" * 32), store.start_run("t" * 32)
        _attempt(store, mine.id, "t.py::test_a", "failed", owner="42")
        _attempt(store, mine.id, "t.py::test_a", "flaky", attempt=2, owner="42")
        _attempt(store, theirs.id, "t.py::test_b", "failed", owner="7")
        _attempt(store, theirs.id, "t.py::test_b", "flaky", attempt=2, owner="7")
        view = store.for_owner(user_id=42)
        assert [run.id for run in view.runs()] == [mine.id]
        with pytest.raises(RunNotFound):
            view.get_run(theirs.id)
        assert [row["test"] for row in view.flaky_tests()] == ["t.py::test_a"]
        # A run's tests (node ids, failure messages) are as private as the run.
        store.record_run_tests(theirs.id, [{"nodeid": "t.py::test_b", "outcome": "flaky", "message": "theirs"}])
        store.record_run_tests(mine.id, [{"nodeid": "t.py::test_a", "outcome": "flaky"}])
        with pytest.raises(RunNotFound):
            view.run_tests(theirs.id)
        assert [row["nodeid"] for row in view.run_tests(mine.id[:6])] == ["t.py::test_a"]
        assert [row["message"] for row in store.run_tests(theirs.id)] == ["theirs"]
    with RecordingStore(store_target, readonly=True) as reader:
        assert len(reader.runs()) == 2
        with pytest.raises(ReadOnlyStore):
            reader.start_run()
        with pytest.raises(ReadOnlyStore):
            reader.finish_run(mine.id)


def test_cli_runs_and_stats_flaky(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        run = store.start_run("c" * 32, git_branch="main")
        _attempt(store, run.id, "t.py::test_flaky", "failed")
        _attempt(store, run.id, "t.py::test_flaky", "flaky", attempt=2)
        store.finish_run(run.id, exit_status=0, passed=1, flaky=1, reruns=1)
    cli = CliRunner()
    listed = cli.invoke(main, ["runs", "--db", store_target])
    assert listed.exit_code == 0 and "cccccccccccc" in listed.output and "main" in listed.output, listed.output
    shown = cli.invoke(main, ["runs", "cccc", "--db", store_target, "--json"])
    assert shown.exit_code == 0 and '"flaky": 1' in shown.output
    flaky = cli.invoke(main, ["stats", "--flaky", "--runs", "5", "--db", store_target])
    assert flaky.exit_code == 0 and "t.py::test_flaky" in flaky.output, flaky.output
    unknown = cli.invoke(main, ["runs", "dddd", "--db", store_target])
    assert unknown.exit_code == 1 and unknown.output.strip().count("\n") == 0 and "no run" in unknown.output
    assert "Traceback" not in unknown.output


def test_cli_on_an_empty_database_and_without_runs(tmp_path) -> None:
    db = str(tmp_path / "empty.db")
    RecordingStore(db).close()
    cli = CliRunner()
    for args in (["runs"], ["stats", "--flaky"], ["stats", "--slowest"]):
        result = cli.invoke(main, [*args, "--db", db])
        assert result.exit_code == 0 and "Traceback" not in result.output, (args, result.output)
        assert "no runs" in result.output or "(none)" in result.output, (args, result.output)
    with RecordingStore(db) as store:
        store.start("outside pytest").complete()
    result = cli.invoke(main, ["runs", "--db", db])
    assert result.exit_code == 0 and "no runs" in result.output


def test_where_a_run_ran_comes_from_git_and_the_ci_variables(tmp_path) -> None:
    from recorder import runinfo

    github = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
              "GITHUB_RUN_ID": "42", "GITHUB_SHA": "abc", "GITHUB_REF_NAME": "main"}
    assert runinfo.ci(github) == ("github-actions", "https://github.com/o/r/actions/runs/42")
    assert runinfo.ci({"GITLAB_CI": "true", "CI_JOB_URL": "https://gitlab/j/1"}) == ("gitlab-ci", "https://gitlab/j/1")
    assert runinfo.ci({"JENKINS_URL": "https://j", "BUILD_URL": "https://j/7"}) == ("jenkins", "https://j/7")
    assert runinfo.ci({"BUILDKITE": "true", "BUILDKITE_BUILD_URL": "https://bk/3"}) == ("buildkite", "https://bk/3")
    assert runinfo.ci({"CIRCLECI": "true", "CIRCLE_BUILD_URL": "https://c/9"}) == ("circleci", "https://c/9")
    assert runinfo.ci({"CI": "false"}) == (None, None) and runinfo.ci({}) == (None, None)
    # not a checkout: the CI's variables, quietly
    assert runinfo.git(tmp_path, github) == ("abc", "main")
    assert runinfo.git(tmp_path, {}) == (None, None)


def test_average_durations_are_rounded_the_same_on_every_engine(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        for duration_ms in (1, 2, 10, 11, 11):  # click: 1.5; type: 10.67
            recording.record_action("click" if duration_ms < 10 else "type", selector=f"#d{duration_ms // 10}",
                                    duration_ms=duration_ms)
        recording.complete()
        by_type = {row["type"]: row["avg_ms"] for row in store.stats()["slowest action types"]}
        by_selector = {row["selector"]: row["avg_ms"] for row in store.slowest_selectors()}
    assert by_type == {"click": 2, "type": 11} and by_selector == {"#d0": 2, "#d1": 11}


def test_a_run_is_found_by_a_prefix_of_its_id_in_either_case(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        run = store.start_run("ab12cd" + "0" * 26)
        assert store.get_run("AB12C").id == store.get_run("ab12c").id == run.id
        assert store.get_run(run.id.upper()).id == run.id

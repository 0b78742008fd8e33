"""recorder push: recordings copied from a local SQLite file to a shared PostgreSQL, whole,
once each however often pushed."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page

from recorder import RecordingStore, record
from recorder.cli import main
from recorder.push import PushResult, push

from tests import engines
from tests.conftest import PYTESTER_CONFTEST

pytest_plugins = ["pytester"]


def recorded_session(page: Page, server: str, db: Path) -> int:
    with record(page, db=db, name="shop_session") as page:
        page.goto(f"{server}/events/index.html")
        page.click("#log")
        page.wait_for_function("() => document.getElementById('out').textContent.startsWith('done')")
        page.fill("#password", "not-to-be-pushed")
    return page.recording.id


def test_push_copies_a_recording_whole_to_postgresql_once(page: Page, server: str, db_path: Path,
                                                           postgres_url: str) -> None:
    recording_id = recorded_session(page, server, db_path)
    with RecordingStore(db_path) as local, RecordingStore(postgres_url) as shared:
        first = push(local, shared)
        again = push(local, shared)
        original = local.get(recording_id)
        [copy] = shared.list()
        assert [item["id"] for item in first.pushed] == [recording_id] and not first.skipped
        assert not again.pushed and again.skipped[0]["reason"] == f"already there as recording {copy.id}"

        assert copy.uid == original.uid and copy.name == "shop_session" and copy.status == "completed"
        assert copy.metadata == {**original.metadata, **{k: copy.metadata[k] for k in ("started_at",)}}
        strip = lambda action: {k: v for k, v in action.items() if k != "id"}  # noqa: E731
        assert [strip(a) for a in copy.timeline()] == [strip(a) for a in original.timeline()]
        assert copy.events() == original.events() and copy.resources() == original.resources()
        assert copy.sources() == original.sources()
        last = copy.timeline()[-1]
        assert shared.blob(last["dom_snapshot_key"]) == local.blob(last["dom_snapshot_key"])
        assert shared.blob(last["screenshot_key"])[:3] == b"\xff\xd8\xff"  # a JPEG, composed from its tiles
        assert last["value"] is None and last["metadata"]["redacted"]


def test_push_on_the_command_line_with_since_json_and_progress(page: Page, server: str, db_path: Path,
                                                               tmp_path: Path) -> None:
    recorded_session(page, server, db_path)
    with RecordingStore(db_path) as local:
        unfinished = local.start(name="still_going")
        unfinished.record_action("click", selector="#a")
        local.flush()
        runner = CliRunner()
        target = tmp_path / "archive.db"
        result = runner.invoke(main, ["push", str(db_path), "--to", str(target), "--since", "1h", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert [item["name"] for item in report["pushed"]] == ["shop_session"]
        assert report["skipped"] == [{"id": unfinished.id, "uid": unfinished.uid, "name": "still_going",
                                      "reason": "still recording"}]
        later = runner.invoke(main, ["push", str(db_path), "--to", str(target), "--since", "2099-01-01"])
        assert later.exit_code == 0 and "0 pushed, 0 skipped" in later.output
        unfinished.complete()
    bad = runner.invoke(main, ["push", str(db_path), "--to", str(target), "--since", "yesterday"])
    assert bad.exit_code == 2 and "neither an age like 2d" in bad.output
    missing = runner.invoke(main, ["push", str(tmp_path / "nothing.db"), "--to", str(target)])
    assert missing.exit_code == 1 and "no recordings database at" in missing.output


def test_push_to_an_unreachable_server_is_one_clear_error(db_path: Path) -> None:
    RecordingStore(db_path).close()
    result = CliRunner().invoke(main, ["push", str(db_path), "--to", "postgresql://ci:hunter2@127.0.0.1:9/x"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot connect to postgresql://ci:***@127.0.0.1:9/x")
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_pytest_record_push_shares_the_runs_recordings(pytester: pytest.Pytester, server: str,
                                                       postgres_url: str) -> None:
    pytester.makeconftest(PYTESTER_CONFTEST)
    pytester.makepyfile(test_shard=f"""
def test_one(page):
    page.goto("{server}/app.html")

def test_two(page):
    page.goto("{server}/app.html")
    page.get_by_label("Name").fill("Ada")
""")
    result = pytester.runpytest_subprocess("--record", "on", "--record-db", "local.db", "--record-push", postgres_url)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["recorder: pushed 2 recordings to postgresql://*"])
    with RecordingStore(postgres_url) as shared, RecordingStore(pytester.path / "local.db") as local:
        assert sorted((r.name, r.action_count, r.uid) for r in shared.list()) == \
            sorted((r.name, r.action_count, r.uid) for r in local.list())
        # The run comes along: its id, counts and tests, its recordings one of it.
        (run,) = local.runs()
        there = shared.get_run(run.id)
        assert (there.passed, there.failed, there.exit_status, there.ended_at) == (2, 0, 0, run.ended_at)
        assert [t["nodeid"] for t in shared.run_tests(run.id)] == ["test_shard.py::test_one[chromium]",
                                                                 "test_shard.py::test_two[chromium]"]
        assert sorted(r.uid for r in shared.list(run_id=run.id)) == sorted(r.uid for r in local.list())


def local_run(db: Path, recordings: int = 4) -> str:
    """A run of ``recordings`` recordings and as many tests in ``db``, without a browser; its id."""
    with RecordingStore(db) as local:
        run = local.start_run()
        for n in range(recordings):
            recording = local.start(name=f"test_{n}", run_id=run.id)
            for i in range(5):
                recording.record_action("click", selector=f"#b{i}", dom_snapshot=f"<p>{n} {i}</p>")
            recording.complete()
        local.record_run_tests(run.id, [{"nodeid": f"test_{n}", "outcome": "passed"} for n in range(recordings)])
        local.finish_run(run.id, exit_status=0, passed=recordings)
    return run.id


def test_pushes_of_the_same_recordings_at_once_store_each_once(tmp_path: Path, store_target: str) -> None:
    db_path = tmp_path / "local.db"
    run_id = local_run(db_path)
    start = threading.Barrier(3)
    results: list[Any] = []

    def push_once() -> None:
        with RecordingStore(db_path, readonly=True) as local, RecordingStore(store_target) as shared:
            start.wait()
            try:
                results.append(push(local, shared))
            except Exception as exc:  # noqa: BLE001 - what the test reports
                results.append(exc)

    pushes = [threading.Thread(target=push_once) for _ in range(3)]
    for thread in pushes:
        thread.start()
    for thread in pushes:
        thread.join()
    assert all(isinstance(result, PushResult) for result in results), results
    assert sum(len(result.pushed) for result in results) == 4
    assert sorted(len(result.pushed) + len(result.skipped) for result in results) == [4, 4, 4]
    assert engines.query(store_target, "SELECT name, count(*) FROM recordings GROUP BY uid, name ORDER BY name") == [
        (f"test_{n}", 1) for n in range(4)]
    assert engines.scalar(store_target, "SELECT count(*) FROM run_tests WHERE run_id = ?", (run_id,)) == 4


def test_push_names_a_recording_it_cannot_copy_and_pushes_the_others(tmp_path: Path, store_target: str) -> None:
    local_db = tmp_path / "local.db"
    with RecordingStore(local_db) as local:
        for name in ("first", "bad resource", "odd numbers", "last"):
            recording = local.start(name, metadata={"ratio": float("nan")} if name == "odd numbers" else None)
            recording.record_action("click", selector="#a", metadata={"took": float("inf")})
            recording.record_resource("https://example.test/site.css", b"body {}", "text/css")
            recording.complete()
    # (an older recorder stored what a restore's checks refuse: one recording that cannot be copied)
    engines.execute(local_db, "UPDATE resources SET media_type = 'not a type' WHERE recording_id = 2")
    result = CliRunner().invoke(main, ["push", str(local_db), "--to", store_target])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "could not push 2 (bad resource): resource 1 (https://example.test/site.css)'s media type" in result.output
    assert "3 pushed, 0 skipped, 1 failed" in result.output
    with RecordingStore(store_target) as shared:
        pushed = {recording.name: recording for recording in shared.list()}
        assert sorted(pushed) == ["first", "last", "odd numbers"]
        assert pushed["odd numbers"].metadata["ratio"] is None
        assert pushed["last"].timeline()[0]["metadata"]["took"] is None

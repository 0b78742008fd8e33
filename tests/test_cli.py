"""The `recorder` command, driven through click's CliRunner on real databases: what reads and
writes recordings on SQLite files and PostgreSQL (``--db URL``), the command line itself on
SQLite."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from recorder import RecordingStore, record
from recorder.cli import main

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


def fill(target: str | Path) -> None:
    """Two recordings: 1 "first" completed, 2 "checkout ✓" failed with a screenshot."""
    with RecordingStore(target) as store:
        first = store.start(name="first")
        first.record_action("navigate", value="http://127.0.0.1/", url="http://127.0.0.1/")
        first.complete()
        second = store.start(name="checkout ✓")
        second.record_action("click", selector='get_by_role("button", name="Pay")', screenshot=JPEG)
        second.record_action("type", selector="#card", value=None, metadata={"redacted": True})
        second.fail("AssertionError: total was 0")


@pytest.fixture
def recorded_db(db_path: Path) -> Path:
    """A SQLite file holding ``fill``'s recordings (for what only concerns the command line)."""
    fill(db_path)
    return db_path


@pytest.fixture
def recorded(store_target: str) -> str:
    """``fill``'s recordings on each engine: a SQLite path or a PostgreSQL URL for --db."""
    fill(store_target)
    return store_target


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help() -> None:
    for command in ([], ["list"], ["show"], ["blob"]):
        code, out, _ = invoke(*command, "--help")
        assert code == 0 and "Usage:" in out


def test_list_shows_recordings_newest_first(recorded: str) -> None:
    code, out, _ = invoke("list", "--db", recorded)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert "checkout ✓" in lines[1] and "failed" in lines[1]
    assert "first" in lines[2] and "completed" in lines[2]


def test_list_json_and_status_filter(recorded: str) -> None:
    code, out, _ = invoke("list", "--db", recorded, "--json", "--status", "failed")
    assert code == 0
    assert [r["name"] for r in json.loads(out)] == ["checkout ✓"]


def test_show_prints_the_timeline_with_redaction_and_error(recorded: str) -> None:
    code, out, _ = invoke("show", "2", "--db", recorded)
    assert code == 0
    assert "AssertionError: total was 0" in out
    assert 'get_by_role("button", name="Pay")' in out
    assert "[redacted]" in out


def test_show_json_has_the_timeline(recorded: str) -> None:
    code, out, _ = invoke("show", "2", "--db", recorded, "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "failed"
    assert [a["sequence"] for a in data["timeline"]] == [1, 2]
    assert data["timeline"][0]["screenshot_key"]


def test_blob_writes_the_original_bytes(recorded: str, tmp_path: Path) -> None:
    key = RecordingStore(recorded).get(2).timeline()[0]["screenshot_key"]
    target = tmp_path / "shot.jpg"
    code, _, err = invoke("blob", key, "--db", recorded, "-o", str(target))
    assert code == 0 and "image/jpeg" in err
    assert target.read_bytes() == JPEG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "99"], "no recording with id 99"),
        (["blob", "abc", "-o", "-"], "no blob with key abc"),
    ],
)
def test_unknown_ids_are_one_line_errors(recorded: str, args: list[str], message: str) -> None:
    code, out, err = invoke(*args, "--db", recorded)
    assert code == 1 and message in err and "Traceback" not in err + out


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = invoke("list", "--db", str(tmp_path / "nope.db"))
    assert code == 1 and "no recordings database at" in err
    assert not (tmp_path / "nope.db").exists()


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    code, _, err = invoke("list", "--db", str(garbage))
    assert code == 1 and "garbage.db" in err and "not a database" in err
    assert garbage.read_bytes() == b"this is not sqlite" * 100


def test_db_defaults_to_recorder_db_env(recorded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDER_DB", recorded)
    code, out, _ = invoke("list")
    assert code == 0 and "checkout ✓" in out


def test_show_a_real_browser_recording(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    with record(page, db=db_path, name="real") as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("Grace")
    code, out, _ = invoke("show", str(page.recording.id), "--db", str(db_path))
    assert code == 0
    assert 'get_by_label("Name")' in out and "Grace" in out and "navigate" in out


def test_readme_documents_every_command() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name in main.commands:
        assert f"recorder {name}" in readme, f"README does not mention `recorder {name}`"


def test_list_owner_shows_only_that_owners_recordings(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        store.start(name="alice's", owner={"user_id": "alice", "account_id": "acme"})
        store.start(name="bob's", owner={"user_id": "bob", "account_id": "acme"})
    code, out, _ = invoke("list", "--db", store_target, "--owner", "alice")
    assert code == 0 and "alice's" in out and "bob's" not in out
    code, out, _ = invoke("list", "--db", store_target, "--account", "acme", "--json")
    assert sorted(r["name"] for r in json.loads(out)) == ["alice's", "bob's"]


def test_show_pages_through_the_timeline(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start(name="long")
        for i in range(10):
            recording.record_action("click", selector=f"#b{i}")
    code, out, _ = invoke("show", str(recording.id), "--db", store_target, "--after", "4", "--limit", "2", "--json")
    assert code == 0
    assert [a["selector"] for a in json.loads(out)["timeline"]] == ["#b4", "#b5"]


def test_stats_summarise_statuses_slow_types_and_failing_selectors(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        for name in ("one", "two"):
            recording = store.start(name=name)
            recording.record_action("click", selector="#flaky", status="error", error="Timeout 300ms exceeded.",
                                    duration_ms=300)
            recording.record_action("type", selector="#name", value="x", duration_ms=5)
            recording.fail("TimeoutError: Timeout 300ms exceeded.") if name == "one" else recording.complete()
    code, out, _ = invoke("stats", "--db", store_target, "--json")
    stats = json.loads(out)
    assert code == 0
    assert {r["status"]: r["recordings"] for r in stats["recordings by status"]} == {"failed": 1, "completed": 1}
    assert stats["slowest action types"][0] == {"type": "click", "actions": 2, "avg_ms": 300, "max_ms": 300}
    assert stats["selectors that fail most"][0]["selector"] == "#flaky"
    assert stats["selectors that fail most"][0]["errors"] == 2


BAD_INPUT = [
    # A zero or negative age pruned every recording.
    (["prune", "--older-than=-5d"], 2, "is not an age like 30d"),
    (["prune", "--older-than", "0d"], 2, "is not an age like 30d"),
    (["prune", "--older-than", "1.5d"], 2, "is not an age like 30d"),
    # Numbers past SQLite's 64 bits ended in an OverflowError traceback.
    (["show", "99999999999999999999"], 2, "is not in the range"),
    (["show", "2", "--after", "99999999999999999999"], 2, "is not in the range"),
    (["list", "--limit", "0"], 2, "is not in the range"),
    (["show", "2", "--limit", "-1"], 2, "is not in the range"),
    (["view", "2", "--no-open", "--max-actions", "-1"], 2, "is not in the range"),
    (["view", "--serve", "--no-open", "--port", "70000"], 2, "is not in the range"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT, ids=[" ".join(a[0]) for a in BAD_INPUT])
def test_bad_arguments_are_refused_and_nothing_is_lost(recorded_db: Path, args: list[str], code: int, message: str) -> None:
    exit_code, _, stderr = invoke(*args, "--db", str(recorded_db))
    assert exit_code == code and message in stderr and "Traceback" not in stderr
    with RecordingStore(recorded_db) as store:
        assert [r.name for r in store.list()] == ["checkout ✓", "first"]


def test_an_output_file_in_a_missing_directory_is_one_line(recorded_db: Path, tmp_path: Path) -> None:
    for args in (["export", "2", "-o"], ["view", "2", "--no-open", "-o"]):
        exit_code, _, stderr = invoke(*args, str(tmp_path / "missing" / "out"), "--db", str(recorded_db))
        assert exit_code == 1 and f"error: cannot write {tmp_path / 'missing' / 'out'}" in stderr, stderr
        assert "No such file or directory" in stderr


def test_show_says_why_a_page_of_the_timeline_is_empty(recorded_db: Path) -> None:
    assert invoke("show", "2", "--after", "2", "--db", str(recorded_db))[1].rstrip().endswith("no actions after sequence 2")


def cassette_with(recorded_db: Path, tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    _, text, _ = invoke("export", "2", "--db", str(recorded_db))
    data = json.loads(text)
    changed = change(data)
    data = data if changed is None else changed
    path = tmp_path / "cassette.json"
    path.write_text(json.dumps(data))
    return path


def _set(path: list, value):  # type: ignore[no-untyped-def,type-arg]
    def change(data):  # type: ignore[no-untyped-def]
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return change


BAD_CASSETTES = [
    ("a list", lambda data: [], "a JSON list, not an object"),
    ("metadata a string", _set(["recording", "metadata"], "str"), "the recording's metadata is 'str'"),
    ("a bad start time", _set(["recording", "started_at"], "not a date"), "is not an ISO-8601 time"),
    ("a text sequence", _set(["timeline", 0, "sequence"], "abc"), "sequences are not distinct whole numbers"),
    ("a huge number", _set(["timeline", 0, "duration_ms"], 10**20), "duration_ms is 100000000000000000000"),
    ("a timeline of numbers", _set(["timeline"], [1, 2]), "the timeline is not a list of actions"),
    ("an error object", _set(["recording", "error"], {"x": 1}), "the recording's error is {'x': 1}"),
    ("a bad end time", _set(["recording", "completed_at"], 5), "the recording's completed_at 5 is not an ISO-8601"),
    ("an agent run id object", _set(["recording", "agent_run"], {"id": {"x": 1}}), "agent_run.id is {'x': 1}"),
    ("no action time", _set(["timeline", 0, "timestamp_ms"], None), "action 1 has no timestamp_ms"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in BAD_CASSETTES], ids=[c[0] for c in BAD_CASSETTES])
def test_a_bad_cassette_is_refused_whole_with_the_reason(recorded_db: Path, tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "target.db"
    exit_code, _, stderr = invoke("import", str(cassette_with(recorded_db, tmp_path, change)), "--db", str(target))
    assert exit_code == 1 and message in stderr and "Traceback" not in stderr
    assert not target.exists()  # nothing left behind, not even an empty database


def test_a_cassette_without_optional_action_columns_or_time_zones_imports_and_pushes(recorded_db: Path,
                                                                                     tmp_path: Path) -> None:
    def change(data):  # type: ignore[no-untyped-def]
        data["recording"]["started_at"] = "2026-11-30T05:00:00"  # no offset: taken as UTC
        data["recording"]["completed_at"] = "2026-11-30T07:00:05.5+02:00"
        for action in data["timeline"]:
            for column in ("selector", "value", "url", "error", "duration_ms"):
                action.pop(column, None)

    target = tmp_path / "target.db"
    exit_code, out, stderr = invoke("import", str(cassette_with(recorded_db, tmp_path, change)), "--db", str(target))
    assert exit_code == 0, stderr
    with RecordingStore(target) as store:
        (imported,) = store.list()
        assert (imported.started_at, imported.completed_at) == ("2026-11-30T05:00:00.000+00:00",
                                                                 "2026-11-30T05:00:05.500+00:00")
        assert {a["selector"] for a in imported.timeline()} == {None}
    exit_code, out, stderr = invoke("push", str(target), "--to", str(tmp_path / "pushed.db"), "--since", "2026-11-30")
    assert exit_code == 0 and "Traceback" not in stderr, stderr
    with RecordingStore(tmp_path / "pushed.db") as store:
        assert [r.name for r in store.list()] == [imported.name]


def test_a_dom_snapshot_that_does_not_match_its_key_cannot_poison_a_later_import(db_path: Path, tmp_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start(name="real")
        recording.record_action("type", value="x", dom_snapshot="<html><body>the real page</body></html>")
        recording.complete()
    _, text, _ = invoke("export", "1", "--db", str(db_path))
    forged = json.loads(text)
    key = forged["timeline"][0]["dom_snapshot_key"]
    forged["blobs"][key]["data"] = base64.b64encode(b"<p>forged</p>").decode()
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    (tmp_path / "real.json").write_text(text)
    target = tmp_path / "target.db"
    exit_code, _, stderr = invoke("import", str(tmp_path / "forged.json"), "--db", str(target))
    assert exit_code == 1 and "does not match its key" in stderr
    assert invoke("import", str(tmp_path / "real.json"), "--db", str(target))[0] == 0
    with RecordingStore(target) as store:
        assert store.blob(key) == b"<html><body>the real page</body></html>"


def test_view_serve_checks_its_recording_id_and_refuses_an_output_file(recorded_db: Path) -> None:
    """`view ID --serve` ignored the id and -o."""
    exit_code, _, stderr = invoke("view", "99", "--serve", "--no-open", "--db", str(recorded_db))
    assert exit_code == 1 and "no recording with id 99" in stderr
    exit_code, _, stderr = invoke("view", "--serve", "--no-open", "-o", "x.html", "--db", str(recorded_db))
    assert exit_code == 2 and "--serve writes no file" in stderr


def test_reading_commands_refuse_an_empty_file_and_leave_it_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    exit_code, _, stderr = invoke("list", "--db", str(empty))
    assert exit_code == 1 and "is an empty file, not a recordings database" in stderr
    assert empty.stat().st_size == 0


def test_replay_that_cannot_start_a_browser_says_so_in_one_line(recorded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--headed without a display printed a 68-line traceback."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=invoke("replay", "2", "--headed", "--db", str(recorded_db))))
    thread.start()  # its own thread: pytest-playwright's sync API may own this one
    thread.join(timeout=120)
    exit_code, _, stderr = outcome["result"]
    assert exit_code == 1 and stderr.startswith("error: cannot start Chromium:") and "Traceback" not in stderr
    assert "$DISPLAY is not set" in stderr and len(stderr.strip().splitlines()) == 1


def test_a_reader_that_stops_reading_ends_the_command_quietly(recorded_db: Path) -> None:
    """`recorder show 2 | head -1`: head exits, the next write finds the pipe closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        done = subprocess.run([sys.executable, "-c", "from recorder.cli import main; main()",
                               "show", "2", "--db", str(recorded_db)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


@pytest.mark.parametrize("command", [
    ["export", "1", "--format", "json"], ["export", "1", "--format", "playwright-trace"], ["view", "1", "--no-open"]])
@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX's")
def test_a_file_that_cannot_be_written_whole_leaves_the_earlier_one(tmp_path: Path, command: list[str]) -> None:
    # A full disk left a truncated cassette, or an empty viewer page, where a good one was.
    db = tmp_path / "big.db"
    with RecordingStore(db) as store:
        recording = store.start(name="big")
        for k in range(3):  # DOM snapshots that do not compress: well over the file size limit below
            recording.record_action("click", dom_snapshot="<p>" + base64.b64encode(os.urandom(60_000)).decode() + "</p>")
        recording.complete()
    target = tmp_path / "out.file"
    target.write_text("the earlier, good export\n")
    limit = "import resource; resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000)); "
    done = subprocess.run([sys.executable, "-c", limit + "from recorder.cli import main; main()", *command,
                           "--db", str(db), "-o", str(target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"error: cannot write {target}: File too large" in done.stderr, done.stderr
    assert target.read_text() == "the earlier, good export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.db", "out.file"]


def test_an_export_through_a_link_or_over_a_private_file_keeps_the_link_and_the_privacy(recorded_db: Path,
                                                                                         tmp_path: Path) -> None:
    # Written to a temporary file and moved over the target, the link became a file and a
    # 0600 export 0644.
    real, link, private = tmp_path / "real.json", tmp_path / "link.json", tmp_path / "private.json"
    real.write_text("old")
    link.symlink_to(real.name)
    private.write_text("old")
    private.chmod(0o600)
    for target in (link, private):
        assert invoke("export", "2", "--db", str(recorded_db), "-o", str(target))[0] == 0
    assert link.is_symlink() and json.loads(real.read_text())["recording"]["name"] == "checkout ✓"
    assert private.stat().st_mode & 0o777 == 0o600 and json.loads(private.read_text())["recording"]["id"] == 2
    assert invoke("export", "2", "--db", str(recorded_db), "-o", os.devnull)[0] == 0  # not replaced by a file
    assert not Path(os.devnull).is_file()


def test_a_name_with_a_newline_stays_on_its_row_and_an_empty_filter_says_what_it_filtered(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        store.start(name="two\nlines\tand\x07bell").complete()
    code, out, _ = invoke("list", "--db", str(db_path))
    assert code == 0 and len(out.strip().splitlines()) == 2 and "two\\nlines and\\x07bell" in out, out
    code, out, _ = invoke("list", "--status", "failed", "--db", str(db_path))
    assert code == 0 and out.strip() == f"no failed recordings in {db_path}"


def test_an_unknown_id_in_a_scoped_store_names_the_owner_plainly(db_path: Path) -> None:
    from recorder import RecordingNotFound

    with RecordingStore(db_path) as store:
        with pytest.raises(RecordingNotFound, match=r"no recording with id 7 for owner user u7 in "):
            store.for_owner(user_id="u7").get(7)


def test_include_storage_state_without_json_is_refused_as_showing_nothing(recorded_db: Path) -> None:
    # It printed the "keep it as private as a password" warning over a table that shows no values.
    code, _, err = invoke("show", "2", "--include-storage-state", "--db", str(recorded_db))
    assert code == 2 and "the table never shows storage values; add --json" in err, err


def test_a_base_url_that_is_not_a_url_is_refused_before_any_browser_starts(recorded_db: Path) -> None:
    # It replayed every step against "notaurl", each waiting out its timeout: 50 s.
    for bad in ("notaurl", "ftp://x/", "http://"):
        result = CliRunner().invoke(main, ["replay", "1", "--base-url", bad, "--db", str(recorded_db)])
        assert result.exit_code == 2 and "is not an http:// or https:// URL" in result.output, (bad, result.output)


def test_a_recording_too_big_for_one_viewer_file_says_to_serve_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 521 actions on a 1.8 MB page made a 1.2 GB file that crashed the browser's tab; at 589 MB
    # it opened with no rows ("Unexpected end of JSON input"). The limit is lowered here.
    from recorder.viewer import page as viewer_page

    db = tmp_path / "big.db"
    with RecordingStore(db) as store:
        recording = store.start(name="big")
        for k in range(3):
            recording.record_action("click", dom_snapshot=f"<p>{k}</p>" + "x" * 3000)
        recording.complete()
    monkeypatch.setattr(viewer_page, "EMBED_AT_MOST_CHARS", 5000)
    out = tmp_path / "big.html"
    code, _, err = invoke("view", "1", "--no-open", "-o", str(out), "--db", str(db))
    assert code == 1 and "too big for one viewer file" in err and "recorder view 1 --serve" in err, err
    assert not out.exists()
    monkeypatch.setattr(viewer_page, "EMBED_AT_MOST_CHARS", 50_000)
    assert invoke("view", "1", "--no-open", "-o", str(out), "--db", str(db))[0] == 0 and out.exists()

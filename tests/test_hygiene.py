"""Keeping a recordings database small: prune, vacuum, max_bytes (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from recorder import RecordingStore, record
from recorder.cli import main
from recorder.tiles import tile_keys
from tests import engines
from tests.test_tiles import screenshot


def age_recording(target: str, recording_id: int, days: int) -> None:
    engines.execute(target, "UPDATE recordings SET started_at = ? WHERE id = ?", (engines.iso_days_ago(days), recording_id))


def make(store: RecordingStore, name: str, text: str, fail: bool = False) -> int:
    recording = store.start(name=name)
    recording.record_action("click", screenshot=screenshot(text), dom_snapshot=f"<html><body>{text}</body></html>")
    recording.fail("boom") if fail else recording.complete()
    return recording.id


def test_prune_deletes_old_recordings_and_keeps_failed_when_asked(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        old_ok, old_failed, new = make(store, "old", "a"), make(store, "old-failed", "b", fail=True), make(store, "new", "c")
    age_recording(store_target, old_ok, 40)
    age_recording(store_target, old_failed, 40)
    result = CliRunner().invoke(main, ["prune", "--older-than", "30d", "--keep-failed", "--db", store_target])
    assert result.exit_code == 0 and "deleted 1 recordings" in result.stdout, result.output
    with RecordingStore(store_target) as store:
        assert sorted(r.id for r in store.list()) == [old_failed, new]
        assert store.prune(timedelta(days=30)) == (1, 3)  # its manifest, DOM snapshot and one tile
        assert [r.id for r in store.list()] == [new]


def test_prune_rejects_a_bad_age(db_path: Path) -> None:
    RecordingStore(db_path).close()
    result = CliRunner().invoke(main, ["prune", "--older-than", "soon", "--db", str(db_path)])
    assert result.exit_code == 2 and "'soon' is not an age like 30d" in result.stderr


def test_vacuum_removes_blobs_no_action_uses_and_shrinks_the_file(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        keep = make(store, "keep", "kept text")
        make(store, "drop", "x" * 2000)
    # As a crash might: actions gone, blobs left behind.
    engines.execute(store_target, "DELETE FROM actions WHERE recording_id <> ?", (keep,))
    result = CliRunner().invoke(main, ["vacuum", "--db", store_target])
    assert result.exit_code == 0 and "unused blobs" in result.stdout, result.output
    with RecordingStore(store_target) as store:
        (action,) = store.get(keep).timeline()
        assert b"kept text" in store.blob(action["dom_snapshot_key"])
        assert store.blob(action["screenshot_key"])[:3] == b"\xff\xd8\xff"
        manifest = store.stored_blob(action["screenshot_key"])
    remaining = {key for (key,) in engines.query(store_target, "SELECT key FROM blobs")}
    assert remaining == {action["screenshot_key"], action["dom_snapshot_key"], *tile_keys(manifest)}


def test_max_bytes_stops_screenshots_but_not_actions(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    with record(page, db=db_path, max_bytes=1) as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("still recorded")
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        timeline = recording.timeline()
        assert [a["value"] for a in timeline][-1] == "still recorded"
        assert all(a["screenshot_key"] is None for a in timeline)
        assert all(a["dom_snapshot_key"] for a in timeline)
        assert "max_bytes" in recording.metadata["screenshots_stopped"]


def test_max_bytes_stops_screenshots_but_not_actions_in_the_store(store_target: str) -> None:
    with RecordingStore(store_target, max_bytes=1) as store:
        recording = store.start()
        recording.record_action("type", value="kept", screenshot=screenshot("not kept"), dom_snapshot="<p>kept</p>")
        recording.record_action("type", value="also kept", screenshot=screenshot("nor this"))
        recording.complete()
        timeline = store.get(recording.id).timeline()
        assert [a["value"] for a in timeline] == ["kept", "also kept"]
        assert [a["screenshot_key"] for a in timeline] == [None, None]
        assert store.blob(timeline[0]["dom_snapshot_key"]) == b"<p>kept</p>"
        assert "max_bytes" in store.get(recording.id).metadata["screenshots_stopped"]

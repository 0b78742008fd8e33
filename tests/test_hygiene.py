"""Keeping a recordings database small: prune, vacuum, max_bytes (on SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
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


def free_and_compacted_bytes(path: Path) -> tuple[int, int, int]:
    """A closed SQLite database's size on disk, the bytes of its free pages, and the size of
    a compacted copy of it."""
    compacted = path.with_name("compacted.db")
    with sqlite3.connect(path) as conn:
        free = conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute(f"VACUUM INTO '{compacted}'")
    conn.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return size, free, compacted.stat().st_size


def test_the_file_a_recording_leaves_is_no_bigger_than_compacted(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Screenshots are stored as captured and replaced by their tiles later: the space they
    # took must not stay in the file (it was half of it after one recording).
    with record(page, db=db_path) as page:
        page.goto(server + "/rows.html")
        for k in range(15):
            page.locator(f"#f{k * 37 % 200}").fill(f"value {k}")
    shots = engines.query(str(db_path), "SELECT b.media_type FROM actions a JOIN blobs b ON b.key = a.screenshot_key")
    assert len(shots) == 16 and {media_type for (media_type,) in shots} == {"application/vnd.recorder.tiles"}
    size, free, compacted = free_and_compacted_bytes(db_path)
    assert free < 0.05 * size, f"{free:,} of {size:,} bytes free after the recording"
    assert size <= 1.1 * compacted, f"{size:,} bytes on disk, {compacted:,} compacted"


def test_vacuum_gives_an_older_file_the_space_recordings_leave_back(tmp_path: Path) -> None:
    older = tmp_path / "older.db"
    RecordingStore(older).close()
    with sqlite3.connect(older) as conn:  # as files made before auto_vacuum was turned on are
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    conn.close()
    result = CliRunner().invoke(main, ["vacuum", "--db", str(older)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(older) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    conn.close()
    with RecordingStore(older) as store:
        recording = store.start()
        for k in range(10):
            recording.record_action("type", screenshot=noise_jpeg(k))
    size, free, compacted = free_and_compacted_bytes(older)
    assert free < 0.05 * size and size <= 1.1 * compacted, (size, free, compacted)


def noise_jpeg(seed: int) -> bytes:
    """A 400x240 JPEG of noise: large as captured, and every tile its own."""
    import io
    import random

    from PIL import Image

    pixels = random.Random(seed).randbytes(400 * 240 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (400, 240), pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


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

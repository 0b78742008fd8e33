"""Disk trouble while recording: one clear warning, the page goes on, what was saved stays.

A full disk is SQLite's ``max_page_count`` (writes then fail with SQLITE_FULL, exactly as
on a full filesystem) and a read-only database is ``query_only``; both are set on the
store's own connection, because as root file permissions would not stop a write.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

from recorder import RecorderWarning, RecordingStore, record


def break_disk(store: RecordingStore, how: str) -> None:
    def apply(conn: sqlite3.Connection) -> None:
        if how == "full":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        else:
            conn.execute("PRAGMA query_only = ON")

    store.flush()
    store._writer.call_outside_transaction(apply)


def act_through_trouble(recorded, server: str, store: RecordingStore, how: str, lost: str) -> None:  # type: ignore[no-untyped-def]
    """A fill saved, then the disk broken (``how``), then eight fills (``lost`` with their
    number) and clicks whose writes fail."""
    recorded.goto(server + "/app.html")
    recorded.fill("#name", "saved before")
    break_disk(store, how)
    for i in range(8):
        recorded.fill("#name", lost.format(i))
        recorded.click("#agree")


@pytest.mark.parametrize("how, message", [("full", "full"), ("read-only", "readonly")])
def test_disk_trouble_warns_once_and_never_breaks_the_page(server: str, page, db_path: Path, how: str, message: str) -> None:  # type: ignore[no-untyped-def]
    store = RecordingStore(db_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with record(page, store=store, name="disk trouble") as recorded:
            recording_id = recorded.recording.id
            act_through_trouble(recorded, server, store, how, "lost {} ✓")
            # The page under test kept working through every failed write.
            assert recorded.input_value("#name") == "lost 7 ✓"
            assert recorded.is_checked("#agree") is False  # eight clicks: back to unchecked
    store.close()
    ours = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    # One as the trouble starts; at most one more as the store closes, saying what was lost
    # (if the recording's row could still take it).
    assert len(ours) in (1, 2) and message in ours[0] and str(db_path) in ours[0], ours
    assert all("failed (recording" in m and "lost_writes" in m for m in ours[1:]), ours

    with RecordingStore(db_path) as reopened:
        timeline = reopened.get(recording_id).timeline()
        assert [a["type"] for a in timeline[:2]] == ["navigate", "type"]
        assert timeline[1]["value"] == "saved before"
        assert b"app" in reopened.blob(timeline[0]["dom_snapshot_key"]).lower()
        # The fill's DOM snapshot was asked for as it ended and is stored when its answer is
        # used, at the next action: by then the disk had broken, so it may be lost (the action
        # and its value are not).
        fill_dom = timeline[1]["dom_snapshot_key"]
        assert fill_dom is None or b"saved before" in reopened.blob(fill_dom)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_writes_refused_by_a_full_disk_are_counted_in_the_recording_once_it_has_room(  # type: ignore[no-untyped-def]
        server: str, page, db_path: Path) -> None:
    # The recording read 'completed' with 2 of its 18 actions and nothing saying the rest was lost.
    store = RecordingStore(db_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with record(page, store=store, name="disk trouble") as recorded:
            act_through_trouble(recorded, server, store, "full", "lost {}")
            store._writer.call_outside_transaction(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
            recorded.fill("#name", "saved after")
        store.close()  # what was lost is said as the store closes
    with RecordingStore(db_path, readonly=True) as reopened:
        recording = reopened.get(recorded.recording.id)
        values = [a["value"] for a in recording.timeline()]
    assert values[1] == "saved before" and values[-1] == "saved after" and len(values) < 19
    lost = recording.metadata["lost_writes"]
    assert lost["actions"] == 19 - len(values), lost
    assert recording.status == "completed"
    messages = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert any(" failed (recording 1: " in m and "(lost_writes)" in m for m in messages), messages


def test_a_database_file_deleted_while_recording_is_warned_about(server: str, page, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    # SQLite goes on writing to the deleted file: everything looked fine, and nothing was kept.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with record(page, db=db_path) as recorded:
            recorded.goto(server + "/app.html")
            recorded.recording.store.flush(tiled=False)
            for leftover in db_path.parent.glob(db_path.name + "*"):
                leftover.unlink()
            recorded.fill("#name", "written nowhere")
            assert recorded.input_value("#name") == "written nowhere"
    ours = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert any(f"{db_path} was deleted" in m and "no one can read it" in m for m in ours), ours


def test_a_relative_database_path_is_the_same_file_after_the_process_changes_directory(  # type: ignore[no-untyped-def]
        server: str, page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer's check for a deleted file, and reads after the block, looked the relative
    # path up again from wherever the process had gone.
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with record(page, db="recordings.db") as recorded:
            recorded.goto(server + "/app.html")
            monkeypatch.chdir(elsewhere)
            recorded.fill("#name", "still here")
    assert not [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert [a["value"] for a in recorded.recording.timeline()][-1] == "still here"
    assert not list(elsewhere.iterdir())

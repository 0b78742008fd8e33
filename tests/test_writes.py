"""Ordering of the writes the page instrumentation queues."""

from __future__ import annotations

from pathlib import Path

from recorder import RecordingStore
from tests.test_tiles import screenshot


def test_a_screenshot_attached_before_its_action_is_written_is_kept(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start()
        sequence, started_ms = recording.reserve_sequence()
        key = recording.attach_screenshot(sequence, screenshot("early frame"))  # the frame came first
        recording.record_action("type", value="x", sequence=sequence, timestamp_ms=started_ms)
        (action,) = recording.timeline()
        assert action["screenshot_key"] == key
        assert store.blob(key)[:3] == b"\xff\xd8\xff"


def test_ids_of_deleted_recordings_are_not_reused(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        first = store.start(name="deleted")
        store.delete(first.id)
        assert store.start(name="next").id == first.id + 1


def test_snapshots_queued_behind_a_backlog_still_reach_their_rows(db_path: Path) -> None:
    """Rows jump the queue; each action's snapshot work must still find its row."""
    with RecordingStore(db_path) as store:
        recording = store.start()
        for i in range(300):
            recording.record_action("type", value=str(i), screenshot=screenshot(f"frame {i}"),
                                    dom_snapshot=f"<html><body>{i}</body></html>")
        store.flush()
        timeline = recording.timeline()
    assert [a["value"] for a in timeline] == [str(i) for i in range(300)]
    assert all(a["screenshot_key"] and a["dom_snapshot_key"] for a in timeline)

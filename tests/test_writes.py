"""Ordering of the writes the page instrumentation queues, and writes the database refuses
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import Path

import pytest
from PIL import Image

from recorder import RecorderWarning, RecordingStore
from recorder.errors import DatabaseError
from tests import engines
from tests.test_tiles import jpeg, screenshot


def test_a_screenshot_attached_before_its_action_is_written_is_kept(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        sequence, started_ms = recording.reserve_sequence()
        key = recording.attach_screenshot(sequence, screenshot("early frame"))  # the frame came first
        store.flush(tiled=False)  # ... and was written before the action's row
        assert (recording.id, sequence) in store._early_screenshots
        recording.record_action("type", value="x", sequence=sequence, timestamp_ms=started_ms)
        (action,) = recording.timeline()
        assert action["screenshot_key"] == key
        assert store.blob(key)[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("frame_first", [True, False], ids=["frame first", "row first"])
def test_a_screenshot_from_before_its_action_says_so_in_the_action_metadata(store_target: str, frame_first: bool) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        sequence, started_ms = recording.reserve_sequence()
        if frame_first:
            recording.attach_screenshot(sequence, screenshot("stale"), timing="before_action")
            store.flush(tiled=False)  # written before the action's row: kept aside until it comes
            assert (recording.id, sequence) in store._early_screenshots
        recording.record_action("type", value="x", sequence=sequence, timestamp_ms=started_ms, metadata={"api": "fill"})
        if not frame_first:
            store.flush()
            recording.attach_screenshot(sequence, screenshot("stale"), timing="before_action")
        store.flush()
        (action,) = recording.timeline()
        assert action["metadata"] == {"api": "fill", "screenshot_timing": "before_action"}
        assert action["screenshot_key"] is not None


def test_ids_of_deleted_recordings_are_not_reused(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        first = store.start(name="deleted")
        store.delete(first.id)
        assert store.start(name="next").id == first.id + 1


def test_snapshots_queued_behind_a_backlog_still_reach_their_rows(store_target: str) -> None:
    """Rows jump the queue; each action's snapshot work must still find its row."""
    with RecordingStore(store_target) as store:
        recording = store.start()
        for i in range(300):
            recording.record_action("type", value=str(i), screenshot=screenshot(f"frame {i}"),
                                    dom_snapshot=f"<html><body>{i}</body></html>")
        store.flush()
        timeline = recording.timeline()
    assert [a["value"] for a in timeline] == [str(i) for i in range(300)]
    assert all(a["screenshot_key"] and a["dom_snapshot_key"] for a in timeline)


def test_a_screenshot_whose_tiling_failed_is_never_a_delta_base(store_target: str) -> None:
    """The manifest of a failed tiling was still made the next manifest's delta base,
    though the row had stayed a JPEG: the next screenshot could not be read or deleted."""
    with RecordingStore(store_target) as store:
        recording = store.start()
        # What a full disk does to that one write.
        engines.refuse_updates(store_target, "refuse_tiling", "blobs", "media_type", "disk trouble")
        with pytest.warns(RecorderWarning, match="disk trouble"):
            first = recording.record_action("click", screenshot=jpeg("first"))
            store.flush()
        engines.drop_trigger(store_target, "refuse_tiling", "blobs")
        second = recording.record_action("click", screenshot=jpeg("second"))
        store.flush()
        assert Image.open(io.BytesIO(store.blob(second.screenshot_key))).size == (320, 192)
        assert store.blob(first.screenshot_key) == jpeg("first")  # still as captured
        recording.complete()
        assert store.delete(recording.id) > 0
    assert engines.scalar(store_target, "SELECT count(*) FROM blobs") == 0


def test_with_warnings_as_errors_a_refused_write_fails_its_caller_and_hangs_nobody(store_target: str) -> None:
    """A RecorderWarning turned into an exception on the writer thread killed it, and every
    caller then waited forever."""
    outcome: dict[str, object] = {}
    engine = "postgresql" if engines.is_postgres(store_target) else "sqlite"

    def scenario() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            store = RecordingStore(store_target)
            recording = store.start()
            store._writer.call_outside_transaction(lambda conn: engines.make_read_only(store.engine.name, conn))
            recording.record_action("type", value="refused", dom_snapshot="<p>refused</p>")
            try:
                recording.complete()
            except DatabaseError as exc:
                outcome["complete"] = str(exc)
            store.close()
            try:
                store.vacuum()
            except DatabaseError as exc:
                outcome["after close"] = str(exc)

    thread = threading.Thread(target=scenario, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "a store call hung"
    assert engines.READ_ONLY_MESSAGE[engine] in str(outcome["complete"])
    assert "is closed" in str(outcome["after close"])


def test_vacuum_deletes_orphaned_delta_chains_in_an_order_the_foreign_key_allows(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        for i in range(6):  # each DOM snapshot a delta of the one before
            recording.record_action("type", dom_snapshot=f"<html><body>{'row ' * 500}{i}</body></html>")
        recording.complete()
    # What a crash between the two deletes would leave.
    engines.execute(store_target, "DELETE FROM actions")
    assert engines.scalar(store_target, "SELECT count(*) FROM blobs WHERE base_key IS NOT NULL") == 5
    with RecordingStore(store_target) as store:
        deleted, _, _ = store.vacuum()
    assert deleted == 6


def _niceness(thread_id: int) -> int:
    stat = Path(f"/proc/self/task/{thread_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19 of proc(5), after pid and comm


def test_the_writer_thread_yields_the_cores_to_the_page_and_the_test(store_target: str) -> None:
    before = set(threading.enumerate())
    with RecordingStore(store_target) as store:
        store.start().record_action("click", selector="#go")
        store.flush()
        (writer,) = [t for t in set(threading.enumerate()) - before if t.name.startswith("recorder-writer:")]
        assert writer.native_id is not None
        assert _niceness(writer.native_id) == min(19, _niceness(threading.get_native_id()) + 10)

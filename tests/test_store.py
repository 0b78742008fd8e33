"""The store on its own: the seed model's semantics and bad input."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from recorder import DatabaseError, RecordingClosed, RecordingStore
from recorder.storage.sqlite.schema import SCHEMA_VERSION

TIMELINE_KEYS = {"id", "type", "sequence", "timestamp_ms", "duration_ms", "selector", "value", "url", "status",
                 "error", "screenshot_key", "dom_snapshot_key", "metadata"}


def test_start_generates_a_name_and_stamps_the_start(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start(metadata={"agent": "shopper"})
        assert re.fullmatch(r"session_\d{8}_\d{6}", recording.name)
        assert recording.status == "recording" and recording.metadata["agent"] == "shopper"
        assert datetime.fromisoformat(recording.metadata["started_at"]).tzinfo is not None


def test_record_action_sequence_blobs_and_timeline_shape(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start(name="seed")
        first = recording.record_action("click", selector="button.submit", dom_snapshot="<html>same</html>")
        second = recording.record_action("type", selector="#q", value="milk", dom_snapshot="<html>same</html>")
        assert (first.sequence, second.sequence) == (1, 2)
        assert first.dom_snapshot_key == second.dom_snapshot_key
        timeline = recording.timeline()
        assert [set(action) for action in timeline] == [TIMELINE_KEYS, TIMELINE_KEYS]
        assert store.blob(first.dom_snapshot_key) == b"<html>same</html>"
        assert store.get(recording.id).action_count == 2
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1  # stored once


def test_complete_and_fail_only_end_a_recording_once(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start()
        recording.fail("AssertionError: boom")
        recording.complete()  # no-op: not recording any more
        stored = store.get(recording.id)
        assert (stored.status, stored.error) == ("failed", "AssertionError: boom")
        assert stored.failed_at and stored.completed_at is None and stored.duration_ms is not None
        with pytest.raises(RecordingClosed, match="Recording already failed"):
            recording.record_action("click")
        other = store.start()
        other.complete()
        with pytest.raises(RecordingClosed, match="^Recording already completed$"):
            other.record_action("click")


@pytest.mark.parametrize(
    ("value", "message"),
    [(b"\xff\xfe not utf-8", "value is bytes that are not UTF-8"), ("x" * 1_000_001, "recorder stores at most 1,000,000")],
)
def test_bad_values_are_refused_and_nothing_earlier_is_lost(db_path: Path, value: object, message: str) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start()
        recording.record_action("type", value="kept")
        with pytest.raises(ValueError, match=message):
            recording.record_action("type", value=value)  # type: ignore[arg-type]
        recording.record_action("type", value="also kept 🚀 ünïcödé")
        assert [a["value"] for a in recording.timeline()] == ["kept", "also kept 🚀 ünïcödé"]
        assert [a["sequence"] for a in recording.timeline()] == [1, 2]


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=f"directory {tmp_path / 'nope'} does not exist"):
        RecordingStore(tmp_path / "nope" / "recordings.db")


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"just some notes\n" * 200)
    with pytest.raises(DatabaseError, match="notes.db.*file is not a database"):
        RecordingStore(path)
    assert path.read_bytes() == b"just some notes\n" * 200


def test_another_apps_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseError, match="not a recorder database"):
        RecordingStore(path)


def test_a_newer_schema_is_refused_naming_both_versions(db_path: Path) -> None:
    RecordingStore(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'future')", (SCHEMA_VERSION + 5,))
    with pytest.raises(DatabaseError, match=f"schema version {SCHEMA_VERSION + 5}.*version {SCHEMA_VERSION}"):
        RecordingStore(db_path)


def test_the_schema_is_readable_sql(db_path: Path) -> None:
    RecordingStore(db_path).close()
    with sqlite3.connect(db_path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        assert {"recordings", "actions", "blobs", "schema_version", "action_timeline"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("key", [None, "", 42])
def test_a_missing_blob_key_is_named_not_an_assertion(db_path: Path, key: object) -> None:
    with RecordingStore(db_path) as store:
        with pytest.raises(ValueError, match="blob key is a non-empty string"):
            store.blob(key)  # type: ignore[arg-type]

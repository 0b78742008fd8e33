"""The store on its own: the seed model's semantics and bad input, on SQLite and PostgreSQL
(``store_target``); what only one engine can get wrong (a file that is not SQLite, a server
that does not answer, a user without rights) on that engine."""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from recorder import DatabaseError, RecordingClosed, RecordingStore
from recorder.store import ACTIONS_BEGUN_REMEMBERED
from recorder.storage.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from recorder.storage.sqlite.schema import SCHEMA_VERSION
from tests import engines, postgres

TIMELINE_KEYS = {"id", "type", "sequence", "timestamp_ms", "duration_ms", "selector", "value", "url", "status",
                 "error", "screenshot_key", "dom_snapshot_key", "metadata"}


def test_start_generates_a_name_and_stamps_the_start(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start(metadata={"agent": "shopper"})
        assert re.fullmatch(r"session_\d{8}_\d{6}", recording.name)
        assert recording.status == "recording" and recording.metadata["agent"] == "shopper"
        assert datetime.fromisoformat(recording.metadata["started_at"]).tzinfo is not None


def test_record_action_sequence_blobs_and_timeline_shape(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start(name="seed")
        first = recording.record_action("click", selector="button.submit", dom_snapshot="<html>same</html>")
        second = recording.record_action("type", selector="#q", value="milk", dom_snapshot="<html>same</html>")
        assert (first.sequence, second.sequence) == (1, 2)
        assert first.dom_snapshot_key == second.dom_snapshot_key
        timeline = recording.timeline()
        assert [set(action) for action in timeline] == [TIMELINE_KEYS, TIMELINE_KEYS]
        assert store.blob(first.dom_snapshot_key) == b"<html>same</html>"
        assert store.get(recording.id).action_count == 2
    assert engines.scalar(store_target, "SELECT count(*) FROM blobs") == 1  # stored once


def test_a_long_recording_remembers_only_its_latest_action_starts(tmp_path: Path) -> None:
    """Recording.when places what the browser stamped among the actions begun; it kept the
    start of every action for the life of the recording (an agent's day grew it without end)."""
    with RecordingStore(tmp_path / "long.db") as store:
        recording = store.start()
        for _ in range(5 * ACTIONS_BEGUN_REMEMBERED):
            last, _ = recording.reserve_sequence()
        assert recording.when(time.time())[0] == last
        assert len(recording._begun) <= 2 * ACTIONS_BEGUN_REMEMBERED  # (bounded: private, no other way to see it)


def test_complete_and_fail_only_end_a_recording_once(store_target: str) -> None:
    with RecordingStore(store_target) as store:
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
def test_bad_values_are_refused_and_nothing_earlier_is_lost(store_target: str, value: object, message: str) -> None:
    with RecordingStore(store_target) as store:
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


def test_another_apps_database_is_refused(store_target: str) -> None:
    engines.execute(store_target, "CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseError, match="not a recorder database"):
        RecordingStore(store_target)
    assert engines.tables(store_target) == {"users"}  # nothing created beside it


def test_a_newer_schema_is_refused_naming_both_versions(store_target: str) -> None:
    assert SCHEMA_VERSION == POSTGRES_SCHEMA_VERSION  # a version means the same schema on both engines
    RecordingStore(store_target).close()
    engines.execute(store_target, "INSERT INTO schema_version (version, applied_at) VALUES (?, 'future')",
                    (SCHEMA_VERSION + 5,))
    with pytest.raises(DatabaseError, match=f"schema version {SCHEMA_VERSION + 5}.*version {SCHEMA_VERSION}"):
        RecordingStore(store_target)


def test_the_schema_is_readable_sql(store_target: str) -> None:
    RecordingStore(store_target).close()
    assert {"recordings", "actions", "blobs", "schema_version", "action_timeline"} <= engines.tables(store_target)
    versions = engines.query(store_target, "SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_sqlite_keeps_a_write_ahead_log(db_path: Path) -> None:
    RecordingStore(db_path).close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreachable_server_is_named_without_its_password_at_once() -> None:
    port = postgres.free_port()  # nobody listens there
    url = f"postgresql://recorder:s3cret-pw@127.0.0.1:{port}/recordings"
    began = time.monotonic()
    with pytest.raises(DatabaseError) as raised:
        RecordingStore(url)
    assert time.monotonic() - began < 5, "refused at once, not after a timeout"
    message = str(raised.value)
    assert f"postgresql://recorder:***@127.0.0.1:{port}/recordings" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(raised.value)
    assert "cannot connect" in message


@pytest.fixture
def unprivileged_url(postgres_server: str, postgres_url: str) -> Iterator[str]:
    """``postgres_url`` as a role that may log in and nothing else (no CREATE on the
    database or its schema, no rights on its tables); with a password in the URL."""
    role = f"nobody_{uuid.uuid4().hex[:12]}"
    engines.execute(postgres_url, f"CREATE ROLE {role} LOGIN PASSWORD 'hunter2-pw'")
    engines.execute(postgres_url, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL < 15 grants it
    engines.execute(postgres_url, f"REVOKE CREATE, TEMPORARY ON DATABASE {urlsplit(postgres_url).path[1:]} FROM PUBLIC")
    parts = urlsplit(postgres_url)
    yield urlunsplit(parts._replace(netloc=f"{role}:hunter2-pw@{parts.hostname}:{parts.port}"))
    engines.execute(postgres_server, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ?", (role,))
    engines.execute(postgres_url, f"DROP OWNED BY {role}")
    engines.execute(postgres_url, f"DROP ROLE {role}")


def test_a_user_who_may_not_create_tables_gets_a_clear_error(unprivileged_url: str) -> None:
    with pytest.raises(DatabaseError) as raised:
        RecordingStore(unprivileged_url)
    message = str(raised.value)
    assert "permission denied" in message and "hunter2-pw" not in message
    assert urlsplit(unprivileged_url).hostname in message and ":***@" in message


def test_a_user_without_rights_on_a_recorder_database_gets_a_clear_error(postgres_url: str, unprivileged_url: str) -> None:
    with RecordingStore(postgres_url) as store:  # made by its owner
        store.start(name="theirs").complete()
    with pytest.raises(DatabaseError) as raised:
        RecordingStore(unprivileged_url)
    message = str(raised.value)
    assert "permission denied" in message and "hunter2-pw" not in message and ":***@" in message
    assert [name for (name,) in engines.query(postgres_url, "SELECT name FROM recordings")] == ["theirs"]


@pytest.mark.parametrize("key", [None, "", 42])
def test_a_missing_blob_key_is_named_not_an_assertion(store_target: str, key: object) -> None:
    with RecordingStore(store_target) as store:
        with pytest.raises(ValueError, match="blob key is a non-empty string"):
            store.blob(key)  # type: ignore[arg-type]


def test_the_default_database_is_recorder_db(store_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDER_DB", store_target)
    with RecordingStore() as store:
        store.start(name="by default").complete()
        assert store.location == store_target
    with RecordingStore(store_target) as store:
        assert [r.name for r in store.list()] == ["by default"]


def test_asking_for_what_is_not_there_is_an_answer_not_a_lost_write_warning(tmp_path: Path) -> None:
    # Since any failed job warned, store.get_run("ffff") warned "could not write ...
    # recording goes on without saving" beside raising RunNotFound.
    import warnings

    from recorder import RecorderWarning
    from recorder.errors import RunNotFound

    with warnings.catch_warnings(record=True) as caught, RecordingStore(tmp_path / "r.db") as store:
        warnings.simplefilter("always")
        with pytest.raises(RunNotFound):
            store.get_run("ffff")
    assert not [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]


def test_nan_and_infinity_in_json_are_stored_as_null_on_every_engine(store_target: str) -> None:
    # Python's json writes them, SQLite kept them, PostgreSQL's jsonb refused the whole write.
    odd = {"nan": float("nan"), "big": float("inf"), "list": [1.5, float("-inf")], "fine": 2.5}
    stored = {"nan": None, "big": None, "list": [1.5, None], "fine": 2.5}
    with RecordingStore(store_target) as store:
        recording = store.start("odd numbers", metadata=odd)
        recording.record_action("click", selector="#a", metadata=odd)
        recording.record_event("console", {"text": "hi", "level": "log", **odd}, action_sequence=1)
        recording.update_metadata({"later": odd})
        recording.complete()
        store.flush()
    with RecordingStore(store_target) as store:
        [again] = store.list()
        # (merged in as a JSON merge patch does, a null removes its key)
        assert {key: again.metadata[key] for key in (*odd, "later")} == {**stored, "later": {"list": [1.5, None],
                                                                                              "fine": 2.5}}
        assert {key: again.timeline()[0]["metadata"][key] for key in odd} == stored
        assert {key: again.events()[0][key] for key in odd} == stored


@pytest.mark.parametrize("form", ["postgresql://recorder@127.0.0.1:{port}/recordings?password=s3cret-pw",
                                  "postgresql://127.0.0.1:{port}/recordings?user=recorder&password=s3cret-pw&x=1",
                                  "host=127.0.0.1 port={port} password='s3cret-pw' dbname=recordings"])
def test_a_password_given_as_a_parameter_is_never_printed(form: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = form.format(port=postgres.free_port())  # nobody listens there
    with pytest.raises(DatabaseError) as raised:
        RecordingStore(target)
    assert "s3cret-pw" not in str(raised.value) and "s3cret-pw" not in repr(raised.value)
    assert "password=***" in str(raised.value)
    assert list(tmp_path.iterdir()) == []  # (the keyword/value form made a SQLite file of that name)

"""Reading never writes: ``RecordingStore(..., readonly=True)`` and the reading commands
(list, show, view, export, stats, blob) leave a database as they found it, never migrate
it, and refuse writes; ``recorder migrate`` is what upgrades an older schema."""

from __future__ import annotations

import hashlib
import io
import socket
import sqlite3
import urllib.request
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from recorder import AsyncRecordingStore, DatabaseError, ReadOnlyStore, RecordingStore
from recorder import viewer
from recorder.cli import main
from recorder.storage.postgres.schema import MIGRATIONS as PG_MIGRATIONS
from recorder.storage.postgres.schema import VERSION_TABLE as PG_VERSION_TABLE
from recorder.storage.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from tests import engines

DEAD_PROCESS = f"{socket.gethostname()}:999999999:1"  # this host, no such pid


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), "teal").save(out, "JPEG")
    return out.getvalue()


def fill(target: str | Path) -> dict[str, Any]:
    """A completed recording with a screenshot and a DOM snapshot, and one whose process
    died without ending it (left 'recording'); their ids and the screenshot's key."""
    with RecordingStore(target) as store:
        done = store.start(name="done")
        done.record_action("navigate", url="http://127.0.0.1/", screenshot=jpeg(), dom_snapshot="<p>hello</p>")
        done.complete()
        dead = store.start(name="dead")
        dead.record_action("click", selector="#go")
        store.flush()
        key = done.timeline()[0]["screenshot_key"]
        ids = {"done": done.id, "dead": dead.id, "key": key}
    engines.execute(target, "UPDATE recordings SET recorder_process = ? WHERE id = ?", (DEAD_PROCESS, ids["dead"]))
    return ids


def fingerprint(path: Path) -> tuple[Any, ...]:
    """The file's bytes and mtime, and what lies beside it."""
    return (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns,
            sorted(p.name for p in path.parent.iterdir()))


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def first_schema_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
                           + MIGRATIONS[1] + "INSERT INTO schema_version VALUES (1, 'then');"
                           "INSERT INTO recordings (name, started_at) VALUES ('old', '2026-01-01T00:00:00+00:00');")
    conn.close()


def test_reading_commands_leave_a_closed_database_byte_for_byte(tmp_path: Path, monkeypatch: Any) -> None:
    db = tmp_path / "ci-artifact" / "recordings.db"
    db.parent.mkdir()
    ids = fill(db)
    assert sorted(p.name for p in db.parent.iterdir()) == ["recordings.db"]  # closed cleanly
    before = fingerprint(db)
    out = tmp_path / "out"
    out.mkdir()
    for args in (["list"], ["list", "--json"], ["list", "--status", "interrupted"], ["show", str(ids["done"])],
                 ["show", str(ids["dead"]), "--json"], ["stats"], ["export", str(ids["done"])],
                 ["export", str(ids["done"]), "--format", "pytest"],
                 ["export", str(ids["done"]), "--format", "playwright-trace", "-o", str(out / "trace.zip")],
                 ["view", str(ids["done"]), "--no-open", "-o", str(out / "view.html")],
                 ["blob", ids["key"], "-o", str(out / "shot.jpg")]):
        result = cli(*args, "--db", str(db))
        assert result.exit_code == 0, (args, result.output)
        assert fingerprint(db) == before, args
    # The dead recording is shown interrupted, as a writer would mark it, but not marked.
    listed = cli("list", "--status", "interrupted", "--db", str(db)).output
    assert "dead" in listed and "done" not in listed
    assert engines.scalar(str(db), "SELECT status FROM recordings WHERE id = ?", (ids["dead"],)) == "recording"
    assert fingerprint(db)[0] == before[0]

    # view --serve: pages and blobs served, nothing written.
    fetched: list[int] = []

    def serve(store: RecordingStore, port: int = 0, ready: Any = None) -> None:
        assert store.readonly
        base, server = viewer.serve_in_thread(store)
        try:
            for path in ("/", f"/recording/{ids['done']}"):
                with urllib.request.urlopen(base + path) as answer:
                    fetched.append(answer.status)
        finally:
            server.shutdown()
            server.server_close()

    monkeypatch.setattr(viewer, "serve", serve)
    assert cli("view", str(ids["done"]), "--serve", "--no-open", "--db", str(db)).exit_code == 0
    assert fetched == [200, 200]
    assert fingerprint(db) == before


def test_a_read_only_store_reads_a_live_writers_wal_and_one_that_starts_later(tmp_path: Path) -> None:
    db = tmp_path / "recordings.db"
    fill(db)
    with RecordingStore(db, readonly=True) as reader:  # opened on a closed file: immutable
        assert len(reader.list()) == 2
        with RecordingStore(db) as writer:  # a writer starts: a -wal appears
            writer.start(name="live").record_action("click")
            writer.flush()
            assert Path(f"{db}-wal").exists()
            assert [r.name for r in reader.list()] == ["live", "dead", "done"]
            with RecordingStore(db, readonly=True) as second:  # opened on the live WAL: mode=ro
                assert second.list()[0].name == "live" and second.list()[0].status == "recording"
                assert second.list()[0].timeline()[0]["type"] == "click"
            writer.start(name="later")
            assert reader.list(limit=1)[0].name == "later"


def test_the_async_read_only_store_reads_a_writer_that_starts_later(tmp_path: Path, run_async: Any) -> None:
    db = tmp_path / "recordings.db"
    fill(db)

    async def read() -> None:
        async with AsyncRecordingStore(db, readonly=True) as reader:  # opened on a closed file: immutable
            assert len(await reader.list()) == 2
            with RecordingStore(db) as writer:  # a writer starts: a -wal appears
                writer.start(name="live").record_action("click")
                writer.flush()
                assert [r.name for r in await reader.list()] == ["live", "dead", "done"]
                writer.start(name="later")
                writer.flush()
                assert (await reader.list(limit=1))[0].name == "later"

    run_async(read())


def test_a_read_only_store_refuses_every_write(store_target: str) -> None:
    ids = fill(store_target)
    with RecordingStore(store_target, readonly=True) as store:
        dead = store.get(ids["dead"])
        assert dead.status == "interrupted" and dead.refresh().status == "interrupted"
        assert store.list(status="recording") == [] and [r.id for r in store.list(status="interrupted")] == [ids["dead"]]
        done = store.get(ids["done"])
        with pytest.raises(ReadOnlyStore, match="cannot start a recording: .* was opened read-only"):
            store.start(name="nope")
        with pytest.raises(ReadOnlyStore):
            store.start_user_session()
        with pytest.raises(ReadOnlyStore):
            store.delete(ids["done"])
        with pytest.raises(ReadOnlyStore):
            store.prune(timedelta(days=1))
        with pytest.raises(ReadOnlyStore):
            store.vacuum()
        with pytest.raises(ReadOnlyStore):
            store.restore({"name": "x", "status": "completed", "started_at": done.started_at}, [], {})
        live = store.get(ids["dead"])
        live.status = "recording"  # as if its process were alive
        for write in (lambda: live.record_action("click"), live.complete, lambda: live.fail("x"),
                      lambda: live.update_metadata({"a": 1}), lambda: live.record_event("console", {}),
                      lambda: live.record_source("a.py", "x"), lambda: live.attach_dom_snapshot(1, "<p>")):
            with pytest.raises(ReadOnlyStore):
                write()
        assert store.blob(ids["key"]) and store.stats()["recordings by status"]
    # Nothing was marked: the dead recording still says 'recording' in the database.
    assert engines.scalar(store_target, "SELECT status FROM recordings WHERE id = ?", (ids["dead"],)) == "recording"
    assert engines.scalar(store_target, "SELECT count(*) FROM recordings") == 2
    if engines.is_postgres(store_target):  # and the server itself refuses writes on its connection
        with RecordingStore(store_target, readonly=True) as store:
            # The caller hears it as an error; no warning besides (a reader's jobs are all reads).
            with pytest.raises(DatabaseError, match="could not read .*read-only transaction"), \
                    warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                store._writer.call(lambda conn: conn.execute("DELETE FROM recordings"))
            assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    with RecordingStore(store_target) as writer:  # a writer marks it
        assert writer.get(ids["dead"]).status == "interrupted"


def test_an_older_sqlite_schema_is_refused_by_readers_and_upgraded_by_recorder_migrate(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    first_schema_sqlite(db)
    before = fingerprint(db)
    for args in (["list"], ["show", "1"], ["stats"], ["export", "1"], ["view", "1", "--no-open"]):
        result = cli(*args, "--db", str(db))
        assert result.exit_code == 1, args
        assert f"schema version 1, older than this recorder's ({SCHEMA_VERSION})" in result.output
        assert f"recorder migrate {db}" in result.output
    with pytest.raises(DatabaseError, match="recorder migrate"):
        RecordingStore(db, readonly=True)
    assert fingerprint(db) == before

    result = cli("migrate", str(db))
    assert result.exit_code == 0 and result.output.strip() == f"migrated {db}: schema version 1 -> {SCHEMA_VERSION}"
    assert sorted(p.name for p in db.parent.iterdir()) == ["old.db"]
    assert "old" in cli("list", "--db", str(db)).output
    assert cli("migrate", "--db", str(db)).output.strip() == \
        f"{db} is already at schema version {SCHEMA_VERSION}; nothing to do"


def test_recorder_migrate_refuses_what_it_cannot_migrate(tmp_path: Path) -> None:
    assert "before and after" in cli("migrate", "--help").output
    missing = cli("migrate", str(tmp_path / "missing.db"))
    assert missing.exit_code == 1 and "nothing to migrate" in missing.output
    assert not (tmp_path / "missing.db").exists()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert "not a recorder database" in cli("migrate", str(other)).output
    assert cli("migrate", str(other), "--db", str(tmp_path / "x.db")).exit_code == 2


def test_a_writer_refusing_another_programs_database_leaves_it_as_it_was(tmp_path: Path) -> None:
    # It was switched to WAL (its header rewritten) before being judged and refused.
    other, newer = tmp_path / "other.db", tmp_path / "newer.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    RecordingStore(newer).close()
    engines.execute(str(newer), "INSERT INTO schema_version VALUES (99, 'later')")
    for db, reason in ((other, "no schema_version table"), (newer, "schema version 99")):
        before = fingerprint(db)
        for args in (["vacuum"], ["prune", "--older-than", "1d"], ["import", str(tmp_path / "none.json")]):
            result = cli(*args, "--db", str(db))
            assert result.exit_code != 0 and (result.exception is None or isinstance(result.exception, SystemExit))
        with pytest.raises(DatabaseError, match=reason):
            RecordingStore(db)
        assert fingerprint(db) == before, db.name
    with sqlite3.connect(other) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


@pytest.mark.parametrize("damage", ["pages overwritten", "recordings table dropped", "actions table dropped"])
def test_writers_on_a_damaged_database_say_so_in_a_line(tmp_path: Path, damage: str) -> None:
    # vacuum, prune and import ended in a raw sqlite3 traceback.
    db = tmp_path / "damaged.db"
    with RecordingStore(db) as store:
        for name in ("a", "b"):
            store.start(name=name).record_action("click", dom_snapshot="<p>" + "x" * 20_000 + "</p>")
    cassette = tmp_path / "c.json"
    assert cli("export", "1", "--db", str(db), "-o", str(cassette)).exit_code == 0
    if damage == "pages overwritten":
        with open(db, "r+b") as file:
            file.seek(2 * 4096)
            file.write(b"\xa5" * 3 * 4096)
    else:
        engines.execute(str(db), "PRAGMA foreign_keys = OFF")
        engines.execute(str(db), f"DROP TABLE {damage.split()[0]}")
    for args in (["vacuum"], ["prune", "--older-than", "1d"], ["import", str(cassette)], ["list"], ["show", "1"],
                 ["migrate"]):
        result = cli(*args, "--db", str(db))
        if result.exit_code == 0 and args[0] in ("prune", "list"):
            continue  # nothing old to delete, nothing listed from actions: the missing table is not read
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (args, result.output)
        last = result.output.strip().splitlines()[-1]  # after any progress line
        assert last.startswith("error: ") and "damaged.db" in last, (args, result.output)
        if args[0] in ("list", "show"):  # readers read
            assert "could not write" not in result.output and "Warning" not in result.output, (args, result.output)


def test_recorder_migrate_on_postgresql(postgres_url: str) -> None:
    engines.execute(postgres_url, PG_VERSION_TABLE)
    for number in (1, 2):
        engines.execute(postgres_url, PG_MIGRATIONS[number])
        engines.execute(postgres_url, "INSERT INTO schema_version VALUES (?, 'then')", (number,))
    engines.execute(postgres_url, "INSERT INTO recordings (name, started_at) VALUES ('old', '2026-01-01')")
    result = cli("list", "--db", postgres_url)
    assert result.exit_code == 1 and "schema version 2, older" in result.output and "recorder migrate" in result.output
    assert engines.scalar(postgres_url, "SELECT max(version) FROM schema_version") == 2
    result = cli("migrate", postgres_url)
    assert result.exit_code == 0 and f"schema version 2 -> {SCHEMA_VERSION}" in result.output
    with RecordingStore(postgres_url, readonly=True) as store:
        assert [r.name for r in store.list()] == ["old"]
    assert "nothing to do" in cli("migrate", postgres_url).output


def test_recorder_migrate_gives_an_empty_postgresql_database_its_tables(postgres_url: str) -> None:
    with pytest.raises(DatabaseError, match="no recorder tables"):
        RecordingStore(postgres_url, readonly=True)
    assert engines.tables(postgres_url) == set()
    assert f"schema version 0 -> {SCHEMA_VERSION}" in cli("migrate", postgres_url).output
    assert "schema_version" in engines.tables(postgres_url)


def test_the_async_store_read_only_writes_nothing(store_target: str, run_async: Any, tmp_path: Path) -> None:
    ids = fill(store_target)
    before = fingerprint(Path(store_target)) if not engines.is_postgres(store_target) else None

    async def read() -> None:
        async with AsyncRecordingStore(store_target, readonly=True) as store:
            assert {r.name for r in await store.list()} == {"done", "dead"}
            assert await store.blob(ids["key"])
            # The dead recording reads interrupted, as with RecordingStore(readonly=True).
            dead = await store.get(ids["dead"])
            assert dead.status == "interrupted" and (await dead.refresh()).status == "interrupted"
            assert await store.list(status="recording") == []
            assert [r.id for r in await store.list(status="interrupted")] == [ids["dead"]]

    run_async(read())
    assert engines.scalar(store_target, "SELECT status FROM recordings WHERE id = ?", (ids["dead"],)) == "recording"
    if before is not None:
        assert fingerprint(Path(store_target)) == before
        old = tmp_path / "old.db"
        first_schema_sqlite(old)
        with pytest.raises(DatabaseError, match="recorder migrate"):
            run_async(AsyncRecordingStore(old, readonly=True).open())


def test_both_engines_refuse_a_newer_schema_alike_writing_and_reading(store_target: str) -> None:
    with RecordingStore(store_target):
        pass  # created at this recorder's schema
    engines.execute(store_target, "INSERT INTO schema_version (version, applied_at) VALUES (?, 'later')",
                    (SCHEMA_VERSION + 1,))
    for readonly in (False, True):
        with pytest.raises(DatabaseError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this recorder"
                                                f" understands \\(version {SCHEMA_VERSION}\\); upgrade recorder"):
            RecordingStore(store_target, readonly=readonly)
    assert engines.scalar(store_target, "SELECT max(version) FROM schema_version") == SCHEMA_VERSION + 1

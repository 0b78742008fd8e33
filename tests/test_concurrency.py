"""Several processes recording into one database, and readers while they write (on SQLite
and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from recorder import RecordingStore
from recorder.cli import main
from recorder.viewer import serve_in_thread
from tests import engines
from tests.test_tiles import wrong_tile_refs

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[4])
    from benchmarks.reliability import screenshot, dom
    from recorder import RecordingStore
    with RecordingStore(sys.argv[1]) as store:
        recording = store.start(name=sys.argv[2])
        for i in range(int(sys.argv[3])):
            recording.record_action("click", selector=f"#b{i}", value=f"{sys.argv[2]} {i} ✓",
                                    screenshot=screenshot(i), dom_snapshot=dom(i))
        recording.complete()
""")


def start_writers(target: str, writers: int, actions: int) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([sys.executable, "-c", WRITER, target, f"writer-{n}", str(actions), str(ROOT)],
                             stderr=subprocess.PIPE, text=True) for n in range(writers)]


def test_four_processes_lose_nothing_and_never_see_a_locked_database(store_target: str) -> None:
    RecordingStore(store_target).close()
    children = start_writers(store_target, 4, 60)
    errors = [child.communicate(timeout=240)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], errors
    assert not any("locked" in error for error in errors)
    rows = engines.query(
        store_target,
        "SELECT r.name, r.status, count(a.id), count(DISTINCT a.sequence), min(a.sequence), max(a.sequence),"
        " count(a.screenshot_key), count(a.dom_snapshot_key)"
        " FROM recordings r JOIN actions a ON a.recording_id = r.id GROUP BY r.id ORDER BY r.name")
    assert rows == [(f"writer-{n}", "completed", 60, 60, 1, 60, 60, 60) for n in range(4)]


def test_list_and_the_viewer_server_keep_answering_while_writers_write(store_target: str) -> None:
    RecordingStore(store_target).close()
    children = start_writers(store_target, 2, 150)
    seen_counts: list[int] = []
    with RecordingStore(store_target) as reader:
        url, server = serve_in_thread(reader)
        try:
            while any(child.poll() is None for child in children) or len(seen_counts) < 3:
                result = CliRunner().invoke(main, ["list", "--db", store_target, "--json"])
                assert result.exit_code == 0, result.output
                with urllib.request.urlopen(url + "/", timeout=10) as response:
                    assert response.status == 200 and b"<table" in response.read()
                recordings = reader.list()
                if recordings:
                    newest = recordings[0]
                    with urllib.request.urlopen(f"{url}/recording/{newest.id}", timeout=10) as response:
                        assert response.status == 200
                    timeline = newest.timeline()
                    if timeline and timeline[0]["dom_snapshot_key"]:
                        assert b"<table>" in reader.blob(timeline[0]["dom_snapshot_key"])
                seen_counts.append(sum(r.action_count for r in recordings))
        finally:
            server.shutdown()
            server.server_close()
    assert [child.wait(timeout=60) for child in children] == [0, 0]
    assert len(seen_counts) >= 3 and seen_counts == sorted(seen_counts)  # reads saw the writes progress
    with RecordingStore(store_target) as store:
        assert sorted(r.action_count for r in store.list()) == [150, 150]


# Screenshots made of the same tiles (TILE px squares of 12 colours) in another order each,
# masked so that they are cut into tiles at once, in the writer's round transaction.
TILED_WRITER = textwrap.dedent("""
    import io, random, sys, warnings
    from PIL import Image
    from recorder import RecordingStore
    from recorder.tiles import TILE

    def shot(seed):
        order = list(range(12))
        random.Random(seed).shuffle(order)
        image = Image.new("RGB", (4 * TILE, 3 * TILE))
        for place, colour in enumerate(order):
            image.paste((colour * 20, 255 - colour * 20, colour * 7), (place % 4 * TILE, place // 4 * TILE,
                                                                      (place % 4 + 1) * TILE, (place // 4 + 1) * TILE))
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    warnings.simplefilter("error")  # a screenshot lost says so in a RecorderWarning
    masks = {"viewport_width": 4 * TILE, "boxes": [{"x": 0, "y": 0, "width": 2, "height": 2}]}
    shots = [shot(int(sys.argv[2]) * 1000 + i) for i in range(int(sys.argv[3]))]
    with RecordingStore(sys.argv[1]) as store:
        recording = store.start(name=f"writer-{sys.argv[2]}")
        for i, png in enumerate(shots, 1):
            recording.record_action("click", selector=f"#b{i}")
            recording.attach_screenshot(i, png, masks=masks)
        recording.complete()
""")


def test_writers_storing_screenshots_of_the_same_tiles_at_once_lose_none(store_target: str) -> None:
    # On PostgreSQL each writer locks the tiles' rows in its transaction: in the order of a
    # screenshot's grid they deadlocked, and the screenshot given up was lost.
    RecordingStore(store_target).close()
    children = [subprocess.Popen([sys.executable, "-c", TILED_WRITER, store_target, str(n), "20"],
                                 stderr=subprocess.PIPE, text=True) for n in range(4)]
    errors = [child.communicate(timeout=240)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], errors
    rows = engines.query(store_target, "SELECT r.name, count(a.screenshot_key) FROM recordings r"
                                       " JOIN actions a ON a.recording_id = r.id GROUP BY r.name ORDER BY r.name")
    assert rows == [(f"writer-{n}", 20) for n in range(4)]
    assert wrong_tile_refs(store_target) == {}


def test_a_round_postgresql_gives_up_in_a_deadlock_is_run_again(postgres_url: str) -> None:
    import psycopg

    with RecordingStore(postgres_url) as store:
        first, second = store.start("first"), store.start("second")
        other = psycopg.connect(postgres_url, autocommit=True)
        try:
            other.execute("SET deadlock_timeout = '20s'")  # the server gives up the store's transaction, not this one
            other.execute("BEGIN")
            other.execute("UPDATE recordings SET name = 'other' WHERE id = %s", (second.id,))
            first_locked = threading.Event()

            def job(conn: Any) -> None:  # locks first, then waits for second: other's
                conn.execute("UPDATE recordings SET action_count = action_count + 1 WHERE id = ?", (first.id,))
                first_locked.set()
                conn.execute("UPDATE recordings SET action_count = action_count + 1 WHERE id = ?", (second.id,))

            done = store._writer.submit(job)
            assert first_locked.wait(10)
            deadline = time.monotonic() + 10
            while not engines.scalar(postgres_url, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                     " current_database() AND application_name = 'recorder' AND wait_event_type = 'Lock'"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            # Now each waits for the other: the server fails the store's round (after 1 s).
            other.execute("UPDATE recordings SET name = 'other' WHERE id = %s", (first.id,))
            other.execute("COMMIT")
            done.result(timeout=30)
        finally:
            other.close()
    assert engines.query(postgres_url, "SELECT name, action_count FROM recordings ORDER BY id") == [
        ("other", 1), ("other", 1)]  # the job was run again, and is written once

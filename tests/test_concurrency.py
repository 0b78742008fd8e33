"""Several processes recording into one database, and readers while they write (on SQLite
and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from recorder import RecordingStore
from recorder.cli import main
from recorder.viewer import serve_in_thread
from tests import engines

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

"""The README's first command: examples/demo.py records a real session and says where it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from recorder import RecordingStore

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_the_demo_records_the_todo_app_and_prints_where_to_look(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = subprocess.run([sys.executable, str(DEMO), "--db", str(db)], capture_output=True, text=True,
                            timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Recorded 15 actions as recording 1 (todo_demo, completed)"
    assert f"Database: {db}" in lines
    assert f"  recorder view 1 --db {db}        # writes the viewer and opens it" in lines
    viewer = tmp_path / "recording-1.html"
    assert f"Viewer:   {viewer}  (open it in a browser; one self-contained file)" in lines
    assert viewer.stat().st_size > 10_000 and "data:image/jpeg;base64," in viewer.read_text()
    with RecordingStore(db) as store:
        timeline = store.get(1).timeline()
    assert len(timeline) == 15 and all(a["screenshot_key"] for a in timeline)
    assert all(a["dom_snapshot_key"] for a in timeline if a["metadata"]["api"] != "event.navigate")
    assert b"not stored anywhere" not in b"".join(p.read_bytes() for p in tmp_path.glob("demo.db*"))

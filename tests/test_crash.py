"""A recording process that dies without ending its recording (SIGKILL, a CI timeout), on
SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from recorder import RecordingStore
from recorder.cli import main
from tests import engines

CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from recorder import RecordingStore
    store = RecordingStore(sys.argv[1])
    recording = store.start(name="doomed")
    for i in range(int(sys.argv[2])):
        recording.record_action("type", selector="#name", value=f"value {i}", dom_snapshot=f"<html>{i}</html>")
    # Committed: how soon rows commit without this, under load, is what
    # benchmarks/reliability.py measures (a timed wait here failed on a loaded machine).
    store.flush(tiled=False)
    print("recorded", flush=True)
    if sys.argv[3] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
""")


def run_child(target: str, actions: int, mode: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, target, str(actions), mode],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "recorded"
    return child


def test_a_killed_recording_is_marked_interrupted_with_its_actions_kept(store_target: str) -> None:
    child = run_child(store_target, 25, "kill")
    assert child.wait(timeout=10) == -signal.SIGKILL
    if not engines.is_postgres(store_target):
        assert engines.scalar(store_target, "PRAGMA integrity_check") == "ok"
    with RecordingStore(store_target) as store:
        (recording,) = store.list()
        assert recording.status == "interrupted" and recording.interrupted_at
        assert [a["value"] for a in recording.timeline()] == [f"value {i}" for i in range(25)]
        assert recording.metadata["interrupted_at"] == recording.interrupted_at
    result = CliRunner().invoke(main, ["list", "--db", store_target])
    assert "interrupted" in result.stdout


def test_a_recording_whose_process_still_runs_is_left_alone(store_target: str) -> None:
    child = run_child(store_target, 3, "wait")
    try:
        with RecordingStore(store_target) as store:
            assert store.list()[0].status == "recording"
    finally:
        child.kill()
        child.wait()
    with RecordingStore(store_target) as store:
        assert store.list()[0].status == "interrupted"

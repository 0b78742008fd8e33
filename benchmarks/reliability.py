"""Does what was recorded survive kills and concurrency, and how fast does the store write?

    python benchmarks/reliability.py                 # 20 kills, 8 writers x 200 actions, throughput
    python benchmarks/reliability.py --kills 50 --writers 8 --actions 200

1. Kills: a child process records actions (a ~50 KB screenshot and a ~90 KB DOM each) and
   reports when each record_action call returned; it is SIGKILLed at a random moment. The
   database must pass `PRAGMA integrity_check`, the recording must come back `interrupted`,
   and every action whose call returned more than INTERVAL before the kill must be there.
2. Concurrency: N processes record into one database at once, as pytest-xdist workers do:
   every action present, sequences 1..n with no gap or duplicate, no "database is locked".
3. Throughput of the store alone: actions/s with those snapshots, queued then flushed.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import RecordingStore  # noqa: E402

INTERVAL = 0.5  # seconds: what the writer thread may still hold when the process dies (see README)


def screenshot(i: int) -> bytes:
    """A ~50 KB 1280x720 JPEG: lines of text, and a corner that changes with each action."""
    rng = random.Random(7)
    image = Image.new("RGB", (1280, 720), "white")
    draw = ImageDraw.Draw(image)
    for row in range(8):
        draw.text((10, 40 + row * 16), "".join(rng.choice("abcdefghij ") for _ in range(110)), fill=(30, 30, 30))
    draw.rectangle([1000, 660, 1270, 710], fill=(200, 220, 255))
    draw.text((1010, 675), f"action {i}", fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return out.getvalue()


def dom(i: int) -> str:
    """A ~90 KB DOM snapshot of a table whose status line changes with each action."""
    rows = "".join(f"<tr><td>{n}</td><td>item {n}</td><td><input value='v{n}'></td></tr>" for n in range(1330))
    return f"<!DOCTYPE html><html><body><p id=status>action {i}</p><table>{rows}</table></body></html>"


CHILD = """
import sys, time
sys.path.insert(0, sys.argv[3])
from benchmarks.reliability import screenshot, dom
from recorder import RecordingStore
store = RecordingStore(sys.argv[1])
recording = store.start(name=sys.argv[2])
print("started", recording.id, flush=True)
for i in range(100000):
    recording.record_action("type", selector="#q", value=f"value {i}", screenshot=screenshot(i % 50), dom_snapshot=dom(i))
    print("returned", i, time.time(), flush=True)
"""


def kills(count: int, workdir: Path) -> dict[str, int]:
    db = workdir / "kills.db"
    survived = lost = recorded = 0
    oldest_lost = 0.0
    root = str(Path(__file__).resolve().parent.parent)
    for attempt in range(count):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), f"kill-{attempt}", root],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        recording_id = int(child.stdout.readline().split()[1])
        deadline = time.time() + random.uniform(0.2, 1.5)
        returned: list[tuple[int, float]] = []
        os.set_blocking(child.stdout.fileno(), False)
        partial = ""  # a non-blocking read can end in the middle of a line
        while time.time() < deadline:
            for line in child.stdout:
                line, partial = partial + line, ""
                if not line.endswith("\n"):
                    partial = line
                    continue
                _, i, at = line.split()
                returned.append((int(i), float(at)))
            time.sleep(0.01)
        killed_at = time.time()
        child.send_signal(signal.SIGKILL)
        child.wait()
        with sqlite3.connect(db) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with RecordingStore(db) as store:
            recording = store.get(recording_id)
            present = {int(a["value"].split()[1]) for a in recording.timeline()}
        must_have = {i for i, at in returned if at < killed_at - INTERVAL}
        lost += len(must_have - present)
        ages = [killed_at - at for i, at in returned if i not in present]
        oldest_lost = max([oldest_lost, *ages])
        recorded += len(must_have)
        survived += ok and recording.status == "interrupted"
        print(f"kill {attempt + 1}/{count}: {len(present)} actions kept, {len(must_have - present)} lost", file=sys.stderr)
    return {"kills": count, "survived": survived, "actions_required": recorded, "actions_lost": lost,
            "oldest_lost_ms": round(oldest_lost * 1000)}


WRITER = """
import sys
sys.path.insert(0, sys.argv[3])
from benchmarks.reliability import screenshot, dom
from recorder import RecordingStore
store = RecordingStore(sys.argv[1])
recording = store.start(name=sys.argv[2])
for i in range(int(sys.argv[4])):
    recording.record_action("click", selector=f"#b{i}", value=str(i), screenshot=screenshot(i), dom_snapshot=dom(i))
recording.complete()
store.close()
"""


def concurrency(writers: int, actions: int, workdir: Path) -> dict[str, object]:
    db = workdir / "concurrent.db"
    RecordingStore(db).close()
    root = str(Path(__file__).resolve().parent.parent)
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"writer-{n}", root, str(actions)],
                                 stderr=subprocess.PIPE, text=True) for n in range(writers)]
    errors = [child.communicate()[1] for child in children]
    elapsed = time.perf_counter() - started
    locked = sum("database is locked" in error for error in errors)
    failed = sum(child.returncode != 0 for child in children)
    with sqlite3.connect(db) as conn:
        per_recording = conn.execute(
            "SELECT r.name, count(a.id), count(DISTINCT a.sequence), min(a.sequence), max(a.sequence)"
            " FROM recordings r LEFT JOIN actions a ON a.recording_id = r.id GROUP BY r.id").fetchall()
    missing = sum(actions - n for _, n, _, _, _ in per_recording)
    bad_sequences = sum(not (n == distinct == actions and low == 1 and high == actions)
                        for _, n, distinct, low, high in per_recording)
    return {"writers": writers, "actions_each": actions, "seconds": round(elapsed, 1), "missing_actions": missing,
            "bad_sequences": bad_sequences, "locked_errors": locked, "failed_writers": failed}


def throughput(actions: int, workdir: Path) -> dict[str, float]:
    """The store alone: distinct screenshots and DOMs, as a busy recording would send them.

    Durable = every action's row and snapshots committed (flush(tiled=False)); tiled = the
    screenshots also cut into tiles, which the writer does when it is otherwise idle.
    """
    shots = [screenshot(i) for i in range(actions)]
    doms = [dom(i) for i in range(actions)]
    with RecordingStore(workdir / "throughput.db") as store:
        recording = store.start(name="throughput")
        started = time.perf_counter()
        for i in range(actions):
            recording.record_action("click", value=str(i), screenshot=shots[i], dom_snapshot=doms[i])
        queued = time.perf_counter() - started
        store.flush(tiled=False)
        durable = time.perf_counter() - started
        store.flush()
        tiled = time.perf_counter() - started
        stored = store._call(lambda conn: conn.execute("SELECT sum(stored_size) FROM blobs").fetchone()[0])
    return {"actions": actions, "screenshot_kb": round(len(shots[0]) / 1000), "dom_kb": round(len(doms[0]) / 1000),
            "record_action_us": round(queued / actions * 1e6), "actions_per_second": round(actions / durable),
            "tiled_actions_per_second": round(actions / tiled), "bytes_per_action": round(stored / actions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--actions", type=int, default=200, help="actions per concurrent writer")
    parser.add_argument("--throughput-actions", type=int, default=500)
    parser.add_argument("--only-kills", action="store_true", help="run the kill test alone")
    parser.add_argument("--only-throughput", action="store_true", help="run the throughput test alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only_throughput:
            print(throughput(args.throughput_actions, workdir))
            return
        k = kills(args.kills, workdir)
        if args.only_kills:
            print(k)
            return
        c = concurrency(args.writers, args.actions, workdir)
        t = throughput(args.throughput_actions, workdir)
    print(f"\nkills survived with integrity ok and status interrupted: {k['survived']}/{k['kills']}")
    print(f"actions lost (returned > {INTERVAL * 1000:.0f} ms before the kill): {k['actions_lost']} "
          f"of {k['actions_required']}; the oldest lost action returned {k['oldest_lost_ms']} ms before the kill")
    print(f"{c['writers']} concurrent writers x {c['actions_each']} actions in {c['seconds']} s: "
          f"{c['missing_actions']} missing, {c['bad_sequences']} recordings with bad sequences, "
          f"{c['locked_errors']} 'database is locked', {c['failed_writers']} writers failed")
    print(f"store throughput: {t['actions_per_second']:,.0f} actions/s with a {t['screenshot_kb']} KB screenshot and "
          f"a {t['dom_kb']} KB DOM each, committed (goal >= 2,000); record_action returns in {t['record_action_us']} us")
    print(f"  including cutting the screenshots into tiles (idle-time work): {t['tiled_actions_per_second']:,.0f} actions/s; "
          f"{t['bytes_per_action']:,} blob bytes/action once tiled")


if __name__ == "__main__":
    main()

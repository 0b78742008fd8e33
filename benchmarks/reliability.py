"""Does what was recorded survive kills and concurrency, and how fast does the store write?
Run on SQLite and PostgreSQL, side by side.

    python benchmarks/reliability.py                       # both engines, ~3-4 minutes
    python benchmarks/reliability.py --engines sqlite      # SQLite alone (no server needed)
    python benchmarks/reliability.py --postgres-url postgresql://me@db:5432/postgres --json
    python benchmarks/reliability.py --kills 50 --postgres-kills 10 --writers 8 --actions 200

Each engine gets the same three runs, each into a database of its own:

1. Kills: a child process records actions (a ~50 KB screenshot and a ~90 KB DOM each) and
   reports when each record_action call returned; it is SIGKILLed at a random moment
   (--kills times on SQLite, --postgres-kills on PostgreSQL, whose children are slower to
   start). The store is then reopened, as the next process on the host would: the recording
   must come back `interrupted`, its rows must be consistent (sequences 1..n with no gap or
   duplicate, action_count = n; on SQLite also `PRAGMA integrity_check`), and every action
   whose call returned more than 0.5 s (INTERVAL) before the kill must be there.
2. Concurrency: --writers processes record --actions actions each into one database at
   once, as pytest-xdist workers do (each its own recording). They open the store and load
   their snapshots first, then start together on a signal; wall time runs from that signal
   until every writer's actions are committed (flush), and until every store is closed
   (which finishes cutting screenshots into tiles). Then: every action present, sequences
   1..n with no gap or duplicate, action_count = n, status `completed`, every snapshot
   stored, no writer failed or printed an error ("database is locked" counted apart).
3. Throughput of the store alone: actions/s with those snapshots, queued then flushed.

PostgreSQL: with --postgres-url (default $RECORDER_TEST_POSTGRES_URL), a server you run
whose user may CREATE DATABASE: each run gets a `test_<hex>` database, dropped at the end.
Without it a throwaway cluster is started with tests/postgres.py (PostgreSQL's server
binaries must be installed: see that module) and stopped at the end. It runs with fsync
and synchronous_commit off, which loses nothing when a client is killed (the server lives
on) but makes its throughput an upper bound for a durable server's.

Prints one table, a column per engine (--json: the numbers as JSON instead). Exits 1 when a
check failed (an action lost, a gap, a recording not interrupted, a writer failed), 2 when
an engine asked for could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from recorder import RecordingStore  # noqa: E402
from tests.postgres import PostgresUnavailable  # noqa: E402  (imports no psycopg)

INTERVAL = 0.5  # seconds: what the writer thread may still hold when the process dies (see README)
ENGINES = ("sqlite", "postgresql")
ENGINE_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
URL_ENV = "RECORDER_TEST_POSTGRES_URL"


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


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the engines --------------------------------------------------------------------------


class SQLiteTarget:
    """Databases as files in a temporary directory."""

    engine = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "sqlite"
        self.dir.mkdir()
        self.version = f"SQLite {sqlite3.sqlite_version}"

    def database(self, label: str) -> str:
        return str(self.dir / f"{label}.db")

    def query(self, db: str, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return conn.execute(sql).fetchall()

    def integrity_ok(self, db: str) -> bool:
        return self.query(db, "PRAGMA integrity_check")[0][0] == "ok"

    def close(self) -> None:
        pass


class PostgresTarget:
    """Databases created on a server: one given, or a throwaway cluster started here."""

    engine = "postgresql"

    def __init__(self, url: str | None) -> None:
        from tests import postgres

        self.postgres = postgres
        self.cluster = None
        self.databases: list[str] = []
        if url:
            postgres.check_server(url)
            self.server = url
        else:
            log("postgresql: starting a throwaway cluster (tests/postgres.py)")
            self.cluster = postgres.start_cluster()
            self.server = self.cluster.url
            log(f"postgresql: cluster up in {self.cluster.startup_seconds:.1f} s")
        try:
            version = self.query(self.server, "SHOW server_version")[0][0]
        except BaseException:
            self.close()
            raise
        self.version = f"PostgreSQL {str(version).split()[0]}"

    def database(self, label: str) -> str:
        url = self.postgres.create_database(self.server)
        self.databases.append(url)
        return url

    def query(self, db: str, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[return-value]

    def integrity_ok(self, db: str) -> bool:
        return True  # a killed client cannot damage the server's files; the rows are checked apart

    def close(self) -> None:
        if self.cluster is None:  # a server of the caller's: drop what was created there
            for url in self.databases:
                try:
                    self.postgres.drop_database(self.server, url)
                except Exception as exc:  # noqa: BLE001 - report and go on
                    log(f"postgresql: could not drop {url}: {exc}")
        else:
            self.cluster.stop()
        self.databases.clear()


Target = SQLiteTarget | PostgresTarget


# -- 1. kills -----------------------------------------------------------------------------

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


def kills(target: Target, count: int) -> dict[str, Any]:
    db = target.database("kills")
    RecordingStore(db).close()  # the schema, before the first child
    interrupted = intact = lost = required = kept = 0
    oldest_lost = 0.0
    for attempt in range(count):
        child = subprocess.Popen([sys.executable, "-c", CHILD, db, f"kill-{attempt}", str(ROOT)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline()
        if not first.startswith("started "):
            child.kill()
            raise RuntimeError(f"{target.engine}: the recording child failed to start:\n{child.stderr.read()}")
        recording_id = int(first.split()[1])
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
        child.stdout.close()
        child.stderr.close()
        integrity = target.integrity_ok(db)
        with RecordingStore(db) as store:  # reopening marks the killed process's recording interrupted
            recording = store.get(recording_id)
            timeline = recording.timeline()
        present = {int(a["value"].split()[1]) for a in timeline}
        sequences = [a["sequence"] for a in timeline]
        consistent = sequences == list(range(1, len(timeline) + 1)) and recording.action_count == len(timeline)
        must_have = {i for i, at in returned if at < killed_at - INTERVAL}
        missing = must_have - present
        lost += len(missing)
        oldest_lost = max([oldest_lost, *(killed_at - at for i, at in returned if i not in present)])
        required += len(must_have)
        kept += len(present)
        interrupted += recording.status == "interrupted" and recording.interrupted_at is not None
        intact += integrity and consistent
        log(f"{target.engine}: kill {attempt + 1}/{count}: {len(present)} actions kept, {len(missing)} lost,"
            f" status {recording.status}{'' if consistent else ', ROWS INCONSISTENT'}"
            f"{'' if integrity else ', INTEGRITY CHECK FAILED'}")
    return {"kills": count, "interrupted": interrupted, "intact": intact, "actions_kept": kept,
            "actions_required": required, "actions_lost": lost, "oldest_lost_ms": round(oldest_lost * 1000)}


# -- 2. concurrency -----------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from benchmarks.reliability import dom
from recorder import RecordingStore
actions, shots = int(sys.argv[4]), Path(sys.argv[5])
screenshots = [(shots / f"{i}.jpg").read_bytes() for i in range(actions)]
doms = [dom(i) for i in range(actions)]
store = RecordingStore(sys.argv[1])
recording = store.start(name=sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()  # go
for i in range(actions):
    recording.record_action("click", selector=f"#b{i}", value=str(i), screenshot=screenshots[i], dom_snapshot=doms[i])
store.flush(tiled=False)
print("committed", time.time(), flush=True)
recording.complete()
store.close()
print("closed", time.time(), flush=True)
"""


def concurrency(target: Target, writers: int, actions: int, shots_dir: Path) -> dict[str, Any]:
    db = target.database("concurrent")
    RecordingStore(db).close()
    children = [subprocess.Popen([sys.executable, "-c", WRITER, db, f"writer-{n}", str(ROOT), str(actions),
                                  str(shots_dir)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(writers)]
    for child in children:  # every one has opened the store and started its recording
        assert child.stdout is not None
        child.stdout.readline()
    go = time.time()
    for child in children:
        assert child.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            child.stdin.write("go\n")
            child.stdin.flush()
    outputs = [child.communicate(timeout=600) for child in children]
    committed, closed = [], []
    for out, _ in outputs:
        for line in out.splitlines():
            word, _, at = line.partition(" ")
            if word == "committed":
                committed.append(float(at))
            elif word == "closed":
                closed.append(float(at))
    errors = [err for _, err in outputs]
    rows = target.query(db, (
        "SELECT r.name, r.status, r.action_count, count(a.id), count(DISTINCT a.sequence), min(a.sequence),"
        " max(a.sequence), count(a.screenshot_key), count(a.dom_snapshot_key)"
        " FROM recordings r LEFT JOIN actions a ON a.recording_id = r.id"
        " GROUP BY r.id, r.name, r.status, r.action_count ORDER BY r.name"))
    present = sum(n for _, _, _, n, *_ in rows)
    seconds = max(committed) - go if len(committed) == writers else None
    return {
        "writers": writers, "actions_each": actions,
        "seconds_committed": round(seconds, 2) if seconds else None,
        "actions_per_second": round(writers * actions / seconds) if seconds else None,
        "seconds_closed": round(max(closed) - go, 2) if len(closed) == writers else None,
        "missing_actions": writers * actions - present,
        "recordings": len(rows),
        "bad_sequences": sum(not (n == distinct == actions and low == 1 and high == actions)
                             for _, _, _, n, distinct, low, high, _, _ in rows),
        "bad_action_count": sum(count != actions or count != n for _, _, count, n, *_ in rows),
        "not_completed": sum(status != "completed" for _, status, *_ in rows),
        "missing_snapshots": sum(2 * n - shots - doms for _, _, _, n, _, _, _, shots, doms in rows),
        "failed_writers": sum(child.returncode != 0 for child in children),
        "writers_with_errors": sum(bool(error.strip()) for error in errors),
        "locked_errors": sum("database is locked" in error for error in errors),
        "first_error": next((error.strip().splitlines()[-1] for error in errors if error.strip()), None),
    }


# -- 3. throughput ------------------------------------------------------------------------


def throughput(target: Target, shots: list[bytes], doms: list[str]) -> dict[str, Any]:
    """The store alone: distinct screenshots and DOMs, as a busy recording would send them.

    Durable = every action's row and snapshots committed (flush(tiled=False)); tiled = the
    screenshots also cut into tiles, which the writer does when it is otherwise idle.
    """
    actions = len(shots)
    db = target.database("throughput")
    with RecordingStore(db) as store:
        recording = store.start(name="throughput")
        started = time.perf_counter()
        for i in range(actions):
            recording.record_action("click", value=str(i), screenshot=shots[i], dom_snapshot=doms[i])
        queued = time.perf_counter() - started
        store.flush(tiled=False)
        durable = time.perf_counter() - started
        store.flush()
        tiled = time.perf_counter() - started
    stored = int(target.query(db, "SELECT coalesce(sum(stored_size), 0) FROM blobs")[0][0])
    return {"actions": actions, "screenshot_kb": round(len(shots[0]) / 1000), "dom_kb": round(len(doms[0]) / 1000),
            "record_action_us": round(queued / actions * 1e6), "actions_per_second": round(actions / durable),
            "tiled_actions_per_second": round(actions / tiled), "bytes_per_action": round(stored / actions)}


# -- checks and the table -----------------------------------------------------------------


def failures(result: dict[str, Any]) -> list[str]:
    """What went wrong in one engine's results, in words (empty: every check passed)."""
    found = []
    k = result.get("kills")
    if k:
        if k["interrupted"] < k["kills"]:
            found.append(f"{k['kills'] - k['interrupted']} killed recordings not interrupted")
        if k["intact"] < k["kills"]:
            found.append(f"{k['kills'] - k['intact']} databases inconsistent after a kill")
        if k["actions_lost"]:
            found.append(f"{k['actions_lost']} actions lost that returned > {INTERVAL * 1000:.0f} ms before a kill")
    c = result.get("concurrency")
    if c:
        for key, what in (("missing_actions", "actions missing"), ("bad_sequences", "recordings with bad sequences"),
                          ("bad_action_count", "recordings with a wrong action_count"),
                          ("not_completed", "recordings not completed"), ("missing_snapshots", "snapshots missing"),
                          ("failed_writers", "writers failed"), ("writers_with_errors", "writers printed errors")):
            if c[key]:
                found.append(f"concurrency: {c[key]} {what}")
        if c["recordings"] != c["writers"]:
            found.append(f"concurrency: {c['recordings']} recordings for {c['writers']} writers")
    return found


def _n(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _ok(bad: int) -> str:
    return "0" if not bad else f"{bad}  FAIL"


ROWS: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("kills", "SIGKILLs of a recording process", lambda k: _n(k["kills"])),
    ("kills", "recording `interrupted` on reopen", lambda k: f"{k['interrupted']}/{k['kills']}"
     + ("" if k["interrupted"] == k["kills"] else "  FAIL")),
    ("kills", "rows consistent (SQLite: + integrity_check)", lambda k: f"{k['intact']}/{k['kills']}"
     + ("" if k["intact"] == k["kills"] else "  FAIL")),
    ("kills", "actions kept / required",
     lambda k: f"{k['actions_kept']:,} / {k['actions_required']:,}"),
    ("kills", "  required actions lost", lambda k: _ok(k["actions_lost"])),
    ("kills", "  lost actions returned at most, before kill", lambda k: f"{k['oldest_lost_ms']:,} ms"),
    ("concurrency", "committed (flush), wall", lambda c: _n(c["seconds_committed"], " s")),
    ("concurrency", "  actions/s, all writers", lambda c: _n(c["actions_per_second"])),
    ("concurrency", "closed (screenshots tiled), wall", lambda c: _n(c["seconds_closed"], " s")),
    ("concurrency", "actions missing", lambda c: _ok(c["missing_actions"])),
    ("concurrency", "recordings with gaps/duplicates", lambda c: _ok(c["bad_sequences"])),
    ("concurrency", "wrong action_count / not completed",
     lambda c: f"{c['bad_action_count']} / {c['not_completed']}"
     + ("" if not c["bad_action_count"] and not c["not_completed"] else "  FAIL")),
    ("concurrency", "snapshots missing", lambda c: _ok(c["missing_snapshots"])),
    ("concurrency", "writers failed / with errors / locked",
     lambda c: f"{c['failed_writers']} / {c['writers_with_errors']} / {c['locked_errors']}"
     + ("" if not c["failed_writers"] and not c["writers_with_errors"] else "  FAIL")),
    ("throughput", "actions/s committed", lambda t: _n(t["actions_per_second"])),
    ("throughput", "record_action returns in", lambda t: _n(t["record_action_us"], " us")),
    ("throughput", "actions/s incl. cutting tiles", lambda t: _n(t["tiled_actions_per_second"])),
    ("throughput", "blob bytes/action once tiled", lambda t: _n(t["bytes_per_action"])),
]


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    engines = list(results)
    headers = {"kills": "SIGKILL of a recording process at a random moment (required: actions whose call"
                        f" returned > {INTERVAL * 1000:.0f} ms before it)",
               "concurrency": f"Concurrency: {args.writers} writer processes x {args.actions} actions at once "
                              "into one database",
               "throughput": f"Store throughput: {args.throughput_actions} actions, one recording"}
    any_t = next((r["throughput"] for r in results.values() if r.get("throughput")), None)
    if any_t:
        headers["throughput"] += f" ({any_t['screenshot_kb']} KB JPEG + {any_t['dom_kb']} KB DOM each)"
    label_width = max(len(label) for _, label, _ in ROWS) + 2
    titles = {engine: results[engine].get("version", ENGINE_TITLES[engine]) for engine in engines}
    width = {engine: len(titles[engine]) for engine in engines}
    lines: list[tuple[str, list[str] | None]] = []  # (section header, None) or (label, a value per engine)
    for section in ("kills", "concurrency", "throughput"):
        if not any(results[engine].get(section) for engine in engines):
            continue
        lines.append((headers[section], None))
        for row_section, label, render in ROWS:
            if row_section != section:
                continue
            values = []
            for engine in engines:
                data = results[engine].get(section)
                value = render(data) if data else results[engine].get("skipped", "-")
                values.append(value)
                width[engine] = max(width[engine], len(value))
            lines.append((label, values))
    out = [" " * (label_width + 2) + "  ".join(titles[e].ljust(width[e]) for e in engines).rstrip()]
    for label, row in lines:
        if row is None:
            out += ["", label]
        else:
            cells = "  ".join(value.ljust(width[engine]) for value, engine in zip(row, engines))
            out.append(f"  {label.ljust(label_width)}{cells}".rstrip())
    return "\n".join(out)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="\n\n".join(__doc__.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default=",".join(ENGINES), metavar="LIST",
                        help="comma-separated engines to run, among sqlite,postgresql (default: both)")
    parser.add_argument("--postgres-url", default=os.environ.get(URL_ENV) or None, metavar="URL",
                        help="a PostgreSQL server whose user may CREATE DATABASE; a test_<hex> database per run"
                             f" is created there and dropped at the end (default: ${URL_ENV}; without either,"
                             " a throwaway cluster is started and stopped)")
    parser.add_argument("--kills", type=int, default=20, metavar="N", help="SIGKILLs on SQLite (default 20)")
    parser.add_argument("--postgres-kills", type=int, default=5, metavar="N", help="SIGKILLs on PostgreSQL (default 5)")
    parser.add_argument("--writers", type=int, default=8, metavar="N", help="concurrent writer processes (default 8)")
    parser.add_argument("--actions", type=int, default=200, metavar="N",
                        help="actions per concurrent writer (default 200)")
    parser.add_argument("--throughput-actions", type=int, default=500, metavar="N",
                        help="actions recorded in the throughput run (default 500)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--only-kills", action="store_true", help="run the kill test alone")
    only.add_argument("--only-concurrency", action="store_true", help="run the concurrency test alone")
    only.add_argument("--only-throughput", action="store_true", help="run the throughput test alone")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    args = parser.parse_args(argv)
    engines = [e.strip().lower() for e in args.engines.split(",") if e.strip()]
    engines = ["postgresql" if e in ("postgres", "pg") else e for e in engines]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        parser.error(f"--engines takes sqlite and/or postgresql, comma-separated, not {args.engines!r}")
    args.engine_list = list(dict.fromkeys(engines))
    args.engines_given = any(a == "--engines" or a.startswith("--engines=") for a in (argv or sys.argv[1:]))
    for name in ("kills", "postgres_kills", "writers", "actions", "throughput_actions"):
        if getattr(args, name) < (0 if "kills" in name else 1):
            parser.error(f"--{name.replace('_', '-')} must be at least {0 if 'kills' in name else 1}")
    return args


@contextlib.contextmanager
def open_target(engine: str, workdir: Path, url: str | None) -> Iterator[Target]:
    target: Target = SQLiteTarget(workdir) if engine == "sqlite" else PostgresTarget(url)
    try:
        yield target
    finally:
        target.close()


def snapshots(count: int, workdir: Path) -> tuple[list[bytes], list[str], Path]:
    """The screenshots and DOMs every run uses, made once (a screenshot takes tens of ms to
    draw: the runs measure the store, not PIL); the screenshots also as files for children."""
    log(f"drawing {count} screenshots")
    shots = [screenshot(i) for i in range(count)]
    shots_dir = workdir / "screenshots"
    shots_dir.mkdir()
    for i, shot in enumerate(shots):
        (shots_dir / f"{i}.jpg").write_bytes(shot)
    return shots, [dom(i) for i in range(count)], shots_dir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_kills = not (args.only_concurrency or args.only_throughput)
    run_concurrency = not (args.only_kills or args.only_throughput)
    run_throughput = not (args.only_kills or args.only_concurrency)
    results: dict[str, dict[str, Any]] = {}
    unavailable = False
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="recorder-reliability-") as tmp:
        workdir = Path(tmp)
        needed = max(args.actions if run_concurrency else 0, args.throughput_actions if run_throughput else 0)
        shots, doms, shots_dir = snapshots(needed, workdir) if needed else ([], [], workdir)
        for engine in args.engine_list:
            result: dict[str, Any] = {"version": ENGINE_TITLES[engine]}
            results[engine] = result
            try:
                with open_target(engine, workdir, args.postgres_url) as target:
                    result["version"] = target.version
                    if run_kills:
                        result["kills"] = kills(target, args.kills if engine == "sqlite" else args.postgres_kills)
                    if run_concurrency:
                        log(f"{engine}: {args.writers} writers x {args.actions} actions")
                        result["concurrency"] = concurrency(target, args.writers, args.actions, shots_dir)
                    if run_throughput:
                        log(f"{engine}: throughput, {args.throughput_actions} actions")
                        result["throughput"] = throughput(target, shots[:args.throughput_actions],
                                                          doms[:args.throughput_actions])
            except PostgresUnavailable as exc:
                unavailable = True
                result["skipped"] = "unavailable"
                result["error"] = str(exc)
                log(f"postgresql: skipped: {exc}")
    for result in results.values():
        result["failures"] = failures(result)
    ok = not any(r["failures"] for r in results.values())
    if args.json:
        print(json.dumps({"interval_ms": round(INTERVAL * 1000), "seconds": round(time.perf_counter() - began),
                          "ok": ok, "engines": results}, indent=2))
    else:
        print()
        print(table(results, args))
        print()
        for engine, result in results.items():
            if result.get("error"):
                print(f"{ENGINE_TITLES[engine]} did not run: {result['error'].splitlines()[0]}")
            for failure in result["failures"]:
                print(f"FAIL {ENGINE_TITLES[engine]}: {failure}")
        print(f"{'all checks passed' if ok else 'SOME CHECKS FAILED'}"
              f" ({time.perf_counter() - began:.0f} s)")
    if not ok:
        return 1
    return 2 if unavailable and (args.engines_given or args.postgres_url) else 0


if __name__ == "__main__":
    sys.exit(main())

"""What recording costs per action, side by side with bare Playwright and Playwright tracing.

    python benchmarks/overhead.py                        # 120 actions x 3 rounds
    python benchmarks/overhead.py --actions 200 --rounds 5
    python benchmarks/overhead.py --json                 # machine-readable results
    python benchmarks/overhead.py --breakdown            # + recorder without screenshots / DOM

One process, one run. A page of 1,500 table rows (a text input, a Save button and a
status cell the button updates, per row) is served by http.server on 127.0.0.1 (port 0,
in a thread). The same scripted session runs in a fresh browser context (1280x720) per
mode:

  bare      plain Playwright (sync API)
  recorder  inside `with record(page, db=..., screenshots=True, dom=True) as page:`
  tracing   context.tracing.start(screenshots=True, snapshots=True) ... stop(path=trace.zip)

The session: goto, a few warm-up actions, then N timed actions alternating
`page.locator("#in<i>").fill(...)` and `page.locator("#b<i>").click()` on rows spread over
the whole table, so nearly every action scrolls. Only the action loop is timed; the time
spent in record()'s exit and in tracing.stop() is reported separately.

Stored bytes: for tracing the trace.zip; for recorder the database once its store is
closed, checkpointed and compacted (VACUUM INTO a copy; an empty database is reported
alongside), with the blob breakdown (screenshot tiles and manifests vs DOM snapshots) and
the table sizes. Bytes per action divide by every action of the session (goto and warm-up
included), which both recorder and tracing captured.

Modes run in rotating order over several rounds on the same browser and the medians are
reported; "added" is the median over rounds of (mode - bare of the same round), because
absolute times on a shared 2-core machine are noise and the ratios are what to read.
Goals: recorder's added ms/action <= 0.5 x tracing's, its bytes/action <= 0.25 x.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import RecordingStore, launch_options, record  # noqa: E402

ROWS = 1500
VIEWPORT = {"width": 1280, "height": 720}
WARM_UP = 6  # untimed actions after goto, before the timed loop
STRIDE = 263  # rows between consecutive targets: spread over the table, nearly every action scrolls
TIME_GOAL = 0.5
BYTES_GOAL = 0.25


# -- the page and its server ---------------------------------------------------------------


def table_page(rows: int = ROWS) -> str:
    body = "\n".join(
        f"<tr><td>{i}</td><td>Item number {i}</td>"
        f"<td><input id='in{i}' aria-label='Row {i} value'></td>"
        f"<td><button id='b{i}' data-row='{i}'>Save</button></td>"
        f"<td id='s{i}' class='status'>idle</td></tr>"
        for i in range(rows)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Table of {rows} rows</title>
<style>
  body {{ font: 14px sans-serif; margin: 16px; }}
  table {{ border-collapse: collapse; }}
  td {{ border: 1px solid #ccc; padding: 2px 8px; }}
  .status {{ min-width: 140px; color: #555; }}
  .status.done {{ color: #080; font-weight: bold; }}
</style></head>
<body><h1>{rows} rows</h1>
<table><tbody>
{body}
</tbody></table>
<script>
  document.querySelector('tbody').addEventListener('click', (event) => {{
    const button = event.target.closest('button[data-row]');
    if (!button) return;
    const row = button.dataset.row;
    const status = document.getElementById('s' + row);
    status.textContent = 'saved: ' + document.getElementById('in' + row).value;
    status.className = 'status done';
  }});
</script>
</body></html>
"""


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, name="table-server", daemon=True).start()
    return server


# -- the scripted session ------------------------------------------------------------------


def target_row(k: int, offset: int) -> int:
    """Row of action k: fill row r then click row r, the next pair STRIDE rows further on."""
    return (offset + (k // 2) * STRIDE) % ROWS


def step(page: Page, k: int, offset: int) -> None:
    row = target_row(k, offset)
    if k % 2 == 0:
        page.locator(f"#in{row}").fill(f"value {k}")
    else:
        page.locator(f"#b{row}").click()


def session(page: Page, url: str, actions: int, offset: int) -> float:
    """goto, warm-up, then the timed loop; returns the seconds the timed loop took."""
    page.goto(url)
    for k in range(WARM_UP):
        step(page, k, offset + 7)  # other rows than the timed ones
    started = time.perf_counter()
    for k in range(actions):
        step(page, k, offset)
    return time.perf_counter() - started


def check_page(page: Page, actions: int, offset: int) -> bool:
    """The last clicked row's status cell says what was typed into it: the clicks really ran."""
    last_click = actions - 1 if actions % 2 == 0 else actions - 2
    if last_click < 1:
        return True
    row = target_row(last_click, offset)
    return page.locator(f"#s{row}").text_content() == f"saved: value {last_click - 1}"


def session_actions(actions: int) -> int:
    """Actions of one session as a recording counts them: goto, warm-up and timed."""
    return 1 + WARM_UP + actions


# -- one run of one mode -------------------------------------------------------------------


def run_mode(mode: str, browser: Browser, url: str, actions: int, rundir: Path, offset: int) -> dict[str, Any]:
    rundir.mkdir()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    result: dict[str, Any] = {"mode": mode}
    try:
        if mode == "bare":
            result["action_seconds"] = session(page, url, actions, offset)
        elif mode == "tracing":
            began = time.perf_counter()
            context.tracing.start(screenshots=True, snapshots=True)
            result["start_seconds"] = time.perf_counter() - began
            result["action_seconds"] = session(page, url, actions, offset)
            trace = rundir / "trace.zip"
            began = time.perf_counter()
            context.tracing.stop(path=trace)
            result["finish_seconds"] = time.perf_counter() - began
            result["bytes"] = trace.stat().st_size
            result["trace"] = trace_breakdown(trace)
        else:  # recorder, recorder-no-screenshots, recorder-no-dom
            db = rundir / "recordings.db"
            began = time.perf_counter()
            with record(page, db=db, name=f"overhead {mode}", screenshots=mode != "recorder-no-screenshots",
                        dom=mode != "recorder-no-dom") as page:
                result["start_seconds"] = time.perf_counter() - began
                result["action_seconds"] = session(page, url, actions, offset)
                began = time.perf_counter()
            result["finish_seconds"] = time.perf_counter() - began  # record() exit: detach, flush, close
            result.update(database_breakdown(db, rundir / "compact.db"))
            result["bytes"] = result["db_compact_bytes"]
        result["page_ok"] = check_page(page, actions, offset)
    finally:
        context.close()
    return result


def database_breakdown(db: Path, compact: Path) -> dict[str, Any]:
    """Sizes of a closed recordings database: files as left, compacted, per table, per blob kind."""
    files_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(f"VACUUM INTO '{compact}'")
        counts = conn.execute(
            "SELECT count(*), count(screenshot_key), count(dom_snapshot_key),"
            " count(CASE WHEN screenshot_key IS NOT NULL AND dom_snapshot_key IS NOT NULL THEN 1 END)"
            " FROM actions"
        ).fetchone()
        by_type = dict(conn.execute("SELECT type, count(*) FROM actions GROUP BY type").fetchall())
        blob_kinds = {
            kind: {"count": count, "stored_bytes": stored, "original_bytes": original}
            for kind, count, stored, original in conn.execute(
                "SELECT CASE WHEN key LIKE 'tile:%' THEN 'screenshot tiles (webp)'"
                " WHEN media_type = 'application/vnd.recorder.tiles' THEN 'screenshot manifests'"
                " WHEN media_type LIKE 'text/%' THEN 'dom snapshots'"
                " ELSE media_type END, count(*), sum(stored_size), sum(size) FROM blobs GROUP BY 1"
            ).fetchall()
        }
        dom_codecs = dict(conn.execute(
            "SELECT codec, count(*) FROM blobs WHERE media_type LIKE 'text/%' GROUP BY codec").fetchall())
        action_text = conn.execute(
            "SELECT sum(length(metadata)), sum(coalesce(length(selector), 0) + coalesce(length(value), 0)"
            " + coalesce(length(url), 0)) FROM actions"
        ).fetchone()
    with sqlite3.connect(compact) as conn:
        # Each table and index on its own (blobs' TEXT PRIMARY KEY is an index of its own).
        tables = dict(conn.execute(
            "SELECT CASE WHEN m.type = 'index' THEN m.tbl_name || ' index ' || d.name ELSE d.name END,"
            " sum(d.pgsize) FROM dbstat d LEFT JOIN sqlite_schema m ON m.name = d.name"
            " GROUP BY d.name ORDER BY 2 DESC"
        ).fetchall())
    return {
        "db_files_bytes": files_bytes,
        "db_compact_bytes": compact.stat().st_size,
        "recorded_actions": counts[0], "with_screenshot": counts[1], "with_dom": counts[2], "with_both": counts[3],
        "actions_by_type": by_type,
        "blob_kinds": blob_kinds,
        "dom_codecs": dom_codecs,
        "blob_stored_bytes": sum(kind["stored_bytes"] for kind in blob_kinds.values()),
        "action_metadata_bytes": action_text[0] or 0, "action_text_bytes": action_text[1] or 0,
        "table_bytes": tables,  # pages of each table and index, after VACUUM
    }


def trace_breakdown(trace: Path) -> dict[str, Any]:
    """Compressed bytes of a trace.zip by kind of entry."""
    kinds: dict[str, dict[str, int]] = {}
    with zipfile.ZipFile(trace) as archive:
        for info in archive.infolist():
            name = info.filename
            if name.endswith((".jpeg", ".jpg")):  # screencast/page@...-<time>.jpeg
                kind = "screencast frames (jpeg)"
            elif name.startswith("resources/"):
                kind = "other resources"
            elif name.endswith(".trace"):
                kind = "trace events + DOM snapshots"
            elif name.endswith(".network"):
                kind = "network log"
            else:
                kind = "other"
            entry = kinds.setdefault(kind, {"count": 0, "stored_bytes": 0, "original_bytes": 0})
            entry["count"] += 1
            entry["stored_bytes"] += info.compress_size
            entry["original_bytes"] += info.file_size
    return kinds


def empty_database_bytes(workdir: Path) -> int:
    path = workdir / "empty.db"
    RecordingStore(path).close()
    compact = workdir / "empty-compact.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"VACUUM INTO '{compact}'")
    return compact.stat().st_size


# -- the run and its report ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure ms and bytes per action of bare Playwright, recorder and Playwright tracing "
                    "on the same session, side by side in one process.",
        epilog="Run from the project root: python benchmarks/overhead.py",
    )
    parser.add_argument("--actions", type=int, default=120, help="timed actions per run (default 120, at least 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every mode, rotating order (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--breakdown", action="store_true",
                        help="also run recorder without screenshots and recorder without DOM snapshots")
    args = parser.parse_args(argv)
    if args.actions < 2 or args.rounds < 1:
        parser.error("--actions must be at least 2 and --rounds at least 1")

    modes = ["bare", "recorder", "tracing"]
    if args.breakdown:
        modes += ["recorder-no-screenshots", "recorder-no-dom"]
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        workdir = Path(tmp)
        (workdir / "site").mkdir()
        (workdir / "site" / "table.html").write_text(table_page(), encoding="utf-8")
        server = serve(workdir / "site")
        url = f"http://127.0.0.1:{server.server_address[1]}/table.html"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(**launch_options())
                # A throwaway run first: the browser's first context, page load and JIT.
                run_mode("bare", browser, url, 10, workdir / "warm-up", 0)
                for round_ in range(args.rounds):
                    order = modes[round_ % len(modes):] + modes[:round_ % len(modes)]
                    for mode in order:
                        result = run_mode(mode, browser, url, args.actions, workdir / f"{round_}-{mode}", round_ * 11)
                        result["round"] = round_
                        runs[mode].append(result)
                        print(f"round {round_ + 1}/{args.rounds} {mode:<24} "
                              f"{result['action_seconds'] * 1000 / args.actions:7.1f} ms/action", file=sys.stderr)
                browser.close()
            empty = empty_database_bytes(workdir)
        finally:
            server.shutdown()

    summary = summarise(runs, args.actions, empty)
    if args.json:
        print(json.dumps({"actions": args.actions, "rounds": args.rounds, "summary": summary, "runs": runs}, indent=2))
    else:
        print_report(summary, args)
    return 0


def summarise(runs: dict[str, list[dict[str, Any]]], actions: int, empty_db: int) -> dict[str, Any]:
    per_session = session_actions(actions)
    ms = {mode: [run["action_seconds"] * 1000 / actions for run in results] for mode, results in runs.items()}
    added = {mode: statistics.median(m - b for m, b in zip(ms[mode], ms["bare"])) for mode in runs if mode != "bare"}

    def median_of(mode: str, key: str) -> float | None:
        values = [run[key] for run in runs[mode] if key in run]
        return statistics.median(values) if values else None

    bytes_per_action = {mode: median_of(mode, "bytes") / per_session for mode in runs if median_of(mode, "bytes")}
    finish = {mode: median_of(mode, "finish_seconds") for mode in runs if mode != "bare"}
    start = {mode: median_of(mode, "start_seconds") for mode in runs if mode != "bare"}
    # The exit/stop time spread over the timed actions, for those who count it.
    added_with_finish = {mode: added[mode] + (finish[mode] or 0) * 1000 / actions for mode in added}

    def ratio(a: float, b: float) -> float | None:
        return a / b if b > 0 else None

    time_ratio = ratio(added["recorder"], added["tracing"])
    bytes_ratio = ratio(bytes_per_action["recorder"], bytes_per_action["tracing"])
    # The recorder run whose bytes are the median, for the breakdown.
    recorder_runs = sorted(runs["recorder"], key=lambda run: run["bytes"])
    typical = recorder_runs[len(recorder_runs) // 2]
    typical_trace = sorted(runs["tracing"], key=lambda run: run["bytes"])[len(runs["tracing"]) // 2]
    return {
        "session_actions": per_session,
        "ms_per_action": {mode: statistics.median(values) for mode, values in ms.items()},
        "ms_per_action_runs": ms,
        "added_ms_per_action": added,
        "added_ms_per_action_with_finish": added_with_finish,
        "start_seconds": start,
        "finish_seconds": finish,
        "bytes_per_action": bytes_per_action,
        "time_ratio": time_ratio, "time_goal": TIME_GOAL,
        "time_goal_met": time_ratio is not None and time_ratio <= TIME_GOAL,
        "time_ratio_with_finish": ratio(added_with_finish["recorder"], added_with_finish["tracing"]),
        "bytes_ratio": bytes_ratio, "bytes_goal": BYTES_GOAL,
        "bytes_goal_met": bytes_ratio is not None and bytes_ratio <= BYTES_GOAL,
        "empty_database_bytes": empty_db,
        "bytes_ratio_without_empty_db": ratio(
            (median_of("recorder", "bytes") - empty_db) / per_session, bytes_per_action["tracing"]),
        "all_pages_ok": all(run["page_ok"] for results in runs.values() for run in results),
        "recorder": {key: typical[key] for key in (
            "db_files_bytes", "db_compact_bytes", "recorded_actions", "with_screenshot", "with_dom", "with_both",
            "actions_by_type", "blob_kinds", "dom_codecs", "blob_stored_bytes", "action_metadata_bytes",
            "action_text_bytes", "table_bytes")},
        "trace": {"bytes": typical_trace["bytes"], "entries": typical_trace["trace"]},
    }


def print_report(summary: dict[str, Any], args: argparse.Namespace) -> None:
    ms, added, size = summary["ms_per_action"], summary["added_ms_per_action"], summary["bytes_per_action"]
    per_session = summary["session_actions"]
    print(f"\n{args.actions} timed actions x {args.rounds} rounds on a {ROWS}-row page "
          f"(session = goto + {WARM_UP} warm-up + {args.actions} = {per_session} actions); medians\n")
    header = (f"{'mode':<24} {'ms/action':>9} {'added ms/action':>15} {'bytes/action':>12} "
              f"{'start s':>7} {'exit/stop s':>11}  runs ms/action")
    print(header)
    print("-" * len(header))
    for mode in ms:
        bytes_text = f"{size[mode]:>12,.0f}" if mode in size else f"{'-':>12}"
        start, finish = summary["start_seconds"].get(mode), summary["finish_seconds"].get(mode)
        runs_text = " ".join(f"{value:.1f}" for value in summary["ms_per_action_runs"][mode])
        print(f"{mode:<24} {ms[mode]:>9.1f} {(f'{added[mode]:.1f}' if mode in added else '-'):>15} {bytes_text} "
              f"{(f'{start:.2f}' if start is not None else '-'):>7} {(f'{finish:.2f}' if finish is not None else '-'):>11}"
              f"  {runs_text}")
    print("\n(added = median over rounds of mode minus bare in the same round; recorder bytes = the closed,"
          " checkpointed, VACUUMed database; tracing bytes = trace.zip)\n")

    def goal(value: float | None, limit: float, met: bool) -> str:
        if value is None:
            return "n/a (tracing added no time)"
        return f"{value:.2f}  (goal <= {limit:.2f}: {'MET' if met else 'NOT MET'})"

    print(f"recorder added time / tracing added time = "
          f"{goal(summary['time_ratio'], TIME_GOAL, summary['time_goal_met'])}")
    print(f"recorder bytes / trace.zip bytes         = "
          f"{goal(summary['bytes_ratio'], BYTES_GOAL, summary['bytes_goal_met'])}")
    with_finish = summary["time_ratio_with_finish"]
    if with_finish is not None:
        print(f"  time ratio counting exit/stop spread over the actions: {with_finish:.2f}")
    print(f"  bytes ratio without the empty database ({summary['empty_database_bytes']:,} bytes): "
          f"{summary['bytes_ratio_without_empty_db']:.2f}")
    if not summary["all_pages_ok"]:
        print("\nWARNING: in some run the last clicked row's status cell did not show the filled value")

    rec = summary["recorder"]
    print(f"\nrecorder database (median run): {rec['recorded_actions']} actions recorded "
          f"({', '.join(f'{t} {n}' for t, n in sorted(rec['actions_by_type'].items()))}), expected {per_session}")
    print(f"  with a screenshot: {rec['with_screenshot']}/{rec['recorded_actions']}, "
          f"with a DOM snapshot: {rec['with_dom']}/{rec['recorded_actions']}, "
          f"with both: {rec['with_both']}/{rec['recorded_actions']}")
    print(f"  files after close {rec['db_files_bytes']:,} bytes; compacted {rec['db_compact_bytes']:,} bytes; "
          f"blobs stored_size total {rec['blob_stored_bytes']:,} bytes")
    print(f"  {'blob kind':<26} {'count':>6} {'stored bytes':>13} {'per action':>11} {'original bytes':>15}")
    for kind, entry in sorted(rec["blob_kinds"].items(), key=lambda item: -item[1]["stored_bytes"]):
        print(f"  {kind:<26} {entry['count']:>6} {entry['stored_bytes']:>13,} "
              f"{entry['stored_bytes'] / per_session:>11,.0f} {entry['original_bytes']:>15,}")
    print(f"  DOM snapshot codecs: {', '.join(f'{c} {n}' for c, n in sorted(rec['dom_codecs'].items()))}")
    print("  pages after VACUUM: " + ", ".join(f"{name} {value:,}" for name, value in rec["table_bytes"].items()))
    print(f"  actions' metadata JSON {rec['action_metadata_bytes']:,} bytes, selector/value/url text "
          f"{rec['action_text_bytes']:,} bytes")

    trace = summary["trace"]
    print(f"\ntrace.zip (median run): {trace['bytes']:,} bytes")
    print(f"  {'entry kind':<30} {'count':>6} {'zipped bytes':>13} {'per action':>11} {'unzipped bytes':>15}")
    for kind, entry in sorted(trace["entries"].items(), key=lambda item: -item[1]["stored_bytes"]):
        print(f"  {kind:<30} {entry['count']:>6} {entry['stored_bytes']:>13,} "
              f"{entry['stored_bytes'] / per_session:>11,.0f} {entry['original_bytes']:>15,}")


if __name__ == "__main__":
    sys.exit(main())

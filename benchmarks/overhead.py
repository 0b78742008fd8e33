"""What recording costs per action, side by side with bare Playwright and Playwright tracing.

    python benchmarks/overhead.py                  # 120 actions x 3 rounds
    python benchmarks/overhead.py --actions 200 --rounds 5 --json

One process, one run: a local page of 1,500 table rows (a text input, a button and a
status cell per row) is served on 127.0.0.1, and the same scripted session (fill row i,
click row i's button, rows spread over the table so most steps scroll) runs three ways in
a fresh browser context each:

  bare      plain Playwright
  recorder  inside `record(page)`: screenshot + DOM snapshot of every action
  tracing   context.tracing with screenshots=True, snapshots=True (trace.zip)

Modes run in rotating order over several rounds and the median is reported, because
absolute times on a shared machine are noise; the ratios are what to read.
Goals (issue 3): recorder's added ms/action <= 0.5 x tracing's, bytes/action <= 0.25 x.
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
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import launch_options, record  # noqa: E402

ROWS = 1500
VIEWPORT = {"width": 1280, "height": 720}
WARM_UP = 4


def table_page() -> str:
    rows = "".join(
        f"<tr><td>{i}</td><td>Item number {i}</td><td><input id='in{i}' aria-label='Row {i}'></td>"
        f"<td><button id='b{i}' onclick=\"document.getElementById('s{i}').textContent = 'done ' + "
        f"document.getElementById('in{i}').value\">Save</button></td><td id='s{i}'>idle</td></tr>"
        for i in range(ROWS)
    )
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Table</title></head><body><table>{rows}</table></body></html>"


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def session(page: Any, actions: int, offset: int) -> float:
    """The scripted session; returns seconds spent in the timed actions."""
    def step(k: int) -> None:
        row = (offset + k // 2 * 37) % ROWS
        if k % 2 == 0:
            page.fill(f"#in{row}", f"value {k}")
        else:
            page.click(f"#b{row}")

    for k in range(WARM_UP):
        step(k + 10_000)
    started = time.perf_counter()
    for k in range(actions):
        step(k)
    return time.perf_counter() - started


def run_mode(mode: str, browser: Browser, url: str, actions: int, workdir: Path, round_: int) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    result: dict[str, Any] = {"mode": mode}
    if mode == "tracing":
        context.tracing.start(screenshots=True, snapshots=True)
    page.goto(url)
    if mode.startswith("recorder"):
        db = workdir / f"{mode}-{round_}.db"
        block = record(page, db=db, name=f"benchmark round {round_}", screenshots=mode != "recorder-no-screenshots",
                       dom=mode != "recorder-no-dom")
        with block as page:
            result["seconds"] = session(page, actions, round_)
            closing = time.perf_counter()
        result["finish_seconds"] = time.perf_counter() - closing
        result["bytes"] = sum(p.stat().st_size for p in workdir.glob(f"{mode}-{round_}.db*"))
        result.update(blob_breakdown(db, block.recording.id))
    else:
        result["seconds"] = session(page, actions, round_)
        if mode == "tracing":
            trace = workdir / f"trace-{round_}.zip"
            closing = time.perf_counter()
            context.tracing.stop(path=trace)
            result["finish_seconds"] = time.perf_counter() - closing
            result["bytes"] = trace.stat().st_size
    context.close()
    return result


def blob_breakdown(db: Path, recording_id: int) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        counts = conn.execute(
            "SELECT count(*), count(screenshot_key), count(dom_snapshot_key) FROM actions WHERE recording_id = ?",
            (recording_id,),
        ).fetchone()
        kinds = dict(conn.execute(
            "SELECT CASE WHEN key LIKE 'tile:%' THEN 'screenshot tiles' WHEN media_type LIKE 'text/%' THEN 'dom'"
            " ELSE 'screenshot lists' END, sum(stored_size) FROM blobs GROUP BY 1"
        ).fetchall())
    return {"recorded_actions": counts[0], "with_screenshot": counts[1], "with_dom": counts[2], "blob_bytes": kinds}


def empty_database_bytes(workdir: Path) -> int:
    from recorder import RecordingStore

    path = workdir / "empty.db"
    RecordingStore(path).close()
    return sum(p.stat().st_size for p in workdir.glob("empty.db*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=120, help="timed actions per run (default 120)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three modes (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--breakdown", action="store_true",
                        help="also run recorder without screenshots and without DOM snapshots")
    args = parser.parse_args()

    modes = ["bare", "recorder", "tracing"]
    if args.breakdown:
        modes += ["recorder-no-screenshots", "recorder-no-dom"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "table.html").write_text(table_page())
        server = serve(workdir)
        url = f"http://127.0.0.1:{server.server_address[1]}/table.html"
        results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            for round_ in range(args.rounds):
                order = modes[round_ % len(modes):] + modes[:round_ % len(modes)]
                for mode in order:
                    results[mode].append(run_mode(mode, browser, url, args.actions, workdir, round_))
                    print(f"round {round_ + 1}/{args.rounds}: {mode} done", file=sys.stderr)
            browser.close()
        empty = empty_database_bytes(workdir)
        server.shutdown()

    summary = summarise(results, args.actions, empty)
    if args.json:
        print(json.dumps({"summary": summary, "runs": results}, indent=2))
    else:
        print_table(summary, args)


def summarise(results: dict[str, list[dict[str, Any]]], actions: int, empty_db: int) -> dict[str, Any]:
    def median(mode: str, key: str) -> float:
        return statistics.median(run[key] for run in results[mode] if key in run)

    ms = {mode: median(mode, "seconds") * 1000 / actions for mode in results}
    per_action_bytes = {
        "recorder": (median("recorder", "bytes") - empty_db) / (actions + WARM_UP + 1),
        "tracing": median("tracing", "bytes") / (actions + WARM_UP + 1),
    }
    added = {mode: ms[mode] - ms["bare"] for mode in results if mode != "bare"}
    last_recorder = results["recorder"][-1]
    return {
        "ms_per_action": ms, "added_ms_per_action": added, "bytes_per_action": per_action_bytes,
        "finish_seconds": {mode: median(mode, "finish_seconds") for mode in ("recorder", "tracing")},
        "time_ratio": added["recorder"] / added["tracing"] if added["tracing"] > 0 else None,
        "bytes_ratio": per_action_bytes["recorder"] / per_action_bytes["tracing"],
        "empty_database_bytes": empty_db,
        "recorded_actions": last_recorder["recorded_actions"], "with_screenshot": last_recorder["with_screenshot"],
        "with_dom": last_recorder["with_dom"], "recorder_blob_bytes": last_recorder["blob_bytes"],
    }


def print_table(summary: dict[str, Any], args: argparse.Namespace) -> None:
    ms, added, size = summary["ms_per_action"], summary["added_ms_per_action"], summary["bytes_per_action"]
    print(f"\n{args.actions} actions x {args.rounds} rounds on a {ROWS}-row page, medians\n")
    print(f"{'mode':<24} {'ms/action':>10} {'added ms':>9} {'bytes/action':>13} {'finish s':>9}")
    for mode in ms:
        bytes_text = f"{size[mode]:>13,.0f}" if mode in size else f"{'-':>13}"
        finish = summary["finish_seconds"].get(mode)
        print(f"{mode:<24} {ms[mode]:>10.1f} {added.get(mode, 0.0):>9.1f} {bytes_text} "
              f"{(f'{finish:.2f}' if finish is not None else '-'):>9}")
    time_ratio, bytes_ratio = summary["time_ratio"], summary["bytes_ratio"]
    print()
    if time_ratio is not None:
        print(f"recorder added time / tracing added time = {time_ratio:.2f}  (goal <= 0.50: "
              f"{'met' if time_ratio <= 0.5 else 'NOT met'})")
    print(f"recorder bytes / trace.zip bytes       = {bytes_ratio:.2f}  (goal <= 0.25: "
          f"{'met' if bytes_ratio <= 0.25 else 'NOT met'})")
    print(f"\nrecorder stored {summary['recorded_actions']} actions, {summary['with_screenshot']} with a screenshot, "
          f"{summary['with_dom']} with a DOM snapshot; blob bytes: "
          + ", ".join(f"{kind} {value:,}" for kind, value in sorted(summary["recorder_blob_bytes"].items())))
    print(f"(recorder bytes exclude the {summary['empty_database_bytes']:,} bytes of an empty database)")


if __name__ == "__main__":
    main()

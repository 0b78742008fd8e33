"""How well replay follows an app that changed, and that it raises no false alarm when it did not.

    python3 benchmarks/replay.py            # every variant, a table
    python3 benchmarks/replay.py --json     # machine-readable

One flow (a checkout: a details form, then a confirm page) is recorded twice on the
original app, once with id selectors (`page.fill("#name")`, as many suites are written)
and once with role/label locators, then replayed on variants of the app:

  unchanged     the app as recorded: every step must be ok (a divergence is a false alarm)
  ids           every id and class renamed (labels follow their fields)
  texts         button texts and the heading reworded
  layout        a banner and a paragraph inserted above the form (everything moves down)
  all           ids, classes, texts and layout together
  removed       the Confirm button removed: the replay must diverge, at that step
  ambiguous     the Confirm button twice: the replay must diverge there, clicking neither
  dead          the Confirm button there, but its handler gone (it no longer says "Thank
                you"): the replay must diverge at that click, though it finds and clicks it

For each: the steps ok, recovered, noted and diverged, the share replayed (ok, recovered
or noted), and for the last three whether the divergence was reported at the right step
without acting on a wrong element.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import RecordingStore, launch_options, record, replay  # noqa: E402

SHOP = Path(__file__).resolve().parent.parent / "tests" / "pages" / "shop"
SECRET = "s3cret-hunter2"
CONFIRM = "<button id=\"confirm\" onclick=\"document.getElementById('done').textContent = 'Thank you'\">Confirm</button>"


def _rename_ids(pages: dict[str, str]) -> None:
    for name, text in pages.items():
        text = re.sub(r'\b(id|for)="([^"]+)"', lambda m: f'{m.group(1)}="x-{m.group(2)}"', text)
        text = text.replace("getElementById('done')", "getElementById('x-done')")
        pages[name] = re.sub(r'<(button|input)\b', r'<\1 class="v2"', text)


def _reword(pages: dict[str, str]) -> None:
    pages["index.html"] = pages["index.html"].replace(">Continue<", ">Next step<").replace("Your details", "About you")
    pages["confirm.html"] = pages["confirm.html"].replace(">Confirm</button>", ">Place order</button>")


def _move(pages: dict[str, str]) -> None:
    banner = '<div style="height: 90px; background: #eee">Sale!</div><p>Free delivery this week.</p>'
    for name in pages:
        pages[name] = pages[name].replace("<body>", "<body>" + banner)


def _remove(pages: dict[str, str]) -> None:
    pages["confirm.html"] = pages["confirm.html"].replace(CONFIRM, "")


def _dead(pages: dict[str, str]) -> None:
    pages["confirm.html"] = pages["confirm.html"].replace(CONFIRM, '<button id="confirm">Confirm</button>')


def _twice(pages: dict[str, str]) -> None:
    both = CONFIRM.replace(' id="confirm"', "")
    pages["confirm.html"] = pages["confirm.html"].replace(CONFIRM, both + " " + both)


VARIANTS: dict[str, list[Callable[[dict[str, str]], None]]] = {
    "unchanged": [], "ids": [_rename_ids], "texts": [_reword], "layout": [_move],
    "all": [_rename_ids, _reword, _move], "removed": [_remove], "ambiguous": [_twice], "dead": [_dead],
}
EXPECTED_DIVERGENCE = {"removed", "ambiguous", "dead"}  # at the Confirm click, the last step


def serve(directory: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def by_ids(page: Page, url: str) -> None:
    page.goto(url + "/index.html")
    page.fill("#name", "Ada")
    page.fill("#password", SECRET)
    page.select_option("#size", "m")
    page.check("#gift")
    page.click("#continue")
    page.click("#confirm")


def by_roles(page: Page, url: str) -> None:
    page.goto(url + "/index.html")
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Password").fill(SECRET)
    page.get_by_label("Size").select_option("m")
    page.get_by_label("Gift wrap").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Confirm").click()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=int, default=2000, help="replay's find timeout, ms")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        original = {p.name: p.read_text() for p in SHOP.glob("*.html")}
        site = Path(tmp) / "original"
        site.mkdir()
        for name, text in original.items():
            (site / name).write_text(text)
        url, server = serve(site)
        db = Path(tmp) / "replay.db"
        recordings = {}
        for flow in (by_ids, by_roles):
            context = browser.new_context()
            with record(context.new_page(), db=db, name=flow.__name__) as page:
                flow(page, url)
            recordings[flow.__name__] = page.recording.id
            context.close()
        server.shutdown()
        for variant, edits in VARIANTS.items():
            pages = dict(original)
            for edit in edits:
                edit(pages)
            directory = Path(tmp) / variant
            directory.mkdir()
            for name, text in pages.items():
                (directory / name).write_text(text)
            variant_url, variant_server = serve(directory)
            for flow_name, recording_id in recordings.items():
                context = browser.new_context()
                page = context.new_page()
                with RecordingStore(db) as store:
                    report = replay(store.get(recording_id), page, base_url=variant_url,
                                    secrets={"password": SECRET}, find_timeout_ms=args.timeout)
                clicked = page.evaluate("(document.getElementById('done') || document.getElementById('x-done') || {}).textContent || ''")
                context.close()
                counts = {s: sum(1 for step in report.steps if step.status == s)
                          for s in ("ok", "recovered", "noted", "diverged", "failed", "skipped")}
                first = report.first_divergence
                row: dict[str, Any] = {"variant": variant, "flow": flow_name, "steps": len(report.steps), **counts,
                                       "replayed_share": round((counts["ok"] + counts["recovered"] + counts["noted"])
                                                               / len(report.steps), 3),
                                       "first_divergence": first.sequence if first else None}
                if variant in EXPECTED_DIVERGENCE:
                    # (`clicked`: what #done says, "" unless a wrong button was clicked or,
                    # in "dead", the right one was but did nothing)
                    row["divergence_right"] = bool(first is report.steps[-1] and first.status == "diverged"
                                                   and clicked == "")
                else:
                    row["false_divergences"] = counts["diverged"] + counts["failed"]
                rows.append(row)
            variant_server.shutdown()
        browser.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'variant':<10} {'flow':<9} {'steps':>5} {'ok':>3} {'rec':>4} {'noted':>5} {'div':>4} {'replayed':>9}  check")
    for row in rows:
        check = (f"divergence at the right step{'' if row['variant'] == 'dead' else ', nothing clicked'}:"
                 f" {row['divergence_right']}"
                 if "divergence_right" in row else f"false divergences: {row['false_divergences']}")
        print(f"{row['variant']:<10} {row['flow']:<9} {row['steps']:>5} {row['ok']:>3} {row['recovered']:>4} "
              f"{row['noted']:>5} {row['diverged']:>4} {row['replayed_share']:>9.0%}  {check}")
    changed = [r for r in rows if r["variant"] not in EXPECTED_DIVERGENCE | {"unchanged"}]
    recovered = sum(r["recovered"] for r in changed) / max(1, sum(r["steps"] - r["ok"] - r["noted"] for r in changed))
    print(f"on changed variants: {sum(r['ok'] + r['recovered'] + r['noted'] for r in changed)}/"
          f"{sum(r['steps'] for r in changed)} steps replayed; of the steps not found as recorded, "
          f"{recovered:.0%} re-matched")
    broken = [r for r in rows if r["variant"] in EXPECTED_DIVERGENCE]
    print(f"breakages caught at the right step: {sum(r['divergence_right'] for r in broken)}/{len(broken)};"
          f" false divergences on unchanged and changed apps: {sum(r.get('false_divergences', 0) for r in rows)}")


if __name__ == "__main__":
    main()

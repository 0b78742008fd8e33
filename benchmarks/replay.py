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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import RecordingStore, launch_options, record, replay  # noqa: E402

PAGES = Path(__file__).resolve().parent.parent / "tests" / "pages"
SECRET = "s3cret-hunter2"

# -- the shop: a details form, then a confirm page -----------------------------------------

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


def shop_by_ids(page: Page, url: str) -> None:
    page.goto(url + "/index.html")
    page.fill("#name", "Ada")
    page.fill("#password", SECRET)
    page.select_option("#size", "m")
    page.check("#gift")
    page.click("#continue")
    page.click("#confirm")


def shop_by_roles(page: Page, url: str) -> None:
    page.goto(url + "/index.html")
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Password").fill(SECRET)
    page.get_by_label("Size").select_option("m")
    page.get_by_label("Gift wrap").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Confirm").click()


def shop_clicked_wrongly(page: Page) -> bool:
    """Whether a replay that should have clicked nothing (or a dead button) got a "Thank you"."""
    return bool(page.evaluate("(document.getElementById('done') || document.getElementById('x-done') || {})"
                              ".textContent || ''"))


# -- the todo list: drawn by script, items without ids, filters as URL fragments ------------

TODO_IDS = ("todo-input", "todo-list", "todo-count", "filter-all", "filter-active", "filter-completed",
            "clear-completed")
TODOS = ("buy milk", "walk dog", "write report")


def _todo_rename(pages: dict[str, str]) -> None:
    text = re.sub(r"\b(" + "|".join(TODO_IDS) + r")\b", r"x-\1", pages["index.html"])
    pages["index.html"] = re.sub(r"\bc-(?=[a-z])", "v2-", text)  # every class (in HTML, CSS and script)


def _todo_reword(pages: dict[str, str]) -> None:
    for old, new in (("What needs to be done?", "What needs doing?"), (">todos<", ">my todos<"),
                     (">Clear completed<", ">Clear completed todos<"), ("item left", "item to do"),
                     ("items left", "items to do"), (">Completed<", ">Completed ones<")):
        pages["index.html"] = pages["index.html"].replace(old, new)


def _todo_newest_first(pages: dict[str, str]) -> None:
    pages["index.html"] = pages["index.html"].replace("todos.push(", "todos.unshift(")


def _todo_remove_filter(pages: dict[str, str]) -> None:
    pages["index.html"] = pages["index.html"].replace('<a id="filter-active" href="#/active">Active</a>', "")


def _todo_dead_toggle(pages: dict[str, str]) -> None:
    pages["index.html"] = pages["index.html"].replace("box.addEventListener('change', () => { toggle(todo); render(); });",
                                                      "")


def _todo_clear_twice(pages: dict[str, str]) -> None:
    button = '<button id="clear-completed" class="c-clear">Clear completed</button>'
    text = pages["index.html"].replace(button, 2 * button.replace(' id="clear-completed"', ""))
    pages["index.html"] = text.replace(
        "document.getElementById('clear-completed').addEventListener('click', () => {",
        "for (const button of document.querySelectorAll('.c-clear')) button.addEventListener('click', () => {")


def todo_by_css(page: Page, url: str) -> None:
    page.goto(url + "/index.html")
    for title in TODOS:
        page.fill("#todo-input", title)
        page.press("#todo-input", "Enter")
    page.check("#todo-list li:nth-child(2) .c-toggle")
    page.click("#filter-active")
    page.click("#filter-completed")
    page.click("#filter-all")
    page.hover("#todo-list li:nth-child(1)")
    page.click("#todo-list li:nth-child(1) .c-remove")
    page.click("#clear-completed")


def todo_by_roles(page: Page, url: str) -> None:
    page.goto(url + "/index.html")
    new = page.get_by_placeholder("What needs to be done?")
    for title in TODOS:
        new.fill(title)
        new.press("Enter")
    page.get_by_label("Toggle walk dog").check()
    page.get_by_role("link", name="Active").click()
    page.get_by_role("link", name="Completed").click()
    page.get_by_role("link", name="All").click()
    page.get_by_text("buy milk").hover()
    page.get_by_role("button", name="Delete buy milk").click()
    page.get_by_role("button", name="Clear completed").click()


@dataclass(frozen=True)
class App:
    """An app of local pages, the flows recorded on it and the variants they are replayed on."""

    name: str
    directory: Path
    flows: tuple[Callable[[Page, str], None], ...]
    variants: dict[str, list[Callable[[dict[str, str]], None]]]  # every page of the app edited in turn
    # A variant meant to break the app -> a word of the recorded selector of the step that
    # must be the first divergence (in either flow).
    breaks_at: dict[str, str]
    acted_wrongly: Callable[[Page], bool] | None = None  # after a breaking variant's replay


APPS = (
    App("shop", PAGES / "shop", (shop_by_ids, shop_by_roles),
        {"unchanged": [], "ids": [_rename_ids], "texts": [_reword], "layout": [_move],
         "all": [_rename_ids, _reword, _move], "removed": [_remove], "ambiguous": [_twice], "dead": [_dead]},
        {"removed": "confirm", "ambiguous": "confirm", "dead": "confirm"}, shop_clicked_wrongly),
    App("todo", PAGES / "todo", (todo_by_css, todo_by_roles),
        {"unchanged": [], "ids": [_todo_rename], "texts": [_todo_reword], "layout": [_move],
         "reordered": [_todo_newest_first], "all": [_todo_rename, _todo_reword, _move],
         "removed": [_todo_remove_filter], "ambiguous": [_todo_clear_twice], "dead": [_todo_dead_toggle]},
        {"removed": "active", "ambiguous": "clear", "dead": "toggle"}),
)


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


def replay_app(app: App, browser: Browser, workdir: Path, timeout_ms: int) -> list[dict[str, Any]]:
    """Record the app's flows on the original, replay each on every variant: a row each."""
    original = {p.name: p.read_text() for p in app.directory.glob("*.html")}
    site = workdir / app.name / "original"
    site.mkdir(parents=True)
    for name, text in original.items():
        (site / name).write_text(text)
    url, server = serve(site)
    db = workdir / app.name / "replay.db"
    recordings = {}
    for flow in app.flows:
        context = browser.new_context()
        with record(context.new_page(), db=db, name=flow.__name__) as page:
            flow(page, url)
        recordings[flow.__name__] = page.recording.id
        context.close()
    server.shutdown()
    rows = []
    for variant, edits in app.variants.items():
        pages = dict(original)
        for edit in edits:
            edit(pages)
        directory = workdir / app.name / variant
        directory.mkdir()
        for name, text in pages.items():
            (directory / name).write_text(text)
        variant_url, variant_server = serve(directory)
        for flow_name, recording_id in recordings.items():
            context = browser.new_context()
            page = context.new_page()
            with RecordingStore(db) as store:
                report = replay(store.get(recording_id), page, base_url=variant_url,
                                secrets={"password": SECRET}, find_timeout_ms=timeout_ms)
            wrongly = app.acted_wrongly(page) if app.acted_wrongly and variant in app.breaks_at else False
            context.close()
            counts = {s: sum(1 for step in report.steps if step.status == s)
                      for s in ("ok", "recovered", "noted", "diverged", "failed", "skipped")}
            first = report.first_divergence
            row: dict[str, Any] = {"app": app.name, "variant": variant, "flow": flow_name, "steps": len(report.steps),
                                   **counts,
                                   "replayed_share": round((counts["ok"] + counts["recovered"] + counts["noted"])
                                                           / len(report.steps), 3),
                                   "first_divergence": first.sequence if first else None,
                                   "first_divergence_selector": first.selector if first else None,
                                   "first_divergence_reason": first.reason if first else None}
            if variant in app.breaks_at:
                row["divergence_right"] = bool(first is not None and first.status == "diverged"
                                               and app.breaks_at[variant] in (first.selector or "").lower()
                                               and not wrongly)
            else:
                row["false_divergences"] = counts["diverged"] + counts["failed"]
            rows.append(row)
        variant_server.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=int, default=2000, help="replay's find timeout, ms")
    parser.add_argument("--apps", default=",".join(app.name for app in APPS),
                        help=f"comma-separated apps (default {','.join(app.name for app in APPS)})")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.apps.split(",") if name.strip()]
    known = {app.name: app for app in APPS}
    if not chosen or any(name not in known for name in chosen):
        parser.error(f"--apps: choose from {', '.join(known)}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        for name in chosen:
            rows += replay_app(known[name], browser, Path(tmp), args.timeout)
        browser.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'app':<5} {'variant':<10} {'flow':<14} {'steps':>5} {'ok':>3} {'rec':>4} {'noted':>5} {'div':>4} "
          f"{'replayed':>9}  check")
    for row in rows:
        if "divergence_right" in row:
            check = f"divergence at the right step: {row['divergence_right']}"
        else:
            check = f"false divergences: {row['false_divergences']}"
        if row["first_divergence"] is not None and not row.get("divergence_right"):
            check += f" (step {row['first_divergence']} {row['first_divergence_selector']}: " \
                     f"{row['first_divergence_reason']})"
        print(f"{row['app']:<5} {row['variant']:<10} {row['flow']:<14} {row['steps']:>5} {row['ok']:>3} "
              f"{row['recovered']:>4} {row['noted']:>5} {row['diverged']:>4} {row['replayed_share']:>9.0%}  {check}")
    breaking = {(app.name, variant) for app in APPS for variant in app.breaks_at}
    changed = [r for r in rows if (r["app"], r["variant"]) not in breaking and r["variant"] != "unchanged"]
    recovered = sum(r["recovered"] for r in changed) / max(1, sum(r["steps"] - r["ok"] - r["noted"] for r in changed))
    print(f"on changed variants: {sum(r['ok'] + r['recovered'] + r['noted'] for r in changed)}/"
          f"{sum(r['steps'] for r in changed)} steps replayed; of the steps not found as recorded, "
          f"{recovered:.0%} re-matched")
    broken = [r for r in rows if (r["app"], r["variant"]) in breaking]
    print(f"breakages caught at the right step: {sum(r['divergence_right'] for r in broken)}/{len(broken)};"
          f" false divergences on unchanged and changed apps: {sum(r.get('false_divergences', 0) for r in rows)}")


if __name__ == "__main__":
    main()

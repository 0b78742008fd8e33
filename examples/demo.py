"""Record a real browser session on a small local todo app, then say where it went.

    python examples/demo.py                 # records into ./recordings.db
    python examples/demo.py --db demo.db --headed

It serves examples/todo_app/ on 127.0.0.1 (a free port), drives Chromium through a few
steps with the sync Playwright API inside ``record(page)``, and prints the recording's
id, its action count and the commands that show it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from recorder import RecordingStore, launch_options, record
from recorder.viewer import render

APP = Path(__file__).parent / "todo_app"


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="recordings.db", help="database to record into (default: ./recordings.db)")
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    args = parser.parse_args()

    server = serve(APP)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(headless=not args.headed))
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        with record(page, db=args.db, name="todo_demo", metadata={"example": "examples/demo.py"}) as page:
            page.goto(url)
            new_todo = page.get_by_placeholder("What needs to be done?")
            for title in ("buy milk", "write the report", "call the plumber"):
                new_todo.fill(title)
                new_todo.press("Enter")
            page.get_by_label("Toggle buy milk").check()
            page.get_by_role("link", name="Completed").click()
            page.get_by_role("link", name="All").click()
            page.get_by_label("User").fill("ada")
            page.get_by_label("Password").fill("not stored anywhere")
            page.get_by_role("button", name="Sign in").click()
        browser.close()
    server.shutdown()

    recording = page.recording
    db = Path(args.db).resolve()
    viewer = db.with_name(f"recording-{recording.id}.html")
    with RecordingStore(db) as store:
        viewer.write_text(render(store, store.get(recording.id)), encoding="utf-8")
    print(f"Recorded {recording.action_count} actions as recording {recording.id} ({recording.name}, {recording.status})")
    print(f"Database: {db}")
    print(f"Viewer:   {viewer}  (open it in a browser; one self-contained file)")
    print("Look at it:")
    print(f"  recorder view {recording.id} --db {db}        # writes the viewer and opens it")
    print(f"  recorder view --serve --db {db}    # browse every recording on http://127.0.0.1")
    print(f"  recorder show {recording.id} --db {db}")
    print(f"  recorder list --db {db}")
    print(f"  sqlite3 {db} 'SELECT sequence, type, selector, value FROM actions WHERE recording_id = {recording.id}'")


if __name__ == "__main__":
    main()

"""A takeover's cookies and localStorage: names, flags and hashes stored, values never by default.

The app sets an HttpOnly session cookie (Set-Cookie, which a page cannot read), a cookie of
its own (document.cookie) and localStorage entries; during the takeover the person changes
one of them. "Nowhere" means the raw bytes of the database file and its -wal, every text
column, every decoded text blob, and `recorder show --json` / `recorder export` (json and
playwright-trace).
"""

from __future__ import annotations

import http.server
import json
import secrets
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page

from recorder import RecordingStore, record, takeover
from recorder.cli import main
from recorder.page_state import value_hash

# Made at run time: the text of this file is stored with the recording (its source).
SESSION, PREFS, TOKEN, LIGHT, DARK = (f"{kind}-{secrets.token_hex(8)}"
                                      for kind in ("sess", "prefs", "tok", "light", "dark"))
VALUES = (SESSION, PREFS, TOKEN, LIGHT, DARK)

APP = f"""<!doctype html><title>app</title>
<script>
  document.cookie = "prefs={PREFS}; path=/";
  localStorage.setItem("auth_token", "{TOKEN}");
  localStorage.setItem("theme", "{LIGHT}");
</script>
<button id="dark" onclick="localStorage.setItem('theme', '{DARK}')">Dark theme</button>
<button id="api" onclick="fetch('/api/me')">Who am I</button>
"""


@pytest.fixture
def app() -> Iterator[str]:
    """An app on 127.0.0.1: /login sets the HttpOnly session cookie and shows the page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = (APP if self.path == "/login" else '{"user": "ada"}').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if self.path == "/login" else "application/json")
            if self.path == "/login":
                self.send_header("Set-Cookie", f"session={SESSION}; HttpOnly; Path=/; SameSite=Lax")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def invoke(args: list[str]) -> Any:
    """The CLI on its own thread (this one runs pytest-playwright's sync API)."""
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(result=CliRunner().invoke(main, args)))
    thread.start()
    thread.join()
    return outcome["result"]


def database_text(db_path: Path) -> str:
    """Everything the database holds: the raw bytes of the file and its -wal, every column of
    every table, and every blob that decodes as text (snapshots are compressed)."""
    parts = [b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*")).decode("latin-1")]
    with sqlite3.connect(db_path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table != "blobs":
                parts.extend(str(column) for row in conn.execute(f"SELECT * FROM {table}") for column in row)
        keys = [row[0] for row in conn.execute("SELECT key FROM blobs")]
    with RecordingStore(db_path) as store:
        parts.extend(store.blob(key).decode("utf-8", "replace") for key in keys)
    return "\n".join(parts)


def take_over(page: Page, app: str, db_path: Path, **options: Any) -> tuple[int, takeover, str]:
    """Record: the agent logs in, a person switches the theme; the raw database bytes while
    the recording is still open (its -wal then holds the latest writes)."""
    with record(page, db=db_path, name="agent") as page:
        page.goto(app + "/login")
        page.get_by_role("button", name="Who am I").click()
        handover = takeover(page, visitor_id="v-1", **options)
        with handover:
            box = page.locator("#dark").bounding_box()
            page.mouse.click(box["x"] + 5, box["y"] + 5)
            page.wait_for_timeout(300)
        page.get_by_role("button", name="Who am I").click()
        page.recording.store.flush()
        raw_while_open = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*")).decode("latin-1")
    return page.recording.id, handover, raw_while_open


def states(db_path: Path, recording_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    with RecordingStore(db_path) as store:
        steps = store.get(recording_id).timeline()
    handoff = next(a for a in steps if a["type"] == "handoff")
    completion = next(a for a in steps if a["type"] == "completion")
    return handoff["metadata"]["state"], completion["metadata"]["state"]


def test_cookie_and_storage_values_are_never_stored_by_default(page: Page, app: str, db_path: Path,
                                                               tmp_path: Path) -> None:
    recording_id, handover, raw_while_open = take_over(page, app, db_path)

    # The takeover had the values, in memory.
    cookies = {c["name"]: c for c in handover.handoff_state["storage_state"]["cookies"]}
    assert cookies["session"]["value"] == SESSION and cookies["session"]["httpOnly"] is True
    local = handover.handoff_state["storage_state"]["origins"][0]["localStorage"]
    assert {"name": "auth_token", "value": TOKEN} in local
    assert {"name": "theme", "value": DARK} in handover.completion_state["storage_state"]["origins"][0]["localStorage"]

    # Names, flags and hashes are stored; a change shows as a changed hash.
    handoff, completion = states(db_path, recording_id)
    assert handoff["values_stored"] is False and "storage_state" not in handoff
    session = next(c for c in handoff["cookies"] if c["name"] == "session")
    assert session == {"name": "session", "domain": "127.0.0.1", "path": "/", "expires": -1, "httpOnly": True,
                       "secure": False, "sameSite": "Lax", "value_hash": value_hash(SESSION)}
    assert next(c for c in handoff["cookies"] if c["name"] == "prefs")["value_hash"] == value_hash(PREFS)
    storage = {(item["name"], item["value_hash"]) for item in handoff["local_storage"]}
    assert storage == {("auth_token", value_hash(TOKEN)), ("theme", value_hash(LIGHT))}
    assert ("theme", value_hash(DARK)) in {(item["name"], item["value_hash"]) for item in completion["local_storage"]}
    assert all(item["origin"] == app for item in handoff["local_storage"])

    # No value anywhere in the database: raw bytes (while open, with its -wal, and after),
    # columns, decoded blobs; the request events' Cookie / Set-Cookie are redacted.
    stored = database_text(db_path)
    for value in VALUES:
        assert value not in raw_while_open, value
        assert value not in stored, value
    with RecordingStore(db_path) as store:
        requests = store.get(recording_id).events(kind="request")
    login = next(r for r in requests if r["url"].endswith("/login"))
    # (Chromium leaves Set-Cookie out of the headers it reports; were it there, it is redacted.)
    assert {k.lower(): v for k, v in login["response_headers"].items()}.get("set-cookie") in (None, "[redacted]")

    # Nor in what the CLI writes out.
    shown = invoke(["show", str(recording_id), "--db", str(db_path), "--json"])
    assert shown.exit_code == 0, shown.output
    assert "session" in shown.stdout and value_hash(SESSION) in shown.stdout
    exported = invoke(["export", str(recording_id), "--db", str(db_path), "--format", "json"])
    assert exported.exit_code == 0 and "auth_token" in exported.stdout
    trace = tmp_path / "trace.zip"
    traced = invoke(["export", str(recording_id), "--db", str(db_path), "--format", "playwright-trace",
                     "-o", str(trace)])
    assert traced.exit_code == 0, traced.output
    with zipfile.ZipFile(trace) as archive:
        zipped = "".join(archive.read(name).decode("latin-1") for name in archive.namelist())
    for value in VALUES:
        for text in (shown.output, exported.output, zipped):
            assert value not in text, value
    assert "warning" not in shown.stderr + exported.stderr


def test_keep_storage_state_stores_the_values_and_the_cli_shows_them_only_when_asked(
        page: Page, app: str, db_path: Path, tmp_path: Path) -> None:
    recording_id, _, _ = take_over(page, app, db_path, keep_storage_state=True)
    handoff, completion = states(db_path, recording_id)
    assert handoff["values_stored"] is True
    assert next(c for c in handoff["storage_state"]["cookies"] if c["name"] == "session")["value"] == SESSION
    assert {"name": "theme", "value": DARK} in completion["storage_state"]["origins"][0]["localStorage"]
    assert SESSION in database_text(db_path)

    base = ["--db", str(db_path)]
    for args in (["show", str(recording_id), "--json"], ["export", str(recording_id)]):
        left_out = invoke([*args, *base])
        assert left_out.exit_code == 0, left_out.output
        assert all(value not in left_out.output for value in VALUES)
        assert "\"storage_state\"" not in left_out.stdout and "value_hash" in left_out.stdout
        included = invoke([*args, *base, "--include-storage-state"])
        assert included.exit_code == 0, included.output
        assert SESSION in included.stdout and TOKEN in included.stdout
        assert "warning:" in included.stderr and "--include-storage-state" in included.stderr
        assert SESSION not in included.stderr

    # A cassette with the values imports without them unless asked.
    cassette = tmp_path / "flow.json"
    assert invoke(["export", str(recording_id), *base, "--include-storage-state", "-o", str(cassette)]).exit_code == 0
    for flag, kept in (([], False), (["--keep-storage-state"], True)):
        other = tmp_path / f"other{len(flag)}.db"
        result = invoke(["import", str(cassette), "--db", str(other), *flag])
        assert result.exit_code == 0, result.output
        assert (SESSION in database_text(other)) is kept
    refused = invoke(["export", str(recording_id), *base, "--format", "pytest", "--include-storage-state"])
    assert refused.exit_code == 2 and "only --format json" in refused.output


def test_values_stored_by_an_older_recorder_are_left_out_of_show_and_export(db_path: Path) -> None:
    """Before, metadata.state held Playwright's cookies as they are and {key: value} localStorage."""
    state = {"url": "http://app.test/", "form_values": [],
             "cookies": [{"name": "session", "value": SESSION, "domain": "app.test", "path": "/", "expires": -1,
                          "httpOnly": True, "secure": False, "sameSite": "Lax"}],
             "local_storage": {"auth_token": TOKEN}}
    with RecordingStore(db_path) as store:
        recording = store.start("old")
        recording.record_action("handoff", metadata={"user_session_id": 0, "state": state})
        recording.complete()
        recording_id = recording.id
    shown = invoke(["show", str(recording_id), "--db", str(db_path), "--json"])
    exported = invoke(["export", str(recording_id), "--db", str(db_path)])
    for result in (shown, exported):
        assert result.exit_code == 0, result.output
        assert SESSION not in result.output and TOKEN not in result.output
        shown_state = json.loads(result.stdout)["timeline"][0]["metadata"]["state"]
        assert shown_state["cookies"][0]["name"] == "session" and "value" not in shown_state["cookies"][0]
        assert shown_state["local_storage"] == [{"origin": "http://app.test", "name": "auth_token",
                                                 "value_hash": value_hash(TOKEN)}]
    included = invoke(["show", str(recording_id), "--db", str(db_path), "--json", "--include-storage-state"])
    assert SESSION in included.stdout and "warning:" in included.stderr

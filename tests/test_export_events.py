"""Exporting what happened around the actions: console messages, page errors, requests and
the source of each call go into the Playwright trace (Trace Viewer's Console, Network and
Source tabs show them) and travel in the JSON cassette."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import sqlite3
import sys
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from recorder import RecordingStore, record
from recorder.exchange import export_json, export_trace, import_json, source_file_name
from tests.test_exchange import after_snapshot, trace_events, trace_viewer

# The page's bearer token (tests/pages/events/app.js), spelled in pieces: recorder keeps
# this file's text with the recording, so a whole spelling here would be found in it.
TOKEN = "tokens3cr3t" + "-4711"
HELPER = '''\
def press_api(page):
    page.click("#api")  # clicked from a helper file that is gone when the trace is viewed
'''


def wait_done(page: Page) -> None:
    """Wait until the events page says its button is done, with calls recorder does not
    record, and make it ready for the next button."""
    page.wait_for_function("() => document.getElementById('out').textContent.startsWith('done: ')")
    page.evaluate("() => { document.getElementById('out').textContent = 'ready'; }")


@pytest.fixture
def events_recording(page: Page, server: str, db_path: Path, tmp_path: Path) -> dict[str, Any]:
    """A recording of tests/pages/events pressing each button; #api is pressed from a helper
    file deleted after the recording. Returns its id and where each call was made."""
    helper_path = tmp_path / "flow_helpers_events.py"
    helper_path.write_text(HELPER)
    spec = importlib.util.spec_from_file_location("flow_helpers_events", helper_path)
    assert spec and spec.loader
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    lines = {}
    with record(page, db=db_path, name="events") as page:
        page.goto(f"{server}/events/index.html")
        for button in ("#log", "#fail", "#later", "#missing"):
            lines[button] = sys._getframe().f_lineno + 1
            page.click(button)  # the call the Source tab shows
            wait_done(page)
        helper.press_api(page)
        wait_done(page)
    helper_path.unlink()
    return {"id": page.recording.id, "lines": lines, "helper": str(helper_path), "file": __file__}


def read_trace(recording_id: int, target: str | Path, trace: Path) -> zipfile.ZipFile:
    with RecordingStore(target) as store:
        export_trace(store.get(recording_id), trace)
    return zipfile.ZipFile(trace)


def test_the_trace_carries_console_messages_page_errors_requests_and_sources(
        events_recording: dict[str, Any], db_path: Path, tmp_path: Path, server: str) -> None:
    with RecordingStore(db_path) as store:
        recording = store.get(events_recording["id"])
        stored_sources = {path: store.blob(info["key"]).decode() for path, info in recording.sources().items()}
        stored = recording.events()
    requests = [e for e in stored if e["kind"] == "request"]
    at = {e.get("text") or e.get("message") or e.get("url"): e["time_ms"] for e in stored}  # ms since the start
    with read_trace(events_recording["id"], db_path, tmp_path / "trace.zip") as archive:
        events = trace_events(archive, "trace.trace")
        network = [e["snapshot"] for e in trace_events(archive, "trace.network")]
        befores = {e["params"].get("selector"): e for e in events if e["type"] == "before"}

        # Console messages, at their recorded times: the clock of the actions' startTime.
        console = [e for e in events if e["type"] == "console"]
        hello = next(e for e in console if e["text"] == "hello from the page {n: 1}")
        assert hello["messageType"] == "log" and hello["pageId"] == "page@0"
        assert hello["location"]["url"] == f"{server}/events/app.js" and hello["location"]["lineNumber"] > 0
        assert any(e["messageType"] == "warning" and e["text"] == "careful now" for e in console)
        assert hello["time"] == at["hello from the page {n: 1}"] and befores["#log"]["startTime"] <= hello["time"]

        # Uncaught errors and unhandled rejections, as Playwright's pageError events.
        errors = {e["params"]["error"]["error"]["message"]: e for e in events
                  if e["type"] == "event" and e["method"] == "pageError"}
        assert set(errors) == {"thrown in a click handler", "thrown later", "rejected promise"}
        thrown = errors["thrown in a click handler"]
        assert thrown["class"] == "BrowserContext" and thrown["pageId"] == "page@0"
        assert thrown["params"]["error"]["error"]["name"] == "RangeError"
        assert "app.js" in thrown["params"]["error"]["error"]["stack"]
        assert thrown["time"] == at["thrown in a click handler"] and befores["#fail"]["startTime"] <= thrown["time"]

        # Every request a HAR entry, at the time it was sent, with what was recorded of it.
        assert len(network) == len(requests)
        by_url = {entry["request"]["url"]: entry for entry in network}
        missing = by_url[f"{server}/events/missing.json"]
        assert (missing["request"]["method"], missing["response"]["status"]) == ("GET", 404)
        assert missing["response"]["statusText"] == "File not found" and missing["_resourceType"] == "fetch"
        assert missing["_monotonicTime"] == at[missing["request"]["url"]]
        assert missing["startedDateTime"] > by_url[f"{server}/events/index.html"]["startedDateTime"]
        refused = by_url["http://127.0.0.1:9/unreachable.json"]
        assert refused["response"]["status"] == -1 and refused["response"]["_failureText"].startswith("net::ERR_")
        api = by_url[f"{server}/events/api/items.json"]
        assert api["response"]["status"] == 200 and api["response"]["content"]["mimeType"] == "application/json"
        assert {"name": "Authorization", "value": "[redacted]"} in api["request"]["headers"]
        assert "_file" not in api["response"]["content"]  # bodies were not recorded
        page = by_url[f"{server}/events/index.html"]
        assert page["response"]["_transferSize"] > 0 and page["timings"]["wait"] >= 0
        assert page["serverIPAddress"] == "127.0.0.1" and page["pageref"] == "page@0"
        assert all(e["_frameref"].startswith("frame@") and e["_frameref"] != "frame@0" for e in network)

        # Each call's source line, and the files' text named as Playwright names them.
        for button, line in events_recording["lines"].items():
            assert befores[button]["stack"] == [{"file": events_recording["file"], "line": line, "column": 0,
                                                  "function": "events_recording"}]
        assert befores["#api"]["stack"][0]["file"] == events_recording["helper"]
        assert set(stored_sources) == {events_recording["file"], events_recording["helper"]}
        for path, text in stored_sources.items():
            name = "src/" + hashlib.sha1(path.encode()).hexdigest() + ".py"
            assert source_file_name(path) == name and archive.read(name).decode() == text
        assert 'page.click("#api")  # clicked from a helper' in stored_sources[events_recording["helper"]]


def test_trace_viewer_shows_the_console_the_network_and_the_source(
        events_recording: dict[str, Any], db_path: Path, tmp_path: Path, context: BrowserContext) -> None:
    trace = tmp_path / "trace.zip"
    read_trace(events_recording["id"], db_path, trace).close()
    with trace_viewer(trace, context) as viewer:
        viewer.get_by_role("tab", name="Console").click()
        console = viewer.locator(".console-tab")
        expect(console).to_contain_text("hello from the page {n: 1}")
        expect(console).to_contain_text("thrown in a click handler")  # a page error
        expect(console).to_contain_text("RangeError: thrown in a click handler")

        viewer.get_by_role("tab", name="Network").click()
        rows = viewer.locator(".network-grid-view").get_by_role("option")
        missing = rows.filter(has_text="missing.json")
        expect(missing).to_have_count(1)
        expect(missing.locator(".grid-view-column-status")).to_have_text("404")
        expect(missing).to_have_class(re.compile(r"\berror\b"))  # listed as a failed request
        expect(rows.filter(has_text="items.json").locator(".grid-view-column-status")).to_have_text("200")
        expect(rows.filter(has_text="unreachable.json").locator(".grid-view-column-status")).to_have_text("canceled")

        # The Source tab shows the test's line for a call made here...
        viewer.locator(".action-title").filter(has_text="#missing").first.click()
        viewer.get_by_role("tab", name="Source").click()
        source = viewer.get_by_test_id("source-code")
        expect(source.locator(".source-line-running")).to_contain_text("page.click(button)  # the call the Source")
        expect(source).to_contain_text(Path(events_recording["file"]).name)
        # ... and the helper's, whose file is gone: its text came from the trace.
        viewer.locator(".action-title").filter(has_text="#api").first.click()
        expect(source.locator(".source-line-running")).to_contain_text('page.click("#api")  # clicked from a helper')


def test_the_token_appears_nowhere_in_the_trace_or_the_cassette(
        events_recording: dict[str, Any], db_path: Path, tmp_path: Path) -> None:
    secret = TOKEN.encode()
    with read_trace(events_recording["id"], db_path, tmp_path / "trace.zip") as archive:
        for name in archive.namelist():
            assert secret not in archive.read(name), name
        assert b"[redacted]" in archive.read("trace.network")
    with RecordingStore(db_path) as store:
        cassette = export_json(store.get(events_recording["id"]))
    text = json.dumps(cassette, ensure_ascii=False)
    assert TOKEN not in text and any(e.get("request_headers", {}).get("Authorization") == "[redacted]"
                                     for e in cassette["events"])
    for key, blob in cassette["blobs"].items():
        assert secret not in base64.b64decode(blob["data"]), key


def test_the_cassette_carries_the_events_and_sources_and_they_import(
        events_recording: dict[str, Any], db_path: Path, tmp_path: Path) -> None:
    with RecordingStore(db_path) as store:
        original = store.get(events_recording["id"])
        cassette = json.loads(json.dumps(export_json(original)))
        events, sources = original.events(), original.sources()
        texts = {path: store.blob(info["key"]) for path, info in sources.items()}
        logged = original.events(kind="console", action=2)
    assert cassette["version"] == 3 and cassette["events"] == events
    assert cassette["sources"] == [{"path": path, **info} for path, info in sources.items()]
    assert {"console", "error", "request"} <= {e["kind"] for e in events}
    with RecordingStore(tmp_path / "other.db") as store:
        copy = import_json(store, cassette)
        assert copy.events() == events  # events carry no ids: equal as they are
        assert copy.sources() == sources
        assert {path: store.blob(info["key"]) for path, info in copy.sources().items()} == texts
        assert copy.events(kind="console", action=2) == logged and logged  # the click on #log's messages


# -- without a browser -------------------------------------------------------------------------

SITE = "http://127.0.0.1:9"


def small_cassette(target: str | Path) -> dict[str, Any]:
    """A cassette of a recording made without a browser, with an event of each kind and a
    source (recording 1 of ``target``, a SQLite path or a PostgreSQL URL)."""
    with RecordingStore(target) as store:
        recording = store.start(name="small")
        recording.record_action("navigate", value=SITE + "/", url=SITE + "/", metadata={
            "api": "Page.goto", "source": {"file": "/work/flows/test_small.py", "line": 3, "function": "test_small"}})
        recording.record_event("console", {"level": "log", "text": "hi", "location": {"url": SITE + "/", "line": 1,
                                                                                      "column": 2}}, time_ms=5)
        recording.record_event("error", {"name": "TypeError", "message": "no", "stack": None}, time_ms=6)
        recording.record_event("crash", {"message": "the page's renderer crashed"}, time_ms=7)
        recording.record_event("request", {"method": "GET", "url": SITE + "/a.json", "status": 404,
                                           "request_headers": {"Accept": "*/*"}, "redirects": [],
                                           "timing": {"wait": 1.5}}, time_ms=8)
        recording.record_source("/work/flows/test_small.py", "def test_small(page):\n\n    page.goto('/')\n")
        recording.complete()
    with RecordingStore(target) as store:
        return json.loads(json.dumps(export_json(store.get(1))))


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(path)) as conn:
        return {table: conn.execute(f"SELECT * FROM {table}").fetchall()
                for table in ("recordings", "actions", "events", "sources", "resources")}


def test_a_version_2_cassette_without_events_or_sources_still_imports(store_target: str) -> None:
    cassette = small_cassette(store_target)
    del cassette["events"], cassette["sources"]
    cassette["version"] = 2
    with RecordingStore(store_target) as store:
        copy = import_json(store, cassette)
        assert copy.events() == [] and copy.sources() == {} and len(copy.timeline()) == 1


def test_a_cassette_without_blobs_imports_its_events_but_not_its_sources(store_target: str) -> None:
    cassette = small_cassette(store_target)
    del cassette["blobs"]
    with RecordingStore(store_target) as store:
        copy = import_json(store, cassette)
        assert len(copy.events()) == 4 and copy.sources() == {}


def _event(number: int, **changes: Any) -> Any:
    return lambda cassette: cassette["events"][number].update(changes)


BAD = [
    ("an unknown kind", _event(0, kind="alert"), "event 1's kind 'alert' is not one of console, error, request, crash"),
    ("a time in words", _event(0, time_ms="soon"), "event 1 (console)'s time_ms is 'soon', not a whole number of ms"),
    ("a fractional time", _event(1, time_ms=1.5), "event 2 (error)'s time_ms is 1.5"),
    ("sequence zero", _event(0, action_sequence=0), "event 1 (console)'s action_sequence is 0"),
    ("a negative page", _event(0, page_index=-1), "event 1 (console)'s page_index is -1"),
    ("console text a list", _event(0, text=["hi"]), "event 1 (console)'s text is ['hi']"),
    ("a location line in words", _event(0, location={"url": SITE, "line": "one", "column": 0}),
     "event 1 (console)'s location is not {url, line, column}"),
    ("a request without url", lambda c: c["events"][3].pop("url"), "event 4 (request)'s url is None"),
    ("headers a list", _event(3, request_headers=[["Accept", "*/*"]]), "event 4 (request)'s request_headers is"),
    ("a header value a number", _event(3, request_headers={"Accept": 1}),
     "event 4 (request)'s request_headers are not {name: text}"),
    ("a status in words", _event(3, status="404"), "event 4 (request)'s status is '404'"),
    ("a timing in words", _event(3, timing={"wait": "slow"}), "event 4 (request)'s timing is not {phase: ms}"),
    ("a redirect without url", _event(3, redirects=[{"status": 302}]), "event 4 (request)'s redirects are not"),
    ("an event that is no object", lambda c: c["events"].append("hi"), "event 5 is str, not an object"),
    ("events not a list", lambda c: c.update(events={}), "its events are not a list"),
    ("sources not a list", lambda c: c.update(sources={}), "its sources are not a list"),
    ("a source with changed text", lambda c: c["blobs"][c["sources"][0]["key"]].update(
        data=base64.b64encode(b"import os\n").decode()), "the text of source 1 (/work/flows/test_small.py) does not"),
    ("a source whose text is missing", lambda c: c["blobs"].pop(c["sources"][0]["key"]),
     "its text is not among the blobs"),
    ("a source without a path", lambda c: c["sources"][0].update(path=""), "source 1's path '' is not a file path"),
    ("a source listed twice", lambda c: c["sources"].append(dict(c["sources"][0])),
     "source 2 (/work/flows/test_small.py) is listed twice"),
    ("a source size that disagrees", lambda c: c["sources"][0].update(size=3), "size is 3, but its text is"),
]


@pytest.mark.parametrize(("change", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_cassette_with_a_malformed_event_or_source_is_refused_and_stores_nothing(
        db_path: Path, tmp_path: Path, change: Any, message: str) -> None:
    cassette = small_cassette(db_path)
    target = tmp_path / "target.db"
    with RecordingStore(target) as store:
        import_json(store, json.loads(json.dumps(cassette)))  # as exported, it imports
    before = rows(target)
    change(cassette)
    with RecordingStore(target) as store:
        with pytest.raises(ValueError) as refused:
            import_json(store, cassette)
    assert message in str(refused.value)
    assert rows(target) == before


def test_the_trace_of_a_small_recording_names_its_crash_and_its_source(store_target: str, tmp_path: Path) -> None:
    small_cassette(store_target)
    with read_trace(1, store_target, tmp_path / "trace.zip") as archive:
        events = trace_events(archive, "trace.trace")
        crash = next(e for e in events if e["type"] == "event" and e["params"]["error"]["error"]["name"] == "Crash")
        assert crash["method"] == "pageError" and crash["time"] == 7
        before = next(e for e in events if e["type"] == "before")
        assert before["stack"] == [{"file": "/work/flows/test_small.py", "line": 3, "column": 0,
                                    "function": "test_small"}]
        name = "src/" + hashlib.sha1(b"/work/flows/test_small.py").hexdigest() + ".py"
        assert archive.read(name).decode().startswith("def test_small(page):")
        [request] = trace_events(archive, "trace.network")
        assert request["snapshot"]["response"]["status"] == 404 and request["snapshot"]["timings"]["wait"] == 1.5


def test_a_request_with_bodies_and_redirects_in_the_trace(store_target: str, tmp_path: Path) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start(name="bodies")
        recording.record_action("navigate", value=SITE + "/", url=SITE + "/", metadata={"api": "Page.goto"})
        recording.record_event("request", {
            "method": "POST", "url": SITE + "/api/items?page=2", "status": 201, "status_text": "Created",
            "mime_type": "application/json", "request_headers": {"Content-Type": "application/json"},
            "response_headers": {"Content-Type": "application/json", "Vary": "Accept\nOrigin"},
            "request_body": '{"name": "Ada"}', "response_body": '{"id": 7}', "remote_address": "[::1]:8080",
            "redirects": [{"url": SITE + "/old", "status": 307}], "duration_ms": 12.5}, time_ms=40)
        recording.complete()
    with read_trace(1, store_target, tmp_path / "trace.zip") as archive:
        hop, entry = (e["snapshot"] for e in trace_events(archive, "trace.network"))
        assert (hop["request"]["url"], hop["response"]["status"], hop["response"]["redirectURL"]) == (
            SITE + "/old", 307, SITE + "/api/items?page=2")
        assert entry["request"]["postData"] == {"mimeType": "application/json", "text": '{"name": "Ada"}', "params": []}
        assert entry["request"]["queryString"] == [{"name": "page", "value": "2"}]
        content = entry["response"]["content"]
        assert content["_file"].endswith(".json") and archive.read(content["_file"]) == b'{"id": 7}'
        assert {"name": "Vary", "value": "Origin"} in entry["response"]["headers"]  # one value a header
        assert (entry["serverIPAddress"], entry["_serverPort"], entry["time"]) == ("::1", 8080, 12.5)
        assert entry["_monotonicTime"] == hop["_monotonicTime"] == 40


def test_a_post_redirected_to_a_get_keeps_its_method_and_body_on_its_hop(page: Page, db_path: Path,
                                                                        tmp_path: Path) -> None:
    """A form POSTed, answered 303 and sent on as a GET was stored as one GET of the last URL
    carrying the POST's body, and exported as a GET of the form's URL (a hunt found it)."""
    import http.server
    import threading

    class Login(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(303)
            self.send_header("Location", "/home")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            body = (b'<form method="post" action="/login"><input name="user" value="ann">'
                    b'<button>Log in</button></form>' if self.path == "/" else b"<h1>Home</h1>")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Login)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{site.server_address[1]}"
    try:
        with record(page, db=db_path, bodies=True) as page:
            page.goto(base + "/")
            page.click("button")
            page.wait_for_url(base + "/home")
            page.click("h1")
    finally:
        site.shutdown()
        site.server_close()
    [home] = [e for e in page.recording.events("request") if e["url"] == base + "/home"]
    assert (home["method"], home.get("request_body"), home["request_size"]) == ("GET", None, 0), home
    assert home["redirects"] == [{"url": base + "/login", "method": "POST", "status": 303, "request_size": 8,
                                  "request_body": "user=ann"}]
    with read_trace(page.recording.id, db_path, tmp_path / "trace.zip") as archive:
        entries = [e["snapshot"] for e in trace_events(archive, "trace.network")]
    hop = next(e for e in entries if e["request"]["url"] == base + "/login")
    last = next(e for e in entries if e["request"]["url"] == base + "/home")
    assert (hop["request"]["method"], hop["request"]["postData"]["text"], hop["response"]["status"]) == (
        "POST", "user=ann", 303)
    assert last["request"]["method"] == "GET" and "postData" not in last["request"]


# -- requests for a kept stylesheet do not take its place in the snapshots ---------------------------

FRAMED = ('<!DOCTYPE html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/frame.css"></head>'
          '<body><h1>Inner</h1></body></html>').replace('"', "&quot;")
DOCUMENT = ('<!DOCTYPE html><html data-recorder-url="http://127.0.0.1:9/"><head>'
            '<link rel="stylesheet" href="http://127.0.0.1:9/app.css"></head><body><h1>Main</h1>'
            f'<iframe data-recorder-frame="about:srcdoc" srcdoc="{FRAMED}"></iframe></body></html>')


def test_requests_for_a_kept_stylesheet_do_not_take_its_place_in_the_snapshots(
        db_path: Path, tmp_path: Path, context: BrowserContext) -> None:
    """The page fetched its stylesheets (200); then the frame's failed to load again. All
    those requests come before the snapshot, which must still show the page and its frame
    styled from the kept bytes."""
    with RecordingStore(db_path) as store:
        recording = store.start(name="styled offline")
        recording.record_action("navigate", value=SITE + "/", url=SITE + "/", dom_snapshot=DOCUMENT,
                                metadata={"api": "Page.goto"}, duration_ms=500)
        recording.record_resource(SITE + "/app.css", b"h1 { color: rgb(1, 2, 3) }", "text/css", 1)
        recording.record_resource(SITE + "/frame.css", b"h1 { color: rgb(4, 5, 6) }", "text/css", 1)
        for time_ms, name, outcome in ((1, "app.css", {"status": 200}), (1, "frame.css", {"status": 200}),
                                       (2, "frame.css", {"failure": "net::ERR_ABORTED"})):
            recording.record_event("request", {"method": "GET", "url": f"{SITE}/{name}", "resource_type": "stylesheet",
                                               "frame_id": "F00D", "mime_type": "text/css", **outcome},
                                   action_sequence=1, time_ms=time_ms)
        recording.complete()
    trace = tmp_path / "trace.zip"
    with read_trace(1, db_path, trace) as archive:
        network = [e["snapshot"] for e in trace_events(archive, "trace.network")]
        kept = {e["request"]["url"]: e for e in network if e["_frameref"] == "frame@0"}
        fetched = [e for e in network if e["_frameref"] == "frame@F00D" and e["response"]["status"] == 200]
        [failed] = [e for e in network if e["_frameref"] == "frame@F00D" and e["response"]["status"] == -1]
        for entry in fetched:  # the kept bytes, whichever entry a snapshot picks
            copy = kept[entry["request"]["url"]]
            assert entry["response"]["content"]["_file"] == copy["response"]["content"]["_file"]
        assert "_file" not in failed["response"]["content"] and failed["response"]["_failureText"] == "net::ERR_ABORTED"
        framed = [e for e in network if e["_frameref"] == "frame@0.1"]  # the kept copy, now the frame's own
        assert [(e["request"]["url"], e["_monotonicTime"]) for e in framed] == [(SITE + "/frame.css", 0)]
    with trace_viewer(trace, context) as viewer:
        snapshot = after_snapshot(viewer, "navigate")
        expect(snapshot.locator("h1")).to_have_css("color", "rgb(1, 2, 3)")
        expect(snapshot.frame_locator("iframe").locator("h1")).to_have_text("Inner")
        expect(snapshot.frame_locator("iframe").locator("h1")).to_have_css("color", "rgb(4, 5, 6)")

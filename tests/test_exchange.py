"""Exporting recordings (JSON cassette, pytest file) and importing them back."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import BrowserContext, FrameLocator, Page, expect

from recorder import RecordingStore, record
from recorder._core import ACTIONS, ActionSpec, recorded_call
from recorder.cli import main
from recorder.exchange import _call, export_json, export_pytest, import_json
from tests.conftest import PAGES
from tests.test_replay import SECRET, recorded, serve, shop  # noqa: F401 - fixtures

pytest_plugins = ["pytester"]


def without_ids(timeline: list[dict]) -> list[dict]:
    return [{k: v for k, v in action.items() if k != "id"} for action in timeline]


def test_json_export_round_trips_through_import(recorded: int, db_path: Path, tmp_path: Path) -> None:
    cassette = tmp_path / "flow.json"
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "-o", str(cassette)])
    assert result.exit_code == 0, result.output
    other = tmp_path / "other.db"
    result = CliRunner().invoke(main, ["import", str(cassette), "--db", str(other)])
    assert result.exit_code == 0 and "imported as recording 1 (checkout" in result.stdout
    with RecordingStore(db_path) as original, RecordingStore(other) as copy:
        before, after = original.get(recorded), copy.get(1)
        assert without_ids(after.timeline()) == without_ids(before.timeline())
        assert (after.name, after.status, after.started_at) == (before.name, before.status, before.started_at)
        action = after.timeline()[1]
        assert copy.blob(action["dom_snapshot_key"]) == original.blob(action["dom_snapshot_key"])
        assert copy.blob(action["screenshot_key"])[:3] == b"\xff\xd8\xff"
    assert SECRET not in cassette.read_text()


def test_json_export_without_blobs(recorded: int, db_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "--no-blobs"])
    cassette = json.loads(result.stdout)
    assert "blobs" not in cassette and len(cassette["timeline"]) == 8


def test_importing_something_else_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "har"}')
    result = CliRunner().invoke(main, ["import", str(bad), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "cannot import" in result.stderr and "not a recorder cassette" in result.stderr


def test_exported_pytest_file_passes_against_the_same_app(recorded: int, db_path: Path, pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "--format", "pytest"])
    source = result.stdout
    assert 'page.get_by_label("Name").fill("Ada")' in source
    assert 'page.locator("#password").fill(os.environ["RECORDER_SECRET_PASSWORD"])' in source
    assert "expect(page).to_have_url(" in source and SECRET not in source
    pytester.makeconftest(
        "import pytest\nfrom recorder import launch_options\n"
        "@pytest.fixture(scope='session')\n"
        "def browser_type_launch_args(browser_type_launch_args):\n"
        "    return launch_options(**browser_type_launch_args)\n"
    )
    pytester.makepyfile(test_exported=source)
    monkeypatch.setenv("RECORDER_SECRET_PASSWORD", SECRET)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


@contextmanager
def trace_viewer(trace: Path, context: BrowserContext) -> Iterator[Page]:
    """Playwright's own Trace Viewer (`playwright show-trace`, shipped in the Python
    package) serving ``trace`` on 127.0.0.1, opened in a page of ``context``."""
    viewer = subprocess.Popen([sys.executable, "-m", "playwright", "show-trace", "--host", "127.0.0.1", "--port", "0",
                               str(trace)], stdout=subprocess.PIPE, text=True, env={**os.environ, "BROWSER": "none"},
                              start_new_session=True)  # its own process group: the node server under it ends too
    try:
        assert viewer.stdout is not None
        line = ""
        while "Listening on" not in line:
            line = viewer.stdout.readline()
            assert line, "show-trace exited without serving"
        page = context.new_page()
        page.goto(line.split("Listening on", 1)[1].strip())
        page.locator(".action-title").first.wait_for(timeout=15_000)
        yield page
    finally:
        os.killpg(viewer.pid, signal.SIGTERM)
        viewer.wait(timeout=10)


def after_snapshot(viewer: Page, action_title: str) -> FrameLocator:
    """The DOM snapshot Trace Viewer shows after the action titled ``action_title``."""
    viewer.locator(".action-title").filter(has_text=action_title).first.click()
    viewer.get_by_role("tab", name="After").click()
    return viewer.frame_locator("iframe.snapshot-visible")


def export_trace_file(recording_id: int, db_path: Path, trace: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(recording_id), "--db", str(db_path), "--format",
                                       "playwright-trace", "-o", str(trace)])
    assert result.exit_code == 0, result.output


def test_trace_export_opens_in_playwrights_trace_viewer(recorded: int, db_path: Path, tmp_path: Path,
                                                        context: BrowserContext) -> None:
    trace = tmp_path / "trace.zip"
    export_trace_file(recorded, db_path, trace)
    with trace_viewer(trace, context) as viewer:
        titles = viewer.locator(".action-title").all_inner_texts()
        assert len(titles) == 8
        assert any('get_by_label("Name")' in title for title in titles)
        assert any(title.startswith('Fill "Ada"') for title in titles)  # Playwright's own title
        snapshot = after_snapshot(viewer, 'get_by_role("button", name="Confirm")')
        assert snapshot.locator("h1").inner_text() == "Confirm your order"  # the DOM snapshot renders


@pytest.fixture
def styled(page: Page, db_path: Path) -> int:
    """A recording of tests/pages/styled (external CSS, @import, a web font, a background
    image), its server stopped afterwards: what a trace shows of it comes from the trace."""
    url, stop = serve(PAGES)
    try:
        with record(page, db=db_path, name="styled") as page:
            page.goto(url + "/styled/index.html")
            page.get_by_placeholder("your name").fill("Ada")
            page.get_by_role("button", name="Save").click()
    finally:
        stop()
    return page.recording.id


def trace_events(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in archive.read(name).decode().splitlines() if line]


def strings(node: Any) -> Iterator[str]:
    """Every attribute value and text in a frame snapshot's [TAG, {attrs}, ...children] tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list) and node and isinstance(node[0], str):
        yield from (node[1] or {}).values() if len(node) > 1 else ()
        for child in node[2:]:
            yield from strings(child)


def test_trace_export_carries_each_stored_resource_once(styled: int, db_path: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    export_trace_file(styled, db_path, trace)
    with RecordingStore(db_path) as store:
        recording = store.get(styled)
        stored = {url: store.blob(info["key"]) for url, info in recording.resources().items()}
        media_types = {url: info["media_type"] for url, info in recording.resources().items()}
    assert {url.rsplit("/", 1)[1] for url in stored} == {"app.css", "theme.css", "deco.woff", "logo-1x.png", "tile.png"}
    with zipfile.ZipFile(trace) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names))
        files = [name for name in names if name.startswith("resources/")]
        assert sorted(name.split("/")[1].split(".")[0] for name in files) == sorted(
            hashlib.sha1(data).hexdigest() for data in set(stored.values()))  # once each, named as Playwright does
        network = trace_events(archive, "trace.network")
        assert {entry["type"] for entry in network} == {"resource-snapshot"}
        # The kept copies (the snapshots' frame); the page's own requests are entries too.
        copies = [entry["snapshot"] for entry in network if entry["snapshot"]["_frameref"] == "frame@0"]
        entries = {entry["request"]["url"]: entry for entry in copies}
        assert entries.keys() == stored.keys() and len(copies) == len(stored)
        for url, entry in entries.items():
            assert entry["request"]["method"] == "GET" and entry["response"]["status"] == 200
            assert entry["response"]["content"]["mimeType"] == media_types[url]
            assert archive.read(entry["response"]["content"]["_file"]) == stored[url]
        snapshots = [event["snapshot"] for event in trace_events(archive, "trace.trace")
                     if event["type"] == "frame-snapshot"]
    assert len(snapshots) == 3 and all(s["isMainFrame"] and s["doctype"] == "html" for s in snapshots)
    for snapshot in snapshots:  # a snapshot finds a resource of its frame that came before it
        assert all(e["_frameref"] == snapshot["frameId"] and e["_monotonicTime"] < snapshot["timestamp"]
                   for e in entries.values())
    # The last snapshot names the stylesheet and the image; the stylesheets name the rest.
    named = set(strings(snapshots[-1]["html"]))
    named_by_css = " ".join(data.decode() for url, data in stored.items() if media_types[url] == "text/css")
    by_name = {url.rsplit("/", 1)[1]: url for url in stored}
    assert {by_name["app.css"], by_name["logo-1x.png"]} <= named
    assert all(by_name[name] in named_by_css for name in ("theme.css", "deco.woff", "tile.png"))


def test_trace_viewer_shows_the_snapshot_styled_from_the_trace(styled: int, db_path: Path, tmp_path: Path,
                                                              context: BrowserContext) -> None:
    trace = tmp_path / "trace.zip"
    export_trace_file(styled, db_path, trace)
    with RecordingStore(db_path) as store:
        urls = sorted(store.get(styled).resources())
    with trace_viewer(trace, context) as viewer:
        snapshot = after_snapshot(viewer, 'get_by_role("button", name="Save")')
        expect(snapshot.locator("#saved")).to_have_text("Saved Ada")
        expect(snapshot.locator("header")).to_have_css("background-color", "rgb(20, 60, 160)")  # app.css
        expect(snapshot.locator(".accent")).to_have_css("color", "rgb(0, 140, 60)")  # its @import
        expect(snapshot.locator("#logo")).to_have_js_property("naturalWidth", 120)
        body = snapshot.locator("body")
        assert body.evaluate("async () => (await document.fonts.load('16px Deco')).map(f => f.status)") == ["loaded"]
        # The page's server is gone: each resource was answered from the trace.
        served = body.evaluate("""() => Object.fromEntries(performance.getEntriesByType('resource')
            .filter(e => e.name.startsWith('http://127.0.0.1')).map(e => [e.name, e.responseStatus]))""")
        assert {url: served.get(url) for url in urls} == {url: 200 for url in urls}


def test_trace_viewer_shows_shadow_roots_frames_canvases_and_scroll_positions(
        page: Page, db_path: Path, tmp_path: Path, context: BrowserContext) -> None:
    url, stop = serve(PAGES)
    other = url.replace("127.0.0.1", "localhost") + "/trace/other.html"  # another site
    try:
        with record(page, db=db_path, name="parts") as page:
            page.goto(url + "/trace/index.html?other=" + other)
            page.mouse.wheel(0, 150)
            page.wait_for_function("scrollY === 150")
            page.get_by_role("button", name="Done").click()
    finally:
        stop()
    trace = tmp_path / "trace.zip"
    export_trace_file(page.recording.id, db_path, trace)
    with zipfile.ZipFile(trace) as archive:
        frames = [event["snapshot"] for event in trace_events(archive, "trace.trace")
                  if event["type"] == "frame-snapshot" and event["snapshot"]["callId"] == "call@3"]
    assert [(f["frameId"], f["isMainFrame"], f["frameUrl"]) for f in frames] == [
        ("frame@0", True, f"{url}/trace/index.html?other={other}"), ("frame@0.1", False, url + "/trace/frame.html"),
        ("frame@0.1.1", False, "about:srcdoc"), ("frame@0.2", False, other)]
    with trace_viewer(trace, context) as viewer:
        snapshot = after_snapshot(viewer, 'get_by_role("button", name="Done")')
        expect(snapshot.locator("header")).to_have_css("background-color", "rgb(20, 60, 160)")
        expect(snapshot.locator("#host p")).to_have_css("color", "rgb(200, 0, 0)")  # a <style> in a shadow root
        frame = snapshot.frame_locator("#inner")
        expect(frame.locator("#framed")).to_have_css("color", "rgb(0, 0, 200)")  # the frame's own stylesheet
        expect(frame.frame_locator("iframe").locator("#deeper")).to_have_text("Deeper, in a srcdoc frame")
        expect(snapshot.frame_locator("#other").locator("#framed")).to_have_text("From another origin")
        expect(snapshot.locator("img[data-recorder-canvas]")).to_have_js_property("naturalWidth", 40)
        expect(snapshot.locator("#scroller")).to_have_js_property("scrollTop", 240)
        expect(snapshot.locator("html")).to_have_js_property("scrollTop", 150)


def test_trace_export_of_a_recording_without_resources_still_opens(db_path: Path, tmp_path: Path,
                                                                   context: BrowserContext) -> None:
    """A recording from before resources were kept: its snapshot has relative URLs and a
    frame's src, and the trace has no resources; Trace Viewer shows it unstyled."""
    older = ('<!DOCTYPE html><html><head><link rel="stylesheet" href="app.css"></head><body>'
             '<h1>Kept before resources</h1><iframe src="frame.html"></iframe><img src="logo.png"></body></html>')
    with RecordingStore(db_path) as store:
        recording = store.start(name="older")
        recording.record_action("navigate", value="http://127.0.0.1:9/", url="http://127.0.0.1:9/",
                                dom_snapshot=older, metadata={"api": "Page.goto"}, duration_ms=5)
        recording.complete()
    trace = tmp_path / "trace.zip"
    export_trace_file(recording.id, db_path, trace)
    with zipfile.ZipFile(trace) as archive:
        assert archive.read("trace.network") == b""
        assert not [name for name in archive.namelist() if name.startswith("resources/")]
    with trace_viewer(trace, context) as viewer:
        snapshot = after_snapshot(viewer, "navigate")
        expect(snapshot.locator("h1")).to_have_text("Kept before resources")
        expect(snapshot.frame_locator("iframe").locator("body")).to_have_text("")  # blank, not an error page


# -- the JSON cassette carries the page resources --------------------------------------------

STYLED_FILES = {"app.css", "theme.css", "deco.woff", "logo-1x.png", "tile.png"}


def export_cassette(recording_id: int, db_path: Path, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["export", str(recording_id), "--db", str(db_path), *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def import_cassette(cassette: Any, target: Path | str, tmp_path: Path) -> Any:
    path = tmp_path / "cassette.json"
    path.write_text(json.dumps(cassette))
    return CliRunner().invoke(main, ["import", str(path), "--db", str(target)])


def kept(store: RecordingStore, recording_id: int) -> dict[str, tuple[str, bytes]]:
    """A recording's resources as URL -> (media type, the bytes the store gives back)."""
    return {url: (info["media_type"], store.blob(info["key"]))
            for url, info in store.get(recording_id).resources().items()}


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What a database holds, table by table (the blobs by key and size, not their bytes)."""
    queries = {"recordings": "SELECT * FROM recordings ORDER BY id",
               "actions": "SELECT * FROM actions ORDER BY id",
               "resources": "SELECT * FROM resources ORDER BY recording_id, url",
               "blobs": "SELECT rowid, key, media_type, codec, size, stored_size FROM blobs ORDER BY rowid"}
    with closing(sqlite3.connect(path)) as conn:
        return {table: conn.execute(sql).fetchall() for table, sql in queries.items()}


def test_json_cassette_carries_the_resources_and_they_import(styled: int, db_path: Path, tmp_path: Path) -> None:
    cassette = export_cassette(styled, db_path)
    with RecordingStore(db_path) as store:
        original = kept(store, styled)
        listed = store.get(styled).resources()
    assert {url.rsplit("/", 1)[1] for url in original} == STYLED_FILES
    assert cassette["version"] == 3
    assert cassette["resources"] == [{"url": url, **{k: info[k] for k in ("media_type", "key", "size", "sequence")}}
                                     for url, info in listed.items()]
    for resource in cassette["resources"]:  # their bytes travel with the other blobs, by sha256
        data = base64.b64decode(cassette["blobs"][resource["key"]]["data"])
        assert data == original[resource["url"]][1] and hashlib.sha256(data).hexdigest() == resource["key"]

    other = tmp_path / "other.db"
    result = import_cassette(cassette, other, tmp_path)
    assert result.exit_code == 0, result.output
    with RecordingStore(other) as store, RecordingStore(db_path) as source:
        assert kept(store, 1) == original  # the same URLs, media types and bytes
        assert without_ids(store.get(1).timeline()) == without_ids(source.get(styled).timeline())
        assert {url: info["sequence"] for url, info in store.get(1).resources().items()} == \
            {url: info["sequence"] for url, info in listed.items()}


@pytest.mark.parametrize("into", ["the database it came from", "a fresh database, twice"])
def test_an_imported_resource_already_in_the_database_is_not_stored_again(
        styled: int, db_path: Path, tmp_path: Path, into: str) -> None:
    cassette = export_cassette(styled, db_path)
    keys = {resource["key"] for resource in cassette["resources"]}
    target = db_path if into == "the database it came from" else tmp_path / "other.db"
    if target != db_path:
        assert import_cassette(cassette, target, tmp_path).exit_code == 0
    before = rows(target)
    result = import_cassette(cassette, target, tmp_path)
    assert result.exit_code == 0, result.output
    after = rows(target)
    assert after["blobs"] == before["blobs"]  # not one blob stored, rewritten or replaced
    assert sorted(row[1] for row in after["blobs"] if row[1] in keys) == sorted(keys)  # once each
    with RecordingStore(target) as store:
        first, second = (store.list()[i].id for i in (1, 0))
        assert kept(store, second) == kept(store, first) and len(kept(store, second)) == len(STYLED_FILES)
    assert len(after["resources"]) == len(before["resources"]) + len(STYLED_FILES)


def test_a_cassette_whose_resource_bytes_were_changed_is_refused_and_stores_nothing(
        styled: int, db_path: Path, tmp_path: Path) -> None:
    with RecordingStore(db_path) as store:
        cassette = export_json(store.get(styled))
    target = tmp_path / "target.db"
    with RecordingStore(target) as store:
        import_json(store, json.loads(json.dumps(cassette)))  # an honest copy is there already
    before = rows(target)
    stylesheet = next(r for r in cassette["resources"] if r["url"].endswith("/app.css"))
    cassette["blobs"][stylesheet["key"]]["data"] = base64.b64encode(b"header { background: red }").decode()
    with RecordingStore(target) as store:
        with pytest.raises(ValueError, match=r"the bytes of resource \d+ \(http://127\.0\.0\.1:\d+/styled/app\.css\)"
                                             r" do not match its key [0-9a-f]{64}"):
            import_json(store, cassette)
    assert rows(target) == before


def test_a_cassette_without_blobs_lists_the_resources_and_imports_without_them(
        styled: int, db_path: Path, tmp_path: Path) -> None:
    cassette = export_cassette(styled, db_path, "--no-blobs")
    assert "blobs" not in cassette
    assert {r["url"].rsplit("/", 1)[1] for r in cassette["resources"]} == STYLED_FILES
    assert all(r["size"] > 0 and len(r["key"]) == 64 for r in cassette["resources"])
    target = tmp_path / "other.db"
    assert import_cassette(cassette, target, tmp_path).exit_code == 0
    with RecordingStore(target) as store:
        assert store.get(1).resources() == {} and len(store.get(1).timeline()) == 3


def test_an_old_cassette_without_resources_imports(store_target: str, tmp_path: Path) -> None:
    """A version 1 cassette, as recorder wrote them before resources were kept."""
    document = b"<!DOCTYPE html><html><body><h1>Kept before resources</h1></body></html>"
    key = hashlib.sha256(document).hexdigest()
    old = {
        "format": "recorder-cassette", "version": 1,
        "recording": {"id": 7, "name": "older", "status": "completed", "started_at": "2024-05-01T10:00:00.000+00:00",
                      "completed_at": "2024-05-01T10:00:01.200+00:00", "failed_at": None, "duration_ms": 1200,
                      "action_count": 1, "error": None, "metadata": {}, "agent_run": None, "sandbox_session": None,
                      "owner": None, "parent_id": None, "interrupted_at": None},
        "timeline": [{"id": 3, "type": "navigate", "sequence": 1, "timestamp_ms": 0, "duration_ms": 40,
                      "selector": None, "value": "http://127.0.0.1:9/", "url": "http://127.0.0.1:9/", "status": "ok",
                      "error": None, "screenshot_key": None, "dom_snapshot_key": key,
                      "metadata": {"api": "Page.goto"}}],
        "blobs": {key: {"media_type": "text/html", "data": base64.b64encode(document).decode()}},
    }
    result = import_cassette(old, store_target, tmp_path)
    assert result.exit_code == 0 and "imported as recording 1 (older, 1 actions)" in result.stdout, result.output
    with RecordingStore(store_target) as store:
        recording = store.get(1)
        assert recording.resources() == {} and store.blob(recording.timeline()[0]["dom_snapshot_key"]) == document


def cassette_with_resources(db_path: Path) -> dict[str, Any]:
    """A cassette of a recording, made without a browser, that kept a stylesheet and an image."""
    with RecordingStore(db_path) as store:
        recording = store.start(name="kept")
        recording.record_action("navigate", value="http://127.0.0.1:9/", url="http://127.0.0.1:9/",
                                dom_snapshot='<html><head><link rel="stylesheet" href="http://127.0.0.1:9/app.css">'
                                '</head><body><img src="http://127.0.0.1:9/logo.png"></body></html>',
                                metadata={"api": "Page.goto"})
        recording.record_resource("http://127.0.0.1:9/app.css", b"body { color: rgb(1, 2, 3) }", "text/css", 1)
        recording.record_resource("http://127.0.0.1:9/logo.png", (PAGES / "styled" / "logo-1x.png").read_bytes(),
                                  "image/png", 1)
        recording.complete()
    with RecordingStore(db_path) as store:
        return export_json(store.get(1))


def _first_resource(**changes: Any) -> Any:
    return lambda cassette: cassette["resources"][0].update(changes)


BAD_RESOURCES = [
    ("unknown key", lambda c: c["blobs"].pop(c["resources"][0]["key"]), "its bytes are not among the blobs"),
    ("changed bytes", lambda c: c["blobs"][c["resources"][0]["key"]].update(data=base64.b64encode(b"x").decode()),
     "the bytes of resource 1 (http://127.0.0.1:9/app.css) do not match its key"),
    ("a key that is no sha256", _first_resource(key="../../etc/passwd"), "is not a sha256 (64 hex digits)"),
    ("a javascript url", _first_resource(url="javascript:alert(1)"),
     "'javascript:alert(1)' is not an absolute http(s) URL"),
    ("a relative url", _first_resource(url="app.css"), "'app.css' is not an absolute http(s) URL"),
    ("a url with a line break", _first_resource(url="http://127.0.0.1:9/a\nb.css"), "is not an absolute http(s) URL"),
    ("a media type carrying a header", _first_resource(media_type="text/css\r\nSet-Cookie: a=1"),
     "media type 'text/css\\r\\nSet-Cookie: a=1' is not a type/subtype"),
    ("no media type", _first_resource(media_type=None), "media type None is not a type/subtype"),
    ("a url listed twice", lambda c: c["resources"].append(dict(c["resources"][0])),
     "resource 3 (http://127.0.0.1:9/app.css) is listed twice"),
    ("a size that disagrees", _first_resource(size=3), "size is 3, but its bytes are 28"),
    ("a text sequence", _first_resource(sequence="1"), "sequence is '1', not a whole number from 1"),
    ("resources not a list", lambda c: c.update(resources={}), "its resources are not a list"),
    ("a resource that is no object", lambda c: c.update(resources=["http://127.0.0.1:9/app.css"]),
     "resource 1 is str, not an object"),
]


@pytest.mark.parametrize(("change", "message"), [b[1:] for b in BAD_RESOURCES], ids=[b[0] for b in BAD_RESOURCES])
def test_a_bad_resource_entry_refuses_the_whole_cassette_with_the_reason(
        db_path: Path, tmp_path: Path, change: Any, message: str) -> None:
    cassette = cassette_with_resources(db_path)
    assert import_cassette(cassette, tmp_path / "good.db", tmp_path).exit_code == 0  # as exported, it imports
    change(cassette)
    target = tmp_path / "target.db"
    result = import_cassette(cassette, target, tmp_path)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr, result.output
    assert not target.exists()  # nothing stored, not even an empty database


def test_recorded_text_never_becomes_code_in_the_pytest_export(db_path: Path, tmp_path: Path) -> None:
    """A recording name closed the docstring, and selectors and values went in raw: a
    page (or a cassette) could make the exported test run anything."""
    marker = tmp_path / "PWNED"
    payload = f'__import__("pathlib").Path({str(marker)!r}).touch()'
    with RecordingStore(db_path) as store:
        recording = store.start(name=f'"""; {payload} #\\\\ C:\\\\xfiles')
        recording.record_action("navigate", value="http://127.0.0.1/", url="http://127.0.0.1/",
                                metadata={"api": "Page.goto"})
        recording.record_action("click", selector=f'locator("x"); {payload}; page.locator("y")',
                                metadata={"api": "Locator.click"})
        recording.record_action("select", selector='locator("#s")', value=f"[{payload}]",
                                metadata={"api": "Locator.select_option"})
        recording.record_action("click", value=f"1, {payload}", metadata={"api": "Mouse.click"})
        recording.record_action("key_press", value="Enter", metadata={"api": f"Keyboard.press({payload}) or page.keyboard.up"})
        recording.record_action("type", selector='locator("#q")', value=f'"; {payload}; "',
                                metadata={"api": "Locator.fill"})
        recording.complete()
        source = export_pytest(store.get(recording.id))
    tree = ast.parse(source)  # it is valid Python ...
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not any("__import__" in call or "touch" in call for call in calls), calls  # ... that calls nothing of theirs
    assert 'page.locator("#q").fill(' in source and "could not be exported safely" in source
    exec(compile(tree, "exported.py", "exec"), {})  # defining the test runs nothing
    assert not marker.exists()


def test_an_assertion_the_pytest_export_cannot_write_is_left_out_with_a_comment(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start(name="assertions")
        recording.record_action("wait", selector='locator("li").filter(has=page.get_by_text("x"))', value='{"expected": "x"}',
                                metadata={"api": "LocatorAssertions.to_have_text"})
        recording.record_action("wait", value=None, metadata={"api": "PageAssertions.to_have_title", "redacted": True})
        recording.record_action("wait", selector='locator("#ok")', value='{"expected": "Saved"}',
                                metadata={"api": "LocatorAssertions.to_have_text"})
        recording.complete()
        source = export_pytest(store.get(recording.id))
    assert "# step 1 (wait) could not be exported safely" in source
    assert "# step 2 (wait) could not be exported safely" in source
    assert 'expect(page.locator("#ok")).to_have_text(expected="Saved")' in source


def test_trace_titles_are_playwrights_and_keep_recorders_type(recorded: int, db_path: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    export_trace_file(recorded, db_path, trace)
    with zipfile.ZipFile(trace) as archive:
        events = [json.loads(line) for line in archive.read("trace.trace").decode().splitlines()]
    befores = [e for e in events if e["type"] == "before"]
    assert [e["title"] for e in befores] == ["Navigate", 'Fill "Ada"', 'Fill "[redacted]"', "Select option", "Check",
                                             "Click", "Navigate", "Click"]
    assert [e["params"]["recorder_type"] for e in befores] == ["navigate", "type", "type", "select", "click", "click",
                                                               "navigate", "click"]
    assert [(e["class"], e["method"]) for e in befores][1:4] == [("Frame", "fill"), ("Frame", "fill"),
                                                                 ("Frame", "selectOption")]
    assert befores[0]["subtitle"].endswith("/index.html")


def _sample_value(spec: ActionSpec) -> str | None:
    return {"none": None, "text": "hello", "url": "http://a.test/", "numbers": "10,20", "json": "true",
            "files": '["a.txt"]', "drop": None, "expected": "{}"}[spec.argument]


@pytest.mark.parametrize(("owner", "method"), [(owner, method) for owner, methods in ACTIONS.items() for method in methods])
def test_one_table_makes_the_replayed_and_the_exported_call(owner: str, method: str) -> None:
    """Every recorded API is replayed and exported as the same Playwright call, one that exists."""
    import playwright.sync_api as api

    spec = ACTIONS[owner][method]
    value = '["red"]' if method == "select_option" else _sample_value(spec)
    action = {"type": spec.type, "value": value, "url": "http://a.test/", "selector": 'locator("#x")',
              "metadata": {"api": f"{owner}.{method}", "drag_target_selector": "#drop"}}
    call = recorded_call(action)
    assert call is not None and spec.title
    cls = {"element": api.Locator, "page": api.Page, "keyboard": api.Keyboard, "mouse": api.Mouse,
           "expect element": api.LocatorAssertions, "expect page": api.PageAssertions}[call.receiver]
    assert callable(getattr(cls, call.method))
    source = _call(action)
    assert source is not None and f".{call.method}(" in source
    assert ast.parse(source)  # a line of Python


def test_bidirectional_controls_in_recorded_text_are_escapes_in_the_pytest_export(
        page: Page, server: str, db_path: Path) -> None:
    # Written raw into string literals, U+202E made the file read otherwise than it runs.
    value = "refund \u202e0001$\u202c done"
    with record(page, db=db_path) as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill(value)
    with RecordingStore(db_path) as store:
        source = export_pytest(store.get(page.recording.id))
    assert "\u202e" not in source and "\u202c" not in source and "\\u202e" in source
    fills = [node for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "fill"]
    assert [ast.literal_eval(call.args[0]) for call in fills] == [value]  # the same text when run

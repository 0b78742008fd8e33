"""Faithful DOM snapshots: what a snapshot holds, the resources it needs, and pages that fight back.

Every test records a real page in a real Chromium and reads back what was stored.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recorder import RecordingStore, inpage, record
from tests.conftest import ArrivingSite, PageSite

PAGES = Path(__file__).parent / "pages"


@pytest.fixture
def second_origin() -> Iterator[str]:
    """Another server on 127.0.0.1 (another port: the same site, another origin)."""
    site = PageSite()
    yield site.url
    site.stop()


def stored(db_path: Path, recording_id: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], RecordingStore]:
    store = RecordingStore(db_path)
    recording = store.get(recording_id)
    return recording.timeline(), recording.resources(), store


def dom(store: RecordingStore, action: dict[str, Any]) -> str:
    assert action["dom_snapshot_key"], f"action {action['sequence']} ({action['type']}) has no DOM snapshot"
    return store.blob(action["dom_snapshot_key"]).decode("utf-8")


def test_a_styled_page_keeps_its_stylesheets_images_and_fonts_once(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Snapshots kept `<link href="app.css">` pointing at a server that is gone: nothing
    the page looked like was stored."""
    ids = []
    for _ in range(2):  # two recordings of the same page share every resource's bytes
        with record(page, db=db_path) as page:
            page.goto(server + "/styled/index.html")
            page.get_by_label("Name").fill("Ada")
            page.get_by_role("button", name="Save").click()
        ids.append(page.recording.id)
    timeline, resources, store = stored(db_path, ids[0])
    base = server + "/styled/"
    assert {url: info["media_type"] for url, info in resources.items()} == {
        base + "app.css": "text/css", base + "theme.css": "text/css",  # theme.css: the @import
        base + "tile.png": "image/png",  # a CSS background
        base + "deco.woff": "font/woff",  # a web font
        base + "logo-1x.png": "image/png",  # the srcset candidate used at 1x, not logo-2x.png
    }
    css = store.blob(resources[base + "app.css"]["key"]).decode()
    assert f'url("{base}tile.png")' in css and f'@import "{base}theme.css"' in css  # absolute, for any reader
    assert store.blob(resources[base + "deco.woff"]["key"]) == (PAGES / "styled" / "deco.woff").read_bytes()
    assert store.get(ids[1]).resources().keys() == resources.keys()
    with sqlite3.connect(db_path) as conn:
        keys = [info["key"] for info in resources.values()]
        assert conn.execute(f"SELECT count(*) FROM blobs WHERE key IN ({','.join('?' * len(keys))})", keys).fetchone()[0] \
            == len(keys)  # one row each, for both recordings
    last = dom(store, timeline[-1])
    assert f'<link rel="stylesheet" href="{base}app.css">' in last
    assert ".from-cssom { background: rgb(255, 120, 0)" in last  # inserted through the CSSOM
    assert "data-recorder-adopted" in last and "rgb(120, 0, 200)" in last  # an adopted stylesheet
    assert f'src="{base}logo-1x.png"' in last and "srcset" not in last
    assert 'value="Ada"' in last and "Saved Ada" in last
    assert "<script" not in last and "onclick" not in last
    store.close()


def test_resources_are_the_bytes_the_browser_has_not_a_second_download(page, tmp_path: Path, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A stylesheet changed moments before the page loaded is stale at once to the browser's
    # cache heuristics: asking the page for it (Page.getResourceContent) made the browser ask
    # the server again (a 304), where the network log had the bytes already.
    site_dir = tmp_path / "styled"
    shutil.copytree(PAGES / "styled", site_dir)
    for file in site_dir.iterdir():
        os.utime(file)  # modified just now
    site = PageSite(site_dir, cache=True)
    try:
        with record(page, db=db_path) as page:
            page.goto(site.url + "/index.html")
            # Served with Last-Modified just now, the files are fresh for 10% of their age (RFC
            # 9111's heuristic), some ms: a second later every one is stale to the cache.
            page.wait_for_timeout(1200)
            page.get_by_label("Name").fill("Ada")
            page.get_by_role("button", name="Save").click()
        asked = [path for path in site.hits if path.endswith((".css", ".png", ".woff"))]
        assert sorted(asked) == sorted(set(asked)), site.hits
        timeline, resources, store = stored(db_path, page.recording.id)
        assert resources[site.url + "/app.css"]["key"] and resources[site.url + "/theme.css"]["key"]
        requests = [e["url"] for e in store.get(page.recording.id).events("request")]
        assert requests.count(site.url + "/app.css") == 1, requests
        store.close()
    finally:
        site.stop()


def test_a_resource_over_the_size_limit_is_noted_not_kept(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    with record(page, db=db_path, resource_max_bytes=5000) as page:
        page.goto(server + "/styled/index.html")
    _, resources, store = stored(db_path, page.recording.id)
    skipped = {item["url"]: item["reason"] for item in store.get(page.recording.id).metadata["resources_skipped"]}
    assert server + "/styled/deco.woff" in skipped and "over the limit of 5,000" in skipped[server + "/styled/deco.woff"]
    assert server + "/styled/deco.woff" not in resources and server + "/styled/tile.png" in resources
    store.close()


@pytest.mark.parametrize("other_site", [False, True], ids=["other origin, same site", "other site"])
def test_shadow_roots_frames_canvases_and_state_are_kept(page, server: str, second_origin: str, db_path: Path,  # type: ignore[no-untyped-def]
                                                         other_site: bool) -> None:
    """cloneNode dropped shadow roots, frames' documents and canvases' pixels."""
    other = (server.replace("127.0.0.1", "localhost") if other_site else second_origin) + "/structure/frame-child.html"
    with record(page, db=db_path) as page:
        page.goto(f"{server}/structure/index.html?other={other}")
        page.frame_locator("#same").locator("#inside").wait_for()
        page.frame_locator("#other").locator("#inside").wait_for()
        page.select_option("#size", "M")
        page.click("#scroll")
    timeline, resources, store = stored(db_path, page.recording.id)
    last = dom(store, timeline[-1])
    store.close()
    shadow = re.search(r'<user-card id="card"><template shadowrootmode="open">(.*?)</template>', last, re.S)
    assert shadow and "Shadow content" in shadow.group(1) and "rgb(200, 0, 0)" in shadow.group(1)
    same = re.search(r'<iframe id="same" srcdoc="([^"]*)"', last)
    assert same and "Inside the frame" in same.group(1) and "rgb(0, 150, 80)" in same.group(1)
    foreign = re.search(r'<iframe id="other" name="other" src="[^"]*" data-recorder-frame="cross-origin"'
                        r' data-recorder-frame-token="\w+" srcdoc="([^"]*)"', last)
    assert foreign, "the cross-origin frame's document is in place"
    framed = html.unescape(foreign.group(1))
    assert framed.startswith(f'<!DOCTYPE html><html data-recorder-url="{other}">') and "Inside the frame" in framed
    assert re.search(r'<img id="paint" width="60" height="30" src="data:image/png;base64,[^"]+" data-recorder-canvas="">', last)
    assert f'<use href="{server}/structure/sprite.svg#dot"></use>' in last  # an SVG sprite file, absolute
    assert resources[server + "/structure/sprite.svg"]["media_type"] == "image/svg+xml"
    assert re.search(r'<ul id="list" data-recorder-scroll="60,0">', last)
    assert '<details id="more" open="">' in last and '<dialog id="note" open="">' in last
    assert "<option selected=\"\">M</option>" in last and "<option>S</option>" in last


@pytest.mark.parametrize("name", ["polyfill", "thenable"])
def test_a_page_that_breaks_its_own_world_cannot_break_recorder(page, server: str, db_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """On a page whose polyfill replaces querySelectorAll, no action had a DOM snapshot and
    typed values were withheld as uninspectable; a page whose objects are all thenables
    hung every locator action."""
    with record(page, db=db_path) as page:
        page.goto(f"{server}/hostile/{name}.html")
        page.get_by_label("Name").fill("Grace")
        if name == "thenable":
            page.get_by_role("button", name="Go").click()
    timeline, _, store = stored(db_path, page.recording.id)
    fill = timeline[1]
    assert fill["value"] == "Grace" and "redacted_because" not in fill["metadata"]
    assert fill["metadata"]["target"]["css_path"] == "#name" and fill["metadata"]["bounding_box"]["width"] > 0
    assert all(action["dom_snapshot_key"] for action in timeline)
    assert 'value="Grace"' in dom(store, timeline[-1])
    store.close()


def test_a_page_cannot_talk_recorder_out_of_redacting(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The secret check ran in the page's world: a page whose `matches`/`closest` always say
    no would have had its redacted field stored."""
    with record(page, db=db_path, redact=["#ssn"]) as page:
        page.goto(server + "/hostile/polyfill.html")
        page.locator("#ssn").fill("078-05-1120")
    timeline, _, store = stored(db_path, page.recording.id)
    fill = timeline[-1]
    assert fill["value"] is None and fill["metadata"]["redacted"] is True
    snapshot = dom(store, fill)
    assert "078-05-1120" not in snapshot and '<input id="ssn" data-recorder-redacted="">' in snapshot
    store.close()


def test_secrets_stay_out_inside_shadow_roots_and_frames(page, server: str, second_origin: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = second_origin + "/structure/frame-child.html"
    with record(page, db=db_path, redact=[".secret", "#card-number"]) as page:
        page.goto(f"{server}/structure/index.html?other={other}")
        page.locator("#shadow-secret").fill("shadow-pass-1")
        page.frame_locator("#same").locator("#card-number").fill("4111111111111111")
        page.frame_locator("#other").locator("#card-number").fill("5500005555555559")
    timeline, _, store = stored(db_path, page.recording.id)
    assert [a["value"] for a in timeline[1:]] == [None, None, None]
    everything = "".join(dom(store, a) for a in timeline)
    for secret in ("shadow-pass-1", "4111111111111111", "5500005555555559"):
        assert secret not in everything
    assert 'id="shadow-secret" class="secret" data-recorder-redacted=""' in everything
    assert "card-number&quot; data-recorder-redacted" in everything  # inside a srcdoc, escaped
    store.close()


def test_every_action_has_a_dom_snapshot_unrequested_navigations_too(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The navigation a click caused (a hash change, a link to another page) was recorded
    without a DOM snapshot: the viewer said "No DOM snapshot was recorded"."""
    with record(page, db=db_path) as page:
        page.goto(server + "/structure/links.html")
        page.click("#filter")  # a hash change, then the page retitles itself
        page.wait_for_function("document.getElementById('title').textContent === 'Completed'")
        page.click("#away")  # another document: the last action of the recording is its navigation
        page.wait_for_url("**/away.html")
    timeline, _, store = stored(db_path, page.recording.id)
    assert [(a["type"], a["metadata"]["api"]) for a in timeline] == [
        ("navigate", "Page.goto"), ("click", "Page.click"), ("navigate", "event.navigate"),
        ("click", "Page.click"), ("navigate", "event.navigate")]
    assert all(a["dom_snapshot_key"] for a in timeline)
    assert "Arrived away" in dom(store, timeline[-1])
    assert '<h1 id="title">Completed</h1>' in dom(store, timeline[2])
    store.close()


def test_a_document_just_committed_with_nothing_in_it_yet_gets_its_snapshot_later(  # type: ignore[no-untyped-def]
        page, db_path: Path) -> None:
    """A goto(wait_until="commit") to a page whose first byte comes 1 s after its headers
    stored an empty DOM snapshot (no element to serialize yet) and no reason for it."""
    site = ArrivingSite({"/slow.html": [b"", b'<!doctype html><title>Slow</title><h1>Arrived</h1><button id="b">Go</button>']},
                        pause=1.0)
    try:
        with record(page, db=db_path) as page:
            page.goto(site.url + "/slow.html", wait_until="commit")
            page.click("#b")
    finally:
        site.stop()
    timeline, _, store = stored(db_path, page.recording.id)
    assert [a["metadata"]["api"] for a in timeline] == ["Page.goto", "Page.click"]
    assert "<h1>Arrived</h1>" in dom(store, timeline[0])  # taken once there was a page to take
    assert "<h1>Arrived</h1>" in dom(store, timeline[1])
    store.close()


def test_a_navigations_snapshot_shows_the_page_it_arrived_at_not_a_later_one(  # type: ignore[no-untyped-def]
        page, db_path: Path) -> None:
    """A goto's snapshot was asked of the document it left (recorder's world there was not
    forgotten at the navigation), failed, and was taken only at the next action: a second
    later, after the page had changed itself (0.7 s after it loaded)."""
    def changing(name: str) -> bytes:
        return (f"<!doctype html><title>{name}</title><h1>before {name}</h1><a href='/{name}2.html'>link</a><script>"
                f"onload = () => setTimeout(() => document.querySelector('h1').textContent = 'after {name}', 700)"
                f"</script>").encode()
    site = ArrivingSite({f"/{name}.html": [changing(name)] for name in ("a", "b", "b2")})
    try:
        with record(page, db=db_path) as page:
            page.goto(site.url + "/a.html")
            time.sleep(1.5)
            page.goto(site.url + "/b.html")
            time.sleep(1.5)
            page.click("text=link")
            time.sleep(1.5)
            page.keyboard.press("Tab")
    finally:
        site.stop()
    timeline, _, store = stored(db_path, page.recording.id)
    # (what a click that navigates shows, and the navigation no call asked for, depends on
    # when the new document had content: not asked here)
    shown = {(a["metadata"]["api"], a["url"].rsplit("/", 1)[-1]): re.search(r"<h1>(.*?)</h1>", dom(store, a)).group(1)
             for a in timeline if a["metadata"]["api"] in ("Page.goto", "Keyboard.press")}
    store.close()
    assert shown == {("Page.goto", "a.html"): "before a", ("Page.goto", "b.html"): "before b",
                     ("Keyboard.press", "b2.html"): "after b2"}, shown


def test_an_incremental_snapshot_equals_a_snapshot_taken_afresh(page, server: str) -> None:  # type: ignore[no-untyped-def]
    """Snapshots reuse what did not change since the last one (recorder/inpage/world.js).
    After every kind of change, the reused result must be what a first snapshot gives."""
    page.goto(server + "/structure/changing.html")
    cdp = page.context.new_cdp_session(page)
    frame_id = cdp.send("Page.getFrameTree")["frameTree"]["frame"]["id"]

    def world(name: str) -> int:
        context = cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": name})["executionContextId"]
        cdp.send("Runtime.evaluate", {"expression": inpage.install(), "contextId": context})
        return int(context)

    def snapshot(context: int) -> str:
        reply = cdp.send("Runtime.evaluate", {"expression": inpage.call("snapshot", {"redact": [".secret input", "select.secret"]}),
                                              "contextId": context, "returnByValue": True})
        return str(reply["result"]["value"]["html"])

    kept = world("kept")
    snapshot(kept)
    for step in range(page.evaluate("steps.length")):
        page.evaluate(f"steps[{step}]()")
        page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")  # scroll events
        assert snapshot(kept) == snapshot(world(f"fresh{step}")), f"after step {step}"


def test_a_frame_of_another_site_keeps_its_own_stylesheet(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A frame of another site lives in a process of its own: its resources were asked of
    the page's session, which does not have them, so it showed unstyled."""
    other_site = server.replace("127.0.0.1", "localhost")
    with record(page, db=db_path) as page:
        page.goto(f"{server}/trace/index.html?other={other_site}/trace/other.html")
        page.frame_locator("#other").locator("#framed").wait_for()
        page.click("body")
    _, resources, store = stored(db_path, page.recording.id)
    assert other_site + "/trace/frame.css" in resources
    css = store.blob(resources[other_site + "/trace/frame.css"]["key"]).decode()
    assert css.startswith("#framed {") and f'url("{other_site}/' in css  # its own URLs, on its own site
    store.close()


def test_a_page_that_used_locators_before_recording_is_looked_at_all_the_same(server: str, db_path: Path,  # type: ignore[no-untyped-def]
                                                                             run_async) -> None:
    """recorder's selector engine reaches a document's Playwright scripts only if it was
    registered before they were set up; on a page that already used locators when record()
    began, element lookups failed ("Cannot read properties of undefined (reading
    'queryAll')") and every typed value was withheld as uninspectable."""
    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> int:
        async with async_playwright() as playwright:  # a Playwright of its own: the engine is not registered yet
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            await page.goto(server + "/app.html")
            assert await page.locator("#name").count() == 1  # Playwright's scripts set up in this document
            async with record(page, db=db_path) as page:
                await page.locator("#name").fill("before the engine")
                await page.goto(server + "/app.html")  # a new document: the engine is there
                await page.locator("#name").fill("after the engine")
            await browser.close()
            return int(page.recording.id)

    timeline, _, store = stored(db_path, run_async(scenario()))
    store.close()
    fills = [a for a in timeline if a["type"] == "type"]
    assert [f["value"] for f in fills] == ["before the engine", "after the engine"]
    assert all(f["metadata"]["target"]["css_path"] == "#name" for f in fills)


def test_a_page_with_a_faked_clock_still_has_its_elements_state_after_recorded(server: str, db_path: Path,  # type: ignore[no-untyped-def]
                                                                               run_async) -> None:
    """Where an element is looked at in the page's own world (a page that used locators
    before record() began), the document's mark read there is the page's to fake:
    Playwright's page.clock replaces `performance`, and the state after each action was
    dropped as read in another document (world.js stateAt). A review found it."""
    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> int:
        async with async_playwright() as playwright:  # a Playwright of its own: the engine is not registered yet
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            await page.clock.install()
            await page.goto(server + "/app.html")
            assert await page.locator("#hover-target").count() == 1  # Playwright's scripts set up in this document
            async with record(page, db=db_path) as page:
                await page.hover("#hover-target")
            await browser.close()
            return int(page.recording.id)

    timeline, _, store = stored(db_path, run_async(scenario()))
    store.close()
    hover = next(a for a in timeline if a["type"] == "hover")
    assert hover["metadata"]["target_after"] == {"text": "hovered"}


def test_an_image_the_server_refused_is_not_kept_as_if_it_were_one(page, server: str, db_path: Path,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    """The body of a 404 answer to an <img> was kept as the image (so the trace export listed
    it as answered 200 beside the real 404, a hunt found); now it is noted as skipped, and the
    snapshot shows it missing, as the page did."""
    from recorder.exchange import export_trace

    with record(page, db=db_path) as page:
        page.goto(server + "/events/popup.html")
        page.click("#in-popup")
    _, resources, store = stored(db_path, page.recording.id)
    try:
        assert server + "/events/popup.css" in resources and server + "/events/missing.png" not in resources
        recording = store.get(page.recording.id)
        assert {"url": server + "/events/missing.png", "reason": "the server answered 404"} in \
            recording.metadata["resources_skipped"]
        export_trace(recording, tmp_path / "trace.zip")
    finally:
        store.close()
    with zipfile.ZipFile(tmp_path / "trace.zip") as archive:
        network = [json.loads(line)["snapshot"] for line in archive.read("trace.network").splitlines()]
    assert [e["response"]["status"] for e in network if e["request"]["url"].endswith("/missing.png")] == [404]


def test_deleting_a_recording_keeps_the_resources_another_one_uses(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for _ in range(2):
        with record(page, db=db_path) as page:
            page.goto(server + "/styled/index.html")
        ids.append(page.recording.id)
    with RecordingStore(db_path) as store:
        keys = {info["key"] for info in store.get(ids[1]).resources().values()}
        store.delete(ids[0])
        for key in keys:  # the other recording's resources are all still there
            assert store.blob(key)
        store.delete(ids[1])
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM resources").fetchone()[0] == 0
        left = conn.execute(f"SELECT count(*) FROM blobs WHERE key IN ({','.join('?' * len(keys))})", list(keys)).fetchone()[0]
    assert left == 0  # nobody uses them any more: freed with the last recording


def test_vacuum_keeps_the_resources_recordings_use(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    with record(page, db=db_path) as page:
        page.goto(server + "/styled/index.html")
    with RecordingStore(db_path) as store:
        resources = store.get(page.recording.id).resources()
        store.vacuum()
        assert {url: store.blob(info["key"]) for url, info in resources.items()}  # every one still readable
        assert store.get(page.recording.id).resources() == resources


def test_a_field_in_a_frame_of_another_origin_is_kept_out_when_anything_is_redacted(  # type: ignore[no-untyped-def]
        page, server: str, second_origin: str, db_path: Path) -> None:
    """What redact selectors mean cannot be checked from the page around a frame of another
    origin; a value a person typed there (never through Playwright, so never known to be a
    secret) was stored in the frame's snapshot."""
    other = second_origin + "/structure/frame-child.html"
    with record(page, db=db_path, redact=["#ssn"]) as page:
        page.goto(f"{server}/structure/index.html?other={other}")
        frame = next(f for f in page.frames if f.url == other)
        frame.evaluate("document.getElementById('card-number').value = '4000056655665556'")  # not recorded
        page.click("#scroll")
    timeline, _, store = stored(db_path, page.recording.id)
    last = dom(store, timeline[-1])
    store.close()
    assert "Inside the frame" in html.unescape(last)  # the frame's document is there ...
    assert "4000056655665556" not in last  # ... without the value


AHEAD_PAGE = """<!DOCTYPE html><html><body>
<input id="f0"><input id="f1"><input id="f2"><input id="f3">
<input id="pw" type="password"><button id="show" onclick="echo.textContent = 'You typed ' + pw.value">Show</button>
<div id="echo"></div><input id="f4">
</body></html>"""
AHEAD_SECRET = "ahead-Secret-77"


def ahead_steps() -> list[tuple[str, str, str | None]]:
    """(method, selector, value) of the session: fields one by one, a password, its echo."""
    return [("fill", f"#f{i}", f"alpha-{i}") for i in range(4)] + [
        ("fill", "#pw", AHEAD_SECRET), ("click", "#show", None), ("fill", "#f4", "alpha-4")]


def check_snapshots_asked_ahead(db_path: Path, recording_id: int, queued: list[int]) -> None:
    # Right after each action returned, its snapshot was asked for and not yet used.
    assert queued == [1] * len(queued)
    timeline, _, store = stored(db_path, recording_id)
    try:
        doms = [dom(store, action) for action in timeline]
        for k, text in enumerate(doms):  # each is its own action's page, patches used in order
            for i in range(5):
                assert (f'value="alpha-{i}"' in text) == (i < 4 and i <= k or i == 4 and k == 6), (k, i)
        assert AHEAD_SECRET not in "".join(doms)
        assert "You typed [redacted]" in doms[5]  # the echo, scrubbed when the answer was used
    finally:
        store.close()


def test_snapshots_asked_ahead_are_used_in_order_whole_and_scrubbed(page, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An action's DOM snapshot is asked for as it ends and used later (the page renders
    meanwhile): each must still be that action's page, a patch of the one before, scrubbed."""
    page.set_content(AHEAD_PAGE)
    queued = []
    with record(page, db=db_path) as page:
        capture = page.__dict__["_recorder_capture"]
        for method, selector, value in ahead_steps():
            locator = page.locator(selector)
            locator.fill(value) if method == "fill" else locator.click()
            if selector != "#f0":  # (the first makes recorder's world in the page, and waits)
                queued.append(len(capture.asked))
    check_snapshots_asked_ahead(db_path, page.recording.id, queued)


def test_snapshots_asked_ahead_with_the_async_api(db_path: Path, run_async) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> tuple[int, list[int]]:
        queued = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            await page.set_content(AHEAD_PAGE)
            async with record(page, db=db_path) as page:
                capture = page.__dict__["_recorder_capture"]
                for method, selector, value in ahead_steps():
                    locator = page.locator(selector)
                    await (locator.fill(value) if method == "fill" else locator.click())
                    if selector != "#f0":
                        queued.append(len(capture.asked))
            await browser.close()
            return page.recording.id, queued

    check_snapshots_asked_ahead(db_path, *run_async(scenario()))

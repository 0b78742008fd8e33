"""The viewer, opened in a real browser: a self-contained file and the local server."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Frame, Page, expect
from click.testing import CliRunner

from recorder import RecordingStore, record
from recorder.cli import main
from recorder.viewer import recording_data, render, serve_in_thread
from tests.conftest import PageSite
from tests.test_tiles import jpeg

ARTIFACTS = Path(__file__).parent.parent / "test-results"
PAGES = Path(__file__).parent / "pages"
# A function, not an expression: Playwright polls expressions with eval(), which the
# viewer's Content-Security-Policy (rightly) forbids.
IMAGE_LOADED = "(id) => { const image = document.getElementById(id); return !!image && image.src !== '' && image.complete; }"
HOSTILE_VALUE = '</script><b id="injected">bold</b><script>parent.__pwned_by_value = 1</script>'
PAYLOAD_TEXT = '<script>window.__pwned_by_text = 1</script><img src=x onerror="window.__pwned_by_text = 1">'
PWNED = "Object.keys(window).filter((k) => k.startsWith('__pwned'))"
# Chromium reports a Content-Security-Policy violation on the console: "Refused to load ...",
# "Applying inline style violates the following Content Security Policy directive ...".
VIOLATION = re.compile(r"Refused to|Content Security Policy", re.IGNORECASE)


def violations(viewer: Page) -> list[str]:
    """The policy violations the page (and its frames) will report, as they come."""
    found: list[str] = []
    viewer.on("console", lambda message: found.append(message.text) if VIOLATION.search(message.text) else None)
    return found


def watched_viewer(context: Any) -> tuple[Page, list[str], list[Any], list[str]]:
    """A page for the served viewer (1400 x 900) and, as they come, the URLs it asks for, the
    responses it gets and the policy violations it reports."""
    viewer = context.new_page()
    viewer.set_viewport_size({"width": 1400, "height": 900})
    requests: list[str] = []
    responses: list[Any] = []
    viewer.on("request", lambda request: requests.append(request.url))
    viewer.on("response", lambda response: responses.append(response))
    return viewer, requests, responses, violations(viewer)


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [its sources]}."""
    return {name: sources for name, *sources in (part.split() for part in policy.split(";") if part.strip())}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def assert_every_response_has_a_policy(responses: list[Any], base: str) -> None:
    """Each of the server's responses carries a Content-Security-Policy header; its pages',
    one that allows no inline script or style but by hash."""
    mine = [r for r in responses if r.url.startswith(base + "/")]
    assert mine
    for response in mine:
        policy = response.headers.get("content-security-policy")
        assert policy, (response.url, response.status)
        assert "unsafe" not in policy, response.url
        parts = directives(policy)
        assert parts.get("default-src") == ["'none'"] and parts.get("frame-ancestors") == ["'none'"], response.url
        for name in ("script-src", "style-src"):
            assert all(not source.startswith("'") or source.startswith("'sha256-") for source in parts.get(name, [])), policy


@pytest.fixture
def recording_id(page, server: str, db_path: Path) -> int:  # type: ignore[no-untyped-def]
    with record(page, db=db_path, name="viewer <b>test</b>") as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("Typed for the viewer")
        page.get_by_role("button", name="Hover me").hover()
        try:
            page.click("#missing", timeout=300)
        except Exception:
            pass
        page.locator("#notes").fill("last step")
    return page.recording.id


def write_viewer(db_path: Path, recording_id: int, tmp_path: Path) -> Path:
    with RecordingStore(db_path) as store:
        html = render(store, store.get(recording_id))
    path = tmp_path / "viewer.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_timeline_lists_every_action_in_order(recording_id: int, db_path: Path, tmp_path: Path, context) -> None:  # type: ignore[no-untyped-def]
    viewer = context.new_page()
    viewer.goto(write_viewer(db_path, recording_id, tmp_path).as_uri())
    sequences = viewer.locator("#timeline .row .seq").all_inner_texts()
    assert sequences == ["1", "2", "3", "4", "5"]
    assert viewer.locator("#name").inner_text().startswith("viewer <b>test</b>")  # as text, not markup
    failed = viewer.locator("#timeline .row.error")
    assert failed.count() == 1 and "Timeout 300ms exceeded" in failed.inner_text()


def test_stepping_with_the_keyboard_changes_the_screenshot(recording_id: int, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          context) -> None:
    with RecordingStore(db_path) as store:
        keys = [a["screenshot_key"] for a in store.get(recording_id).timeline()]
    viewer = context.new_page()
    viewer.set_viewport_size({"width": 1400, "height": 900})
    viewer.goto(write_viewer(db_path, recording_id, tmp_path).as_uri())
    shots = {}
    for key, sequence in (("Home", "1"), ("ArrowRight", "2"), ("End", "5")):
        viewer.keyboard.press(key)
        assert viewer.locator(".row.selected .seq").inner_text() == sequence
        shots[sequence] = viewer.locator("#shot").get_attribute("src")
    # Each step shows its own action's screenshot; the first (a page load) and the last
    # (the final capture, after everything was typed) certainly differ.
    assert (shots["1"] == shots["2"]) == (keys[0] == keys[1])
    assert shots["1"] != shots["5"]
    viewer.keyboard.press("ArrowLeft")
    assert viewer.locator(".row.selected .seq").inner_text() == "4"
    viewer.keyboard.press("Home")
    viewer.keyboard.press("ArrowRight")
    viewer.wait_for_function(IMAGE_LOADED, arg="shot")  # even data: URIs decode asynchronously
    assert viewer.evaluate("document.getElementById('shot').naturalWidth") > 0
    expect(viewer.locator("#box")).to_be_visible()  # the filled field's box, drawn once the image has loaded
    ARTIFACTS.mkdir(exist_ok=True)
    viewer.screenshot(path=ARTIFACTS / "viewer.png")


def test_a_screenshot_from_before_its_action_is_flagged(db_path: Path, tmp_path: Path, context) -> None:  # type: ignore[no-untyped-def]
    with RecordingStore(db_path) as store:
        recording = store.start(name="late paint")
        recording.record_action("navigate", url="http://example.test/", screenshot=jpeg("loaded"))
        sequence, started_ms = recording.reserve_sequence()
        recording.record_action("type", selector="#name", value="x", sequence=sequence, timestamp_ms=started_ms)
        recording.attach_screenshot(sequence, jpeg("loaded"), timing="before_action")
        recording.complete()
    viewer = context.new_page()
    viewer.goto(write_viewer(db_path, recording.id, tmp_path).as_uri())
    viewer.keyboard.press("Home")
    expect(viewer.locator("#shot-late")).to_be_hidden()
    viewer.keyboard.press("End")
    expect(viewer.locator("#shot-late")).to_be_visible()
    expect(viewer.locator("#shot-late")).to_contain_text("painted before the action ran")
    viewer.keyboard.press("d")  # the DOM view has no screenshot to warn about
    expect(viewer.locator("#shot-late")).to_be_hidden()


def test_dom_view_shows_the_typed_text(recording_id: int, db_path: Path, tmp_path: Path, context) -> None:  # type: ignore[no-untyped-def]
    viewer = context.new_page()
    viewer.goto(write_viewer(db_path, recording_id, tmp_path).as_uri())
    viewer.keyboard.press("Home")
    viewer.keyboard.press("ArrowRight")
    viewer.get_by_role("button", name="DOM").click()
    field = viewer.frame_locator("#dom").locator("#name")
    assert field.get_attribute("value") == "Typed for the viewer"


def test_hostile_recorded_content_never_runs_in_the_viewer(page, server: str, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                           context) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/hostile.html")
        page.get_by_label("Comment").fill(HOSTILE_VALUE)
    with RecordingStore(db_path) as store:
        url, server = serve_in_thread(store)
        try:
            for address in (write_viewer(db_path, page.recording.id, tmp_path).as_uri(), f"{url}/recording/{page.recording.id}"):
                viewer = context.new_page()
                refused = violations(viewer)
                viewer.goto(address)
                viewer.get_by_role("button", name="DOM").click()
                viewer.keyboard.press("End")
                viewer.wait_for_function(DOM_SETTLED)
                shown = viewer.frame_locator("#dom")
                expect(shown.locator("#payload")).to_have_text(PAYLOAD_TEXT)  # the page's text, shown as text
                assert shown.locator("#payload *").count() == 0
                shown.locator("h1").click()
                viewer.wait_for_timeout(300)
                assert viewer.evaluate(PWNED) == []
                for frame in viewer.frames:
                    assert frame.evaluate(PWNED) == []
                assert viewer.locator("#injected").count() == 0
                assert HOSTILE_VALUE in viewer.locator(".row.selected").inner_text()
                # Nothing even tried: the scripts and handlers were gone before the snapshot was shown.
                assert refused == []
                viewer.close()
        finally:
            server.shutdown()
            server.server_close()


def test_server_lists_recordings_and_serves_only_its_own_blobs(recording_id: int, db_path: Path, context) -> None:  # type: ignore[no-untyped-def]
    with RecordingStore(db_path) as store:
        key = store.get(recording_id).timeline()[1]["screenshot_key"]
        url, server = serve_in_thread(store)
        try:
            listing = context.new_page()
            listing.goto(url + "/?status=completed")
            listing.get_by_role("link", name="viewer <b>test</b>").click()
            listing.wait_for_selector("#timeline .row")
            assert listing.locator("#timeline .row").count() == 5
            # Served blobs load asynchronously: wait for the image rather than race it.
            listing.wait_for_function(IMAGE_LOADED, arg="shot")
            assert listing.evaluate("document.getElementById('shot').naturalWidth") > 0
            with urllib.request.urlopen(f"{url}/blob/{key}") as response:
                assert response.headers["Content-Type"] == "image/jpeg" and response.read()[:3] == b"\xff\xd8\xff"
            for bad in ("0" * 64, "../recordings.db", "%2e%2e%2frecordings.db", "tile:abc"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(f"{url}/blob/{bad}")
                assert refused.value.code == 404
            assert server.server_address[0] == "127.0.0.1"
        finally:
            server.shutdown()
            server.server_close()


def test_cli_view_writes_a_file_and_reports_unknown_ids(recording_id: int, db_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.html"
    result = CliRunner().invoke(main, ["view", str(recording_id), "--db", str(db_path), "-o", str(target), "--no-open"])
    assert result.exit_code == 0 and result.stdout.strip() == str(target.resolve())
    assert "data:image/jpeg;base64," in target.read_text()
    result = CliRunner().invoke(main, ["view", "99", "--db", str(db_path), "--no-open", "-o", str(target)])
    assert result.exit_code == 1 and "no recording with id 99" in result.stderr


def test_cli_view_of_an_empty_database_says_so(db_path: Path) -> None:
    RecordingStore(db_path).close()
    result = CliRunner().invoke(main, ["view", "--db", str(db_path), "--no-open"])
    assert result.exit_code == 1 and "no recordings in" in result.stderr


def test_only_errors_and_max_actions_trim_the_page(recording_id: int, db_path: Path, tmp_path: Path, context) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "errors.html"
    CliRunner().invoke(main, ["view", str(recording_id), "--db", str(db_path), "-o", str(target), "--no-open",
                              "--only-errors"])
    viewer = context.new_page()
    viewer.goto(target.as_uri())
    assert viewer.locator("#timeline .row").count() == 1
    assert "showing 1" in viewer.locator("#meta").inner_text()


def test_placeholder_text_in_a_recording_stays_text(db_path: Path, tmp_path: Path, context) -> None:  # type: ignore[no-untyped-def]
    """The page was filled by chained replace(): a value containing __SCRIPT__ received the
    viewer's script inside its JSON, and the viewer showed nothing."""
    with RecordingStore(db_path) as store:
        recording = store.start(name="name with __DATA__ in it")
        recording.record_action("type", selector="#q", value="typed __SCRIPT__ and __TITLE__")
        recording.complete()
        path = tmp_path / "v.html"
        path.write_text(render(store, store.get(recording.id)), encoding="utf-8")
    viewer = context.new_page()
    viewer.goto(path.as_uri())
    assert viewer.locator("#name").inner_text().startswith("name with __DATA__ in it")
    assert "typed __SCRIPT__ and __TITLE__" in viewer.locator("#timeline .row").inner_text()


def test_the_server_answers_only_to_its_own_host_names(recording_id: int, db_path: Path) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away."""
    with RecordingStore(db_path) as store:
        url, server = serve_in_thread(store)
        try:
            with urllib.request.urlopen(url + "/") as response:
                assert response.status == 200
            rebound = urllib.request.Request(url + "/", headers={"Host": "evil.example:" + url.rsplit(":", 1)[1]})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(rebound)
            assert refused.value.code == 403
            assert "default-src 'none'" in refused.value.headers["Content-Security-Policy"]  # refusals too
        finally:
            server.shutdown()
            server.server_close()


# -- the DOM view: snapshots styled with the recorded resources, offline -------------------

Site = PageSite  # tests/pages on a server of the test's own, which it stops


@pytest.fixture
def site() -> Iterator[Site]:
    own = Site()
    yield own
    own.stop()


# The frame is shown, and has settled (scroll positions put back, fonts loaded), for the
# selected action.
DOM_SETTLED = """() => {
  const frame = document.getElementById('dom'), row = document.querySelector('.row.selected');
  return !!row && !!frame.dataset.settled && frame.dataset.settled.endsWith(':' + row.dataset.index);
}"""
RECTS = """() => Object.fromEntries(['header', 'h1', '.card', '.from-cssom', '#logo', '#name'].map((selector) => {
  const r = document.querySelector(selector).getBoundingClientRect();
  return [selector, [r.x, r.y, r.width, r.height]];
}))"""
HEADER_BLUE, CARD_BORDER, CSSOM_ORANGE = (20, 60, 160), (200, 40, 120), (255, 120, 0)
TILE_LIGHT, TILE_DARK = (250, 230, 120), (240, 200, 60)  # tests/pages/styled/tile.png


def show_dom(viewer: Page, *keys: str) -> Frame:
    """Press ``keys``, switch to the DOM view, and return the shown snapshot's frame once settled."""
    for key in keys:
        viewer.keyboard.press(key)
    if not viewer.locator("#show-dom.on").count():
        viewer.keyboard.press("d")
    viewer.wait_for_function(DOM_SETTLED)
    frame = viewer.locator("#dom").element_handle().content_frame()
    assert frame is not None
    return frame


def near(colour: Any, expected: tuple[int, int, int], tolerance: int = 24) -> bool:
    return max(abs(a - b) for a, b in zip(colour[:3], expected)) <= tolerance


def near_somewhere(image: Image.Image, x: float, y: float, expected: tuple[int, int, int], radius: int = 2) -> bool:
    """Some pixel within ``radius`` of (x, y) has the colour: a scaled 4px border is 2.7px wide."""
    def at(dx: int, dy: int) -> Any:
        return image.getpixel((min(image.width - 1, max(0, round(x) + dx)), min(image.height - 1, max(0, round(y) + dy))))

    return any(near(at(dx, dy), expected) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1))


def tones(image: Image.Image, box: tuple[float, float, float, float]) -> set[tuple[int, int, int]]:
    patch = image.crop(tuple(round(v) for v in box))  # type: ignore[arg-type]
    return {colour[:3] for _, colour in patch.getcolors(patch.width * patch.height) or []}


@pytest.fixture(scope="module")
def styled(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """tests/pages/styled recorded (external CSS, @import, a web font, a tiled background,
    srcset, CSSOM and adopted rules), the live page's screenshot and layout after the last
    action, and the site stopped."""
    db_path = tmp_path_factory.mktemp("styled") / "recordings.db"
    own = Site()
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        with record(context.new_page(), db=db_path) as page:
            page.goto(own.url + "/styled/index.html")
            page.get_by_placeholder("your name").fill("Ada")
            page.get_by_role("button", name="Save").click()
        page.evaluate("document.fonts.ready")
        live = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
        rects = page.evaluate(RECTS)
    finally:
        context.close()
        own.stop()
    with RecordingStore(db_path) as store:
        resources = store.get(page.recording.id).resources()
    assert {url.rsplit("/", 1)[1] for url in resources} >= {"app.css", "theme.css", "deco.woff", "tile.png", "logo-1x.png"}
    yield {"db": db_path, "id": page.recording.id, "live": live, "rects": rects, "site": own.url,
           "resources": resources}


def looks_like_the_live_page(viewer: Page, frame: Frame, styled: dict[str, Any]) -> None:
    """The shown snapshot has the live page's layout and, scaled, its colours."""
    # Laid out at the recorded viewport size: the very layout of the live page.
    assert frame.evaluate("[innerWidth, innerHeight, document.compatMode]") == [1280, 720, "CSS1Compat"]
    shown_rects = frame.evaluate(RECTS)
    for selector, rect in styled["rects"].items():
        assert shown_rects[selector] == pytest.approx(rect, abs=1), selector
    fonts = frame.evaluate("() => Array.from(document.fonts, (f) => f.family.replace(/\\W/g, '') + ':' + f.status)")
    assert "Deco:loaded" in fonts
    # Scaled to fit the pane.
    wrap = viewer.locator("#dom-wrap").bounding_box()
    assert wrap is not None
    scale = wrap["width"] / 1280
    assert 0.3 < scale < 1 and wrap["height"] == pytest.approx(720 * scale, abs=1)
    assert viewer.locator("#dom-info").inner_text() == f"1280\u00d7720 at {round(scale * 100)}%"
    shown = Image.open(io.BytesIO(viewer.locator("#dom-wrap").screenshot())).convert("RGB")
    live, rects = styled["live"], styled["rects"]
    header, card, orange = rects["header"], rects[".card"], rects[".from-cssom"]
    points = {
        "header background": (header[0] + header[2] * 0.8, header[1] + header[3] / 2, HEADER_BLUE),
        "card's left border": (card[0] + 2, card[1] + card[3] / 2, CARD_BORDER),
        "card's bottom border": (card[0] + card[2] / 2, card[1] + card[3] - 2, CARD_BORDER),
        "CSSOM paragraph": (orange[0] + orange[2] * 0.9, orange[1] + orange[3] / 2, CSSOM_ORANGE),
    }
    for name, (x, y, colour) in points.items():
        assert near(live.getpixel((round(x), round(y))), colour), name  # the reference
        assert near_somewhere(shown, x * scale, y * scale, colour), name
    # The tiled background, right of the card: both yellow tones of the tile.
    patch = (900, 400, 1000, 500)
    for image, factor in ((live, 1.0), (shown, scale)):
        found = tones(image, tuple(v * factor for v in patch))  # type: ignore[arg-type]
        assert any(near(c, TILE_LIGHT) for c in found) and any(near(c, TILE_DARK) for c in found)


def test_dom_view_shows_the_snapshot_styled_offline_as_the_page_looked(styled: dict[str, Any], tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      context) -> None:
    viewer = context.new_page()
    refused = violations(viewer)
    viewer.set_viewport_size({"width": 1400, "height": 900})
    viewer.goto(write_viewer(styled["db"], styled["id"], tmp_path).as_uri())
    frame = show_dom(viewer, "End")
    looks_like_the_live_page(viewer, frame, styled)
    # Styled as the page was, with no inline style: the policy refused nothing.
    assert refused == []
    assert frame.evaluate("document.querySelectorAll('style, [data-recorder-style]').length") == 0
    viewer.screenshot(path=ARTIFACTS / "viewer-dom.png")
    # The keys still step and toggle, also with the focus inside the snapshot.
    frame.click("h1")
    viewer.keyboard.press("Home")
    expect(viewer.locator(".row.selected .seq")).to_have_text("1")
    frame = show_dom(viewer)
    assert frame.locator("#name").get_attribute("value") == ""
    viewer.keyboard.press("d")
    expect(viewer.locator("#shot-wrap")).to_be_visible()
    expect(viewer.locator("#dom-wrap")).to_be_hidden()


def test_dom_view_requests_nothing_but_data_and_blob_urls(styled: dict[str, Any], tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    # Without the Content-Security-Policy (bypass_csp): what the snapshot names is all there is.
    context = browser.new_context(bypass_csp=True)
    try:
        viewer = context.new_page()
        requests: list[str] = []
        viewer.on("request", lambda request: requests.append(request.url))
        url = write_viewer(styled["db"], styled["id"], tmp_path).as_uri()
        viewer.goto(url)
        for key in ("Home", "ArrowRight", "ArrowRight"):
            show_dom(viewer, key)
        viewer.wait_for_timeout(200)
        assert any(request.startswith("blob:") for request in requests)  # the resources were used
        assert [r for r in requests if not (r == url or r.startswith(("data:", "blob:")))] == []
    finally:
        context.close()


def test_the_file_embeds_each_resource_once(styled: dict[str, Any], tmp_path: Path) -> None:
    html = write_viewer(styled["db"], styled["id"], tmp_path).read_text()
    with RecordingStore(styled["db"]) as store:
        for info in styled["resources"].values():
            assert html.count(base64.b64encode(store.blob(info["key"])).decode()) == 1


def test_served_dom_view_shows_the_same_and_asks_only_the_server(styled: dict[str, Any], context) -> None:  # type: ignore[no-untyped-def]
    with RecordingStore(styled["db"]) as store:
        url, server = serve_in_thread(store)
        try:
            viewer, requests, responses, refused = watched_viewer(context)
            response = viewer.goto(f"{url}/recording/{styled['id']}")
            assert response is not None and "frame-src 'none'" in response.headers["content-security-policy"]
            frame = show_dom(viewer, "End")
            looks_like_the_live_page(viewer, frame, styled)
            assert refused == []
            assert any("/resource/" in request for request in requests)
            assert [r for r in requests if not r.startswith((url + "/", "data:", "blob:"))] == []
            # Every response has its policy: the list, the page, screenshots and snapshots
            # (/blob/), resources, and what is not there.
            for address in ("/", "/nothing/here", f"/blob/{'0' * 64}", "/recording/999",
                            f"/recording/{styled['id']}/resource/{'0' * 64}"):
                viewer.goto(url + address)
            kinds = {(r.status, r.url.split("/")[3] if r.url.count("/") > 3 else "") for r in responses}
            assert {(200, ""), (200, "recording"), (200, "blob"), (404, "nothing"), (404, "blob"), (404, "recording")} <= kinds
            assert any("/resource/" in r.url and r.status == 200 for r in responses)
            assert_every_response_has_a_policy(responses, url)
        finally:
            server.shutdown()
            server.server_close()


def test_server_serves_a_recordings_own_resources_only(styled: dict[str, Any]) -> None:
    with RecordingStore(styled["db"]) as store:
        other = store.start(name="another")
        other_key = other.record_resource("http://elsewhere.test/other.css", b".other { color: red }", "text/css")
        other.complete()
        store.flush()
        css = next(info for url, info in styled["resources"].items() if url.endswith("/app.css"))
        url, server = serve_in_thread(store)
        try:
            with urllib.request.urlopen(f"{url}/recording/{styled['id']}/resource/{css['key']}") as response:
                assert response.headers["Content-Type"] == "text/css; charset=utf-8"
                assert "sandbox" in response.headers["Content-Security-Policy"]  # opened alone, inert
                assert b"rgb(200, 40, 120)" in response.read()
            with urllib.request.urlopen(f"{url}/recording/{other.id}/resource/{other_key}") as response:
                assert response.read() == b".other { color: red }"
            for bad in (f"{styled['id']}/resource/{other_key}", f"{other.id}/resource/{css['key']}",
                        f"{styled['id']}/resource/{'0' * 64}", f"{styled['id']}/resource/..%2frecordings.db",
                        f"999/resource/{css['key']}"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(f"{url}/recording/{bad}")
                assert refused.value.code == 404
        finally:
            server.shutdown()
            server.server_close()


def test_the_file_viewer_allows_its_own_script_and_style_by_hash_only(recording_id: int, db_path: Path,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    html = write_viewer(db_path, recording_id, tmp_path).read_text(encoding="utf-8")
    policy = directives(re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html).group(1))
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)  # the data is <script type="application/json">
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(scripts) == 1 and len(styles) == 1
    assert policy["script-src"] == [sha256_source(scripts[0])]
    assert policy["style-src"] == [sha256_source(styles[0]), "data:", "blob:"]
    assert policy["default-src"] == ["'none'"] and not any("unsafe" in s for v in policy.values() for s in v)
    # The served page sends the same policy as a header (and frame-ancestors, which a <meta> cannot).
    with RecordingStore(db_path) as store:
        url, server = serve_in_thread(store)
        try:
            with urllib.request.urlopen(f"{url}/recording/{recording_id}") as response:
                served = directives(response.headers["Content-Security-Policy"])
            assert served == {**policy, "frame-ancestors": ["'none'"]}
        finally:
            server.shutdown()
            server.server_close()
    # No event handler attributes in the viewer's own markup: they would need 'unsafe-inline'.
    assets = Path(__file__).parent.parent / "recorder" / "viewer" / "assets"
    for name in ("page.html", "index.html"):
        assert not re.search(r"<[^>]*\son\w+\s*=", (assets / name).read_text()), name
    assert not re.search(r"\.on(click|change|input|keydown|submit)\s*=", (assets / "viewer.js").read_text())


def test_the_viewer_works_under_its_policy_compare_and_dom_view_included(db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                        context) -> None:
    snapshot = ('<!DOCTYPE html><html><head><style>p { color: rgb(0, 0, 200) } p > b { color: red }</style></head>'
                '<body><p id="p" style="font-weight: 700; background: url(data:,)">styled <b>bold</b></p>'
                '<svg><style>circle { fill: rgb(0, 128, 0) }</style><circle id="c" r="4"/></svg></body></html>')
    with RecordingStore(db_path) as store:
        original = store.start(name="original")
        for name in ("a", "b"):
            original.record_action("click", selector=f"#{name}", screenshot=jpeg(name), dom_snapshot=snapshot)
        original.complete()
        replay = store.start(name="replay", metadata={"replay_of": original.id})
        for name in ("a", "b"):
            replay.record_action("click", selector=f"#{name}", screenshot=jpeg(name + "!"), dom_snapshot=snapshot)
        replay.complete()
    viewer = context.new_page()
    refused = violations(viewer)
    viewer.goto(write_viewer(db_path, replay.id, tmp_path).as_uri())
    viewer.get_by_role("button", name="Compare with original").click()
    expect(viewer.locator("#view")).to_have_class(re.compile(r"\bcompare\b"))
    expect(viewer.locator("#original-caption")).to_contain_text(f"original: recording {original.id} #1")
    viewer.get_by_role("button", name="\u25b6", exact=True).click()  # next
    expect(viewer.locator(".row.selected .seq")).to_have_text("2")
    viewer.wait_for_function(IMAGE_LOADED, arg="original-shot")
    frame = show_dom(viewer)
    # The snapshot's <style>s and style attribute apply, none of them inline.
    assert frame.evaluate("getComputedStyle(document.getElementById('p')).color") == "rgb(0, 0, 200)"
    assert frame.evaluate("getComputedStyle(document.querySelector('b')).color") == "rgb(255, 0, 0)"
    assert frame.evaluate("getComputedStyle(document.getElementById('p')).fontWeight") == "700"
    assert frame.evaluate("getComputedStyle(document.getElementById('c')).fill") == "rgb(0, 128, 0)"
    assert frame.evaluate("document.querySelectorAll('style, [data-recorder-style]').length") == 0
    viewer.get_by_role("button", name="Screenshot").click()
    viewer.keyboard.press("Home")
    expect(viewer.locator(".row.selected .seq")).to_have_text("1")
    viewer.wait_for_timeout(200)
    assert refused == []


def test_dom_view_puts_back_scroll_positions_frames_and_shadow_roots(page, site: Site, db_path: Path,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path, context) -> None:
    with record(page, db=db_path) as page:
        page.goto(site.url + "/viewer/nested.html")
        page.evaluate("() => { window.scrollTo(0, 300); document.getElementById('scroller').scrollTop = 100; }")
        page.locator("#fixed").click()  # position: fixed, so the click scrolls nothing
    site.stop()
    viewer = context.new_page()
    viewer.set_viewport_size({"width": 1400, "height": 900})
    viewer.goto(write_viewer(db_path, page.recording.id, tmp_path).as_uri())
    frame = show_dom(viewer, "Home")
    # A stylesheet inside a shadow root and one inside a same-origin frame, both kept.
    assert frame.evaluate("getComputedStyle(document.getElementById('host').shadowRoot.querySelector('.in-shadow'))"
                          ".backgroundColor") == "rgb(0, 160, 80)"
    inner = frame.child_frames[0]
    assert inner.evaluate("getComputedStyle(document.querySelector('.in-frame')).backgroundColor") == "rgb(90, 20, 140)"
    assert inner.evaluate("document.querySelector('img').naturalWidth") == 120
    assert frame.evaluate("[scrollY, document.getElementById('scroller').scrollTop]") == [0, 0]
    frame = show_dom(viewer, "End")
    assert frame.evaluate("[scrollY, document.getElementById('scroller').scrollTop]") == [300, 100]
    # Seen as the page was: the scroller shows its red rows scrolled off but for 20px.
    box = frame.evaluate("(() => { const r = document.getElementById('scroller').getBoundingClientRect();"
                         " return [r.x, r.y]; })()")
    shown = Image.open(io.BytesIO(viewer.locator("#dom-wrap").screenshot())).convert("RGB")
    scale = shown.width / 1280
    assert near_somewhere(shown, (box[0] + 100) * scale, (box[1] + 12) * scale, (230, 30, 30))
    assert near_somewhere(shown, (box[0] + 100) * scale, (box[1] + 60) * scale, (30, 160, 220))


def snapshot_naming_every_kind_of_url(site: str) -> str:
    frame = (f'<!DOCTYPE html><html data-recorder-url="{site}/frame.html"><head></head><body>'
             f'<img id="in-frame" src="{site}/styled/logo-1x.png" width="120" height="60"></body></html>')
    foreign = ('<!DOCTYPE html><html data-recorder-url="http://localhost:9/other.html"><head></head><body>'
               f'<img id="in-foreign" src="{site}/styled/tile.png"><img id="not-kept" src="http://localhost:9/x.png">'
               '</body></html>')
    return f"""<!DOCTYPE html><html data-recorder-url="{site}/page.html"><head>
<link rel="stylesheet" href="{site}/kept.css" integrity="sha256-AAAA">
<link rel="icon" href="{site}/missing.ico">
<meta http-equiv="refresh" content="0; url={site}/refreshed">
<style>@import "{site}/missing.css"; .bg {{ background-image: url("{site}/styled/tile.png"); }}
.gone {{ background: url({site}/missing.png); }} .local {{ fill: url("{site}/page.html#gradient"); }}</style>
</head><body>
<div id="bg" class="bg" style="width: 64px; height: 64px"></div><div id="gone-bg" class="gone"></div>
<div id="styled" style="background-image: url('{site}/styled/tile.png'); width: 10px; height: 10px"></div>
<img id="set" srcset="{site}/missing-2x.png 2x, {site}/styled/logo-1x.png 1x" width="120" height="60">
<img id="gone" src="{site}/missing.png" alt="gone">
<video id="video" poster="{site}/styled/logo-1x.png" src="{site}/missing.mp4"></video>
<svg width="10" height="10"><use id="use" href="{site}/page.html#shape"/><image id="svg-image" href="{site}/missing.svg"/>
<use id="sprite" href="{site}/sprite.svg#icon"/></svg>
<p class="kept">kept</p>
<a id="away" href="{site}/elsewhere">away</a>
<iframe id="unrecorded" src="{site}/cross.html" data-recorder-frame="cross-origin"></iframe>
<iframe id="foreign" data-recorder-frame="cross-origin" data-recorder-frame-token="t1" srcdoc="{foreign.replace('"', '&quot;')}"></iframe>
<iframe id="same" srcdoc="{frame.replace('"', '&quot;')}" data-recorder-frame="{site}/frame.html"></iframe>
</body></html>"""


def record_handmade(db_path: Path, site: str, *snapshots: str) -> int:
    with RecordingStore(db_path) as store:
        recording = store.start(name="every kind of URL", metadata={"viewport": {"width": 800, "height": 600}})
        # An @import cycle (kept.css <-> more.css) must end, not hang the viewer.
        recording.record_resource(f"{site}/kept.css", f'@import "{site}/more.css"; body {{ margin: 3px; }}'.encode(),
                                  "text/css")
        recording.record_resource(f"{site}/more.css", f'@import "{site}/kept.css"; .kept {{ color: rgb(1, 2, 3); }}'.encode(),
                                  "text/css")
        recording.record_resource(f"{site}/sprite.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><symbol id="icon"/></svg>',
                                  "image/svg+xml")
        for name in ("tile.png", "logo-1x.png"):
            recording.record_resource(f"{site}/styled/{name}", (PAGES / "styled" / name).read_bytes(), "image/png")
        for snapshot in snapshots:
            recording.record_action("click", selector="#away", dom_snapshot=snapshot)
        recording.complete()
        return recording.id


def test_every_url_in_a_snapshot_becomes_a_stored_resource_or_nothing(site: Site, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      browser) -> None:
    recording_id = record_handmade(db_path, site.url, snapshot_naming_every_kind_of_url(site.url))
    # The site stays up and the policy is bypassed: anything the rewrite missed would ask it.
    context = browser.new_context(bypass_csp=True)
    try:
        viewer = context.new_page()
        viewer.goto(write_viewer(db_path, recording_id, tmp_path).as_uri())
        frame = show_dom(viewer, "End")
        assert frame.evaluate("[innerWidth, innerHeight]") == [800, 600]
        for selector in ("#bg", "#styled"):
            assert frame.evaluate(f"getComputedStyle(document.querySelector('{selector}')).backgroundImage").startswith('url("blob:')
        assert frame.evaluate("getComputedStyle(document.getElementById('gone-bg')).backgroundImage") == 'url("data:,")'
        assert frame.evaluate("getComputedStyle(document.querySelector('.kept')).color") == "rgb(1, 2, 3)"
        assert frame.evaluate("getComputedStyle(document.body).marginTop") == "3px"
        assert frame.evaluate("document.getElementById('set').currentSrc").startswith("blob:")
        assert frame.evaluate("document.getElementById('set').naturalWidth") == 120
        assert frame.evaluate("document.getElementById('gone').hasAttribute('src')") is False
        assert frame.evaluate("(v => [v.poster.slice(0, 5), v.src])(document.getElementById('video'))") == ["blob:", ""]
        assert frame.evaluate("document.getElementById('use').getAttribute('href')") == "#shape"
        sprite = frame.evaluate("document.getElementById('sprite').getAttribute('href')")
        assert sprite.startswith("blob:") and sprite.endswith("#icon")
        assert frame.evaluate("document.getElementById('svg-image').hasAttribute('href')") is False
        assert frame.evaluate("document.querySelector('link[integrity], meta[http-equiv=refresh], link[rel=icon][href]')") is None
        # The <style> is a blob: style sheet now (no inline style runs under the policy), its URLs rewritten.
        assert frame.evaluate("document.querySelector('style')") is None
        assert "url(\"#gradient\")" in frame.evaluate(
            "Array.from(document.styleSheets, (s) => Array.from(s.cssRules, (r) => r.cssText).join(' ')).join(' ')")
        policy = frame.evaluate("document.querySelector('meta[http-equiv=Content-Security-Policy]').content")
        assert policy.startswith("default-src 'none'")
        unrecorded, foreign, same = frame.child_frames
        assert "not recorded" in unrecorded.inner_text("body")
        assert foreign.evaluate("[document.getElementById('in-foreign').naturalWidth,"
                                " document.getElementById('not-kept').hasAttribute('src')]") == [32, False]
        assert same.evaluate("document.getElementById('in-frame').naturalWidth") == 120
        frame.click("#away")  # links in a snapshot go nowhere
        viewer.wait_for_timeout(300)
        assert frame.url == "about:srcdoc" and frame.locator("#away").count() == 1
        assert site.hits == []
    finally:
        context.close()


def test_the_policy_stops_what_the_rewrite_does_not_know(site: Site, db_path: Path, tmp_path: Path, context,  # type: ignore[no-untyped-def]
                                                         browser) -> None:
    # image-set() with a bare string: not a URL the rewrite looks for.
    unknown = (f'<!DOCTYPE html><html data-recorder-url="{site.url}/page.html"><head></head><body>'
               f'<div style="width: 50px; height: 50px; background-image: image-set(\'{site.url}/styled/tile.png\' 1x)">'
               '</div></body></html>')
    path = write_viewer(db_path, record_handmade(db_path, site.url, unknown), tmp_path)
    viewer = context.new_page()
    viewer.goto(path.as_uri())
    show_dom(viewer, "End")
    viewer.wait_for_timeout(300)
    assert site.hits == []
    # What the policy stops: without it, the same snapshot asks the site.
    bypassing = browser.new_context(bypass_csp=True)
    try:
        viewer = bypassing.new_page()
        viewer.goto(path.as_uri())
        show_dom(viewer, "End")
        for _ in range(50):  # the image is asked for once the snapshot's style is applied
            if site.hits:
                break
            viewer.wait_for_timeout(100)
        assert site.hits == ["/styled/tile.png"]
    finally:
        bypassing.close()


def test_without_a_recorded_viewport_the_snapshot_takes_the_screenshots_size(db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                             context) -> None:
    with RecordingStore(db_path) as store:  # a page opened with no_viewport records none
        recording = store.start(name="no viewport")
        recording.record_action("click", screenshot=jpeg("shot", size=(640, 400)),
                                dom_snapshot="<!DOCTYPE html><html><body><p id='p'>text</p></body></html>")
        recording.complete()
    viewer = context.new_page()
    viewer.goto(write_viewer(db_path, recording.id, tmp_path).as_uri())
    frame = show_dom(viewer, "End")
    assert frame.evaluate("[innerWidth, innerHeight]") == [640, 400]


def test_a_replayed_step_faces_the_step_it_re_performed_even_through_another_selector(db_path: Path) -> None:
    # Replay re-matches a step whose recorded selector finds nothing any more and records it
    # with the locator it used; the viewer lines the two up as `recorder diff` does.
    with RecordingStore(db_path) as store:
        original = store.start(name="original")
        original.record_action("navigate", url="http://app.test/", value="http://app.test/")
        original.record_action("click", selector="#save-old", screenshot=jpeg("save"))
        original.record_action("type", selector="#name", value="Ada", screenshot=jpeg("name"))
        original.complete()
        replay = store.start(name="replay", metadata={"replay_of": original.id})
        replay.record_action("navigate", url="http://app.test/", value="http://app.test/")
        replay.record_action("click", selector='get_by_role("button", name="Save")', screenshot=jpeg("save!"))
        replay.record_action("type", selector="#name", value="Ada", screenshot=jpeg("name!"))
        replay.complete()
        data = recording_data(store, store.get(replay.id), embed=True)
    faced = [(a["original"] or {}).get("sequence") for a in data["actions"]]
    assert faced == [1, 2, 3]
    clicked = data["actions"][1]["original"]
    assert clicked["selector"] == "#save-old"
    assert clicked["screenshot_key"] in data["screenshots"]  # B's picture travels with the page

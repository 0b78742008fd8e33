"""The viewer, opened in a real browser: a self-contained file and the local server."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect
from click.testing import CliRunner

from recorder import RecordingStore, record
from recorder.cli import main
from recorder.viewer import render, serve_in_thread
from tests.test_tiles import jpeg

ARTIFACTS = Path(__file__).parent.parent / "test-results"
# A function, not an expression: Playwright polls expressions with eval(), which the
# viewer's Content-Security-Policy (rightly) forbids.
IMAGE_LOADED = "(id) => { const image = document.getElementById(id); return !!image && image.src !== '' && image.complete; }"
HOSTILE_VALUE = '</script><b id="injected">bold</b><script>parent.__pwned_by_value = 1</script>'


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
    viewer = context.new_page()
    viewer.goto(write_viewer(db_path, page.recording.id, tmp_path).as_uri())
    viewer.get_by_role("button", name="DOM").click()
    viewer.keyboard.press("End")
    viewer.frame_locator("#dom").locator("h1").click()
    viewer.wait_for_timeout(300)
    pwned = viewer.evaluate("Object.keys(window).filter((k) => k.startsWith('__pwned'))")
    assert pwned == []
    for frame in viewer.frames:
        assert frame.evaluate("Object.keys(window).filter((k) => k.startsWith('__pwned'))") == []
    assert viewer.locator("#injected").count() == 0
    assert HOSTILE_VALUE in viewer.locator(".row.selected").inner_text()


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
        finally:
            server.shutdown()
            server.server_close()

"""Every kind of action recorded, through every way of reaching an element, sync and async.

Each case performs one call on the test app inside record() and checks the row stored.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page

from recorder import RecorderError, RecordingStore, launch_options, record

PAGES = Path(__file__).parent / "pages"
Case = tuple[str, Callable[[Page], Any], str, str, str | None, str | None]

# (id, action, expected type, api, selector, value)
CASES: list[Case] = [
    ("page.click", lambda p: p.click("#hover-target"), "click", "Page.click", 'locator("#hover-target")', None),
    ("page.dblclick", lambda p: p.dblclick("#hover-target"), "click", "Page.dblclick", 'locator("#hover-target")', None),
    ("page.fill", lambda p: p.fill("#name", "Ada"), "type", "Page.fill", 'locator("#name")', "Ada"),
    ("page.type", lambda p: p.type("#name", "Bo"), "type", "Page.type", 'locator("#name")', "Bo"),
    ("page.press", lambda p: p.press("#name", "Enter"), "key_press", "Page.press", 'locator("#name")', "Enter"),
    ("page.check", lambda p: p.check("#agree"), "click", "Page.check", 'locator("#agree")', None),
    ("page.uncheck", lambda p: p.uncheck("#agree"), "click", "Page.uncheck", 'locator("#agree")', None),
    ("page.set_checked", lambda p: p.set_checked("#agree", True), "click", "Page.set_checked", 'locator("#agree")', "true"),
    ("page.select_option", lambda p: p.select_option("#colour", "green"), "select", "Page.select_option",
     'locator("#colour")', "green"),
    ("page.hover", lambda p: p.hover("#hover-target"), "hover", "Page.hover", 'locator("#hover-target")', None),
    ("page.focus", lambda p: p.focus("#name"), "focus", "Page.focus", 'locator("#name")', None),
    ("page.set_input_files", lambda p: p.set_input_files("#upload", {"name": "cv.pdf", "mimeType": "application/pdf",
                                                                      "buffer": b"%PDF"}),
     "file_upload", "Page.set_input_files", 'locator("#upload")', '["cv.pdf"]'),
    # a path given as text keeps only the file's name, as a Path does
    ("page.set_input_files path", lambda p: p.set_input_files("#upload", str(PAGES / "app.html")),
     "file_upload", "Page.set_input_files", 'locator("#upload")', '["app.html"]'),
    ("page.drag_and_drop", lambda p: p.drag_and_drop("#drag", "#drop"), "drag", "Page.drag_and_drop",
     'locator("#drag")', "#drop"),
    ("keyboard.press", lambda p: (p.focus("#name"), p.keyboard.press("KeyA")), "key_press", "Keyboard.press", None, "KeyA"),
    ("keyboard.type", lambda p: (p.focus("#name"), p.keyboard.type("typed")), "type", "Keyboard.type", None, "typed"),
    ("keyboard.insert_text", lambda p: (p.focus("#name"), p.keyboard.insert_text("ins")), "type", "Keyboard.insert_text",
     None, "ins"),
    ("keyboard.down", lambda p: p.keyboard.down("Shift"), "key_press", "Keyboard.down", None, "Shift"),
    ("keyboard.up", lambda p: p.keyboard.up("Shift"), "key_press", "Keyboard.up", None, "Shift"),
    ("mouse.click", lambda p: p.mouse.click(10, 20), "click", "Mouse.click", None, "10,20"),
    ("mouse.dblclick", lambda p: p.mouse.dblclick(10, 20), "click", "Mouse.dblclick", None, "10,20"),
    ("mouse.move", lambda p: p.mouse.move(30, 40), "hover", "Mouse.move", None, "30,40"),
    ("mouse.down", lambda p: p.mouse.down(), "click", "Mouse.down", None, None),
    ("mouse.up", lambda p: p.mouse.up(), "click", "Mouse.up", None, None),
    ("mouse.wheel", lambda p: p.mouse.wheel(0, 200), "scroll", "Mouse.wheel", None, "0,200"),
    ("locator.click", lambda p: p.locator("#hover-target").click(), "click", "Locator.click", 'locator("#hover-target")', None),
    ("locator.dblclick", lambda p: p.locator("#hover-target").dblclick(), "click", "Locator.dblclick",
     'locator("#hover-target")', None),
    ("locator.fill", lambda p: p.locator("#name").fill("Ada"), "type", "Locator.fill", 'locator("#name")', "Ada"),
    ("locator.type", lambda p: p.locator("#name").type("Ty"), "type", "Locator.type", 'locator("#name")', "Ty"),
    ("locator.press_sequentially", lambda p: p.locator("#notes").press_sequentially("seq"), "type",
     "Locator.press_sequentially", 'locator("#notes")', "seq"),
    ("locator.press", lambda p: p.locator("#name").press("Tab"), "key_press", "Locator.press", 'locator("#name")', "Tab"),
    ("locator.clear", lambda p: p.locator("#name").clear(), "type", "Locator.clear", 'locator("#name")', None),
    ("locator.check", lambda p: p.locator("#agree").check(), "click", "Locator.check", 'locator("#agree")', None),
    ("locator.uncheck", lambda p: p.locator("#agree").uncheck(), "click", "Locator.uncheck", 'locator("#agree")', None),
    ("locator.set_checked", lambda p: p.locator("#agree").set_checked(False), "click", "Locator.set_checked",
     'locator("#agree")', "false"),
    ("locator.select_option", lambda p: p.locator("#colour").select_option(["blue"]), "select",
     "Locator.select_option", 'locator("#colour")', '["blue"]'),
    ("locator.hover", lambda p: p.locator("#hover-target").hover(), "hover", "Locator.hover", 'locator("#hover-target")', None),
    ("locator.focus", lambda p: p.locator("#name").focus(), "focus", "Locator.focus", 'locator("#name")', None),
    ("locator.set_input_files", lambda p: p.locator("#upload").set_input_files([]), "file_upload",
     "Locator.set_input_files", 'locator("#upload")', "[]"),
    ("locator.drag_to", lambda p: p.locator("#drag").drag_to(p.locator("#drop")), "drag", "Locator.drag_to",
     'locator("#drag")', 'locator("#drop")'),
    ("get_by_role", lambda p: p.get_by_role("button", name="Save").click(), "click", "Locator.click",
     'get_by_role("button", name="Save")', None),
    ("get_by_text", lambda p: p.get_by_text("Hover me").hover(), "hover", "Locator.hover", 'get_by_text("Hover me")', None),
    ("get_by_label", lambda p: p.get_by_label("Name").fill("L"), "type", "Locator.fill", 'get_by_label("Name")', "L"),
    ("get_by_placeholder", lambda p: p.get_by_placeholder("Your name").fill("P"), "type", "Locator.fill",
     'get_by_placeholder("Your name")', "P"),
    ("get_by_alt_text", lambda p: p.get_by_alt_text("Logo").click(), "click", "Locator.click", 'get_by_alt_text("Logo")', None),
    ("get_by_title", lambda p: p.get_by_title("Help text").hover(), "hover", "Locator.hover", 'get_by_title("Help text")', None),
    ("get_by_test_id", lambda p: p.get_by_test_id("card").fill("4242"), "type", "Locator.fill", 'get_by_test_id("card")', "4242"),
    ("frame_locator", lambda p: p.frame_locator("#frame").get_by_label("Inner").fill("F"), "type", "Locator.fill",
     'frame_locator("#frame").get_by_label("Inner")', "F"),
    ("chained", lambda p: p.locator("#list").locator("li").nth(1).click(), "click", "Locator.click",
     'locator("#list").locator("li").nth(1)', None),
    ("filter", lambda p: p.locator("li").filter(has_text="gamma").click(), "click", "Locator.click",
     'locator("li").filter(has_text="gamma")', None),
    ("first", lambda p: p.locator("li").first.click(), "click", "Locator.click", 'locator("li").first', None),
    ("last", lambda p: p.locator("li").last.click(), "click", "Locator.click", 'locator("li").last', None),
]


def only_action(db_path: Path, recording_id: int, api: str) -> dict[str, Any]:
    with RecordingStore(db_path) as store:
        matching = [a for a in store.get(recording_id).timeline() if a["metadata"]["api"] == api]
    assert len(matching) == 1, f"expected one {api} action, got {len(matching)}"
    return matching[0]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_action_is_recorded(page: Page, server: str, db_path: Path, case: Case) -> None:
    _, perform, action_type, api, selector, value = case
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        perform(page)
    action = only_action(db_path, page.recording.id, api)
    assert (action["type"], action["selector"], action["value"], action["status"]) == (action_type, selector, value, "ok")
    assert action["url"] == server + "/app.html" or action["url"].startswith(server + "/app.html#")
    assert action["duration_ms"] is not None and action["dom_snapshot_key"] and action["screenshot_key"]
    if selector and not selector.startswith("frame_locator"):
        box = action["metadata"]["bounding_box"]
        assert box["width"] > 0 and box["height"] > 0


def test_tap_is_recorded(browser, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(has_touch=True)
    page = context.new_page()
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        page.tap("#hover-target")
        page.locator("#hover-target").tap()
    with RecordingStore(db_path) as store:
        apis = [a["metadata"]["api"] for a in store.get(page.recording.id).timeline()]
    context.close()
    assert apis == ["Page.tap", "Locator.tap"]


def test_navigations_goto_reload_back_forward(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/app.html")
        page.goto(server + "/page2.html")
        page.reload()
        page.go_back()
        page.go_forward()
    with RecordingStore(db_path) as store:
        timeline = store.get(page.recording.id).timeline()
    assert [(a["type"], a["metadata"]["api"], a["url"].removeprefix(server)) for a in timeline] == [
        ("navigate", "Page.goto", "/app.html"), ("navigate", "Page.goto", "/page2.html"),
        ("navigate", "Page.reload", "/page2.html"), ("navigate", "Page.go_back", "/app.html"),
        ("navigate", "Page.go_forward", "/page2.html"),
    ]


def test_a_link_click_records_the_navigation_it_caused(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        page.click("#next")
        page.wait_for_url("**/page2.html")
    with RecordingStore(db_path) as store:
        timeline = store.get(page.recording.id).timeline()
    click, navigation = timeline[0], timeline[1]
    assert (navigation["type"], navigation["metadata"]["api"]) == ("navigate", "event.navigate")
    assert navigation["url"] == server + "/page2.html"
    assert navigation["metadata"]["caused_by"] == click["sequence"]


def test_a_hash_link_is_a_navigation_too(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        page.click("#hash")
    with RecordingStore(db_path) as store:
        urls = [(a["type"], a["url"]) for a in store.get(page.recording.id).timeline()]
    assert ("navigate", server + "/app.html#section") in urls


def test_a_popup_is_recorded_in_the_same_recording(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        with page.expect_popup() as popup_info:
            page.click("#popup")
        popup = popup_info.value
        popup.wait_for_load_state()
        popup.get_by_role("link", name="Home").click()
    with RecordingStore(db_path) as store:
        timeline = store.get(page.recording.id).timeline()
    on_popup = [a for a in timeline if a["metadata"]["page_index"] == 1]
    assert on_popup[0]["type"] == "navigate" and on_popup[0]["metadata"]["popup"] is True
    assert any(a["selector"] == 'get_by_role("link", name="Home")' for a in on_popup)
    assert [a["sequence"] for a in timeline] == list(range(1, len(timeline) + 1))


def test_a_dialog_is_recorded(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        page.click("#alert")
    with RecordingStore(db_path) as store:
        dialogs = [a for a in store.get(page.recording.id).timeline() if a["type"] == "dialog"]
    assert [(d["value"], d["metadata"]["dialog_type"]) for d in dialogs] == [("hello from the page", "alert")]


def test_a_failing_call_is_recorded_as_error_and_reraised_unchanged(page: Page, server: str, db_path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        with pytest.raises(PlaywrightTimeout) as raised:
            page.click("#missing", timeout=300)
    action = only_action(db_path, page.recording.id, "Page.click")
    assert action["status"] == "error" and "Timeout 300ms exceeded" in action["error"]
    assert str(raised.value).startswith(action["error"])
    assert action["metadata"]["error_type"] == "TimeoutError" and action["screenshot_key"]


def test_an_element_appearing_during_the_action_is_still_inspected(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        page.click("#late")
        page.click("#appeared")
    action = [a for a in RecordingStore(db_path).get(page.recording.id).timeline()][-1]
    assert action["status"] == "ok" and action["selector"] == 'locator("#appeared")'


@pytest.mark.parametrize("how", ["fill", "type", "keyboard", "press_sequentially"])
def test_passwords_are_never_stored(page: Page, server: str, db_path: Path, how: str) -> None:
    secret = "correct-horse-battery"
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        field = page.locator("#password")
        if how == "keyboard":
            field.focus()
            page.keyboard.type(secret)
        else:
            getattr(field, how)(secret)
        page.get_by_role("button", name="Save").click()
    with RecordingStore(db_path) as store:
        typed = [a for a in store.get(page.recording.id).timeline() if a["type"] == "type"]
    assert typed and all(a["value"] is None and a["metadata"]["redacted"] for a in typed)
    for path in db_path.parent.glob("recordings.db*"):
        assert secret.encode() not in path.read_bytes()


def test_redact_option_hides_configured_fields(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path, redact=["#card"]) as page:
        page.get_by_test_id("card").fill("4242424242424242")
        page.get_by_label("Name").fill("visible")
    with RecordingStore(db_path) as store:
        card, name = store.get(page.recording.id).timeline()
        assert card["value"] is None and card["metadata"]["redacted"]
        assert name["value"] == "visible"
        assert b"visible" in store.blob(name["dom_snapshot_key"])
    for path in db_path.parent.glob("recordings.db*"):
        assert b"4242424242424242" not in path.read_bytes()


def test_snapshots_decode_to_an_image_and_html_with_the_typed_text(page: Page, server: str, store_target: str) -> None:
    page.goto(server + "/app.html")
    with record(page, db=store_target) as page:
        page.get_by_label("Name").fill("Grace Hopper ✓ 🚀")
        page.locator("#notes").fill("a note\nover lines")
    with RecordingStore(store_target) as store:
        name, notes = store.get(page.recording.id).timeline()
        html = store.blob(notes["dom_snapshot_key"]).decode()
        image = Image.open(io.BytesIO(store.blob(name["screenshot_key"])))
    assert 'value="Grace Hopper ✓ 🚀"' in html and "a note\nover lines</textarea>" in html
    assert "<script" not in html
    assert image.format == "JPEG" and image.width > 100
    assert name["value"] == "Grace Hopper ✓ 🚀"


def test_sequences_are_contiguous_and_timestamps_ordered(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    with record(page, db=db_path) as page:
        for i in range(12):
            page.get_by_label("Name").fill(f"value {i}")
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        timeline = recording.timeline()
    assert [a["sequence"] for a in timeline] == list(range(1, 13)) and recording.action_count == 12
    stamps = [a["timestamp_ms"] for a in timeline]
    assert stamps == sorted(stamps)


def test_a_long_value_is_kept_truncated(page: Page, server: str, db_path: Path) -> None:
    page.goto(server + "/app.html")
    big = "x" * 10_000_000
    with record(page, db=db_path) as page:
        page.locator("#notes").fill(big, timeout=60_000)
    action = only_action(db_path, page.recording.id, "Locator.fill")
    assert action["metadata"]["value_truncated"] is True and action["metadata"]["value_length"] == 10_000_000
    assert len(action["value"]) == 10_000


def test_a_block_that_raises_fails_the_recording(page: Page, server: str, db_path: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        with record(page, db=db_path, name="boom") as page:
            page.goto(server + "/app.html")
            1 / 0
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
    assert (recording.status, recording.error) == ("failed", "ZeroDivisionError: division by zero")
    assert recording.action_count == 1 and recording.failed_at and recording.duration_ms is not None


def test_record_refuses_a_closed_page(browser, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.close()
    with pytest.raises(RecorderError, match="cannot record a closed page"):
        with record(page, db=db_path):
            pass


def test_a_page_closed_inside_the_block_keeps_what_was_recorded(browser, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    with record(page, db=db_path) as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("before close")
        page.close()
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        assert recording.status == "completed"
        assert [a["value"] for a in recording.timeline()][-1] == "before close"


def test_async_api_records_the_same(server: str, db_path: Path, run_async) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import async_playwright

    async def scenario() -> int:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            async with record(page, db=db_path, name="async") as page:
                await page.goto(server + "/app.html")
                await page.get_by_label("Name").fill("async Ada")
                await page.fill("#password", "async-secret-value")
                await page.keyboard.press("Tab")
                await page.mouse.click(5, 5)
                await page.frame_locator("#frame").get_by_label("Inner").fill("inner")
                await page.click("#alert")
                await page.click("#hash")
                try:
                    await page.click("#missing", timeout=300)
                except Exception as exc:
                    assert type(exc).__name__ == "TimeoutError"
            await browser.close()
            return page.recording.id

    recording_id = run_async(scenario())
    with RecordingStore(db_path) as store:
        recording = store.get(recording_id)
        timeline = recording.timeline()
        assert recording.status == "completed"
        assert [(a["type"], a["metadata"]["api"]) for a in timeline] == [
            ("navigate", "Page.goto"), ("type", "Locator.fill"), ("type", "Page.fill"), ("key_press", "Keyboard.press"),
            ("click", "Mouse.click"), ("type", "Locator.fill"), ("click", "Page.click"), ("dialog", "event.dialog"),
            ("click", "Page.click"), ("navigate", "event.navigate"), ("click", "Page.click"),
        ]
        assert timeline[2]["value"] is None and timeline[2]["metadata"]["redacted"]
        assert timeline[-1]["status"] == "error"
        assert all(a["screenshot_key"] for a in timeline)
        assert b"async Ada" in store.blob(timeline[1]["dom_snapshot_key"])
    for path in db_path.parent.glob("recordings.db*"):
        assert b"async-secret-value" not in path.read_bytes()


def test_the_recording_reads_after_a_block_that_opened_its_own_database(page: Page, server: str,
                                                                         db_path: Path) -> None:
    # The README's events example read page.recording.events() after the block and got
    # "the store for recordings.db is closed".
    with record(page, db=db_path) as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("after")
    recording = page.recording
    assert [a["type"] for a in recording.timeline()] == ["navigate", "type"]
    assert recording.refresh().status == "completed"
    assert isinstance(recording.events(), list)
    with RecordingStore(db_path, readonly=True) as reader:
        assert reader.get(recording.id).action_count == 2
    assert sorted(p.name for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)) == [db_path.name]

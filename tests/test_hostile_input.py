"""Odd and hostile pages: each is recorded (or refused with a clear message), and nothing
recorded before is lost."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error, Page

from recorder import RecordingStore, record


def timeline(db_path: Path, recording_id: int) -> list[dict]:
    with RecordingStore(db_path) as store:
        return store.get(recording_id).timeline()


def dom_of(db_path: Path, action: dict) -> str:
    with RecordingStore(db_path) as store:
        return store.blob(action["dom_snapshot_key"]).decode()


def test_a_5_mb_dom_is_recorded_whole(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/big.html")
        page.get_by_label("Search").fill("needle 🔍")
        assert page.evaluate("document.documentElement.outerHTML.length") > 5_000_000
    fill = timeline(db_path, page.recording.id)[-1]
    assert fill["type"] == "type" and fill["value"] == "needle 🔍" and fill["status"] == "ok"
    html = dom_of(db_path, fill)
    assert len(html.encode()) > 5_000_000 and 'data-i="6999"' in html and "needle 🔍" in html


def test_a_deeply_nested_page_is_recorded(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/deep.html")
        page.get_by_role("button", name="Deep button").click()
        assert page.locator("#deepest").inner_text() == "Deep button clicked"
    click = timeline(db_path, page.recording.id)[-1]
    assert click["type"] == "click" and click["status"] == "ok"
    assert "level-499" in dom_of(db_path, click)


def test_shadow_roots_iframes_and_unicode(page: Page, server: str, db_path: Path) -> None:
    value = "Zoë 👩‍💻 — 名前 \u202e reversed"
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/shadow.html")
        page.get_by_label("Nom 😀").fill(value)
        page.get_by_role("button", name="Envoyer ✓").click()
        page.frame_locator("#inner-frame").get_by_label("Inner").fill("dans le cadre ✓")
        assert page.locator("#out").inner_text() == "sent: " + value
    actions = timeline(db_path, page.recording.id)
    assert [a["type"] for a in actions] == ["navigate", "type", "click", "type"]
    fill, click, frame_fill = actions[1:]
    assert fill["value"] == value and "Nom 😀" in fill["selector"]
    assert "Envoyer ✓" in click["selector"] and click["status"] == "ok"
    assert frame_fill["value"] == "dans le cadre ✓" and frame_fill["url"].endswith("/odd/shadow.html")
    assert all(a["dom_snapshot_key"] for a in actions)


def test_about_blank_and_a_download_navigation(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/app.html")
        page.goto("about:blank")
        with pytest.raises(Error, match="Download is starting"):
            page.goto(server + "/odd/data.bin")
        page.goto(server + "/page2.html")
    actions = timeline(db_path, page.recording.id)
    gotos = [a for a in actions if a["metadata"].get("api") == "Page.goto"]
    assert gotos[1]["value"] == gotos[1]["url"] == "about:blank" and gotos[1]["status"] == "ok"
    assert gotos[2]["status"] == "error" and "Download is starting" in gotos[2]["error"]
    assert gotos[3]["status"] == "ok" and gotos[3]["url"].endswith("/page2.html")
    assert page.recording.status == "completed"


def test_a_renderer_crash_mid_recording_keeps_what_came_before(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("before the crash")
        with pytest.raises(Error):
            page.goto("chrome://crash")
        with pytest.raises(Error):
            page.get_by_label("Name").fill("after the crash", timeout=1000)
    actions = timeline(db_path, page.recording.id)
    assert actions[1]["value"] == "before the crash" and actions[1]["status"] == "ok"
    assert actions[-1]["status"] == "error"
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
    assert recording.status == "completed" and recording.metadata["crashed_page_index"] == 0


DIALOG_CHILD = textwrap.dedent("""
    import sys
    from playwright.sync_api import sync_playwright
    from recorder import launch_options, record
    with sync_playwright() as p:
        page = p.chromium.launch(**launch_options()).new_page()
        with record(page, db=sys.argv[1], name="dialog left open") as page:
            page.goto(sys.argv[2] + "/app.html")
            page.get_by_label("Name").fill("before the dialog")
            page.on("dialog", lambda dialog: None)  # a listener that never answers
            print("clicking", flush=True)
            page.click("#alert")  # Playwright itself stalls here until the dialog is answered
""")


def test_a_dialog_left_open_is_on_the_timeline_when_the_stalled_run_is_killed(server: str, db_path: Path) -> None:
    """Playwright documents that a dialog nobody answers stalls the page (and the call);
    the recording must show why: the dialog is committed at once, before the kill."""
    child = subprocess.Popen([sys.executable, "-c", DIALOG_CHILD, str(db_path), server], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "clicking"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with sqlite3.connect(db_path) as conn:
                if conn.execute("SELECT 1 FROM actions WHERE type = 'dialog'").fetchone():
                    break
            time.sleep(0.1)
        assert child.poll() is None  # still stalled, as bare Playwright would be
    finally:
        child.kill()
        child.wait()
    with RecordingStore(db_path) as store:
        (recording,) = store.list()
        actions = recording.timeline()
    assert recording.status == "interrupted"
    assert [a["type"] for a in actions][:2] == ["navigate", "type"] and actions[1]["value"] == "before the dialog"
    dialog = next(a for a in actions if a["type"] == "dialog")
    assert dialog["value"] == "hello from the page" and dialog["metadata"]["dialog_type"] == "alert"


def test_a_page_that_closes_itself_during_a_click(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/closing.html")
        with page.expect_popup() as popup_info:
            page.click("#open")
        popup = popup_info.value
        popup.wait_for_load_state()
        with popup.expect_event("close"):
            try:
                popup.click("#close")  # the window closes while the click is being recorded
            except Error as exc:  # Playwright itself may see the page go before the click returns
                assert "closed" in str(exc)
        page.get_by_role("link", name="Open a closable window").hover()  # the recording goes on
    actions = timeline(db_path, page.recording.id)
    closing_click = next(a for a in actions if a["metadata"]["page_index"] == 1 and a["type"] == "click")
    assert closing_click["status"] == "ok" or "closed" in closing_click["error"]
    assert closing_click["selector"] == '"#close"' or "#close" in closing_click["selector"]
    assert actions[-1]["type"] == "hover" and actions[-1]["status"] == "ok"
    assert page.recording.status == "completed"


def test_a_dom_over_the_limit_is_skipped_with_the_reason_and_the_action_kept(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/big.html?rows=40000")  # ~29 million characters of HTML
        page.get_by_label("Search").fill("still recorded")
    fill = timeline(db_path, page.recording.id)[-1]
    assert fill["value"] == "still recorded" and fill["status"] == "ok" and fill["screenshot_key"]
    assert fill["dom_snapshot_key"] is None
    assert re.fullmatch(r"the page's HTML is [\d,]+ characters, over recorder's limit of 25,000,000",
                        fill["metadata"]["dom_snapshot_skipped"])


# A recorded scenario run in a child process, so that a hang fails one test by its timeout
# instead of stopping the suite; it ends by printing how long leaving record() took.
STUCK_CHILD = """
import sys, time
from playwright.sync_api import sync_playwright
from recorder import launch_options, record
db, server, choice = sys.argv[1:]
with sync_playwright() as p:
    browser = p.chromium.launch(**launch_options())
    page = browser.new_page()
    with record(page, db=db, name="stuck") as page:
SCENARIO
        started = time.monotonic()
    print("left record() after", round(time.monotonic() - started, 1), "s", flush=True)
    browser.close()
"""


def run_stuck_child(scenario: str, db_path: Path, server: str, choice: str) -> tuple[str, float]:
    """The child's output, and the seconds it took to leave record()."""
    script = STUCK_CHILD.replace("SCENARIO", textwrap.indent(textwrap.dedent(scenario).strip("\n"), " " * 8))
    result = subprocess.run([sys.executable, "-c", script, str(db_path), server, choice],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    left = re.search(r"left record\(\) after ([\d.]+) s", result.stdout)
    assert left, result.stdout
    return result.stdout, float(left.group(1))


BUSY_SCENARIO = """
    page.goto(server + "/odd/busy.html")
    box = page.locator(choice).bounding_box()
    # page.mouse: Playwright asks the page nothing after the click, recorder is the first to
    page.mouse.click(box["x"] + 5, box["y"] + 5)  # returns; then the page's script never yields again
    time.sleep(3.0)  # (#hang spins 2 s after its click: after the click's capture on a slow machine too)
    try:
        page.click("#spin", timeout=1000)
    except Exception as error:
        print("the next click:", type(error).__name__, flush=True)
"""


@pytest.mark.parametrize("hang", ["#hang-now", "#hang"], ids=["during recorder's capture", "between actions"])
def test_a_page_stuck_in_a_script_costs_captures_and_hangs_nothing(server: str, db_path: Path, hang: str) -> None:
    """recorder asked a stuck page for its DOM (after the click) or for the next click's
    target without a timeout, and waited for ever; so did the final screenshot."""
    output, seconds_to_leave = run_stuck_child(BUSY_SCENARIO, db_path, server, hang)
    assert "the next click: TimeoutError" in output
    assert seconds_to_leave < 10
    with RecordingStore(db_path) as store:
        (recording,) = store.list()
        assert recording.status == "completed"
        navigate, click, next_click = recording.timeline()
    assert (navigate["type"], click["type"], click["status"]) == ("navigate", "click", "ok")
    assert next_click["status"] == "error" and "Timeout 1000ms exceeded" in next_click["error"]
    assert next_click["metadata"]["dom_snapshot_skipped"] == "the page did not answer (stuck in a script?)"
    if hang == "#hang-now":
        # The page starts spinning in the task after the click's own; Chromium usually runs it
        # before recorder's question arrives, but may answer the question first (it gives
        # DevTools messages priority): either way the click is recorded and nothing hangs.
        skipped = click["metadata"].get("dom_snapshot_skipped")
        assert skipped == next_click["metadata"]["dom_snapshot_skipped"] or (skipped is None and click["dom_snapshot_key"])
    else:
        assert click["dom_snapshot_key"] is not None


FRAME_SCENARIO = """
    page.goto(server + "/odd/framed.html")
    time.sleep(1)  # the frame's script has started spinning
    print("frame from", page.frames[1].url.split(":")[1], flush=True)
    try:
        if choice == "frame_locator":
            page.frame_locator("#frame").get_by_role("button").click(timeout=1000)
        else:
            page.frames[1].click("button", timeout=1000)
    except Exception as error:
        print("the click in the frame:", type(error).__name__, flush=True)
    page.get_by_role("heading").click()
"""


@pytest.mark.parametrize("way", ["frame_locator", "Frame"])
def test_a_frame_stuck_in_a_script_hangs_nothing(server: str, db_path: Path, way: str) -> None:
    """Looking at the target in a stuck frame (or at the frame's own element) had no time limit."""
    output, seconds_to_leave = run_stuck_child(FRAME_SCENARIO, db_path, server, way)
    assert "frame from //localhost" in output  # loaded, from the other site
    assert "the click in the frame: TimeoutError" in output
    assert seconds_to_leave < 10
    with RecordingStore(db_path) as store:
        (recording,) = store.list()
        steps = recording.timeline()
    in_frame, outside = steps[-2], steps[-1]
    assert in_frame["status"] == "error" and "Timeout 1000ms exceeded" in in_frame["error"]
    assert outside["status"] == "ok" and outside["selector"] == 'get_by_role("heading")' and outside["dom_snapshot_key"]


def test_a_page_that_answers_again_is_captured_again(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """After one timeout every later question got 250 ms, so snapshots that take longer
    were lost for the rest of the recording although the page had recovered."""
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/busy-then-slow.html")
        box = page.locator("#arm").bounding_box()
        page.mouse.click(box["x"] + 5, box["y"] + 5)  # recorder's snapshot of this click stalls 6 s: over its 5 s limit
        time.sleep(2.5)  # the stall is over (with a second to spare); from now on the page answers within 150 ms
        page.mouse.click(5, 5)
    with RecordingStore(db_path) as store:
        _, arm, mouse = store.get(page.recording.id).timeline()
    # (the page is busy from the task after the click's own; Chromium may still answer
    # recorder's question first, as above: then the arm has its snapshot)
    assert arm["metadata"].get("dom_snapshot_skipped", "the page did not answer (stuck in a script?)") \
        == "the page did not answer (stuck in a script?)"
    assert arm["metadata"].get("dom_snapshot_skipped") or arm["dom_snapshot_key"]
    assert "dom_snapshot_skipped" not in mouse["metadata"] and mouse["dom_snapshot_key"]


def test_a_page_whose_objects_all_look_like_promises_is_captured(page, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Awaiting recorder's results as promises never settled on such a page: every action
    waited out the timeout and lost its snapshot and its value."""
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/thenable.html")  # the field has autofocus
        # (no locator here: Playwright's own evaluate_all never returns on such a page)
        page.keyboard.type("still recorded")
    with RecordingStore(db_path) as store:
        typed = store.get(page.recording.id).timeline()[-1]
    assert typed["value"] == "still recorded" and typed["dom_snapshot_key"]
    assert typed["duration_ms"] < 4000 and "dom_snapshot_skipped" not in typed["metadata"]


def test_a_cancelled_async_call_is_cancelled_at_once_and_noted(server: str, db_path: Path, run_async) -> None:  # type: ignore[no-untyped-def]
    """A cancelled call went on to capture a DOM snapshot of the stuck page before
    re-raising, so asyncio.wait_for's timeout did not stop it."""
    import asyncio

    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> tuple[float, int]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            async with record(page, db=db_path, name="cancelled") as page:
                await page.goto(server + "/odd/busy.html")
                started = time.monotonic()
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(page.click("#spin"), 2)
                waited = time.monotonic() - started
            await browser.close()
            return waited, page.recording.id

    waited, recording_id = run_async(asyncio.wait_for(scenario(), 90))
    assert waited < 10
    click = timeline(db_path, recording_id)[-1]
    assert click["type"] == "click" and click["status"] == "error" and click["error"] == "cancelled before it finished"


def test_text_utf8_cannot_hold_is_stored_as_a_browser_shows_it(page: Page, server: str, store_target: str) -> None:
    # Halved emoji, lone surrogates and NUL in a page's text, title, console and in a name:
    # every action, event and snapshot is stored (they were lost, without a word), the
    # characters that cannot be stored as U+FFFD.
    with record(page, db=store_target, name="odd \ud800 name") as page:
        page.goto(server + "/odd/text.html")
        page.get_by_label("Name").fill("typed 😀 \\u0000")  # JSON's escape of NUL, typed as text
        page.locator("#go").click()
        assert page.locator("#out").inner_text().startswith("clicked")
    with RecordingStore(store_target) as store:
        recording = store.get(page.recording.id)
        actions = recording.timeline()
        events = recording.events(kind="console")
        dom = store.blob(actions[-1]["dom_snapshot_key"]).decode("utf-8", "replace")
    assert recording.name == "odd \ufffd name"
    assert [(a["type"], a["status"]) for a in actions] == [("navigate", "ok"), ("type", "ok"), ("click", "ok")]
    assert actions[1]["value"] == "typed 😀 \\u0000"  # (PostgreSQL changed it, taking it for JSON)
    neighbours = actions[1]["metadata"]["target"]["neighbour_text"]  # cut at 80 UTF-16 units, in an emoji
    assert neighbours.startswith("Name | a😀😀") and "\ufffd" not in neighbours
    button = actions[2]["metadata"]["target"]["text"]
    assert button.startswith("a😀😀") and len(button) <= 80 and "\ufffd" not in button
    nul = "\ufffd" if store_target.startswith("postgresql") else "\x00"  # PostgreSQL cannot hold a NUL
    assert [e["text"] for e in events if e["text"].startswith("lone")] == [f"lone \ufffd nul {nul} end"]
    assert "clicked" in dom and "tail" in dom

"""Leaving record() leaves nothing running: no screencast frame, no listener, nothing
printed when the page is used and closed right after the block."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from recorder import RecordingStore, record


def test_a_page_closed_right_after_the_block_prints_nothing(browser: Any, server: str, db_path: Path,
                                                            capfd: pytest.CaptureFixture[str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for round_ in range(15):
        page = browser.new_page()
        with record(page, db=db_path, name=f"round_{round_}") as page:
            page.goto(f"{server}/app.html")
            # Something always moving: the browser paints, and sends screencast frames, all the time.
            page.evaluate("""() => { const box = document.createElement('div'); box.textContent = 'spinning';
                box.animate([{transform: 'rotate(0deg)'}, {transform: 'rotate(360deg)'}],
                            {duration: 200, iterations: Infinity}); document.body.append(box); }""")
            page.get_by_label("Name").fill(f"round {round_}")
            page.get_by_role("button", name="Save").click()
        page.screenshot()
        page.close()
    browser.new_page().close()  # one more round trip: whatever was left to dispatch is dispatched
    out, err = capfd.readouterr()
    assert "Traceback" not in err and "Exception" not in err, err
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                or "exception" in r.getMessage().lower()]
    assert problems == [], problems


def test_leaving_the_block_stops_listening(page: Any, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(f"{server}/events/index.html")
        page.click("#log")
        page.wait_for_function("() => document.getElementById('out').textContent.startsWith('done')")
    recording = page.recording
    page.evaluate("() => { console.log('after the block'); fetch('api/items.json'); }")
    page.goto(f"{server}/app.html")
    page.get_by_label("Name").fill("not recorded")
    page.wait_for_timeout(200)
    with RecordingStore(db_path) as store:
        stored = store.get(recording.id)
        texts = [event.get("text") for event in stored.events("console")]
        urls = [event["url"] for event in stored.events("request")]
        actions = stored.timeline()
    assert "hello from the page {n: 1}" in texts and "after the block" not in texts
    assert not any(url.endswith("api/items.json") or url.endswith("app.html") for url in urls)
    assert [a["type"] for a in actions] == ["navigate", "click"]

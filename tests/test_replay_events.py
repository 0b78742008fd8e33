"""Replay compares what went wrong: a page error or a failed request the recording did not
have is a divergence at the step that caused it; one the recording had is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recorder import RecordingStore, record, replay
from tests.conftest import PAGES, PageSite


def recorded(page: Any, server: str, db: Path) -> int:
    with record(page, db=db) as page:
        page.goto(f"{server}/events/index.html")
        for button in ("#log", "#fail"):  # #fail throws: an error the recording has
            page.click(button)
            page.wait_for_function("() => document.getElementById('out').textContent.startsWith('done')")
            page.evaluate("() => { document.getElementById('out').textContent = 'ready'; }")
    return page.recording.id


def test_an_error_the_recording_had_is_no_divergence(page: Any, server: str, db_path: Path) -> None:
    recording_id = recorded(page, server, db_path)
    with RecordingStore(db_path) as store:
        report = replay(store.get(recording_id), page.context.new_page())
    assert [step.status for step in report.steps] == ["ok", "ok", "ok"], [(s.status, s.reason) for s in report.steps]


def test_a_new_page_error_and_failed_request_diverge_at_their_step(page: Any, server: str, db_path: Path) -> None:
    recording_id = recorded(page, server, db_path)
    broken = PageSite(PAGES / "broken")  # the same paths, a later app whose Log button breaks
    try:
        with RecordingStore(db_path) as store:
            report = replay(store.get(recording_id), page.context.new_page(), base_url=broken.url)
    finally:
        broken.stop()
    statuses = [(step.sequence, step.status) for step in report.steps]
    assert statuses[:2] == [(1, "ok"), (2, "diverged")], statuses
    step = report.steps[1]
    assert step.reason == "a page error the recording did not have: TypeError: items is undefined", step.reason
    assert any("GET /events/api/gone.json" in note for note in step.notes), step.notes

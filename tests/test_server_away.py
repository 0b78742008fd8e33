"""A PostgreSQL server that goes away mid-recording (restarted, cut off) never hangs or
fails the page's own calls: recorder keeps the writes in memory, reconnects, and says what
it lost when it must give up."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from recorder import RecorderWarning, RecordingStore, record
from recorder.storage.writer import Writer
from tests import postgres


@pytest.fixture
def cluster() -> Iterator[postgres.Cluster]:
    """A cluster of this test's own, to stop and start again."""
    try:
        found = postgres.start_cluster()
    except postgres.PostgresUnavailable as exc:
        pytest.fail(f"no PostgreSQL for this test: {exc}")
    yield found
    found.stop()


def stop(cluster: postgres.Cluster) -> None:
    result = cluster.pg_ctl("stop", "-m", "fast", "-w", "-t", "30")
    assert result.returncode == 0, result.stderr


def start(cluster: postgres.Cluster) -> None:
    result = cluster.pg_ctl("start", "-w", "-t", "60", "-l", str(cluster.log), "-o", f"-p {cluster.port}")
    assert result.returncode == 0, result.stderr


def fill_and_save(page: Page, text: str) -> None:
    page.get_by_label("Name").fill(text)
    page.get_by_role("button", name="Save").click()


def test_a_server_restarted_mid_recording_loses_nothing(page: Page, server: str, cluster: postgres.Cluster) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with record(page, db=cluster.url, name="through_a_restart") as page:
            page.goto(f"{server}/app.html")
            fill_and_save(page, "before")
            stop(cluster)
            began = time.monotonic()
            for n in range(3):
                fill_and_save(page, f"while away {n}")
            away = time.monotonic() - began
            start(cluster)
            fill_and_save(page, "after")
    assert away < 10, f"the page's calls took {away:.1f} s while the server was away"
    with RecordingStore(cluster.url) as store:
        recording = store.get(page.recording.id)
        timeline = recording.timeline()
    assert recording.status == "completed"
    assert [a["sequence"] for a in timeline] == list(range(1, 12))  # goto + 5 x (fill, click): none lost
    assert [a["value"] for a in timeline if a["type"] == "type"] == [
        "before", "while away 0", "while away 1", "while away 2", "after"]
    assert all(a["dom_snapshot_key"] for a in timeline)
    assert "lost_writes" not in recording.metadata
    messages = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert any("lost the connection to postgresql://" in m and "reconnecting" in m for m in messages), messages


def test_a_server_that_stays_away_costs_the_recording_not_the_page(page: Page, server: str,
                                                                    cluster: postgres.Cluster,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # How long recorder waits for the server: shortened, so the test need not wait 45 s.
    monkeypatch.setattr(Writer, "DISCONNECTED_WAIT_S", 2.0)
    monkeypatch.setattr(Writer, "CLOSE_GRACE_S", 2.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with record(page, db=cluster.url, name="server_gone") as page:
            page.goto(f"{server}/app.html")
            page.recording.store.flush(tiled=False)
            stop(cluster)
            began = time.monotonic()  # (stopping the server is not recorder's time)
            fill_and_save(page, "nobody will store this")
            assert page.get_by_label("Name").input_value() == "nobody will store this"
        took = time.monotonic() - began
    assert took < 20, f"leaving record() took {took:.1f} s with the server gone"
    messages = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert any("did not come back" in m and "writes are lost" in m and "actions" in m for m in messages), messages

    start(cluster)
    with RecordingStore(cluster.url) as store:
        recording = store.get(page.recording.id)
        assert [a["type"] for a in recording.timeline()] == ["navigate"]  # written before it went away


def test_losses_are_said_in_the_recording_once_the_server_is_back(cluster: postgres.Cluster,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A small buffer, so that a long absence overflows it.
    monkeypatch.setattr(Writer, "MAX_BUFFERED_JOBS", 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with RecordingStore(cluster.url) as store:
            recording = store.start(name="overflowing")
            recording.record_action("navigate", url="http://127.0.0.1/")
            store.flush()
            stop(cluster)
            for n in range(20):
                recording.record_action("click", selector=f"#b{n}")
            # The writer notices (it warns), then keeps at most 5 writes as its first
            # reconnection is refused: waited for, as a loaded machine may take its time.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any("lost the connection" in str(w.message) for w in caught):
                time.sleep(0.1)
            time.sleep(1.0)
            start(cluster)
            deadline = time.monotonic() + 30
            metadata: dict[str, Any] = {}
            while time.monotonic() < deadline and "lost_writes" not in metadata:
                time.sleep(0.2)
                try:
                    metadata = store.get(recording.id).metadata
                except Exception:
                    pass
            recording.complete()
    assert metadata["lost_writes"]["actions"] >= 15
    with RecordingStore(cluster.url) as store:
        kept = store.get(recording.id).timeline()
    assert len(kept) + metadata["lost_writes"]["actions"] == 21
    messages = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert any("is back; writes were lost" in m for m in messages), messages

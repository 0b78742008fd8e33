"""Async code records and reads without recorder ever waiting on its database inside the
event loop."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from recorder import AsyncRecordingStore, RecordingStore, launch_options, record
from recorder.errors import RecorderError, RecordingNotFound

# A frame of the loop's thread inside one of these means it is blocked waiting.
_WAITS = {("_base.py", "result"), ("threading.py", "wait"), ("threading.py", "join"),
          ("threading.py", "_wait_for_tstate_lock")}
_RECORDER = str(Path(__import__("recorder").__file__).parent)


class LoopWatcher:
    """Samples the event loop thread's stack every millisecond from another thread and keeps
    each sample where the loop is blocked waiting (a future's result, a lock, a join) with
    recorder's code on the stack: recorder waiting on its writer inside the loop."""

    def __init__(self, loop_thread: int) -> None:
        self.loop_thread = loop_thread
        self.blocked: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoopWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            frame = sys._current_frames().get(self.loop_thread)
            self.samples += 1
            stack = []
            while frame is not None:
                stack.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno))
                frame = frame.f_back
            # (Starting a thread waits for it to run: that is no wait on the database.)
            waiting = any((Path(file).name, name) in _WAITS for file, name, _ in stack[:3]) \
                and not any((Path(file).name, name) == ("threading.py", "start") for file, name, _ in stack)
            ours = [f"{file}:{line} {name}" for file, name, line in stack if file.startswith(_RECORDER)]
            if waiting and ours:
                self.blocked.append(ours[0])


def test_async_recordings_never_wait_on_the_database_inside_the_loop(server: str, tmp_path: Path,
                                                                      run_async: Any) -> None:
    slow: list[str] = []

    class SlowCallbacks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "took" in record.getMessage():
                slow.append(record.getMessage())

    async def one_agent(browser: Any, number: int) -> int:
        page = await browser.new_page()
        async with record(page, db=tmp_path / "agents.db", name=f"agent_{number}") as page:
            await page.goto(f"{server}/app.html")
            for step in range(5):
                await page.get_by_label("Name").fill(f"agent {number} step {step}")
                await page.get_by_role("button", name="Save").click()
        await page.close()
        return page.recording.id

    async def scenario() -> tuple[list[int], LoopWatcher]:
        from playwright.async_api import async_playwright

        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 0.1
        handler = SlowCallbacks()
        logging.getLogger("asyncio").addHandler(handler)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(**launch_options())
                with LoopWatcher(threading.get_ident()) as watcher:
                    ids = await asyncio.gather(*(one_agent(browser, n) for n in range(4)))
                    # ... and reading while others may write
                    async with AsyncRecordingStore(tmp_path / "agents.db") as store:
                        listed = await store.list()
                        timelines = [await r.timeline() for r in listed]
                await browser.close()
        finally:
            logging.getLogger("asyncio").removeHandler(handler)
        assert sorted(r.id for r in listed) == sorted(ids) and all(len(t) == 11 for t in timelines)
        return ids, watcher

    ids, watcher = run_async(scenario())
    assert watcher.samples > 100
    assert watcher.blocked == [], f"the loop waited inside recorder: {sorted(set(watcher.blocked))}"
    # asyncio's debug mode names the slow callbacks (`slow`), but one in recorder's code is its
    # own waiting only if the loop was blocked waiting in it, which the watcher's samples above
    # assert never happened: on a loaded machine a step can also be slow for want of the CPU.
    with RecordingStore(tmp_path / "agents.db") as store:
        assert sorted(r.status for r in store.list()) == ["completed"] * 4
        assert all(store.get(i).action_count == 11 for i in ids)


def test_the_async_store_reads_what_the_sync_store_wrote(store_target: str, run_async: Any) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start(name="written", metadata={"k": "v"}, owner="alice")
        recording.record_action("navigate", url="http://127.0.0.1/", dom_snapshot="<html><p>hi</p></html>")
        recording.record_action("click", selector="#go", metadata={"api": "Page.click"})
        recording.record_event("console", {"level": "log", "text": "hello"}, action_sequence=2)
        recording.record_source("/tmp/agent.py", "page.click('#go')\n")
        recording.complete()
        store.flush()
        expected = store.get(recording.id)
        timeline, events, sources = expected.timeline(), expected.events(), expected.sources()
        snapshot = store.blob(timeline[0]["dom_snapshot_key"])

    async def read() -> None:
        async with AsyncRecordingStore(store_target) as store:
            [found] = await store.list()
            assert found.to_dict() == expected.to_dict() and found.metadata == expected.metadata
            assert await found.timeline() == timeline and await found.timeline(after_sequence=1) == timeline[1:]
            assert await found.events() == events and await found.events("console", action=2) == events
            assert await found.sources() == sources and await found.event_counts() == {2: {
                "messages": 1, "errors": 0, "failed_requests": 0}}
            assert (await store.get_by_uid(expected.uid)).id == expected.id
            assert await store.blob(timeline[0]["dom_snapshot_key"]) == snapshot
            assert [r.id for r in await store.for_owner(user_id="bob").list()] == []
            with pytest.raises(RecordingNotFound, match="no recording with id 424242"):
                await store.get(424242)
            # Reads side by side on one store
            results = await asyncio.gather(*(found.timeline() for _ in range(8)))
            assert all(result == timeline for result in results)

    run_async(read())


def test_the_async_store_must_be_opened_and_names_a_missing_server(run_async: Any) -> None:
    from recorder.errors import DatabaseError, RecorderError

    async def scenario() -> None:
        store = AsyncRecordingStore("postgresql://reader:secret@127.0.0.1:9/none")
        with pytest.raises(RecorderError, match="not open"):
            await store.list()
        started = time.monotonic()
        with pytest.raises(DatabaseError, match=r"cannot connect to postgresql://reader:\*\*\*@127.0.0.1:9/none"):
            await store.open()
        assert time.monotonic() - started < 15

    run_async(scenario())


def test_the_async_store_reads_runs(store_target: str, run_async: Any) -> None:
    from recorder.errors import RunNotFound

    with RecordingStore(store_target) as store:
        run = store.start_run("a1b2c3d4e5", git_branch="main")
        store.finish_run(run.id, exit_status=1, passed=3, failed=1)
        store.record_run_tests(run.id, [{"nodeid": "t.py::test_a", "outcome": "passed"},
                                        {"nodeid": "t.py::test_b", "outcome": "failed", "message": "boom"}])
        store.start(name="in the run", run_id=run.id).complete()
        store.flush()
        expected, tests = store.get_run(run.id), store.run_tests(run.id)

    async def read() -> None:
        async with AsyncRecordingStore(store_target) as store:
            assert await store.runs() == [expected] and await store.last_run() == expected
            assert await store.get_run("a1b2") == expected and expected.recordings == 1
            assert await store.run_tests(run.id) == tests and len(tests) == 2
            with pytest.raises(RunNotFound, match="no run with id 'ffff'"):
                await store.get_run("ffff")
            assert await store.for_owner(user_id="bob").runs() == []

    run_async(read())


def test_two_async_blocks_entered_together_on_one_page_record_once(server: str, db_path: Path,
                                                                     run_async: Any) -> None:
    """The second block is refused, as a nested one is, though the first has not finished
    starting its recording when the second checks the page."""

    async def block(page: Any, name: str, hold: float) -> str:
        try:
            async with record(page, db=db_path, name=name) as page:
                await asyncio.sleep(hold)
                await page.get_by_label("Name").fill(f"{name} 1")
                await asyncio.sleep(hold)
                await page.get_by_label("Name").fill(f"{name} 2")
        except RecorderError as exc:
            return str(exc)
        return "recorded"

    async def scenario() -> list[str]:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            await page.goto(f"{server}/app.html")
            outcomes = await asyncio.gather(block(page, "A", 0.5), block(page, "B", 0.1))
            outcomes.append(await block(page, "C", 0))  # the page is free again once A has ended
            await browser.close()
        return outcomes

    assert run_async(scenario()) == ["recorded", "this page is already being recorded; nest record() blocks on"
                                     " different pages", "recorded"]
    with RecordingStore(db_path) as store:
        assert {r.name: [a["value"] for a in r.timeline()] for r in store.list()} == {
            "A": ["A 1", "A 2"], "C": ["C 1", "C 2"]}


def test_a_page_whose_recording_could_not_start_can_be_recorded(server: str, tmp_path: Path,
                                                                 run_async: Any) -> None:
    async def scenario() -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            with pytest.raises(RecorderError):
                async with record(page, db=tmp_path / "no such directory" / "recordings.db"):
                    pass
            async with record(page, db=tmp_path / "recordings.db") as page:
                await page.goto(f"{server}/app.html")
            await browser.close()

    run_async(scenario())
    with RecordingStore(tmp_path / "recordings.db") as store:
        assert [r.action_count for r in store.list()] == [1]


# A button that appears after a while, for a click made in a task the block does not await.
LATE_BUTTON = """() => setTimeout(() => {
    const button = document.createElement("button");
    button.id = "late-one";
    button.textContent = "Late";
    button.onclick = () => { button.textContent = "clicked"; };
    document.body.appendChild(button);
}, 1000)"""


async def late_click(server: str, db_path: Path, linger_s: float) -> tuple[str | None, int]:
    """Record a goto, then a click on LATE_BUTTON's button made in a task the block does not
    await, the block ending ``linger_s`` after; the button's text once the click is done, and
    the line of the click (whose source the recording names)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        page = await browser.new_page()
        async with record(page, db=db_path) as page:
            await page.goto(f"{server}/app.html")
            await page.evaluate(LATE_BUTTON)
            line = sys._getframe().f_lineno + 1
            click = asyncio.create_task(page.click("#late-one"))
            if linger_s:  # (else the block ends before the task's call has begun)
                await asyncio.sleep(linger_s)
        await click
        text = await page.text_content("#late-one")
        await browser.close()
    return text, line


def test_a_call_still_running_when_the_async_block_ends_is_recorded(server: str, db_path: Path,
                                                                     run_async: Any) -> None:
    text, _ = run_async(late_click(server, db_path, linger_s=0))
    assert text == "clicked"
    with RecordingStore(db_path) as store:
        recording = store.list()[0]
        assert [(a["sequence"], a["metadata"]["api"], a["status"]) for a in recording.timeline()] == [
            (1, "Page.goto", "ok"), (2, "Page.click", "ok")]
        assert "unfinished_actions" not in recording.metadata


def test_a_call_running_past_the_grace_is_named_unfinished(server: str, db_path: Path, run_async: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recorder.instrument.IN_FLIGHT_GRACE_S", 0.2)
    # The click itself goes on, and succeeds, unrecorded.
    text, line = run_async(late_click(server, db_path, linger_s=0.1))
    assert text == "clicked"
    with RecordingStore(db_path) as store:
        recording = store.list()[0]
        assert [a["metadata"]["api"] for a in recording.timeline()] == ["Page.goto"]
        assert recording.metadata["unfinished_actions"] == [{
            "sequence": 2, "api": "Page.click", "page_index": 0,
            "source": {"file": __file__, "line": line, "function": "late_click"}}]

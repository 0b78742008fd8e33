"""What happened around each action: console messages, page errors and requests land in the
events table on the action that caused them, credentials never do, and each action knows
the line of code that made it."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, expect

from recorder import RecordingStore, record
from recorder.cli import main

from tests.conftest import PYTESTER_CONFTEST

pytest_plugins = ["pytester"]

# The page's bearer token (tests/pages/events/app.js), spelled in pieces: recorder keeps
# this file's text with the recording, so a whole spelling here would be found in it.
TOKEN = "tokens3cr3t" + "-4711"
PASSWORD = "hunter2" + "-typed"


def click_and_wait(page: Page, button: str) -> int:
    """Click a button of the events page, wait until it says it is done; return the
    click's sequence number."""
    page.click(button)
    page.wait_for_function("() => document.getElementById('out').textContent.startsWith('done: ')")
    sequence = page.recording.action_count  # the click is the latest action recorded
    page.evaluate("() => { document.getElementById('out').textContent = 'ready'; }")
    return sequence


def of_favicon(event: dict[str, Any]) -> bool:
    """The browser's own favicon request (a 404 here) or its console message: it lands on
    whichever action is under way when it ends, late on a slow machine."""
    return "favicon.ico" in (event.get("url") or (event.get("location") or {}).get("url") or "")


def by_sequence(events: list[dict[str, Any]]) -> dict[int | None, list[dict[str, Any]]]:
    found: dict[int | None, list[dict[str, Any]]] = {}
    for event in events:
        found.setdefault(event["action_sequence"], []).append(event)
    return found


def test_console_errors_and_requests_land_on_the_action_that_caused_them(page: Page, server: str,
                                                                          db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(f"{server}/events/index.html")
        logged = click_and_wait(page, "#log")
        failed = click_and_wait(page, "#fail")
        later = click_and_wait(page, "#later")
        missing = click_and_wait(page, "#missing")
        api = click_and_wait(page, "#api")
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        events = by_sequence(recording.events())
        assert recording.events(action=logged) == events[logged]
        identity = recording.metadata["request_identity"]

    console = [(e["level"], e["text"]) for e in events[logged] if e["kind"] == "console" and not of_favicon(e)]
    assert console == [("log", "hello from the page {n: 1}"), ("warning", "careful now")]
    assert events[logged][0]["location"]["url"] == f"{server}/events/app.js"
    assert events[logged][0]["location"]["line"] > 0

    [error] = [e for e in events[failed] if e["kind"] == "error"]
    assert error["name"] == "RangeError" and error["message"] == "thrown in a click handler"
    assert "app.js" in error["stack"]

    later_errors = {(e["name"], e["message"]) for e in events[later] if e["kind"] == "error"}
    assert later_errors == {("TypeError", "thrown later"), ("Error", "rejected promise")}

    requests = {e["url"].rsplit("/", 1)[-1]: e for e in events[missing] if e["kind"] == "request"}
    assert requests["missing.json"]["status"] == 404 and requests["missing.json"]["failure"] is None
    assert requests["missing.json"]["method"] == "GET" and requests["missing.json"]["resource_type"] == "fetch"
    assert requests["missing.json"]["duration_ms"] >= 0
    refused = requests["unreachable.json"]
    assert refused["status"] is None and refused["failure"] == "net::ERR_UNSAFE_PORT"

    [call] = [e for e in events[api] if e["kind"] == "request" and not of_favicon(e)]
    assert call["status"] == 200 and call["mime_type"] == "application/json"
    assert call["request_headers"]["Authorization"] == "[redacted]"
    assert call["body_size"] > 0 and "response_body" not in call  # bodies are not kept by default
    # The browser's identity headers are kept once, in the recording, not with each request.
    assert not {"User-Agent", "sec-ch-ua"} & set(call["request_headers"])
    assert "Chrome" in identity["User-Agent"]
    assert call["timing"]["wait"] >= 0

    # The page's own load: before any action is recorded? No: during the goto (sequence 1).
    documents = [e for e in events[1] if e["kind"] == "request" and e["resource_type"] == "document"]
    assert documents and documents[0]["url"] == f"{server}/events/index.html"
    # In time order, each with a time since the recording started.
    times = [e["time_ms"] for e in recording_events(db_path)]
    assert times == sorted(times) and times[0] >= 0


def recording_events(db_path: Path) -> list[dict[str, Any]]:
    with RecordingStore(db_path) as store:
        return store.list()[0].events()


def test_what_the_page_does_between_sync_actions_lands_on_the_action_before(page: Page, server: str,
                                                                            db_path: Path) -> None:
    # The sync API hands events over only during a call: they reached recorder during the
    # next action's, and were filed under it, at its time.
    with record(page, db=db_path) as page:
        page.goto(server + "/events/index.html")
        page.click("#idle")  # 300 ms later the page logs, fetches and throws
        time.sleep(1.0)  # the code thinks: no Playwright call
        page.click("#log")
    started = {a["sequence"]: a["timestamp_ms"] for a in page.recording.timeline()}
    idle = [e for e in page.recording.events() if "idle" in str(e.get("text") or e.get("url") or e.get("message"))]
    assert sorted(e["kind"] for e in idle) == ["console", "error", "request"], idle
    assert [e["action_sequence"] for e in idle] == [2, 2, 2], idle
    stamped = [e for e in idle if e["kind"] != "error"]  # (the browser stamps these; an error has no stamp)
    assert all(started[2] + 250 < e["time_ms"] < started[3] - 500 for e in stamped), (started, stamped)


def test_a_page_error_behind_many_messages_between_sync_actions_lands_on_the_action_before(
        page: Page, db_path: Path) -> None:
    """What the page reports between sync actions is taken as the code comes back, in a turn
    of Playwright's loop; an error queued behind a hundred console messages came only in the
    next call's, and an error has no time stamp to be placed by: it landed on the next action
    (4 runs of 5, a hunt found). Turns are now given while reports keep coming."""
    page.set_content('<button id="go" onclick="setTimeout(() => { for (let i = 0; i < 100; i++)'
                     ' console.log(\'line \' + i); throw new Error(\'late\'); }, 300)">Go</button>'
                     '<button id="other">Other</button>')
    with record(page, db=db_path) as page:
        page.click("#go")
        time.sleep(1.0)  # the code thinks: no Playwright call
        page.click("#other")
    errors = page.recording.events("error")
    assert [(e["message"], e["action_sequence"]) for e in errors] == [("late", 1)], errors
    assert {e["action_sequence"] for e in page.recording.events("console")} == {1}


def test_a_response_from_a_service_worker_is_not_said_to_come_from_the_cache(page: Page, server: str,
                                                                            db_path: Path) -> None:
    """A request the page's service worker answered by fetching it itself was stored as
    from_cache, and the viewer showed "(cache)" (a hunt found it)."""
    page.goto(server + "/events/sw/index.html")
    expect(page.locator("#out")).to_have_text("ready")
    with record(page, db=db_path) as page:
        page.click("#fetch")
        expect(page.locator("#out")).to_have_text("fetched 200")
        page.click("#out")
    [answered] = [e for e in page.recording.events("request") if "viasw" in e["url"]]
    assert (answered["status"], answered["from_cache"], answered.get("from_service_worker")) == (200, False, True)


def test_a_popups_first_load_is_recorded_too(page: Page, server: str, db_path: Path) -> None:
    """Playwright hands a popup over once it has navigated: its document and what came with
    it reached no listener of recorder's, and were missing from the popup's requests. The
    page's Resource Timing tells them (without method or headers); each request once."""
    with record(page, db=db_path) as page:
        page.goto(server + "/events/opener.html")
        with page.expect_popup() as opened:
            page.click("#open")
        popup = opened.value
        popup.wait_for_load_state()
        popup.click("#in-popup")
    requests = [e for e in page.recording.events(kind="request") if e["page_index"] == 1]
    names = [e["url"].rsplit("/", 1)[-1] for e in requests if not of_favicon(e)]
    assert sorted(names) == ["missing.png", "popup.css", "popup.html"], requests
    document = next(e for e in requests if e["url"].endswith("/popup.html"))
    assert (document["resource_type"], document["status"], document["seen_in"]) == ("document", 200, "resource timing")
    assert document["response_size"] is None and document["body_size"] > 0  # (not padded bytes passed off as the wire's)
    assert document["action_sequence"] == 2  # the click that opened it
    assert next(e for e in requests if e["url"].endswith("/missing.png"))["status"] == 404


def test_show_and_stats_count_messages_errors_and_failed_requests(page: Page, server: str, store_target: str) -> None:
    with record(page, db=store_target) as page:
        page.goto(f"{server}/events/index.html")
        click_and_wait(page, "#log")
        click_and_wait(page, "#missing")
    runner = CliRunner()
    shown = runner.invoke(main, ["show", str(page.recording.id), "--db", store_target])
    assert shown.exit_code == 0, shown.output
    rows = {line.split()[0]: line for line in shown.output.splitlines() if line[:1].isdigit()}
    as_json = json.loads(runner.invoke(main, ["show", str(page.recording.id), "--db", store_target, "--json"]).output)
    favicon = {(e["kind"], e["action_sequence"]) for e in as_json["events"] if of_favicon(e)}  # counted apart
    extra = {sequence: (int(("console", sequence) in favicon), int(("request", sequence) in favicon))
             for sequence in (2, 3)}

    def counted(messages: int, failed: int) -> str:
        return ", ".join(part for part in (f"{messages} msg{'s' if messages != 1 else ''}",
                                           failed and f"{failed} failed req{'s' if failed != 1 else ''}") if part)

    assert rows["2"].endswith(counted(2 + extra[2][0], extra[2][1])), rows["2"]
    # "Failed to load resource" for each, and "unreachable as expected"
    assert rows["3"].endswith(counted(3 + extra[3][0], 2 + extra[3][1])), rows["3"]

    kinds = {(e["kind"], e["action_sequence"]) for e in as_json["events"]}
    assert ("console", 2) in kinds and ("request", 3) in kinds

    stats = json.loads(runner.invoke(main, ["stats", "--db", store_target, "--json"]).output)
    [totals] = stats["page errors and failed requests"]
    failing = {row["request"]: row for row in stats["requests that fail most"]}
    # The browser's own favicon request (a 404 here) is recorded when it ends before the
    # recording does, which it may or may not: counted apart.
    favicon = 1 if f"GET {server}/favicon.ico" in failing else 0
    assert totals["failed_requests"] - favicon == 2 and totals["page_errors"] == 0
    assert failing[f"GET {server}/events/missing.json"]["status"] == 404
    assert failing[f"GET {server}/events/missing.json"]["failure"] is None


def test_credentials_and_typed_secrets_are_stored_nowhere(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path, bodies=True, redact_headers=["X-Other"]) as page:
        page.goto(f"{server}/events/index.html")
        click_and_wait(page, "#api")
        page.fill("#password", PASSWORD)
        search = click_and_wait(page, "#search")
        page.evaluate("""() => fetch('api/items.json', {method: 'POST', body: 'pw=' + document.getElementById(
            'password').value, headers: {'X-Other': 'other-secret-value', Cookie: 'sid=1'}})""")
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        events = recording.events()
        shown = CliRunner().invoke(main, ["show", str(recording.id), "--db", str(db_path), "--json"]).output
    with_token = [e for e in events if e["kind"] == "request" and "Authorization" in e["request_headers"]]
    assert with_token and with_token[0]["request_headers"]["Authorization"] == "[redacted]"
    # bodies=True keeps text bodies, secrets cut out of them as out of URLs and console text
    api = [e for e in events if e["kind"] == "request" and e["url"].endswith("/api/items.json")]
    assert '"milk"' in api[0]["response_body"]
    searched = [e for e in events if e["action_sequence"] == search]
    assert "searching for [redacted]" in {e["text"] for e in searched if e["kind"] == "console"}
    assert any(e["kind"] == "request" and e["url"].endswith("items.json?q=[redacted]") for e in searched)
    posted = [e for e in events if e["kind"] == "request" and e["method"] == "POST"]
    assert posted[0]["request_body"] == "pw=[redacted]"
    assert posted[0]["request_headers"]["X-Other"] == "[redacted]"

    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for secret in (TOKEN, PASSWORD, "other-secret-value"):
        assert secret.encode() not in stored, secret
        assert secret not in shown, secret
    assert "[redacted]" in shown


def test_a_secret_the_page_echoes_as_it_is_typed_is_cut_out(page: Page, server: str, db_path: Path) -> None:
    # The element is looked at while the fill runs (its answer overlaps with the call): what
    # the page reports before recorder knows the field is secret waits for that answer.
    with record(page, db=db_path) as page:
        page.goto(f"{server}/events/index.html")
        page.evaluate("""() => document.getElementById('password').addEventListener('input', (event) => {
            console.log('typing ' + event.target.value);
            location.hash = 'q=' + event.target.value;
            fetch('api/items.json?echo=' + encodeURIComponent(event.target.value)).then(() => { window.echoed = true; });
        })""")
        page.fill("#password", PASSWORD)
        page.wait_for_function("() => window.echoed")
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        events = recording.events()
        actions = recording.timeline()
    assert actions[-1]["type"] == "navigate" and actions[-1]["url"].endswith("#q=[redacted]")
    filled = next(a["sequence"] for a in actions if a["type"] == "type")
    echoed = [e for e in events if e["action_sequence"] == filled]
    assert "typing [redacted]" in {e["text"] for e in echoed if e["kind"] == "console"}
    assert any(e["kind"] == "request" and e["url"].endswith("items.json?echo=[redacted]") for e in events)
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert PASSWORD.encode() not in stored


def test_events_can_be_turned_off(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path, events=False) as page:
        page.goto(f"{server}/events/index.html")
        click_and_wait(page, "#missing")
    with RecordingStore(db_path) as store:
        assert store.get(page.recording.id).events() == []


def test_bodies_take_a_size(page: Page, server: str, db_path: Path) -> None:
    with pytest.raises(ValueError, match="bodies must be"):
        record(page, db=db_path, bodies=-5)
    with record(page, db=db_path, bodies=10) as page:
        page.goto(f"{server}/events/index.html")
        click_and_wait(page, "#api")
    with RecordingStore(db_path) as store:
        [api] = [e for e in store.get(page.recording.id).events("request") if e["url"].endswith("items.json")]
    assert api["response_body"].startswith('[{"id": 1,') and "more characters" in api["response_body"]


def test_a_crash_is_an_event(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(f"{server}/events/index.html")
        with pytest.raises(Exception):
            page.goto("chrome://crash")
    with RecordingStore(db_path) as store:
        crashes = store.get(page.recording.id).events("crash")
    assert len(crashes) == 1 and crashes[0]["action_sequence"] == 2 and "crashed" in crashes[0]["message"]


# -- where the call came from ------------------------------------------------------------

def line_below() -> int:
    return sys._getframe(1).f_lineno + 1


def a_helper_that_clicks(page: Any) -> int:
    line = line_below()
    page.get_by_role("button", name="Log").click()
    return line


def test_each_action_records_the_line_of_code_that_made_it(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        goto_line = line_below()
        page.goto(f"{server}/events/index.html")
        helper_line = a_helper_that_clicks(page)
        fill_line = line_below()
        page.locator("#password").fill(PASSWORD)
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        sources = [a["metadata"]["source"] for a in recording.timeline()]
        kept = recording.sources()
        text = store.blob(kept[__file__]["key"]).decode()
    assert sources == [
        {"file": __file__, "line": goto_line, "function": "test_each_action_records_the_line_of_code_that_made_it"},
        {"file": __file__, "line": helper_line, "function": "a_helper_that_clicks"},
        {"file": __file__, "line": fill_line, "function": "test_each_action_records_the_line_of_code_that_made_it"},
    ]
    # The file's text, kept once, with the secret it types cut out.
    assert list(kept) == [__file__]
    lines = text.splitlines()
    assert lines[fill_line - 1].strip() == 'page.locator("#password").fill(PASSWORD)'
    assert PASSWORD not in text and 'PASSWORD = "hunter2" + "-typed"' in text


def test_async_actions_record_their_line_too(browser: Any, server: str, db_path: Path, run_async: Any) -> None:
    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> tuple[int, int]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            async with record(page, db=db_path) as page:
                goto_line = line_below()
                await page.goto(f"{server}/events/index.html")
                click_line = line_below()
                await page.get_by_role("button", name="Log").click()
                await page.wait_for_function("() => document.getElementById('out').textContent !== 'ready'")
            await browser.close()
            return goto_line, click_line

    goto_line, click_line = run_async(scenario())
    with RecordingStore(db_path) as store:
        recording = store.list()[0]
        sources = [a["metadata"]["source"] for a in recording.timeline()]
        console = [e for e in recording.events("console") if e["level"] == "log"]
    assert [(s["file"], s["line"], s["function"]) for s in sources] == [
        (__file__, goto_line, "scenario"), (__file__, click_line, "scenario")]
    assert console[0]["text"] == "hello from the page {n: 1}" and console[0]["action_sequence"] == 2


def test_async_calls_run_in_tasks_record_the_line_that_called_them(server: str, db_path: Path,
                                                                    run_async: Any) -> None:
    """gather, create_task and wait_for run the call's coroutine in a task of its own, and a
    coroutine may be awaited lines after it was made: the line is where the method was called."""
    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> dict[str, int]:
        lines: dict[str, int] = {}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            async with record(page, db=db_path) as page:
                await page.goto(f"{server}/app.html")
                lines["gather"] = line_below()
                await asyncio.gather(page.get_by_label("Name").fill("gathered"), page.locator("#notes").fill("too"))
                lines["task"] = line_below()
                await asyncio.create_task(page.get_by_label("Name").fill("in a task"))
                lines["wait_for"] = line_below()
                await asyncio.wait_for(page.get_by_label("I agree").check(), 10)
                lines["made"] = line_below()
                select = page.locator("#colour").select_option("blue")
                await asyncio.sleep(0)
                await select
            await browser.close()
        return lines

    lines = run_async(scenario())
    with RecordingStore(db_path) as store:
        recording = store.list()[0]
        sources = [a["metadata"]["source"] for a in recording.timeline()][1:]
        kept = recording.sources()
    function = "scenario"
    assert sorted(sources, key=lambda s: s["line"]) == [
        {"file": __file__, "line": lines["gather"], "function": function},
        {"file": __file__, "line": lines["gather"], "function": function},
        {"file": __file__, "line": lines["task"], "function": function},
        {"file": __file__, "line": lines["wait_for"], "function": function},
        {"file": __file__, "line": lines["made"], "function": function},
    ]
    assert list(kept) == [__file__]  # not asyncio's events.py


def test_recorded_async_methods_still_pass_for_coroutine_functions() -> None:
    from playwright.async_api import Locator, Page

    from recorder.instrument import install

    install()
    for method in (Page.click, Page.goto, Locator.fill):
        assert method.__recorder_original__ is not method  # (wrapped)
        assert asyncio.iscoroutinefunction(method)
        if sys.version_info >= (3, 12):
            assert inspect.iscoroutinefunction(method)


def test_the_pytest_plugin_records_the_test_line(pytester: pytest.Pytester, server: str) -> None:
    pytester.makeconftest(PYTESTER_CONFTEST)
    pytester.makepyfile(test_lines=f"""
def fill_name(page):
    page.get_by_label("Name").fill("Ada")

def test_lines(page):
    page.goto("{server}/app.html")
    fill_name(page)
""")
    pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db").assert_outcomes(passed=1)
    with RecordingStore(pytester.path / "rec.db") as store:
        recording = store.list()[0]
        sources = [a["metadata"]["source"] for a in recording.timeline()]
        kept = recording.sources()
    path = str(pytester.path / "test_lines.py")
    assert [(s["file"], s["line"], s["function"]) for s in sources] == [(path, 5, "test_lines"),
                                                                       (path, 2, "fill_name")]
    assert list(kept) == [path]


def test_identity_headers_are_kept_once_and_a_request_that_differs_keeps_its_own(page: Page, server: str,
                                                                                 db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(f"{server}/events/index.html")
        page.set_extra_http_headers({"User-Agent": "robot/1.0"})  # from here on, another User-Agent
        api = click_and_wait(page, "#api")
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        identity = recording.metadata["request_identity"]
        requests = [e for e in recording.events(kind="request", action=api)]
        first = recording.events(kind="request")[0]
    browser_agent = next(value for name, value in identity.items() if name.lower() == "user-agent")
    assert "robot" not in browser_agent
    assert not any(name.lower() == "user-agent" for name in first["request_headers"])  # said once, in metadata
    assert requests and all(e["request_headers"].get("User-Agent") == "robot/1.0" for e in requests)

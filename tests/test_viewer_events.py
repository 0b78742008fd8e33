"""The viewer's Console, Network, Errors and Source panels, the red marks on the actions
list, and the filter box: tests/pages/events recorded in a real Chromium, then its viewer
opened in another page and clicked through (the self-contained file and ``--serve``)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from recorder import RecordingStore, record
from recorder.viewer import render, serve_in_thread
from tests.test_viewer import assert_every_response_has_a_policy, directives, violations, watched_viewer

THIS_FILE = str(Path(__file__).resolve())
RED = "rgb(198, 40, 40)"  # --bad in viewer.css
TROUBLED = re.compile(r"\btroubled\b")  # the class of an action with page errors or failed requests
# The page's token, spelled in pieces: recorder keeps this file's text with the recording.
TOKEN = "".join(["tok", "ens3", "cr3t-", "4711"])
LOG_CALL = 'page.locator("#log").click()  # the Source tab shows this line'  # as the fixture below has it


def wait_done(page: Page, what: str) -> None:
    """Wait for the button's handler to finish (not an action recorder records)."""
    page.wait_for_function("(what) => document.getElementById('out').textContent.startsWith('done: ' + what)", arg=what)


@pytest.fixture(scope="module")
def recorded(browser, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """tests/pages/events recorded: a navigation, then clicks on #log, #fail, #missing, #api."""
    db_path = tmp_path_factory.mktemp("events") / "recordings.db"
    context = browser.new_context()
    try:
        with record(context.new_page(), db=db_path, name="events") as page:
            page.goto(f"{server}/events/index.html")
            page.locator("#log").click()  # the Source tab shows this line
            wait_done(page, "log")
            page.locator("#fail").click()
            wait_done(page, "fail")
            page.locator("#missing").click()
            wait_done(page, "missing")
            page.locator("#api").click()
            wait_done(page, "api")
    finally:
        context.close()
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        events = recording.events()
        sequences = {a["selector"]: a["sequence"] for a in recording.timeline()}
        html = render(store, recording)
    file = db_path.parent / "viewer.html"
    file.write_text(html, encoding="utf-8")
    yield {"db": db_path, "id": page.recording.id, "file": file, "events": events, "sequences": sequences,
           "requests": [e for e in events if e["kind"] == "request"]}


def of_action(recorded: dict[str, Any], selector: str, kind: str) -> list[dict[str, Any]]:
    """The recorded events of one kind during the click on ``selector``."""
    sequence = recorded["sequences"][f'locator("{selector}")']
    return [e for e in recorded["events"] if e["kind"] == kind and e["action_sequence"] == sequence]


@pytest.fixture
def viewer(recorded: dict[str, Any], context) -> Page:  # type: ignore[no-untyped-def]
    viewer = context.new_page()
    viewer.set_viewport_size({"width": 1400, "height": 900})
    viewer.goto(recorded["file"].as_uri())
    return viewer


def select(viewer: Page, selector: str) -> None:
    """Click the action on ``selector`` in the actions list."""
    viewer.locator("#timeline .row").filter(has_text=f'locator("{selector}")').click()
    expect(viewer.locator(".row.selected")).to_contain_text(f'locator("{selector}")')


def expected_labels(recorded: dict[str, Any], selector: str) -> list[str]:
    """The tab labels of the click on ``selector``, counted from what was recorded: the
    browser's favicon request (and its console error) may land on any early action."""
    count = lambda *kinds: sum(len(of_action(recorded, selector, kind)) for kind in kinds)  # noqa: E731
    return [f"Console {count('console')}", f"Network {count('request')}", f"Errors {count('error', 'crash')}", "Source"]


def tab_labels(viewer: Page) -> list[str]:
    return [" ".join(text.split()) for text in viewer.locator("#tabs .tab").all_inner_texts()]


def test_console_tab_counts_and_shows_the_actions_messages(viewer: Page, recorded: dict[str, Any]) -> None:
    select(viewer, "#log")
    labels = expected_labels(recorded, "#log")
    page_messages = [m["text"] for m in of_action(recorded, "#log", "console") if "favicon" not in m["location"]["url"]]
    assert page_messages == ["hello from the page {n: 1}", "careful now"]
    assert tab_labels(viewer) == labels
    viewer.locator("#tab-console").click()
    rows = viewer.locator("#panel-console .console-row")
    expect(rows).to_have_count(int(labels[0].split()[1]))
    hello = rows.filter(has_text="hello from the page")
    expect(hello.locator(".level")).to_have_text("log")
    expect(hello.locator(".text")).to_have_text("hello from the page {n: 1}")
    assert hello.locator(".where").inner_text().endswith("/events/app.js:8:11")  # 1-based, as an editor counts
    careful = rows.filter(has_text="careful now")
    expect(careful).to_have_class("console-row level-warning")
    expect(careful.locator(".text")).to_have_text("careful now")
    assert careful.evaluate("(e) => getComputedStyle(e).color") != "rgb(29, 35, 48)"  # coloured, not --fg
    # The next action had no messages: the label and the panel follow the selection.
    viewer.keyboard.press("ArrowRight")
    assert tab_labels(viewer)[0] == "Console 0"
    expect(viewer.locator("#panel-console")).to_contain_text("No console messages during this action.")


def test_a_page_error_shows_in_errors_and_marks_the_action_red(viewer: Page, recorded: dict[str, Any]) -> None:
    fail = viewer.locator("#timeline .row").filter(has_text='locator("#fail")')
    log = viewer.locator("#timeline .row").filter(has_text='locator("#log")')
    expect(fail).to_have_class(TROUBLED)
    assert fail.locator(".what").evaluate("(e) => getComputedStyle(e).color") == RED
    expect(fail.locator(".err")).to_have_text("1 page error")
    expect(log).not_to_have_class(TROUBLED)
    assert log.locator(".what").evaluate("(e) => getComputedStyle(e).color") != RED
    assert viewer.locator("#timeline .row.error").count() == 0  # no action itself failed
    select(viewer, "#fail")
    assert expected_labels(recorded, "#fail")[2] == "Errors 1"
    assert tab_labels(viewer) == expected_labels(recorded, "#fail")
    viewer.locator("#tab-errors").click()
    error = viewer.locator("#panel-errors .error-item")
    expect(error).to_have_count(1)
    expect(error.locator(".error-name")).to_have_text("RangeError:")
    expect(error.locator(".error-message")).to_have_text("thrown in a click handler")
    expect(error.locator(".stack")).to_contain_text("/events/app.js:15:")
    # The #missing action's failed requests mark it too; the navigation's favicon 404 (the
    # browser's own request) does not mark the navigation.
    expect(viewer.locator("#timeline .row").filter(has_text='locator("#missing")')).to_have_class(TROUBLED)
    expect(viewer.locator("#timeline .row").nth(0)).not_to_have_class(TROUBLED)


def test_failed_requests_are_red_rows_with_their_failure_in_network(viewer: Page, recorded: dict[str, Any]) -> None:
    refused = next(e for e in recorded["requests"] if "/unreachable.json" in e["url"])
    assert refused["failure"]  # what the browser said, e.g. net::ERR_UNSAFE_PORT or ERR_CONNECTION_REFUSED
    select(viewer, "#missing")
    # Its two fetches, and the console's word on each (the page's own "unreachable as expected" too).
    assert len([e for e in of_action(recorded, "#missing", "request") if "favicon" not in e["url"]]) == 2
    assert len(of_action(recorded, "#missing", "console")) >= 3
    assert tab_labels(viewer) == expected_labels(recorded, "#missing")
    viewer.locator("#tab-network").click()
    rows = viewer.locator("#panel-network tr.request")
    missing = rows.filter(has_text="/events/missing.json")
    expect(missing).to_have_class("request failed")
    expect(missing.locator(".code")).to_have_text("404")
    expect(missing.locator(".method")).to_have_text("GET")
    expect(missing.locator(".type")).to_have_text("fetch")
    assert missing.evaluate("(e) => getComputedStyle(e).color") == RED
    unreachable = rows.filter(has_text="127.0.0.1:9/unreachable.json")
    expect(unreachable).to_have_class("request failed")
    expect(unreachable.locator(".code")).to_have_text("failed")
    expect(unreachable.locator(".failure")).to_have_text(refused["failure"])
    # The console said so too, in red.
    viewer.locator("#tab-console").click()
    failed_loads = viewer.locator("#panel-console .console-row.level-error .where")
    expect(failed_loads.filter(has_text="/events/missing.json")).to_have_count(1)
    expect(failed_loads.filter(has_text="127.0.0.1:9/unreachable.json")).to_have_count(1)


def test_opening_a_request_shows_its_headers_redacted(viewer: Page) -> None:
    select(viewer, "#api")
    viewer.locator("#tab-network").click()
    row = viewer.locator("#panel-network tr.request").filter(has_text="/events/api/items.json")
    expect(row).to_have_class("request")  # a 200: not red
    expect(row.locator(".code")).to_have_text("200")
    expect(row.locator(".duration")).to_have_text(re.compile(r"^\d+ ms$"))
    details = viewer.locator("#panel-network tr.request-details").first
    expect(details).to_be_hidden()
    row.click()
    expect(details).to_be_visible()
    expect(details).to_contain_text("Request headers")
    authorization = details.locator(".pair").filter(has=viewer.locator(".pair-name", has_text="Authorization"))
    expect(authorization.locator(".pair-value")).to_have_text("[redacted]")
    assert TOKEN not in viewer.content()
    expect(details.locator(".pair").filter(has=viewer.locator(".pair-name", has_text="content-type"))).to_contain_text(
        "application/json")
    row.click()
    expect(details).to_be_hidden()


def source_line(code: str) -> int:
    """The line of this file that is ``code`` (once)."""
    lines = [n for n, line in enumerate(Path(THIS_FILE).read_text().splitlines(), 1) if line.strip() == code]
    assert len(lines) == 1, lines
    return lines[0]


def test_source_tab_shows_the_tests_own_line(viewer: Page) -> None:
    line = source_line(LOG_CALL)
    select(viewer, "#log")
    viewer.locator("#tab-source").click()
    panel = viewer.locator("#panel-source")
    expect(panel.locator(".source-where")).to_have_text(f"{THIS_FILE}:{line}")
    expect(panel.locator(".source-function")).to_have_text("in recorded")
    current = panel.locator(".source-line.current")
    expect(current).to_have_count(1)
    expect(current.locator(".line-number")).to_have_text(str(line))
    expect(current.locator(".line-text")).to_have_text(" " * 12 + LOG_CALL)
    assert panel.locator(".source-line").count() > 10  # lines around it too
    expect(panel.locator(".source-line .line-text").filter(has_text='page.locator("#fail").click()')).to_have_count(1)
    # Each action its own line.
    select(viewer, "#api")
    expect(panel.locator(".source-line.current .line-text")).to_have_text('            page.locator("#api").click()')


def test_the_filter_box_narrows_actions_and_requests(viewer: Page, recorded: dict[str, Any]) -> None:
    shown = viewer.locator("#timeline .row:not([hidden]) .what")
    expect(shown).to_have_count(5)
    viewer.locator("#filter").fill("#log")
    expect(shown).to_have_text(['locator("#log")'])
    expect(viewer.locator("#filter-count")).to_have_text("1 of 5")
    # Keys typed into the box stay there: "d" does not switch to the DOM view.
    viewer.locator("#filter").fill("")
    viewer.locator("#filter").press_sequentially("click")
    expect(viewer.locator("#filter")).to_have_value("click")
    expect(viewer.locator("#show-dom")).not_to_have_class("on")
    expect(shown).to_have_count(4)
    # By a request's URL: the action that made it, and only that request in Network.
    viewer.locator("#filter").fill("unreachable")
    expect(shown).to_have_text(['locator("#missing")'])
    select(viewer, "#missing")
    viewer.locator("#tab-network").click()
    expect(viewer.locator("#panel-network tr.request")).to_have_count(1)
    expect(viewer.locator("#panel-network tr.request")).to_contain_text("127.0.0.1:9/unreachable.json")
    made = len(of_action(recorded, "#missing", "request"))  # 2 (and the favicon's, had it come this late)
    expect(viewer.locator("#panel-network .filtered-note")).to_have_text(f"1 of {made} requests match the filter")
    # By status: the actions with a 404 (the #missing fetch; the browser's favicon request).
    viewer.locator("#filter").fill("404")
    expect(shown).to_have_count(len({e["action_sequence"] for e in recorded["requests"] if e["status"] == 404}))
    expect(shown.filter(has_text='locator("#missing")')).to_have_count(1)
    expect(viewer.locator("#panel-network tr.request")).to_have_count(1)
    expect(viewer.locator("#panel-network tr.request")).to_contain_text("/events/missing.json")
    viewer.locator("#filter").fill("nothing like this")
    expect(shown).to_have_count(0)
    expect(viewer.locator("#filter-count")).to_have_text("0 of 5")
    viewer.locator("#filter").press("Escape")
    expect(shown).to_have_count(5)
    expect(viewer.locator("#panel-network tr.request")).to_have_count(made)


def test_the_keys_step_through_the_actions_the_filter_shows(viewer: Page) -> None:
    selected = viewer.locator(".row.selected .seq")
    viewer.keyboard.press("/")  # to the filter box
    viewer.keyboard.type("#")  # the four clicks (locator("#...")), not the navigation
    expect(viewer.locator("#filter")).to_have_value("#")
    viewer.keyboard.press("Enter")  # to the first action shown; the keys step again
    expect(selected).to_have_text("2")
    viewer.keyboard.press("End")
    expect(selected).to_have_text("5")
    viewer.keyboard.press("Home")
    expect(selected).to_have_text("2")
    viewer.keyboard.press("ArrowLeft")  # the navigation is filtered out: stays
    expect(selected).to_have_text("2")
    viewer.locator("#filter").fill("#fail")
    viewer.locator("#filter").blur()
    viewer.keyboard.press("End")
    expect(selected).to_have_text("3")


def test_hostile_event_text_stays_text_and_missing_source_says_so(db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                  context) -> None:
    hostile = '<img src=x onerror="window.__pwned_by_event = 1"><b id="injected">bold</b>'
    with RecordingStore(db_path) as store:
        recording = store.start(name="hostile events")
        recording.record_event("console", {"level": "error", "text": "before " + hostile,
                                           "location": {"url": hostile, "line": 3, "column": 0}}, time_ms=1)
        recording.record_action("click", selector="#a")
        recording.record_event("error", {"name": hostile, "message": hostile, "stack": hostile}, action_sequence=1)
        recording.record_event("crash", {"message": "Aw, snap"}, action_sequence=1)
        recording.record_event("request", {"method": "POST", "url": "http://x.test/" + hostile, "resource_type": "xhr",
                                           "status": 500, "status_text": hostile, "failure": None,
                                           "request_headers": {hostile: hostile}, "response_headers": {},
                                           "request_body": hostile, "duration_ms": 4}, action_sequence=1)
        recording.complete()
        path = tmp_path / "hostile.html"
        path.write_text(render(store, store.get(recording.id)), encoding="utf-8")
    viewer = context.new_page()
    viewer.goto(path.as_uri())
    # The message from before the first action goes with the first action, and says so.
    assert tab_labels(viewer) == ["Console 1", "Network 1", "Errors 2", "Source"]
    expect(viewer.locator("#panel-console .console-row .text")).to_have_text("before " + hostile)
    expect(viewer.locator("#panel-console .console-row .time")).to_have_text("before the first action")
    expect(viewer.locator("#panel-console .where")).to_have_text(hostile + ":4:1")
    viewer.locator("#tab-errors").click()
    expect(viewer.locator("#panel-errors .error-message").nth(0)).to_have_text(hostile)
    expect(viewer.locator("#panel-errors .crash")).to_contain_text("Page crashed")
    viewer.locator("#tab-network").click()
    viewer.locator("#panel-network tr.request").click()
    expect(viewer.locator("#panel-network tr.request-details")).to_contain_text("Request body")
    expect(viewer.locator("#panel-network pre.body")).to_have_text(hostile)
    viewer.locator("#tab-source").click()
    expect(viewer.locator("#panel-source")).to_have_text("No source recorded for this action.")
    expect(viewer.locator(".row.selected")).to_have_class(TROUBLED)
    viewer.wait_for_timeout(200)
    assert viewer.locator("#injected, img[src=x]").count() == 0
    assert viewer.evaluate("Object.keys(window).filter((k) => k.startsWith('__pwned'))") == []


def test_served_viewer_shows_the_panels_and_loads_details_from_its_server(recorded: dict[str, Any], context) -> None:  # type: ignore[no-untyped-def]
    with RecordingStore(recorded["db"]) as store:
        url, server = serve_in_thread(store)
        try:
            page_html = urllib.request.urlopen(f"{url}/recording/{recorded['id']}").read().decode()
            # The events come after the first paint, a request's headers when its row is opened.
            assert "hello from the page" not in page_html and "Authorization" not in page_html
            viewer, asked, responses, refused = watched_viewer(context)
            viewer.goto(f"{url}/recording/{recorded['id']}")
            viewer.locator("body[data-events=loaded]").wait_for()
            select(viewer, "#log")
            assert tab_labels(viewer) == expected_labels(recorded, "#log")
            expect(viewer.locator("#panel-console .console-row .text").filter(has_text="hello from the page")).to_have_text(
                "hello from the page {n: 1}")
            expect(viewer.locator(".row").filter(has_text='locator("#fail")')).to_have_class(TROUBLED)
            viewer.locator("#tab-source").click()
            line = source_line(LOG_CALL)
            expect(viewer.locator("#panel-source .source-line.current .line-number")).to_have_text(str(line))
            expect(viewer.locator("#panel-source .source-line.current .line-text")).to_have_text(" " * 12 + LOG_CALL)
            select(viewer, "#api")
            viewer.locator("#tab-network").click()
            viewer.locator("#panel-network tr.request").filter(has_text="/events/api/items.json").click()
            details = viewer.locator("#panel-network tr.request-details").first
            authorization = details.locator(".pair").filter(has=viewer.locator(".pair-name", has_text="Authorization"))
            expect(authorization.locator(".pair-value")).to_have_text("[redacted]")
            viewer.locator("#filter").fill("missing.json")
            expect(viewer.locator("#timeline .row:not([hidden]) .what")).to_have_text(['locator("#missing")'])
            assert any(request.endswith("/events") for request in asked)
            assert any("/requests/" in request for request in asked)
            assert any("/source/" in request for request in asked)
            assert [r for r in asked if not r.startswith((url + "/", "data:", "blob:"))] == []
            assert refused == []
            # Every response had its policy: the page, its events, requests and source (JSON,
            # text), the screenshots; and so do the refusals.
            viewer.goto(f"{url}/recording/{recorded['id']}/source/{'0' * 64}")
            viewer.goto(f"{url}/recording/{recorded['id']}/requests/x")
            routes = {(r.url[len(url):].split("/") + [""] * 4)[3 if "/recording/" in r.url else 1]
                      for r in responses if r.status == 200}
            assert {"", "events", "requests", "source", "blob"} <= routes  # "": the page itself
            assert sum(r.status == 404 for r in responses) == 2
            assert_every_response_has_a_policy(responses, url)
            # The server gives out only the sources a recording kept.
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{url}/recording/{recorded['id']}/source/{'0' * 64}")
            assert refused.value.code == 404
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{url}/recording/{recorded['id']}/requests/x")
            assert refused.value.code == 404
        finally:
            server.shutdown()
            server.server_close()



def test_the_file_viewer_runs_under_its_policy_with_nothing_refused(recorded: dict[str, Any], context) -> None:  # type: ignore[no-untyped-def]
    """Clicked and keyed through (actions, every tab, a request opened, the filter, play, the
    DOM view): the hash-only policy refuses nothing the viewer does."""
    viewer = context.new_page()
    viewer.set_viewport_size({"width": 1400, "height": 900})
    refused = violations(viewer)
    viewer.goto(recorded["file"].as_uri())
    policy = directives(viewer.locator("meta[http-equiv=Content-Security-Policy]").get_attribute("content") or "")
    assert policy["script-src"][0].startswith("'sha256-") and len(policy["script-src"]) == 1
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    select(viewer, "#log")
    expect(viewer.locator("#panel-console .console-row").first).to_be_visible()
    select(viewer, "#api")
    viewer.locator("#tab-network").click()
    viewer.locator("#panel-network tr.request").filter(has_text="/events/api/items.json").click()
    expect(viewer.locator("#panel-network tr.request-details").first).to_be_visible()
    select(viewer, "#fail")
    viewer.locator("#tab-errors").click()
    expect(viewer.locator("#panel-errors")).not_to_be_empty()
    viewer.locator("#tab-source").click()
    expect(viewer.locator("#panel-source .source-line.current")).to_have_count(1)
    viewer.locator("#filter").fill("#")
    viewer.locator("#filter").press("Enter")
    viewer.keyboard.press("End")
    viewer.keyboard.press("d")  # the DOM view
    viewer.wait_for_function("() => !!document.getElementById('dom').dataset.settled")
    viewer.keyboard.press("ArrowLeft")
    viewer.keyboard.press("d")
    viewer.keyboard.press("Home")
    viewer.keyboard.press(" ")  # play
    expect(viewer.locator("#play")).to_have_text("\u25b6 play", timeout=15_000)
    viewer.wait_for_timeout(200)
    assert refused == []


SELECTIONS = """() => { window.__selected = [];
  new MutationObserver(() => { const row = document.querySelector('.row.selected .seq');
    if (row && window.__selected[window.__selected.length - 1] !== row.textContent) window.__selected.push(row.textContent); })
    .observe(document.getElementById('rows'), {subtree: true, attributes: true, attributeFilter: ['class']}); }"""


def test_play_steps_through_the_filtered_actions_and_stops_at_the_last(viewer: Page) -> None:
    errors: list[str] = []
    viewer.on("pageerror", lambda error: errors.append(str(error)))
    viewer.locator("#filter").fill("#")  # the four clicks
    viewer.locator("#filter").blur()
    viewer.keyboard.press("End")
    viewer.keyboard.press(" ")  # at the last action: nothing to play (this used to recurse until the stack ran out)
    expect(viewer.locator("#play")).to_have_text("\u25b6 play")
    # "ok": the actions with a request answered "200 OK", the navigation and #api.
    viewer.locator("#filter").fill("ok")
    expect(viewer.locator("#timeline .row:not([hidden]) .seq")).to_have_text(["1", "5"])
    viewer.locator("#filter").blur()
    viewer.keyboard.press("Home")
    viewer.evaluate(SELECTIONS)
    viewer.keyboard.press(" ")
    expect(viewer.locator("#play")).to_have_text("\u25b6 play", timeout=15_000)
    assert viewer.evaluate("window.__selected") == ["5"]
    assert errors == []

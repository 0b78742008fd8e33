"""A person takes over from an agent: their input captured in a user session, then handed back.

The test drives the page with real input events (page.mouse, page.keyboard) standing in
for the person; during the takeover those calls are not recorded as the agent's.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from recorder import RecordingStore, record, takeover

PERSON_SECRET = "persons-own-passphrase"


def test_takeover_records_the_person_and_hands_back(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path, name="agent") as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill("agent typed")
        with takeover(page, visitor_id="visitor-1") as person:
            name_box = page.locator("#name").bounding_box()
            page.mouse.click(name_box["x"] + 5, name_box["y"] + 5)
            page.keyboard.press("Control+A")
            page.keyboard.type("person typed")
            page.keyboard.press("Tab")
            page.locator("#password").focus()
            page.keyboard.type(PERSON_SECRET)
            page.keyboard.press("Tab")
            page.locator("#hash").click()
            page.evaluate("() => fetch(location.pathname).then((response) => response.text())")  # the page fetches
            page.wait_for_timeout(300)
        page.get_by_label("Name").fill("agent again")

    with RecordingStore(db_path) as store:
        agent = store.get(page.recording.id)
        agent_steps = agent.timeline()
        user = store.get(person.id)
        user_steps = user.timeline()
        user_requests = user.events(kind="request")

    assert [a["type"] for a in agent_steps] == ["navigate", "type", "handoff", "completion", "type"]
    handoff, completion = agent_steps[2], agent_steps[3]
    assert handoff["metadata"]["user_session_id"] == user.id == completion["metadata"]["user_session_id"]
    state = handoff["metadata"]["state"]
    assert state["url"] == server + "/app.html" and isinstance(state["cookies"], list)
    assert {"name": "name", "id": "name", "value": "agent typed"} in state["form_values"]
    assert not any(f["id"] == "password" for f in state["form_values"])
    assert completion["metadata"]["state"]["url"] == server + "/app.html#section"

    assert user.is_user_session and user.parent_id == agent.id and user.status == "completed"
    assert user.metadata["visitor_id"] == "visitor-1" and "Chrome" in user.metadata["user_agent"]
    # The person's session says which browser asked for its requests, as the agent's does.
    assert user_requests and user.metadata["request_identity"] == agent.metadata["request_identity"]
    events = [(a["type"], a["metadata"].get("event"), a["selector"], a["value"]) for a in user_steps]
    assert ("user_action", "change", 'get_by_label("Name")', "person typed") in events
    assert ("user_action", "key", 'get_by_label("Name")', "Tab") in events
    assert ("user_action", "click", 'get_by_role("link", name="Section")', None) in events
    assert ("navigate", None, None, None) in [(t, e, s, None) for t, e, s, _ in events]
    secret_change = next(a for a in user_steps if a["metadata"].get("event") == "change" and a["metadata"].get("redacted"))
    assert secret_change["value"] is None
    actions = [a for a in user_steps if a["type"] == "user_action"]
    assert all(a["dom_snapshot_key"] for a in actions) and sum(bool(a["screenshot_key"]) for a in actions) >= len(actions) - 1
    for path in db_path.parent.glob("recordings.db*"):
        assert PERSON_SECRET.encode() not in path.read_bytes()


def test_takeover_on_the_async_api(server: str, db_path: Path, run_async) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import async_playwright

    from recorder import launch_options

    async def scenario() -> tuple[int, int]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            async with record(page, db=db_path, name="async agent") as page:
                await page.goto(server + "/app.html")
                async with takeover(page, visitor_id="async-visitor") as person:
                    await page.locator("#name").click()
                    await page.keyboard.type("async person")
                    await page.keyboard.press("Tab")
                    await page.wait_for_timeout(300)
                await page.get_by_label("Name").fill("agent after")
            await browser.close()
            return page.recording.id, person.id

    agent_id, person_id = run_async(scenario())
    with RecordingStore(db_path) as store:
        agent_steps = store.get(agent_id).timeline()
        user = store.get(person_id)
        events = [(a["type"], a["metadata"].get("event"), a["value"]) for a in user.timeline()]
    assert [a["type"] for a in agent_steps] == ["navigate", "handoff", "completion", "type"]
    assert user.parent_id == agent_id and user.metadata["visitor_id"] == "async-visitor"
    assert ("user_action", "change", "async person") in events
    assert ("user_action", "key", "Tab") in events


def test_two_takeovers_entered_together_on_one_page_hand_it_over_once(server: str, db_path: Path,  # type: ignore[no-untyped-def]
                                                                      run_async) -> None:
    # Each was checked as it was made, before either had paused the agent: both ran.
    import asyncio

    from playwright.async_api import async_playwright

    from recorder import RecorderError, launch_options

    async def scenario() -> list[str]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            page = await browser.new_page()
            async with record(page, db=db_path) as page:
                await page.goto(server + "/app.html")

                async def hand_over() -> str:
                    try:
                        async with takeover(page):
                            await page.wait_for_timeout(200)
                        return "ok"
                    except RecorderError as error:
                        return f"refused: {error}"

                outcomes = await asyncio.gather(hand_over(), hand_over())
                await page.get_by_label("Name").fill("agent after")
            await browser.close()
            return outcomes

    outcomes = run_async(scenario())
    assert sorted(outcomes) == ["ok", "refused: this page is already taken over"], outcomes
    with RecordingStore(db_path) as store:
        recordings = store.list()
        assert len(recordings) == 2  # the agent's and one person's
        agent = next(r for r in recordings if r.parent_id is None)
        assert [a["type"] for a in agent.timeline()] == ["navigate", "handoff", "completion", "type"]


def test_a_later_takeover_with_new_redact_selectors_redacts_after_navigating(page: Page, server: str, db_path: Path) -> None:
    """The listeners' init script kept the redact list of the page's first takeover."""
    with record(page, db=db_path, name="first"):
        with takeover(page):
            pass
    card = "4111111111111111"
    with record(page, db=db_path, name="second", redact=["#card"]) as page:
        with takeover(page) as person:
            page.goto(server + "/app.html")  # a new document: listeners come from the init script
            page.get_by_test_id("card").fill(card)
            page.get_by_test_id("card").press("Tab")
            page.wait_for_timeout(300)
    with RecordingStore(db_path) as store:
        changes = [a for a in store.get(person.id).timeline() if a["metadata"].get("event") == "change"]
    assert changes and all(a["value"] is None and a["metadata"]["redacted"] for a in changes)
    for path in db_path.parent.glob("recordings.db*"):
        assert card.encode() not in path.read_bytes()


def test_a_takeover_that_cannot_start_hands_the_page_straight_back(page: Page, server: str, db_path: Path) -> None:
    """The agent stayed paused for good when the listeners could not be installed."""
    import pytest

    with record(page, db=db_path, name="agent") as page:
        page.goto(server + "/app.html")
        # the page refuses recorder's listeners (any page script error would do)
        page.evaluate("() => Object.defineProperty(window, '__recorderRedact', {set() { throw new Error('no listeners here') }})")
        with pytest.raises(RuntimeError, match="no listeners here"):
            with takeover(page):
                pass
        page.get_by_label("Name").fill("agent goes on")

    with RecordingStore(db_path) as store:
        agent_steps = store.get(page.recording.id).timeline()
        (user,) = [r for r in store.list() if r.is_user_session]
    assert [a["type"] for a in agent_steps] == ["navigate", "handoff", "completion", "type"]
    assert agent_steps[-1]["value"] == "agent goes on"
    assert user.status == "failed" and "no listeners here" in user.error

"""Secrets never reach the database: not through values, URLs, DOM snapshots, metadata or
error messages, however the page echoes them. Each case here was a leak once.

Snapshots are compressed, so "nowhere" means the raw file *and* every decoded blob,
every text column and every metadata document.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Error, Page, expect

from recorder import RecordingStore, record
from tests.conftest import ArrivingSite

SECRET = "s3cret-Passphrase-42"


def stored_text(db_path: Path) -> str:
    """Everything the database holds, decoded: columns, metadata and every blob that is text."""
    parts: list[str] = []
    with sqlite3.connect(db_path) as conn:
        for table in ("recordings", "actions", "events"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                parts.extend(str(column) for column in row)
        keys = [row[0] for row in conn.execute("SELECT key FROM blobs WHERE media_type = 'text/html'")]
    with RecordingStore(db_path) as store:
        parts.extend(store.blob(key).decode("utf-8", "replace") for key in keys)
    raw = b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*"))
    parts.append(raw.decode("latin-1"))
    return "\n".join(parts)


def only(db_path: Path, recording_id: int, api: str) -> dict:
    with RecordingStore(db_path) as store:
        return next(a for a in store.get(recording_id).timeline() if a["metadata"].get("api") == api)


def test_a_value_the_page_echoes_into_the_url_while_typing(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path, redact=["#ssn"]) as page:
        page.goto(server + "/odd/echo.html")
        page.get_by_label("SSN").fill(SECRET)
        page.get_by_label("Name").fill("after")
    assert page.url.endswith(SECRET)  # the app really did put it in the URL
    assert SECRET not in stored_text(db_path)


def test_a_password_the_page_shows_back_stays_out_of_the_metadata(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/echo.html")
        page.locator("#pw").fill(SECRET)
        page.get_by_text("Your password").click()  # its text, stored as the target's, quotes the secret
    assert SECRET not in stored_text(db_path)


def test_a_failure_message_quoting_a_secret_is_scrubbed(page: Page, server: str, db_path: Path) -> None:
    with pytest.raises(AssertionError) as raised:
        with record(page, db=db_path) as page:
            page.goto(server + "/odd/echo.html")
            page.locator("#pw").fill(SECRET)
            expect(page.locator("#echo")).to_have_text("strong", timeout=300)
    assert SECRET in str(raised.value)  # the user's own exception is untouched
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
    assert recording.status == "failed" and "[redacted]" in recording.error
    assert SECRET not in stored_text(db_path)


def test_key_names_pressed_in_a_password_field_are_not_secrets(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/echo.html")
        page.locator("#pw").fill(SECRET)
        page.locator("#pw").press("Enter")
        page.locator("#pw").press("x")  # a character: could be part of a secret
        page.get_by_label("Name").fill("Enter again")
    assert only(db_path, page.recording.id, "Locator.press")["value"] == "Enter"
    with RecordingStore(db_path) as store:
        timeline = store.get(page.recording.id).timeline()
    presses = [a for a in timeline if a["type"] == "key_press"]
    assert [(a["value"], a["metadata"].get("redacted")) for a in presses] == [("Enter", None), (None, True)]
    assert timeline[-1]["value"] == "Enter again"


def test_a_value_for_an_element_that_could_not_be_inspected_is_withheld(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path, redact=["#card-later"]) as page:
        page.goto(server + "/odd/echo.html")
        with pytest.raises(Error):
            page.fill("#card-later", SECRET, timeout=300)  # never appears: its redaction cannot be checked
    action = only(db_path, page.recording.id, "Page.fill")
    assert action["status"] == "error" and action["value"] is None
    assert action["metadata"]["redacted_because"] == "the target element could not be inspected"
    assert SECRET not in stored_text(db_path)


def sign_in_arriving(page: Page, db_path: Path, field: str, then: Callable[[Page], None]) -> Page:
    """Record: a link to a sign-in page whose ``field`` (HTML) arrives 0.5 s after its
    heading, clicked; then ``then``, typing SECRET into it at once. The recorded page."""
    site = ArrivingSite({
        "/index.html": [b'<!doctype html><html><body><a href="/login.html">Sign in</a></body></html>'],
        "/login.html": [b'<!doctype html><html><body><h1>Sign in</h1>', f"{field}</body></html>".encode()],
    })
    try:
        with record(page, db=db_path) as page:
            page.goto(site.url + "/index.html")
            page.get_by_role("link", name="Sign in").click()
            then(page)
    finally:
        site.stop()
    return page


def test_a_password_field_of_a_document_still_arriving_keeps_what_the_page_echoes_secret(
        page: Page, db_path: Path) -> None:
    """It was a leak: the field not yet there when asked for, what the page reported while the
    value was typed (a console message, a URL quoting it) was stored before the field was seen."""
    echo = "console.log('typed ' + this.value); history.replaceState(null, '', '?pw=' + this.value)"

    def type_password(page: Page) -> None:
        page.locator("#pw").fill(SECRET)
        page.locator("#pw").press("Tab")

    page = sign_in_arriving(page, db_path, f'<input type="password" id="pw" oninput="{echo}">', type_password)
    assert page.url.endswith("?pw=" + SECRET)  # the page really did echo it
    with RecordingStore(db_path) as store:
        texts = [e["text"] for e in store.get(page.recording.id).events(kind="console")]
    assert "typed [redacted]" in texts, texts
    fill = only(db_path, page.recording.id, "Locator.fill")
    assert fill["value"] is None and fill["metadata"]["target"]["type"] == "password", fill
    assert SECRET not in stored_text(db_path)


def test_a_value_typed_into_an_element_never_seen_is_cut_out_of_what_the_page_echoes(
        page: Page, db_path: Path) -> None:
    """Fail closed: withheld because its field could not be inspected (it replaced itself as
    it was typed into), the value is cut out of the rest of the recording as a secret is."""
    swap = "console.log('typed ' + this.value); this.replaceWith(document.createElement('textarea'))"

    def type_code(page: Page) -> None:
        page.locator("#code").fill(SECRET)
        page.locator("textarea").fill("after")

    page = sign_in_arriving(page, db_path, f'<input id="code" oninput="{swap}">', type_code)
    fill = only(db_path, page.recording.id, "Locator.fill")
    assert fill["value"] is None and fill["metadata"]["redacted_because"] == "the target element could not be inspected"
    assert SECRET not in stored_text(db_path)


ODD_SECRET = "Zq7@hunter!s&cret"  # characters each encoder writes its own way
ECHOING = """<!doctype html><html><body><p><label for="pw">Password</label>
<input type="password" id="pw" oninput="
  console.log('typed ' + this.value);
  fetch('/echo?p=' + encodeURIComponent(this.value));
  history.replaceState(null, '', '#' + this.value);
  if (this.value.endsWith('t')) alert('got ' + this.value)"></p></body></html>"""


@pytest.mark.parametrize("how", ["fill through its label", "press_sequentially", "keyboard.press, a key at a time"])
def test_a_secret_the_page_echoes_as_it_is_typed_is_cut_out_whole_and_as_it_grew(
        page: Page, db_path: Path, how: str) -> None:
    """They were leaks: a fill through a <label> (its field was not seen as secret), the value
    so far as each key was typed, keys pressed one at a time (each too short to be a secret),
    an alert quoting it, and the secret percent-encoded by JavaScript or HTML-escaped."""
    site = ArrivingSite({"/index.html": [ECHOING.encode()]})
    try:
        with record(page, db=db_path) as page:
            page.goto(site.url + "/index.html")
            if how == "fill through its label":
                page.get_by_text("Password").fill(ODD_SECRET)
            elif how == "press_sequentially":
                page.locator("#pw").press_sequentially(ODD_SECRET)
            else:
                page.locator("#pw").click()
                for key in ODD_SECRET:
                    page.keyboard.press(key)
            page.wait_for_timeout(200)  # the last echoes
    finally:
        site.stop()
    with RecordingStore(db_path) as store:
        recording = store.get(page.recording.id)
        texts = [e["text"] for e in recording.events(kind="console") if e["text"].startswith("typed")]
        dialogs = [a["value"] for a in recording.timeline() if a["type"] == "dialog"]
    # The page did echo it (an alert at each "t": as it grew, and whole).
    assert texts and dialogs and set(dialogs) == {"got [redacted]"}, (texts, dialogs)
    stored = stored_text(db_path)
    for form in (ODD_SECRET, "Zq7%40hunter!s%26cret", "Zq7@hunter!s&amp;cret", ODD_SECRET[:-1], ODD_SECRET[:8]):
        assert form not in stored, form


@pytest.mark.parametrize("method", ["select_option", "set_input_files"])
def test_each_of_several_values_chosen_in_a_redacted_field_is_cut_out(page: Page, db_path: Path, tmp_path: Path,
                                                                      method: str) -> None:
    """It was a leak: a list of values was remembered as one JSON text, which no echo matches."""
    upload = tmp_path / f"{SECRET}.txt"
    upload.write_text("x")
    site = ArrivingSite({"/index.html": [b"""<!doctype html><html><body>
<select id="field" multiple onchange="console.log('chose ' + Array.from(this.selectedOptions).map((o) => o.value))">
<option value="Zq7-private-choice">Mine</option><option value="other">Other</option></select>
<input type="file" id="upload" multiple onchange="console.log('chose ' + Array.from(this.files).map((f) => f.name))">
</body></html>"""]})
    try:
        with record(page, db=db_path, redact=["#field", "#upload"]) as page:
            page.goto(site.url + "/index.html")
            if method == "select_option":
                page.locator("#field").select_option(["Zq7-private-choice", "other"])
            else:
                page.locator("#upload").set_input_files([upload])
            page.wait_for_timeout(200)
    finally:
        site.stop()
    with RecordingStore(db_path) as store:
        texts = [e["text"] for e in store.get(page.recording.id).events(kind="console")]
    assert any(t.startswith("chose [redacted]") for t in texts), texts
    chosen = "Zq7-private-choice" if method == "select_option" else SECRET
    assert f"chose {chosen}" not in stored_text(db_path)


def test_one_value_that_only_looks_like_a_list_chosen_in_a_redacted_field(page: Page, db_path: Path) -> None:
    """Each of a list's values is read back from its JSON; one value that merely starts with
    "[" must not break the call it was chosen with."""
    page.set_content('<select id="field"><option>[Zq7-odd</option><option>other</option></select>')
    with record(page, db=db_path, redact=["#field"]) as page:
        page.select_option("#field", "[Zq7-odd")
    assert page.locator("#field").input_value() == "[Zq7-odd"
    action = only(db_path, page.recording.id, "Page.select_option")
    assert action["status"] == "ok" and action["value"] is None


@pytest.mark.parametrize("where", ["shadow root", "iframe"])
def test_redact_reaches_into_shadow_roots_and_frames(page: Page, server: str, db_path: Path, where: str) -> None:
    with record(page, db=db_path, redact=["#host" if where == "shadow root" else "#inner-frame"]) as page:
        page.goto(server + "/odd/shadow.html")
        if where == "shadow root":
            page.locator("#host #shadow-input").fill(SECRET)
        else:
            page.frame_locator("#inner-frame").get_by_label("Inner").fill(SECRET)
    action = only(db_path, page.recording.id, "Locator.fill")
    assert action["value"] is None and action["metadata"]["redacted"] is True
    assert SECRET not in stored_text(db_path)


def test_typing_into_a_frame_the_page_cannot_see_into_is_withheld(page: Page, server: str, db_path: Path) -> None:
    other_origin = server.replace("127.0.0.1", "localhost")  # same server, another origin
    with record(page, db=db_path) as page:
        page.goto(server + "/odd/echo.html")
        page.evaluate("(url) => { document.getElementById('frame').src = url; }", other_origin + "/frame.html")
        page.frame_locator("#frame").locator("#inner").click()
        page.keyboard.type(SECRET)
    action = only(db_path, page.recording.id, "Keyboard.type")
    assert action["value"] is None and action["metadata"]["redacted"] is True
    assert SECRET not in stored_text(db_path)


def test_a_redacted_contenteditable_is_emptied_in_dom_snapshots(page: Page, server: str, db_path: Path) -> None:
    with record(page, db=db_path, redact=["#rich"]) as page:
        page.goto(server + "/odd/echo.html")
        page.locator("#rich").click()
        for character in "hidden":  # one key at a time: too short for the scrubber to know
            page.keyboard.press(character)
    assert page.locator("#rich").inner_text().endswith("hidden")
    with RecordingStore(db_path) as store:
        timeline = store.get(page.recording.id).timeline()
        html = store.blob(timeline[-1]["dom_snapshot_key"]).decode()
    assert 'id="rich"' in html and "data-recorder-redacted" in html and "hidden" not in html
    assert json.dumps([a["value"] for a in timeline if a["type"] == "key_press"]) == json.dumps([None] * 6)

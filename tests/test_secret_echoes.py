"""Secrets written back in other forms than typed, or in part: JSON and Python string
literals, a form's CRLF and legacy charset, a console preview or a clipped message that
cut a long token, a picture the server drew, a screenshot with no snapshot beside it, a
person typing during a takeover, a password in a URL. Each case here was a leak once
(found by hunting with real pages: tests/test_secrets.py holds the earlier ones).
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Page

from recorder import RecordingStore, record, takeover
from recorder.scrub import SecretScrubber, secret_forms
from tests.conftest import PYTESTER_CONFTEST, _LocalSite
from tests.test_secret_pixels import painted_share
from tests.test_secrets import stored_text

pytest_plugins = ["pytester"]

TOKEN = "tok-" + hashlib.sha256(b"key").hexdigest() + hashlib.sha256(b"jwt").hexdigest()  # 132 characters


def everything_stored(db_path: Path) -> str:
    """stored_text, with every blob (resources, sources) and the run tables too."""
    parts = [stored_text(db_path)]
    with sqlite3.connect(db_path) as conn:
        keys = [row[0] for row in conn.execute("SELECT key FROM blobs WHERE key NOT LIKE 'tile:%'")]
        for table in ("runs", "run_tests"):
            parts.extend(str(column) for row in conn.execute(f"SELECT * FROM {table}") for column in row)
    with RecordingStore(db_path) as store:
        parts.extend(store.blob(key).decode("utf-8", "replace") for key in keys)
    return "\n".join(parts)


class EchoSite(_LocalSite):
    """``/page?n=NAME``: PAGES[NAME]; ``/echo``: the query (or POST body) back as JSON;
    ``/badge.svg?t=X``: X drawn into an SVG; ``/latin?...``: a windows-1252 page."""

    PAGES: dict[str, str] = {}

    def __init__(self) -> None:
        import http.server

        pages = self.PAGES

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, encoding="cp1252").items()}
                if parts.path == "/page":
                    self.reply(pages[query["n"]].encode("cp1252" if query["n"] == "latin" else "utf-8"),
                               "text/html; charset=" + ("windows-1252" if query["n"] == "latin" else "utf-8"))
                elif parts.path == "/echo":
                    self.reply(json.dumps(query).encode(), "application/json")
                elif parts.path == "/show":  # the key sent, shown back
                    key = query.get("t", "").replace("&", "&amp;").replace("<", "&lt;").replace("'", "&#39;")
                    self.reply((pages["show"] + f"<input id=key value='{key}'><p>key {key}</p>"
                                "<button id=noop>n</button>").encode(), "text/html; charset=utf-8")
                elif parts.path == "/badge.svg":
                    text = query.get("t", "").replace("&", "&amp;").replace("<", "&lt;")
                    self.reply(f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="20"><text y="15">'
                               f'{text}</text></svg>'.encode(), "image/svg+xml")
                else:
                    self.reply(b"<p>done</p>", "text/html")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply(json.dumps({"received": body.decode()}, ensure_ascii=True).encode(), "application/json")

        super().__init__(Handler)


@pytest.fixture(scope="module")
def echo_site() -> Any:
    site = EchoSite()
    yield site.url
    site.stop()


def page_named(name: str, html: str) -> str:
    EchoSite.PAGES[name] = html
    return f"/page?n={name}"


# -- the forms a secret is written in (pure logic) -----------------------------------------


@pytest.mark.parametrize("written", [
    pytest.param(lambda s: json.dumps({"pw": s}), id="JSON.stringify"),
    pytest.param(lambda s: json.dumps({"pw": s}, ensure_ascii=True), id="json with non-ASCII escaped"),
    pytest.param(lambda s: f"assert {s!r} == 'x'", id="repr in an assertion"),
    pytest.param(lambda s: ascii(s), id="ascii() in a test file"),
    pytest.param(lambda s: "?" + urlencode({"note": s.replace("\n", "\r\n")}, encoding="cp1252"),
                 id="a form in windows-1252, newlines as CRLF"),
])
def test_a_secret_is_cut_out_in_each_form_it_is_written_in(written: Any) -> None:
    secret = 'C:\\Users\\café "x"\nline two'
    scrub = SecretScrubber()
    scrub.add(secret)
    text = written(secret)
    assert secret not in text or text == secret  # (the form differs from the secret itself)
    assert scrub(text) is not None and "caf" not in scrub(text) and "line two" not in scrub(text), scrub(text)


def test_a_no_break_space_as_the_serializer_escapes_it() -> None:
    assert "nb&nbsp;sp-secret" in secret_forms("nb\xa0sp-secret")


def test_what_is_left_of_a_long_secret_cut_short_is_cut_out_too() -> None:
    scrub = SecretScrubber()
    scrub.add(TOKEN)
    for text in (f"{{pw: '{TOKEN[:50]}…{TOKEN[-50:]}'}}",  # Chromium's console preview
                 f"assert '{TOKEN[:12]}...{TOKEN[-12:]}' == 'x'",  # pytest's shortened repr
                 f"value={TOKEN[:16]}"):  # a field's maxlength
        assert TOKEN[:12] not in (scrub(text) or ""), scrub(text)
        assert TOKEN[-12:] not in (scrub(text) or "") or TOKEN[-12:] not in text, scrub(text)
    ordinary = f"a sentence with tok- in it and {TOKEN[40:51]}"  # shorter runs stay
    assert scrub(ordinary) == ordinary


def test_a_long_text_cut_to_its_limit_keeps_no_part_of_a_secret_the_cut_came_through() -> None:
    # Each secret cut out before the limit moved the rest left: an encoded form cut off at
    # the end of the window scrubbed was kept in part.
    import functools

    from recorder import events

    scrub = SecretScrubber()
    scrub.add("pa ss/wo rd-C3")
    encoded = "pa%20ss%2Fwo%20rd-C3"
    body = ("x" * 10 + encoded) * 30 + "y" * 100 + encoded + "z" * 5000
    kept = events.clipped({"request_body": body}, 1000, functools.partial(scrub, reported=True),
                          scrub.longest_form)["request_body"]
    assert "more characters]" in kept and "pa%20" not in kept and "%2Fwo" not in kept, kept[-120:]


@pytest.mark.parametrize("url, password", [
    ("https://me@example.com:tok3n-abc@git.host/", "tok3n-abc"),  # a user name with an @
    ("http://user:p@ss-w0rd@host/x", "p@ss-w0rd"),  # a password with one: the last @ ends it
    ("postgresql://postgres:postgres@localhost/postgres", "postgres"),
])
def test_a_password_in_a_url_is_found_whole_and_replaced_where_it_stands(url: str, password: str) -> None:
    from recorder.storage.engine import redact
    from recorder.urls import url_passwords

    assert password in url_passwords(url)
    assert redact(url).count("***") == 1 and redact(url).endswith(url[url.rindex("@"):]), redact(url)


# -- with a real browser ---------------------------------------------------------------------


def test_a_secret_the_page_logs_and_sends_as_json_and_the_server_echoes(page: Page, echo_site: str,
                                                                       db_path: Path) -> None:
    secret = 'pä"ss\\wörd-' + "9f8e7d6c"
    path = page_named("json", """<input type=password id=pw><button id=go>go</button><script>
      go.onclick = async () => {
        const body = JSON.stringify({pw: pw.value});
        console.log('sending', body);
        console.log({pw: pw.value + '-' + 'x'.repeat(120)});  // an object: Chromium previews it, cut
        const answer = await fetch('/save', {method: 'POST', body});
        console.log('answer', await answer.text());
      };</script>""")
    with record(page, db=db_path, bodies=True) as page:
        page.goto(echo_site + path)
        page.fill("#pw", secret)
        page.click("#go")
        page.wait_for_timeout(300)
    stored = everything_stored(db_path)
    texts = [e.get("text") or "" for e in page.recording.events(kind="console")]
    assert any(text.startswith("answer") for text in texts), texts  # the echo did come back
    for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=True)[1:-1], secret[-14:]):
        assert form not in stored, form


def test_a_long_token_across_the_cut_of_a_long_message_leaves_nothing(page: Page, echo_site: str,
                                                                     db_path: Path) -> None:
    path = page_named("long", """<input id=key><button id=go>go</button><script>
      go.onclick = () => console.log('x'.repeat(9990) + key.value + 'y'.repeat(50));  // cut at its 10,000th
      </script>""")
    with record(page, db=db_path, redact=["#key"]) as page:
        page.goto(echo_site + path)
        page.fill("#key", TOKEN)
        page.click("#go")
        page.wait_for_timeout(200)
    (message,) = page.recording.events(kind="console")
    assert message["text"].startswith("x" * 9000) and "more characters" in message["text"]  # (no more of it than is safe)
    assert TOKEN[:10] not in everything_stored(db_path)


def test_a_picture_the_server_draws_the_secret_into_is_kept_without_it(page: Page, echo_site: str,
                                                                      db_path: Path) -> None:
    path = page_named("badge", """<input id=key><button id=go>go</button><img id=badge><script>
      go.onclick = () => { badge.src = '/badge.svg?t=' + encodeURIComponent(key.value); };</script>""")
    with record(page, db=db_path, redact=["#key"]) as page:
        page.goto(echo_site + path)
        page.fill("#key", "badge-secret-4711")
        page.click("#go")
        page.wait_for_function("() => document.getElementById('badge').complete")
        page.get_by_role("button").click()  # its snapshot keeps the picture
    with sqlite3.connect(db_path) as conn:
        svgs = conn.execute("SELECT count(*) FROM resources WHERE media_type = 'image/svg+xml'").fetchone()[0]
    assert svgs == 1  # it was kept, as the snapshot needs it
    assert "badge-secret-4711" not in everything_stored(db_path)


def test_a_textarea_sent_by_a_form_and_a_form_in_a_legacy_charset(page: Page, echo_site: str, db_path: Path) -> None:
    note, pin = "first line\nsecond lïne 7f3e", "pïn-é-2231"
    textarea = page_named("notes", "<form action=/done><textarea id=note name=note></textarea>"
                                   "<button>send</button></form>")
    latin = page_named("latin", "<form action=/done><input id=pin name=pin><button>send</button></form>")
    with record(page, db=db_path, redact=["#note", "#pin"]) as page:
        page.goto(echo_site + textarea)
        page.fill("#note", note)
        page.get_by_role("button").click()
        page.wait_for_url("**/done?**")
        page.goto(echo_site + latin)
        page.fill("#pin", pin)
        page.get_by_role("button").click()
        page.wait_for_url("**/done?**")
    assert "note=[redacted]" in page.recording.timeline()[3]["url"]  # the whole value, CRLF and all
    stored = everything_stored(db_path)
    # (worked out here: this file's own text is stored, as the source of the calls)
    for form in (quote_plus(note.replace("\n", "\r\n")), quote_plus(note[11:]), quote_plus(pin, encoding="cp1252")):
        assert form not in stored, form


def test_a_secret_cut_short_by_maxlength_and_shown_by_a_show_button(page: Page, echo_site: str,
                                                                    db_path: Path) -> None:
    path = page_named("maxlength", """<input type=password id=pw maxlength=16>
      <button id=show onclick="pw.type = 'text'">show</button>""")
    with record(page, db=db_path) as page:
        page.goto(echo_site + path)
        page.fill("#pw", TOKEN)  # the field keeps 16 characters of it
        page.click("#show")
        box = page.locator("#pw").bounding_box()
    assert page.locator("#pw").input_value() == TOKEN[:16]
    assert TOKEN[:16] not in everything_stored(db_path)
    with RecordingStore(db_path) as store:
        last = store.get(page.recording.id).timeline()[-1]
        image = Image.open(io.BytesIO(store.blob(last["screenshot_key"]))).convert("RGB")
    assert box is not None and painted_share(image, box, image.width / page.viewport_size["width"]) > 0.8


def test_without_dom_snapshots_screenshots_are_still_painted_over(page: Page, server: str, tmp_path: Path) -> None:
    db = tmp_path / "nodom.db"
    with record(page, db=db, dom=False, redact=["#ssn"]) as page:
        page.goto(f"{server}/secrets/index.html")
        page.fill("#ssn", "123-45-6789")
        page.fill("#pw", "hunter2-pw")
        boxes = {name: page.locator(f"#{name}").bounding_box() for name in ("ssn", "pw")}
        page.get_by_role("button", name="Show what I typed").click()
    with RecordingStore(db) as store:
        last = store.get(page.recording.id).timeline()[-1]
        assert last["dom_snapshot_key"] is None
        image = Image.open(io.BytesIO(store.blob(last["screenshot_key"]))).convert("RGB")
    scale = image.width / page.viewport_size["width"]
    shares = {name: painted_share(image, box, scale) for name, box in boxes.items() if box}
    assert len(shares) == 2 and all(share > 0.8 for share in shares.values()), shares


def test_the_next_page_showing_a_typed_secret_is_painted_over_in_every_screenshot(
        page: Page, echo_site: str, tmp_path: Path) -> None:
    # The frame after a click that navigates shows the new page; the boxes of the page it
    # left (or of a snapshot lost with it) must not be what is painted over it.
    style = "<style>#key,p{font:40px monospace;color:#00c000;width:700px;height:60px;display:block;border:0}</style>"
    EchoSite.PAGES["show"] = style
    form = page_named("key-form", style + "<form action=/show><input id=key name=t><button id=go>go</button></form>")
    for attempt in range(3):  # (it showed in 2 runs of 3)
        page = page.context.new_page()
        page.set_viewport_size({"width": 800, "height": 400})
        db = tmp_path / f"attempt{attempt}.db"
        key = f"K{attempt}c91d2e4a6b8"
        with record(page, db=db, redact=["#key"]) as page:
            page.goto(echo_site + form)
            page.fill("#key", key)
            page.click("#go")
            page.wait_for_timeout(500)
            page.goto(f"{echo_site}/show?t={key}", wait_until="commit")
            page.wait_for_timeout(500)
            page.click("#noop")
        with RecordingStore(db) as store:
            for action in store.get(page.recording.id).timeline():
                image = Image.open(io.BytesIO(store.blob(action["screenshot_key"]))).convert("RGB")
                pixels = image.tobytes()
                green = sum(1 for i in range(0, len(pixels), 3)
                            if pixels[i + 1] > 150 and pixels[i] < 90 and pixels[i + 2] < 90)
                # "key " alone is ~400 such pixels; the secret beside it, thousands
                assert green < 800, (attempt, action["sequence"], action["type"], green)
        page.close()


def test_without_snapshots_the_last_frames_of_a_page_the_recording_ends_on_are_painted_over(
        page: Page, echo_site: str, db_path: Path) -> None:
    # With dom=False nothing looked at the page the last click led to: its frames were
    # stored with the boxes of the page before it.
    style = "<style>#key,p{font:40px monospace;color:#00c000;width:700px;height:60px;display:block;border:0}</style>"
    EchoSite.PAGES["show"] = style
    form = page_named("key-form-nodom", style + "<input id=key><button onclick=\"setTimeout(() => "
                                                "location = '/show?t=' + key.value, 200)\">go</button>")
    page.set_viewport_size({"width": 800, "height": 400})
    with record(page, db=db_path, dom=False, redact=["#key"]) as page:
        page.goto(echo_site + form)
        page.fill("#key", "K9d81c2e4a6b8")
        page.get_by_role("button").click()
        page.wait_for_selector("p")
    with RecordingStore(db_path) as store:
        for action in store.get(page.recording.id).timeline():
            if action["screenshot_key"]:
                pixels = Image.open(io.BytesIO(store.blob(action["screenshot_key"]))).convert("RGB").tobytes()
                green = sum(1 for i in range(0, len(pixels), 3)
                            if pixels[i + 1] > 150 and pixels[i] < 90 and pixels[i + 2] < 90)
                assert green < 800, (action["sequence"], action["type"], green)


def test_what_a_person_types_into_a_password_field_during_a_takeover(page: Page, echo_site: str,
                                                                     db_path: Path) -> None:
    path = page_named("takeover", """<input id=user><input type=password id=pw><button id=go>go</button>
      <script>pw.addEventListener('input', () => {
        console.log('typed', pw.value); fetch('/echo?pw=' + encodeURIComponent(pw.value));
      });</script>""")
    with record(page, db=db_path) as page:
        page.goto(echo_site + path)
        with takeover(page) as person:
            page.click("#pw")
            page.keyboard.type("Person-pw-5d4c3b")  # as the person would, key by key
            page.wait_for_timeout(300)
            page.click("#go")
        page.click("#user")
    requests = [e for e in person.events(kind="request") if "/echo" in e["url"]]
    assert len(requests) == len("Person-pw-5d4c3b")  # what the page did was recorded
    stored = everything_stored(db_path)
    typed = "Person-pw-5d4c3b"
    for prefix in (typed, typed[:9], typed[:4]):  # (not written out: this file's text is stored too)
        assert prefix not in stored, prefix


def test_a_takeover_right_after_a_navigation_keeps_the_last_actions_screenshot(page: Page, echo_site: str,
                                                                               db_path: Path) -> None:
    # Settling the frames as the takeover began dropped the click's: the page it led to had
    # not been looked at yet, and a secret had been typed.
    second = page_named("second-factor", "<p>Enter the code</p><input id=code>")
    first = page_named("sign-in", f"<input type=password id=pw><a id=go href='{second}'>Sign in</a>")
    with record(page, db=db_path) as page:
        page.goto(echo_site + first)
        page.fill("#pw", "Sign-in-pw-4411")
        page.click("#go")
        with takeover(page):
            page.fill("#code", "123456")
    click = next(a for a in page.recording.timeline() if a["type"] == "click")
    assert click["screenshot_key"] is not None


def test_a_password_in_a_url_is_as_secret_as_a_typed_one(page: Page, echo_site: str, db_path: Path) -> None:
    host = urlsplit(echo_site).netloc
    with record(page, db=db_path) as page:
        page.goto(f"http://ada:url-pw-0e1f2a@{host}/page?n=takeover")
        page.click("#user")
    assert "url-pw-0e1f2a" not in everything_stored(db_path)
    assert "ada:[redacted]@" in page.recording.timeline()[0]["value"]


def test_a_recorded_tests_failure_message_and_the_runs_arguments_keep_no_secret(
        pytester: pytest.Pytester, echo_site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_URL", echo_site)
    page_named("login", "<input type=password id=pw>")
    pytester.makeconftest(PYTESTER_CONFTEST)
    pytester.makepyfile(test_login="""
import os

def test_login(page):
    page.goto(os.environ["ECHO_URL"] + "/page?n=login")
    page.fill("#pw", "Typed-pw-" + "a1b2c3d4e5f6a7b8c9d0")
    assert page.input_value("#pw") == "something else"
""")
    result = pytester.runpytest_subprocess("--record", "on", "--record-db", "rec.db",
                                           "--record-push", "postgresql://ci:push-pw-77@127.0.0.1:1/none")
    result.assert_outcomes(failed=1)
    stored = everything_stored(pytester.path / "rec.db")
    assert "test_login" in stored and "something else" in stored  # the message is there, cut
    for secret in ("Typed-pw-a1b2c3d4e5f6", "a1b2c3d4e5f6", "push-pw-77"):
        assert secret not in stored, secret

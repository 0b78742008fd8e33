"""Secrets typed into a page, cut out of everything else recorder stores.

A value typed into a password or redacted field is never stored where it was typed; but an
app may echo it anywhere: a GET form puts it in the next URL, a page logs it or shows it
back, a server answers with it, an assertion quotes it. Every text recorder stores after a
secret is known passes through :class:`SecretScrubber`, which cuts out each way the secret
may have been written there (``secret_forms``) and what is left of a long one that
something shortened (a console preview, a clipped message, an assertion's diff, a field's
``maxlength``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from .model import REDACTED

__all__ = ["SecretScrubber", "secret_forms"]

# Characters each way of percent-encoding leaves as they are (besides ASCII letters and
# digits): RFC 3986's unreserved (Python's quote), JavaScript's encodeURIComponent, an
# HTML form's application/x-www-form-urlencoded.
_KEPT_BY_URL_ENCODERS = ("-_.~", "-_.!~*'()", "-_.*")
# The only printable ASCII characters a browser encodes in a URL's fragment, query and path
# (WHATWG URL's percent-encode sets; the rest of what a page puts there stays as it is).
_ENCODED_IN_URL_PARTS = (' "<>`', ' "#<>\'', ' "#<>`?{}')
# A form is sent in its page's charset: UTF-8, or a legacy one (windows-1252 for most
# Western pages; latin-1 differs from it in 0x80-0x9f only).
_FORM_CHARSETS = ("utf-8", "cp1252", "latin-1")
_PERCENT_ESCAPE = re.compile("%[0-9A-F]{2}")


def _percent_encoded(text: str, kept: Callable[[str], bool], charset: str = "utf-8") -> str:
    return "".join(c if kept(c) else "".join(f"%{b:02X}" for b in c.encode(charset)) for c in text)


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _url_forms(secret: str) -> set[str]:
    """``secret`` as each standard percent-encodes it, in each charset a form may be sent in,
    with upper- and lower-case hex digits; a form sends a textarea's newlines as CRLF."""
    forms = set()
    sent = secret.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    for text in {secret, sent}:
        for charset in _FORM_CHARSETS:
            if not _encodable(text, charset):
                continue
            for kept in _KEPT_BY_URL_ENCODERS:
                encoded = _percent_encoded(text, lambda c: c.isascii() and (c.isalnum() or c in kept), charset)
                forms |= {encoded, encoded.replace("%20", "+")}
            for encoded_too in _ENCODED_IN_URL_PARTS:
                forms.add(_percent_encoded(text, lambda c: c.isascii() and c.isprintable() and c not in encoded_too,
                                           charset))
    return forms | {_PERCENT_ESCAPE.sub(lambda m: m[0].lower(), form) for form in forms}


def _literal_forms(secret: str) -> set[str]:
    """``secret`` inside a string literal: JSON's (JSON.stringify, a server's json, with or
    without non-ASCII escaped) and Python's (an assertion message's repr(), a test file)."""
    return {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
            ascii(secret)[1:-1]}


def _html_forms(texts: set[str]) -> set[str]:
    """Each text HTML-escaped as text or as an attribute (with a no-break space as
    ``&nbsp;``, as recorder's serializer writes it), and escaped once more (a frame's HTML
    kept in a srcdoc attribute)."""
    escaped = set()
    for text in texts:
        escaped |= {html.escape(text), html.escape(text, quote=False), _attribute_escaped(text)}
    for form in list(escaped):
        escaped |= {html.escape(form, quote=False), _attribute_escaped(form)}
    return escaped | {form.replace("\xa0", "&nbsp;") for form in escaped}


def secret_forms(secret: str) -> set[str]:
    """The ways a page, a browser, a server, a test or recorder's own serializer may write
    ``secret`` back: as it is, percent-encoded, in a string literal, HTML-escaped."""
    literals = {secret} | _literal_forms(secret)
    return literals | _url_forms(secret) | _html_forms(literals)


def _attribute_escaped(text: str) -> str:
    """As a DOM serializer writes an attribute's value: only & and \" escaped."""
    return text.replace("&", "&amp;").replace('"', "&quot;")


class SecretScrubber:
    """Values typed into secret fields, kept in memory only, cut out of all else stored.

    An app may echo a password elsewhere: a GET form puts it in the next URL, a page
    may show it back. Every text recorded after a secret was typed passes through here.
    """

    MIN_LENGTH = 3  # shorter "secrets" (one key press) would blank out ordinary text
    # A run of this many characters of a longer secret is cut out as well: what is left of a
    # token that something shortened (Chromium's console preview keeps 50 characters each
    # side, pytest's assertion diffs and reprs keep pieces, a field's maxlength the start).
    # Shorter runs would blank out ordinary words a passphrase is made of.
    FRAGMENT = 12
    # At most this many pieces of one secret are looked for (each is a search through every
    # text, a DOM snapshot's included): inside a secret over 28 characters, a run is found
    # once it is FRAGMENT + the stride between pieces - 1 long (17 for a 100-character key).
    # Its first and last FRAGMENT characters are always pieces: the head and tail a
    # shortened text keeps (Chromium's preview, pytest's 'abc...xyz').
    MAX_PIECES = 16

    def __init__(self) -> None:
        self.values: list[str] = []  # the secrets as typed: their pixels are painted over too
        self._written: set[str] = set()  # every way each of them may be written (secret_forms)
        self._beginnings: set[str] = set()  # see typed
        self._forms: list[str] = []  # _written, longest first
        self._reported_forms: list[str] = []  # and the beginnings' forms
        self._pieces: list[tuple[str, int, str]] = []  # (secret, offset, piece) of secrets over FRAGMENT
        self._growing: list[tuple[str, int, str]] = []  # the same of the value being typed (see typed)

    def add(self, secret: Any) -> None:
        if isinstance(secret, (list, tuple)):  # select_option(["a", "b"]), set_input_files([...])
            for item in secret:
                self.add(item)
            return
        if isinstance(secret, str) and len(secret) >= self.MIN_LENGTH and secret not in self.values:
            self.values.append(secret)
            self._written |= secret_forms(secret)
            if len(secret) > self.FRAGMENT:
                last = len(secret) - self.FRAGMENT
                stride = max(1, -(-last // self.MAX_PIECES))
                self._pieces += [(secret, at, secret[at:at + self.FRAGMENT])
                                 for at in sorted({*range(0, last + 1, stride), last})]
            self._update()

    def typed(self, secret: str | None, whole: bool = False) -> None:
        """An action typed ``secret`` a key at a time (None: another did not): until the next
        action's call ends, each beginning of it (and itself, if ``whole``) is cut out too of
        what the page reports (``reported``), which saw it grow; not of snapshots, which see
        the whole, nor for good: they would blank out ordinary text. Beginnings shorter than
        FRAGMENT in each form they may be written in; longer ones found by the first FRAGMENT
        characters of each form of the whole (the forms of hundreds of beginnings would cost
        each text a search per form)."""
        end = len(secret) + (1 if whole else 0) if secret else 0
        beginnings = {secret[:n] for n in range(self.MIN_LENGTH, min(end, self.FRAGMENT))} if secret else set()
        # (each form of it: percent-encoding and escapes keep a beginning's forms beginnings)
        growing = sorted({(form, 0, form[:self.FRAGMENT]) for form in secret_forms(secret[:end - 1])
                          if len(form) >= self.FRAGMENT}) if secret and end - 1 >= self.FRAGMENT else []
        if beginnings != self._beginnings or growing != self._growing:  # (None after None: most actions)
            self._beginnings, self._growing = beginnings, growing
            self._update()

    def typing(self, value: str) -> None:
        """A person is typing ``value`` into a secret field (a takeover): it and each of its
        beginnings are cut out of what the page reports until it is known whole."""
        self.typed(value or None, whole=True)

    def _update(self) -> None:
        self._forms = sorted(self._written, key=len, reverse=True)
        self._reported_forms = sorted(self._written.union(*map(secret_forms, self._beginnings)), key=len, reverse=True)

    @property
    def longest_form(self) -> int:
        """The length of the longest way a secret may be written (0: none known)."""
        return len(self._reported_forms[0]) if self._reported_forms else 0

    def __call__(self, text: str | None, reported: bool = False) -> str | None:
        """``text`` with every secret cut out; ``reported``: text the page reported (an
        event), which may quote a secret as it grew too (see typed)."""
        forms = self._reported_forms if reported else self._forms
        if not text or not forms:
            return text
        # Runs of a secret first: a short beginning cut out first would leave the rest of a
        # long one without the piece it is found by.
        pieces = self._pieces + self._growing if reported else self._pieces
        if pieces:
            text = self._cut_pieces(text, pieces)
        for form in forms:
            text = text.replace(form, REDACTED)
        return text

    @staticmethod
    def _cut_pieces(text: str, pieces: list[tuple[str, int, str]]) -> str:
        """``text`` with every run of characters of a secret that holds one of its pieces
        cut out."""
        spans = []
        for secret, offset, piece in pieces:
            at = text.find(piece)
            while at >= 0:
                start, end, first, last = at, at + len(piece), offset, offset + len(piece)
                while start > 0 and first > 0 and text[start - 1] == secret[first - 1]:
                    start, first = start - 1, first - 1
                while end < len(text) and last < len(secret) and text[end] == secret[last]:
                    end, last = end + 1, last + 1
                spans.append((start, end))
                at = text.find(piece, end)
        if not spans:
            return text
        kept, done = [], 0
        for start, end in sorted(spans):
            if end <= done:
                continue
            kept += [text[done:start], REDACTED] if start >= done else []
            done = max(done, end)
        return "".join(kept) + text[done:]

    def everywhere(self, value: Any, reported: bool = False) -> Any:
        """Every string inside ``value`` (metadata: dicts, lists) scrubbed."""
        if not self._reported_forms:
            return value
        if isinstance(value, str):
            return self(value, reported)
        if isinstance(value, dict):
            return {key: self.everywhere(item, reported) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.everywhere(item, reported) for item in value]
        return value

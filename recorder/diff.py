"""Two recordings step by step (``recorder diff A B``, the viewer's compare view).

Any two recordings: a flaky test's failed and passed attempts, two runs of one test, a
replay and its original. Their steps are aligned first, then each aligned pair is compared.

Alignment: ``difflib.SequenceMatcher`` over each step's key, (type, target): the selector
as recorded (else the element's role and accessible name, else its CSS path), and for a
navigation, the URL's path and query (the origin left out: two runs of one test often use
two ports). The value is not in the key, so that the same step typing another value stays
one pair. In a block the matcher replaces, steps are paired in order; what is left over of
the longer side is a step only in A (or only in B).

Each pair is compared, in this order: the step itself (type, selector), the value, the URL
after the step (path, query and fragment: the origin left out), the outcome (status and the
error's first line), the page's visible text (the DOM snapshots' text, outside script,
style and the like, whitespace collapsed), the screenshot (the share of pixels whose grey
level differs by more than ``PIXEL_TOLERANCE``, at A's size; a difference when over the
threshold). The first pair with any difference is the first difference.
"""

from __future__ import annotations

import difflib
import functools
import html.parser
import io
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .store import Recording
from .urls import normalized_url

DEFAULT_THRESHOLD = 0.02  # a screenshot differs when more than 2% of its pixels do
PIXEL_TOLERANCE = 24  # grey levels (of 255) two pixels may differ by and count as the same: JPEG noise
KINDS = ("step", "selector", "value", "url", "outcome", "text", "screenshot")
_NOT_SHOWN = {"script", "style", "noscript", "template", "head", "title", "svg"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Difference:
    kind: str  # one of KINDS ("step": a step only one side has, or another type of step)
    a: Any
    b: Any
    detail: str  # one line: "ok → error 'Timeout 300ms exceeded'"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "a": self.a, "b": self.b, "detail": self.detail}


@dataclass
class Pair:
    """One row of the alignment: a step of A and the step of B it lines up with (either may be None)."""
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    differences: list[Difference] = field(default_factory=list)
    screenshot_difference: float | None = None  # share of differing pixels, when both have one
    notes: list[str] = field(default_factory=list)  # what differs without counting (see the module's doc)

    @property
    def differs(self) -> bool:
        return bool(self.differences)

    def to_dict(self) -> dict[str, Any]:
        return {"a": step_summary(self.a), "b": step_summary(self.b), "differs": self.differs,
                "differences": [d.to_dict() for d in self.differences], "notes": self.notes,
                "screenshot_difference": self.screenshot_difference}


@dataclass
class RecordingDiff:
    a: Recording
    b: Recording
    pairs: list[Pair]
    threshold: float

    @property
    def first(self) -> int | None:
        """Index in ``pairs`` of the first pair that differs, or None."""
        return next((i for i, pair in enumerate(self.pairs) if pair.differs), None)

    @property
    def same(self) -> bool:
        return self.first is None

    def summary(self) -> str:
        """One line: where the recordings first differ, and how."""
        first = self.first
        if first is None:
            return f"no differences ({len(self.pairs)} steps aligned)"
        pair = self.pairs[first]
        where = f"step {_seq(pair.a)} (A) / {_seq(pair.b)} (B)"
        return f"first difference at {where}: " + "; ".join(d.detail for d in pair.differences)

    def to_dict(self) -> dict[str, Any]:
        first = self.first
        return {
            "a": _recording_summary(self.a), "b": _recording_summary(self.b), "same": first is None,
            "first_difference": None if first is None else {
                "index": first, "a": _seq_or_none(self.pairs[first].a), "b": _seq_or_none(self.pairs[first].b),
                "kinds": [d.kind for d in self.pairs[first].differences]},
            "summary": self.summary(), "screenshot_threshold": self.threshold,
            "alignment": [pair.to_dict() for pair in self.pairs],
        }

    def format(self, width: int = 34) -> str:
        """A compact side-by-side table, the first difference marked with ``>`` (later ones ``*``,
        pairs with notes alone ``~``), and the summary."""
        headers = ("", "A", "STEP (A)", "OUTCOME", "B", "STEP (B)", "OUTCOME", "DIFFERS")
        first = self.first
        rows = []
        for i, pair in enumerate(self.pairs):
            rows.append((">" if i == first else ("*" if pair.differs else ("~" if pair.notes else "")),
                         _seq(pair.a), _clip(_describe(pair.a), width), _outcome(pair.a),
                         _seq(pair.b), _clip(_describe(pair.b), width), _outcome(pair.b),
                         ",".join(dict.fromkeys(d.kind for d in pair.differences))
                         or ("(screenshot)" if pair.notes else "")))
        widths = [max(len(headers[c]), *(len(r[c]) for r in rows)) if rows else len(headers[c])
                  for c in range(len(headers))]
        lines = [f"A: recording {self.a.id} {self.a.name!r} ({self.a.status}, {self.a.action_count} actions)",
                 f"B: recording {self.b.id} {self.b.name!r} ({self.b.status}, {self.b.action_count} actions)", ""]
        lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines += ["", self.summary()]
        return "\n".join(lines)


def diff_recordings(a: Recording, b: Recording, *, threshold: float = DEFAULT_THRESHOLD,
                    text: bool = True, screenshots: bool = True) -> RecordingDiff:
    """Align and compare the steps of ``a`` and ``b`` (each read from its own store)."""
    pairs = align(a.timeline(), b.timeline())
    texts: dict[str, str] = {}  # by blob key: a key names the same bytes in either store

    def page_text(recording: Recording, key: str) -> str:
        if key not in texts:
            texts[key] = visible_text(recording.store.blob(key).decode("utf-8", "replace"))
        return texts[key]

    @functools.cache
    def resources_agree() -> bool:  # (asked only of a screenshot over the threshold)
        kept_a, kept_b = a.resources(), b.resources()
        return all(kept_a[url]["key"] == kept_b[url]["key"] for url in kept_a.keys() & kept_b.keys())

    for pair in pairs:
        pair.differences = compare_steps(pair.a, pair.b)
        if pair.a is None or pair.b is None:
            continue
        dom_a, dom_b = pair.a["dom_snapshot_key"], pair.b["dom_snapshot_key"]
        if text and dom_a and dom_b and dom_a != dom_b:
            before, after = page_text(a, dom_a), page_text(b, dom_b)
            if before != after:
                pair.differences.append(Difference("text", _clip(before, 200), _clip(after, 200),
                                                   "page text " + text_change(before, after)))
        shot_a, shot_b = pair.a["screenshot_key"], pair.b["screenshot_key"]
        if screenshots and shot_a and shot_b:
            share = 0.0 if shot_a == shot_b else pixel_difference(a.store.blob(shot_a), b.store.blob(shot_b))
            pair.screenshot_difference = round(share, 4)
            if share > threshold:
                detail = f"screenshot differs in {share:.1%} of its pixels"
                if dom_a and dom_a == dom_b and resources_agree():
                    pair.notes.append(detail + ", the page the same (one DOM snapshot): painted at another moment")
                else:
                    pair.differences.append(Difference("screenshot", None, None, detail))
    return RecordingDiff(a, b, pairs, threshold)


# -- alignment ----------------------------------------------------------------------------

def step_key(action: dict[str, Any]) -> tuple[str, str]:
    """What makes two steps the same step: the type and the target (see the module's doc)."""
    if action["type"] == "navigate":
        url = action["value"] or action["url"]
        if not url:
            return ("navigate", "")
        _, _, path, query, _ = normalized_url(url)
        return ("navigate", path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else ""))
    target = action["metadata"].get("target") or {}
    identity = action["selector"] or (
        f"{target.get('role')}:{target.get('accessible_name')}" if target.get("role") else target.get("css_path")) or ""
    return (action["type"], identity)


def align(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[Pair]:
    """The two timelines lined up (see the module's doc)."""
    matcher = difflib.SequenceMatcher(None, [step_key(s) for s in a], [step_key(s) for s in b], autojunk=False)
    pairs: list[Pair] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or tag == "replace":
            n = min(i2 - i1, j2 - j1)
            pairs += [Pair(a[i1 + k], b[j1 + k]) for k in range(n)]
            pairs += [Pair(a[i], None) for i in range(i1 + n, i2)]
            pairs += [Pair(None, b[j]) for j in range(j1 + n, j2)]
        elif tag == "delete":
            pairs += [Pair(a[i], None) for i in range(i1, i2)]
        else:  # insert
            pairs += [Pair(None, b[j]) for j in range(j1, j2)]
    return pairs


def compare_steps(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[Difference]:
    """How two aligned steps differ, short of their page text and screenshots."""
    if a is None or b is None:
        side, step = ("A", a) if b is None else ("B", b)
        assert step is not None
        return [Difference("step", _describe(a) if a else None, _describe(b) if b else None,
                           f"only in {side}: {_clip(_describe(step), 60)}")]
    found = []
    if a["type"] != b["type"]:
        found.append(Difference("step", a["type"], b["type"], f"step {a['type']} → {b['type']}"))
    if a["type"] != "navigate" and (a["selector"] or "") != (b["selector"] or ""):
        found.append(Difference("selector", a["selector"], b["selector"],
                                f"selector {_quote(a['selector'])} → {_quote(b['selector'])}"))
    value_a, value_b = _value(a), _value(b)
    same_value = value_a == value_b
    if a["type"] == "navigate":
        same_value = _same_document_place(value_a, value_b, fragment=False)
        value_a, value_b = _path(value_a), _path(value_b)
    if not same_value:
        found.append(Difference("value", value_a, value_b, f"value {_quote(value_a)} → {_quote(value_b)}"))
    url_a, url_b = _url_tail(a["url"]), _url_tail(b["url"])
    if url_a != url_b and not _same_document_place(a["url"], b["url"]):
        found.append(Difference("url", url_a, url_b, f"URL {_quote(url_a)} → {_quote(url_b)}"))
    outcome_a, outcome_b = _outcome(a, 200), _outcome(b, 200)
    if outcome_a != outcome_b:
        found.append(Difference("outcome", outcome_a, outcome_b,
                                f"outcome {_clip(outcome_a, 80)} → {_clip(outcome_b, 80)}"))
    return found


# -- page text and pixels -----------------------------------------------------------------

class _TextParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # depth inside elements whose text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        if self.hidden or tag in _NOT_SHOWN or any(name == "hidden" for name, _ in attrs):
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if self.hidden and tag not in _VOID:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(snapshot: str) -> str:
    """The text a DOM snapshot shows, whitespace collapsed (what is inside script, style,
    template, head, svg or a ``hidden`` element left out)."""
    parser = _TextParser()
    try:
        parser.feed(snapshot)
        parser.close()
    except Exception:  # html.parser copes with nearly anything; if not, what it had
        pass
    return " ".join(" ".join(parser.parts).split())


def text_change(a: str, b: str) -> str:
    """The first change from text ``a`` to ``b``, in words: "'Ada' → 'Bob'", "+ 'Saved'"."""
    words_a, words_b = a.split(), b.split()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed, added = _clip(" ".join(words_a[i1:i2]), 40), _clip(" ".join(words_b[j1:j2]), 40)
        if tag == "replace":
            return f"{removed!r} → {added!r}"
        return f"- {removed!r}" if tag == "delete" else f"+ {added!r}"
    return "differs in whitespace"


def pixel_difference(a: bytes, b: bytes) -> float:
    """The share (0 to 1) of pixels whose grey level differs by more than ``PIXEL_TOLERANCE``
    between two screenshots, ``b`` scaled to ``a``'s size."""
    from PIL import Image, ImageChops

    first = Image.open(io.BytesIO(a)).convert("L")
    second = Image.open(io.BytesIO(b)).convert("L")
    if second.size != first.size:
        second = second.resize(first.size)
    changed = ImageChops.difference(first, second).point(lambda v: 255 if v > PIXEL_TOLERANCE else 0)
    histogram = changed.histogram()
    total = first.size[0] * first.size[1]
    return histogram[255] / total if total else 0.0


# -- describing steps ---------------------------------------------------------------------

def step_summary(step: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON alignment says of one step."""
    if step is None:
        return None
    return {"sequence": step["sequence"], "type": step["type"], "selector": step["selector"], "value": _value(step),
            "url": step["url"], "status": step["status"], "error": step["error"],
            "screenshot_key": step["screenshot_key"], "dom_snapshot_key": step["dom_snapshot_key"],
            "api": step["metadata"].get("api"), "page_index": step["metadata"].get("page_index", 0)}


def _recording_summary(recording: Recording) -> dict[str, Any]:
    return {"id": recording.id, "name": recording.name, "status": recording.status,
            "actions": recording.action_count, "database": recording.store.location}


def _describe(step: dict[str, Any] | None) -> str:
    if step is None:
        return ""
    if step["type"] == "navigate":
        return f"navigate {_path(step['value'] or step['url'])}"
    value = _value(step)
    return f"{step['type']} {step['selector'] or ''}" + ("" if value is None else f" = {value!r}")


def _value(step: dict[str, Any]) -> str | None:
    return "[redacted]" if step["metadata"].get("redacted") else step["value"]


def _outcome(step: dict[str, Any] | None, width: int = 40) -> str:
    if step is None:
        return ""
    if not step["error"]:
        return step["status"]
    first_line = (step["error"].strip().splitlines() or [""])[0]
    return f"{step['status']} {_clip(first_line, width)!r}"


def _path(url: str | None) -> str | None:
    """A URL's path and query: what a navigation is matched by."""
    if not url:
        return url
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "") if parts.scheme in ("http", "https") else url


def _url_tail(url: str | None) -> str | None:
    """A URL without its origin (path, query, fragment)."""
    if not url:
        return url
    parts = urlsplit(url)
    return (_path(url) or "") + (f"#{parts.fragment}" if parts.fragment else "") if parts.scheme in ("http", "https") else url


def _same_document_place(a: str | None, b: str | None, fragment: bool = True) -> bool:
    """The same path, query (and fragment), written alike or not (a trailing slash, ``#/``,
    the query's order: urls.normalized_url); the origins may differ (two deployments)."""
    if not a or not b:
        return a == b
    end = 5 if fragment else 4
    return normalized_url(a)[2:end] == normalized_url(b)[2:end]


def _seq(step: dict[str, Any] | None) -> str:
    return "-" if step is None else str(step["sequence"])


def _seq_or_none(step: dict[str, Any] | None) -> int | None:
    return None if step is None else step["sequence"]


def _quote(text: str | None) -> str:
    return "(none)" if text is None else repr(_clip(text, 60))


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"

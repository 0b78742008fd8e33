"""Taking a recording elsewhere: a JSON cassette (and back), a runnable pytest file.

    cassette = export_json(recording)                 # dict; json.dump it anywhere
    copy = import_json(other_store, cassette)          # the same timeline, a new id
    source = export_pytest(recording)                  # a pytest-playwright test, as text
    export_trace(recording, "trace.zip")               # opens in `playwright show-trace`
"""

from __future__ import annotations

import ast
import base64
import hashlib
import html.parser
import itertools
import json
import mimetypes
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._core import ACTIONS, ASSERTION_CLASSES, DropTarget, FileNames, Secret, action_title, camel_case, recorded_call
from .files import replacing
from .model import parameterize
from .page_state import without_storage_values
from .replay import secret_env_var
from .urls import url_pattern
from .store import Recording, RecordingStore

CASSETTE_FORMAT = "recorder-cassette"
# 1: recording, timeline, blobs. 2: and resources, the stylesheets, images and fonts the
# DOM snapshots use (their bytes among the blobs). 3: and events (console messages, page
# errors, crashes, requests, as Recording.events() gives them) and sources, the files the
# recorded calls were made from (their text among the blobs). Versions 1 and 2 still import.
CASSETTE_VERSION = 3


@dataclass
class Contents:
    """Everything of a recording another store needs to hold it, as ``RecordingStore.restore``
    takes it: ``blobs`` are the keys of the bytes it uses (screenshots, DOM snapshots,
    resources, source files)."""

    recording: dict[str, Any]
    timeline: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    events: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    blobs: list[str]


def contents(recording: Recording) -> Contents:
    timeline = recording.timeline()
    resources = [{"url": url, "media_type": info["media_type"], "key": info["key"], "size": info["size"],
                  "sequence": info["sequence"]} for url, info in recording.resources().items()]
    sources = [{"path": path, "key": info["key"], "size": info["size"]} for path, info in recording.sources().items()]
    keys = {a[k] for a in timeline for k in ("screenshot_key", "dom_snapshot_key") if a[k]}
    keys |= {item["key"] for item in [*resources, *sources]}
    return Contents(recording.to_dict(), timeline, resources, recording.events(), sources, sorted(keys))


def copy_recording(recording: Recording, destination: RecordingStore) -> Recording:
    """Store ``recording`` (of another store) in ``destination``, everything of it, under its
    uid (a new id there); ``RecordingExists`` when ``destination`` has that uid already. See
    ``recorder.push`` for copying many at once."""
    found = contents(recording)
    data = {key: recording.store.blob(key) for key in found.blobs}
    return destination.restore(found.recording, found.timeline, data, found.resources, found.events, found.sources,
                               keep_uid=True)


def export_json(recording: Recording, blobs: bool = True, storage_state: bool = False) -> dict[str, Any]:
    """The recording, its timeline, the resources its snapshots use, its events, the
    source files its calls were made from, and (base64, by sha256 key) the bytes of its
    screenshots, DOM snapshots, resources and sources.

    Cookie and localStorage values a takeover stored (``keep_storage_state=True``) are left
    out unless ``storage_state`` (see recorder/page_state.py)."""
    found = contents(recording)
    timeline = found.timeline if storage_state else without_storage_values(found.timeline)
    cassette: dict[str, Any] = {
        "format": CASSETTE_FORMAT, "version": CASSETTE_VERSION,
        "recording": found.recording, "timeline": timeline, "resources": found.resources,
        "events": found.events, "sources": found.sources,
    }
    if blobs:
        cassette["blobs"] = {
            key: {"media_type": recording.store.blob_info(key)["media_type"],
                  "data": base64.b64encode(recording.store.blob(key)).decode()}
            for key in found.blobs
        }
    return cassette


def import_json(store: RecordingStore, cassette: dict[str, Any], storage_state: bool = False) -> Recording:
    """Store a cassette as a new recording; its actions keep their sequence, timing and keys,
    its resources their URLs, its events and sources come along. A cassette without blobs
    (``--no-blobs``) imports without snapshots, resources or sources (their bytes are not
    in it); its events are. Cookie and localStorage values in it (an export with
    ``--include-storage-state``, or one made before values stopped being stored) are
    stored only if ``storage_state``."""
    if not isinstance(cassette, dict):
        raise ValueError(f"not a recorder cassette (a JSON {type(cassette).__name__}, not an object)")
    if cassette.get("format") != CASSETTE_FORMAT:
        raise ValueError(f"not a recorder cassette (format is {cassette.get('format')!r}, expected {CASSETTE_FORMAT!r})")
    version = cassette.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"the cassette version {version!r} is not a whole number from 1")
    if version > CASSETTE_VERSION:
        raise ValueError(f"cassette version {version} is newer than this recorder reads ({CASSETTE_VERSION})")
    source = cassette["recording"]
    found = cassette.get("blobs")
    if found is not None and (not isinstance(found, dict) or not all(
            isinstance(item, dict) and isinstance(item.get("data"), str) for item in found.values())):
        raise ValueError("its blobs are not {key: {data: base64}}")
    blobs = {key: base64.b64decode(item["data"], validate=True) for key, item in (found or {}).items()}
    resources = cassette.get("resources", [])  # none before version 2
    if not isinstance(resources, list):
        raise ValueError("its resources are not a list of {url, media_type, key, size, sequence}")
    events, sources = cassette.get("events", []), cassette.get("sources", [])  # none before version 3
    if not isinstance(events, list):
        raise ValueError("its events are not a list of {kind, action_sequence, page_index, time_ms, ...}")
    if not isinstance(sources, list):
        raise ValueError("its sources are not a list of {path, key, size}")
    # Without blobs the resources and sources are only named: there are no bytes to keep.
    timeline = cassette["timeline"]
    if not storage_state and isinstance(timeline, list) and all(isinstance(a, dict) for a in timeline):
        timeline = without_storage_values(timeline)  # anything else restore() refuses, naming it
    return store.restore(source, timeline, blobs, resources if found is not None else None,
                         events, sources if found is not None else None)


# -- pytest ---------------------------------------------------------------------------------

# Everything recorded is hostile input (a page chose its text, a cassette can say anything),
# and this writes Python source: values only ever go in as repr() literals, method names
# only from the table in _core.ACTIONS, and a selector only when it parses as a plain locator chain.


def _literal(value: Any) -> str:
    """A Python literal for ``value`` (a JSON string is a valid, double-quoted Python one)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return _literal(str(value))


def _is_locator_chain(code: str) -> bool:
    """``page.get_by_role("button", name="Save").nth(0)`` and the like, and nothing else."""
    try:
        node: ast.AST = ast.parse(code, mode="eval").body
    except SyntaxError:
        return False

    def constant(arg: ast.AST) -> bool:
        if isinstance(arg, ast.Constant):
            return True
        if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub):
            return isinstance(arg.operand, ast.Constant)
        if isinstance(arg, (ast.List, ast.Tuple)):  # select_option(["a", "b"]), index=[0, 2]
            return all(constant(item) for item in arg.elts)
        return (isinstance(arg, ast.Call) and ast.unparse(arg.func) == "re.compile" and not arg.keywords
                and all(isinstance(a, ast.Constant) for a in arg.args))

    while isinstance(node, (ast.Call, ast.Attribute)):
        if isinstance(node, ast.Call):
            if not all(constant(a) for a in node.args) or not all(constant(k.value) and k.arg for k in node.keywords):
                return False
            node = node.func
        else:
            node = node.value
    return isinstance(node, ast.Name) and node.id == "page"


# The classes whose recorded calls a test makes: one left out of an export says so.
_CALLERS = ("Page", "Frame", "Locator", "Keyboard", "Mouse", *ASSERTION_CLASSES)


def _call(action: dict[str, Any]) -> str | None:
    """The Python line that performs a recorded action, or None to leave it out: the call the
    table in _core.ACTIONS makes of it (``recorded_call``), written as source."""
    try:
        call = recorded_call(action)
    except ValueError:
        return None
    if call is None:
        return None
    if call.receiver in ("element", "expect element"):
        if not action["selector"]:
            return None
        receiver = f"page.{action['selector']}"
        if not _is_locator_chain(receiver):
            return None
    else:
        receiver = {"page": "page", "keyboard": "page.keyboard", "mouse": "page.mouse", "expect page": "page"}[call.receiver]
    if call.receiver.startswith("expect"):
        receiver = f"expect({receiver})"
    arguments = [_argument(a) for a in call.arguments]
    arguments += [f"{name}={_keyword(name, value)}" for name, value in call.keywords.items() if name.isidentifier()]
    return f"{receiver}.{call.method}({', '.join(arguments)})"


def _keyword(name: str, argument: Any) -> str:
    """A keyword argument as Python source: a secret index (select_option(index=...) in a
    redacted select) read as the number or list it is."""
    if name == "index" and isinstance(argument, Secret):
        return f"json.loads({_argument(argument)})"
    return _argument(argument)


def _argument(argument: Any) -> str:
    """One argument of a recorded call as Python source."""
    if isinstance(argument, Secret):
        return f"os.environ[{_literal(secret_env_var(argument.name))}]"
    if isinstance(argument, DropTarget):
        return f"page.locator({_literal(argument.selector)})"
    if isinstance(argument, FileNames):
        return _literal(argument.names)
    if isinstance(argument, (float, int)) and not isinstance(argument, bool):
        return repr(argument)
    if isinstance(argument, re.Pattern):
        flags = " | ".join(f"re.{name}" for name, flag in (("IGNORECASE", re.IGNORECASE), ("MULTILINE", re.MULTILINE),
                                                           ("DOTALL", re.DOTALL)) if argument.flags & flag)
        return f"re.compile({_literal(argument.pattern)}{', ' + flags if flags else ''})"
    if isinstance(argument, list):
        return "[" + ", ".join(_argument(item) for item in argument) + "]"
    return _literal(argument)


def export_pytest(recording: Recording) -> str:
    """A readable pytest-playwright test doing what was recorded, with the URL checks."""
    name = parameterize(recording.name).replace("-", "_") or f"recording_{recording.id}"
    lines = [
        f'"""Exported by recorder from recording {recording.id}."""',
        f"# recording name: {recording.name!r}",
        "",
        "import json",
        "import os",
        "import re",
        "",
        "from playwright.sync_api import Page, expect",
        "",
        "",
        f"def test_{name}(page: Page) -> None:",
    ]
    body = []
    last_url = None
    for action in recording.timeline():
        if action["metadata"].get("page_index", 0) != 0:
            body.append(f"# step {action['sequence']} happened in a popup window: not exported")
            continue
        line = _call(action)
        if line:
            body.append(line)
        elif action["metadata"].get("api", "").partition(".")[0] in _CALLERS:
            body.append(f"# step {action['sequence']} ({action['type']}) could not be exported safely")
        url = action["url"]
        if url and url != last_url and url != "about:blank" and action["status"] == "ok":
            pattern = url_pattern(url)
            expected = _literal(url) if isinstance(pattern, str) else f"re.compile({_literal(pattern.pattern)})"
            body.append(f"expect(page).to_have_url({expected})")
            last_url = url
    lines += ["    " + line for line in body] or ["    pass"]
    source = "\n".join(lines) + "\n"
    if "re.compile" not in source:
        source = source.replace("import re\n", "")
    if "os.environ" not in source:
        source = source.replace("import os\n", "")
    if "json.loads(" not in source:
        source = source.replace("import json\n", "")
    # Recorded text reaches the source only inside string literals, where an escape means the
    # same: bidirectional controls written as escapes, so the file reads as it runs ("Trojan
    # Source", CVE-2021-42574).
    source = _BIDI_CONTROLS.sub(lambda m: f"\\u{ord(m[0]):04x}", source)
    return re.sub(r"\n{3,}(?=from)", "\n\n", source)


_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# -- Playwright trace ----------------------------------------------------------------------
#
# A trace.zip laid out as Playwright's own tracing writes it (format 10):
#   trace.trace    a JSON event a line: context-options; before, input and after per call
#                  (before with the call's stack: the file, line and function recorder saw);
#                  frame-snapshot (a document as nested [TAG, {attrs}, ...children]);
#                  screencast-frame (screencast/*.jpeg); console (a console message) and
#                  event/pageError (an uncaught error; recorder's crash event is one too)
#   trace.network  a resource-snapshot a line: the HAR entry of a stylesheet, image or font
#                  kept for the snapshots, its bytes in resources/<sha1>.<ext>; then one of
#                  each request the page made (a redirect's hops first), a body recorder kept
#                  in resources/ too
#   src/<sha1 of the file's path><its extension>   the text of a file the calls were made
#                  from (Playwright 1.6x's name; Trace Viewer's Source tab also reads the
#                  older resources/src@<sha1>.txt, and else the file on the viewer's disk)
# Every time (startTime, endTime, time, timestamp, _monotonicTime) is in ms since the
# recording started, as recorder stores them; context-options says when that was (wallTime).
# Trace Viewer renders a frame snapshot as HTML from its service worker, which then answers
# each URL that HTML asks for (a stylesheet, its @import, a font, a background image) with
# the resource-snapshot of that URL: the last one whose _monotonicTime is before the
# snapshot's timestamp, of the snapshot's own frame (_frameref) if there is one, else of any.
# recorder keeps one version of each URL per recording, so every resource is dated at the
# recording's start and every snapshot finds it, a font that finished loading after the
# first snapshot included.
# The page's requests are resource-snapshots too (that is what the Network tab lists), at
# their real times, so one for a kept URL could be the one a snapshot picks. They never
# name a snapshot's frame (_frameref is Chromium's frame id, a snapshot's is frame@N), so
# the main frame's snapshots keep picking the kept copy; a successful GET of a kept URL
# carries the kept bytes, so a frame's snapshot that picks it gets them too; and where a
# GET of a kept URL failed, the kept copy is written again for each other snapshot frame,
# which then picks it as its own.

TRACE_VERSION = 10  # the trace.trace format of Playwright 1.5x-1.6x
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_RESOURCES_AT = 0.0  # the resources' _monotonicTime: the recording's start
MAX_FRAME_DEPTH = 8  # frames nested deeper than this inside a snapshot show blank

# What Trace Viewer's snapshot script acts on, in place of what recorder's snapshots say:
_SHADOW_ROOT = "__playwright_shadow_root_"  # on a <template>: attached as an open shadow root
_SCROLL_TOP, _SCROLL_LEFT = "__playwright_scroll_top_", "__playwright_scroll_left_"  # applied on load
_VALUE = "__playwright_value_"  # a field's value, set as the property


class _SnapshotBuilder(html.parser.HTMLParser):
    """One document's HTML -> the nested ``[TAG, {attrs}, ...children]`` form of a trace's
    frame snapshot, recorder's snapshot attributes turned into those Trace Viewer acts on.

    ``frame(srcdoc, url)`` gives the frame id under which a same-origin frame the snapshot
    holds inline gets its own frame snapshot (None: leave it blank).
    """

    def __init__(self, frame: Callable[[str, str], str | None], base: str | None, doctype: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.frame = frame
        self.base = base  # what relative URLs left in the snapshot resolve against
        self.url: str | None = None
        self.doctype = doctype
        self.root: list[Any] = ["HTML", {}]
        self.stack: list[list[Any]] = []

    def handle_decl(self, decl: str) -> None:
        words = decl.split()
        if len(words) > 1 and words[0].upper() == "DOCTYPE":
            self.doctype = words[1]  # none: the page was in quirks mode, and its snapshot will be

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node: list[Any] = [tag.upper(), self._attributes(tag, {name: value or "" for name, value in attrs})]
        if tag == "html":
            self.root[1].update(node[1])
            self.stack = [self.root]
            self.url = node[1].get("data-recorder-url") or None
            if self.url and re.match(r"https?://", self.url, re.IGNORECASE):
                self.base = self.url
            return
        parent = self.stack[-1] if self.stack else self.root
        parent.append(node)
        if tag not in _VOID:
            self.stack.append(node)
        if tag == "head" and self.base:
            # First in <head>, as Playwright's snapshotter does: a URL the snapshot left
            # relative (a link's href) means what it meant on the page.
            node.append(["BASE", {"href": self.base}])
        if tag == "body" and self.doctype is None:
            # In quirks mode the page scrolls <body>, not <html>.
            for name in (_SCROLL_TOP, _SCROLL_LEFT):
                if name in self.root[1]:
                    node[1][name] = self.root[1].pop(name)

    def _attributes(self, tag: str, attrs: dict[str, str]) -> dict[str, str]:
        if tag == "template" and "shadowrootmode" in attrs:
            # Declarative shadow DOM would be attached by the parser, out of reach of the
            # viewer's script, which fills in <style> text and scroll positions: let it attach.
            del attrs["shadowrootmode"]
            attrs[_SHADOW_ROOT] = "open"
        top, _, left = attrs.get("data-recorder-scroll", "").partition(",")
        for name, value in ((_SCROLL_TOP, top), (_SCROLL_LEFT, left)):
            if re.fullmatch(r"\s*-?\d+\s*", value) and int(value):  # scrollLeft is negative right to left
                attrs[name] = str(int(value))
        if tag == "input" and "value" in attrs:
            attrs[_VALUE] = attrs["value"]
        if tag in ("iframe", "frame"):
            # The viewer never renders srcdoc or a page's own src: a frame shows the frame
            # snapshot its src names (/snapshot/<frame id>), else stays blank. The document
            # recorder put in srcdoc (data-recorder-frame: its URL, or "cross-origin" for one
            # snapshotted in its own frame) becomes that frame snapshot.
            srcdoc, src = attrs.pop("srcdoc", None), attrs.pop("src", None)
            if src:
                attrs["data-recorder-src"] = src
            where = attrs.get("data-recorder-frame")
            if srcdoc is not None and where is not None:
                frame_id = self.frame(srcdoc, where)
                if frame_id:
                    attrs["src"] = f"/snapshot/{frame_id}"
        return attrs

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack and self.stack[-1][0] == tag.upper():
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index][0] == tag.upper():
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1] if self.stack else self.root
        if len(parent) > 2 and isinstance(parent[-1], str):
            parent[-1] += data  # one text node: the viewer renders only a <style>'s first
        else:
            parent.append(data)


def frame_snapshots(document: str, frame_id: str, base: str | None = None, depth: int = 0,
                    srcdoc: bool = False) -> list[dict[str, Any]]:
    """A stored DOM snapshot as Trace Viewer's frame snapshots, ``{frame_id, url, doctype,
    html}``: the document's, then one for each same-origin frame it holds inline (``srcdoc``),
    which its ``<iframe>`` now names."""
    inner: list[dict[str, Any]] = []
    numbers = itertools.count(1)

    def frame(content: str, url: str) -> str | None:
        if depth >= MAX_FRAME_DEPTH:
            return None
        child = f"{frame_id}.{next(numbers)}"  # frame@0.2: the page's second frame
        found = frame_snapshots(content, child, builder.base, depth + 1, srcdoc=url == "about:srcdoc")
        if not found[0]["url"] and re.match(r"https?://|about:", url):
            found[0]["url"] = url
        inner.extend(found)
        return child

    # A srcdoc document is never in quirks mode, doctype or not; the viewer renders it as a page.
    builder = _SnapshotBuilder(frame, base, "html" if srcdoc else None)
    builder.feed(document)
    builder.close()
    return [{"frame_id": frame_id, "url": builder.url, "doctype": builder.doctype, "html": builder.root}, *inner]


def _iso(wall_ms: float) -> str:
    when = datetime.fromtimestamp(wall_ms / 1000, timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _resource_snapshots(recording: Recording, wall_ms: float) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    """The recording's stylesheets, images and fonts: a resource-snapshot (HAR entry) each
    by URL, and their bytes by file name (resources/<sha1>.<ext>, once however many URLs
    share them)."""
    entries: dict[str, dict[str, Any]] = {}
    files: dict[str, bytes] = {}
    started = _iso(wall_ms)
    for url, info in recording.resources().items():
        data = recording.store.blob(info["key"])
        media_type = info["media_type"] or "application/octet-stream"
        name = "resources/" + hashlib.sha1(data).hexdigest() + (mimetypes.guess_extension(media_type) or ".dat")
        files[name] = data
        kind = "stylesheet" if media_type == "text/css" else media_type.partition("/")[0]
        entries[url] = {"type": "resource-snapshot", "snapshot": {
            "pageref": "page@0", "_frameref": "frame@0", "_monotonicTime": _RESOURCES_AT,
            "_resourceType": kind if kind in ("stylesheet", "image", "font") else "other",
            "startedDateTime": started, "time": 0,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                         "content": {"size": len(data), "mimeType": media_type, "_file": name},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(data), "_transferSize": len(data)},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
        }}
    return entries, files


def _har_headers(headers: Any) -> list[dict[str, str]]:
    """``{name: value}`` as HAR's ``[{name, value}]``; Chromium joins a repeated header's
    values with line breaks, which no HTTP header (nor Trace Viewer's Response) may hold."""
    if not isinstance(headers, dict):
        return []
    return [{"name": str(name), "value": part} for name, value in headers.items()
            for part in str(value).split("\n")]


def _body_file(text: str, media_type: str | None) -> tuple[str, bytes]:
    data = text.encode("utf-8", "surrogatepass")
    plain = (media_type or "").partition(";")[0].strip().lower()
    return "resources/" + hashlib.sha1(data).hexdigest() + (mimetypes.guess_extension(plain) or ".txt"), data


def _number(value: Any, default: float = -1) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _request_snapshots(events: list[dict[str, Any]], wall_ms: float, kept: dict[str, dict[str, Any]],
                       files: dict[str, bytes]) -> tuple[list[dict[str, Any]], set[str]]:
    """Each request event as a resource-snapshot (a HAR entry as Playwright's tracing
    writes it), a redirect's hops each as one before it; the bodies recorder kept go in
    ``files``. Also returns the kept URLs a failed GET named (see the note above)."""
    entries: list[dict[str, Any]] = []
    failed_kept: set[str] = set()
    for event in events:
        if event.get("kind") != "request" or not isinstance(event.get("url"), str):
            continue
        at = float(_number(event.get("time_ms"), 0))
        method = str(event.get("method") or "GET")
        status = event.get("status")
        ok = isinstance(status, int) and 200 <= status < 300 and not event.get("failure")
        page = f"page@{event.get('page_index') or 0}"
        owner: dict[str, Any] = {"pageref": page}
        if event.get("frame_id"):
            owner["_frameref"] = f"frame@{event['frame_id']}"  # Chromium's id: never a snapshot's frame@N
        request_headers = _har_headers(event.get("request_headers"))
        redirects = [r for r in event.get("redirects") or [] if isinstance(r, dict) and isinstance(r.get("url"), str)]
        hops = [r["url"] for r in redirects] + [event["url"]]
        for hop, redirect in zip(hops[1:], redirects):
            code = redirect.get("status") if isinstance(redirect.get("status"), int) else -1
            hop_method = str(redirect.get("method") or method)
            sent: dict[str, Any] = {
                "method": hop_method, "url": redirect["url"], "httpVersion": "HTTP/1.1",
                # (the headers stored are the last hop's: a hop sent another way had others)
                "cookies": [], "headers": request_headers if hop_method == method else [],
                "queryString": _query(redirect["url"]), "headersSize": -1,
                "bodySize": _number(redirect.get("request_size"))}
            if isinstance(redirect.get("request_body"), str):
                sent["postData"] = {"mimeType": "application/octet-stream", "text": redirect["request_body"],
                                    "params": []}
            entries.append({"type": "resource-snapshot", "snapshot": {
                **owner, "_monotonicTime": at, "_resourceType": event.get("resource_type") or "other",
                "startedDateTime": _iso(wall_ms + at), "time": -1,
                "request": sent,
                "response": {"status": code, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [],
                             "headers": [{"name": "Location", "value": hop}],
                             "content": {"size": -1, "mimeType": "x-unknown"}, "redirectURL": hop,
                             "headersSize": -1, "bodySize": -1, "_transferSize": -1},
                "cache": {}, "timings": {"send": -1, "wait": -1, "receive": -1},
            }})
        url = event["url"]
        mime_type = event.get("mime_type") or None
        content: dict[str, Any] = {"size": _number(event.get("body_size")), "mimeType": mime_type or "x-unknown"}
        if isinstance(event.get("response_body"), str):
            name, data = _body_file(event["response_body"], mime_type)
            files[name] = data
            content["_file"] = name
        copy = kept.get(url) if method == "GET" else None
        if copy is not None and ok:
            # The bytes the snapshots use: whichever entry of this URL a snapshot picks, it gets them.
            copied = copy["snapshot"]["response"]["content"]
            content.update(_file=copied["_file"], size=copied["size"], mimeType=mime_type or copied["mimeType"])
        elif copy is not None and status != 304:
            failed_kept.add(url)
        request: dict[str, Any] = {
            "method": method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [], "headers": request_headers,
            "queryString": _query(url), "headersSize": -1, "bodySize": _number(event.get("request_size")),
        }
        if isinstance(event.get("request_body"), str):
            kind = next((h["value"] for h in request_headers if h["name"].lower() == "content-type"),
                        "application/octet-stream")
            request["postData"] = {"mimeType": kind, "text": event["request_body"], "params": []}
        response: dict[str, Any] = {
            "status": status if isinstance(status, int) else -1, "statusText": str(event.get("status_text") or ""),
            "httpVersion": "HTTP/1.1", "cookies": [], "headers": _har_headers(event.get("response_headers")),
            "content": content, "redirectURL": "", "headersSize": -1, "bodySize": _number(event.get("body_size")),
            "_transferSize": _number(event.get("response_size")),
        }
        if event.get("failure"):
            response["_failureText"] = str(event["failure"])
        timing: dict[str, Any] = event["timing"] if isinstance(event.get("timing"), dict) else {}
        snapshot: dict[str, Any] = {
            **owner, "_monotonicTime": at, "_resourceType": event.get("resource_type") or "other",
            "startedDateTime": _iso(wall_ms + at), "time": _number(event.get("duration_ms")),
            "request": request, "response": response, "cache": {},
            "timings": {phase: _number(timing.get(phase)) for phase in
                        ("blocked", "dns", "connect", "ssl", "send", "wait", "receive")},
        }
        address = event.get("remote_address")
        if isinstance(address, str) and ":" in address:
            host, _, port = address.rpartition(":")
            snapshot["serverIPAddress"] = host.strip("[]")
            if port.isdigit():
                snapshot["_serverPort"] = int(port)
        entries.append({"type": "resource-snapshot", "snapshot": snapshot})
    return entries, failed_kept


def _query(url: str) -> list[dict[str, str]]:
    try:
        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        return [{"name": name, "value": value} for name, value in pairs]
    except ValueError:
        return []


def _page_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Console messages as Playwright's tracing writes them (``console``), uncaught errors
    and crashes as its ``pageError`` events: what Trace Viewer's Console tab lists."""
    found: list[dict[str, Any]] = []
    for event in events:
        kind, at = event.get("kind"), float(_number(event.get("time_ms"), 0))
        page = f"page@{event.get('page_index') or 0}"
        if kind == "console":
            location: dict[str, Any] = event["location"] if isinstance(event.get("location"), dict) else {}
            found.append({"type": "console", "time": at, "pageId": page,
                          "messageType": str(event.get("level") or "log"), "text": str(event.get("text") or ""),
                          "location": {"url": str(location.get("url") or ""),
                                       "lineNumber": int(_number(location.get("line"), 0)),
                                       "columnNumber": int(_number(location.get("column"), 0))}})
        elif kind in ("error", "crash"):
            error = {"name": str(event.get("name") or "Error"), "message": str(event.get("message") or "")}
            if kind == "crash":
                error["name"] = "Crash"
            if event.get("stack"):
                error["stack"] = str(event["stack"])
            found.append({"type": "event", "time": at, "class": "BrowserContext", "method": "pageError",
                          "params": {"error": {"error": error}}, "pageId": page})
    return found


def source_file_name(path: str) -> str:
    """Where a trace keeps the text of the source file at ``path``, as Playwright names it
    (src/ + the sha1 of the path + the file's extension) and Trace Viewer looks it up."""
    base = re.split(r"[/\\]", path)[-1]
    dot = base.rfind(".")
    return "src/" + hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest() + (base[dot:] if dot > 0 else "")


def _protocol_method(owner: str, method: str) -> tuple[str, str]:
    """The class and method Playwright's protocol (and so its trace viewer) knows a call by:
    ``Locator.select_option`` is ``Frame.selectOption``, ``Keyboard.press`` ``Page.keyboardPress``."""
    camel = camel_case(method)
    if owner in ("Keyboard", "Mouse"):
        return "Page", owner.lower() + camel[:1].upper() + camel[1:]
    # A page's element calls and goto are its main frame's; a locator's, its frame's.
    frame_call = owner == "Locator" or (owner == "Page" and method in ACTIONS["Frame"])
    return ("Frame" if frame_call else owner), camel


def export_trace(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write a trace.zip that Playwright's Trace Viewer opens: each action, its screenshot,
    its DOM snapshot (and the frames it holds), the stylesheets, images and fonts the
    snapshots use, so that they show styled; the page's console messages, uncaught errors
    and requests (the Console and Network tabs), and each call's source line with the
    file's text (the Source tab)."""
    store = recording.store
    viewport = recording.user_metadata.get("viewport") or {"width": 1280, "height": 720}
    started_ms = datetime.fromisoformat(recording.started_at).timestamp() * 1000
    events: list[dict[str, Any]] = [{
        "version": TRACE_VERSION, "type": "context-options", "origin": "library", "browserName": "chromium",
        "options": {"viewport": viewport}, "platform": "linux", "wallTime": started_ms, "monotonicTime": 0,
        "sdkLanguage": "python", "title": f"{recording.name} (recording {recording.id})",
        "testIdAttributeName": "data-testid",
    }]
    kept, files = _resource_snapshots(recording, started_ms)
    recorded = recording.events()
    requests, failed_kept = _request_snapshots(recorded, started_ms, kept, files)
    events += _page_events(recorded)
    frames: set[str] = set()
    for file, info in recording.sources().items():
        files[source_file_name(file)] = store.blob(info["key"])
    for action in recording.timeline():
        metadata = action["metadata"]
        call_id = f"call@{action['sequence']}"
        page_id = f"page@{metadata.get('page_index', 0)}"
        owner, _, method = (metadata.get("api") or f"Page.{action['type']}").partition(".")
        start = float(action["timestamp_ms"])
        end = start + float(action["duration_ms"] or 0)
        params: dict[str, Any] = {}
        if metadata.get("playwright_selector"):
            params["selector"] = metadata["playwright_selector"]
        if metadata.get("redacted"):
            params["value"] = "[redacted]"
        elif action["value"] is not None:
            params["url" if action["type"] == "navigate" else "value"] = action["value"]
        params["recorder_type"] = action["type"]  # recorder's vocabulary, beside Playwright's title
        protocol_class, protocol_method = _protocol_method(owner, method)
        before: dict[str, Any] = {
            "type": "before", "callId": call_id, "startTime": start, "class": protocol_class,
            "method": protocol_method, "params": params, "pageId": page_id, "title": action_title(action)}
        if action["type"] == "navigate" and (action["value"] or action["url"]):
            before["subtitle"] = action["value"] or action["url"]
        source = metadata.get("source")
        if isinstance(source, dict) and isinstance(source.get("file"), str):
            # Python gives no column: 0, as Playwright writes a step's location without one.
            before["stack"] = [{"file": source["file"], "line": int(_number(source.get("line"), 0)), "column": 0,
                                "function": str(source.get("function") or "")}]
        events.append(before)
        if metadata.get("bounding_box"):
            events.append({"type": "input", "callId": call_id, "box": metadata["bounding_box"]})
        after: dict[str, Any] = {"type": "after", "callId": call_id, "endTime": end}
        if action["status"] == "error":
            after["error"] = {"name": metadata.get("error_type", "Error"), "message": action["error"] or "error"}
        events.append(after)
        if action["dom_snapshot_key"]:
            document = store.blob(action["dom_snapshot_key"]).decode("utf-8", "replace")
            main_frame = f"frame@{metadata.get('page_index', 0)}"
            page_url = action["url"] if re.match(r"https?://", action["url"] or "", re.IGNORECASE) else None
            for frame in frame_snapshots(document, main_frame, page_url):  # a snapshot's own URL comes first
                snapshot: dict[str, Any] = {
                    "callId": call_id, "snapshotName": f"after@{call_id}", "phase": "after", "pageId": page_id,
                    "frameId": frame["frame_id"], "isMainFrame": frame["frame_id"] == main_frame,
                    "frameUrl": frame["url"] or (action["url"] if frame["frame_id"] == main_frame else None)
                    or "about:blank",
                    "html": frame["html"], "viewport": viewport, "resourceOverrides": [], "collectionTime": 0,
                    # after the resources, which a snapshot finds only if they came before it
                    "timestamp": max(end, _RESOURCES_AT + 0.001), "wallTime": started_ms + end,
                }
                if frame["doctype"]:
                    snapshot["doctype"] = frame["doctype"]
                events.append({"type": "frame-snapshot", "snapshot": snapshot})
                frames.add(frame["frame_id"])
        if action["screenshot_key"]:
            name = f"screencast/{page_id}-{action['sequence']}.jpeg"
            files[name] = store.blob(action["screenshot_key"])
            width, height = _jpeg_size(files[name])
            events.append({"type": "screencast-frame", "pageId": page_id, "file": name, "width": width,
                           "height": height, "timestamp": end + 0.5, "frameSwapWallTime": started_ms + end})
    network = list(kept.values())
    for url in sorted(failed_kept):  # each other snapshot frame gets the kept copy as its own
        for frame_id in sorted(frames - {"frame@0"}):
            snapshot = {**kept[url]["snapshot"], "_frameref": frame_id, "pageref": f"page@{frame_id[6:].split('.')[0]}"}
            network.append({"type": "resource-snapshot", "snapshot": snapshot})
    network += requests
    with replacing(path) as temporary, zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("trace.trace", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
        archive.writestr("trace.network", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in network))
        for name, data in files.items():
            compress = zipfile.ZIP_STORED if name.endswith((".jpeg", ".png", ".woff", ".woff2", ".gif", ".webp")) \
                else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=compress)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    from PIL import Image
    import io

    with Image.open(io.BytesIO(data)) as image:
        return image.size

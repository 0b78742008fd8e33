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
from datetime import datetime, timezone
from typing import Any

from ._core import recorded_argument
from .model import parameterize
from .replay import secret_env_var, secret_name, url_pattern
from .store import Recording, RecordingStore

CASSETTE_FORMAT = "recorder-cassette"
# 1: recording, timeline, blobs. 2: and resources, the stylesheets, images and fonts the
# DOM snapshots use (their bytes among the blobs). 3: and events (console messages, page
# errors, crashes, requests, as Recording.events() gives them) and sources, the files the
# recorded calls were made from (their text among the blobs). Versions 1 and 2 still import.
CASSETTE_VERSION = 3


def export_json(recording: Recording, blobs: bool = True) -> dict[str, Any]:
    """The recording, its timeline, the resources its snapshots use, its events, the
    source files its calls were made from, and (base64, by sha256 key) the bytes of its
    screenshots, DOM snapshots, resources and sources."""
    timeline = recording.timeline()
    kept = recording.resources()
    resources = [{"url": url, "media_type": info["media_type"], "key": info["key"], "size": info["size"],
                  "sequence": info["sequence"]} for url, info in kept.items()]
    sources = [{"path": path, "key": info["key"], "size": info["size"]} for path, info in recording.sources().items()]
    cassette: dict[str, Any] = {
        "format": CASSETTE_FORMAT, "version": CASSETTE_VERSION,
        "recording": recording.to_dict(), "timeline": timeline, "resources": resources,
        "events": recording.events(), "sources": sources,
    }
    if blobs:
        keys = {a[k] for a in timeline for k in ("screenshot_key", "dom_snapshot_key") if a[k]}
        keys |= {info["key"] for info in kept.values()}
        keys |= {source["key"] for source in sources}
        cassette["blobs"] = {
            key: {"media_type": recording.store.blob_info(key)["media_type"],
                  "data": base64.b64encode(recording.store.blob(key)).decode()}
            for key in sorted(keys)
        }
    return cassette


def import_json(store: RecordingStore, cassette: dict[str, Any]) -> Recording:
    """Store a cassette as a new recording; its actions keep their sequence, timing and keys,
    its resources their URLs, its events and sources come along. A cassette without blobs
    (``--no-blobs``) imports without snapshots, resources or sources (their bytes are not
    in it); its events are."""
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
    return store.restore(source, cassette["timeline"], blobs, resources if found is not None else None,
                         events, sources if found is not None else None)


# -- pytest ---------------------------------------------------------------------------------

_ARGUMENTLESS = {"click", "dblclick", "tap", "check", "uncheck", "hover", "focus", "clear"}
_KEYBOARD = {"press", "down", "up", "type", "insert_text"}
_MOUSE = {"click", "dblclick", "down", "up", "move", "wheel"}

# Everything recorded is hostile input (a page chose its text, a cassette can say anything),
# and this writes Python source: values only ever go in as repr() literals, method names
# only from the sets above, and a selector only when it parses as a plain locator chain.


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


def _call(action: dict[str, Any]) -> str | None:
    """The Python line that performs a recorded action, or None to leave it out."""
    metadata = action["metadata"]
    owner, _, method = str(metadata.get("api", "")).partition(".")
    value = action["value"]
    if metadata.get("redacted"):
        value_code = f"os.environ[{_literal(secret_env_var(secret_name(metadata.get('target'))))}]"
    else:
        value_code = _literal(value)
    if owner == "Page" and method == "goto":
        return f"page.goto({_literal(value or action['url'] or '')})"
    if owner == "Page" and method in ("reload", "go_back", "go_forward"):
        return f"page.{method}()"
    if owner == "Keyboard" and method in _KEYBOARD:
        return f"page.keyboard.{method}({value_code})"
    if owner == "Mouse" and method in _MOUSE:
        try:
            numbers = [float(n) for n in (value or "").split(",") if n.strip()]
        except ValueError:
            return None
        return f"page.mouse.{method}({', '.join(repr(n) for n in numbers)})"
    if owner not in ("Page", "Frame", "Locator") or not action["selector"]:
        return None
    target = f"page.{action['selector']}"
    if not _is_locator_chain(target):
        return None
    if method in _ARGUMENTLESS:
        return f"{target}.{method}()"
    if method in ("fill", "type", "press_sequentially", "press"):
        return f"{target}.{method}({value_code})"
    if method in ("set_checked", "select_option"):
        if metadata.get("redacted"):
            return f"{target}.{method}({value_code})" if method == "select_option" else None
        try:
            return f"{target}.{method}({_literal(recorded_argument(method, value))})"
        except ValueError:
            return None
    if method in ("drag_to", "drag_and_drop") and metadata.get("drag_target_selector"):
        return f"{target}.drag_to(page.locator({_literal(str(metadata['drag_target_selector']))}))"
    return None


def export_pytest(recording: Recording) -> str:
    """A readable pytest-playwright test doing what was recorded, with the URL checks."""
    name = parameterize(recording.name).replace("-", "_") or f"recording_{recording.id}"
    lines = [
        f'"""Exported by recorder from recording {recording.id}."""',
        f"# recording name: {recording.name!r}",
        "",
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
        elif action["metadata"].get("api", "").partition(".")[0] in ("Page", "Frame", "Locator", "Keyboard", "Mouse"):
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
    return re.sub(r"\n{3,}(?=from)", "\n\n", source)


# -- Playwright trace ----------------------------------------------------------------------
#
# A trace.zip laid out as Playwright's own tracing writes it (format 10):
#   trace.trace    a JSON event a line: context-options; before, input and after per call;
#                  frame-snapshot (a document as nested [TAG, {attrs}, ...children]);
#                  screencast-frame (screencast/*.jpeg)
#   trace.network  a resource-snapshot a line: the HAR entry of a stylesheet, image or font,
#                  its bytes in resources/<sha1>.<ext>
# Trace Viewer renders a frame snapshot as HTML from its service worker, which then answers
# each URL that HTML asks for (a stylesheet, its @import, a font, a background image) with
# the resource-snapshot of that URL: the last one whose _monotonicTime is before the
# snapshot's timestamp, of the snapshot's own frame (_frameref) if there is one, else of any.
# recorder keeps one version of each URL per recording, so every resource is dated at the
# recording's start and every snapshot finds it, a font that finished loading after the
# first snapshot included.

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


def _resource_snapshots(recording: Recording, wall_ms: float) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """The recording's stylesheets, images and fonts: a resource-snapshot (HAR entry) each,
    and their bytes by file name (resources/<sha1>.<ext>, once however many URLs share them)."""
    entries: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    started = datetime.fromtimestamp(wall_ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
    started = started.replace("+00:00", "Z")
    for url, info in recording.resources().items():
        data = recording.store.blob(info["key"])
        media_type = info["media_type"] or "application/octet-stream"
        name = "resources/" + hashlib.sha1(data).hexdigest() + (mimetypes.guess_extension(media_type) or ".dat")
        files[name] = data
        kind = "stylesheet" if media_type == "text/css" else media_type.partition("/")[0]
        entries.append({"type": "resource-snapshot", "snapshot": {
            "pageref": "page@0", "_frameref": "frame@0", "_monotonicTime": _RESOURCES_AT,
            "_resourceType": kind if kind in ("stylesheet", "image", "font") else "other",
            "startedDateTime": started, "time": 0,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                         "content": {"size": len(data), "mimeType": media_type, "_file": name},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(data), "_transferSize": len(data)},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
        }})
    return entries, files


def export_trace(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write a trace.zip that Playwright's Trace Viewer opens: each action, its screenshot,
    its DOM snapshot (and the frames it holds), and the stylesheets, images and fonts the
    snapshots use, so that they show styled."""
    store = recording.store
    viewport = recording.user_metadata.get("viewport") or {"width": 1280, "height": 720}
    started_ms = datetime.fromisoformat(recording.started_at).timestamp() * 1000
    events: list[dict[str, Any]] = [{
        "version": TRACE_VERSION, "type": "context-options", "origin": "library", "browserName": "chromium",
        "options": {"viewport": viewport}, "platform": "linux", "wallTime": started_ms, "monotonicTime": 0,
        "sdkLanguage": "python", "title": f"{recording.name} (recording {recording.id})",
        "testIdAttributeName": "data-testid",
    }]
    network, files = _resource_snapshots(recording, started_ms)
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
        events.append({"type": "before", "callId": call_id, "startTime": start, "class": "Frame" if owner == "Locator"
                       else owner, "method": method, "params": params, "pageId": page_id,
                       "title": f"{action['type']} {action['selector'] or action['url'] or ''}".strip()})
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
        if action["screenshot_key"]:
            name = f"screencast/{page_id}-{action['sequence']}.jpeg"
            files[name] = store.blob(action["screenshot_key"])
            width, height = _jpeg_size(files[name])
            events.append({"type": "screencast-frame", "pageId": page_id, "file": name, "width": width,
                           "height": height, "timestamp": end + 0.5, "frameSwapWallTime": started_ms + end})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("trace.trace", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
        archive.writestr("trace.network", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in network))
        for name, data in files.items():
            compress = zipfile.ZIP_DEFLATED if name.endswith((".css", ".svg")) else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=compress)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    from PIL import Image
    import io

    with Image.open(io.BytesIO(data)) as image:
        return image.size

"""Taking a recording elsewhere: a JSON cassette (and back), a runnable pytest file.

    cassette = export_json(recording)                 # dict; json.dump it anywhere
    copy = import_json(other_store, cassette)          # the same timeline, a new id
    source = export_pytest(recording)                  # a pytest-playwright test, as text
    export_trace(recording, "trace.zip")               # opens in `playwright show-trace`
"""

from __future__ import annotations

import ast
import base64
import html.parser
import json
import os
import re
import zipfile
from datetime import datetime
from typing import Any

from ._core import recorded_argument
from .model import parameterize
from .replay import secret_env_var, secret_name, url_pattern
from .store import Recording, RecordingStore

CASSETTE_FORMAT = "recorder-cassette"
CASSETTE_VERSION = 1


def export_json(recording: Recording, blobs: bool = True) -> dict[str, Any]:
    """The recording, its timeline and (base64) the snapshots its actions show."""
    timeline = recording.timeline()
    cassette: dict[str, Any] = {
        "format": CASSETTE_FORMAT, "version": CASSETTE_VERSION,
        "recording": recording.to_dict(), "timeline": timeline,
    }
    if blobs:
        keys = {a[k] for a in timeline for k in ("screenshot_key", "dom_snapshot_key") if a[k]}
        cassette["blobs"] = {
            key: {"media_type": recording.store.blob_info(key)["media_type"],
                  "data": base64.b64encode(recording.store.blob(key)).decode()}
            for key in sorted(keys)
        }
    return cassette


def import_json(store: RecordingStore, cassette: dict[str, Any]) -> Recording:
    """Store a cassette as a new recording; its actions keep their sequence, timing and keys."""
    if not isinstance(cassette, dict):
        raise ValueError(f"not a recorder cassette (a JSON {type(cassette).__name__}, not an object)")
    if cassette.get("format") != CASSETTE_FORMAT:
        raise ValueError(f"not a recorder cassette (format is {cassette.get('format')!r}, expected {CASSETTE_FORMAT!r})")
    if cassette.get("version", 0) > CASSETTE_VERSION:
        raise ValueError(f"cassette version {cassette['version']} is newer than this recorder reads ({CASSETTE_VERSION})")
    source = cassette["recording"]
    found = cassette.get("blobs") or {}
    if not isinstance(found, dict) or not all(isinstance(item, dict) and isinstance(item.get("data"), str)
                                              for item in found.values()):
        raise ValueError("its blobs are not {key: {data: base64}}")
    blobs = {key: base64.b64decode(item["data"], validate=True) for key, item in found.items()}
    return store.restore(source, cassette["timeline"], blobs)


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

TRACE_VERSION = 10  # the trace.trace format of Playwright 1.5x-1.6x
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _SnapshotBuilder(html.parser.HTMLParser):
    """HTML -> the nested ``[TAG, {attrs}, ...children]`` form of a trace's frame snapshot."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[Any] = ["HTML", {}]
        self.stack: list[list[Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node: list[Any] = [tag.upper(), {name: value or "" for name, value in attrs}]
        if tag == "html":
            self.root[1].update(node[1])
            self.stack = [self.root]
            return
        if tag == "input" and "value" in node[1]:
            node[1]["__playwright_value_"] = node[1]["value"]  # what the trace viewer shows in a field
        (self.stack[-1] if self.stack else self.root).append(node)
        if tag not in _VOID:
            self.stack.append(node)

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
        (self.stack[-1] if self.stack else self.root).append(data)


def snapshot_tree(document: str) -> list[Any]:
    builder = _SnapshotBuilder()
    builder.feed(document)
    builder.close()
    return builder.root


def export_trace(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write a trace.zip that Playwright's Trace Viewer opens: each action, its screenshot
    and its DOM snapshot."""
    store = recording.store
    viewport = recording.user_metadata.get("viewport") or {"width": 1280, "height": 720}
    started_ms = datetime.fromisoformat(recording.started_at).timestamp() * 1000
    events: list[dict[str, Any]] = [{
        "version": TRACE_VERSION, "type": "context-options", "origin": "library", "browserName": "chromium",
        "options": {"viewport": viewport}, "platform": "linux", "wallTime": started_ms, "monotonicTime": 0,
        "sdkLanguage": "python", "title": f"{recording.name} (recording {recording.id})",
        "testIdAttributeName": "data-testid",
    }]
    files: dict[str, bytes] = {}
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
            events.append({"type": "frame-snapshot", "snapshot": {
                "callId": call_id, "snapshotName": f"after@{call_id}", "phase": "after", "pageId": page_id,
                "frameId": f"frame@{metadata.get('page_index', 0)}", "frameUrl": action["url"] or "about:blank",
                "doctype": "html", "html": snapshot_tree(document), "viewport": viewport, "timestamp": end,
                "wallTime": started_ms + end, "collectionTime": 0, "resourceOverrides": [], "isMainFrame": True,
            }})
        if action["screenshot_key"]:
            name = f"screencast/{page_id}-{action['sequence']}.jpeg"
            files[name] = store.blob(action["screenshot_key"])
            width, height = _jpeg_size(files[name])
            events.append({"type": "screencast-frame", "pageId": page_id, "file": name, "width": width,
                           "height": height, "timestamp": end + 0.5, "frameSwapWallTime": started_ms + end})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("trace.trace", "\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n")
        archive.writestr("trace.network", "")
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    from PIL import Image
    import io

    with Image.open(io.BytesIO(data)) as image:
        return image.size

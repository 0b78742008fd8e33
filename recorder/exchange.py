"""Taking a recording elsewhere: a JSON cassette (and back), a runnable pytest file.

    cassette = export_json(recording)                 # dict; json.dump it anywhere
    copy = import_json(other_store, cassette)          # the same timeline, a new id
    source = export_pytest(recording)                  # a pytest-playwright test, as text
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

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
    if cassette.get("format") != CASSETTE_FORMAT:
        raise ValueError(f"not a recorder cassette (format is {cassette.get('format')!r}, expected {CASSETTE_FORMAT!r})")
    if cassette.get("version", 0) > CASSETTE_VERSION:
        raise ValueError(f"cassette version {cassette['version']} is newer than this recorder reads ({CASSETTE_VERSION})")
    source = cassette["recording"]
    blobs = {key: base64.b64decode(item["data"]) for key, item in (cassette.get("blobs") or {}).items()}
    return store.restore(source, cassette["timeline"], blobs)


# -- pytest ---------------------------------------------------------------------------------

_ARGUMENTLESS = {"click", "dblclick", "tap", "check", "uncheck", "hover", "focus", "clear"}


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _call(action: dict[str, Any]) -> str | None:
    """The Python line that performs a recorded action, or None to leave it out."""
    metadata = action["metadata"]
    owner, _, method = metadata.get("api", "").partition(".")
    value = action["value"]
    if metadata.get("redacted"):
        value_code = f"os.environ[{_literal(secret_env_var(secret_name(metadata.get('target'))))}]"
    else:
        value_code = _literal(value)
    if owner == "Page" and method == "goto":
        return f"page.goto({_literal(value or action['url'])})"
    if owner == "Page" and method in ("reload", "go_back", "go_forward"):
        return f"page.{method}()"
    if owner == "Keyboard":
        return f"page.keyboard.{method}({value_code})"
    if owner == "Mouse":
        return f"page.mouse.{method}({value or ''})"
    if owner not in ("Page", "Frame", "Locator") or not action["selector"]:
        return None
    target = f"page.{action['selector']}"
    if method in _ARGUMENTLESS:
        return f"{target}.{method}()"
    if method in ("fill", "type", "press_sequentially", "press"):
        return f"{target}.{method}({value_code})"
    if method == "set_checked":
        return f"{target}.set_checked({json.loads(value or 'true')})"
    if method == "select_option":
        return f"{target}.select_option({value if value and value.startswith('[') else value_code})"
    if method in ("drag_to", "drag_and_drop") and metadata.get("drag_target_selector"):
        return f"{target}.drag_to(page.locator({_literal(metadata['drag_target_selector'])}))"
    return None


def export_pytest(recording: Recording) -> str:
    """A readable pytest-playwright test doing what was recorded, with the URL checks."""
    name = parameterize(recording.name).replace("-", "_") or f"recording_{recording.id}"
    lines = [
        f'"""{recording.name}: exported by recorder from recording {recording.id}."""',
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

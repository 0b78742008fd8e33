"""Secrets never show in a stored screenshot: password fields, fields `redact` names and
text that shows a typed secret are painted over, where they are at that action."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from recorder import RecordingStore, record
from recorder.tiles import MASK_COLOUR

SSN = "123-45-" + "6789"


def painted_share(image: Image.Image, box: dict[str, float], scale: float) -> float:
    """The share of the box's pixels (CSS px, scaled to the stored image) painted in the
    mask colour (allowing for the tiles' lossy encoding)."""
    left, top = max(0, int(box["x"] * scale) + 2), max(0, int(box["y"] * scale) + 2)  # (the part on screen)
    right = min(image.width, int((box["x"] + box["width"]) * scale) - 2)
    bottom = min(image.height, int((box["y"] + box["height"]) * scale) - 2)
    pixels = [image.getpixel((x, y)) for x in range(left, right) for y in range(top, bottom)]
    close = [p for p in pixels if all(abs(a - b) < 60 for a, b in zip(p, MASK_COLOUR))]
    return len(close) / max(1, len(pixels))


def recorded(page: Any, server: str, db: Path, redact: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with record(page, db=db, redact=redact, name=f"redact={redact}") as page:
        page.goto(f"{server}/secrets/index.html")
        page.fill("#ssn", SSN)
        page.fill("#pw", "hunter2-pw")
        page.click("#show")
        page.wait_for_function("() => document.getElementById('echo').textContent.startsWith('You typed')")
        echo = page.evaluate("""(secret) => {  // where the typed SSN shows in the echo
            const text = document.getElementById('echo').firstChild, range = document.createRange();
            range.setStart(text, text.nodeValue.indexOf(secret));
            range.setEnd(text, text.nodeValue.indexOf(secret) + secret.length);
            const r = range.getBoundingClientRect();
            return {x: r.x, y: r.y, width: r.width, height: r.height};
        }""", SSN)
        page.mouse.wheel(0, 60)  # the fields move up: their boxes must follow
        page.wait_for_function("() => window.scrollY >= 60")
        moved = {"ssn": page.locator("#ssn").bounding_box(), "pw": page.locator("#pw").bounding_box()}
        page.get_by_role("button", name="Show what I typed").click()
    with RecordingStore(db) as store:
        timeline = store.get(page.recording.id).timeline()
        images = {a["sequence"]: Image.open(io.BytesIO(store.blob(a["screenshot_key"]))).convert("RGB")
                  for a in timeline if a["screenshot_key"]}
    return timeline, {"images": images, "echo": echo, "moved": moved}


def test_secrets_are_painted_over_in_stored_screenshots(page: Any, server: str, tmp_path: Path) -> None:
    viewport = page.viewport_size
    found = {}
    for name, redact in (("plain", []), ("redacted", ["#ssn"])):
        found[name] = recorded(page, server, tmp_path / f"{name}.db", redact)
        page = page.context.new_page()
        page.set_viewport_size(viewport)
    for name, (timeline, seen) in found.items():
        by_api = {(a["type"], a["selector"]): a for a in timeline}
        fill_ssn = by_api[("type", 'locator("#ssn")')]
        fill_pw = by_api[("type", 'locator("#pw")')]
        show = by_api[("click", 'locator("#show")')]
        last = timeline[-1]
        image = seen["images"][fill_pw["sequence"]]
        scale = image.width / viewport["width"]
        ssn_box, pw_box = fill_ssn["metadata"]["bounding_box"], fill_pw["metadata"]["bounding_box"]
        # A password field is always painted over.
        assert painted_share(image, pw_box, scale) > 0.8, name
        ssn_share = painted_share(image, ssn_box, scale)
        echo_share = painted_share(seen["images"][show["sequence"]], seen["echo"], scale)
        moved = seen["images"][last["sequence"]]
        moved_ssn = painted_share(moved, seen["moved"]["ssn"], scale)
        moved_pw = painted_share(moved, seen["moved"]["pw"], scale)
        if name == "redacted":
            assert ssn_share > 0.8 and echo_share > 0.8, (ssn_share, echo_share)
            assert moved_ssn > 0.8 and moved_pw > 0.8, (moved_ssn, moved_pw)  # where the fields are now
        else:
            assert ssn_share < 0.05 and echo_share < 0.05, (ssn_share, echo_share)
            assert moved_pw > 0.8 and moved_ssn < 0.05, (moved_pw, moved_ssn)

"""Masking: elements painted over in screenshots and emptied in DOM snapshots."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageStat
from playwright.sync_api import Page

from recorder import RecordingStore, record

CARD = "4111-1111-1111-1111"


def test_masked_elements_are_painted_over_and_emptied(page: Page, server: str, db_path: Path) -> None:
    page.set_viewport_size({"width": 800, "height": 450})  # screenshots at full size: boxes map 1:1
    page.goto(server + "/app.html")
    page.evaluate("document.getElementById('out').textContent = 'card on file: 4111-1111-1111-1111'")
    with record(page, db=db_path, mask=["#card", "#out"]) as page:
        page.get_by_test_id("card").fill(CARD)
        page.get_by_label("Name").fill("not masked")
    box = page.locator("#out").bounding_box()
    assert box is not None
    with RecordingStore(db_path) as store:
        timeline = store.get(page.recording.id).timeline()
        html = store.blob(timeline[-1]["dom_snapshot_key"]).decode()
        image = Image.open(io.BytesIO(store.blob(timeline[-1]["screenshot_key"]))).convert("RGB")
    assert CARD not in html and "data-recorder-masked" in html and 'value="not masked"' in html
    inside = image.crop((int(box["x"]) + 3, int(box["y"]) + 3, int(box["x"] + box["width"]) - 3,
                         int(box["y"] + box["height"]) - 3))
    assert max(ImageStat.Stat(inside).stddev) < 12, "the masked region should be one flat colour"
    assert timeline[0]["value"] is None and timeline[0]["metadata"]["redacted"]  # its value is private too
    for path in db_path.parent.glob("recordings.db*"):
        assert CARD.encode() not in path.read_bytes()

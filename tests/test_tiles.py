"""Screenshots stored as tiles: shared tiles once, composed back into a real image."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from PIL import Image, ImageDraw

from recorder import RecordingStore
from recorder.tiles import TILE, split


def screenshot(text: str = "", size: tuple[int, int] = (320, 192)) -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((10, 10), text, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_screenshot_is_cut_into_tiles_with_repeats_stored_once() -> None:
    tiled = split(screenshot())  # a blank image: every tile is the same white square
    assert len(tiled.tiles) == 1
    tiled = split(screenshot("hello"))
    assert len(tiled.tiles) == 2  # the tile with text, and white


def test_a_small_change_stores_only_the_changed_tile(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        recording = store.start()
        recording.record_action("type", screenshot=screenshot("a"))
        recording.record_action("type", screenshot=screenshot("ab"))
        store.flush()
    with sqlite3.connect(db_path) as conn:
        tiles = conn.execute("SELECT count(*) FROM blobs WHERE key LIKE 'tile:%'").fetchone()[0]
    assert tiles == 3  # white, "a", "ab": the second screenshot added one tile


def test_stored_screenshot_reads_back_as_the_same_picture(db_path: Path) -> None:
    original = screenshot("The quick brown fox", size=(3 * TILE + 5, 2 * TILE + 7))
    with RecordingStore(db_path) as store:
        action = store.start().record_action("click", screenshot=original)
        image = Image.open(io.BytesIO(store.blob(action.screenshot_key)))
        assert store.blob_info(action.screenshot_key)["media_type"] == "image/jpeg"
    assert image.format == "JPEG" and image.size == (3 * TILE + 5, 2 * TILE + 7)
    source = Image.open(io.BytesIO(original)).convert("L").tobytes()
    composed = image.convert("L").tobytes()
    difference = sum(abs(a - b) for a, b in zip(source, composed)) / len(source)
    assert difference < 8, "the composed screenshot should look like the captured one"


def test_bytes_that_are_not_an_image_are_stored_as_they_are(db_path: Path) -> None:
    with RecordingStore(db_path) as store:
        action = store.start().record_action("click", screenshot=b"not an image at all")
        assert store.blob(action.screenshot_key) == b"not an image at all"
        assert len(store.get(action.recording_id).timeline()) == 1

"""Screenshots stored as tiles: shared tiles once, composed back into a real image (on
SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

from PIL import Image, ImageDraw

from recorder import RecordingStore, tiles
from recorder.storage import open_engine
from recorder.storage.blobstore import BlobStore
from recorder.storage.queries import run
from recorder.tiles import TILE, split
from tests import engines


def screenshot(text: str = "", size: tuple[int, int] = (5 * TILE, 3 * TILE)) -> bytes:
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


def test_a_small_change_stores_only_the_changed_tile(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        recording.record_action("type", screenshot=screenshot("a"))
        recording.record_action("type", screenshot=screenshot("ab"))
        store.flush()
    tiles = engines.scalar(store_target, "SELECT count(*) FROM blobs WHERE key LIKE 'tile:%'")
    assert tiles == 3  # white, "a", "ab": the second screenshot added one tile


def test_stored_screenshot_reads_back_as_the_same_picture(store_target: str) -> None:
    original = screenshot("The quick brown fox", size=(3 * TILE + 5, 2 * TILE + 7))
    with RecordingStore(store_target) as store:
        action = store.start().record_action("click", screenshot=original)
        image = Image.open(io.BytesIO(store.blob(action.screenshot_key)))
        assert store.blob_info(action.screenshot_key)["media_type"] == "image/jpeg"
    assert image.format == "JPEG" and image.size == (3 * TILE + 5, 2 * TILE + 7)
    source = Image.open(io.BytesIO(original)).convert("L").tobytes()
    composed = image.convert("L").tobytes()
    difference = sum(abs(a - b) for a, b in zip(source, composed)) / len(source)
    assert difference < 8, "the composed screenshot should look like the captured one"


def test_bytes_that_are_not_an_image_are_stored_as_they_are(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        action = store.start().record_action("click", screenshot=b"not an image at all")
        assert store.blob(action.screenshot_key) == b"not an image at all"
        assert len(store.get(action.recording_id).timeline()) == 1


def jpeg(text: str = "", size: tuple[int, int] = (320, 192)) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(screenshot(text, size))).save(out, "JPEG", quality=90)
    return out.getvalue()


def blob_rows(target: str) -> dict[str, tuple[str, str]]:
    return {key: (media_type, codec) for key, media_type, codec in engines.query(target, "SELECT key, media_type, codec FROM blobs")}


def test_a_jpeg_is_committed_as_captured_then_tiled_under_the_same_key(store_target: str) -> None:
    original = jpeg("deferred")
    with RecordingStore(store_target) as store:
        action = store.start().record_action("click", screenshot=original)
        store.flush(tiled=False)
        # Durable without waiting for tiling (which may or may not have happened yet).
        assert blob_rows(store_target)[action.screenshot_key] in {("image/jpeg", "raw"),
                                                              ("application/vnd.recorder.tiles", "zstd")}
        store.flush()
        assert blob_rows(store_target)[action.screenshot_key][0] == "application/vnd.recorder.tiles"
        assert any(key.startswith("tile:") for key in blob_rows(store_target))
        image = Image.open(io.BytesIO(store.blob(action.screenshot_key)))
        assert image.format == "JPEG" and image.size == (320, 192)


def test_screenshots_a_killed_process_left_untiled_are_tiled_by_vacuum(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        action = store.start().record_action("click", screenshot=jpeg("crash"))
    # What a process killed before its idle time leaves: the action and its JPEG as captured.
    engines.execute(store_target, "DELETE FROM blobs WHERE key LIKE 'tile:%'")
    engines.execute(store_target, "UPDATE blobs SET media_type = 'image/jpeg', codec = 'raw', base_key = NULL, data = ?"
                                  " WHERE key = ?", (jpeg("crash"), action.screenshot_key))
    with RecordingStore(store_target) as store:
        assert Image.open(io.BytesIO(store.blob(action.screenshot_key))).format == "JPEG"
        store.vacuum()
        assert blob_rows(store_target)[action.screenshot_key][0] == "application/vnd.recorder.tiles"
        assert Image.open(io.BytesIO(store.blob(action.screenshot_key))).size == (320, 192)


def test_deleting_a_recording_before_its_screenshots_are_tiled_leaves_no_tiles(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        for i in range(5):
            recording.record_action("click", screenshot=jpeg(f"gone {i}"), dom_snapshot=f"<p>{i}</p>")
        recording.complete()
        store.delete(recording.id)
        store.flush()
    assert blob_rows(store_target) == {}


def test_a_decompression_bomb_is_stored_as_it_is_and_the_writer_goes_on(store_target: str) -> None:
    """A JPEG header claiming 20000x20000 pixels made Pillow raise an error tiling did not
    expect, which stopped the writer thread: every later write then waited forever."""
    bomb = bytearray(jpeg("bomb", size=(16, 16)))
    frame_header = bomb.find(b"\xff\xc0")
    bomb[frame_header + 5:frame_header + 9] = (20000).to_bytes(2, "big") * 2
    with RecordingStore(store_target) as store:
        recording = store.start()
        first = recording.record_action("click", screenshot=bytes(bomb))
        store.flush()
        second = recording.record_action("click", screenshot=jpeg("after"), dom_snapshot="<p>after</p>")
        store.flush()
        assert store.blob(first.screenshot_key) == bytes(bomb)  # kept as captured
        assert blob_rows(store_target)[second.screenshot_key][0] == "application/vnd.recorder.tiles"
        assert [a["sequence"] for a in recording.timeline()] == [1, 2]


def wrong_tile_refs(target: str) -> dict[str, tuple[int, int]]:
    """Tiles whose ``refs`` is not the number of stored screenshots made of them: key ->
    (screenshots, refs)."""
    with RecordingStore(target) as store:
        blob_store = store._blobs

        def count(conn: Any) -> dict[str, tuple[int, int]]:
            expected: dict[str, int] = {}
            for (key,) in conn.execute("SELECT key FROM blobs WHERE media_type = ?", (tiles.MEDIA_TYPE,)).fetchall():
                for tile in set(tiles.tile_keys(run(conn, blob_store.read_stored(key)))):
                    expected[tile] = expected.get(tile, 0) + 1
            actual = dict(conn.execute("SELECT key, refs FROM blobs WHERE key LIKE 'tile:%'").fetchall())
            return {tile: (expected.get(tile, 0), actual.get(tile, 0)) for tile in {*expected, *actual}
                    if expected.get(tile, 0) != actual.get(tile, 0)}

        return store._writer.call(count)


class _SlowCommit:
    """A connection whose COMMIT waits a while first: another writer's turn comes meanwhile."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, *parameters: Any) -> Any:
        if sql == "COMMIT":
            time.sleep(1.0)
        return self.conn.execute(sql, *parameters)


def test_two_processes_tiling_one_screenshot_at_once_count_its_tiles_once(store_target: str) -> None:
    with RecordingStore(store_target) as store:
        recording = store.start()
        action = recording.record_action("click", screenshot=jpeg("twice"))
        recording.complete()
    # As captured again, as a killed process leaves it: the next two stores both find it untiled.
    engines.execute(store_target, "DELETE FROM blobs WHERE key LIKE 'tile:%'")
    engines.execute(store_target, "UPDATE blobs SET media_type = 'image/jpeg', codec = 'raw', base_key = NULL, data = ?"
                                  " WHERE key = ?", (jpeg("twice"), action.screenshot_key))
    engine = open_engine(store_target)

    def tile(slow: bool) -> None:
        conn = engine.connect()
        try:
            blob_store = BlobStore(engine)
            blob_store.tile_leftovers(_SlowCommit(conn) if slow else conn)
        finally:
            conn.close()

    first = threading.Thread(target=tile, args=(True,))
    first.start()
    time.sleep(0.3)  # the first is waiting to commit its tiles
    tile(False)
    first.join()
    assert blob_rows(store_target)[action.screenshot_key][0] == tiles.MEDIA_TYPE
    assert wrong_tile_refs(store_target) == {}
    with RecordingStore(store_target) as store:
        store.delete(recording.id)
    assert blob_rows(store_target) == {}  # no tile left behind


def test_two_processes_storing_one_masked_screenshot_at_once_count_its_tiles_once(store_target: str) -> None:
    masks = {"viewport_width": 320, "boxes": [{"x": 0, "y": 0, "width": 8, "height": 8}]}
    with RecordingStore(store_target) as store:
        recording_id = store.start().id
    engine = open_engine(store_target)

    def put(slow: bool) -> None:  # what a writer's round does with an attached masked screenshot
        conn = engine.connect()
        try:
            writing = _SlowCommit(conn) if slow else conn
            engine.begin(writing)
            BlobStore(engine).put(writing, recording_id, jpeg("masked"), "screenshot", key="masked", masks=masks)
            writing.execute("COMMIT")
        finally:
            conn.close()

    first = threading.Thread(target=put, args=(True,))
    first.start()
    time.sleep(0.3)  # the first is waiting to commit
    put(False)
    first.join()
    assert blob_rows(store_target)["masked"][0] == tiles.MEDIA_TYPE
    assert wrong_tile_refs(store_target) == {}

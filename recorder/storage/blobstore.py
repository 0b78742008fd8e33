"""The blobs table: snapshot and resource bytes, content-addressed, compressed, tiled.

Every method runs on the writer thread (recorder/storage/writer.py) with its connection,
in SQL both engines speak. What is stored (recorder/blobs.py for keys and codecs,
recorder/tiles.py for screenshots):

- a DOM snapshot: zstd, as a delta of the recording's previous one;
- a screenshot: first the JPEG as captured (cheap: the action is durable at once), cut
  into shared 64 px WebP tiles when the writer is idle, its row swapped for the tiles'
  manifest under the same key (a delta of the previous manifest);
- a page resource or source file: zstd on its own (unless already compressed).

A blob is stored once however many actions, recordings or processes use it; tiles count
their users in ``refs``. Blobs no one uses are collected when their recording is deleted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .. import blobs, tiles
from ..errors import RecordingNotFound
from .engine import Connection, Engine, storable_json
from .queries import QueryFlow, run

# Every blob key a recording uses directly (a delta's base and a screenshot's tiles are
# reached through these): (recording_id, key) rows.
BLOB_USES = """
    SELECT recording_id, screenshot_key AS key FROM actions
    UNION ALL SELECT recording_id, dom_snapshot_key FROM actions
    UNION ALL SELECT recording_id, blob_key FROM resources
    UNION ALL SELECT recording_id, blob_key FROM sources
"""


# How many times a screenshot's tiling is tried when the database gives it up for another
# transaction's sake (see Engine.must_retry) before it stays stored as captured.
TILING_ATTEMPTS = 5


class OverLimit(Exception):
    """A screenshot not stored because the database reached ``max_bytes``."""


class BlobStore:
    def __init__(self, engine: Engine, max_bytes: int | None = None) -> None:
        self.engine = engine
        # Past this database size, screenshots are no longer stored (actions still are).
        self.max_bytes = max_bytes
        # Per (recording, kind): the last snapshot written (key, stored bytes, chain depth),
        # so the next one is stored as a delta of it.
        self._delta_bases: dict[tuple[int | None, str], tuple[str, bytes, int]] = {}
        # Screenshots stored as captured, waiting to be cut into tiles when the writer is
        # idle: (recording id, blob key); (recording id, None) once the recording ended.
        self._untiled: deque[tuple[int | None, str | None]] = deque()
        self._tiling_attempts: dict[str, int] = {}  # key -> tilings the database gave up (deadlocks)
        self.warn: Callable[[str, str], None] = lambda problem, consequence: None  # the writer's, once it runs

    # -- writing ---------------------------------------------------------------------

    def put_screenshot(self, conn: Connection, recording_id: int, data: bytes,
                       masks: dict[str, Any] | None = None, key: str | None = None) -> str | None:
        """Store a screenshot, or (past ``max_bytes``) note in the recording that it was not."""
        try:
            return self.put(conn, recording_id, data, "screenshot", key=key, masks=masks)
        except OverLimit as reason:
            conn.execute(
                f"UPDATE recordings SET metadata = {self.engine.json_merge('metadata')}"
                f" WHERE id = ? AND {self.engine.json_text('metadata', 'screenshots_stopped')} IS NULL",
                (_json_object(screenshots_stopped=str(reason)), recording_id),
            )
            return None

    def put(self, conn: Connection, recording_id: int, data: bytes, kind: str,
            key: str | None = None, masks: dict[str, Any] | None = None) -> str:
        """Store a snapshot once and return its key.

        Screenshots are cut into tiles and stored as a manifest of them; manifests and DOM
        snapshots are compressed as deltas of the recording's previous one. ``key``
        keeps the key an imported snapshot had (a screenshot read back is not the bytes
        that were hashed).
        """
        key = key or blobs.blob_key(data)
        self.engine.lock_blobs(conn, exclusive=False)
        if conn.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone():
            return key
        if kind == "screenshot" and self.max_bytes is not None and self.engine.database_size(conn) >= self.max_bytes:
            raise OverLimit(f"database reached max_bytes ({self.max_bytes:,}); screenshots are no longer stored")
        if kind == "screenshot" and not masks and blobs.sniff_media_type(data) == "image/jpeg":
            # Stored as captured now (cheap, so the action is durable at once) and cut
            # into tiles later by tile_next; read back meanwhile, it is the JPEG itself.
            # A masked screenshot is painted over before anything is stored, and other
            # formats are rare, so those are tiled right away.
            self._insert(conn, key, "image/jpeg", blobs.EncodedBlob("raw", None, data), len(data))
            self._untiled.append((recording_id, key))
            return key
        tiled = _try_split(data, masks) if kind == "screenshot" else None
        if masks and tiled is None:
            raise OverLimit("a masked screenshot that cannot be decoded is not stored")
        if tiled is not None:
            stored, media_type = tiled.manifest, tiles.MEDIA_TYPE
        else:
            stored, media_type = data, blobs.sniff_media_type(data)
            if media_type == "application/octet-stream":
                media_type = "text/html"
        encoded, next_base = self._encode_delta(conn, recording_id, kind, key, stored, media_type)
        if not self._insert(conn, key, media_type, encoded, len(data)):
            return key  # another process stored it since we looked: its tiles are counted once, by it
        if tiled is not None:
            add_tiles(conn, tiled.tiles)
        if next_base:  # were this job rolled back, the base check above would notice the key gone
            self._delta_bases[(recording_id, kind)] = next_base
        return key

    def put_whole(self, conn: Connection, key: str, data: bytes, media_type: str) -> None:
        """Store bytes on their own, once (a page resource, a source file); compressed unless
        already."""
        self.engine.lock_blobs(conn, exclusive=False)
        if not conn.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone():
            self._insert(conn, key, media_type, blobs.encode(data, media_type), len(data))

    def _insert(self, conn: Connection, key: str, media_type: str, encoded: blobs.EncodedBlob, size: int) -> bool:
        """Insert a blob's row; False when another process stored the same bytes since we looked."""
        return bool(conn.execute(
            "INSERT INTO blobs (key, media_type, codec, base_key, size, stored_size, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            (key, media_type, encoded.codec, encoded.base_key, size, len(encoded.data), encoded.data),
        ).rowcount)

    def _encode_delta(self, conn: Connection, recording_id: int | None, kind: str, key: str,
                      stored: bytes, media_type: str) -> tuple[blobs.EncodedBlob, tuple[str, bytes, int] | None]:
        """Compress ``stored`` as a delta of the recording's previous snapshot of this kind.

        Returns the encoding and what the next snapshot's base would be; the caller makes
        it the base once its write is certain (see tile_next).
        """
        base = self._delta_bases.get((recording_id, kind))
        # The base may be gone (another process deleted its recording, a write was rolled
        # back) or not what was compressed (a screenshot whose tiling failed is still the
        # JPEG), or its chain long.
        if base and (base[2] >= blobs.MAX_DELTA_CHAIN or not conn.execute(
                "SELECT 1 FROM blobs WHERE key = ? AND media_type = ?", (base[0], media_type)).fetchone()):
            base = None
        encoded = blobs.encode(stored, media_type, base=(base[0], base[1]) if base else None)
        next_base = None if encoded.codec == "raw" else (key, stored, (base[2] + 1) if base else 0)
        return encoded, next_base

    def recording_ended(self, recording_id: int) -> None:
        """The recording's last snapshots are no one's base any more (once its queued
        screenshots are tiled)."""
        self._delta_bases.pop((recording_id, "dom"), None)
        self._untiled.append((recording_id, None))

    # -- tiling, in the writer's idle time ----------------------------------------------

    def tile_next(self, conn: Connection) -> bool:
        """Cut one screenshot stored as captured into tiles; False when none is waiting.

        The decoding and WebP encoding (the slow part) happen outside the transaction;
        inside it the blob's row is swapped for its tile manifest under the same key, so
        actions pointing at it never notice. A blob deleted meanwhile is skipped.
        """
        if not self._untiled:
            return False
        recording_id, key = self._untiled.popleft()
        if key is None:  # the recording ended: its last manifest is no one's base any more
            self._delta_bases.pop((recording_id, "screenshot"), None)
            return True
        row = conn.execute(
            "SELECT data FROM blobs WHERE key = ? AND codec = 'raw' AND media_type = 'image/jpeg'", (key,)
        ).fetchone()
        tiled = _try_split(bytes(row[0])) if row else None
        if tiled is None:
            return True  # gone, already tiled, or not an image Pillow reads: it stays as it is
        present = existing(conn, list(tiled.tiles))
        encoded_tiles = {tile: encode() for tile, encode in tiled.tiles.items() if tile not in present}
        next_base = None
        engine = self.engine
        try:
            engine.begin(conn)
            engine.lock_blobs(conn, exclusive=False)
            encoded, next_base = self._encode_delta(conn, recording_id, "screenshot", key, tiled.manifest,
                                                    tiles.MEDIA_TYPE)
            # Swapped only if still as captured: the row count, not an earlier look, decides, for
            # another process may be tiling the same screenshot (its update waits for ours, then
            # finds it tiled), and its tiles must be counted once.
            if conn.execute(
                    "UPDATE blobs SET media_type = ?, codec = ?, base_key = ?, stored_size = ?, data = ?"
                    " WHERE key = ? AND codec = 'raw'",
                    (tiles.MEDIA_TYPE, encoded.codec, encoded.base_key, len(encoded.data), encoded.data, key),
            ).rowcount:
                add_tiles(conn, {tile: encoded_tiles.get(tile) or encode for tile, encode in tiled.tiles.items()})
            else:
                next_base = None
            conn.execute("COMMIT")
        except BaseException as exc:
            engine.rollback_after_failure(conn)
            if not isinstance(exc, engine.errors):
                raise
            attempts = self._tiling_attempts.get(key, 0) + 1
            if engine.must_retry(exc) and attempts < TILING_ATTEMPTS:
                # Given up for another writer's sake (a deadlock on shared tiles): next in line again.
                self._tiling_attempts[key] = attempts
                self._untiled.appendleft((recording_id, key))
                return True
            self._tiling_attempts.pop(key, None)
            self.warn(f"could not write to {engine.location}: {engine.describe_error(exc)}",
                      "the screenshot stays stored as captured")
            return True
        self._tiling_attempts.pop(key, None)
        if next_base:  # only now: a manifest rolled back must not become the next one's base
            self._delta_bases[(recording_id, "screenshot")] = next_base
        return True

    def tile_all(self, conn: Connection) -> None:
        while self.tile_next(conn):
            pass

    def tile_leftovers(self, conn: Connection) -> None:
        """Tile screenshots left as captured by a process that stopped before it could."""
        self._untiled.extend(tuple(row) for row in conn.execute(
            "SELECT (SELECT recording_id FROM actions WHERE screenshot_key = key LIMIT 1), key FROM blobs"
            " WHERE codec = 'raw' AND media_type = 'image/jpeg' AND key NOT LIKE 'tile:%'"
        ).fetchall())
        self.tile_all(conn)

    # -- reading ---------------------------------------------------------------------

    def read(self, key: str) -> QueryFlow[bytes]:
        """A blob's bytes as captured; a screenshot composed from its tiles into a JPEG."""
        found = yield ("SELECT media_type FROM blobs WHERE key = ?", (key,))
        data = yield from self.read_stored(key)
        if found and found[0][0] == tiles.MEDIA_TYPE:
            pieces = {}
            for tile in dict.fromkeys(tiles.tile_keys(data)):
                pieces[tile] = yield from self.read_stored(tile)
            return tiles.compose(data, pieces.__getitem__)
        return data

    def read_stored(self, key: str) -> QueryFlow[bytes]:
        """A blob's bytes as stored before tiling is undone: a screenshot's tile manifest."""
        chain = []
        current: str | None = key
        while current is not None:
            found = yield ("SELECT codec, base_key, data FROM blobs WHERE key = ?", (current,))
            if not found:
                what = "blob" if current == key else f"base blob {current} of blob"
                raise RecordingNotFound(f"no {what} with key {key} in {self.engine.location}")
            chain.append(found[0])
            current = found[0][1]
        data: bytes | None = None
        for codec, _, stored in reversed(chain):
            data = blobs.decode(codec, bytes(stored), base=data)
        assert data is not None
        return data

    def info(self, key: str) -> QueryFlow[dict[str, Any]]:
        found = yield ("SELECT key, media_type, codec, base_key, size, stored_size FROM blobs WHERE key = ?", (key,))
        if not found:
            raise RecordingNotFound(f"no blob with key {key} in {self.engine.location}")
        info = {name: found[0][index] for index, name in enumerate(
            ("key", "media_type", "codec", "base_key", "size", "stored_size"))}
        if info["media_type"] == tiles.MEDIA_TYPE:
            info["media_type"], info["stored_as"] = "image/jpeg", "tiles"
        return info

    # -- freeing ---------------------------------------------------------------------

    def delete_unused(self, conn: Connection, candidates: set[str]) -> int:
        """Delete those of ``candidates`` no action or delta uses, then their bases likewise."""
        self.engine.lock_blobs(conn, exclusive=True)
        freed = 0
        while candidates:
            next_candidates: set[str] = set()
            for key in candidates:
                in_use = conn.execute(
                    "SELECT 1 FROM actions WHERE screenshot_key = ? OR dom_snapshot_key = ?"
                    " UNION ALL SELECT 1 FROM resources WHERE blob_key = ?"
                    " UNION ALL SELECT 1 FROM sources WHERE blob_key = ?"
                    " UNION ALL SELECT 1 FROM blobs WHERE base_key = ? LIMIT 1",
                    (key,) * 5,
                ).fetchone()
                if in_use:
                    continue
                if media_type(conn, key) == tiles.MEDIA_TYPE:
                    # Read the manifest while its delta base still exists, then release its tiles.
                    for tile in set(tiles.tile_keys(run(conn, self.read_stored(key)))):
                        conn.execute("UPDATE blobs SET refs = refs - 1 WHERE key = ?", (tile,))
                        freed += conn.execute("DELETE FROM blobs WHERE key = ? AND refs <= 0", (tile,)).rowcount
                row = conn.execute("DELETE FROM blobs WHERE key = ? RETURNING base_key", (key,)).fetchone()
                if row is not None:
                    freed += 1
                    if row[0]:
                        next_candidates.add(row[0])
            candidates = next_candidates
        return freed

    def collect_garbage(self, conn: Connection) -> int:
        """Delete blobs that no action reaches, directly, as a delta base, or as a tile."""
        self.engine.lock_blobs(conn, exclusive=True)
        reachable: set[str] = set()
        frontier = {row[0] for row in conn.execute(f"SELECT key FROM ({BLOB_USES}) AS uses") if row[0]}
        while frontier:
            reachable |= frontier
            frontier = {row[0] for key in frontier
                        for row in conn.execute("SELECT base_key FROM blobs WHERE key = ? AND base_key IS NOT NULL",
                                                (key,))} - reachable
        tile_refs: dict[str, int] = {}
        for (key,) in conn.execute("SELECT key FROM blobs WHERE media_type = ?", (tiles.MEDIA_TYPE,)).fetchall():
            if key in reachable:
                for tile in set(tiles.tile_keys(run(conn, self.read_stored(key)))):
                    tile_refs[tile] = tile_refs.get(tile, 0) + 1
        doomed = set()
        for (key,) in conn.execute("SELECT key FROM blobs").fetchall():
            if key.startswith("tile:"):
                if key in tile_refs:
                    conn.execute("UPDATE blobs SET refs = ? WHERE key = ?", (tile_refs[key], key))
                    continue
            elif key in reachable:
                continue
            doomed.add(key)
        # A delta's base may be deleted only after the delta (base_key is a foreign key); every
        # delta of a doomed base is doomed too, so passes that take the unused ones end.
        deleted = 0
        while doomed:
            free = {key for key in doomed
                    if not conn.execute("SELECT 1 FROM blobs WHERE base_key = ?", (key,)).fetchone()}
            if not free:
                break
            for key in free:
                deleted += conn.execute("DELETE FROM blobs WHERE key = ?", (key,)).rowcount
            doomed -= free
        return deleted


def add_tiles(conn: Connection, tile_encoders: dict[str, Any]) -> None:
    """Reference each tile once more, inserting those not stored yet.

    Values are the tile's WebP bytes or a function that encodes them (called only when
    the tile is new). A few statements for all the tiles, not a few per tile: on a server
    each statement is a round trip, and a screenshot has a hundred tiles.

    Rows are written in the order of their keys, not the screenshot's: writers in other
    processes lock the same tiles in their own transactions (on PostgreSQL), and two that
    took them in different orders would deadlock. (Not always avoided: the tiles already
    present are locked first, then the new ones, and two writers may disagree on which are
    which; or a round holds several screenshots. The writer runs such a round again.)
    """
    keys = sorted(tile_encoders)
    present = existing(conn, keys)
    conn.executemany("UPDATE blobs SET refs = refs + 1 WHERE key = ?", [(tile,) for tile in keys if tile in present])
    rows = []
    for tile in keys:
        if tile not in present:
            webp = tile_encoders[tile]
            data = webp if isinstance(webp, bytes) else webp()
            rows.append((tile, len(data), len(data), data))
    # Another process may have inserted one since: then it is one more reference.
    conn.executemany(
        "INSERT INTO blobs (key, media_type, codec, size, stored_size, data, refs)"
        " VALUES (?, 'image/webp', 'raw', ?, ?, ?, 1)"
        " ON CONFLICT (key) DO UPDATE SET refs = blobs.refs + 1", rows)


def existing(conn: Connection, keys: list[str]) -> set[str]:
    """Which of ``keys`` the blobs table has (a query per 500, not one per key)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(row[0] for row in conn.execute(f"SELECT key FROM blobs WHERE key IN ({marks})", chunk))
    return found


def media_type(conn: Connection, key: str) -> str | None:
    row = conn.execute("SELECT media_type FROM blobs WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _try_split(data: bytes, masks: dict[str, Any] | None = None) -> tiles.Tiled | None:
    """Tiles of a screenshot, or None for bytes no image decoder reads (stored as they are)."""
    try:
        return tiles.split(data, masks)
    except tiles.UNREADABLE:
        return None


def _json_object(**values: Any) -> str:
    return storable_json(values, compact=True)

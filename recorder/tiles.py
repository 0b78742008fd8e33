"""Screenshots stored as tiles: most actions change a small part of the viewport.

A screenshot is cut into ``TILE`` x ``TILE`` pixel squares. Each distinct square is stored
once, as its own small WebP blob keyed by a hash of its pixels; the screenshot itself
becomes a *manifest*: its size and the list of its tiles' keys. Typing into one field
changes two or three tiles, so that action costs a few hundred bytes instead of a whole
image, and tiles repeated anywhere (blank margins, an unchanged header) cost nothing.

Reading a screenshot back composes its tiles into one JPEG. The tiles are JPEG frames
from the browser re-encoded, so what comes back looks the same but is not byte-identical
to what was captured.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

# Measured on the frames of benchmarks/overhead.py's shop page (it scrolls with nearly every
# action, so most tiles change), tile data + rows + manifest per action: 96 px at quality 45,
# WebP method 2, ~12.4 KB; 128 px at quality 40, method 3, ~11.0 KB (fewer rows, each with
# its key, index entry and WebP header; method 3 packs the same quality ~6% smaller for
# ~4 ms more per screenshot, spent when the store is idle or at the end). Text stays as
# readable once the viewer composes the tiles. (64 px to 96 px, earlier: ~15% less where
# actions scroll, ~10% more where typing changes a small area.) A manifest names its own
# tile size, so screenshots stored with other sizes read as before.
TILE = 128
TILE_QUALITY = 40
TILE_METHOD = 3
MEDIA_TYPE = "application/vnd.recorder.tiles"
_MAGIC = b"RTL1"
_HEADER = struct.Struct("<4sHHH")  # magic, width, height, tile size
_DIGEST = 8  # bytes of tile hash kept in a manifest; 64 bits is plenty within one database


def tile_key(digest: bytes) -> str:
    return "tile:" + digest.hex()


@dataclass(frozen=True)
class Tiled:
    manifest: bytes  # the bytes stored for the screenshot
    tiles: dict[str, Callable[[], bytes]]  # tile key -> how to encode it, called only for new tiles


MASK_COLOUR = (255, 0, 255)

# What Pillow raises for bytes it cannot read as an image, or for a header claiming an
# absurd size (a decompression bomb): such a screenshot is stored as it is, untiled.
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def split(image_bytes: bytes, masks: dict[str, Any] | None = None) -> Tiled:
    """Cut a JPEG/PNG/WebP screenshot into tiles and its manifest.

    ``masks`` boxes (CSS pixels of a viewport ``viewport_width`` wide) are painted over
    first, so what they covered is never stored.
    """
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    width, height = image.size
    if masks and masks.get("boxes"):
        scale = width / masks["viewport_width"]
        draw = ImageDraw.Draw(image)
        for box in masks["boxes"]:
            # 2 px wider all round: JPEG smears an element's edge into its neighbours.
            draw.rectangle([box["x"] * scale - 2, box["y"] * scale - 2, (box["x"] + box["width"]) * scale + 2,
                            (box["y"] + box["height"]) * scale + 2], fill=MASK_COLOUR)
    digests = []
    tiles: dict[str, Callable[[], bytes]] = {}
    for top in range(0, height, TILE):
        for left in range(0, width, TILE):
            tile = image.crop((left, top, min(left + TILE, width), min(top + TILE, height)))
            digest = hashlib.blake2b(tile.tobytes(), digest_size=_DIGEST, person=b"%dx%d" % tile.size).digest()
            digests.append(digest)
            tiles.setdefault(tile_key(digest), _encoder(tile))
    return Tiled(_HEADER.pack(_MAGIC, width, height, TILE) + b"".join(digests), tiles)


def _encoder(tile: Image.Image) -> Callable[[], bytes]:
    def encode() -> bytes:
        out = io.BytesIO()
        tile.save(out, "WEBP", quality=TILE_QUALITY, method=TILE_METHOD)
        return out.getvalue()

    return encode


def tile_keys(manifest: bytes) -> list[str]:
    """The tile keys a manifest uses, in reading order (repeats included)."""
    magic, _, _, _ = _HEADER.unpack_from(manifest)
    if magic != _MAGIC:
        raise ValueError("not a recorder tile manifest")
    body = manifest[_HEADER.size:]
    return [tile_key(body[i:i + _DIGEST]) for i in range(0, len(body), _DIGEST)]


def compose(manifest: bytes, tile_bytes: Callable[[str], bytes], quality: int = 85) -> bytes:
    """Rebuild the screenshot as JPEG bytes; ``tile_bytes(key)`` reads one tile."""
    _, width, height, size = _HEADER.unpack_from(manifest)
    image = Image.new("RGB", (width, height), "white")
    cache: dict[str, Image.Image] = {}
    keys = tile_keys(manifest)
    columns = (width + size - 1) // size
    for index, key in enumerate(keys):
        if key not in cache:
            cache[key] = Image.open(io.BytesIO(tile_bytes(key))).convert("RGB")
        image.paste(cache[key], ((index % columns) * size, (index // columns) * size))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def scaled(image_bytes: bytes, scale: float, quality: int = 80) -> bytes:
    """A JPEG ``scale`` times the size of the image given (itself when scale is 1)."""
    if scale >= 1.0:
        return image_bytes
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    out = io.BytesIO()
    image.resize(size, Image.Resampling.BILINEAR).save(out, "JPEG", quality=quality)
    return out.getvalue()

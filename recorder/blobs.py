"""How snapshot bytes are keyed and compressed. Pure functions, no database.

Every blob is keyed by the sha256 of its original bytes, so the same screenshot or DOM
stored by a thousand actions (or recordings) takes room once.

Codecs, as they appear in ``blobs.codec``:

``raw``
    stored as is; used for already-compressed images (JPEG, PNG, WebP).
``zstd``
    zstandard-compressed on its own.
``zstd-delta``
    zstandard-compressed with the original bytes of ``base_key`` as a dictionary. Two DOM
    snapshots taken one action apart are nearly identical, so the second costs a few
    hundred bytes. Chains are cut every ``MAX_DELTA_CHAIN`` links so a read never has to
    decompress more than that many blobs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import zstandard

MAX_DELTA_CHAIN = 24
_LEVEL = 3
_ALREADY_COMPRESSED = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/avif", "font/woff2", "font/woff")


def blob_key(data: bytes) -> str:
    """The content address of ``data``: a hex sha256."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class EncodedBlob:
    codec: str
    base_key: str | None
    data: bytes


def encode(data: bytes, media_type: str, base: tuple[str, bytes] | None = None) -> EncodedBlob:
    """Compress ``data``; with ``base`` (key, its uncompressed bytes), as a delta against it."""
    if media_type in _ALREADY_COMPRESSED:
        return EncodedBlob("raw", None, data)
    if base is not None:
        dictionary = zstandard.ZstdCompressionDict(base[1], dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        compressed = zstandard.ZstdCompressor(level=_LEVEL, dict_data=dictionary).compress(data)
        return EncodedBlob("zstd-delta", base[0], compressed)
    return EncodedBlob("zstd", None, zstandard.ZstdCompressor(level=_LEVEL).compress(data))


def decode(codec: str, data: bytes, base: bytes | None = None) -> bytes:
    """Undo :func:`encode`; ``base`` is the decoded base blob of a ``zstd-delta`` blob."""
    if codec == "raw":
        return bytes(data)
    if codec == "zstd":
        return zstandard.ZstdDecompressor().decompress(data)
    if codec == "zstd-delta":
        if base is None:
            raise ValueError("a zstd-delta blob needs its base blob to decode")
        dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(data)
    raise ValueError(f"unknown blob codec {codec!r}")


def sniff_media_type(data: bytes) -> str:
    """Guess the media type of snapshot bytes from their first bytes."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    return "application/octet-stream"

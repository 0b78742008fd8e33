"""Checks on a recording read from elsewhere (a JSON cassette, another store) before any of
it is stored: a bad one is refused whole, with the reason, and cannot poison the database."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .. import blobs
from ..model import check_action_type, utc_time

STATUSES = ("recording", "completed", "failed", "interrupted")
EVENT_KINDS = ("console", "error", "request", "crash")

_INT64 = range(-(2**63), 2**63)


_BLOB_KEY = re.compile(r"[0-9a-f]{64}")
# type "/" subtype, as RFC 9110 spells a media type without parameters: the viewer sends it
# as a Content-Type header.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
# What a DOM snapshot names and recorder keeps: absolute http(s) URLs, no spaces or controls.
_RESOURCE_URL = re.compile(r"https?://[^\s/?#\x00-\x1f\x7f]+[^\s\x00-\x1f\x7f]*", re.IGNORECASE)


def check_restorable(recording: Any, timeline: Any, snapshots: dict[str, bytes],
                      resources: Sequence[Any] = (), events: Sequence[Any] = (), sources: Sequence[Any] = ()) -> None:
    """Refuse, with the reason, a recording that would not read back as it was exported."""
    def optional(value: Any, kind: type | tuple[type, ...], what: str) -> None:
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)
                                  or (isinstance(value, int) and value not in _INT64)):
            raise ValueError(f"{what} is {value!r}")

    if not isinstance(recording, dict):
        raise ValueError(f"the recording is {type(recording).__name__}, not an object")
    if not isinstance(recording.get("name"), str) or recording.get("status") not in STATUSES:
        raise ValueError(f"the recording needs a name and a status in {', '.join(STATUSES)}")
    for column in ("started_at", "completed_at", "failed_at"):
        value = recording.get(column)
        if value is None and column != "started_at":
            continue
        try:
            utc_time(value)
        except (TypeError, ValueError):
            raise ValueError(f"the recording's {column} {value!r} is not an ISO-8601 time") from None
    optional(recording.get("metadata"), dict, "the recording's metadata")
    optional(recording.get("error"), str, "the recording's error")
    for part, fields in (("agent_run", ("id", "agent_name")), ("sandbox_session", ("id", "template_name")),
                         ("owner", ("user_id", "account_id"))):
        optional(recording.get(part), dict, f"the recording's {part}")
        for name in fields:
            optional((recording.get(part) or {}).get(name), str, f"the recording's {part}.{name}")
    optional(recording.get("run_id"), str, "the recording's run_id")
    uid = recording.get("uid")
    if uid is not None and not (isinstance(uid, str) and re.fullmatch(r"[0-9A-Za-z_-]{1,64}", uid)):
        raise ValueError(f"the recording's uid {uid!r} is not 1-64 letters, digits, - or _")
    optional(recording.get("duration_ms"), int, "the recording's duration_ms")
    if not isinstance(timeline, list) or not all(isinstance(action, dict) for action in timeline):
        raise ValueError("the timeline is not a list of actions")
    sequences = [action.get("sequence") for action in timeline]
    if any(not isinstance(n, int) or isinstance(n, bool) or n not in _INT64 or n < 1 for n in sequences) \
            or len(set(sequences)) != len(sequences):
        raise ValueError("the actions' sequences are not distinct whole numbers from 1")
    for action in timeline:
        what = f"action {action['sequence']}"
        check_action_type(action.get("type"))
        for column in ("selector", "value", "url", "error", "screenshot_key", "dom_snapshot_key"):
            optional(action.get(column), str, f"{what}'s {column}")
        if action.get("timestamp_ms") is None:
            raise ValueError(f"{what} has no timestamp_ms")
        for column in ("timestamp_ms", "duration_ms"):
            optional(action.get(column), int, f"{what}'s {column}")
        optional(action.get("metadata"), dict, f"{what}'s metadata")
        if action.get("status") not in ("ok", "error"):
            raise ValueError(f"{what}'s status is {action.get('status')!r}, not 'ok' or 'error'")
        # A DOM snapshot comes back exactly as stored, so its key must be its hash. (A
        # screenshot comes back composed from tiles, not as the bytes first hashed.)
        key = action.get("dom_snapshot_key")
        if key in snapshots and blobs.blob_key(snapshots[key]) != key:
            raise ValueError(f"the DOM snapshot {key} of {what} does not match its key")
    _check_resources(resources, snapshots)
    _check_events(events)
    _check_sources(sources, snapshots)


def _check_resources(resources: Sequence[Any], snapshots: dict[str, bytes]) -> None:
    """Each resource names an absolute http(s) URL once, a media type, and bytes that are
    among ``snapshots`` and hash to its key (a resource comes back exactly as stored)."""
    urls: set[str] = set()
    for number, resource in enumerate(resources, 1):
        if not isinstance(resource, dict):
            raise ValueError(f"resource {number} is {type(resource).__name__}, not an object")
        url = resource.get("url")
        if not isinstance(url, str) or not _RESOURCE_URL.fullmatch(url):
            raise ValueError(f"resource {number}'s url {url!r} is not an absolute http(s) URL")
        what = f"resource {number} ({url})"
        if url in urls:
            raise ValueError(f"{what} is listed twice")
        urls.add(url)
        media_type = resource.get("media_type")
        if not isinstance(media_type, str) or not _MEDIA_TYPE.fullmatch(media_type):
            raise ValueError(f"{what}'s media type {media_type!r} is not a type/subtype")
        key = _check_key(resource.get("key"), what, "bytes", snapshots)
        size, sequence = resource.get("size"), resource.get("sequence")
        if size is not None and (type(size) is not int or size != len(snapshots[key])):
            raise ValueError(f"{what}'s size is {size!r}, but its bytes are {len(snapshots[key])}")
        if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)
                                     or sequence not in _INT64 or sequence < 1):
            raise ValueError(f"{what}'s sequence is {sequence!r}, not a whole number from 1")


# An event's own columns; the rest of what Recording.events() gives is its details.
_EVENT_COLUMNS = ("kind", "action_sequence", "page_index", "time_ms")
# What each kind's details must hold for a viewer or an export to read them (recorder/events.py):
# name -> the types it may have (None: may be missing or null).
_EVENT_FIELDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "console": {"level": (str,), "text": (str, None), "location": (dict, None)},
    "error": {"name": (str, None), "message": (str, None), "stack": (str, None)},
    "crash": {"message": (str, None)},
    "request": {"method": (str, None), "url": (str,), "resource_type": (str, None), "frame_id": (str, None),
                "document_url": (str, None), "status": (int, None), "status_text": (str, None),
                "mime_type": (str, None), "from_cache": (bool, None), "remote_address": (str, None),
                "request_headers": (dict, None), "response_headers": (dict, None),
                "duration_ms": (int, float, None), "timing": (dict, None), "request_size": (int, None),
                "response_size": (int, None), "body_size": (int, None), "failure": (str, None),
                "redirects": (list, None), "unfinished": (bool, None), "request_body": (str, None),
                "response_body": (str, None)},
}


def _is(value: Any, kinds: tuple[Any, ...]) -> bool:
    """Whether ``value`` is one of ``kinds`` (None: null or missing); a bool is no number."""
    if value is None:
        return None in kinds
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and value not in _INT64:
        return False
    return any(kind is not None and kind is not bool and isinstance(value, kind) for kind in kinds)


def _check_events(events: Sequence[Any]) -> None:
    """Each event is an object of a known kind, with whole-number times and sequences and
    the details its kind needs, of the right types."""
    for number, event in enumerate(events, 1):
        if not isinstance(event, dict):
            raise ValueError(f"event {number} is {type(event).__name__}, not an object")
        kind = event.get("kind")
        if kind not in EVENT_KINDS:
            raise ValueError(f"event {number}'s kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
        what = f"event {number} ({kind})"
        if not _is(event.get("time_ms"), (int,)):
            raise ValueError(f"{what}'s time_ms is {event.get('time_ms')!r}, not a whole number of ms")
        sequence, page = event.get("action_sequence"), event.get("page_index")
        if not _is(sequence, (int, None)) or (sequence is not None and sequence < 1):
            raise ValueError(f"{what}'s action_sequence is {sequence!r}, not a whole number from 1")
        if not _is(page, (int, None)) or (page is not None and page < 0):
            raise ValueError(f"{what}'s page_index is {page!r}, not a whole number from 0")
        for name, kinds in _EVENT_FIELDS[kind].items():
            if not _is(event.get(name), kinds):
                raise ValueError(f"{what}'s {name} is {event.get(name)!r}")
        if kind == "request":
            for name in ("request_headers", "response_headers"):
                found = event.get(name) or {}
                if not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
                    raise ValueError(f"{what}'s {name} are not {{name: text}}")
            timing = event.get("timing") or {}
            if not all(_is(v, (int, float)) for v in timing.values()):
                raise ValueError(f"{what}'s timing is not {{phase: ms}}")
            if not all(isinstance(r, dict) and isinstance(r.get("url"), str) and _is(r.get("status"), (int, None))
                       for r in event.get("redirects") or []):
                raise ValueError(f"{what}'s redirects are not a list of {{url, status}}")
        if kind == "console":
            location = event.get("location") or {}
            if not (_is(location.get("url"), (str, None)) and _is(location.get("line"), (int, None))
                    and _is(location.get("column"), (int, None))):
                raise ValueError(f"{what}'s location is not {{url, line, column}}")


def _check_sources(sources: Sequence[Any], snapshots: dict[str, bytes]) -> None:
    """Each source names a file once, and UTF-8 text that is among ``snapshots`` and
    hashes to its key."""
    paths: set[str] = set()
    for number, source in enumerate(sources, 1):
        if not isinstance(source, dict):
            raise ValueError(f"source {number} is {type(source).__name__}, not an object")
        path = source.get("path")
        if not isinstance(path, str) or not path or len(path) > 4096 or re.search(r"[\x00-\x1f\x7f]", path):
            raise ValueError(f"source {number}'s path {path!r} is not a file path")
        what = f"source {number} ({path})"
        if path in paths:
            raise ValueError(f"{what} is listed twice")
        paths.add(path)
        key = _check_key(source.get("key"), what, "text", snapshots)
        try:
            text = snapshots[key].decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"the text of {what} is not UTF-8") from None
        size = source.get("size")
        if size is not None and (type(size) is not int or size != len(text)):
            raise ValueError(f"{what}'s size is {size!r}, but its text is {len(text)} characters")


def _check_key(key: Any, what: str, noun: str, snapshots: dict[str, bytes]) -> str:
    """A content key that names bytes among ``snapshots`` which hash to it (they come back
    exactly as stored); ``noun`` says what they are in the message (bytes, text)."""
    if not isinstance(key, str) or not _BLOB_KEY.fullmatch(key):
        raise ValueError(f"{what}'s key {key!r} is not a sha256 (64 hex digits)")
    if key not in snapshots:
        raise ValueError(f"{what}'s key {key} is unknown: its {noun} {'are' if noun == 'bytes' else 'is'} not among"
                         " the blobs")
    if blobs.blob_key(snapshots[key]) != key:
        raise ValueError(f"the {noun} of {what} {'do' if noun == 'bytes' else 'does'} not match its key {key}")
    return key

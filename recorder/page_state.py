"""The page state a takeover captures (cookies, localStorage, form values), and what of it is stored.

A takeover reads the browser's state when the person takes over and when they hand back.
Cookies (HttpOnly session cookies included) and localStorage are credentials, so their
*values* stay in memory (``takeover.handoff_state`` / ``completion_state``) and the
database gets a summary: each cookie's name, domain, path, expiry and flags, each
localStorage key, and for each a ``value_hash`` (see ``value_hash``) so that a person can
see what changed between handoff and completion. Only ``takeover(page,
keep_storage_state=True)`` stores the values too, as ``state.storage_state`` in
Playwright's own shape; ``recorder show`` and ``recorder export`` leave that out unless
asked (``--include-storage-state``).

    full state (memory)    {url, storage_state: {cookies: [...], origins: [{origin, localStorage}]}, form_values}
    stored state           {url, cookies: [{name, domain, path, expires, httpOnly, secure, sameSite, value_hash}],
                            local_storage: [{origin, name, value_hash}], form_values, values_stored: bool
                            [, storage_state]}
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

# The key of value_hash: random, in memory, one per process. A plain sha256 of a guessable
# value (a user id, an email, "dark") would give the value away to anyone who guesses; a
# keyed hash only says "same" or "changed", which is what it is for.
_KEY = secrets.token_bytes(32)
HASH_CHARS = 16
_COOKIE_FIELDS = ("name", "domain", "path", "expires", "httpOnly", "secure", "sameSite")


def value_hash(value: Any) -> str:
    """A short keyed hash (HMAC-SHA256, 16 hex digits) of a cookie or localStorage value.

    Equal values give equal hashes within one process (a takeover's handoff and
    completion), so a change shows; the value cannot be guessed back from it."""
    text = value if isinstance(value, str) else str(value)
    return hmac.new(_KEY, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:HASH_CHARS]


def origin_of(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else "null"


def full_state(url: str | None, cookies: list[dict[str, Any]], local_storage: dict[str, Any] | None,
               form_values: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The state as captured, values and all: kept in memory, given to ``new_context(storage_state=...)``."""
    origins = [{"origin": origin_of(url),
                "localStorage": [{"name": k, "value": v} for k, v in (local_storage or {}).items()]}]
    return {"url": url, "storage_state": {"cookies": list(cookies or []), "origins": origins},
            "form_values": list(form_values or [])}


def _cookie_summary(cookie: dict[str, Any]) -> dict[str, Any]:
    summary = {field: cookie[field] for field in _COOKIE_FIELDS if field in cookie}
    summary["value_hash"] = value_hash(cookie.get("value", ""))
    return summary


def _storage_summary(origins: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"origin": origin.get("origin"), "name": item.get("name"), "value_hash": value_hash(item.get("value", ""))}
            for origin in origins for item in origin.get("localStorage") or []]


def stored_state(state: dict[str, Any], keep_values: bool = False) -> dict[str, Any]:
    """What goes into an action's ``metadata.state``: the summary, and the values only if asked."""
    storage = state.get("storage_state") or {}
    stored: dict[str, Any] = {"url": state.get("url"),
                              "cookies": [_cookie_summary(c) for c in storage.get("cookies") or []],
                              "local_storage": _storage_summary(storage.get("origins") or []),
                              "form_values": state.get("form_values") or [], "values_stored": keep_values}
    if keep_values:
        stored["storage_state"] = storage
    return stored


def public_state(state: Any) -> Any:
    """A stored ``metadata.state`` without cookie or localStorage values: ``storage_state``
    left out, and the values of recordings made before values stopped being stored
    (``cookies`` with a ``value``, ``local_storage`` as {key: value}) turned into hashes."""
    if not isinstance(state, dict):
        return state
    shown = {key: value for key, value in state.items() if key != "storage_state"}
    cookies = shown.get("cookies")
    if isinstance(cookies, list):
        shown["cookies"] = [_cookie_summary(c) if isinstance(c, dict) and "value" in c else c for c in cookies]
    local = shown.get("local_storage")
    if isinstance(local, dict):  # before: {key: value}
        shown["local_storage"] = [{"origin": origin_of(state.get("url")), "name": k, "value_hash": value_hash(v)}
                                  for k, v in local.items()]
    return shown


def has_storage_values(state: Any) -> bool:
    """Whether a stored ``metadata.state`` holds cookie or localStorage values."""
    if not isinstance(state, dict):
        return False
    cookies, local = state.get("cookies"), state.get("local_storage")
    return ("storage_state" in state or (isinstance(local, dict) and bool(local))
            or (isinstance(cookies, list) and any(isinstance(c, dict) and "value" in c for c in cookies)))


def without_storage_values(timeline: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The actions with every ``metadata.state`` reduced by ``public_state`` (the rest untouched)."""
    shown = []
    for action in timeline:
        metadata = action.get("metadata")
        if isinstance(metadata, dict) and "state" in metadata:
            action = {**action, "metadata": {**metadata, "state": public_state(metadata["state"])}}
        shown.append(action)
    return shown


def holds_storage_values(timeline: Iterable[dict[str, Any]]) -> bool:
    return any(isinstance(a.get("metadata"), dict) and has_storage_values(a["metadata"].get("state"))
               for a in timeline)

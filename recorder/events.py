"""What happened on a page around the recorded actions, shaped for the ``events`` table.

recorder/_core.py hears Playwright's ``console``, ``pageerror`` and ``crash`` events and
Chromium's Network domain; the functions here turn each into the ``details`` of one
``events`` row (``Recording.record_event``), so what is kept, cut and redacted is decided
in one place. The details of each kind:

    console  {level, text, location: {url, line, column}}
    error    {name, message, stack}            an uncaught exception or unhandled rejection
    crash    {message}
    request  {method, url, resource_type, frame_id, document_url, status, status_text,
              mime_type, from_cache, remote_address, request_headers, response_headers,
              duration_ms, timing: {blocked, dns, connect, ssl, send, wait, receive},
              request_size, response_size, body_size, failure,
              redirects: [{url, method, status, request_size, request_body}] (each hop before the
              last; the size and body where the method changed at the next: a POST answered
              303 and sent on as a GET), the request's headers those of the last hop,
              unfinished, from_service_worker, request_body, response_body}
             (absent or None when not known)
             with ``seen_in: "resource timing"``: a request made before recorder watched
             the page's network (a popup's first load), as the page's Resource Timing tells
             it: no method, headers, body or failure text

The browser's identity headers (User-Agent, sec-ch-ua...) are kept once per recording
(metadata.request_identity), not in each request's headers (unless they differ there).
A request is one event from when it was sent (its ``time_ms`` and action) to when its last
byte arrived or it failed, redirects included. Bodies are kept only when asked for
(``record(page, bodies=...)``), and only text; the values of credential headers never are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .model import REDACTED

# Header values never stored: they carry credentials. (Compared without case.)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# Request headers that say which browser asks, the same on every request it makes: kept once,
# in the recording's metadata (``request_identity``), not with each request.
IDENTITY_HEADERS = frozenset({"user-agent", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform"})
DEFAULT_BODY_LIMIT = 64 * 1024  # characters of a body kept with record(page, bodies=True)
MAX_TEXT = 10_000  # characters of a console message, an error's message or stack
MAX_URL = 4_096  # characters of a URL (a data: URL can be megabytes)
# Response bodies worth keeping as text: JSON, XML, HTML, CSS, JavaScript, forms, plain text.
TEXT_MEDIA_TYPE = re.compile(
    r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql)\b)", re.I)


def body_limit(bodies: bool | int | None) -> int | None:
    """``record(bodies=...)`` as a character limit: False/None keeps none, True the default."""
    if bodies is None or bodies is False:
        return None
    if bodies is True:
        return DEFAULT_BODY_LIMIT
    if isinstance(bodies, int) and bodies > 0:
        return bodies
    raise ValueError(f"bodies must be True, False or a positive number of characters, not {bodies!r}")


def clip(text: Any, limit: int = MAX_TEXT) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit:,} more characters]"


_TEXT_FIELDS = frozenset({"text", "message", "stack"})
_BODY_FIELDS = frozenset({"request_body", "response_body"})


def clipped(details: dict[str, Any], bodies: int | None, scrub: Callable[[str], str | None] = lambda text: text,
            margin: int = 0) -> dict[str, Any]:
    """An event's details with secrets cut out (``scrub``) and each text cut to what is kept of
    it: a message or stack to MAX_TEXT, a body to ``bodies`` (record(bodies=...)), the rest
    (URLs, header values) to MAX_URL. A long text is scrubbed as far as ``margin`` (the
    longest form of a secret) past its limit, then cut: cut first, a secret across the cut
    would leave its beginning behind; scrubbed whole, a megabyte body would cost every form
    of every secret a search through it."""

    def cut(value: Any, field: str | None) -> Any:
        if isinstance(value, str):
            limit = (bodies or MAX_TEXT) if field in _BODY_FIELDS else MAX_TEXT if field in _TEXT_FIELDS else MAX_URL
            if len(value) <= limit:
                return scrub(value)
            # The window's last `margin` characters may hold the start of a form cut off at its
            # end, moved left by each secret cut out before it: never kept.
            scrubbed = scrub(value[:limit + margin]) or ""
            kept = scrubbed[:max(0, min(limit, len(scrubbed) - margin))]
            return kept + f"… [{len(value) - limit:,} more characters]"
        if isinstance(value, dict):
            return {key: cut(item, key) for key, item in value.items()}
        if isinstance(value, list):
            return [cut(item, field) for item in value]
        return value

    return cut(details, None)


def console_details(level: str, text: str, location: dict[str, Any] | None) -> dict[str, Any]:
    """A console message, from Playwright's ``ConsoleMessage`` (type, text, location)."""
    location = location or {}
    return {"level": level, "text": text,
            "location": {"url": location.get("url"), "line": location.get("lineNumber"),
                         "column": location.get("columnNumber")}}


def error_details(name: str | None, message: str | None, stack: str | None) -> dict[str, Any]:
    """An uncaught error or unhandled rejection, from Playwright's ``pageerror`` Error."""
    return {"name": name or "Error", "message": message or "", "stack": stack}


# A Resource Timing entry's initiatorType -> the resource type Chromium's Network domain names.
_INITIATOR_TYPES = {"navigation": "document", "link": "stylesheet", "img": "image", "image": "image",
                    "script": "script", "fetch": "fetch", "xmlhttprequest": "xhr", "beacon": "ping",
                    "video": "media", "audio": "media", "iframe": "document", "frame": "document"}


def timed_request_details(entry: dict[str, Any]) -> dict[str, Any]:
    """A request the page made before recorder watched its network, from world.js
    ``loadedSoFar`` (the page's Resource Timing), in the details of every request."""
    body = entry.get("body")
    transfer = entry.get("transfer")
    return {
        "method": None, "url": entry.get("url"),
        "resource_type": _INITIATOR_TYPES.get(str(entry.get("initiator")), "other"), "frame_id": None,
        "document_url": None, "status": entry.get("status"), "status_text": None, "mime_type": None,
        # (nothing crossed the network for it, but there was a body: from the browser's cache)
        "from_cache": transfer == 0 and bool(body), "remote_address": None, "request_headers": {},
        "response_headers": {}, "duration_ms": round(float(entry.get("duration") or 0), 1), "timing": None,
        # (Chromium pads a Resource Timing transfer size by 300 bytes: not the bytes on the wire)
        "request_size": None, "response_size": 0 if transfer == 0 else None, "body_size": body, "failure": None,
        "redirects": [],
        "seen_in": "resource timing",
    }


def headers(raw: dict[str, Any] | None, redact: frozenset[str]) -> dict[str, str]:
    """Headers with the values of credential headers (and of those named) replaced."""
    return {name: REDACTED if name.lower() in redact else "" if value is None else str(value)
            for name, value in (raw or {}).items()}


@dataclass
class Finished:
    """A request whose event can be stored: to ``owner`` (the recording it began in)."""

    owner: Any
    sequence: int | None
    time_ms: int
    details: dict[str, Any]
    request_id: str
    wants_body: bool = False


@dataclass
class _Pending:
    owner: Any
    sequence: int | None
    time_ms: int
    started: float  # Chromium's monotonic timestamp (s) when it was sent
    details: dict[str, Any]
    response_timing: dict[str, Any] | None = None
    body_size: int = 0


class NetworkLog:
    """Chromium's Network events of one page, put together into one event per request.

    Feed it ``sent`` (Network.requestWillBeSent), ``responded`` (responseReceived),
    ``received`` (dataReceived), ``finished`` (loadingFinished) and ``failed``
    (loadingFailed); the last two return the request's event when it is done.
    """

    def __init__(self, redact_headers: Iterable[str] = (), bodies: int | None = None) -> None:
        self.redact = SECRET_HEADERS | {name.lower() for name in redact_headers}
        self.bodies = bodies
        self._pending: dict[str, _Pending] = {}
        # The browser's identity headers, each as first seen: the capture puts them in the
        # recording's metadata (again whenever a request brings one more).
        self.identity: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def sent(self, params: dict[str, Any], *, owner: Any, sequence: int | None, time_ms: int) -> None:
        request = params.get("request") or {}
        pending = self._pending.get(params["requestId"])
        if pending is not None and params.get("redirectResponse"):
            # The same request, sent on to where the last answer pointed.
            hops = pending.details
            hop = {"url": hops["url"], "method": hops["method"], "status": params["redirectResponse"].get("status")}
            hops["redirects"].append(hop)
            if request.get("method") != hops["method"]:
                # A POST answered 302 or 303 goes on as a GET: its body was sent to the hop.
                hop["request_size"] = hops["request_size"]
                if "request_body" in hops:
                    hop["request_body"] = hops.pop("request_body")
                hops["request_size"] = _post_size(request)
                if self.bodies and request.get("postData"):
                    hops["request_body"] = request["postData"]
            hops.update(url=request.get("url"), method=request.get("method"),
                        request_headers=self._request_headers(request.get("headers") or {}))
            return
        details: dict[str, Any] = {
            "method": request.get("method"), "url": request.get("url"),
            "resource_type": (params.get("type") or "other").lower(), "frame_id": params.get("frameId"),
            "document_url": params.get("documentURL"), "status": None, "status_text": None,
            "mime_type": None, "from_cache": False, "remote_address": None,
            "request_headers": self._request_headers(request.get("headers") or {}), "response_headers": {},
            "duration_ms": None, "timing": None, "request_size": _post_size(request), "response_size": None,
            "body_size": None, "failure": None, "redirects": [],
        }
        if self.bodies and request.get("postData"):
            details["request_body"] = request["postData"]
        self._pending[params["requestId"]] = _Pending(owner, sequence, time_ms, float(params.get("timestamp") or 0),
                                                      details)

    def _request_headers(self, raw: dict[str, Any]) -> dict[str, str]:
        """A request's headers to store: an identity header is left out when it says what
        ``identity`` says (the first of its name seen goes there), and kept when it differs
        (a User-Agent set for some requests only)."""
        kept = {}
        for name, value in raw.items():
            if name.lower() in IDENTITY_HEADERS:
                value = clip(value, MAX_URL) or ""
                known = self.identity.setdefault(name, value)
                if known == value:
                    continue
            kept[name] = value
        return headers(kept, self.redact)

    def responded(self, params: dict[str, Any]) -> None:
        pending = self._pending.get(params["requestId"])
        if pending is None:
            return
        response = params.get("response") or {}
        ip, port = response.get("remoteIPAddress"), response.get("remotePort")
        pending.details.update(
            status=response.get("status"), status_text=response.get("statusText"), mime_type=response.get("mimeType"),
            from_cache=bool(response.get("fromDiskCache") or response.get("fromPrefetchCache")),
            remote_address=f"{ip}:{port}" if ip else None,
            response_headers=headers(response.get("headers"), self.redact))
        if response.get("fromServiceWorker"):  # (answered by the page's service worker: from its cache or not)
            pending.details["from_service_worker"] = True
        pending.response_timing = response.get("timing")
        answered = float(params.get("timestamp") or 0)
        if answered and pending.started:  # until the last byte comes (a body nobody reads may never)
            pending.details["duration_ms"] = round((answered - pending.started) * 1000, 1)

    def received(self, params: dict[str, Any]) -> None:
        pending = self._pending.get(params["requestId"])
        if pending is not None:
            pending.body_size += int(params.get("dataLength") or 0)

    def finished(self, params: dict[str, Any]) -> Finished | None:
        pending = self._pending.pop(params["requestId"], None)
        if pending is None:
            return None
        details = self._ended(pending, params)
        details["response_size"] = int(params.get("encodedDataLength") or 0)
        details["body_size"] = pending.body_size
        wants_body = bool(self.bodies and TEXT_MEDIA_TYPE.match(details["mime_type"] or "")
                          and details["resource_type"] not in ("document", "stylesheet", "script", "image", "font"))
        return Finished(pending.owner, pending.sequence, pending.time_ms, details, params["requestId"], wants_body)

    def failed(self, params: dict[str, Any]) -> Finished | None:
        pending = self._pending.pop(params["requestId"], None)
        if pending is None:
            return None
        details = self._ended(pending, params)
        details["failure"] = "cancelled" if params.get("canceled") else (params.get("errorText") or "failed")
        if params.get("blockedReason"):
            details["failure"] += f" (blocked: {params['blockedReason']})"
        return Finished(pending.owner, pending.sequence, pending.time_ms, details, params["requestId"])

    def unfinished(self) -> list[Finished]:
        """The requests still waiting for an answer or their last byte (the recording ends)."""
        pending, self._pending = self._pending, {}
        found = []
        for request_id, entry in pending.items():
            entry.details["unfinished"] = True
            found.append(Finished(entry.owner, entry.sequence, entry.time_ms, entry.details, request_id))
        return found

    def add_body(self, finished: Finished, reply: dict[str, Any] | None) -> None:
        """Put a Network.getResponseBody reply into the request's details, if it is text."""
        if not reply or not self.bodies:
            return
        body = reply.get("body") or ""
        if reply.get("base64Encoded"):
            try:
                body = base64.b64decode(body).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return  # not text after all
        finished.details["response_body"] = body

    def _ended(self, pending: _Pending, params: dict[str, Any]) -> dict[str, Any]:
        details = pending.details
        ended = float(params.get("timestamp") or 0)
        if ended and pending.started:
            details["duration_ms"] = round((ended - pending.started) * 1000, 1)
        timing = pending.response_timing
        if timing and ended:
            details["timing"] = _har_timing(timing, ended)
        return details


def _post_size(request: dict[str, Any]) -> int:
    if request.get("postData") is not None:
        return len(request["postData"].encode("utf-8", "surrogatepass"))
    return 0 if not request.get("hasPostData") else -1  # -1: sent, size not known


def _har_timing(timing: dict[str, Any], ended: float) -> dict[str, float]:
    """Chromium's ResourceTiming (ms after ``requestTime``) as HAR's phases, -1 where none."""

    def span(start: str, end: str) -> float:
        a, b = timing.get(start, -1), timing.get(end, -1)
        return round(b - a, 1) if a >= 0 and b >= 0 else -1

    firsts = [timing[name] for name in ("dnsStart", "connectStart", "sendStart") if timing.get(name, -1) >= 0]
    headers_end = timing.get("receiveHeadersEnd", -1)
    total = (ended - float(timing.get("requestTime") or ended)) * 1000
    return {
        "blocked": round(firsts[0], 1) if firsts else -1, "dns": span("dnsStart", "dnsEnd"),
        "connect": span("connectStart", "connectEnd"), "ssl": span("sslStart", "sslEnd"),
        "send": span("sendStart", "sendEnd"), "wait": span("sendEnd", "receiveHeadersEnd"),
        "receive": round(max(0.0, total - headers_end), 1) if headers_end >= 0 else -1,
    }

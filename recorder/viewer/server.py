"""The viewer server (``recorder view --serve``): every recording of one database, on 127.0.0.1.

    /                                   the list of recordings (filter: ?status=&name=)
    /recording/ID                       the viewer page, its screenshots and snapshots loaded lazily
    /compare/A/B                        recording A side by side with recording B, at their first
                                        difference (recorder/diff.py aligns their steps)
    /blob/KEY                           a screenshot or DOM snapshot some action uses
    /recording/ID/resource/KEY          a stylesheet, image or font recording ID kept
    /recording/ID/events                its events (console, errors, requests without their
                                        headers and bodies), fetched after the first paint (JSON)
    /recording/ID/requests/SEQ          the requests of one action (or "before" the first) in
                                        full, headers and bodies included (JSON)
    /recording/ID/source/KEY            the text of a source file recording ID kept

Only 127.0.0.1 and localhost are answered (a rebinding host name is refused), and only
blobs and resources the database's recordings use are served.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import RecordingNotFound
from ..store import RecordingStore
from .page import BEFORE_FIRST, event_summaries, index_policy, page_policy, render, render_index, request_details

_KEY = re.compile(r"^[0-9a-f]{64}$")
# Served bytes are meant for the viewer's scripts; opened by themselves (an SVG, say) they
# must not run as a page of this origin. Every response but the two pages goes out with
# this policy: JSON, blobs, resources, sources, and the answers that refuse (403, 404).
_INERT = "sandbox; default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class _Handler(http.server.BaseHTTPRequestHandler):
    store: RecordingStore

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            # A page elsewhere could point its own host name at 127.0.0.1 (DNS rebinding)
            # and read recordings through the browser: only our own names are served.
            self._send(403, "this server answers only for 127.0.0.1 and localhost", "text/plain")
            return
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/":
                self._send(200, render_index(self.store, query.get("status"), query.get("name")), "text/html",
                           policy=index_policy() + "; frame-ancestors 'none'")
            elif match := re.fullmatch(r"/recording/(\d+)", url.path):
                recording = self.store.get(int(match.group(1)))
                self._send(200, render(self.store, recording, embed=False), "text/html",
                           policy=page_policy() + "; frame-ancestors 'none'")
            elif match := re.fullmatch(r"/compare/(\d+)/(\d+)", url.path):
                first, second = self.store.get(int(match.group(1))), self.store.get(int(match.group(2)))
                self._send(200, render(self.store, first, embed=False, compare=second), "text/html",
                           policy=page_policy() + "; frame-ancestors 'none'")
            elif match := re.fullmatch(r"/recording/(\d+)/resource/([^/]+)", url.path):
                self._resource(int(match.group(1)), match.group(2))
            elif match := re.fullmatch(r"/recording/(\d+)/events", url.path):
                # Events and requests are not cached: a recording still under way gains them.
                events = event_summaries(self.store.get(int(match.group(1))))
                self._send(200, json.dumps(events, ensure_ascii=False, separators=(",", ":")), "application/json")
            elif match := re.fullmatch(rf"/recording/(\d+)/requests/(\d{{1,18}}|{BEFORE_FIRST})", url.path):
                requests = request_details(self.store.get(int(match.group(1))), match.group(2))
                self._send(200, json.dumps(requests, ensure_ascii=False), "application/json")
            elif match := re.fullmatch(r"/recording/(\d+)/source/([^/]+)", url.path):
                self._source(int(match.group(1)), match.group(2))
            elif match := re.fullmatch(r"/blob/([^/]+)", url.path):
                self._blob(match.group(1))
            else:
                self._send(404, "not found", "text/plain")
        except RecordingNotFound as exc:
            self._send(404, str(exc), "text/plain")

    def _blob(self, key: str) -> None:
        used = _KEY.match(key) and self.store.is_action_snapshot(key)
        if not used:
            self._send(404, "no such blob in this database", "text/plain")
            return
        media_type = self.store.blob_info(key)["media_type"]
        # A DOM snapshot goes out as plain text: opened directly, it must not run as a page.
        self._send(200, self.store.blob(key), media_type if media_type.startswith("image/") else "text/plain",
                   cache=True)

    def _resource(self, recording_id: int, key: str) -> None:
        """A resource by key, if that recording's snapshots use it."""
        kept = self.store.get(recording_id).resources().values() if _KEY.match(key) else []
        info = next((r for r in kept if r["key"] == key), None)
        if info is None:
            self._send(404, "no such resource in this recording", "text/plain")
            return
        self._send(200, self.store.blob(key), info["media_type"], cache=True)

    def _source(self, recording_id: int, key: str) -> None:
        """A source file's text by key, if that recording kept it."""
        kept = self.store.get(recording_id).sources().values() if _KEY.match(key) else []
        if not any(info["key"] == key for info in kept):
            self._send(404, "no such source file in this recording", "text/plain")
            return
        self._send(200, self.store.blob(key), "text/plain", cache=True)

    def _send(self, status: int, body: str | bytes, media_type: str, cache: bool = False,
              policy: str = _INERT) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "private, max-age=31536000, immutable" if cache else "no-store")
        self.send_header("Content-Security-Policy", policy)
        self.end_headers()
        self.wfile.write(data)


def make_server(store: RecordingStore, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A viewer server on 127.0.0.1 (never another interface); ``serve_forever()`` it."""
    handler = type("Handler", (_Handler,), {"store": store})
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_in_thread(store: RecordingStore, port: int = 0) -> tuple[str, http.server.ThreadingHTTPServer]:
    """A viewer server answering from a daemon thread: its base URL, and the server to ``shutdown()``."""
    server = make_server(store, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def serve(store: RecordingStore, port: int = 0,
          ready: Callable[[http.server.ThreadingHTTPServer], None] | None = None) -> None:
    """Serve the viewer on http://127.0.0.1:PORT/ until interrupted (Ctrl-C).

    ``ready`` is called with the server once it listens (its port is then known).
    """
    server = make_server(store, port)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

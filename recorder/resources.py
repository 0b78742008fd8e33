"""The stylesheets, images and fonts DOM snapshots name, kept so the snapshots look like the page offline.

A snapshot (inpage/world.js) lists the absolute URLs it uses; those the recording has not
kept yet are taken from the browser, which already has their bytes (CDP
``Page.getResourceContent``: no second download), and stored as content-addressed blobs
under their URL (``resources`` table), once per database however many actions and
recordings use them. Stylesheets are read for what they use in turn (``@import``, fonts,
background images); their relative URLs are made absolute, as the snapshot's are, so a
reader only has to look URLs up. Secrets typed so far are cut out of stylesheet text like
everything else recorded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Generator
from typing import Any
from urllib.parse import urljoin

from .store import Recording

Step = Callable[[], Any]
DEFAULT_MAX_BYTES = 5_000_000  # per resource; bigger ones are noted in metadata.resources_skipped
MAX_NOTED = 50  # skipped resources named in metadata, at most
# A URL the browser has not loaded (yet: fonts and lazy images load after the page did) is
# looked for again at this many later snapshots, then given up (an unused @font-face).
LOOKS_FOR_UNLOADED = 4
TIMEOUT_MS = 5000

# url(...) and @import "..." in CSS text (the same as world.js's CSS_URL).
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")
_NOT_FETCHED = re.compile(r"^(data|blob|about|javascript):", re.IGNORECASE)


def absolute_css(css: str, base: str) -> tuple[str, list[str]]:
    """``css`` with every url() and @import made absolute against ``base``, and those URLs."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        target = (match.group(2) or match.group(4) or "").strip()
        if _NOT_FETCHED.match(target):
            return match.group(0)
        resolved = urljoin(base, target)
        found.append(resolved)
        quoted = resolved.replace('"', "%22")
        return f'url("{quoted}")' if match.group(2) else f'@import "{quoted}"'

    return _CSS_URL.sub(replace, css), found


def media_type(data: bytes, declared: str | None, url: str) -> str:
    """The resource's media type: what the browser was told, else what its bytes say."""
    if declared and declared not in ("application/octet-stream", "text/plain"):
        return declared.split(";")[0].strip().lower()
    head = data[:16]
    for magic, kind in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
                        (b"wOF2", "font/woff2"), (b"wOFF", "font/woff"), (b"OTTO", "font/otf"),
                        (b"\x00\x01\x00\x00", "font/ttf")):
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    path = url.split("?")[0].split("#")[0].lower()
    if path.endswith(".css"):
        return "text/css"
    if path.endswith(".svg") or data.lstrip()[:5] in (b"<svg ", b"<?xml"):
        return "image/svg+xml"
    return declared or "application/octet-stream"


class ResourceKeeper:
    """The resources one recording has kept, and the flow that keeps new ones."""

    def __init__(self, recording: Recording, scrub: Callable[[str | None], str | None],
                 max_bytes: int | None = DEFAULT_MAX_BYTES) -> None:
        self.recording = recording
        self.scrub = scrub
        self.max_bytes = max_bytes
        self.seen: set[str] = set()
        self.unloaded: dict[str, int] = {}  # URL -> times looked for in vain
        self.skipped: list[dict[str, Any]] = []

    def keep(self, capture: Any, urls: list[str], sequence: int | None = None,
             cdp: Any = None) -> Generator[Step, Any, None]:
        """Store those of ``urls`` (and what their stylesheets use) not kept yet.

        ``capture`` is the PageCapture whose page uses them: its CDP session is asked, and
        its ``responses`` (URL -> (CDP request id, media type, status)) say what the network
        brought; what the server refused (a 404 image) is not kept, so the snapshot shows it
        missing, as the page did.
        ``cdp`` is another session to ask (a frame of another site has its own).
        A resource the browser does not hold (never loaded, or loaded before it was
        watched and evicted) is left out: the snapshot shows without it.
        """
        queue = [url for url in urls if url not in self.seen and url not in self.unloaded] + list(self.unloaded)
        cdp = cdp or capture.cdp
        if not queue or cdp is None:
            return
        tree = yield lambda: cdp.send("Page.getResourceTree", timeout=TIMEOUT_MS)
        loaded = dict(_resources(tree["frameTree"]))
        while queue:
            url = queue.pop(0)
            if url in self.seen:
                continue
            where = loaded.get(url)
            response = capture.responses.get(url) if cdp is capture.cdp else None
            if where is None and response is None:  # not loaded by the page (yet, or ever: an unused font)
                self._not_loaded(url)
                continue
            if response is not None and response[2] >= 400:
                self.seen.add(url)
                self.unloaded.pop(url, None)
                self._skip(url, f"the server answered {response[2]}")
                continue
            # The network log first: the bytes as they came. Asking the page's resources for
            # one its cache holds as stale (a stylesheet changed moments before the page
            # loaded) makes Chromium ask the server again; they serve what the log no longer
            # holds, or never saw (loaded before recording began).
            asks = []
            if response is not None:
                asks.append(("Network.getResponseBody", {"requestId": response[0]}, "body"))
            if where is not None:
                asks.append(("Page.getResourceContent", {"frameId": where[0], "url": url}, "content"))
            reply, problem = None, ""
            for method, params, field in asks:
                try:
                    answer = yield lambda: cdp.send(method, params, timeout=TIMEOUT_MS)
                    reply = {"content": answer.get(field), "base64Encoded": answer.get("base64Encoded")}
                    break
                except Exception as exc:
                    problem = str(exc).splitlines()[0][:200]
            if reply is None:
                if "No resource with given" in problem:  # requested, still loading
                    self._not_loaded(url)
                else:
                    self.seen.add(url)
                    self._skip(url, f"the browser did not hand it out: {problem}")
                continue
            declared = (where[1] if where else None) or (response[1] if response else None)
            self.unloaded.pop(url, None)
            self.seen.add(url)
            capture.responses.pop(url, None)  # (the log of responses is kept only for what is not kept yet)
            content = reply.get("content") or ""
            data = base64.b64decode(content) if reply.get("base64Encoded") else content.encode("utf-8", "surrogatepass")
            kind = media_type(data, declared, url)
            if self.max_bytes is not None and len(data) > self.max_bytes:
                self._skip(url, f"{len(data):,} bytes, over the limit of {self.max_bytes:,}")
                continue
            if kind == "text/css":
                text, used = absolute_css(data.decode("utf-8", "replace"), url)
                data = (self.scrub(text) or "").encode("utf-8")
                queue.extend(u for u in used if u not in self.seen)
            else:
                data = self._scrubbed(data, kind)
            self.recording.record_resource(self.scrub(url) or url, data, kind, sequence)

    def _scrubbed(self, data: bytes, kind: str) -> bytes:
        """A text resource (an SVG, a script, JSON) with the secrets typed so far cut out: a
        page may have its server draw one into a picture (badge.svg?t=...)."""
        if kind.startswith(("image/", "font/", "audio/", "video/")) and kind != "image/svg+xml":
            return data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data  # not text
        scrubbed = self.scrub(text)
        return data if scrubbed == text or scrubbed is None else scrubbed.encode("utf-8")

    def _not_loaded(self, url: str) -> None:
        tries = self.unloaded.get(url, 0) + 1
        if tries > LOOKS_FOR_UNLOADED:
            self.unloaded.pop(url, None)
            self.seen.add(url)
        else:
            self.unloaded[url] = tries

    def _skip(self, url: str, reason: str) -> None:
        if len(self.skipped) < MAX_NOTED:
            self.skipped.append({"url": self.scrub(url), "reason": reason})
            self.recording.update_metadata({"resources_skipped": self.skipped})


def _resources(frame_tree: dict[str, Any]) -> Generator[tuple[str, tuple[str, str | None]], None, None]:
    """(url, (frame id, declared media type)) for every resource in a CDP frame resource tree."""
    frame_id = frame_tree["frame"]["id"]
    for resource in frame_tree.get("resources", []):
        yield resource["url"], (frame_id, resource.get("mimeType"))
    for child in frame_tree.get("childFrames", []):
        yield from _resources(child)

"""Re-run a recording against a live page and report where it diverges.

    from recorder import RecordingStore, replay

    report = replay(store.get(3), page, base_url="http://127.0.0.1:9000")
    print(report.format())
    assert report.ok

Each recorded action is performed again in order. Its element is found through a chain
of locators stored at record time, tried together until one matches a single element:
the recorded selector, role + accessible name, visible text, label, placeholder, test id,
a CSS path, and last the recorded position. After each step the page's URL is checked
against the recording (and, if asked, the screenshot). Written as a flow (see _core.py),
so the same code replays on the sync and the async Playwright API.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._core import FRAME_MARK, REDACTED, Flow, SecretScrubber, recorded_argument, run_async, run_sync
from .store import Recording

FIND_TIMEOUT_MS = 5_000
URL_TIMEOUT_MS = 3_000
POLL_SECONDS = 0.1

# Recorded action types the replay performs, by the Playwright method that made them.
_NO_ARGUMENTS = {"click", "dblclick", "tap", "check", "uncheck", "hover", "focus", "clear"}
_TEXT_ARGUMENT = {"fill", "type", "press_sequentially"}


@dataclass
class StepResult:
    """What happened to one recorded action on replay."""

    sequence: int
    type: str
    api: str
    selector: str | None
    status: str  # ok | recovered | diverged | failed | skipped
    reason: str | None = None
    found_by: str | None = None
    expected_url: str | None = None
    actual_url: str | None = None
    screenshot_difference: float | None = None
    screenshots: list[str] = field(default_factory=list)

    def format(self) -> str:
        """One line of the report: sequence, type, what it acted on, and how it went."""
        outcome = self.status.upper() if self.status in ("diverged", "failed") else self.status
        detail = f" by {self.found_by}" if self.status == "recovered" else ""
        reason = f": {self.reason}" if self.reason else ""
        what = (self.selector or self.expected_url or "")[:60]
        return f"{self.sequence:>5}  {self.type:<10} {what:<60}  {outcome}{detail}{reason}"


@dataclass
class ReplayReport:
    """Every step's outcome; ``ok`` when each replayed (directly or through a fallback)."""

    recording_id: int
    recording_name: str
    base_url: str | None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status in ("ok", "recovered", "skipped") for step in self.steps)

    @property
    def first_divergence(self) -> StepResult | None:
        return next((s for s in self.steps if s.status in ("diverged", "failed")), None)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_divergence
        return {"recording_id": self.recording_id, "recording_name": self.recording_name, "base_url": self.base_url,
                "ok": self.ok, "first_divergence": first.sequence if first else None,
                "steps": [asdict(step) for step in self.steps]}

    def format(self) -> str:
        lines = [f"Replay of recording {self.recording_id} ({self.recording_name}): {len(self.steps)} steps"
                 + (f" against {self.base_url}" if self.base_url else "")]
        lines.extend(step.format() for step in self.steps)
        first = self.first_divergence
        if first is None:
            lines.append("every step replayed")
        else:
            lines.append(f"first divergence at step {first.sequence}: {first.reason}")
            for path in first.screenshots:
                lines.append(f"  screenshot: {path}")
        return "\n".join(lines)


@dataclass
class ReplayOptions:
    base_url: str | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    compare_screenshots: bool = False
    screenshot_threshold: float = 0.05  # mean absolute pixel difference, 0..1
    report_dir: Path | None = None
    find_timeout_ms: int = FIND_TIMEOUT_MS
    on_step: Callable[[StepResult, int], None] | None = None  # each step as it ends, and the step count


def replay(recording: Recording, page: Any, *, base_url: str | None = None, secrets: dict[str, str] | None = None,
           compare_screenshots: bool = False, screenshot_threshold: float = 0.05,
           report_dir: str | os.PathLike[str] | None = None, find_timeout_ms: int = FIND_TIMEOUT_MS,
           on_step: Callable[[StepResult, int], None] | None = None) -> Any:
    """Replay ``recording`` on ``page``; returns a :class:`ReplayReport`.

    With an async page, returns an awaitable: ``report = await replay(recording, page)``.
    ``base_url`` points the recorded URLs at another deployment; ``secrets`` maps a
    redacted field's name to its value (else ``$RECORDER_SECRET_<NAME>`` is read).
    ``on_step(step, total)`` is called as each step ends, for progress.
    """
    from playwright.async_api import Page as AsyncPage

    options = ReplayOptions(base_url=base_url, secrets=dict(secrets or {}), compare_screenshots=compare_screenshots,
                            screenshot_threshold=screenshot_threshold, report_dir=Path(report_dir) if report_dir else None,
                            find_timeout_ms=find_timeout_ms, on_step=on_step)
    flow = Replayer(recording, page, options).run()
    return run_async(flow) if isinstance(page, AsyncPage) else run_sync(flow)


def secret_name(target: dict[str, Any] | None) -> str:
    """The name a redacted field's value is asked for by: its name, else id, else 'password'."""
    target = target or {}
    return str(target.get("name_attribute") or target.get("id") or "password")


def secret_env_var(name: str) -> str:
    """The environment variable a secret is read from: ``RECORDER_SECRET_<NAME>``, upper-cased,
    every character but a letter or digit an underscore."""
    return "RECORDER_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def secret_names(timeline: list[dict[str, Any]]) -> list[str]:
    """The secrets a replay of this timeline asks for (redacted values it types), by name, in order."""
    names: list[str] = []
    for action in timeline:
        metadata = action["metadata"]
        owner, _, method = str(metadata.get("api", "")).partition(".")
        typed = owner == "Keyboard" or (owner in ("Page", "Frame", "Locator") and method in _TEXT_ARGUMENT)
        name = secret_name(metadata.get("target"))
        if metadata.get("redacted") and typed and name not in names:
            names.append(name)
    return names


class Replayer:
    def __init__(self, recording: Recording, page: Any, options: ReplayOptions) -> None:
        self.recording = recording
        self.page = page  # the page the current step acts on
        self.options = options
        self.recorded_origin: str | None = None
        # Pages by the recording's page index: 0 is the page given; popups join as they open.
        self.pages: dict[int, Any] = {0: page}
        self.opened: list[Any] = []  # pages the context opened, not yet matched to an index
        self.scrub = SecretScrubber()  # the secrets typed, cut out of the report (a URL may echo one)

    def rebase(self, url: str | None) -> str | None:
        """The recorded URL, moved to ``base_url`` when one is given."""
        if not url or not self.options.base_url or not self.recorded_origin:
            return url
        if not url.startswith(self.recorded_origin):
            return url
        base = self.options.base_url.rstrip("/")
        return base + url[len(self.recorded_origin):]

    def run(self) -> Flow:
        timeline = self.recording.timeline()
        first_url = next((a["url"] or a["value"] for a in timeline if a["type"] == "navigate"), None)
        if first_url:
            parts = urlsplit(first_url)
            self.recorded_origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        report = ReplayReport(self.recording.id, self.recording.name, self.options.base_url)
        context = self.pages[0].context
        context.on("page", self._on_page)
        unreachable: StepResult | None = None
        try:
            for action in timeline:
                if unreachable is not None:
                    step = StepResult(action["sequence"], action["type"], action["metadata"].get("api", ""),
                                      action["selector"], "skipped",
                                      reason=f"not run: step {unreachable.sequence} could not reach the app")
                else:
                    step = yield from self.step(action)
                    step.reason, step.expected_url, step.actual_url = (
                        self.scrub(step.reason), self.scrub(step.expected_url), self.scrub(step.actual_url))
                    if step.status == "failed" and "net::ERR_" in (step.reason or "") and step.api == "Page.goto":
                        # Every later step would wait out its timeout on an error page.
                        unreachable = step
                report.steps.append(step)
                if self.options.on_step is not None:
                    self.options.on_step(step, len(timeline))
                if step.status in ("diverged", "failed") and len([s for s in report.steps if s.screenshots]) == 0:
                    yield from self.save_screenshots(action, step)
        finally:
            context.remove_listener("page", self._on_page)
        return report

    def _on_page(self, page: Any) -> None:
        self.opened.append(page)

    def page_for(self, action: dict[str, Any]) -> Generator[Any, Any, Any]:
        """The page an action happened on; a popup's first step waits for it to open."""
        metadata = action["metadata"]
        index = metadata.get("page_index", 0)
        if index not in self.pages and metadata.get("popup"):
            opener = self.pages.get(metadata.get("opener_page_index", 0))
            deadline = time.monotonic() + self.options.find_timeout_ms / 1000
            while True:
                for candidate in list(self.opened):
                    # The window this page opened, not any window that happened to open.
                    if (yield lambda candidate=candidate: candidate.opener()) == opener:
                        self.opened.remove(candidate)
                        self.pages[index] = candidate
                        break
                if index in self.pages or time.monotonic() >= deadline:
                    break
                waiter = next((p for p in self.pages.values() if not p.is_closed()), None)
                if waiter is None:
                    break
                yield lambda waiter=waiter: waiter.wait_for_timeout(POLL_SECONDS * 1000)
            if index in self.pages:
                yield lambda: self.pages[index].wait_for_load_state()
        page = self.pages.get(index)
        if page is None:
            raise _Unreplayable(f"page {index} (a popup) did not open")
        if page.is_closed():
            raise _Unreplayable(f"page {index} was closed before this step")
        return page

    # -- one step -----------------------------------------------------------------------

    def step(self, action: dict[str, Any]) -> Generator[Any, Any, StepResult]:
        metadata = action["metadata"]
        api = metadata.get("api", "")
        owner, _, method = api.partition(".")
        result = StepResult(action["sequence"], action["type"], api, action["selector"], "ok",
                            expected_url=self.rebase(action["url"]))
        try:
            self.page = yield from self.page_for(action)
            if owner == "event":
                # A navigation nobody asked for (a link click), a dialog: replay checks
                # that the page got there, it does not do it.
                if action["type"] != "navigate":
                    result.status, result.reason = "skipped", "happened by itself when recorded"
                    return result
            elif owner == "Page" and method in ("goto", "reload", "go_back", "go_forward"):
                yield from self.navigate(method, action)
            elif owner == "Keyboard":
                text = yield from self.value_for(action, result)
                yield lambda: getattr(self.page.keyboard, method)(text)
            elif owner == "Mouse":
                coordinates = [float(n) for n in (action["value"] or "").split(",") if n]
                yield lambda: getattr(self.page.mouse, method)(*coordinates)
            elif owner in ("Page", "Frame", "Locator"):
                locator, found_by = yield from self.find(action, result)
                if locator is None:
                    return result
                if found_by != "recorded selector":
                    result.status, result.found_by = "recovered", found_by
                yield from self.perform(method, locator, action, result)
            else:
                result.status, result.reason = "skipped", f"{api or action['type']} is not replayable"
                return result
        except _Unreplayable as problem:
            result.status, result.reason = "failed", str(problem)
            return result
        except Exception as exc:
            result.status, result.reason = "failed", str(exc).split("\nCall log:")[0].strip()
            return result
        yield from self.check(action, result)
        return result

    def navigate(self, method: str, action: dict[str, Any]) -> Flow:
        if method == "goto":
            url = self.rebase(action["value"] or action["url"])
            yield lambda: self.page.goto(url)
        else:
            yield lambda: getattr(self.page, method)()

    def value_for(self, action: dict[str, Any], result: StepResult) -> Generator[Any, Any, str]:
        """The value to type: the recorded one, or for a redacted field, its secret."""
        if not action["metadata"].get("redacted"):
            return action["value"] or ""
        name = secret_name(action["metadata"].get("target"))
        value = self.options.secrets.get(name, os.environ.get(secret_env_var(name)))
        if value is None:
            raise _Unreplayable(
                f"the value of secret field '{name}' was not recorded: set {secret_env_var(name)} "
                f"or pass --secret {name} (asked for on standard input)"
            )
        self.scrub.add(value)
        return value
        yield  # a generator, like every step of a flow

    # -- finding the element ------------------------------------------------------------

    def candidates(self, action: dict[str, Any]) -> list[tuple[str, Callable[[], Any]]]:
        """The locators to try, best first, each a (what it is, how to make it) pair."""
        metadata = action["metadata"]
        raw = metadata.get("playwright_selector")
        target = metadata.get("target") or {}
        scope: Any = self.page
        if raw and FRAME_MARK in raw:
            for frame_selector in raw.split(FRAME_MARK)[:-1]:
                scope = scope.frame_locator(frame_selector)
        found: list[tuple[str, Callable[[], Any]]] = []
        if raw:
            found.append(("recorded selector", lambda: self.page.locator(raw)))
        if target.get("role") and target.get("accessible_name"):
            found.append(("role", lambda: scope.get_by_role(target["role"], name=target["accessible_name"], exact=True)))
        if target.get("text"):
            found.append(("text", lambda: scope.get_by_text(target["text"], exact=True)))
        if target.get("label"):
            found.append(("label", lambda: scope.get_by_label(target["label"], exact=True)))
        if target.get("placeholder"):
            found.append(("placeholder", lambda: scope.get_by_placeholder(target["placeholder"], exact=True)))
        if target.get("test_id"):
            found.append(("test id", lambda: scope.get_by_test_id(target["test_id"])))
        if target.get("css_path"):
            found.append(("css path", lambda: scope.locator(target["css_path"])))
        return found

    def find(self, action: dict[str, Any], result: StepResult) -> Generator[Any, Any, tuple[Any, str | None]]:
        """The first candidate that matches exactly one element, polling until the timeout."""
        candidates = [(label, make()) for label, make in self.candidates(action)]
        deadline = time.monotonic() + self.options.find_timeout_ms / 1000
        while True:
            for label, locator in candidates:
                try:
                    count = yield lambda locator=locator: locator.count()
                except Exception:
                    continue
                if count == 1:
                    return locator, label
            if time.monotonic() >= deadline:
                break
            yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)
        box = action["metadata"].get("bounding_box")
        if box and action["type"] in ("click", "type") and box.get("width"):
            position = _Position(self.page, box)
            # Only where what is there now is the same kind of element: clicking empty
            # space would "succeed" and hide the divergence.
            there = yield lambda: self.page.evaluate(_ELEMENT_AT, [position.x, position.y])
            if there and there == (action["metadata"].get("target") or {}).get("tag"):
                return position, "recorded position"
            candidates.append(("recorded position", None))
        tried = ", ".join(label for label, _ in candidates) or "nothing recorded to find it by"
        result.status, result.reason = "failed", f"element not found (tried: {tried})"
        return None, None

    def perform(self, method: str, locator: Any, action: dict[str, Any], result: StepResult) -> Flow:
        value = action["value"]
        if method in _NO_ARGUMENTS:
            yield lambda: getattr(locator, method)()
        elif method in _TEXT_ARGUMENT:
            text = yield from self.value_for(action, result)
            yield lambda: getattr(locator, method)(text)
        elif method == "press":
            yield lambda: locator.press(value)
        elif method in ("set_checked", "select_option"):
            argument = recorded_argument(method, value)
            yield lambda: getattr(locator, method)(argument)
        elif method == "set_input_files":
            names = recorded_argument(method, value)
            files = [{"name": n, "mimeType": "application/octet-stream", "buffer": b""} for n in names]
            yield lambda: locator.set_input_files(files)
            result.reason = "uploaded empty files with the recorded names (file contents are not recorded)"
        elif method in ("drag_to", "drag_and_drop"):
            target = action["metadata"].get("drag_target_selector")
            if not target:
                raise _Unreplayable("the drop target of this drag was not recorded")
            yield lambda: locator.drag_to(self.page.locator(target))
        else:
            raise _Unreplayable(f"{method} is not replayable")

    # -- checking -----------------------------------------------------------------------

    def check(self, action: dict[str, Any], result: StepResult) -> Flow:
        expected = result.expected_url
        if expected and expected != "about:blank":
            pattern = url_pattern(expected)
            try:
                yield lambda: self.page.wait_for_url(pattern, timeout=URL_TIMEOUT_MS)
            except Exception:
                result.status = "diverged"
                result.reason = f"URL is {self.page.url}, recorded {expected}"
        result.actual_url = self.page.url
        if self.options.compare_screenshots and action["screenshot_key"] and result.status in ("ok", "recovered"):
            now = yield lambda: self.page.screenshot(type="png")
            difference = screenshot_difference(self.recording.store.blob(action["screenshot_key"]), now)
            result.screenshot_difference = round(difference, 4)
            if difference > self.options.screenshot_threshold:
                result.status = "diverged"
                result.reason = f"screenshot differs by {difference:.1%} (threshold {self.options.screenshot_threshold:.0%})"

    def save_screenshots(self, action: dict[str, Any], result: StepResult) -> Flow:
        """Keep the recorded and the replayed screenshot of the first divergence."""
        if self.options.report_dir is None:
            return
        self.options.report_dir.mkdir(parents=True, exist_ok=True)
        stem = self.options.report_dir / f"step-{action['sequence']}"
        if action["screenshot_key"]:
            recorded = stem.with_name(stem.name + "-recorded.jpg")
            recorded.write_bytes(self.recording.store.blob(action["screenshot_key"]))
            result.screenshots.append(str(recorded))
        try:
            now = yield lambda: self.page.screenshot(type="png")
        except Exception:
            return
        replayed = stem.with_name(stem.name + "-replayed.png")
        replayed.write_bytes(now)
        result.screenshots.append(str(replayed))


_ELEMENT_AT = """([x, y]) => {
  const el = document.elementFromPoint(x, y);
  return el && !['html', 'body'].includes(el.tagName.toLowerCase()) ? el.tagName.toLowerCase() : null;
}"""


def url_pattern(url: str) -> str | re.Pattern[str]:
    """A recorded URL to wait for: as is, or with each redacted secret matching anything."""
    if REDACTED not in url:
        return url
    return re.compile("^" + ".+?".join(re.escape(part) for part in url.split(REDACTED)) + "$")


class _Unreplayable(Exception):
    """A step that cannot be replayed, for a reason the report states."""


class _Position:
    """The last resort: act at the centre of where the element was when recorded."""

    def __init__(self, page: Any, box: dict[str, float]) -> None:
        self.page = page
        self.x, self.y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def click(self) -> Any:
        return self.page.mouse.click(self.x, self.y)

    def dblclick(self) -> Any:
        return self.page.mouse.dblclick(self.x, self.y)

    tap = check = uncheck = click

    def hover(self) -> Any:
        return self.page.mouse.move(self.x, self.y)

    def fill(self, text: str) -> Any:
        # Two steps: a flow yields one call at a time, so both are returned as one
        # awaitable-or-value by whichever API the page uses.
        result = self.page.mouse.click(self.x, self.y)
        if hasattr(result, "__await__"):
            async def both() -> None:
                await result
                await self.page.keyboard.insert_text(text)

            return both()
        return self.page.keyboard.insert_text(text)

    type = press_sequentially = fill


def screenshot_difference(recorded: bytes, now: bytes) -> float:
    """Mean absolute difference of two screenshots in grey, 0 (same) to 1, at the recorded size."""
    from PIL import Image, ImageChops, ImageStat

    before = Image.open(io.BytesIO(recorded)).convert("L")
    after = Image.open(io.BytesIO(now)).convert("L").resize(before.size)
    return float(ImageStat.Stat(ImageChops.difference(before, after)).mean[0]) / 255

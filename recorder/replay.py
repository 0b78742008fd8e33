"""Re-run a recording against a live page and report where it diverges.

    from recorder import RecordingStore, replay

    report = replay(store.get(3), page, base_url="http://127.0.0.1:9000")
    print(report.format())
    assert report.ok

Each recorded action is performed again in order, as the call the table in
_core.ACTIONS says it stands for. Its element is the one the recorded selector finds, if
it finds exactly one; else the element most like the recorded one by weighted similarity
over everything recorded about it (rematch.py), if one is clearly so. After each step the
page's URL is compared with the recorded one, normalized (compare_urls), and, if asked,
the screenshot. Each step ends ok, recovered (re-matched), noted (a URL differing only in
its form, query or fragment), diverged, failed or skipped, with its reason. Written as a
flow (see _core.py), so the same code replays on the sync and the async Playwright API.
"""

from __future__ import annotations

import difflib
import functools
import io
import os
import re
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from playwright.async_api import Page as AsyncPage

from . import inpage, rematch
from ._core import (FRAME_MARK, DropTarget, FileNames, Flow, RecordedCall, Secret, Step,
                    error_text, recorded_argument, recorded_call, run_async, run_sync, secret_name)
from .diff import visible_text
from .scrub import SecretScrubber
from .store import Recording
from .urls import compare_urls, origin

FIND_TIMEOUT_MS = 5_000
URL_TIMEOUT_MS = 3_000
URL_SETTLE_SECONDS = 0.5  # a URL on the recorded path that differs otherwise, steady this long, is final
POLL_SECONDS = 0.1
SCREENSHOT_TIMEOUT_S = 3.0

@dataclass
class StepResult:
    """What happened to one recorded action on replay."""

    sequence: int
    type: str
    api: str
    selector: str | None
    status: str  # ok | recovered | noted | diverged | failed | skipped
    reason: str | None = None  # why it is ok, recovered, noted, diverged, failed or skipped
    found_by: str | None = None
    notes: list[str] = field(default_factory=list)  # differences that are not divergences (a URL's form)
    score: float | None = None  # a re-matched element's similarity to the recorded one, 0..1
    candidates: list[dict[str, Any]] = field(default_factory=list)  # the best re-matches, when none was taken
    expected_url: str | None = None
    actual_url: str | None = None
    screenshot_difference: float | None = None
    screenshots: list[str] = field(default_factory=list)

    def format(self) -> str:
        """One line of the report: sequence, type, what it acted on, and how it went."""
        outcome = self.status.upper() if self.status in ("diverged", "failed") else self.status
        detail = f" ({self.score:.2f})" if self.score is not None else ""
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
        return all(step.status in ("ok", "recovered", "noted", "skipped") for step in self.steps)

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
        for step in self.steps:
            lines.append(step.format())
            lines.extend(f"         candidate {c['score']:.2f}: {c['tag']} {c['name'] or ''!r} {c['css_path'] or ''}"
                         for c in step.candidates)
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
    options = ReplayOptions(base_url=base_url, secrets=dict(secrets or {}), compare_screenshots=compare_screenshots,
                            screenshot_threshold=screenshot_threshold, report_dir=Path(report_dir) if report_dir else None,
                            find_timeout_ms=find_timeout_ms, on_step=on_step)
    flow = Replayer(recording, page, options).run()
    return run_async(flow) if isinstance(page, AsyncPage) else run_sync(flow)


def secret_env_var(name: str) -> str:
    """The environment variable a secret is read from: ``RECORDER_SECRET_<NAME>``, upper-cased,
    every character but a letter or digit an underscore."""
    return "RECORDER_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def secret_names(timeline: list[dict[str, Any]]) -> list[str]:
    """The secrets a replay of this timeline asks for (redacted values it types), by name, in order."""
    names: list[str] = []
    for action in timeline:
        try:
            call = recorded_call(action)
        except ValueError:
            continue
        for argument in [*call.arguments, *call.keywords.values()] if call else ():
            if isinstance(argument, Secret) and argument.name not in names:
                names.append(argument.name)
    return names


class Replayer:
    def __init__(self, recording: Recording, page: Any, options: ReplayOptions) -> None:
        self.recording = recording
        self.page = page  # the page the current step acts on
        self.options = options
        self.recorded_origins: set[str] = set()  # scheme://host:port of the app when recorded
        # Pages by the recording's page index: 0 is the page given; popups join as they open.
        self.pages: dict[int, Any] = {0: page}
        self.opened: list[Any] = []  # pages the context opened, not yet matched to an index
        self.scrub = SecretScrubber()  # the secrets typed, cut out of the report (a URL may echo one)
        # Page errors and failed requests seen while replaying, with the step each belongs to
        # (a request: the one that sent it), not judged yet; those the recording had, by
        # action (see trouble_of): a new one is a divergence of its step.
        self.trouble: list[tuple[StepResult, tuple[str, str]]] = []
        self.recorded_trouble: dict[int | None, set[tuple[str, str]]] | None = None
        self.current: StepResult | None = None  # the step being replayed
        self.sent_in: dict[int, StepResult] = {}  # id(request) -> the step it was sent during
        # Navigations of each page's main frame seen (by id(page)), and how many there had been
        # as each performed step began (by its sequence): a recorded navigation that followed a
        # step must follow it now, a new document at the same URL included.
        self.navigations: dict[int, int] = {}
        self.navigations_before: dict[int, dict[int, int]] = {}
        self.last_performed: int | None = None
        # The DOM snapshot of the row before each action on the same page (by sequence):
        # what the page's text was as the action began, when recorded.
        self.snapshot_before: dict[int, str] = {}
        # The same, kept for every action: what else was on the page (recorded_page_text).
        self.page_before: dict[int, str] = {}
        self._page_texts: dict[str, str] = {}  # a DOM snapshot key -> its text

    def rebase(self, url: str | None) -> str | None:
        """The recorded URL, moved to ``base_url`` when one is given (if it is on the app's origin)."""
        if not url or not self.options.base_url or origin(url) not in self.recorded_origins:
            return url
        parts = urlsplit(url)
        return self.options.base_url.rstrip("/") + urlunsplit(("", "", parts.path, parts.query, parts.fragment))

    def run(self) -> Flow:
        timeline = self.recording.timeline()
        first = next((a for a in timeline if a["type"] == "navigate"), None)
        if first is not None:
            # The app's origin: the one the first goto asked for, and the one it ended on
            # (http://app redirected to https://app, say).
            self.recorded_origins = {origin(u) for u in (first["value"], first["url"]) if u and origin(u)}
        report = ReplayReport(self.recording.id, self.recording.name, self.options.base_url)
        last_snapshot: dict[int, str] = {}  # page index -> the last row's DOM snapshot
        for action in timeline:
            index = action["metadata"].get("page_index", 0)
            if index in last_snapshot:
                self.page_before[action["sequence"]] = last_snapshot[index]
            if action["type"] == "navigate" and action["metadata"].get("caused_by"):
                # That step's snapshot was of a document on its way out, or taken later:
                # what its page came to show is the URL check's to judge.
                self.snapshot_before.pop(action["metadata"]["caused_by"], None)
            if index in last_snapshot:
                self.snapshot_before[action["sequence"]] = last_snapshot[index]
            if action["dom_snapshot_key"]:
                last_snapshot[index] = action["dom_snapshot_key"]
        events = self.recording.events()
        if events:  # (a recording made without events says nothing of what went wrong)
            self.recorded_trouble = {}
            for event in events:
                found = trouble_of(event)
                if found:
                    self.recorded_trouble.setdefault(event["action_sequence"], set()).add(found)
        context = self.pages[0].context
        context.on("page", self._on_page)
        self._watch(self.pages[0])
        unreachable: StepResult | None = None
        try:
            for action in timeline:
                if unreachable is not None:
                    step = StepResult(action["sequence"], action["type"], action["metadata"].get("api", ""),
                                      action["selector"], "skipped",
                                      reason=f"not run: step {unreachable.sequence} could not reach the app")
                else:
                    step = yield from self.step(action)
                    self._scrub(step)
                    if step.status == "failed" and "net::ERR_" in (step.reason or "") and step.api == "Page.goto":
                        # Every later step would wait out its timeout on an error page.
                        unreachable = step
                report.steps.append(step)
                if self.options.on_step is not None:
                    self.options.on_step(step, len(timeline))
                if step.status in ("diverged", "failed") and len([s for s in report.steps if s.screenshots]) == 0:
                    yield from self.save_screenshots(action, step)
            if self.current is not None and self.current.status not in ("failed", "skipped") \
                    and not self.pages[0].is_closed():
                yield lambda: self.pages[0].wait_for_timeout(200)  # what the last step set off
            self.judge_trouble()
            for step in report.steps:  # judge_trouble may have given an earlier step a new reason
                self._scrub(step)
        finally:
            context.remove_listener("page", self._on_page)
        return report

    def _scrub(self, step: StepResult) -> None:
        """The secrets typed, cut out of every text of the step the report shows (a URL the
        app echoed one into may be in its reason, its notes or a request that failed)."""
        step.reason, step.expected_url, step.actual_url = (
            self.scrub(step.reason), self.scrub(step.expected_url), self.scrub(step.actual_url))
        step.notes = self.scrub.everywhere(step.notes)
        step.candidates = self.scrub.everywhere(step.candidates)

    def _on_page(self, page: Any) -> None:
        self.opened.append(page)
        self._watch(page)

    def _watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self._saw(self.current, ("error", f"{getattr(error, 'name', 'Error')}: "
                                                                               f"{getattr(error, 'message', error)}")))
        page.on("request", self._on_request)
        page.on("requestfailed", lambda request: self._saw(self.sent_in.get(id(request)),
                                                           ("request", f"{request.method} {_path(request.url)}")))
        page.on("response", self._on_response)
        page.on("framenavigated", lambda frame: self._on_navigated(page, frame))

    def _on_navigated(self, page: Any, frame: Any) -> None:
        if frame.parent_frame is None:
            self.navigations[id(page)] = self.navigations.get(id(page), 0) + 1

    def _on_request(self, request: Any) -> None:
        if self.current is not None:
            self.sent_in[id(request)] = self.current

    def _on_response(self, response: Any) -> None:
        if response.status >= 400:
            request = response.request
            self._saw(self.sent_in.get(id(request)), ("request", f"{request.method} {_path(response.url)}"))

    def _saw(self, step: StepResult | None, trouble: tuple[str, str]) -> None:
        if step is not None and not trouble[1].endswith("/favicon.ico"):  # (the browser's own guess)
            self.trouble.append((step, trouble))

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
        owner = api.partition(".")[0]
        result = StepResult(action["sequence"], action["type"], api, action["selector"], "ok",
                            expected_url=self.rebase(action["url"]))
        self.current = result
        try:
            self.page = yield from self.page_for(action)
            if owner == "event":
                # A navigation nobody asked for (a link click), a dialog: replay checks
                # that the page got there, it does not do it.
                if action["type"] != "navigate":
                    result.status, result.reason = "skipped", "happened by itself when recorded"
                    return result
                result.reason = "a navigation that followed from an earlier step, checked not performed"
                if not metadata.get("popup"):  # (a popup's first navigation: page_for waited for it)
                    yield from self.await_navigation(metadata.get("caused_by"), result)
                    if result.status == "diverged":
                        return result
            else:
                self.navigations_before[action["sequence"]] = dict(self.navigations)
                self.last_performed = action["sequence"]
                try:
                    call = recorded_call(action)
                except ValueError as problem:
                    raise _Unreplayable(str(problem)) from None
                if call is None:
                    result.status, result.reason = "skipped", f"{api or action['type']} is not replayable"
                    return result
                yield from self.perform(call, action, result)
                if result.status == "diverged":  # its element is not there
                    return result
        except _Unreplayable as problem:
            result.status, result.reason = "failed", str(problem)
            return result
        except Exception as exc:
            result.status, result.reason = "failed", error_text(exc)
            return result
        yield from self.check(action, result)
        self.judge_trouble()
        return result

    def await_navigation(self, caused_by: int | None, result: StepResult) -> Flow:
        """Wait until the page has navigated since the step that made the recorded navigation
        (``caused_by``, else the last step performed) began; a divergence if it does not."""
        step = caused_by if caused_by in self.navigations_before else self.last_performed
        if step is None:
            return
        before = self.navigations_before[step].get(id(self.page), 0)
        deadline = time.monotonic() + URL_TIMEOUT_MS / 1000
        while self.navigations.get(id(self.page), 0) <= before:
            if time.monotonic() >= deadline:
                result.status = "diverged"
                result.reason = f"the page did not navigate after step {step}, as it did when recorded"
                return
            yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)

    def judge_trouble(self) -> None:
        """Each page error or failed request seen so far that its step's recording did not
        have makes that step diverge (a late one, an earlier step: a request answered after
        its step ended)."""
        pending, self.trouble = self.trouble, []
        if self.recorded_trouble is None:
            return
        judged: set[tuple[int, tuple[str, str]]] = set()
        for step, (kind, what) in pending:
            if (id(step), (kind, what)) in judged:
                continue
            judged.add((id(step), (kind, what)))
            if step.status in ("failed", "skipped") or (kind, what) in self.recorded_trouble.get(step.sequence, set()):
                continue
            if step.status == "diverged":
                step.notes.append(f"also: {what}")
                continue
            step.status = "diverged"
            step.reason = (f"a page error the recording did not have: {what}" if kind == "error"
                           else f"a request failed that did not when recorded: {what}")

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

    def scope(self, action: dict[str, Any]) -> Any:
        """Where the element is looked for: the page, or the frame the recorded selector enters."""
        raw = action["metadata"].get("playwright_selector")
        scope: Any = self.page
        if raw and FRAME_MARK in raw:
            for frame_selector in raw.split(FRAME_MARK)[:-1]:
                scope = scope.frame_locator(frame_selector)
        return scope

    def find(self, action: dict[str, Any], result: StepResult) -> Generator[Any, Any, tuple[Any, str | None]]:
        """The element the recorded selector finds, if it finds exactly one; else the element
        most like the recorded one (see rematch.py), if one is clearly so. Polls until the
        timeout; re-matching starts once the recorded selector has failed for a moment (a
        page still loading is not a changed page)."""
        metadata = action["metadata"]
        raw = metadata.get("playwright_selector")
        target = metadata.get("target") or {}
        box = metadata.get("bounding_box")
        recorded = self.page.locator(raw) if raw else None
        scope = self.scope(action)
        tag = str(target.get("tag") or "")
        css = CANDIDATES_CSS + (f", {tag}" if re.fullmatch(r"[a-z][a-z0-9-]*", tag) else "")
        started = time.monotonic()
        deadline = started + self.options.find_timeout_ms / 1000
        count = 0
        decision: rematch.Decision | None = None
        while True:
            if recorded is not None:
                try:
                    count = yield lambda: recorded.count()
                except Exception:
                    count = 0
                if count == 1:
                    result.reason = "found by the recorded selector"
                    positional = bool(raw and _POSITIONAL.search(raw))
                    later = tuple(metadata[key] for key in ("target_after", "target_later")
                                  if isinstance(metadata.get(key), dict))
                    page_text = functools.partial(self.recorded_page_text, action)
                    other, unlike = (yield from self.better_than_found(recorded, css, target, box, positional, later,
                                                                       page_text)) if target else (None, None)
                    if other is None and unlike is None:
                        return recorded, "recorded selector"
                    if other is None:  # found, but not the element recorded, and nothing else is
                        result.status = "diverged"
                        result.reason = (f"the recorded selector found an element {unlike}; nothing else on the "
                                         f"page is clearly the recorded one, so it is not acted on")
                        return None, None
                    decision, found_score = other
                    assert decision.chosen is not None
                    result.status, result.found_by = "recovered", "similarity"
                    result.score = round(decision.chosen.score, 2)
                    result.reason = (f"the recorded selector found an element less like the recorded one "
                                     f"(similarity {found_score:.2f}) than another; re-matched by {decision.why}")
                    return scope.locator(css).nth(decision.chosen.index), "similarity"
            now = time.monotonic()
            if target and (now - started >= REMATCH_AFTER_SECONDS or now >= deadline):
                try:
                    found = yield lambda: scope.locator(css).evaluate_all(_ELEMENTS_INFO)
                except Exception:
                    found = []
                decision = rematch.decide(target, box, found, page_text=functools.partial(self.recorded_page_text, action))
                if decision.chosen is not None:
                    result.status, result.found_by = "recovered", "similarity"
                    result.score = round(decision.chosen.score, 2)
                    result.reason = f"the recorded selector found {_elements(count)}; re-matched by {decision.why}"
                    return scope.locator(css).nth(decision.chosen.index), "similarity"
            if now >= deadline:
                break
            yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)
        result.status = "diverged"
        found_by = f"the recorded selector found {_elements(count)}" if recorded is not None \
            else "no selector was recorded"
        if decision is None:
            result.reason = f"{found_by}, and nothing else was recorded to find the element by"
        else:
            result.candidates = [s.describe() for s in decision.best]
            result.reason = f"{found_by}; not re-matched: {decision.why}"
        return None, None

    def better_than_found(self, found: Any, css: str, target: dict[str, Any], box: dict[str, float] | None,
                          positional: bool, later: tuple[dict[str, Any], ...], page_text: rematch.PageText
                          ) -> Generator[Any, Any, tuple[tuple[rematch.Decision, float] | None, str | None]]:
        """Another element clearly more like the recorded one than the one the recorded
        selector finds (rematch.better_than): a positional selector over a list reordered
        would act on the wrong item, silently. And why the found one is not the recorded
        one at all (rematch.unlike_found), if it is not."""
        try:
            infos = yield lambda: found.evaluate_all(_ELEMENTS_INFO)
            if len(infos) != 1 or (rematch.similarity(target, box, infos[0])[0] >= rematch.SURE
                                   and rematch.unlike_found(target, infos[0], positional, later, page_text) is None):
                return None, None  # (most steps: no need to read every candidate on the page)
            # Asked again with its rivals in one question, so that all are seen at the same
            # moment (a list drawn again in between would make the first look wrong).
            seen = yield lambda: found.evaluate_all(_FOUND_AND_CANDIDATES, css)
        except Exception:
            return None, None
        if not seen:
            return None, None
        return (rematch.better_than(seen["found"], target, box, seen["candidates"], positional, later, page_text),
                rematch.unlike_found(target, seen["found"], positional, later, page_text))

    def perform(self, call: RecordedCall, action: dict[str, Any], result: StepResult) -> Flow:
        """Make the recorded call again (the table in _core.ACTIONS says which), on the element
        found again, the page, its keyboard or its mouse."""
        if call.receiver.startswith("expect"):
            yield from self.expect(call, action, result)
            return
        found_by = None
        if call.receiver == "element":
            receiver, found_by = yield from self.find(action, result)
            if receiver is None:
                return
        else:
            receiver = {"page": self.page, "keyboard": self.page.keyboard, "mouse": self.page.mouse}[call.receiver]
            result.reason = {"page": f"page.{call.method} performed",
                             "keyboard": f"keyboard.{call.method} on the focused element",
                             "mouse": f"mouse.{call.method} at the recorded coordinates"}[call.receiver]
        arguments: list[Any] = []
        for argument in call.arguments:
            if isinstance(argument, Secret):
                argument = yield from self.value_for(action, result)
            elif isinstance(argument, DropTarget):
                argument = self.page.locator(argument.selector)
            elif isinstance(argument, FileNames):
                argument = [{"name": n, "mimeType": "application/octet-stream", "buffer": b""} for n in argument.names]
                result.reason = (f"{result.reason}; " if result.reason else "") + \
                    "uploaded empty files with the recorded names (file contents are not recorded)"
            elif call.method == "goto":
                argument = self.rebase(argument)
            arguments.append(argument)
        handle: Any = None
        before: dict[str, Any] = {}
        # (what the element was before the recorded action is not known where it was first
        # looked at after the call: nothing to tell a change by)
        if call.receiver == "element" and action["metadata"].get("target_after") is not None \
                and not action["metadata"].get("target_read_after_call"):
            try:  # the element itself, not the locator: its text or its place may change
                handle = yield lambda: receiver.element_handle(timeout=self.options.find_timeout_ms)
                before = yield lambda: handle.evaluate(_ELEMENT_STATE)
            except Exception:
                handle = None
        shown = self.recorded_text_shown(action) if call.receiver != "page" else []
        text_before: str | None = None
        if shown:
            try:
                text_before = yield lambda: self.page.evaluate(_PAGE_TEXT)
            except Exception:
                pass
        keywords = dict(call.keywords)
        for name, keyword in keywords.items():
            if isinstance(keyword, Secret):  # (select_option(index=...) in a redacted select)
                keywords[name] = recorded_argument(call.method, (yield from self.value_for(action, result)), name)
        yield lambda: getattr(receiver, call.method)(*arguments, **keywords)
        if handle is not None:
            # Where to look for the element should the action replace it: where its recorded
            # selector finds it, or at its recorded CSS path (where the recording read its
            # state after). Not for one re-matched: its locator is its place among candidates,
            # and the page it was recorded on is not this one.
            places = []
            if found_by == "recorded selector":
                css_path = (action["metadata"].get("target") or {}).get("css_path")
                # (its CSS path first: where the recording read its state after; the recorded
                # locator may find another element once the page drew its list anew, the next
                # "Add to cart" of a `.first`)
                places = [*([self.page.locator(css_path)] if css_path else []), receiver]
            yield from self.compare_outcome(handle, places, before, action, result)
        if text_before is not None and result.status != "diverged":
            yield from self.compare_page_text(text_before, shown, result, self.recorded_page_text(action))

    def recorded_page_text(self, action: dict[str, Any]) -> str:
        """The recorded page's text as this action began (lower case; "" when no snapshot
        was recorded): what else was on the page, for telling another element from the
        recorded one renamed."""
        before_key = self.page_before.get(action["sequence"])
        if not before_key:
            return ""
        if before_key not in self._page_texts:
            html = self.recording.store.blob(before_key).decode("utf-8", "replace")
            self._page_texts = {before_key: visible_text(html).lower()}  # (the step's own, kept while it runs)
        return self._page_texts[before_key]

    def recorded_text_shown(self, action: dict[str, Any]) -> list[str]:
        """The text that came to show on the page during this action when recorded: what its
        DOM snapshot's text has that the one before it on the same page had not (words, in
        runs); nothing when either is missing."""
        before_key, after_key = self.snapshot_before.get(action["sequence"]), action["dom_snapshot_key"]
        if not before_key or not after_key or before_key == after_key:
            return []
        store = self.recording.store
        before = visible_text(store.blob(before_key).decode("utf-8", "replace")).split()
        after = visible_text(store.blob(after_key).decode("utf-8", "replace")).split()
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        return [" ".join(after[j1:j2]) for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("insert", "replace")]

    def compare_page_text(self, before: str, shown: list[str], result: StepResult, recorded_before: str) -> Flow:
        """The page's text changed during this step when recorded (``shown`` came to show): it
        must change now too, or show that text already (an earlier step's late answer put it
        there), within OUTCOME_TIMEOUT_S. A change to other words counts: a page that does
        not change at all is the divergence (a button whose handler no longer runs). Only
        text the recorded page did not show before the step (``recorded_before``, lower case)
        can be "there already": a "2" that came to show in "2 items" is on the page anyway
        in "$2.50"."""
        recorded = " ".join(recorded_before.split())
        new = [run for run in shown if run.lower() not in recorded]
        deadline = time.monotonic() + OUTCOME_TIMEOUT_S
        navigations = self.navigations_before[result.sequence].get(id(self.page), 0)
        while True:
            try:
                now = yield lambda: self.page.evaluate(_PAGE_TEXT)
            except Exception:
                return  # the page changed document: the URL check's to judge
            if self.navigations.get(id(self.page), 0) != navigations:
                return  # (the same, a new document of the same text included)
            if now != before or (new and shows_text(now, new)):
                return
            if time.monotonic() >= deadline:
                break
            yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)
        result.status = "diverged"
        first = shown[0] if len(shown[0]) <= 60 else shown[0][:59] + "…"
        result.reason = f"the page's text did not change as it did when recorded: it came to show {first!r} then, now nothing on it changes"

    def compare_outcome(self, handle: Any, places: list[Any], before: dict[str, Any], action: dict[str, Any],
                        result: StepResult) -> Flow:
        """What the action did to its element, against what it did when recorded: a change the
        recording saw (a button's text, a box checked, the element removed) that does not
        happen now is a divergence; one that happens only now is a note."""
        metadata = action["metadata"]
        # What the element had become by the time the next action began, if that differs
        # from what it was as this one returned (a change the page made after a fetch, say).
        recorded_before, recorded_after = metadata.get("target") or {}, metadata.get("target_later") or metadata["target_after"]
        expected = [fact for fact in _comparable(recorded_after) if _fact(recorded_before, fact) != _fact(recorded_after, fact)]
        deadline = time.monotonic() + OUTCOME_TIMEOUT_S
        now: dict[str, Any] | None = None
        try:
            while True:
                now = yield lambda: handle.evaluate(_ELEMENT_STATE)
                if now.get("gone") and not recorded_after.get("gone"):
                    # Drawn anew (a list rendered again replaces its items), or gone with
                    # another in its place: the element found there now, as the recording read
                    # the element at the action's CSS path.
                    for place in places:
                        found = yield from self._state_of_only(place)
                        if found is not None:
                            now = found
                            break
                # (an element already as the recording left it counts: what changed it then, a
                # late answer or an earlier step's drawing, may have come before this step now)
                missing = [fact for fact in expected if _fact(now, fact) == _fact(before, fact)
                           and _fact(now, fact) != _fact(recorded_after, fact)]
                if len(missing) < len(expected):
                    # One change the recording saw happened: the step did its work. (A busy
                    # state the recording caught, "Saving…" and disabled for the moment a fetch
                    # took, may be over before replay looks: its text changed on to "Saved".)
                    missing = []
                if not missing or time.monotonic() >= deadline:
                    break
                yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)
        except Exception:
            return  # the page changed document: what became of the element is the URL check's
        finally:
            try:
                yield lambda: handle.dispose()
            except Exception:
                pass
        if missing:
            result.status = "diverged"
            result.reason = "the element did not change as it did when recorded: " + "; ".join(
                f"{_describe(fact, recorded_before)} became {_describe(fact, recorded_after)} then,"
                f" now stays {_describe(fact, now)}" for fact in missing)
            return
        for fact in _comparable(now):
            if fact not in expected and _fact(now, fact) != _fact(before, fact):
                result.notes.append(f"the element's {fact} changed, which it did not when recorded: "
                                    f"{_describe(fact, before)} became {_describe(fact, now)}")

    def _state_of_only(self, locator: Any) -> Generator[Step, Any, dict[str, Any] | None]:
        """The state of the one element ``locator`` finds now, without waiting; None if not one."""
        try:
            if (yield lambda: locator.count()) != 1:
                return None
            return (yield lambda: locator.evaluate(_ELEMENT_STATE, timeout=FIND_NOW_MS))
        except Exception:
            return None

    def expect(self, call: RecordedCall, action: dict[str, Any], result: StepResult) -> Flow:
        """Check a recorded assertion again: an expectation not met is a divergence."""
        from playwright.async_api import expect as async_expect
        from playwright.sync_api import expect as sync_expect

        expect: Any = async_expect if isinstance(self.page, AsyncPage) else sync_expect
        subject: Any = self.page
        if call.receiver == "expect element":
            raw = action["metadata"].get("playwright_selector")
            if call.method in ("to_have_count", "to_be_hidden") or call.method.startswith("not_"):
                # The element may rightly be absent, or many: asked of the recorded selector as is.
                if not raw:
                    raise _Unreplayable("the selector of this assertion was not recorded")
                subject = self.page.locator(raw)
                result.reason = "asked of the recorded selector"
            else:
                subject, _ = yield from self.find(action, result)
                if subject is None:
                    return
        keywords = dict(call.keywords)
        if call.method == "to_have_url" and isinstance(keywords.get("url_or_reg_exp"), str):
            keywords["url_or_reg_exp"] = self.rebase(keywords["url_or_reg_exp"])
        try:
            yield lambda: getattr(expect(subject), call.method)(**keywords, timeout=self.options.find_timeout_ms)
        except AssertionError as failed:
            result.status = "diverged"
            result.reason = "expectation not met: " + error_text(failed).splitlines()[0]
            return
        result.reason = (f"{result.reason}; " if result.reason else "") + f"{call.method} holds"

    # -- checking -----------------------------------------------------------------------

    def check(self, action: dict[str, Any], result: StepResult) -> Flow:
        """Compare where the page is with where the recording was, then (if asked) how it looks.

        URLs are compared normalized (see :func:`compare_urls`): a difference in form, query or
        fragment only is a note; another path, host or scheme is a divergence.
        """
        reasons = [result.reason] if result.reason else []
        expected = result.expected_url
        actual = self.page.url
        if expected and expected != "about:blank":
            # The URL may change a moment after the action (a navigation, a router): wait
            # for the recorded one; a URL on the same path but otherwise different settles.
            deadline = time.monotonic() + URL_TIMEOUT_MS / 1000
            same_path_since: float | None = None
            while True:
                actual = yield lambda: self.page.url
                verdict, difference = compare_urls(expected, actual)
                if verdict == "same":
                    break
                if verdict == "noted":
                    same_path_since = same_path_since or time.monotonic()
                    if time.monotonic() - same_path_since >= URL_SETTLE_SECONDS:
                        break
                else:
                    same_path_since = None
                if time.monotonic() >= deadline:
                    break
                yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)
            if verdict == "same":
                reasons.append(f"at the recorded URL, {difference}" if difference else "at the recorded URL")
                if difference:
                    result.notes.append(f"URL is {actual}, recorded {expected}: {difference}")
            elif verdict == "noted":
                reasons.append(f"URL differs only in its {difference}")
                result.notes.append(f"URL is {actual}, recorded {expected}: only the {difference} differs")
            else:
                result.status = "diverged"
                reasons = [f"URL is {actual}, recorded {expected}: the {difference} changed"]
        result.actual_url = actual
        if result.notes and result.status == "ok":
            result.status = "noted"
        result.reason = "; ".join(reasons) or None
        if self.options.compare_screenshots and action["screenshot_key"] and result.status in ("ok", "recovered", "noted"):
            now, problem = yield from self.screenshot()
            if now is None:
                result.notes.append(f"no screenshot to compare: {problem}")
                if result.status == "ok":
                    result.status = "noted"
                return
            pixels = screenshot_difference(self.recording.store.blob(action["screenshot_key"]), now)
            result.screenshot_difference = round(pixels, 4)
            if pixels > self.options.screenshot_threshold:
                result.status = "diverged"
                result.reason = f"screenshot differs by {pixels:.1%} (threshold {self.options.screenshot_threshold:.0%})"

    def screenshot(self) -> Generator[Step, Any, tuple[bytes | None, str | None]]:
        """The page as it is now (PNG), or None and why not, within SCREENSHOT_TIMEOUT_S.
        Chromium refuses a capture while a page just navigated to has painted nothing yet
        ("Unable to capture screenshot"): asked again until then. A page stuck in a script
        is not waited for past the timeout: the step is noted, the replay goes on."""
        deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
        while True:
            left_ms = max(1, round((deadline - time.monotonic()) * 1000))
            try:
                return (yield lambda: self.page.screenshot(type="png", timeout=left_ms)), None
            except Exception as error:
                if time.monotonic() >= deadline or self.page.is_closed():
                    return None, error_text(error).splitlines()[0]
            yield lambda: self.page.wait_for_timeout(POLL_SECONDS * 1000)

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
        now, _ = yield from self.screenshot()
        if now is None:
            return
        replayed = stem.with_name(stem.name + "-replayed.png")
        replayed.write_bytes(now)
        result.screenshots.append(str(replayed))


# What may be the element a recorded locator no longer finds: what people act on.
CANDIDATES_CSS = ("a, button, input, select, textarea, summary, option, label, [role], [onclick], [tabindex], "
                  "[contenteditable], img, h1, h2, h3, h4, h5, h6, li, td, th")
REMATCH_AFTER_SECONDS = 0.5
_ELEMENTS_INFO = f"(elements) => ({inpage.world_source()}).elementsInfo(elements)"
# The one element a locator found and every candidate of its document (CANDIDATES_CSS).
_FOUND_AND_CANDIDATES = f"""(found, css) => {{
  if (found.length !== 1) return null;
  const world = ({inpage.world_source()});
  const candidates = Array.from(found[0].ownerDocument.querySelectorAll(css));
  return {{found: world.elementsInfo(found)[0], candidates: world.elementsInfo(candidates)}};
}}"""


# What an action may change about its element (world.js elementState), compared on replay.
OUTCOME_FACTS = ("gone", "text", "checked", "expanded", "disabled")
FIND_NOW_MS = 500  # an element just counted: evaluating it waits only if it went meanwhile
OUTCOME_TIMEOUT_S = 2.0  # a change the recording saw may come a moment later (a fetch answered)
_ELEMENT_STATE = f"(el) => el.isConnected ? ({inpage.world_source()}).elementState(el) : {{gone: true}}"
# The page's text as diff.visible_text reads a DOM snapshot's (world.js pageText).
_PAGE_TEXT = f"() => ({inpage.world_source()}).pageText(document)"


def shows_text(text: str, shown: list[str]) -> bool:
    """Whether the page's text shows what came to show when recorded: each run of words, or
    at least each of their words (a run may span two items of a list now in another order)."""
    if all(run in text for run in shown):
        return True
    words = set(text.split())
    return all(word in words for run in shown for word in run.split())


def _comparable(after: dict[str, Any]) -> tuple[str, ...]:
    """The facts to compare with a state after an action: of an element removed, only that."""
    return ("gone",) if after.get("gone") else OUTCOME_FACTS


def _fact(state: dict[str, Any], fact: str) -> Any:
    value = state.get(fact)
    return bool(value) if fact in ("gone", "disabled") else value


def _describe(fact: str, state: dict[str, Any]) -> str:
    value = _fact(state, fact)
    if fact == "gone":
        return "removed" if value else "present"
    if fact == "text":
        return repr(value or "")
    return f"{'' if value else 'not '}{fact}" if value is not None else f"{fact} unset"


# A recorded selector that finds an element by its place among others (nth-child, nth-of-type,
# Playwright's nth=): over a changed list it finds another item.
_POSITIONAL = re.compile(r":nth-(?:child|of-type|last-child|last-of-type)\(|>> nth=|:nth\(")


def _elements(count: int) -> str:
    return "no element" if count == 0 else f"{count} elements"


class _Unreplayable(Exception):
    """A step that cannot be replayed, for a reason the report states."""


def trouble_of(event: dict[str, Any]) -> tuple[str, str] | None:
    """A recorded event as what replay compares: ("error", "Name: message") for a page error,
    ("request", "METHOD /path?query") for a request that failed or got a status of 400 or more."""
    if event["kind"] in ("error", "crash"):
        return ("error", f"{event.get('name', 'Crash')}: {event.get('message', '')}")
    if event["kind"] == "request" and (event.get("failure") or (event.get("status") or 0) >= 400):
        path = _path(event.get("url") or "")
        return None if path.endswith("/favicon.ico") else ("request", f"{event.get('method')} {path}")
    return None


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def screenshot_difference(recorded: bytes, now: bytes) -> float:
    """Mean absolute difference of two screenshots in grey, 0 (same) to 1, at the recorded size."""
    from PIL import Image, ImageChops, ImageStat

    before = Image.open(io.BytesIO(recorded)).convert("L")
    after = Image.open(io.BytesIO(now)).convert("L").resize(before.size)
    return float(ImageStat.Stat(ImageChops.difference(before, after)).mean[0]) / 255

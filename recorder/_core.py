"""What happens around a recorded Playwright call, written once for both APIs.

A *flow* is a generator that yields *steps*: zero-argument callables that call
Playwright (``lambda: page.evaluate(...)``). On the sync API a step returns its value; on
the async API it returns an awaitable. :func:`run_sync` and :func:`run_async` are the only
code that knows the difference, so the recording logic (sequence, timing, target
inspection, redaction, DOM snapshot, screenshot assignment) exists exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import inspect
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from . import events, inpage, tiles
from .errors import RecordingClosed
from .events import NetworkLog
from .resources import DEFAULT_MAX_BYTES, ResourceKeeper
from .scrub import SecretScrubber
from .selectors import readable_selector
from .source import read_source
from .store import MAX_VALUE_CHARS, Recording
from .urls import origin, url_passwords

Step = Callable[[], Any]
Flow = Generator[Step, Any, Any]

# Longer values are kept as their first characters, flagged in metadata, so a test that
# fills a 10 MB textarea is recorded instead of broken.
STORED_VALUE_CHARS = 10_000
SCREENCAST_QUALITY = 60


def run_sync(flow: Flow) -> Any:
    """Drive a flow with the sync Playwright API: each step returns its result."""
    sent: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(sent)
        except StopIteration as done:
            return done.value
        sent, error = None, None
        try:
            sent = step()
        except BaseException as exc:  # handed back into the flow, which decides
            error = exc


async def run_async(flow: Flow) -> Any:
    """Drive a flow with the async Playwright API: each step returns an awaitable."""
    sent: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(sent)
        except StopIteration as done:
            return done.value
        sent, error = None, None
        try:
            sent = step()
            if inspect.isawaitable(sent):
                sent = await sent
        except BaseException as exc:
            error = exc


# -- what the browser is asked -----------------------------------------------------------
# recorder's page scripts live in recorder/inpage/ (world.js, engine.js) and run in an
# isolated world of recorder's own, never in the page's main world.

FRAME_MARK = " >> internal:control=enter-frame >> "  # how Playwright writes frame_locator(...)


# -- which calls are actions --------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """How one Playwright method is recorded, replayed, exported and titled: the one table
    instrumentation (``ACTIONS``), replay (``replay.perform``) and the exports
    (``exchange._call``, ``export_trace``) all read.

    ``type`` is the action vocabulary of the seed model (navigate, click, type ...);
    ``value_from`` names the arguments whose value is the action's value; ``target`` is
    how the element is found: ``"self"`` (a Locator), an argument name holding a
    selector, ``"focus"`` (keyboard: the focused element) or None. ``argument`` is how the
    recorded value becomes the call's arguments again (see :func:`recorded_call`); ``title``
    is the title Playwright's trace viewer gives the call (its ``methodMetainfo``), the
    recorded value in place of ``{value}``. ``key_at_a_time``: the call types its text a
    key at a time, so the page sees the value grow (a secret's beginnings, SecretScrubber).
    """

    type: str
    value_from: tuple[str, ...] = ()
    target: str | None = None
    navigation: bool = False
    argument: str = "none"  # none | text | url | numbers | json | files | drop
    title: str = ""
    key_at_a_time: bool = False

    @property
    def waits_until_stable(self) -> bool:
        """Whether Playwright waits for the element to stop moving before acting (pointer actions
        on an element, unless called with force=True)."""
        return self.type in ("click", "hover", "drag") and self.target not in (None, "focus")


_SELECTOR_ACTIONS = {
    "click": ActionSpec("click", target="selector", title="Click"),
    "dblclick": ActionSpec("click", target="selector", title="Double click"),
    "tap": ActionSpec("click", target="selector", title="Tap"),
    "check": ActionSpec("click", target="selector", title="Check"),
    "uncheck": ActionSpec("click", target="selector", title="Uncheck"),
    "set_checked": ActionSpec("click", ("checked",), target="selector", argument="json", title="Set checked"),
    "fill": ActionSpec("type", ("value",), target="selector", argument="text", title='Fill "{value}"'),
    "type": ActionSpec("type", ("text",), target="selector", argument="text", title='Type "{value}"',
                       key_at_a_time=True),
    "press": ActionSpec("key_press", ("key",), target="selector", argument="text", title='Press "{value}"'),
    "select_option": ActionSpec("select", ("value", "index", "label"), target="selector", argument="json",
                                title="Select option"),
    "hover": ActionSpec("hover", target="selector", title="Hover"),
    "focus": ActionSpec("focus", target="selector", title="Focus"),
    "set_input_files": ActionSpec("file_upload", ("files",), target="selector", argument="files",
                                  title="Set input files"),
    "drag_and_drop": ActionSpec("drag", ("target",), target="source", argument="drop", title="Drag and drop"),
    "goto": ActionSpec("navigate", ("url",), navigation=True, argument="url", title="Navigate"),
}
_LOCATOR_ACTIONS = {
    **{name: replace(spec, target="self")
       for name, spec in _SELECTOR_ACTIONS.items() if name not in ("drag_and_drop", "goto")},
    "press_sequentially": ActionSpec("type", ("text",), target="self", argument="text", title='Type "{value}"',
                                     key_at_a_time=True),
    "clear": ActionSpec("type", target="self", title='Fill ""'),
    "drag_to": ActionSpec("drag", ("target",), target="self", argument="drop", title="Drag and drop"),
}

# Class name (the same in playwright.sync_api and playwright.async_api) -> method -> spec.
ACTIONS: dict[str, dict[str, ActionSpec]] = {
    "Page": {
        **_SELECTOR_ACTIONS,
        "reload": ActionSpec("navigate", navigation=True, title="Reload"),
        "go_back": ActionSpec("navigate", navigation=True, title="Go back"),
        "go_forward": ActionSpec("navigate", navigation=True, title="Go forward"),
        # A document made of the HTML given (the value: replay and the pytest export make it again).
        "set_content": ActionSpec("navigate", ("html",), navigation=True, argument="text", title="Set content"),
    },
    "Frame": _SELECTOR_ACTIONS,
    "Locator": _LOCATOR_ACTIONS,
    "Keyboard": {
        "press": ActionSpec("key_press", ("key",), target="focus", argument="text", title='Press "{value}"'),
        "down": ActionSpec("key_press", ("key",), target="focus", argument="text", title='Key down "{value}"'),
        "up": ActionSpec("key_press", ("key",), target="focus", argument="text", title='Key up "{value}"'),
        "type": ActionSpec("type", ("text",), target="focus", argument="text", title='Type "{value}"',
                           key_at_a_time=True),
        "insert_text": ActionSpec("type", ("text",), target="focus", argument="text", title='Insert "{value}"'),
    },
    "Mouse": {
        "click": ActionSpec("click", ("x", "y"), argument="numbers", title="Click"),
        "dblclick": ActionSpec("click", ("x", "y"), argument="numbers", title="Double click"),
        "down": ActionSpec("click", title="Mouse down"),
        "up": ActionSpec("click", title="Mouse up"),
        "move": ActionSpec("hover", ("x", "y"), argument="numbers", title="Mouse move"),
        "wheel": ActionSpec("scroll", ("delta_x", "delta_y"), argument="numbers", title="Mouse wheel"),
    },
}


# expect(locator).to_have_text(...), expect(page).to_have_url(...): recorded as "wait" actions,
# the assertion's name and arguments as the value (JSON), re-checked by replay.
_LOCATOR_ASSERTIONS = ("to_have_text", "to_contain_text", "to_have_value", "to_have_values", "to_have_count",
                       "to_be_visible", "to_be_hidden", "to_be_checked", "to_be_enabled", "to_be_disabled",
                       "to_be_editable", "to_be_empty", "to_be_focused", "to_be_attached", "to_have_attribute",
                       "to_have_class", "to_contain_class", "to_have_id", "to_have_accessible_name",
                       "to_have_role", "to_have_css")
_PAGE_ASSERTIONS = ("to_have_url", "to_have_title")


def camel_case(name: str) -> str:
    """A Python API name as Playwright's JavaScript spells it: ``select_option`` -> ``selectOption``."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _expect_title(method: str) -> str:
    """Playwright's: 'Expect "toHaveText"' (its expression, in its own case)."""
    return 'Expect "' + camel_case(method.replace("not_to", "not.to")) + '"'


def _assertions(names: tuple[str, ...], target: str | None) -> dict[str, ActionSpec]:
    return {method: ActionSpec("wait", ("expected",), target=target, argument="expected", title=_expect_title(method))
            for name in names for method in (name, "not_" + name)}


ACTIONS["LocatorAssertions"] = _assertions(_LOCATOR_ASSERTIONS, "assertion")
# A page's URL or title: no element, no secret to withhold (URLs are scrubbed as always).
ACTIONS["PageAssertions"] = _assertions(_PAGE_ASSERTIONS, None)
ASSERTION_CLASSES = ("LocatorAssertions", "PageAssertions")


def _json_argument(value: Any) -> Any:
    """An assertion's argument as JSON: a pattern as {"regex", "flags"}, a sequence as a list."""
    if isinstance(value, re.Pattern):
        return {"regex": value.pattern, "flags": value.flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL)}
    if isinstance(value, (list, tuple)):
        return [_json_argument(item) for item in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def assertion_arguments(value: str | None) -> dict[str, Any]:
    """The keyword arguments a recorded assertion was called with (patterns compiled again)."""
    def back(item: Any) -> Any:
        if isinstance(item, dict) and set(item) == {"regex", "flags"}:
            return re.compile(str(item["regex"]), int(item["flags"]))
        if isinstance(item, list):
            return [back(i) for i in item]
        return item

    arguments = json.loads(value or "{}")
    if not isinstance(arguments, dict):
        raise ValueError(f"the recorded value of an assertion is not its arguments: {value!r}")
    return {str(name): back(item) for name, item in arguments.items()}


def action_spec(api: str) -> ActionSpec | None:
    """The spec of a recorded ``metadata.api`` ("Locator.fill"), or None (an event, say)."""
    owner, _, method = api.partition(".")
    return ACTIONS.get(owner, {}).get(method)


@dataclass(frozen=True)
class Secret:
    """In a recorded call, where the value of a redacted field goes (replay asks for it,
    an export reads it from the environment)."""

    name: str


@dataclass(frozen=True)
class DropTarget:
    """In a recorded drag, the element it was dropped on, by its selector."""

    selector: str


@dataclass(frozen=True)
class FileNames:
    """In a recorded upload, the names of the files (their contents are never recorded)."""

    names: list[str]


@dataclass(frozen=True)
class RecordedCall:
    """The Playwright call a recorded action stands for: on ``receiver`` ("page", "keyboard",
    "mouse", or "element": what the recorded selector finds), ``method(*arguments)``."""

    receiver: str
    method: str
    arguments: tuple[Any, ...]
    keywords: dict[str, Any] = field(default_factory=dict)


def secret_name(target: dict[str, Any] | None) -> str:
    """The name a redacted field's value is asked for by: its name, else id, else 'password'."""
    target = target or {}
    return str(target.get("name_attribute") or target.get("id") or "password")


def recorded_call(action: dict[str, Any]) -> RecordedCall | None:
    """The call a recorded action (a timeline row) stands for, by the spec of its API; None for
    what is no call (an event). Raises ``ValueError`` when the recorded value cannot be the
    call's argument, or the drop target of a drag was not recorded."""
    metadata = action["metadata"]
    api = str(metadata.get("api", ""))
    spec = action_spec(api)
    if spec is None:
        return None
    owner, _, method = api.partition(".")
    receiver = {"Keyboard": "keyboard", "Mouse": "mouse", "LocatorAssertions": "expect element",
                "PageAssertions": "expect page"}.get(owner) or ("page" if spec.navigation else "element")
    if spec.argument == "expected":
        if metadata.get("redacted"):
            raise ValueError("what this assertion expected was a secret, not recorded")
        return RecordedCall(receiver, method, (), assertion_arguments(action["value"]))
    value = action["value"]
    if metadata.get("value_truncated"):
        length = metadata.get("value_length")
        of = f"{length:,}" if isinstance(length, int) else "more"
        raise ValueError(f"its value was cut to {MAX_VALUE_CHARS:,} characters of {of} when recorded: "
                         f"what was given is not known")
    secret = Secret(secret_name(metadata.get("target"))) if metadata.get("redacted") else None
    arguments: tuple[Any, ...] = ()
    if spec.argument == "text":
        arguments = (secret or value or "",)
    elif spec.argument == "url":
        arguments = (value or action["url"] or "",)
    elif spec.argument == "numbers":
        arguments = tuple(float(n) for n in (value or "").split(",") if n.strip())
    elif spec.argument == "json" and metadata.get("value_argument") in spec.value_from[1:]:
        # select_option(index=2): "2" is a position, not a value or label to look for
        given = metadata["value_argument"]
        return RecordedCall(receiver, method, (), {given: secret or recorded_argument(method, value, given)})
    elif spec.argument == "json":
        arguments = (secret or recorded_argument(method, value),)
    elif spec.argument == "files":
        arguments = (FileNames(recorded_argument(method, value)),)
    elif spec.argument == "drop":
        drop = metadata.get("drag_target_selector")
        if not drop:
            raise ValueError("the drop target of this drag was not recorded")
        method, arguments = "drag_to", (DropTarget(str(drop)),)
    return RecordedCall(receiver, method, arguments)


def action_title(action: dict[str, Any]) -> str:
    """The title Playwright's trace viewer would give the recorded call ('Fill "buy milk"', 'Click')."""
    spec = action_spec(str(action["metadata"].get("api", "")))
    if spec is None:
        return action["type"].replace("_", " ").capitalize()
    value = "[redacted]" if action["metadata"].get("redacted") else (action["value"] or "")
    return spec.title.replace("{value}", value)


def assertion_subject(assertions: Any) -> Any:
    """The Locator or Page an ``expect(...)`` object asserts on, as the same API's object."""
    impl = assertions._impl_obj
    subject = getattr(impl, "_actual_page", None) or impl._actual_locator
    if type(assertions).__module__.startswith("playwright.async_api"):
        from playwright._impl._async_base import mapping
    else:
        from playwright._impl._sync_base import mapping
    return mapping.from_impl(subject)


def locator_selector(locator: Any) -> str | None:
    """The Playwright selector string behind a Locator object."""
    impl = getattr(locator, "_impl_obj", None)
    selector = getattr(impl, "_selector", None)
    if isinstance(selector, str):
        return selector
    text = repr(locator)  # "<Locator frame=... selector='...'>" where the private field moved
    marker = "selector='"
    return text[text.index(marker) + len(marker):-2] if marker in text else None


def _value_text(value: Any) -> str | None:
    """The value of an action argument as stored text (file contents never are)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, dict) and "name" in value:  # a FilePayload: its name, not its buffer
        return str(value["name"])
    if hasattr(value, "__fspath__"):
        return _file_name(str(value))
    if isinstance(value, (list, tuple)):
        return json.dumps([_value_text(item) for item in value], ensure_ascii=False)
    selector = locator_selector(value)
    if selector:
        return readable_selector(selector)
    return str(value)


def action_value(spec: ActionSpec, arguments: dict[str, Any]) -> str | None:
    """The action's value: the first of ``spec.value_from`` that was given; x,y for mouse."""
    if spec.argument == "expected":  # every argument but the timeout, by name
        return json.dumps({name: _json_argument(value) for name, value in arguments.items()
                           if name not in ("self", "timeout") and value is not None}, ensure_ascii=False)
    given = [(name, arguments[name]) for name in spec.value_from if arguments.get(name) is not None]
    if not given:
        return None
    if spec.type in ("click", "hover", "scroll") and len(given) > 1:
        return ",".join(_value_text(value) or "" for _, value in given)
    first = given[0][1]
    if spec.type == "file_upload":
        # One file or many, always a JSON list of the names the page saw: a path given
        # as a string keeps only its last part, like a Path does (where files live on the
        # test machine is nobody's business).
        files = list(first) if isinstance(first, (list, tuple)) else [first]
        return _value_text([_file_name(f) if isinstance(f, str) else f for f in files])
    return _value_text(first)


def value_argument(spec: ActionSpec, arguments: dict[str, Any]) -> str | None:
    """The argument a JSON value came from when not the first of ``spec.value_from``
    (``select_option(index=2)``: "index"), for replay to give it back as that."""
    if spec.argument != "json":
        return None
    given = next((name for name in spec.value_from if arguments.get(name) is not None), None)
    return given if given not in (None, spec.value_from[0]) else None


def _file_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def recorded_argument(method: str, value: str | None, given: str | None = None) -> Any:
    """The argument a recorded ``set_checked``/``select_option``/``set_input_files`` value stands for.

    The inverse of ``action_value`` for the calls replay and export re-make (``given``: the
    argument the value came from, see ``value_argument``); raises ``ValueError`` naming the
    method when the stored value cannot be one.
    """
    try:
        if method == "set_checked":
            checked = json.loads(value or "true")
            if isinstance(checked, bool):
                return checked
        elif method == "select_option" and given == "index":  # "2", or ["0", "2"] (action_value's text)
            index = json.loads(value or "")
            if isinstance(index, list) and all(str(i).isdigit() for i in index):
                return [int(i) for i in index]
            if str(index).isdigit():
                return int(index)
        elif method == "select_option":
            return json.loads(value) if value and value.startswith("[") else value
        elif method == "set_input_files":
            names = json.loads(value or "[]")
            if isinstance(names, list) and all(isinstance(name, str) for name in names):
                return names
    except ValueError:
        pass
    raise ValueError(f"the recorded value of {method} is not one it could have been given: {value!r}")


def fit_value(value: str | None) -> tuple[str | None, dict[str, Any]]:
    """Keep a value storable: long values cut, lone surrogates replaced."""
    if value is None:
        return None, {}
    extra: dict[str, Any] = {}
    if len(value) > STORED_VALUE_CHARS:
        extra = {"value_truncated": True, "value_length": len(value)}
        value = value[:STORED_VALUE_CHARS]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    assert len(value) <= MAX_VALUE_CHARS
    return value, extra


class ScreenshotTimeline:
    """Which screencast frame shows the page as each action left it. Pure logic.

    Frames come from the browser's screencast stamped with the time they were painted,
    so the page never waits for a capture. They reach us late (under the sync API only
    while some Playwright call runs); the stamps put each one where it belongs.

    An action's screenshot is the first frame painted after the action ended, unless
    that frame was painted so late that the next action could already show in it (its
    ``guard`` after the next action's Playwright call began); then, and when nothing
    was painted after the action, it is the last frame painted before the action ended.
    A pick of that second kind that predates the action's own call is flagged
    ``before_action``: the browser painted the action's result, but too late to tell it
    from the next action's, so the screenshot does not show it.
    """

    SLACK = 0.010  # seconds: no action changes the page faster than its own round trip
    # Locator clicks, hovers and drags (unless force=True) first wait until their element
    # kept its box from one animation frame to the next (Playwright's "stable" check), so
    # nothing they do can be painted sooner than one frame (60 Hz) after their call began.
    STABLE_CHECK = 0.017

    def __init__(self) -> None:
        self._open: dict[int, _Waiting] = {}  # sequence -> action waiting for its frame, in order
        self._latest: Any = None
        self._latest_at = float("-inf")

    def action_started(self, sequence: int) -> None:
        self._open[sequence] = _Waiting(fallback=self._latest, fallback_at=self._latest_at)

    def call_started(self, sequence: int, at: float, guard: float = SLACK) -> None:
        """The action's own Playwright call begins: earlier actions' frames must predate it."""
        waiting = self._open.get(sequence)
        if waiting is not None:
            waiting.call_at = at
        for other, waiting in self._open.items():
            if other != sequence and waiting.ended is not None and waiting.limit is None:
                waiting.limit = at + guard

    def action_ended(self, sequence: int, at: float) -> None:
        waiting = self._open.get(sequence)
        if waiting is not None:
            waiting.ended = at
            waiting.fallback, waiting.fallback_at = self._latest, self._latest_at

    def frame(self, painted_at: float, frame: Any) -> list[Pick]:
        """Take a frame; return the picks now known for good."""
        done = []
        for sequence, waiting in list(self._open.items()):
            if waiting.ended is None or painted_at < waiting.ended:
                waiting.fallback, waiting.fallback_at = frame, painted_at  # painted during the action (or before it ended)
            elif waiting.limit is None or painted_at <= waiting.limit:
                done.append(Pick(sequence, frame))
                del self._open[sequence]
            else:
                if waiting.fallback is not None:
                    done.append(Pick(sequence, waiting.fallback, before_action=waiting.fallback_at < waiting.call_at))
                del self._open[sequence]
        self._latest, self._latest_at = frame, painted_at
        return done

    def finish(self, final_frame: Any = None) -> list[Pick]:
        """Recording stops: the last waiting action gets ``final_frame``, the others their fallback.

        Nothing was painted after those others: they changed nothing that shows.
        """
        done = []
        last = next(reversed(self._open), None)
        for sequence, waiting in self._open.items():
            frame = final_frame if (sequence == last and final_frame is not None) else waiting.fallback
            if frame is not None:
                done.append(Pick(sequence, frame))
        self._open.clear()
        return done


class Pick(NamedTuple):
    """The frame picked as an action's screenshot."""

    sequence: int
    frame: Any
    before_action: bool = False  # the frame predates the action (see ScreenshotTimeline)


@dataclass
class _Waiting:
    fallback: Any = None  # the last frame painted before the action ended
    fallback_at: float = float("-inf")
    call_at: float = float("inf")
    ended: float | None = None
    limit: float | None = None  # frames painted later may show the next action


@dataclass
class Options:
    screenshots: bool = True
    dom: bool = True
    redact: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()  # elements painted over in screenshots, emptied in DOM snapshots
    # Screenshots are scaled down to fit this box (as Playwright's trace does); None keeps
    # the viewport's full size, which roughly doubles what each one costs to store.
    screenshot_size: tuple[int, int] | None = (800, 800)
    # Stylesheets, images and fonts bigger than this are not kept (metadata.resources_skipped).
    resource_max_bytes: int | None = DEFAULT_MAX_BYTES
    events: bool = True  # console messages, page errors, crashes and requests (recorder/events.py)
    bodies: int | None = None  # characters of text request/response bodies kept; None: no bodies
    redact_headers: tuple[str, ...] = ()  # header values never stored, besides credentials

    @property
    def unread(self) -> list[str]:
        """Selectors of the elements whose values are never read: redacted and masked ones
        (a masked element's value is as private as its pixels)."""
        return [*self.redact, *self.mask]

    def screenshot_scale(self, viewport: dict[str, int] | None) -> float:
        if not viewport or not self.screenshot_size:
            return 1.0
        width, height = self.screenshot_size
        return min(1.0, width / viewport["width"], height / viewport["height"])


FINAL_SCREENSHOT_TIMEOUT_MS = 3000
# recorder's own questions to the page (its DOM, the target element) wait at most this
# long: a page stuck in its own script may cost the recording a capture, but must never
# hang the test or agent being recorded. Once the page has failed to answer, the next
# actions only ask briefly whether it is back.
CAPTURE_TIMEOUT_MS = 5000
RETRY_TIMEOUT_MS = 250
# Asking whether the page answers costs a round trip (~2-4 ms an action); a page that
# answered this recently is taken to answer still. The risk it leaves is a page that gets
# stuck within this window and before the next look lands: a window of the same order as
# the round trip itself.
RECENTLY_ANSWERED_S = 0.020
# Past this, an action's DOM snapshot is skipped (and the action says why): a page that
# big would cost seconds per action to serialize, move and compress.
MAX_DOM_CHARS = 25_000_000
# How many bytes of one response Chromium's network log keeps for recorder to ask for.
MAX_RESOURCE_BUFFER = 10_000_000
# Frames of other origins snapshotted per action, at most (an ad-laden page has dozens).
MAX_FOREIGN_FRAMES = 10
# A sync caller this long away from Playwright since the last action (an agent thinking)
# may have left events waiting to be handed over: take_reported_events, which gives
# Playwright's loop turns of HANDOVER_TURN_S while they keep coming, for HANDOVER_MAX_S at most.
QUIET_S = 0.05
HANDOVER_TURN_S = 0.005
HANDOVER_MAX_S = 0.25
# Actions whose document a page capture remembers (PageCapture.action_documents): a frame
# comes within a few actions of its own.
MAX_ACTIONS_REMEMBERED = 64
# Frames waiting for the boxes to paint over them, at most (a page that never answers): the
# oldest is then stored as at the page's end (PageCapture._store_pick, final).
MAX_PICKS_WAITING = 4 * MAX_ACTIONS_REMEMBERED


class Session:
    """One ``record()`` block: the recording and every page captured into it."""

    def __init__(self, recording: Recording, options: Options, is_async: bool) -> None:
        self.recording = recording
        self.options = options
        self.is_async = is_async
        self.scrub = SecretScrubber()
        self.last_action_ended = 0.0  # time.monotonic() as the last recorded call returned
        self.reports_heard = 0  # what the pages reported (console, errors, requests) so far
        self.agent_paused = False  # during a takeover: Playwright calls are a person's stand-ins, not recorded
        self.taken_over_by: Any = None  # the takeover under way (recorder/takeover.py), from its start to its end
        self.captures: list[PageCapture] = []
        self._keepers: dict[int, ResourceKeeper] = {}
        # The files whose code made recorded calls, by recording: kept when the block ends,
        # when every secret the recording will see has been typed (a test file may hold one).
        self.source_files: dict[int, tuple[Recording, set[str]]] = {}
        # Whether recorder's selector engine (inpage/engine.js) is registered with the
        # page's Playwright: then elements are looked at in Playwright's utility world.
        self.target_engine = False
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def resources(self) -> ResourceKeeper:
        """What the recording now being recorded into keeps of the pages' resources (a
        takeover records into a user session of its own)."""
        return self.keeper(self.recording)

    def keeper(self, recording: Recording) -> ResourceKeeper:
        """What ``recording`` keeps of the pages' resources."""
        keeper = self._keepers.get(recording.id)
        if keeper is None:
            keeper = self._keepers[recording.id] = ResourceKeeper(
                recording, self.scrub, self.options.resource_max_bytes)
        return keeper

    def sends_ahead(self, target: Any) -> bool:
        """Whether ``ahead`` works with this Playwright object (see there)."""
        if self.is_async:
            return True
        impl = getattr(target, "_impl_obj", None)
        if impl is None or not callable(getattr(target, "_sync", None)):
            return False
        return not hasattr(impl, "send") or _send_takes_timeout(type(impl).send)

    def ahead(self, target: Any, method: str, /, **arguments: Any) -> Step:
        """A step that starts the Playwright call ``target.method(**arguments)`` and returns the
        future of its result as soon as the request has gone out, so that what follows
        overlaps with the browser's work on it. ``answer`` is the step that waits for it.

        The sync API's methods wait for the answer; their async implementations, run on the
        event loop the sync API drives, do not (Playwright's private seam, checked by
        ``sends_ahead``).
        """
        if self.is_async:
            return lambda: _sent(getattr(target, method)(**arguments))
        return lambda: target._sync(_sent(getattr(target._impl_obj, method)(**arguments)))

    def send_ahead(self, cdp: Any, method: str, params: dict[str, Any], timeout_ms: int) -> Step:
        """``ahead`` for a CDP command."""
        return self.ahead(cdp, "send", method=method, params=params, timeout=timeout_ms)

    def answer(self, target: Any, future: asyncio.Future[Any]) -> Step:
        """A step that waits for a future ``ahead`` returned and returns its result."""
        if self.is_async:
            return lambda: future
        return lambda: target._sync(future)

    def send_and_forget(self, cdp: Any, method: str, params: dict[str, Any]) -> None:
        """Send a CDP command nobody waits for (an acknowledgement), from an event handler."""
        if self.is_async:
            self.spawn(cdp.send(method, params))
        elif self.sends_ahead(cdp):
            self.spawn(cdp._impl_obj.send(method=method, params=params, timeout=None))
        else:
            cdp.send(method, params)

    def run(self, flow: Flow) -> None:
        """Run a flow from an event handler: at once (sync API) or as a task (async API)."""
        if self.is_async:
            task = asyncio.ensure_future(run_async(flow))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            run_sync(flow)

    def take_reported_events(self, page: Any) -> None:
        """The sync API hands Playwright's events over only during a call: what the page
        reported while the code being recorded did something else (an agent thinking, a
        sleep) would reach the handlers during the next action's. A few milliseconds of
        Playwright's loop (no round trip to the browser) hand them over first, again while
        they keep coming: a page error queued behind a hundred console messages comes only
        once those are handled, and it has no time stamp to be placed by. The async API has
        them already."""
        turn = getattr(page, "_sync", None)
        if self.is_async or not callable(turn) or time.monotonic() - self.last_action_ended < QUIET_S:
            return  # (back to back, as a test's actions are: nothing to hand over, and no time to spend)
        until = time.monotonic() + HANDOVER_MAX_S
        try:
            while True:
                heard = self.reports_heard
                turn(asyncio.sleep(HANDOVER_TURN_S))  # (a timer: the loop polls the pipe; bare turns did not do)
                if self.reports_heard == heard or time.monotonic() >= until:
                    return
        except Exception:
            pass  # the page or Playwright closed: the call itself will say so

    def spawn(self, awaitable: Any) -> None:
        """Let an awaitable from an event handler run without anyone waiting on it."""
        if inspect.isawaitable(awaitable):
            async def quietly() -> None:
                try:
                    await awaitable
                except Exception:
                    pass  # an ack to a page that has closed

            task = asyncio.ensure_future(quietly())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def attach(self, page: Any, opener: PageCapture | None = None) -> Flow:
        capture = PageCapture(self, page, index=len(self.captures))
        self.captures.append(capture)
        yield from capture.attach(opener)

    def detach_all(self) -> Flow:
        if self._tasks and self.captures:  # (flows of event handlers, acknowledgements)
            yield self.answer(self.captures[0].page, asyncio.gather(*self._tasks, return_exceptions=True))
        for capture in self.captures:
            yield from capture.detach()
        self.keep_sources()

    def note_source(self, source: dict[str, Any] | None) -> None:
        """Remember that the recording's code lives in ``source["file"]`` (kept at the end)."""
        if source:
            recording = self.recording
            self.source_files.setdefault(recording.id, (recording, set()))[1].add(source["file"])

    def keep_sources(self) -> None:
        """Store the text of every file recorded calls were made from, secrets cut out."""
        for recording, files in self.source_files.values():
            for path in sorted(files):
                text = read_source(path)
                if text is not None:
                    try:
                        recording.record_source(path, self.scrub(text) or text)
                    except Exception:
                        pass  # the store closed under us: the actions are what matter
        self.source_files.clear()


@functools.cache
def _send_takes_timeout(send: Any) -> bool:
    # A CDP session's send takes a timeout only from Playwright 1.47 on (the oldest recorder
    # supports: with an older one installed anyway, recorder degrades rather than breaks, but
    # secrets are not painted over the screencast). Asked once per method: send_and_forget
    # asks it for every screencast frame.
    return "timeout" in inspect.signature(send).parameters


async def _sent(request: Awaitable[Any]) -> asyncio.Future[Any]:
    future = asyncio.ensure_future(request)
    future.add_done_callback(_retrieved)
    await asyncio.sleep(0)  # one turn of the event loop: the request starts and is written out
    return future


def _retrieved(future: asyncio.Future[Any]) -> None:
    # Read where it is used; this only keeps asyncio from logging an error never retrieved
    # of a capture given up (its page closed before anyone read the answer).
    if not future.cancelled():
        future.exception()


@dataclass
class _AskedSnapshot:
    """A DOM snapshot asked for as an action ended, its answer not used yet."""

    answer: asyncio.Future[Any]
    id: str
    since: str | None  # the snapshot it was asked as a patch of
    recording: Recording
    sequence: int
    target: _LastTarget | None  # the element the action acted on: the answer tells its state after
    world: int  # recorder's world it was asked in
    document: int  # PageCapture.documents when it was asked: the document its boxes belong to


@dataclass
class _LastTarget:
    """The element the last action acted on, to read again as the next one begins
    (``metadata.target_later``): a change the page made after the action returned."""

    recording: Recording
    sequence: int
    css_path: str
    navigations: int  # the page's main-frame navigations when the action began: the same document
    # The document it was seen in (world.js documentMark): a state read in another, even one
    # the navigation count has not heard of yet, says nothing of it (world.js stateAt).
    document: float | None
    after: dict[str, Any] | None = None  # its state as the action returned (target_after), once known
    # The action's snapshot, which tells the state after, asked ahead and not answered yet;
    # a later state read meanwhile waits for it (``later``), to be kept only if it differs.
    awaiting_after: bool = False
    later: dict[str, Any] | None = None

    @property
    def place(self) -> dict[str, Any]:
        """Where world.js stateAt reads its state."""
        return {"path": self.css_path, "document": self.document}


ATTRIBUTE = "_recorder_capture"
STUCK = "the page did not answer (stuck in a script?)"


class PageCapture:
    """The recording state of one page: its screencast, its in-flight actions."""

    def __init__(self, session: Session, page: Any, index: int) -> None:
        self.session = session
        self.page = page
        self.index = index
        self.timeline = ScreenshotTimeline()
        self.cdp: Any = None
        self.screencasting = False
        # A crashed renderer is not "closed", but a CDP command sent to it never answers.
        self.crashed = False
        self.stuck = False  # the page did not answer recorder's last question in time
        self.answered_at = float("-inf")  # time.monotonic() of its last answer
        # Questions go through CDP with a timeout; not on other browsers, nor with a
        # Playwright older than CDPSession.send(timeout=): there page.evaluate, unbounded.
        self.bounded = False
        self.in_flight: list[tuple[int, ActionSpec]] = []
        # Where masked elements and secrets (password and redacted fields, typed secrets
        # shown as text) were when last looked (CSS px): painted over on the frames that
        # follow, until the next look.
        self.mask_boxes: list[dict[str, float]] = []
        # The document those boxes were looked for in (``documents`` then), and the boxes of
        # the document before it: a frame taken around a change of document may show either.
        self.boxes_document = 0
        self.earlier_boxes: list[dict[str, float]] = []
        self.documents = 0  # main-frame documents committed
        # The document each recent action began on, by (recording id, sequence).
        self.action_documents: dict[tuple[int, int], int] = {}
        # Actions (recording id, sequence) whose call has returned and whose boxes are still
        # to be looked for: a frame of theirs handed over meanwhile (Playwright hands events
        # over during any call, the lookups after the action's own included) waits for them.
        self.boxes_to_come: set[tuple[int, int]] = set()
        # Actions of pending_dom whose snapshot is being taken (_snapshot_pending).
        self.retaking: list[tuple[Recording, int]] = []
        # Actions whose flow was cancelled (asyncio) before their own look at the page: their
        # frames (which may show what the call did) wait for the next look at it, any action's.
        self.next_look_awaited: set[tuple[int, int]] = set()
        # Frames picked and not stored yet, (recording, pick): each waits until the boxes to
        # paint over it are known (_boxes_known), in order.
        self.waiting_picks: list[tuple[Recording, Pick]] = []
        self.frame_id: str | None = None  # the main frame's CDP id
        self.world: int | None = None  # recorder's isolated world in the current document
        # Events recorded without a DOM snapshot (a navigation has no content yet when it
        # starts; a dialog blocks the page), and actions whose snapshot asked ahead was lost:
        # snapshotted when the page is next looked at.
        self.pending_dom: list[tuple[Recording, int]] = []
        self.dialog_open = False  # a JavaScript dialog blocks the page: it is asked nothing then
        self.navigations = 0  # main-frame navigations seen
        self.last_target: _LastTarget | None = None
        # URL -> (CDP request id, media type, HTTP status) of the stylesheets, images and fonts loaded
        self.responses: dict[str, tuple[str, str | None, int]] = {}
        # Frames of other origins: the CDP session that reaches each and its CDP frame id.
        self.frame_sessions: dict[Any, tuple[Any, str]] = {}
        self.frames_tagged = 0
        self.stuck_frames: set[Any] = set()  # frames of other sites that did not answer: not asked again
        # The last DOM snapshot: (its id in the page's world, its HTML, the part of it up to <html ...>)
        self.last_snapshot: tuple[str, str, str] | None = None
        options = session.options
        self.network = NetworkLog(options.redact_headers, options.bodies)
        self.identity_told: dict[int, dict[str, str]] = {}  # recording id -> request_identity it was given
        self._listeners: list[tuple[Any, str, Callable[..., Any]]] = []  # (emitter, event, handler)
        # Snapshots asked for as actions ended and not used yet, in the order asked: each may
        # be a patch of the one before, so they are used in that order (apply_snapshots).
        self.asked: deque[_AskedSnapshot] = deque()
        self.snapshots_asked = 0
        self.sends_ahead = False  # whether the page's CDP session can send without waiting
        # Events (and navigations) held back while the answer to whether an action's value is
        # secret is awaited (action), each stored by calling it.
        self.holding_events = 0
        self.held_events: list[Callable[[], None]] = []
        self.keys_so_far = ""  # character keys pressed one at a time into a secret field
        # The URLs a popup requested since recorder began to watch its network, until what it
        # loaded before is stored (_store_loaded_before); None otherwise.
        self.urls_requested: set[str] | None = None

    @property
    def recording(self) -> Recording:
        return self.session.recording

    # -- attaching ---------------------------------------------------------------------

    def attach(self, opener: PageCapture | None) -> Flow:
        page = self.page
        if self.recording.is_user_session and not self.recording.user_metadata.get("user_agent"):
            user_agent = yield from self._quietly_flow(self.ask_expression("navigator.userAgent"))
            self.recording.update_metadata({"user_agent": user_agent})
        for owner in (page, page.keyboard, page.mouse):
            owner.__dict__[ATTRIBUTE] = self
        self._listen(page, "framenavigated", self._on_frame_navigated)
        self._listen(page, "popup", self._on_popup)
        self._listen(page, "crash", self._on_crash)
        if self.session.options.events:
            self._listen(page, "console", self._on_console, report=True)
            self._listen(page, "pageerror", self._on_page_error, report=True)
        if opener is not None:
            self.record_event_action("navigate", url=page.url,
                                     metadata={"popup": True, "opener_page_index": opener.index})
        try:
            self.cdp = yield lambda: page.context.new_cdp_session(page)
        except Exception:
            self.cdp = None  # not Chromium: screenshots are taken after each action instead
        if self.cdp is None:
            return
        self.bounded = _send_takes_timeout(type(self.cdp).send)
        self.sends_ahead = self.bounded and self.session.sends_ahead(self.cdp)
        if opener is not None and self.session.options.events:
            self.urls_requested = set()  # (see _store_loaded_before)
        self._listen(self.cdp, "Page.javascriptDialogOpening", self._on_dialog)
        self._listen(self.cdp, "Page.javascriptDialogClosed", self._on_dialog_closed)
        self._listen(self.cdp, "Page.frameNavigated", self._on_document_committed)
        if self.session.options.events:
            self._listen(self.cdp, "Network.requestWillBeSent", self._on_request, report=True)
            self._listen(self.cdp, "Network.dataReceived", self.network.received)
            self._listen(self.cdp, "Network.loadingFinished", self._on_loading_finished, report=True)
            self._listen(self.cdp, "Network.loadingFailed", self._on_loading_failed, report=True)
        if self.session.options.dom or self.session.options.events:
            # The bodies of fonts (and images) are handed out only from the network log.
            self._listen(self.cdp, "Network.responseReceived", self._on_response)
            try:
                yield lambda: self.cdp.send("Network.enable", {"maxResourceBufferSize": MAX_RESOURCE_BUFFER})
            except Exception:
                pass
        if self.urls_requested is not None:
            yield from self._store_loaded_before()
        if self.session.options.screenshots:
            self._listen(self.cdp, "Page.screencastFrame", self._on_screencast_frame)
            viewport = page.viewport_size
            params: dict[str, Any] = {"format": "jpeg", "quality": SCREENCAST_QUALITY, "everyNthFrame": 1}
            if viewport:
                scale = self.session.options.screenshot_scale(viewport)
                params.update(maxWidth=round(viewport["width"] * scale), maxHeight=round(viewport["height"] * scale))
            try:
                yield lambda: self.cdp.send("Page.enable")
                yield lambda: self.cdp.send("Page.startScreencast", params)
                self.screencasting = True
            except Exception:
                pass  # the page closed as it opened (a popup that shuts itself): nothing to watch

    def detach(self) -> Flow:
        page = self.page
        for owner in (page, page.keyboard, page.mouse):
            owner.__dict__.pop(ATTRIBUTE, None)
        final = None
        yield from self.apply_snapshots(wait=True)
        responsive = not self.stuck or (yield from self.answers())
        last = self._on_this_document(self.last_target)
        if last is not None and responsive and self.is_alive():
            # What the last action's element became by the end (no next action will look).
            yield from self._read_target_later(last, self.session.options.unread)
        if self.pending_dom and responsive and not self.dialog_open:
            yield from self._quietly_flow(self._snapshot_pending(self.session.options.unread))
        if responsive:
            yield from self._cover_latest_frames()
        if self.session.resources.unloaded and responsive and self.is_alive():
            # Fonts and late images still loading when the last snapshot looked: by now they may have.
            yield from self._quietly_flow(self.session.resources.keep(self, []))
        if self.screencasting and self.is_alive() and responsive:
            # The last action's picture. Playwright's screenshot, unlike a raw CDP call, has a
            # timeout: a page stuck in a script must not hang the end of the recording.
            try:
                shot = yield lambda: page.screenshot(type="jpeg", quality=SCREENCAST_QUALITY, scale="css",
                                                     timeout=FINAL_SCREENSHOT_TIMEOUT_MS)
                viewport = page.viewport_size
                scale = self.session.options.screenshot_scale(viewport) if viewport else 1.0
                final = base64.b64encode(tiles.scaled(shot, scale)).decode()
            except Exception:
                responsive = False  # timed out or went away: ask it nothing more
            if responsive:
                try:
                    yield lambda: self.cdp.send("Page.stopScreencast")
                except Exception:
                    pass
        # Only now: what the page did until here (a crash, a late console message) is the
        # recording's, and a frame now would be acknowledged to a page maybe closed.
        for emitter, event, handler in self._listeners:
            emitter.remove_listener(event, handler)
        self._listeners.clear()
        for request in self.network.unfinished():
            self._store_request(request)
        self._attach_screenshots(self.timeline.finish(final))
        self._store_ready_picks(final=True)
        if self.cdp is not None and responsive and self.is_alive():
            try:
                yield lambda: self.cdp.detach()
            except Exception:
                pass
        # The sessions of frames of other sites are left to end with their page: detaching
        # one whose frame got stuck in a script would wait on it, and Playwright's detach
        # takes no timeout.
        self.frame_sessions.clear()

    # -- actions -----------------------------------------------------------------------

    def action(self, spec: ActionSpec, api: str, owner: Any, call: Step, arguments: dict[str, Any],
               source: dict[str, Any] | None = None) -> Flow:
        """The flow around one recorded Playwright call; returns (or raises) what it did.

        ``source`` is where the caller's code made the call (recorder/source.py).
        """
        # What the page reported since the last call, for the action before this one.
        self.session.take_reported_events(self.page)
        try:
            sequence, started_ms = self.recording.reserve_sequence()
        except RecordingClosed:
            return (yield call)
        redact = self.session.options.unread
        if spec.navigation and isinstance(arguments.get("url"), str):
            # (http://user:password@host/: a password as secret as one typed into a field)
            self.session.scrub.add(url_passwords(arguments["url"]))
        yield from self.apply_snapshots(wait=False)
        if self.pending_dom and not self.dialog_open:
            yield from self._quietly_flow(self._snapshot_pending(redact))
        self.timeline.action_started(sequence)
        self.action_documents[(self.recording.id, sequence)] = self.documents
        if len(self.action_documents) > MAX_ACTIONS_REMEMBERED:
            del self.action_documents[next(iter(self.action_documents))]
        # An assertion changes nothing: the element the last action acted on stays the one
        # to read again as the next action begins (click, expect "Loaded", click).
        observing = spec.type == "wait"
        navigations, previous = self.navigations, self._on_this_document(self.last_target)
        if not observing:
            self.last_target = None
        selector, locator = self._target(spec, owner, arguments)
        raw_selector = locator_selector(locator) if locator is not None else None
        frame = owner if type(owner).__name__ == "Frame" else self._frame_of(locator)
        in_child_frame = frame is not None and frame.parent_frame is not None
        # Looking at an element cannot be bounded in time: first make sure the frames it
        # may be in answer at all.
        in_frames = in_child_frame or bool(raw_selector and FRAME_MARK.strip(" >") in raw_selector)
        answering = locator is None or (yield from self.answers(every_frame=in_frames))
        if raw_selector and in_child_frame and answering:
            # page.frame("x").fill("#field"), page.frame("x").locator("#field").fill(...): the
            # selector is inside that frame; prefix the frames' own, so the action reads (and
            # replays) as frame_locator(...).locator(...).
            path = yield from self._quietly_flow(self._frame_path(frame))
            if path:
                raw_selector = FRAME_MARK.join([*path, raw_selector])
                selector = readable_selector(raw_selector)
        info = lookup = None
        if spec.target == "focus" and spec.value_from:
            info = yield from self._quietly_flow(self.ask("activeInfo", redact))
        elif locator is not None and answering:
            # Asked ahead: the browser answers while Playwright begins the call, which looks
            # at the element first itself (the question reaches the page before the call does).
            lookup = yield from self._quietly_flow(self._target_info_ahead(
                locator, redact, previous.place if previous is not None and not in_frames else None))
            if lookup is None:
                info = yield from self._quietly_flow(self.target_info(locator, redact))
        if previous is not None and lookup is None and not in_frames and not self.stuck and self.is_alive():
            # No look at an element of this action's carries the question (a goto, a key, a
            # page assertion): the last element is read again on its own (not of a page that
            # did not answer the last question: it would cost each action a retry).
            yield from self._read_target_later(previous, redact)
        raw_value = action_value(spec, arguments)
        if info and info.get("secret"):
            # Before the call: the page may echo the value while it runs (a URL, a label).
            self._remember_secret(spec, raw_value)
        # Until the element's answer says whether the value is a secret, what the page
        # reports is held back, to be stored with that value cut out.
        holding = bool(spec.value_from) and (lookup is not None or info is None or bool(info.get("secret")))
        read_after_call = withheld = False
        if holding:
            self.holding_events += 1
        try:
            self.in_flight.append((sequence, spec))
            self.timeline.call_started(
                sequence, time.time(),
                ScreenshotTimeline.STABLE_CHECK if spec.waits_until_stable and not arguments.get("force")
                else ScreenshotTimeline.SLACK)
            began = time.perf_counter()
            error: BaseException | None = None
            result = None
            try:
                result = yield call
            except Exception as exc:
                error = exc
            except BaseException:
                # Cancelled or interrupted: no time for captures, only a row saying so.
                self._record_cancelled(spec, api, sequence, started_ms, int((time.perf_counter() - began) * 1000))
                raise
            finally:
                self.in_flight.remove((sequence, spec))
                self.timeline.action_ended(sequence, time.time())
            self.boxes_to_come.add((self.recording.id, sequence))
            duration_ms = int((time.perf_counter() - began) * 1000)
            if error is None:
                # Playwright's call had the page answer (it ran its scripts, or its input was
                # handled): as good as recorder's own question for answers().
                self.answered_at = time.monotonic()
            if lookup is not None:
                info = yield from self._quietly_flow(self._target_info_answer(lookup, locator, redact))
                if info and "previous_target" in info:
                    self._note_target_later(previous, info.pop("previous_target"))
            if info is None and locator is not None and self.is_alive() \
                    and (yield from self.answers(every_frame=in_frames)):
                # The element appeared only during the action (a document still arriving
                # when it was asked for, which Playwright's call waited out): look at it now,
                # before what the page reported meanwhile is stored and before the snapshot,
                # which then says its state after (replay needs both).
                info = yield from self._quietly_flow(self.target_info(locator, redact))
                read_after_call = info is not None
            withheld = _withholds(spec, info, raw_value)
            if withheld:
                # Secret, or never seen (fail closed): cut out of what the page reported too.
                self._remember_secret(spec, raw_value)
            self._keys_pressed(spec, raw_value, withheld)
            grew = withheld and isinstance(raw_value, str) and (spec.key_at_a_time or bool(self.keys_so_far))
            self.session.scrub.typed((self.keys_so_far or raw_value) if grew else None)
        except BaseException:
            self._cancelled_before_its_look((self.recording.id, sequence))
            raise
        finally:
            if holding:
                self.holding_events -= 1
                self._release_events()

        try:
            dom = dom_skipped = None
            snapshot_later = False
            mask = list(self.session.options.mask)
            # The element's state after the action comes with the snapshot (replay compares it).
            target_place = None
            if info and info.get("css_path") and not info.get("in_shadow_root") and not in_frames:
                # (a document's mark read in the page's own world may be the page's: not trusted)
                target_place = {"path": info["css_path"], "document": info.get("document") if self.bounded else None}
            outcome: dict[str, Any] = {}
            acted_on = None
            if target_place and not observing:
                acted_on = self.last_target = _LastTarget(self.recording, sequence, target_place["path"], navigations,
                                                          target_place["document"])
            if self.session.options.dom and self.is_alive() \
                    and not (yield from self._ask_snapshot_ahead(redact, sequence, target_place, acted_on)):
                dom, dom_skipped, outcome = yield from self.snapshot_dom(redact, mask, sequence, target_place)
                self._saw_target_after(acted_on, outcome)
                snapshot_later = dom is None and not dom_skipped
            elif (not self.session.options.dom and self.session.options.screenshots and self.cdp is not None
                  and self.bounded and self.is_alive()):
                # No snapshot says where secrets show (password and redacted fields too): ask.
                # (Only in recorder's own world: typed secrets are never handed to the page's.)
                yield from self._look_for_cover(redact, mask)
        except BaseException:
            self._cancelled_before_its_look((self.recording.id, sequence))
            raise
        self.boxes_to_come.discard((self.recording.id, sequence))
        self._store_ready_picks()  # (its frames, if its boxes are known now: a snapshot in line, a look)
        screenshot = None
        if self.cdp is None and self.session.options.screenshots and self.is_alive():
            screenshot = yield from self._quietly(lambda: self.page.screenshot(
                type="jpeg", quality=SCREENCAST_QUALITY,
                mask=[self.page.locator(m) for m in [*mask, *redact, "input[type=password]"]]))

        metadata: dict[str, Any] = {"api": api, "page_index": self.index}
        if source:
            metadata["source"] = source
            self.session.note_source(source)
        if dom_skipped:
            metadata["dom_snapshot_skipped"] = dom_skipped
        metadata.update(outcome)
        value, extra = fit_value(raw_value)
        metadata.update(extra)
        given = value_argument(spec, arguments)
        if given is not None:
            metadata["value_argument"] = given
        if _withholds(spec, info, raw_value):
            value, metadata["redacted"] = None, True
            if info is None:
                metadata["redacted_because"] = "the target element could not be inspected"
            metadata.pop("value_truncated", None)
            metadata.pop("value_length", None)
        if info:
            metadata["bounding_box"] = info.pop("bounding_box")
            info.pop("secret", None)
            info.pop("document", None)
            metadata["target"] = {k: v for k, v in info.items() if v is not None}
            if read_after_call:
                metadata["target_read_after_call"] = True  # its state before is not known
        elif spec.target == "focus" and spec.value_from:
            metadata["target"] = None
        if raw_selector:
            metadata["playwright_selector"] = raw_selector
        if spec.type == "drag":  # so replay can find where it was dropped
            drop = arguments.get("target")
            metadata["drag_target_selector"] = drop if isinstance(drop, str) else locator_selector(drop)
        if error is not None:
            metadata["error_type"] = type(error).__name__
        scrub = self.session.scrub
        try:
            self.recording.record_action(
                spec.type, selector=scrub(selector), value=scrub(value), screenshot=screenshot, dom_snapshot=scrub(dom),
                metadata=scrub.everywhere(metadata), url=scrub(self._url()), status="error" if error else "ok",
                error=scrub(error_text(error)) if error else None, duration_ms=duration_ms,
                sequence=sequence, timestamp_ms=started_ms,
            )
        except Exception:
            pass  # recording must never break the page it watches
        if snapshot_later:  # (none to be had now: a document just committed, say)
            self.pending_dom.append((self.recording, sequence))
        self.session.last_action_ended = time.monotonic()
        if error is not None:
            raise error
        return result

    def _on_this_document(self, target: _LastTarget | None) -> _LastTarget | None:
        """``target`` if the page still shows its document (and records into its recording);
        after a navigation its CSS path may find another element."""
        if target is None or target.navigations != self.navigations or target.recording is not self.recording:
            return None
        return target

    def _saw_target_after(self, target: _LastTarget | None, outcome: dict[str, Any]) -> None:
        """The action's snapshot told (or failed to tell) the state of its element after it."""
        if target is None:
            return
        target.after, target.awaiting_after = outcome.get("target_after"), False
        if target.later is not None:
            later, target.later = target.later, None
            self._keep_target_later(target, later)

    def _note_target_later(self, previous: _LastTarget | None, later: dict[str, Any] | None) -> None:
        """What the last action's element had become as this action began (engine.js
        ``previous_target``), kept as ``target_later`` where it differs from ``target_after``."""
        if previous is None:
            return
        later = later if later is not None else {"gone": True}
        if previous.awaiting_after:
            previous.later = later  # compared once the state after is known (_saw_target_after)
        else:
            self._keep_target_later(previous, later)

    def _read_target_later(self, previous: _LastTarget, redact: list[str]) -> Flow:
        """Read the last action's element again where no lookup asks for it (``previous``
        of _target_info_ahead): before an action without an element, and as recording ends."""
        reply = yield from self._quietly_flow(self.ask("laterState", previous.place, redact))
        if isinstance(reply, dict) and "state" in reply:  # (None: not answered; {}: hidden)
            self._note_target_later(previous, reply["state"])

    def _keep_target_later(self, target: _LastTarget, later: dict[str, Any]) -> None:
        if later == target.after:
            return
        target.after = later  # (an assertion read it first: once is enough)
        try:
            target.recording.merge_action_metadata(target.sequence,
                                                   {"target_later": self.session.scrub.everywhere(later)})
        except Exception:
            pass  # recording must never break the page it watches

    def _remember_secret(self, spec: ActionSpec, raw_value: Any) -> None:
        """Cut this value out of everything recorded from now on (not a key's name)."""
        if spec.argument == "expected":  # an assertion's: each text it expected
            for value in json.loads(raw_value or "{}").values():
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        self.session.scrub.add(text)
        elif spec.value_from and spec.type not in ("click", "key_press"):
            self.session.scrub.add(raw_value)
            if spec.type in ("select", "file_upload") and raw_value and raw_value.startswith("["):
                try:  # each option, each file's name (_value_text wrote the list as JSON)
                    self.session.scrub.add(json.loads(raw_value))
                except ValueError:
                    pass  # one value that only starts like a list: added whole above

    def _keys_pressed(self, spec: ActionSpec, raw_value: Any, withheld: bool) -> None:
        """Character keys pressed one at a time into a secret field: what they typed so far
        is a secret (each key alone is too short to be one), and so is each step on the way
        (a snapshot answered late, a URL the page changed as they were pressed, may show it)."""
        if spec.type == "key_press" and withheld and isinstance(raw_value, str):
            self.keys_so_far += raw_value.rsplit("+", 1)[-1]
            self.session.scrub.add(self.keys_so_far)
        else:
            self.keys_so_far = ""

    def _record_cancelled(self, spec: ActionSpec, api: str, sequence: int, started_ms: int, duration_ms: int) -> None:
        try:
            self.recording.record_action(
                spec.type, metadata={"api": api, "page_index": self.index}, url=self.session.scrub(self._url()),
                status="error", error="cancelled before it finished", duration_ms=duration_ms,
                sequence=sequence, timestamp_ms=started_ms,
            )
        except Exception:
            pass

    def _frame_of(self, locator: Any) -> Any:
        """The page's Frame a Locator looks in (one made from a Frame: frame.locator(...)),
        or None. Playwright keeps it private: found by its implementation object."""
        frame = getattr(getattr(locator, "_impl_obj", None), "_frame", None)
        if frame is None:
            return None
        try:
            return next((f for f in self.page.frames if getattr(f, "_impl_obj", None) is frame), None)
        except Exception:
            return None

    def _frame_path(self, frame: Any) -> Generator[Step, Any, list[str]]:
        """CSS paths of the iframe elements from the main frame down to ``frame``."""
        path: list[str] = []
        while frame.parent_frame is not None:
            element = yield functools.partial(frame.frame_element)
            if self.session.target_engine:  # Playwright's utility world, as target_info
                found = yield functools.partial(element.query_selector, inpage.target_selector([]))
                data = yield functools.partial(found.get_attribute, "data")
                path.insert(0, json.loads(data)["css_path"])
            else:
                path.insert(0, (yield functools.partial(
                    element.evaluate, f"(el) => ({inpage.world_source()}).cssPath(el)")))
            frame = frame.parent_frame
        return path

    def _quietly(self, step: Step) -> Generator[Step, Any, Any]:
        """A capture step whose failure (page navigating, closed) only loses that capture."""
        return (yield from self._quietly_flow(_one_step(step)))

    def _quietly_flow(self, flow: Generator[Step, Any, Any]) -> Generator[Step, Any, Any]:
        """A capture flow whose failure only loses what it would have found."""
        try:
            return (yield from flow)
        except Exception:
            return None

    def _target(self, spec: ActionSpec, owner: Any, arguments: dict[str, Any]) -> tuple[str | None, Any]:
        """The readable selector of the action's element, and a Locator to inspect it."""
        if spec.target == "assertion":
            owner = assertion_subject(owner)
        if spec.target in ("self", "assertion"):
            raw = locator_selector(owner)
            return (readable_selector(raw) if raw else None), owner
        if spec.target in ("selector", "source"):
            raw = arguments.get(spec.target)
            if isinstance(raw, str):
                return readable_selector(raw), owner.locator(raw)
        return None, None

    def _url(self) -> str | None:
        try:
            return self.page.url
        except Exception:
            return None

    # -- events ------------------------------------------------------------------------

    def record_event_action(self, action_type: str, url: str | None = None, value: str | None = None,
                            metadata: dict[str, Any] | None = None, selector: str | None = None,
                            dom: str | None = None) -> None:
        """Record something that happened on the page rather than a call, as an action of its
        own (api ``event.<type>``): a navigation, a dialog, a person's input during a takeover
        (recorder/takeover.py), a handoff."""
        try:
            sequence, started_ms = self.recording.reserve_sequence()
        except RecordingClosed:
            return
        now = time.time()
        self.timeline.action_started(sequence)
        self.timeline.call_started(sequence, now)
        self.timeline.action_ended(sequence, now)
        scrub = self.session.scrub
        metadata = scrub.everywhere(metadata, reported=True)
        self.recording.record_action(
            action_type, selector=scrub(selector), value=scrub(value, reported=True), url=scrub(url, reported=True),
            dom_snapshot=scrub(dom),
            duration_ms=0, sequence=sequence, timestamp_ms=started_ms,
            metadata={"api": f"event.{action_type}", "page_index": self.index, **(metadata or {})},
        )
        if dom is None and self.session.options.dom:
            self.pending_dom.append((self.recording, sequence))

    def settle_screenshots(self) -> Flow:
        """Give every action still waiting for a frame the latest one (before the recording
        changes), painted over where the page shows secrets now; one of a page whose boxes are
        not known yet waits for them."""
        yield from self.apply_snapshots(wait=True)
        yield from self._cover_latest_frames()
        self._attach_screenshots(self.timeline.finish())

    def _cover_latest_frames(self) -> Flow:
        """Look for where to paint over the latest frames when no look at the page has said it
        for the page they show: a document committed since the last look, or no DOM snapshots
        (dom=False: looked for only as each action ends)."""
        if (self.screencasting and self.bounded and self.is_alive()
                and (self.boxes_document != self.documents or not self.session.options.dom)):
            yield from self._look_for_cover(self.session.options.unread, list(self.session.options.mask))

    def _on_frame_navigated(self, frame: Any) -> None:
        if frame.parent_frame is not None:
            return
        self.navigations += 1
        if any(spec.navigation for _, spec in self.in_flight):
            return  # the goto/reload/back/forward being recorded is this navigation
        cause = self.in_flight[-1][0] if self.in_flight else None
        # (its URL may hold the value being typed)
        self._unless_held(functools.partial(self.record_event_action, "navigate", url=frame.url,
                                            metadata={"caused_by": cause} if cause else {}))

    def _unless_held(self, record: Callable[[], None]) -> None:
        """Record now, or when what the page reports is no longer held back (see action)."""
        if self.holding_events:
            self.held_events.append(record)
        else:
            record()

    def _snapshot_pending(self, redact: list[str]) -> Flow:
        """Give the events waiting for one the DOM snapshot of the page as it is now."""
        pending, self.pending_dom = self.pending_dom, []
        if not (self.session.options.dom and self.is_alive()):
            return
        self.retaking.extend(pending)  # (their frames wait for this snapshot's boxes meanwhile)
        try:
            dom, skipped, _ = yield from self.snapshot_dom(redact, list(self.session.options.mask), pending[0][1])
        finally:
            for entry in pending:
                self.retaking.remove(entry)
        if dom is None:
            if skipped:
                for recording, sequence in pending:
                    try:
                        recording.note_dom_snapshot_skipped(sequence, skipped)
                    except Exception:
                        pass
            else:
                self.pending_dom[:0] = pending  # (the next look at the page tries again)
        else:
            dom = self.session.scrub(dom) or dom
            for recording, sequence in pending:
                try:
                    recording.attach_dom_snapshot(sequence, dom)
                except Exception:
                    pass
        # Their frames, painted over where this snapshot saw secrets.
        self._store_ready_picks()

    def snapshot_dom(self, redact: list[str], mask: list[str], sequence: int | None = None,
                     target: dict[str, Any] | None = None
                     ) -> Generator[Any, Any, tuple[str | None, str | None, dict[str, Any]]]:
        """The page's HTML as its DOM is now (values in, secrets and masks out), or why not,
        and what to add to the action's metadata of the element at ``target`` (_LastTarget.place)
        (``_outcome``).

        The resources it names that this recording has not kept yet are kept as well.
        """
        yield from self.apply_snapshots(wait=True)  # (a patch may build on the last of those)
        options = self._snapshot_options(redact, mask)
        framed = (yield from self._quietly_flow(self._foreign_frame_snapshots(options, sequence))) or {}
        snapshot_id, since = self._snapshot_ids()
        document = self.documents
        snapshot = yield from self._quietly_flow(self.ask("snapshot", {**options, "since": since, "id": snapshot_id,
                                                                       "target": target}))
        if self.stuck:
            return None, STUCK, {}
        if not snapshot:
            return None, None, {}
        html, skipped = yield from self._use_snapshot(snapshot, since, framed, self.recording, sequence, document)
        return html, skipped, _outcome(snapshot)

    def _cover_options(self, redact: list[str], mask: list[str]) -> dict[str, Any]:
        """What world.js is told of what a screenshot must not show (coverBoxes, snapshot).
        The typed secrets only where it runs in recorder's own world: never to the page's
        (other browsers: their screenshots are masked by Playwright anyway)."""
        secrets = self.session.scrub.values if self.bounded else []
        return {"redact": redact, "mask": mask, "secrets": secrets, "fragment": SecretScrubber.FRAGMENT}

    def _look_for_cover(self, redact: list[str], mask: list[str]) -> Flow:
        """Ask where the page shows what a screenshot must not (world.js coverBoxes), when no
        snapshot says it."""
        document = self.documents
        covered = yield from self._quietly_flow(self.ask("coverBoxes", self._cover_options(redact, mask)))
        if covered is not None:
            self._set_boxes(covered, document)

    def _snapshot_options(self, redact: list[str], mask: list[str]) -> dict[str, Any]:
        """What world.js's snapshot is asked with, on every page and frame alike."""
        return {**self._cover_options(redact, mask), "maxChars": MAX_DOM_CHARS}

    def _snapshot_ids(self) -> tuple[str, str | None]:
        """A name for the snapshot about to be asked for, and the one it may be a patch of: the
        last asked for, answered or not (world.js patches against the last it took)."""
        self.snapshots_asked += 1
        since = self.asked[-1].id if self.asked else (self.last_snapshot[0] if self.last_snapshot else None)
        return f"recorder-{self.snapshots_asked}", since

    def _use_snapshot(self, snapshot: dict[str, Any], since: str | None, framed: dict[str, str],
                      recording: Recording, sequence: int | None,
                      document: int) -> Generator[Any, Any, tuple[str | None, str | None]]:
        """The HTML of a snapshot world.js answered (made whole, if it sent a patch), or why
        there is none; (None, None) for a patch of a snapshot recorder does not have.
        ``document``: ``documents`` when it was asked for."""
        self._set_boxes(snapshot["masks"], document)
        if "patch" in snapshot:  # only what changed since the last one came
            if not self.last_snapshot or self.last_snapshot[0] != since:
                return None, None  # the answer it patches was lost (timed out, say)
            _, last_html, last_lead = self.last_snapshot
            snapshot["html"] = snapshot["lead"] + _apply_patch(last_html[len(last_lead):], snapshot["patch"])
        self.last_snapshot = (snapshot["id"], snapshot["html"], snapshot["lead"]) \
            if snapshot.get("html") is not None else None
        if snapshot.get("html") is None:
            return None, f"the page's HTML is {snapshot['length']:,} characters, over recorder's limit of {MAX_DOM_CHARS:,}"
        if not snapshot["html"]:
            return None, None  # a document just committed, with no element yet: taken again later
        if snapshot["urls"]:
            yield from self._quietly_flow(self.session.keeper(recording).keep(self, snapshot["urls"], sequence))
        html = snapshot["html"]
        for token, framed_html in framed.items():
            mark = f'data-recorder-frame-token="{token}"'
            html = html.replace(mark, f'{mark} srcdoc="{_escape_attribute(framed_html)}"', 1)
        return html, None

    def _ask_snapshot_ahead(self, redact: list[str], sequence: int, target: dict[str, Any] | None = None,
                            acted_on: _LastTarget | None = None) -> Generator[Step, Any, bool]:
        """Ask for the action's DOM snapshot without waiting for it; False where it must be
        taken now instead (snapshot_dom).

        The answer is used when it is back, at a later action at the latest
        (apply_snapshots): the page finishes rendering the action while the caller goes on,
        instead of recorder waiting for it. Not with masks (their boxes, from the snapshot,
        must be current for the next screenshots), nor with frames of other origins (each
        its own round trips), nor while the page is in trouble (stuck, a dialog, a document
        whose world recorder has not made yet).
        """
        if (not self.sends_ahead or self.stuck or self.dialog_open or self.world is None
                or self.session.options.mask or self._foreign_frames()):
            return False
        yield from self.apply_snapshots(wait=False)
        snapshot_id, since = self._snapshot_ids()
        options = {**self._snapshot_options(redact, []), "since": since, "id": snapshot_id, "target": target}
        params = {"expression": inpage.call("snapshot", options), "returnByValue": True, "contextId": self.world}
        try:
            answer = yield self.session.send_ahead(self.cdp, "Runtime.evaluate", params, CAPTURE_TIMEOUT_MS)
        except Exception:
            return False
        self.asked.append(_AskedSnapshot(answer, snapshot_id, since, self.recording, sequence, acted_on, self.world,
                                         self.documents))
        if acted_on is not None:
            acted_on.awaiting_after = True
        return True

    def apply_snapshots(self, wait: bool) -> Generator[Step, Any, None]:
        """Use the answers to the snapshots asked ahead, in the order asked: those back by now,
        or (``wait``) all of them.

        Each goes to its action, scrubbed of the secrets known by now. One that timed out
        says so in its action; one otherwise lost (the page changed document, say) is taken
        again the next time the page is looked at, as an event's is.
        """
        while self.asked:
            asked = self.asked[0]
            if not asked.answer.done():
                if not wait:
                    return
                try:
                    yield self.session.answer(self.cdp, asked.answer)
                except Exception:
                    pass  # read below
                if not asked.answer.done():  # the wait itself failed (Playwright's connection closed)
                    asked.answer.cancel()
                continue  # (another flow of the async API may have used it meanwhile)
            self.asked.popleft()
            html = skipped = None
            outcome: dict[str, Any] = {}
            try:
                if asked.answer.cancelled():
                    raise RuntimeError("cancelled")
                snapshot = _evaluated(asked.answer.result())
                if snapshot:
                    outcome = self.session.scrub.everywhere(_outcome(snapshot))
                    html, skipped = yield from self._use_snapshot(snapshot, asked.since, {}, asked.recording,
                                                                  asked.sequence, asked.document)
            except Exception as exc:
                if _is_timeout(exc):
                    self.stuck, skipped = True, STUCK
                elif "context" in str(exc).lower() and asked.world == self.world:
                    self.world = None  # the page changed document: its world went with it
            self._saw_target_after(asked.target, outcome)
            try:
                if html is not None:
                    asked.recording.attach_dom_snapshot(asked.sequence, self.session.scrub(html) or html, outcome)
                elif skipped:
                    asked.recording.note_dom_snapshot_skipped(asked.sequence, skipped, outcome)
                else:
                    self.pending_dom.append((asked.recording, asked.sequence))
            except Exception:
                pass  # recording must never break the page it watches
            # Its frame, painted over where the snapshot saw secrets (or, lost, once taken again).
            self._store_ready_picks()

    def _foreign_frame_snapshots(self, options: dict[str, Any],
                                 sequence: int | None) -> Generator[Step, Any, dict[str, str]]:
        """Snapshots of the documents of other origins the page frames, each taken in recorder's
        world of its own frame, by the token its iframe element gets in the page's world (the
        page's own snapshot, which cannot look into them, marks where they go)."""
        if not self.bounded:
            return {}
        foreign = self._foreign_frames()
        if not foreign:
            return {}
        if self.world is None:
            self.world = yield from self._new_world()
        tree = None
        documents: dict[str, str] = {}
        for index, frame in enumerate(foreign):
            located = self.frame_sessions.get(frame)
            if located is None:
                try:
                    session = yield lambda: self.page.context.new_cdp_session(frame)  # a frame of another site
                    root = yield lambda: session.send("Page.getFrameTree", timeout=CAPTURE_TIMEOUT_MS)
                    # (its resources are handed out only with its Page domain enabled)
                    yield lambda: session.send("Page.enable", timeout=CAPTURE_TIMEOUT_MS)
                    located = (session, root["frameTree"]["frame"]["id"])
                except Exception:  # same site, other origin: a frame of this page's own session
                    if tree is None:
                        tree = yield lambda: self.cdp.send("Page.getFrameTree", timeout=CAPTURE_TIMEOUT_MS)
                    children = tree["frameTree"].get("childFrames", [])
                    match = [c["frame"]["id"] for c in children
                             if (c["frame"].get("name") or None) == (frame.name or None) and c["frame"]["url"] == frame.url]
                    if not match:
                        continue
                    located = (self.cdp, match[0])
                self.frame_sessions[frame] = located
            session, frame_id = located
            self.frames_tagged += 1
            token = f"f{self.frames_tagged}"  # never reused: an element keeps a token it was given
            snapshot = None
            for attempt in range(2):
                try:
                    snapshot = yield from self._snapshot_foreign_frame(session, frame_id, token, options)
                    break
                except Exception as exc:
                    if attempt == 0 and "context" in str(exc).lower():
                        self.world = yield from self._new_world()  # the page changed document since
                        continue
                    # navigated to another site, say: found anew next time; or stuck in a script
                    # (its own process): not asked again, nor detached (that would wait on it)
                    self.frame_sessions.pop(frame, None)
                    if _is_timeout(exc):
                        self.stuck_frames.add(frame)
                    break
            if snapshot and snapshot.get("html"):
                documents[token] = snapshot["html"]
                if snapshot["urls"]:
                    yield from self._quietly_flow(self.session.resources.keep(self, snapshot["urls"], sequence, session))
        return documents

    def _foreign_frames(self) -> list[Any]:
        """The page's frames of other origins (those that answer), as its snapshot takes them."""
        main = self.page.main_frame
        return [frame for frame in self.page.frames[1:]
                if frame.parent_frame is main and origin(frame.url) != origin(main.url)
                and frame not in self.stuck_frames][:MAX_FOREIGN_FRAMES]

    def _snapshot_foreign_frame(self, session: Any, frame_id: str, token: str,
                                options: dict[str, Any]) -> Generator[Step, Any, Any]:
        """Tag the frame's element with ``token`` in recorder's world of the page, and snapshot
        the frame's document in recorder's world of the frame."""
        owner = yield lambda: self.cdp.send("DOM.getFrameOwner", {"frameId": frame_id}, timeout=CAPTURE_TIMEOUT_MS)
        node = yield lambda: self.cdp.send("DOM.resolveNode", {
            "backendNodeId": owner["backendNodeId"], "executionContextId": self.world,
            "objectGroup": "recorder-frames"}, timeout=CAPTURE_TIMEOUT_MS)
        yield lambda: self.cdp.send("Runtime.callFunctionOn", {
            "objectId": node["object"]["objectId"], "arguments": [{"value": token}],
            "functionDeclaration": f"function (token) {{ return globalThis.{inpage.WORLD_NAME}.tagFrame.call(this, token); }}",
        }, timeout=CAPTURE_TIMEOUT_MS)
        yield lambda: self.cdp.send("Runtime.releaseObjectGroup", {"objectGroup": "recorder-frames"},
                                    timeout=CAPTURE_TIMEOUT_MS)
        world = yield from self._new_world(session, frame_id)
        return (yield from self._ask(inpage.call("snapshot", {**options, "foreign": True}),
                                     CAPTURE_TIMEOUT_MS, world, session))

    def ask(self, function: str, *arguments: Any) -> Generator[Step, Any, Any]:
        """Call one of recorder's page functions (recorder/inpage/world.js) and return its value.

        On Chromium it runs in recorder's isolated world of the page's main frame, made once
        per document, through CDP with a timeout (``CAPTURE_TIMEOUT_MS``): a page stuck in a
        script costs a capture, never a hang. Elsewhere it runs through ``page.evaluate``.
        """
        if not self.bounded:
            return (yield lambda: self.page.evaluate(inpage.main_world_function(function), list(arguments)))
        return (yield from self.ask_expression(inpage.call(function, *arguments)))

    def ask_expression(self, expression: str) -> Generator[Step, Any, Any]:
        """Evaluate ``expression`` in recorder's isolated world (see ``ask``)."""
        if not self.bounded:
            return (yield lambda: self.page.evaluate(expression))
        if self.stuck:
            yield from self._ask("0", RETRY_TIMEOUT_MS)  # raises while it is still stuck
        for attempt in range(2):
            if self.world is None:
                self.world = yield from self._new_world()
            try:
                return (yield from self._ask(expression, CAPTURE_TIMEOUT_MS, self.world))
            except Exception as exc:
                if attempt or "context" not in str(exc).lower():
                    raise
                self.world = None  # the document changed since: its world went with it
        return None

    def evaluate_in_main_world(self, function: str, arg: Any = None) -> Generator[Step, Any, Any]:
        """Run ``function`` in the page's own world: only for what must live there (takeover's
        listeners report through a binding Playwright exposes in the main world)."""
        if not self.bounded:
            return (yield lambda: self.page.evaluate(function, arg))
        if self.stuck:
            yield from self._ask("0", RETRY_TIMEOUT_MS)
        return (yield from self._ask(f"({function})({json.dumps(arg)})", CAPTURE_TIMEOUT_MS))

    def _new_world(self, cdp: Any = None, frame_id: str | None = None) -> Generator[Step, Any, int]:
        """recorder's isolated world in a frame's current document (the main frame's unless
        told), library installed. Asking again for the same document gives the same world."""
        cdp = cdp or self.cdp
        if frame_id is None:
            if self.frame_id is None:
                tree = yield lambda: self.cdp.send("Page.getFrameTree", timeout=CAPTURE_TIMEOUT_MS)
                self.frame_id = tree["frameTree"]["frame"]["id"]
            frame_id = self.frame_id
        params = {"frameId": frame_id, "worldName": inpage.WORLD_NAME}
        try:
            reply = yield lambda: cdp.send("Page.createIsolatedWorld", params, timeout=CAPTURE_TIMEOUT_MS)
        except Exception as exc:
            if _is_timeout(exc) and cdp is self.cdp:  # (a frame of another site stuck is not the page)
                self.stuck = True
            raise
        world = int(reply["executionContextId"])
        yield from self._ask(inpage.install(), CAPTURE_TIMEOUT_MS, world, cdp)
        return world

    def target_info(self, locator: Any, redact: list[str]) -> Generator[Step, Any, dict[str, Any] | None]:
        """What world.js's elementInfo says of the first element ``locator`` finds now, or None.

        It runs in Playwright's utility world through recorder's selector engine (see
        inpage/engine.js); where the engine could not be registered, in the main world.
        """
        if self.session.target_engine:
            found = locator.locator(inpage.target_selector(redact))
            either = self._target_or_none(found)
            try:
                if either is not None:
                    data = yield lambda: either.get_attribute("data", timeout=CAPTURE_TIMEOUT_MS)
                else:
                    if not (yield lambda: found.count()):
                        return None
                    data = yield lambda: found.first.get_attribute("data", timeout=CAPTURE_TIMEOUT_MS)
                return json.loads(data) if data else None
            except Exception as exc:
                if not _lacks_engine(exc):
                    raise
        return (yield from self._target_info_in_main_world(locator, redact))

    def _target_info_ahead(self, locator: Any, redact: list[str],
                           previous: dict[str, Any] | None = None) -> Generator[Step, Any, asyncio.Future[Any] | None]:
        """Ask for target_info without waiting for the answer (read by _target_info_answer);
        None where it cannot be asked so. With ``previous`` (_LastTarget.place), the answer also
        says the state of that element now (``previous_target``, engine.js)."""
        if not self.session.target_engine or not self.session.sends_ahead(locator):
            return None
        either = self._target_or_none(locator.locator(inpage.target_selector(redact, previous)))
        if either is None:
            return None
        return (yield self.session.ahead(either, "get_attribute", name="data", timeout=CAPTURE_TIMEOUT_MS))

    def _target_info_answer(self, lookup: asyncio.Future[Any], locator: Any,
                            redact: list[str]) -> Generator[Step, Any, dict[str, Any] | None]:
        """What a target_info asked ahead answered."""
        try:
            data = yield self.session.answer(locator, lookup)
        except Exception as exc:
            if not _lacks_engine(exc):
                raise
            return (yield from self._target_info_in_main_world(locator, redact))
        return json.loads(data) if data else None

    def _target_or_none(self, found: Any) -> Any:
        """One Locator for `.first` of (what the engine says of the element, or, when the
        locator finds nothing, "null"): one round trip, where get_attribute alone would wait
        for an element. None for a Locator of a child Frame object ("must belong to the same
        frame")."""
        try:
            return found.or_(self.page.locator(inpage.NO_TARGET)).first
        except Exception:
            return None

    def _target_info_in_main_world(self, locator: Any, redact: list[str]) -> Generator[Step, Any, dict[str, Any] | None]:
        info = yield lambda: locator.evaluate_all(
            f"(elements, redact) => ({inpage.world_source()}).elementInfo(elements[0], redact)", redact)
        if info:
            # Which document, as the page's own world says: a page may replace `performance`
            # there (Playwright's page.clock does), so it says nothing (world.js stateAt).
            info["document"] = None
        return info

    def answers(self, every_frame: bool = False) -> Generator[Step, Any, bool]:
        """Whether the page answers at all: asked before a question Playwright cannot bound.

        ``every_frame`` asks its iframes too (a frame of another site runs in a process of
        its own, which can be stuck while the page answers).
        """
        if not self.stuck and not every_frame and time.monotonic() - self.answered_at < RECENTLY_ANSWERED_S:
            return True
        timeout = RETRY_TIMEOUT_MS if self.stuck else CAPTURE_TIMEOUT_MS
        if self.bounded:
            try:
                yield from self._ask("0", timeout)
            except Exception:
                if self.stuck:
                    return False  # otherwise navigating, say: the real question may yet be answered
        if every_frame:
            for frame in self.page.frames[1:]:
                try:
                    yield functools.partial(frame.wait_for_function, "() => true", timeout=timeout)
                except Exception as exc:
                    if _is_timeout(exc):
                        self.stuck = True
                        return False
        return True

    def _ask(self, expression: str, timeout_ms: int, world: int | None = None,
             cdp: Any = None) -> Generator[Step, Any, Any]:
        # awaitPromise stays off: none of recorder's functions is async (and in the main
        # world, a page that defines Object.prototype.then makes every object a thenable).
        params: dict[str, Any] = {"expression": expression, "returnByValue": True}
        if world is not None:
            params["contextId"] = world
        try:
            reply = yield lambda: (cdp or self.cdp).send("Runtime.evaluate", params, timeout=timeout_ms)
        except Exception as exc:
            if _is_timeout(exc) and (cdp is None or cdp is self.cdp):  # a frame of another site is not the page
                self.stuck = True
            raise
        if cdp is None or cdp is self.cdp:
            self.stuck, self.answered_at = False, time.monotonic()
        return _evaluated(reply)

    def is_alive(self) -> bool:
        """Whether the page can still be asked anything (it is neither closed nor crashed)."""
        return not self.crashed and not self.page.is_closed()

    def _listen(self, emitter: Any, event: str, handler: Callable[..., Any], report: bool = False) -> None:
        """``handler`` on ``emitter``'s ``event``, until detach; a ``report`` (console, an
        error, a request) counts in Session.reports_heard (take_reported_events)."""
        if report:
            def counted(*arguments: Any, handle: Callable[..., Any] = handler) -> Any:
                self.session.reports_heard += 1
                return handle(*arguments)

            handler = counted
        emitter.on(event, handler)
        self._listeners.append((emitter, event, handler))

    def _on_crash(self, page: Any) -> None:
        self.crashed = True
        self.recording.update_metadata({"crashed_page_index": self.index})
        if self.session.options.events:
            self._store_event("crash", {"message": "the page's renderer crashed"})

    def _store_event(self, kind: str, details: dict[str, Any], recording: Recording | None = None,
                     sequence: int | None = None, time_ms: int | None = None) -> None:
        """Record an event (recorder/events.py) with every secret typed so far cut out."""
        recording = recording or self.recording
        if self.holding_events:
            self.held_events.append(functools.partial(
                self._store_event, kind, details, recording,
                recording.last_sequence() if sequence is None else sequence,
                recording.elapsed_ms() if time_ms is None else time_ms))
            return
        try:
            scrub = self.session.scrub
            details = events.clipped(details, self.session.options.bodies, functools.partial(scrub, reported=True),
                                     scrub.longest_form)
            recording.record_event(kind, details,
                                   action_sequence=sequence, page_index=self.index, time_ms=time_ms)
        except Exception:
            pass  # the store has closed: recording must never break the page it watches

    def _release_events(self) -> None:
        """Store the events held back while an element's answer was awaited (see action)."""
        if not self.holding_events:
            held, self.held_events = self.held_events, []
            for store in held:
                store()

    def _on_console(self, message: Any) -> None:
        stamp = getattr(message, "timestamp", None)  # (ms since the epoch; Playwright 1.53+)
        sequence, time_ms = self.recording.when(stamp / 1000 if isinstance(stamp, (int, float)) else None)
        self._store_event("console", events.console_details(message.type, message.text, message.location),
                          sequence=sequence, time_ms=time_ms)

    def _on_page_error(self, error: Any) -> None:
        self._store_event("error", events.error_details(getattr(error, "name", None), getattr(error, "message", None),
                                                        getattr(error, "stack", None)))

    def _store_loaded_before(self) -> Flow:
        """Store what a popup loaded before recorder watched its network: Playwright hands a
        popup over once it has navigated, so its first load (its document, stylesheets,
        scripts) reached no listener of recorder's. The page's Resource Timing tells, but for
        the requests the network log has heard of since it began (``urls_requested``)."""
        loaded = yield from self._quietly_flow(self.ask("loadedSoFar"))
        heard, self.urls_requested = self.urls_requested or set(), None
        for entry in loaded or []:
            if entry.get("url") in heard:
                continue
            sequence, time_ms = self.recording.when(entry["start"] / 1000 if entry.get("start") else None)
            self._store_event("request", events.timed_request_details(entry), sequence=sequence, time_ms=time_ms)

    def _on_request(self, params: dict[str, Any]) -> None:
        if self.urls_requested is not None:
            self.urls_requested.add(str((params.get("request") or {}).get("url")))
        recording = self.recording
        sequence, time_ms = recording.when(params.get("wallTime"))
        self.network.sent(params, owner=recording, sequence=sequence, time_ms=time_ms)
        identity = self.network.identity
        # Each recording (a takeover's user session too) is told the identity headers once,
        # and again should a request bring one it did not know.
        if identity and self.identity_told.get(recording.id) != identity:
            self.identity_told[recording.id] = dict(identity)
            try:
                recording.update_metadata({"request_identity": dict(identity)})
            except Exception:
                pass

    def _on_loading_finished(self, params: dict[str, Any]) -> None:
        done = self.network.finished(params)
        if done is not None and done.wants_body and self.cdp is not None:
            self.session.run(self._store_with_body(done))
        elif done is not None:
            self._store_request(done)

    def _on_loading_failed(self, params: dict[str, Any]) -> None:
        done = self.network.failed(params)
        if done is not None:
            self._store_request(done)

    def _store_with_body(self, done: events.Finished) -> Flow:
        try:
            reply = yield lambda: self.cdp.send("Network.getResponseBody", {"requestId": done.request_id})
            self.network.add_body(done, reply)
        except Exception:
            pass  # evicted from Chromium's buffer, or the page went: the request without its body
        self._store_request(done)

    def _store_request(self, done: events.Finished) -> None:
        self._store_event("request", done.details, done.owner, done.sequence, done.time_ms)

    def _on_popup(self, popup: Any) -> None:
        self.session.run(self.session.attach(popup, opener=self))

    def _on_response(self, params: dict[str, Any]) -> None:
        response = params["response"]
        self.network.responded(params)
        if params.get("type") in ("Stylesheet", "Image", "Font", "Other"):
            self.responses[response["url"]] = (params["requestId"], response.get("mimeType"),
                                               int(response.get("status") or 0))

    def _on_document_committed(self, params: dict[str, Any]) -> None:
        if not params["frame"].get("parentId"):
            # recorder's world went with the document it was made in: a question sent to it
            # now (a snapshot asked ahead) would fail and be asked again only later.
            self.world = None
            self.documents += 1

    def _on_dialog_closed(self, params: dict[str, Any]) -> None:
        self.dialog_open = False

    def _on_dialog(self, params: dict[str, Any]) -> None:
        self.dialog_open = True
        # (its message may quote the value being typed)
        self._unless_held(functools.partial(
            self.record_event_action, "dialog", url=params.get("url"), value=params.get("message"),
            metadata={"dialog_type": params.get("type"), "default_prompt": params.get("defaultPrompt")},
        ))

    def _on_screencast_frame(self, params: dict[str, Any]) -> None:
        try:  # (the sync API sends at once: to a page closed meanwhile, it raises)
            # Not waited for: the next frame comes once Chromium has it, while the caller goes on.
            self.session.send_and_forget(self.cdp, "Page.screencastFrameAck", {"sessionId": params["sessionId"]})
        except Exception:
            return  # the page is gone: its last frames are of no use
        self._attach_screenshots(self.timeline.frame(params["metadata"]["timestamp"], params["data"]))

    def _attach_screenshots(self, picks: list[Pick]) -> None:
        """Store picked frames, each once the boxes to paint over it are known."""
        self.waiting_picks.extend((self.recording, pick) for pick in picks)
        self._store_ready_picks()

    def _boxes_known(self, recording: Recording, sequence: int) -> bool:
        """Whether the boxes to paint over (secrets, masks) a frame of this action are known:
        those of its own look at the page (its snapshot asked ahead and not back, its snapshot
        lost and to be taken again, its look still to come after its call), and of the document
        the page shows now (boxes looked for in a document since left are another page's)."""
        action = (recording.id, sequence)
        return (self.boxes_document == self.documents
                and action not in self.boxes_to_come and action not in self.next_look_awaited
                and not any((asked.recording.id, asked.sequence) == action for asked in self.asked)
                and not any((pending.id, pending_sequence) == action
                            for pending, pending_sequence in (*self.pending_dom, *self.retaking)))

    def _cancelled_before_its_look(self, action: tuple[int, int]) -> None:
        """An action's flow was cancelled between its call's start and its look at the page:
        no look of its own comes; its frames wait for the next look at the page instead."""
        self.boxes_to_come.discard(action)
        self.next_look_awaited.add(action)

    def _set_boxes(self, boxes: list[dict[str, float]], document: int) -> None:
        """What to paint over, as looked for in ``document``; the frames that waited for the
        boxes of the document now shown are stored with them."""
        if document < self.boxes_document:
            return  # an answer about a document before the one last looked at (asked ahead, used late)
        if document != self.boxes_document:
            self.earlier_boxes = self.mask_boxes
        self.mask_boxes, self.boxes_document = boxes, document
        self.next_look_awaited.clear()
        self._store_ready_picks()

    def _store_ready_picks(self, final: bool = False) -> None:
        """Store the waiting frames whose boxes are known; ``final`` (the page or recording
        ends), all of them."""
        waiting, self.waiting_picks = self.waiting_picks, []
        for recording, pick in waiting:
            if final or self._boxes_known(recording, pick.sequence):
                self._store_pick(recording, pick, final)
            else:
                self.waiting_picks.append((recording, pick))
        while len(self.waiting_picks) > MAX_PICKS_WAITING:
            recording, pick = self.waiting_picks.pop(0)
            self._store_pick(recording, pick, final=True)

    def _store_pick(self, recording: Recording, pick: Pick, final: bool = False) -> None:
        """Store a frame, painted over where the boxes say. ``final`` (the page or recording
        ends, its boxes maybe never known): one of a document whose boxes were never looked
        for is dropped if anything was secret. A frame of an action that began on another
        document than the boxes' (or stored without its own) may show either: it gets both
        documents' boxes."""
        began_on = self.action_documents.get((recording.id, pick.sequence))
        stale = self.boxes_document != self.documents  # (only when final: else it waits)
        if stale and (self.session.scrub.values or self.session.options.unread):
            # Where the page it shows has what must not be stored was never known: not
            # stored (with nothing typed secret nor redacted or masked, nothing to hide
            # but a password field, empty on a new page: stored).
            return
        boxes = self.mask_boxes
        if began_on != self.boxes_document or stale:
            boxes = [*boxes, *self.earlier_boxes]
        masks = None
        viewport = self.page.viewport_size
        if boxes and viewport:
            masks = {"viewport_width": viewport["width"], "boxes": boxes}
        try:
            recording.attach_screenshot(pick.sequence, base64.b64decode(pick.frame), masks=masks,
                                        timing="before_action" if pick.before_action else None)
        except Exception:
            pass


_BEYOND_BMP = re.compile("[\U00010000-\U0010FFFF]")  # characters JavaScript counts as two


def _apply_patch(before: str, change: dict[str, Any]) -> str:
    """The page's new snapshot from the last one and what changed (world.js ``patch``).

    Its offsets count UTF-16 code units, as JavaScript strings do: the same as Python's
    characters only while the text has nothing beyond the Basic Multilingual Plane.
    """
    start, end, text = change["start"], change["end"], change["text"]
    if before.isascii() or not _BEYOND_BMP.search(before):
        return before[:start] + text + before[len(before) - end:]
    units = before.encode("utf-16-le", "surrogatepass")
    joined = units[:2 * start] + text.encode("utf-16-le", "surrogatepass") + units[len(units) - 2 * end:]
    return joined.decode("utf-16-le", "surrogatepass")


def _outcome(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot asked with a ``target`` says of that element, for the action's
    metadata: ``target_after``, its state (world.js elementState), or ``{"gone": true}``."""
    if "target" not in snapshot:  # none asked, or one redacted or masked
        return {}
    return {"target_after": snapshot["target"] if snapshot["target"] is not None else {"gone": True}}


def _evaluated(reply: dict[str, Any]) -> Any:
    """The value of a CDP Runtime.evaluate answer; raises what the expression threw."""
    if "exceptionDetails" in reply:
        details = reply["exceptionDetails"]
        raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
    return reply["result"].get("value")


def _escape_attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;")


def _lacks_engine(error: BaseException) -> bool:
    # A document whose Playwright scripts were set up before recorder's selector engine was
    # registered (record() began after the page had used locators) lacks it until its next
    # navigation.
    return "queryAll" in str(error) or "Unknown engine" in str(error)


def _is_timeout(error: BaseException) -> bool:
    return type(error).__name__ == "TimeoutError"  # Playwright's, the same class sync and async


def _one_step(step: Step) -> Generator[Step, Any, Any]:
    return (yield step)


def _withholds(spec: ActionSpec, info: dict[str, Any] | None, raw_value: Any) -> bool:
    """Whether an action's value stays out of the recording. Fail closed: a value typed into
    an element goes in only when that element was seen and is not secret (coordinates and
    URLs have no element; Enter, Tab, Control+A: a key's name is no secret)."""
    if not spec.value_from or spec.target is None or spec.type == "click":
        return False
    if info is not None and not info.get("secret"):
        return False
    return spec.type != "key_press" or _could_be_text(raw_value)


def _could_be_text(key: Any) -> bool:
    """Whether a pressed key types a character ("a", "Shift+A"), rather than naming a key."""
    return isinstance(key, str) and len(key.rsplit("+", 1)[-1]) == 1


def error_text(error: BaseException) -> str:
    """The first lines of a Playwright error: the message without its long call log."""
    text = str(error) or type(error).__name__
    return text.split("\nCall log:")[0].strip()[:2000]

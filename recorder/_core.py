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
import html
import inspect
import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

from . import tiles
from .errors import RecordingClosed
from .selectors import readable_selector
from .store import MAX_VALUE_CHARS, Recording

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

# Facts about one element, read before the action (its box moves or vanishes after): its
# box, and what replay can find it by again (role and accessible name, label, text, test
# id, a CSS path). Never a field's value: that would put a typed secret into metadata.
_ELEMENT_INFO = """(el, redact) => {
  if (!el || el.nodeType !== 1) return null;
  const r = el.getBoundingClientRect();
  const tag = el.tagName.toLowerCase();
  const type = (el.getAttribute('type') || '').toLowerCase() || null;
  const clean = (t) => (t || '').replace(/\\s+/g, ' ').trim().slice(0, 80) || null;
  // Redact selectors are written against the page as a person sees it: climb out of
  // shadow roots and same-origin frames. Past a cross-origin frame nothing can be
  // checked, so with any redact selector such an element counts as secret.
  const matches = (s) => {
    try {
      for (let node = el; node;) {
        if (node.closest(s)) return true;
        const root = node.getRootNode();
        if (root.host) { node = root.host; continue; }
        const view = node.ownerDocument.defaultView;
        if (!view || view === view.top) return false;
        if (!view.frameElement) return true;
        node = view.frameElement;
      }
    } catch (e) { return false; }
    return false;
  };
  const implicitRole = () => {
    if (tag === 'a' && el.hasAttribute('href')) return 'link';
    if (tag === 'button' || (tag === 'input' && ['button', 'submit', 'reset', 'image'].includes(type))) return 'button';
    if (tag === 'input' && type === 'checkbox') return 'checkbox';
    if (tag === 'input' && type === 'radio') return 'radio';
    if (tag === 'input' && type === 'number') return 'spinbutton';
    if (tag === 'input' && (!type || ['text', 'email', 'search', 'tel', 'url'].includes(type))) return type === 'search' ? 'searchbox' : 'textbox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'select') return el.multiple ? 'listbox' : 'combobox';
    if (/^h[1-6]$/.test(tag)) return 'heading';
    if (tag === 'img') return 'img';
    if (tag === 'option') return 'option';
    return null;
  };
  let label = null;
  if (el.labels && el.labels.length) label = clean(Array.from(el.labels).map((l) => l.innerText).join(' '));
  const labelledBy = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).map((id) => document.getElementById(id)).filter(Boolean);
  const isField = ['input', 'textarea', 'select'].includes(tag);
  const name = clean(el.getAttribute('aria-label')) || clean(labelledBy.map((n) => n.innerText).join(' ')) || label
    || (isField ? null : clean(el.innerText)) || clean(el.getAttribute('alt')) || clean(el.getAttribute('title'))
    || (type === 'submit' || type === 'button' ? clean(el.getAttribute('value')) : null) || clean(el.getAttribute('placeholder'));
  const cssPath = () => {
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && node !== document.documentElement; node = node.parentElement) {
      if (node.id && document.querySelectorAll('#' + CSS.escape(node.id)).length === 1) { parts.unshift('#' + CSS.escape(node.id)); break; }
      let index = 1;
      for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) if (sib.tagName === node.tagName) index++;
      parts.unshift(node.tagName.toLowerCase() + ':nth-of-type(' + index + ')');
    }
    return parts.join(' > ');
  };
  return {
    bounding_box: {x: r.x, y: r.y, width: r.width, height: r.height},
    tag, type, id: el.id || null,
    name_attribute: el.getAttribute('name'),
    role: el.getAttribute('role') || implicitRole(),
    accessible_name: name,
    label,
    test_id: el.getAttribute('data-testid'),
    placeholder: el.getAttribute('placeholder'),
    text: isField ? null : clean(el.innerText),
    css_path: cssPath(),
    secret: (tag === 'input' && type === 'password') || redact.some(matches),
  };
}"""
FRAME_MARK = " >> internal:control=enter-frame >> "  # how Playwright writes frame_locator(...)
FRAME_ELEMENT_PATH_JS = f"(el) => ({_ELEMENT_INFO})(el, []).css_path"
TARGET_INFO_JS = f"(elements, redact) => ({_ELEMENT_INFO})(elements[0], redact || [])"
ACTIVE_INFO_JS = f"""(redact) => {{
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  try {{ while (el && el.contentDocument && el.contentDocument.activeElement) el = el.contentDocument.activeElement; }} catch (e) {{}}
  const info = ({_ELEMENT_INFO})(el, redact || []);
  // Focus inside a frame this page cannot look into (a payment form, say): what is typed
  // there is not known to be harmless, so it is treated as secret.
  if (info && (info.tag === 'iframe' || info.tag === 'frame')) info.secret = true;
  return info;
}}"""

# The page as the action left it. Typed values live in DOM properties, not attributes,
# so they are copied onto a clone; password and redacted fields are emptied there, so
# a secret never leaves the browser. Scripts are dropped: a snapshot is for looking at.
DOM_SNAPSHOT_JS = """([redact, mask, maxChars]) => {
  const live = document.documentElement;
  if (!live) return {html: '', masks: []};
  const clone = live.cloneNode(true);
  const from = live.querySelectorAll('input, textarea, select');
  const to = clone.querySelectorAll('input, textarea, select');
  const secret = (el) => (el.type === 'password') || redact.some((s) => {
    try { return el.matches(s) || !!el.closest(s); } catch (e) { return false; } });
  for (let i = 0; i < from.length && i < to.length; i++) {
    const src = from[i], dst = to[i];
    const hidden = secret(src);
    if (hidden) dst.setAttribute('data-recorder-redacted', '');
    if (src.tagName === 'SELECT') {
      Array.from(src.options).forEach((o, j) => {
        const c = dst.options[j]; if (!c) return;
        if (o.selected && !hidden) c.setAttribute('selected', ''); else c.removeAttribute('selected');
      });
    } else if (src.tagName === 'TEXTAREA') {
      dst.textContent = hidden ? '' : src.value;
    } else if (src.type === 'checkbox' || src.type === 'radio') {
      if (src.checked) dst.setAttribute('checked', ''); else dst.removeAttribute('checked');
    } else if (hidden || src.type === 'file') {
      dst.removeAttribute('value');
    } else {
      dst.setAttribute('value', src.value);
    }
  }
  for (const selector of redact) {
    // Redacted elements that are not form fields (contenteditable, a rendered card number)
    // lose their content too.
    try {
      clone.querySelectorAll(selector).forEach((el) => {
        if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) return;
        el.replaceChildren();
        el.setAttribute('data-recorder-redacted', '');
      });
    } catch (e) {}
  }
  clone.querySelectorAll('script').forEach((s) => s.remove());
  const masks = [];
  for (const selector of mask) {
    try {
      live.querySelectorAll(selector).forEach((el) => {
        const r = el.getBoundingClientRect();
        if (r.width && r.height) masks.push({x: r.x, y: r.y, width: r.width, height: r.height});
      });
      clone.querySelectorAll(selector).forEach((el) => {
        el.replaceChildren();
        for (const name of ['value', 'src', 'srcset', 'href', 'title', 'alt', 'placeholder']) el.removeAttribute(name);
        el.setAttribute('data-recorder-masked', '');
      });
    } catch (e) {}
  }
  const d = document.doctype;
  const html = (d ? '<!DOCTYPE ' + d.name + '>' : '') + clone.outerHTML;
  return html.length > maxChars ? {html: null, length: html.length, masks} : {html, masks};
}"""

MASK_BOXES_JS = """(mask) => mask.flatMap((selector) => {
  try {
    return Array.from(document.querySelectorAll(selector)).map((el) => el.getBoundingClientRect())
      .filter((r) => r.width && r.height).map((r) => ({x: r.x, y: r.y, width: r.width, height: r.height}));
  } catch (e) { return []; }
})"""


# -- which calls are actions --------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """How one Playwright method is recorded.

    ``type`` is the action vocabulary of the seed model (navigate, click, type ...);
    ``value_from`` names the arguments whose value is the action's value; ``target`` is
    how the element is found: ``"self"`` (a Locator), an argument name holding a
    selector, ``"focus"`` (keyboard: the focused element) or None.
    """

    type: str
    value_from: tuple[str, ...] = ()
    target: str | None = None
    navigation: bool = False

    @property
    def waits_until_stable(self) -> bool:
        """Whether Playwright waits for the element to stop moving before acting (pointer actions
        on an element, unless called with force=True)."""
        return self.type in ("click", "hover", "drag") and self.target not in (None, "focus")


_SELECTOR_ACTIONS = {
    "click": ActionSpec("click", target="selector"),
    "dblclick": ActionSpec("click", target="selector"),
    "tap": ActionSpec("click", target="selector"),
    "check": ActionSpec("click", target="selector"),
    "uncheck": ActionSpec("click", target="selector"),
    "set_checked": ActionSpec("click", ("checked",), target="selector"),
    "fill": ActionSpec("type", ("value",), target="selector"),
    "type": ActionSpec("type", ("text",), target="selector"),
    "press": ActionSpec("key_press", ("key",), target="selector"),
    "select_option": ActionSpec("select", ("value", "index", "label"), target="selector"),
    "hover": ActionSpec("hover", target="selector"),
    "focus": ActionSpec("focus", target="selector"),
    "set_input_files": ActionSpec("file_upload", ("files",), target="selector"),
    "drag_and_drop": ActionSpec("drag", ("target",), target="source"),
    "goto": ActionSpec("navigate", ("url",), navigation=True),
}
_LOCATOR_ACTIONS = {
    **{name: ActionSpec(spec.type, spec.value_from, target="self")
       for name, spec in _SELECTOR_ACTIONS.items() if name not in ("drag_and_drop", "goto")},
    "press_sequentially": ActionSpec("type", ("text",), target="self"),
    "clear": ActionSpec("type", target="self"),
    "drag_to": ActionSpec("drag", ("target",), target="self"),
}

# Class name (the same in playwright.sync_api and playwright.async_api) -> method -> spec.
ACTIONS: dict[str, dict[str, ActionSpec]] = {
    "Page": {
        **_SELECTOR_ACTIONS,
        "reload": ActionSpec("navigate", navigation=True),
        "go_back": ActionSpec("navigate", navigation=True),
        "go_forward": ActionSpec("navigate", navigation=True),
    },
    "Frame": _SELECTOR_ACTIONS,
    "Locator": _LOCATOR_ACTIONS,
    "Keyboard": {
        "press": ActionSpec("key_press", ("key",), target="focus"),
        "down": ActionSpec("key_press", ("key",), target="focus"),
        "up": ActionSpec("key_press", ("key",), target="focus"),
        "type": ActionSpec("type", ("text",), target="focus"),
        "insert_text": ActionSpec("type", ("text",), target="focus"),
    },
    "Mouse": {
        "click": ActionSpec("click", ("x", "y")),
        "dblclick": ActionSpec("click", ("x", "y")),
        "down": ActionSpec("click"),
        "up": ActionSpec("click"),
        "move": ActionSpec("hover", ("x", "y")),
        "wheel": ActionSpec("scroll", ("delta_x", "delta_y")),
    },
}


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


def _file_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def recorded_argument(method: str, value: str | None) -> Any:
    """The argument a recorded ``set_checked``/``select_option``/``set_input_files`` value stands for.

    The inverse of ``action_value`` for the calls replay and export re-make; raises
    ``ValueError`` naming the method when the stored value cannot be one.
    """
    try:
        if method == "set_checked":
            checked = json.loads(value or "true")
            if isinstance(checked, bool):
                return checked
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

    def screenshot_scale(self, viewport: dict[str, int] | None) -> float:
        if not viewport or not self.screenshot_size:
            return 1.0
        width, height = self.screenshot_size
        return min(1.0, width / viewport["width"], height / viewport["height"])


REDACTED = "[redacted]"
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


class SecretScrubber:
    """Values typed into secret fields, kept in memory only, cut out of all else stored.

    An app may echo a password elsewhere: a GET form puts it in the next URL, a page
    may show it back. Every text recorded after a secret was typed passes through here.
    """

    MIN_LENGTH = 3  # shorter "secrets" (one key press) would blank out ordinary text

    def __init__(self) -> None:
        self._forms: list[str] = []

    def add(self, secret: Any) -> None:
        if isinstance(secret, (list, tuple)):  # select_option(["a", "b"]), set_input_files([...])
            for item in secret:
                self.add(item)
            return
        if not isinstance(secret, str) or len(secret) < self.MIN_LENGTH:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret)}
        self._forms = sorted(set(self._forms) | forms, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text or not self._forms:
            return text
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text

    def everywhere(self, value: Any) -> Any:
        """Every string inside ``value`` (metadata: dicts, lists) scrubbed."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.everywhere(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.everywhere(item) for item in value]
        return value


class Session:
    """One ``record()`` block: the recording and every page captured into it."""

    def __init__(self, recording: Recording, options: Options, is_async: bool) -> None:
        self.recording = recording
        self.options = options
        self.is_async = is_async
        self.scrub = SecretScrubber()
        self.agent_paused = False  # during a takeover: Playwright calls are a person's stand-ins, not recorded
        self.captures: list[PageCapture] = []
        self._tasks: set[asyncio.Future[Any]] = set()

    def run(self, flow: Flow) -> None:
        """Run a flow from an event handler: at once (sync API) or as a task (async API)."""
        if self.is_async:
            task = asyncio.ensure_future(run_async(flow))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            run_sync(flow)

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
        if self._tasks:
            yield lambda: asyncio.gather(*self._tasks, return_exceptions=True)
        for capture in self.captures:
            yield from capture.detach()


ATTRIBUTE = "_recorder_capture"


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
        # Where masked elements were when last looked (CSS px): painted over on the frames
        # that follow, until the next look.
        self.mask_boxes: list[dict[str, float]] = []

    @property
    def recording(self) -> Recording:
        return self.session.recording

    # -- attaching ---------------------------------------------------------------------

    def attach(self, opener: PageCapture | None) -> Flow:
        page = self.page
        if self.recording.is_user_session and not self.recording.user_metadata.get("user_agent"):
            user_agent = yield from self._quietly_flow(self.evaluate("() => navigator.userAgent"))
            self.recording.update_metadata({"user_agent": user_agent})
        for owner in (page, page.keyboard, page.mouse):
            owner.__dict__[ATTRIBUTE] = self
        page.on("framenavigated", self._on_frame_navigated)
        page.on("popup", self._on_popup)
        page.on("crash", self._on_crash)
        if opener is not None:
            self._record_event("navigate", url=page.url, metadata={"popup": True, "opener_page_index": opener.index})
        try:
            self.cdp = yield lambda: page.context.new_cdp_session(page)
        except Exception:
            self.cdp = None  # not Chromium: screenshots are taken after each action instead
        if self.cdp is None:
            return
        self.bounded = "timeout" in inspect.signature(self.cdp.send).parameters
        self.cdp.on("Page.javascriptDialogOpening", self._on_dialog)
        if self.session.options.screenshots:
            self.cdp.on("Page.screencastFrame", self._on_screencast_frame)
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
        page.remove_listener("framenavigated", self._on_frame_navigated)
        page.remove_listener("popup", self._on_popup)
        page.remove_listener("crash", self._on_crash)
        final = None
        responsive = not self.stuck or (yield from self.answers())
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
        self._attach_screenshots(self.timeline.finish(final))
        if self.cdp is not None and responsive and self.is_alive():
            try:
                yield lambda: self.cdp.detach()
            except Exception:
                pass

    # -- actions -----------------------------------------------------------------------

    def action(self, spec: ActionSpec, api: str, owner: Any, call: Step, arguments: dict[str, Any]) -> Flow:
        """The flow around one recorded Playwright call; returns (or raises) what it did."""
        try:
            sequence, started_ms = self.recording.reserve_sequence()
        except RecordingClosed:
            return (yield call)
        self.timeline.action_started(sequence)
        # A masked element's value is as private as its pixels.
        redact = list(self.session.options.redact + self.session.options.mask)
        selector, locator = self._target(spec, owner, arguments)
        raw_selector = locator_selector(locator) if locator is not None else None
        in_child_frame = type(owner).__name__ == "Frame" and owner.parent_frame is not None
        # Looking at an element cannot be bounded in time: first make sure the frames it
        # may be in answer at all.
        in_frames = in_child_frame or bool(raw_selector and FRAME_MARK.strip(" >") in raw_selector)
        answering = locator is None or (yield from self.answers(every_frame=in_frames))
        if raw_selector and in_child_frame and answering:
            # page.frame("x").fill("#field"): the selector is inside that frame; prefix the
            # frames' own, so the action reads (and replays) as frame_locator(...).locator(...).
            path = yield from self._quietly_flow(self._frame_path(owner))
            if path:
                raw_selector = FRAME_MARK.join([*path, raw_selector])
                selector = readable_selector(raw_selector)
        info = None
        if spec.target == "focus" and spec.value_from:
            info = yield from self._quietly_flow(self.evaluate(ACTIVE_INFO_JS, redact))
        elif locator is not None and answering:
            info = yield from self._quietly(lambda: locator.evaluate_all(TARGET_INFO_JS, redact))
        raw_value = action_value(spec, arguments)
        if info and info.get("secret"):
            # Before the call: the page may echo the value while it runs (a URL, a label).
            self._remember_secret(spec, raw_value)

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
        duration_ms = int((time.perf_counter() - began) * 1000)

        dom = dom_skipped = None
        mask = list(self.session.options.mask)
        if self.session.options.dom and self.is_alive():
            dom, dom_skipped = yield from self.snapshot_dom(redact, mask)
        elif mask and self.is_alive():
            self.mask_boxes = (yield from self._quietly_flow(self.evaluate(MASK_BOXES_JS, mask))) or []
        if info is None and locator is not None and spec.value_from and self.is_alive() \
                and (yield from self.answers(every_frame=in_frames)):
            # The element appeared only during the action: look again before storing a value.
            info = yield from self._quietly(lambda: locator.evaluate_all(TARGET_INFO_JS, redact))
        screenshot = None
        if self.cdp is None and self.session.options.screenshots and self.is_alive():
            screenshot = yield from self._quietly(lambda: self.page.screenshot(
                type="jpeg", quality=SCREENCAST_QUALITY, mask=[self.page.locator(m) for m in mask]))

        metadata: dict[str, Any] = {"api": api, "page_index": self.index}
        if dom_skipped:
            metadata["dom_snapshot_skipped"] = dom_skipped
        value, extra = fit_value(raw_value)
        metadata.update(extra)
        # Fail closed: a value typed into an element goes in only when that element was seen
        # and is not secret (coordinates and URLs have no element).
        withheld = (spec.value_from and spec.target is not None and spec.type != "click"
                    and (info is None or info.get("secret")))
        if withheld and spec.type == "key_press" and not _could_be_text(raw_value):
            withheld = False  # Enter, Tab, Control+A: a key's name is no secret
        if withheld:
            if info:
                self._remember_secret(spec, raw_value)
            value, metadata["redacted"] = None, True
            if info is None:
                metadata["redacted_because"] = "the target element could not be inspected"
            metadata.pop("value_truncated", None)
            metadata.pop("value_length", None)
        if info:
            metadata["bounding_box"] = info.pop("bounding_box")
            info.pop("secret", None)
            metadata["target"] = {k: v for k, v in info.items() if v is not None}
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
                error=scrub(_error_text(error)) if error else None, duration_ms=duration_ms,
                sequence=sequence, timestamp_ms=started_ms,
            )
        except Exception:
            pass  # recording must never break the page it watches
        if error is not None:
            raise error
        return result

    def _remember_secret(self, spec: ActionSpec, raw_value: Any) -> None:
        """Cut this value out of everything recorded from now on (not a key's name)."""
        if spec.value_from and spec.type not in ("click", "key_press"):
            self.session.scrub.add(raw_value)

    def _record_cancelled(self, spec: ActionSpec, api: str, sequence: int, started_ms: int, duration_ms: int) -> None:
        try:
            self.recording.record_action(
                spec.type, metadata={"api": api, "page_index": self.index}, url=self.session.scrub(self._url()),
                status="error", error="cancelled before it finished", duration_ms=duration_ms,
                sequence=sequence, timestamp_ms=started_ms,
            )
        except Exception:
            pass

    def _frame_path(self, frame: Any) -> Generator[Step, Any, list[str]]:
        """CSS paths of the iframe elements from the main frame down to ``frame``."""
        path: list[str] = []
        while frame.parent_frame is not None:
            element = yield functools.partial(frame.frame_element)
            path.insert(0, (yield functools.partial(element.evaluate, FRAME_ELEMENT_PATH_JS)))
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
        if spec.target == "self":
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

    def _record_event(self, action_type: str, url: str | None = None, value: str | None = None,
                      metadata: dict[str, Any] | None = None, selector: str | None = None,
                      dom: str | None = None) -> None:
        """Record something that happened on the page rather than a call: a navigation, a
        dialog, a person's input during a takeover, a handoff."""
        try:
            sequence, started_ms = self.recording.reserve_sequence()
        except RecordingClosed:
            return
        now = time.time()
        self.timeline.action_started(sequence)
        self.timeline.call_started(sequence, now)
        self.timeline.action_ended(sequence, now)
        scrub = self.session.scrub
        metadata = scrub.everywhere(metadata)
        self.recording.record_action(
            action_type, selector=scrub(selector), value=scrub(value), url=scrub(url), dom_snapshot=scrub(dom),
            duration_ms=0, sequence=sequence, timestamp_ms=started_ms,
            metadata={"api": f"event.{action_type}", "page_index": self.index, **(metadata or {})},
        )

    def settle_screenshots(self) -> None:
        """Give every action still waiting for a frame the latest one (before the recording changes)."""
        self._attach_screenshots(self.timeline.finish())

    def _on_frame_navigated(self, frame: Any) -> None:
        if frame.parent_frame is not None:
            return
        if any(spec.navigation for _, spec in self.in_flight):
            return  # the goto/reload/back/forward being recorded is this navigation
        cause = self.in_flight[-1][0] if self.in_flight else None
        self._record_event("navigate", url=frame.url, metadata={"caused_by": cause} if cause else {})

    def snapshot_dom(self, redact: list[str], mask: list[str]) -> Generator[Any, Any, tuple[str | None, str | None]]:
        """The page's HTML as its DOM is now (values in, secrets and masks out), or why not."""
        snapshot = yield from self._quietly_flow(self.evaluate(DOM_SNAPSHOT_JS, [redact, mask, MAX_DOM_CHARS]))
        if self.stuck:
            return None, "the page did not answer (stuck in a script?)"
        if not snapshot:
            return None, None
        self.mask_boxes = snapshot["masks"]
        if snapshot["html"] is None:
            return None, f"the page's HTML is {snapshot['length']:,} characters, over recorder's limit of {MAX_DOM_CHARS:,}"
        return snapshot["html"], None

    def evaluate(self, function: str, arg: Any = None) -> Generator[Step, Any, Any]:
        """Run one of recorder's page functions in the page's main world, and return its value.

        ``page.evaluate`` waits for ever on a page stuck in a script; on Chromium this goes
        through CDP, whose calls take a timeout (``CAPTURE_TIMEOUT_MS``). A page that did
        not answer last time is first asked briefly whether it is back.
        """
        if not self.bounded:
            return (yield lambda: self.page.evaluate(function, arg))
        if self.stuck:
            yield from self._ask("0", RETRY_TIMEOUT_MS)  # raises while it is still stuck
        return (yield from self._ask(f"({function})({json.dumps(arg)})", CAPTURE_TIMEOUT_MS))

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

    def _ask(self, expression: str, timeout_ms: int) -> Generator[Step, Any, Any]:
        # awaitPromise stays off: none of recorder's functions is async, and a page that
        # defines Object.prototype.then would make every object result a promise never settled.
        params = {"expression": expression, "returnByValue": True}
        try:
            reply = yield lambda: self.cdp.send("Runtime.evaluate", params, timeout=timeout_ms)
        except Exception as exc:
            if _is_timeout(exc):
                self.stuck = True
            raise
        self.stuck, self.answered_at = False, time.monotonic()
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return reply["result"].get("value")

    def is_alive(self) -> bool:
        """Whether the page can still be asked anything (it is neither closed nor crashed)."""
        return not self.crashed and not self.page.is_closed()

    def _on_crash(self, page: Any) -> None:
        self.crashed = True
        self.recording.update_metadata({"crashed_page_index": self.index})

    def _on_popup(self, popup: Any) -> None:
        self.session.run(self.session.attach(popup, opener=self))

    def _on_dialog(self, params: dict[str, Any]) -> None:
        self._record_event(
            "dialog", url=params.get("url"), value=params.get("message"),
            metadata={"dialog_type": params.get("type"), "default_prompt": params.get("defaultPrompt")},
        )

    def _on_screencast_frame(self, params: dict[str, Any]) -> None:
        self.session.spawn(self.cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]}))
        self._attach_screenshots(self.timeline.frame(params["metadata"]["timestamp"], params["data"]))

    def _attach_screenshots(self, picks: list[Pick]) -> None:
        masks = None
        viewport = self.page.viewport_size
        if self.session.options.mask and viewport:
            masks = {"viewport_width": viewport["width"], "boxes": self.mask_boxes}
        for pick in picks:
            try:
                self.recording.attach_screenshot(
                    pick.sequence, base64.b64decode(pick.frame), masks=masks,
                    timing="before_action" if pick.before_action else None)
            except Exception:
                pass


def _is_timeout(error: BaseException) -> bool:
    return type(error).__name__ == "TimeoutError"  # Playwright's, the same class sync and async


def _one_step(step: Step) -> Generator[Step, Any, Any]:
    return (yield step)


def _could_be_text(key: Any) -> bool:
    """Whether a pressed key types a character ("a", "Shift+A"), rather than naming a key."""
    return isinstance(key, str) and len(key.rsplit("+", 1)[-1]) == 1


def _error_text(error: BaseException) -> str:
    """The first lines of a Playwright error: the message without its long call log."""
    text = str(error) or type(error).__name__
    return text.split("\nCall log:")[0].strip()[:2000]

"""A person takes over the browser from an agent, and hands it back.

    with record(page, db="recordings.db", agent_run=run) as page:
        page.goto(url)                                    # the agent drives
        with takeover(page, visitor_id="v-7") as person:  # a person drives (headed browser)
            page.wait_for_event("close", timeout=0)       # ... until they are done, however you decide
        page.get_by_role("button", name="Pay").click()    # the agent again

While the block runs, the agent's recording pauses and a *user session*
(``start_user_session``, linked by ``parent_id``) records what the person does, captured in
the page by listeners: clicks, changed fields, Enter/Tab/Escape, submits, scrolls, and
navigations, each a ``user_action`` (``navigate`` for navigations) with a readable
selector, a screenshot and a DOM snapshot, and the same redaction. The agent's recording
gets a ``handoff`` action when the person takes over and a ``completion`` when they hand
back, each with the page state then (URL, cookies, localStorage, form values). Cookie and
localStorage *values* are credentials: they stay in memory (``handoff_state`` and
``completion_state`` of the ``takeover`` object) and the database gets their names, flags
and a keyed hash (recorder/page_state.py), unless ``keep_storage_state=True``.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from . import inpage
from ._core import ATTRIBUTE, Flow, PageCapture, run_async, run_sync
from .errors import RecorderError
from .page_state import full_state, stored_state
from .selectors import readable_selector
from .store import Recording

BINDING = "__recorderUserEvent"
# Longer values typed by a person are not followed as they grow (a page's own script could
# report anything through the binding).
MAX_TYPED_CHARS = 10_000

# The listeners stay in the page's main world: they report through a binding Playwright
# exposes there. Everything recorder *asks* the page runs in its own world (inpage).
_LISTENERS_JS = """(redact) => {
  window.__recorderRedact = redact;
  window.__recorderTakeover = true;
  if (window.__recorderListening) return;
  window.__recorderListening = true;
  const info = (%s).elementInfo;
  const send = (event, el, extra) => {
    if (!window.__recorderTakeover || !window.%s) return;
    try { window.%s({event, target: el && el.nodeType === 1 ? info(el, window.__recorderRedact || []) : null, ...extra}); } catch (e) {}
  };
  document.addEventListener('click', (e) => send('click', e.target, {x: e.clientX, y: e.clientY}), true);
  document.addEventListener('change', (e) => {
    const el = e.target;
    send('change', el, {value: el.type === 'checkbox' || el.type === 'radio' ? String(el.checked) : el.value});
  }, true);
  // Typing into a secret field: the value so far goes to recorder first (the window's
  // capture phase comes before the page's listeners on the field and the document, if not
  // before one it put there itself), so what the page does with it meanwhile (logs it,
  // sends it) is scrubbed before the change says it whole. (composedPath: in a shadow root,
  // the field itself, not its host.)
  window.addEventListener('input', (e) => {
    const el = e.composedPath()[0];
    if (!window.__recorderTakeover || !window.%s) return;
    if (!el || el.nodeType !== 1 || typeof el.value !== 'string') return;
    try {
      if (info(el, window.__recorderRedact || []).secret) window.%s({event: 'typing', value: el.value});
    } catch (e) {}
  }, true);
  document.addEventListener('keydown', (e) => {
    if (['Enter', 'Tab', 'Escape'].includes(e.key)) send('key', e.target, {value: e.key});
  }, true);
  document.addEventListener('submit', (e) => send('submit', e.target, {}), true);
  let scrolling = null;
  window.addEventListener('scroll', () => {
    clearTimeout(scrolling);
    scrolling = setTimeout(() => send('scroll', null, {value: Math.round(scrollX) + ',' + Math.round(scrollY)}), 250);
  }, true);
}""" % (inpage.world_source(), BINDING, BINDING, BINDING, BINDING)

_STOP_JS = "() => { window.__recorderTakeover = false; }"



def describe(target: dict[str, Any] | None) -> str | None:
    """The readable locator of an element a person touched, from what the page said of it."""
    if not target:
        return None
    quote = lambda text: json.dumps(text, ensure_ascii=False)  # noqa: E731
    if target.get("test_id"):
        return f"get_by_test_id({quote(target['test_id'])})"
    if target.get("label"):  # a labelled field reads best by its label
        return f"get_by_label({quote(target['label'])})"
    if target.get("role") and target.get("accessible_name"):
        return f"get_by_role({quote(target['role'])}, name={quote(target['accessible_name'])})"
    if target.get("placeholder"):
        return f"get_by_placeholder({quote(target['placeholder'])})"
    if target.get("text"):
        return f"get_by_text({quote(target['text'])})"
    if target.get("css_path"):
        return readable_selector(target["css_path"])
    return None


class Takeover:
    """The state of one takeover: which capture it pauses, and the person's session."""

    def __init__(self, page: Any, visitor_id: str | None, parent_demo_id: Any,
                 keep_storage_state: bool = False) -> None:
        capture = page.__dict__.get(ATTRIBUTE)
        if capture is None:
            raise RecorderError("takeover() needs a page being recorded: use it inside `with record(page):`")
        if capture.session.agent_paused or capture.session.taken_over_by is not None:
            raise RecorderError("this page is already taken over")
        self.capture: PageCapture = capture
        self.page = page
        self.visitor_id = visitor_id
        self.parent_demo_id = parent_demo_id
        self.parent: Recording = capture.session.recording
        self.person: Recording | None = None
        self.keep_storage_state = keep_storage_state
        # The state with its cookie and localStorage values: in memory only (see page_state.py).
        self.handoff_state: dict[str, Any] | None = None
        self.completion_state: dict[str, Any] | None = None

    def state(self) -> Flow:
        redact = self.capture.session.options.unread
        cookies = yield lambda: self.page.context.cookies()
        storage = (yield from self.capture.ask("pageState", redact)) or {}
        return full_state(self.page.url, cookies, storage.get("local_storage"), storage.get("form_values"))

    def begin(self) -> Flow:
        session = self.capture.session
        # Claimed before anything is awaited: two takeovers entered together (asyncio.gather)
        # would both pass the check made as each was made.
        if session.taken_over_by is not None:
            raise RecorderError("this page is already taken over")
        session.taken_over_by = self
        try:
            yield from self._begin()
        except BaseException:
            if session.taken_over_by is self:
                session.taken_over_by = None
            raise

    def _begin(self) -> Flow:
        page, capture, session = self.page, self.capture, self.capture.session
        state = self.handoff_state = yield from self.state()
        yield from capture.settle_screenshots()
        person = self.parent.store.start_user_session(
            visitor_id=self.visitor_id, parent_demo_id=self.parent_demo_id, page_url=page.url,
            owner=self.parent.owner, parent_id=self.parent.id)
        self.person = person
        capture.record_event_action("handoff", url=page.url, value=person.name,
                                    metadata={"user_session_id": person.id,
                                              "state": stored_state(state, self.keep_storage_state)})
        user_agent = yield from capture.ask_expression("navigator.userAgent")
        person.update_metadata({"user_agent": user_agent})
        redact = session.options.unread
        if not page.__dict__.get("_recorder_binding"):
            yield lambda: page.expose_binding(BINDING, self._on_user_event_binding)
            page.__dict__["_recorder_binding"] = True
        if page.__dict__.get("_recorder_init_redact") != redact:
            # Listeners in every document the person navigates to; what they report once the
            # takeover is over is dropped in Python. An init script cannot be taken back, so a
            # later takeover with other redact selectors adds one that runs after it and
            # replaces the list (the listeners themselves are installed once per document).
            yield lambda: page.add_init_script(script=f"({_LISTENERS_JS})({json.dumps(redact)});")
            page.__dict__["_recorder_init_redact"] = redact
        page.__dict__["_recorder_takeover"] = self
        session.recording, session.agent_paused = person, True
        try:
            yield from capture.evaluate_in_main_world(_LISTENERS_JS, session.options.unread)
        except Exception as exc:
            # Hand the page back at once (the user session fails with the reason), or the
            # agent would stay paused with nobody listening.
            yield from self.end(exc)
            raise

    def end(self, error: BaseException | None) -> Flow:
        page, capture, session = self.page, self.capture, self.capture.session
        assert self.person is not None
        state: dict[str, Any] = {}
        try:
            if not page.is_closed():
                try:
                    yield from capture.evaluate_in_main_world(_STOP_JS)
                except Exception:
                    pass
            if not page.is_closed():
                try:
                    state = yield from self.state()
                except Exception:
                    state = {"url": page.url}
            yield from capture.settle_screenshots()
        finally:  # (whatever happened, cancelled even: the agent gets its page back)
            page.__dict__.pop("_recorder_takeover", None)
            session.recording, session.agent_paused, session.taken_over_by = self.parent, False, None
        if error is None:
            self.person.complete()
        else:
            self.person.fail(session.scrub(f"{type(error).__name__}: {error}"))
        self.completion_state = state
        capture.record_event_action("completion", url=state.get("url"), value=self.person.name,
                                    metadata={"user_session_id": self.person.id,
                                              "state": stored_state(state, self.keep_storage_state)})

    # -- what the person does -------------------------------------------------------------

    def _on_user_event_binding(self, source: Any, payload: dict[str, Any]) -> None:
        takeover = self.page.__dict__.get("_recorder_takeover")
        if takeover is None:
            return  # listeners outlive the takeover; what they report afterwards is dropped
        if payload.get("event") == "typing":  # not an action: a secret as it grows (at once, not as a task)
            value = payload.get("value")
            if isinstance(value, str) and len(value) <= MAX_TYPED_CHARS:  # (the page's script can call this too)
                takeover.capture.session.scrub.typing(value)
            return
        takeover.capture.session.run(takeover._user_event(payload))

    def _user_event(self, payload: dict[str, Any]) -> Flow:
        capture, session = self.capture, self.capture.session
        target = payload.get("target") or None
        event = payload.get("event", "event")
        value = payload.get("value")
        metadata: dict[str, Any] = {"event": event, "api": f"user.{event}"}
        if target:
            metadata["bounding_box"] = target.pop("bounding_box", None)
            target.pop("document", None)  # (which document: for recorder's own reads, not kept)
            if target.pop("secret", False) and value is not None and event != "click":
                session.scrub.add(value if isinstance(value, str) else None)
                value, metadata["redacted"] = None, True
            metadata["target"] = {k: v for k, v in target.items() if v is not None}
        if payload.get("x") is not None:
            metadata["point"] = {"x": payload["x"], "y": payload["y"]}
        dom = None
        if session.options.dom and capture.is_alive():
            redact = session.options.unread
            dom, skipped, _ = yield from capture.snapshot_dom(redact, list(session.options.mask))
            if skipped:
                metadata["dom_snapshot_skipped"] = skipped
        capture.record_event_action("user_action", url=self.page.url,
                                    value=None if value is None else str(value),
                                    metadata=metadata, selector=describe(target), dom=dom)


class takeover:  # noqa: N801 - used like a function: `with takeover(page) as person:`
    """Hand a recorded page to a person; their actions are recorded in a user session.

    ``with takeover(page) as person:`` (sync) or ``async with`` (async); ``person`` is the
    user session's :class:`~recorder.Recording`. The page must be inside ``record()``.

    The page state at handoff and completion, cookie and localStorage values included, is
    ``handoff_state`` / ``completion_state`` (``{url, storage_state, form_values}``;
    ``storage_state`` in Playwright's shape, for ``new_context(storage_state=...)``): in
    memory only. The database gets the values only with ``keep_storage_state=True``.
    """

    def __init__(self, page: Any, visitor_id: str | None = None, parent_demo_id: Any = None, *,
                 keep_storage_state: bool = False) -> None:
        self._takeover = Takeover(page, visitor_id, parent_demo_id, keep_storage_state)

    @property
    def handoff_state(self) -> dict[str, Any] | None:
        """The page state when the person took over, values included (never stored by default)."""
        return self._takeover.handoff_state

    @property
    def completion_state(self) -> dict[str, Any] | None:
        """The page state when the person handed back, values included (never stored by default)."""
        return self._takeover.completion_state

    def __enter__(self) -> Recording:
        run_sync(self._takeover.begin())
        assert self._takeover.person is not None
        return self._takeover.person

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        run_sync(self._takeover.end(exc))

    async def __aenter__(self) -> Recording:
        await run_async(self._takeover.begin())
        assert self._takeover.person is not None
        return self._takeover.person

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await run_async(self._takeover.end(exc))

"""The Playwright side: ``record(page)`` and the hooks on Playwright's action methods.

The action methods of ``Page``, ``Frame``, ``Locator``, ``Keyboard`` and ``Mouse`` (sync
and async API) are wrapped once, at the first ``record()``. A wrapper looks for a
capture on the object's page and, finding none, calls straight through, so unrecorded
pages pay one dictionary lookup. Wrapping the classes rather than handing out proxy
objects keeps the page a real ``Page``: ``isinstance``, ``expect(page)`` and every locator
derived from it (``.first``, ``.filter()``, ``frame_locator()`` ...) just work.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from . import inpage
from ._core import (ACTIONS, ASSERTION_CLASSES, ATTRIBUTE, ActionSpec, Flow, Options, PageCapture, Session,
                    assertion_subject, run_async, run_sync)
from .errors import DatabaseError, RecorderError
from .events import body_limit
from .resources import DEFAULT_MAX_BYTES as DEFAULT_RESOURCE_MAX_BYTES
from .source import call_site
from .store import Recording, RecordingStore

_install_lock = threading.Lock()
_installed = False
# In a page's __dict__ from the moment a record() block has checked it until the block ends.
_CLAIMED = "_recorder_claimed"
# How long leaving an async block waits for recorded calls still running in tasks it did not
# await (create_task, a gather given up); those still running then are named unfinished.
IN_FLIGHT_GRACE_S = 10.0


@dataclass(eq=False)
class _Running:
    """A recorded async call under way."""

    capture: PageCapture
    api: str
    source: dict[str, Any] | None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    sequence: int | None = None  # known once Playwright's call has begun


# The recorded async calls under way, by the session (record() block) they are recorded in.
_RUNNING: weakref.WeakKeyDictionary[Session, set[_Running]] = weakref.WeakKeyDictionary()


def _capture_of(owner: Any, via_page: bool) -> PageCapture | None:
    if type(owner).__name__ in ASSERTION_CLASSES:  # expect(locator or page): the capture of its page
        try:
            owner = assertion_subject(owner)
        except Exception:
            return None
        via_page = type(owner).__name__ == "Locator"
    capture = owner.__dict__.get(ATTRIBUTE)
    if capture is None and via_page:  # a Locator or Frame: the capture sits on its page
        try:
            capture = owner.page.__dict__.get(ATTRIBUTE)
        except Exception:
            return None
    return capture


def _wrap(cls: type, method: str, spec: ActionSpec, is_async: bool) -> None:
    original = getattr(cls, method)
    signature = inspect.signature(original)
    api = f"{cls.__name__}.{method}"
    via_page = cls.__name__ in ("Locator", "Frame")

    def prepare(owner: Any, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> tuple[PageCapture, dict[str, Any], dict[str, Any] | None] | None:
        capture = _capture_of(owner, via_page)
        if capture is None or capture.session.agent_paused:
            return None
        try:
            arguments = signature.bind(owner, *args, **kwargs).arguments
        except TypeError:
            return None  # let Playwright raise its own error for a wrong call
        # Called as the method is (the async API's too, see below): the stack is the caller's.
        return capture, arguments, call_site(depth=2)

    if is_async:
        async def recorded(running: _Running, flow: Flow) -> Any:
            runs = _RUNNING.setdefault(running.capture.session, set())
            runs.add(running)
            try:
                return await run_async(flow)
            finally:
                runs.discard(running)
                running.done.set()

        # Its coroutines read as Playwright's own ("coroutine 'Page.click' was never awaited").
        recorded.__name__, recorded.__qualname__ = original.__name__, original.__qualname__

        # A plain function that returns the coroutine, not an `async def`: the call site must be
        # taken as the method is called. A coroutine's body runs only once awaited, maybe in a
        # task (gather, create_task, wait_for), when the caller's frames are gone.
        @functools.wraps(original)
        def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            prepared = prepare(self, args, kwargs)
            if prepared is None:
                return original(self, *args, **kwargs)  # Playwright's own coroutine
            capture, arguments, source = prepared
            running = _Running(capture, api, source)

            def call() -> Any:
                # The action's (sequence, spec) is put in flight just as its call is made.
                running.sequence = capture.in_flight[-1][0] if capture.in_flight else None
                return original(self, *args, **kwargs)

            return recorded(running, capture.action(spec, api, self, call, arguments, source))

        _mark_coroutine_function(async_wrapper)
        wrapper: Callable[..., Any] = async_wrapper
    else:
        @functools.wraps(original)
        def sync_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            prepared = prepare(self, args, kwargs)
            if prepared is None:
                return original(self, *args, **kwargs)
            capture, arguments, source = prepared
            return run_sync(capture.action(spec, api, self, lambda: original(self, *args, **kwargs), arguments,
                                           source))

        wrapper = sync_wrapper
    wrapper.__recorder_original__ = original  # type: ignore[attr-defined]
    setattr(cls, method, wrapper)


def _mark_coroutine_function(function: Callable[..., Any]) -> None:
    """Have ``function``, which returns a coroutine, pass for a coroutine function as the
    ``async def`` it replaces did: ``inspect.iscoroutinefunction`` on Python 3.12+,
    ``asyncio.iscoroutinefunction`` on every version (before 3.12, through the mark
    ``unittest.mock.AsyncMock`` sets; ``inspect`` there knows only ``async def``)."""
    mark = getattr(inspect, "markcoroutinefunction", None)  # (Python 3.12+)
    if mark is not None:
        mark(function)  # asyncio.iscoroutinefunction asks inspect's first
    else:
        function._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]


def install() -> None:
    """Wrap Playwright's action methods (idempotent; ``record()`` calls it)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from playwright import async_api, sync_api

        for module, is_async in ((sync_api, False), (async_api, True)):
            for class_name, methods in ACTIONS.items():
                cls = getattr(module, class_name)
                for method, spec in methods.items():
                    if hasattr(cls, method):
                        _wrap(cls, method, spec, is_async)
        _installed = True


def _is_async_page(page: Any) -> bool:
    from playwright.async_api import Page as AsyncPage
    from playwright.sync_api import Page as SyncPage

    if isinstance(page, AsyncPage):
        return True
    if isinstance(page, SyncPage):
        return False
    raise TypeError(f"record() takes a Playwright Page, not {type(page).__name__}")


class record:  # noqa: N801 - used as a function: `with record(page) as page:`
    """Record everything done on a Playwright page into a SQLite database.

    Sync API::

        with record(page, db="recordings.db", name="checkout_flow") as page:
            page.goto("http://127.0.0.1:8000/")
            page.get_by_placeholder("What needs to be done?").fill("buy milk")
        print(page.recording.id, page.recording.status)   # 1 completed

    Async API: ``async with record(page) as page: ...``

    The block gets the same page object back, with ``page.recording`` set to the
    :class:`~recorder.Recording`. Leaving the block normally completes the recording; an
    exception marks it failed with ``"ExcType: message"`` and propagates unchanged.
    ``db`` defaults to ``$RECORDER_DB``, else ``./recordings.db``; pass ``store=`` to
    record into an already open :class:`~recorder.RecordingStore`. ``redact`` lists CSS
    selectors whose values are never stored (password fields never are); ``mask`` lists
    CSS selectors of elements painted over in screenshots and emptied in DOM snapshots.
    ``screenshot_size`` is the box screenshots are scaled down to fit (default 800x800,
    as Playwright's trace); ``None`` keeps the viewport's size. ``agent_run``,
    ``sandbox_session`` and ``owner`` are passed to :meth:`RecordingStore.start`; pass
    ``recording=`` to record into one already started (such as a user session).
    ``max_bytes`` stops storing screenshots (not actions) once the database file is that
    big, and says so in the recording's metadata (``screenshots_stopped``).
    ``resource_max_bytes`` caps each stylesheet, image or font kept for DOM snapshots
    (default 5 MB; ``None``: no cap); bigger ones are named in ``resources_skipped``.
    ``events`` records console messages, page errors, crashes and requests
    (``Recording.events()``); request and response bodies are kept only with ``bodies``
    (``True``: text bodies up to 64 KB; a number: up to that many characters). The values
    of ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and of the
    headers named in ``redact_headers`` are never stored. ``run_id`` makes the recording
    one of a stored run's (``RecordingStore.start_run``; the pytest plugin's sessions).
    """

    def __init__(
        self,
        page: Any,
        db: str | os.PathLike[str] | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        screenshots: bool = True,
        dom: bool = True,
        *,
        redact: list[str] | tuple[str, ...] = (),
        mask: list[str] | tuple[str, ...] = (),
        screenshot_size: tuple[int, int] | None = (800, 800),
        agent_run: Any = None,
        sandbox_session: Any = None,
        owner: Any = None,
        max_bytes: int | None = None,
        store: RecordingStore | None = None,
        recording: Recording | None = None,
        resource_max_bytes: int | None = DEFAULT_RESOURCE_MAX_BYTES,
        events: bool = True,
        bodies: bool | int = False,
        redact_headers: list[str] | tuple[str, ...] = (),
        run_id: str | None = None,
    ) -> None:
        self.page = page
        self._is_async = _is_async_page(page)
        self._db = db
        self._name = name
        self._metadata = metadata
        self._options = Options(screenshots=screenshots, dom=dom, redact=tuple(redact), mask=tuple(mask),
                                screenshot_size=screenshot_size, resource_max_bytes=resource_max_bytes,
                                events=events, bodies=body_limit(bodies), redact_headers=tuple(redact_headers))
        self._max_bytes = max_bytes
        self._references = {"agent_run": agent_run, "sandbox_session": sandbox_session, "owner": owner,
                            "run_id": run_id}
        self._recording = recording
        self._store = recording.store if recording is not None else store
        self._owns_store = self._store is None
        self._session: Session | None = None

    @property
    def recording(self) -> Recording:
        if self._session is None:
            raise RecorderError("the recording starts when the `with record(page)` block is entered")
        return self._session.recording

    def _check_page(self) -> dict[str, Any]:
        """Refuse a page that cannot be recorded, else claim it for this block (``_release_page``
        gives it back); what is known of it (start metadata)."""
        page = self.page
        if page.is_closed():
            raise RecorderError("cannot record a closed page: record() needs an open Playwright page")
        if ATTRIBUTE in page.__dict__ or _CLAIMED in page.__dict__:
            raise RecorderError("this page is already being recorded; nest record() blocks on different pages")
        install()
        metadata = {**_page_metadata(page), **(self._metadata or {})}
        # Claimed now, with no await between the check and the claim: the page's capture is
        # set only once the recording has started, and two async blocks entered together
        # (asyncio.gather) would otherwise both pass the check.
        page.__dict__[_CLAIMED] = self
        return metadata

    def _release_page(self) -> None:
        if self.page.__dict__.get(_CLAIMED) is self:
            del self.page.__dict__[_CLAIMED]

    def _open_recording(self, metadata: dict[str, Any]) -> Recording:
        """Open the store and start the recording: waits on the database (a thread of its own
        under the async API, so the event loop goes on)."""
        if self._store is None:
            self._store = RecordingStore(self._db if self._db is not None else None, max_bytes=self._max_bytes)
        if self._recording is not None:  # e.g. a user session started with start_user_session()
            recording = self._recording
            recording.update_metadata({k: v for k, v in metadata.items() if k not in recording.user_metadata})
            return recording
        return self._store.start(name=self._name, metadata=metadata, **self._references)

    def _begin(self, recording: Recording) -> Session:
        self._session = Session(recording, self._options, is_async=self._is_async)
        self.page.recording = recording
        return self._session

    def _finish(self, exc: BaseException | None) -> None:
        assert self._session is not None and self._store is not None
        recording = self._session.recording
        try:
            if exc is None:
                recording.complete()
            else:  # an assertion message may quote what the page showed, secrets included
                recording.fail(self._session.scrub(f"{type(exc).__name__}: {exc}".split("\nCall log:")[0]))
            if not self._owns_store:
                self._store.flush(tiled=False)  # durable now; tiling goes on in the writer's idle time
        except DatabaseError:
            pass  # the disk refused the write; the store has warned once, and the code under test goes on
        finally:
            if self._owns_store:  # page.recording still reads, from the file as written
                self._store.close(keep_reading=True)

    def scrub(self, text: str) -> str:
        """``text`` with every secret typed so far in this recording cut out."""
        return self._session.scrub(text) if self._session is not None else text  # type: ignore[return-value]

    def add_secret(self, value: str) -> None:
        """Cut ``value`` out of everything recorded from now on, as a typed secret is (a value
        the code knows is secret before any field says so: a replayed password)."""
        if self._session is None:
            raise RecorderError("the recording starts when the `with record(page)` block is entered")
        self._session.scrub.add(value)

    def __enter__(self) -> Any:
        if self._is_async:
            raise TypeError("this is an async page: use `async with record(page) as page:`")
        metadata = self._check_page()
        try:
            session = self._begin(self._open_recording(metadata))
            run_sync(_register_target_engine(session, self.page))
            run_sync(session.attach(self.page))
        except BaseException:
            self._release_page()
            raise
        return self.page

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._session is not None
        try:
            run_sync(self._session.detach_all())
        finally:
            try:
                self._finish(exc)
            finally:
                self._release_page()

    async def __aenter__(self) -> Any:
        if not self._is_async:
            raise TypeError("this is a sync page: use `with record(page) as page:`")
        metadata = self._check_page()
        try:
            session = self._begin(await asyncio.to_thread(self._open_recording, metadata))
            await run_async(_register_target_engine(session, self.page))
            await run_async(session.attach(self.page))
        except BaseException:
            self._release_page()
            raise
        return self.page

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._session is not None
        try:
            try:
                await _await_in_flight(self._session)
            finally:  # (also when cancelled while waiting: the page must not stay hooked)
                await run_async(self._session.detach_all())
        finally:
            try:
                # Ending the recording and closing the store wait on the database: off the loop.
                await asyncio.to_thread(self._finish, exc)
            finally:
                self._release_page()


async def _await_in_flight(session: Session) -> None:
    """Wait (up to IN_FLIGHT_GRACE_S) for the calls recorded into ``session`` that other tasks
    still run, so that each is recorded with its outcome. Those still running then would be
    recorded after the recording ended, that is not at all: the recording's metadata names
    them (``unfinished_actions``), their sequence numbers being left unused."""
    await asyncio.sleep(0)  # a task created just before the block ended starts its call now
    runs = _RUNNING.get(session)
    if not runs:
        return
    waits = [asyncio.ensure_future(running.done.wait()) for running in runs]
    try:
        await asyncio.wait(waits, timeout=IN_FLIGHT_GRACE_S)
    finally:  # (also when the exit itself is cancelled)
        for wait in waits:
            wait.cancel()
    unfinished = sorted(runs, key=lambda running: running.sequence or 0)
    if unfinished:
        try:
            session.recording.update_metadata({"unfinished_actions": [
                {"sequence": running.sequence, "api": running.api, "page_index": running.capture.index,
                 "source": running.source} for running in unfinished]})
        except Exception:
            pass  # recording must never break the code it watches


def _engine_selectors(page: Any, is_async: bool) -> Any:
    """The ``selectors`` of the Playwright that made ``page`` (None where it cannot be found:
    a persistent context has no browser). Playwright does not hand it out from a page, so
    this is the one place that reaches for it."""
    try:
        impl = page.context.browser.browser_type._impl_obj._playwright.selectors
    except AttributeError:
        return None
    from playwright import async_api, sync_api

    return (async_api.Selectors if is_async else sync_api.Selectors)(impl)


def _register_target_engine(session: Session, page: Any) -> Flow:
    """Register recorder's selector engine (inpage/engine.js) with the page's Playwright,
    once per Playwright; ``session.target_engine`` says whether it is there."""
    selectors = _engine_selectors(page, session.is_async)
    if selectors is None:
        return
    try:
        yield lambda: selectors.register(inpage.TARGET_ENGINE, script=inpage.engine_source(), content_script=True)
        session.target_engine = True
    except Exception as exc:  # registered by an earlier record(): as good
        session.target_engine = "already registered" in str(exc)


def _page_metadata(page: Any) -> dict[str, Any]:
    """What is known of the page at the start: its URL, viewport and browser."""
    metadata: dict[str, Any] = {"start_url": page.url, "viewport": page.viewport_size}
    try:
        browser = page.context.browser
        if browser is not None:
            metadata["browser"] = browser.browser_type.name
            metadata["browser_version"] = browser.version
    except Exception:
        pass
    return metadata

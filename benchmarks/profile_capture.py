"""Where recorder's time per action goes, on overhead.py's pages: a profile, not a benchmark.

    python3 benchmarks/profile_capture.py                  # both pages, 60 actions each
    python3 benchmarks/profile_capture.py --pages shop --actions 120 --repeat 20

Three parts, per page (the pages and session of benchmarks/overhead.py):

1. The session recorded with recorder's own steps timed from outside (this process wraps
   PageCapture's flows, its CDP calls and the store's methods; recorder itself is not
   changed): per action, how long the whole recorded call took, the Playwright call in it,
   and inside recorder's share the element lookup (Locator calls through the
   recorder-target selector engine), the DOM snapshot (its Runtime.evaluate round trip,
   keeping resources, the size of the patch it sent), screencast frames handled on the
   caller's thread, record_action; every CDP method by count and time; the writer
   thread's busy time.
2. In the page, through a CDP session of this script's own in an isolated world with
   world.js installed: performance.now() around `__recorder__.snapshot({})` (the
   serializer alone), the same call returning its HTML (serializer + transfer), a bare
   Runtime.evaluate round trip (and one right after an action: the page still busy with
   it), document.documentElement.outerHTML for scale, elementInfo alone, and V8 sampling
   profiles of the serializer by function, cold (a fresh world) and warm (after an action).
3. The element lookup and its alternatives, round trip by round trip: two calls (count,
   then get_attribute), one (recorder's `or_` fallback, where it has it; all_text_contents
   of an engine that returns the JSON as text), Playwright's own bounding_box for scale;
   plus what the writer thread spends compressing one DOM snapshot against the previous one.

Absolute times on a shared 2-core machine are noise; compare the numbers of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from playwright.sync_api import CDPSession, Locator, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import PAGES, VIEWPORT, WARM_UP, BenchPage, site_served, step  # noqa: E402

from recorder import inpage, launch_options, record  # noqa: E402
from recorder import _core, blobs, resources, store  # noqa: E402

# -- timing recorder from outside ----------------------------------------------------------


class Probe:
    """Times of labelled spans, per recorded action and in total (caller's thread), and the
    writer thread's busy time."""

    def __init__(self) -> None:
        self.current: dict[str, float] | None = None  # the action being recorded
        self.actions: list[dict[str, float]] = []
        self.outside: dict[str, float] = defaultdict(float)  # spans outside any action (goto's events...)
        self.counts: dict[str, int] = defaultdict(int)
        self.totals: dict[str, float] = defaultdict(float)
        self.writer: dict[str, float] = defaultdict(float)
        self.writer_lock = threading.Lock()
        self.sizes: dict[str, list[int]] = defaultdict(list)

    def add(self, label: str, seconds: float) -> None:
        self.counts[label] += 1
        self.totals[label] += seconds
        into = self.current if self.current is not None else self.outside
        into[label] = into.get(label, 0.0) + seconds

    def add_writer(self, label: str, seconds: float) -> None:
        with self.writer_lock:
            self.writer[label] += seconds
            self.writer[label + " (count)"] += 1


PROBE = Probe()


def _timed_flow(label: str | Callable[..., str], function: Callable[..., Any]) -> Callable[..., Any]:
    """A generator method wrapped: its wall time, the steps it yields (run by run_sync) included."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = label(*args, **kwargs) if callable(label) else label
        began = time.perf_counter()
        try:
            return (yield from function(*args, **kwargs))
        finally:
            PROBE.add(name, time.perf_counter() - began)

    return wrapper


def _timed_call(label: str | Callable[..., str | None], function: Callable[..., Any],
                writer: bool = False) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = label(*args, **kwargs) if callable(label) else label
        if name is None:
            return function(*args, **kwargs)
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            (PROBE.add_writer if writer else PROBE.add)(name, time.perf_counter() - began)

    return wrapper


def _ask_label(self: Any, expression: str, *args: Any, **kwargs: Any) -> str:
    if expression == "0":
        return "Runtime.evaluate: is the page answering ('0')"
    if expression.startswith(f"globalThis.{inpage.WORLD_NAME} = "):
        return "Runtime.evaluate: install world.js"
    if ".snapshot(" in expression:
        return "Runtime.evaluate: snapshot (serializer + transfer)"
    return "Runtime.evaluate: other question"


def _cdp_label(self: Any, method: str, *args: Any, **kwargs: Any) -> str:
    return f"CDP {method}"


def _locator_label(kind: str) -> Callable[..., str | None]:
    def label(self: Any, *args: Any, **kwargs: Any) -> str | None:
        selector = _core.locator_selector(self) or ""
        return f"element lookup: {kind}" if inpage.TARGET_ENGINE in selector else None
    return label


def _action(function: Callable[..., Any]) -> Callable[..., Any]:
    """PageCapture.action: one dict of spans per recorded action, the Playwright call timed apart."""

    @functools.wraps(function)
    def wrapper(self: Any, spec: Any, api: str, owner: Any, call: Any, arguments: dict[str, Any],
                source: Any = None) -> Any:
        outer, PROBE.current = PROBE.current, {}
        spans = PROBE.current

        def timed_call() -> Any:
            began = time.perf_counter()
            try:
                return call()
            finally:
                spans["the Playwright call itself"] = spans.get("the Playwright call itself", 0.0) \
                    + time.perf_counter() - began

        began = time.perf_counter()
        try:
            return (yield from function(self, spec, api, owner, timed_call, arguments, source))
        finally:
            spans["whole recorded action"] = time.perf_counter() - began
            spans["api"] = api  # type: ignore[assignment]
            PROBE.actions.append(spans)
            PROBE.current = outer

    return wrapper


@contextlib.contextmanager
def probing() -> Iterator[list[str]]:
    """Wrap recorder's steps (and CDPSession.send, Locator.count/get_attribute) for a while;
    yields the names of what could not be found (renamed since this script was written)."""
    patches: list[tuple[Any, str, Any]] = []
    missing: list[str] = []

    def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__.get(name)
        if original is None:
            missing.append(f"{owner.__name__}.{name}")
            return
        patches.append((owner, name, original))
        setattr(owner, name, make(original))

    capture = _core.PageCapture
    patch(capture, "action", _action)
    patch(capture, "answers", lambda f: _timed_flow("answers(): is the page answering", f))
    patch(capture, "target_info", lambda f: _timed_flow("element lookup (target_info)", f))
    patch(capture, "snapshot_dom", lambda f: _timed_flow("DOM snapshot (snapshot_dom)", f))
    patch(capture, "_foreign_frame_snapshots", lambda f: _timed_flow("DOM snapshot: frames of other origins", f))
    patch(capture, "_ask", lambda f: _timed_flow(_ask_label, f))
    patch(capture, "_new_world", lambda f: _timed_flow("new isolated world", f))
    patch(capture, "_snapshot_pending", lambda f: _timed_flow("DOM snapshot of pending events", f))
    patch(capture, "_on_screencast_frame", lambda f: _timed_call("screencast frame handled (ack + attach)", f))
    patch(capture, "_on_response", lambda f: _timed_call("Network.responseReceived handled", f))
    if callable(getattr(_core, "_apply_patch", None)):
        original_patch = _core._apply_patch

        def sized_patch(before: str, change: dict[str, Any]) -> str:
            PROBE.sizes["snapshot patch text (chars)"].append(len(change.get("text") or ""))
            PROBE.sizes["snapshot HTML (chars)"].append(len(before))
            return original_patch(before, change)

        patches.append((_core, "_apply_patch", original_patch))
        _core._apply_patch = sized_patch  # type: ignore[attr-defined]
    patch(resources.ResourceKeeper, "keep", lambda f: _timed_flow("keeping resources (ResourceKeeper.keep)", f))
    patch(store.Recording, "record_action", lambda f: _timed_call("Recording.record_action", f))
    patch(store.Recording, "attach_screenshot", lambda f: _timed_call("Recording.attach_screenshot", f))
    patch(store.Recording, "reserve_sequence", lambda f: _timed_call("Recording.reserve_sequence", f))
    patch(store.Recording, "record_resource", lambda f: _timed_call("Recording.record_resource", f))
    patch(CDPSession, "send", lambda f: _timed_call(_cdp_label, f))
    patch(Locator, "count", lambda f: _timed_call(_locator_label("Locator.count"), f))
    patch(Locator, "get_attribute", lambda f: _timed_call(_locator_label("Locator.get_attribute"), f))
    # The writer thread.
    from recorder.storage import blobstore

    blob_store = blobstore.BlobStore
    patch(blob_store, "put", lambda f: _timed_call("writer: BlobStore.put (DOM snapshot zstd delta, raw frame)",
                                                   f, writer=True))
    patch(blob_store, "put_whole", lambda f: _timed_call("writer: BlobStore.put_whole (resources)", f, writer=True))
    patch(blob_store, "tile_next", lambda f: _timed_call("writer: BlobStore.tile_next (idle tiling)", f, writer=True))
    try:
        yield missing
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


# -- part 1: a recorded session, timed -----------------------------------------------------


def bare_ms(page: Page, bench: BenchPage, url: str, actions: int) -> float:
    page.goto(url)
    for k in range(WARM_UP):
        step(page, bench, k, 7)
    began = time.perf_counter()
    for k in range(actions):
        step(page, bench, k, 0)
    return (time.perf_counter() - began) * 1000 / actions


def recorded_session(browser: Any, bench: BenchPage, url: str, actions: int, db: Path) -> dict[str, Any]:
    global PROBE
    PROBE = Probe()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    bare = bare_ms(page, bench, url, actions)
    context.close()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    with probing() as missing:
        with record(page, db=db, name=f"profile {bench.name}") as page:
            page.goto(url)
            for k in range(WARM_UP):
                step(page, bench, k, 7)
            PROBE.actions.clear()
            PROBE.totals.clear()
            PROBE.counts.clear()
            PROBE.outside.clear()
            PROBE.sizes.clear()
            with PROBE.writer_lock:
                PROBE.writer.clear()
            began = time.perf_counter()
            for k in range(actions):
                step(page, bench, k, 0)
            loop = time.perf_counter() - began
            with PROBE.writer_lock:
                writer = dict(PROBE.writer)
        probe = PROBE
    context.close()
    return {"bare_ms": bare, "loop_ms": loop * 1000 / actions, "probe": probe, "writer": writer,
            "missing": missing}


def report_session(bench: BenchPage, result: dict[str, Any], actions: int) -> dict[str, Any]:
    probe: Probe = result["probe"]
    rows = probe.actions
    labels = sorted({key for row in rows for key in row if key != "api"})

    def per_action(label: str) -> tuple[float, float, int]:
        values = [row.get(label, 0.0) * 1000 for row in rows]
        present = sum(1 for row in rows if label in row)
        return statistics.mean(values), statistics.median(values), present

    whole = per_action("whole recorded action")[0]
    call = per_action("the Playwright call itself")[0]
    print(f"\n1. recorded session, {actions} timed actions ({len(rows)} seen by the probe)")
    print(f"   bare Playwright {result['bare_ms']:.1f} ms/action (same session, own context, just before);"
          f" recorded loop {result['loop_ms']:.1f} ms/action")
    print(f"   whole recorded action {whole:.1f} ms = Playwright call {call:.1f} ms + recorder {whole - call:.1f} ms"
          f" (+ {result['loop_ms'] - whole:.1f} ms between actions)")
    print(f"   {'span (inclusive; nested spans are inside their parents)':<66} {'mean ms':>8} {'median':>7} "
          f"{'actions':>7} {'calls':>6}")
    order = sorted(labels, key=lambda label: -per_action(label)[0])
    out: dict[str, Any] = {"bare_ms": result["bare_ms"], "loop_ms": result["loop_ms"], "spans": {}}
    for label in order:
        mean, median, present = per_action(label)
        count = probe.counts.get(label, present)
        print(f"   {label:<66} {mean:>8.2f} {median:>7.2f} {present:>7} {count:>6}")
        out["spans"][label] = {"mean_ms": mean, "median_ms": median, "actions": present, "calls": count}
    by_api: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_api[str(row["api"])].append((row["whole recorded action"] - row.get("the Playwright call itself", 0)) * 1000)
    print("   recorder's share by call: " + "; ".join(
        f"{api} {statistics.mean(values):.1f} ms (median {statistics.median(values):.1f})"
        for api, values in sorted(by_api.items())))
    if probe.outside:
        print("   outside any action (between actions, incl. screencast frames handled then): " + ", ".join(
            f"{label} {seconds * 1000 / actions:.2f} ms/action" for label, seconds in
            sorted(probe.outside.items(), key=lambda item: -item[1])))
    for label, values in probe.sizes.items():
        ordered = sorted(values)
        print(f"   {label}: median {statistics.median(ordered):,.0f}, 90th percentile "
              f"{ordered[int(0.9 * (len(ordered) - 1))]:,}, max {ordered[-1]:,} ({len(ordered)} snapshots)")
    if "snapshot patch text (chars)" in probe.sizes:
        out["patch_chars_median"] = statistics.median(probe.sizes["snapshot patch text (chars)"])
    writer = result["writer"]
    busy = {label: seconds for label, seconds in writer.items() if not label.endswith("(count)")}
    print(f"   writer thread busy {sum(busy.values()) * 1000 / actions:.1f} ms/action: " + ", ".join(
        f"{label} {seconds * 1000 / actions:.1f} ms/action ({int(writer.get(label + ' (count)', 0))} calls)"
        for label, seconds in sorted(busy.items(), key=lambda item: -item[1])))
    if result["missing"]:
        print(f"   (not timed, not found in recorder: {', '.join(result['missing'])})")
    out["writer_ms_per_action"] = {label: seconds * 1000 / actions for label, seconds in busy.items()}
    out["outside_ms_per_action"] = {label: seconds * 1000 / actions for label, seconds in probe.outside.items()}
    return out


# -- part 2: the serializer in the page ----------------------------------------------------


class World:
    """An isolated world of this script's own in the page's main frame, world.js installed
    (a world of another name is another copy of the library, with its own caches)."""

    def __init__(self, page: Page, name: str = "__recorder_profile__", cdp: CDPSession | None = None) -> None:
        self.cdp = cdp or page.context.new_cdp_session(page)
        tree = self.cdp.send("Page.getFrameTree")
        reply = self.cdp.send("Page.createIsolatedWorld", {"frameId": tree["frameTree"]["frame"]["id"],
                                                           "worldName": name})
        self.context = int(reply["executionContextId"])
        self.evaluate(inpage.install())

    def evaluate(self, expression: str) -> Any:
        reply = self.cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                   "contextId": self.context})
        if "exceptionDetails" in reply:
            raise RuntimeError(json.dumps(reply["exceptionDetails"])[:500])
        return reply["result"].get("value")

    def timed(self, expression: str) -> tuple[float, Any]:
        began = time.perf_counter()
        value = self.evaluate(expression)
        return (time.perf_counter() - began) * 1000, value


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values):7.2f} ms  (min {min(values):.2f}, max {max(values):.2f})"


def _profiled(cdp: CDPSession, runs: int, measure: Callable[[], None],
              prepare: Callable[[], None] | None = None) -> dict[tuple[str, str], float]:
    """V8's sampling profile (0.1 ms) of ``measure`` only (``prepare``, run before each, is
    not sampled): self ms by function, summed over ``runs``."""
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 100})
    total: dict[tuple[str, str], float] = defaultdict(float)
    for _ in range(runs):
        if prepare is not None:
            prepare()
        cdp.send("Profiler.start")
        measure()
        for key, ms in _profile_self_time(cdp.send("Profiler.stop")["profile"]).items():
            total[key] += ms
    cdp.send("Profiler.disable")
    return total


def _print_profile(title: str, self_time: dict[tuple[str, str], float], runs: int) -> None:
    total = sum(self_time.values()) or 1.0
    print(f"   {title}: {total / runs:.2f} ms of samples per snapshot; self time by function "
          f"(top 10 of {len(self_time)}):")
    for (function, where), ms in sorted(self_time.items(), key=lambda item: -item[1])[:10]:
        print(f"     {function or '(anonymous)':<28} {where:<22} {ms / runs:7.2f} ms/snapshot {100 * ms / total:5.1f}%")


def in_page(page: Page, bench: BenchPage, repeat: int) -> dict[str, Any]:
    """The serializer in the page: cold (a fresh world, nothing cached), warm with nothing
    changed, warm after one action; and what moving its answer to Python costs."""
    lib = f"globalThis.{inpage.WORLD_NAME}"
    options = {"redact": [], "mask": [], "maxChars": _core.MAX_DOM_CHARS}

    def timed_expression(since: str | None = None) -> str:
        arguments = json.dumps({**options, "since": since})
        return (f"(() => {{ const t0 = performance.now(); const r = {lib}.snapshot({arguments});"
                f" const t1 = performance.now(); return {{ms: t1 - t0, id: r.id || null,"
                f" html: r.html ? r.html.length : null, patch: r.patch ? r.patch.text.length : null}}; }})()")

    cdp = page.context.new_cdp_session(page)
    # Cold: every run in a world of its own, so nothing is cached.
    cold, cold_rt = [], []
    for index in range(repeat):
        world = World(page, f"__recorder_profile_cold_{index}__", cdp)
        rt, value = world.timed(timed_expression())
        cold.append(value["ms"])
        cold_rt.append(rt)
    html_chars = value["html"]
    fresh: list[World] = []
    cold_profile = _profiled(
        cdp, repeat, measure=lambda: fresh[-1].evaluate(timed_expression()),
        prepare=lambda: fresh.append(World(page, f"__recorder_profile_prof_{len(fresh)}__", cdp)))
    # Warm.
    world = World(page, "__recorder_profile__", cdp)
    first = world.evaluate(timed_expression())
    unchanged = [world.evaluate(timed_expression())["ms"] for _ in range(repeat)]
    # Warm, after one action each (what recorder pays per action), with and without the patch.
    after, after_rt, patch_rt, patch_chars, full_rt = [], [], [], [], []
    last = world.evaluate(timed_expression())["id"]
    k = 1000
    for _ in range(repeat):
        step(page, bench, k, 3)
        k += 1
        rt, value = world.timed(timed_expression(last))
        after.append(value["ms"])
        after_rt.append(rt)
        last = value["id"]
        for since, round_trips in ((last, patch_rt), (None, full_rt)):  # the patch, then the whole HTML
            step(page, bench, k, 3)
            k += 1
            rt, answer = world.timed(f"{lib}.snapshot({json.dumps({**options, 'since': since})})")
            round_trips.append(rt)
            last = answer.get("id")
            if "patch" in answer:
                patch_chars.append(len(answer["patch"]["text"]))

    def one_action() -> None:
        nonlocal k
        step(page, bench, k, 3)
        k += 1

    def snapshot_since_last() -> None:
        nonlocal last
        last = world.evaluate(timed_expression(last))["id"]

    warm_profile = _profiled(cdp, repeat, measure=snapshot_since_last, prepare=one_action)
    # A bare round trip right after an action: how long the page's main thread stays busy
    # with what the action set off (layout, paint), which any question asked then waits out.
    ping_after = []
    for _ in range(repeat):
        one_action()
        ping_after.append(world.timed("0")[0])
    ping = [world.timed("0")[0] for _ in range(repeat)]
    outer = [world.evaluate("(() => { const t0 = performance.now(); const n = document.documentElement.outerHTML"
                            ".length; return performance.now() - t0; })()") for _ in range(repeat)]
    outer_rt = [world.timed("document.documentElement.outerHTML")[0] for _ in range(repeat)]
    target = f"#{bench.field}{bench.items // 2}"
    element_info = [world.evaluate(
        f"(() => {{ const el = document.querySelector({json.dumps(target)}); const t0 = performance.now();"
        f" {lib}.elementInfo(el, []); return performance.now() - t0; }})()") for _ in range(repeat)]
    outer_chars = page.evaluate("document.documentElement.outerHTML.length")
    elements = page.evaluate("document.getElementsByTagName('*').length")
    print(f"\n2. the serializer in the page (isolated worlds of this script's own, world.js installed; "
          f"{repeat} runs each)")
    print(f"   snapshot HTML {html_chars:,} chars; outerHTML {outer_chars:,} chars; {elements:,} elements")
    rows = [
        ("cold (fresh world): performance.now() around snapshot()", cold),
        ("  its round trip, answer = timing only", cold_rt),
        ("warm, DOM unchanged", unchanged),
        ("warm, after one action (what recorder pays per action)", after),
        ("  its round trip, answer = timing only", after_rt),
        ("  its round trip returning the patch (since=last)", patch_rt),
        ("  its round trip returning the whole HTML (since=None)", full_rt),
        ("bare Runtime.evaluate round trip ('0')", ping),
        ("  the same, right after an action", ping_after),
        ("native document.documentElement.outerHTML, in page", outer),
        ("  its round trip returning the HTML", outer_rt),
        (f"elementInfo({target}) alone, in page", element_info),
    ]
    for label, values in rows:
        print(f"   {label:<58} {_stats(values)}")
    if patch_chars:
        print(f"   patch text per action: median {statistics.median(patch_chars):,.0f} chars "
              f"(max {max(patch_chars):,}) instead of {html_chars:,}")
    _print_profile(f"V8 profile, cold snapshot() x {repeat}", cold_profile, repeat)
    _print_profile(f"V8 profile, warm snapshot() after an action x {repeat}", warm_profile, repeat)
    snapshot_html = world.evaluate(f"{lib}.snapshot({json.dumps(options)}).html")
    cdp.detach()
    return {"html_chars": html_chars, "elements": elements, "first_warm_ms": first["ms"],
            **{key: statistics.median(values) if values else None for key, values in (
                ("cold_ms", cold), ("cold_round_trip_ms", cold_rt), ("unchanged_ms", unchanged),
                ("after_action_ms", after), ("after_action_round_trip_ms", after_rt),
                ("patch_round_trip_ms", patch_rt), ("full_round_trip_ms", full_rt), ("patch_chars", patch_chars),
                ("ping_ms", ping), ("ping_after_action_ms", ping_after), ("outer_html_ms", outer),
                ("outer_html_round_trip_ms", outer_rt),
                ("element_info_ms", element_info))},
            "cold_profile_ms": {f"{f} {w}": ms / repeat for (f, w), ms in
                                sorted(cold_profile.items(), key=lambda item: -item[1])[:20]},
            "warm_profile_ms": {f"{f} {w}": ms / repeat for (f, w), ms in
                                sorted(warm_profile.items(), key=lambda item: -item[1])[:20]},
            "snapshot_html": snapshot_html}


def _profile_self_time(profile: dict[str, Any]) -> dict[tuple[str, str], float]:
    """ms of self time per (function, url:line) in a CDP Profiler.Profile."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    samples = profile.get("samples", [])
    out: dict[tuple[str, str], float] = defaultdict(float)
    for index, node_id in enumerate(samples):
        # a sample's time is the delta to the next sample
        ms = (deltas[index + 1] if index + 1 < len(deltas) else 0) / 1000
        frame = nodes[node_id]["callFrame"]
        url = frame.get("url") or ""
        where = f"{url.rsplit('/', 1)[-1][:14]}:{frame.get('lineNumber', -1) + 1}" if url else \
            f"line {frame.get('lineNumber', -1) + 1}"
        name = frame.get("functionName") or ""
        if name in ("(idle)", "(program)", "(root)"):
            continue
        out[(name, where)] += ms
    return out


# -- part 3: the element lookup and its alternatives; the writer's compression ------------

TEXT_ENGINE = "bench-target-text"


def text_engine_source() -> str:
    """Like recorder's engine.js, but the element it yields carries the JSON as its text, so
    one all_text_contents() call finds and reads it (no count() first, no waiting)."""
    return ("(() => { const recorder = " + inpage.world_source() + "; return { queryAll(root, body) {"
            " let redact = []; try { redact = JSON.parse(decodeURIComponent(body)).redact || []; } catch (e) {}"
            " const out = document.createElement('div');"
            " out.textContent = JSON.stringify(recorder.elementInfo(root, redact)); return [out]; } }; })()")


def lookups(page: Page, bench: BenchPage, repeat: int) -> dict[str, Any]:
    selector = inpage.target_selector([])
    text_selector = selector.replace(inpage.TARGET_ENGINE, TEXT_ENGINE, 1)
    no_target = getattr(inpage, "NO_TARGET", None)  # recorder's one-call form (`or_` a fallback), where it has one
    times: dict[str, list[float]] = defaultdict(list)
    for k in range(repeat):
        target = page.locator(f"#{bench.field if k % 2 == 0 else bench.button}{(k * bench.stride) % bench.items}")
        found = target.locator(selector)
        began = time.perf_counter()
        count = found.count()
        middle = time.perf_counter()
        data = found.first.get_attribute("data", timeout=5000)
        end = time.perf_counter()
        times["two calls: count()"].append((middle - began) * 1000)
        times["  then first.get_attribute('data')"].append((end - middle) * 1000)
        times["  both"].append((end - began) * 1000)
        if no_target:
            began = time.perf_counter()
            either = found.or_(page.locator(no_target)).first.get_attribute("data", timeout=5000)
            times["one call: (engine or_ fallback).first.get_attribute"].append((time.perf_counter() - began) * 1000)
            assert either == data
        began = time.perf_counter()
        texts = target.locator(text_selector).all_text_contents()
        times["one call: all_text_contents() of a text engine"].append((time.perf_counter() - began) * 1000)
        assert count == 1 and texts and json.loads(texts[0])["css_path"] == json.loads(data or "{}")["css_path"]
        began = time.perf_counter()
        target.bounding_box()
        times["Playwright's own bounding_box() (scale)"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        page.locator("#nothing-like-this").count()
        times["Playwright count() of a plain selector (scale)"].append((time.perf_counter() - began) * 1000)
    print(f"\n3. element lookup, {repeat} elements over the page (round trips from Python)")
    for label, values in times.items():
        print(f"   {label:<58} {_stats(values)}")
    return {label.strip(): statistics.median(values) for label, values in times.items()}


def compression(snapshots: list[str], repeat: int) -> dict[str, float]:
    """The writer's work for one DOM snapshot: sha256 + zstd delta against the previous one."""
    if len(snapshots) < 2:
        return {}
    base, data = snapshots[0].encode(), snapshots[1].encode()
    delta, alone, key = [], [], []
    for _ in range(repeat):
        began = time.perf_counter()
        blobs.blob_key(data)
        middle = time.perf_counter()
        encoded = blobs.encode(data, "text/html", base=("base", base))
        end = time.perf_counter()
        key.append((middle - began) * 1000)
        delta.append((end - middle) * 1000)
        began = time.perf_counter()
        blobs.encode(data, "text/html")
        alone.append((time.perf_counter() - began) * 1000)
    print(f"   writer thread, one {len(data):,}-byte DOM snapshot: sha256 {_stats(key)}")
    print(f"   {'':<19}zstd delta vs the previous snapshot ({len(encoded.data):,} bytes) {_stats(delta)}")
    print(f"   {'':<19}zstd alone {_stats(alone)}")
    return {"sha256_ms": statistics.median(key), "zstd_delta_ms": statistics.median(delta),
            "zstd_ms": statistics.median(alone), "delta_bytes": len(encoded.data)}


# -- the run -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Profile where recorder's time per action goes on benchmarks/overhead.py's pages.",
        epilog="Run from the project root: python3 benchmarks/profile_capture.py  (a minute or two)")
    parser.add_argument("--actions", type=int, default=60, help="timed actions of the recorded session (default 60)")
    parser.add_argument("--repeat", type=int, default=15, help="repetitions of each in-page measure (default 15)")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated pages (default {','.join(PAGES)})")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.pages.split(",") if name.strip()]
    if not names or any(name not in PAGES for name in names) or args.actions < 2 or args.repeat < 2:
        parser.error(f"--pages from {', '.join(PAGES)}; --actions and --repeat at least 2")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        workdir = Path(tmp)
        with site_served(workdir) as (base, _), sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            playwright.selectors.register(TEXT_ENGINE, script=text_engine_source(), content_script=True)
            for name in names:
                bench = PAGES[name]
                url = base + bench.path
                title = f"page '{name}': {bench.describe}"
                print(f"\n{title}\n{'=' * len(title)}")
                # Warm the browser for this page (first load, JIT), untimed.
                context = browser.new_context(viewport=VIEWPORT)
                bare_ms(context.new_page(), bench, url, 10)
                context.close()
                session = recorded_session(browser, bench, url, args.actions, workdir / f"{name}.db")
                figures[name] = {"session": report_session(bench, session, args.actions)}
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                page.goto(url)
                for k in range(WARM_UP):
                    step(page, bench, k, 7)
                first = in_page(page, bench, args.repeat)
                step(page, bench, WARM_UP, 7)  # one more action: the next snapshot differs a little
                second = World(page).evaluate(
                    f"globalThis.{inpage.WORLD_NAME}.snapshot({{}}).html")
                figures[name]["lookup"] = lookups(page, bench, args.repeat)
                figures[name]["writer"] = compression([first.pop("snapshot_html"), second], args.repeat)
                figures[name]["in_page"] = first
                context.close()
            browser.close()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

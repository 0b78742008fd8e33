"""The viewer page for one recording, and the server's list of recordings.

The page's HTML, CSS and JavaScript are files in ``assets/`` (a front-end engineer's to
open, lint and change); they are read with importlib.resources and inlined here, so that
the page stays one self-contained file.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from importlib import resources as package_files
from typing import Any

from ..diff import align, diff_recordings, step_summary
from ..errors import RecorderError, RecordingNotFound
from ..store import Recording, RecordingStore

# What the viewer page may load (policy(), filled in by page_policy() and index_policy()):
# its own inline script and style sheet, each by its sha256 hash (no 'unsafe-inline': no
# other inline script, style element or style attribute runs or applies), screenshots and
# snapshot resources as data: and blob: URLs, and (served) its own server's blobs. DOM
# snapshots are srcdoc frames: they inherit this policy and add a stricter one of their own
# (snapshot.js), so their <style> text and style attributes are moved out of the markup
# before they are shown (blob: style sheets, and the CSSOM). No frame may navigate anywhere
# (frame-src): a link in a snapshot goes nowhere.
PAGE_POLICY = ("default-src 'none'; script-src {script}; style-src {style} data: blob:; "
               "img-src data: blob: 'self'; font-src data: blob:; media-src data: blob:; connect-src 'self'; "
               "frame-src 'none'; base-uri 'none'; form-action 'none'")
INDEX_POLICY = "default-src 'none'; style-src {style}; img-src data:; base-uri 'none'; form-action 'self'"
# In this order, as one <script>: events.js indexes the recording's events by action, one
# file per panel of the selected action, panels.js the tabs and the filter box over them.
SCRIPTS = ("resources.js", "snapshot.js", "events.js", "console.js", "network.js", "errors.js", "source.js",
           "panels.js", "compare.js", "viewer.js")
# Parts of a request event the served page fetches when a row is opened (/recording/ID/
# requests/SEQ), rather than carrying them for every request of a long recording.
REQUEST_DETAILS = ("request_headers", "response_headers", "request_body", "response_body", "timing")
BEFORE_FIRST = "before"  # the action "sequence" of events before the first action, in URLs


# A self-contained viewer embeds every snapshot in one JSON string, which the browser parses
# whole: V8 refuses strings past ~512 M characters (a 1.2 GB page of 521 snapshots of a 1.8 MB
# DOM crashed the tab). Past this much the file is refused with what to do instead.
EMBED_AT_MOST_CHARS = 200 * 2**20


@functools.lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of one of the viewer's files (``recorder/viewer/assets/<name>``)."""
    text = package_files.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")
    # Scripts and the style sheet are inlined into <script> and <style>: a closing tag inside
    # would end them early.
    if name.endswith((".js", ".css")) and re.search(r"</(script|style)", text, re.IGNORECASE):
        raise ValueError(f"recorder/viewer/assets/{name} must not contain '</script' or '</style'")
    return text


def source_hash(text: str) -> str:
    """The CSP source that allows exactly one inline <script> or <style> with this text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _script() -> str:
    """The viewer page's one script: the asset files, in order."""
    return "\n".join(asset(name) for name in SCRIPTS)


@functools.lru_cache(maxsize=None)
def page_policy() -> str:
    """The viewer page's Content-Security-Policy (its <meta>, and served, its header)."""
    return PAGE_POLICY.format(script=source_hash(_script()), style=source_hash(asset("viewer.css")))


@functools.lru_cache(maxsize=None)
def index_policy() -> str:
    """The policy of the server's list of recordings (no script at all)."""
    return INDEX_POLICY.format(style=source_hash(asset("viewer.css")))


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no `</script>`, no `<!--`, no line separators."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def recording_data(store: RecordingStore, recording: Recording, *, embed: bool, max_actions: int | None = None,
                   only_errors: bool = False, compare: Recording | None = None) -> dict[str, Any]:
    """What the viewer page needs; with ``embed``, the snapshots themselves (as data: URIs / text).

    ``resources`` maps each URL the recording's snapshots use to its stored resource
    (``key``, media ``type``); with ``embed``, ``resource_data`` holds each resource's
    bytes (base64) once per key, however many snapshots and URLs use it.
    """
    timeline = everything = recording.timeline()
    total = len(timeline)
    if only_errors:
        timeline = [a for a in timeline if a["status"] == "error"]
    if max_actions is not None:
        timeline = timeline[:max_actions]
    actions = [{
        "sequence": a["sequence"], "type": a["type"], "selector": a["selector"], "value": a["value"],
        "url": a["url"], "status": a["status"], "error": a["error"], "timestamp_ms": a["timestamp_ms"],
        "duration_ms": a["duration_ms"], "screenshot": a["screenshot_key"], "dom": a["dom_snapshot_key"],
        "api": a["metadata"].get("api"), "redacted": bool(a["metadata"].get("redacted")),
        "box": a["metadata"].get("bounding_box"), "target": a["metadata"].get("target"),
        "page_index": a["metadata"].get("page_index", 0),
        "shot_before": a["metadata"].get("screenshot_timing") == "before_action",
        "source": _source_of(a["metadata"]),
    } for a in timeline]
    kept = recording.resources()
    data: dict[str, Any] = {"recording": recording.to_dict(), "actions": actions, "total_actions": total,
                            "trimmed": len(actions) < total, "embedded": embed,
                            "resources": {url: {"key": r["key"], "type": r["media_type"]} for url, r in kept.items()}}
    first_shown = bool(actions) and actions[0]["sequence"] == everything[0]["sequence"]
    data.update(_events_and_sources(store, recording, actions, first_shown=first_shown, embed=embed))
    original = None if compare is not None else _original_of(store, recording)
    if compare is not None:
        _compare(data, actions, recording, compare)
    elif original is not None:
        # A replay (`recorder replay ID --record`): each step next to the step it re-performed.
        # Lined up as `recorder diff` lines them up: a step replayed through a re-matched
        # selector still faces the step it re-performed.
        data["original"] = {"id": original.id, "name": original.name}
        re_performed = {pair.b["sequence"]: pair.a for pair in align(original.timeline(), everything)
                        if pair.b is not None}
        for action in actions:
            action["original"] = step_summary(re_performed.get(action["sequence"]))
    if embed:
        other = compare if compare is not None else original
        keys: set[str] = {a["screenshot"] for a in actions if a["screenshot"]}
        other_keys: set[str] = {key for key in [(a.get("original") or {}).get("screenshot_key") for a in actions]
                                + [step["step"]["screenshot_key"] for step in data.get("only_b", [])] if key}
        data["screenshots"] = {
            key: "data:image/jpeg;base64," + base64.b64encode(store.blob(key)).decode() for key in keys
        }
        if other is not None:  # B may be in another database
            data["screenshots"].update({
                key: "data:image/jpeg;base64," + base64.b64encode(other.store.blob(key)).decode()
                for key in other_keys - keys})
        data["doms"] = {}
        embedded = sum(len(uri) for uri in data["screenshots"].values())
        for key in sorted({a["dom"] for a in actions if a["dom"]}):
            data["doms"][key] = store.blob(key).decode("utf-8", "replace")
            embedded += len(data["doms"][key])
            if embedded > EMBED_AT_MOST_CHARS:  # as JSON in one string, past what V8 parses
                raise RecorderError(
                    f"recording {recording.id} is too big for one viewer file: its snapshots pass "
                    f"{EMBED_AT_MOST_CHARS // 2**20} MB; open it with `recorder view {recording.id} --serve`, "
                    f"or show fewer actions with --max-actions")
        data["resource_data"] = {key: base64.b64encode(store.blob(key)).decode()
                                 for key in sorted({r["key"] for r in kept.values()})}
    return data


def _compare(data: dict[str, Any], actions: list[dict[str, Any]], recording: Recording, other: Recording) -> None:
    """The compare view of any two recordings (``recorder view A --compare B``): each shown
    action of A with the step of B it lines up with (recorder/diff.py), and how they differ;
    the steps only B has (``only_b``, each after the A action it follows); the summary."""
    result = diff_recordings(recording, other)
    first = result.first
    data["original"] = {"id": other.id, "name": other.name}
    data["compare"] = {"id": other.id, "name": other.name, "status": other.status, "summary": result.summary(),
                       "first_a": None, "first_b": None, "same": first is None}
    by_sequence = {a["sequence"]: a for a in actions}
    only_b: list[dict[str, Any]] = []
    after: int | None = None  # the A action last seen, going down the alignment
    for index, pair in enumerate(result.pairs):
        differences = [{"kind": d.kind, "detail": d.detail} for d in pair.differences]
        if pair.a is not None:
            after = pair.a["sequence"]
            action = by_sequence.get(after)
            if action is None:
                continue
            action["original"] = step_summary(pair.b)
            action["differences"] = differences
            action["notes"] = pair.notes
            action["first_difference"] = index == first
            if index == first:
                data["compare"]["first_a"] = after
        else:
            assert pair.b is not None
            only_b.append({"after": after, "step": step_summary(pair.b), "differences": differences, "notes": pair.notes,
                           "first_difference": index == first})
            if index == first:
                data["compare"]["first_b"] = pair.b["sequence"]
                data["compare"]["first_a"] = after
    for action in actions:
        action.setdefault("original", None)
        action.setdefault("differences", [])
        action.setdefault("notes", [])
    data["only_b"] = only_b


def _source_of(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """An action's ``metadata.source`` ({file, line, function}) if it is one."""
    source = metadata.get("source")
    if isinstance(source, dict) and isinstance(source.get("file"), str) and isinstance(source.get("line"), int):
        return {"file": source["file"], "line": source["line"], "function": source.get("function")}
    return None


def _events_and_sources(store: RecordingStore, recording: Recording, actions: list[dict[str, Any]], *,
                        first_shown: bool, embed: bool) -> dict[str, Any]:
    """The events of the shown actions (and those before the first action, when it is
    shown), and the source files their calls were made from.

    Embedded, ``events`` are in the page with all their details and ``source_text`` holds
    the files' texts. Served, the page fetches its events after its first paint
    (``event_summaries``, from /recording/ID/events), so that a recording's many events do
    not delay it. ``sources`` maps each file the actions name to its text's key.
    """
    kept = recording.sources()
    named = {a["source"]["file"] for a in actions if a["source"]}
    sources = {path: kept[path]["key"] for path in sorted(named) if path in kept}
    if not embed:
        return {"events": None, "sources": sources}
    shown = {a["sequence"] for a in actions}
    events = []
    for event in recording.events():
        sequence = event["action_sequence"]
        if sequence in shown or (sequence is None and first_shown):
            event.pop("frame_id", None)
            events.append(event)
    return {"events": events, "sources": sources,
            "source_text": {key: store.blob(key).decode("utf-8", "replace") for key in set(sources.values())}}


def event_summaries(recording: Recording) -> list[dict[str, Any]]:
    """A recording's events for the served page: a request's headers, bodies and timing
    left out (``more``: the page fetches them, ``request_details``, when its row is opened)."""
    events = recording.events()
    for event in events:
        event.pop("frame_id", None)
        if event["kind"] == "request":
            for name in REQUEST_DETAILS:
                event.pop(name, None)
            event["more"] = True
    return events


def request_details(recording: Recording, sequence: str) -> list[dict[str, Any]]:
    """The request events of one action (its sequence, or ``before`` the first), in full:
    what a served page fetches when a request row is opened."""
    if sequence == BEFORE_FIRST:
        return [e for e in recording.events(kind="request") if e["action_sequence"] is None]
    return recording.events(kind="request", action=int(sequence))


def _original_of(store: RecordingStore, recording: Recording) -> Recording | None:
    """The recording this one replays (``metadata.replay_of``), if it is in the store."""
    original_id = recording.metadata.get("replay_of")
    try:
        return store.get(int(original_id)) if original_id is not None else None
    except (RecordingNotFound, TypeError, ValueError):
        return None


def render(store: RecordingStore, recording: Recording, *, embed: bool = True, max_actions: int | None = None,
           only_errors: bool = False, compare: Recording | None = None) -> str:
    """The viewer page for one recording (self-contained with ``embed``); with ``compare``,
    side by side with that recording (which may be in another store), at their first difference."""
    data = recording_data(store, recording, embed=embed, max_actions=max_actions, only_errors=only_errors,
                          compare=compare)
    title = html.escape(f"{recording.name} · recording {recording.id}"
                        + ("" if compare is None else f" vs {compare.id}"))
    return _fill(asset("page.html"), CSP=page_policy(), TITLE=title, STYLE=asset("viewer.css"),
                 DATA=_script_json(data), SCRIPT=_script())


def render_index(store: RecordingStore, status: str | None = None, name: str | None = None) -> str:
    """The server's list of recordings, filtered by status and a name substring."""
    recordings = [r for r in store.list(status=status or None) if not name or name.lower() in r.name.lower()]
    rows = "".join(
        f"<tr class='{html.escape(r.status)}'><td>{r.id}</td><td><a href='/recording/{r.id}'>{html.escape(r.name)}</a></td>"
        f"<td>{html.escape(r.status)}</td><td>{r.action_count}</td>"
        f"<td>{'' if r.duration_ms is None else f'{r.duration_ms / 1000:.1f} s'}</td>"
        f"<td>{html.escape(r.started_at[:19].replace('T', ' '))}</td></tr>"
        for r in recordings
    ) or "<tr><td colspan='6'>no recordings match</td></tr>"
    options = "".join(f"<option{' selected' if s == status else ''}>{s}</option>"
                      for s in ("", "recording", "completed", "failed", "interrupted"))
    return _fill(asset("index.html"), CSP=index_policy(), STYLE=asset("viewer.css"), ROWS=rows, OPTIONS=options,
                 NAME=html.escape(name or "", quote=True), DB=html.escape(str(store.path)))


def _fill(template: str, **parts: str) -> str:
    """Fill ``__NAME__`` placeholders in one pass: recorded text that happens to contain
    ``__SCRIPT__`` must stay text, not receive the next part."""
    return re.sub(r"__([A-Z]+)__", lambda match: parts.get(match.group(1), match.group(0)), template)

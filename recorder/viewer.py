"""Look at a recording in a browser: one self-contained HTML file, or a local server.

    html = render(store, recording)                  # every screenshot and DOM snapshot inside
    Path("failure.html").write_text(html)
    serve(store, port=0)                             # http://127.0.0.1:PORT/, blobs loaded lazily

Recorded pages are hostile input. Nothing recorded is ever put into the viewer's own HTML
as markup: the data travels as escaped JSON and is shown with ``textContent``; DOM
snapshots are shown only inside an ``<iframe sandbox>`` without ``allow-scripts``; the
server answers on 127.0.0.1 only and serves only blobs its database's actions use.
"""

from __future__ import annotations

import base64
import html
import http.server
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import RecordingNotFound
from .store import Recording, RecordingStore

_KEY = re.compile(r"^[0-9a-f]{64}$")


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no `</script>`, no `<!--`, no line separators."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def recording_data(store: RecordingStore, recording: Recording, *, embed: bool, max_actions: int | None = None,
                   only_errors: bool = False) -> dict[str, Any]:
    """What the viewer page needs; with ``embed``, the snapshots themselves (as data: URIs / text)."""
    timeline = recording.timeline()
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
    } for a in timeline]
    data: dict[str, Any] = {"recording": recording.to_dict(), "actions": actions, "total_actions": total,
                            "trimmed": len(actions) < total, "embedded": embed}
    original = _original_of(store, recording)
    if original is not None:
        # A replay (`recorder replay ID --record`): each step next to the step it re-performed.
        data["original"] = {"id": original.id, "name": original.name}
        for action, step in zip(actions, align_steps(original.timeline(), timeline)):
            action["original"] = None if step is None else {
                "sequence": step["sequence"], "type": step["type"], "status": step["status"],
                "screenshot": step["screenshot_key"],
            }
    if embed:
        keys = {a["screenshot"] for a in actions} | {(a.get("original") or {}).get("screenshot") for a in actions}
        data["screenshots"] = {
            key: "data:image/jpeg;base64," + base64.b64encode(store.blob(key)).decode() for key in keys if key
        }
        data["doms"] = {key: store.blob(key).decode("utf-8", "replace")
                        for key in {a["dom"] for a in actions if a["dom"]}}
    return data


def _original_of(store: RecordingStore, recording: Recording) -> Recording | None:
    """The recording this one replays (``metadata.replay_of``), if it is in the store."""
    original_id = recording.metadata.get("replay_of")
    try:
        return store.get(int(original_id)) if original_id is not None else None
    except (RecordingNotFound, TypeError, ValueError):
        return None


def align_steps(original: list[dict[str, Any]], replayed: list[dict[str, Any]],
                window: int = 8) -> list[dict[str, Any] | None]:
    """For each replayed action, the original action it re-performed, or None.

    Greedy and in order: the next original action (within ``window``) of the same type and
    selector. Steps a replay skipped or added (a navigation a click caused) match nothing.
    """
    matched: list[dict[str, Any] | None] = []
    start = 0
    for action in replayed:
        found = next((i for i in range(start, min(len(original), start + window))
                      if (original[i]["type"], original[i]["selector"]) == (action["type"], action["selector"])), None)
        matched.append(None if found is None else original[found])
        if found is not None:
            start = found + 1
    return matched


def render(store: RecordingStore, recording: Recording, *, embed: bool = True, max_actions: int | None = None,
           only_errors: bool = False) -> str:
    """The viewer page for one recording (self-contained with ``embed``)."""
    data = recording_data(store, recording, embed=embed, max_actions=max_actions, only_errors=only_errors)
    title = html.escape(f"{recording.name} · recording {recording.id}")
    return _fill(_PAGE, TITLE=title, STYLE=_STYLE, DATA=_script_json(data), SCRIPT=_SCRIPT)


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
    return _fill(_INDEX, STYLE=_STYLE, ROWS=rows, OPTIONS=options, NAME=html.escape(name or "", quote=True),
                 DB=html.escape(str(store.path)))


def _fill(template: str, **parts: str) -> str:
    """Fill ``__NAME__`` placeholders in one pass: recorded text that happens to contain
    ``__SCRIPT__`` must stay text, not receive the next part."""
    return re.sub(r"__([A-Z]+)__", lambda match: parts.get(match.group(1), match.group(0)), template)


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
                self._send(200, render_index(self.store, query.get("status"), query.get("name")), "text/html")
            elif match := re.fullmatch(r"/recording/(\d+)", url.path):
                recording = self.store.get(int(match.group(1)))
                self._send(200, render(self.store, recording, embed=False), "text/html")
            elif match := re.fullmatch(r"/blob/([^/]+)", url.path):
                self._blob(match.group(1))
            else:
                self._send(404, "not found", "text/plain")
        except RecordingNotFound as exc:
            self._send(404, str(exc), "text/plain")

    def _blob(self, key: str) -> None:
        used = _KEY.match(key) and self.store._call(lambda conn: conn.execute(
            "SELECT EXISTS (SELECT 1 FROM actions WHERE screenshot_key = ?1 OR dom_snapshot_key = ?1)", (key,)
        ).fetchone()[0])
        if not used:
            self._send(404, "no such blob in this database", "text/plain")
            return
        media_type = self.store.blob_info(key)["media_type"]
        # A DOM snapshot goes out as plain text: opened directly, it must not run as a page.
        self._send(200, self.store.blob(key), media_type if media_type.startswith("image/") else "text/plain",
                   cache=True)

    def _send(self, status: int, body: str | bytes, media_type: str, cache: bool = False) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "private, max-age=31536000, immutable" if cache else "no-store")
        self.end_headers()
        self.wfile.write(data)


def make_server(store: RecordingStore, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A viewer server on 127.0.0.1 (never another interface); ``serve_forever()`` it."""
    handler = type("Handler", (_Handler,), {"store": store})
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_in_thread(store: RecordingStore, port: int = 0) -> tuple[str, http.server.ThreadingHTTPServer]:
    server = make_server(store, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


_STYLE = """
:root { --bg:#f6f7f9; --fg:#1d2330; --muted:#6b7383; --line:#dde1e7; --accent:#2563eb; --bad:#c62828; --ok:#2e7d32; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
header { padding:10px 16px; background:#fff; border-bottom:1px solid var(--line); }
header h1 { font-size:17px; margin:0 0 4px; }
.meta { color:var(--muted); font-size:12px; display:flex; flex-wrap:wrap; gap:4px 16px; }
.status { font-weight:600; padding:1px 8px; border-radius:9px; background:#e8eefc; color:var(--accent); }
.status.failed, .status.interrupted { background:#fdecea; color:var(--bad); }
.status.completed { background:#e8f5e9; color:var(--ok); }
.error-line { color:var(--bad); margin-top:4px; white-space:pre-wrap; }
main { display:grid; grid-template-columns: minmax(300px, 36%) 1fr; height: calc(100vh - 150px); }
#timeline { overflow:auto; border-right:1px solid var(--line); background:#fff; }
.row { display:grid; grid-template-columns: 44px 78px 1fr 64px; gap:6px; padding:5px 8px; border-bottom:1px solid #f0f1f4; cursor:pointer; }
.row:hover { background:#f3f6fd; } .row.selected { background:#dbe6fd; }
.row.error { color:var(--bad); } .row .seq { color:var(--muted); text-align:right; }
.row .what { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.row .value { color:var(--muted); } .row .err { grid-column: 2 / 5; font-size:12px; white-space:normal; }
.bar { height:6px; background:#c7d5f7; border-radius:3px; align-self:center; }
.row.error .bar { background:#f3b7b3; }
#stage { display:flex; flex-direction:column; min-width:0; }
#controls { display:flex; gap:8px; align-items:center; padding:8px 12px; background:#fff; border-bottom:1px solid var(--line); flex-wrap:wrap; }
#controls button, #controls select { font:inherit; padding:3px 10px; border:1px solid var(--line); border-radius:6px; background:#fff; cursor:pointer; }
#controls button.on { background:var(--accent); color:#fff; border-color:var(--accent); }
#caption { color:var(--muted); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; flex:1; min-width:100px; }
#view { flex:1; overflow:auto; padding:12px; position:relative; }
#shot-wrap { position:relative; display:inline-block; box-shadow:0 1px 4px #0002; background:#fff; }
#shot { display:block; max-width:100%; }
#view.compare #shot-wrap, #view.compare #original-wrap { max-width:49%; vertical-align:top; }
#original-wrap { display:none; margin:0 0 0 1%; box-shadow:0 1px 4px #0002; background:#fff; }
#view.compare #original-wrap { display:inline-block; }
#original-wrap img { display:block; max-width:100%; } #original-wrap figcaption { padding:4px 8px; color:var(--muted); font-size:12px; }
#box { position:absolute; border:3px solid #e53935; box-shadow:0 0 0 2000px #0000; pointer-events:none; display:none; }
#dom { width:100%; height:100%; min-height:480px; border:1px solid var(--line); background:#fff; display:none; }
.note { color:var(--muted); padding:24px; }
.warn { color:#8a5a00; background:#fff4d6; border:1px solid #f0d890; border-radius:6px; padding:4px 10px; margin-bottom:8px; font-size:13px; }
#filmstrip { display:flex; gap:6px; overflow-x:auto; padding:6px 10px; background:#fff; border-top:1px solid var(--line); height:88px; }
#filmstrip figure { margin:0; flex:0 0 auto; cursor:pointer; text-align:center; font-size:11px; color:var(--muted); }
#filmstrip img { height:60px; border:2px solid transparent; border-radius:3px; display:block; }
#filmstrip figure.selected img { border-color:var(--accent); }
table.list { border-collapse:collapse; width:100%; background:#fff; } table.list td, table.list th { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left; }
tr.failed td, tr.interrupted td { color:var(--bad); }
form.filter { padding:10px 16px; display:flex; gap:8px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: blob: 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; frame-src 'self' about: data: blob:">
<title>__TITLE__</title><style>__STYLE__</style></head>
<body>
<header><h1 id="name"></h1><div class="meta" id="meta"></div><div class="error-line" id="error"></div></header>
<main>
  <section id="timeline" aria-label="actions"></section>
  <section id="stage">
    <div id="controls">
      <button id="prev" title="previous (Left)">&#9664;</button><button id="play" title="play (Space)">&#9654; play</button>
      <button id="next" title="next (Right)">&#9654;</button>
      <select id="speed" title="speed"><option value="0.5">0.5&times;</option><option value="1" selected>1&times;</option><option value="2">2&times;</option><option value="4">4&times;</option></select>
      <button id="show-shot" class="on">Screenshot</button><button id="show-dom">DOM</button>
      <button id="compare" hidden title="side by side with the recording this one replays (c)">Compare with original</button>
      <span id="caption"></span>
    </div>
    <div id="view">
      <div id="shot-late" class="warn" hidden>This screenshot was painted before the action ran, and the browser painted nothing more until the next action had begun: what this action changed, if anything visible, may not show.</div>
      <div id="shot-wrap"><img id="shot" alt="screenshot after the action"><div id="box"></div></div><figure id="original-wrap"><img id="original-shot" alt="the original's screenshot"><figcaption id="original-caption"></figcaption></figure>
      <div id="no-shot" class="note" hidden>No screenshot was recorded for this action.</div>
      <iframe id="dom" sandbox title="DOM snapshot (scripts disabled)"></iframe>
    </div>
    <div id="filmstrip" aria-label="filmstrip"></div>
  </section>
</main>
<script type="application/json" id="data">__DATA__</script>
<script>__SCRIPT__</script>
</body></html>"""

_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>recordings</title><style>__STYLE__</style></head>
<body><header><h1>Recordings</h1><div class="meta">__DB__</div></header>
<form class="filter" method="get"><select name="status">__OPTIONS__</select>
<input name="name" placeholder="name contains" value="__NAME__"><button>Filter</button></form>
<table class="list"><thead><tr><th>ID</th><th>Name</th><th>Status</th><th>Actions</th><th>Duration</th><th>Started (UTC)</th></tr></thead>
<tbody>__ROWS__</tbody></table></body></html>"""

# Everything recorded is put on the page with textContent or as an attribute value, never
# parsed as markup here; snapshots are parsed only inside the sandboxed iframe.
_SCRIPT = r"""
const data = JSON.parse(document.getElementById('data').textContent);
const actions = data.actions, rec = data.recording;
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
let current = 0, mode = 'shot', timer = null;

$('name').textContent = rec.name + '  (recording ' + rec.id + ')';
const meta = $('meta');
const status = el('span', 'status ' + rec.status, rec.status); meta.append(status);
const facts = [['duration', rec.duration_ms == null ? '-' : (rec.duration_ms / 1000).toFixed(1) + ' s'],
  ['started', rec.started_at], ['actions', data.total_actions + (data.trimmed ? ' (showing ' + actions.length + ')' : '')]];
for (const [k, v] of Object.entries(rec.metadata || {})) if (['nodeid', 'file', 'browser', 'start_url', 'replay_of', 'outcome', 'session_type'].includes(k)) facts.push([k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
for (const [k, v] of facts) meta.append(el('span', null, k + ': ' + v));
if (rec.error) $('error').textContent = rec.error;

const maxDuration = Math.max(1, ...actions.map((a) => a.duration_ms || 0));
const rows = actions.map((a, i) => {
  const row = el('div', 'row' + (a.status === 'error' ? ' error' : ''));
  row.dataset.index = i;
  row.append(el('span', 'seq', a.sequence), el('span', null, a.type));
  const what = el('span', 'what', a.selector || a.url || a.api || '');
  if (a.redacted) what.append(el('span', 'value', '  [redacted]'));
  else if (a.value != null && a.value !== '' && a.value !== a.url) what.append(el('span', 'value', '  ' + a.value));
  what.title = (a.api || '') + ' ' + (a.selector || a.url || '');
  const bar = el('span', 'bar'); bar.style.width = Math.max(4, 60 * (a.duration_ms || 0) / maxDuration) + 'px';
  bar.title = (a.duration_ms == null ? '-' : a.duration_ms + ' ms');
  row.append(what, bar);
  if (a.error) row.append(el('span', 'err', a.error));
  row.addEventListener('click', () => select(i));
  return row;
});
$('timeline').append(...rows);
if (!actions.length) $('timeline').append(el('div', 'note', data.trimmed ? 'No action matches the filter.' : 'No actions were recorded.'));

const blobUrl = (key) => data.embedded ? data.screenshots[key] : '/blob/' + key;
async function domText(key) {
  if (data.embedded) return data.doms[key];
  const response = await fetch('/blob/' + key); return response.ok ? response.text() : '';
}
function highlightCss(target) {
  const path = target && target.css_path;
  if (!path || /[<>{}]/.test(path)) return '';
  return '<style>' + path + '{outline:3px solid #e53935 !important; outline-offset:2px}</style>';
}

function select(i) {
  if (!actions.length) return;
  current = Math.max(0, Math.min(actions.length - 1, i));
  const a = actions[current];
  rows.forEach((r, j) => r.classList.toggle('selected', j === current));
  rows[current].scrollIntoView({block: 'nearest'});
  $('caption').textContent = '#' + a.sequence + ' ' + (a.api || a.type) + ' ' + (a.selector || a.url || '') + (a.status === 'error' ? '  (error)' : '');
  const shot = $('shot'), box = $('box');
  $('no-shot').hidden = !!a.screenshot || mode !== 'shot';
  $('shot-late').hidden = !(a.screenshot && a.shot_before) || mode !== 'shot';
  $('shot-wrap').style.display = a.screenshot && mode === 'shot' ? 'inline-block' : 'none';
  box.style.display = 'none';
  if (a.screenshot) {
    shot.onload = () => placeBox(a);
    shot.src = blobUrl(a.screenshot);
    if (shot.complete) placeBox(a);
  }
  if (mode === 'dom') showDom(a);
  if (data.original) showOriginal(a);
  filmstrip();
}
function showOriginal(a) {
  const o = a.original, img = $('original-shot');
  $('original-caption').textContent = o
    ? 'original: recording ' + data.original.id + ' #' + o.sequence + ' ' + o.type + (o.status === 'error' ? ' (error)' : '')
    : 'original: no matching step in recording ' + data.original.id;
  if (o && o.screenshot) img.src = blobUrl(o.screenshot); else img.removeAttribute('src');
  img.hidden = !(o && o.screenshot);
  $('original-wrap').style.visibility = mode === 'shot' ? 'visible' : 'hidden';
}
function toggleCompare() {
  if (!data.original) return;
  const on = $('view').classList.toggle('compare');
  $('compare').classList.toggle('on', on);
  select(current);
}
function placeBox(a) {
  const box = $('box'), shot = $('shot'), viewport = (rec.metadata || {}).viewport;
  if (!a.box || !viewport || !shot.naturalWidth) return;
  const scale = shot.clientWidth / viewport.width;
  Object.assign(box.style, {left: a.box.x * scale + 'px', top: a.box.y * scale + 'px',
    width: a.box.width * scale + 'px', height: a.box.height * scale + 'px', display: 'block'});
}
async function showDom(a) {
  const frame = $('dom');
  if (!a.dom) { frame.srcdoc = '<p style="font:14px sans-serif;color:#6b7383">No DOM snapshot was recorded for this action.</p>'; return; }
  const text = await domText(a.dom);
  if (actions[current] === a) frame.srcdoc = highlightCss(a.target) + text;
}
function setMode(m) {
  mode = m;
  $('show-shot').classList.toggle('on', m === 'shot'); $('show-dom').classList.toggle('on', m === 'dom');
  $('dom').style.display = m === 'dom' ? 'block' : 'none';
  select(current);
}
function filmstrip() {
  const strip = $('filmstrip'); strip.textContent = '';
  const from = Math.max(0, current - 12), to = Math.min(actions.length, current + 13);
  for (let i = from; i < to; i++) {
    const a = actions[i], fig = el('figure', i === current ? 'selected' : null);
    if (a.screenshot) { const img = el('img'); img.loading = 'lazy'; img.alt = '#' + a.sequence; img.src = blobUrl(a.screenshot); fig.append(img); }
    else fig.append(el('div', null, '(none)'));
    fig.append(el('figcaption', null, '#' + a.sequence + ' ' + a.type));
    fig.addEventListener('click', () => select(i));
    strip.append(fig);
  }
  const selected = strip.querySelector('.selected'); if (selected) selected.scrollIntoView({inline: 'center', block: 'nearest'});
}
function play() {
  if (timer) { clearTimeout(timer); timer = null; $('play').textContent = '\u25B6 play'; return; }
  $('play').textContent = '\u275A\u275A pause';
  const step = () => {
    if (current >= actions.length - 1) { play(); return; }
    const gap = (actions[current + 1].timestamp_ms - actions[current].timestamp_ms) / Number($('speed').value);
    timer = setTimeout(() => { select(current + 1); step(); }, Math.max(60, Math.min(3000, gap)));
  };
  step();
}
$('prev').onclick = () => select(current - 1); $('next').onclick = () => select(current + 1);
$('play').onclick = play; $('show-shot').onclick = () => setMode('shot'); $('show-dom').onclick = () => setMode('dom');
$('compare').onclick = toggleCompare; $('compare').hidden = !data.original;
document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'SELECT') return;
  const moves = {ArrowLeft: current - 1, ArrowRight: current + 1, ArrowUp: current - 1, ArrowDown: current + 1, Home: 0, End: actions.length - 1};
  if (e.key in moves) { e.preventDefault(); select(moves[e.key]); }
  else if (e.key === ' ') { e.preventDefault(); play(); }
  else if (e.key === 'd') setMode(mode === 'dom' ? 'shot' : 'dom');
  else if (e.key === 'c') toggleCompare();
});
window.addEventListener('resize', () => actions.length && placeBox(actions[current]));
const firstError = actions.findIndex((a) => a.status === 'error');
select(firstError >= 0 ? firstError : 0);
"""

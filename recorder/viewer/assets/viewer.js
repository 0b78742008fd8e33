// The viewer: the actions list (and its filter box), the screenshot or DOM snapshot of the
// selected action, its panels (Console, Network, Errors, Source), the filmstrip, the keys
// (Left/Right, Home/End, Space plays, d toggles DOM/screenshot, c compares a replay with
// its original or, in the compare view of two recordings, A with B, / goes to the filter). The other asset files come before this one.
//
// Everything recorded is put on the page with textContent or as an attribute value, never
// parsed as markup here; snapshots are parsed only inside the sandboxed iframe (and, inert,
// by DOMParser in snapshot.js).
const data = JSON.parse(document.getElementById('data').textContent);
const actions = data.actions, rec = data.recording;
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
let current = 0, mode = 'shot', timer = null;
const snapshots = makeSnapshots(makeResources(data));
const eventIndex = makeEventIndex(data);
const panels = makePanels(data, eventIndex);
const comparing = makeCompare(data, el);  // null but for the compare view of two recordings

$('name').textContent = rec.name + '  (recording ' + rec.id + ')';
const meta = $('meta');
const status = el('span', 'status ' + rec.status, rec.status); meta.append(status);
const facts = [['duration', rec.duration_ms == null ? '-' : (rec.duration_ms / 1000).toFixed(1) + ' s'],
  ['started', rec.started_at], ['actions', data.total_actions + (data.trimmed ? ' (showing ' + actions.length + ')' : '')]];
for (const [k, v] of Object.entries(rec.metadata || {})) if (['nodeid', 'file', 'browser', 'start_url', 'replay_of', 'outcome', 'session_type'].includes(k)) facts.push([k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
for (const [k, v] of facts) meta.append(el('span', null, k + ': ' + v));
if (rec.error) $('error').textContent = rec.error;

// An expect(...) recorded as a wait: its assertion and what it expected, as called.
const shownValue = (a) => {
  if (a.type !== 'wait' || !/Assertions\./.test(a.api || '')) return a.value;
  let args = a.value;
  try {
    args = Object.values(JSON.parse(a.value))
      .map((v) => (v && typeof v === 'object' && 'regex' in v ? '/' + v.regex + '/' : JSON.stringify(v))).join(', ');
  } catch (e) { /* shown as stored */ }
  return 'expect ' + a.api.split('.')[1] + '(' + args + ')';
};

const maxDuration = Math.max(1, ...actions.map((a) => a.duration_ms || 0));
const rows = actions.map((a, i) => {
  const row = el('div', 'row' + (a.status === 'error' ? ' error' : ''));
  row.dataset.index = i;
  row.append(el('span', 'seq', a.sequence), el('span', null, a.type));
  const what = el('span', 'what', a.selector || a.url || a.api || '');
  if (a.redacted) what.append(el('span', 'value', '  [redacted]'));
  else if (a.value != null && a.value !== '' && a.value !== a.url) what.append(el('span', 'value', '  ' + shownValue(a)));
  what.title = (a.api || '') + ' ' + (a.selector || a.url || '');
  const bar = el('span', 'bar'); bar.style.width = Math.max(4, 60 * (a.duration_ms || 0) / maxDuration) + 'px';
  bar.title = (a.duration_ms == null ? '-' : a.duration_ms + ' ms');
  row.append(what, bar);
  if (a.error) row.append(el('span', 'err', a.error));
  if (comparing) comparing.annotate(row, a);
  row.addEventListener('click', () => select(i));
  return row;
});
$('rows').append(...rows);
if (comparing) {
  const indexOf = (sequence) => Math.max(0, actions.findIndex((a) => a.sequence === sequence));
  for (const [after, row] of comparing.onlyB((i) => select(i), indexOf).reverse()) {
    const before = after == null ? null : rows[actions.findIndex((a) => a.sequence === after)];
    if (before) before.after(row); else if (after == null) $('rows').prepend(row); else $('rows').append(row);
  }
  $('diff-summary').textContent = comparing.info.summary;
  $('diff-summary').hidden = false;
  $('diff-summary').classList.toggle('same', comparing.info.same);
  $('compare').textContent = 'Compare with B';
  $('compare').title = 'side by side with recording ' + comparing.info.id + ' (c)';
}
// Red: the action failed (.error), or the page had errors or failed requests meanwhile (.troubled).
function markTroubles() {
  rows.forEach((row, i) => {
    const a = actions[i], troubles = eventIndex.troubles(a);
    row.classList.toggle('troubled', !!troubles);
    if (troubles) row.title = troubles; else row.removeAttribute('title');
    if (!a.error) {
      let note = row.querySelector('.err');
      if (troubles && !note) { note = el('span', 'err'); row.append(note); }
      if (note) { if (troubles) note.textContent = troubles; else note.remove(); }
    }
  });
}
if (eventIndex.loaded) markTroubles();
if (!actions.length) $('rows').append(el('div', 'note', data.trimmed ? 'No action matches the filter.' : 'No actions were recorded.'));

const blobUrl = (key) => data.embedded ? data.screenshots[key] : '/blob/' + key;
async function domText(key) {
  if (data.embedded) return data.doms[key];
  const response = await fetch('/blob/' + key); return response.ok ? response.text() : '';
}
// The size the page was laid out at: the recorded viewport; without one (a page opened
// with no_viewport), the screenshot's, which is then taken unscaled.
const sized = (v) => !!v && [v.width, v.height].every((n) => typeof n === 'number' && n > 0 && n < 100000);
async function viewportOf(a) {
  const recorded = (rec.metadata || {}).viewport;
  if (sized(recorded)) return {width: recorded.width, height: recorded.height};
  if (a.screenshot) {
    const image = new Image();
    image.src = blobUrl(a.screenshot);
    try { await image.decode(); } catch (e) {}
    const size = {width: image.naturalWidth, height: image.naturalHeight};
    if (sized(size)) return size;
  }
  return {width: 1280, height: 720};
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
  panels.show(a);
  filmstrip();
}
function showOriginal(a) {
  const o = a.original, img = $('original-shot');
  const label = comparing ? 'B: recording ' : 'original: recording ';
  $('original-caption').textContent = o
    ? label + data.original.id + ' #' + o.sequence + ' ' + o.type + (o.status === 'error' ? ' (error)' : '')
    : (comparing ? 'B' : 'original') + ': no matching step in recording ' + data.original.id;
  if (o && o.screenshot_key) img.src = blobUrl(o.screenshot_key); else img.removeAttribute('src');
  img.hidden = !(o && o.screenshot_key);
  $('original-wrap').style.display = mode === 'shot' ? '' : 'none';  // the DOM view has the pane to itself
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
// The DOM view: the snapshot laid out at the recorded viewport size, scaled to the pane.
let shownDom = null;  // the snapshot key in the frame, and the action it was shown for
let viewport = {width: 1280, height: 720};
function fitDom() {
  const view = $('view'), style = getComputedStyle(view);
  const width = view.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = view.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
  const scale = snapshots.fit($('dom-wrap'), $('dom'), viewport, Math.max(40, width), Math.max(40, height));
  $('dom-info').textContent = viewport.width + '\u00d7' + viewport.height + ' at ' + Math.round(scale * 100) + '%';
}
async function showDom(a) {
  const frame = $('dom'), wanted = a.dom ? a.dom + ':' + current : null;
  $('no-dom').hidden = !!a.dom;
  $('dom-wrap').hidden = !a.dom;
  fitDom();
  if (!a.dom || shownDom === wanted) return;
  shownDom = wanted;
  const [html, size] = await Promise.all([snapshots.prepare(a.dom, () => domText(a.dom)), viewportOf(a)]);
  if (shownDom !== wanted) return;  // another action was selected meanwhile
  viewport = size;
  fitDom();
  frame.onload = () => {
    if (shownDom !== wanted) return;
    const doc = frame.contentDocument;
    doc.addEventListener('keydown', onKey);
    snapshots.settle(doc, () => { if (shownDom === wanted) frame.dataset.settled = wanted; });
    snapshots.highlight(doc, a.target);  // after settle() has put back the style attributes
    frame.dataset.loaded = wanted;
  };
  delete frame.dataset.loaded; delete frame.dataset.settled;
  frame.srcdoc = html;
}
function setMode(m) {
  mode = m;
  $('show-shot').classList.toggle('on', m === 'shot'); $('show-dom').classList.toggle('on', m === 'dom');
  $('dom-info').hidden = m !== 'dom';
  if (m !== 'dom') { $('dom-wrap').hidden = true; $('no-dom').hidden = true; }
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
  const step = () => {  // through the actions the filter shows
    const next = shownFrom(current + 1, 1, -1);
    if (next < 0) { timer = null; $('play').textContent = '\u25B6 play'; return; }  // at the end (calling play() here looped)
    const gap = (actions[next].timestamp_ms - actions[current].timestamp_ms) / Number($('speed').value);
    timer = setTimeout(() => { select(next); step(); }, Math.max(60, Math.min(3000, gap)));
  };
  step();
}
// The filter box narrows the list (and the Network panel's rows); the keys step through
// the actions it shows.
let shownCount = actions.length;
function applyFilter() {
  const text = $('filter').value;
  panels.setQuery(text);
  shownCount = 0;
  rows.forEach((row, i) => { const hide = !panels.actionMatches(i); row.hidden = hide; if (!hide) shownCount++; });
  $('filter-count').textContent = text.trim() ? shownCount + ' of ' + actions.length : '';
  $('rows').classList.toggle('nothing', text.trim() !== '' && shownCount === 0);
}
$('filter').addEventListener('input', applyFilter);
$('filter').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { $('filter').value = ''; applyFilter(); $('filter').blur(); }
  else if (e.key === 'Enter' || e.key === 'ArrowDown') {  // to the first action shown
    e.preventDefault();
    const first = rows.findIndex((row) => !row.hidden);
    if (first >= 0) { select(first); $('filter').blur(); }
  }
});
/** The next action the filter shows, from `i` in direction `step` (itself if shown), or `from`. */
function shownFrom(i, step, from) {
  for (let j = i; j >= 0 && j < actions.length; j += step) if (!rows[j].hidden) return j;
  return from;
}
const go = (step) => select(shownFrom(current + step, step, current));
$('prev').addEventListener('click', () => go(-1)); $('next').addEventListener('click', () => go(1));
$('play').addEventListener('click', play);
$('show-shot').addEventListener('click', () => setMode('shot')); $('show-dom').addEventListener('click', () => setMode('dom'));
$('compare').addEventListener('click', toggleCompare); $('compare').hidden = !data.original;
// Keys work with the focus in the viewer or in the shown snapshot (but not while typing in one of its fields).
function onKey(e) {
  const target = e.composedPath()[0] || e.target;
  if (e.ctrlKey || e.metaKey || e.altKey || target.tagName === 'SELECT') return;
  if (/^(INPUT|TEXTAREA)$/.test(target.tagName) || target.isContentEditable) return;  // typing, here or in a snapshot
  if (!actions.length) return;
  const moves = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1};
  if (e.key in moves) { e.preventDefault(); go(moves[e.key]); }
  else if (e.key === 'Home') { e.preventDefault(); select(shownFrom(0, 1, current)); }
  else if (e.key === 'End') { e.preventDefault(); select(shownFrom(actions.length - 1, -1, current)); }
  else if (e.key === '/') { e.preventDefault(); $('filter').focus(); }
  else if (e.key === ' ') { e.preventDefault(); play(); }
  else if (e.key === 'd') setMode(mode === 'dom' ? 'shot' : 'dom');
  else if (e.key === 'c') toggleCompare();
}
document.addEventListener('keydown', onKey);
window.addEventListener('resize', () => actions.length && placeBox(actions[current]));
new ResizeObserver(() => { if (mode === 'dom') fitDom(); }).observe($('view'));
const firstError = actions.findIndex((a) => a.status === 'error');
if (comparing) {  // side by side, at the first difference
  $('view').classList.add('compare'); $('compare').classList.add('on');
  const first = actions.findIndex((a) => a.sequence === comparing.info.first_a);
  select(first >= 0 ? first : 0);
} else select(firstError >= 0 ? firstError : 0);
// Served, the events come after the first paint (a long recording has many).
if (eventIndex.loaded) document.body.dataset.events = 'loaded';
else {
  fetch('/recording/' + rec.id + '/events').then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); }).then((events) => {
    eventIndex.load(events);
    markTroubles();
    if ($('filter').value.trim()) applyFilter();
    if (actions.length) panels.show(actions[current]);
    document.body.dataset.events = 'loaded';
  }).catch(() => {
    eventIndex.failed = true;
    if (actions.length) panels.show(actions[current]);
    document.body.dataset.events = 'failed';
  });
}

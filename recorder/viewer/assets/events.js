// The recording's events (console messages, page errors, crashes, requests, in time order:
// `data.events` in the self-contained file; the served page fetches them after its first
// paint) indexed once by the action they happened during, so that selecting an action or
// painting the list never scans them all. Events from before the first action
// (action_sequence null) go with the first action, marked `before`.
//
// The helpers here (formatting, the detail table) are shared by the panel files that come
// after this one: console.js, network.js, errors.js, source.js.

/** An element with a class and text (never markup). */
function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** A failed request: no answer (`failure`) or a status of 400 or more. */
function requestFailed(e) { return e.failure != null || (typeof e.status === 'number' && e.status >= 400); }

/** A request the browser made by itself, not the page (the favicon): listed, but it does
 * not mark its action as having errors. */
function requestIncidental(e) {
  if (e.resource_type !== 'other' || typeof e.url !== 'string') return false;
  try { return new URL(e.url).pathname === '/favicon.ico'; } catch (err) { return false; }
}

function makeEventIndex(data) {
  let bySequence = new Map();  // action sequence -> {console, errors, requests}
  let troubles = new Map();  // action sequence -> a short text of what went wrong, if anything
  const empty = Object.freeze({console: [], errors: [], requests: []});
  const index = {
    /** Whether the events are here: embedded in the file, or fetched by the served page. */
    loaded: false,
    /** The action's {console, errors, requests}, each in time order. */
    of: (a) => bySequence.get(a.sequence) || empty,
    /** What went wrong during the action (page errors, crashes, failed requests), or ''. */
    troubles: (a) => troubles.get(a.sequence) || '',
    /** Index `events` (in time order), in one pass. */
    load(events) {
      bySequence = new Map(); troubles = new Map();
      const first = data.actions.length ? data.actions[0].sequence : null;
      for (const e of events) {
        let sequence = e.action_sequence;
        if (sequence == null) { if (first == null) continue; sequence = first; e.before = true; }
        let lists = bySequence.get(sequence);
        if (!lists) { lists = {console: [], errors: [], requests: []}; bySequence.set(sequence, lists); }
        if (e.kind === 'console') lists.console.push(e);
        else if (e.kind === 'error' || e.kind === 'crash') lists.errors.push(e);
        else if (e.kind === 'request') lists.requests.push(e);
      }
      for (const [sequence, lists] of bySequence) {
        const failed = lists.requests.filter((e) => requestFailed(e) && !requestIncidental(e)).length;
        const parts = [];
        if (lists.errors.length) parts.push(lists.errors.length + (lists.errors.length === 1 ? ' page error' : ' page errors'));
        if (failed) parts.push(failed + (failed === 1 ? ' failed request' : ' failed requests'));
        if (parts.length) troubles.set(sequence, parts.join(', '));
      }
      index.loaded = true;
    },
  };
  if (data.events) index.load(data.events);
  return index;
}

const eventTools = {
  /** "+12 ms" after the action began (events before it: negative). */
  offset(e, a) {
    if (typeof e.time_ms !== 'number' || typeof a.timestamp_ms !== 'number') return '';
    const ms = e.time_ms - a.timestamp_ms;
    return (ms >= 0 ? '+' : '\u2212') + eventTools.duration(Math.abs(ms));
  },
  duration(ms) {
    if (typeof ms !== 'number') return '';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  },
  bytes(n) {
    if (typeof n !== 'number' || n < 0) return '';
    if (n < 1024) return n + ' B';
    return n < 1024 * 1024 ? (n / 1024).toFixed(1) + ' KB' : (n / 1024 / 1024).toFixed(1) + ' MB';
  },
  /** A two-column table of name/value pairs (headers, timings), all as text. */
  pairs(title, entries) {
    const box = node('div', 'pairs');
    box.append(node('div', 'pairs-title', title));
    if (!entries.length) box.append(node('div', 'muted', '(none)'));
    for (const [name, value] of entries) {
      const row = node('div', 'pair');
      row.append(node('span', 'pair-name', name), node('span', 'pair-value', value == null ? '' : String(value)));
      box.append(row);
    }
    return box;
  },
  /** Text that says these happened before the first action. */
  beforeNote: 'before the first action',
};

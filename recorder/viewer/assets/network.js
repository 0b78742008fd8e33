// The Network panel: one row per request of the selected action (method, URL, status,
// type, duration, size); a failed one (no answer, or status 400 or more) is red, with the
// browser's failure text. Clicking a row opens its details: status text, remote address,
// redirects, timing, request and response headers (credential values were redacted when
// recorded), and the bodies if they were kept.
//
// `fullRequests(a)` resolves to the action's requests with all their details: the served
// page leaves headers, bodies and timing out of its data (`more`) and fetches them here.

function makeNetworkPanel(container, fullRequests) {
  const open = new WeakSet();  // requests whose details are shown
  const matches = (e, query) => !query || [e.method, e.url, e.status == null ? (e.failure ? 'failed' : '') : String(e.status),
    e.status_text, e.failure].some((v) => v != null && String(v).toLowerCase().includes(query));

  function status(e) {
    if (e.status != null) return String(e.status);
    if (e.failure != null) return 'failed';
    return e.unfinished ? 'pending' : '-';
  }
  function size(e) {
    const n = typeof e.body_size === 'number' ? e.body_size : e.response_size;
    const from = e.from_cache ? '(cache)' : e.from_service_worker ? '(service worker)' : '';
    return from ? from + (typeof n === 'number' ? ' ' + eventTools.bytes(n) : '') : eventTools.bytes(n);
  }

  function details(a, e, cell) {
    cell.textContent = '';
    const facts = [['status', [e.status, e.status_text].filter((v) => v != null && v !== '').join(' ') || status(e)],
      ['failure', e.failure], ['remote address', e.remote_address], ['MIME type', e.mime_type],
      ['request size', eventTools.bytes(e.request_size)], ['response size', eventTools.bytes(e.response_size)],
      ['body size', eventTools.bytes(e.body_size)], ['started', e.before ? eventTools.beforeNote : eventTools.offset(e, a)],
      ['unfinished', e.unfinished ? 'not finished when the recording ended' : null]].filter(([, v]) => v != null && v !== '');
    cell.append(eventTools.pairs('General', [['URL', e.url], ['method', e.method], ...facts]));
    if (e.redirects && e.redirects.length) {
      cell.append(eventTools.pairs('Redirects', e.redirects.map((r, i) => [String(i + 1), (r.status == null ? '' : r.status + ' ') + r.url])));
    }
    const show = (full) => {
      if (full.timing) cell.append(eventTools.pairs('Timing', Object.entries(full.timing).filter(([, v]) => typeof v === 'number' && v >= 0).map(([k, v]) => [k, v + ' ms'])));
      cell.append(eventTools.pairs('Request headers', Object.entries(full.request_headers || {})));
      cell.append(eventTools.pairs('Response headers', Object.entries(full.response_headers || {})));
      if (full.request_body != null) { cell.append(node('div', 'pairs-title', 'Request body'), node('pre', 'body', full.request_body)); }
      if (full.response_body != null) { cell.append(node('div', 'pairs-title', 'Response body'), node('pre', 'body', full.response_body)); }
    };
    if (!e.more) { show(e); return; }
    const waiting = node('div', 'muted', 'loading headers\u2026');
    cell.append(waiting);
    fullRequests(a).then((list) => {
      waiting.remove();
      const full = list.find((f) => f.time_ms === e.time_ms && f.url === e.url && f.method === e.method);
      if (full) show(full); else cell.append(node('div', 'muted', 'The details of this request are not available.'));
    }, () => { waiting.textContent = 'The details of this request could not be loaded.'; });
  }

  return {
    /** Shows `requests` of action `a` that match `query` (lower case; '' for all). */
    render(a, requests, query) {
      container.textContent = '';
      if (!requests.length) { container.append(node('div', 'note', 'No requests during this action.')); return; }
      const shown = requests.filter((e) => matches(e, query));
      if (shown.length < requests.length) {
        container.append(node('div', 'filtered-note', shown.length + ' of ' + requests.length + ' requests match the filter'));
      }
      if (!shown.length) return;
      const table = node('table', 'network');
      const head = node('tr');
      for (const title of ['Method', 'URL', 'Status', 'Type', 'Duration', 'Size']) head.append(node('th', null, title));
      table.append(node('thead'));
      table.tHead.append(head);
      const body = node('tbody');
      for (const e of shown) {
        const failed = requestFailed(e);
        const row = node('tr', 'request' + (failed ? ' failed' : '') + (open.has(e) ? ' open' : ''));
        const url = node('td', 'url');
        url.append(node('div', 'url-text', e.url || ''));
        url.title = e.url || '';
        if (e.failure != null) url.append(node('div', 'failure', String(e.failure)));
        const took = node('td', 'duration', e.unfinished && e.duration_ms == null ? 'unfinished' : eventTools.duration(e.duration_ms));
        row.append(node('td', 'method', e.method || ''), url, node('td', 'code', status(e)),
          node('td', 'type', e.resource_type || ''), took, node('td', 'size', size(e)));
        row.tabIndex = 0;
        row.setAttribute('aria-expanded', String(open.has(e)));
        const more = node('tr', 'request-details');
        const cell = node('td');
        cell.colSpan = 6;
        more.append(cell);
        more.hidden = !open.has(e);
        if (open.has(e)) details(a, e, cell);
        const toggle = () => {
          if (open.has(e)) open.delete(e); else open.add(e);
          more.hidden = !open.has(e);
          row.classList.toggle('open', open.has(e));
          row.setAttribute('aria-expanded', String(open.has(e)));
          if (open.has(e)) details(a, e, cell);
        };
        row.addEventListener('click', toggle);
        row.addEventListener('keydown', (k) => { if (k.key === 'Enter') { k.preventDefault(); toggle(); } });
        body.append(row, more);
      }
      table.append(body);
      container.append(table);
    },
    matches,
  };
}

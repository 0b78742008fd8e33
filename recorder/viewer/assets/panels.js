// The panels under the stage: Console, Network, Errors and Source of the selected action,
// as tabs whose labels count that action's messages, requests and errors; and the filter
// box over the actions list, which also filters the Network panel's rows.
//
// Only the open tab is drawn when an action is selected (stepping through a long recording
// draws one panel a step); the counts come from the index events.js built once.

function makePanels(data, index) {
  const $p = (id) => document.getElementById(id);
  const rec = data.recording;
  const requestsOf = new Map();  // action sequence -> Promise of its requests in full (served)
  const fetchJson = (url) => fetch(url).then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); });
  function fullRequests(a) {
    if (!requestsOf.has(a.sequence)) {
      const own = fetchJson('/recording/' + rec.id + '/requests/' + a.sequence);
      const before = a === data.actions[0] ? fetchJson('/recording/' + rec.id + '/requests/before') : Promise.resolve([]);
      const both = Promise.all([before, own]).then(([b, o]) => b.concat(o));
      both.catch(() => requestsOf.delete(a.sequence));  // asked again next time
      requestsOf.set(a.sequence, both);
    }
    return requestsOf.get(a.sequence);
  }
  const sourceText = (key) => data.embedded ? (data.source_text || {})[key]
    : fetch('/recording/' + rec.id + '/source/' + key).then((r) => { if (!r.ok) throw new Error(r.status); return r.text(); });

  const panels = {
    console: makeConsolePanel($p('panel-console')),
    network: makeNetworkPanel($p('panel-network'), fullRequests),
    errors: makeErrorsPanel($p('panel-errors')),
    source: makeSourcePanel($p('panel-source'), data.sources || {}, sourceText),
  };
  let tab = 'console', selected = null, query = '';

  function draw() {
    if (!selected) return;
    if (!index.loaded && tab !== 'source') {
      const panel = $p('panel-' + tab);
      panel.textContent = '';
      panel.append(node('div', 'note', index.failed ? 'The events of this recording could not be loaded.' : 'Loading events\u2026'));
      return;
    }
    const lists = index.of(selected);
    if (tab === 'console') panels.console.render(selected, lists.console);
    else if (tab === 'network') panels.network.render(selected, lists.requests, query);
    else if (tab === 'errors') panels.errors.render(selected, lists.errors);
    else panels.source.render(selected);
  }
  function count(name, n, bad) {
    const label = $p('count-' + name);
    label.textContent = index.loaded ? String(n) : index.failed ? '?' : '\u2026';
    label.classList.toggle('none', !n);
    label.classList.toggle('bad', !!bad);
  }
  function open(name) {
    tab = name;
    for (const other of Object.keys(panels)) {
      const button = $p('tab-' + other);
      button.classList.toggle('on', other === name);
      button.setAttribute('aria-selected', String(other === name));
      $p('panel-' + other).hidden = other !== name;
    }
    draw();
  }
  for (const name of Object.keys(panels)) $p('tab-' + name).addEventListener('click', () => open(name));

  // The filter: an action matches by its type, selector, value, URL (and API name), or by
  // one of its requests (method, URL, status); its text is put together on first use.
  let haystacks = null;
  function actionMatches(i, q) {
    if (!q) return true;
    if (!haystacks) haystacks = new Array(data.actions.length);
    if (haystacks[i] == null) {
      const a = data.actions[i];
      const parts = [a.type, a.selector, a.redacted ? null : a.value, a.url, a.api];
      haystacks[i] = parts.filter((v) => v != null).join('\n').toLowerCase();
    }
    return haystacks[i].includes(q) || index.of(data.actions[i]).requests.some((e) => panels.network.matches(e, q));
  }

  return {
    /** Shows the panels of action `a`: the counts on the tabs, and the open tab. */
    show(a) {
      selected = a;
      const lists = index.of(a);
      count('console', lists.console.length, lists.console.some((e) => e.level === 'error'));
      count('network', lists.requests.length, lists.requests.some(requestFailed));
      count('errors', lists.errors.length, lists.errors.length > 0);
      draw();
    },
    open,
    /** The filter's text changed: which actions match is `actionMatches(i)`. */
    setQuery(text) {
      query = text.trim().toLowerCase();
      if (tab === 'network') draw();
    },
    actionMatches: (i) => actionMatches(i, query),
  };
}

// The Console panel: the console messages of the selected action, in order: when (after
// the action began), level (errors and warnings coloured), text, and where the page logged
// it (URL:line:column).

function makeConsolePanel(container) {
  function location(e) {
    const at = e.location || {};
    if (!at.url) return '';
    // Playwright's line and column count from 0; both 0 means "not known" (a failed load).
    const known = typeof at.line === 'number' && (at.line > 0 || at.column > 0);
    return at.url + (known ? ':' + (at.line + 1) + ':' + ((at.column || 0) + 1) : '');
  }
  return {
    render(a, messages) {
      container.textContent = '';
      if (!messages.length) { container.append(node('div', 'note', 'No console messages during this action.')); return; }
      const list = node('div', 'console-list');
      for (const e of messages) {
        const level = String(e.level || 'log');
        const row = node('div', 'console-row level-' + level.replace(/[^a-z]/gi, ''));
        row.append(node('span', 'time', e.before ? eventTools.beforeNote : eventTools.offset(e, a)),
          node('span', 'level', level), node('span', 'text', e.text == null ? '' : String(e.text)));
        const where = node('span', 'where', location(e));
        where.title = where.textContent;
        row.append(where);
        list.append(row);
      }
      container.append(list);
    },
  };
}

// The Errors panel: the page errors (uncaught exceptions, unhandled rejections) and crashes
// of the selected action: name, message and stack.

function makeErrorsPanel(container) {
  return {
    render(a, errors) {
      container.textContent = '';
      if (!errors.length) { container.append(node('div', 'note', 'No page errors during this action.')); return; }
      for (const e of errors) {
        const item = node('div', 'error-item ' + (e.kind === 'crash' ? 'crash' : 'page-error'));
        const head = node('div', 'error-head');
        head.append(node('span', 'time', e.before ? eventTools.beforeNote : eventTools.offset(e, a)));
        if (e.kind === 'crash') head.append(node('span', 'error-name', 'Page crashed'), node('span', 'error-message', e.message || ''));
        else head.append(node('span', 'error-name', String(e.name || 'Error') + ':'), node('span', 'error-message', e.message || ''));
        item.append(head);
        // V8's stack begins with "Name: message", shown just above: then only its frames.
        let stack = e.stack == null ? '' : String(e.stack);
        const lead = String(e.name || 'Error') + ': ' + (e.message || '') + '\n';
        if (e.kind !== 'crash' && stack.startsWith(lead)) stack = stack.slice(lead.length);
        if (stack) item.append(node('pre', 'stack', stack));
        container.append(item);
      }
    },
  };
}

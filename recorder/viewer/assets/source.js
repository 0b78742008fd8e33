// The Source panel: where the user's code made the selected action's call
// (`metadata.source`: file, line, function), with the lines around it from the file's text
// as it was when recorded (secrets already cut out), the call's line highlighted.
//
// `sourceText(key)` resolves to a kept file's text: embedded in the file, or fetched from
// the server (/recording/ID/source/KEY).

const SOURCE_CONTEXT = 10;  // lines shown before and after the call's line

function makeSourcePanel(container, sources, sourceText) {
  const split = new Map();  // key -> the file's lines, split once
  let shownFor = null;
  return {
    render(a) {
      shownFor = a;
      container.textContent = '';
      const at = a.source;
      if (!at) { container.append(node('div', 'note', 'No source recorded for this action.')); return; }
      const head = node('div', 'source-head');
      const where = node('span', 'source-where', at.file + ':' + at.line);
      where.title = at.file;
      head.append(where);
      if (at.function) head.append(node('span', 'source-function', 'in ' + at.function));
      container.append(head);
      const key = sources[at.file];
      if (!key) { container.append(node('div', 'note', 'The text of this file was not recorded.')); return; }
      const code = node('div', 'source-code');
      container.append(code);
      const show = (lines) => {
        if (shownFor !== a) return;  // another action was selected meanwhile
        if (at.line < 1 || at.line > lines.length) { code.append(node('div', 'note', 'Line ' + at.line + ' is not in the recorded file.')); return; }
        const from = Math.max(1, at.line - SOURCE_CONTEXT), to = Math.min(lines.length, at.line + SOURCE_CONTEXT);
        let current = null;
        for (let n = from; n <= to; n++) {
          const line = node('div', 'source-line' + (n === at.line ? ' current' : ''));
          line.append(node('span', 'line-number', String(n)), node('span', 'line-text', lines[n - 1]));
          if (n === at.line) current = line;
          code.append(line);
        }
        // The call's line in the middle of the panel (scrolling only the panel, not the page).
        if (current) container.scrollTop = Math.max(0, current.offsetTop - container.clientHeight / 2);
      };
      if (split.has(key)) { show(split.get(key)); return; }
      Promise.resolve(sourceText(key)).then((text) => {
        if (typeof text !== 'string') throw new Error('no text');
        const lines = text.split(/\r\n|\r|\n/);
        split.set(key, lines);
        show(lines);
      }).catch(() => { if (shownFor === a) code.append(node('div', 'note', 'The text of this file could not be loaded.')); });
    },
  };
}

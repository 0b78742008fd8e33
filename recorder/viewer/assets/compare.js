// The compare view of any two recordings (`recorder view A --compare B`, /compare/A/B):
// each row of A shows the step of B it lines up with (recorder/diff.py aligns them) and
// what differs; the steps only B has get rows of their own, between A's; the first
// difference is marked, and the page opens on it. Null without data.compare (a replay's
// page compares with its original through data.original alone).
function makeCompare(data, el) {
  const info = data.compare;
  if (!info) return null;
  const describe = (s) => s.type + ' ' + (s.selector || s.url || '')
    + (s.value != null && s.value !== '' && s.value !== s.url ? '  ' + s.value : '');
  function side(step) {  // B's half of a row
    const half = el('span', 'other');
    half.append(el('span', 'other-label', 'B'), ' ');
    if (!step) { half.append(el('span', 'muted', 'no matching step')); return half; }
    half.append(el('span', 'other-seq', '#' + step.sequence), ' ', el('span', 'other-what', describe(step)));
    if (step.status !== 'ok') half.append(el('span', 'other-status', ' ' + step.status + (step.error ? ': ' + step.error : '')));
    return half;
  }
  function mark(row, differences, notes, first) {
    if (differences.length) {
      row.classList.add('differs');
      row.dataset.diff = differences.map((d) => d.kind).join(' ');
      row.append(el('span', 'differences', differences.map((d) => d.detail).join('; ')));
    } else if (notes.length) {  // differs only where it does not count (recorder/diff.py)
      row.classList.add('noted');
      row.append(el('span', 'differences noted', notes.join('; ')));
    }
    if (first) row.classList.add('first-difference');
  }
  return {
    info,
    /** A's row `row` of action `a`: B's step beside it, and how they differ. */
    annotate(row, a) {
      row.append(side(a.original));
      mark(row, a.differences || [], a.notes || [], !!a.first_difference);
    },
    /** Rows for the steps only B has: [the A sequence they come after (null: first), row]. */
    onlyB(select, indexOf) {
      return (data.only_b || []).map((entry) => {
        const row = el('div', 'row only-b');
        row.append(el('span', 'seq', '-'), el('span', 'muted', '(only in B)'), el('span', 'what'), el('span'));
        row.append(side(entry.step));
        mark(row, entry.differences, entry.notes || [], entry.first_difference);
        row.addEventListener('click', () => select(entry.after == null ? 0 : indexOf(entry.after)));
        return [entry.after, row];
      });
    },
  };
}

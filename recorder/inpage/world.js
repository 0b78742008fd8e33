// recorder's questions to a page, run in an isolated JavaScript world of recorder's own
// (CDP Page.createIsolatedWorld) or in Playwright's utility world (the selector engine in
// engine.js). Such a world shares the page's DOM but none of its JavaScript objects, so a
// page that replaces querySelectorAll, patches NodeList.prototype.forEach or defines
// Object.prototype.then cannot break, hang or subvert what is asked here.
//
// This file is one expression: the library object. recorder/_core.py evaluates it once per
// document as `globalThis.__recorder = <this file>`.
(() => {
  // At most 80 characters, never half an emoji (a lone surrogate) at the cut.
  const clean = (t) => {
    const text = (t || '').replace(/\s+/g, ' ').trim();
    return (/[\uD800-\uDBFF]/.test(text[79] || '') ? text.slice(0, 79) : text.slice(0, 80)) || null;
  };

  // Redact selectors are written against the page as a person sees it: climb out of
  // shadow roots and same-origin frames. Past a cross-origin frame nothing can be
  // checked, so with any redact selector such an element counts as secret.
  const matchesAround = (el, selector) => {
    try {
      for (let node = el; node;) {
        if (node.closest(selector)) return true;
        const root = node.getRootNode();
        if (root.host) { node = root.host; continue; }
        const view = node.ownerDocument.defaultView;
        if (!view || view === view.top) return false;
        if (!view.frameElement) return true;
        node = view.frameElement;
      }
    } catch (e) { return false; }
    return false;
  };
  const isPasswordField = (el) => el.localName === 'input' && (el.type || '').toLowerCase() === 'password';
  // What is typed into it is secret: a password field, or one a redact selector matches.
  const isSecretField = (el, redact) => isPasswordField(el) || redact.some((s) => matchesAround(el, s));

  const implicitRole = (el, tag, type) => {
    if (tag === 'a' && el.hasAttribute('href')) return 'link';
    if (tag === 'button' || (tag === 'input' && ['button', 'submit', 'reset', 'image'].includes(type))) return 'button';
    if (tag === 'input' && type === 'checkbox') return 'checkbox';
    if (tag === 'input' && type === 'radio') return 'radio';
    if (tag === 'input' && type === 'number') return 'spinbutton';
    if (tag === 'input' && (!type || ['text', 'email', 'search', 'tel', 'url'].includes(type))) return type === 'search' ? 'searchbox' : 'textbox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'select') return el.multiple ? 'listbox' : 'combobox';
    if (/^h[1-6]$/.test(tag)) return 'heading';
    if (tag === 'img') return 'img';
    if (tag === 'option') return 'option';
    return null;
  };

  const cssPath = (el) => {
    const doc = el.ownerDocument;
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && node !== doc.documentElement; node = node.parentElement) {
      if (node.id && doc.querySelectorAll('#' + CSS.escape(node.id)).length === 1) { parts.unshift('#' + CSS.escape(node.id)); break; }
      let index = 1;
      for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) if (sib.tagName === node.tagName) index++;
      parts.unshift(node.tagName.toLowerCase() + ':nth-of-type(' + index + ')');
    }
    return parts.join(' > ');
  };

  // Whether nothing in `node` is redacted or masked (`hidden`: their selectors).
  const showsAll = (node, hidden) => !hidden.some((s) => {
    try { return node.matches(s) || node.querySelector(s) !== null; } catch (e) { return false; }
  });

  // The text beside an element: its sibling elements' text, else its parent's; never
  // that of a redacted or masked element.
  const neighbourText = (el, hidden) => {
    const around = [el.previousElementSibling, el.nextElementSibling].filter((n) => n && showsAll(n, hidden))
      .map((n) => clean(n.innerText)).filter(Boolean);
    if (around.length) return clean(around.join(' | '));
    const parent = el.parentElement;
    return parent && !['body', 'html'].includes(parent.tagName.toLowerCase()) && showsAll(parent, hidden)
      ? clean(parent.innerText) : null;
  };

  // What an action may change about the element it acted on, compared by replay before and
  // after each step (replay.py, outcomes): its text, whether it is checked, expanded or
  // disabled. Only the facts that apply: a field has no text here (its value may be secret).
  const elementState = (el) => {
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute('type') || '').toLowerCase();
    const aria = (name) => { const v = el.getAttribute(name); return v === 'true' ? true : v === 'false' ? false : null; };
    const state = {};
    // Its text as written, not as laid out (innerText): what CSS shows of it (a button shown
    // only while the mouse is over its row) depends on where the mouse happens to be.
    if (!['input', 'textarea', 'select'].includes(tag)) state.text = clean(el.textContent);
    const checked = tag === 'input' && (type === 'checkbox' || type === 'radio') ? el.checked : aria('aria-checked');
    if (checked !== null) state.checked = checked;
    const expanded = aria('aria-expanded');
    if (expanded !== null) state.expanded = expanded;
    if (el.disabled === true || aria('aria-disabled') === true) state.disabled = true;
    return state;
  };

  // Which document `doc` is, the same in each world of it (recorder's, Playwright's utility
  // world): the time its navigation began. A reload of the same URL is another document.
  const documentMark = (doc) => (doc.defaultView ? doc.defaultView.performance.timeOrigin : null);

  // The state (elementState) of the element at `place` ({path: its CSS path, document: the
  // documentMark it was seen in}) in `doc`: null when there is none, undefined (nothing said)
  // when it is redacted or masked, or inside such an element, or when `doc` is another
  // document than the one it was seen in (a page that reloaded, or is still arriving, where
  // the path finds nothing yet: that says nothing of what the action did to its element).
  const stateAt = (doc, place, hidden) => {
    if (place.document != null && documentMark(doc) !== place.document) return undefined;
    let el = null;
    try { el = doc.querySelector(place.path); } catch (e) {}
    if (!el) return null;
    return hidden.some((s) => matchesAround(el, s)) ? undefined : elementState(el);
  };

  // stateAt in this document, wrapped: {state} (null: no such element), {} when nothing is said.
  const laterState = (place, hidden) => ({state: stateAt(document, place, hidden)});

  // The text of `doc` as recorder/diff.py's visible_text reads a DOM snapshot's (what replay
  // compares with the recording's): no script, style, head or hidden element; a textarea by
  // its value, as the snapshot holds it; whitespace collapsed.
  const pageText = (doc) => {
    const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'TITLE', 'SVG']);
    const parts = [];
    const walk = (node) => {
      for (let child = node.firstChild; child; child = child.nextSibling) {
        if (child.nodeType === 3) parts.push(child.data);
        if (child.nodeType !== 1) continue;
        const tag = child.tagName.toUpperCase();
        if (skip.has(tag) || child.hasAttribute('hidden')) continue;
        if (tag === 'TEXTAREA') parts.push(child.value); else walk(child);
      }
    };
    if (doc.documentElement) walk(doc.documentElement);
    return parts.join(' ').split(/\s+/).filter(Boolean).join(' ');
  };

  // The field Playwright types into for an element that is not one: that of the label it is
  // (or is in), as Playwright's fill, type and press retarget it.
  const labelledControl = (el) => {
    if (el.matches('a, input, textarea, button, select, [role=link], [role=button], [role=checkbox], [role=radio]')
        || el.isContentEditable) return null;
    const label = el.closest('label');
    return label && label.control && label.control !== el ? label.control : null;
  };

  // Facts about one element, read before the action (its box moves or vanishes after): its
  // box, and what replay can find it by again (role and accessible name, label, text, test
  // id, a CSS path). Never a field's value: that would put a typed secret into metadata.
  // Where an element's box is in the top page's viewport: in a frame, its box in the frame
  // plus where the frame's content starts, up to the top (where a frame of another origin
  // is, its document cannot tell: the box stays where the last one known puts it).
  const onPage = (el, r) => {
    let x = r.x, y = r.y;
    for (let view = el.ownerDocument.defaultView; view && view !== view.parent; view = view.parent) {
      let frame = null;
      try { frame = view.frameElement; } catch (e) {}
      if (!frame) break;
      const f = frame.getBoundingClientRect(), style = getComputedStyle(frame);
      x += f.x + frame.clientLeft + (parseFloat(style.paddingLeft) || 0);
      y += f.y + frame.clientTop + (parseFloat(style.paddingTop) || 0);
    }
    return {x, y};
  };

  const elementInfo = (el, redact) => {
    if (!el || el.nodeType !== 1) return null;
    redact = redact || [];
    const r = el.getBoundingClientRect();
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute('type') || '').toLowerCase() || null;
    const doc = el.ownerDocument;
    let label = null;
    if (el.labels && el.labels.length) label = clean(Array.from(el.labels).map((l) => l.innerText).join(' '));
    const labelledBy = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
      .map((id) => doc.getElementById(id)).filter(Boolean);
    const isField = ['input', 'textarea', 'select'].includes(tag);
    // Redacted or masked, or inside such an element: its text is as private as its pixels.
    const hidden = redact.some((s) => matchesAround(el, s));
    const control = labelledControl(el);
    const text = isField || hidden ? null : clean(el.innerText);
    const state = elementState(el);
    if (hidden) delete state.text;
    const name = clean(el.getAttribute('aria-label')) || clean(labelledBy.map((n) => n.innerText).join(' ')) || label
      || text || clean(el.getAttribute('alt')) || clean(el.getAttribute('title'))
      || (type === 'submit' || type === 'button' ? clean(el.getAttribute('value')) : null) || clean(el.getAttribute('placeholder'));
    const at = onPage(el, r);
    return {
      bounding_box: {x: at.x, y: at.y, width: r.width, height: r.height},
      tag, type, id: el.id || null,
      name_attribute: el.getAttribute('name'),
      role: el.getAttribute('role') || implicitRole(el, tag, type),
      accessible_name: name,
      label,
      test_id: el.getAttribute('data-testid'),
      placeholder: el.getAttribute('placeholder'),
      text,
      css_path: cssPath(el),
      document: documentMark(doc),  // (with css_path, its place for stateAt; not stored)
      // For re-matching on replay (replay.py, similarity): classes, a link's target and the
      // text around the element.
      classes: clean(el.getAttribute('class')),
      href: tag === 'a' ? el.getAttribute('href') : null,
      neighbour_text: hidden ? null : neighbourText(el, redact),
      secret: hidden || isPasswordField(el) || (control !== null && isSecretField(control, redact)),
      // Its state before the action; the snapshot after it reports the same (`target`).
      checked: null, expanded: null, disabled: null, ...state,
      // The CSS path is within a shadow root: the snapshot cannot look it up in the document.
      in_shadow_root: el.getRootNode() !== doc || null,
    };
  };

  // The focused element, through shadow roots and same-origin frames.
  const activeInfo = (redact) => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    try { while (el && el.contentDocument && el.contentDocument.activeElement) el = el.contentDocument.activeElement; } catch (e) {}
    const info = elementInfo(el, redact);
    // Focus inside a frame this page cannot look into (a payment form, say): what is typed
    // there is not known to be harmless, so it is treated as secret.
    if (info && (info.tag === 'iframe' || info.tag === 'frame')) info.secret = true;
    return info;
  };

  // Where a secret shows on screen (CSS px, in the viewport): password fields, fields the
  // redact selectors match (`redacted`), fields whose value holds a typed secret, and (best
  // effort) text that shows one. Painted over in the screenshot the action gets.
  // `fields`: the inputs and textareas of this document and its shadow roots (the snapshot
  // has just gone over them).
  const secretBoxes = (fields, redacted, secrets, fragment) => {
    const boxes = [];
    const add = (r) => {
      if (r.width && r.height && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth) {
        boxes.push({x: r.x, y: r.y, width: r.width, height: r.height});
      }
    };
    const holdsSecret = (text) => !!text && secrets.some((secret) => text.includes(secret));
    // A field holding a long secret cut short (maxlength, a page echoing it a key behind):
    // `fragment` characters of one or more, as recorder's scrubber cuts out of text.
    const holdsPart = (text) => !!fragment && !!text && text.length >= fragment
      && secrets.some((secret) => secret.includes(text));
    for (const field of fields) {
      if (!redacted.has(field) && (isPasswordField(field) || holdsSecret(field.value) || holdsPart(field.value))) {
        add(field.getBoundingClientRect());
      }
    }
    for (const el of redacted) if (el.ownerDocument === document && el.isConnected) add(el.getBoundingClientRect());
    if (secrets.length && document.body && holdsSecret(document.body.textContent)) {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.nodeValue;
        for (const secret of secrets) {
          for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + secret.length)) {
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + secret.length);
            for (const r of Array.from(range.getClientRects())) add(r);
          }
        }
      }
    }
    return boxes;
  };

  const maskBoxes = (mask) => mask.flatMap((selector) => {
    try {
      return Array.from(document.querySelectorAll(selector)).map((el) => el.getBoundingClientRect())
        .filter((r) => r.width && r.height).map((r) => ({x: r.x, y: r.y, width: r.width, height: r.height}));
    } catch (e) { return []; }
  });

  // What to paint over in a screenshot when no DOM snapshot is taken (record(dom=False)),
  // which otherwise says it: masked elements, and secretBoxes' password, redacted and
  // secret-holding fields and text, in the document and its open shadow roots.
  const coverBoxes = ({mask = [], redact = [], secrets = [], fragment = 0} = {}) => {
    const scopes = [document];
    const walker = document.createTreeWalker(document, NodeFilter.SHOW_ELEMENT);
    for (let el = walker.nextNode(); el; el = walker.nextNode()) {
      if (el.shadowRoot) scopes.push(el.shadowRoot);
    }
    for (let i = 1; i < scopes.length; i++) {  // shadow roots inside shadow roots
      const inner = document.createTreeWalker(scopes[i], NodeFilter.SHOW_ELEMENT);
      for (let el = inner.nextNode(); el; el = inner.nextNode()) if (el.shadowRoot) scopes.push(el.shadowRoot);
    }
    const all = (selector) => scopes.flatMap((scope) => {
      try { return Array.from(scope.querySelectorAll(selector)); } catch (e) { return []; }
    });
    const redacted = new Set(redact.flatMap(all));
    return [...maskBoxes(mask), ...secretBoxes(all('input, textarea'), redacted, secrets, fragment)];
  };

  // -- the DOM snapshot ----------------------------------------------------------------
  //
  // The page as the action left it, as one HTML document that needs nothing but the
  // resources it names: typed values, checked boxes and selected options written into
  // attributes; open shadow roots as declarative shadow DOM; same-origin frames inline
  // (srcdoc); canvases as images; scroll positions as data-recorder-scroll; style rules
  // inserted through the CSSOM and adopted stylesheets as <style> text; every URL absolute.
  // Secrets never leave the browser: password and redacted fields are emptied, redacted and
  // masked elements lose their content. Scripts and event handler attributes are dropped.

  const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
  const RAW_TEXT = new Set(['style', 'xmp', 'iframe', 'noembed', 'noframes', 'plaintext']);
  const DROPPED = new Set(['script', 'noscript']);
  const URL_ATTRIBUTES = new Set(['src', 'href', 'poster', 'background', 'data']);
  const MAX_CANVAS_PIXELS = 4096 * 4096;

  const escapeText = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\u00a0/g, '&nbsp;');
  const escapeAttribute = (t) => t.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/\u00a0/g, '&nbsp;');
  const absolute = (url, base) => { try { return new URL(url, base).href; } catch (e) { return url; } };
  // url(...) and @import "..." in CSS text, made absolute against the sheet's own URL.
  const CSS_URL = /url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3/g;
  const absoluteCss = (css, base, found) => css.replace(CSS_URL, (all, q, url, q2, imported) => {
    const target = url || imported;
    if (/^(data|blob|about|javascript):/i.test(target.trim())) return all;
    const resolved = absolute(target.trim(), base);
    found.add(resolved);
    return url ? 'url("' + resolved.replace(/"/g, '%22') + '")' : '@import "' + resolved.replace(/"/g, '%22') + '"';
  });
  // An element's attributes as they will be written, with a Map's has/get/set/delete over two
  // small arrays: most elements have one or two, and a Map each was much of the garbage a
  // first snapshot of a big page made. Event handler attributes are left out: a snapshot runs nothing.
  class Attrs {
    constructor(el) {
      this.names = [];
      this.values = [];
      if (!el.hasAttributes()) return;
      for (const name of el.getAttributeNames()) {
        if (name.startsWith('on')) continue;
        this.names.push(name);
        this.values.push(el.getAttribute(name));
      }
    }
    has(name) { return this.names.indexOf(name) >= 0; }
    get(name) { const i = this.names.indexOf(name); return i >= 0 ? this.values[i] : undefined; }
    set(name, value) {
      const i = this.names.indexOf(name);
      if (i >= 0) this.values[i] = value; else { this.names.push(name); this.values.push(value); }
    }
    delete(name) {
      const i = this.names.indexOf(name);
      if (i >= 0) { this.names.splice(i, 1); this.values.splice(i, 1); }
    }
  }

  const rulesText = (sheet) => {
    try { return Array.from(sheet.cssRules, (rule) => rule.cssText).join('\n'); } catch (e) { return null; }
  };

  // Snapshots are incremental: each element's serialized HTML is kept (in this world, for
  // as long as the document lives) until something that shows in it changes, as a
  // MutationObserver, field values, scroll positions and the redact/mask matches tell.
  // Unchanged subtrees are not walked again, so a snapshot costs what changed, not the page.
  // Canvases, frames, <style> (the CSSOM changes without mutations) and shadow hosts with
  // adopted sheets are taken anew every time.
  let cache = new WeakMap();  // element -> {html, urls, hidden, scroll}
  let optionsKey = null;
  let flagged = new Set();  // elements redacted or masked at the last snapshot
  const volatile = new Set();
  const scrollers = new Set();  // scroll containers and elements seen scrolling: read every time
  const fieldStates = new WeakMap();  // form field -> its state when last serialized
  const roots = new Set();  // documents and shadow roots watched

  const watch = (root) => {
    if (roots.has(root)) return;
    roots.add(root);
    observer.observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
    root.addEventListener('scroll', (event) => {
      if (event.target && event.target.nodeType === 1) scrollers.add(event.target);
    }, {capture: true, passive: true});
  };
  // A change inside an element changes every element it is in: up through shadow hosts and
  // the frame elements of same-origin documents.
  const invalidate = (node) => {
    for (let n = node; n;) {
      if (n.nodeType === 1) cache.delete(n);
      if (n.parentNode) { n = n.parentNode; continue; }
      if (n.host) { n = n.host; continue; }
      try { n = n.nodeType === 9 && n.defaultView ? n.defaultView.frameElement : null; } catch (e) { n = null; }
    }
  };
  // Records are handled as they are delivered, and those still queued when a snapshot starts.
  // A node inserted may have changed while it was out of the document, where no record
  // reaches: what it holds is forgotten too.
  const forgetSubtree = (node) => {
    if (node.nodeType !== 1) return;
    cache.delete(node);
    for (const el of Array.from(node.querySelectorAll('*'))) cache.delete(el);
  };
  const handle = (record) => {
    invalidate(record.target);
    if (record.type === 'childList') for (const node of Array.from(record.addedNodes)) forgetSubtree(node);
  };
  const observer = new MutationObserver((records) => { for (const record of records) handle(record); });
  // Elements that may get a shadow root after they were serialized (custom elements are
  // defined and upgraded when their script runs): no mutation says so, so they are checked.
  const hosts = new Set();
  const fieldState = (el) => {
    if (el.localName === 'select') return Array.from(el.options, (o) => (o.selected ? '1' : '0')).join('');
    if (el.localName === 'input' && (el.type === 'checkbox' || el.type === 'radio')) return String(el.checked);
    return el.value;
  };
  const scrollOf = (el) => {
    const top = el.scrollTop, left = el.scrollLeft;
    return top || left ? Math.round(top) + ',' + Math.round(left) : '';
  };
  const forgetField = (el) => {
    invalidate(el);
    // (an option's HTML is also inside its <optgroup>'s: invalidate climbs through it)
    if (el.localName === 'select') for (const option of Array.from(el.options)) invalidate(option);
  };

  const snapshot = (options) => {
    const {redact = [], mask = [], maxChars = 25000000, foreign = false, secrets = [], fragment = 0} = options || {};
    const key = JSON.stringify([redact, mask, foreign]);
    if (key !== optionsKey) { cache = new WeakMap(); optionsKey = key; }
    watch(document);
    for (const record of observer.takeRecords()) handle(record);
    for (const el of volatile) { if (el.isConnected) invalidate(el); else volatile.delete(el); }
    for (const el of hosts) {
      if (!el.isConnected) hosts.delete(el);
      else if (el.shadowRoot && !roots.has(el.shadowRoot)) invalidate(el);
    }
    for (const el of scrollers) {
      if (!el.isConnected) { scrollers.delete(el); continue; }
      const entry = cache.get(el);
      if (entry && entry.scroll !== scrollOf(el)) invalidate(el);
    }
    const masks = [];
    // Resource URLs, in the order met; each element's share is kept with it in the cache.
    const collected = [];
    const found = {add(url) { collected.push(url); }};
    // Elements redacted or masked, in every document and shadow root watched; an element
    // whose standing changed is serialized anew.
    const redacted = new Set(), masked = new Set();
    const collect = (root) => {
      for (const [selectors, into] of [[redact, redacted], [mask, masked]]) {
        for (const selector of selectors) {
          try { for (const el of Array.from(root.querySelectorAll(selector))) into.add(el); } catch (e) {}
        }
      }
    };
    const ownFields = [];  // this document's (not a frame's) inputs and textareas, for secretBoxes
    for (const root of roots) {
      if (root.nodeType === 9 ? !root.defaultView : !root.host || !root.host.isConnected) { roots.delete(root); continue; }
      collect(root);
      const own = root.nodeType !== 9 || root === document;  // (a frame's boxes are its own)
      for (const field of Array.from(root.querySelectorAll('input, textarea, select'))) {
        const state = fieldState(field);
        if (fieldStates.get(field) !== state) { fieldStates.set(field, state); forgetField(field); }
        if (own && field.localName !== 'select') ownFields.push(field);
      }
    }
    const nowFlagged = new Set([...redacted, ...masked]);
    for (const el of nowFlagged) if (!flagged.has(el)) forgetField(el);
    for (const el of flagged) if (!nowFlagged.has(el)) forgetField(el);
    flagged = nowFlagged;
    if (!foreign) masks.push(...secretBoxes(ownFields, redacted, secrets, fragment));
    for (const selector of mask) {
      try {
        for (const el of Array.from(document.querySelectorAll(selector))) {
          const r = el.getBoundingClientRect();
          if (r.width && r.height) masks.push({x: r.x, y: r.y, width: r.width, height: r.height});
        }
      } catch (e) {}
    }
    let size = 0;
    let foreignFrames = 0;
    let rootTag = '';  // the page's <html ...> tag: its page scroll changes with nearly every action

    const serializeDocument = (doc) => {
      watch(doc);
      collect(doc);
      const d = doc.doctype;
      const html = (d ? '<!DOCTYPE ' + d.name + '>' : '') + (doc.documentElement ? element(doc.documentElement, doc.baseURI, false, doc) : '');
      return html;
    };

    const adopted = (root, base) => {
      let out = '';
      for (const sheet of root.adoptedStyleSheets || []) {
        const text = rulesText(sheet);
        if (text) out += '<style data-recorder-adopted="">' + absoluteCss(text, base, found) + '</style>';
      }
      return out;
    };

    // The children of `node`, serialized.
    const children = (node, base, hidden, doc) => {
      let out = '';
      for (let child = node.firstChild; child && size <= maxChars; child = child.nextSibling) {
        if (child.nodeType === 1) out += element(child, base, hidden, doc);
        else if (child.nodeType === 3) {
          const text = escapeText(child.data);
          size += text.length;
          out += text;
        }
      }
      return out;
    };

    const NONE = [];
    const element = (el, base, hidden, doc) => {
      const entry = cache.get(el);
      if (entry && entry.hidden === hidden) {
        size += entry.html.length;
        for (const url of entry.urls) collected.push(url);
        return entry.html;
      }
      const mark = collected.length;
      const html = serializeElement(el, base, hidden, doc);
      cache.set(el, {html, urls: collected.length > mark ? collected.slice(mark) : NONE, hidden,
                     scroll: scrollers.has(el) ? scrollOf(el) : ''});
      return html;
    };

    const serializeElement = (el, base, hidden, doc) => {
      const tag = el.localName;
      if (DROPPED.has(tag)) return '';
      // In a document of another origin (`foreign`), what redact selectors mean cannot be
      // checked from the page around it: with any redact selector, every field there is secret.
      const secretHere = isPasswordField(el)
        || (foreign && redact.length > 0 && (tag === 'input' || tag === 'textarea' || tag === 'select'));
      const isRedacted = redacted.has(el);
      const isMasked = masked.has(el);
      const secret = hidden || isRedacted || isMasked || secretHere;
      const field = tag === 'input' || tag === 'textarea' || tag === 'select';
      const attrs = new Attrs(el);
      // URLs made absolute, so that the viewer can find each one among the stored resources.
      for (const name of URL_ATTRIBUTES) {
        // (not links, and not a reference into this document: an SVG <use href="#icon">)
        if (attrs.has(name) && tag !== 'a' && tag !== 'form' && !attrs.get(name).startsWith('#')) {
          attrs.set(name, absolute(attrs.get(name), base));
        }
      }
      for (const name of ['href', 'xlink:href']) {  // an SVG sprite in a file of its own
        const value = attrs.get(name);
        if (tag === 'use' && value && !value.startsWith('#')) {
          const resolved = absolute(value, base);
          attrs.set(name, resolved);
          found.add(resolved.split('#')[0]);
        }
      }
      if (attrs.has('style')) attrs.set('style', absoluteCss(attrs.get('style'), base, found));
      let outName = tag;
      let inner = null;  // replaces the children
      if (tag === 'img' || tag === 'source') {
        const current = el.currentSrc;
        if (current) { attrs.set('src', current); attrs.delete('srcset'); attrs.delete('sizes'); }
        else if (attrs.has('srcset')) attrs.set('srcset', attrs.get('srcset').split(',').map((part) => {
          const [url, ...rest] = part.trim().split(/\s+/);
          return [absolute(url, base), ...rest].join(' ');
        }).join(', '));
        attrs.delete('loading');
      }
      if (tag === 'link') {
        const rel = (attrs.get('rel') || '').toLowerCase();
        if (/\b(preload|modulepreload|prefetch|preconnect|dns-prefetch|manifest)\b/.test(rel) && !/stylesheet/.test(rel)) return '';
      }
      if (tag === 'base' || (tag === 'meta' && (attrs.get('http-equiv') || '').toLowerCase() === 'content-security-policy')) return '';
      if (tag === 'img' && attrs.has('src')) found.add(attrs.get('src'));
      if (tag === 'link' && attrs.has('href') && /stylesheet|icon/.test((attrs.get('rel') || '').toLowerCase())) found.add(attrs.get('href'));
      if ((tag === 'video' || tag === 'input') && attrs.has('poster')) found.add(attrs.get('poster'));
      if (tag === 'input' && (attrs.get('type') || '').toLowerCase() === 'image' && attrs.has('src')) found.add(attrs.get('src'));
      // Form state lives in DOM properties: written into attributes, never a secret's.
      if (tag === 'input') {
        const type = (el.type || '').toLowerCase();
        if (type === 'checkbox' || type === 'radio') {
          if (el.checked) attrs.set('checked', ''); else attrs.delete('checked');
        } else if (secret || type === 'file') {
          attrs.delete('value');
        } else {
          attrs.set('value', el.value);
        }
      } else if (tag === 'textarea') {
        inner = secret ? '' : escapeText(el.value);
      } else if (tag === 'option') {
        const select = el.closest('select');
        const hiddenSelect = hidden || (foreign && redact.length > 0) || (select && (redacted.has(select) || masked.has(select)));
        if (el.selected && !hiddenSelect) attrs.set('selected', ''); else attrs.delete('selected');
      }
      if (secret && field) attrs.set('data-recorder-redacted', '');
      if ((isRedacted || (hidden && !isMasked)) && !field) { inner = ''; attrs.set('data-recorder-redacted', ''); }
      if (isMasked) {
        inner = '';
        for (const name of ['value', 'src', 'srcset', 'href', 'title', 'alt', 'placeholder']) attrs.delete(name);
        attrs.set('data-recorder-masked', '');
      }
      if (tag === 'details' && el.open) attrs.set('open', '');
      if (tag === 'dialog' && el.open) attrs.set('open', '');
      if (tag === 'canvas' && !isMasked) {
        volatile.add(el);
        // A canvas is pixels: kept as the image it shows (a tainted canvas stays blank).
        try {
          if (el.width * el.height > 0 && el.width * el.height <= MAX_CANVAS_PIXELS) {
            const data = el.toDataURL('image/png');
            outName = 'img';
            attrs.set('src', data);
            attrs.set('data-recorder-canvas', '');
            inner = null;
          }
        } catch (e) {}
      }
      if ((tag === 'iframe' || tag === 'frame') && !isMasked && !isRedacted && !hidden) {
        volatile.add(el);
        let child = null;
        try { child = el.contentDocument; } catch (e) {}
        if (child && child.documentElement) {
          attrs.delete('src');
          attrs.set('srcdoc', serializeDocument(child));
          attrs.set('data-recorder-frame', el.contentWindow ? String(el.contentWindow.location.href) : '');
        } else {
          // Another origin's document: recorder snapshots it in that frame's own world and
          // puts it in as srcdoc, where recorder tagged the element (tagFrame) beforehand.
          attrs.set('data-recorder-frame', 'cross-origin');
          if (frameTokens.has(el)) attrs.set('data-recorder-frame-token', frameTokens.get(el));
          foreignFrames++;
        }
      }
      // Scroll positions are read for scroll containers (elements whose content overflows
      // them, found as they are serialized) and for elements seen scrolling; then every
      // snapshot reads them again (see the top of snapshot()).
      if (scrollers.has(el) || (el.firstElementChild
          && (el.scrollHeight > el.clientHeight || el.scrollWidth > el.clientWidth))) {
        scrollers.add(el);
        const scroll = scrollOf(el);
        if (scroll) attrs.set('data-recorder-scroll', scroll);
      }
      if (el === doc.documentElement) {
        volatile.add(el);
        const page = doc.scrollingElement ? scrollOf(doc.scrollingElement) : '';
        if (page) attrs.set('data-recorder-scroll', page);
        attrs.set('data-recorder-url', doc.URL);
      }

      let out = '<' + outName;
      for (let i = 0; i < attrs.names.length; i++) out += ' ' + attrs.names[i] + '="' + escapeAttribute(attrs.values[i]) + '"';
      out += '>';
      if (el === document.documentElement) rootTag = out;
      if (outName === 'img' && tag === 'canvas') return out;
      if (VOID.has(tag)) return out;
      if (inner !== null) {
        out += inner;
      } else if (tag === 'style') {
        volatile.add(el);
        // Rules a script inserted through the CSSOM (CSS-in-JS) are not in the text.
        let css = el.textContent;
        if (el.sheet && !css.trim()) css = rulesText(el.sheet) || '';
        out += absoluteCss(css, base, found).replace(/<\/style/gi, '<\\/style');
      } else if (tag === 'template') {
        // Its content is a fragment of its own, which no record reaches: taken anew each time.
        volatile.add(el);
        for (const inside of Array.from(el.content.querySelectorAll('*'))) cache.delete(inside);
        out += children(el.content, base, secret, doc);
      } else if (RAW_TEXT.has(tag)) {
        // iframe: its document is in srcdoc
      } else {
        if (tag.includes('-')) hosts.add(el);
        if (el.shadowRoot) {
          const root = el.shadowRoot;
          watch(root);
          collect(root);
          if (root.adoptedStyleSheets && root.adoptedStyleSheets.length) volatile.add(el);
          out += '<template shadowrootmode="open">' + adopted(root, base)
            + children(root, base, secret, doc) + '</template>';
        }
        out += children(el, base, secret && !field ? true : hidden, doc);
      }
      if (tag === 'head') { volatile.add(el); out += adopted(doc, base); }
      return out + '</' + outName + '>';
    };

    const html = serializeDocument(document);
    // The state the action left its element in (`target`: its place), null if it is gone;
    // nothing of an element redacted or masked, or inside one, or of another document.
    const target = options.target ? stateAt(document, options.target, [...redact, ...mask]) : undefined;
    if (size > maxChars || html.length > maxChars) {
      cache = new WeakMap();  // a partial walk cached nothing whole
      return {html: null, length: Math.max(size, html.length), masks, urls: [], foreignFrames, target};
    }
    const urls = Array.from(new Set(collected)).filter((u) => /^https?:/i.test(u));
    // Sent as what changed since the snapshot recorder already has (`since`), if it has it.
    // The document up to its <html> tag goes whole, so that a patch spans only what changed
    // in the page (the tag holds the page's scroll position, which most actions change).
    const lead = html.slice(0, html.indexOf(rootTag) + rootTag.length);
    const rest = html.slice(lead.length);
    const previous = last;
    // recorder may name the snapshot itself (`id`): it asks for the next one, as a patch of
    // this one, before this one's answer is back.
    last = {id: options.id || (worldId + ':' + (++count)), rest};
    if (previous && options.since === previous.id) {
      return {id: last.id, lead, patch: patch(previous.rest, rest), masks, urls, foreignFrames, target};
    }
    return {id: last.id, html, lead, masks, urls, foreignFrames, target};
  };

  // The last snapshot this world gave, and a name for it that no other world gives.
  let last = null, count = 0;
  const worldId = Math.random().toString(36).slice(2);
  // {start, end, text}: `after` is before.slice(0, start) + text + before.slice(before.length - end)
  // (of the document after its lead).
  const patch = (before, after) => {
    const limit = Math.min(before.length, after.length);
    let low = 0, high = limit;  // the longest common prefix, by halving (native compares)
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (before.slice(low, mid) === after.slice(low, mid)) low = mid; else high = mid - 1;
    }
    const start = low;
    low = 0; high = limit - start;  // the longest common suffix not overlapping it
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (before.slice(before.length - mid, before.length - low) === after.slice(after.length - mid, after.length - low)) low = mid;
      else high = mid - 1;
    }
    return {start, end: low, text: after.slice(start, after.length - low)};
  };

  // iframe element -> the token its (cross-origin) document's snapshot is filed under.
  // Kept in this world only: the page never sees it.
  const frameTokens = new WeakMap();
  function tagFrame(token) { frameTokens.set(this, token); return true; }

  // Where forms and storage stand, for a continuation after a takeover: never secrets.
  const pageState = (redact) => {
    const storage = {};
    try { for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i); storage[k] = localStorage.getItem(k); } } catch (e) {}
    const fields = Array.from(document.querySelectorAll('input, textarea, select'))
      .filter((el) => (el.name || el.id) && el.type !== 'file' && !isSecretField(el, redact))
      .map((el) => ({name: el.name || null, id: el.id || null,
                     value: el.type === 'checkbox' || el.type === 'radio' ? el.checked : el.value}));
    return {local_storage: storage, form_values: fields};
  };

  // What this document loaded before recorder watched its network, from the page's Resource
  // Timing: a popup is handed to recorder only once it has navigated, its first load done or
  // under way. Each: URL, initiator, start (ms since the epoch), duration, status (where the
  // browser tells it: same origin, or a CORS request), bytes.
  const loadedSoFar = () => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .map((e) => ({url: e.name, initiator: e.initiatorType, start: performance.timeOrigin + e.startTime,
                  duration: e.duration, status: e.responseStatus || null, transfer: e.transferSize,
                  body: e.encodedBodySize}));

  // Facts about each of many elements (replay's re-matching candidates), with whether it shows.
  const elementsInfo = (elements) => elements.map((el) => {
    const info = elementInfo(el);
    info.visible = !!(info.bounding_box.width && info.bounding_box.height) && getComputedStyle(el).visibility !== 'hidden';
    delete info.secret;
    return info;
  });

  return {elementInfo, elementsInfo, elementState, stateAt, laterState, pageText, activeInfo, coverBoxes, snapshot, pageState,
          cssPath, tagFrame, loadedSoFar};
})()

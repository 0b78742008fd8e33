// DOM snapshots made showable offline (recorder/inpage/world.js makes them).
//
// A snapshot names its stylesheets, images and fonts by their absolute URLs on the site it
// was recorded on. Before it is shown, every such URL (src, href, poster, srcset, style
// attributes, <style> text, and the documents of frames, kept in srcdoc) becomes
// the blob: URL of the stored resource, or nothing: no request leaves for that site. A
// Content-Security-Policy in each document, and the viewer page's own (which srcdoc
// documents inherit), forbid any fetch but data: and blob:, and every navigation.
//
// The snapshot is shown in <iframe sandbox="allow-same-origin">: its scripts never run (they
// were removed when it was taken, and the sandbox would stop them), but the viewer can reach
// into it to put back the recorded scroll positions, outline the action's target and stop
// links from navigating.
//
// Neither policy allows inline styles ('unsafe-inline'): a snapshot's <style> elements
// become <link rel="stylesheet">s to blob: URLs of their (rewritten) text, and its style
// attributes wait in data-recorder-style until the document has loaded, when settle() puts
// them back through the CSSOM (which no policy stops). Both are renamed in the HTML text
// before DOMParser sees it (withoutInlineStyles): a parsed document is held to the viewer
// page's policy, and each style would be a reported violation.

const SNAPSHOT_CSP = "default-src 'none'; style-src data: blob:; img-src data: blob:; " +
  "font-src data: blob:; media-src data: blob:; frame-src 'none'; form-action 'none'; base-uri 'none'";
const XHTML = 'http://www.w3.org/1999/xhtml';
const LATER_STYLE = 'data-recorder-style';  // a style attribute, applied once the document has loaded
const SHEET = 'data-recorder-css';  // on a <template> that stood for a <style>: its text
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'plaintext']);

/** The HTML with each style attribute renamed data-recorder-style, and each <style> made
 * an inert <template data-recorder-css="its text"> (a template goes wherever a style may).
 * A tokenizer just good enough for that: tags, quoted values, comments, raw text. What it
 * misses stays a style (a reported violation, and unstyled), never becomes markup. */
function withoutInlineStyles(html) {
  const n = html.length, edits = [];  // [from, to, replacement], in order
  const space = (c) => c === ' ' || c === '\n' || c === '\t' || c === '\f' || c === '\r';
  const letter = (c) => !!c && /[A-Za-z]/.test(c);
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    const c = html[lt + 1];
    if (html.startsWith('<!--', lt)) {
      if (html.startsWith('<!-->', lt)) { i = lt + 5; continue; }
      if (html.startsWith('<!--->', lt)) { i = lt + 6; continue; }
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (c === '!' || c === '?' || (c === '/' && !letter(html[lt + 2]))) {  // doctype, bogus comment
      const end = html.indexOf('>', lt + 2);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (!letter(c) && c !== '/') { i = lt + 1; continue; }  // a "<" of text
    const closing = c === '/';
    const nameAt = lt + (closing ? 2 : 1);
    let j = nameAt;
    while (j < n && !space(html[j]) && html[j] !== '/' && html[j] !== '>') j++;
    const tag = html.slice(nameAt, j).toLowerCase();
    const renames = [];
    for (;;) {
      while (j < n && (space(html[j]) || html[j] === '/')) j++;
      if (j >= n || html[j] === '>') break;
      const at = j++;
      while (j < n && !space(html[j]) && html[j] !== '/' && html[j] !== '>' && html[j] !== '=') j++;
      if (!closing && j - at === 5 && html.slice(at, j).toLowerCase() === 'style') renames.push([at, j, LATER_STYLE]);
      while (j < n && space(html[j])) j++;
      if (html[j] === '=') {
        j++;
        while (j < n && space(html[j])) j++;
        const quote = html[j];
        if (quote === '"' || quote === "'") {
          const end = html.indexOf(quote, j + 1);
          j = end < 0 ? n : end + 1;
        } else {
          while (j < n && !space(html[j]) && html[j] !== '>') j++;
        }
      }
    }
    if (j >= n) break;  // a tag that never ends: the parser drops it
    i = j + 1;
    if (closing || !RAW_TEXT.has(tag)) { edits.push(...renames); continue; }
    let end = n;
    if (tag !== 'plaintext') {
      const close = new RegExp('</' + tag + '(?=[\\t\\n\\f\\r />])', 'ig');
      close.lastIndex = i;
      const found = close.exec(html);
      if (found) end = found.index;
    }
    if (tag === 'style') {
      const css = html.slice(i, end).replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      edits.push([nameAt, nameAt + 5, 'template'], ...renames, [j, j, ' ' + SHEET + '="' + css + '"'], [i, end, '']);
      if (end < n) edits.push([end + 2, end + 7, 'template']);
    } else {
      edits.push(...renames);
    }
    i = end;
  }
  if (!edits.length) return html;
  let out = '', last = 0;
  for (const [from, to, text] of edits) { out += html.slice(last, from) + text; last = to; }
  return out + html.slice(last);
}
const MAX_FRAME_DEPTH = 10;  // frames inside frames inside ...: deeper ones show FOREIGN_FRAME
const FOREIGN_FRAME = '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="' + SNAPSHOT_CSP +
  '"></head><body ' + LATER_STYLE + '="margin:0;height:100vh;display:flex;align-items:center;justify-content:center;' +
  'font:13px system-ui,sans-serif;color:#6b7383;background:#f3f4f6">This frame\'s content was not recorded.</body></html>';

/** The URL and descriptor of each candidate in a srcset attribute (data: URIs keep their commas). */
function parseSrcset(text) {
  const candidates = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /[\s,]/.test(text[i])) i++;
    if (i >= text.length) break;
    let j = i;
    while (j < text.length && !/\s/.test(text[j])) j++;
    let url = text.slice(i, j), descriptor = '';
    if (url.endsWith(',')) {
      url = url.replace(/,+$/, '');
      i = j;
    } else {
      const comma = text.indexOf(',', j);
      const end = comma < 0 ? text.length : comma;
      descriptor = text.slice(j, end).trim();
      i = end + 1;
    }
    candidates.push([url, descriptor]);
  }
  return candidates;
}

/** Every element under `root`, also those inside <template>s (declarative shadow roots). */
function* elementsOf(root) {
  for (const el of root.querySelectorAll('*')) {
    yield el;
    if (el.localName === 'template' && el.content) yield* elementsOf(el.content);
  }
}

/** Every element of a shown document, through open shadow roots. */
function* shownElementsOf(root) {
  for (const el of root.querySelectorAll('*')) {
    yield el;
    if (el.shadowRoot) yield* shownElementsOf(el.shadowRoot);
  }
}

function makeSnapshots(resources) {
  const parser = new DOMParser();
  const prepared = new Map();  // snapshot key -> Promise<string>: the document to show
  const sheets = new Map();  // the text of a <style> -> the blob: URL that stands for it

  /** A <style> (its CSS already rewritten) as a <link rel="stylesheet"> to that text. In
   * SVG or MathML a <link> would not load: there it goes before the outermost such element. */
  function styleToLink(el, css) {
    if (!sheets.has(css)) sheets.set(css, URL.createObjectURL(new Blob([css], {type: 'text/css'})));
    const link = el.ownerDocument.createElementNS(XHTML, 'link');
    for (const attr of Array.from(el.attributes)) {
      if (attr.name !== SHEET) link.setAttributeNS(attr.namespaceURI, attr.name, attr.value);
    }
    link.setAttribute('rel', 'stylesheet');
    link.setAttribute('href', sheets.get(css));
    let at = el;
    while (at.parentNode && at.parentNode.namespaceURI && at.parentNode.namespaceURI !== XHTML) at = at.parentNode;
    at.before(link);
    el.remove();
  }

  // Where a document names URLs: [element, attribute (null: the text of a <style>), kind].
  // Along the way, what must not be in a shown snapshot goes: scripts, event handler
  // attributes, <base>, http-equiv <meta>s (refresh, a policy of the page's own).
  function placesOf(doc) {
    const places = [], frames = [];
    for (const el of elementsOf(doc)) {
      const tag = el.localName;
      if (tag === 'script' || tag === 'base' ||
          (tag === 'meta' && el.hasAttribute('http-equiv') && !/^content-type$/i.test(el.getAttribute('http-equiv').trim()))) {
        el.remove();
        continue;
      }
      if (tag === 'style') places.push([el, null, 'css']);  // one withoutInlineStyles() missed
      if (tag === 'template' && el.hasAttribute(SHEET)) places.push([el, null, 'css']);
      for (const {name} of Array.from(el.attributes)) {
        const lower = name.toLowerCase();
        if (lower.startsWith('on') || lower === 'ping' || lower === 'integrity' || lower === 'loading') {
          el.removeAttribute(name);  // integrity: a rewritten stylesheet no longer matches its hash
        } else if (lower === 'style' || lower === LATER_STYLE) {
          places.push([el, name, 'css']);
        } else if (lower === 'srcset' || lower === 'imagesrcset') {
          places.push([el, name, 'srcset']);
        } else if ((tag === 'iframe' || tag === 'frame') && lower === 'src') {
          el.removeAttribute(name);  // the frame's document is in srcdoc, or was not recorded
        } else if (tag === 'object' && lower === 'data') {
          el.removeAttribute(name);
        } else if (lower === 'href' || lower === 'xlink:href') {
          if (tag !== 'a' && tag !== 'area') places.push([el, name, 'url']);  // links: kept, and never followed
        } else if (lower === 'src' || lower === 'poster' || lower === 'background') {
          places.push([el, name, 'url']);
        }
      }
      if (tag === 'iframe' || tag === 'frame') frames.push(el);
    }
    return {places, frames};
  }

  // The URLs (absolute) a place names.
  const textOf = (el, attr) => (attr ? el.getAttribute(attr) : el.hasAttribute(SHEET) ? el.getAttribute(SHEET) : el.textContent);

  function urlsOf(el, attr, kind, base) {
    const value = textOf(el, attr);
    if (value == null) return [];
    if (kind === 'url') return [absoluteUrl(value.trim(), base)];
    if (kind === 'srcset') return parseSrcset(value).map(([url]) => absoluteUrl(url, base));
    const urls = [];
    mapCssUrls(value, (url) => { urls.push(absoluteUrl(url, base)); });
    return urls;
  }

  // The place with its URLs made local; what was not kept goes.
  function rewrite(el, attr, kind, base) {
    const value = textOf(el, attr);
    if (value == null) return;
    const local = (url) => localUrl(url, base, base, resources.url);
    if (kind === 'url') {
      const url = local(value);
      if (url == null) el.removeAttribute(attr); else el.setAttribute(attr, url);
    } else if (kind === 'srcset') {
      const kept = parseSrcset(value).map(([url, descriptor]) => [local(url), descriptor]).filter(([url]) => url);
      if (!kept.length) el.removeAttribute(attr);
      else el.setAttribute(attr, kept.map(([url, descriptor]) => (descriptor ? url + ' ' + descriptor : url)).join(', '));
    } else {
      const css = mapCssUrls(value, (url) => local(url) || 'data:,');
      if (attr) { el.removeAttribute(attr); el.setAttribute(LATER_STYLE, css); } else styleToLink(el, css);
    }
  }

  /** A snapshot's HTML, made to show offline; frames inside it likewise (recursively). */
  async function prepareHtml(html, depth) {
    const doc = parser.parseFromString(withoutInlineStyles(html), 'text/html');
    const base = doc.documentElement.getAttribute('data-recorder-url') || null;
    const {places, frames} = placesOf(doc);
    await resources.prepare(places.flatMap(([el, attr, kind]) => urlsOf(el, attr, kind, base)).filter(Boolean));
    for (const [el, attr, kind] of places) rewrite(el, attr, kind, base);
    await Promise.all(frames.map(async (frame) => {
      // A frame's document, of this site or (taken in that frame) of another; none when
      // recorder could not take it.
      const inner = frame.getAttribute('srcdoc');
      if (inner != null && depth < MAX_FRAME_DEPTH) {
        frame.setAttribute('srcdoc', await prepareHtml(inner, depth + 1));
      } else {
        frame.setAttribute('srcdoc', FOREIGN_FRAME);
      }
    }));
    const policy = doc.createElement('meta');
    policy.setAttribute('http-equiv', 'Content-Security-Policy');
    policy.setAttribute('content', SNAPSHOT_CSP);
    doc.head.prepend(policy);
    return (doc.doctype ? '<!DOCTYPE ' + doc.doctype.name + '>' : '') + doc.documentElement.outerHTML;
  }

  /** The document to show for a stored snapshot (made once per key; `text()` gives its HTML). */
  function prepare(key, text) {
    if (!prepared.has(key)) prepared.set(key, Promise.resolve(text()).then((html) => prepareHtml(html || '', 0)));
    return prepared.get(key);
  }

  // Links and forms in a snapshot go nowhere (the policy would also refuse, with an error page).
  const stay = (event) => {
    const path = event.composedPath();
    if (event.type === 'submit' || path.some((node) => node.localName === 'a' || node.localName === 'area')) {
      event.preventDefault();
    }
  };

  /** Once the shown document has loaded: its style attributes back (through the CSSOM),
   * links that stay put, the recorded scroll positions, in every frame. Calls `done` again
   * once web fonts have loaded (they can move what the positions point at). */
  function settle(doc, done) {
    if (!doc || !doc.documentElement) return;
    for (const el of shownElementsOf(doc)) {
      const css = el.getAttribute(LATER_STYLE);
      if (css != null) {
        el.removeAttribute(LATER_STYLE);
        if (el.style) el.style.cssText = css;
      }
    }
    for (const type of ['click', 'auxclick', 'submit']) doc.addEventListener(type, stay, true);
    const scroll = () => {
      for (const el of [doc.documentElement, ...shownElementsOf(doc)]) {
        const at = el.getAttribute('data-recorder-scroll');
        if (at) {
          const [top, left] = at.split(',').map(Number);
          const target = el === doc.documentElement ? doc.scrollingElement || el : el;
          target.scrollTop = top || 0;
          target.scrollLeft = left || 0;
        }
      }
    };
    scroll();
    for (const el of shownElementsOf(doc)) {
      if (el.localName === 'iframe' || el.localName === 'frame') {
        let inner = null;
        try { inner = el.contentDocument; } catch (e) {}
        settle(inner, null);
      }
    }
    const fonts = doc.fonts ? doc.fonts.ready : Promise.resolve();
    fonts.then(() => { scroll(); if (done) done(); });
  }

  /** The action's target outlined (its css_path, in the top document). */
  function highlight(doc, target) {
    const path = target && target.css_path;
    if (!path || !doc) return;
    try {
      const el = doc.querySelector(path);
      if (el) {
        el.style.setProperty('outline', '3px solid #e53935', 'important');
        el.style.setProperty('outline-offset', '2px', 'important');
      }
    } catch (e) {}
  }

  /** Lays the frame out at the recorded viewport size, scaled down to fit `width` x `height`. */
  function fit(wrap, frame, viewport, width, height) {
    const scale = Math.max(0.05, Math.min(1, width / viewport.width, height / viewport.height));
    frame.style.width = viewport.width + 'px';
    frame.style.height = viewport.height + 'px';
    frame.style.transform = 'scale(' + scale + ')';
    wrap.style.width = viewport.width * scale + 'px';
    wrap.style.height = viewport.height * scale + 'px';
    return scale;
  }

  return {prepare, settle, highlight, fit};
}

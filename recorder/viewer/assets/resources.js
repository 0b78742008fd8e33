// The stylesheets, images and fonts a recording kept (its `resources`: URL -> key and media
// type), as blob: URLs of this page, so that a DOM snapshot shows styled with nothing
// fetched from the site it was recorded on.
//
// Bytes come from the page itself (the self-contained file: base64, once per key) or from
// the viewer server (/recording/ID/resource/KEY). A stylesheet's url() and @import name
// other resources: its text is rewritten to their blob: URLs first; a URL the recording did
// not keep becomes "data:," (nothing), never the original address.

/** Calls `replace(url)` for every url(...) and @import "..." in CSS text; where it returns
 * a string, that becomes the URL (written as url("...")). Strings and comments are skipped,
 * so a quoted data: URI that contains "url(" stays whole. */
function mapCssUrls(css, replace) {
  const n = css.length;
  let out = '', last = 0, i = 0;
  const isName = (c) => !!c && /[\w\-\u0080-\uffff]/.test(c);
  const stringEnd = (at) => {  // index just past the string token starting at `at`
    const quote = css[at];
    let j = at + 1;
    while (j < n && css[j] !== quote && css[j] !== '\n') j += css[j] === '\\' ? 2 : 1;
    return Math.min(n, j + 1);
  };
  const unescape = (text) => text.replace(/\\([0-9a-fA-F]{1,6})[ \t\n]?|\\\n|\\(.)/g,
    (all, hex, other) => (hex ? String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff) || 0xfffd) : other || ''));
  const write = (from, to, url, asUrl) => {
    const replaced = replace(url);
    if (typeof replaced !== 'string') return;
    const quoted = '"' + replaced.replace(/[\\"\n\r]/g, (c) => '\\' + c.charCodeAt(0).toString(16) + ' ') + '"';
    out += css.slice(last, from) + (asUrl ? 'url(' + quoted + ')' : quoted);
    last = to;
  };
  while (i < n) {
    const c = css[i];
    if (c === '/' && css[i + 1] === '*') {
      const end = css.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      i = stringEnd(i);
    } else if ((c === 'u' || c === 'U') && css.slice(i, i + 4).toLowerCase() === 'url(' && !isName(css[i - 1])) {
      let j = i + 4;
      while (/\s/.test(css[j] || '')) j++;
      let url, end;
      if (css[j] === '"' || css[j] === "'") {
        const close = stringEnd(j);
        url = unescape(css.slice(j + 1, close - 1));
        end = close;
        while (/\s/.test(css[end] || '')) end++;
        if (css[end] !== ')') { i = end; continue; }  // not a url() after all
        end++;
      } else {
        const close = css.indexOf(')', j);
        if (close < 0) break;
        url = unescape(css.slice(j, close).trim());
        end = close + 1;
      }
      write(i, end, url.trim(), true);
      i = end;
    } else if (c === '@' && css.slice(i, i + 7).toLowerCase() === '@import' && !isName(css[i + 7])) {
      let j = i + 7;
      while (/\s/.test(css[j] || '')) j++;
      if (css[j] === '"' || css[j] === "'") {
        const close = stringEnd(j);
        write(j, close, unescape(css.slice(j + 1, close - 1)).trim(), false);
        i = close;
      } else {
        i = j;  // @import url(...): the url() branch takes it
      }
    } else {
      i++;
    }
  }
  return out + css.slice(last);
}

/** The absolute form of `url` against `base` (null when it has none). */
function absoluteUrl(url, base) {
  try { return new URL(url, base || undefined).href; } catch (e) { return null; }
}

const withoutHash = (url) => url.split('#')[0];
const hashOf = (url) => { const at = url.indexOf('#'); return at < 0 ? '' : url.slice(at); };

/** What a URL in a snapshot or stylesheet becomes, given `lookup(absolute) -> blob URL | null`:
 * data: URIs stay; a reference into the same document (`#id`, also when made absolute
 * against `self`) stays local; anything else is looked up, and is null (nothing) when the
 * recording did not keep it. */
function localUrl(url, base, self, lookup) {
  const text = (url || '').trim();
  if (!text) return null;
  if (/^data:/i.test(text)) return text;
  if (text.startsWith('#')) return text;
  const absolute = absoluteUrl(text, base);
  if (!absolute || !/^https?:/i.test(absolute)) return null;
  if (self && hashOf(absolute) && withoutHash(absolute) === withoutHash(self)) return hashOf(absolute);
  return lookup(absolute);
}

function makeResources(data) {
  const byUrl = new Map();  // absolute URL without fragment -> {key, type}
  for (const [url, info] of Object.entries(data.resources || {})) {
    const absolute = absoluteUrl(url);
    if (absolute) byUrl.set(withoutHash(absolute), info);
  }
  const loading = new Map();  // key -> Promise, settled once its bytes are in `bytes`
  const bytes = new Map();  // key -> Uint8Array
  const texts = new Map();  // key -> a stylesheet's text
  const made = new Map();  // key -> blob: URL
  const decoder = new TextDecoder('utf-8');

  const find = (url) => byUrl.get(withoutHash(url));
  const isCss = (info) => /^text\/css\b/i.test(info.type || '');

  const fetchBytes = async (key) => {
    if (data.embedded) {
      const b64 = (data.resource_data || {})[key];
      if (b64 == null) return null;
      const raw = atob(b64), out = new Uint8Array(raw.length);
      for (let k = 0; k < raw.length; k++) out[k] = raw.charCodeAt(k);
      return out;
    }
    try {
      const response = await fetch('/recording/' + encodeURIComponent(data.recording.id) + '/resource/' + key);
      return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
    } catch (e) { return null; }
  };
  const load = (info) => {
    if (!loading.has(info.key)) {
      loading.set(info.key, fetchBytes(info.key).then((got) => {
        if (!got) return;
        bytes.set(info.key, got);
        if (isCss(info)) texts.set(info.key, decoder.decode(got));
      }));
    }
    return loading.get(info.key);
  };

  /** Have the bytes of every resource `urls` name, and of what their stylesheets name in turn. */
  async function prepare(urls) {
    let wanted = [...new Set(urls)];
    const seen = new Set();
    while (wanted.length) {
      const found = [];
      for (const url of wanted) {
        const info = find(url);
        if (info && !seen.has(info.key)) { seen.add(info.key); found.push([url, info]); }
      }
      await Promise.all(found.map(([, info]) => load(info)));
      wanted = [];
      for (const [url, info] of found) {
        const text = texts.get(info.key);
        if (text != null) mapCssUrls(text, (inner) => { const a = absoluteUrl(inner, url); if (a) wanted.push(a); });
      }
    }
  }

  /** The blob: URL for an absolute URL (its fragment kept), or null: not kept, or not
   * prepared. A stylesheet's own URLs are rewritten first; an @import cycle ends in nothing. */
  function url(absolute, making = []) {
    const info = find(absolute);
    if (!info || making.includes(info.key) || !bytes.has(info.key)) return null;
    if (!made.has(info.key)) {
      let blob;
      if (isCss(info)) {
        const sheet = withoutHash(absolute), inner = making.concat(info.key);
        const css = mapCssUrls(texts.get(info.key), (u) => localUrl(u, sheet, sheet, (a) => url(a, inner)) || 'data:,');
        blob = new Blob([css], {type: 'text/css'});
      } else {
        blob = new Blob([bytes.get(info.key)], {type: info.type || 'application/octet-stream'});
      }
      made.set(info.key, URL.createObjectURL(blob));
    }
    return made.get(info.key) + hashOf(absolute);
  }

  return {prepare, url};
}

// A Playwright selector engine that runs in Playwright's utility world (content script):
// `<the action's locator> >> recorder-target=<{redact, previous}, URI-encoded JSON>` gives one
// detached element whose `data` attribute is the JSON of what world.js's elementInfo
// says of the locator's element (with `redact`, the selectors whose elements are secret),
// and, given `previous` (the place of the element the action before acted on: its CSS path
// and document), that element's state now, as `previous_target` (world.js stateAt): what the action before
// had done to it by the time this one began. recorder reads it with get_attribute, so
// looking at an action's element never runs in the page's main world, whatever the page
// did to it. Nothing is added to the page: the element is never attached.
// `recorder-target=none` gives one whose `data` is null, the answer when the locator finds nothing.
(() => {
  const recorder = __WORLD__;
  return {
    queryAll(root, body) {
      if (body === 'none') {  // the fallback of `<locator> >> recorder-target=... or recorder-target=none`
        const none = document.createElement('template');
        none.setAttribute('data', 'null');
        return [none];
      }
      let asked = {};
      try { asked = JSON.parse(decodeURIComponent(body)); } catch (e) {}
      const redact = asked.redact || [];
      const info = recorder.elementInfo(root, redact);
      if (info && asked.previous) info.previous_target = recorder.stateAt(root.ownerDocument, asked.previous, redact);
      const out = document.createElement('template');  // a standard tag: no page-defined custom element
      out.setAttribute('data', JSON.stringify(info));
      return [out];
    },
  };
})()

// sipscope web UI: the first thing the page runs. A cold load of the call
// list spent most of its time before the bundle's init ran (the renderer
// starting, the page parsed, every view's code evaluated), and the list's
// first page depends on none of it: it is asked for here, from the hash
// alone, and list.js takes this answer instead of asking again when it
// would ask for the same URL (anything else is aborted, never shown).
// Loaded without defer and before the style sheets (a script waits for the
// style sheets above it), so it runs as soon as it arrives; the deferred
// bundle runs after it.
'use strict';

// bootList is { path, ctl, pending } of the early request, or null.
let bootList = (() => {
  const hash = location.hash || '#/';
  const m = /^#\/?(?:\?(.*))?$/.exec(hash);
  if (!m || !window.fetch || !window.AbortController) return null;
  const params = new URLSearchParams(m[1] || '');
  // A relative range ("last hour") is resolved against the clock when the
  // list asks; leave those to it.
  if (params.has('range')) return null;
  // list.js's pageSize: the URL's limit, else the saved page size, else 50.
  let limit = parseInt(params.get('limit') || '', 10);
  if (!(limit >= 1 && limit <= 1000)) {
    let saved = NaN;
    try {
      saved = parseInt(localStorage.getItem('sipscope.pageSize') || '', 10);
    } catch (_) {
      // no storage: the default
    }
    limit = saved >= 1 && saved <= 1000 ? saved : 50;
  }
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  params.set('limit', String(limit));
  params.set('offset', String(offset));
  const path = '/calls?' + params.toString();
  const ctl = new AbortController();
  performance.mark('list:request');
  const pending = fetch('/api/v1' + path, { signal: ctl.signal, headers: { Accept: 'application/json' } });
  // An answer nobody takes (the page went elsewhere) must not be reported
  // as an unhandled rejection when it is aborted.
  pending.catch(() => {});
  return { path, ctl, pending };
})();

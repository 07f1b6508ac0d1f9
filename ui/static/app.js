// sipscope web UI: routing, wiring and the live-capture status line. Loaded
// last; core.js, list.js and call.js define what it calls.
'use strict';

// ---- Routing -------------------------------------------------------------
// routes is the table of pages: pattern matches the hash path (the part
// before '?'), view is the id of the <main> section to show (every other
// section is hidden), show receives the regexp match and the hash's query
// parameters. The first match wins; the list is the fallback. A new page is
// one line here plus its section in index.html.
const routes = [
  // #/call/<call id>: one call, the id percent-encoded.
  { pattern: /^#\/call\/(.+)$/, view: 'call-view', show: (m) => {
    let id;
    try {
      id = decodeURIComponent(m[1]);
    } catch (_) {
      showError('Malformed call link.');
      return;
    }
    showCall(id);
  } },
  // #/ or #/?q=..&state=..&from=..&to=..&offset=..: the call list.
  { pattern: /^#\/?$/, view: 'list-view', show: (_m, params) => showList(params) },
];

function route() {
  clearError();
  const hash = location.hash || '#/';
  const q = hash.indexOf('?');
  const path = q >= 0 ? hash.slice(0, q) : hash;
  const params = new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
  const r = routes.find((e) => e.pattern.test(path)) || routes[routes.length - 1];
  showView(r.view);
  r.show(r.pattern.exec(path) || [], params);
}

// ---- Wiring --------------------------------------------------------------

function init() {
  initList();
  initCall();
  $('refresh').addEventListener('click', route);
  window.addEventListener('hashchange', route);
  route();
  pollStatus();
}

// pollStatus shows live-capture counters in the header, kernel and queue
// drops in red, when serve captures live; nothing for imported files.
async function pollStatus() {
  const box = $('capture-status');
  try {
    // A plain fetch: getJSON cancels the page's own request in flight.
    const resp = await fetch(API + '/status', { headers: { Accept: 'application/json' } });
    const st = (await resp.json()).live || {};
    const sources = (st.interfaces || []).concat(st.hep_listen || []);
    if (sources.length) {
      const drops = (st.kernel_drops || 0) + (st.queue_drops || 0) + (st.hep_dropped || 0);
      const writeErrors = st.store_write_errors || 0;
      box.textContent = `Live: ${sources.join(', ')} · ${(st.packets || 0) + (st.hep_received || 0)} packets · ${drops} dropped` +
        (writeErrors ? ` · ${writeErrors} store write errors` : '');
      box.classList.toggle('drops', drops + writeErrors > 0);
      box.title = `kernel drops ${st.kernel_drops || 0}, queue drops ${st.queue_drops || 0}, HEP dropped ${st.hep_dropped || 0}, store write errors ${writeErrors}`;
      box.hidden = false;
    }
  } catch (e) {
    box.hidden = true;
  }
  setTimeout(pollStatus, 5000);
}

init();

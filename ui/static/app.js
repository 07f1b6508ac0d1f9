// sipscope web UI: routing, wiring and the live-capture status line. Loaded
// last; core.js, list.js and call.js define what it calls.
'use strict';

// ---- Routing -------------------------------------------------------------
// #/                 call list (optionally #/?q=..&state=..&from=..&to=..&offset=..)
// #/call/<call id>   one call, the id percent-encoded
// #/registrations, #/registration/<id>, #/streams, #/dashboard, #/alerts,
// #/alert/<id>: views.js (viewRoute)

function route() {
  clearError();
  const hash = location.hash || '#/';
  if (viewRoute(hash)) return; // views.js: registrations, streams, dashboard, alerts
  const m = /^#\/call\/(.+)$/.exec(hash);
  if (m) {
    let id;
    try {
      id = decodeURIComponent(m[1]);
    } catch (_) {
      showError('Malformed call link.');
      return;
    }
    showCall(id);
    return;
  }
  const q = hash.indexOf('?');
  showList(new URLSearchParams(q >= 0 ? hash.slice(q + 1) : ''));
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

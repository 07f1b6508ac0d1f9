// sipscope web UI: routing, wiring and the live-capture status line. Loaded
// last; core.js, list.js and call.js define what it calls.
'use strict';

// ---- Routing -------------------------------------------------------------
// routes is the table of pages: pattern matches the hash path (the part
// before '?'), view is the id of the <main> section to show (every other
// section is hidden), show receives the regexp match and the hash's query
// parameters, leave (optional) runs when another page replaces it. The
// first match wins; the list is the fallback. A new page is one line here
// plus its section in index.html.
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
  // #/registrations, #/registration/<id>, #/streams, #/dashboard, #/alerts,
  // #/alert/<id>: views.js (viewRoute shows its own sections).
  { pattern: /^#\/(registrations|registration\/.+|streams|dashboard|alerts|alert\/.+)$/, view: null,
    show: () => viewRoute(location.hash || '#/') },
  { pattern: /^#\/login$/, view: 'login-view', show: (_m, params) => showLogin(params) },
  { pattern: /^#\/admin$/, view: 'admin-view', show: () => showAdmin(), leave: leaveAdmin },
  // #/ or #/?q=..&state=..&range=..&from=..&to=..&sort=..&offset=..: the call list.
  { pattern: /^#\/?$/, view: 'list-view', show: (_m, params) => showList(params), leave: leaveList },
];

let currentRoute = null;

function route() {
  clearError();
  closeUserMenu();
  const hash = location.hash || '#/';
  const q = hash.indexOf('?');
  const path = q >= 0 ? hash.slice(0, q) : hash;
  const params = new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
  const r = routes.find((e) => e.pattern.test(path)) || routes[routes.length - 1];
  if (currentRoute && currentRoute !== r && currentRoute.leave) currentRoute.leave();
  currentRoute = r;
  if (r.view) showView(r.view);
  r.show(r.pattern.exec(path) || [], params);
  // Only the list holds the rest back until its rows are drawn.
  if (r.view !== 'list-view') firstViewShown();
}

// ---- Keyboard ----------------------------------------------------------------
// sngrep habits: j/k or arrows move through the list, Enter opens, '/'
// searches, Esc goes back from a call to the list. Keys typed into a form
// field stay there (Esc leaves the field).

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
  const t = ev.target;
  const inField = t && t.closest && t.closest('input, select, textarea, [contenteditable], .menu-panel');
  if (ev.key === 'Escape') {
    if (!$('user-panel').hidden) {
      closeUserMenu();
      $('user-button').focus();
      return;
    }
    if (inField) {
      t.blur();
      return;
    }
    if (currentRoute && currentRoute.view === 'call-view') {
      ev.preventDefault();
      location.hash = list.lastHash || '#/';
    }
    return;
  }
  if (inField) return;
  // Enter on a button or link is that control's own business.
  if (ev.key === 'Enter' && t && t.closest && t.closest('button, a, summary')) return;
  if (currentRoute && currentRoute.view === 'list-view' && listKey(ev)) ev.preventDefault();
}

// ---- Theme and time zone ---------------------------------------------------------

function showThemeToggle() {
  const dark = effectiveTheme() === 'dark';
  const b = $('theme-toggle');
  b.setAttribute('aria-pressed', String(dark));
  b.title = dark ? 'Dark theme is on: switch to light' : 'Light theme is on: switch to dark';
  b.firstElementChild.textContent = dark ? '\u2600' : '\u263E';
}

function showTimeZone() {
  const label = timeZoneLabel();
  $('tz-note').textContent = 'All times ' + label;
  for (const n of document.querySelectorAll('.tz-name')) n.textContent = label;
  $('tz-utc').checked = timeZoneMode() === 'utc';
  $('tz-browser').checked = timeZoneMode() === 'browser';
  let zone = 'local';
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || zone;
  } catch (_) {
    // keep "local"
  }
  $('tz-browser-name').textContent = zone;
}

function initShell() {
  showThemeToggle();
  $('theme-toggle').addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    setPref('theme', next);
    applyTheme(next);
    showThemeToggle();
  });
  if (window.matchMedia) {
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', showThemeToggle);
  }
  showTimeZone();
  for (const id of ['tz-utc', 'tz-browser']) {
    $(id).addEventListener('change', () => {
      setPref('tz', $('tz-browser').checked ? 'browser' : 'utc');
      showTimeZone();
      // Times in the URL are absolute; only their display changes.
      route();
    });
  }
  document.addEventListener('keydown', onKey);
}

// ---- Wiring --------------------------------------------------------------

function init() {
  performance.mark('app:init');
  initShell();
  initUserMenu();
  initList();
  initCall();
  initLogin();
  initAdmin();
  $('refresh').addEventListener('click', route);
  window.addEventListener('hashchange', route);
  route();
  loadMe();
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
    // Live capture is what feeds the event stream: without it (imported
    // files only) the list does not try to follow new calls.
    const live = resp.ok && Object.keys(st).length > 0;
    if (!resp.ok) box.hidden = true;
    if (live !== list.liveAvailable) {
      list.liveAvailable = live;
      if (currentRoute && currentRoute.view === 'list-view') syncLive();
    }
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

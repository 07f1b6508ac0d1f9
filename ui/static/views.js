// sipscope web UI: the registrations, RTP streams and alerts views, the
// header's firing-alerts badge, and what they share with dashboard.js
// (switching views, filter forms kept in the URL, paging). Loaded after
// core.js and dashboard.js and before app.js, whose route() hands these routes to
// viewRoute(). Everything from the API reaches the page as text.
'use strict';

// ---- Routes --------------------------------------------------------------
// #/registrations     list (?aor=..&ip=..&user_agent=..&result=..&challenged=..&from=..&to=..&offset=..)
// #/registration/<id> one registration Call-ID with its messages
// #/streams           list (?ip=..&port=..&ssrc=..&codec=..&mos_below=..&loss_above=..&unbound=true&offset=..)
// #/dashboard         KPIs (?range=1h|24h|7d, or from=..&to=..[&step=..]; group_by=..&group=..)
// #/alerts            list (?state=..&rule=..)
// #/alert/<id>        one alert

const VW_PAGE = 50;

// vwSeq changes whenever the page moves to another view or query; an
// answer that arrives after that is dropped instead of drawn.
let vwSeq = 0;

// viewRoute shows the view a hash names and reports whether it was one of
// these views.
function viewRoute(hash) {
  const q = hash.indexOf('?');
  const path = q >= 0 ? hash.slice(0, q) : hash;
  const params = new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
  const one = (prefix) => {
    if (!path.startsWith(prefix) || path.length === prefix.length) return null;
    try {
      return decodeURIComponent(path.slice(prefix.length));
    } catch (_) {
      return '';
    }
  };
  let id;
  switch (path) {
    case '#/registrations': showRegistrations(params); return true;
    case '#/streams': showStreams(params); return true;
    case '#/dashboard': showDashboard(params); return true;
    case '#/alerts': showAlerts(params); return true;
  }
  if ((id = one('#/registration/')) !== null) {
    if (id) showRegistration(id); else showError('Malformed registration link.');
    return true;
  }
  if ((id = one('#/alert/')) !== null) {
    if (id) showAlert(id); else showError('Malformed alert link.');
    return true;
  }
  return false;
}

// The nav link each route belongs to.
function vwNavFor(hash) {
  if (/^#\/registrations?(\/|\?|$)/.test(hash)) return 'nav-registrations';
  if (/^#\/streams(\?|$)/.test(hash)) return 'nav-streams';
  if (/^#\/dashboard(\?|$)/.test(hash)) return 'nav-dashboard';
  if (/^#\/alerts?(\/|\?|$)/.test(hash)) return 'nav-alerts';
  return 'nav-calls';
}

// vwSync runs on every hash change before route(): it leaves these views
// when the page goes elsewhere (the call list and call view show only
// their own sections) and marks the current nav link.
function vwSync() {
  vwSeq++;
  const hash = location.hash || '#/';
  const nav = vwNavFor(hash);
  for (const a of document.querySelectorAll('.topbar nav a')) {
    if (a.id === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (nav === 'nav-calls') {
    for (const s of document.querySelectorAll('main > section.vw')) s.hidden = true;
  }
}

// vwShow makes one section the only one shown and returns the sequence
// number the view's answers must still match.
function vwShow(id, title) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== id;
  document.title = 'sipscope – ' + title;
  return ++vwSeq;
}

// vwGet fetches one API resource. Unlike getJSON it cancels nothing: the
// dashboard asks for several at once, and vwSeq drops stale answers.
async function vwGet(path) {
  setBusy(1);
  let resp;
  try {
    resp = await fetch(API + path, { headers: { Accept: 'application/json' } });
  } finally {
    setBusy(-1);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    body = null;
  }
  if (!resp.ok) {
    // An expired session goes to the login page, as the list's requests
    // do; /me is asked to learn the role and may answer 401 quietly.
    if (resp.status === 401 && path !== '/me') needLogin();
    const err = new Error((body && body.error) || ('HTTP ' + resp.status));
    err.status = resp.status;
    throw err;
  }
  return body;
}

// vwMe is who the page acts as ({user, role}), asked once.
let vwMePromise = null;
function vwMe() {
  if (!vwMePromise) {
    vwMePromise = vwGet('/me').catch(() => {
      vwMePromise = null; // ask again after a login
      return { role: '' };
    });
  }
  return vwMePromise;
}

// ---- Filter forms in the URL -------------------------------------------

// datetime-local fields are read and written in the zone the page shows
// times in (UTC or the browser's, the header's choice); the URL and the
// API keep RFC 3339 UTC.
function vwToRFC3339(v) {
  return zonedInputToRFC3339(v);
}

function vwFromRFC3339(v) {
  return rfc3339ToZonedInput(v);
}

function vwFormParams(form) {
  const p = new URLSearchParams();
  for (const f of form.elements) {
    const v = (f.value || '').trim();
    if (!f.name || !v) continue;
    p.set(f.name, f.type === 'datetime-local' ? vwToRFC3339(v) : v);
  }
  return p;
}

function vwFillForm(form, params) {
  for (const f of form.elements) {
    // Never rewrite the field someone is typing in.
    if (!f.name || (f === document.activeElement && f.tagName === 'INPUT' && f.type !== 'datetime-local')) continue;
    const v = params.get(f.name) || '';
    f.value = f.type === 'datetime-local' ? vwFromRFC3339(v) : v;
  }
}

function vwHash(base, params) {
  const s = params.toString();
  return s ? base + '?' + s : base;
}

// vwBindForm keeps a filter form and the URL in step: search boxes search
// after a pause (replacing the history entry rather than adding one per
// keystroke), selects and dates at once, other fields on Enter or when
// left (a half-typed IP address is not worth an error).
function vwBindForm(form, base) {
  let typing = 0;
  const go = (replace) => {
    clearTimeout(typing);
    const h = vwHash(base, vwFormParams(form));
    if (h === location.hash) {
      route();
    } else if (replace) {
      history.replaceState(null, '', h);
      route();
    } else {
      location.hash = h;
    }
  };
  form.addEventListener('input', (ev) => {
    if (ev.target.type !== 'search') return;
    clearTimeout(typing);
    typing = setTimeout(() => go(true), 300);
  });
  form.addEventListener('change', (ev) => {
    if (ev.target.type !== 'search') go(false);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(false);
  });
  // The browser clears the fields after the reset event.
  form.addEventListener('reset', () => setTimeout(() => go(false), 0));
}

function vwOffset(params) {
  return Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
}

// vwPager draws "newer / n–m of total / older" under a list.
function vwPager(box, base, params, offset, shown, total) {
  const move = (o) => {
    const p = new URLSearchParams(params);
    if (o > 0) p.set('offset', String(o)); else p.delete('offset');
    location.hash = vwHash(base, p);
  };
  const prev = el('button', { type: 'button', class: 'vw-prev' }, '← Newer');
  const next = el('button', { type: 'button', class: 'vw-next' }, 'Older →');
  prev.disabled = offset === 0;
  next.disabled = offset + shown >= total;
  prev.addEventListener('click', () => move(Math.max(0, offset - VW_PAGE)));
  next.addEventListener('click', () => move(offset + VW_PAGE));
  const first = shown ? offset + 1 : 0;
  box.replaceChildren(prev, el('span', { class: 'vw-page-info' }, `${first}–${offset + shown} of ${total}`), next);
}

// vwOpens makes a table row a link: focusable, opened by click or Enter.
function vwOpens(tr, hash) {
  tr.tabIndex = 0;
  tr.classList.add('vw-row');
  tr.addEventListener('click', (ev) => {
    if (ev.target.closest('a')) return; // a link inside the row goes where it says
    location.hash = hash;
  });
  tr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target === tr) location.hash = hash;
  });
}

const vwDash = '—';

function vwBadge(kind, text) {
  // kind comes from a fixed set below, never from API text.
  return el('span', { class: 'badge vw-' + kind }, text);
}

function vwCount(n) {
  return Number.isFinite(n) ? String(n) : vwDash;
}

// ---- Registrations -----------------------------------------------------

const regResults = { ok: ['ok', 'OK'], failed: ['err', 'Failed'], pending: ['none', 'Pending'] };

function regResultBadge(result) {
  const [kind, text] = regResults[result] || ['none', result || vwDash];
  return vwBadge(kind, text);
}

function regHash(id) {
  return '#/registration/' + encodeURIComponent(id);
}

function regCells(r) {
  return [
    el('td', { class: 'mono' }, dateTime(r.start)),
    el('td', { class: 'user', title: r.aor }, r.aor || vwDash),
    el('td', { class: 'user', title: r.contact }, r.contact || vwDash),
    el('td', { class: 'mono' }, r.src_ip || vwDash),
    el('td', { class: 'user', title: r.user_agent }, r.user_agent || vwDash),
    el('td', null, regResultBadge(r.result)),
    el('td', { class: 'num ' + codeClass(r.final_code) }, r.final_code ? String(r.final_code) : vwDash),
    el('td', { class: 'num' }, vwCount(r.attempts)),
    el('td', null, r.challenged ? 'yes' : 'no'),
    el('td', { class: 'num' }, r.expires >= 0 ? r.expires + ' s' : vwDash),
    el('td', { class: 'num' }, vwCount(r.messages)),
  ];
}

// vwLoadPage shows a list view with its form filled from params and loads
// one page of path; null when the load failed (the error is shown) or a
// newer view took the page meanwhile.
async function vwLoadPage(view, title, form, path, what, params) {
  const seq = vwShow(view, title);
  vwFillForm($(form), params);
  const offset = vwOffset(params);
  const q = new URLSearchParams(params);
  q.set('limit', String(VW_PAGE));
  q.set('offset', String(offset));
  let page;
  try {
    page = await vwGet(path + '?' + q);
  } catch (e) {
    if (seq === vwSeq) showError('Cannot load ' + what + ': ' + e.message);
    return null;
  }
  if (seq !== vwSeq) return null;
  return { page, offset };
}

async function showRegistrations(params) {
  const got = await vwLoadPage('registrations-view', 'registrations', 'reg-filters', '/registrations', 'registrations', params);
  if (!got) return;
  const { page, offset } = got;
  const rows = page.registrations.map((r) => {
    const tr = el('tr', { 'data-call-id': r.call_id, title: r.call_id }, ...regCells(r));
    vwOpens(tr, regHash(r.call_id));
    return tr;
  });
  $('reg-table').tBodies[0].replaceChildren(...rows);
  $('reg-empty').hidden = rows.length > 0;
  vwPager($('reg-pager'), '#/registrations', params, offset, rows.length, page.total);
}

async function showRegistration(id) {
  const seq = vwShow('registration-view', 'registration');
  $('reg-title').textContent = id;
  $('reg-summary').replaceChildren();
  $('reg-exchanges').tBodies[0].replaceChildren();
  $('reg-messages').replaceChildren();
  let d;
  try {
    d = await vwGet('/registrations/' + encodeURIComponent(id));
  } catch (e) {
    if (seq !== vwSeq) return;
    showError(e.status === 404 ? 'No registration has the Call-ID ' + id + '.' : 'Cannot load the registration: ' + e.message);
    return;
  }
  if (seq !== vwSeq) return;
  const last = d.registrations[d.registrations.length - 1];
  if (last) {
    const item = (label, value, attrs) => el('span', attrs || null, label + ' ', el('b', null, value));
    $('reg-summary').replaceChildren(
      item('AoR', last.aor || vwDash, { id: 'reg-aor-value' }),
      item('from', last.src_ip || vwDash),
      item('user agent', last.user_agent || vwDash),
      el('span', null, regResultBadge(last.result)));
  }
  $('reg-exchanges').tBodies[0].replaceChildren(...d.registrations.map((r) => el('tr', null, ...regCells(r))));
  $('reg-messages').replaceChildren(...vwMessages(d.messages));
}

// vwMessages lists SIP messages, each with its raw text open beneath its
// summary; <details> keeps them keyboard-usable.
function vwMessages(msgs) {
  const first = msgs.length ? micros(msgs[0].ts) : NaN;
  return msgs.map((m, i) => {
    const offset = (micros(m.ts) - first) / 1e6;
    const summary = el('summary', { class: 'vw-msg-line' },
      el('span', { class: 'mono' }, clock(m.ts)),
      el('span', { class: 'mono hint' }, Number.isFinite(offset) ? '+' + offset.toFixed(3) + ' s' : ''),
      el('span', { class: 'mono' }, `${m.src} → ${m.dst}`),
      el('span', { class: 'hint' }, (m.transport || '').toUpperCase()),
      el('b', { class: 'vw-msg-label ' + arrowClass(m) }, messageLabel(m)));
    const raw = el('pre', { class: 'message-detail vw-raw' });
    raw.textContent = (m.raw || '').replace(/\r\n/g, '\n');
    const d = el('details', { open: '' }, summary, raw);
    return el('li', { 'data-index': i }, d);
  });
}

// ---- Streams -------------------------------------------------------------

function strmLossPct(s) {
  return s.expected > 0 ? (100 * s.lost) / s.expected : 0;
}

async function showStreams(params) {
  const got = await vwLoadPage('streams-view', 'RTP streams', 'stream-filters', '/streams', 'streams', params);
  if (!got) return;
  const { page, offset } = got;
  const rows = [];
  page.streams.forEach((s, i) => rows.push(...strmRows(s, i)));
  $('stream-table').tBodies[0].replaceChildren(...rows);
  $('stream-empty').hidden = page.streams.length > 0;
  vwPager($('stream-pager'), '#/streams', params, offset, page.streams.length, page.total);
}

// strmRows is a stream's row and its hidden detail row; the row opens and
// closes the detail (click or Enter), its call link goes to the call.
function strmRows(s, i) {
  const call = s.call_id
    ? el('a', { href: callHash(s.call_id), class: 'mono stream-call', title: s.call_id }, s.call_id)
    : vwBadge('none', 'unbound');
  // A table row cannot carry aria-expanded (only treegrid rows can), so
  // the start time is the disclosure button that says whether it is open.
  const disclose = el('button', { type: 'button', class: 'vw-disclose', 'aria-expanded': 'false',
    'aria-controls': 'stream-detail-' + i }, dateTime(s.start));
  const tr = el('tr', { class: 'vw-row stream-row', tabindex: 0, 'data-ssrc': s.ssrc,
    'data-call-id': s.call_id || '' },
  el('td', { class: 'mono' }, disclose),
  el('td', { class: 'mono' }, s.src),
  el('td', { class: 'mono' }, s.dst),
  el('td', { class: 'mono' }, s.ssrc),
  el('td', null, s.payload),
  el('td', { class: 'num' }, String(s.packets)),
  el('td', { class: 'num' }, String(s.lost)),
  el('td', { class: 'num' }, num(strmLossPct(s), 1) + ' %'),
  el('td', { class: 'num' }, num(s.mean_jitter_ms, 2)),
  el('td', { class: 'num' }, num(s.max_delta_ms, 2)),
  el('td', { class: 'num' }, mosBadge(s.mos)),
  el('td', { class: 'user' }, call));
  const detail = el('tr', { class: 'stream-detail', id: 'stream-detail-' + i, hidden: '' },
    el('td', { colspan: 12 }, strmStats(s)));
  const toggle = () => {
    detail.hidden = !detail.hidden;
    disclose.setAttribute('aria-expanded', String(!detail.hidden));
  };
  tr.addEventListener('click', (ev) => {
    if (!ev.target.closest('a')) toggle();
  });
  tr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target === tr) toggle();
  });
  return [tr, detail];
}

// strmStats is every figure of one stream, each with its API field name
// in data-field.
function strmStats(s) {
  const items = [];
  const add = (field, label, value) => {
    items.push(el('div', { class: 'stat', 'data-field': field }, el('dt', null, label), el('dd', null, value)));
  };
  add('start', 'Start', dateTime(s.start) + ' (' + duration(s.start, s.end) + ')');
  add('payload_type', 'Payload type', String(s.payload_type));
  add('expected', 'Expected', String(s.expected));
  add('packets', 'Received', String(s.packets));
  add('lost', 'Lost', `${s.lost} (${num(strmLossPct(s), 2)} %)`);
  add('seq_errors', 'Sequence errors', String(s.seq_errors));
  if (s.payload === 't38') add('duplicates', 'Duplicates', String(s.duplicates || 0));
  add('delta_ms', 'Δ min / mean / max (ms)', `${num(s.min_delta_ms, 2)} / ${num(s.mean_delta_ms, 2)} / ${num(s.max_delta_ms, 2)}`);
  add('jitter_ms', 'Jitter min / mean / max (ms)', `${num(s.min_jitter_ms, 2)} / ${num(s.mean_jitter_ms, 2)} / ${num(s.max_jitter_ms, 2)}`);
  add('late', 'Late for the jitter buffer', String(s.late));
  add('effective_lost', 'Effective loss', String(s.effective_lost));
  add('jitter_buffer', 'Jitter buffer', s.jitter_buffer ? `${s.jitter_buffer} (${num(s.jitter_buffer_ms, 1)} ms)` : vwDash);
  add('burst_r', 'Burst ratio', num(s.burst_r, 2) || vwDash);
  add('r_factor', 'R factor', num(s.r_factor, 1) || vwDash);
  add('mos', 'MOS', s.mos ? s.mos.toFixed(2) : vwDash);
  add('rtt_ms', 'RTCP round trip', s.rtt_ms ? num(s.rtt_ms, 1) + ' ms' : vwDash);
  const rtcp = s.rtcp || {};
  add('rtcp', 'RTCP reports', rtcp.reports
    ? `${rtcp.reports}: lost ${num(rtcp.fraction_lost_pct, 1)} %, jitter ${num(rtcp.jitter_ms, 2)} ms` + (rtcp.cname ? `, CNAME ${rtcp.cname}` : '')
    : 'none');
  const digits = (s.dtmf || []).map((d) => d.digit).join(' ');
  if (digits) add('dtmf', 'DTMF', digits);
  add('call_id', 'Call', s.call_id || 'none: no SDP announced these addresses');
  return el('dl', { class: 'stream-stats' }, ...items);
}

// ---- Alerts ----------------------------------------------------------------

const alertRuleNames = {
  registration_storm: 'Registration storm', registration_failures: 'Registration failures', scanner: 'Scanner',
  auth_bruteforce: 'Auth brute force', invite_flood: 'INVITE flood', failure_spike: 'Failure spike',
  low_mos: 'Low MOS', one_way_audio: 'One-way audio', no_media: 'No media', long_pdd: 'Long PDD',
};

function alertStateBadge(state) {
  const kind = { firing: 'firing', resolved: 'ok', pending: 'none' }[state] || 'none';
  return el('span', { class: 'badge vw-' + kind, 'data-state': state || '' }, state || vwDash);
}

function alertSeverityBadge(sev) {
  const kind = { critical: 'err', warning: 'warn', info: 'info' }[sev] || 'none';
  return el('span', { class: 'badge vw-' + kind }, sev || vwDash);
}

function alertHash(id) {
  return '#/alert/' + encodeURIComponent(id);
}

async function showAlerts(params) {
  const seq = vwShow('alerts-view', 'alerts');
  vwFillForm($('alert-filters'), params);
  const q = new URLSearchParams();
  for (const k of ['state', 'rule']) {
    if (params.get(k)) q.set(k, params.get(k));
  }
  q.set('limit', '1000');
  let page;
  try {
    page = await vwGet('/alerts?' + q);
  } catch (e) {
    if (seq === vwSeq) showError('Cannot load alerts: ' + e.message);
    return;
  }
  if (seq !== vwSeq) return;
  const rows = page.alerts.map((a) => {
    const tr = el('tr', { 'data-alert-id': a.id },
      el('td', null, alertStateBadge(a.state)),
      el('td', null, alertSeverityBadge(a.severity)),
      el('td', null, alertRuleNames[a.rule] || a.rule),
      el('td', { class: 'user', title: a.key }, a.key),
      el('td', { class: 'mono' }, dateTime(a.start)),
      el('td', { class: 'mono' }, a.end ? dateTime(a.end) : 'ongoing'),
      el('td', { class: 'vw-wrap' }, el('div', { class: 'alert-summary' }, a.summary), alertEvidence(a)));
    vwOpens(tr, alertHash(a.id));
    return tr;
  });
  $('alert-table').tBodies[0].replaceChildren(...rows);
  $('alert-empty').hidden = rows.length > 0;
  $('alert-counts').textContent = `${page.firing} firing · ${page.total} match` +
    (page.total > rows.length ? ` (newest ${rows.length} shown)` : '');
  alertBadgeSet(page.firing);
}

// alertEvidence is the list row's second line: the heaviest offender and
// the first sample calls, each a link.
function alertEvidence(a) {
  const parts = [];
  const top = (a.top_offenders || [])[0];
  if (top) {
    const href = alertOffenderLink(top);
    parts.push(el('span', null, 'top ' + top.kind.replace(/_/g, ' ') + ' ',
      href ? el('a', { href, class: 'mono' }, top.value) : el('span', { class: 'mono' }, top.value), ` (${top.count})`));
  }
  const samples = a.sample_call_ids || [];
  if (samples.length) {
    parts.push(el('span', null, 'calls ', ...samples.slice(0, 2).flatMap((c, i) =>
      [i ? ', ' : '', el('a', { href: callHash(c), class: 'mono sample-call' }, c)]),
    samples.length > 2 ? ` +${samples.length - 2}` : ''));
  }
  return parts.length ? el('div', { class: 'alert-evidence' }, ...parts) : null;
}

// alertFigure renders a figure or threshold: rates and ratios carry
// fractions, counts do not.
function alertFigure(v) {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 3 : 1);
}

function alertKV(table, obj) {
  const names = Object.keys(obj || {}).sort();
  table.tBodies[0].replaceChildren(...names.map((k) =>
    el('tr', { 'data-name': k, 'data-value': obj[k] },
      el('th', { scope: 'row' }, k.replace(/_/g, ' ')),
      el('td', { class: 'num' }, alertFigure(obj[k])))));
  return names.length;
}

// alertOffenderLink sends an offender to the view that searches by it.
function alertOffenderLink(o) {
  if (o.kind === 'ip') return listHash(new URLSearchParams({ ip: o.value }));
  if (o.kind === 'aor') return '#/registrations?' + new URLSearchParams({ aor: o.value });
  if (o.kind === 'user_agent') return '#/registrations?' + new URLSearchParams({ user_agent: o.value });
  return null;
}

async function showAlert(id) {
  const seq = vwShow('alert-view', 'alert');
  $('alert-title').textContent = id;
  for (const x of ['alert-summary', 'alert-meta', 'alert-samples']) $(x).replaceChildren();
  for (const x of ['alert-figures', 'alert-thresholds', 'alert-offenders']) $(x).tBodies[0].replaceChildren();
  $('alert-pcap').hidden = true;
  let a;
  let me;
  try {
    [a, me] = await Promise.all([vwGet('/alerts/' + encodeURIComponent(id)), vwMe()]);
  } catch (e) {
    if (seq !== vwSeq) return;
    showError(e.status === 404 ? 'No alert has the id ' + id + '.' : 'Cannot load the alert: ' + e.message);
    return;
  }
  if (seq !== vwSeq) return;
  $('alert-title').textContent = `${alertRuleNames[a.rule] || a.rule} · ${a.key}`;
  $('alert-summary').textContent = a.summary;
  const item = (label, value, attrs) => el('span', attrs || null, label + ' ', el('b', null, value));
  $('alert-meta').replaceChildren(...[
    alertStateBadge(a.state), alertSeverityBadge(a.severity),
    item('rule', a.rule, { id: 'alert-rule-name' }),
    item('started', dateTime(a.start)),
    item(a.end ? 'ended' : 'still firing after', a.end ? dateTime(a.end) : duration(a.start, new Date().toISOString())),
    a.end ? item('lasted', duration(a.start, a.end)) : null,
    item('id', a.id)].filter(Boolean));
  alertKV($('alert-figures'), a.figures);
  alertKV($('alert-thresholds'), a.thresholds);
  const offenders = a.top_offenders || [];
  $('alert-offenders').tBodies[0].replaceChildren(...offenders.map((o) => {
    const href = alertOffenderLink(o);
    return el('tr', { 'data-kind': o.kind },
      el('td', null, o.kind.replace(/_/g, ' ')),
      el('td', { class: 'mono' }, href ? el('a', { href }, o.value) : o.value),
      el('td', { class: 'num' }, String(o.count)));
  }));
  $('alert-offenders-empty').hidden = offenders.length > 0;
  const samples = a.sample_call_ids || [];
  $('alert-samples').replaceChildren(...samples.map((c) =>
    el('li', null, el('a', { href: callHash(c), class: 'mono sample-call' }, c))));
  $('alert-samples-empty').hidden = samples.length > 0;
  // PCAP holds what was said: operators and admins only, as the API says.
  const pcap = $('alert-pcap');
  pcap.href = API + '/alerts/' + encodeURIComponent(a.id) + '/pcap';
  pcap.hidden = !(me.role === 'operator' || me.role === 'admin');
}

// ---- Firing-alerts badge -------------------------------------------------

function alertBadgeSet(n) {
  const b = $('alert-badge');
  b.textContent = String(n);
  b.dataset.firing = String(n);
  b.hidden = !(n > 0);
  b.title = n === 1 ? '1 alert firing' : `${n} alerts firing`;
  $('nav-alerts').setAttribute('aria-label', n > 0 ? `Alerts, ${n} firing` : 'Alerts');
}

async function alertBadgeRefresh() {
  try {
    const page = await vwGet('/alerts?state=firing&limit=1');
    alertBadgeSet(page.firing);
  } catch (_) {
    // Not logged in yet, or the server is restarting: try at the next tick.
  }
}

// alertBadgeStart keeps the badge current: every 10 s, and at once on
// each alert event of the live stream. The stream exists only while serve
// captures live (it answers 501 otherwise), so it is opened only then.
async function alertBadgeStart() {
  await alertBadgeRefresh();
  setInterval(alertBadgeRefresh, 10000);
  if (!window.EventSource) return;
  let live = false;
  try {
    const resp = await fetch(API + '/status', { headers: { Accept: 'application/json' } });
    const st = resp.ok ? (await resp.json()).live : null;
    live = !!st && Object.keys(st).length > 0;
  } catch (_) {
    live = false;
  }
  if (!live) return;
  const es = new EventSource(API + '/events?kinds=alerts');
  es.addEventListener('alert', () => {
    alertBadgeRefresh();
    if (/^#\/alerts(\?|$)/.test(location.hash)) route();
  });
}

function initViews() {
  vwBindForm($('reg-filters'), '#/registrations');
  vwBindForm($('stream-filters'), '#/streams');
  vwBindForm($('alert-filters'), '#/alerts');
  initDashboard();
  // Registered before app.js registers route(), so it runs first.
  window.addEventListener('hashchange', vwSync);
  vwSync();
  whenFirstViewShown(alertBadgeStart);
}

initViews();

// sipscope web UI, shared part: DOM builders, the API client, formatting and
// the badges every view uses. The UI is plain classic scripts loaded in
// order (core.js, list.js, call.js, app.js) that share one global scope; no
// framework, no build step. SIP text is attacker-controlled, so everything
// from the API reaches the page through textContent or attribute setters,
// never through innerHTML.
'use strict';

const API = '/api/v1';
const PAGE_SIZE = 50;
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

// el builds an HTML element; attrs with null/undefined values are skipped.
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  setAttrs(n, attrs);
  for (const c of children) {
    if (c !== null && c !== undefined) n.append(c);
  }
  return n;
}

function svg(tag, attrs, ...children) {
  const n = document.createElementNS(SVG_NS, tag);
  setAttrs(n, attrs);
  for (const c of children) {
    if (c !== null && c !== undefined) n.append(c);
  }
  return n;
}

function setAttrs(n, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) n.setAttribute(k, String(v));
  }
}

// ---- Preferences -------------------------------------------------------
// Choices a user makes once (theme, time zone, columns, page size) are kept
// in localStorage; a browser that refuses storage just forgets them.

function getPref(key, def) {
  try {
    const v = localStorage.getItem('sipscope.' + key);
    return v === null ? def : v;
  } catch (_) {
    return def;
  }
}

function setPref(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem('sipscope.' + key);
    else localStorage.setItem('sipscope.' + key, String(value));
  } catch (_) {
    // Private mode or storage full: the choice lasts for this page only.
  }
}

// ---- Theme ---------------------------------------------------------------
// The page follows the system's colour scheme until the user picks one with
// the header toggle; html[data-theme] then overrides the media query.

function effectiveTheme() {
  const t = document.documentElement.dataset.theme;
  if (t === 'dark' || t === 'light') return t;
  return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function applyTheme(theme) {
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

applyTheme(getPref('theme', ''));

// ---- API ---------------------------------------------------------------

let inflight = null;
let busyCount = 0;

// A cold load asks the store for the first view's data before anything
// else: what can wait (the firing-alerts badge) is started by
// firstViewShown, which the list calls once its rows are drawn and
// route() calls at once for the other views.
const afterFirstView = [];
let firstViewDone = false;

function whenFirstViewShown(fn) {
  if (firstViewDone) fn();
  else afterFirstView.push(fn);
}

function firstViewShown() {
  if (firstViewDone) return;
  firstViewDone = true;
  for (const fn of afterFirstView.splice(0)) fn();
}

// setBusy counts requests in flight for the header's loading indicator.
function setBusy(delta) {
  busyCount = Math.max(0, busyCount + delta);
  const ind = $('loading');
  if (ind) ind.hidden = busyCount === 0;
  document.body.setAttribute('aria-busy', busyCount > 0 ? 'true' : 'false');
}

// APIError carries the HTTP status so callers can tell 403 from 404.
function apiError(resp, body) {
  const err = new Error((body && body.error) || ('HTTP ' + resp.status));
  err.status = resp.status;
  return err;
}

// needLogin sends the page to the login form, remembering where it was;
// every API answer of 401 comes here.
function needLogin() {
  const here = location.hash || '#/';
  if (here.startsWith('#/login')) return;
  location.hash = '#/login?next=' + encodeURIComponent(here);
}

// readBody is the answer's JSON, or null for none or a body that is not
// JSON; an abort while the body streams in stays an abort.
async function readBody(resp) {
  if (resp.status === 204) return null;
  try {
    return await resp.json();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return null;
  }
}

// getJSON fetches one API resource; a newer request aborts an older one so
// that fast typing in the search box never shows stale results.
async function getJSON(path) {
  if (inflight) inflight.abort();
  const ctl = new AbortController();
  inflight = ctl;
  setBusy(1);
  let resp;
  let body = null;
  try {
    resp = await fetch(API + path, { signal: ctl.signal, headers: { Accept: 'application/json' } });
    body = await readBody(resp);
  } finally {
    setBusy(-1);
    if (inflight === ctl) inflight = null;
  }
  if (resp.status === 401) needLogin();
  if (!resp.ok) throw apiError(resp, body);
  return body;
}

// csrfToken is the CSRF cookie's value, which state-changing requests echo
// in the X-CSRF-Token header (double submit).
function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'sipscope_csrf') return decodeURIComponent(v.join('='));
  }
  return '';
}

// apiJSON sends one request that no other request cancels (logins, admin
// changes, side panels); body, when given, goes as JSON. It resolves to
// the answer's JSON (null for 204) and rejects with err.status set.
async function apiJSON(method, path, body, opts) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  setBusy(1);
  let resp;
  let out;
  try {
    resp = await fetch(API + path, init);
    out = await readBody(resp);
  } finally {
    setBusy(-1);
  }
  if (resp.status === 401 && !(opts && opts.noRedirect)) needLogin();
  if (!resp.ok) throw apiError(resp, out);
  return out;
}

// ---- Who is logged in -----------------------------------------------------

// currentUser is GET /me's answer ({user, role, auth}) once known.
let currentUser = null;
const roleRank = { viewer: 1, operator: 2, admin: 3 };

// hasRole reports whether the user may do what role may: operator may
// export PCAP and audio, admin manage users. Views hide what it refuses;
// the API enforces it either way.
function hasRole(role) {
  return !!currentUser && (roleRank[currentUser.role] || 0) >= (roleRank[role] || 99);
}

function setCurrentUser(me) {
  currentUser = me;
  const root = document.documentElement;
  if (me) root.dataset.role = me.role;
  else delete root.dataset.role;
}

// showView shows one page section of <main> and hides the others, so a
// route never has to know which other views exist.
function showView(id) {
  for (const sec of document.querySelectorAll('main > section')) sec.hidden = sec.id !== id;
}

function showError(msg) {
  const b = $('error');
  b.textContent = msg;
  b.hidden = false;
}

function clearError() {
  $('error').hidden = true;
}

// ---- Formatting ----------------------------------------------------------

// micros parses the API's "YYYY-MM-DDTHH:MM:SS.ffffffZ" into microseconds
// since the epoch (exact in a double until year 2255), because Date keeps
// only milliseconds and SIP retransmissions differ by less.
function micros(ts) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(ts || '');
  if (!m) return NaN;
  const frac = (m[2] || '').padEnd(6, '0').slice(0, 6);
  return Date.parse(m[1] + 'Z') * 1000 + Number(frac);
}

// humanBytes: a byte count in decimal units, as retention_max_gb counts
// them (1 GB = 10^9 bytes), with three significant digits: "761 kB",
// "2.00 GB".
function humanBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1000) return n + ' B';
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + ' ' + units[u];
}

// ---- Time zone -------------------------------------------------------------
// Every time on the page is shown in one zone: UTC (the default, what SIP
// traces and other tools use) or the browser's, chosen in the user menu.

function timeZoneMode() {
  return getPref('tz', 'utc') === 'browser' ? 'browser' : 'utc';
}

function timeZoneLabel() {
  if (timeZoneMode() === 'utc') return 'UTC';
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'browser time';
  } catch (_) {
    return 'browser time';
  }
}

// zoneOffsetMs is how far the chosen zone is ahead of UTC at instant ms.
function zoneOffsetMs(ms) {
  return timeZoneMode() === 'browser' ? -new Date(ms).getTimezoneOffset() * 60000 : 0;
}

// zoned splits an API time into date, time and microsecond parts in the
// chosen zone; null when it does not parse.
function zoned(ts) {
  const us = micros(ts);
  if (!Number.isFinite(us)) return null;
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms + zoneOffsetMs(ms)).toISOString();
  const frac = String(((us % 1e6) + 1e6) % 1e6).padStart(6, '0');
  return { date: iso.slice(0, 10), time: iso.slice(11, 19), frac };
}

// dateTime: "2025-01-14 09:30:00"; clock: "09:30:00.250000" (for ladders).
function dateTime(ts) {
  const z = zoned(ts);
  return z ? z.date + ' ' + z.time : ts || '';
}

function clock(ts) {
  const z = zoned(ts);
  return z ? z.time + '.' + z.frac : '';
}

// zonedInputToRFC3339 reads a datetime-local value ("2025-01-14T10:00" or
// with seconds) as a time in the chosen zone and returns it as RFC 3339
// UTC, as the API wants; '' when empty or malformed.
function zonedInputToRFC3339(v) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(v || '');
  if (!m) return '';
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x || 0));
  const ms = timeZoneMode() === 'browser' ? new Date(y, mo - 1, d, h, mi, s).getTime() : Date.UTC(y, mo - 1, d, h, mi, s);
  if (!Number.isFinite(ms)) return '';
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

// rfc3339ToZonedInput is the inverse, for showing a URL's time in the form.
function rfc3339ToZonedInput(v) {
  const ms = Date.parse(v || '');
  if (!Number.isFinite(ms)) return '';
  return new Date(ms + zoneOffsetMs(ms)).toISOString().slice(0, 19);
}

function duration(startTs, endTs) {
  const us = micros(endTs) - micros(startTs);
  if (!Number.isFinite(us) || us < 0) return '';
  return seconds(us / 1e6);
}

function codeClass(code) {
  if (!code) return '';
  if (code < 200) return 'code-1xx';
  if (code < 300) return 'code-2xx';
  if (code < 400) return 'code-3xx';
  return 'code-err';
}

// mosBadge colours MOS the usual way: >= 4.0 good, >= 3.6 fair,
// >= 3.1 poor, below that bad; 0 means there was no RTP to rate.
function mosBadge(mos) {
  if (!mos) return el('span', { class: 'badge mos mos-none', title: 'no RTP' }, '—');
  let cls = 'mos-bad';
  if (mos >= 4.0) cls = 'mos-good';
  else if (mos >= 3.6) cls = 'mos-fair';
  else if (mos >= 3.1) cls = 'mos-poor';
  return el('span', { class: 'badge mos ' + cls }, mos.toFixed(2));
}

const stateNames = { answered: 'Answered', failed: 'Failed', cancelled: 'Cancelled', no_final: 'No final' };

function stateBadge(state) {
  return el('span', { class: 'badge state-' + state }, stateNames[state] || state);
}

// End reasons as an operator says them (correlate.End* values).
const endReasonNames = {
  caller_bye: 'Caller hung up', callee_bye: 'Callee hung up', no_bye: 'No BYE',
  busy: 'Busy', no_answer: 'No answer', cancelled: 'Cancelled by caller', rejected: 'Rejected',
  auth_failed: 'Auth failed', in_progress: 'In progress', no_final: 'No final',
  capture_ended: 'Capture ended', timeout: 'Timed out', bye: 'Hung up (side unknown)',
};

function endReasonText(reason) {
  return reason ? endReasonNames[reason] || reason : '—';
}

// The class is chosen from a fixed set, never built from API text.
function endReasonBadge(reason) {
  const kind = { caller_bye: 'ok', callee_bye: 'ok', no_bye: 'warn', busy: 'warn', no_answer: 'warn', cancelled: 'warn',
    rejected: 'err', auth_failed: 'err', in_progress: 'live', no_final: 'err',
    capture_ended: 'none', timeout: 'err', bye: 'ok' }[reason] || 'none';
  return el('span', { class: 'badge end end-' + kind, 'data-end-reason': reason || '' }, endReasonText(reason));
}

// ms renders a timing in milliseconds: "340 ms", "2.160 s", "1m 02s";
// 0 means the events bounding it were not seen.
function ms(v) {
  if (!Number.isFinite(v) || v <= 0) return '—';
  if (v < 1000) return (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ms';
  return seconds(v / 1000);
}

function seconds(s) {
  if (s < 60) return s.toFixed(s < 10 ? 3 : 1) + ' s';
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const min = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(min).padStart(2, '0')}m ${sec}s` : `${min}m ${sec}s`;
}

function messageLabel(m) {
  let label = m.is_request ? m.method : `${m.status_code} ${m.reason}`.trim();
  if (/(^|\n)(content-type|c)[ \t]*:[ \t]*application\/sdp/i.test(m.raw)) label += ' (SDP)';
  return label;
}

function arrowClass(m) {
  if (m.is_request) return 'req';
  if (m.status_code < 200) return 'r1xx';
  if (m.status_code < 300) return 'r2xx';
  if (m.status_code < 400) return 'r3xx';
  return 'rerr';
}

const num = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : '');

function listHash(params) {
  const s = params.toString();
  return s ? '#/?' + s : '#/';
}

function callHash(id) {
  return '#/call/' + encodeURIComponent(id);
}

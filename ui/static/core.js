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

// ---- API ---------------------------------------------------------------

let inflight = null;

// getJSON fetches one API resource; a newer request aborts an older one so
// that fast typing in the search box never shows stale results.
async function getJSON(path) {
  if (inflight) inflight.abort();
  const ctl = new AbortController();
  inflight = ctl;
  const resp = await fetch(API + path, { signal: ctl.signal, headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    body = null;
  }
  if (inflight === ctl) inflight = null;
  if (!resp.ok) {
    const err = new Error((body && body.error) || ('HTTP ' + resp.status));
    err.status = resp.status;
    throw err;
  }
  return body;
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

const dateTime = (ts) => (ts ? ts.slice(0, 10) + ' ' + ts.slice(11, 19) : '');
const clock = (ts) => (ts ? ts.slice(11, 26) : '');

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

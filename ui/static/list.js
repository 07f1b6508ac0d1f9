// sipscope web UI: the call list (search form, filter chips, count strip,
// sortable table with a column chooser, paging, live updates over SSE and
// sngrep-style keyboard navigation).
//
// The URL hash is the one source of truth: the form, the chips and the
// request are all derived from it, so a link reproduces a search exactly
// and a filter in the URL is never silently dropped.
'use strict';

// filterDefs describes the search parameters the form edits. Each key is
// the API's own parameter name, so the hash's query goes to /calls as is
// (except range, which the page turns into from).
const filterDefs = [
  { key: 'q', label: 'Search', input: 'search' },
  { key: 'from_user', label: 'Caller', input: 'caller-filter' },
  { key: 'to_user', label: 'Callee', input: 'callee-filter' },
  { key: 'ip', label: 'IP', input: 'ip-filter' },
  { key: 'call_id', label: 'Call-ID', input: 'callid-filter' },
  { key: 'final_code', label: 'Final', input: 'final-filter' },
  { key: 'final_class', label: 'Final', input: 'final-filter' },
  { key: 'state', label: 'State', input: 'state-filter', text: (v) => stateNames[v] || v },
  { key: 'end_reason', label: 'Ended', input: 'end-reason-filter', text: endReasonText },
  { key: 'finding', label: 'Finding', input: 'finding-filter' },
  { key: 'max_mos', label: 'MOS ≤', input: 'mos-filter' },
  { key: 'has_rtp', label: 'RTP', input: 'rtp-filter', text: (v) => (v === 'true' ? 'with RTP' : v === 'false' ? 'without RTP' : v) },
  { key: 'range', label: 'Time', text: (v) => rangeNames[v] || v },
  { key: 'from', label: 'From', text: (v) => dateTime(isoToAPI(v)) + ' ' + timeZoneLabel() },
  { key: 'to', label: 'To', text: (v) => dateTime(isoToAPI(v)) + ' ' + timeZoneLabel() },
];

// Keys that shape the page rather than select calls: no chip for them.
const pageKeys = new Set(['offset', 'limit', 'sort', 'order']);

const rangeNames = { '15m': 'last 15 min', '1h': 'last hour', '24h': 'last 24 h' };
const rangeMs = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 24 * 3600e3 };

// isoToAPI turns an RFC 3339 time from the URL into the API's shape so
// that dateTime can format it in the chosen zone.
function isoToAPI(v) {
  const ms = Date.parse(v || '');
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('Z', '000Z') : v;
}

// ---- Columns -------------------------------------------------------------

// listColumns are the table's columns in order. optional ones appear in
// the column chooser; off ones are hidden until chosen. sort names the
// API's sort key for the sortable ones.
const listColumns = [
  { key: 'start', label: 'Start', sort: 'start', cell: (c) => el('td', { class: 'mono' }, dateTime(c.start)) },
  { key: 'call_id', label: 'Call-ID', optional: true, off: true, cell: (c) => el('td', { class: 'mono callid' }, c.call_id) },
  { key: 'from', label: 'From', cell: (c) => el('td', { class: 'user' }, c.from_user || '—') },
  { key: 'to', label: 'To', cell: (c) => el('td', { class: 'user' }, c.to_user || '—') },
  { key: 'ips', label: 'IPs', optional: true, off: true, cell: (c) => el('td', { class: 'mono' }, `${c.src_ip || '?'} → ${c.dst_ip || '?'}`) },
  { key: 'state', label: 'State', cell: (c) => el('td', null, stateBadge(c.state)) },
  { key: 'final', label: 'Final', num: true, cell: (c) => el('td', { class: 'num ' + codeClass(c.final_code) }, c.final_code ? String(c.final_code) : '—') },
  { key: 'ended', label: 'Ended', cell: (c) => el('td', null, endReasonBadge(c.end_reason)) },
  { key: 'pdd', label: 'PDD', num: true, optional: true, sort: 'pdd', title: 'Post-dial delay: INVITE to first 18x', cell: (c) => el('td', { class: 'num' }, ms(c.pdd_ms)) },
  { key: 'duration', label: 'Duration', num: true, optional: true, sort: 'duration', title: 'First to last message; sorting goes by talk time', cell: (c) => el('td', { class: 'num' }, duration(c.start, c.end)) },
  { key: 'messages', label: 'Msgs', num: true, cell: (c) => el('td', { class: 'num' }, String(c.messages)) },
  { key: 'node', label: 'Node', optional: true, off: true, title: 'Capture points (interface or HEP agent) that saw the call', cell: (c) => el('td', { class: 'mono' }, (c.nodes || []).join(', ') || '—') },
  { key: 'ua', label: 'User agent', optional: true, off: true, cell: (c) => el('td', { class: 'ua' }, c.user_agent || '—') },
  { key: 'findings', label: 'Findings', optional: true, off: true, cell: (c) => el('td', { class: 'findings' }, (c.findings || []).join(', ') || '—') },
  { key: 'mos', label: 'MOS', num: true, optional: true, sort: 'mos', cell: (c) => el('td', { class: 'num' }, mosBadge(c.mos)) },
];

// shownColumns reads the chooser's choice (a comma list of keys that are
// switched on or off against the defaults).
function shownColumns() {
  let chosen = null;
  try {
    chosen = JSON.parse(getPref('columns', 'null'));
  } catch (_) {
    chosen = null;
  }
  return listColumns.filter((col) => {
    if (!col.optional) return true;
    if (chosen && typeof chosen[col.key] === 'boolean') return chosen[col.key];
    return !col.off;
  });
}

function setColumnShown(key, on) {
  let chosen = {};
  try {
    chosen = JSON.parse(getPref('columns', '{}')) || {};
  } catch (_) {
    chosen = {};
  }
  chosen[key] = on;
  setPref('columns', JSON.stringify(chosen));
}

function buildColumnChooser() {
  const shown = new Set(shownColumns().map((c) => c.key));
  const box = $('column-options');
  const legend = box.querySelector('legend');
  const items = listColumns.filter((c) => c.optional).map((col) => {
    const cb = el('input', { type: 'checkbox', 'data-column': col.key });
    cb.checked = shown.has(col.key);
    cb.addEventListener('change', () => {
      setColumnShown(col.key, cb.checked);
      if (list.page) renderCalls();
    });
    return el('label', null, cb, ' ' + col.label);
  });
  box.replaceChildren(legend, ...items);
}

// ---- State -----------------------------------------------------------------

// list is the page's state: what the hash asked for, the last page the API
// answered, the selected row and the live feed.
const list = {
  params: new URLSearchParams(), // the hash's query
  page: null, // {calls, total, counts}
  offset: 0,
  limit: PAGE_SIZE,
  selected: '', // Call-ID of the selected row
  live: null, // EventSource while following new calls
  liveKey: '', // the query the feed was opened for
  paused: false,
  liveAvailable: false, // GET /status reports live capture (app.js pollStatus)
  lastHash: '#/',
  // The count strip's figures come in a request of their own, after the
  // rows (a count over millions of calls must not hold the first rows
  // back). They depend only on the filter, so paging and sorting reuse
  // them; loading the same hash again (refresh) asks afresh.
  counts: null, // {total, state, final_code} of countsKey's filter
  countsKey: '', // filterKey of counts
  countsCtl: null, // AbortController of the counts request in flight
  loadedQuery: '', // the hash query last loaded
};

// filterKey is what selects the calls in params: the count strip's key.
function filterKey(params) {
  const q = new URLSearchParams(params);
  for (const k of pageKeys) q.delete(k);
  q.sort();
  return q.toString();
}

function pageSize(params) {
  const fromURL = parseInt(params.get('limit') || '', 10);
  if (fromURL >= 1 && fromURL <= 1000) return fromURL;
  const saved = parseInt(getPref('pageSize', ''), 10);
  return saved >= 1 && saved <= 1000 ? saved : PAGE_SIZE;
}

// apiQuery is the hash's query as the API wants it: range becomes from.
function apiQuery(params) {
  const q = new URLSearchParams(params);
  const r = q.get('range');
  q.delete('range');
  if (rangeMs[r]) {
    q.set('from', new Date(Date.now() - rangeMs[r]).toISOString().slice(0, 19) + 'Z');
  }
  return q;
}

// isOpenEnded: the list can grow at its top, so new calls are worth
// streaming in. A page further down or another order would misplace them.
function isOpenEnded(params) {
  return !params.get('to') && !params.get('offset') && (params.get('sort') || 'start') === 'start' && (params.get('order') || 'desc') === 'desc';
}

// ---- Form <-> hash -----------------------------------------------------------

function formParams() {
  const p = new URLSearchParams();
  const text = (id, key) => {
    const v = $(id).value.trim();
    if (v) p.set(key, v);
  };
  text('search', 'q');
  text('caller-filter', 'from_user');
  text('callee-filter', 'to_user');
  text('ip-filter', 'ip');
  text('callid-filter', 'call_id');
  const fin = $('final-filter').value.trim();
  if (/^[1-6]xx$/i.test(fin)) p.set('final_class', fin.toLowerCase());
  else if (fin) p.set('final_code', fin);
  text('state-filter', 'state');
  text('end-reason-filter', 'end_reason');
  text('finding-filter', 'finding');
  text('mos-filter', 'max_mos');
  text('rtp-filter', 'has_rtp');
  const range = $('range-filter').value;
  if (rangeMs[range]) {
    p.set('range', range);
  } else {
    const from = zonedInputToRFC3339($('from-filter').value);
    if (from) p.set('from', from);
    const to = zonedInputToRFC3339($('to-filter').value);
    if (to) p.set('to', to);
  }
  // What the form does not edit (sort, order, page size, keys of a newer
  // UI or a hand-written link) stays as it was.
  for (const [k, v] of list.params) {
    if ((k === 'sort' || k === 'order' || k === 'limit' || !formKeys.has(k)) && !p.has(k)) p.append(k, v);
  }
  return p;
}

const formKeys = new Set(filterDefs.map((f) => f.key));

function fillForm(params) {
  // Keep the form in step with the URL, without stealing the cursor from
  // someone typing in a text field.
  const set = (id, v) => {
    if (document.activeElement !== $(id)) $(id).value = v;
  };
  set('search', params.get('q') || '');
  set('caller-filter', params.get('from_user') || '');
  set('callee-filter', params.get('to_user') || '');
  set('ip-filter', params.get('ip') || '');
  set('callid-filter', params.get('call_id') || '');
  set('final-filter', params.get('final_code') || params.get('final_class') || '');
  set('finding-filter', params.get('finding') || '');
  set('mos-filter', params.get('max_mos') || '');
  // A value the selects do not offer is still shown, as an extra option.
  for (const [id, key] of [['state-filter', 'state'], ['end-reason-filter', 'end_reason'], ['rtp-filter', 'has_rtp']]) {
    selectShowing($(id), params.get(key) || '');
  }
  const r = params.get('range');
  const custom = !!(params.get('from') || params.get('to'));
  $('range-filter').value = rangeMs[r] ? r : custom ? 'custom' : '';
  $('from-filter').value = rfc3339ToZonedInput(params.get('from'));
  $('to-filter').value = rfc3339ToZonedInput(params.get('to'));
  showCustomRange($('range-filter').value === 'custom');
  selectShowing($('page-size'), String(list.limit));
}

// selectShowing sets a select to v, adding v as an option when the select
// does not offer it (a hand-written link, a newer UI's value).
function selectShowing(sel, v) {
  if (v && ![...sel.options].some((o) => o.value === v)) sel.append(el('option', { value: v }, v));
  sel.value = v;
}

function showCustomRange(on) {
  for (const f of document.querySelectorAll('.range-custom')) f.hidden = !on;
}

// ---- Chips and counts ------------------------------------------------------

function renderChips(params) {
  const box = $('chips');
  const chips = [];
  for (const [k, v] of params) {
    if (pageKeys.has(k)) continue;
    const def = filterDefs.find((f) => f.key === k);
    const label = def ? def.label : k;
    const text = def && def.text ? def.text(v) : v;
    const remove = el('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove filter ${label} ${text}`, title: 'Remove this filter' }, '×');
    remove.addEventListener('click', () => {
      const p = new URLSearchParams(list.params);
      p.delete(k, v);
      p.delete('offset');
      location.hash = listHash(p);
    });
    chips.push(el('span', { class: 'chip', role: 'listitem', 'data-key': k, 'data-value': v },
      el('span', { class: 'chip-label' }, label + ':'), ' ', el('span', { class: 'chip-value' }, text), remove));
  }
  box.replaceChildren(...chips);
  box.hidden = chips.length === 0;
}

// renderCounts draws the strip of calls per state and final code for the
// current filter; each count adds its filter when clicked.
function renderCounts() {
  const box = $('count-strip');
  const counts = list.page && list.page.counts;
  if (!counts) {
    box.hidden = true;
    return;
  }
  const button = (key, value, label, n, cls) => {
    const active = list.params.get(key) === value;
    const b = el('button', { type: 'button', class: 'count ' + (cls || ''), 'data-key': key, 'data-value': value, 'aria-pressed': String(active),
      title: active ? 'This filter is on' : `Show only these ${n} calls` },
    el('span', { class: 'count-label' }, label), ' ', el('span', { class: 'count-n' }, String(n)));
    b.addEventListener('click', () => {
      const p = new URLSearchParams(list.params);
      p.set(key, value);
      if (key === 'final_code') p.delete('final_class');
      p.delete('offset');
      location.hash = listHash(p);
    });
    return b;
  };
  const states = Object.entries(counts.state || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const codes = Object.entries(counts.final_code || {}).filter(([, n]) => n > 0).sort((a, b) => Number(a[0]) - Number(b[0]));
  box.replaceChildren(
    el('span', { class: 'count-total' }, counts.total === 1 ? '1 call' : `${counts.total} calls`),
    el('span', { class: 'count-group', role: 'group', 'aria-label': 'By state' },
      ...states.map(([s, n]) => button('state', s, stateNames[s] || s, n, 'state-' + s))),
    el('span', { class: 'count-group', role: 'group', 'aria-label': 'By final code' },
      // Calls without a final response have code 0, which is no filter
      // the API takes (their state says it): counted, not clickable.
      ...codes.map(([c, n]) => (Number(c) ? button('final_code', c, c, n, codeClass(Number(c)))
        : el('span', { class: 'count no-code', title: 'calls without a final response' },
          el('span', { class: 'count-label' }, 'no final code'), ' ', el('span', { class: 'count-n' }, String(n)))))));
  box.hidden = false;
}

// ---- Loading and drawing ------------------------------------------------------

async function showList(params) {
  document.title = 'sipscope – calls';
  list.params = params;
  list.limit = pageSize(params);
  list.offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  list.lastHash = location.hash || '#/';
  fillForm(params);
  renderChips(params);

  const query = apiQuery(params);
  query.set('limit', String(list.limit));
  query.set('offset', String(list.offset));
  $('export-pcap').setAttribute('href', API + '/calls.pcap?' + query.toString());
  // The rows come without their total, a second pass over the filter's
  // calls that grows with the store: the count strip counts them (and
  // the pager takes its total from there).
  query.set('total', 'false');
  const key = filterKey(params);
  const again = params.toString() === list.loadedQuery;
  list.loadedQuery = params.toString();
  const reuseCounts = !again && list.counts && list.countsKey === key;
  if (!reuseCounts && list.countsCtl) list.countsCtl.abort();

  let page;
  try {
    performance.mark('list:request');
    page = await getJSON('/calls?' + query.toString());
  } catch (e) {
    if (e.name === 'AbortError') return;
    firstViewShown();
    if (e.status !== 401) showError('Cannot load calls: ' + e.message);
    return;
  }
  // The answer to an older hash arrives after the user moved on.
  if ($('list-view').hidden) return;
  if (!page || !Array.isArray(page.calls)) {
    showError('Cannot load calls: the answer is not a call list.');
    return;
  }
  list.page = page;
  performance.mark('list:answer');
  if (reuseCounts) {
    page.counts = list.counts;
  } else {
    list.counts = null;
    list.countsKey = '';
    // Asked before the rows are drawn, so that the server counts while
    // the page draws.
    loadCounts(params, key);
  }
  renderCalls();
  renderCounts();
  performance.mark('list:rows');
  firstViewShown();
  syncLive();
}

// loadCounts fetches the count strip of the filter key (params' filter)
// and draws it, unless the list moved on to another filter meanwhile.
async function loadCounts(params, key) {
  if (list.countsCtl) list.countsCtl.abort();
  const ctl = new AbortController();
  list.countsCtl = ctl;
  const q = apiQuery(params);
  for (const k of pageKeys) q.delete(k);
  q.set('counts', 'true');
  q.set('rows', 'false');
  let v;
  try {
    const resp = await fetch(API + '/calls?' + q.toString(), { signal: ctl.signal, headers: { Accept: 'application/json' } });
    if (!resp.ok) return; // the rows' request reports what is wrong
    v = await resp.json();
  } catch (_) {
    return; // aborted by a newer filter, or the network: no strip
  } finally {
    if (list.countsCtl === ctl) list.countsCtl = null;
  }
  if (ctl.signal.aborted || !v || !v.counts || $('list-view').hidden || filterKey(list.params) !== key) return;
  list.counts = v.counts;
  list.countsKey = key;
  // One object: a live call bumps the page's counts and the cached ones.
  if (list.page) list.page.counts = v.counts;
  renderCounts();
  if (list.page) renderPager();
  performance.mark('list:counts');
}

function sortHeader(col) {
  const cur = list.params.get('sort') || 'start';
  const order = list.params.get('order') || 'desc';
  const active = cur === col.sort;
  const th = el('th', { class: col.num ? 'num' : null, title: col.title || null, 'data-column': col.key,
    'aria-sort': active ? (order === 'asc' ? 'ascending' : 'descending') : 'none' });
  const b = el('button', { type: 'button', class: 'sort' + (active ? ' active' : '') },
    col.label, el('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (order === 'asc' ? ' ▲' : ' ▼') : ''));
  b.addEventListener('click', () => {
    const p = new URLSearchParams(list.params);
    // A new column starts descending (longest, best, newest first); the
    // active one flips.
    const next = active && order === 'desc' ? 'asc' : 'desc';
    if (col.sort === 'start') p.delete('sort'); else p.set('sort', col.sort);
    if (next === 'desc') p.delete('order'); else p.set('order', next);
    p.delete('offset');
    location.hash = listHash(p);
  });
  th.append(b);
  return th;
}

function callRow(c, cols) {
  const tr = el('tr', { class: 'call-row', 'data-call-id': c.call_id, tabindex: -1, title: c.call_id, 'aria-selected': 'false' },
    ...cols.map((col) => col.cell(c)));
  tr.addEventListener('click', () => {
    selectRow(c.call_id, false);
    location.hash = callHash(c.call_id);
  });
  return tr;
}

// headKey is what the table's header was drawn for: it is drawn again
// only when the columns or the sort change, so a live update or the count
// strip's arrival never swaps a header out from under a click.
let headKey = '';

function renderCalls() {
  const cols = shownColumns();
  const key = cols.map((col) => col.key).join(',') + '|' + (list.params.get('sort') || '') + '|' + (list.params.get('order') || '');
  const head = $('call-table').tHead.rows[0];
  if (key !== headKey || head.children.length === 0) {
    headKey = key;
    head.replaceChildren(...cols.map((col) =>
      col.sort ? sortHeader(col) : el('th', { class: col.num ? 'num' : null, title: col.title || null, 'data-column': col.key }, col.label)));
  }
  const rows = list.page.calls.map((c) => callRow(c, cols));
  $('call-table').tBodies[0].replaceChildren(...rows);
  $('call-empty').hidden = rows.length > 0;
  markSelected();
  renderPager();
}

// pageTotal is the filter's number of calls: the page's when it counted
// them, else the count strip's once it came; -1 until then.
function pageTotal() {
  if (list.page.total >= 0) return list.page.total;
  return list.page.counts ? list.page.counts.total : -1;
}

function renderPager() {
  const n = $('call-table').tBodies[0].rows.length;
  const offset = list.offset;
  const first = n ? offset + 1 : 0;
  const total = pageTotal();
  $('page-info').textContent = `${first}–${offset + n} of ${total >= 0 ? total : '…'}`;
  $('prev-page').disabled = offset === 0;
  // Before the total is known, a full page may have a next one.
  $('next-page').disabled = total >= 0 ? offset + n >= total : n < list.limit;
}

function gotoOffset(o) {
  const p = new URLSearchParams(list.params);
  if (o > 0) p.set('offset', String(o)); else p.delete('offset');
  location.hash = listHash(p);
}

// ---- Selection and keys ----------------------------------------------------------

function listRows() {
  return [...$('call-table').tBodies[0].rows];
}

function markSelected() {
  for (const r of listRows()) {
    const on = r.dataset.callId === list.selected;
    r.classList.toggle('selected', on);
    r.setAttribute('aria-selected', String(on));
    r.tabIndex = on ? 0 : -1;
  }
  const rows = listRows();
  if (rows.length && !rows.some((r) => r.tabIndex === 0)) rows[0].tabIndex = 0;
}

function selectRow(id, focus) {
  list.selected = id;
  markSelected();
  if (focus) {
    const r = listRows().find((x) => x.dataset.callId === id);
    if (r) r.focus();
  }
}

// moveSelection steps the selected row by delta (j/k, arrows), starting
// at the first row when none is selected.
function moveSelection(delta) {
  const rows = listRows();
  if (!rows.length) return;
  let i = rows.findIndex((r) => r.dataset.callId === list.selected);
  i = i < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, i + delta));
  selectRow(rows[i].dataset.callId, true);
}

function openSelected() {
  if (list.selected && listRows().some((r) => r.dataset.callId === list.selected)) location.hash = callHash(list.selected);
}

// listKey handles the list's keys; it returns true when it used the key.
function listKey(ev) {
  switch (ev.key) {
    case 'j':
    case 'ArrowDown':
      moveSelection(1);
      return true;
    case 'k':
    case 'ArrowUp':
      moveSelection(-1);
      return true;
    case 'Enter':
      if (!list.selected) return false;
      openSelected();
      return true;
    case '/':
      $('search').focus();
      $('search').select();
      return true;
  }
  return false;
}

// ---- Live -----------------------------------------------------------------------

// syncLive opens the event stream when the list is open-ended and not
// paused, and closes it otherwise.
function syncLive() {
  const want = list.liveAvailable && !$('list-view').hidden && isOpenEnded(list.params);
  $('live-toggle').hidden = !want;
  const keyQ = new URLSearchParams(list.params);
  for (const k of pageKeys) keyQ.delete(k);
  const key = want && !list.paused ? 'live?' + keyQ.toString() : '';
  if (key === list.liveKey && (list.live || !key)) {
    showLiveStatus();
    return;
  }
  stopLive();
  if (key && typeof EventSource === 'function') {
    const q = apiQuery(list.params);
    for (const k of pageKeys) q.delete(k);
    q.set('kinds', 'calls');
    const es = new EventSource(API + '/events?' + q.toString());
    es.addEventListener('call', (ev) => {
      let c;
      try {
        c = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      addLiveCall(c);
    });
    // Calls stored while the stream was down (a restart, or the server
    // dropping a client too slow for its buffer) never arrive as events:
    // after a break the list is loaded again.
    let broke = false;
    es.addEventListener('open', () => {
      showLiveStatus();
      if (broke && list.live === es) {
        broke = false;
        route();
      }
    });
    es.addEventListener('dropped', () => {
      broke = true;
    });
    es.addEventListener('error', () => {
      // EventSource reconnects by itself after a dropped connection; a
      // refusal (501 without live capture, 401) closes it for good.
      broke = true;
      if (es.readyState === EventSource.CLOSED && list.live === es) list.live = null;
      showLiveStatus();
    });
    list.live = es;
    list.liveKey = key;
  }
  showLiveStatus();
}

function stopLive() {
  if (list.live) list.live.close();
  list.live = null;
  list.liveKey = '';
}

function showLiveStatus() {
  const box = $('live-status');
  const toggle = $('live-toggle');
  toggle.textContent = list.paused ? 'Resume live' : 'Pause live';
  toggle.setAttribute('aria-pressed', String(list.paused));
  const connected = list.live && list.live.readyState === EventSource.OPEN;
  box.hidden = toggle.hidden;
  box.classList.toggle('on', !!connected);
  $('live-text').textContent = list.paused ? 'Paused' : connected ? 'Live' : 'Not live';
  box.title = connected ? 'New calls appear at the top as they are stored' : list.paused ? 'Live updates paused' : 'No live feed (imported data, or reconnecting)';
}

// addLiveCall puts a stored call at the top of the page, or updates its
// row when it is already shown (a call is stored again as it progresses).
function addLiveCall(c) {
  if (!list.page || $('list-view').hidden || list.paused || !c || !c.call_id) return;
  const calls = list.page.calls;
  const i = calls.findIndex((x) => x.call_id === c.call_id);
  const counts = list.page.counts;
  if (i >= 0) {
    if (counts) {
      bump(counts.state, calls[i].state, -1);
      bump(counts.final_code, calls[i].final_code, -1);
    }
    calls[i] = c;
  } else {
    calls.unshift(c);
    if (calls.length > list.limit) calls.pop();
    if (list.page.total >= 0) list.page.total++;
    if (counts) counts.total++;
  }
  if (counts) {
    bump(counts.state, c.state, 1);
    bump(counts.final_code, c.final_code, 1);
  }
  const cols = shownColumns();
  const row = callRow(c, cols);
  row.classList.add('fresh');
  const tbody = $('call-table').tBodies[0];
  const old = listRows().find((r) => r.dataset.callId === c.call_id);
  if (old) {
    old.replaceWith(row);
  } else {
    tbody.prepend(row);
    while (tbody.rows.length > list.limit) tbody.lastElementChild.remove();
  }
  $('call-empty').hidden = true;
  markSelected();
  renderPager();
  renderCounts();
}

function bump(m, k, d) {
  if (!m) return;
  m[k] = (m[k] || 0) + d;
}

// ---- Wiring -----------------------------------------------------------------------

// goList shows the list for p, reloading when the hash is already that.
function goList(p) {
  const h = listHash(p);
  if (h === (location.hash || '#/')) route();
  else location.hash = h;
}

// applyFilters moves to the list for the form's filters. Typing replaces
// the history entry instead of piling one up per keystroke.
function applyFilters(replace) {
  const p = formParams();
  p.delete('offset');
  const h = listHash(p);
  if (h === (location.hash || '#/')) {
    route();
  } else if (replace) {
    history.replaceState(null, '', h);
    route();
  } else {
    location.hash = h;
  }
}

// initList wires the search form: typing searches after a pause, the
// selects and dates at once.
function initList() {
  buildColumnChooser();
  let typing = 0;
  for (const input of $('filters').querySelectorAll('input:not([type=datetime-local])')) {
    input.addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(() => applyFilters(true), 300);
    });
  }
  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(typing);
    applyFilters(false);
  });
  for (const id of ['state-filter', 'end-reason-filter', 'rtp-filter', 'from-filter', 'to-filter']) {
    $(id).addEventListener('change', () => {
      if (id === 'from-filter' || id === 'to-filter') $('range-filter').value = 'custom';
      applyFilters(false);
    });
  }
  $('range-filter').addEventListener('change', () => {
    const custom = $('range-filter').value === 'custom';
    showCustomRange(custom);
    if (custom) {
      $('from-filter').focus();
      return;
    }
    applyFilters(false);
  });
  $('reset-filters').addEventListener('click', () => {
    $('filters').reset();
    const p = new URLSearchParams();
    for (const k of ['sort', 'order', 'limit']) {
      if (list.params.has(k)) p.set(k, list.params.get(k));
    }
    goList(p);
  });
  $('prev-page').addEventListener('click', () => gotoOffset(Math.max(0, list.offset - list.limit)));
  $('next-page').addEventListener('click', () => gotoOffset(list.offset + list.limit));
  $('page-size').addEventListener('change', () => {
    setPref('pageSize', $('page-size').value);
    const p = new URLSearchParams(list.params);
    p.delete('limit');
    p.delete('offset');
    goList(p);
  });
  $('live-toggle').addEventListener('click', () => {
    list.paused = !list.paused;
    if (list.paused) {
      stopLive();
      showLiveStatus();
    } else {
      // Resuming reloads so that what arrived while paused is shown too.
      route();
    }
  });
  $('call-table').tBodies[0].addEventListener('focusin', (ev) => {
    const tr = ev.target.closest && ev.target.closest('tr.call-row');
    if (tr && tr.dataset.callId !== list.selected) selectRow(tr.dataset.callId, false);
  });
}

// leaveList stops the live feed when another view is shown.
function leaveList() {
  stopLive();
}

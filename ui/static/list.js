// sipscope web UI: the call list (search form, table, paging).
'use strict';


function formParams() {
  const p = new URLSearchParams();
  const q = $('search').value.trim();
  if (q) p.set('q', q);
  const state = $('state-filter').value;
  if (state) p.set('state', state);
  const reason = $('end-reason-filter').value;
  if (reason) p.set('end_reason', reason);
  const from = localToRFC3339($('from-filter').value);
  if (from) p.set('from', from);
  const to = localToRFC3339($('to-filter').value);
  if (to) p.set('to', to);
  return p;
}

// The datetime-local inputs are read as UTC, like every time on the page.
function localToRFC3339(v) {
  if (!v) return '';
  return (v.length === 16 ? v + ':00' : v.slice(0, 19)) + 'Z';
}

function rfc3339ToLocal(v) {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(v || '') ? v.slice(0, 19) : '';
}

async function showList(params) {
  $('call-view').hidden = true;
  $('list-view').hidden = false;
  document.title = 'sipscope – calls';

  // Keep the form in step with the URL, without stealing the cursor from
  // someone typing in the search box.
  if (document.activeElement !== $('search')) $('search').value = params.get('q') || '';
  $('state-filter').value = params.get('state') || '';
  $('end-reason-filter').value = params.get('end_reason') || '';
  $('from-filter').value = rfc3339ToLocal(params.get('from'));
  $('to-filter').value = rfc3339ToLocal(params.get('to'));

  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const query = new URLSearchParams(params);
  query.set('limit', String(PAGE_SIZE));
  query.set('offset', String(offset));

  let page;
  try {
    page = await getJSON('/calls?' + query.toString());
  } catch (e) {
    if (e.name === 'AbortError') return;
    showError('Cannot load calls: ' + e.message);
    return;
  }
  renderCalls(page, params, offset);
}

function renderCalls(page, params, offset) {
  const tbody = $('call-table').tBodies[0];
  const rows = page.calls.map((c) => {
    const tr = el('tr', { class: 'call-row', 'data-call-id': c.call_id, tabindex: 0, title: c.call_id },
      el('td', { class: 'mono' }, dateTime(c.start)),
      el('td', { class: 'user' }, c.from_user || '—'),
      el('td', { class: 'user' }, c.to_user || '—'),
      el('td', null, stateBadge(c.state)),
      el('td', { class: 'num ' + codeClass(c.final_code) }, c.final_code ? String(c.final_code) : '—'),
      el('td', null, endReasonBadge(c.end_reason)),
      el('td', { class: 'num' }, ms(c.pdd_ms)),
      el('td', { class: 'num' }, duration(c.start, c.end)),
      el('td', { class: 'num' }, String(c.messages)),
      el('td', { class: 'num' }, mosBadge(c.mos)));
    tr.addEventListener('click', () => { location.hash = callHash(c.call_id); });
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') location.hash = callHash(c.call_id);
    });
    return tr;
  });
  tbody.replaceChildren(...rows);
  $('call-empty').hidden = rows.length > 0;

  const first = rows.length ? offset + 1 : 0;
  $('page-info').textContent = `${first}–${offset + rows.length} of ${page.total}`;
  const prev = $('prev-page');
  const next = $('next-page');
  prev.disabled = offset === 0;
  next.disabled = offset + rows.length >= page.total;
  prev.onclick = () => {
    const p = new URLSearchParams(params);
    const o = Math.max(0, offset - PAGE_SIZE);
    if (o) p.set('offset', String(o)); else p.delete('offset');
    location.hash = listHash(p);
  };
  next.onclick = () => {
    const p = new URLSearchParams(params);
    p.set('offset', String(offset + PAGE_SIZE));
    location.hash = listHash(p);
  };
}

// applyFilters moves to the list for the form's filters. Typing replaces
// the history entry instead of piling one up per keystroke.
function applyFilters(replace) {
  const h = listHash(formParams());
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
  let typing = 0;
  $('search').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => applyFilters(true), 250);
  });
  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(typing);
    applyFilters(false);
  });
  for (const id of ['state-filter', 'end-reason-filter', 'from-filter', 'to-filter']) {
    $(id).addEventListener('change', () => applyFilters(false));
  }
  $('reset-filters').addEventListener('click', () => {
    $('filters').reset();
    applyFilters(false);
  });
}

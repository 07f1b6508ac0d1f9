// sipscope web UI: the admin page (#/admin): users (list, add, change role,
// delete) and API tokens (list, create with the secret shown once,
// revoke), through /api/v1/users and /api/v1/tokens with the CSRF header.
'use strict';

function adminMessage(text, isError) {
  const m = $('admin-message');
  m.textContent = text;
  m.classList.toggle('form-error', !!isError);
}

// confirmButton is a button that asks again before acting: the first
// click arms it, the second within five seconds acts. No modal dialog
// (window.confirm blocks the page and cannot be styled for dark mode).
function confirmButton(label, armedLabel, act) {
  const b = el('button', { type: 'button', class: 'danger' }, label);
  let timer = 0;
  b.addEventListener('click', async () => {
    if (!b.classList.contains('armed')) {
      b.classList.add('armed');
      b.textContent = armedLabel;
      timer = setTimeout(() => {
        b.classList.remove('armed');
        b.textContent = label;
      }, 5000);
      return;
    }
    clearTimeout(timer);
    b.disabled = true;
    await act();
  });
  return b;
}

async function showAdmin() {
  document.title = 'sipscope – admin';
  let users;
  let tokens;
  try {
    [users, tokens] = await Promise.all([apiJSON('GET', '/users'), apiJSON('GET', '/tokens')]);
  } catch (e) {
    if (e.status === 403) showError('Only an admin may manage users and tokens.');
    else if (e.status !== 401) showError('Cannot load users: ' + e.message);
    return;
  }
  renderUsers(users || []);
  renderTokens(tokens || []);
  refreshDiskUse();
}

function renderUsers(users) {
  const rows = users.map((u) => {
    const role = el('select', { 'aria-label': 'Role of ' + u.name, 'data-user': u.name },
      ...['viewer', 'operator', 'admin'].map((r) => el('option', { value: r }, r)));
    role.value = u.role;
    role.addEventListener('change', async () => {
      try {
        await apiJSON('PUT', '/users/' + encodeURIComponent(u.name), { role: role.value });
        adminMessage(`${u.name} is now ${role.value}.`);
      } catch (e) {
        adminMessage(`Cannot change ${u.name}: ${e.message}`, true);
      }
      showAdmin();
    });
    const del = confirmButton('Delete', 'Really delete?', async () => {
      try {
        await apiJSON('DELETE', '/users/' + encodeURIComponent(u.name));
        adminMessage(`User ${u.name} deleted; their sessions and tokens stopped working.`);
      } catch (e) {
        adminMessage(`Cannot delete ${u.name}: ${e.message}`, true);
      }
      showAdmin();
    });
    del.setAttribute('aria-label', 'Delete user ' + u.name);
    return el('tr', { 'data-user': u.name },
      el('td', { class: 'mono' }, u.name),
      el('td', null, role),
      el('td', { class: 'mono' }, dateTime(isoToAPI(u.created))),
      el('td', { class: 'mono' }, dateTime(isoToAPI(u.updated))),
      el('td', { class: 'actions' }, del));
  });
  $('users-table').tBodies[0].replaceChildren(...rows);
  const sel = $('new-token-user-select');
  const keep = sel.value;
  sel.replaceChildren(...users.map((u) => el('option', { value: u.name }, u.name)));
  if (users.some((u) => u.name === keep)) sel.value = keep;
  else if (currentUser && users.some((u) => u.name === currentUser.user)) sel.value = currentUser.user;
}

function renderTokens(tokens) {
  const rows = tokens.map((t) => {
    const revoke = confirmButton('Revoke', 'Really revoke?', async () => {
      try {
        await apiJSON('DELETE', '/tokens/' + encodeURIComponent(t.id));
        adminMessage(`Token ${t.id} revoked.`);
      } catch (e) {
        adminMessage(`Cannot revoke ${t.id}: ${e.message}`, true);
      }
      showAdmin();
    });
    revoke.setAttribute('aria-label', 'Revoke token ' + t.id);
    return el('tr', { 'data-token': t.id },
      el('td', { class: 'mono' }, t.id),
      el('td', null, t.user),
      el('td', null, t.name || '—'),
      el('td', { class: 'mono' }, dateTime(isoToAPI(t.created))),
      el('td', { class: 'actions' }, revoke));
  });
  $('tokens-table').tBodies[0].replaceChildren(...rows);
}

function initAdmin() {
  $('user-add').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('new-user-name').value.trim();
    try {
      await apiJSON('POST', '/users', { name, role: $('new-user-role').value, password: $('new-user-password').value });
      adminMessage(`User ${name} added.`);
      $('user-add').reset();
    } catch (e) {
      adminMessage(`Cannot add ${name}: ${e.message}`, true);
    }
    showAdmin();
    // Adding the first user ends the open mode: ask again who we are.
    loadMe();
  });
  $('token-add').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const t = await apiJSON('POST', '/tokens', { user: $('new-token-user-select').value, name: $('new-token-name').value.trim() });
      $('new-token-user').textContent = t.user;
      $('new-token-value').textContent = t.token;
      $('new-token').hidden = false;
      $('new-token-name').value = '';
      adminMessage(`Token ${t.id} created.`);
    } catch (e) {
      adminMessage('Cannot create the token: ' + e.message, true);
    }
    showAdmin();
  });
  $('copy-token').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('new-token-value').textContent);
      adminMessage('Token copied.');
    } catch (_) {
      // No clipboard access (plain HTTP): select it for a manual copy.
      const r = document.createRange();
      r.selectNodeContents($('new-token-value'));
      const s = window.getSelection();
      s.removeAllRanges();
      s.addRange(r);
      adminMessage('Select and copy the token by hand (the clipboard is not available here).');
    }
  });
}

// ---- Disk use ----------------------------------------------------------------

// refreshDiskUse asks the status route for the disk figures each time the
// admin page is shown.
async function refreshDiskUse() {
  try {
    const st = await apiJSON('GET', '/status');
    // "store" is measured whether or not serve captures live; the live
    // status's copy is what older servers report.
    renderDiskUse((st && st.store) || ((st && st.live) || {}).retention);
  } catch (_) {
    // The status poll shows it again within seconds.
  }
}

// renderDiskUse fills the admin page's disk table from GET /status's
// retention figures: each table's bytes as of the last retention round,
// largest first, their total and the retention_max_gb bound.
function renderDiskUse(ret) {
  const table = $('disk-table');
  const note = $('disk-note');
  note.classList.remove('form-error');
  if (!ret || !ret.last_run) {
    table.hidden = true;
    $('disk-when').textContent = '';
    note.textContent = 'Not measured yet: the server measures the disk use of its tables when it starts and then ' +
      'every 10 minutes, in its retention rounds.';
    return;
  }
  const tb = ret.table_bytes || {};
  const total = ret.bytes || 0;
  const pct = (n, of) => (of > 0 ? (100 * n / of).toFixed(1) + ' %' : '—');
  const names = Object.keys(tb).sort((a, b) => tb[b] - tb[a] || (a < b ? -1 : 1));
  table.tBodies[0].replaceChildren(...names.map((name) => el('tr', { 'data-table': name, 'data-bytes': String(tb[name]) },
    el('td', { class: 'mono' }, name),
    el('td', { class: 'num' }, humanBytes(tb[name])),
    el('td', { class: 'num' }, pct(tb[name], total)))));
  const foot = [el('tr', { class: 'disk-total', 'data-bytes': String(total) },
    el('td', null, 'Total'), el('td', { class: 'num' }, humanBytes(total)), el('td', { class: 'num' }, pct(total, total)))];
  if (ret.max_bytes > 0) {
    foot.push(el('tr', { class: 'disk-bound' + (ret.over_bound ? ' over' : ''), 'data-bytes': String(ret.max_bytes) },
      el('td', null, 'Bound (retention_max_gb)'), el('td', { class: 'num' }, humanBytes(ret.max_bytes)),
      el('td', { class: 'num' }, pct(total, ret.max_bytes) + ' used')));
  }
  table.tFoot.replaceChildren(...foot);
  table.hidden = false;
  $('disk-when').textContent = ret.last_run ? 'as of the last retention round, ' + dateTime(isoToAPI(ret.last_run)) : '';
  const dropped = Object.values(ret.dropped_partitions || {}).reduce((a, b) => a + b, 0);
  const parts = [];
  if (ret.last_error) parts.push('The last retention round failed: ' + ret.last_error + '.');
  if (ret.over_bound) parts.push('Over the bound: only today\'s data is left, which retention does not drop.');
  parts.push(dropped > 0
    ? `Retention dropped ${dropped} day partitions since the server started, ${humanBytes(ret.freed_bytes || 0)} freed.`
    : 'Retention dropped nothing since the server started.');
  note.textContent = parts.join(' ');
  note.classList.toggle('form-error', !!(ret.last_error || ret.over_bound));
}

// leaveAdmin forgets a shown token secret when the page is left, and the
// tables, so that coming back never shows (or acts on) stale rows.
function leaveAdmin() {
  adminMessage('');
  $('users-table').tBodies[0].replaceChildren();
  $('tokens-table').tBodies[0].replaceChildren();
  $('new-token').hidden = true;
  $('new-token-value').textContent = '';
}

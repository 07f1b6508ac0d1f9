// sipscope web UI: the login page and the user menu in the header (who is
// logged in, with which role; time zone; admin entry; log out). Any API
// answer of 401 leads here (core.js needLogin), remembering the page to
// come back to.
'use strict';

// safeNext keeps the return address inside the page: only an in-page hash
// route, never a URL, so a crafted login link cannot send anyone away.
function safeNext(params) {
  const next = params.get('next') || '';
  return /^#\/(?!login)/.test(next) ? next : '#/';
}

function showLogin(params) {
  document.title = 'sipscope – log in';
  // Whoever was logged in is not any more (the API said 401).
  setCurrentUser(null);
  renderUserMenu();
  $('login-error').hidden = true;
  $('login-form').dataset.next = safeNext(params);
  $('login-password').value = '';
  $('login-user').focus();
}

async function submitLogin(ev) {
  ev.preventDefault();
  const err = $('login-error');
  err.hidden = true;
  const submit = $('login-submit');
  submit.disabled = true;
  try {
    const who = await apiJSON('POST', '/login', { user: $('login-user').value.trim(), password: $('login-password').value }, { noRedirect: true });
    $('login-password').value = '';
    setCurrentUser({ user: who.user, role: who.role, auth: 'session' });
    renderUserMenu();
    location.hash = $('login-form').dataset.next || '#/';
  } catch (e) {
    err.textContent = e.status === 401 ? 'Wrong user name or password.'
      : e.status === 429 ? 'Too many attempts: wait a minute and try again.'
        : 'Cannot log in: ' + e.message;
    err.hidden = false;
    $('login-password').select();
  } finally {
    submit.disabled = false;
  }
}

function initLogin() {
  $('login-form').addEventListener('submit', submitLogin);
}

// ---- User menu ----------------------------------------------------------------

// loadMe asks who the page acts as; a 401 leads to the login page.
async function loadMe() {
  try {
    setCurrentUser(await apiJSON('GET', '/me'));
  } catch (_) {
    setCurrentUser(null);
  }
  renderUserMenu();
}

function renderUserMenu() {
  const me = currentUser;
  $('user-menu').hidden = !me;
  if (!me) return;
  const open = me.auth === 'open';
  $('user-name').textContent = open ? 'Open access' : me.user;
  $('user-role').textContent = me.role;
  $('user-role').dataset.role = me.role;
  $('user-auth').textContent = open
    ? 'No users are defined: anyone who reaches this port has every role. Add an admin under Admin to require a login.'
    : `Logged in as ${me.user} (${me.role})` + (me.auth === 'token' ? ' with an API token.' : '.');
  $('admin-link').hidden = !hasRole('admin');
  $('logout').hidden = me.auth !== 'session';
}

function closeUserMenu() {
  $('user-panel').hidden = true;
  $('user-button').setAttribute('aria-expanded', 'false');
}

async function logout() {
  try {
    await apiJSON('POST', '/logout', undefined, { noRedirect: true });
  } catch (_) {
    // The session may have ended already; the login page follows anyway.
  }
  setCurrentUser(null);
  renderUserMenu();
  location.hash = '#/login';
}

function initUserMenu() {
  $('user-button').addEventListener('click', () => {
    const open = $('user-panel').hidden;
    $('user-panel').hidden = !open;
    $('user-button').setAttribute('aria-expanded', String(open));
  });
  document.addEventListener('click', (ev) => {
    if (!$('user-menu').contains(ev.target)) closeUserMenu();
  });
  $('admin-link').addEventListener('click', closeUserMenu);
  $('logout').addEventListener('click', logout);
}

// The UI's side of login sessions: a "Log out" button when the page was
// opened through the login page (POST /api/logout forgets the session on
// kv), and back to the login page when the session ends elsewhere.
'use strict';

(() => {
  const SESSION_CHECK_MS = 30000;

  async function session() {
    try {
      const r = await fetch('/api/session', { cache: 'no-store' });
      if (r.status === 401) location.replace('/login.html');
      return r.ok ? await r.json() : null;
    } catch {
      return null;
    }
  }

  async function logout() {
    try {
      await fetch('/api/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    } finally {
      location.replace('/login.html');
    }
  }

  session().then((s) => {
    if (!s || !s.session) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.id = 'logout';
    button.textContent = 'Log out';
    button.title = 'End this session on kv';
    button.addEventListener('click', logout);
    document.querySelector('.bar')?.append(button);
    setInterval(session, SESSION_CHECK_MS);
  });
})();

// The UI's side of login sessions: a "Log out" button when the page was
// opened through the login page (POST /api/logout forgets the session on
// kv), and back to the login page when the session ends elsewhere (or kv
// restarted: sessions live in kv's memory), which says so and returns here.
'use strict';

(() => {
  const SESSION_CHECK_MS = 30000;

  async function session() {
    try {
      const r = await fetch('/api/session', { cache: 'no-store' });
      if (r.status === 401) toLogin('session');
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
    document.querySelector('.bar [role=toolbar]')?.append(button);
    setInterval(session, SESSION_CHECK_MS);
  });
})();

// kv's login page: trades a user and password for a session cookie
// (POST /api/login), then opens the UI. The cookie is HttpOnly: no script,
// this one included, can read it.
'use strict';

const form = document.getElementById('login');
const message = document.getElementById('message');
const button = form.querySelector('button');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  button.disabled = true;
  message.textContent = 'Checking…';
  try {
    const r = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: form.user.value, password: form.password.value }),
      cache: 'no-store',
    });
    if (r.ok) {
      location.replace('/');
      return;
    }
    const reason = await r.json().catch(() => ({}));
    message.textContent = reason.error || `Login failed (${r.status})`;
    form.password.select();
  } catch {
    message.textContent = 'kv is not reachable';
  } finally {
    button.disabled = false;
  }
});

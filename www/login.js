// kv's login page: trades a user and password for a session cookie
// (POST /api/login), then opens the UI. The cookie is HttpOnly: no script,
// this one included, can read it. The UI sends people here with
// ?reason=session&next=/... when their session ended: the page says so and
// goes back to `next` afterwards. An account with two-step login is answered
// 401 with `code_needed` after a right password: the page then asks for the
// code and sends the three together.
'use strict';

const form = document.getElementById('login');
const message = document.getElementById('message');
const button = form.querySelector('button');
const asked = new URLSearchParams(location.search);
// Only a path on this kv: `//evil.example` or `/\evil.example` would leave it.
const next = /^\/(?![/\\])/.test(asked.get('next') || '') ? asked.get('next') : '/';

// Which kv this is: several boards may ask for a password in several tabs.
document.getElementById('host').textContent = location.host;
document.title = `kv ${location.host} — log in`;
if (asked.get('reason') === 'session') {
  const why = document.getElementById('why');
  why.textContent = 'Your session ended: kv restarted or someone logged this session out. ' +
    'Log in again to go back to the remote screen.';
  why.hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  button.disabled = true;
  message.textContent = 'Checking…';
  try {
    const r = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        user: form.user.value,
        password: form.password.value,
        ...(form.code.hidden ? {} : { code: form.code.value.trim() }),
      }),
      cache: 'no-store',
    });
    if (r.ok) {
      location.replace(next);
      return;
    }
    const reason = await r.json().catch(() => ({}));
    message.textContent = reason.error || `Login failed (${r.status})`;
    if (reason.code_needed) {
      for (const field of form.querySelectorAll('.code')) field.hidden = false;
      form.code.required = true;
      form.code.select();
      return;
    }
    form.password.select();
  } catch {
    message.textContent = 'kv is not reachable: check that it runs and that this address is right, then try again';
  } finally {
    button.disabled = false;
  }
});

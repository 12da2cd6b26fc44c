// The Security panel's two-step login: shows whether this account has a
// second factor (GET /api/account/totp), turns it on (POST begin: a QR code
// and the secret; POST confirm with the app's code: the recovery codes,
// shown once) and off (DELETE with the password and a code).
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const panel = byId('security');
  const toggle = byId('security-toggle');
  const state = byId('totp-state');
  const begin = byId('totp-begin');
  const off = byId('totp-off');
  const enrol = byId('totp-enrol');
  const recovery = byId('totp-recovery');
  const disable = byId('totp-disable');
  const result = byId('totp-result');

  const say = (text) => { result.textContent = text; };
  const reason = async (r) => (await r.json().catch(() => ({}))).error || `HTTP ${r.status}`;
  const send = (method, body) => fetch('/api/account/totp', {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    cache: 'no-store',
  });

  async function refresh() {
    const r = await fetch('/api/account/totp', { cache: 'no-store' }).catch(() => null);
    if (!r || !r.ok) {
      state.textContent = r ? `Unknown: ${await reason(r)}` : 'kv is not reachable';
      return;
    }
    const s = await r.json();
    begin.hidden = s.enabled || !!s.unavailable;
    off.hidden = !s.enabled;
    state.textContent = s.unavailable
      ? `Not available: ${s.unavailable}`
      : s.enabled
        ? `On: logging in asks for a code from your app (${s.recovery_left} recovery codes left).`
        : 'Off: logging in asks only for the password.';
  }

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute('aria-pressed', String(open));
    if (open) {
      refresh();
      document.dispatchEvent(new Event('kv-security-open'));
    }
  }
  toggle.addEventListener('click', () => setOpen(panel.hidden));
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      setOpen(false);
      toggle.focus();
    }
  });

  begin.addEventListener('click', async () => {
    say('');
    recovery.hidden = true;
    const r = await send('POST', { action: 'begin' }).catch(() => null);
    if (!r || !r.ok) { say(r ? `Not started: ${await reason(r)}` : 'kv is not reachable'); return; }
    const started = await r.json();
    // As an image, not markup: nothing of the answer runs in this page.
    byId('totp-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(started.qr)}`;
    byId('totp-secret').textContent = started.secret;
    enrol.hidden = false;
    byId('totp-code').focus();
  });

  enrol.addEventListener('submit', async (e) => {
    e.preventDefault();
    const code = byId('totp-code');
    const r = await send('POST', { action: 'confirm', code: code.value.trim() }).catch(() => null);
    if (!r || !r.ok) {
      say(r ? `Not turned on: ${await reason(r)}` : 'kv is not reachable');
      code.select();
      return;
    }
    const done = await r.json();
    const list = byId('totp-recovery-codes');
    list.replaceChildren(...done.recovery_codes.map((c) => {
      const li = document.createElement('li');
      li.textContent = c;
      return li;
    }));
    enrol.hidden = true;
    code.value = '';
    recovery.hidden = false;
    say('Two-step login is on.');
    refresh();
  });

  off.addEventListener('click', () => {
    disable.hidden = false;
    byId('totp-off-password').focus();
  });

  disable.addEventListener('submit', async (e) => {
    e.preventDefault();
    const password = byId('totp-off-password');
    const code = byId('totp-off-code');
    const r = await send('DELETE', { password: password.value, code: code.value.trim() }).catch(() => null);
    password.value = '';
    code.value = '';
    if (!r || !r.ok) { say(r ? `Still on: ${await reason(r)}` : 'kv is not reachable'); return; }
    disable.hidden = true;
    recovery.hidden = true;
    say('Two-step login is off.');
    refresh();
  });
})();

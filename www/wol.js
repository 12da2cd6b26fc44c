// The toolbar's Wake button: asks for the target's MAC (kv offers the one
// last woken, or --wol-mac), sends POST /api/wol and shows what kv answered.
'use strict';

(() => {
  const button = document.getElementById('wol');
  const said = document.getElementById('wol-said');
  const show = (text) => { said.textContent = text; };

  async function answer(r) {
    const body = await r.json().catch(() => ({}));
    return body.error || `HTTP ${r.status}`;
  }

  button.addEventListener('click', async () => {
    let known = '';
    try {
      const r = await fetch('/api/wol', { cache: 'no-store' });
      if (r.ok) known = (await r.json()).mac || '';
    } catch {
      show('Not sent: kv is not reachable. Try again once the connection is back.');
      return;
    }
    const mac = window.prompt('MAC address of the target to wake (aa:bb:cc:dd:ee:ff)', known);
    if (mac === null) return;
    let r;
    try {
      r = await fetch('/api/wol', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ mac: mac.trim() }),
      });
    } catch {
      show('Not sent: kv is not reachable. Try again once the connection is back.');
      return;
    }
    if (!r.ok) { show(`Not sent: ${await answer(r)}`); return; }
    const done = await r.json();
    const failed = done.failed.length ? ` (failed: ${done.failed.join('; ')})` : '';
    show(`Magic packet for ${done.mac} sent to ${done.sent.join(', ')}${failed}`);
  });
})();

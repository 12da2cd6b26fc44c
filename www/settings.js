// Settings: the panel for what kv changes at run time for every page (the idle jiggle and
// the paste speed, POST /api/hid/settings, shown back in /api/status's hid), and a pointer
// to this page's own settings (mouse mode, paste layout, quality, frame rate), which keep
// their one control each on the toolbar or in Paste. Loaded after app.js, whose
// setPasteOpen() it uses and whose status it hears as the "kv-status" event.
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const panel = byId('settings');
  const toggle = byId('settings-toggle');
  const jiggleOn = byId('jiggle-on');
  const jiggleSeconds = byId('jiggle-seconds');
  const pasteKeyMs = byId('paste-key-ms');
  const result = byId('settings-result');

  /** Characters a second at `ms` per key, in words. */
  const rate = (ms) => `about ${Math.round(1000 / ms)} characters a second`;

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute('aria-pressed', String(open));
    if (open) {
      showElsewhere();
      jiggleOn.focus();
    }
  }
  toggle.addEventListener('click', () => setOpen(panel.hidden));
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      setOpen(false);
      toggle.focus();
    }
  });

  // kv's values, unless the operator is editing that field right now.
  document.addEventListener('kv-status', (e) => {
    const hid = e.detail.hid || {};
    if (typeof hid.jiggle_seconds === 'number' && document.activeElement !== jiggleSeconds) {
      jiggleOn.checked = hid.jiggle_seconds > 0;
      if (hid.jiggle_seconds > 0) jiggleSeconds.value = hid.jiggle_seconds;
    }
    jiggleSeconds.disabled = !jiggleOn.checked;
    if (typeof hid.paste_key_ms === 'number' && document.activeElement !== pasteKeyMs) {
      pasteKeyMs.value = hid.paste_key_ms;
      byId('paste-rate').textContent = rate(hid.paste_key_ms);
    }
  });

  /** Sends one change; shows what kv answered, in words. */
  async function apply(change, done) {
    result.value = 'Saving…';
    let r;
    try {
      r = await fetch('/api/hid/settings', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(change),
      });
    } catch {
      result.value = 'Not changed: kv is not reachable. Try again once the connection is back.';
      return;
    }
    if (r.ok) {
      result.value = `${done} ✓`;
    } else {
      const body = await r.json().catch(() => ({}));
      result.value = `Not changed: ${body.error || `kv answered HTTP ${r.status}`}`;
    }
    // The fields show kv's values again, whichever way it went.
    fetchStatus();
  }

  function applyJiggle() {
    jiggleSeconds.disabled = !jiggleOn.checked;
    const seconds = jiggleOn.checked ? Number(jiggleSeconds.value) : 0;
    apply({ jiggle_seconds: seconds },
      seconds ? `The mouse jiggles after ${seconds} s without input` : 'The jiggle is off');
  }
  jiggleOn.addEventListener('change', applyJiggle);
  jiggleSeconds.addEventListener('change', applyJiggle);
  pasteKeyMs.addEventListener('change', () => {
    const ms = Number(pasteKeyMs.value);
    apply({ paste_key_ms: ms }, `Paste types ${ms} ms per key, ${rate(ms)}`);
  });

  // This page's settings, shown as their own controls show them.
  const chosenText = (id) => {
    const select = byId(id);
    return select.selectedOptions[0] ? select.selectedOptions[0].textContent : '—';
  };
  function showElsewhere() {
    const relative = byId('mouse-mode').getAttribute('aria-pressed') === 'true';
    byId('set-mouse-now').textContent = relative ? 'relative (pointer lock, for BIOSes)' : 'absolute';
    byId('set-layout-now').textContent = chosenText('layout');
    byId('set-quality-now').textContent = chosenText('quality');
    byId('set-max-fps-now').textContent = chosenText('max-fps');
  }
  document.addEventListener('change', showElsewhere);
  byId('mouse-mode').addEventListener('click', showElsewhere);
  panel.addEventListener('click', (e) => {
    const target = e.target.closest('[data-goto]');
    if (!target) return;
    const control = byId(target.dataset.goto);
    if (control.closest('#paste')) setPasteOpen(true);
    control.focus();
  });
})();

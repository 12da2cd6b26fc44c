// The toolbar's Power menu: ATX buttons (POST /api/atx) and the power and
// HDD LEDs from the status (status.atx). Hidden when kv has no ATX; a force
// off (long press) asks first.
'use strict';

(() => {
  const menu = document.getElementById('atx');
  const said = document.getElementById('atx-said');
  const confirm = document.getElementById('atx-confirm');
  const powerLed = document.getElementById('atx-power-led');
  const hddLed = document.getElementById('atx-hdd-led');
  const show = (text) => { said.textContent = text; };

  const WORDS = { power: 'Power pressed', power_long: 'Power held (force off)', reset: 'Reset pressed' };

  async function press(action) {
    menu.open = false;
    let r;
    try {
      r = await fetch('/api/atx', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ action }),
      });
    } catch {
      show('Not pressed: kv is not reachable. Try again once the connection is back.');
      return;
    }
    if (r.ok) { show(WORDS[action]); return; }
    const body = await r.json().catch(() => ({}));
    show(`Not pressed: ${body.error || `HTTP ${r.status}`}`);
  }

  for (const button of menu.querySelectorAll('button[data-action]')) {
    button.addEventListener('click', () => press(button.dataset.action));
  }
  document.getElementById('atx-power-long').addEventListener('click', () => {
    menu.open = false;
    confirm.returnValue = '';
    confirm.showModal();
  });
  confirm.addEventListener('close', () => {
    if (confirm.returnValue === 'yes') press('power_long');
  });

  document.addEventListener('kv-status', (e) => {
    const atx = e.detail.atx;
    menu.hidden = !atx;
    if (!atx) return;
    const led = (el, on, name) => {
      el.hidden = on === null;
      el.classList.toggle('on', !!on);
      el.title = `${name} LED ${on ? 'on' : 'off'}`;
    };
    led(powerLed, atx.power_led, 'Power');
    led(hddLed, atx.hdd_led, 'HDD');
    document.getElementById('atx-power').disabled = !atx.power;
    document.getElementById('atx-power-long').disabled = !atx.power;
    document.getElementById('atx-reset').disabled = !atx.reset;
    if (atx.pressing) menu.dataset.pressing = atx.pressing;
    else delete menu.dataset.pressing;
  });
})();

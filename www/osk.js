// The on-screen keyboard: every key a BIOS, a boot menu or a login prompt may ask for
// (Esc, F1–F12, arrows, Ins/Del/Home/End/PgUp/PgDn, Ctrl+Alt+Del), for phones and tablets
// that have no such keys and for desktops whose browser keeps some for itself. Modifiers
// latch: tap Ctrl, then Alt, then Del. Above it, a text field for the device's own keyboard
// (the soft keyboard on a phone): what is typed there goes to kv as text, which kv types in
// the target's layout. Loaded after app.js, whose send(), sendChord(), echo() it uses.
'use strict';

(() => {
  const STORE_OSK = 'kv.osk';
  // [KeyboardEvent.code, label, class]; the label of a letter or digit key is itself.
  const ROWS = [
    [['Escape', 'Esc'], ['F1'], ['F2'], ['F3'], ['F4'], ['F5'], ['F6'], ['F7'], ['F8'], ['F9'], ['F10'], ['F11'], ['F12']],
    [['Backquote', '`'], ['Digit1', '1'], ['Digit2', '2'], ['Digit3', '3'], ['Digit4', '4'], ['Digit5', '5'], ['Digit6', '6'],
      ['Digit7', '7'], ['Digit8', '8'], ['Digit9', '9'], ['Digit0', '0'], ['Minus', '-'], ['Equal', '='], ['Backspace', '⌫', 'wide']],
    [['Tab', 'Tab', 'wide'], ...'QWERTYUIOP'.split('').map((c) => [`Key${c}`, c]), ['BracketLeft', '['], ['BracketRight', ']'], ['Backslash', '\\']],
    [['CapsLock', 'Caps', 'wide'], ...'ASDFGHJKL'.split('').map((c) => [`Key${c}`, c]), ['Semicolon', ';'], ['Quote', "'"], ['Enter', 'Enter', 'wide']],
    [['ShiftLeft', 'Shift', 'wide'], ...'ZXCVBNM'.split('').map((c) => [`Key${c}`, c]), ['Comma', ','], ['Period', '.'], ['Slash', '/'], ['ArrowUp', '↑']],
    [['ControlLeft', 'Ctrl'], ['MetaLeft', 'Win'], ['AltLeft', 'Alt'], ['Space', 'Space', 'space'], ['AltRight', 'AltGr'],
      ['ArrowLeft', '←'], ['ArrowDown', '↓'], ['ArrowRight', '→']],
    [['Insert', 'Ins'], ['Delete', 'Del'], ['Home'], ['End'], ['PageUp', 'PgUp'], ['PageDown', 'PgDn'], ['PrintScreen', 'PrtSc'],
      ['chord:ControlLeft AltLeft Delete', 'Ctrl+Alt+Del', 'wide']],
  ];
  const NAMES = { ArrowUp: 'Up', ArrowDown: 'Down', ArrowLeft: 'Left', ArrowRight: 'Right', Space: 'Space' };
  const MODIFIERS = new Set(['ShiftLeft', 'ControlLeft', 'AltLeft', 'MetaLeft', 'AltRight']);

  const panel = document.getElementById('osk');
  const keysBox = document.getElementById('osk-keys');
  const toggle = document.getElementById('osk-toggle');
  const soft = document.getElementById('soft-input');
  // Modifiers tapped and waiting for the next key (code → its button).
  const latched = new Map();

  function unlatch() {
    for (const button of latched.values()) button.setAttribute('aria-pressed', 'false');
    latched.clear();
  }

  /** One key of the keyboard, with the latched modifiers around it. */
  function press(code, label, button) {
    const codes = [...latched.keys(), code];
    const said = [...latched.values()].map((b) => b.textContent).concat(label).join('+');
    unlatch();
    if (sendChord(codes)) {
      flash(button);
      echo(`Sent ${said}`);
    } else {
      echo(`${said} NOT sent: no connection to kv`);
    }
  }

  for (const row of ROWS) {
    const line = document.createElement('div');
    line.className = 'osk-row';
    for (const [code, label = code, cls] of row) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = label;
      if (cls) button.className = cls;
      button.dataset.code = code;
      button.setAttribute('aria-label', NAMES[code] || label);
      if (code.startsWith('chord:')) {
        const chord = code.slice('chord:'.length).split(' ');
        button.addEventListener('click', () => {
          unlatch();
          if (sendChord(chord)) {
            flash(button);
            echo(`Sent ${label}`);
          } else {
            echo(`${label} NOT sent: no connection to kv`);
          }
        });
      } else if (MODIFIERS.has(code)) {
        button.setAttribute('aria-pressed', 'false');
        button.title = `${label} stays down for the next key (tap again to let go)`;
        button.addEventListener('click', () => {
          if (latched.delete(code)) {
            button.setAttribute('aria-pressed', 'false');
          } else {
            latched.set(code, button);
            button.setAttribute('aria-pressed', 'true');
          }
        });
      } else {
        button.addEventListener('click', () => press(code, label, button));
      }
      line.append(button);
    }
    keysBox.append(line);
  }

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute('aria-pressed', String(open));
    try {
      localStorage.setItem(STORE_OSK, open ? '1' : '0');
    } catch {
      // Not remembered, still shown.
    }
  }
  toggle.addEventListener('click', () => setOpen(panel.hidden));
  let saved = null;
  try {
    saved = localStorage.getItem(STORE_OSK);
  } catch {
    // The default below.
  }
  // A touch screen has no Esc or F-keys at all: there it is open unless closed once.
  setOpen(saved === null ? matchMedia('(pointer: coarse)').matches : saved === '1');

  // The device's own keyboard: text goes to kv as a paste (typed in the target's layout);
  // Enter and Backspace, which leave no text behind, go as keys.
  function sendText() {
    const text = soft.value;
    if (!text) return;
    soft.value = '';
    if (send({ type: 'paste', text })) echo(`Sent “${text.length > 20 ? `${text.slice(0, 20)}…` : text}”`);
    else echo(`“${text}” NOT sent: no connection to kv`);
  }
  soft.addEventListener('input', (e) => {
    if (!e.isComposing) sendText();
  });
  soft.addEventListener('compositionend', sendText);
  soft.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    const key = { Enter: 'Enter', Backspace: 'Backspace', Escape: 'Escape', Tab: 'Tab' }[e.key];
    if (!key || (key === 'Backspace' && soft.value)) return;
    e.preventDefault();
    if (sendChord([key])) echo(`Sent ${e.key}`);
    else echo(`${e.key} NOT sent: no connection to kv`);
  });
})();

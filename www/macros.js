// Macros: named key sequences kept on the board (GET/POST /api/macros, in kv's
// --state-dir), replayed from the toolbar's Macros menu as the key messages they are made
// of. A macro is recorded (the keys sent while Record is on, with the pauses between them)
// or written: KeyboardEvent.code chords such as ControlLeft+AltLeft+Delete, +Code and -Code
// for one key down or up, wait:ms for a pause. Loaded after app.js, whose send(), recorder,
// echo() and flash() it uses.
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const list = byId('macro-list');
  const form = byId('macro-form');
  const recordButton = byId('macro-record');
  const nameInput = byId('macro-name');
  const keysInput = byId('macro-keys');
  const result = byId('macro-result');
  let macros = [];
  let playing = false;

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** The text form of a macro's events (what the keys field shows). */
  function toText(events) {
    return events.map((e) => ('wait' in e ? `wait:${e.wait}` : `${e.down ? '+' : '-'}${e.code}`)).join(' ');
  }

  /** Events from the text form; kv checks the key codes. */
  function fromText(text) {
    const events = [];
    for (const token of text.trim().split(/\s+/).filter(Boolean)) {
      const wait = /^wait:(\d+)$/.exec(token);
      if (wait) events.push({ wait: Number(wait[1]) });
      else if (/^[+-]\w+$/.test(token)) events.push({ code: token.slice(1), down: token[0] === '+' });
      else {
        // A chord: down in order, up in reverse.
        const codes = token.split('+');
        if (codes.some((c) => !/^\w+$/.test(c))) throw new Error(`"${token}" is not a key code, a chord, +Code, -Code or wait:ms`);
        for (const code of codes) events.push({ code, down: true });
        for (const code of [...codes].reverse()) events.push({ code, down: false });
      }
    }
    return events;
  }

  async function load() {
    try {
      const r = await fetch('/api/macros', { cache: 'no-store' });
      if (!r.ok) return;
      macros = (await r.json()).macros;
      render();
    } catch {
      // kv is not reachable: the page says so; the menu keeps what it had.
    }
  }

  /** Stores the whole list on kv; true when kv kept it. */
  async function store(next) {
    let r;
    try {
      r = await fetch('/api/macros', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ macros: next }),
      });
    } catch {
      result.value = 'Not saved: kv is not reachable. Try again once the connection is back.';
      return false;
    }
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      result.value = `Not saved: ${body.error || `HTTP ${r.status}`}`;
      return false;
    }
    macros = next;
    render();
    return true;
  }

  async function play(macro, button) {
    if (playing || recorder.on) return;
    playing = true;
    const down = new Set();
    try {
      for (const e of macro.events) {
        if ('wait' in e) {
          await pause(e.wait);
          continue;
        }
        if (!send({ type: 'key', code: e.code, down: e.down })) {
          echo(`${macro.name} stopped: no connection to kv`);
          return;
        }
        if (e.down) down.add(e.code);
        else down.delete(e.code);
      }
      flash(button);
      echo(`Sent ${macro.name}`);
    } finally {
      // A macro that leaves a key down (or was cut short) must not leave it stuck.
      for (const code of down) send({ type: 'key', code, down: false });
      playing = false;
    }
  }

  function render() {
    list.replaceChildren(...macros.map((macro) => {
      const item = document.createElement('span');
      item.className = 'group';
      const playButton = document.createElement('button');
      playButton.type = 'button';
      playButton.textContent = `▶ ${macro.name}`;
      playButton.title = toText(macro.events);
      playButton.addEventListener('click', () => play(macro, playButton));
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.textContent = '✎';
      edit.setAttribute('aria-label', `Edit ${macro.name}`);
      edit.addEventListener('click', () => {
        nameInput.value = macro.name;
        keysInput.value = toText(macro.events);
      });
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Delete ${macro.name}`);
      remove.addEventListener('click', async () => {
        if (await store(macros.filter((m) => m !== macro))) result.value = `Deleted ${macro.name}`;
      });
      item.append(playButton, edit, remove);
      return item;
    }));
  }

  recordButton.addEventListener('click', () => {
    recorder.on = !recorder.on;
    recordButton.setAttribute('aria-pressed', String(recorder.on));
    recordButton.textContent = recorder.on ? 'Stop recording' : 'Record';
    if (recorder.on) {
      recorder.events = [];
      result.value = 'Recording: keys you send now (picture or on-screen keyboard) become the macro';
      view.focus();
    } else {
      keysInput.value = toText(recorder.events);
      result.value = recorder.events.length ? 'Recorded: name it and Save' : 'Nothing recorded';
      nameInput.focus();
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let events;
    try {
      events = fromText(keysInput.value);
    } catch (err) {
      result.value = err.message;
      return;
    }
    const name = nameInput.value.trim();
    // A macro of the same name is replaced: that is how one is edited.
    const next = macros.filter((m) => m.name !== name).concat({ name, events });
    if (await store(next)) {
      result.value = `Saved ${name}`;
      nameInput.value = '';
      keysInput.value = '';
    }
  });

  load();
})();

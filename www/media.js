// Virtual media panel: upload disk images to kv's images folder (PUT /api/images/NAME,
// resumable with ?offset=N), list them, put one in the target's USB drive as a flash
// drive or CD-ROM (POST /api/media/attach), eject it, delete it. Shown only when kv runs
// with --images, opened from the toolbar. Uploads go as the file's bytes (never a form), with a progress bar,
// speed and time left; an interrupted upload resumes from what kv already holds.
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const panel = byId('media');
  // The toolbar button that opens the panel: shown only when kv runs with --images.
  const toggle = byId('media-toggle');
  const form = byId('media-form');
  const fileInput = byId('media-file');
  const nameInput = byId('media-name');
  const progress = byId('media-progress');
  const rate = byId('media-rate');
  const MODES = [['flash', 'Drive'], ['flash-ro', 'Drive (read-only)'], ['cdrom', 'CD-ROM']];
  // Speed is averaged over this window so the time left does not jump around.
  const RATE_WINDOW_MS = 3000;

  let state = null; // the last GET /api/images
  let xhr = null; // the running upload
  let pending = null; // {file, name, overwrite} of an interrupted upload

  const say = (text) => (typeof notice === 'function' ? notice(text) : console.warn(text));
  const url = (name) => '/api/images/' + encodeURIComponent(name);

  function human(bytes) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let n = bytes;
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
  }

  function duration(seconds) {
    if (!isFinite(seconds)) return '…';
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  /** A file name made acceptable to kv: letters, digits, space and . - _ + ( ). */
  function safeName(name) {
    return name.replace(/[^A-Za-z0-9 ._+()-]/g, '_').replace(/^[.]+/, '').replace(/[ .]+$/, '').slice(0, 128);
  }

  async function errorText(r) {
    try { return (await r.json()).error || `HTTP ${r.status}`; } catch { return `HTTP ${r.status}`; }
  }

  async function refresh() {
    let r;
    try {
      r = await fetch('/api/images', { cache: 'no-store' });
    } catch {
      return; // kv is not reachable: the page says so over the picture; the next refresh retries
    }
    if (r.status === 404) { toggle.hidden = true; panel.hidden = true; return; }
    if (!r.ok) { say(`images: ${await errorText(r)}`); return; }
    state = await r.json();
    toggle.hidden = false;
    render();
  }

  function button(text, onClick, disabled = false) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.disabled = disabled;
    b.addEventListener('click', onClick);
    return b;
  }

  function cell(row, text) {
    const td = document.createElement('td');
    td.textContent = text;
    row.append(td);
    return td;
  }

  function render() {
    const drive = state.drive;
    byId('media-drive').textContent = drive === 'usb'
      ? 'The target sees one USB drive; put an image in it as a flash drive or a CD-ROM.'
      : drive === 'simulated'
        ? 'Demo: the drive is simulated — attaching is recorded, but no computer sees it.'
        : 'No USB drive: kv runs without --gadget, so images can be uploaded but not attached.';
    const rows = [];
    for (const image of state.images) {
      const row = document.createElement('tr');
      row.dataset.name = image.name;
      if (image.attached) row.className = 'attached';
      cell(row, image.name);
      cell(row, human(image.size));
      cell(row, new Date(image.modified * 1000).toLocaleString());
      cell(row, image.attached ? MODES.find(([m]) => m === image.attached)?.[1] || image.attached : '');
      const actions = cell(row, '');
      if (image.attached) {
        actions.append(button('Eject', () => eject()));
      } else {
        for (const [mode, label] of MODES) {
          const asked = mode === 'cdrom' && tooBigForCdrom(image.size) ? () => offerFlash(image) : () => attach(image.name, mode);
          actions.append(button(label, asked, !drive));
        }
        actions.append(button('Delete', () => remove(image.name, false)));
      }
      rows.push(row);
    }
    for (const part of state.partial) {
      const row = document.createElement('tr');
      row.className = 'partial';
      row.dataset.partial = part.name;
      cell(row, `${part.name} (partial upload)`);
      cell(row, human(part.size));
      cell(row, new Date(part.modified * 1000).toLocaleString());
      cell(row, part.uploading ? 'uploading' : 'interrupted');
      const actions = cell(row, '');
      if (!part.uploading) {
        actions.append(button('Discard', () => remove(part.name, true)));
      }
      rows.push(row);
    }
    byId('media-images').replaceChildren(...rows);
    const limit = state.max_image_size ? `, images up to ${human(state.max_image_size)}` : '';
    byId('media-free').textContent = `${human(state.free)} free${limit}`;
  }

  async function post(route, body) {
    let r;
    try {
      r = await fetch(route, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch {
      say('Not done: kv is not reachable. Try again once the connection is back.');
      return;
    }
    if (!r.ok) say(await errorText(r));
    await refresh();
  }

  const attach = (name, mode) => post('/api/media/attach', { name, mode });

  // The target's USB CD-ROM shows only the first cdrom_max_size bytes of an image (a cap
  // of the kernel's mass-storage function); kv refuses bigger ones, so the page offers
  // the read-only drive, which has no cap, before anything is sent.
  const tooBigForCdrom = (size) => state && state.cdrom_max_size && size > state.cdrom_max_size;
  const cdromWarning = (name, size) =>
    `${name} is ${human(size)}; the target's USB CD-ROM shows only the first ${human(state.cdrom_max_size)} of an image.`;

  function offerFlash(image) {
    if (window.confirm(`${cdromWarning(image.name, image.size)} Attach it as a read-only drive instead? Hybrid ISOs, as most Linux installers are, boot from one.`)) {
      attach(image.name, 'flash-ro');
    }
  }
  const eject = () => post('/api/media/eject', {});

  async function remove(name, partial) {
    const what = partial ? `the partial upload of ${name}` : name;
    if (!window.confirm(`Delete ${what}?`)) return;
    let r;
    try {
      r = await fetch(url(name) + (partial ? '?partial=1' : ''), { method: 'DELETE' });
    } catch {
      say(`${name} not deleted: kv is not reachable. Try again once the connection is back.`);
      return;
    }
    if (!r.ok) say(`${name} not deleted: ${await errorText(r)}`);
    await refresh();
  }

  function setBusy(busy) {
    byId('media-upload').disabled = busy;
    byId('media-cancel').hidden = !busy;
    byId('media-resume').hidden = busy || !pending;
    progress.hidden = !busy && !pending;
  }

  /** Uploads `file` as `name`, from what kv already holds of it when it is a resume. */
  async function upload(file, name, overwrite) {
    await refresh();
    const part = state && state.partial.find((p) => p.name === name);
    const offset = part && !part.uploading && part.size < file.size ? part.size : 0;
    const query = new URLSearchParams();
    if (offset) query.set('offset', String(offset));
    if (overwrite) query.set('overwrite', '1');
    pending = { file, name, overwrite };
    setBusy(true);
    progress.max = file.size;
    progress.value = offset;
    const samples = [[performance.now(), offset]];
    rate.textContent = offset ? `resuming at ${human(offset)}…` : 'starting…';
    const request = new XMLHttpRequest();
    xhr = request;
    request.open('PUT', url(name) + (query.toString() ? `?${query}` : ''));
    request.setRequestHeader('Content-Type', 'application/octet-stream');
    request.upload.addEventListener('progress', (e) => {
      const done = offset + e.loaded;
      const now = performance.now();
      samples.push([now, done]);
      while (samples.length > 2 && now - samples[0][0] > RATE_WINDOW_MS) samples.shift();
      const [t0, b0] = samples[0];
      const speed = now > t0 ? ((done - b0) * 1000) / (now - t0) : 0;
      progress.value = done;
      rate.textContent = `${human(done)} of ${human(file.size)} · ${human(speed)}/s · ${duration((file.size - done) / speed)} left`;
    });
    const finished = new Promise((resolve) => {
      request.addEventListener('loadend', resolve);
    });
    request.send(file.slice(offset));
    await finished;
    xhr = null;
    if (request.status === 200) {
      pending = null;
      rate.textContent = `uploaded ${name} (${human(file.size)})`;
      fileInput.value = '';
    } else if (request.status === 0) {
      rate.textContent = `upload of ${name} interrupted at ${human(progress.value)}; Resume continues from there`;
    } else {
      let reason = `HTTP ${request.status}`;
      try { reason = JSON.parse(request.responseText).error || reason; } catch { /* not JSON */ }
      // kv's reasons name its API; here the checkbox is the way to say it.
      reason = reason.replace(/add \?overwrite=1 to replace it/, 'tick "replace an image of this name" to replace it');
      rate.textContent = `Not uploaded: ${reason}`;
      // Only an upload cut off or failed on kv's side can resume; after a refusal the
      // progress bar and Resume would promise what cannot happen.
      if (request.status < 500) pending = null;
    }
    setBusy(false);
    await refresh();
  }

  /** What kv would refuse, said before a byte is sent, from the list it gave last. */
  function beforeUpload(file, name, overwrite) {
    if (!state) return '';
    const image = state.images.find((i) => i.name === name);
    if (image && image.attached) return `${name} is in the target's drive: eject it first, or choose another name.`;
    if (image && !overwrite) return `An image named ${name} is already on the board: tick "replace an image of this name", or change the name.`;
    if (state.max_image_size && file.size > state.max_image_size) {
      return `${name} is ${human(file.size)}; this kv takes images up to ${human(state.max_image_size)} (--max-image-size).`;
    }
    const part = state.partial.find((p) => p.name === name);
    // The old image stays until the new one is whole: replacing needs the room too.
    const needed = file.size - (part && part.size < file.size ? part.size : 0);
    if (needed > state.free) return `${name} needs ${human(needed)} more; the board has ${human(state.free)} free. Delete an image first.`;
    return '';
  }

  fileInput.addEventListener('change', () => {
    const file = fileInput.files[0];
    if (file) nameInput.value = safeName(file.name);
    rate.textContent = file && tooBigForCdrom(file.size)
      ? `${cdromWarning(nameInput.value, file.size)} Once uploaded, attach it as "Drive (read-only)".`
      : '';
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = fileInput.files[0];
    const name = nameInput.value.trim();
    if (!file || !name) { say('Choose an image file (and a name) to upload'); return; }
    const problem = beforeUpload(file, name, byId('media-overwrite').checked);
    if (problem) {
      rate.textContent = problem;
      return;
    }
    upload(file, name, byId('media-overwrite').checked);
  });
  byId('media-cancel').addEventListener('click', () => { if (xhr) xhr.abort(); });
  byId('media-resume').addEventListener('click', () => {
    if (pending) upload(pending.file, pending.name, pending.overwrite);
  });

  toggle.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute('aria-pressed', String(!panel.hidden));
  });
  refresh();
  // The target may eject the medium itself, other operators upload or delete.
  setInterval(() => {
    if (document.visibilityState === 'visible' && !toggle.hidden && !xhr) refresh();
  }, 5000);
})();

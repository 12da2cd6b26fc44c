// kv's browser UI. The target's screen is drawn on a <canvas> from frames that come over
// their own WebSocket (/ws/video), each acknowledged once drawn so kv sends only what the
// link carries; when that channel cannot open, an MJPEG <img> (GET /stream) shows it instead.
// Keyboard and mouse go to kv as JSON messages over another WebSocket (/ws), which also
// brings kv's status.
// The browser sends KeyboardEvent.code and pointer positions normalised to 0..32767
// measured on the picture itself; kv owns the mapping to HID reports.
'use strict';

const ABS_MAX = 32767;
// Windows sends AltGr as a fake ControlLeft immediately followed by AltRight.
const ALTGR_WINDOW_MS = 50;
// Wheel pixels per notch: Chrome and Edge report 100 px for one mouse-wheel click.
const NOTCH_PX = 100;
const WHEEL_IDLE_MS = 400;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
// Poll /api/status when the socket has said nothing for this long (fps keeps moving).
const STATUS_STALE_MS = 2500;
// A /ws/video message: kind (1 = one whole JPEG), 3 zero bytes, sequence (u64), capture
// time (CLOCK_MONOTONIC µs, u64), width, height (u32), all big-endian; then the JPEG.
const VIDEO_HEADER = 28;
const VIDEO_KIND_FRAME = 1;
// The video channel failing this many times in a row while kv is reachable: use /stream.
const VIDEO_FAILS_MAX = 3;

const $ = (id) => document.getElementById(id);
const view = $('view');
const canvas = $('screen');
const img = $('stream');
const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || '';
const isMac = /^(Mac|iP)/i.test(platform);
const isWindows = /^Win/i.test(platform);

// ---- connection --------------------------------------------------------------------

const link = { ws: null, delay: RECONNECT_MIN_MS, lost: false };

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  link.ws = ws;
  setPill($('ws-pill'), 'connecting…', 'warn');
  ws.addEventListener('open', () => {
    link.delay = RECONNECT_MIN_MS;
    setPill($('ws-pill'), 'connected', 'ok');
    if (link.lost || !video.ws) restartVideo();
    link.lost = false;
  });
  ws.addEventListener('message', (e) => onMessage(e.data));
  ws.addEventListener('close', () => {
    if (link.ws !== ws) return;
    link.ws = null;
    link.lost = true;
    const wait = link.delay * (0.8 + Math.random() * 0.4);
    link.delay = Math.min(link.delay * 2, RECONNECT_MAX_MS);
    setPill($('ws-pill'), `disconnected, retrying in ${Math.ceil(wait / 1000)} s`, 'bad');
    setTimeout(connect, wait);
  });
}

/** Sends one input message; false when there is no open connection (the input is dropped:
 *  replaying stale keystrokes later would be worse). */
function send(msg) {
  if (!link.ws || link.ws.readyState !== WebSocket.OPEN) return false;
  link.ws.send(JSON.stringify(msg));
  return true;
}

function onMessage(data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  if (msg.type === 'status' && msg.status) applyStatus(msg.status);
  else if (msg.type === 'paste') pasteDone(msg);
  else if (msg.type === 'error') notice(`kv: ${msg.message}`);
}

// ---- video ---------------------------------------------------------------------------

const video = {
  ws: null,
  // Channel failures in a row (closed before its first frame while kv was reachable).
  fails: 0,
  // Showing /stream instead of the canvas, for the rest of this page's life.
  fallback: false,
  // Frames drawn on the canvas, in all and since the last rate was shown.
  drawn: 0,
  counted: 0,
  countedAt: performance.now(),
};
const canvas2d = canvas.getContext('2d');

/** Stops whatever shows the picture and starts it again if the tab is visible. */
function restartVideo() {
  const ws = video.ws;
  video.ws = null;
  if (ws) ws.close();
  img.removeAttribute('src');
  // A hidden tab stops watching: capture runs on the board only while someone watches.
  if (document.visibilityState !== 'visible') return;
  if (video.fallback) img.src = '/stream';
  else openVideo();
}

function openVideo() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/video`);
  ws.binaryType = 'arraybuffer';
  video.ws = ws;
  let framed = false;
  ws.addEventListener('message', (e) => {
    if (typeof e.data === 'string') {
      onVideoText(e.data);
      return;
    }
    framed = true;
    video.fails = 0;
    drawFrame(ws, e.data);
  });
  ws.addEventListener('close', () => {
    if (video.ws !== ws) return;
    video.ws = null;
    // While kv itself is unreachable, /ws's reconnection restarts the video when it is back.
    if (!link.ws || link.ws.readyState !== WebSocket.OPEN) return;
    if (!framed) video.fails += 1;
    if (video.fails >= VIDEO_FAILS_MAX) {
      useStream();
      return;
    }
    setTimeout(() => { if (!video.ws && !video.fallback) restartVideo(); }, RECONNECT_MIN_MS * 2 ** video.fails);
  });
}

function onVideoText(data) {
  try {
    const msg = JSON.parse(data);
    if (msg.type === 'error') notice(`kv video: ${msg.message}`);
  } catch {
    // Nothing else comes as text on this channel.
  }
}

/** Draws one message's JPEG, then acknowledges it: kv sends the next frame only then. */
async function drawFrame(ws, buf) {
  if (buf.byteLength < VIDEO_HEADER) return;
  const header = new DataView(buf, 0, VIDEO_HEADER);
  const seq = Number(header.getBigUint64(4));
  if (header.getUint8(0) === VIDEO_KIND_FRAME) {
    try {
      const jpeg = new Blob([new Uint8Array(buf, VIDEO_HEADER)], { type: 'image/jpeg' });
      const bitmap = await createImageBitmap(jpeg);
      if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
        canvas.width = bitmap.width;
        canvas.height = bitmap.height;
      }
      canvas2d.drawImage(bitmap, 0, 0);
      bitmap.close();
      video.drawn += 1;
    } catch {
      // A frame that does not decode is skipped; the next one replaces it.
    }
  }
  // Kinds this page does not know are acknowledged too, or kv would wait for ever.
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ack', seq }));
}

/** The channel cannot work here (a proxy without WebSocket, say): the MJPEG stream it is. */
function useStream() {
  video.fallback = true;
  canvas.hidden = true;
  img.hidden = false;
  restartVideo();
  showViewRate();
}

function showViewRate() {
  if (video.fallback) {
    setPill($('view-pill'), 'MJPEG stream', 'warn');
    return;
  }
  const now = performance.now();
  const fps = ((video.drawn - video.counted) * 1000) / Math.max(1, now - video.countedAt);
  video.counted = video.drawn;
  video.countedAt = now;
  setPill($('view-pill'), `canvas · ${fps.toFixed(1)} fps`, video.ws ? 'ok' : 'warn');
}

document.addEventListener('visibilitychange', restartVideo);
img.addEventListener('error', () => {
  if (img.getAttribute('src')) setTimeout(restartVideo, 2000);
});
setInterval(showViewRate, 1000);

// ---- status ------------------------------------------------------------------------

let lastStatus = null;
let statusAt = -Infinity;

function setPill(el, text, level) {
  el.textContent = text;
  el.dataset.level = level;
}

function applyStatus(s) {
  lastStatus = s;
  statusAt = performance.now();
  const v = s.video || {};
  if (v.signal === 'live') {
    const fps = typeof v.fps_measured === 'number' ? v.fps_measured : v.fps;
    setPill($('video-pill'), `${v.width}×${v.height} · ${Number(fps).toFixed(1)} fps`, 'ok');
  } else {
    setPill($('video-pill'), `video: ${v.signal || 'unknown'}`, v.signal === 'idle' ? 'warn' : 'bad');
  }
  $('video-pill').title = `Video ${v.device || ''} ${v.format || ''}, ${v.viewers ?? '?'} viewer(s)`;

  const hid = s.hid || {};
  setPill($('hid-pill'), hid.online ? 'HID online' : 'HID offline', hid.online ? 'ok' : 'warn');
  const leds = hid.leds || {};
  for (const [name, label] of [['num', 'Num Lock'], ['caps', 'Caps Lock'], ['scroll', 'Scroll Lock']]) {
    const el = $(`led-${name}`);
    el.classList.toggle('on', !!leds[name]);
    el.title = `${label} ${leds[name] ? 'on' : 'off'}`;
  }

  fillSelect($('mode'), (v.modes || []).map((m) => {
    const value = `${m.width}x${m.height}@${m.fps}`;
    return [value, `${m.width}×${m.height} @ ${m.fps}`];
  }), `${v.width}x${v.height}@${v.fps}`);
  const layout = $('layout');
  fillSelect(layout, (hid.layouts || []).map((l) => [l, l]), layout.dataset.chosen ? layout.value : hid.layout);
}

/** Rebuilds a <select> only when its options change, so an open menu is not disturbed. */
function fillSelect(select, options, selected) {
  const key = JSON.stringify(options);
  if (select.dataset.options !== key) {
    select.dataset.options = key;
    select.replaceChildren(...options.map(([value, text]) => new Option(text, value)));
  }
  if (selected && options.some(([value]) => value === selected)) select.value = selected;
}

async function fetchStatus() {
  try {
    const r = await fetch('/api/status', { cache: 'no-store' });
    if (r.ok) applyStatus(await r.json());
  } catch {
    // The socket's pill already says whether kv is reachable.
  }
}

setInterval(() => {
  if (document.visibilityState === 'visible' && performance.now() - statusAt > STATUS_STALE_MS) fetchStatus();
}, 1000);

let noticeTimer = 0;
function notice(text) {
  const el = $('notice');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// ---- keyboard ----------------------------------------------------------------------

const keys = { down: new Set(), pendingCtrl: 0, fakeCtrl: false };

function keyDown(code) {
  if (keys.down.has(code)) return;
  keys.down.add(code);
  send({ type: 'key', code, down: true });
}

function keyUp(code) {
  if (!keys.down.delete(code)) return;
  send({ type: 'key', code, down: false });
}

/** Sends a ControlLeft held back to see whether it was the first half of AltGr. */
function flushCtrl() {
  if (!keys.pendingCtrl) return;
  clearTimeout(keys.pendingCtrl);
  keys.pendingCtrl = 0;
  keyDown('ControlLeft');
}

view.addEventListener('keydown', (e) => {
  e.preventDefault();
  // The target auto-repeats by itself; the browser's repeats would double it.
  if (e.repeat || e.isComposing || !e.code || e.code === 'Unidentified') return;
  if (isWindows && e.code === 'ControlLeft' && !keys.down.has('ControlLeft')) {
    keys.pendingCtrl = setTimeout(flushCtrl, ALTGR_WINDOW_MS);
    return;
  }
  if (e.code === 'AltRight' && keys.pendingCtrl) {
    clearTimeout(keys.pendingCtrl);
    keys.pendingCtrl = 0;
    keys.fakeCtrl = true;
  } else {
    flushCtrl();
  }
  keyDown(e.code);
});

view.addEventListener('keyup', (e) => {
  e.preventDefault();
  if (e.code === 'ControlLeft' && keys.fakeCtrl) {
    keys.fakeCtrl = false;
    return;
  }
  flushCtrl();
  keyUp(e.code);
  // macOS delivers no keyup for keys released while Cmd is held.
  if (isMac && (e.code === 'MetaLeft' || e.code === 'MetaRight')) releaseAll();
});

/** Everything up on the target; sent only when something is down, unless forced. */
function releaseAll(force = false) {
  clearTimeout(keys.pendingCtrl);
  keys.pendingCtrl = 0;
  keys.fakeCtrl = false;
  const anyDown = keys.down.size > 0 || pointer.buttons !== 0;
  keys.down.clear();
  pointer.buttons = 0;
  if (anyDown || force) send({ type: 'release' });
}

view.addEventListener('blur', () => releaseAll());
window.addEventListener('blur', () => releaseAll());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') releaseAll();
});

for (const button of document.querySelectorAll('[data-keys]')) {
  button.addEventListener('click', () => {
    const codes = button.dataset.keys.split(' ');
    for (const code of codes) send({ type: 'key', code, down: true });
    for (const code of codes.reverse()) send({ type: 'key', code, down: false });
    view.focus();
  });
}
$('release').addEventListener('click', () => releaseAll(true));

// ---- mouse and touch ---------------------------------------------------------------

const pointer = {
  relative: false,
  buttons: 0,
  x: -1,
  y: -1,
  dx: 0,
  dy: 0,
  sent: '',
  frame: 0,
  wheelX: 0,
  wheelY: 0,
  wheelAt: 0,
};

/** The part of the canvas (or <img>) that shows the picture: object-fit: contain
 *  letterboxes it. */
function contentBox() {
  const el = video.fallback ? img : canvas;
  const r = el.getBoundingClientRect();
  const v = (lastStatus && lastStatus.video) || {};
  // A canvas that has drawn nothing yet still has the default 300×150.
  const [nw, nh] = video.fallback ? [img.naturalWidth, img.naturalHeight]
    : video.drawn ? [canvas.width, canvas.height] : [0, 0];
  const w = nw || v.width || r.width;
  const h = nh || v.height || r.height;
  const scale = Math.min(r.width / w, r.height / h);
  const width = w * scale;
  const height = h * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height };
}

const clamp01 = (f) => Math.min(1, Math.max(0, f));

function sendAbs() {
  const msg = { type: 'abs', x: pointer.x, y: pointer.y, buttons: pointer.buttons };
  const key = JSON.stringify(msg);
  if (key === pointer.sent) return;
  pointer.sent = key;
  send(msg);
}

function sendRel() {
  if (pointer.dx === 0 && pointer.dy === 0 && pointer.sent === `rel${pointer.buttons}`) return;
  send({ type: 'rel', dx: pointer.dx, dy: pointer.dy, buttons: pointer.buttons });
  pointer.sent = `rel${pointer.buttons}`;
  pointer.dx = 0;
  pointer.dy = 0;
}

const flushPointer = () => (pointer.relative ? sendRel() : sendAbs());

/** Moves go out at most once per animation frame; button changes go at once. */
function queuePointer() {
  if (pointer.frame) return;
  pointer.frame = requestAnimationFrame(() => {
    pointer.frame = 0;
    flushPointer();
  });
}

function onPointer(e) {
  const buttons = e.buttons & 0x1f;
  if (pointer.relative) {
    if (document.pointerLockElement !== view) return;
    pointer.dx += e.movementX;
    pointer.dy += e.movementY;
  } else {
    const b = contentBox();
    const fx = (e.clientX - b.left) / b.width;
    const fy = (e.clientY - b.top) / b.height;
    const inside = fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1;
    // The letterbox is not the target's screen, except to finish a drag.
    if (!inside && pointer.buttons === 0) return;
    const x = Math.round(clamp01(fx) * ABS_MAX);
    const y = Math.round(clamp01(fy) * ABS_MAX);
    if (buttons !== pointer.buttons && (x !== pointer.x || y !== pointer.y)) {
      // Arrive first, then press: a tap on a phone is a click where it landed.
      pointer.x = x;
      pointer.y = y;
      sendAbs();
    }
    pointer.x = x;
    pointer.y = y;
  }
  if (buttons !== pointer.buttons) {
    pointer.buttons = buttons;
    flushPointer();
  } else {
    queuePointer();
  }
}

view.addEventListener('pointerdown', (e) => {
  view.focus({ preventScroll: true });
  if (pointer.relative && document.pointerLockElement !== view) {
    lockPointer();
    return;
  }
  if (!pointer.relative) view.setPointerCapture(e.pointerId);
  onPointer(e);
});
/** Raw deltas where the browser has them: the target applies its own acceleration. */
function lockPointer() {
  const ignore = () => {};
  const locking = view.requestPointerLock({ unadjustedMovement: true });
  if (locking && locking.catch) locking.catch(() => Promise.resolve(view.requestPointerLock()).catch(ignore));
}

view.addEventListener('pointermove', onPointer);
view.addEventListener('pointerup', onPointer);
view.addEventListener('pointercancel', onPointer);
// No text selection, autoscroll or context menu of our own over the target's screen.
view.addEventListener('mousedown', (e) => e.preventDefault());
view.addEventListener('contextmenu', (e) => e.preventDefault());

view.addEventListener('wheel', (e) => {
  e.preventDefault();
  if (e.timeStamp - pointer.wheelAt > WHEEL_IDLE_MS) {
    pointer.wheelX = 0;
    pointer.wheelY = 0;
  }
  pointer.wheelAt = e.timeStamp;
  const unit = [1, NOTCH_PX / 3, NOTCH_PX][e.deltaMode] || 1; // pixels, lines, pages
  pointer.wheelX += e.deltaX * unit;
  pointer.wheelY += e.deltaY * unit;
  const nx = Math.round(pointer.wheelX / NOTCH_PX);
  const ny = Math.round(pointer.wheelY / NOTCH_PX);
  if (nx === 0 && ny === 0) return;
  pointer.wheelX -= nx * NOTCH_PX;
  pointer.wheelY -= ny * NOTCH_PX;
  // The browser's deltaY > 0 scrolls down; kv's dy > 0 scrolls up.
  send({ type: 'wheel', dx: nx, dy: -ny });
}, { passive: false });

$('mouse-mode').addEventListener('click', () => {
  pointer.relative = !pointer.relative;
  $('mouse-mode').setAttribute('aria-pressed', String(pointer.relative));
  pointer.sent = pointer.relative ? `rel${pointer.buttons}` : '';
  if (!pointer.relative && document.pointerLockElement === view) document.exitPointerLock();
  updateHint();
  view.focus();
});
document.addEventListener('pointerlockchange', () => {
  if (document.pointerLockElement !== view && pointer.buttons !== 0) {
    pointer.buttons = 0;
    flushPointer();
  }
  updateHint();
});

function updateHint() {
  const hint = $('hint');
  const locked = document.pointerLockElement === view;
  if (pointer.relative && !locked) hint.textContent = 'Click the screen to lock the pointer (Esc unlocks)';
  else hint.textContent = 'Click the screen to type into the target';
  hint.hidden = locked || (!pointer.relative && document.activeElement === view);
}
view.addEventListener('focus', updateHint);
view.addEventListener('blur', updateHint);

// ---- fullscreen, screenshot, resolution ----------------------------------------------

if (!document.fullscreenEnabled) $('fullscreen').hidden = true;
$('fullscreen').addEventListener('click', async () => {
  if (document.fullscreenElement) {
    await document.exitFullscreen();
    return;
  }
  try {
    await view.requestFullscreen();
  } catch (err) {
    notice(`Fullscreen refused: ${err.message}`);
    return;
  }
  view.focus();
  // Chrome then hands Esc, Alt-Tab and friends to the page instead of acting on them.
  if (navigator.keyboard && navigator.keyboard.lock) navigator.keyboard.lock().catch(() => {});
});
document.addEventListener('fullscreenchange', () => {
  $('fullscreen').textContent = document.fullscreenElement ? 'Exit fullscreen' : 'Fullscreen';
});

const pad = (n) => String(n).padStart(2, '0');
function timestamp(d) {
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

$('screenshot').addEventListener('click', async () => {
  try {
    const r = await fetch('/snapshot.jpg', { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `kv-${timestamp(new Date())}.jpg`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    notice(`Screenshot failed: ${err.message}`);
  }
});

$('mode').addEventListener('change', async () => {
  const select = $('mode');
  const [width, height, fps] = select.value.split(/[x@]/).map(Number);
  try {
    const r = await fetch('/api/video/mode', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ width, height, fps }),
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error(body.error || `HTTP ${r.status}`);
    }
  } catch (err) {
    notice(`Could not switch to ${width}×${height} @ ${fps}: ${err.message}`);
  }
  fetchStatus();
});

// ---- paste -------------------------------------------------------------------------

$('paste').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('paste-text').value;
  if (!text) return;
  const msg = { type: 'paste', text };
  if ($('layout').value) msg.layout = $('layout').value;
  $('paste-result').value = send(msg) ? `Typing ${[...text].length} characters…` : 'Not connected to kv';
});
$('paste-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('paste').requestSubmit();
});
$('layout').addEventListener('change', () => { $('layout').dataset.chosen = '1'; });

function pasteDone(msg) {
  if (msg.skipped) $('paste-result').value = `Could not type in this layout: ${[...msg.skipped].join(' ')}`;
}

updateHint();
connect();
fetchStatus();
showViewRate();

// kv's browser UI. The target's screen is drawn on a <canvas> from updates that come over
// their own WebSocket (/ws/video): a whole frame, then only the areas that changed, each
// acknowledged once drawn so kv sends only what the link carries, at the quality and rate
// the page asks for; when that channel cannot open, an MJPEG <img> (GET /stream) shows it.
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
// Retries stay frequent: the picture must be back within seconds of kv restarting (issue
// 14), and one refused connection every 2 s costs the board nothing.
const RECONNECT_MAX_MS = 2000;
// Poll /api/status when the socket has said nothing for this long (fps keeps moving).
const STATUS_STALE_MS = 2500;
// A /ws/video message begins with 28 bytes: kind, 3 zero bytes, sequence (u64), capture
// time (CLOCK_MONOTONIC µs, u64), width, height (u32), all big-endian (docs/API.md).
const VIDEO_HEADER = 28;
const VIDEO_KIND_FRAME = 1; // one whole JPEG
const VIDEO_KIND_AREAS = 2; // MCU size, spans, then one JPEG the spans are cut from
const VIDEO_KIND_SAME = 3; // header only: the picture is unchanged
const SPANS_HEADER = 8; // MCU width, MCU height, span count, zero (u16 each)
const SPAN_BYTES = 10; // destination column, row, length, source column, row (u16 each)
// The video channel failing this many times in a row while kv is reachable: use /stream.
const VIDEO_FAILS_MAX = 3;
// kv's stats message comes about once a second; older than this, the overlay says so.
const STATS_STALE_MS = 3500;
// Choices kept in localStorage (per origin, so per kv).
const STORE_QUALITY = 'kv.quality';
const STORE_MAX_FPS = 'kv.maxFps';
const STORE_STATS = 'kv.stats';

const $ = (id) => document.getElementById(id);
const view = $('view');
const canvas = $('screen');
const img = $('stream');
const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || '';
const isMac = /^(Mac|iP)/i.test(platform);
const isWindows = /^Win/i.test(platform);

// ---- connection --------------------------------------------------------------------

// `lostAt`: when the connection went (null while connected); `unsent`: input the page
// could not send since then, counted so the operator knows it did not reach the target.
const link = { ws: null, delay: RECONNECT_MIN_MS, lost: false, lostAt: null, unsent: 0, opened: false };

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  link.ws = ws;
  if (!link.lost) setPill($('ws-pill'), 'connecting…', 'warn');
  let opened = false;
  ws.addEventListener('open', () => {
    opened = true;
    link.delay = RECONNECT_MIN_MS;
    setPill($('ws-pill'), 'connected', 'ok');
    if (link.lost || !video.ws) restartVideo();
    if (link.lost) reconnected();
    link.lost = false;
    link.opened = true;
  });
  ws.addEventListener('message', (e) => onMessage(e.data));
  ws.addEventListener('close', () => {
    if (link.ws !== ws) return;
    link.ws = null;
    if (!link.lost) connectionLost();
    const wait = link.delay * (0.8 + Math.random() * 0.4);
    link.delay = Math.min(link.delay * 2, RECONNECT_MAX_MS);
    setTimeout(connect, wait);
    // Refused before it opened while kv answers HTTP: most likely the session is gone
    // (kv restarted, or someone logged this session out).
    if (!opened) checkSession();
  });
}

/** A link that died without closing (Wi-Fi gone, a cable pulled, kv frozen) closes no
 *  socket for minutes; but kv sends stats on the video channel every second, so a channel
 *  silent for this long means the link is gone (eight missed stats: a slow link that
 *  still works is not called lost). */
const SILENT_MS = 8000;
setInterval(() => {
  const vws = video.ws;
  if (link.lost || !vws || vws.readyState !== WebSocket.OPEN || document.visibilityState !== 'visible') return;
  if (performance.now() - video.heardAt < SILENT_MS) return;
  const ws = link.ws;
  link.ws = null;
  video.ws = null;
  connectionLost();
  // Their close events come late or never; these sockets no longer count (see the handlers).
  if (ws) ws.close();
  vws.close();
  setTimeout(connect, RECONNECT_MIN_MS);
}, 1000);

/** The page goes on showing the last picture, but says it is old and refuses input. */
function connectionLost() {
  link.lost = true;
  link.lostAt = performance.now();
  link.unsent = 0;
  view.classList.add('lost');
  $('offline').hidden = false;
  // kv stops typing a paste when its page's connection goes (it releases everything).
  if (paste.phase === 'checking' || paste.phase === 'typing') {
    pasteFinished('Interrupted: the connection to kv was lost, and kv stops typing then. ' +
      'Check what reached the target before pasting again.');
  }
  for (const pill of document.querySelectorAll('.pill:not(#ws-pill)')) {
    pill.dataset.stale = '';
    pill.title = pill.title.replace(/ \(last known.*$/, '') + ' (last known: kv is not reachable)';
  }
  showLost();
}

function showLost() {
  if (!link.lost) return;
  const seconds = Math.round((performance.now() - link.lostAt) / 1000);
  const what = link.opened ? 'Connection to kv lost' : 'kv is not reachable';
  $('offline-text').textContent = `${what} — reconnecting (${seconds} s)`;
  setPill($('ws-pill'), `disconnected ${seconds} s, reconnecting`, 'bad');
  $('offline-keys').textContent = link.unsent
    ? `${link.unsent} key${link.unsent === 1 ? '' : 's'} typed meanwhile NOT sent to the target`
    : 'Keys and clicks are not sent until it is back';
}
setInterval(showLost, 1000);

function reconnected() {
  const seconds = Math.round((performance.now() - link.lostAt) / 1000);
  view.classList.remove('lost');
  $('offline').hidden = true;
  for (const pill of document.querySelectorAll('.pill[data-stale]')) {
    delete pill.dataset.stale;
    pill.title = pill.title.replace(/ \(last known.*$/, '');
  }
  if (link.unsent) {
    notice(`Reconnected after ${seconds} s. ${link.unsent} key press${link.unsent === 1 ? ' was' : 'es were'} typed while ` +
      'disconnected and NOT sent: type them again if they are still wanted.');
  }
  link.unsent = 0;
  link.lostAt = null;
}

/** To the login page, saying why (`reason`) and where to come back to. */
function toLogin(reason) {
  const back = location.pathname + location.search + location.hash;
  location.replace(`/login.html?${new URLSearchParams({ reason, next: back })}`);
}

/** kv answers, but not to this page's session: to the login page, which says why and
 *  comes back here afterwards. */
async function checkSession() {
  try {
    const r = await fetch('/api/session', { cache: 'no-store' });
    if (r.status === 401) toLogin('session');
  } catch {
    // kv is not reachable at all: the reconnection goes on.
  }
}

/** Sends one input message; false when there is no open connection. Input is never
 *  queued for later (replaying stale keystrokes would be worse); what was not sent is
 *  counted and shown instead. */
function send(msg) {
  if (!link.ws || link.ws.readyState !== WebSocket.OPEN) {
    if (msg.type === 'key' && msg.down) refused();
    return false;
  }
  link.ws.send(JSON.stringify(msg));
  if (recorder.on && msg.type === 'key') record(msg);
  return true;
}

// Keys sent while a macro is being recorded (www/macros.js), with the pauses between them
// (shorter ones are typing speed, not meaning).
const RECORD_MIN_WAIT_MS = 20;
const RECORD_MAX_WAIT_MS = 10000;
const recorder = { on: false, events: [], at: 0 };

function record(msg) {
  const now = performance.now();
  const wait = Math.round(now - recorder.at);
  if (recorder.events.length && wait >= RECORD_MIN_WAIT_MS) recorder.events.push({ wait: Math.min(wait, RECORD_MAX_WAIT_MS) });
  recorder.at = now;
  recorder.events.push({ code: msg.code, down: msg.down });
}

/** Input the operator gave while kv is unreachable: counted and shown at once. */
function refused() {
  link.unsent += 1;
  showLost();
  const box = $('offline-keys');
  box.classList.remove('flash');
  void box.offsetWidth; // restart the animation for every refused key
  box.classList.add('flash');
}

let lastPresence = null;

// kv sends the status and the presence when they change, and once right after /ws
// connects; that once may come before the later deferred scripts (people.js, atx.js,
// settings.js, terminal.js) listen. DOMContentLoaded comes after all of them ran.
document.addEventListener('DOMContentLoaded', () => {
  if (lastStatus) document.dispatchEvent(new CustomEvent('kv-status', { detail: lastStatus }));
  if (lastPresence) document.dispatchEvent(new CustomEvent('kv-presence', { detail: lastPresence }));
});

function onMessage(data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  if (msg.type === 'status' && msg.status) applyStatus(msg.status);
  else if (msg.type === 'paste') pasteReply(msg);
  else if (msg.type === 'error') notice(`kv: ${msg.message}`);
  else if (msg.type === 'presence') {
    lastPresence = msg;
    document.dispatchEvent(new CustomEvent('kv-presence', { detail: msg }));
  }
}


// Other scripts' messages on this page's /ws (www/people.js: control requests).
document.addEventListener('kv-send', (e) => send(e.detail));

// ---- video ---------------------------------------------------------------------------

const video = {
  ws: null,
  // Channel failures in a row (closed before it drew anything while kv was reachable).
  fails: 0,
  // Showing /stream instead of the canvas, for the rest of this page's life.
  fallback: false,
  // Updates drawn on the canvas, in all and since the last rate was shown.
  drawn: 0,
  counted: 0,
  countedAt: performance.now(),
  // Updates drawn per kind since the overlay last showed them.
  kinds: { 1: 0, 2: 0, 3: 0 },
  // kv's latest stats message and when it came.
  stats: null,
  statsAt: -Infinity,
  // When the channel last brought anything (opened, an update, stats).
  heardAt: -Infinity,
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
  // The view's settings ride on the URL, so the first frame already comes at them.
  const asked = new URLSearchParams({ quality: quality.value, max_fps: maxFps.value }).toString();
  const ws = new WebSocket(`${scheme}://${location.host}/ws/video?${asked}`);
  ws.binaryType = 'arraybuffer';
  video.ws = ws;
  // A choice made while the channel was still opening is not in its URL: send it now.
  ws.addEventListener('open', () => {
    video.heardAt = performance.now();
    if (new URLSearchParams({ quality: quality.value, max_fps: maxFps.value }).toString() !== asked) sendView();
  });
  // Updates are decoded as they arrive but drawn one after the other, in arrival order:
  // `queue` is the promise of the previous update having been drawn. `whole` says a whole
  // frame was drawn on this channel (changed areas apply to it); `broken` that one could not
  // be applied, so nothing after it may be drawn either.
  const channel = { ws, queue: Promise.resolve(), whole: false, drew: false, broken: false };
  ws.addEventListener('message', (e) => {
    if (video.ws === ws) video.heardAt = performance.now();
    if (typeof e.data === 'string') {
      onVideoText(e.data);
      return;
    }
    const update = decodeUpdate(e.data);
    channel.queue = channel.queue.then(() => applyUpdate(channel, update));
  });
  ws.addEventListener('close', () => {
    channel.broken = true;
    if (video.ws !== ws) return;
    video.ws = null;
    // While kv itself is unreachable, /ws's reconnection restarts the video when it is back.
    if (!link.ws || link.ws.readyState !== WebSocket.OPEN) return;
    if (!channel.drew) video.fails += 1;
    if (video.fails >= VIDEO_FAILS_MAX) {
      useStream();
      return;
    }
    setTimeout(() => { if (!video.ws && !video.fallback) restartVideo(); }, RECONNECT_MIN_MS * 2 ** video.fails);
  });
}

function onVideoText(data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return; // Nothing else comes as text on this channel.
  }
  if (msg.type === 'error') notice(`kv video: ${msg.message}`);
  else if (msg.type === 'stats') {
    video.stats = msg;
    video.statsAt = performance.now();
    showStats();
  }
}

/** Parses one binary message and starts decoding its JPEG at once (the draw waits its
 *  turn). Resolves to { kind, seq, width, height, bitmap?, spans? } or { error }. */
async function decodeUpdate(buf) {
  if (buf.byteLength < VIDEO_HEADER) return { error: `a ${buf.byteLength}-byte message` };
  const h = new DataView(buf);
  const update = {
    kind: h.getUint8(0),
    seq: Number(h.getBigUint64(4)),
    width: h.getUint32(20),
    height: h.getUint32(24),
  };
  let jpegAt = VIDEO_HEADER;
  if (update.kind === VIDEO_KIND_AREAS) {
    if (buf.byteLength < VIDEO_HEADER + SPANS_HEADER) return { ...update, error: 'changed areas without spans' };
    const mw = h.getUint16(28);
    const mh = h.getUint16(30);
    const n = h.getUint16(32);
    jpegAt = VIDEO_HEADER + SPANS_HEADER + n * SPAN_BYTES;
    if (buf.byteLength < jpegAt) return { ...update, error: `${n} spans in a ${buf.byteLength}-byte message` };
    update.spans = [];
    for (let i = 0, at = VIDEO_HEADER + SPANS_HEADER; i < n; i += 1, at += SPAN_BYTES) {
      // Pixels: cut (sx, sy, w, mh) out of the decoded JPEG, draw it at (dx, dy).
      update.spans.push({
        dx: h.getUint16(at) * mw,
        dy: h.getUint16(at + 2) * mh,
        w: h.getUint16(at + 4) * mw,
        h: mh,
        sx: h.getUint16(at + 6) * mw,
        sy: h.getUint16(at + 8) * mh,
      });
    }
  } else if (update.kind !== VIDEO_KIND_FRAME) {
    return update; // kind 3 (unchanged) and kinds this page does not know: nothing to decode
  }
  try {
    update.bitmap = await createImageBitmap(new Blob([new Uint8Array(buf, jpegAt)], { type: 'image/jpeg' }));
  } catch (err) {
    update.error = `JPEG does not decode (${err.message})`;
  }
  return update;
}

/** Draws one decoded update (its turn has come), then acknowledges it: kv sends more only
 *  then. An update that cannot be applied breaks the channel, which is reopened. */
async function applyUpdate(channel, pending) {
  const u = await pending;
  try {
    if (channel.broken || video.ws !== channel.ws) return;
    const problem = u.error || drawUpdate(channel, u);
    if (problem) {
      // Every later update builds on this one: start over with a whole frame.
      channel.broken = true;
      console.warn(`kv video: update ${u.seq}: ${problem}; reopening the channel`);
      channel.ws.close();
      return;
    }
    if (u.kind === VIDEO_KIND_FRAME || u.kind === VIDEO_KIND_AREAS || (u.kind === VIDEO_KIND_SAME && channel.whole)) {
      channel.drew = true;
      video.fails = 0;
      video.drawn += 1;
      video.kinds[u.kind] += 1;
      canvas.dataset.seq = u.seq; // what the canvas shows, for the tests and the curious
    }
    // Kinds this page does not know are acknowledged too, or kv would wait for ever.
    if (channel.ws.readyState === WebSocket.OPEN) channel.ws.send(JSON.stringify({ type: 'ack', seq: u.seq }));
  } finally {
    if (u.bitmap) u.bitmap.close();
  }
}

/** Puts one update on the canvas; returns what is wrong with it, if something is. */
function drawUpdate(channel, u) {
  if (u.kind === VIDEO_KIND_FRAME) {
    if (canvas.width !== u.bitmap.width || canvas.height !== u.bitmap.height) {
      canvas.width = u.bitmap.width;
      canvas.height = u.bitmap.height;
    }
    canvas2d.drawImage(u.bitmap, 0, 0);
    channel.whole = true;
  } else if (u.kind === VIDEO_KIND_AREAS) {
    if (!channel.whole) return 'changed areas before a whole frame';
    if (u.width !== canvas.width || u.height !== canvas.height) {
      return `changed areas for ${u.width}×${u.height} on a ${canvas.width}×${canvas.height} picture`;
    }
    const bw = u.bitmap.width;
    const bh = u.bitmap.height;
    for (const s of u.spans) {
      // Clipped to the picture (the last MCU column and row may stick out) and to the JPEG.
      const w = Math.min(s.w, canvas.width - s.dx, bw - s.sx);
      const h = Math.min(s.h, canvas.height - s.dy, bh - s.sy);
      if (w > 0 && h > 0) canvas2d.drawImage(u.bitmap, s.sx, s.sy, w, h, s.dx, s.dy, w, h);
    }
  }
  return '';
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
    showStats();
    return;
  }
  const now = performance.now();
  const seconds = Math.max(1, now - video.countedAt) / 1000;
  const fps = (video.drawn - video.counted) / seconds;
  video.counted = video.drawn;
  video.countedAt = now;
  setPill($('view-pill'), `canvas · ${fps.toFixed(1)} fps`, video.ws ? 'ok' : 'warn');
  const k = video.kinds;
  video.page = { fps, whole: k[1] / seconds, areas: k[2] / seconds, same: k[3] / seconds };
  video.kinds = { 1: 0, 2: 0, 3: 0 };
  showStats();
}

document.addEventListener('visibilitychange', restartVideo);
img.addEventListener('error', () => {
  if (img.getAttribute('src')) setTimeout(restartVideo, 2000);
});
setInterval(showViewRate, 1000);

// ---- quality, frame-rate cap and the stats overlay -----------------------------------

const quality = $('quality');
const maxFps = $('max-fps');
const statsBox = $('stats');
const statsToggle = $('stats-toggle');

/** Sets a <select> to a remembered value if it is one of its options. */
function restoreChoice(select, key) {
  let saved = null;
  try {
    saved = localStorage.getItem(key);
  } catch {
    // Storage can be refused (privacy settings): the default it is.
  }
  if (saved !== null && [...select.options].some((o) => o.value === saved)) select.value = saved;
}

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not remembered, still applied.
  }
}

restoreChoice(quality, STORE_QUALITY);
restoreChoice(maxFps, STORE_MAX_FPS);

/** Tells kv the view's settings; a reconnect sends them on its URL instead. */
function sendView() {
  remember(STORE_QUALITY, quality.value);
  remember(STORE_MAX_FPS, maxFps.value);
  const ws = video.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const q = /^\d+$/.test(quality.value) ? Number(quality.value) : quality.value;
  ws.send(JSON.stringify({ type: 'view', quality: q, max_fps: Number(maxFps.value) }));
}
quality.addEventListener('change', sendView);
maxFps.addEventListener('change', sendView);

function setStatsShown(shown) {
  statsBox.hidden = !shown;
  statsToggle.setAttribute('aria-pressed', String(shown));
  remember(STORE_STATS, shown ? '1' : '0');
  showStats();
}
statsToggle.addEventListener('click', () => setStatsShown(statsBox.hidden));
try {
  if (localStorage.getItem(STORE_STATS) === '1') setStatsShown(true);
} catch {
  // Off, the default.
}

/** kv's bytes per second as a person reads a link's speed. */
function formatRate(bytesPerS) {
  if (bytesPerS >= 125000) return `${((bytesPerS * 8) / 1e6).toFixed(2)} Mbit/s`;
  return `${(bytesPerS / 1000).toFixed(1)} kB/s`;
}

function showStats() {
  if (statsBox.hidden) return;
  const lines = [];
  if (video.fallback) {
    lines.push(['MJPEG stream', 'no stats on this path']);
  } else {
    const s = video.stats;
    if (s && performance.now() - video.statsAt < STATS_STALE_MS) {
      lines.push(['kv sends', `${formatRate(s.bytes_per_s)} · ${Number(s.updates_per_s).toFixed(1)} updates/s`]);
      lines.push(['latency', typeof s.latency_ms === 'number' ? `${Math.round(s.latency_ms)} ms` : '—']);
      // Under Auto, `quality` is what kv picked; `auto` says kv picks.
      const q = s.auto && s.quality !== 'auto' ? `${s.quality} (auto)` : `${s.quality}`;
      lines.push(['quality', `${q}${s.max_fps ? ` · cap ${s.max_fps} fps` : ''}`]);
    } else {
      lines.push(['kv sends', 'no stats from kv']);
    }
    const p = video.page;
    if (p) {
      lines.push(['drawn', `${p.fps.toFixed(1)} updates/s`]);
      lines.push(['kinds/s', `whole ${p.whole.toFixed(1)} · areas ${p.areas.toFixed(1)} · same ${p.same.toFixed(1)}`]);
    }
  }
  statsBox.replaceChildren(...lines.map(([name, value]) => {
    const row = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = name;
    dd.textContent = value;
    row.append(dt, dd);
    return row;
  }));
}

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
  $('video-pill').title = `Video ${v.device || ''} ${v.format || ''}`;
  if (typeof v.viewers === 'number') {
    // This page is one of them; more means someone else is watching (or typing) too.
    const others = v.viewers - 1;
    setPill($('viewers-pill'), others > 0 ? `${v.viewers} viewers` : 'only you watch', others > 0 ? 'warn' : 'ok');
  }

  const hid = s.hid || {};
  const [usb, usbLevel, usbWhy] = usbWords(hid);
  setPill($('hid-pill'), usb, usbLevel);
  $('hid-pill').title = usbWhy;
  const net = s.network;
  $('net-pill').hidden = !net;
  if (net) {
    const dhcp = net.dnsmasq ? (net.dnsmasq.running ? 'DHCP on' : 'DHCP stopped') : 'no DHCP';
    setPill($('net-pill'), `USB network ${net.address || net.interface} · ${dhcp}`,
      !net.dnsmasq || net.dnsmasq.running ? 'ok' : 'bad');
  }
  pasteProgress(hid.paste_queued || 0);
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
  fillSelect(layout, (hid.layouts || []).map((l) => [l, layoutName(l)]), layout.dataset.chosen ? layout.value : hid.layout);
  // settings.js shows kv's settings from it.
  document.dispatchEvent(new CustomEvent('kv-status', { detail: s }));
}

// The layouts kv knows (status hid.layouts), as people call them.
const LAYOUT_NAMES = { us: 'English (US)', uk: 'English (UK)', de: 'German', fr: 'French', es: 'Spanish', it: 'Italian' };
const layoutName = (code) => LAYOUT_NAMES[code] || code;

/** The target's USB port in words: [pill text, level, what to do]. `udc` is the USB
 *  controller's state (kv's own gadget, --gadget); without it only `online` is known. */
function usbWords(hid) {
  const words = {
    configured: ['USB: target connected', 'ok', 'The target has taken kv as its keyboard and mouse'],
    'not attached': ['USB: cable not connected', 'bad', 'No computer on the board\'s USB port: check the cable to the target'],
    suspended: ['USB: target asleep', 'warn', 'The target suspended the USB port (sleep); a key press may wake it'],
    unbound: ['USB: gadget unbound', 'bad', 'Something unbound kv\'s USB gadget from the controller; restart kv'],
  };
  if (hid.udc) {
    return words[hid.udc] || [`USB: ${hid.udc}`, hid.online ? 'ok' : 'warn', `The USB controller reports "${hid.udc}"`];
  }
  return hid.online ? ['USB: keyboard ready', 'ok', 'The target reads kv\'s keyboard and mouse']
    : ['USB: target not reading', 'warn', 'The target does not read kv\'s keyboard and mouse: is it on and the cable in?'];
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

// The way out of the picture for keyboard users (Tab, Shift+Tab and Esc all go to the
// target): Ctrl+Alt+Shift, as in Guacamole. Shown in the hint and documented in the README.
const isModifier = (code) => /^(Control|Alt|Shift|Meta)(Left|Right)$/.test(code);

/** Ctrl+Alt+Shift held, the last of them just pressed: keyboard focus leaves the
 *  picture for the toolbar, and the modifiers already sent are released on the target. */
function leaveChord(e) {
  return isModifier(e.code) && e.ctrlKey && e.altKey && e.shiftKey && !e.metaKey;
}

function leavePicture() {
  releaseAll(true);
  $('fullscreen').focus();
  echo('Keyboard left the picture: Tab moves between the controls');
}

view.addEventListener('keydown', (e) => {
  e.preventDefault();
  // The target auto-repeats by itself; the browser's repeats would double it.
  if (e.repeat || e.isComposing || !e.code || e.code === 'Unidentified') return;
  if (leaveChord(e)) {
    leavePicture();
    return;
  }
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

/** Presses `codes` together and releases them in reverse order: a chord. True when sent. */
function sendChord(codes) {
  if (!codes.every((code) => send({ type: 'key', code, down: true }))) return false;
  for (const code of [...codes].reverse()) send({ type: 'key', code, down: false });
  return true;
}

let echoTimer = 0;
/** A short line in the toolbar saying what was just sent (or not). */
function echo(text) {
  const el = $('echo');
  el.textContent = text;
  clearTimeout(echoTimer);
  echoTimer = setTimeout(() => { el.textContent = ''; }, 2500);
}

/** A button that sent something lights up for a moment. */
function flash(button) {
  button.classList.add('flash');
  setTimeout(() => button.classList.remove('flash'), 300);
}

for (const button of document.querySelectorAll('[data-keys]')) {
  button.addEventListener('click', () => {
    if (sendChord(button.dataset.keys.split(' '))) {
      flash(button);
      echo(`Sent ${button.textContent}`);
    } else {
      echo(`${button.textContent} NOT sent: no connection to kv`);
    }
    $('shortcuts').open = false;
    view.focus();
  });
}
$('release').addEventListener('click', () => {
  releaseAll(true);
  echo('Released every key and button');
});

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
  if (e.pointerType === 'touch' && !pointer.relative) touchDown(e);
  else onPointer(e);
});

// ---- touch: tap = click, long press = right click, drag, two fingers scroll and zoom ---

const LONG_PRESS_MS = 500;
// A finger that moves less than this is still a tap (or a long press).
const TAP_SLOP_PX = 10;
// Two fingers moving together this far is one wheel notch.
const SCROLL_NOTCH_PX = 30;
// `mode`: '' (no finger), 'pending' (one finger, not yet a tap, drag or long press),
// 'drag' (left button held), 'right' (the long press clicked right), 'multi' (two fingers).
const touch = { points: new Map(), mode: '', timer: 0, start: null, pinch: null };

/** Where (x, y) of the window falls on the target's screen, 0..ABS_MAX. */
function absAt(x, y) {
  const b = contentBox();
  return {
    x: Math.round(clamp01((x - b.left) / b.width) * ABS_MAX),
    y: Math.round(clamp01((y - b.top) / b.height) * ABS_MAX),
  };
}

/** Moves the target's pointer to the window's (x, y) with `buttons` held. */
function touchAbs(x, y, buttons) {
  const at = absAt(x, y);
  pointer.x = at.x;
  pointer.y = at.y;
  pointer.buttons = buttons;
  sendAbs();
}

function pinchOf() {
  const [a, b] = [...touch.points.values()];
  const r = view.getBoundingClientRect();
  return { d: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2 - r.left, y: (a.y + b.y) / 2 - r.top };
}

function touchDown(e) {
  touch.points.set(e.pointerId, { x: e.clientX, y: e.clientY });
  if (touch.points.size === 1) {
    touch.mode = 'pending';
    touch.start = { x: e.clientX, y: e.clientY };
    clearTimeout(touch.timer);
    touch.timer = setTimeout(() => {
      if (touch.mode !== 'pending') return;
      touch.mode = 'right';
      touchAbs(touch.start.x, touch.start.y, 0);
      touchAbs(touch.start.x, touch.start.y, 2);
      touchAbs(touch.start.x, touch.start.y, 0);
      echo('Right click');
      if (navigator.vibrate) navigator.vibrate(20);
    }, LONG_PRESS_MS);
  } else if (touch.points.size === 2) {
    clearTimeout(touch.timer);
    if (touch.mode === 'drag') touchAbs(touch.start.x, touch.start.y, 0);
    touch.mode = 'multi';
    const p = pinchOf();
    touch.pinch = { d: p.d, y: p.y, scale: zoom.scale, wheel: 0 };
  }
}

function touchMove(e) {
  if (!touch.points.has(e.pointerId)) return;
  touch.points.set(e.pointerId, { x: e.clientX, y: e.clientY });
  if (touch.mode === 'pending') {
    if (Math.hypot(e.clientX - touch.start.x, e.clientY - touch.start.y) < TAP_SLOP_PX) return;
    clearTimeout(touch.timer);
    touch.mode = 'drag';
    touchAbs(touch.start.x, touch.start.y, 0);
    touchAbs(touch.start.x, touch.start.y, 1);
  }
  if (touch.mode === 'drag') {
    touchAbs(e.clientX, e.clientY, 1);
  } else if (touch.mode === 'multi' && touch.points.size === 2) {
    const p = pinchOf();
    // Fingers apart or together zoom the picture here; moving together scrolls the target.
    if (touch.pinch.d > 0 && Math.abs(p.d / touch.pinch.d - 1) > 0.08) setZoom(touch.pinch.scale * (p.d / touch.pinch.d), p.x, p.y);
    touch.pinch.wheel += p.y - touch.pinch.y;
    touch.pinch.y = p.y;
    const notches = Math.trunc(touch.pinch.wheel / SCROLL_NOTCH_PX);
    if (notches) {
      touch.pinch.wheel -= notches * SCROLL_NOTCH_PX;
      // Fingers moving down pull the content down: scroll up, as on the phone itself.
      send({ type: 'wheel', dx: 0, dy: notches });
    }
  }
}

function touchUp(e) {
  if (!touch.points.delete(e.pointerId)) return;
  clearTimeout(touch.timer);
  if (touch.mode === 'pending' && e.type === 'pointerup') {
    // A tap: arrive, press, release where it landed.
    touchAbs(touch.start.x, touch.start.y, 0);
    touchAbs(touch.start.x, touch.start.y, 1);
    touchAbs(touch.start.x, touch.start.y, 0);
  } else if (touch.mode === 'drag') {
    touchAbs(e.clientX, e.clientY, 0);
  }
  if (touch.points.size === 0) touch.mode = '';
  else if (touch.mode !== 'multi') touch.mode = 'multi';
}
/** Raw deltas where the browser has them: the target applies its own acceleration. */
function lockPointer() {
  const ignore = () => {};
  const locking = view.requestPointerLock({ unadjustedMovement: true });
  if (locking && locking.catch) locking.catch(() => Promise.resolve(view.requestPointerLock()).catch(ignore));
}

for (const type of ['pointermove', 'pointerup', 'pointercancel']) {
  view.addEventListener(type, (e) => {
    if (e.pointerType === 'touch' && !pointer.relative) {
      if (type === 'pointermove') touchMove(e);
      else touchUp(e);
    } else {
      onPointer(e);
    }
  });
}
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
  else if (locked) hint.textContent = 'Pointer locked: Esc unlocks it';
  else if (document.activeElement === view) hint.textContent = 'Keys go to the target · Ctrl+Alt+Shift leaves the picture';
  else hint.textContent = 'Click the screen (or Tab to it) to type into the target';
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
    await $('app').requestFullscreen();
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

// ---- fit or 1:1, pinch zoom ------------------------------------------------------------

const STORE_SCALE = 'kv.scale';
const zoom = { scale: 1, x: 0, y: 0 };

/** Fit (the whole picture in the view) or 1:1 (pixel for pixel, scrolled when bigger). */
function setActualSize(actual) {
  view.classList.toggle('actual', actual);
  $('scale').setAttribute('aria-pressed', String(actual));
  $('scale').title = actual ? 'Pixel for pixel: press to fit the picture to the window'
    : 'Fitted to the window: press to show it pixel for pixel (1:1)';
  setZoom(1, 0, 0);
  remember(STORE_SCALE, actual ? '1:1' : 'fit');
}
$('scale').addEventListener('click', () => setActualSize(!view.classList.contains('actual')));
try {
  if (localStorage.getItem(STORE_SCALE) === '1:1') setActualSize(true);
} catch {
  // Fit, the default.
}

/** Zooms the picture by `scale` around (x, y) of the view (pinch on a touch screen).
 *  The mouse mapping measures the transformed picture, so clicks still land right. */
function setZoom(scale, x, y) {
  zoom.scale = Math.min(4, Math.max(1, scale));
  zoom.x = x;
  zoom.y = y;
  const t = zoom.scale === 1 ? '' : `translate(${x}px, ${y}px) scale(${zoom.scale}) translate(${-x}px, ${-y}px)`;
  canvas.style.transform = t;
  img.style.transform = t;
}

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

// ---- paste ---------------------------------------------------------------------------
// A paste is checked first ({"check":true}: kv says what the layout cannot type, typing
// nothing); characters it cannot type are shown before anything is typed, with the choice
// to stop. While kv types, the status's hid.paste_queued shows the progress; "Stop typing"
// sends release, which stops a paste on kv.

// `phase`: '' (idle), 'checking', 'asking', 'typing'.
const paste = { phase: '', text: '', layout: '', chars: 0, most: 0, started: 0, poll: 0 };

function setPasteOpen(open) {
  $('paste').hidden = !open;
  $('paste-toggle').setAttribute('aria-pressed', String(open));
  if (open) $('paste-text').focus();
}
$('paste-toggle').addEventListener('click', () => setPasteOpen($('paste').hidden));

$('paste').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('paste-text').value;
  if (!text || paste.phase === 'checking' || paste.phase === 'typing') return;
  paste.text = text;
  paste.layout = $('layout').value;
  paste.chars = [...text].length;
  $('paste-ask').hidden = true;
  const msg = { type: 'paste', text, check: true };
  if (paste.layout) msg.layout = paste.layout;
  if (send(msg)) {
    paste.phase = 'checking';
    $('paste-result').value = 'Checking what the layout can type…';
  } else {
    $('paste-result').value = 'Not typed: no connection to kv. It types once the connection is back and you press Type it again.';
  }
});
$('paste-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('paste').requestSubmit();
});
$('layout').addEventListener('change', () => { $('layout').dataset.chosen = '1'; });

function pasteReply(msg) {
  if (msg.check && paste.phase === 'checking') {
    if (msg.skipped) {
      paste.phase = 'asking';
      const shown = [...msg.skipped].map((c) => (c === '…' ? 'and more' : `“${c}”`)).join(' ');
      $('paste-ask-text').textContent = `The ${layoutName(paste.layout)} layout cannot type ${shown}. ` +
        'Typing the rest leaves them out, which breaks a password. Choose another layout above, or:';
      $('paste-ask').hidden = false;
      $('paste-result').value = '';
      $('paste-keep').focus();
    } else {
      typePaste();
    }
  } else if (msg.skipped) {
    $('paste-result').value = `Left out, the layout cannot type them: ${[...msg.skipped].join(' ')}`;
  }
}

function typePaste() {
  $('paste-ask').hidden = true;
  const msg = { type: 'paste', text: paste.text };
  if (paste.layout) msg.layout = paste.layout;
  if (!send(msg)) {
    paste.phase = '';
    $('paste-result').value = 'Not typed: the connection to kv was lost';
    return;
  }
  paste.phase = 'typing';
  paste.most = 0;
  paste.started = performance.now();
  $('paste-progress').value = 0;
  $('paste-progress').hidden = false;
  $('paste-cancel').hidden = false;
  $('paste-go').disabled = true;
  $('paste-result').value = `Typing ${paste.chars} characters…`;
  // Status pushes come when the status changes: a short paste may be done before one.
  clearInterval(paste.poll);
  paste.poll = setInterval(fetchStatus, 1000);
}

/** Follows kv's count of keystrokes still to type (status hid.paste_queued). */
function pasteProgress(queued) {
  if (paste.phase !== 'typing') return;
  paste.most = Math.max(paste.most, queued);
  if (queued > 0) {
    $('paste-progress').value = 1 - queued / paste.most;
    $('paste-result').value = `Typing ${paste.chars} characters… about ${Math.round(100 * (1 - queued / paste.most))} % done`;
    return;
  }
  // Nothing queued: done, unless this status is older than the paste itself.
  if (paste.most === 0 && performance.now() - paste.started < 500) return;
  pasteFinished(`Typed ${paste.chars} characters ✓`);
}

function pasteFinished(text) {
  paste.phase = '';
  clearInterval(paste.poll);
  $('paste-progress').hidden = true;
  $('paste-cancel').hidden = true;
  $('paste-go').disabled = false;
  $('paste-result').value = text;
}

$('paste-cancel').addEventListener('click', () => {
  send({ type: 'release' });
  const done = paste.most ? Math.round(100 * $('paste-progress').value) : 0;
  pasteFinished(`Stopped: about ${done} % of ${paste.chars} characters were typed`);
});
$('paste-anyway').addEventListener('click', typePaste);
$('paste-keep').addEventListener('click', () => {
  paste.phase = '';
  $('paste-ask').hidden = true;
  $('paste-result').value = 'Nothing typed';
  $('paste-text').focus();
});

updateHint();
connect();
fetchStatus();
showViewRate();

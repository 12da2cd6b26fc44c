// kv's web UI in a real headless Chromium against a running `kv --demo` (see ./run).
// It drives the page the way a person would (keyboard, mouse, touch, buttons) and checks
// the result on the simulated target (GET /api/demo/screen) and on the wire (the page's
// WebSocket frames), not only in the DOM.
//
// Env: KV_URL (http://127.0.0.1:PORT), KV_ARTIFACTS (folder for screenshots),
// CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.KV_URL;
if (!base) throw new Error('KV_URL is not set: start kv --demo and point KV_URL at it (./run does both)');
const artifacts = process.env.KV_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'kv-browser-'));
const ABS_MAX = 32767;

let browser;
let page;
const pageErrors = [];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something truthy. */
async function until(probe, what, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function get(route) {
  const r = await fetch(base + route, { cache: 'no-store' });
  assert.equal(r.status, 200, `GET ${route}: HTTP ${r.status}`);
  return r;
}
const demoScreen = async () => (await get('/api/demo/screen')).text();

/** Opens the UI in a new page, recording every message it sends to kv: input on /ws in
 *  `sent`, frame acks on /ws/video in `acks`. */
async function openUi(context) {
  const p = await context.newPage();
  p.sent = [];
  p.acks = [];
  p.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    // HTTP errors are recorded below with their URL (a missing favicon is fine).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
  });
  p.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) pageErrors.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  p.on('websocket', (ws) => ws.on('framesent', (f) => {
    const into = new URL(ws.url()).pathname === '/ws/video' ? p.acks : p.sent;
    try {
      into.push(JSON.parse(f.payload));
    } catch {
      into.push({ unparsed: String(f.payload) });
    }
  }));
  p.response = await p.goto(`${base}/`);
  await p.waitForFunction(() => document.getElementById('ws-pill').dataset.level === 'ok', null, { timeout: 10000 });
  return p;
}

/** Messages the page sent from index `mark` on, optionally of one type. */
const sentSince = (p, mark, type) => p.sent.slice(mark).filter((m) => !type || m.type === type);

/** The picture's box inside the canvas (object-fit: contain), computed here independently. */
const contentBox = (p) => p.evaluate(() => {
  const screen = document.getElementById('screen');
  const r = screen.getBoundingClientRect();
  const s = Math.min(r.width / screen.width, r.height / screen.height);
  const width = screen.width * s;
  const height = screen.height * s;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height, element: { left: r.left, width: r.width } };
});

/** Waits until the page has drawn and acknowledged a frame on its canvas. */
const firstFrame = (p) => until(() => p.acks.length > 0, 'a frame drawn and acknowledged');

/** Copies what the page shows (its canvas, or `id`) into a canvas: luma variance (blank =
 *  0) and a hash of every pixel. */
const frameSample = (p, id = 'screen') => p.evaluate((id) => {
  const shown = document.getElementById(id);
  const canvas = document.createElement('canvas');
  canvas.width = shown.naturalWidth || shown.width;
  canvas.height = shown.naturalHeight || shown.height;
  const g = canvas.getContext('2d');
  g.drawImage(shown, 0, 0);
  const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  let sum2 = 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < d.length; i += 4) {
    const y = (d[i] * 299 + d[i + 1] * 587 + d[i + 2] * 114) / 1000;
    sum += y;
    sum2 += y * y;
    hash = Math.imul(hash ^ ((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]), 0x01000193) >>> 0;
  }
  const n = d.length / 4;
  return { width: canvas.width, height: canvas.height, mean: sum / n, variance: sum2 / n - (sum / n) ** 2, hash };
}, id);

/** Playwright key names (KeyboardEvent.code, with Shift+ where needed) for US text. */
function usKeys(text) {
  const named = { ' ': 'Space', ',': 'Comma', '.': 'Period', '!': 'Shift+Digit1', '\n': 'Enter' };
  return [...text].map((c) => {
    if (/[a-z]/.test(c)) return `Key${c.toUpperCase()}`;
    if (/[A-Z]/.test(c)) return `Shift+Key${c}`;
    if (/[0-9]/.test(c)) return `Digit${c}`;
    if (named[c]) return named[c];
    throw new Error(`usKeys: no key for ${JSON.stringify(c)}`);
  });
}

before(async () => {
  // launch() gives Chromium a fresh temporary --user-data-dir of its own.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page = await openUi(desktop);
});

after(async () => {
  if (browser) await browser.close();
});

test('the page loads under a strict CSP and connects its WebSocket', async () => {
  assert.equal(await page.title(), 'kv');
  // kv serves its pages with a CSP: then the UI runs with no inline script, style or handler
  // (a violation would show up as a console error, checked at the end).
  const csp = (await page.response.allHeaders())['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/, `Content-Security-Policy of /: "${csp}"`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, 'no unsafe-inline or unsafe-eval');
  assert.match(await page.textContent('#ws-pill'), /connected/);
  for (const id of ['fullscreen', 'screenshot', 'mouse-mode', 'mode', 'release', 'paste-text', 'layout']) {
    assert.ok(await page.isVisible(`#${id}`), `#${id} is visible`);
  }
});

test('the video shows non-blank frames on the canvas, acknowledging each', async () => {
  await firstFrame(page);
  assert.equal(await page.getAttribute('#stream', 'src'), null, 'no MJPEG stream beside the channel');
  const frame = await frameSample(page);
  const status = await (await get('/api/status')).json();
  assert.equal(frame.width, status.video.width, 'frame width matches /api/status');
  assert.equal(frame.height, status.video.height, 'frame height matches /api/status');
  assert.ok(frame.variance > 20, `frame has detail (luma variance ${frame.variance.toFixed(1)}, mean ${frame.mean.toFixed(1)})`);
  const mark = page.acks.length;
  await until(() => page.acks.length >= mark + 5, 'five more acknowledgements');
  const seqs = page.acks.slice(mark).map((a) => a.seq);
  assert.ok(page.acks.every((a) => a.type === 'ack'), 'only acks on /ws/video');
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `acked sequences increase: ${seqs}`);
  await until(async () => /^canvas · \d+\.\d fps$/.test(await page.textContent('#view-pill')), 'the canvas rate pill');
});

test('without the video channel the page falls back to /stream', async () => {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  // A network that lets no /ws/video through: each try closes at once, without a frame.
  await context.addInitScript(() => {
    window.WebSocket = new Proxy(window.WebSocket, {
      construct(Real, args) {
        if (!String(args[0]).endsWith('/ws/video')) return new Real(...args);
        const stub = new EventTarget();
        Object.assign(stub, { readyState: Real.CLOSED, send() {}, close() {} });
        setTimeout(() => stub.dispatchEvent(new Event('close')), 10);
        return stub;
      },
    });
  });
  const p = await openUi(context);
  await p.waitForFunction(() => document.getElementById('stream').naturalWidth > 0, null, { timeout: 15000 });
  assert.ok(await p.isVisible('#stream') && !(await p.isVisible('#screen')), 'the <img> shows instead of the canvas');
  assert.ok((await frameSample(p, 'stream')).variance > 20, 'the stream shows the picture');
  assert.equal(await p.textContent('#view-pill'), 'MJPEG stream');
  await context.close();
});

test('the status shows resolution, fps, HID and the resolution menu', async () => {
  const status = await (await get('/api/status')).json();
  // The rate is measured over whole seconds and pushed when it changes, so
  // right after the page connects it may still read 0.0: wait for a measure.
  let text;
  const pill = await until(async () => {
    text = await page.textContent('#video-pill');
    return /^\d+×\d+ · \d+\.\d fps$/.test(text) && parseFloat(text.split('·')[1]) > 0 && text;
  }, 'the video pill to show resolution and a measured fps > 0', 10000).catch((e) => {
    throw new Error(`${e.message}; last shown "${text}"`);
  });
  assert.ok(pill.startsWith(`${status.video.width}×${status.video.height} `), `video pill "${pill}"`);
  assert.match(await page.textContent('#hid-pill'), /^HID (online|offline)$/);
  const modes = await page.$$eval('#mode option', (os) => os.map((o) => o.value));
  assert.equal(modes.length, status.video.modes.length, `menu lists every mode: ${modes.join(', ')}`);
  assert.equal(await page.inputValue('#mode'), `${status.video.width}x${status.video.height}@${status.video.fps}`);
  const layouts = await page.$$eval('#layout option', (os) => os.map((o) => o.value));
  assert.deepEqual(layouts, status.hid.layouts);
});

test("keys typed into the page appear on the target's screen, and the picture changes", async () => {
  const before = await frameSample(page);
  const mark = page.sent.length;
  await page.focus('#view');
  const text = 'Hello, World!';
  for (const key of usKeys(text)) await page.keyboard.press(key);
  const screen = await until(async () => {
    const s = await demoScreen();
    return s.includes(text) && s;
  }, `"${text}" on GET /api/demo/screen`).catch(async (e) => {
    throw new Error(`${e.message}; screen is ${JSON.stringify(await demoScreen())}`);
  });
  assert.ok(screen.includes(text));
  const keys = sentSince(page, mark, 'key');
  assert.deepEqual(keys.slice(0, 4), [
    { type: 'key', code: 'ShiftLeft', down: true },
    { type: 'key', code: 'KeyH', down: true },
    { type: 'key', code: 'KeyH', down: false },
    { type: 'key', code: 'ShiftLeft', down: false },
  ]);
  await until(async () => (await frameSample(page)).hash !== before.hash, 'the picture to change after typing');
  await page.screenshot({ path: path.join(artifacts, 'kv-desktop.png') });
});

test('key repeats are not forwarded and blur releases everything', async () => {
  await page.focus('#view');
  let mark = page.sent.length;
  await page.keyboard.down('KeyX');
  await page.keyboard.down('KeyX'); // Playwright marks this one event.repeat
  await page.keyboard.up('KeyX');
  await until(() => sentSince(page, mark, 'key').length >= 2, 'key messages');
  assert.deepEqual(sentSince(page, mark, 'key').map((m) => `${m.code}:${m.down}`), ['KeyX:true', 'KeyX:false']);

  mark = page.sent.length;
  await page.keyboard.down('ShiftLeft');
  await page.focus('#paste-text');
  await page.keyboard.up('ShiftLeft');
  await until(() => sentSince(page, mark, 'release').length === 1, 'a release message on blur');
  assert.deepEqual(sentSince(page, mark).map((m) => m.type), ['key', 'release']);
});

test('absolute mouse is measured on the picture, not on the letterboxed element', async () => {
  const box = await contentBox(page);
  assert.ok(box.width < box.element.width - 2, 'the test viewport letterboxes the picture');
  const expect = (px, py) => ({
    x: Math.round(((px - box.left) / box.width) * ABS_MAX),
    y: Math.round(((py - box.top) / box.height) * ABS_MAX),
  });
  const near = (got, want, what) => {
    assert.ok(Math.abs(got.x - want.x) <= 2 && Math.abs(got.y - want.y) <= 2,
      `${what}: sent (${got.x}, ${got.y}), expected (${want.x}, ${want.y})`);
  };

  let mark = page.sent.length;
  const cx = box.left + box.width / 2;
  const cy = box.top + box.height / 2;
  await page.mouse.click(cx, cy);
  await until(() => {
    const abs = sentSince(page, mark, 'abs');
    return abs.length >= 2 && abs.at(-1).buttons === 0;
  }, 'press and release');
  const clicks = sentSince(page, mark, 'abs');
  assert.deepEqual(clicks.map((m) => m.buttons).slice(-2), [1, 0], 'left button down then up');
  near(clicks.at(-1), expect(cx, cy), 'centre');
  assert.ok(Math.abs(clicks.at(-1).x - ABS_MAX / 2) < 30, 'centre is half of 32767');

  mark = page.sent.length;
  await page.mouse.move(box.left + 1, box.top + 1);
  await until(() => sentSince(page, mark, 'abs').length > 0, 'a move to the top-left corner');
  near(sentSince(page, mark, 'abs').at(-1), expect(box.left + 1, box.top + 1), 'top-left corner');

  mark = page.sent.length;
  await page.mouse.move(box.left + box.width - 1, box.top + box.height - 1);
  await until(() => sentSince(page, mark, 'abs').length > 0, 'a move to the bottom-right corner');
  near(sentSince(page, mark, 'abs').at(-1), expect(box.left + box.width - 1, box.top + box.height - 1), 'bottom-right corner');

  mark = page.sent.length;
  await page.mouse.move((box.element.left + box.left) / 2, cy); // in the left letterbox
  await sleep(200);
  assert.deepEqual(sentSince(page, mark, 'abs'), [], 'moves over the letterbox are not sent');

  mark = page.sent.length;
  await page.mouse.move(cx, cy);
  await page.mouse.wheel(0, 100); // one notch towards the user: down
  await page.mouse.wheel(0, -200);
  await until(() => sentSince(page, mark, 'wheel').length === 2, 'two wheel messages');
  assert.deepEqual(sentSince(page, mark, 'wheel').map((m) => [m.dx, m.dy]), [[0, -1], [0, 2]]);
});

test('relative mouse locks the pointer and sends deltas', async () => {
  const box = await contentBox(page);
  await page.click('#mouse-mode');
  assert.equal(await page.getAttribute('#mouse-mode', 'aria-pressed'), 'true');
  await page.mouse.move(box.left + 100, box.top + 100);
  await page.mouse.down(); // this click only takes the lock
  await page.mouse.up();
  await page.waitForFunction(() => document.pointerLockElement === document.getElementById('view'));
  const mark = page.sent.length;
  await page.mouse.move(box.left + 120, box.top + 90);
  await sleep(50);
  await page.mouse.move(box.left + 150, box.top + 100);
  await page.mouse.down();
  await page.mouse.up();
  await until(() => sentSince(page, mark, 'rel').length >= 4, 'relative moves and a click');
  assert.deepEqual(sentSince(page, mark, 'rel').map((m) => [m.dx, m.dy, m.buttons]), [[20, -10, 0], [30, 10, 0], [0, 0, 1], [0, 0, 0]]);
  assert.deepEqual(sentSince(page, mark, 'abs'), []);
  // What Esc does for a person (synthetic key events do not reach the browser's own Esc).
  await page.evaluate(() => document.exitPointerLock());
  await page.waitForFunction(() => document.pointerLockElement === null);
  // The hint follows the pointerlockchange event, which may come a moment later.
  await until(async () => /lock the pointer/.test(await page.textContent('#hint')), 'the lock-the-pointer hint');
  await page.click('#mouse-mode');
  assert.equal(await page.getAttribute('#mouse-mode', 'aria-pressed'), 'false');
});

test('fullscreen shows the screen alone', async () => {
  await page.click('#fullscreen');
  await page.waitForFunction(() => document.fullscreenElement === document.getElementById('view'));
  const img = await page.$eval('#screen', (e) => [e.clientWidth, e.clientHeight, innerWidth, innerHeight]);
  assert.deepEqual(img.slice(0, 2), img.slice(2), 'the image fills the window');
  await page.evaluate(() => document.exitFullscreen()); // what Esc does for a person
  await page.waitForFunction(() => document.fullscreenElement === null);
  // The label follows the fullscreenchange event, which may come a moment later.
  await until(async () => (await page.textContent('#fullscreen')) === 'Fullscreen',
    'the button to read "Fullscreen" again');
});

test('the shortcut buttons send whole chords', async () => {
  const mark = page.sent.length;
  await page.click('button[data-keys="ControlLeft AltLeft Delete"]');
  await until(() => sentSince(page, mark, 'key').length === 6, 'six key messages');
  assert.deepEqual(sentSince(page, mark, 'key').map((m) => `${m.code}:${m.down ? 'down' : 'up'}`), [
    'ControlLeft:down', 'AltLeft:down', 'Delete:down', 'Delete:up', 'AltLeft:up', 'ControlLeft:up',
  ]);
});

test('the screenshot button downloads a JPEG', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#screenshot')]);
  assert.match(download.suggestedFilename(), /^kv-\d{8}-\d{6}\.jpg$/);
  const saved = path.join(artifacts, download.suggestedFilename());
  await download.saveAs(saved);
  const bytes = fs.readFileSync(saved);
  assert.ok(bytes.length > 100, `snapshot is ${bytes.length} bytes`);
  assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8], 'starts with SOI (FFD8)');
  assert.deepEqual([...bytes.subarray(-2)], [0xff, 0xd9], 'ends with EOI (FFD9)');
});

test('the paste box types text through kv', async () => {
  const text = 'pasted 42.';
  await page.fill('#paste-text', text);
  await page.click('#paste button[type=submit]');
  await until(async () => (await demoScreen()).includes(text), `"${text}" on the demo screen`);
  assert.match(await page.textContent('#paste-result'), /Typing 10 characters/);
});

test('the paste box names the characters the layout cannot type', async () => {
  await page.selectOption('#layout', 'us');
  await page.fill('#paste-text', 'ok€');
  await page.click('#paste button[type=submit]');
  await until(async () => /Could not type/.test(await page.textContent('#paste-result')), 'the skipped characters');
  assert.match(await page.textContent('#paste-result'), /€/);
  await until(async () => (await demoScreen()).includes('ok'), '"ok" on the demo screen');
});

test('Caps Lock on the target lights the Caps pill', async () => {
  const lit = () => page.$eval('#led-caps', (e) => e.classList.contains('on'));
  const before = await lit();
  await page.focus('#view');
  await page.keyboard.press('CapsLock');
  await until(async () => (await lit()) !== before, 'the Caps LED to toggle');
  await page.keyboard.press('CapsLock');
  await until(async () => (await lit()) === before, 'the Caps LED to toggle back');
});

test('the resolution menu switches mode and the stream follows', async (t) => {
  const status = await (await get('/api/status')).json();
  const current = `${status.video.width}x${status.video.height}@${status.video.fps}`;
  const other = status.video.modes.map((m) => `${m.width}x${m.height}@${m.fps}`).find((m) => m !== current);
  if (!other) return t.skip(`only one mode: ${current}`);
  const width = Number(other.split('x')[0]);
  await page.selectOption('#mode', other);
  await page.waitForFunction((w) => document.getElementById('screen').width === w, width, { timeout: 10000 });
  await until(async () => (await page.inputValue('#mode')) === other, 'the menu to show the new mode');
  await page.selectOption('#mode', current);
  await page.waitForFunction((w) => document.getElementById('screen').width === w, status.video.width, { timeout: 10000 });
});

test('Windows AltGr drops the fake ControlLeft; macOS Cmd-up releases all', async () => {
  const fake = async (platform) => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    await context.addInitScript((p) => {
      Object.defineProperty(Navigator.prototype, 'platform', { get: () => p });
      Object.defineProperty(Navigator.prototype, 'userAgentData', { get: () => undefined });
    }, platform);
    const p = await openUi(context);
    await p.focus('#view');
    return p;
  };

  const win = await fake('Win32');
  let mark = win.sent.length;
  await win.keyboard.down('ControlLeft');
  await win.keyboard.down('AltRight');
  await win.keyboard.up('AltRight');
  await win.keyboard.up('ControlLeft');
  await win.keyboard.down('ControlLeft'); // a real Ctrl, then C after the AltGr window
  await sleep(120);
  await win.keyboard.press('KeyC');
  await win.keyboard.up('ControlLeft');
  await until(() => sentSince(win, mark, 'key').length === 6, 'six key messages');
  assert.deepEqual(sentSince(win, mark, 'key').map((m) => `${m.code}:${m.down ? 'down' : 'up'}`), [
    'AltRight:down', 'AltRight:up', 'ControlLeft:down', 'KeyC:down', 'KeyC:up', 'ControlLeft:up',
  ]);
  await win.context().close();

  const mac = await fake('MacIntel');
  mark = mac.sent.length;
  await mac.keyboard.down('MetaLeft');
  await mac.keyboard.down('KeyV');
  await mac.keyboard.up('MetaLeft'); // macOS would never send KeyV's keyup
  await until(() => sentSince(mac, mark, 'release').length === 1, 'a release after Cmd-up');
  await mac.keyboard.up('KeyV');
  await mac.context().close();
});

test('on a phone, a tap is a click where it landed', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const p = await openUi(phone);
  await firstFrame(p);
  const box = await contentBox(p);
  const mark = p.sent.length;
  await p.touchscreen.tap(box.left + box.width / 4, box.top + box.height / 2);
  await until(() => sentSince(p, mark, 'abs').length >= 3, 'move, press and release');
  const abs = sentSince(p, mark, 'abs');
  assert.deepEqual(abs.map((m) => m.buttons), [0, 1, 0]);
  for (const m of abs) {
    assert.ok(Math.abs(m.x - ABS_MAX / 4) < 200 && Math.abs(m.y - ABS_MAX / 2) < 200, `tap at (${m.x}, ${m.y})`);
  }
  await p.screenshot({ path: path.join(artifacts, 'kv-phone.png'), fullPage: true });
  await phone.close();
});

/** Starts an upload of `total` bytes over a raw socket, sends `sent` of them, vanishes. */
function vanishingUpload(name, total, sent) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () => {
      sock.write(`PUT /api/images/${name} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Length: ${total}\r\n\r\n`);
      sock.write(Buffer.alloc(sent, 0x61), () => { sock.destroy(); resolve(); });
    });
    sock.on('error', reject);
  });
}

test('the media panel uploads with progress, resumes, attaches, ejects and deletes', async () => {
  const images = async () => (await get('/api/images')).json();
  await page.waitForSelector('#media:not([hidden])');
  const MiB = 1 << 20;
  const bytes = Buffer.alloc(3 * MiB);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
  bytes.fill(0x61, 0, MiB); // what the vanished upload sent
  await vanishingUpload('ui.img', bytes.length, MiB);
  await until(async () => (await images()).partial.some((p) => p.name === 'ui.img' && p.size === MiB && !p.uploading),
    'the interrupted upload to be listed as partial');

  const puts = [];
  page.on('request', (r) => { if (r.method() === 'PUT') puts.push(r.url()); });
  await page.setInputFiles('#media-file', { name: 'ui.img', mimeType: 'application/octet-stream', buffer: bytes });
  assert.equal(await page.inputValue('#media-name'), 'ui.img');
  await page.click('#media-upload');
  await page.waitForFunction(() => /uploaded ui\.img/.test(document.getElementById('media-rate').textContent), null, { timeout: 20000 });
  assert.deepEqual(puts.map((u) => new URL(u).search), [`?offset=${MiB}`], 'the upload resumed where kv stopped');
  assert.equal(await page.evaluate(() => document.getElementById('media-progress').value), bytes.length);
  const listed = await images();
  assert.deepEqual(listed.images.map((i) => [i.name, i.size]), [['ui.img', bytes.length]]);
  assert.deepEqual(listed.partial, []);
  if (process.env.KV_IMAGES) {
    assert.ok(fs.readFileSync(path.join(process.env.KV_IMAGES, 'ui.img')).equals(bytes), 'the stored image is the file');
  }

  const row = 'tr[data-name="ui.img"]';
  assert.match(await page.textContent('#media-drive'), /simulated/);
  await page.click(`${row} >> text=CD-ROM`);
  await page.waitForSelector(`${row}.attached`);
  assert.deepEqual((await images()).attached, { name: 'ui.img', mode: 'cdrom' });
  await page.locator('#media').screenshot({ path: path.join(artifacts, 'kv-media.png') });
  await page.click(`${row} >> text=Eject`);
  await page.waitForSelector(`${row}:not(.attached)`);
  assert.equal((await images()).attached, null);

  page.once('dialog', (d) => d.accept());
  await page.click(`${row} >> text=Delete`);
  await page.waitForSelector(row, { state: 'detached' });
  assert.deepEqual((await images()).images, []);
});

test('no page errors, console errors or CSP violations', () => {
  assert.deepEqual(pageErrors, []);
  console.log(`# screenshots in ${artifacts}`);
});

// Takes the README's screenshots of kv's UI: a 1366x768 desktop and a 390x844 touch phone,
// as the window shows them (no full-page stitching), into docs/screenshots/.
//
//   KV_URL=http://127.0.0.1:3000 node tests/browser/screenshots.mjs after
//
// against a running `kv --demo` (the argument names the files: desktop-after.png, ...).
// Env: CHROMIUM (default /usr/bin/chromium), KV_SCREENSHOTS (default docs/screenshots).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const base = process.env.KV_URL;
const tag = process.argv[2];
if (!base || !tag) {
  console.error('usage: KV_URL=http://127.0.0.1:PORT node screenshots.mjs TAG   (TAG: before, after, ...)');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.KV_SCREENSHOTS || path.join(here, '..', '..', 'docs', 'screenshots');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  chromiumSandbox: false,
  args: ['--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const shots = [
    ['desktop', { viewport: { width: 1366, height: 768 } }],
    ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }],
  ];
  for (const [name, options] of shots) {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    await page.goto(`${base}/`);
    // A picture drawn on the canvas, or the MJPEG fallback showing one.
    await page.waitForFunction(() => document.getElementById('screen').dataset.seq
      || document.getElementById('stream').naturalWidth > 0, null, { timeout: 15000 });
    await page.waitForTimeout(1500); // status pills and the frame rate settle
    const file = path.join(out, `${name}-${tag}.png`);
    await page.screenshot({ path: file });
    console.log(file);
    await context.close();
  }
} finally {
  await browser.close();
}

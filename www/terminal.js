// The serial console panel: a small VT100/ANSI terminal of kv's own over /ws/serial
// (raw bytes both ways, docs/API.md). Enough for a login prompt, a shell, and a
// bootloader menu: cursor movement and addressing, erase line/screen, insert/delete
// lines and characters, a scroll region, SGR colours (16, 256, RGB), bold, underline and
// reverse, tabs, DEC line drawing, the alternate screen, bracketed paste, and the two
// reports programs ask for (cursor position, device attributes). Keys become the bytes a
// VT220 sends; the selection copies as text. A serial line carries no window size, so the
// panel shows its own and the `stty` line that tells the target. Shown only when kv runs
// with --serial (the status's `serial` object).
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const toggle = byId('serial-toggle');
  const panel = byId('serial');
  const screenEl = byId('serial-screen');
  const sizeEl = byId('serial-size');
  const stateEl = byId('serial-state');
  if (!toggle || !panel || !screenEl) return;

  const SCROLLBACK_LINES = 1000;
  const TAB = 8;
  // DEC special graphics (ESC ( 0): the line drawing GRUB, dialog and menuconfig use.
  const LINE_DRAWING = {
    '`': '◆', a: '▒', f: '°', g: '±', j: '┘', k: '┐', l: '┌', m: '└', n: '┼', o: '⎺',
    p: '⎻', q: '─', r: '⎼', s: '⎽', t: '├', u: '┤', v: '┴', w: '┬', x: '│', y: '≤',
    z: '≥', '{': 'π', '|': '≠', '}': '£', '~': '·', 0: '█',
  };
  const PALETTE = ['#000000', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc', '#11a8cd', '#e5e5e5',
    '#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];

  /** The colour of 256-colour index `n`, as CSS. */
  function color256(n) {
    if (n < 16) return PALETTE[n];
    if (n < 232) {
      const v = (k) => (k === 0 ? 0 : 55 + k * 40);
      const i = n - 16;
      return `rgb(${v(Math.floor(i / 36))},${v(Math.floor(i / 6) % 6)},${v(i % 6)})`;
    }
    const g = 8 + (n - 232) * 10;
    return `rgb(${g},${g},${g})`;
  }

  const PLAIN = Object.freeze({ fg: null, bg: null, bold: false, underline: false, reverse: false });
  const blank = (attr) => ({ ch: ' ', attr });

  /** The screen: a grid of cells, the cursor, modes, and a parser fed with text. */
  class Screen {
    constructor(cols, rows, send) {
      this.send = send; // replies to the far end (reports)
      this.cols = cols;
      this.rows = rows;
      this.scrolledOff = []; // lines that left the top, for the scrollback
      this.reset();
    }

    reset() {
      this.lines = Array.from({ length: this.rows }, () => this.blankLine());
      this.x = 0; this.y = 0; this.wrapPending = false;
      this.attr = PLAIN;
      this.top = 0; this.bottom = this.rows - 1;
      this.modes = { appCursor: false, origin: false, autowrap: true, cursor: true, bracketedPaste: false };
      this.g = [false, false]; this.shift = 0; // G0/G1 are line drawing?
      this.saved = null;
      this.alt = null; // the main screen's lines while the alternate one shows
      this.state = 'ground'; this.params = ''; this.private = ''; this.pendingCharset = 0;
      this.dirty = true;
    }

    blankLine() { return Array.from({ length: this.cols }, () => blank(PLAIN)); }

    resize(cols, rows) {
      if (cols === this.cols && rows === this.rows) return;
      const fit = (line) => (line.length >= cols ? line.slice(0, cols)
        : line.concat(Array.from({ length: cols - line.length }, () => blank(PLAIN))));
      this.cols = cols;
      let lines = this.lines.map(fit);
      // Shrinking keeps the rows nearest the cursor's, growing adds blank rows below.
      while (lines.length > rows && lines.length - 1 > this.y) lines.pop();
      while (lines.length > rows) { this.scrolledOff.push(lines.shift()); this.y -= 1; }
      while (lines.length < rows) lines.push(this.blankLine());
      this.lines = lines;
      if (this.alt) this.alt.lines = this.alt.lines.slice(0, rows).map(fit);
      this.rows = rows;
      this.top = 0; this.bottom = rows - 1;
      this.x = Math.min(this.x, cols - 1); this.y = Math.max(0, Math.min(this.y, rows - 1));
      this.dirty = true;
    }

    /** Text as it came from the line (already decoded from UTF-8). */
    write(text) {
      for (const ch of text) this.feed(ch);
      this.dirty = true;
    }

    feed(ch) {
      const code = ch.codePointAt(0);
      switch (this.state) {
        case 'escape': return this.escape(ch);
        case 'csi': return this.csiByte(ch, code);
        case 'osc': // ignored up to BEL or ST (ESC \)
          if (code === 7) this.state = 'ground';
          else if (code === 0x1b) this.state = 'oscEscape';
          return undefined;
        case 'oscEscape': this.state = ch === '\\' ? 'ground' : 'osc'; return undefined;
        case 'charset':
          this.g[this.pendingCharset] = ch === '0';
          this.state = 'ground';
          return undefined;
        default:
      }
      if (code < 0x20 || code === 0x7f) return this.control(code);
      this.print(ch);
      return undefined;
    }

    control(code) {
      switch (code) {
        case 0x1b: this.state = 'escape'; break;
        case 0x0d: this.x = 0; this.wrapPending = false; break;
        case 0x0a: case 0x0b: case 0x0c: this.lineFeed(); break;
        case 0x08: if (this.x > 0) this.x -= 1; this.wrapPending = false; break;
        case 0x09: this.x = Math.min(this.cols - 1, (Math.floor(this.x / TAB) + 1) * TAB); break;
        case 0x0e: this.shift = 1; break;
        case 0x0f: this.shift = 0; break;
        default: // BEL, NUL and the rest: nothing to draw
      }
    }

    print(ch) {
      if (this.g[this.shift] && LINE_DRAWING[ch]) ch = LINE_DRAWING[ch];
      if (this.wrapPending) {
        this.x = 0;
        this.lineFeed();
      }
      this.lines[this.y][this.x] = { ch, attr: this.attr };
      if (this.x === this.cols - 1) this.wrapPending = this.modes.autowrap;
      else this.x += 1;
    }

    lineFeed() {
      this.wrapPending = false;
      if (this.y === this.bottom) this.scrollUp(1);
      else if (this.y < this.rows - 1) this.y += 1;
    }

    scrollUp(n) {
      for (let i = 0; i < n; i += 1) {
        const [gone] = this.lines.splice(this.top, 1);
        // Only the whole main screen's lines are worth keeping (not a menu's region).
        if (this.top === 0 && !this.alt) this.scrolledOff.push(gone);
        this.lines.splice(this.bottom, 0, this.blankLine());
      }
    }

    scrollDown(n) {
      for (let i = 0; i < n; i += 1) {
        this.lines.splice(this.bottom, 1);
        this.lines.splice(this.top, 0, this.blankLine());
      }
    }

    escape(ch) {
      this.state = 'ground';
      switch (ch) {
        case '[': this.state = 'csi'; this.params = ''; this.private = ''; break;
        case ']': this.state = 'osc'; break;
        case '(': this.state = 'charset'; this.pendingCharset = 0; break;
        case ')': this.state = 'charset'; this.pendingCharset = 1; break;
        case '7': this.saveCursor(); break;
        case '8': this.restoreCursor(); break;
        case 'D': this.lineFeed(); break;
        case 'E': this.x = 0; this.lineFeed(); break;
        case 'M': if (this.y === this.top) this.scrollDown(1); else if (this.y > 0) this.y -= 1; break;
        case 'c': this.reset(); break;
        default: // ESC = and ESC > (keypad modes) and the rest
      }
    }

    csiByte(ch, code) {
      if (code >= 0x30 && code <= 0x3f) {
        if ('?>=<'.includes(ch) && this.params === '') this.private = ch;
        else this.params += ch;
        return;
      }
      if (code >= 0x20 && code <= 0x2f) return; // intermediates: none used here
      this.state = 'ground';
      const p = this.params.split(';').map((s) => parseInt(s, 10));
      this.csi(ch, p, (i, dflt) => (Number.isFinite(p[i]) && p[i] > 0 ? p[i] : dflt));
    }

    csi(final, p, arg) {
      const clampY = (y) => Math.max(0, Math.min(this.rows - 1, y));
      const clampX = (x) => Math.max(0, Math.min(this.cols - 1, x));
      this.wrapPending = false;
      if (this.private === '?') {
        if (final === 'h' || final === 'l') p.forEach((m) => this.setMode(m, final === 'h'));
        return;
      }
      if (this.private) return;
      switch (final) {
        case 'A': this.y = Math.max(this.y < this.top ? 0 : this.top, this.y - arg(0, 1)); break;
        case 'B': case 'e': this.y = Math.min(this.y > this.bottom ? this.rows - 1 : this.bottom, this.y + arg(0, 1)); break;
        case 'C': case 'a': this.x = clampX(this.x + arg(0, 1)); break;
        case 'D': this.x = clampX(this.x - arg(0, 1)); break;
        case 'E': this.x = 0; this.y = clampY(this.y + arg(0, 1)); break;
        case 'F': this.x = 0; this.y = clampY(this.y - arg(0, 1)); break;
        case 'G': case '`': this.x = clampX(arg(0, 1) - 1); break;
        case 'd': this.y = clampY(arg(0, 1) - 1 + (this.modes.origin ? this.top : 0)); break;
        case 'H': case 'f':
          this.y = clampY(arg(0, 1) - 1 + (this.modes.origin ? this.top : 0));
          this.x = clampX(arg(1, 1) - 1);
          break;
        case 'J': this.eraseDisplay(p[0] || 0); break;
        case 'K': this.eraseLine(p[0] || 0); break;
        case 'L': case 'M':
          if (this.y >= this.top && this.y <= this.bottom) {
            const top = this.top;
            this.top = this.y;
            if (final === 'L') this.scrollDown(arg(0, 1)); else this.scrollUp(arg(0, 1));
            this.top = top;
            this.x = 0;
          }
          break;
        case 'P': { const line = this.lines[this.y]; line.splice(this.x, arg(0, 1)); this.fill(line); break; }
        case '@': {
          const line = this.lines[this.y];
          line.splice(this.x, 0, ...Array.from({ length: arg(0, 1) }, () => blank(this.attr)));
          line.length = this.cols;
          break;
        }
        case 'X': for (let i = 0; i < arg(0, 1) && this.x + i < this.cols; i += 1) this.lines[this.y][this.x + i] = blank(this.attr); break;
        case 'S': this.scrollUp(arg(0, 1)); break;
        case 'T': this.scrollDown(arg(0, 1)); break;
        case 'm': this.sgr(p); break;
        case 'r': {
          const top = arg(0, 1) - 1;
          const bottom = arg(1, this.rows) - 1;
          if (top < bottom && bottom < this.rows) { this.top = top; this.bottom = bottom; }
          this.x = 0; this.y = this.modes.origin ? this.top : 0;
          break;
        }
        case 's': this.saveCursor(); break;
        case 'u': this.restoreCursor(); break;
        case 'n':
          if (p[0] === 6) this.send(`\x1b[${this.y + 1 - (this.modes.origin ? this.top : 0)};${this.x + 1}R`);
          else if (p[0] === 5) this.send('\x1b[0n');
          break;
        case 'c': this.send('\x1b[?6c'); break; // a VT102
        default:
      }
    }

    fill(line) { while (line.length < this.cols) line.push(blank(this.attr)); }

    setMode(mode, on) {
      switch (mode) {
        case 1: this.modes.appCursor = on; break;
        case 6: this.modes.origin = on; this.x = 0; this.y = on ? this.top : 0; break;
        case 7: this.modes.autowrap = on; break;
        case 25: this.modes.cursor = on; break;
        case 2004: this.modes.bracketedPaste = on; break;
        case 47: case 1047: case 1049:
          if (on && !this.alt) {
            if (mode === 1049) this.saveCursor();
            this.alt = { lines: this.lines };
            this.lines = Array.from({ length: this.rows }, () => this.blankLine());
          } else if (!on && this.alt) {
            this.lines = this.alt.lines;
            this.alt = null;
            if (mode === 1049) this.restoreCursor();
          }
          break;
        default:
      }
    }

    saveCursor() { this.saved = { x: this.x, y: this.y, attr: this.attr, g: [...this.g], shift: this.shift }; }

    restoreCursor() {
      if (!this.saved) return;
      ({ x: this.x, y: this.y, attr: this.attr, shift: this.shift } = this.saved);
      this.g = [...this.saved.g];
      this.wrapPending = false;
    }

    eraseLine(how) {
      const line = this.lines[this.y];
      const [from, to] = how === 0 ? [this.x, this.cols] : how === 1 ? [0, this.x + 1] : [0, this.cols];
      for (let i = from; i < to; i += 1) line[i] = blank(this.attr);
    }

    eraseDisplay(how) {
      if (how === 3) { this.scrolledOff.length = 0; return; }
      const [from, to] = how === 0 ? [this.y + 1, this.rows] : how === 1 ? [0, this.y] : [0, this.rows];
      this.eraseLine(how === 2 ? 2 : how);
      for (let y = from; y < to; y += 1) this.lines[y] = this.lines[y].map(() => blank(this.attr));
    }

    sgr(p) {
      const a = { ...this.attr };
      for (let i = 0; i < p.length; i += 1) {
        const n = Number.isFinite(p[i]) ? p[i] : 0;
        if (n === 0) Object.assign(a, PLAIN);
        else if (n === 1) a.bold = true;
        else if (n === 4) a.underline = true;
        else if (n === 7) a.reverse = true;
        else if (n === 22) a.bold = false;
        else if (n === 24) a.underline = false;
        else if (n === 27) a.reverse = false;
        else if (n >= 30 && n <= 37) a.fg = PALETTE[n - 30];
        else if (n >= 90 && n <= 97) a.fg = PALETTE[n - 82];
        else if (n === 39) a.fg = null;
        else if (n >= 40 && n <= 47) a.bg = PALETTE[n - 40];
        else if (n >= 100 && n <= 107) a.bg = PALETTE[n - 92];
        else if (n === 49) a.bg = null;
        else if (n === 38 || n === 48) {
          let c = null;
          if (p[i + 1] === 5) { c = color256(p[i + 2] & 255); i += 2; }
          else if (p[i + 1] === 2) { c = `rgb(${p[i + 2] & 255},${p[i + 3] & 255},${p[i + 4] & 255})`; i += 4; }
          if (n === 38) a.fg = c; else a.bg = c;
        }
      }
      this.attr = Object.freeze(a);
    }

    /** The screen's text, one string per row (trailing blanks kept). */
    text() { return this.lines.map((line) => line.map((c) => c.ch).join('')); }
  }

  // --- drawing ---------------------------------------------------------------------------

  const scrollbackEl = document.createElement('div');
  const rowsEl = document.createElement('div');
  screenEl.append(scrollbackEl, rowsEl);

  function style(attr) {
    let fg = attr.fg; let bg = attr.bg;
    if (attr.reverse) { [fg, bg] = [bg || 'var(--term-bg)', fg || 'var(--term-fg)']; }
    const parts = [];
    if (fg) parts.push(`color:${fg}`);
    if (bg) parts.push(`background:${bg}`);
    if (attr.bold) parts.push('font-weight:bold');
    if (attr.underline) parts.push('text-decoration:underline');
    return parts.join(';');
  }

  /** One row as a div of runs of equal attributes; the cursor is its own span. */
  function rowElement(line, cursorX) {
    const row = document.createElement('div');
    row.className = 'term-row';
    let i = 0;
    while (i < line.length) {
      const attr = line[i].attr;
      let j = i + 1;
      if (i !== cursorX) while (j < line.length && j !== cursorX && line[j].attr === attr) j += 1;
      const span = document.createElement('span');
      span.textContent = line.slice(i, j).map((c) => c.ch).join('');
      const css = style(attr);
      // The page's own stylesheet is CSP-strict: style attributes are set through the DOM.
      if (css) span.style.cssText = css;
      if (i === cursorX) span.className = 'term-cursor';
      row.append(span);
      i = j;
    }
    return row;
  }

  let screen = null;
  let frame = 0;

  function draw() {
    frame = 0;
    if (!screen || !screen.dirty) return;
    const stick = screenEl.scrollTop + screenEl.clientHeight >= screenEl.scrollHeight - 4;
    for (const line of screen.scrolledOff.splice(0)) scrollbackEl.append(rowElement(line, -1));
    while (scrollbackEl.childElementCount > SCROLLBACK_LINES) scrollbackEl.firstElementChild.remove();
    const cursorVisible = screen.modes.cursor && document.activeElement === screenEl;
    rowsEl.replaceChildren(...screen.lines.map((line, y) => rowElement(line, cursorVisible && y === screen.y ? screen.x : -1)));
    screen.dirty = false;
    if (stick) screenEl.scrollTop = screenEl.scrollHeight;
  }

  function redraw() {
    if (screen) screen.dirty = true;
    if (!frame) frame = requestAnimationFrame(draw);
  }

  // --- size --------------------------------------------------------------------------------

  /** Columns and rows that fit the panel, from one character's measured size. */
  function fit() {
    const probe = document.createElement('span');
    probe.textContent = 'M'.repeat(10);
    rowsEl.append(probe);
    const { width, height } = probe.getBoundingClientRect();
    probe.remove();
    const style = getComputedStyle(screenEl);
    const innerW = screenEl.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const innerH = screenEl.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const cols = Math.max(20, Math.floor(innerW / (width / 10 || 8)));
    const rows = Math.max(5, Math.floor(innerH / (height || 16)));
    return [Math.min(cols, 500), Math.min(rows, 200)];
  }

  function resize() {
    if (panel.hidden) return;
    const [cols, rows] = fit();
    if (!screen) screen = new Screen(cols, rows, report);
    else screen.resize(cols, rows);
    sizeEl.textContent = `${cols}×${rows} — tell the target: stty rows ${rows} cols ${cols}`;
    redraw();
  }
  new ResizeObserver(resize).observe(screenEl);

  // --- the line ---------------------------------------------------------------------------

  const encoder = new TextEncoder();
  let decoder = new TextDecoder();
  let socket = null;
  let retry = 0;
  let retryTimer = 0;

  const showState = (text) => { stateEl.textContent = text; };

  // Whether this page typed since it connected: only the page someone types in answers
  // the far end's queries (cursor position, device attributes). Every page sees the same
  // output, and kv replays old output to a page that connects: answering those too would
  // type stray reports into the target.
  let typed = false;

  function send(bytes) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(bytes);
  }

  function type(text) {
    typed = true;
    send(encoder.encode(text));
  }

  function report(text) {
    if (typed && document.activeElement === screenEl && document.hasFocus()) send(encoder.encode(text));
  }

  function connect() {
    if (socket || panel.hidden) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/ws/serial`);
    socket.binaryType = 'arraybuffer';
    showState('connecting…');
    socket.addEventListener('open', () => {
      retry = 0;
      typed = false;
      showState('connected');
      // kv replays its recent output to a new client: start from a clean screen.
      decoder = new TextDecoder();
      screen.reset();
      scrollbackEl.replaceChildren();
      screen.scrolledOff.length = 0;
      redraw();
    });
    socket.addEventListener('message', (e) => {
      if (!(e.data instanceof ArrayBuffer)) return;
      screen.write(decoder.decode(new Uint8Array(e.data), { stream: true }));
      redraw();
    });
    socket.addEventListener('close', () => {
      socket = null;
      if (panel.hidden) return;
      retry = Math.min(retry + 1, 5);
      showState(`disconnected; retrying in ${retry} s`);
      retryTimer = setTimeout(connect, retry * 1000);
    });
  }

  function disconnect() {
    clearTimeout(retryTimer);
    if (socket) { const s = socket; socket = null; s.close(); }
  }

  // --- keys, paste, copy ------------------------------------------------------------------

  const CSI_KEYS = {
    ArrowUp: 'A', ArrowDown: 'B', ArrowRight: 'C', ArrowLeft: 'D', Home: 'H', End: 'F',
  };
  const TILDE_KEYS = {
    Insert: 2, Delete: 3, PageUp: 5, PageDown: 6, F5: 15, F6: 17, F7: 18, F8: 19, F9: 20, F10: 21, F11: 23, F12: 24,
  };
  const SS3_KEYS = { F1: 'P', F2: 'Q', F3: 'R', F4: 'S' };

  /** The bytes a VT220-ish terminal sends for a key, or null to leave it to the browser. */
  function keyBytes(e) {
    if (CSI_KEYS[e.key]) return (screen.modes.appCursor ? '\x1bO' : '\x1b[') + CSI_KEYS[e.key];
    if (TILDE_KEYS[e.key]) return `\x1b[${TILDE_KEYS[e.key]}~`;
    if (SS3_KEYS[e.key]) return `\x1bO${SS3_KEYS[e.key]}`;
    switch (e.key) {
      case 'Enter': return '\r';
      case 'Backspace': return e.ctrlKey ? '\x08' : '\x7f';
      case 'Tab': return e.shiftKey ? '\x1b[Z' : '\t';
      case 'Escape': return '\x1b';
      default:
    }
    if (e.ctrlKey && !e.altKey && !e.metaKey) {
      // Ctrl+Shift+C / Ctrl+Shift+V: the browser's copy and paste, as in terminals.
      if (e.shiftKey && (e.code === 'KeyC' || e.code === 'KeyV')) return null;
      // Ctrl+C with text selected copies it; Ctrl+V pastes (the paste event sends it).
      if (e.code === 'KeyC' && String(getSelection()).length > 0) return null;
      if (e.code === 'KeyV') return null;
      if (/^Key[A-Z]$/.test(e.code)) return String.fromCharCode(e.code.charCodeAt(3) - 64);
      const special = { BracketLeft: '\x1b', Backslash: '\x1c', BracketRight: '\x1d', Space: '\x00', Digit2: '\x00', Slash: '\x1f' };
      return special[e.code] || null;
    }
    if (e.metaKey || e.key.length !== 1 && [...e.key].length !== 1) return null;
    return (e.altKey ? '\x1b' : '') + e.key;
  }

  screenEl.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    const bytes = keyBytes(e);
    if (bytes === null) return;
    e.preventDefault();
    type(bytes);
  });

  screenEl.addEventListener('paste', (e) => {
    e.preventDefault();
    // A terminal pastes newlines as Enter (CR).
    let text = e.clipboardData.getData('text/plain').replace(/\r?\n/g, '\r');
    if (!text) return;
    if (screen.modes.bracketedPaste) text = `\x1b[200~${text.replaceAll('\x1b[201~', '')}\x1b[201~`;
    type(text);
  });

  // Focus shows the cursor; the toolbar's keyboard shortcuts stay with the picture.
  screenEl.addEventListener('focus', redraw);
  screenEl.addEventListener('blur', redraw);

  // --- the panel ---------------------------------------------------------------------------

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute('aria-pressed', String(open));
    if (open) {
      resize();
      connect();
      screenEl.focus();
    } else {
      disconnect();
      showState('closed');
    }
  }

  toggle.addEventListener('click', () => setOpen(panel.hidden));
  byId('serial-close').addEventListener('click', () => setOpen(false));

  document.addEventListener('kv-status', (e) => {
    const available = Boolean(e.detail && e.detail.serial);
    toggle.hidden = !available;
    if (!available && !panel.hidden) setOpen(false);
  });
})();

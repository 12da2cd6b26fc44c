//! The demo target's serial console: a tiny line-based shell behind a
//! simulated line, so the console page and `/ws/serial` can be tried
//! without hardware. It echoes what is typed as a terminal in cooked mode
//! would (backspace erases, Ctrl-C drops the line, Enter runs it) and
//! answers `echo`, `uname`, `help`, `clear`, `menu` (a boot menu drawn
//! the way GRUB draws one, to try the page's terminal on) and `size` (the
//! terminal's size, asked the way `resize` asks: the cursor sent far to the
//! bottom right, its position reported back).

use std::collections::VecDeque;
use std::io::{self, ErrorKind};

use super::Port;

const PROMPT: &[u8] = b"demo@kv:~$ ";
/// A line longer than this is cut: the shell never grows without bound.
const MAX_LINE: usize = 1024;
/// Output not yet read; beyond it the oldest goes (nothing reads it when
/// no viewer is connected... the console itself keeps the scrollback).
const MAX_OUTPUT: usize = 64 * 1024;

pub struct Shell {
    line: Vec<u8>,
    output: VecDeque<u8>,
    /// The last byte was CR: a following LF is the same Enter.
    after_cr: bool,
    /// An escape sequence coming from the terminal (keys, reports), from
    /// its ESC on: it is acted on or dropped whole, never echoed.
    sequence: Option<Vec<u8>>,
}

/// The longest escape sequence kept; a longer one is dropped.
const MAX_SEQUENCE: usize = 32;

impl Default for Shell {
    fn default() -> Shell {
        let mut shell = Shell {
            line: Vec::new(),
            output: VecDeque::new(),
            after_cr: false,
            sequence: None,
        };
        shell.say(b"\r\nkv demo target, serial console (type help)\r\n");
        shell.say(PROMPT);
        shell
    }
}

impl Shell {
    fn say(&mut self, bytes: &[u8]) {
        self.output.extend(bytes);
        let over = self.output.len().saturating_sub(MAX_OUTPUT);
        self.output.drain(..over);
    }

    fn typed(&mut self, byte: u8) {
        if let Some(mut sequence) = self.sequence.take() {
            sequence.push(byte);
            // ESC [ ... final byte (0x40..0x7E), or ESC and one byte.
            let done = match sequence.len() {
                2 => byte != b'[',
                _ => (0x40..=0x7e).contains(&byte),
            };
            if done {
                self.on_sequence(&sequence);
            } else if sequence.len() < MAX_SEQUENCE {
                self.sequence = Some(sequence);
            }
            return;
        }
        if byte == 0x1b {
            self.sequence = Some(vec![byte]);
            return;
        }
        let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                self.say(b"\r\n");
                let line = std::mem::take(&mut self.line);
                let answer = run(&String::from_utf8_lossy(&line));
                self.say(&answer);
                self.say(PROMPT);
            }
            // Backspace and DEL: erase the last character on screen.
            0x08 | 0x7f if self.line.pop().is_some() => self.say(b"\x08 \x08"),
            0x08 | 0x7f => {}
            // Ctrl-C.
            0x03 => {
                self.line.clear();
                self.say(b"^C\r\n");
                self.say(PROMPT);
            }
            // Other control bytes are not echoed.
            b if b < 0x20 => {}
            b if self.line.len() < MAX_LINE => {
                self.line.push(b);
                self.say(&[b]);
            }
            _ => {}
        }
    }
}

impl Shell {
    /// A whole escape sequence from the terminal: a cursor position report
    /// (`ESC [ ROW ; COL R`, the answer to `size`) is shown; keys such as
    /// the arrows do nothing here.
    fn on_sequence(&mut self, sequence: &[u8]) {
        let report = sequence
            .strip_prefix(b"\x1b[")
            .and_then(|s| s.strip_suffix(b"R"))
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.split_once(';'))
            .and_then(|(r, c)| Some((r.parse::<u16>().ok()?, c.parse::<u16>().ok()?)));
        if let Some((rows, cols)) = report {
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.say(format!("\r\nrows {rows} cols {cols}\r\n").as_bytes());
            self.say(PROMPT);
            self.say(line.as_bytes());
        }
    }
}

/// The answer to one command line.
fn run(line: &str) -> Vec<u8> {
    let line = line.trim();
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let text = match command {
        "" => String::new(),
        "echo" => format!("{}\r\n", expand(rest.trim())),
        "uname" if rest.trim() == "-a" => {
            "Linux demo 6.1.0-kv #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\r\n".into()
        }
        "uname" => "Linux\r\n".into(),
        "help" => "commands: echo TEXT, uname [-a], clear, menu, size, help\r\n".into(),
        // Home and erase the screen, as `clear` does on a VT100.
        "clear" => "\x1b[H\x1b[2J".into(),
        "menu" => boot_menu(),
        // Save the cursor, move it as far as it goes, ask where it is, restore.
        "size" => "\x1b7\x1b[999;999H\x1b[6n\x1b8".into(),
        other => format!("{other}: command not found\r\n"),
    };
    text.into_bytes()
}

/// A boot menu as a bootloader draws it on a serial line: cursor addressing,
/// DEC line drawing (`ESC ( 0`), the chosen entry in reverse video; the
/// cursor left below it.
fn boot_menu() -> String {
    const WIDTH: usize = 40;
    let entries = [
        "Debian GNU/Linux",
        "Advanced options for Debian",
        "UEFI Firmware Settings",
    ];
    let mut out = String::from("\x1b[H\x1b[2J\x1b[2;3H\x1b(0l");
    out += &"q".repeat(WIDTH);
    out += "k\x1b(B";
    for (i, entry) in entries.iter().enumerate() {
        let (on, off) = if i == 0 {
            ("\x1b[7m", "\x1b[0m")
        } else {
            ("", "")
        };
        out += &format!(
            "\x1b[{};3H\x1b(0x\x1b(B{on}{}{entry:<w$}{off}\x1b(0x\x1b(B",
            3 + i,
            if i == 0 { '*' } else { ' ' },
            w = WIDTH - 1
        );
    }
    out += &format!(
        "\x1b[{};3H\x1b(0m{}j\x1b(B",
        3 + entries.len(),
        "q".repeat(WIDTH)
    );
    out += &format!("\x1b[{};1H", 5 + entries.len());
    out
}

/// `$((A*B))`, `$((A+B))` and `$((A-B))`, as far as scripts testing the
/// console need a shell to compute something the sender did not type.
fn expand(text: &str) -> String {
    let Some(start) = text.find("$((") else {
        return text.to_string();
    };
    let Some(len) = text[start..].find("))") else {
        return text.to_string();
    };
    let expr = &text[start + 3..start + len];
    let value = [
        ('*', i64::checked_mul as fn(i64, i64) -> Option<i64>),
        ('+', i64::checked_add),
        ('-', i64::checked_sub),
    ]
    .into_iter()
    .find_map(|(op, f)| {
        let (a, b) = expr.split_once(op)?;
        f(a.trim().parse().ok()?, b.trim().parse().ok()?)
    });
    match value {
        Some(v) => format!("{}{v}{}", &text[..start], expand(&text[start + len + 2..])),
        None => text.to_string(),
    }
}

impl Port for Shell {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.output.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.output.len());
        for (slot, byte) in buf.iter_mut().zip(self.output.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &byte in buf {
            self.typed(byte);
        }
        Ok(buf.len())
    }

    fn name(&self) -> String {
        "demo".into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Serial;
    use super::*;

    fn everything(serial: &Serial, cursor: &mut u64) -> String {
        let mut out = Vec::new();
        loop {
            let since = serial.output_since(*cursor, 100);
            if since.bytes.is_empty() {
                return String::from_utf8(out).unwrap();
            }
            out.extend_from_slice(since.bytes);
            *cursor = since.next;
        }
    }

    #[test]
    fn test_shell_answers_through_the_console() {
        let mut serial = Serial::new(Box::new(Shell::default()));
        serial.pump();
        let mut cursor = serial.output_start();
        assert!(everything(&serial, &mut cursor).ends_with("demo@kv:~$ "));
        assert_eq!(serial.send(b"echo kv-$((6*7))\r"), 17);
        let out = everything(&serial, &mut cursor);
        assert_eq!(out, "echo kv-$((6*7))\r\nkv-42\r\ndemo@kv:~$ ");
        serial.send(b"uname\r\nbogus\n");
        let out = everything(&serial, &mut cursor);
        assert!(out.contains("uname\r\nLinux\r\n"), "{out:?}");
        assert!(out.contains("bogus: command not found"), "{out:?}");
        assert_eq!(out.matches("demo@kv:~$ ").count(), 2, "CR LF is one Enter");
    }

    /// What the shell says to `typed`.
    fn answer(shell: &mut Shell, typed: &[u8]) -> String {
        shell.write(typed).unwrap();
        let out: Vec<u8> = shell.output.drain(..).collect();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn test_shell_edits_the_line() {
        let mut shell = Shell::default();
        shell.output.clear();
        let out = answer(&mut shell, b"echo abx\x7fc\x03echo ok\r");
        assert!(out.contains("echo abx\x08 \x08c^C\r\n"), "{out:?}");
        assert!(out.ends_with("echo ok\r\nok\r\ndemo@kv:~$ "), "{out:?}");
        // An endless line is cut, not kept.
        shell.write(&[b'x'; MAX_LINE * 3]).unwrap();
        assert_eq!(shell.line.len(), MAX_LINE);
    }

    #[test]
    fn test_shell_menu_is_drawn_with_escapes() {
        let menu = String::from_utf8(run("menu")).unwrap();
        assert!(menu.starts_with("\x1b[H\x1b[2J"));
        assert!(menu.contains("\x1b[3;3H\x1b(0x\x1b(B\x1b[7m*Debian GNU/Linux"));
        assert_eq!(
            menu.matches("\x1b(0").count(),
            8,
            "corners and sides in line drawing"
        );
    }

    #[test]
    fn test_shell_size_from_the_terminals_report() {
        let mut shell = Shell::default();
        shell.output.clear();
        let asked = answer(&mut shell, b"size\r");
        assert!(asked.ends_with("\x1b7\x1b[999;999H\x1b[6n\x1b8demo@kv:~$ "));
        // Typing goes on meanwhile; an arrow key is dropped, the report shown.
        let out = answer(&mut shell, b"ec\x1b[Dho\x1b[24;80R");
        assert_eq!(out, "echo\r\nrows 24 cols 80\r\ndemo@kv:~$ echo");
        // A sequence that never ends is dropped, not kept.
        shell.write(&[0x1b, b'[']).unwrap();
        shell.write(&[b'1'; MAX_SEQUENCE * 2]).unwrap();
        assert!(shell
            .sequence
            .as_ref()
            .is_none_or(|s| s.len() < MAX_SEQUENCE));
    }

    #[test]
    fn test_shell_expand() {
        assert_eq!(expand("kv-$((6*7))"), "kv-42");
        assert_eq!(expand("$((1+2)) $((9-10))"), "3 -1");
        assert_eq!(expand("$((a*b))"), "$((a*b))");
        assert_eq!(
            expand("$((99999999999*99999999999))"),
            "$((99999999999*99999999999))"
        );
        assert_eq!(expand("$((1*2"), "$((1*2");
    }
}

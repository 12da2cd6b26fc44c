//! The serial console's two ends: `ws-serial`, a raw client of kv's
//! `/ws/serial` (binary messages both ways), and `tty-read`, the target's
//! end of the port (`/dev/ttyACM0`) read in raw mode.

use crate::http::Url;
use crate::Outcome;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Error, Message};

/// `\r`, `\n`, `\t`, `\\` and `\xHH` in a command-line argument, as bytes.
fn unescape(text: &str) -> Vec<u8> {
    let (mut out, bytes) = (Vec::new(), text.as_bytes());
    let mut i = 0;
    while i < bytes.len() {
        let (byte, len) = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'r')) => (b'\r', 2),
            (b'\\', Some(b'n')) => (b'\n', 2),
            (b'\\', Some(b't')) => (b'\t', 2),
            (b'\\', Some(b'\\')) => (b'\\', 2),
            (b'\\', Some(b'x')) => match text.get(i + 2..i + 4).map(|h| u8::from_str_radix(h, 16)) {
                Some(Ok(b)) => (b, 4),
                _ => (b'\\', 1),
            },
            (b, _) => (b, 1),
        };
        out.push(byte);
        i += len;
    }
    out
}

/// Bytes as one printable line (`\r`, `\n`, `\xHH` for the others).
fn escape(bytes: &[u8]) -> String {
    bytes.iter().flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect()
}

/// Connects to `url` (same-origin), sends each of `sends` as a binary
/// message, and reads until the output holds `want` ("-": nothing to wait
/// for) or `secs` pass. Prints `got WANT` and the output.
pub fn ws_serial(url: &str, secs: u64, want: &str, sends: &[&str]) -> Outcome {
    let parsed = Url::parse(url)?;
    let stream = parsed.connect(Duration::from_secs(5))?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let mut request = url.into_client_request().map_err(|e| format!("{url}: {e}"))?;
    let origin = format!("http://{}", parsed.authority());
    request
        .headers_mut()
        .insert("Origin", origin.parse().map_err(|_| "bad Origin")?);
    let (mut socket, _) =
        tungstenite::client(request, stream).map_err(|e| format!("{url}: handshake: {e}"))?;
    println!("connected");
    for send in sends {
        socket
            .send(Message::binary(unescape(send)))
            .map_err(|e| format!("{url}: sending {send}: {e}"))?;
        println!("sent {send}");
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut output = Vec::new();
    let found = |output: &[u8]| want == "-" || output.windows(want.len()).any(|w| w == want.as_bytes());
    while !found(&output) && Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Binary(bytes)) => output.extend_from_slice(&bytes),
            Ok(Message::Text(text)) => return Err(format!("{url}: a text message: {text}")),
            Ok(_) => {}
            Err(Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("{url}: {e}; output so far: {}", escape(&output))),
        }
    }
    let _ = socket.close(None);
    println!("output {}", escape(&output));
    if found(&output) {
        println!("got {want}");
        Ok(())
    } else {
        Err(format!("no {want:?} within {secs} s"))
    }
}

/// Opens the tty `dev` in raw mode and prints what arrives, a `read` line
/// per read, for `secs`.
pub fn tty_read(dev: &str, secs: u64) -> Outcome {
    let mut file = File::options()
        .read(true)
        .write(true)
        .custom_flags_noctty()
        .open(dev)
        .map_err(|e| format!("{dev}: {e}"))?;
    // SAFETY: plain termios calls on the descriptor just opened.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(file.as_raw_fd(), &mut t) != 0 {
            return Err(format!("{dev}: tcgetattr: {}", std::io::Error::last_os_error()));
        }
        libc::cfmakeraw(&mut t);
        t.c_cc[libc::VMIN] = 0;
        t.c_cc[libc::VTIME] = 2;
        libc::tcsetattr(file.as_raw_fd(), libc::TCSANOW, &t);
    }
    println!("listening on {dev}");
    let _ = std::io::stdout().flush();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match file.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                println!("read {}", escape(&buf[..n]));
                let _ = std::io::stdout().flush();
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{dev}: {e}")),
        }
    }
    Ok(())
}

trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}

impl NoCtty for std::fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_NOCTTY)
    }
}

//! Helpers for the integration tests: start the real `kv` binary on a free
//! loopback port and talk to it as real clients over TCP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;

/// A WebSocket to kv over plain TCP.
pub type Ws = tungstenite::WebSocket<TcpStream>;

pub struct Kv {
    child: Child,
    pub addr: String,
    /// The HTTPS address, when kv serves TLS (plain HTTP is then `addr`,
    /// from --http-port).
    pub tls_addr: Option<String>,
    /// kv's log lines up to and including the listening address.
    pub startup: Vec<String>,
    /// kv's log lines after those, as they arrive.
    pub log: mpsc::Receiver<String>,
    /// The --state-dir given to a kv started without one, removed at drop:
    /// no test writes to the machine's /var/lib/kv (the audit log, macros).
    own_state: Option<std::path::PathBuf>,
}

impl Kv {
    /// Starts `kv --demo` on 127.0.0.1 with an OS-chosen port, plus `args`.
    pub fn demo(args: &[&str]) -> Kv {
        Kv::start(&[&["--demo"], args].concat(), &[])
    }

    // The child is waited for in `Drop`, which clippy does not follow.
    #[allow(clippy::zombie_processes)]
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Kv {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let own_state = (!args.contains(&"--state-dir")).then(|| {
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::env::temp_dir().join(format!("kv-test-state-{}-{n}", std::process::id()))
        });
        let mut child = Command::new(kv_binary())
            .args(["-b", "127.0.0.1", "-p", "0"])
            .args(args)
            .args(
                own_state
                    .iter()
                    .flat_map(|dir| [std::ffi::OsStr::new("--state-dir"), dir.as_os_str()]),
            )
            .env_remove("KV_USER")
            .env_remove("KV_PASSWORD")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kv");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("kv| {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut tls_addr = None;
        let mut startup = Vec::new();
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("kv did not log its listening address within 10 s");
            startup.push(line.clone());
            if let Some(rest) = line.split("Listening on https://").nth(1) {
                tls_addr = Some(rest.trim().to_string());
            }
            if let Some(rest) = line.split("Listening on http://").nth(1) {
                let addr = rest.trim().to_string();
                return Kv {
                    child,
                    addr,
                    tls_addr,
                    startup,
                    log: rx,
                    own_state,
                };
            }
        }
    }

    /// A connection from loopback address `source` (127.0.0.N): kv counts
    /// connections and failed logins per address.
    pub fn connect_from(&self, source: [u8; 4]) -> TcpStream {
        let s = connect_from(&self.addr, source).expect("connect to kv");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(&self.addr).expect("connect to kv");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// One request on a fresh connection; returns (status, headers, body).
    pub fn request(&self, raw: &str) -> (u16, String, Vec<u8>) {
        let mut s = self.connect();
        s.write_all(raw.replace("{addr}", &self.addr).as_bytes())
            .unwrap();
        read_response(&mut s)
    }

    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.get_with(path, "")
    }

    /// A GET with `extra` header lines (each ending in CRLF).
    pub fn get_with(&self, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: {{addr}}\r\n{extra}Connection: close\r\n\r\n"
        ))
    }

    /// A request with a JSON body, plus `extra` header lines.
    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &str,
        extra: &str,
    ) -> (u16, String, Vec<u8>) {
        self.request(&format!(
            "{method} {path} HTTP/1.1\r\nHost: {{addr}}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Opens `/ws` with `Origin` (when given) and `headers`; a refused
    /// upgrade gives its HTTP status.
    pub fn ws(&self, origin: Option<&str>, headers: &[(&'static str, &str)]) -> Result<Ws, u16> {
        self.ws_at("/ws", origin, headers)
    }

    /// Opens the WebSocket at `path` (`/ws`, `/ws/video`), as `ws` does.
    pub fn ws_at(
        &self,
        path: &str,
        origin: Option<&str>,
        headers: &[(&'static str, &str)],
    ) -> Result<Ws, u16> {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            req.headers_mut().insert("Origin", origin.parse().unwrap());
        }
        for (name, value) in headers {
            req.headers_mut().insert(*name, value.parse().unwrap());
        }
        match tungstenite::client(req, self.connect()) {
            Ok((ws, _)) => Ok(ws),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                Err(r.status().as_u16())
            }
            Err(e) => panic!("handshake: {e}"),
        }
    }

    /// The typed text on the demo target, waiting up to 10 s for `want`;
    /// `extra` header lines authenticate when kv has a password.
    pub fn wait_screen(&self, extra: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, _, body) = self.get_with("/api/demo/screen", extra);
            assert_eq!(status, 200);
            let text = String::from_utf8(body).unwrap();
            if text.contains(want) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("kv did not exit within 5 s of SIGTERM");
    }

    /// SIGKILL (`kill -9`): kv gets no chance to finish anything.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Kv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.own_state {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads one response with a Content-Length body.
pub fn read_response(s: &mut impl Read) -> (u16, String, Vec<u8>) {
    let head = read_head(s);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body).expect("read body");
    (status, head, body)
}

/// Reads up to and including the blank line ending a head.
pub fn read_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("read head");
        head.push(byte[0]);
        assert!(head.len() < 64 * 1024, "head too long");
    }
    String::from_utf8(head).expect("head is UTF-8")
}

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// A `/stream` reader: yields each part's headers and JPEG bytes.
pub struct Stream {
    pub sock: TcpStream,
}

impl Stream {
    pub fn open(kv: &Kv) -> Stream {
        Stream::open_with(kv, "")
    }

    /// The same, with `extra` header lines (each ending in CRLF).
    pub fn open_with(kv: &Kv, extra: &str) -> Stream {
        let mut sock = kv.connect();
        write!(
            sock,
            "GET /stream HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
            kv.addr
        )
        .unwrap();
        let head = read_head(&mut sock);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(header(&head, "content-type")
            .unwrap()
            .starts_with("multipart/x-mixed-replace; boundary=kvframe"));
        let mut boundary = [0u8; 11];
        sock.read_exact(&mut boundary).unwrap();
        assert_eq!(&boundary, b"--kvframe\r\n");
        Stream { sock }
    }

    /// The next part: (part headers, JPEG bytes).
    pub fn next_part(&mut self) -> (String, Vec<u8>) {
        read_part(&mut self.sock)
    }
}

/// The next part of a `/stream` body over any transport (TCP, TLS), read
/// from just after a boundary line: (part headers, JPEG bytes).
pub fn read_part(sock: &mut impl Read) -> (String, Vec<u8>) {
    let head = read_head(sock);
    assert_eq!(header(&head, "content-type"), Some("image/jpeg"), "{head}");
    let len: usize = header(&head, "content-length").unwrap().parse().unwrap();
    let mut jpeg = vec![0; len + 13];
    sock.read_exact(&mut jpeg).unwrap();
    assert_eq!(
        &jpeg[len..],
        b"\r\n--kvframe\r\n",
        "boundary right after the frame"
    );
    jpeg.truncate(len);
    (head, jpeg)
}

/// Decodes a JPEG fully; returns its size.
pub fn decode_jpeg(jpeg: &[u8]) -> (u16, u16) {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    d.decode().expect("frame decodes as JPEG");
    let info = d.info().unwrap();
    (info.width, info.height)
}

/// The kv binary the tests start: this build's, or `KV_TEST_BIN` (e.g. an
/// older build, to show that a new test fails before its fix).
pub fn kv_binary() -> String {
    std::env::var("KV_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kv").to_string())
}

/// A TCP connection to `addr` (IPv4) from local address `source`; std has
/// no bind-before-connect.
#[allow(unsafe_code)]
pub fn connect_from(addr: &str, source: [u8; 4]) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let target: std::net::SocketAddrV4 = addr.parse().expect("an IPv4 address");
    let sockaddr = |ip: [u8; 4], port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor owned by the TcpStream
    // made from it (closed by it, or here on failure).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(source, 0);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sockaddr(target.ip().octets(), target.port());
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// A temporary folder, removed at drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kv-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `kv user ARGS` with `stdin` piped in (not a terminal: one line is read):
/// whether it succeeded, and what it printed.
pub fn kv_user(state_dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(kv_binary())
        .arg("user")
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal may come before kv reads its input: a closed pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

//! The attack list of docs/SECURITY.md, walked against the real `kv --demo`
//! binary over real TCP: each test is named after the attack it shows kv
//! withstanding.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{header, read_head, read_response, Kv};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

type Ws = tungstenite::WebSocket<TcpStream>;

/// "op:pw"
const OP_PW: &str = "Basic b3A6cHc=";
/// "op:px"
const OP_PX: &str = "Basic b3A6cHg=";

fn with_password() -> Kv {
    Kv::start(&["--demo"], &[("KV_USER", "op"), ("KV_PASSWORD", "pw")])
}

fn ws_connect(kv: &Kv, origin: Option<&str>, extra: &[(&'static str, &str)]) -> Result<Ws, u16> {
    let mut req = format!("ws://{}/ws", kv.addr)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        req.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    for (name, value) in extra {
        req.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tungstenite::client(req, kv.connect()) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            Err(r.status().as_u16())
        }
        Err(e) => panic!("handshake: {e}"),
    }
}

/// A POST with a JSON body; `extra` are whole header lines.
fn post(kv: &Kv, path: &str, body: &str, extra: &str) -> (u16, String, Vec<u8>) {
    kv.request(&format!(
        "POST {path} HTTP/1.1\r\nHost: {{addr}}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    ))
}

fn get_with(kv: &Kv, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    kv.request(&format!(
        "GET {path} HTTP/1.1\r\nHost: {{addr}}\r\n{extra}Connection: close\r\n\r\n"
    ))
}

/// Every log line kv printed so far.
fn drain_log(kv: &Kv) -> Vec<String> {
    std::iter::from_fn(|| kv.log.recv_timeout(Duration::from_millis(200)).ok()).collect()
}

/// The typed text on the demo target, waiting up to 10 s for `want`.
fn wait_screen(kv: &Kv, auth: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = get_with(kv, "/api/demo/screen", auth);
        assert_eq!(status, 200);
        let text = String::from_utf8(body).unwrap();
        if text.contains(want) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn type_word(ws: &mut Ws, word: &str) {
    for c in word.chars() {
        let code = format!("Key{}", c.to_ascii_uppercase());
        for down in [true, false] {
            ws.send(Message::text(format!(
                r#"{{"type":"key","code":"{code}","down":{down}}}"#
            )))
            .unwrap();
        }
    }
}

#[test]
fn test_attack_every_route_without_credentials_is_401() {
    let kv = with_password();
    let reads = [
        "/",
        "/index.html",
        "/app.js",
        "/style.css",
        "/session.js",
        "/stream",
        "/snapshot.jpg",
        "/api/status",
        "/api/session",
        "/api/demo/screen",
        "/ws",
        "/nope",
        "/../etc/passwd",
    ];
    for path in reads {
        let (status, head, _) = kv.get(path);
        assert_eq!(status, 401, "GET {path}");
        assert!(
            header(&head, "www-authenticate").is_some_and(|v| v.starts_with("Basic")),
            "{path}"
        );
        assert!(header(&head, "access-control-allow-origin").is_none());
    }
    for path in ["/api/video/mode", "/api/hid/release", "/api/hid/layout"] {
        assert_eq!(post(&kv, path, "{}", "").0, 401, "POST {path}");
    }
    // A browser opening the UI is sent to the login page, which alone is open.
    let (status, head, _) = get_with(&kv, "/", "Accept: text/html,*/*\r\n");
    assert_eq!(status, 303);
    assert_eq!(header(&head, "location"), Some("/login.html"));
    for path in ["/login.html", "/login.js", "/login.css"] {
        let (status, head, _) = kv.get(path);
        assert_eq!(status, 200, "{path}");
        let csp = header(&head, "content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&head, "referrer-policy"), Some("no-referrer"));
        assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    }
    // The right Basic credentials open every route.
    let auth = format!("Authorization: {OP_PW}\r\n");
    for path in ["/", "/app.js", "/api/status", "/api/demo/screen"] {
        assert_eq!(get_with(&kv, path, &auth).0, 200, "{path}");
    }
}

#[test]
fn test_attack_password_guessing_gets_growing_delays_and_429() {
    let kv = with_password();
    let wrong = format!("Authorization: {OP_PX}\r\n");
    let mut took = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let (status, _, _) = get_with(&kv, "/api/status", &wrong);
        took.push(start.elapsed());
        assert_eq!(status, 401);
    }
    eprintln!("wrong-password answers took {took:?}");
    assert!(took[0] >= Duration::from_millis(450), "{took:?}");
    assert!(took[1] >= Duration::from_millis(950), "{took:?}");
    assert!(took[2] >= Duration::from_millis(1950), "{took:?}");

    // A fourth guess is held 4 s; meanwhile the address is refused outright,
    // even with the right password, and kv serves everyone else.
    let mut slow = kv.connect();
    write!(
        slow,
        "GET /api/status HTTP/1.1\r\nHost: x\r\n{wrong}Connection: close\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let (status, head, _) = get_with(&kv, "/api/status", &format!("Authorization: {OP_PW}\r\n"));
    assert_eq!(status, 429);
    let retry: u64 = header(&head, "retry-after").unwrap().parse().unwrap();
    assert!((1..=4).contains(&retry), "Retry-After {retry}");
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "429 is at once"
    );
    let (status, _, _) = post(&kv, "/api/login", r#"{"user":"op","password":"pw"}"#, "");
    assert_eq!(status, 429, "login is locked out too");
    assert_eq!(read_response(&mut slow).0, 401);
    // Served out: the right password works again.
    assert_eq!(
        get_with(&kv, "/api/status", &format!("Authorization: {OP_PW}\r\n")).0,
        200
    );
    let log = drain_log(&kv).join("\n");
    assert!(log.contains("failed login (4 in a row)"), "{log}");
}

#[test]
fn test_attack_session_login_logout_and_cross_site_login() {
    let kv = with_password();
    let origin = format!("Origin: http://{}\r\n", kv.addr);
    // Cross-site: a form post, or JSON from a foreign page.
    let form = kv.request(&format!(
        "POST /api/login HTTP/1.1\r\nHost: {{addr}}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 19\r\nConnection: close\r\n\r\nuser=op&password=pw"
    ));
    assert_eq!(form.0, 415);
    let foreign = post(
        &kv,
        "/api/login",
        r#"{"user":"op","password":"pw"}"#,
        "Origin: http://evil.example\r\n",
    );
    assert_eq!(foreign.0, 403);
    assert!(header(&foreign.1, "set-cookie").is_none());

    let (status, head, _) = post(
        &kv,
        "/api/login",
        r#"{"user":"op","password":"pw"}"#,
        &origin,
    );
    assert_eq!(status, 200);
    let cookie = header(&head, "set-cookie").unwrap().to_string();
    let (pair, attributes) = cookie.split_once(';').unwrap();
    let token = pair.strip_prefix("kv_session=").unwrap();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(attribute), "{cookie}");
    }
    assert!(!attributes.contains("Secure"), "no Secure over plain HTTP");

    let with_cookie = format!("Cookie: theme=dark; {pair}\r\n");
    assert_eq!(get_with(&kv, "/", &with_cookie).0, 200);
    let (status, _, body) = get_with(&kv, "/api/session", &with_cookie);
    assert_eq!(
        (status, &body[..]),
        (200, &br#"{"auth":true,"session":true}"#[..])
    );
    let origin_url = format!("http://{}", kv.addr);
    let mut ws = ws_connect(&kv, Some(&origin_url), &[("Cookie", pair)]).expect("upgrade");
    assert!(ws.read().unwrap().to_text().unwrap().contains("status"));
    // A cookie is not a way around the Origin check.
    assert_eq!(
        ws_connect(&kv, Some("http://evil.example"), &[("Cookie", pair)]).err(),
        Some(403)
    );

    // Logging out forgets the session on kv, whatever the browser keeps.
    let (status, head, _) = post(&kv, "/api/logout", "{}", &format!("{origin}{with_cookie}"));
    assert_eq!(status, 200);
    assert!(header(&head, "set-cookie").unwrap().contains("Max-Age=0"));
    let (status, head, _) = get_with(&kv, "/api/status", &with_cookie);
    assert_eq!(status, 401);
    assert!(
        header(&head, "www-authenticate").is_none(),
        "an ended session gets no Basic prompt"
    );
    assert_eq!(
        ws_connect(&kv, Some(&origin_url), &[("Cookie", pair)]).err(),
        Some(401)
    );
    // Basic auth keeps working beside sessions.
    assert_eq!(
        get_with(&kv, "/api/status", &format!("Authorization: {OP_PW}\r\n")).0,
        200
    );
}

#[test]
fn test_attack_stored_hash_instead_of_password() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv"))
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"pw\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("pw$"));
    let kv = Kv::start(
        &["--demo"],
        &[("KV_USER", "op"), ("KV_PASSWORD_HASH", &hash)],
    );
    for _ in 0..2 {
        let ok = get_with(&kv, "/api/status", &format!("Authorization: {OP_PW}\r\n"));
        assert_eq!(ok.0, 200);
    }
    assert_eq!(
        get_with(&kv, "/api/status", &format!("Authorization: {OP_PX}\r\n")).0,
        401
    );
    // A hash that is not one is refused at start, naming the fix.
    let bad = Command::new(env!("CARGO_BIN_EXE_kv"))
        .args(["--demo", "-p", "0", "--password-hash", "hunter2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("kv --hash-password"), "{err}");
}

#[test]
fn test_attack_foreign_or_missing_origin_websocket_is_403() {
    let kv = with_password();
    let auth = [("Authorization", OP_PW)];
    assert_eq!(
        ws_connect(&kv, Some("http://evil.example"), &auth).err(),
        Some(403)
    );
    assert_eq!(ws_connect(&kv, None, &auth).err(), Some(403));
    let lookalike = format!("http://{}.evil.example", kv.addr);
    assert_eq!(ws_connect(&kv, Some(&lookalike), &auth).err(), Some(403));
    assert_eq!(ws_connect(&kv, Some("null"), &auth).err(), Some(403));
    assert!(ws_connect(&kv, Some(&format!("http://{}", kv.addr)), &auth).is_ok());
}

#[test]
fn test_attack_cross_site_form_post_is_refused() {
    let kv = Kv::demo(&[]);
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let (status, _, _) = kv.request(&format!(
            "POST /api/hid/release HTTP/1.1\r\nHost: {{addr}}\r\nOrigin: http://evil.example\r\nContent-Type: {content_type}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ));
        assert_eq!(status, 415, "{content_type}");
    }
    // A foreign page's script may send JSON; its Origin (or Referer) gives it away.
    let foreign = post(
        &kv,
        "/api/video/mode",
        r#"{"width":640,"height":480}"#,
        "Origin: http://evil.example\r\n",
    );
    assert_eq!(foreign.0, 403);
    let referer = post(
        &kv,
        "/api/hid/layout",
        r#"{"layout":"de"}"#,
        "Referer: http://evil.example/page\r\n",
    );
    assert_eq!(referer.0, 403);
    // GET changes nothing.
    assert_eq!(kv.get("/api/hid/release").0, 405);
    assert_eq!(kv.get("/api/logout").0, 405);
    let (_, _, status) = kv.get("/api/status");
    assert!(String::from_utf8(status)
        .unwrap()
        .contains("\"layout\":\"us\""));
    // kv's own page may.
    let own = post(
        &kv,
        "/api/hid/layout",
        r#"{"layout":"de"}"#,
        &format!("Origin: http://{}\r\n", kv.addr),
    );
    assert_eq!(own.0, 200);
}

#[test]
fn test_attack_traversal_names_reach_no_file() {
    let kv = Kv::demo(&[]);
    for path in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2e%2e%2fetc%2fpasswd",
        "//etc/passwd",
        "/..%2f..%2fetc/passwd",
        "/login.html/../../etc/passwd",
        "/./index.html",
        "/\\..\\etc\\passwd",
        "/index.html%00",
        "/build.rs",
        "/src/main.rs",
    ] {
        let (status, _, body) = kv.get(path);
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
    }
    for raw in [
        "GET ../etc/passwd HTTP/1.1\r\n\r\n",
        "GET etc/passwd HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(kv.request(raw).0, 400, "{raw}");
    }
}

#[test]
fn test_attack_oversized_head_body_and_websocket_message() {
    let mut kv = Kv::demo(&[]);
    let big_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(kv.request(&big_head).0, 431);
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(64));
    assert_eq!(kv.request(&many).0, 431);
    let big_body = "POST /api/hid/layout HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n";
    assert_eq!(kv.request(big_body).0, 413);
    // A head that never ends, sent as fast as kv reads it.
    let mut s = kv.connect();
    let _ = s.write_all(b"GET / HTTP/1.1\r\n");
    let chunk = "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(50);
    for _ in 0..20 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    assert_eq!(read_response(&mut s).0, 431);

    let origin = format!("http://{}", kv.addr);
    let mut ws = ws_connect(&kv, Some(&origin), &[]).expect("upgrade");
    ws.read().unwrap(); // status
    let _ = ws.send(Message::text("x".repeat(300 * 1024)));
    let closed = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    };
    assert_eq!(closed, Some(1009), "message too big");
    // A big paste just under the limit is taken (and bounded in the HID queue).
    let mut ws = ws_connect(&kv, Some(&origin), &[]).expect("upgrade");
    ws.read().unwrap();
    let text = "a".repeat(200 * 1024);
    ws.send(Message::text(format!(
        r#"{{"type":"paste","text":"{text}"}}"#
    )))
    .unwrap();
    let reply = ws.read().unwrap();
    eprintln!("200 KiB paste: {:.120}", reply.to_text().unwrap_or(""));
    assert_eq!(kv.get("/api/status").0, 200);
    assert!(kv.is_running());
}

#[test]
fn test_attack_pipelined_flood_without_reading_does_not_stall_kv() {
    let kv = Kv::demo(&[]);
    // Thousands of pipelined requests from a client that never reads: its
    // responses pile up to a bound, then kv stops reading it. Others go on.
    let mut flood = kv.connect();
    flood.set_nonblocking(true).unwrap();
    let one = format!("GET /app.js HTTP/1.1\r\nHost: {}\r\n\r\n", kv.addr);
    let many = one.repeat(2000);
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while sent < many.len() && Instant::now() < deadline {
        match flood.write(&many.as_bytes()[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{e}"),
        }
    }
    let start = Instant::now();
    assert_eq!(kv.get("/api/status").0, 200);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "kv answered others at once"
    );
}

#[test]
fn test_attack_2000_idle_and_trickling_connections_leave_video_and_input_alone() {
    const EACH: usize = 1000;
    let kv = Kv::start(
        &[
            "--demo",
            "-r",
            "640x480",
            "-f",
            "20",
            "--max-connections",
            "4096",
        ],
        &[("KV_USER", "op"), ("KV_PASSWORD", "pw")],
    );
    let connect = || {
        let s = TcpStream::connect(&kv.addr).expect("connect");
        s.set_nonblocking(true).unwrap();
        s
    };
    let idle: Vec<TcpStream> = (0..EACH).map(|_| connect()).collect();
    let mut trickling: Vec<TcpStream> = (0..EACH).map(|_| connect()).collect();
    let auth = format!("Authorization: {OP_PW}\r\n");

    let mut viewer = kv.connect();
    write!(viewer, "GET /stream HTTP/1.1\r\nHost: x\r\n{auth}\r\n").unwrap();
    let head = read_head(&mut viewer);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut stream = common::Stream { sock: viewer };
    let mut boundary = [0u8; 11];
    stream.sock.read_exact(&mut boundary).unwrap();
    let measure = std::thread::spawn(move || {
        stream.next_part();
        let start = Instant::now();
        let mut frames = 0;
        while start.elapsed() < Duration::from_secs(6) {
            stream.next_part();
            frames += 1;
        }
        frames as f64 / start.elapsed().as_secs_f64()
    });

    let origin = format!("http://{}", kv.addr);
    let mut ws = ws_connect(&kv, Some(&origin), &[("Authorization", OP_PW)]).expect("upgrade");
    ws.read().unwrap(); // status
                        // For six seconds: every trickler sends one more byte of a head that never
                        // ends, and the operator types.
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(6) {
        let bytes: &[u8] = if round == 0 {
            b"GET / HTTP/1.1\r\nX-Slow: "
        } else {
            b"a"
        };
        for s in &mut trickling {
            let _ = s.write(bytes);
        }
        if round % 5 == 0 {
            type_word(&mut ws, "abc");
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let fps = measure.join().unwrap();
    eprintln!(
        "viewer beside {} idle and {} trickling connections: {fps:.1} fps",
        idle.len(),
        trickling.len()
    );
    assert!(fps >= 16.0, "viewer fell below 80% of 20 fps: {fps:.1}");
    let screen = wait_screen(&kv, &auth, "abcabcabc");
    assert!(screen.contains("abcabcabc"), "screen: {screen:?}");
    drop(idle);
    drop(trickling);
}

#[test]
fn test_attack_connection_cap_sheds_idle_connections_first() {
    let kv = Kv::demo(&["-r", "320x240", "-f", "10", "--max-connections", "8"]);
    let mut viewer = common::Stream::open(&kv);
    let origin = format!("http://{}", kv.addr);
    let mut ws = ws_connect(&kv, Some(&origin), &[]).expect("upgrade");
    ws.read().unwrap();
    // Twenty idle sockets: the cap of 8 is reached and the oldest idle ones go.
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| {
            let s = kv.connect();
            std::thread::sleep(Duration::from_millis(20));
            s
        })
        .collect();
    for (i, s) in idle.iter_mut().enumerate().take(10) {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(s.read(&mut byte).ok(), Some(0), "idle socket {i} was shed");
    }
    // The viewer and the WebSocket were never shed.
    for _ in 0..5 {
        viewer.next_part();
    }
    type_word(&mut ws, "zz");
    let screen = wait_screen(&kv, "", "zz");
    assert!(screen.contains("zz"), "{screen:?}");
}

#[test]
fn test_attack_passwords_and_typed_text_never_reach_the_log() {
    let kv = Kv::start(
        &["--demo", "--log-level", "trace"],
        &[("KV_USER", "op"), ("KV_PASSWORD", "pw")],
    );
    // "op:Zebra-Secret-42"
    let guess = "Authorization: Basic b3A6WmVicmEtU2VjcmV0LTQy\r\n";
    assert_eq!(get_with(&kv, "/api/status", guess).0, 401);
    assert_eq!(
        post(
            &kv,
            "/api/login",
            r#"{"user":"op","password":"Quokka-Login-77"}"#,
            ""
        )
        .0,
        401
    );
    std::thread::sleep(Duration::from_millis(1100));
    let origin = format!("http://{}", kv.addr);
    let mut ws = ws_connect(&kv, Some(&origin), &[("Authorization", OP_PW)]).expect("upgrade");
    ws.read().unwrap();
    ws.send(Message::text(
        r#"{"type":"paste","text":"walrus pasted words"}"#,
    ))
    .unwrap();
    type_word(&mut ws, "narwhal");
    wait_screen(&kv, &format!("Authorization: {OP_PW}\r\n"), "narwhal");
    let log = drain_log(&kv).join("\n");
    assert!(log.contains("failed login"), "failures are logged");
    for secret in [
        "Zebra-Secret-42",
        "b3A6WmVicmEt",
        "Quokka-Login-77",
        "walrus",
        "narwhal",
        "b3A6cHc",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

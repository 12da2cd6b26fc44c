//! The real `kv --demo` binary over real TCP: the stream, many viewers, typing
//! through the WebSocket, auth, and bad input that must not stop it.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{decode_jpeg, header, read_response, Kv, Stream, Ws};
use tungstenite::Message;

fn send(ws: &mut Ws, json: &str) {
    ws.send(Message::text(json)).unwrap();
}

/// A key down and up.
fn press(ws: &mut Ws, code: &str) {
    for down in [true, false] {
        send(
            ws,
            &format!(r#"{{"type":"key","code":"{code}","down":{down}}}"#),
        );
    }
}

#[test]
fn test_stream_parts_are_whole_jpegs_of_the_right_size() {
    let kv = Kv::demo(&["-r", "640x480"]);
    let mut stream = Stream::open(&kv);
    let mut last_seq = 0;
    for _ in 0..10 {
        let (head, jpeg) = stream.next_part();
        assert_eq!(decode_jpeg(&jpeg), (640, 480));
        let seq: u64 = header(&head, "x-frame-seq").unwrap().parse().unwrap();
        assert!(seq > last_seq, "sequence numbers increase");
        last_seq = seq;
        assert!(header(&head, "x-timestamp-us").is_some());
    }
}

/// One `/ws/video` update (docs/API.md), text messages (stats) skipped.
struct Update {
    kind: u8,
    seq: u64,
    size: (u32, u32),
    /// Everything after the 28-byte header.
    body: Vec<u8>,
}

fn next_update(ws: &mut Ws) -> Update {
    loop {
        match ws.read().unwrap() {
            Message::Binary(bytes) => {
                assert_eq!(&bytes[1..4], &[0, 0, 0]);
                let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().unwrap());
                let u32_at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
                assert!(u64_at(12) > 0, "capture time");
                return Update {
                    kind: bytes[0],
                    seq: u64_at(4),
                    size: (u32_at(20), u32_at(24)),
                    body: bytes[28..].to_vec(),
                };
            }
            Message::Text(text) => assert!(text.contains("\"stats\""), "{text}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn ack(ws: &mut Ws, seq: u64) {
    send(ws, &format!(r#"{{"type":"ack","seq":{seq}}}"#));
}

/// RGB pixels and size as jpeg-decoder sees them.
fn rgb(jpeg: &[u8]) -> (Vec<u8>, usize, usize) {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    let pixels = d.decode().expect("a JPEG kv sent decodes");
    let info = d.info().unwrap();
    (pixels, usize::from(info.width), usize::from(info.height))
}

/// What the UI's canvas does with updates: kind 1 replaces the picture,
/// kind 2 draws each span's rectangle of its JPEG, kind 3 changes nothing.
#[derive(Default)]
struct Canvas {
    rgb: Vec<u8>,
    width: usize,
    height: usize,
    seq: u64,
}

impl Canvas {
    fn apply(&mut self, update: &Update) {
        self.seq = update.seq;
        match update.kind {
            1 => (self.rgb, self.width, self.height) = rgb(&update.body),
            2 => {
                let b = &update.body;
                let word = |i: usize| usize::from(u16::from_be_bytes([b[2 * i], b[2 * i + 1]]));
                let (mcu_w, mcu_h, n) = (word(0), word(1), word(2));
                let (patch, pw, _) = rgb(&b[8 + 10 * n..]);
                for i in 0..n {
                    let f = |k: usize| word(4 + 5 * i + k);
                    for dy in 0..mcu_h {
                        for dx in 0..f(2) * mcu_w {
                            let (x, y) = (f(0) * mcu_w + dx, f(1) * mcu_h + dy);
                            if x < self.width && y < self.height {
                                let from = ((f(4) * mcu_h + dy) * pw + f(3) * mcu_w + dx) * 3;
                                let to = (y * self.width + x) * 3;
                                self.rgb[to..to + 3].copy_from_slice(&patch[from..from + 3]);
                            }
                        }
                    }
                }
            }
            3 => {}
            kind => panic!("unknown kind {kind}"),
        }
    }
}

/// Nothing but stats arrive within `wait`.
fn assert_no_update(ws: &mut Ws, wait: Duration) {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        ws.get_mut().set_read_timeout(Some(left)).unwrap();
        match ws.read() {
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Ok(Message::Text(text)) => assert!(text.contains("\"stats\""), "{text}"),
            Ok(message) => panic!("a {}-byte message came without an ack", message.len()),
            Err(e) => panic!("reading: {e}"),
        }
    }
    ws.get_mut().set_read_timeout(None).unwrap();
}

#[test]
fn test_video_channel_sends_the_newest_update_per_ack_and_nothing_without() {
    let kv = Kv::demo(&["-r", "640x480", "-f", "30"]);
    let origin = format!("http://{}", kv.addr);
    let mut ws = kv.ws_at("/ws/video", Some(&origin), &[]).expect("upgrade");
    let first = next_update(&mut ws);
    assert_eq!(
        (first.kind, first.size),
        (1, (640, 480)),
        "a whole frame first"
    );
    assert_eq!(decode_jpeg(&first.body), (640, 480));
    // The demo's clock ticks each second: without acks, at most the
    // window's four small updates come, however long one waits.
    let mut last = first.seq;
    let mut came = 0;
    let deadline = Instant::now() + Duration::from_millis(3500);
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    while Instant::now() < deadline {
        if let Ok(Message::Binary(bytes)) = ws.read() {
            came += 1;
            let seq = u64::from_be_bytes(bytes[4..12].try_into().unwrap());
            assert!(seq > last, "sequence numbers increase: {last} then {seq}");
            last = seq;
        }
    }
    ws.get_mut().set_read_timeout(None).unwrap();
    assert!(
        (1..=3).contains(&came),
        "{came} updates beside the first, unacked"
    );
    assert_no_update(&mut ws, Duration::from_millis(1500));
    // A malformed ack is answered, and the channel goes on.
    send(&mut ws, r#"{"type":"ack","seq":"x"}"#);
    let reply = loop {
        let text = ws.read().unwrap().into_text().unwrap();
        if !text.contains("\"stats\"") {
            break text;
        }
    };
    assert!(reply.contains("\"error\""), "{reply}");
    // The ack brings an update for the newest frame.
    ack(&mut ws, last);
    let next = next_update(&mut ws);
    assert!(
        next.seq > last + 2,
        "frame {} after {last}: frames skipped",
        next.seq
    );
    ws.close(None).unwrap();
}

#[test]
fn test_video_channel_typing_sends_changed_areas_that_rebuild_the_screen() {
    let kv = Kv::demo(&["-r", "640x480", "-f", "30"]);
    let origin = format!("http://{}", kv.addr);
    let mut video = kv.ws_at("/ws/video", Some(&origin), &[]).expect("upgrade");
    let mut input = kv.ws(Some(&origin), &[]).expect("input upgrade");
    let mut canvas = Canvas::default();
    let first = next_update(&mut video);
    let whole = first.body.len();
    canvas.apply(&first);
    ack(&mut video, first.seq);
    for code in ["KeyH", "KeyE", "KeyL", "KeyL", "KeyO"] {
        press(&mut input, code);
    }
    kv.wait_screen("", "hello");
    // Updates until a changed area came; each much smaller than a frame.
    let mut changes = 0;
    while changes == 0 {
        let update = next_update(&mut video);
        if update.kind == 2 {
            changes += 1;
            assert!(
                update.body.len() * 4 < whole,
                "{} of {whole} bytes",
                update.body.len()
            );
        }
        canvas.apply(&update);
        ack(&mut video, update.seq);
    }
    // The picture built from updates is the screen: compared with a
    // snapshot of a frame whose content the canvas has (nothing changed
    // between them; the clock may tick, then try again).
    for attempt in 0..10 {
        let (status, head, jpeg) = kv.get("/snapshot.jpg");
        assert_eq!(status, 200);
        let snap_seq: u64 = header(&head, "x-frame-seq").unwrap().parse().unwrap();
        let mut same = true;
        while canvas.seq < snap_seq {
            let update = next_update(&mut video);
            same &= update.kind == 3;
            canvas.apply(&update);
            ack(&mut video, update.seq);
        }
        if same {
            let (want, w, h) = rgb(&jpeg);
            assert_eq!((w, h), (canvas.width, canvas.height));
            let diff = want
                .iter()
                .zip(&canvas.rgb)
                .map(|(a, b)| a.abs_diff(*b))
                .max();
            assert!(
                diff <= Some(1),
                "the canvas differs from the screen by {diff:?}"
            );
            return;
        }
        eprintln!("attempt {attempt}: the screen changed under the snapshot");
    }
    panic!("the screen never held still for a snapshot");
}

#[test]
fn test_video_channel_lower_quality_sends_fewer_bytes() {
    let kv = Kv::demo(&["-r", "640x480", "-f", "30"]);
    let origin = format!("http://{}", kv.addr);
    let first_bytes = |path: &str| {
        let mut ws = kv.ws_at(path, Some(&origin), &[]).expect("upgrade");
        let first = next_update(&mut ws);
        assert_eq!(first.kind, 1);
        assert_eq!(decode_jpeg(&first.body), (640, 480));
        first.body.len()
    };
    let source = first_bytes("/ws/video");
    let low = first_bytes("/ws/video?quality=20");
    assert!(
        low * 3 < source * 2,
        "quality 20: {low} bytes, source {source}"
    );
    let refused = kv.ws_at("/ws/video?quality=best", Some(&origin), &[]);
    assert_eq!(refused.err(), Some(400));
}

#[test]
fn test_twenty_viewers_keep_full_rate_beside_a_stalled_one() {
    let kv = Kv::demo(&["-r", "640x480", "-f", "20"]);
    // A viewer that asks for the stream and never reads a byte.
    let mut stalled = kv.connect();
    write!(stalled, "GET /stream HTTP/1.1\r\nHost: {}\r\n\r\n", kv.addr).unwrap();
    let readers: Vec<_> = (0..20)
        .map(|_| {
            let mut s = Stream::open(&kv);
            std::thread::spawn(move || {
                s.next_part(); // warm up
                let start = Instant::now();
                let mut n = 0;
                while start.elapsed() < Duration::from_secs(3) {
                    let (_, jpeg) = s.next_part();
                    assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
                    n += 1;
                }
                n as f64 / start.elapsed().as_secs_f64()
            })
        })
        .collect();
    let rates: Vec<f64> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    eprintln!("fps per viewer: {rates:.1?}");
    for r in &rates {
        assert!(
            *r >= 16.0,
            "a fast viewer fell below 80% of 20 fps: {rates:?}"
        );
    }
    drop(stalled);
}

#[test]
fn test_typing_hello_world_over_websocket_reaches_the_target() {
    let kv = Kv::demo(&[]);
    let mut ws = kv
        .ws(Some(&format!("http://{}", kv.addr)), &[])
        .expect("upgrade");
    let first = ws.read().unwrap();
    assert!(
        first.to_text().unwrap().starts_with("{\"type\":\"status\""),
        "{first}"
    );
    let shifted = |c: char| c.is_ascii_uppercase() || c == '!';
    for c in "Hello, World!".chars() {
        let code = match c {
            'a'..='z' | 'A'..='Z' => format!("Key{}", c.to_ascii_uppercase()),
            ',' => "Comma".into(),
            ' ' => "Space".into(),
            '!' => "Digit1".into(),
            _ => unreachable!(),
        };
        if shifted(c) {
            send(&mut ws, r#"{"type":"key","code":"ShiftLeft","down":true}"#);
        }
        press(&mut ws, &code);
        if shifted(c) {
            send(&mut ws, r#"{"type":"key","code":"ShiftLeft","down":false}"#);
        }
    }
    let screen = kv.wait_screen("", "Hello, World!");
    assert!(screen.contains("Hello, World!"), "screen: {screen:?}");
}

#[test]
fn test_paste_types_text_and_reports_what_it_cannot() {
    let kv = Kv::demo(&[]);
    let mut ws = kv
        .ws(Some(&format!("http://{}", kv.addr)), &[])
        .expect("upgrade");
    ws.read().unwrap(); // status
    ws.read().unwrap(); // presence
    send(&mut ws, r#"{"type":"paste","text":"echo ok; déjà"}"#);
    let reply = ws.read().unwrap();
    let reply = reply.to_text().unwrap();
    assert!(
        reply.contains("\"type\":\"paste\"") && reply.contains('é') && reply.contains('à'),
        "{reply}"
    );
    let screen = kv.wait_screen("", "echo ok; dj");
    assert!(screen.contains("echo ok; dj"), "screen: {screen:?}");
}

#[test]
fn test_bad_websocket_messages_get_errors_and_kv_keeps_serving() {
    let kv = Kv::demo(&[]);
    let mut ws = kv
        .ws(Some(&format!("http://{}", kv.addr)), &[])
        .expect("upgrade");
    ws.read().unwrap(); // status
    ws.read().unwrap(); // presence
    for bad in [
        "nope",
        "{}",
        r#"{"type":"key","code":"NoSuchKey","down":true}"#,
        r#"{"type":"abs","x":-1,"y":0}"#,
    ] {
        send(&mut ws, bad);
        let reply = ws.read().unwrap();
        assert!(
            reply.to_text().unwrap().starts_with("{\"type\":\"error\""),
            "{bad} -> {reply}"
        );
    }
    ws.send(Message::binary(vec![0u8; 10])).unwrap();
    // A message over the limit closes that socket, nothing else.
    let _ = ws.send(Message::text("x".repeat(300 * 1024)));
    let (status, _, _) = kv.get("/api/status");
    assert_eq!(status, 200);
}

#[test]
fn test_foreign_origin_upgrade_is_refused() {
    let kv = Kv::demo(&[]);
    assert_eq!(kv.ws(Some("http://evil.example"), &[]).err(), Some(403));
}

#[test]
fn test_every_route_needs_credentials_when_set() {
    let kv = Kv::start(&["--demo"], &[("KV_USER", "op"), ("KV_PASSWORD", "pw")]);
    for path in [
        "/",
        "/app.js",
        "/stream",
        "/snapshot.jpg",
        "/api/status",
        "/api/demo/screen",
        "/ws",
        "/nope",
    ] {
        let (status, head, _) = kv.get(path);
        assert_eq!(status, 401, "{path}");
        assert!(
            header(&head, "www-authenticate")
                .unwrap()
                .starts_with("Basic"),
            "{path}"
        );
    }
    // "op:pw" and a wrong password
    let ok = kv.request("GET /api/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic b3A6cHc=\r\nConnection: close\r\n\r\n");
    assert_eq!(ok.0, 200);
    let bad = kv.request("GET /api/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic b3A6cHg=\r\nConnection: close\r\n\r\n");
    assert_eq!(bad.0, 401);
    let origin = format!("http://{}", kv.addr);
    assert!(kv.ws(Some(&origin), &[]).is_err());
    let mut ws = kv
        .ws(Some(&origin), &[("Authorization", "Basic b3A6cHc=")])
        .expect("authorised upgrade");
    assert!(ws.read().unwrap().to_text().unwrap().contains("status"));
}

#[test]
fn test_snapshot_is_a_jpeg_and_status_is_json() {
    let kv = Kv::demo(&["-r", "800x600"]);
    let (status, head, body) = kv.get("/snapshot.jpg");
    assert_eq!(status, 200, "{head}");
    assert_eq!(header(&head, "content-type"), Some("image/jpeg"));
    assert_eq!(decode_jpeg(&body), (800, 600));
    let (status, _, body) = kv.get("/api/status");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    for field in [
        "\"demo\":true",
        "\"width\":800",
        "\"height\":600",
        "\"hid\":",
        "\"online\":",
    ] {
        assert!(text.contains(field), "{field} in {text}");
    }
}

#[test]
fn test_keep_alive_pipelining_head_and_errors() {
    let kv = Kv::demo(&[]);
    let mut s = kv.connect();
    let host = &kv.addr;
    write!(
        s,
        "GET /api/status HTTP/1.1\r\nHost: {host}\r\n\r\nHEAD / HTTP/1.1\r\nHost: {host}\r\n\r\nGET /nope HTTP/1.1\r\nHost: {host}\r\n\r\nDELETE /api/status HTTP/1.1\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut s).0, 200);
    let head = common::read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "HEAD: {head}");
    assert_ne!(
        header(&head, "content-length"),
        Some("0"),
        "HEAD keeps the real length"
    );
    assert_eq!(read_response(&mut s).0, 404);
    let (status, head, _) = read_response(&mut s);
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("GET, HEAD"));
    // The same connection is still usable: the asset's ETag gives 304.
    write!(s, "GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let (_, head, _) = read_response(&mut s);
    let etag = header(&head, "etag").unwrap().to_string();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\nIf-None-Match: {etag}\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut s).0, 304);
}

#[test]
fn test_malformed_http_gets_its_status_and_kv_keeps_serving() {
    let mut kv = Kv::demo(&[]);
    let big_header = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000));
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(100));
    let cases: [(&str, u16); 5] = [
        ("GARBAGE\r\n\r\n", 400),
        (&big_header, 431),
        (&many_headers, 431),
        ("POST /api/video/mode HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413),
        ("POST /api/hid/release HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n", 415),
    ];
    for (raw, want) in cases {
        assert_eq!(kv.request(raw).0, want, "{raw:.40}");
    }
    // Random bytes, a half request then a hang-up.
    let mut s = kv.connect();
    s.write_all(&[0xff, 0x00, 0x13, 0x37, b'\r', b'\n', b'\r', b'\n'])
        .unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    drop(kv.connect().write_all(b"GET /api/sta"));
    assert_eq!(kv.get("/api/status").0, 200);
    assert!(kv.is_running());
    assert!(kv.terminate().success(), "SIGTERM exits cleanly");
}

#[test]
fn test_layout_switch_changes_the_keys_paste_sends() {
    let kv = Kv::demo(&[]);
    let post = |body: &str| {
        kv.request(&format!(
            "POST /api/hid/layout HTTP/1.1\r\nHost: {{addr}}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
        .0
    };
    assert_eq!(post(r#"{"layout":"klingon"}"#), 400);
    assert_eq!(post(r#"{"layout":"de"}"#), 200);
    let (_, _, status) = kv.get("/api/status");
    assert!(String::from_utf8(status)
        .unwrap()
        .contains("\"layout\":\"de\""));
    let mut ws = kv
        .ws(Some(&format!("http://{}", kv.addr)), &[])
        .expect("upgrade");
    ws.read().unwrap(); // status
    ws.read().unwrap(); // presence
                        // On a German keyboard "z" sits where a US host sees "y".
    send(&mut ws, r#"{"type":"paste","text":"zyz"}"#);
    let screen = kv.wait_screen("", "yzy");
    assert!(screen.contains("yzy"), "screen: {screen:?}");
}

/// The `hid` object's two settings as `/api/status` shows them.
fn hid_settings(kv: &Kv) -> (String, String) {
    let (_, _, body) = kv.get("/api/status");
    let status = String::from_utf8(body).unwrap();
    let field = |name: &str| {
        let at = status.find(&format!("\"{name}\":")).expect(name) + name.len() + 3;
        let digits = status[at..].chars().take_while(char::is_ascii_digit);
        digits.collect::<String>()
    };
    (field("jiggle_seconds"), field("paste_key_ms"))
}

#[test]
fn test_hid_settings_change_jiggle_and_paste_speed() {
    let kv = Kv::demo(&[]);
    let post = |body: &str, extra: &str| kv.send_json("POST", "/api/hid/settings", body, extra);
    assert_eq!(hid_settings(&kv), ("0".into(), "16".into()), "defaults");
    let (code, _, _) = post(r#"{"jiggle_seconds":60,"paste_key_ms":100}"#, "");
    assert_eq!(code, 200);
    assert_eq!(hid_settings(&kv), ("60".into(), "100".into()));

    // Refused whole, with the range, and nothing changed.
    for (body, says) in [
        (
            r#"{"jiggle_seconds":5,"paste_key_ms":20}"#,
            "jiggle_seconds must be a whole number from 10 to 3600, or 0 for off",
        ),
        (
            r#"{"paste_key_ms":5000}"#,
            "paste_key_ms must be a whole number from 2 to 1000",
        ),
        (r#"{"speed":1}"#, "unknown setting 'speed'"),
        ("not json", "body must be JSON like"),
    ] {
        let (code, _, reason) = post(body, "");
        assert_eq!(code, 400, "{body}");
        let reason = String::from_utf8(reason).unwrap();
        assert!(reason.contains(says), "{body}: {reason}");
    }
    let (code, _, _) = post(r#"{"jiggle_seconds":0}"#, "Origin: http://evil.example\r\n");
    assert_eq!(code, 403, "another site's page may not change it");
    let (code, _, _) = kv.get("/api/hid/settings");
    assert_eq!(code, 405);
    assert_eq!(hid_settings(&kv), ("60".into(), "100".into()));

    // 100 ms a keystroke: five keystrokes are nine half-keystrokes apart at
    // least, whatever the machine (a bound a slow machine cannot break).
    let mut ws = kv
        .ws(Some(&format!("http://{}", kv.addr)), &[])
        .expect("upgrade");
    ws.read().unwrap(); // status
    ws.read().unwrap(); // presence
    let start = Instant::now();
    send(&mut ws, r#"{"type":"paste","text":"slows"}"#);
    let screen = kv.wait_screen("", "slows");
    assert!(screen.contains("slows"), "screen: {screen:?}");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(400), "typed in {took:?}");
    let (code, _, _) = post(r#"{"jiggle_seconds":0}"#, "");
    assert_eq!(code, 200);
    assert_eq!(
        hid_settings(&kv),
        ("0".into(), "100".into()),
        "jiggle off, paste kept"
    );
}

#[test]
fn test_caps_lock_led_comes_back_from_the_target() {
    let kv = Kv::demo(&[]);
    let mut ws = kv
        .ws(Some(&format!("http://{}", kv.addr)), &[])
        .expect("upgrade");
    ws.read().unwrap(); // status
    ws.read().unwrap(); // presence
    send(&mut ws, r#"{"type":"key","code":"CapsLock","down":true}"#);
    send(&mut ws, r#"{"type":"key","code":"CapsLock","down":false}"#);
    // The status push (at most a second later) carries the target's LED report.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let msg = ws.read().unwrap();
        if msg.to_text().unwrap().contains("\"caps\":true") {
            break;
        }
        assert!(Instant::now() < deadline, "no status with caps on: {msg}");
    }
    let (_, _, body) = kv.get("/api/status");
    assert!(String::from_utf8(body).unwrap().contains("\"caps\":true"));
}

/// Issue 14: the UI's text files go gzipped (made at build time) to a browser
/// that accepts it, byte for byte the files of www/ once inflated; as they are
/// to one that does not; each with its own ETag and `Vary: Accept-Encoding`.
#[test]
fn test_assets_gzipped_when_accepted() {
    let kv = Kv::demo(&[]);
    for (path, file) in [
        ("/app.js", "app.js"),
        ("/", "index.html"),
        ("/style.css", "style.css"),
    ] {
        let www = std::fs::read(format!("{}/www/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let (status, head, plain) = kv.get_with(path, "Accept-Encoding: br;q=1, gzip;q=0\r\n");
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            header(&head, "content-encoding"),
            None,
            "{path}: gzip;q=0 refuses it"
        );
        assert!(
            plain == www,
            "{path}: {} bytes served, {} in www/",
            plain.len(),
            www.len()
        );
        let (status, gz_head, gz) = kv.get_with(path, "Accept-Encoding: gzip, deflate, br\r\n");
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&gz_head, "content-encoding"), Some("gzip"), "{path}");
        for h in [&head, &gz_head] {
            assert_eq!(header(h, "vary"), Some("Accept-Encoding"), "{path}");
        }
        assert_eq!(gz[..3], [0x1f, 0x8b, 8], "{path}: a gzip member");
        assert!(
            gz.len() * 2 < www.len(),
            "{path}: {} of {} bytes",
            gz.len(),
            www.len()
        );
        let crc_len = &gz[gz.len() - 8..];
        assert_eq!(
            crc_len[4..],
            (www.len() as u32).to_le_bytes(),
            "{path}: ISIZE"
        );
        let inflated = miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).unwrap();
        assert!(
            inflated == www,
            "{path}: inflates to {} bytes, not the file",
            inflated.len()
        );
        let etag = header(&gz_head, "etag").unwrap();
        assert_ne!(
            Some(etag),
            header(&head, "etag"),
            "{path}: two representations, two tags"
        );
        let again = format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n");
        assert_eq!(kv.get_with(path, &again).0, 304, "{path}");
    }
    // The icon: asked for by every browser, served as SVG.
    let (status, head, body) = kv.get("/favicon.ico");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("image/svg+xml"));
    assert!(body.starts_with(b"<svg"));
}

//! The serial console against the real binary: `--demo --serial` puts a
//! little shell behind `/ws/serial` (docs/API.md), so the raw WebSocket's
//! round trip, its fan-out to every viewer and its scrollback are tested
//! without hardware. The gadget's real port is tested in tests/vm
//! (scenarios/45-serial.sh).

mod common;

use std::time::{Duration, Instant};

use common::{Kv, Ws};
use tungstenite::Message;

/// Reads binary messages until their bytes contain `want` (10 s at most);
/// returns everything read.
fn read_until(ws: &mut Ws, want: &str) -> String {
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains(want) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} on /ws/serial within 10 s; got {:?}",
            String::from_utf8_lossy(&got)
        );
        match ws.read() {
            Ok(Message::Binary(bytes)) => got.extend_from_slice(&bytes),
            Ok(Message::Text(text)) => panic!("/ws/serial sent text: {text}"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("/ws/serial: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn test_serial_round_trip_fans_out_and_keeps_scrollback() {
    let kv = Kv::demo(&["--serial"]);
    let origin = format!("http://{}", kv.addr);
    let mut typist = kv.ws_at("/ws/serial", Some(&origin), &[]).expect("upgrade");
    let mut watcher = kv.ws_at("/ws/serial", Some(&origin), &[]).expect("upgrade");
    // A new viewer first gets the recent output: the shell's prompt.
    read_until(&mut typist, "demo@kv:~$ ");
    read_until(&mut watcher, "demo@kv:~$ ");
    typist
        .send(Message::binary(b"echo kv-$((6*7))\r".to_vec()))
        .unwrap();
    // The answer is computed by the far end, so it cannot be the echo.
    let typed = read_until(&mut typist, "kv-42\r\n");
    assert!(typed.contains("echo kv-$((6*7))\r\n"), "{typed:?}");
    read_until(&mut watcher, "kv-42\r\n");
    // Text messages are bytes too (handy for scripts).
    watcher.send(Message::text("uname\r")).unwrap();
    read_until(&mut typist, "Linux\r\n");
    // One who comes later sees what happened in the scrollback.
    let mut late = kv.ws_at("/ws/serial", Some(&origin), &[]).expect("upgrade");
    let scrollback = read_until(&mut late, "Linux\r\n");
    assert!(scrollback.contains("kv-42"), "{scrollback:?}");
    let (status, _, body) = kv.get("/api/status");
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains(r#""serial":{"port":"demo","open":true"#),
        "{body}"
    );
}

#[test]
fn test_serial_refusals_say_why() {
    let kv = Kv::demo(&[]);
    let origin = format!("http://{}", kv.addr);
    assert_eq!(
        kv.ws_at("/ws/serial", Some(&origin), &[]).err(),
        Some(404),
        "no console without --serial"
    );
    let (status, _, body) = kv.get("/ws/serial");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("--serial"));
    let (_, _, body) = kv.get("/api/status");
    assert!(String::from_utf8(body)
        .unwrap()
        .contains(r#""serial":null"#));
    let kv = Kv::demo(&["--serial"]);
    assert_eq!(
        kv.ws_at("/ws/serial", Some("http://evil.example"), &[])
            .err(),
        Some(403),
        "another site's page may not type on the console"
    );
    let (status, _, _) = kv.request(&format!(
        "POST /ws/serial HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
        kv.addr
    ));
    assert_eq!(status, 405);
}

#[test]
fn test_serial_needs_a_gadget_or_the_demo() {
    let out = std::process::Command::new(common::kv_binary())
        .args(["--serial", "-d", "/dev/null"])
        .output()
        .expect("run kv");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--serial") && err.contains("--gadget"),
        "{err}"
    );
}

//! `Conn` over a scripted stream and a demo `App`, on virtual time: requests
//! split and pipelined, short writes, timeouts, the MJPEG viewer, snapshots,
//! uploads, refused bodies and the WebSocket hand-offs.

use std::time::{Duration, Instant};

use argh::FromArgs;

use super::*;
use crate::config::{Args, Config};
use crate::demo::DemoTarget;
use crate::hid::{layout, Hid};
use crate::http::io::fake::{FakeStream, Step};
use crate::media::Images;
use crate::testutil::TempDir;
use crate::video::{Frame, Mode};

/// A connection on a fake stream, kv's state, and a virtual clock.
struct Bench {
    fake: FakeStream,
    conn: Conn<FakeStream>,
    app: App,
    t0: Instant,
}

impl Bench {
    fn new() -> Bench {
        let t0 = Instant::now();
        // Its requests name kv "kv", as a LAN name would.
        let args = Args::from_args(&["kv"], &["--demo", "--host-name", "kv"]).expect("flags");
        let config = Config::from_args(args, &|_| None).expect("config");
        let demo = DemoTarget::new(Mode {
            width: 64,
            height: 48,
            fps: 30,
        });
        let hid = Hid::new(demo.sinks(), &layout::US);
        let mut app = App::new(config, demo.source(), hid, Some(demo), t0);
        // The default --state-dir is the machine's /var/lib/kv: no test writes there.
        app.audit = crate::audit::Audit::disabled();
        let fake = FakeStream::default();
        let peer = "127.0.0.1:5000".parse().expect("address");
        Bench {
            conn: Conn::new(fake.clone(), peer, t0),
            fake,
            app,
            t0,
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    /// The socket became ready at `secs`.
    fn ready(&mut self, secs: u64) -> Next {
        let now = self.at(secs);
        self.conn.on_ready(&mut self.app, now)
    }

    fn timer(&mut self, now: Instant) -> Next {
        self.conn.on_timer(&mut self.app, now)
    }

    /// A frame was published at `secs`.
    fn frame(&mut self, frame: &SharedFrame, secs: u64) -> Next {
        let now = self.at(secs);
        self.conn.on_frame(frame, &mut self.app, now)
    }

    fn publish(&mut self, secs: u64) -> SharedFrame {
        let now = self.at(secs);
        let jpeg = vec![0xff, 0xd8, 1, 2, 3, 0xff, 0xd9].into_boxed_slice();
        self.app.video.publish(Frame::new(jpeg, 64, 48, now), now)
    }

    /// Gives the app an images folder in a fresh temporary directory.
    fn with_images(&mut self, tag: &str) -> TempDir {
        let tmp = TempDir::new(tag);
        let images = Images::open(&tmp.path().join("images"), None, None).expect("folder");
        self.app.media = Some(images);
        tmp
    }
}

const SESSION: &str = "GET /api/session HTTP/1.1\r\nHost: kv\r\n\r\n";
const SESSION_BODY: &str =
    "{\"auth\":false,\"session\":false,\"user\":\"\",\"role\":\"admin\",\"guest\":false}";

/// The responses' status lines in `text`.
fn statuses(text: &str) -> Vec<&str> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| text[at..].split("\r\n").next())
        .collect()
}

#[test]
fn test_idle_request_split_across_reads() {
    let mut bench = Bench::new();
    let (first, rest) = SESSION.split_at(20);
    bench.fake.send(first.as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    assert_eq!(bench.fake.take_text(), "");
    assert_eq!(bench.conn.poll_at(), bench.at(0) + REQUEST, "receiving");
    bench.fake.send(rest.as_bytes());
    assert_eq!(bench.ready(1), Next::Keep);
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 200 OK"]);
    assert!(text.contains("Connection: keep-alive\r\n"), "{text}");
    assert!(text.ends_with(SESSION_BODY), "{text}");
    assert_eq!(bench.conn.poll_at(), bench.at(1) + IDLE, "idle again");
}

#[test]
fn test_idle_pipelined_requests_answered_in_order() {
    let mut bench = Bench::new();
    let pipelined = format!("{SESSION}GET /nowhere HTTP/1.1\r\nHost: kv\r\n\r\n{SESSION}");
    bench.fake.send(pipelined.as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    let text = bench.fake.take_text();
    assert_eq!(
        statuses(&text),
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 404 Not Found",
            "HTTP/1.1 200 OK"
        ]
    );
}

#[test]
fn test_idle_short_write_resumed_when_writable() {
    let mut bench = Bench::new();
    bench.fake.script().room = Some(40);
    bench.fake.send(SESSION.as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    let mut text = bench.fake.take_text();
    assert_eq!(text.len(), 40);
    bench.fake.script().room = None;
    assert_eq!(bench.ready(1), Next::Keep, "writable");
    text.push_str(&bench.fake.take_text());
    assert_eq!(statuses(&text), ["HTTP/1.1 200 OK"]);
    assert!(text.ends_with(SESSION_BODY), "{text}");
}

#[test]
fn test_idle_connection_close_answered_then_closed() {
    let mut bench = Bench::new();
    bench
        .fake
        .send(b"GET /api/session HTTP/1.1\r\nHost: kv\r\nConnection: close\r\n\r\n");
    assert_eq!(bench.ready(0), Next::Close);
    let text = bench.fake.take_text();
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(bench.fake.script().close_notified);
}

#[test]
fn test_idle_quiet_connection_closed_after_idle() {
    let mut bench = Bench::new();
    assert_eq!(bench.timer(bench.at(1)), Next::Keep, "not due");
    assert_eq!(bench.conn.idle_since(), Some(bench.t0));
    assert_eq!(bench.timer(bench.t0 + IDLE), Next::Close);
}

#[test]
fn test_idle_peer_half_close_still_answered() {
    let mut bench = Bench::new();
    bench.fake.send(SESSION.as_bytes());
    bench.fake.push(Step::Eof);
    assert_eq!(bench.ready(0), Next::Close);
    assert!(bench.fake.take_text().ends_with(SESSION_BODY));
}

#[test]
fn test_idle_malformed_request_refused_and_closed() {
    let mut bench = Bench::new();
    bench.fake.send(b"NOT HTTP\r\n\r\n");
    assert_eq!(bench.ready(0), Next::Close);
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 400 Bad Request"]);
}

#[test]
fn test_receiving_slow_head_gets_408_and_close() {
    let mut bench = Bench::new();
    bench.fake.send(b"GET / HTTP/1.1\r\n");
    assert_eq!(bench.ready(0), Next::Keep);
    let due = bench.conn.poll_at();
    assert_eq!(due, bench.t0 + REQUEST);
    assert_eq!(bench.timer(due), Next::Close);
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 408 Request Timeout"]);
}

#[test]
fn test_receiving_reset_closes() {
    let mut bench = Bench::new();
    bench.fake.send(b"GET / HTTP/1.1\r\n");
    bench.fake.push(Step::Reset);
    assert_eq!(bench.ready(0), Next::Close);
}

#[test]
fn test_viewer_slow_socket_skips_to_newest_frame() {
    let mut bench = Bench::new();
    bench.fake.send(b"GET /stream HTTP/1.1\r\nHost: kv\r\n\r\n");
    assert_eq!(bench.ready(0), Next::Keep);
    assert_eq!(bench.conn.kind(), Kind::Viewer);
    assert_eq!(bench.conn.idle_since(), None, "never shed");
    let head = bench.fake.take_text();
    assert!(head.contains("multipart/x-mixed-replace; boundary=kvframe"));
    assert!(head.ends_with("--kvframe\r\n"), "{head}");
    let first = bench.publish(1);
    assert_eq!(bench.frame(&first, 1), Next::Write);
    bench.fake.script().room = Some(30);
    let now = bench.at(1);
    assert_eq!(bench.conn.write_frame(&mut bench.app, now), Next::Keep);
    // Frames 2 and 3 come while the socket is full: only 3 follows 1.
    for secs in [2, 3] {
        let frame = bench.publish(secs);
        assert_eq!(bench.frame(&frame, secs), Next::Keep);
    }
    bench.fake.script().room = None;
    assert_eq!(bench.ready(4), Next::Keep, "writable");
    let parts = bench.fake.take_text();
    assert!(parts.contains("X-Frame-Seq: 1\r\n") && parts.contains("X-Frame-Seq: 3\r\n"));
    assert!(!parts.contains("X-Frame-Seq: 2"), "{parts}");
    assert_eq!(bench.conn.poll_at(), bench.at(4) + STALLED);
    assert_eq!(bench.timer(bench.at(4) + STALLED), Next::Close, "stalled");
}

#[test]
fn test_viewer_large_frame_goes_a_chunk_a_turn() {
    let mut bench = Bench::new();
    bench.fake.send(b"GET /stream HTTP/1.1\r\nHost: kv\r\n\r\n");
    assert_eq!(bench.ready(0), Next::Keep);
    bench.fake.take();
    let now = bench.at(1);
    let mut jpeg = vec![0x55; 2 * WRITE_CHUNK + 100];
    jpeg[..2].copy_from_slice(&[0xff, 0xd8]);
    let frame = Frame::new(jpeg.into_boxed_slice(), 64, 48, now);
    let frame = bench.app.video.publish(frame, now);
    assert_eq!(bench.frame(&frame, 1), Next::Write);
    let mut turns = 0;
    while bench.conn.write_frame(&mut bench.app, now) == Next::Write {
        assert_eq!(bench.fake.take().len(), WRITE_CHUNK, "one chunk a turn");
        turns += 1;
    }
    assert_eq!(turns, 2);
    let rest = bench.fake.take_text();
    assert!(
        rest.ends_with("\r\n--kvframe\r\n"),
        "the part ends: {}",
        rest.len()
    );
}

#[test]
fn test_viewer_link_behind_skips_frames_until_acknowledged() {
    let mut bench = Bench::new();
    bench.fake.send(b"GET /stream HTTP/1.1\r\nHost: kv\r\n\r\n");
    assert_eq!(bench.ready(0), Next::Keep);
    bench.fake.take();
    let first = bench.publish(1);
    assert_eq!(bench.frame(&first, 1), Next::Write);
    let now = bench.at(1);
    assert_eq!(bench.conn.write_frame(&mut bench.app, now), Next::Keep);
    assert!(bench.fake.take_text().contains("X-Frame-Seq: 1\r\n"));
    // Two frames' worth still in the network: frame 2 is skipped, even when
    // the socket turns writable.
    let part = first.jpeg.len();
    bench.fake.script().unacknowledged = Some(2 * part);
    let second = bench.publish(2);
    assert_eq!(bench.frame(&second, 2), Next::Keep);
    assert_eq!(bench.ready(2), Next::Keep, "writable");
    assert_eq!(bench.fake.take_text(), "");
    // The peer acknowledged: frame 3 goes, never 2.
    bench.fake.script().unacknowledged = Some(part);
    let third = bench.publish(3);
    assert_eq!(bench.frame(&third, 3), Next::Write);
    let now = bench.at(3);
    assert_eq!(bench.conn.write_frame(&mut bench.app, now), Next::Keep);
    let parts = bench.fake.take_text();
    assert!(parts.contains("X-Frame-Seq: 3\r\n"), "{parts}");
    assert!(!parts.contains("X-Frame-Seq: 2"), "{parts}");
}

#[test]
fn test_snapshot_waits_for_a_frame() {
    let mut bench = Bench::new();
    bench
        .fake
        .send(b"GET /snapshot.jpg HTTP/1.1\r\nHost: kv\r\n\r\n");
    assert_eq!(bench.ready(0), Next::Keep);
    assert_eq!(bench.conn.kind(), Kind::Snapshot);
    assert_eq!(bench.fake.take_text(), "");
    let frame = bench.publish(1);
    assert_eq!(bench.frame(&frame, 1), Next::Keep);
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 200 OK"]);
    assert!(
        text.contains("Content-Type: image/jpeg\r\nCache-Control: no-store\r\nX-Frame-Seq: 1\r\n")
    );
    assert_eq!(bench.conn.kind(), Kind::Http);
}

#[test]
fn test_snapshot_without_frame_gets_503() {
    let mut bench = Bench::new();
    bench
        .fake
        .send(b"HEAD /snapshot.jpg HTTP/1.1\r\nHost: kv\r\n\r\n");
    bench.ready(0);
    let due = bench.conn.poll_at();
    assert_eq!(due, bench.t0 + SNAPSHOT);
    assert_eq!(bench.timer(due), Next::Keep, "kept alive");
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 503 Service Unavailable"]);
    assert!(text.ends_with("\r\n\r\n"), "HEAD: no body");
}

const UPLOAD: &str = "PUT /api/images/a.img HTTP/1.1\r\nHost: kv\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n";

#[test]
fn test_upload_body_blocked_mid_way_then_answered() {
    let mut bench = Bench::new();
    let _tmp = bench.with_images("conn-upload");
    bench.fake.send(format!("{UPLOAD}0123").as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    assert_eq!(bench.conn.idle_since(), None, "an upload is never shed");
    assert_eq!(bench.fake.take_text(), "");
    bench.fake.send(b"456789");
    bench.fake.send(SESSION.as_bytes());
    assert_eq!(bench.ready(1), Next::Keep);
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    assert!(
        text.contains("{\"ok\":true,\"name\":\"a.img\",\"size\":10}"),
        "{text}"
    );
    let images = bench.app.media.as_ref().expect("images");
    let image = std::fs::read(images.dir().join("a.img")).expect("image");
    assert_eq!(image, b"0123456789");
}

#[test]
fn test_upload_reset_mid_body_keeps_partial() {
    let mut bench = Bench::new();
    let _tmp = bench.with_images("conn-upload-reset");
    bench.fake.send(format!("{UPLOAD}0123").as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    bench.fake.push(Step::Reset);
    assert_eq!(bench.ready(1), Next::Close);
    let images = bench.app.media.as_ref().expect("images");
    let partial = images.dir().join(".partial").join("a.img");
    drop(bench.conn);
    assert_eq!(std::fs::read(partial).expect("partial"), b"0123");
}

#[test]
fn test_lingering_refused_upload_answered_then_closed() {
    let mut bench = Bench::new();
    // No images folder: the upload is refused before its body is read.
    bench.fake.send(format!("{UPLOAD}0123").as_bytes());
    assert_eq!(bench.ready(0), Next::Keep, "6 body bytes to come");
    let text = bench.fake.take_text();
    assert_eq!(statuses(&text), ["HTTP/1.1 404 Not Found"]);
    assert!(text.contains("Connection: close\r\n"));
    bench.fake.send(b"456789");
    assert_eq!(bench.ready(1), Next::Close);
}

#[test]
fn test_lingering_trickling_body_cut_off() {
    let mut bench = Bench::new();
    bench.fake.send(UPLOAD.as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    let due = bench.conn.poll_at();
    assert!(due > bench.t0, "lingers a while");
    assert_eq!(bench.timer(due), Next::Close);
}

const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: kv\r\nOrigin: http://kv\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

#[test]
fn test_websocket_upgrade_greets_and_closes() {
    let mut bench = Bench::new();
    bench.fake.send(UPGRADE.as_bytes());
    assert_eq!(bench.ready(0), Next::Keep);
    assert_eq!(bench.conn.kind(), Kind::WebSocket);
    let out = bench.fake.take();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(
        text.contains("{\"type\":\"status\",\"status\":{"),
        "greeted"
    );
    assert_eq!(bench.conn.send_text("{}".into()), Next::Keep);
    assert_eq!(bench.fake.take(), [0x81, 2, b'{', b'}']);
    // A close frame from the browser (masked, empty).
    bench.fake.send(&[0x88, 0x80, 0, 0, 0, 0]);
    assert_eq!(bench.ready(1), Next::Close);
}

#[test]
fn test_websocket_silent_browser_closed() {
    let mut bench = Bench::new();
    bench.fake.send(UPGRADE.as_bytes());
    bench.ready(0);
    let mut polls = 0;
    while bench.timer(bench.conn.poll_at()) == Next::Keep {
        polls += 1;
        assert!(polls < 10, "never closed");
    }
    assert!(bench.conn.poll_at() >= bench.t0 + Duration::from_secs(45));
}

#[test]
fn test_video_upgrade_small_updates_share_the_window_after_the_101() {
    let mut bench = Bench::new();
    let upgrade = UPGRADE.replace("GET /ws ", "GET /ws/video ");
    bench.fake.send(upgrade.as_bytes());
    let first = bench.publish(0);
    assert_eq!(bench.ready(0), Next::Write, "the loop's write turn sends");
    assert_eq!(bench.conn.kind(), Kind::Viewer, "it starts capture");
    assert_eq!(bench.conn.idle_since(), None, "never shed");
    let now = bench.at(0);
    assert_eq!(bench.conn.write_frame(&mut bench.app, now), Next::Keep);
    let out = bench.fake.take();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    // One binary message: 2-byte WebSocket header, 28-byte header, the JPEG.
    let message = &out[head_end..];
    assert_eq!(message[..2], [0x82, 28 + 7]);
    assert_eq!(message[6..14], first.seq.to_be_bytes());
    assert_eq!(&message[30..], &first.jpeg[..]);
    // Small updates share the window; after four, nothing without an ack.
    let mut newest = first.clone();
    for ms in 1..=4 {
        newest = bench.publish(ms);
        if bench.frame(&newest, ms) == Next::Write {
            let now = bench.at(ms);
            bench.conn.write_frame(&mut bench.app, now);
        }
    }
    assert_eq!(bench.fake.take().len(), 3 * (2 + 28 + 7), "three more went");
    assert_eq!(bench.frame(&newest, 4), Next::Keep, "the window is full");
    // The ack (masked text): the newest frame goes on the write turn.
    let ack = format!("{{\"type\":\"ack\",\"seq\":{}}}", newest.seq - 1);
    bench.fake.send(&crate::http::ws::client_text(&ack));
    assert_eq!(bench.ready(5), Next::Write);
    let now = bench.at(5);
    assert_eq!(bench.conn.write_frame(&mut bench.app, now), Next::Keep);
    let out = bench.fake.take();
    assert_eq!(out[6..14], newest.seq.to_be_bytes());
}

//! One browser tab's WebSocket session, after the 101 answer: the greeting
//! (the status, once the 101 head is out), the browser's input handed to the
//! HID with a reply when something went wrong, status pushes, and the pings
//! that tell a live tab from a vanished one. Framing and the input messages
//! themselves are `crate::http::ws`; what the session reaches in kv is `Controls`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::io::{Stream, Wire};
use crate::app::App;
use crate::auth::{Act, Principal};
use crate::hid::Input;
use crate::http::ws::{self, WebSocket};
use crate::json;

/// A WebSocket is pinged when quiet this long...
const PING: Duration = Duration::from_secs(15);
/// ...and closed (releasing every key) when nothing came back for this long.
const SILENT: Duration = Duration::from_secs(45);

/// When a quiet WebSocket is pinged and a silent one given up on: browsers
/// answer pings by themselves, so a tab that answers nothing is gone.
pub struct Heartbeat {
    /// Last time a frame came from the browser.
    heard: Instant,
    pinged: Instant,
}

/// What is due when a heartbeat's time comes.
#[derive(Debug, PartialEq, Eq)]
pub enum Beat {
    Ping,
    /// Nothing came back for `SILENT`: close.
    Silent,
}

impl Heartbeat {
    pub fn new(now: Instant) -> Heartbeat {
        Heartbeat {
            heard: now,
            pinged: now,
        }
    }

    /// A frame came from the browser.
    pub fn heard(&mut self, now: Instant) {
        self.heard = now;
    }

    /// When to ping, or to give up on a silent browser.
    pub fn poll_at(&self) -> Instant {
        (self.heard + SILENT).min(self.pinged + PING)
    }

    /// The time came: ping (counted from now), or give up (logged for `peer`).
    pub fn beat(&mut self, peer: SocketAddr, now: Instant) -> Beat {
        if now >= self.heard + SILENT {
            log::info!(
                "{peer}: WebSocket silent for {}s, closing",
                SILENT.as_secs()
            );
            return Beat::Silent;
        }
        self.pinged = now;
        Beat::Ping
    }
}

/// What a session reaches in kv: the status it greets with, the HID its
/// input goes to.
pub trait Controls {
    /// The status object (`/api/status`).
    fn status_json(&mut self, now: Instant) -> String;
    /// `Ok(Some(skipped))`: a paste typed all but these characters.
    fn input(&mut self, input: Input, now: Instant) -> Result<Option<String>, String>;
}

impl Controls for App {
    fn status_json(&mut self, now: Instant) -> String {
        App::status_json(self, now)
    }

    fn input(&mut self, input: Input, now: Instant) -> Result<Option<String>, String> {
        self.hid.input(input, now)
    }
}

/// A message to the browser: `{"type":<kind>,...}`.
fn message(kind: &str) -> json::Object {
    json::Object::new().str("type", kind)
}

/// The `status` message, greeting a session and pushed when the status changes.
pub fn status_message(controls: &mut impl Controls, now: Instant) -> String {
    message("status")
        .raw("status", &controls.status_json(now))
        .finish()
}

/// Whether the session goes on.
#[derive(Debug, PartialEq, Eq)]
pub enum Link {
    Open,
    Closed,
}

/// Messages may follow the 101 head only once it is out.
enum Phase {
    /// The 101 head is still (partly) in the connection's output buffer.
    Upgrading,
    /// Greeted: messages may go.
    Open,
}

pub struct Session {
    ws: WebSocket,
    phase: Phase,
    heartbeat: Heartbeat,
    /// Who opened it: each message is checked against their role.
    principal: Principal,
}

impl Session {
    /// `leftover`: bytes that came after the upgrade request's head.
    pub fn new(leftover: Vec<u8>, principal: Principal, now: Instant) -> Session {
        Session {
            ws: WebSocket::new(leftover),
            phase: Phase::Upgrading,
            heartbeat: Heartbeat::new(now),
            principal,
        }
    }

    /// Writes the 101 head and the greeting when they are due, then handles
    /// every message that arrived.
    pub fn drive<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        controls: &mut impl Controls,
        now: Instant,
    ) -> io::Result<Link> {
        if !wire.flush(now)? {
            return Ok(Link::Open);
        }
        if let Phase::Upgrading = self.phase {
            self.phase = Phase::Open;
            if self.send_text(wire, status_message(controls, now)) == Link::Closed {
                return Ok(Link::Closed);
            }
        }
        let mut events = Vec::new();
        self.ws.read(&mut wire.stream, &mut events);
        let mut replies = Vec::new();
        for event in events {
            self.heartbeat.heard(now);
            match event {
                ws::Event::Text(text) => {
                    crate::metrics::INPUT_EVENTS.inc();
                    let mut check = false;
                    let principal = &self.principal;
                    let applied = ws::parse_input(&text).and_then(|input| {
                        principal
                            .may(Act::Message(ws::kind(&input)))
                            .map_err(|refused| {
                                format!("\"{}\" refused: {refused}", ws::kind(&input))
                            })?;
                        check = matches!(input, Input::Paste { check: true, .. });
                        controls.input(input, now)
                    });
                    match applied {
                        // A check is always answered, so the page knows it may type.
                        Ok(skipped) if check => replies.push(
                            message("paste")
                                .bool("check", true)
                                .str("skipped", skipped.as_deref().unwrap_or(""))
                                .finish(),
                        ),
                        Ok(None) => {}
                        Ok(Some(skipped)) => {
                            replies.push(message("paste").str("skipped", &skipped).finish())
                        }
                        Err(e) => replies.push(message("error").str("message", &e).finish()),
                    }
                }
                ws::Event::Control => {}
                ws::Event::Closed => return Ok(Link::Closed),
            }
        }
        for reply in replies {
            if self.send_text(wire, reply) == Link::Closed {
                return Ok(Link::Closed);
            }
        }
        Ok(match self.ws.flush(&mut wire.stream) {
            Ok(()) => Link::Open,
            Err(_) => Link::Closed,
        })
    }

    /// Sends a text message once the session is greeted (before, its 101
    /// head is not out, and frames must follow it).
    pub fn send_text<S: Stream>(&mut self, wire: &mut Wire<S>, text: String) -> Link {
        if let Phase::Upgrading = self.phase {
            return Link::Open;
        }
        match self.ws.send(&mut wire.stream, text) {
            Ok(()) => Link::Open,
            Err(e) => {
                log::debug!("{}: websocket send: {e}", wire.peer);
                Link::Closed
            }
        }
    }

    /// When to ping, or to give up on a silent browser.
    pub fn poll_at(&self) -> Instant {
        self.heartbeat.poll_at()
    }

    pub fn on_timer<S: Stream>(&mut self, wire: &mut Wire<S>, now: Instant) -> Link {
        if self.heartbeat.beat(wire.peer, now) == Beat::Silent {
            return Link::Closed;
        }
        match self.ws.ping(&mut wire.stream) {
            Ok(()) => Link::Open,
            Err(_) => Link::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::io::fake::{self, FakeStream, Step};
    use super::*;
    use crate::json::Value;

    /// Records the input it is given; refuses keys named "Bad".
    #[derive(Default)]
    struct FakeControls {
        inputs: Vec<Input>,
    }

    impl Controls for FakeControls {
        fn status_json(&mut self, _now: Instant) -> String {
            "{\"ok\":1}".into()
        }

        fn input(&mut self, input: Input, _now: Instant) -> Result<Option<String>, String> {
            let reply = match &input {
                Input::Key { code, .. } if code == "Bad" => Err("no such key \"Bad\"".into()),
                Input::Paste { text, .. } if text.contains('€') => Ok(Some("€".into())),
                _ => Ok(None),
            };
            self.inputs.push(input);
            reply
        }
    }

    struct Bench {
        fake: FakeStream,
        wire: Wire<FakeStream>,
        controls: FakeControls,
        session: Session,
        t0: Instant,
    }

    impl Bench {
        fn new() -> Bench {
            let t0 = Instant::now();
            let (fake, wire) = fake::upgraded_wire(t0);
            Bench {
                fake,
                wire,
                controls: FakeControls::default(),
                session: Session::new(Vec::new(), Principal::open(), t0),
                t0,
            }
        }

        fn drive(&mut self, secs: u64) -> Link {
            let now = self.t0 + Duration::from_secs(secs);
            let session = &mut self.session;
            session
                .drive(&mut self.wire, &mut self.controls, now)
                .unwrap()
        }

        fn send_text(&self, text: &str) {
            self.fake.send(&ws::client_text(text));
        }

        /// The text messages written since the last call, after the 101 head.
        fn replies(&self) -> Vec<Value> {
            let out = self.fake.take();
            let head_end = out.windows(4).position(|w| w == b"\r\n\r\n");
            let mut rest = head_end.map_or(&out[..], |end| &out[end + 4..]);
            let mut messages = Vec::new();
            while let [0x81, len, tail @ ..] = rest {
                // Server frames are unmasked; 126 announces a 16-bit length.
                let (len, tail) = match (*len, tail) {
                    (126, [high, low, tail @ ..]) => {
                        (usize::from(*high) << 8 | usize::from(*low), tail)
                    }
                    (len, tail) => (usize::from(len), tail),
                };
                let (body, next) = tail.split_at(len);
                messages.push(Value::parse(std::str::from_utf8(body).unwrap()).unwrap());
                rest = next;
            }
            messages
        }
    }

    fn kind(message: &Value) -> &str {
        message.get("type").and_then(Value::as_str).unwrap_or("")
    }

    #[test]
    fn test_upgrading_greets_after_the_101_head() {
        let mut bench = Bench::new();
        bench.fake.script().room = Some(10);
        assert_eq!(bench.drive(0), Link::Open);
        assert_eq!(bench.fake.take_text(), "HTTP/1.1 1", "head cut short");
        assert!(bench.session.send_text(&mut bench.wire, "x".into()) == Link::Open);
        bench.fake.script().room = None;
        assert_eq!(bench.drive(0), Link::Open);
        let greeting = bench.replies();
        assert_eq!(greeting.len(), 1, "the early message was not sent");
        assert_eq!(kind(&greeting[0]), "status");
        assert!(greeting[0].get("status").is_some());
    }

    #[test]
    fn test_open_input_reaches_controls_and_errors_are_answered() {
        let mut bench = Bench::new();
        bench.drive(0);
        bench.replies();
        bench.send_text(r#"{"type":"key","code":"KeyA","down":true}"#);
        bench.send_text(r#"{"type":"key","code":"Bad","down":true}"#);
        bench.send_text(r#"{"type":"paste","text":"a€"}"#);
        bench.send_text("not json");
        bench.send_text(r#"{"type":"paste","text":"a€","check":true}"#);
        bench.send_text(r#"{"type":"paste","text":"a","check":true}"#);
        bench.send_text(r#"{"type":"paste","text":"a"}"#);
        assert_eq!(bench.drive(1), Link::Open);
        assert_eq!(bench.controls.inputs.len(), 6);
        let replies = bench.replies();
        let kinds: Vec<&str> = replies.iter().map(kind).collect();
        assert_eq!(kinds, ["error", "paste", "error", "paste", "paste"]);
        let skipped = replies[1].get("skipped").and_then(Value::as_str);
        assert_eq!(skipped, Some("€"));
        assert_eq!(replies[1].get("check"), None, "a real paste is no check");
        for (reply, expected) in [(&replies[3], "€"), (&replies[4], "")] {
            assert_eq!(reply.get("check").and_then(Value::as_bool), Some(true));
            assert_eq!(reply.get("skipped").and_then(Value::as_str), Some(expected));
        }
        let why = replies[0].get("message").and_then(Value::as_str).unwrap();
        assert!(why.contains("\"Bad\""), "{why}");
    }

    #[test]
    fn test_open_pinged_when_quiet_closed_when_silent() {
        let mut bench = Bench::new();
        bench.drive(0);
        bench.fake.take_text();
        assert_eq!(bench.session.poll_at(), bench.t0 + PING);
        let ping_at = bench.t0 + PING;
        assert_eq!(bench.session.on_timer(&mut bench.wire, ping_at), Link::Open);
        assert_eq!(bench.fake.take(), [0x89, 0x00], "a ping");
        // A pong (masked, empty) counts as hearing from the browser.
        bench.fake.send(&[0x8A, 0x80, 0, 0, 0, 0]);
        assert_eq!(bench.drive(20), Link::Open);
        assert_eq!(bench.session.poll_at(), bench.t0 + PING + PING, "next ping");
        let silent = bench.t0 + Duration::from_secs(20) + SILENT;
        assert_eq!(
            bench.session.on_timer(&mut bench.wire, silent),
            Link::Closed
        );
    }

    #[test]
    fn test_open_close_frame_ends_the_session() {
        let mut bench = Bench::new();
        bench.drive(0);
        bench.fake.take_text();
        bench.fake.send(&[0x88, 0x80, 0, 0, 0, 0]);
        assert_eq!(bench.drive(1), Link::Closed);
        assert_eq!(bench.fake.take().first(), Some(&0x88));
    }

    #[test]
    fn test_open_reset_ends_the_session() {
        let mut bench = Bench::new();
        bench.drive(0);
        bench.fake.push(Step::Reset);
        assert_eq!(bench.drive(1), Link::Closed);
        bench.fake.script().write_reset = true;
        let text = "{}".to_string();
        assert_eq!(bench.session.send_text(&mut bench.wire, text), Link::Closed);
    }
}

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
use crate::control::Handover;
use crate::hid::Input;
use crate::http::ws::{self, WebSocket};
use crate::json::{self, Value};

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
    /// `seat`'s input, if it may type now (`control`).
    fn input(&mut self, seat: u64, input: Input, now: Instant) -> Result<Option<String>, String>;
    /// A `control` message of `seat`'s.
    fn control(&mut self, seat: u64, msg: &Value, now: Instant) -> Result<(), String>;
    /// The `presence` message for `seat`.
    fn presence(&self, seat: u64) -> String;
}

impl Controls for App {
    fn status_json(&mut self, now: Instant) -> String {
        App::status_json(self, now)
    }

    fn input(&mut self, seat: u64, input: Input, now: Instant) -> Result<Option<String>, String> {
        if self.control.may_type(seat)? == Handover::Changed {
            handed_over(self, "took control by typing", now);
        }
        self.hid.input(input, now)
    }

    fn control(&mut self, seat: u64, msg: &Value, now: Instant) -> Result<(), String> {
        let action = msg
            .get("action")
            .and_then(Value::as_str)
            .ok_or("\"control\" needs an \"action\": request, release, take, grant or deny")?;
        let to = msg
            .get("to")
            .and_then(Value::as_i64)
            .and_then(|to| u64::try_from(to).ok());
        // Keys the previous controller held must not stay pressed.
        if self.control.act(seat, action, to)? == Handover::Changed {
            handed_over(self, action, now);
        }
        Ok(())
    }

    fn presence(&self, seat: u64) -> String {
        presence_message(&self.control, seat)
    }
}

/// Control changed hands: the keys the previous controller held are
/// released, and the audit log names the new holder and how.
fn handed_over(app: &mut App, how: &str, now: Instant) {
    app.hid.release_all(now);
    let to = app.control.holder_name().map(str::to_owned);
    app.audit.record(
        crate::sys::clock::unix_now(),
        crate::audit::Entry {
            event: crate::audit::Event::ControlHandover,
            user: to.as_deref(),
            address: None,
            detail: &format!(
                "{how} ({})",
                if to.is_some() {
                    "now in control"
                } else {
                    "nobody in control"
                }
            ),
        },
    );
}

/// The `presence` message: who is connected and in control; `you` is the
/// page's own seat.
pub fn presence_message(control: &crate::control::Control, seat: u64) -> String {
    let mut text = message("presence").finish();
    // Both are JSON objects: merge `{"type":"presence"}` with the presence.
    text.pop();
    text.push(',');
    text.push_str(&control.json(Some(seat))[1..]);
    text
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
    /// Its place in presence and control (`crate::control`).
    seat: u64,
    /// The presence message last sent: the loop pushes it to everyone
    /// when anything changed, and a page is told only what is new to it.
    presence: String,
}

impl Session {
    /// `leftover`: bytes that came after the upgrade request's head.
    pub fn new(leftover: Vec<u8>, principal: Principal, seat: u64, now: Instant) -> Session {
        Session {
            ws: WebSocket::new(leftover),
            phase: Phase::Upgrading,
            heartbeat: Heartbeat::new(now),
            principal,
            seat,
            presence: String::new(),
        }
    }

    /// Sends `presence` unless the page has it already (or is not
    /// greeted yet: the greeting brings it).
    pub fn send_presence<S: Stream>(&mut self, wire: &mut Wire<S>, presence: String) -> Link {
        if let Phase::Upgrading = self.phase {
            return Link::Open;
        }
        if presence == self.presence {
            return Link::Open;
        }
        self.presence = presence.clone();
        self.send_text(wire, presence)
    }

    pub fn seat(&self) -> u64 {
        self.seat
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
            if self.send_text(wire, status_message(controls, now)) == Link::Closed
                || self.send_presence(wire, controls.presence(self.seat)) == Link::Closed
            {
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
                    let (principal, seat) = (&self.principal, self.seat);
                    let applied = ws::parse_message(&text).and_then(|msg| {
                        let kind = ws::message_type(&msg).unwrap_or_default();
                        principal
                            .may(Act::Message(kind))
                            .map_err(|refused| format!("\"{kind}\" refused: {refused}"))?;
                        if kind == "control" {
                            return controls.control(seat, &msg, now).map(|()| None);
                        }
                        let input = ws::input_of(&msg)?;
                        check = matches!(input, Input::Paste { check: true, .. });
                        controls.input(seat, input, now)
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
                ws::Event::Binary(_) | ws::Event::Control => {}
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

    /// Records the input it is given; refuses keys named "Bad".
    #[derive(Default)]
    struct FakeControls {
        inputs: Vec<Input>,
    }

    impl Controls for FakeControls {
        fn status_json(&mut self, _now: Instant) -> String {
            "{\"ok\":1}".into()
        }

        fn control(&mut self, _seat: u64, _msg: &Value, _now: Instant) -> Result<(), String> {
            Err("no control here".into())
        }

        fn presence(&self, seat: u64) -> String {
            format!("{{\"type\":\"presence\",\"you\":{seat}}}")
        }

        fn input(
            &mut self,
            _seat: u64,
            input: Input,
            _now: Instant,
        ) -> Result<Option<String>, String> {
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
                session: Session::new(Vec::new(), Principal::open(), 1, t0),
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
        assert_eq!(greeting.len(), 2, "the early message was not sent");
        assert_eq!(kind(&greeting[0]), "status");
        assert!(greeting[0].get("status").is_some());
        assert_eq!(kind(&greeting[1]), "presence");
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

//! One `/ws/serial` session, after the 101 answer: the target's serial
//! console as a raw WebSocket, bytes as they are in binary messages both
//! ways (text messages from the client are taken as their UTF-8 bytes).
//!
//! Its two halves, for whoever grants permissions by role:
//! - output (what a viewer may see): `write` sends what the target wrote,
//!   from the console's scrollback, starting with the recent output kept;
//! - input (an operator's action): `on_input` hands the client's bytes to
//!   the line.
//!
//! Nothing queues per session: a session keeps only its place in the
//! scrollback (a slow one skips what left it) and, when the line's queue
//! is full, the bytes it could not hand on yet, reading nothing more from
//! its socket until they are taken.

use std::io;
use std::time::Instant;

use super::io::{Stream, Wire};
use super::video_session::deferred;
use super::websocket::{Beat, Heartbeat, Link};
use super::ws::{self, WebSocket};
use crate::serial::Serial;

/// Output bytes per binary message, and so at most queued per session.
const CHUNK: usize = 16 * 1024;
/// Input read from the socket that the line has not taken yet. One
/// message's worth (`ws::MAX_MESSAGE`) and a little: a client sending more
/// before the line takes it is cut off rather than grow kv's memory.
const HELD_LIMIT: usize = ws::MAX_MESSAGE + 64 * 1024;

pub struct SerialSession {
    ws: WebSocket,
    heartbeat: Heartbeat,
    /// The number of the next output byte to send (`serial::scrollback`).
    cursor: u64,
    /// Input the line's queue had no room for.
    held: Vec<u8>,
    /// Output bytes this session skipped because it was slow.
    lost: u64,
}

impl SerialSession {
    /// `leftover`: bytes that came after the upgrade request's head.
    pub fn new(leftover: Vec<u8>, serial: &Serial, now: Instant) -> SerialSession {
        SerialSession {
            ws: WebSocket::new(leftover),
            heartbeat: Heartbeat::new(now),
            cursor: serial.output_start(),
            held: Vec::new(),
            lost: 0,
        }
    }

    /// Reads what the client sent (while the line takes it), then writes
    /// what the target wrote.
    pub fn drive<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        serial: &mut Serial,
        now: Instant,
    ) -> io::Result<Link> {
        if self.read(wire, serial, now) == Link::Closed {
            return Ok(Link::Closed);
        }
        self.write(wire, serial, now)
    }

    /// Input: hands the line what it takes of `bytes`, keeps the rest.
    fn on_input(&mut self, bytes: &[u8], serial: &mut Serial) {
        let bytes = if self.held.is_empty() {
            bytes
        } else {
            self.held.extend_from_slice(bytes);
            &std::mem::take(&mut self.held)[..]
        };
        let taken = serial.send(bytes);
        self.held.extend_from_slice(&bytes[taken..]);
    }

    fn read<S: Stream>(&mut self, wire: &mut Wire<S>, serial: &mut Serial, now: Instant) -> Link {
        if !self.held.is_empty() {
            self.on_input(&[], serial);
            if !self.held.is_empty() {
                // The socket is read again when the line has taken these
                // (the loop calls back as the console moves).
                return Link::Open;
            }
        }
        let mut events = Vec::new();
        self.ws.read(&mut deferred(wire), &mut events);
        for event in events {
            self.heartbeat.heard(now);
            match event {
                ws::Event::Binary(bytes) => self.on_input(&bytes, serial),
                ws::Event::Text(text) => self.on_input(text.as_bytes(), serial),
                ws::Event::Control => {}
                ws::Event::Closed => {
                    let _ = wire.flush(now);
                    return Link::Closed;
                }
            }
        }
        if self.held.len() > HELD_LIMIT {
            log::info!(
                "{}: serial console input faster than the line takes it, closing",
                wire.peer
            );
            return Link::Closed;
        }
        // Pongs tungstenite queued while reading.
        match self.ws.flush(&mut deferred(wire)) {
            Ok(()) => Link::Open,
            Err(e) => {
                log::debug!("{}: serial websocket: {e}", wire.peer);
                Link::Closed
            }
        }
    }

    /// Output: sends what the target wrote since this session's place, a
    /// message at a time, each only once the socket took the one before.
    pub fn write<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        serial: &Serial,
        now: Instant,
    ) -> io::Result<Link> {
        loop {
            if !wire.flush(now)? {
                return Ok(Link::Open);
            }
            let since = serial.output_since(self.cursor, CHUNK);
            if since.bytes.is_empty() {
                return Ok(Link::Open);
            }
            if since.lost > 0 {
                self.lost += since.lost;
                log::debug!(
                    "{}: serial console viewer too slow, skipped {} bytes",
                    wire.peer,
                    since.lost
                );
            }
            let (bytes, next) = (since.bytes, since.next);
            if let Err(e) = self.ws.send_binary(&mut deferred(wire), bytes) {
                log::debug!("{}: serial websocket: {e}", wire.peer);
                return Ok(Link::Closed);
            }
            self.cursor = next;
        }
    }

    /// Whether the line moved in a way this session acts on: output it has
    /// not sent, or room for input it holds.
    pub fn wants_turn(&self, serial: &Serial) -> bool {
        self.cursor < serial.output_end() || (!self.held.is_empty() && serial.has_room())
    }

    pub fn poll_at(&self) -> Instant {
        self.heartbeat.poll_at()
    }

    /// Pings a quiet client; gives up on a silent one.
    pub fn on_timer<S: Stream>(&mut self, wire: &mut Wire<S>, now: Instant) -> Link {
        if self.heartbeat.beat(wire.peer, now) == Beat::Silent {
            return Link::Closed;
        }
        let pinged = self.ws.ping(&mut deferred(wire));
        match pinged.and_then(|()| wire.flush(now).map_err(|e| e.to_string())) {
            Ok(_) => Link::Open,
            Err(_) => Link::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::io::fake::{self, FakeStream};
    use super::super::io::Wire;
    use super::*;
    use crate::serial::tests::FakeLine;
    use crate::serial::{INPUT_QUEUE, SCROLLBACK};

    fn masked_binary(bytes: &[u8]) -> Vec<u8> {
        let mask = [9u8, 8, 7, 6];
        let mut frame = vec![0x82, 0xFE];
        frame.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        frame.extend_from_slice(&mask);
        frame.extend(bytes.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        frame
    }

    /// The payloads of the binary messages kv wrote, after the 101 head.
    fn binary_payloads(fake: &FakeStream) -> Vec<Vec<u8>> {
        let written = fake.take();
        let mut rest = &written[written
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4)..];
        let mut payloads = Vec::new();
        while rest.len() >= 2 {
            assert_eq!(rest[0], 0x82, "a binary message, unmasked");
            let (len, head) = match rest[1] {
                126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            payloads.push(rest[head..head + len].to_vec());
            rest = &rest[head + len..];
        }
        payloads
    }

    #[test]
    fn test_open_output_from_scrollback_and_input_to_the_line() {
        let t0 = Instant::now();
        let (line, mut serial) = FakeLine::serial();
        line.target_says(b"login: ");
        serial.pump();
        let (fake, mut wire) = fake::upgraded_wire(t0);
        let mut session = SerialSession::new(Vec::new(), &serial, t0);
        fake.send(&masked_binary(b"root\r"));
        assert_eq!(
            session.drive(&mut wire, &mut serial, t0).unwrap(),
            Link::Open
        );
        assert_eq!(line.typed(), b"root\r");
        assert_eq!(binary_payloads(&fake), [b"login: ".to_vec()]);
        line.target_says(b"Password: ");
        serial.pump();
        assert!(session.wants_turn(&serial));
        session.write(&mut wire, &serial, t0).unwrap();
        assert_eq!(binary_payloads(&fake), [b"Password: ".to_vec()]);
        assert!(!session.wants_turn(&serial));
    }

    /// A viewer whose socket takes nothing holds one message, not the
    /// target's output: when it drains it has lost the oldest bytes.
    #[test]
    fn test_open_slow_viewer_loses_old_output() {
        let t0 = Instant::now();
        let (line, mut serial) = FakeLine::serial();
        let (fake, mut wire) = fake::upgraded_wire(t0);
        let mut session = SerialSession::new(Vec::new(), &serial, t0);
        for i in 0..(SCROLLBACK / 1000 + 20) {
            line.target_says(format!("{i:0999}\n").as_bytes());
            serial.pump();
            session.write(&mut wire, &serial, t0).unwrap();
            // The first line went; then the socket takes nothing.
            fake.script().room = Some(0);
            assert!(wire.pending() <= CHUNK + 16, "one message waits at most");
        }
        fake.script().room = None;
        session.write(&mut wire, &serial, t0).unwrap();
        let got: Vec<u8> = binary_payloads(&fake).concat();
        assert!(got.starts_with(&[b'0'; 999]), "the first message went");
        assert!(session.lost > 0, "the middle was skipped");
        assert!(got.ends_with(format!("{:0999}\n", SCROLLBACK / 1000 + 19).as_bytes()));
        assert!(got.len() <= CHUNK + SCROLLBACK);
    }

    /// A session whose line takes nothing yet, and to which the client
    /// sent `count` binary messages of `byte` repeated `len` times.
    fn on_a_full_line(
        t0: Instant,
        byte: u8,
        len: usize,
        count: usize,
    ) -> (
        FakeLine,
        Serial,
        FakeStream,
        Wire<FakeStream>,
        SerialSession,
    ) {
        let (line, serial) = FakeLine::serial();
        line.set_room(0);
        let (fake, wire) = fake::upgraded_wire(t0);
        let session = SerialSession::new(Vec::new(), &serial, t0);
        for _ in 0..count {
            fake.send(&masked_binary(&vec![byte; len]));
        }
        (line, serial, fake, wire, session)
    }

    /// The line takes nothing: input waits in the console's bounded queue,
    /// then in the session, which stops reading its socket; it goes on
    /// when the line takes it.
    #[test]
    fn test_open_input_waits_for_the_line() {
        let t0 = Instant::now();
        let (line, mut serial, fake, mut wire, mut session) = on_a_full_line(t0, b'x', 10_000, 3);
        session.drive(&mut wire, &mut serial, t0).unwrap();
        assert_eq!(session.held.len(), 30_000 - INPUT_QUEUE);
        fake.send(&masked_binary(b"after"));
        session.drive(&mut wire, &mut serial, t0).unwrap();
        assert_eq!(fake.script().reads.len(), 1, "not read while input is held");
        assert!(!session.wants_turn(&serial), "no room yet");
        line.set_room(usize::MAX);
        serial.pump();
        assert!(session.wants_turn(&serial));
        session.drive(&mut wire, &mut serial, t0).unwrap();
        session.drive(&mut wire, &mut serial, t0).unwrap();
        let typed = line.typed();
        assert_eq!(typed.len(), 30_005);
        assert!(typed.ends_with(b"xafter"));
    }

    #[test]
    fn test_open_flood_beyond_the_limit_closes() {
        let t0 = Instant::now();
        let count = HELD_LIMIT / 60_000 + 2;
        let (_line, mut serial, _fake, mut wire, mut session) =
            on_a_full_line(t0, b'y', 60_000, count);
        assert_eq!(
            session.drive(&mut wire, &mut serial, t0).unwrap(),
            Link::Closed
        );
    }
}

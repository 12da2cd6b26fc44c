//! One page's `/ws/video` session, after the 101 answer: frames go out as
//! binary messages (`canvas::Viewer`), the page's acknowledgements come back
//! as text messages `{"type":"ack","seq":N}` (docs/API.md).
//!
//! tungstenite reads the page's messages; whatever it writes (pongs, the
//! close reply, pings, error replies) goes into the wire's output buffer, and
//! that buffer is written only between two frame messages, so nothing ever
//! cuts into one. The channel carries no input: keystrokes keep their own
//! socket (`/ws`) and never wait behind a picture.

use std::io::{self, Read, Write};
use std::time::Instant;

use super::canvas::{self, Progress, View};
use super::io::{Metered, Stream, Wire};
use super::websocket::{Beat, Heartbeat, Link};
use super::ws::{self, WebSocket};
use crate::json::{self, Value};
use crate::video::updates::Updates;
use crate::video::SharedFrame;

/// Replies kv could not write yet; a page that sends more while it reads
/// nothing is cut off here rather than grow kv's memory.
const OUT_LIMIT: usize = 64 * 1024;

/// The socket as tungstenite sees it here: reads come from the socket,
/// writes land in the wire's output buffer (see the module comment).
pub(super) struct Deferred<'a, S> {
    stream: &'a mut S,
    out: &'a mut Vec<u8>,
}

impl<S: Read> Read for Deferred<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl<S> Write for Deferred<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) fn deferred<S: Stream>(wire: &mut Wire<S>) -> Deferred<'_, S> {
    let (stream, out) = wire.parts();
    Deferred { stream, out }
}

/// What the page may say on `/ws/video`.
#[derive(Debug, PartialEq, Eq)]
pub enum PageMessage {
    /// It drew the update of this frame.
    Ack(u64),
    /// New settings (fields left out keep their value).
    View {
        quality: Option<canvas::Choice>,
        max_fps: Option<u32>,
    },
}

/// Reads one message from the page, or says what is wrong with it.
pub fn parse_message(text: &str) -> Result<PageMessage, String> {
    let msg = Value::parse(text).map_err(|e| format!("message is not JSON: {e}"))?;
    match msg.get("type").and_then(Value::as_str) {
        Some("ack") => msg
            .get("seq")
            .and_then(Value::as_i64)
            .and_then(|seq| u64::try_from(seq).ok())
            .map(PageMessage::Ack)
            .ok_or_else(|| "\"ack\" needs the frame's \"seq\", a non-negative integer".into()),
        Some("view") => {
            let quality = match msg.get("quality") {
                None => None,
                Some(q) => {
                    let text = match (q.as_str(), q.as_i64()) {
                        (Some(s), _) => s.to_string(),
                        (None, Some(n)) => n.to_string(),
                        _ => return Err("\"quality\" is \"source\", \"auto\" or 1..100".into()),
                    };
                    Some(View::parse_quality(&text)?)
                }
            };
            let max_fps = match msg.get("max_fps") {
                None => None,
                Some(fps) => Some(View::parse_max_fps(
                    fps.as_i64()
                        .ok_or("\"max_fps\" is a whole number, 0 for no cap")?,
                )?),
            };
            Ok(PageMessage::View { quality, max_fps })
        }
        Some(other) => Err(format!(
            "unknown message type \"{other}\" on /ws/video; it takes \"ack\" and \"view\" (input goes to /ws)"
        )),
        None => Err("message has no \"type\"".into()),
    }
}

pub struct VideoSession {
    ws: WebSocket,
    heartbeat: Heartbeat,
    viewer: canvas::Viewer,
}

impl VideoSession {
    /// `leftover`: bytes that came after the upgrade request's head.
    pub fn new(leftover: Vec<u8>, view: View, now: Instant) -> VideoSession {
        VideoSession {
            ws: WebSocket::new(leftover),
            heartbeat: Heartbeat::new(now),
            viewer: canvas::Viewer::new(view, now),
        }
    }

    /// How far behind `newest` (a capture time) the page's picture is.
    pub fn lag(&self, newest: Instant) -> std::time::Duration {
        self.viewer.lag(newest)
    }

    /// Acts on one page message; `Err` is the error reply's text.
    fn on_message(&mut self, text: &str, now: Instant) -> Result<(), String> {
        match parse_message(text)? {
            PageMessage::Ack(seq) => self.viewer.ack(seq, now),
            PageMessage::View { quality, max_fps } => {
                let mut view = self.viewer.view();
                view.quality = quality.unwrap_or(view.quality);
                view.max_fps = max_fps.unwrap_or(view.max_fps);
                self.viewer.set_view(view);
                Ok(())
            }
        }
    }

    /// Queues a text message in the wire; false when the socket failed.
    fn send_text<S: Stream>(&mut self, wire: &mut Wire<S>, text: String) -> bool {
        match self.ws.send(&mut deferred(wire), text) {
            Ok(()) => true,
            Err(e) => {
                log::debug!("{}: video websocket: {e}", wire.peer);
                false
            }
        }
    }

    /// Reads the page's messages: acks open the window; anything else is
    /// answered with an error message. Writing is left to `write`.
    pub fn read<S: Stream>(&mut self, wire: &mut Wire<S>, now: Instant) -> Link {
        let mut events = Vec::new();
        self.ws.read(&mut deferred(wire), &mut events);
        for event in events {
            self.heartbeat.heard(now);
            match event {
                ws::Event::Text(text) => {
                    if let Err(e) = self.on_message(&text, now) {
                        let reply = json::Object::new()
                            .str("type", "error")
                            .str("message", &e)
                            .finish();
                        if !self.send_text(wire, reply) {
                            return Link::Closed;
                        }
                    }
                }
                ws::Event::Binary(_) | ws::Event::Control => {}
                ws::Event::Closed => {
                    // The close reply goes if it can go at once.
                    if !self.viewer.is_mid_message() {
                        let _ = wire.flush(now);
                    }
                    return Link::Closed;
                }
            }
        }
        // Pongs tungstenite queued while reading.
        if let Err(e) = self.ws.flush(&mut deferred(wire)) {
            log::debug!("{}: video websocket: {e}", wire.peer);
            return Link::Closed;
        }
        if wire.pending() > OUT_LIMIT {
            log::info!("{}: video page sends but does not read, closing", wire.peer);
            return Link::Closed;
        }
        Link::Open
    }

    /// Writes what is due, in order: the message begun, then the replies
    /// waiting in the wire, then the newest frame if the window has room.
    pub fn write<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        updates: &mut Updates,
        now: Instant,
        left: &mut usize,
    ) -> io::Result<Link> {
        loop {
            if !self.viewer.is_mid_message() && !wire.flush(now)? {
                return Ok(Link::Open);
            }
            let mut out = Metered::new(&mut wire.stream, left);
            match self.viewer.write_to(&mut out, updates, now)? {
                Progress::Sent => wire.touch(now),
                Progress::Idle | Progress::Blocked => return Ok(Link::Open),
            }
        }
    }

    /// Whether `write` would send something up to this new frame.
    pub fn wants(&self, frame: &SharedFrame) -> bool {
        self.viewer.wants(frame.seq)
    }

    /// When to ping, to send the stats, to give up on a silent page, or on
    /// one that stopped acknowledging.
    pub fn poll_at(&self) -> Instant {
        self.heartbeat.poll_at().min(self.viewer.poll_at())
    }

    /// Open: a ping or the stats wait in the wire for `write`.
    pub fn on_timer<S: Stream>(&mut self, wire: &mut Wire<S>, now: Instant) -> Link {
        if let Some(stats) = self.viewer.stats(now) {
            if !self.send_text(wire, stats) {
                return Link::Closed;
            }
        }
        if self.viewer.ack_overdue(now) {
            log::info!(
                "{}: no ack for a video frame in {}s, closing",
                wire.peer,
                canvas::ACK_TIMEOUT.as_secs()
            );
            return Link::Closed;
        }
        if now < self.heartbeat.poll_at() {
            return Link::Open;
        }
        if self.heartbeat.beat(wire.peer, now) == Beat::Silent {
            return Link::Closed;
        }
        match self.ws.ping(&mut deferred(wire)) {
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
    use crate::video::Frame;
    use std::rc::Rc;
    use std::time::Duration;

    fn frame(seq: u64, t0: Instant) -> SharedFrame {
        let mut f = Frame::new(vec![0xFF, 0xD8, 0xFF, 0xD9].into(), 4, 2, t0);
        f.seq = seq;
        Rc::new(f)
    }

    struct Bench {
        fake: FakeStream,
        wire: Wire<FakeStream>,
        session: VideoSession,
        updates: Updates,
        t0: Instant,
    }

    impl Bench {
        fn new() -> Bench {
            let t0 = Instant::now();
            let (fake, wire) = fake::upgraded_wire(t0);
            Bench {
                fake,
                wire,
                session: VideoSession::new(Vec::new(), View::default(), t0),
                updates: Updates::default(),
                t0,
            }
        }

        fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        fn write(&mut self, latest: &SharedFrame, ms: u64) {
            let now = self.at(ms);
            self.updates.on_frame(latest);
            let mut all = usize::MAX;
            let link = self
                .session
                .write(&mut self.wire, &mut self.updates, now, &mut all);
            assert_eq!(link.unwrap(), Link::Open);
        }

        fn read(&mut self, ms: u64) -> Link {
            let now = self.at(ms);
            self.session.read(&mut self.wire, now)
        }

        fn send_text(&self, text: &str) {
            self.fake.send(&ws::client_text(text));
        }

        /// (opcode, payload) of each server frame written since the last
        /// call, after the 101 head; all payloads here are under 126 bytes.
        fn frames(&self) -> Vec<(u8, Vec<u8>)> {
            let out = FakeStream::take(&self.fake);
            let start = out
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |end| end + 4);
            let mut rest = &out[start..];
            let mut frames = Vec::new();
            while let [op, len, tail @ ..] = rest {
                let len = usize::from(*len);
                assert!(len < 126);
                frames.push((op & 0x0F, tail[..len].to_vec()));
                rest = &tail[len..];
            }
            frames
        }
    }

    fn seq_of(payload: &[u8]) -> u64 {
        u64::from_be_bytes(payload[4..12].try_into().unwrap())
    }

    #[test]
    fn test_open_updates_follow_acks() {
        let mut bench = Bench::new();
        let f1 = frame(1, bench.t0);
        assert!(bench.session.wants(&f1));
        bench.write(&f1, 0);
        let frames = bench.frames();
        assert_eq!(frames.len(), 1, "after the 101 head, one frame");
        assert_eq!((frames[0].0, seq_of(&frames[0].1)), (2, 1));
        // Small updates share the window: three more go, then nothing
        // without an ack.
        for seq in 2..=6 {
            bench.write(&frame(seq, bench.t0), seq * 30);
        }
        let seqs: Vec<u64> = bench.frames().iter().map(|f| seq_of(&f.1)).collect();
        assert_eq!(seqs, [2, 3, 4]);
        let f7 = frame(7, bench.t0);
        assert!(!bench.session.wants(&f7));
        // The ack: the newest frame goes, not the ones between.
        bench.send_text(r#"{"type":"ack","seq":4}"#);
        assert_eq!(bench.read(200), Link::Open);
        bench.write(&f7, 200);
        let frames = bench.frames();
        assert_eq!(frames.len(), 1);
        assert_eq!(seq_of(&frames[0].1), 7);
    }

    #[test]
    fn test_open_malformed_messages_get_error_replies() {
        let mut bench = Bench::new();
        bench.write(&frame(1, bench.t0), 0);
        bench.frames();
        for bad in [
            "not json",
            r#"{"type":"key","code":"KeyA","down":true}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","seq":-1}"#,
            r#"{"type":"ack","seq":99}"#,
            r#"{"type":"view","quality":"best"}"#,
        ] {
            bench.send_text(bad);
        }
        assert_eq!(bench.read(10), Link::Open);
        // Replies wait in the wire for the write turn.
        bench.write(&frame(1, bench.t0), 10);
        let replies = bench.frames();
        assert_eq!(replies.len(), 6, "one error each, and no frame");
        for (op, payload) in replies {
            assert_eq!(op, 1, "text");
            let reply = Value::parse(std::str::from_utf8(&payload).unwrap()).unwrap();
            assert_eq!(reply.get("type").and_then(Value::as_str), Some("error"));
        }
    }

    #[test]
    fn test_open_stats_every_second() {
        let mut bench = Bench::new();
        bench.write(&frame(1, bench.t0), 0);
        bench.frames();
        bench.send_text(r#"{"type":"view","quality":50,"max_fps":5}"#);
        assert_eq!(bench.read(10), Link::Open);
        let at = bench.session.poll_at();
        assert_eq!(at, bench.at(1000));
        assert_eq!(bench.session.on_timer(&mut bench.wire, at), Link::Open);
        bench.write(&frame(1, bench.t0), 1000);
        let frames = bench.frames();
        let stats = Value::parse(std::str::from_utf8(&frames[0].1).unwrap()).unwrap();
        assert_eq!(stats.get("type").and_then(Value::as_str), Some("stats"));
        assert_eq!(stats.get("max_fps").and_then(Value::as_i64), Some(5));
    }

    #[test]
    fn test_writing_replies_wait_for_the_message_begun() {
        let mut bench = Bench::new();
        bench.fake.script().room = Some(40);
        bench.write(&frame(1, bench.t0), 0);
        // A ping arrives mid-message: its pong must not cut into the frame.
        bench.fake.send(&[0x89, 0x80, 0, 0, 0, 0]);
        assert_eq!(bench.read(5), Link::Open);
        bench.fake.script().room = None;
        bench.write(&frame(1, bench.t0), 10);
        let frames = bench.frames();
        let ops: Vec<u8> = frames.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, [2, 10], "the frame, then the pong");
    }

    #[test]
    fn test_awaiting_ack_closed_after_the_timeout() {
        let mut bench = Bench::new();
        bench.write(&frame(1, bench.t0), 0);
        // The page answers every ping (browsers do by themselves) but never
        // acks: pinged at 15 s, closed at the ack timeout.
        let mut now = bench.t0;
        for _ in 0..100 {
            now = bench.session.poll_at();
            bench.fake.send(&[0x8A, 0x80, 0, 0, 0, 0]);
            assert_eq!(bench.session.read(&mut bench.wire, now), Link::Open);
            if bench.session.on_timer(&mut bench.wire, now) == Link::Closed {
                break;
            }
        }
        assert_eq!(now, bench.t0 + canvas::ACK_TIMEOUT);
    }

    #[test]
    fn test_open_close_and_reset_end_the_session() {
        let mut bench = Bench::new();
        bench.write(&frame(1, bench.t0), 0);
        bench.frames();
        bench.fake.send(&[0x88, 0x80, 0, 0, 0, 0]);
        assert_eq!(bench.read(1), Link::Closed);
        assert_eq!(
            bench.frames().first().map(|f| f.0),
            Some(8),
            "close answered"
        );

        let mut bench = Bench::new();
        bench.fake.push(Step::Reset);
        assert_eq!(bench.read(1), Link::Closed);
    }

    #[test]
    fn test_parse_message() {
        assert_eq!(
            parse_message(r#"{"type":"ack","seq":42}"#),
            Ok(PageMessage::Ack(42))
        );
        assert!(parse_message(r#"{"type":"ack","seq":1.5}"#).is_err());
        assert!(parse_message(r#"{"seq":1}"#).is_err());
        let why = parse_message(r#"{"type":"abs","x":1,"y":1}"#).unwrap_err();
        assert!(why.contains("/ws"), "{why}");
        let view = parse_message(r#"{"type":"view","quality":"auto","max_fps":10}"#);
        let want = PageMessage::View {
            quality: Some(canvas::Choice::Auto),
            max_fps: Some(10),
        };
        assert_eq!(view, Ok(want));
        let level = parse_message(r#"{"type":"view","quality":40}"#);
        assert!(matches!(level, Ok(PageMessage::View { max_fps: None, .. })));
        for bad in [
            r#"{"type":"view","quality":"best"}"#,
            r#"{"type":"view","quality":true}"#,
            r#"{"type":"view","max_fps":-3}"#,
            r#"{"type":"view","max_fps":"x"}"#,
        ] {
            assert!(parse_message(bad).is_err(), "{bad}");
        }
    }
}

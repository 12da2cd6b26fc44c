//! Updates for the UI's canvas: binary WebSocket messages on `/ws/video`
//! (docs/API.md), each a small fixed header (kind, sequence, capture time,
//! size), kind 2's span table, then a JPEG. kv writes the WebSocket frame
//! header itself and the JPEG straight from the shared update with one
//! vectored write, as `/stream` does: tungstenite's writer would copy every
//! update for every viewer.
//!
//! What goes is built by `video::Updates` for the picture this viewer will
//! have once everything written so far arrives (`base`): TCP delivers in
//! order, so a written update needs no acknowledgement to be built on. The
//! acknowledgements pace the channel: a new update goes out only while few
//! are unacknowledged, and it is for the newest frame at that moment, so a
//! slow link gets fewer, fresher pictures and nothing queues. A page that
//! stops acknowledging gets nothing more; `poll_at` says when it has owed an
//! acknowledgement for too long.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::json;
use crate::video::fanout;
use crate::video::updates::{Quality, Update, Updates, KIND_UNCHANGED};

/// Updates written and not yet acknowledged, at most: one large one, or a
/// few small ones together under `SMALL_IN_FLIGHT` bytes. A large update
/// alone keeps a slow link's lag at one picture; small ones (typing) do not
/// each wait a round trip on a long link.
pub const MAX_IN_FLIGHT: usize = 4;
pub const SMALL_IN_FLIGHT: usize = 32 * 1024;
/// A page that has owed an acknowledgement this long is frozen or gone.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// On a still screen "unchanged" goes at most this often (40 a second, so
/// every frame of a 30 fps source despite its jitter): some 2.5 kB/s with
/// TCP's headers, and the page keeps a live picture rate and latency, as it
/// would on a changing screen.
pub const UNCHANGED_EVERY: Duration = Duration::from_millis(25);
/// How often the page gets its `stats`, and Auto reconsiders the quality.
pub const STATS_EVERY: Duration = Duration::from_secs(1);
/// The message's own header, before kind 2's spans and the JPEG.
pub const HEADER_LEN: usize = 28;
/// FIN and the binary opcode (RFC 6455 5.2).
const FIN_BINARY: u8 = 0x82;

/// The quality a page asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Fixed(Quality),
    /// kv picks from `AUTO_LEVELS` by how fast updates are acknowledged.
    Auto,
}

/// What Auto steps through, best first.
const AUTO_LEVELS: [Quality; 5] = [
    Quality::Source,
    Quality::Level(80),
    Quality::Level(60),
    Quality::Level(40),
    Quality::Level(25),
];
/// Auto steps down when the median latency of a second is above this, and
/// up after `AUTO_CALM` seconds in a row below `AUTO_FAST`.
const AUTO_SLOW: Duration = Duration::from_millis(250);
const AUTO_FAST: Duration = Duration::from_millis(100);
const AUTO_CALM: u32 = 3;

/// A page's settings: quality and a cap on updates per second (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub quality: Choice,
    pub max_fps: u32,
}

impl Default for View {
    fn default() -> View {
        View {
            quality: Choice::Fixed(Quality::Source),
            max_fps: 0,
        }
    }
}

impl View {
    /// Parses a `quality` value: "source", "auto" or 1..=100.
    pub fn parse_quality(text: &str) -> Result<Choice, String> {
        match text {
            "source" => Ok(Choice::Fixed(Quality::Source)),
            "auto" => Ok(Choice::Auto),
            n => match n.parse::<u8>() {
                Ok(level @ 1..=100) => Ok(Choice::Fixed(Quality::Level(level))),
                _ => Err(format!(
                    "quality \"{n}\" is not one of \"source\", \"auto\" or 1..100"
                )),
            },
        }
    }

    /// Parses a `max_fps` value: 0 (no cap) to 120.
    pub fn parse_max_fps(value: i64) -> Result<u32, String> {
        u32::try_from(value)
            .ok()
            .filter(|fps| *fps <= 120)
            .ok_or_else(|| format!("max_fps {value} is not 0 (no cap) to 120"))
    }

    /// The settings the `/ws/video` query asks for (`?quality=&max_fps=`).
    pub fn from_query(quality: Option<&str>, max_fps: Option<&str>) -> Result<View, String> {
        let mut view = View::default();
        if let Some(q) = quality {
            view.quality = View::parse_quality(q)?;
        }
        if let Some(fps) = max_fps {
            let fps = fps
                .parse::<i64>()
                .map_err(|_| format!("max_fps \"{fps}\" is not a number"))?;
            view.max_fps = View::parse_max_fps(fps)?;
        }
        Ok(view)
    }
}

/// What a call to `write_to` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// A whole message went out; call again (other bytes may go first).
    Sent,
    /// Nothing to send: the picture is the newest, the window is full, or
    /// the rate cap holds the next one back.
    Idle,
    /// The socket is full; wait until it is writable.
    Blocked,
}

/// One message being written: its headers, the shared update, how far it got.
struct Message {
    head: Vec<u8>,
    update: Rc<Update>,
    /// Bytes of head + JPEG already written.
    sent: usize,
}

impl Message {
    fn new(update: Rc<Update>) -> Message {
        let payload = HEADER_LEN + update.body_len();
        let mut head = Vec::with_capacity(10 + HEADER_LEN + update.spans.len());
        head.push(FIN_BINARY);
        // Server frames are not masked: the length alone, in 1, 2 or 8 bytes.
        match payload {
            0..=125 => head.push(payload as u8),
            126..=0xFFFF => {
                head.push(126);
                head.extend_from_slice(&(payload as u16).to_be_bytes());
            }
            _ => {
                head.push(127);
                head.extend_from_slice(&(payload as u64).to_be_bytes());
            }
        }
        head.extend_from_slice(&[update.kind, 0, 0, 0]);
        head.extend_from_slice(&update.seq.to_be_bytes());
        // CLOCK_MONOTONIC in µs fits 64 bits for 584,000 years of uptime.
        head.extend_from_slice(&(update.monotonic_us as u64).to_be_bytes());
        head.extend_from_slice(&update.width.to_be_bytes());
        head.extend_from_slice(&update.height.to_be_bytes());
        head.extend_from_slice(&update.spans);
        Message {
            head,
            update,
            sent: 0,
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.update.jpeg().len()
    }
}

/// Where the viewer is between updates and acknowledgements.
enum State {
    /// The window has room: the next update may go.
    Ready,
    /// A message is being written; nothing else may go on the socket until
    /// it is whole.
    Writing(Message),
    /// The window is full: nothing goes until an acknowledgement.
    AwaitingAck,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Ready => "Ready",
            State::Writing(_) => "Writing",
            State::AwaitingAck => "AwaitingAck",
        }
    }
}

/// An update written and not yet acknowledged.
struct InFlight {
    seq: u64,
    /// A picture (kind 1 or 2), not word that nothing changed.
    picture: bool,
    bytes: usize,
    written: Instant,
    captured: Instant,
}

/// What went to the page since the last `stats`.
#[derive(Default)]
struct Window {
    bytes: u64,
    updates: u32,
    /// Capture to acknowledgement, per acknowledged update.
    latencies: Vec<Duration>,
    /// The same for pictures (kinds 1 and 2) alone: what Auto steps up on.
    picture_latencies: Vec<Duration>,
}

fn median(latencies: &mut [Duration]) -> Option<Duration> {
    latencies.sort_unstable();
    latencies.get(latencies.len() / 2).copied()
}

pub struct Viewer {
    state: State,
    view: View,
    /// The quality updates are built in: the fixed choice, or Auto's pick.
    quality: Quality,
    /// Auto's seconds in a row below `AUTO_FAST`.
    calm: u32,
    /// The frame the page's picture will be once everything written
    /// arrives; `None` until the first whole frame (or after a change of
    /// quality, which needs one).
    base: Option<u64>,
    unacked: VecDeque<InFlight>,
    /// Sequence of the last update written whole: nothing later can be acked.
    last_written: Option<u64>,
    /// When the last update was written, for the rate cap and `UNCHANGED_EVERY`.
    last_sent: Option<Instant>,
    /// When the frame of the last update written whole was captured (or,
    /// before the first, of the first update begun): the page is this far behind.
    caught_up: Option<Instant>,
    window: Window,
    next_stats: Instant,
    pub updates_sent: u64,
}

impl Viewer {
    pub fn new(view: View, now: Instant) -> Viewer {
        let mut viewer = Viewer {
            state: State::Ready,
            view,
            quality: Quality::Source,
            calm: 0,
            base: None,
            unacked: VecDeque::with_capacity(MAX_IN_FLIGHT),
            last_written: None,
            last_sent: None,
            caught_up: None,
            window: Window::default(),
            next_stats: now + STATS_EVERY,
            updates_sent: 0,
        };
        viewer.set_view(view);
        viewer
    }

    fn set_state(&mut self, state: State) {
        log::trace!("canvas: state={}=>{}", self.state.name(), state.name());
        self.state = state;
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// New settings from the page; a new quality starts from a whole frame.
    pub fn set_view(&mut self, view: View) {
        let quality = match view.quality {
            Choice::Fixed(q) => q,
            // Auto keeps its pick when the page only changes the cap.
            Choice::Auto if self.view.quality == Choice::Auto => self.quality,
            Choice::Auto => Quality::Source,
        };
        self.view = view;
        self.set_quality(quality);
    }

    fn set_quality(&mut self, quality: Quality) {
        if quality != self.quality {
            self.quality = quality;
            self.base = None;
        }
        self.calm = 0;
    }

    /// Whether another update may be unacknowledged.
    fn window_has_room(&self) -> bool {
        let bytes: usize = self.unacked.iter().map(|u| u.bytes).sum();
        self.unacked.is_empty() || (self.unacked.len() < MAX_IN_FLIGHT && bytes < SMALL_IN_FLIGHT)
    }

    /// Whether the page's rate cap holds the next update back.
    fn capped(&self, now: Instant) -> bool {
        self.view.max_fps > 0
            && self
                .last_sent
                .is_some_and(|at| now < at + Duration::from_secs(1) / self.view.max_fps)
    }

    /// Whether a write now could send something up to frame `newest`.
    pub fn wants(&self, newest: u64) -> bool {
        match &self.state {
            State::Ready => self.base.is_none_or(|b| b < newest),
            State::Writing(_) => true,
            State::AwaitingAck => false,
        }
    }

    /// Whether part of a message is out: until it is whole, no other bytes
    /// may go on the socket.
    /// How far behind `newest` (a capture time) the page's picture is.
    pub fn lag(&self, newest: Instant) -> Duration {
        fanout::behind(self.caught_up, newest)
    }

    pub fn is_mid_message(&self) -> bool {
        matches!(&self.state, State::Writing(m) if m.sent > 0)
    }

    /// The page drew update `seq`; acknowledgements are cumulative (an ack
    /// covers every update written before it). Err: `seq` was never written.
    pub fn ack(&mut self, seq: u64, now: Instant) -> Result<(), String> {
        if self.last_written.is_none_or(|w| seq > w) {
            return Err(format!(
                "ack for frame {seq}, which kv has not sent; ack the \"seq\" of an update you drew"
            ));
        }
        while let Some(done) = self.unacked.front().filter(|u| u.seq <= seq) {
            let latency = now.saturating_duration_since(done.captured);
            self.window.latencies.push(latency);
            if done.picture {
                self.window.picture_latencies.push(latency);
            }
            self.unacked.pop_front();
        }
        if matches!(self.state, State::AwaitingAck) && self.window_has_room() {
            self.set_state(State::Ready);
        }
        Ok(())
    }

    /// When the oldest unacknowledged update has waited too long, or the
    /// next `stats` are due.
    pub fn poll_at(&self) -> Instant {
        let overdue = self.unacked.front().map(|u| u.written + ACK_TIMEOUT);
        overdue.map_or(self.next_stats, |t| t.min(self.next_stats))
    }

    /// Whether an update has waited `ACK_TIMEOUT` for its acknowledgement.
    pub fn ack_overdue(&self, now: Instant) -> bool {
        self.unacked
            .front()
            .is_some_and(|u| now >= u.written + ACK_TIMEOUT)
    }

    /// The `stats` message when due (`None` before): what went over the
    /// last second. Auto reconsiders its quality here.
    pub fn stats(&mut self, now: Instant) -> Option<String> {
        if now < self.next_stats {
            return None;
        }
        let elapsed = now.saturating_duration_since(self.next_stats - STATS_EVERY);
        self.next_stats = now + STATS_EVERY;
        let mut window = std::mem::take(&mut self.window);
        // An update still unacknowledged counts as late as it already is.
        let waiting = self
            .unacked
            .front()
            .map(|u| now.saturating_duration_since(u.captured));
        let latency = median(&mut window.latencies).max(waiting);
        if self.view.quality == Choice::Auto {
            let pictures = median(&mut window.picture_latencies).max(waiting);
            self.auto_step(latency, pictures);
        }
        let secs = elapsed.as_secs_f64().max(0.001);
        let quality = match self.quality {
            Quality::Source => json::quote("source"),
            Quality::Level(level) => level.to_string(),
        };
        Some(
            json::Object::new()
                .str("type", "stats")
                .num("seq", self.base.unwrap_or(0))
                .raw("quality", &quality)
                .bool("auto", self.view.quality == Choice::Auto)
                .num("max_fps", self.view.max_fps)
                .num("bytes_per_s", (window.bytes as f64 / secs).round() as u64)
                .decimal("updates_per_s", f64::from(window.updates) / secs)
                .raw(
                    "latency_ms",
                    &latency.map_or_else(|| "null".into(), |l| l.as_millis().to_string()),
                )
                .finish(),
        )
    }

    /// Auto: one level down when updates take long to be acknowledged, one
    /// up after `AUTO_CALM` seconds in a row whose pictures came quickly. A
    /// second with no picture (a still screen) says nothing about the link:
    /// stepping up on it would only send a whole frame to find out. Down,
    /// the page keeps its picture (what changes comes at the lower quality,
    /// what did not stays better): a whole frame is the last thing a link
    /// that is behind needs. Up, a whole frame brings the better quality.
    fn auto_step(&mut self, latency: Option<Duration>, pictures: Option<Duration>) {
        let at = AUTO_LEVELS.iter().position(|q| *q == self.quality);
        let at = at.unwrap_or(0);
        if latency.is_some_and(|l| l > AUTO_SLOW) {
            if at + 1 < AUTO_LEVELS.len() {
                self.quality = AUTO_LEVELS[at + 1];
                self.calm = 0;
            }
        } else if let Some(pictures) = pictures {
            if pictures < AUTO_FAST && at > 0 {
                self.calm += 1;
                if self.calm >= AUTO_CALM {
                    self.set_quality(AUTO_LEVELS[at - 1]);
                }
            } else {
                self.calm = 0;
            }
        }
    }

    /// Writes at most one message: the one begun, or the update that brings
    /// the page to the newest frame when the window has room. A message not
    /// begun yet gives way to a newer update.
    pub fn write_to<W: Write>(
        &mut self,
        out: &mut W,
        updates: &mut Updates,
        now: Instant,
    ) -> io::Result<Progress> {
        let stale = match &self.state {
            State::Writing(m) => m.sent == 0 && updates.newest_seq() > Some(m.update.seq),
            State::Ready => self.window_has_room() && !self.capped(now),
            State::AwaitingAck => false,
        };
        if stale {
            match updates.update_for(self.base, self.quality) {
                // "Unchanged" only now and then: the base stays, and the
                // next change is built from it.
                Some(u) if u.kind == KIND_UNCHANGED && !self.unchanged_due(now) => {}
                Some(update) => {
                    self.caught_up.get_or_insert(update.captured);
                    self.set_state(State::Writing(Message::new(update)))
                }
                None => {}
            }
        }
        let State::Writing(message) = &mut self.state else {
            return Ok(Progress::Idle);
        };
        let parts = [&message.head[..], message.update.jpeg()];
        if !fanout::write_parts(out, &parts, &mut message.sent)? {
            return Ok(Progress::Blocked);
        }
        let update = &message.update;
        self.unacked.push_back(InFlight {
            seq: update.seq,
            picture: update.kind != KIND_UNCHANGED,
            bytes: message.len(),
            written: now,
            captured: update.captured,
        });
        self.window.bytes += message.len() as u64;
        self.window.updates += 1;
        self.base = Some(update.seq);
        self.caught_up = Some(update.captured);
        self.last_written = Some(update.seq);
        self.last_sent = Some(now);
        self.updates_sent += 1;
        let next = if self.window_has_room() {
            State::Ready
        } else {
            State::AwaitingAck
        };
        self.set_state(next);
        crate::metrics::FRAMES_SENT.inc();
        Ok(Progress::Sent)
    }

    fn unchanged_due(&self, now: Instant) -> bool {
        self.last_sent.is_none_or(|at| now >= at + UNCHANGED_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::super::io::fake::{self, FakeStream};
    use super::*;
    use crate::testutil::screen_jpeg;
    use crate::video::updates::{KIND_CHANGES, KIND_WHOLE};
    use crate::video::{Frame, SharedFrame};

    /// A frame whose bytes are no JPEG: it goes out whole, as captured.
    fn frame(seq: u64, jpeg_len: usize, epoch: Instant) -> SharedFrame {
        let mut jpeg = vec![0xAB; jpeg_len];
        jpeg[0] = seq as u8;
        framed(seq, jpeg, epoch)
    }

    fn framed(seq: u64, jpeg: Vec<u8>, epoch: Instant) -> SharedFrame {
        let mut f = Frame::new(jpeg.into(), 640, 480, epoch);
        f.seq = seq;
        f.monotonic_us = 5_000_000 + u128::from(seq);
        Rc::new(f)
    }

    /// A viewer with its page's socket and the updates it is sent from.
    struct Bench {
        fake: FakeStream,
        wire: super::super::io::Wire<FakeStream>,
        viewer: Viewer,
        updates: Updates,
        t0: Instant,
    }

    impl Bench {
        fn new(view: View) -> Bench {
            let t0 = Instant::now();
            let (fake, wire) = fake::wire(t0);
            Bench {
                fake,
                wire,
                viewer: Viewer::new(view, t0),
                updates: Updates::default(),
                t0,
            }
        }

        fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        fn publish(&mut self, frame: &SharedFrame) {
            self.updates.on_frame(frame);
        }

        /// As the loop does: when the update waits for decoding or
        /// encoding slices, they run and the viewer is asked again.
        fn write(&mut self, ms: u64) -> Progress {
            let now = self.at(ms);
            let out = &mut self.wire.stream;
            let progress = self.viewer.write_to(out, &mut self.updates, now).unwrap();
            if progress != Progress::Idle || !self.updates.is_busy() {
                return progress;
            }
            while self.updates.is_busy() {
                self.updates.step();
            }
            let out = &mut self.wire.stream;
            self.viewer.write_to(out, &mut self.updates, now).unwrap()
        }

        /// (kind, seq, bytes after the header) of each message written.
        fn messages(&self) -> Vec<(u8, u64, Vec<u8>)> {
            messages(&self.fake.take())
        }

        fn seqs(&self) -> Vec<u64> {
            self.messages().into_iter().map(|(_, s, _)| s).collect()
        }
    }

    /// Splits what was written into messages, checking every header.
    fn messages(mut bytes: &[u8]) -> Vec<(u8, u64, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            assert_eq!(bytes[0], 0x82, "FIN + binary");
            let (len, rest) = match bytes[1] {
                126 => (
                    usize::from(u16::from_be_bytes([bytes[2], bytes[3]])),
                    &bytes[4..],
                ),
                127 => {
                    let len = u64::from_be_bytes(bytes[2..10].try_into().unwrap());
                    (len as usize, &bytes[10..])
                }
                len => {
                    assert!(len < 126, "unmasked");
                    (usize::from(len), &bytes[2..])
                }
            };
            let (body, next) = rest.split_at(len);
            assert_eq!(&body[1..4], &[0, 0, 0]);
            let seq = u64::from_be_bytes(body[4..12].try_into().unwrap());
            let us = u64::from_be_bytes(body[12..20].try_into().unwrap());
            assert_eq!(us, 5_000_000 + seq, "capture time");
            assert_eq!(&body[20..28], &[0, 0, 2, 128, 0, 0, 1, 224], "640x480");
            out.push((body[0], seq, body[HEADER_LEN..].to_vec()));
            bytes = next;
        }
        out
    }

    #[test]
    fn test_ready_large_update_then_awaits_ack() {
        let mut bench = Bench::new(View::default());
        let f1 = frame(1, 40_000, bench.t0);
        bench.publish(&f1);
        assert!(bench.viewer.wants(1));
        assert_eq!(bench.write(0), Progress::Sent);
        let got = bench.messages();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1), (KIND_WHOLE, 1));
        assert_eq!(got[0].2, f1.jpeg.to_vec(), "the JPEG follows the header");
        // No ack: frames 2 and 3 are not sent.
        bench.publish(&frame(3, 40_000, bench.t0));
        assert!(!bench.viewer.wants(3));
        assert_eq!(bench.write(10), Progress::Idle);
        assert!(bench.fake.take().is_empty());
    }

    #[test]
    fn test_awaiting_ack_ack_sends_the_newest() {
        let mut bench = Bench::new(View::default());
        bench.publish(&frame(1, 40_000, bench.t0));
        bench.write(0);
        bench.fake.take();
        bench.viewer.ack(1, bench.at(5)).unwrap();
        bench.publish(&frame(5, 40_000, bench.t0));
        assert!(bench.viewer.wants(5));
        assert_eq!(bench.write(10), Progress::Sent);
        assert_eq!(bench.seqs(), [5], "frames 2..4 skipped");
        // The same frame never goes twice.
        bench.viewer.ack(5, bench.at(20)).unwrap();
        assert!(!bench.viewer.wants(5));
        assert_eq!(bench.write(20), Progress::Idle);
    }

    #[test]
    fn test_ready_small_updates_share_the_window() {
        let mut bench = Bench::new(View::default());
        for seq in 1..=6 {
            bench.publish(&frame(seq, 100, bench.t0));
            bench.write(seq);
        }
        assert_eq!(
            bench.seqs(),
            [1, 2, 3, 4],
            "four small ones in flight, no more"
        );
        bench.viewer.ack(2, bench.at(10)).unwrap();
        assert_eq!(bench.write(10), Progress::Sent);
        assert_eq!(bench.seqs(), [6]);
    }

    #[test]
    fn test_awaiting_ack_bad_acks_are_errors_not_panics() {
        let mut bench = Bench::new(View::default());
        assert!(bench.viewer.ack(0, bench.t0).is_err(), "nothing sent yet");
        bench.publish(&frame(7, 40_000, bench.t0));
        bench.write(0);
        let why = bench.viewer.ack(8, bench.t0).unwrap_err();
        assert!(why.contains("frame 8"), "{why}");
        assert!(bench.viewer.ack(u64::MAX, bench.t0).is_err());
        // An old ack is harmless and opens nothing.
        bench.viewer.ack(3, bench.t0).unwrap();
        assert!(!bench.viewer.wants(9));
        bench.viewer.ack(7, bench.t0).unwrap();
        assert!(bench.viewer.wants(9));
    }

    #[test]
    fn test_writing_short_writes_and_would_block_resume() {
        let mut bench = Bench::new(View::default());
        // 70,000 bytes of JPEG: a 64-bit length, written 1,000 bytes at a time.
        bench.publish(&frame(1, 70_000, bench.t0));
        bench.fake.script().room = Some(5);
        assert_eq!(bench.write(0), Progress::Blocked);
        assert!(bench.viewer.is_mid_message());
        // A newer frame does not cut into a message begun.
        bench.publish(&frame(2, 10, bench.t0));
        let mut steps = 0;
        loop {
            bench.fake.script().room = Some(1000);
            match bench.write(1) {
                Progress::Blocked => steps += 1,
                Progress::Sent => break,
                Progress::Idle => panic!("the message was dropped"),
            }
        }
        assert!(steps > 60, "{steps} short writes");
        let got = bench.messages();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].1, got[0].2.len()), (1, 70_000));
        assert!(!bench.viewer.is_mid_message());
        assert_eq!(bench.viewer.updates_sent, 1);
    }

    #[test]
    fn test_writing_not_begun_gives_way_to_newest() {
        let mut bench = Bench::new(View::default());
        bench.fake.script().room = Some(0);
        bench.publish(&frame(1, 300, bench.t0));
        assert_eq!(bench.write(0), Progress::Blocked);
        assert!(!bench.viewer.is_mid_message());
        bench.fake.script().room = None;
        bench.publish(&frame(4, 300, bench.t0));
        assert_eq!(bench.write(1), Progress::Sent);
        assert_eq!(bench.seqs(), [4]);
        assert!(
            bench.viewer.ack(1, bench.at(2)).is_ok(),
            "covered by 4, never sent alone"
        );
    }

    #[test]
    fn test_awaiting_ack_times_out_on_virtual_time() {
        let mut bench = Bench::new(View::default());
        assert_eq!(
            bench.viewer.poll_at(),
            bench.t0 + STATS_EVERY,
            "nothing owed"
        );
        bench.publish(&frame(1, 40_000, bench.t0));
        bench.write(2000);
        let sent = bench.at(2000);
        assert!(!bench
            .viewer
            .ack_overdue(sent + ACK_TIMEOUT - Duration::from_millis(1)));
        assert!(bench.viewer.ack_overdue(sent + ACK_TIMEOUT));
        bench.viewer.ack(1, bench.at(2100)).unwrap();
        assert!(!bench.viewer.ack_overdue(sent + ACK_TIMEOUT));
    }

    #[test]
    fn test_ready_rate_cap_holds_updates_back() {
        let view = View {
            max_fps: 10,
            ..View::default()
        };
        let mut bench = Bench::new(view);
        bench.publish(&frame(1, 100, bench.t0));
        assert_eq!(bench.write(0), Progress::Sent);
        bench.publish(&frame(2, 100, bench.t0));
        assert_eq!(bench.write(50), Progress::Idle, "100 ms between updates");
        assert_eq!(bench.write(100), Progress::Sent);
        assert_eq!(bench.seqs(), [1, 2]);
    }

    #[test]
    fn test_ready_still_screen_sends_unchanged_at_most_40_a_second() {
        let mut bench = Bench::new(View::default());
        let jpeg = screen_jpeg(64, 32, (2, 1), None);
        bench.publish(&framed(1, jpeg.clone(), bench.t0));
        bench.write(0);
        // A 60 fps source, every update acknowledged at once.
        for seq in 2..=13 {
            bench.publish(&framed(seq, jpeg.clone(), bench.t0));
            let ms = 16 * (seq - 1);
            if bench.write(ms) == Progress::Sent {
                bench.viewer.ack(seq, bench.at(ms)).unwrap();
            }
        }
        let kinds: Vec<(u8, u64)> = bench.messages().iter().map(|m| (m.0, m.1)).collect();
        let want =
            [1, 3, 5, 7, 9, 11, 13].map(|s| (if s == 1 { KIND_WHOLE } else { KIND_UNCHANGED }, s));
        assert_eq!(kinds, want, "one 'unchanged' per 25 ms at most");
    }

    #[test]
    fn test_ready_change_goes_as_changed_areas() {
        let mut bench = Bench::new(View::default());
        let old = screen_jpeg(640, 480, (2, 1), None);
        let new = screen_jpeg(640, 480, (2, 1), Some((100, 100, 20, 10)));
        bench.publish(&framed(1, old, bench.t0));
        bench.write(0);
        bench.viewer.ack(1, bench.at(20)).unwrap();
        bench.publish(&framed(2, new.clone(), bench.t0));
        bench.write(33);
        let got = bench.messages();
        assert_eq!(got.len(), 2);
        let (kind, seq, body) = &got[1];
        assert_eq!((*kind, *seq), (KIND_CHANGES, 2));
        assert!(
            body.len() < new.len() / 10,
            "{} bytes of {}",
            body.len(),
            new.len()
        );
        assert_eq!(&body[..4], &[0, 16, 0, 8], "MCU 16x8 for 4:2:2");
    }

    #[test]
    fn test_view_new_quality_sends_whole_frame() {
        let mut bench = Bench::new(View::default());
        let jpeg = screen_jpeg(640, 480, (2, 1), None);
        bench.publish(&framed(1, jpeg.clone(), bench.t0));
        bench.write(0);
        bench.viewer.ack(1, bench.at(10)).unwrap();
        bench.viewer.set_view(View {
            quality: Choice::Fixed(Quality::Level(30)),
            max_fps: 0,
        });
        assert!(
            bench.viewer.wants(1),
            "the same frame again, at the new quality"
        );
        bench.write(20);
        let got = bench.messages();
        assert_eq!((got[1].0, got[1].1), (KIND_WHOLE, 1));
        assert!(
            got[1].2.len() * 2 < got[0].2.len(),
            "lower quality, fewer bytes"
        );
    }

    #[test]
    fn test_stats_and_auto_steps_down_on_a_slow_link() {
        let view = View {
            quality: Choice::Auto,
            max_fps: 0,
        };
        let mut bench = Bench::new(view);
        bench.publish(&frame(1, 40_000, bench.t0));
        bench.write(0);
        // Acknowledged 400 ms after capture: too slow, Auto steps down.
        bench.viewer.ack(1, bench.at(400)).unwrap();
        let stats = bench
            .viewer
            .stats(bench.at(1000))
            .expect("due after a second");
        let stats = crate::json::Value::parse(&stats).unwrap();
        assert_eq!(stats.get("type").and_then(|v| v.as_str()), Some("stats"));
        assert_eq!(stats.get("latency_ms").and_then(|v| v.as_i64()), Some(400));
        // The JPEG, the 28-byte header and a 4-byte WebSocket header.
        assert_eq!(
            stats.get("bytes_per_s").and_then(|v| v.as_i64()),
            Some(40_032)
        );
        assert_eq!(stats.get("auto").and_then(|v| v.as_bool()), Some(true));
        assert!(
            bench.viewer.stats(bench.at(1500)).is_none(),
            "once a second"
        );
        assert_eq!(bench.viewer.quality, Quality::Level(80));
        assert!(!bench.viewer.wants(1), "the page keeps its picture");
    }

    #[test]
    fn test_auto_steps_down_without_a_whole_frame() {
        let view = View {
            quality: Choice::Auto,
            max_fps: 0,
        };
        let mut bench = Bench::new(view);
        let old = screen_jpeg(640, 480, (2, 1), None);
        let new = screen_jpeg(640, 480, (2, 1), Some((100, 100, 20, 10)));
        bench.publish(&framed(1, old, bench.t0));
        bench.write(0);
        bench.viewer.ack(1, bench.at(400)).unwrap();
        bench.viewer.stats(bench.at(1000));
        assert_eq!(bench.viewer.quality, Quality::Level(80), "stepped down");
        bench.publish(&framed(2, new, bench.at(1000)));
        bench.write(1000);
        let kinds: Vec<(u8, u64)> = bench.messages().iter().map(|m| (m.0, m.1)).collect();
        assert_eq!(kinds, [(KIND_WHOLE, 1), (KIND_CHANGES, 2)]);
    }

    #[test]
    fn test_auto_still_screen_does_not_step_up() {
        let view = View {
            quality: Choice::Auto,
            max_fps: 0,
        };
        let mut bench = Bench::new(view);
        bench.viewer.set_quality(Quality::Level(80));
        let jpeg = screen_jpeg(64, 32, (2, 1), None);
        let mut ms = 0;
        for seq in 1..=200 {
            ms += 33;
            bench.publish(&framed(seq, jpeg.clone(), bench.at(ms)));
            if bench.write(ms) == Progress::Sent {
                bench.viewer.ack(seq, bench.at(ms + 5)).unwrap();
            }
            bench.viewer.stats(bench.at(ms + 5));
        }
        assert_eq!(
            bench.viewer.quality,
            Quality::Level(80),
            "only 'unchanged' came"
        );
        // Pictures acknowledged quickly for AUTO_CALM seconds: one step up.
        for seq in 201..=320 {
            ms += 33;
            bench.publish(&frame(seq, 100, bench.at(ms)));
            if bench.write(ms) == Progress::Sent {
                bench.viewer.ack(seq, bench.at(ms + 5)).unwrap();
            }
            bench.viewer.stats(bench.at(ms + 5));
        }
        assert_eq!(bench.viewer.quality, Quality::Source);
    }

    #[test]
    fn test_view_parsing() {
        assert_eq!(View::parse_quality("auto"), Ok(Choice::Auto));
        assert_eq!(
            View::parse_quality("60"),
            Ok(Choice::Fixed(Quality::Level(60)))
        );
        for bad in ["0", "101", "high", ""] {
            let why = View::parse_quality(bad).unwrap_err();
            assert!(why.contains("source"), "{why}");
        }
        assert!(View::parse_max_fps(-1).is_err());
        assert!(View::from_query(None, Some("x")).is_err());
        let view = View::from_query(Some("source"), Some("15")).unwrap();
        assert_eq!(
            (view.quality, view.max_fps),
            (Choice::Fixed(Quality::Source), 15)
        );
    }

    #[test]
    fn test_header_lengths_at_the_boundaries() {
        let t0 = Instant::now();
        for (jpeg, head) in [(97, 2), (98, 4), (65_535 - 28, 4), (65_536 - 28, 10)] {
            let mut updates = Updates::default();
            updates.on_frame(&frame(1, jpeg, t0));
            let update = updates.update_for(None, Quality::Source).unwrap();
            let m = Message::new(update);
            assert_eq!(m.head.len(), head + HEADER_LEN, "JPEG of {jpeg} bytes");
        }
    }
}

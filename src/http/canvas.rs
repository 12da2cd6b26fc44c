//! Frames for the UI's canvas: binary WebSocket messages on `/ws/video`
//! (docs/API.md), each a small fixed header (sequence, capture time, size)
//! followed by the JPEG. kv writes the WebSocket frame header itself and the
//! JPEG straight from the shared frame with one vectored write, as `/stream`
//! does: tungstenite's writer would copy every frame for every viewer.
//!
//! The page acknowledges each frame once it has drawn it. A new frame goes out
//! only while fewer than `WINDOW` are unacknowledged, and it is the newest at
//! that moment, so a slow link gets fewer, fresher pictures and nothing queues.
//! A page that stops acknowledging gets nothing more; `poll_at` says when it
//! has owed an acknowledgement for too long.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::video::{fanout, SharedFrame};

/// Frames written and not yet acknowledged, at most. One keeps a slow link's
/// lag at one frame; it costs a round trip per frame, which bounds the rate
/// on a long link (below 10 fps at 100 ms; bench/README.md).
pub const WINDOW: usize = 1;
/// A page that has owed an acknowledgement this long is frozen or gone.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// The message's own header, before the JPEG.
pub const HEADER_LEN: usize = 28;
/// Byte 0 of a message holding one whole JPEG frame. Other kinds may come
/// (changed regions only); a page skips kinds it does not know.
pub const KIND_FRAME: u8 = 1;
/// FIN and the binary opcode (RFC 6455 5.2).
const FIN_BINARY: u8 = 0x82;

/// What a call to `write_to` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// A whole message went out; call again (other bytes may go first).
    Sent,
    /// Nothing to send: no newer frame, or the window is full.
    Idle,
    /// The socket is full; wait until it is writable.
    Blocked,
}

/// One message being written: its headers, the shared frame, how far it got.
struct Message {
    head: Vec<u8>,
    frame: SharedFrame,
    /// Bytes of head + JPEG already written.
    sent: usize,
}

impl Message {
    fn new(frame: &SharedFrame) -> Message {
        let payload = HEADER_LEN + frame.jpeg.len();
        let mut head = Vec::with_capacity(10 + HEADER_LEN);
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
        head.extend_from_slice(&[KIND_FRAME, 0, 0, 0]);
        head.extend_from_slice(&frame.seq.to_be_bytes());
        // CLOCK_MONOTONIC in µs fits 64 bits for 584,000 years of uptime.
        head.extend_from_slice(&(frame.monotonic_us as u64).to_be_bytes());
        head.extend_from_slice(&frame.width.to_be_bytes());
        head.extend_from_slice(&frame.height.to_be_bytes());
        Message {
            head,
            frame: frame.clone(),
            sent: 0,
        }
    }
}

/// Where the viewer is between frames and acknowledgements.
enum State {
    /// Fewer than `WINDOW` frames unacknowledged: the next newer frame may go.
    Ready,
    /// A message is being written; nothing else may go on the socket until
    /// it is whole.
    Writing(Message),
    /// `WINDOW` frames await their acknowledgements: nothing goes.
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

pub struct Viewer {
    state: State,
    /// Frames written and not acknowledged, oldest first, with when each
    /// was written.
    unacked: VecDeque<(u64, Instant)>,
    /// Sequence of the last frame begun: a frame goes out once at most.
    last_seq: Option<u64>,
    /// Sequence of the last frame written whole: nothing later can be acked.
    last_written: Option<u64>,
    pub frames_sent: u64,
}

impl Default for Viewer {
    fn default() -> Viewer {
        Viewer {
            state: State::Ready,
            unacked: VecDeque::with_capacity(WINDOW),
            last_seq: None,
            last_written: None,
            frames_sent: 0,
        }
    }
}

impl Viewer {
    fn set_state(&mut self, state: State) {
        log::trace!("canvas: state={}=>{}", self.state.name(), state.name());
        self.state = state;
    }

    fn is_newer(&self, frame: &SharedFrame) -> bool {
        self.last_seq.is_none_or(|s| s < frame.seq)
    }

    /// Whether a write now would send something of `latest`.
    pub fn wants(&self, latest: &SharedFrame) -> bool {
        match &self.state {
            State::Ready => self.is_newer(latest),
            State::Writing(_) => true,
            State::AwaitingAck => false,
        }
    }

    /// Whether part of a message is out: until it is whole, no other bytes
    /// may go on the socket.
    pub fn is_mid_message(&self) -> bool {
        matches!(&self.state, State::Writing(m) if m.sent > 0)
    }

    /// The page drew frame `seq`; acknowledgements are cumulative (an ack
    /// covers every frame written before it). Err: `seq` was never written.
    pub fn ack(&mut self, seq: u64) -> Result<(), String> {
        if self.last_written.is_none_or(|w| seq > w) {
            return Err(format!(
                "ack for frame {seq}, which kv has not sent; ack the \"seq\" of a frame you drew"
            ));
        }
        while self.unacked.front().is_some_and(|(s, _)| *s <= seq) {
            self.unacked.pop_front();
        }
        if matches!(self.state, State::AwaitingAck) && self.unacked.len() < WINDOW {
            self.set_state(State::Ready);
        }
        Ok(())
    }

    /// When the oldest unacknowledged frame has waited too long.
    pub fn poll_at(&self) -> Option<Instant> {
        self.unacked.front().map(|(_, at)| *at + ACK_TIMEOUT)
    }

    /// Writes at most one message: the one begun, or `latest` when the window
    /// has room and it is newer than the last one begun. A message not begun
    /// yet gives way to a newer frame.
    pub fn write_to<W: Write>(
        &mut self,
        out: &mut W,
        latest: Option<&SharedFrame>,
        now: Instant,
    ) -> io::Result<Progress> {
        let newer = latest.filter(|l| self.is_newer(l));
        match (&mut self.state, newer) {
            (State::Ready, Some(frame)) => {
                self.last_seq = Some(frame.seq);
                self.set_state(State::Writing(Message::new(frame)));
            }
            (State::Writing(message), Some(frame)) if message.sent == 0 => {
                self.last_seq = Some(frame.seq);
                *message = Message::new(frame);
            }
            (State::Writing(_), _) => {}
            (State::Ready | State::AwaitingAck, _) => return Ok(Progress::Idle),
        }
        let State::Writing(message) = &mut self.state else {
            return Ok(Progress::Idle);
        };
        let parts = [&message.head[..], &message.frame.jpeg[..]];
        if !fanout::write_parts(out, &parts, &mut message.sent)? {
            return Ok(Progress::Blocked);
        }
        self.unacked.push_back((message.frame.seq, now));
        self.last_written = Some(message.frame.seq);
        self.frames_sent += 1;
        let next = if self.unacked.len() < WINDOW {
            State::Ready
        } else {
            State::AwaitingAck
        };
        self.set_state(next);
        Ok(Progress::Sent)
    }
}

#[cfg(test)]
mod tests {
    use super::super::io::fake::{self, FakeStream};
    use super::*;
    use crate::video::Frame;
    use std::rc::Rc;

    fn frame(seq: u64, jpeg_len: usize, epoch: Instant) -> SharedFrame {
        let mut jpeg = vec![0xAB; jpeg_len];
        jpeg[0] = seq as u8;
        let mut f = Frame::new(jpeg.into(), 640, 480, epoch);
        f.seq = seq;
        f.monotonic_us = 5_000_000 + u128::from(seq);
        Rc::new(f)
    }

    /// Splits what was written into (seq, JPEG) per message, checking every
    /// header on the way.
    fn messages(mut bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
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
            assert_eq!(&body[..4], &[KIND_FRAME, 0, 0, 0]);
            let seq = u64::from_be_bytes(body[4..12].try_into().unwrap());
            let us = u64::from_be_bytes(body[12..20].try_into().unwrap());
            assert_eq!(us, 5_000_000 + seq, "capture time");
            assert_eq!(&body[20..28], &[0, 0, 2, 128, 0, 0, 1, 224], "640x480");
            out.push((seq, body[HEADER_LEN..].to_vec()));
            bytes = next;
        }
        out
    }

    fn seqs(fake: &FakeStream) -> Vec<u64> {
        messages(&fake.take()).into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn test_ready_sends_newest_then_awaits_ack() {
        let t0 = Instant::now();
        let (fake, mut wire) = fake::wire(t0);
        let mut viewer = Viewer::default();
        let f1 = frame(1, 100, t0);
        assert!(viewer.wants(&f1));
        let sent = viewer.write_to(&mut wire.stream, Some(&f1), t0).unwrap();
        assert_eq!(sent, Progress::Sent);
        let got = messages(&fake.take());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1, f1.jpeg.to_vec(), "the JPEG follows the header");
        // No ack: frames 2 and 3 are not sent, and nothing is held for them.
        let f3 = frame(3, 100, t0);
        assert!(!viewer.wants(&f3));
        let idle = viewer.write_to(&mut wire.stream, Some(&f3), t0).unwrap();
        assert_eq!(idle, Progress::Idle);
        assert!(fake.take().is_empty());
        assert_eq!(Rc::strong_count(&f3), 1, "nothing queued");
    }

    #[test]
    fn test_awaiting_ack_ack_sends_the_newest() {
        let t0 = Instant::now();
        let (fake, mut wire) = fake::wire(t0);
        let mut viewer = Viewer::default();
        viewer
            .write_to(&mut wire.stream, Some(&frame(1, 10, t0)), t0)
            .unwrap();
        fake.take();
        viewer.ack(1).unwrap();
        let f5 = frame(5, 10, t0);
        assert!(viewer.wants(&f5));
        assert_eq!(
            viewer.write_to(&mut wire.stream, Some(&f5), t0).unwrap(),
            Progress::Sent
        );
        assert_eq!(seqs(&fake), [5], "frames 2..4 skipped");
        // The same frame never goes twice.
        viewer.ack(5).unwrap();
        assert!(!viewer.wants(&f5));
        assert_eq!(
            viewer.write_to(&mut wire.stream, Some(&f5), t0).unwrap(),
            Progress::Idle
        );
    }

    #[test]
    fn test_awaiting_ack_bad_acks_are_errors_not_panics() {
        let t0 = Instant::now();
        let (_fake, mut wire) = fake::wire(t0);
        let mut viewer = Viewer::default();
        assert!(viewer.ack(0).is_err(), "nothing sent yet");
        viewer
            .write_to(&mut wire.stream, Some(&frame(7, 10, t0)), t0)
            .unwrap();
        let why = viewer.ack(8).unwrap_err();
        assert!(why.contains("frame 8"), "{why}");
        assert!(viewer.ack(u64::MAX).is_err());
        // An old ack is harmless and opens nothing.
        viewer.ack(3).unwrap();
        assert!(!viewer.wants(&frame(9, 10, t0)));
        viewer.ack(7).unwrap();
        assert!(viewer.wants(&frame(9, 10, t0)));
    }

    #[test]
    fn test_writing_short_writes_and_would_block_resume() {
        let t0 = Instant::now();
        let (fake, mut wire) = fake::wire(t0);
        let mut viewer = Viewer::default();
        // 70,000 bytes of JPEG: a 64-bit length, written 1,000 bytes at a time.
        let f1 = frame(1, 70_000, t0);
        fake.script().room = Some(5);
        let step = viewer.write_to(&mut wire.stream, Some(&f1), t0).unwrap();
        assert_eq!(step, Progress::Blocked);
        assert!(viewer.is_mid_message());
        // A newer frame does not cut into a message begun.
        let f2 = frame(2, 10, t0);
        let mut steps = 0;
        loop {
            fake.script().room = Some(1000);
            match viewer.write_to(&mut wire.stream, Some(&f2), t0).unwrap() {
                Progress::Blocked => steps += 1,
                Progress::Sent => break,
                Progress::Idle => panic!("the message was dropped"),
            }
        }
        assert!(steps > 60, "{steps} short writes");
        let got = messages(&fake.take());
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1.len()), (1, 70_000));
        assert!(!viewer.is_mid_message());
        assert_eq!(viewer.frames_sent, 1);
    }

    #[test]
    fn test_writing_not_begun_gives_way_to_newest() {
        let t0 = Instant::now();
        let (fake, mut wire) = fake::wire(t0);
        let mut viewer = Viewer::default();
        fake.script().room = Some(0);
        let f1 = frame(1, 300, t0);
        let step = viewer.write_to(&mut wire.stream, Some(&f1), t0).unwrap();
        assert_eq!(step, Progress::Blocked);
        assert!(!viewer.is_mid_message());
        fake.script().room = None;
        let f4 = frame(4, 300, t0);
        let step = viewer.write_to(&mut wire.stream, Some(&f4), t0).unwrap();
        assert_eq!(step, Progress::Sent);
        assert_eq!(seqs(&fake), [4]);
        assert_eq!(Rc::strong_count(&f1), 1, "the unsent frame is let go");
        assert!(viewer.ack(1).is_ok(), "covered by 4, never sent alone");
    }

    #[test]
    fn test_awaiting_ack_times_out_on_virtual_time() {
        let t0 = Instant::now();
        let (_fake, mut wire) = fake::wire(t0);
        let mut viewer = Viewer::default();
        assert_eq!(viewer.poll_at(), None, "nothing owed");
        let t1 = t0 + Duration::from_secs(2);
        viewer
            .write_to(&mut wire.stream, Some(&frame(1, 10, t0)), t1)
            .unwrap();
        assert_eq!(viewer.poll_at(), Some(t1 + ACK_TIMEOUT));
        viewer.ack(1).unwrap();
        assert_eq!(viewer.poll_at(), None);
    }

    #[test]
    fn test_header_lengths_at_the_boundaries() {
        let t0 = Instant::now();
        for (jpeg, head) in [(97, 2), (98, 4), (65_535 - 28, 4), (65_536 - 28, 10)] {
            let m = Message::new(&frame(1, jpeg, t0));
            assert_eq!(m.head.len(), head + HEADER_LEN, "JPEG of {jpeg} bytes");
        }
    }
}

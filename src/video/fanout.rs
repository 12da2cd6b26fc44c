//! Fan-out of frames to MJPEG viewers (`multipart/x-mixed-replace`). A viewer
//! holds a reference to the frame it is sending and how far it got; the JPEG
//! bytes are written straight from the shared frame with `write_vectored`
//! beside a small per-viewer part header. When a part is done the viewer jumps
//! to the newest frame: a slow viewer skips frames, nothing queues, and memory
//! stays bounded by viewers × one frame.

use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

use super::SharedFrame;

pub const BOUNDARY: &str = "kvframe";
/// Sent right after each frame: browsers show a part only once the next
/// boundary arrives.
const PART_END: &[u8] = b"\r\n--kvframe\r\n";

/// The body's first bytes, after the response head.
pub const BODY_START: &[u8] = b"--kvframe\r\n";

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// The socket took everything; the viewer waits for a newer frame.
    Idle,
    /// The socket is full; wait until it is writable.
    Blocked,
}

#[derive(Default)]
pub struct Viewer {
    frame: Option<SharedFrame>,
    head: Vec<u8>,
    /// Bytes of head + jpeg + PART_END already written.
    sent: usize,
    /// Sequence number of the last frame started.
    last_seq: Option<u64>,
    /// When the newest frame this viewer was up to date with was captured:
    /// the last one it got whole, or before that the first it was offered.
    caught_up: Option<Instant>,
    pub frames_sent: u64,
}

impl Viewer {
    /// Whether the viewer is between parts.
    pub fn is_idle(&self) -> bool {
        self.frame.is_none()
    }

    /// How far behind `newest` (a capture time) the viewer's picture is.
    pub fn lag(&self, newest: Instant) -> Duration {
        behind(self.caught_up, newest)
    }

    /// Starts sending `latest` if idle and it is newer than the last frame sent.
    pub fn offer(&mut self, latest: &SharedFrame) {
        if self.frame.is_some() || self.last_seq.is_some_and(|s| s >= latest.seq) {
            return;
        }
        self.head.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            self.head,
            "Content-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame-Seq: {}\r\nX-Timestamp-Us: {}\r\n\r\n",
            latest.jpeg.len(),
            latest.seq,
            latest.monotonic_us
        );
        if let Some(last) = self.last_seq {
            crate::metrics::FRAMES_SKIPPED.add(latest.seq - last - 1);
        }
        self.last_seq = Some(latest.seq);
        self.caught_up.get_or_insert(latest.captured);
        self.frame = Some(latest.clone());
        self.sent = 0;
    }

    /// Writes the current part as far as `out` accepts; when a part completes,
    /// moves on to `latest` if it is newer.
    pub fn write_to<W: Write>(
        &mut self,
        out: &mut W,
        latest: Option<&SharedFrame>,
    ) -> io::Result<Progress> {
        loop {
            // A part not begun yet gives way to a newer frame: a viewer whose
            // socket was full when the frame came sends what is newest when
            // the socket drains, not what was newest then.
            if self.sent == 0 {
                if let (Some(frame), Some(l)) = (&self.frame, latest) {
                    if l.seq > frame.seq {
                        self.frame = None;
                        self.offer(l);
                    }
                }
            }
            let Some(frame) = &self.frame else {
                match latest {
                    Some(l) if self.last_seq.is_none_or(|s| s < l.seq) => {
                        self.offer(l);
                        continue;
                    }
                    _ => return Ok(Progress::Idle),
                }
            };
            let parts = [&self.head[..], &frame.jpeg[..], PART_END];
            if !write_parts(out, &parts, &mut self.sent)? {
                return Ok(Progress::Blocked);
            }
            self.caught_up = Some(frame.captured);
            self.frame = None;
            self.frames_sent += 1;
            crate::metrics::FRAMES_SENT.inc();
        }
    }
}

/// How far a viewer that was last up to date with a frame captured at
/// `caught_up` is behind a frame captured at `newest`: zero before it had any.
pub fn behind(caught_up: Option<Instant>, newest: Instant) -> Duration {
    caught_up.map_or(Duration::ZERO, |t| newest.saturating_duration_since(t))
}

/// Writes `parts` (a message's small header and the shared frame bytes,
/// never copied together) from byte `sent` on, vectored, as far as `out`
/// takes them. `Ok(true)`: all written; `Ok(false)`: the socket is full.
pub fn write_parts<W: Write>(out: &mut W, parts: &[&[u8]], sent: &mut usize) -> io::Result<bool> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    while *sent < total {
        let mut skip = *sent;
        let mut slices = Vec::with_capacity(parts.len());
        for p in parts {
            if skip >= p.len() {
                skip -= p.len();
            } else {
                slices.push(IoSlice::new(&p[skip..]));
                skip = 0;
            }
        }
        match out.write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::Frame;
    use std::rc::Rc;
    use std::time::Instant;

    /// Accepts at most `room` bytes, then WouldBlock.
    struct Socket {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for Socket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn frame(seq: u64, epoch: Instant) -> SharedFrame {
        let mut f = Frame::new(vec![0xff, 0xd8, seq as u8, 0xff, 0xd9].into(), 1, 1, epoch);
        f.seq = seq;
        f.monotonic_us = 1_000_000 + seq as u128;
        Rc::new(f)
    }

    #[test]
    fn test_idle_offer_writes_whole_part() {
        let epoch = Instant::now();
        let mut v = Viewer::default();
        let mut s = Socket {
            data: Vec::new(),
            room: 1 << 20,
        };
        let f1 = frame(1, epoch);
        assert_eq!(v.write_to(&mut s, Some(&f1)).unwrap(), Progress::Idle);
        let text = String::from_utf8_lossy(&s.data).to_string();
        assert!(
            text.starts_with("Content-Type: image/jpeg\r\nContent-Length: 5\r\nX-Frame-Seq: 1\r\nX-Timestamp-Us: 1000001\r\n\r\n")
        );
        assert!(s.data.ends_with(b"\xff\xd8\x01\xff\xd9\r\n--kvframe\r\n"));
        assert_eq!(v.frames_sent, 1);
        // The same frame is not sent twice.
        assert_eq!(v.write_to(&mut s, Some(&f1)).unwrap(), Progress::Idle);
        assert_eq!(v.frames_sent, 1);
    }

    #[test]
    fn test_lag_grows_while_blocked_and_ends_when_caught_up() {
        let epoch = Instant::now();
        let at = |ms| epoch + Duration::from_millis(ms);
        let mut v = Viewer::default();
        assert_eq!(v.lag(at(500)), Duration::ZERO, "nothing offered yet");
        let mut s = Socket {
            data: Vec::new(),
            room: 10,
        };
        let f1 = frame(1, at(0));
        assert_eq!(v.write_to(&mut s, Some(&f1)).unwrap(), Progress::Blocked);
        // Stuck on its first frame: behind by the age of the newest capture.
        assert_eq!(v.lag(at(400)), Duration::from_millis(400));
        s.room = 1 << 20;
        let f9 = frame(9, at(300));
        assert_eq!(v.write_to(&mut s, Some(&f9)).unwrap(), Progress::Idle);
        assert_eq!(v.lag(at(300)), Duration::ZERO, "caught up with frame 9");
        assert_eq!(v.lag(at(340)), Duration::from_millis(40));
    }

    #[test]
    fn test_blocked_viewer_skips_to_newest() {
        let epoch = Instant::now();
        let mut v = Viewer::default();
        let mut s = Socket {
            data: Vec::new(),
            room: 10,
        };
        let f1 = frame(1, epoch);
        assert_eq!(v.write_to(&mut s, Some(&f1)).unwrap(), Progress::Blocked);
        // Frames 2..4 arrive while blocked; only 4 follows frame 1.
        let f4 = frame(4, epoch);
        s.room = 1 << 20;
        assert_eq!(v.write_to(&mut s, Some(&f4)).unwrap(), Progress::Idle);
        let text = String::from_utf8_lossy(&s.data).to_string();
        assert!(text.contains("X-Frame-Seq: 1\r\n") && text.contains("X-Frame-Seq: 4\r\n"));
        assert!(!text.contains("X-Frame-Seq: 2"));
        assert_eq!(v.frames_sent, 2);
        assert_eq!(Rc::strong_count(&f1), 1, "the old frame is no longer held");
    }

    #[test]
    fn test_full_socket_part_not_begun_gives_way_to_newest() {
        let epoch = Instant::now();
        let mut v = Viewer::default();
        let mut s = Socket {
            data: Vec::new(),
            room: 0,
        };
        let f1 = frame(1, epoch);
        v.offer(&f1);
        assert_eq!(v.write_to(&mut s, Some(&f1)).unwrap(), Progress::Blocked);
        // The socket drains after frames 2 and 3 came: 3 goes out, never 1.
        let f3 = frame(3, epoch);
        s.room = 1 << 20;
        assert_eq!(v.write_to(&mut s, Some(&f3)).unwrap(), Progress::Idle);
        let text = String::from_utf8_lossy(&s.data).to_string();
        assert!(
            text.starts_with("Content-Type: image/jpeg\r\nContent-Length: 5\r\nX-Frame-Seq: 3\r\n")
        );
        assert!(!text.contains("X-Frame-Seq: 1\r\n"));
        assert_eq!(v.frames_sent, 1);
        assert_eq!(
            Rc::strong_count(&f1),
            1,
            "the unsent frame is no longer held"
        );
    }
}

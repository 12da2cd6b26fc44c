//! The target's serial console (`--serial`): the gadget's CDC ACM port seen
//! from the board's side (`/dev/ttyGSn`; the target sees `/dev/ttyACM0` or
//! a COM port), or the demo target's little shell. What the target writes
//! goes into a `Scrollback` that every console viewer reads at its own pace
//! (`http::serial_session`); what viewers type waits in a bounded queue
//! until the line takes it.
//!
//! Input and output are the two halves of the console and stay apart here:
//! `send` (input, an operator's action) and `output_since` (output, what a
//! viewer may see) are the only ways in and out.

pub mod scrollback;
pub mod shell;
pub mod tty;

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::os::fd::RawFd;
use std::time::Instant;

use scrollback::{Scrollback, Since};

/// Recent output kept for viewers: a new viewer sees this much of it.
pub const SCROLLBACK: usize = 64 * 1024;
/// Typed bytes the line has not taken yet; a viewer typing (or pasting)
/// faster waits (`send` takes only what fits).
pub const INPUT_QUEUE: usize = 16 * 1024;

/// One side of the line: the gadget's tty or the demo's shell.
pub trait Port {
    /// What the target wrote; `WouldBlock` when nothing waits.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Bytes for the target; `WouldBlock` when the line is full.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// The descriptor to poll, while there is one (a simulated line, which
    /// answers as it is written to, has none).
    fn fd(&self) -> Option<RawFd> {
        None
    }
    /// Counts each time the descriptor is replaced (the same number may come
    /// back for a new file), so the loop registers it afresh.
    fn fd_epoch(&self) -> u64 {
        0
    }
    /// The port lost its file (the host hung up): when to try again.
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    /// Its time came: open the file again.
    fn on_timer(&mut self, _now: Instant) {}
    /// Where it is, for the status.
    fn name(&self) -> String;
}

pub struct Serial {
    port: Box<dyn Port>,
    output: Scrollback,
    input: VecDeque<u8>,
}

impl Serial {
    pub fn new(port: Box<dyn Port>) -> Serial {
        Serial {
            port,
            output: Scrollback::new(SCROLLBACK),
            input: VecDeque::with_capacity(INPUT_QUEUE),
        }
    }

    /// Input: queues as many of `bytes` as fit and hands the line what it
    /// takes. Returns how many were queued; the caller keeps the rest.
    pub fn send(&mut self, bytes: &[u8]) -> usize {
        let room = INPUT_QUEUE - self.input.len();
        let taken = bytes.len().min(room);
        self.input.extend(&bytes[..taken]);
        self.pump();
        taken
    }

    /// Whether `send` would take anything now.
    pub fn has_room(&self) -> bool {
        self.input.len() < INPUT_QUEUE
    }

    /// Output: what a viewer at `cursor` may send next (see `Scrollback`).
    pub fn output_since(&self, cursor: u64, max: usize) -> Since<'_> {
        self.output.since(cursor, max)
    }

    /// Where a new viewer starts: the oldest output kept.
    pub fn output_start(&self) -> u64 {
        self.output.start()
    }

    /// The number of output bytes ever seen: it grows when viewers have
    /// something new.
    pub fn output_end(&self) -> u64 {
        self.output.end()
    }

    /// The port's descriptor is ready (or input was queued): write what
    /// waits, read what came, each until the line would block.
    pub fn pump(&mut self) {
        while !self.input.is_empty() {
            let (front, _) = self.input.as_slices();
            match self.port.write(front) {
                Ok(0) => break,
                Ok(n) => {
                    self.input.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Not taken now: the descriptor's next writable edge (or
                // the reopen) tries again.
                Err(_) => break,
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.port.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.output.push(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    pub fn fds(&self) -> Vec<RawFd> {
        self.port.fd().into_iter().collect()
    }

    pub fn fd_epoch(&self) -> u64 {
        self.port.fd_epoch()
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.port.poll_at()
    }

    pub fn on_timer(&mut self, now: Instant) {
        if self.port.poll_at().is_some_and(|t| t <= now) {
            self.port.on_timer(now);
            self.pump();
        }
    }

    /// The `serial` object of the status.
    pub fn status_json(&self) -> String {
        crate::json::Object::new()
            .str("port", &self.port.name())
            .bool(
                "open",
                self.port.fd().is_some() || self.port.poll_at().is_none(),
            )
            .num("queued", self.input.len())
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Default)]
    struct Line {
        /// What the target wrote, not read yet.
        output: VecDeque<u8>,
        typed: Vec<u8>,
        /// Bytes the line still takes; at 0, writes say EAGAIN.
        room: usize,
    }

    /// A serial line for tests: the target's output is scripted, what is
    /// typed recorded, and the line takes only what `room` allows.
    #[derive(Clone)]
    pub(crate) struct FakeLine(Rc<RefCell<Line>>);

    impl FakeLine {
        /// A console on a fresh line that takes everything.
        pub(crate) fn serial() -> (FakeLine, Serial) {
            let line = FakeLine(Rc::new(RefCell::new(Line {
                room: usize::MAX,
                ..Line::default()
            })));
            (line.clone(), Serial::new(Box::new(line)))
        }

        pub(crate) fn target_says(&self, bytes: &[u8]) {
            self.0.borrow_mut().output.extend(bytes);
        }

        pub(crate) fn typed(&self) -> Vec<u8> {
            std::mem::take(&mut self.0.borrow_mut().typed)
        }

        pub(crate) fn set_room(&self, room: usize) {
            self.0.borrow_mut().room = room;
        }
    }

    impl Port for FakeLine {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut line = self.0.borrow_mut();
            let n = buf.len().min(line.output.len());
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            for (slot, byte) in buf.iter_mut().zip(line.output.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }

        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut line = self.0.borrow_mut();
            let n = buf.len().min(line.room);
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            line.room -= n;
            line.typed.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn name(&self) -> String {
            "fake".into()
        }
    }

    #[test]
    fn test_input_queue_is_bounded_and_keeps_order() {
        let (line, mut serial) = FakeLine::serial();
        line.set_room(5);
        assert_eq!(serial.send(b"hello world"), 11);
        assert_eq!(line.typed(), b"hello");
        let big = vec![b'z'; INPUT_QUEUE];
        assert_eq!(serial.send(&big), INPUT_QUEUE - 6, "only what fits");
        assert!(!serial.has_room());
        assert_eq!(serial.send(b"more"), 0);
        line.set_room(usize::MAX);
        serial.pump();
        let typed = line.typed();
        assert_eq!(&typed[..6], b" world");
        assert_eq!(typed.len(), INPUT_QUEUE);
        assert!(serial.has_room());
    }

    #[test]
    fn test_output_fans_out_to_every_viewer_at_its_pace() {
        let (line, mut serial) = FakeLine::serial();
        line.target_says(b"boot\r\n");
        serial.pump();
        let early = serial.output_start();
        line.target_says(b"login: ");
        serial.pump();
        let late = serial.output_start();
        assert_eq!(early, late, "a new viewer still sees the boot line");
        let a = serial.output_since(early, 4);
        assert_eq!(a.bytes, b"boot");
        let b = serial.output_since(late, 100);
        assert_eq!(b.bytes, b"boot\r\nlogin: ");
        assert_eq!(serial.output_end(), 13);
    }
}

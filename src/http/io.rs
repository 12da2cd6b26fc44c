//! A client's socket as the connection's states see it: `Stream` (plain TCP,
//! TLS, or the tests' `FakeStream`) and `Wire`, that stream with the bytes
//! waiting to go out on it and the last time the peer moved any. The
//! non-blocking rules live here once: `Interrupted` is retried, `WouldBlock`
//! means "wait for the loop to call back", a short write is resumed from
//! where it stopped, and a zero-length write is an error.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::tls::Socket;

/// A client's byte stream: reads give plaintext, writes take plaintext, both
/// non-blocking.
pub trait Stream: Read + Write {
    /// Whether bytes travel under TLS (session cookies get `Secure`).
    fn is_tls(&self) -> bool;
    /// Queues the end-of-data notice (TLS's close_notify); `flush` sends it.
    fn close_notify(&mut self);
    /// Bytes written that the peer has not acknowledged, when known.
    fn unacknowledged(&self) -> Option<usize>;
    /// Whether the peer sent bytes that gave no plaintext (a TLS handshake
    /// under way) since the last call.
    fn took_handshake_bytes(&mut self) -> bool;
}

impl Stream for Socket {
    fn is_tls(&self) -> bool {
        Socket::is_tls(self)
    }

    fn close_notify(&mut self) {
        Socket::close_notify(self);
    }

    fn unacknowledged(&self) -> Option<usize> {
        Socket::unacknowledged(self)
    }

    fn took_handshake_bytes(&mut self) -> bool {
        Socket::took_handshake_bytes(self)
    }
}

/// A writer that takes at most `left` more bytes and then answers
/// `WouldBlock`, as a full socket would: a large frame goes out over several
/// loop turns, so input waits for one chunk, not the whole frame (on
/// loopback, where the kernel delivers inside the writer's system call, a
/// 1080p frame took 3–5 ms of one turn).
pub struct Metered<'a, W> {
    inner: &'a mut W,
    left: &'a mut usize,
}

impl<'a, W: Write> Metered<'a, W> {
    pub fn new(inner: &'a mut W, left: &'a mut usize) -> Metered<'a, W> {
        Metered { inner, left }
    }
}

impl<W: Write> Write for Metered<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if *self.left == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.inner.write(&buf[..buf.len().min(*self.left)])?;
        *self.left -= n;
        crate::metrics::BYTES_SENT.add(n as u64);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if *self.left == 0 && total > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // Slices up to the allowance, the last one cut short.
        let mut room = *self.left;
        let mut within = Vec::with_capacity(bufs.len());
        for buf in bufs {
            if room == 0 {
                break;
            }
            let take = buf.len().min(room);
            within.push(io::IoSlice::new(&buf[..take]));
            room -= take;
        }
        let n = self.inner.write_vectored(&within)?;
        *self.left -= n;
        crate::metrics::BYTES_SENT.add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    /// This many bytes, at the start of the buffer.
    Data(usize),
    /// Nothing now; the loop calls again when the socket is readable.
    Blocked,
    /// The peer closed its side.
    Closed,
}

/// How reading into a buffer ended (`Wire::read_into`).
#[derive(Debug, PartialEq, Eq)]
pub enum Filled {
    /// The socket had nothing more.
    Drained,
    /// The buffer holds `cap` bytes.
    Full,
    /// The peer closed its side.
    Closed,
}

/// How long after connecting a TLS client's handshake bytes keep it from
/// counting as idle.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The client's stream, what waits to be written to it, and when the peer
/// last sent or took bytes.
pub struct Wire<S> {
    pub stream: S,
    pub peer: SocketAddr,
    /// Bytes not yet taken by the socket, from `sent` on.
    out: Vec<u8>,
    sent: usize,
    active: Instant,
    /// Handshake bytes count as activity until then.
    handshake_until: Instant,
}

impl<S: Stream> Wire<S> {
    pub fn new(stream: S, peer: SocketAddr, now: Instant) -> Wire<S> {
        Wire {
            stream,
            peer,
            out: Vec::new(),
            sent: 0,
            active: now,
            handshake_until: now + HANDSHAKE,
        }
    }

    /// Last time the peer sent or took bytes.
    pub fn active(&self) -> Instant {
        self.active
    }

    /// The output buffer, for responses to append to.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// The stream and the output buffer at once, for a session whose
    /// protocol library reads the one and writes into the other
    /// (`video_session`).
    pub fn parts(&mut self) -> (&mut S, &mut Vec<u8>) {
        (&mut self.stream, &mut self.out)
    }

    /// Bytes queued and not yet taken by the socket.
    pub fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// One read into `buf`; an empty `buf` reads nothing and says `Blocked`.
    pub fn read(&mut self, buf: &mut [u8], now: Instant) -> io::Result<Got> {
        if buf.is_empty() {
            return Ok(Got::Blocked);
        }
        loop {
            match self.stream.read(buf) {
                Ok(0) => return Ok(Got::Closed),
                Ok(n) => {
                    self.active = now;
                    return Ok(Got::Data(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // A client whose TLS handshake is under way is not idle
                    // (issue 15, finding 3: a real client 0.3 s into its
                    // handshake was shed as the idlest); one that trickles
                    // its handshake past `HANDSHAKE` is idle from then on.
                    if self.stream.took_handshake_bytes() && now < self.handshake_until {
                        self.active = now;
                    }
                    return Ok(Got::Blocked);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until EAGAIN, the peer's end, or until `input` holds `cap` bytes.
    pub fn read_into(
        &mut self,
        input: &mut Vec<u8>,
        cap: usize,
        now: Instant,
    ) -> io::Result<Filled> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if input.len() >= cap {
                return Ok(Filled::Full);
            }
            let room = (cap - input.len()).min(buf.len());
            match self.read(&mut buf[..room], now)? {
                Got::Data(n) => input.extend_from_slice(&buf[..n]),
                Got::Blocked => return Ok(Filled::Drained),
                Got::Closed => return Ok(Filled::Closed),
            }
        }
    }

    /// Writes the output buffer and, under TLS, the records still in rustls.
    /// False: the socket is full, the rest goes when it drains (the loop
    /// calls back on writable).
    pub fn flush(&mut self, now: Instant) -> io::Result<bool> {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.active = now;
                    crate::metrics::BYTES_SENT.add(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.sent = 0;
        match self.stream.flush() {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Notes that the peer moved bytes through the stream directly (an MJPEG
    /// part written from the shared frame).
    pub fn touch(&mut self, now: Instant) {
        self.active = now;
    }
}

/// A scripted stream for tests: reads follow a queue of steps, writes take
/// what `room` allows, and everything written is recorded. Clones share one
/// script, so a test keeps a handle after the connection takes the stream.
#[cfg(test)]
pub mod fake {
    use std::cell::{RefCell, RefMut};
    use std::collections::VecDeque;
    use std::io::{self, Read, Write};
    use std::rc::Rc;
    use std::time::Instant;

    use super::{Stream, Wire};

    /// A wire on a fresh fake stream, from a test peer, and a handle on the stream.
    pub fn wire(now: Instant) -> (FakeStream, Wire<FakeStream>) {
        let fake = FakeStream::default();
        let peer = "127.0.0.1:5000".parse().expect("address");
        (fake.clone(), Wire::new(fake, peer, now))
    }

    /// A wire whose output holds a 101 answer, as a WebSocket session finds it.
    pub fn upgraded_wire(now: Instant) -> (FakeStream, Wire<FakeStream>) {
        let (fake, mut wire) = wire(now);
        wire.out()
            .extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
        (fake, wire)
    }

    /// What the next read does.
    #[derive(Debug)]
    pub enum Step {
        Data(Vec<u8>),
        /// EAGAIN.
        Blocked,
        Interrupted,
        /// The peer closed its side (a read of 0).
        Eof,
        /// ECONNRESET.
        Reset,
    }

    #[derive(Default)]
    pub struct Script {
        /// Reads to come; when empty, reads say `WouldBlock`.
        pub reads: VecDeque<Step>,
        /// Bytes writes may still take; `None`: unlimited. At 0: `WouldBlock`.
        pub room: Option<usize>,
        /// Every write fails with ECONNRESET.
        pub write_reset: bool,
        pub written: Vec<u8>,
        pub tls: bool,
        pub close_notified: bool,
        /// What the kernel would say is unacknowledged; `None`: unknown.
        pub unacknowledged: Option<usize>,
    }

    #[derive(Clone, Default)]
    pub struct FakeStream(Rc<RefCell<Script>>);

    impl FakeStream {
        pub fn script(&self) -> RefMut<'_, Script> {
            self.0.borrow_mut()
        }

        /// Queues bytes for the next read.
        pub fn send(&self, bytes: &[u8]) {
            self.script().reads.push_back(Step::Data(bytes.to_vec()));
        }

        pub fn push(&self, step: Step) {
            self.script().reads.push_back(step);
        }

        /// What was written since the last call.
        pub fn take(&self) -> Vec<u8> {
            std::mem::take(&mut self.script().written)
        }

        /// What was written since the last call, as text.
        pub fn take_text(&self) -> String {
            String::from_utf8_lossy(&self.take()).into_owned()
        }
    }

    fn reset() -> io::Error {
        io::Error::from_raw_os_error(libc::ECONNRESET)
    }

    impl Read for FakeStream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut script = self.script();
            match script.reads.pop_front() {
                None | Some(Step::Blocked) => Err(io::ErrorKind::WouldBlock.into()),
                Some(Step::Interrupted) => Err(io::ErrorKind::Interrupted.into()),
                Some(Step::Eof) => Ok(0),
                Some(Step::Reset) => Err(reset()),
                Some(Step::Data(mut bytes)) => {
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        script.reads.push_front(Step::Data(bytes.split_off(n)));
                    }
                    Ok(n)
                }
            }
        }
    }

    impl Write for FakeStream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut script = self.script();
            if script.write_reset {
                return Err(reset());
            }
            let n = script.room.map_or(buf.len(), |room| room.min(buf.len()));
            if n == 0 && !buf.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if let Some(room) = &mut script.room {
                *room -= n;
            }
            script.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Stream for FakeStream {
        fn is_tls(&self) -> bool {
            self.0.borrow().tls
        }

        fn close_notify(&mut self) {
            self.script().close_notified = true;
        }

        fn took_handshake_bytes(&mut self) -> bool {
            false
        }

        fn unacknowledged(&self) -> Option<usize> {
            self.0.borrow().unacknowledged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeStream, Step};
    use super::*;
    use std::time::Duration;

    #[test]
    fn test_metered_takes_its_allowance_then_blocks() {
        let (mut out, mut left) = (Vec::new(), 5);
        let mut metered = Metered::new(&mut out, &mut left);
        let bufs = [io::IoSlice::new(b"abc"), io::IoSlice::new(b"defg")];
        assert_eq!(metered.write_vectored(&bufs).unwrap(), 5);
        let blocked = metered.write(b"h").unwrap_err();
        assert_eq!(blocked.kind(), io::ErrorKind::WouldBlock);
        assert_eq!((out.as_slice(), left), (&b"abcde"[..], 0));
    }

    fn wire() -> (FakeStream, Wire<FakeStream>, Instant) {
        let t0 = Instant::now();
        let (fake, wire) = super::fake::wire(t0);
        (fake, wire, t0)
    }

    #[test]
    fn test_read_retries_interrupted_and_marks_active() {
        let (fake, mut wire, t0) = wire();
        fake.push(Step::Interrupted);
        fake.send(b"hello");
        let later = t0 + Duration::from_secs(3);
        let mut buf = [0u8; 3];
        assert_eq!(wire.read(&mut buf, later).unwrap(), Got::Data(3));
        assert_eq!(&buf, b"hel");
        assert_eq!(wire.active(), later);
        assert_eq!(wire.read(&mut buf, later).unwrap(), Got::Data(2));
        assert_eq!(wire.read(&mut buf, later).unwrap(), Got::Blocked);
        fake.push(Step::Eof);
        assert_eq!(wire.read(&mut buf, later).unwrap(), Got::Closed);
        fake.push(Step::Reset);
        let e = wire.read(&mut buf, later).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
    }

    #[test]
    fn test_read_into_stops_at_cap() {
        let (fake, mut wire, t0) = wire();
        fake.send(b"0123456789");
        let mut input = b"ab".to_vec();
        assert_eq!(wire.read_into(&mut input, 6, t0).unwrap(), Filled::Full);
        assert_eq!(input, b"ab0123");
        input.clear();
        assert_eq!(wire.read_into(&mut input, 16, t0).unwrap(), Filled::Drained);
        assert_eq!(input, b"456789");
        fake.push(Step::Eof);
        assert_eq!(wire.read_into(&mut input, 16, t0).unwrap(), Filled::Closed);
    }

    #[test]
    fn test_flush_short_write_resumed() {
        let (fake, mut wire, t0) = wire();
        fake.script().room = Some(4);
        wire.out().extend_from_slice(b"0123456789");
        assert!(!wire.flush(t0).unwrap(), "blocked after 4 bytes");
        assert_eq!(wire.pending(), 6);
        assert_eq!(fake.take_text(), "0123");
        fake.script().room = None;
        let later = t0 + Duration::from_secs(1);
        assert!(wire.flush(later).unwrap());
        assert_eq!(fake.take_text(), "456789");
        assert_eq!((wire.pending(), wire.active()), (0, later));
    }

    #[test]
    fn test_flush_reset_is_an_error() {
        let (fake, mut wire, t0) = wire();
        fake.script().write_reset = true;
        wire.out().extend_from_slice(b"x");
        assert!(wire.flush(t0).is_err());
    }
}

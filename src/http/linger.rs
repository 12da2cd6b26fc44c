//! A refused request body, read and thrown away while its answer goes out,
//! so the client reads the refusal instead of a connection reset; then the
//! connection closes. A wrong password's answer waits for its time first.
//! However slowly the body trickles in, the connection lives at most
//! `LINGER` past the answer.

use std::io;
use std::time::{Duration, Instant};

use super::io::{Got, Stream, Wire};
use super::response::Response;

/// How long a refused body may keep arriving after its answer.
const LINGER: Duration = Duration::from_secs(5);
/// Most body bytes thrown away in one loop turn, so frames and input go out
/// between chunks.
const TURN: usize = 256 * 1024;

/// Whether the answer has gone into the output buffer.
enum Answer {
    /// Waiting for `send_at` (a wrong password's delay), or for the first turn.
    Held(Vec<u8>),
    Queued,
}

/// What the connection does after a turn.
#[derive(Debug, PartialEq, Eq)]
pub enum Drain {
    Lingering,
    /// The answer is out and the body is over (or the peer stopped): close.
    Done,
}

pub struct Linger {
    answer: Answer,
    send_at: Instant,
    /// Body bytes still expected.
    left: u64,
}

impl Linger {
    /// The refusal `answer` goes out at its `not_before`, or now; `left`:
    /// the body bytes still to come.
    pub fn new(answer: &Response, now: Instant, left: u64) -> Linger {
        // The body was not read: the answer ends the connection.
        let mut bytes = Vec::new();
        answer.write_to(&mut bytes, false);
        Linger {
            answer: Answer::Held(bytes),
            send_at: answer.not_before.unwrap_or(now),
            left,
        }
    }

    /// Queues the answer when its time has come, drops what remains of the
    /// body, at most `TURN` bytes per call.
    pub fn drive<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        input: &mut Vec<u8>,
        now: Instant,
    ) -> io::Result<Drain> {
        if now >= self.send_at {
            if let Answer::Held(answer) = std::mem::replace(&mut self.answer, Answer::Queued) {
                wire.out().extend_from_slice(&answer);
            }
        }
        let buffered = u64::try_from(input.len()).unwrap_or(u64::MAX);
        self.left = self.left.saturating_sub(buffered);
        input.clear();
        let mut buf = [0u8; 64 * 1024];
        let mut budget = TURN;
        let mut closed = false;
        while self.left > 0 && budget > 0 {
            let room = buf.len().min(budget);
            match wire.read(&mut buf[..room], now)? {
                Got::Data(n) => {
                    budget -= n;
                    self.left = self.left.saturating_sub(n as u64);
                }
                Got::Blocked => break,
                Got::Closed => {
                    closed = true;
                    break;
                }
            }
        }
        let flushed = wire.flush(now)?;
        let answered = matches!(self.answer, Answer::Queued);
        Ok(if answered && flushed && (self.left == 0 || closed) {
            Drain::Done
        } else {
            Drain::Lingering
        })
    }

    /// When `on_timer` must run: the answer's time, then the end of lingering.
    pub fn poll_at(&self) -> Instant {
        match self.answer {
            Answer::Held(_) => self.send_at,
            Answer::Queued => self.send_at + LINGER,
        }
    }

    pub fn on_timer<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        input: &mut Vec<u8>,
        now: Instant,
    ) -> io::Result<Drain> {
        match self.answer {
            Answer::Held(_) => self.drive(wire, input, now),
            Answer::Queued => Ok(Drain::Done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::io::fake::{self, FakeStream, Step};
    use super::super::Status;
    use super::*;

    fn too_large() -> Response {
        Response::error(Status::PayloadTooLarge, "too large")
    }

    fn is_413(text: &str) -> bool {
        text.starts_with("HTTP/1.1 413 ") && text.ends_with("{\"error\":\"too large\"}")
    }

    struct Bench {
        fake: FakeStream,
        wire: Wire<FakeStream>,
        input: Vec<u8>,
        t0: Instant,
    }

    impl Bench {
        fn new() -> Bench {
            let t0 = Instant::now();
            let (fake, wire) = fake::wire(t0);
            Bench {
                wire,
                fake,
                input: Vec::new(),
                t0,
            }
        }

        fn at(&self, secs: u64) -> Instant {
            self.t0 + Duration::from_secs(secs)
        }

        fn drive(&mut self, linger: &mut Linger, secs: u64) -> Drain {
            let now = self.at(secs);
            linger.drive(&mut self.wire, &mut self.input, now).unwrap()
        }
    }

    #[test]
    fn test_lingering_body_drained_then_closed() {
        let mut bench = Bench::new();
        bench.input = b"abc".to_vec();
        let mut linger = Linger::new(&too_large(), bench.t0, 10);
        bench.fake.send(b"defg");
        assert_eq!(
            bench.drive(&mut linger, 0),
            Drain::Lingering,
            "3 bytes to come"
        );
        let text = bench.fake.take_text();
        assert!(is_413(&text), "{text}");
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(bench.input.is_empty());
        bench.fake.push(Step::Blocked);
        bench.fake.send(b"hij");
        assert_eq!(
            bench.drive(&mut linger, 1),
            Drain::Lingering,
            "blocked first"
        );
        assert_eq!(bench.drive(&mut linger, 1), Drain::Done);
        assert_eq!(bench.fake.take_text(), "", "the answer went out once");
    }

    #[test]
    fn test_lingering_answer_waits_for_its_time() {
        let mut bench = Bench::new();
        let send_at = bench.at(2);
        let refused = Response::error(Status::Unauthorized, "wrong").not_before(send_at);
        let mut linger = Linger::new(&refused, bench.t0, 0);
        assert_eq!(linger.poll_at(), send_at);
        assert_eq!(bench.drive(&mut linger, 0), Drain::Lingering);
        assert_eq!(bench.fake.take_text(), "");
        let now = bench.at(2);
        let done = linger.on_timer(&mut bench.wire, &mut bench.input, now);
        assert_eq!(done.unwrap(), Drain::Done);
        assert!(bench.fake.take_text().starts_with("HTTP/1.1 401 "));
    }

    #[test]
    fn test_lingering_ends_after_its_limit_however_slow_the_body() {
        let mut bench = Bench::new();
        let mut linger = Linger::new(&too_large(), bench.t0, 1 << 30);
        bench.fake.send(b"trickle");
        assert_eq!(bench.drive(&mut linger, 0), Drain::Lingering);
        assert_eq!(linger.poll_at(), bench.t0 + LINGER);
        let now = bench.t0 + LINGER;
        let done = linger.on_timer(&mut bench.wire, &mut bench.input, now);
        assert_eq!(done.unwrap(), Drain::Done);
    }

    #[test]
    fn test_lingering_peer_hangs_up_after_the_answer() {
        let mut bench = Bench::new();
        let mut linger = Linger::new(&too_large(), bench.t0, 1000);
        bench.fake.push(Step::Eof);
        assert_eq!(bench.drive(&mut linger, 0), Drain::Done);
    }

    #[test]
    fn test_lingering_answer_blocked_keeps_connection() {
        let mut bench = Bench::new();
        bench.fake.script().room = Some(2);
        let mut linger = Linger::new(&too_large(), bench.t0, 0);
        assert_eq!(bench.drive(&mut linger, 0), Drain::Lingering);
        bench.fake.script().room = None;
        assert_eq!(bench.drive(&mut linger, 0), Drain::Done);
        let text = bench.fake.take_text();
        assert!(is_413(&text), "{text}");
    }
}

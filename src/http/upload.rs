//! An image upload's request body on its way from the socket to the disk
//! (`media::Upload`), at most `TURN` bytes per loop turn so frames and input
//! go out between chunks. The connection finishes the upload (or answers its
//! failure) when this says the body is complete (or broken); a client that
//! goes away or stalls leaves the partial file, resumable.

use std::io;
use std::time::{Duration, Instant};

use super::io::{Got, Stream, Wire};
use super::response::Response;
use super::{routes, Status};
use crate::media::{Images, MediaError, Refusal, Upload};

/// An upload whose client sent nothing for this long is dropped.
const STALLED: Duration = Duration::from_secs(60);
/// Most body bytes taken in one loop turn: beyond it the connection yields
/// and is called again at once.
const TURN: usize = 256 * 1024;

/// Why the last turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// It stopped at `TURN`; bytes may still wait in the socket.
    Yielded,
    /// The socket had nothing more.
    Waiting,
}

/// What the connection does after a turn.
pub enum Step {
    /// More body to come.
    Pending,
    /// The whole body is on disk: finish the upload and answer.
    Complete,
    /// The client went away or stalled (logged): close.
    Closed,
    /// Writing the image failed (disk full, I/O error; logged): answer
    /// this, then drop the `left` body bytes. The partial file keeps what
    /// was written.
    Failed { answer: Response, left: u64 },
}

pub struct UploadBody {
    upload: Upload,
    keep_alive: bool,
    pace: Pace,
}

impl UploadBody {
    /// The image's name.
    pub fn name(&self) -> &str {
        self.upload.name()
    }

    pub fn new(upload: Upload, keep_alive: bool) -> UploadBody {
        UploadBody {
            upload,
            keep_alive,
            // Body bytes may have come with the head.
            pace: Pace::Yielded,
        }
    }

    /// Turns the complete upload into an image: the answer, and whether the
    /// connection stays open after it.
    pub fn finish(self, images: Option<&mut Images>) -> (Response, bool) {
        let result = match images {
            Some(images) => images.finish(self.upload),
            None => Err(MediaError::new(Refusal::Io, "the images folder went away")),
        };
        let response = match result {
            Ok(json) => Response::json(Status::Ok, json),
            Err(e) => routes::media_error(&e),
        };
        (response, self.keep_alive)
    }

    /// Moves body bytes from `input` (what came with the head), then from
    /// the socket, to the upload.
    pub fn drive<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        input: &mut Vec<u8>,
        now: Instant,
    ) -> io::Result<Step> {
        // A `100 Continue` may be waiting.
        wire.flush(now)?;
        if !input.is_empty() {
            match self.upload.write(input) {
                Ok(taken) => {
                    input.drain(..taken);
                }
                Err(error) => return Ok(self.failed(wire, error)),
            }
        }
        let mut buf = [0u8; 64 * 1024];
        let mut budget = TURN;
        while self.upload.remaining() > 0 {
            if budget == 0 {
                self.pace = Pace::Yielded;
                return Ok(Step::Pending);
            }
            let room = buf
                .len()
                .min(budget)
                .min(usize::try_from(self.upload.remaining()).unwrap_or(usize::MAX));
            match wire.read(&mut buf[..room], now)? {
                Got::Data(n) => {
                    budget -= n;
                    if let Err(error) = self.upload.write(&buf[..n]) {
                        return Ok(self.failed(wire, error));
                    }
                }
                Got::Blocked => {
                    self.pace = Pace::Waiting;
                    return Ok(Step::Pending);
                }
                Got::Closed => {
                    log::info!(
                        "{}: client went away during the upload of {} ({} bytes in)",
                        wire.peer,
                        self.upload.name(),
                        self.upload.written()
                    );
                    return Ok(Step::Closed);
                }
            }
        }
        Ok(Step::Complete)
    }

    fn failed<S>(&self, wire: &Wire<S>, error: MediaError) -> Step {
        log::warn!("{}: {}", wire.peer, error.message);
        Step::Failed {
            answer: routes::media_error(&error),
            left: self.upload.remaining(),
        }
    }

    /// When `on_timer` must run, given when the peer last moved bytes: at
    /// once after a yield, else when the upload counts as stalled.
    pub fn poll_at(&self, active: Instant) -> Instant {
        match self.pace {
            Pace::Yielded => active,
            Pace::Waiting => active + STALLED,
        }
    }

    pub fn on_timer<S: Stream>(
        &mut self,
        wire: &mut Wire<S>,
        input: &mut Vec<u8>,
        now: Instant,
    ) -> io::Result<Step> {
        match self.pace {
            Pace::Yielded => self.drive(wire, input, now),
            Pace::Waiting => {
                log::info!(
                    "{}: upload of {} stalled for {}s ({} bytes in), closing",
                    wire.peer,
                    self.upload.name(),
                    STALLED.as_secs(),
                    self.upload.written()
                );
                Ok(Step::Closed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::io::fake::{self, FakeStream, Step as Read};
    use super::*;
    use crate::media::Images;
    use crate::testutil::TempDir;

    struct Bench {
        _tmp: TempDir,
        images: Images,
        fake: FakeStream,
        wire: Wire<FakeStream>,
        input: Vec<u8>,
        t0: Instant,
    }

    impl Bench {
        fn new(tag: &str) -> Bench {
            let tmp = TempDir::new(tag);
            let images = Images::open(&tmp.path().join("images"), None, None).unwrap();
            let t0 = Instant::now();
            let (fake, wire) = fake::wire(t0);
            Bench {
                _tmp: tmp,
                images,
                wire,
                fake,
                input: Vec::new(),
                t0,
            }
        }

        fn body(&mut self, name: &str, offset: u64, length: u64) -> UploadBody {
            let upload = self
                .images
                .begin_upload(name, offset, length, false)
                .unwrap();
            UploadBody::new(upload, true)
        }

        fn drive(&mut self, body: &mut UploadBody) -> io::Result<Step> {
            body.drive(&mut self.wire, &mut self.input, self.t0)
        }

        fn partial_len(&self, name: &str) -> Option<u64> {
            let path = self.images.dir().join(".partial").join(name);
            std::fs::metadata(path).ok().map(|m| m.len())
        }
    }

    #[test]
    fn test_upload_body_with_head_then_split_reads() {
        let mut bench = Bench::new("http-upload-split");
        let mut body = bench.body("a.img", 0, 10);
        bench.input = b"0123".to_vec();
        bench.fake.send(b"45");
        assert!(matches!(bench.drive(&mut body), Ok(Step::Pending)));
        assert_eq!(body.poll_at(bench.t0), bench.t0 + STALLED, "waiting");
        bench.fake.send(b"6789extra");
        assert!(matches!(bench.drive(&mut body), Ok(Step::Complete)));
        assert!(bench.input.is_empty());
        let (response, keep_alive) = body.finish(Some(&mut bench.images));
        assert!(keep_alive);
        assert_eq!(response.status, Status::Ok);
        let json = String::from_utf8_lossy(&response.body).into_owned();
        assert!(json.contains("\"size\":10"), "{json}");
        let image = std::fs::read(bench.images.dir().join("a.img")).unwrap();
        assert_eq!(image, b"0123456789");
        assert_eq!(bench.fake.take_text(), "", "nothing written");
    }

    #[test]
    fn test_upload_yields_after_its_turn() {
        let mut bench = Bench::new("http-upload-turn");
        let mut body = bench.body("big.img", 0, TURN as u64 + 5);
        bench.fake.send(&vec![7; TURN + 5]);
        assert!(matches!(bench.drive(&mut body), Ok(Step::Pending)));
        assert_eq!(body.poll_at(bench.t0), bench.t0, "called again at once");
        let step = body.on_timer(&mut bench.wire, &mut bench.input, bench.t0);
        assert!(matches!(step, Ok(Step::Complete)));
    }

    #[test]
    fn test_upload_reset_mid_body_keeps_partial_for_resume() {
        let mut bench = Bench::new("http-upload-reset");
        let mut body = bench.body("r.img", 0, 100);
        bench.fake.send(&[1; 30]);
        bench.fake.push(Read::Reset);
        assert!(bench.drive(&mut body).is_err());
        drop(body);
        assert_eq!(bench.partial_len("r.img"), Some(30));
        // The name is free again: the upload resumes where it stopped.
        let mut body = bench.body("r.img", 30, 70);
        bench.fake.send(&[2; 70]);
        assert!(matches!(bench.drive(&mut body), Ok(Step::Complete)));
    }

    #[test]
    fn test_upload_client_gone_or_stalled_closes() {
        let mut bench = Bench::new("http-upload-gone");
        let mut body = bench.body("g.img", 0, 100);
        bench.fake.push(Read::Eof);
        assert!(matches!(bench.drive(&mut body), Ok(Step::Closed)));
        drop(body);
        let mut body = bench.body("s.img", 0, 100);
        bench.fake.send(&[1; 10]);
        assert!(matches!(bench.drive(&mut body), Ok(Step::Pending)));
        let later = bench.t0 + STALLED;
        let step = body.on_timer(&mut bench.wire, &mut bench.input, later);
        assert!(matches!(step, Ok(Step::Closed)));
    }

    #[test]
    fn test_upload_100_continue_flushed_first() {
        let mut bench = Bench::new("http-upload-continue");
        let mut body = bench.body("c.img", 0, 3);
        bench
            .wire
            .out()
            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        bench.fake.send(b"abc");
        assert!(matches!(bench.drive(&mut body), Ok(Step::Complete)));
        assert_eq!(bench.fake.take_text(), "HTTP/1.1 100 Continue\r\n\r\n");
    }
}

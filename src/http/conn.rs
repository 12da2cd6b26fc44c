//! One client connection as a state machine: it reads requests (split or
//! pipelined), answers them, and may turn into an MJPEG viewer, a snapshot
//! waiting for a frame, or a WebSocket. The event loop calls it when its
//! socket is ready, when a frame is published, and when its deadline passes;
//! it never blocks and returns whether the connection lives on.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::request::{self, Method};
use super::response::{open_ended_head, Response};
use super::routes::{self, Action};
use super::Status;
use crate::app::App;
use crate::media::Upload;
use crate::tls::Socket;
use crate::video::fanout::{self, Viewer};
use crate::video::SharedFrame;
use crate::ws::{self, WebSocket};

/// A keep-alive connection with nothing to do is closed after this.
const IDLE: Duration = Duration::from_secs(60);
/// A request's head and body must arrive within this (slow-loris clients).
const REQUEST: Duration = Duration::from_secs(15);
/// A snapshot waits this long for a frame before giving up with 503.
const SNAPSHOT: Duration = Duration::from_secs(5);
/// A viewer whose socket took nothing for this long is dropped.
const STALLED: Duration = Duration::from_secs(60);
/// A WebSocket is pinged when quiet this long...
const PING: Duration = Duration::from_secs(15);
/// ...and closed (releasing every key) when nothing came back for this long.
const WS_SILENT: Duration = Duration::from_secs(45);
/// Responses not yet taken by the client; beyond this, pipelined requests wait.
const OUT_HIGH: usize = 256 * 1024;
/// An upload whose client sent nothing for this long is dropped (its
/// partial file stays, resumable).
const UPLOAD_STALLED: Duration = Duration::from_secs(60);
/// Most upload bytes taken in one loop turn: beyond it the connection yields
/// so frames and input go out between chunks, and is called again at once.
const UPLOAD_TURN: usize = 256 * 1024;
/// How long a refused body may keep arriving (and is thrown away) so the
/// client reads the refusal instead of a connection reset.
const LINGER: Duration = Duration::from_secs(5);

/// What the connection is doing.
enum State {
    /// Reading requests and writing responses.
    Http {
        request_started: Option<Instant>,
    },
    /// Writing the last response, then closing.
    Closing,
    /// A response waits for its time (a wrong password's answer); requests
    /// behind it wait too.
    Held {
        until: Instant,
        response: Vec<u8>,
        keep_alive: bool,
    },
    Viewer(Viewer),
    Snapshot {
        head_only: bool,
        keep_alive: bool,
        until: Instant,
    },
    /// Writing a request body into an image upload. `more`: the last turn
    /// stopped at `UPLOAD_TURN`, bytes may still wait in the socket.
    Upload {
        upload: Upload,
        keep_alive: bool,
        more: bool,
    },
    /// A body was refused: the answer goes out (at `send_at`, for a wrong
    /// password) while the rest of the body, `left` bytes, is read and
    /// dropped; then the connection closes.
    Lingering {
        answer: Vec<u8>,
        send_at: Instant,
        left: u64,
    },
    /// `greeted`: the first status message went out (after the 101 head).
    WebSocket {
        ws: WebSocket,
        heard: Instant,
        pinged: Instant,
        greeted: bool,
    },
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Http { .. } => "Http",
            State::Closing => "Closing",
            State::Held { .. } => "Held",
            State::Viewer(_) => "Viewer",
            State::Snapshot { .. } => "Snapshot",
            State::Upload { .. } => "Upload",
            State::Lingering { .. } => "Lingering",
            State::WebSocket { .. } => "WebSocket",
        }
    }
}

/// What the event loop should know after a call.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Keep,
    /// A viewer has a frame to send (`write_frame`).
    Write,
    Close,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Kind {
    Http,
    Viewer,
    Snapshot,
    WebSocket,
}

pub struct Conn {
    /// Plain TCP or TLS; reads and writes plaintext either way.
    pub stream: Socket,
    pub peer: SocketAddr,
    input: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    state: State,
    /// Last time the peer sent or took bytes.
    active: Instant,
}

impl Conn {
    pub fn new(stream: Socket, peer: SocketAddr, now: Instant) -> Conn {
        Conn {
            stream,
            peer,
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            state: State::Http {
                request_started: None,
            },
            active: now,
        }
    }

    pub fn kind(&self) -> Kind {
        match self.state {
            State::Http { .. }
            | State::Closing
            | State::Held { .. }
            | State::Upload { .. }
            | State::Lingering { .. } => Kind::Http,
            State::Viewer(_) => Kind::Viewer,
            State::Snapshot { .. } => Kind::Snapshot,
            State::WebSocket { .. } => Kind::WebSocket,
        }
    }

    /// Since when this connection has been a candidate for shedding when kv
    /// runs out of connections: keep-alive connections with nothing to do,
    /// heads still arriving (counted from their start, so slow-loris clients
    /// go first), held answers. Viewers, snapshots and WebSockets — only ever
    /// authenticated when credentials are set — are never shed.
    pub fn idle_since(&self) -> Option<Instant> {
        match self.state {
            State::Http {
                request_started: Some(t),
            } => Some(t.min(self.active)),
            State::Http {
                request_started: None,
            }
            | State::Closing
            | State::Held { .. }
            | State::Lingering { .. } => Some(self.active),
            State::Viewer(_)
            | State::Snapshot { .. }
            | State::Upload { .. }
            | State::WebSocket { .. } => None,
        }
    }

    fn set_state(&mut self, state: State) {
        log::trace!(
            "{}: state={}=>{}",
            self.peer,
            self.state.name(),
            state.name()
        );
        self.state = state;
    }

    /// The socket is readable or writable (edge-triggered: drain both ways).
    pub fn on_ready(&mut self, app: &mut App, now: Instant) -> Next {
        let outcome = self.drive(app, now);
        self.settle(outcome)
    }

    /// An I/O error closes the connection.
    fn settle(&self, outcome: io::Result<Next>) -> Next {
        outcome.unwrap_or_else(|e| {
            log::debug!("{}: {e}", self.peer);
            Next::Close
        })
    }

    fn drive(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        match self.state {
            State::WebSocket { .. } => return self.drive_websocket(app, now),
            State::Upload { .. } => return self.drive_upload(app, now),
            State::Lingering { .. } => return self.drive_lingering(app, now),
            _ => {}
        }
        loop {
            let (eof, full) = self.read_input(now)?;
            if let State::Viewer(_) = self.state {
                // A viewer has nothing to say; whatever it sends is dropped.
                self.input.clear();
            }
            if let State::Http { .. } = self.state {
                self.handle_requests(app, now);
                match self.state {
                    State::WebSocket { .. } => return self.drive_websocket(app, now),
                    State::Upload { .. } => return self.drive_upload(app, now),
                    State::Lingering { .. } => return self.drive_lingering(app, now),
                    _ => {}
                }
            }
            if self.write_out(app, now)? == Next::Close {
                return Ok(Next::Close);
            }
            if eof {
                // Half-closed clients that still wait for answers were just written.
                return Ok(Next::Close);
            }
            if !full || self.input.len() >= app_input_cap() {
                // A full buffer that nothing consumed (a held answer, a
                // snapshot, a client not reading its responses) is read again
                // when that changes: the loop calls back on writable, on the
                // timer or on the frame, and must not spin here meanwhile.
                return Ok(Next::Keep);
            }
        }
    }

    /// Reads until EAGAIN or until the input buffer holds the most a request
    /// may be. Returns (peer closed, stopped because the buffer was full).
    fn read_input(&mut self, now: Instant) -> io::Result<(bool, bool)> {
        let cap = app_input_cap();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if self.input.len() >= cap {
                return Ok((false, true));
            }
            let room = (cap - self.input.len()).min(buf.len());
            match self.stream.read(&mut buf[..room]) {
                Ok(0) => return Ok((true, false)),
                Ok(n) => {
                    self.active = now;
                    self.input.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((false, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn handle_requests(&mut self, app: &mut App, now: Instant) {
        let limits = request::Limits::default();
        while let State::Http { request_started } = self.state {
            if self.out.len() - self.out_pos > OUT_HIGH {
                return;
            }
            if self.input.is_empty() {
                self.state = State::Http {
                    request_started: None,
                };
                return;
            }
            if request_started.is_none() {
                self.state = State::Http {
                    request_started: Some(now),
                };
            }
            let (req, head_len) = match request::parse(&self.input, &limits) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return,
                Err(refusal) => {
                    log::debug!(
                        "{}: {} {}",
                        self.peer,
                        refusal.status.code(),
                        refusal.reason
                    );
                    Response::error(refusal.status, refusal.reason).write_to(&mut self.out, false);
                    self.input.clear();
                    self.set_state(State::Closing);
                    return;
                }
            };
            if req.streams_body() {
                self.input.drain(..head_len);
                self.begin_streamed_body(&req, app, now);
                return;
            }
            // Within max_body (request::parse refused more).
            let end = head_len + usize::try_from(req.content_length).unwrap_or(usize::MAX);
            if self.input.len() < end {
                return;
            }
            let body = self.input[head_len..end].to_vec();
            self.input.drain(..end);
            self.state = State::Http {
                request_started: None,
            };
            log::debug!("{}: {:?} {}", self.peer, req.method, req.path);
            let head_only = req.method == Method::Head;
            let client = self.client();
            match routes::handle(&req, &body, client, app, now) {
                Action::Respond(mut response) => {
                    response.head_only = head_only;
                    match response.not_before.filter(|t| *t > now) {
                        Some(until) => {
                            let mut held = Vec::new();
                            response.write_to(&mut held, req.keep_alive);
                            self.set_state(State::Held {
                                until,
                                response: held,
                                keep_alive: req.keep_alive,
                            });
                        }
                        None => {
                            response.write_to(&mut self.out, req.keep_alive);
                            if !req.keep_alive {
                                self.set_state(State::Closing);
                            }
                        }
                    }
                }
                Action::Stream => {
                    let content_type =
                        format!("multipart/x-mixed-replace; boundary={}", fanout::BOUNDARY);
                    self.out.extend_from_slice(&open_ended_head(
                        Status::Ok,
                        &[
                            ("Content-Type", &content_type),
                            ("Cache-Control", "no-store"),
                            ("Connection", "close"),
                        ],
                    ));
                    if head_only {
                        self.set_state(State::Closing);
                    } else {
                        self.out.extend_from_slice(fanout::BODY_START);
                        self.set_state(State::Viewer(Viewer::default()));
                    }
                }
                Action::Snapshot => match app.video.fresh_frame(now) {
                    Some(frame) => self.answer_snapshot(&frame, head_only, req.keep_alive),
                    None => self.set_state(State::Snapshot {
                        head_only,
                        keep_alive: req.keep_alive,
                        until: now + SNAPSHOT,
                    }),
                },
                Action::Upload(_) => {
                    // Only requests that stream their body start uploads.
                    Response::error(Status::BadRequest, "an upload must stream its body")
                        .write_to(&mut self.out, false);
                    self.set_state(State::Closing);
                }
                Action::Upgrade(accept) => {
                    self.out.extend_from_slice(&open_ended_head(
                        Status::SwitchingProtocols,
                        &[
                            ("Upgrade", "websocket"),
                            ("Connection", "Upgrade"),
                            ("Sec-WebSocket-Accept", &accept),
                        ],
                    ));
                    let leftover = std::mem::take(&mut self.input);
                    let ws = WebSocket::new(leftover);
                    self.set_state(State::WebSocket {
                        ws,
                        heard: now,
                        pinged: now,
                        greeted: false,
                    });
                }
            }
        }
    }

    /// A request whose body goes to disk as it arrives (an image upload):
    /// start the upload, or answer the refusal and drop the body.
    fn begin_streamed_body(&mut self, req: &request::Request, app: &mut App, now: Instant) {
        log::debug!(
            "{}: {:?} {} (streamed body)",
            self.peer,
            req.method,
            req.path
        );
        let client = self.client();
        match routes::handle(req, &[], client, app, now) {
            Action::Upload(upload) => {
                if req.header_has("expect", "100-continue") {
                    self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                self.set_state(State::Upload {
                    upload,
                    keep_alive: req.keep_alive,
                    more: true,
                });
            }
            Action::Respond(response) => {
                // The body was not read: the answer ends the connection.
                let mut answer = Vec::new();
                response.write_to(&mut answer, false);
                self.set_state(State::Lingering {
                    answer,
                    send_at: response.not_before.unwrap_or(now),
                    left: req.content_length,
                });
            }
            Action::Stream | Action::Snapshot | Action::Upgrade(_) => {
                Response::error(Status::BadRequest, "this route takes no body")
                    .write_to(&mut self.out, false);
                self.set_state(State::Closing);
            }
        }
    }

    /// Moves body bytes from the socket to the upload, at most `UPLOAD_TURN`
    /// per call; answers when the body is complete.
    fn drive_upload(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        // A `100 Continue` may be waiting.
        if self.write_out(app, now)? == Next::Close {
            return Ok(Next::Close);
        }
        let mut buf = [0u8; 64 * 1024];
        let mut budget = UPLOAD_TURN;
        loop {
            let State::Upload { upload, more, .. } = &mut self.state else {
                return Ok(Next::Keep);
            };
            if !self.input.is_empty() {
                match upload.write(&self.input) {
                    Ok(taken) => {
                        self.input.drain(..taken);
                    }
                    Err(e) => return self.fail_upload(e, app, now),
                }
            }
            if upload.remaining() == 0 {
                return self.finish_upload(app, now);
            }
            if budget == 0 {
                *more = true;
                return Ok(Next::Keep);
            }
            let room = buf
                .len()
                .min(budget)
                .min(usize::try_from(upload.remaining()).unwrap_or(usize::MAX));
            match self.stream.read(&mut buf[..room]) {
                Ok(0) => {
                    log::info!(
                        "{}: client went away during the upload of {} ({} bytes in)",
                        self.peer,
                        upload.name(),
                        upload.written()
                    );
                    return Ok(Next::Close);
                }
                Ok(n) => {
                    self.active = now;
                    budget -= n;
                    if let Err(e) = upload.write(&buf[..n]) {
                        return self.fail_upload(e, app, now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *more = false;
                    return Ok(Next::Keep);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn finish_upload(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        let idle = State::Http {
            request_started: None,
        };
        let State::Upload {
            upload, keep_alive, ..
        } = std::mem::replace(&mut self.state, idle)
        else {
            return Ok(Next::Keep);
        };
        let result = match app.media.as_mut() {
            Some(images) => images.finish(upload),
            None => Err(crate::media::MediaError::new(
                crate::media::Refusal::Io,
                "the images folder went away",
            )),
        };
        let response = match result {
            Ok(json) => Response::json(Status::Ok, json),
            Err(e) => routes::media_error(&e),
        };
        response.write_to(&mut self.out, keep_alive);
        if !keep_alive {
            self.set_state(State::Closing);
        }
        self.drive(app, now)
    }

    /// Writing the image failed (disk full, I/O error): say so and drop the
    /// rest of the body. The partial file keeps what was written.
    fn fail_upload(
        &mut self,
        error: crate::media::MediaError,
        app: &mut App,
        now: Instant,
    ) -> io::Result<Next> {
        log::warn!("{}: {}", self.peer, error.message);
        let left = match &self.state {
            State::Upload { upload, .. } => upload.remaining(),
            _ => 0,
        };
        let mut answer = Vec::new();
        routes::media_error(&error).write_to(&mut answer, false);
        self.input.clear();
        self.set_state(State::Lingering {
            answer,
            send_at: now,
            left,
        });
        self.drive_lingering(app, now)
    }

    /// Reads and drops what remains of a refused body, at most `UPLOAD_TURN`
    /// per call, while the answer goes out; closes when both are done.
    fn drive_lingering(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        let State::Lingering {
            answer,
            send_at,
            left,
        } = &mut self.state
        else {
            return Ok(Next::Keep);
        };
        if now >= *send_at && !answer.is_empty() {
            self.out.append(answer);
        }
        let dropped = self
            .input
            .len()
            .min(usize::try_from(*left).unwrap_or(usize::MAX));
        *left -= dropped as u64;
        self.input.clear();
        let mut buf = [0u8; 64 * 1024];
        let mut budget = UPLOAD_TURN;
        let mut eof = false;
        while *left > 0 && budget > 0 {
            let room = buf.len().min(budget);
            match self.stream.read(&mut buf[..room]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    self.active = now;
                    budget -= n;
                    *left = left.saturating_sub(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let (answered, body_done) = (answer.is_empty(), *left == 0);
        if self.write_out(app, now)? == Next::Close {
            return Ok(Next::Close);
        }
        let flushed = self.out_pos >= self.out.len();
        if answered && flushed && (body_done || eof) {
            return Ok(Next::Close);
        }
        Ok(Next::Keep)
    }

    fn answer_snapshot(&mut self, frame: &SharedFrame, head_only: bool, keep_alive: bool) {
        let mut response = Response::new(Status::Ok, "image/jpeg", frame.jpeg.to_vec())
            .header("Cache-Control", "no-store")
            .header("X-Frame-Seq", frame.seq.to_string());
        response.head_only = head_only;
        response.write_to(&mut self.out, keep_alive);
        self.after_response(keep_alive);
    }

    /// Who is asking, for the routes: the address (login delays) and whether
    /// over TLS (the session cookie's `Secure`).
    fn client(&self) -> routes::Client {
        routes::Client {
            ip: self.peer.ip(),
            tls: self.stream.is_tls(),
        }
    }

    /// A response is out: wait for the next request, or close after it.
    fn after_response(&mut self, keep_alive: bool) {
        self.set_state(if keep_alive {
            State::Http {
                request_started: None,
            }
        } else {
            State::Closing
        });
    }

    /// Writes `out` and, under TLS, the records still in rustls. False: the
    /// socket is full, the rest goes when it drains (the loop calls back).
    fn flush_out(&mut self, now: Instant) -> io::Result<bool> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.active = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        match self.stream.flush() {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes pending responses, then the viewer's parts. Close when a
    /// `Closing` connection has written everything (under TLS, up to its
    /// close_notify).
    fn write_out(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        if !self.flush_out(now)? {
            return Ok(Next::Keep);
        }
        match &mut self.state {
            State::Closing => {
                self.stream.close_notify();
                return Ok(if self.flush_out(now)? {
                    Next::Close
                } else {
                    Next::Keep
                });
            }
            State::Viewer(viewer) => {
                let before = viewer.frames_sent;
                viewer.write_to(&mut self.stream, app.video.latest())?;
                if viewer.frames_sent != before || !viewer.is_idle() {
                    self.active = now;
                }
            }
            _ => {}
        }
        Ok(Next::Keep)
    }

    /// A new frame was published. An idle viewer takes it and answers
    /// `Write`: the loop sends it with `write_frame` when its turn comes, so
    /// input that arrived meanwhile is not kept waiting behind every viewer.
    pub fn on_frame(&mut self, frame: &SharedFrame, app: &mut App, now: Instant) -> Next {
        match self.state {
            State::Viewer(ref mut viewer) if viewer.is_idle() => {
                viewer.offer(frame);
                if viewer.is_idle() {
                    Next::Keep
                } else {
                    Next::Write
                }
            }
            State::Snapshot {
                head_only,
                keep_alive,
                ..
            } => {
                self.answer_snapshot(frame, head_only, keep_alive);
                self.on_ready(app, now)
            }
            _ => Next::Keep,
        }
    }

    /// Sends what `on_frame` offered. Only writes: a viewer has nothing to
    /// say, and reading here cost one empty recv per viewer per frame
    /// (bench/README.md). Its hang-up still arrives as a readable event.
    pub fn write_frame(&mut self, app: &mut App, now: Instant) -> Next {
        let outcome = self.write_out(app, now);
        self.settle(outcome)
    }

    /// When `on_timer` must run next.
    pub fn poll_at(&self) -> Instant {
        match &self.state {
            State::Http {
                request_started: Some(t),
            } => *t + REQUEST,
            State::Http {
                request_started: None,
            } => self.active + IDLE,
            State::Closing => self.active + REQUEST,
            State::Held { until, .. } => *until,
            State::Viewer(_) => self.active + STALLED,
            State::Snapshot { until, .. } => *until,
            // Called again right away (on_timer) when it stopped at its budget.
            State::Upload { more: true, .. } => self.active,
            State::Upload { more: false, .. } => self.active + UPLOAD_STALLED,
            State::Lingering {
                answer, send_at, ..
            } if !answer.is_empty() => *send_at,
            // Bounded from the answer, however slowly the body trickles in.
            State::Lingering { send_at, .. } => *send_at + LINGER,
            State::WebSocket { heard, pinged, .. } => (*heard + WS_SILENT).min(*pinged + PING),
        }
    }

    pub fn on_timer(&mut self, app: &mut App, now: Instant) -> Next {
        if now < self.poll_at() {
            return Next::Keep;
        }
        match &mut self.state {
            State::Http {
                request_started: Some(_),
            } => {
                log::debug!(
                    "{}: request not complete within {}s",
                    self.peer,
                    REQUEST.as_secs()
                );
                Response::error(Status::RequestTimeout, "request took too long to arrive")
                    .write_to(&mut self.out, false);
                self.input.clear();
                self.set_state(State::Closing);
                self.on_ready(app, now)
            }
            State::Held {
                response,
                keep_alive,
                ..
            } => {
                let keep_alive = *keep_alive;
                let response = std::mem::take(response);
                self.out.extend_from_slice(&response);
                self.after_response(keep_alive);
                self.on_ready(app, now)
            }
            State::Snapshot {
                head_only,
                keep_alive,
                ..
            } => {
                let (head_only, keep_alive) = (*head_only, *keep_alive);
                let mut r = Response::error(
                    Status::ServiceUnavailable,
                    "no frame from the video source within 5 s; check the capture device and the target's screen",
                );
                r.head_only = head_only;
                r.write_to(&mut self.out, keep_alive);
                self.after_response(keep_alive);
                self.on_ready(app, now)
            }
            State::Upload { more: true, .. } => self.on_ready(app, now),
            State::Upload {
                upload,
                more: false,
                ..
            } => {
                log::info!(
                    "{}: upload of {} stalled for {}s ({} bytes in), closing",
                    self.peer,
                    upload.name(),
                    UPLOAD_STALLED.as_secs(),
                    upload.written()
                );
                Next::Close
            }
            State::Lingering { answer, .. } if !answer.is_empty() => self.on_ready(app, now),
            State::Lingering { .. } => Next::Close,
            State::WebSocket {
                ws, heard, pinged, ..
            } => {
                if now >= *heard + WS_SILENT {
                    log::info!(
                        "{}: WebSocket silent for {}s, closing",
                        self.peer,
                        WS_SILENT.as_secs()
                    );
                    return Next::Close;
                }
                *pinged = now;
                match ws.ping(&mut self.stream) {
                    Ok(()) => Next::Keep,
                    Err(_) => Next::Close,
                }
            }
            State::Http {
                request_started: None,
            }
            | State::Closing
            | State::Viewer(_) => Next::Close,
        }
    }

    fn drive_websocket(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        // The upgrade response may still be partly unwritten.
        if !self.flush_out(now)? {
            return Ok(Next::Keep);
        }
        if let State::WebSocket {
            greeted: greeted @ false,
            ..
        } = &mut self.state
        {
            *greeted = true;
            if self.send_text(status_message(app, now)) == Next::Close {
                return Ok(Next::Close);
            }
        }
        let State::WebSocket { ws, heard, .. } = &mut self.state else {
            return Ok(Next::Keep);
        };
        let mut events = Vec::new();
        ws.read(&mut self.stream, &mut events);
        let mut replies = Vec::new();
        let mut closed = false;
        for event in events {
            *heard = now;
            match event {
                ws::Event::Text(text) => {
                    match ws::parse_input(&text).and_then(|input| app.hid.input(input, now)) {
                        Ok(None) => {}
                        Ok(Some(skipped)) => replies.push(format!(
                            "{{\"type\":\"paste\",\"skipped\":{}}}",
                            crate::json::quote(&skipped)
                        )),
                        Err(e) => replies.push(format!(
                            "{{\"type\":\"error\",\"message\":{}}}",
                            crate::json::quote(&e)
                        )),
                    }
                }
                ws::Event::Control => {}
                ws::Event::Closed => closed = true,
            }
        }
        if closed {
            return Ok(Next::Close);
        }
        for reply in replies {
            if self.send_text(reply) == Next::Close {
                return Ok(Next::Close);
            }
        }
        let State::WebSocket { ws, .. } = &mut self.state else {
            return Ok(Next::Keep);
        };
        Ok(if ws.flush(&mut self.stream).is_ok() {
            Next::Keep
        } else {
            Next::Close
        })
    }

    /// Sends a text message if this is a WebSocket that has been greeted
    /// (its 101 head is out; frames must follow it).
    pub fn send_text(&mut self, text: String) -> Next {
        let State::WebSocket {
            ws, greeted: true, ..
        } = &mut self.state
        else {
            return Next::Keep;
        };
        match ws.send(&mut self.stream, text) {
            Ok(()) => Next::Keep,
            Err(e) => {
                log::debug!("{}: websocket send: {e}", self.peer);
                Next::Close
            }
        }
    }
}

/// The WebSocket `status` message.
pub fn status_message(app: &mut App, now: Instant) -> String {
    format!(
        "{{\"type\":\"status\",\"status\":{}}}",
        app.status_json(now)
    )
}

/// The most a connection buffers before its request is refused: a head plus
/// the largest API body.
fn app_input_cap() -> usize {
    let limits = request::Limits::default();
    limits.max_head + limits.max_body + 1
}

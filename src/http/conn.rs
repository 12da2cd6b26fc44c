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
            State::WebSocket { .. } => "WebSocket",
        }
    }
}

/// What the event loop should know after a call.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Keep,
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
            State::Http { .. } | State::Closing | State::Held { .. } => Kind::Http,
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
            | State::Held { .. } => Some(self.active),
            State::Viewer(_) | State::Snapshot { .. } | State::WebSocket { .. } => None,
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
        match self.drive(app, now) {
            Ok(next) => next,
            Err(e) => {
                log::debug!("{}: {e}", self.peer);
                Next::Close
            }
        }
    }

    fn drive(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        if let State::WebSocket { .. } = self.state {
            return self.drive_websocket(app, now);
        }
        loop {
            let (eof, full) = self.read_input(now)?;
            if let State::Viewer(_) = self.state {
                // A viewer has nothing to say; whatever it sends is dropped.
                self.input.clear();
            }
            if let State::Http { .. } = self.state {
                self.handle_requests(app, now);
                if let State::WebSocket { .. } = self.state {
                    return self.drive_websocket(app, now);
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
            let end = head_len + req.content_length;
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
            let client = routes::Client {
                ip: self.peer.ip(),
                tls: self.stream.is_tls(),
            };
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
                Action::Snapshot => match app.fresh_frame(now) {
                    Some(frame) => self.answer_snapshot(&frame, head_only, req.keep_alive),
                    None => self.set_state(State::Snapshot {
                        head_only,
                        keep_alive: req.keep_alive,
                        until: now + SNAPSHOT,
                    }),
                },
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

    fn answer_snapshot(&mut self, frame: &SharedFrame, head_only: bool, keep_alive: bool) {
        let mut response = Response::new(Status::Ok, "image/jpeg", frame.jpeg.to_vec())
            .header("Cache-Control", "no-store")
            .header("X-Frame-Seq", frame.seq.to_string());
        response.head_only = head_only;
        response.write_to(&mut self.out, keep_alive);
        self.after_response(keep_alive);
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
                viewer.write_to(&mut self.stream, app.latest.as_ref(), &|at| {
                    app.monotonic_us(at)
                })?;
                if viewer.frames_sent != before || !viewer.is_idle() {
                    self.active = now;
                }
            }
            _ => {}
        }
        Ok(Next::Keep)
    }

    /// A new frame was published.
    pub fn on_frame(&mut self, frame: &SharedFrame, app: &mut App, now: Instant) -> Next {
        match self.state {
            State::Viewer(ref mut viewer) if viewer.is_idle() => {
                viewer.offer(frame, &|at| app.monotonic_us(at));
                self.on_ready(app, now)
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

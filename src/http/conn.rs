//! One client connection as a state machine: it reads requests (split or
//! pipelined), answers them, and may turn into an MJPEG viewer, a snapshot
//! waiting for a frame, an upload body (`upload`), a refused body being
//! drained (`linger`), a WebSocket session (`websocket`) or a video
//! channel (`video_session`); those own the socket while they run. The event
//! loop calls it when its socket is ready, when a frame is published, and
//! when its deadline passes; it never blocks and returns whether the
//! connection lives on.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::io::{Filled, Metered, Stream, Wire};
use super::linger::{Drain, Linger};
use super::request::{self, Method, Request};
use super::response::{open_ended_head, Response};
use super::routes::{self, Action};
use super::serial_session::SerialSession;
use super::upload::{self, UploadBody};
use super::video_session::VideoSession;
use super::websocket::{Link, Session};
use super::Status;
use crate::app::App;
use crate::auth::{Principal, Ticket, Verdict};
use crate::metrics::ViewerKind;
use crate::tls::Socket;
use crate::video::fanout::{self, Viewer};
use crate::video::SharedFrame;

/// A keep-alive connection with nothing to do is closed after this.
const IDLE: Duration = Duration::from_secs(60);
/// A request's head and body must arrive within this (slow-loris clients).
const REQUEST: Duration = Duration::from_secs(15);
/// A snapshot waits this long for a frame before giving up with 503.
const SNAPSHOT: Duration = Duration::from_secs(5);
/// A viewer whose socket took nothing for this long is dropped.
const STALLED: Duration = Duration::from_secs(60);
/// A request parked for its password check is answered 503 after this (the
/// checker's queue is short, so only a dead thread takes so long).
const CHECK_WAIT: Duration = Duration::from_secs(15);
/// Responses not yet taken by the client; beyond this, pipelined requests wait.
const OUT_HIGH: usize = 256 * 1024;
/// Frame bytes written to one viewer in one go: the loop's write turn goes
/// round its viewers a chunk at a time for `WRITE_BUDGET`, then reads input.
const WRITE_CHUNK: usize = 64 * 1024;

/// What the connection is doing.
enum State {
    /// Waiting for the next request (kept alive).
    Idle,
    /// A request has been arriving since `since`.
    Receiving {
        since: Instant,
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
    Upload(UploadBody),
    /// A body was refused: its answer goes out while the rest is dropped.
    Lingering(Linger),
    /// Parked while the checker thread judges the request's password
    /// (`auth::checker`); requests behind it wait. `streamed`: an upload,
    /// whose body is still unread.
    Checking {
        ticket: Ticket,
        request: Box<Request>,
        body: Vec<u8>,
        streamed: bool,
        since: Instant,
    },
    /// Boxed: the WebSocket's buffers would make every connection's state
    /// as big as theirs.
    WebSocket(Box<Session>),
    /// `/ws/video`: frames for the page's canvas, sent as it acknowledges
    /// them (boxed like `WebSocket`).
    Video(Box<VideoSession>),
    /// `/ws/serial`: the target's serial console (boxed like `WebSocket`).
    Serial(Box<SerialSession>),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Receiving { .. } => "Receiving",
            State::Closing => "Closing",
            State::Held { .. } => "Held",
            State::Checking { .. } => "Checking",
            State::Viewer(_) => "Viewer",
            State::Snapshot { .. } => "Snapshot",
            State::Upload(_) => "Upload",
            State::Lingering(_) => "Lingering",
            State::WebSocket(_) => "WebSocket",
            State::Video(_) => "Video",
            State::Serial(_) => "Serial",
        }
    }
}

/// What the event loop should know after a call.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Keep,
    /// A viewer has a frame to send, or a video channel something to
    /// write: the loop calls `write_frame` when its turn comes.
    Write,
    Close,
}

impl From<Link> for Next {
    fn from(link: Link) -> Next {
        match link {
            Link::Open => Next::Keep,
            Link::Closed => Next::Close,
        }
    }
}

impl From<Drain> for Next {
    fn from(drain: Drain) -> Next {
        match drain {
            Drain::Lingering => Next::Keep,
            Drain::Done => Next::Close,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Kind {
    Http,
    Viewer,
    Snapshot,
    WebSocket,
    /// A serial console (`/ws/serial`): it types, but not on the HID.
    Serial,
}

/// `S`: plain TCP or TLS (or the tests' fake stream).
pub struct Conn<S = Socket> {
    wire: Wire<S>,
    /// Bytes read and not yet taken by a request.
    input: Vec<u8>,
    state: State,
    /// See `principal()`.
    principal: Option<Principal>,
}

impl<S: Stream> Conn<S> {
    pub fn new(stream: S, peer: SocketAddr, now: Instant) -> Conn<S> {
        Conn {
            wire: Wire::new(stream, peer, now),
            input: Vec::new(),
            state: State::Idle,
            principal: None,
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.wire.peer
    }

    /// The socket, for the event loop to register and deregister.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.wire.stream
    }

    pub fn kind(&self) -> Kind {
        match self.state {
            State::Idle
            | State::Receiving { .. }
            | State::Closing
            | State::Held { .. }
            | State::Checking { .. }
            | State::Upload(_)
            | State::Lingering(_) => Kind::Http,
            State::Viewer(_) | State::Video(_) => Kind::Viewer,
            State::Snapshot { .. } => Kind::Snapshot,
            State::WebSocket(_) => Kind::WebSocket,
            State::Serial(_) => Kind::Serial,
        }
    }

    /// A video viewer's kind and how far behind `newest` (a capture time)
    /// its picture is, for `/metrics`; `None` for other connections.
    pub fn viewer_lag(&self, newest: Instant) -> Option<(ViewerKind, Duration)> {
        match &self.state {
            State::Viewer(viewer) => Some((ViewerKind::Stream, viewer.lag(newest))),
            State::Video(session) => Some((ViewerKind::Canvas, session.lag(newest))),
            _ => None,
        }
    }

    /// Since when this connection has been a candidate for shedding when kv
    /// runs out of connections: keep-alive connections with nothing to do,
    /// heads still arriving (counted from their start, so slow-loris clients
    /// go first), held answers. Viewers, snapshots and WebSockets — only ever
    /// authenticated when credentials are set — are never shed.
    pub fn idle_since(&self) -> Option<Instant> {
        let active = self.wire.active();
        match self.state {
            State::Receiving { since } => Some(since.min(active)),
            State::Idle
            | State::Closing
            | State::Held { .. }
            | State::Checking { .. }
            | State::Lingering(_) => Some(active),
            State::Viewer(_)
            | State::Snapshot { .. }
            | State::Upload(_)
            | State::WebSocket(_)
            | State::Video(_)
            | State::Serial(_) => None,
        }
    }

    /// Every state change goes through here; returns the state left.
    fn take_state(&mut self, state: State) -> State {
        log::trace!(
            "{}: state={}=>{}",
            self.wire.peer,
            self.state.name(),
            state.name()
        );
        std::mem::replace(&mut self.state, state)
    }

    fn set_state(&mut self, state: State) {
        self.take_state(state);
    }

    /// The socket is readable or writable (edge-triggered: drain both ways).
    pub fn on_ready(&mut self, app: &mut App, now: Instant) -> Next {
        let outcome = self.drive(app, now);
        self.settle(outcome)
    }

    /// An I/O error closes the connection.
    fn settle(&self, outcome: io::Result<Next>) -> Next {
        outcome.unwrap_or_else(|e| {
            log::debug!("{}: {e}", self.wire.peer);
            Next::Close
        })
    }

    fn drive(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        loop {
            if let Some(outcome) = self.drive_handed_off(app, now) {
                return outcome;
            }
            let filled = self.wire.read_into(&mut self.input, input_cap(), now)?;
            match self.state {
                // A viewer has nothing to say; whatever it sends is dropped.
                State::Viewer(_) => self.input.clear(),
                State::Idle | State::Receiving { .. } => {
                    self.handle_requests(app, now);
                    if let Some(outcome) = self.drive_handed_off(app, now) {
                        return outcome;
                    }
                }
                _ => {}
            }
            let wrote = self.write_out(app, now)?;
            if wrote == Next::Close {
                return Ok(Next::Close);
            }
            match filled {
                // Half-closed clients that still wait for answers were just written.
                Filled::Closed => return Ok(Next::Close),
                Filled::Full if self.input.len() < input_cap() => {}
                // A full buffer that nothing consumed (a held answer, a
                // snapshot, a client not reading its responses) is read again
                // when that changes: the loop calls back on writable, on the
                // timer or on the frame, and must not spin here meanwhile.
                Filled::Drained | Filled::Full => return Ok(wrote),
            }
        }
    }

    /// Runs the state that owns the socket (upload body, refused body,
    /// WebSocket); `None` in the request/response states.
    fn drive_handed_off(&mut self, app: &mut App, now: Instant) -> Option<io::Result<Next>> {
        let (wire, input) = (&mut self.wire, &mut self.input);
        match &mut self.state {
            State::WebSocket(session) => Some(session.drive(wire, app, now).map(Next::from)),
            // Acks are read here; what they let go is written in the loop's
            // write turn, after this turn's input.
            State::Video(session) => Some(Ok(write_turn(session.read(wire, now)))),
            State::Serial(session) => Some(match &mut app.serial {
                Some(serial) => session.drive(wire, serial, now).map(Next::from),
                None => Ok(Next::Close),
            }),
            State::Lingering(linger) => Some(linger.drive(wire, input, now).map(Next::from)),
            State::Upload(body) => {
                let step = body.drive(wire, input, now);
                Some(step.and_then(|step| self.upload_step(step, app, now)))
            }
            _ => None,
        }
    }

    fn handle_requests(&mut self, app: &mut App, now: Instant) {
        let limits = request::Limits::default();
        loop {
            if self.wire.pending() > OUT_HIGH {
                return;
            }
            match self.state {
                State::Idle | State::Receiving { .. } if self.input.is_empty() => return,
                State::Idle => self.set_state(State::Receiving { since: now }),
                State::Receiving { .. } => {}
                _ => return,
            }
            let (req, head_len) = match request::parse(&self.input, &limits) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return,
                Err(refusal) => {
                    log::debug!(
                        "{}: {} {}",
                        self.wire.peer,
                        refusal.status.code(),
                        refusal.reason
                    );
                    self.close_with(Response::error(refusal.status, refusal.reason));
                    self.input.clear();
                    return;
                }
            };
            if req.streams_body() {
                self.input.drain(..head_len);
                log::debug!(
                    "{}: {:?} {} (streamed body)",
                    self.wire.peer,
                    req.method,
                    req.path
                );
                let routed = routes::handle(&req, &[], self.client(), app, now);
                self.begin_streamed_body(req, routed, now);
                return;
            }
            // Within max_body (request::parse refused more).
            let end = head_len + usize::try_from(req.content_length).unwrap_or(usize::MAX);
            if self.input.len() < end {
                return;
            }
            let body = self.input[head_len..end].to_vec();
            self.input.drain(..end);
            log::debug!("{}: {:?} {}", self.wire.peer, req.method, req.path);
            let routed = routes::handle(&req, &body, self.client(), app, now);
            self.dispatch(req, body, routed, app, now);
        }
    }

    /// Does what the route said: every answer below sets the next state.
    fn dispatch(
        &mut self,
        req: Request,
        body: Vec<u8>,
        (action, principal): routes::Routed,
        app: &mut App,
        now: Instant,
    ) {
        self.principal = principal;
        let head_only = req.method == Method::Head;
        match action {
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
                    None => self.respond(&response, req.keep_alive),
                }
            }
            Action::Stream => self.begin_stream(head_only),
            Action::Snapshot => match app.video.fresh_frame(now) {
                Some(frame) => self.answer_snapshot(&frame, head_only, req.keep_alive),
                None => self.set_state(State::Snapshot {
                    head_only,
                    keep_alive: req.keep_alive,
                    until: now + SNAPSHOT,
                }),
            },
            // Only requests that stream their body start uploads.
            Action::Upload(_) => self.close_with(Response::error(
                Status::BadRequest,
                "an upload must stream its body",
            )),
            Action::Upgrade(accept) => {
                let leftover = self.switch_protocols(&accept);
                let principal = self.principal.clone().unwrap_or_else(Principal::nobody);
                let since = crate::auth::cli::unix_now();
                let seat = app.control.join(principal.clone(), since);
                let session = Session::new(leftover, principal, seat, now);
                self.set_state(State::WebSocket(Box::new(session)));
            }
            Action::UpgradeVideo(accept, view) => {
                let leftover = self.switch_protocols(&accept);
                let session = VideoSession::new(leftover, view, now);
                self.set_state(State::Video(Box::new(session)));
            }
            Action::UpgradeSerial(accept) => match &app.serial {
                Some(serial) => {
                    let leftover = self.switch_protocols(&accept);
                    let principal = self.principal.clone().unwrap_or_else(Principal::nobody);
                    let session = SerialSession::new(leftover, serial, &principal, now);
                    self.set_state(State::Serial(Box::new(session)));
                }
                None => self.close_with(routes::no_serial()),
            },
            Action::Check(ticket) => self.set_state(State::Checking {
                ticket,
                request: Box::new(req),
                body,
                streamed: false,
                since: now,
            }),
        }
    }

    /// Queues the 101 answer to a WebSocket upgrade; returns the bytes that
    /// came after the request, the session's first.
    fn switch_protocols(&mut self, accept: &str) -> Vec<u8> {
        self.wire.out().extend_from_slice(&open_ended_head(
            Status::SwitchingProtocols,
            &[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", accept),
            ],
        ));
        std::mem::take(&mut self.input)
    }

    /// `GET /stream`: the MJPEG head, then frames as they come (HEAD: the
    /// head alone).
    fn begin_stream(&mut self, head_only: bool) {
        let content_type = format!("multipart/x-mixed-replace; boundary={}", fanout::BOUNDARY);
        self.wire.out().extend_from_slice(&open_ended_head(
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
            self.wire.out().extend_from_slice(fanout::BODY_START);
            self.set_state(State::Viewer(Viewer::default()));
        }
    }

    /// A request whose body goes to disk as it arrives (an image upload):
    /// start the upload, or answer the refusal and drop the body.
    fn begin_streamed_body(
        &mut self,
        req: Request,
        (action, principal): routes::Routed,
        now: Instant,
    ) {
        self.principal = principal;
        match action {
            Action::Upload(upload) => {
                if req.header_has("expect", "100-continue") {
                    self.wire
                        .out()
                        .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                self.set_state(State::Upload(UploadBody::new(upload, req.keep_alive)));
            }
            Action::Respond(response) => {
                let linger = Linger::new(&response, now, req.content_length);
                self.set_state(State::Lingering(linger));
            }
            Action::Check(ticket) => self.set_state(State::Checking {
                ticket,
                request: Box::new(req),
                body: Vec::new(),
                streamed: true,
                since: now,
            }),
            Action::Stream
            | Action::Snapshot
            | Action::Upgrade(_)
            | Action::UpgradeVideo(..)
            | Action::UpgradeSerial(_) => self.close_with(Response::error(
                Status::BadRequest,
                "this route takes no body",
            )),
        }
    }

    /// The ticket of the password check this connection waits for.
    pub fn checking(&self) -> Option<Ticket> {
        match self.state {
            State::Checking { ticket, .. } => Some(ticket),
            _ => None,
        }
    }

    /// The checker thread judged the parked request's password: it runs
    /// now as if judged at once, then whatever waited behind it.
    pub fn on_checked(&mut self, verdict: Verdict, app: &mut App, now: Instant) -> Next {
        let State::Checking {
            request,
            body,
            streamed,
            ..
        } = self.take_state(State::Receiving { since: now })
        else {
            return Next::Keep;
        };
        let (req, client) = (*request, self.client());
        if streamed {
            let routed = routes::resume(&req, &[], client, app, now, verdict);
            self.begin_streamed_body(req, routed, now);
        } else {
            let routed = routes::resume(&req, &body, client, app, now, verdict);
            self.dispatch(req, body, routed, app, now);
        }
        self.on_ready(app, now)
    }

    /// Who this connection's last request was authenticated as: when their
    /// session or account ends, the connection is closed.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// What a turn of the upload body means for the connection.
    fn upload_step(&mut self, step: upload::Step, app: &mut App, now: Instant) -> io::Result<Next> {
        match step {
            upload::Step::Pending => Ok(Next::Keep),
            upload::Step::Closed => Ok(Next::Close),
            upload::Step::Complete => self.finish_upload(app, now),
            upload::Step::Failed { answer, left } => {
                // The rest of the body is dropped.
                self.input.clear();
                self.set_state(State::Lingering(Linger::new(&answer, now, left)));
                self.drive(app, now)
            }
        }
    }

    fn finish_upload(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        let State::Upload(body) = self.take_state(State::Idle) else {
            return Ok(Next::Keep);
        };
        let name = body.name().to_string();
        let (response, keep_alive) = body.finish(app.media.as_mut());
        if response.status == Status::Ok {
            let user = self.principal.as_ref().map(|p| p.user.as_str());
            let user = user.filter(|u| !u.is_empty());
            super::audit::uploaded(app, &name, self.wire.peer.ip(), user);
        }
        self.respond(&response, keep_alive);
        self.drive(app, now)
    }

    fn answer_snapshot(&mut self, frame: &SharedFrame, head_only: bool, keep_alive: bool) {
        let mut response = Response::new(Status::Ok, "image/jpeg", frame.jpeg.to_vec())
            .header("Cache-Control", "no-store")
            .header("X-Frame-Seq", frame.seq.to_string());
        response.head_only = head_only;
        self.respond(&response, keep_alive);
    }

    /// Who is asking, for the routes: the address (login delays) and whether
    /// over TLS (the session cookie's `Secure`).
    fn client(&self) -> routes::Client {
        routes::Client {
            ip: self.wire.peer.ip(),
            tls: self.wire.stream.is_tls(),
        }
    }

    /// Queues `response`, then waits for the next request or closes after it.
    fn respond(&mut self, response: &Response, keep_alive: bool) {
        response.write_to(self.wire.out(), keep_alive);
        self.after_response(keep_alive);
    }

    /// Queues `response` as the last one.
    fn close_with(&mut self, response: Response) {
        self.respond(&response, false);
    }

    /// A response is out: wait for the next request, or close after it.
    fn after_response(&mut self, keep_alive: bool) {
        self.set_state(if keep_alive {
            State::Idle
        } else {
            State::Closing
        });
    }

    /// Writes pending responses, then the viewer's parts. Close when a
    /// `Closing` connection has written everything (under TLS, up to its
    /// close_notify).
    /// Writes what waits: responses, then frames, at most `WRITE_CHUNK`
    /// bytes of those; `Next::Write` when more frame bytes wait for the
    /// loop's write turn.
    fn write_out(&mut self, app: &mut App, now: Instant) -> io::Result<Next> {
        let mut left = WRITE_CHUNK;
        // The video channel orders its own bytes: the wire's buffer must not
        // cut into a frame message.
        if let State::Video(session) = &mut self.state {
            let link = session.write(&mut self.wire, app.video.updates(), now, &mut left)?;
            return Ok(match Next::from(link) {
                Next::Keep if left == 0 => Next::Write,
                next => next,
            });
        }
        if !self.wire.flush(now)? {
            return Ok(Next::Keep);
        }
        match &mut self.state {
            State::Closing => {
                self.wire.stream.close_notify();
                return Ok(if self.wire.flush(now)? {
                    Next::Close
                } else {
                    Next::Keep
                });
            }
            State::Viewer(viewer) => {
                let before = viewer.frames_sent;
                let latest = app
                    .video
                    .latest()
                    .filter(|l| link_has_room(&self.wire.stream, l));
                viewer.write_to(&mut Metered::new(&mut self.wire.stream, &mut left), latest)?;
                if viewer.frames_sent != before || !viewer.is_idle() {
                    self.wire.touch(now);
                }
            }
            _ => {}
        }
        Ok(if left == 0 { Next::Write } else { Next::Keep })
    }

    /// Whether this is a `/ws/video` channel.
    pub fn is_canvas(&self) -> bool {
        matches!(self.state, State::Video(_))
    }

    /// A new frame was published. An idle viewer takes it and answers
    /// `Write`: the loop sends it with `write_frame` when its turn comes, so
    /// input that arrived meanwhile is not kept waiting behind every viewer.
    pub fn on_frame(&mut self, frame: &SharedFrame, app: &mut App, now: Instant) -> Next {
        match self.state {
            State::Viewer(ref mut viewer) if viewer.is_idle() => {
                if !link_has_room(&self.wire.stream, frame) {
                    return Next::Keep;
                }
                viewer.offer(frame);
                if viewer.is_idle() {
                    Next::Keep
                } else {
                    Next::Write
                }
            }
            State::Video(ref session) if session.wants(frame) => Next::Write,
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
        let active = self.wire.active();
        match &self.state {
            State::Receiving { since } => *since + REQUEST,
            State::Idle => active + IDLE,
            State::Closing => active + REQUEST,
            State::Held { until, .. } => *until,
            State::Checking { since, .. } => *since + CHECK_WAIT,
            State::Viewer(_) => active + STALLED,
            State::Snapshot { until, .. } => *until,
            State::Upload(body) => body.poll_at(active),
            State::Lingering(linger) => linger.poll_at(),
            State::WebSocket(session) => session.poll_at(),
            State::Video(session) => session.poll_at(),
            State::Serial(session) => session.poll_at(),
        }
    }

    pub fn on_timer(&mut self, app: &mut App, now: Instant) -> Next {
        if now < self.poll_at() {
            return Next::Keep;
        }
        let (wire, input) = (&mut self.wire, &mut self.input);
        match &mut self.state {
            State::Receiving { .. } => {
                log::debug!(
                    "{}: request not complete within {}s",
                    wire.peer,
                    REQUEST.as_secs()
                );
                self.close_with(Response::error(
                    Status::RequestTimeout,
                    "request took too long to arrive",
                ));
                self.input.clear();
                self.on_ready(app, now)
            }
            State::Held {
                response,
                keep_alive,
                ..
            } => {
                let keep_alive = *keep_alive;
                wire.out().append(response);
                self.after_response(keep_alive);
                self.on_ready(app, now)
            }
            State::Checking { .. } => {
                self.close_with(Response::error(
                    Status::ServiceUnavailable,
                    "the password could not be checked in time; retry",
                ));
                self.input.clear();
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
                self.respond(&r, keep_alive);
                self.on_ready(app, now)
            }
            State::Upload(body) => {
                let step = body.on_timer(wire, input, now);
                let outcome = step.and_then(|step| self.upload_step(step, app, now));
                self.settle(outcome)
            }
            State::Lingering(linger) => {
                let outcome = linger.on_timer(wire, input, now).map(Next::from);
                self.settle(outcome)
            }
            State::WebSocket(session) => session.on_timer(wire, now).into(),
            // A ping waits in the wire for the write turn.
            State::Video(session) => write_turn(session.on_timer(wire, now)),
            State::Serial(session) => session.on_timer(wire, now).into(),
            State::Idle | State::Closing | State::Viewer(_) => Next::Close,
        }
    }

    /// The serial console moved (output came, or its input queue took
    /// bytes): a console session that waits for that takes its turn.
    pub fn on_serial(&mut self, app: &mut App, now: Instant) -> Next {
        match (&self.state, &app.serial) {
            (State::Serial(session), Some(serial)) if session.wants_turn(serial) => {
                self.on_ready(app, now)
            }
            _ => Next::Keep,
        }
    }

    /// The presence seat of a `/ws` session.
    pub fn seat(&self) -> Option<u64> {
        match &self.state {
            State::WebSocket(session) => Some(session.seat()),
            _ => None,
        }
    }

    /// Sends a `/ws` page the presence, if it is new to it.
    pub fn send_presence(&mut self, presence: String) -> Next {
        match &mut self.state {
            State::WebSocket(session) => session.send_presence(&mut self.wire, presence).into(),
            _ => Next::Keep,
        }
    }

    /// Sends a text message if this is a WebSocket session that has been
    /// greeted (its 101 head is out; frames must follow it).
    pub fn send_text(&mut self, text: String) -> Next {
        match &mut self.state {
            State::WebSocket(session) => session.send_text(&mut self.wire, text).into(),
            _ => Next::Keep,
        }
    }
}

/// A video channel still open has something for the loop's write turn.
fn write_turn(link: Link) -> Next {
    match link {
        Link::Open => Next::Write,
        Link::Closed => Next::Close,
    }
}

/// The most a connection buffers before its request is refused: a head plus
/// the largest API body.
fn input_cap() -> usize {
    let limits = request::Limits::default();
    limits.max_head + limits.max_body + 1
}

/// Whether a viewer's link has room for `frame`: at most one frame's bytes
/// still unacknowledged. TCP_NOTSENT_LOWAT keeps kv's own socket buffer
/// short, but the bytes it hands on can still queue in the network (a VPN, a
/// shaped uplink) for seconds; a frame started then only waits behind them,
/// so the viewer skips it and takes the next one. Unknown (a test's fake
/// socket): room.
fn link_has_room(stream: &impl Stream, frame: &SharedFrame) -> bool {
    stream
        .unacknowledged()
        .is_none_or(|bytes| bytes <= frame.jpeg.len())
}

#[cfg(test)]
mod tests;

//! The one event loop: a `mio::Poll` over the listening socket, every client,
//! the video source's descriptors, the HID sinks, the signal descriptor (shutdown
//! and the supervised dnsmasq's exit), the USB network's restart timer, and
//! the waker of the password checker (`auth::checker`: the only other thread,
//! for argon2, which cannot be sliced; it shares nothing with the loop but
//! two channels).
//! It owns the clock: each turn reads `now` once, hands it to whatever is
//! ready or due, and sleeps until the earliest `poll_at` of all of them.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::app::App;
use crate::auth;
use crate::http::conn::{Conn, Kind, Next};
use crate::http::response::Response;
use crate::http::websocket;
use crate::http::Status;
use crate::sys::signal::Signals;
use crate::tls::Socket;
use crate::video::{Audience, SharedFrame};

/// The password checker thread has answers (`auth::checker`).
const CHECKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const VIDEO: Token = Token(2);
/// PRIORITY too: a V4L2 event (the source changed) is POLLPRI, not readable.
const VIDEO_INTEREST: Interest = Interest::READABLE.add(Interest::PRIORITY);
const HID: Token = Token(3);
/// Listener `i` is `Token(FIRST_LISTENER + i)`.
const FIRST_LISTENER: usize = 4;
/// Connection slot `i` is `Token(FIRST_CONN + i)`.
const FIRST_CONN: usize = 16;

/// How often status (fps, viewers, HID state) is recomputed and pushed.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How long one turn may spend writing frames to viewers before it looks for
/// input again: on a small board, copying a 1080p frame into 20 sockets takes
/// tens of ms, and a keystroke must not wait behind all of it.
const WRITE_BUDGET: Duration = Duration::from_millis(1);

/// Unsent bytes a client's socket may hold before kv stops writing to it
/// (TCP_NOTSENT_LOWAT): enough to keep a fast link busy between two loop
/// turns, little enough that a slow link's viewer is never sent a frame while
/// an older one still waits in the kernel, so its lag stays one frame deep.
const UNSENT_LIMIT: u32 = 16 * 1024;

/// A listening socket; its clients speak TLS when `tls` is set.
pub struct Listener {
    pub socket: TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

pub struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    signals: Signals,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Viewers holding a frame not yet written (or a video channel with
    /// something to write), in the order they asked, each once.
    writes: VecDeque<usize>,
    app: App,
    video_fds: Vec<RawFd>,
    hid_fds: (Vec<RawFd>, u64),
    /// The status last pushed to WebSockets, to push only changes.
    last_status: String,
    next_status: Instant,
}

impl Server {
    pub fn new(mut listeners: Vec<Listener>, app: App) -> io::Result<Server> {
        let poll = Poll::new()?;
        let signals = Signals::new()?;
        if FIRST_LISTENER + listeners.len() > FIRST_CONN {
            return Err(io::Error::other("too many listening sockets"));
        }
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                &mut listener.socket,
                Token(FIRST_LISTENER + i),
                Interest::READABLE,
            )?;
        }
        poll.registry().register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        let now = Instant::now();
        let mut server = Server {
            poll,
            listeners,
            signals,
            conns: Vec::new(),
            free: Vec::new(),
            writes: VecDeque::new(),
            app,
            video_fds: Vec::new(),
            hid_fds: (Vec::new(), 0),
            last_status: String::new(),
            next_status: now,
        };
        let waker = mio::Waker::new(server.poll.registry(), CHECKER)?;
        server.app.auth.start_checker(Box::new(move || {
            if let Err(e) = waker.wake() {
                log::warn!("cannot wake the event loop for a password check: {e}");
            }
        }))?;
        server.sync_fds()?;
        Ok(server)
    }

    /// Runs until SIGINT or SIGTERM, then releases every key.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = self.poll_at(now).map(|t| t.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            // Input and requests first, video after: a frame written to every
            // viewer must not delay a keystroke that came in the same turn.
            let mut video_ready = false;
            for event in events.iter() {
                match event.token() {
                    Token(t) if (FIRST_LISTENER..FIRST_CONN).contains(&t) => {
                        self.accept(t - FIRST_LISTENER, now)
                    }
                    SIGNALS => {
                        let signals = self.signals.read();
                        if signals.contains(&libc::SIGCHLD) {
                            if let Some(net) = &mut self.app.net {
                                net.on_child_exit(now);
                            }
                        }
                        if let Some(sig) = signals.iter().find(|s| **s != libc::SIGCHLD) {
                            log::info!("👋 Signal {sig}: releasing all keys and exiting");
                            self.app.hid.release_all(now);
                            self.app.hid.poll(now);
                            return Ok(());
                        }
                    }
                    VIDEO => video_ready = true,
                    CHECKER => self.on_checked(now),
                    HID => self.app.hid.poll(now),
                    Token(t) => self.conn_ready(t.wrapping_sub(FIRST_CONN), now),
                }
            }
            if video_ready {
                let frame = self.app.video.on_ready(now);
                self.on_video(frame, now);
            }
            self.on_timers(now);
            self.close_ended_sessions(now);
            self.push_presence(now);
            if let Some(frame) = self.app.video.updates().step() {
                self.on_picture(&frame, now);
            }
            self.write_frames();
            self.update_audience(now);
            self.sync_fds()?;
            crate::metrics::LOOP_TURN.observe(now.elapsed());
        }
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        if !self.writes.is_empty() || self.app.video.updates_busy() {
            // Frames still to write or decode: look for input, then carry
            // on at once.
            return Some(now);
        }
        let conns = self.conns.iter().flatten().map(Conn::poll_at);
        let deadlines = [
            self.app.video.poll_at(),
            self.app.hid.poll_at(),
            self.app
                .udc
                .as_ref()
                .map(crate::gadget::udc::UdcWatch::poll_at),
            self.app.net.as_ref().and_then(crate::net::UsbNet::poll_at),
            self.app.auth.poll_at(),
            Some(self.next_status),
        ];
        deadlines
            .into_iter()
            .flatten()
            .chain(conns)
            .min()
            .map(|t| t.max(now))
    }

    fn accept(&mut self, listener: usize, now: Instant) {
        let Some(tls) = self.listeners.get(listener).map(|l| l.tls.clone()) else {
            return;
        };
        loop {
            let (mut stream, peer) = match self.listeners[listener].socket.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for now.
                    log::warn!(
                        "accept: {e}; raise the open files limit (ulimit -n) if this repeats"
                    );
                    return;
                }
            };
            if let Err(refusal) = self.admit(peer.ip(), now) {
                log::warn!("{peer}: refused, {refusal}");
                if tls.is_none() {
                    // One try on a fresh socket (its buffer is empty), with
                    // the same headers as every other answer; a TLS client
                    // could not read a plain one.
                    let mut answer = Vec::new();
                    Response::error(Status::ServiceUnavailable, &refusal)
                        .write_to(&mut answer, false);
                    let _ = stream.write_all(&answer);
                }
                continue;
            }
            let _ = stream.set_nodelay(true);
            if let Err(e) = crate::sys::socket::set_notsent_lowat(&stream, UNSENT_LIMIT) {
                log::debug!("{peer}: TCP_NOTSENT_LOWAT not set ({e}); a slow link may lag");
            }
            let mut socket = match &tls {
                Some(config) => match Socket::tls(stream, config) {
                    Ok(socket) => socket,
                    Err(e) => {
                        log::warn!("{peer}: cannot start TLS: {e}");
                        continue;
                    }
                },
                None => Socket::plain(stream),
            };
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut socket, Token(FIRST_CONN + slot), interest)
            {
                log::warn!("{peer}: cannot register connection: {e}");
                self.free.push(slot);
                continue;
            }
            log::debug!("{peer}: connected");
            self.conns[slot] = Some(Conn::new(socket, peer, now));
        }
    }

    /// Makes room for a connection from `ip`, fairly per address (issue
    /// 15, finding 3: one address opening idle connections shed everyone
    /// else's newcomers, the idlest being the newest real client). An
    /// address at `--max-per-address` makes room among its own; when kv is
    /// at `--max-connections`, the address with the most idle connections
    /// gives up its idlest. Viewers, WebSockets and uploads are never shed.
    fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), String> {
        let key = auth::key(ip);
        let from_ip = self
            .conns
            .iter()
            .flatten()
            .filter(|c| auth::key(c.peer().ip()) == key)
            .count();
        if from_ip >= self.app.config.max_per_address && !self.shed_idlest(Some(key), now) {
            return Err(format!(
                "too many connections from this address ({from_ip} open, none idle; --max-per-address); close other tabs and retry"
            ));
        }
        let open = self.conns.len() - self.free.len();
        if open >= self.app.config.max_connections && !self.shed_idlest(None, now) {
            return Err(format!(
                "too many connections ({open} open, none idle; --max-connections); close other tabs and retry"
            ));
        }
        Ok(())
    }

    /// Closes the connection idle the longest (see `Conn::idle_since`) of
    /// address `from`, or else of the address holding the most idle ones.
    /// False when none can go.
    fn shed_idlest(&mut self, from: Option<IpAddr>, now: Instant) -> bool {
        let idle: Vec<(IpAddr, Instant, usize)> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| {
                let c = c.as_ref()?;
                Some((auth::key(c.peer().ip()), c.idle_since()?, slot))
            })
            .collect();
        let from = from.or_else(|| {
            let mut counts: HashMap<IpAddr, usize> = HashMap::new();
            for (ip, _, _) in &idle {
                *counts.entry(*ip).or_default() += 1;
            }
            counts.into_iter().max_by_key(|(_, n)| *n).map(|(ip, _)| ip)
        });
        let idlest = idle
            .iter()
            .filter(|(ip, _, _)| Some(*ip) == from)
            .min_by_key(|(_, since, _)| *since);
        let Some(&(ip, since, slot)) = idlest else {
            return false;
        };
        log::debug!(
            "{ip}: shed a connection idle for {:.1} s to make room",
            now.saturating_duration_since(since).as_secs_f64()
        );
        self.close(slot, now);
        true
    }

    fn conn_ready(&mut self, slot: usize, now: Instant) {
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        let next = conn.on_ready(&mut self.app, now);
        self.follow(slot, next, now);
    }

    /// Does what a connection asked for: close it, or queue it for the
    /// write turn (once).
    fn follow(&mut self, slot: usize, next: Next, now: Instant) {
        match next {
            Next::Close => self.close(slot, now),
            Next::Write if !self.writes.contains(&slot) => self.writes.push_back(slot),
            Next::Write | Next::Keep => {}
        }
    }

    fn close(&mut self, slot: usize, now: Instant) {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(conn.stream_mut());
        self.writes.retain(|&s| s != slot);
        log::debug!("{}: closed", conn.peer());
        if conn.kind() == Kind::WebSocket {
            // Keys never stick: whoever was typing is gone (so the release
            // a handover needs is done whatever `leave` says).
            self.app.hid.release_all(now);
        }
        if let Some(seat) = conn.seat() {
            let _ = self.app.control.leave(seat);
        }
        self.free.push(slot);
    }

    /// Adds the video descriptors to the poll set afresh once a frame was
    /// drained. v4l2loopback 0.12 (Debian 12) joins its wait queue only when
    /// polled while it holds no frame, and epoll polls with a wait-queue hook
    /// only when a descriptor is added: one added while a frame was waiting
    /// never woke the loop again, and frames came only on the 2 s no-signal
    /// timer. Just drained, the descriptor is empty, so adding it again hooks
    /// the queue; a frame that slipped in meanwhile is reported at once. It
    /// costs two epoll_ctl calls per frame.
    fn rearm_video(&mut self) {
        let registry = self.poll.registry();
        let current = self.app.video.fds();
        for fd in &current {
            // Open and the capture's own: safe to take out by number.
            let _ = registry.deregister(&mut SourceFd(fd));
        }
        // Out of the set now, so the sync adds them again.
        self.video_fds.retain(|fd| !current.contains(fd));
        if let Err(e) = self.sync_fds() {
            log::warn!("video: cannot watch the capture device for frames: {e}");
        }
    }

    /// What the pipeline published, if anything: the source was just
    /// drained, so its descriptors are re-armed (`rearm_video`; for a
    /// placeholder frame, once a second, it is merely harmless), and the frame
    /// is offered to every connection.
    fn on_video(&mut self, frame: Option<SharedFrame>, now: Instant) {
        if let Some(frame) = frame {
            self.rearm_video();
            self.fan_out(&frame, now);
        }
    }

    /// Viewers queue to write the frame, a waiting snapshot answers with it.
    fn fan_out(&mut self, frame: &SharedFrame, now: Instant) {
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else {
                continue;
            };
            let next = conn.on_frame(frame, &mut self.app, now);
            self.follow(slot, next, now);
        }
    }

    /// A frame was decoded and folded in for canvas viewers: those with
    /// room for an update queue to write it.
    fn on_picture(&mut self, frame: &SharedFrame, now: Instant) {
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut().filter(|c| c.is_canvas()) else {
                continue;
            };
            let next = conn.on_frame(frame, &mut self.app, now);
            self.follow(slot, next, now);
        }
    }

    /// Writes waiting frames to viewers, in turn, for at most `WRITE_BUDGET`.
    fn write_frames(&mut self) {
        let start = Instant::now();
        while let Some(slot) = self.writes.pop_front() {
            let now = Instant::now();
            if let Some(Some(conn)) = self.conns.get_mut(slot) {
                // A viewer with more to write than a chunk goes round again.
                let next = conn.write_frame(&mut self.app, now);
                self.follow(slot, next, now);
            }
            if start.elapsed() >= WRITE_BUDGET {
                break;
            }
        }
    }

    fn on_timers(&mut self, now: Instant) {
        if self.app.video.poll_at().is_some_and(|t| t <= now) {
            let frame = self.app.video.on_timer(now);
            self.on_video(frame, now);
        }
        if let Some(state) = self.app.udc.as_mut().and_then(|udc| udc.poll(now)) {
            self.app.hid.on_host_state(state, now);
        }
        if self.app.hid.poll_at().is_some_and(|t| t <= now) {
            self.app.hid.poll(now);
        }
        if let Some(net) = &mut self.app.net {
            if net.poll_at().is_some_and(|t| t <= now) {
                net.poll(now);
            }
        }
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else {
                continue;
            };
            if conn.poll_at() <= now {
                let next = conn.on_timer(&mut self.app, now);
                self.follow(slot, next, now);
            }
        }
        if self.app.auth.poll_at().is_some_and(|t| t <= now) {
            self.app.auth.expire(now);
        }
        if now >= self.next_status {
            self.next_status = now + STATUS_EVERY;
            self.push_status(now);
        }
    }

    /// Hands each password the checker thread judged to the connection
    /// parked for it (if it has not gone meanwhile; the verdict still
    /// counts for its address).
    fn on_checked(&mut self, now: Instant) {
        for (ticket, verdict) in self.app.auth.answers(now) {
            let parked = self
                .conns
                .iter()
                .position(|c| c.as_ref().and_then(Conn::checking) == Some(ticket));
            if let Some(slot) = parked {
                if let Some(conn) = self.conns[slot].as_mut() {
                    let next = conn.on_checked(verdict, &mut self.app, now);
                    self.follow(slot, next, now);
                }
            }
        }
    }

    /// Closes every connection a session opened once it is over (logout,
    /// expiry, eviction): a WebSocket typing, a viewer watching, a request
    /// held. Within the turn it ended in, or the turn its expiry woke.
    fn close_ended_sessions(&mut self, now: Instant) {
        let ended = self.app.auth.take_ended();
        if ended.is_empty() {
            return;
        }
        for slot in 0..self.conns.len() {
            let principal = self.conns[slot].as_ref().and_then(Conn::principal);
            if principal.is_some_and(|p| ended.iter().any(|e| e.ends(p))) {
                if let Some(conn) = &self.conns[slot] {
                    log::info!("{}: closed, its session is over", conn.peer());
                }
                self.close(slot, now);
            }
        }
    }

    /// Sends each `/ws` page who is connected and in control, when that
    /// changed: a page joined or left, control moved, someone asked.
    fn push_presence(&mut self, now: Instant) {
        if !self.app.control.take_changed() {
            return;
        }
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else {
                continue;
            };
            let Some(seat) = conn.seat() else { continue };
            let message = websocket::presence_message(&self.app.control, seat);
            if conn.send_presence(message) == Next::Close {
                self.close(slot, now);
            }
        }
    }

    /// Sends the status to every WebSocket when it changed.
    fn push_status(&mut self, now: Instant) {
        let status = websocket::status_message(&mut self.app, now);
        if status == self.last_status {
            return;
        }
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else {
                continue;
            };
            if conn.kind() == Kind::WebSocket && conn.send_text(status.clone()) == Next::Close {
                self.close(slot, now);
            }
        }
        self.last_status = status;
    }

    /// Tells the pipeline who wants frames (it starts and stops capture);
    /// the status goes out at once when that changed what it shows.
    fn update_audience(&mut self, now: Instant) {
        let mut audience = Audience::default();
        for conn in self.conns.iter().flatten() {
            match conn.kind() {
                Kind::Viewer => audience.viewers += 1,
                Kind::Snapshot => audience.snapshots += 1,
                Kind::Http | Kind::WebSocket => {}
            }
        }
        if self.app.video.set_audience(audience, now) {
            self.next_status = now;
        }
    }

    /// Registers the video and HID descriptors anew when their set changed
    /// (a capture device opened, closed or replugged; a HID device closed
    /// while its gadget is unbound, or reopened).
    fn sync_fds(&mut self) -> io::Result<()> {
        let video = self.app.video.fds();
        let hid = (self.app.hid.fds(), self.app.hid.fd_epoch());
        if video == self.video_fds && hid == self.hid_fds {
            return Ok(());
        }
        // A device closed this turn left the epoll set with its descriptor,
        // and its number may since belong to a connection accepted or a
        // device opened in the same turn: those are not the device's to
        // deregister.
        let taken: Vec<RawFd> = self
            .conns
            .iter_mut()
            .flatten()
            .map(|conn| conn.stream_mut().as_raw_fd())
            .chain(video.iter().copied())
            .chain(hid.0.iter().copied())
            .collect();
        let registry = self.poll.registry();
        reregister(
            registry,
            &self.video_fds,
            &video,
            &taken,
            VIDEO,
            VIDEO_INTEREST,
        )?;
        let both = Interest::READABLE | Interest::WRITABLE;
        reregister(registry, &self.hid_fds.0, &hid.0, &taken, HID, both)?;
        self.video_fds = video;
        self.hid_fds = hid;
        Ok(())
    }
}

/// Moves one owner's descriptors in the epoll set from `old` to `new`.
/// An old one still open and no longer wanted is deregistered; one whose
/// number is `taken` (wanted now, by this owner or another) is left alone:
/// if it was closed, the kernel already dropped it from the set, and
/// deregistering by number would silence the number's new owner. Each new
/// one is registered, or modified when it is still registered from before.
fn reregister(
    registry: &mio::Registry,
    old: &[RawFd],
    new: &[RawFd],
    taken: &[RawFd],
    token: Token,
    interest: Interest,
) -> io::Result<()> {
    for fd in old.iter().filter(|fd| !taken.contains(fd)) {
        // Closed, so already out of the set: that error is expected.
        let _ = registry.deregister(&mut SourceFd(fd));
    }
    for fd in new {
        match registry.register(&mut SourceFd(fd), token, interest) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                registry.reregister(&mut SourceFd(fd), token, interest)?
            }
            result => result?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::*;

    const CONN: Token = Token(FIRST_CONN);

    /// The tokens ready within 100 ms.
    fn ready(poll: &mut Poll) -> Vec<Token> {
        let mut events = Events::with_capacity(8);
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        events.iter().map(|e| e.token()).collect()
    }

    /// A HID device closes and, in the same turn, a connection is accepted
    /// under its number: syncing the HID set must leave the connection
    /// polled (it used to be deregistered, and its request never read).
    #[test]
    #[allow(unsafe_code)] // dup2: the reused number made certain
    fn a_closed_devices_number_reused_by_a_connection_stays_polled() {
        let mut poll = Poll::new().unwrap();
        let registry = poll.registry();
        let (device, _host) = UnixStream::pair().unwrap();
        let number = device.into_raw_fd();
        reregister(registry, &[], &[number], &[number], HID, Interest::READABLE).unwrap();
        // The device's file closes and the connection takes its number in
        // one step, so no other test's descriptor can come between.
        let (conn, mut client) = UnixStream::pair().unwrap();
        assert_eq!(unsafe { libc::dup2(conn.as_raw_fd(), number) }, number);
        drop(conn);
        let mut conn = unsafe { UnixStream::from_raw_fd(number) };
        registry
            .register(&mut SourceFd(&number), CONN, Interest::READABLE)
            .unwrap();
        reregister(registry, &[number], &[], &[number], HID, Interest::READABLE).unwrap();
        client.write_all(b"GET").unwrap();
        assert_eq!(ready(&mut poll), [CONN]);
        let mut request = [0; 3];
        conn.read_exact(&mut request).unwrap();
    }

    /// A device still open and no longer wanted leaves the set; one still
    /// wanted (a HID set registered anew after another device reopened)
    /// is modified, not refused.
    #[test]
    fn an_open_device_leaves_the_set_or_stays_in_it() {
        let mut poll = Poll::new().unwrap();
        let registry = poll.registry();
        let (kept, mut kept_host) = UnixStream::pair().unwrap();
        let (left, mut left_host) = UnixStream::pair().unwrap();
        let both = [kept.as_raw_fd(), left.as_raw_fd()];
        reregister(registry, &[], &both, &both, HID, Interest::READABLE).unwrap();
        let now = [kept.as_raw_fd()];
        reregister(registry, &both, &now, &now, HID, Interest::READABLE).unwrap();
        left_host.write_all(b"x").unwrap();
        assert_eq!(ready(&mut poll), []);
        kept_host.write_all(b"x").unwrap();
        assert_eq!(ready(&mut poll), [HID]);
    }
}

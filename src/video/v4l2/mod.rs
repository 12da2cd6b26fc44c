//! The V4L2 capture source: finds a capture device under /dev (MJPEG
//! preferred, raw formats encoded on the board), streams from it with mmap
//! buffers driven by the event loop, switches modes at runtime, follows its
//! source when the driver reports a change, and follows the device through
//! unplug and replug.
//!
//! Nothing here waits. The loop polls the capture fd (while streaming, for
//! frames and for V4L2 events) and an inotify watch on /dev (always); `poll`
//! drains DQBUF until EAGAIN, keeps the newest buffer, copies it once into a
//! `Frame` and re-queues every buffer at once. Capture runs only while
//! `set_streaming(true)`.
//!
//! Where the source stands is one `Capture` state, changed only in
//! `advance`. The kernel is reached through two small traits (`kernel.rs`),
//! so the state machine is tested against a fake (`fake.rs`) with virtual
//! time, and against the real kernel in tests/vm.

mod discover;
#[cfg(test)]
mod fake;
mod frames;
mod kernel;
mod reason;
#[cfg(test)]
mod tests;

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::encode::EncodeQueue;
use super::raw::PixelFormat;
use super::{Frame, FrameSource, Mode, Signal, VideoInfo};
use crate::sys::inotify::Change;
use discover::{configure, discover, list_modes, Choice, Device};
use kernel::{is_video_node, DevHost, Host, DEV};
use reason::{describe, is_gone, Close};

/// Buffers asked of the driver: one being copied, one filling, spares so a
/// slow loop iteration does not make the driver drop frames.
const BUFFER_COUNT: u32 = 4;
/// A device that streams but delivers nothing this long has lost its input
/// (target asleep, HDMI unplugged): see `Close::Silent`. A driver that
/// reports source changes (V4L2 events) is followed at once instead.
const NO_SIGNAL_AFTER: Duration = Duration::from_secs(2);
/// How often to look again for a device (no device, or STREAMON failed):
/// besides inotify, because a new node can be unusable for a moment until
/// udev has set its permissions.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// JPEG quality for raw formats encoded on the board (`-q`'s default).
pub const DEFAULT_QUALITY: u8 = 80;

/// Where capture stands.
enum Capture {
    /// No device open (none found, unplugged, or closed: see `Close`); look
    /// for one again at `retry_at`, or at once when /dev gains a node.
    Closed { retry_at: Instant },
    /// A device is open and configured; nobody watches.
    Idle(Device),
    /// Watched, but STREAMON failed (busy, say); tried again at `retry_at`.
    Blocked { device: Device, retry_at: Instant },
    /// Capturing. `last_frame` is the last whole frame, or the STREAMON:
    /// silence is timed from it.
    Streaming { device: Device, last_frame: Instant },
}

impl Capture {
    fn name(&self) -> &'static str {
        match self {
            Capture::Closed { .. } => "closed",
            Capture::Idle(_) => "idle",
            Capture::Blocked { .. } => "blocked",
            Capture::Streaming { .. } => "streaming",
        }
    }

    fn device(&self) -> Option<&Device> {
        match self {
            Capture::Closed { .. } => None,
            Capture::Idle(device)
            | Capture::Blocked { device, .. }
            | Capture::Streaming { device, .. } => Some(device),
        }
    }

    fn device_mut(&mut self) -> Option<&mut Device> {
        match self {
            Capture::Closed { .. } => None,
            Capture::Idle(device)
            | Capture::Blocked { device, .. }
            | Capture::Streaming { device, .. } => Some(device),
        }
    }

    fn into_device(self) -> Option<Device> {
        match self {
            Capture::Closed { .. } => None,
            Capture::Idle(device)
            | Capture::Blocked { device, .. }
            | Capture::Streaming { device, .. } => Some(device),
        }
    }
}

/// Frames from a V4L2 capture device; see the module documentation.
pub struct V4l2Source {
    host: Box<dyn Host>,
    /// `-d`: the only node tried at start, the first one tried after a replug.
    preferred: Option<PathBuf>,
    /// The mode asked for (`-r`/`-f`, then `set_mode`), kept across replugs.
    wanted: Mode,
    quality: u8,
    /// Raw frames being encoded to JPEG, a band per `poll`.
    encoding: EncodeQueue,
    capture: Capture,
    /// Someone watches (or a snapshot is asked): capture whenever a device is open.
    watched: bool,
    signal: Signal,
    /// The last device seen, for status while it is away and to recognise it
    /// when it comes back under another number.
    last_path: PathBuf,
    last_card: String,
    /// The last reason reported (scan failure, dropped frame), so a repeated
    /// one is logged once.
    last_problem: String,
    /// The size of the last frame that was not the mode's, so it is logged once.
    odd_size: Option<(u32, u32)>,
}

impl V4l2Source {
    /// Finds and configures a capture device: `device` if given, else the
    /// best `/dev/videoN` (MJPEG first, then one offering `wanted`'s size).
    /// Logs the device and mode chosen. Raw frames are encoded at `quality`
    /// (1..=100); MJPEG is passed through whatever it is.
    pub fn open(device: Option<&Path>, wanted: Mode, quality: u8) -> Result<V4l2Source, String> {
        let host = Box::new(DevHost::new());
        V4l2Source::with_host(host, device, wanted, quality, Instant::now())
    }

    fn with_host(
        host: Box<dyn Host>,
        preferred: Option<&Path>,
        wanted: Mode,
        quality: u8,
        now: Instant,
    ) -> Result<V4l2Source, String> {
        let candidates = match preferred {
            Some(path) => vec![path.to_path_buf()],
            None => host.nodes(),
        };
        let choice = Choice {
            preferred,
            last_card: "",
            wanted,
        };
        let device = discover(host.as_ref(), &candidates, preferred.is_some(), &choice)?;
        let mut source = V4l2Source {
            host,
            preferred: preferred.map(Path::to_path_buf),
            wanted,
            quality: quality.clamp(1, 100),
            encoding: EncodeQueue::default(),
            capture: Capture::Closed { retry_at: now },
            watched: false,
            signal: Signal::NoDevice,
            last_path: PathBuf::new(),
            last_card: String::new(),
            last_problem: String::new(),
            odd_size: None,
        };
        source.advance(now, |source, _| Capture::Idle(source.attach(device)));
        Ok(source)
    }

    /// The one place capture changes state: `step` gets the state by value
    /// (a device moves from one to the next) and returns the next one.
    fn advance(&mut self, now: Instant, step: impl FnOnce(&mut Self, Capture) -> Capture) {
        // A stand-in while `step` owns the state; it never reads it.
        let state = std::mem::replace(&mut self.capture, Capture::Closed { retry_at: now });
        let was = state.name();
        self.capture = step(self, state);
        if self.capture.name() != was {
            debug!("video: capture={was}=>{}", self.capture.name());
        }
    }

    fn set_signal(&mut self, signal: Signal) {
        if self.signal != signal {
            info!(
                "video: signal={}=>{}",
                self.signal.as_str(),
                signal.as_str()
            );
            self.signal = signal;
        }
    }

    /// Logs `problem` unless it is the one logged last.
    fn report(&mut self, problem: String) {
        if problem != self.last_problem {
            warn!("{problem}");
            self.last_problem = problem;
        } else {
            debug!("{problem}");
        }
    }

    /// Takes a freshly discovered device into use (it starts `Idle`).
    fn attach(&mut self, mut device: Device) -> Device {
        info!(
            "📹 Video device: {} ({}, {}, {}, {})",
            device.path.display(),
            device.card,
            device.driver,
            device.bus,
            device.format.name()
        );
        info!("📐 Resolution: {}", device.mode);
        if device.format != PixelFormat::Mjpeg {
            info!(
                "video: {} offers no MJPEG; encoding {} to JPEG at quality {} on the board (CPU heavy)",
                device.path.display(),
                device.format.name(),
                self.quality
            );
        } else if self.quality != DEFAULT_QUALITY {
            info!(
                "video: {} sends MJPEG, passed through untouched: --quality {} applies only to raw devices",
                device.path.display(),
                self.quality
            );
        }
        match device.node.watch_source() {
            Ok(true) => debug!(
                "video: {} reports source changes: capture follows them at once",
                device.path.display()
            ),
            Ok(false) => debug!(
                "video: {} reports no source changes: a new input shows as {} s of silence",
                device.path.display(),
                NO_SIGNAL_AFTER.as_secs()
            ),
            Err(e) => debug!("video: {}: SUBSCRIBE_EVENT: {e}", device.path.display()),
        }
        self.last_path = device.path.clone();
        self.last_card = device.card.clone();
        self.last_problem.clear();
        // A device closed for its silence is live again only once it delivers.
        if self.signal == Signal::NoDevice {
            self.set_signal(Signal::Live);
        }
        device
    }

    /// STREAMON on an open device.
    fn start(&mut self, mut device: Device, now: Instant) -> Capture {
        match device.node.start(BUFFER_COUNT) {
            Ok(()) => {
                debug!("video: {} streaming", device.path.display());
                Capture::Streaming {
                    device,
                    last_frame: now,
                }
            }
            Err(e) if is_gone(&e) => self.close(Some(device), Close::Unplugged, now),
            Err(e) => {
                let problem = format!("cannot start capture: {}", describe(&device.path, &e));
                self.report(problem);
                Capture::Blocked {
                    device,
                    retry_at: now + RETRY_EVERY,
                }
            }
        }
    }

    /// Captures from a ready device if someone watches, else waits idle.
    fn resume(&mut self, device: Device, now: Instant) -> Capture {
        if self.watched {
            self.start(device, now)
        } else {
            Capture::Idle(device)
        }
    }

    /// STREAMOFF; the device stays open.
    fn stop(&mut self, mut device: Device) -> Device {
        self.encoding.clear();
        device.node.stop();
        debug!("video: {} stopped", device.path.display());
        device
    }

    /// Lets go of the device; the next retry looks for one (this one, or
    /// whatever replaced it) again.
    fn close(&mut self, device: Option<Device>, why: Close, now: Instant) -> Capture {
        self.encoding.clear();
        if let Some(mut device) = device {
            device.node.stop();
            let shown = device.path.display();
            if why.is_loss() {
                warn!("📹 {shown}: {why} — waiting for a capture device to appear");
            } else {
                self.report(format!("📹 {shown}: {why}"));
            }
        }
        self.set_signal(why.signal());
        Capture::Closed {
            retry_at: now + RETRY_EVERY,
        }
    }

    fn handle_hotplug(&mut self, mut state: Capture, now: Instant) -> Capture {
        for change in self.host.changes() {
            state = match (change, state) {
                (Change::Deleted(name), Capture::Closed { retry_at }) => {
                    // The silent device kv had closed is gone too.
                    if self.last_path == Path::new(DEV).join(&name) {
                        self.set_signal(Signal::NoDevice);
                    }
                    Capture::Closed { retry_at }
                }
                (Change::Deleted(name), open) => {
                    let path = Path::new(DEV).join(&name);
                    if open.device().is_some_and(|d| d.path == path) {
                        self.close(open.into_device(), Close::NodeRemoved, now)
                    } else {
                        open
                    }
                }
                (Change::Created(name), Capture::Closed { .. }) if is_video_node(&name) => {
                    Capture::Closed { retry_at: now }
                }
                (Change::Overflow, Capture::Closed { .. }) => Capture::Closed { retry_at: now },
                (Change::Created(_) | Change::Overflow, state) => state,
            };
        }
        state
    }

    /// When the driver reports that the source changed (V4L2 event: a new
    /// input size, the signal gone or back), reads the device's modes again
    /// and restarts capture in the mode closest to the wanted one, instead
    /// of waiting for silence (which a driver that keeps sending frames
    /// never gives).
    fn follow_source(&mut self, mut state: Capture, now: Instant) -> Capture {
        let changed = match state.device_mut() {
            Some(device) => device.node.source_changed(),
            None => return state,
        };
        match changed {
            Ok(true) => {}
            Ok(false) => return state,
            Err(e) if is_gone(&e) => return self.close(state.into_device(), Close::Unplugged, now),
            Err(e) => {
                // Silence still catches a source that went.
                debug!("video: {}: DQEVENT: {e}", self.last_path.display());
                return state;
            }
        }
        let mut device = match state {
            Capture::Closed { retry_at } => return Capture::Closed { retry_at },
            Capture::Streaming { device, .. } => self.stop(device),
            Capture::Idle(device) | Capture::Blocked { device, .. } => device,
        };
        info!(
            "📹 {}: the source changed — reading its modes again{}",
            device.path.display(),
            if self.watched {
                " and restarting capture"
            } else {
                ""
            }
        );
        device.modes = list_modes(device.node.as_ref(), device.format.fourcc());
        match configure(&mut device, self.wanted) {
            Ok(()) => {
                info!("📐 Resolution: {}", device.mode);
                self.resume(device, now)
            }
            Err(e) if is_gone(&e) => self.close(Some(device), Close::Unplugged, now),
            Err(e) => {
                let why = describe(&device.path, &e);
                self.close(Some(device), Close::SourceUnusable(why), now)
            }
        }
    }

    /// What is due at `retry_at`: a device to look for, or a STREAMON to try again.
    fn retry(&mut self, state: Capture, now: Instant) -> Capture {
        match state {
            Capture::Closed { retry_at } if now >= retry_at => self.rescan(now),
            Capture::Blocked { device, retry_at } if now >= retry_at => self.start(device, now),
            state => state,
        }
    }

    fn rescan(&mut self, now: Instant) -> Capture {
        let mut paths = self.host.nodes();
        // `-d` stays first choice, even though any capture device is taken
        // back (a dongle often returns as another /dev/videoN).
        if let Some(preferred) = &self.preferred {
            paths.retain(|p| p != preferred);
            paths.insert(0, preferred.clone());
        }
        let choice = Choice {
            preferred: self.preferred.as_deref(),
            last_card: &self.last_card,
            wanted: self.wanted,
        };
        match discover(self.host.as_ref(), &paths, false, &choice) {
            Ok(device) => {
                let device = self.attach(device);
                self.resume(device, now)
            }
            Err(problem) => {
                self.report(problem);
                self.set_signal(Signal::NoDevice);
                Capture::Closed {
                    retry_at: now + RETRY_EVERY,
                }
            }
        }
    }

    /// Drains the device and keeps the newest buffer: a frame at once when
    /// it is MJPEG, else queued for encoding; then runs one encoding step.
    fn capture(&mut self, now: Instant) -> Option<Frame> {
        let Capture::Streaming { device, last_frame } = &mut self.capture else {
            return None;
        };
        let drained = frames::drain(device, self.quality, &mut self.encoding, now);
        if let Some(Ok(_)) = drained.newest {
            *last_frame = now;
        }
        let path = device.path.clone();
        if let Some(e) = drained.failure {
            if is_gone(&e) {
                self.advance(now, |source, state| {
                    source.close(state.into_device(), Close::Unplugged, now)
                });
                return None;
            }
            self.report(format!("video: {}", describe(&path, &e)));
        }
        let captured = match drained.newest {
            None => None,
            Some(Ok(frame)) => {
                self.last_problem.clear();
                self.set_signal(Signal::Live);
                frame
            }
            Some(Err(why)) => {
                self.report(format!("video: {}: dropped a frame: {why}", path.display()));
                None
            }
        };
        let frame = match self.encoding.step() {
            None => captured,
            Some(Ok(encoded)) => Some(encoded),
            Some(Err(why)) => {
                let problem = format!("video: {}: dropped a frame: {why}", path.display());
                self.report(problem);
                captured
            }
        }?;
        self.check_size(&frame);
        Some(frame)
    }

    /// Logs once when frames do not have the mode's size: some dongles send
    /// the size their HDMI input has rather than the one negotiated, and the
    /// status (which shows the mode) then disagrees with what viewers see.
    fn check_size(&mut self, frame: &Frame) {
        let Some(device) = self.capture.device() else {
            return;
        };
        let size = (frame.width, frame.height);
        if size == (device.mode.width, device.mode.height) {
            self.odd_size = None;
        } else if self.odd_size != Some(size) {
            self.odd_size = Some(size);
            warn!(
                "video: {} sends {}x{} frames in mode {} — the device chose the size; \
                 pick one of its modes that matches the source (POST /api/video/mode)",
                device.path.display(),
                frame.width,
                frame.height,
                device.mode
            );
        }
    }

    fn check_silence(&mut self, state: Capture, now: Instant) -> Capture {
        match state {
            Capture::Streaming { device, last_frame } if now >= last_frame + NO_SIGNAL_AFTER => {
                self.close(Some(device), Close::Silent, now)
            }
            state => state,
        }
    }
}

impl FrameSource for V4l2Source {
    fn fds(&self) -> Vec<RawFd> {
        let capture = match &self.capture {
            Capture::Streaming { device, .. } => Some(device.node.fd()),
            _ => None,
        };
        self.host.watch_fd().into_iter().chain(capture).collect()
    }

    fn set_streaming(&mut self, on: bool, now: Instant) {
        self.watched = on;
        self.advance(now, |source, state| match (on, state) {
            (true, Capture::Idle(device) | Capture::Blocked { device, .. }) => {
                source.start(device, now)
            }
            (false, Capture::Streaming { device, .. }) => Capture::Idle(source.stop(device)),
            // A pending STREAMON retry is moot now.
            (false, Capture::Blocked { device, .. }) => Capture::Idle(device),
            (_, state) => state,
        });
    }

    fn poll(&mut self, now: Instant) -> Option<Frame> {
        self.advance(now, |source, state| {
            let state = source.handle_hotplug(state, now);
            let state = source.follow_source(state, now);
            source.retry(state, now)
        });
        let frame = self.capture(now);
        self.advance(now, |source, state| source.check_silence(state, now));
        frame
    }

    fn poll_at(&self) -> Option<Instant> {
        match &self.capture {
            Capture::Closed { retry_at } | Capture::Blocked { retry_at, .. } => Some(*retry_at),
            Capture::Idle(_) => None,
            Capture::Streaming { last_frame, .. } => {
                // An encoding step is due at once: its frame's capture instant is past.
                let encode = self.encoding.busy().then_some(*last_frame);
                encode
                    .into_iter()
                    .chain([*last_frame + NO_SIGNAL_AFTER])
                    .min()
            }
        }
    }

    fn info(&self) -> VideoInfo {
        match self.capture.device() {
            Some(d) => VideoInfo {
                device: d.path.display().to_string(),
                format: d.format.name().to_string(),
                mode: d.mode,
                modes: d.modes.clone(),
                signal: self.signal.clone(),
            },
            None => VideoInfo {
                device: self.last_path.display().to_string(),
                format: String::new(),
                mode: self.wanted,
                modes: Vec::new(),
                signal: self.signal.clone(),
            },
        }
    }

    fn signal(&self) -> Signal {
        self.signal.clone()
    }

    fn set_mode(&mut self, mode: Mode, now: Instant) -> Result<(), String> {
        let Some(device) = self.capture.device() else {
            return Err("no capture device is present; try again when one is plugged in".into());
        };
        if !device.modes.contains(&mode) {
            return Err(format!(
                "{mode} is not offered by {} ({}); see the modes in /api/status",
                device.path.display(),
                device.format.name()
            ));
        }
        /// The state the device goes back to after the switch.
        enum Resume {
            Streaming,
            Idle,
            Blocked(Instant),
        }
        let mut outcome = Ok(());
        self.advance(now, |source, state| {
            let (mut device, resume) = match state {
                Capture::Closed { retry_at } => return Capture::Closed { retry_at },
                Capture::Streaming { device, .. } => (source.stop(device), Resume::Streaming),
                Capture::Idle(device) => (device, Resume::Idle),
                Capture::Blocked { device, retry_at } => (device, Resume::Blocked(retry_at)),
            };
            // Frames of the old size still being encoded would follow the switch.
            source.encoding.clear();
            let previous = device.mode;
            let path = device.path.clone();
            match configure(&mut device, mode) {
                Ok(()) => {
                    info!("📐 Resolution: {}", device.mode);
                    source.wanted = mode;
                }
                Err(e) if is_gone(&e) => {
                    outcome = Err(format!("{} was unplugged", path.display()));
                    return source.close(Some(device), Close::Unplugged, now);
                }
                Err(e) => {
                    // Put the device back as it was; a failure here surfaces on restart.
                    let _ = configure(&mut device, previous);
                    outcome = Err(format!("cannot switch to {mode}: {}", describe(&path, &e)));
                }
            }
            match resume {
                Resume::Streaming => source.start(device, now),
                Resume::Idle => Capture::Idle(device),
                Resume::Blocked(retry_at) => Capture::Blocked { device, retry_at },
            }
        });
        outcome
    }
}

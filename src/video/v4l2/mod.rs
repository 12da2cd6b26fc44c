//! The V4L2 capture source: finds a capture device under /dev (MJPEG
//! preferred, raw formats encoded on the board), streams from it with mmap
//! buffers driven by the event loop, switches modes at runtime, and follows
//! the device through unplug and replug.
//!
//! Nothing here waits. The loop polls the capture fd (while streaming) and an
//! inotify watch on /dev (always); `poll` drains DQBUF until EAGAIN, keeps the
//! newest buffer, copies it once into a `Frame` and re-queues every buffer at
//! once. Capture runs only while `set_streaming(true)`.
//!
//! The kernel is reached through two small traits, `Host` (the /dev
//! directory) and `Node` (one opened device), so the state machine is tested
//! against a fake with virtual time, and against the real kernel in tests/vm.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::encode::EncodeQueue;
use super::raw::{PixelFormat, RawImage};
use super::{jpeg, modes};
use super::{Frame, FrameSource, Mode, Signal, VideoInfo};
use crate::sys::inotify::{Change, DirWatch};
use crate::sys::v4l2::{self as sys, Capability, Dequeued, Fraction, FrameIntervals};
use crate::sys::v4l2::{FrameSizes, MappedBuffer, PixFormat};

/// Buffers asked of the driver: one being copied, one filling, spares so a
/// slow loop iteration does not make the driver drop frames.
const BUFFER_COUNT: u32 = 4;
/// A device that streams but delivers nothing this long has lost its input
/// (target asleep, HDMI unplugged). kv then closes it and opens it again at
/// the next retry: a silent device stays free to be unplugged or to have its
/// driver reloaded (`rmmod` fails while a node is open), and a dongle whose
/// firmware wedged gets a fresh start.
const NO_SIGNAL_AFTER: Duration = Duration::from_secs(2);
/// How often to look again for a device (no device, or STREAMON failed):
/// besides inotify, because a new node can be unusable for a moment until
/// udev has set its permissions.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// JPEG quality for raw formats encoded on the board (`-q`'s default).
pub const DEFAULT_QUALITY: u8 = 80;

const DEV: &str = "/dev";
/// Capability bits used only to explain why a node was passed over.
const CAP_VIDEO_OUTPUT: u32 = 0x0000_0002;
const CAP_META_CAPTURE: u32 = 0x0080_0000;

/// One opened V4L2 node, as the source uses it: the kernel's or a fake.
trait Node {
    fn fd(&self) -> RawFd;
    fn capability(&self) -> io::Result<Capability>;
    fn formats(&self) -> io::Result<Vec<[u8; 4]>>;
    fn frame_sizes(&self, fourcc: [u8; 4]) -> io::Result<FrameSizes>;
    fn frame_intervals(&self, fourcc: [u8; 4], size: (u32, u32)) -> io::Result<FrameIntervals>;
    fn set_format(&mut self, fourcc: [u8; 4], size: (u32, u32)) -> io::Result<PixFormat>;
    fn set_frame_interval(&mut self, interval: Fraction) -> io::Result<Option<Fraction>>;
    /// Allocates, maps and queues `count` buffers, then STREAMON.
    fn start(&mut self, count: u32) -> io::Result<()>;
    /// STREAMOFF and frees the buffers. Errors are ignored: this also runs
    /// when the device is gone.
    fn stop(&mut self);
    /// The next filled buffer, `None` when none is ready.
    fn dequeue(&mut self) -> io::Result<Option<Dequeued>>;
    /// The buffer was filled before the last STREAMON: a driver that keeps
    /// its last frame (v4l2loopback does) hands it to a reader that opens the
    /// device again, but it is not live. Only the first buffers after a
    /// start can be: a driver whose clock is not what it seems must never
    /// lose every frame to this.
    fn captured_before_start(&mut self, buffer: &Dequeued) -> bool;
    /// The frame bytes of a dequeued buffer.
    fn bytes(&self, buffer: &Dequeued) -> &[u8];
    fn requeue(&mut self, index: u32) -> io::Result<()>;
}

/// Where nodes come from: the /dev directory and its hotplug events.
trait Host {
    /// `/dev/videoN` paths in N order.
    fn nodes(&self) -> Vec<PathBuf>;
    fn open(&self, path: &Path) -> io::Result<Box<dyn Node>>;
    fn watch_fd(&self) -> Option<RawFd>;
    fn changes(&mut self) -> Vec<Change>;
}

/// A capture device kv can use, opened and configured.
struct Device {
    path: PathBuf,
    node: Box<dyn Node>,
    card: String,
    /// The driver (`uvcvideo`) and where the device sits (`usb-0000:01:00.0-1.2`):
    /// logged, so the log tells which dongle on which port kv took.
    driver: String,
    bus: String,
    format: PixelFormat,
    pix: PixFormat,
    mode: Mode,
    modes: Vec<Mode>,
    streaming: bool,
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
    device: Option<Device>,
    /// The last device seen, for status while it is away and to recognise it
    /// when it comes back under another number.
    last_path: PathBuf,
    last_card: String,
    want_streaming: bool,
    signal: Signal,
    /// The last frame, or the start of streaming: `NoSignal` is timed from it.
    last_frame: Instant,
    /// When to look for a device again, or to retry STREAMON.
    retry_at: Option<Instant>,
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
        let mut source = V4l2Source {
            host,
            preferred: preferred.map(Path::to_path_buf),
            wanted,
            quality: quality.clamp(1, 100),
            encoding: EncodeQueue::default(),
            device: None,
            last_path: PathBuf::new(),
            last_card: String::new(),
            want_streaming: false,
            signal: Signal::NoDevice,
            last_frame: now,
            retry_at: None,
            last_problem: String::new(),
            odd_size: None,
        };
        let candidates = match preferred {
            Some(path) => vec![path.to_path_buf()],
            None => source.host.nodes(),
        };
        let device = source.discover(&candidates, preferred.is_some())?;
        source.attach(device);
        Ok(source)
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

    /// Examines `paths` in order and opens the best capture device among
    /// them, or explains why there is none.
    fn discover(&mut self, paths: &[PathBuf], explicit: bool) -> Result<Device, String> {
        let mut found = Vec::new();
        let mut rejected = Vec::new();
        for path in paths {
            match examine(self.host.as_ref(), path) {
                Ok(device) => found.push(device),
                Err(reason) => rejected.push(reason),
            }
        }
        let wanted = (self.wanted.width, self.wanted.height);
        let rank = |d: &Device| {
            (
                Some(&d.path) != self.preferred.as_ref(),
                d.card != self.last_card,
                d.format != PixelFormat::Mjpeg,
                !d.modes.iter().any(|m| (m.width, m.height) == wanted),
            )
        };
        // A stable sort keeps /dev order among equals.
        found.sort_by_key(rank);
        let Some(mut device) = found.into_iter().next() else {
            return Err(no_device_message(&rejected, explicit));
        };
        let wanted = self.wanted;
        configure(&mut device, wanted).map_err(|e| describe(&device.path, &e))?;
        Ok(device)
    }

    fn attach(&mut self, device: Device) {
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
        self.last_path = device.path.clone();
        self.last_card = device.card.clone();
        self.last_problem.clear();
        self.device = Some(device);
        self.retry_at = None;
        // A device closed for its silence is live again only once it delivers.
        if self.signal == Signal::NoDevice {
            self.set_signal(Signal::Live);
        }
    }

    /// Forgets the device (unplugged, or its node removed).
    fn lose_device(&mut self, why: &str, now: Instant) {
        self.encoding.clear();
        if let Some(mut device) = self.device.take() {
            device.node.stop();
            warn!(
                "📹 {}: {why} — waiting for a capture device to appear",
                device.path.display()
            );
        }
        self.set_signal(Signal::NoDevice);
        self.retry_at = Some(now + RETRY_EVERY);
    }

    /// Closes a streaming device that has delivered nothing for
    /// `NO_SIGNAL_AFTER`; the next retry opens it (or whatever replaced it) again.
    fn release_silent(&mut self, now: Instant) {
        self.encoding.clear();
        if let Some(mut device) = self.device.take() {
            device.node.stop();
            let problem = format!(
                "📹 {}: no frames for {} s — closed it, opening it again every {} s",
                device.path.display(),
                NO_SIGNAL_AFTER.as_secs(),
                RETRY_EVERY.as_secs()
            );
            self.report(problem);
        }
        self.set_signal(Signal::NoSignal);
        self.retry_at = Some(now + RETRY_EVERY);
    }

    fn handle_hotplug(&mut self, now: Instant) {
        for change in self.host.changes() {
            match change {
                Change::Deleted(name) => {
                    let ours = self
                        .device
                        .as_ref()
                        .is_some_and(|d| d.path == Path::new(DEV).join(&name));
                    if ours {
                        self.lose_device("its device node was removed", now);
                    } else if self.device.is_none() && self.last_path == Path::new(DEV).join(&name)
                    {
                        // The silent device kv had closed is gone too.
                        self.set_signal(Signal::NoDevice);
                    }
                }
                Change::Created(name) if self.device.is_none() && is_video_node(&name) => {
                    self.retry_at = Some(now);
                }
                Change::Overflow if self.device.is_none() => self.retry_at = Some(now),
                Change::Created(_) | Change::Overflow => {}
            }
        }
    }

    fn rescan(&mut self, now: Instant) {
        let mut paths = self.host.nodes();
        // `-d` stays first choice, even though any capture device is taken
        // back (a dongle often returns as another /dev/videoN).
        if let Some(preferred) = &self.preferred {
            paths.retain(|p| p != preferred);
            paths.insert(0, preferred.clone());
        }
        match self.discover(&paths, false) {
            Ok(device) => {
                self.attach(device);
                if self.want_streaming {
                    self.start(now);
                }
            }
            Err(problem) => {
                self.report(problem);
                self.set_signal(Signal::NoDevice);
                self.retry_at = Some(now + RETRY_EVERY);
            }
        }
    }

    fn start(&mut self, now: Instant) {
        let Some(device) = self.device.as_mut() else {
            return;
        };
        match device.node.start(BUFFER_COUNT) {
            Ok(()) => {
                device.streaming = true;
                self.last_frame = now;
                self.retry_at = None;
                debug!("video: {} streaming", device.path.display());
            }
            Err(e) if is_gone(&e) => self.lose_device("unplugged", now),
            Err(e) => {
                let problem = format!("cannot start capture: {}", describe(&device.path, &e));
                self.report(problem);
                self.retry_at = Some(now + RETRY_EVERY);
            }
        }
    }

    fn stop(&mut self) {
        self.encoding.clear();
        if let Some(device) = self.device.as_mut().filter(|d| d.streaming) {
            device.node.stop();
            device.streaming = false;
            debug!("video: {} stopped", device.path.display());
        }
    }

    /// Drains the device and keeps the newest buffer: a frame at once when
    /// it is MJPEG, else queued for encoding; then runs one encoding step.
    fn capture(&mut self, now: Instant) -> Option<Frame> {
        let captured = self.dequeue_newest(now);
        let frame = match self.encoding.step() {
            None => captured,
            Some(Ok(encoded)) => Some(encoded),
            Some(Err(why)) => {
                let problem = format!(
                    "video: {}: dropped a frame: {why}",
                    self.last_path.display()
                );
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
        let Some(device) = &self.device else {
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

    fn dequeue_newest(&mut self, now: Instant) -> Option<Frame> {
        let quality = self.quality;
        let device = self.device.as_mut().filter(|d| d.streaming)?;
        let mut newest: Option<Dequeued> = None;
        let mut failure = None;
        loop {
            match device.node.dequeue() {
                Ok(Some(buffer)) if device.node.captured_before_start(&buffer) => {
                    debug!("video: skipped a frame captured before this stream started");
                    if let Err(e) = device.node.requeue(buffer.index) {
                        failure = Some(e);
                        break;
                    }
                }
                Ok(Some(buffer)) => {
                    if let Some(older) = newest.replace(buffer) {
                        if let Err(e) = device.node.requeue(older.index) {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let built = newest.map(|buffer| {
            let frame = if buffer.error {
                Err("the driver flagged it as corrupt")
            } else {
                let bytes = device.node.bytes(&buffer);
                let encoding = &mut self.encoding;
                build_frame(device.format, &device.pix, bytes, quality, encoding, now)
            };
            if let Err(e) = device.node.requeue(buffer.index) {
                failure.get_or_insert(e);
            }
            frame
        });
        let path = device.path.clone();
        if let Some(e) = failure {
            if is_gone(&e) {
                self.lose_device("unplugged", now);
                return None;
            }
            self.report(format!("video: {}", describe(&path, &e)));
        }
        match built? {
            Ok(frame) => {
                self.last_frame = now;
                self.last_problem.clear();
                self.set_signal(Signal::Live);
                frame
            }
            Err(why) => {
                self.report(format!("video: {}: dropped a frame: {why}", path.display()));
                None
            }
        }
    }
}

impl FrameSource for V4l2Source {
    fn fds(&self) -> Vec<RawFd> {
        let capture = self
            .device
            .as_ref()
            .filter(|d| d.streaming)
            .map(|d| d.node.fd());
        self.host.watch_fd().into_iter().chain(capture).collect()
    }

    fn set_streaming(&mut self, on: bool, now: Instant) {
        self.want_streaming = on;
        let streaming = self.device.as_ref().is_some_and(|d| d.streaming);
        if on && !streaming {
            self.start(now);
        } else if !on && streaming {
            self.stop();
        }
        if !on && self.device.is_some() {
            // A pending STREAMON retry is moot now.
            self.retry_at = None;
        }
    }

    fn poll(&mut self, now: Instant) -> Option<Frame> {
        self.handle_hotplug(now);
        let due = self.retry_at.is_some_and(|at| now >= at);
        match &self.device {
            None if due => self.rescan(now),
            Some(d) if due && self.want_streaming && !d.streaming => self.start(now),
            _ => {}
        }
        let frame = self.capture(now);
        let streaming = self.device.as_ref().is_some_and(|d| d.streaming);
        if streaming && now >= self.last_frame + NO_SIGNAL_AFTER {
            self.release_silent(now);
        }
        frame
    }

    fn poll_at(&self) -> Option<Instant> {
        let streaming = self.device.as_ref().is_some_and(|d| d.streaming);
        let no_signal_at = streaming.then(|| self.last_frame + NO_SIGNAL_AFTER);
        let retry = self
            .retry_at
            .filter(|_| self.device.is_none() || (self.want_streaming && !streaming));
        // An encoding step is due at once: its frame's capture instant is past.
        let encode = self.encoding.busy().then_some(self.last_frame);
        no_signal_at.into_iter().chain(retry).chain(encode).min()
    }

    fn info(&self) -> VideoInfo {
        match &self.device {
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

    fn set_mode(&mut self, mode: Mode, now: Instant) -> Result<(), String> {
        let Some(device) = self.device.as_mut() else {
            return Err("no capture device is present; try again when one is plugged in".into());
        };
        if !device.modes.contains(&mode) {
            return Err(format!(
                "{mode} is not offered by {} ({}); see the modes in /api/status",
                device.path.display(),
                device.format.name()
            ));
        }
        let was_streaming = device.streaming;
        let previous = device.mode;
        // Frames of the old size still being encoded would follow the switch.
        self.encoding.clear();
        if was_streaming {
            device.node.stop();
            device.streaming = false;
        }
        let result = match configure(device, mode) {
            Ok(()) => Ok(()),
            Err(e) if is_gone(&e) => Err(e),
            Err(e) => {
                // Put the device back as it was; a failure here surfaces on restart.
                let _ = configure(device, previous);
                Err(e)
            }
        };
        let path = device.path.clone();
        match result {
            Ok(()) => {
                info!("📐 Resolution: {}", device.mode);
                self.wanted = mode;
            }
            Err(e) if is_gone(&e) => {
                self.lose_device("unplugged", now);
                return Err(format!("{} was unplugged", path.display()));
            }
            Err(_) => {}
        }
        if was_streaming {
            self.start(now);
        }
        result.map_err(|e| format!("cannot switch to {mode}: {}", describe(&path, &e)))
    }
}

/// Opens `path` and reads what it offers; the reason when kv cannot use it.
fn examine(host: &dyn Host, path: &Path) -> Result<Device, String> {
    let shown = path.display();
    let node = host.open(path).map_err(|e| describe(path, &e))?;
    let cap = node.capability().map_err(|e| describe(path, &e))?;
    if cap.caps & sys::CAP_VIDEO_CAPTURE == 0 {
        return Err(if cap.caps & CAP_META_CAPTURE != 0 {
            format!("{shown}, a metadata node")
        } else if cap.caps & CAP_VIDEO_OUTPUT != 0 {
            format!("{shown}, an output device")
        } else {
            format!("{shown}, not a single-planar capture device")
        });
    }
    if cap.caps & sys::CAP_STREAMING == 0 {
        return Err(format!("{shown}, no streaming I/O"));
    }
    let offered = node.formats().map_err(|e| describe(path, &e))?;
    for format in PixelFormat::PREFERRED {
        let Some(&fourcc) = offered
            .iter()
            .find(|&&f| PixelFormat::from_fourcc(f) == Some(format))
        else {
            continue;
        };
        let modes = list_modes(node.as_ref(), fourcc);
        if !modes.is_empty() {
            return Ok(Device {
                path: path.to_path_buf(),
                node,
                card: cap.card,
                driver: cap.driver,
                bus: cap.bus,
                format,
                // Filled in by `configure`.
                pix: PixFormat::default(),
                mode: Mode {
                    width: 0,
                    height: 0,
                    fps: 0,
                },
                modes,
                streaming: false,
            });
        }
    }
    let names: Vec<String> = offered
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect();
    Err(format!(
        "{shown}, only {} (kv takes MJPG, YUYV, UYVY or NV12)",
        if names.is_empty() {
            "no formats".to_string()
        } else {
            names.join(", ")
        }
    ))
}

/// Every size × rate the node offers for `fourcc`, largest and fastest first.
fn list_modes(node: &dyn Node, fourcc: [u8; 4]) -> Vec<Mode> {
    let sizes = match node.frame_sizes(fourcc) {
        Ok(offered) => modes::sizes(&offered),
        // Some drivers (v4l2loopback without a writer) enumerate nothing;
        // the format in effect is then the one size there is.
        Err(_) => Vec::new(),
    };
    let mut list = Vec::new();
    for (width, height) in sizes {
        let mut rates = node
            .frame_intervals(fourcc, (width, height))
            .map(|offered| modes::rates(&offered))
            .unwrap_or_default();
        if rates.is_empty() {
            rates.push(modes::DEFAULT_FPS);
        }
        list.extend(rates.into_iter().map(|fps| Mode { width, height, fps }));
    }
    list
}

/// S_FMT and S_PARM for the offered mode closest to `wanted`; records what
/// the driver really chose.
fn configure(device: &mut Device, wanted: Mode) -> io::Result<()> {
    let mode = modes::closest(&device.modes, wanted).unwrap_or(wanted);
    let fourcc = device.format.fourcc();
    let pix = device.node.set_format(fourcc, (mode.width, mode.height))?;
    if PixelFormat::from_fourcc(pix.fourcc) != Some(device.format) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the driver chose {} instead of {}",
                String::from_utf8_lossy(&pix.fourcc),
                device.format.name()
            ),
        ));
    }
    // A driver that cannot set the rate still captures: keep the asked one.
    let fps = match device.node.set_frame_interval((1, mode.fps)) {
        Ok(Some((num, den))) if num > 0 && den > 0 => ((den + num / 2) / num).max(1),
        Ok(_) => mode.fps,
        Err(e) if is_gone(&e) => return Err(e),
        Err(e) => {
            debug!("video: {}: S_PARM: {e}", device.path.display());
            mode.fps
        }
    };
    device.pix = pix;
    device.mode = Mode {
        width: pix.width,
        height: pix.height,
        fps,
    };
    Ok(())
}

/// The one copy out of the device buffer: a whole JPEG (with standard
/// Huffman tables when it has none), or a raw frame queued for encoding
/// (`None` then: the frame comes out of `encoding` some steps later).
fn build_frame(
    format: PixelFormat,
    pix: &PixFormat,
    bytes: &[u8],
    quality: u8,
    encoding: &mut EncodeQueue,
    now: Instant,
) -> Result<Option<Frame>, &'static str> {
    match format {
        PixelFormat::Mjpeg => {
            let whole = jpeg::whole_jpeg(bytes).ok_or("not a whole JPEG")?;
            let (width, height) = jpeg::dimensions(whole).unwrap_or((pix.width, pix.height));
            Ok(Some(Frame::new(
                jpeg::copy_with_dht(whole),
                width,
                height,
                now,
            )))
        }
        _ => {
            let image = RawImage::new(
                format,
                bytes,
                pix.width,
                pix.height,
                pix.bytes_per_line,
                pix.full_range,
            )
            .ok_or("shorter than a raw frame of its size")?;
            encoding.push(&image, pix.bytes_per_line, pix.full_range, quality, now);
            Ok(None)
        }
    }
}

fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::ENXIO))
}

fn is_video_node(name: &std::ffi::OsStr) -> bool {
    video_number(name).is_some()
}

/// N for `videoN`.
fn video_number(name: &std::ffi::OsStr) -> Option<u32> {
    name.to_str()?.strip_prefix("video")?.parse().ok()
}

/// A one-line reason naming the node and, where there is one, the fix.
fn describe(path: &Path, e: &io::Error) -> String {
    let shown = path.display();
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            format!("{shown}: permission denied — is kv running as root or in group video?")
        }
        Some(libc::EBUSY) => format!(
            "{shown}: device busy — is another program (ustreamer, a browser, kvmd) capturing from it?"
        ),
        Some(libc::ENOENT) => format!("{shown}: no such device node"),
        Some(libc::ENODEV) | Some(libc::ENXIO) => format!("{shown}: device unplugged"),
        _ => format!("{shown}: {e}"),
    }
}

fn no_device_message(rejected: &[String], explicit: bool) -> String {
    const HINT: &str = "plug in a capture dongle, pass -d /dev/videoN, or try kv --demo";
    // A node kv may not open is the likeliest culprit: say that first.
    let blocked = rejected
        .iter()
        .find(|r| r.contains("permission denied") || r.contains("busy"));
    match (blocked, rejected) {
        (Some(reason), _) => reason.clone(),
        (None, [reason]) if explicit => {
            format!("{reason} — check -d, leave it out to pick a capture device, or try kv --demo")
        }
        (None, []) => format!("no V4L2 capture device found under {DEV} — {HINT}"),
        (None, _) => format!(
            "no V4L2 capture device found under {DEV} (only {}) — {HINT}",
            rejected.join("; ")
        ),
    }
}

/// The real /dev, watched with inotify.
struct DevHost {
    watch: Option<DirWatch>,
}

impl DevHost {
    fn new() -> DevHost {
        let watch = DirWatch::new(Path::new(DEV))
            .map_err(|e| {
                warn!("video: cannot watch {DEV} for hotplug ({e}); checking every few seconds")
            })
            .ok();
        DevHost { watch }
    }
}

impl Host for DevHost {
    fn nodes(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(DEV) else {
            return Vec::new();
        };
        let mut nodes: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((video_number(&e.file_name())?, e.path())))
            .collect();
        nodes.sort();
        nodes.into_iter().map(|(_, path)| path).collect()
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Node>> {
        Ok(Box::new(KernelNode {
            fd: sys::open(path)?,
            buffers: Vec::new(),
            started: None,
            may_be_old: 0,
        }))
    }

    fn watch_fd(&self) -> Option<RawFd> {
        self.watch.as_ref().map(DirWatch::fd)
    }

    fn changes(&mut self) -> Vec<Change> {
        let Some(watch) = &self.watch else {
            return Vec::new();
        };
        watch.read_changes().unwrap_or_else(|e| {
            debug!("video: reading {DEV} changes: {e}");
            // Treat as an overflow: a rescan finds whatever was missed.
            vec![Change::Overflow]
        })
    }
}

/// A V4L2 node opened by kv, with its mapped buffers while streaming.
struct KernelNode {
    fd: OwnedFd,
    buffers: Vec<MappedBuffer>,
    /// CLOCK_MONOTONIC at the last STREAMON.
    started: Option<Duration>,
    /// How many more buffers may still be found older than `started`: as
    /// many as were queued at STREAMON, none once a newer one came.
    may_be_old: u32,
}

impl KernelNode {
    fn try_start(&mut self, count: u32) -> io::Result<()> {
        let fd = self.fd.as_fd();
        let allocated = sys::request_buffers(fd, count)?;
        if allocated == 0 {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "the driver allocated no buffers",
            ));
        }
        for index in 0..allocated {
            self.buffers.push(sys::map_buffer(fd, index)?);
        }
        for index in 0..allocated {
            sys::queue_buffer(fd, index)?;
        }
        self.started = crate::sys::clock::monotonic().ok();
        self.may_be_old = allocated;
        sys::stream_on(fd)
    }
}

impl Node for KernelNode {
    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn capability(&self) -> io::Result<Capability> {
        sys::query_capability(self.fd.as_fd())
    }

    fn formats(&self) -> io::Result<Vec<[u8; 4]>> {
        sys::enum_formats(self.fd.as_fd())
    }

    fn frame_sizes(&self, fourcc: [u8; 4]) -> io::Result<FrameSizes> {
        // Drivers that enumerate no sizes (v4l2loopback answers only for the
        // format its writer set, or not at all) still capture at the size in
        // effect.
        match sys::enum_frame_sizes(self.fd.as_fd(), fourcc) {
            Err(e) if is_gone(&e) => Err(e),
            Ok(FrameSizes::Discrete(sizes)) if !sizes.is_empty() => Ok(FrameSizes::Discrete(sizes)),
            Ok(stepwise @ FrameSizes::Stepwise { .. }) => Ok(stepwise),
            Ok(FrameSizes::Discrete(_)) | Err(_) => {
                let current = sys::get_format(self.fd.as_fd())?;
                let size = (current.fourcc == fourcc).then_some((current.width, current.height));
                Ok(FrameSizes::Discrete(size.into_iter().collect()))
            }
        }
    }

    fn frame_intervals(&self, fourcc: [u8; 4], (w, h): (u32, u32)) -> io::Result<FrameIntervals> {
        sys::enum_frame_intervals(self.fd.as_fd(), fourcc, w, h)
    }

    fn set_format(&mut self, fourcc: [u8; 4], (w, h): (u32, u32)) -> io::Result<PixFormat> {
        sys::set_format(self.fd.as_fd(), w, h, fourcc)
    }

    fn set_frame_interval(&mut self, interval: Fraction) -> io::Result<Option<Fraction>> {
        sys::set_frame_interval(self.fd.as_fd(), interval)
    }

    fn start(&mut self, count: u32) -> io::Result<()> {
        let started = self.try_start(count);
        if started.is_err() {
            self.stop();
        }
        started
    }

    fn stop(&mut self) {
        let fd = self.fd.as_fd();
        if let Err(e) = sys::stream_off(fd) {
            debug!("video: STREAMOFF: {e}");
        }
        self.buffers.clear();
        if let Err(e) = sys::request_buffers(fd, 0) {
            debug!("video: freeing buffers: {e}");
        }
    }

    fn dequeue(&mut self) -> io::Result<Option<Dequeued>> {
        sys::dequeue_buffer(self.fd.as_fd())
    }

    fn captured_before_start(&mut self, buffer: &Dequeued) -> bool {
        let old = self.may_be_old > 0
            && buffer
                .captured
                .zip(self.started)
                .is_some_and(|(captured, started)| captured < started);
        self.may_be_old = if old { self.may_be_old - 1 } else { 0 };
        old
    }

    fn bytes(&self, buffer: &Dequeued) -> &[u8] {
        self.buffers
            .get(buffer.index as usize)
            .map_or(&[], |b| b.bytes(buffer.bytes_used as usize))
    }

    fn requeue(&mut self, index: u32) -> io::Result<()> {
        sys::queue_buffer(self.fd.as_fd(), index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeMap, VecDeque};
    use std::rc::Rc;

    /// A format the fake device offers: FourCC, sizes, rates at every size.
    type FakeFormat = ([u8; 4], Vec<(u32, u32)>, Vec<u32>);

    /// A capture device as the fake kernel sees it.
    #[derive(Clone, Default)]
    struct FakeDevice {
        card: String,
        caps: u32,
        formats: Vec<FakeFormat>,
        open_error: Option<i32>,
        unplugged: bool,
        /// Frames captured by the "hardware", handed out as buffers allow.
        pending: VecDeque<Vec<u8>>,
        /// How many of `pending`, from the front, were captured before the
        /// stream started (a driver that keeps its last frame).
        stale: usize,
        format: PixFormat,
        streaming: bool,
        /// Buffer indexes queued on the driver side, in order.
        queued: VecDeque<u32>,
        start_error: Option<i32>,
    }

    #[derive(Default)]
    struct World {
        devices: BTreeMap<PathBuf, FakeDevice>,
        changes: Vec<Change>,
        /// Streaming ioctls in order, to check what a mode switch does.
        log: Vec<String>,
    }

    type Shared = Rc<RefCell<World>>;

    struct FakeHost(Shared);

    struct FakeNode {
        world: Shared,
        path: PathBuf,
        /// What each buffer holds since it was last dequeued.
        buffers: Vec<Vec<u8>>,
    }

    const WATCH_FD: RawFd = 7;
    const CAPTURE_FD: RawFd = 42;

    fn errno(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    impl FakeNode {
        fn with<T>(&self, f: impl FnOnce(&mut FakeDevice) -> io::Result<T>) -> io::Result<T> {
            let mut world = self.world.borrow_mut();
            let device = world
                .devices
                .get_mut(&self.path)
                .ok_or(errno(libc::ENODEV))?;
            if device.unplugged {
                return Err(errno(libc::ENODEV));
            }
            f(device)
        }

        fn log(&self, line: String) {
            self.world.borrow_mut().log.push(line);
        }
    }

    impl Host for FakeHost {
        fn nodes(&self) -> Vec<PathBuf> {
            let world = self.0.borrow();
            world
                .devices
                .iter()
                .filter(|(_, d)| !d.unplugged)
                .map(|(p, _)| p.clone())
                .collect()
        }

        fn open(&self, path: &Path) -> io::Result<Box<dyn Node>> {
            let world = self.0.borrow();
            match world.devices.get(path) {
                None => Err(errno(libc::ENOENT)),
                Some(d) if d.unplugged => Err(errno(libc::ENOENT)),
                Some(d) => match d.open_error {
                    Some(code) => Err(errno(code)),
                    None => Ok(Box::new(FakeNode {
                        world: self.0.clone(),
                        path: path.to_path_buf(),
                        buffers: Vec::new(),
                    })),
                },
            }
        }

        fn watch_fd(&self) -> Option<RawFd> {
            Some(WATCH_FD)
        }

        fn changes(&mut self) -> Vec<Change> {
            std::mem::take(&mut self.0.borrow_mut().changes)
        }
    }

    impl Node for FakeNode {
        fn fd(&self) -> RawFd {
            CAPTURE_FD
        }

        fn capability(&self) -> io::Result<Capability> {
            self.with(|d| {
                Ok(Capability {
                    driver: "fake".into(),
                    card: d.card.clone(),
                    bus: "fake".into(),
                    caps: d.caps,
                })
            })
        }

        fn formats(&self) -> io::Result<Vec<[u8; 4]>> {
            self.with(|d| Ok(d.formats.iter().map(|f| f.0).collect()))
        }

        fn frame_sizes(&self, fourcc: [u8; 4]) -> io::Result<FrameSizes> {
            self.with(|d| {
                let f = d
                    .formats
                    .iter()
                    .find(|f| f.0 == fourcc)
                    .ok_or(errno(libc::EINVAL))?;
                Ok(FrameSizes::Discrete(f.1.clone()))
            })
        }

        fn frame_intervals(&self, fourcc: [u8; 4], _: (u32, u32)) -> io::Result<FrameIntervals> {
            self.with(|d| {
                let f = d
                    .formats
                    .iter()
                    .find(|f| f.0 == fourcc)
                    .ok_or(errno(libc::EINVAL))?;
                Ok(FrameIntervals::Discrete(
                    f.2.iter().map(|&r| (1, r)).collect(),
                ))
            })
        }

        fn set_format(&mut self, fourcc: [u8; 4], size: (u32, u32)) -> io::Result<PixFormat> {
            self.log(format!("S_FMT {}x{}", size.0, size.1));
            self.with(|d| {
                if d.streaming {
                    return Err(errno(libc::EBUSY));
                }
                let f = d
                    .formats
                    .iter()
                    .find(|f| f.0 == fourcc)
                    .unwrap_or(&d.formats[0]);
                let (width, height) = if f.1.contains(&size) { size } else { f.1[0] };
                d.format = PixFormat {
                    width,
                    height,
                    fourcc: f.0,
                    bytes_per_line: width * 2,
                    size_image: width * height * 2,
                    full_range: false,
                };
                Ok(d.format)
            })
        }

        fn set_frame_interval(&mut self, interval: Fraction) -> io::Result<Option<Fraction>> {
            self.log(format!("S_PARM {}/{}", interval.0, interval.1));
            self.with(|_| Ok(Some(interval)))
        }

        fn start(&mut self, count: u32) -> io::Result<()> {
            self.log("STREAMON".into());
            self.with(|d| {
                if let Some(code) = d.start_error {
                    return Err(errno(code));
                }
                d.streaming = true;
                d.queued = (0..count).collect();
                Ok(())
            })?;
            self.buffers = vec![Vec::new(); count as usize];
            Ok(())
        }

        fn stop(&mut self) {
            self.log("STREAMOFF".into());
            let _ = self.with(|d| {
                d.streaming = false;
                d.queued.clear();
                Ok(())
            });
            self.buffers.clear();
        }

        fn dequeue(&mut self) -> io::Result<Option<Dequeued>> {
            let taken = self.with(|d| {
                if !d.streaming {
                    return Err(errno(libc::EINVAL));
                }
                if d.pending.is_empty() || d.queued.is_empty() {
                    return Ok(None);
                }
                let stale = d.stale > 0;
                d.stale = d.stale.saturating_sub(1);
                Ok(d.queued
                    .pop_front()
                    .zip(d.pending.pop_front())
                    .map(|t| (t, stale)))
            })?;
            Ok(taken.map(|((index, bytes), stale)| {
                let bytes_used = bytes.len() as u32;
                self.buffers[index as usize] = bytes;
                Dequeued {
                    index,
                    bytes_used,
                    error: false,
                    captured: stale.then_some(Duration::ZERO),
                }
            }))
        }

        fn captured_before_start(&mut self, buffer: &Dequeued) -> bool {
            buffer.captured == Some(Duration::ZERO)
        }

        fn bytes(&self, buffer: &Dequeued) -> &[u8] {
            &self.buffers[buffer.index as usize]
        }

        fn requeue(&mut self, index: u32) -> io::Result<()> {
            self.with(|d| {
                if d.queued.contains(&index) {
                    return Err(errno(libc::EINVAL));
                }
                d.queued.push_back(index);
                Ok(())
            })
        }
    }

    const CAPTURE: u32 = sys::CAP_VIDEO_CAPTURE | sys::CAP_STREAMING;

    // Real-kernel checks for tests/vm, run inside the guest with `--ignored`
    // (they skip unless KV_TEST_OUT is set): a scenario loads a driver, runs
    // one, and compares the frames written to $KV_TEST_OUT with what it fed.
    // KV_TEST_VIDEO picks the node (else discovery does), KV_TEST_MODE is
    // WxH@fps (1280x720@30), KV_TEST_FRAMES how many (10).

    fn vm_setup() -> Option<(String, V4l2Source, usize)> {
        let out = std::env::var("KV_TEST_OUT").ok()?;
        let device = std::env::var_os("KV_TEST_VIDEO").map(PathBuf::from);
        let spec = std::env::var("KV_TEST_MODE").unwrap_or_else(|_| "1280x720@30".into());
        let (size, fps) = spec.split_once('@').expect("KV_TEST_MODE is WxH@fps");
        let (w, h) = size.split_once('x').expect("KV_TEST_MODE is WxH@fps");
        let wanted = mode(w.parse().unwrap(), h.parse().unwrap(), fps.parse().unwrap());
        let frames = std::env::var("KV_TEST_FRAMES").map_or(10, |n| n.parse().unwrap());
        let source = V4l2Source::open(device.as_deref(), wanted, DEFAULT_QUALITY).unwrap();
        Some((out, source, frames))
    }

    /// Polls `source` (a test may sleep) until `done` or `limit` passes.
    fn vm_run(
        source: &mut V4l2Source,
        limit: Duration,
        mut done: impl FnMut(&V4l2Source, Option<Frame>) -> bool,
    ) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            let frame = source.poll(Instant::now());
            if done(source, frame) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    fn vm_check(frame: &Frame) {
        assert_eq!(jpeg::whole_jpeg(&frame.jpeg), Some(&frame.jpeg[..]));
        assert!(jpeg::has_dht(&frame.jpeg));
        assert_eq!(
            jpeg::dimensions(&frame.jpeg),
            Some((frame.width, frame.height))
        );
    }

    #[test]
    #[ignore]
    fn vm_capture_frames() {
        let Some((out, mut source, frames)) = vm_setup() else {
            return eprintln!("KV_TEST_OUT not set: skipped");
        };
        source.set_streaming(true, Instant::now());
        let mut got = 0;
        vm_run(&mut source, Duration::from_secs(30), |_, frame| {
            if let Some(frame) = frame {
                vm_check(&frame);
                std::fs::write(format!("{out}/{got:03}.jpg"), &frame.jpeg).unwrap();
                got += 1;
            }
            got == frames
        });
        let info = source.info();
        eprintln!(
            "{got} frames from {} {} {}",
            info.device, info.format, info.mode
        );
        assert_eq!(got, frames);
    }

    /// Streams, then expects the scenario to remove the device (touching
    /// $KV_TEST_OUT/unplug when it may) and bring one back.
    #[test]
    #[ignore]
    fn vm_unplug_replug() {
        let Some((out, mut source, _)) = vm_setup() else {
            return eprintln!("KV_TEST_OUT not set: skipped");
        };
        let limit = Duration::from_secs(60);
        source.set_streaming(true, Instant::now());
        assert!(
            vm_run(&mut source, limit, |_, f| f.is_some()),
            "no first frame"
        );
        std::fs::write(format!("{out}/unplug"), b"").unwrap();
        assert!(vm_run(&mut source, limit, |s, _| s.info().signal
            == Signal::NoDevice));
        eprintln!("signal: no device");
        let replugged = vm_run(&mut source, limit, |_, frame| {
            frame.as_ref().map(vm_check);
            frame.is_some()
        });
        let info = source.info();
        eprintln!(
            "after replug: {} {} {:?}",
            info.device, info.mode, info.signal
        );
        assert!(replugged && info.signal == Signal::Live);
    }

    fn mode(width: u32, height: u32, fps: u32) -> Mode {
        Mode { width, height, fps }
    }

    fn mjpeg_dongle(card: &str) -> FakeDevice {
        FakeDevice {
            card: card.into(),
            caps: CAPTURE,
            formats: vec![
                (
                    *b"MJPG",
                    vec![(1920, 1080), (1280, 720), (640, 480)],
                    vec![60, 30],
                ),
                (*b"YUYV", vec![(640, 480)], vec![5]),
            ],
            ..FakeDevice::default()
        }
    }

    fn yuyv_camera() -> FakeDevice {
        FakeDevice {
            card: "vivid".into(),
            caps: CAPTURE,
            formats: vec![(*b"YUYV", vec![(1920, 1080), (640, 480)], vec![30])],
            ..FakeDevice::default()
        }
    }

    fn metadata_node() -> FakeDevice {
        FakeDevice {
            card: "dongle".into(),
            caps: CAP_META_CAPTURE | sys::CAP_STREAMING,
            ..FakeDevice::default()
        }
    }

    fn world(devices: Vec<(&str, FakeDevice)>) -> Shared {
        let world = World {
            devices: devices
                .into_iter()
                .map(|(p, d)| (PathBuf::from(p), d))
                .collect(),
            ..World::default()
        };
        Rc::new(RefCell::new(world))
    }

    fn open(
        world: &Shared,
        device: Option<&str>,
        wanted: Mode,
        now: Instant,
    ) -> Result<V4l2Source, String> {
        let host = Box::new(FakeHost(world.clone()));
        V4l2Source::with_host(host, device.map(Path::new), wanted, DEFAULT_QUALITY, now)
    }

    /// A real JPEG of `width`x`height` from the encoder (it carries DHT).
    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let rgb = vec![90u8; usize::from(width) * usize::from(height) * 3];
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 50)
            .encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    fn capture(world: &Shared, path: &str, frame: Vec<u8>) {
        world
            .borrow_mut()
            .devices
            .get_mut(Path::new(path))
            .unwrap()
            .pending
            .push_back(frame);
    }

    fn device<'a>(world: &'a Shared, path: &str) -> std::cell::RefMut<'a, FakeDevice> {
        std::cell::RefMut::map(world.borrow_mut(), |w| {
            w.devices.get_mut(Path::new(path)).unwrap()
        })
    }

    #[test]
    fn test_open_prefers_mjpeg_with_wanted_size() {
        let now = Instant::now();
        let w = world(vec![
            ("/dev/video0", yuyv_camera()),
            ("/dev/video1", metadata_node()),
            ("/dev/video2", mjpeg_dongle("dongle")),
        ]);
        let source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        let info = source.info();
        assert_eq!(info.device, "/dev/video2");
        assert_eq!(info.format, "MJPG");
        assert_eq!(info.mode, mode(1280, 720, 30));
        assert_eq!(info.signal, Signal::Live);
        assert_eq!(info.modes.len(), 6);
        assert_eq!(info.modes[0], mode(1920, 1080, 60));
        assert_eq!(source.fds(), [WATCH_FD]);
    }

    #[test]
    fn test_open_raw_only_takes_closest_size() {
        let w = world(vec![("/dev/video0", yuyv_camera())]);
        let source = open(&w, None, mode(1280, 720, 30), Instant::now()).unwrap();
        assert_eq!(source.info().format, "YUYV");
        assert_eq!(source.info().mode, mode(640, 480, 30));
    }

    #[test]
    fn test_open_no_capture_device_names_demo() {
        let w = world(vec![("/dev/video3", metadata_node())]);
        let err = open(&w, None, mode(1280, 720, 30), Instant::now())
            .err()
            .unwrap();
        assert_eq!(
            err,
            "no V4L2 capture device found under /dev (only /dev/video3, a metadata node) — \
             plug in a capture dongle, pass -d /dev/videoN, or try kv --demo"
        );
        let empty = world(vec![]);
        let err = open(&empty, None, mode(1280, 720, 30), Instant::now())
            .err()
            .unwrap();
        assert!(
            err.starts_with("no V4L2 capture device found under /dev — "),
            "{err}"
        );
    }

    #[test]
    fn test_open_permission_denied_names_fix() {
        let mut locked = mjpeg_dongle("dongle");
        locked.open_error = Some(libc::EACCES);
        let w = world(vec![
            ("/dev/video0", locked),
            ("/dev/video1", metadata_node()),
        ]);
        let err = open(&w, None, mode(1280, 720, 30), Instant::now())
            .err()
            .unwrap();
        assert_eq!(
            err,
            "/dev/video0: permission denied — is kv running as root or in group video?"
        );
    }

    #[test]
    fn test_open_explicit_device_only() {
        let w = world(vec![
            ("/dev/video0", mjpeg_dongle("a")),
            ("/dev/video1", yuyv_camera()),
        ]);
        let source = open(&w, Some("/dev/video1"), mode(640, 480, 30), Instant::now()).unwrap();
        assert_eq!(source.info().device, "/dev/video1");
        let err = open(&w, Some("/dev/video9"), mode(640, 480, 30), Instant::now())
            .err()
            .unwrap();
        assert!(
            err.starts_with("/dev/video9: no such device node — check -d"),
            "{err}"
        );
    }

    #[test]
    fn test_idle_set_streaming_registers_capture_fd() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        assert_eq!(source.poll_at(), None);
        source.set_streaming(true, now);
        assert!(device(&w, "/dev/video0").streaming);
        assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
        assert_eq!(source.poll_at(), Some(now + NO_SIGNAL_AFTER));
        source.set_streaming(false, now);
        assert!(!device(&w, "/dev/video0").streaming);
        assert_eq!(source.fds(), [WATCH_FD]);
        assert_eq!(source.poll_at(), None);
    }

    #[test]
    fn test_streaming_drain_keeps_newest_and_requeues_all() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_streaming(true, now);
        // Many rounds of several frames: were a buffer lost, the fake driver
        // would starve (it only fills queued buffers).
        for round in 0..10u16 {
            for i in 0..3u16 {
                capture(&w, "/dev/video0", jpeg(16 + 8 * i, 8 + round));
            }
            let at = now + Duration::from_millis(u64::from(round) * 100);
            let frame = source.poll(at).expect("a frame each round");
            assert_eq!((frame.width, frame.height), (32, u32::from(8 + round)));
            assert_eq!(&*frame.jpeg, &jpeg(32, 8 + round)[..]);
            assert_eq!(frame.captured, at);
            assert_eq!(
                device(&w, "/dev/video0").queued.len(),
                BUFFER_COUNT as usize
            );
        }
        assert!(source.poll(now + Duration::from_secs(1)).is_none());
    }

    #[test]
    fn test_streaming_trims_padding_drops_broken_frames() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_streaming(true, now);
        let mut padded = jpeg(24, 16);
        let whole = padded.clone();
        padded.resize(24 * 16 * 4, 0);
        capture(&w, "/dev/video0", padded);
        assert_eq!(&*source.poll(now).unwrap().jpeg, &whole[..]);
        // Not the mode's size: noted (and logged) once.
        assert_eq!(source.odd_size, Some((24, 16)));
        capture(&w, "/dev/video0", whole[..whole.len() - 10].to_vec());
        assert!(source.poll(now).is_none());
        capture(&w, "/dev/video0", vec![0xFF, 0xD8, 0xFF, 0xD9]);
        assert!(source.poll(now).is_none());
        assert_eq!(
            device(&w, "/dev/video0").queued.len(),
            BUFFER_COUNT as usize
        );
        assert_eq!(source.info().signal, Signal::Live);
    }

    #[test]
    fn test_streaming_silence_closes_device_then_live() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_streaming(true, now);
        assert!(source.poll(now + Duration::from_millis(1999)).is_none());
        assert_eq!(source.info().signal, Signal::Live);
        let silent = now + NO_SIGNAL_AFTER;
        assert!(source.poll(silent).is_none());
        assert_eq!(source.info().signal, Signal::NoSignal);
        // Closed, so its driver could be reloaded; status still names it.
        assert!(!device(&w, "/dev/video0").streaming);
        assert_eq!(source.fds(), [WATCH_FD]);
        assert_eq!(source.info().device, "/dev/video0");
        assert_eq!(source.poll_at(), Some(silent + RETRY_EVERY));

        // Opened again, still silent: no signal still, closed again later.
        let reopened = silent + RETRY_EVERY;
        assert!(source.poll(reopened).is_none());
        assert!(device(&w, "/dev/video0").streaming);
        assert_eq!(source.info().signal, Signal::NoSignal);
        assert_eq!(source.poll_at(), Some(reopened + NO_SIGNAL_AFTER));

        // The frame the driver kept from before the reopen is not live.
        capture(&w, "/dev/video0", jpeg(16, 16));
        w.borrow_mut()
            .devices
            .get_mut(Path::new("/dev/video0"))
            .unwrap()
            .stale = 1;
        assert!(source.poll(reopened + Duration::from_millis(500)).is_none());
        assert_eq!(source.info().signal, Signal::NoSignal);
        capture(&w, "/dev/video0", jpeg(16, 16));
        let later = reopened + Duration::from_secs(1);
        assert!(source.poll(later).is_some());
        assert_eq!(source.info().signal, Signal::Live);
        assert_eq!(source.poll_at(), Some(later + NO_SIGNAL_AFTER));
    }

    #[test]
    fn test_streaming_silent_then_removed_no_device() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_streaming(true, now);
        source.poll(now + NO_SIGNAL_AFTER);
        assert_eq!(source.info().signal, Signal::NoSignal);
        w.borrow_mut().devices.remove(Path::new("/dev/video0"));
        w.borrow_mut()
            .changes
            .push(Change::Deleted("video0".into()));
        source.poll(now + NO_SIGNAL_AFTER + Duration::from_millis(100));
        assert_eq!(source.info().signal, Signal::NoDevice);
        assert_eq!(source.info().device, "/dev/video0");
    }

    #[test]
    fn test_streaming_unplug_then_replug_as_other_node_resumes() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_streaming(true, now);
        device(&w, "/dev/video0").unplugged = true;
        capture(&w, "/dev/video0", jpeg(16, 16));
        assert!(source.poll(now).is_none());
        assert_eq!(source.info().signal, Signal::NoDevice);
        assert_eq!(source.info().device, "/dev/video0");
        assert_eq!(source.fds(), [WATCH_FD]);
        assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));

        // The dongle comes back as /dev/video2; inotify says so.
        let t = now + Duration::from_millis(500);
        w.borrow_mut().devices.remove(Path::new("/dev/video0"));
        w.borrow_mut()
            .devices
            .insert("/dev/video2".into(), mjpeg_dongle("dongle"));
        w.borrow_mut()
            .changes
            .push(Change::Created("video2".into()));
        capture(&w, "/dev/video2", jpeg(16, 16));
        let frame = source.poll(t).expect("streaming resumed on the new node");
        assert_eq!(frame.width, 16);
        let info = source.info();
        assert_eq!(
            (info.device.as_str(), info.signal),
            ("/dev/video2", Signal::Live)
        );
        assert_eq!(info.mode, mode(1280, 720, 30));
        assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
    }

    #[test]
    fn test_idle_node_deleted_no_device_then_periodic_rescan() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        w.borrow_mut().devices.remove(Path::new("/dev/video0"));
        w.borrow_mut()
            .changes
            .push(Change::Deleted("video0".into()));
        source.poll(now);
        assert_eq!(source.info().signal, Signal::NoDevice);
        // Nothing yet at the next retry; the device returns without an event
        // (udev fixed its permissions later, say) and the retry finds it.
        source.poll(now + RETRY_EVERY);
        assert_eq!(source.poll_at(), Some(now + RETRY_EVERY * 2));
        w.borrow_mut()
            .devices
            .insert("/dev/video0".into(), mjpeg_dongle("dongle"));
        source.poll(now + RETRY_EVERY * 2);
        assert_eq!(source.info().signal, Signal::Live);
        assert!(!device(&w, "/dev/video0").streaming, "nobody watches");
    }

    #[test]
    fn test_streaming_set_mode_restarts_same_source() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_streaming(true, now);
        w.borrow_mut().log.clear();
        source.set_mode(mode(1920, 1080, 60), now).unwrap();
        assert_eq!(
            w.borrow().log,
            ["STREAMOFF", "S_FMT 1920x1080", "S_PARM 1/60", "STREAMON"]
        );
        assert_eq!(source.info().mode, mode(1920, 1080, 60));
        assert_eq!(device(&w, "/dev/video0").format.width, 1920);
        capture(&w, "/dev/video0", jpeg(16, 16));
        assert!(source.poll(now).is_some());

        let err = source.set_mode(mode(1024, 768, 30), now).unwrap_err();
        assert_eq!(
            err,
            "1024x768@30fps is not offered by /dev/video0 (MJPG); see the modes in /api/status"
        );
        assert_eq!(source.info().mode, mode(1920, 1080, 60));
    }

    #[test]
    fn test_idle_set_mode_does_not_start() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        source.set_mode(mode(640, 480, 30), now).unwrap();
        assert!(!device(&w, "/dev/video0").streaming);
        assert_eq!(source.info().mode, mode(640, 480, 30));
    }

    #[test]
    fn test_idle_start_busy_retries() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
        let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        device(&w, "/dev/video0").start_error = Some(libc::EBUSY);
        source.set_streaming(true, now);
        assert_eq!(source.fds(), [WATCH_FD]);
        assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));
        device(&w, "/dev/video0").start_error = None;
        source.poll(now + RETRY_EVERY);
        assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
        // Giving up on a failing start leaves no stale wake-up behind.
        source.set_streaming(false, now);
        device(&w, "/dev/video0").start_error = Some(libc::EBUSY);
        source.set_streaming(true, now);
        source.set_streaming(false, now);
        assert_eq!(source.poll_at(), None);
    }

    #[test]
    fn test_streaming_raw_frames_take_quality() {
        let now = Instant::now();
        // Detail everywhere, so the quality shows in the size.
        let raw: Vec<u8> = (0..640 * 480 * 2).map(|i| (i * 37 % 251) as u8).collect();
        let encoded = |quality| {
            let w = world(vec![("/dev/video0", yuyv_camera())]);
            let host = Box::new(FakeHost(w.clone()));
            let mut source =
                V4l2Source::with_host(host, None, mode(640, 480, 30), quality, now).unwrap();
            source.set_streaming(true, now);
            capture(&w, "/dev/video0", raw.clone());
            (0..1000).find_map(|_| source.poll(now)).expect("a frame")
        };
        let (low, high) = (encoded(20), encoded(95));
        assert!(
            low.jpeg.len() * 2 < high.jpeg.len(),
            "{} vs {} bytes",
            low.jpeg.len(),
            high.jpeg.len()
        );
    }

    #[test]
    fn test_streaming_raw_frames_encoded_at_mode_size() {
        let now = Instant::now();
        let w = world(vec![("/dev/video0", yuyv_camera())]);
        let mut source = open(&w, None, mode(640, 480, 30), now).unwrap();
        source.set_streaming(true, now);
        capture(&w, "/dev/video0", vec![128; 640 * 480 * 2]);
        // Encoded a band per poll, each due at once, other frames re-queued
        // meanwhile.
        assert!(source.poll(now).is_none());
        assert_eq!(source.poll_at(), Some(now));
        assert_eq!(
            device(&w, "/dev/video0").queued.len(),
            BUFFER_COUNT as usize
        );
        let mut polls = 1;
        let frame = loop {
            polls += 1;
            if let Some(frame) = source.poll(now) {
                break frame;
            }
        };
        assert!(polls > 2, "{polls} polls");
        assert_eq!(source.poll_at(), Some(now + NO_SIGNAL_AFTER));
        assert_eq!((frame.width, frame.height), (640, 480));
        assert_eq!(jpeg::whole_jpeg(&frame.jpeg), Some(&frame.jpeg[..]));
        assert_eq!(jpeg::dimensions(&frame.jpeg), Some((640, 480)));
        // A short buffer is dropped, its buffer re-queued.
        capture(&w, "/dev/video0", vec![128; 1000]);
        assert!(source.poll(now).is_none());
        assert_eq!(
            device(&w, "/dev/video0").queued.len(),
            BUFFER_COUNT as usize
        );
    }
}

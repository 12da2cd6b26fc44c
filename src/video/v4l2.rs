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

use super::raw::{self, PixelFormat, RawImage};
use super::{jpeg, modes};
use super::{Frame, FrameSource, Mode, Signal, VideoInfo};
use crate::sys::inotify::{Change, DirWatch};
use crate::sys::v4l2::{self as sys, Capability, Dequeued, Fraction, FrameIntervals};
use crate::sys::v4l2::{FrameSizes, MappedBuffer, PixFormat};

/// Buffers asked of the driver: one being copied, one filling, spares so a
/// slow loop iteration does not make the driver drop frames.
const BUFFER_COUNT: u32 = 4;
/// A device that streams but delivers nothing this long has lost its input
/// (target asleep, HDMI unplugged).
const NO_SIGNAL_AFTER: Duration = Duration::from_secs(2);
/// How often to look again for a device (no device, or STREAMON failed):
/// besides inotify, because a new node can be unusable for a moment until
/// udev has set its permissions.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// JPEG quality for raw formats encoded on the board.
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
}

impl V4l2Source {
    /// Finds and configures a capture device: `device` if given, else the
    /// best `/dev/videoN` (MJPEG first, then one offering `wanted`'s size).
    /// Logs the device and mode chosen.
    pub fn open(device: Option<&Path>, wanted: Mode) -> Result<V4l2Source, String> {
        V4l2Source::with_host(Box::new(DevHost::new()), device, wanted, Instant::now())
    }

    fn with_host(
        host: Box<dyn Host>,
        preferred: Option<&Path>,
        wanted: Mode,
        now: Instant,
    ) -> Result<V4l2Source, String> {
        let mut source = V4l2Source {
            host,
            preferred: preferred.map(Path::to_path_buf),
            wanted,
            quality: DEFAULT_QUALITY,
            device: None,
            last_path: PathBuf::new(),
            last_card: String::new(),
            want_streaming: false,
            signal: Signal::NoDevice,
            last_frame: now,
            retry_at: None,
            last_problem: String::new(),
        };
        let candidates = match preferred {
            Some(path) => vec![path.to_path_buf()],
            None => source.host.nodes(),
        };
        let device = source.discover(&candidates, preferred.is_some())?;
        source.attach(device);
        Ok(source)
    }

    /// JPEG quality (1..=100) for raw formats encoded on the board.
    pub fn set_quality(&mut self, quality: u8) {
        self.quality = quality.clamp(1, 100);
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
            "📹 Video device: {} ({}, {})",
            device.path.display(),
            device.card,
            device.format.name()
        );
        info!("📐 Resolution: {}", device.mode);
        if device.format != PixelFormat::Mjpeg {
            info!(
                "video: {} offers no MJPEG; encoding {} to JPEG on the board (CPU heavy)",
                device.path.display(),
                device.format.name()
            );
        }
        self.last_path = device.path.clone();
        self.last_card = device.card.clone();
        self.last_problem.clear();
        self.device = Some(device);
        self.retry_at = None;
        self.set_signal(Signal::Live);
    }

    /// Forgets the device (unplugged, or its node removed).
    fn lose_device(&mut self, why: &str, now: Instant) {
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
        if let Some(device) = self.device.as_mut().filter(|d| d.streaming) {
            device.node.stop();
            device.streaming = false;
            debug!("video: {} stopped", device.path.display());
        }
    }

    /// Drains the device, keeps the newest buffer and turns it into a frame.
    fn capture(&mut self, now: Instant) -> Option<Frame> {
        let quality = self.quality;
        let device = self.device.as_mut().filter(|d| d.streaming)?;
        let mut newest: Option<Dequeued> = None;
        let mut failure = None;
        loop {
            match device.node.dequeue() {
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
                build_frame(device.format, &device.pix, bytes, quality, now)
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
                Some(frame)
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
            self.set_signal(Signal::NoSignal);
        }
        frame
    }

    fn poll_at(&self) -> Option<Instant> {
        let streaming = self.device.as_ref().is_some_and(|d| d.streaming);
        let no_signal_at =
            (streaming && self.signal == Signal::Live).then(|| self.last_frame + NO_SIGNAL_AFTER);
        let retry = self
            .retry_at
            .filter(|_| self.device.is_none() || !streaming);
        no_signal_at.into_iter().chain(retry).min()
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
/// Huffman tables when it has none), or a raw frame encoded to JPEG.
fn build_frame(
    format: PixelFormat,
    pix: &PixFormat,
    bytes: &[u8],
    quality: u8,
    now: Instant,
) -> Result<Frame, &'static str> {
    match format {
        PixelFormat::Mjpeg => {
            let whole = jpeg::whole_jpeg(bytes).ok_or("not a whole JPEG")?;
            let (width, height) = jpeg::dimensions(whole).unwrap_or((pix.width, pix.height));
            Ok(Frame::new(jpeg::copy_with_dht(whole), width, height, now))
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
            let jpeg = raw::encode(&image, quality).ok_or("JPEG encoding failed")?;
            Ok(Frame::new(jpeg, pix.width, pix.height, now))
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
        match sys::enum_frame_sizes(self.fd.as_fd(), fourcc)? {
            FrameSizes::Discrete(sizes) if sizes.is_empty() => {
                let current = sys::get_format(self.fd.as_fd())?;
                Ok(FrameSizes::Discrete(
                    (current.fourcc == fourcc)
                        .then_some((current.width, current.height))
                        .into_iter()
                        .collect(),
                ))
            }
            offered => Ok(offered),
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

    fn bytes(&self, buffer: &Dequeued) -> &[u8] {
        self.buffers
            .get(buffer.index as usize)
            .map_or(&[], |b| b.bytes(buffer.bytes_used as usize))
    }

    fn requeue(&mut self, index: u32) -> io::Result<()> {
        sys::queue_buffer(self.fd.as_fd(), index)
    }
}

//! The kernel as the capture source sees it: `Host` (the /dev directory and
//! its hotplug events) and `Node` (one opened V4L2 device), and their real
//! side, `DevHost` and `KernelNode`, over the ioctls of `sys::v4l2`. The fake
//! side is `fake.rs`; this side is tested against real drivers in tests/vm
//! (the `vm_*` tests below run there).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::{debug, warn};

use super::reason::is_gone;
use crate::sys::inotify::{Change, DirWatch};
use crate::sys::v4l2::{self as sys, Capability, Dequeued, Event, Fraction, FrameIntervals};
use crate::sys::v4l2::{FrameSizes, MappedBuffer, PixFormat};

pub(super) const DEV: &str = "/dev";

/// One opened V4L2 node, as the source uses it: the kernel's or a fake.
pub(super) trait Node {
    fn fd(&self) -> RawFd;
    fn capability(&self) -> io::Result<Capability>;
    fn formats(&self) -> io::Result<Vec<[u8; 4]>>;
    fn frame_sizes(&self, fourcc: [u8; 4]) -> io::Result<FrameSizes>;
    fn frame_intervals(&self, fourcc: [u8; 4], size: (u32, u32)) -> io::Result<FrameIntervals>;
    fn set_format(&mut self, fourcc: [u8; 4], size: (u32, u32)) -> io::Result<PixFormat>;
    fn set_frame_interval(&mut self, interval: Fraction) -> io::Result<Option<Fraction>>;
    /// Asks to hear when the source changes (V4L2_EVENT_SOURCE_CHANGE of the
    /// current input): `false` when the driver raises no such event
    /// (uvcvideo, v4l2loopback), whose changes then show only as silence.
    fn watch_source(&mut self) -> io::Result<bool>;
    /// Whether the source's size or signal changed since the last call
    /// (drains the node's events). Always `false` unless `watch_source` was.
    fn source_changed(&mut self) -> io::Result<bool>;
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
pub(super) trait Host {
    /// `/dev/videoN` paths in N order.
    fn nodes(&self) -> Vec<PathBuf>;
    fn open(&self, path: &Path) -> io::Result<Box<dyn Node>>;
    fn watch_fd(&self) -> Option<RawFd>;
    fn changes(&mut self) -> Vec<Change>;
}

pub(super) fn is_video_node(name: &std::ffi::OsStr) -> bool {
    video_number(name).is_some()
}

/// N for `videoN`.
fn video_number(name: &std::ffi::OsStr) -> Option<u32> {
    name.to_str()?.strip_prefix("video")?.parse().ok()
}

/// The real /dev, watched with inotify.
pub(super) struct DevHost {
    watch: Option<DirWatch>,
}

impl DevHost {
    pub(super) fn new() -> DevHost {
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
            watching: false,
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
    /// Subscribed to source changes: only then is DQEVENT worth a call.
    watching: bool,
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

    fn watch_source(&mut self) -> io::Result<bool> {
        let fd = self.fd.as_fd();
        // Events are raised per input; a driver without inputs has one, 0.
        let input = sys::current_input(fd).unwrap_or(0);
        self.watching = match sys::subscribe_source_change(fd, input) {
            Ok(()) => true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOTTY)) => false,
            Err(e) => return Err(e),
        };
        Ok(self.watching)
    }

    fn source_changed(&mut self) -> io::Result<bool> {
        if !self.watching {
            return Ok(false);
        }
        let mut changed = false;
        while let Some(event) = sys::dequeue_event(self.fd.as_fd())? {
            match event {
                Event::SourceChange { resolution } => changed |= resolution,
                Event::Other(kind) => debug!("video: ignored V4L2 event {kind}"),
            }
        }
        Ok(changed)
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
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use super::super::fake::mode;
    use super::super::{V4l2Source, DEFAULT_QUALITY};
    use crate::video::{jpeg, Frame, FrameSource, Signal};

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
}

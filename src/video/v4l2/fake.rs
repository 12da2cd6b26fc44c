//! A fake kernel for the capture source's tests: a /dev of fake nodes whose
//! "hardware" a test drives (frames captured, unplugs, busy devices, source
//! changes), with every streaming ioctl logged, so the state machine runs on
//! virtual time without a driver.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::discover::CAP_META_CAPTURE;
use super::kernel::{Host, Node};
use super::{V4l2Source, DEFAULT_QUALITY};
use crate::sys::inotify::Change;
use crate::sys::v4l2::{self as sys, Capability, Dequeued, Fraction, FrameIntervals};
use crate::sys::v4l2::{FrameSizes, PixFormat};
use crate::video::Mode;

/// A format the fake device offers: FourCC, sizes, rates at every size.
type FakeFormat = ([u8; 4], Vec<(u32, u32)>, Vec<u32>);

/// A capture device as the fake kernel sees it.
#[derive(Clone, Default)]
pub(super) struct FakeDevice {
    pub(super) card: String,
    pub(super) caps: u32,
    pub(super) formats: Vec<FakeFormat>,
    pub(super) open_error: Option<i32>,
    pub(super) unplugged: bool,
    /// Frames captured by the "hardware", handed out as buffers allow.
    pub(super) pending: VecDeque<Vec<u8>>,
    /// How many of `pending`, from the front, were captured before the
    /// stream started (a driver that keeps its last frame).
    pub(super) stale: usize,
    pub(super) format: PixFormat,
    pub(super) streaming: bool,
    /// Buffer indexes queued on the driver side, in order.
    pub(super) queued: VecDeque<u32>,
    pub(super) start_error: Option<i32>,
    /// The driver raises source-change events (vivid does, uvcvideo not).
    pub(super) reports_changes: bool,
    /// Source changes raised and not dequeued yet.
    pub(super) source_changes: u32,
}

impl FakeDevice {
    /// The format with this FourCC; EINVAL, as a driver answers, if none.
    fn offered(&self, fourcc: [u8; 4]) -> io::Result<&FakeFormat> {
        let found = self.formats.iter().find(|f| f.0 == fourcc);
        found.ok_or(errno(libc::EINVAL))
    }
}

#[derive(Default)]
pub(super) struct World {
    pub(super) devices: BTreeMap<PathBuf, FakeDevice>,
    pub(super) changes: Vec<Change>,
    /// Streaming ioctls in order, to check what a mode switch does.
    pub(super) log: Vec<String>,
}

pub(super) type Shared = Rc<RefCell<World>>;

pub(super) struct FakeHost(pub(super) Shared);

struct FakeNode {
    world: Shared,
    path: PathBuf,
    /// What each buffer holds since it was last dequeued.
    buffers: Vec<Vec<u8>>,
    /// `watch_source` was called and the device reports changes.
    watching: bool,
}

pub(super) const WATCH_FD: RawFd = 7;
pub(super) const CAPTURE_FD: RawFd = 42;

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
                    watching: false,
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
        self.with(|d| Ok(FrameSizes::Discrete(d.offered(fourcc)?.1.clone())))
    }

    fn frame_intervals(&self, fourcc: [u8; 4], _: (u32, u32)) -> io::Result<FrameIntervals> {
        self.with(|d| {
            let rates = &d.offered(fourcc)?.2;
            Ok(FrameIntervals::Discrete(
                rates.iter().map(|&r| (1, r)).collect(),
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

    fn watch_source(&mut self) -> io::Result<bool> {
        self.watching = self.with(|d| Ok(d.reports_changes))?;
        Ok(self.watching)
    }

    fn source_changed(&mut self) -> io::Result<bool> {
        if !self.watching {
            return Ok(false);
        }
        self.with(|d| Ok(std::mem::take(&mut d.source_changes) > 0))
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

pub(super) fn mode(width: u32, height: u32, fps: u32) -> Mode {
    Mode { width, height, fps }
}

pub(super) fn mjpeg_dongle(card: &str) -> FakeDevice {
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

pub(super) fn yuyv_camera() -> FakeDevice {
    FakeDevice {
        card: "vivid".into(),
        caps: CAPTURE,
        formats: vec![(*b"YUYV", vec![(1920, 1080), (640, 480)], vec![30])],
        ..FakeDevice::default()
    }
}

pub(super) fn metadata_node() -> FakeDevice {
    FakeDevice {
        card: "dongle".into(),
        caps: CAP_META_CAPTURE | sys::CAP_STREAMING,
        ..FakeDevice::default()
    }
}

pub(super) fn world(devices: Vec<(&str, FakeDevice)>) -> Shared {
    let world = World {
        devices: devices
            .into_iter()
            .map(|(p, d)| (PathBuf::from(p), d))
            .collect(),
        ..World::default()
    };
    Rc::new(RefCell::new(world))
}

pub(super) fn open(
    world: &Shared,
    device: Option<&str>,
    wanted: Mode,
    now: Instant,
) -> Result<V4l2Source, String> {
    let host = Box::new(FakeHost(world.clone()));
    V4l2Source::with_host(host, device.map(Path::new), wanted, DEFAULT_QUALITY, now)
}

/// A real JPEG of `width`x`height` from the encoder (it carries DHT).
pub(super) fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let rgb = vec![90u8; usize::from(width) * usize::from(height) * 3];
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 50)
        .encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

pub(super) fn capture(world: &Shared, path: &str, frame: Vec<u8>) {
    world
        .borrow_mut()
        .devices
        .get_mut(Path::new(path))
        .unwrap()
        .pending
        .push_back(frame);
}

pub(super) fn device<'a>(world: &'a Shared, path: &str) -> std::cell::RefMut<'a, FakeDevice> {
    std::cell::RefMut::map(world.borrow_mut(), |w| {
        w.devices.get_mut(Path::new(path)).unwrap()
    })
}

//! Video: where frames come from (`FrameSource`: a V4L2 capture device or the demo
//! target), what a frame is once captured, and the `Pipeline` that owns both
//! between the device and the viewers. A `Frame` is built once from the
//! device's buffer and then shared by reference (`SharedFrame`) with every viewer;
//! nothing on the way to a socket copies its bytes again.

pub mod coeff;
pub mod encode;
pub mod fanout;
mod fps;
mod frame;
pub mod jpeg;
pub mod modes;
pub mod picture;
pub mod pipeline;
mod placeholder;
pub mod raw;
pub mod updates;
pub mod v4l2;

use std::os::fd::RawFd;
use std::time::Instant;

pub use frame::{Frame, SharedFrame};
pub use pipeline::{Audience, Pipeline};

/// A capture mode: frame size and rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}x{}@{}fps", self.width, self.height, self.fps)
    }
}

/// Why there is (or is not) a picture; shown on the placeholder frame and in status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    Live,
    /// No capture device present (unplugged, driver removed).
    NoDevice,
    /// The device is there but delivers no frames (target asleep, HDMI unplugged).
    NoSignal,
}

impl Signal {
    pub fn as_str(&self) -> &'static str {
        match self {
            Signal::Live => "live",
            Signal::NoDevice => "no device",
            Signal::NoSignal => "no signal",
        }
    }
}

/// What `/api/status` and the UI show about the source.
#[derive(Clone, Debug)]
pub struct VideoInfo {
    /// `/dev/video1`, or `demo`.
    pub device: String,
    /// The device's pixel format as a FourCC (`MJPG`, `YUYV`, ...).
    pub format: String,
    pub mode: Mode,
    /// Every mode the device offers, for the resolution menu.
    pub modes: Vec<Mode>,
    pub signal: Signal,
}

/// Something that produces JPEG frames, driven by the event loop.
///
/// The loop registers `fds()` for readability and calls `poll` when one is
/// readable or when `poll_at` is due. Nothing here may block.
pub trait FrameSource {
    /// Descriptors to watch (capture fd, hotplug notifier). Re-read after every
    /// call that can change them (`poll`, `set_streaming`, `set_mode`): the loop
    /// re-registers when the set differs.
    fn fds(&self) -> Vec<RawFd>;
    /// Start capture when the first viewer arrives, stop it when the last leaves.
    fn set_streaming(&mut self, on: bool, now: Instant);
    /// Advance: drain the device, handle hotplug, render. Returns the newest
    /// whole frame produced since the last call, if any.
    fn poll(&mut self, now: Instant) -> Option<Frame>;
    /// The next instant `poll` must run even without fd activity.
    fn poll_at(&self) -> Option<Instant>;
    fn info(&self) -> VideoInfo;
    /// Whether there is a picture; called every loop turn, so cheaper than `info`.
    fn signal(&self) -> Signal {
        self.info().signal
    }
    /// Switch size/rate at runtime; the stream continues at the new size.
    fn set_mode(&mut self, mode: Mode, now: Instant) -> Result<(), String>;
}

//! The demo target's HDMI output as a `FrameSource`: timer driven (no fds), one
//! frame per frame interval while streaming. Encoding is the costly part, so the
//! screen is rendered and encoded only when it changed (input, or the clock's
//! second ticked), and then only the strips that differ are re-encoded
//! (`StripEncoder`); otherwise the previous JPEG is sent again, keeping the
//! configured frame rate for viewers.

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::screen::Screen;
use crate::render::{StripEncoder, MAX_SIDE};
use crate::video::{Frame, FrameSource, Mode, Signal, VideoInfo};

/// JPEG quality of the rendered screen: text stays crisp, frames stay small.
pub const QUALITY: u8 = 80;
const MAX_FPS: u32 = 60;
/// Small enough to test with, big enough for the title bar to make sense.
const MIN_SIDE: u32 = 64;

/// The modes a capture dongle typically offers, shown in the resolution menu.
const MODES: [(u32, u32); 4] = [(640, 480), (800, 600), (1280, 720), (1920, 1080)];
const MODES_FPS: u32 = 30;

/// `mode` brought into the range the demo target renders.
pub fn fit_mode(mode: Mode) -> Mode {
    Mode {
        width: mode.width.clamp(MIN_SIDE, MAX_SIDE),
        height: mode.height.clamp(MIN_SIDE, MAX_SIDE),
        fps: mode.fps.clamp(1, MAX_FPS),
    }
}

pub struct DemoSource {
    screen: Rc<RefCell<Screen>>,
    /// The next frame is due; `None` while not streaming.
    next_frame: Option<Instant>,
    /// The clock on screen counts from here: the first time anyone watched.
    epoch: Option<Instant>,
    /// The last encoded picture and the clock second it shows.
    last: Option<(Box<[u8]>, u64)>,
    /// Typing or moving the pointer changes a few rows: only those are re-encoded.
    encoder: StripEncoder,
    /// How many times the screen was encoded (tests check that idle frames are not).
    pub encodes: u64,
}

impl DemoSource {
    pub fn new(screen: Rc<RefCell<Screen>>) -> DemoSource {
        DemoSource {
            screen,
            next_frame: None,
            epoch: None,
            last: None,
            encoder: StripEncoder::new(QUALITY),
            encodes: 0,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1) / self.screen.borrow().mode().fps.max(1)
    }

    fn jpeg(&mut self, now: Instant) -> Box<[u8]> {
        let uptime = now.saturating_duration_since(*self.epoch.get_or_insert(now));
        let second = uptime.as_secs();
        let mut screen = self.screen.borrow_mut();
        let changed = screen.take_dirty();
        match &self.last {
            Some((jpeg, shown)) if !changed && *shown == second => jpeg.clone(),
            _ => {
                let jpeg: Box<[u8]> = self.encoder.encode(screen.render(uptime)).into();
                self.encodes += 1;
                self.last = Some((jpeg.clone(), second));
                jpeg
            }
        }
    }
}

impl FrameSource for DemoSource {
    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }

    fn set_streaming(&mut self, on: bool, now: Instant) {
        self.next_frame = on.then_some(now);
        if on {
            self.epoch.get_or_insert(now);
        }
    }

    fn poll(&mut self, now: Instant) -> Option<Frame> {
        let due = self.next_frame?;
        if now < due {
            return None;
        }
        // Keep the cadence when the loop wakes a little late; after a long stall
        // restart from now instead of sending a burst of catch-up frames.
        let next = due + self.interval();
        self.next_frame = Some(if next > now {
            next
        } else {
            now + self.interval()
        });
        // Stamped once rendered, as a V4L2 frame is when dequeued: drawing the
        // screen is the simulated target's time, not latency kv adds.
        let rendering = Instant::now();
        let jpeg = self.jpeg(now);
        let mode = self.screen.borrow().mode();
        let captured = now + rendering.elapsed();
        Some(Frame::new(jpeg, mode.width, mode.height, captured))
    }

    fn poll_at(&self) -> Option<Instant> {
        self.next_frame
    }

    fn info(&self) -> VideoInfo {
        let mode = self.screen.borrow().mode();
        let mut modes: Vec<Mode> = MODES
            .iter()
            .map(|&(width, height)| Mode {
                width,
                height,
                fps: MODES_FPS,
            })
            .collect();
        if !modes.contains(&mode) {
            modes.push(mode);
            modes.sort();
        }
        VideoInfo {
            device: "demo".to_string(),
            format: "MJPG".to_string(),
            mode,
            modes,
            signal: Signal::Live,
        }
    }

    fn set_mode(&mut self, mode: Mode, now: Instant) -> Result<(), String> {
        if fit_mode(mode) != mode {
            return Err(format!(
                "demo: cannot show {mode}: width and height must be {MIN_SIDE}..={MAX_SIDE} \
                 and fps 1..={MAX_FPS}"
            ));
        }
        self.screen.borrow_mut().set_mode(mode);
        if self.next_frame.is_some() {
            self.next_frame = Some(now);
        }
        Ok(())
    }
}

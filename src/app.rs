//! The state every connection shares: the video source and its newest frame,
//! the HID state machine, the demo target, and the status the UI shows. The
//! event loop owns one `App`; connections borrow it while they run.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::demo::DemoTarget;
use crate::hid::{layout, Hid};
use crate::json;
use crate::video::placeholder::Placeholder;
use crate::video::{Frame, FrameSource, Mode, SharedFrame, Signal};

/// How fresh the newest frame must be for a snapshot to use it without
/// waiting for the next one.
const FRESH: Duration = Duration::from_millis(1500);

pub struct App {
    pub config: Config,
    /// kv's start, as an `Instant` and as CLOCK_MONOTONIC: frame timestamps
    /// are exported on the monotonic clock so clients can measure latency.
    pub epoch: Instant,
    pub epoch_monotonic: Duration,
    pub source: Box<dyn FrameSource>,
    pub latest: Option<SharedFrame>,
    next_seq: u64,
    pub hid: Hid,
    /// The USB network link, with `--ethernet`.
    pub net: Option<crate::net::UsbNet>,
    pub demo: Option<DemoTarget>,
    /// The images folder and the drive, with `--images`.
    pub media: Option<crate::media::Images>,
    /// Whether the source is capturing (someone watches or waits for a snapshot).
    pub streaming: bool,
    /// MJPEG viewers, counted by the event loop.
    pub viewers: usize,
    /// Frames shown while the source has no picture.
    pub placeholder: Placeholder,
    fps: FpsMeter,
    /// Credentials, sessions and failed-login delays (http::auth).
    pub auth: crate::auth::Gate,
}

impl App {
    pub fn new(
        config: Config,
        source: Box<dyn FrameSource>,
        hid: Hid,
        demo: Option<DemoTarget>,
        now: Instant,
    ) -> App {
        // Both clocks are read here, together: `now` was taken before the
        // devices were opened, and pairing it with this later monotonic reading
        // stamped every X-Timestamp-Us that much late (hiding latency).
        App {
            auth: crate::auth::Gate::new(config.credentials.clone()),
            config,
            epoch: Instant::now(),
            epoch_monotonic: crate::sys::clock::monotonic().unwrap_or_default(),
            source,
            latest: None,
            next_seq: 1,
            hid,
            net: None,
            demo,
            media: None,
            streaming: false,
            viewers: 0,
            placeholder: Placeholder::new(),
            fps: FpsMeter::new(now),
        }
    }

    /// Makes `frame` the newest, shared from now on by every viewer.
    pub fn publish(&mut self, mut frame: Frame, now: Instant) -> SharedFrame {
        frame.seq = self.next_seq;
        self.next_seq += 1;
        self.fps.tick(now);
        let shared = SharedFrame::new(frame);
        self.latest = Some(shared.clone());
        shared
    }

    /// The newest frame if it is recent enough to answer a snapshot with.
    pub fn fresh_frame(&self, now: Instant) -> Option<SharedFrame> {
        self.latest
            .as_ref()
            .filter(|f| self.streaming && now.duration_since(f.captured) < FRESH)
            .cloned()
    }

    /// When `at` happened on CLOCK_MONOTONIC, in microseconds.
    pub fn monotonic_us(&self, at: Instant) -> u128 {
        (self.epoch_monotonic + at.saturating_duration_since(self.epoch)).as_micros()
    }

    pub fn set_mode(&mut self, mode: Mode, now: Instant) -> Result<(), String> {
        self.source.set_mode(mode, now)
    }

    /// The status object of `/api/status` and of the WebSocket `status` message.
    pub fn status_json(&mut self, now: Instant) -> String {
        let info = self.source.info();
        let hid = self.hid.status();
        let mut modes = String::new();
        for (i, m) in info.modes.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                modes,
                "{sep}{{\"width\":{},\"height\":{},\"fps\":{}}}",
                m.width, m.height, m.fps
            );
        }
        let layouts: Vec<String> = layout::NAMES.iter().map(|n| json::quote(n)).collect();
        let led = |bit: u8| hid.leds & bit != 0;
        let udc = hid.udc.as_deref().map_or("null".to_string(), json::quote);
        let signal = if self.streaming || info.signal != Signal::Live {
            info.signal.as_str()
        } else {
            "idle"
        };
        format!(
            concat!(
                "{{\"version\":{},\"demo\":{},",
                "\"video\":{{\"device\":{},\"format\":{},\"width\":{},\"height\":{},\"fps\":{},",
                "\"fps_measured\":{:.1},\"viewers\":{},\"signal\":{},\"modes\":[{}]}},",
                "\"hid\":{{\"online\":{},\"udc\":{},\"leds\":{{\"num\":{},\"caps\":{},\"scroll\":{}}},",
                "\"layout\":{},\"layouts\":[{}]}},\"network\":{}}}"
            ),
            json::quote(env!("CARGO_PKG_VERSION")),
            self.demo.is_some(),
            json::quote(&info.device),
            json::quote(&info.format),
            info.mode.width,
            info.mode.height,
            info.mode.fps,
            self.fps.measured(now),
            self.viewers,
            json::quote(signal),
            modes,
            hid.online,
            udc,
            led(1),
            led(2),
            led(4),
            json::quote(hid.layout),
            layouts.join(","),
            self.net
                .as_ref()
                .map_or_else(|| "null".into(), crate::net::UsbNet::status_json),
        )
    }
}

/// Frames per second over the last whole second.
struct FpsMeter {
    window_start: Instant,
    frames: u32,
    last: f64,
}

impl FpsMeter {
    const WINDOW: Duration = Duration::from_secs(1);

    fn new(now: Instant) -> FpsMeter {
        FpsMeter {
            window_start: now,
            frames: 0,
            last: 0.0,
        }
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.window_start);
        if elapsed >= Self::WINDOW {
            // A window with no frames at all, long ago, must read 0, not the old rate.
            self.last = if elapsed >= 2 * Self::WINDOW && self.frames == 0 {
                0.0
            } else {
                self.frames as f64 / elapsed.as_secs_f64()
            };
            self.frames = 0;
            self.window_start = now;
        }
    }

    fn tick(&mut self, now: Instant) {
        self.roll(now);
        self.frames += 1;
    }

    fn measured(&mut self, now: Instant) -> f64 {
        self.roll(now);
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_fps_meter_counts_and_decays() {
        let t0 = Instant::now();
        let mut m = FpsMeter::new(t0);
        for i in 0..30 {
            m.tick(t0 + Duration::from_millis(i * 33));
        }
        let r = m.measured(t0 + Duration::from_millis(1000));
        assert!((29.0..31.0).contains(&r), "{r}");
        assert_eq!(m.measured(t0 + Duration::from_secs(5)), 0.0);
    }
}

//! The one owner of video between the source and the viewers: it drives the
//! `FrameSource`, numbers and stamps every frame it publishes, keeps the newest
//! one, draws the placeholder while there is no picture, measures the frame
//! rate, and starts capture when someone wants frames and stops it when nobody
//! does. The event loop hands it readiness and time and fans out what it
//! returns; connections read the newest frame from it.
//!
//! A frame's path: the loop sees the capture fd readable → `on_ready` (or a due
//! `on_timer`) → `FrameSource::poll` drains the device into one `Frame` →
//! `publish` gives it its sequence number and CLOCK_MONOTONIC stamp and makes
//! it the shared newest → the loop offers it to each viewer (`fanout::Viewer`),
//! which writes it from the shared bytes when its socket takes them.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::fps::FpsMeter;
use super::placeholder::Placeholder;
use super::updates::Updates;
use super::{Frame, FrameSource, Mode, SharedFrame, Signal, VideoInfo};
use crate::json;

/// How fresh the newest frame must be for a snapshot to use it without
/// waiting for the next one.
const FRESH: Duration = Duration::from_millis(1500);

/// Who wants frames right now, counted by the event loop every turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    /// MJPEG viewers.
    pub viewers: usize,
    /// Snapshot requests waiting for a frame.
    pub snapshots: usize,
}

/// Whether the source captures, and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Nobody watches or waits: the device is left idle.
    Stopped,
    /// This many MJPEG viewers (at least one) watch; snapshots may wait too.
    Watched(usize),
    /// Nobody watches, but a snapshot waits for a fresh frame.
    Snapshot,
}

impl Capture {
    fn for_audience(audience: Audience) -> Capture {
        match audience {
            Audience {
                viewers: 0,
                snapshots: 0,
            } => Capture::Stopped,
            Audience { viewers: 0, .. } => Capture::Snapshot,
            Audience { viewers, .. } => Capture::Watched(viewers),
        }
    }

    pub fn is_running(self) -> bool {
        self != Capture::Stopped
    }

    pub fn viewers(self) -> usize {
        match self {
            Capture::Watched(n) => n,
            Capture::Stopped | Capture::Snapshot => 0,
        }
    }
}

/// kv's start as an `Instant` and on CLOCK_MONOTONIC: frame timestamps are
/// exported on the monotonic clock so clients can measure latency.
struct Clock {
    epoch: Instant,
    epoch_monotonic: Duration,
}

impl Clock {
    /// Reads both clocks together: pairing an earlier `Instant` with a later
    /// monotonic reading stamped every X-Timestamp-Us that much late (hiding
    /// latency).
    fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
            epoch_monotonic: crate::sys::clock::monotonic().unwrap_or_default(),
        }
    }

    /// When `at` happened on CLOCK_MONOTONIC, in microseconds.
    fn monotonic_us(&self, at: Instant) -> u128 {
        (self.epoch_monotonic + at.saturating_duration_since(self.epoch)).as_micros()
    }
}

pub struct Pipeline {
    source: Box<dyn FrameSource>,
    clock: Clock,
    latest: Option<SharedFrame>,
    next_seq: u64,
    capture: Capture,
    /// The signal last seen, to log and report its changes.
    signal: Signal,
    /// Frames shown while the source has no picture.
    placeholder: Placeholder,
    fps: FpsMeter,
    /// Change-only updates for canvas viewers, built from `latest`.
    updates: Updates,
}

impl Pipeline {
    pub fn new(source: Box<dyn FrameSource>, now: Instant) -> Pipeline {
        Pipeline {
            source,
            clock: Clock::new(),
            latest: None,
            next_seq: 1,
            capture: Capture::Stopped,
            signal: Signal::Live,
            placeholder: Placeholder::new(),
            fps: FpsMeter::new(now),
            updates: Updates::default(),
        }
    }

    /// The source's descriptors, for the loop to watch (see `FrameSource::fds`).
    pub fn fds(&self) -> Vec<RawFd> {
        self.source.fds()
    }

    /// When `on_timer` must run next: the source's deadline or the next
    /// placeholder frame.
    pub fn poll_at(&self) -> Option<Instant> {
        [self.source.poll_at(), self.placeholder.poll_at()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The source's descriptors are readable: the frame it drained, published.
    pub fn on_ready(&mut self, now: Instant) -> Option<SharedFrame> {
        let frame = self.source.poll(now)?;
        crate::metrics::FRAMES_CAPTURED.inc();
        Some(self.publish(frame, now))
    }

    /// Runs what is due: the source (hotplug retries, encoding steps, timed
    /// frames), then the placeholder unless the source just gave a frame.
    pub fn on_timer(&mut self, now: Instant) -> Option<SharedFrame> {
        if self.source.poll_at().is_some_and(|t| t <= now) {
            if let Some(frame) = self.on_ready(now) {
                return Some(frame);
            }
        }
        if self.placeholder.poll_at().is_none_or(|t| now < t) {
            return None;
        }
        let info = self.source.info();
        // The picture may have come back this very turn (a frame published
        // before this timer): a placeholder must not follow it.
        self.placeholder
            .update(&info.signal, self.capture.is_running(), now);
        let frame = self
            .placeholder
            .poll(&info.signal, info.mode, &info.device, now)?;
        Some(self.publish(frame, now))
    }

    /// Makes `frame` the newest, shared from now on by every viewer. The
    /// loop's frames come through `on_ready`/`on_timer`; connection tests hand
    /// theirs in here.
    pub fn publish(&mut self, mut frame: Frame, now: Instant) -> SharedFrame {
        frame.seq = self.next_seq;
        self.next_seq += 1;
        frame.monotonic_us = self.clock.monotonic_us(frame.captured);
        self.fps.tick(now);
        let shared = SharedFrame::new(frame);
        self.latest = Some(shared.clone());
        self.updates.on_frame(&shared);
        shared
    }

    /// Tells who wants frames; called once a loop turn. Capture runs only
    /// while someone watches or waits for a snapshot, and the placeholder
    /// only while it runs without a picture. True when what the status
    /// shows changed (viewers, capture, signal), so it goes out at once.
    pub fn set_audience(&mut self, audience: Audience, now: Instant) -> bool {
        let signal = self.source.signal();
        let signal_changed = signal != self.signal;
        if signal_changed {
            log::info!("📺 Video signal: {}", signal.as_str());
            self.signal = signal;
        }
        let capture = Capture::for_audience(audience);
        let capture_changed = capture != self.capture;
        if capture_changed {
            self.set_capture(capture, now);
        }
        self.placeholder
            .update(&self.signal, self.capture.is_running(), now);
        signal_changed || capture_changed
    }

    fn set_capture(&mut self, capture: Capture, now: Instant) {
        log::trace!("video: capture={:?}=>{:?}", self.capture, capture);
        let running = capture.is_running();
        if running != self.capture.is_running() {
            log::info!(
                "{} capture ({} viewers)",
                if running {
                    "▶️ Starting"
                } else {
                    "⏸️ Stopping"
                },
                capture.viewers()
            );
            self.source.set_streaming(running, now);
            if !running {
                // The next viewer must start with a frame captured for it, not
                // the screen as it was when the last one left.
                self.latest = None;
                self.updates.clear();
            }
        }
        self.capture = capture;
    }

    pub fn capture(&self) -> Capture {
        self.capture
    }

    /// The newest frame, for a viewer whose socket took the previous one.
    pub fn latest(&self) -> Option<&SharedFrame> {
        self.latest.as_ref()
    }

    /// Updates for canvas viewers, up to the newest frame.
    pub fn updates(&mut self) -> &mut Updates {
        &mut self.updates
    }

    /// Whether a frame is being decoded or an update encoded for canvas
    /// viewers, a slice a turn.
    pub fn updates_busy(&self) -> bool {
        self.updates.is_busy()
    }

    /// The newest frame if it is recent enough to answer a snapshot with.
    pub fn fresh_frame(&self, now: Instant) -> Option<SharedFrame> {
        self.latest
            .as_ref()
            .filter(|f| {
                self.capture.is_running() && now.saturating_duration_since(f.captured) < FRESH
            })
            .cloned()
    }

    pub fn info(&self) -> VideoInfo {
        self.source.info()
    }

    /// Switches size/rate at runtime (`FrameSource::set_mode`).
    pub fn set_mode(&mut self, mode: Mode, now: Instant) -> Result<(), String> {
        self.source.set_mode(mode, now)
    }

    /// The `video` object of the status: the source, the measured rate, the
    /// viewers, and the signal ("idle" while a live source is not capturing).
    pub fn status_json(&mut self, now: Instant) -> String {
        let info = self.source.info();
        let signal = if self.capture.is_running() || info.signal != Signal::Live {
            info.signal.as_str()
        } else {
            "idle"
        };
        let modes = info
            .modes
            .iter()
            .map(|m| with_mode(json::Object::new(), *m).finish());
        let source = json::Object::new()
            .str("device", &info.device)
            .str("format", &info.format);
        with_mode(source, info.mode)
            .decimal("fps_measured", self.fps.measured(now))
            .num("viewers", self.capture.viewers())
            .str("signal", signal)
            .raw("modes", &json::array(modes))
            .finish()
    }
}

/// `object` with a mode's fields added.
fn with_mode(object: json::Object, mode: Mode) -> json::Object {
    object
        .num("width", mode.width)
        .num("height", mode.height)
        .num("fps", mode.fps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    const MODE: Mode = Mode {
        width: 640,
        height: 480,
        fps: 25,
    };

    /// What the fake source does, shared with the test that drives it.
    struct Device {
        signal: Signal,
        streaming: bool,
        /// How many times capture was started.
        starts: u32,
        /// Frames the next `poll` calls return, one each, while streaming.
        frames: VecDeque<Frame>,
    }

    struct FakeSource(Rc<RefCell<Device>>);

    impl FrameSource for FakeSource {
        fn fds(&self) -> Vec<RawFd> {
            Vec::new()
        }
        fn set_streaming(&mut self, on: bool, _now: Instant) {
            let mut device = self.0.borrow_mut();
            device.starts += u32::from(on && !device.streaming);
            device.streaming = on;
        }
        fn poll(&mut self, _now: Instant) -> Option<Frame> {
            let mut device = self.0.borrow_mut();
            device.streaming.then(|| device.frames.pop_front())?
        }
        fn poll_at(&self) -> Option<Instant> {
            None
        }
        fn info(&self) -> VideoInfo {
            VideoInfo {
                device: "/dev/video9".into(),
                format: "MJPG".into(),
                mode: MODE,
                modes: vec![MODE],
                signal: self.0.borrow().signal.clone(),
            }
        }
        fn set_mode(&mut self, _mode: Mode, _now: Instant) -> Result<(), String> {
            Ok(())
        }
    }

    fn pipeline(signal: Signal, t0: Instant) -> (Pipeline, Rc<RefCell<Device>>) {
        let device = Rc::new(RefCell::new(Device {
            signal,
            streaming: false,
            starts: 0,
            frames: VecDeque::new(),
        }));
        let source = Box::new(FakeSource(device.clone()));
        (Pipeline::new(source, t0), device)
    }

    /// A pipeline on a live source that `viewers` watch.
    fn watched(viewers: usize, t0: Instant) -> (Pipeline, Rc<RefCell<Device>>) {
        let (mut p, device) = pipeline(Signal::Live, t0);
        p.set_audience(audience(viewers), t0);
        (p, device)
    }

    /// The device delivers a frame captured at `at`; the pipeline publishes it.
    fn capture(p: &mut Pipeline, device: &RefCell<Device>, at: Instant) -> Option<SharedFrame> {
        let jpeg = vec![0xff, 0xd8, 0xff, 0xd9].into();
        let frame = Frame::new(jpeg, MODE.width, MODE.height, at);
        device.borrow_mut().frames.push_back(frame);
        p.on_ready(at)
    }

    fn audience(viewers: usize) -> Audience {
        Audience {
            viewers,
            snapshots: 0,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn test_stopped_first_viewer_starts_capture() {
        let t0 = Instant::now();
        let (mut p, device) = pipeline(Signal::Live, t0);
        assert!(!p.set_audience(Audience::default(), t0), "nothing changed");
        assert!(!device.borrow().streaming);
        assert!(p.set_audience(audience(1), t0));
        assert_eq!(p.capture(), Capture::Watched(1));
        assert!(device.borrow().streaming);
        assert!(p.set_audience(audience(2), t0), "the viewer count shows");
        assert_eq!(device.borrow().starts, 1, "already capturing");
    }

    #[test]
    fn test_watched_last_viewer_stops_capture() {
        let t0 = Instant::now();
        let (mut p, device) = watched(2, t0);
        assert!(capture(&mut p, &device, t0).is_some());
        p.set_audience(audience(1), t0);
        assert!(device.borrow().streaming);
        assert!(p.set_audience(audience(0), t0));
        assert_eq!(p.capture(), Capture::Stopped);
        assert!(!device.borrow().streaming);
        assert!(p.latest().is_none(), "the next viewer gets a new frame");
        assert!(p.fresh_frame(t0).is_none(), "nor does a snapshot");
        assert!(p.status_json(t0).contains("\"signal\":\"idle\""));
    }

    #[test]
    fn test_watched_sequence_increases() {
        let t0 = Instant::now();
        let (mut p, device) = watched(1, t0);
        let mut stamps = Vec::new();
        for i in 0..3 {
            // After the pipeline's clock epoch, which was read after `t0`.
            let frame = capture(&mut p, &device, t0 + ms(1000 + 33 * i)).expect("published");
            assert_eq!(frame.seq, i + 1);
            assert!(Rc::ptr_eq(&frame, p.latest().unwrap()), "the newest");
            stamps.push(frame.monotonic_us);
        }
        assert_eq!(stamps[1] - stamps[0], 33_000, "stamped from capture");
        assert_eq!(stamps[2] - stamps[1], 33_000);
        assert!(p.on_ready(t0 + ms(1100)).is_none(), "nothing new");
    }

    #[test]
    fn test_watched_fps_measured() {
        let t0 = Instant::now();
        let (mut p, device) = watched(1, t0);
        for i in 0..30 {
            capture(&mut p, &device, t0 + ms(33 * i));
        }
        let status = p.status_json(t0 + ms(1000));
        assert!(status.contains("\"fps_measured\":30.0,"), "{status}");
        let status = p.status_json(t0 + ms(5000));
        assert!(status.contains("\"fps_measured\":0.0,"), "{status}");
    }

    #[test]
    fn test_watched_no_signal_shows_placeholder() {
        let t0 = Instant::now();
        let (mut p, device) = pipeline(Signal::NoSignal, t0);
        assert!(p.set_audience(Audience::default(), t0), "signal noticed");
        assert_eq!(p.poll_at(), None, "nobody watching: nothing to draw");
        p.set_audience(audience(1), t0);
        assert_eq!(p.poll_at(), Some(t0));
        let frame = p.on_timer(t0).expect("a placeholder at once");
        assert_eq!((frame.seq, frame.width, frame.height), (1, 640, 480));
        assert_eq!(&frame.jpeg[..2], &[0xff, 0xd8]);
        assert!(p.on_timer(t0 + ms(500)).is_none());
        assert_eq!(p.on_timer(t0 + ms(1000)).map(|f| f.seq), Some(2));
        assert!(p
            .status_json(t0 + ms(1000))
            .contains("\"signal\":\"no signal\""));
        device.borrow_mut().signal = Signal::Live;
        assert!(p.set_audience(audience(1), t0 + ms(1100)), "signal back");
        assert_eq!(p.poll_at(), None, "the picture is back");
    }

    #[test]
    fn test_watched_live_frame_stops_due_placeholder() {
        let t0 = Instant::now();
        let (mut p, device) = pipeline(Signal::NoSignal, t0);
        p.set_audience(audience(1), t0);
        assert!(p.on_timer(t0).is_some(), "no signal: placeholder");
        // The picture comes back in the turn the next placeholder is due.
        device.borrow_mut().signal = Signal::Live;
        let live = capture(&mut p, &device, t0 + ms(1000)).expect("published");
        assert!(
            p.on_timer(t0 + ms(1000)).is_none(),
            "no placeholder after it"
        );
        assert!(Rc::ptr_eq(&live, p.latest().unwrap()));
        assert_eq!(p.poll_at(), None);
    }

    #[test]
    fn test_snapshot_waiting_starts_capture() {
        let t0 = Instant::now();
        let (mut p, device) = pipeline(Signal::Live, t0);
        let waiting = Audience {
            viewers: 0,
            snapshots: 1,
        };
        assert!(p.fresh_frame(t0).is_none());
        p.set_audience(waiting, t0);
        assert_eq!(p.capture(), Capture::Snapshot);
        assert!(device.borrow().streaming);
        assert!(p.status_json(t0).contains("\"viewers\":0,"));
        capture(&mut p, &device, t0);
        assert!(p.fresh_frame(t0 + ms(1000)).is_some());
        assert!(p.fresh_frame(t0 + ms(1500)).is_none(), "too old");
    }

    #[test]
    fn test_status_json_keys_in_order() {
        let t0 = Instant::now();
        let (mut p, _) = watched(1, t0);
        assert_eq!(
            p.status_json(t0),
            concat!(
                r#"{"device":"/dev/video9","format":"MJPG","width":640,"height":480,"fps":25,"#,
                r#""fps_measured":0.0,"viewers":1,"signal":"live","#,
                r#""modes":[{"width":640,"height":480,"fps":25}]}"#
            )
        );
    }
}

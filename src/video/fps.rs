//! The frame rate viewers actually get, as `/api/status` shows it: frames
//! published per second over the last whole second, reading 0 once frames stop.

use std::time::{Duration, Instant};

/// Frames per second over the last whole second.
pub struct FpsMeter {
    window_start: Instant,
    frames: u32,
    last: f64,
}

impl FpsMeter {
    const WINDOW: Duration = Duration::from_secs(1);

    pub fn new(now: Instant) -> FpsMeter {
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

    /// A frame was published at `now`.
    pub fn tick(&mut self, now: Instant) {
        self.roll(now);
        self.frames += 1;
    }

    /// The rate of the last whole window before `now`.
    pub fn measured(&mut self, now: Instant) -> f64 {
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

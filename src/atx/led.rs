//! The front-panel LEDs read back. The power LED's change shows at once
//! (the UI follows it within a loop turn), and then the line is left alone
//! for `SETTLE`: an optocoupler's output can ring, and a bounce within that
//! time shows no flicker; the level it ends on shows when `SETTLE` is over.
//! The HDD LED blinks as fast as the disk works, so it is shown as
//! activity: on at the first edge, off only after `HOLD` without one, which
//! bounds the status updates it causes to a few a second however fast it
//! blinks.

use std::time::{Duration, Instant};

/// How long after a change the power LED's line is not looked at again.
pub const SETTLE: Duration = Duration::from_millis(20);
/// How long the HDD LED shows activity after its last sign of it.
pub const HOLD: Duration = Duration::from_millis(300);

/// A level whose changes show at once, at most one per `SETTLE`.
#[derive(Debug)]
pub struct Debounced {
    shown: bool,
    /// The level last read.
    level: bool,
    /// Until when changes wait (the last one shown was at `SETTLE` before).
    quiet_until: Option<Instant>,
}

impl Debounced {
    pub fn new(level: bool) -> Debounced {
        Debounced {
            shown: level,
            level,
            quiet_until: None,
        }
    }

    pub fn shown(&self) -> bool {
        self.shown
    }

    /// The line's level now (read after its edges).
    pub fn on_level(&mut self, level: bool) {
        self.level = level;
    }

    /// True when the shown level changed.
    pub fn poll(&mut self, now: Instant) -> bool {
        if self.quiet_until.is_some_and(|t| now < t) {
            return false;
        }
        self.quiet_until = None;
        if self.level == self.shown {
            return false;
        }
        self.shown = self.level;
        self.quiet_until = Some(now + SETTLE);
        true
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.quiet_until
    }
}

/// Disk activity from a fast-blinking LED.
#[derive(Debug, Default)]
pub struct Activity {
    level: bool,
    /// When the last edge or active level was seen.
    last: Option<Instant>,
    shown: bool,
}

impl Activity {
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// The line's level now and whether it moved since the last call.
    pub fn on_level(&mut self, level: bool, moved: bool, now: Instant) {
        self.level = level;
        if level || moved {
            self.last = Some(now);
        }
    }

    /// True when the shown activity changed.
    pub fn poll(&mut self, now: Instant) -> bool {
        let active = self.level || self.last.is_some_and(|t| now < t + HOLD);
        let changed = active != self.shown;
        self.shown = active;
        changed
    }

    /// When the shown activity ends if nothing more happens (`poll` runs
    /// right after each `on_level`, so only the end needs a timer).
    pub fn poll_at(&self) -> Option<Instant> {
        match self.last {
            Some(t) if self.shown && !self.level => Some(t + HOLD),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn test_debounced_change_shows_at_once() {
        let t0 = Instant::now();
        let mut led = Debounced::new(false);
        led.on_level(true);
        assert!(led.poll(t0));
        assert!(led.shown());
        assert_eq!(led.poll_at(), Some(t0 + SETTLE));
        assert!(!led.poll(t0 + SETTLE), "nothing more to show");
        assert_eq!(led.poll_at(), None);
    }

    #[test]
    fn test_debounced_bounce_shows_once_then_where_it_ended() {
        let t0 = Instant::now();
        let mut led = Debounced::new(false);
        led.on_level(true);
        assert!(led.poll(t0));
        // Ringing within SETTLE: no flicker.
        for (i, level) in [false, true, false].into_iter().enumerate() {
            led.on_level(level);
            assert!(!led.poll(t0 + ms(2 + i as u64)));
            assert!(led.shown());
        }
        // It ended low: that shows once SETTLE is over.
        assert!(led.poll(t0 + SETTLE));
        assert!(!led.shown());
    }

    #[test]
    fn test_activity_blinking_shows_once_and_holds() {
        let t0 = Instant::now();
        let mut hdd = Activity::default();
        let mut changes = 0;
        // A blink every 5 ms for a second: one change on, none while it blinks.
        for i in 0..200 {
            let now = t0 + ms(5 * i);
            hdd.on_level(i % 2 == 0, true, now);
            changes += usize::from(hdd.poll(now));
        }
        assert_eq!(changes, 1);
        assert!(hdd.shown());
        // Then quiet, the LED off: activity ends HOLD after the last edge.
        let last = t0 + ms(5 * 199);
        hdd.on_level(false, false, last + ms(1));
        assert_eq!(hdd.poll_at(), Some(last + HOLD));
        assert!(!hdd.poll(last + HOLD - ms(1)));
        assert!(hdd.poll(last + HOLD));
        assert!(!hdd.shown());
        assert_eq!(hdd.poll_at(), None);
    }

    #[test]
    fn test_activity_steady_on_is_active() {
        let t0 = Instant::now();
        let mut hdd = Activity::default();
        hdd.on_level(true, false, t0);
        assert!(hdd.poll(t0));
        assert!(!hdd.poll(t0 + ms(5000)));
        assert!(hdd.shown());
    }
}

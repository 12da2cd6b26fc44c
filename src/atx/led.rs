//! The front-panel LEDs read back. The power LED is shown once its level
//! has held for `SETTLE` (contacts and optocouplers bounce; a level that
//! flickers back within it never shows). The HDD LED blinks as fast as the
//! disk works, so it is shown as activity: on at the first edge, off only
//! after `HOLD` without one, which bounds the status updates it causes to a
//! few a second however fast it blinks.

use std::time::{Duration, Instant};

/// How long the power LED must hold a level before it shows.
pub const SETTLE: Duration = Duration::from_millis(20);
/// How long the HDD LED shows activity after its last sign of it.
pub const HOLD: Duration = Duration::from_millis(300);

/// A level shown only once it held for `SETTLE`.
#[derive(Debug)]
pub struct Debounced {
    shown: bool,
    /// A different level seen, and when it will show if it holds.
    pending: Option<(bool, Instant)>,
}

impl Debounced {
    pub fn new(level: bool) -> Debounced {
        Debounced {
            shown: level,
            pending: None,
        }
    }

    pub fn shown(&self) -> bool {
        self.shown
    }

    /// The line's level now (read after its edges).
    pub fn on_level(&mut self, level: bool, now: Instant) {
        self.pending = match self.pending {
            _ if level == self.shown => None,
            Some((pending, at)) if pending == level => Some((pending, at)),
            _ => Some((level, now + SETTLE)),
        };
    }

    /// True when the shown level changed.
    pub fn poll(&mut self, now: Instant) -> bool {
        match self.pending {
            Some((level, at)) if at <= now => {
                self.shown = level;
                self.pending = None;
                true
            }
            _ => false,
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.pending.map(|(_, at)| at)
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
    fn test_debounced_level_shows_after_settling() {
        let t0 = Instant::now();
        let mut led = Debounced::new(false);
        led.on_level(true, t0);
        assert_eq!(led.poll_at(), Some(t0 + SETTLE));
        assert!(!led.poll(t0 + SETTLE - ms(1)));
        assert!(!led.shown());
        assert!(led.poll(t0 + SETTLE));
        assert!(led.shown());
        assert_eq!(led.poll_at(), None);
    }

    #[test]
    fn test_debounced_bounce_never_shows() {
        let t0 = Instant::now();
        let mut led = Debounced::new(false);
        led.on_level(true, t0);
        led.on_level(false, t0 + ms(5));
        assert_eq!(led.poll_at(), None);
        assert!(!led.poll(t0 + ms(100)));
        assert!(!led.shown());
    }

    #[test]
    fn test_debounced_repeated_level_keeps_its_first_deadline() {
        let t0 = Instant::now();
        let mut led = Debounced::new(true);
        led.on_level(false, t0);
        led.on_level(false, t0 + ms(10));
        assert_eq!(led.poll_at(), Some(t0 + SETTLE));
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

//! Pressing a front-panel button: the line goes active, and a loop timer
//! lets it go after the press's duration. Nothing sleeps; one press runs at
//! a time, and another is refused (not queued) while it does, so a second
//! click can never turn a short press into a force-off.

use std::time::{Duration, Instant};

/// What the operator asked for (`POST /api/atx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A short press of the power button: on, or a clean shutdown.
    Power,
    /// A long press of the power button: the firmware forces the power off.
    PowerLong,
    /// A short press of the reset button.
    Reset,
}

impl Action {
    pub fn parse(text: &str) -> Option<Action> {
        match text {
            "power" => Some(Action::Power),
            "power_long" => Some(Action::PowerLong),
            "reset" => Some(Action::Reset),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Power => "power",
            Action::PowerLong => "power_long",
            Action::Reset => "reset",
        }
    }

    pub fn button(self) -> Button {
        match self {
            Action::Power | Action::PowerLong => Button::Power,
            Action::Reset => Button::Reset,
        }
    }
}

/// A front-panel button kv can press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    Power,
    Reset,
}

/// How long the presses last (`--atx-short-press`, `--atx-long-press`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Durations {
    pub short: Duration,
    pub long: Duration,
}

impl Default for Durations {
    fn default() -> Durations {
        Durations {
            short: Duration::from_millis(500),
            long: Duration::from_millis(5000),
        }
    }
}

/// A press under way: which, and when its button is let go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Press {
    pub action: Action,
    pub until: Instant,
}

/// Why a press was not started.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy {
    pub running: Action,
    pub left: Duration,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "a {} press is still running ({} ms left); wait for it to end",
            self.running.name(),
            self.left.as_millis()
        )
    }
}

/// The buttons' state machine: `Idle` or `Pressing` one button.
#[derive(Debug)]
pub struct Presser {
    durations: Durations,
    pressing: Option<Press>,
}

impl Presser {
    pub fn new(durations: Durations) -> Presser {
        Presser {
            durations,
            pressing: None,
        }
    }

    pub fn pressing(&self) -> Option<Press> {
        self.pressing
    }

    /// Whether a press runs (and so another must wait).
    pub fn busy(&self, now: Instant) -> Result<(), Busy> {
        match self.pressing {
            Some(press) => Err(Busy {
                running: press.action,
                left: press.until.saturating_duration_since(now),
            }),
            None => Ok(()),
        }
    }

    /// `action`'s button went active `at` (the caller checked `busy`): the
    /// press lasts from then, not from the start of the loop's turn, so it
    /// is never shorter than configured.
    pub fn start(&mut self, action: Action, at: Instant) -> Press {
        let length = match action {
            Action::PowerLong => self.durations.long,
            Action::Power | Action::Reset => self.durations.short,
        };
        let press = Press {
            action,
            until: at + length,
        };
        log::info!("atx: state=idle=>pressing {}", action.name());
        self.pressing = Some(press);
        press
    }

    /// The press to end now, if its time has come: the caller lets its
    /// button go and, once that worked, calls `released`.
    pub fn due(&self, now: Instant) -> Option<Press> {
        self.pressing.filter(|p| p.until <= now)
    }

    /// The button is up again: the next press may start.
    pub fn released(&mut self) {
        if let Some(press) = self.pressing.take() {
            log::info!("atx: state=pressing {}=>idle", press.action.name());
        }
    }

    /// Letting go failed: try again at `at`, the button still held.
    pub fn retry_at(&mut self, at: Instant) {
        if let Some(press) = &mut self.pressing {
            press.until = at;
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.pressing.map(|p| p.until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn presser() -> Presser {
        Presser::new(Durations {
            short: ms(300),
            long: ms(4000),
        })
    }

    #[test]
    fn test_idle_short_press_lasts_the_short_duration() {
        let t0 = Instant::now();
        let mut p = presser();
        let press = p.start(Action::Power, t0);
        assert_eq!(press.until, t0 + ms(300));
        assert_eq!(p.poll_at(), Some(t0 + ms(300)));
        assert_eq!(p.due(t0 + ms(299)), None);
        assert_eq!(p.due(t0 + ms(300)), Some(press));
        p.released();
        assert_eq!(p.pressing(), None);
        assert_eq!(p.poll_at(), None);
    }

    #[test]
    fn test_idle_long_press_and_reset() {
        let t0 = Instant::now();
        let mut p = presser();
        assert_eq!(p.start(Action::PowerLong, t0).until, t0 + ms(4000));
        p.released();
        let reset = p.start(Action::Reset, t0);
        assert_eq!(reset.until, t0 + ms(300));
        assert_eq!(reset.action.button(), Button::Reset);
    }

    #[test]
    fn test_pressing_refuses_another_press() {
        let t0 = Instant::now();
        let mut p = presser();
        assert_eq!(p.busy(t0), Ok(()));
        p.start(Action::PowerLong, t0);
        let busy = p.busy(t0 + ms(1000)).unwrap_err();
        assert_eq!(
            busy,
            Busy {
                running: Action::PowerLong,
                left: ms(3000)
            }
        );
        assert!(busy
            .to_string()
            .contains("power_long press is still running (3000 ms left)"));
        // Asking changed nothing: the long one ends when it should.
        assert_eq!(p.due(t0 + ms(3999)), None);
        assert!(p.due(t0 + ms(4000)).is_some());
    }

    #[test]
    fn test_pressing_release_failed_retries_holding_on() {
        let t0 = Instant::now();
        let mut p = presser();
        p.start(Action::Reset, t0);
        p.retry_at(t0 + ms(310));
        assert_eq!(p.due(t0 + ms(305)), None);
        assert!(p.busy(t0 + ms(305)).is_err());
        assert!(p.due(t0 + ms(310)).is_some());
    }

    #[test]
    fn test_actions_parse_by_name() {
        for a in [Action::Power, Action::PowerLong, Action::Reset] {
            assert_eq!(Action::parse(a.name()), Some(a));
        }
        assert_eq!(Action::parse("off"), None);
    }
}

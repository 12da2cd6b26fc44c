//! ATX power control: kv presses the target's power and reset buttons and
//! reads its power and HDD LEDs, through GPIO lines wired to the
//! motherboard's front-panel header (docs/HARDWARE.md). `press` is the
//! buttons' state machine, `led` turns LED levels into what the UI shows,
//! `line` finds and holds the lines (`Pins`: the GPIO character device, or
//! the demo's simulated target).
//!
//! The loop hands `Atx` the time: an LED's edge (`on_ready`), a press's end
//! and an LED settling (`poll` at `poll_at`). Whatever changed what the
//! status shows sets `changed`, so the loop pushes the status at once.

pub mod led;
pub mod line;
pub mod press;

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::json;
use led::{Activity, Debounced};
use line::{Led, LineConfig, Pins, Wiring};
use press::Presser;
pub use press::{Action, Button, Durations};

/// How soon a button that would not let go is tried again.
const RELEASE_RETRY: Duration = Duration::from_millis(10);

/// The ATX flags, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AtxConfig {
    pub power: Option<LineConfig>,
    pub reset: Option<LineConfig>,
    pub power_led: Option<LineConfig>,
    pub hdd_led: Option<LineConfig>,
    pub durations: Durations,
}

impl AtxConfig {
    /// Whether any ATX line is configured (else kv has no ATX at all).
    pub fn any(&self) -> bool {
        self.wiring().lines().next().is_some()
    }

    pub fn wiring(&self) -> Wiring<'_> {
        Wiring {
            power: self.power.as_ref(),
            reset: self.reset.as_ref(),
            power_led: self.power_led.as_ref(),
            hdd_led: self.hdd_led.as_ref(),
        }
    }
}

impl Wiring<'_> {
    fn lines(&self) -> impl Iterator<Item = &LineConfig> {
        [self.power, self.reset, self.power_led, self.hdd_led]
            .into_iter()
            .flatten()
    }
}

/// Why `POST /api/atx` did not press.
#[derive(Debug)]
pub enum Refusal {
    /// That button has no line (the flag that wires it).
    NotWired(&'static str),
    /// Another press runs.
    Busy(press::Busy),
    /// The line would not go active.
    Failed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Refusal::NotWired(flag) => {
                write!(
                    f,
                    "no such button here: start kv with {flag} LINE to wire it"
                )
            }
            Refusal::Busy(busy) => busy.fmt(f),
            Refusal::Failed(e) => f.write_str(e),
        }
    }
}

pub struct Atx {
    pins: Box<dyn Pins>,
    presser: Presser,
    power_led: Option<Debounced>,
    hdd_led: Option<Activity>,
    changed: bool,
}

impl Atx {
    /// Takes over the pins, reading the LEDs as they are now.
    pub fn new(mut pins: Box<dyn Pins>, durations: Durations, now: Instant) -> Atx {
        let level = |pins: &mut Box<dyn Pins>, led| match pins.read(led) {
            Ok(reading) => reading.map(|r| r.level),
            Err(e) => {
                log::warn!("atx: cannot read the {led:?} LED: {e}");
                pins.wired_led(led).then_some(false)
            }
        };
        let power_led = level(&mut pins, Led::Power).map(Debounced::new);
        let hdd_led = level(&mut pins, Led::Hdd).map(|on| {
            let mut activity = Activity::default();
            activity.on_level(on, false, now);
            activity.poll(now);
            activity
        });
        Atx {
            pins,
            presser: Presser::new(durations),
            power_led,
            hdd_led,
            changed: false,
        }
    }

    /// Starts a press; it ends on the loop's timer (`poll`).
    pub fn press(&mut self, action: Action, now: Instant) -> Result<(), Refusal> {
        let button = action.button();
        if !self.pins.wired_button(button) {
            return Err(Refusal::NotWired(match button {
                Button::Power => "--atx-power",
                Button::Reset => "--atx-reset",
            }));
        }
        self.presser.busy(now).map_err(Refusal::Busy)?;
        let at = self.pins.set(button, true, now).map_err(|e| {
            Refusal::Failed(format!("cannot press the {} button: {e}", action.name()))
        })?;
        self.presser.start(action, at);
        self.changed = true;
        Ok(())
    }

    /// An LED line has edges waiting.
    pub fn on_ready(&mut self, now: Instant) {
        self.read_leds(now);
        self.settle(now);
    }

    /// Ends a press whose time has come; shows LEDs that settled.
    pub fn poll(&mut self, now: Instant) {
        if let Some(press) = self.presser.due(now) {
            match self.pins.set(press.action.button(), false, now) {
                Ok(_) => {
                    self.presser.released();
                    self.changed = true;
                    // A simulated target answers a press at once.
                    self.read_leds(now);
                }
                Err(e) => {
                    // Held on, the button would force the power off: keep trying.
                    log::error!("atx: cannot let the {} button go: {e}", press.action.name());
                    self.presser.retry_at(now + RELEASE_RETRY);
                }
            }
        }
        self.settle(now);
    }

    pub fn poll_at(&self) -> Option<Instant> {
        let leds = [
            self.power_led.as_ref().and_then(Debounced::poll_at),
            self.hdd_led.as_ref().and_then(Activity::poll_at),
        ];
        leds.into_iter()
            .chain([self.presser.poll_at()])
            .flatten()
            .min()
    }

    pub fn fds(&self) -> Vec<RawFd> {
        self.pins.fds()
    }

    /// Whether what the status shows changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The `atx` object of the status.
    pub fn status_json(&self) -> String {
        let led = |shown: Option<bool>| shown.map_or_else(|| "null".into(), |on| on.to_string());
        json::Object::new()
            .raw(
                "power_led",
                &led(self.power_led.as_ref().map(Debounced::shown)),
            )
            .raw("hdd_led", &led(self.hdd_led.as_ref().map(Activity::shown)))
            .opt_str("pressing", self.presser.pressing().map(|p| p.action.name()))
            .bool("power", self.pins.wired_button(Button::Power))
            .bool("reset", self.pins.wired_button(Button::Reset))
            .finish()
    }

    fn read_leds(&mut self, now: Instant) {
        for led in [Led::Power, Led::Hdd] {
            let reading = match self.pins.read(led) {
                Ok(Some(reading)) => reading,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!("atx: cannot read the {led:?} LED: {e}");
                    continue;
                }
            };
            match led {
                Led::Power => {
                    if let Some(power) = &mut self.power_led {
                        power.on_level(reading.level);
                    }
                }
                Led::Hdd => {
                    if let Some(hdd) = &mut self.hdd_led {
                        hdd.on_level(reading.level, reading.moved, now);
                    }
                }
            }
        }
    }

    fn settle(&mut self, now: Instant) {
        if let Some(power) = &mut self.power_led {
            if power.poll(now) {
                log::info!(
                    "atx: power LED {}",
                    if power.shown() { "on" } else { "off" }
                );
                self.changed = true;
            }
        }
        if let Some(hdd) = &mut self.hdd_led {
            self.changed |= hdd.poll(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io;
    use std::rc::Rc;

    use super::line::Reading;
    use super::*;

    /// Lines in memory: what the buttons were set to, LED levels to read.
    #[derive(Default)]
    struct Bench {
        presses: Vec<(Button, bool, Instant)>,
        power_led: Option<Reading>,
        fail_release: bool,
    }

    struct FakePins(Rc<RefCell<Bench>>);

    impl Pins for FakePins {
        fn wired_button(&self, button: Button) -> bool {
            button == Button::Power
        }
        fn wired_led(&self, led: Led) -> bool {
            led == Led::Power
        }
        fn set(&mut self, button: Button, pressed: bool, now: Instant) -> io::Result<Instant> {
            let mut bench = self.0.borrow_mut();
            if !pressed && bench.fail_release {
                return Err(io::Error::from(io::ErrorKind::Other));
            }
            bench.presses.push((button, pressed, now));
            // The line took 3 ms to go active: the press lasts from then.
            Ok(now + Duration::from_millis(if pressed { 3 } else { 0 }))
        }
        fn read(&mut self, led: Led) -> io::Result<Option<Reading>> {
            Ok(if led == Led::Power {
                self.0.borrow().power_led
            } else {
                None
            })
        }
        fn fds(&self) -> Vec<RawFd> {
            Vec::new()
        }
    }

    fn atx(now: Instant) -> (Atx, Rc<RefCell<Bench>>) {
        let bench = Rc::new(RefCell::new(Bench {
            power_led: Some(Reading {
                level: false,
                moved: false,
            }),
            ..Bench::default()
        }));
        let durations = Durations {
            short: Duration::from_millis(500),
            long: Duration::from_millis(5000),
        };
        (
            Atx::new(Box::new(FakePins(bench.clone())), durations, now),
            bench,
        )
    }

    /// Runs the loop's timers from `from` to `to` as the loop would.
    fn run_until(atx: &mut Atx, to: Instant) {
        while let Some(at) = atx.poll_at().filter(|&at| at <= to) {
            atx.poll(at);
        }
    }

    #[test]
    fn test_idle_press_holds_the_line_for_its_duration() {
        let t0 = Instant::now();
        let (mut atx, bench) = atx(t0);
        atx.press(Action::PowerLong, t0).unwrap();
        assert!(atx.take_changed());
        assert!(atx.status_json().contains(r#""pressing":"power_long""#));
        run_until(&mut atx, t0 + Duration::from_secs(10));
        let presses = bench.borrow().presses.clone();
        assert_eq!(
            presses,
            [
                (Button::Power, true, t0),
                (Button::Power, false, t0 + Duration::from_millis(5003))
            ]
        );
        assert!(atx.status_json().contains(r#""pressing":null"#));
    }

    #[test]
    fn test_pressing_refuses_and_unwired_button_says_which_flag() {
        let t0 = Instant::now();
        let (mut atx, bench) = atx(t0);
        atx.press(Action::Power, t0).unwrap();
        let busy = atx.press(Action::PowerLong, t0).unwrap_err();
        assert!(matches!(busy, Refusal::Busy(_)), "{busy}");
        assert_eq!(bench.borrow().presses.len(), 1);
        let e = atx.press(Action::Reset, t0).unwrap_err().to_string();
        assert!(e.contains("--atx-reset LINE"), "{e}");
    }

    #[test]
    fn test_pressing_release_fails_then_retries() {
        let t0 = Instant::now();
        let (mut atx, bench) = atx(t0);
        atx.press(Action::Power, t0).unwrap();
        bench.borrow_mut().fail_release = true;
        atx.poll(t0 + Duration::from_millis(503));
        assert_eq!(atx.poll_at(), Some(t0 + Duration::from_millis(513)));
        bench.borrow_mut().fail_release = false;
        atx.poll(t0 + Duration::from_millis(513));
        assert_eq!(atx.poll_at(), None);
        assert_eq!(bench.borrow().presses.len(), 2);
    }

    #[test]
    fn test_power_led_edge_shows_at_once() {
        let t0 = Instant::now();
        let (mut atx, bench) = atx(t0);
        assert!(atx
            .status_json()
            .contains(r#""power_led":false,"hdd_led":null"#));
        bench.borrow_mut().power_led = Some(Reading {
            level: true,
            moved: true,
        });
        atx.on_ready(t0);
        assert!(atx.take_changed(), "shown in the turn the edge came");
        assert!(atx.status_json().contains(r#""power_led":true"#));
        assert_eq!(atx.poll_at(), Some(t0 + led::SETTLE));
    }
}

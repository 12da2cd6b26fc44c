//! The simulated target's front panel for kv's ATX control: its power LED
//! is lit while it runs; holding the power button for `FORCE_OFF` turns it
//! off (its screen goes black), and any press of it turns it on again. The
//! reset button clears the console, as a reboot would. The HDD LED stays
//! dark: nothing in the demo has a disk.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::screen::Screen;
use crate::atx::line::{Led, Pins, Reading};
use crate::atx::Button;

/// How long the power button must be held to force a PC off (ATX firmware: 4 s).
pub const FORCE_OFF: Duration = Duration::from_secs(4);

pub struct FrontPanel {
    screen: Rc<RefCell<Screen>>,
    /// When the power button went down, while it is held.
    power_down: Option<Instant>,
    /// The LED level last read, to report a change as an edge.
    last_led: bool,
}

impl FrontPanel {
    pub fn new(screen: Rc<RefCell<Screen>>) -> FrontPanel {
        let last_led = screen.borrow().powered();
        FrontPanel {
            screen,
            power_down: None,
            last_led,
        }
    }
}

impl Pins for FrontPanel {
    fn wired_button(&self, _: Button) -> bool {
        true
    }

    fn wired_led(&self, led: Led) -> bool {
        led == Led::Power
    }

    fn set(&mut self, button: Button, pressed: bool, now: Instant) -> io::Result<Instant> {
        let mut screen = self.screen.borrow_mut();
        match (button, pressed) {
            (Button::Power, true) => self.power_down = Some(now),
            (Button::Power, false) => {
                let held = self
                    .power_down
                    .take()
                    .map(|t| now.saturating_duration_since(t));
                if !screen.powered() {
                    screen.set_powered(true);
                } else if held.is_some_and(|h| h >= FORCE_OFF) {
                    screen.set_powered(false);
                }
            }
            (Button::Reset, true) => screen.reboot(),
            (Button::Reset, false) => {}
        }
        Ok(now)
    }

    fn read(&mut self, led: Led) -> io::Result<Option<Reading>> {
        if led != Led::Power {
            return Ok(None);
        }
        let level = self.screen.borrow().powered();
        let moved = std::mem::replace(&mut self.last_led, level) != level;
        Ok(Some(Reading { level, moved }))
    }

    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::Mode;

    fn panel() -> (FrontPanel, Rc<RefCell<Screen>>) {
        let screen = Rc::new(RefCell::new(Screen::new(Mode {
            width: 320,
            height: 240,
            fps: 5,
        })));
        (FrontPanel::new(screen.clone()), screen)
    }

    fn press(panel: &mut FrontPanel, button: Button, at: Instant, held: Duration) {
        panel.set(button, true, at).unwrap();
        panel.set(button, false, at + held).unwrap();
    }

    #[test]
    fn test_long_press_turns_off_and_a_short_one_on() {
        let t0 = Instant::now();
        let (mut panel, screen) = panel();
        let led = |panel: &mut FrontPanel| panel.read(Led::Power).unwrap().unwrap();
        assert_eq!(
            led(&mut panel),
            Reading {
                level: true,
                moved: false
            }
        );
        press(&mut panel, Button::Power, t0, Duration::from_millis(500));
        assert!(
            screen.borrow().powered(),
            "a short press leaves a running target on"
        );
        press(
            &mut panel,
            Button::Power,
            t0,
            FORCE_OFF - Duration::from_millis(1),
        );
        assert!(
            screen.borrow().powered(),
            "released before the firmware's 4 s"
        );
        press(&mut panel, Button::Power, t0, FORCE_OFF);
        assert!(!screen.borrow().powered());
        assert_eq!(
            led(&mut panel),
            Reading {
                level: false,
                moved: true
            }
        );
        press(&mut panel, Button::Power, t0, Duration::from_millis(500));
        assert!(screen.borrow().powered());
        assert_eq!(
            led(&mut panel),
            Reading {
                level: true,
                moved: true
            }
        );
        assert_eq!(panel.read(Led::Hdd).unwrap(), None);
    }
}

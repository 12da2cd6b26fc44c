//! The demo target's USB side: it reads keyboard and mouse reports the way a host
//! does, so whatever kv would write to `/dev/hidgN` drives the simulated screen.
//!
//! The keyboard is decoded by diffing each report against the previous one: a
//! usage that appears is a key press (a host types on press, and key-up only ends
//! the press). Lock keys toggle the LEDs, and the new LED state comes back as an
//! output report, just as a host writes it to the gadget. Auto-repeat of a held
//! key is not simulated.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::screen::{Screen, LED_CAPS, LED_NUM, LED_SCROLL};
use crate::hid::layout::{LALT, LCTRL, LGUI, RCTRL, RGUI, US};
use crate::hid::HidSink;

/// Usages (Keyboard/Keypad page 0x07) a host treats specially.
const ERROR_ROLL_OVER: u8 = 0x01;
const ENTER: u8 = 0x28;
const BACKSPACE: u8 = 0x2a;
const CAPS_LOCK: u8 = 0x39;
const SCROLL_LOCK: u8 = 0x47;
const NUM_LOCK: u8 = 0x53;
const KEYPAD_ENTER: u8 = 0x58;

/// Keypad keys that type whatever the Num Lock state ...
const KEYPAD_OPERATORS: [(u8, char); 4] = [(0x54, '/'), (0x55, '*'), (0x56, '-'), (0x57, '+')];
/// ... and those that type only with Num Lock on (1-9, 0, then the decimal point).
const KEYPAD_NUMBERS: [(u8, char); 11] = [
    (0x59, '1'),
    (0x5a, '2'),
    (0x5b, '3'),
    (0x5c, '4'),
    (0x5d, '5'),
    (0x5e, '6'),
    (0x5f, '7'),
    (0x60, '8'),
    (0x61, '9'),
    (0x62, '0'),
    (0x63, '.'),
];

/// Keys that type nothing, shown by name (`<Esc>`) so an operator, and the
/// browser test of the on-screen keyboard (issue 14), can see they arrived.
const NAMED_KEYS: [(u8, &str); 25] = [
    (0x29, "Esc"),
    (0x3a, "F1"),
    (0x3b, "F2"),
    (0x3c, "F3"),
    (0x3d, "F4"),
    (0x3e, "F5"),
    (0x3f, "F6"),
    (0x40, "F7"),
    (0x41, "F8"),
    (0x42, "F9"),
    (0x43, "F10"),
    (0x44, "F11"),
    (0x45, "F12"),
    (0x46, "PrtSc"),
    (0x48, "Pause"),
    (0x49, "Ins"),
    (0x4a, "Home"),
    (0x4b, "PgUp"),
    (0x4c, "Del"),
    (0x4d, "End"),
    (0x4e, "PgDn"),
    (0x4f, "Right"),
    (0x50, "Left"),
    (0x51, "Down"),
    (0x52, "Up"),
];

/// With one of these held a key is a shortcut, not text.
const SHORTCUT_MODIFIERS: u8 = LCTRL | RCTRL | LALT | LGUI | RGUI;

fn bad_length(sink: &str, got: usize, expected: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{sink}: got a {got}-byte report, expected {expected} (see the layouts in src/hid/mod.rs)"),
    )
}

pub struct KeyboardSink {
    screen: Rc<RefCell<Screen>>,
    /// The last report that was not ErrorRollOver: what the host believes is held.
    held: [u8; 8],
    /// LED state not yet read back through `read_output`.
    leds_to_report: Option<u8>,
}

impl KeyboardSink {
    pub fn new(screen: Rc<RefCell<Screen>>) -> KeyboardSink {
        KeyboardSink {
            screen,
            held: [0; 8],
            leds_to_report: None,
        }
    }

    fn press(&mut self, usage: u8, modifiers: u8) {
        let mut screen = self.screen.borrow_mut();
        let lock = match usage {
            CAPS_LOCK => LED_CAPS,
            NUM_LOCK => LED_NUM,
            SCROLL_LOCK => LED_SCROLL,
            _ => 0,
        };
        if lock != 0 {
            screen.toggle_leds(lock);
            self.leds_to_report = Some(screen.leds());
            return;
        }
        if modifiers & SHORTCUT_MODIFIERS != 0 {
            return;
        }
        if let Some(&(_, name)) = NAMED_KEYS.iter().find(|&&(u, _)| u == usage) {
            for c in format!("<{name}>").chars() {
                screen.type_char(c);
            }
            return;
        }
        let keypad =
            |table: &[(u8, char)]| table.iter().find(|&&(u, _)| u == usage).map(|&(_, c)| c);
        let typed = match usage {
            BACKSPACE => return screen.backspace(),
            ENTER | KEYPAD_ENTER => Some('\n'),
            _ if screen.leds() & LED_NUM != 0 => keypad(&KEYPAD_NUMBERS),
            _ => None,
        };
        let typed = typed
            .or_else(|| keypad(&KEYPAD_OPERATORS))
            .or_else(|| US.char_for(usage, modifiers));
        if let Some(mut c) = typed {
            // Caps Lock inverts the case of letters only, so Shift with it types lower case.
            if screen.leds() & LED_CAPS != 0 && c.is_ascii_alphabetic() {
                c = if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
            }
            screen.type_char(c);
        }
    }
}

impl HidSink for KeyboardSink {
    fn name(&self) -> &str {
        "demo keyboard"
    }

    fn write(&mut self, report: &[u8]) -> io::Result<()> {
        let report: [u8; 8] = report
            .try_into()
            .map_err(|_| bad_length(self.name(), report.len(), 8))?;
        let (modifiers, slots) = (report[0], &report[2..]);
        // Past six keys the keyboard cannot say which are down; a host keeps the
        // previous state until a real report comes.
        if slots.iter().all(|&u| u == ERROR_ROLL_OVER) {
            return Ok(());
        }
        self.screen.borrow_mut().set_modifiers(modifiers);
        let previous = self.held;
        self.held = report;
        for &usage in slots {
            if usage > ERROR_ROLL_OVER && !previous[2..].contains(&usage) {
                self.press(usage, modifiers);
            }
        }
        Ok(())
    }

    fn read_output(&mut self) -> io::Result<Option<u8>> {
        Ok(self.leds_to_report.take())
    }

    fn fd(&self) -> Option<RawFd> {
        None
    }
}

/// Which of the two mouse report layouts a sink reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pointing {
    /// 7 bytes: buttons, X u16 LE, Y u16 LE (0..=32767), wheel i8, pan i8.
    Absolute,
    /// 5 bytes: buttons, dX i8, dY i8, wheel i8, pan i8.
    Relative,
}

/// Either mouse. Horizontal wheel (pan) is read and ignored: the console does not
/// scroll sideways.
pub struct MouseSink {
    screen: Rc<RefCell<Screen>>,
    pointing: Pointing,
}

impl MouseSink {
    pub fn new(screen: Rc<RefCell<Screen>>, pointing: Pointing) -> MouseSink {
        MouseSink { screen, pointing }
    }
}

impl HidSink for MouseSink {
    fn name(&self) -> &str {
        match self.pointing {
            Pointing::Absolute => "demo mouse (absolute)",
            Pointing::Relative => "demo mouse (relative)",
        }
    }

    fn write(&mut self, report: &[u8]) -> io::Result<()> {
        let mut screen = self.screen.borrow_mut();
        let wheel = match (self.pointing, report) {
            (Pointing::Absolute, &[buttons, x0, x1, y0, y1, wheel, _pan]) => {
                screen.move_to(u16::from_le_bytes([x0, x1]), u16::from_le_bytes([y0, y1]));
                screen.set_buttons(buttons);
                wheel
            }
            (Pointing::Relative, &[buttons, dx, dy, wheel, _pan]) => {
                screen.move_by(dx as i8, dy as i8);
                screen.set_buttons(buttons);
                wheel
            }
            (Pointing::Absolute, _) => return Err(bad_length(self.name(), report.len(), 7)),
            (Pointing::Relative, _) => return Err(bad_length(self.name(), report.len(), 5)),
        };
        screen.wheel(wheel as i8);
        Ok(())
    }

    fn read_output(&mut self) -> io::Result<Option<u8>> {
        Ok(None)
    }

    fn fd(&self) -> Option<RawFd> {
        None
    }
}

//! The target's keyboard and mice: browser input (`Input`) becomes USB HID
//! reports written to sinks (`/dev/hidgN` or the demo target).
//!
//! Report layouts (the gadget's report descriptors must match them):
//! - keyboard, 8 bytes: modifier bits (LCtrl LShift LAlt LGui RCtrl RShift RAlt RGui
//!   = bits 0..7), reserved 0, six key slots (usages, page 0x07; all 0x01 = ErrorRollOver
//!   past six keys). Output report, 1 byte: LEDs bit0 Num, 1 Caps, 2 Scroll, 3 Compose, 4 Kana.
//! - absolute mouse, 7 bytes: buttons (bit0 left, 1 right, 2 middle, 3 back, 4 forward, ...),
//!   X u16 LE 0..32767, Y u16 LE 0..32767, wheel i8, horizontal wheel (AC Pan) i8.
//! - relative mouse, 5 bytes: buttons, dX i8, dY i8, wheel i8, horizontal wheel i8
//!   (boot protocol reads the first three); moves beyond ±127 are split into several reports.

pub mod keymap;
pub mod layout;
pub mod report;
pub mod sink;

use std::io;
use std::os::fd::RawFd;

/// One input message from a browser, already parsed from JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// `code` is the browser's `KeyboardEvent.code` (`KeyA`, `ShiftLeft`, `IntlRo`, ...).
    Key { code: String, down: bool },
    /// Absolute pointer, 0..=32767 on each axis of the target's screen.
    Abs { x: u16, y: u16, buttons: u8 },
    /// Relative move (pointer lock), any size: split into ±127 steps.
    Rel { dx: i32, dy: i32, buttons: u8 },
    /// Wheel notches; `dy` > 0 scrolls up (away from the user), `dx` > 0 right.
    Wheel { dx: i32, dy: i32 },
    /// Everything up: keys, modifiers, buttons.
    Release,
    /// Type `text` as keystrokes in the target's layout (`None`: the configured one).
    Paste {
        text: String,
        layout: Option<String>,
    },
}

/// Where reports of one HID function go.
pub trait HidSink {
    /// `/dev/hidg0`, `demo keyboard`: for log messages.
    fn name(&self) -> &str;
    /// Writes one whole report without blocking. `ErrorKind::WouldBlock` (EAGAIN)
    /// and ESHUTDOWN mean "the host is not reading": not an error worth logging.
    fn write(&mut self, report: &[u8]) -> io::Result<()>;
    /// Reads the newest output report (keyboard LEDs), if the host sent one.
    fn read_output(&mut self) -> io::Result<Option<u8>>;
    /// The descriptor to poll (readable: output report; writable: retry), if any.
    fn fd(&self) -> Option<RawFd>;
}

/// The sinks of the three HID functions; a `None` function is disabled.
#[derive(Default)]
pub struct HidSinks {
    pub keyboard: Option<Box<dyn HidSink>>,
    pub mouse_abs: Option<Box<dyn HidSink>>,
    pub mouse_rel: Option<Box<dyn HidSink>>,
}

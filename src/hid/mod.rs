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
//!
//! `Hid` is the one the rest of kv talks to; behind it `keyboard` (with
//! `paste`) and `pointer` turn input into reports on their `channel`s, and
//! `host` follows the target: the state its owner feeds in (`on_host_state`)
//! and the device nodes (`nodes`).

#[cfg(test)]
mod bench;
mod channel;
mod host;
mod keyboard;
pub mod keymap;
pub mod layout;
mod nodes;
mod paste;
mod pointer;
pub mod report;
pub mod settings;
pub mod sink;

use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::usb::HostState;
use channel::Channel;
use host::HostFollower;
use keyboard::Keyboard;
use layout::Layout;
use pointer::Pointers;
use sink::HidgFile;

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
    /// Type `text` as keystrokes in the target's layout (`None`: the configured one);
    /// with `check`, only say what it would skip, typing nothing.
    Paste {
        text: String,
        layout: Option<String>,
        check: bool,
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
    /// The device node behind the sink, if it has one (`/dev/hidg0`).
    fn node(&self) -> Option<&Path> {
        None
    }
    /// Lets go of the device: its gadget left the controller. Writes then
    /// fail as ESHUTDOWN (the host is not reading) until `reopen`.
    fn close(&mut self) {}
    /// Takes the device again after `close` (a no-op while open).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The sinks of the three HID functions; a `None` function is disabled.
#[derive(Default)]
pub struct HidSinks {
    pub keyboard: Option<Box<dyn HidSink>>,
    pub mouse_abs: Option<Box<dyn HidSink>>,
    pub mouse_rel: Option<Box<dyn HidSink>>,
}

impl HidSinks {
    /// Opens the gadget HID devices (`/dev/hidgN`) of the enabled functions,
    /// non-blocking: a write never waits for a host.
    pub fn open(
        keyboard: Option<&Path>,
        mouse_abs: Option<&Path>,
        mouse_rel: Option<&Path>,
    ) -> Result<HidSinks, String> {
        let open = |path: Option<&Path>, what: &str| -> Result<Option<Box<dyn HidSink>>, String> {
            let Some(path) = path else {
                return Ok(None);
            };
            let sink = HidgFile::open(path).map_err(|e| e.to_string())?;
            log::info!("⌨️  {what}: {}", path.display());
            Ok(Some(Box::new(sink)))
        };
        Ok(HidSinks {
            keyboard: open(keyboard, "Keyboard")?,
            mouse_abs: open(mouse_abs, "Mouse (absolute)")?,
            mouse_rel: open(mouse_rel, "Mouse (relative)")?,
        })
    }
}

/// What the API and UI show about the HID functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HidStatus {
    /// Some function is enabled, and the gadget's host has configured it
    /// (with `--gadget`) or no function has a host that stopped reading.
    pub online: bool,
    /// The gadget's UDC state (`configured`, `unbound`, `not attached`...),
    /// with `--gadget`.
    pub udc: Option<String>,
    /// The keyboard's LED output report (bit0 Num, 1 Caps, 2 Scroll).
    pub leds: u8,
    /// The layout paste uses when a message names none.
    pub layout: &'static str,
    /// Keystrokes of paste still to type.
    pub paste_queued: usize,
    /// After this long without input the mouse jiggles; `None`: never.
    pub jiggle: Option<Duration>,
    /// Time per pasted keystroke.
    pub paste_key: Duration,
}

/// The target's keyboard and mice as the event loop drives them: input in,
/// reports out to the sinks, written at once, queued (bounded) while the host
/// is briefly busy and collapsed to the newest state while it is not reading,
/// paste typed at a steady pace. The host's state is fed in by whoever reads
/// it (`on_host_state`).
pub struct Hid {
    keyboard: Option<Keyboard>,
    pointers: Pointers,
    host: HostFollower,
    layout: &'static Layout,
    /// `--jiggle`: after this long without input the mouse moves and moves
    /// back, so the target does not lock its screen or fall asleep.
    jiggle: Option<Duration>,
    /// The last input (or jiggle); the next jiggle is due `jiggle` after it.
    idle_since: Option<Instant>,
    /// Time per pasted keystroke, kept here too so the status shows it with
    /// the keyboard disabled.
    paste_key: Duration,
}

impl Hid {
    pub fn new(sinks: HidSinks, layout: &'static Layout) -> Hid {
        let keyboard = sinks.keyboard.map(|sink| Keyboard::new(Channel::new(sink)));
        let pointers = Pointers::new(
            sinks.mouse_abs.map(Channel::new),
            sinks.mouse_rel.map(Channel::new),
        );
        let channels = keyboard.iter().map(|k| &k.channel);
        let host = HostFollower::new(channels.chain(pointers.channels()));
        Hid {
            keyboard,
            pointers,
            host,
            layout,
            jiggle: None,
            idle_since: None,
            paste_key: Duration::from_millis(settings::PASTE_KEY_MS_DEFAULT),
        }
    }

    /// Jiggles the mouse after `every` without input, counted from `now`;
    /// `None` turns it off.
    pub fn set_jiggle(&mut self, every: Option<Duration>, now: Instant) {
        self.jiggle = every;
        self.idle_since = Some(now);
    }

    /// Applies a checked `POST /api/hid/settings` at `now`. A new jiggle
    /// interval counts from `now`: the operator just acted.
    pub fn change_settings(&mut self, change: settings::Change, now: Instant) {
        if let Some(jiggle) = change.jiggle {
            self.set_jiggle(jiggle, now);
            log::info!(
                "🖱️  jiggle: {}",
                jiggle.map_or("off".into(), |d| format!("after {d:?} idle"))
            );
        }
        if let Some(per_key) = change.paste_key {
            self.paste_key = per_key;
            if let Some(keyboard) = &mut self.keyboard {
                keyboard.set_paste_per_key(per_key);
            }
            log::info!("⌨️  paste: {per_key:?} per keystroke");
        }
    }

    /// What the gadget's controller says (read again, changed or not), with
    /// `--gadget`: offline while the host has not configured the gadget,
    /// devices let go of while it is on no controller, and everything
    /// released when the host leaves and again when it comes back (see
    /// `host_changed`).
    pub fn on_host_state(&mut self, state: HostState, now: Instant) {
        let channels = channels_mut(&mut self.keyboard, &mut self.pointers);
        if self.host.on_host_state(state, channels) {
            self.host_changed(now);
        }
    }

    /// Applies one browser message and writes what it changed.
    ///
    /// `Ok(None)`: done. `Ok(Some(note))`: done, with a note for the client
    /// (a paste skipped the characters `note` lists). `Err(message)`: rejected.
    /// Nothing typed or pasted is ever logged: it may be a password.
    pub fn input(&mut self, input: Input, now: Instant) -> Result<Option<String>, String> {
        self.idle_since = Some(now);
        let note = self.apply(input, now);
        // A host may answer a lock key with an LED report at once; sinks
        // without a descriptor to poll (the demo target) are only read here.
        self.read_leds();
        note
    }

    fn apply(&mut self, input: Input, now: Instant) -> Result<Option<String>, String> {
        let mut note = None;
        match input {
            Input::Key { code, down } => {
                let usage = keymap::usage(&code)
                    .ok_or_else(|| format!("unknown key code '{}'", shown(&code)))?;
                if let Some(keyboard) = &mut self.keyboard {
                    keyboard.key(usage, down);
                }
            }
            Input::Abs { x, y, buttons } => self.pointers.absolute(x, y, buttons),
            Input::Rel { dx, dy, buttons } => self.pointers.relative(dx, dy, buttons),
            Input::Wheel { dx, dy } => self.pointers.wheel(dx, dy),
            Input::Release => {
                self.release_all(now);
                return Ok(None);
            }
            Input::Paste {
                text,
                layout,
                check,
            } => note = self.paste(&text, layout.as_deref(), check)?,
        }
        self.flush(now);
        Ok(note)
    }

    fn paste(
        &mut self,
        text: &str,
        layout: Option<&str>,
        check: bool,
    ) -> Result<Option<String>, String> {
        let layout = match layout {
            Some(name) => layout::by_name(name).ok_or_else(|| unknown_layout(name))?,
            None => self.layout,
        };
        let Some(keyboard) = &mut self.keyboard else {
            return Err(
                "cannot paste: the keyboard is disabled (start kv with --hid-keyboard)".into(),
            );
        };
        if check {
            return keyboard.paste_check(text, layout);
        }
        keyboard.paste(text, layout)
    }

    /// Everything up: every key and button, on every function, sent even if
    /// the host already has it. A paste in progress stops: release is also
    /// the operator's way to stop runaway typing.
    pub fn release_all(&mut self, now: Instant) {
        if let Some(keyboard) = &mut self.keyboard {
            keyboard.release();
        }
        self.pointers.release();
        self.flush(now);
    }

    /// Writes pending reports, paces the paste queue and reads the keyboard
    /// LEDs. Call when a sink's fd is readable or writable, or at `poll_at`.
    pub fn poll(&mut self, now: Instant) {
        let channels = channels_mut(&mut self.keyboard, &mut self.pointers);
        if self.host.follow_nodes(channels) {
            self.host_changed(now);
        }
        if self.jiggle_due().is_some_and(|due| due <= now) {
            self.jiggle(now);
        }
        self.read_leds();
        self.flush(now);
    }

    fn jiggle_due(&self) -> Option<Instant> {
        Some(self.idle_since? + self.jiggle?)
    }

    /// Moves the mouse and back (see `Pointers::jiggle`). Never while the
    /// host has not configured the gadget: a jiggle would wake a target
    /// that was put to sleep.
    fn jiggle(&mut self, now: Instant) {
        self.idle_since = Some(now);
        if !self.host.there() {
            return;
        }
        self.pointers.jiggle(now);
        log::debug!(
            "🖱️  jiggled the mouse after {:?} without input",
            self.jiggle
        );
    }

    /// The host configured the gadget or stopped having it configured
    /// (unbound, unplugged, reset, asleep). Keys the operator held are stale
    /// either way: a host that left dropped them, and one that comes back
    /// (a new enumeration, or waking up) must not find a key down that kv
    /// thinks is held, or it repeats it. So everything is released when the
    /// host leaves (nothing old is waiting when it returns) and an all-up
    /// report goes to every function when it is back.
    fn host_changed(&mut self, now: Instant) {
        // States the host never took are stale too; only the release goes.
        if let Some(keyboard) = &mut self.keyboard {
            keyboard.forget_queue();
        }
        self.pointers.forget_clicks();
        self.release_all(now);
    }

    /// When `poll` has work to do without an fd event: a paste's next
    /// keystroke, a refused report's retry or a jiggle.
    pub fn poll_at(&self) -> Option<Instant> {
        let keyboard = self.keyboard.as_ref().and_then(Keyboard::poll_at);
        [keyboard, self.pointers.poll_at(), self.jiggle_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The descriptors to poll for readable (LEDs, a node gone) and writable
    /// (retry): they change when a device is closed or reopened.
    pub fn fds(&self) -> Vec<RawFd> {
        let sinks = self.channels().filter_map(|c| c.sink.fd());
        sinks.chain(self.host.fds()).collect()
    }

    /// Changes whenever a device was closed or reopened: the loop registers
    /// `fds` anew then, even when the numbers look the same.
    pub fn fd_epoch(&self) -> u64 {
        self.host.fd_epoch()
    }

    pub fn status(&self) -> HidStatus {
        let enabled = self.channels().next().is_some();
        HidStatus {
            online: enabled && self.host.online(self.channels()),
            udc: self.host.udc(),
            leds: self.keyboard.as_ref().map_or(0, Keyboard::leds),
            layout: self.layout.name,
            paste_queued: self.keyboard.as_ref().map_or(0, Keyboard::paste_queued),
            jiggle: self.jiggle,
            paste_key: self.paste_key,
        }
    }

    /// Chooses the layout paste uses when a message names none.
    pub fn set_layout(&mut self, name: &str) -> Result<(), String> {
        self.layout = layout::by_name(name).ok_or_else(|| unknown_layout(name))?;
        Ok(())
    }

    fn channels(&self) -> impl Iterator<Item = &Channel> {
        let keyboard = self.keyboard.iter().map(|k| &k.channel);
        keyboard.chain(self.pointers.channels())
    }

    fn read_leds(&mut self) {
        if let Some(keyboard) = &mut self.keyboard {
            keyboard.read_leds();
        }
    }

    fn flush(&mut self, now: Instant) {
        if let Some(keyboard) = &mut self.keyboard {
            keyboard.flush(now);
        }
        self.pointers.flush(now);
    }
}

/// Every function's channel; apart from `Hid::channels` so that the host
/// follower can borrow them while `Hid` lends it out.
fn channels_mut<'a>(
    keyboard: &'a mut Option<Keyboard>,
    pointers: &'a mut Pointers,
) -> impl Iterator<Item = &'a mut Channel> {
    let keyboard = keyboard.iter_mut().map(|k| &mut k.channel);
    keyboard.chain(pointers.channels_mut())
}

fn unknown_layout(name: &str) -> String {
    format!(
        "unknown keyboard layout '{}'; known layouts: {}",
        shown(name),
        layout::NAMES.join(", ")
    )
}

/// A client-supplied name cut short enough for an error message.
fn shown(name: &str) -> String {
    name.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::bench::{keys, Bench};
    use super::*;

    #[test]
    fn test_reading_release_all_zero_on_every_function() {
        let mut bench = Bench::new();
        bench.key("ShiftLeft", true, 0);
        let abs = Input::Abs {
            x: 300,
            y: 2,
            buttons: 1,
        };
        bench.hid.input(abs, bench.t0).expect("abs");
        let rel = Input::Rel {
            dx: 0,
            dy: 0,
            buttons: 2,
        };
        bench.hid.input(rel, bench.t0).expect("rel");
        let (_, _, _) = (bench.keyboard.take(), bench.abs.take(), bench.rel.take());
        bench
            .hid
            .input(Input::Release, bench.at(1))
            .expect("release");
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        assert_eq!(
            bench.abs.take(),
            [vec![0, 0x2C, 0x01, 2, 0, 0, 0]],
            "pointer stays"
        );
        assert_eq!(bench.rel.take(), [vec![0; 5]]);
        // Even when nothing is down, release sends (kv exiting, browser blurred).
        bench.hid.release_all(bench.at(2));
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        assert_eq!(bench.rel.take(), [vec![0; 5]]);
    }

    #[test]
    fn test_disabled_functions_ignored() {
        let mut hid = Hid::new(HidSinks::default(), &layout::US);
        let now = Instant::now();
        assert!(!hid.status().online, "nothing enabled");
        let rel = Input::Rel {
            dx: 5,
            dy: 5,
            buttons: 0,
        };
        assert_eq!(hid.input(rel, now), Ok(None));
        let paste = Input::Paste {
            text: "a".into(),
            layout: None,
            check: false,
        };
        assert!(hid
            .input(paste, now)
            .expect_err("no keyboard")
            .contains("--hid-keyboard"));
        hid.release_all(now);
        assert_eq!(hid.poll_at(), None);
        assert!(hid.fds().is_empty());
    }

    #[test]
    fn test_reading_status_defaults() {
        let bench = Bench::new();
        let expected = HidStatus {
            online: true,
            udc: None,
            leds: 0,
            layout: "us",
            paste_queued: 0,
            jiggle: None,
            paste_key: Duration::from_millis(16),
        };
        assert_eq!(bench.hid.status(), expected);
        assert!(bench.hid.fds().is_empty(), "fakes have no fd");
    }

    #[test]
    fn test_sinks_open_named_nodes() {
        let dir = crate::testutil::TempDir::new("hid-sinks-open");
        let node = dir.path().join("hidg0");
        std::fs::write(&node, b"").unwrap();
        let sinks = HidSinks::open(Some(&node), None, None).expect("opened");
        let keyboard = sinks.keyboard.expect("keyboard");
        assert_eq!(keyboard.node(), Some(node.as_path()));
        assert!(sinks.mouse_abs.is_none() && sinks.mouse_rel.is_none());
        let missing = dir.path().join("hidg9");
        let error = HidSinks::open(None, Some(&missing), None)
            .err()
            .expect("no such node");
        assert!(
            error.contains("hidg9") && error.contains("--hid-mouse"),
            "{error}"
        );
    }
}

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

mod channel;
pub mod keymap;
pub mod layout;
mod nodes;
pub mod report;
pub mod sink;

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::gadget::udc::UdcWatch;
use channel::{Channel, Link};
use layout::Layout;
use nodes::NodeWatch;
use report::{AbsoluteMouse, KeyboardReport, RelativeMouse};

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

/// Paste writes one report per interval: press, release, press... Slow enough
/// for a BIOS or a busy target to keep up, ~60 characters a second.
const PASTE_INTERVAL: Duration = Duration::from_millis(8);
/// Most keystrokes a paste may have waiting (queued and new together).
pub const PASTE_LIMIT: usize = 65536;
/// Most distinct untypable characters a paste names back.
const SKIPPED_SHOWN: usize = 32;
/// How far the absolute mouse jiggles: about a pixel on a 4K screen, so the
/// target sees the pointer move (a smaller step may round to no movement).
const JIGGLE_ABS: u16 = 16;
/// Keyboard LED bit of Caps Lock in the output report.
const LED_CAPS_LOCK: u8 = 0x02;

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
}

/// Which mouse the operator used last: the wheel goes to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pointer {
    Absolute,
    Relative,
}

/// One keystroke of a paste.
#[derive(Clone, Copy, Debug)]
struct PasteStroke {
    stroke: layout::Stroke,
    /// A letter `a..=z`: Caps Lock on the target inverts its Shift.
    letter: bool,
}

/// The target's keyboard and mice as the event loop drives them: input in,
/// reports out to the sinks, written at once, queued (bounded) while the host
/// is briefly busy and collapsed to the newest state while it is not reading,
/// paste typed at a steady pace.
/// Keyboard states kept while the host is slow to take them (see `keys_queue`):
/// far more than a person types between two host polls, 8 KiB at most.
const KEY_BACKLOG: usize = 1024;

pub struct Hid {
    keyboard: Option<Channel>,
    mouse_abs: Option<Channel>,
    mouse_rel: Option<Channel>,
    /// Keys the operator holds.
    keys: KeyboardReport,
    /// The keyboard report the host last took.
    keys_sent: [u8; 8],
    /// Keyboard states the host has not taken yet, oldest first: a press and
    /// its release that arrive within one host poll both reach it. Past
    /// `KEY_BACKLOG` states the host is not reading, and only the newest is kept.
    keys_queue: VecDeque<[u8; 8]>,
    abs: AbsoluteMouse,
    rel: RelativeMouse,
    pointer: Pointer,
    /// Keystrokes still to type; while any remain they own the keyboard and
    /// the operator's keys wait.
    paste: VecDeque<PasteStroke>,
    /// The head of `paste` is down; its release is next.
    paste_pressed: bool,
    /// Not before this may the next paste report go.
    paste_due: Option<Instant>,
    leds: u8,
    layout: &'static Layout,
    /// A failed LED read was logged; quiet until one succeeds.
    led_error_logged: bool,
    /// Whether a host has configured kv's gadget, with `--gadget`.
    udc: Option<UdcWatch>,
    /// The sinks' device nodes: one that vanishes is closed at once.
    nodes: NodeWatch,
    /// Counts devices closed and reopened: a reopened device may get the
    /// descriptor number of the closed one, and must be polled anew.
    fd_epoch: u64,
    /// `--jiggle`: after this long without input the mouse moves and moves
    /// back, so the target does not lock its screen or fall asleep.
    jiggle: Option<Duration>,
    /// The last input (or jiggle); the next jiggle is due `jiggle` after it.
    idle_since: Option<Instant>,
}

impl Hid {
    pub fn new(sinks: HidSinks, layout: &'static Layout) -> Hid {
        let all = [&sinks.keyboard, &sinks.mouse_abs, &sinks.mouse_rel];
        let nodes = NodeWatch::new(all.into_iter().flatten().filter_map(|sink| sink.node()));
        Hid {
            keyboard: sinks.keyboard.map(Channel::new),
            mouse_abs: sinks.mouse_abs.map(Channel::new),
            mouse_rel: sinks.mouse_rel.map(Channel::new),
            keys: KeyboardReport::default(),
            keys_sent: [0; 8],
            keys_queue: VecDeque::new(),
            abs: AbsoluteMouse::default(),
            rel: RelativeMouse::default(),
            pointer: Pointer::Absolute,
            paste: VecDeque::new(),
            paste_pressed: false,
            paste_due: None,
            leds: 0,
            layout,
            led_error_logged: false,
            udc: None,
            nodes,
            fd_epoch: 0,
            jiggle: None,
            idle_since: None,
        }
    }

    /// Jiggles the mouse after `every` without input, counted from `now`;
    /// `None` turns it off.
    pub fn set_jiggle(&mut self, every: Option<Duration>, now: Instant) {
        self.jiggle = every;
        self.idle_since = Some(now);
    }

    /// Follows the gadget's host from now on: offline while it has not
    /// configured the gadget, and everything released when it leaves and
    /// again when it comes back (see `host_changed`).
    pub fn watch_udc(&mut self, watch: UdcWatch) {
        self.udc = Some(watch);
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
                if down {
                    self.keys.press(usage);
                } else {
                    self.keys.release(usage);
                }
                self.queue_keys(false);
            }
            Input::Abs { x, y, buttons } => {
                self.abs.set(x, y, buttons);
                if not_reading(&self.mouse_abs) {
                    self.abs.forget_clicks();
                }
                self.pointer = Pointer::Absolute;
            }
            Input::Rel { dx, dy, buttons } => {
                self.rel.move_by(dx, dy, buttons);
                if not_reading(&self.mouse_rel) {
                    self.rel.forget_clicks();
                }
                self.pointer = Pointer::Relative;
            }
            Input::Wheel { dx, dy } => {
                let relative = self.pointer == Pointer::Relative || self.mouse_abs.is_none();
                if relative && self.mouse_rel.is_some() {
                    self.rel.scroll(dy, dx);
                } else {
                    self.abs.scroll(dy, dx);
                }
            }
            Input::Release => {
                self.release_all(now);
                return Ok(None);
            }
            Input::Paste { text, layout } => note = self.queue_paste(&text, layout.as_deref())?,
        }
        self.flush(now);
        Ok(note)
    }

    fn queue_paste(&mut self, text: &str, layout: Option<&str>) -> Result<Option<String>, String> {
        let layout = match layout {
            Some(name) => layout::by_name(name).ok_or_else(|| unknown_layout(name))?,
            None => self.layout,
        };
        if self.keyboard.is_none() {
            return Err(
                "cannot paste: the keyboard is disabled (start kv with --hid-keyboard)".into(),
            );
        }
        let room = PASTE_LIMIT.saturating_sub(self.paste.len());
        let too_long = || {
            format!(
                "paste too long: at most {PASTE_LIMIT} keystrokes may wait ({} still being \
                 typed); paste less at a time",
                self.paste.len()
            )
        };
        let mut strokes = Vec::new();
        let mut skipped: Vec<char> = Vec::new();
        let mut more_skipped = false;
        for c in newlines_as_enter(text) {
            match layout.strokes(c) {
                Some(typed) => {
                    if strokes.len() + typed.len() > room {
                        return Err(too_long());
                    }
                    strokes.extend(typed.into_iter().map(|stroke| PasteStroke {
                        stroke,
                        letter: layout.is_letter(stroke),
                    }));
                }
                None if skipped.contains(&c) => {}
                None if skipped.len() < SKIPPED_SHOWN => skipped.push(c),
                None => more_skipped = true,
            }
        }
        self.paste.extend(strokes);
        if skipped.is_empty() {
            return Ok(None);
        }
        let mut note: String = skipped.into_iter().collect();
        if more_skipped {
            note.push('…');
        }
        Ok(Some(note))
    }

    /// Everything up: every key and button, on every function, sent even if
    /// the host already has it. A paste in progress stops: release is also
    /// the operator's way to stop runaway typing.
    pub fn release_all(&mut self, now: Instant) {
        self.keys.clear();
        // Queued after what the host has not taken yet (a closing socket's
        // last keystrokes still arrive), and sent even if the host has it.
        self.queue_keys(true);
        self.paste.clear();
        self.paste_pressed = false;
        self.abs.release();
        self.rel.release();
        self.flush(now);
    }

    /// Writes pending reports, paces the paste queue and reads the keyboard
    /// LEDs. Call when a sink's fd is readable or writable, or at `poll_at`.
    pub fn poll(&mut self, now: Instant) {
        if self.follow_devices(now) {
            self.host_changed(now);
        }
        if self.jiggle_due().is_some_and(|due| due <= now) {
            self.jiggle(now);
        }
        self.read_leds();
        self.flush(now);
    }

    /// Closes the devices whose gadget left its controller (a node vanished,
    /// or the UDC says unbound or gone) and reopens them once the host has
    /// configured the gadget again (or, without `--gadget`, once their node
    /// is back). `true` when the host changed: it came, left, or is a new one.
    fn follow_devices(&mut self, now: Instant) -> bool {
        // A device closed or reopened: its host changed, and its fd too.
        let mut devices = false;
        let mut host = false;
        let vanished = self
            .nodes
            .vanished(self.channels().filter_map(|c| c.sink.node()));
        for channel in self.channels_mut() {
            if channel
                .sink
                .node()
                .is_some_and(|n| vanished.iter().any(|v| v == n))
            {
                devices |= channel.close("its device node went away: gadget unbound");
            }
        }
        if let Some(watch) = &mut self.udc {
            let was_configured = watch.configured();
            if watch.poll(now) {
                host = watch.configured() != was_configured;
                if !watch.bound() {
                    let why = format!("USB gadget {}", watch.state());
                    for channel in self.channels_mut() {
                        devices |= channel.close(&why);
                    }
                }
            }
        }
        let host_there = self.udc.as_ref().is_none_or(UdcWatch::configured);
        for channel in self.channels_mut() {
            let back = channel.sink.node().is_none_or(Path::exists);
            if !channel.is_open() && host_there && back && channel.reopen() {
                devices = true;
            }
        }
        if devices {
            self.fd_epoch += 1;
        }
        devices || host
    }

    fn jiggle_due(&self) -> Option<Instant> {
        Some(self.idle_since? + self.jiggle?)
    }

    /// Moves the mouse and back, as the first report after the other: the
    /// relative mouse by one count, or else the absolute one by a pixel or
    /// so (only once it has a position: otherwise the pointer would jump).
    /// Never while the host has not configured the gadget: a jiggle would
    /// wake a target that was put to sleep.
    fn jiggle(&mut self, now: Instant) {
        self.idle_since = Some(now);
        if !self.udc.as_ref().is_none_or(UdcWatch::configured) {
            return;
        }
        if self.mouse_rel.is_some() {
            let buttons = self.rel.buttons();
            self.rel.move_by(1, 0, buttons);
            self.flush(now);
            // Written: this is the way back. Still waiting: it cancels it.
            self.rel.move_by(-1, 0, buttons);
        } else if let Some((x, y, buttons)) = self.abs.position() {
            let aside = x.checked_add(JIGGLE_ABS).filter(|&x| x <= report::ABS_MAX);
            self.abs
                .set(aside.unwrap_or(x.saturating_sub(JIGGLE_ABS)), y, buttons);
            self.flush(now);
            self.abs.set(x, y, buttons);
        }
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
        self.keys_queue.clear();
        self.abs.forget_clicks();
        self.rel.forget_clicks();
        self.release_all(now);
    }

    /// When `poll` has work to do without an fd event: a paste's next
    /// keystroke or a refused report's retry.
    pub fn poll_at(&self) -> Option<Instant> {
        let keyboard = self
            .keyboard
            .as_ref()
            .filter(|_| self.keyboard_pending())
            .and_then(|channel| channel.retry_at.or(self.paste_due));
        let mouse_abs = self
            .mouse_abs
            .as_ref()
            .filter(|_| self.abs.next_report().is_some());
        let mouse_rel = self
            .mouse_rel
            .as_ref()
            .filter(|_| self.rel.next_report().is_some());
        let retries = [mouse_abs, mouse_rel]
            .into_iter()
            .flatten()
            .filter_map(|c| c.retry_at);
        let udc = self.udc.as_ref().map(UdcWatch::poll_at);
        [keyboard, udc, self.jiggle_due()]
            .into_iter()
            .flatten()
            .chain(retries)
            .min()
    }

    /// The descriptors to poll for readable (LEDs, a node gone) and writable
    /// (retry): they change when a device is closed or reopened.
    pub fn fds(&self) -> Vec<RawFd> {
        let sinks = self.channels().filter_map(|c| c.sink.fd());
        sinks.chain(self.nodes.fds()).collect()
    }

    /// Changes whenever a device was closed or reopened: the loop registers
    /// `fds` anew then, even when the numbers look the same.
    pub fn fd_epoch(&self) -> u64 {
        self.fd_epoch
    }

    pub fn status(&self) -> HidStatus {
        let mut channels = self.channels().peekable();
        let enabled = channels.peek().is_some();
        // The UDC says for sure; without one, a host that stopped taking
        // reports is the only sign. (A configured host may leave one function
        // unpolled, a mouse nothing on the target listens to: still online.)
        let online = match &self.udc {
            Some(watch) => watch.configured(),
            None => channels.all(|c| c.link != Link::NotReading),
        };
        HidStatus {
            online: enabled && online,
            udc: self.udc.as_ref().map(|watch| watch.state().to_string()),
            leds: self.leds,
            layout: self.layout.name,
            paste_queued: self.paste.len(),
        }
    }

    /// Chooses the layout paste uses when a message names none.
    pub fn set_layout(&mut self, name: &str) -> Result<(), String> {
        self.layout = layout::by_name(name).ok_or_else(|| unknown_layout(name))?;
        Ok(())
    }

    fn channels(&self) -> impl Iterator<Item = &Channel> {
        [&self.keyboard, &self.mouse_abs, &self.mouse_rel]
            .into_iter()
            .flatten()
    }

    fn channels_mut(&mut self) -> impl Iterator<Item = &mut Channel> {
        [&mut self.keyboard, &mut self.mouse_abs, &mut self.mouse_rel]
            .into_iter()
            .flatten()
    }

    fn read_leds(&mut self) {
        let Some(channel) = &mut self.keyboard else {
            return;
        };
        match channel.sink.read_output() {
            Ok(leds) => {
                self.leds = leds.unwrap_or(self.leds);
                self.led_error_logged = false;
            }
            Err(error) if !self.led_error_logged => {
                log::warn!("{error}: keyboard LEDs not read");
                self.led_error_logged = true;
            }
            Err(_) => {}
        }
    }

    fn flush(&mut self, now: Instant) {
        self.flush_keyboard(now);
        if let Some(channel) = &mut self.mouse_abs {
            drain(
                channel,
                &mut self.abs,
                AbsoluteMouse::next_report,
                AbsoluteMouse::sent,
                now,
            );
        }
        if let Some(channel) = &mut self.mouse_rel {
            drain(
                channel,
                &mut self.rel,
                RelativeMouse::next_report,
                RelativeMouse::sent,
                now,
            );
        }
    }

    fn keyboard_pending(&self) -> bool {
        !self.paste.is_empty() || !self.keys_queue.is_empty()
    }

    /// Queues the current key state; `force`: even if the host has it already.
    fn queue_keys(&mut self, force: bool) {
        let bytes = self.keys.to_bytes();
        if !force && self.keys_queue.back().unwrap_or(&self.keys_sent) == &bytes {
            return;
        }
        // A host that is not reading (asleep, unplugged) gets the newest
        // state when it is back, never a replay of stale keystrokes.
        if not_reading(&self.keyboard) || self.keys_queue.len() >= KEY_BACKLOG {
            self.keys_queue.clear();
        }
        self.keys_queue.push_back(bytes);
    }

    fn flush_keyboard(&mut self, now: Instant) {
        let Some(channel) = &mut self.keyboard else {
            return;
        };
        if let Some(&PasteStroke { stroke, letter }) = self.paste.front() {
            if self.paste_due.is_some_and(|due| now < due) {
                return;
            }
            let report = if self.paste_pressed {
                KeyboardReport::default()
            } else {
                let caps_lock = letter && self.leds & LED_CAPS_LOCK != 0;
                let modifiers = stroke.modifiers ^ if caps_lock { layout::LSHIFT } else { 0 };
                KeyboardReport::stroke(Some(stroke.usage), modifiers)
            };
            let bytes = report.to_bytes();
            if channel.write(&bytes, now) {
                self.keys_sent = bytes;
                self.paste_due = Some(now + PASTE_INTERVAL);
                if self.paste_pressed {
                    self.paste.pop_front();
                }
                self.paste_pressed = !self.paste_pressed;
            }
            return;
        }
        while let Some(&bytes) = self.keys_queue.front() {
            if !channel.write(&bytes, now) {
                return;
            }
            self.keys_sent = bytes;
            self.keys_queue.pop_front();
        }
    }
}

/// A host that is not reading (asleep, unplugged) gets the newest state
/// when it is back, never a replay of stale keystrokes or clicks.
fn not_reading(channel: &Option<Channel>) -> bool {
    channel.as_ref().is_some_and(|c| c.link == Link::NotReading)
}

/// Writes a mouse's reports until it has nothing more or the host refuses one
/// (the mouse keeps it, and everything after, for the retry).
fn drain<M, const N: usize>(
    channel: &mut Channel,
    mouse: &mut M,
    next_report: fn(&M) -> Option<[u8; N]>,
    sent: fn(&mut M),
    now: Instant,
) {
    while let Some(report) = next_report(mouse) {
        if !channel.write(&report, now) {
            return;
        }
        sent(mouse);
    }
}

/// `text` with CRLF and lone CR as one Enter each: text copied on Windows must
/// not press Enter twice per line.
fn newlines_as_enter(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        if c == '\r' {
            chars.next_if_eq(&'\n');
            return Some('\n');
        }
        Some(c)
    })
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
    use super::sink::{Fake, FakeSink};
    use super::*;

    /// A `Hid` on three fake sinks, and a virtual clock.
    struct Bench {
        hid: Hid,
        keyboard: FakeSink,
        abs: FakeSink,
        rel: FakeSink,
        t0: Instant,
    }

    impl Bench {
        fn new() -> Bench {
            let (keyboard, abs, rel) = Default::default();
            Bench::with(keyboard, abs, rel)
        }

        fn with(keyboard: FakeSink, abs: FakeSink, rel: FakeSink) -> Bench {
            let sinks = HidSinks {
                keyboard: keyboard.boxed(),
                mouse_abs: abs.boxed(),
                mouse_rel: rel.boxed(),
            };
            Bench {
                hid: Hid::new(sinks, &layout::US),
                keyboard,
                abs,
                rel,
                t0: Instant::now(),
            }
        }

        fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        fn key(&mut self, code: &str, down: bool, ms: u64) {
            let input = Input::Key {
                code: code.into(),
                down,
            };
            assert_eq!(self.hid.input(input, self.at(ms)), Ok(None));
        }

        fn paste(&mut self, text: &str, layout: Option<&str>) -> Result<Option<String>, String> {
            let input = Input::Paste {
                text: text.into(),
                layout: layout.map(String::from),
            };
            self.hid.input(input, self.t0)
        }

        /// Polls at every `poll_at` until the hid has nothing left to do.
        fn run(&mut self) {
            let mut polls = 0;
            while let Some(at) = self.hid.poll_at() {
                self.hid.poll(at);
                polls += 1;
                assert!(polls < 100_000, "never idle");
            }
        }
    }

    fn keys(modifiers: u8, slots: &[u8]) -> Vec<u8> {
        let mut report = vec![modifiers, 0, 0, 0, 0, 0, 0, 0];
        report[2..2 + slots.len()].copy_from_slice(slots);
        report
    }

    /// The keystrokes in a sequence of keyboard reports, checking each press
    /// is followed by an all-up report.
    fn typed(reports: &[Vec<u8>]) -> Vec<(u8, u8)> {
        assert_eq!(reports.len() % 2, 0, "{reports:?}");
        reports
            .chunks(2)
            .map(|pair| {
                assert_eq!(pair[1], [0; 8], "{reports:?}");
                (pair[0][2], pair[0][0])
            })
            .collect()
    }

    #[test]
    fn test_reading_key_down_written_at_once() {
        let mut bench = Bench::new();
        bench.key("KeyA", true, 0);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        assert_eq!(bench.hid.poll_at(), None, "held: no release follows");
        bench.key("ShiftLeft", true, 100);
        bench.key("KeyA", false, 200);
        bench.key("ShiftLeft", false, 300);
        let expected = [keys(0x02, &[0x04]), keys(0x02, &[]), keys(0, &[])];
        assert_eq!(bench.keyboard.take(), expected);
    }

    #[test]
    fn test_reading_key_repeat_down_no_duplicate() {
        let mut bench = Bench::new();
        bench.key("KeyA", true, 0);
        bench.key("KeyA", true, 30);
        assert_eq!(bench.keyboard.take().len(), 1);
    }

    #[test]
    fn test_reading_unknown_code_rejected() {
        let mut bench = Bench::new();
        let long = "X".repeat(1000);
        for code in ["NoSuchKey", long.as_str()] {
            let input = Input::Key {
                code: code.into(),
                down: true,
            };
            let error = bench.hid.input(input, bench.t0).expect_err("rejected");
            assert!(error.starts_with("unknown key code"), "{error}");
            assert!(error.len() < 80, "{error}");
        }
        assert!(bench.keyboard.take().is_empty());
    }

    #[test]
    fn test_reading_seven_keys_roll_over() {
        let mut bench = Bench::new();
        for (i, code) in ["KeyA", "KeyB", "KeyC", "KeyD", "KeyE", "KeyF", "KeyG"]
            .iter()
            .enumerate()
        {
            bench.key(code, true, i as u64);
        }
        bench.key("KeyC", false, 10);
        let written = bench.keyboard.take();
        assert_eq!(written[6], keys(0, &[1, 1, 1, 1, 1, 1]));
        assert_eq!(written[7], keys(0, &[4, 5, 7, 8, 9, 10]));
    }

    #[test]
    fn test_busy_key_taps_all_arrive() {
        let mut bench = Bench::new();
        bench.key("KeyA", true, 0);
        bench.keyboard.state().refuse_all = Some(Fake::WouldBlock);
        bench.key("KeyA", false, 1);
        bench.key("KeyB", true, 2);
        bench.key("KeyB", false, 3);
        assert!(bench.hid.status().online, "busy briefly is not offline");
        // 50 ms after the latest refused attempt.
        assert_eq!(bench.hid.poll_at(), Some(bench.at(53)));
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(53));
        // A host busy for a moment still gets every tap, in order.
        let b = keys(0, &[0x05]);
        assert_eq!(
            bench.keyboard.take(),
            [keys(0, &[0x04]), keys(0, &[]), b, keys(0, &[])]
        );
        assert_eq!(bench.hid.poll_at(), None);
    }

    #[test]
    fn test_busy_release_all_keeps_pending_taps() {
        let mut bench = Bench::new();
        bench.key("KeyA", true, 0);
        bench.keyboard.state().refuse_all = Some(Fake::WouldBlock);
        bench.key("KeyA", false, 1);
        bench.key("KeyB", true, 2);
        bench.hid.release_all(bench.at(3));
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(10));
        let b = keys(0, &[0x05]);
        assert_eq!(
            bench.keyboard.take(),
            [keys(0, &[0x04]), keys(0, &[]), b, keys(0, &[])]
        );
    }

    #[test]
    fn test_busy_backlog_overflow_keeps_newest() {
        let mut bench = Bench::new();
        bench.keyboard.state().refuse_all = Some(Fake::WouldBlock);
        for i in 0..(KEY_BACKLOG as u64 + 8) {
            bench.key("KeyA", i % 2 == 0, i);
        }
        bench.key("KeyZ", true, 100);
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(150));
        let written = bench.keyboard.take();
        assert!(written.len() <= KEY_BACKLOG, "{} reports", written.len());
        assert_eq!(written.last(), Some(&keys(0, &[0x1d])));
    }

    #[test]
    fn test_busy_retry_refused_goes_offline() {
        let mut bench = Bench::new();
        bench.keyboard.state().refuse_all = Some(Fake::WouldBlock);
        bench.key("KeyA", true, 0);
        bench.hid.poll(bench.at(20));
        assert!(bench.hid.status().online);
        let limit = channel::BUSY_LIMIT.as_millis() as u64;
        bench.hid.poll(bench.at(limit - 50));
        assert!(bench.hid.status().online, "busy for less than BUSY_LIMIT");
        bench.hid.poll(bench.at(limit));
        assert!(!bench.hid.status().online);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(limit + 50)));
    }

    #[test]
    fn test_busy_stall_keeps_every_keystroke() {
        // A host that stalls for 300 ms (a busy or emulated machine) still
        // gets each press and release typed meanwhile, in order.
        let mut bench = Bench::new();
        bench.keyboard.state().refuse_all = Some(Fake::WouldBlock);
        bench.key("KeyA", true, 0);
        bench.key("KeyA", false, 100);
        bench.key("KeyB", true, 200);
        bench.key("KeyB", false, 250);
        bench.hid.poll(bench.at(280));
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(300));
        assert_eq!(
            bench.keyboard.take(),
            vec![
                keys(0, &[0x04]),
                keys(0, &[]),
                keys(0, &[0x05]),
                keys(0, &[])
            ]
        );
        assert!(bench.hid.status().online);
    }

    #[test]
    fn test_reading_shutdown_goes_offline_at_once() {
        let mut bench = Bench::new();
        bench.keyboard.state().refuse_all = Some(Fake::Shutdown);
        bench.key("KeyA", true, 0);
        assert!(!bench.hid.status().online);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(50)));
        bench.hid.poll(bench.at(50));
        assert_eq!(bench.hid.poll_at(), Some(bench.at(100)), "keeps retrying");
    }

    #[test]
    fn test_not_reading_host_back_sends_newest_and_online() {
        let mut bench = Bench::new();
        bench.keyboard.state().refuse_all = Some(Fake::BrokenPipe);
        bench.key("ControlLeft", true, 0);
        bench.key("KeyC", true, 1);
        bench.key("KeyC", false, 2);
        assert!(!bench.hid.status().online);
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(60));
        assert_eq!(bench.keyboard.take(), [keys(0x01, &[])]);
        assert!(bench.hid.status().online);
        assert_eq!(bench.hid.poll_at(), None);
    }

    #[test]
    fn test_reading_short_write_retried_whole() {
        let mut bench = Bench::new();
        bench.keyboard.state().next.push_back(Fake::Short(3));
        bench.key("KeyA", true, 0);
        assert!(!bench.hid.status().online);
        bench.run();
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        assert!(bench.hid.status().online);
    }

    #[test]
    fn test_reading_abs_move_written() {
        let mut bench = Bench::new();
        let input = Input::Abs {
            x: 16384,
            y: 40000,
            buttons: 1,
        };
        assert_eq!(bench.hid.input(input, bench.t0), Ok(None));
        assert_eq!(bench.abs.take(), [vec![1, 0x00, 0x40, 0xFF, 0x7F, 0, 0]]);
    }

    #[test]
    fn test_reading_rel_big_move_split() {
        let mut bench = Bench::new();
        let input = Input::Rel {
            dx: 1000,
            dy: 0,
            buttons: 0,
        };
        assert_eq!(bench.hid.input(input, bench.t0), Ok(None));
        let dx: Vec<i8> = bench.rel.take().iter().map(|r| r[1] as i8).collect();
        assert_eq!(dx, [127, 127, 127, 127, 127, 127, 127, 111]);
    }

    #[test]
    fn test_busy_rel_moves_accumulate() {
        let mut bench = Bench::new();
        bench.rel.state().refuse_all = Some(Fake::WouldBlock);
        for dx in [100, 100, 60] {
            let input = Input::Rel {
                dx,
                dy: -1,
                buttons: 0,
            };
            assert_eq!(bench.hid.input(input, bench.t0), Ok(None));
        }
        assert!(bench.rel.take().is_empty());
        bench.rel.state().refuse_all = None;
        bench.run();
        let written = bench.rel.take();
        assert_eq!(
            written,
            [
                vec![0, 127, 0xFD, 0, 0],
                vec![0, 127, 0, 0, 0],
                vec![0, 6, 0, 0, 0]
            ]
        );
    }

    #[test]
    fn test_reading_wheel_follows_last_pointer() {
        let mut bench = Bench::new();
        let wheel = Input::Wheel { dx: 1, dy: -2 };
        let abs = Input::Abs {
            x: 5,
            y: 6,
            buttons: 0,
        };
        let rel = Input::Rel {
            dx: 0,
            dy: 0,
            buttons: 0,
        };
        bench.hid.input(abs, bench.t0).expect("abs");
        bench.hid.input(wheel.clone(), bench.t0).expect("wheel");
        assert_eq!(
            bench.abs.take(),
            [vec![0, 5, 0, 6, 0, 0, 0], vec![0, 5, 0, 6, 0, 0xFE, 1]]
        );
        bench.hid.input(rel, bench.t0).expect("rel");
        bench.hid.input(wheel, bench.t0).expect("wheel");
        assert_eq!(bench.rel.take(), [vec![0, 0, 0, 0xFE, 1]]);
        assert!(bench.abs.take().is_empty());
    }

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
    fn test_idle_release_all_never_placed_abs_silent() {
        let mut bench = Bench::new();
        bench.hid.release_all(bench.t0);
        assert!(bench.abs.take().is_empty(), "no jump to (0, 0)");
    }

    #[test]
    fn test_not_reading_release_all_retried() {
        let mut bench = Bench::new();
        bench.key("KeyA", true, 0);
        bench.keyboard.state().refuse_all = Some(Fake::Shutdown);
        bench.hid.release_all(bench.at(1));
        bench.keyboard.state().refuse_all = None;
        bench.run();
        assert_eq!(bench.keyboard.take(), [keys(0, &[4]), keys(0, &[])]);
    }

    #[test]
    fn test_reading_leds_read_on_poll() {
        let mut bench = Bench::new();
        bench.keyboard.state().leds.extend([0x01, 0x03]);
        bench.hid.poll(bench.t0);
        assert_eq!(bench.hid.status().leds, 0x03);
        bench.hid.poll(bench.t0);
        assert_eq!(bench.hid.status().leds, 0x03, "no report: unchanged");
    }

    #[test]
    fn test_reading_paste_paced_press_release() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("aA", None), Ok(None));
        assert_eq!(
            bench.keyboard.take(),
            [keys(0, &[0x04])],
            "first press at once"
        );
        assert_eq!(bench.hid.poll_at(), Some(bench.at(8)));
        bench.hid.poll(bench.at(7));
        assert!(bench.keyboard.take().is_empty(), "not before its time");
        assert_eq!(bench.hid.status().paste_queued, 2);
        bench.run();
        let expected = [keys(0, &[]), keys(0x02, &[0x04]), keys(0, &[])];
        assert_eq!(bench.keyboard.take(), expected);
        assert_eq!(bench.hid.status().paste_queued, 0);
    }

    #[test]
    fn test_reading_paste_skipped_reported() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("é1€é2", None), Ok(Some("é€".into())));
        bench.run();
        assert_eq!(typed(&bench.keyboard.take()), [(0x1E, 0), (0x1F, 0)]);
    }

    #[test]
    fn test_reading_paste_many_skipped_cut_short() {
        let mut bench = Bench::new();
        let text: String = ('\u{4E00}'..'\u{4F00}').collect();
        let note = bench.paste(&text, None).expect("accepted").expect("note");
        assert_eq!(note.chars().count(), SKIPPED_SHOWN + 1);
        assert!(note.ends_with('…'));
    }

    #[test]
    fn test_reading_paste_message_layout() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("z@", Some("de")), Ok(None));
        bench.run();
        assert_eq!(
            typed(&bench.keyboard.take()),
            [(0x1C, 0), (0x14, layout::RALT)]
        );
        assert_eq!(
            bench.hid.status().layout,
            "us",
            "one paste does not change it"
        );
    }

    #[test]
    fn test_reading_paste_dead_key_two_strokes() {
        let mut bench = Bench::new();
        bench.hid.set_layout("fr").expect("known");
        assert_eq!(bench.paste("ê", None), Ok(None));
        bench.run();
        assert_eq!(typed(&bench.keyboard.take()), [(0x2F, 0), (0x08, 0)]);
    }

    #[test]
    fn test_reading_paste_crlf_one_enter() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("a\r\nb\rc\n", None), Ok(None));
        bench.run();
        let strokes = typed(&bench.keyboard.take());
        let usages: Vec<u8> = strokes.iter().map(|&(u, _)| u).collect();
        assert_eq!(usages, [0x04, 0x28, 0x05, 0x28, 0x06, 0x28]);
    }

    #[test]
    fn test_reading_paste_unknown_layout_rejected() {
        let mut bench = Bench::new();
        let error = bench.paste("abc", Some("klingon")).expect_err("rejected");
        assert!(
            error.contains("klingon") && error.contains("us, uk, de, fr, es, it"),
            "{error}"
        );
        assert_eq!(bench.hid.status().paste_queued, 0);
    }

    #[test]
    fn test_reading_paste_too_long_rejected() {
        let mut bench = Bench::new();
        let error = bench
            .paste(&"a".repeat(PASTE_LIMIT + 1), None)
            .expect_err("too long");
        assert!(error.starts_with("paste too long"), "{error}");
        assert!(!error.contains("aaa"), "never echo pasted text");
        assert_eq!(bench.hid.status().paste_queued, 0);
        assert_eq!(bench.paste(&"a".repeat(PASTE_LIMIT - 1), None), Ok(None));
        assert!(bench.paste("bb", None).is_err(), "the queue counts too");
        assert_eq!(bench.hid.status().paste_queued, PASTE_LIMIT - 1);
    }

    #[test]
    fn test_busy_paste_no_stroke_lost() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("ab", None), Ok(None));
        bench
            .keyboard
            .state()
            .next
            .extend([Fake::WouldBlock, Fake::WouldBlock]);
        bench.hid.poll(bench.at(8));
        assert_eq!(bench.hid.poll_at(), Some(bench.at(58)));
        bench.run();
        assert_eq!(typed(&bench.keyboard.take()), [(0x04, 0), (0x05, 0)]);
    }

    #[test]
    fn test_caps_lock_paste_letters_inverted() {
        let mut bench = Bench::new();
        bench.keyboard.state().leds.push_back(LED_CAPS_LOCK);
        bench.hid.poll(bench.t0);
        assert_eq!(bench.paste("aB1!", None), Ok(None));
        bench.run();
        let expected = [(0x04, 0x02), (0x05, 0), (0x1E, 0), (0x1E, 0x02)];
        assert_eq!(typed(&bench.keyboard.take()), expected);
    }

    #[test]
    fn test_pasting_keys_wait_for_paste() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("a", None), Ok(None));
        bench.key("ShiftLeft", true, 1);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        bench.run();
        assert_eq!(bench.keyboard.take(), [keys(0, &[]), keys(0x02, &[])]);
    }

    #[test]
    fn test_pasting_release_all_stops_paste() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("abc", None), Ok(None));
        bench.hid.release_all(bench.at(1));
        bench.run();
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04]), keys(0, &[])]);
        assert_eq!(bench.hid.status().paste_queued, 0);
    }

    #[test]
    fn test_reading_set_layout() {
        let mut bench = Bench::new();
        assert_eq!(bench.hid.set_layout("de"), Ok(()));
        assert_eq!(bench.hid.status().layout, "de");
        assert!(bench.hid.set_layout("xx").is_err());
        assert_eq!(bench.hid.status().layout, "de");
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
        };
        assert!(hid
            .input(paste, now)
            .expect_err("no keyboard")
            .contains("--hid-keyboard"));
        hid.release_all(now);
        assert_eq!(hid.poll_at(), None);
        assert!(hid.fds().is_empty());
    }

    /// A gadget directory and its controller, as `UdcWatch` reads them.
    struct FakeUdc {
        dir: crate::gadget::tests::TempDir,
    }

    impl FakeUdc {
        fn new(tag: &str) -> FakeUdc {
            let dir = crate::gadget::tests::TempDir::new(tag);
            std::fs::create_dir_all(dir.path().join("udc/dummy_udc.0")).unwrap();
            std::fs::create_dir_all(dir.path().join("kv")).unwrap();
            let udc = FakeUdc { dir };
            udc.set("dummy_udc.0", "configured");
            udc
        }

        /// The gadget's binding ("" when unbound) and the controller's state.
        fn set(&self, binding: &str, state: &str) {
            let root = self.dir.path();
            std::fs::write(root.join("kv/UDC"), format!("{binding}\n")).unwrap();
            std::fs::write(root.join("udc/dummy_udc.0/state"), state).unwrap();
        }

        fn watch(&self, now: Instant) -> UdcWatch {
            let root = self.dir.path();
            UdcWatch::new(&root.join("udc"), &root.join("kv"), now)
        }
    }

    /// A bench whose host has configured the gadget, with what that wrote taken.
    fn configured_bench(udc: &FakeUdc) -> Bench {
        let mut bench = Bench::new();
        bench.hid.watch_udc(udc.watch(bench.t0));
        assert!(!bench.hid.status().online, "not read yet");
        assert_eq!(bench.hid.poll_at(), Some(bench.t0));
        bench.hid.poll(bench.t0);
        let status = bench.hid.status();
        assert!(status.online);
        assert_eq!(status.udc.as_deref(), Some("configured"));
        let _ = (bench.keyboard.take(), bench.abs.take(), bench.rel.take());
        bench
    }

    #[test]
    fn test_configured_unbound_offline_and_released() {
        let udc = FakeUdc::new("hid-unbound");
        let mut bench = configured_bench(&udc);
        bench.key("KeyA", true, 10);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        // Unbound: the controller still says configured, the gadget is on none.
        udc.set("", "configured");
        bench.keyboard.state().refuse_all = Some(Fake::Shutdown);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(250)));
        bench.hid.poll(bench.at(250));
        let status = bench.hid.status();
        assert!(!status.online, "noticed without any input");
        assert_eq!(status.udc.as_deref(), Some("unbound"));
        // Every device let go of before anyone can bind the gadget again: a
        // file held across the rebind crashes Linux 6.1 when it is closed.
        for sink in [&bench.keyboard, &bench.abs, &bench.rel] {
            assert!(sink.state().closed);
        }
        assert_eq!(
            bench.rel.take(),
            Vec::<Vec<u8>>::new(),
            "closed: not written"
        );
        let epoch = bench.hid.fd_epoch();
        // Bound again, not configured yet: still closed.
        udc.set("dummy_udc.0", "not attached");
        bench.hid.poll(bench.at(500));
        assert!(bench.keyboard.state().closed);
        // The client still holds KeyA; the host comes back as a new device.
        udc.set("dummy_udc.0", "configured");
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(750));
        assert!(bench.hid.status().online);
        assert_eq!(bench.keyboard.state().reopened, 1);
        assert_ne!(
            bench.hid.fd_epoch(),
            epoch,
            "the loop registers the new fds"
        );
        assert_eq!(bench.keyboard.take(), [keys(0, &[])], "all up, never KeyA");
        assert_eq!(bench.rel.take(), [vec![0; 5]]);
        // The client's late release changes nothing; its next key is alone.
        bench.key("KeyA", false, 800);
        bench.key("KeyB", true, 810);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x05])]);
    }

    #[test]
    fn test_configured_node_vanished_closed_at_once_reopened_when_back() {
        let dir = crate::gadget::tests::TempDir::new("hid-node-gone");
        let node = dir.path().join("hidg0");
        std::fs::write(&node, b"").unwrap();
        let keyboard = FakeSink::at_node(&node);
        let mut bench = Bench::with(keyboard, FakeSink::default(), FakeSink::default());
        assert!(
            !bench.hid.fds().is_empty(),
            "the node's directory is watched"
        );
        bench.key("KeyA", true, 0);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        // Unbound and bound again faster than any UDC read: the node went
        // and came back, and the file kv holds belongs to the old device.
        std::fs::remove_file(&node).unwrap();
        std::fs::write(&node, b"").unwrap();
        bench.keyboard.state().refuse_open = true;
        bench.hid.poll(bench.at(1));
        assert!(bench.keyboard.state().closed, "closed before anything else");
        assert!(!bench.abs.state().closed, "another function's node stayed");
        bench.keyboard.state().refuse_open = false;
        bench.hid.poll(bench.at(2));
        assert_eq!(bench.keyboard.state().reopened, 1);
        // A new device: nothing held from before reaches it.
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        bench.key("KeyB", true, 3);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x05])]);
    }

    #[test]
    fn test_busy_double_click_both_arrive() {
        let mut bench = Bench::new();
        let click = |bench: &mut Bench, buttons, ms| {
            let input = Input::Abs {
                x: 500,
                y: 600,
                buttons,
            };
            assert_eq!(bench.hid.input(input, bench.at(ms)), Ok(None));
        };
        click(&mut bench, 0, 0);
        // The target stops polling for half a second: a double click meanwhile.
        bench.abs.state().refuse_all = Some(Fake::WouldBlock);
        for (i, buttons) in [1, 0, 1, 0].into_iter().enumerate() {
            click(&mut bench, buttons, 100 + 80 * i as u64);
        }
        bench.abs.state().refuse_all = None;
        bench.hid.poll(bench.at(600));
        let buttons: Vec<u8> = bench.abs.take().iter().map(|r| r[0]).collect();
        assert_eq!(buttons, [0, 1, 0, 1, 0], "both presses, in order");
    }

    #[test]
    fn test_not_reading_clicks_not_replayed() {
        let mut bench = Bench::new();
        bench.abs.state().refuse_all = Some(Fake::Shutdown);
        for (i, buttons) in [1, 0, 1, 0, 1].into_iter().enumerate() {
            let input = Input::Abs {
                x: 9,
                y: 9,
                buttons,
            };
            assert_eq!(bench.hid.input(input, bench.at(i as u64)), Ok(None));
        }
        bench.abs.state().refuse_all = None;
        bench.hid.poll(bench.at(100));
        let buttons: Vec<u8> = bench.abs.take().iter().map(|r| r[0]).collect();
        assert_eq!(buttons, [1], "the newest state only, when the host is back");
    }

    #[test]
    fn test_configured_unpolled_mouse_still_online() {
        let udc = FakeUdc::new("hid-unpolled");
        let mut bench = configured_bench(&udc);
        bench.rel.state().refuse_all = Some(Fake::WouldBlock);
        let input = Input::Rel {
            dx: 3,
            dy: 0,
            buttons: 0,
        };
        assert_eq!(bench.hid.input(input, bench.at(10)), Ok(None));
        bench.hid.poll(bench.at(200));
        assert!(bench.hid.status().online, "the UDC says configured");
    }

    #[test]
    fn test_configured_suspended_key_wakes_then_released() {
        let udc = FakeUdc::new("hid-suspended");
        let mut bench = configured_bench(&udc);
        udc.set("dummy_udc.0", "suspended");
        bench.hid.poll(bench.at(250));
        assert!(!bench.hid.status().online);
        let _ = bench.keyboard.take();
        // A key while the host sleeps is written (with wakeup_on_write it
        // wakes the host) and released once the host is back.
        bench.key("Space", true, 300);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x2C])]);
        udc.set("dummy_udc.0", "configured");
        bench.hid.poll(bench.at(500));
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        assert!(bench.hid.status().online);
    }

    #[test]
    fn test_not_configured_stale_states_dropped() {
        let udc = FakeUdc::new("hid-stale");
        let mut bench = configured_bench(&udc);
        udc.set("dummy_udc.0", "not attached");
        bench.keyboard.state().refuse_all = Some(Fake::Shutdown);
        bench.hid.poll(bench.at(250));
        bench.key("ShiftLeft", true, 260);
        bench.key("KeyX", true, 270);
        udc.set("dummy_udc.0", "configured");
        bench.keyboard.state().refuse_all = None;
        bench.hid.poll(bench.at(500));
        assert_eq!(bench.keyboard.take(), [keys(0, &[])], "no stale Shift+X");
    }

    #[test]
    fn test_idle_jiggle_moves_and_back() {
        let mut bench = Bench::new();
        assert_eq!(bench.hid.poll_at(), None, "off by default");
        bench
            .hid
            .set_jiggle(Some(Duration::from_secs(60)), bench.t0);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(60_000)));
        bench.hid.poll(bench.at(59_999));
        assert!(bench.rel.take().is_empty());
        bench.hid.poll(bench.at(60_000));
        assert_eq!(
            bench.rel.take(),
            [vec![0, 1, 0, 0, 0], vec![0, 0xFF, 0, 0, 0]]
        );
        assert!(bench.keyboard.take().is_empty() && bench.abs.take().is_empty());
        assert_eq!(bench.hid.poll_at(), Some(bench.at(120_000)));
        // Input puts it off.
        bench.key("KeyA", true, 100_000);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(160_000)));
    }

    #[test]
    fn test_idle_jiggle_refused_nets_zero() {
        let mut bench = Bench::new();
        bench.hid.set_jiggle(Some(Duration::from_secs(1)), bench.t0);
        bench.rel.state().refuse_all = Some(Fake::WouldBlock);
        bench.hid.poll(bench.at(1000));
        bench.rel.state().refuse_all = None;
        bench.hid.poll(bench.at(1050));
        assert!(bench.rel.take().is_empty(), "nothing left to move");
    }

    #[test]
    fn test_idle_jiggle_absolute_once_placed() {
        let abs = FakeSink::default();
        let sinks = HidSinks {
            mouse_abs: abs.boxed(),
            ..HidSinks::default()
        };
        let mut hid = Hid::new(sinks, &layout::US);
        let t0 = Instant::now();
        hid.set_jiggle(Some(Duration::from_secs(1)), t0);
        hid.poll(t0 + Duration::from_secs(1));
        assert!(abs.take().is_empty(), "never placed: no jump to (0, 0)");
        let corner = Input::Abs {
            x: 32767,
            y: 5,
            buttons: 0,
        };
        hid.input(corner, t0 + Duration::from_secs(2)).expect("abs");
        let _ = abs.take();
        hid.poll(t0 + Duration::from_secs(3));
        let xs: Vec<u16> = abs
            .take()
            .iter()
            .map(|r| u16::from_le_bytes([r[1], r[2]]))
            .collect();
        assert_eq!(xs, [32767 - JIGGLE_ABS, 32767]);
    }

    #[test]
    fn test_not_configured_no_jiggle() {
        let udc = FakeUdc::new("hid-jiggle");
        let mut bench = configured_bench(&udc);
        bench.hid.set_jiggle(Some(Duration::from_secs(1)), bench.t0);
        udc.set("dummy_udc.0", "suspended");
        bench.hid.poll(bench.at(500));
        let _ = bench.rel.take();
        bench.hid.poll(bench.at(1000));
        assert!(
            bench.rel.take().is_empty(),
            "a sleeping target is not woken"
        );
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
        };
        assert_eq!(bench.hid.status(), expected);
        assert!(bench.hid.fds().is_empty(), "fakes have no fd");
    }
}

//! The simulated target behind `kv --demo`: a computer with a text console that
//! consumes the same HID reports a USB host would get and shows the result on its
//! "HDMI output", a `FrameSource` of rendered JPEG frames. Nothing is faked on
//! kv's side of the reports: a key typed in the browser goes through the keymap
//! and report state exactly as with real hardware, so the demo exercises them.

mod console;
mod power;
mod screen;
mod sinks;
mod source;

use std::cell::RefCell;
use std::rc::Rc;

use crate::hid::HidSinks;
use crate::video::{FrameSource, Mode};
use screen::Screen;
use sinks::{KeyboardSink, MouseSink, Pointing};
use source::{fit_mode, DemoSource};

/// The simulated computer: its keyboard and mice (`sinks`) and its screen
/// (`source`) share one `Screen`.
pub struct DemoTarget {
    screen: Rc<RefCell<Screen>>,
}

impl DemoTarget {
    /// A target showing `mode` (brought into 64..=4096 pixels a side, 1..=60 fps).
    pub fn new(mode: Mode) -> DemoTarget {
        DemoTarget {
            screen: Rc::new(RefCell::new(Screen::new(fit_mode(mode)))),
        }
    }

    pub fn source(&self) -> Box<dyn FrameSource> {
        Box::new(DemoSource::new(self.screen.clone()))
    }

    pub fn sinks(&self) -> HidSinks {
        HidSinks {
            keyboard: Some(Box::new(KeyboardSink::new(self.screen.clone()))),
            mouse_abs: Some(Box::new(MouseSink::new(
                self.screen.clone(),
                Pointing::Absolute,
            ))),
            mouse_rel: Some(Box::new(MouseSink::new(
                self.screen.clone(),
                Pointing::Relative,
            ))),
        }
    }

    /// The front panel kv's ATX control presses and reads (`atx`).
    pub fn front_panel(&self) -> Box<dyn crate::atx::line::Pins> {
        Box::new(power::FrontPanel::new(self.screen.clone()))
    }

    /// Everything typed on the console (the newest 64 KiB), for `/api/demo/screen`.
    pub fn console_text(&self) -> String {
        self.screen.borrow().console.text().to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::{Duration, Instant};

    use super::screen::{ABS_MAX, POINTER_OUTLINE};
    use super::*;
    use crate::hid::layout::{LALT, LCTRL, LSHIFT, RSHIFT, US};
    use crate::hid::HidSink;
    use crate::render::sof0_size;

    const HD: Mode = Mode {
        width: 1280,
        height: 720,
        fps: 30,
    };
    const CAPS_LOCK: u8 = 0x39;
    const NUM_LOCK: u8 = 0x53;
    const SCROLL_LOCK: u8 = 0x47;
    const BACKSPACE: u8 = 0x2a;
    const ENTER: u8 = 0x28;

    struct Target {
        target: DemoTarget,
        keyboard: Box<dyn HidSink>,
        mouse_abs: Box<dyn HidSink>,
        mouse_rel: Box<dyn HidSink>,
    }

    fn target(mode: Mode) -> Target {
        let target = DemoTarget::new(mode);
        let sinks = target.sinks();
        Target {
            keyboard: sinks.keyboard.expect("demo has a keyboard"),
            mouse_abs: sinks.mouse_abs.expect("demo has an absolute mouse"),
            mouse_rel: sinks.mouse_rel.expect("demo has a relative mouse"),
            target,
        }
    }

    fn keys(modifiers: u8, slots: &[u8]) -> [u8; 8] {
        let mut report = [modifiers, 0, 0, 0, 0, 0, 0, 0];
        report[2..2 + slots.len()].copy_from_slice(slots);
        report
    }

    impl Target {
        fn key(&mut self, report: [u8; 8]) {
            self.keyboard.write(&report).expect("8-byte report");
        }

        /// Press and release each usage in turn, with `modifiers` held throughout.
        fn tap(&mut self, modifiers: u8, usages: &[u8]) {
            for &usage in usages {
                self.key(keys(modifiers, &[usage]));
                self.key(keys(modifiers, &[]));
            }
        }

        fn abs(&mut self, buttons: u8, x: u16, y: u16, wheel: i8) {
            let [x0, x1] = x.to_le_bytes();
            let [y0, y1] = y.to_le_bytes();
            let report = [buttons, x0, x1, y0, y1, wheel as u8, 0];
            self.mouse_abs.write(&report).expect("7-byte report");
        }

        fn rel(&mut self, buttons: u8, dx: i8, dy: i8) {
            let report = [buttons, dx as u8, dy as u8, 0, 0];
            self.mouse_rel.write(&report).expect("5-byte report");
        }

        fn pointer(&self) -> (u32, u32) {
            self.target.screen.borrow().pointer()
        }
    }

    #[test]
    fn test_keyboard_typing_with_shift() {
        let mut t = target(HD);
        // "Hello, World!" as a host sees it from a real keyboard: Shift goes down
        // before H and comes up after it, the next key may go down before the last
        // comes up.
        t.key(keys(LSHIFT, &[]));
        t.key(keys(LSHIFT, &[0x0b])); // H
        t.key(keys(0, &[0x0b]));
        t.key(keys(0, &[0x0b, 0x08])); // e while H is still held
        t.key(keys(0, &[0x08]));
        t.tap(0, &[0x0f, 0x0f, 0x12, 0x36, 0x2c]); // l l o , space
        t.tap(RSHIFT, &[0x1a]); // W
        t.tap(0, &[0x12, 0x15, 0x0f, 0x07]); // o r l d
        t.tap(LSHIFT, &[0x1e]); // !
        assert_eq!(t.target.console_text(), "Hello, World!");
    }

    #[test]
    fn test_keyboard_every_us_character() {
        let mut t = target(HD);
        let text: String = (' '..='~').chain(['\n', '\t']).collect();
        for c in text.chars() {
            let stroke = US.stroke(c).expect("US types printable ASCII");
            t.tap(stroke.modifiers, &[stroke.usage]);
        }
        assert_eq!(t.target.console_text(), text);
    }

    #[test]
    fn test_keyboard_backspace_enter() {
        let mut t = target(HD);
        t.tap(0, &[0x04, 0x05, BACKSPACE, ENTER, 0x06, 0x58]); // a b BS Enter c KP-Enter
        assert_eq!(t.target.console_text(), "a\nc\n");
        t.tap(0, &[BACKSPACE, BACKSPACE, BACKSPACE, BACKSPACE, BACKSPACE]);
        assert_eq!(t.target.console_text(), "");
    }

    #[test]
    fn test_keyboard_named_keys_shown_by_name() {
        let mut t = target(HD);
        t.tap(0, &[0x29, 0x3b, 0x52, 0x50, 0x4c, 0x45]); // Esc F2 Up Left Del F12
        assert_eq!(t.target.console_text(), "<Esc><F2><Up><Left><Del><F12>");
        t.tap(LCTRL | LALT, &[0x3a]); // Ctrl+Alt+F1: a shortcut, not shown
        assert_eq!(t.target.console_text(), "<Esc><F2><Up><Left><Del><F12>");
    }

    #[test]
    fn test_keyboard_held_key_types_once() {
        let mut t = target(HD);
        for _ in 0..5 {
            t.key(keys(0, &[0x04]));
        }
        t.key(keys(0, &[0x04, 0x05]));
        t.key(keys(0, &[0x05, 0x04]));
        assert_eq!(t.target.console_text(), "ab");
    }

    #[test]
    fn test_keyboard_ctrl_is_not_text() {
        let mut t = target(HD);
        t.tap(LCTRL, &[0x06]); // Ctrl+C
        assert_eq!(t.target.console_text(), "");
    }

    #[test]
    fn test_keyboard_caps_lock_toggles_led() {
        let mut t = target(HD);
        assert_eq!(t.keyboard.read_output().ok(), Some(None));
        t.tap(0, &[CAPS_LOCK]);
        assert_eq!(t.keyboard.read_output().ok(), Some(Some(0x02)));
        assert_eq!(t.keyboard.read_output().ok(), Some(None), "read once");
        t.tap(0, &[0x04, 0x1e]); // a 1
        t.tap(LSHIFT, &[0x04, 0x1e]); // A !
        t.tap(0, &[CAPS_LOCK]);
        assert_eq!(t.keyboard.read_output().ok(), Some(Some(0x00)));
        t.tap(0, &[0x04]);
        assert_eq!(t.target.console_text(), "A1a!a");
        assert_eq!(t.target.screen.borrow().leds(), 0);
    }

    #[test]
    fn test_keyboard_num_and_scroll_lock() {
        let mut t = target(HD);
        t.tap(0, &[0x59, 0x57]); // KP1 KP+ with Num Lock off: only + types
        t.tap(0, &[NUM_LOCK, SCROLL_LOCK]);
        assert_eq!(t.keyboard.read_output().ok(), Some(Some(0x05)));
        t.tap(0, &[0x59, 0x62, 0x63]); // KP1 KP0 KP.
        assert_eq!(t.target.console_text(), "+10.");
    }

    #[test]
    fn test_keyboard_error_roll_over_ignored() {
        let mut t = target(HD);
        let six = [0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        t.key(keys(0, &six));
        t.key(keys(0, &[0x01; 6])); // a seventh key went down
        t.key(keys(0, &six)); // and came up again: nothing new was pressed
        t.key(keys(0, &[]));
        assert_eq!(t.target.console_text(), "abcdef");
    }

    #[test]
    fn test_reports_of_wrong_length_rejected() {
        let mut t = target(HD);
        let err = t.keyboard.write(&[0; 9]).expect_err("9 bytes");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("demo keyboard"));
        assert!(t.mouse_abs.write(&[0; 5]).is_err());
        assert!(t.mouse_rel.write(&[0; 7]).is_err());
        assert!(t.mouse_rel.write(&[]).is_err());
    }

    #[test]
    fn test_mouse_abs_corners() {
        let mut t = target(HD);
        t.abs(0, ABS_MAX, ABS_MAX, 0);
        assert_eq!(t.pointer(), (1279, 719));
        let canvas = t.target.screen.borrow().render(Duration::ZERO);
        assert_eq!(canvas.pixel(1279, 719), Some(POINTER_OUTLINE));
        t.abs(0, 0, 0, 0);
        assert_eq!(t.pointer(), (0, 0));
    }

    #[test]
    fn test_mouse_rel_accumulates_and_clamps() {
        let mut t = target(Mode {
            width: 640,
            height: 480,
            fps: 30,
        });
        t.abs(0, 0, 0, 0);
        t.rel(0, 100, 50);
        t.rel(0, 27, -10);
        assert_eq!(t.pointer(), (127, 40));
        t.rel(0, -128, -128);
        assert_eq!(t.pointer(), (0, 0));
        for _ in 0..10 {
            t.rel(0, 127, 127);
        }
        assert_eq!(t.pointer(), (639, 479));
    }

    #[test]
    fn test_mouse_buttons_change_pointer_color() {
        let mut t = target(HD);
        t.abs(0, 0, 0, 0);
        let fill_at = |t: &Target| t.target.screen.borrow().render(Duration::ZERO).pixel(2, 4);
        let idle = fill_at(&t);
        t.rel(1, 0, 0);
        let pressed = fill_at(&t);
        assert_ne!(idle, pressed);
        t.rel(0, 0, 0);
        assert_eq!(fill_at(&t), idle);
    }

    fn source_at(t: &Target) -> DemoSource {
        DemoSource::new(t.target.screen.clone())
    }

    #[test]
    fn test_source_idle_until_streaming() {
        let t = target(HD);
        let mut source = source_at(&t);
        assert!(source.fds().is_empty());
        assert_eq!(source.poll_at(), None);
        assert!(source.poll(Instant::now()).is_none());
    }

    #[test]
    fn test_source_streaming_frames_at_fps() {
        let t = target(HD);
        let mut source = source_at(&t);
        let t0 = Instant::now();
        let interval = Duration::from_secs(1) / 30;
        source.set_streaming(true, t0);
        assert_eq!(source.poll_at(), Some(t0));
        let frame = source.poll(t0).expect("first frame at once");
        assert_eq!((frame.width, frame.height), (1280, 720));
        // Stamped after rendering: `t0` plus the time the render took.
        assert!(frame.captured >= t0 && frame.captured < t0 + Duration::from_secs(1));
        assert_eq!(frame.jpeg.get(..2), Some(&[0xFF, 0xD8][..]));
        assert_eq!(
            frame.jpeg.get(frame.jpeg.len() - 2..),
            Some(&[0xFF, 0xD9][..])
        );
        assert_eq!(sof0_size(&frame.jpeg), Some((1280, 720)));

        assert_eq!(source.poll_at(), Some(t0 + interval));
        assert!(source.poll(t0 + interval / 2).is_none(), "not due yet");
        // Woken 5 ms late: the next deadline keeps the cadence.
        let late = t0 + interval + Duration::from_millis(5);
        assert!(source.poll(late).is_some());
        assert_eq!(source.poll_at(), Some(t0 + interval * 2));
        // After a stall, no burst: the next frame is one interval from now.
        let stalled = t0 + Duration::from_millis(500);
        assert!(source.poll(stalled).is_some());
        assert_eq!(source.poll_at(), Some(stalled + interval));

        source.set_streaming(false, stalled);
        assert_eq!(source.poll_at(), None);
        assert!(source.poll(stalled + interval).is_none());
    }

    #[test]
    fn test_source_unchanged_screen_not_reencoded() {
        let mut t = target(HD);
        let mut source = source_at(&t);
        let t0 = Instant::now();
        let interval = Duration::from_secs(1) / 30;
        source.set_streaming(true, t0);
        let first = source.poll(t0).expect("frame");
        for i in 1..10 {
            let frame = source.poll(t0 + interval * i).expect("frame");
            assert_eq!(frame.jpeg, first.jpeg);
        }
        assert_eq!(source.encodes, 1);

        t.tap(0, &[0x04]);
        let typed = source.poll(t0 + interval * 10).expect("frame");
        assert_ne!(typed.jpeg, first.jpeg);
        assert_eq!(source.encodes, 2);

        // The clock's second ticks over: a new picture without any input.
        let ticked = source.poll(t0 + Duration::from_secs(1)).expect("frame");
        assert_ne!(ticked.jpeg, typed.jpeg);
        assert_eq!(source.encodes, 3);
    }

    #[test]
    fn test_source_set_mode_resizes() {
        let mut t = target(HD);
        let mut source = source_at(&t);
        let t0 = Instant::now();
        source.set_streaming(true, t0);
        source.poll(t0).expect("frame");
        t.abs(0, ABS_MAX, ABS_MAX, 0);
        let vga = Mode {
            width: 640,
            height: 480,
            fps: 15,
        };
        source.set_mode(vga, t0).expect("640x480 is fine");
        assert_eq!(source.poll_at(), Some(t0), "new size at once");
        let frame = source.poll(t0).expect("frame");
        assert_eq!(sof0_size(&frame.jpeg), Some((640, 480)));
        assert_eq!(source.poll_at(), Some(t0 + Duration::from_secs(1) / 15));
        assert_eq!(t.pointer(), (639, 479));

        let huge = Mode {
            width: 100_000,
            height: 480,
            fps: 30,
        };
        let err = source.set_mode(huge, t0).expect_err("too wide");
        assert!(err.contains("100000x480@30fps"), "{err}");
        assert!(source.set_mode(Mode { fps: 0, ..vga }, t0).is_err());
        assert_eq!(source.info().mode, vga);
    }

    #[test]
    fn test_source_info() {
        let odd = Mode {
            width: 1024,
            height: 768,
            fps: 25,
        };
        let info = DemoTarget::new(odd).source().info();
        assert_eq!(info.device, "demo");
        assert_eq!(info.format, "MJPG");
        assert_eq!(info.signal, crate::video::Signal::Live);
        assert_eq!(info.mode, odd);
        assert_eq!(info.modes.len(), 5);
        assert!(info.modes.contains(&odd));
        assert!(info.modes.contains(&HD));
        assert_eq!(DemoTarget::new(HD).source().info().modes.len(), 4);
    }

    /// Not a check: prints what a changed 720p frame costs (run with --release).
    #[test]
    fn test_screen_render_and_encode_time() {
        let mut t = target(HD);
        let type_text = |t: &mut Target, text: &str| {
            for c in text.chars() {
                if let Some(stroke) = US.stroke(c) {
                    t.tap(stroke.modifiers, &[stroke.usage]);
                }
            }
        };
        type_text(
            &mut t,
            &"The quick brown fox jumps over the lazy dog.\n".repeat(20),
        );
        let frames = 10;
        let render = || t.target.screen.borrow().render(Duration::ZERO);
        let start = Instant::now();
        for _ in 0..frames {
            render();
        }
        let render_time = start.elapsed() / frames;
        let canvas = render();
        let start = Instant::now();
        let mut bytes = 0;
        for _ in 0..frames {
            bytes += canvas.encode_jpeg(source::QUALITY).len();
        }
        let whole = start.elapsed() / frames;

        let mut encoder = crate::render::StripEncoder::new(source::QUALITY);
        encoder.encode(render());
        let mut strips = Duration::ZERO;
        for i in 0..frames {
            type_text(&mut t, "x");
            t.rel(0, 3, 1);
            let canvas = t
                .target
                .screen
                .borrow()
                .render(Duration::from_secs(i.into()));
            let start = Instant::now();
            encoder.encode(canvas);
            strips += start.elapsed();
        }
        eprintln!(
            "demo: 1280x720 frame (quality {}, {} bytes): render {render_time:?}, \
             encode whole {whole:?}, encode changed strips (a key, the pointer, the clock) {:?}",
            source::QUALITY,
            bytes / frames as usize,
            strips / frames,
        );
    }
}

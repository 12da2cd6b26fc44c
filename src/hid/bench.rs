//! The test bench the HID tests share: a `Hid` on three fake sinks (see
//! `sink::FakeSink`), a virtual clock, and helpers to read reports back.

use std::time::{Duration, Instant};

use super::sink::FakeSink;
use super::{layout, Hid, HidSinks, Input};

/// A `Hid` on three fake sinks, and a virtual clock.
pub struct Bench {
    pub hid: Hid,
    pub keyboard: FakeSink,
    pub abs: FakeSink,
    pub rel: FakeSink,
    pub t0: Instant,
}

impl Bench {
    pub fn new() -> Bench {
        let (keyboard, abs, rel) = Default::default();
        Bench::with(keyboard, abs, rel)
    }

    pub fn with(keyboard: FakeSink, abs: FakeSink, rel: FakeSink) -> Bench {
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

    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    pub fn key(&mut self, code: &str, down: bool, ms: u64) {
        let input = Input::Key {
            code: code.into(),
            down,
        };
        assert_eq!(self.hid.input(input, self.at(ms)), Ok(None));
    }

    pub fn paste(&mut self, text: &str, layout: Option<&str>) -> Result<Option<String>, String> {
        let input = Input::Paste {
            text: text.into(),
            layout: layout.map(String::from),
            check: false,
        };
        self.hid.input(input, self.t0)
    }

    /// A paste message with `"check":true`: what it would skip, typing nothing.
    pub fn check(&mut self, text: &str, layout: Option<&str>) -> Result<Option<String>, String> {
        let input = Input::Paste {
            text: text.into(),
            layout: layout.map(String::from),
            check: true,
        };
        self.hid.input(input, self.t0)
    }

    /// Polls at every `poll_at` until the hid has nothing left to do.
    pub fn run(&mut self) {
        let mut polls = 0;
        while let Some(at) = self.hid.poll_at() {
            self.hid.poll(at);
            polls += 1;
            assert!(polls < 100_000, "never idle");
        }
    }
}

pub fn keys(modifiers: u8, slots: &[u8]) -> Vec<u8> {
    let mut report = vec![modifiers, 0, 0, 0, 0, 0, 0, 0];
    report[2..2 + slots.len()].copy_from_slice(slots);
    report
}

/// The keystrokes in a sequence of keyboard reports, checking each press
/// is followed by an all-up report.
pub fn typed(reports: &[Vec<u8>]) -> Vec<(u8, u8)> {
    assert_eq!(reports.len() % 2, 0, "{reports:?}");
    reports
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[1], [0; 8], "{reports:?}");
            (pair[0][2], pair[0][0])
        })
        .collect()
}

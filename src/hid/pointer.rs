//! The target's two mice as `Hid` drives them: the absolute one (the pointer
//! lands where the operator clicks) and the relative boot mouse (pointer
//! lock, BIOS), each a report state written to its channel; the wheel goes
//! to the one used last; the idle jiggle moves one of them and back.

use std::time::Instant;

use super::channel::{Channel, Link};
use super::report::{self, AbsoluteMouse, MouseReports, RelativeMouse};

/// How far the absolute mouse jiggles: about a pixel on a 4K screen, so the
/// target sees the pointer move (a smaller step may round to no movement).
pub const JIGGLE_ABS: u16 = 16;

/// Which mouse the operator used last: the wheel goes to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pointer {
    Absolute,
    Relative,
}

/// One mouse: its channel and its report state.
pub struct Mouse<R> {
    pub channel: Channel,
    reports: R,
}

impl<R: MouseReports + Default> Mouse<R> {
    fn new(channel: Channel) -> Mouse<R> {
        Mouse {
            channel,
            reports: R::default(),
        }
    }

    /// A host that is not reading (asleep, unplugged) gets the newest state
    /// when it is back, never a replay of stale clicks.
    fn forget_clicks_unread(&mut self) {
        if self.channel.link == Link::NotReading {
            self.reports.forget_clicks();
        }
    }

    /// Writes reports until there are none or the host refuses one (the
    /// mouse keeps it, and everything after, for the retry).
    fn flush(&mut self, now: Instant) {
        while let Some(report) = self.reports.next_report() {
            if !self.channel.write(report.as_ref(), now) {
                return;
            }
            self.reports.sent();
        }
    }

    /// When a refused report's retry is due.
    fn poll_at(&self) -> Option<Instant> {
        self.reports.next_report().and(self.channel.retry_at)
    }
}

/// Both mice; a `None` one is disabled.
pub struct Pointers {
    abs: Option<Mouse<AbsoluteMouse>>,
    rel: Option<Mouse<RelativeMouse>>,
    last: Pointer,
}

impl Pointers {
    pub fn new(abs: Option<Channel>, rel: Option<Channel>) -> Pointers {
        Pointers {
            abs: abs.map(Mouse::new),
            rel: rel.map(Mouse::new),
            last: Pointer::Absolute,
        }
    }

    /// The absolute pointer to (`x`, `y`) with `buttons` down.
    pub fn absolute(&mut self, x: u16, y: u16, buttons: u8) {
        if let Some(mouse) = &mut self.abs {
            mouse.reports.set(x, y, buttons);
            mouse.forget_clicks_unread();
        }
        self.last = Pointer::Absolute;
    }

    /// The relative pointer moved by (`dx`, `dy`), `buttons` down.
    pub fn relative(&mut self, dx: i32, dy: i32, buttons: u8) {
        if let Some(mouse) = &mut self.rel {
            mouse.reports.move_by(dx, dy, buttons);
            mouse.forget_clicks_unread();
        }
        self.last = Pointer::Relative;
    }

    /// Wheel notches, to the mouse used last (the relative one if it is
    /// the only one).
    pub fn wheel(&mut self, dx: i32, dy: i32) {
        let relative = self.last == Pointer::Relative || self.abs.is_none();
        match (&mut self.rel, &mut self.abs) {
            (Some(rel), _) if relative => rel.reports.scroll(dy, dx),
            (_, Some(abs)) => abs.reports.scroll(dy, dx),
            _ => {}
        }
    }

    /// Every button up on both mice (the absolute pointer stays put).
    pub fn release(&mut self) {
        if let Some(mouse) = &mut self.abs {
            mouse.reports.release();
        }
        if let Some(mouse) = &mut self.rel {
            mouse.reports.release();
        }
    }

    /// Drops the clicks the host never took: it left.
    pub fn forget_clicks(&mut self) {
        if let Some(mouse) = &mut self.abs {
            mouse.reports.forget_clicks();
        }
        if let Some(mouse) = &mut self.rel {
            mouse.reports.forget_clicks();
        }
    }

    pub fn flush(&mut self, now: Instant) {
        if let Some(mouse) = &mut self.abs {
            mouse.flush(now);
        }
        if let Some(mouse) = &mut self.rel {
            mouse.flush(now);
        }
    }

    /// When a refused report's retry is due.
    pub fn poll_at(&self) -> Option<Instant> {
        let abs = self.abs.as_ref().and_then(Mouse::poll_at);
        let rel = self.rel.as_ref().and_then(Mouse::poll_at);
        abs.into_iter().chain(rel).min()
    }

    /// Moves the mouse and back, as the first report after the other: the
    /// relative mouse by one count, or else the absolute one by a pixel or
    /// so (only once it has a position: otherwise the pointer would jump).
    pub fn jiggle(&mut self, now: Instant) {
        if let Some(mouse) = &mut self.rel {
            let buttons = mouse.reports.buttons();
            mouse.reports.move_by(1, 0, buttons);
            mouse.flush(now);
            // Written: this is the way back. Still waiting: it cancels it.
            mouse.reports.move_by(-1, 0, buttons);
        } else if let Some(mouse) = &mut self.abs {
            let Some((x, y, buttons)) = mouse.reports.position() else {
                return;
            };
            let aside = x.checked_add(JIGGLE_ABS).filter(|&x| x <= report::ABS_MAX);
            mouse
                .reports
                .set(aside.unwrap_or(x.saturating_sub(JIGGLE_ABS)), y, buttons);
            mouse.flush(now);
            mouse.reports.set(x, y, buttons);
        }
    }

    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        let abs = self.abs.as_ref().map(|m| &m.channel);
        abs.into_iter().chain(self.rel.as_ref().map(|m| &m.channel))
    }

    pub fn channels_mut(&mut self) -> impl Iterator<Item = &mut Channel> {
        let abs = self.abs.as_mut().map(|m| &mut m.channel);
        abs.into_iter()
            .chain(self.rel.as_mut().map(|m| &mut m.channel))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hid::bench::Bench;
    use crate::hid::sink::Fake;
    use crate::hid::sink::FakeSink;
    use crate::hid::Input;
    use crate::hid::{layout, Hid, HidSinks};

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
    fn test_idle_release_all_never_placed_abs_silent() {
        let mut bench = Bench::new();
        bench.hid.release_all(bench.t0);
        assert!(bench.abs.take().is_empty(), "no jump to (0, 0)");
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
    fn test_idle_jiggle_interval_from_settings() {
        use crate::hid::settings::Change;
        let mut bench = Bench::new();
        bench
            .hid
            .set_jiggle(Some(Duration::from_secs(60)), bench.t0);
        let every_10s = Change {
            jiggle: Some(Some(Duration::from_secs(10))),
            ..Default::default()
        };
        bench.hid.change_settings(every_10s, bench.at(5_000));
        assert_eq!(
            bench.hid.poll_at(),
            Some(bench.at(15_000)),
            "counted from the change"
        );
        bench.hid.poll(bench.at(14_999));
        assert!(bench.rel.take().is_empty());
        bench.hid.poll(bench.at(15_000));
        assert_eq!(
            bench.rel.take().len(),
            2,
            "moved and back at the new interval"
        );
        assert_eq!(bench.hid.status().jiggle, Some(Duration::from_secs(10)));
        // A paste speed change leaves the jiggle's clock alone.
        let paste_only = Change {
            paste_key: Some(Duration::from_millis(30)),
            ..Default::default()
        };
        bench.hid.change_settings(paste_only, bench.at(20_000));
        assert_eq!(bench.hid.poll_at(), Some(bench.at(25_000)));
        let off = Change {
            jiggle: Some(None),
            ..Default::default()
        };
        bench.hid.change_settings(off, bench.at(21_000));
        assert_eq!(bench.hid.poll_at(), None, "off: nothing to wake for");
        bench.hid.poll(bench.at(1_000_000));
        assert!(bench.rel.take().is_empty());
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
}

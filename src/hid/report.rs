//! HID report state: which keys and buttons are down and which relative
//! movement is still to be sent, turned into the report bytes described in
//! `hid/mod.rs`. Nothing here does I/O; `Hid` decides when to write.

/// Usages of the eight modifier keys (LeftControl..RightGUI): bits of byte 0,
/// never key slots.
const MODIFIERS: std::ops::RangeInclusive<u8> = 0xE0..=0xE7;
/// Usage filling every slot when more keys are down than the report can name.
const ERROR_ROLL_OVER: u8 = 0x01;
/// Usages 0x00..=0x03 are "no event" and the three error codes: never keys.
const ERROR_ROLL_OVER_MAX: u8 = 0x03;
const SLOTS: usize = 6;

/// Largest relative step a report carries on one axis (`i8`, symmetric).
const STEP: i32 = 127;
/// Most movement or scrolling kept waiting per axis: 256 reports, farther than
/// across any screen. Bounds the reports one flush writes, whatever a client sends.
pub const BACKLOG: i32 = 256 * STEP;
/// Most reports a mouse keeps for button changes the host has not taken (see
/// `Clicks`): far more than anyone clicks between two host polls, and room
/// for a whole `BACKLOG` move of the relative mouse between two clicks.
const CLICK_BACKLOG: usize = 1024;

/// The boot keyboard input report: modifier bits plus six key slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyboardReport {
    modifiers: u8,
    /// Non-modifier keys down, in the order they went down. Bounded: a usage is
    /// a `u8` and appears at most once.
    keys: Vec<u8>,
}

impl KeyboardReport {
    pub fn press(&mut self, usage: u8) {
        if let Some(bit) = modifier_bit(usage) {
            self.modifiers |= bit;
        } else if usage > ERROR_ROLL_OVER_MAX && !self.keys.contains(&usage) {
            self.keys.push(usage);
        }
    }

    pub fn release(&mut self, usage: u8) {
        if let Some(bit) = modifier_bit(usage) {
            self.modifiers &= !bit;
        } else {
            self.keys.retain(|&k| k != usage);
        }
    }

    pub fn clear(&mut self) {
        self.modifiers = 0;
        self.keys.clear();
    }

    /// A report for one keystroke of paste: `usage` (if any) with `modifiers`.
    pub fn stroke(usage: Option<u8>, modifiers: u8) -> KeyboardReport {
        KeyboardReport {
            modifiers,
            keys: usage.into_iter().collect(),
        }
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let mut bytes = [self.modifiers, 0, 0, 0, 0, 0, 0, 0];
        if self.keys.len() > SLOTS {
            bytes[2..].fill(ERROR_ROLL_OVER);
        } else {
            for (slot, &key) in bytes[2..].iter_mut().zip(&self.keys) {
                *slot = key;
            }
        }
        bytes
    }
}

fn modifier_bit(usage: u8) -> Option<u8> {
    MODIFIERS
        .contains(&usage)
        .then(|| 1 << (usage - MODIFIERS.start()))
}

/// Wheel and horizontal-wheel notches not yet sent, handed out at most ±127
/// per report: a big scroll becomes several reports, never a clamped one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Scroll {
    wheel: i32,
    pan: i32,
}

impl Scroll {
    fn add(&mut self, wheel: i32, pan: i32) {
        self.wheel = accumulate(self.wheel, wheel);
        self.pan = accumulate(self.pan, pan);
    }

    fn step(&self) -> (i8, i8) {
        (step(self.wheel), step(self.pan))
    }

    fn sent(&mut self, (wheel, pan): (i8, i8)) {
        self.wheel -= i32::from(wheel);
        self.pan -= i32::from(pan);
    }

    fn is_empty(&self) -> bool {
        *self == Scroll::default()
    }
}

fn accumulate(pending: i32, more: i32) -> i32 {
    pending.saturating_add(more).clamp(-BACKLOG, BACKLOG)
}

/// The part of `remaining` one report can carry.
fn step(remaining: i32) -> i8 {
    // The clamp makes the conversion lossless.
    remaining.clamp(-STEP, STEP) as i8
}

/// Reports a mouse writes before its current state: each is the state as it
/// was when the buttons changed before the host took it. Moves may merge
/// while the host is slow, clicks may not: a double click while the target
/// stops polling for half a second must still arrive as two.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Clicks<const N: usize>(std::collections::VecDeque<[u8; N]>);

impl<const N: usize> Clicks<N> {
    /// Queues `reports`; past `CLICK_BACKLOG` the host is not reading, and
    /// what it never took is dropped for the newest state.
    fn push(&mut self, reports: impl ExactSizeIterator<Item = [u8; N]>) {
        if self.0.len() + reports.len() > CLICK_BACKLOG {
            self.0.clear();
        }
        self.0.extend(reports.take(CLICK_BACKLOG));
    }
}

/// A mouse's reports as the writer (`hid::pointer`) takes them: the next
/// one until the host is up to date, and what happens to the state when
/// the operator lets go or the host leaves.
pub trait MouseReports {
    /// One report's bytes.
    type Report: AsRef<[u8]> + Copy;
    /// The next report to write, or `None` when the host is up to date.
    fn next_report(&self) -> Option<Self::Report>;
    /// The report from `next_report` was written.
    fn sent(&mut self);
    /// Everything up (see each mouse).
    fn release(&mut self);
    /// Drops the clicks the host never took: it left, or it is not reading.
    fn forget_clicks(&mut self);
}

/// The absolute mouse: buttons, a position in 0..=32767 on each axis, and
/// wheel notches still to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AbsoluteMouse {
    clicks: Clicks<7>,
    buttons: u8,
    x: u16,
    y: u16,
    scroll: Scroll,
    /// Buttons or position changed since the last report written.
    moved: bool,
    /// A position was ever set: until then a report would throw the pointer
    /// to (0, 0), so none is sent.
    placed: bool,
}

/// The largest coordinate of the absolute mouse.
pub const ABS_MAX: u16 = 32767;

impl AbsoluteMouse {
    pub fn set(&mut self, x: u16, y: u16, buttons: u8) {
        let (x, y) = (x.min(ABS_MAX), y.min(ABS_MAX));
        self.keep_unsent_click(buttons);
        self.moved |= !self.placed || (x, y, buttons) != (self.x, self.y, self.buttons);
        (self.x, self.y, self.buttons) = (x, y, buttons);
        self.placed = true;
    }

    pub fn scroll(&mut self, wheel: i32, pan: i32) {
        self.scroll.add(wheel, pan);
    }

    /// Where the pointer is and which buttons are down, once it was placed.
    pub fn position(&self) -> Option<(u16, u16, u8)> {
        self.placed.then_some((self.x, self.y, self.buttons))
    }

    /// Before the buttons change to `buttons`: a state the host has not
    /// taken yet is a click of its own, queued to go first.
    fn keep_unsent_click(&mut self, buttons: u8) {
        if buttons != self.buttons && self.placed && self.moved {
            self.clicks.push(std::iter::once(self.report((0, 0))));
        }
    }

    fn report(&self, (wheel, pan): (i8, i8)) -> [u8; 7] {
        let [xl, xh] = self.x.to_le_bytes();
        let [yl, yh] = self.y.to_le_bytes();
        [self.buttons, xl, xh, yl, yh, wheel as u8, pan as u8]
    }
}

impl MouseReports for AbsoluteMouse {
    type Report = [u8; 7];

    /// Buttons up and scrolling dropped; the pointer stays where it is (an
    /// all-zero position would throw it into the corner). Worth a report once
    /// the pointer has a position.
    fn release(&mut self) {
        self.keep_unsent_click(0);
        self.buttons = 0;
        self.scroll = Scroll::default();
        self.moved = self.placed;
    }

    fn forget_clicks(&mut self) {
        self.clicks.0.clear();
    }

    fn next_report(&self) -> Option<Self::Report> {
        if let Some(&click) = self.clicks.0.front() {
            return Some(click);
        }
        if !self.placed || (!self.moved && self.scroll.is_empty()) {
            return None;
        }
        Some(self.report(self.scroll.step()))
    }

    fn sent(&mut self) {
        if self.clicks.0.pop_front().is_some() {
            return;
        }
        let step = self.scroll.step();
        self.scroll.sent(step);
        self.moved = false;
    }
}

/// The relative (boot) mouse: buttons and the movement and scrolling still to
/// send, split into reports of at most ±127 per axis. While the host is not
/// reading, movement accumulates so none is lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelativeMouse {
    clicks: Clicks<5>,
    buttons: u8,
    dx: i32,
    dy: i32,
    scroll: Scroll,
    /// Buttons changed since the last report written.
    clicked: bool,
}

impl RelativeMouse {
    pub fn move_by(&mut self, dx: i32, dy: i32, buttons: u8) {
        self.keep_unsent_click(buttons);
        self.dx = accumulate(self.dx, dx);
        self.dy = accumulate(self.dy, dy);
        self.clicked |= buttons != self.buttons;
        self.buttons = buttons;
    }

    pub fn scroll(&mut self, wheel: i32, pan: i32) {
        self.scroll.add(wheel, pan);
    }

    /// The buttons held now.
    pub fn buttons(&self) -> u8 {
        self.buttons
    }

    /// Before the buttons change to `buttons`: the state the host has not
    /// taken yet (its click and its movement, in steps) is queued to go first.
    fn keep_unsent_click(&mut self, buttons: u8) {
        if buttons == self.buttons || !(self.clicked || self.dx != 0 || self.dy != 0) {
            return;
        }
        let mut reports = Vec::new();
        while self.clicked || self.dx != 0 || self.dy != 0 {
            let (dx, dy) = (step(self.dx), step(self.dy));
            reports.push([self.buttons, dx as u8, dy as u8, 0, 0]);
            self.dx -= i32::from(dx);
            self.dy -= i32::from(dy);
            self.clicked = false;
        }
        self.clicks.push(reports.into_iter());
    }
}

impl MouseReports for RelativeMouse {
    type Report = [u8; 5];

    /// Buttons up, pending movement dropped (clicks the host has not taken
    /// still go first); always worth a report.
    fn release(&mut self) {
        self.keep_unsent_click(0);
        *self = RelativeMouse {
            clicks: std::mem::take(&mut self.clicks),
            clicked: true,
            ..RelativeMouse::default()
        };
    }

    /// Drops the clicks the host never took (it left, or it is not
    /// reading); their movement stays, so the pointer still ends up where
    /// the operator moved it.
    fn forget_clicks(&mut self) {
        for report in std::mem::take(&mut self.clicks.0) {
            self.dx = accumulate(self.dx, i32::from(report[1] as i8));
            self.dy = accumulate(self.dy, i32::from(report[2] as i8));
        }
    }

    fn next_report(&self) -> Option<Self::Report> {
        if let Some(&click) = self.clicks.0.front() {
            return Some(click);
        }
        if !self.clicked && self.dx == 0 && self.dy == 0 && self.scroll.is_empty() {
            return None;
        }
        let (wheel, pan) = self.scroll.step();
        Some([
            self.buttons,
            step(self.dx) as u8,
            step(self.dy) as u8,
            wheel as u8,
            pan as u8,
        ])
    }

    /// Its share of the movement is done.
    fn sent(&mut self) {
        if self.clicks.0.pop_front().is_some() {
            return;
        }
        self.dx -= i32::from(step(self.dx));
        self.dy -= i32::from(step(self.dy));
        let step = self.scroll.step();
        self.scroll.sent(step);
        self.clicked = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyboard(pressed: &[u8]) -> KeyboardReport {
        let mut report = KeyboardReport::default();
        for &usage in pressed {
            report.press(usage);
        }
        report
    }

    #[test]
    fn test_keyboard_empty_all_zero() {
        assert_eq!(KeyboardReport::default().to_bytes(), [0; 8]);
    }

    #[test]
    fn test_keyboard_press_fills_slots_in_order() {
        let report = keyboard(&[0x04, 0x16, 0x04]);
        assert_eq!(report.to_bytes(), [0, 0, 0x04, 0x16, 0, 0, 0, 0]);
    }

    #[test]
    fn test_keyboard_modifiers_become_bits() {
        let mut report = keyboard(&[0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7]);
        assert_eq!(report.to_bytes(), [0xFF, 0, 0, 0, 0, 0, 0, 0]);
        report.release(0xE1);
        report.release(0xE6);
        assert_eq!(report.to_bytes(), [0xBD, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            keyboard(&[0xE1, 0x04]).to_bytes(),
            [0x02, 0, 0x04, 0, 0, 0, 0, 0]
        );
        assert_eq!(keyboard(&[0xE6]).to_bytes()[0], 0x40);
    }

    #[test]
    fn test_keyboard_release_closes_gap() {
        let mut report = keyboard(&[0x04, 0x05, 0x06]);
        report.release(0x05);
        assert_eq!(report.to_bytes(), [0, 0, 0x04, 0x06, 0, 0, 0, 0]);
        report.release(0x07);
        assert_eq!(report.to_bytes(), [0, 0, 0x04, 0x06, 0, 0, 0, 0]);
    }

    #[test]
    fn test_keyboard_six_keys_fit() {
        let report = keyboard(&[4, 5, 6, 7, 8, 9]);
        assert_eq!(report.to_bytes(), [0, 0, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn test_keyboard_seventh_key_rolls_over() {
        let mut report = keyboard(&[0xE1, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(report.to_bytes(), [0x02, 0, 1, 1, 1, 1, 1, 1]);
        report.release(6);
        assert_eq!(report.to_bytes(), [0x02, 0, 4, 5, 7, 8, 9, 10]);
    }

    #[test]
    fn test_keyboard_error_usages_ignored() {
        assert_eq!(keyboard(&[0, 1, 2, 3]).to_bytes(), [0; 8]);
    }

    #[test]
    fn test_keyboard_clear() {
        let mut report = keyboard(&[0xE0, 4, 5]);
        report.clear();
        assert_eq!(report.to_bytes(), [0; 8]);
    }

    #[test]
    fn test_keyboard_stroke() {
        assert_eq!(
            KeyboardReport::stroke(Some(0x14), 0x40).to_bytes(),
            [0x40, 0, 0x14, 0, 0, 0, 0, 0]
        );
        assert_eq!(KeyboardReport::stroke(None, 0).to_bytes(), [0; 8]);
    }

    /// Drains `next_report`/`sent` like a host that reads everything.
    fn drain<M, R>(mouse: &mut M, next: fn(&M) -> Option<R>, sent: fn(&mut M)) -> Vec<R> {
        let mut reports = Vec::new();
        while let Some(report) = next(mouse) {
            reports.push(report);
            sent(mouse);
            assert!(reports.len() <= 2 * CLICK_BACKLOG, "never settles");
        }
        reports
    }

    fn drain_rel(mouse: &mut RelativeMouse) -> Vec<[u8; 5]> {
        drain(mouse, RelativeMouse::next_report, RelativeMouse::sent)
    }

    fn drain_abs(mouse: &mut AbsoluteMouse) -> Vec<[u8; 7]> {
        drain(mouse, AbsoluteMouse::next_report, AbsoluteMouse::sent)
    }

    #[test]
    fn test_absolute_set_reports_little_endian() {
        let mut mouse = AbsoluteMouse::default();
        assert_eq!(mouse.next_report(), None);
        mouse.set(0x1234, 32767, 0x05);
        assert_eq!(
            drain_abs(&mut mouse),
            [[0x05, 0x34, 0x12, 0xFF, 0x7F, 0, 0]]
        );
        mouse.set(0x1234, 32767, 0x05);
        assert_eq!(mouse.next_report(), None, "no change, no report");
    }

    #[test]
    fn test_absolute_set_clamps_to_range() {
        let mut mouse = AbsoluteMouse::default();
        mouse.set(65535, 40000, 0);
        assert_eq!(mouse.next_report(), Some([0, 0xFF, 0x7F, 0xFF, 0x7F, 0, 0]));
    }

    #[test]
    fn test_absolute_scroll_split() {
        let mut mouse = AbsoluteMouse::default();
        mouse.set(100, 200, 1);
        mouse.scroll(-300, 2);
        let reports = drain_abs(&mut mouse);
        let wheel: Vec<i8> = reports.iter().map(|r| r[5] as i8).collect();
        let pan: Vec<i8> = reports.iter().map(|r| r[6] as i8).collect();
        assert_eq!(wheel, [-127, -127, -46]);
        assert_eq!(pan, [2, 0, 0]);
        assert!(reports.iter().all(|r| r[..5] == [1, 100, 0, 200, 0]));
    }

    #[test]
    fn test_absolute_unplaced_sends_nothing() {
        let mut mouse = AbsoluteMouse::default();
        mouse.scroll(3, 0);
        mouse.release();
        assert_eq!(mouse.next_report(), None);
        mouse.set(0, 0, 0);
        assert_eq!(drain_abs(&mut mouse), [[0, 0, 0, 0, 0, 0, 0]]);
    }

    #[test]
    fn test_absolute_release_keeps_position() {
        let mut mouse = AbsoluteMouse::default();
        mouse.set(10, 20, 3);
        mouse.sent();
        mouse.scroll(5, 0);
        mouse.release();
        assert_eq!(drain_abs(&mut mouse), [[0, 10, 0, 20, 0, 0, 0]]);
    }

    #[test]
    fn test_relative_move_split_not_clamped() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(1000, -300, 0);
        let reports = drain_rel(&mut mouse);
        let dx: Vec<i8> = reports.iter().map(|r| r[1] as i8).collect();
        let dy: Vec<i8> = reports.iter().map(|r| r[2] as i8).collect();
        assert_eq!(dx, [127, 127, 127, 127, 127, 127, 127, 111]);
        assert_eq!(dy, [-127, -127, -46, 0, 0, 0, 0, 0]);
        assert_eq!(dx.iter().map(|&d| i32::from(d)).sum::<i32>(), 1000);
    }

    #[test]
    fn test_relative_small_move_one_report() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(5, -3, 1);
        assert_eq!(drain_rel(&mut mouse), [[1, 5, 0xFD, 0, 0]]);
    }

    #[test]
    fn test_relative_buttons_without_move() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(0, 0, 0);
        assert_eq!(mouse.next_report(), None);
        mouse.move_by(0, 0, 2);
        assert_eq!(drain_rel(&mut mouse), [[2, 0, 0, 0, 0]]);
    }

    #[test]
    fn test_relative_scroll_split() {
        let mut mouse = RelativeMouse::default();
        mouse.scroll(200, -128);
        let reports = drain_rel(&mut mouse);
        assert_eq!(reports, [[0, 0, 0, 127, 0x81], [0, 0, 0, 73, 0xFF]]);
    }

    #[test]
    fn test_relative_unsent_moves_accumulate() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(100, 0, 1);
        mouse.move_by(100, 7, 1);
        assert_eq!(drain_rel(&mut mouse), [[1, 127, 7, 0, 0], [1, 73, 0, 0, 0]]);
    }

    #[test]
    fn test_relative_unsent_click_queued_before_buttons_change() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(200, 0, 0);
        // A double click, none of it taken by the host yet; the drag
        // between press and release merges, the clicks do not.
        mouse.move_by(0, 0, 1);
        mouse.move_by(3, 0, 1);
        mouse.move_by(4, 0, 1);
        mouse.move_by(0, 0, 0);
        mouse.move_by(0, 0, 1);
        mouse.move_by(0, 0, 0);
        let reports = drain_rel(&mut mouse);
        assert_eq!(
            reports,
            [
                [0, 127, 0, 0, 0],
                [0, 73, 0, 0, 0],
                [1, 7, 0, 0, 0],
                [0, 0, 0, 0, 0],
                [1, 0, 0, 0, 0],
                [0, 0, 0, 0, 0],
            ]
        );
        assert_eq!(mouse.next_report(), None);
    }

    #[test]
    fn test_relative_forget_clicks_keeps_movement() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(-50, 9, 1);
        mouse.move_by(0, 0, 0);
        mouse.move_by(10, 0, 0);
        mouse.forget_clicks();
        assert_eq!(drain_rel(&mut mouse), [[0, 0xD8, 9, 0, 0]]);
    }

    #[test]
    fn test_relative_release_keeps_unsent_click() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(0, 0, 1);
        mouse.release();
        assert_eq!(drain_rel(&mut mouse), [[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]);
    }

    #[test]
    fn test_absolute_unsent_clicks_all_written() {
        let mut mouse = AbsoluteMouse::default();
        mouse.set(100, 200, 0);
        mouse.set(110, 200, 0);
        mouse.set(110, 200, 1);
        mouse.set(110, 200, 0);
        mouse.set(110, 200, 1);
        mouse.set(120, 200, 1);
        mouse.set(120, 200, 0);
        let at = |x: u8, buttons| [buttons, x, 0, 200, 0, 0, 0];
        assert_eq!(
            drain_abs(&mut mouse),
            [at(110, 0), at(110, 1), at(110, 0), at(120, 1), at(120, 0)]
        );
        // Taken as it happens, nothing is queued twice.
        mouse.set(120, 200, 1);
        assert_eq!(drain_abs(&mut mouse), [at(120, 1)]);
        mouse.set(120, 200, 0);
        assert_eq!(drain_abs(&mut mouse), [at(120, 0)]);
    }

    #[test]
    fn test_absolute_clicks_bounded_and_forgotten() {
        let mut mouse = AbsoluteMouse::default();
        for i in 0..3000u16 {
            mouse.set(i, 0, (i % 2) as u8);
        }
        assert!(drain_abs(&mut mouse).len() <= CLICK_BACKLOG + 1);
        mouse.set(1, 1, 1);
        mouse.set(1, 1, 0);
        mouse.forget_clicks();
        assert_eq!(drain_abs(&mut mouse), [[0, 1, 0, 1, 0, 0, 0]]);
    }

    #[test]
    fn test_relative_huge_move_bounded() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(i32::MAX, i32::MIN, 0);
        mouse.move_by(i32::MAX, i32::MIN, 0);
        mouse.scroll(i32::MIN, 0);
        let reports = drain_rel(&mut mouse);
        assert_eq!(reports.len(), 256);
        assert!(reports.iter().all(|r| r == &[0, 127, 0x81, 0x81, 0]));
    }

    #[test]
    fn test_relative_release() {
        let mut mouse = RelativeMouse::default();
        mouse.move_by(300, 0, 1);
        mouse.sent();
        mouse.scroll(3, 0);
        mouse.release();
        // The drag the host has not taken yet ends where the operator let go;
        // scrolling is dropped.
        assert_eq!(
            drain_rel(&mut mouse),
            [[1, 127, 0, 0, 0], [1, 46, 0, 0, 0], [0; 5]]
        );
    }
}

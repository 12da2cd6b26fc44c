//! The target's keyboard as `Hid` drives it: the keys the operator holds,
//! the states the host has not taken yet (every tap of a host that is busy
//! for a moment still arrives, in order), paste typing, and the LEDs the host
//! reports back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::channel::{Channel, Link};
use super::layout::Layout;
use super::paste::Paste;
use super::report::KeyboardReport;

/// Keyboard states kept while the host is slow to take them (see `queue`):
/// far more than a person types between two host polls, 8 KiB at most.
pub const KEY_BACKLOG: usize = 1024;

/// The keyboard function: its channel and everything typed on it.
pub struct Keyboard {
    pub channel: Channel,
    /// Keys the operator holds.
    keys: KeyboardReport,
    /// The report the host last took.
    sent: [u8; 8],
    /// States the host has not taken yet, oldest first: a press and its
    /// release that arrive within one host poll both reach it. Past
    /// `KEY_BACKLOG` states the host is not reading, and only the newest is kept.
    queue: VecDeque<[u8; 8]>,
    /// Keystrokes still to type; while any remain they own the keyboard and
    /// the operator's keys wait.
    paste: Paste,
    /// The LED output report (bit0 Num, 1 Caps, 2 Scroll).
    leds: u8,
    /// A failed LED read was logged; quiet until one succeeds.
    led_error_logged: bool,
}

impl Keyboard {
    pub fn new(channel: Channel) -> Keyboard {
        Keyboard {
            channel,
            keys: KeyboardReport::default(),
            sent: [0; 8],
            queue: VecDeque::new(),
            paste: Paste::new(),
            leds: 0,
            led_error_logged: false,
        }
    }

    /// The key of `usage` went down or up.
    pub fn key(&mut self, usage: u8, down: bool) {
        if down {
            self.keys.press(usage);
        } else {
            self.keys.release(usage);
        }
        self.queue_keys(false);
    }

    /// Queues `text` to type in `layout` (see `Paste::queue`).
    pub fn paste(&mut self, text: &str, layout: &Layout) -> Result<Option<String>, String> {
        self.paste.queue(text, layout)
    }

    /// Time per pasted keystroke (see `Paste::set_per_key`).
    pub fn set_paste_per_key(&mut self, per_key: Duration) {
        self.paste.set_per_key(per_key);
    }

    /// What `paste` would skip, typing nothing.
    pub fn paste_check(&self, text: &str, layout: &Layout) -> Result<Option<String>, String> {
        self.paste.check(text, layout)
    }

    /// Every key up, sent even if the host already has it, after what the
    /// host has not taken yet (a closing socket's last keystrokes still
    /// arrive). A paste in progress stops.
    pub fn release(&mut self) {
        self.keys.clear();
        self.queue_keys(true);
        self.paste.clear();
    }

    /// Drops the states the host never took: it left, and they are stale.
    pub fn forget_queue(&mut self) {
        self.queue.clear();
    }

    pub fn leds(&self) -> u8 {
        self.leds
    }

    pub fn paste_queued(&self) -> usize {
        self.paste.len()
    }

    /// When a paste's next keystroke or a refused report's retry is due.
    /// A closed device has none: it is written again once reopened.
    pub fn poll_at(&self) -> Option<Instant> {
        let pending = !self.paste.is_empty() || !self.queue.is_empty();
        if !pending || !self.channel.is_open() {
            return None;
        }
        self.channel.retry_at.or(self.paste.due())
    }

    /// Queues the current key state; `force`: even if the host has it already.
    fn queue_keys(&mut self, force: bool) {
        let bytes = self.keys.to_bytes();
        if !force && self.queue.back().unwrap_or(&self.sent) == &bytes {
            return;
        }
        // A host that is not reading (asleep, unplugged) gets the newest
        // state when it is back, never a replay of stale keystrokes.
        if self.channel.link == Link::NotReading || self.queue.len() >= KEY_BACKLOG {
            self.queue.clear();
        }
        self.queue.push_back(bytes);
    }

    pub fn read_leds(&mut self) {
        match self.channel.sink.read_output() {
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

    /// Writes what is due: the paste's next report, or else the operator's
    /// states in order, until the host refuses one.
    pub fn flush(&mut self, now: Instant) {
        if !self.paste.is_empty() {
            let Some(report) = self.paste.report(self.leds, now) else {
                return;
            };
            if self.channel.write(&report, now) {
                self.sent = report;
                self.paste.sent(now);
            }
            return;
        }
        while let Some(&bytes) = self.queue.front() {
            if !self.channel.write(&bytes, now) {
                return;
            }
            self.sent = bytes;
            self.queue.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hid::bench::{keys, Bench};
    use crate::hid::channel;
    use crate::hid::sink::Fake;
    use crate::hid::Input;

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
}

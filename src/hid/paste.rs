//! Paste: text turned into keystrokes of the target's layout, queued
//! (bounded) and typed at a steady pace, press then release, one report per
//! interval. While any keystroke waits, the paste owns the keyboard.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::layout::{self, Layout};
use super::report::KeyboardReport;
use super::settings::PASTE_KEY_MS_DEFAULT;

/// Most keystrokes a paste may have waiting (queued and new together).
pub const PASTE_LIMIT: usize = 65536;
/// Most distinct untypable characters a paste names back.
const SKIPPED_SHOWN: usize = 32;
/// Keyboard LED bit of Caps Lock in the output report.
pub const LED_CAPS_LOCK: u8 = 0x02;

/// One keystroke of a paste.
#[derive(Clone, Copy, Debug)]
struct PasteStroke {
    stroke: layout::Stroke,
    /// A letter `a..=z`: Caps Lock on the target inverts its Shift.
    letter: bool,
}

/// Which half of the head keystroke goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Half {
    Press,
    Release,
}

/// Keystrokes still to type and where the typing is.
pub struct Paste {
    strokes: VecDeque<PasteStroke>,
    next: Half,
    /// Not before this may the next report go; kept across pastes, so one
    /// right after another still keeps the pace.
    due: Option<Instant>,
    /// Time per keystroke: the press and the release each wait half of it.
    per_key: Duration,
}

impl Paste {
    pub fn new() -> Paste {
        Paste {
            strokes: VecDeque::new(),
            next: Half::Press,
            due: None,
            per_key: Duration::from_millis(PASTE_KEY_MS_DEFAULT),
        }
    }

    /// Time per keystroke (`POST /api/hid/settings`); a paste being typed
    /// goes on at the new pace from its next report.
    pub fn set_per_key(&mut self, per_key: Duration) {
        self.per_key = per_key;
    }

    /// Keystrokes still to type.
    pub fn len(&self) -> usize {
        self.strokes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty()
    }

    /// When the paste's next report may go; keys the operator pressed
    /// meanwhile wait behind it and go then too.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Queues `text` typed in `layout`. `Ok(Some(note))`: the characters
    /// the layout cannot type, skipped. `Err`: too long, nothing queued.
    pub fn queue(&mut self, text: &str, layout: &Layout) -> Result<Option<String>, String> {
        let (strokes, note) = self.strokes_of(text, layout)?;
        self.strokes.extend(strokes);
        Ok(note)
    }

    /// What `queue` would answer, with nothing typed: the page asks before
    /// typing, so a password is never typed minus the characters it lacks
    /// (issue 14).
    pub fn check(&self, text: &str, layout: &Layout) -> Result<Option<String>, String> {
        self.strokes_of(text, layout).map(|(_, note)| note)
    }

    /// `text` as keystrokes of `layout`, and the note naming what it cannot
    /// type; `Err` when they would not fit beside what still waits.
    fn strokes_of(
        &self,
        text: &str,
        layout: &Layout,
    ) -> Result<(Vec<PasteStroke>, Option<String>), String> {
        let room = PASTE_LIMIT.saturating_sub(self.strokes.len());
        let too_long = || {
            format!(
                "paste too long: at most {PASTE_LIMIT} keystrokes may wait ({} still being \
                 typed); paste less at a time",
                self.strokes.len()
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
        if skipped.is_empty() {
            return Ok((strokes, None));
        }
        let mut note: String = skipped.into_iter().collect();
        if more_skipped {
            note.push('…');
        }
        Ok((strokes, Some(note)))
    }

    /// Stops typing: what is left is dropped.
    pub fn clear(&mut self) {
        self.strokes.clear();
        self.next = Half::Press;
    }

    /// The report to write at `now`: `None` when nothing is left or it is
    /// not yet time. `leds` are the target's: Caps Lock inverts letters.
    pub fn report(&self, leds: u8, now: Instant) -> Option<[u8; 8]> {
        let &PasteStroke { stroke, letter } = self.strokes.front()?;
        if self.due.is_some_and(|due| now < due) {
            return None;
        }
        let report = match self.next {
            Half::Release => KeyboardReport::default(),
            Half::Press => {
                let caps_lock = letter && leds & LED_CAPS_LOCK != 0;
                let modifiers = stroke.modifiers ^ if caps_lock { layout::LSHIFT } else { 0 };
                KeyboardReport::stroke(Some(stroke.usage), modifiers)
            }
        };
        Some(report.to_bytes())
    }

    /// The report from `report` was written at `now`.
    pub fn sent(&mut self, now: Instant) {
        self.due = Some(now + self.per_key / 2);
        self.next = match self.next {
            Half::Press => Half::Release,
            Half::Release => {
                self.strokes.pop_front();
                Half::Press
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hid::bench::{keys, typed, Bench};
    use crate::hid::sink::Fake;

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
    fn test_reading_paste_pace_from_settings() {
        let mut bench = Bench::new();
        let slower = crate::hid::settings::Change {
            paste_key: Some(Duration::from_millis(40)),
            ..Default::default()
        };
        bench.hid.change_settings(slower, bench.t0);
        assert_eq!(bench.paste("ab", None), Ok(None));
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(20)), "half of 40 ms");
        bench.hid.poll(bench.at(19));
        assert!(bench.keyboard.take().is_empty(), "not at the old 8 ms pace");
        bench.hid.poll(bench.at(20));
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        // Faster in the middle of a paste: the next report already keeps it.
        let faster = crate::hid::settings::Change {
            paste_key: Some(Duration::from_millis(4)),
            ..Default::default()
        };
        bench.hid.change_settings(faster, bench.at(20));
        bench.hid.poll(bench.at(40));
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x05])]);
        assert_eq!(bench.hid.poll_at(), Some(bench.at(42)));
        assert_eq!(bench.hid.status().paste_key, Duration::from_millis(4));
    }

    #[test]
    fn test_reading_paste_skipped_reported() {
        let mut bench = Bench::new();
        assert_eq!(bench.paste("é1€é2", None), Ok(Some("é€".into())));
        bench.run();
        assert_eq!(typed(&bench.keyboard.take()), [(0x1E, 0), (0x1F, 0)]);
    }

    #[test]
    fn test_reading_paste_check_types_nothing() {
        let mut bench = Bench::new();
        assert_eq!(bench.check("Grüße", None), Ok(Some("üß".into())));
        assert_eq!(bench.check("Grüße", Some("de")), Ok(None));
        assert!(bench.check(&"a".repeat(PASTE_LIMIT + 1), None).is_err());
        bench.run();
        assert!(bench.keyboard.take().is_empty(), "a check types nothing");
        assert_eq!(bench.hid.status().paste_queued, 0);
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
}

//! What an operator may change in the HID while kv runs
//! (`POST /api/hid/settings`, issue 14): the idle jiggle and the paste speed.
//! A request is checked whole before any of it applies, so a refused one
//! changes nothing.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::json::Value;

/// Jiggle intervals the API takes. Under 10 s the jiggle would fall into
/// the operator's own pauses; past an hour nearly every screen has locked.
pub const JIGGLE_SECONDS: RangeInclusive<u64> = 10..=3600;
/// Time per pasted keystroke (press, then release, half each) the API takes.
/// At 2 ms each half still gets its own poll of a 1 ms full-speed host; 1 s
/// is slower than the slowest BIOS needs.
pub const PASTE_KEY_MS: RangeInclusive<u64> = 2..=1000;
/// The pace paste has always had: ~60 characters a second, slow enough for a
/// BIOS or a busy target to keep up.
pub const PASTE_KEY_MS_DEFAULT: u64 = 16;

/// The fields a settings request may carry, for the message naming them.
const FIELDS: [&str; 2] = ["jiggle_seconds", "paste_key_ms"];

/// A checked settings request: `None` leaves a setting as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// `Some(None)` turns the jiggle off (`"jiggle_seconds": 0`).
    pub jiggle: Option<Option<Duration>>,
    pub paste_key: Option<Duration>,
}

impl Change {
    /// Reads `{"jiggle_seconds":60,"paste_key_ms":16}` (either may be left
    /// out); `Err` says which value is wrong and what would be right.
    pub fn parse(body: &str) -> Result<Change, String> {
        let example = "body must be JSON like {\"jiggle_seconds\":60,\"paste_key_ms\":16}";
        let Ok(Value::Object(fields)) = Value::parse(body) else {
            return Err(example.into());
        };
        let mut change = Change::default();
        for (name, value) in &fields {
            match name.as_str() {
                "jiggle_seconds" => {
                    change.jiggle = Some(match in_range(value, name, &JIGGLE_SECONDS, true)? {
                        0 => None,
                        seconds => Some(Duration::from_secs(seconds)),
                    });
                }
                "paste_key_ms" => {
                    let ms = in_range(value, name, &PASTE_KEY_MS, false)?;
                    change.paste_key = Some(Duration::from_millis(ms));
                }
                _ => {
                    return Err(format!(
                        "unknown setting '{}'; kv can change {}",
                        name.chars().take(32).collect::<String>(),
                        FIELDS.join(", ")
                    ))
                }
            }
        }
        if change == Change::default() {
            return Err(format!(
                "{example}: name at least one of {}",
                FIELDS.join(", ")
            ));
        }
        Ok(change)
    }
}

/// `value` as a whole number in `range` (or 0, meaning off, when
/// `zero_is_off`), else a message giving the range.
fn in_range(
    value: &Value,
    name: &str,
    range: &RangeInclusive<u64>,
    zero_is_off: bool,
) -> Result<u64, String> {
    let n = value.as_i64().and_then(|n| u64::try_from(n).ok());
    match n {
        Some(n) if range.contains(&n) || (zero_is_off && n == 0) => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from {} to {}{}",
            range.start(),
            range.end(),
            if zero_is_off { ", or 0 for off" } else { "" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_reading_settings_both() {
        let change = Change::parse(r#"{"jiggle_seconds":60,"paste_key_ms":40}"#);
        let expected = Change {
            jiggle: Some(Some(Duration::from_secs(60))),
            paste_key: Some(Duration::from_millis(40)),
        };
        assert_eq!(change, Ok(expected));
    }

    #[test]
    fn test_reading_settings_one_leaves_other() {
        let off = Change::parse(r#"{"jiggle_seconds":0}"#).unwrap();
        assert_eq!(off.jiggle, Some(None), "0 is off");
        assert_eq!(off.paste_key, None, "paste speed left alone");
        let bounds = Change::parse(r#"{"jiggle_seconds":3600,"paste_key_ms":2}"#).unwrap();
        assert_eq!(bounds.jiggle, Some(Some(Duration::from_secs(3600))));
        assert_eq!(bounds.paste_key, Some(Duration::from_millis(2)));
    }

    #[test]
    fn test_reading_settings_out_of_range_named() {
        for (body, field, range) in [
            (
                r#"{"jiggle_seconds":9}"#,
                "jiggle_seconds",
                "10 to 3600, or 0 for off",
            ),
            (r#"{"jiggle_seconds":3601}"#, "jiggle_seconds", "10 to 3600"),
            (r#"{"jiggle_seconds":-5}"#, "jiggle_seconds", "10 to 3600"),
            (r#"{"jiggle_seconds":"60"}"#, "jiggle_seconds", "10 to 3600"),
            (r#"{"paste_key_ms":1}"#, "paste_key_ms", "2 to 1000"),
            (r#"{"paste_key_ms":0}"#, "paste_key_ms", "2 to 1000"),
            (r#"{"paste_key_ms":16.5}"#, "paste_key_ms", "2 to 1000"),
            // A good value beside a bad one is refused with it.
            (
                r#"{"paste_key_ms":20,"jiggle_seconds":1}"#,
                "jiggle_seconds",
                "10 to 3600",
            ),
        ] {
            let e = Change::parse(body).expect_err(body);
            assert!(e.contains(field) && e.contains(range), "{body}: {e}");
        }
        let e = Change::parse(r#"{"paste_key_ms":0}"#).unwrap_err();
        assert!(!e.contains("off"), "paste cannot be off: {e}");
    }

    #[test]
    fn test_reading_settings_malformed() {
        for body in ["", "[]", "60", "{", "{}", "{\"jiggle_seconds\":60"] {
            let e = Change::parse(body).expect_err(body);
            assert!(
                e.contains("jiggle_seconds") && e.contains("paste_key_ms"),
                "{body}: {e}"
            );
        }
        let e = Change::parse(r#"{"jiggle":60}"#).unwrap_err();
        assert!(
            e.contains("unknown setting 'jiggle'") && e.contains("jiggle_seconds"),
            "{e}"
        );
    }
}

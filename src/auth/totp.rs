//! The optional second factor: time-based one-time passwords (RFC 6238) as
//! authenticator apps make them, and the recovery codes that stand in for a
//! lost phone.
//!
//! A code is HOTP (RFC 4226: HMAC-SHA1 of a counter, truncated to 6 digits)
//! of the 30-second step the wall clock is in. kv accepts the step before
//! and after too (a phone's clock drifts, a person types slowly), and never
//! a step at or before the last one a code was accepted for, so a code seen
//! over a shoulder or in a log cannot be used again.
//!
//! The wall clock is the weak point on boards without a battery-backed
//! clock: until NTP sets it, it may read 1970. Such a reading is refused with
//! what to do (`sys::clock::check_wall`); recovery codes need no clock.
//! Nothing here reads the clock: every check takes `now` in Unix seconds.

use std::fmt;

use ring::digest::{digest, SHA256};
use ring::hmac;

use super::{constant_time_eq, random_bytes};
use crate::json::{self, Object, Value};
use crate::sys::clock::{check_wall, WrongClock};

/// Seconds per time step (RFC 6238's default, which every app assumes).
const STEP: u64 = 30;
/// Digits of a code (what authenticator apps show).
const DIGITS: u32 = 6;
/// Bytes of a shared secret: RFC 4226 asks for 160 bits, HMAC-SHA1's size.
const SECRET_BYTES: usize = 20;
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes in a recovery code: 80 bits, 16 base32 letters. So many that
/// a fast hash of them is safe to store.
const RECOVERY_BYTES: usize = 10;

/// Why a code was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not the code of any step in the window, nor an unused recovery code.
    Wrong,
    /// The code of a step a code was already accepted for.
    Replayed,
    /// The wall clock cannot be believed, so no code can be checked.
    Clock(WrongClock),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Refusal::Wrong => f.write_str("wrong code"),
            Refusal::Replayed => f.write_str("this code was used already: wait for the next one"),
            Refusal::Clock(clock) => clock.fmt(f),
        }
    }
}

/// What a right code was.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// The app's code for the current time.
    Code,
    /// A recovery code, now spent; `left` remain.
    Recovery { left: usize },
}

/// An account's enrolled second factor, as the accounts file keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct Factor {
    secret: Vec<u8>,
    /// The newest step a code was accepted for (0: none yet).
    last_step: u64,
    /// SHA-256 of each unused recovery code (hex).
    recovery: Vec<String>,
}

impl fmt::Debug for Factor {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Factor {{ secret: <hidden>, last_step: {}, recovery codes left: {} }}",
            self.last_step,
            self.recovery.len()
        )
    }
}

/// A secret shown to the user but not yet proven: enrolment is complete only
/// when a code from the app matches (`confirm`), so a mistyped or unscanned
/// secret can never lock anyone out.
#[derive(Clone)]
pub struct Enrolment {
    secret: Vec<u8>,
}

impl Enrolment {
    /// A fresh random secret.
    pub fn begin() -> Result<Enrolment, String> {
        Ok(Enrolment {
            secret: random_bytes::<SECRET_BYTES>()?.to_vec(),
        })
    }

    /// The secret as the user may type it into an app (base32).
    pub fn secret(&self) -> String {
        base32_encode(&self.secret)
    }

    /// The `otpauth://` URI an app reads from the QR code.
    pub fn uri(&self, user: &str) -> String {
        let user = percent_encode(user);
        format!(
            "otpauth://totp/kv:{user}?secret={}&issuer=kv",
            self.secret()
        )
    }

    /// With a right code from the app: the factor to store, and the recovery
    /// codes to show the user this once (only their hashes are kept).
    pub fn confirm(&self, code: &str, now: u64) -> Result<(Factor, Vec<String>), Refusal> {
        let mut factor = Factor {
            secret: self.secret.clone(),
            last_step: 0,
            recovery: Vec::new(),
        };
        factor.check_code(code, now)?;
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let bytes = random_bytes::<RECOVERY_BYTES>().map_err(|e| {
                log::error!("recovery codes: {e}");
                Refusal::Wrong
            })?;
            factor.recovery.push(recovery_hash(&bytes));
            codes.push(recovery_text(&bytes));
        }
        Ok((factor, codes))
    }
}

impl Factor {
    /// Checks what the user typed: a 6-digit code from the app, or one of
    /// the recovery codes (spent on use). The caller stores the factor again
    /// after an `Ok`, since it changed.
    pub fn check(&mut self, typed: &str, now: u64, floor: u64) -> Result<Accepted, Refusal> {
        if let Some(bytes) = recovery_bytes(typed) {
            let hash = recovery_hash(&bytes);
            // Compared with every stored hash, so the time taken does not
            // say which one matched.
            let mut found = None;
            for (i, stored) in self.recovery.iter().enumerate() {
                if constant_time_eq(stored.as_bytes(), hash.as_bytes()) {
                    found = Some(i);
                }
            }
            let i = found.ok_or(Refusal::Wrong)?;
            self.recovery.remove(i);
            return Ok(Accepted::Recovery {
                left: self.recovery.len(),
            });
        }
        check_wall(now, floor).map_err(Refusal::Clock)?;
        self.check_code(typed, now).map(|()| Accepted::Code)
    }

    /// A 6-digit code of the step `now` is in, or the one before or after,
    /// newer than the last step accepted.
    fn check_code(&mut self, typed: &str, now: u64) -> Result<(), Refusal> {
        let typed = typed.trim();
        if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::Wrong);
        }
        let step = now / STEP;
        let mut matched = None;
        for s in step.saturating_sub(1)..=step + 1 {
            let code = format!("{:06}", hotp(&self.secret, s, DIGITS));
            if constant_time_eq(code.as_bytes(), typed.as_bytes()) {
                matched = Some(s);
            }
        }
        match matched {
            None => Err(Refusal::Wrong),
            Some(s) if s <= self.last_step => Err(Refusal::Replayed),
            Some(s) => {
                self.last_step = s;
                Ok(())
            }
        }
    }

    pub fn recovery_left(&self) -> usize {
        self.recovery.len()
    }

    /// The factor as a JSON object for the accounts file.
    pub fn to_json(&self) -> String {
        Object::new()
            .str("secret", &base32_encode(&self.secret))
            .num("last_step", self.last_step)
            .raw(
                "recovery",
                &json::array(self.recovery.iter().map(|h| json::quote(h))),
            )
            .finish()
    }

    /// Reads what `to_json` wrote, or says what is wrong with it.
    pub fn from_json(value: &Value) -> Result<Factor, String> {
        let secret = value
            .get("secret")
            .and_then(Value::as_str)
            .and_then(base32_decode)
            .filter(|s| s.len() >= 10)
            .ok_or("totp: \"secret\" is not a base32 secret of at least 80 bits")?;
        let last_step = value.get("last_step").and_then(Value::as_i64).unwrap_or(0);
        let recovery = match value.get("recovery") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("totp: \"recovery\" holds something other than hashes")?,
            _ => Vec::new(),
        };
        Ok(Factor {
            secret,
            last_step: u64::try_from(last_step).unwrap_or(0),
            recovery,
        })
    }
}

/// RFC 4226's HOTP: HMAC-SHA1 of the big-endian counter, dynamically
/// truncated to 31 bits, the last `digits` decimal digits of that.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let word = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    (word & 0x7fff_ffff) % 10u32.pow(digits)
}

/// RFC 4648's base32 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 without padding, as otpauth URIs carry secrets.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[(buffer >> bits) as usize & 31] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[(buffer << (5 - bits)) as usize & 31] as char);
    }
    out
}

/// Base32 in either case, padding optional; `None` for any other letter.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = BASE32.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// A recovery code as shown: 16 lower-case base32 letters in groups of 4.
fn recovery_text(bytes: &[u8]) -> String {
    let letters = base32_encode(bytes).to_ascii_lowercase();
    let groups: Vec<&str> = (0..letters.len())
        .step_by(4)
        .map(|i| &letters[i..(i + 4).min(letters.len())])
        .collect();
    groups.join("-")
}

/// The bytes of a typed recovery code (dashes, spaces and case ignored), or
/// `None` when it is not shaped like one (then it may be an app's code).
fn recovery_bytes(typed: &str) -> Option<Vec<u8>> {
    let letters: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    match letters.len() == RECOVERY_BYTES * 8 / 5 {
        true => base32_decode(&letters).filter(|b| b.len() == RECOVERY_BYTES),
        false => None,
    }
}

/// The stored form of a recovery code: 80 random bits need no slow hash.
fn recovery_hash(bytes: &[u8]) -> String {
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A user name in the URI's path: unreserved characters as they are, every
/// other byte as %XX.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret of RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1).
    const RFC_SECRET: &[u8] = b"12345678901234567890";
    /// A fixed wall clock for the tests, and a floor before it.
    const NOW: u64 = 1_800_000_000;
    const FLOOR: u64 = 1_700_000_000;

    fn factor(secret: &[u8]) -> Factor {
        Factor {
            secret: secret.to_vec(),
            last_step: 0,
            recovery: Vec::new(),
        }
    }

    fn code_at(secret: &[u8], time: u64) -> String {
        format!("{:06}", hotp(secret, time / STEP, DIGITS))
    }

    #[test]
    fn test_hotp_rfc4226_vectors() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in want.into_iter().enumerate() {
            assert_eq!(
                hotp(RFC_SECRET, counter as u64, 6),
                want,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn test_totp_rfc6238_vectors() {
        for (time, want) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(RFC_SECRET, time / STEP, 8), want, "T={time}");
            // The same codes, checked as kv checks them (6 digits).
            let mut f = factor(RFC_SECRET);
            let six = format!("{:06}", want % 1_000_000);
            assert_eq!(f.check_code(&six, time), Ok(()), "T={time}");
        }
    }

    #[test]
    fn test_check_window_one_step_each_side() {
        let mut f = factor(RFC_SECRET);
        assert_eq!(
            f.check(&code_at(RFC_SECRET, NOW - STEP), NOW, FLOOR),
            Ok(Accepted::Code)
        );
        let mut f2 = factor(RFC_SECRET);
        assert_eq!(
            f2.check(&code_at(RFC_SECRET, NOW + STEP), NOW, FLOOR),
            Ok(Accepted::Code)
        );
        for off in [2 * STEP, 3 * STEP] {
            assert_eq!(
                f.check(&code_at(RFC_SECRET, NOW - off), NOW, FLOOR),
                Err(Refusal::Wrong)
            );
            assert_eq!(
                f.check(&code_at(RFC_SECRET, NOW + off), NOW, FLOOR),
                Err(Refusal::Wrong)
            );
        }
        for typed in ["", "12345", "1234567", "abcdef", "12 456"] {
            assert_eq!(f.check(typed, NOW, FLOOR), Err(Refusal::Wrong), "{typed:?}");
        }
    }

    #[test]
    fn test_check_replay_refused() {
        let mut f = factor(RFC_SECRET);
        let code = code_at(RFC_SECRET, NOW);
        assert_eq!(f.check(&code, NOW, FLOOR), Ok(Accepted::Code));
        assert_eq!(f.check(&code, NOW + 1, FLOOR), Err(Refusal::Replayed));
        // The previous step's code is older than the one used: refused too.
        let before = code_at(RFC_SECRET, NOW - STEP);
        assert_eq!(f.check(&before, NOW, FLOOR), Err(Refusal::Replayed));
        // The next step's code is new.
        let next = code_at(RFC_SECRET, NOW + STEP);
        assert_eq!(f.check(&next, NOW + STEP, FLOOR), Ok(Accepted::Code));
    }

    #[test]
    fn test_check_wrong_clock_refuses_codes_not_recovery() {
        let enrolment = Enrolment::begin().unwrap();
        let (mut f, codes) = enrolment
            .confirm(&code_at(&enrolment.secret, NOW), NOW)
            .unwrap();
        let unset_clock = 40; // 1970, as a board without RTC boots
        let code = code_at(&enrolment.secret, unset_clock);
        let Err(Refusal::Clock(wrong)) = f.check(&code, unset_clock, FLOOR) else {
            panic!("a code with a 1970 clock must be refused for the clock");
        };
        let message = Refusal::Clock(wrong).to_string();
        assert!(
            message.contains("1970-01-01T00:00:40Z") && message.contains("NTP"),
            "{message}"
        );
        assert!(matches!(
            f.check(&code, FLOOR + 100 * 365 * 86_400, FLOOR),
            Err(Refusal::Clock(_))
        ));
        assert_eq!(
            f.check(&codes[0], unset_clock, FLOOR),
            Ok(Accepted::Recovery { left: 9 })
        );
    }

    #[test]
    fn test_recovery_code_works_once() {
        let enrolment = Enrolment::begin().unwrap();
        assert_eq!(enrolment.confirm("000000", 0).err(), Some(Refusal::Wrong));
        let (mut f, codes) = enrolment
            .confirm(&code_at(&enrolment.secret, NOW), NOW)
            .unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(f.recovery_left(), RECOVERY_CODES);
        assert_eq!(codes[3].len(), 19, "{}", codes[3]);
        let typed = codes[3].to_uppercase().replace('-', " ");
        assert_eq!(
            f.check(&typed, NOW, FLOOR),
            Ok(Accepted::Recovery { left: 9 })
        );
        assert_eq!(f.check(&codes[3], NOW, FLOOR), Err(Refusal::Wrong));
        assert_eq!(
            f.check(&codes[4], NOW, FLOOR),
            Ok(Accepted::Recovery { left: 8 })
        );
        // Nothing of a code is stored, only its hash.
        let stored = f.to_json();
        for code in &codes {
            assert!(!stored.contains(code.as_str()) && !stored.contains(&code.replace('-', "")));
        }
    }

    #[test]
    fn test_factor_json_round_trip() {
        let enrolment = Enrolment::begin().unwrap();
        let (mut f, codes) = enrolment
            .confirm(&code_at(&enrolment.secret, NOW), NOW)
            .unwrap();
        f.check(&codes[0], NOW, FLOOR).unwrap();
        let back = Factor::from_json(&Value::parse(&f.to_json()).unwrap()).unwrap();
        assert_eq!(back, f);
        assert!(format!("{f:?}").contains("<hidden>"));
        for bad in [
            r#"{}"#,
            r#"{"secret":"01!"}"#,
            r#"{"secret":"GEZDGNBVGY3TQOJQ","recovery":[1]}"#,
        ] {
            assert!(
                Factor::from_json(&Value::parse(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn test_base32_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), coded);
            assert_eq!(base32_decode(coded).unwrap(), plain.as_bytes());
            assert_eq!(
                base32_decode(&coded.to_lowercase()).unwrap(),
                plain.as_bytes()
            );
        }
        assert_eq!(base32_decode("MZXW6==="), Some(b"foo".to_vec()));
        assert_eq!(base32_decode("MZ1W"), None);
    }

    #[test]
    fn test_enrolment_secret_and_uri() {
        let e = Enrolment::begin().unwrap();
        assert_eq!(e.secret().len(), 32, "160 bits are 32 base32 letters");
        assert_ne!(e.secret(), Enrolment::begin().unwrap().secret());
        assert_eq!(
            e.uri("ann b"),
            format!("otpauth://totp/kv:ann%20b?secret={}&issuer=kv", e.secret())
        );
    }
}

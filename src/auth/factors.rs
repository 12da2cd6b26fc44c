//! Second factors at run time: the enrolments waiting for their first code,
//! and the wrong codes each account has had.
//!
//! Wrong codes are counted per account, not per address: only someone who
//! knows the password reaches the code, and a right password (which clears
//! its address's failures) must not reset the count of codes guessed after
//! it. The delays are those of wrong passwords (`delay_after`).

use std::time::{Duration, Instant};

use super::delay_after;
use super::totp::Enrolment;

/// An enrolment not confirmed by then is forgotten: begin again.
const ENROLMENT_LIFE: Duration = Duration::from_secs(10 * 60);
/// Enrolments at once (one per account; the oldest goes first).
const MAX_ENROLMENTS: usize = 16;
/// Accounts whose wrong codes are remembered; beyond it the stalest goes.
const MAX_COUNTED: usize = 256;
/// An account's wrong codes are forgotten this long after the last one.
const FORGET_WRONG: Duration = Duration::from_secs(15 * 60);

struct Waiting {
    user: String,
    enrolment: Enrolment,
    since: Instant,
}

struct Wrong {
    user: String,
    count: u32,
    last: Instant,
    locked_until: Instant,
}

#[derive(Default)]
pub struct Factors {
    waiting: Vec<Waiting>,
    wrong: Vec<Wrong>,
}

impl Factors {
    /// A new secret for `user` to scan, replacing one they had not confirmed.
    pub fn begin(&mut self, user: &str, now: Instant) -> Result<Enrolment, String> {
        self.forget(now);
        let enrolment = Enrolment::begin()?;
        self.waiting.retain(|w| w.user != user);
        if self.waiting.len() >= MAX_ENROLMENTS {
            self.waiting.remove(0);
        }
        self.waiting.push(Waiting {
            user: user.into(),
            enrolment: enrolment.clone(),
            since: now,
        });
        Ok(enrolment)
    }

    /// The secret `user` is enrolling, if they began within `ENROLMENT_LIFE`.
    pub fn enrolling(&mut self, user: &str, now: Instant) -> Option<&Enrolment> {
        self.forget(now);
        self.waiting
            .iter()
            .find(|w| w.user == user)
            .map(|w| &w.enrolment)
    }

    /// The enrolment is done (or abandoned): its secret is forgotten here.
    pub fn finish(&mut self, user: &str) {
        self.waiting.retain(|w| w.user != user);
    }

    /// How long `user` must wait before a code of theirs is checked again.
    pub fn locked(&self, user: &str, now: Instant) -> Option<Duration> {
        self.wrong
            .iter()
            .find(|w| w.user == user && now < w.locked_until)
            .map(|w| w.locked_until - now)
    }

    /// A wrong code for `user`: the answer waits until the returned time,
    /// and their codes are refused unchecked until then.
    pub fn wrong_code(&mut self, user: &str, now: Instant) -> Instant {
        self.forget(now);
        let i = match self.wrong.iter().position(|w| w.user == user) {
            Some(i) => i,
            None => {
                if self.wrong.len() >= MAX_COUNTED {
                    let stalest = (0..self.wrong.len()).min_by_key(|&i| self.wrong[i].last);
                    if let Some(i) = stalest {
                        self.wrong.swap_remove(i);
                    }
                }
                self.wrong.push(Wrong {
                    user: user.into(),
                    count: 0,
                    last: now,
                    locked_until: now,
                });
                self.wrong.len() - 1
            }
        };
        let w = &mut self.wrong[i];
        w.count = w.count.saturating_add(1);
        w.last = now;
        w.locked_until = now + delay_after(w.count);
        log::warn!(
            "{user}: wrong one-time code ({} in a row); their codes are refused for {:.1} s",
            w.count,
            delay_after(w.count).as_secs_f64()
        );
        w.locked_until
    }

    /// A right code: `user`'s count starts again.
    pub fn right_code(&mut self, user: &str) {
        self.wrong.retain(|w| w.user != user);
    }

    fn forget(&mut self, now: Instant) {
        self.waiting
            .retain(|w| now.saturating_duration_since(w.since) < ENROLMENT_LIFE);
        self.wrong.retain(|w| {
            now.saturating_duration_since(w.last) < FORGET_WRONG || now < w.locked_until
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_wrong_codes_double_per_account_until_right() {
        let mut f = Factors::default();
        let t0 = Instant::now();
        assert_eq!(f.locked("ann", t0), None);
        let until = f.wrong_code("ann", t0);
        assert_eq!(until - t0, Duration::from_millis(500));
        assert_eq!(f.locked("ann", t0), Some(Duration::from_millis(500)));
        assert_eq!(f.locked("bob", t0), None, "counted per account");
        let t1 = until;
        assert_eq!(f.locked("ann", t1), None);
        assert_eq!(f.wrong_code("ann", t1) - t1, Duration::from_secs(1));
        f.right_code("ann");
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(f.wrong_code("ann", t2) - t2, Duration::from_millis(500));
    }

    #[test]
    fn test_enrolment_expires_and_is_replaced() {
        let mut f = Factors::default();
        let t0 = Instant::now();
        let first = f.begin("ann", t0).unwrap().secret();
        let second = f.begin("ann", t0).unwrap().secret();
        assert_ne!(first, second);
        assert_eq!(f.enrolling("ann", t0).map(Enrolment::secret), Some(second));
        assert!(f.enrolling("bob", t0).is_none());
        assert!(f.enrolling("ann", t0 + ENROLMENT_LIFE).is_none());
        for i in 0..MAX_ENROLMENTS + 3 {
            f.begin(&format!("u{i}"), t0).unwrap();
        }
        assert_eq!(f.waiting.len(), MAX_ENROLMENTS);
        f.finish("u18");
        assert!(f.enrolling("u18", t0).is_none());
    }

    #[test]
    fn test_wrong_bounded() {
        let mut f = Factors::default();
        let t0 = Instant::now();
        for i in 0..MAX_COUNTED + 10 {
            f.wrong_code(&format!("u{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(f.wrong.len(), MAX_COUNTED);
    }
}

//! Clocks as numbers: CLOCK_MONOTONIC for timestamps other processes on the
//! same machine can compare with (`X-Timestamp-Us`; `Instant` hides it), and
//! the thread's CPU time for the benches, which on a shared machine must not
//! count the time other processes held the core. And the wall clock, which
//! on boards without a battery-backed clock may read anything until NTP has
//! set it: `check_wall` says when a reading cannot be believed.

use std::fmt;
use std::io;
use std::time::{Duration, SystemTime};

/// CLOCK_MONOTONIC now.
pub fn monotonic() -> io::Result<Duration> {
    read(libc::CLOCK_MONOTONIC)
}

/// The CPU time the calling thread has used.
pub fn thread_cpu() -> io::Result<Duration> {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The wall clock in whole seconds since the Unix epoch (0 before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When kv's source was committed (set by build.rs), in Unix seconds: no
/// board running this binary can be earlier.
pub fn source_time() -> u64 {
    env!("KV_SOURCE_TIME").parse().unwrap_or(0)
}

/// A clock this far past kv's source is wrong too (a corrupt RTC, a bad
/// `date -s`): nobody runs a build that old.
const WALL_AHEAD: u64 = 20 * 365 * 24 * 3600;

/// A wall-clock reading that cannot be the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongClock {
    pub reads: u64,
    pub floor: u64,
}

/// Whether the wall clock reading `now` can be believed, given that it
/// cannot be earlier than `floor` (`source_time`).
pub fn check_wall(now: u64, floor: u64) -> Result<(), WrongClock> {
    match now < floor || now > floor.saturating_add(WALL_AHEAD) {
        true => Err(WrongClock { reads: now, floor }),
        false => Ok(()),
    }
}

impl fmt::Display for WrongClock {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let when = match self.reads < self.floor {
            true => "earlier than this kv was made",
            false => "decades after this kv was made",
        };
        write!(
            f,
            "the board's clock reads {} ({when}, {}), so time-based codes cannot be checked; \
             set the time with NTP (`timedatectl set-ntp true`) or by hand \
             (`date -u -s 'YYYY-MM-DD HH:MM:SS'`), or use a recovery code",
            rfc3339(self.reads),
            rfc3339(self.floor)
        )
    }
}

/// `secs` since the Unix epoch as RFC 3339 in UTC, `2026-12-03T06:30:09Z`.
pub fn rfc3339(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days to a civil date in the proleptic Gregorian calendar, counting in
    // 400-year eras that start on 1 March (so the leap day ends a year).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn read(clock: libc::clockid_t) -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_111_111_109), "2005-03-18T01:58:29Z");
        assert_eq!(rfc3339(2_000_000_000), "2033-05-18T03:33:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn test_check_wall_before_source_and_far_ahead() {
        let floor = 1_764_700_000;
        assert_eq!(check_wall(floor + 60, floor), Ok(()));
        let unset = check_wall(5, floor).unwrap_err();
        let message = unset.to_string();
        assert!(message.contains("reads 1970-01-01T00:00:05Z"), "{message}");
        assert!(message.contains("timedatectl set-ntp true"), "{message}");
        assert!(message.contains("date -u -s"), "{message}");
        assert!(check_wall(floor + WALL_AHEAD + 1, floor).is_err());
        assert!(
            source_time() > 1_700_000_000,
            "build.rs sets KV_SOURCE_TIME"
        );
    }
}

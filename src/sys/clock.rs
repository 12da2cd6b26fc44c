//! The monotonic clock as a number, for timestamps other processes on the
//! same machine can compare with (`X-Timestamp-Us`); `Instant` hides it.

use std::io;
use std::time::Duration;

/// CLOCK_MONOTONIC now.
pub fn monotonic() -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

//! Clocks as numbers: CLOCK_MONOTONIC for timestamps other processes on the
//! same machine can compare with (`X-Timestamp-Us`; `Instant` hides it), and
//! the thread's CPU time for the benches, which on a shared machine must not
//! count the time other processes held the core.

use std::io;
use std::time::Duration;

/// CLOCK_MONOTONIC now.
pub fn monotonic() -> io::Result<Duration> {
    read(libc::CLOCK_MONOTONIC)
}

/// The CPU time the calling thread has used.
pub fn thread_cpu() -> io::Result<Duration> {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
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

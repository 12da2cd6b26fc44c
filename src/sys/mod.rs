//! The only place with `unsafe`: thin, checked wrappers over Linux syscalls and
//! ioctls that the crates in use do not cover. Each wrapper returns `io::Result`.
#![allow(unsafe_code)]

pub mod clock;
pub mod fs;
pub mod inotify;
pub mod netlink;
pub mod process;
pub mod rlimit;
pub mod signal;
pub mod socket;
pub mod tty;
pub mod v4l2;

/// The kernel's memory page size, for turning `/proc/self/statm` pages into bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf only reads a constant of the running kernel.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // sysconf answers -1 only for names it does not know; 4 KiB is every ARM board's page.
    u64::try_from(size).unwrap_or(4096)
}

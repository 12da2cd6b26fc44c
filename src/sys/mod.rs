//! The only place with `unsafe`: thin, checked wrappers over Linux syscalls and
//! ioctls that the crates in use do not cover. Each wrapper returns `io::Result`.
#![allow(unsafe_code)]

pub mod clock;
pub mod fs;
pub mod gpio;
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

/// Issues one ioctl, retrying when a signal interrupts it. The caller's
/// `arg` must be the argument `request` encodes (its wrappers pair each
/// request with its structure), which is what makes the call sound.
fn ioctl<T>(
    fd: std::os::fd::BorrowedFd,
    request: libc::c_ulong,
    arg: &mut T,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: `arg` is a live, exclusive, correctly sized argument for
        // `request` (see above); the kernel reads/writes only within it.
        // `syscall` sidesteps libc's per-target `ioctl` request type.
        let ret = unsafe { libc::syscall(libc::SYS_ioctl, fd.as_raw_fd(), request, arg as *mut T) };
        if ret != -1 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A zero-initialised ioctl argument.
fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for the kernel's plain C argument structs (integers,
    // arrays, unions of those and raw pointers), for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// A kernel's NUL-terminated name field as text.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

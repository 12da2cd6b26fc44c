//! SIGINT, SIGTERM and SIGCHLD as a readable descriptor (signalfd), so
//! shutdown and a supervised child's exit are events in the poll loop
//! instead of handlers racing it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    /// Blocks SIGINT/SIGTERM/SIGCHLD for normal delivery and opens a non-blocking
    /// signalfd that reports them instead. Call before any thread exists.
    pub fn new() -> io::Result<Signals> {
        // SAFETY: plain libc calls on a zeroed, locally owned sigset.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut mask);
            libc::sigaddset(&mut mask, libc::SIGINT);
            libc::sigaddset(&mut mask, libc::SIGTERM);
            // kv's children get an empty mask again (process::prepare_child).
            libc::sigaddset(&mut mask, libc::SIGCHLD);
            if libc::sigprocmask(libc::SIG_BLOCK, &mask, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::signalfd(-1, &mask, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// The signals received since the last call (drained until EAGAIN).
    pub fn read(&self) -> Vec<i32> {
        let mut got = Vec::new();
        loop {
            let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
            // SAFETY: reads at most info.len() bytes into a local buffer.
            let n =
                unsafe { libc::read(self.fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
            if n != info.len() as isize {
                return got;
            }
            // ssi_signo is the first u32 of struct signalfd_siginfo.
            got.push(u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as i32);
        }
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

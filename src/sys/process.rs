//! Child processes kv supervises (dnsmasq): they die with kv even when kv
//! itself is killed, and are asked to stop with SIGTERM.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the child receive SIGTERM when kv dies, however it dies: a dnsmasq
/// left behind keeps the interface's DHCP port and outlives kv's gadget.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: getpid is async-signal-safe.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            // kv died between fork and prctl: nobody would ever stop this child.
            if libc::getppid() != parent {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            Ok(())
        });
    }
}

/// Sends SIGTERM to `pid`.
pub fn terminate(pid: u32) -> io::Result<()> {
    // Never 0 or negative: kill(2) would signal a whole process group.
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) with a positive pid touches nothing in this process.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

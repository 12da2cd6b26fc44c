//! Child processes kv supervises (dnsmasq): they start with no signal
//! blocked and are asked to stop with SIGTERM.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Prepares `command` to run as kv's supervised child: its signal mask is
/// emptied. kv blocks SIGTERM, SIGINT and SIGCHLD for its signalfd, a child
/// inherits that mask, and std does not reset it on every target (a musl
/// build's dnsmasq never saw kv's SIGTERM). A parent-death signal would be
/// of no use: dnsmasq drops root, which clears it (see
/// net::dnsmasq::stop_stale for what kv does instead).
pub fn prepare_child(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (sigemptyset, sigprocmask) on its own
    // stack; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_prepare_child_unblocks_signals() {
        let _signals = crate::sys::signal::Signals::new().expect("signalfd");
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "grep SigBlk /proc/self/status"]);
        prepare_child(&mut command);
        let out = command.output().expect("ran sh");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.split_whitespace().nth(1),
            Some("0000000000000000"),
            "{text}"
        );
    }

    #[test]
    fn test_terminate_refuses_process_groups() {
        assert!(terminate(0).is_err());
        assert!(terminate(u32::MAX).is_err());
    }
}

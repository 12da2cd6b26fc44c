//! The gadget's side of the CDC ACM port, `/dev/ttyGSn`, opened
//! non-blocking in raw mode. When the USB host goes away the kernel hangs
//! the tty up (u_serial's disconnect): reads end (0 bytes or EIO) and the
//! file is useless, so kv closes it and opens the node again a moment
//! later; the port itself lives as long as the gadget's function, so the
//! new file works when the host comes back and opens its end.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Port;

/// How long after a hang-up (or a failed open) the node is opened again.
const REOPEN: Duration = Duration::from_millis(500);

pub struct TtyPort {
    path: PathBuf,
    file: Option<File>,
    epoch: u64,
    reopen_at: Option<Instant>,
    /// The last open error, logged once until the port opens again.
    failing: Option<String>,
}

impl TtyPort {
    /// Opens `path` (e.g. `/dev/ttyGS0`); a node that cannot be opened yet
    /// is retried, not fatal.
    pub fn new(path: PathBuf, now: Instant) -> TtyPort {
        let mut port = TtyPort {
            path,
            file: None,
            epoch: 0,
            reopen_at: None,
            failing: None,
        };
        port.open(now);
        port
    }

    fn open(&mut self, now: Instant) {
        let opened = File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&self.path)
            .and_then(|file| crate::sys::tty::set_raw(&file).map(|()| file));
        match opened {
            Ok(file) => {
                if self.failing.take().is_some() || self.epoch == 0 {
                    log::info!("🖥️  Serial console on {}", self.path.display());
                }
                self.file = Some(file);
                self.epoch += 1;
                self.reopen_at = None;
            }
            Err(e) => {
                let why = format!(
                    "{}: {e} — is the gadget's serial function (usb_f_acm) there?",
                    self.path.display()
                );
                if self.failing.as_ref() != Some(&why) {
                    log::warn!("🖥️  {why}; retrying");
                    self.failing = Some(why);
                }
                self.reopen_at = Some(now + REOPEN);
            }
        }
    }

    /// The host hung up: drop the file, open the node again soon.
    fn hung_up(&mut self, why: &str) {
        log::debug!("{}: {why}; reopening", self.path.display());
        self.file = None;
        self.epoch += 1;
        self.reopen_at = Some(Instant::now() + REOPEN);
    }
}

impl Port for TtyPort {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let file = self.file.as_mut().ok_or(ErrorKind::WouldBlock)?;
        match file.read(buf) {
            Ok(0) => {
                self.hung_up("end of file");
                Err(ErrorKind::WouldBlock.into())
            }
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                self.hung_up("hung up (EIO)");
                Err(ErrorKind::WouldBlock.into())
            }
            other => other,
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self.file.as_mut().ok_or(ErrorKind::WouldBlock)?;
        match file.write(buf) {
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                self.hung_up("hung up (EIO)");
                Err(ErrorKind::WouldBlock.into())
            }
            other => other,
        }
    }

    fn fd(&self) -> Option<RawFd> {
        self.file.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn fd_epoch(&self) -> u64 {
        self.epoch
    }

    fn poll_at(&self) -> Option<Instant> {
        self.reopen_at
    }

    fn on_timer(&mut self, now: Instant) {
        self.open(now);
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

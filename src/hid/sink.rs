//! The real side of `HidSink`: a gadget HID device (`/dev/hidgN`) opened
//! non-blocking, one whole report per write, the keyboard's LED output report
//! read back. Also what a failed write means (`Refusal`), and, for tests, a
//! queue-backed fake that can refuse writes the way a host does.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::HidSink;

/// Why a report was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// EAGAIN: the host has not yet taken the previous report (it polls the
    /// endpoint every few milliseconds, or it is asleep).
    Busy,
    /// ESHUTDOWN (the gadget is not connected or not configured by a host) or
    /// EPIPE (a FIFO with no reader): nobody is reading.
    Gone,
    /// Anything else, including a short write: worth a warning.
    Broken,
}

impl Refusal {
    pub fn of(error: &io::Error) -> Refusal {
        if error.kind() == ErrorKind::WouldBlock {
            return Refusal::Busy;
        }
        match error.raw_os_error() {
            Some(libc::ESHUTDOWN) | Some(libc::EPIPE) => Refusal::Gone,
            _ => Refusal::Broken,
        }
    }

    /// Busy and Gone are the host not reading: normal while the target is off,
    /// unplugged or asleep, so not logged as errors.
    pub fn host_not_reading(self) -> bool {
        self != Refusal::Broken
    }
}

/// A gadget HID function's character device, e.g. `/dev/hidg0`.
pub struct HidgFile {
    name: String,
    path: PathBuf,
    /// `None` while closed: the gadget left its controller, and a file held
    /// across its rebind can crash the kernel (see `hid::nodes`).
    file: Option<File>,
}

impl HidgFile {
    /// Opens `path` read-write and non-blocking: a write never waits for a host.
    pub fn open(path: &Path) -> io::Result<HidgFile> {
        let name = path.display().to_string();
        let file = open_node(path, &name)?;
        Ok(HidgFile {
            name,
            path: path.to_path_buf(),
            file: Some(file),
        })
    }
}

fn open_node(path: &Path, name: &str) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_error(name, e))
}

fn open_error(name: &str, error: io::Error) -> io::Error {
    let hint = match error.kind() {
        ErrorKind::NotFound => {
            "no such device — is the USB gadget set up with this HID function? \
             Pass the right path with --hid-keyboard, --hid-mouse or --hid-mouse-rel"
        }
        ErrorKind::PermissionDenied => "permission denied — is kv running as root?",
        _ => "",
    };
    if hint.is_empty() {
        io::Error::new(error.kind(), format!("{name}: {error}"))
    } else {
        io::Error::new(error.kind(), format!("{name}: {hint}"))
    }
}

/// A report goes out whole or not at all: a short write is an error.
fn whole_report(name: &str, written: usize, report: &[u8]) -> io::Result<()> {
    if written == report.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            ErrorKind::WriteZero,
            format!(
                "{name}: short write ({written} of {} bytes) — does the gadget's \
                 report_length match kv's reports?",
                report.len()
            ),
        ))
    }
}

impl HidSink for HidgFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, report: &[u8]) -> io::Result<()> {
        // Closed: the gadget is on no controller, so no host is reading.
        let Some(file) = &mut self.file else {
            return Err(io::Error::from_raw_os_error(libc::ESHUTDOWN));
        };
        loop {
            match file.write(report) {
                Ok(written) => return whole_report(&self.name, written, report),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn read_output(&mut self) -> io::Result<Option<u8>> {
        // The host may have sent several LED reports since the last look: only
        // the newest matters. Edge-triggered polling needs the drain anyway.
        let mut newest = None;
        let mut buf = [0u8; 64];
        let Some(file) = &mut self.file else {
            return Ok(None);
        };
        loop {
            match file.read(&mut buf) {
                Ok(0) => return Ok(newest),
                // hidg returns one 1-byte report per read; a FIFO (tests, demo)
                // may return several at once: the last byte is the newest.
                Ok(n) => newest = buf.get(..n).and_then(|b| b.last()).copied(),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if Refusal::of(&e).host_not_reading() => return Ok(newest),
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", self.name))),
            }
        }
    }

    fn fd(&self) -> Option<RawFd> {
        self.file.as_ref().map(File::as_raw_fd)
    }

    fn node(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn close(&mut self) {
        self.file = None;
    }

    fn reopen(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(open_node(&self.path, &self.name)?);
        }
        Ok(())
    }
}

#[cfg(test)]
pub use fake::{Fake, FakeSink};

#[cfg(test)]
mod fake {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::io;
    use std::os::fd::RawFd;
    use std::path::{Path, PathBuf};
    use std::rc::Rc;

    use super::whole_report;
    use crate::hid::HidSink;

    /// A fault the fake injects into a write.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fake {
        WouldBlock,
        Shutdown,
        BrokenPipe,
        /// Only this many bytes get written.
        Short(usize),
    }

    #[derive(Default)]
    pub struct State {
        /// Reports the host received, oldest first.
        pub written: Vec<Vec<u8>>,
        /// Faults for the next writes, one each, before `refuse_all` applies.
        pub next: VecDeque<Fake>,
        /// Refuse every write this way until cleared (host away).
        pub refuse_all: Option<Fake>,
        /// LED output reports the host sent, oldest first.
        pub leds: VecDeque<u8>,
        /// Closed by `close`, until `reopen`.
        pub closed: bool,
        /// How many times `reopen` opened it again.
        pub reopened: usize,
        /// `reopen` fails while set (the node is not back yet).
        pub refuse_open: bool,
    }

    /// A sink whose host the test controls through the shared `State`, with
    /// a device node when the test watches one.
    #[derive(Clone, Default)]
    pub struct FakeSink(pub Rc<RefCell<State>>, pub Option<PathBuf>);

    impl FakeSink {
        pub fn at_node(node: &Path) -> FakeSink {
            FakeSink(Rc::default(), Some(node.to_path_buf()))
        }

        pub fn boxed(&self) -> Option<Box<dyn HidSink>> {
            Some(Box::new(self.clone()))
        }

        pub fn state(&self) -> std::cell::RefMut<'_, State> {
            self.0.borrow_mut()
        }

        /// Takes the reports written so far.
        pub fn take(&self) -> Vec<Vec<u8>> {
            std::mem::take(&mut self.state().written)
        }
    }

    impl HidSink for FakeSink {
        fn name(&self) -> &str {
            "fake"
        }

        fn write(&mut self, report: &[u8]) -> io::Result<()> {
            let mut state = self.state();
            if state.closed {
                return Err(io::Error::from_raw_os_error(libc::ESHUTDOWN));
            }
            let fault = state.next.pop_front().or(state.refuse_all);
            match fault {
                None => {
                    state.written.push(report.to_vec());
                    Ok(())
                }
                Some(Fake::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
                Some(Fake::Shutdown) => Err(io::Error::from_raw_os_error(libc::ESHUTDOWN)),
                Some(Fake::BrokenPipe) => Err(io::Error::from_raw_os_error(libc::EPIPE)),
                Some(Fake::Short(n)) => whole_report("fake", n.min(report.len()), report),
            }
        }

        fn read_output(&mut self) -> io::Result<Option<u8>> {
            let mut state = self.state();
            let newest = state.leds.iter().last().copied();
            state.leds.clear();
            Ok(newest)
        }

        fn fd(&self) -> Option<RawFd> {
            None
        }

        fn node(&self) -> Option<&Path> {
            self.1.as_deref()
        }

        fn close(&mut self) {
            self.state().closed = true;
        }

        fn reopen(&mut self) -> io::Result<()> {
            let mut state = self.state();
            if state.closed {
                if state.refuse_open {
                    return Err(io::ErrorKind::NotFound.into());
                }
                state.closed = false;
                state.reopened += 1;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("kv-hid-{tag}-{}", std::process::id()))
    }

    #[test]
    fn test_refusal_of_errors() {
        assert_eq!(Refusal::of(&ErrorKind::WouldBlock.into()), Refusal::Busy);
        let eagain = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(Refusal::of(&eagain), Refusal::Busy);
        let shutdown = io::Error::from_raw_os_error(libc::ESHUTDOWN);
        assert_eq!(Refusal::of(&shutdown), Refusal::Gone);
        let pipe = io::Error::from_raw_os_error(libc::EPIPE);
        assert_eq!(Refusal::of(&pipe), Refusal::Gone);
        let eio = io::Error::from_raw_os_error(libc::EIO);
        assert_eq!(Refusal::of(&eio), Refusal::Broken);
        assert!(Refusal::Busy.host_not_reading() && Refusal::Gone.host_not_reading());
        assert!(!Refusal::Broken.host_not_reading());
    }

    #[test]
    fn test_closed_open_missing_names_path_and_fix() {
        let path = temp_path("missing");
        let error = HidgFile::open(&path).err().expect("missing device");
        assert_eq!(error.kind(), ErrorKind::NotFound);
        let message = error.to_string();
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        assert!(message.contains("--hid-keyboard"), "{message}");
    }

    #[test]
    fn test_open_write_whole_report() {
        let path = temp_path("file");
        std::fs::write(&path, b"").expect("temp file");
        let mut sink = HidgFile::open(&path).expect("opens");
        assert!(sink.fd().is_some());
        assert_eq!(sink.name(), path.display().to_string());
        sink.write(&[1, 2, 3, 4, 5]).expect("writes");
        assert_eq!(std::fs::read(&path).expect("read back"), [1, 2, 3, 4, 5]);
        std::fs::remove_file(&path).expect("cleanup");
    }

    /// A FIFO behaves like hidg towards a non-blocking reader: reads drain the
    /// LED reports queued by the "host" and then say EAGAIN.
    #[test]
    fn test_open_read_output_keeps_newest() {
        let path = temp_path("fifo");
        // libc::mkfifo is unsafe (and `unsafe` lives only in src/sys): use the tool.
        let status = std::process::Command::new("mkfifo").arg(&path).status();
        if !status.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: nothing to test against
        }
        let mut sink = HidgFile::open(&path).expect("opens");
        assert_eq!(sink.read_output().expect("empty"), None);
        let mut host = OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("host end");
        host.write_all(&[0x01, 0x02, 0x03]).expect("host writes");
        assert_eq!(sink.read_output().expect("reads"), Some(0x03));
        assert_eq!(sink.read_output().expect("drained"), None);
        std::fs::remove_file(&path).expect("cleanup");
    }

    #[test]
    fn test_fake_injects_faults() {
        let fake = FakeSink::default();
        let mut sink = fake.boxed().expect("sink");
        fake.state()
            .next
            .extend([Fake::WouldBlock, Fake::Shutdown, Fake::Short(3)]);
        let busy = sink.write(&[0; 8]).expect_err("busy");
        assert_eq!(Refusal::of(&busy), Refusal::Busy);
        let gone = sink.write(&[0; 8]).expect_err("gone");
        assert_eq!(Refusal::of(&gone), Refusal::Gone);
        let short = sink.write(&[0; 8]).expect_err("short");
        assert_eq!(Refusal::of(&short), Refusal::Broken);
        assert!(short.to_string().contains("3 of 8"), "{short}");
        sink.write(&[7; 8]).expect("written");
        fake.state().refuse_all = Some(Fake::BrokenPipe);
        assert!(sink.write(&[0; 8]).is_err());
        assert_eq!(fake.take(), [vec![7; 8]]);
        fake.state().leds.extend([1, 2]);
        assert_eq!(sink.read_output().expect("leds"), Some(2));
        assert_eq!(sink.read_output().expect("leds"), None);
    }
}

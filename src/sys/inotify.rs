//! inotify, for hotplug: a non-blocking watch on a directory (`/dev`) whose
//! fd the event loop polls, reporting which names appeared or vanished.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// What happened to a name in the watched directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Created(OsString),
    Deleted(OsString),
    /// The kernel's event queue overflowed: rescan the directory.
    Overflow,
}

#[derive(Debug)]
pub struct DirWatch {
    file: File,
}

impl DirWatch {
    /// Watches `dir` for entries created, deleted, or moved in or out.
    pub fn new(dir: &Path) -> io::Result<DirWatch> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by the kernel and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut path = dir.as_os_str().as_bytes().to_vec();
        path.push(0);
        let mask = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;
        // SAFETY: `path` is NUL-terminated and outlives the call.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr().cast(), mask) };
        if wd == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(DirWatch {
            file: File::from(fd),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_fd().as_raw_fd()
    }

    /// Every change queued so far; empty when there is none (never waits).
    pub fn read_changes(&self) -> io::Result<Vec<Change>> {
        let mut changes = Vec::new();
        // Room for many events per read; names in /dev are short.
        let mut buf = [0u8; 4096];
        loop {
            match (&self.file).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => parse_events(buf.get(..n).unwrap_or_default(), &mut changes),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changes)
    }
}

/// Decodes `struct inotify_event` records: wd (i32), mask, cookie, len (u32),
/// then `len` bytes of NUL-padded name.
fn parse_events(mut buf: &[u8], out: &mut Vec<Change>) {
    const HEADER: usize = 16;
    while let (Some(header), Some(rest)) = (buf.get(..HEADER), buf.get(HEADER..)) {
        let word = |i: usize| {
            let b = header.get(i..i + 4).unwrap_or(&[0; 4]);
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        };
        let mask = word(4);
        let len = word(12) as usize;
        let Some(raw_name) = rest.get(..len) else {
            return;
        };
        let end = raw_name.iter().position(|&b| b == 0).unwrap_or(len);
        let name = OsString::from_vec(raw_name.get(..end).unwrap_or_default().to_vec());
        if mask & libc::IN_Q_OVERFLOW != 0 {
            out.push(Change::Overflow);
        } else if mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
            out.push(Change::Created(name));
        } else if mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
            out.push(Change::Deleted(name));
        }
        buf = rest.get(len..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(mask: u32, name: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&1i32.to_ne_bytes());
        e.extend_from_slice(&mask.to_ne_bytes());
        e.extend_from_slice(&0u32.to_ne_bytes());
        let padded = (name.len() + 1).next_multiple_of(16);
        e.extend_from_slice(&(padded as u32).to_ne_bytes());
        e.extend_from_slice(name);
        e.resize(16 + padded, 0);
        e
    }

    #[test]
    fn test_parse_events_created_deleted_overflow_truncated() {
        let mut buf = event(libc::IN_CREATE, b"video2");
        buf.extend(event(libc::IN_DELETE, b"video0"));
        buf.extend(event(libc::IN_Q_OVERFLOW, b""));
        buf.extend(event(libc::IN_MOVED_TO, b"video9"));
        buf.extend(&event(libc::IN_CREATE, b"truncated")[..20]);
        let mut out = Vec::new();
        parse_events(&buf, &mut out);
        assert_eq!(
            out,
            [
                Change::Created("video2".into()),
                Change::Deleted("video0".into()),
                Change::Overflow,
                Change::Created("video9".into()),
            ]
        );
    }

    #[test]
    fn test_watch_sees_file_created_and_deleted() {
        let dir = std::env::temp_dir().join(format!("kv-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let watch = DirWatch::new(&dir).unwrap();
        assert_eq!(watch.read_changes().unwrap(), []);
        std::fs::write(dir.join("video7"), b"").unwrap();
        std::fs::remove_file(dir.join("video7")).unwrap();
        let changes = watch.read_changes().unwrap();
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(
            changes,
            [
                Change::Created("video7".into()),
                Change::Deleted("video7".into())
            ]
        );
    }
}

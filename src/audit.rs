//! The audit log: who logged in or failed to, from where, and what they did
//! to the target's disks, the accounts, control and share links. One JSON
//! object a line in `--state-dir/audit.log`:
//!
//! ```text
//! {"time":1764743409,"utc":"2026-12-03T06:30:09Z","event":"login_ok","user":"ann","address":"192.0.2.7","detail":"session"}
//! ```
//!
//! It records events, never what was typed: no keystrokes, no pasted text,
//! no password, code or token (call sites pass names and reasons only; user
//! names typed at a failed login are recorded only when they are an
//! account's, since people type passwords into the wrong field).
//!
//! Bounded on disk: when the file would pass `MAX_FILE` it becomes
//! `audit.log.1` (replacing the one before) and a new file starts, so the
//! log never takes more than twice `MAX_FILE` and keeps at least the newest
//! `MAX_FILE` of events. A write is one small append to a file kept open; a
//! failure is logged once, counted, and never stops kv.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::json::{self, Object, Value};
use crate::sys::clock::rfc3339;

const FILE: &str = "audit.log";
/// The current file's bound; the rotated `.1` file holds the same again.
const MAX_FILE: u64 = 256 * 1024;
/// A detail or user name longer than this is cut: a line stays small.
const MAX_FIELD: usize = 200;
/// The most events one read returns.
pub const MAX_READ: usize = 1000;

/// What happened. The names are the log's `event` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    LoginOk,
    LoginFailed,
    Logout,
    ControlHandover,
    MediaAttach,
    MediaEject,
    MediaUpload,
    MediaDelete,
    AccountAdded,
    AccountChanged,
    AccountDeleted,
    ShareCreated,
    ShareUsed,
    ShareRevoked,
    TotpEnrolled,
    TotpDisabled,
    RecoveryCodeUsed,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::LoginOk => "login_ok",
            Event::LoginFailed => "login_failed",
            Event::Logout => "logout",
            Event::ControlHandover => "control_handover",
            Event::MediaAttach => "media_attach",
            Event::MediaEject => "media_eject",
            Event::MediaUpload => "media_upload",
            Event::MediaDelete => "media_delete",
            Event::AccountAdded => "account_added",
            Event::AccountChanged => "account_changed",
            Event::AccountDeleted => "account_deleted",
            Event::ShareCreated => "share_created",
            Event::ShareUsed => "share_used",
            Event::ShareRevoked => "share_revoked",
            Event::TotpEnrolled => "totp_enrolled",
            Event::TotpDisabled => "totp_disabled",
            Event::RecoveryCodeUsed => "recovery_code_used",
        }
    }
}

/// One event, as a call site describes it.
pub struct Entry<'a> {
    pub event: Event,
    /// The account acting (or acted on, for a failed login), if known.
    pub user: Option<&'a str>,
    pub address: Option<IpAddr>,
    /// Names and reasons (an image's name, "wrong password"); never a secret.
    pub detail: &'a str,
}

pub struct Audit {
    /// `None` without a state folder: nothing is recorded.
    path: Option<PathBuf>,
    /// The current file, opened for appending at the first event.
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    /// Writes that failed; the first is logged.
    errors: u64,
}

impl Audit {
    /// The log in `state_dir`, continuing the file there.
    pub fn new(state_dir: &Path) -> Audit {
        let path = state_dir.join(FILE);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        Audit {
            path: Some(path),
            file: None,
            size,
            errors: 0,
        }
    }

    /// A log that records nothing (tests, and kv without a state folder).
    pub fn disabled() -> Audit {
        Audit {
            path: None,
            file: None,
            size: 0,
            errors: 0,
        }
    }

    /// Appends `entry` at wall-clock time `now` (Unix seconds).
    pub fn record(&mut self, now: u64, entry: Entry) {
        let line = line(now, &entry);
        log::info!("audit: {line}");
        let Some(path) = self.path.clone() else {
            return;
        };
        if let Err(e) = self.append(&path, &line) {
            self.file = None;
            self.errors += 1;
            if self.errors == 1 {
                log::error!(
                    "{}: cannot write the audit log: {e}; events are still logged here, \
                     and kv goes on (is --state-dir writable and its disk not full?)",
                    path.display()
                );
            }
        }
    }

    fn append(&mut self, path: &Path, line: &str) -> io::Result<()> {
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > MAX_FILE {
            self.file = None;
            std::fs::rename(path, rotated(path))?;
            self.size = 0;
        }
        if self.file.is_none() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Owner only: the log names people and addresses.
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o600)
                .open(path)?;
            self.size = file.metadata()?.len();
            // A line a crash cut short is ended first, so it costs only itself.
            let mut last = [b'\n'];
            if self.size > 0 {
                file.read_at(&mut last, self.size - 1)?;
            }
            self.file = Some(file);
            if last[0] != b'\n' {
                self.write(b"\n")?;
            }
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write of a whole line to an O_APPEND file: lines never interleave.
        self.write(&bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.write_all(bytes))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Writes that failed since kv started.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The newest `limit` events (at most `MAX_READ`), newest first, as a
    /// JSON array. A line cut short by a crash is skipped.
    pub fn read(&self, limit: usize) -> String {
        let Some(path) = &self.path else {
            return "[]".into();
        };
        let limit = limit.min(MAX_READ);
        let mut text = String::new();
        for p in [rotated(path), path.clone()] {
            // A missing file is an empty log; an unreadable one too, said once here.
            if let Err(e) = File::open(&p).and_then(|mut f| f.read_to_string(&mut text)) {
                if e.kind() != io::ErrorKind::NotFound {
                    log::warn!("{}: cannot read the audit log: {e}", p.display());
                }
            }
        }
        let newest = text
            .lines()
            .rev()
            .filter(|l| matches!(Value::parse(l), Ok(Value::Object(_))))
            .take(limit);
        json::array(newest)
    }
}

/// `audit.log.1` beside `audit.log`.
fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

fn line(now: u64, entry: &Entry) -> String {
    Object::new()
        .num("time", now)
        .str("utc", &rfc3339(now))
        .str("event", entry.event.name())
        .opt_str("user", entry.user.map(cut))
        .opt_str("address", entry.address.map(|a| a.to_string()).as_deref())
        .str("detail", cut(entry.detail))
        .finish()
}

/// At most `MAX_FIELD` bytes of `text`, cut at a character boundary.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(MAX_FIELD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kv-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn entry(event: Event, detail: &str) -> Entry<'_> {
        Entry {
            event,
            user: Some("ann"),
            address: Some("192.0.2.7".parse().unwrap()),
            detail,
        }
    }

    #[test]
    fn test_record_read_newest_first() {
        let d = dir("read");
        let mut audit = Audit::new(&d);
        audit.record(1_111_111_109, entry(Event::LoginOk, "session"));
        audit.record(
            1_111_111_110,
            entry(Event::MediaAttach, "debian.iso as cdrom"),
        );
        let all = Value::parse(&audit.read(10)).unwrap();
        let Value::Array(events) = all else { panic!() };
        assert_eq!(events.len(), 2);
        let first = &events[0];
        assert_eq!(
            first.get("event").and_then(Value::as_str),
            Some("media_attach")
        );
        assert_eq!(
            first.get("time").and_then(Value::as_i64),
            Some(1_111_111_110)
        );
        assert_eq!(
            first.get("utc").and_then(Value::as_str),
            Some("2005-03-18T01:58:30Z")
        );
        assert_eq!(
            first.get("address").and_then(Value::as_str),
            Some("192.0.2.7")
        );
        assert_eq!(first.get("user").and_then(Value::as_str), Some("ann"));
        assert_eq!(audit.read(1).matches("\"event\"").count(), 1);
        // A restarted kv continues the same file.
        let mut again = Audit::new(&d);
        again.record(1_111_111_111, entry(Event::Logout, ""));
        assert_eq!(again.read(10).matches("\"event\"").count(), 3);
        let mode = std::fs::metadata(d.join(FILE)).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn test_rotation_bounded_under_10000_events_keeps_newest() {
        let d = dir("rotate");
        let mut audit = Audit::new(&d);
        let long = "x".repeat(150);
        for i in 0..10_000u64 {
            audit.record(
                1_800_000_000 + i,
                entry(Event::MediaUpload, &format!("{i} {long}")),
            );
            let current = std::fs::metadata(d.join(FILE)).unwrap().len();
            let old = std::fs::metadata(d.join("audit.log.1")).map_or(0, |m| m.len());
            assert!(
                current <= MAX_FILE && old <= MAX_FILE,
                "event {i}: {current} + {old}"
            );
        }
        assert_eq!(audit.errors(), 0);
        let newest = Value::parse(&audit.read(MAX_READ)).unwrap();
        let Value::Array(events) = newest else {
            panic!()
        };
        assert_eq!(events.len(), MAX_READ);
        // Newest first and none missing across the rotation.
        for (k, e) in events.iter().enumerate() {
            let want = 1_800_000_000 + 9_999 - k as i64;
            assert_eq!(e.get("time").and_then(Value::as_i64), Some(want));
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn test_unwritable_counted_never_fatal() {
        let d = dir("unwritable");
        std::fs::create_dir_all(d.parent().unwrap()).unwrap();
        std::fs::write(&d, "a file where the folder should be").unwrap();
        let mut audit = Audit::new(&d);
        audit.record(1, entry(Event::LoginFailed, "wrong password"));
        audit.record(2, entry(Event::LoginFailed, "wrong password"));
        assert_eq!(audit.errors(), 2);
        assert_eq!(audit.read(10), "[]");
        let _ = std::fs::remove_file(&d);
    }

    #[test]
    fn test_torn_line_skipped_and_fields_bounded() {
        let d = dir("torn");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join(FILE),
            "{\"time\":1,\"event\":\"login_ok\"}\n{\"time\":2,\"ev",
        )
        .unwrap();
        let mut audit = Audit::new(&d);
        audit.record(3, entry(Event::MediaDelete, &"é".repeat(500)));
        let read = audit.read(10);
        let Value::Array(events) = Value::parse(&read).unwrap() else {
            panic!()
        };
        // The torn line is skipped; the events before and after it read.
        assert_eq!(events.len(), 2, "{read}");
        assert_eq!(
            events[0].get("event").and_then(Value::as_str),
            Some("media_delete")
        );
        assert_eq!(
            events[1].get("event").and_then(Value::as_str),
            Some("login_ok")
        );
        let detail = events[0].get("detail").and_then(Value::as_str).unwrap();
        assert_eq!(detail.len(), MAX_FIELD, "cut at a character boundary");
        let _ = std::fs::remove_dir_all(&d);
    }
}

//! Why capture failed or stopped: the reasons the source branches on, as
//! types, and the one-line messages (naming the node and the fix) that the
//! log and the errors show for them.

use std::fmt;
use std::io;
use std::path::Path;

use super::{NO_SIGNAL_AFTER, RETRY_EVERY};
use crate::video::Signal;

/// The node is gone: unplugged, or its driver removed.
pub(super) fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::ENXIO))
}

/// kv may not use the node at all (permissions, another program): the
/// likeliest culprit when no device is found, so said first.
pub(super) fn is_locked(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EBUSY)
    )
}

/// A one-line reason naming the node and, where there is one, the fix.
pub(super) fn describe(path: &Path, e: &io::Error) -> String {
    let shown = path.display();
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            format!("{shown}: permission denied — is kv running as root or in group video?")
        }
        Some(libc::EBUSY) => format!(
            "{shown}: device busy — is another program (ustreamer, a browser, kvmd) capturing from it?"
        ),
        Some(libc::ENOENT) => format!("{shown}: no such device node"),
        Some(libc::ENODEV) | Some(libc::ENXIO) => format!("{shown}: device unplugged"),
        _ => format!("{shown}: {e}"),
    }
}

/// Why kv closes its device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Close {
    /// An ioctl said ENODEV/ENXIO.
    Unplugged,
    /// Its /dev node went away (inotify).
    NodeRemoved,
    /// It streamed but delivered nothing for `NO_SIGNAL_AFTER`. Closed, so a
    /// silent device stays free to be unplugged or to have its driver
    /// reloaded (`rmmod` fails while a node is open), and a dongle whose
    /// firmware wedged gets a fresh start at the next retry.
    Silent,
    /// Its source changed and kv could not set a mode for the new one (the
    /// reason); reopened from scratch at the next retry.
    SourceUnusable(String),
}

impl Close {
    /// What status shows while the device is closed.
    pub(super) fn signal(&self) -> Signal {
        match self {
            Close::Unplugged | Close::NodeRemoved => Signal::NoDevice,
            Close::Silent | Close::SourceUnusable(_) => Signal::NoSignal,
        }
    }

    /// The device is gone rather than closed by kv: the log then waits for
    /// one to appear, it does not promise to reopen this one.
    pub(super) fn is_loss(&self) -> bool {
        self.signal() == Signal::NoDevice
    }
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let reopen = format!(
            "closed it, opening it again every {} s",
            RETRY_EVERY.as_secs()
        );
        match self {
            Close::Unplugged => write!(f, "unplugged"),
            Close::NodeRemoved => write!(f, "its device node was removed"),
            Close::Silent => write!(
                f,
                "no frames for {} s — {reopen}",
                NO_SIGNAL_AFTER.as_secs()
            ),
            Close::SourceUnusable(why) => {
                write!(
                    f,
                    "its source changed and kv cannot capture it ({why}) — {reopen}"
                )
            }
        }
    }
}

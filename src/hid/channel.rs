//! One HID function as `Hid` drives it: its sink, whether the host takes its
//! reports (`Link`), when a refused report is tried again, and whether kv
//! holds its device open at all (closed while the gadget is off its
//! controller: see `hid::nodes`).

use std::io;
use std::time::{Duration, Instant};

use super::sink::Refusal;
use super::HidSink;

/// How long a refused report waits before the next try (sooner when the
/// sink's fd turns writable).
const RETRY: Duration = Duration::from_millis(50);
/// How long a host may leave reports untaken (EAGAIN) before it counts as not
/// reading and the keystrokes typed meanwhile collapse to the newest state. A
/// busy or emulated host stalls at times and must still get every keystroke
/// (a loaded QEMU guest left 198 back-to-back keystrokes untaken for over a
/// second: 1 s lost 21 of them); one that ignores the device for longer
/// must not get a replay of stale typing when it wakes. (A host that
/// suspends is noticed by the UDC state and gets nothing stale either.)
pub const BUSY_LIMIT: Duration = Duration::from_secs(3);

/// Whether the host takes the reports of one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Reading,
    /// The last write found the previous report still untaken (EAGAIN).
    Busy {
        since: Instant,
    },
    NotReading,
}

/// Whether kv holds the function's device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Device {
    Open,
    /// Let go of; `reopen` takes it again. `logged`: a failed reopen was
    /// logged, quiet until one succeeds.
    Closed {
        logged: bool,
    },
}

/// One HID function: its sink and whether its host is reading.
pub struct Channel {
    pub sink: Box<dyn HidSink>,
    pub link: Link,
    /// Set while a refused report waits for its retry.
    pub retry_at: Option<Instant>,
    device: Device,
}

impl Channel {
    pub fn new(sink: Box<dyn HidSink>) -> Channel {
        Channel {
            sink,
            link: Link::Reading,
            retry_at: None,
            device: Device::Open,
        }
    }

    /// Writes `report`; `false` when it must be tried again later.
    pub fn write(&mut self, report: &[u8], now: Instant) -> bool {
        match self.sink.write(report) {
            Ok(()) => {
                self.set_link(Link::Reading, None);
                self.retry_at = None;
                true
            }
            Err(error) => {
                crate::metrics::HID_WRITE_ERRORS.inc();
                let refusal = Refusal::of(&error);
                let link = match (refusal, self.link) {
                    (Refusal::Busy, Link::Reading) => Link::Busy { since: now },
                    (Refusal::Busy, Link::Busy { since }) if now < since + BUSY_LIMIT => self.link,
                    _ => Link::NotReading,
                };
                self.set_link(link, Some((refusal, &error)));
                // A closed device is retried when it is open again, not before.
                self.retry_at = self.is_open().then_some(now + RETRY);
                false
            }
        }
    }

    pub fn is_open(&self) -> bool {
        self.device == Device::Open
    }

    /// Lets go of the device; `true` if it was open.
    pub fn close(&mut self, why: &str) -> bool {
        if !self.is_open() {
            return false;
        }
        self.sink.close();
        self.device = Device::Closed { logged: false };
        self.link = Link::NotReading;
        self.retry_at = None;
        log::info!("⌨️  {}: closed ({why})", self.sink.name());
        true
    }

    /// Opens the device again if it was closed; `true` if it was reopened.
    pub fn reopen(&mut self) -> bool {
        let Device::Closed { logged } = self.device else {
            return false;
        };
        match self.sink.reopen() {
            Ok(()) => {
                self.device = Device::Open;
                log::info!("⌨️  {}: open again", self.sink.name());
                true
            }
            Err(e) => {
                if !logged {
                    log::warn!("{e}; trying again while the host is there");
                    self.device = Device::Closed { logged: true };
                }
                false
            }
        }
    }

    fn set_link(&mut self, link: Link, refused: Option<(Refusal, &io::Error)>) {
        let was_reading = self.link != Link::NotReading;
        let name = self.sink.name();
        match (was_reading, link, refused) {
            (false, Link::Reading, _) => log::info!("{name}: host reading again"),
            (true, Link::NotReading, Some((refusal, _))) if refusal.host_not_reading() => {
                log::info!("{name}: host not reading; keeping the newest state and retrying")
            }
            (true, Link::NotReading, Some((_, error))) => {
                log::warn!("{error}; retrying every {} ms", RETRY.as_millis())
            }
            _ => {}
        }
        self.link = link;
    }
}

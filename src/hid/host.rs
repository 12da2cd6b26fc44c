//! Following the target, the USB host: whether it takes reports (its
//! controller's state, fed in with `--gadget`, or else only what writes
//! say), and kv's hold on the HID devices that goes with it: a device is
//! closed as soon as its gadget leaves the controller (its node vanishes, or
//! the controller says unbound) and opened again once the host is back.

use std::os::fd::RawFd;
use std::path::Path;

use super::channel::{Channel, Link};
use super::nodes::NodeWatch;
use crate::usb::HostState;

/// Who says whether the host takes reports.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    /// Nothing does (no `--gadget`): a function whose host stopped taking
    /// reports is the only sign.
    Untold,
    /// The gadget's controller, as last read.
    Told(HostState),
}

/// The host as the HID functions follow it, and the devices' nodes.
pub struct HostFollower {
    host: Host,
    /// The sinks' device nodes: one that vanishes is closed at once.
    nodes: NodeWatch,
    /// Counts devices closed and reopened: a reopened device may get the
    /// descriptor number of the closed one, and must be polled anew.
    fd_epoch: u64,
}

impl HostFollower {
    /// Watches the nodes of `channels`' sinks.
    pub fn new<'a>(channels: impl Iterator<Item = &'a Channel>) -> HostFollower {
        HostFollower {
            host: Host::Untold,
            nodes: NodeWatch::new(channels.filter_map(|c| c.sink.node())),
            fd_epoch: 0,
        }
    }

    /// The controller's state, read again (changed or not): devices closed
    /// when the gadget left it, reopened when the host configured it.
    /// `true` when the host changed: it came, left, or is a new one (a device
    /// was closed or reopened), and what kv holds down is stale.
    pub fn on_host_state<'a>(
        &mut self,
        state: HostState,
        channels: impl Iterator<Item = &'a mut Channel>,
    ) -> bool {
        let was_configured = self.configured();
        let gone = (!state.bound()).then(|| format!("USB gadget {}", state.as_str()));
        self.host = Host::Told(state);
        let host = self.configured() != was_configured;
        let mut devices = false;
        let mut channels: Vec<&mut Channel> = channels.collect();
        if let Some(why) = gone {
            for channel in channels.iter_mut() {
                devices |= channel.close(&why);
            }
        }
        devices |= self.reopen(channels);
        self.changed(devices, host)
    }

    /// Closes the devices whose node went away, and reopens the closed ones
    /// whose node is back while the host is there; `true` when one was.
    pub fn follow_nodes<'a>(&mut self, channels: impl Iterator<Item = &'a mut Channel>) -> bool {
        let mut channels: Vec<&mut Channel> = channels.collect();
        let vanished = self
            .nodes
            .vanished(channels.iter().filter_map(|c| c.sink.node()));
        let mut devices = false;
        for channel in channels.iter_mut() {
            if channel
                .sink
                .node()
                .is_some_and(|n| vanished.iter().any(|v| v == n))
            {
                devices |= channel.close("its device node went away: gadget unbound");
            }
        }
        devices |= self.reopen(channels);
        self.changed(devices, false)
    }

    /// Reopens the closed devices whose node is there, if the host is.
    fn reopen(&self, channels: Vec<&mut Channel>) -> bool {
        if !self.there() {
            return false;
        }
        let mut devices = false;
        for channel in channels {
            let back = channel.sink.node().is_none_or(Path::exists);
            if !channel.is_open() && back && channel.reopen() {
                devices = true;
            }
        }
        devices
    }

    fn changed(&mut self, devices: bool, host: bool) -> bool {
        if devices {
            self.fd_epoch += 1;
        }
        devices || host
    }

    /// The controller says a host configured the gadget.
    fn configured(&self) -> bool {
        self.host == Host::Told(HostState::Configured)
    }

    /// A host may be there: it configured the gadget, or nothing says.
    pub fn there(&self) -> bool {
        self.host == Host::Untold || self.configured()
    }

    /// The controller says for sure; without one, a host that stopped
    /// taking reports is the only sign. (A configured host may leave one
    /// function unpolled, a mouse nothing on the target listens to: still
    /// online.)
    pub fn online<'a>(&self, mut channels: impl Iterator<Item = &'a Channel>) -> bool {
        match &self.host {
            Host::Untold => channels.all(|c| c.link != Link::NotReading),
            Host::Told(_) => self.configured(),
        }
    }

    /// The controller's state, with `--gadget`.
    pub fn udc(&self) -> Option<String> {
        match &self.host {
            Host::Untold => None,
            Host::Told(state) => Some(state.as_str().to_string()),
        }
    }

    /// The inotify descriptors of the nodes' directories.
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.nodes.fds()
    }

    /// Changes whenever a device was closed or reopened.
    pub fn fd_epoch(&self) -> u64 {
        self.fd_epoch
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hid::bench::{keys, Bench};
    use crate::hid::sink::Fake;
    use crate::hid::sink::FakeSink;
    use crate::hid::Input;
    use crate::testutil::TempDir;

    /// A bench whose host has configured the gadget, with what that wrote taken.
    fn configured_bench() -> Bench {
        let mut bench = Bench::new();
        bench.hid.on_host_state(HostState::Configured, bench.t0);
        let status = bench.hid.status();
        assert!(status.online);
        assert_eq!(status.udc.as_deref(), Some("configured"));
        let _ = (bench.keyboard.take(), bench.abs.take(), bench.rel.take());
        bench
    }

    fn unconfigured(state: &str) -> HostState {
        HostState::Unconfigured(state.into())
    }

    #[test]
    fn test_configured_unbound_offline_and_released() {
        let mut bench = configured_bench();
        bench.key("KeyA", true, 10);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        bench.keyboard.state().refuse_all = Some(Fake::Shutdown);
        bench.hid.on_host_state(HostState::Unbound, bench.at(250));
        let status = bench.hid.status();
        assert!(!status.online, "noticed without any input");
        assert_eq!(status.udc.as_deref(), Some("unbound"));
        // Every device let go of before anyone can bind the gadget again: a
        // file held across the rebind crashes Linux 6.1 when it is closed.
        for sink in [&bench.keyboard, &bench.abs, &bench.rel] {
            assert!(sink.state().closed);
        }
        assert_eq!(
            bench.rel.take(),
            Vec::<Vec<u8>>::new(),
            "closed: not written"
        );
        let epoch = bench.hid.fd_epoch();
        // Bound again, not configured yet: still closed.
        bench
            .hid
            .on_host_state(unconfigured("not attached"), bench.at(500));
        assert!(bench.keyboard.state().closed);
        // The client still holds KeyA; the host comes back as a new device.
        bench.keyboard.state().refuse_all = None;
        bench
            .hid
            .on_host_state(HostState::Configured, bench.at(750));
        assert!(bench.hid.status().online);
        assert_eq!(bench.keyboard.state().reopened, 1);
        assert_ne!(
            bench.hid.fd_epoch(),
            epoch,
            "the loop registers the new fds"
        );
        assert_eq!(bench.keyboard.take(), [keys(0, &[])], "all up, never KeyA");
        assert_eq!(bench.rel.take(), [vec![0; 5]]);
        // The client's late release changes nothing; its next key is alone.
        bench.key("KeyA", false, 800);
        bench.key("KeyB", true, 810);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x05])]);
    }

    #[test]
    fn test_configured_failed_reopen_retried_next_read() {
        let mut bench = configured_bench();
        bench.hid.on_host_state(HostState::Unbound, bench.at(250));
        bench.keyboard.state().refuse_open = true;
        bench
            .hid
            .on_host_state(HostState::Configured, bench.at(500));
        assert!(bench.keyboard.state().closed, "would not open");
        assert!(!bench.abs.state().closed, "the others did");
        bench.keyboard.state().refuse_open = false;
        let epoch = bench.hid.fd_epoch();
        // The same state, read again: the device is tried once more.
        bench
            .hid
            .on_host_state(HostState::Configured, bench.at(750));
        assert_eq!(bench.keyboard.state().reopened, 1);
        assert_ne!(bench.hid.fd_epoch(), epoch);
        let _ = bench.keyboard.take();
        bench
            .hid
            .on_host_state(HostState::Configured, bench.at(1000));
        assert!(bench.keyboard.take().is_empty(), "nothing new: no release");
    }

    #[test]
    fn test_unbound_after_paste_no_busy_poll() {
        let mut bench = configured_bench();
        assert_eq!(bench.paste("a", None), Ok(None));
        bench.run();
        bench.hid.on_host_state(HostState::Unbound, bench.at(250));
        // The release waits for the device to open again, not on a timer
        // long past (the loop would spin on it).
        assert_eq!(bench.hid.poll_at(), None);
    }

    #[test]
    fn test_configured_node_vanished_closed_at_once_reopened_when_back() {
        let dir = TempDir::new("hid-node-gone");
        let node = dir.path().join("hidg0");
        std::fs::write(&node, b"").unwrap();
        let keyboard = FakeSink::at_node(&node);
        let mut bench = Bench::with(keyboard, FakeSink::default(), FakeSink::default());
        assert!(
            !bench.hid.fds().is_empty(),
            "the node's directory is watched"
        );
        bench.key("KeyA", true, 0);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x04])]);
        // Unbound and bound again faster than any UDC read: the node went
        // and came back, and the file kv holds belongs to the old device.
        std::fs::remove_file(&node).unwrap();
        std::fs::write(&node, b"").unwrap();
        bench.keyboard.state().refuse_open = true;
        bench.hid.poll(bench.at(1));
        assert!(bench.keyboard.state().closed, "closed before anything else");
        assert!(!bench.abs.state().closed, "another function's node stayed");
        bench.keyboard.state().refuse_open = false;
        bench.hid.poll(bench.at(2));
        assert_eq!(bench.keyboard.state().reopened, 1);
        // A new device: nothing held from before reaches it.
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        bench.key("KeyB", true, 3);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x05])]);
    }

    #[test]
    fn test_configured_unpolled_mouse_still_online() {
        let mut bench = configured_bench();
        bench.rel.state().refuse_all = Some(Fake::WouldBlock);
        let input = Input::Rel {
            dx: 3,
            dy: 0,
            buttons: 0,
        };
        assert_eq!(bench.hid.input(input, bench.at(10)), Ok(None));
        bench.hid.poll(bench.at(200));
        assert!(bench.hid.status().online, "the UDC says configured");
    }

    #[test]
    fn test_configured_suspended_key_wakes_then_released() {
        let mut bench = configured_bench();
        bench
            .hid
            .on_host_state(unconfigured("suspended"), bench.at(250));
        assert!(!bench.hid.status().online);
        let _ = bench.keyboard.take();
        // A key while the host sleeps is written (with wakeup_on_write it
        // wakes the host) and released once the host is back.
        bench.key("Space", true, 300);
        assert_eq!(bench.keyboard.take(), [keys(0, &[0x2C])]);
        bench
            .hid
            .on_host_state(HostState::Configured, bench.at(500));
        assert_eq!(bench.keyboard.take(), [keys(0, &[])]);
        assert!(bench.hid.status().online);
    }

    #[test]
    fn test_not_configured_stale_states_dropped() {
        let mut bench = configured_bench();
        bench.keyboard.state().refuse_all = Some(Fake::Shutdown);
        bench
            .hid
            .on_host_state(unconfigured("not attached"), bench.at(250));
        bench.key("ShiftLeft", true, 260);
        bench.key("KeyX", true, 270);
        bench.keyboard.state().refuse_all = None;
        bench
            .hid
            .on_host_state(HostState::Configured, bench.at(500));
        assert_eq!(bench.keyboard.take(), [keys(0, &[])], "no stale Shift+X");
    }

    #[test]
    fn test_not_configured_no_jiggle() {
        let mut bench = configured_bench();
        bench.hid.set_jiggle(Some(Duration::from_secs(1)), bench.t0);
        bench
            .hid
            .on_host_state(unconfigured("suspended"), bench.at(500));
        let _ = bench.rel.take();
        bench.hid.poll(bench.at(1000));
        assert!(
            bench.rel.take().is_empty(),
            "a sleeping target is not woken"
        );
    }
}

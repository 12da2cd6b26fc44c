//! The board's end of the USB network link (`--ethernet`): the gadget's
//! interface gets a small private subnet's first address, and a supervised
//! dnsmasq hands the target the other one by DHCP, with no route and no DNS
//! server unless asked, so the link never becomes the target's way to the
//! internet. Without dnsmasq the link is left alone and kv says so once.

pub mod dnsmasq;
pub mod wol;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use crate::gadget::ethernet::NetFunction;
use crate::json;
use dnsmasq::{Dhcp, Supervised};

/// The board's address and the subnet's size, as `10.55.0.1/30`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// `ADDRESS/PREFIX`, with room for the target (prefix 8 to 30) and the
    /// board's address neither the network's nor its broadcast address.
    pub fn parse(text: &str) -> Result<Subnet, String> {
        let bad = |why: &str| format!("--usb-net {text:?}: {why}; use e.g. 10.55.0.1/30");
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| bad("not ADDRESS/PREFIX"))?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| bad("the prefix is not a number"))?;
        if !(8..=30).contains(&prefix) {
            return Err(bad(
                "the prefix must be 8 to 30 (30: the board and one target)",
            ));
        }
        let subnet = Subnet { address, prefix };
        let host = u32::from(address) & subnet.host_mask();
        if host == 0 || host == subnet.host_mask() {
            return Err(bad(
                "that is the subnet's network or broadcast address, not a host's",
            ));
        }
        Ok(subnet)
    }

    fn host_mask(self) -> u32 {
        u32::MAX >> self.prefix
    }

    /// The subnet's broadcast address (`10.55.0.3` for `10.55.0.1/30`).
    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | self.host_mask())
    }

    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(!self.host_mask())
    }

    /// The addresses the target may be given: the hosts on the larger side
    /// of the board's own address.
    pub fn range(self) -> (Ipv4Addr, Ipv4Addr) {
        let network = u32::from(self.address) & !self.host_mask();
        let (first, last) = (network + 1, network + self.host_mask() - 1);
        let board = u32::from(self.address);
        let (first, last) = if board - first >= last - board {
            (first, board - 1)
        } else {
            (board + 1, last)
        };
        (Ipv4Addr::from(first), Ipv4Addr::from(last))
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// `--usb-net`, `--usb-gateway` and where leases are kept.
#[derive(Clone, Debug)]
pub struct UsbNetConfig {
    pub subnet: Subnet,
    pub gateway: bool,
    /// The folder for dnsmasq's lease file (created if missing).
    pub state_dir: PathBuf,
}

/// The default subnet: a /30 (the board and one target) in a corner of
/// 10/8 that home routers, Docker and common VPNs do not use by default.
pub const DEFAULT_SUBNET: &str = "10.55.0.1/30";

/// The link as it runs.
pub struct UsbNet {
    function: NetFunction,
    interface: String,
    /// Set once the interface has the address.
    address: Option<Subnet>,
    dnsmasq: Option<Supervised>,
    /// dnsmasq's pid and lease files, and the folder that holds them.
    state_files: Vec<PathBuf>,
    state_dir: Option<PathBuf>,
}

impl Drop for UsbNet {
    /// Stops dnsmasq, then removes its files and their folder when nothing
    /// else is in it: a clean exit leaves no trace in /run.
    fn drop(&mut self) {
        if let Some(mut dnsmasq) = self.dnsmasq.take() {
            dnsmasq.stop();
        }
        for file in &self.state_files {
            match std::fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    log::warn!("📡 {}: cannot remove it: {e}", file.display())
                }
                _ => {}
            }
        }
        if let Some(dir) = &self.state_dir {
            let _ = std::fs::remove_dir(dir); // fails, rightly, when not empty
        }
    }
}

impl UsbNet {
    /// Sets the address and starts dnsmasq; what cannot be done is logged
    /// and left undone (the keyboard and the screen matter more).
    pub fn start(
        config: &UsbNetConfig,
        function: NetFunction,
        interface: String,
        now: Instant,
    ) -> UsbNet {
        let mut net = UsbNet {
            function,
            interface,
            address: None,
            dnsmasq: None,
            state_files: Vec::new(),
            state_dir: None,
        };
        let Some(program) = dnsmasq::find(std::env::var_os("PATH").as_deref()) else {
            log::warn!(
                "📡 dnsmasq not found: the target gets no address on the USB link ({}). \
                 Install it (apt install dnsmasq-base) for kv to serve DHCP there",
                net.interface
            );
            return net;
        };
        let subnet = config.subnet;
        let configured =
            crate::sys::netlink::set_ipv4_address(&net.interface, subnet.address, subnet.prefix)
                .and_then(|()| crate::sys::netlink::set_link_up(&net.interface));
        if let Err(e) = configured {
            log::warn!(
                "🔗 {}: cannot set address {subnet} and bring it up: {e} — is kv running as root? \
                 No DHCP for the target",
                net.interface
            );
            return net;
        }
        net.address = Some(subnet);
        let state_dir = match std::fs::create_dir_all(&config.state_dir) {
            Ok(()) => Some(config.state_dir.clone()),
            Err(e) => {
                log::warn!(
                    "📡 {}: {e}; dnsmasq keeps its leases in memory only",
                    config.state_dir.display()
                );
                None
            }
        };
        let dhcp = Dhcp {
            interface: net.interface.clone(),
            subnet,
            gateway: config.gateway,
            state_dir,
        };
        if let Some(pid_file) = dhcp.pid_file() {
            dnsmasq::stop_stale(&pid_file);
        }
        log::info!(
            "🔗 USB ethernet ({}) on {} at {subnet}; DHCP {}",
            function.as_str(),
            net.interface,
            dhcp.describe()
        );
        net.dnsmasq = Some(Supervised::start(program, dhcp.argv(), now));
        net.state_files = dhcp.state_files();
        net.state_dir = dhcp.state_dir;
        net
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.dnsmasq.as_ref().and_then(Supervised::poll_at)
    }

    pub fn poll(&mut self, now: Instant) {
        if let Some(dnsmasq) = &mut self.dnsmasq {
            dnsmasq.poll(now);
        }
    }

    /// SIGCHLD arrived.
    pub fn on_child_exit(&mut self, now: Instant) {
        if let Some(dnsmasq) = &mut self.dnsmasq {
            dnsmasq.on_child_exit(now);
        }
    }

    /// The USB link's broadcast address, once kv has given the board its address.
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        self.address.map(Subnet::broadcast)
    }

    /// How often the supervised dnsmasq was restarted; `None` without one.
    pub fn dnsmasq_restarts(&self) -> Option<u32> {
        self.dnsmasq.as_ref().map(|d| d.restarts())
    }

    /// The `network` object of the status.
    pub fn status_json(&self) -> String {
        let dnsmasq = self.dnsmasq.as_ref().map_or("null".into(), |d| {
            json::Object::new()
                .bool("running", d.pid().is_some())
                .num("restarts", d.restarts())
                .finish()
        });
        json::Object::new()
            .str("function", self.function.as_str())
            .str("interface", &self.interface)
            .opt_str("address", self.address.map(|a| a.to_string()).as_deref())
            .raw("dnsmasq", &dnsmasq)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_subnet_parse_and_ranges() {
        let s = Subnet::parse("10.55.0.1/30").unwrap();
        assert_eq!(s.netmask(), Ipv4Addr::new(255, 255, 255, 252));
        assert_eq!(
            s.range(),
            (Ipv4Addr::new(10, 55, 0, 2), Ipv4Addr::new(10, 55, 0, 2))
        );
        assert_eq!(s.to_string(), "10.55.0.1/30");
        let s = Subnet::parse("10.55.0.2/30").unwrap();
        assert_eq!(
            s.range(),
            (Ipv4Addr::new(10, 55, 0, 1), Ipv4Addr::new(10, 55, 0, 1))
        );
        // The larger side of .100: above it.
        let s = Subnet::parse("192.168.7.100/24").unwrap();
        assert_eq!(
            s.range(),
            (
                Ipv4Addr::new(192, 168, 7, 101),
                Ipv4Addr::new(192, 168, 7, 254)
            )
        );
        let s = Subnet::parse("192.168.7.200/24").unwrap();
        assert_eq!(
            s.range(),
            (
                Ipv4Addr::new(192, 168, 7, 1),
                Ipv4Addr::new(192, 168, 7, 199)
            )
        );
        let s = Subnet::parse("172.20.0.1/16").unwrap();
        assert_eq!(
            s.range(),
            (
                Ipv4Addr::new(172, 20, 0, 2),
                Ipv4Addr::new(172, 20, 255, 254)
            )
        );
        assert_eq!(
            Subnet::parse(DEFAULT_SUBNET).map(|s| s.to_string()),
            Ok(DEFAULT_SUBNET.to_string())
        );
    }

    #[test]
    fn test_subnet_refusals_say_why() {
        for (text, why) in [
            ("10.55.0.1", "ADDRESS/PREFIX"),
            ("10.55.0/30", "IPv4"),
            ("10.55.0.1/x", "number"),
            ("10.55.0.1/31", "8 to 30"),
            ("10.55.0.1/4", "8 to 30"),
            ("10.55.0.0/30", "network"),
            ("10.55.0.3/30", "broadcast"),
        ] {
            let e = Subnet::parse(text).unwrap_err();
            assert!(e.contains(why) && e.contains("--usb-net"), "{text}: {e}");
        }
    }

    #[test]
    fn test_status_without_dnsmasq() {
        let net = UsbNet {
            function: NetFunction::Ncm,
            interface: "usb0".into(),
            address: None,
            dnsmasq: None,
            state_files: Vec::new(),
            state_dir: None,
        };
        assert_eq!(
            net.status_json(),
            r#"{"function":"ncm","interface":"usb0","address":null,"dnsmasq":null}"#
        );
    }
}

//! Wake-on-LAN: `POST /api/wol` sends the target's network card a magic
//! packet (6 × 0xFF, then its MAC 16 times) as a UDP broadcast to port 9, on
//! the LAN and on the USB ethernet link when kv runs one. Each send is one
//! `sendto` on a non-blocking socket: it never waits, and each destination's
//! error is reported on its own. The MAC last woken is remembered in
//! `--state-dir` so the UI offers it next time.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};

/// Where a magic packet goes when `--wol-to` names nowhere else: every host
/// on the board's LAN.
pub const LAN: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, PORT);
/// The discard port, where network cards listen for magic packets.
pub const PORT: u16 = 9;
/// The file in `--state-dir` holding the MAC last woken.
const FILE: &str = "wol-mac";

/// A network card's hardware address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, either case.
    pub fn parse(text: &str) -> Result<Mac, String> {
        let bad = || {
            format!(
                "\"{}\" is not a MAC address; write six hex pairs like aa:bb:cc:dd:ee:ff",
                text.chars().take(40).collect::<String>()
            )
        };
        let mut mac = [0; 6];
        let mut parts = text.split([':', '-']);
        for byte in &mut mac {
            // Two hex digits exactly: from_str_radix alone would take "+a".
            let part = parts
                .next()
                .filter(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(bad)?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(mac))
    }

    /// The magic packet that wakes this card.
    pub fn magic_packet(self) -> [u8; 102] {
        let mut packet = [0xff; 102];
        for copy in packet[6..].chunks_exact_mut(6) {
            copy.copy_from_slice(&self.0);
        }
        packet
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// `--wol-to ADDRESS[:PORT]`: a broadcast address (or a host), port 9 unless given.
pub fn parse_destination(text: &str) -> Result<SocketAddrV4, String> {
    text.parse::<SocketAddrV4>()
        .or_else(|_| text.parse::<Ipv4Addr>().map(|ip| SocketAddrV4::new(ip, PORT)))
        .map_err(|_| {
            format!("--wol-to {text}: give an IPv4 broadcast address such as 192.168.1.255, optionally with :PORT")
        })
}

/// The MAC to wake by default and where packets go.
pub struct Wol {
    /// `--wol-mac`, until a MAC is remembered.
    default: Option<Mac>,
    remembered: Option<Mac>,
    path: PathBuf,
    /// `--wol-to`, or the LAN broadcast.
    destinations: Vec<SocketAddrV4>,
}

/// What one wake did: where the packet went, and where it could not.
pub struct Sent {
    pub mac: Mac,
    pub sent: Vec<SocketAddrV4>,
    pub failed: Vec<String>,
}

impl Wol {
    pub fn new(default: Option<Mac>, destinations: Vec<SocketAddrV4>, state_dir: &Path) -> Wol {
        let path = state_dir.join(FILE);
        let remembered = match std::fs::read_to_string(&path) {
            Ok(text) => Mac::parse(text.trim())
                .map_err(|e| log::warn!("{}: {e}; using --wol-mac", path.display()))
                .ok(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                log::warn!(
                    "{}: cannot read the remembered MAC ({e}); using --wol-mac",
                    path.display()
                );
                None
            }
        };
        let destinations = if destinations.is_empty() {
            vec![LAN]
        } else {
            destinations
        };
        Wol {
            default,
            remembered,
            path,
            destinations,
        }
    }

    /// The MAC the UI offers: the one last woken, else `--wol-mac`.
    pub fn mac(&self) -> Option<Mac> {
        self.remembered.or(self.default)
    }

    /// Sends the magic packet for `mac` to every destination and to
    /// `usb_link`'s broadcast. `Err` when no packet left at all.
    pub fn wake(&mut self, mac: Mac, usb_link: Option<Ipv4Addr>) -> Result<Sent, String> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| s.set_broadcast(true).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|e| format!("cannot open a UDP socket for Wake-on-LAN: {e}"))?;
        let packet = mac.magic_packet();
        let usb = usb_link.map(|ip| SocketAddrV4::new(ip, PORT));
        let mut done = Sent {
            mac,
            sent: Vec::new(),
            failed: Vec::new(),
        };
        for to in self.destinations.iter().chain(usb.as_ref()) {
            match socket.send_to(&packet, to) {
                Ok(_) => done.sent.push(*to),
                Err(e) => done.failed.push(why(*to, &e)),
            }
        }
        if done.sent.is_empty() {
            return Err(done.failed.join("; "));
        }
        log::info!(
            "⏰ Wake-on-LAN: magic packet for {mac} sent to {:?}",
            done.sent
        );
        if self.remembered != Some(mac) {
            self.remember(mac);
        }
        Ok(done)
    }

    /// Keeps `mac` for next time; a failure to save is logged, the wake stands.
    fn remember(&mut self, mac: Mac) {
        self.remembered = Some(mac);
        if let Err(e) = crate::sys::fs::write_atomic(&self.path, format!("{mac}\n").as_bytes()) {
            log::warn!(
                "{}: cannot remember the Wake-on-LAN MAC ({e}); is --state-dir writable by kv?",
                self.path.display()
            );
        }
    }
}

/// A failed send, said so that the user knows what to change.
fn why(to: SocketAddrV4, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENETUNREACH) if *to.ip() == Ipv4Addr::BROADCAST => format!(
            "no IPv4 broadcast route: {to}: {e}; give the board a default route or name the target's network with --wol-to, e.g. --wol-to 192.168.1.255"
        ),
        Some(libc::ENETUNREACH) => format!("no route to {to}: {e}; check the address given to --wol-to"),
        _ => format!("{to}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_magic_packet_is_six_ff_then_the_mac_sixteen_times() {
        let mac = Mac([0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03]);
        let packet = mac.magic_packet();
        assert_eq!(packet.len(), 102);
        assert_eq!(packet[..6], [0xff; 6]);
        for copy in packet[6..].chunks(6) {
            assert_eq!(copy, [0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03]);
        }
    }

    #[test]
    fn test_mac_parses_colons_dashes_either_case_and_refuses_the_rest() {
        let want = Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(Mac::parse("aa:bb:cc:dd:ee:ff"), Ok(want));
        assert_eq!(Mac::parse("AA-BB-CC-DD-EE-FF"), Ok(want));
        assert_eq!(want.to_string(), "aa:bb:cc:dd:ee:ff");
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:gg",
            "a:bb:cc:dd:ee:fff",
            "aabbccddeeff",
            "+a:bb:cc:dd:ee:ff",
            "é:bb:cc:dd:ee:ff",
        ] {
            let e = Mac::parse(bad).unwrap_err();
            assert!(e.contains("aa:bb:cc:dd:ee:ff"), "{bad}: {e}");
        }
    }

    #[test]
    fn test_destination_defaults_to_port_9() {
        assert_eq!(
            parse_destination("10.1.2.255"),
            Ok("10.1.2.255:9".parse().unwrap())
        );
        assert_eq!(
            parse_destination("10.1.2.255:7"),
            Ok("10.1.2.255:7".parse().unwrap())
        );
        assert!(parse_destination("example.com")
            .unwrap_err()
            .contains("--wol-to"));
    }

    #[test]
    fn test_woken_mac_is_remembered_across_restarts() {
        let dir = crate::testutil::TempDir::new("wol-remember");
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = match listener.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let default = Mac([1, 2, 3, 4, 5, 6]);
        let mac = Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        let mut wol = Wol::new(Some(default), vec![to], dir.path());
        assert_eq!(wol.mac(), Some(default));
        let sent = wol.wake(mac, None).unwrap();
        assert_eq!((sent.sent, sent.failed.len()), (vec![to], 0));
        let mut buf = [0; 200];
        listener
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(buf[..n], mac.magic_packet());
        assert_eq!(
            Wol::new(Some(default), vec![to], dir.path()).mac(),
            Some(mac)
        );
    }
}

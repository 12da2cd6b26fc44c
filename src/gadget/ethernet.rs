//! The gadget's network function: CDC ECM (Linux, macOS), CDC NCM (faster,
//! Windows 11, Linux, macOS) or RNDIS (older Windows), one of them added to
//! kv's gadget with `--ethernet`. Both ends' MAC addresses are derived from
//! the board's machine ID, so the target sees the same network card after
//! every reboot (and keeps its DHCP lease and its firewall profile). For
//! RNDIS the gadget carries Microsoft OS descriptors naming the function
//! `RNDIS`/`5162001`, which makes Windows bind its own RNDIS driver without
//! an .inf file.

use std::fmt;
use std::fs;
use std::path::Path;

use super::{configfs_error, Gadget, CONFIG};

/// Which USB network class the function speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFunction {
    Ecm,
    Ncm,
    Rndis,
}

impl NetFunction {
    pub const NAMES: [&'static str; 3] = ["ecm", "ncm", "rndis"];

    pub fn parse(text: &str) -> Option<NetFunction> {
        match text.to_ascii_lowercase().as_str() {
            "ecm" => Some(NetFunction::Ecm),
            "ncm" => Some(NetFunction::Ncm),
            "rndis" => Some(NetFunction::Rndis),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetFunction::Ecm => "ecm",
            NetFunction::Ncm => "ncm",
            NetFunction::Rndis => "rndis",
        }
    }

    /// The function's directory under `functions/` (and its link in the
    /// config): the kernel module is chosen by the part before the dot.
    fn dir_name(self) -> &'static str {
        match self {
            NetFunction::Ecm => "ecm.usb0",
            NetFunction::Ncm => "ncm.usb0",
            NetFunction::Rndis => "rndis.usb0",
        }
    }

    fn module(self) -> &'static str {
        match self {
            NetFunction::Ecm => "usb_f_ecm",
            NetFunction::Ncm => "usb_f_ncm",
            NetFunction::Rndis => "usb_f_rndis",
        }
    }
}

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Locally administered (bit 1 of the first byte set: no vendor's
    /// range) and unicast (bit 0 clear: a multicast source is invalid).
    fn local_unicast(mut bytes: [u8; 6]) -> Mac {
        bytes[0] = (bytes[0] & 0xfc) | 0x02;
        Mac(bytes)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The network function kv adds, with both ends' addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ethernet {
    pub function: NetFunction,
    /// The target's side (`host_addr`).
    pub host_mac: Mac,
    /// The board's side, `usb0` (`dev_addr`).
    pub dev_mac: Mac,
}

impl Ethernet {
    /// The function with MACs stable per board that do not give its machine
    /// ID away: SHA-1 over a kv-specific prefix and the ID, bytes 0..6 for
    /// the target's end and 6..12 for the board's.
    pub fn for_board(function: NetFunction, machine_id: &str) -> Ethernet {
        use sha1::{Digest, Sha1};
        let digest = Sha1::new()
            .chain_update(b"kv usb ethernet\n")
            .chain_update(machine_id.trim().as_bytes())
            .finalize();
        let mut host = [0u8; 6];
        let mut dev = [0u8; 6];
        host.copy_from_slice(&digest[..6]);
        dev.copy_from_slice(&digest[6..12]);
        if host[1..] == dev[1..] {
            // Both ends of one link must differ; after the bit fixes in the
            // first byte only the other five can tell them apart.
            dev[5] ^= 0x01;
        }
        Ethernet {
            function,
            host_mac: Mac::local_unicast(host),
            dev_mac: Mac::local_unicast(dev),
        }
    }
}

/// Microsoft OS descriptors: the signature Windows asks for in string
/// descriptor 0xEE, and the vendor request code it then uses to fetch the
/// compatible IDs (any value; kv's is its own).
const OS_DESC_SIGN: &str = "MSFT100";
const OS_DESC_VENDOR_CODE: &str = "0xcd";
/// Windows' compatible ID for its in-box RNDIS 6.0 driver.
const RNDIS_COMPATIBLE_ID: &str = "RNDIS";
const RNDIS_SUB_COMPATIBLE_ID: &str = "5162001";

impl Gadget {
    /// Creates the network function and links it into the configuration,
    /// first of all functions: Windows binds RNDIS only as interface 0.
    pub(super) fn add_ethernet(&self, ethernet: &Ethernet) -> Result<(), String> {
        let name = format!("functions/{}", ethernet.function.dir_name());
        let path = self.dir.join(&name);
        fs::create_dir_all(&path).map_err(|e| ethernet_error(&path, ethernet.function, e))?;
        self.write(&format!("{name}/host_addr"), ethernet.host_mac.to_string())?;
        self.write(&format!("{name}/dev_addr"), ethernet.dev_mac.to_string())?;
        if ethernet.function == NetFunction::Rndis {
            self.mkdir("os_desc")?;
            self.write("os_desc/use", "1")?;
            self.write("os_desc/b_vendor_code", OS_DESC_VENDOR_CODE)?;
            self.write("os_desc/qw_sign", OS_DESC_SIGN)?;
            let interface = format!("{name}/os_desc/interface.rndis");
            self.mkdir(&interface)?;
            self.write(&format!("{interface}/compatible_id"), RNDIS_COMPATIBLE_ID)?;
            self.write(
                &format!("{interface}/sub_compatible_id"),
                RNDIS_SUB_COMPATIBLE_ID,
            )?;
            // The configuration Windows reads the descriptors from.
            let link = self.dir.join("os_desc").join("c.1");
            std::os::unix::fs::symlink(self.dir.join(CONFIG), &link)
                .map_err(|e| configfs_error(&link, e))?;
        }
        let link = self.dir.join(CONFIG).join(ethernet.function.dir_name());
        std::os::unix::fs::symlink(&path, &link).map_err(|e| configfs_error(&link, e))
    }

    /// The board's network interface, as the bound function names it
    /// (`usb0` unless another gadget took that name first).
    pub fn ethernet_interface(&self) -> Option<Result<String, String>> {
        let ethernet = self.config.ethernet.as_ref()?;
        let attr = self
            .dir
            .join("functions")
            .join(ethernet.function.dir_name())
            .join("ifname");
        let name = match fs::read_to_string(&attr) {
            Ok(name) => name.trim().to_string(),
            Err(e) => return Some(Err(configfs_error(&attr, e))),
        };
        // Interface names are short and plain; anything else is not one.
        let plain = !name.is_empty()
            && name.len() < 16
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        Some(if plain {
            Ok(name)
        } else {
            Err(format!(
                "{}: {name:?} is not an interface name — is the gadget bound to its controller?",
                attr.display()
            ))
        })
    }
}

/// The os_desc link must go before the configuration it points to.
pub(super) fn teardown_os_desc(dir: &Path) -> Result<(), String> {
    let link = dir.join("os_desc").join("c.1");
    if fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::remove_file(&link).map_err(|e| configfs_error(&link, e))?;
    }
    Ok(())
}

fn ethernet_error(path: &Path, function: NetFunction, error: std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound || error.raw_os_error() == Some(libc::ENOENT) {
        return format!(
            "{}: {error} — is the {} module available (modprobe {})?",
            path.display(),
            function.module(),
            function.module()
        );
    }
    configfs_error(path, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5c1f0e3e8b5b4a4e9d7c2f1a0b3c4d5e\n";

    #[test]
    fn test_macs_stable_local_unicast_distinct() {
        let a = Ethernet::for_board(NetFunction::Ecm, ID);
        assert_eq!(a, Ethernet::for_board(NetFunction::Ecm, ID.trim()));
        for mac in [a.host_mac, a.dev_mac] {
            assert_eq!(mac.0[0] & 0x01, 0, "unicast: {mac}");
            assert_eq!(mac.0[0] & 0x02, 0x02, "locally administered: {mac}");
        }
        assert_ne!(a.host_mac, a.dev_mac);
        let b = Ethernet::for_board(NetFunction::Ecm, "another board");
        assert_ne!(a.host_mac, b.host_mac);
        assert!(!a.host_mac.to_string().contains("5c:1f:0e"));
    }

    #[test]
    fn test_macs_for_many_ids_always_valid() {
        for n in 0..2000 {
            let e = Ethernet::for_board(NetFunction::Ncm, &format!("id-{n}"));
            assert_eq!(e.host_mac.0[0] & 0x03, 0x02);
            assert_eq!(e.dev_mac.0[0] & 0x03, 0x02);
            assert_ne!(e.host_mac, e.dev_mac);
        }
    }

    #[test]
    fn test_mac_display() {
        let mac = Mac([0x02, 0xab, 0, 0x10, 0xff, 9]);
        assert_eq!(mac.to_string(), "02:ab:00:10:ff:09");
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn test_create_ecm_linked_first_with_macs() {
        let (_root, mut config) = crate::gadget::tests::system("ecm");
        config.ethernet = Some(Ethernet::for_board(NetFunction::Ecm, ID));
        let gadget = Gadget::create(&config).expect("created");
        let dir = config.configfs.join("usb_gadget/kv");
        let ecm = dir.join("functions/ecm.usb0");
        let ethernet = config.ethernet.as_ref().unwrap();
        assert_eq!(read(&ecm.join("host_addr")), ethernet.host_mac.to_string());
        assert_eq!(read(&ecm.join("dev_addr")), ethernet.dev_mac.to_string());
        assert_eq!(
            fs::read_link(dir.join("configs/c.1/ecm.usb0")).unwrap(),
            ecm
        );
        assert!(!dir.join("os_desc/use").exists(), "os_desc only for RNDIS");
        // A temp dir has no kernel to name the interface.
        assert!(gadget.ethernet_interface().unwrap().is_err());
        fs::write(ecm.join("ifname"), "usb0\n").unwrap();
        assert_eq!(gadget.ethernet_interface(), Some(Ok("usb0".into())));
        fs::write(ecm.join("ifname"), "(unnamed net_device)\n").unwrap();
        let e = gadget.ethernet_interface().unwrap().unwrap_err();
        assert!(e.contains("bound"), "{e}");
        drop(gadget);
        assert!(!dir.exists());
    }

    #[test]
    fn test_create_rndis_with_os_descriptors() {
        let (_root, mut config) = crate::gadget::tests::system("rndis");
        config.ethernet = Some(Ethernet::for_board(NetFunction::Rndis, ID));
        let mut gadget = Gadget::create(&config).expect("created");
        let dir = config.configfs.join("usb_gadget/kv");
        assert_eq!(read(&dir.join("os_desc/use")), "1");
        assert_eq!(read(&dir.join("os_desc/qw_sign")), "MSFT100");
        assert_eq!(read(&dir.join("os_desc/b_vendor_code")), "0xcd");
        assert_eq!(
            fs::read_link(dir.join("os_desc/c.1")).unwrap(),
            dir.join("configs/c.1")
        );
        let interface = dir.join("functions/rndis.usb0/os_desc/interface.rndis");
        assert_eq!(read(&interface.join("compatible_id")), "RNDIS");
        assert_eq!(read(&interface.join("sub_compatible_id")), "5162001");
        assert!(dir.join("configs/c.1/rndis.usb0").exists());
        gadget.remove().expect("removed, os_desc link first");
        assert!(!dir.exists());
    }

    #[test]
    fn test_function_names() {
        for name in NetFunction::NAMES {
            assert_eq!(
                NetFunction::parse(name).map(NetFunction::as_str),
                Some(name)
            );
        }
        assert_eq!(NetFunction::parse("RNDIS"), Some(NetFunction::Rndis));
        assert_eq!(NetFunction::parse("eem"), None);
    }
}

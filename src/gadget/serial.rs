//! The gadget's serial function (`--serial`): CDC ACM, linked after every
//! other function so the HID interface numbers never change. The target
//! sees a modem-class serial port that needs no driver of its own (Linux's
//! cdc_acm: `/dev/ttyACM0`; Windows 10 and later: a COM port; macOS:
//! `/dev/cu.usbmodem*`); the board's end is `/dev/ttyGS<port_num>`, the
//! number u_serial gave the function.

use std::fs;
use std::path::PathBuf;

use super::{configfs_error, Gadget};

/// The function's directory under `functions/` and its link in the config.
const FUNCTION: &str = "acm.usb0";

/// Adds the function to a gadget being built (before it is bound).
pub(super) fn add(gadget: &Gadget) -> Result<(), String> {
    super::make_function_dir(&gadget.dir.join("functions").join(FUNCTION), "usb_f_acm")?;
    gadget.link_function(FUNCTION)
}

impl Gadget {
    /// The board's end of the serial port, `/dev/ttyGS<port_num>`, when the
    /// gadget has one.
    pub fn serial_tty(&self) -> Option<Result<PathBuf, String>> {
        if !self.config.serial_port {
            return None;
        }
        let attr = self.dir.join("functions").join(FUNCTION).join("port_num");
        let port = fs::read_to_string(&attr)
            .map_err(|e| configfs_error(&attr, e))
            .and_then(|text| {
                text.trim().parse::<u8>().map_err(|_| {
                    format!("{}: {:?} is not a port number", attr.display(), text.trim())
                })
            });
        Some(port.map(|n| self.config.dev.join(format!("ttyGS{n}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::system;
    use super::*;

    #[test]
    fn test_create_adds_acm_last_and_finds_its_tty() {
        let (_root, mut config) = system("serial");
        config.serial_port = true;
        config.mass_storage = true;
        let gadget = Gadget::create(&config).expect("created");
        let dir = config.configfs.join("usb_gadget/kv");
        let link = fs::read_link(dir.join("configs/c.1/acm.usb0")).expect("linked");
        assert_eq!(link, dir.join("functions/acm.usb0"));
        let e = gadget.serial_tty().unwrap().unwrap_err();
        assert!(e.contains("port_num"), "{e}");
        // configfs shows the number u_serial gave it; a temp dir does not.
        fs::write(dir.join("functions/acm.usb0/port_num"), "2\n").unwrap();
        assert_eq!(
            gadget.serial_tty().unwrap().unwrap(),
            config.dev.join("ttyGS2")
        );
        fs::write(dir.join("functions/acm.usb0/port_num"), "x").unwrap();
        assert!(gadget.serial_tty().unwrap().is_err());
    }

    #[test]
    fn test_create_without_serial_has_no_tty() {
        let (_root, config) = system("no-serial");
        let gadget = Gadget::create(&config).expect("created");
        assert!(gadget.serial_tty().is_none());
        assert!(!config
            .configfs
            .join("usb_gadget/kv/functions/acm.usb0")
            .exists());
    }
}

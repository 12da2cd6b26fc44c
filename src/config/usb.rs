//! The USB side of the command line: `--gadget` and its identity, and
//! `--ethernet` with its link, checked into the gadget and network configs.

use std::path::PathBuf;

use super::Args;
use crate::gadget::ethernet::{Ethernet, NetFunction};
use crate::gadget::GadgetConfig;
use crate::net::{Subnet, UsbNetConfig, DEFAULT_SUBNET};

/// `--gadget` and its flags into the gadget kv creates.
pub(super) fn gadget_config(args: &Args) -> Result<Option<GadgetConfig>, String> {
    if !args.gadget {
        return Ok(None);
    }
    if args.demo {
        return Err("--gadget and --demo exclude each other: the demo target is simulated".into());
    }
    if args.hid_keyboard.is_some() || args.hid_mouse.is_some() || args.hid_mouse_rel.is_some() {
        return Err(
            "--gadget creates its own HID devices; drop --hid-keyboard/--hid-mouse/--hid-mouse-rel"
                .into(),
        );
    }
    if args.disable_keyboard && args.disable_mouse && args.disable_mouse_rel {
        return Err("--gadget with every HID function disabled; keep at least one".into());
    }
    // Stable per board without giving the machine ID away (see board_serial).
    let machine_id = machine_id();
    let mut config = GadgetConfig::new(crate::gadget::board_serial(&machine_id));
    config.configfs = args.configfs.clone();
    config.udc_root = args.udc_root.clone();
    config.udc = args.udc.clone();
    config.vendor = parse_usb_id("--usb-vid", &args.usb_vid)?;
    config.product = parse_usb_id("--usb-pid", &args.usb_pid)?;
    config.keyboard = !args.disable_keyboard;
    config.mouse_absolute = !args.disable_mouse;
    config.mouse_relative = !args.disable_mouse_rel;
    config.mass_storage = args.images.is_some();
    config.serial_port = args.serial;
    Ok(Some(config))
}

/// What makes this board itself: its machine ID, else its host name.
fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap_or_default()
}

/// `--ethernet` and its flags: the function added to `gadget`, and the link.
pub(super) fn usb_net_config(
    args: &Args,
    gadget: Option<&mut GadgetConfig>,
) -> Result<Option<UsbNetConfig>, String> {
    if !args.ethernet && args.ethernet_type.is_none() {
        if args.usb_net.is_some() || args.usb_gateway {
            return Err("--usb-net and --usb-gateway configure --ethernet; add it".into());
        }
        return Ok(None);
    }
    let Some(gadget) = gadget else {
        return Err("--ethernet adds a network card to kv's USB gadget; add --gadget".into());
    };
    let function = match args.ethernet_type.as_deref() {
        None => NetFunction::Ecm,
        Some(name) => NetFunction::parse(name).ok_or_else(|| {
            format!(
                "--ethernet-type {name:?} is unknown; use one of {}",
                NetFunction::NAMES.join(", ")
            )
        })?,
    };
    gadget.ethernet = Some(Ethernet::for_board(function, &machine_id()));
    let subnet = Subnet::parse(args.usb_net.as_deref().unwrap_or(DEFAULT_SUBNET))?;
    Ok(Some(UsbNetConfig {
        subnet,
        gateway: args.usb_gateway,
        state_dir: PathBuf::from("/run/kv"),
    }))
}

/// `0x1d6b` or `1d6b` into a USB vendor/product ID.
fn parse_usb_id(flag: &str, text: &str) -> Result<u16, String> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    u16::from_str_radix(digits, 16)
        .map_err(|_| format!("{flag} {text:?} is not a 16-bit hex ID; use e.g. 0x1d6b"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{args, no_env};
    use crate::config::Config;

    #[test]
    fn test_gadget_flags() {
        assert!(Config::from_args(args(&[]), &no_env)
            .unwrap()
            .gadget
            .is_none());
        let list = [
            "--gadget",
            "--udc",
            "dummy_udc.0",
            "--usb-vid",
            "16c0",
            "--usb-pid",
            "0x048A",
            "--disable-mouse-rel",
            "--configfs",
            "/tmp/cfs",
        ];
        let g = Config::from_args(args(&list), &no_env)
            .unwrap()
            .gadget
            .unwrap();
        assert_eq!((g.vendor, g.product), (0x16c0, 0x048a));
        assert_eq!(g.udc.as_deref(), Some("dummy_udc.0"));
        assert_eq!(g.configfs, PathBuf::from("/tmp/cfs"));
        assert!(g.keyboard && g.mouse_absolute && !g.mouse_relative);
        assert_eq!(g.serial.len(), 16);
    }

    #[test]
    fn test_gadget_refusals() {
        let refuse = |list: &[&str], want: &str| {
            let e = Config::from_args(args(list), &no_env).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        refuse(&["--gadget", "--demo"], "--demo");
        refuse(
            &["--gadget", "--hid-keyboard", "/dev/hidg0"],
            "--hid-keyboard",
        );
        refuse(&["--gadget", "--usb-vid", "xyz"], "--usb-vid");
        refuse(&["--gadget", "--usb-pid", "0x12345"], "--usb-pid");
        let all = [
            "--gadget",
            "--disable-keyboard",
            "--disable-mouse",
            "--disable-mouse-rel",
        ];
        refuse(&all, "at least one");
    }

    #[test]
    fn test_ethernet_flags() {
        let c = Config::from_args(args(&["--gadget", "--ethernet"]), &no_env).unwrap();
        let e = c.gadget.unwrap().ethernet.unwrap();
        assert_eq!(e.function, NetFunction::Ecm);
        let net = c.usb_net.unwrap();
        assert_eq!(net.subnet.to_string(), DEFAULT_SUBNET);
        assert!(!net.gateway);
        let list = [
            "--gadget",
            "--ethernet-type",
            "rndis",
            "--usb-net",
            "192.168.7.1/24",
            "--usb-gateway",
        ];
        let c = Config::from_args(args(&list), &no_env).unwrap();
        assert_eq!(
            c.gadget.unwrap().ethernet.unwrap().function,
            NetFunction::Rndis
        );
        let net = c.usb_net.unwrap();
        assert_eq!(net.subnet.to_string(), "192.168.7.1/24");
        assert!(net.gateway);
        let plain = Config::from_args(args(&["--gadget"]), &no_env).unwrap();
        assert!(plain.usb_net.is_none() && plain.gadget.unwrap().ethernet.is_none());
    }

    #[test]
    fn test_ethernet_refusals() {
        let refuse = |list: &[&str], want: &str| {
            let e = Config::from_args(args(list), &no_env).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        refuse(&["--ethernet"], "--gadget");
        refuse(&["--gadget", "--ethernet-type", "eem"], "ecm, ncm, rndis");
        refuse(
            &["--gadget", "--ethernet", "--usb-net", "10.0.0.0/8"],
            "--usb-net",
        );
        refuse(&["--gadget", "--usb-gateway"], "add it");
    }
}

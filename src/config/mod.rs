//! Command-line flags (raw, as argh parses them) validated into the `Config`
//! the program runs with. Every refusal says what was wrong and how to fix it.
//! Config sits above the subsystems: it builds each one's own config type
//! (`usb` for the gadget and link, `secrets` for credentials and TLS), and
//! nothing below imports it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Credentials;
use crate::gadget::GadgetConfig;
use crate::http::host::KnownNames;
use crate::net::UsbNetConfig;
use crate::tls::TlsSource;

mod args;
mod secrets;
mod usb;
pub mod user_args;

pub use args::Args;
use secrets::{credentials, tls_source};
use usb::{gadget_config, usb_net_config};

/// What kv runs with, every value checked.
#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub device: Option<PathBuf>,
    /// `None`: the source's default size.
    pub resolution: Option<(u32, u32)>,
    pub fps: u32,
    pub quality: u8,
    pub demo: bool,
    pub credentials: Option<Credentials>,
    pub hid_keyboard: Option<PathBuf>,
    pub hid_mouse: Option<PathBuf>,
    pub hid_mouse_rel: Option<PathBuf>,
    /// `--gadget`: kv's own USB gadget, which provides the HID devices.
    pub gadget: Option<GadgetConfig>,
    /// `--images`: the images folder.
    pub images: Option<PathBuf>,
    pub max_image_size: Option<u64>,
    /// `--ethernet`: the board's end of the USB network link.
    pub usb_net: Option<UsbNetConfig>,
    pub layout: String,
    /// `--jiggle`: how long without input before the mouse jiggles.
    pub jiggle: Option<Duration>,
    pub max_connections: usize,
    /// `--max-per-address`.
    pub max_per_address: usize,
    pub log_level: log::LevelFilter,
    /// HTTPS on `listen` when set.
    pub tls: Option<TlsSource>,
    /// Plain HTTP beside HTTPS (`--http-port`).
    pub http_listen: Option<SocketAddr>,
    /// `--state-dir`: what kv keeps for itself (certificate, macros, the MAC last woken).
    pub state_dir: PathBuf,
    /// --control: one controller at a time, or everyone.
    pub control: crate::control::Mode,
    /// The names requests may carry in `Host` (`--host-name`, `--tls-name`).
    pub known_names: KnownNames,
    /// `--wol-mac`.
    pub wol_mac: Option<crate::net::wol::Mac>,
    /// `--wol-to`; empty: the LAN broadcast.
    pub wol_to: Vec<std::net::SocketAddrV4>,
}

/// Reads the environment variables kv uses; a function so tests can fake it.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Config {
    pub fn from_args(args: Args, env: Env) -> Result<Config, String> {
        let ip: IpAddr = args.bind.parse().map_err(|_| {
            format!(
                "--bind {:?} is not an IP address; use e.g. 0.0.0.0 or 127.0.0.1",
                args.bind
            )
        })?;
        let resolution = args
            .resolution
            .as_deref()
            .map(parse_resolution)
            .transpose()?;
        if !(1..=120).contains(&args.fps) {
            return Err(format!("--fps {} is out of range; use 1 to 120", args.fps));
        }
        if !(1..=100).contains(&args.quality) {
            return Err(format!(
                "--quality {} is out of range; use 1 to 100",
                args.quality
            ));
        }
        if args.max_connections < 4 {
            return Err("--max-connections must be at least 4".into());
        }
        if args.max_per_address < 4 {
            return Err(
                "--max-per-address must be at least 4 (a browser tab opens about 8)".into(),
            );
        }
        let log_level = args.log_level.parse().map_err(|_| {
            format!(
                "--log-level {:?} is not a level; use error, warn, info, debug or trace",
                args.log_level
            )
        })?;
        let mut gadget = gadget_config(&args)?;
        let usb_net = usb_net_config(&args, gadget.as_mut())?;
        let jiggle = match args.jiggle {
            Some(seconds @ 1..=86400) => Some(Duration::from_secs(seconds)),
            Some(seconds) => {
                return Err(format!(
                    "--jiggle {seconds} is out of range; use 1 to 86400 seconds (e.g. 60)"
                ))
            }
            None => None,
        };
        let max_image_size = args.max_image_size.as_deref().map(parse_size).transpose()?;
        if max_image_size.is_some() && args.images.is_none() {
            return Err("--max-image-size needs --images DIR".into());
        }
        let listen = SocketAddr::new(ip, args.port);
        let tls = tls_source(&args)?;
        let http_listen = http_listen(args.http_port.as_deref(), ip, listen, tls.is_some())?;
        let known_names = known_names(&args.host_name, &args.tls_name, tls.as_ref())?;
        Ok(Config {
            listen,
            device: args.device,
            resolution,
            fps: args.fps,
            quality: args.quality,
            demo: args.demo,
            credentials: credentials(
                args.password_file.as_deref(),
                args.password_hash.as_deref(),
                env,
            )?,
            hid_keyboard: args.hid_keyboard,
            hid_mouse: args.hid_mouse,
            hid_mouse_rel: args.hid_mouse_rel,
            gadget,
            images: args.images,
            max_image_size,
            usb_net,
            layout: args.layout,
            jiggle,
            max_connections: args.max_connections,
            max_per_address: args.max_per_address,
            log_level,
            tls,
            http_listen,
            state_dir: args.state_dir,
            control: crate::control::Mode::parse(&args.control)?,
            known_names,
            wol_mac: args
                .wol_mac
                .as_deref()
                .map(crate::net::wol::Mac::parse)
                .transpose()
                .map_err(|e| format!("--wol-mac: {e}"))?,
            wol_to: args
                .wol_to
                .iter()
                .map(|t| crate::net::wol::parse_destination(t))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `--host-name` checked, with the machine's own names, `--tls-name` and
/// the names a `--tls-cert` is for.
fn known_names(
    host_names: &[String],
    tls_names: &[String],
    tls: Option<&TlsSource>,
) -> Result<KnownNames, String> {
    for name in host_names {
        let fine = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !fine {
            return Err(format!(
                "--host-name {name:?} is not a DNS name; give the name alone, e.g. kv.example.org (no scheme, port or path)"
            ));
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let certified = match tls {
        Some(TlsSource::Files { cert, .. }) => crate::tls::certificate_names(cert),
        _ => Vec::new(),
    };
    Ok(KnownNames::new(
        &host,
        &[host_names, tls_names, &certified].concat(),
    ))
}

/// `--max-image-size`: `4000000000`, `700M`, `8G`, `1T` (powers of 1024;
/// a trailing `B` or `iB` is fine).
fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("--max-image-size {text:?} is not a size; use bytes or e.g. 700M, 8G");
    let upper = text.trim().to_ascii_uppercase();
    let number = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match number.char_indices().last() {
        Some((i, 'K')) => (&number[..i], 10),
        Some((i, 'M')) => (&number[..i], 20),
        Some((i, 'G')) => (&number[..i], 30),
        Some((i, 'T')) => (&number[..i], 40),
        _ => (number, 0),
    };
    let value: u64 = digits.trim().parse().map_err(|_| bad())?;
    let size = value.checked_mul(1u64 << shift).ok_or_else(bad)?;
    if size == 0 {
        return Err("--max-image-size must be more than 0".into());
    }
    Ok(size)
}

/// `1920x1080`, `720p`, ... into width and height.
pub fn parse_resolution(text: &str) -> Result<(u32, u32), String> {
    let named = match text.to_ascii_lowercase().as_str() {
        "480p" => Some((640, 480)),
        "576p" => Some((720, 576)),
        "720p" => Some((1280, 720)),
        "1080p" => Some((1920, 1080)),
        "1440p" => Some((2560, 1440)),
        "2160p" | "4k" => Some((3840, 2160)),
        _ => None,
    };
    if let Some(wh) = named {
        return Ok(wh);
    }
    let bad = || {
        format!("--resolution {text:?} is not WxH (e.g. 1280x720) or one of 480p, 576p, 720p, 1080p, 1440p, 2160p")
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err(format!(
            "--resolution {text}: width and height must be within 16..8192"
        ));
    }
    Ok((w, h))
}

/// `--http-port PORT` (on --bind's address) or `ADDRESS:PORT`.
fn http_listen(
    text: Option<&str>,
    bind: IpAddr,
    listen: SocketAddr,
    tls: bool,
) -> Result<Option<SocketAddr>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    if !tls {
        return Err("--http-port adds plain HTTP beside HTTPS; without --tls-cert or --tls-self-signed, --port already serves plain HTTP".into());
    }
    let addr = match text.parse::<u16>() {
        Ok(port) => SocketAddr::new(bind, port),
        Err(_) => text.parse().map_err(|_| {
            format!("--http-port {text:?} is neither a port nor ADDRESS:PORT; use e.g. 8080 or 127.0.0.1:8080")
        })?,
    };
    let same_ip =
        addr.ip() == listen.ip() || addr.ip().is_unspecified() || listen.ip().is_unspecified();
    // Port 0 asks the system for a free port each time, so two never clash.
    if addr.port() == listen.port() && addr.port() != 0 && same_ip {
        return Err(format!(
            "--http-port {text} is the HTTPS port; pick another for plain HTTP"
        ));
    }
    Ok(Some(addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argh::FromArgs;

    pub(super) fn args(list: &[&str]) -> Args {
        Args::from_args(&["kv"], list).unwrap()
    }

    pub(super) fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn test_defaults() {
        let c = Config::from_args(args(&[]), &no_env).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:3000");
        assert_eq!(c.fps, 30);
        assert_eq!(c.quality, 80);
        assert!(c.credentials.is_none());
        assert_eq!(c.resolution, None);
    }

    #[test]
    fn test_resolution_forms() {
        assert_eq!(parse_resolution("720p"), Ok((1280, 720)));
        assert_eq!(parse_resolution("1920x1080"), Ok((1920, 1080)));
        assert!(parse_resolution("1920").unwrap_err().contains("WxH"));
        assert!(parse_resolution("0x0").is_err());
        assert!(parse_resolution("axb").is_err());
    }

    #[test]
    fn test_refusals_name_the_flag() {
        let e = Config::from_args(args(&["-b", "localhost"]), &no_env).unwrap_err();
        assert!(e.contains("--bind"), "{e}");
        let e = Config::from_args(args(&["-q", "0"]), &no_env).unwrap_err();
        assert!(e.contains("--quality"), "{e}");
        let e = Config::from_args(args(&["--log-level", "loud"]), &no_env).unwrap_err();
        assert!(e.contains("--log-level"), "{e}");
    }

    #[test]
    fn test_jiggle_seconds() {
        let c = Config::from_args(args(&[]), &no_env).unwrap();
        assert_eq!(c.jiggle, None, "off unless asked for");
        let c = Config::from_args(args(&["--jiggle", "60"]), &no_env).unwrap();
        assert_eq!(c.jiggle, Some(Duration::from_secs(60)));
        let e = Config::from_args(args(&["--jiggle", "0"]), &no_env).unwrap_err();
        assert!(e.contains("--jiggle 0") && e.contains("1 to 86400"), "{e}");
    }

    #[test]
    fn test_image_flags() {
        assert_eq!(parse_size("700M"), Ok(700 << 20));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("1t"), Ok(1 << 40));
        assert_eq!(parse_size("12345"), Ok(12345));
        for bad in ["", "G", "-1", "1.5G", "0", "99999999999T", "8X"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        let c = Config::from_args(
            args(&["--images", "/srv/img", "--max-image-size", "1G"]),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.images.as_deref(), Some(std::path::Path::new("/srv/img")));
        assert_eq!(c.max_image_size, Some(1 << 30));
        let e = Config::from_args(args(&["--max-image-size", "1G"]), &no_env).unwrap_err();
        assert!(e.contains("--images"), "{e}");
        let c = Config::from_args(args(&["--gadget", "--images", "/srv/img"]), &no_env).unwrap();
        assert!(c.gadget.unwrap().mass_storage);
    }
}

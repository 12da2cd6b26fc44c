//! Command-line flags (raw, as argh parses them) validated into the `Config`
//! the program runs with. Every refusal says what was wrong and how to fix it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use argh::FromArgs;

use crate::auth::{Credentials, Secret};
use crate::gadget::ethernet::{Ethernet, NetFunction};
use crate::gadget::GadgetConfig;
use crate::net::{Subnet, UsbNetConfig, DEFAULT_SUBNET};
use crate::tls::TlsSource;

/// kv: a remote KVM. Serves the target's screen (V4L2 capture) to browsers and
/// acts as its USB keyboard and mouse. Credentials come from the environment
/// (KV_USER, KV_PASSWORD or KV_PASSWORD_HASH), --password-file or
/// --password-hash, never as a plain password on the command line.
#[derive(FromArgs, Debug)]
pub struct Args {
    /// TCP port to listen on (default 3000)
    #[argh(option, short = 'p', default = "3000")]
    pub port: u16,

    /// address to listen on (default 0.0.0.0; 127.0.0.1 keeps kv local)
    #[argh(option, short = 'b', default = "String::from(\"0.0.0.0\")")]
    pub bind: String,

    /// capture device, e.g. /dev/video0 (default: the first that offers MJPEG)
    #[argh(option, short = 'd')]
    pub device: Option<PathBuf>,

    /// capture resolution: WxH (1920x1080) or 480p/576p/720p/1080p/1440p/2160p
    /// (default 1920x1080 when the device offers it, 1280x720 in --demo)
    #[argh(option, short = 'r')]
    pub resolution: Option<String>,

    /// frames per second to capture (default 30)
    #[argh(option, short = 'f', default = "30")]
    pub fps: u32,

    /// JPEG quality 1-100 of frames kv encodes itself, from raw (YUYV,
    /// UYVY, NV12) devices (default 80); MJPEG is always passed through as
    /// the device sent it
    #[argh(option, short = 'q', default = "80")]
    pub quality: u8,

    /// serve a simulated target instead of real hardware: its screen shows
    /// what kv's keyboard and mouse send it
    #[argh(switch)]
    pub demo: bool,

    /// file holding "user:password" (or just the password; the user is then
    /// KV_USER or "admin"); keep it readable by root only
    #[argh(option)]
    pub password_file: Option<PathBuf>,

    /// keyboard HID gadget device (e.g. /dev/hidg0)
    #[argh(option)]
    pub hid_keyboard: Option<PathBuf>,

    /// absolute mouse HID gadget device (e.g. /dev/hidg1)
    #[argh(option)]
    pub hid_mouse: Option<PathBuf>,

    /// relative (boot) mouse HID gadget device (e.g. /dev/hidg2)
    #[argh(option)]
    pub hid_mouse_rel: Option<PathBuf>,

    /// create kv's own USB gadget through configfs (keyboard, absolute and
    /// relative mouse) and use its /dev/hidgN nodes; needs root
    #[argh(switch)]
    pub gadget: bool,

    /// configfs mount point for --gadget (default /sys/kernel/config)
    #[argh(option, default = "PathBuf::from(\"/sys/kernel/config\")")]
    pub configfs: PathBuf,

    /// where USB device controllers are listed (default /sys/class/udc)
    #[argh(option, default = "PathBuf::from(\"/sys/class/udc\")")]
    pub udc_root: PathBuf,

    /// USB device controller to bind the gadget to (default: the only one)
    #[argh(option)]
    pub udc: Option<String>,

    /// USB vendor ID of the gadget, hex (default 0x1d6b)
    #[argh(option, default = "String::from(\"0x1d6b\")")]
    pub usb_vid: String,

    /// USB product ID of the gadget, hex (default 0x0104)
    #[argh(option, default = "String::from(\"0x0104\")")]
    pub usb_pid: String,

    /// gadget without the keyboard
    #[argh(switch)]
    pub disable_keyboard: bool,

    /// gadget without the absolute mouse
    #[argh(switch)]
    pub disable_mouse: bool,

    /// gadget without the relative (boot) mouse
    #[argh(switch)]
    pub disable_mouse_rel: bool,

    /// after this many seconds without input, move the mouse and back so the
    /// target stays awake (default: never)
    #[argh(option)]
    pub jiggle: Option<u64>,

    /// folder of disk images to upload and attach (created if missing);
    /// with --gadget the target also gets a USB drive for them
    #[argh(option)]
    pub images: Option<PathBuf>,

    /// largest image an upload may create, in bytes or with K/M/G/T
    /// (e.g. 8G; default: only the free space limits it)
    #[argh(option)]
    pub max_image_size: Option<String>,

    /// add a USB network card to the gadget (--gadget): the target sees a
    /// link to the board, which serves it an address by DHCP when dnsmasq is
    /// installed (no route, no DNS)
    #[argh(switch)]
    pub ethernet: bool,

    /// the network function --ethernet adds: ecm (default; Linux, macOS),
    /// ncm (faster; Windows 11, Linux, macOS) or rndis (Windows 7-10); implies
    /// --ethernet
    #[argh(option)]
    pub ethernet_type: Option<String>,

    /// the board's address and subnet on the USB link, whose other addresses
    /// the target gets by DHCP (default 10.55.0.1/30)
    #[argh(option)]
    pub usb_net: Option<String>,

    /// offer the board as the target's router over the USB link (routing and
    /// NAT on the board are up to you; DNS is never offered)
    #[argh(switch)]
    pub usb_gateway: bool,

    /// keyboard layout of the target for paste: us, uk, de, fr, es, it (default us)
    #[argh(option, default = "String::from(\"us\")")]
    pub layout: String,

    /// most simultaneous connections (default 256)
    #[argh(option, default = "256")]
    pub max_connections: usize,

    /// log level: error, warn, info, debug, trace (default info)
    #[argh(option, default = "String::from(\"info\")")]
    pub log_level: String,

    /// print version and git commit, then exit
    #[argh(switch)]
    pub version: bool,

    /// argon2 hash of the password (from `kv --hash-password`); the user is
    /// KV_USER or "admin". Also read from KV_PASSWORD_HASH
    #[argh(option)]
    pub password_hash: Option<String>,

    /// read a password from standard input, print its argon2 hash for
    /// --password-hash or KV_PASSWORD_HASH, then exit
    #[argh(switch)]
    pub hash_password: bool,

    /// serve HTTPS on --port with this PEM certificate (or chain); needs --tls-key
    #[argh(option)]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert; keep it readable by root only
    #[argh(option)]
    pub tls_key: Option<PathBuf>,

    /// serve HTTPS on --port with a certificate kv makes on first start and
    /// keeps in --state-dir (tls-cert.pem, tls-key.pem)
    #[argh(switch)]
    pub tls_self_signed: bool,

    /// a DNS name or IP address the self-signed certificate is for; repeat
    /// for more (default: the host name, host name.local, localhost, 127.0.0.1, ::1)
    #[argh(option)]
    pub tls_name: Vec<String>,

    /// where kv keeps what it makes for itself, such as the self-signed
    /// certificate (default /var/lib/kv)
    #[argh(option, default = "PathBuf::from(\"/var/lib/kv\")")]
    pub state_dir: PathBuf,

    /// with TLS, also serve plain HTTP on this port, or ADDRESS:PORT such as
    /// 127.0.0.1:8080 to keep it local (default: no plain HTTP)
    #[argh(option)]
    pub http_port: Option<String>,
}

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
    pub log_level: log::LevelFilter,
    /// HTTPS on `listen` when set.
    pub tls: Option<TlsSource>,
    /// Plain HTTP beside HTTPS (`--http-port`).
    pub http_listen: Option<SocketAddr>,
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
            log_level,
            tls,
            http_listen,
        })
    }
}

/// `--gadget` and its flags into the gadget kv creates.
fn gadget_config(args: &Args) -> Result<Option<GadgetConfig>, String> {
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
    Ok(Some(config))
}

/// What makes this board itself: its machine ID, else its host name.
fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap_or_default()
}

/// `--ethernet` and its flags: the function added to `gadget`, and the link.
fn usb_net_config(
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

/// The one user kv knows: from --password-file, --password-hash /
/// KV_PASSWORD_HASH, or KV_USER/KV_PASSWORD, in that order. A password file
/// may hold an argon2 hash in place of the password.
fn credentials(
    password_file: Option<&std::path::Path>,
    password_hash: Option<&str>,
    env: Env,
) -> Result<Option<Credentials>, String> {
    let env_user = env("KV_USER").filter(|u| !u.is_empty());
    if let Some(path) = password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "--password-file {}: {e}; create it with \"user:password\" on one line",
                path.display()
            )
        })?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        let (user, password) = match line.split_once(':') {
            Some((u, p)) if !u.starts_with('$') => (u.to_string(), p.to_string()),
            _ => (env_user.unwrap_or_else(|| "admin".into()), line.to_string()),
        };
        if user.is_empty() || password.is_empty() {
            return Err(format!(
                "--password-file {}: empty user or password; write \"user:password\"",
                path.display()
            ));
        }
        let secret = if password.starts_with("$argon2") {
            Secret::hash(&password)
                .map_err(|e| format!("--password-file {}: the hash {e}", path.display()))?
        } else {
            Secret::Plain(password)
        };
        return Ok(Some(Credentials { user, secret }));
    }
    let hash = password_hash
        .map(|h| ("--password-hash", h.to_string()))
        .or_else(|| env("KV_PASSWORD_HASH").map(|h| ("KV_PASSWORD_HASH", h)))
        .filter(|(_, h)| !h.is_empty());
    if let Some((from, hash)) = hash {
        let secret = Secret::hash(&hash).map_err(|e| format!("{from} {e}"))?;
        let user = env_user.unwrap_or_else(|| "admin".into());
        return Ok(Some(Credentials { user, secret }));
    }
    match (env_user, env("KV_PASSWORD").filter(|p| !p.is_empty())) {
        (Some(user), Some(password)) => Ok(Some(Credentials {
            user,
            secret: Secret::Plain(password),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(
            "KV_USER is set but KV_PASSWORD is not; set both, or neither to run without login"
                .into(),
        ),
        (None, Some(password)) => Ok(Some(Credentials {
            user: "admin".into(),
            secret: Secret::Plain(password),
        })),
    }
}

/// `--tls-cert`/`--tls-key` or `--tls-self-signed` into where the certificate
/// comes from.
fn tls_source(args: &Args) -> Result<Option<TlsSource>, String> {
    if !args.tls_name.is_empty() && !args.tls_self_signed {
        return Err("--tls-name names what --tls-self-signed makes a certificate for; add --tls-self-signed".into());
    }
    match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (None, None, false) => Ok(None),
        (Some(_), _, true) | (_, Some(_), true) => Err(
            "--tls-self-signed and --tls-cert/--tls-key exclude each other; use your certificate or kv's own"
                .into(),
        ),
        (Some(cert), Some(key), false) => Ok(Some(TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        })),
        (Some(_), None, false) => Err("--tls-cert needs --tls-key, the certificate's private key".into()),
        (None, Some(_), false) => Err("--tls-key needs --tls-cert, the key's certificate".into()),
        (None, None, true) => Ok(Some(TlsSource::SelfSigned {
            dir: args.state_dir.clone(),
            names: if args.tls_name.is_empty() {
                crate::tls::default_names()
            } else {
                args.tls_name.clone()
            },
        })),
    }
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

    fn args(list: &[&str]) -> Args {
        Args::from_args(&["kv"], list).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
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
    fn test_credentials_from_env_and_file() {
        let env = |k: &str| match k {
            "KV_USER" => Some("op".to_string()),
            "KV_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let c = Config::from_args(args(&[]), &env)
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!((c.user.as_str(), plain(&c)), ("op", "pw"));
        let only_user = |k: &str| (k == "KV_USER").then(|| "op".to_string());
        assert!(Config::from_args(args(&[]), &only_user)
            .unwrap_err()
            .contains("KV_PASSWORD"));

        let path = std::env::temp_dir().join(format!("kv-test-pw-{}", std::process::id()));
        std::fs::write(&path, "alice:a:b\n").unwrap();
        let c =
            Config::from_args(args(&["--password-file", path.to_str().unwrap()]), &no_env).unwrap();
        let c = c.credentials.unwrap();
        assert_eq!((c.user.as_str(), plain(&c)), ("alice", "a:b"));
        std::fs::remove_file(&path).unwrap();
        let e =
            Config::from_args(args(&["--password-file", "/nonexistent/kv"]), &no_env).unwrap_err();
        assert!(e.contains("/nonexistent/kv"), "{e}");
    }

    fn plain(c: &Credentials) -> &str {
        match &c.secret {
            Secret::Plain(p) => p,
            Secret::Hash(_) => panic!("expected a plain password"),
        }
    }

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

    #[test]
    fn test_debug_hides_password() {
        let c = Credentials {
            user: "u".into(),
            secret: Secret::Plain("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn test_password_hash_from_flag_env_and_file() {
        // Made by `kv --hash-password` for "pw".
        let phc = crate::auth::hash_password("pw").unwrap();
        let c = Config::from_args(args(&["--password-hash", &phc]), &no_env)
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(c.user, "admin");
        assert!(c.verify("admin", "pw"));
        let env = |k: &str| match k {
            "KV_USER" => Some("op".to_string()),
            "KV_PASSWORD_HASH" => Some(phc.clone()),
            _ => None,
        };
        let c = Config::from_args(args(&[]), &env)
            .unwrap()
            .credentials
            .unwrap();
        assert!(c.verify("op", "pw") && !c.verify("op", "px"));
        let e = Config::from_args(args(&["--password-hash", "pw"]), &no_env).unwrap_err();
        assert!(
            e.contains("--password-hash") && e.contains("kv --hash-password"),
            "{e}"
        );

        let path = std::env::temp_dir().join(format!("kv-test-hash-{}", std::process::id()));
        std::fs::write(&path, format!("alice:{phc}\n")).unwrap();
        let c = Config::from_args(args(&["--password-file", path.to_str().unwrap()]), &no_env)
            .unwrap()
            .credentials
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(c.verify("alice", "pw"));
    }

    #[test]
    fn test_tls_flags() {
        let c = Config::from_args(
            args(&[
                "--tls-cert",
                "/c.pem",
                "--tls-key",
                "/k.pem",
                "--http-port",
                "127.0.0.1:8080",
            ]),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSource::Files {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        assert_eq!(c.http_listen.unwrap().to_string(), "127.0.0.1:8080");
        let c = Config::from_args(
            args(&[
                "--tls-self-signed",
                "--state-dir",
                "/s",
                "--tls-name",
                "kv.lan",
                "--http-port",
                "80",
            ]),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSource::SelfSigned {
                dir: "/s".into(),
                names: vec!["kv.lan".into()]
            })
        );
        assert_eq!(c.http_listen.unwrap().to_string(), "0.0.0.0:80");
        assert!(Config::from_args(args(&[]), &no_env).unwrap().tls.is_none());
    }

    #[test]
    fn test_tls_refusals_name_the_flag() {
        let refuse = |list: &[&str], want: &str| {
            let e = Config::from_args(args(list), &no_env).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        refuse(&["--tls-cert", "/c.pem"], "--tls-key");
        refuse(&["--tls-key", "/k.pem"], "--tls-cert");
        refuse(&["--tls-self-signed", "--tls-cert", "/c.pem"], "exclude");
        refuse(&["--tls-name", "kv.lan"], "--tls-self-signed");
        refuse(&["--http-port", "8080"], "plain HTTP");
        refuse(&["--tls-self-signed", "--http-port", "3000"], "HTTPS port");
        refuse(&["--tls-self-signed", "--http-port", "x"], "--http-port");
    }
}

//! The command line as argh parses it: flags and their help, unchecked.
//! `Config::from_args` turns them into what kv runs with.

use std::path::PathBuf;

use argh::FromArgs;

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

    /// most simultaneous connections from one address (an IPv6 /64 counts
    /// as one; default 32: a browser tab opens about 8)
    #[argh(option, default = "32")]
    pub max_per_address: usize,

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

    /// a name browsers reach kv by (besides IP addresses, localhost, the host
    /// name and host name.local, each --tls-name and the names in --tls-cert);
    /// requests for any other name get 421, which stops DNS rebinding. Repeat
    /// for more
    #[argh(option)]
    pub host_name: Vec<String>,

    /// the MAC address Wake-on-LAN wakes until the UI or API names another
    /// (e.g. aa:bb:cc:dd:ee:ff); the one last woken is kept in --state-dir
    #[argh(option)]
    pub wol_mac: Option<String>,

    /// where Wake-on-LAN packets go, ADDRESS[:PORT], repeatable (default
    /// 255.255.255.255:9): e.g. the directed broadcast 192.168.2.255 of a
    /// target on another subnet; the USB link's broadcast is added with --ethernet
    #[argh(option)]
    pub wol_to: Vec<String>,

    /// a serial console: with --gadget the target gets a USB serial port
    /// (/dev/ttyACM0 on Linux, a COM port on Windows) that the page's
    /// terminal and /ws/serial reach; with --demo a simulated one
    #[argh(switch)]
    pub serial: bool,

    /// where kv keeps what it makes for itself, such as the self-signed
    /// certificate and the audit log (default /var/lib/kv)
    #[argh(option, default = "PathBuf::from(\"/var/lib/kv\")")]
    pub state_dir: PathBuf,

    /// with TLS, also serve plain HTTP on this port, or ADDRESS:PORT such as
    /// 127.0.0.1:8080 to keep it local (default: no plain HTTP)
    #[argh(option)]
    pub http_port: Option<String>,

    /// who types when several people are connected: single (one
    /// controller; others ask), shared (everyone), auto (default: single
    /// once two operators or admins are connected)
    #[argh(option, default = "String::from(\"auto\")")]
    pub control: String,

    /// ATX power button: the GPIO line (gpiochipN:OFFSET or a line name)
    /// that presses it, through an optocoupler or relay (docs/HARDWARE.md)
    #[argh(option)]
    pub atx_power: Option<String>,

    /// ATX reset button's GPIO line (gpiochipN:OFFSET or a line name)
    #[argh(option)]
    pub atx_reset: Option<String>,

    /// GPIO line reading the target's power LED (gpiochipN:OFFSET or a name)
    #[argh(option)]
    pub atx_power_led: Option<String>,

    /// GPIO line reading the target's HDD LED (gpiochipN:OFFSET or a name)
    #[argh(option)]
    pub atx_hdd_led: Option<String>,

    /// an ATX line that is active-low: power, reset, power-led or hdd-led;
    /// repeat for more (default: all active-high)
    #[argh(option)]
    pub atx_active_low: Vec<String>,

    /// how long a short ATX press holds the button, in ms (default 500)
    #[argh(option, default = "500")]
    pub atx_short_press: u64,

    /// how long a long ATX press (force off) holds the power button, in ms
    /// (default 5000)
    #[argh(option, default = "5000")]
    pub atx_long_press: u64,

    #[argh(subcommand)]
    pub command: Option<super::user_args::Command>,
}

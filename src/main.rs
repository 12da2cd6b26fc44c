//! kv: a remote KVM. `main` parses flags, `run` builds the video source, the
//! HID sinks and the listener from the validated `Config`, and hands them to
//! the event loop. See README.md for what kv is and docs/API.md for its routes.
#![deny(unsafe_code)]

use kv::{app, auth, config, demo, event_loop, gadget, hid, media, net, tls, video};

use std::process::ExitCode;
use std::time::Instant;

use config::{Args, Config};
use gadget::Function;
use hid::{layout, Hid, HidSinks};
use video::Mode;

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    if args.version {
        println!(
            "kv {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            env!("KV_GIT_COMMIT")
        );
        return ExitCode::SUCCESS;
    }
    if args.hash_password {
        return hash_password();
    }
    if let Some(config::user_args::Command::User(user)) = args.command {
        return match auth::cli::run(user, &args.state_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kv user: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let config = Config::from_args(args, &|k| std::env::var(k).ok())?;
    // Only kv's own modules log: tungstenite's trace level prints every
    // WebSocket payload, i.e. typed and pasted text (passwords).
    let log_config = simplelog::ConfigBuilder::new()
        .set_time_level(log::LevelFilter::Off)
        .add_filter_allow_str("kv")
        .build();
    let _ = simplelog::TermLogger::init(
        config.log_level,
        log_config,
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Auto,
    );
    let now = Instant::now();
    let layout = layout::by_name(&config.layout).ok_or_else(|| {
        format!(
            "--layout {:?} is unknown; use one of {}",
            config.layout,
            layout::NAMES.join(", ")
        )
    })?;

    // Declared before the server so that it outlives it: the gadget is
    // removed only after the loop has released every key and closed /dev/hidgN.
    let mut gadget = None;
    let (source, sinks, demo) = if config.demo {
        let (width, height) = config.resolution.unwrap_or((1280, 720));
        let demo = demo::DemoTarget::new(Mode {
            width,
            height,
            fps: config.fps,
        });
        log::info!("🎭 Demo mode: a simulated target, no hardware");
        log::info!("📹 Video device: demo");
        log::info!("📐 Resolution: {width}x{height}@{}fps", config.fps);
        (demo.source(), demo.sinks(), Some(demo))
    } else {
        let (width, height) = config.resolution.unwrap_or((1920, 1080));
        let wanted = Mode {
            width,
            height,
            fps: config.fps,
        };
        let source =
            video::v4l2::V4l2Source::open(config.device.as_deref(), wanted, config.quality)?;
        let sinks = match &config.gadget {
            Some(gadget_config) => {
                let created = gadget::Gadget::create(gadget_config)?;
                let sinks = gadget_sinks(&created)?;
                gadget = Some(created);
                sinks
            }
            None => HidSinks::open(
                config.hid_keyboard.as_deref(),
                config.hid_mouse.as_deref(),
                config.hid_mouse_rel.as_deref(),
            )?,
        };
        (Box::new(source) as Box<dyn video::FrameSource>, sinks, None)
    };

    // Before anything listens: a damaged accounts file stops kv here.
    let accounts = auth::accounts::Accounts::open(&config.state_dir)?;
    let listeners = listeners(&config)?;
    raise_open_files(config.max_connections);
    // On any address: on loopback too, every local user and program (and
    // any web page that gets past the Host check) controls the target.
    if config.credentials.is_none() && accounts.is_empty() {
        let who = if config.listen.ip().is_loopback() {
            "every user and program on this machine"
        } else {
            "anyone who can reach this port"
        };
        log::warn!(
            "⚠️  NO PASSWORD SET (listening on {}): {who} controls the target.",
            config.listen.ip()
        );
        log::warn!(
            "⚠️  Add an account with `kv user add NAME`, or set KV_USER and KV_PASSWORD, --password-file or --password-hash (see docs/SECURITY.md)."
        );
    }
    let media = match &config.images {
        Some(dir) => {
            // The demo's drive is simulated and says so; without a gadget
            // images can be managed but not attached.
            let drive: Option<Box<dyn media::Drive>> = if config.demo {
                Some(Box::new(media::SimulatedDrive::default()))
            } else {
                gadget
                    .as_ref()
                    .and_then(gadget::Gadget::drives)
                    .map(|drives| Box::new(drives) as Box<dyn media::Drive>)
            };
            let images = media::Images::open(dir, config.max_image_size, drive)?;
            log::info!(
                "💾 Images: {} (drive: {})",
                images.dir().display(),
                if config.demo {
                    "simulated"
                } else if config.gadget.is_some() {
                    "USB mass storage"
                } else {
                    "none without --gadget"
                }
            );
            Some(images)
        }
        None => None,
    };
    let mut hid = Hid::new(sinks, layout);
    hid.set_jiggle(config.jiggle, now);
    let mut app = app::App::new(config, source, hid, demo, now);
    app.media = media;
    let shares = auth::shares::Shares::open(&app.config.state_dir);
    app.auth.set_accounts(accounts, shares);
    app.udc = gadget.as_ref().map(|gadget| gadget.udc_watch(now));
    app.net = usb_net(&app.config, gadget.as_ref(), now);
    let mut server = event_loop::Server::new(listeners, app)
        .map_err(|e| format!("cannot start the event loop: {e}"))?;
    let outcome = server.run().map_err(|e| format!("event loop failed: {e}"));
    drop(server);
    if let Some(mut gadget) = gadget {
        gadget.remove()?;
        log::info!("🔌 USB gadget removed");
    }
    outcome
}

/// With `--ethernet`: the board's end of the USB link, once the bound
/// gadget has named its interface.
fn usb_net(config: &Config, gadget: Option<&gadget::Gadget>, now: Instant) -> Option<net::UsbNet> {
    let (net_config, gadget) = (config.usb_net.as_ref()?, gadget?);
    let function = config.gadget.as_ref()?.ethernet.as_ref()?.function;
    match gadget.ethernet_interface()? {
        Ok(interface) => Some(net::UsbNet::start(net_config, function, interface, now)),
        Err(e) => {
            log::warn!("🔗 USB ethernet: {e}; no address or DHCP on the link");
            None
        }
    }
}

/// `kv --hash-password`: one line of standard input (the password) to an
/// argon2 hash for --password-hash. The password is never echoed or logged.
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("kv: cannot read the password from standard input: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        eprintln!(
            "kv: empty password; type it on standard input, e.g. `kv --hash-password < file`"
        );
        return ExitCode::FAILURE;
    }
    match auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kv: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The listening sockets: --port (HTTPS under TLS, else plain HTTP) and,
/// with TLS, plain HTTP on --http-port.
fn listeners(config: &Config) -> Result<Vec<event_loop::Listener>, String> {
    let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
    let mut listeners = Vec::new();
    for (addr, tls) in [(Some(config.listen), tls), (config.http_listen, None)] {
        let Some(addr) = addr else { continue };
        let socket = mio::net::TcpListener::bind(addr).map_err(|e| {
            format!("cannot listen on {addr}: {e}; is another kv running? Pick another port with -p or --http-port")
        })?;
        let local = socket.local_addr().unwrap_or(addr);
        let scheme = if tls.is_some() { "https" } else { "http" };
        log::info!("🌐 Listening on {scheme}://{local}");
        listeners.push(event_loop::Listener { socket, tls });
    }
    Ok(listeners)
}

/// Makes room for --max-connections descriptors, plus kv's own (listeners,
/// capture, HID, signals): many systems start services with only 1024.
fn raise_open_files(max_connections: usize) {
    let wanted = max_connections as u64 + 64;
    match kv::sys::rlimit::raise_open_files(wanted) {
        Ok((_, now)) if now < wanted => log::warn!(
            "⚠️  open files limit is {now} (hard limit), below the {wanted} that --max-connections {max_connections} needs; raise it (ulimit -Hn, LimitNOFILE=) or lower --max-connections"
        ),
        Ok((before, now)) if now > before => {
            log::info!("📂 Open files limit raised from {before} to {now} for --max-connections {max_connections}")
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot read the open files limit: {e}"),
    }
}

/// The sinks of the HID functions the gadget created, on the nodes it found.
fn gadget_sinks(gadget: &gadget::Gadget) -> Result<HidSinks, String> {
    let nodes = gadget.nodes()?;
    let node = |function| {
        let found = nodes.iter().find(|(f, _)| *f == function);
        found.map(|(_, path)| path.as_path())
    };
    HidSinks::open(
        node(Function::Keyboard),
        node(Function::MouseAbsolute),
        node(Function::MouseRelative),
    )
}

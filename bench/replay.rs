//! kv serving a folder of JPEGs as if a capture dongle sent them: the whole
//! product (`App`, the event loop, `/stream`, `/ws/video`, `/ws` input) over a
//! `FrameSource` that replays the files in name order at a fixed rate, looping,
//! each tick a new `Frame` captured now. No hardware and no bench-only flag in
//! the product; bench/link.py starts it behind a shaped link with the
//! workloads bench/workloads.py rendered. Keys sent over `/ws` go to a
//! keyboard sink that takes every report, as a host that reads them would.
//!
//!     cargo bench --bench replay -- --frames DIR [--bind IP] [--port P] [--fps F]
//!
//! It logs `Listening on http://ADDR` once ready and runs until SIGINT/SIGTERM.

use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use argh::FromArgs;
use kv::config::{Args, Config};
use kv::hid::{layout, Hid, HidSink, HidSinks};
use kv::video::{jpeg, Frame, FrameSource, Mode, Signal, VideoInfo};
use kv::{app, event_loop};

/// Plays `frames` at `mode.fps` while streaming, from where it left off.
struct Replay {
    name: String,
    frames: Vec<Box<[u8]>>,
    mode: Mode,
    next: usize,
    /// The next frame is due; `None` while nobody watches.
    due: Option<Instant>,
}

impl Replay {
    fn open(dir: &Path, fps: u32) -> Result<Replay, String> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}; render it with bench/workloads.py", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
            .collect();
        paths.sort();
        let mut frames = Vec::with_capacity(paths.len());
        for path in &paths {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            frames.push(bytes.into_boxed_slice());
        }
        let first = frames
            .first()
            .ok_or_else(|| format!("{}: no .jpg files", dir.display()))?;
        let (width, height) = jpeg::dimensions(first)
            .ok_or_else(|| format!("{}: not a JPEG with a frame header", paths[0].display()))?;
        Ok(Replay {
            name: format!("replay {}", dir.display()),
            frames,
            mode: Mode { width, height, fps },
            next: 0,
            due: None,
        })
    }
}

impl FrameSource for Replay {
    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }

    fn set_streaming(&mut self, on: bool, now: Instant) {
        self.due = on.then_some(now);
    }

    fn poll(&mut self, now: Instant) -> Option<Frame> {
        let due = self.due.filter(|&due| now >= due)?;
        // Keep the cadence when the loop wakes late; after a stall, restart
        // from now rather than bursting (as the demo source does).
        let interval = Duration::from_secs(1) / self.mode.fps;
        self.due = Some(if due + interval > now {
            due + interval
        } else {
            now + interval
        });
        let jpeg = self.frames[self.next].clone();
        self.next = (self.next + 1) % self.frames.len();
        Some(Frame::new(jpeg, self.mode.width, self.mode.height, now))
    }

    fn poll_at(&self) -> Option<Instant> {
        self.due
    }

    fn info(&self) -> VideoInfo {
        VideoInfo {
            device: self.name.clone(),
            format: "MJPG".into(),
            mode: self.mode,
            modes: vec![self.mode],
            signal: Signal::Live,
        }
    }

    fn signal(&self) -> Signal {
        Signal::Live
    }

    fn set_mode(&mut self, mode: Mode, _now: Instant) -> Result<(), String> {
        if mode == self.mode {
            Ok(())
        } else {
            Err(format!("{}: plays only {}", self.name, self.mode))
        }
    }
}

/// A keyboard whose host reads every report.
struct ReadingHost;

impl HidSink for ReadingHost {
    fn name(&self) -> &str {
        "bench keyboard"
    }
    fn write(&mut self, _report: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn read_output(&mut self) -> io::Result<Option<u8>> {
        Ok(None)
    }
    fn fd(&self) -> Option<RawFd> {
        None
    }
}

fn run() -> Result<(), String> {
    let (mut frames, mut bind, mut port, mut fps) = (None, "127.0.0.1".to_string(), 0, 30);
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--frames" => frames = Some(value()?),
            "--bind" => bind = value()?,
            "--port" => port = value()?.parse().map_err(|_| "--port N")?,
            "--fps" => fps = value()?.parse().map_err(|_| "--fps N")?,
            _ => return Err(format!("unknown argument {a:?}; see bench/replay.rs")),
        }
    }
    let frames = frames.ok_or("--frames DIR is required")?;
    let source = Replay::open(Path::new(&frames), fps)?;
    let mode = source.mode;
    let size = format!("{}x{}", mode.width, mode.height);
    let (port, fps) = (port.to_string(), fps.to_string());
    let flags = ["-b", &bind, "-p", &port, "-r", &size, "-f", &fps];
    let args = Args::from_args(&["kv"], &flags).map_err(|e| e.output)?;
    let config = Config::from_args(args, &|_| None)?;
    simplelog::TermLogger::init(
        config.log_level,
        simplelog::ConfigBuilder::new()
            .add_filter_allow_str("kv")
            .build(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    )
    .map_err(|e| e.to_string())?;
    let socket = mio::net::TcpListener::bind(config.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let sinks = HidSinks {
        keyboard: Some(Box::new(ReadingHost)),
        ..HidSinks::default()
    };
    let now = Instant::now();
    let hid = Hid::new(sinks, &layout::US);
    let app = app::App::new(config, Box::new(source), hid, None, now);
    let listeners = vec![event_loop::Listener { socket, tls: None }];
    let mut server = event_loop::Server::new(listeners, app).map_err(|e| e.to_string())?;
    // Printed, not logged: the logger lets only kv's own modules through.
    eprintln!("replaying {frames} as {mode}; Listening on http://{local}");
    server.run().map_err(|e| format!("event loop failed: {e}"))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

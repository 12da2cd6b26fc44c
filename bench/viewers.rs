//! Fan-out load: N viewers read kv's `/stream` over loopback from the demo
//! source. Prints, per N: frames delivered per viewer per second, kv's CPU time
//! per 1,000 delivered frames, kv's peak RSS, and the latency from capture to
//! the part fully received (X-Timestamp-Us against this process's
//! CLOCK_MONOTONIC). Speed is measured, not asserted: it exits non-zero only
//! when the run itself broke.
//!
//!     cargo bench --bench viewers [-- VIEWERS... [--seconds S] [--size WxH] [--fps F]]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// CLOCK_MONOTONIC now, as kv stamps frames with it.
fn monotonic_us() -> u128 {
    kv::sys::clock::monotonic().unwrap_or_default().as_micros()
}

struct Options {
    viewers: Vec<usize>,
    seconds: u64,
    size: String,
    fps: u32,
}

fn options() -> Options {
    let mut o = Options {
        viewers: Vec::new(),
        seconds: 5,
        size: "1280x720".into(),
        fps: 30,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                o.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            "--size" => o.size = args.next().expect("--size WxH"),
            "--fps" => o.fps = args.next().and_then(|v| v.parse().ok()).expect("--fps N"),
            n => o.viewers.push(
                n.parse()
                    .unwrap_or_else(|_| panic!("not a viewer count: {n}")),
            ),
        }
    }
    if o.viewers.is_empty() {
        o.viewers = vec![1, 10, 50, 100];
    }
    o
}

fn start_kv(o: &Options) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv"))
        .args([
            "--demo",
            "-b",
            "127.0.0.1",
            "-p",
            "0",
            "-r",
            &o.size,
            "-f",
            &o.fps.to_string(),
        ])
        .args(["--max-connections", "1024"])
        .env_remove("KV_USER")
        .env_remove("KV_PASSWORD")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kv");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("kv exited before listening")
            .expect("kv log");
        if let Some(rest) = line.split("Listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining kv's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// VmRSS in KiB of a process.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// (utime + stime) in seconds and VmHWM in KiB of a process.
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, hwm)
}

fn read_head(s: &mut impl Read) -> Option<String> {
    let mut head = Vec::with_capacity(160);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).ok()?;
        head.push(b[0]);
    }
    String::from_utf8(head).ok()
}

fn field<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

/// What one viewer received.
struct Seen {
    frames: u64,
    bytes: u64,
    /// Capture → part received, µs.
    latencies: Vec<u32>,
}

/// Reads parts until `until`.
fn viewer(addr: String, until: Instant) -> Seen {
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /stream HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut s = BufReader::with_capacity(256 * 1024, s);
    read_head(&mut s).expect("response head");
    let mut boundary = [0u8; 11];
    s.read_exact(&mut boundary).expect("first boundary");
    let mut seen = Seen {
        frames: 0,
        bytes: 0,
        latencies: Vec::new(),
    };
    let mut body = Vec::new();
    while Instant::now() < until {
        let Some(head) = read_head(&mut s) else { break };
        let len: usize = field(&head, "Content-Length:")
            .and_then(|v| v.parse().ok())
            .expect("Content-Length");
        let stamp: u128 = field(&head, "X-Timestamp-Us:")
            .and_then(|v| v.parse().ok())
            .expect("X-Timestamp-Us");
        body.resize(len + 13, 0);
        if s.read_exact(&mut body).is_err() {
            break;
        }
        seen.latencies
            .push(monotonic_us().saturating_sub(stamp) as u32);
        seen.frames += 1;
        seen.bytes += len as u64;
    }
    seen
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn main() {
    let o = options();
    println!(
        "kv fan-out: demo source {} @ {} fps, {} s per run, viewers on loopback",
        o.size, o.fps, o.seconds
    );
    println!(
        "{:>7} | {:>12} | {:>11} | {:>13} | {:>13} | {:>17} | {:>9} | {:>10} | {:>10}",
        "viewers",
        "idle RSS",
        "KiB/frame",
        "fps/viewer",
        "fps min",
        "CPU ms/1k frames",
        "peak RSS",
        "lat p50 ms",
        "lat p99 ms"
    );
    for &n in &o.viewers {
        let (mut kv, addr) = start_kv(&o);
        // Memory with nobody watching (capture stops without viewers).
        std::thread::sleep(Duration::from_secs(1));
        let idle_rss = rss(kv.id());
        let (cpu0, _) = usage(kv.id());
        let until = Instant::now() + Duration::from_secs(o.seconds);
        let start = Instant::now();
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let addr = addr.clone();
                std::thread::spawn(move || viewer(addr, until))
            })
            .collect();
        let results: Vec<Seen> = threads
            .into_iter()
            .map(|t| t.join().expect("viewer thread"))
            .collect();
        let elapsed = start.elapsed().as_secs_f64();
        let (cpu1, hwm) = usage(kv.id());
        let _ = kv.kill();
        let _ = kv.wait();
        let total: u64 = results.iter().map(|r| r.frames).sum();
        let bytes: u64 = results.iter().map(|r| r.bytes).sum();
        if total == 0 {
            eprintln!("no frames delivered with {n} viewers: the run broke");
            std::process::exit(1);
        }
        let min = results.iter().map(|r| r.frames).min().unwrap_or(0) as f64 / elapsed;
        let mut lat: Vec<u32> = results.into_iter().flat_map(|r| r.latencies).collect();
        lat.sort_unstable();
        println!(
            "{:>7} | {:>8} KiB | {:>11} | {:>13.1} | {:>13.1} | {:>17.1} | {:>6} KiB | {:>10.2} | {:>10.2}",
            n,
            idle_rss,
            bytes / total / 1024,
            total as f64 / n as f64 / elapsed,
            min,
            (cpu1 - cpu0) * 1000.0 / (total as f64 / 1000.0),
            hwm,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
        );
    }
}

//! Load measurements for `bench/` (never part of the pass/fail scenarios): a feeder
//! that plays recorded JPEG files into v4l2loopback, a fan-out load of N concurrent
//! `/stream` readers that reports frame rate, server CPU per delivered frame, memory
//! and latency, and an input-latency probe (WebSocket message → HID report).
//! Each prints one `BENCH key=value ...` line for `bench/vm-bench` to tabulate; a
//! slow figure is a result, only a broken run is an error.

use crate::http::Url;
use crate::{feed, jpeg, Outcome};
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Microseconds on CLOCK_MONOTONIC, the clock both servers stamp frames with.
pub(crate) fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

// ---- bench-feed --------------------------------------------------------------------

/// `bench-feed DEV FPS FILE...`: writes the JPEG files round-robin at FPS into
/// v4l2loopback's output side; the format is the first file's size.
pub fn feed_files(dev: &str, fps: u64, paths: &[&str]) -> Outcome {
    let frames = paths
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| format!("{p}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let first = frames
        .first()
        .ok_or("bench-feed needs at least one JPEG file")?;
    let info = jpeg::inspect(first).map_err(|e| format!("{}: {e}", paths[0]))?;
    let max_frame = frames.iter().map(Vec::len).max().unwrap_or(0);
    let mut file = feed::open_output(dev, info.width, info.height, max_frame)?;
    println!(
        "bench-feed: {dev} MJPG {}x{} at {fps} fps, {} files, average {} bytes",
        info.width,
        info.height,
        frames.len(),
        frames.iter().map(Vec::len).sum::<usize>() / frames.len()
    );
    let period = Duration::from_secs(1) / u32::try_from(fps.max(1)).unwrap_or(u32::MAX);
    let mut next = Instant::now();
    for (i, frame) in frames.iter().cycle().enumerate() {
        file.write_all(frame)
            .map_err(|e| format!("{dev}: write frame {i}: {e}"))?;
        if i == 0 {
            println!("first frame written");
        }
        next += period;
        let now = Instant::now();
        if next < now {
            // Fell behind (a busy guest): keep the rate, do not burst to catch up.
            next = now;
        }
        std::thread::sleep(next.saturating_duration_since(now));
    }
    Ok(())
}

// ---- bench-viewers -----------------------------------------------------------------

/// How one reader behaves.
#[derive(Clone, Copy, PartialEq)]
enum Pace {
    Fast,
    /// Sends the request, then never reads.
    Stalled,
    /// Reads at most this many bytes per second.
    Throttled(u64),
}

/// What one reader saw inside the measurement window.
#[derive(Default)]
struct Seen {
    frames: u64,
    bytes: u64,
    latencies_us: Vec<u64>,
    error: Option<String>,
}

/// The part header a server stamps capture time in, as microseconds on CLOCK_MONOTONIC:
/// kv's `X-Timestamp-Us`, or ustreamer's `X-UStreamer-Grab-Time` (seconds, with
/// `?extra_headers=1`).
fn capture_us(name: &str, value: &str) -> Option<u64> {
    if name.eq_ignore_ascii_case("x-timestamp-us") {
        value.parse().ok()
    } else if name.eq_ignore_ascii_case("x-ustreamer-grab-time") {
        value.parse::<f64>().ok().map(|s| (s * 1e6).round() as u64)
    } else {
        None
    }
}

struct Window {
    start_us: u64,
    end_us: u64,
}

/// A reader's error when the server sent nothing for its read timeout: the server is
/// too slow for this load, which is a result, not a broken run.
const STARVED: &str = "read: nothing for 5 s";

fn read_error(e: std::io::Error) -> String {
    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
        STARVED.to_string()
    } else {
        format!("read: {e}")
    }
}

fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> Result<(), String> {
    line.clear();
    r.take(8192).read_until(b'\n', line).map_err(read_error)?;
    if line.is_empty() {
        return Err("connection closed".into());
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(())
}

/// A reader that hands out at most `rate` bytes per second.
struct Throttle<R> {
    inner: R,
    rate: u64,
    started: Instant,
    taken: u64,
}

impl<R: Read> Read for Throttle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let allowed = self.started.elapsed().as_secs_f64() * self.rate as f64;
        let ahead = self.taken as f64 - allowed;
        if ahead > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(ahead / self.rate as f64));
        }
        let chunk = (self.rate / 20).max(1) as usize; // ~50 ms worth per read
        let end = buf.len().min(chunk);
        let n = self.inner.read(&mut buf[..end])?;
        self.taken += n as u64;
        Ok(n)
    }
}

fn open_stream(url: &Url, small_rcvbuf: bool) -> Result<TcpStream, String> {
    let mut s = url.connect(Duration::from_secs(5))?;
    if small_rcvbuf {
        // So the throttle, not the kernel's autotuned buffer, sets the pace.
        let size: libc::c_int = 32 * 1024;
        // SAFETY: setsockopt reads one c_int we own.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        url.path,
        url.authority()
    )
    .map_err(|e| format!("{}: send: {e}", url.authority()))?;
    Ok(s)
}

/// Reads parts until the window ends; counts those completed inside it.
fn read_parts(r: &mut impl BufRead, window: &Window, seen: &mut Seen) -> Result<(), String> {
    let mut line = Vec::new();
    read_line(r, &mut line)?;
    if !line.windows(4).any(|w| w == b" 200") {
        return Err(format!(
            "response {:?}",
            String::from_utf8_lossy(&line).into_owned()
        ));
    }
    loop {
        read_line(r, &mut line)?;
        if line.is_empty() {
            break;
        }
    }
    let mut body = Vec::new();
    loop {
        // Boundary line(s), then the part head.
        loop {
            read_line(r, &mut line)?;
            if line.starts_with(b"--") {
                break;
            }
        }
        let (mut length, mut stamp) = (None, None);
        loop {
            read_line(r, &mut line)?;
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            if let Some((name, value)) = text.split_once(':') {
                let (name, value) = (name.trim(), value.trim());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                }
                stamp = stamp.or_else(|| capture_us(name, value));
            }
        }
        let length = length.ok_or("part without Content-Length")?;
        body.resize(length, 0);
        r.read_exact(&mut body)
            .map_err(|e| format!("a {length}-byte part: {}", read_error(e)))?;
        let now = monotonic_us();
        if now >= window.end_us {
            return Ok(());
        }
        if now >= window.start_us {
            seen.frames += 1;
            seen.bytes += length as u64;
            if let Some(stamp) = stamp {
                seen.latencies_us.push(now.saturating_sub(stamp));
            }
        }
    }
}

fn viewer(url: Arc<Url>, pace: Pace, window: Arc<Window>) -> Seen {
    let mut seen = Seen::default();
    let stream = match open_stream(&url, pace != Pace::Fast) {
        Ok(s) => s,
        Err(e) => {
            seen.error = Some(e);
            return seen;
        }
    };
    let outcome = match pace {
        Pace::Fast => read_parts(
            &mut BufReader::with_capacity(256 * 1024, stream),
            &window,
            &mut seen,
        ),
        Pace::Throttled(rate) => read_parts(
            &mut BufReader::with_capacity(
                4096,
                Throttle {
                    inner: stream,
                    rate,
                    started: Instant::now(),
                    taken: 0,
                },
            ),
            &window,
            &mut seen,
        ),
        Pace::Stalled => {
            let left = window.end_us.saturating_sub(monotonic_us());
            std::thread::sleep(Duration::from_micros(left));
            drop(stream);
            Ok(())
        }
    };
    if let Err(e) = outcome {
        seen.error = Some(e);
    }
    seen
}

/// A process's resident memory in KiB, and how much of it is its own (heap and
/// stacks); the rest is file and shared mappings such as V4L2 capture buffers.
/// From `smaps_rollup`, which walks the page tables: the guest kernel (6.1) keeps
/// RSS counters per thread and folds them into `/proc/PID/status` only every 64
/// page faults, so there a thread that mapped capture buffers and then stopped
/// faulting leaves VmRSS and VmHWM megabytes short, for good.
struct Memory {
    rss: u64,
    anon: u64,
}

/// (utime, stime) of a process in seconds, and its memory.
fn process_usage(pid: u32) -> Result<((f64, f64), Memory), String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e} (did the server exit?)"))?;
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap_or("").split(' ').collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    let cpu = tick(11)
        .zip(tick(12))
        .map(|(u, s)| (u / clock_ticks(), s / clock_ticks()))
        .ok_or_else(|| format!("/proc/{pid}/stat: unexpected format"))?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .map_err(|e| format!("/proc/{pid}/smaps_rollup: {e}"))?;
    let kib = |key: &str| {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let memory = Memory {
        rss: kib("Rss:"),
        anon: kib("Anonymous:"),
    };
    Ok((cpu, memory))
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// (busy, total) jiffies of all CPUs, from /proc/stat.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle.min(total), total)
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let i = ((last as f64) * p).round() as usize;
    sorted.get(i).map_or(0.0, |us| *us as f64 / 1000.0)
}

pub struct ViewerLoad<'a> {
    pub url: &'a str,
    pub fast: usize,
    pub stalled: usize,
    pub throttled: usize,
    pub throttle_rate: u64,
    pub warmup: u64,
    pub seconds: u64,
    pub pid: u32,
    pub label: &'a str,
}

/// `bench-viewers`: connects every reader, lets them run `warmup` seconds, then
/// measures for `seconds`: per-reader frame rate, the server's CPU time per 1,000
/// frames delivered to fast readers, its memory, and capture → received latency.
pub fn viewers(load: &ViewerLoad) -> Outcome {
    let url = Arc::new(Url::parse(load.url)?);
    let start_us = monotonic_us() + load.warmup * 1_000_000;
    let window = Arc::new(Window {
        start_us,
        end_us: start_us + load.seconds * 1_000_000,
    });
    let paces = std::iter::repeat(Pace::Fast)
        .take(load.fast)
        .chain(std::iter::repeat(Pace::Stalled).take(load.stalled))
        .chain(std::iter::repeat(Pace::Throttled(load.throttle_rate)).take(load.throttled));
    let threads: Vec<_> = paces
        .map(|pace| {
            let (url, window) = (url.clone(), window.clone());
            let thread = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || viewer(url, pace, window));
            (pace, thread)
        })
        .collect();
    std::thread::sleep(Duration::from_micros(
        start_us.saturating_sub(monotonic_us()),
    ));
    let (cpu0, _) = process_usage(load.pid)?;
    let machine0 = machine_jiffies();
    std::thread::sleep(Duration::from_micros(
        window.end_us.saturating_sub(monotonic_us()),
    ));
    let (cpu1, mem) = process_usage(load.pid)?;
    let machine1 = machine_jiffies();

    let mut fast = Vec::new();
    let mut slow = Vec::new();
    for (pace, thread) in threads {
        let seen = thread
            .map_err(|e| format!("cannot start a reader thread: {e}"))?
            .join()
            .map_err(|_| "a reader thread panicked".to_string())?;
        if pace == Pace::Fast {
            fast.push(seen);
        } else {
            slow.push(seen);
        }
    }
    let errors: Vec<&String> = fast.iter().filter_map(|s| s.error.as_ref()).collect();
    let frames: u64 = fast.iter().map(|s| s.frames).sum();
    // Readers starved by a server too slow for the load still give a row (0 fps);
    // anything else that delivered nothing means the run broke.
    let starved = !errors.is_empty() && errors.iter().all(|e| e.ends_with(STARVED));
    if frames == 0 && !starved {
        return Err(format!(
            "{}: no frames delivered to {} readers ({})",
            load.url,
            fast.len(),
            errors.first().map_or("no error", |e| e.as_str())
        ));
    }
    let secs = load.seconds as f64;
    let per_viewer: Vec<f64> = fast.iter().map(|s| s.frames as f64 / secs).collect();
    let mut latencies: Vec<u64> = fast
        .iter()
        .flat_map(|s| s.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let bytes: u64 = fast.iter().map(|s| s.bytes).sum();
    let (user, system) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let cpu = user + system;
    let busy = (machine1.0 - machine0.0) as f64 / (machine1.1 - machine0.1).max(1) as f64;
    // Figures per delivered frame; "-" when nothing was delivered.
    let per_frame = |v: f64| {
        if frames == 0 {
            "-".to_string()
        } else {
            format!("{:.3}", v / frames as f64)
        }
    };
    let slow_fps: Vec<String> = slow
        .iter()
        .map(|s| format!("{:.1}", s.frames as f64 / secs))
        .collect();
    println!(
        "BENCH {} viewers={} stalled={} throttled={} fps_mean={:.2} fps_min={:.2} fps_max={:.2} \
         frames={frames} bytes_per_frame={} cpu_s={cpu:.2} user_s={user:.2} sys_s={system:.2} cpu_pct={:.1} cpu_s_per_1k={} \
         guest_busy_pct={:.0} rss_kb={} rss_anon_kb={} rss_file_kb={} lat_n={} lat_p50_ms={:.2} lat_p99_ms={:.2} \
         lat_max_ms={:.2} slow_fps={} reader_errors={}",
        load.label,
        load.fast,
        load.stalled,
        load.throttled,
        per_viewer.iter().sum::<f64>() / per_viewer.len() as f64,
        per_viewer.iter().copied().fold(f64::INFINITY, f64::min),
        per_viewer.iter().copied().fold(0.0, f64::max),
        bytes.checked_div(frames).unwrap_or(0),
        cpu / secs * 100.0,
        per_frame(cpu * 1000.0),
        busy * 100.0,
        mem.rss,
        mem.anon,
        mem.rss.saturating_sub(mem.anon),
        latencies.len(),
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
        percentile_ms(&latencies, 1.0),
        if slow_fps.is_empty() {
            "-".into()
        } else {
            slow_fps.join(",")
        },
        errors.len(),
    );
    Ok(())
}

// ---- bench-input -------------------------------------------------------------------

/// A pseudo-terminal in raw mode: the server is given the slave's path as its
/// keyboard device and writes reports there; they come out of the master unchanged.
struct Pty {
    master: File,
    slave_path: String,
}

fn open_pty() -> Result<Pty, String> {
    let err = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: plain libc calls on a descriptor we own; ptsname's buffer is copied at once.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        if fd < 0 {
            return Err(err("posix_openpt"));
        }
        let master = File::from_raw_fd(fd);
        if libc::grantpt(fd) != 0 || libc::unlockpt(fd) != 0 {
            return Err(err("grantpt/unlockpt"));
        }
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut tio) != 0 {
            return Err(err("tcgetattr"));
        }
        libc::cfmakeraw(&mut tio);
        if libc::tcsetattr(fd, libc::TCSANOW, &tio) != 0 {
            return Err(err("tcsetattr"));
        }
        let name = libc::ptsname(fd);
        if name.is_null() {
            return Err(err("ptsname"));
        }
        let slave_path = std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned();
        Ok(Pty { master, slave_path })
    }
}

/// `bench-input WS_URL COUNT INTERVAL_MS LABEL`: creates a pty, prints
/// `pty /dev/pts/N` (start the server with `--hid-keyboard` on it), waits for the
/// WebSocket, then sends COUNT key messages (KeyA down/up alternately) one every
/// INTERVAL_MS and times each from just before the send to the 8-byte keyboard
/// report arriving at the pty master.
pub fn input(ws_url: &str, count: u64, interval_ms: u64, label: &str) -> Outcome {
    let pty = open_pty()?;
    println!("pty {}", pty.slave_path);
    let _ = std::io::stdout().flush();
    let url = Url::parse(ws_url)?;
    let give_up = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        match url.connect(Duration::from_secs(1)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("{e} (server never listened)")),
        }
    };
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(ws_url)
        .map_err(|e| format!("{ws_url}: {e}"))?;
    let origin = format!("http://{}", url.authority())
        .parse()
        .map_err(|_| "bad Origin".to_string())?;
    request.headers_mut().insert("Origin", origin);
    let (mut socket, _) =
        tungstenite::client(request, stream).map_err(|e| format!("{ws_url}: handshake: {e}"))?;
    let master = pty.master;
    // Reports are read on their own thread, stamped as they arrive.
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let mut reader = master.try_clone().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let mut report = [0u8; 8];
        while reader.read_exact(&mut report).is_ok() {
            if tx.send(monotonic_us()).is_err() {
                break;
            }
        }
    });
    // Drain what the server says (status), without blocking the sends for long.
    socket
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let drain = |socket: &mut tungstenite::WebSocket<TcpStream>| loop {
        match socket.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                return Ok(())
            }
            Err(e) => return Err(format!("{ws_url}: {e}")),
        }
    };
    drain(&mut socket)?;
    // The first report may lag behind the sink's first open; do not count it.
    let mut latencies = Vec::new();
    let mut lost = 0;
    for i in 0..=count {
        let down = i % 2 == 0;
        let message = format!(r#"{{"type":"key","code":"KeyA","down":{down}}}"#);
        while rx.try_recv().is_ok() {}
        let sent = monotonic_us();
        socket
            .send(tungstenite::Message::text(message))
            .map_err(|e| format!("{ws_url}: send: {e}"))?;
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok(arrived) if i > 0 => latencies.push(arrived.saturating_sub(sent)),
            Ok(_) => {}
            Err(_) => lost += 1,
        }
        drain(&mut socket)?;
        std::thread::sleep(Duration::from_millis(interval_ms));
    }
    let _ = socket.send(tungstenite::Message::text(r#"{"type":"release"}"#));
    if latencies.is_empty() {
        return Err(format!(
            "no keyboard report reached {} ({lost} lost)",
            pty.slave_path
        ));
    }
    latencies.sort_unstable();
    println!(
        "BENCH {label} n={} lost={lost} p50_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        latencies.len(),
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
        percentile_ms(&latencies, 1.0),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_capture_us_headers() {
        assert_eq!(capture_us("X-Timestamp-Us", "1500"), Some(1500));
        assert_eq!(
            capture_us("X-UStreamer-Grab-Time", "12.000250"),
            Some(12_000_250)
        );
        assert_eq!(capture_us("X-Timestamp", "12.5"), None);
    }

    #[test]
    fn test_percentile_ms() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.5), 51.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }
}

//! `GET /metrics`: kv's counters in the Prometheus text exposition format
//! (version 0.0.4), behind the same authentication as the rest of the API.
//!
//! The counters are process-wide statics bumped where the events happen
//! (capture, fan-out, the socket writers, HID writes, input messages, uploads):
//! those places sit deep inside connection and device code that does not hold
//! the `App`, and a relaxed atomic add costs a few instructions and never
//! allocates, so counting every frame and write is free enough. kv has one
//! thread; the atomics are only what lets a `static` be shared safely.
//! Gauges (viewers, USB host state, RSS) are read from the `App` and
//! `/proc/self/statm` when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::app::App;

/// What a viewer watches through: `/stream` (MJPEG) or `/ws/video` (the UI's canvas).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewerKind {
    Stream,
    Canvas,
}

impl ViewerKind {
    const ALL: [ViewerKind; 2] = [ViewerKind::Stream, ViewerKind::Canvas];

    fn as_str(self) -> &'static str {
        match self {
            ViewerKind::Stream => "stream",
            ViewerKind::Canvas => "canvas",
        }
    }
}

/// One viewer's lag: how much older the picture it was last brought up to
/// date with is than the newest frame captured. It is the staleness a person
/// watching sees, in the same unit for both kinds; kv queues no bytes for a
/// slow viewer (it skips frames instead), so queued bytes would say nothing.
/// Two capture times per viewer, compared once a loop turn: cheap.
pub struct ViewerLag {
    pub kind: ViewerKind,
    /// The connection's slot in the loop: unique while it is open, and fewer
    /// than `--max-connections`, which bounds the label's values.
    pub viewer: usize,
    pub lag: Duration,
}

/// A monotonically growing count.
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Frames the capture device (or the demo target) gave; placeholder frames are not counted.
pub static FRAMES_CAPTURED: Counter = Counter::new();
/// Frames (`/stream` parts) and updates (`/ws/video` messages) written whole to viewers.
pub static FRAMES_SENT: Counter = Counter::new();
/// Frames a `/stream` viewer never got because its socket was still busy with an older one.
pub static FRAMES_SKIPPED: Counter = Counter::new();
/// Bytes written to client sockets (before TLS).
pub static BYTES_SENT: Counter = Counter::new();
/// Input messages (key, pointer, paste...) received over `/ws`.
pub static INPUT_EVENTS: Counter = Counter::new();
/// HID report writes the device refused (EAGAIN, ESHUTDOWN and real errors alike).
pub static HID_WRITE_ERRORS: Counter = Counter::new();
/// Image uploads completed and renamed into the images folder.
pub static UPLOADS: Counter = Counter::new();
/// How long each event-loop turn took, from poll's return to the next poll.
pub static LOOP_TURN: Histogram = Histogram::new();

/// Upper bounds of the loop-turn buckets, in microseconds: a healthy turn
/// takes well under a millisecond; tens of milliseconds are felt as input lag.
const BUCKETS_US: [u64; 6] = [100, 1_000, 5_000, 20_000, 100_000, 1_000_000];

/// A fixed-bucket histogram of durations.
pub struct Histogram {
    /// Observations at or below each bound (not cumulative; summed on scrape).
    buckets: [AtomicU64; BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS_US.len()],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = BUCKETS_US.iter().position(|&b| us <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        head(out, name, help, "histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_US.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = *bound as f64 / 1e6;
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The media type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The USB host states `kv_usb_host_state` has one series each for.
const USB_STATES: [&str; 4] = ["configured", "suspended", "not attached", "unbound"];

/// The whole exposition, as `GET /metrics` answers it.
pub fn render(app: &App) -> String {
    let mut out = String::with_capacity(4096);
    let counters: [(&str, &str, &Counter); 7] = [
        (
            "kv_frames_captured_total",
            "Frames the video source gave (placeholder frames not counted).",
            &FRAMES_CAPTURED,
        ),
        (
            "kv_frames_sent_total",
            "Frames (/stream) and updates (/ws/video) written whole to viewers.",
            &FRAMES_SENT,
        ),
        (
            "kv_frames_skipped_total",
            "Frames a /stream viewer skipped because its socket was still busy.",
            &FRAMES_SKIPPED,
        ),
        (
            "kv_bytes_sent_total",
            "Bytes written to client sockets, before TLS.",
            &BYTES_SENT,
        ),
        (
            "kv_input_events_total",
            "Input messages (keys, pointer, paste) received over /ws.",
            &INPUT_EVENTS,
        ),
        (
            "kv_hid_write_errors_total",
            "HID report writes refused by /dev/hidgN (host not reading or an error).",
            &HID_WRITE_ERRORS,
        ),
        ("kv_uploads_total", "Image uploads completed.", &UPLOADS),
    ];
    for (name, help, counter) in counters {
        head(&mut out, name, help, "counter");
        let _ = writeln!(out, "{name} {}", counter.get());
    }
    gauge(
        &mut out,
        "kv_viewers",
        "Viewers watching video (/stream and /ws/video), as /api/status counts them.",
        app.video.capture().viewers() as u64,
    );
    viewers(&mut out, &app.viewer_lags);
    let hid = app.hid.status();
    gauge(
        &mut out,
        "kv_hid_online",
        "1 when the target's host reads kv's keyboard and mouse reports.",
        u64::from(hid.online),
    );
    if let Some(udc) = hid.udc.as_deref() {
        let name = "kv_usb_host_state";
        head(
            &mut out,
            name,
            "The gadget's USB state as the UDC reports it: 1 for the current one.",
            "gauge",
        );
        for state in USB_STATES
            .iter()
            .chain((!USB_STATES.contains(&udc)).then_some(&udc))
        {
            let _ = writeln!(
                out,
                "{name}{{state=\"{}\"}} {}",
                escape(state),
                u8::from(*state == udc)
            );
        }
    }
    if let Some(restarts) = app
        .net
        .as_ref()
        .and_then(crate::net::UsbNet::dnsmasq_restarts)
    {
        let name = "kv_dnsmasq_restarts_total";
        head(
            &mut out,
            name,
            "Times kv restarted the USB link's dnsmasq after it exited.",
            "counter",
        );
        let _ = writeln!(out, "{name} {restarts}");
    }
    LOOP_TURN.write(
        &mut out,
        "kv_loop_turn_seconds",
        "Time one event-loop turn took, from poll's return to the next poll.",
    );
    if let Some(rss) = resident_bytes() {
        gauge(
            &mut out,
            "kv_resident_memory_bytes",
            "kv's resident set size (/proc/self/statm).",
            rss,
        );
    }
    out
}

/// Viewers by kind, and each one's lag.
fn viewers(out: &mut String, lags: &[ViewerLag]) {
    let name = "kv_viewers_by_kind";
    head(
        out,
        name,
        "Viewers by what they watch through: stream (/stream) or canvas (/ws/video).",
        "gauge",
    );
    for kind in ViewerKind::ALL {
        let n = lags.iter().filter(|l| l.kind == kind).count();
        let _ = writeln!(out, "{name}{{kind=\"{}\"}} {n}", kind.as_str());
    }
    let name = "kv_viewer_lag_seconds";
    head(
        out,
        name,
        "How much older a viewer's picture is than the newest frame captured; viewer is its connection slot.",
        "gauge",
    );
    for l in lags {
        let _ = writeln!(
            out,
            "{name}{{kind=\"{}\",viewer=\"{}\"}} {}",
            l.kind.as_str(),
            l.viewer,
            l.lag.as_secs_f64()
        );
    }
}

fn head(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    head(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Resident pages × page size, from the second field of `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * crate::sys::page_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_histogram_buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new();
        for us in [50, 500, 500, 2_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let mut out = String::new();
        h.write(&mut out, "t", "help");
        assert!(out.contains("t_bucket{le=\"0.0001\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.001\"} 3\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"1\"} 3\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("t_count 4\n"), "{out}");
        assert!(
            out.contains("t_sum 2.001050\n") || out.contains("t_sum 2.00105\n"),
            "{out}"
        );
    }

    #[test]
    fn test_label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

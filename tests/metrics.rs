//! `GET /metrics` against the real binary: refused without credentials, and
//! with them an exposition that a real Prometheus text-format parser (Python's
//! `prometheus_client`, `pip install prometheus_client`) accepts, whose values
//! agree with `/api/status` and with what the test itself did.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{header, Kv, Stream};

/// "op:pw"
const AUTH: &str = "Authorization: Basic b3A6cHc=\r\n";

/// Every sample as `name{labels}` → value, as `prometheus_client` parses it.
/// The parser raises on anything outside the format, which fails the test.
fn parse(exposition: &[u8]) -> HashMap<String, f64> {
    const SCRIPT: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    assert family.documentation, family.name + " has no HELP"
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value!r}")
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3: the metrics test needs python3 with prometheus_client (pip install prometheus_client)");
    child.stdin.take().unwrap().write_all(exposition).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused kv's exposition (or is missing: pip install prometheus_client):\n{}\n---\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(exposition)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap();
            (name.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn scrape(kv: &Kv) -> (HashMap<String, f64>, Instant) {
    let (status, head, body) = kv.get_with("/metrics", AUTH);
    assert_eq!(status, 200, "{head}");
    let content_type = header(&head, "content-type").unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    (parse(&body), Instant::now())
}

/// A number field of `/api/status`, e.g. `"viewers":1`.
fn status_number(status: &str, field: &str) -> f64 {
    let key = format!("\"{field}\":");
    let at = status
        .find(&key)
        .unwrap_or_else(|| panic!("{field} in {status}"))
        + key.len();
    let digits: String = status[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().unwrap()
}

/// The `kv_viewer_lag_seconds` of every viewer of `kind`.
fn lags(m: &HashMap<String, f64>, kind: &str) -> Vec<f64> {
    let prefix = format!("kv_viewer_lag_seconds{{kind=\"{kind}\",viewer=");
    m.iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| *v)
        .collect()
}

#[test]
fn test_metrics_need_credentials_and_parse_and_agree_with_status() {
    let kv = Kv::start(&["--demo"], &[("KV_USER", "op"), ("KV_PASSWORD", "pw")]);
    let (status, head, _) = kv.get("/metrics");
    assert_eq!(status, 401, "{head}");
    assert!(header(&head, "www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    let (status, _, _) = kv.get_with("/metrics", "Authorization: Basic b3A6cHg=\r\n");
    assert_eq!(status, 401, "a wrong password");

    let mut viewer = Stream::open_with(&kv, AUTH);
    let mut received = 0;
    for _ in 0..5 {
        received += viewer.next_part().1.len();
    }
    let origin = format!("http://{}", kv.addr);
    let mut ws = kv
        .ws(Some(&origin), &[("Authorization", "Basic b3A6cHc=")])
        .unwrap();
    ws.read().unwrap(); // status
    for down in [true, false, true] {
        let key = format!(r#"{{"type":"key","code":"KeyA","down":{down}}}"#);
        ws.send(tungstenite::Message::text(key)).unwrap();
    }
    ws.send(tungstenite::Message::text(
        r#"{"type":"key","code":"KeyA","down":false}"#,
    ))
    .unwrap();

    // Let the viewer's rate settle, keep reading so it is not a slow one,
    // and take two scrapes a while apart to compare rates.
    let keep_reading = |viewer: &mut Stream, for_: Duration| {
        let end = Instant::now() + for_;
        while Instant::now() < end {
            viewer.next_part();
        }
    };
    keep_reading(&mut viewer, Duration::from_millis(1500));
    let (first, t1) = scrape(&kv);
    keep_reading(&mut viewer, Duration::from_secs(2));
    let (second, t2) = scrape(&kv);
    let (_, _, status) = kv.get_with("/api/status", AUTH);
    let status = String::from_utf8(status).unwrap();

    let get = |m: &HashMap<String, f64>, name: &str| {
        *m.get(name)
            .unwrap_or_else(|| panic!("{name} missing from {m:?}"))
    };
    assert_eq!(get(&second, "kv_viewers{}"), 1.0);
    assert_eq!(get(&second, "kv_viewers_by_kind{kind=\"stream\"}"), 1.0);
    assert_eq!(get(&second, "kv_viewers_by_kind{kind=\"canvas\"}"), 0.0);
    // A viewer that keeps reading is at most a few frames behind.
    let lags = lags(&second, "stream");
    assert!(lags.len() == 1 && lags[0] < 1.0, "{lags:?}");
    assert_eq!(status_number(&status, "viewers"), 1.0, "{status}");
    assert_eq!(get(&second, "kv_input_events_total{}"), 4.0);
    // The demo's frames come at the rate /api/status measures.
    let fps = status_number(&status, "fps_measured");
    let captured =
        get(&second, "kv_frames_captured_total{}") - get(&first, "kv_frames_captured_total{}");
    let rate = captured / (t2 - t1).as_secs_f64();
    assert!(
        fps > 5.0 && (rate - fps).abs() <= fps * 0.3,
        "captured {rate:.1}/s, status says {fps}"
    );
    let sent = get(&second, "kv_frames_sent_total{}");
    assert!(sent >= 5.0, "sent {sent}");
    // One viewer: each frame captured while it watched was sent or skipped once.
    let skipped = get(&second, "kv_frames_skipped_total{}");
    assert!(sent + skipped <= get(&second, "kv_frames_captured_total{}"));
    assert!(get(&second, "kv_bytes_sent_total{}") >= received as f64);
    let turns = get(&second, "kv_loop_turn_seconds_count{}");
    assert!(turns > get(&first, "kv_loop_turn_seconds_count{}"));
    assert_eq!(
        get(&second, "kv_loop_turn_seconds_bucket{le=\"+Inf\"}"),
        turns
    );
    assert!(get(&second, "kv_loop_turn_seconds_bucket{le=\"1\"}") <= turns);
    let rss = get(&second, "kv_resident_memory_bytes{}");
    assert!((1e6..1e9).contains(&rss), "rss {rss}");
    assert_eq!(get(&second, "kv_uploads_total{}"), 0.0);
}

/// Viewers by kind agree with `/api/status`, and a `/stream` viewer that stops
/// reading falls behind in `kv_viewer_lag_seconds` while one that reads does not.
#[test]
fn test_metrics_viewer_kinds_and_a_stalled_viewers_growing_lag() {
    let kv = Kv::start(&["--demo"], &[("KV_USER", "op"), ("KV_PASSWORD", "pw")]);
    let origin = format!("http://{}", kv.addr);
    let auth = [("Authorization", "Basic b3A6cHc=")];
    let _canvas = kv.ws_at("/ws/video", Some(&origin), &auth).unwrap();
    // The stalled viewer: asks for the stream and never reads a byte.
    let mut stalled = kv.connect();
    write!(
        stalled,
        "GET /stream HTTP/1.1\r\nHost: {}\r\n{AUTH}\r\n",
        kv.addr
    )
    .unwrap();
    let mut reader = Stream::open_with(&kv, AUTH);
    let stop = Arc::new(AtomicBool::new(false));
    let reading = std::thread::spawn({
        let stop = stop.clone();
        move || {
            while !stop.load(Ordering::Relaxed) {
                reader.next_part();
            }
        }
    });

    // The stalled viewer's socket fills (a few frames) and from then on its
    // picture ages with the clock; wait for that on scrapes, not on a sleep.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (metrics, stream_lags) = loop {
        let (m, _) = scrape(&kv);
        let stream_lags = lags(&m, "stream");
        if stream_lags.iter().any(|&l| l >= 3.0) || Instant::now() > deadline {
            break (m, stream_lags);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (_, _, status) = kv.get_with("/api/status", AUTH);
    let status = String::from_utf8(status).unwrap();
    let get = |name: &str| {
        *metrics
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(
        get("kv_viewers_by_kind{kind=\"stream\"}"),
        2.0,
        "{metrics:?}"
    );
    assert_eq!(get("kv_viewers_by_kind{kind=\"canvas\"}"), 1.0);
    assert_eq!(get("kv_viewers{}"), 3.0);
    assert_eq!(status_number(&status, "viewers"), 3.0, "{status}");
    assert_eq!(
        lags(&metrics, "canvas").len(),
        1,
        "one canvas viewer, one series"
    );
    let mut sorted = stream_lags.clone();
    sorted.sort_by(f64::total_cmp);
    assert!(
        sorted.len() == 2 && sorted[0] < 1.5 && sorted[1] >= 3.0,
        "the reader keeps up, the stalled viewer falls behind: {stream_lags:?}"
    );
    stop.store(true, Ordering::Relaxed);
    reading.join().unwrap();
}

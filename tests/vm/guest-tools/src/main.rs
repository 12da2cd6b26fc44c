//! guest-tools: the checks kv's real-kernel tests (tests/vm) need beyond busybox sh.
//! It runs inside the test VM, prints one line per observation for scenario scripts
//! to grep, and exits non-zero when the check itself failed (1) or was misused (2).

mod bench;
mod changes;
mod evdev;
mod feed;
mod http;
mod jpeg;
mod serial;
mod udp;
mod watch;
mod ws;
mod wsvideo;

use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: guest-tools COMMAND ARGS...
  port-open HOST:PORT                    exit 0 if a TCP connect succeeds within 1 s
  http METHOD URL [BODY]                 one request; print the response head and body
  http-until URL TEXT SECONDS            GET URL over and over until the body holds TEXT;
                                         print 'seen at US' (CLOCK_MONOTONIC, microseconds)
  stream-read URL N [SECONDS]            read N parts of a multipart MJPEG stream, check each JPEG
  ws-send [--wait S | --hold S] [--gap MS] [--origin O|none] URL JSON...
                                         send text messages on a WebSocket, print the replies
                                         until quiet for S s (--wait) or for S s (--hold)
  ws-serial URL SECONDS WANT [BYTES...]  /ws/serial client: send each BYTES (escapes: \\r \\n \\xHH)
                                         as a binary message, read until the output holds WANT
                                         ('-': nothing) or SECONDS pass
  tty-read DEV SECONDS                   print what arrives on a tty (raw mode) for SECONDS
  evdev-read DEV SECONDS                 print input events (EV_KEY/REL/ABS/LED) for SECONDS
  evdev-write DEV TYPE CODE VALUE        write one input event (e.g. EV_LED 1 1: Caps Lock on)
  evdev-keys DEV                         print the keys DEV has down now ('keys down: 30 42'
                                         or 'keys down: none')
  mjpeg-feed DEV WIDTH HEIGHT FPS [COUNT]
                                         write test-pattern JPEGs into a v4l2loopback device
  mjpeg-feed-bare DEV WIDTH HEIGHT FPS [COUNT]
                                         the same frames without Huffman tables (DHT)
  stream-watch URL SECONDS [--pattern WxH [--bare]] [--decode] [--frames N] [--runs N]
                                         sort /stream parts into runs: fed frames, others
                                         (or sizes); stop after N frames or N runs
  snapshot URL                           GET one JPEG, check it is whole and decodes
  change-frames WIDTH HEIGHT DIR         write still.jpg, changed.jpg (a small rectangle
                                         changed) and different.jpg, 4:2:2 q90, into DIR
  feed-link DEV FPS LINK                 write the JPEG file LINK names into v4l2loopback,
                                         read again for every frame
  udp-recv PORT SECONDS                  print the first datagram to PORT (any address,
                                         broadcasts too) as 'datagram from A bytes=N hex=...'
  ws-video-check URL LINK STILL_SECS FIRST NEXT...
                                         /ws/video client: apply and ack every update, check the
                                         picture is FIRST, still for STILL_SECS, then re-point
                                         LINK at each NEXT; one 'phase' line each
bench (for bench/vm-bench; prints BENCH lines):
  bench-feed DEV FPS FILE...             write these JPEG files round-robin into v4l2loopback
  bench-viewers URL PID SECONDS FAST [STALLED THROTTLED BYTES_PER_S] [--label L]
                                         FAST (+ slow) concurrent /stream readers; PID's CPU/RSS
  bench-input WS_URL COUNT INTERVAL_MS [LABEL]
                                         print a pty path for --hid-keyboard, then time
                                         WebSocket key message -> report at the pty";

/// What a command reports when it did not get what it checked for.
pub type Outcome = Result<(), String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["port-open", addr] => http::port_open(addr),
        ["http", method, url] => http::request(method, url, ""),
        ["http", method, url, body] => http::request(method, url, body),
        ["http-until", url, text, secs] => number(secs).and_then(|s| http::until(url, text, s)),
        ["stream-read", url, n] => number(n).and_then(|n| http::stream_read(url, n, 30)),
        ["stream-read", url, n, secs] => {
            number(n).and_then(|n| number(secs).and_then(|s| http::stream_read(url, n, s)))
        }
        ["ws-send", rest @ ..] => ws_send(rest),
        ["ws-serial", url, secs, want, sends @ ..] => {
            number(secs).and_then(|s| serial::ws_serial(url, s, want, sends))
        }
        ["tty-read", dev, secs] => number(secs).and_then(|s| serial::tty_read(dev, s)),
        ["evdev-read", dev, secs] => number(secs).and_then(|s| evdev::read(dev, s)),
        ["evdev-write", dev, kind, code, value] => evdev::write(dev, kind, code, value),
        ["evdev-keys", dev] => evdev::keys_down(dev),
        ["mjpeg-feed", dev, w, h, fps] => feed_args(dev, w, h, fps, "0"),
        ["mjpeg-feed", dev, w, h, fps, count] => feed_args(dev, w, h, fps, count),
        ["mjpeg-feed-bare", dev, w, h, fps] => feed_bare_args(dev, w, h, fps, "0"),
        ["mjpeg-feed-bare", dev, w, h, fps, count] => feed_bare_args(dev, w, h, fps, count),
        ["stream-watch", url, secs, rest @ ..] => stream_watch(url, secs, rest),
        ["snapshot", url] => watch::snapshot(url),
        ["change-frames", w, h, dir] => {
            dim(w).and_then(|w| dim(h).and_then(|h| changes::write_frames(w, h, dir)))
        }
        ["feed-link", dev, fps, link] => number(fps).and_then(|f| changes::feed_link(dev, f, link)),
        ["ws-video-check", url, link, secs, first, next @ ..] => {
            number(secs).and_then(|s| wsvideo::check(url, link, s, first, next))
        }
        ["udp-recv", port, secs] => port
            .parse()
            .map_err(|_| format!("{port:?} is not a UDP port"))
            .and_then(|p| number(secs).and_then(|s| udp::recv(p, s))),
        ["bench-feed", dev, fps, files @ ..] => {
            number(fps).and_then(|fps| bench::feed_files(dev, fps, files))
        }
        ["bench-viewers", rest @ ..] => bench_viewers(rest),
        ["bench-input", url, count, interval] => bench_input(url, count, interval, "input"),
        ["bench-input", url, count, interval, label] => bench_input(url, count, interval, label),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guest-tools: {e}");
            ExitCode::FAILURE
        }
    }
}

fn number(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("{s:?} is not a number"))
}

fn dim(s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a frame dimension (1..65535)"))
}

fn feed_args(dev: &str, w: &str, h: &str, fps: &str, count: &str) -> Outcome {
    feed::mjpeg_feed(dev, dim(w)?, dim(h)?, number(fps)?.max(1), number(count)?)
}

fn feed_bare_args(dev: &str, w: &str, h: &str, fps: &str, count: &str) -> Outcome {
    watch::feed_bare(dev, dim(w)?, dim(h)?, number(fps)?.max(1), number(count)?)
}

fn stream_watch(url: &str, secs: &str, mut args: &[&str]) -> Outcome {
    let mut options = watch::WatchOptions {
        pattern: None,
        bare: false,
        decode: false,
        frames: None,
        runs: None,
    };
    loop {
        match args {
            ["--pattern", size, rest @ ..] => {
                let (w, h) = size
                    .split_once('x')
                    .ok_or_else(|| format!("--pattern {size:?}: expected WIDTHxHEIGHT"))?;
                options.pattern = Some((dim(w)?, dim(h)?));
                args = rest;
            }
            ["--bare", rest @ ..] => {
                options.bare = true;
                args = rest;
            }
            ["--decode", rest @ ..] => {
                options.decode = true;
                args = rest;
            }
            ["--frames", n, rest @ ..] => {
                options.frames = Some(number(n)?);
                args = rest;
            }
            ["--runs", n, rest @ ..] => {
                options.runs = Some(number(n)? as usize);
                args = rest;
            }
            [] => return watch::stream_watch(url, number(secs)?, &options),
            [other, ..] => return Err(format!("stream-watch: unknown option {other:?}\n{USAGE}")),
        }
    }
}

fn ws_send(mut args: &[&str]) -> Outcome {
    let mut listen = ws::Listen::UntilQuiet(Duration::from_secs(1));
    let mut origin = ws::Origin::SameAsHost;
    let mut gap = Duration::ZERO;
    loop {
        match args {
            ["--wait", secs, rest @ ..] => {
                listen = ws::Listen::UntilQuiet(Duration::from_secs(number(secs)?));
                args = rest;
            }
            ["--hold", secs, rest @ ..] => {
                listen = ws::Listen::Hold(Duration::from_secs(number(secs)?));
                args = rest;
            }
            ["--gap", ms, rest @ ..] => {
                gap = Duration::from_millis(number(ms)?);
                args = rest;
            }
            ["--origin", "none", rest @ ..] => {
                origin = ws::Origin::Missing;
                args = rest;
            }
            ["--origin", value, rest @ ..] => {
                origin = ws::Origin::Given((*value).to_owned());
                args = rest;
            }
            [url, messages @ ..] => return ws::send(url, &origin, listen, gap, messages),
            [] => return Err(format!("ws-send needs a URL\n{USAGE}")),
        }
    }
}

fn bench_viewers(args: &[&str]) -> Outcome {
    let (args, label) = match args {
        [rest @ .., "--label", label] => (rest, *label),
        _ => (args, "fanout"),
    };
    let (url, pid, seconds, fast, slow) = match args {
        [url, pid, secs, fast] => (url, pid, secs, fast, None),
        [url, pid, secs, fast, stalled, throttled, rate] => {
            (url, pid, secs, fast, Some((stalled, throttled, rate)))
        }
        _ => return Err(format!("bench-viewers: bad arguments\n{USAGE}")),
    };
    let (stalled, throttled, throttle_rate) = match slow {
        Some((s, t, r)) => (number(s)?, number(t)?, number(r)?),
        None => (0, 0, 0),
    };
    bench::viewers(&bench::ViewerLoad {
        url,
        pid: u32::try_from(number(pid)?).map_err(|_| format!("{pid}: not a PID"))?,
        seconds: number(seconds)?.max(1),
        warmup: 2,
        fast: number(fast)? as usize,
        stalled: stalled as usize,
        throttled: throttled as usize,
        throttle_rate: throttle_rate.max(1),
        label,
    })
}

fn bench_input(url: &str, count: &str, interval: &str, label: &str) -> Outcome {
    bench::input(url, number(count)?, number(interval)?, label)
}

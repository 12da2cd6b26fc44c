//! What encoding a raw capture frame costs kv's loop: YUYV → JPEG at
//! 640x480, 1280x720 and 1920x1080, whole (one call, as a naive loop would
//! stall) against banded (`video::encode`, one band of rows per loop turn, as
//! kv runs it). Prints, per size: the whole encode, the banded frame's total
//! (= dequeue → frame ready when the loop has nothing else to do), the number
//! of steps, and the longest step, which is the longest the loop is held by
//! video and so the most a keystroke or a viewer's write waits behind it.
//!
//! Times are the median and the fastest of several runs; "longest step" is
//! the slowest step position's fastest time (what the code costs) and, beside
//! it, the slowest step seen at all (what a loaded machine adds by preempting).
//!
//!     cargo bench --bench encode [-- [--runs N] [--quality Q] [WxH...]]

use std::time::{Duration, Instant};

use kv::video::encode::EncodeQueue;
use kv::video::raw::{self, PixelFormat, RawImage};
use kv::video::Frame;

struct Options {
    runs: usize,
    quality: u8,
    sizes: Vec<(u32, u32)>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        runs: 15,
        quality: 80,
        sizes: Vec::new(),
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--runs" => o.runs = value("--runs")?.max(1),
            "--quality" => o.quality = value("--quality")?.clamp(1, 100) as u8,
            size => {
                let (w, h) = size
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                    .ok_or(format!("not a size WxH: {size}"))?;
                o.sizes.push((w, h));
            }
        }
    }
    if o.sizes.is_empty() {
        o.sizes = vec![(640, 480), (1280, 720), (1920, 1080)];
    }
    Ok(o)
}

/// A YUYV frame that looks like a busy desktop to the encoder: smooth
/// gradients (wallpaper) under fine noise (text, photos), detail in every
/// MCU, so no band is cheaper than the others.
fn busy_yuyv(width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(width as usize * height as usize * 2);
    let mut noise = 0x2545_f491_u32;
    let mut next = || {
        // xorshift32: cheap, deterministic, no dependency.
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        (noise % 48) as i32 - 24
    };
    let clamp = |v: i32| v.clamp(16, 235) as u8;
    for y in 0..height {
        for x in (0..width).step_by(2) {
            let base = 40 + (x * 160 / width) as i32 + (y * 40 / height) as i32;
            data.push(clamp(base + next()));
            data.push(clamp(128 + (y * 64 / height) as i32 - 32));
            data.push(clamp(base + next()));
            data.push(clamp(96 + (x * 64 / width) as i32));
        }
    }
    data
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time this thread has used. On a shared machine the wall clock counts
/// the time other processes held the core; this does not.
fn cpu_time() -> Duration {
    kv::sys::clock::thread_cpu().unwrap_or_default()
}

/// Runs `f`, returning its result, CPU time and wall time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (cpu, wall) = (cpu_time(), Instant::now());
    let out = f();
    (out, cpu_time().saturating_sub(cpu), wall.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn fastest(times: &[Duration]) -> Duration {
    times.iter().min().copied().unwrap_or_default()
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("encode bench: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "YUYV -> JPEG q{}, {} runs each; CPU ms (median / fastest); longest step: \
         CPU ms of the costliest band (median), wall ms of the slowest step seen",
        o.quality, o.runs
    );
    println!(
        "{:>10} {:>8} {:>15} {:>15} {:>6} {:>14}",
        "size", "bytes", "whole", "banded total", "steps", "longest step"
    );
    for (width, height) in o.sizes {
        let data = busy_yuyv(width, height);
        let Some(image) = RawImage::new(PixelFormat::Yuyv, &data, width, height, 0, false) else {
            eprintln!("encode bench: {width}x{height} is not a size kv encodes");
            std::process::exit(1);
        };
        let mut whole = Vec::new();
        let mut bytes = 0;
        for _ in 0..o.runs {
            let (jpeg, cpu, _) = timed(|| raw::encode(&image, o.quality, 0));
            bytes = jpeg.map_or(0, |j| j.len());
            whole.push(cpu);
        }
        let mut totals = Vec::new();
        // CPU time of each step position, over the runs.
        let mut steps: Vec<Vec<Duration>> = Vec::new();
        let mut slowest_wall = Duration::ZERO;
        let mut queue = EncodeQueue::default();
        for _ in 0..o.runs {
            let start = cpu_time();
            queue.push(&image, width * 2, false, o.quality, Instant::now());
            let mut frame: Option<Frame> = None;
            for position in 0.. {
                let (outcome, cpu, wall) = timed(|| queue.step());
                slowest_wall = slowest_wall.max(wall);
                match steps.get_mut(position) {
                    Some(times) => times.push(cpu),
                    None => steps.push(vec![cpu]),
                }
                if let Some(outcome) = outcome {
                    frame = outcome.ok();
                    break;
                }
            }
            totals.push(cpu_time().saturating_sub(start));
            if frame.is_none() {
                eprintln!("encode bench: {width}x{height}: banded encoding failed");
                std::process::exit(1);
            }
        }
        let count = steps.len();
        let longest = steps.into_iter().map(median).max().unwrap_or_default();
        println!(
            "{:>10} {bytes:>8} {:>7.2} / {:>5.2} {:>7.2} / {:>5.2} {count:>6} {:>5.2} ({:>5.2})",
            format!("{width}x{height}"),
            ms(median(whole.clone())),
            ms(fastest(&whole)),
            ms(median(totals.clone())),
            ms(fastest(&totals)),
            ms(longest),
            ms(slowest_wall),
        );
    }
}

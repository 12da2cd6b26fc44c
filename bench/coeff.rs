//! What the JPEG coefficient path costs per 1080p frame, against a pixel
//! decode and re-encode of the same frame in the same run: `coeff::decode`
//! (entropy decoding to coefficients), `coeff::encode_region` of the whole
//! frame, sliced decoding with `Decoder`, the change map (`Picture::fold`
//! of an unchanged frame), and
//! requantising to about quality 50 (plus encoding that), beside
//! `jpeg-decoder` (full decode to RGB) and `jpeg-encoder` (RGB to q50).
//!
//! The frame is drawn here with kv's own canvas — a wallpaper, windows and
//! lines of text, like a desktop — and encoded 4:2:2 at quality 90 by
//! `jpeg-encoder`, about what a capture dongle sends.
//!
//! Times are CPU time of this thread, median and fastest of several runs.
//!
//!     cargo bench --bench coeff [-- [--runs N] [--quality Q] [--save DIR]]
//!
//! With `$TJBENCH` (or `tjbench` on the PATH) it also runs libjpeg-turbo's
//! decode and q50 encode of the same picture and prints the coefficient path
//! (decode into reused grids + change map + a patch encode) against them.
//! `--save DIR` writes the frame as `desktop.jpg` and its pixels as
//! `desktop.ppm`, for running `tjbench` by hand.

use std::time::Duration;

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use kv::render::{Canvas, Rgb};
use kv::video::coeff::{self, HuffmanTables, Limits, QuantTable, Region};
use kv::video::picture::Picture;

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;

/// A 1080p desktop: gradient wallpaper, three windows of text, a taskbar.
fn desktop() -> Canvas {
    let mut canvas = Canvas::new(WIDTH, HEIGHT, Rgb(30, 60, 110));
    for y in 0..HEIGHT {
        let shade = (40 + y * 80 / HEIGHT) as u8;
        canvas.fill_rect(0, y as i32, WIDTH, 1, Rgb(20, shade / 2, shade + 40));
    }
    let windows = [
        (60, 50, 900, 640, Rgb(250, 250, 250), Rgb(20, 20, 20)),
        (1000, 120, 860, 520, Rgb(30, 30, 30), Rgb(200, 230, 200)),
        (400, 600, 1100, 400, Rgb(255, 255, 240), Rgb(40, 40, 120)),
    ];
    let mut line = 0u32;
    for (x, y, w, h, paper, ink) in windows {
        canvas.fill_rect(x, y - 28, w, 28, Rgb(70, 90, 140));
        canvas.draw_text(x + 8, y - 22, "kv - a remote KVM - terminal", 2, Rgb::WHITE);
        canvas.fill_rect(x, y, w, h, paper);
        for row in (8..h.saturating_sub(16)).step_by(20) {
            line += 1;
            let text = format!(
                "{line:4}  fn decode(jpeg: &[u8]) -> Result<Coefficients, Error> {{ /* {} */ }}",
                line * 7919 % 100_000
            );
            canvas.draw_text(x + 8, y + row as i32, &text, 2, ink);
        }
    }
    canvas.fill_rect(0, HEIGHT as i32 - 40, WIDTH, 40, Rgb::DARK_GREY);
    canvas.draw_text(
        16,
        HEIGHT as i32 - 30,
        "Start   Files   Terminal   14:05",
        2,
        Rgb::WHITE,
    );
    canvas
}

fn jpeg(canvas: &Canvas, quality: u8, sampling: SamplingFactor) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(sampling);
    let (w, h) = (canvas.width as u16, canvas.height as u16);
    match encoder.encode(&canvas.rgb, w, h, ColorType::Rgb) {
        Ok(()) => out,
        Err(e) => fail(&format!("jpeg-encoder: {e}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("coeff bench: {message}");
    std::process::exit(1);
}

fn cpu_time() -> Duration {
    kv::sys::clock::thread_cpu().unwrap_or_default()
}

/// Runs `f` `runs` times: its last result, and the median and fastest CPU time.
fn measure<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, Duration, Duration) {
    let mut times = Vec::with_capacity(runs);
    let mut out = f();
    for _ in 0..runs {
        let start = cpu_time();
        out = f();
        times.push(cpu_time().saturating_sub(start));
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let fastest = times.first().copied().unwrap_or_default();
    (out, median, fastest)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One frame decoded `rows` MCU rows per step, as the event loop would, into
/// new grids or those of an `old` frame.
fn sliced_decode(
    jpeg: &[u8],
    rows: usize,
    old: Option<coeff::Coefficients>,
) -> Option<coeff::Coefficients> {
    let mut decoder = match old {
        Some(old) => coeff::Decoder::reusing(jpeg, Limits::default(), old),
        None => coeff::Decoder::new(jpeg, Limits::default()),
    }
    .ok()?;
    loop {
        if let Some(frame) = decoder.step(rows).ok()? {
            return Some(frame);
        }
    }
}

/// libjpeg-turbo's decode and q50 4:2:2 encode of the same picture, from
/// `tjbench` (wall time, from its megapixels per second), when `$TJBENCH` or
/// `tjbench` on the PATH runs.
fn tjbench(jpeg: &[u8], rgb: &[u8]) -> Option<(Duration, Duration)> {
    let program = std::env::var("TJBENCH").unwrap_or_else(|_| "tjbench".into());
    let dir = std::env::temp_dir().join(format!("kv-coeff-bench-{}", std::process::id()));
    let mut ppm = format!("P6\n{WIDTH} {HEIGHT}\n255\n").into_bytes();
    ppm.extend_from_slice(rgb);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("desktop.jpg"), jpeg))
        .and_then(|()| std::fs::write(dir.join("desktop.ppm"), &ppm));
    // Output lines end in: ... CompPerf CompRatio DecompPerf (Mpixels/s).
    let perf = |args: &[&str], from_end: usize| -> Option<Duration> {
        let out = std::process::Command::new(&program)
            .current_dir(&dir)
            .args(args)
            .args(["-benchtime", "3", "-warmup", "1", "-quiet", "-nowrite"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let mpixels: f64 = fields
            .get(fields.len().checked_sub(from_end)?)?
            .parse()
            .ok()?;
        let megapixels = f64::from(WIDTH * HEIGHT) / 1e6;
        (mpixels > 0.0).then(|| Duration::from_secs_f64(megapixels / mpixels))
    };
    let result = written.ok().and_then(|()| {
        Some((
            perf(&["desktop.jpg"], 1)?,
            perf(&["desktop.ppm", "50", "-subsamp", "422"], 3)?,
        ))
    });
    let _ = std::fs::remove_dir_all(&dir);
    if result.is_none() {
        println!("(no libjpeg-turbo figures: {program} did not run; set TJBENCH)");
    }
    result
}

fn main() {
    let mut runs = 15;
    let mut quality = 90u8;
    let mut save = None;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let value = args.next();
        let number = value.as_deref().and_then(|v| v.parse::<usize>().ok());
        match (arg.as_str(), number) {
            ("--runs", Some(n)) => runs = n.max(1),
            ("--quality", Some(q)) => quality = q.clamp(1, 100) as u8,
            ("--save", _) if value.is_some() => save = value,
            _ => fail(&format!(
                "unknown argument {arg} (--runs N, --quality Q, --save DIR)"
            )),
        }
    }
    let canvas = desktop();
    let source = jpeg(&canvas, quality, SamplingFactor::R_4_2_2);
    println!(
        "{WIDTH}x{HEIGHT} desktop, 4:2:2 q{quality}: {} bytes; CPU ms per frame, median / fastest of {runs}",
        source.len()
    );
    let row = |name: &str, median: Duration, fastest: Duration, bytes: Option<usize>| {
        let bytes = bytes.map_or(String::new(), |b| format!("{b:>9} bytes"));
        println!(
            "{name:<44} {:>7.2} / {:>6.2}  {bytes}",
            ms(median),
            ms(fastest)
        );
        median
    };

    let (frame, m, f) = measure(runs, || coeff::decode(&source, Limits::default()));
    let frame = frame.unwrap_or_else(|e| fail(&format!("coeff::decode: {e}")));
    let decode = row("coeff::decode (to coefficients)", m, f, None);
    let (_, m, f) = measure(runs, || {
        coeff::Decoder::new(&source[..], Limits::default()).is_ok()
    });
    row(
        "  of which Decoder::new (headers, zeroed grids)",
        m,
        f,
        None,
    );
    for rows in [1, 8] {
        let (sliced, m, f) = measure(runs, || sliced_decode(&source, rows, None));
        if sliced.as_ref() != Some(&frame) {
            fail("a sliced decode differs from the one-shot decode");
        }
        let steps = frame.mcus_high.div_ceil(rows);
        let name = format!("coeff::Decoder, {rows} MCU row(s) per step ({steps} steps)");
        row(&name, m, f, None);
    }
    // The steady state of a stream: each frame decoded into the grids of the
    // one before last.
    let mut old = Some(frame.clone());
    let ((), m, f) = measure(runs, || old = sliced_decode(&source, 8, old.take()));
    if old.as_ref() != Some(&frame) {
        fail("decoding into old grids differs from the one-shot decode");
    }
    let decode_reusing = row("coeff::Decoder::reusing, 8 rows per step", m, f, None);
    let encode_whole = |frame: &coeff::Coefficients, huffman| {
        let mut out = Vec::with_capacity(source.len());
        if let Err(e) = coeff::encode_region(frame, frame.whole(), huffman, &mut out) {
            fail(&format!("coeff::encode_region: {e}"));
        }
        out
    };
    let (same, m, f) = measure(runs, || encode_whole(&frame, HuffmanTables::Standard));
    let encode = row(
        "coeff::encode_region (whole, standard tables)",
        m,
        f,
        Some(same.len()),
    );
    let (optimal, m, f) = measure(runs, || encode_whole(&frame, HuffmanTables::Optimal));
    row(
        "coeff::encode_region (whole, optimal tables)",
        m,
        f,
        Some(optimal.len()),
    );
    let luma = QuantTable::annex_k(false, 50);
    let chroma = QuantTable::annex_k(true, 50);
    let (requantised, m, f) = measure(runs, || {
        let mut copy = frame.clone();
        copy.requantise(&luma, &chroma);
        copy
    });
    let requantise = row("requantise to q50 (incl. copying the frame)", m, f, None);
    let (smaller, m, f) = measure(runs, || encode_whole(&requantised, HuffmanTables::Standard));
    let encode_q50 = row(
        "coeff::encode_region (whole, q50, standard)",
        m,
        f,
        Some(smaller.len()),
    );
    let (smaller, m, f) = measure(runs, || encode_whole(&requantised, HuffmanTables::Optimal));
    row(
        "coeff::encode_region (whole, q50, optimal)",
        m,
        f,
        Some(smaller.len()),
    );

    // The change map: the same frame captured again folded into the
    // picture (identical, so every block is compared and none is taken).
    let again = frame.clone();
    let mut picture = Picture::new(1, frame.clone());
    let (_, m, f) = measure(runs, || picture.fold(2, &again));
    let change_map = row("change map (Picture::fold, nothing changed)", m, f, None);
    // A window's worth of change: 320x240 pixels re-sent as a patch.
    let (mcu_w, mcu_h) = frame.mcu_size();
    let window = Region {
        x: 10,
        y: 10,
        width: (320 / mcu_w) as usize,
        height: (240 / mcu_h) as usize,
    };
    let (patch, m, f) = measure(runs, || {
        let mut out = Vec::new();
        coeff::encode_region(&frame, window, HuffmanTables::Standard, &mut out).map(|()| out)
    });
    let patch = patch.unwrap_or_else(|e| fail(&format!("coeff::encode_region: {e}")));
    let patch_encode = row(
        "coeff::encode_region (320x240 patch, standard)",
        m,
        f,
        Some(patch.len()),
    );

    let (rgb, m, f) = measure(runs, || jpeg_decoder::Decoder::new(&source[..]).decode());
    let rgb = rgb.unwrap_or_else(|e| fail(&format!("jpeg-decoder: {e}")));
    let pixel_decode = row("jpeg-decoder decode (to RGB)", m, f, None);
    if let Some(dir) = &save {
        let dir = std::path::Path::new(dir);
        let mut ppm = format!("P6\n{WIDTH} {HEIGHT}\n255\n").into_bytes();
        ppm.extend_from_slice(&rgb);
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(dir.join("desktop.jpg"), &source))
            .and_then(|()| std::fs::write(dir.join("desktop.ppm"), &ppm));
        if let Err(e) = written {
            fail(&format!("{}: {e}", dir.display()));
        }
    }
    let decoded = Canvas {
        width: WIDTH,
        height: HEIGHT,
        rgb,
    };
    let (q50, m, f) = measure(runs, || jpeg(&decoded, 50, SamplingFactor::R_4_2_2));
    let pixel_encode = row(
        "jpeg-encoder encode (RGB to q50 4:2:2)",
        m,
        f,
        Some(q50.len()),
    );

    let changes = decode_reusing + change_map + patch_encode;
    if let Some((tj_decode, tj_encode)) = tjbench(&source, &decoded.rgb) {
        println!(
            "{:<44} {:>7.2}",
            "libjpeg-turbo decode (tjbench, wall time)",
            ms(tj_decode)
        );
        println!(
            "{:<44} {:>7.2}",
            "libjpeg-turbo encode q50 4:2:2 (tjbench)",
            ms(tj_encode)
        );
        let turbo = tj_decode + tj_encode;
        println!(
            "coefficient path (decode reusing + change map + patch) {:.2} ms = {:.2} x libjpeg-turbo decode + encode ({:.2} ms)",
            ms(changes),
            changes.as_secs_f64() / turbo.as_secs_f64().max(1e-9),
            ms(turbo),
        );
    }
    let path = decode + requantise + encode_q50;
    let pixels = pixel_decode + pixel_encode;
    println!(
        "coefficient path (decode + requantise + encode) {:.2} ms = {:.2} x jpeg-decoder + jpeg-encoder ({:.2} ms)",
        ms(path),
        path.as_secs_f64() / pixels.as_secs_f64().max(1e-9),
        ms(pixels),
    );
    println!(
        "decode {:.2} x jpeg-decoder; whole-frame encode {:.2} x jpeg-encoder",
        decode.as_secs_f64() / pixel_decode.as_secs_f64().max(1e-9),
        encode.as_secs_f64() / pixel_encode.as_secs_f64().max(1e-9),
    );
}

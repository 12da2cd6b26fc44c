//! Frames for /ws/video's change-only checks and a feeder that can switch between
//! them: `change-frames` writes a still "desktop", the same with a small rectangle
//! changed, and a wholly different one, all 4:2:2 like an HDMI dongle's MJPEG;
//! `feed-link` writes whatever file a symlink names into v4l2loopback, so a checker
//! changes the picture by re-pointing the link.

use crate::{feed, jpeg, Outcome};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use std::io::Write;
use std::time::{Duration, Instant};

/// Dongles send 4:2:2 at high quality.
const QUALITY: u8 = 90;

/// The rectangle `changed.jpg` differs in: off the 16x8 MCU grid on purpose, so it
/// cuts through MCUs and its chroma edges sit inside them.
pub const CHANGED_RECT: (usize, usize, usize, usize) = (301, 203, 45, 21);

/// A desktop-like RGB picture: a gradient, coloured windows, text-like speckle.
/// `variant` 0 is the still frame; 1 draws another, wholly different desktop.
fn desktop(w: usize, h: usize, variant: usize) -> Vec<u8> {
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 3;
            let (fx, fy) = ((x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8);
            let px = if variant == 0 {
                [fx / 2 + 40, fy / 2 + 60, 160 - fx / 4]
            } else {
                [200 - fy / 2, 90 + fx / 3, 60 + fy / 3]
            };
            rgb[i..i + 3].copy_from_slice(&px);
        }
    }
    // Windows with "text": rows of pseudo-random dark speckle on a light ground.
    let colours: [[u8; 3]; 4] = [
        [230, 230, 235],
        [250, 240, 200],
        [200, 230, 250],
        [40, 40, 48],
    ];
    let mut seed = 0x2545_f491_u32 ^ variant as u32;
    for k in 0..6 {
        let (x0, y0) = (
            (k * 197 + variant * 61) % (w / 2).max(1),
            (k * 113 + variant * 37) % (h / 2).max(1),
        );
        let (ww, wh) = ((w / 3).max(1), (h / 4).max(1));
        let ground = colours[(k + variant) % colours.len()];
        for y in y0..(y0 + wh).min(h) {
            for x in x0..(x0 + ww).min(w) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let text = (y - y0) % 12 < 8 && seed.is_multiple_of(5);
                let i = (y * w + x) * 3;
                let px = if text {
                    [ground[0] / 5, ground[1] / 6, 120]
                } else {
                    ground
                };
                rgb[i..i + 3].copy_from_slice(&px);
            }
        }
    }
    rgb
}

fn fill(
    rgb: &mut [u8],
    w: usize,
    h: usize,
    (x0, y0, rw, rh): (usize, usize, usize, usize),
    px: [u8; 3],
) {
    for y in y0..(y0 + rh).min(h) {
        for x in x0..(x0 + rw).min(w) {
            let i = (y * w + x) * 3;
            rgb[i..i + 3].copy_from_slice(&px);
        }
    }
}

/// A 4:2:2 JPEG of `rgb` at QUALITY.
pub fn encode_422(rgb: &[u8], width: u16, height: u16) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, QUALITY);
    encoder.set_sampling_factor(SamplingFactor::F_2_1);
    encoder
        .encode(rgb, width, height, ColorType::Rgb)
        .map_err(|e| format!("encoding a {width}x{height} frame: {e}"))?;
    Ok(out)
}

/// The three frames, in the order a check plays them.
pub fn frames(width: u16, height: u16) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let (w, h) = (usize::from(width), usize::from(height));
    let still = desktop(w, h, 0);
    let mut changed = still.clone();
    // A saturated colour, so chroma changes too.
    fill(&mut changed, w, h, CHANGED_RECT, [220, 30, 40]);
    Ok(vec![
        ("still.jpg", encode_422(&still, width, height)?),
        ("changed.jpg", encode_422(&changed, width, height)?),
        (
            "different.jpg",
            encode_422(&desktop(w, h, 1), width, height)?,
        ),
    ])
}

/// Writes the frames into DIR and prints one line per file.
pub fn write_frames(width: u16, height: u16, dir: &str) -> Outcome {
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    for (name, data) in frames(width, height)? {
        let path = format!("{dir}/{name}");
        std::fs::write(&path, &data).map_err(|e| format!("{path}: {e}"))?;
        println!(
            "{path} {width}x{height} 4:2:2 q{QUALITY} {} bytes",
            data.len()
        );
    }
    Ok(())
}

/// Writes the file LINK names into DEV at FPS until killed, reading it again for
/// every frame (a checker re-points LINK by renaming a new symlink over it).
pub fn feed_link(dev: &str, fps: u64, link: &str) -> Outcome {
    let first = std::fs::read(link).map_err(|e| format!("{link}: {e}"))?;
    let info = jpeg::inspect(&first).map_err(|e| format!("{link}: {e}"))?;
    let (width, height) = (info.width, info.height);
    // Room for any frame of this size at QUALITY (these are far smaller).
    let max_frame = usize::from(width) * usize::from(height) * 2;
    let mut file = feed::open_output(dev, width, height, max_frame)?;
    println!("feed-link: {dev} MJPG {width}x{height} at {fps} fps from {link}");
    let period = Duration::from_secs(1) / u32::try_from(fps.max(1)).unwrap_or(u32::MAX);
    let mut next = Instant::now();
    let mut playing = String::new();
    for i in 0u64.. {
        let target =
            std::fs::read_link(link).map_or_else(|_| link.to_owned(), |p| p.display().to_string());
        let frame = std::fs::read(link).map_err(|e| format!("{link}: {e}"))?;
        if frame.len() > max_frame {
            return Err(format!(
                "{target}: {} bytes, more than the {max_frame} set",
                frame.len()
            ));
        }
        file.write_all(&frame)
            .map_err(|e| format!("{dev}: write frame {i}: {e}"))?;
        if i == 0 {
            println!("first frame written");
        }
        if target != playing {
            println!("frame {i}: now {target}");
            playing = target;
        }
        next = (next + period).max(Instant::now());
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

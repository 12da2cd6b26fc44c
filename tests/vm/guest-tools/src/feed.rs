//! `mjpeg-feed`: plays the part of an HDMI capture dongle by writing test-pattern
//! JPEG frames into the output side of a v4l2loopback device, one write() per frame.

use crate::Outcome;
use jpeg_encoder::{ColorType, Encoder};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Distinct frames in the loop; each has its colour bars shifted so consecutive frames differ.
const PATTERN_FRAMES: u16 = 8;

/// struct v4l2_format is `__u32 type` and a 200-byte union aligned like the pointers in
/// it: the union starts at 8 on 64-bit Linux (208 bytes in all) and at 4 on 32-bit ARM
/// (204), and the size is part of the ioctl number.
const FMT_UNION: usize = std::mem::size_of::<usize>();
const FMT_SIZE: usize = FMT_UNION + 200;
/// _IOWR('V', 5, struct v4l2_format): 0xc0d05605 on 64-bit, 0xc0cc5605 on 32-bit.
const VIDIOC_S_FMT: u32 = (3 << 30) | ((FMT_SIZE as u32) << 16) | ((b'V' as u32) << 8) | 5;
const V4L2_BUF_TYPE_VIDEO_OUTPUT: u32 = 2;
const V4L2_PIX_FMT_MJPEG: u32 = u32::from_le_bytes(*b"MJPG");
const V4L2_FIELD_NONE: u32 = 1;
const V4L2_COLORSPACE_JPEG: u32 = 7;

/// struct v4l2_format as raw bytes: type at 0, the format union at FMT_UNION (the buffer
/// is sized and aligned for 64-bit; the ioctl reads FMT_SIZE bytes of it).
#[repr(C, align(8))]
struct V4l2Format([u8; 208]);

impl V4l2Format {
    fn put(&mut self, offset: usize, value: u32) {
        if let Some(field) = self.0.get_mut(offset..offset + 4) {
            field.copy_from_slice(&value.to_ne_bytes());
        }
    }
}

/// Opens a v4l2loopback device for writing MJPEG frames of `width`x`height`, each at
/// most `max_frame` bytes.
pub fn open_output(dev: &str, width: u16, height: u16, max_frame: usize) -> Result<File, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(|e| format!("{dev}: {e}"))?;
    set_output_format(dev, &file, width, height, max_frame)?;
    Ok(file)
}

fn set_output_format(dev: &str, file: &File, width: u16, height: u16, max_frame: usize) -> Outcome {
    let mut fmt = V4l2Format([0; 208]);
    fmt.put(0, V4L2_BUF_TYPE_VIDEO_OUTPUT);
    // struct v4l2_pix_format: width, height, pixelformat, field, bytesperline, sizeimage, colorspace
    let pix = FMT_UNION;
    fmt.put(pix, u32::from(width));
    fmt.put(pix + 4, u32::from(height));
    fmt.put(pix + 8, V4L2_PIX_FMT_MJPEG);
    fmt.put(pix + 12, V4L2_FIELD_NONE);
    fmt.put(pix + 20, u32::try_from(max_frame).unwrap_or(u32::MAX));
    fmt.put(pix + 24, V4L2_COLORSPACE_JPEG);
    // SAFETY: fmt is a live, 8-byte aligned buffer of at least the size VIDIOC_S_FMT encodes.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), VIDIOC_S_FMT as _, fmt.0.as_mut_ptr()) };
    if r < 0 {
        return Err(format!(
            "{dev}: VIDIOC_S_FMT (output, MJPG {width}x{height}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Eight vertical colour bars, shifted right by `index` sixty-fourths of the width.
pub(crate) fn test_pattern(width: u16, height: u16, index: u16) -> Result<Vec<u8>, String> {
    let (w, h) = (usize::from(width), usize::from(height));
    let shift = w * usize::from(index) / 64;
    let bar_width = (w / 8).max(1);
    let row: Vec<u8> = (0..w)
        .flat_map(|x| {
            let bar = ((x + shift) / bar_width) % 8;
            [bar & 1, bar & 2, bar & 4].map(|bit| if bit != 0 { 255 } else { 16 })
        })
        .collect();
    let rgb = row.repeat(h);
    let mut jpeg = Vec::new();
    Encoder::new(&mut jpeg, 80)
        .encode(&rgb, width, height, ColorType::Rgb)
        .map_err(|e| format!("encoding a {width}x{height} test frame: {e}"))?;
    Ok(jpeg)
}

/// The frames `mjpeg-feed` cycles through, in order.
pub(crate) fn pattern_frames(width: u16, height: u16) -> Result<Vec<Vec<u8>>, String> {
    (0..PATTERN_FRAMES)
        .map(|i| test_pattern(width, height, i))
        .collect()
}

/// Writes COUNT frames (0 = until killed) at FPS; prints `first frame written` once.
pub fn mjpeg_feed(dev: &str, width: u16, height: u16, fps: u64, count: u64) -> Outcome {
    play(
        dev,
        width,
        height,
        fps,
        count,
        &pattern_frames(width, height)?,
    )
}

/// Writes `frames` in a cycle, COUNT of them (0 = until killed), at FPS.
pub(crate) fn play(
    dev: &str,
    width: u16,
    height: u16,
    fps: u64,
    count: u64,
    frames: &[Vec<u8>],
) -> Outcome {
    let max_frame = frames.iter().map(Vec::len).max().unwrap_or(0);
    let mut file = open_output(dev, width, height, max_frame)?;
    println!(
        "mjpeg-feed: {dev} MJPG {width}x{height} at {fps} fps, frames up to {max_frame} bytes"
    );
    let period = Duration::from_secs(1) / u32::try_from(fps).unwrap_or(u32::MAX);
    let mut next = Instant::now();
    for (i, frame) in frames.iter().cycle().enumerate() {
        if count > 0 && i as u64 >= count {
            break;
        }
        let written = file
            .write(frame)
            .map_err(|e| format!("{dev}: write frame {i}: {e}"))?;
        if written != frame.len() {
            return Err(format!(
                "{dev}: frame {i}: wrote {written} of {} bytes",
                frame.len()
            ));
        }
        if i == 0 {
            println!("first frame written");
        }
        // A dongle that stalled (a writer stopped with SIGSTOP) goes on from now,
        // never with a burst to catch up: v4l2loopback's readers share the
        // writer's buffers, and a burst overwrites the one a reader is copying.
        next = (next + period).max(Instant::now());
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_s_fmt_request_matches_the_kernel_headers() {
        // videodev2.h's VIDIOC_S_FMT as the C compiler computes it for each word size.
        let want = if cfg!(target_pointer_width = "64") {
            0xc0d0_5605
        } else {
            0xc0cc_5605
        };
        assert_eq!(VIDIOC_S_FMT, want);
    }
}

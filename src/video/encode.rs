//! JPEG encoding spread over loop turns. A whole 1280x720 encode costs tens
//! of milliseconds, during which no viewer is served and no key reaches the
//! target; so a frame is encoded one band of rows per step, each step a
//! couple of milliseconds, and the loop polls other descriptors in between.
//!
//! The bands are stitched with restart markers, the trick `render::StripEncoder`
//! uses: the frame has a restart interval of exactly one band, and a restart
//! resets the DC predictions and byte-aligns the bit stream, so a band's
//! entropy-coded data is what encoding that band alone as an image produces.
//! Each step encodes one band as its own small JPEG and appends its scan after
//! an `RSTn` marker; the first band's headers, with the frame's full height
//! written into them, head the result. The output is byte-for-byte a whole
//! encode with that restart interval (`test_bands_match_whole_encode`).

use std::time::Instant;

use super::jpeg;
use super::raw::{self, PixelFormat, RawImage};
use super::Frame;
use crate::render::split_scan;

/// Pixels per band: about 1 ms of CPU on an x86 server core (bench/README.md,
/// `cargo bench --bench encode`), a few times that on a board's ARM core.
const BAND_PIXELS: u32 = 48 * 1024;

/// One frame being encoded: its own copy of the raw bytes (the device buffer
/// went back to the driver at once) and the JPEG so far.
pub struct BandEncoder {
    format: PixelFormat,
    width: u16,
    height: u16,
    stride: u32,
    full_range: bool,
    quality: u8,
    captured: Instant,
    data: Vec<u8>,
    /// First row of the next band.
    top: u16,
    band_rows: u16,
    /// MCUs per band, the frame's restart interval.
    restart_interval: u16,
    bands_done: u16,
    jpeg: Vec<u8>,
}

/// What one step did.
#[derive(Debug)]
pub enum Step {
    /// A band was encoded; more follow.
    Working,
    Done(Frame),
    Failed(&'static str),
}

impl BandEncoder {
    /// Copies `image` into `buffer` (reusing its allocation) and plans the bands.
    pub fn new(
        image: &RawImage,
        stride: u32,
        full_range: bool,
        quality: u8,
        captured: Instant,
        mut buffer: Vec<u8>,
    ) -> BandEncoder {
        buffer.clear();
        buffer.extend_from_slice(image.data());
        let (width, height) = image.size();
        let mcu_height = image.mcu_height();
        // MCUs are 16 pixels wide in every format kv encodes (4:2:2 and 4:2:0).
        let mcus_per_row = u32::from(width).div_ceil(16);
        let mcu_rows = (BAND_PIXELS / u32::from(width) / u32::from(mcu_height)).max(1);
        // A restart interval is a u16: 65535 MCUs is far beyond one band, but
        // very wide frames still get one MCU row per band at least.
        let mcu_rows = mcu_rows.min(u32::from(u16::MAX) / mcus_per_row).max(1);
        BandEncoder {
            format: image.format(),
            width,
            height,
            stride,
            full_range,
            quality,
            captured,
            data: buffer,
            top: 0,
            band_rows: (mcu_rows * u32::from(mcu_height)).min(u32::from(u16::MAX)) as u16,
            restart_interval: (mcu_rows * mcus_per_row) as u16,
            bands_done: 0,
            jpeg: Vec::new(),
        }
    }

    /// Encodes the next band.
    pub fn step(&mut self) -> Step {
        let (width, height) = (u32::from(self.width), u32::from(self.height));
        let image = RawImage::new(
            self.format,
            &self.data,
            width,
            height,
            self.stride,
            self.full_range,
        );
        let Some(band) = image.and_then(|i| i.band(self.top, self.band_rows)) else {
            return Step::Failed("the raw frame no longer fits its size");
        };
        let Some(encoded) = raw::encode(&band, self.quality, self.restart_interval) else {
            return Step::Failed("JPEG encoding failed");
        };
        let Some((headers, scan)) = split_scan(&encoded) else {
            return Step::Failed("the encoder wrote no scan");
        };
        if self.bands_done == 0 {
            self.jpeg
                .reserve(encoded.len() * usize::from(self.height / self.band_rows + 1));
            self.jpeg.extend_from_slice(headers);
            if !jpeg::set_height(&mut self.jpeg, self.height) {
                return Step::Failed("the encoder wrote no frame header");
            }
        } else {
            let rst = 0xD0 + ((self.bands_done - 1) % 8) as u8;
            self.jpeg.extend_from_slice(&[0xFF, rst]);
        }
        self.jpeg.extend_from_slice(scan);
        self.bands_done += 1;
        self.top = self.top.saturating_add(self.band_rows);
        if self.top < self.height {
            return Step::Working;
        }
        self.jpeg.extend_from_slice(&[0xFF, 0xD9]);
        let jpeg = std::mem::take(&mut self.jpeg).into_boxed_slice();
        Step::Done(Frame::new(jpeg, width, height, self.captured))
    }

    /// The raw buffer, for the next frame's copy.
    fn into_buffer(self) -> Vec<u8> {
        self.data
    }
}

/// Raw frames on their way to JPEG: the one being encoded and the newest
/// one captured meanwhile (an older waiting frame is replaced, as the
/// capture path keeps only the newest). At most two raw copies exist.
#[derive(Default)]
pub struct EncodeQueue {
    current: Option<BandEncoder>,
    next: Option<BandEncoder>,
    /// An allocation kept from a finished frame.
    spare: Vec<u8>,
}

impl EncodeQueue {
    /// Queues a raw frame; it is copied, so the device buffer can go back.
    pub fn push(
        &mut self,
        image: &RawImage,
        stride: u32,
        full_range: bool,
        quality: u8,
        captured: Instant,
    ) {
        let buffer = match self.next.take() {
            Some(replaced) => replaced.into_buffer(),
            None => std::mem::take(&mut self.spare),
        };
        let job = BandEncoder::new(image, stride, full_range, quality, captured, buffer);
        if self.current.is_none() {
            self.current = Some(job);
        } else {
            self.next = Some(job);
        }
    }

    /// Whether a step is waiting to run.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// Runs one step: the encoded frame (or why it failed) when it was the last.
    pub fn step(&mut self) -> Option<Result<Frame, &'static str>> {
        let outcome = match self.current.as_mut()?.step() {
            Step::Working => return None,
            Step::Done(frame) => Ok(frame),
            Step::Failed(why) => Err(why),
        };
        if let Some(finished) = self.current.take() {
            self.spare = finished.into_buffer();
        }
        self.current = self.next.take();
        Some(outcome)
    }

    /// Drops every frame (the mode changed, the device went away).
    pub fn clear(&mut self) {
        self.current = None;
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A YUYV frame with detail everywhere, so every band has real data.
    fn yuyv(width: usize, height: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(width * height * 2);
        for y in 0..height {
            for x in (0..width).step_by(2) {
                let luma = (16 + (x * 7 + y * 3) % 219) as u8;
                data.extend_from_slice(&[
                    luma,
                    (16 + y % 224) as u8,
                    luma ^ 8,
                    (240 - x % 224) as u8,
                ]);
            }
        }
        data
    }

    /// An NV12 frame: a luma pattern, then interleaved chroma at half height.
    fn nv12(width: usize, height: usize) -> Vec<u8> {
        let luma = (0..width * height).map(|i| (16 + (i * 13) % 219) as u8);
        let chroma = (0..width * height.div_ceil(2)).map(|i| (64 + i % 128) as u8);
        luma.chain(chroma).collect()
    }

    fn run(queue: &mut EncodeQueue) -> (Frame, usize) {
        let mut steps = 0;
        loop {
            steps += 1;
            if let Some(outcome) = queue.step() {
                return (outcome.expect("encodes"), steps);
            }
            assert!(steps < 10_000, "never finished");
        }
    }

    fn decode(jpeg: &[u8]) -> (u16, u16) {
        let mut decoder = jpeg_decoder::Decoder::new(jpeg);
        decoder.decode().expect("decodes");
        let info = decoder.info().unwrap();
        (info.width, info.height)
    }

    #[test]
    fn test_bands_match_whole_encode() {
        // Heights that are and are not multiples of the MCU and band heights.
        for (format, width, height, data) in [
            (PixelFormat::Yuyv, 640, 480, yuyv(640, 480)),
            (PixelFormat::Yuyv, 1280, 723, yuyv(1280, 723)),
            (PixelFormat::Nv12, 320, 250, nv12(320, 250)),
            (PixelFormat::Yuyv, 64, 8, yuyv(64, 8)),
        ] {
            let stride = if format == PixelFormat::Nv12 {
                width
            } else {
                width * 2
            };
            let image = RawImage::new(format, &data, width, height, stride, false).unwrap();
            let mut queue = EncodeQueue::default();
            let now = Instant::now();
            queue.push(&image, stride, false, 75, now);
            let (frame, steps) = run(&mut queue);
            let job = BandEncoder::new(&image, stride, false, 75, now, Vec::new());
            let whole = raw::encode(&image, 75, job.restart_interval).unwrap();
            assert_eq!(&*frame.jpeg, &whole[..], "{format:?} {width}x{height}");
            assert_eq!(steps, usize::from(job.height.div_ceil(job.band_rows)));
            assert_eq!((frame.width, frame.height), (width, height));
            assert_eq!(frame.captured, now);
            assert_eq!(decode(&frame.jpeg), (width as u16, height as u16));
        }
    }

    #[test]
    fn test_busy_frame_waits_newest_replaces_older() {
        let t0 = Instant::now();
        let data = yuyv(320, 240);
        let image = RawImage::new(PixelFormat::Yuyv, &data, 320, 240, 640, false).unwrap();
        let mut queue = EncodeQueue::default();
        assert!(!queue.busy());
        assert!(queue.step().is_none());
        queue.push(&image, 640, false, 80, t0);
        assert!(queue.busy());
        assert!(queue.step().is_none(), "one band of several");
        // Two more arrive while the first is encoded: only the newest waits.
        queue.push(&image, 640, false, 80, t0 + Duration::from_millis(33));
        queue.push(&image, 640, false, 80, t0 + Duration::from_millis(66));
        let (first, _) = run(&mut queue);
        assert_eq!(first.captured, t0);
        assert!(queue.busy());
        let (second, _) = run(&mut queue);
        assert_eq!(second.captured, t0 + Duration::from_millis(66));
        assert!(!queue.busy());
        queue.push(&image, 640, false, 80, t0);
        queue.clear();
        assert!(!queue.busy());
    }
}

//! Raw (uncompressed) capture formats and their encoding to JPEG on the board,
//! for devices that offer no MJPEG. The samples are handed to the encoder as
//! YCbCr — JPEG's own colour space — straight from the device buffer, so there
//! is no RGB round trip and no intermediate image: one pass per row, read from
//! the mmap'd buffer, into the encoder's row buffers.
//!
//! A full encode is the most expensive thing kv does per frame (see
//! `cargo bench --bench encode`), so the loop never runs one whole:
//! `video::encode` encodes a frame one band of rows (`RawImage::band`) at a time.

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};

/// The pixel formats kv can serve, as V4L2 FourCCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// Motion JPEG: frames are served as they come (plus DHT when missing).
    Mjpeg,
    /// Packed 4:2:2, Y0 Cb Y1 Cr.
    Yuyv,
    /// Packed 4:2:2, Cb Y0 Cr Y1.
    Uyvy,
    /// 4:2:0, a Y plane then one plane of interleaved Cb Cr at half height.
    Nv12,
}

impl PixelFormat {
    /// Preference order when a device offers several: MJPEG costs nothing on
    /// the board; among raw formats, 4:2:2 keeps more colour than 4:2:0.
    pub const PREFERRED: [PixelFormat; 4] = [
        PixelFormat::Mjpeg,
        PixelFormat::Yuyv,
        PixelFormat::Uyvy,
        PixelFormat::Nv12,
    ];

    pub fn fourcc(self) -> [u8; 4] {
        match self {
            PixelFormat::Mjpeg => *b"MJPG",
            PixelFormat::Yuyv => *b"YUYV",
            PixelFormat::Uyvy => *b"UYVY",
            PixelFormat::Nv12 => *b"NV12",
        }
    }

    pub fn from_fourcc(fourcc: [u8; 4]) -> Option<PixelFormat> {
        // Some UVC devices call their MJPEG "JPEG"; the payload is the same.
        match &fourcc {
            b"MJPG" | b"JPEG" => Some(PixelFormat::Mjpeg),
            b"YUYV" => Some(PixelFormat::Yuyv),
            b"UYVY" => Some(PixelFormat::Uyvy),
            b"NV12" => Some(PixelFormat::Nv12),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Mjpeg => "MJPG",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Uyvy => "UYVY",
            PixelFormat::Nv12 => "NV12",
        }
    }
}

/// One raw frame in a device buffer, checked to be large enough for its size.
#[derive(Clone, Copy, Debug)]
pub struct RawImage<'a> {
    format: PixelFormat,
    data: &'a [u8],
    width: u16,
    /// Rows of the whole frame (the NV12 chroma plane starts after them).
    height: u16,
    /// The band this image stands for: `rows` rows from `top` (all by default).
    top: u16,
    rows: u16,
    /// Bytes per row of the (first) plane, as the driver reports it.
    stride: usize,
    /// Video usually comes with limited-range samples (Y 16..235, C 16..240);
    /// JPEG decoders assume full range, so those are stretched on the way.
    full_range: bool,
}

impl<'a> RawImage<'a> {
    /// `None` when the format is not raw, the size is empty or beyond what
    /// JPEG can hold, or `data` is shorter than the frame it should contain.
    pub fn new(
        format: PixelFormat,
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: u32,
        full_range: bool,
    ) -> Option<RawImage<'a>> {
        let w = u16::try_from(width).ok().filter(|&w| w > 0)?;
        let h = u16::try_from(height).ok().filter(|&h| h > 0)?;
        let (row_bytes, needed_rows) = match format {
            PixelFormat::Mjpeg => return None,
            PixelFormat::Yuyv | PixelFormat::Uyvy => (usize::from(w) * 2, usize::from(h)),
            // The chroma plane has one row per two image rows, rounded up.
            PixelFormat::Nv12 => (usize::from(w), usize::from(h) + usize::from(h).div_ceil(2)),
        };
        let stride = (stride as usize).max(row_bytes);
        // The last row need not be padded out to the stride.
        let needed = stride * (needed_rows - 1) + row_bytes;
        (data.len() >= needed).then_some(RawImage {
            format,
            data,
            width: w,
            height: h,
            top: 0,
            rows: h,
            stride,
            full_range,
        })
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    pub fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    /// Rows of one JPEG MCU with this format's chroma subsampling: bands
    /// start on multiples of it so each encodes exactly its own MCU rows.
    pub fn mcu_height(&self) -> u16 {
        match self.format {
            PixelFormat::Nv12 => 16,
            _ => 8,
        }
    }

    /// Rows `top..top + rows` of the frame (clipped to it) as an image of
    /// their own; `None` when `top` is past the last row.
    pub fn band(&self, top: u16, rows: u16) -> Option<RawImage<'a>> {
        let rows = rows.min(self.height.checked_sub(top)?);
        (rows > 0).then_some(RawImage { top, rows, ..*self })
    }

    fn row(&self, row: usize, len: usize) -> &'a [u8] {
        let start = row * self.stride;
        self.data.get(start..start + len).unwrap_or(&[])
    }

    /// Appends row `y` as Y, Cb, Cr samples (full range) to `out`.
    fn push_row(&self, y: u16, out: &mut [Vec<u8>; 4]) {
        let width = usize::from(self.width);
        let (luma_range, chroma_range) = if self.full_range {
            (&IDENTITY, &IDENTITY)
        } else {
            (&LIMITED_LUMA_TO_FULL, &LIMITED_CHROMA_TO_FULL)
        };
        let [ys, cbs, crs, _] = out;
        let starts = [ys.len(), cbs.len(), crs.len()];
        let mut push = |luma: u8, cb: u8, cr: u8| {
            ys.push(luma_range[usize::from(luma)]);
            cbs.push(chroma_range[usize::from(cb)]);
            crs.push(chroma_range[usize::from(cr)]);
        };
        let y = usize::from(self.top) + usize::from(y);
        match self.format {
            PixelFormat::Yuyv | PixelFormat::Uyvy => {
                // A pair of pixels shares one Cb and one Cr.
                let (l0, cb, l1, cr) = match self.format {
                    PixelFormat::Yuyv => (0, 1, 2, 3),
                    _ => (1, 0, 3, 2),
                };
                for (x, pair) in self.row(y, width * 2).chunks_exact(4).enumerate() {
                    push(pair[l0], pair[cb], pair[cr]);
                    if 2 * x + 1 < width {
                        push(pair[l1], pair[cb], pair[cr]);
                    }
                }
            }
            PixelFormat::Nv12 => {
                let luma = self.row(y, width);
                let chroma = self.row(usize::from(self.height) + y / 2, width);
                for (x, &l) in luma.iter().enumerate() {
                    let pair = chroma.get(x & !1..(x & !1) + 2).unwrap_or(&[128, 128]);
                    push(l, pair[0], pair[1]);
                }
            }
            PixelFormat::Mjpeg => {}
        }
        // Rows are complete by construction (checked in `new`, even widths
        // for 4:2:2); should that ever break, pad rather than hand the encoder
        // a short row.
        for ((plane, fill), start) in [(ys, 0), (cbs, 128), (crs, 128)].into_iter().zip(starts) {
            plane.resize(start + width, fill);
        }
    }
}

impl ImageBuffer for RawImage<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    // The encoder sees only this band: its height is the band's rows.
    #[allow(clippy::misnamed_getters)]
    fn height(&self) -> u16 {
        self.rows
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        self.push_row(y, buffers);
    }
}

/// Encodes a raw frame (or band) as a baseline JPEG at `quality` (1..=100),
/// keeping the source's chroma subsampling, with a restart marker every
/// `restart_interval` MCUs (0: none).
pub fn encode(image: &RawImage, quality: u8, restart_interval: u16) -> Option<Vec<u8>> {
    let pixels = usize::from(image.width) * usize::from(image.rows);
    // Room for a typical frame at this size so the Vec rarely grows.
    let mut out = Vec::with_capacity(pixels / 4 + 1024);
    let mut encoder = Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(match image.format {
        PixelFormat::Nv12 => SamplingFactor::R_4_2_0,
        _ => SamplingFactor::R_4_2_2,
    });
    encoder.set_restart_interval(restart_interval);
    encoder.encode_image(*image).ok()?;
    Some(out)
}

const IDENTITY: [u8; 256] = range_table(0, 255);
/// Y' 16..=235 stretched to 0..=255.
const LIMITED_LUMA_TO_FULL: [u8; 256] = range_table(16, 235);
/// Cb/Cr 16..=240 (centred on 128) stretched to 0..=255.
const LIMITED_CHROMA_TO_FULL: [u8; 256] = range_table(16, 240);

/// Maps `low..=high` linearly onto 0..=255 with rounding, clamping outside.
const fn range_table(low: i32, high: i32) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut v = 0;
    while v < 256 {
        let span = high - low;
        let scaled = ((v as i32 - low) * 255 + span / 2) / span;
        table[v] = if scaled < 0 {
            0
        } else if scaled > 255 {
            255
        } else {
            scaled as u8
        };
        v += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    // `super::super`, not `crate::video`: bench/encode.rs compiles this file
    // outside kv's module tree.
    use super::super::jpeg;

    /// A YUYV frame of `width`x`height`: a luma ramp with a colour gradient.
    fn yuyv(width: usize, height: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(width * height * 2);
        for y in 0..height {
            for x in (0..width).step_by(2) {
                let luma = (16 + (x * 219) / width) as u8;
                data.extend_from_slice(&[luma, (16 + y % 224) as u8, luma, (240 - x % 224) as u8]);
            }
        }
        data
    }

    fn rows(image: &RawImage, y: u16) -> [Vec<u8>; 4] {
        let mut out: [Vec<u8>; 4] = Default::default();
        image.fill_buffers(y, &mut out);
        out
    }

    #[test]
    fn test_range_tables_stretch_limited_range() {
        assert_eq!(LIMITED_LUMA_TO_FULL[16], 0);
        assert_eq!(LIMITED_LUMA_TO_FULL[235], 255);
        assert_eq!(LIMITED_LUMA_TO_FULL[0], 0);
        assert_eq!(LIMITED_LUMA_TO_FULL[255], 255);
        assert_eq!(LIMITED_CHROMA_TO_FULL[128], 128);
        assert_eq!(LIMITED_CHROMA_TO_FULL[16], 0);
        assert_eq!(LIMITED_CHROMA_TO_FULL[240], 255);
        assert!(IDENTITY
            .iter()
            .enumerate()
            .all(|(i, &v)| usize::from(v) == i));
    }

    #[test]
    fn test_yuyv_row_order() {
        // Two pixels: Y0=235 Y1=16 sharing Cb=16 Cr=240, full range as given.
        let data = [235, 16, 16, 240];
        let image = RawImage::new(PixelFormat::Yuyv, &data, 2, 1, 4, true).unwrap();
        let [y, cb, cr, _] = rows(&image, 0);
        assert_eq!((y, cb, cr), (vec![235, 16], vec![16, 16], vec![240, 240]));
        let limited = RawImage::new(PixelFormat::Yuyv, &data, 2, 1, 4, false).unwrap();
        let [y, cb, cr, _] = rows(&limited, 0);
        assert_eq!((y, cb, cr), (vec![255, 0], vec![0, 0], vec![255, 255]));
    }

    #[test]
    fn test_uyvy_row_order() {
        let data = [16, 235, 240, 16];
        let image = RawImage::new(PixelFormat::Uyvy, &data, 2, 1, 0, true).unwrap();
        let [y, cb, cr, _] = rows(&image, 0);
        assert_eq!((y, cb, cr), (vec![235, 16], vec![16, 16], vec![240, 240]));
    }

    #[test]
    fn test_nv12_rows_share_chroma() {
        // 2x2 image with a stride of 4: Y plane rows [1 2 _ _] [3 4 _ _],
        // then one chroma row [Cb Cr _ _].
        let data = [1, 2, 0, 0, 3, 4, 0, 0, 50, 60];
        let image = RawImage::new(PixelFormat::Nv12, &data, 2, 2, 4, true).unwrap();
        assert_eq!(
            rows(&image, 0)[..3],
            [vec![1, 2], vec![50, 50], vec![60, 60]]
        );
        assert_eq!(
            rows(&image, 1)[..3],
            [vec![3, 4], vec![50, 50], vec![60, 60]]
        );
    }

    #[test]
    fn test_new_rejects_short_buffers_and_bad_sizes() {
        let data = yuyv(16, 8);
        assert!(RawImage::new(PixelFormat::Yuyv, &data, 16, 8, 32, false).is_some());
        assert!(RawImage::new(PixelFormat::Yuyv, &data[1..], 16, 8, 32, false).is_none());
        assert!(RawImage::new(PixelFormat::Yuyv, &data, 16, 8, 64, false).is_none());
        assert!(RawImage::new(PixelFormat::Yuyv, &data, 0, 8, 32, false).is_none());
        assert!(RawImage::new(PixelFormat::Yuyv, &data, 70000, 1, 0, false).is_none());
        assert!(RawImage::new(PixelFormat::Mjpeg, &data, 16, 8, 32, false).is_none());
        assert!(RawImage::new(PixelFormat::Nv12, &data[..16 * 12 - 1], 16, 8, 16, false).is_none());
        assert!(RawImage::new(PixelFormat::Nv12, &data[..16 * 12], 16, 8, 16, false).is_some());
    }

    #[test]
    fn test_encode_yuyv_is_whole_jpeg_of_its_size() {
        let data = yuyv(64, 48);
        let image = RawImage::new(PixelFormat::Yuyv, &data, 64, 48, 128, false).unwrap();
        let out = encode(&image, 80, 0).unwrap();
        assert_eq!(jpeg::whole_jpeg(&out), Some(&out[..]));
        assert_eq!(jpeg::dimensions(&out), Some((64, 48)));
        assert!(jpeg::has_dht(&out));
    }

    #[test]
    fn test_fourcc_round_trip() {
        for format in PixelFormat::PREFERRED {
            assert_eq!(PixelFormat::from_fourcc(format.fourcc()), Some(format));
            assert_eq!(format.name().as_bytes(), format.fourcc());
        }
        assert_eq!(PixelFormat::from_fourcc(*b"JPEG"), Some(PixelFormat::Mjpeg));
        assert_eq!(PixelFormat::from_fourcc(*b"RGB3"), None);
    }
}

//! From driver buffers to frames: drain the capture queue to the newest
//! buffer, re-queue every buffer at once, and make the one copy out of the
//! device's memory (a whole JPEG, or a raw frame queued for encoding).

use std::io;
use std::time::Instant;

use log::debug;

use super::discover::Device;
use crate::sys::v4l2::{Dequeued, PixFormat};
use crate::video::encode::EncodeQueue;
use crate::video::raw::{PixelFormat, RawImage};
use crate::video::{jpeg, Frame};

/// What one drain of the capture queue found.
pub(super) struct Drained {
    /// The newest buffer, if one came: a frame (`None` for a raw one, which
    /// comes out of the encoder some steps later), or why it was dropped.
    pub newest: Option<Result<Option<Frame>, &'static str>>,
    /// The first ioctl that failed meanwhile.
    pub failure: Option<io::Error>,
}

/// DQBUF until EAGAIN, keeping the newest buffer, and builds a frame from it.
/// Every buffer is queued again whatever happens: were one lost, the driver
/// would starve.
pub(super) fn drain(
    device: &mut Device,
    quality: u8,
    encoding: &mut EncodeQueue,
    now: Instant,
) -> Drained {
    let mut newest: Option<Dequeued> = None;
    let mut failure = None;
    loop {
        match device.node.dequeue() {
            Ok(Some(buffer)) if device.node.captured_before_start(&buffer) => {
                debug!("video: skipped a frame captured before this stream started");
                if let Err(e) = device.node.requeue(buffer.index) {
                    failure = Some(e);
                    break;
                }
            }
            Ok(Some(buffer)) => {
                if let Some(older) = newest.replace(buffer) {
                    if let Err(e) = device.node.requeue(older.index) {
                        failure = Some(e);
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let newest = newest.map(|buffer| {
        let frame = if buffer.error {
            Err("the driver flagged it as corrupt")
        } else {
            let bytes = device.node.bytes(&buffer);
            build_frame(device.format, &device.pix, bytes, quality, encoding, now)
        };
        if let Err(e) = device.node.requeue(buffer.index) {
            failure.get_or_insert(e);
        }
        frame
    });
    Drained { newest, failure }
}

/// The one copy out of the device buffer: a whole JPEG (with standard
/// Huffman tables when it has none), or a raw frame queued for encoding
/// (`None` then: the frame comes out of `encoding` some steps later).
fn build_frame(
    format: PixelFormat,
    pix: &PixFormat,
    bytes: &[u8],
    quality: u8,
    encoding: &mut EncodeQueue,
    now: Instant,
) -> Result<Option<Frame>, &'static str> {
    match format {
        PixelFormat::Mjpeg => {
            let whole = jpeg::whole_jpeg(bytes).ok_or("not a whole JPEG")?;
            let (width, height) = jpeg::dimensions(whole).unwrap_or((pix.width, pix.height));
            Ok(Some(Frame::new(
                jpeg::copy_with_dht(whole),
                width,
                height,
                now,
            )))
        }
        _ => {
            let image = RawImage::new(
                format,
                bytes,
                pix.width,
                pix.height,
                pix.bytes_per_line,
                pix.full_range,
            )
            .ok_or("shorter than a raw frame of its size")?;
            encoding.push(&image, pix.bytes_per_line, pix.full_range, quality, now);
            Ok(None)
        }
    }
}

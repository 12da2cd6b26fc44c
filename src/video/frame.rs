//! A captured frame: one whole JPEG and when it was captured. Its own file so
//! `bench/encode.rs` can compile the encoder (which makes frames) without the
//! capture machinery.

use std::rc::Rc;
use std::time::Instant;

/// One whole JPEG image as captured (or rendered), never modified after creation.
#[derive(Debug)]
pub struct Frame {
    /// Set by the event loop when the frame is published; increases by one per frame.
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    /// When the frame left the device (dequeued) or was rendered: the start of
    /// the latency kv adds, exported per part as `X-Timestamp-Us`.
    pub captured: Instant,
    pub jpeg: Box<[u8]>,
}

pub type SharedFrame = Rc<Frame>;

impl Frame {
    pub fn new(jpeg: Box<[u8]>, width: u32, height: u32, captured: Instant) -> Frame {
        Frame {
            seq: 0,
            width,
            height,
            captured,
            jpeg,
        }
    }
}

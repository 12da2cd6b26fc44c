//! A captured frame: one whole JPEG and when it was captured. Sources build
//! it; `video::Pipeline` numbers and stamps it when it publishes it.

use std::rc::Rc;
use std::time::Instant;

/// One whole JPEG image as captured (or rendered), never modified after creation.
#[derive(Debug)]
pub struct Frame {
    /// Set by the pipeline when the frame is published; increases by one per frame.
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    /// When the frame left the device (dequeued) or was rendered: the start of
    /// the latency kv adds, exported per part as `X-Timestamp-Us`.
    pub captured: Instant,
    /// `captured` on CLOCK_MONOTONIC in microseconds, the `X-Timestamp-Us`
    /// other processes compare with; set with `seq` when published.
    pub monotonic_us: u128,
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
            monotonic_us: 0,
            jpeg,
        }
    }
}

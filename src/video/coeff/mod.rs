//! A captured JPEG as its quantised DCT coefficients: what change-only updates
//! and per-viewer quality are computed from, without an IDCT or a colour
//! conversion. `decode` entropy-decodes a baseline frame into one grid of 8x8
//! blocks per component, `encode_region` writes any rectangle of whole MCUs back
//! as a small baseline JPEG of its own, `requantise` moves coefficients to a
//! coarser quantisation table (a lower quality); `video::picture` compares
//! frames block by block. `Decoder` does what `decode` does a slice at a
//! time.
//!
//! Coefficients are kept in **zigzag order** (ITU T.81 Figure A.6), the order of
//! the entropy-coded data and of DQT segments: neither decoding, encoding nor
//! requantising ever needs the natural order.

mod bits;
mod decode;
mod encode;
mod huffman;
mod quant;
#[cfg(test)]
mod tests;

use std::fmt;

pub use decode::{decode, Decoder};
pub use encode::{encode_layout, encode_region, HuffmanTables, Layout, LayoutEncoder, Run};
pub use quant::{requantise_block, QuantTable};

/// One 8x8 block of quantised coefficients in zigzag order; index 0 is DC.
pub type Block = [i16; 64];

/// How large a frame `decode` accepts: a bound on the memory it allocates
/// before reading a single coefficient (128 bytes per block: a 1080p 4:2:2
/// frame is 8 MiB of blocks, a 4096x4096 4:4:4 one 96 MiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_width: u32,
    pub max_height: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_width: 4096,
            max_height: 4096,
        }
    }
}

/// One colour component (Y, Cb or Cr) of a decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The identifier the frame header gives it (scans refer to it).
    pub id: u8,
    /// Horizontal and vertical sampling factors, 1 or 2.
    pub h: u8,
    pub v: u8,
    /// The table its coefficients were quantised with (the one in force when
    /// its scan began, T.81 B.2.4.1).
    pub quant: QuantTable,
    /// The grid covers whole MCUs (`Coefficients::mcus_wide` × `h` blocks
    /// across), including the padding blocks past the picture's edge.
    pub blocks_wide: usize,
    pub blocks_high: usize,
    /// Row by row, `blocks_wide` × `blocks_high` blocks.
    pub blocks: Vec<Block>,
}

impl Component {
    /// The block at column `x`, row `y` of the grid.
    pub fn block(&self, x: usize, y: usize) -> Option<&Block> {
        if x >= self.blocks_wide {
            return None;
        }
        self.blocks
            .get(y.checked_mul(self.blocks_wide)?.checked_add(x)?)
    }

    fn block_mut(&mut self, x: usize, y: usize) -> Option<&mut Block> {
        if x >= self.blocks_wide {
            return None;
        }
        self.blocks
            .get_mut(y.checked_mul(self.blocks_wide)?.checked_add(x)?)
    }
}

/// A whole frame's coefficients and geometry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coefficients {
    pub width: u32,
    pub height: u32,
    /// 1 (greyscale) or 3 (YCbCr), in frame-header order.
    pub components: Vec<Component>,
    /// The MCU grid: an MCU is `8 * max h` by `8 * max v` pixels (one block
    /// for a single component).
    pub mcus_wide: usize,
    pub mcus_high: usize,
}

impl Coefficients {
    /// MCU size in pixels.
    pub fn mcu_size(&self) -> (u32, u32) {
        let max = |f: fn(&Component) -> u8| self.components.iter().map(f).max().unwrap_or(1);
        (8 * u32::from(max(|c| c.h)), 8 * u32::from(max(|c| c.v)))
    }

    /// The whole frame as a region.
    pub fn whole(&self) -> Region {
        Region {
            x: 0,
            y: 0,
            width: self.mcus_wide,
            height: self.mcus_high,
        }
    }

    /// Requantises every block: component 0 (luminance) to `luma`, the
    /// others to `chroma`. Each component's `quant` becomes its new table.
    pub fn requantise(&mut self, luma: &QuantTable, chroma: &QuantTable) {
        for (i, c) in self.components.iter_mut().enumerate() {
            let to = if i == 0 { luma } else { chroma };
            for block in &mut c.blocks {
                requantise_block(block, &c.quant, to);
            }
            c.quant = *to;
        }
    }
}

/// A rectangle of whole MCUs, in MCU units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// Why a JPEG could not be taken apart (or a region written). Every variant
/// means "use the whole-frame path for this one".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer does not start with SOI.
    NotJpeg,
    /// A valid JPEG of a kind this module does not handle (progressive,
    /// arithmetic coding, 12-bit samples, 2 or 4 components, sampling factors
    /// other than 1 and 2, height given by DNL).
    Unsupported(&'static str),
    /// Larger than the caller's `Limits`.
    TooLarge { width: u32, height: u32 },
    /// Broken: what is wrong, and where (byte offset) when known.
    Malformed(&'static str, usize),
    /// The data ends before the frame does.
    Truncated(&'static str),
    /// A region that is not inside the frame's MCU grid, or empty.
    BadRegion(Region),
    /// A layout whose runs leave its grid or the frame, overlap, or are out
    /// of order, or quantisation tables not one per component.
    BadLayout,
    /// `Decoder::step` after it returned the frame or an error.
    Finished,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::NotJpeg => write!(f, "not a JPEG: no start-of-image marker"),
            Error::Unsupported(what) => write!(f, "unsupported JPEG: {what}"),
            Error::TooLarge { width, height } => {
                write!(f, "JPEG of {width}x{height} is larger than allowed")
            }
            Error::Malformed(what, at) => write!(f, "malformed JPEG at byte {at}: {what}"),
            Error::Truncated(what) => write!(f, "truncated JPEG: {what}"),
            Error::BadRegion(r) => write!(
                f,
                "region {}x{} MCUs at ({}, {}) is empty or outside the frame",
                r.width, r.height, r.x, r.y
            ),
            Error::BadLayout => write!(f, "layout of MCUs does not fit the frame"),
            Error::Finished => write!(f, "the decoder has already finished"),
        }
    }
}

impl std::error::Error for Error {}

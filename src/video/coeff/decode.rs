//! Baseline JPEG to quantised coefficients: the marker walk of `video::jpeg`,
//! the tables it finds (DQT, DHT, DRI), the frame header (SOF0/SOF1) and every
//! scan's entropy-coded data (T.81 Annex F.2), stopping short of the IDCT.
//!
//! Work and memory are bounded before any coefficient is read: the frame's
//! size is checked against the caller's `Limits`, the block grids are
//! allocated once, and each scan decodes exactly its number of MCUs, giving up
//! at the first MCU that reads past the data.

use super::bits::BitReader;
use super::huffman::{read_dht, HuffmanTable};
use super::{Block, Coefficients, Component, Error, Limits, QuantTable};
use crate::video::jpeg::{segments, Segment, DHT, DNL, DQT, DRI, EOI, SOF0, SOF1, SOI, SOS};

/// The tables in force at a point of the marker walk.
struct Tables {
    quant: [Option<QuantTable>; 4],
    /// `class * 4 + destination`; the standard tables until a DHT replaces
    /// them, for the many MJPEG sources that send none (as AVI1 MJPEG implies).
    huffman: [Option<HuffmanTable>; 8],
    /// MCUs per restart interval; 0 for none.
    restart_interval: u32,
}

/// Decodes a baseline JPEG into its coefficients. Refuses progressive,
/// lossless, hierarchical and arithmetic-coded frames, 12-bit samples, and
/// frames larger than `limits`.
pub fn decode(jpeg: &[u8], limits: Limits) -> Result<Coefficients, Error> {
    if jpeg.get(..2) != Some(&[0xFF, SOI]) {
        return Err(Error::NotJpeg);
    }
    let standard = |id| Some(HuffmanTable::standard(id));
    let mut tables = Tables {
        quant: [None; 4],
        huffman: [
            standard(0x00),
            standard(0x01),
            None,
            None,
            standard(0x10),
            standard(0x11),
            None,
            None,
        ],
        restart_interval: 0,
    };
    let mut frame: Option<Frame> = None;
    for segment in segments(jpeg) {
        let at = segment.at;
        match segment.marker {
            DQT => QuantTable::read_dqt(segment.body, at, &mut tables.quant)?,
            DHT => read_dht(segment.body, at, &mut tables.huffman)?,
            DRI => {
                let b = segment
                    .body
                    .get(..2)
                    .ok_or(Error::Malformed("DRI segment too short", at))?;
                tables.restart_interval = u32::from(u16::from_be_bytes([b[0], b[1]]));
            }
            SOF0 | SOF1 => {
                if frame.is_some() {
                    return Err(Error::Malformed("second frame header", at));
                }
                frame = Some(frame_header(segment.body, at, limits, jpeg.len())?);
            }
            // Every other SOFn: progressive, lossless, hierarchical, arithmetic.
            0xC2..=0xCF if segment.marker != 0xC8 => {
                return Err(Error::Unsupported(
                    "not a baseline Huffman frame (progressive, lossless or arithmetic coding)",
                ));
            }
            DNL => return Err(Error::Unsupported("height defined by a DNL segment")),
            SOS => {
                let frame = frame
                    .as_mut()
                    .ok_or(Error::Malformed("scan before the frame header", at))?;
                scan(jpeg, &segment, frame, &tables)?;
            }
            EOI => {
                let frame = frame.ok_or(Error::Malformed("no frame header", at))?;
                if frame.selectors.iter().any(Option::is_some) {
                    return Err(Error::Truncated("a component has no scan"));
                }
                return Ok(frame.coefficients);
            }
            _ => {}
        }
    }
    Err(Error::Truncated("no end-of-image marker"))
}

/// A frame being decoded.
struct Frame {
    coefficients: Coefficients,
    /// Per component, its quantisation table selector until a scan has
    /// decoded it (and fixed its table, T.81 §B.2.4.1), then `None`.
    selectors: Vec<Option<u8>>,
}

/// Every block costs at least two bits of entropy-coded data (a DC and an
/// end-of-block code), so a file of `n` bytes holds at most `4 * n` blocks;
/// grids larger than this many times the file are not allocated (padding
/// blocks of single-component scans are not coded, hence the margin).
const BLOCKS_PER_BYTE: usize = 16;

/// The frame header (T.81 §B.2.2): checks what this module handles and
/// allocates the block grids.
fn frame_header(body: &[u8], at: usize, limits: Limits, len: usize) -> Result<Frame, Error> {
    let [precision, h1, h0, w1, w0, count, specs @ ..] = body else {
        return Err(Error::Malformed("frame header too short", at));
    };
    if *precision != 8 {
        return Err(Error::Unsupported("sample precision other than 8 bits"));
    }
    let height = u32::from(u16::from_be_bytes([*h1, *h0]));
    let width = u32::from(u16::from_be_bytes([*w1, *w0]));
    if height == 0 {
        return Err(Error::Unsupported("height defined by a DNL segment"));
    }
    if width == 0 {
        return Err(Error::Malformed("frame width of zero", at));
    }
    if width > limits.max_width || height > limits.max_height {
        return Err(Error::TooLarge { width, height });
    }
    let count = usize::from(*count);
    if count != 1 && count != 3 {
        return Err(Error::Unsupported("component count other than 1 or 3"));
    }
    let specs = specs
        .get(..3 * count)
        .ok_or(Error::Malformed("frame header too short", at))?;
    let mut components = Vec::with_capacity(count);
    let mut selectors = Vec::with_capacity(count);
    for spec in specs.chunks_exact(3) {
        let (h, v) = (spec[1] >> 4, spec[1] & 0x0F);
        if !(1..=2).contains(&h) || !(1..=2).contains(&v) {
            return Err(Error::Unsupported("sampling factor other than 1 or 2"));
        }
        if spec[2] > 3 {
            return Err(Error::Malformed("quantisation table selector", at));
        }
        if components.iter().any(|c: &Component| c.id == spec[0]) {
            return Err(Error::Malformed("two components with the same id", at));
        }
        components.push(Component {
            id: spec[0],
            // A single component's MCU is one block whatever its factors
            // say (T.81 §A.2.2): keep its grid that of its blocks.
            h: if count == 1 { 1 } else { h },
            v: if count == 1 { 1 } else { v },
            // Known once its scan begins.
            quant: QuantTable([1; 64]),
            blocks_wide: 0,
            blocks_high: 0,
            blocks: Vec::new(),
        });
        selectors.push(Some(spec[2]));
    }
    let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
    let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
    let mcu_w = 8 * u32::from(h_max);
    let mcu_h = 8 * u32::from(v_max);
    let mcus_wide = width.div_ceil(mcu_w) as usize;
    let mcus_high = height.div_ceil(mcu_h) as usize;
    let grid: usize = components
        .iter()
        .map(|c| mcus_wide * mcus_high * usize::from(c.h * c.v))
        .sum();
    if grid > len.saturating_mul(BLOCKS_PER_BYTE) {
        return Err(Error::Truncated("too little data for the frame's size"));
    }
    for c in &mut components {
        c.blocks_wide = mcus_wide * usize::from(c.h);
        c.blocks_high = mcus_high * usize::from(c.v);
        c.blocks = vec![[0; 64]; c.blocks_wide * c.blocks_high];
    }
    Ok(Frame {
        coefficients: Coefficients {
            width,
            height,
            components,
            mcus_wide,
            mcus_high,
        },
        selectors,
    })
}

/// One component's part in a scan: where its blocks go and how they are coded.
struct ScanComponent<'t> {
    index: usize,
    dc: &'t HuffmanTable,
    ac: &'t HuffmanTable,
    predictor: i32,
}

/// Decodes one scan (header §B.2.3, data §F.2.2) into `frame`'s grids.
fn scan(jpeg: &[u8], header: &Segment, frame: &mut Frame, tables: &Tables) -> Result<(), Error> {
    let at = header.at;
    let Frame {
        coefficients: frame,
        selectors,
    } = frame;
    let [count, rest @ ..] = header.body else {
        return Err(Error::Malformed("scan header too short", at));
    };
    let count = usize::from(*count);
    let specs = rest
        .get(..2 * count)
        .ok_or(Error::Malformed("scan header too short", at))?;
    if count == 0 || count > frame.components.len() {
        return Err(Error::Malformed("scan component count", at));
    }
    // Spectral selection and successive approximation: 0, 63, 0 in baseline.
    if rest.get(2 * count..2 * count + 3) != Some(&[0, 63, 0]) {
        return Err(Error::Malformed(
            "baseline scan must cover all 64 coefficients",
            at,
        ));
    }
    let mut members = Vec::with_capacity(count);
    for spec in specs.chunks_exact(2) {
        let index = frame
            .components
            .iter()
            .position(|c| c.id == spec[0])
            .ok_or(Error::Malformed("scan names an unknown component", at))?;
        if members.iter().any(|m: &ScanComponent| m.index == index) {
            return Err(Error::Malformed("scan names a component twice", at));
        }
        let table = |slot: u8| {
            tables
                .huffman
                .get(usize::from(slot))
                .and_then(Option::as_ref)
                .ok_or(Error::Malformed("scan uses an undefined Huffman table", at))
        };
        members.push(ScanComponent {
            index,
            dc: table(spec[1] >> 4)?,
            ac: table(4 + (spec[1] & 0x0F))?,
            predictor: 0,
        });
        let selector = selectors
            .get_mut(index)
            .and_then(Option::take)
            .ok_or(Error::Malformed("component scanned twice", at))?;
        let quant = tables
            .quant
            .get(usize::from(selector))
            .copied()
            .flatten()
            .ok_or(Error::Malformed(
                "component's quantisation table undefined",
                at,
            ))?;
        if let Some(c) = frame.components.get_mut(index) {
            c.quant = quant;
        }
    }
    let mut reader = BitReader::new(jpeg, header.end());
    // An interleaved scan codes whole MCUs; a single component's scan codes
    // just the blocks that cover its samples, one block per MCU (§A.2).
    let (units_wide, units_high) = match &members[..] {
        [only] => {
            let c = frame
                .components
                .get(only.index)
                .ok_or(Error::Malformed("scan component", at))?;
            // The component's own size in samples (§A.1.1), in blocks.
            let (mcu_w, mcu_h) = frame.mcu_size();
            let samples_wide = (frame.width * u32::from(c.h)).div_ceil(mcu_w / 8);
            let samples_high = (frame.height * u32::from(c.v)).div_ceil(mcu_h / 8);
            (
                samples_wide.div_ceil(8) as usize,
                samples_high.div_ceil(8) as usize,
            )
        }
        _ => (frame.mcus_wide, frame.mcus_high),
    };
    let interleaved = count > 1;
    let total = units_wide * units_high;
    let mut intervals = 0;
    for unit in 0..total {
        let interval = tables.restart_interval as usize;
        if interval > 0 && unit > 0 && unit % interval == 0 {
            reader.restart(intervals)?;
            intervals += 1;
            for m in &mut members {
                m.predictor = 0;
            }
        }
        let (ux, uy) = (unit % units_wide, unit / units_wide);
        for m in &mut members {
            let c = frame
                .components
                .get_mut(m.index)
                .ok_or(Error::Malformed("scan component", at))?;
            let (h, v) = if interleaved {
                (usize::from(c.h), usize::from(c.v))
            } else {
                (1, 1)
            };
            for by in 0..v {
                for bx in 0..h {
                    let block = c
                        .block_mut(ux * h + bx, uy * v + by)
                        .ok_or(Error::Malformed("block outside the grid", at))?;
                    decode_block(&mut reader, m, block).map_err(|e| at_offset(e, at))?;
                }
            }
        }
        if reader.overran() {
            return Err(Error::Truncated("scan data ends before its last MCU"));
        }
    }
    Ok(())
}

/// Puts the scan's offset into errors raised below the segment level.
fn at_offset(e: Error, at: usize) -> Error {
    match e {
        Error::Malformed(what, 0) => Error::Malformed(what, at),
        e => e,
    }
}

/// Decodes one block (§F.2.2.1 for DC, §F.2.2.2 for AC) in zigzag order.
fn decode_block(
    reader: &mut BitReader,
    m: &mut ScanComponent,
    block: &mut Block,
) -> Result<(), Error> {
    let size = m.dc.decode(reader)?;
    // 8-bit samples give DC differences of at most 11 bits (§F.1.2.1.1).
    if size > 11 {
        return Err(Error::Malformed("DC difference too large", 0));
    }
    m.predictor += extend(reader.bits(u32::from(size)), size);
    // The DCT of 8-bit samples has its DC within -1024..=1016: anything
    // outside could not be written back as baseline (see `encode`).
    if !(-1024..=1023).contains(&m.predictor) {
        return Err(Error::Malformed("DC coefficient out of range", 0));
    }
    // The grid starts zeroed and each block is decoded once (a component
    // is in one scan), so only the coefficients coded need writing.
    block[0] = m.predictor as i16;
    let mut k = 1;
    while k < 64 {
        let rs = m.ac.decode(reader)?;
        let (run, size) = (usize::from(rs >> 4), rs & 0x0F);
        if size == 0 {
            if run == 15 {
                // ZRL: sixteen zeros.
                k += 16;
                continue;
            }
            // EOB: the rest are zero.
            break;
        }
        // 8-bit samples give AC coefficients of at most 10 bits (§F.1.2.2.1).
        if size > 10 {
            return Err(Error::Malformed("AC coefficient too large", 0));
        }
        k += run;
        let slot = block
            .get_mut(k)
            .ok_or(Error::Malformed("AC run past the end of the block", 0))?;
        *slot = extend(reader.bits(u32::from(size)), size) as i16;
        k += 1;
    }
    if k > 64 {
        return Err(Error::Malformed("AC run past the end of the block", 0));
    }
    Ok(())
}

/// The signed value of a `size`-bit magnitude category (§F.2.2.1's EXTEND):
/// values with a leading 0 bit are negative.
fn extend(bits: u32, size: u8) -> i32 {
    if size == 0 {
        return 0;
    }
    let bits = bits as i32;
    if bits < 1 << (size - 1) {
        bits - (1 << size) + 1
    } else {
        bits
    }
}

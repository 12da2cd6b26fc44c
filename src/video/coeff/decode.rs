//! Baseline JPEG to quantised coefficients: the marker walk of `video::jpeg`,
//! the tables it finds (DQT, DHT, DRI), the frame header (SOF0/SOF1) and every
//! scan's entropy-coded data (T.81 Annex F.2), stopping short of the IDCT.
//!
//! Work and memory are bounded before any coefficient is read: the frame's
//! size is checked against the caller's `Limits`, the block grids are
//! allocated once, and each scan decodes exactly its number of MCUs, giving up
//! at the first MCU that reads past the data.
//!
//! A `Decoder` does this in slices of MCU rows, so the event loop can spread a
//! frame over several turns; `decode` is the same in one go.

use super::bits::{BitReader, BitState};
use super::huffman::{extend, read_dht, HuffmanTable};
use super::{Block, Coefficients, Component, Error, Limits, QuantTable};
use crate::video::jpeg::{
    segments, segments_after_scan, Segment, DHT, DNL, DQT, DRI, EOI, SOF0, SOF1, SOI, SOS,
};

/// The tables in force at a point of the marker walk.
struct Tables {
    quant: [Option<QuantTable>; 4],
    /// `class * 4 + destination`; the standard tables until a DHT replaces
    /// them, for the many MJPEG sources that send none (as AVI1 MJPEG implies).
    huffman: [Option<HuffmanTable>; 8],
    /// MCUs per restart interval; 0 for none.
    restart_interval: u32,
}

impl Tables {
    fn standard() -> Tables {
        let standard = |id| Some(HuffmanTable::standard(id));
        Tables {
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
        }
    }

    fn huffman(&self, slot: usize) -> Option<&HuffmanTable> {
        self.huffman.get(slot).and_then(Option::as_ref)
    }
}

/// Decodes a baseline JPEG into its coefficients. Refuses progressive,
/// lossless, hierarchical and arithmetic-coded frames, 12-bit samples, and
/// frames larger than `limits`.
pub fn decode(jpeg: &[u8], limits: Limits) -> Result<Coefficients, Error> {
    let mut decoder = Decoder::new(jpeg, limits)?;
    loop {
        if let Some(frame) = decoder.step(usize::MAX)? {
            return Ok(frame);
        }
    }
}

/// A frame being decoded a slice at a time. `B` is anything holding the JPEG's
/// bytes (`&[u8]`, or a shared frame the decoder keeps alive between slices).
pub struct Decoder<B> {
    jpeg: B,
    limits: Limits,
    /// Grids of a frame no longer needed, to reuse (`Decoder::reusing`).
    spare: Vec<Vec<Block>>,
    tables: Tables,
    /// From the frame header on.
    frame: Option<Frame>,
    stage: Stage,
}

enum Stage {
    /// In a scan's entropy-coded data.
    Scan(Scan),
    /// Past EOI: the frame is whole.
    Finished,
    /// The frame was handed over, or decoding failed.
    Done,
}

impl<B: AsRef<[u8]>> Decoder<B> {
    /// Reads the tables and the frame header, allocates the block grids and
    /// stops where the first scan's data begins. The same refusals as `decode`.
    pub fn new(jpeg: B, limits: Limits) -> Result<Decoder<B>, Error> {
        Decoder::with_spare(jpeg, limits, Vec::new())
    }

    /// As `new`, but decodes into the grids of `old` (a frame no longer
    /// needed) where they have the right size: a stream of frames then costs
    /// no allocation, and no page faults on fresh memory (several
    /// milliseconds for a 1080p frame), only the zeroing of each block just
    /// before it is decoded.
    pub fn reusing(jpeg: B, limits: Limits, old: Coefficients) -> Result<Decoder<B>, Error> {
        let spare = old.components.into_iter().map(|c| c.blocks).collect();
        Decoder::with_spare(jpeg, limits, spare)
    }

    fn with_spare(jpeg: B, limits: Limits, spare: Vec<Vec<Block>>) -> Result<Decoder<B>, Error> {
        if jpeg.as_ref().get(..2) != Some(&[0xFF, SOI]) {
            return Err(Error::NotJpeg);
        }
        let mut decoder = Decoder {
            jpeg,
            limits,
            spare,
            tables: Tables::standard(),
            frame: None,
            stage: Stage::Done,
        };
        decoder.stage = decoder.walk(None)?;
        Ok(decoder)
    }

    /// MCUs across the frame (0 before its header): how much a row holds.
    pub fn mcus_wide(&self) -> usize {
        self.frame.as_ref().map_or(0, |f| f.coefficients.mcus_wide)
    }

    /// Decodes at most `mcu_rows` (at least one) rows of coding units — MCU
    /// rows of an interleaved scan, block rows of a single component's — and
    /// reads the markers up to the next scan. Returns the frame once it is
    /// whole; after that, or after an error, every call is an error.
    pub fn step(&mut self, mcu_rows: usize) -> Result<Option<Coefficients>, Error> {
        let result = self.advance(mcu_rows.max(1));
        if result.is_err() {
            self.stage = Stage::Done;
        }
        result
    }

    fn advance(&mut self, mut budget: usize) -> Result<Option<Coefficients>, Error> {
        loop {
            match &mut self.stage {
                Stage::Scan(scan) => {
                    if budget == 0 {
                        return Ok(None);
                    }
                    let frame = self.frame.as_mut().ok_or(Error::Finished)?;
                    budget -= scan.decode(self.jpeg.as_ref(), &self.tables, frame, budget)?;
                    if scan.is_over() {
                        let end = scan.bits.position();
                        self.stage = self.walk(Some(end))?;
                    }
                }
                Stage::Finished => {
                    self.stage = Stage::Done;
                    let frame = self.frame.take().ok_or(Error::Finished)?;
                    return Ok(Some(frame.coefficients));
                }
                Stage::Done => return Err(Error::Finished),
            }
        }
    }

    /// Follows the markers from the start (`None`) or from the end of a
    /// scan's data, applying tables and the frame header, until the next scan
    /// begins or the image ends.
    fn walk(&mut self, after_scan: Option<usize>) -> Result<Stage, Error> {
        let jpeg = self.jpeg.as_ref();
        let walk = match after_scan {
            None => segments(jpeg),
            Some(at) => segments_after_scan(jpeg, at),
        };
        let tables = &mut self.tables;
        for segment in walk {
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
                    if self.frame.is_some() {
                        return Err(Error::Malformed("second frame header", at));
                    }
                    let spare = std::mem::take(&mut self.spare);
                    let frame = frame_header(segment.body, at, self.limits, jpeg.len(), spare)?;
                    self.frame = Some(frame);
                }
                // Every other SOFn: progressive, lossless, hierarchical, arithmetic.
                0xC2..=0xCF if segment.marker != 0xC8 => {
                    return Err(Error::Unsupported(
                        "not a baseline Huffman frame (progressive, lossless or arithmetic coding)",
                    ));
                }
                DNL => return Err(Error::Unsupported("height defined by a DNL segment")),
                SOS => {
                    let frame = self
                        .frame
                        .as_mut()
                        .ok_or(Error::Malformed("scan before the frame header", at))?;
                    return Ok(Stage::Scan(Scan::start(&segment, frame, tables)?));
                }
                EOI => {
                    let frame = self
                        .frame
                        .as_ref()
                        .ok_or(Error::Malformed("no frame header", at))?;
                    if frame.selectors.iter().any(Option::is_some) {
                        return Err(Error::Truncated("a component has no scan"));
                    }
                    return Ok(Stage::Finished);
                }
                _ => {}
            }
        }
        Err(Error::Truncated("no end-of-image marker"))
    }
}

/// A frame being decoded.
struct Frame {
    coefficients: Coefficients,
    /// Per component, its quantisation table selector until a scan has
    /// decoded it (and fixed its table, T.81 §B.2.4.1), then `None`.
    selectors: Vec<Option<u8>>,
    /// Some grids are reused and hold an earlier frame's blocks: each block
    /// is zeroed before it is decoded, and blocks no scan codes up front.
    stale: bool,
}

/// Every block costs at least two bits of entropy-coded data (a DC and an
/// end-of-block code), so a file of `n` bytes holds at most `4 * n` blocks;
/// grids larger than this many times the file are not allocated (padding
/// blocks of single-component scans are not coded, hence the margin).
const BLOCKS_PER_BYTE: usize = 16;

/// The frame header (T.81 §B.2.2): checks what this module handles and
/// allocates the block grids (or takes them from `spare`).
fn frame_header(
    body: &[u8],
    at: usize,
    limits: Limits,
    len: usize,
    mut spare: Vec<Vec<Block>>,
) -> Result<Frame, Error> {
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
    let mut stale = false;
    for (i, c) in components.iter_mut().enumerate() {
        c.blocks_wide = mcus_wide * usize::from(c.h);
        c.blocks_high = mcus_high * usize::from(c.v);
        let n = c.blocks_wide * c.blocks_high;
        c.blocks = match spare.get_mut(i) {
            Some(old) if old.len() == n => {
                stale = true;
                std::mem::take(old)
            }
            _ => vec![[0; 64]; n],
        };
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
        stale,
    })
}

/// One component's part in a scan: where its blocks go and how they are coded.
struct Member {
    index: usize,
    /// Slots in `Tables::huffman`.
    dc: usize,
    ac: usize,
    predictor: i32,
}

/// A scan being decoded (header §B.2.3, data §F.2.2).
struct Scan {
    /// The scan header's offset, for errors.
    at: usize,
    members: Vec<Member>,
    interleaved: bool,
    /// The grid of coding units: MCUs of an interleaved scan, blocks of a
    /// single component's.
    units_wide: usize,
    units_high: usize,
    /// The next unit to decode, in raster order.
    next: usize,
    /// Restart intervals passed so far.
    intervals: u32,
    bits: BitState,
    /// Blocks hold an earlier frame's coefficients until decoded.
    stale: bool,
}

impl Scan {
    /// Checks the scan header against the frame and the tables, and fixes
    /// each member's quantisation table.
    fn start(header: &Segment, frame: &mut Frame, tables: &Tables) -> Result<Scan, Error> {
        let at = header.at;
        let Frame {
            coefficients: frame,
            selectors,
            stale,
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
            if members.iter().any(|m: &Member| m.index == index) {
                return Err(Error::Malformed("scan names a component twice", at));
            }
            let (dc, ac) = (usize::from(spec[1] >> 4), 4 + usize::from(spec[1] & 0x0F));
            if tables.huffman(dc).is_none() || tables.huffman(ac).is_none() {
                return Err(Error::Malformed("scan uses an undefined Huffman table", at));
            }
            members.push(Member {
                index,
                dc,
                ac,
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
        if let ([only], true) = (&members[..], *stale) {
            if let Some(c) = frame.components.get_mut(only.index) {
                zero_uncoded(c, units_wide, units_high);
            }
        }
        Ok(Scan {
            at,
            members,
            interleaved: count > 1,
            units_wide,
            units_high,
            next: 0,
            intervals: 0,
            bits: BitState::at(header.end()),
            stale: *stale,
        })
    }

    fn is_over(&self) -> bool {
        self.next >= self.units_wide * self.units_high
    }

    /// Decodes up to `rows` rows of units; returns how many rows that was.
    fn decode(
        &mut self,
        jpeg: &[u8],
        tables: &Tables,
        frame: &mut Frame,
        rows: usize,
    ) -> Result<usize, Error> {
        let total = self.units_wide * self.units_high;
        let first_row = self.next / self.units_wide.max(1);
        let end = rows
            .saturating_add(first_row)
            .saturating_mul(self.units_wide)
            .min(total);
        let mut reader = BitReader::resume(jpeg, self.bits);
        let result = self.units(&mut reader, tables, &mut frame.coefficients, end);
        self.bits = reader.suspend();
        result.map_err(|e| at_offset(e, self.at))?;
        Ok(end.div_ceil(self.units_wide.max(1)) - first_row)
    }

    /// Decodes the units from `next` up to `end`.
    fn units(
        &mut self,
        reader: &mut BitReader,
        tables: &Tables,
        frame: &mut Coefficients,
        end: usize,
    ) -> Result<(), Error> {
        let coders = self
            .members
            .iter()
            .map(|m| Some((tables.huffman(m.dc)?, tables.huffman(m.ac)?)))
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Malformed("scan uses an undefined Huffman table", 0))?;
        let interval = tables.restart_interval as usize;
        for unit in self.next..end {
            if interval > 0 && unit > 0 && unit % interval == 0 {
                reader.restart(self.intervals)?;
                self.intervals += 1;
                for m in &mut self.members {
                    m.predictor = 0;
                }
            }
            let (ux, uy) = (unit % self.units_wide, unit / self.units_wide);
            for (m, &(dc, ac)) in self.members.iter_mut().zip(&coders) {
                let c = frame
                    .components
                    .get_mut(m.index)
                    .ok_or(Error::Malformed("scan component", 0))?;
                let (h, v) = if self.interleaved {
                    (usize::from(c.h), usize::from(c.v))
                } else {
                    (1, 1)
                };
                for by in 0..v {
                    for bx in 0..h {
                        let block = c
                            .block_mut(ux * h + bx, uy * v + by)
                            .ok_or(Error::Malformed("block outside the grid", 0))?;
                        if self.stale {
                            *block = [0; 64];
                        }
                        decode_block(reader, dc, ac, &mut m.predictor, block)?;
                    }
                }
            }
            if reader.overran() {
                return Err(Error::Truncated("scan data ends before its last MCU"));
            }
            self.next = unit + 1;
        }
        Ok(())
    }
}

/// Zeroes the blocks of a reused grid that a single component's scan does not
/// code: the padding of its MCUs past the picture's right and bottom edges.
fn zero_uncoded(c: &mut Component, units_wide: usize, units_high: usize) {
    for (y, row) in c.blocks.chunks_mut(c.blocks_wide.max(1)).enumerate() {
        let coded = if y < units_high { units_wide } else { 0 };
        for block in row.iter_mut().skip(coded) {
            *block = [0; 64];
        }
    }
}

/// Puts the scan's offset into errors raised below the segment level.
fn at_offset(e: Error, at: usize) -> Error {
    match e {
        Error::Malformed(what, 0) => Error::Malformed(what, at),
        e => e,
    }
}

const RUN_PAST_END: Error = Error::Malformed("AC run past the end of the block", 0);

/// Decodes one block (§F.2.2.1 for DC, §F.2.2.2 for AC) in zigzag order.
/// The hot loop: most AC coefficients take one `fill`, one lookup and one
/// store.
#[inline(always)]
fn decode_block(
    reader: &mut BitReader,
    dc: &HuffmanTable,
    ac: &HuffmanTable,
    predictor: &mut i32,
    block: &mut Block,
) -> Result<(), Error> {
    reader.fill();
    let (len, size) = dc.symbol(reader.peek16())?;
    reader.consume(len);
    // 8-bit samples give DC differences of at most 11 bits (§F.1.2.1.1).
    if size > 11 {
        return Err(Error::Malformed("DC difference too large", 0));
    }
    let size = u32::from(size);
    *predictor += extend(reader.bits(size), size);
    // The DCT of 8-bit samples has its DC within -1024..=1016: anything
    // outside could not be written back as baseline (see `encode`).
    if !(-1024..=1023).contains(predictor) {
        return Err(Error::Malformed("DC coefficient out of range", 0));
    }
    // The grid starts zeroed and each block is decoded once (a component
    // is in one scan), so only the coefficients coded need writing.
    block[0] = *predictor as i16;
    let mut k = 1;
    while k < 64 {
        reader.fill();
        let peek = reader.peek16();
        let whole = ac.coefficient(peek);
        if whole.bits != 0 {
            reader.consume(u32::from(whole.bits));
            if whole.value == 0 && whole.run == 0 {
                // EOB: the rest are zero.
                break;
            }
            k += usize::from(whole.run);
            *block.get_mut(k).ok_or(RUN_PAST_END)? = whole.value;
            k += 1;
            continue;
        }
        let (len, rs) = ac.symbol(peek)?;
        reader.consume(len);
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 0x0F));
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
        *block.get_mut(k).ok_or(RUN_PAST_END)? = extend(reader.bits(size), size) as i16;
        k += 1;
    }
    if k > 64 {
        return Err(RUN_PAST_END);
    }
    Ok(())
}

//! Coefficients back to a baseline JPEG: a rectangle of whole MCUs (the whole
//! frame being the largest) written as a file of its own — SOI, DQT, SOF0, DHT,
//! one interleaved scan (T.81 §F.1.2), EOI — that any decoder shows as exactly
//! those blocks, or any `Layout` of MCUs picked from the frame. Huffman tables are the standard ones of Annex K.3 or, for a few percent
//! more time, ones built for the region (Annex K.2).

use super::bits::BitWriter;
use super::huffman::HuffmanTable;
use super::{requantise_block, Block, Coefficients, Error, QuantTable, Region};
use crate::video::jpeg::{DHT, DQT, EOI, SOF0, SOI, SOS};

/// The largest magnitudes the standard tables can code: DC values within
/// ±1024 keep every difference within 11 bits, AC values within 10 bits
/// (§F.1.2.1.1, §F.1.2.2.1). Decoded 8-bit frames always fit; only a
/// requantisation to a finer table than the source's can leave them.
const DC_MAX: i32 = 1023;
const AC_MAX: i32 = 1023;

/// Which Huffman tables a region is coded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanTables {
    /// The standard tables of Annex K.3: one pass over the blocks.
    Standard,
    /// Tables built for this region's symbols (Annex K.2): a counting pass
    /// first, then a smaller scan, and a DHT segment with only the symbols
    /// used (much smaller than the standard tables for a small patch).
    Optimal,
}

/// Table index of DC and AC for luminance (0, 1) and chrominance (2, 3);
/// a table's DHT class and destination are `(index % 2) << 4 | index / 2`.
type TableSet = [HuffmanTable; 4];

/// Where coded symbols go: counted (to build optimal tables) or written.
trait Sink {
    fn symbol(&mut self, table: usize, symbol: u8);
    fn bits(&mut self, value: u32, n: u32);
}

/// Symbol counts per table.
struct Counter([[u32; 256]; 4]);

impl Sink for Counter {
    fn symbol(&mut self, table: usize, symbol: u8) {
        if let Some(n) = self
            .0
            .get_mut(table)
            .and_then(|t| t.get_mut(usize::from(symbol)))
        {
            *n = n.saturating_add(1);
        }
    }
    fn bits(&mut self, _: u32, _: u32) {}
}

struct Writer<'a> {
    bits: &'a mut BitWriter,
    tables: &'a TableSet,
}

impl Sink for Writer<'_> {
    fn symbol(&mut self, table: usize, symbol: u8) {
        if let Some(t) = self.tables.get(table) {
            t.encode(self.bits, symbol);
        }
    }
    fn bits(&mut self, value: u32, n: u32) {
        self.bits.put(value, n);
    }
}

/// A picture made of MCUs taken from a frame: what a change-only update
/// carries. Its grid is `mcus_wide` × `mcus_high` MCUs; each `Run` copies
/// `len` MCUs of one frame row into one row of the grid, and MCUs no run
/// covers are blank (a few bits each, never shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub mcus_wide: usize,
    pub mcus_high: usize,
    /// In pixels: the grid's, less where its last MCU column or row is cut
    /// as the frame's own edge is (so a run ending there is upsampled as in
    /// the frame).
    pub width: u32,
    pub height: u32,
    /// Sorted by row, then column; never overlapping.
    pub runs: Vec<Run>,
}

/// `len` MCUs from frame MCU `(from_x, from_y)` on, placed at `column` of
/// the layout's `row`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub row: usize,
    pub column: usize,
    pub from_x: usize,
    pub from_y: usize,
    pub len: usize,
}

impl Layout {
    /// `region` of `frame` as it lies there, cut at the frame's right and
    /// bottom edges.
    pub fn region(frame: &Coefficients, region: Region) -> Result<Layout, Error> {
        let inside = region.width > 0
            && region.height > 0
            && region
                .x
                .checked_add(region.width)
                .is_some_and(|r| r <= frame.mcus_wide)
            && region
                .y
                .checked_add(region.height)
                .is_some_and(|b| b <= frame.mcus_high);
        if !inside || frame.components.is_empty() {
            return Err(Error::BadRegion(region));
        }
        let (mcu_w, mcu_h) = frame.mcu_size();
        // In pixels; the grid was checked above, so these fit a frame's u16 size.
        let pixels = |mcus: usize, size: u32| (mcus as u32).saturating_mul(size);
        Ok(Layout {
            mcus_wide: region.width,
            mcus_high: region.height,
            width: pixels(region.width, mcu_w)
                .min(frame.width.saturating_sub(pixels(region.x, mcu_w))),
            height: pixels(region.height, mcu_h)
                .min(frame.height.saturating_sub(pixels(region.y, mcu_h))),
            runs: (0..region.height)
                .map(|row| Run {
                    row,
                    column: 0,
                    from_x: region.x,
                    from_y: region.y + row,
                    len: region.width,
                })
                .collect(),
        })
    }

    /// Whether every run lies in the grid and in `frame`, in order, apart.
    fn fits(&self, frame: &Coefficients) -> bool {
        let (mcu_w, mcu_h) = frame.mcu_size();
        let grid = |mcus: usize, size: u32| (mcus as u64) * u64::from(size);
        let size_ok = self.width > 0
            && self.height > 0
            && u64::from(self.width) <= grid(self.mcus_wide, mcu_w)
            && u64::from(self.height) <= grid(self.mcus_high, mcu_h)
            && self.width <= u32::from(u16::MAX)
            && self.height <= u32::from(u16::MAX);
        let mut end = (0, 0);
        size_ok
            && self.runs.iter().all(|r| {
                let ordered = (r.row, r.column) >= end;
                end = (r.row, r.column.saturating_add(r.len));
                ordered
                    && r.len > 0
                    && r.row < self.mcus_high
                    && r.column
                        .checked_add(r.len)
                        .is_some_and(|e| e <= self.mcus_wide)
                    && r.from_x
                        .checked_add(r.len)
                        .is_some_and(|e| e <= frame.mcus_wide)
                    && r.from_y < frame.mcus_high
            })
    }
}

/// Appends to `out` a baseline JPEG of `region` of `frame`. Its size is the
/// region's in pixels, cut at the frame's right and bottom edges.
pub fn encode_region(
    frame: &Coefficients,
    region: Region,
    huffman: HuffmanTables,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    encode_layout(frame, &Layout::region(frame, region)?, huffman, None, out)
}

/// Appends to `out` a baseline JPEG of `layout`'s MCUs of `frame`. With
/// `quant` (one table per component), blocks are requantised to those tables
/// on the way (a lower quality) and the file carries them.
pub fn encode_layout(
    frame: &Coefficients,
    layout: &Layout,
    huffman: HuffmanTables,
    quant: Option<&[QuantTable]>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let quant = quant_for(frame, layout, quant)?;
    let ids = [0x00, 0x10, 0x01, 0x11];
    let tables: TableSet = match huffman {
        HuffmanTables::Standard => ids.map(HuffmanTable::standard),
        HuffmanTables::Optimal => {
            let mut counter = Counter([[0; 256]; 4]);
            let mut predictors = vec![0i32; frame.components.len()];
            let rows = 0..layout.mcus_high;
            walk(frame, layout, rows, &quant, &mut predictors, &mut counter);
            let [a, b, c, d] = &counter.0;
            [a, b, c, d].map(HuffmanTable::optimal)
        }
    };
    let mut encoder = LayoutEncoder::with_tables(frame, layout.clone(), quant, tables);
    // All rows in one step: the file is whole.
    let jpeg = encoder.step(frame, usize::MAX).ok_or(Error::BadLayout)?;
    out.extend_from_slice(&jpeg);
    Ok(())
}

/// The tables each component is coded with, once the layout is checked.
fn quant_for(
    frame: &Coefficients,
    layout: &Layout,
    quant: Option<&[QuantTable]>,
) -> Result<Vec<QuantTable>, Error> {
    if frame.components.is_empty() || !layout.fits(frame) {
        return Err(Error::BadLayout);
    }
    match quant {
        Some(q) if q.len() == frame.components.len() => Ok(q.to_vec()),
        Some(_) => Err(Error::BadLayout),
        None => Ok(frame.components.iter().map(|c| c.quant).collect()),
    }
}

/// `encode_layout` a few layout rows at a time, so a whole 1080p frame at a
/// lower quality never holds the loop for the 8 to 12 ms it takes on this
/// project's x86 bench host (several times that on a board). The standard
/// tables only: optimal ones need a pass over every block first.
pub struct LayoutEncoder {
    layout: Layout,
    quant: Vec<QuantTable>,
    tables: TableSet,
    /// `None` once the file is whole.
    bits: Option<BitWriter>,
    predictors: Vec<i32>,
    /// The next layout row to code.
    row: usize,
}

impl LayoutEncoder {
    /// Checks the layout and writes the file's headers. Every `step` must be
    /// given the same frame (its blocks may not change in between).
    pub fn new(
        frame: &Coefficients,
        layout: Layout,
        quant: Option<&[QuantTable]>,
    ) -> Result<LayoutEncoder, Error> {
        let quant = quant_for(frame, &layout, quant)?;
        let tables = [0x00, 0x10, 0x01, 0x11].map(HuffmanTable::standard);
        Ok(LayoutEncoder::with_tables(frame, layout, quant, tables))
    }

    fn with_tables(
        frame: &Coefficients,
        layout: Layout,
        quant: Vec<QuantTable>,
        tables: TableSet,
    ) -> LayoutEncoder {
        let mut out = Vec::new();
        write_headers(frame, &layout, &quant, &tables, &mut out);
        LayoutEncoder {
            predictors: vec![0i32; frame.components.len()],
            layout,
            quant,
            tables,
            bits: Some(BitWriter::new(out)),
            row: 0,
        }
    }

    /// MCUs across the layout: how much a row holds.
    pub fn mcus_wide(&self) -> usize {
        self.layout.mcus_wide
    }

    /// Codes the next `rows` (at least one) rows; the JPEG once it is whole.
    pub fn step(&mut self, frame: &Coefficients, rows: usize) -> Option<Vec<u8>> {
        let bits = self.bits.as_mut()?;
        let end = self
            .row
            .saturating_add(rows.max(1))
            .min(self.layout.mcus_high);
        let mut writer = Writer {
            bits,
            tables: &self.tables,
        };
        let range = self.row..end;
        walk(
            frame,
            &self.layout,
            range,
            &self.quant,
            &mut self.predictors,
            &mut writer,
        );
        self.row = end;
        if end < self.layout.mcus_high {
            return None;
        }
        let mut jpeg = self.bits.take()?.finish();
        jpeg.extend_from_slice(&[0xFF, EOI]);
        Some(jpeg)
    }
}

/// SOI, DQT, SOF0, DHT and SOS: everything before the entropy-coded data.
fn write_headers(
    frame: &Coefficients,
    layout: &Layout,
    quant: &[QuantTable],
    tables: &TableSet,
    out: &mut Vec<u8>,
) {
    let ids = [0x00, 0x10, 0x01, 0x11];
    out.extend_from_slice(&[0xFF, SOI]);
    let slots = write_dqt(quant, out);
    // Frame header (§B.2.2): 8-bit samples, size, each component's id,
    // sampling factors and quantisation table.
    let mut sof = vec![8];
    sof.extend_from_slice(&(layout.height as u16).to_be_bytes());
    sof.extend_from_slice(&(layout.width as u16).to_be_bytes());
    sof.push(frame.components.len() as u8);
    for (c, slot) in frame.components.iter().zip(&slots) {
        sof.extend_from_slice(&[c.id, c.h << 4 | c.v, *slot]);
    }
    segment(SOF0, &sof, out);
    // Chrominance tables only when there is chrominance.
    let used = if frame.components.len() > 1 { 4 } else { 2 };
    let mut dht = Vec::new();
    for (table, id) in tables.iter().zip(ids).take(used) {
        table.write_spec(id, &mut dht);
    }
    segment(DHT, &dht, out);
    // Scan header (§B.2.3): all components interleaved, luminance on tables
    // 0, chrominance on tables 1, all 64 coefficients, no approximation.
    let mut sos = vec![frame.components.len() as u8];
    for (i, c) in frame.components.iter().enumerate() {
        let t = u8::from(i > 0);
        sos.extend_from_slice(&[c.id, t << 4 | t]);
    }
    sos.extend_from_slice(&[0, 63, 0]);
    segment(SOS, &sos, out);
}

/// Codes `rows` of the layout's grid in interleaved order (§A.2.3): runs
/// from the frame, blank MCUs between them. `layout.fits` was checked, so
/// every block exists (one that does not is skipped, never a panic).
fn walk(
    frame: &Coefficients,
    layout: &Layout,
    rows: std::ops::Range<usize>,
    quant: &[QuantTable],
    predictors: &mut [i32],
    sink: &mut impl Sink,
) {
    let first = layout.runs.partition_point(|r| r.row < rows.start);
    let mut runs = layout.runs[first..].iter().peekable();
    for row in rows {
        let mut column = 0;
        while column < layout.mcus_wide {
            let run = runs.next_if(|r| r.row == row && r.column == column);
            let Some(run) = run else {
                encode_blank_mcu(frame, predictors, sink);
                column += 1;
                continue;
            };
            for mx in run.from_x..run.from_x + run.len {
                encode_mcu(frame, (mx, run.from_y), quant, predictors, sink);
            }
            column += run.len;
        }
    }
}

/// One MCU's blocks, component by component, requantised where `quant`
/// differs from the component's own table.
fn encode_mcu(
    frame: &Coefficients,
    (mx, my): (usize, usize),
    quant: &[QuantTable],
    predictors: &mut [i32],
    sink: &mut impl Sink,
) {
    let parts = frame.components.iter().zip(quant).zip(predictors);
    for (i, ((c, to), predictor)) in parts.enumerate() {
        let t = usize::from(i > 0);
        let (h, v) = (usize::from(c.h), usize::from(c.v));
        for by in 0..v {
            for bx in 0..h {
                let Some(block) = c.block(mx * h + bx, my * v + by) else {
                    continue;
                };
                if *to == c.quant {
                    encode_block(sink, block, predictor, t);
                } else {
                    let mut block = *block;
                    requantise_block(&mut block, &c.quant, to);
                    encode_block(sink, &block, predictor, t);
                }
            }
        }
    }
}

/// An MCU nobody sees: every block the DC of the one before, no AC.
fn encode_blank_mcu(frame: &Coefficients, predictors: &mut [i32], sink: &mut impl Sink) {
    for (i, (c, predictor)) in frame.components.iter().zip(predictors).enumerate() {
        let t = usize::from(i > 0);
        let mut blank = [0i16; 64];
        blank[0] = *predictor as i16;
        for _ in 0..c.h * c.v {
            encode_block(sink, &blank, predictor, t);
        }
    }
}

/// Writes one DQT segment with each distinct table once; returns each
/// component's table slot.
fn write_dqt(quant: &[QuantTable], out: &mut Vec<u8>) -> Vec<u8> {
    let mut distinct: Vec<&QuantTable> = Vec::new();
    let mut slots = Vec::with_capacity(quant.len());
    for table in quant {
        let slot = match distinct.iter().position(|t| *t == table) {
            Some(slot) => slot,
            None => {
                distinct.push(table);
                distinct.len() - 1
            }
        };
        slots.push(slot as u8);
    }
    let mut body = Vec::with_capacity(65 * distinct.len());
    for (slot, table) in distinct.iter().enumerate() {
        table.write_dqt(slot as u8, &mut body);
    }
    segment(DQT, &body, out);
    slots
}

/// A marker segment: 0xFF, marker, length (counting itself), body.
fn segment(marker: u8, body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// The magnitude category of `value` (§F.1.2.1.1): its bit length, and the
/// bits that follow the code (one's complement for negative values).
fn category(value: i32) -> (u32, u32) {
    let size = 32 - value.unsigned_abs().leading_zeros();
    let bits = if value < 0 { value - 1 } else { value };
    (size, bits as u32 & ((1 << size) - 1))
}

/// Codes one block (§F.1.2.1 DC difference, §F.1.2.2 AC run/size pairs)
/// with the tables of luminance (`t == 0`) or chrominance (`t == 1`).
fn encode_block(sink: &mut impl Sink, block: &Block, predictor: &mut i32, t: usize) {
    let (dc_table, ac_table) = (2 * t, 2 * t + 1);
    let dc = i32::from(block[0]).clamp(-DC_MAX - 1, DC_MAX);
    let (size, bits) = category(dc - *predictor);
    *predictor = dc;
    sink.symbol(dc_table, size as u8);
    sink.bits(bits, size);
    let mut run = 0;
    for &c in &block[1..] {
        if c == 0 {
            run += 1;
            continue;
        }
        while run > 15 {
            // ZRL: sixteen zeros.
            sink.symbol(ac_table, 0xF0);
            run -= 16;
        }
        let (size, bits) = category(i32::from(c).clamp(-AC_MAX, AC_MAX));
        sink.symbol(ac_table, (run << 4 | size) as u8);
        sink.bits(bits, size);
        run = 0;
    }
    if run > 0 {
        // EOB.
        sink.symbol(ac_table, 0x00);
    }
}

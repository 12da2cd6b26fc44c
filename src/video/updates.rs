//! What a `/ws/video` viewer is sent (docs/API.md): the whole frame, only the
//! MCUs that changed since the picture it has, or word that nothing did.
//!
//! The newest frame is entropy-decoded into coefficients (no IDCT, no colour
//! conversion) only when a viewer asks for an update, so frames nobody asks
//! for are never decoded, and folded into the `Picture`. Decoding and
//! folding go a bounded number of MCUs at a time: the first slice at once,
//! the rest in the loop's later turns (`step`), so a large frame never holds
//! a keystroke back; viewers wait those few milliseconds for it rather than
//! get the frame before. An update depends on the viewer's picture (`base`)
//! and quality only, so viewers at the same state share one, built once and
//! sent by reference. A frame that cannot be decoded goes out whole, as
//! captured, and change-only updates resume with the next frame that decodes.

use std::rc::Rc;
use std::time::Instant;

use super::coeff::LayoutEncoder;
use super::coeff::{self, encode_layout, Coefficients, Decoder, HuffmanTables, Layout, Limits};
use super::coeff::{QuantTable, Run};
use super::picture::{Fold, Picture};
use super::SharedFrame;

/// Byte 0 of each kind of message (docs/API.md).
pub const KIND_WHOLE: u8 = 1;
pub const KIND_CHANGES: u8 = 2;
pub const KIND_UNCHANGED: u8 = 3;

/// Changed MCUs at most this many apart in a row go as one span: the MCUs
/// between cost less than another span's context and table entry.
const MERGE_GAP: usize = 3;
/// A JPEG side is a u16 of pixels.
const MAX_SIDE: usize = u16::MAX as usize;
/// MCUs decoded, folded in or encoded per slice: 1080p in 16. On this
/// project's x86 bench host a slice is about 0.5 ms to decode, 0.25 ms to
/// fold in and 2 ms to requantise and encode (bench/loop_latency.py: a /ws
/// ping waits 2–3 ms at p99 behind a 1080p canvas at quality 40), a few
/// times that on a board's core.
const MCUS_PER_STEP: usize = 1024;

/// Frames an encoded update is held for its viewer at most (`Updates::held`).
const HOLD_FRAMES: u32 = 30;

/// A shared frame's JPEG, for the decoder to hold while it works.
struct FrameBytes(SharedFrame);

impl AsRef<[u8]> for FrameBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0.jpeg
    }
}

/// The quality a viewer sees: the captured coefficients as they are, or
/// requantised to the tables of a JPEG quality (1..=100), never finer than
/// the source's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quality {
    Source,
    Level(u8),
}

/// The JPEG an update carries.
enum Jpeg {
    /// Nothing (kind 3).
    None,
    /// The captured frame's own bytes.
    Captured(SharedFrame),
    /// Built from coefficients.
    Built(Vec<u8>),
}

/// An update whose JPEG is still to be encoded, a slice at a time.
struct Plan {
    kind: u8,
    spans: Vec<u8>,
    encoder: LayoutEncoder,
}

/// An update being encoded for viewers at `base` and `quality`.
struct Building {
    base: Option<u64>,
    quality: Quality,
    frame: SharedFrame,
    plan: Box<Plan>,
}

/// The frame work the loop does a slice of each turn (`Updates::step`).
enum Work {
    /// The newest frame, being entropy-decoded (the decoder's tables are
    /// 34 KB: boxed, so each step moves a pointer).
    Decoding(SharedFrame, Box<Decoder<FrameBytes>>),
    /// A frame's coefficients, being folded into the picture.
    Folding(SharedFrame, Coefficients, Fold),
    /// An update, being encoded.
    Building(Building),
}

/// What `build` made: an update, or one to encode first.
enum Built {
    Ready(Update),
    Encoding(Box<Plan>),
}

/// One message's content, shared by every viewer it fits.
pub struct Update {
    pub kind: u8,
    /// The frame the update brings the picture to.
    pub seq: u64,
    pub captured: Instant,
    pub monotonic_us: u128,
    pub width: u32,
    pub height: u32,
    /// Kind 2: MCU size, span count and the spans, the bytes between the
    /// header and the JPEG.
    pub spans: Vec<u8>,
    jpeg: Jpeg,
}

impl Update {
    fn new(frame: &SharedFrame, kind: u8, jpeg: Jpeg) -> Update {
        Update {
            kind,
            seq: frame.seq,
            captured: frame.captured,
            monotonic_us: frame.monotonic_us,
            width: frame.width,
            height: frame.height,
            spans: Vec::new(),
            jpeg,
        }
    }

    pub fn jpeg(&self) -> &[u8] {
        match &self.jpeg {
            Jpeg::None => &[],
            Jpeg::Captured(frame) => &frame.jpeg,
            Jpeg::Built(bytes) => bytes,
        }
    }

    /// Bytes after the message's 28-byte header.
    pub fn body_len(&self) -> usize {
        self.spans.len() + self.jpeg().len()
    }
}

#[derive(Default)]
pub struct Updates {
    /// The newest frame published.
    newest: Option<SharedFrame>,
    /// The frame updates are built for: the newest once decoded and folded.
    current: Option<SharedFrame>,
    /// A newer frame being decoded or folded in, or an update being
    /// encoded: a slice at a time.
    work: Option<Work>,
    /// An encoded update (base, quality) its viewer has not taken yet, and
    /// frames published since: no newer frame is folded in (which would drop
    /// it) until it is taken or `HOLD_FRAMES` have passed, so on a core
    /// slower than the frame rate a viewer never waits for ever.
    held: Option<(Option<u64>, Quality, u32)>,
    /// The grids of the last frame decoded, for the next to decode into.
    spare: Option<Coefficients>,
    /// `None` while frames do not decode: whole frames only.
    picture: Option<Picture>,
    /// Whether the last decode failed (logged once per run of failures).
    failing: bool,
    /// Updates built for `current`, by the viewer's base and quality.
    cache: Vec<(Option<u64>, Quality, Rc<Update>)>,
}

impl Updates {
    /// A frame was published: the next update is built for it.
    pub fn on_frame(&mut self, frame: &SharedFrame) {
        self.newest = Some(frame.clone());
        if let Some((_, _, frames)) = &mut self.held {
            *frames += 1;
            if *frames > HOLD_FRAMES {
                self.held = None;
            }
        }
    }

    /// Capture stopped: let the frames and the picture go.
    pub fn clear(&mut self) {
        *self = Updates::default();
    }

    /// The newest frame's sequence.
    pub fn newest_seq(&self) -> Option<u64> {
        self.newest.as_ref().map(|f| f.seq)
    }

    /// The update that brings a viewer whose picture is frame `base` (`None`:
    /// no picture yet) to the newest frame decoded, in `quality`; `None` when
    /// it is there already. A newer frame starts decoding here.
    pub fn update_for(&mut self, base: Option<u64>, quality: Quality) -> Option<Rc<Update>> {
        self.begin_decode();
        if self.is_busy() {
            // A few milliseconds more give the newest frame, not the one
            // before: the loop wakes viewers when it is ready.
            return None;
        }
        let frame = self.current.clone()?;
        if base == Some(frame.seq) {
            return None;
        }
        if let Some(update) = self.cached(base, quality) {
            if self.held.is_some_and(|(b, q, _)| (b, q) == (base, quality)) {
                self.held = None;
            }
            return Some(update);
        }
        match self.build(&frame, base, quality) {
            Built::Ready(update) => {
                let update = Rc::new(update);
                self.cache.push((base, quality, update.clone()));
                Some(update)
            }
            Built::Encoding(plan) => {
                self.work = Some(Work::Building(Building {
                    base,
                    quality,
                    frame,
                    plan,
                }));
                self.step();
                self.cached(base, quality)
            }
        }
    }

    /// An update built for `current` from `base` in `quality`, unless
    /// `base` is `current` already.
    fn cached(&self, base: Option<u64>, quality: Quality) -> Option<Rc<Update>> {
        let current = self.current.as_ref().map(|f| f.seq);
        let cached = self
            .cache
            .iter()
            .find(|(b, q, _)| *b == base && *q == quality);
        cached
            .filter(|_| base != current)
            .map(|(_, _, update)| update.clone())
    }

    /// Whether a frame is being decoded, folded in or encoded: the loop
    /// calls `step` each turn.
    pub fn is_busy(&self) -> bool {
        self.work.is_some()
    }

    /// Decodes, folds in or encodes the next slice. Returns the frame once
    /// it is folded in or its update is built: viewers may have one to send.
    pub fn step(&mut self) -> Option<SharedFrame> {
        match self.work.take()? {
            Work::Decoding(frame, decoder) => self.step_decode(frame, decoder),
            Work::Folding(frame, blocks, fold) => self.step_fold(frame, blocks, fold),
            Work::Building(building) => self.step_build(building),
        }
    }

    fn step_decode(
        &mut self,
        frame: SharedFrame,
        mut decoder: Box<Decoder<FrameBytes>>,
    ) -> Option<SharedFrame> {
        let rows = MCUS_PER_STEP / decoder.mcus_wide().max(1);
        match decoder.step(rows) {
            Ok(None) => {
                self.work = Some(Work::Decoding(frame, decoder));
                None
            }
            Ok(Some(blocks)) => {
                if self.failing {
                    log::info!("📹 frame {} decodes: change-only updates again", frame.seq);
                    self.failing = false;
                }
                self.begin_fold(frame, blocks)
            }
            Err(e) => {
                self.failed(&frame, &e);
                Some(frame)
            }
        }
    }

    /// A frame's coefficients, to fold into the picture (its first slice at
    /// once), or to begin a new picture with when they cannot be.
    fn begin_fold(&mut self, frame: SharedFrame, blocks: Coefficients) -> Option<SharedFrame> {
        let fold = self
            .picture
            .as_mut()
            .and_then(|p| p.begin_fold(frame.seq, &blocks));
        match fold {
            Some(fold) => self.step_fold(frame, blocks, fold),
            None => {
                self.picture = Some(Picture::new(frame.seq, blocks));
                Some(self.now_current(frame))
            }
        }
    }

    fn step_fold(
        &mut self,
        frame: SharedFrame,
        blocks: Coefficients,
        mut fold: Fold,
    ) -> Option<SharedFrame> {
        let picture = self.picture.as_mut()?;
        let rows = MCUS_PER_STEP / blocks.mcus_wide.max(1);
        if !picture.fold_rows(&mut fold, &blocks, rows) {
            self.work = Some(Work::Folding(frame, blocks, fold));
            return None;
        }
        self.spare = Some(blocks);
        Some(self.now_current(frame))
    }

    fn step_build(&mut self, mut building: Building) -> Option<SharedFrame> {
        let picture = self.picture.as_ref()?;
        let plan = &mut building.plan;
        let rows = MCUS_PER_STEP / plan.encoder.mcus_wide().max(1);
        let Some(jpeg) = plan.encoder.step(picture.blocks(), rows) else {
            self.work = Some(Work::Building(building));
            return None;
        };
        let mut update = Update::new(&building.frame, plan.kind, Jpeg::Built(jpeg));
        update.spans = std::mem::take(&mut plan.spans);
        self.cache
            .push((building.base, building.quality, Rc::new(update)));
        self.held = Some((building.base, building.quality, 0));
        Some(building.frame)
    }

    /// Starts decoding the newest frame unless it is decoded or being
    /// decoded, and runs the first slice.
    fn begin_decode(&mut self) {
        let Some(newest) = self.newest.clone() else {
            return;
        };
        // A frame being decoded is finished first: restarting with each
        // newer one would never finish on a core slower than the frame rate.
        // Nor is the picture changed under a whole frame being encoded.
        let current = self.current.as_ref().map(|f| f.seq);
        if self.is_busy() || self.held.is_some() || current == Some(newest.seq) {
            return;
        }
        // A digital source repeats its frames byte for byte on a still
        // screen: no decode for a repeat of the frame decoded last. Its
        // blocks (`spare`) are folded in again only while the picture is not
        // exactly that frame (the exact row is still coming round).
        let repeated = self.current.as_ref().is_some_and(|c| c.jpeg == newest.jpeg);
        if let (true, Some(picture)) = (repeated, self.picture.as_mut()) {
            match self.spare.take() {
                Some(blocks) if !picture.is_exact() => {
                    self.begin_fold(newest, blocks);
                }
                spare => {
                    self.spare = spare;
                    picture.repeat(newest.seq);
                    self.now_current(newest);
                }
            }
            return;
        }
        let bytes = FrameBytes(newest.clone());
        let started = match self.spare.take() {
            Some(old) => Decoder::reusing(bytes, Limits::default(), old),
            None => Decoder::new(bytes, Limits::default()),
        };
        match started {
            Ok(decoder) => {
                self.step_decode(newest, Box::new(decoder));
            }
            Err(e) => self.failed(&newest, &e),
        }
    }

    /// `frame` is the one the picture is now: updates are built for it.
    fn now_current(&mut self, frame: SharedFrame) -> SharedFrame {
        self.current = Some(frame.clone());
        self.cache.clear();
        frame
    }

    /// A frame that does not decode goes out whole; so do the next ones
    /// until one decodes.
    fn failed(&mut self, frame: &SharedFrame, e: &coeff::Error) {
        if !self.failing {
            log::warn!(
                "📹 frame {}: {e}; canvas viewers get whole frames until frames decode again",
                frame.seq
            );
            self.failing = true;
        }
        self.picture = None;
        self.now_current(frame.clone());
    }

    fn build(&self, frame: &SharedFrame, base: Option<u64>, quality: Quality) -> Built {
        let Some(picture) = &self.picture else {
            return whole(frame, None, None);
        };
        let blocks = picture.blocks();
        let quant = tables_for(blocks, quality);
        let Some(changed) = base.and_then(|b| picture.changed_since(b)) else {
            return whole(frame, Some(blocks), quant.as_deref());
        };
        let changed = with_neighbours(blocks, changed);
        let count = changed.iter().filter(|c| **c).count();
        if count == 0 {
            return Built::Ready(Update::new(frame, KIND_UNCHANGED, Jpeg::None));
        }
        if count * 2 > changed.len() {
            return whole(frame, Some(blocks), quant.as_deref());
        }
        let spans = spans(&changed, blocks.mcus_wide);
        let Some((layout, table)) = pack(blocks, &spans) else {
            return whole(frame, Some(blocks), quant.as_deref());
        };
        let built = if layout.mcus_wide * layout.mcus_high > MCUS_PER_STEP {
            // Large: the standard tables, a slice at a time.
            LayoutEncoder::new(blocks, layout, quant.as_deref()).map(|encoder| {
                Built::Encoding(Box::new(Plan {
                    kind: KIND_CHANGES,
                    spans: table,
                    encoder,
                }))
            })
        } else {
            // Small: built now, with tables made for it (far smaller than
            // the standard ones' 420 bytes of DHT alone).
            let mut jpeg = Vec::new();
            let optimal = HuffmanTables::Optimal;
            encode_layout(blocks, &layout, optimal, quant.as_deref(), &mut jpeg).map(|()| {
                let mut update = Update::new(frame, KIND_CHANGES, Jpeg::Built(jpeg));
                update.spans = table;
                Built::Ready(update)
            })
        };
        built.unwrap_or_else(|e| {
            log::warn!(
                "📹 frame {}: changed areas: {e}; sending it whole",
                frame.seq
            );
            whole(frame, Some(blocks), quant.as_deref())
        })
    }
}

/// A whole frame: the captured bytes at the source's quality (or when the
/// frame does not decode), else the picture requantised, a slice at a time.
fn whole(
    frame: &SharedFrame,
    blocks: Option<&Coefficients>,
    quant: Option<&[QuantTable]>,
) -> Built {
    if let (Some(blocks), Some(quant)) = (blocks, quant) {
        let layout = Layout::region(blocks, blocks.whole());
        match layout.and_then(|layout| LayoutEncoder::new(blocks, layout, Some(quant))) {
            Ok(encoder) => {
                return Built::Encoding(Box::new(Plan {
                    kind: KIND_WHOLE,
                    spans: Vec::new(),
                    encoder,
                }))
            }
            Err(e) => log::warn!(
                "📹 frame {}: requantising: {e}; sent as captured",
                frame.seq
            ),
        }
    }
    Built::Ready(Update::new(
        frame,
        KIND_WHOLE,
        Jpeg::Captured(frame.clone()),
    ))
}

/// Each component's table for `quality`: `None` when that is the source's.
fn tables_for(blocks: &Coefficients, quality: Quality) -> Option<Vec<QuantTable>> {
    let Quality::Level(level) = quality else {
        return None;
    };
    let tables: Vec<QuantTable> = blocks
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| QuantTable::annex_k(i > 0, level).coarsest(&c.quant))
        .collect();
    let same = tables
        .iter()
        .zip(&blocks.components)
        .all(|(t, c)| *t == c.quant);
    (!same).then_some(tables)
}

/// The changed MCUs and, where chroma is subsampled that way, their
/// neighbours: upsampled chroma interpolates between neighbouring samples,
/// so a changed MCU also changes the neighbour's pixels next to it.
fn with_neighbours(frame: &Coefficients, changed: Vec<bool>) -> Vec<bool> {
    let (across, down) = subsampled(frame);
    let (wide, high) = (frame.mcus_wide, frame.mcus_high);
    // Across, then down from that: the corners' diagonal neighbours too.
    let mut changed = changed;
    for (step, wanted) in [((1, 0), across), ((0, 1), down)] {
        if !wanted {
            continue;
        }
        let was = changed.clone();
        for (i, _) in was.iter().enumerate().filter(|(_, c)| **c) {
            let (x, y) = (i % wide, i / wide);
            let before = (x.saturating_sub(step.0), y.saturating_sub(step.1));
            let after = ((x + step.0).min(wide - 1), (y + step.1).min(high - 1));
            for (x, y) in [before, after] {
                changed[y * wide + x] = true;
            }
        }
    }
    changed
}

/// Whether some chroma is subsampled across, and down.
fn subsampled(frame: &Coefficients) -> (bool, bool) {
    let max = |f: fn(&coeff::Component) -> u8| frame.components.iter().map(f).max().unwrap_or(1);
    let (max_h, max_v) = (max(|c| c.h), max(|c| c.v));
    (
        frame.components.iter().any(|c| c.h < max_h),
        frame.components.iter().any(|c| c.v < max_v),
    )
}

/// A run of changed MCUs in one frame row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    column: usize,
    row: usize,
    len: usize,
}

/// The changed MCUs as runs, row by row; runs at most `MERGE_GAP` apart
/// are one.
fn spans(changed: &[bool], mcus_wide: usize) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for (row, mcus) in changed.chunks(mcus_wide.max(1)).enumerate() {
        for (column, _) in mcus.iter().enumerate().filter(|(_, c)| **c) {
            match spans.last_mut() {
                Some(last) if last.row == row && column <= last.column + last.len + MERGE_GAP => {
                    last.len = column + 1 - last.column;
                }
                _ => spans.push(Span {
                    column,
                    row,
                    len: 1,
                }),
            }
        }
    }
    spans
}

/// Lays the spans out in one picture, a span (with its neighbours) per
/// layout row, and writes the span table kind 2 carries. Upsampled chroma
/// reads the samples next to each pixel, so where chroma is subsampled a
/// span takes its neighbouring MCUs along, not drawn (left and right; above
/// and below for vertical subsampling), and one that ends at the frame's
/// right or bottom edge ends at the layout's, cut as the frame is there. `None`
/// when the layout would not fit a JPEG.
fn pack(frame: &Coefficients, spans: &[Span]) -> Option<(Layout, Vec<u8>)> {
    let (context_x, context_y) = subsampled(frame);
    let (mcu_w, mcu_h) = frame.mcu_size();
    let (mcu_w, mcu_h) = (mcu_w as usize, mcu_h as usize);
    let cut_x = (frame.mcus_wide * mcu_w).saturating_sub(frame.width as usize);
    let cut_y = (frame.mcus_high * mcu_h).saturating_sub(frame.height as usize);
    let last_row = frame.mcus_high.saturating_sub(1);

    // With vertical context, the bottom row's spans become one, laid out
    // last: its lowest chroma row is repeated there, as at the frame's edge.
    let mut spans = spans.to_vec();
    if context_y {
        let (bottom, mut rest): (Vec<Span>, Vec<Span>) =
            spans.into_iter().partition(|s| s.row == last_row);
        if let (Some(first), Some(end)) = (bottom.first(), bottom.last()) {
            rest.push(Span {
                column: first.column,
                row: last_row,
                len: end.column + end.len - first.column,
            });
        }
        spans = rest;
    }

    // Each span's extent in the frame, neighbours included.
    let extent = |s: &Span| {
        let left = usize::from(context_x && s.column > 0);
        let right = usize::from(context_x && s.column + s.len < frame.mcus_wide);
        let above = usize::from(context_y && s.row > 0);
        let below = usize::from(context_y && s.row < last_row);
        (left, s.len + left + right, above, 1 + above + below)
    };
    let mcus_wide = spans.iter().map(|s| extent(s).1).max()?;
    let mcus_high: usize = spans.iter().map(|s| extent(s).3).sum();
    if mcus_wide * mcu_w > MAX_SIDE || mcus_high * mcu_h > MAX_SIDE {
        return None;
    }
    let mut runs = Vec::new();
    let mut table = Vec::with_capacity(8 + 10 * spans.len());
    for v in [mcu_w, mcu_h, spans.len(), 0] {
        table.extend_from_slice(&(v as u16).to_be_bytes());
    }
    let mut row = 0;
    for s in &spans {
        let (left, wide, above, high) = extent(s);
        let at_right = s.column + s.len == frame.mcus_wide;
        // Ending at the frame's right edge: at the layout's too.
        let column = if context_x && at_right {
            mcus_wide - wide
        } else {
            0
        };
        for dy in 0..high {
            runs.push(Run {
                row: row + dy,
                column,
                from_x: s.column - left,
                from_y: s.row + dy - above,
                len: wide,
            });
        }
        for v in [s.column, s.row, s.len, column + left, row + above] {
            table.extend_from_slice(&(v as u16).to_be_bytes());
        }
        row += high;
    }
    let cut = |cut: usize, applies: bool| if applies { cut } else { 0 };
    let right_edge = spans.iter().any(|s| s.column + s.len == frame.mcus_wide);
    let bottom_edge = spans.last().is_some_and(|s| s.row == last_row);
    let layout = Layout {
        mcus_wide,
        mcus_high,
        width: (mcus_wide * mcu_w - cut(cut_x, context_x && right_edge)) as u32,
        height: (mcus_high * mcu_h - cut(cut_y, context_y && bottom_edge)) as u32,
        runs,
    };
    Some((layout, table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::screen_jpeg;
    use crate::video::Frame;

    fn frame(seq: u64, jpeg: Vec<u8>, width: u32, height: u32) -> SharedFrame {
        let mut f = Frame::new(jpeg.into(), width, height, Instant::now());
        f.seq = seq;
        Rc::new(f)
    }

    /// RGB pixels as jpeg-decoder sees them.
    fn rgb(jpeg: &[u8]) -> (Vec<u8>, usize, usize) {
        let mut d = jpeg_decoder::Decoder::new(jpeg);
        let pixels = d.decode().expect("kv's JPEG decodes");
        let info = d.info().unwrap();
        (pixels, usize::from(info.width), usize::from(info.height))
    }

    /// What a page does with a kind 2 update: draws each span's rectangle
    /// of the decoded JPEG onto `picture`, clipped to it.
    fn apply(picture: &mut [u8], width: usize, height: usize, update: &Update) {
        let s = &update.spans;
        let word = |i: usize| usize::from(u16::from_be_bytes([s[2 * i], s[2 * i + 1]]));
        let (mcu_w, mcu_h, n) = (word(0), word(1), word(2));
        assert_eq!(word(3), 0);
        assert_eq!(s.len(), 8 + 10 * n);
        let (patch, pw, ph) = rgb(update.jpeg());
        for i in 0..n {
            let f = |k: usize| word(4 + 5 * i + k);
            let (col, row, len, src_col, src_row) = (f(0), f(1), f(2), f(3), f(4));
            for dy in 0..mcu_h {
                for dx in 0..len * mcu_w {
                    let (x, y) = (col * mcu_w + dx, row * mcu_h + dy);
                    let (sx, sy) = (src_col * mcu_w + dx, src_row * mcu_h + dy);
                    if x >= width || y >= height {
                        continue;
                    }
                    assert!(sx < pw && sy < ph, "span {i} reads outside the patch");
                    let (to, from) = ((y * width + x) * 3, (sy * pw + sx) * 3);
                    picture[to..to + 3].copy_from_slice(&patch[from..from + 3]);
                }
            }
        }
    }

    /// The largest difference between two RGB pictures.
    fn largest_difference(a: &[u8], b: &[u8]) -> u8 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn test_changed_area_applied_gives_the_new_frame() {
        // Sizes with and without partial MCUs; every sampling kv meets.
        for (w, h) in [(256u16, 128u16), (203, 117)] {
            for sampling in [(1, 1), (2, 1), (2, 2)] {
                let old = screen_jpeg(w, h, sampling, None);
                let mark = Some((40, 33, 21, 9));
                let new = screen_jpeg(w, h, sampling, mark);
                let edge = Some((u32::from(w) - 12, u32::from(h) - 7, 12, 7));
                let corner = screen_jpeg(w, h, sampling, edge);
                let mut updates = Updates::default();
                let size = (u32::from(w), u32::from(h));
                updates.on_frame(&frame(1, old.clone(), size.0, size.1));
                let first = updates.update_for(None, Quality::Source).unwrap();
                assert_eq!(first.kind, KIND_WHOLE);
                assert_eq!(first.jpeg(), &old[..], "the captured bytes themselves");
                let (mut picture, pw, ph) = rgb(&old);
                for (seq, jpeg) in [(2, &new), (3, &corner)] {
                    updates.on_frame(&frame(seq, jpeg.clone(), size.0, size.1));
                    let update = updates.update_for(Some(seq - 1), Quality::Source).unwrap();
                    let case = format!("{w}x{h} {sampling:?} frame {seq}");
                    assert_eq!(update.kind, KIND_CHANGES, "{case}");
                    assert!(
                        update.body_len() < jpeg.len(),
                        "{case}: {} bytes",
                        update.body_len()
                    );
                    apply(&mut picture, pw, ph, &update);
                    let (want, _, _) = rgb(jpeg);
                    // jpeg-decoder's colour conversion rounds by one here
                    // and there (coeff tests); the samples are the same.
                    let diff = largest_difference(&picture, &want);
                    assert!(diff <= 1, "{case}: picture off by {diff}");
                }
            }
        }
    }

    #[test]
    fn test_still_frames_are_unchanged_and_shared() {
        let jpeg = screen_jpeg(128, 64, (2, 1), None);
        let mut updates = Updates::default();
        updates.on_frame(&frame(1, jpeg.clone(), 128, 64));
        updates.update_for(None, Quality::Source).unwrap();
        assert!(
            updates.update_for(Some(1), Quality::Source).is_none(),
            "up to date"
        );
        updates.on_frame(&frame(2, jpeg.clone(), 128, 64));
        let a = updates.update_for(Some(1), Quality::Source).unwrap();
        assert_eq!((a.kind, a.seq, a.body_len()), (KIND_UNCHANGED, 2, 0));
        let b = updates.update_for(Some(1), Quality::Source).unwrap();
        assert!(
            Rc::ptr_eq(&a, &b),
            "viewers at the same state share one update"
        );
    }

    #[test]
    fn test_most_changed_goes_whole() {
        let mut updates = Updates::default();
        let old = screen_jpeg(128, 64, (2, 1), None);
        let new = screen_jpeg(128, 64, (2, 1), Some((0, 0, 128, 40)));
        updates.on_frame(&frame(1, old, 128, 64));
        updates.update_for(None, Quality::Source);
        updates.on_frame(&frame(2, new.clone(), 128, 64));
        let update = updates.update_for(Some(1), Quality::Source).unwrap();
        assert_eq!(update.kind, KIND_WHOLE);
        assert_eq!(update.jpeg(), &new[..]);
    }

    #[test]
    fn test_lower_quality_is_smaller_and_decodes() {
        let jpeg = screen_jpeg(256, 128, (2, 1), None);
        let mut updates = Updates::default();
        updates.on_frame(&frame(1, jpeg.clone(), 256, 128));
        let low = updates.update_for(None, Quality::Level(30)).unwrap();
        assert_eq!(low.kind, KIND_WHOLE);
        assert!(
            low.body_len() * 2 < jpeg.len(),
            "{} of {}",
            low.body_len(),
            jpeg.len()
        );
        let (_, w, h) = rgb(low.jpeg());
        assert_eq!((w, h), (256, 128));
        // Asking for more than the source has gives the source.
        let high = updates.update_for(None, Quality::Level(100)).unwrap();
        assert_eq!(high.jpeg(), &jpeg[..]);
    }

    #[test]
    fn test_undecodable_frames_go_whole_then_changes_resume() {
        let good = screen_jpeg(64, 32, (2, 1), None);
        let mut updates = Updates::default();
        updates.on_frame(&frame(1, vec![0xFF, 0xD8, 0xFF, 0xD9], 64, 32));
        let broken = updates.update_for(None, Quality::Level(40)).unwrap();
        assert_eq!(
            (broken.kind, broken.jpeg()),
            (KIND_WHOLE, &[0xFF, 0xD8, 0xFF, 0xD9][..])
        );
        updates.on_frame(&frame(2, good.clone(), 64, 32));
        let next = updates.update_for(Some(1), Quality::Source).unwrap();
        assert_eq!(next.kind, KIND_WHOLE, "a new picture starts whole");
        updates.on_frame(&frame(3, good, 64, 32));
        let still = updates.update_for(Some(2), Quality::Source).unwrap();
        assert_eq!(still.kind, KIND_UNCHANGED);
    }

    #[test]
    fn test_mangled_frames_never_panic() {
        // What a failing dongle may send: bytes flipped, cut short, sizes
        // changing under the picture; every update still builds or the
        // frame goes whole.
        let mut rand = crate::testutil::xorshift(13);
        let good = [
            screen_jpeg(96, 48, (2, 1), None),
            screen_jpeg(96, 48, (2, 1), Some((10, 10, 30, 8))),
            screen_jpeg(80, 40, (2, 2), None),
        ];
        let mut updates = Updates::default();
        let mut base = None;
        for seq in 1..400 {
            let mut jpeg = good[(rand() % 3) as usize].clone();
            match rand() % 4 {
                0 => {
                    let at = 100 + (rand() as usize) % (jpeg.len() - 100);
                    jpeg[at] ^= 1 << (rand() % 8);
                }
                1 => jpeg.truncate((rand() as usize) % jpeg.len()),
                _ => {}
            }
            updates.on_frame(&frame(seq, jpeg, 96, 48));
            let quality = [Quality::Source, Quality::Level(30)][(rand() % 2) as usize];
            if let Some(update) = updates.update_for(base, quality) {
                assert!(update.kind == KIND_UNCHANGED || !update.jpeg().is_empty());
                base = Some(update.seq);
            }
        }
    }

    /// Steps until the work in hand is done: the frame it was for, and
    /// how many steps it took.
    fn finish(updates: &mut Updates) -> (Option<u64>, usize) {
        let mut steps = 1;
        loop {
            if let Some(frame) = updates.step() {
                return (Some(frame.seq), steps);
            }
            assert!(updates.is_busy(), "stopped without a frame");
            steps += 1;
        }
    }

    #[test]
    fn test_large_frame_decodes_and_folds_a_slice_at_a_time() {
        // 1280x640 4:2:2: 80 x 80 MCUs, 7 slices of MCUS_PER_STEP.
        let (w, h) = (1280, 640);
        let old = screen_jpeg(w, h, (2, 1), None);
        let new = screen_jpeg(w, h, (2, 1), Some((600, 300, 40, 20)));
        let mut updates = Updates::default();
        updates.on_frame(&frame(1, old, 1280, 640));
        assert!(
            updates.update_for(None, Quality::Source).is_none(),
            "first slice only"
        );
        assert!(updates.is_busy());
        let (seq, steps) = finish(&mut updates);
        assert_eq!(seq, Some(1));
        assert!(steps >= 4, "{steps} more slices");
        assert!(!updates.is_busy());
        assert_eq!(
            updates.update_for(None, Quality::Source).unwrap().kind,
            KIND_WHOLE
        );
        // Meanwhile a viewer at frame 1 has nothing new; when frame 2 is
        // folded in, its change.
        updates.on_frame(&frame(2, new, 1280, 640));
        assert!(updates.update_for(Some(1), Quality::Source).is_none());
        let (seq, steps) = finish(&mut updates);
        assert_eq!(seq, Some(2));
        assert_eq!(
            steps, 12,
            "decoded in 7 slices, then folded in 7, one turn shared"
        );
        let update = updates.update_for(Some(1), Quality::Source).unwrap();
        assert_eq!((update.kind, update.seq), (KIND_CHANGES, 2));
    }

    #[test]
    fn test_lower_quality_whole_frame_encodes_a_slice_at_a_time() {
        // 1280x640 4:2:2 at quality 40: 7 slices of MCUS_PER_STEP.
        let jpeg = screen_jpeg(1280, 640, (2, 1), None);
        let mut updates = Updates::default();
        updates.on_frame(&frame(1, jpeg.clone(), 1280, 640));
        assert!(updates.update_for(None, Quality::Source).is_none());
        finish(&mut updates);
        assert!(
            updates.update_for(None, Quality::Level(40)).is_none(),
            "first slice"
        );
        assert!(updates.is_busy());
        // A newer frame waits: the picture does not change under the encoder.
        updates.on_frame(&frame(2, jpeg.clone(), 1280, 640));
        assert!(updates.update_for(Some(1), Quality::Source).is_none());
        let (seq, steps) = finish(&mut updates);
        assert_eq!(seq, Some(1), "built");
        assert!(steps >= 4, "{steps} more slices");
        let low = updates
            .update_for(None, Quality::Level(40))
            .expect("the built one first");
        assert_eq!((low.kind, low.seq), (KIND_WHOLE, 1));
        assert!(low.body_len() * 2 < jpeg.len());
        let (_, w, h) = rgb(low.jpeg());
        assert_eq!((w, h), (1280, 640));
    }

    #[test]
    fn test_spans_merge_close_runs() {
        let row = |bits: &str| bits.chars().map(|c| c == '1').collect::<Vec<bool>>();
        let changed = [row("1100010000000001"), row("0000000000000000")].concat();
        let spans = spans(&changed, 16);
        let want = [
            Span {
                column: 0,
                row: 0,
                len: 6,
            },
            Span {
                column: 15,
                row: 0,
                len: 1,
            },
        ];
        assert_eq!(spans, want);
    }
}

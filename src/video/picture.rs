//! The picture a viewer that is up to date has, as quantised JPEG
//! coefficients, and which frame last changed each of its MCUs: what
//! change-only updates are computed from.
//!
//! Each decoded frame is compared with the picture, not with the frame before
//! it: an MCU counts as changed when one of its blocks moved by more than
//! `NOISE_ENERGY` from the picture's, and only then are the picture's blocks
//! of that MCU (all of them, so what is sent is exact) replaced. So the
//! pixel noise of an analogue source costs nothing and can never add up to
//! drift. To end with the captured picture exactly, one MCU row every
//! `REFRESH_EVERY` frames is compared with no tolerance at all.
//!
//! A viewer whose picture is the one of frame `base` needs exactly the MCUs
//! changed by a frame after `base` (`changed_since`); viewers at the same
//! `base` need the same ones.

use std::ops::Range;

use super::coeff::{Block, Coefficients, QuantTable};

/// How much a block may change and still count as unchanged: the energy of
/// the difference, pixel levels squared summed over its 64 pixels (the DCT
/// keeps energy, so it is summed over the dequantised coefficients). Two
/// 1080p frames of a still desktop with ±2 levels of noise on every pixel,
/// encoded 4:2:2 q90 (bench/workloads.py), differ by at most 3,602 in a
/// luma block (99th percentile 1,701; quantisation turns small noise into
/// whole steps of up to 20); 6,400 is one pixel changed by 80 levels or 16
/// by 20, while a typed character, a cursor or a pointer is 100,000 and up.
pub const NOISE_ENERGY: u64 = 6400;
/// Frames between two exact comparisons of the next MCU row: a 1080p 4:2:2
/// picture (135 rows) is compared whole every 36 s at 30 fps; under noise
/// every row compared exactly is sent (bench/README.md: ~55 kB/s at 1080p).
pub const REFRESH_EVERY: u64 = 8;

pub struct Picture {
    blocks: Coefficients,
    /// Per MCU, row by row: the sequence of the frame that last changed it.
    changed: Vec<u64>,
    /// The frame this picture began with: a viewer at an older one (or at
    /// none) needs a whole frame.
    start: u64,
    /// The newest frame folded in.
    seq: u64,
    /// Frames folded in, for the exact row's turn.
    folds: u64,
    /// Per MCU: a block of it was kept though the frame's differed (within
    /// the tolerance), so the picture is not yet the captured one there.
    inexact: Vec<bool>,
}

/// A frame being folded into the picture a few MCU rows at a time
/// (`Picture::fold_rows`), so that a large one never holds the loop long.
pub struct Fold {
    seq: u64,
    /// The MCU row compared with no tolerance this time, if any.
    exact_row: Option<usize>,
    /// MCU rows compared so far.
    compared: usize,
    /// MCU rows whose blocks are replaced where they moved.
    settled: usize,
    /// Per MCU: a block moved beyond the tolerance (any at all in the exact row).
    moved: Vec<bool>,
    /// Per MCU: a block differs at all, however little.
    touched: Vec<bool>,
}

impl Picture {
    /// A picture that begins with frame `seq`.
    pub fn new(seq: u64, blocks: Coefficients) -> Picture {
        let mcus = blocks.mcus_wide * blocks.mcus_high;
        Picture {
            blocks,
            changed: vec![seq; mcus],
            start: seq,
            seq,
            folds: 0,
            inexact: vec![false; mcus],
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn start(&self) -> u64 {
        self.start
    }

    pub fn blocks(&self) -> &Coefficients {
        &self.blocks
    }

    /// Whether the picture is the last frame folded in, block for block.
    pub fn is_exact(&self) -> bool {
        !self.inexact.contains(&true)
    }

    /// Frame `seq` is byte for byte the last one folded in, and the picture
    /// is exactly that: nothing to compare.
    pub fn repeat(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Folds in frame `seq`'s coefficients at once (`begin_fold` and
    /// `fold_rows` do it a few rows at a time). False when the frame cannot
    /// be compared with the picture (another size, sampling or
    /// quantisation): the caller begins a new picture with it.
    pub fn fold(&mut self, seq: u64, frame: &Coefficients) -> bool {
        let Some(mut fold) = self.begin_fold(seq, frame) else {
            return false;
        };
        while !self.fold_rows(&mut fold, frame, usize::MAX) {}
        true
    }

    /// Starts folding in frame `seq`; `None` when it cannot be compared with
    /// the picture (see `fold`). Until `fold_rows` says it is done, the
    /// picture is part old, part new: nothing may be built from it.
    pub fn begin_fold(&mut self, seq: u64, frame: &Coefficients) -> Option<Fold> {
        if !same_shape(&self.blocks, frame) {
            return None;
        }
        let exact_row = self
            .folds
            .is_multiple_of(REFRESH_EVERY)
            .then(|| (self.folds / REFRESH_EVERY) as usize % self.blocks.mcus_high.max(1));
        self.folds += 1;
        let mcus = self.changed.len();
        Some(Fold {
            seq,
            exact_row,
            compared: 0,
            settled: 0,
            moved: vec![false; mcus],
            touched: vec![false; mcus],
        })
    }

    /// Compares up to `rows` more MCU rows of `frame` with the picture and
    /// settles those whose neighbours are compared; true once the whole frame
    /// is folded in.
    pub fn fold_rows(&mut self, fold: &mut Fold, frame: &Coefficients, rows: usize) -> bool {
        let high = self.blocks.mcus_high;
        let to = fold.compared.saturating_add(rows.max(1)).min(high);
        self.compare(fold, frame, fold.compared..to);
        fold.compared = to;
        // A row settles once the row below it is compared: a small change
        // there beside a real one in this row moves with it (`settle`).
        let settle_to = if to == high { high } else { to - 1 };
        self.settle(fold, frame, fold.settled..settle_to);
        fold.settled = fold.settled.max(settle_to);
        if fold.settled < high {
            return false;
        }
        self.seq = fold.seq;
        true
    }

    /// Marks which MCUs of `rows` differ at all (`touched`) and which moved
    /// beyond the tolerance, or at all in the exact row (`moved`).
    fn compare(&self, fold: &mut Fold, frame: &Coefficients, rows: Range<usize>) {
        let mcus_wide = self.blocks.mcus_wide;
        for (mine, new) in self.blocks.components.iter().zip(&frame.components) {
            let (h, v) = (usize::from(mine.h), usize::from(mine.v));
            let block_rows = mine.blocks.chunks_exact(mine.blocks_wide);
            let new_rows = new.blocks.chunks_exact(new.blocks_wide);
            let pairs = block_rows.zip(new_rows).enumerate();
            for (by, (row, new_row)) in pairs.skip(rows.start * v).take(rows.len() * v) {
                let my = by / v;
                let exact = fold.exact_row == Some(my);
                for (bx, (block, new_block)) in row.iter().zip(new_row).enumerate() {
                    let mcu = my * mcus_wide + bx / h;
                    if block == new_block || mcu >= fold.moved.len() {
                        continue;
                    }
                    fold.touched[mcu] = true;
                    if exact || beyond_noise(block, new_block, &mine.quant) {
                        fold.moved[mcu] = true;
                    }
                }
            }
        }
    }

    /// Replaces the picture's blocks of the MCUs of `rows` that moved: all
    /// of them, in every component, so an MCU that is sent goes out exact.
    /// Otherwise a block that moved by one step beside one that moved far
    /// stays behind, drawn stale where the picture should be the captured
    /// one (tests/vm 32-video-changes at 1366x768: an MCU's Cb moved one
    /// step, its Y and Cr far; 125 pixels stayed off by up to 7 until the
    /// exact row came round).
    fn settle(&mut self, fold: &Fold, frame: &Coefficients, rows: Range<usize>) {
        if rows.is_empty() {
            return;
        }
        let (mcus_wide, mcus_high) = (self.blocks.mcus_wide, self.blocks.mcus_high);
        if let Some(row) = fold.exact_row.filter(|r| rows.contains(r)) {
            let exact = self.inexact.chunks_mut(mcus_wide).nth(row);
            exact.into_iter().flatten().for_each(|mcu| *mcu = false);
        }
        // Beside a real change, a small one is its edge (a faint chroma
        // fringe of the same stroke, not noise): it moves too.
        let first = rows.start * mcus_wide;
        let moves: Vec<bool> = (first..(rows.end * mcus_wide).min(fold.moved.len()))
            .map(|mcu| {
                let (x, y) = (mcu % mcus_wide, mcu / mcus_wide);
                let near = || {
                    (y.saturating_sub(1)..=(y + 1).min(mcus_high - 1))
                        .flat_map(|ny| {
                            (x.saturating_sub(1)..=(x + 1).min(mcus_wide - 1))
                                .map(move |nx| (nx, ny))
                        })
                        .any(|(nx, ny)| fold.moved[ny * mcus_wide + nx])
                };
                fold.moved[mcu] || (fold.touched[mcu] && near())
            })
            .collect();
        for (mine, new) in self.blocks.components.iter_mut().zip(&frame.components) {
            let (h, v) = (usize::from(mine.h), usize::from(mine.v));
            let block_rows = mine.blocks.chunks_exact_mut(mine.blocks_wide);
            let new_rows = new.blocks.chunks_exact(new.blocks_wide);
            let pairs = block_rows.zip(new_rows).enumerate();
            for (by, (row, new_row)) in pairs.skip(rows.start * v).take(rows.len() * v) {
                for (bx, (block, new_block)) in row.iter_mut().zip(new_row).enumerate() {
                    let mcu = (by / v) * mcus_wide + bx / h;
                    if block == new_block {
                        continue;
                    }
                    if moves.get(mcu - first) == Some(&true) {
                        *block = *new_block;
                    } else if let Some(inexact) = self.inexact.get_mut(mcu) {
                        *inexact = true;
                    }
                }
            }
        }
        for (i, _) in moves.iter().enumerate().filter(|(_, m)| **m) {
            self.changed[first + i] = fold.seq;
            // Every block of it is the frame's now.
            self.inexact[first + i] = false;
        }
    }

    /// Which MCUs changed after frame `base`, row by row (`mcus_wide` a
    /// row), or `None` when `base` is older than the picture.
    pub fn changed_since(&self, base: u64) -> Option<Vec<bool>> {
        (base >= self.start).then(|| self.changed.iter().map(|&seq| seq > base).collect())
    }
}

/// Whether a block moved by more than `NOISE_ENERGY`.
fn beyond_noise(a: &Block, b: &Block, quant: &QuantTable) -> bool {
    let mut energy = 0u64;
    for ((x, y), q) in a.iter().zip(b).zip(&quant.0) {
        let d = (i64::from(*x) - i64::from(*y)) * i64::from(*q);
        energy += (d * d) as u64;
    }
    energy > NOISE_ENERGY
}

/// Same size, MCU grid, components, sampling and quantisation.
fn same_shape(a: &Coefficients, b: &Coefficients) -> bool {
    a.width == b.width
        && a.height == b.height
        && a.mcus_wide == b.mcus_wide
        && a.mcus_high == b.mcus_high
        && a.components.len() == b.components.len()
        && a.components.iter().zip(&b.components).all(|(x, y)| {
            (x.id, x.h, x.v, x.quant, x.blocks_wide, x.blocks_high)
                == (y.id, y.h, y.v, y.quant, y.blocks_wide, y.blocks_high)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::screen_jpeg;
    use crate::video::coeff::{decode, Limits};

    /// A 4:2:2 frame of 8 x 4 MCUs.
    fn frame() -> Coefficients {
        decode(&screen_jpeg(128, 32, (2, 1), None), Limits::default()).unwrap()
    }

    /// Nudges one AC coefficient of MCU (mx, my)'s first luma block.
    fn nudged(mut f: Coefficients, (mx, my): (usize, usize), by: i16) -> Coefficients {
        let luma = &mut f.components[0];
        let at = my * luma.blocks_wide + mx * usize::from(luma.h);
        luma.blocks[at][5] += by;
        f
    }

    fn changed(p: &Picture, base: u64) -> Vec<usize> {
        let map = p.changed_since(base).unwrap();
        map.iter()
            .enumerate()
            .filter(|(_, c)| **c)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn test_changes_are_per_mcu_and_since_a_base() {
        let mut p = Picture::new(1, frame());
        assert!(p.fold(2, &nudged(frame(), (3, 1), 200)));
        assert!(p.fold(3, &nudged(nudged(frame(), (3, 1), 200), (0, 3), -150)));
        assert_eq!(changed(&p, 1), [8 + 3, 24]);
        assert_eq!(changed(&p, 2), [24]);
        assert!(changed(&p, 3).is_empty());
        assert_eq!(p.changed_since(0), None, "older than the picture: whole");
    }

    #[test]
    fn test_jitter_within_tolerance_then_refreshed_exactly() {
        let mut p = Picture::new(1, frame());
        assert!(p.is_exact());
        // One step of noise in row 2: unchanged, but not exact any more.
        let noisy = || nudged(frame(), (6, 2), 1);
        let mut seq = 2;
        assert!(p.fold(seq, &noisy()));
        assert!(changed(&p, 1).is_empty(), "within the tolerance");
        assert!(!p.is_exact());
        // The exact row comes round to row 2 within 4 rows x REFRESH_EVERY.
        while changed(&p, 1).is_empty() {
            seq += 1;
            assert!(seq < 2 + 4 * REFRESH_EVERY + 1, "never refreshed");
            assert!(p.fold(seq, &noisy()));
        }
        assert_eq!(changed(&p, 1), [16 + 6]);
        assert_eq!(p.blocks(), &noisy(), "the picture is the captured frame");
        assert!(p.is_exact());
    }

    #[test]
    fn test_moved_mcu_takes_every_block_of_the_frame() {
        let mut p = Picture::new(1, frame());
        // MCU (1, 2): its second luma block moves far, its Cb block by one
        // step (within the tolerance); MCU (3, 1): Cr by one step only (row 0
        // is the first fold's exact row).
        let mut f = frame();
        f.components[0].blocks[2 * 16 + 3][0] += 40;
        f.components[1].blocks[2 * 8 + 1][5] += 1;
        f.components[2].blocks[8 + 3][0] += 1;
        assert!(p.fold(2, &f));
        assert_eq!(changed(&p, 1), [2 * 8 + 1]);
        let cb = &p.blocks().components[1].blocks;
        assert_eq!(
            cb[2 * 8 + 1],
            f.components[1].blocks[2 * 8 + 1],
            "sent exact"
        );
        // Within the tolerance alone: kept until the exact row comes round.
        let cr = &p.blocks().components[2].blocks;
        assert_eq!(cr[8 + 3], frame().components[2].blocks[8 + 3]);
        assert!(!p.is_exact());
    }

    #[test]
    fn test_folding_a_row_at_a_time_is_folding_at_once() {
        let (mut whole, mut sliced) = (Picture::new(1, frame()), Picture::new(1, frame()));
        for seq in 2..2 + 3 * REFRESH_EVERY {
            // A far move in row 1 with a one-step fringe below it in row 2
            // (it moves with it across the slice's edge), and noise alone
            // in row 3.
            let (by, step) = (seq as i16 * 100, if seq % 2 == 0 { 1 } else { -1 });
            let f = nudged(nudged(nudged(frame(), (2, 1), by), (2, 2), step), (6, 3), 1);
            assert!(whole.fold(seq, &f));
            let mut fold = sliced.begin_fold(seq, &f).unwrap();
            let mut slices = 1;
            while !sliced.fold_rows(&mut fold, &f, 1) {
                slices += 1;
            }
            assert_eq!(slices, 4, "one MCU row a slice");
            assert_eq!(sliced.seq(), seq);
            assert_eq!(changed(&sliced, seq - 1), changed(&whole, seq - 1));
            assert_eq!(changed(&sliced, 1), changed(&whole, 1));
            assert!(
                changed(&whole, seq - 1).contains(&(2 * 8 + 2)),
                "the fringe moved"
            );
            assert!(sliced.blocks() == whole.blocks() && sliced.is_exact() == whole.is_exact());
        }
    }

    #[test]
    fn test_other_shape_is_refused() {
        let mut p = Picture::new(1, frame());
        let other = decode(&screen_jpeg(128, 48, (2, 1), None), Limits::default()).unwrap();
        assert!(!p.fold(2, &other));
        assert_eq!(p.seq(), 1);
    }
}

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

    /// Folds in frame `seq`'s coefficients. False when the frame cannot be
    /// compared with the picture (another size, sampling or quantisation):
    /// the caller begins a new picture with it.
    pub fn fold(&mut self, seq: u64, frame: &Coefficients) -> bool {
        if !same_shape(&self.blocks, frame) {
            return false;
        }
        let exact_row = self
            .folds
            .is_multiple_of(REFRESH_EVERY)
            .then(|| (self.folds / REFRESH_EVERY) as usize % self.blocks.mcus_high.max(1));
        self.folds += 1;
        self.seq = seq;
        let mcus_wide = self.blocks.mcus_wide;
        if let Some(row) = exact_row {
            let exact = self.inexact.chunks_mut(mcus_wide).nth(row);
            exact.into_iter().flatten().for_each(|mcu| *mcu = false);
        }
        // An MCU changed when one of its blocks moved beyond the tolerance;
        // then all its blocks, in every component, become the frame's, so an
        // MCU that is sent goes out exact. Otherwise a block that moved by one
        // step beside one that moved far stays behind, drawn stale where the
        // picture should be the captured one (tests/vm 32-video-changes at
        // 1366x768: an MCU's Cb moved one step, its Y and Cr far; 125 pixels
        // stayed off by up to 7 until the exact row came round).
        let mut moved = vec![false; self.changed.len()];
        // MCUs with any block that differs at all, however little.
        let mut touched = vec![false; self.changed.len()];
        for (mine, new) in self.blocks.components.iter().zip(&frame.components) {
            let (h, v) = (usize::from(mine.h), usize::from(mine.v));
            let rows = mine.blocks.chunks_exact(mine.blocks_wide);
            for (by, (row, new_row)) in rows
                .zip(new.blocks.chunks_exact(new.blocks_wide))
                .enumerate()
            {
                let my = by / v;
                let exact = exact_row == Some(my);
                for (bx, (block, new_block)) in row.iter().zip(new_row).enumerate() {
                    let mcu = my * mcus_wide + bx / h;
                    if block == new_block || mcu >= moved.len() {
                        continue;
                    }
                    touched[mcu] = true;
                    if exact || beyond_noise(block, new_block, &mine.quant) {
                        moved[mcu] = true;
                    }
                }
            }
        }
        // Beside a real change, a small one is its edge (a faint chroma
        // fringe of the same stroke, not noise): it moves too.
        let mcus_high = self.blocks.mcus_high;
        let was = moved.clone();
        for (mcu, _) in touched.iter().enumerate().filter(|(_, t)| **t) {
            let (x, y) = (mcu % mcus_wide, mcu / mcus_wide);
            let near = (y.saturating_sub(1)..=(y + 1).min(mcus_high - 1))
                .flat_map(|ny| {
                    (x.saturating_sub(1)..=(x + 1).min(mcus_wide - 1)).map(move |nx| (nx, ny))
                })
                .any(|(nx, ny)| was[ny * mcus_wide + nx]);
            moved[mcu] |= near;
        }
        for (mine, new) in self.blocks.components.iter_mut().zip(&frame.components) {
            let (h, v) = (usize::from(mine.h), usize::from(mine.v));
            let rows = mine.blocks.chunks_exact_mut(mine.blocks_wide);
            for (by, (row, new_row)) in rows
                .zip(new.blocks.chunks_exact(new.blocks_wide))
                .enumerate()
            {
                for (bx, (block, new_block)) in row.iter_mut().zip(new_row).enumerate() {
                    let mcu = (by / v) * mcus_wide + bx / h;
                    if block == new_block {
                        continue;
                    }
                    if moved.get(mcu) == Some(&true) {
                        *block = *new_block;
                    } else if let Some(inexact) = self.inexact.get_mut(mcu) {
                        *inexact = true;
                    }
                }
            }
        }
        for (mcu, _) in moved.iter().enumerate().filter(|(_, m)| **m) {
            if let Some(at) = self.changed.get_mut(mcu) {
                *at = seq;
            }
            // Every block of it is the frame's now.
            if let Some(inexact) = self.inexact.get_mut(mcu) {
                *inexact = false;
            }
        }
        true
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
    fn test_other_shape_is_refused() {
        let mut p = Picture::new(1, frame());
        let other = decode(&screen_jpeg(128, 48, (2, 1), None), Limits::default()).unwrap();
        assert!(!p.fold(2, &other));
        assert_eq!(p.seq(), 1);
    }
}

//! The picture a viewer that is up to date has, as quantised JPEG
//! coefficients, and which frame last changed each of its MCUs: what
//! change-only updates are computed from.
//!
//! Each decoded frame is compared with the picture, not with the frame before
//! it: an MCU counts as changed when a coefficient of one of its blocks moved
//! by more than `TOLERANCE` from the picture's, and only then are the
//! picture's blocks of that MCU (all of them, so what is sent is exact)
//! replaced. So the one-step jitter of a noisy source costs nothing and can
//! never add up to drift. To end with the captured picture exactly, one MCU
//! row every `REFRESH_EVERY` frames is compared with no tolerance at all.
//!
//! A viewer whose picture is the one of frame `base` needs exactly the MCUs
//! changed by a frame after `base` (`changed_since`); viewers at the same
//! `base` need the same ones.

use super::coeff::{blocks_differ, Coefficients};

/// How far a coefficient may move (in quantisation steps) and still count
/// as unchanged.
pub const TOLERANCE: u16 = 1;
/// Frames between two exact comparisons of the next MCU row: a 1080p 4:2:2
/// picture (135 rows) is compared whole every 18 s at 30 fps.
pub const REFRESH_EVERY: u64 = 4;

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

    /// Folds in frame `seq`'s coefficients. `Err` gives them back when the
    /// frame cannot be compared with the picture (another size, sampling or
    /// quantisation): the caller begins a new picture with it.
    pub fn fold(&mut self, seq: u64, frame: Coefficients) -> Result<(), Coefficients> {
        if !same_shape(&self.blocks, &frame) {
            return Err(frame);
        }
        let exact_row = self
            .folds
            .is_multiple_of(REFRESH_EVERY)
            .then(|| (self.folds / REFRESH_EVERY) as usize % self.blocks.mcus_high.max(1));
        self.folds += 1;
        self.seq = seq;
        let mcus_wide = self.blocks.mcus_wide;
        // An MCU changed when one of its blocks moved beyond the tolerance;
        // then all its blocks, in every component, become the frame's. An MCU
        // that is sent goes out exact: a block that moved by one step next to
        // one that moved far would otherwise stay behind, drawn stale where the
        // picture is supposed to be the captured one (tests/vm 32-video-changes,
        // 1366x768: Cb of an MCU the change touched moved by one step, 125 pixels
        // stayed off by up to 7 until the refresh row came round).
        let mut moved = vec![false; self.changed.len()];
        for (mine, new) in self.blocks.components.iter().zip(&frame.components) {
            let (h, v) = (usize::from(mine.h), usize::from(mine.v));
            let rows = mine.blocks.chunks_exact(mine.blocks_wide);
            for (by, (row, new_row)) in rows
                .zip(new.blocks.chunks_exact(new.blocks_wide))
                .enumerate()
            {
                let my = by / v;
                let tolerance = if exact_row == Some(my) { 0 } else { TOLERANCE };
                for (bx, (block, new_block)) in row.iter().zip(new_row).enumerate() {
                    if block != new_block && blocks_differ(block, new_block, tolerance) {
                        if let Some(m) = moved.get_mut(my * mcus_wide + bx / h) {
                            *m = true;
                        }
                    }
                }
            }
        }
        for (mine, new) in self.blocks.components.iter_mut().zip(&frame.components) {
            let (h, v) = (usize::from(mine.h), usize::from(mine.v));
            let rows = mine.blocks.chunks_exact_mut(mine.blocks_wide);
            for (by, (row, new_row)) in rows
                .zip(new.blocks.chunks_exact(new.blocks_wide))
                .enumerate()
            {
                for (bx, (block, new_block)) in row.iter_mut().zip(new_row).enumerate() {
                    if moved.get((by / v) * mcus_wide + bx / h) == Some(&true) {
                        *block = *new_block;
                    }
                }
            }
        }
        for (at, _) in self.changed.iter_mut().zip(&moved).filter(|(_, m)| **m) {
            *at = seq;
        }
        Ok(())
    }

    /// Which MCUs changed after frame `base`, row by row (`mcus_wide` a
    /// row), or `None` when `base` is older than the picture.
    pub fn changed_since(&self, base: u64) -> Option<Vec<bool>> {
        (base >= self.start).then(|| self.changed.iter().map(|&seq| seq > base).collect())
    }
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

    #[test]
    fn test_fold_moved_mcu_takes_every_block_of_the_frame() {
        let blocks = decode(&screen_jpeg(64, 32, (2, 1), None), Limits::default()).unwrap();
        let mut picture = Picture::new(1, blocks.clone());
        let mut frame = blocks.clone();
        // MCU (1, 2): its second luma block moves far, its Cb block by one
        // step (within TOLERANCE); MCU (3, 1): Cr by one step only (row 0 is
        // the first fold's exact row).
        frame.components[0].blocks[2 * 8 + 3][0] += 20;
        frame.components[1].blocks[2 * 4 + 1][5] += 1;
        frame.components[2].blocks[4 + 3][0] += 1;
        picture.fold(2, frame.clone()).unwrap();
        let changed = picture.changed_since(1).unwrap();
        assert_eq!(changed.iter().filter(|c| **c).count(), 1);
        assert!(changed[2 * 4 + 1]);
        assert_eq!(
            picture.blocks.components[1].blocks[2 * 4 + 1],
            frame.components[1].blocks[2 * 4 + 1]
        );
        // Within the tolerance alone: left as it was until the exact row.
        assert_eq!(
            picture.blocks.components[2].blocks[4 + 3],
            blocks.components[2].blocks[4 + 3]
        );
    }
}

//! Quantisation tables (T.81 §B.2.4.1) and requantisation: a coefficient
//! quantised with step `from` stands for `c * from`; with step `to` the nearest
//! representable value is `round(c * from / to)`. That is how a viewer gets a
//! lower quality than the source without a decode and re-encode.

use super::{Block, Error};

/// 64 quantisation steps in zigzag order, as a DQT segment lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuantTable(pub [u16; 64]);

/// Zigzag position → natural (row-major) position (T.81 Figure A.6).
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The example tables of T.81 Annex K.1 (Table K.1, luminance, and Table K.2,
/// chrominance), row by row as printed.
#[rustfmt::skip]
const ANNEX_K_LUMINANCE: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];
#[rustfmt::skip]
const ANNEX_K_CHROMINANCE: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
];

impl QuantTable {
    /// The Annex K table for luminance (`chroma == false`) or chrominance,
    /// scaled for `quality` 1..=100 the way most encoders (libjpeg, jpeg-encoder)
    /// scale it: 50 is the table as printed, 100 all ones.
    pub fn annex_k(chroma: bool, quality: u8) -> QuantTable {
        let quality = u32::from(quality.clamp(1, 100));
        let scale = if quality < 50 {
            5000 / quality
        } else {
            200 - 2 * quality
        };
        let base = if chroma {
            &ANNEX_K_CHROMINANCE
        } else {
            &ANNEX_K_LUMINANCE
        };
        let mut table = [0u16; 64];
        for (q, &natural) in table.iter_mut().zip(&ZIGZAG) {
            let b = u32::from(base.get(natural).copied().unwrap_or(1));
            // Baseline tables hold 8-bit steps.
            *q = ((b * scale + 50) / 100).clamp(1, 255) as u16;
        }
        QuantTable(table)
    }

    /// Each step the larger of this table's and `other`'s: a target quality
    /// never finer than what the source already threw away.
    pub fn coarsest(&self, other: &QuantTable) -> QuantTable {
        let mut table = self.0;
        for (q, &o) in table.iter_mut().zip(&other.0) {
            *q = (*q).max(o);
        }
        QuantTable(table)
    }

    /// Reads the body of a DQT segment into `tables` (destinations 0..=3).
    pub(super) fn read_dqt(
        body: &[u8],
        at: usize,
        tables: &mut [Option<QuantTable>; 4],
    ) -> Result<(), Error> {
        let mut rest = body;
        while let [pq_tq, tail @ ..] = rest {
            if pq_tq >> 4 != 0 {
                return Err(Error::Unsupported("16-bit quantisation tables"));
            }
            let values = tail
                .get(..64)
                .ok_or(Error::Malformed("DQT segment too short", at))?;
            let mut table = [0u16; 64];
            for (q, &v) in table.iter_mut().zip(values) {
                *q = u16::from(v);
            }
            if table.contains(&0) {
                return Err(Error::Malformed("quantisation step of zero", at));
            }
            let slot = tables
                .get_mut(usize::from(pq_tq & 0x0F))
                .ok_or(Error::Malformed("quantisation table destination", at))?;
            *slot = Some(QuantTable(table));
            rest = tail.get(64..).unwrap_or_default();
        }
        Ok(())
    }

    /// Appends this table as one DQT entry (8-bit precision, destination `slot`).
    pub(super) fn write_dqt(&self, slot: u8, out: &mut Vec<u8>) {
        out.push(slot & 0x0F);
        // Steps above 255 only arise from tables built in code; clamp rather
        // than write a 16-bit table a baseline decoder may refuse.
        out.extend(self.0.iter().map(|&q| q.clamp(1, 255) as u8));
    }
}

/// Moves `block` from quantisation `from` to `to`: each coefficient becomes
/// the nearest multiple of the new step to the value it stood for, halves
/// rounded away from zero (so requantising never biases towards zero, and a
/// value exactly representable in both tables is kept).
pub fn requantise_block(block: &mut Block, from: &QuantTable, to: &QuantTable) {
    for ((c, &f), &t) in block.iter_mut().zip(&from.0).zip(&to.0) {
        // Most coefficients are zero and stay zero: skip the division.
        if *c == 0 {
            continue;
        }
        let value = i32::from(*c) * i32::from(f);
        let step = i32::from(t.max(1));
        let magnitude = (value.abs() + step / 2) / step;
        let rounded = if value < 0 { -magnitude } else { magnitude };
        *c = rounded.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}

//! Helpers the unit tests of several modules share.

use std::fs;
use std::path::{Path, PathBuf};

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("kv-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random numbers (xorshift64) for tests that throw
/// random bytes at a parser: reproducible, and no dependency.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.max(1);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A screen-like JPEG from `jpeg-encoder` at quality 90 with the given chroma
/// sampling (h, v of luma against chroma): stripes of "text" on a coloured
/// background, and `mark` (x, y, w, h) painted in a colour of its own, so
/// two frames differ exactly there.
pub fn screen_jpeg(
    width: u16,
    height: u16,
    sampling: (u8, u8),
    mark: Option<(u32, u32, u32, u32)>,
) -> Vec<u8> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    let mut rgb = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            let marked = mark.is_some_and(|(mx, my, mw, mh)| {
                (mx..mx + mw).contains(&x) && (my..my + mh).contains(&y)
            });
            let px = if marked {
                [250, 40, (x * 7) as u8]
            } else if (x / 2 + y) % 9 < 2 {
                [230, 230, 220]
            } else {
                [(x / 4) as u8, 60 + (y / 8) as u8, 120]
            };
            rgb.extend_from_slice(&px);
        }
    }
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 90);
    if let Some(s) = SamplingFactor::from_factors(sampling.0, sampling.1) {
        encoder.set_sampling_factor(s);
    }
    encoder
        .encode(&rgb, width, height, ColorType::Rgb)
        .expect("jpeg-encoder encodes the test screen");
    out
}

//! Drawing kv's own pictures: an RGB `Canvas` with rectangles, text in a built-in
//! bitmap font, and baseline JPEG encoding. The demo target renders its screen with
//! it, and the video path draws the "no signal" placeholder frame with it; both
//! become ordinary `Frame`s, so viewers cannot tell a drawn frame from a captured one.
//!
//! The font is kv's own: 5x9 pixel glyphs (7 rows above the baseline, 2 for
//! descenders) in a 6x10 cell, covering printable ASCII. Anything else is drawn as
//! a hollow box so a missing glyph is visible rather than silently skipped.

/// Width of one character cell at scale 1, glyph plus one column of spacing.
pub const CELL_WIDTH: u32 = 6;
/// Height of one text line at scale 1, glyph plus one row of spacing.
pub const CELL_HEIGHT: u32 = 10;
/// Canvas sides are clamped to this: it bounds memory (a 4096x4096 canvas is 48 MiB)
/// and stays well inside JPEG's 65535 limit, so encoding cannot fail on size.
pub const MAX_SIDE: u32 = 4096;
/// Largest text scale: one glyph pixel is at most this many pixels square.
pub const MAX_SCALE: u32 = 64;

const GLYPH_WIDTH: u32 = 5;
const GLYPH_ROWS: usize = 9;

/// A colour as red, green, blue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    pub const DARK_GREY: Rgb = Rgb(48, 48, 48);
    pub const RED: Rgb = Rgb(220, 40, 40);
    pub const GREEN: Rgb = Rgb(40, 200, 70);
    pub const BLUE: Rgb = Rgb(40, 90, 220);
    pub const YELLOW: Rgb = Rgb(240, 200, 40);
}

/// An RGB image, three bytes per pixel, rows top to bottom. Drawing is clipped
/// to the canvas: positions may be negative or past the edge.
#[derive(Clone, Debug)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `color`. Sides are clamped to 1..=`MAX_SIDE`.
    pub fn new(width: u32, height: u32, color: Rgb) -> Canvas {
        let width = width.clamp(1, MAX_SIDE);
        let height = height.clamp(1, MAX_SIDE);
        let rgb = [color.0, color.1, color.2].repeat(width as usize * height as usize);
        Canvas { width, height, rgb }
    }

    /// The colour at (`x`, `y`), or `None` outside the canvas.
    #[cfg(test)]
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb> {
        let i = self.offset(x, y)?;
        let p = self.rgb.get(i..i + 3)?;
        Some(Rgb(p[0], p[1], p[2]))
    }

    #[cfg(test)]
    fn offset(&self, x: u32, y: u32) -> Option<usize> {
        (x < self.width && y < self.height)
            .then(|| (y as usize * self.width as usize + x as usize) * 3)
    }

    /// Fills the `w` x `h` rectangle whose top-left corner is (`x`, `y`).
    pub fn fill_rect(&mut self, x: i32, y: i32, w: u32, h: u32, color: Rgb) {
        let clip = |start: i32, len: u32, side: u32| -> (usize, usize) {
            let end = (i64::from(start) + i64::from(len)).clamp(0, i64::from(side));
            let start = i64::from(start).clamp(0, i64::from(side));
            (start as usize, end as usize)
        };
        let (x0, x1) = clip(x, w, self.width);
        let (y0, y1) = clip(y, h, self.height);
        let stride = self.width as usize * 3;
        for row in self.rgb.chunks_exact_mut(stride).take(y1).skip(y0) {
            for p in row[x0 * 3..x1 * 3].chunks_exact_mut(3) {
                p.copy_from_slice(&[color.0, color.1, color.2]);
            }
        }
    }

    /// Draws `text` with its top-left corner at (`x`, `y`), each font pixel a
    /// `scale` x `scale` square (clamped to 1..=`MAX_SCALE`). A `\n` starts a new line below `x`.
    /// Only the glyph pixels are drawn: the background shows through.
    pub fn draw_text(&mut self, x: i32, y: i32, text: &str, scale: u32, color: Rgb) {
        let scale = scale.clamp(1, MAX_SCALE);
        let step = |cells: usize, cell: u32| {
            let pixels = (cells as i64).saturating_mul(i64::from(cell * scale));
            i32::try_from(pixels).unwrap_or(i32::MAX)
        };
        for (line_no, line) in text.split('\n').enumerate() {
            let top = y.saturating_add(step(line_no, CELL_HEIGHT));
            for (col, c) in line.chars().enumerate() {
                let left = x.saturating_add(step(col, CELL_WIDTH));
                self.draw_glyph(left, top, glyph(c), scale, color);
            }
        }
    }

    fn draw_glyph(&mut self, x: i32, y: i32, rows: &[u8; GLYPH_ROWS], scale: u32, color: Rgb) {
        let s = scale as i32;
        for (r, bits) in rows.iter().enumerate() {
            for c in 0..GLYPH_WIDTH {
                if bits & (0x10 >> c) != 0 {
                    let px = x.saturating_add(c as i32 * s);
                    let py = y.saturating_add(r as i32 * s);
                    self.fill_rect(px, py, scale, scale, color);
                }
            }
        }
    }

    /// Baseline JPEG of the canvas at `quality` (1..=100), chroma subsampled 4:2:0.
    pub fn encode_jpeg(&self, quality: u8) -> Vec<u8> {
        encode(&self.rgb, self.width, self.height, quality, 0)
    }

    /// The rows `top..top + MCU_HEIGHT` (fewer at the bottom) as their own canvas.
    fn strip(&self, index: usize) -> Canvas {
        let stride = self.width as usize * 3;
        let rows = self
            .rgb
            .chunks(stride * MCU_HEIGHT)
            .nth(index)
            .unwrap_or_default();
        let height = (rows.len() / stride.max(1)).max(1) as u32;
        Canvas {
            width: self.width,
            height,
            rgb: rows.to_vec(),
        }
    }
}

/// Height of a JPEG MCU row with 4:2:0 chroma: the unit `StripEncoder` re-encodes.
const MCU_HEIGHT: usize = 16;

/// Encodes `rgb` (`width` x `height`, both within 1..=`MAX_SIDE`) with a restart
/// marker every `restart_interval` MCUs (0: none). 4:2:0 is set explicitly
/// because `StripEncoder` depends on 16-pixel MCU rows at every quality.
fn encode(rgb: &[u8], width: u32, height: u32, quality: u8, restart_interval: u16) -> Vec<u8> {
    let mut jpeg = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.set_restart_interval(restart_interval);
    // `Canvas::new` keeps both sides within 1..=MAX_SIDE and `rgb` at width*height*3,
    // the only conditions the encoder checks, and writing to a Vec cannot fail.
    let (w, h) = (width as u16, height as u16);
    if let Err(e) = encoder.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb) {
        log::error!("render: JPEG encoding of a {w}x{h} canvas failed: {e}");
        return Vec::new();
    }
    jpeg
}

/// Where the segment with `marker` starts in `jpeg`, looking only at the header
/// segments from SOI up to and including the start of scan (SOS).
fn find_segment(jpeg: &[u8], marker: u16) -> Option<usize> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*jpeg.get(at)?, *jpeg.get(at + 1)?]));
    if be16(0)? != 0xFFD8 {
        return None;
    }
    let mut at = 2;
    loop {
        match be16(at)? {
            m if m == marker => return Some(at),
            0xFFDA => return None,
            _ => at += 2 + usize::from(be16(at + 2)?),
        }
    }
}

/// `jpeg` split into its headers (through the SOS segment) and its entropy-coded
/// data, without the final EOI.
pub(crate) fn split_scan(jpeg: &[u8]) -> Option<(&[u8], &[u8])> {
    let sos = find_segment(jpeg, 0xFFDA)?;
    let length = u16::from_be_bytes([*jpeg.get(sos + 2)?, *jpeg.get(sos + 3)?]);
    let (headers, rest) = jpeg.split_at_checked(sos + 2 + usize::from(length))?;
    Some((headers, rest.strip_suffix(&[0xFF, 0xD9])?))
}

/// Encodes a sequence of canvases of which usually only a few rows change (a
/// console, a moving pointer), re-encoding only the 16-pixel strips that differ
/// from the previous canvas.
///
/// The JPEG has a restart marker after every MCU row. A restart resets the DC
/// predictions and byte-aligns the bit stream, so each row's entropy-coded data
/// depends on that row's pixels alone and is exactly what encoding the strip as an
/// image of its own produces: changed strips are encoded alone and spliced in
/// between `RSTn` markers. The result is byte-for-byte the full encode.
pub struct StripEncoder {
    quality: u8,
    /// The canvas the cached strips show; `None` until the first encode.
    previous: Option<Canvas>,
    /// Headers through SOS (with the DRI segment) of the last full encode.
    headers: Vec<u8>,
    /// Entropy-coded data of each MCU row.
    strips: Vec<Vec<u8>>,
}

impl StripEncoder {
    pub fn new(quality: u8) -> StripEncoder {
        StripEncoder {
            quality,
            previous: None,
            headers: Vec::new(),
            strips: Vec::new(),
        }
    }

    /// The JPEG of `canvas`, kept to compare the next one against.
    pub fn encode(&mut self, canvas: Canvas) -> Vec<u8> {
        let same_size = self
            .previous
            .as_ref()
            .is_some_and(|p| (p.width, p.height) == (canvas.width, canvas.height));
        let updated = same_size && self.update_changed_strips(&canvas);
        if !updated && !self.encode_whole(&canvas) {
            self.previous = None;
            return canvas.encode_jpeg(self.quality);
        }
        self.previous = Some(canvas);
        self.assemble()
    }

    /// Re-encodes the strips where `canvas` differs from the previous one.
    fn update_changed_strips(&mut self, canvas: &Canvas) -> bool {
        let Some(previous) = &self.previous else {
            return false;
        };
        let stride = canvas.width as usize * 3 * MCU_HEIGHT;
        let rows = canvas.rgb.chunks(stride).zip(previous.rgb.chunks(stride));
        for (index, (now, before)) in rows.enumerate() {
            if now == before {
                continue;
            }
            let jpeg = canvas.strip(index).encode_jpeg(self.quality);
            let (Some((_, scan)), Some(slot)) = (split_scan(&jpeg), self.strips.get_mut(index))
            else {
                return false;
            };
            *slot = scan.to_vec();
        }
        true
    }

    /// Encodes all of `canvas` and caches its headers and strips.
    fn encode_whole(&mut self, canvas: &Canvas) -> bool {
        let mcus_per_row = canvas.width.div_ceil(MCU_HEIGHT as u32) as u16;
        let jpeg = encode(
            &canvas.rgb,
            canvas.width,
            canvas.height,
            self.quality,
            mcus_per_row,
        );
        let Some((headers, scan)) = split_scan(&jpeg) else {
            return false;
        };
        // Entropy-coded data escapes every 0xFF as FF 00, so FF D0..=D7 in it can
        // only be a restart marker.
        let mut strips = vec![Vec::new()];
        let mut bytes = scan.iter().peekable();
        while let Some(&b) = bytes.next() {
            match bytes.peek() {
                Some(&&next) if b == 0xFF && (0xD0..=0xD7).contains(&next) => {
                    bytes.next();
                    strips.push(Vec::new());
                }
                _ => strips.last_mut().into_iter().for_each(|s| s.push(b)),
            }
        }
        if strips.len() != (canvas.height as usize).div_ceil(MCU_HEIGHT) {
            log::error!(
                "render: JPEG of a {}x{} canvas has {} restart intervals, not one per MCU row",
                canvas.width,
                canvas.height,
                strips.len()
            );
            return false;
        }
        self.headers = headers.to_vec();
        self.strips = strips;
        true
    }

    fn assemble(&self) -> Vec<u8> {
        let size = self.headers.len() + self.strips.iter().map(|s| s.len() + 2).sum::<usize>();
        let mut jpeg = Vec::with_capacity(size);
        jpeg.extend_from_slice(&self.headers);
        for (index, strip) in self.strips.iter().enumerate() {
            if index > 0 {
                jpeg.extend_from_slice(&[0xFF, 0xD0 + ((index - 1) % 8) as u8]);
            }
            jpeg.extend_from_slice(strip);
        }
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        jpeg
    }
}

/// Width in pixels of the longest line of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    let longest = text.split('\n').map(|l| l.chars().count()).max();
    let cells = u32::try_from(longest.unwrap_or(0)).unwrap_or(u32::MAX);
    cells.saturating_mul(CELL_WIDTH * scale.clamp(1, MAX_SCALE))
}

/// Height in pixels of `text` (one cell per line) drawn at `scale`.
pub fn text_height(text: &str, scale: u32) -> u32 {
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    lines.saturating_mul(CELL_HEIGHT * scale.clamp(1, MAX_SCALE))
}

fn glyph(c: char) -> &'static [u8; GLYPH_ROWS] {
    let index = (c as usize).wrapping_sub(0x20);
    FONT.get(index).unwrap_or(&MISSING)
}

/// Parses one glyph drawn as rows of `#` (ink) and `.` (paper) separated by `|`;
/// rows left out at the bottom are blank. Runs at compile time, so a malformed
/// glyph stops the build instead of drawing garbage.
const fn g(art: &str) -> [u8; GLYPH_ROWS] {
    let art = art.as_bytes();
    let mut rows = [0u8; GLYPH_ROWS];
    let (mut row, mut col, mut i) = (0, 0, 0);
    while i < art.len() {
        match art[i] {
            b'|' => {
                assert!(col == GLYPH_WIDTH, "glyph row is not 5 columns wide");
                row += 1;
                col = 0;
            }
            b'#' | b'.' => {
                assert!(col < GLYPH_WIDTH, "glyph row is wider than 5 columns");
                if art[i] == b'#' {
                    rows[row] |= 0x10 >> col;
                }
                col += 1;
            }
            _ => panic!("glyph art may only contain '#', '.' and '|'"),
        }
        i += 1;
    }
    assert!(
        col == GLYPH_WIDTH || art.is_empty(),
        "last glyph row is not 5 columns wide"
    );
    rows
}

static MISSING: [u8; GLYPH_ROWS] = g("#####|#...#|#...#|#...#|#...#|#...#|#####");

/// Glyphs for 0x20 (space) through 0x7E (`~`), in order.
#[rustfmt::skip]
static FONT: [[u8; GLYPH_ROWS]; 95] = [
    g(""),                                                      // space
    g("..#..|..#..|..#..|..#..|..#..|.....|..#.."),             // !
    g(".#.#.|.#.#."),                                           // "
    g(".#.#.|.#.#.|#####|.#.#.|#####|.#.#.|.#.#."),             // #
    g("..#..|.####|#.#..|.###.|..#.#|####.|..#.."),             // $
    g("##...|##..#|...#.|..#..|.#...|#..##|...##"),             // %
    g(".##..|#..#.|#.#..|.#...|#.#.#|#..#.|.##.#"),             // &
    g("..#..|..#.."),                                           // '
    g("...#.|..#..|.#...|.#...|.#...|..#..|...#."),             // (
    g(".#...|..#..|...#.|...#.|...#.|..#..|.#..."),             // )
    g(".....|..#..|#.#.#|.###.|#.#.#|..#.."),                   // *
    g(".....|..#..|..#..|#####|..#..|..#.."),                   // +
    g(".....|.....|.....|.....|.....|..##.|..##.|...#.|..#.."), // ,
    g(".....|.....|.....|#####"),                               // -
    g(".....|.....|.....|.....|.....|.##..|.##.."),             // .
    g(".....|....#|...#.|..#..|.#...|#...."),                   // /
    g(".###.|#...#|#..##|#.#.#|##..#|#...#|.###."),             // 0
    g("..#..|.##..|..#..|..#..|..#..|..#..|.###."),             // 1
    g(".###.|#...#|....#|...#.|..#..|.#...|#####"),             // 2
    g("#####|...#.|..#..|...#.|....#|#...#|.###."),             // 3
    g("...#.|..##.|.#.#.|#..#.|#####|...#.|...#."),             // 4
    g("#####|#....|####.|....#|....#|#...#|.###."),             // 5
    g("..##.|.#...|#....|####.|#...#|#...#|.###."),             // 6
    g("#####|....#|...#.|..#..|.#...|.#...|.#..."),             // 7
    g(".###.|#...#|#...#|.###.|#...#|#...#|.###."),             // 8
    g(".###.|#...#|#...#|.####|....#|...#.|.##.."),             // 9
    g(".....|.##..|.##..|.....|.##..|.##.."),                   // :
    g(".....|.##..|.##..|.....|.##..|.##..|..#..|.#..."),       // ;
    g("...#.|..#..|.#...|#....|.#...|..#..|...#."),             // <
    g(".....|.....|#####|.....|#####"),                         // =
    g(".#...|..#..|...#.|....#|...#.|..#..|.#..."),             // >
    g(".###.|#...#|....#|...#.|..#..|.....|..#.."),             // ?
    g(".###.|#...#|#.###|#.#.#|#.###|#....|.###."),             // @
    g(".###.|#...#|#...#|#####|#...#|#...#|#...#"),             // A
    g("####.|#...#|#...#|####.|#...#|#...#|####."),             // B
    g(".###.|#...#|#....|#....|#....|#...#|.###."),             // C
    g("###..|#..#.|#...#|#...#|#...#|#..#.|###.."),             // D
    g("#####|#....|#....|####.|#....|#....|#####"),             // E
    g("#####|#....|#....|####.|#....|#....|#...."),             // F
    g(".###.|#...#|#....|#.###|#...#|#...#|.####"),             // G
    g("#...#|#...#|#...#|#####|#...#|#...#|#...#"),             // H
    g(".###.|..#..|..#..|..#..|..#..|..#..|.###."),             // I
    g("..###|...#.|...#.|...#.|...#.|#..#.|.##.."),             // J
    g("#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#"),             // K
    g("#....|#....|#....|#....|#....|#....|#####"),             // L
    g("#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#"),             // M
    g("#...#|#...#|##..#|#.#.#|#..##|#...#|#...#"),             // N
    g(".###.|#...#|#...#|#...#|#...#|#...#|.###."),             // O
    g("####.|#...#|#...#|####.|#....|#....|#...."),             // P
    g(".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#"),             // Q
    g("####.|#...#|#...#|####.|#.#..|#..#.|#...#"),             // R
    g(".####|#....|#....|.###.|....#|....#|####."),             // S
    g("#####|..#..|..#..|..#..|..#..|..#..|..#.."),             // T
    g("#...#|#...#|#...#|#...#|#...#|#...#|.###."),             // U
    g("#...#|#...#|#...#|#...#|#...#|.#.#.|..#.."),             // V
    g("#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#."),             // W
    g("#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#"),             // X
    g("#...#|#...#|.#.#.|..#..|..#..|..#..|..#.."),             // Y
    g("#####|....#|...#.|..#..|.#...|#....|#####"),             // Z
    g(".###.|.#...|.#...|.#...|.#...|.#...|.###."),             // [
    g(".....|#....|.#...|..#..|...#.|....#"),                   // \
    g(".###.|...#.|...#.|...#.|...#.|...#.|.###."),             // ]
    g("..#..|.#.#.|#...#"),                                     // ^
    g(".....|.....|.....|.....|.....|.....|.....|#####"),       // _
    g(".#...|..#.."),                                           // `
    g(".....|.....|.###.|....#|.####|#...#|.####"),             // a
    g("#....|#....|#.##.|##..#|#...#|#...#|####."),             // b
    g(".....|.....|.###.|#....|#....|#...#|.###."),             // c
    g("....#|....#|.##.#|#..##|#...#|#...#|.####"),             // d
    g(".....|.....|.###.|#...#|#####|#....|.###."),             // e
    g("..##.|.#..#|.#...|###..|.#...|.#...|.#..."),             // f
    g(".....|.....|.####|#...#|#...#|#...#|.####|....#|.###."), // g
    g("#....|#....|#.##.|##..#|#...#|#...#|#...#"),             // h
    g("..#..|.....|.##..|..#..|..#..|..#..|.###."),             // i
    g("...#.|.....|..##.|...#.|...#.|...#.|...#.|#..#.|.##.."), // j
    g("#....|#....|#..#.|#.#..|##...|#.#..|#..#."),             // k
    g(".##..|..#..|..#..|..#..|..#..|..#..|.###."),             // l
    g(".....|.....|##.#.|#.#.#|#.#.#|#...#|#...#"),             // m
    g(".....|.....|#.##.|##..#|#...#|#...#|#...#"),             // n
    g(".....|.....|.###.|#...#|#...#|#...#|.###."),             // o
    g(".....|.....|####.|#...#|#...#|#...#|####.|#....|#...."), // p
    g(".....|.....|.####|#...#|#...#|#...#|.####|....#|....#"), // q
    g(".....|.....|#.##.|##..#|#....|#....|#...."),             // r
    g(".....|.....|.####|#....|.###.|....#|####."),             // s
    g(".#...|.#...|###..|.#...|.#...|.#..#|..##."),             // t
    g(".....|.....|#...#|#...#|#...#|#..##|.##.#"),             // u
    g(".....|.....|#...#|#...#|#...#|.#.#.|..#.."),             // v
    g(".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#."),             // w
    g(".....|.....|#...#|.#.#.|..#..|.#.#.|#...#"),             // x
    g(".....|.....|#...#|#...#|#...#|#...#|.####|....#|.###."), // y
    g(".....|.....|#####|...#.|..#..|.#...|#####"),             // z
    g("...##|..#..|..#..|.#...|..#..|..#..|...##"),             // {
    g("..#..|..#..|..#..|..#..|..#..|..#..|..#.."),             // |
    g("##...|..#..|..#..|...#.|..#..|..#..|##..."),             // }
    g(".....|.....|.#...|#.#.#|...#."),                         // ~
];

/// The (width, height) in the baseline start-of-frame (SOF0) segment of `jpeg`;
/// for tests of anything that encodes.
#[cfg(test)]
pub fn sof0_size(jpeg: &[u8]) -> Option<(u16, u16)> {
    let sof = find_segment(jpeg, 0xFFC0)?;
    let be16 = |at: usize| Some(u16::from_be_bytes([*jpeg.get(at)?, *jpeg.get(at + 1)?]));
    Some((be16(sof + 7)?, be16(sof + 5)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(canvas: &Canvas, background: Rgb) -> usize {
        canvas
            .rgb
            .chunks_exact(3)
            .filter(|p| *p != [background.0, background.1, background.2])
            .count()
    }

    #[test]
    fn test_new_dimensions() {
        let canvas = Canvas::new(320, 200, Rgb::BLUE);
        assert_eq!((canvas.width, canvas.height), (320, 200));
        assert_eq!(canvas.rgb.len(), 320 * 200 * 3);
        assert_eq!(canvas.pixel(319, 199), Some(Rgb::BLUE));
        assert_eq!(canvas.pixel(320, 0), None);
        let clamped = Canvas::new(0, 100_000, Rgb::BLACK);
        assert_eq!((clamped.width, clamped.height), (1, MAX_SIDE));
    }

    #[test]
    fn test_fill_rect_clips() {
        let mut canvas = Canvas::new(10, 10, Rgb::BLACK);
        canvas.fill_rect(-5, 8, 8, 100, Rgb::RED);
        assert_eq!(ink(&canvas, Rgb::BLACK), 3 * 2);
        assert_eq!(canvas.pixel(2, 9), Some(Rgb::RED));
        assert_eq!(canvas.pixel(3, 9), Some(Rgb::BLACK));
        canvas.fill_rect(i32::MAX, i32::MIN, u32::MAX, u32::MAX, Rgb::RED);
        assert_eq!(ink(&canvas, Rgb::BLACK), 6);
    }

    #[test]
    fn test_draw_text_changes_pixels() {
        let mut canvas = Canvas::new(100, 40, Rgb::BLACK);
        canvas.draw_text(2, 2, "Hi", 1, Rgb::WHITE);
        let one = ink(&canvas, Rgb::BLACK);
        // H has 17 pixels of ink, i has 9.
        assert_eq!(one, 17 + 9);
        assert_eq!(canvas.pixel(2, 2), Some(Rgb::WHITE));
        canvas.draw_text(2, 20, "Hi", 2, Rgb::WHITE);
        assert_eq!(ink(&canvas, Rgb::BLACK), one * 5);
        // Off-canvas text is clipped, not a panic.
        canvas.draw_text(-1000, 35, "clipped ~\u{e9}\n", 3, Rgb::RED);
    }

    #[test]
    fn test_font_covers_printable_ascii() {
        for c in ' '..='~' {
            assert!(!std::ptr::eq(glyph(c), &MISSING), "{c:?}");
            assert_eq!(glyph(c) == &[0; GLYPH_ROWS], c == ' ', "{c:?}");
        }
        assert!(std::ptr::eq(glyph('\u{e9}'), &MISSING));
        assert!(std::ptr::eq(glyph('\u{7f}'), &MISSING));
        assert!(std::ptr::eq(glyph('\t'), &MISSING));
    }

    #[test]
    fn test_text_metrics() {
        assert_eq!(text_width("", 1), 0);
        assert_eq!(text_width("abc", 2), 3 * CELL_WIDTH * 2);
        assert_eq!(text_width("a\nlonger\nb", 1), 6 * CELL_WIDTH);
        assert_eq!(text_height("a\nb", 3), 2 * CELL_HEIGHT * 3);
    }

    #[test]
    fn test_encode_jpeg_markers_and_size() {
        let mut canvas = Canvas::new(200, 120, Rgb::DARK_GREY);
        canvas.draw_text(10, 10, "kv", 4, Rgb::YELLOW);
        let jpeg = canvas.encode_jpeg(80);
        assert_eq!(jpeg.get(..2), Some(&[0xFF, 0xD8][..]));
        assert_eq!(jpeg.get(jpeg.len() - 2..), Some(&[0xFF, 0xD9][..]));
        assert_eq!(sof0_size(&jpeg), Some((200, 120)));
    }

    #[test]
    fn test_strip_encoder_matches_whole_encode() {
        let quality = 80;
        let mut encoder = StripEncoder::new(quality);
        // 1080 rows: the last MCU row is half height; 1000 columns: a partial MCU.
        let mut canvas = Canvas::new(1000, 1080, Rgb::DARK_GREY);
        let whole = |c: &Canvas| encode(&c.rgb, c.width, c.height, quality, 63);
        for (i, text) in ["first", "second line", "moved", "", "the end"]
            .iter()
            .enumerate()
        {
            canvas.draw_text(10, 100 * i as i32, text, 3, Rgb::YELLOW);
            canvas.fill_rect(990, 1070 - 7 * i as i32, 10, 10, Rgb::RED);
            let jpeg = encoder.encode(canvas.clone());
            assert_eq!(jpeg, whole(&canvas), "after change {i}");
        }
        assert_eq!(
            sof0_size(&encoder.encode(canvas.clone())),
            Some((1000, 1080))
        );
        let small = Canvas::new(64, 40, Rgb::BLUE);
        let jpeg = encoder.encode(small.clone());
        assert_eq!(
            jpeg,
            encode(&small.rgb, 64, 40, quality, 4),
            "new size: whole encode"
        );
    }
}

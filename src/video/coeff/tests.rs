//! The coefficient path against two independent references: `jpeg-encoder`
//! makes the frames, `jpeg-decoder` turns both the originals and what
//! `encode_region` writes into pixels. Same coefficients in must give the same
//! pixels out, and nothing a broken frame holds may panic.

use super::*;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// Something like a desktop: a smooth wallpaper, coloured windows and
/// high-contrast "text" strokes, so every block has detail and chroma moves.
fn picture(width: u16, height: u16) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            let text = (x / 3 + y / 5) % 4 == 0 && (y % 11) < 7;
            let window = (x / 24 + y / 16) % 3;
            let px = if text {
                [20, 20, 30]
            } else {
                [
                    (x * 5 + window * 60) as u8,
                    (y * 3 + window * 40) as u8,
                    ((x ^ y) * 2) as u8,
                ]
            };
            rgb.extend_from_slice(&px);
        }
    }
    rgb
}

/// A frame from `jpeg-encoder`: quality, chroma sampling (h, v) of luma
/// relative to chroma, restart interval (0 for none), colour or grey.
fn encoded(
    width: u16,
    height: u16,
    quality: u8,
    sampling: (u8, u8),
    restart: u16,
    grey: bool,
) -> Vec<u8> {
    let rgb = picture(width, height);
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    if let Some(s) = SamplingFactor::from_factors(sampling.0, sampling.1) {
        encoder.set_sampling_factor(s);
    }
    encoder.set_restart_interval(restart);
    let result = if grey {
        let luma: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
        encoder.encode(&luma, width, height, ColorType::Luma)
    } else {
        encoder.encode(&rgb, width, height, ColorType::Rgb)
    };
    result.expect("jpeg-encoder encodes the test picture");
    out
}

/// Pixels and their size as `jpeg-decoder` sees them.
fn pixels(jpeg: &[u8]) -> (Vec<u8>, u16, u16) {
    samples(jpeg, false)
}

/// Pixels, or with `raw` the Y, Cb, Cr samples before colour conversion
/// (what the blocks' IDCT and chroma upsampling gave).
fn samples(jpeg: &[u8], raw: bool) -> (Vec<u8>, u16, u16) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    if raw {
        decoder.set_color_transform(jpeg_decoder::ColorTransform::None);
    }
    let pixels = decoder.decode().expect("jpeg-decoder decodes it");
    let info = decoder.info().expect("info after decode");
    (pixels, info.width, info.height)
}

fn whole(frame: &Coefficients) -> Vec<u8> {
    whole_with(frame, HuffmanTables::Standard)
}

fn whole_with(frame: &Coefficients, huffman: HuffmanTables) -> Vec<u8> {
    let mut out = Vec::new();
    encode_region(frame, frame.whole(), huffman, &mut out).expect("whole frame encodes");
    out
}

#[test]
fn test_round_trip_same_coefficients_same_pixels() {
    let sizes = [(8, 8), (17, 9), (64, 48), (33, 47), (1, 1)];
    let samplings = [(1, 1), (2, 1), (2, 2), (1, 2)];
    for (width, height) in sizes {
        for sampling in samplings {
            for (quality, restart) in [(30, 0), (75, 3), (95, 1), (90, 0)] {
                let case = format!("{width}x{height} {sampling:?} q{quality} restart {restart}");
                let original = encoded(width, height, quality, sampling, restart, false);
                let frame = decode(&original, Limits::default()).expect(&case);
                assert_eq!(
                    (frame.width, frame.height),
                    (u32::from(width), u32::from(height))
                );
                for huffman in [HuffmanTables::Standard, HuffmanTables::Optimal] {
                    let ours = whole_with(&frame, huffman);
                    let again = decode(&ours, Limits::default());
                    assert_eq!(again.as_ref(), Ok(&frame), "{case} {huffman:?}");
                    assert_eq!(pixels(&ours), pixels(&original), "{case} {huffman:?}");
                }
            }
        }
        let grey = encoded(width, height, 80, (1, 1), 2, true);
        let frame = decode(&grey, Limits::default()).expect("grey frame");
        assert_eq!(frame.components.len(), 1);
        assert_eq!(pixels(&whole(&frame)), pixels(&grey));
    }
}

#[test]
fn test_optimised_huffman_tables() {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 85);
    encoder.set_optimized_huffman_tables(true);
    encoder.set_sampling_factor(SamplingFactor::R_4_2_2);
    let rgb = picture(45, 31);
    encoder
        .encode(&rgb, 45, 31, ColorType::Rgb)
        .expect("encode");
    let frame = decode(&out, Limits::default()).expect("decode");
    assert_eq!(pixels(&whole(&frame)), pixels(&out));
    // Ours are built the same way (Annex K.2): about the same size.
    let ours = whole_with(&frame, HuffmanTables::Optimal);
    assert_eq!(pixels(&ours), pixels(&out));
    assert!(
        ours.len() <= out.len() + 64,
        "{} vs {}",
        ours.len(),
        out.len()
    );
    assert!(ours.len() < whole(&frame).len());
}

#[test]
fn test_frame_without_dht_uses_standard_tables() {
    // jpeg-encoder writes the standard tables: without them the coefficients
    // must be the same (the tables are implied, as in AVI1 MJPEG).
    let original = encoded(40, 24, 70, (2, 1), 0, false);
    let mut stripped = Vec::new();
    let mut i = 0;
    while i < original.len() {
        if original.get(i..i + 2) == Some(&[0xFF, 0xC4]) {
            let len = usize::from(u16::from_be_bytes([original[i + 2], original[i + 3]]));
            i += 2 + len;
            continue;
        }
        if original.get(i..i + 2) == Some(&[0xFF, 0xDA]) {
            stripped.extend_from_slice(&original[i..]);
            break;
        }
        stripped.push(original[i]);
        i += 1;
    }
    assert!(stripped.len() < original.len());
    assert_eq!(
        decode(&stripped, Limits::default()),
        decode(&original, Limits::default())
    );
}

#[test]
fn test_annex_k_tables_match_jpeg_encoder() {
    for quality in [10, 50, 75, 90, 100] {
        let frame = decode(
            &encoded(16, 16, quality, (2, 2), 0, false),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(
            frame.components[0].quant,
            QuantTable::annex_k(false, quality)
        );
        assert_eq!(
            frame.components[1].quant,
            QuantTable::annex_k(true, quality)
        );
        assert_eq!(
            frame.components[2].quant,
            QuantTable::annex_k(true, quality)
        );
    }
}

/// Decodes `region` of `frame` on its own and the whole frame, and returns the
/// largest pixel difference and the largest one at least `margin` pixels
/// inside the region's edges that are not the frame's.
fn region_difference(original: &[u8], region: Region, margin: u32, raw: bool) -> (u8, u8) {
    let frame = decode(original, Limits::default()).unwrap();
    let (full, full_w, _) = samples(original, raw);
    let mut patch = Vec::new();
    encode_region(&frame, region, HuffmanTables::Optimal, &mut patch).unwrap();
    let (part, w, h) = samples(&patch, raw);
    let (mcu_w, mcu_h) = frame.mcu_size();
    let (left, top) = (region.x as u32 * mcu_w, region.y as u32 * mcu_h);
    let right_edge = left + u32::from(w) == frame.width;
    let bottom_edge = top + u32::from(h) == frame.height;
    // Pixels are interleaved; raw samples come a row of each component at a time.
    let at = |x: u32, y: u32, ch: u32, width: u32| {
        let i = if raw {
            (y * 3 + ch) * width + x
        } else {
            (y * width + x) * 3 + ch
        };
        i as usize
    };
    let (mut all, mut inner) = (0, 0);
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            let inside_x = (left == 0 || x >= margin) && (right_edge || x + margin < u32::from(w));
            let inside_y = (top == 0 || y >= margin) && (bottom_edge || y + margin < u32::from(h));
            for ch in 0..3 {
                let a = part[at(x, y, ch, u32::from(w))];
                let b = full[at(left + x, top + y, ch, u32::from(full_w))];
                let d = a.abs_diff(b);
                all = all.max(d);
                if inside_x && inside_y {
                    inner = inner.max(d);
                }
            }
        }
    }
    (all, inner)
}

#[test]
fn test_region_444_decodes_to_exactly_its_pixels() {
    // Each block's IDCT and each pixel's colour conversion stand alone.
    let original = encoded(75, 53, 90, (1, 1), 0, false);
    for region in [
        Region {
            x: 1,
            y: 1,
            width: 2,
            height: 3,
        },
        Region {
            x: 0,
            y: 0,
            width: 1,
            height: 1,
        },
        // The bottom-right corner: a partial MCU both ways.
        Region {
            x: 7,
            y: 5,
            width: 3,
            height: 2,
        },
    ] {
        // Y, Cb, Cr samples: exactly the full decode's.
        let exact = region_difference(&original, region, 0, true);
        assert_eq!(exact, (0, 0), "{region:?}");
        // Pixels: jpeg-decoder turns the same samples into RGB that differs
        // by one here and there between the patch and the full frame (seen,
        // not explained: its colour conversion seems to depend on where a
        // pixel falls in a row). The samples above are identical.
        let (all, _) = region_difference(&original, region, 0, false);
        assert!(all <= 1, "{region:?}: {all}");
    }
}

#[test]
fn test_region_subsampled_chroma_differs_only_at_its_edges() {
    // Upsampling chroma interpolates between neighbouring chroma samples
    // (weights 3:1 each way): at a patch's edge the neighbour outside is
    // missing and the decoder repeats the edge sample instead, so pixels
    // within one chroma sample (2 pixels) of an inner edge may differ, their
    // chroma by at most 7/16 (a corner: 3 + 3 + 1 of 16) of the step between
    // neighbouring chroma samples; further in they match. A browser drawing
    // patches shows the same seam until the block is sent again aligned.
    // Compared as RGB (jpeg-decoder's raw-sample output fails on subsampled
    // frames), so the colour conversion's rounding of one applies (above).
    for sampling in [(2, 1), (2, 2)] {
        let original = encoded(77, 50, 90, sampling, 0, false);
        let region = Region {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        let (all, inner) = region_difference(&original, region, 2, false);
        assert!(inner <= 1, "{sampling:?}: {inner} inside");
        // 7/16 of a chroma step of 255, times at most 1.772 (Cb to blue).
        assert!(u32::from(all) <= 198, "{sampling:?}: edge difference {all}");
        assert!(
            all > 1,
            "{sampling:?}: the edges should show the missing neighbours"
        );
    }
}

#[test]
fn test_bad_regions_refused() {
    let frame = decode(&encoded(32, 16, 80, (2, 2), 0, false), Limits::default()).unwrap();
    let mut out = Vec::new();
    for region in [
        Region {
            x: 0,
            y: 0,
            width: 0,
            height: 1,
        },
        Region {
            x: 1,
            y: 0,
            width: 2,
            height: 1,
        },
        Region {
            x: 0,
            y: 0,
            width: 1,
            height: 2,
        },
        Region {
            x: usize::MAX,
            y: 0,
            width: 2,
            height: 1,
        },
    ] {
        let refused = encode_region(&frame, region, HuffmanTables::Standard, &mut out);
        assert_eq!(refused, Err(Error::BadRegion(region)));
    }
}

#[test]
fn test_refuses_progressive_and_oversized() {
    let mut progressive = Vec::new();
    let mut encoder = Encoder::new(&mut progressive, 80);
    encoder.set_progressive(true);
    encoder
        .encode(&picture(16, 16), 16, 16, ColorType::Rgb)
        .unwrap();
    assert!(matches!(
        decode(&progressive, Limits::default()),
        Err(Error::Unsupported(_))
    ));
    let small = Limits {
        max_width: 16,
        max_height: 16,
    };
    assert_eq!(
        decode(&encoded(17, 9, 80, (1, 1), 0, false), small),
        Err(Error::TooLarge {
            width: 17,
            height: 9
        })
    );
    let mut twelve_bit = encoded(16, 16, 80, (1, 1), 0, false);
    let sof = twelve_bit
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .unwrap();
    twelve_bit[sof + 4] = 12;
    assert!(matches!(
        decode(&twelve_bit, Limits::default()),
        Err(Error::Unsupported(_))
    ));
    assert_eq!(decode(b"GIF89a", Limits::default()), Err(Error::NotJpeg));
}

#[test]
fn test_restart_marker_out_of_sequence() {
    let mut j = encoded(64, 16, 80, (1, 1), 1, false);
    let rst = j.windows(2).position(|w| w == [0xFF, 0xD0]).unwrap();
    j[rst + 1] = 0xD3;
    assert!(matches!(
        decode(&j, Limits::default()),
        Err(Error::Malformed(..))
    ));
}

/// Whatever happens, no panic; and whatever decodes, encodes back to the
/// same coefficients.
fn check(bytes: &[u8]) {
    if let Ok(frame) = decode(bytes, Limits::default()) {
        assert_eq!(
            decode(&whole(&frame), Limits::default()).as_ref(),
            Ok(&frame)
        );
    }
}

#[test]
fn test_truncated_and_mutated_never_panic() {
    let j = encoded(40, 24, 85, (2, 2), 2, false);
    for end in 0..j.len() {
        assert!(
            decode(&j[..end], Limits::default()).is_err(),
            "cut at {end}"
        );
    }
    for at in 0..j.len() {
        for value in [0x00, 0x01, 0x0F, 0x7F, 0x80, 0xC2, 0xD0, 0xD9, 0xDA, 0xFF] {
            let mut b = j.clone();
            b[at] = value;
            check(&b);
        }
    }
}

#[test]
fn test_random_bytes_never_panic() {
    let mut next = crate::testutil::xorshift(0x9E37_79B9_7F4A_7C15);
    let j = encoded(24, 16, 60, (2, 1), 0, false);
    for _ in 0..3000 {
        // A valid frame with a few random bytes: deep into the scan.
        let mut b = j.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % b.len();
            b[at] = next() as u8;
        }
        check(&b);
        // Pure noise after SOI.
        let mut noise = vec![0xFF, 0xD8];
        noise.extend((0..next() % 300).map(|_| next() as u8));
        check(&noise);
    }
}

#[test]
fn test_requantise_identity_and_exact_multiples() {
    let q = QuantTable::annex_k(false, 90);
    let block: Block = std::array::from_fn(|i| (i as i16 - 32) * 7);
    let mut same = block;
    requantise_block(&mut same, &q, &q);
    assert_eq!(same, block);
    // Steps three times as large: round(c / 3), halves away from zero.
    let mut triple = q;
    triple.0.iter_mut().for_each(|s| *s *= 3);
    let mut coarse = block;
    requantise_block(&mut coarse, &q, &triple);
    for (&c, &r) in block.iter().zip(&coarse) {
        let expected = (f64::from(c) / 3.0).round() as i16;
        assert_eq!(r, expected, "{c}");
    }
}

#[test]
fn test_requantise_error_within_half_a_step() {
    let from = QuantTable::annex_k(false, 92);
    for quality in [20, 50, 75] {
        let to = QuantTable::annex_k(false, quality).coarsest(&from);
        let block: Block = std::array::from_fn(|i| ((i * 37) % 61) as i16 - 30);
        let mut moved = block;
        requantise_block(&mut moved, &from, &to);
        for i in 0..64 {
            let was = i32::from(block[i]) * i32::from(from.0[i]);
            let now = i32::from(moved[i]) * i32::from(to.0[i]);
            assert!(
                2 * (was - now).abs() <= i32::from(to.0[i]),
                "q{quality} [{i}]"
            );
            assert!(moved[i].abs() <= block[i].abs());
        }
        // Requantising again to the same table changes nothing.
        let mut again = moved;
        requantise_block(&mut again, &to, &to);
        assert_eq!(again, moved);
    }
}

#[test]
fn test_requantised_frame_is_smaller_and_decodes() {
    let original = encoded(128, 64, 92, (2, 1), 0, false);
    let mut frame = decode(&original, Limits::default()).unwrap();
    let luma = QuantTable::annex_k(false, 50).coarsest(&frame.components[0].quant);
    let chroma = QuantTable::annex_k(true, 50).coarsest(&frame.components[1].quant);
    frame.requantise(&luma, &chroma);
    let smaller = whole(&frame);
    assert!(smaller.len() < original.len());
    let (a, w, h) = pixels(&smaller);
    let (b, ..) = pixels(&original);
    assert_eq!((w, h), (128, 64));
    // About as close to the source as a direct q50 encode is to its own.
    let mean = |x: &[u8], y: &[u8]| {
        let total: u64 = x
            .iter()
            .zip(y)
            .map(|(p, q)| u64::from(p.abs_diff(*q)))
            .sum();
        total as f64 / x.len() as f64
    };
    let direct = pixels(&encoded(128, 64, 50, (2, 1), 0, false)).0;
    let (requantised, direct) = (mean(&a, &b), mean(&direct, &picture(128, 64)));
    assert!(requantised <= 1.5 * direct, "{requantised} vs {direct}");
}

#[test]
fn test_layout_encoder_in_slices_equals_one_go() {
    // A requantised whole frame, coded one row, then three rows, a step.
    for sampling in [(1, 1), (2, 1), (2, 2)] {
        let frame = decode(&encoded(75, 53, 90, sampling, 0, false), Limits::default()).unwrap();
        let quant: Vec<QuantTable> = frame
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| QuantTable::annex_k(i > 0, 40).coarsest(&c.quant))
            .collect();
        let layout = Layout::region(&frame, frame.whole()).unwrap();
        let mut one_go = Vec::new();
        let standard = HuffmanTables::Standard;
        encode_layout(&frame, &layout, standard, Some(&quant), &mut one_go).unwrap();
        for rows in [1, 3] {
            let mut encoder = LayoutEncoder::new(&frame, layout.clone(), Some(&quant)).unwrap();
            let mut steps = 1;
            let sliced = loop {
                match encoder.step(&frame, rows) {
                    Some(jpeg) => break jpeg,
                    None => steps += 1,
                }
            };
            assert_eq!(sliced, one_go, "{sampling:?}, {rows} rows a step");
            assert_eq!(steps, layout.mcus_high.div_ceil(rows));
            assert_eq!(encoder.step(&frame, rows), None, "once only");
        }
        assert!(one_go.len() < encoded(75, 53, 90, sampling, 0, false).len());
    }
}

/// `Decoder` run in slices of `rows()` MCU rows.
fn sliced(jpeg: &[u8], mut rows: impl FnMut() -> usize) -> Result<Coefficients, Error> {
    let mut decoder = Decoder::new(jpeg, Limits::default())?;
    loop {
        if let Some(frame) = decoder.step(rows())? {
            return Ok(frame);
        }
    }
}

#[test]
fn test_sliced_decode_equals_one_shot() {
    let mut next = crate::testutil::xorshift(0x2545_F491_4F6C_DD1D);
    // Each sampling, odd sizes, restart intervals that end mid-row and on
    // every MCU, and a greyscale frame (a single-component scan).
    let frames = [
        encoded(64, 48, 90, (1, 1), 0, false),
        encoded(70, 38, 75, (2, 1), 3, false),
        encoded(53, 41, 85, (2, 2), 2, false),
        encoded(40, 40, 95, (2, 2), 1, false),
        encoded(33, 17, 80, (1, 1), 5, true),
    ];
    for j in &frames {
        let whole = decode(j, Limits::default());
        assert!(whole.is_ok());
        assert_eq!(sliced(j, || 1), whole);
        for _ in 0..20 {
            assert_eq!(sliced(j, || 1 + next() as usize % 4), whole);
        }
    }
}

#[test]
fn test_sliced_decode_fails_as_one_shot_does() {
    let j = encoded(48, 32, 85, (2, 1), 2, false);
    for end in (0..j.len()).step_by(7) {
        let cut = &j[..end];
        assert_eq!(
            sliced(cut, || 1),
            decode(cut, Limits::default()),
            "cut at {end}"
        );
    }
    let mut decoder = Decoder::new(&j[..], Limits::default()).unwrap();
    assert!(decoder.step(usize::MAX).unwrap().is_some());
    assert_eq!(decoder.step(1), Err(Error::Finished));
}

#[test]
fn test_decoding_into_an_old_frames_grids() {
    let decode_reusing = |jpeg: &[u8], old: Coefficients| {
        let mut decoder = Decoder::reusing(jpeg, Limits::default(), old)?;
        loop {
            if let Some(frame) = decoder.step(2)? {
                return Ok::<_, Error>(frame);
            }
        }
    };
    let colour = encoded(70, 38, 90, (2, 1), 3, false);
    let other = encoded(70, 38, 60, (2, 1), 0, false);
    // Greyscale: a single-component scan leaves padding blocks uncoded.
    let grey = encoded(70, 38, 90, (1, 1), 0, true);
    let small = encoded(24, 16, 90, (2, 1), 0, false);
    for (old, new) in [
        (&colour, &other),
        (&colour, &grey),
        (&grey, &colour),
        (&small, &colour),
    ] {
        let old = decode(old, Limits::default()).unwrap();
        assert_eq!(decode_reusing(new, old), decode(new, Limits::default()));
    }
}

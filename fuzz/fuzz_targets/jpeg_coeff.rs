//! Whatever a capture dongle writes, taken apart into coefficients: `decode`
//! must never panic, loop or allocate beyond its limits, and whatever it
//! accepts must encode back (whole, and as a corner region) to the very same
//! coefficients; and `Decoder`, a row at a time, must come to the same answer.
#![no_main]

use kv::video::coeff::{self, HuffmanTables, Limits, Region};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the code paths are the same.
    let limits = Limits {
        max_width: 512,
        max_height: 512,
    };
    let one_shot = coeff::decode(data, limits);
    assert_eq!(sliced(data, limits), one_shot, "sliced decoding agrees");
    let Ok(frame) = one_shot else {
        return;
    };
    let mut whole = Vec::new();
    coeff::encode_region(&frame, frame.whole(), HuffmanTables::Standard, &mut whole).expect("a decoded frame encodes");
    assert_eq!(coeff::decode(&whole, limits).as_ref(), Ok(&frame), "same coefficients");
    let corner = Region {
        x: frame.mcus_wide / 2,
        y: frame.mcus_high / 2,
        width: frame.mcus_wide - frame.mcus_wide / 2,
        height: frame.mcus_high - frame.mcus_high / 2,
    };
    let mut part = Vec::new();
    coeff::encode_region(&frame, corner, HuffmanTables::Optimal, &mut part).expect("a region inside encodes");
    assert!(coeff::decode(&part, limits).is_ok(), "a region decodes");
});

fn sliced(data: &[u8], limits: Limits) -> Result<coeff::Coefficients, coeff::Error> {
    let mut decoder = coeff::Decoder::new(data, limits)?;
    loop {
        if let Some(frame) = decoder.step(1)? {
            return Ok(frame);
        }
    }
}

//! Whatever a capture dongle writes into a buffer: the JPEG checks
//! (`whole_jpeg`, `dimensions`) and the copy that inserts the standard
//! Huffman tables (`copy_with_dht`) must never panic or read past the buffer,
//! and the tables go in at most once.
#![no_main]

use kv::video::jpeg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jpeg::dimensions(data);
    let Some(frame) = jpeg::whole_jpeg(data) else {
        return;
    };
    assert!(frame.len() <= data.len());
    assert_eq!(frame.first(), Some(&0xFF));
    let _ = jpeg::dimensions(frame);
    let copy = jpeg::copy_with_dht(frame);
    assert!(copy.len() >= frame.len());
    if copy.len() > frame.len() {
        assert_eq!(jpeg::whole_jpeg(&copy).map(<[u8]>::len), Some(copy.len()));
        // The copy now has tables: copying it again adds nothing.
        assert_eq!(
            jpeg::copy_with_dht(&copy).len(),
            copy.len(),
            "tables inserted once"
        );
    }
});
